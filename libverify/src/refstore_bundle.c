/*
 * refstore_bundle.c — export and import of reference values as one JSON
 * bundle (schemas/refvalues.schema.json, docs/reference-values.md).
 *
 *   {"format":"verifierd-refvalues","version":1,
 *    "policies":  [{"id","version","policy":{...}}],
 *    "attesters": [{"name","ak_pem","ak_public"?,"scheme","refset","policy"?,"state"}],
 *    "pcrs":      [{"set","bank","index","digest","state"}],
 *    "components":[{"kind","name","version","digest","state","note"}]}
 *
 * Export is deterministic: every array is sorted by its unique key (byte
 * order), keys are written in the order above, timestamps are not
 * exported (history lives in the audit log). Tokens, results and verifier
 * state are never exported. Import is strict (unknown or repeated keys,
 * wrong types: VFY_E_BUNDLE) and runs in one transaction with one audit
 * row, so export -> import into an empty store -> export is byte-identical.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "refstore_int.h"

#define BUNDLE_FORMAT "verifierd-refvalues"
#define BUNDLE_VERSION 1

/* ---------------------------------------------------------------- */
/* Export                                                             */

static int add_str(cJSON *o, const char *k, const char *v)
{
    return cJSON_AddStringToObject(o, k, v != NULL ? v : "") != NULL;
}

static const char *col(sqlite3_stmt *s, int c)
{
    const char *t = (const char *)sqlite3_column_text(s, c);

    return t != NULL ? t : "";
}

static vfy_rc export_rows(vfy_store *st, cJSON *arr, const char *sql,
                          vfy_rc (*row)(vfy_store *, sqlite3_stmt *, cJSON *))
{
    sqlite3_stmt *s = NULL;
    vfy_rc rc = VFY_OK;
    int src = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);

    if (src != SQLITE_OK)
        return st_db(st, src, "prepare");
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();

        if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            rc = VFY_E_NOMEM;
            break;
        }
        if ((rc = row(st, s, o)) != VFY_OK)
            break;
    }
    if (rc == VFY_OK && src != SQLITE_DONE)
        rc = st_db(st, src, "export");
    sqlite3_finalize(s);
    return rc;
}

static vfy_rc row_policy(vfy_store *st, sqlite3_stmt *s, cJSON *o)
{
    cJSON *p = cJSON_Parse(col(s, 2));

    if (p == NULL)
        return st_err(st, VFY_E_INTERNAL, "stored policy %s is not JSON", col(s, 0));
    if (!add_str(o, "id", col(s, 0)) ||
        cJSON_AddNumberToObject(o, "version", (double)sqlite3_column_int64(s, 1)) == NULL ||
        !cJSON_AddItemToObject(o, "policy", p)) {
        cJSON_Delete(p);
        return VFY_E_NOMEM;
    }
    return VFY_OK;
}

static vfy_rc row_attester(vfy_store *st, sqlite3_stmt *s, cJSON *o)
{
    if (!add_str(o, "name", col(s, 0)) || !add_str(o, "ak_pem", col(s, 1)))
        return VFY_E_NOMEM;
    if (sqlite3_column_type(s, 2) == SQLITE_BLOB) {
        size_t n = (size_t)sqlite3_column_bytes(s, 2);
        char *b = malloc(VFY_B64URL_LEN(n) + 1);
        vfy_rc rc;

        if (b == NULL)
            return VFY_E_NOMEM;
        rc = vfy_b64url_encode(b, VFY_B64URL_LEN(n) + 1, sqlite3_column_blob(s, 2), n);
        if (rc == VFY_OK && !add_str(o, "ak_public", b))
            rc = VFY_E_NOMEM;
        free(b);
        if (rc != VFY_OK)
            return rc;
    }
    if (!add_str(o, "scheme", col(s, 3)) || !add_str(o, "refset", col(s, 4)))
        return VFY_E_NOMEM;
    if (sqlite3_column_type(s, 5) != SQLITE_NULL && !add_str(o, "policy", col(s, 5)))
        return VFY_E_NOMEM;
    if (!add_str(o, "state", col(s, 6)))
        return VFY_E_NOMEM;
    return VFY_OK;
}

static vfy_rc row_pcr(vfy_store *st, sqlite3_stmt *s, cJSON *o)
{
    if (!add_str(o, "set", col(s, 0)) || !add_str(o, "bank", col(s, 1)) ||
        cJSON_AddNumberToObject(o, "index", (double)sqlite3_column_int(s, 2)) == NULL ||
        !add_str(o, "digest", col(s, 3)) || !add_str(o, "state", col(s, 4)))
        return VFY_E_NOMEM;
    return VFY_OK;
}

static vfy_rc row_component(vfy_store *st, sqlite3_stmt *s, cJSON *o)
{
    if (!add_str(o, "kind", col(s, 0)) || !add_str(o, "name", col(s, 1)) ||
        !add_str(o, "version", col(s, 2)) || !add_str(o, "digest", col(s, 3)) ||
        !add_str(o, "state", col(s, 4)) || !add_str(o, "note", col(s, 5)))
        return VFY_E_NOMEM;
    return VFY_OK;
}

vfy_rc vfy_store_export(vfy_store *st, char **json)
{
    cJSON *doc = NULL, *a;
    vfy_rc rc = VFY_OK;
    int tx = 0;

    if (json != NULL)
        *json = NULL;
    if (st == NULL || json == NULL)
        return VFY_E_INVALID_ARG;
    /* One read transaction: a consistent snapshot even while others write. */
    if (st->depth == 0) {
        if ((rc = st_exec(st, "BEGIN")) != VFY_OK)
            return rc;
        tx = 1;
    }
    doc = cJSON_CreateObject();
    if (doc == NULL || !add_str(doc, "format", BUNDLE_FORMAT) ||
        cJSON_AddNumberToObject(doc, "version", BUNDLE_VERSION) == NULL) {
        rc = VFY_E_NOMEM;
        goto out;
    }
    if ((a = cJSON_AddArrayToObject(doc, "policies")) == NULL ||
        (rc = export_rows(st, a, "SELECT id, version, json FROM policies ORDER BY id, version",
                          row_policy)) != VFY_OK)
        goto nomem_or_rc;
    if ((a = cJSON_AddArrayToObject(doc, "attesters")) == NULL ||
        (rc = export_rows(st, a,
                          "SELECT name, ak_pem, ak_tpm2b, scheme, refset, policy_id, state"
                          " FROM attesters ORDER BY name", row_attester)) != VFY_OK)
        goto nomem_or_rc;
    if ((a = cJSON_AddArrayToObject(doc, "pcrs")) == NULL ||
        (rc = export_rows(st, a,
                          "SELECT refset, bank, pcr, digest, state FROM pcr_values"
                          " ORDER BY refset, bank, pcr, digest", row_pcr)) != VFY_OK)
        goto nomem_or_rc;
    if ((a = cJSON_AddArrayToObject(doc, "components")) == NULL ||
        (rc = export_rows(st, a,
                          "SELECT kind, name, version, digest, state, note FROM components"
                          " ORDER BY kind, name, version, digest", row_component)) != VFY_OK)
        goto nomem_or_rc;
    *json = cJSON_Print(doc);
    if (*json == NULL)
        rc = VFY_E_NOMEM;
    goto out;
nomem_or_rc:
    if (rc == VFY_OK)
        rc = VFY_E_NOMEM;
out:
    if (tx)
        (void)st_exec(st, "COMMIT");
    cJSON_Delete(doc);
    return rc;
}

vfy_rc vfy_store_export_max(vfy_store *st, size_t max, char **json, size_t *len)
{
    size_t n;
    vfy_rc rc;

    if (len != NULL)
        *len = 0;
    if (json != NULL)
        *json = NULL;
    if (st == NULL || json == NULL)
        return VFY_E_INVALID_ARG;
    if ((rc = vfy_store_export(st, json)) != VFY_OK)
        return rc;
    /* Only the printed bundle knows its size; it is dropped when too big
     * (an export import refuses is no copy of the store). */
    n = strlen(*json);
    if (len != NULL)
        *len = n;
    if (n > max) {
        vfy_free(*json);
        *json = NULL;
        return st_err(st, VFY_E_TOO_LARGE, "the bundle is %zu bytes, more than %zu", n, max);
    }
    return VFY_OK;
}

/* ---------------------------------------------------------------- */
/* Import                                                             */

/* Every key of @o is in @allowed (NULL-terminated) and appears once. */
static int keys_ok(const cJSON *o, const char *const *allowed)
{
    for (const cJSON *c = o->child; c != NULL; c = c->next) {
        int known = 0;

        if (c->string == NULL)
            return 0;
        for (size_t i = 0; allowed[i] != NULL; i++)
            known |= strcmp(c->string, allowed[i]) == 0;
        if (!known)
            return 0;
        for (const cJSON *d = c->next; d != NULL; d = d->next)
            if (d->string != NULL && strcmp(c->string, d->string) == 0)
                return 0;
    }
    return 1;
}

/* A string member, or NULL (missing, or not a string when @required is 0). */
static const char *get_str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int get_uint(const cJSON *o, const char *k, unsigned max, unsigned *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > (double)max ||
        v->valuedouble != (double)(unsigned)v->valuedouble)
        return 0;
    *out = (unsigned)v->valuedouble;
    return 1;
}

/* "approved"/"active" -> 0, "revoked" -> 1, else -1. */
static int parse_state(const char *s, const char *ok)
{
    if (s == NULL)
        return -1;
    if (strcmp(s, ok) == 0)
        return 0;
    if (strcmp(s, "revoked") == 0)
        return 1;
    return -1;
}

static vfy_rc bad(vfy_store *st, const char *where, size_t i, const char *why)
{
    return st_err(st, VFY_E_BUNDLE, "bundle %s[%zu]: %s", where, i, why);
}

/* A store error met while importing entry @i of @where, located: the
 * store's message gets the entry's place in front of it (unless it has
 * one), so an import of thousands of entries says which one failed. */
static vfy_rc located(vfy_store *st, vfy_rc rc, const char *where, size_t i)
{
    char msg[sizeof(st->err)];

    if (rc == VFY_OK || strncmp(st->err, "bundle ", 7) == 0)
        return rc;
    snprintf(msg, sizeof(msg), "%s", st->err[0] != '\0' ? st->err : vfy_strerror(rc));
    return st_err(st, rc, "bundle %s[%zu]: %s", where, i, msg);
}

static vfy_rc import_policies(vfy_store *st, const cJSON *arr, vfy_store_import_stats *stats)
{
    static const char *const keys[] = {"id", "version", "policy", NULL};
    size_t i = 0;
    const cJSON *it;

    cJSON_ArrayForEach(it, arr) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(it, "policy");
        const char *id = get_str(it, "id");
        char *text, pid[VFY_STORE_NAME_MAX + 1];
        unsigned ver, pver;
        int added = 0;
        vfy_rc rc;

        if (!cJSON_IsObject(it) || !keys_ok(it, keys) || id == NULL ||
            !get_uint(it, "version", 2147483647u, &ver) || !cJSON_IsObject(p))
            return bad(st, "policies", i, "needs string id, integer version, object policy");
        text = cJSON_PrintUnformatted(p);
        if (text == NULL)
            return VFY_E_NOMEM;
        rc = st_policy_put(st, text, strlen(text), pid, &pver, &added);
        cJSON_free(text);
        if (rc != VFY_OK)
            return located(st, rc, "policies", i);
        if (strcmp(pid, id) != 0 || pver != ver)
            return bad(st, "policies", i, "id or version differs from the policy's own");
        if (added) {   /* each item an import adds is audited, as an add is */
            char obj[VFY_STORE_NAME_MAX + 24];

            snprintf(obj, sizeof(obj), "policy %s@%u", pid, pver);
            if ((rc = st_audit(st, "policy.load", obj, "by import")) != VFY_OK)
                return rc;
        }
        stats->policies += (size_t)added;
        i++;
    }
    return VFY_OK;
}

/* An entry's ak_public (@bin) and ak_pem must be the same key: the first is
 * what is stored, the second what a reader of the bundle sees. */
static vfy_rc same_key(vfy_store *st, size_t i, const uint8_t *bin, size_t blen, const char *pem)
{
    vfy_ak *a = NULL, *b = NULL;
    uint8_t fa[32], fb[32];
    vfy_rc rc = VFY_OK;

    if (vfy_ak_load(&a, bin, blen, NULL) != VFY_OK)
        rc = bad(st, "attesters", i, "ak_public is not a supported TPM2B_PUBLIC");
    else if (vfy_ak_load(&b, (const uint8_t *)pem, strlen(pem), NULL) != VFY_OK)
        rc = bad(st, "attesters", i, "ak_pem is not a supported public key");
    else if (vfy_ak_fingerprint(a, fa) != VFY_OK || vfy_ak_fingerprint(b, fb) != VFY_OK)
        rc = VFY_E_INTERNAL;
    else if (memcmp(fa, fb, sizeof(fa)) != 0)
        rc = bad(st, "attesters", i, "ak_pem and ak_public are different keys");
    vfy_ak_free(&a);
    vfy_ak_free(&b);
    return rc;
}

/* One attester entry, @i in the bundle. */
static vfy_rc import_attester(vfy_store *st, const cJSON *it, size_t i,
                              vfy_store_import_stats *stats)
{
    static const char *const keys[] = {"name", "ak_pem", "ak_public", "scheme", "refset",
                                       "policy", "state", NULL};
    const char *name = get_str(it, "name"), *pem = get_str(it, "ak_pem");
    const char *pub = get_str(it, "ak_public"), *scheme = get_str(it, "scheme");
    const char *refset = get_str(it, "refset"), *policy = get_str(it, "policy");
    int revoked = parse_state(get_str(it, "state"), "active");
    uint8_t *bin = NULL;
    size_t blen = 0;
    int added = 0;
    vfy_rc rc;

    if (!cJSON_IsObject(it) || !keys_ok(it, keys) || name == NULL || pem == NULL ||
        scheme == NULL || refset == NULL || revoked < 0 ||
        (cJSON_HasObjectItem(it, "ak_public") && pub == NULL) ||
        (cJSON_HasObjectItem(it, "policy") && policy == NULL))
        return bad(st, "attesters", i, "needs name, ak_pem, scheme, refset, state "
                                       "(active|revoked) as strings");
    if (refset[0] == '\0' || (policy != NULL && policy[0] == '\0'))
        return bad(st, "attesters", i, "refset and policy may not be empty (leave policy out "
                                       "for the verifier's default)");
    if (pub != NULL) {
        size_t cap = VFY_B64URL_DECODED_MAX(strlen(pub)) + 1;

        bin = malloc(cap);
        if (bin == NULL)
            return VFY_E_NOMEM;
        if (vfy_b64url_decode(bin, cap, &blen, pub, strlen(pub)) != VFY_OK) {
            free(bin);
            return bad(st, "attesters", i, "ak_public is not base64url");
        }
    }
    if (bin != NULL && (rc = same_key(st, i, bin, blen, pem)) != VFY_OK) {
        free(bin);
        return rc;
    }
    /* A new active attester may not take the key of an attester revoked
     * before this import (as an add may not); import_attesters stores a
     * bundle's active entries before its revoked ones, so a key shared
     * before its revocation (an export of such a store) imports again. */
    if (bin != NULL)
        rc = st_attester_put(st, name, bin, blen, scheme, refset, policy, revoked, !revoked,
                             &added);
    else
        rc = st_attester_put(st, name, (const uint8_t *)pem, strlen(pem), scheme, refset,
                             policy, revoked, !revoked, &added);
    free(bin);
    if (rc == VFY_E_CONFLICT) {
        char why[sizeof(st->err)];

        snprintf(why, sizeof(why), "%s", vfy_store_errmsg(st));
        return st_err(st, rc, "bundle attesters[%zu]: %s", i, why);
    }
    if (rc == VFY_OK && added != 0) {   /* added, or revoked, by this import: audited */
        char obj[VFY_STORE_NAME_MAX + 16];
        char detail[2 * VFY_STORE_NAME_MAX + 64];

        snprintf(obj, sizeof(obj), "attester %s", name);
        snprintf(detail, sizeof(detail), "refset=%s policy=%s%s (by import)", refset,
                 policy != NULL && policy[0] != '\0' ? policy : "(default)",
                 revoked ? ", revoked" : "");
        rc = st_audit(st, added == 2 ? "attester.revoke" : "attester.add", obj,
                      added == 2 ? "by import" : detail);
    }
    if (rc != VFY_OK)
        return rc;
    stats->attesters += (size_t)(added == 1);
    stats->revoked += (size_t)(added == 2);
    return VFY_OK;
}

/* The active entries first, then the revoked ones (see import_attester). */
static vfy_rc import_attesters(vfy_store *st, const cJSON *arr, vfy_store_import_stats *stats)
{
    for (int pass = 0; pass < 2; pass++) {
        size_t i = 0;
        const cJSON *it;

        cJSON_ArrayForEach(it, arr) {
            /* anything not a revoked entry in the first pass: its errors
             * are reported in bundle order */
            int revoked = parse_state(get_str(it, "state"), "active") == 1;
            vfy_rc rc;

            if (revoked == pass && (rc = import_attester(st, it, i, stats)) != VFY_OK)
                return located(st, rc, "attesters", i);
            i++;
        }
    }
    return VFY_OK;
}

static vfy_rc import_pcrs(vfy_store *st, const cJSON *arr, vfy_store_import_stats *stats)
{
    static const char *const keys[] = {"set", "bank", "index", "digest", "state", NULL};
    size_t i = 0;
    const cJSON *it;

    cJSON_ArrayForEach(it, arr) {
        const char *set = get_str(it, "set"), *bank = get_str(it, "bank");
        const char *hex = get_str(it, "digest");
        int revoked = parse_state(get_str(it, "state"), "approved");
        uint8_t d[VFY_MAX_DIGEST];
        size_t dlen = 0, nres = 0;
        vfy_hash_alg alg;
        unsigned index;
        int added = 0, changed = 0;
        vfy_rc rc;

        if (!cJSON_IsObject(it) || !keys_ok(it, keys) || set == NULL || bank == NULL ||
            hex == NULL || revoked < 0 || !get_uint(it, "index", 1000, &index))
            return bad(st, "pcrs", i, "needs set, bank, integer index, digest, state");
        if (vfy_hash_from_name(&alg, bank) != VFY_OK ||
            (alg != VFY_HASH_SHA256 && alg != VFY_HASH_SHA384))
            return bad(st, "pcrs", i, "bank must be sha256 or sha384");
        for (const char *p = hex; *p != '\0'; p++)
            if (*p >= 'A' && *p <= 'F')
                return bad(st, "pcrs", i, "digest must be lowercase hex");
        if (vfy_hex_decode(d, sizeof(d), &dlen, hex, strlen(hex)) != VFY_OK)
            return bad(st, "pcrs", i, "digest is not hex");
        if (revoked) {
            rc = st_pcr_revoke_row(st, set, alg, index, d, dlen, &changed, &nres);
            if (rc == VFY_E_NOT_FOUND) {
                rc = st_pcr_put(st, set, alg, index, d, dlen, &added);
                if (rc == VFY_OK)
                    rc = st_pcr_revoke_row(st, set, alg, index, d, dlen, &changed, &nres);
            }
        } else {
            rc = st_pcr_put(st, set, alg, index, d, dlen, &added);
        }
        if (rc == VFY_OK && added) {   /* a new row: audited, as an add is */
            char obj[VFY_STORE_NAME_MAX + 48], hx[2 * VFY_MAX_DIGEST + 32];

            snprintf(obj, sizeof(obj), "pcr %s %s:%u", set, vfy_hash_name(alg), index);
            st_hex(hx, d, dlen);
            snprintf(hx + strlen(hx), sizeof(hx) - strlen(hx), "%s (by import)",
                     revoked ? ", revoked" : "");
            rc = st_audit(st, "pcr.add", obj, hx);
        }
        if (rc == VFY_OK && changed && !added) {   /* revoked by this import */
            char obj[VFY_STORE_NAME_MAX + 48], hx[2 * VFY_MAX_DIGEST + 16];

            snprintf(obj, sizeof(obj), "pcr %s %s:%u", set, vfy_hash_name(alg), index);
            st_hex(hx, d, dlen);
            snprintf(hx + strlen(hx), sizeof(hx) - strlen(hx), " (by import)");
            rc = st_audit(st, "pcr.revoke", obj, hx);
        }
        if (rc != VFY_OK)
            return located(st, rc, "pcrs", i);
        stats->pcrs += (size_t)added;
        stats->revoked += (size_t)(changed && !added);
        i++;
    }
    return VFY_OK;
}

/* 1 if a row of @kind with digest @dstr other than (@name, @version) is
 * revoked: what made an import store an approved entry revoked. */
static vfy_rc revoked_twin(vfy_store *st, const char *kind, const char *name, const char *version,
                           const char *dstr, int *twin)
{
    sqlite3_stmt *s = NULL;
    int src = sqlite3_prepare_v2(st->db,
                                 "SELECT 1 FROM components WHERE kind = ?1 AND digest = ?2 AND"
                                 " state = 'revoked' AND NOT (name = ?3 AND version = ?4) LIMIT 1",
                                 -1, &s, NULL);

    *twin = 0;
    if (src != SQLITE_OK)
        return st_db(st, src, "component");
    sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, dstr, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, version, -1, SQLITE_STATIC);
    src = sqlite3_step(s);
    *twin = src == SQLITE_ROW;
    sqlite3_finalize(s);
    return src == SQLITE_ROW || src == SQLITE_DONE ? VFY_OK : st_db(st, src, "component");
}

static vfy_rc import_components(vfy_store *st, const cJSON *arr, vfy_store_import_stats *stats)
{
    static const char *const keys[] = {"kind", "name", "version", "digest", "state", "note",
                                       NULL};
    size_t i = 0;
    const cJSON *it;

    cJSON_ArrayForEach(it, arr) {
        const char *kind = get_str(it, "kind"), *name = get_str(it, "name");
        const char *version = get_str(it, "version"), *dstr = get_str(it, "digest");
        const char *note = get_str(it, "note");
        int revoked = parse_state(get_str(it, "state"), "approved");
        vfy_component_kind k;
        uint8_t d[32];
        size_t nrev = 0, nres = 0;
        int added = 0, twin = 0;
        char as[VFY_STORE_NAME_MAX + VFY_STORE_VERSION_MAX + 2];   /* the revoked twin */
        vfy_rc rc;

        if (!cJSON_IsObject(it) || !keys_ok(it, keys) || kind == NULL || name == NULL ||
            dstr == NULL || revoked < 0 ||
            (cJSON_HasObjectItem(it, "version") && version == NULL) ||
            (cJSON_HasObjectItem(it, "note") && note == NULL))
            return bad(st, "components", i, "needs kind, name, digest, state as strings");
        if (vfy_component_kind_parse(&k, kind) != VFY_OK)
            return st_err(st, VFY_E_BAD_KIND, "bundle components[%zu]: unknown kind %s", i, kind);
        if (vfy_sha256_parse(d, dstr, strlen(dstr)) != VFY_OK)
            return st_err(st, VFY_E_BAD_DIGEST, "bundle components[%zu]: bad digest", i);
        if (version == NULL)
            version = "";
        {
            int exists, was_revoked, same_note, other;

            rc = st_component_row(st, kind, name, version, dstr, note, &exists, &was_revoked,
                                  &same_note);
            if (rc == VFY_OK && exists && !same_note)
                return st_err(st, VFY_E_CONFLICT, "bundle components[%zu]: %s %s %s exists "
                              "with a different note", i, kind, name, dstr);
            /* Stored revoked by an earlier import of this entry because its
             * digest is revoked as another row: the same again, no change
             * (a second import of one bundle used to fail here). */
            if (rc == VFY_OK && exists && was_revoked && !revoked &&
                (rc = revoked_twin(st, kind, name, version, dstr, &other)) == VFY_OK && other) {
                i++;
                continue;
            }
            if (rc != VFY_OK)
                return located(st, rc, "components", i);
        }
        if (revoked) {
            rc = st_component_revoke_rows(st, k, name, version, d, &nrev, &nres);
            if (rc == VFY_E_NOT_FOUND) {
                rc = st_component_put(st, k, name, version, d, note, 1, &added);
                if (rc == VFY_OK)
                    rc = st_component_revoke_rows(st, k, name, version, d, &nrev, &nres);
            }
        } else {
            /* Stored as given; then, if its digest is revoked as another row
             * of its kind (stored, or earlier in this bundle), revoked with
             * it: appraisal treats the digest as revoked, and the listing
             * and the next export must say so. */
            rc = st_component_put(st, k, name, version, d, note, 1, &added);
            if (rc == VFY_OK)
                rc = st_component_revoked_as(st, k, d, &twin, as, sizeof(as));
            if (rc == VFY_OK && twin)
                rc = st_component_revoke_rows(st, k, name, version, d, &nrev, &nres);
        }
        if (rc == VFY_OK && added) {   /* a new row: audited, as an add is */
            char obj[VFY_STORE_NAME_MAX + VFY_STORE_VERSION_MAX + 32];
            char detail[VFY_SHA256_STR_LEN + 40];

            snprintf(obj, sizeof(obj), "%s %s%s%s", kind, name, version[0] != '\0' ? " " : "",
                     version);
            snprintf(detail, sizeof(detail), "%s%s (by import)", dstr,
                     revoked || twin ? ", revoked" : "");
            rc = st_audit(st, "component.add", obj, detail);
        }
        /* New, approved in the bundle and stored revoked (its digest is
         * revoked as another row): said so after its add row, in the order
         * it happened to the row; counted as revoked. */
        if (rc == VFY_OK && !revoked && twin && added) {
            char obj[VFY_STORE_NAME_MAX + VFY_STORE_VERSION_MAX + 32];
            char detail[VFY_SHA256_STR_LEN + sizeof(as) + 80];

            snprintf(obj, sizeof(obj), "%s %s", kind, name);
            snprintf(detail, sizeof(detail), "%s; approved in the bundle, stored revoked: "
                     "the digest is revoked as %s %s (by import)", dstr, kind, as);
            rc = st_audit(st, "component.revoke", obj, detail);
            stats->revoked++;
        }
        /* Stored rows this import revoked: the entry's own if it was stored,
         * and any other row of its kind and digest (a new revoked entry
         * revokes those too: st_component_revoke_rows). */
        size_t stored = nrev - (added && nrev > 0 ? 1 : 0);

        if (rc == VFY_OK && stored > 0) {   /* revoked by this import */
            char obj[VFY_STORE_NAME_MAX + VFY_STORE_VERSION_MAX + 32];
            char detail[VFY_SHA256_STR_LEN + 80];

            snprintf(obj, sizeof(obj), "%s %s", kind, name);
            snprintf(detail, sizeof(detail), "%s; %zu stored rows, %zu results revoked (by import)",
                     dstr, stored, nres);
            rc = st_audit(st, "component.revoke", obj, detail);
        }
        if (rc != VFY_OK)
            return located(st, rc, "components", i);
        stats->components += (size_t)added;
        stats->revoked += stored;
        i++;
    }
    return VFY_OK;
}

/* ---- duplicate entries ----
 * Two entries of one part with the same unique key (an attester's name; a
 * PCR value's set, bank, index and digest; a component's kind, name,
 * version and digest; a policy's id and version) are refused before
 * anything is stored: otherwise the outcome depended on their order (an
 * approved and a revoked copy of one PCR value imported one way round and
 * failed the other) and a second copy's content was silently dropped. */

struct dup_key {
    char *key;
    size_t i;
};

static int dup_cmp(const void *a, const void *b)
{
    const struct dup_key *x = a, *y = b;
    int c = strcmp(x->key, y->key);

    return c != 0 ? c : (x->i > y->i) - (x->i < y->i);
}

/* The unique key of entry @it of part @part as one string (fields joined by
 * '\n', which no valid field holds), or NULL if the entry lacks a field:
 * its own check reports that. */
static char *dup_key_of(const char *part, const cJSON *it)
{
    static const char *const fields[][5] = {
        {"id", "version", NULL},
        {"name", NULL},
        {"set", "bank", "index", "digest", NULL},
        {"kind", "name", "version", "digest", NULL},
    };
    static const char *const parts[] = {"policies", "attesters", "pcrs", "components"};
    char buf[1024];
    size_t used = 0, p = 0;

    while (p < 4 && strcmp(parts[p], part) != 0)
        p++;
    if (p == 4 || !cJSON_IsObject(it))
        return NULL;
    for (size_t f = 0; fields[p][f] != NULL; f++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(it, fields[p][f]);
        int n;

        if (cJSON_IsString(v))
            n = snprintf(buf + used, sizeof(buf) - used, "%s\n", v->valuestring);
        else if (cJSON_IsNumber(v))
            n = snprintf(buf + used, sizeof(buf) - used, "%.0f\n", v->valuedouble);
        else if (v == NULL && p == 3 && strcmp(fields[p][f], "version") == 0)
            n = snprintf(buf + used, sizeof(buf) - used, "\n");   /* no version: "" */
        else
            return NULL;
        if (n < 0 || (size_t)n >= sizeof(buf) - used)
            return NULL;   /* over every field's limit: refused by its check */
        used += (size_t)n;
    }
    return strdup(buf);
}

static vfy_rc refuse_duplicates(vfy_store *st, const char *part, const cJSON *arr)
{
    size_t n = (size_t)cJSON_GetArraySize(arr), k = 0, i = 0;
    struct dup_key *keys;
    const cJSON *it;
    vfy_rc rc = VFY_OK;

    if (n < 2)
        return VFY_OK;
    if ((keys = calloc(n, sizeof(*keys))) == NULL)
        return VFY_E_NOMEM;
    cJSON_ArrayForEach(it, arr) {
        if ((keys[k].key = dup_key_of(part, it)) != NULL)
            keys[k++].i = i;
        i++;
    }
    qsort(keys, k, sizeof(*keys), dup_cmp);
    for (size_t j = 1; j < k && rc == VFY_OK; j++)
        if (strcmp(keys[j - 1].key, keys[j].key) == 0)
            rc = st_err(st, VFY_E_BUNDLE, "bundle %s[%zu] and %s[%zu] are the same entry "
                        "(each may appear once)", part, keys[j - 1].i, part, keys[j].i);
    for (size_t j = 0; j < k; j++)
        free(keys[j].key);
    free(keys);
    return rc;
}

static vfy_rc import_bundle(vfy_store *st, const char *json, size_t len,
                            vfy_store_import_stats *stats_out);

/* A bundle carries names as a store exported them: one made before 0.2.7
 * may hold names the add calls refuse now (st_check_new_name), and a copy
 * of it must still import. */
vfy_rc vfy_store_import(vfy_store *st, const char *json, size_t len,
                        vfy_store_import_stats *stats_out)
{
    vfy_rc rc;

    if (st == NULL)
        return VFY_E_INVALID_ARG;
    st->importing = 1;
    rc = import_bundle(st, json, len, stats_out);
    st->importing = 0;
    return rc;
}

static vfy_rc import_bundle(vfy_store *st, const char *json, size_t len,
                            vfy_store_import_stats *stats_out)
{
    static const char *const keys[] = {"format", "version", "policies", "attesters", "pcrs",
                                       "components", NULL};
    static const char *const parts[] = {"policies", "attesters", "pcrs", "components"};
    vfy_store_import_stats stats = {0};
    const cJSON *arr[4];
    cJSON *doc = NULL;
    const char *fmt;
    unsigned ver;
    char detail[160];
    vfy_rc rc = VFY_OK;

    if (stats_out != NULL)
        memset(stats_out, 0, sizeof(*stats_out));
    if (st == NULL || json == NULL)
        return VFY_E_INVALID_ARG;
    st->err[0] = '\0';   /* located() must not take an earlier call's message */
    if (len > VFY_STORE_BUNDLE_MAX)
        return st_err(st, VFY_E_TOO_LARGE, "bundle larger than %zu bytes", VFY_STORE_BUNDLE_MAX);
    if ((rc = st_writable(st)) != VFY_OK)
        return rc;
    /* the library's strict parser: UTF-8, integers only, at most
     * VFY_JSON_MAX_DEPTH deep, only whitespace after the object */
    /* A real bundle spends ~10 bytes per JSON value; a cap of one value per
     * 4 bytes refuses a file of bare small values (a 4 MiB array of zeros
     * took 170 MB) before cJSON builds anything. */
    switch (vfy_json_parse_max(&doc, json, len, VFY_JSON_MAX_DEPTH, len / 4 + 4096)) {
    case VFY_JSON_OK:
        break;
    case VFY_JSON_TOO_MANY:
        rc = st_err(st, VFY_E_BUNDLE, "bundle has more JSON values than a bundle of its size "
                    "can (one per 4 bytes)");
        goto out;
    default:
        rc = st_err(st, VFY_E_BUNDLE, "bundle is not one JSON object");
        goto out;
    }
    if (!cJSON_IsObject(doc)) {
        rc = st_err(st, VFY_E_BUNDLE, "bundle is not one JSON object");
        goto out;
    }
    fmt = get_str(doc, "format");
    if (!keys_ok(doc, keys) || fmt == NULL || strcmp(fmt, BUNDLE_FORMAT) != 0 ||
        !get_uint(doc, "version", 1000, &ver) || ver != BUNDLE_VERSION) {
        rc = st_err(st, VFY_E_BUNDLE, "bundle needs \"format\":\"%s\" and \"version\":%d and "
                    "no other top-level keys than policies, attesters, pcrs, components",
                    BUNDLE_FORMAT, BUNDLE_VERSION);
        goto out;
    }
    for (size_t i = 0; i < 4; i++) {
        arr[i] = cJSON_GetObjectItemCaseSensitive(doc, parts[i]);
        if (arr[i] != NULL && !cJSON_IsArray(arr[i])) {
            rc = st_err(st, VFY_E_BUNDLE, "bundle %s is not an array", parts[i]);
            goto out;
        }
        if (arr[i] != NULL && (rc = refuse_duplicates(st, parts[i], arr[i])) != VFY_OK)
            goto out;
    }
    if ((rc = st_tx_begin(st)) != VFY_OK)
        goto out;
    if (arr[0] != NULL)
        rc = import_policies(st, arr[0], &stats);
    if (rc == VFY_OK && arr[1] != NULL)
        rc = import_attesters(st, arr[1], &stats);
    if (rc == VFY_OK && arr[2] != NULL)
        rc = import_pcrs(st, arr[2], &stats);
    if (rc == VFY_OK && arr[3] != NULL)
        rc = import_components(st, arr[3], &stats);
    if (rc == VFY_OK && (stats.policies | stats.attesters | stats.pcrs | stats.components |
                         stats.revoked) != 0) {
        snprintf(detail, sizeof(detail),
                 "added %zu policies, %zu attesters, %zu pcr values, %zu components; "
                 "%zu revoked", stats.policies, stats.attesters, stats.pcrs, stats.components,
                 stats.revoked);
        rc = st_audit(st, "bundle.import", "bundle", detail);
    }
    rc = st_tx_end(st, rc);
    if (rc == VFY_OK && stats_out != NULL)
        *stats_out = stats;
out:
    cJSON_Delete(doc);
    return rc;
}
