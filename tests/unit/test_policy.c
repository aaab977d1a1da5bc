/*
 * test_policy.c — appraisal policy parsing (policy.c): the shipped policies,
 * defaults, and every rejection with its exact error code.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify/verify.h"
#include "verify/policy.h"

static vfy_rc parse(const char *s, vfy_policy **p)
{
    return vfy_policy_parse(p, s, strlen(s));
}

static char *slurp(const char *rel, size_t *len)
{
    const char *src = getenv("VFY_SOURCE_DIR");
    char path[1024];
    FILE *f;
    char *buf;

    cr_assert_not_null(src, "VFY_SOURCE_DIR not set");
    snprintf(path, sizeof(path), "%s/%s", src, rel);
    f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    buf = malloc(1 << 16);
    *len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

/* Expect @rc from @json; on failure the output is NULL. */
static void expect(const char *json, vfy_rc rc)
{
    vfy_policy *p = (vfy_policy *)(uintptr_t)1;
    char detail[128] = "x";
    vfy_rc got = vfy_policy_parse_detail(&p, json, strlen(json), detail, sizeof(detail));

    cr_assert_eq(got, rc, "%s: got %s (%s), want %s", json, vfy_rc_name(got), detail,
                 vfy_rc_name(rc));
    if (rc != VFY_OK) {
        cr_assert_null(p);
        cr_assert_neq(detail[0], '\0', "no detail for %s", json);
    }
    vfy_policy_free(&p);
}

#define MIN "\"id\":\"p\",\"version\":1"

/* {MIN,"x":[[...]]} with total nesting depth @d (the object counts as 1). */
static void nest(char *buf, size_t cap, int d)
{
    size_t k = (size_t)snprintf(buf, cap, "{" MIN ",\"x\":");

    for (int i = 1; i < d; i++)
        buf[k++] = '[';
    for (int i = 1; i < d; i++)
        buf[k++] = ']';
    buf[k++] = '}';
    buf[k] = '\0';
    cr_assert_lt(k, cap);
}

Test(policy, shipped_default_is_the_design_example)
{
    size_t n;
    char *s = slurp("policies/default.json", &n);
    vfy_policy *p = NULL;

    cr_assert_eq(vfy_policy_parse(&p, s, n), VFY_OK);
    cr_assert_str_eq(vfy_policy_id(p), "default");
    cr_assert_eq(vfy_policy_version(p), 1);
    cr_assert_eq(vfy_policy_platform_bank(p), VFY_HASH_SHA256);
    cr_assert_eq(vfy_policy_platform_pcrs(p), 0xffu);
    cr_assert_eq(vfy_policy_agent_pcr(p), 23);
    cr_assert_eq(vfy_policy_history(p), VFY_HISTORY_APPROVED);
    cr_assert_eq(vfy_policy_unknown_context(p), VFY_TIER_WARNING);
    cr_assert_eq(vfy_policy_nonce_ttl_s(p), 60);
    cr_assert_eq(vfy_policy_result_ttl_s(p), 300);
    vfy_policy_free(&p);
    cr_assert_null(p);
    free(s);
}

Test(policy, shipped_strict)
{
    size_t n;
    char *s = slurp("policies/strict.json", &n);
    vfy_policy *p = NULL;

    cr_assert_eq(vfy_policy_parse(&p, s, n), VFY_OK);
    cr_assert_str_eq(vfy_policy_id(p), "strict");
    cr_assert_eq(vfy_policy_history(p), VFY_HISTORY_STRICT);
    cr_assert_eq(vfy_policy_unknown_context(p), VFY_TIER_CONTRAINDICATED);
    cr_assert_lt(vfy_policy_nonce_ttl_s(p), 60);
    cr_assert_lt(vfy_policy_result_ttl_s(p), 300);
    vfy_policy_free(&p);
    free(s);
}

Test(policy, defaults_equal_default_policy)
{
    vfy_policy *p = NULL, *d = NULL;

    cr_assert_eq(parse("{" MIN "}", &p), VFY_OK);
    cr_assert_eq(vfy_policy_new_default(&d), VFY_OK);
    cr_assert_str_eq(vfy_policy_id(p), "p");
    cr_assert_str_eq(vfy_policy_id(d), "default");
    cr_assert_eq(vfy_policy_version(d), 1);
    cr_assert_eq(vfy_policy_platform_bank(p), vfy_policy_platform_bank(d));
    cr_assert_eq(vfy_policy_platform_pcrs(p), 0xffu);
    cr_assert_eq(vfy_policy_platform_pcrs(d), 0xffu);
    cr_assert_eq(vfy_policy_agent_pcr(p), 23);
    cr_assert_eq(vfy_policy_agent_pcr(d), 23);
    cr_assert_eq(vfy_policy_history(p), VFY_HISTORY_APPROVED);
    cr_assert_eq(vfy_policy_history(d), VFY_HISTORY_APPROVED);
    cr_assert_eq(vfy_policy_unknown_context(p), VFY_TIER_WARNING);
    cr_assert_eq(vfy_policy_unknown_context(d), VFY_TIER_WARNING);
    cr_assert_eq(vfy_policy_nonce_ttl_s(p), 60);
    cr_assert_eq(vfy_policy_result_ttl_s(p), 300);
    vfy_policy_free(&p);
    vfy_policy_free(&d);
    vfy_policy_free(&d); /* idempotent */
    vfy_policy_free(NULL);
}

Test(policy, every_value_and_empty_sections)
{
    vfy_policy *p = NULL;

    cr_assert_eq(parse("{" MIN ",\"platform\":{\"pcrs\":[7,0]},\"agent\":{\"pcr\":8,"
                       "\"history\":\"current\",\"unknown_context\":\"ignore\"},"
                       "\"freshness\":{\"nonce_ttl_s\":1},\"result\":{\"ttl_s\":86400}}", &p),
                 VFY_OK);
    cr_assert_eq(vfy_policy_platform_pcrs(p), 0x81u);
    cr_assert_eq(vfy_policy_agent_pcr(p), 8);
    cr_assert_eq(vfy_policy_history(p), VFY_HISTORY_CURRENT);
    cr_assert_eq(vfy_policy_unknown_context(p), VFY_TIER_IGNORE);
    cr_assert_eq(vfy_policy_nonce_ttl_s(p), 1);
    cr_assert_eq(vfy_policy_result_ttl_s(p), 86400);
    vfy_policy_free(&p);
    cr_assert_eq(parse("{" MIN ",\"platform\":{},\"agent\":{},\"freshness\":{},\"result\":{}}", &p),
                 VFY_OK);
    cr_assert_eq(vfy_policy_platform_pcrs(p), 0xffu);
    vfy_policy_free(&p);
    /* 0 and 23 are both usable; version at its maximum; 64-byte id */
    cr_assert_eq(parse("{\"id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
                       "\"version\":2147483647,\"platform\":{\"pcrs\":[23]},\"agent\":{\"pcr\":0}}",
                       &p), VFY_OK);
    cr_assert_eq(vfy_policy_version(p), 2147483647u);
    cr_assert_eq(vfy_policy_platform_pcrs(p), 1u << 23);
    cr_assert_eq(vfy_policy_agent_pcr(p), 0);
    vfy_policy_free(&p);
}

Test(policy, names)
{
    cr_assert_str_eq(vfy_history_mode_name(VFY_HISTORY_STRICT), "strict");
    cr_assert_str_eq(vfy_history_mode_name(VFY_HISTORY_CURRENT), "current");
    cr_assert_null(vfy_history_mode_name((vfy_history_mode)0));
    cr_assert_str_eq(vfy_policy_tier_name(VFY_TIER_CONTRAINDICATED), "contraindicated");
    cr_assert_null(vfy_policy_tier_name((vfy_policy_tier)7));
}

Test(policy, malformed)
{
    expect("", VFY_E_POLICY_MALFORMED);
    expect("[]", VFY_E_POLICY_MALFORMED);
    expect("{" MIN, VFY_E_POLICY_MALFORMED);
    expect("{" MIN "} x", VFY_E_POLICY_MALFORMED);
    expect("{" MIN "}{}", VFY_E_POLICY_MALFORMED);
    expect("{\"id\":1,\"version\":1}", VFY_E_POLICY_MALFORMED);
    expect("{\"id\":\"p\",\"version\":\"1\"}", VFY_E_POLICY_MALFORMED);
    expect("{\"id\":\"p\",\"version\":1.0}", VFY_E_POLICY_MALFORMED);
    expect("{\"id\":\"p\",\"version\":1e0}", VFY_E_POLICY_MALFORMED);
    expect("{\"id\":\"p\",\"version\":01}", VFY_E_POLICY_MALFORMED);
    expect("{" MIN ",\"platform\":[]}", VFY_E_POLICY_MALFORMED);
    expect("{" MIN ",\"platform\":{\"pcrs\":7}}", VFY_E_POLICY_MALFORMED);
    expect("{" MIN ",\"platform\":{\"pcrs\":[\"7\"]}}", VFY_E_POLICY_MALFORMED);
    expect("{" MIN ",\"platform\":{\"bank\":256}}", VFY_E_POLICY_MALFORMED);
    expect("{" MIN ",\"agent\":{\"pcr\":true}}", VFY_E_POLICY_MALFORMED);
    expect("{" MIN ",\"agent\":{\"history\":1}}", VFY_E_POLICY_MALFORMED);
    expect("{" MIN ",\"agent\":{\"unknown_context\":null}}", VFY_E_POLICY_MALFORMED);
    expect("{" MIN ",\"freshness\":{\"nonce_ttl_s\":\"60\"}}", VFY_E_POLICY_MALFORMED);
    expect("{" MIN ",\"result\":null}", VFY_E_POLICY_MALFORMED);
    expect("{\"id\":\"p\x01\",\"version\":1}", VFY_E_POLICY_MALFORMED); /* raw control char */
    expect("{\"id\":\"p\\u0000q\",\"version\":1}", VFY_E_POLICY_MALFORMED);
    expect("{\"id\":\"\xc3\",\"version\":1}", VFY_E_POLICY_MALFORMED); /* bad UTF-8 */
}

Test(policy, embedded_nul_is_malformed)
{
    static const char s[] = "{\"id\":\"p\",\"version\":1}\0";
    vfy_policy *p = NULL;

    cr_assert_eq(vfy_policy_parse(&p, s, sizeof(s) - 1), VFY_E_POLICY_MALFORMED);
    cr_assert_eq(vfy_policy_parse(&p, s, sizeof(s) - 2), VFY_OK);
    vfy_policy_free(&p);
}

Test(policy, missing)
{
    expect("{\"version\":1}", VFY_E_POLICY_MISSING_FIELD);
    expect("{\"id\":\"p\"}", VFY_E_POLICY_MISSING_FIELD);
    expect("{}", VFY_E_POLICY_MISSING_FIELD);
}

Test(policy, unknown_fields)
{
    expect("{" MIN ",\"extra\":1}", VFY_E_POLICY_UNKNOWN_FIELD);
    expect("{" MIN ",\"platform\":{\"bnak\":\"sha256\"}}", VFY_E_POLICY_UNKNOWN_FIELD);
    expect("{" MIN ",\"agent\":{\"pcr\":23,\"mode\":\"x\"}}", VFY_E_POLICY_UNKNOWN_FIELD);
    expect("{" MIN ",\"freshness\":{\"ttl_s\":60}}", VFY_E_POLICY_UNKNOWN_FIELD);
    expect("{" MIN ",\"result\":{\"nonce_ttl_s\":60}}", VFY_E_POLICY_UNKNOWN_FIELD);
}

Test(policy, duplicates)
{
    expect("{" MIN ",\"id\":\"q\"}", VFY_E_POLICY_DUPLICATE);
    expect("{" MIN ",\"agent\":{\"history\":\"strict\",\"history\":\"current\"}}",
           VFY_E_POLICY_DUPLICATE);
    expect("{" MIN ",\"result\":{},\"result\":{}}", VFY_E_POLICY_DUPLICATE);
}

Test(policy, id)
{
    expect("{\"id\":\"\",\"version\":1}", VFY_E_POLICY_ID);
    expect("{\"id\":\"default@1\",\"version\":1}", VFY_E_POLICY_ID);
    expect("{\"id\":\"a b\",\"version\":1}", VFY_E_POLICY_ID);
    expect("{\"id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"version\":1}",
           VFY_E_POLICY_ID); /* 65 bytes */
}

Test(policy, ranges)
{
    expect("{\"id\":\"p\",\"version\":0}", VFY_E_POLICY_RANGE);
    expect("{\"id\":\"p\",\"version\":-1}", VFY_E_POLICY_RANGE);
    expect("{\"id\":\"p\",\"version\":2147483648}", VFY_E_POLICY_RANGE);
    expect("{\"id\":\"p\",\"version\":99999999999999999999999}", VFY_E_POLICY_RANGE);
    expect("{" MIN ",\"freshness\":{\"nonce_ttl_s\":0}}", VFY_E_POLICY_RANGE);
    expect("{" MIN ",\"freshness\":{\"nonce_ttl_s\":86401}}", VFY_E_POLICY_RANGE);
    expect("{" MIN ",\"result\":{\"ttl_s\":0}}", VFY_E_POLICY_RANGE);
    expect("{" MIN ",\"result\":{\"ttl_s\":86401}}", VFY_E_POLICY_RANGE);
    expect("{" MIN ",\"result\":{\"ttl_s\":-300}}", VFY_E_POLICY_RANGE);
}

Test(policy, bank)
{
    expect("{" MIN ",\"platform\":{\"bank\":\"sha1\"}}", VFY_E_POLICY_BANK);
    expect("{" MIN ",\"platform\":{\"bank\":\"SHA256\"}}", VFY_E_POLICY_BANK);
    expect("{" MIN ",\"platform\":{\"bank\":\"sha384\"}}", VFY_E_POLICY_BANK);
}

Test(policy, pcrs)
{
    expect("{" MIN ",\"platform\":{\"pcrs\":[24]}}", VFY_E_POLICY_PCR);
    expect("{" MIN ",\"platform\":{\"pcrs\":[-1]}}", VFY_E_POLICY_PCR);
    expect("{" MIN ",\"platform\":{\"pcrs\":[1,2,1]}}", VFY_E_POLICY_PCR);
    expect("{" MIN ",\"platform\":{\"pcrs\":[]}}", VFY_E_POLICY_PCR);
    expect("{" MIN ",\"agent\":{\"pcr\":24}}", VFY_E_POLICY_PCR);
    expect("{" MIN ",\"agent\":{\"pcr\":7}}", VFY_E_POLICY_PCR); /* in the default list */
    expect("{" MIN ",\"platform\":{\"pcrs\":[23]}}", VFY_E_POLICY_PCR); /* default agent pcr */
}

Test(policy, enums)
{
    expect("{" MIN ",\"agent\":{\"history\":\"Strict\"}}", VFY_E_POLICY_ENUM);
    expect("{" MIN ",\"agent\":{\"history\":\"\"}}", VFY_E_POLICY_ENUM);
    expect("{" MIN ",\"agent\":{\"unknown_context\":\"affirming\"}}", VFY_E_POLICY_ENUM);
}

Test(policy, limits)
{
    size_t n = VFY_POLICY_MAX + 1;
    char *s = malloc(n);
    char deep[128];

    /* a valid policy padded with whitespace to one byte over the limit */
    memset(s, ' ', n);
    memcpy(s, "{" MIN "}", strlen("{" MIN "}"));
    vfy_policy *p = NULL;
    cr_assert_eq(vfy_policy_parse(&p, s, n), VFY_E_POLICY_TOO_LARGE);
    cr_assert_null(p);
    cr_assert_eq(vfy_policy_parse(&p, s, n - 1), VFY_OK);
    vfy_policy_free(&p);
    free(s);

    /* "x" holds @d-1 nested arrays: the document's depth is @d */
    nest(deep, sizeof(deep), 17);
    expect(deep, VFY_E_POLICY_NESTING);
    nest(deep, sizeof(deep), 16); /* at the limit the unknown field "x" is what fails */
    expect(deep, VFY_E_POLICY_UNKNOWN_FIELD);
}

Test(policy, bad_args)
{
    vfy_policy *p = NULL;

    cr_assert_eq(vfy_policy_parse(NULL, "{}", 2), VFY_E_INVALID_ARG);
    cr_assert_eq(vfy_policy_parse(&p, NULL, 0), VFY_E_INVALID_ARG);
    cr_assert_eq(vfy_policy_new_default(NULL), VFY_E_INVALID_ARG);
}
