/*
 * test_jwk.c — signing key, public JWK, RFC 7638 thumbprint, JWKS (jwk.c).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "verify/verify.h"
#include "verify/jwk.h"
#include "jose.h"   /* the signing contexts each thread keeps */
#include <pthread.h>

/* A fixed P-256 key generated once with `openssl ecparam -genkey -name prime256v1 | openssl pkcs8 -topk8 -nocrypt`. */
static const char FIXED_PEM[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg9kOSK51PBKdm9HyH\n"
    "cTrM+RiWpn+aqMCGrO0C1ovT/DChRANCAARFGlyNa6KGMbO1H6EvVUbuSisaj7xo\n"
    "J34VvpUKfzdZYji/NeEtbvaWT8Ozgw9UGtY5ox60JWPSJBiW9d6x2oNK\n"
    "-----END PRIVATE KEY-----\n";

static char *get_str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    cr_assert(cJSON_IsString(v), "member %s", name);
    return v->valuestring;
}

/* Thumbprint recomputed here from the JWK's own x and y (RFC 7638 §3). */
static void expect_thumbprint(const char *jwk_json, const char *kid)
{
    cJSON *j = cJSON_Parse(jwk_json);
    char canon[256], tp[64];
    uint8_t h[32];

    cr_assert_not_null(j);
    snprintf(canon, sizeof(canon), "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
             get_str(j, "x"), get_str(j, "y"));
    cr_assert_eq(vfy_sha256(canon, strlen(canon), h), VFY_OK);
    cr_assert_eq(vfy_b64url_encode(tp, sizeof(tp), h, 32), VFY_OK);
    cr_assert_str_eq(tp, kid);
    cr_assert_str_eq(get_str(j, "kid"), kid);
    cJSON_Delete(j);
}

Test(jwk, fixed_key_public_jwk_and_kid)
{
    vfy_signing_key *k = NULL;
    char *jwk = NULL;
    cJSON *j;

    cr_assert_eq(vfy_signing_key_from_pem(&k, FIXED_PEM, strlen(FIXED_PEM)), VFY_OK);
    cr_assert_eq(strlen(vfy_signing_key_kid(k)), VFY_KID_LEN);
    cr_assert_eq(vfy_signing_key_public_jwk(k, &jwk), VFY_OK);
    j = cJSON_Parse(jwk);
    cr_assert_str_eq(get_str(j, "kty"), "EC");
    cr_assert_str_eq(get_str(j, "crv"), "P-256");
    cr_assert_str_eq(get_str(j, "alg"), "ES256");
    cr_assert_str_eq(get_str(j, "use"), "sig");
    /* x, y of this key: the last 64 bytes of `openssl ec -pubout -outform DER`, base64url */
    cr_assert_str_eq(get_str(j, "x"), "RRpcjWuihjGztR-hL1VG7korGo-8aCd-Fb6VCn83WWI");
    cr_assert_str_eq(get_str(j, "y"), "OL814S1u9pZPw7ODD1Qa1jmjHrQlY9IkGJb13rHag0o");
    cr_assert_null(cJSON_GetObjectItemCaseSensitive(j, "d"), "private part leaked");
    cJSON_Delete(j);
    expect_thumbprint(jwk, vfy_signing_key_kid(k));
    vfy_free(jwk);
    vfy_signing_key_free(&k);
    cr_assert_null(k);
}

Test(jwk, generate_save_load_0600_same_kid)
{
    char dir[] = "/tmp/vfy-jwk-XXXXXX", path[64];
    vfy_signing_key *k = NULL, *k2 = NULL;
    struct stat st;

    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/sign.pem", dir);
    cr_assert_eq(vfy_signing_key_generate(&k), VFY_OK);
    cr_assert_eq(vfy_signing_key_save(k, path), VFY_OK);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(vfy_signing_key_load(&k2, path), VFY_OK);
    cr_assert_str_eq(vfy_signing_key_kid(k), vfy_signing_key_kid(k2));
    unlink(path);
    rmdir(dir);
    vfy_signing_key_free(&k);
    vfy_signing_key_free(&k2);
    cr_assert_eq(vfy_signing_key_load(&k2, "/nonexistent/k.pem"), VFY_E_IO);
    cr_assert_null(k2);
}

Test(jwk, rejects_non_p256_and_garbage)
{
    /* P-384 key: `openssl ecparam -genkey -name secp384r1` */
    static const char p384[] =
        "-----BEGIN PRIVATE KEY-----\n"
        "MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDCwnIc+wkqO7zgX/7om\n"
        "KK6uHEp/w4vU9QbDLPo3aajXX5SolREA5J7IMKdjdunR+zOhZANiAASp3xvA33Qe\n"
        "TwjJmC+ia2ZniE6Ffmx77RMVSc8kJ3cgPXv7hHAVc41MTKqVYWGHXbEGK3f+FF09\n"
        "29CQQEhXx0+WOXCSCvKcyIjawal0TXKCIyGv55bwqQ7RjwB9TUlqUhE=\n"
        "-----END PRIVATE KEY-----\n";
    vfy_signing_key *k = (vfy_signing_key *)1;

    cr_assert_eq(vfy_signing_key_from_pem(&k, p384, strlen(p384)), VFY_E_SIGNING_KEY);
    cr_assert_null(k);
    cr_assert_eq(vfy_signing_key_from_pem(&k, "hello", 5), VFY_E_SIGNING_KEY);
}

Test(jwk, jwks_roundtrip_rotation_two_keys)
{
    vfy_signing_key *a = NULL, *b = NULL;
    vfy_jwks *set = NULL, *parsed = NULL;
    char *json = NULL, *pem = NULL;

    cr_assert_eq(vfy_signing_key_generate(&a), VFY_OK);
    cr_assert_eq(vfy_signing_key_generate(&b), VFY_OK);
    cr_assert_eq(vfy_jwks_new(&set), VFY_OK);
    cr_assert_eq(vfy_jwks_add(set, a), VFY_OK);
    cr_assert_eq(vfy_jwks_add(set, a), VFY_OK); /* idempotent */
    /* the retired key b, kept only as its public PEM */
    cr_assert_eq(vfy_signing_key_public_pem(b, &pem), VFY_OK);
    cr_assert_eq(vfy_jwks_add_public_pem(set, pem, strlen(pem)), VFY_OK);
    cr_assert_eq(vfy_jwks_count(set), 2);
    cr_assert_eq(vfy_jwks_to_json(set, &json), VFY_OK);
    cr_assert_eq(vfy_jwks_parse(&parsed, json, strlen(json)), VFY_OK);
    cr_assert_eq(vfy_jwks_count(parsed), 2);
    cr_assert_str_eq(vfy_jwks_kid(parsed, 0), vfy_signing_key_kid(a));
    cr_assert_str_eq(vfy_jwks_kid(parsed, 1), vfy_signing_key_kid(b));
    cr_assert_null(vfy_jwks_kid(parsed, 2));
    vfy_free(json);
    vfy_free(pem);
    vfy_jwks_free(&set);
    vfy_jwks_free(&parsed);
    cr_assert_null(parsed);
    vfy_signing_key_free(&a);
    vfy_signing_key_free(&b);
}

/*
 * Old keys kept in one file: every public key block is published (the
 * PUBKEY reader took the first and skipped the rest silently), and a file
 * holding a private key is refused as a whole (it was skipped past).
 */
Test(jwk, public_pem_every_block_or_none)
{
    vfy_signing_key *a = NULL, *b = NULL, *c = NULL;
    vfy_jwks *set = NULL;
    char *pa = NULL, *pb = NULL, *pc = NULL, two[2048], mixed[4096];

    cr_assert_eq(vfy_signing_key_generate(&a), VFY_OK);
    cr_assert_eq(vfy_signing_key_generate(&b), VFY_OK);
    cr_assert_eq(vfy_signing_key_generate(&c), VFY_OK);
    cr_assert_eq(vfy_signing_key_public_pem(a, &pa), VFY_OK);
    cr_assert_eq(vfy_signing_key_public_pem(b, &pb), VFY_OK);
    cr_assert_eq(vfy_signing_key_public_pem(c, &pc), VFY_OK);
    cr_assert_eq(vfy_jwks_new(&set), VFY_OK);
    snprintf(two, sizeof(two), "%s%s", pa, pb);
    cr_assert_eq(vfy_jwks_add_public_pem(set, two, strlen(two)), VFY_OK);
    cr_assert_eq(vfy_jwks_count(set), 2, "both keys of one file");
    /* a private key before a public one: refused, nothing added */
    snprintf(mixed, sizeof(mixed), "%s%s", FIXED_PEM, pc);
    cr_assert_eq(vfy_jwks_add_public_pem(set, mixed, strlen(mixed)), VFY_E_JWK);
    cr_assert_eq(vfy_jwks_count(set), 2, "no key of a refused file");
    /* ... and after one */
    snprintf(mixed, sizeof(mixed), "%s%s", pc, FIXED_PEM);
    cr_assert_eq(vfy_jwks_add_public_pem(set, mixed, strlen(mixed)), VFY_E_JWK);
    cr_assert_eq(vfy_jwks_count(set), 2);
    cr_assert_eq(vfy_jwks_add_public_pem(set, "no PEM here", 11), VFY_E_JWK);
    cr_assert_eq(vfy_jwks_add_public_pem(set, pc, strlen(pc)), VFY_OK);
    cr_assert_eq(vfy_jwks_count(set), 3);
    vfy_free(pa);
    vfy_free(pb);
    vfy_free(pc);
    vfy_jwks_free(&set);
    vfy_signing_key_free(&a);
    vfy_signing_key_free(&b);
    vfy_signing_key_free(&c);
}

static vfy_rc parse(const char *json)
{
    vfy_jwks *s = NULL;
    vfy_rc rc = vfy_jwks_parse(&s, json, strlen(json));

    if (rc != VFY_OK)
        cr_assert_null(s);
    vfy_jwks_free(&s);
    return rc;
}

#define X "RRpcjWuihjGztR-hL1VG7korGo-8aCd-Fb6VCn83WWI"
#define Y "OL814S1u9pZPw7ODD1Qa1jmjHrQlY9IkGJb13rHag0o"

Test(jwk, jwks_parse_negative)
{
    cr_assert_eq(parse("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" X "\",\"y\":\"" Y "\"}]}"), VFY_OK);
    cr_assert_eq(parse(""), VFY_E_JWK);
    cr_assert_eq(parse("[]"), VFY_E_JWK);
    cr_assert_eq(parse("{\"keys\":{}}"), VFY_E_JWK);
    cr_assert_eq(parse("{\"keys\":[1]}"), VFY_E_JWK);
    cr_assert_eq(parse("{\"keys\":[]} x"), VFY_E_JWK);                    /* trailing */
    cr_assert_eq(parse("{\"keys\":[],\"keys\":[]}"), VFY_E_JWK);           /* duplicate */
    cr_assert_eq(parse("{\"keys\":[{\"crv\":\"P-256\",\"x\":\"" X "\",\"y\":\"" Y "\"}]}"), VFY_E_JWK); /* no kty */
    cr_assert_eq(parse("{\"keys\":[{\"kty\":\"EC\",\"x\":\"" X "\",\"y\":\"" Y "\"}]}"), VFY_E_JWK); /* EC, no crv */
    /* y with one bit changed: not on the curve */
    cr_assert_eq(parse("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" X
                       "\",\"y\":\"OL814S1u9pZPw7ODD1Qa1jmjHrQlY9IkGJb13rHag0k\"}]}"), VFY_E_JWK);
    /* padding / short coordinate */
    cr_assert_eq(parse("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" X "=\",\"y\":\"" Y "\"}]}"), VFY_E_JWK);
    cr_assert_eq(parse("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"" Y "\"}]}"), VFY_E_JWK);
    /* a private key member */
    cr_assert_eq(parse("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"d\":\"AA\",\"x\":\"" X "\",\"y\":\"" Y "\"}]}"), VFY_E_JWK);
    /* two different keys under one kid */
    cr_assert_eq(parse("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"k\",\"x\":\"" X "\",\"y\":\"" Y "\"},"
                       "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"k\",\"x\":\"" X "\",\"y\":\"OL814S1u9pZPw7ODD1Qa1jmjHrQlY9IkGJb13rHag0k\"}]}"),
                 VFY_E_JWK);
}

Test(jwk, jwks_parse_skips_unusable_keys)
{
    vfy_jwks *s = NULL;
    const char *j = "{\"keys\":["
                    "{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"},"
                    "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"AA\",\"y\":\"AA\"},"
                    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"use\":\"enc\",\"x\":\"" X "\",\"y\":\"" Y "\"},"
                    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ES384\",\"x\":\"" X "\",\"y\":\"" Y "\"},"
                    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"mine\",\"x\":\"" X "\",\"y\":\"" Y "\"}]}";

    cr_assert_eq(vfy_jwks_parse(&s, j, strlen(j)), VFY_OK);
    cr_assert_eq(vfy_jwks_count(s), 1);
    cr_assert_str_eq(vfy_jwks_kid(s, 0), "mine");
    vfy_jwks_free(&s);
}

Test(jwk, jwks_limits)
{
    char *big = malloc(VFY_JWKS_MAX_BYTES + 2);
    vfy_jwks *s = NULL;

    memset(big, ' ', VFY_JWKS_MAX_BYTES + 1);
    big[VFY_JWKS_MAX_BYTES + 1] = '\0';
    cr_assert_eq(vfy_jwks_parse(&s, big, VFY_JWKS_MAX_BYTES + 1), VFY_E_TOO_LARGE);
    free(big);
}

/* A thread that signs once with *arg, then stays idle until released. */
struct idle_signer {
    const vfy_signing_key *key;
    pthread_barrier_t signed_, release;
    vfy_rc rc;
};

static void *idle_sign(void *arg)
{
    struct idle_signer *t = arg;
    char *jws = NULL;

    t->rc = vfy_jws_sign_es256(t->key, (const uint8_t *)"{}", 2, &jws);
    vfy_free(jws);
    pthread_barrier_wait(&t->signed_);
    pthread_barrier_wait(&t->release);
    return NULL;
}

/* A thread keeps a signing context for the last key it signed with; freeing
 * the key drops it in every thread, also in one that has not signed since
 * (before, a replaced key's private part stayed in memory until then). */
Test(jwk, freeing_a_signing_key_drops_every_threads_context)
{
    vfy_signing_key *a = NULL, *b = NULL;
    vfy_jwks *set = NULL;
    struct idle_signer t;
    pthread_t th;
    char *jws = NULL, *payload = NULL, kid[VFY_JWK_MAX_KID + 1];
    size_t plen = 0;

    cr_assert_eq(vfy_signing_key_generate(&a), VFY_OK);
    cr_assert_eq(vfy_signing_key_generate(&b), VFY_OK);
    cr_assert_eq(vfy_jws_cached_keys(), 0);
    cr_assert_eq(vfy_jws_sign_es256(a, (const uint8_t *)"{}", 2, &jws), VFY_OK);
    vfy_free(jws);
    cr_assert_eq(vfy_jws_cached_keys(), 1, "this thread's context for a");
    t.key = a;
    pthread_barrier_init(&t.signed_, NULL, 2);
    pthread_barrier_init(&t.release, NULL, 2);
    cr_assert_eq(pthread_create(&th, NULL, idle_sign, &t), 0);
    pthread_barrier_wait(&t.signed_);
    cr_assert_eq(t.rc, VFY_OK);
    cr_assert_eq(vfy_jws_cached_keys(), 2, "and the idle thread's");
    vfy_signing_key_free(&a);
    cr_expect_eq(vfy_jws_cached_keys(), 0, "a freed: no thread holds it any more");
    pthread_barrier_wait(&t.release);
    cr_assert_eq(pthread_join(th, NULL), 0);
    /* signing goes on with another key, and verifies */
    cr_assert_eq(vfy_jws_sign_es256(b, (const uint8_t *)"{\"x\":1}", 7, &jws), VFY_OK);
    cr_assert_eq(vfy_jws_cached_keys(), 1);
    cr_assert_eq(vfy_jwks_new(&set), VFY_OK);
    cr_assert_eq(vfy_jwks_add(set, b), VFY_OK);
    cr_assert_eq(vfy_jws_verify_es256(jws, strlen(jws), set, &payload, &plen, kid), VFY_OK);
    cr_expect_eq(plen, 7);
    free(payload);
    vfy_free(jws);
    vfy_jwks_free(&set);
    vfy_signing_key_free(&b);
    cr_expect_eq(vfy_jws_cached_keys(), 0);
    pthread_barrier_destroy(&t.signed_);
    pthread_barrier_destroy(&t.release);
}
