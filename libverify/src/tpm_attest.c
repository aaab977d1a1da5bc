/*
 * tpm_attest.c — parse a marshalled TPMS_ATTEST that must be a quote.
 *
 * Spec: TPM 2.0 Part 2 §10.12.12 (TPMS_ATTEST), DESIGN §3. The header
 * (magic, type) is read with the bounds-checked cursor so that each failure
 * has its own error; the whole structure is then unmarshalled by libtss2-mu,
 * which bounds every TPM2B and list. Trailing bytes are rejected.
 * Caveat: only sha256 and sha384 PCR banks and PCRs 0..23 are accepted,
 * sizeofSelect of at least 3, and at least one PCR selected.
 */
#include <tss2/tss2_mu.h>

#include "internal.h"

/*
 * A TPM takes sizeofSelect of at least PCR_SELECT_MIN (3 for 24 PCRs) and
 * below it answers TPM_RC_VALUE, so a shorter one did not come from a TPM.
 * A selection of no PCR at all attests nothing: VFY_E_PCR_NONE.
 */
#define PCR_SELECT_MIN 3

static vfy_rc copy_selection(vfy_attest *out, const TPML_PCR_SELECTION *sel)
{
    uint32_t any = 0;

    if (sel->count > VFY_PCR_MAX_BANKS)
        return VFY_E_PCR_BANK;
    for (UINT32 i = 0; i < sel->count; i++) {
        const TPMS_PCR_SELECTION *s = &sel->pcrSelections[i];
        uint32_t mask = 0;

        if (s->hash != TPM2_ALG_SHA256 && s->hash != TPM2_ALG_SHA384)
            return VFY_E_PCR_BANK;
        if (s->sizeofSelect < PCR_SELECT_MIN)
            return VFY_E_ATTEST_MALFORMED;
        for (UINT32 j = 0; j < i; j++)
            if (out->select[j].alg == (vfy_hash_alg)s->hash)
                return VFY_E_PCR_BANK;
        for (UINT8 b = 0; b < s->sizeofSelect; b++) {
            if (b >= 3) {
                if (s->pcrSelect[b] != 0)
                    return VFY_E_PCR_BANK; /* PCR 24 and above */
                continue;
            }
            mask |= (uint32_t)s->pcrSelect[b] << (8 * b);
        }
        out->select[i].alg = (vfy_hash_alg)s->hash;
        out->select[i].mask = mask;
        any |= mask;
    }
    out->nselect = sel->count;
    return any != 0 ? VFY_OK : VFY_E_PCR_NONE;
}

vfy_rc vfy_attest_parse(vfy_attest *out, const uint8_t *buf, size_t len)
{
    TPMS_ATTEST a;
    vfy_cursor c;
    uint32_t magic;
    uint16_t type;
    size_t off = 0;
    vfy_rc rc;

    if (out == NULL || (buf == NULL && len != 0))
        return VFY_E_INVALID_ARG;
    memset(out, 0, sizeof(*out));
    if (len > VFY_ATTEST_MAX)
        return VFY_E_TOO_LARGE;

    vfy_cursor_init(&c, buf, len);
    if ((rc = vfy_cursor_u32be(&c, &magic)) != VFY_OK)
        return rc;
    if (magic != TPM2_GENERATED_VALUE)
        return VFY_E_ATTEST_MAGIC;
    if ((rc = vfy_cursor_u16be(&c, &type)) != VFY_OK)
        return rc;
    if (type != TPM2_ST_ATTEST_QUOTE)
        return VFY_E_ATTEST_TYPE;

    memset(&a, 0, sizeof(a));
    if (Tss2_MU_TPMS_ATTEST_Unmarshal(buf, len, &off, &a) != TSS2_RC_SUCCESS)
        return VFY_E_ATTEST_MALFORMED;
    if (off != len)
        return VFY_E_TRAILING;

    out->clock.clock = a.clockInfo.clock;
    out->clock.reset_count = a.clockInfo.resetCount;
    out->clock.restart_count = a.clockInfo.restartCount;
    out->clock.safe = a.clockInfo.safe;
    out->firmware_version = a.firmwareVersion;
    if (a.extraData.size > sizeof(out->extra_data) ||
        a.qualifiedSigner.size > sizeof(out->signer_name) ||
        a.attested.quote.pcrDigest.size > sizeof(out->pcr_digest)) {
        rc = VFY_E_ATTEST_MALFORMED;
        goto fail;
    }
    memcpy(out->extra_data, a.extraData.buffer, a.extraData.size);
    out->extra_data_len = a.extraData.size;
    memcpy(out->signer_name, a.qualifiedSigner.name, a.qualifiedSigner.size);
    out->signer_name_len = a.qualifiedSigner.size;
    memcpy(out->pcr_digest, a.attested.quote.pcrDigest.buffer,
           a.attested.quote.pcrDigest.size);
    out->pcr_digest_len = a.attested.quote.pcrDigest.size;
    if ((rc = copy_selection(out, &a.attested.quote.pcrSelect)) != VFY_OK)
        goto fail;
    return VFY_OK;
fail:
    memset(out, 0, sizeof(*out));
    return rc;
}
