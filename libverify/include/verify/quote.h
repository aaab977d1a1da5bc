/*
 * quote.h — TPM 2.0 quote parsing and verification (DESIGN §3).
 *
 * vfy_quote_verify() runs every check, failing closed, in this order:
 *  1. TPMS_ATTEST: magic TPM_GENERATED_VALUE, type TPM_ST_ATTEST_QUOTE,
 *     unmarshals (libtss2-mu), no trailing bytes;
 *  2. TPMT_SIGNATURE: unmarshals, no trailing bytes, hash not SHA-1,
 *     algorithm and hash equal to the AK's pinned scheme;
 *  3. the signature verifies over H(attest bytes);
 *  4. extraData equals the expected binder (constant-time);
 *  5. the quote's PCR selection equals exactly the supplied PCR values;
 *  6. pcrDigest equals H(selected values, banks in selection order,
 *     ascending index), H being the signature's hash.
 * Clock state is not checked here (it needs per-attester state): see clock.h.
 */
#ifndef VERIFY_QUOTE_H
#define VERIFY_QUOTE_H

#include <stddef.h>
#include <stdint.h>
#include "verify/export.h"
#include "verify/error.h"
#include "verify/ak.h"
#include "verify/pcr.h"
#include "verify/clock.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VFY_ATTEST_MAX 1024  /* sizeof(TPMS_ATTEST) bound; larger input is rejected */
#define VFY_SIG_MAX 1024

/** One bank of a quote's PCR selection. */
typedef struct vfy_pcr_select {
    vfy_hash_alg alg;
    uint32_t mask;           /* bit i set: PCR i selected */
} vfy_pcr_select;

/** The fields of a parsed quote (TPMS_ATTEST with TPMS_QUOTE_INFO). */
typedef struct vfy_attest {
    vfy_clock_info clock;
    uint64_t firmware_version;
    uint8_t extra_data[64];
    size_t extra_data_len;
    uint8_t signer_name[68];  /* TPM2B_NAME of the signing key */
    size_t signer_name_len;
    size_t nselect;
    vfy_pcr_select select[VFY_PCR_MAX_BANKS];
    uint8_t pcr_digest[VFY_MAX_DIGEST];
    size_t pcr_digest_len;
} vfy_attest;

/**
 * Parse a marshalled TPMS_ATTEST that must be a quote. @out is zeroed first
 * and left zeroed on failure. Errors: VFY_E_TRUNCATED (shorter than its
 * header), VFY_E_ATTEST_MAGIC, VFY_E_ATTEST_TYPE, VFY_E_ATTEST_MALFORMED,
 * VFY_E_TRAILING, VFY_E_TOO_LARGE, VFY_E_PCR_BANK (a bank other than sha256
 * or sha384, a bank twice, or PCRs beyond 23 selected).
 */
VFY_EXPORT vfy_rc vfy_attest_parse(vfy_attest *out, const uint8_t *buf,
                                   size_t len) VFY_MUST_CHECK;

/**
 * Verify the marshalled TPMT_SIGNATURE @sig over the @attest_len bytes at
 * @attest with @ak under its pinned scheme. Errors: VFY_E_SIG_MALFORMED,
 * VFY_E_TRAILING, VFY_E_SIG_HASH, VFY_E_SIG_SCHEME, VFY_E_SIG_INVALID.
 * @hash_out (optional) receives the signature's hash.
 */
VFY_EXPORT vfy_rc vfy_sig_verify(const vfy_ak *ak, const uint8_t *attest, size_t attest_len,
                                 const uint8_t *sig, size_t sig_len,
                                 vfy_hash_alg *hash_out) VFY_MUST_CHECK;

/**
 * Run every quote check above. @binder is the expected extraData (32
 * bytes). On success @info (optional) holds the parsed quote; on failure it
 * is zeroed.
 */
VFY_EXPORT vfy_rc vfy_quote_verify(const vfy_ak *ak,
                                   const uint8_t *attest, size_t attest_len,
                                   const uint8_t *sig, size_t sig_len,
                                   const vfy_pcr_values *pcrs,
                                   const uint8_t binder[32],
                                   vfy_attest *info) VFY_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
