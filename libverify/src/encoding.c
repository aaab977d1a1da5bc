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
 * The alphabet as a table: the 6-bit value of each base64url character, -1
 * for every other byte (NUL, '+', '/', '=' and whitespace included).
 */
static const signed char b64url_val[256] = {
    ['A'] = 0,  ['B'] = 1,  ['C'] = 2,  ['D'] = 3,  ['E'] = 4,  ['F'] = 5,  ['G'] = 6,
    ['H'] = 7,  ['I'] = 8,  ['J'] = 9,  ['K'] = 10, ['L'] = 11, ['M'] = 12, ['N'] = 13,
    ['O'] = 14, ['P'] = 15, ['Q'] = 16, ['R'] = 17, ['S'] = 18, ['T'] = 19, ['U'] = 20,
    ['V'] = 21, ['W'] = 22, ['X'] = 23, ['Y'] = 24, ['Z'] = 25, ['a'] = 26, ['b'] = 27,
    ['c'] = 28, ['d'] = 29, ['e'] = 30, ['f'] = 31, ['g'] = 32, ['h'] = 33, ['i'] = 34,
    ['j'] = 35, ['k'] = 36, ['l'] = 37, ['m'] = 38, ['n'] = 39, ['o'] = 40, ['p'] = 41,
    ['q'] = 42, ['r'] = 43, ['s'] = 44, ['t'] = 45, ['u'] = 46, ['v'] = 47, ['w'] = 48,
    ['x'] = 49, ['y'] = 50, ['z'] = 51, ['0'] = 52, ['1'] = 53, ['2'] = 54, ['3'] = 55,
    ['4'] = 56, ['5'] = 57, ['6'] = 58, ['7'] = 59, ['8'] = 60, ['9'] = 61, ['-'] = 62,
    ['_'] = 63,
};

/* b64url_val with the unlisted entries (0 above) told apart from 'A'. */
static int b64url_value(unsigned char ch)
{
    return (b64url_val[ch] != 0 || ch == 'A') ? b64url_val[ch] : -1;
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
    unsigned char *tmp = stack_in, *dec = stack_out;
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
    for (size_t i = 0; i < len; i++)
        bad |= b64url_value((unsigned char)in[i]) < 0;
    if (bad)
        return VFY_E_ENCODING;
    /* Canonical: the unused low bits of the last character must be zero. */
    if (rem == 2 && (b64url_value((unsigned char)in[len - 1]) & 0x0f) != 0)
        return VFY_E_ENCODING;
    if (rem == 3 && (b64url_value((unsigned char)in[len - 1]) & 0x03) != 0)
        return VFY_E_ENCODING;
    if (dlen > out_cap)
        return VFY_E_BUFFER_TOO_SMALL;
    if (len == 0)
        return VFY_OK;

    if (len + pad + 1 > sizeof(stack_in) && (tmp = malloc(len + pad + 1)) == NULL)
        return VFY_E_NOMEM;
    /* EVP_DecodeBlock writes whole groups (the pad bytes as zeros): into
     * @out when it has the room, else through a work buffer. */
    if (out_cap >= full)
        dec = out;
    else if (full > sizeof(stack_out) && (dec = malloc(full + 1)) == NULL) {
        rc = VFY_E_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < len; i++)
        tmp[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : (unsigned char)in[i];
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
    if (tmp != stack_in)
        free(tmp);
    /* The decoded bytes may be secret (a JWK's private scalar). */
    if (dec == stack_out)
        OPENSSL_cleanse(stack_out, full);
    else if (dec != out)
        vfy_free_secret(dec, full + 1);
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

static const signed char hex_val[256] = {
    ['0'] = 0,  ['1'] = 1,  ['2'] = 2,  ['3'] = 3,  ['4'] = 4,  ['5'] = 5,  ['6'] = 6,
    ['7'] = 7,  ['8'] = 8,  ['9'] = 9,  ['a'] = 10, ['b'] = 11, ['c'] = 12, ['d'] = 13,
    ['e'] = 14, ['f'] = 15, ['A'] = 10, ['B'] = 11, ['C'] = 12, ['D'] = 13, ['E'] = 14,
    ['F'] = 15,
};

static int hex_value(unsigned char ch)
{
    return (hex_val[ch] != 0 || ch == '0') ? hex_val[ch] : -1;
}

vfy_rc vfy_hex_decode(uint8_t *out, size_t out_cap, size_t *out_len,
                      const char *in, size_t len)
{
    if (out_len == NULL || (in == NULL && len != 0) || (out == NULL && out_cap != 0))
        return VFY_E_INVALID_ARG;
    *out_len = 0;
    if (len % 2 != 0)
        return VFY_E_ENCODING;
    for (size_t i = 0; i < len; i++)
        if (hex_value((unsigned char)in[i]) < 0)
            return VFY_E_ENCODING;
    if (len / 2 > out_cap)
        return VFY_E_BUFFER_TOO_SMALL;
    for (size_t i = 0; i < len / 2; i++)
        out[i] = (uint8_t)((hex_value((unsigned char)in[2 * i]) << 4) |
                           hex_value((unsigned char)in[2 * i + 1]));
    *out_len = len / 2;
    return VFY_OK;
}
