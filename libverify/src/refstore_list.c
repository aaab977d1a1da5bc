/*
 * refstore_list.c — listings of the store's tables as JSON arrays, for
 * operators (verifyctl list, verifierd admin API). Each row becomes an
 * object whose keys are the column names below; SQL integers become JSON
 * numbers (timestamps are Unix seconds), NULL becomes null. Token hashes
 * and AK key material are never listed. Also one audit row identified by
 * a digest of its fields (vfy_store_audit_row: verifierd's restore
 * interlock).
 */
#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "refstore_int.h"

static const struct listing {
    const char *what;
    const char *sql;
} listings[] = {
    {"attesters",
     "SELECT name, scheme, refset, policy_id AS policy, state, ak_fingerprint, created_at"
     " FROM attesters ORDER BY name"},
    {"pcrs",
     "SELECT refset AS \"set\", bank, pcr AS \"index\", digest, state, created_at, revoked_at"
     " FROM pcr_values ORDER BY refset, bank, pcr, digest"},
    {"components",
     "SELECT kind, name, version, digest, state, note, created_at, updated_at"
     " FROM components ORDER BY kind, name, version, digest"},
    {"policies",
     "SELECT id, version, created_at FROM policies ORDER BY id, version"},
    {"tokens",
     "SELECT name, role, CASE WHEN revoked = 1 THEN 'revoked'"
     " WHEN expires_at <= ?3 THEN 'expired'"
     " ELSE 'active' END AS state, created_at, expires_at FROM tokens ORDER BY name"},
    {"results",
     "SELECT id, attester, status, iat, exp, state, revoked_at, reason"
     " FROM results ORDER BY iat, id"},
    {"audit",
     "SELECT seq, at, actor, action, object, detail FROM audit_log ORDER BY seq"},
};

static cJSON *column_value(sqlite3_stmt *s, int col)
{
    switch (sqlite3_column_type(s, col)) {
    case SQLITE_INTEGER:
        return cJSON_CreateNumber((double)sqlite3_column_int64(s, col));
    case SQLITE_FLOAT:
        return cJSON_CreateNumber(sqlite3_column_double(s, col));
    case SQLITE_NULL:
        return cJSON_CreateNull();
    default:
        return cJSON_CreateString((const char *)sqlite3_column_text(s, col));
    }
}

/* Called with each row as an object (ownership passes); nonzero stops. */
typedef int (*row_fn)(void *ctx, cJSON *row);

/* Step the listing @what from @offset, at most @limit rows (0: all). */
static vfy_rc list_rows(vfy_store *st, const char *what, uint64_t offset, size_t limit,
                        int *more, row_fn fn, void *ctx)
{
    const struct listing *l = NULL;
    sqlite3_stmt *s = NULL;
    vfy_rc rc = VFY_OK;
    char sql[512];
    size_t rows = 0;
    int src;

    if (more != NULL)
        *more = 0;
    if (st == NULL || what == NULL || offset > INT64_MAX || limit > (size_t)INT32_MAX)
        return VFY_E_INVALID_ARG;
    for (size_t i = 0; i < sizeof(listings) / sizeof(listings[0]); i++)
        if (strcmp(what, listings[i].what) == 0)
            l = &listings[i];
    if (l == NULL)
        return st_err(st, VFY_E_BAD_KIND, "cannot list \"%s\"", what);
    /* one row more than the page: whether another page follows */
    snprintf(sql, sizeof(sql), "%s LIMIT ?1 OFFSET ?2", l->sql);
    src = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (src != SQLITE_OK)
        return st_db(st, src, "prepare");
    sqlite3_bind_int64(s, 1, limit > 0 ? (sqlite3_int64)limit + 1 : -1);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)offset);
    if (sqlite3_bind_parameter_count(s) >= 3)   /* "now", the store's clock */
        sqlite3_bind_int64(s, 3, st_now(st));
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        cJSON *obj;

        if (limit > 0 && rows == limit) {
            if (more != NULL)
                *more = 1;
            src = SQLITE_DONE;
            break;
        }
        rows++;
        if ((obj = cJSON_CreateObject()) == NULL) {
            rc = VFY_E_NOMEM;
            goto out;
        }
        for (int c = 0; c < sqlite3_column_count(s); c++) {
            cJSON *v = column_value(s, c);

            if (v == NULL || !cJSON_AddItemToObject(obj, sqlite3_column_name(s, c), v)) {
                cJSON_Delete(v);
                cJSON_Delete(obj);
                rc = VFY_E_NOMEM;
                goto out;
            }
        }
        if (fn(ctx, obj) != 0) {
            rc = st_err(st, VFY_E_IO, "listing %s stopped by its reader", what);
            goto out;
        }
    }
    if (src != SQLITE_DONE)
        rc = st_db(st, src, what);
out:
    sqlite3_finalize(s);
    return rc;
}

static int add_to_array(void *ctx, cJSON *row)
{
    if (!cJSON_AddItemToArray((cJSON *)ctx, row)) {
        cJSON_Delete(row);
        return -1;
    }
    return 0;
}

vfy_rc vfy_store_list_json(vfy_store *st, const char *what, char **json)
{
    return vfy_store_list_json_page(st, what, 0, 0, json, NULL);
}

vfy_rc vfy_store_list_json_page(vfy_store *st, const char *what, uint64_t offset, size_t limit,
                                char **json, int *more)
{
    cJSON *arr;
    vfy_rc rc;

    if (json != NULL)
        *json = NULL;
    if (more != NULL)
        *more = 0;
    if (json == NULL)
        return VFY_E_INVALID_ARG;
    if ((arr = cJSON_CreateArray()) == NULL)
        return VFY_E_NOMEM;
    rc = list_rows(st, what, offset, limit, more, add_to_array, arr);
    /* add_to_array fails only for want of memory */
    if (rc == VFY_E_IO)
        rc = VFY_E_NOMEM;
    if (rc == VFY_OK && (*json = cJSON_Print(arr)) == NULL)
        rc = VFY_E_NOMEM;
    cJSON_Delete(arr);
    return rc;
}

struct each {
    vfy_store_row_fn fn;
    void *ctx;
    int failed_nomem;
};

static int print_row(void *ctx, cJSON *row)
{
    struct each *e = ctx;
    char *text = cJSON_Print(row);
    int r;

    cJSON_Delete(row);
    if (text == NULL) {
        e->failed_nomem = 1;
        return -1;
    }
    r = e->fn(e->ctx, text);
    cJSON_free(text);
    return r;
}

vfy_rc vfy_store_list_each(vfy_store *st, const char *what, uint64_t offset, size_t limit,
                           vfy_store_row_fn fn, void *ctx, int *more)
{
    struct each e = {fn, ctx, 0};
    vfy_rc rc;

    if (more != NULL)
        *more = 0;
    if (fn == NULL)
        return VFY_E_INVALID_ARG;
    rc = list_rows(st, what, offset, limit, more, print_row, &e);
    return rc == VFY_E_IO && e.failed_nomem ? VFY_E_NOMEM : rc;
}

vfy_rc vfy_store_audit_row(vfy_store *st, uint64_t seq, vfy_store_audit_id *out)
{
    /* One statement, one snapshot: the generation and the row agree (every
     * admin change writes both in one transaction). */
    static const char sql[] =
        "SELECT g.gen, a.seq, a.at, a.actor, a.action, a.object, a.detail"
        " FROM generation AS g LEFT JOIN audit_log AS a ON a.seq ="
        "  CASE WHEN ?1 = 0 THEN (SELECT max(seq) FROM audit_log) ELSE ?1 END"
        " WHERE g.id = 1";
    sqlite3_stmt *s = NULL;
    EVP_MD_CTX *md = NULL;
    vfy_rc rc = VFY_OK;
    unsigned n = 0;
    int src;

    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (st == NULL || out == NULL || seq > INT64_MAX)
        return VFY_E_INVALID_ARG;
    if ((src = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL)) != SQLITE_OK)
        return st_db(st, src, "prepare");
    sqlite3_bind_int64(s, 1, (sqlite3_int64)seq);
    if ((src = sqlite3_step(s)) != SQLITE_ROW) {
        rc = src == SQLITE_DONE ? st_err(st, VFY_E_DB, "the generation row is missing")
                                : st_db(st, src, "audit row");
        goto out;
    }
    if (sqlite3_column_type(s, 1) == SQLITE_NULL) {
        if (seq != 0)
            rc = st_err(st, VFY_E_NOT_FOUND, "no audit row %llu", (unsigned long long)seq);
        else   /* an empty log */
            out->gen = (uint64_t)sqlite3_column_int64(s, 0);
        goto out;
    }
    out->gen = (uint64_t)sqlite3_column_int64(s, 0);
    out->seq = (uint64_t)sqlite3_column_int64(s, 1);
    out->at = sqlite3_column_int64(s, 2);
    if ((md = EVP_MD_CTX_new()) == NULL ||
        EVP_DigestInit_ex(md, vfy_hash_md(VFY_HASH_SHA256), NULL) != 1) {
        rc = VFY_E_NOMEM;
        goto out;
    }
    for (int c = 3; c <= 6; c++) {
        const unsigned char *t = sqlite3_column_text(s, c);
        size_t len = (size_t)sqlite3_column_bytes(s, c);

        if ((t == NULL && sqlite3_errcode(st->db) == SQLITE_NOMEM) ||
            (len > 0 && EVP_DigestUpdate(md, t, len) != 1) || EVP_DigestUpdate(md, "", 1) != 1) {
            rc = VFY_E_NOMEM;
            goto out;
        }
    }
    if (EVP_DigestFinal_ex(md, out->sha256, &n) != 1 || n != sizeof(out->sha256))
        rc = VFY_E_INTERNAL;
out:
    EVP_MD_CTX_free(md);
    sqlite3_finalize(s);
    if (rc != VFY_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}
