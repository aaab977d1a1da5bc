/*
 * refstore_known.c — the manifests a verifier appraised as affirming, per
 * attester (schema v2, table known_manifests). The agent history modes
 * "approved" and "strict" (DESIGN §4) accept a past log entry only if its
 * digest is here or its carried manifest passes now.
 */
#include <stdlib.h>

#include "refstore_int.h"

vfy_rc vfy_store_manifest_known(vfy_store *st, const char *attester, const uint8_t digest[32],
                                int *known)
{
    int64_t refset;

    return vfy_store_manifest_known_refset(st, attester, digest, known, &refset);
}

vfy_rc vfy_store_manifest_known_refset(vfy_store *st, const char *attester,
                                       const uint8_t digest[32], int *known, int64_t *refset)
{
    sqlite3_stmt *s;
    vfy_rc rc;
    int src;

    if (known != NULL)
        *known = 0;
    if (refset != NULL)
        *refset = 0;
    if (st == NULL || attester == NULL || digest == NULL || known == NULL || refset == NULL)
        return VFY_E_INVALID_ARG;
    rc = st_stmt(st, SL_KNOWN_GET_REFSET,
                 "SELECT coalesce(k.refset_id, 0) FROM known_manifests k"
                 " JOIN attesters a ON a.id = k.attester_id"
                 " WHERE a.name = ?1 AND k.digest = ?2", &s);
    if (rc != VFY_OK)
        return rc;
    sqlite3_bind_text(s, 1, attester, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, digest, 32, SQLITE_STATIC);
    src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        *known = 1;
        *refset = sqlite3_column_int64(s, 0);
    } else if (src != SQLITE_DONE) {
        rc = st_db(st, src, "known manifests");
    }
    sqlite3_reset(s);
    return rc;
}

vfy_rc vfy_store_refset_rows(vfy_store *st, int64_t refset, vfy_store_ref **out, size_t *n)
{
    vfy_store_ref *v = NULL, *nv;
    size_t k = 0, cap = 0;
    sqlite3_stmt *s;
    vfy_rc rc;
    int src;

    if (out != NULL)
        *out = NULL;
    if (n != NULL)
        *n = 0;
    if (st == NULL || out == NULL || n == NULL || refset <= 0)
        return VFY_E_INVALID_ARG;
    rc = st_stmt(st, SL_REFSET_ROWS,
                 "SELECT 1, component_id FROM refset_components WHERE refset_id = ?1"
                 " UNION ALL SELECT 2, pcr_id FROM refset_pcrs WHERE refset_id = ?1", &s);
    if (rc != VFY_OK)
        return rc;
    sqlite3_bind_int64(s, 1, refset);
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        if (k == cap) {
            cap = cap != 0 ? 2 * cap : 16;
            if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
                rc = VFY_E_NOMEM;
                break;
            }
            v = nv;
        }
        v[k].kind = sqlite3_column_int(s, 0) == 1 ? VFY_STORE_REF_COMPONENT : VFY_STORE_REF_PCR;
        v[k].id = sqlite3_column_int64(s, 1);
        k++;
    }
    if (rc == VFY_OK && src != SQLITE_DONE)
        rc = st_db(st, src, "reference set");
    sqlite3_reset(s);
    if (rc == VFY_OK && k == 0)
        rc = st_err(st, VFY_E_NOT_FOUND, "reference set %lld has no rows", (long long)refset);
    if (rc != VFY_OK) {
        free(v);
        return rc;
    }
    *out = v;
    *n = k;
    return VFY_OK;
}

vfy_rc vfy_store_manifest_mark_known(vfy_store *st, const char *attester,
                                     const uint8_t digest[32])
{
    return vfy_store_manifest_mark_known_result(st, attester, digest, NULL);
}

/* Insert the mark (no-op if known); VFY_E_NOT_FOUND for an unknown attester.
 * @s is the prepared statement, its ?4 already bound. */
static vfy_rc mark_exec(vfy_store *st, sqlite3_stmt *s, const char *attester,
                        const uint8_t digest[32])
{
    vfy_rc rc;

    sqlite3_bind_text(s, 1, attester, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, digest, 32, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, st_now(st));
    rc = st_exec_stmt(st, s, "known manifests");
    if (rc == VFY_OK && sqlite3_changes(st->db) == 0) {
        int known = 0;

        rc = vfy_store_manifest_known(st, attester, digest, &known);
        if (rc == VFY_OK && !known)
            rc = st_err(st, VFY_E_NOT_FOUND, "no attester named %s", attester);
    }
    return rc;
}

vfy_rc vfy_store_manifest_mark_known_refs(vfy_store *st, const char *attester,
                                          const uint8_t digest[32], const vfy_store_ref *refs,
                                          size_t nrefs, int64_t *mark_refset)
{
    int64_t refset = 0;
    sqlite3_stmt *s;
    int known = 0;
    vfy_rc rc;

    if (mark_refset != NULL)
        *mark_refset = 0;
    if (st == NULL || attester == NULL || digest == NULL || (refs == NULL && nrefs > 0) ||
        mark_refset == NULL)
        return VFY_E_INVALID_ARG;
    if ((rc = st_writable(st)) != VFY_OK)
        return rc;
    /* Known already (the usual case for a returning attester whose mark
     * is not in the appraiser's cache): one read, no reference set. */
    if ((rc = vfy_store_manifest_known_refset(st, attester, digest, &known, mark_refset)) !=
            VFY_OK ||
        known)
        return rc;
    if ((rc = st_tx_begin(st)) != VFY_OK)
        return rc;
    if (nrefs > 0)
        rc = st_refset_get(st, refs, nrefs, &refset);
    if (rc == VFY_OK)
        rc = st_stmt(st, SL_KNOWN_PUT_REFS,
                     "INSERT OR IGNORE INTO known_manifests (attester_id, digest, first_at, refset_id)"
                     " SELECT id, ?2, ?3, ?4 FROM attesters WHERE name = ?1", &s);
    if (rc == VFY_OK) {
        if (refset != 0)
            sqlite3_bind_int64(s, 4, refset);
        else
            sqlite3_bind_null(s, 4);
        rc = mark_exec(st, s, attester, digest);
    }
    if (rc == VFY_OK)
        *mark_refset = refset;
    return st_tx_end(st, rc);
}

vfy_rc vfy_store_manifest_mark_known_result(vfy_store *st, const char *attester,
                                            const uint8_t digest[32], const char *result_id)
{
    sqlite3_stmt *s;
    vfy_rc rc;

    if (st == NULL || attester == NULL || digest == NULL)
        return VFY_E_INVALID_ARG;
    if ((rc = st_writable(st)) != VFY_OK)
        return rc;
    rc = st_stmt(st, SL_KNOWN_PUT,
                 "INSERT OR IGNORE INTO known_manifests (attester_id, digest, first_at, refset_id)"
                 " SELECT id, ?2, ?3, (SELECT refset_id FROM results WHERE id = ?4)"
                 " FROM attesters WHERE name = ?1", &s);
    if (rc != VFY_OK)
        return rc;
    if (result_id != NULL)
        sqlite3_bind_text(s, 4, result_id, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 4);
    return mark_exec(st, s, attester, digest);
}
