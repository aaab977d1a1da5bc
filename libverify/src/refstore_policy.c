/*
 * refstore_policy.c — appraisal policies in the store (DESIGN §6):
 * load (id, version, JSON) and fetch the latest version of an id.
 *
 * Policies are stored in compact form (cJSON_PrintUnformatted of the parsed
 * document, key order preserved). (id, version) is unique; re-loading one
 * that says the same (vfy_policy_same: other spacing or key order, defaults
 * spelled out or left out) is a no-op, one that says something else a
 * conflict. The highest version of an id is the one in force. default@1 is
 * the built-in default's label, so a stored default@1 must say what the
 * built-in says: results under either name it, and a relying party pinning
 * it could not tell a laxer stored one from the built-in.
 *
 * Validation: the full appraisal-policy parser (vfy_policy_parse_detail,
 * policy.c) must accept the document; its exact VFY_E_POLICY_* code is
 * returned otherwise, with its explanation in vfy_store_errmsg().
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refstore_int.h"

vfy_rc st_policy_put(vfy_store *st, const char *json, size_t len, char *id_out,
                     unsigned *version_out, int *added)
{
    cJSON *doc = NULL;
    vfy_policy *pol = NULL;
    char why[256] = "";
    char *compact = NULL;
    const char *id;
    unsigned version;
    sqlite3_stmt *s;
    vfy_rc rc;
    int src;

    if (added != NULL)
        *added = 0;
    if (len > VFY_STORE_POLICY_MAX)
        return st_err(st, VFY_E_TOO_LARGE, "policy larger than %d bytes", VFY_STORE_POLICY_MAX);
    rc = vfy_policy_parse_detail(&pol, json, len, why, sizeof(why));
    if (rc != VFY_OK) {
        rc = st_err(st, rc, "policy: %s", why[0] != '\0' ? why : vfy_strerror(rc));
        goto out;
    }
    id = vfy_policy_id(pol);
    version = vfy_policy_version(pol);
    doc = cJSON_ParseWithLength(json, len);
    if (doc == NULL) {
        rc = st_err(st, VFY_E_NOMEM, "policy: cannot re-parse");
        goto out;
    }
    compact = cJSON_PrintUnformatted(doc);
    if (compact == NULL) {
        rc = VFY_E_NOMEM;
        goto out;
    }
    {
        vfy_policy *builtin = NULL;
        int clash;

        if ((rc = vfy_policy_new_default(&builtin)) != VFY_OK)
            goto out;
        clash = strcmp(id, vfy_policy_id(builtin)) == 0 &&
                version == vfy_policy_version(builtin) && !vfy_policy_same(pol, builtin);
        vfy_policy_free(&builtin);
        if (clash) {
            rc = st_err(st, VFY_E_CONFLICT,
                        "policy default version 1 is the built-in default's label and must say "
                        "what it says (DESIGN section 6): give a different default version 2 "
                        "or more");
            goto out;
        }
    }

    rc = st_stmt(st, SL_POL_FIND, "SELECT json FROM policies WHERE id = ?1 AND version = ?2", &s);
    if (rc != VFY_OK)
        goto out;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, version);
    src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        const char *old = (const char *)sqlite3_column_text(s, 0);
        vfy_policy *was = NULL;
        int same = old != NULL &&
                   vfy_policy_parse_detail(&was, old, strlen(old), NULL, 0) == VFY_OK &&
                   vfy_policy_same(was, pol);

        vfy_policy_free(&was);
        sqlite3_reset(s);
        rc = same ? VFY_OK
                  : st_err(st, VFY_E_CONFLICT,
                           "policy %s version %u exists with different content", id, version);
        goto done;
    }
    sqlite3_reset(s);
    if (src != SQLITE_DONE) {
        rc = st_db(st, src, "policy");
        goto out;
    }
    rc = st_stmt(st, SL_POL_INSERT,
                 "INSERT INTO policies (id, version, json, created_at) VALUES (?1, ?2, ?3, ?4)", &s);
    if (rc != VFY_OK)
        goto out;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, version);
    sqlite3_bind_text(s, 3, compact, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, st_now(st));
    rc = st_exec_stmt(st, s, "insert policy");
    if (rc == VFY_OK && added != NULL)
        *added = 1;
done:
    if (rc == VFY_OK) {
        if (id_out != NULL)
            snprintf(id_out, VFY_STORE_NAME_MAX + 1, "%s", id);
        if (version_out != NULL)
            *version_out = version;
    }
out:
    cJSON_free(compact);
    cJSON_Delete(doc);
    vfy_policy_free(&pol);
    return rc;
}

vfy_rc vfy_store_policy_load(vfy_store *st, const char *json, size_t len, char *id_out,
                             unsigned *version_out, int *added)
{
    char id[VFY_STORE_NAME_MAX + 1];
    char obj[VFY_STORE_NAME_MAX + 24];
    unsigned version = 0;
    int add = 0;
    vfy_rc rc;

    if (added != NULL)
        *added = 0;
    if (st == NULL || json == NULL)
        return VFY_E_INVALID_ARG;
    if ((rc = st_writable(st)) != VFY_OK || (rc = st_tx_begin(st)) != VFY_OK)
        return rc;
    rc = st_policy_put(st, json, len, id, &version, &add);
    if (rc == VFY_OK && add) {
        snprintf(obj, sizeof(obj), "policy %s@%u", id, version);
        rc = st_audit(st, "policy.load", obj, "");
    }
    rc = st_tx_end(st, rc);
    if (rc == VFY_OK) {
        if (id_out != NULL)
            snprintf(id_out, VFY_STORE_NAME_MAX + 1, "%s", id);
        if (version_out != NULL)
            *version_out = version;
        if (added != NULL)
            *added = add;
    }
    return rc;
}

vfy_rc vfy_store_policy_get(vfy_store *st, const char *id, char **json, unsigned *version)
{
    sqlite3_stmt *s;
    vfy_rc rc;
    int src;

    if (json != NULL)
        *json = NULL;
    if (version != NULL)
        *version = 0;
    if (st == NULL || id == NULL || json == NULL)
        return VFY_E_INVALID_ARG;
    rc = st_stmt(st, SL_POL_LATEST,
                 "SELECT json, version FROM policies WHERE id = ?1 ORDER BY version DESC LIMIT 1",
                 &s);
    if (rc != VFY_OK)
        return rc;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(s, 0);
        size_t n = (size_t)sqlite3_column_bytes(s, 0);

        *json = malloc(n + 1);
        if (*json == NULL) {
            rc = VFY_E_NOMEM;
        } else {
            memcpy(*json, t != NULL ? t : "", t != NULL ? n : 0);
            (*json)[t != NULL ? n : 0] = '\0';
            if (version != NULL)
                *version = (unsigned)sqlite3_column_int64(s, 1);
        }
    } else if (src == SQLITE_DONE) {
        rc = st_err(st, VFY_E_NOT_FOUND, "policy %s not found", id);
    } else {
        rc = st_db(st, src, "policy");
    }
    sqlite3_reset(s);
    return rc;
}
