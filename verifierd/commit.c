/*
 * commit.c — answers that wait for their group commit.
 *
 * POST /v1/attest appraises, signs the EAR, then parks its connection
 * (MHD_suspend_connection) with the answer ready, and the worker thread
 * goes on serving other connections. This thread collects parked answers
 * for up to --commit-delay-us microseconds after the oldest (or until
 * --commit-batch of them), commits the committer's open batch once, and
 * resumes every connection; each then sends its answer — or 503 if the
 * commit that should have recorded its result failed. No answer leaves
 * before its result is committed. With --commit-delay-us 0 nothing is
 * parked: each request waits for its batch itself (vfy_committer_wait).
 *
 * Adaptive: at low load — the batch's first answer came more than the delay
 * after the one before it — the thread does not wait out the delay once no
 * attestation is between its appraisal and its parking (vd_commit_busy):
 * nobody else is about to join, so a lone request is committed at once.
 * Under load it waits, so that answers share commits.
 */
#include <errno.h>
#include <stdlib.h>

#include "vd.h"

static pthread_mutex_t park_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t park_cv;
static struct vd_req *park_head, *park_tail;
static size_t park_n;
static int park_stop;
static pthread_t park_thread;
static int park_running;
static int park_busy;   /* attestations appraising, not yet parked (under park_mu) */
static struct timespec park_last;   /* when the previous answer was parked */

void vd_commit_busy(int delta)
{
    pthread_mutex_lock(&park_mu);
    park_busy += delta;
    if (park_busy == 0 && park_head != NULL && park_head->park_idle)
        pthread_cond_signal(&park_cv);
    pthread_mutex_unlock(&park_mu);
}

static void ts_add_us(struct timespec *t, long us)
{
    t->tv_sec += us / 1000000;
    t->tv_nsec += (us % 1000000) * 1000;
    if (t->tv_nsec >= 1000000000) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000;
    }
}

static int ts_before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void *park_main(void *arg)
{
    const struct vd_config *cfg = arg;

    for (;;) {
        struct vd_req *list, *next;
        struct timespec deadline, now;

        pthread_mutex_lock(&park_mu);
        while (park_head == NULL && !park_stop)
            pthread_cond_wait(&park_cv, &park_mu);
        if (park_head == NULL && park_stop) {
            pthread_mutex_unlock(&park_mu);
            break;
        }
        deadline = park_head->park_at;
        ts_add_us(&deadline, (long)cfg->commit_delay_us);
        for (;;) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (park_n >= cfg->commit_batch || (park_busy == 0 && park_head->park_idle) ||
                park_stop || !ts_before(&now, &deadline))
                break;
            if (pthread_cond_timedwait(&park_cv, &park_mu, &deadline) == ETIMEDOUT)
                break;
        }
        list = park_head;
        park_head = park_tail = NULL;
        park_n = 0;
        pthread_mutex_unlock(&park_mu);

        /* Every parked result's state phase is done, so its batch is the
         * open one or an older one: one flush settles them all. */
        {
            struct timespec t0, t1;
            size_t n = 0, failed = 0;

            for (struct vd_req *r = list; r != NULL; r = r->park_next)
                n++;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            if (vfy_committer_flush(vd_srv->committer) != VFY_OK) {
                /* counted by the committer (the failures metric); each
                 * parked answer reads its own batch's outcome below */
            }
            clock_gettime(CLOCK_MONOTONIC, &t1);
            vd_metrics_commit(n, (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
            /* Each answer's outcome is its own batch's (one that reached
             * --commit-batch committed itself before this flush). */
            for (struct vd_req *r = list; r != NULL; r = next) {
                struct MHD_Connection *c = r->park_c;
                struct vd_park_gate *gate = r->gate;

                next = r->park_next;   /* r may be gone once c is resumed */
                r->park_rc = vfy_committer_wait(vd_srv->committer, r->park_res);
                failed += r->park_rc != VFY_OK;
                MHD_resume_connection(c);
                /* after the resume: a daemon stopped from here on resumes it */
                atomic_fetch_sub(&gate->parked, 1);
            }
            if (failed > 0)
                vd_log("error", "group commit failed: %zu of %zu parked answers get 503",
                       failed, n);
        }
    }
    return NULL;
}

int vd_commit_start(struct vd_server *s)
{
    pthread_condattr_t ca;

    if (s->cfg->commit_delay_us == 0)
        return 0;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&park_cv, &ca);
    pthread_condattr_destroy(&ca);
    park_stop = 0;
    if (pthread_create(&park_thread, NULL, park_main, s->cfg) != 0) {
        pthread_cond_destroy(&park_cv);
        return -1;
    }
    park_running = 1;
    return 0;
}

void vd_commit_stop(void)
{
    if (!park_running)
        return;
    pthread_mutex_lock(&park_mu);
    park_stop = 1;
    pthread_cond_signal(&park_cv);
    pthread_mutex_unlock(&park_mu);
    pthread_join(park_thread, NULL);
    pthread_cond_destroy(&park_cv);
    park_running = 0;
}

int vd_commit_parking(void)
{
    return park_running;
}

int vd_commit_gate_enter(struct vd_req *r)
{
    atomic_fetch_add(&r->gate->parked, 1);
    if (atomic_load(&r->gate->closing)) {
        atomic_fetch_sub(&r->gate->parked, 1);
        return -1;
    }
    return 0;
}

void vd_commit_gate_leave(struct vd_req *r)
{
    atomic_fetch_sub(&r->gate->parked, 1);
}

void vd_commit_park(struct MHD_Connection *c, struct vd_req *r)
{
    r->park_c = c;
    r->park_next = NULL;
    r->parked = 1;
    clock_gettime(CLOCK_MONOTONIC, &r->park_at);
    MHD_suspend_connection(c);   /* before it can be resumed */
    pthread_mutex_lock(&park_mu);
    {
        struct timespec idle_until = park_last;

        ts_add_us(&idle_until, (long)vd_srv->cfg->commit_delay_us);
        r->park_idle = !ts_before(&r->park_at, &idle_until);
        park_last = r->park_at;
    }
    if (park_tail != NULL)
        park_tail->park_next = r;
    else
        park_head = r;
    park_tail = r;
    park_n++;
    park_busy--;   /* its vd_commit_busy(1) ends here */
    /* Wake the thread only when it has something new to decide: a first
     * answer (it sets its deadline), a full batch, or a lone answer at low
     * load that nobody is about to join. Under load it sleeps out its
     * deadline instead of waking for every answer. */
    if (park_n == 1 || park_n >= vd_srv->cfg->commit_batch ||
        (park_busy == 0 && park_head->park_idle))
        pthread_cond_signal(&park_cv);
    pthread_mutex_unlock(&park_mu);
}

enum MHD_Result vd_commit_answer(struct MHD_Connection *c, struct vd_req *r)
{
    enum MHD_Result ret;

    r->parked = 0;
    if (r->park_rc != VFY_OK) {
        vd_log("error", "recording the result: %s", vfy_strerror(r->park_rc));
        ret = vd_problem(c, r, 503, "appraisal unavailable");
    } else {
        vd_metrics_verdict(r->verdict);
        ret = vd_send(c, r, 200, r->park_ctype, r->park_body, r->park_len);
    }
    vd_commit_release(r);
    return ret;
}

void vd_commit_release(struct vd_req *r)
{
    free(r->park_body);
    r->park_body = NULL;
    vfy_result_free(&r->park_res);
}
