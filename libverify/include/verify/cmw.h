/*
 * cmw.h — evidence as a RATS Conceptual Message Wrapper collection
 * (draft-ietf-rats-msg-wrap; DESIGN §5; schemas/evidence.schema.json,
 * schemas/evidence.cddl, docs/evidence.md).
 *
 * JSON (application/cmw+json):
 *   {"__cmwc_t":"tag:github.com,2026:verifierd/agent-evidence/v1",
 *    "tpm-attest":["application/vnd.verifierd.tpms-attest","<base64url>"], ...}
 * CBOR (application/cmw+cbor): a map with text keys; "__cmwc_t" maps to the
 * same text, each record to [tstr media-type, bstr content].
 *
 * | label          | media type                                       |
 * | tpm-attest     | application/vnd.verifierd.tpms-attest            |
 * | tpm-signature  | application/vnd.verifierd.tpmt-signature         |
 * | tpm-pcrs       | application/vnd.verifierd.pcr-values+json        |
 * | agent-manifest | application/vnd.verifierd.agent-manifest+json    |
 * | agent-log      | application/vnd.verifierd.agent-log+json         |
 *
 * All five records are required, agent-log included: the verifier must
 * replay the log to tie the quoted agent PCR to the manifest (DESIGN §4),
 * and the agent extends at start, so a log always has at least one entry.
 *
 * Checks, each with its own code (VFY_E_CMW_*):
 *   - size at most VFY_CMW_MAX (1 MiB) → VFY_E_CMW_TOO_LARGE, checked first;
 *   - nesting at most 16 → VFY_E_CMW_NESTING, checked by a pre-scan before
 *     any tree is built (JSON: byte scan; CBOR: libcbor's streaming decoder);
 *   - syntax and shape → VFY_E_CMW_MALFORMED: not an object/map, a key that
 *     is not text, a record that is not exactly a 2-element array of
 *     (text, base64url text) in JSON or (tstr, bstr) in CBOR, trailing
 *     bytes. In CBOR, tags and indefinite-length items are rejected (the
 *     collection is plain definite-length CBOR); in JSON, numbers with a
 *     fraction or exponent are (none belongs in a collection).
 *   - "__cmwc_t" absent or not exactly the tag above → VFY_E_CMW_TYPE;
 *   - a label outside the table → VFY_E_CMW_UNKNOWN_LABEL;
 *   - a label (or __cmwc_t) twice → VFY_E_CMW_DUPLICATE;
 *   - a record's media type not exactly the table's → VFY_E_CMW_MEDIA_TYPE
 *     (no parameters, case-sensitive);
 *   - JSON content not strict base64url without padding → VFY_E_CMW_ENCODING;
 *   - agent-manifest content over 64 KiB → VFY_E_MANIFEST_TOO_LARGE;
 *   - a required record absent → VFY_E_CMW_MISSING.
 * The record contents themselves are parsed by their own modules
 * (quote.h, pcr.h, manifest.h, agent_log.h).
 */
#ifndef VERIFY_CMW_H
#define VERIFY_CMW_H

#include <stddef.h>
#include <stdint.h>
#include "verify/export.h"
#include "verify/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VFY_CMW_MAX (1024 * 1024) /* bytes of encoded evidence */
#define VFY_CMW_MAX_DEPTH 16
#define VFY_CMW_TAG "tag:github.com,2026:verifierd/agent-evidence/v1"
#define VFY_CMW_MEDIA_TYPE_JSON "application/cmw+json"
#define VFY_CMW_MEDIA_TYPE_CBOR "application/cmw+cbor"

typedef enum vfy_cmw_format {
    VFY_CMW_JSON = 1,
    VFY_CMW_CBOR = 2,
} vfy_cmw_format;

/** The records of the collection (array index for vfy_cmw_parts). */
typedef enum vfy_cmw_record {
    VFY_CMW_TPM_ATTEST = 0,
    VFY_CMW_TPM_SIGNATURE = 1,
    VFY_CMW_TPM_PCRS = 2,
    VFY_CMW_AGENT_MANIFEST = 3,
    VFY_CMW_AGENT_LOG = 4,
} vfy_cmw_record;
#define VFY_CMW_RECORDS 5

typedef struct vfy_cmw vfy_cmw;

/**
 * Parse @len bytes of evidence at @data in format @fmt. On success *@out is
 * owned by the caller (vfy_cmw_free()); on failure it is NULL and the
 * result is one of the codes listed above (VFY_E_INVALID_ARG for NULL
 * arguments or an unknown format, VFY_E_NOMEM). @detail (@detail_cap bytes,
 * may be NULL) receives a one-line explanation naming the label on failure.
 */
VFY_EXPORT vfy_rc vfy_cmw_parse(vfy_cmw **out, vfy_cmw_format fmt, const void *data,
                                size_t len, char *detail, size_t detail_cap) VFY_MUST_CHECK;

/** Free *@c and set it to NULL; NULL and *NULL are fine. */
VFY_EXPORT void vfy_cmw_free(vfy_cmw **c);

/**
 * The content bytes of record @r (decoded from base64url for JSON), length
 * in *@len. Never NULL for a parsed collection (a record may be empty:
 * *@len = 0). NULL for an unknown @r. Lives as long as @c.
 */
VFY_EXPORT const uint8_t *vfy_cmw_get(const vfy_cmw *c, vfy_cmw_record r, size_t *len);

/** The format @c was parsed from. */
VFY_EXPORT vfy_cmw_format vfy_cmw_get_format(const vfy_cmw *c);

/** The label of @r ("tpm-attest", ...), or NULL (static). */
VFY_EXPORT const char *vfy_cmw_label(vfy_cmw_record r);

/** The media type @r must carry (table above), or NULL (static). */
VFY_EXPORT const char *vfy_cmw_media_type(vfy_cmw_record r);

/**
 * Map "application/cmw+json" / "application/cmw+cbor" (exact) to a format;
 * anything else gives VFY_E_UNSUPPORTED.
 */
VFY_EXPORT vfy_rc vfy_cmw_format_from_media_type(vfy_cmw_format *fmt, const char *mt);

/** The contents of each record, for vfy_cmw_encode(): data[r], len[r]. */
typedef struct vfy_cmw_parts {
    const uint8_t *data[VFY_CMW_RECORDS];
    size_t len[VFY_CMW_RECORDS];
} vfy_cmw_parts;

/**
 * Build the collection from @parts in format @fmt: __cmwc_t first, then the
 * records in vfy_cmw_record order; JSON compact, CBOR definite-length.
 * Every part is required (data non-NULL unless its len is 0). The limits
 * the parser enforces apply: VFY_E_MANIFEST_TOO_LARGE, VFY_E_CMW_TOO_LARGE.
 * *@out (owned by the caller, free with vfy_free()) holds *@out_len bytes;
 * for JSON it is also NUL-terminated (the NUL not counted).
 */
VFY_EXPORT vfy_rc vfy_cmw_encode(vfy_cmw_format fmt, const vfy_cmw_parts *parts,
                                 uint8_t **out, size_t *out_len) VFY_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
