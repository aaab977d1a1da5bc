/*
 * refstore_attester.c — attesters in the store (DESIGN §6): name, AK (PEM
 * SubjectPublicKeyInfo, plus the original TPM2B_PUBLIC when registered from
 * one), AK fingerprint (SHA-256 of the DER SPKI), pinned signing scheme,
 * PCR reference set, appraisal policy and state active|revoked.
 *
 * Identity of an attester for "identical re-add": the same key
 * (fingerprint), scheme, reference set and policy. The stored TPM2B_PUBLIC
 * is informational; registering the same key once from PEM and once from
 * TPM2B_PUBLIC is the same attester.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refstore_int.h"

#define DEFAULT_REFSET "default"

static int is_pem(const uint8_t *buf, size_t len)
{
    static const char begin[] = "-----BEGIN";

    return len >= sizeof(begin) - 1 && memcmp(buf, begin, sizeof(begin) - 1) == 0;
}

static vfy_rc policy_exists(vfy_store *st, const char *id)
{
    sqlite3_stmt *s;
    vfy_rc rc = st_stmt(st, SL_POL_EXISTS, "SELECT 1 FROM policies WHERE id = ?1 LIMIT 1", &s);
    int src;

    if (rc != VFY_OK)
        return rc;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    src = sqlite3_step(s);
    sqlite3_reset(s);
    if (src == SQLITE_ROW)
        return VFY_OK;
    /* "default" unstored is the built-in default@1 to the appraisal
     * (docs/appraisal.md): an attester may name it before it is loaded */
    if (src == SQLITE_DONE && strcmp(id, "default") == 0)
        return VFY_OK;
    if (src == SQLITE_DONE)
        return st_err(st, VFY_E_NOT_FOUND, "policy %s not found (load it first)", id);
    return st_db(st, src, "policy");
}

static vfy_rc set_state(vfy_store *st, const char *name, const char *state)
{
    sqlite3_stmt *s = NULL;
    int src = sqlite3_prepare_v2(st->db, "UPDATE attesters SET state = ?2 WHERE name = ?1",
                                 -1, &s, NULL);
    vfy_rc rc;

    if (src != SQLITE_OK)
        return st_db(st, src, "prepare");
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, state, -1, SQLITE_STATIC);
    rc = st_exec_stmt(st, s, "attester state");
    sqlite3_finalize(s);
    return rc;
}

/* A revoked attester's unexpired valid results are revoked too, with feed entries. */
static vfy_rc revoke_results(vfy_store *st, const char *name, const char *obj)
{
    static const char *const sql[2] = {
        "INSERT INTO revocations (cursor, result_id, at, reason)"
        " SELECT " FEED_CURSOR("rowid") ", id, ?2, ?3 FROM results"
        " WHERE attester = ?1 AND state = 'valid' AND exp > ?2 ORDER BY rowid",
        "UPDATE results SET state = 'revoked', revoked_at = ?2, reason = ?3"
        " WHERE attester = ?1 AND state = 'valid' AND exp > ?2",
    };
    char reason[VFY_STORE_NAME_MAX + 32];
    /* one clock for both statements: the feed gets exactly the results the
     * update revokes (a second ticking in between would leave a result fed
     * but still valid) */
    int64_t now = st_now(st);
    vfy_rc rc = VFY_OK;

    snprintf(reason, sizeof(reason), "%s revoked", obj);
    for (int i = 0; i < 2 && rc == VFY_OK; i++) {
        sqlite3_stmt *s = NULL;
        int src = sqlite3_prepare_v2(st->db, sql[i], -1, &s, NULL);

        if (src != SQLITE_OK)
            return st_db(st, src, "revoke attester results");
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, now);
        sqlite3_bind_text(s, 3, reason, -1, SQLITE_STATIC);
        if (i == 0)
            sqlite3_bind_int64(s, 4, st_feed_floor(st));
        src = sqlite3_step(s);
        if (src != SQLITE_DONE)
            rc = st_db(st, src, "revoke attester results");
        sqlite3_finalize(s);
    }
    return rc;
}

vfy_rc st_attesters_rekey(vfy_store *st, size_t *changed, size_t *unread, size_t *shared)
{
    sqlite3_stmt *sel = NULL, *upd = NULL;
    vfy_rc rc = VFY_OK;
    int src;

    *changed = 0;
    *unread = 0;
    *shared = 0;
    src = sqlite3_prepare_v2(st->db, "SELECT name, ak_pem, ak_tpm2b, ak_fingerprint FROM attesters",
                             -1, &sel, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_prepare_v2(st->db, "UPDATE attesters SET ak_pem = ?2, ak_fingerprint = ?3"
                                         " WHERE name = ?1", -1, &upd, NULL);
    if (src != SQLITE_OK) {
        rc = st_db(st, src, "prepare");
        goto out;
    }
    /* The UPDATE changes no column the SELECT's scan (the table) orders by. */
    while ((src = sqlite3_step(sel)) == SQLITE_ROW) {
        const uint8_t *buf = sqlite3_column_blob(sel, 2);
        size_t len = (size_t)sqlite3_column_bytes(sel, 2);
        const char *ofp = (const char *)sqlite3_column_text(sel, 3);
        vfy_ak *ak = NULL;
        uint8_t fp[32];
        char fphex[65], *pem = NULL;

        if (buf == NULL) {
            buf = sqlite3_column_text(sel, 1);
            len = (size_t)sqlite3_column_bytes(sel, 1);
        }
        /* a key this build cannot load cannot be appraised either: left
         * as it was, and counted */
        if (buf == NULL || vfy_ak_load(&ak, buf, len, NULL) != VFY_OK) {
            (*unread)++;
            continue;
        }
        rc = vfy_ak_fingerprint(ak, fp);
        if (rc == VFY_OK)
            st_hex(fphex, fp, sizeof(fp));
        if (rc == VFY_OK && (ofp == NULL || strcmp(ofp, fphex) != 0)) {
            rc = vfy_ak_to_pem(ak, &pem, NULL);
            if (rc == VFY_OK) {
                sqlite3_bind_text(upd, 1, (const char *)sqlite3_column_text(sel, 0), -1,
                                  SQLITE_TRANSIENT);
                sqlite3_bind_text(upd, 2, pem, -1, SQLITE_STATIC);
                sqlite3_bind_text(upd, 3, fphex, -1, SQLITE_STATIC);
                src = sqlite3_step(upd);
                sqlite3_reset(upd);
                rc = src == SQLITE_DONE ? VFY_OK : st_db(st, src, "attester key");
                *changed += rc == VFY_OK;
            }
        }
        free(pem);
        vfy_ak_free(&ak);
        if (rc != VFY_OK)
            goto out;
    }
    if (src != SQLITE_DONE) {
        rc = st_db(st, src, "attesters");
        goto out;
    }
    /* Active attesters with the key of a revoked one: shared before the
     * revocation, or registered again in another encoding, which only now
     * compares equal. Counted for the audit row; verifyctl init names them.
     * An uncorrelated IN (the revoked keys, once): a correlated EXISTS
     * walked every sharer of a key for every sharer, quadratic for a fleet
     * on one key (vfy-bench registers 100k so). */
    sqlite3_finalize(sel);
    src = sqlite3_prepare_v2(st->db,
                             "SELECT count(*) FROM attesters WHERE state = 'active' AND"
                             " ak_fingerprint IN (SELECT ak_fingerprint FROM attesters"
                             " WHERE state = 'revoked')", -1, &sel, NULL);
    if (src == SQLITE_OK && (src = sqlite3_step(sel)) == SQLITE_ROW)
        *shared = (size_t)sqlite3_column_int64(sel, 0);
    else
        rc = st_db(st, src, "attesters");
out:
    sqlite3_finalize(sel);
    sqlite3_finalize(upd);
    return rc;
}

vfy_rc st_attester_put(vfy_store *st, const char *name, const uint8_t *akbuf, size_t ak_len,
                       const char *scheme, const char *refset, const char *policy,
                       int revoked, int check_key, int *added)
{
    vfy_sig_scheme sch;
    vfy_ak *ak = NULL;
    char *pem = NULL;
    uint8_t fp[32];
    char fphex[65], schname[VFY_SCHEME_NAME_MAX];
    sqlite3_stmt *s;
    vfy_rc rc;
    int src;

    if (added != NULL)
        *added = 0;
    if (refset == NULL || refset[0] == '\0')
        refset = DEFAULT_REFSET;
    if (policy != NULL && policy[0] == '\0')
        policy = NULL;
    if ((rc = st_check_new_name(st, name, VFY_STORE_NAME_MAX, "attester name",
                                "SELECT 1 FROM attesters WHERE name = ?1")) != VFY_OK ||
        (rc = st_check_new_name(st, refset, VFY_STORE_NAME_MAX, "reference set name",
                                ST_REFSET_STORED)) != VFY_OK ||
        (rc = st_check_opt(st, policy, VFY_STORE_NAME_MAX, "policy id")) != VFY_OK)
        return rc;
    if (scheme != NULL && vfy_sig_scheme_parse(&sch, scheme) != VFY_OK)
        return st_err(st, VFY_E_UNSUPPORTED, "unsupported signing scheme %s", scheme);
    if (policy != NULL && (rc = policy_exists(st, policy)) != VFY_OK)
        return rc;
    rc = vfy_ak_load(&ak, akbuf, ak_len, scheme != NULL ? &sch : NULL);
    if (rc != VFY_OK)
        return st_err(st, rc, "attestation key: %s", vfy_strerror(rc));
    sch = vfy_ak_scheme(ak);
    if ((rc = vfy_ak_to_pem(ak, &pem, NULL)) != VFY_OK ||
        (rc = vfy_ak_fingerprint(ak, fp)) != VFY_OK ||
        (rc = vfy_sig_scheme_format(&sch, schname, sizeof(schname))) != VFY_OK)
        goto out;
    st_hex(fphex, fp, sizeof(fp));

    rc = st_stmt(st, SL_ATT_FIND,
                 "SELECT ak_fingerprint, scheme, refset, coalesce(policy_id, ''), state"
                 " FROM attesters WHERE name = ?1", &s);
    if (rc != VFY_OK)
        goto out;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        const char *ofp = (const char *)sqlite3_column_text(s, 0);
        const char *osch = (const char *)sqlite3_column_text(s, 1);
        const char *oset = (const char *)sqlite3_column_text(s, 2);
        const char *opol = (const char *)sqlite3_column_text(s, 3);
        int orev = strcmp((const char *)sqlite3_column_text(s, 4), "revoked") == 0;
        const char *what = NULL;

        if (strcmp(ofp, fphex) != 0)
            what = "a different attestation key";
        else if (strcmp(osch, schname) != 0)
            what = "a different signing scheme";
        else if (strcmp(oset, refset) != 0)
            what = "a different reference set";
        else if (strcmp(opol, policy != NULL ? policy : "") != 0)
            what = "a different policy";
        else if (orev && !revoked)
            what = "state revoked";
        sqlite3_reset(s);
        if (what != NULL) {
            rc = st_err(st, VFY_E_CONFLICT, "attester %s already exists with %s", name, what);
        } else if (revoked && !orev) {
            /* Revoked through an import: as vfy_store_attester_revoke, its
             * live results are revoked with it. */
            char obj[VFY_STORE_NAME_MAX + 16];

            snprintf(obj, sizeof(obj), "attester %s", name);
            rc = set_state(st, name, "revoked");
            if (rc == VFY_OK)
                rc = revoke_results(st, name, obj);
            if (rc == VFY_OK && added != NULL)
                *added = 2;
        }
        goto out;
    }
    sqlite3_reset(s);
    if (src != SQLITE_DONE) {
        rc = st_db(st, src, "attester");
        goto out;
    }
    /* A revoked attester's key stays revoked: it cannot come back under
     * another name (its TPM would attest again, and the revocation, which
     * names the attester, would not reach the new name's results). An
     * import restores the rows it is given (an export of a store where the
     * key was shared before the revocation must import again) and skips
     * this. */
    if (check_key)
        rc = st_stmt(st, SL_ATT_BY_FP,
                     "SELECT name FROM attesters WHERE ak_fingerprint = ?1 AND state = 'revoked'"
                     " LIMIT 1", &s);
    if (check_key && rc == VFY_OK) {
        sqlite3_bind_text(s, 1, fphex, -1, SQLITE_STATIC);
        src = sqlite3_step(s);
        if (src == SQLITE_ROW)
            rc = st_err(st, VFY_E_CONFLICT, "the attestation key of revoked attester %s cannot "
                        "be registered again", (const char *)sqlite3_column_text(s, 0));
        else if (src != SQLITE_DONE)
            rc = st_db(st, src, "attester");
        sqlite3_reset(s);
    }
    if (rc != VFY_OK)
        goto out;
    rc = st_stmt(st, SL_ATT_INSERT,
                 "INSERT INTO attesters (name, ak_pem, ak_tpm2b, ak_fingerprint, scheme, refset,"
                 " policy_id, state, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", &s);
    if (rc != VFY_OK)
        goto out;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, pem, -1, SQLITE_STATIC);
    if (is_pem(akbuf, ak_len))
        sqlite3_bind_null(s, 3);
    else
        sqlite3_bind_blob(s, 3, akbuf, (int)ak_len, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, fphex, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, schname, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, refset, -1, SQLITE_STATIC);
    if (policy != NULL)
        sqlite3_bind_text(s, 7, policy, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 7);
    sqlite3_bind_text(s, 8, revoked ? "revoked" : "active", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 9, st_now(st));
    rc = st_exec_stmt(st, s, "insert attester");
    if (rc == VFY_OK && added != NULL)
        *added = 1;
out:
    vfy_free(pem);
    vfy_ak_free(&ak);
    return rc;
}

vfy_rc vfy_store_attester_add(vfy_store *st, const char *name, const uint8_t *ak, size_t ak_len,
                              const char *scheme, const char *refset, const char *policy,
                              int *added)
{
    char detail[3 * VFY_STORE_NAME_MAX + 64];
    char obj[VFY_STORE_NAME_MAX + 16];
    int add = 0;
    vfy_rc rc;

    if (added != NULL)
        *added = 0;
    if (st == NULL || name == NULL || ak == NULL || ak_len > INT32_MAX)
        return VFY_E_INVALID_ARG;
    if ((rc = st_writable(st)) != VFY_OK || (rc = st_tx_begin(st)) != VFY_OK)
        return rc;
    rc = st_attester_put(st, name, ak, ak_len, scheme, refset, policy, 0, 1, &add);
    if (rc == VFY_OK && add) {
        snprintf(obj, sizeof(obj), "attester %s", name);
        snprintf(detail, sizeof(detail), "refset=%s policy=%s",
                 refset != NULL && refset[0] != '\0' ? refset : DEFAULT_REFSET,
                 policy != NULL && policy[0] != '\0' ? policy : "(default)");
        rc = st_audit(st, "attester.add", obj, detail);
    }
    rc = st_tx_end(st, rc);
    if (rc == VFY_OK && added != NULL)
        *added = add;
    return rc;
}

vfy_rc vfy_store_attester_revoke(vfy_store *st, const char *name)
{
    return vfy_store_attester_revoke_counted(st, name, NULL);
}

vfy_rc vfy_store_attester_revoke_counted(vfy_store *st, const char *name, size_t *revoked)
{
    char obj[VFY_STORE_NAME_MAX + 16];
    sqlite3_stmt *s;
    vfy_rc rc;
    int src, active = 0;

    if (revoked != NULL)
        *revoked = 0;
    if (st == NULL || name == NULL)
        return VFY_E_INVALID_ARG;
    if ((rc = st_writable(st)) != VFY_OK || (rc = st_tx_begin(st)) != VFY_OK)
        return rc;
    rc = st_stmt(st, SL_ATT_STATE, "SELECT state FROM attesters WHERE name = ?1", &s);
    if (rc == VFY_OK) {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        src = sqlite3_step(s);
        if (src == SQLITE_ROW)
            active = strcmp((const char *)sqlite3_column_text(s, 0), "active") == 0;
        else if (src == SQLITE_DONE)
            rc = st_err(st, VFY_E_NOT_FOUND, "attester %s not found", name);
        else
            rc = st_db(st, src, "attester");
        sqlite3_reset(s);
    }
    if (rc == VFY_OK && active) {
        rc = set_state(st, name, "revoked");
        snprintf(obj, sizeof(obj), "attester %s", name);
        if (rc == VFY_OK)
            rc = revoke_results(st, name, obj);
        if (rc == VFY_OK)
            rc = st_audit(st, "attester.revoke", obj, "");
    }
    rc = st_tx_end(st, rc);
    if (rc == VFY_OK && revoked != NULL)
        *revoked = (size_t)active;   /* 0: revoked already, nothing written */
    return rc;
}

vfy_rc vfy_store_attester_key_sharers(vfy_store *st, const char *name, size_t *count,
                                      char (*names)[VFY_STORE_NAME_MAX + 1], size_t max,
                                      size_t *listed)
{
    sqlite3_stmt *s;
    vfy_rc rc;
    size_t n = 0, k = 0;
    int src, found = 0;

    if (count != NULL)
        *count = 0;
    if (listed != NULL)
        *listed = 0;
    if (st == NULL || name == NULL || count == NULL || (names == NULL && max > 0))
        return VFY_E_INVALID_ARG;
    /* the attester itself first (found, even with no sharer), then the
     * others on its key, by name */
    rc = st_stmt(st, SL_ATT_SHARERS,
                 "SELECT b.name, b.id = a.id FROM attesters a JOIN attesters b"
                 " ON b.ak_fingerprint = a.ak_fingerprint"
                 " WHERE a.name = ?1 AND (b.id = a.id OR b.state = 'active')"
                 " ORDER BY b.id <> a.id, b.name", &s);
    if (rc != VFY_OK)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        if (sqlite3_column_int(s, 1)) {
            found = 1;
            continue;
        }
        if (k < max)
            snprintf(names[k++], VFY_STORE_NAME_MAX + 1, "%s",
                     (const char *)sqlite3_column_text(s, 0));
        n++;
    }
    if (src != SQLITE_DONE)
        rc = st_db(st, src, "attester key sharers");
    sqlite3_reset(s);
    if (rc == VFY_OK && !found)
        rc = st_err(st, VFY_E_NOT_FOUND, "attester %s not found", name);
    if (rc == VFY_OK) {
        *count = n;
        if (listed != NULL)
            *listed = k;
    }
    return rc;
}

vfy_rc vfy_store_attester_reset(vfy_store *st, const char *name, int *had_state)
{
    static const struct {
        enum st_slot slot;
        const char *sql;
    } del[] = {
        {SL_ATT_RESET_CLOCK, "DELETE FROM clock_state WHERE attester_id = ?1"},
        {SL_ATT_RESET_LOG, "DELETE FROM agent_log_head WHERE attester_id = ?1"},   /* entries cascade */
    };
    char obj[VFY_STORE_NAME_MAX + 16];
    sqlite3_stmt *s;
    sqlite3_int64 id = 0;
    vfy_rc rc;
    int src, changed = 0;

    if (had_state != NULL)
        *had_state = 0;
    if (st == NULL || name == NULL)
        return VFY_E_INVALID_ARG;
    if ((rc = st_writable(st)) != VFY_OK || (rc = st_tx_begin(st)) != VFY_OK)
        return rc;
    rc = st_stmt(st, SL_ATT_ID, "SELECT id FROM attesters WHERE name = ?1", &s);
    if (rc == VFY_OK) {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        src = sqlite3_step(s);
        if (src == SQLITE_ROW)
            id = sqlite3_column_int64(s, 0);
        else if (src == SQLITE_DONE)
            rc = st_err(st, VFY_E_NOT_FOUND, "attester %s not found", name);
        else
            rc = st_db(st, src, "attester");
        sqlite3_reset(s);
    }
    for (size_t i = 0; rc == VFY_OK && i < sizeof(del) / sizeof(del[0]); i++) {
        if ((rc = st_stmt(st, del[i].slot, del[i].sql, &s)) != VFY_OK)
            break;
        sqlite3_bind_int64(s, 1, id);
        if ((rc = st_exec_stmt(st, s, "attester state")) == VFY_OK)
            changed += sqlite3_changes(st->db);
    }
    if (rc == VFY_OK) {
        snprintf(obj, sizeof(obj), "attester %s", name);
        rc = st_audit(st, "attester.reset", obj,
                      changed > 0 ? "TPM clock and agent-log state cleared" : "no state to clear");
    }
    rc = st_tx_end(st, rc);
    if (rc == VFY_OK && had_state != NULL)
        *had_state = changed > 0;
    return rc;
}

void vfy_store_attester_clear(vfy_store_attester *a)
{
    if (a == NULL)
        return;
    vfy_ak_free(&a->ak);
    memset(a, 0, sizeof(*a));
}

vfy_rc vfy_store_attester_get(vfy_store *st, const char *name, vfy_store_attester *out)
{
    sqlite3_stmt *s;
    vfy_rc rc;
    int src;

    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (st == NULL || name == NULL || out == NULL)
        return VFY_E_INVALID_ARG;
    rc = st_stmt(st, SL_ATT_GET,
                 "SELECT id, ak_pem, scheme, refset, coalesce(policy_id, ''), state"
                 " FROM attesters WHERE name = ?1", &s);
    if (rc != VFY_OK)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        const char *pem = (const char *)sqlite3_column_text(s, 1);
        size_t pem_len = (size_t)sqlite3_column_bytes(s, 1);
        const char *sch = (const char *)sqlite3_column_text(s, 2);

        out->id = sqlite3_column_int64(s, 0);
        out->revoked = strcmp((const char *)sqlite3_column_text(s, 5), "revoked") == 0;
        rc = vfy_sig_scheme_parse(&out->scheme, sch);
        if (rc == VFY_OK)
            rc = vfy_ak_from_pem(&out->ak, pem, pem_len, &out->scheme);
        if (rc == VFY_OK)
            rc = st_col_text(s, 3, out->refset, sizeof(out->refset));
        if (rc == VFY_OK)
            rc = st_col_text(s, 4, out->policy, sizeof(out->policy));
        if (rc != VFY_OK)
            st_err(st, rc, "attester %s: stored key does not load", name);
    } else if (src == SQLITE_DONE) {
        rc = st_err(st, VFY_E_NOT_FOUND, "attester %s not found", name);
    } else {
        rc = st_db(st, src, "attester");
    }
    sqlite3_reset(s);
    if (rc != VFY_OK)
        vfy_store_attester_clear(out);
    return rc;
}
