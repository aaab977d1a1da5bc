/*
 * ak.h — TPM attestation keys (AKs) and their signing schemes.
 *
 * An AK is registered with exactly one signing scheme (algorithm + hash);
 * quotes are verified only under that scheme (DESIGN §3). Keys are imported
 * from PEM SubjectPublicKeyInfo or from a marshalled TPM2B_PUBLIC (what
 * `tpm2_createak -u` writes). Supported: ECC P-256 and P-384 with ECDSA;
 * RSA 2048..4096 bits with RSASSA-PKCS1-v1_5 or RSA-PSS; hashes SHA-256 and
 * SHA-384. SHA-1 is refused everywhere.
 */
#ifndef VERIFY_AK_H
#define VERIFY_AK_H

#include <stddef.h>
#include <stdint.h>
#include "verify/export.h"
#include "verify/error.h"
#include "verify/digest.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Signature algorithms, numbered as TPM_ALG_ID. */
typedef enum vfy_sig_alg {
    VFY_SIG_RSASSA = 0x0014,
    VFY_SIG_RSAPSS = 0x0016,
    VFY_SIG_ECDSA = 0x0018,
} vfy_sig_alg;

/** A signing scheme: algorithm and hash. */
typedef struct vfy_sig_scheme {
    vfy_sig_alg sig;
    vfy_hash_alg hash;
} vfy_sig_scheme;

/** Longest scheme name, with NUL ("rsassa-sha384"). */
#define VFY_SCHEME_NAME_MAX 16

/**
 * Parse "ecdsa-sha256", "ecdsa-sha384", "rsassa-sha256", "rsassa-sha384",
 * "rsapss-sha256" or "rsapss-sha384". Anything else (including any SHA-1
 * scheme) gives VFY_E_UNSUPPORTED.
 */
VFY_EXPORT vfy_rc vfy_sig_scheme_parse(vfy_sig_scheme *out, const char *name);

/** Format @s as its name into @out (VFY_SCHEME_NAME_MAX bytes suffice). */
VFY_EXPORT vfy_rc vfy_sig_scheme_format(const vfy_sig_scheme *s, char *out, size_t cap);

/** An imported AK public key with its pinned scheme. Opaque. */
typedef struct vfy_ak vfy_ak;

/**
 * Import an AK from PEM SubjectPublicKeyInfo (@len bytes, NUL not required).
 * @scheme pins the signing scheme; NULL means ecdsa-sha256 for EC keys and
 * rsassa-sha256 for RSA keys. On success *@out is a new key owned by the
 * caller (free with vfy_ak_free); on failure *@out is NULL.
 */
VFY_EXPORT vfy_rc vfy_ak_from_pem(vfy_ak **out, const char *pem, size_t len,
                                  const vfy_sig_scheme *scheme) VFY_MUST_CHECK;

/**
 * Import an AK from a marshalled TPM2B_PUBLIC. The key must be a signing
 * key. If the key carries a scheme, @scheme must be NULL or equal to it
 * (VFY_E_SIG_SCHEME otherwise); if the key's scheme is TPM_ALG_NULL, @scheme
 * NULL means the defaults of vfy_ak_from_pem(). Trailing bytes are rejected.
 */
VFY_EXPORT vfy_rc vfy_ak_from_tpm2b_public(vfy_ak **out, const uint8_t *buf, size_t len,
                                           const vfy_sig_scheme *scheme) VFY_MUST_CHECK;

/** Either of the above: PEM if @buf starts with "-----BEGIN", else TPM2B_PUBLIC. */
VFY_EXPORT vfy_rc vfy_ak_load(vfy_ak **out, const uint8_t *buf, size_t len,
                              const vfy_sig_scheme *scheme) VFY_MUST_CHECK;

/** The scheme pinned to @ak. */
VFY_EXPORT vfy_sig_scheme vfy_ak_scheme(const vfy_ak *ak);

/**
 * The AK as PEM SubjectPublicKeyInfo. *@pem is NUL-terminated, owned by the
 * caller and freed with vfy_free(); *@len (optional) excludes the NUL.
 */
VFY_EXPORT vfy_rc vfy_ak_to_pem(const vfy_ak *ak, char **pem, size_t *len);

/** SHA-256 of the DER SubjectPublicKeyInfo in the usual form (an EC key:
 * named curve, uncompressed point, whatever form it came in): a stable
 * identity for the key, not for its encoding. */
VFY_EXPORT vfy_rc vfy_ak_fingerprint(const vfy_ak *ak, uint8_t out[32]);

/** Free @*ak and set it to NULL; NULL and *NULL are fine. */
VFY_EXPORT void vfy_ak_free(vfy_ak **ak);

#ifdef __cplusplus
}
#endif
#endif
