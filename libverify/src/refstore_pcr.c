/*
 * refstore_pcr.c — PCR reference sets (DESIGN §6): for a named set, a bank
 * (sha256 or sha384) and an index 0..23, any number of allowed digests.
 * Rows are unique on (set, bank, index, digest); a value is approved or
 * revoked. Digests are stored as lowercase hex of the bank's size.
 */
#include <stdio.h>
#include <string.h>

#include "refstore_int.h"

/* @adding: the set name may be created (st_check_new_name), not only looked
 * up: a revocation must reach a set named under an older rule. */
static vfy_rc check_value(vfy_store *st, const char *set, vfy_hash_alg bank, unsigned index,
                          const uint8_t *digest, size_t len, int adding)
{
    vfy_rc rc = adding ? st_check_new_name(st, set, VFY_STORE_NAME_MAX, "reference set name",
                                           ST_REFSET_STORED)
                       : st_check_name(st, set, VFY_STORE_NAME_MAX, "reference set name");

    if (rc != VFY_OK)
        return rc;
    if (bank != VFY_HASH_SHA256 && bank != VFY_HASH_SHA384)
        return st_err(st, VFY_E_PCR_BANK, "PCR bank must be sha256 or sha384");
    if (index >= VFY_PCR_COUNT)
        return st_err(st, VFY_E_PCR_BANK, "PCR index %u out of range 0..23", index);
    if (digest == NULL || len != vfy_hash_size(bank))
        return st_err(st, VFY_E_BAD_DIGEST, "a %s PCR value is %zu bytes (%zu hex digits)",
                      vfy_hash_name(bank), vfy_hash_size(bank), 2 * vfy_hash_size(bank));
    return VFY_OK;
}

/* Find the row; *id = 0 if absent. */
static vfy_rc find_row(vfy_store *st, const char *set, vfy_hash_alg bank, unsigned index,
                       const char *hex, int64_t *id, int *revoked)
{
    sqlite3_stmt *s;
    vfy_rc rc = st_stmt(st, SL_PCR_FIND,
                        "SELECT id, state FROM pcr_values"
                        " WHERE refset = ?1 AND bank = ?2 AND pcr = ?3 AND digest = ?4", &s);
    int src;

    *id = 0;
    *revoked = 0;
    if (rc != VFY_OK)
        return rc;
    sqlite3_bind_text(s, 1, set, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, vfy_hash_name(bank), -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, (int)index);
    sqlite3_bind_text(s, 4, hex, -1, SQLITE_STATIC);
    src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        *id = sqlite3_column_int64(s, 0);
        *revoked = strcmp((const char *)sqlite3_column_text(s, 1), "revoked") == 0;
    } else if (src != SQLITE_DONE) {
        rc = st_db(st, src, "pcr");
    }
    sqlite3_reset(s);
    return rc;
}

vfy_rc st_pcr_put(vfy_store *st, const char *set, vfy_hash_alg bank, unsigned index,
                  const uint8_t *digest, size_t len, int *added)
{
    char hex[2 * VFY_MAX_DIGEST + 1];
    sqlite3_stmt *s;
    int64_t id;
    int revoked;
    vfy_rc rc;

    if (added != NULL)
        *added = 0;
    if ((rc = check_value(st, set, bank, index, digest, len, 1)) != VFY_OK)
        return rc;
    st_hex(hex, digest, len);
    if ((rc = find_row(st, set, bank, index, hex, &id, &revoked)) != VFY_OK)
        return rc;
    if (id != 0)
        return revoked ? st_err(st, VFY_E_CONFLICT, "PCR %s:%u value %s in set %s is revoked",
                                vfy_hash_name(bank), index, hex, set)
                       : VFY_OK;
    rc = st_stmt(st, SL_PCR_INSERT,
                 "INSERT INTO pcr_values (refset, bank, pcr, digest, created_at)"
                 " VALUES (?1, ?2, ?3, ?4, ?5)", &s);
    if (rc != VFY_OK)
        return rc;
    sqlite3_bind_text(s, 1, set, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, vfy_hash_name(bank), -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, (int)index);
    sqlite3_bind_text(s, 4, hex, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, st_now(st));
    rc = st_exec_stmt(st, s, "insert pcr");
    if (rc == VFY_OK && added != NULL)
        *added = 1;
    return rc;
}

vfy_rc vfy_store_pcr_add(vfy_store *st, const char *set, vfy_hash_alg bank, unsigned index,
                         const uint8_t *digest, size_t len, int *added)
{
    char hex[2 * VFY_MAX_DIGEST + 1];
    char obj[VFY_STORE_NAME_MAX + 32];
    int add = 0;
    vfy_rc rc;

    if (added != NULL)
        *added = 0;
    if (st == NULL)
        return VFY_E_INVALID_ARG;
    if ((rc = st_writable(st)) != VFY_OK || (rc = st_tx_begin(st)) != VFY_OK)
        return rc;
    rc = st_pcr_put(st, set, bank, index, digest, len, &add);
    if (rc == VFY_OK && add) {
        st_hex(hex, digest, len);
        snprintf(obj, sizeof(obj), "pcr %s %s:%u", set, vfy_hash_name(bank), index);
        rc = st_audit(st, "pcr.add", obj, hex);
    }
    rc = st_tx_end(st, rc);
    if (rc == VFY_OK && added != NULL)
        *added = add;
    return rc;
}

vfy_rc vfy_store_pcr_import(vfy_store *st, const char *set, const vfy_pcr_values *pv,
                            size_t *added)
{
    char obj[VFY_STORE_NAME_MAX + 32], detail[2 * VFY_MAX_DIGEST + 64];
    size_t n = 0, total = 0;
    int add;
    vfy_rc rc;

    if (added != NULL)
        *added = 0;
    if (st == NULL || pv == NULL || pv->nbanks > VFY_PCR_MAX_BANKS)
        return VFY_E_INVALID_ARG;
    if ((rc = st_writable(st)) != VFY_OK || (rc = st_tx_begin(st)) != VFY_OK)
        return rc;
    for (size_t b = 0; rc == VFY_OK && b < pv->nbanks; b++) {
        const vfy_pcr_bank *bk = &pv->banks[b];

        for (unsigned i = 0; rc == VFY_OK && i < VFY_PCR_COUNT; i++) {
            if (!(bk->mask & (1u << i)))
                continue;
            total++;
            rc = st_pcr_put(st, set, bk->alg, i, bk->values[i], vfy_hash_size(bk->alg), &add);
            if (rc == VFY_OK && add) {
                /* each value approved gets its row, as pcr add writes it:
                 * the audit log says what was approved, not only how many */
                char hex[2 * VFY_MAX_DIGEST + 1];

                st_hex(hex, bk->values[i], vfy_hash_size(bk->alg));
                snprintf(obj, sizeof(obj), "pcr %s %s:%u", set, vfy_hash_name(bk->alg), i);
                snprintf(detail, sizeof(detail), "%s (by pcr import)", hex);
                rc = st_audit(st, "pcr.add", obj, detail);
            }
            n += (size_t)add;
        }
    }
    if (rc == VFY_OK && total == 0)
        rc = st_err(st, VFY_E_PCR_VALUES, "no PCR values to import");
    if (rc == VFY_OK && n > 0) {
        snprintf(obj, sizeof(obj), "pcr %s", set);
        snprintf(detail, sizeof(detail), "imported %zu of %zu values", n, total);
        rc = st_audit(st, "pcr.import", obj, detail);
    }
    rc = st_tx_end(st, rc);
    if (rc == VFY_OK && added != NULL)
        *added = n;
    return rc;
}

vfy_rc vfy_store_pcr_lookup(vfy_store *st, const char *set, vfy_hash_alg bank, unsigned index,
                            const uint8_t *digest, size_t len, vfy_ref_state *state,
                            int64_t *row_id)
{
    char hex[2 * VFY_MAX_DIGEST + 1];
    sqlite3_stmt *s;
    vfy_rc rc;
    int src;

    if (state != NULL)
        *state = 0;
    if (row_id != NULL)
        *row_id = 0;
    if (st == NULL || set == NULL || state == NULL || digest == NULL)
        return VFY_E_INVALID_ARG;
    if (bank != VFY_HASH_SHA256 && bank != VFY_HASH_SHA384)
        return VFY_E_PCR_BANK;
    if (index >= VFY_PCR_COUNT || len != vfy_hash_size(bank))
        return VFY_E_INVALID_ARG;
    st_hex(hex, digest, len);
    rc = st_stmt(st, SL_PCR_LOOKUP,
                 "SELECT id, state FROM pcr_values"
                 " WHERE refset = ?1 AND bank = ?2 AND pcr = ?3 AND digest = ?4", &s);
    if (rc != VFY_OK)
        return rc;
    sqlite3_bind_text(s, 1, set, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, vfy_hash_name(bank), -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, (int)index);
    sqlite3_bind_text(s, 4, hex, -1, SQLITE_STATIC);
    src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        *state = strcmp((const char *)sqlite3_column_text(s, 1), "revoked") == 0
                     ? VFY_REF_REVOKED : VFY_REF_APPROVED;
        if (row_id != NULL)
            *row_id = sqlite3_column_int64(s, 0);
    } else if (src == SQLITE_DONE) {
        rc = VFY_E_NOT_FOUND;
    } else {
        rc = st_db(st, src, "pcr lookup");
    }
    sqlite3_reset(s);
    return rc;
}

vfy_rc st_pcr_revoke_row(vfy_store *st, const char *set, vfy_hash_alg bank, unsigned index,
                         const uint8_t *digest, size_t len, int *changed, size_t *results)
{
    char hex[2 * VFY_MAX_DIGEST + 1];
    char reason[VFY_STORE_NAME_MAX + 2 * VFY_MAX_DIGEST + 64];
    sqlite3_stmt *s;
    int64_t id;
    int revoked;
    vfy_rc rc;

    *changed = 0;
    if ((rc = check_value(st, set, bank, index, digest, len, 0)) != VFY_OK)
        return rc;
    st_hex(hex, digest, len);
    if ((rc = find_row(st, set, bank, index, hex, &id, &revoked)) != VFY_OK)
        return rc;
    if (id == 0)
        return st_err(st, VFY_E_NOT_FOUND, "PCR %s:%u value %s not in set %s",
                      vfy_hash_name(bank), index, hex, set);
    if (revoked)
        return VFY_OK;
    rc = st_stmt(st, SL_PCR_REVOKE,
                 "UPDATE pcr_values SET state = 'revoked', revoked_at = ?2 WHERE id = ?1", &s);
    if (rc != VFY_OK)
        return rc;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, st_now(st));
    if ((rc = st_exec_stmt(st, s, "revoke pcr")) != VFY_OK)
        return rc;
    *changed = 1;
    snprintf(reason, sizeof(reason), "PCR %s:%u value %s of set %s was revoked",
             vfy_hash_name(bank), index, hex, set);
    return st_revoke_dependents(st, VFY_STORE_REF_PCR, id, reason, results);
}

vfy_rc vfy_store_pcr_revoke(vfy_store *st, const char *set, vfy_hash_alg bank, unsigned index,
                            const uint8_t *digest, size_t len, size_t *results)
{
    return vfy_store_pcr_revoke_counted(st, set, bank, index, digest, len, NULL, results);
}

vfy_rc vfy_store_pcr_revoke_counted(vfy_store *st, const char *set, vfy_hash_alg bank,
                                    unsigned index, const uint8_t *digest, size_t len,
                                    size_t *revoked, size_t *results)
{
    char hex[2 * VFY_MAX_DIGEST + 1];
    char obj[VFY_STORE_NAME_MAX + 32];
    size_t nres = 0;
    int changed = 0;
    vfy_rc rc;

    if (revoked != NULL)
        *revoked = 0;
    if (results != NULL)
        *results = 0;
    if (st == NULL)
        return VFY_E_INVALID_ARG;
    if ((rc = st_writable(st)) != VFY_OK || (rc = st_tx_begin(st)) != VFY_OK)
        return rc;
    rc = st_pcr_revoke_row(st, set, bank, index, digest, len, &changed, &nres);
    if (rc == VFY_OK && changed) {
        st_hex(hex, digest, len);
        snprintf(obj, sizeof(obj), "pcr %s %s:%u", set, vfy_hash_name(bank), index);
        rc = st_audit(st, "pcr.revoke", obj, hex);
    }
    rc = st_tx_end(st, rc);
    if (rc == VFY_OK && revoked != NULL)
        *revoked = (size_t)changed;
    if (rc == VFY_OK && results != NULL)
        *results = nres;
    return rc;
}

/* Approved values of set @set, of bank @bank (a name) or of any (NULL). */
static vfy_rc pcr_count(vfy_store *st, const char *set, const char *bank, size_t *n)
{
    sqlite3_stmt *s = NULL;
    vfy_rc rc = VFY_OK;
    int src = sqlite3_prepare_v2(st->db, "SELECT count(*) FROM pcr_values WHERE refset = ?1"
                                 " AND (?2 IS NULL OR bank = ?2) AND state = 'approved'",
                                 -1, &s, NULL);

    if (src != SQLITE_OK)
        return st_db(st, src, "prepare");
    sqlite3_bind_text(s, 1, set, -1, SQLITE_STATIC);
    if (bank != NULL)
        sqlite3_bind_text(s, 2, bank, -1, SQLITE_STATIC);
    if ((src = sqlite3_step(s)) == SQLITE_ROW)
        *n = (size_t)sqlite3_column_int64(s, 0);
    else
        rc = st_db(st, src, "pcr count");
    sqlite3_finalize(s);
    return rc;
}

vfy_rc vfy_store_refset_pcr_count(vfy_store *st, const char *set, size_t *n)
{
    if (n != NULL)
        *n = 0;
    if (st == NULL || set == NULL || n == NULL)
        return VFY_E_INVALID_ARG;
    return pcr_count(st, set, NULL, n);
}

vfy_rc vfy_store_refset_pcr_count_bank(vfy_store *st, const char *set, vfy_hash_alg bank,
                                       size_t *n)
{
    if (n != NULL)
        *n = 0;
    if (st == NULL || set == NULL || n == NULL)
        return VFY_E_INVALID_ARG;
    if (bank != VFY_HASH_SHA256 && bank != VFY_HASH_SHA384)
        return st_err(st, VFY_E_PCR_BANK, "PCR bank must be sha256 or sha384");
    return pcr_count(st, set, vfy_hash_name(bank), n);
}
