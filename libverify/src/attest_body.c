/*
 * attest_body.c — the POST /v1/attest body, parsed once (see attest_body.h).
 *
 * The body is parsed strictly (json_util.c) and kept as a tree: the JSON
 * evidence is appraised from its member (cmw.c's vfy_cmw_parse_tree) rather
 * than printed and parsed a second time. A CBOR evidence string is decoded
 * from base64url here.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json_util.h"

struct vfy_attest_body {
    cJSON *root;             /* the body; owns the evidence object */
    const cJSON *evidence;   /* the JSON collection, or NULL for CBOR */
    uint8_t *cbor;           /* the decoded CBOR collection, or NULL */
    size_t cbor_len;
    size_t body_len;
    uint8_t nonce[VFY_NONCE_LEN];
    uint8_t cb[VFY_CB_LEN];
    const char *attester;    /* in the tree */
    const char *policy;      /* in the tree; NULL when absent */
    uint32_t max_ttl_s;      /* 0 when absent */
};

enum { F_NONCE, F_CB, F_ATTESTER, F_EVIDENCE, F_POLICY, F_TTL, F_COUNT };
static const char *const fields[F_COUNT] = {
    "nonce", "channel_binding", "attester", "evidence", "policy", "max_ttl_s",
};

/* Exactly @want bytes of unpadded base64url from string member @v. */
static int b64_exact(const cJSON *v, uint8_t *out, size_t want)
{
    const char *s;
    size_t n, got = 0;

    return vfy_json_str(v, &s, &n) == VFY_JSON_OK && n == VFY_B64URL_LEN(want) &&
           vfy_b64url_decode(out, want, &got, s, n) == VFY_OK && got == want;
}

/* How much of field name @k a detail shows: at most 64 bytes, cut between
 * characters (the body is valid UTF-8; "%.64s" could split one). */
static int key_cut(const char *k)
{
    size_t n = 0, len = strlen(k);

    while (n < len) {
        size_t q = vfy_utf8_seq(k + n, len - n);

        if (q == 0 || n + q > 64)
            break;
        n += q;
    }
    return (int)n;
}

static vfy_rc fail(vfy_attest_body **b, vfy_rc rc, char *detail, size_t cap, const char *msg)
{
    vfy_attest_body_free(b);
    vfy_detail_set(detail, cap, "%s", msg);
    return rc;
}

vfy_rc vfy_attest_body_parse(vfy_attest_body **out, const char *body, size_t len, char *detail,
                             size_t cap)
{
    const cJSON *f[F_COUNT];
    const char *bad = NULL, *s;
    vfy_attest_body *b;
    size_t n;

    vfy_detail_set(detail, cap, "%s", "");
    if (out == NULL)
        return VFY_E_INVALID_ARG;
    *out = NULL;
    if (body == NULL && len != 0)
        return VFY_E_INVALID_ARG;
    if ((b = calloc(1, sizeof(*b))) == NULL)
        return VFY_E_NOMEM;
    b->body_len = len;
    /* the body's own fields and an inline collection: a few dozen values */
    switch (vfy_json_parse_max(&b->root, body, len, VFY_CMW_MAX_DEPTH + 1, 128)) {
    case VFY_JSON_OK:
        break;
    case VFY_JSON_TOO_MANY:
        return fail(&b, VFY_E_JSON, detail, cap,
                    "body holds more than 128 JSON values (an attest body and its "
                    "evidence hold a few dozen)");
    case VFY_JSON_NESTING:
        vfy_detail_set(detail, cap, "body nesting deeper than %d (evidence deeper than %d)",
                       VFY_CMW_MAX_DEPTH + 1, VFY_CMW_MAX_DEPTH);
        vfy_attest_body_free(&b);
        return VFY_E_JSON;
    default:
        return fail(&b, VFY_E_JSON, detail, cap,
                    "body must be a JSON object (strict JSON: UTF-8, integers only)");
    }
    if (!cJSON_IsObject(b->root))
        return fail(&b, VFY_E_JSON, detail, cap, "body must be a JSON object");
    switch (vfy_json_fields(b->root, fields, F_COUNT, f, &bad)) {
    case VFY_JSON_OK:
        break;
    case VFY_JSON_UNKNOWN:
        vfy_detail_set(detail, cap, "unknown field \"%.*s\"", key_cut(bad), bad);
        vfy_attest_body_free(&b);
        return VFY_E_JSON;
    case VFY_JSON_DUPLICATE:
        vfy_detail_set(detail, cap, "duplicate field \"%.*s\"", key_cut(bad), bad);
        vfy_attest_body_free(&b);
        return VFY_E_JSON;
    default:
        return fail(&b, VFY_E_JSON, detail, cap, "body must be a JSON object");
    }
    if (!b64_exact(f[F_NONCE], b->nonce, sizeof(b->nonce)))
        return fail(&b, VFY_E_JSON, detail, cap,
                    "nonce must be 32 bytes, base64url without padding");
    if (!b64_exact(f[F_CB], b->cb, sizeof(b->cb)))
        return fail(&b, VFY_E_JSON, detail, cap,
                    "channel_binding must be 32 bytes (tls-exporter), base64url without padding");
    /* The store's name rule (an escaped control character would pass the
     * JSON rules and fail only when the result is recorded). */
    if (vfy_json_str(f[F_ATTESTER], &s, &n) != VFY_JSON_OK || n == 0 ||
        n > VFY_STORE_NAME_MAX || !vfy_json_printable(s, n))
        return fail(&b, VFY_E_JSON, detail, cap,
                    "attester must be a name of 1..128 bytes without control characters");
    b->attester = s;
    if (f[F_POLICY] != NULL) {
        if (vfy_json_str(f[F_POLICY], &s, &n) != VFY_JSON_OK || n > VFY_STORE_NAME_MAX ||
            !vfy_json_printable(s, n))
            return fail(&b, VFY_E_JSON, detail, cap,
                        "policy must be a string of at most 128 bytes without control characters");
        /* "" names no policy: a relying party whose configured name came out
         * empty must hear so, not be appraised under another policy (as the
         * challenge refuses it) */
        if (n == 0)
            return fail(&b, VFY_E_JSON, detail, cap,
                        "policy must not be empty (leave it out for the attester's own policy)");
        b->policy = s;
    }
    if (f[F_TTL] != NULL) {
        long long v;
        int in_range;

        if (vfy_json_int(f[F_TTL], 1, VFY_ATTEST_MAX_TTL_S, &v, &in_range) != VFY_JSON_OK ||
            !in_range)
            return fail(&b, VFY_E_JSON, detail, cap, "max_ttl_s must be an integer 1..86400");
        b->max_ttl_s = (uint32_t)v;
    }
    if (cJSON_IsObject(f[F_EVIDENCE])) {
        b->evidence = f[F_EVIDENCE];
    } else if (vfy_json_str(f[F_EVIDENCE], &s, &n) == VFY_JSON_OK) {
        if (n > VFY_B64URL_LEN(VFY_CMW_MAX))   /* before allocating for it */
            return fail(&b, VFY_E_CMW_TOO_LARGE, detail, cap,
                        "evidence string decodes to more than 1 MiB");
        if ((b->cbor = malloc(VFY_B64URL_DECODED_MAX(n) + 1)) == NULL) {
            vfy_attest_body_free(&b);
            return VFY_E_NOMEM;
        }
        if (vfy_b64url_decode(b->cbor, VFY_B64URL_DECODED_MAX(n) + 1, &b->cbor_len, s, n) !=
            VFY_OK)
            return fail(&b, VFY_E_JSON, detail, cap,
                        "evidence string must be base64url CMW CBOR");
    } else {
        return fail(&b, VFY_E_JSON, detail, cap,
                    "evidence must be a CMW JSON object or a base64url CMW CBOR string");
    }
    *out = b;
    return VFY_OK;
}

void vfy_attest_body_free(vfy_attest_body **pb)
{
    vfy_attest_body *b;

    if (pb == NULL || (b = *pb) == NULL)
        return;
    cJSON_Delete(b->root);
    free(b->cbor);
    free(b);
    *pb = NULL;
}

void vfy_attest_body_request(const vfy_attest_body *b, vfy_appraisal_request *req)
{
    if (b == NULL || req == NULL)
        return;
    req->evidence = NULL;
    req->evidence_len = 0;
    req->format = vfy_attest_body_format(b);
    req->nonce = b->nonce;
    req->channel_binding = b->cb;
    req->attester = b->attester;
    req->policy_id = b->policy;
    req->max_ttl_s = b->max_ttl_s;
    req->body = b;
}

vfy_cmw_format vfy_attest_body_format(const vfy_attest_body *b)
{
    return b != NULL && b->evidence == NULL ? VFY_CMW_CBOR : VFY_CMW_JSON;
}

const cJSON *vfy_attest_body_evidence(const vfy_attest_body *b, const uint8_t **cbor,
                                      size_t *cbor_len, size_t *body_len)
{
    *cbor = b->cbor;
    *cbor_len = b->cbor_len;
    *body_len = b->body_len;
    return b->evidence;
}
