/*
 * policy.h — appraisal policies (DESIGN §6, schemas/policy.schema.json,
 * docs/policies.md).
 *
 *   {"id":"default","version":1,
 *    "platform":{"bank":"sha256","pcrs":[0,1,2,3,4,5,6,7]},
 *    "agent":{"pcr":23,"history":"approved","unknown_context":"warning"},
 *    "freshness":{"nonce_ttl_s":60},
 *    "result":{"ttl_s":300}}
 *
 * Parsing is strict: unknown fields, repeated keys, wrong types and
 * out-of-range values are errors, so that a typo never silently weakens an
 * appraisal. Only "id" and "version" are required; every other field (and
 * each of the four sections) may be omitted and then takes the default shown
 * above (VFY_POLICY_DEFAULT_*).
 *
 * Limits and ranges:
 *   - document at most VFY_POLICY_MAX bytes (VFY_E_POLICY_TOO_LARGE), JSON
 *     nesting at most 16 (VFY_E_POLICY_NESTING);
 *   - id: 1..64 bytes of [A-Za-z0-9._-] (VFY_E_POLICY_ID) — no '@', since
 *     results name a policy as "id@version";
 *   - version: integer 1..2147483647 (VFY_E_POLICY_RANGE);
 *   - platform.bank: "sha256" only, the bank DESIGN §3 quotes over
 *     (VFY_E_POLICY_BANK);
 *   - platform.pcrs: 1..24 distinct indices in 0..23; agent.pcr in 0..23 and
 *     not among platform.pcrs (VFY_E_POLICY_PCR);
 *   - agent.history: "current" | "approved" | "strict";
 *     agent.unknown_context: "ignore" | "warning" | "contraindicated"
 *     (VFY_E_POLICY_ENUM);
 *   - freshness.nonce_ttl_s and result.ttl_s: integers 1..86400
 *     (VFY_E_POLICY_RANGE).
 * Numbers must be plain integers ("60", not "60.0" or "6e1").
 */
#ifndef VERIFY_POLICY_H
#define VERIFY_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include "verify/export.h"
#include "verify/error.h"
#include "verify/digest.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VFY_POLICY_MAX (64 * 1024)      /* bytes of policy JSON */
#define VFY_POLICY_ID_MAX 64            /* bytes of id, without NUL */
#define VFY_POLICY_VERSION_MAX 2147483647u
#define VFY_POLICY_TTL_MAX 86400u       /* seconds, for both TTLs */

#define VFY_POLICY_DEFAULT_PCRS 0x000000ffu /* PCRs 0..7 */
#define VFY_POLICY_DEFAULT_AGENT_PCR 23u
#define VFY_POLICY_DEFAULT_NONCE_TTL_S 60u
#define VFY_POLICY_DEFAULT_RESULT_TTL_S 300u
/* defaults for the enums: VFY_HISTORY_APPROVED, VFY_TIER_WARNING;
 * bank: VFY_HASH_SHA256 */

/** agent.history (DESIGN §4): which logged manifests are appraised. */
typedef enum vfy_history_mode {
    VFY_HISTORY_CURRENT = 1,  /* "current": only the presented manifest */
    VFY_HISTORY_APPROVED = 2, /* "approved": every logged digest known-affirming or
                                 re-appraised from its carried manifest; else warning */
    VFY_HISTORY_STRICT = 3,   /* "strict": as approved, but contraindicated */
} vfy_history_mode;

/**
 * The verdict tier a finding raises the agent submodule to (AR4SI tiers);
 * used for agent.unknown_context: a context digest that is neither approved
 * nor revoked.
 */
typedef enum vfy_policy_tier {
    VFY_TIER_IGNORE = 0,          /* "ignore": no effect on the status (the reason is still reported) */
    VFY_TIER_WARNING = 1,         /* "warning" */
    VFY_TIER_CONTRAINDICATED = 2, /* "contraindicated" */
} vfy_policy_tier;

typedef struct vfy_policy vfy_policy;

/**
 * Parse and validate the policy JSON of @len bytes at @json (need not be
 * NUL-terminated). On success *@out is a new policy owned by the caller
 * (free with vfy_policy_free()); on failure *@out is NULL and the return
 * value is the exact VFY_E_POLICY_* code above (VFY_E_INVALID_ARG for NULL
 * arguments, VFY_E_NOMEM).
 */
VFY_EXPORT vfy_rc vfy_policy_parse(vfy_policy **out, const char *json,
                                   size_t len) VFY_MUST_CHECK;

/**
 * As vfy_policy_parse(), and on failure also writes a one-line human
 * explanation (e.g. "agent.pcr 7 is also a platform PCR") into @detail
 * (@detail_cap bytes, NUL-terminated, truncated to fit; NULL to skip).
 */
VFY_EXPORT vfy_rc vfy_policy_parse_detail(vfy_policy **out, const char *json, size_t len,
                                          char *detail, size_t detail_cap) VFY_MUST_CHECK;

/** A new policy with id "default", version 1 and every default (the §6 example). */
VFY_EXPORT vfy_rc vfy_policy_new_default(vfy_policy **out) VFY_MUST_CHECK;

/** Free *@p and set it to NULL; NULL and *NULL are fine. */
VFY_EXPORT void vfy_policy_free(vfy_policy **p);

/* Accessors. The policy must be non-NULL; strings live as long as the policy. */

/** The id (NUL-terminated, 1..64 bytes). */
VFY_EXPORT const char *vfy_policy_id(const vfy_policy *p);
/** The version (1..2147483647). */
VFY_EXPORT unsigned vfy_policy_version(const vfy_policy *p);
/** platform.bank (VFY_HASH_SHA256). */
VFY_EXPORT vfy_hash_alg vfy_policy_platform_bank(const vfy_policy *p);
/** platform.pcrs as a mask: bit i set = PCR i appraised (never 0). */
VFY_EXPORT uint32_t vfy_policy_platform_pcrs(const vfy_policy *p);
/** agent.pcr (0..23, never in the platform mask). */
VFY_EXPORT unsigned vfy_policy_agent_pcr(const vfy_policy *p);
/** agent.history. */
VFY_EXPORT vfy_history_mode vfy_policy_history(const vfy_policy *p);
/** agent.unknown_context. */
VFY_EXPORT vfy_policy_tier vfy_policy_unknown_context(const vfy_policy *p);
/** freshness.nonce_ttl_s (1..86400); also the TPM clock tolerance of §3. */
VFY_EXPORT uint32_t vfy_policy_nonce_ttl_s(const vfy_policy *p);
/** result.ttl_s (1..86400): the longest validity of a result. */
VFY_EXPORT uint32_t vfy_policy_result_ttl_s(const vfy_policy *p);

/** "current" / "approved" / "strict", or NULL for other values (static). */
VFY_EXPORT const char *vfy_history_mode_name(vfy_history_mode m);
/** "ignore" / "warning" / "contraindicated", or NULL (static). */
VFY_EXPORT const char *vfy_policy_tier_name(vfy_policy_tier t);

#ifdef __cplusplus
}
#endif
#endif
