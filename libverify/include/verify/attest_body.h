/*
 * attest_body.h — the body of POST /v1/attest (DESIGN §8), parsed once.
 *
 *   {"nonce":"<b64url 32B>","channel_binding":"<b64url 32B>","attester":"<name>",
 *    "evidence":<CMW JSON object> | "<b64url CMW CBOR>","policy"?:"<id>","max_ttl_s"?:N}
 *
 * A verifier front end parses the body with vfy_attest_body_parse(), checks
 * and consumes the nonce, then appraises with vfy_attest_body_request()
 * filling the vfy_appraisal_request: vfy_appraise() takes the JSON
 * evidence from the tree built here instead of printing it and parsing it
 * again (one JSON parse per request).
 *
 * Rules (each refusal is VFY_E_JSON with a one-line detail for a 400):
 *   - the body is strict JSON as for every document libverify reads: valid
 *     UTF-8, no control characters or \u0000 in strings, numbers canonical
 *     integers, nesting at most VFY_CMW_MAX_DEPTH + 1 (the evidence object
 *     is one level down), at most 128 values, keys and containers (the
 *     body and an inline collection hold a few dozen), nothing but
 *     whitespace after the object;
 *   - an object with exactly the members above, none repeated;
 *   - nonce and channel_binding 32 bytes of base64url without padding;
 *     attester 1..VFY_STORE_NAME_MAX bytes and policy a string of at most
 *     VFY_STORE_NAME_MAX bytes, neither with a control character (the
 *     store's name rule, also when escaped); max_ttl_s an integer 1..86400;
 *   - evidence a JSON object (the CMW collection) or a string (base64url of
 *     the CBOR collection, decoded here; a string longer than the base64url
 *     of VFY_CMW_MAX bytes is VFY_E_CMW_TOO_LARGE, before decoding).
 * The collection itself is not checked here: vfy_appraise() reports what
 * vfy_cmw_parse() would (VFY_E_CMW_*), so a caller that consumes the nonce
 * before appraising consumes it for evidence that turns out malformed too.
 */
#ifndef VERIFY_ATTEST_BODY_H
#define VERIFY_ATTEST_BODY_H

#include <stddef.h>
#include <stdint.h>
#include "verify/export.h"
#include "verify/error.h"
#include "verify/appraise.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The parsed body: vfy_attest_body, declared in appraise.h (a typedef
 * repeated here failed -std=c99 -pedantic-errors: C99 allows one). */

/** The largest max_ttl_s a body may ask for (one day). */
#define VFY_ATTEST_MAX_TTL_S 86400

/**
 * Parse @len bytes of @body (need not be NUL-terminated). On VFY_OK *@out
 * is owned by the caller (vfy_attest_body_free()); otherwise it is NULL and
 * @detail (optional, @detail_cap bytes) says what is wrong. Errors:
 * VFY_E_JSON (the rules above), VFY_E_CMW_TOO_LARGE, VFY_E_NOMEM,
 * VFY_E_INVALID_ARG.
 */
VFY_EXPORT vfy_rc vfy_attest_body_parse(vfy_attest_body **out, const char *body, size_t len,
                                        char *detail, size_t detail_cap) VFY_MUST_CHECK;

/** Free @*b and set it NULL; NULL is fine. */
VFY_EXPORT void vfy_attest_body_free(vfy_attest_body **b);

/**
 * Fill @req from @b: nonce, channel_binding, attester, policy_id (NULL when
 * absent), max_ttl_s (0 when absent) and body = @b; evidence, evidence_len
 * and format are cleared (vfy_appraise() reads the evidence from @b). The
 * other members (nonce_status, nonce_issued_at, now) are left as they are. The pointers live
 * as long as @b.
 */
VFY_EXPORT void vfy_attest_body_request(const vfy_attest_body *b, vfy_appraisal_request *req);

/** The evidence's form: VFY_CMW_JSON (an object) or VFY_CMW_CBOR (a string). */
VFY_EXPORT vfy_cmw_format vfy_attest_body_format(const vfy_attest_body *b);

#ifdef __cplusplus
}
#endif

#endif
