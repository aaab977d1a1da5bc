/*
 * refstore_state.c — per-attester verifier state (DESIGN §3, §4): the last
 * accepted TPM clock state, and the longest agent log seen in the current
 * TPM reset epoch with, per entry, the TPM clock of the first quote that
 * showed it. These are verifier writes, not admin changes: no audit row,
 * no generation bump. The rules that decide what to store live in
 * clock.c / the agent-log module; this file only persists.
 */
#include <stdlib.h>
#include <string.h>

#include "refstore_int.h"

/* The attester's row id; VFY_E_NOT_FOUND if unknown. */
static vfy_rc attester_id(vfy_store *st, const char *name, int64_t *id)
{
    sqlite3_stmt *s;
    vfy_rc rc = st_stmt(st, SL_ATT_ID, "SELECT id FROM attesters WHERE name = ?1", &s);
    int src;

    *id = 0;
    if (rc != VFY_OK)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    src = sqlite3_step(s);
    if (src == SQLITE_ROW)
        *id = sqlite3_column_int64(s, 0);
    else if (src == SQLITE_DONE)
        rc = st_err(st, VFY_E_NOT_FOUND, "attester %s not found", name);
    else
        rc = st_db(st, src, "attester");
    sqlite3_reset(s);
    return rc;
}

vfy_rc vfy_store_clock_get(vfy_store *st, const char *attester, vfy_clock_info *out)
{
    sqlite3_stmt *s;
    vfy_rc rc;
    int src;

    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (st == NULL || attester == NULL || out == NULL)
        return VFY_E_INVALID_ARG;
    rc = st_stmt(st, SL_CLOCK_GET,
                 "SELECT c.reset_count, c.restart_count, c.clock FROM clock_state c"
                 " JOIN attesters a ON a.id = c.attester_id WHERE a.name = ?1", &s);
    if (rc != VFY_OK)
        return rc;
    sqlite3_bind_text(s, 1, attester, -1, SQLITE_STATIC);
    src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        out->reset_count = (uint32_t)sqlite3_column_int64(s, 0);
        out->restart_count = (uint32_t)sqlite3_column_int64(s, 1);
        out->clock = (uint64_t)sqlite3_column_int64(s, 2);
        out->safe = 1;
    } else if (src == SQLITE_DONE) {
        rc = VFY_E_NOT_FOUND;
    } else {
        rc = st_db(st, src, "clock state");
    }
    sqlite3_reset(s);
    return rc;
}

vfy_rc vfy_store_clock_put(vfy_store *st, const char *attester, const vfy_clock_info *ci)
{
    sqlite3_stmt *s;
    int64_t id;
    vfy_rc rc;

    if (st == NULL || attester == NULL || ci == NULL)
        return VFY_E_INVALID_ARG;
    if ((rc = st_writable(st)) != VFY_OK || (rc = st_tx_begin(st)) != VFY_OK)
        return rc;
    rc = attester_id(st, attester, &id);
    if (rc == VFY_OK)
        rc = st_stmt(st, SL_CLOCK_PUT,
                     "INSERT INTO clock_state (attester_id, reset_count, restart_count, clock,"
                     " updated_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (attester_id) DO UPDATE"
                     " SET reset_count = ?2, restart_count = ?3, clock = ?4, updated_at = ?5", &s);
    if (rc == VFY_OK) {
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_int64(s, 2, ci->reset_count);
        sqlite3_bind_int64(s, 3, ci->restart_count);
        /* SQLite integers are signed 64-bit; the TPM clock (ms) fits for 292 My. */
        sqlite3_bind_int64(s, 4, (int64_t)ci->clock);
        sqlite3_bind_int64(s, 5, st_now(st));
        rc = st_exec_stmt(st, s, "clock state");
    }
    return st_tx_end(st, rc);
}

vfy_rc vfy_store_agent_log_get(vfy_store *st, const char *attester, uint32_t *epoch,
                               vfy_store_log_entry **entries, size_t *n)
{
    sqlite3_stmt *s;
    vfy_store_log_entry *v = NULL;
    int64_t id = 0, len = 0;
    size_t k = 0;
    vfy_rc rc;
    int src;

    if (epoch != NULL)
        *epoch = 0;
    if (entries != NULL)
        *entries = NULL;
    if (n != NULL)
        *n = 0;
    if (st == NULL || attester == NULL || epoch == NULL || entries == NULL || n == NULL)
        return VFY_E_INVALID_ARG;
    rc = st_stmt(st, SL_LOG_HEAD_GET,
                 "SELECT h.attester_id, h.epoch, h.length FROM agent_log_head h"
                 " JOIN attesters a ON a.id = h.attester_id WHERE a.name = ?1", &s);
    if (rc != VFY_OK)
        return rc;
    sqlite3_bind_text(s, 1, attester, -1, SQLITE_STATIC);
    src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        id = sqlite3_column_int64(s, 0);
        *epoch = (uint32_t)sqlite3_column_int64(s, 1);
        len = sqlite3_column_int64(s, 2);
    } else if (src == SQLITE_DONE) {
        rc = VFY_E_NOT_FOUND;
    } else {
        rc = st_db(st, src, "agent log");
    }
    sqlite3_reset(s);
    if (rc != VFY_OK)
        goto fail;
    if (len < 0 || len > 1000000) {
        rc = st_err(st, VFY_E_INTERNAL, "agent log length %lld out of range", (long long)len);
        goto fail;
    }
    if (len > 0) {
        v = calloc((size_t)len, sizeof(*v));
        if (v == NULL) {
            rc = VFY_E_NOMEM;
            goto fail;
        }
    }
    rc = st_stmt(st, SL_LOG_ENTRIES,
                 "SELECT seq, digest, first_clock FROM agent_log_entries"
                 " WHERE attester_id = ?1 ORDER BY seq", &s);
    if (rc != VFY_OK)
        goto fail;
    sqlite3_bind_int64(s, 1, id);
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        const char *d = (const char *)sqlite3_column_text(s, 1);
        size_t dl = (size_t)sqlite3_column_bytes(s, 1);

        if (k >= (size_t)len || sqlite3_column_int64(s, 0) != (int64_t)k ||
            vfy_sha256_parse(v[k].digest, d, dl) != VFY_OK) {
            rc = st_err(st, VFY_E_INTERNAL, "agent log of %s is inconsistent", attester);
            break;
        }
        v[k].first_clock = (uint64_t)sqlite3_column_int64(s, 2);
        k++;
    }
    if (rc == VFY_OK && src != SQLITE_DONE)
        rc = st_db(st, src, "agent log");
    if (rc == VFY_OK && k != (size_t)len)
        rc = st_err(st, VFY_E_INTERNAL, "agent log of %s is inconsistent", attester);
    sqlite3_reset(s);
    if (rc != VFY_OK)
        goto fail;
    *entries = v;
    *n = k;
    return VFY_OK;
fail:
    free(v);
    *epoch = 0;
    return rc;
}

static vfy_rc log_insert(vfy_store *st, int64_t id, size_t seq, const vfy_store_log_entry *e)
{
    char d[VFY_SHA256_STR_LEN + 1];
    sqlite3_stmt *s;
    vfy_rc rc = vfy_sha256_format(d, sizeof(d), e->digest);

    if (rc == VFY_OK)
        rc = st_stmt(st, SL_LOG_INSERT,
                     "INSERT INTO agent_log_entries (attester_id, seq, digest, first_clock)"
                     " VALUES (?1, ?2, ?3, ?4)", &s);
    if (rc != VFY_OK)
        return rc;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, (int64_t)seq);
    sqlite3_bind_text(s, 3, d, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, (int64_t)e->first_clock);
    return st_exec_stmt(st, s, "agent log entry");
}

static vfy_rc log_put(vfy_store *st, const char *attester, uint32_t epoch,
                      const vfy_store_log_entry *entries, size_t n, int replace);

vfy_rc vfy_store_agent_log_put(vfy_store *st, const char *attester, uint32_t epoch,
                               const vfy_store_log_entry *entries, size_t n)
{
    return log_put(st, attester, epoch, entries, n, 0);
}

vfy_rc vfy_store_agent_log_replace(vfy_store *st, const char *attester, uint32_t epoch,
                                   const vfy_store_log_entry *entries, size_t n)
{
    return log_put(st, attester, epoch, entries, n, 1);
}

static vfy_rc log_put(vfy_store *st, const char *attester, uint32_t epoch,
                      const vfy_store_log_entry *entries, size_t n, int replace)
{
    sqlite3_stmt *s;
    int64_t id = 0, old_epoch = -1, old_len = 0;
    size_t from = 0;
    vfy_rc rc;
    int src;

    if (st == NULL || attester == NULL || (entries == NULL && n > 0) || n > 1000000)
        return VFY_E_INVALID_ARG;
    if ((rc = st_writable(st)) != VFY_OK || (rc = st_tx_begin(st)) != VFY_OK)
        return rc;
    rc = attester_id(st, attester, &id);
    if (rc == VFY_OK)
        rc = st_stmt(st, SL_LOG_LAST,
                     "SELECT h.epoch, h.length, e.digest FROM agent_log_head h"
                     " LEFT JOIN agent_log_entries e"
                     " ON e.attester_id = h.attester_id AND e.seq = h.length - 1"
                     " WHERE h.attester_id = ?1", &s);
    if (rc != VFY_OK)
        goto out;
    sqlite3_bind_int64(s, 1, id);
    src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        old_epoch = sqlite3_column_int64(s, 0);
        old_len = sqlite3_column_int64(s, 1);
        if (replace) {
            old_epoch = -1; /* start over, whatever was stored */
        } else if (old_epoch == (int64_t)epoch) {
            uint8_t last[32];
            const char *d = (const char *)sqlite3_column_text(s, 2);

            if ((size_t)old_len > n)
                rc = st_err(st, VFY_E_CONFLICT, "agent log shorter than the stored one");
            else if (old_len > 0 &&
                     (d == NULL || vfy_sha256_parse(last, d, strlen(d)) != VFY_OK ||
                      memcmp(last, entries[old_len - 1].digest, 32) != 0))
                rc = st_err(st, VFY_E_CONFLICT, "agent log does not extend the stored one");
            from = (size_t)old_len;
        }
    } else if (src != SQLITE_DONE) {
        rc = st_db(st, src, "agent log");
    }
    sqlite3_reset(s);
    if (rc != VFY_OK)
        goto out;
    if (old_epoch != (int64_t)epoch) {
        rc = st_stmt(st, SL_LOG_CLEAR, "DELETE FROM agent_log_entries WHERE attester_id = ?1", &s);
        if (rc == VFY_OK) {
            sqlite3_bind_int64(s, 1, id);
            rc = st_exec_stmt(st, s, "agent log clear");
        }
    }
    if (rc == VFY_OK)
        rc = st_stmt(st, SL_LOG_HEAD_PUT,
                     "INSERT INTO agent_log_head (attester_id, epoch, length, updated_at)"
                     " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (attester_id) DO UPDATE"
                     " SET epoch = ?2, length = ?3, updated_at = ?4", &s);
    if (rc == VFY_OK) {
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_int64(s, 2, epoch);
        sqlite3_bind_int64(s, 3, (int64_t)n);
        sqlite3_bind_int64(s, 4, st_now(st));
        rc = st_exec_stmt(st, s, "agent log head");
    }
    for (size_t i = from; rc == VFY_OK && i < n; i++)
        rc = log_insert(st, id, i, &entries[i]);
out:
    return st_tx_end(st, rc);
}
