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

vfy_rc vfy_store_token_add_expiring(vfy_store *st, const char *name, vfy_token_role role,
                                    int64_t expires_at, char token[VFY_STORE_TOKEN_BUF])
{
    uint8_t rnd[TOKEN_RANDOM], sha[32];
    char hex[65], obj[VFY_STORE_NAME_MAX + 16], detail[64];
    const size_t plen = sizeof(VFY_STORE_TOKEN_PREFIX) - 1;
    sqlite3_stmt *s = NULL;
    vfy_rc rc;
    int src;

    if (token != NULL)
        memset(token, 0, VFY_STORE_TOKEN_BUF);
    if (st == NULL || name == NULL || token == NULL)
        return VFY_E_INVALID_ARG;
    if ((rc = st_check_name(st, name, VFY_STORE_NAME_MAX, "token name")) != VFY_OK)
        return rc;
    if (vfy_token_role_name(role) == NULL)
        return st_err(st, VFY_E_BAD_KIND, "role must be attest or admin");
    if (expires_at < 0 || (expires_at != 0 && expires_at <= st_now(st)))
        return st_err(st, VFY_E_INVALID_ARG, "token expiry %lld is not in the future",
                      (long long)expires_at);
    if ((rc = st_writable(st)) != VFY_OK)
        return rc;
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        return st_err(st, VFY_E_INTERNAL, "random generator failed");
    memcpy(token, VFY_STORE_TOKEN_PREFIX, plen);
    rc = vfy_b64url_encode(token + plen, VFY_STORE_TOKEN_BUF - plen, rnd, sizeof(rnd));
    OPENSSL_cleanse(rnd, sizeof(rnd));
    if (rc == VFY_OK)
        rc = vfy_sha256(token, strlen(token), sha);
    if (rc != VFY_OK)
        goto fail;
    st_hex(hex, sha, sizeof(sha));

    if ((rc = st_tx_begin(st)) != VFY_OK)
        goto fail;
    src = sqlite3_prepare_v2(st->db, "SELECT 1 FROM tokens WHERE name = ?1", -1, &s, NULL);
    if (src != SQLITE_OK) {
        rc = st_db(st, src, "prepare");
    } else {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        src = sqlite3_step(s);
        if (src == SQLITE_ROW)
            rc = st_err(st, VFY_E_CONFLICT, "token %s already exists", name);
        else if (src != SQLITE_DONE)
            rc = st_db(st, src, "token");
    }
    sqlite3_finalize(s);
    s = NULL;
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
            snprintf(detail, sizeof(detail), "%s expires_at=%lld", vfy_token_role_name(role),
                     (long long)expires_at);
        else
            snprintf(detail, sizeof(detail), "%s", vfy_token_role_name(role));
        rc = st_audit(st, "token.add", obj, detail);
    }
    rc = st_tx_end(st, rc);
    if (rc == VFY_OK)
        return VFY_OK;
fail:
    OPENSSL_cleanse(token, VFY_STORE_TOKEN_BUF);
    return rc;
}

vfy_rc vfy_store_token_revoke(vfy_store *st, const char *name)
{
    char obj[VFY_STORE_NAME_MAX + 16];
    sqlite3_stmt *s = NULL;
    vfy_rc rc;
    int src;

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
    }
    return st_tx_end(st, rc);
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
