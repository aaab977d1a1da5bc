/*
 * encoding.c — strict base64url without padding (RFC 4648 §5) and hex.
 *
 * The base64 arithmetic is OpenSSL's (EVP_EncodeBlock/EVP_DecodeBlock); this
 * file maps the URL-safe alphabet onto it and adds the strictness OpenSSL's
 * block decoder lacks: no padding, no whitespace, length not 1 mod 4, and
 * zero trailing bits, so every value has exactly one accepted encoding.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/*
 * The alphabet as a table: each base64url character mapped to the standard
 * alphabet character OpenSSL decodes ('-' to '+', '_' to '/'), 0 for every
 * other byte (NUL, '+', '/', '=' and whitespace included). Validation and
 * translation are one pass.
 */
#define B64_SAME(c) [c] = c
static const char b64url_std[256] = {
    B64_SAME('A'), B64_SAME('B'), B64_SAME('C'), B64_SAME('D'), B64_SAME('E'), B64_SAME('F'),
    B64_SAME('G'), B64_SAME('H'), B64_SAME('I'), B64_SAME('J'), B64_SAME('K'), B64_SAME('L'),
    B64_SAME('M'), B64_SAME('N'), B64_SAME('O'), B64_SAME('P'), B64_SAME('Q'), B64_SAME('R'),
    B64_SAME('S'), B64_SAME('T'), B64_SAME('U'), B64_SAME('V'), B64_SAME('W'), B64_SAME('X'),
    B64_SAME('Y'), B64_SAME('Z'), B64_SAME('a'), B64_SAME('b'), B64_SAME('c'), B64_SAME('d'),
    B64_SAME('e'), B64_SAME('f'), B64_SAME('g'), B64_SAME('h'), B64_SAME('i'), B64_SAME('j'),
    B64_SAME('k'), B64_SAME('l'), B64_SAME('m'), B64_SAME('n'), B64_SAME('o'), B64_SAME('p'),
    B64_SAME('q'), B64_SAME('r'), B64_SAME('s'), B64_SAME('t'), B64_SAME('u'), B64_SAME('v'),
    B64_SAME('w'), B64_SAME('x'), B64_SAME('y'), B64_SAME('z'), B64_SAME('0'), B64_SAME('1'),
    B64_SAME('2'), B64_SAME('3'), B64_SAME('4'), B64_SAME('5'), B64_SAME('6'), B64_SAME('7'),
    B64_SAME('8'), B64_SAME('9'), ['-'] = '+', ['_'] = '/',
};
#undef B64_SAME

/* The 6-bit value of base64url character @ch (already validated). */
static int b64url_value(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    return ch == '-' ? 62 : 63;
}

/*
 * Work buffers up to this size live on the stack; larger inputs (a CMW
 * collection's quote and manifest are a few hundred bytes to a few KiB) take
 * one allocation.
 */
#define B64_STACK 2048

vfy_rc vfy_b64url_encode(char *out, size_t out_cap, const uint8_t *in, size_t len)
{
    unsigned char stack[B64_STACK], *tmp;
    size_t std_len, n;

    if (out == NULL || (in == NULL && len != 0))
        return VFY_E_INVALID_ARG;
    n = VFY_B64URL_LEN(len);
    if (len > (SIZE_MAX / 4) - 4 || out_cap < n + 1 || len > INT32_MAX)
        return VFY_E_BUFFER_TOO_SMALL;
    std_len = ((len + 2) / 3) * 4;
    /* EVP_EncodeBlock writes the padded form and a NUL: straight into @out
     * when it has the room, else through a work buffer. */
    if (out_cap >= std_len + 1)
        tmp = (unsigned char *)out;
    else if (std_len + 1 <= sizeof(stack))
        tmp = stack;
    else if ((tmp = malloc(std_len + 1)) == NULL)
        return VFY_E_NOMEM;
    EVP_EncodeBlock(tmp, in, (int)len);
    for (size_t i = 0; i < n; i++) {
        char ch = (char)tmp[i];

        out[i] = ch == '+' ? '-' : ch == '/' ? '_' : ch;
    }
    out[n] = '\0';
    if (tmp != (unsigned char *)out && tmp != stack)
        free(tmp);
    return VFY_OK;
}

vfy_rc vfy_b64url_decode(uint8_t *out, size_t out_cap, size_t *out_len,
                         const char *in, size_t len)
{
    size_t rem = len % 4, pad = rem == 0 ? 0 : 4 - rem, dlen, full;
    unsigned char stack_in[B64_STACK], stack_out[B64_STACK / 4 * 3];
    unsigned char *tmp = stack_in, *dec = NULL;
    vfy_rc rc = VFY_E_ENCODING;
    int bad = 0, n;

    if (out_len == NULL || (in == NULL && len != 0) || (out == NULL && out_cap != 0))
        return VFY_E_INVALID_ARG;
    *out_len = 0;
    if (rem == 1)
        return VFY_E_ENCODING;
    if (len > INT32_MAX - 4)
        return VFY_E_TOO_LARGE;
    dlen = (len / 4) * 3 + (rem == 0 ? 0 : rem - 1);
    full = ((len + pad) / 4) * 3;
    if (dlen > out_cap) {
        /* bad input is reported before a short buffer */
        for (size_t i = 0; i < len; i++)
            bad |= b64url_std[(unsigned char)in[i]] == 0;
        if (!bad && ((rem == 2 && (b64url_value((unsigned char)in[len - 1]) & 0x0f) != 0) ||
                     (rem == 3 && (b64url_value((unsigned char)in[len - 1]) & 0x03) != 0)))
            bad = 1;
        return bad ? VFY_E_ENCODING : VFY_E_BUFFER_TOO_SMALL;
    }
    if (len == 0)
        return VFY_OK;
    if (len + pad + 1 > sizeof(stack_in) && (tmp = malloc(len + pad + 1)) == NULL)
        return VFY_E_NOMEM;
    for (size_t i = 0; i < len; i++) {
        char c = b64url_std[(unsigned char)in[i]];

        bad |= c == 0;
        tmp[i] = (unsigned char)c;
    }
    /* Canonical: the unused low bits of the last character must be zero. */
    if (bad || (rem == 2 && (b64url_value((unsigned char)in[len - 1]) & 0x0f) != 0) ||
        (rem == 3 && (b64url_value((unsigned char)in[len - 1]) & 0x03) != 0))
        goto out;
    /* EVP_DecodeBlock writes whole groups (the pad bytes as zeros): into
     * @out when it has the room, else through a work buffer. */
    if (out_cap >= full)
        dec = out;
    else if (full <= sizeof(stack_out))
        dec = stack_out;
    else if ((dec = malloc(full + 1)) == NULL) {
        rc = VFY_E_NOMEM;
        goto out;
    }
    memset(tmp + len, '=', pad);
    n = EVP_DecodeBlock(dec, tmp, (int)(len + pad));
    if (n < 0 || (size_t)n < dlen) {
        OPENSSL_cleanse(dec, full); /* @out included: nothing half-decoded */
        goto out;
    }
    if (dec != out)
        memcpy(out, dec, dlen);
    else if (full > dlen)
        memset(out + dlen, 0, full - dlen); /* the pad bytes, inside out_cap */
    *out_len = dlen;
    rc = VFY_OK;
out:
    /* The input may be secret too (an API token, vfy_store_token_add_given):
     * the translated copy goes as the decoded bytes do. */
    OPENSSL_cleanse(tmp, len + pad + 1);
    if (tmp != stack_in)
        free(tmp);
    /* The decoded bytes may be secret (a JWK's private scalar). */
    if (dec == stack_out)
        OPENSSL_cleanse(stack_out, full); /* full <= sizeof(stack_out) here */
    else if (dec != out)
        vfy_free_secret(dec, full + 1); /* NULL is fine */
    return rc;
}

vfy_rc vfy_hex_encode(char *out, size_t out_cap, const uint8_t *in, size_t len)
{
    static const char digits[] = "0123456789abcdef";

    if (out == NULL || (in == NULL && len != 0))
        return VFY_E_INVALID_ARG;
    if (len > (SIZE_MAX - 1) / 2 || out_cap < 2 * len + 1)
        return VFY_E_BUFFER_TOO_SMALL;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * len] = '\0';
    return VFY_OK;
}

/* Each hex digit's value plus one; 0 for every other byte. */
static const unsigned char hex_val1[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,
    ['7'] = 8,  ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14,
    ['e'] = 15, ['f'] = 16, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15,
    ['F'] = 16,
};

static int hex_value(unsigned char ch)
{
    return (int)hex_val1[ch] - 1;
}

vfy_rc vfy_hex_decode(uint8_t *out, size_t out_cap, size_t *out_len,
                      const char *in, size_t len)
{
    if (out_len == NULL || (in == NULL && len != 0) || (out == NULL && out_cap != 0))
        return VFY_E_INVALID_ARG;
    *out_len = 0;
    if (len % 2 != 0)
        return VFY_E_ENCODING;
    if (len / 2 > out_cap) {
        for (size_t i = 0; i < len; i++)
            if (hex_value((unsigned char)in[i]) < 0)
                return VFY_E_ENCODING;
        return VFY_E_BUFFER_TOO_SMALL;
    }
    for (size_t i = 0; i < len / 2; i++) {
        int hi = hex_value((unsigned char)in[2 * i]), lo = hex_value((unsigned char)in[2 * i + 1]);

        if ((hi | lo) < 0) {
            memset(out, 0, len / 2);
            return VFY_E_ENCODING;
        }
        out[i] = (uint8_t)((hi << 4) | lo);
    }
    *out_len = len / 2;
    return VFY_OK;
}

/* encoding.h; the store checks names with it (st_check_opt) */
size_t vfy_utf8_seq(const void *in, size_t n)
{
    const unsigned char *p = in;
    size_t len;
    uint32_t cp;

    if (p == NULL || n == 0)
        return 0;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        len = 2;
        cp = p[0] & 0x1f;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        len = 3;
        cp = p[0] & 0x0f;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

/* The code point of the @k-byte sequence at @p (vfy_utf8_seq said @k). */
static uint32_t utf8_cp(const unsigned char *p, size_t k)
{
    uint32_t cp = k == 1 ? p[0] : k == 2 ? p[0] & 0x1fu : k == 3 ? p[0] & 0x0fu : p[0] & 0x07u;

    for (size_t i = 1; i < k; i++)
        cp = cp << 6 | (p[i] & 0x3fu);
    return cp;
}

/* Characters that print as nothing: a name holding one reads as the name
 * without it ("agent-1" and "agent-1" + U+200B), and the line separators
 * break a one-line message. */
static int invisible(uint32_t cp)
{
    return cp == 0x00ad ||                     /* soft hyphen */
           cp == 0x180e ||                     /* Mongolian vowel separator */
           (cp >= 0x200b && cp <= 0x200d) ||   /* zero-width space, non-joiner, joiner */
           (cp >= 0x2028 && cp <= 0x2029) ||   /* line and paragraph separators */
           (cp >= 0x2060 && cp <= 0x2064) ||   /* word joiner, invisible operators */
           cp == 0xfeff ||                     /* zero-width no-break space (BOM) */
           (cp >= 0xfff9 && cp <= 0xfffb) ||   /* interlinear annotation */
           (cp >= 0xe0000 && cp <= 0xe007f);   /* tag characters */
}

size_t vfy_name_char(const void *in, size_t n)
{
    const unsigned char *p = in;
    size_t k = vfy_utf8_seq(p, n);
    uint32_t cp;

    if (k == 0)
        return 0;
    cp = utf8_cp(p, k);
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||   /* C0, DEL, C1 controls (CSI, NEL, ...) */
        cp == 0x061c || cp == 0x200e || cp == 0x200f ||   /* bidi marks */
        (cp >= 0x202a && cp <= 0x202e) ||          /* bidi embeddings, overrides */
        (cp >= 0x2066 && cp <= 0x2069))            /* bidi isolates */
        return 0;
    return k;
}

size_t vfy_name_char_visible(const void *in, size_t n)
{
    size_t k = vfy_name_char(in, n);

    return k != 0 && !invisible(utf8_cp(in, k)) ? k : 0;
}

uint32_t vfy_name_char_invisible(const void *in, size_t n)
{
    const unsigned char *p = in;
    size_t k = vfy_utf8_seq(p, n);
    uint32_t cp = k != 0 ? utf8_cp(p, k) : 0;

    return k != 0 && invisible(cp) ? cp : 0;
}
