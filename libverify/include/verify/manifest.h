/*
 * manifest.h — the agent manifest (DESIGN §5, schemas/agent-manifest.schema.json,
 * docs/evidence.md).
 *
 *   {"agent_id":"travel-agent-01","manifest_version":7,
 *    "models":  [{"name":"llama-3.1-8b-instruct","digest":"sha256:<hex>"}],
 *    "tools":   [{"name":"payments.transfer","version":"2.1.0","digest":"sha256:<hex>"}],
 *    "policies":[{"name":"spend-limits","digest":"sha256:<hex>"}],
 *    "context": {"digest":"sha256:<hex>"}}
 *
 * All six top-level fields are required (lists may be empty); the fields of
 * each entry are exactly those shown (tools carry "version", models and
 * policies do not). Unknown fields anywhere are rejected
 * (VFY_E_MANIFEST_UNKNOWN_FIELD): the manifest is what the agent PCR
 * commits to, so a field the verifier would not appraise must not ride
 * along unseen. A new field needs a new schema version.
 *
 * Limits: VFY_MANIFEST_MAX bytes (64 KiB), JSON nesting 16,
 * VFY_MANIFEST_MAX_ENTRIES entries per list, agent_id / names / versions
 * 1..VFY_MANIFEST_NAME_MAX bytes without control characters, digests exactly
 * "sha256:" + 64 lowercase hex, manifest_version an integer 0..2^53-1.
 * Two entries may share a name; each is appraised on its own.
 *
 * The manifest digest md (DESIGN §3) is SHA-256 over the exact bytes given
 * to vfy_manifest_parse(), never over a re-serialisation.
 */
#ifndef VERIFY_MANIFEST_H
#define VERIFY_MANIFEST_H

#include <stddef.h>
#include <stdint.h>
#include "verify/export.h"
#include "verify/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VFY_MANIFEST_MAX (64 * 1024)   /* bytes */
#define VFY_MANIFEST_MAX_ENTRIES 256   /* per list */
#define VFY_MANIFEST_NAME_MAX 128      /* bytes of agent_id, a name or a version */

/** The manifest's lists; numbered like vfy_component_kind of refstore.h. */
typedef enum vfy_manifest_list {
    VFY_MANIFEST_MODELS = 1,
    VFY_MANIFEST_TOOLS = 2,
    VFY_MANIFEST_POLICIES = 3,
} vfy_manifest_list;

/** One list entry; valid as long as its manifest. */
typedef struct vfy_manifest_entry {
    const char *name;     /* NUL-terminated, 1..128 bytes */
    const char *version;  /* tools: NUL-terminated, 1..128 bytes; NULL otherwise */
    uint8_t digest[32];
} vfy_manifest_entry;

typedef struct vfy_manifest vfy_manifest;

/**
 * Parse and validate the manifest of @len bytes at @data (JSON, need not be
 * NUL-terminated) and compute its digest. On success *@out is owned by the
 * caller (vfy_manifest_free()); on failure it is NULL and the result is the
 * exact VFY_E_MANIFEST_* code (VFY_E_INVALID_ARG, VFY_E_NOMEM). @detail
 * (@detail_cap bytes, may be NULL) receives a one-line explanation naming
 * the offending field on failure.
 */
VFY_EXPORT vfy_rc vfy_manifest_parse(vfy_manifest **out, const void *data, size_t len,
                                     char *detail, size_t detail_cap) VFY_MUST_CHECK;

/** Free *@m and set it to NULL; NULL and *NULL are fine. */
VFY_EXPORT void vfy_manifest_free(vfy_manifest **m);

/* Accessors; @m non-NULL. Pointers live as long as @m. */

/** agent_id (NUL-terminated). */
VFY_EXPORT const char *vfy_manifest_agent_id(const vfy_manifest *m);
/** manifest_version. */
VFY_EXPORT uint64_t vfy_manifest_version(const vfy_manifest *m);
/** md = SHA-256 of the parsed bytes (32 bytes). */
VFY_EXPORT const uint8_t *vfy_manifest_digest(const vfy_manifest *m);
/** context.digest (32 bytes). */
VFY_EXPORT const uint8_t *vfy_manifest_context_digest(const vfy_manifest *m);
/** Number of entries of @list (0 for an unknown list). */
VFY_EXPORT size_t vfy_manifest_count(const vfy_manifest *m, vfy_manifest_list list);
/** Entry @i of @list, or NULL if out of range. */
VFY_EXPORT const vfy_manifest_entry *vfy_manifest_entry_at(const vfy_manifest *m,
                                                           vfy_manifest_list list, size_t i);

#ifdef __cplusplus
}
#endif
#endif
