/*
 * encoding.c — strict base64url without padding (RFC 4648 §5) and hex.
 *
 * The base64 arithmetic is OpenSSL's (EVP_EncodeBlock/EVP_DecodeBlock); this
 * file maps the URL-safe alphabet onto it and adds the strictness OpenSSL's
 * block decoder lacks: no padding, no whitespace, length not 1 mod 4, and
 * zero trailing bits, so every value has exactly one accepted encoding.
 */
#include <openssl/evp.h>
#include <stdlib.h>

#include "internal.h"

vfy_rc vfy_b64url_encode(char *out, size_t out_cap, const uint8_t *in, size_t len)
{
    size_t std_len, n;
    unsigned char *tmp;

    if (out == NULL || (in == NULL && len != 0))
        return VFY_E_INVALID_ARG;
    n = VFY_B64URL_LEN(len);
    if (len > (SIZE_MAX / 4) - 4 || out_cap < n + 1 || len > INT32_MAX)
        return VFY_E_BUFFER_TOO_SMALL;
    std_len = ((len + 2) / 3) * 4;
    tmp = malloc(std_len + 1);
    if (tmp == NULL)
        return VFY_E_NOMEM;
    EVP_EncodeBlock(tmp, in, (int)len);
    for (size_t i = 0; i < n; i++) {
        char ch = (char)tmp[i];
        out[i] = ch == '+' ? '-' : ch == '/' ? '_' : ch;
    }
    out[n] = '\0';
    free(tmp);
    return VFY_OK;
}

static int b64url_value(char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '-')
        return 62;
    if (ch == '_')
        return 63;
    return -1;
}

vfy_rc vfy_b64url_decode(uint8_t *out, size_t out_cap, size_t *out_len,
                         const char *in, size_t len)
{
    size_t rem = len % 4, pad = rem == 0 ? 0 : 4 - rem, dlen;
    unsigned char *tmp = NULL, *dec = NULL;
    vfy_rc rc = VFY_E_ENCODING;
    int n;

    if (out_len == NULL || (in == NULL && len != 0) || (out == NULL && out_cap != 0))
        return VFY_E_INVALID_ARG;
    *out_len = 0;
    if (rem == 1)
        return VFY_E_ENCODING;
    if (len > INT32_MAX - 4)
        return VFY_E_TOO_LARGE;
    dlen = (len / 4) * 3 + (rem == 0 ? 0 : rem - 1);
    for (size_t i = 0; i < len; i++)
        if (b64url_value(in[i]) < 0)
            return VFY_E_ENCODING;
    /* Canonical: the unused low bits of the last character must be zero. */
    if (rem == 2 && (b64url_value(in[len - 1]) & 0x0f) != 0)
        return VFY_E_ENCODING;
    if (rem == 3 && (b64url_value(in[len - 1]) & 0x03) != 0)
        return VFY_E_ENCODING;
    if (dlen > out_cap)
        return VFY_E_BUFFER_TOO_SMALL;
    if (len == 0)
        return VFY_OK;

    tmp = malloc(len + pad + 1);
    dec = malloc(((len + pad) / 4) * 3 + 1);
    if (tmp == NULL || dec == NULL) {
        rc = VFY_E_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < len; i++)
        tmp[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : (unsigned char)in[i];
    memset(tmp + len, '=', pad);
    n = EVP_DecodeBlock(dec, tmp, (int)(len + pad));
    if (n < 0 || (size_t)n < dlen)
        goto out;
    memcpy(out, dec, dlen);
    *out_len = dlen;
    rc = VFY_OK;
out:
    free(tmp);
    if (dec != NULL)
        vfy_free_secret(dec, ((len + pad) / 4) * 3 + 1);
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

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
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
        if (hex_value(in[i]) < 0)
            return VFY_E_ENCODING;
    if (len / 2 > out_cap)
        return VFY_E_BUFFER_TOO_SMALL;
    for (size_t i = 0; i < len / 2; i++)
        out[i] = (uint8_t)((hex_value(in[2 * i]) << 4) | hex_value(in[2 * i + 1]));
    *out_len = len / 2;
    return VFY_OK;
}
