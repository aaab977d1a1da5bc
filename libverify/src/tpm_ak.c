/*
 * tpm_ak.c — import attestation keys and pin their signing scheme.
 *
 * Spec: DESIGN §3; TPM 2.0 Part 2 §12.2.4 (TPMT_PUBLIC). Keys come from PEM
 * SubjectPublicKeyInfo (OpenSSL decoder) or from a marshalled TPM2B_PUBLIC
 * (libtss2-mu). P-256/P-384 points (both sources) become an EVP_PKEY from a
 * per-process parameters-only key of their curve plus the encoded point —
 * built only when the AK verifies a second time: an AK's first verify runs
 * on this thread's scratch key of its curve (see "Scratch keys" below);
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

enum { AK_P256, AK_P384, AK_CURVES };

#define AK_POINT_MAX 97 /* uncompressed P-384 point */

struct vfy_ak {
    /* The OpenSSL key. NULL for an EC key held as its point until it is
     * first needed (vfy_ak_pkey); then published once, atomically. */
    EVP_PKEY *pkey;
    vfy_sig_scheme scheme;
    int curve;                       /* AK_P256/AK_P384, or -1: no point kept */
    uint8_t point[AK_POINT_MAX];     /* validated uncompressed point */
    size_t point_len;
    int scratch_used;                /* 1 once a verify ran on a scratch key (atomic) */
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

/* Pin @scheme (known, SHA-1 refused); the caller checked it fits the key. */
static vfy_rc pin_scheme(const vfy_sig_scheme *scheme, vfy_sig_scheme *pinned)
{
    if (!scheme_known(scheme))
        return scheme->hash == VFY_HASH_SHA1 ? VFY_E_SIG_HASH : VFY_E_UNSUPPORTED;
    *pinned = *scheme;
    return VFY_OK;
}

/* @scheme for an EC key (ECDSA only), or its default when NULL. */
static vfy_rc check_ec_scheme(const vfy_sig_scheme *scheme, vfy_sig_scheme *pinned)
{
    if (scheme == NULL) {
        pinned->sig = VFY_SIG_ECDSA;
        pinned->hash = VFY_HASH_SHA256;
        return VFY_OK;
    }
    if (scheme->sig != VFY_SIG_ECDSA)
        return VFY_E_SIG_SCHEME;
    return pin_scheme(scheme, pinned);
}

/* AK_P256 or AK_P384 for an EC key on that curve, else -1. */
static int ec_curve_of(const EVP_PKEY *pkey)
{
    char group[32];
    size_t glen = 0;

    if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                        &glen))
        return -1;
    if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
        return AK_P256;
    if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0)
        return AK_P384;
    return -1;
}

/*
 * Check the key is one we support and that @scheme fits it; fill the
 * default scheme when @scheme is NULL.
 */
static vfy_rc check_key(EVP_PKEY *pkey, const vfy_sig_scheme *scheme, vfy_sig_scheme *pinned)
{
    int id = EVP_PKEY_get_base_id(pkey);

    if (id == EVP_PKEY_EC) {
        if (ec_curve_of(pkey) < 0)
            return VFY_E_AK_UNSUPPORTED;
        return check_ec_scheme(scheme, pinned);
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
    return scheme != NULL ? pin_scheme(scheme, pinned) : VFY_OK;
}

/* An AK without its key yet: the caller sets pkey or the point. */
static vfy_ak *ak_alloc(const vfy_sig_scheme *pinned)
{
    vfy_ak *ak = calloc(1, sizeof(*ak));

    if (ak == NULL)
        return NULL;
    if (pthread_mutex_init(&ak->vlock, NULL) != 0) {
        free(ak);
        return NULL;
    }
    ak->scheme = *pinned;
    ak->curve = -1;
    return ak;
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
    if ((ak = ak_alloc(&pinned)) == NULL) {
        EVP_PKEY_free(pkey);
        return VFY_E_NOMEM;
    }
    ak->pkey = pkey;
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
static vfy_rc ec_point_ak(vfy_ak **out, int curve, const uint8_t *point, size_t len,
                          const vfy_sig_scheme *scheme);

/* VFY_E_AK_MALFORMED when @der is not a P-256/P-384 SPKI in the usual
 * form (the caller then tries OpenSSL's decoder); else ec_point_ak's answer. */
static vfy_rc spki_fast(vfy_ak **out, const unsigned char *der, long n,
                        const vfy_sig_scheme *scheme)
{
    if (n == (long)sizeof(spki_p256) + 65 && memcmp(der, spki_p256, sizeof(spki_p256)) == 0 &&
        der[sizeof(spki_p256)] == 0x04)
        return ec_point_ak(out, AK_P256, der + sizeof(spki_p256), 65, scheme);
    if (n == (long)sizeof(spki_p384) + 97 && memcmp(der, spki_p384, sizeof(spki_p384)) == 0 &&
        der[sizeof(spki_p384)] == 0x04)
        return ec_point_ak(out, AK_P384, der + sizeof(spki_p384), 97, scheme);
    return VFY_E_AK_MALFORMED;
}

/*
 * An EC key in another SPKI form than the usual one — a compressed point,
 * explicit curve parameters — becomes its curve and uncompressed point,
 * like every other EC AK: one key, one form, so one fingerprint (a revoked
 * attester's key re-encoded must not register again as a new key) and one
 * PEM. Takes @pkey.
 */
static vfy_rc ec_canonical_ak(vfy_ak **out, EVP_PKEY *pkey, const vfy_sig_scheme *scheme)
{
    vfy_sig_scheme pinned;
    BIGNUM *x = NULL, *y = NULL;
    uint8_t point[AK_POINT_MAX];
    int curve = ec_curve_of(pkey);
    size_t fsize = curve == AK_P256 ? 32 : 48;
    vfy_rc rc = check_key(pkey, scheme, &pinned);   /* the curve and the scheme */

    if (rc != VFY_OK)
        goto out;
    rc = VFY_E_AK_MALFORMED;
    if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x) ||
        !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y))
        goto out;
    point[0] = 0x04;
    if (BN_bn2binpad(x, point + 1, (int)fsize) != (int)fsize ||
        BN_bn2binpad(y, point + 1 + fsize, (int)fsize) != (int)fsize)
        goto out;
    /* the point is checked again, as any other, on its named curve */
    rc = ec_point_ak(out, curve, point, 1 + 2 * fsize, scheme);
out:
    BN_free(x);
    BN_free(y);
    EVP_PKEY_free(pkey);
    return rc;
}

/* 1 if what is left to read of the memory BIO @b is white space only. */
static int bio_only_space(BIO *b)
{
    char *rest = NULL;
    long left = BIO_get_mem_data(b, &rest);

    for (long i = 0; i < left; i++)
        if (rest[i] != ' ' && rest[i] != '\t' && rest[i] != '\r' && rest[i] != '\n')
            return 0;
    return 1;
}

vfy_rc vfy_ak_from_pem(vfy_ak **out, const char *pem, size_t len, const vfy_sig_scheme *scheme)
{
    EVP_PKEY *pkey = NULL;
    BIO *bio;
    char *name = NULL, *header = NULL;
    unsigned char *der = NULL;
    const unsigned char *p;
    long n = 0;
    vfy_rc rc = VFY_E_AK_MALFORMED;

    if (out == NULL)
        return VFY_E_INVALID_ARG;
    *out = NULL;
    if (pem == NULL || len == 0 || len > 64 * 1024)
        return len > 64 * 1024 ? VFY_E_TOO_LARGE : VFY_E_AK_MALFORMED;
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL)
        return VFY_E_NOMEM;
    /* PEM armour only (no decoder); then the DER. One block: a second key
     * after it (two files concatenated) or anything else but white space
     * would be ignored, and the attester bound to whichever key came first. */
    if (PEM_read_bio(bio, &name, &header, &der, &n) == 1 && strcmp(name, "PUBLIC KEY") == 0 &&
        header[0] == '\0' && n > 0 && bio_only_space(bio)) {
        rc = spki_fast(out, der, n, scheme);
        if (*out == NULL && rc == VFY_E_AK_MALFORMED) {
            p = der;
            pkey = d2i_PUBKEY(NULL, &p, n);
            if (pkey != NULL && p != der + n) {
                EVP_PKEY_free(pkey); /* trailing bytes inside the PEM */
                pkey = NULL;
            }
            rc = pkey == NULL ? VFY_E_AK_MALFORMED
                 : EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC ? ec_canonical_ak(out, pkey, scheme)
                                                             : ak_new(out, pkey, scheme);
        }
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(der);
    BIO_free(bio);
    return rc;
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
/* A parameters-only key on @curve (its group copied), or NULL. */
static EVP_PKEY *curve_key_new(int curve)
{
    EVP_PKEY *pkey;

    if (pthread_once(&curve_once, curve_params_make) != 0 || curve_params[curve] == NULL ||
        (pkey = EVP_PKEY_new()) == NULL)
        return NULL;
    if (EVP_PKEY_copy_parameters(pkey, curve_params[curve]) != 1) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    return pkey;
}

static vfy_rc ec_point_pkey(EVP_PKEY **out, int curve, const uint8_t *point, size_t len)
{
    EVP_PKEY *pkey = curve_key_new(curve);

    *out = NULL;
    if (pkey == NULL)
        return VFY_E_INTERNAL;
    if (EVP_PKEY_set1_encoded_public_key(pkey, point, len) != 1) {
        EVP_PKEY_free(pkey);
        return VFY_E_AK_MALFORMED;
    }
    *out = pkey;
    return VFY_OK;
}

/*
 * Scratch keys. Building an AK's own EVP_PKEY (a group copy, key-management
 * look-ups) and a verify context for it, then freeing both, cost about as
 * much as a third of the ECDSA verify — on every attester-cache miss, for a
 * key that then verifies once (a fleet larger than the cache re-attesting
 * in turn). So an EC AK keeps its validated point, and its first verify
 * runs on its thread's scratch key of the curve: the point set into it
 * with EVP_PKEY_set1_encoded_public_key and the context initialised for
 * verification after the set, so the verify uses the key just set by the
 * API's contract, not by how OpenSSL shares key data. A scratch key and its
 * context never leave their thread. From its second verify on, an AK
 * builds its own key and keeps a context (vfy_ak_pkey, vfy_ak_vctx_lock).
 */
struct ak_scratch {
    EVP_PKEY *pkey[AK_CURVES];
    EVP_PKEY_CTX *ctx[AK_CURVES];
    uint8_t point[AK_CURVES][AK_POINT_MAX];  /* the point pkey[i] holds ... */
    size_t point_len[AK_CURVES];             /* ... if not 0 */
};

static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static pthread_key_t scratch_tls;
static int scratch_tls_ok;

static void scratch_free(void *p)
{
    struct ak_scratch *sc = p;

    for (int i = 0; i < AK_CURVES; i++) {
        EVP_PKEY_CTX_free(sc->ctx[i]);
        EVP_PKEY_free(sc->pkey[i]);
    }
    free(sc);
}

static void scratch_tls_init(void)
{
    scratch_tls_ok = pthread_key_create(&scratch_tls, scratch_free) == 0;
}

/* This thread's scratch keys, made on first use; NULL if none can be had. */
static struct ak_scratch *scratch_get(void)
{
    struct ak_scratch *sc;

    if (pthread_once(&scratch_once, scratch_tls_init) != 0 || !scratch_tls_ok)
        return NULL;
    if ((sc = pthread_getspecific(scratch_tls)) != NULL)
        return sc;
    if ((sc = calloc(1, sizeof(*sc))) == NULL)
        return NULL;
    if (pthread_setspecific(scratch_tls, sc) != 0) {
        free(sc);
        return NULL;
    }
    return sc;
}

/*
 * Set @point into the thread's scratch key of @curve (kept if it is already
 * there). VFY_E_AK_MALFORMED: OpenSSL refused the point (off the curve,
 * coordinates out of range); the scratch key then holds nothing known.
 */
static vfy_rc scratch_set(struct ak_scratch *sc, int curve, const uint8_t *point, size_t len)
{
    if (sc->pkey[curve] == NULL && (sc->pkey[curve] = curve_key_new(curve)) == NULL)
        return VFY_E_INTERNAL;
    if (sc->point_len[curve] == len && memcmp(sc->point[curve], point, len) == 0)
        return VFY_OK;
    sc->point_len[curve] = 0; /* a refused point may be left half set */
    if (EVP_PKEY_set1_encoded_public_key(sc->pkey[curve], point, len) != 1)
        return VFY_E_AK_MALFORMED;
    memcpy(sc->point[curve], point, len);
    sc->point_len[curve] = len;
    return VFY_OK;
}

/*
 * An EC AK from an uncompressed point on @curve, held as the point. The
 * point is validated now, by setting it into the thread's scratch key (the
 * checks are OpenSSL's: see ec_point_pkey's callers); without a scratch key
 * the AK's own key is built instead.
 */
static vfy_rc ec_point_ak(vfy_ak **out, int curve, const uint8_t *point, size_t len,
                          const vfy_sig_scheme *scheme)
{
    struct ak_scratch *sc = scratch_get();
    vfy_sig_scheme pinned;
    EVP_PKEY *pkey = NULL;
    vfy_ak *ak;
    vfy_rc rc;

    *out = NULL;
    if (len > AK_POINT_MAX)
        return VFY_E_INTERNAL;
    rc = sc != NULL ? scratch_set(sc, curve, point, len) : VFY_E_INTERNAL;
    if (rc == VFY_E_INTERNAL)
        rc = ec_point_pkey(&pkey, curve, point, len);
    if (rc == VFY_OK)
        rc = check_ec_scheme(scheme, &pinned);
    if (rc == VFY_OK && (ak = ak_alloc(&pinned)) == NULL)
        rc = VFY_E_NOMEM;
    if (rc != VFY_OK) {
        EVP_PKEY_free(pkey);
        return rc;
    }
    ak->pkey = pkey;
    ak->curve = curve;
    memcpy(ak->point, point, len);
    ak->point_len = len;
    *out = ak;
    return VFY_OK;
}

EVP_PKEY_CTX *vfy_ak_scratch_ctx(const vfy_ak *ak)
{
    vfy_ak *m = (vfy_ak *)ak; /* the flag is bookkeeping, not the key's value */
    struct ak_scratch *sc;
    int c = ak->curve;

    if (c < 0 || __atomic_exchange_n(&m->scratch_used, 1, __ATOMIC_RELAXED) != 0)
        return NULL;
    if ((sc = scratch_get()) == NULL || scratch_set(sc, c, ak->point, ak->point_len) != VFY_OK)
        return NULL;
    if (sc->ctx[c] == NULL && (sc->ctx[c] = EVP_PKEY_CTX_new_from_pkey(NULL, sc->pkey[c], NULL)) == NULL)
        return NULL;
    /* again after every set: the context takes the key as it is now */
    if (EVP_PKEY_verify_init(sc->ctx[c]) != 1) {
        EVP_PKEY_CTX_free(sc->ctx[c]);
        sc->ctx[c] = NULL;
        return NULL;
    }
    return sc->ctx[c];
}

static vfy_rc ecc_ak(vfy_ak **out, const TPMT_PUBLIC *pub, const vfy_sig_scheme *scheme)
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
    return ec_point_ak(out, curve, point, 1 + 2 * fsize, scheme);
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
    if (pub->type == TPM2_ALG_ECC)
        return ecc_ak(out, pub, scheme);
    if ((rc = rsa_pkey(&pkey, pub)) != VFY_OK)
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
    if (vfy_ak_pkey(ak) == NULL || PEM_write_bio_PUBKEY(bio, vfy_ak_pkey(ak)) != 1 ||
        BIO_get_mem_ptr(bio, &bm) != 1 ||
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
    /* An EC AK: the SPKI of its named curve and uncompressed point, the
     * DER i2d_PUBKEY writes for it (without building its key). */
    if (ak->curve == AK_P256 || ak->curve == AK_P384) {
        const uint8_t *pre = ak->curve == AK_P256 ? spki_p256 : spki_p384;
        size_t plen = ak->curve == AK_P256 ? sizeof(spki_p256) : sizeof(spki_p384);
        uint8_t spki[sizeof(spki_p384) + AK_POINT_MAX];

        memcpy(spki, pre, plen);
        memcpy(spki + plen, ak->point, ak->point_len);
        return vfy_sha256(spki, plen + ak->point_len, out);
    }
    if (vfy_ak_pkey(ak) == NULL)
        return VFY_E_INTERNAL;
    n = i2d_PUBKEY(vfy_ak_pkey(ak), &der);
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
    vfy_ak *m = (vfy_ak *)ak; /* building the key once is not a change of value */
    EVP_PKEY *p = __atomic_load_n(&m->pkey, __ATOMIC_ACQUIRE), *none = NULL;

    if (p != NULL || ak->curve < 0)
        return p;
    if (ec_point_pkey(&p, ak->curve, ak->point, ak->point_len) != VFY_OK)
        return NULL;
    /* Another thread may have built it meanwhile: keep the first. */
    if (!__atomic_compare_exchange_n(&m->pkey, &none, p, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        EVP_PKEY_free(p);
        p = none;
    }
    return p;
}
