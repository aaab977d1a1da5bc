/*
 * refstore_result.c — issued results, the reference rows they relied on,
 * and the revocation feed (DESIGN §6, §8 GET /v1/results, /v1/revocations).
 *
 * When a component or PCR value is revoked, every result that relied on it,
 * is still valid and has not expired (exp > now) is marked revoked and gets
 * one feed entry; the feed cursor is an AUTOINCREMENT key, so it only grows
 * and is never reused, even after rows are deleted.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "refstore_int.h"
#include "verify/nonce.h"

vfy_rc vfy_store_result_record(vfy_store *st, const char *id, const char *attester,
                               int64_t iat, int64_t exp, const char *status,
                               const vfy_store_ref *refs, size_t nrefs)
{
    return vfy_store_result_record_nonce(st, id, attester, iat, exp, status, refs, nrefs, NULL);
}

vfy_rc vfy_store_recent_nonces(vfy_store *st, int64_t since, uint8_t (**out)[32], size_t *n)
{
    return vfy_store_recent_nonces_from(st, since, NULL, 0, out, n);
}

/*
 * SQLite orders BLOBs by memcmp over the shorter length, then by length, so
 * "nonce >= ?2" is exactly the memcmp order the header promises; a NULL
 * nonce compares as NULL and is never selected. The zero-length @min is
 * bound as an empty BLOB (not NULL), which every BLOB sorts at or after.
 * The rows are found through results_by_iat; rows below @min are read from
 * the table and skipped without being copied out.
 */
vfy_rc vfy_store_recent_nonces_from(vfy_store *st, int64_t since, const uint8_t *min,
                                    size_t min_len, uint8_t (**out)[32], size_t *n)
{
    sqlite3_stmt *s = NULL;
    uint8_t (*v)[32] = NULL;
    size_t cnt = 0, cap = 0;
    int src;

    if (out != NULL)
        *out = NULL;
    if (n != NULL)
        *n = 0;
    if (st == NULL || out == NULL || n == NULL || (min == NULL && min_len != 0) ||
        min_len > INT_MAX)
        return VFY_E_INVALID_ARG;
    src = sqlite3_prepare_v2(st->db,
                             "SELECT nonce FROM results"
                             " WHERE iat >= ?1 AND nonce IS NOT NULL AND nonce >= ?2",
                             -1, &s, NULL);
    if (src != SQLITE_OK)
        return st_db(st, src, "recent nonces");
    sqlite3_bind_int64(s, 1, since);
    if (min_len > 0)
        sqlite3_bind_blob(s, 2, min, (int)min_len, SQLITE_STATIC);
    else
        sqlite3_bind_zeroblob(s, 2, 0);
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(s, 0) != 32)
            continue;
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 256;
            uint8_t (*nv)[32] = realloc(v, ncap * sizeof(*v));

            if (nv == NULL) {
                free(v);
                sqlite3_finalize(s);
                return VFY_E_NOMEM;
            }
            v = nv;
            cap = ncap;
        }
        memcpy(v[cnt++], sqlite3_column_blob(s, 0), 32);
    }
    sqlite3_finalize(s);
    if (src != SQLITE_DONE) {
        free(v);
        return st_db(st, src, "recent nonces");
    }
    *out = v;
    *n = cnt;
    return VFY_OK;
}

static int ref_cmp(const void *x, const void *y)
{
    const vfy_store_ref *a = x, *b = y;

    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* The set is named by the SHA-256 of its sorted (kind, id) pairs. */
vfy_rc st_refset_get(vfy_store *st, const vfy_store_ref *refs, size_t nrefs, int64_t *out)
{
    vfy_store_ref *v = malloc(nrefs * sizeof(*v));
    uint8_t *buf = malloc(nrefs * 9), hash[32];
    size_t n = 0, blen = 0;
    sqlite3_stmt *s;
    vfy_rc rc = VFY_OK;
    int src;

    *out = 0;
    if (v == NULL || buf == NULL) {
        rc = VFY_E_NOMEM;
        goto out;
    }
    memcpy(v, refs, nrefs * sizeof(*v));
    qsort(v, nrefs, sizeof(*v), ref_cmp);
    for (size_t i = 0; i < nrefs; i++) {
        if (v[i].kind != VFY_STORE_REF_COMPONENT && v[i].kind != VFY_STORE_REF_PCR) {
            rc = st_err(st, VFY_E_INVALID_ARG, "unknown reference kind");
            goto out;
        }
        if (n > 0 && ref_cmp(&v[n - 1], &v[i]) == 0)
            continue;
        v[n++] = v[i];
        buf[blen++] = (uint8_t)v[i].kind;
        for (int k = 7; k >= 0; k--)
            buf[blen++] = (uint8_t)((uint64_t)v[i].id >> (8 * k));
    }
    if ((rc = vfy_sha256(buf, blen, hash)) != VFY_OK)
        goto out;
    rc = st_stmt(st, SL_REFSET_FIND, "SELECT id FROM refsets WHERE hash = ?1", &s);
    if (rc != VFY_OK)
        goto out;
    sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
    src = sqlite3_step(s);
    if (src == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    else if (src != SQLITE_DONE)
        rc = st_db(st, src, "reference set");
    sqlite3_reset(s);
    if (rc != VFY_OK || *out != 0)
        goto out;
    rc = st_stmt(st, SL_REFSET_INSERT, "INSERT INTO refsets (hash) VALUES (?1)", &s);
    if (rc == VFY_OK) {
        sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
        rc = st_exec_stmt(st, s, "reference set");
    }
    if (rc != VFY_OK)
        goto out;
    *out = sqlite3_last_insert_rowid(st->db);
    for (size_t i = 0; rc == VFY_OK && i < n; i++) {
        if (v[i].kind == VFY_STORE_REF_COMPONENT)
            rc = st_stmt(st, SL_RES_REF_COMP,
                         "INSERT INTO refset_components (refset_id, component_id) VALUES (?1, ?2)",
                         &s);
        else
            rc = st_stmt(st, SL_RES_REF_PCR,
                         "INSERT INTO refset_pcrs (refset_id, pcr_id) VALUES (?1, ?2)", &s);
        if (rc != VFY_OK)
            break;
        sqlite3_bind_int64(s, 1, *out);
        sqlite3_bind_int64(s, 2, v[i].id);
        rc = st_exec_stmt(st, s, "result reference");
        /* A reference to a row that does not exist fails the foreign key. */
        if (rc == VFY_E_DB && (sqlite3_extended_errcode(st->db) == SQLITE_CONSTRAINT_FOREIGNKEY))
            rc = st_err(st, VFY_E_NOT_FOUND, "reference row %lld does not exist",
                        (long long)v[i].id);
    }
out:
    if (rc != VFY_OK)
        *out = 0;
    free(v);
    free(buf);
    return rc;
}

/*
 * How long before its expiry @nonce was used at @iat (0..VFY_NONCE_MAX_TTL),
 * reading the nonce as verifierd's: its big-endian expiry first.
 */
static int64_t nonce_lead(const uint8_t *nonce, int64_t iat)
{
    uint64_t exp = vfy_nonce_expiry_of(nonce);

    if (iat < 0 || exp <= (uint64_t)iat)
        return 0;
    return exp - (uint64_t)iat > VFY_NONCE_MAX_TTL ? VFY_NONCE_MAX_TTL
                                                    : (int64_t)(exp - (uint64_t)iat);
}

/* Raise the stored bound to this nonce's lead, in the caller's transaction
 * (so a rollback takes it back too); a row already at or above it is not
 * written. */
static vfy_rc nonce_lead_put(vfy_store *st, const uint8_t *nonce, int64_t iat)
{
    sqlite3_stmt *s;
    vfy_rc rc = st_stmt(st, SL_NONCE_LEAD_PUT,
                        "UPDATE nonce_lead SET max_lead = ?1 WHERE id = 1 AND max_lead < ?1", &s);

    if (rc != VFY_OK)
        return rc;
    sqlite3_bind_int64(s, 1, nonce_lead(nonce, iat));
    return st_exec_stmt(st, s, "nonce lead");
}

vfy_rc vfy_store_result_record_nonce(vfy_store *st, const char *id, const char *attester,
                                     int64_t iat, int64_t exp, const char *status,
                                     const vfy_store_ref *refs, size_t nrefs,
                                     const uint8_t *nonce)
{
    int64_t refset = 0;
    sqlite3_stmt *s;
    vfy_rc rc;

    if (st == NULL || id == NULL || attester == NULL || status == NULL ||
        (refs == NULL && nrefs > 0) || exp < iat)
        return VFY_E_INVALID_ARG;
    if ((rc = st_check_name(st, id, VFY_STORE_RESULT_ID_MAX, "result id")) != VFY_OK ||
        (rc = st_check_name(st, attester, VFY_STORE_NAME_MAX, "attester name")) != VFY_OK ||
        (rc = st_check_name(st, status, VFY_STORE_STATUS_MAX, "status")) != VFY_OK)
        return rc;
    if ((rc = st_writable(st)) != VFY_OK || (rc = st_tx_begin(st)) != VFY_OK)
        return rc;
    if (nrefs > 0)
        rc = st_refset_get(st, refs, nrefs, &refset);
    if (rc == VFY_OK)
        rc = st_stmt(st, SL_RES_INSERT,
                     "INSERT INTO results (id, attester, iat, exp, status, nonce, refset_id)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO NOTHING", &s);
    if (rc == VFY_OK) {
        sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, attester, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, iat);
        sqlite3_bind_int64(s, 4, exp);
        sqlite3_bind_text(s, 5, status, -1, SQLITE_STATIC);
        if (nonce != NULL)
            sqlite3_bind_blob(s, 6, nonce, 32, SQLITE_STATIC);
        else
            sqlite3_bind_null(s, 6);
        if (refset != 0)
            sqlite3_bind_int64(s, 7, refset);
        else
            sqlite3_bind_null(s, 7);
        rc = st_exec_stmt(st, s, "insert result");
        if (rc == VFY_OK && sqlite3_changes(st->db) == 0)
            rc = st_err(st, VFY_E_CONFLICT, "result %s already recorded", id);
    }
    if (rc == VFY_OK && nonce != NULL)
        rc = nonce_lead_put(st, nonce, iat);
    return st_tx_end(st, rc);
}

vfy_rc vfy_store_nonce_window(vfy_store *st, int64_t now, int64_t *since)
{
    sqlite3_stmt *s;
    int64_t lead, from;
    vfy_rc rc;
    int src;

    if (since != NULL)
        *since = 0;
    if (st == NULL || since == NULL)
        return VFY_E_INVALID_ARG;
    rc = st_stmt(st, SL_NONCE_LEAD_GET, "SELECT max_lead, since FROM nonce_lead WHERE id = 1", &s);
    if (rc != VFY_OK)
        return rc;
    src = sqlite3_step(s);
    if (src != SQLITE_ROW) {
        rc = src == SQLITE_DONE ? st_err(st, VFY_E_DB, "nonce window: the nonce_lead row is missing")
                                : st_db(st, src, "nonce window");
        sqlite3_reset(s);
        return rc;
    }
    lead = sqlite3_column_int64(s, 0);
    from = sqlite3_column_int64(s, 1);
    sqlite3_reset(s);
    if (lead < 0 || lead > VFY_NONCE_MAX_TTL)
        lead = VFY_NONCE_MAX_TTL;
    /* Results before @from have no recorded lead: up to a day. */
    *since = from > now - (int64_t)VFY_NONCE_MAX_TTL ? now - (int64_t)VFY_NONCE_MAX_TTL : now - lead;
    return VFY_OK;
}

vfy_rc vfy_store_results_last_iat(vfy_store *st, int64_t *iat)
{
    sqlite3_stmt *s;
    vfy_rc rc;
    int src;

    if (iat != NULL)
        *iat = 0;
    if (st == NULL || iat == NULL)
        return VFY_E_INVALID_ARG;
    rc = st_stmt(st, SL_RES_LAST_IAT, "SELECT max(iat) FROM results", &s);
    if (rc != VFY_OK)
        return rc;
    src = sqlite3_step(s);
    if (src == SQLITE_ROW)
        *iat = sqlite3_column_int64(s, 0);   /* NULL (no result): 0 */
    else
        rc = st_db(st, src, "latest result");
    sqlite3_reset(s);
    return rc;
}

vfy_rc vfy_store_results_nonce_expiry_max(vfy_store *st, int64_t since, uint64_t before,
                                          uint64_t *expiry)
{
    uint8_t prefix[VFY_NONCE_EXPIRY_LEN];
    sqlite3_stmt *s;
    vfy_rc rc = VFY_OK;
    int src;

    if (expiry != NULL)
        *expiry = 0;
    if (st == NULL || expiry == NULL || vfy_nonce_expiry_prefix(before, prefix) != VFY_OK)
        return VFY_E_INVALID_ARG;
    /* blobs compare as bytes: the largest nonce below the prefix has the
     * latest expiry before @before */
    src = sqlite3_prepare_v2(st->db,
                             "SELECT max(nonce) FROM results"
                             " WHERE iat >= ?1 AND nonce IS NOT NULL AND nonce < ?2",
                             -1, &s, NULL);
    if (src != SQLITE_OK)
        return st_db(st, src, "latest nonce expiry");
    sqlite3_bind_int64(s, 1, since);
    sqlite3_bind_blob(s, 2, prefix, (int)sizeof(prefix), SQLITE_STATIC);
    src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        if (sqlite3_column_bytes(s, 0) == VFY_NONCE_LEN)
            *expiry = vfy_nonce_expiry_of(sqlite3_column_blob(s, 0));
    } else {
        rc = st_db(st, src, "latest nonce expiry");
    }
    sqlite3_finalize(s);
    return rc;
}

vfy_rc vfy_store_result_get(vfy_store *st, const char *id, vfy_store_result *out)
{
    sqlite3_stmt *s;
    vfy_rc rc;
    int src;

    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (st == NULL || id == NULL || out == NULL)
        return VFY_E_INVALID_ARG;
    rc = st_stmt(st, SL_RES_GET,
                 "SELECT id, attester, status, iat, exp, state, coalesce(revoked_at, 0),"
                 " coalesce(reason, '') FROM results WHERE id = ?1", &s);
    if (rc != VFY_OK)
        return rc;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        out->iat = sqlite3_column_int64(s, 3);
        out->exp = sqlite3_column_int64(s, 4);
        out->revoked = strcmp((const char *)sqlite3_column_text(s, 5), "revoked") == 0;
        out->revoked_at = sqlite3_column_int64(s, 6);
        if ((rc = st_col_text(s, 0, out->id, sizeof(out->id))) == VFY_OK &&
            (rc = st_col_text(s, 1, out->attester, sizeof(out->attester))) == VFY_OK &&
            (rc = st_col_text(s, 2, out->status, sizeof(out->status))) == VFY_OK)
            rc = st_col_text(s, 7, out->reason, sizeof(out->reason));
    } else if (src == SQLITE_DONE) {
        rc = VFY_E_NOT_FOUND;
    } else {
        rc = st_db(st, src, "result");
    }
    sqlite3_reset(s);
    if (rc != VFY_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

vfy_rc vfy_store_results_prune(vfy_store *st, int64_t before, size_t max_rows, size_t *deleted)
{
    return store_results_prune(st, before, max_rows, 1, deleted);
}

vfy_rc store_results_prune(vfy_store *st, int64_t before, size_t max_rows, int audit,
                           size_t *deleted)
{
    /* One batch, picked through results_by_iat (iat <= exp, so iat < @before
     * is implied by exp < @before and lets the index bound the scan). Both
     * statements pick the same rows: same ordering, same transaction, and
     * the first one changes no result. */
    static const char feed[] = "DELETE FROM revocations WHERE result_id IN ("
                               "SELECT id FROM results WHERE iat < ?1 AND exp < ?1"
                               " ORDER BY iat, rowid LIMIT ?2)";
    static const char rows[] = "DELETE FROM results WHERE rowid IN ("
                               "SELECT rowid FROM results WHERE iat < ?1 AND exp < ?1"
                               " ORDER BY iat, rowid LIMIT ?2)";
    char detail[64];
    sqlite3_stmt *s = NULL;
    vfy_rc rc;
    int n = 0;

    if (deleted != NULL)
        *deleted = 0;
    if (st == NULL || max_rows == 0 || max_rows > VFY_STORE_PRUNE_MAX)
        return VFY_E_INVALID_ARG;
    if (before > st_now(st) - (int64_t)VFY_NONCE_MAX_TTL)
        return st_err(st, VFY_E_INVALID_ARG,
                      "results of the last %u s are kept (restart nonce check)",
                      (unsigned)VFY_NONCE_MAX_TTL);
    if ((rc = st_writable(st)) != VFY_OK || (rc = st_tx_begin(st)) != VFY_OK)
        return rc;
    for (int step = 0; step < 2 && rc == VFY_OK; step++) {
        rc = st_stmt(st, step == 0 ? SL_PRUNE_FEED : SL_PRUNE_RESULTS, step == 0 ? feed : rows, &s);
        if (rc != VFY_OK)
            break;
        sqlite3_bind_int64(s, 1, before);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)max_rows);
        rc = st_exec_stmt(st, s, "prune");
        if (rc == VFY_OK && step == 1)
            n = sqlite3_changes(st->db);
    }
    if (rc == VFY_OK && n > 0 && audit) {
        snprintf(detail, sizeof(detail), "%d results expired before %lld", n, (long long)before);
        rc = st_audit(st, "results.prune", "results", detail);
    }
    rc = st_tx_end(st, rc);
    if (rc == VFY_OK && deleted != NULL)
        *deleted = (size_t)n;
    return rc;
}

int64_t st_feed_floor(const vfy_store *st)
{
    const int64_t cap = (int64_t)1 << 52;
    struct timespec ts;

    if (st->fixed_now != 0)
        return st->fixed_now > 0 && st->fixed_now < cap / 1000000 ? st->fixed_now * 1000000 : 0;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec <= 0 || ts.tv_sec >= cap / 1000000)
        return 0;   /* no floor from a clock that cannot be right */
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

vfy_rc st_revoke_dependents(vfy_store *st, vfy_store_ref_kind kind, int64_t id,
                            const char *reason, size_t *results)
{
    static const char feed_comp[] =
        "INSERT INTO revocations (cursor, result_id, at, reason)"
        " SELECT " FEED_CURSOR("r.rowid") ", r.id, ?2, ?3 FROM results r"
        " WHERE r.state = 'valid' AND r.exp > ?2"
        " AND (r.refset_id IN (SELECT refset_id FROM refset_components WHERE component_id = ?1)"
        " OR r.id IN (SELECT result_id FROM result_components WHERE component_id = ?1))"
        " ORDER BY r.rowid";
    static const char mark_comp[] =
        "UPDATE results SET state = 'revoked', revoked_at = ?2, reason = ?3"
        " WHERE state = 'valid' AND exp > ?2"
        " AND (refset_id IN (SELECT refset_id FROM refset_components WHERE component_id = ?1)"
        " OR id IN (SELECT result_id FROM result_components WHERE component_id = ?1))";
    static const char feed_pcr[] =
        "INSERT INTO revocations (cursor, result_id, at, reason)"
        " SELECT " FEED_CURSOR("r.rowid") ", r.id, ?2, ?3 FROM results r"
        " WHERE r.state = 'valid' AND r.exp > ?2"
        " AND (r.refset_id IN (SELECT refset_id FROM refset_pcrs WHERE pcr_id = ?1)"
        " OR r.id IN (SELECT result_id FROM result_pcrs WHERE pcr_id = ?1))"
        " ORDER BY r.rowid";
    static const char mark_pcr[] =
        "UPDATE results SET state = 'revoked', revoked_at = ?2, reason = ?3"
        " WHERE state = 'valid' AND exp > ?2"
        " AND (refset_id IN (SELECT refset_id FROM refset_pcrs WHERE pcr_id = ?1)"
        " OR id IN (SELECT result_id FROM result_pcrs WHERE pcr_id = ?1))";
    int pcr = kind == VFY_STORE_REF_PCR;
    int64_t now = st_now(st);
    sqlite3_stmt *s;
    vfy_rc rc;

    *results = 0;
    /* Feed first (it selects the still-valid results), then mark them. */
    for (int step = 0; step < 2; step++) {
        if (step == 0)
            rc = st_stmt(st, pcr ? SL_REVOKE_FEED_PCR : SL_REVOKE_FEED_COMP,
                         pcr ? feed_pcr : feed_comp, &s);
        else
            rc = st_stmt(st, pcr ? SL_REVOKE_MARK_PCR : SL_REVOKE_MARK_COMP,
                         pcr ? mark_pcr : mark_comp, &s);
        if (rc != VFY_OK)
            return rc;
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_int64(s, 2, now);
        sqlite3_bind_text(s, 3, reason, -1, SQLITE_STATIC);
        if (step == 0)
            sqlite3_bind_int64(s, 4, st_feed_floor(st));
        if ((rc = st_exec_stmt(st, s, "revoke results")) != VFY_OK)
            return rc;
        if (step == 1)
            *results = (size_t)sqlite3_changes(st->db);
    }
    /* The manifests made known-good by appraisals that relied on it — a
     * component of theirs or a PCR value of the platform they ran on — are
     * known no longer (their appraisal is revoked; DESIGN §4). A mark
     * without a reference set (made before schema 4, or by
     * vfy_store_manifest_mark_known) may have relied on it too: what it
     * rested on is unknown, so any revocation forgets it. */
    if ((rc = st_stmt(st, pcr ? SL_KNOWN_FORGET_PCR : SL_KNOWN_FORGET,
                      pcr ? "DELETE FROM known_manifests WHERE refset_id IS NULL OR refset_id IN"
                            " (SELECT refset_id FROM refset_pcrs WHERE pcr_id = ?1)"
                          : "DELETE FROM known_manifests WHERE refset_id IS NULL OR refset_id IN"
                            " (SELECT refset_id FROM refset_components WHERE component_id = ?1)",
                      &s)) != VFY_OK)
        return rc;
    sqlite3_bind_int64(s, 1, id);
    return st_exec_stmt(st, s, "forget known manifests");
}

vfy_rc vfy_store_revocations(vfy_store *st, uint64_t after, size_t max,
                             vfy_store_revocation **out, size_t *n, uint64_t *cursor)
{
    vfy_store_revocation *v = NULL;
    sqlite3_stmt *s;
    size_t k = 0;
    vfy_rc rc;
    int src;

    if (out != NULL)
        *out = NULL;
    if (n != NULL)
        *n = 0;
    if (cursor != NULL)
        *cursor = after;
    if (st == NULL || out == NULL || n == NULL || cursor == NULL || after > INT64_MAX ||
        max == 0 || max > 100000)
        return VFY_E_INVALID_ARG;
    rc = st_stmt(st, SL_FEED_READ,
                 "SELECT cursor, at, result_id, reason FROM revocations WHERE cursor > ?1"
                 " ORDER BY cursor LIMIT ?2", &s);
    if (rc != VFY_OK)
        return rc;
    sqlite3_bind_int64(s, 1, (int64_t)after);
    sqlite3_bind_int64(s, 2, (int64_t)max);
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        if (v == NULL) {
            v = calloc(max, sizeof(*v));
            if (v == NULL) {
                rc = VFY_E_NOMEM;
                break;
            }
        }
        v[k].cursor = (uint64_t)sqlite3_column_int64(s, 0);
        v[k].at = sqlite3_column_int64(s, 1);
        if ((rc = st_col_text(s, 2, v[k].result_id, sizeof(v[k].result_id))) != VFY_OK ||
            (rc = st_col_text(s, 3, v[k].reason, sizeof(v[k].reason))) != VFY_OK)
            break;
        k++;
    }
    if (rc == VFY_OK && src != SQLITE_DONE)
        rc = st_db(st, src, "revocations");
    sqlite3_reset(s);
    if (rc != VFY_OK) {
        free(v);
        return rc;
    }
    *out = v;
    *n = k;
    if (k > 0)
        *cursor = v[k - 1].cursor;
    return VFY_OK;
}

vfy_rc vfy_store_feed_head(vfy_store *st, uint64_t *head)
{
    sqlite3_stmt *s;
    vfy_rc rc;
    int src;

    if (head != NULL)
        *head = 0;
    if (st == NULL || head == NULL)
        return VFY_E_INVALID_ARG;
    /* AUTOINCREMENT keeps the largest cursor ever given in sqlite_sequence,
     * which a prune does not lower (max(cursor) would). */
    rc = st_stmt(st, SL_FEED_HEAD,
                 "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'revocations'), 0)",
                 &s);
    if (rc != VFY_OK)
        return rc;
    src = sqlite3_step(s);
    if (src == SQLITE_ROW)
        *head = (uint64_t)sqlite3_column_int64(s, 0);
    else
        rc = st_db(st, src, "revocations");
    sqlite3_reset(s);
    return rc;
}
