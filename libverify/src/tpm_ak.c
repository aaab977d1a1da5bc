/*
 * tpm_ak.c — import attestation keys and pin their signing scheme.
 *
 * Spec: DESIGN §3; TPM 2.0 Part 2 §12.2.4 (TPMT_PUBLIC). Keys come from PEM
 * SubjectPublicKeyInfo (OpenSSL decoder) or from a marshalled TPM2B_PUBLIC
 * (libtss2-mu). P-256/P-384 points (both sources) become an EVP_PKEY from a
 * per-process parameters-only key of their curve plus the encoded point;
 * RSA moduli go through EVP_PKEY_fromdata.
 * Caveats: a TPM2B_PUBLIC must describe a restricted signing key — an
 * unrestricted key could sign a forged TPMS_ATTEST with TPM2_Sign — that
 * is fixedTPM, fixedParent and sensitiveDataOrigin (a key imported into a
 * TPM has a private part outside it, which can sign anything); no decrypt.
 * These attributes are the key's own claim, not certified: they catch
 * mistakes, not a hostile registrar. A PEM key carries no attributes:
 * registering it is the operator's statement that it is an AK. RSA keys
 * need an odd exponent of at least 3 and an odd modulus (e = 1 makes every
 * padded digest its own signature).
 */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/bio.h>
#include <pthread.h>
#include <stdlib.h>
#include <tss2/tss2_mu.h>

#include "internal.h"

struct vfy_ak {
    EVP_PKEY *pkey;
    vfy_sig_scheme scheme;
    /* A verify context kept set up for this key (vfy_sig_verify): making
     * one costs about as much as 15 % of the ECDSA verify itself. Used by
     * whichever thread takes the lock; others make their own. */
    pthread_mutex_t vlock;
    EVP_PKEY_CTX *vctx;
};

static const struct {
    const char *name;
    vfy_sig_alg sig;
    vfy_hash_alg hash;
} schemes[] = {
    {"ecdsa-sha256", VFY_SIG_ECDSA, VFY_HASH_SHA256},
    {"ecdsa-sha384", VFY_SIG_ECDSA, VFY_HASH_SHA384},
    {"rsassa-sha256", VFY_SIG_RSASSA, VFY_HASH_SHA256},
    {"rsassa-sha384", VFY_SIG_RSASSA, VFY_HASH_SHA384},
    {"rsapss-sha256", VFY_SIG_RSAPSS, VFY_HASH_SHA256},
    {"rsapss-sha384", VFY_SIG_RSAPSS, VFY_HASH_SHA384},
};

vfy_rc vfy_sig_scheme_parse(vfy_sig_scheme *out, const char *name)
{
    if (out == NULL || name == NULL)
        return VFY_E_INVALID_ARG;
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        if (strcmp(name, schemes[i].name) == 0) {
            out->sig = schemes[i].sig;
            out->hash = schemes[i].hash;
            return VFY_OK;
        }
    }
    return VFY_E_UNSUPPORTED;
}

vfy_rc vfy_sig_scheme_format(const vfy_sig_scheme *s, char *out, size_t cap)
{
    if (s == NULL || out == NULL)
        return VFY_E_INVALID_ARG;
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        if (schemes[i].sig == s->sig && schemes[i].hash == s->hash) {
            if (strlen(schemes[i].name) + 1 > cap)
                return VFY_E_BUFFER_TOO_SMALL;
            memcpy(out, schemes[i].name, strlen(schemes[i].name) + 1);
            return VFY_OK;
        }
    }
    return VFY_E_UNSUPPORTED;
}

static int scheme_known(const vfy_sig_scheme *s)
{
    char name[VFY_SCHEME_NAME_MAX];

    return vfy_sig_scheme_format(s, name, sizeof(name)) == VFY_OK;
}

/*
 * An RSA public key whose signatures mean something: the exponent odd and at
 * least 3, the modulus odd. OpenSSL verifies against e = 1 (any padded
 * digest is its own "signature") and even exponents or moduli without
 * complaint, so an AK registered with one would let anyone forge its quotes.
 */
static vfy_rc check_rsa_public(const EVP_PKEY *pkey)
{
    BIGNUM *n = NULL, *e = NULL;
    vfy_rc rc = VFY_E_INTERNAL;

    if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) &&
        EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e))
        rc = BN_is_odd(n) && BN_is_odd(e) && BN_num_bits(e) >= 2 ? VFY_OK
                                                                  : VFY_E_AK_UNSUPPORTED;
    BN_free(n);
    BN_free(e);
    return rc;
}

/*
 * Check the key is one we support and that @scheme fits it; fill the
 * default scheme when @scheme is NULL.
 */
static vfy_rc check_key(EVP_PKEY *pkey, const vfy_sig_scheme *scheme, vfy_sig_scheme *pinned)
{
    int id = EVP_PKEY_get_base_id(pkey);

    if (id == EVP_PKEY_EC) {
        char group[32];
        size_t glen = 0;

        if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
                                            group, sizeof(group), &glen))
            return VFY_E_AK_UNSUPPORTED;
        if (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0 &&
            strcmp(group, "secp384r1") != 0 && strcmp(group, "P-384") != 0)
            return VFY_E_AK_UNSUPPORTED;
        if (scheme == NULL) {
            pinned->sig = VFY_SIG_ECDSA;
            pinned->hash = VFY_HASH_SHA256;
        } else if (scheme->sig != VFY_SIG_ECDSA) {
            return VFY_E_SIG_SCHEME;
        }
    } else if (id == EVP_PKEY_RSA) {
        int bits = EVP_PKEY_get_bits(pkey);
        vfy_rc rc;

        if (bits < 2048 || bits > 4096)
            return VFY_E_AK_UNSUPPORTED;
        if ((rc = check_rsa_public(pkey)) != VFY_OK)
            return rc;
        if (scheme == NULL) {
            pinned->sig = VFY_SIG_RSASSA;
            pinned->hash = VFY_HASH_SHA256;
        } else if (scheme->sig != VFY_SIG_RSASSA && scheme->sig != VFY_SIG_RSAPSS) {
            return VFY_E_SIG_SCHEME;
        }
    } else {
        return VFY_E_AK_UNSUPPORTED;
    }
    if (scheme != NULL) {
        if (!scheme_known(scheme))
            return scheme->hash == VFY_HASH_SHA1 ? VFY_E_SIG_HASH : VFY_E_UNSUPPORTED;
        *pinned = *scheme;
    }
    return VFY_OK;
}

static vfy_rc ak_new(vfy_ak **out, EVP_PKEY *pkey, const vfy_sig_scheme *scheme)
{
    vfy_sig_scheme pinned;
    vfy_rc rc = check_key(pkey, scheme, &pinned);
    vfy_ak *ak;

    if (rc != VFY_OK) {
        EVP_PKEY_free(pkey);
        return rc;
    }
    ak = calloc(1, sizeof(*ak));
    if (ak == NULL) {
        EVP_PKEY_free(pkey);
        return VFY_E_NOMEM;
    }
    if (pthread_mutex_init(&ak->vlock, NULL) != 0) {
        EVP_PKEY_free(pkey);
        free(ak);
        return VFY_E_INTERNAL;
    }
    ak->pkey = pkey;
    ak->scheme = pinned;
    *out = ak;
    return VFY_OK;
}

/*
 * DER SubjectPublicKeyInfo prefixes of the two curves AKs use, up to the
 * uncompressed point. An AK in this exact form is built straight from its
 * point with EVP_PKEY_fromdata; anything else goes through OpenSSL's
 * generic decoder, which is correct but costs about 30 times more — too
 * much on the hot path when the attester cache misses.
 */
static const uint8_t spki_p256[] = {
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};
static const uint8_t spki_p384[] = {
    0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
    0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22, 0x03, 0x62, 0x00};

/*
 * The curves AKs use, each as a parameters-only EVP_PKEY made once per
 * process. An imported point gets its group by EVP_PKEY_copy_parameters
 * from here: building the group from the curve name instead (what
 * EVP_PKEY_fromdata with a group name does) is about half the cost of
 * an import, almost all of it Montgomery set-up that is the same every time.
 */
enum { AK_P256, AK_P384, AK_CURVES };

static const char *const curve_name[AK_CURVES] = {"P-256", "P-384"};
static pthread_once_t curve_once = PTHREAD_ONCE_INIT;
/* Written once under curve_once, never freed, then only read: copying
 * parameters takes the source const and duplicates its group. */
static EVP_PKEY *curve_params[AK_CURVES];

static void curve_params_make(void)
{
    for (int i = 0; i < AK_CURVES; i++) {
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        OSSL_PARAM params[2];

        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                     (char *)curve_name[i], 0);
        params[1] = OSSL_PARAM_construct_end();
        if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
            EVP_PKEY_fromdata(ctx, &curve_params[i], EVP_PKEY_KEY_PARAMETERS, params) <= 0)
            curve_params[i] = NULL; /* imports on this curve fail with VFY_E_INTERNAL */
        EVP_PKEY_CTX_free(ctx);
    }
}

static vfy_rc ec_point_pkey(EVP_PKEY **out, int curve, const uint8_t *point, size_t len);

static EVP_PKEY *spki_fast(const unsigned char *der, long n)
{
    EVP_PKEY *pkey = NULL;

    if (n == (long)sizeof(spki_p256) + 65 && memcmp(der, spki_p256, sizeof(spki_p256)) == 0 &&
        der[sizeof(spki_p256)] == 0x04)
        (void)ec_point_pkey(&pkey, AK_P256, der + sizeof(spki_p256), 65);
    else if (n == (long)sizeof(spki_p384) + 97 &&
             memcmp(der, spki_p384, sizeof(spki_p384)) == 0 && der[sizeof(spki_p384)] == 0x04)
        (void)ec_point_pkey(&pkey, AK_P384, der + sizeof(spki_p384), 97);
    return pkey;
}

vfy_rc vfy_ak_from_pem(vfy_ak **out, const char *pem, size_t len, const vfy_sig_scheme *scheme)
{
    EVP_PKEY *pkey = NULL;
    BIO *bio;
    char *name = NULL, *header = NULL;
    unsigned char *der = NULL;
    const unsigned char *p;
    long n = 0;

    if (out == NULL)
        return VFY_E_INVALID_ARG;
    *out = NULL;
    if (pem == NULL || len == 0 || len > 64 * 1024)
        return len > 64 * 1024 ? VFY_E_TOO_LARGE : VFY_E_AK_MALFORMED;
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL)
        return VFY_E_NOMEM;
    /* PEM armour only (no decoder); then the DER. */
    if (PEM_read_bio(bio, &name, &header, &der, &n) == 1 && strcmp(name, "PUBLIC KEY") == 0 &&
        header[0] == '\0' && n > 0) {
        pkey = spki_fast(der, n);
        if (pkey == NULL) {
            p = der;
            pkey = d2i_PUBKEY(NULL, &p, n);
            if (pkey != NULL && p != der + n) {
                EVP_PKEY_free(pkey); /* trailing bytes inside the PEM */
                pkey = NULL;
            }
        }
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(der);
    BIO_free(bio);
    if (pkey == NULL)
        return VFY_E_AK_MALFORMED;
    return ak_new(out, pkey, scheme);
}

/*
 * An EC public key on @curve from an uncompressed point. The point is
 * checked by the decoder EVP_PKEY_set1_encoded_public_key runs
 * (EC_POINT_oct2point): coordinates at or above the field prime are
 * refused, and EC_POINT_set_affine_coordinates refuses a point that is not
 * on the curve (P-256 and P-384 have cofactor 1, so on the curve is in the
 * prime-order group). A second check, EVP_PKEY_public_check_quick, cost
 * almost half of an import (a field inversion) for the same answer;
 * test_tpm_ak pins these refusals for both curves.
 */
static vfy_rc ec_point_pkey(EVP_PKEY **out, int curve, const uint8_t *point, size_t len)
{
    EVP_PKEY *pkey = NULL;
    vfy_rc rc = VFY_E_INTERNAL;

    *out = NULL;
    if (pthread_once(&curve_once, curve_params_make) != 0 || curve_params[curve] == NULL ||
        (pkey = EVP_PKEY_new()) == NULL ||
        EVP_PKEY_copy_parameters(pkey, curve_params[curve]) != 1)
        goto out;
    rc = VFY_E_AK_MALFORMED;
    if (EVP_PKEY_set1_encoded_public_key(pkey, point, len) != 1)
        goto out;
    *out = pkey;
    pkey = NULL;
    rc = VFY_OK;
out:
    EVP_PKEY_free(pkey);
    return rc;
}

static vfy_rc ecc_pkey(EVP_PKEY **out, const TPMT_PUBLIC *pub)
{
    const TPMS_ECC_POINT *pt = &pub->unique.ecc;
    int curve;
    size_t fsize;
    uint8_t point[1 + 2 * 48];

    switch (pub->parameters.eccDetail.curveID) {
    case TPM2_ECC_NIST_P256: curve = AK_P256; fsize = 32; break;
    case TPM2_ECC_NIST_P384: curve = AK_P384; fsize = 48; break;
    default: return VFY_E_AK_UNSUPPORTED;
    }
    if (pt->x.size == 0 || pt->x.size > fsize || pt->y.size == 0 || pt->y.size > fsize)
        return VFY_E_AK_MALFORMED;
    /* Uncompressed point, coordinates left-padded to the field size. */
    memset(point, 0, sizeof(point));
    point[0] = 0x04;
    memcpy(point + 1 + fsize - pt->x.size, pt->x.buffer, pt->x.size);
    memcpy(point + 1 + 2 * fsize - pt->y.size, pt->y.buffer, pt->y.size);
    return ec_point_pkey(out, curve, point, 1 + 2 * fsize);
}

static vfy_rc rsa_pkey(EVP_PKEY **out, const TPMT_PUBLIC *pub)
{
    const TPMS_RSA_PARMS *rp = &pub->parameters.rsaDetail;
    uint32_t exp = rp->exponent == 0 ? 65537 : rp->exponent;
    BIGNUM *n = NULL, *e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    vfy_rc rc = VFY_E_AK_MALFORMED;

    if (pub->unique.rsa.size == 0 || (size_t)pub->unique.rsa.size * 8 != rp->keyBits)
        return VFY_E_AK_MALFORMED;
    if ((n = BN_bin2bn(pub->unique.rsa.buffer, pub->unique.rsa.size, NULL)) == NULL ||
        (e = BN_new()) == NULL || !BN_set_word(e, exp) ||
        (bld = OSSL_PARAM_BLD_new()) == NULL ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
        (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
        (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
        EVP_PKEY_fromdata_init(ctx) <= 0) {
        rc = VFY_E_INTERNAL;
        goto out;
    }
    if (EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        goto out;
    rc = VFY_OK;
out:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return rc;
}

/* The scheme a TPMT_PUBLIC carries; sig 0 when it is TPM_ALG_NULL. */
static vfy_rc key_scheme(const TPMT_PUBLIC *pub, vfy_sig_scheme *s)
{
    TPM2_ALG_ID alg, hash;

    if (pub->type == TPM2_ALG_ECC) {
        alg = pub->parameters.eccDetail.scheme.scheme;
        hash = pub->parameters.eccDetail.scheme.details.anySig.hashAlg;
    } else {
        alg = pub->parameters.rsaDetail.scheme.scheme;
        hash = pub->parameters.rsaDetail.scheme.details.anySig.hashAlg;
    }
    if (alg == TPM2_ALG_NULL) {
        s->sig = 0;
        s->hash = 0;
        return VFY_OK;
    }
    s->sig = (vfy_sig_alg)alg;
    s->hash = (vfy_hash_alg)hash;
    if (!scheme_known(s))
        return hash == TPM2_ALG_SHA1 ? VFY_E_SIG_HASH : VFY_E_AK_UNSUPPORTED;
    return VFY_OK;
}

vfy_rc vfy_ak_from_tpm2b_public(vfy_ak **out, const uint8_t *buf, size_t len,
                                const vfy_sig_scheme *scheme)
{
    TPM2B_PUBLIC tp;
    const TPMT_PUBLIC *pub = &tp.publicArea;
    /* a restricted signing key whose private part was made in, and never
     * leaves, a TPM (what TPM2_CreatePrimary/Create give tpm2_createak) */
    const TPMA_OBJECT need = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_RESTRICTED |
                             TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                             TPMA_OBJECT_SENSITIVEDATAORIGIN;
    vfy_sig_scheme ks;
    EVP_PKEY *pkey = NULL;
    size_t off = 0;
    vfy_rc rc;

    if (out == NULL)
        return VFY_E_INVALID_ARG;
    *out = NULL;
    if (buf == NULL || len == 0)
        return VFY_E_AK_MALFORMED;
    if (len > sizeof(TPM2B_PUBLIC))
        return VFY_E_TOO_LARGE;
    memset(&tp, 0, sizeof(tp));
    if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(buf, len, &off, &tp) != TSS2_RC_SUCCESS)
        return VFY_E_AK_MALFORMED;
    if (off != len)
        return VFY_E_TRAILING;
    if (pub->type != TPM2_ALG_ECC && pub->type != TPM2_ALG_RSA)
        return VFY_E_AK_UNSUPPORTED;
    if ((pub->objectAttributes & need) != need ||
        (pub->objectAttributes & TPMA_OBJECT_DECRYPT) != 0)
        return VFY_E_AK_UNSUPPORTED; /* not a TPM-resident restricted signing key */
    if ((rc = key_scheme(pub, &ks)) != VFY_OK)
        return rc;
    if (ks.sig != 0) {
        if (scheme != NULL && (scheme->sig != ks.sig || scheme->hash != ks.hash))
            return VFY_E_SIG_SCHEME;
        scheme = &ks;
    }
    rc = pub->type == TPM2_ALG_ECC ? ecc_pkey(&pkey, pub) : rsa_pkey(&pkey, pub);
    if (rc != VFY_OK)
        return rc;
    return ak_new(out, pkey, scheme);
}

vfy_rc vfy_ak_load(vfy_ak **out, const uint8_t *buf, size_t len, const vfy_sig_scheme *scheme)
{
    static const char pem_tag[] = "-----BEGIN";

    if (out == NULL)
        return VFY_E_INVALID_ARG;
    *out = NULL;
    if (buf != NULL && len >= sizeof(pem_tag) - 1 &&
        memcmp(buf, pem_tag, sizeof(pem_tag) - 1) == 0)
        return vfy_ak_from_pem(out, (const char *)buf, len, scheme);
    return vfy_ak_from_tpm2b_public(out, buf, len, scheme);
}

vfy_sig_scheme vfy_ak_scheme(const vfy_ak *ak)
{
    vfy_sig_scheme none = {0, 0};

    return ak != NULL ? ak->scheme : none;
}

vfy_rc vfy_ak_to_pem(const vfy_ak *ak, char **pem, size_t *len)
{
    BIO *bio;
    BUF_MEM *bm = NULL;
    char *s;

    if (ak == NULL || pem == NULL)
        return VFY_E_INVALID_ARG;
    *pem = NULL;
    if ((bio = BIO_new(BIO_s_mem())) == NULL)
        return VFY_E_NOMEM;
    if (PEM_write_bio_PUBKEY(bio, ak->pkey) != 1 || BIO_get_mem_ptr(bio, &bm) != 1 ||
        (s = malloc(bm->length + 1)) == NULL) {
        BIO_free(bio);
        return VFY_E_INTERNAL;
    }
    memcpy(s, bm->data, bm->length);
    s[bm->length] = '\0';
    if (len != NULL)
        *len = bm->length;
    *pem = s;
    BIO_free(bio);
    return VFY_OK;
}

vfy_rc vfy_ak_fingerprint(const vfy_ak *ak, uint8_t out[32])
{
    unsigned char *der = NULL;
    int n;
    vfy_rc rc;

    if (ak == NULL || out == NULL)
        return VFY_E_INVALID_ARG;
    n = i2d_PUBKEY(ak->pkey, &der);
    if (n <= 0)
        return VFY_E_INTERNAL;
    rc = vfy_sha256(der, (size_t)n, out);
    OPENSSL_free(der);
    return rc;
}

void vfy_ak_free(vfy_ak **ak)
{
    if (ak == NULL || *ak == NULL)
        return;
    EVP_PKEY_CTX_free((*ak)->vctx);
    pthread_mutex_destroy(&(*ak)->vlock);
    EVP_PKEY_free((*ak)->pkey);
    free(*ak);
    *ak = NULL;
}

EVP_PKEY_CTX **vfy_ak_vctx_lock(const vfy_ak *ak)
{
    vfy_ak *m = (vfy_ak *)ak; /* the context is a cache, not the key's value */

    return pthread_mutex_trylock(&m->vlock) == 0 ? &m->vctx : NULL;
}

void vfy_ak_vctx_unlock(const vfy_ak *ak)
{
    pthread_mutex_unlock(&((vfy_ak *)ak)->vlock);
}

EVP_PKEY *vfy_ak_pkey(const vfy_ak *ak)
{
    return ak->pkey;
}
