/*
 * refstore_token.c — API tokens (DESIGN §6, §8): name, role attest|admin,
 * SHA-256 of the token, created_at, revoked flag, optional expiry (v5).
 *
 * A token is "vfy_" + base64url(32 bytes from the OpenSSL CSPRNG). Only its
 * SHA-256 (lowercase hex) is stored: a leaked database does not leak
 * usable tokens, and a lost token cannot be recovered, only replaced. The
 * plaintext is returned once to the caller and wiped from our buffers.
 */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "refstore_int.h"

#define TOKEN_RANDOM 32

vfy_rc vfy_store_token_add(vfy_store *st, const char *name, vfy_token_role role,
                           char token[VFY_STORE_TOKEN_BUF])
{
    return vfy_store_token_add_expiring(st, name, role, 0, token);
}

/* Checks shared by the token adders, before anything is made or read. */
static vfy_rc token_add_check(vfy_store *st, const char *name, vfy_token_role role,
                              int64_t expires_at)
{
    vfy_rc rc;

    if ((rc = st_check_new_name(st, name, VFY_STORE_NAME_MAX, "token name", NULL)) != VFY_OK)
        return rc;
    if (vfy_token_role_name(role) == NULL)
        return st_err(st, VFY_E_BAD_KIND, "role must be attest or admin");
    if (expires_at < 0 || (expires_at != 0 && expires_at <= st_now(st)))
        return st_err(st, VFY_E_INVALID_ARG, "token expiry %lld is not in the future",
                      (long long)expires_at);
    return st_writable(st);
}

/* 1 if a row of @sql (one ?1 parameter, @arg) exists; 0 if not; -1 (st's
 * error set in *@rc) on a database error. */
static int token_row_exists(vfy_store *st, const char *sql, const char *arg, vfy_rc *rc)
{
    sqlite3_stmt *s = NULL;
    int src = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);

    if (src != SQLITE_OK) {
        *rc = st_db(st, src, "prepare");
        return -1;
    }
    sqlite3_bind_text(s, 1, arg, -1, SQLITE_STATIC);
    src = sqlite3_step(s);
    sqlite3_finalize(s);
    if (src == SQLITE_ROW)
        return 1;
    if (src == SQLITE_DONE)
        return 0;
    *rc = st_db(st, src, "token");
    return -1;
}

/* Store @token's SHA-256 as token @name, with its audit row (@how: how the
 * token was made), in one transaction. */
static vfy_rc token_insert(vfy_store *st, const char *name, vfy_token_role role,
                           int64_t expires_at, const char *token, const char *how)
{
    uint8_t sha[32];
    char hex[65], obj[VFY_STORE_NAME_MAX + 16], detail[96];
    sqlite3_stmt *s = NULL;
    vfy_rc rc;
    int src;

    if ((rc = vfy_sha256(token, strlen(token), sha)) != VFY_OK)
        return rc;
    st_hex(hex, sha, sizeof(sha));
    if ((rc = st_tx_begin(st)) != VFY_OK)
        return rc;
    src = token_row_exists(st, "SELECT 1 FROM tokens WHERE name = ?1", name, &rc);
    if (src == 1)
        rc = st_err(st, VFY_E_CONFLICT, "token %s already exists", name);
    /* a token given twice (a second name for it, or one added already):
     * the lookup by hash could not say which name and role it is */
    if (rc == VFY_OK &&
        token_row_exists(st, "SELECT 1 FROM tokens WHERE sha256 = ?1", hex, &rc) == 1)
        rc = st_err(st, VFY_E_CONFLICT, "that token is already stored under another name");
    if (rc == VFY_OK) {
        src = sqlite3_prepare_v2(st->db,
                                 "INSERT INTO tokens (name, role, sha256, created_at, expires_at)"
                                 " VALUES (?1, ?2, ?3, ?4, ?5)", -1, &s, NULL);
        if (src != SQLITE_OK) {
            rc = st_db(st, src, "prepare");
        } else {
            sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 2, vfy_token_role_name(role), -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 3, hex, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 4, st_now(st));
            if (expires_at != 0)
                sqlite3_bind_int64(s, 5, expires_at);
            else
                sqlite3_bind_null(s, 5);
            rc = st_exec_stmt(st, s, "insert token");
        }
        sqlite3_finalize(s);
    }
    if (rc == VFY_OK) {
        snprintf(obj, sizeof(obj), "token %s", name);
        if (expires_at != 0)
            snprintf(detail, sizeof(detail), "%s expires_at=%lld%s", vfy_token_role_name(role),
                     (long long)expires_at, how);
        else
            snprintf(detail, sizeof(detail), "%s%s", vfy_token_role_name(role), how);
        rc = st_audit(st, "token.add", obj, detail);
    }
    return st_tx_end(st, rc);
}

vfy_rc vfy_store_token_add_expiring(vfy_store *st, const char *name, vfy_token_role role,
                                    int64_t expires_at, char token[VFY_STORE_TOKEN_BUF])
{
    uint8_t rnd[TOKEN_RANDOM];
    const size_t plen = sizeof(VFY_STORE_TOKEN_PREFIX) - 1;
    vfy_rc rc;

    if (token != NULL)
        memset(token, 0, VFY_STORE_TOKEN_BUF);
    if (st == NULL || name == NULL || token == NULL)
        return VFY_E_INVALID_ARG;
    if ((rc = token_add_check(st, name, role, expires_at)) != VFY_OK)
        return rc;
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        return st_err(st, VFY_E_INTERNAL, "random generator failed");
    memcpy(token, VFY_STORE_TOKEN_PREFIX, plen);
    rc = vfy_b64url_encode(token + plen, VFY_STORE_TOKEN_BUF - plen, rnd, sizeof(rnd));
    OPENSSL_cleanse(rnd, sizeof(rnd));
    if (rc == VFY_OK)
        rc = token_insert(st, name, role, expires_at, token, "");
    if (rc != VFY_OK)
        OPENSSL_cleanse(token, VFY_STORE_TOKEN_BUF);
    return rc;
}

vfy_rc vfy_store_token_add_given(vfy_store *st, const char *name, vfy_token_role role,
                                 int64_t expires_at, const char *token, size_t len)
{
    const size_t plen = sizeof(VFY_STORE_TOKEN_PREFIX) - 1;
    uint8_t rnd[TOKEN_RANDOM];
    char copy[VFY_STORE_TOKEN_BUF];
    size_t n = 0;
    vfy_rc rc;

    if (st == NULL || name == NULL || token == NULL)
        return VFY_E_INVALID_ARG;
    if ((rc = token_add_check(st, name, role, expires_at)) != VFY_OK)
        return rc;
    /* exactly what vfy_store_token_add makes: the prefix and the canonical
     * base64url of 32 bytes, so that a given token is as strong as a made one */
    if (len != plen + VFY_B64URL_LEN(TOKEN_RANDOM) || memcmp(token, VFY_STORE_TOKEN_PREFIX, plen) != 0 ||
        vfy_b64url_decode(rnd, sizeof(rnd), &n, token + plen, len - plen) != VFY_OK ||
        n != sizeof(rnd)) {
        OPENSSL_cleanse(rnd, sizeof(rnd));
        return st_err(st, VFY_E_INVALID_ARG, "a token must be as verifyctl token add prints "
                      "it: \"%s\" and %zu base64url characters", VFY_STORE_TOKEN_PREFIX,
                      (size_t)VFY_B64URL_LEN(TOKEN_RANDOM));
    }
    OPENSSL_cleanse(rnd, sizeof(rnd));
    memcpy(copy, token, len);
    copy[len] = '\0';
    rc = token_insert(st, name, role, expires_at, copy, " (given)");
    OPENSSL_cleanse(copy, sizeof(copy));
    return rc;
}

vfy_rc vfy_store_token_revoke(vfy_store *st, const char *name)
{
    return vfy_store_token_revoke_counted(st, name, NULL);
}

vfy_rc vfy_store_token_revoke_counted(vfy_store *st, const char *name, size_t *revoked)
{
    char obj[VFY_STORE_NAME_MAX + 16];
    sqlite3_stmt *s = NULL;
    vfy_rc rc;
    int src, changed = 0;

    if (revoked != NULL)
        *revoked = 0;
    if (st == NULL || name == NULL)
        return VFY_E_INVALID_ARG;
    if ((rc = st_writable(st)) != VFY_OK || (rc = st_tx_begin(st)) != VFY_OK)
        return rc;
    src = sqlite3_prepare_v2(st->db, "SELECT revoked FROM tokens WHERE name = ?1", -1, &s, NULL);
    if (src != SQLITE_OK) {
        rc = st_db(st, src, "prepare");
    } else {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        src = sqlite3_step(s);
        if (src == SQLITE_DONE)
            rc = st_err(st, VFY_E_NOT_FOUND, "token %s not found", name);
        else if (src != SQLITE_ROW)
            rc = st_db(st, src, "token");
        else if (sqlite3_column_int(s, 0) != 0)
            src = SQLITE_DONE;            /* already revoked: no-op */
    }
    sqlite3_finalize(s);
    if (rc == VFY_OK && src == SQLITE_ROW) {
        sqlite3_stmt *u = NULL;

        src = sqlite3_prepare_v2(st->db, "UPDATE tokens SET revoked = 1 WHERE name = ?1",
                                 -1, &u, NULL);
        if (src != SQLITE_OK) {
            rc = st_db(st, src, "prepare");
        } else {
            sqlite3_bind_text(u, 1, name, -1, SQLITE_STATIC);
            rc = st_exec_stmt(st, u, "revoke token");
        }
        sqlite3_finalize(u);
        snprintf(obj, sizeof(obj), "token %s", name);
        if (rc == VFY_OK)
            rc = st_audit(st, "token.revoke", obj, "");
        changed = 1;
    }
    rc = st_tx_end(st, rc);
    if (rc == VFY_OK && revoked != NULL)
        *revoked = (size_t)changed;   /* 0: revoked already, nothing written */
    return rc;
}

vfy_rc vfy_store_token_lookup(vfy_store *st, const uint8_t sha[32], char *name,
                              vfy_token_role *role)
{
    int64_t exp = 0;
    vfy_rc rc = vfy_store_token_lookup_at(st, sha, name, role, &exp);

    if (rc == VFY_OK && exp != 0 && st_now(st) >= exp) {
        if (name != NULL)
            name[0] = '\0';
        *role = 0;
        return VFY_E_NOT_FOUND;
    }
    return rc;
}

vfy_rc vfy_store_token_lookup_at(vfy_store *st, const uint8_t sha[32], char *name,
                                 vfy_token_role *role, int64_t *expires_at)
{
    char hex[65];
    sqlite3_stmt *s;
    vfy_rc rc;
    int src;

    if (name != NULL)
        name[0] = '\0';
    if (role != NULL)
        *role = 0;
    if (expires_at != NULL)
        *expires_at = 0;
    if (st == NULL || sha == NULL || role == NULL || expires_at == NULL)
        return VFY_E_INVALID_ARG;
    st_hex(hex, sha, 32);
    rc = st_stmt(st, SL_TOK_LOOKUP,
                 "SELECT name, role, coalesce(expires_at, 0) FROM tokens"
                 " WHERE sha256 = ?1 AND revoked = 0", &s);
    if (rc != VFY_OK)
        return rc;
    sqlite3_bind_text(s, 1, hex, -1, SQLITE_STATIC);
    src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        rc = vfy_token_role_parse(role, (const char *)sqlite3_column_text(s, 1));
        if (rc == VFY_OK && name != NULL)
            rc = st_col_text(s, 0, name, VFY_STORE_NAME_MAX + 1);
        if (rc == VFY_OK)
            *expires_at = sqlite3_column_int64(s, 2);
        if (rc != VFY_OK)
            *role = 0;
    } else if (src == SQLITE_DONE) {
        rc = VFY_E_NOT_FOUND;
    } else {
        rc = st_db(st, src, "token lookup");
    }
    sqlite3_reset(s);
    return rc;
}

vfy_rc vfy_store_token_check(vfy_store *st, const char *token, size_t len, char *name,
                             vfy_token_role *role)
{
    uint8_t sha[32];
    vfy_rc rc;

    if (name != NULL)
        name[0] = '\0';
    if (role != NULL)
        *role = 0;
    if (st == NULL || token == NULL || role == NULL)
        return VFY_E_INVALID_ARG;
    if (len == 0 || len > 256)
        return VFY_E_NOT_FOUND;
    rc = vfy_sha256(token, len, sha);
    if (rc != VFY_OK)
        return rc;
    return vfy_store_token_lookup(st, sha, name, role);
}
