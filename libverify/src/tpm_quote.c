/*
 * tpm_quote.c — every check of a TPM quote, in order (DESIGN §3, quote.h).
 *
 * Verify by rebuilding: the expected pcrDigest is recomputed from the
 * supplied values and compared in constant time, as is extraData against
 * the binder the caller computed from its own view of the channel. The
 * signature is checked before any field of the quote is trusted.
 */
#include <openssl/evp.h>

#include "internal.h"

/* The quote's selection must name exactly the supplied values. */
static vfy_rc check_selection(const vfy_attest *a, const vfy_pcr_values *pcrs)
{
    for (size_t i = 0; i < a->nselect; i++) {
        const vfy_pcr_bank *b = vfy_pcr_values_bank(pcrs, a->select[i].alg);
        uint32_t have = b != NULL ? b->mask : 0;

        if (a->select[i].mask & ~have)
            return VFY_E_PCR_MISSING;
        if (have & ~a->select[i].mask)
            return VFY_E_PCR_EXTRA;
    }
    /* A supplied bank the quote does not select at all is extra too. */
    for (size_t i = 0; i < pcrs->nbanks; i++) {
        int selected = 0;

        for (size_t j = 0; j < a->nselect; j++)
            if (a->select[j].alg == pcrs->banks[i].alg)
                selected = 1;
        if (!selected && pcrs->banks[i].mask != 0)
            return VFY_E_PCR_EXTRA;
    }
    return VFY_OK;
}

/* H(values of the selection, banks in selection order, ascending index). */
static vfy_rc pcr_digest(const vfy_attest *a, const vfy_pcr_values *pcrs,
                         vfy_hash_alg h, uint8_t *out)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    vfy_rc rc = VFY_E_INTERNAL;

    if (ctx == NULL)
        return VFY_E_NOMEM;
    if (EVP_DigestInit_ex(ctx, vfy_hash_md(h), NULL) != 1)
        goto out;
    for (size_t i = 0; i < a->nselect; i++) {
        const vfy_pcr_bank *b = vfy_pcr_values_bank(pcrs, a->select[i].alg);

        for (unsigned idx = 0; idx < VFY_PCR_COUNT; idx++) {
            if (!(a->select[i].mask & (1u << idx)))
                continue;
            if (EVP_DigestUpdate(ctx, b->values[idx], vfy_hash_size(b->alg)) != 1)
                goto out;
        }
    }
    if (EVP_DigestFinal_ex(ctx, out, NULL) != 1)
        goto out;
    rc = VFY_OK;
out:
    EVP_MD_CTX_free(ctx);
    return rc;
}

vfy_rc vfy_quote_verify(const vfy_ak *ak, const uint8_t *attest, size_t attest_len,
                        const uint8_t *sig, size_t sig_len, const vfy_pcr_values *pcrs,
                        const uint8_t binder[32], vfy_attest *info)
{
    vfy_attest a;
    vfy_hash_alg h = 0;
    uint8_t expect[VFY_MAX_DIGEST];
    vfy_rc rc;

    if (info != NULL)
        memset(info, 0, sizeof(*info));
    if (ak == NULL || pcrs == NULL || binder == NULL)
        return VFY_E_INVALID_ARG;

    if ((rc = vfy_attest_parse(&a, attest, attest_len)) != VFY_OK)
        return rc;
    if ((rc = vfy_sig_verify(ak, attest, attest_len, sig, sig_len, &h)) != VFY_OK)
        goto fail;
    if (a.extra_data_len != VFY_BINDER_LEN ||
        !vfy_ct_eq(a.extra_data, binder, VFY_BINDER_LEN)) {
        rc = VFY_E_BINDER_MISMATCH;
        goto fail;
    }
    if ((rc = check_selection(&a, pcrs)) != VFY_OK)
        goto fail;
    if ((rc = pcr_digest(&a, pcrs, h, expect)) != VFY_OK)
        goto fail;
    if (a.pcr_digest_len != vfy_hash_size(h) || !vfy_ct_eq(a.pcr_digest, expect, a.pcr_digest_len)) {
        rc = VFY_E_PCR_DIGEST;
        goto fail;
    }
    if (info != NULL)
        *info = a;
    return VFY_OK;
fail:
    memset(&a, 0, sizeof(a));
    return rc;
}
