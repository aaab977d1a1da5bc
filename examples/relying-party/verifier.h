/*
 * verifier.h — the relying party's client for verifierd's HTTPS API
 * (DESIGN §8, docs/api.md) on libcurl: challenge, attest, keys, the
 * revocation feed and a result's state. One keep-alive connection, verified against a CA file.
 */
#ifndef EXAMPLES_RP_VERIFIER_H
#define EXAMPLES_RP_VERIFIER_H

#include <stddef.h>
#include <stdint.h>

typedef struct vclient vclient;

/** @base "https://127.0.0.1:8443"; @ca PEM file (NULL: system store); @token the attest token. */
int vc_new(vclient **out, const char *base, const char *ca, const char *token);
void vc_free(vclient **vc);

/**
 * POST /v1/challenge: a 32-byte nonce and its TTL. With @attester (may be
 * NULL) the body names it, so the TTL is that attester's policy's.
 */
int vc_challenge(vclient *vc, const char *attester, uint8_t nonce[32], long *ttl_s, char *err,
                 size_t err_cap);

/** What POST /v1/attest answered. */
typedef struct vc_result {
    char *ear;            /* the JWS (malloc) */
    char result_id[129];
    char status[32];      /* as the response says; the EAR itself is authoritative */
} vc_result;

/**
 * POST /v1/attest with the evidence (CMW JSON text from the agent, checked
 * to be a JSON object before it is embedded), @cb = the relying party's own
 * exporter value, @max_ttl_s (0: none). Free @res with vc_result_clear().
 */
int vc_attest(vclient *vc, const uint8_t nonce[32], const uint8_t cb[32], const char *attester,
              const char *evidence, size_t evidence_len, unsigned max_ttl_s, vc_result *res,
              char *err, size_t err_cap);
void vc_result_clear(vc_result *res);

/** GET /v1/keys: the JWKS JSON (*@jwks malloc'd, NUL-terminated). */
int vc_keys(vclient *vc, char **jwks, size_t *len, char *err, size_t err_cap);

/**
 * GET /v1/revocations?after=*@cursor&limit=@page_size, at most @max_pages
 * pages; @fn is called for every revoked result; *@cursor advances.
 * 0: the end of the feed was reached; 1: @max_pages were read and more may
 * follow (a result not named yet may still be revoked); -1: error (a 409,
 * a cursor past the feed's end, also sets *@cursor to 0: the feed was
 * reset, and the results held must not be relied on).
 */
int vc_revocations(vclient *vc, uint64_t *cursor, unsigned page_size, unsigned max_pages,
                   void (*fn)(void *arg, const char *result_id, const char *reason), void *arg,
                   char *err, size_t err_cap);

/**
 * GET /v1/results/{id}: the result's state ("valid", "expired", "revoked")
 * and, when revoked, the reason. 0, or -1 (an unknown id is an error).
 */
int vc_result_state(vclient *vc, const char *result_id, char *state, size_t state_cap,
                    char *reason, size_t reason_cap, char *err, size_t err_cap);

#endif
