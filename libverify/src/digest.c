/*
 * digest.c — hash helpers over OpenSSL EVP, and constant-time compare.
 *
 * EVP_MD objects are fetched once per process (pthread_once) from the
 * default library context and kept for its life: EVP_sha256() and friends
 * are legacy objects that OpenSSL 3 turns into an implicit EVP_MD_fetch
 * (global lock, name lookup) on every EVP_Digest or EVP_DigestInit.
 * Fetched EVP_MDs are refcounted and read-only, so every thread shares them.
 *
 * Caveat: providers loaded or default properties changed after the first
 * use are not seen (the fetch is not redone). If a fetch fails the legacy
 * object is used instead, so errors are those of the implicit fetch.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>

#include "internal.h"

size_t vfy_hash_size(vfy_hash_alg alg)
{
    switch (alg) {
    case VFY_HASH_SHA1: return 20;
    case VFY_HASH_SHA256: return 32;
    case VFY_HASH_SHA384: return 48;
    case VFY_HASH_SHA512: return 64;
    }
    return 0;
}

const char *vfy_hash_name(vfy_hash_alg alg)
{
    switch (alg) {
    case VFY_HASH_SHA1: return "sha1";
    case VFY_HASH_SHA256: return "sha256";
    case VFY_HASH_SHA384: return "sha384";
    case VFY_HASH_SHA512: return "sha512";
    }
    return NULL;
}

const char *vfy_hash_ossl_name(vfy_hash_alg alg)
{
    switch (alg) {
    case VFY_HASH_SHA1: return "SHA1";
    case VFY_HASH_SHA256: return "SHA256";
    case VFY_HASH_SHA384: return "SHA384";
    case VFY_HASH_SHA512: return "SHA512";
    }
    return NULL;
}

vfy_rc vfy_hash_from_name(vfy_hash_alg *alg, const char *name)
{
    static const vfy_hash_alg all[] = {VFY_HASH_SHA1, VFY_HASH_SHA256,
                                       VFY_HASH_SHA384, VFY_HASH_SHA512};

    if (alg == NULL || name == NULL)
        return VFY_E_INVALID_ARG;
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (strcmp(name, vfy_hash_name(all[i])) == 0) {
            *alg = all[i];
            return VFY_OK;
        }
    }
    return VFY_E_UNSUPPORTED;
}

enum { MD_SHA1, MD_SHA256, MD_SHA384, MD_SHA512, MD_COUNT };

static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static EVP_MD *md_fetched[MD_COUNT]; /* written once under md_once, never freed */

static void md_fetch_all(void)
{
    md_fetched[MD_SHA1] = EVP_MD_fetch(NULL, vfy_hash_ossl_name(VFY_HASH_SHA1), NULL);
    md_fetched[MD_SHA256] = EVP_MD_fetch(NULL, vfy_hash_ossl_name(VFY_HASH_SHA256), NULL);
    md_fetched[MD_SHA384] = EVP_MD_fetch(NULL, vfy_hash_ossl_name(VFY_HASH_SHA384), NULL);
    md_fetched[MD_SHA512] = EVP_MD_fetch(NULL, vfy_hash_ossl_name(VFY_HASH_SHA512), NULL);
}

const EVP_MD *vfy_hash_md(vfy_hash_alg alg)
{
    const EVP_MD *legacy;
    int i;

    switch (alg) {
    case VFY_HASH_SHA1: i = MD_SHA1; legacy = EVP_sha1(); break;
    case VFY_HASH_SHA256: i = MD_SHA256; legacy = EVP_sha256(); break;
    case VFY_HASH_SHA384: i = MD_SHA384; legacy = EVP_sha384(); break;
    case VFY_HASH_SHA512: i = MD_SHA512; legacy = EVP_sha512(); break;
    default: return NULL;
    }
    if (pthread_once(&md_once, md_fetch_all) != 0 || md_fetched[i] == NULL)
        return legacy;
    return md_fetched[i];
}

vfy_rc vfy_digest(vfy_hash_alg alg, const void *data, size_t len, uint8_t *out)
{
    const EVP_MD *md = vfy_hash_md(alg);
    unsigned int n = 0;

    if (md == NULL)
        return VFY_E_UNSUPPORTED;
    if (out == NULL || (data == NULL && len != 0))
        return VFY_E_INVALID_ARG;
    if (EVP_Digest(data, len, out, &n, md, NULL) != 1 || n != vfy_hash_size(alg))
        return VFY_E_INTERNAL;
    return VFY_OK;
}

vfy_rc vfy_sha256(const void *data, size_t len, uint8_t out[32])
{
    return vfy_digest(VFY_HASH_SHA256, data, len, out);
}

vfy_rc vfy_sha256_parse(uint8_t out[32], const char *s, size_t len)
{
    size_t n;

    if (out == NULL || s == NULL)
        return VFY_E_INVALID_ARG;
    memset(out, 0, 32);
    if (len != VFY_SHA256_STR_LEN || memcmp(s, "sha256:", 7) != 0)
        return VFY_E_ENCODING;
    for (size_t i = 7; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return VFY_E_ENCODING;
    return vfy_hex_decode(out, 32, &n, s + 7, 64);
}

vfy_rc vfy_sha256_format(char *out, size_t out_cap, const uint8_t d[32])
{
    if (out == NULL || d == NULL)
        return VFY_E_INVALID_ARG;
    if (out_cap < VFY_SHA256_STR_LEN + 1)
        return VFY_E_BUFFER_TOO_SMALL;
    memcpy(out, "sha256:", 7);
    return vfy_hex_encode(out + 7, out_cap - 7, d, 32);
}

int vfy_ct_eq(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

void vfy_free_secret(void *p, size_t n)
{
    if (p == NULL)
        return;
    OPENSSL_cleanse(p, n);
    free(p);
}

void vfy_free(void *p)
{
    free(p);
}
