/*
 * test_tpm_ak.c — AK import (tpm_ak.c): the direct P-256/P-384
 * SubjectPublicKeyInfo path against OpenSSL's own decoder, curve-point
 * validation, unsupported keys, and schemes.
 */
#include <criterion/criterion.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
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

/* @k's PEM with @param set to @value on a copy (point format, encoding). */
static char *pem_with(EVP_PKEY *k, const char *param, const char *value, const char *param2,
                      const char *value2, size_t *len)
{
    EVP_PKEY *c = EVP_PKEY_dup(k);
    char *pem;

    cr_assert_not_null(c);
    cr_assert_eq(EVP_PKEY_set_utf8_string_param(c, param, value), 1, "%s=%s", param, value);
    if (param2 != NULL)
        cr_assert_eq(EVP_PKEY_set_utf8_string_param(c, param2, value2), 1);
    pem = pem_of(c, len);
    EVP_PKEY_free(c);
    return pem;
}

/* One key in four SPKI forms: one AK, one fingerprint, one PEM, and it
 * verifies what the key signs. A revoked attester's key re-encoded (a
 * compressed point, explicit curve parameters) must not pass for a new key. */
static void one_key_one_fingerprint(const char *curve)
{
    EVP_PKEY *k = EVP_EC_gen(curve);
    size_t len, l2;
    char *plain = pem_of(k, &len), *want_pem = NULL;
    vfy_ak *ak = NULL;
    uint8_t want[32];
    char *forms[3];

    cr_assert_eq(vfy_ak_from_pem(&ak, plain, len, NULL), VFY_OK);
    cr_assert_eq(vfy_ak_fingerprint(ak, want), VFY_OK);
    cr_assert_eq(vfy_ak_to_pem(ak, &want_pem, NULL), VFY_OK);
    cr_assert_str_eq(want_pem, plain, "%s: the usual form is written back as it came", curve);
    vfy_ak_free(&ak);
    forms[0] = pem_with(k, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "compressed", NULL, NULL,
                        &l2);
    forms[1] = pem_with(k, OSSL_PKEY_PARAM_EC_ENCODING, OSSL_PKEY_EC_ENCODING_EXPLICIT, NULL,
                        NULL, &l2);
    forms[2] = pem_with(k, OSSL_PKEY_PARAM_EC_ENCODING, OSSL_PKEY_EC_ENCODING_EXPLICIT,
                        OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "compressed", &l2);
    for (int i = 0; i < 3; i++) {
        uint8_t fp[32];
        char *pem = NULL;

        cr_assert_str_neq(forms[i], plain, "%s form %d: another encoding", curve, i);
        cr_assert_eq(vfy_ak_from_pem(&ak, forms[i], strlen(forms[i]), NULL), VFY_OK,
                     "%s form %d", curve, i);
        cr_assert_eq(vfy_ak_fingerprint(ak, fp), VFY_OK);
        cr_assert_eq(memcmp(fp, want, 32), 0, "%s form %d: the key's one fingerprint", curve, i);
        cr_assert_eq(vfy_ak_to_pem(ak, &pem, NULL), VFY_OK);
        cr_assert_str_eq(pem, plain, "%s form %d: written in the usual form", curve, i);
        free(pem);
        vfy_ak_free(&ak);
        free(forms[i]);
    }
    free(want_pem);
    free(plain);
    EVP_PKEY_free(k);
}

Test(tpm_ak, a_key_re_encoded_keeps_its_fingerprint)
{
    one_key_one_fingerprint("P-256");
    one_key_one_fingerprint("P-384");
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

/* One PEM block and white space: a second key after it (two files
 * concatenated) or other text was ignored, and the attester bound to the
 * first key (verifyctl --ak-pem, bundles, the admin API). */
Test(tpm_ak, pem_one_block_only)
{
    EVP_PKEY *k1 = EVP_EC_gen("P-256"), *k2 = EVP_EC_gen("P-256");
    size_t l1, l2;
    char *p1 = pem_of(k1, &l1), *p2 = pem_of(k2, &l2), buf[2048];
    vfy_ak *ak = NULL;
    static const char *const tails[] = {"garbage\n", "-----BEGIN PUBLIC KEY-----\n", "x"};

    snprintf(buf, sizeof(buf), "%s%s", p1, p2);
    ak = (vfy_ak *)1;
    cr_assert_eq(vfy_ak_from_pem(&ak, buf, strlen(buf), NULL), VFY_E_AK_MALFORMED, "two keys");
    cr_assert_null(ak);
    for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
        snprintf(buf, sizeof(buf), "%s%s", p1, tails[i]);
        cr_assert_eq(vfy_ak_from_pem(&ak, buf, strlen(buf), NULL), VFY_E_AK_MALFORMED,
                     "tail %zu", i);
    }
    /* white space after it, text before it (openssl's listings): fine */
    snprintf(buf, sizeof(buf), "%s \r\n\t\n", p1);
    cr_assert_eq(vfy_ak_from_pem(&ak, buf, strlen(buf), NULL), VFY_OK);
    vfy_ak_free(&ak);
    snprintf(buf, sizeof(buf), "Public-Key: (256 bit)\n%s", p1);
    cr_assert_eq(vfy_ak_from_pem(&ak, buf, strlen(buf), NULL), VFY_OK);
    vfy_ak_free(&ak);
    free(p1);
    free(p2);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
}

/*
 * The point's checks are OpenSSL's (EC_POINT_oct2point refuses coordinates
 * at or above the field prime, EC_POINT_set_affine_coordinates points off
 * the curve): libverify relies on them instead of checking again, so these
 * cases pin that behaviour for both curves AKs use.
 */

/* A point on @g with a small x (so x + p still fits the field size). */
static void small_point(const EC_GROUP *g, BIGNUM *x, BIGNUM *y, BN_CTX *ctx)
{
    BIGNUM *p = BN_new(), *a = BN_new(), *b = BN_new(), *r = BN_new(), *t = BN_new();

    cr_assert(EC_GROUP_get_curve(g, p, a, b, ctx));
    for (BN_ULONG v = 1;; v++) {
        /* r = x^3 + a x + b mod p */
        cr_assert(BN_set_word(x, v));
        cr_assert(BN_mod_sqr(t, x, p, ctx) && BN_mod_add(t, t, a, p, ctx) &&
                  BN_mod_mul(r, t, x, p, ctx) && BN_mod_add(r, r, b, p, ctx));
        ERR_set_mark();
        if (BN_mod_sqrt(y, r, p, ctx) != NULL) {
            ERR_pop_to_mark();
            break;
        }
        ERR_pop_to_mark();
        cr_assert_lt(v, 1000);
    }
    BN_free(p);
    BN_free(a);
    BN_free(b);
    BN_free(r);
    BN_free(t);
}

/* SPKI DER of (x, y) on @curve, from the prefix of a generated key's. */
static unsigned char *spki_of(const unsigned char *der, int n, size_t fsize, const BIGNUM *x,
                              const BIGNUM *y)
{
    unsigned char *m = malloc((size_t)n);

    memcpy(m, der, (size_t)n);
    cr_assert_eq(BN_bn2binpad(x, m + n - 2 * fsize, (int)fsize), (int)fsize);
    cr_assert_eq(BN_bn2binpad(y, m + n - fsize, (int)fsize), (int)fsize);
    return m;
}

static vfy_rc import_der(const unsigned char *der, int n)
{
    size_t len;
    char *pem = armour(der, n, &len);
    vfy_ak *ak = (vfy_ak *)&len; /* must be set to NULL on failure */
    vfy_rc rc = vfy_ak_from_pem(&ak, pem, len, NULL);

    if (rc != VFY_OK)
        cr_assert_null(ak);
    vfy_ak_free(&ak);
    free(pem);
    return rc;
}

static void refuse_points(const char *curve, int nid, size_t fsize)
{
    EVP_PKEY *k = EVP_EC_gen(curve);
    EC_GROUP *g = EC_GROUP_new_by_curve_name(nid);
    BN_CTX *ctx = BN_CTX_new();
    BIGNUM *p = BN_new(), *x = BN_new(), *y = BN_new(), *xp = BN_new(), *z = BN_new();
    unsigned char *der = NULL, *m;
    int n = i2d_PUBKEY(k, &der);

    cr_assert_not_null(g);
    cr_assert(EC_GROUP_get_curve(g, p, NULL, NULL, ctx));
    cr_assert_eq((size_t)n, (fsize == 32 ? 26u : 23u) + 1 + 2 * fsize, "%s", curve);

    /* the key as generated, then its y moved off the curve */
    cr_assert_eq(import_der(der, n), VFY_OK, "%s", curve);
    der[n - 1] ^= 0x01;
    cr_assert_str_eq(vfy_rc_name(import_der(der, n)), "VFY_E_AK_MALFORMED", "%s: y + 1", curve);

    /* a point with a small x is accepted; x + p (the same x mod p) is not */
    small_point(g, x, y, ctx);
    m = spki_of(der, n, fsize, x, y);
    cr_assert_eq(import_der(m, n), VFY_OK, "%s: small-x point", curve);
    free(m);
    cr_assert(BN_add(xp, x, p));
    cr_assert_leq(BN_num_bytes(xp), (int)fsize);
    m = spki_of(der, n, fsize, xp, y);
    cr_assert_str_eq(vfy_rc_name(import_der(m, n)), "VFY_E_AK_MALFORMED", "%s: x + p", curve);
    free(m);
    /* y = p - y is the point's negation, on the curve; p itself is not a
     * coordinate, and (0, 0) is not a point */
    cr_assert(BN_sub(z, p, y));
    m = spki_of(der, n, fsize, x, z);
    cr_assert_eq(import_der(m, n), VFY_OK, "%s: negated small-x point", curve);
    free(m);
    m = spki_of(der, n, fsize, x, p);
    cr_assert_str_eq(vfy_rc_name(import_der(m, n)), "VFY_E_AK_MALFORMED", "%s: y = p", curve);
    free(m);
    BN_zero(z);
    m = spki_of(der, n, fsize, z, z);
    cr_assert_str_eq(vfy_rc_name(import_der(m, n)), "VFY_E_AK_MALFORMED", "%s: (0, 0)", curve);
    free(m);

    BN_free(p);
    BN_free(x);
    BN_free(y);
    BN_free(xp);
    BN_free(z);
    BN_CTX_free(ctx);
    EC_GROUP_free(g);
    OPENSSL_free(der);
    EVP_PKEY_free(k);
}

Test(tpm_ak, coordinates_out_of_range_or_off_the_curve_are_refused)
{
    refuse_points("P-256", NID_X9_62_prime256v1, 32);
    refuse_points("P-384", NID_secp384r1, 48);
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

/* @k's modulus with public exponent @e, as a PEM (caller frees). */
static char *rsa_pem_with_exponent(EVP_PKEY *k, unsigned long e, size_t *len)
{
    BIGNUM *n = NULL, *be = BN_new();
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    EVP_PKEY *out = NULL;
    char *pem;

    cr_assert(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n));
    cr_assert(BN_set_word(be, e));
    cr_assert(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n));
    cr_assert(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be));
    cr_assert_not_null(params = OSSL_PARAM_BLD_to_param(bld));
    cr_assert_eq(EVP_PKEY_fromdata_init(ctx), 1);
    cr_assert_eq(EVP_PKEY_fromdata(ctx, &out, EVP_PKEY_PUBLIC_KEY, params), 1);
    pem = pem_of(out, len);
    EVP_PKEY_free(out);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(be);
    return pem;
}

/* From PEM too: an RSA AK's exponent must be odd and at least 3 (e = 1
 * makes every padded digest its own signature). */
Test(tpm_ak, rsa_pem_with_a_broken_exponent_is_refused)
{
    static const unsigned long bad[] = {1, 2, 4, 65536};
    static const unsigned long good[] = {3, 65537};
    EVP_PKEY *k = EVP_RSA_gen(2048);
    vfy_ak *ak = NULL;
    size_t len;
    char *pem;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pem = rsa_pem_with_exponent(k, bad[i], &len);
        cr_assert_str_eq(vfy_rc_name(vfy_ak_from_pem(&ak, pem, len, NULL)), "VFY_E_AK_UNSUPPORTED",
                         "e = %lu", bad[i]);
        cr_assert_null(ak);
        free(pem);
    }
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        pem = rsa_pem_with_exponent(k, good[i], &len);
        cr_assert_eq(vfy_ak_from_pem(&ak, pem, len, NULL), VFY_OK, "e = %lu", good[i]);
        vfy_ak_free(&ak);
        free(pem);
    }
    EVP_PKEY_free(k);
}

/*
 * An EC AK's first verify runs on its thread's scratch key of the curve
 * (tpm_ak.c, "Scratch keys"), with the AK's point set into it; later
 * verifies on the AK's own key. Whatever point the scratch key held before
 * (another AK's, a refused one, another curve's), each verify must be
 * judged against its own AK only.
 */
#include <pthread.h>
#include <tss2/tss2_mu.h>

static const uint8_t scratch_msg[] = "TPMS_ATTEST bytes, as far as vfy_sig_verify cares";

/* A marshalled TPMT_SIGNATURE (ECDSA, SHA-256) of scratch_msg by @k. */
static size_t ecdsa_tpmt(EVP_PKEY *k, uint8_t *out, size_t cap)
{
    uint8_t digest[32], der[160];
    size_t der_len = sizeof(der), off = 0;
    const unsigned char *p = der;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k, NULL);
    ECDSA_SIG *es;
    TPMT_SIGNATURE ts;

    cr_assert_eq(vfy_sha256(scratch_msg, sizeof(scratch_msg), digest), VFY_OK);
    cr_assert_eq(EVP_PKEY_sign_init(ctx), 1);
    cr_assert_eq(EVP_PKEY_sign(ctx, der, &der_len, digest, sizeof(digest)), 1);
    EVP_PKEY_CTX_free(ctx);
    cr_assert_not_null(es = d2i_ECDSA_SIG(NULL, &p, (long)der_len));
    memset(&ts, 0, sizeof(ts));
    ts.sigAlg = TPM2_ALG_ECDSA;
    ts.signature.ecdsa.hash = TPM2_ALG_SHA256;
    ts.signature.ecdsa.signatureR.size =
        (UINT16)BN_bn2bin(ECDSA_SIG_get0_r(es), ts.signature.ecdsa.signatureR.buffer);
    ts.signature.ecdsa.signatureS.size =
        (UINT16)BN_bn2bin(ECDSA_SIG_get0_s(es), ts.signature.ecdsa.signatureS.buffer);
    ECDSA_SIG_free(es);
    cr_assert_eq(Tss2_MU_TPMT_SIGNATURE_Marshal(&ts, out, cap, &off), TSS2_RC_SUCCESS);
    return off;
}

enum { SK_KEYS = 4 }; /* two P-256, two P-384 */

struct scratch_keys {
    EVP_PKEY *k[SK_KEYS];
    char *pem[SK_KEYS];
    size_t pem_len[SK_KEYS];
    uint8_t sig[SK_KEYS][200];
    size_t sig_len[SK_KEYS];
};

static void scratch_keys_make(struct scratch_keys *s)
{
    static const char *const curve[SK_KEYS] = {"P-256", "P-256", "P-384", "P-384"};

    for (int i = 0; i < SK_KEYS; i++) {
        cr_assert_not_null(s->k[i] = EVP_EC_gen(curve[i]));
        s->pem[i] = pem_of(s->k[i], &s->pem_len[i]);
        s->sig_len[i] = ecdsa_tpmt(s->k[i], s->sig[i], sizeof(s->sig[i]));
    }
}

static void scratch_keys_free(struct scratch_keys *s)
{
    for (int i = 0; i < SK_KEYS; i++) {
        EVP_PKEY_free(s->k[i]);
        free(s->pem[i]);
    }
}

static vfy_ak *sk_load(const struct scratch_keys *s, int i)
{
    vfy_ak *ak = NULL;

    cr_assert_eq(vfy_ak_from_pem(&ak, s->pem[i], s->pem_len[i], NULL), VFY_OK);
    return ak;
}

/* The verdict of AK @ak on key @sig_of's signature, as a name. */
static const char *sk_verify(const struct scratch_keys *s, const vfy_ak *ak, int sig_of)
{
    return vfy_rc_name(vfy_sig_verify(ak, scratch_msg, sizeof(scratch_msg), s->sig[sig_of],
                                      s->sig_len[sig_of], NULL));
}

static const char *sk_want(int ak_of, int sig_of)
{
    return ak_of == sig_of ? "VFY_OK" : "VFY_E_SIG_INVALID";
}

Test(tpm_ak, first_verify_on_the_scratch_key_is_judged_against_its_own_ak)
{
    struct scratch_keys s;
    vfy_ak *a, *b, *bad = (vfy_ak *)1;
    EVP_PKEY *k = EVP_EC_gen("P-256");
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(k, &der);
    size_t bad_len;
    char *bad_pem;

    scratch_keys_make(&s);
    /* The last load leaves its point in the scratch key: a's first verify
     * must set a's, for a good signature and against a bad one. */
    a = sk_load(&s, 0);
    b = sk_load(&s, 1);
    cr_assert_str_eq(sk_verify(&s, a, 0), "VFY_OK");
    vfy_ak_free(&a);
    a = sk_load(&s, 0);
    b = (vfy_ak_free(&b), sk_load(&s, 1));
    cr_assert_str_eq(sk_verify(&s, a, 1), "VFY_E_SIG_INVALID", "b's signature, a's key");
    cr_assert_str_eq(sk_verify(&s, b, 0), "VFY_E_SIG_INVALID", "a's signature, b's key");
    /* Second and later verifies (the AK's own key) agree. */
    for (int i = 0; i < 3; i++) {
        cr_assert_str_eq(sk_verify(&s, a, 0), "VFY_OK");
        cr_assert_str_eq(sk_verify(&s, a, 1), "VFY_E_SIG_INVALID");
        cr_assert_str_eq(sk_verify(&s, b, 1), "VFY_OK");
        cr_assert_str_eq(sk_verify(&s, b, 0), "VFY_E_SIG_INVALID");
    }
    vfy_ak_free(&a);
    vfy_ak_free(&b);

    /* A refused point may be left half set in the scratch key: the next
     * AK's first verify must not see it. */
    cr_assert_eq(n, 91);
    der[n - 1] ^= 0x01;
    bad_pem = armour(der, n, &bad_len);
    a = sk_load(&s, 0);
    cr_assert_eq(vfy_ak_from_pem(&bad, bad_pem, bad_len, NULL), VFY_E_AK_MALFORMED);
    cr_assert_null(bad);
    cr_assert_str_eq(sk_verify(&s, a, 0), "VFY_OK");
    vfy_ak_free(&a);
    a = sk_load(&s, 0);
    cr_assert_eq(vfy_ak_from_pem(&bad, bad_pem, bad_len, NULL), VFY_E_AK_MALFORMED);
    cr_assert_str_eq(sk_verify(&s, a, 1), "VFY_E_SIG_INVALID");
    vfy_ak_free(&a);

    /* Both curves, fresh AKs in every order: each first verify and each
     * later one gets the verdict of its own key. */
    for (int round = 0; round < 64; round++) {
        vfy_ak *ak[SK_KEYS];
        int sig_of = (round * 7 + 3) % SK_KEYS;

        for (int i = 0; i < SK_KEYS; i++)
            ak[(i + round) % SK_KEYS] = sk_load(&s, (i + round) % SK_KEYS);
        for (int i = 0; i < SK_KEYS; i++) {
            int j = (i * 3 + round) % SK_KEYS;

            cr_assert_str_eq(sk_verify(&s, ak[j], sig_of), sk_want(j, sig_of),
                             "round %d: ak %d, signature of %d", round, j, sig_of);
            cr_assert_str_eq(sk_verify(&s, ak[j], j), "VFY_OK", "round %d: ak %d", round, j);
        }
        for (int i = 0; i < SK_KEYS; i++)
            vfy_ak_free(&ak[i]);
    }
    /* The key an AK exports is its own, whether or not it verified yet. */
    a = sk_load(&s, 2);
    b = sk_load(&s, 3);
    {
        uint8_t fa[32], fb[32], want[32];
        unsigned char *d = NULL;
        int dn = i2d_PUBKEY(s.k[2], &d);

        cr_assert_eq(vfy_ak_fingerprint(a, fa), VFY_OK);
        cr_assert_eq(vfy_sha256(d, (size_t)dn, want), VFY_OK);
        cr_assert_eq(memcmp(fa, want, 32), 0);
        cr_assert_str_eq(sk_verify(&s, b, 3), "VFY_OK");
        cr_assert_eq(vfy_ak_fingerprint(b, fb), VFY_OK);
        cr_assert_neq(memcmp(fa, fb, 32), 0);
        OPENSSL_free(d);
    }
    vfy_ak_free(&a);
    vfy_ak_free(&b);
    free(bad_pem);
    OPENSSL_free(der);
    EVP_PKEY_free(k);
    scratch_keys_free(&s);
}

struct sk_job {
    const struct scratch_keys *s;
    vfy_ak *ak[SK_KEYS];   /* loaded by the main thread, first verify here */
    int wrong;
};

static void *sk_worker(void *arg)
{
    struct sk_job *j = arg;

    for (int i = 0; i < SK_KEYS; i++)
        for (int sig_of = 0; sig_of < SK_KEYS; sig_of++)
            if (strcmp(sk_verify(j->s, j->ak[i], sig_of), sk_want(i, sig_of)) != 0)
                j->wrong++;
    return NULL;
}

/* AKs loaded on one thread verify first on another's (empty) scratch keys. */
Test(tpm_ak, first_verify_on_another_thread)
{
    struct scratch_keys s;
    struct sk_job j = {0};
    pthread_t t;

    scratch_keys_make(&s);
    j.s = &s;
    for (int i = 0; i < SK_KEYS; i++)
        j.ak[i] = sk_load(&s, i);
    cr_assert_eq(pthread_create(&t, NULL, sk_worker, &j), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(j.wrong, 0, "%d wrong verdicts", j.wrong);
    for (int i = 0; i < SK_KEYS; i++)
        vfy_ak_free(&j.ak[i]);
    scratch_keys_free(&s);
}
