/*
 * attest_req.h — parsing the POST /v1/attest request body (DESIGN §8),
 * separate from the HTTP handler so that it can be fuzzed on its own.
 * Uses only libverify's public API and cJSON.
 */
#ifndef VERIFIERD_ATTEST_REQ_H
#define VERIFIERD_ATTEST_REQ_H

#include <stddef.h>
#include <stdint.h>

#include <verify/verify.h>

struct vd_attest_req {
    uint8_t nonce[VFY_NONCE_LEN];
    uint8_t cb[VFY_CB_LEN];
    char attester[VFY_STORE_NAME_MAX + 1];
    char policy[VFY_STORE_NAME_MAX + 1];   /* "" when none */
    uint32_t max_ttl_s;                    /* 0 when none */
    vfy_cmw_format format;
    uint8_t *evidence;                     /* owned; JSON text or CBOR bytes */
    size_t evidence_len;
};

/*
 * Parse @len bytes of request body. On success @out holds the request
 * (release with vd_attest_req_clear); on failure it is cleared and @err
 * (@cap bytes) says what is wrong, for a 400 problem. Returns 0 or -1.
 * Rules: a JSON object with exactly the known members, none repeated;
 * nonce and channel_binding 32 bytes of base64url without padding; attester
 * 1..128 bytes; policy a string; max_ttl_s an integer 1..86400; evidence a
 * CMW JSON object (re-serialised compactly) or a base64url CMW CBOR string.
 */
int vd_attest_req_parse(struct vd_attest_req *out, const char *body, size_t len, char *err,
                        size_t cap);

void vd_attest_req_clear(struct vd_attest_req *r);

#endif
