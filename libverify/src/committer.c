/*
 * committer.c — group commit of appraisal state (vfy_committer, appraise.h).
 *
 * One store connection, one mutex. An appraiser with a committer runs its
 * state phase (clock, agent history, known manifests, the result row) under
 * the mutex as a savepoint of the committer's open transaction: the batch.
 * The first vfy_committer_wait() for a result of the open batch commits it
 * — every result in it becomes durable with that one commit — and later
 * waiters of the same batch find it done. Batches are numbered from 1 and
 * finish in order, so "batch k is done" is "k <= done".
 */
#include <pthread.h>
#include <stdlib.h>

#include "internal.h"
#include "refstore_int.h"
#include "verify/nonce.h"

#define OUTCOMES 4096   /* outcome of batch k at outcome[k % OUTCOMES] */

struct vfy_committer {
    pthread_mutex_t mu;
    pthread_cond_t opened; /* an opening ended (opening back to 0) */
    vfy_store *st;
    unsigned max_batch;
    int open;            /* a batch transaction is open */
    int opening;         /* a thread is in BEGIN, without mu: see committer_enter */
    uint64_t opens;      /* openings ended so far */
    vfy_rc open_rc;      /* how the last one ended */
    unsigned pending;    /* appraisals in it */
    uint64_t batch;      /* number of the open batch, or of the last one */
    uint64_t done;       /* every batch <= done has finished */
    uint64_t failures;   /* batches whose commit failed */
    int64_t keep_s;      /* retention: 0 off */
    unsigned prune_max;  /* retention: most rows deleted per commit */
    uint64_t pruned;     /* retention: rows deleted so far */
    vfy_rc outcome[OUTCOMES];
};

vfy_rc vfy_committer_new(vfy_committer **out, vfy_store *st, unsigned max_batch)
{
    vfy_committer *c;

    if (out == NULL)
        return VFY_E_INVALID_ARG;
    *out = NULL;
    if (st == NULL)
        return VFY_E_INVALID_ARG;
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return VFY_E_NOMEM;
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        return VFY_E_INTERNAL;
    }
    if (pthread_cond_init(&c->opened, NULL) != 0) {
        pthread_mutex_destroy(&c->mu);
        free(c);
        return VFY_E_INTERNAL;
    }
    c->st = st;
    c->max_batch = max_batch > 0 ? max_batch : 1;
    *out = c;
    return VFY_OK;
}

void vfy_committer_free(vfy_committer **pc)
{
    vfy_committer *c;

    if (pc == NULL || *pc == NULL)
        return;
    c = *pc;
    if (c->open)   /* never waited for: nothing of it may have been relied on */
        (void)vfy_store_end(c->st, VFY_E_INTERNAL);
    pthread_cond_destroy(&c->opened);
    pthread_mutex_destroy(&c->mu);
    free(c);
    *pc = NULL;
}

/* Commit the open batch; c->mu held. */
static vfy_rc commit_locked(vfy_committer *c)
{
    vfy_rc rc;

    if (c->keep_s > 0) {
        /* a savepoint of the batch: its failure is its own */
        unsigned lim = c->pending * 2 < 8 ? 8 : c->pending * 2;
        size_t n = 0;

        if (lim > c->prune_max)
            lim = c->prune_max;
        if (store_results_prune(c->st, st_now(c->st) - c->keep_s, lim, 0, &n) == VFY_OK)
            c->pruned += n;
    }
    rc = vfy_store_end(c->st, VFY_OK);   /* on failure: rolled back */

    c->open = 0;
    c->pending = 0;
    c->done = c->batch;
    c->outcome[c->batch % OUTCOMES] = rc;
    if (rc != VFY_OK)
        c->failures++;
    return rc;
}

/*
 * 1 (the batch failed) if the open batch's transaction is gone — SQLite
 * rolled it back whole after an I/O, disk-full or out-of-memory error in
 * some appraisal's state phase. Its results are lost: their waiters get
 * VFY_E_DB, other appraisers drop what they cached from it (failures), and
 * the next state phase opens a new batch instead of running outside any.
 * c->mu held.
 */
static int batch_lost(vfy_committer *c)
{
    if (!c->open || !st_tx_lost(c->st))
        return 0;
    c->open = 0;
    c->pending = 0;
    c->done = c->batch;
    c->outcome[c->batch % OUTCOMES] = VFY_E_DB;
    c->failures++;
    return 1;
}

vfy_rc committer_enter(vfy_committer *c, vfy_store **st, uint64_t *failures)
{
    vfy_rc rc;

    pthread_mutex_lock(&c->mu);
    (void)batch_lost(c);
    if (c->opening) {   /* another thread is opening the batch: join it */
        uint64_t seen = c->opens;

        while (c->opening)
            pthread_cond_wait(&c->opened, &c->mu);
        /* ... and share its failure (another process held the write lock
         * for the whole busy timeout): each waiter trying BEGIN again in
         * turn made the waits add up, one busy timeout per appraisal in
         * flight, which held a stop past systemd's limit. */
        if (c->opens != seen && c->open_rc != VFY_OK) {
            rc = c->open_rc;
            pthread_mutex_unlock(&c->mu);
            return rc;
        }
    }
    if (!c->open) {
        /*
         * BEGIN IMMEDIATE may wait up to the store's busy timeout for
         * another process's write lock. It runs without the mutex, so that
         * waits for batches already committed (and flushes, which find no
         * batch open) are not held up behind it; nothing else touches the
         * store while no batch is open.
         */
        c->opening = 1;
        pthread_mutex_unlock(&c->mu);
        rc = vfy_store_begin(c->st);
        pthread_mutex_lock(&c->mu);
        c->opening = 0;
        c->opens++;
        c->open_rc = rc;
        pthread_cond_broadcast(&c->opened);
        if (rc != VFY_OK) {
            pthread_mutex_unlock(&c->mu);
            return rc;
        }
        c->open = 1;
        c->batch++;
    }
    *st = c->st;
    *failures = c->failures;
    return VFY_OK;
}

uint64_t committer_leave(vfy_committer *c, int joined)
{
    uint64_t ticket = 0;
    int lost = batch_lost(c);

    if (joined) {
        ticket = c->batch;   /* of a lost batch: its waiters get the failure */
        if (!lost && ++c->pending >= c->max_batch)
            (void)commit_locked(c);   /* its outcome is read by the waiters */
    } else if (!lost && c->open && c->pending == 0) {
        /* Nobody will wait for this batch: end it now rather than hold the
         * write lock (and block every admin change) until the next
         * appraisal joins it. Its savepoints were rolled back: it is empty. */
        (void)commit_locked(c);
    }
    pthread_mutex_unlock(&c->mu);
    return ticket;
}

vfy_rc vfy_committer_wait(vfy_committer *c, const vfy_result *r)
{
    uint64_t ticket = result_ticket(r);
    vfy_rc rc;

    if (c == NULL || r == NULL)
        return VFY_E_INVALID_ARG;
    if (ticket == 0)   /* nothing of it waits for a commit */
        return VFY_OK;
    pthread_mutex_lock(&c->mu);
    if (ticket > c->done)   /* then it is the open batch: commit it */
        rc = commit_locked(c);
    else if (c->done - ticket < OUTCOMES)
        rc = c->outcome[ticket % OUTCOMES];
    else   /* finished so long ago that its outcome is forgotten: fail closed */
        rc = VFY_E_DB;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

vfy_rc vfy_committer_set_retention(vfy_committer *c, int64_t keep_s, unsigned max_per_commit)
{
    if (c == NULL || keep_s < 0 || (keep_s > 0 && keep_s < (int64_t)VFY_NONCE_MAX_TTL) ||
        max_per_commit > VFY_STORE_PRUNE_MAX)
        return VFY_E_INVALID_ARG;
    pthread_mutex_lock(&c->mu);
    c->keep_s = keep_s;
    c->prune_max = max_per_commit > 0 ? max_per_commit : 64;
    pthread_mutex_unlock(&c->mu);
    return VFY_OK;
}

uint64_t vfy_committer_pruned(vfy_committer *c)
{
    uint64_t n;

    if (c == NULL)
        return 0;
    pthread_mutex_lock(&c->mu);
    n = c->pruned;
    pthread_mutex_unlock(&c->mu);
    return n;
}

uint64_t vfy_committer_failures(vfy_committer *c)
{
    uint64_t n;

    if (c == NULL)
        return 0;
    pthread_mutex_lock(&c->mu);
    n = c->failures;
    pthread_mutex_unlock(&c->mu);
    return n;
}

vfy_rc vfy_committer_flush(vfy_committer *c)
{
    vfy_rc rc = VFY_OK;

    if (c == NULL)
        return VFY_E_INVALID_ARG;
    pthread_mutex_lock(&c->mu);
    if (c->open)
        rc = commit_locked(c);
    pthread_mutex_unlock(&c->mu);
    return rc;
}
