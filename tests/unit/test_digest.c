/*
 * test_digest.c — hash helpers and "sha256:<hex>" digests (digest.c).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "internal.h" /* vfy_hash_md */
#include "verify/verify.h"

/* FIPS 180-2 "abc" vectors. */
static const char abc256[] =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
static const char abc384[] =
    "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
    "8086072ba1e7cc2358baeca134c825a7";

Test(digest, known_answers)
{
    uint8_t out[VFY_MAX_DIGEST];
    char hex[2 * VFY_MAX_DIGEST + 1];

    cr_assert_eq(vfy_sha256("abc", 3, out), VFY_OK);
    cr_assert_eq(vfy_hex_encode(hex, sizeof(hex), out, 32), VFY_OK);
    cr_assert_str_eq(hex, abc256);
    cr_assert_eq(vfy_digest(VFY_HASH_SHA384, "abc", 3, out), VFY_OK);
    cr_assert_eq(vfy_hex_encode(hex, sizeof(hex), out, 48), VFY_OK);
    cr_assert_str_eq(hex, abc384);
    cr_assert_eq(vfy_digest((vfy_hash_alg)0x0012, "abc", 3, out), VFY_E_UNSUPPORTED);
}

Test(digest, names_and_sizes)
{
    vfy_hash_alg a;

    cr_assert_eq(vfy_hash_size(VFY_HASH_SHA1), 20);
    cr_assert_eq(vfy_hash_size(VFY_HASH_SHA256), 32);
    cr_assert_eq(vfy_hash_size(VFY_HASH_SHA384), 48);
    cr_assert_eq(vfy_hash_size((vfy_hash_alg)0), 0);
    cr_assert_eq(vfy_hash_from_name(&a, "sha384"), VFY_OK);
    cr_assert_eq(a, VFY_HASH_SHA384);
    cr_assert_str_eq(vfy_hash_name(a), "sha384");
    cr_assert_eq(vfy_hash_from_name(&a, "SHA256"), VFY_E_UNSUPPORTED);
    cr_assert_eq(vfy_hash_from_name(&a, "md5"), VFY_E_UNSUPPORTED);
}

Test(digest, sha256_string_roundtrip)
{
    uint8_t d[32], back[32];
    char s[VFY_SHA256_STR_LEN + 1];
    char good[VFY_SHA256_STR_LEN + 1];

    snprintf(good, sizeof(good), "sha256:%s", abc256);
    cr_assert_eq(vfy_sha256_parse(d, good, strlen(good)), VFY_OK);
    cr_assert_eq(vfy_sha256_format(s, sizeof(s), d), VFY_OK);
    cr_assert_str_eq(s, good);
    cr_assert_eq(vfy_sha256("abc", 3, back), VFY_OK);
    cr_assert_eq(memcmp(d, back, 32), 0);
    cr_assert_eq(vfy_sha256_format(s, sizeof(s) - 1, d), VFY_E_BUFFER_TOO_SMALL);
}

Test(digest, sha256_string_rejects)
{
    uint8_t d[32];
    char buf[128];
    static const char *bad[] = {
        "sha384:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "SHA256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a",
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015add",
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ag",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(d, 0xee, sizeof(d));
        snprintf(buf, sizeof(buf), "%s", bad[i]);
        cr_assert_eq(vfy_sha256_parse(d, buf, strlen(buf)), VFY_E_ENCODING, "accepted %s", bad[i]);
        for (size_t j = 0; j < 32; j++)
            cr_assert_eq(d[j], 0, "output not zeroed for %s", bad[i]);
    }
}

static void *md_of_thread(void *arg)
{
    return (void *)vfy_hash_md(*(const vfy_hash_alg *)arg);
}

/*
 * vfy_hash_md hands out digests fetched once per process: provider-backed
 * (EVP_sha256() and friends are not, and fetch again on every use), the
 * same object on every call and every thread, and usable for hashing.
 */
Test(digest, hash_md_fetched_once_and_shared)
{
    static const vfy_hash_alg all[] = {VFY_HASH_SHA1, VFY_HASH_SHA256, VFY_HASH_SHA384,
                                       VFY_HASH_SHA512};
    static const char abc1[] = "a9993e364706816aba3e25717850c26c9cd0d89d";
    static const char abc512[] =
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
    uint8_t out[VFY_MAX_DIGEST];
    char hex[2 * VFY_MAX_DIGEST + 1];

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        const EVP_MD *md = vfy_hash_md(all[i]);
        pthread_t t;
        void *other = NULL;

        cr_assert_not_null(md);
        cr_assert_not_null(EVP_MD_get0_provider(md), "%s: not a fetched EVP_MD",
                           vfy_hash_name(all[i]));
        cr_assert_eq((size_t)EVP_MD_get_size(md), vfy_hash_size(all[i]));
        cr_assert_eq(vfy_hash_md(all[i]), md);
        cr_assert_eq(pthread_create(&t, NULL, md_of_thread, (void *)&all[i]), 0);
        cr_assert_eq(pthread_join(t, &other), 0);
        cr_assert_eq(other, (void *)md);
    }
    cr_assert_null(vfy_hash_md((vfy_hash_alg)0x0012));
    cr_assert_eq(vfy_digest(VFY_HASH_SHA1, "abc", 3, out), VFY_OK);
    cr_assert_eq(vfy_hex_encode(hex, sizeof(hex), out, 20), VFY_OK);
    cr_assert_str_eq(hex, abc1);
    cr_assert_eq(vfy_digest(VFY_HASH_SHA512, "abc", 3, out), VFY_OK);
    cr_assert_eq(vfy_hex_encode(hex, sizeof(hex), out, 64), VFY_OK);
    cr_assert_str_eq(hex, abc512);
    cr_assert_eq(vfy_digest(VFY_HASH_SHA256, NULL, 0, out), VFY_OK); /* empty input */
    cr_assert_eq(vfy_hex_encode(hex, sizeof(hex), out, 32), VFY_OK);
    cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
