/*
 * test_manifest.c — agent manifest parsing (manifest.c): the DESIGN §5
 * example, accessors, the digest over exact bytes, every limit and every
 * rejection with its exact error code.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify/verify.h"
#include "verify/manifest.h"

#define HA "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HB "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HC "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

#define MODELS "\"models\":[{\"name\":\"llama-3.1-8b-instruct\",\"digest\":\"" HA "\"}]"
#define TOOLS "\"tools\":[{\"name\":\"payments.transfer\",\"version\":\"2.1.0\",\"digest\":\"" HB "\"}]"
#define POLICIES "\"policies\":[{\"name\":\"spend-limits\",\"digest\":\"" HA "\"}]"
#define CONTEXT "\"context\":{\"digest\":\"" HC "\"}"
#define HEAD "\"agent_id\":\"travel-agent-01\",\"manifest_version\":7"
#define EXAMPLE "{" HEAD "," MODELS "," TOOLS "," POLICIES "," CONTEXT "}"

static void expect(const char *json, vfy_rc rc)
{
    vfy_manifest *m = (vfy_manifest *)(uintptr_t)1;
    char detail[160] = "x";
    vfy_rc got = vfy_manifest_parse(&m, json, strlen(json), detail, sizeof(detail));

    cr_assert_eq(got, rc, "%s: got %s (%s), want %s", json, vfy_rc_name(got), detail,
                 vfy_rc_name(rc));
    if (rc != VFY_OK) {
        cr_assert_null(m);
        cr_assert_neq(detail[0], '\0');
    }
    vfy_manifest_free(&m);
}

Test(manifest, design_example)
{
    const char *s = EXAMPLE;
    vfy_manifest *m = NULL;
    uint8_t md[32], d[32];
    const vfy_manifest_entry *e;

    cr_assert_eq(vfy_manifest_parse(&m, s, strlen(s), NULL, 0), VFY_OK);
    cr_assert_str_eq(vfy_manifest_agent_id(m), "travel-agent-01");
    cr_assert_eq(vfy_manifest_version(m), 7);
    cr_assert_eq(vfy_sha256(s, strlen(s), md), VFY_OK);
    cr_assert_eq(memcmp(vfy_manifest_digest(m), md, 32), 0);
    cr_assert_eq(vfy_sha256_parse(d, HC, strlen(HC)), VFY_OK);
    cr_assert_eq(memcmp(vfy_manifest_context_digest(m), d, 32), 0);

    cr_assert_eq(vfy_manifest_count(m, VFY_MANIFEST_MODELS), 1);
    e = vfy_manifest_entry_at(m, VFY_MANIFEST_MODELS, 0);
    cr_assert_str_eq(e->name, "llama-3.1-8b-instruct");
    cr_assert_null(e->version);
    cr_assert_eq(e->digest[0], 0xaa);
    cr_assert_null(vfy_manifest_entry_at(m, VFY_MANIFEST_MODELS, 1));

    e = vfy_manifest_entry_at(m, VFY_MANIFEST_TOOLS, 0);
    cr_assert_str_eq(e->name, "payments.transfer");
    cr_assert_str_eq(e->version, "2.1.0");
    cr_assert_eq(e->digest[31], 0xbb);

    e = vfy_manifest_entry_at(m, VFY_MANIFEST_POLICIES, 0);
    cr_assert_str_eq(e->name, "spend-limits");
    cr_assert_eq(vfy_manifest_count(m, (vfy_manifest_list)9), 0);
    cr_assert_null(vfy_manifest_entry_at(m, (vfy_manifest_list)0, 0));
    vfy_manifest_free(&m);
    cr_assert_null(m);
    vfy_manifest_free(&m);
}

Test(manifest, digest_is_over_exact_bytes)
{
    const char *a = EXAMPLE;
    const char *b = "{ " HEAD "," MODELS "," TOOLS "," POLICIES "," CONTEXT "}\n";
    vfy_manifest *ma = NULL, *mb = NULL;

    cr_assert_eq(vfy_manifest_parse(&ma, a, strlen(a), NULL, 0), VFY_OK);
    cr_assert_eq(vfy_manifest_parse(&mb, b, strlen(b), NULL, 0), VFY_OK);
    cr_assert_neq(memcmp(vfy_manifest_digest(ma), vfy_manifest_digest(mb), 32), 0);
    vfy_manifest_free(&ma);
    vfy_manifest_free(&mb);
}

Test(manifest, empty_lists_and_version_bounds)
{
    expect("{\"agent_id\":\"a\",\"manifest_version\":0,\"models\":[],\"tools\":[],"
           "\"policies\":[]," CONTEXT "}", VFY_OK);
    expect("{\"agent_id\":\"a\",\"manifest_version\":9007199254740991,\"models\":[],"
           "\"tools\":[],\"policies\":[]," CONTEXT "}", VFY_OK);
    expect("{\"agent_id\":\"a\",\"manifest_version\":9007199254740992,\"models\":[],"
           "\"tools\":[],\"policies\":[]," CONTEXT "}", VFY_E_MANIFEST_VERSION);
    expect("{\"agent_id\":\"a\",\"manifest_version\":-1,\"models\":[],\"tools\":[],"
           "\"policies\":[]," CONTEXT "}", VFY_E_MANIFEST_VERSION);
    expect("{\"agent_id\":\"a\",\"manifest_version\":\"7\",\"models\":[],\"tools\":[],"
           "\"policies\":[]," CONTEXT "}", VFY_E_MANIFEST_VERSION);
}

Test(manifest, malformed)
{
    expect("", VFY_E_MANIFEST_MALFORMED);
    expect("[]", VFY_E_MANIFEST_MALFORMED);
    expect("{" HEAD, VFY_E_MANIFEST_MALFORMED);
    expect(EXAMPLE "x", VFY_E_MANIFEST_MALFORMED);
    expect("{\"agent_id\":\"a\",\"manifest_version\":7.5," MODELS "," TOOLS "," POLICIES
           "," CONTEXT "}", VFY_E_MANIFEST_MALFORMED);
    expect("{\"agent_id\":5,\"manifest_version\":7," MODELS "," TOOLS "," POLICIES "," CONTEXT "}",
           VFY_E_MANIFEST_MALFORMED);
    expect("{" HEAD ",\"models\":{}," TOOLS "," POLICIES "," CONTEXT "}",
           VFY_E_MANIFEST_MALFORMED);
    expect("{" HEAD ",\"models\":[\"x\"]," TOOLS "," POLICIES "," CONTEXT "}",
           VFY_E_MANIFEST_MALFORMED);
    expect("{" HEAD "," MODELS "," TOOLS "," POLICIES ",\"context\":\"" HC "\"}",
           VFY_E_MANIFEST_MALFORMED);
    expect("{" HEAD ",\"models\":[{\"name\":\"m\",\"digest\":1}]," TOOLS "," POLICIES "," CONTEXT "}",
           VFY_E_MANIFEST_MALFORMED);
    expect("{" HEAD ",\"models\":[{\"name\":[],\"digest\":\"" HA "\"}]," TOOLS "," POLICIES
           "," CONTEXT "}", VFY_E_MANIFEST_MALFORMED);
}

Test(manifest, missing_fields)
{
    expect("{" HEAD "," MODELS "," TOOLS "," POLICIES "}", VFY_E_MANIFEST_MISSING_FIELD);
    expect("{\"manifest_version\":7," MODELS "," TOOLS "," POLICIES "," CONTEXT "}",
           VFY_E_MANIFEST_MISSING_FIELD);
    expect("{\"agent_id\":\"a\"," MODELS "," TOOLS "," POLICIES "," CONTEXT "}",
           VFY_E_MANIFEST_MISSING_FIELD);
    expect("{" HEAD "," TOOLS "," POLICIES "," CONTEXT "}", VFY_E_MANIFEST_MISSING_FIELD);
    expect("{" HEAD "," MODELS "," TOOLS "," POLICIES ",\"context\":{}}",
           VFY_E_MANIFEST_MISSING_FIELD);
    /* a tool without version, a model without digest */
    expect("{" HEAD "," MODELS ",\"tools\":[{\"name\":\"t\",\"digest\":\"" HA "\"}],"
           POLICIES "," CONTEXT "}", VFY_E_MANIFEST_MISSING_FIELD);
    expect("{" HEAD ",\"models\":[{\"name\":\"m\"}]," TOOLS "," POLICIES "," CONTEXT "}",
           VFY_E_MANIFEST_MISSING_FIELD);
}

Test(manifest, unknown_fields)
{
    expect("{" HEAD "," MODELS "," TOOLS "," POLICIES "," CONTEXT ",\"x\":1}",
           VFY_E_MANIFEST_UNKNOWN_FIELD);
    /* a model may not carry a version (only tools do) */
    expect("{" HEAD ",\"models\":[{\"name\":\"m\",\"version\":\"1\",\"digest\":\"" HA "\"}],"
           TOOLS "," POLICIES "," CONTEXT "}", VFY_E_MANIFEST_UNKNOWN_FIELD);
    expect("{" HEAD "," MODELS "," TOOLS "," POLICIES ",\"context\":{\"digest\":\"" HC
           "\",\"note\":\"x\"}}", VFY_E_MANIFEST_UNKNOWN_FIELD);
}

Test(manifest, duplicate_keys)
{
    expect("{" HEAD ",\"agent_id\":\"other\"," MODELS "," TOOLS "," POLICIES "," CONTEXT "}",
           VFY_E_MANIFEST_DUPLICATE);
    expect("{" HEAD "," MODELS "," MODELS "," TOOLS "," POLICIES "," CONTEXT "}",
           VFY_E_MANIFEST_DUPLICATE);
    expect("{" HEAD ",\"models\":[{\"name\":\"m\",\"digest\":\"" HA "\",\"digest\":\"" HB
           "\"}]," TOOLS "," POLICIES "," CONTEXT "}", VFY_E_MANIFEST_DUPLICATE);
}

Test(manifest, names)
{
    expect("{\"agent_id\":\"\",\"manifest_version\":7," MODELS "," TOOLS "," POLICIES "," CONTEXT "}",
           VFY_E_MANIFEST_NAME);
    expect("{" HEAD ",\"models\":[{\"name\":\"a\\tb\",\"digest\":\"" HA "\"}]," TOOLS ","
           POLICIES "," CONTEXT "}", VFY_E_MANIFEST_NAME);
    expect("{" HEAD "," MODELS ",\"tools\":[{\"name\":\"t\",\"version\":\"\",\"digest\":\"" HA
           "\"}]," POLICIES "," CONTEXT "}", VFY_E_MANIFEST_NAME);
    /* C1 controls and bidirectional overrides, escaped or raw */
    expect("{" HEAD ",\"models\":[{\"name\":\"x\\u009b31m\",\"digest\":\"" HA "\"}]," TOOLS ","
           POLICIES "," CONTEXT "}", VFY_E_MANIFEST_NAME);
    expect("{" HEAD ",\"models\":[{\"name\":\"a\xe2\x80\xaegnp.exe\",\"digest\":\"" HA
           "\"}]," TOOLS "," POLICIES "," CONTEXT "}", VFY_E_MANIFEST_NAME);
    expect("{\"agent_id\":\"a\\u202egnp\",\"manifest_version\":7," MODELS "," TOOLS ","
           POLICIES "," CONTEXT "}", VFY_E_MANIFEST_NAME);
}

Test(manifest, digests)
{
    expect("{" HEAD ",\"models\":[{\"name\":\"m\",\"digest\":\"sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}],"
           TOOLS "," POLICIES "," CONTEXT "}", VFY_E_MANIFEST_DIGEST);
    expect("{" HEAD ",\"models\":[{\"name\":\"m\",\"digest\":\"sha384:aa\"}]," TOOLS ","
           POLICIES "," CONTEXT "}", VFY_E_MANIFEST_DIGEST);
    expect("{" HEAD "," MODELS "," TOOLS "," POLICIES ",\"context\":{\"digest\":\"sha256:ab\"}}",
           VFY_E_MANIFEST_DIGEST);
}

/* A manifest whose models list has @n entries, with @name_len-byte names. */
static char *build(size_t n, size_t name_len, size_t *len)
{
    size_t cap = 256 + n * (name_len + 120) + 512;
    char *s = malloc(cap), *name = malloc(name_len + 1);
    size_t k;

    memset(name, 'n', name_len);
    name[name_len] = '\0';
    k = (size_t)snprintf(s, cap, "{" HEAD ",\"models\":[");
    for (size_t i = 0; i < n; i++)
        k += (size_t)snprintf(s + k, cap - k, "%s{\"name\":\"%s\",\"digest\":\"" HA "\"}",
                              i ? "," : "", name);
    k += (size_t)snprintf(s + k, cap - k, "]," TOOLS "," POLICIES "," CONTEXT "}");
    free(name);
    *len = k;
    return s;
}

Test(manifest, limit_entries)
{
    size_t len;
    char *s = build(256, 4, &len);
    vfy_manifest *m = NULL;

    cr_assert_eq(vfy_manifest_parse(&m, s, len, NULL, 0), VFY_OK);
    cr_assert_eq(vfy_manifest_count(m, VFY_MANIFEST_MODELS), 256);
    vfy_manifest_free(&m);
    free(s);
    s = build(257, 4, &len);
    cr_assert_eq(vfy_manifest_parse(&m, s, len, NULL, 0), VFY_E_MANIFEST_TOO_MANY);
    cr_assert_null(m);
    free(s);
    /* 64 KiB of bare values: refused before cJSON builds them */
    {
        size_t n = VFY_MANIFEST_MAX - 8, k = 0;
        char *b = malloc(n + 8), detail[128];

        k += (size_t)snprintf(b, n, "{\"models\":[");
        while (k + 4 < n) {
            b[k++] = '0';
            b[k++] = ',';
        }
        b[k++] = '0';
        b[k++] = ']';
        b[k++] = '}';
        cr_assert_eq(vfy_manifest_parse(&m, b, k, detail, sizeof(detail)), VFY_E_MANIFEST_TOO_MANY);
        cr_expect_str_eq(detail, "more than 6211 JSON values");
        free(b);
    }
}

Test(manifest, limit_name_length)
{
    size_t len;
    char *s = build(1, 128, &len);
    vfy_manifest *m = NULL;

    cr_assert_eq(vfy_manifest_parse(&m, s, len, NULL, 0), VFY_OK);
    vfy_manifest_free(&m);
    free(s);
    s = build(1, 129, &len);
    cr_assert_eq(vfy_manifest_parse(&m, s, len, NULL, 0), VFY_E_MANIFEST_NAME);
    free(s);
}

Test(manifest, limit_size)
{
    size_t n = VFY_MANIFEST_MAX + 1;
    char *s = malloc(n);
    vfy_manifest *m = NULL;

    memset(s, ' ', n);
    memcpy(s, EXAMPLE, strlen(EXAMPLE));
    cr_assert_eq(vfy_manifest_parse(&m, s, n, NULL, 0), VFY_E_MANIFEST_TOO_LARGE);
    cr_assert_eq(vfy_manifest_parse(&m, s, n - 1, NULL, 0), VFY_OK);
    vfy_manifest_free(&m);
    free(s);
}

/* EXAMPLE plus "x" holding @d-1 nested arrays: total nesting depth @d. */
static void nest(char *buf, size_t cap, int d)
{
    size_t k = (size_t)snprintf(buf, cap, "{" HEAD "," MODELS "," TOOLS "," POLICIES
                                "," CONTEXT ",\"x\":");

    cr_assert_lt(k + 2 * (size_t)d + 2, cap);
    for (int i = 1; i < d; i++)
        buf[k++] = '[';
    for (int i = 1; i < d; i++)
        buf[k++] = ']';
    buf[k++] = '}';
    buf[k] = '\0';
}

Test(manifest, limit_nesting)
{
    char s[1024];

    nest(s, sizeof(s), 17);
    expect(s, VFY_E_MANIFEST_NESTING);
    nest(s, sizeof(s), 16); /* at the limit the parse reaches the unknown field */
    expect(s, VFY_E_MANIFEST_UNKNOWN_FIELD);
}

Test(manifest, bad_args)
{
    vfy_manifest *m = NULL;

    cr_assert_eq(vfy_manifest_parse(NULL, "{}", 2, NULL, 0), VFY_E_INVALID_ARG);
    cr_assert_eq(vfy_manifest_parse(&m, NULL, 2, NULL, 0), VFY_E_INVALID_ARG);
}
