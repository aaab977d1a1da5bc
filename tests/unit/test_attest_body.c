/*
 * test_attest_body.c — the POST /v1/attest body parser (attest_body.c):
 * what a good body yields, each refusal with its exact code and detail, the
 * strict-JSON rules applied to the whole body, and the evidence tree handed
 * to the CMW parser (cmw.c's vfy_cmw_parse_tree), including its size limit.
 * The appraisal through a parsed body is in test_appraise.c.
 */
#define _GNU_SOURCE /* asprintf */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "internal.h"

/* 32 bytes of 0x00 and of 0xff, base64url without padding */
#define N0 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define NF "__________________________________________8"
/* 42 characters: one short of 32 bytes, for the 43-character cases below */
#define N42 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define EV "{\"__cmwc_t\":\"" VFY_CMW_TAG "\"}"

static vfy_rc parse(const char *body, vfy_attest_body **b, char *detail, size_t cap)
{
    return vfy_attest_body_parse(b, body, strlen(body), detail, cap);
}

static char *body(const char *nonce, const char *cb, const char *attester, const char *evidence,
                  const char *extra)
{
    char *s;

    cr_assert_gt(asprintf(&s, "{\"nonce\":\"%s\",\"channel_binding\":\"%s\",\"attester\":%s,"
                              "\"evidence\":%s%s%s}",
                          nonce, cb, attester, evidence, extra[0] ? "," : "", extra), 0);
    return s;
}

Test(attest_body, good_json_and_cbor_bodies)
{
    char *t = body(N0, NF, "\"agent-1\"", EV, "\"policy\":\"strict\",\"max_ttl_s\":86400");
    vfy_attest_body *b = NULL;
    vfy_appraisal_request rq;
    const struct cJSON *tree;
    const uint8_t *cbor;
    size_t cbor_len, body_len;
    uint8_t zero[32] = {0}, ff[32];
    char detail[256] = "x";

    memset(ff, 0xff, sizeof(ff));
    cr_assert_eq(parse(t, &b, detail, sizeof(detail)), VFY_OK, "%s", detail);
    cr_expect_str_eq(detail, "");
    cr_expect_eq(vfy_attest_body_format(b), VFY_CMW_JSON);
    memset(&rq, 0, sizeof(rq));
    rq.nonce_status = VFY_E_NONCE_REPLAY;
    rq.nonce_issued_at = 7;
    rq.now = 42;
    vfy_attest_body_request(b, &rq);
    cr_expect_arr_eq(rq.nonce, zero, 32);
    cr_expect_arr_eq(rq.channel_binding, ff, 32);
    cr_expect_str_eq(rq.attester, "agent-1");
    cr_expect_str_eq(rq.policy_id, "strict");
    cr_expect_eq(rq.max_ttl_s, 86400u);
    cr_expect_null(rq.evidence);
    cr_expect_eq((const void *)rq.body, (const void *)b);
    cr_expect_eq(rq.nonce_status, VFY_E_NONCE_REPLAY, "left as it was");
    cr_expect_eq(rq.nonce_issued_at, 7, "left as it was");
    cr_expect_eq(rq.now, 42);
    tree = vfy_attest_body_evidence(b, &cbor, &cbor_len, &body_len);
    cr_expect_not_null(tree);
    cr_expect_null(cbor);
    cr_expect_eq(body_len, strlen(t));
    vfy_attest_body_free(&b);
    cr_expect_null(b);
    vfy_attest_body_free(&b);   /* NULL is fine */
    free(t);

    /* an empty policy names none: refused, as the challenge refuses it (it
     * used to mean "no policy": an RP whose configured name came out empty
     * was appraised under the attester's own) */
    cr_assert_gt(asprintf(&t, "{\"evidence\":\"oQEC\",\"attester\":\"a\",\"channel_binding\":\"%s\","
                              "\"nonce\":\"%s\",\"policy\":\"\"}", N0, N0), 0);
    cr_assert_eq(parse(t, &b, detail, sizeof(detail)), VFY_E_JSON);
    cr_expect_str_eq(detail, "policy must not be empty (leave it out for the attester's own policy)");
    cr_expect_null(b);
    free(t);

    /* CBOR: a base64url string, decoded; no policy, no TTL; whitespace around */
    cr_assert_gt(asprintf(&t, " {\"evidence\":\"oQEC\",\"attester\":\"a\",\"channel_binding\":\"%s\","
                              "\"nonce\":\"%s\"}\n", N0, N0), 0);
    cr_assert_eq(parse(t, &b, detail, sizeof(detail)), VFY_OK, "%s", detail);
    cr_expect_eq(vfy_attest_body_format(b), VFY_CMW_CBOR);
    memset(&rq, 0, sizeof(rq));
    vfy_attest_body_request(b, &rq);
    cr_expect_null(rq.policy_id, "no policy field: none named");
    cr_expect_eq(rq.max_ttl_s, 0u);
    cr_expect_eq(rq.format, VFY_CMW_CBOR);
    tree = vfy_attest_body_evidence(b, &cbor, &cbor_len, &body_len);
    cr_expect_null(tree);
    cr_assert_eq(cbor_len, 3u);
    cr_expect_arr_eq(cbor, ((uint8_t[]){0xa1, 0x01, 0x02}), 3);
    vfy_attest_body_free(&b);
    free(t);
}

Test(attest_body, arguments)
{
    vfy_attest_body *b = (vfy_attest_body *)(uintptr_t)1;

    cr_expect_eq(vfy_attest_body_parse(NULL, "{}", 2, NULL, 0), VFY_E_INVALID_ARG);
    cr_expect_eq(vfy_attest_body_parse(&b, NULL, 2, NULL, 0), VFY_E_INVALID_ARG);
    cr_expect_null(b);
    cr_expect_eq(vfy_attest_body_parse(&b, NULL, 0, NULL, 0), VFY_E_JSON, "no body");
    cr_expect_null(b);
    vfy_attest_body_request(NULL, NULL);   /* no crash */
}

/* Every refusal: VFY_E_JSON, no body object, and this exact detail. */
struct refusal {
    const char *what, *body, *detail;
};

#define STRICT "body must be a JSON object (strict JSON: UTF-8, integers only)"
#define NOT_OBJ "body must be a JSON object"
#define NONCE "nonce must be 32 bytes, base64url without padding"
#define CB "channel_binding must be 32 bytes (tls-exporter), base64url without padding"
#define ATT "attester must be a name of 1..128 bytes without control characters"
#define POL "policy must be a string of at most 128 bytes without control characters"
#define TTL "max_ttl_s must be an integer 1..86400"
#define EVT "evidence must be a CMW JSON object or a base64url CMW CBOR string"
#define A63 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define A129 "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""

Test(attest_body, refusals_exact)
{
    /* bodies built around a good one: "%s" slots are filled per case below */
    const struct {
        const char *what, *nonce, *cb, *att, *ev, *extra, *detail;
    } f[] = {
        {"nonce 31 bytes", N42, N0, "\"a\"", EV, "", NONCE},
        {"nonce 33 bytes", N0 "AA", N0, "\"a\"", EV, "", NONCE},
        /* 43 characters, so the character is refused, not the length
         * (alphabet_at_the_right_length shows these are the ones) */
        {"nonce padded", N42 "=", N0, "\"a\"", EV, "", NONCE},
        {"nonce standard base64 +", "+" N42, N0, "\"a\"", EV, "", NONCE},
        {"nonce standard base64 /", "/" N42, N0, "\"a\"", EV, "", NONCE},
        {"cb 33 bytes", N0, N0 "AA", "\"a\"", EV, "", CB},
        {"cb padded", N0, N42 "=", "\"a\"", EV, "", CB},
        {"cb standard base64 +", N0, "+" N42, "\"a\"", EV, "", CB},
        {"cb standard base64 /", N0, "/" N42, "\"a\"", EV, "", CB},
        {"cb not base64url", N0, "*" N42, "\"a\"", EV, "", CB},
        {"attester empty", N0, N0, "\"\"", EV, "", ATT},
        {"attester 129 bytes", N0, N0, A129, EV, "", ATT},
        {"attester a number", N0, N0, "7", EV, "", ATT},
        {"attester with an escaped control character", N0, N0, "\"a\\u0001b\"", EV, "", ATT},
        {"attester with an escaped DEL", N0, N0, "\"a\\u007fb\"", EV, "", ATT},
        {"attester with an escaped newline", N0, N0, "\"a\\nb\"", EV, "", ATT},
        {"policy with an escaped tab", N0, N0, "\"a\"", EV, "\"policy\":\"a\\tb\"", POL},
        {"policy a number", N0, N0, "\"a\"", EV, "\"policy\":7", POL},
        {"policy 129 bytes", N0, N0, "\"a\"", EV, "\"policy\":" A129, POL},
        {"max_ttl_s 0", N0, N0, "\"a\"", EV, "\"max_ttl_s\":0", TTL},
        {"max_ttl_s 86401", N0, N0, "\"a\"", EV, "\"max_ttl_s\":86401", TTL},
        {"max_ttl_s -1", N0, N0, "\"a\"", EV, "\"max_ttl_s\":-1", TTL},
        {"max_ttl_s a string", N0, N0, "\"a\"", EV, "\"max_ttl_s\":\"60\"", TTL},
        {"max_ttl_s 2^64", N0, N0, "\"a\"", EV, "\"max_ttl_s\":18446744073709551616", TTL},
        {"evidence a number", N0, N0, "\"a\"", "42", "", EVT},
        {"evidence an array", N0, N0, "\"a\"", "[]", "", EVT},
        {"evidence null", N0, N0, "\"a\"", "null", "", EVT},
        {"evidence string not base64url", N0, N0, "\"a\"", "\"not*base64\"", "",
         "evidence string must be base64url CMW CBOR"},
        {"unknown field", N0, N0, "\"a\"", EV, "\"extra\":1", "unknown field \"extra\""},
        {"duplicate field", N0, N0, "\"a\"", EV, "\"attester\":\"b\"",
         "duplicate field \"attester\""},
        /* a name of 63 bytes and a 2-byte character: cut before it, not in it */
        {"unknown field cut between characters", N0, N0, "\"a\"", EV,
         "\"" A63 "\xc3\xa9x\":1", "unknown field \"" A63 "\""},
        {"max_ttl_s 1.5", N0, N0, "\"a\"", EV, "\"max_ttl_s\":1.5", STRICT},
        {"max_ttl_s 60.0", N0, N0, "\"a\"", EV, "\"max_ttl_s\":60.0", STRICT},
        {"max_ttl_s 1e3", N0, N0, "\"a\"", EV, "\"max_ttl_s\":1e3", STRICT},
        {"escaped NUL in the attester", N0, N0, "\"a\\u0000b\"", EV, "", STRICT},
        {"invalid UTF-8 in the attester", N0, N0, "\"\xc3\x28\xff\"", EV, "", STRICT},
        {"raw control character in the attester", N0, N0, "\"a\tb\"", EV, "", STRICT},
        {"invalid UTF-8 in the evidence", N0, N0, "\"a\"", "{\"\xed\xa0\x80\":1}", "", STRICT},
    };
    const struct refusal whole[] = {
        {"empty", "", STRICT},
        {"not JSON", "{\"nonce\":", STRICT},
        {"trailing bytes", "{} x", STRICT},
        {"two objects", "{}{}", STRICT},
        {"an array", "[]", NOT_OBJ},
        {"a string", "\"x\"", NOT_OBJ},
        {"no nonce", "{\"channel_binding\":\"" N0 "\",\"attester\":\"a\",\"evidence\":" EV "}",
         NONCE},
        {"no evidence", "{\"nonce\":\"" N0 "\",\"channel_binding\":\"" N0 "\",\"attester\":\"a\"}",
         EVT},
        {"nonce a number", "{\"nonce\":1,\"channel_binding\":\"" N0 "\",\"attester\":\"a\","
                           "\"evidence\":" EV "}", NONCE},
    };
    /* a raw NUL byte inside a JSON string (not \u0000): only an explicit
     * length gets it to the parser */
    static const char raw_nul[] = "{\"nonce\":\"" N0 "\",\"channel_binding\":\"" N0
                                  "\",\"attester\":\"a\0b\",\"evidence\":" EV "}";
    char detail[256], nul_body[sizeof(raw_nul)], *x;
    vfy_attest_body *nb = (vfy_attest_body *)(uintptr_t)1;
    vfy_rc nrc;

    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        char *t = body(f[i].nonce, f[i].cb, f[i].att, f[i].ev, f[i].extra);
        vfy_attest_body *b = (vfy_attest_body *)(uintptr_t)1;
        vfy_rc rc = parse(t, &b, detail, sizeof(detail));

        cr_expect_eq(rc, VFY_E_JSON, "%s: %s", f[i].what, vfy_rc_name(rc));
        cr_expect_null(b, "%s", f[i].what);
        cr_expect_str_eq(detail, f[i].detail, "%s", f[i].what);
        free(t);
    }
    for (size_t i = 0; i < sizeof(whole) / sizeof(whole[0]); i++) {
        vfy_attest_body *b = NULL;
        vfy_rc rc = parse(whole[i].body, &b, detail, sizeof(detail));

        cr_expect_eq(rc, VFY_E_JSON, "%s: %s", whole[i].what, vfy_rc_name(rc));
        cr_expect_null(b, "%s", whole[i].what);
        cr_expect_str_eq(detail, whole[i].detail, "%s", whole[i].what);
    }
    memcpy(nul_body, raw_nul, sizeof(raw_nul));
    x = memchr(nul_body, '\0', sizeof(nul_body) - 1);
    cr_assert_not_null(x, "the body holds a raw NUL");
    nrc = vfy_attest_body_parse(&nb, nul_body, sizeof(nul_body) - 1, detail, sizeof(detail));
    cr_expect_eq(nrc, VFY_E_JSON, "raw NUL in the attester: %s", vfy_rc_name(nrc));
    cr_expect_null(nb, "raw NUL in the attester");
    cr_expect_str_eq(detail, STRICT, "raw NUL in the attester");
    /* the same bytes with a printable character there: a good body */
    *x = 'x';
    cr_expect_eq(vfy_attest_body_parse(&nb, nul_body, sizeof(nul_body) - 1, detail, sizeof(detail)),
                 VFY_OK, "%s", detail);
    vfy_attest_body_free(&nb);
}

/* The padding and alphabet refusals above are 43 characters long, the
 * length of 32 bytes in base64url: with a base64url character in place of
 * the bad one they are accepted, so the refusal is the character's. */
Test(attest_body, alphabet_at_the_right_length)
{
    const struct {
        const char *bad, *good;
        int in_cb;
    } c[] = {
        {N42 "=", N42 "A", 0}, {"+" N42, "-" N42, 0}, {"/" N42, "_" N42, 0},
        {N42 "=", N42 "A", 1}, {"+" N42, "-" N42, 1}, {"/" N42, "_" N42, 1},
        {"*" N42, "A" N42, 1},
    };
    char detail[256];

    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        char *t;
        vfy_attest_body *b = NULL;

        cr_assert_eq(strlen(c[i].bad), 43u, "%s", c[i].bad);
        cr_assert_eq(strlen(c[i].good), 43u, "%s", c[i].good);
        t = c[i].in_cb ? body(N0, c[i].bad, "\"a\"", EV, "") : body(c[i].bad, N0, "\"a\"", EV, "");
        cr_expect_eq(parse(t, &b, detail, sizeof(detail)), VFY_E_JSON, "%s", c[i].bad);
        cr_expect_str_eq(detail, c[i].in_cb ? CB : NONCE, "%s", c[i].bad);
        free(t);
        t = c[i].in_cb ? body(N0, c[i].good, "\"a\"", EV, "") : body(c[i].good, N0, "\"a\"", EV, "");
        cr_expect_eq(parse(t, &b, detail, sizeof(detail)), VFY_OK, "%s: %s", c[i].good, detail);
        vfy_attest_body_free(&b);
        free(t);
    }
}

/* Nesting: the evidence may be 16 deep (the CMW limit), the body 17. */
Test(attest_body, nesting_limit)
{
    char ev[256] = "", *t;
    vfy_attest_body *b = NULL;
    char detail[256];
    size_t k = 0;

    for (int d = 0; d < 15; d++)
        k += (size_t)snprintf(ev + k, sizeof(ev) - k, "{\"a\":");
    k += (size_t)snprintf(ev + k, sizeof(ev) - k, "{}");
    for (int d = 0; d < 15; d++)
        k += (size_t)snprintf(ev + k, sizeof(ev) - k, "}");
    t = body(N0, N0, "\"a\"", ev, "");   /* evidence 16 deep */
    cr_expect_eq(parse(t, &b, detail, sizeof(detail)), VFY_OK, "%s", detail);
    vfy_attest_body_free(&b);
    free(t);
    cr_assert_gt(asprintf(&t, "{\"nonce\":\"%s\",\"channel_binding\":\"%s\",\"attester\":\"a\","
                              "\"evidence\":{\"x\":%s}}", N0, N0, ev), 0);   /* 17 deep */
    cr_expect_eq(parse(t, &b, detail, sizeof(detail)), VFY_E_JSON);
    cr_expect_null(b);
    cr_expect_str_eq(detail, "body nesting deeper than 17 (evidence deeper than 16)");
    free(t);
}

/* A CBOR evidence string decoding to more than 1 MiB: refused before the
 * decoded copy is allocated. */
Test(attest_body, cbor_string_over_the_evidence_limit)
{
    size_t n = ((1024 * 1024 + 2) / 3) * 4 + 4;   /* past base64url of 1 MiB */
    char detail[128], *ev = malloc(n + 3), *t;
    vfy_attest_body *b = NULL;

    ev[0] = '"';
    memset(ev + 1, 'A', n);
    ev[n + 1] = '"';
    ev[n + 2] = '\0';
    t = body(N0, N0, "\"a\"", ev, "");
    cr_expect_eq(parse(t, &b, detail, sizeof(detail)), VFY_E_CMW_TOO_LARGE);
    cr_expect_null(b);
    cr_expect_str_eq(detail, "evidence string decodes to more than 1 MiB");
    free(t);
    free(ev);
}

/* A body of thousands of values is refused before cJSON builds them. */
Test(attest_body, value_limit)
{
    char detail[256], *t, *many = malloc(2 * 4000 + 2);
    vfy_attest_body *b = NULL;
    size_t k = 0;

    many[k++] = '[';
    for (int i = 0; i < 4000; i++) {   /* "0,0,...,0" */
        if (i > 0)
            many[k++] = ',';
        many[k++] = '0';
    }
    many[k++] = ']';
    many[k] = '\0';
    t = body(N0, N0, "\"a\"", many, "");
    cr_expect_eq(parse(t, &b, detail, sizeof(detail)), VFY_E_JSON);
    cr_expect_null(b);
    cr_expect_str_eq(detail, "body holds more than 128 JSON values (an attest body and its "
                             "evidence hold a few dozen)");
    free(t);
    free(many);
}

/* The evidence member through vfy_cmw_parse_tree: the bytes path's codes,
 * and the 1 MiB limit measured on the compact form only when the body could
 * hold more. */
Test(attest_body, evidence_tree_and_size_limit)
{
    vfy_attest_body *b = NULL;
    const uint8_t *cbor;
    size_t cbor_len, body_len, big = VFY_CMW_MAX;
    const struct cJSON *tree;
    vfy_cmw *c = (vfy_cmw *)(uintptr_t)1;
    char detail[256], *t, *label;

    t = body(N0, N0, "\"a\"", EV, "");
    cr_assert_eq(parse(t, &b, detail, sizeof(detail)), VFY_OK);
    tree = vfy_attest_body_evidence(b, &cbor, &cbor_len, &body_len);
    cr_expect_eq(vfy_cmw_parse_tree(&c, tree, body_len, detail, sizeof(detail)),
                 VFY_E_CMW_MISSING);
    cr_expect_null(c);
    cr_expect_str_eq(detail, "record \"tpm-attest\" is missing");
    cr_expect_eq(vfy_cmw_parse_tree(NULL, tree, body_len, NULL, 0), VFY_E_INVALID_ARG);
    cr_expect_eq(vfy_cmw_parse_tree(&c, NULL, body_len, NULL, 0), VFY_E_INVALID_ARG);
    vfy_attest_body_free(&b);
    free(t);

    /* a label value of VFY_CMW_MAX bytes: the compact form is over the limit */
    label = malloc(big + 1);
    cr_assert_not_null(label);
    memset(label, 'a', big);
    label[big] = '\0';
    cr_assert_gt(asprintf(&t, "{\"nonce\":\"%s\",\"channel_binding\":\"%s\",\"attester\":\"a\","
                              "\"evidence\":{\"__cmwc_t\":\"%s\"}}", N0, N0, label), 0);
    cr_assert_eq(parse(t, &b, detail, sizeof(detail)), VFY_OK, "%s", detail);
    tree = vfy_attest_body_evidence(b, &cbor, &cbor_len, &body_len);
    cr_expect_gt(body_len, (size_t)VFY_CMW_MAX);
    cr_expect_eq(vfy_cmw_parse_tree(&c, tree, body_len, detail, sizeof(detail)),
                 VFY_E_CMW_TOO_LARGE);
    cr_expect_str_eq(detail, "evidence is 1048591 bytes, the limit is 1048576");
    /* the same tree with a bound at the limit is not measured: the label is
     * what is wrong with it then */
    cr_expect_eq(vfy_cmw_parse_tree(&c, tree, VFY_CMW_MAX, detail, sizeof(detail)),
                 VFY_E_CMW_TYPE);
    vfy_attest_body_free(&b);
    free(t);
    /* a body over 1 MiB whose evidence is small (whitespace): measured, fine */
    cr_assert_gt(asprintf(&t, "{\"nonce\":\"%s\",\"channel_binding\":\"%s\",\"attester\":\"a\","
                              "\"evidence\":%s%s}", N0, N0, EV, label), 0);
    memset(t + strlen(t) - 1 - big, ' ', big);
    cr_assert_eq(parse(t, &b, detail, sizeof(detail)), VFY_OK, "%s", detail);
    tree = vfy_attest_body_evidence(b, &cbor, &cbor_len, &body_len);
    cr_expect_gt(body_len, (size_t)VFY_CMW_MAX);
    cr_expect_eq(vfy_cmw_parse_tree(&c, tree, body_len, detail, sizeof(detail)),
                 VFY_E_CMW_MISSING);
    vfy_attest_body_free(&b);
    free(t);
    free(label);
}
