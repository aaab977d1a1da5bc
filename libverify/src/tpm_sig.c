/*
 * tpm_sig.c — verify a marshalled TPMT_SIGNATURE over TPMS_ATTEST bytes.
 *
 * Spec: DESIGN §3; TPM 2.0 Part 2 §11.3.4 (TPMT_SIGNATURE). The signature
 * must use exactly the AK's pinned scheme (algorithm and hash); SHA-1 is
 * refused before anything else. ECDSA r and s are re-encoded as DER with
 * OpenSSL's ECDSA_SIG; RSA-PSS accepts any salt length (TPMs differ: some
 * use the digest size, some the maximum), MGF1 with the signature's hash.
 *
 * The attest bytes are hashed once with the pre-fetched digest
 * (vfy_digest) and the digest is verified with EVP_PKEY_verify — the same
 * provider code EVP_DigestVerify ends in, without its per-call digest
 * fetch — on the AK's kept context, or for an EC AK's first verify on the
 * thread's scratch key (tpm_ak.c), or on a fresh one. RSA needs the hash
 * named (DigestInfo, PSS); ECDSA does not (the digest handed over always
 * has the hash's size).
 */
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include "internal.h"

static vfy_rc ecdsa_der(const TPMS_SIGNATURE_ECDSA *e, unsigned char **der, int *der_len)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = NULL, *s = NULL;

    if (sig == NULL)
        return VFY_E_NOMEM;
    if (e->signatureR.size == 0 || e->signatureS.size == 0 ||
        e->signatureR.size > 66 || e->signatureS.size > 66) {
        ECDSA_SIG_free(sig);
        return VFY_E_SIG_MALFORMED;
    }
    r = BN_bin2bn(e->signatureR.buffer, e->signatureR.size, NULL);
    s = BN_bin2bn(e->signatureS.buffer, e->signatureS.size, NULL);
    if (r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(sig);
        return VFY_E_INTERNAL;
    }
    *der = NULL;
    *der_len = i2d_ECDSA_SIG(sig, der);
    ECDSA_SIG_free(sig);
    return *der_len > 0 ? VFY_OK : VFY_E_INTERNAL;
}

/* A verify context for @ak's scheme: @sig_alg with @md. */
static EVP_PKEY_CTX *verify_ctx_new(const vfy_ak *ak, TPM2_ALG_ID sig_alg, const EVP_MD *md)
{
    EVP_PKEY *pkey = vfy_ak_pkey(ak);
    EVP_PKEY_CTX *pctx = pkey != NULL ? EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL) : NULL;

    if (pctx == NULL || EVP_PKEY_verify_init(pctx) != 1)
        goto fail;
    if (sig_alg != TPM2_ALG_ECDSA && EVP_PKEY_CTX_set_signature_md(pctx, md) != 1)
        goto fail;
    if (sig_alg == TPM2_ALG_RSAPSS &&
        (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1 ||
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) != 1))
        goto fail;
    if (sig_alg == TPM2_ALG_RSASSA && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
        goto fail;
    return pctx;
fail:
    EVP_PKEY_CTX_free(pctx);
    return NULL;
}

vfy_rc vfy_sig_verify(const vfy_ak *ak, const uint8_t *attest, size_t attest_len,
                      const uint8_t *sig, size_t sig_len, vfy_hash_alg *hash_out)
{
    TPMT_SIGNATURE ts;
    vfy_sig_scheme want;
    TPM2_ALG_ID hash;
    const EVP_MD *md;
    EVP_PKEY_CTX *pctx = NULL, *scratch = NULL, **slot = NULL;
    unsigned char *der = NULL;
    const unsigned char *sb;
    uint8_t digest[64];
    size_t slen, off = 0;
    int der_len = 0;
    vfy_rc rc;

    if (hash_out != NULL)
        *hash_out = 0;
    if (ak == NULL || (attest == NULL && attest_len != 0) || (sig == NULL && sig_len != 0))
        return VFY_E_INVALID_ARG;
    if (sig_len > VFY_SIG_MAX || attest_len > VFY_ATTEST_MAX)
        return VFY_E_TOO_LARGE;
    memset(&ts, 0, sizeof(ts));
    if (Tss2_MU_TPMT_SIGNATURE_Unmarshal(sig, sig_len, &off, &ts) != TSS2_RC_SUCCESS)
        return VFY_E_SIG_MALFORMED;
    if (off != sig_len)
        return VFY_E_TRAILING;

    switch (ts.sigAlg) {
    case TPM2_ALG_ECDSA: hash = ts.signature.ecdsa.hash; break;
    case TPM2_ALG_RSASSA: hash = ts.signature.rsassa.hash; break;
    case TPM2_ALG_RSAPSS: hash = ts.signature.rsapss.hash; break;
    default: return VFY_E_SIG_SCHEME;
    }
    if (hash == TPM2_ALG_SHA1)
        return VFY_E_SIG_HASH;
    want = vfy_ak_scheme(ak);
    if (ts.sigAlg != want.sig)
        return VFY_E_SIG_SCHEME;
    if (hash != want.hash)
        return VFY_E_SIG_HASH;
    md = vfy_hash_md((vfy_hash_alg)hash);
    if (md == NULL || vfy_hash_size((vfy_hash_alg)hash) > sizeof(digest))
        return VFY_E_SIG_HASH;

    if (ts.sigAlg == TPM2_ALG_ECDSA) {
        if ((rc = ecdsa_der(&ts.signature.ecdsa, &der, &der_len)) != VFY_OK)
            return rc;
        sb = der;
        slen = (size_t)der_len;
    } else {
        const TPM2B_PUBLIC_KEY_RSA *rs = ts.sigAlg == TPM2_ALG_RSASSA
                                             ? &ts.signature.rsassa.sig
                                             : &ts.signature.rsapss.sig;
        sb = rs->buffer;
        slen = rs->size;
    }

    rc = VFY_E_INTERNAL;
    if (vfy_digest((vfy_hash_alg)hash, attest, attest_len, digest) != VFY_OK)
        goto out;
    /* The scheme and hash are the AK's pinned ones (checked above), so a
     * context set up once serves every verify with this key. */
    slot = vfy_ak_vctx_lock(ak);
    if (slot != NULL && *slot != NULL) {
        pctx = *slot;
    } else if ((scratch = vfy_ak_scratch_ctx(ak)) != NULL) {
        pctx = scratch; /* the AK's first verify: no key of its own built */
    } else if ((pctx = verify_ctx_new(ak, ts.sigAlg, md)) == NULL) {
        goto out;
    }
    rc = EVP_PKEY_verify(pctx, sb, slen, digest, vfy_hash_size((vfy_hash_alg)hash)) == 1
             ? VFY_OK
             : VFY_E_SIG_INVALID;
    if (rc == VFY_OK && hash_out != NULL)
        *hash_out = (vfy_hash_alg)hash;
    if (pctx == scratch) {
        pctx = NULL; /* the thread's; neither kept in the AK nor freed */
    } else if (slot != NULL) {
        /* Keep the context for the next verify only after a good one: a
         * failed verify leaves OpenSSL's error queue and state unexamined. */
        if (rc == VFY_OK && *slot == NULL)
            *slot = pctx;
        else if (rc != VFY_OK && *slot == pctx)
            *slot = NULL;
        if (*slot == pctx)
            pctx = NULL;
    }
out:
    if (slot != NULL)
        vfy_ak_vctx_unlock(ak);
    EVP_PKEY_CTX_free(pctx);
    OPENSSL_free(der);
    return rc;
}
