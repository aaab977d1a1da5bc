/*
 * pcr.h — PCR values supplied with a quote (DESIGN §5, tpm-pcrs record).
 *
 *   {"sha256":{"0":"<64 hex>",...,"23":"<64 hex>"}}
 *
 * Banks: sha256 and sha384 (sha1 or any other bank is VFY_E_PCR_BANK).
 * Indices 0..23 in canonical decimal; values hex of exactly the bank's
 * digest size; nothing after the object but whitespace. Duplicate banks or
 * indices, bad indices and bad values are VFY_E_PCR_VALUES. The document is capped at
 * VFY_PCR_JSON_MAX bytes.
 */
#ifndef VERIFY_PCR_H
#define VERIFY_PCR_H

#include <stddef.h>
#include <stdint.h>
#include "verify/export.h"
#include "verify/error.h"
#include "verify/digest.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VFY_PCR_COUNT 24
#define VFY_PCR_MAX_BANKS 2
#define VFY_PCR_JSON_MAX (64 * 1024)

typedef struct vfy_pcr_bank {
    vfy_hash_alg alg;
    uint32_t mask;                                   /* bit i set: values[i] present */
    uint8_t values[VFY_PCR_COUNT][VFY_MAX_DIGEST];   /* first vfy_hash_size(alg) bytes used */
} vfy_pcr_bank;

/** A set of PCR values; plain data, no allocation, zero-initialise to empty. */
typedef struct vfy_pcr_values {
    size_t nbanks;
    vfy_pcr_bank banks[VFY_PCR_MAX_BANKS];
} vfy_pcr_values;

/**
 * Parse the pcr-values JSON of @len bytes (need not be NUL-terminated).
 * @out is zeroed first and left zeroed on failure (VFY_E_PCR_VALUES,
 * VFY_E_PCR_BANK, VFY_E_TOO_LARGE).
 */
VFY_EXPORT vfy_rc vfy_pcr_values_parse(vfy_pcr_values *out, const char *json,
                                       size_t len) VFY_MUST_CHECK;

/** Set PCR @index of bank @alg to the vfy_hash_size(alg) bytes at @value. */
VFY_EXPORT vfy_rc vfy_pcr_values_set(vfy_pcr_values *pv, vfy_hash_alg alg,
                                     unsigned index, const uint8_t *value);

/** The bank for @alg, or NULL. */
VFY_EXPORT const vfy_pcr_bank *vfy_pcr_values_bank(const vfy_pcr_values *pv,
                                                   vfy_hash_alg alg);

/**
 * Serialise @pv as pcr-values JSON (banks in order, ascending index,
 * lowercase hex). *@json is owned by the caller, freed with vfy_free().
 */
VFY_EXPORT vfy_rc vfy_pcr_values_to_json(const vfy_pcr_values *pv, char **json);

#ifdef __cplusplus
}
#endif
#endif
