/*
 * jose.h — private glue between jwk.c, jws.c and ear.c (JOSE: keys, ES256
 * compact JWS, strict JSON helpers). Nothing here is exported; it sits beside
 * internal.h so that the shared core header stays untouched by this module.
 */
#ifndef VERIFY_JOSE_H
#define VERIFY_JOSE_H

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "internal.h"
#include "json_util.h"
#include "verify/jwk.h"

#define VFY_JWS_MAX_BYTES 65536 /* whole compact JWS */
#define VFY_JSON_MAX_MEMBERS 256 /* members per object (duplicate check is quadratic) */

/* Borrowed EVP_PKEY (EC P-256, private) of a signing key. */
EVP_PKEY *vfy_signing_key_pkey(const vfy_signing_key *key);

/*
 * Drop every thread's cached signing context for @pkey (jws.c), so that a
 * freed signing key is not kept alive by a thread that signed with it and
 * has not signed since (vfy_signing_key_free calls it first).
 */
void vfy_jws_forget_key(const EVP_PKEY *pkey);

/* Threads whose signing context holds a key now (tests). */
size_t vfy_jws_cached_keys(void);

/* Borrowed public EVP_PKEY for @kid in @set, or NULL. */
EVP_PKEY *vfy_jwks_lookup(const vfy_jwks *set, const char *kid);

/*
 * Compact JWS over @payload with header {"alg":"ES256","typ":"JWT","kid":kid}.
 * *@out is NUL-terminated, malloc'd (vfy_free).
 */
vfy_rc vfy_jws_sign_es256(const vfy_signing_key *key, const uint8_t *payload, size_t len,
                          char **out);

/*
 * Verify a compact ES256 JWS against @keys. On success *@payload (malloc'd,
 * NUL-terminated, free with free()) holds the decoded payload of *@payload_len
 * bytes and @kid_out (room for VFY_JWK_MAX_KID + 1) the kid used.
 * Errors: VFY_E_TOO_LARGE, VFY_E_JWS_MALFORMED, VFY_E_JWS_HEADER, VFY_E_JWS_ALG,
 * VFY_E_JWS_KID, VFY_E_JWS_KID_UNKNOWN, VFY_E_JWS_SIGNATURE.
 */
vfy_rc vfy_jws_verify_es256(const char *jws, size_t len, const vfy_jwks *keys,
                            char **payload, size_t *payload_len, char *kid_out);

/*
 * Parse exactly @len bytes of JSON (no NUL bytes, nothing but whitespace
 * after the value), with no duplicate member names in any object, at most
 * VFY_JSON_MAX_DEPTH levels and VFY_JSON_MAX_MEMBERS members per object.
 * Returns NULL on any violation.
 */
cJSON *vfy_json_parse_strict(const char *buf, size_t len);

/* base64url-encode @len bytes into a new malloc'd string, or NULL. */
char *vfy_b64url_dup(const uint8_t *in, size_t len);

#endif
