/*
 * test_encoding.c — base64url and hex (encoding.c); the UTF-8 and name
 * rules; vfy_json_check (json_util.c).
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

/*
 * Every length across the stack/heap work-buffer boundary (2048) and every
 * buffer size from exact to roomy: encode and decode must give the same
 * bytes whether OpenSSL writes straight into the caller's buffer or through
 * a work buffer, and never write past the capacity they were given.
 */
Test(encoding, b64url_roundtrip_all_paths)
{
    static uint8_t in[3100], dec[3100 + 8];
    static char enc[4200 + 8];
    static const size_t lens[] = {0, 1, 2, 3, 4, 5, 31, 32, 33, 1534, 1535, 1536, 1537, 1538,
                                  2046, 2047, 2048, 2049, 3072, 3073, 3074};

    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (uint8_t)(i * 37 + 11);
    for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
        size_t len = lens[li], elen = VFY_B64URL_LEN(len);

        for (size_t slack = 0; slack < 4; slack++) {
            size_t n = 99;

            memset(enc, 0x7e, sizeof(enc));
            cr_assert_eq(vfy_b64url_encode(enc, elen + 1 + slack, in, len), VFY_OK, "len %zu", len);
            cr_assert_eq(strlen(enc), elen);
            for (size_t k = elen + 1 + slack; k < sizeof(enc); k++)
                cr_assert_eq(enc[k], 0x7e, "encode wrote past its capacity (len %zu)", len);
            for (size_t k = 0; k < elen; k++)
                cr_assert(strchr("+/=", enc[k]) == NULL);
            memset(dec, 0xa5, sizeof(dec));
            cr_assert_eq(vfy_b64url_decode(dec, len + slack, &n, enc, elen), VFY_OK, "len %zu", len);
            cr_assert_eq(n, len);
            cr_assert_eq(memcmp(dec, in, len), 0, "len %zu slack %zu", len, slack);
            for (size_t k = len + slack; k < sizeof(dec); k++)
                cr_assert_eq(dec[k], 0xa5, "decode wrote past its capacity (len %zu)", len);
        }
    }
}

Test(encoding, b64url_rejects_bytes_outside_the_alphabet)
{
    uint8_t dec[8];
    char in[5] = "Zm9v";
    size_t n;

    for (int c = 0; c < 256; c++) {
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_';

        in[1] = (char)c;
        vfy_rc rc = vfy_b64url_decode(dec, sizeof(dec), &n, in, 4);
        cr_assert_eq(rc, ok ? VFY_OK : VFY_E_ENCODING, "byte 0x%02x", c);
    }
}

Test(encoding, hex_rejects_bytes_outside_the_alphabet)
{
    uint8_t dec[2];
    char in[3] = "0a";
    size_t n;

    for (int c = 0; c < 256; c++) {
        int ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');

        in[0] = (char)c;
        cr_assert_eq(vfy_hex_decode(dec, sizeof(dec), &n, in, 2), ok ? VFY_OK : VFY_E_ENCODING,
                     "byte 0x%02x", c);
    }
}

/* Bad input is reported as such even when the buffer is also too small. */
Test(encoding, bad_input_reported_before_short_buffer)
{
    uint8_t dec[1];
    size_t n = 5;

    cr_assert_eq(vfy_b64url_decode(dec, sizeof(dec), &n, "Zm9v", 4), VFY_E_BUFFER_TOO_SMALL);
    cr_assert_eq(vfy_b64url_decode(dec, sizeof(dec), &n, "Zm9v+g", 6), VFY_E_ENCODING);
    cr_assert_eq(vfy_b64url_decode(dec, sizeof(dec), &n, "Zm9vZh", 6), VFY_E_ENCODING);
    cr_assert_eq(vfy_b64url_decode(dec, sizeof(dec), &n, "Zm9vZm9", 7), VFY_E_ENCODING);
    cr_assert_eq(n, 0);
    cr_assert_eq(vfy_hex_decode(dec, sizeof(dec), &n, "00ff", 4), VFY_E_BUFFER_TOO_SMALL);
    cr_assert_eq(vfy_hex_decode(dec, sizeof(dec), &n, "00fg", 4), VFY_E_ENCODING);
    cr_assert_eq(n, 0);
}

/* vfy_utf8_seq: the RFC 3629 rule the store applies to names (and verifierd
 * to the names it logs and checks). */
Test(encoding, utf8_seq)
{
    static const struct {
        const char *b;
        size_t n, want;
    } v[] = {
        {"a", 1, 1},
        {"\xc3\xa9", 2, 2},          /* é */
        {"\xe2\x82\xac", 3, 3},      /* € */
        {"\xf0\x9f\x98\x80", 4, 4},  /* U+1F600 */
        {"\xf4\x8f\xbf\xbf", 4, 4},  /* U+10FFFF */
        {"\xc3", 1, 0},              /* truncated */
        {"\xe2\x82", 2, 0},
        {"\xc0\xaf", 2, 0},          /* overlong */
        {"\xe0\x80\xaf", 3, 0},
        {"\xf0\x80\x80\xaf", 4, 0},
        {"\xed\xa0\x80", 3, 0},      /* a surrogate */
        {"\xf4\x90\x80\x80", 4, 0},  /* above U+10FFFF */
        {"\xff", 1, 0},
        {"\x80", 1, 0},              /* a continuation byte alone */
        {"\xc3\x28", 2, 0},          /* not followed by a continuation byte */
        {"a", 0, 0},                 /* nothing to read */
    };

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        cr_expect_eq(vfy_utf8_seq(v[i].b, v[i].n), v[i].want, "case %zu", i);
    cr_expect_eq(vfy_utf8_seq(NULL, 4), 0);
}

/* vfy_name_char: UTF-8 as above, minus the characters a name may not hold. */
Test(encoding, name_char)
{
    static const struct {
        const char *b;
        size_t n, want;
    } v[] = {
        {"a", 1, 1},
        {"\xc3\xa9", 2, 2},            /* é */
        {"\xe2\x82\xac", 3, 3},        /* € */
        {"\xf0\x9f\x98\x80", 4, 4},    /* U+1F600 */
        {"\xc2\xa0", 2, 2},            /* U+00A0, first after C1 */
        {"\xe2\x80\x8d", 3, 3},        /* U+200D, not refused (vfy_name_char_visible does) */
        {"\t", 1, 0},
        {"\x7f", 1, 0},
        {"\xc2\x80", 2, 0},            /* U+0080 */
        {"\xc2\x85", 2, 0},            /* NEL */
        {"\xc2\x9b", 2, 0},            /* CSI */
        {"\xc2\x9f", 2, 0},            /* U+009F */
        {"\xd8\x9c", 2, 0},            /* U+061C arabic letter mark */
        {"\xe2\x80\x8e", 3, 0},        /* LRM */
        {"\xe2\x80\x8f", 3, 0},        /* RLM */
        {"\xe2\x80\xaa", 3, 0},        /* U+202A */
        {"\xe2\x80\xae", 3, 0},        /* U+202E right-to-left override */
        {"\xe2\x80\xaf", 3, 3},        /* U+202F, allowed */
        {"\xe2\x81\xa6", 3, 0},        /* U+2066 */
        {"\xe2\x81\xa9", 3, 0},        /* U+2069 */
        {"\xe2\x81\xaa", 3, 3},        /* U+206A, allowed */
        {"\xff", 1, 0},
    };

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        cr_expect_eq(vfy_name_char(v[i].b, v[i].n), v[i].want, "case %zu", i);
    cr_expect_eq(vfy_name_char(NULL, 4), 0);
}

/* vfy_name_char_visible: vfy_name_char minus the characters that print as
 * nothing (the rule for names the store's add calls create, 0.2.7). */
Test(encoding, name_char_visible)
{
    static const struct {
        const char *b;
        size_t n, want;
    } v[] = {
        {"a", 1, 1},
        {"\xc3\xa9", 2, 2},            /* é */
        {"\xf0\x9f\x98\x80", 4, 4},    /* U+1F600 */
        {"\t", 1, 0},                   /* what vfy_name_char refuses, too */
        {"\xc2\x9b", 2, 0},            /* CSI */
        {"\xe2\x80\xae", 3, 0},        /* U+202E */
        {"\xc2\xad", 2, 0},            /* U+00AD soft hyphen */
        {"\xc2\xac", 2, 2},            /* U+00AC, allowed */
        {"\xe1\xa0\x8e", 3, 0},        /* U+180E */
        {"\xe2\x80\x8a", 3, 3},        /* U+200A hair space, allowed */
        {"\xe2\x80\x8b", 3, 0},        /* U+200B zero-width space */
        {"\xe2\x80\x8c", 3, 0},        /* U+200C */
        {"\xe2\x80\x8d", 3, 0},        /* U+200D */
        {"\xe2\x80\xa8", 3, 0},        /* U+2028 line separator */
        {"\xe2\x80\xa9", 3, 0},        /* U+2029 */
        {"\xe2\x81\xa0", 3, 0},        /* U+2060 word joiner */
        {"\xe2\x81\xa4", 3, 0},        /* U+2064 */
        {"\xe2\x81\xa5", 3, 3},        /* U+2065, allowed */
        {"\xef\xbb\xbf", 3, 0},        /* U+FEFF */
        {"\xef\xbf\xb9", 3, 0},        /* U+FFF9 */
        {"\xef\xbf\xbb", 3, 0},        /* U+FFFB */
        {"\xef\xbf\xbc", 3, 3},        /* U+FFFC, allowed */
        {"\xf3\xa0\x80\x81", 4, 0},    /* U+E0001 language tag */
        {"\xf3\xa0\x81\xbf", 4, 0},    /* U+E007F cancel tag */
        {"\xf3\xa0\x82\x80", 4, 4},    /* U+E0080, allowed */
        {"\xff", 1, 0},
    };

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        cr_expect_eq(vfy_name_char_visible(v[i].b, v[i].n), v[i].want, "case %zu", i);
        if (v[i].want != 0)
            cr_expect_eq(vfy_name_char(v[i].b, v[i].n), v[i].want, "case %zu", i);
    }
    cr_expect_eq(vfy_name_char_visible(NULL, 4), 0);
}

/* The public strict-JSON check: each refusal with its exact reason. */
Test(encoding, json_check)
{
    static const struct {
        const char *in;
        size_t n;           /* 0: strlen(in) */
        const char *why;    /* NULL: accepted */
    } v[] = {
        {"{}", 0, NULL},
        {" {\"a\":[1,-2,0,true,false,null,\"x\"]}\r\n\t ", 0, NULL},
        {"[\"\\u00e9\\ud83d\\ude00\xc3\xa9\\n\"]", 0, NULL},
        {"\"a\"", 0, NULL},
        {"9007199254740993", 0, NULL},
        {"{\"kind\":\"tool\",\"name\":\"payments.transfer\\u0000-old\"}", 0,
         "\\u0000 in a string"},
        {"{\"a\":1.0}", 0,
         "a number that is not a plain integer (no fraction, exponent or leading zero)"},
        {"[1e5]", 0,
         "a number that is not a plain integer (no fraction, exponent or leading zero)"},
        {"[01]", 0,
         "a number that is not a plain integer (no fraction, exponent or leading zero)"},
        {"[-0.5]", 0,
         "a number that is not a plain integer (no fraction, exponent or leading zero)"},
        {"[+1]", 0, "not well-formed JSON"},
        {"{\"a\xff\":1}", 0, "invalid UTF-8 in a string"},
        {"[\"\xc0\xaf\"]", 0, "invalid UTF-8 in a string"},          /* overlong */
        {"[\"\xed\xa0\x80\"]", 0, "invalid UTF-8 in a string"},      /* surrogate */
        {"[\"\xc3\"]", 0, "invalid UTF-8 in a string"},              /* cut */
        {"[\"a\tb\"]", 0, "a control character in a string"},
        {"[\"a\0b\"]", 6, "a control character in a string"},
        {"[\"\\x41\"]", 0, "a bad escape in a string"},
        {"[\"\\u12G4\"]", 0, "a bad escape in a string"},
        {"[\"\\ud800\"]", 0, "an unpaired surrogate escape in a string"},
        {"[\"\\ud800\\u0041\"]", 0, "an unpaired surrogate escape in a string"},
        {"[\"\\udc00\"]", 0, "an unpaired surrogate escape in a string"},
        {"[\"abc", 0, "an unterminated string"},
        {"[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]", 0, "nesting deeper than 16 levels"},
        {"{} {}", 0, "bytes after the JSON value"},
        {"{\"a\":1,}", 0, "not well-formed JSON"},
        {"{\"a\" 1}", 0, "not well-formed JSON"},
        {"[tru]", 0, "not well-formed JSON"},
        {"", 0, "no JSON value"},
        {"   ", 0, "not well-formed JSON"},
    };

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        const char *why = "unset";
        vfy_rc rc = vfy_json_check(v[i].in, v[i].n ? v[i].n : strlen(v[i].in), &why);

        if (v[i].why == NULL) {
            cr_expect_eq(rc, VFY_OK, "case %zu: %s", i, why != NULL ? why : "");
            cr_expect_null(why, "case %zu", i);
        } else {
            cr_expect_eq(rc, VFY_E_JSON, "case %zu", i);
            cr_expect(why != NULL && strcmp(why, v[i].why) == 0, "case %zu: why '%s', want '%s'",
                      i, why != NULL ? why : "(null)", v[i].why);
        }
    }
    /* 16 levels pass; the length is taken as given (no NUL needed, none read). */
    cr_expect_eq(vfy_json_check("[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]", 33, NULL), VFY_OK);
    cr_expect_eq(vfy_json_check("{}garbage", 2, NULL), VFY_OK);
    cr_expect_eq(vfy_json_check(NULL, 0, NULL), VFY_E_JSON);
    cr_expect_eq(vfy_json_check(NULL, 1, NULL), VFY_E_INVALID_ARG);
}
