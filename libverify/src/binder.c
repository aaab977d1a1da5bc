/*
 * binder.c — the channel binder of DESIGN §3 (see binder.h).
 */
#include "internal.h"

vfy_rc vfy_binder(uint8_t out[VFY_BINDER_LEN], const uint8_t nonce[VFY_NONCE_LEN],
                  const uint8_t cb[VFY_CB_LEN], const uint8_t md[32])
{
    /* label || 0x00 || nonce || cb || md */
    uint8_t buf[sizeof(VFY_BINDER_LABEL) + VFY_NONCE_LEN + VFY_CB_LEN + 32];
    size_t off = sizeof(VFY_BINDER_LABEL); /* includes the 0x00 terminator */
    vfy_rc rc;

    if (out == NULL || nonce == NULL || cb == NULL || md == NULL)
        return VFY_E_INVALID_ARG;
    memcpy(buf, VFY_BINDER_LABEL, sizeof(VFY_BINDER_LABEL));
    memcpy(buf + off, nonce, VFY_NONCE_LEN);
    memcpy(buf + off + VFY_NONCE_LEN, cb, VFY_CB_LEN);
    memcpy(buf + off + VFY_NONCE_LEN + VFY_CB_LEN, md, 32);
    rc = vfy_sha256(buf, sizeof(buf), out);
    if (rc != VFY_OK)
        memset(out, 0, VFY_BINDER_LEN);
    return rc;
}

vfy_rc vfy_binder_manifest(uint8_t out[VFY_BINDER_LEN], const uint8_t nonce[VFY_NONCE_LEN],
                           const uint8_t cb[VFY_CB_LEN], const uint8_t *manifest,
                           size_t manifest_len)
{
    uint8_t md[32];
    vfy_rc rc;

    if (out == NULL || (manifest == NULL && manifest_len != 0))
        return VFY_E_INVALID_ARG;
    rc = vfy_sha256(manifest, manifest_len, md);
    if (rc != VFY_OK)
        return rc;
    return vfy_binder(out, nonce, cb, md);
}
