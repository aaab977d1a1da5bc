/*
 * digest.h — hash algorithms used by libverify (OpenSSL EVP underneath).
 *
 * Algorithms are named by their TPM_ALG_ID so that values read from TPM
 * structures can be used directly.
 */
#ifndef VERIFY_DIGEST_H
#define VERIFY_DIGEST_H

#include <stddef.h>
#include <stdint.h>
#include "verify/export.h"
#include "verify/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Hash algorithms, numbered as TPM_ALG_ID. */
typedef enum vfy_hash_alg {
    VFY_HASH_SHA1 = 0x0004,   /* parsed so it can be rejected; never accepted for signatures */
    VFY_HASH_SHA256 = 0x000B,
    VFY_HASH_SHA384 = 0x000C,
    VFY_HASH_SHA512 = 0x000D,
} vfy_hash_alg;

#define VFY_MAX_DIGEST 64

/** Digest size in bytes of @alg, or 0 if unknown. */
VFY_EXPORT size_t vfy_hash_size(vfy_hash_alg alg);

/** "sha256", "sha384", ... for @alg, or NULL if unknown (static). */
VFY_EXPORT const char *vfy_hash_name(vfy_hash_alg alg);

/** Parse "sha1", "sha256", "sha384" or "sha512" (exact, lowercase). */
VFY_EXPORT vfy_rc vfy_hash_from_name(vfy_hash_alg *alg, const char *name);

/**
 * One-shot digest of @len bytes at @data with @alg into @out (room for
 * vfy_hash_size(alg) bytes, at most VFY_MAX_DIGEST).
 */
VFY_EXPORT vfy_rc vfy_digest(vfy_hash_alg alg, const void *data, size_t len,
                             uint8_t *out);

/** SHA-256 of @len bytes at @data into @out[32]. */
VFY_EXPORT vfy_rc vfy_sha256(const void *data, size_t len, uint8_t out[32]);

/**
 * Parse a digest string "sha256:<64 hex>" (lowercase hex) into @out[32].
 * Returns VFY_E_ENCODING for anything else.
 */
VFY_EXPORT vfy_rc vfy_sha256_parse(uint8_t out[32], const char *s, size_t len) VFY_MUST_CHECK;

/** Format @d as "sha256:<64 lowercase hex>" into @out (room for 72 bytes). */
VFY_EXPORT vfy_rc vfy_sha256_format(char *out, size_t out_cap, const uint8_t d[32]);

#define VFY_SHA256_STR_LEN 71 /* "sha256:" + 64, without NUL */

#ifdef __cplusplus
}
#endif
#endif
