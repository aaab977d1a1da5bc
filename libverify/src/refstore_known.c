/*
 * refstore_known.c — the manifests a verifier appraised as affirming, per
 * attester (schema v2, table known_manifests). The agent history modes
 * "approved" and "strict" (DESIGN §4) accept a past log entry only if its
 * digest is here or its carried manifest passes now.
 */
#include "refstore_int.h"

vfy_rc vfy_store_manifest_known(vfy_store *st, const char *attester, const uint8_t digest[32],
                                int *known)
{
    sqlite3_stmt *s;
    vfy_rc rc;
    int src;

    if (known != NULL)
        *known = 0;
    if (st == NULL || attester == NULL || digest == NULL || known == NULL)
        return VFY_E_INVALID_ARG;
    rc = st_stmt(st, SL_KNOWN_GET,
                 "SELECT 1 FROM known_manifests k JOIN attesters a ON a.id = k.attester_id"
                 " WHERE a.name = ?1 AND k.digest = ?2", &s);
    if (rc != VFY_OK)
        return rc;
    sqlite3_bind_text(s, 1, attester, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, digest, 32, SQLITE_STATIC);
    src = sqlite3_step(s);
    if (src == SQLITE_ROW)
        *known = 1;
    else if (src != SQLITE_DONE)
        rc = st_db(st, src, "known manifests");
    sqlite3_reset(s);
    return rc;
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
                                          size_t nrefs)
{
    int64_t refset = 0;
    sqlite3_stmt *s;
    int known = 0;
    vfy_rc rc;

    if (st == NULL || attester == NULL || digest == NULL || (refs == NULL && nrefs > 0))
        return VFY_E_INVALID_ARG;
    if ((rc = st_writable(st)) != VFY_OK)
        return rc;
    /* Known already (the usual case for a returning attester whose mark
     * is not in the appraiser's cache): one read, no reference set. */
    if ((rc = vfy_store_manifest_known(st, attester, digest, &known)) != VFY_OK || known)
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
