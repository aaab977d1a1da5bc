/*
 * test_digest.c — hash helpers and "sha256:<hex>" digests (digest.c).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

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
