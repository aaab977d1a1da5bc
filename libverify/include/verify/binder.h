/*
 * binder.h — the channel binder of DESIGN §3.
 *
 *   binder = SHA-256("verifierd agent attestation v1" || 0x00 ||
 *                    nonce[32] || cb[32] || md[32])
 *
 * where cb is the TLS exporter value (RFC 9266, label
 * "EXPORTER-Channel-Binding", empty context, 32 bytes) of the connection the
 * evidence is bound to and md = SHA-256(manifest bytes). The agent quotes
 * with qualifyingData = binder; the verifier recomputes it from the relying
 * party's own view of the channel. Public because agents and relying parties
 * need it too.
 */
#ifndef VERIFY_BINDER_H
#define VERIFY_BINDER_H

#include <stddef.h>
#include <stdint.h>
#include "verify/export.h"
#include "verify/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VFY_BINDER_LABEL "verifierd agent attestation v1"
#define VFY_NONCE_LEN 32
#define VFY_CB_LEN 32
#define VFY_BINDER_LEN 32
/** TLS exporter label for the channel binding (RFC 9266). */
#define VFY_CB_EXPORTER_LABEL "EXPORTER-Channel-Binding"

/** Compute the binder from @nonce, channel binding @cb and manifest digest @md. */
VFY_EXPORT vfy_rc vfy_binder(uint8_t out[VFY_BINDER_LEN],
                             const uint8_t nonce[VFY_NONCE_LEN],
                             const uint8_t cb[VFY_CB_LEN],
                             const uint8_t md[32]);

/** Same, hashing the @manifest_len manifest bytes first (md = SHA-256(manifest)). */
VFY_EXPORT vfy_rc vfy_binder_manifest(uint8_t out[VFY_BINDER_LEN],
                                      const uint8_t nonce[VFY_NONCE_LEN],
                                      const uint8_t cb[VFY_CB_LEN],
                                      const uint8_t *manifest, size_t manifest_len);

#ifdef __cplusplus
}
#endif
#endif
