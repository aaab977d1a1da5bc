/*
 * test_encoding.c — base64url and hex (encoding.c).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "verify/verify.h"

Test(encoding, b64url_roundtrip_rfc4648_vectors)
{
    static const struct { const char *in, *out; } v[] = {
        {"", ""}, {"f", "Zg"}, {"fo", "Zm8"}, {"foo", "Zm9v"},
        {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char enc[16];
        uint8_t dec[16];
        size_t n = 99;
        cr_assert_eq(vfy_b64url_encode(enc, sizeof(enc), (const uint8_t *)v[i].in,
                                       strlen(v[i].in)), VFY_OK);
        cr_assert_str_eq(enc, v[i].out);
        cr_assert_eq(vfy_b64url_decode(dec, sizeof(dec), &n, v[i].out, strlen(v[i].out)), VFY_OK);
        cr_assert_eq(n, strlen(v[i].in));
        cr_assert_eq(memcmp(dec, v[i].in, n), 0);
    }
}

Test(encoding, b64url_url_alphabet)
{
    const uint8_t in[] = {0xfb, 0xff, 0xbf};
    char enc[8];
    uint8_t dec[8];
    size_t n;

    cr_assert_eq(vfy_b64url_encode(enc, sizeof(enc), in, 3), VFY_OK);
    cr_assert_str_eq(enc, "-_-_");
    cr_assert_eq(vfy_b64url_decode(dec, sizeof(dec), &n, "-_-_", 4), VFY_OK);
    cr_assert_eq(n, 3);
    cr_assert_eq(memcmp(dec, in, 3), 0);
}

Test(encoding, b64url_rejects_non_canonical)
{
    uint8_t dec[16];
    size_t n = 7;
    static const char *bad[] = {
        "Zg==",   /* padding */
        "Zm9v+g", /* standard alphabet */
        "Zm9v/g",
        "Zm 9v",  /* whitespace */
        "Z",      /* 1 mod 4 */
        "Zh",     /* non-zero trailing bits */
        "Zm9",    /* non-zero trailing bits (3 chars) ... "Zm8" is canonical */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(vfy_b64url_decode(dec, sizeof(dec), &n, bad[i], strlen(bad[i])),
                     VFY_E_ENCODING, "accepted %s", bad[i]);
        cr_assert_eq(n, 0);
    }
}

Test(encoding, b64url_buffer_limits)
{
    char enc[4];
    uint8_t dec[2];
    size_t n;

    cr_assert_eq(vfy_b64url_encode(enc, sizeof(enc), (const uint8_t *)"foo", 3),
                 VFY_E_BUFFER_TOO_SMALL);
    cr_assert_eq(vfy_b64url_decode(dec, sizeof(dec), &n, "Zm9v", 4), VFY_E_BUFFER_TOO_SMALL);
}

Test(encoding, hex)
{
    const uint8_t in[] = {0x00, 0xab, 0xff};
    char enc[7];
    uint8_t dec[3];
    size_t n;

    cr_assert_eq(vfy_hex_encode(enc, sizeof(enc), in, 3), VFY_OK);
    cr_assert_str_eq(enc, "00abff");
    cr_assert_eq(vfy_hex_decode(dec, sizeof(dec), &n, "00ABff", 6), VFY_OK);
    cr_assert_eq(n, 3);
    cr_assert_eq(memcmp(dec, in, 3), 0);
    cr_assert_eq(vfy_hex_decode(dec, sizeof(dec), &n, "0ab", 3), VFY_E_ENCODING);
    cr_assert_eq(vfy_hex_decode(dec, sizeof(dec), &n, "0g", 2), VFY_E_ENCODING);
    cr_assert_eq(vfy_hex_decode(dec, 1, &n, "0000", 4), VFY_E_BUFFER_TOO_SMALL);
    cr_assert_eq(vfy_hex_encode(enc, 6, in, 3), VFY_E_BUFFER_TOO_SMALL);
}
