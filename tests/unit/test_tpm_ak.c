/*
 * test_tpm_ak.c — AK import (tpm_ak.c): the direct P-256/P-384
 * SubjectPublicKeyInfo path against OpenSSL's own decoder, curve-point
 * validation, unsupported keys, and schemes.
 */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "verify/verify.h"

/* PEM SubjectPublicKeyInfo of @k (caller frees). */
static char *pem_of(EVP_PKEY *k, size_t *len)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data, *out;
    long n;

    cr_assert_eq(PEM_write_bio_PUBKEY(b, k), 1);
    n = BIO_get_mem_data(b, &data);
    out = malloc((size_t)n + 1);
    memcpy(out, data, (size_t)n);
    out[n] = '\0';
    *len = (size_t)n;
    BIO_free(b);
    return out;
}

/* PEM "PUBLIC KEY" armour around @der (caller frees). */
static char *armour(const unsigned char *der, long n, size_t *len)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data, *out;
    long m;

    cr_assert_gt(PEM_write_bio(b, "PUBLIC KEY", "", der, n), 0);
    m = BIO_get_mem_data(b, &data);
    out = malloc((size_t)m + 1);
    memcpy(out, data, (size_t)m);
    out[m] = '\0';
    *len = (size_t)m;
    BIO_free(b);
    return out;
}

static void fingerprint_matches_openssl(const char *curve)
{
    EVP_PKEY *k = EVP_EC_gen(curve);
    unsigned char *der = NULL;
    uint8_t fp[32], want[32];
    size_t len;
    char *pem = pem_of(k, &len);
    vfy_ak *ak = NULL;
    int n = i2d_PUBKEY(k, &der);

    cr_assert_gt(n, 0);
    cr_assert_eq(vfy_ak_from_pem(&ak, pem, len, NULL), VFY_OK, "%s", curve);
    cr_assert_eq(vfy_ak_fingerprint(ak, fp), VFY_OK);
    cr_assert_eq(vfy_sha256(der, (size_t)n, want), VFY_OK);
    cr_assert_eq(memcmp(fp, want, 32), 0, "%s: the imported key is the PEM's key", curve);
    cr_assert_eq(vfy_ak_scheme(ak).sig, VFY_SIG_ECDSA);
    vfy_ak_free(&ak);
    cr_assert_null(ak);
    OPENSSL_free(der);
    free(pem);
    EVP_PKEY_free(k);
}

Test(tpm_ak, p256_and_p384_import_the_same_key)
{
    fingerprint_matches_openssl("P-256");
    fingerprint_matches_openssl("P-384");
}

Test(tpm_ak, point_off_the_curve_is_refused)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(k, &der);
    size_t len;
    char *pem;
    vfy_ak *ak = (vfy_ak *)1;

    cr_assert_eq(n, 91);
    der[n - 1] ^= 0x01; /* y changes: the point leaves the curve */
    pem = armour(der, n, &len);
    cr_assert_eq(vfy_ak_from_pem(&ak, pem, len, NULL), VFY_E_AK_MALFORMED);
    cr_assert_null(ak);
    free(pem);
    OPENSSL_free(der);
    EVP_PKEY_free(k);
}

Test(tpm_ak, trailing_bytes_and_wrong_armour_are_refused)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    unsigned char *der = NULL, buf[128];
    int n = i2d_PUBKEY(k, &der);
    size_t len;
    char *pem;
    vfy_ak *ak = NULL;
    BIO *b;
    char *data;
    long m;

    memcpy(buf, der, (size_t)n);
    buf[n] = 0x00;
    pem = armour(buf, n + 1, &len);
    cr_assert_eq(vfy_ak_from_pem(&ak, pem, len, NULL), VFY_E_AK_MALFORMED, "DER with a trailing byte");
    free(pem);
    b = BIO_new(BIO_s_mem());
    cr_assert_gt(PEM_write_bio(b, "CERTIFICATE", "", der, n), 0);
    m = BIO_get_mem_data(b, &data);
    cr_assert_eq(vfy_ak_from_pem(&ak, data, (size_t)m, NULL), VFY_E_AK_MALFORMED, "not PUBLIC KEY");
    BIO_free(b);
    cr_assert_eq(vfy_ak_from_pem(&ak, "-----BEGIN PUBLIC KEY-----\n", 27, NULL), VFY_E_AK_MALFORMED);
    OPENSSL_free(der);
    EVP_PKEY_free(k);
}

Test(tpm_ak, unsupported_keys_and_schemes)
{
    EVP_PKEY *rsa1k = EVP_RSA_gen(1024), *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    EVP_PKEY *p256 = EVP_EC_gen("P-256"), *rsa2k = EVP_RSA_gen(2048);
    size_t len;
    char *pem;
    vfy_ak *ak = NULL;
    vfy_sig_scheme pss = {VFY_SIG_RSAPSS, VFY_HASH_SHA256}, ecdsa = {VFY_SIG_ECDSA, VFY_HASH_SHA384};
    vfy_sig_scheme sha1 = {VFY_SIG_ECDSA, VFY_HASH_SHA1};

    pem = pem_of(rsa1k, &len);
    cr_assert_eq(vfy_ak_from_pem(&ak, pem, len, NULL), VFY_E_AK_UNSUPPORTED, "RSA-1024");
    free(pem);
    pem = pem_of(ed, &len);
    cr_assert_eq(vfy_ak_from_pem(&ak, pem, len, NULL), VFY_E_AK_UNSUPPORTED, "Ed25519");
    free(pem);
    pem = pem_of(p256, &len);
    cr_assert_eq(vfy_ak_from_pem(&ak, pem, len, &pss), VFY_E_SIG_SCHEME, "PSS on an EC key");
    cr_assert_eq(vfy_ak_from_pem(&ak, pem, len, &sha1), VFY_E_SIG_HASH, "SHA-1");
    cr_assert_eq(vfy_ak_from_pem(&ak, pem, len, &ecdsa), VFY_OK);
    cr_assert_eq(vfy_ak_scheme(ak).hash, VFY_HASH_SHA384);
    vfy_ak_free(&ak);
    free(pem);
    pem = pem_of(rsa2k, &len);
    cr_assert_eq(vfy_ak_from_pem(&ak, pem, len, &ecdsa), VFY_E_SIG_SCHEME, "ECDSA on an RSA key");
    cr_assert_eq(vfy_ak_from_pem(&ak, pem, len, &pss), VFY_OK, "RSA goes through the decoder");
    vfy_ak_free(&ak);
    free(pem);
    EVP_PKEY_free(rsa1k);
    EVP_PKEY_free(ed);
    EVP_PKEY_free(p256);
    EVP_PKEY_free(rsa2k);
}
