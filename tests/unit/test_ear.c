/*
 * test_ear.c — AR4SI tiers, EAR claims, ES256 JWS sign/verify and every
 * relying-party rejection path with its exact error (ear.c, jws.c).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "jose.h" /* vfy_signing_key_pkey, to forge tokens with chosen headers */
#include "verify/verify.h"
#include "verify/jwk.h"
#include "verify/ear.h"

#define NOW 1765000000

static const uint8_t NONCE[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t CB[32] = {0xcb, 0xcb, 0xcb, 0xcb, 0xcb, 0xcb, 0xcb, 0xcb, 0xcb, 0xcb, 0xcb,
                               0xcb, 0xcb, 0xcb, 0xcb, 0xcb, 0xcb, 0xcb, 0xcb, 0xcb, 0xcb, 0xcb,
                               0xcb, 0xcb, 0xcb, 0xcb, 0xcb, 0xcb, 0xcb, 0xcb, 0xcb, 0x01};

static vfy_signing_key *key;
static vfy_jwks *keys;

static void setup(void)
{
    cr_assert_eq(vfy_signing_key_generate(&key), VFY_OK);
    cr_assert_eq(vfy_jwks_new(&keys), VFY_OK);
    cr_assert_eq(vfy_jwks_add(keys, key), VFY_OK);
}

static void teardown(void)
{
    vfy_jwks_free(&keys);
    vfy_signing_key_free(&key);
}

static const char *const POLICIES[] = {"default@1"};
static const char *const REASONS[] = {"model llama-x sha256:00 is not an approved reference value"};

/* An affirming platform + agent result, as verifierd would issue it. */
static vfy_ear_claims sample(vfy_ear_profile profile)
{
    vfy_ear_claims c;

    memset(&c, 0, sizeof(c));
    c.profile = profile;
    c.iat = NOW;
    c.exp = NOW + vfy_ear_ttl(300, 0);
    c.verifier_build = "verifierd 0.1.0";
    c.attester = "agent-1";
    c.nonce = NONCE;
    c.nonce_len = sizeof(NONCE);
    c.channel_binding = CB;
    c.submod[VFY_EAR_PLATFORM].present = 1;
    vfy_trust_vector_set(&c.submod[VFY_EAR_PLATFORM].tv, VFY_TV_INSTANCE_IDENTITY, 2);
    vfy_trust_vector_set(&c.submod[VFY_EAR_PLATFORM].tv, VFY_TV_EXECUTABLES, 2);
    c.submod[VFY_EAR_PLATFORM].policy_ids = POLICIES;
    c.submod[VFY_EAR_PLATFORM].n_policy_ids = 1;
    c.submod[VFY_EAR_AGENT].present = 1;
    vfy_trust_vector_set(&c.submod[VFY_EAR_AGENT].tv, VFY_TV_EXECUTABLES, 2);
    vfy_trust_vector_set(&c.submod[VFY_EAR_AGENT].tv, VFY_TV_CONFIGURATION, 2);
    c.submod[VFY_EAR_AGENT].policy_ids = POLICIES;
    c.submod[VFY_EAR_AGENT].n_policy_ids = 1;
    c.has_manifest = 1;
    memset(c.manifest_digest, 0xab, 32);
    c.manifest_version = 7;
    return c;
}

static char *sign_sample(void)
{
    vfy_ear_claims c = sample(VFY_EAR_PROFILE_IETF);
    char *jws = NULL;

    cr_assert_eq(vfy_ear_sign(&c, key, &jws, NULL), VFY_OK);
    return jws;
}

static vfy_rc verify(const char *jws)
{
    vfy_ear *e = (vfy_ear *)1;
    vfy_rc rc = vfy_ear_verify(&e, jws, strlen(jws), keys, NONCE, 32, CB, NOW + 1);

    if (rc != VFY_OK)
        cr_assert_null(e, "handle must be NULL on failure");
    vfy_ear_free(&e);
    return rc;
}

/* Append @s to the NUL-terminated @out of @cap bytes (asserts it fits). */
static void append(char *out, size_t cap, const char *s)
{
    size_t o = strlen(out), n = strlen(s);

    cr_assert(o + n < cap);
    memcpy(out + o, s, n + 1);
}

/* base64url(s) appended to out */
static void b64_append(char *out, size_t cap, const char *s)
{
    char *b = vfy_b64url_dup((const uint8_t *)s, strlen(s));

    cr_assert_not_null(b);
    append(out, cap, b);
    free(b);
}

/* A JWS with any header and payload, validly signed by key (raw r||s). */
static char *forge(const char *header, const char *payload)
{
    static char jws[16384];
    uint8_t der[80], raw[64];
    size_t dlen = sizeof(der);
    const unsigned char *p = der;
    const BIGNUM *r, *s;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    ECDSA_SIG *sig;
    char *sig64;

    jws[0] = '\0';
    b64_append(jws, sizeof(jws), header);
    append(jws, sizeof(jws), ".");
    b64_append(jws, sizeof(jws), payload);
    cr_assert_eq(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, vfy_signing_key_pkey(key)), 1);
    cr_assert_eq(EVP_DigestSign(md, der, &dlen, (const unsigned char *)jws, strlen(jws)), 1);
    EVP_MD_CTX_free(md);
    sig = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
    cr_assert_not_null(sig);
    ECDSA_SIG_get0(sig, &r, &s);
    BN_bn2binpad(r, raw, 32);
    BN_bn2binpad(s, raw + 32, 32);
    ECDSA_SIG_free(sig);
    sig64 = vfy_b64url_dup(raw, 64);
    append(jws, sizeof(jws), ".");
    append(jws, sizeof(jws), sig64);
    free(sig64);
    return jws;
}

/* The decoded payload of a JWS we issued (for forging variants of it). */
static char *payload_of(const char *jws)
{
    const char *d1 = strchr(jws, '.'), *d2 = strchr(d1 + 1, '.');
    static char out[8192];
    size_t n = 0;

    cr_assert_eq(vfy_b64url_decode((uint8_t *)out, sizeof(out) - 1, &n, d1 + 1,
                                   (size_t)(d2 - d1 - 1)), VFY_OK);
    out[n] = '\0';
    return out;
}

static char *hdr_ok(void)
{
    static char h[256];

    snprintf(h, sizeof(h), "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
             vfy_signing_key_kid(key));
    return h;
}

TestSuite(ear, .init = setup, .fini = teardown);

Test(ear, ar4si_tiers)
{
    static const struct { int v; vfy_ear_status s; } t[] = {
        {0, VFY_EAR_NONE}, {1, VFY_EAR_NONE}, {-1, VFY_EAR_NONE},
        {2, VFY_EAR_AFFIRMING}, {31, VFY_EAR_AFFIRMING}, {-2, VFY_EAR_AFFIRMING}, {-32, VFY_EAR_AFFIRMING},
        {32, VFY_EAR_WARNING}, {33, VFY_EAR_WARNING}, {95, VFY_EAR_WARNING}, {-33, VFY_EAR_WARNING}, {-96, VFY_EAR_WARNING},
        {96, VFY_EAR_CONTRAINDICATED}, {97, VFY_EAR_CONTRAINDICATED}, {127, VFY_EAR_CONTRAINDICATED},
        {-97, VFY_EAR_CONTRAINDICATED}, {-128, VFY_EAR_CONTRAINDICATED},
        {128, VFY_EAR_CONTRAINDICATED}, {-129, VFY_EAR_CONTRAINDICATED}, {1000, VFY_EAR_CONTRAINDICATED},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        cr_assert_eq(vfy_ar4si_tier(t[i].v), t[i].s, "value %d", t[i].v);
}

Test(ear, vector_status_is_worst_tier)
{
    vfy_trust_vector tv;

    memset(&tv, 0, sizeof(tv));
    cr_assert_eq(vfy_trust_vector_status(&tv), VFY_EAR_NONE);
    cr_assert_eq(vfy_trust_vector_set(&tv, VFY_TV_INSTANCE_IDENTITY, 2), VFY_OK);
    cr_assert_eq(vfy_trust_vector_status(&tv), VFY_EAR_AFFIRMING);
    cr_assert_eq(vfy_trust_vector_set(&tv, VFY_TV_CONFIGURATION, 0), VFY_OK);
    cr_assert_eq(vfy_trust_vector_status(&tv), VFY_EAR_AFFIRMING);
    cr_assert_eq(vfy_trust_vector_set(&tv, VFY_TV_EXECUTABLES, 33), VFY_OK);
    cr_assert_eq(vfy_trust_vector_status(&tv), VFY_EAR_WARNING);
    cr_assert_eq(vfy_trust_vector_set(&tv, VFY_TV_HARDWARE, 97), VFY_OK);
    cr_assert_eq(vfy_trust_vector_status(&tv), VFY_EAR_CONTRAINDICATED);
    cr_assert_eq(vfy_trust_vector_set(&tv, VFY_TV_HARDWARE, 128), VFY_E_INVALID_ARG);
    cr_assert_eq(vfy_trust_vector_set(&tv, VFY_TV_COUNT, 2), VFY_E_INVALID_ARG);
}

Test(ear, ttl_is_min_of_policy_and_request)
{
    cr_assert_eq(vfy_ear_ttl(300, 0), 300);
    cr_assert_eq(vfy_ear_ttl(300, 60), 60);
    cr_assert_eq(vfy_ear_ttl(300, 301), 300);
    cr_assert_eq(vfy_ear_ttl(300, 300), 300);
}

Test(ear, sign_verify_roundtrip_ietf)
{
    char *jws = sign_sample(), jti[VFY_EAR_JTI_MAX + 1];
    vfy_ear *e = NULL;
    vfy_trust_vector tv;
    uint8_t md[32], want_md[32];
    const uint8_t *n;
    size_t nlen;
    int64_t mv;
    cJSON *j, *sub;

    cr_assert_eq(vfy_ear_verify(&e, jws, strlen(jws), keys, NONCE, 32, CB, NOW + 1), VFY_OK);
    cr_assert_eq(vfy_ear_get_profile(e), VFY_EAR_PROFILE_IETF);
    cr_assert_eq(vfy_ear_get_status(e), VFY_EAR_AFFIRMING);
    cr_assert_eq(vfy_ear_get_submod_status(e, VFY_EAR_PLATFORM), VFY_EAR_AFFIRMING);
    cr_assert_eq(vfy_ear_get_submod_status(e, VFY_EAR_AGENT), VFY_EAR_AFFIRMING);
    cr_assert_eq(vfy_ear_get_vector(e, VFY_EAR_PLATFORM, &tv), VFY_OK);
    cr_assert_eq(tv.set, (1u << VFY_TV_INSTANCE_IDENTITY) | (1u << VFY_TV_EXECUTABLES));
    cr_assert_eq(tv.value[VFY_TV_INSTANCE_IDENTITY], 2);
    cr_assert_eq(vfy_ear_get_policy_id_count(e, VFY_EAR_AGENT), 1);
    cr_assert_str_eq(vfy_ear_get_policy_id(e, VFY_EAR_AGENT, 0), "default@1");
    cr_assert_eq(vfy_ear_get_iat(e), NOW);
    cr_assert_eq(vfy_ear_get_exp(e), NOW + 300);
    cr_assert_str_eq(vfy_ear_get_attester(e), "agent-1");
    cr_assert_str_eq(vfy_ear_get_verifier_build(e), "verifierd 0.1.0");
    cr_assert_str_eq(vfy_ear_get_kid(e), vfy_signing_key_kid(key));
    cr_assert_eq(strlen(vfy_ear_get_jti(e)), 22); /* 16 random bytes */
    cr_assert_eq(vfy_ear_get_nonce(e, &n, &nlen), VFY_OK);
    cr_assert_eq(nlen, 32);
    cr_assert_eq(memcmp(n, NONCE, 32), 0);
    memset(want_md, 0xab, 32);
    cr_assert_eq(vfy_ear_get_manifest_digest(e, md), VFY_OK);
    cr_assert_eq(memcmp(md, want_md, 32), 0);
    cr_assert_eq(vfy_ear_get_manifest_version(e, &mv), VFY_OK);
    cr_assert_eq(mv, 7);
    cr_assert_eq(vfy_ear_get_reason_count(e), 0);

    /* exact claim names of the draft-ietf-rats-ear profile */
    j = cJSON_Parse(vfy_ear_get_claims_json(e));
    cr_assert_str_eq(cJSON_GetObjectItem(j, "eat_profile")->valuestring, "tag:ietf.org,2026:rats/ear#04");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "ear_status")->valuestring, "affirming");
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "ear_verifier_id"), "developer")->valuestring, "verifierd");
    sub = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "submods"), "agent");
    cr_assert_str_eq(cJSON_GetObjectItem(sub, "verifierd.manifest_digest")->valuestring,
                     "sha256:abababababababababababababababababababababababababababababababab");
    cr_assert(cJSON_IsArray(cJSON_GetObjectItem(sub, "ear_appraisal_policy_ids")));
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(sub, "ear_trustworthiness_vector"), "configuration")->valueint, 2);
    cr_assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(sub, "ear_trustworthiness_vector"), "hardware"));
    /* channel binding claim is b64url(SHA-256(cb)), never cb itself */
    {
        uint8_t h[32];
        char want[64];

        vfy_sha256(CB, 32, h);
        vfy_b64url_encode(want, sizeof(want), h, 32);
        cr_assert_str_eq(cJSON_GetObjectItem(j, "verifierd.channel_binding")->valuestring, want);
        cr_assert_str_eq(vfy_ear_get_channel_binding(e), want);
    }
    cJSON_Delete(j);
    vfy_ear_free(&e);
    cr_assert_null(e);
    vfy_free(jws);

    /* a caller-given jti is used as is */
    {
        vfy_ear_claims c = sample(VFY_EAR_PROFILE_IETF);

        c.jti = "result-42";
        cr_assert_eq(vfy_ear_sign(&c, key, &jws, jti), VFY_OK);
        cr_assert_str_eq(jti, "result-42");
        cr_assert_eq(vfy_ear_verify(&e, jws, strlen(jws), keys, NULL, 0, NULL, NOW), VFY_OK);
        cr_assert_str_eq(vfy_ear_get_jti(e), "result-42");
        vfy_ear_free(&e);
        vfy_free(jws);
    }
}

Test(ear, header_is_exactly_alg_typ_kid)
{
    char *jws = sign_sample(), hdr[512];
    size_t n = 0;

    cr_assert_eq(vfy_b64url_decode((uint8_t *)hdr, sizeof(hdr) - 1, &n, jws,
                                   (size_t)(strchr(jws, '.') - jws)), VFY_OK);
    hdr[n] = '\0';
    cr_assert_str_eq(hdr, hdr_ok());
    cr_assert_eq(strlen(strrchr(jws, '.') + 1), 86); /* 64-byte raw r||s */
    vfy_free(jws);
}

Test(ear, veraison_profile_names_and_verify)
{
    vfy_ear_claims c = sample(VFY_EAR_PROFILE_VERAISON);
    char *jws = NULL, *json = NULL;
    vfy_ear *e = NULL;
    cJSON *j, *sub;

    cr_assert_eq(vfy_ear_claims_json(&c, &json, NULL), VFY_OK);
    j = cJSON_Parse(json);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "eat_profile")->valuestring, "tag:github.com,2023:veraison/ear");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "ear.status")->valuestring, "affirming");
    cr_assert_not_null(cJSON_GetObjectItem(j, "ear.verifier-id"));
    cr_assert_null(cJSON_GetObjectItem(j, "ear_status"));
    sub = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "submods"), "platform");
    cr_assert_str_eq(cJSON_GetObjectItem(sub, "ear.appraisal-policy-id")->valuestring, "default@1");
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(sub, "ear.trustworthiness-vector"), "instance-identity")->valueint, 2);
    cJSON_Delete(j);
    vfy_free(json);

    cr_assert_eq(vfy_ear_sign(&c, key, &jws, NULL), VFY_OK);
    cr_assert_eq(vfy_ear_verify(&e, jws, strlen(jws), keys, NONCE, 32, CB, NOW), VFY_OK);
    cr_assert_eq(vfy_ear_get_profile(e), VFY_EAR_PROFILE_VERAISON);
    cr_assert_eq(vfy_ear_get_status(e), VFY_EAR_AFFIRMING);
    cr_assert_str_eq(vfy_ear_get_policy_id(e, VFY_EAR_PLATFORM, 0), "default@1");
    vfy_ear_free(&e);
    vfy_free(jws);
}

Test(ear, status_derived_from_vectors_and_reasons_required)
{
    vfy_ear_claims c = sample(VFY_EAR_PROFILE_IETF);
    char *jws = NULL;
    vfy_ear *e = NULL;

    vfy_trust_vector_set(&c.submod[VFY_EAR_AGENT].tv, VFY_TV_EXECUTABLES, 33);
    cr_assert_eq(vfy_ear_sign(&c, key, &jws, NULL), VFY_E_INVALID_ARG); /* no reasons */
    cr_assert_null(jws);
    c.reasons = REASONS;
    c.n_reasons = 1;
    cr_assert_eq(vfy_ear_sign(&c, key, &jws, NULL), VFY_OK);
    cr_assert_eq(vfy_ear_verify(&e, jws, strlen(jws), keys, NULL, 0, NULL, NOW), VFY_OK);
    cr_assert_eq(vfy_ear_get_submod_status(e, VFY_EAR_AGENT), VFY_EAR_WARNING);
    cr_assert_eq(vfy_ear_get_submod_status(e, VFY_EAR_PLATFORM), VFY_EAR_AFFIRMING);
    cr_assert_eq(vfy_ear_get_status(e), VFY_EAR_WARNING);
    cr_assert_eq(vfy_ear_get_reason_count(e), 1);
    cr_assert_str_eq(vfy_ear_get_reason(e, 0), REASONS[0]);
    vfy_ear_free(&e);
    vfy_free(jws);

    vfy_trust_vector_set(&c.submod[VFY_EAR_PLATFORM].tv, VFY_TV_INSTANCE_IDENTITY, 97);
    cr_assert_eq(vfy_ear_sign(&c, key, &jws, NULL), VFY_OK);
    cr_assert_eq(vfy_ear_verify(&e, jws, strlen(jws), keys, NULL, 0, NULL, NOW), VFY_OK);
    cr_assert_eq(vfy_ear_get_status(e), VFY_EAR_CONTRAINDICATED);
    vfy_ear_free(&e);
    vfy_free(jws);
}

Test(ear, sign_rejects_bad_claims)
{
    vfy_ear_claims c = sample(VFY_EAR_PROFILE_IETF);
    char *jws = NULL;

    c.exp = c.iat;
    cr_assert_eq(vfy_ear_sign(&c, key, &jws, NULL), VFY_E_INVALID_ARG);
    c = sample(VFY_EAR_PROFILE_IETF);
    c.verifier_build = NULL;
    cr_assert_eq(vfy_ear_sign(&c, key, &jws, NULL), VFY_E_INVALID_ARG);
    c = sample(VFY_EAR_PROFILE_IETF);
    c.submod[VFY_EAR_AGENT].present = 0; /* manifest needs the agent submod */
    cr_assert_eq(vfy_ear_sign(&c, key, &jws, NULL), VFY_E_INVALID_ARG);
    c = sample(VFY_EAR_PROFILE_IETF);
    c.nonce_len = 7;
    cr_assert_eq(vfy_ear_sign(&c, key, &jws, NULL), VFY_E_INVALID_ARG);
    cr_assert_null(jws);
}

Test(ear, ok_forged_control)
{
    /* the forging helper itself produces tokens that verify: the negatives below mean something */
    char *jws = sign_sample();
    char payload[8192];

    snprintf(payload, sizeof(payload), "%s", payload_of(jws));
    cr_assert_eq(verify(forge(hdr_ok(), payload)), VFY_OK);
    vfy_free(jws);
}

Test(ear, rejects_alg_none_hs256_es384_missing_duplicate)
{
    char *jws = sign_sample(), payload[8192], h[256];
    const char *kid = vfy_signing_key_kid(key);
    static const char *const algs[] = {"none", "HS256", "ES384", "RS256", "es256", "ES256 ", ""};

    snprintf(payload, sizeof(payload), "%s", payload_of(jws));
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        snprintf(h, sizeof(h), "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", algs[i], kid);
        cr_assert_eq(verify(forge(h, payload)), VFY_E_JWS_ALG, "alg %s", algs[i]);
    }
    snprintf(h, sizeof(h), "{\"typ\":\"JWT\",\"kid\":\"%s\"}", kid);
    cr_assert_eq(verify(forge(h, payload)), VFY_E_JWS_ALG);
    snprintf(h, sizeof(h), "{\"alg\":256,\"kid\":\"%s\"}", kid);
    cr_assert_eq(verify(forge(h, payload)), VFY_E_JWS_ALG);
    snprintf(h, sizeof(h), "{\"alg\":\"ES256\",\"alg\":\"none\",\"kid\":\"%s\"}", kid);
    cr_assert_eq(verify(forge(h, payload)), VFY_E_JWS_ALG);
    snprintf(h, sizeof(h), "{\"alg\":\"none\",\"alg\":\"ES256\",\"kid\":\"%s\"}", kid);
    cr_assert_eq(verify(forge(h, payload)), VFY_E_JWS_ALG);
    /* alg none with an empty signature never reaches the key */
    {
        char t[8192] = "";

        b64_append(t, sizeof(t), "{\"alg\":\"none\"}");
        append(t, sizeof(t), ".");
        b64_append(t, sizeof(t), payload);
        append(t, sizeof(t), ".");
        cr_assert_eq(verify(t), VFY_E_JWS_MALFORMED); /* empty signature segment */
    }
    vfy_free(jws);
}

Test(ear, rejects_bad_header_members_and_kid)
{
    char *jws = sign_sample(), payload[8192], h[256];
    const char *kid = vfy_signing_key_kid(key);

    snprintf(payload, sizeof(payload), "%s", payload_of(jws));
    snprintf(h, sizeof(h), "{\"alg\":\"ES256\",\"typ\":\"jose\",\"kid\":\"%s\"}", kid);
    cr_assert_eq(verify(forge(h, payload)), VFY_E_JWS_HEADER);
    snprintf(h, sizeof(h), "{\"alg\":\"ES256\",\"crit\":[\"exp\"],\"kid\":\"%s\"}", kid);
    cr_assert_eq(verify(forge(h, payload)), VFY_E_JWS_HEADER);
    snprintf(h, sizeof(h), "{\"alg\":\"ES256\",\"jku\":\"https://evil\",\"kid\":\"%s\"}", kid);
    cr_assert_eq(verify(forge(h, payload)), VFY_E_JWS_HEADER);
    snprintf(h, sizeof(h), "{\"alg\":\"ES256\",\"kid\":\"%s\",\"kid\":\"%s\"}", kid, kid);
    cr_assert_eq(verify(forge(h, payload)), VFY_E_JWS_HEADER);
    cr_assert_eq(verify(forge("[\"alg\",\"ES256\"]", payload)), VFY_E_JWS_HEADER);
    cr_assert_eq(verify(forge("{\"alg\":\"ES256\"", payload)), VFY_E_JWS_HEADER);
    /* typ is optional */
    snprintf(h, sizeof(h), "{\"alg\":\"ES256\",\"kid\":\"%s\"}", kid);
    cr_assert_eq(verify(forge(h, payload)), VFY_OK);
    /* kid missing, empty, not a string, unknown */
    cr_assert_eq(verify(forge("{\"alg\":\"ES256\",\"typ\":\"JWT\"}", payload)), VFY_E_JWS_KID);
    cr_assert_eq(verify(forge("{\"alg\":\"ES256\",\"kid\":\"\"}", payload)), VFY_E_JWS_KID);
    cr_assert_eq(verify(forge("{\"alg\":\"ES256\",\"kid\":7}", payload)), VFY_E_JWS_KID);
    cr_assert_eq(verify(forge("{\"alg\":\"ES256\",\"kid\":\"nope\"}", payload)), VFY_E_JWS_KID_UNKNOWN);
    vfy_free(jws);
}

Test(ear, kid_of_other_key_is_unknown_and_rotation_keeps_old_key)
{
    vfy_signing_key *old = NULL;
    vfy_ear_claims c = sample(VFY_EAR_PROFILE_IETF);
    vfy_jwks *both = NULL;
    char *jws = NULL, *json = NULL;
    vfy_ear *e = NULL;

    cr_assert_eq(vfy_signing_key_generate(&old), VFY_OK);
    cr_assert_eq(vfy_ear_sign(&c, old, &jws, NULL), VFY_OK);
    cr_assert_eq(verify(jws), VFY_E_JWS_KID_UNKNOWN);
    cr_assert_eq(vfy_jwks_new(&both), VFY_OK);
    cr_assert_eq(vfy_jwks_add(both, key), VFY_OK);
    cr_assert_eq(vfy_jwks_add(both, old), VFY_OK);
    cr_assert_eq(vfy_jwks_to_json(both, &json), VFY_OK);
    cr_assert_eq(vfy_ear_verify_jwks_json(&e, jws, strlen(jws), json, strlen(json), NONCE, 32, CB,
                                          NOW), VFY_OK);
    cr_assert_str_eq(vfy_ear_get_kid(e), vfy_signing_key_kid(old));
    vfy_ear_free(&e);
    cr_assert_eq(vfy_ear_verify_jwks_json(&e, jws, strlen(jws), "{}", 2, NULL, 0, NULL, NOW),
                 VFY_E_JWK);
    vfy_free(json);
    vfy_free(jws);
    vfy_jwks_free(&both);
    vfy_signing_key_free(&old);
}

Test(ear, rejects_signature_bitflip_and_payload_tamper)
{
    char *jws = sign_sample(), *t = strdup(jws), *sig = strrchr(t, '.') + 1, *pl;
    char c;

    cr_assert_eq(verify(jws), VFY_OK);
    /* flip one bit of a middle signature character: still canonical base64url */
    c = sig[20];
    sig[20] = c == 'A' ? 'B' : 'A';
    cr_assert_eq(verify(t), VFY_E_JWS_SIGNATURE);
    memcpy(t, jws, strlen(jws) + 1); /* t is a strdup of jws: same size */
    /* payload tamper: change one character of the payload segment */
    pl = strchr(t, '.') + 10;
    *pl = *pl == 'A' ? 'B' : 'A';
    cr_assert_eq(verify(t), VFY_E_JWS_SIGNATURE);
    free(t);
    vfy_free(jws);
}

Test(ear, rejects_out_of_range_r_s)
{
    char *jws = sign_sample(), t[8192], *sig64;
    uint8_t raw[64];
    static const uint8_t n[32] = {
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
    };
    size_t len = 0, prefix = (size_t)(strrchr(jws, '.') - jws) + 1;

    cr_assert_eq(vfy_b64url_decode(raw, sizeof(raw), &len, jws + prefix, strlen(jws + prefix)), VFY_OK);
    for (int k = 0; k < 4; k++) {
        uint8_t bad[64];

        memcpy(bad, raw, 64);
        if (k == 0)
            memset(bad, 0, 32); /* r = 0 */
        else if (k == 1)
            memset(bad + 32, 0, 32); /* s = 0 */
        else if (k == 2)
            memcpy(bad, n, 32); /* r = n */
        else
            memcpy(bad + 32, n, 32); /* s = n */
        sig64 = vfy_b64url_dup(bad, 64);
        memcpy(t, jws, prefix);
        snprintf(t + prefix, sizeof(t) - prefix, "%s", sig64);
        free(sig64);
        cr_assert_eq(verify(t), VFY_E_JWS_SIGNATURE, "case %d", k);
    }
    /* 63 and 65 bytes */
    sig64 = vfy_b64url_dup(raw, 63);
    memcpy(t, jws, prefix);
    snprintf(t + prefix, sizeof(t) - prefix, "%s", sig64);
    free(sig64);
    cr_assert_eq(verify(t), VFY_E_JWS_SIGNATURE);
    vfy_free(jws);
}

Test(ear, rejects_structure_truncation_dots_padding)
{
    char *jws = sign_sample(), t[8192];
    size_t len = strlen(jws);

    snprintf(t, sizeof(t), "%s", jws);
    t[len - 1] = '\0'; /* signature truncated to 85 chars: 85 % 4 == 1 is never base64url */
    cr_assert_eq(verify(t), VFY_E_JWS_MALFORMED);
    t[(size_t)(strchr(jws, '.') - jws) + 8] = '\0'; /* cut inside the payload: two segments */
    cr_assert_eq(verify(t), VFY_E_JWS_MALFORMED);
    snprintf(t, sizeof(t), "%s", jws);
    *strrchr(t, '.') = '\0'; /* two segments */
    cr_assert_eq(verify(t), VFY_E_JWS_MALFORMED);
    snprintf(t, sizeof(t), "%s.", jws); /* extra dot */
    cr_assert_eq(verify(t), VFY_E_JWS_MALFORMED);
    snprintf(t, sizeof(t), "%s.AAAA", jws); /* four segments */
    cr_assert_eq(verify(t), VFY_E_JWS_MALFORMED);
    snprintf(t, sizeof(t), "%s==", jws); /* padding */
    cr_assert_eq(verify(t), VFY_E_JWS_MALFORMED);
    snprintf(t, sizeof(t), " %s", jws); /* whitespace */
    cr_assert_eq(verify(t), VFY_E_JWS_MALFORMED);
    cr_assert_eq(verify(""), VFY_E_JWS_MALFORMED);
    cr_assert_eq(verify(".."), VFY_E_JWS_MALFORMED);
    /* standard-alphabet base64 is not base64url */
    snprintf(t, sizeof(t), "%s", jws);
    t[3] = '+';
    cr_assert_eq(verify(t), VFY_E_JWS_MALFORMED);
    vfy_free(jws);
}

Test(ear, rejects_oversized)
{
    char *big = malloc(VFY_JWS_MAX_BYTES + 2);
    vfy_ear *e = NULL;

    memset(big, 'A', VFY_JWS_MAX_BYTES + 1);
    big[VFY_JWS_MAX_BYTES + 1] = '\0';
    cr_assert_eq(vfy_ear_verify(&e, big, VFY_JWS_MAX_BYTES + 1, keys, NULL, 0, NULL, NOW),
                 VFY_E_TOO_LARGE);
    free(big);
}

Test(ear, time_checks_expired_and_future)
{
    char *jws = sign_sample();
    vfy_ear *e = NULL;

    /* valid on [iat - skew, exp) */
    cr_assert_eq(vfy_ear_verify(&e, jws, strlen(jws), keys, NULL, 0, NULL, NOW + 299), VFY_OK);
    vfy_ear_free(&e);
    cr_assert_eq(vfy_ear_verify(&e, jws, strlen(jws), keys, NULL, 0, NULL, NOW + 300),
                 VFY_E_EAR_EXPIRED);
    cr_assert_null(e);
    cr_assert_eq(vfy_ear_verify(&e, jws, strlen(jws), keys, NULL, 0, NULL, NOW + 100000),
                 VFY_E_EAR_EXPIRED);
    cr_assert_eq(vfy_ear_verify(&e, jws, strlen(jws), keys, NULL, 0, NULL, NOW - VFY_EAR_IAT_SKEW_S),
                 VFY_OK);
    vfy_ear_free(&e);
    cr_assert_eq(vfy_ear_verify(&e, jws, strlen(jws), keys, NULL, 0, NULL,
                                NOW - VFY_EAR_IAT_SKEW_S - 1), VFY_E_EAR_NOT_YET_VALID);
    vfy_free(jws);
}

Test(ear, nonce_and_channel_binding_checks)
{
    char *jws = sign_sample();
    uint8_t other[32];
    vfy_ear *e = NULL;
    vfy_ear_claims c = sample(VFY_EAR_PROFILE_IETF);

    memcpy(other, NONCE, 32);
    other[31] ^= 1;
    cr_assert_eq(vfy_ear_verify(&e, jws, strlen(jws), keys, other, 32, NULL, NOW), VFY_E_EAR_NONCE);
    cr_assert_eq(vfy_ear_verify(&e, jws, strlen(jws), keys, NONCE, 31, NULL, NOW), VFY_E_EAR_NONCE);
    memcpy(other, CB, 32);
    other[0] ^= 1;
    cr_assert_eq(vfy_ear_verify(&e, jws, strlen(jws), keys, NONCE, 32, other, NOW),
                 VFY_E_EAR_CHANNEL_BINDING);
    vfy_free(jws);
    /* a result without nonce or binding fails when the RP expects them */
    c.nonce = NULL;
    c.channel_binding = NULL;
    cr_assert_eq(vfy_ear_sign(&c, key, &jws, NULL), VFY_OK);
    cr_assert_eq(vfy_ear_verify(&e, jws, strlen(jws), keys, NONCE, 32, NULL, NOW), VFY_E_EAR_NONCE);
    cr_assert_eq(vfy_ear_verify(&e, jws, strlen(jws), keys, NULL, 0, CB, NOW),
                 VFY_E_EAR_CHANNEL_BINDING);
    cr_assert_eq(vfy_ear_verify(&e, jws, strlen(jws), keys, NULL, 0, NULL, NOW), VFY_OK);
    vfy_ear_free(&e);
    vfy_free(jws);
}

/* The EAR of @jws after verification (asserts it verifies). */
static vfy_ear *verified(const char *jws)
{
    vfy_ear *e = NULL;

    cr_assert_eq(vfy_ear_verify(&e, jws, strlen(jws), keys, NONCE, 32, CB, NOW + 1), VFY_OK);
    return e;
}

/* What an RP checks beyond signature and binding (vfy_ear_check_scope). */
Test(ear, check_scope_jti_attester_lifetime)
{
    vfy_ear_claims c = sample(VFY_EAR_PROFILE_IETF); /* agent-1, 300 s, generated jti */
    char *jws = NULL, *payload;
    cJSON *j;
    vfy_ear *e;

    cr_assert_eq(vfy_ear_sign(&c, key, &jws, NULL), VFY_OK);
    e = verified(jws);
    cr_assert_eq(vfy_ear_check_scope(e, "agent-1", 0), VFY_OK);
    cr_assert_eq(vfy_ear_check_scope(e, "agent-1", 300), VFY_OK);
    cr_assert_eq(vfy_ear_check_scope(e, "agent-1", 299), VFY_E_EAR_TTL);
    cr_assert_eq(vfy_ear_check_scope(e, "agent-2", 0), VFY_E_EAR_ATTESTER);
    cr_assert_eq(vfy_ear_check_scope(e, "agent-", 0), VFY_E_EAR_ATTESTER);
    cr_assert_eq(vfy_ear_check_scope(e, "", 0), VFY_E_EAR_ATTESTER);
    cr_assert_eq(vfy_ear_check_scope(e, NULL, 0), VFY_E_INVALID_ARG);
    cr_assert_eq(vfy_ear_check_scope(NULL, "agent-1", 0), VFY_E_INVALID_ARG);
    vfy_ear_free(&e);

    /* the same claims, signed without a jti: verifies, never revocable */
    j = cJSON_Parse(payload_of(jws));
    cr_assert_not_null(j);
    cr_assert_not_null(cJSON_GetObjectItemCaseSensitive(j, "jti"));
    cJSON_DeleteItemFromObjectCaseSensitive(j, "jti");
    payload = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    e = verified(forge(hdr_ok(), payload));
    cr_assert_eq(vfy_ear_check_scope(e, "agent-1", 0), VFY_E_EAR_JTI);
    cr_assert_eq(vfy_ear_check_scope(e, "agent-2", 1), VFY_E_EAR_JTI, "the jti is checked first");
    vfy_ear_free(&e);
    cJSON_free(payload);
    /* an empty jti names nothing either: refused before the scope check */
    j = cJSON_Parse(payload_of(jws));
    cr_assert_not_null(j);
    cr_assert(cJSON_ReplaceItemInObjectCaseSensitive(j, "jti", cJSON_CreateString("")));
    payload = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    {
        const char *t = forge(hdr_ok(), payload);
        vfy_rc rc = vfy_ear_verify(&e, t, strlen(t), keys, NONCE, 32, CB, NOW + 1);

        cr_assert_eq(rc, VFY_E_EAR_CLAIMS, "empty jti: %s", vfy_rc_name(rc));
        cr_assert_null(e);
    }
    cJSON_free(payload);
    vfy_free(jws);

    /* no attester named at all */
    c.attester = NULL;
    cr_assert_eq(vfy_ear_sign(&c, key, &jws, NULL), VFY_OK);
    e = verified(jws);
    cr_assert_eq(vfy_ear_check_scope(e, "agent-1", 0), VFY_E_EAR_ATTESTER);
    vfy_ear_free(&e);
    vfy_free(jws);
}

/* vfy_ear_verify_expected under @policy with the sample's expectations. */
static vfy_rc verify_expected(const char *jws, const char *policy, uint32_t max_ttl_s)
{
    vfy_ear_expect want = {.nonce = NONCE, .nonce_len = 32, .channel_binding = CB,
                           .attester = "agent-1", .max_ttl_s = max_ttl_s, .policy = policy};
    vfy_ear *e = (vfy_ear *)1;
    vfy_rc rc = vfy_ear_verify_expected(&e, jws, strlen(jws), keys, &want, NOW + 1);

    if (rc != VFY_OK)
        cr_assert_null(e, "handle must be NULL on failure (%s)", vfy_rc_name(rc));
    else
        cr_assert_not_null(e);
    vfy_ear_free(&e);
    return rc;
}

/* The one-call RP check: every expectation required, each one enforced. */
Test(ear, verify_expected_requires_every_expectation)
{
    vfy_ear_claims c = sample(VFY_EAR_PROFILE_IETF); /* agent-1, 300 s, default@1 twice */
    char *jws = NULL;
    vfy_ear *e = (vfy_ear *)1;
    uint8_t other[32];
    vfy_ear_expect want = {.nonce = NONCE, .nonce_len = 32, .channel_binding = CB,
                           .attester = "agent-1", .max_ttl_s = 300}, bad;

    cr_assert_eq(vfy_ear_sign(&c, key, &jws, NULL), VFY_OK);
    cr_assert_eq(verify_expected(jws, NULL, 300), VFY_OK);
    /* a missing expectation is a caller error, never a skipped check */
    bad = want;
    bad.nonce = NULL;
    cr_assert_eq(vfy_ear_verify_expected(&e, jws, strlen(jws), keys, &bad, NOW + 1),
                 VFY_E_INVALID_ARG);
    cr_assert_null(e);
    bad = want;
    bad.nonce_len = 0;
    cr_assert_eq(vfy_ear_verify_expected(&e, jws, strlen(jws), keys, &bad, NOW + 1),
                 VFY_E_INVALID_ARG);
    bad = want;
    bad.channel_binding = NULL;
    cr_assert_eq(vfy_ear_verify_expected(&e, jws, strlen(jws), keys, &bad, NOW + 1),
                 VFY_E_INVALID_ARG);
    bad = want;
    bad.attester = NULL;
    cr_assert_eq(vfy_ear_verify_expected(&e, jws, strlen(jws), keys, &bad, NOW + 1),
                 VFY_E_INVALID_ARG);
    bad.attester = "";
    cr_assert_eq(vfy_ear_verify_expected(&e, jws, strlen(jws), keys, &bad, NOW + 1),
                 VFY_E_INVALID_ARG);
    cr_assert_eq(verify_expected(jws, NULL, 0), VFY_E_INVALID_ARG, "max_ttl_s 0 is not 'any'");
    bad = want;
    bad.reserved[3] = "a later expectation";   /* not understood: not skipped either */
    cr_assert_eq(vfy_ear_verify_expected(&e, jws, strlen(jws), keys, &bad, NOW + 1),
                 VFY_E_INVALID_ARG);
    cr_assert_eq(verify_expected(jws, "", 300), VFY_E_INVALID_ARG);
    cr_assert_eq(verify_expected(jws, "@1", 300), VFY_E_INVALID_ARG);
    cr_assert_eq(vfy_ear_verify_expected(&e, jws, strlen(jws), keys, NULL, NOW + 1),
                 VFY_E_INVALID_ARG);
    cr_assert_eq(vfy_ear_verify_expected(NULL, jws, strlen(jws), keys, &want, NOW + 1),
                 VFY_E_INVALID_ARG);
    /* each expectation enforced, in vfy_ear_verify's then check_scope's order */
    bad = want;
    memcpy(other, NONCE, 32);
    other[0] ^= 1;
    bad.nonce = other;
    cr_assert_eq(vfy_ear_verify_expected(&e, jws, strlen(jws), keys, &bad, NOW + 1),
                 VFY_E_EAR_NONCE);
    cr_assert_null(e);
    bad = want;
    memcpy(other, CB, 32);
    other[31] ^= 1;
    bad.channel_binding = other;
    cr_assert_eq(vfy_ear_verify_expected(&e, jws, strlen(jws), keys, &bad, NOW + 1),
                 VFY_E_EAR_CHANNEL_BINDING);
    bad = want;
    bad.attester = "agent-2";
    cr_assert_eq(vfy_ear_verify_expected(&e, jws, strlen(jws), keys, &bad, NOW + 1),
                 VFY_E_EAR_ATTESTER);
    cr_assert_null(e);
    cr_assert_eq(verify_expected(jws, NULL, 299), VFY_E_EAR_TTL);
    cr_assert_eq(vfy_ear_verify_expected(&e, jws, strlen(jws), keys, &want, NOW + 300),
                 VFY_E_EAR_EXPIRED);
    /* the policy: "ID" any version, "ID@VERSION" exactly */
    cr_assert_eq(verify_expected(jws, "default", 300), VFY_OK);
    cr_assert_eq(verify_expected(jws, "default@1", 300), VFY_OK);
    cr_assert_eq(verify_expected(jws, "default@2", 300), VFY_E_EAR_POLICY);
    cr_assert_eq(verify_expected(jws, "default@", 300), VFY_E_EAR_POLICY);
    cr_assert_eq(verify_expected(jws, "defaul", 300), VFY_E_EAR_POLICY, "not a prefix match");
    cr_assert_eq(verify_expected(jws, "default@", 300), VFY_E_EAR_POLICY);
    cr_assert_eq(verify_expected(jws, "default@10", 300), VFY_E_EAR_POLICY, "1 is not 10");
    cr_assert_eq(verify_expected(jws, "strict", 300), VFY_E_EAR_POLICY);
    vfy_free(jws);
    {
        /* one submodule appraised under another policy is enough to refuse */
        static const char *const lax[] = {"lax@3"};
        static const char *const two[] = {"default@1", "lax@3"};

        c.submod[VFY_EAR_AGENT].policy_ids = lax;
        cr_assert_eq(vfy_ear_sign(&c, key, &jws, NULL), VFY_OK);
        cr_assert_eq(verify_expected(jws, "default", 300), VFY_E_EAR_POLICY);
        cr_assert_eq(verify_expected(jws, "lax", 300), VFY_E_EAR_POLICY);
        cr_assert_eq(verify_expected(jws, NULL, 300), VFY_OK);
        vfy_free(jws);
        /* default@10 is not default@1; defaultx@1 is not default */
        static const char *const ten[] = {"default@10"};
        static const char *const x[] = {"defaultx@1"};

        c.submod[VFY_EAR_AGENT].policy_ids = ten;
        c.submod[VFY_EAR_PLATFORM].policy_ids = ten;
        cr_assert_eq(vfy_ear_sign(&c, key, &jws, NULL), VFY_OK);
        cr_assert_eq(verify_expected(jws, "default@1", 300), VFY_E_EAR_POLICY);
        cr_assert_eq(verify_expected(jws, "default", 300), VFY_OK);
        vfy_free(jws);
        c.submod[VFY_EAR_AGENT].policy_ids = x;
        c.submod[VFY_EAR_PLATFORM].policy_ids = x;
        cr_assert_eq(vfy_ear_sign(&c, key, &jws, NULL), VFY_OK);
        cr_assert_eq(verify_expected(jws, "default", 300), VFY_E_EAR_POLICY);
        vfy_free(jws);
        c.submod[VFY_EAR_PLATFORM].policy_ids = POLICIES;
        /* two policy ids on one submodule: not "exactly the one required" */
        c.submod[VFY_EAR_AGENT].policy_ids = two;
        c.submod[VFY_EAR_AGENT].n_policy_ids = 2;
        cr_assert_eq(vfy_ear_sign(&c, key, &jws, NULL), VFY_OK);
        cr_assert_eq(verify_expected(jws, "default", 300), VFY_E_EAR_POLICY);
        vfy_free(jws);
    }
}

Test(ear, rejects_bad_claims_even_when_signed)
{
    char p[1024];
    const char *base = "\"iat\":1765000000,\"exp\":1765000300,"
                       "\"ear_verifier_id\":{\"developer\":\"x\",\"build\":\"y\"},"
                       "\"ear_status\":\"affirming\","
                       "\"submods\":{\"platform\":{\"ear_status\":\"affirming\","
                       "\"ear_trustworthiness_vector\":{\"instance-identity\":2}}}";

    snprintf(p, sizeof(p), "{\"eat_profile\":\"%s\",%s}", VFY_EAR_PROFILE_IETF_ID, base);
    cr_assert_eq(verify(forge(hdr_ok(), p)), VFY_E_EAR_NONCE); /* well-formed, but no nonce */
    snprintf(p, sizeof(p), "{\"eat_profile\":\"tag:example.com,2020:other\",%s}", base);
    cr_assert_eq(verify(forge(hdr_ok(), p)), VFY_E_EAR_PROFILE);
    snprintf(p, sizeof(p), "{%s}", base);
    cr_assert_eq(verify(forge(hdr_ok(), p)), VFY_E_EAR_PROFILE);
    /* the old profile string with the new names is not a valid Veraison EAR */
    snprintf(p, sizeof(p), "{\"eat_profile\":\"%s\",%s}", VFY_EAR_PROFILE_VERAISON_ID, base);
    cr_assert_eq(verify(forge(hdr_ok(), p)), VFY_E_EAR_CLAIMS);
    /* exp missing / not an integer / before iat */
    snprintf(p, sizeof(p), "{\"eat_profile\":\"%s\",\"iat\":1765000000,"
             "\"ear_verifier_id\":{\"developer\":\"x\",\"build\":\"y\"},"
             "\"submods\":{\"platform\":{\"ear_status\":\"affirming\"}}}", VFY_EAR_PROFILE_IETF_ID);
    cr_assert_eq(verify(forge(hdr_ok(), p)), VFY_E_EAR_CLAIMS);
    snprintf(p, sizeof(p), "{\"eat_profile\":\"%s\",\"iat\":1765000000,\"exp\":1765000300.5,"
             "\"ear_verifier_id\":{\"developer\":\"x\",\"build\":\"y\"},"
             "\"submods\":{\"platform\":{\"ear_status\":\"affirming\"}}}", VFY_EAR_PROFILE_IETF_ID);
    cr_assert_eq(verify(forge(hdr_ok(), p)), VFY_E_EAR_CLAIMS);
    snprintf(p, sizeof(p), "{\"eat_profile\":\"%s\",\"iat\":1765000000,\"exp\":\"1765000300\","
             "\"ear_verifier_id\":{\"developer\":\"x\",\"build\":\"y\"},"
             "\"submods\":{\"platform\":{\"ear_status\":\"affirming\"}}}", VFY_EAR_PROFILE_IETF_ID);
    cr_assert_eq(verify(forge(hdr_ok(), p)), VFY_E_EAR_CLAIMS);
    /* unknown status, out-of-range vector value, unknown vector claim */
    snprintf(p, sizeof(p), "{\"eat_profile\":\"%s\",\"iat\":1765000000,\"exp\":1765000300,"
             "\"ear_verifier_id\":{\"developer\":\"x\",\"build\":\"y\"},"
             "\"submods\":{\"platform\":{\"ear_status\":\"fine\"}}}", VFY_EAR_PROFILE_IETF_ID);
    cr_assert_eq(verify(forge(hdr_ok(), p)), VFY_E_EAR_CLAIMS);
    snprintf(p, sizeof(p), "{\"eat_profile\":\"%s\",\"iat\":1765000000,\"exp\":1765000300,"
             "\"ear_verifier_id\":{\"developer\":\"x\",\"build\":\"y\"},"
             "\"submods\":{\"platform\":{\"ear_status\":\"affirming\","
             "\"ear_trustworthiness_vector\":{\"hardware\":128}}}}", VFY_EAR_PROFILE_IETF_ID);
    cr_assert_eq(verify(forge(hdr_ok(), p)), VFY_E_EAR_CLAIMS);
    snprintf(p, sizeof(p), "{\"eat_profile\":\"%s\",\"iat\":1765000000,\"exp\":1765000300,"
             "\"ear_verifier_id\":{\"developer\":\"x\",\"build\":\"y\"},"
             "\"submods\":{\"platform\":{\"ear_status\":\"affirming\","
             "\"ear_trustworthiness_vector\":{\"firmware\":2}}}}", VFY_EAR_PROFILE_IETF_ID);
    cr_assert_eq(verify(forge(hdr_ok(), p)), VFY_E_EAR_CLAIMS);
    /* duplicate claim (e.g. a second exp far in the future) */
    snprintf(p, sizeof(p), "{\"eat_profile\":\"%s\",%s,\"exp\":9999999999}", VFY_EAR_PROFILE_IETF_ID,
             base);
    cr_assert_eq(verify(forge(hdr_ok(), p)), VFY_E_EAR_CLAIMS);
    /* empty submods, not JSON at all */
    snprintf(p, sizeof(p), "{\"eat_profile\":\"%s\",\"iat\":1765000000,\"exp\":1765000300,"
             "\"ear_verifier_id\":{\"developer\":\"x\",\"build\":\"y\"},\"submods\":{}}",
             VFY_EAR_PROFILE_IETF_ID);
    cr_assert_eq(verify(forge(hdr_ok(), p)), VFY_E_EAR_CLAIMS);
    cr_assert_eq(verify(forge(hdr_ok(), "not json")), VFY_E_EAR_CLAIMS);
}

/*
 * Statuses are derived, never believed: a signed EAR whose submodule status
 * is not its vector's tier, or whose overall status is not the worst
 * submodule's, is refused (VFY_E_EAR_STATUS) — whoever else holds a key of
 * the set, or a bug, cannot make a relying party read "affirming" next to a
 * contraindicated claim. The overall status is required, only the
 * profile's submodules are allowed, and an nbf is honoured. (A token that
 * passes every claim check ends at the missing nonce: VFY_E_EAR_NONCE.)
 */
Test(ear, statuses_must_follow_the_vectors)
{
    static const char pre[] = "\"iat\":1765000000,\"exp\":1765000300,"
                              "\"ear_verifier_id\":{\"developer\":\"x\",\"build\":\"y\"}";
    static const char plat_ok[] = "\"platform\":{\"ear_status\":\"affirming\","
                                  "\"ear_trustworthiness_vector\":{\"instance-identity\":2}}";
    static const struct {
        const char *what, *rest;
        vfy_rc want;
    } v[] = {
        {"consistent", "\"ear_status\":\"affirming\",\"submods\":{@P}", VFY_E_EAR_NONCE},
        {"affirming over a contraindicated agent",
         "\"ear_status\":\"affirming\",\"submods\":{@P,\"agent\":{\"ear_status\":"
         "\"contraindicated\",\"ear_trustworthiness_vector\":{\"executables\":96}}}",
         VFY_E_EAR_STATUS},
        {"a submodule affirming over executables 96",
         "\"ear_status\":\"affirming\",\"submods\":{\"platform\":{\"ear_status\":"
         "\"affirming\",\"ear_trustworthiness_vector\":{\"executables\":96}}}",
         VFY_E_EAR_STATUS},
        {"a submodule affirming with no vector",
         "\"ear_status\":\"affirming\",\"submods\":{\"platform\":{\"ear_status\":"
         "\"affirming\"}}", VFY_E_EAR_STATUS},
        {"warning overall, affirming submodules",
         "\"ear_status\":\"warning\",\"submods\":{@P}", VFY_E_EAR_STATUS},
        {"no overall status", "\"submods\":{@P}", VFY_E_EAR_CLAIMS},
        {"a submodule outside the profile",
         "\"ear_status\":\"affirming\",\"submods\":{@P,\"Agent\":{\"ear_status\":"
         "\"contraindicated\",\"ear_trustworthiness_vector\":{\"executables\":96}}}",
         VFY_E_EAR_CLAIMS},
        {"nbf in the past", "\"ear_status\":\"affirming\",\"nbf\":1765000000,\"submods\":{@P}",
         VFY_E_EAR_NONCE},
        {"nbf 61 s ahead", "\"ear_status\":\"affirming\",\"nbf\":1765000062,\"submods\":{@P}",
         VFY_E_EAR_NOT_YET_VALID},
        {"nbf after exp", "\"ear_status\":\"affirming\",\"nbf\":1765000301,\"submods\":{@P}",
         VFY_E_EAR_CLAIMS},
        {"nbf not an integer", "\"ear_status\":\"affirming\",\"nbf\":\"0\",\"submods\":{@P}",
         VFY_E_EAR_CLAIMS},
    };
    char rest[512], p[1024];

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        const char *at = strstr(v[i].rest, "@P");
        vfy_rc rc;

        if (at != NULL)
            snprintf(rest, sizeof(rest), "%.*s%s%s", (int)(at - v[i].rest), v[i].rest, plat_ok,
                     at + 2);
        else
            snprintf(rest, sizeof(rest), "%s", v[i].rest);
        snprintf(p, sizeof(p), "{\"eat_profile\":\"%s\",%s,%s}", VFY_EAR_PROFILE_IETF_ID, pre, rest);
        rc = verify(forge(hdr_ok(), p));
        cr_expect_str_eq(vfy_rc_name(rc), vfy_rc_name(v[i].want), "%s", v[i].what);
    }
}

/* ---- per-thread signing context (jws.c sign_ctx) ---- */

/* A separate public EVP_PKEY for @k (outlives @k). */
static EVP_PKEY *public_of(const vfy_signing_key *k)
{
    char *pem = NULL;
    BIO *bio;
    EVP_PKEY *pub;

    cr_assert_eq(vfy_signing_key_public_pem(k, &pem), VFY_OK);
    bio = BIO_new_mem_buf(pem, -1);
    cr_assert_not_null(bio);
    pub = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    cr_assert_not_null(pub);
    BIO_free(bio);
    vfy_free(pem);
    return pub;
}

/* 1 if the ES256 JWS @jws verifies under @pub, checked with plain OpenSSL. */
static int es256_verifies(const char *jws, EVP_PKEY *pub)
{
    const char *d2 = strrchr(jws, '.');
    uint8_t raw[64];
    size_t n = 0;
    unsigned char *der = NULL;
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r, *s;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int dlen, ok;

    cr_assert_eq(vfy_b64url_decode(raw, sizeof(raw), &n, d2 + 1, strlen(d2 + 1)), VFY_OK);
    cr_assert_eq(n, 64);
    r = BN_bin2bn(raw, 32, NULL);
    s = BN_bin2bn(raw + 32, 32, NULL);
    cr_assert(sig != NULL && md != NULL && ECDSA_SIG_set0(sig, r, s) == 1);
    dlen = i2d_ECDSA_SIG(sig, &der);
    cr_assert_gt(dlen, 0);
    cr_assert_eq(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub), 1);
    ok = EVP_DigestVerify(md, der, (size_t)dlen, (const unsigned char *)jws,
                          (size_t)(d2 - jws)) == 1;
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
    return ok;
}

/*
 * The SIGHUP case on one thread: sign with A, free A, load B (its struct
 * often lands at A's old address), sign with B. B's signature must verify
 * under B and not under A: a context cached for A must never sign for B.
 */
Test(ear, sign_after_key_replacement_uses_new_key)
{
    vfy_signing_key *a = NULL, *b = NULL;
    EVP_PKEY *pub_a, *pub_b;
    char *jws = NULL;

    cr_assert_eq(vfy_signing_key_generate(&a), VFY_OK);
    pub_a = public_of(a);
    cr_assert_eq(vfy_jws_sign_es256(a, (const uint8_t *)"{}", 2, &jws), VFY_OK);
    cr_assert(es256_verifies(jws, pub_a));
    vfy_free(jws);
    vfy_signing_key_free(&a);

    for (int i = 0; i < 3; i++) {
        cr_assert_eq(vfy_signing_key_generate(&b), VFY_OK);
        pub_b = public_of(b);
        cr_assert_eq(vfy_jws_sign_es256(b, (const uint8_t *)"{}", 2, &jws), VFY_OK);
        cr_assert(es256_verifies(jws, pub_b), "round %d: not signed by the new key", i);
        cr_assert_not(es256_verifies(jws, pub_a), "round %d: signed by the freed key", i);
        vfy_free(jws);
        vfy_signing_key_free(&b);
        EVP_PKEY_free(pub_a);
        pub_a = pub_b; /* the next round replaces this key */
    }
    EVP_PKEY_free(pub_a);
}

/* Two live keys alternating on one thread: each signature is by its key. */
Test(ear, sign_alternating_keys)
{
    vfy_signing_key *b = NULL;
    EVP_PKEY *pub_a = public_of(key), *pub_b;
    char *jws = NULL;

    cr_assert_eq(vfy_signing_key_generate(&b), VFY_OK);
    pub_b = public_of(b);
    for (int i = 0; i < 4; i++) {
        const vfy_signing_key *k = i % 2 == 0 ? key : b;

        cr_assert_eq(vfy_jws_sign_es256(k, (const uint8_t *)"{}", 2, &jws), VFY_OK);
        cr_assert(es256_verifies(jws, k == key ? pub_a : pub_b));
        cr_assert_not(es256_verifies(jws, k == key ? pub_b : pub_a));
        vfy_free(jws);
    }
    vfy_signing_key_free(&b);
    EVP_PKEY_free(pub_a);
    EVP_PKEY_free(pub_b);
}

static void *sign_many(void *arg)
{
    EVP_PKEY *pub = arg;
    long bad = 0;

    for (int i = 0; i < 50; i++) {
        char *jws = NULL;

        if (vfy_jws_sign_es256(key, (const uint8_t *)"{}", 2, &jws) != VFY_OK ||
            !es256_verifies(jws, pub))
            bad++;
        vfy_free(jws);
    }
    return (void *)bad;
}

/* One key shared by several threads signing at once (verifierd's workers). */
Test(ear, sign_concurrently_with_one_key)
{
    pthread_t t[4];
    EVP_PKEY *pub = public_of(key);
    void *bad;

    for (int i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, sign_many, pub), 0);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(pthread_join(t[i], &bad), 0);
        cr_assert_eq((long)bad, 0);
    }
    EVP_PKEY_free(pub);
}

/* Integer claims are printed as exact decimal JSON numbers: no exponent, no
 * fraction, negative trust-vector values and the largest manifest version
 * (2^53 - 1) included. */
Test(ear, integer_claims_are_exact_decimal_numbers)
{
    vfy_ear_claims c = sample(VFY_EAR_PROFILE_VERAISON);
    char *json = NULL;
    cJSON *j, *sub;

    c.iat = 1765000000;
    c.exp = 1765000300;
    c.manifest_version = 9007199254740993LL; /* 2^53 + 1: beyond JSON's exact integers */
    cr_assert_eq(vfy_ear_claims_json(&c, &json, NULL), VFY_E_INVALID_ARG);
    c.manifest_version = 9007199254740991LL; /* 2^53 - 1: the largest accepted */
    vfy_trust_vector_set(&c.submod[VFY_EAR_PLATFORM].tv, VFY_TV_HARDWARE, -128);
    vfy_trust_vector_set(&c.submod[VFY_EAR_PLATFORM].tv, VFY_TV_FILE_SYSTEM, 0);
    c.reasons = REASONS; /* whatever status -128 gives, it may need a reason */
    c.n_reasons = 1;
    cr_assert_eq(vfy_ear_claims_json(&c, &json, NULL), VFY_OK);
    cr_assert_not_null(strstr(json, "\"iat\":1765000000,"), "%s", json);
    cr_assert_not_null(strstr(json, "\"exp\":1765000300,"), "%s", json);
    cr_assert_not_null(strstr(json, "\"hardware\":-128"), "%s", json);
    cr_assert_not_null(strstr(json, "\"file-system\":0"), "%s", json);
    cr_assert_not_null(strstr(json, "\"instance-identity\":2"), "%s", json);
    cr_assert_not_null(strstr(json, "\"verifierd.manifest_version\":9007199254740991"), "%s", json);
    j = cJSON_Parse(json);
    cr_assert_not_null(j, "claims are not JSON: %s", json);
    cr_assert(cJSON_IsNumber(cJSON_GetObjectItem(j, "iat")));
    cr_assert(cJSON_IsNumber(cJSON_GetObjectItem(j, "exp")));
    sub = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "submods"), "platform"),
                              "ear.trustworthiness-vector");
    cr_assert(cJSON_IsNumber(cJSON_GetObjectItem(sub, "hardware")));
    cr_assert_eq(cJSON_GetObjectItem(sub, "hardware")->valueint, -128);
    cJSON_Delete(j);
    vfy_free(json);
}
