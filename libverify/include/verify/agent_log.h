/*
 * agent_log.h — the agent log, its replay against the agent PCR, and the
 * history rule (DESIGN §4; schemas/agent-log.schema.json, docs/evidence.md).
 *
 *   [{"digest":"sha256:<hex md_0>"},
 *    {"digest":"sha256:<hex md_1>","manifest":"<b64url manifest_1 bytes>"}, ...]
 *
 * Parsing is strict: an array of 1..VFY_AGENT_LOG_MAX_ENTRIES objects, each
 * with exactly "digest" and optionally "manifest" (no other field, no
 * repeated key); digests "sha256:" + 64 lowercase hex; manifests strict
 * base64url without padding, at most VFY_MANIFEST_MAX bytes decoded, and
 * SHA-256 of the decoded bytes must equal the entry's digest. The document
 * itself is capped at VFY_AGENT_LOG_MAX bytes and nesting 16.
 *
 * Replay: PCR_0 = 32 zero bytes, PCR_i+1 = SHA-256(PCR_i || digest_i) — the
 * TPM2_PCR_Extend the agent performs on the SHA-256 bank of the agent PCR.
 *
 * History (pure; the store persists the state): per attester and TPM reset
 * epoch the verifier keeps the longest log it has seen and, per entry, the
 * TPM clock of the first quote that showed it. See vfy_agent_history_check().
 */
#ifndef VERIFY_AGENT_LOG_H
#define VERIFY_AGENT_LOG_H

#include <stddef.h>
#include <stdint.h>
#include "verify/export.h"
#include "verify/error.h"
#include "verify/clock.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VFY_AGENT_LOG_MAX_ENTRIES 4096
#define VFY_AGENT_LOG_MAX (1024 * 1024) /* bytes of log JSON (the evidence cap) */

typedef struct vfy_agent_log vfy_agent_log;

/**
 * Parse the agent log of @len bytes at @data (JSON, need not be
 * NUL-terminated). On success *@out is owned by the caller
 * (vfy_agent_log_free()); on failure it is NULL and the result is the exact
 * code: VFY_E_LOG_TOO_LARGE, VFY_E_LOG_NESTING, VFY_E_LOG_MALFORMED,
 * VFY_E_LOG_EMPTY, VFY_E_LOG_TOO_MANY, VFY_E_LOG_DUPLICATE,
 * VFY_E_LOG_UNKNOWN_FIELD, VFY_E_LOG_DIGEST, VFY_E_LOG_ENCODING,
 * VFY_E_MANIFEST_TOO_LARGE (a carried manifest over 64 KiB),
 * VFY_E_LOG_MANIFEST_MISMATCH, VFY_E_INVALID_ARG, VFY_E_NOMEM.
 * @detail (@detail_cap bytes, may be NULL) receives a one-line explanation
 * naming the entry on failure.
 */
VFY_EXPORT vfy_rc vfy_agent_log_parse(vfy_agent_log **out, const void *data, size_t len,
                                      char *detail, size_t detail_cap) VFY_MUST_CHECK;

/** Free *@log and set it to NULL; NULL and *NULL are fine. */
VFY_EXPORT void vfy_agent_log_free(vfy_agent_log **log);

/** Number of entries (1..4096). */
VFY_EXPORT size_t vfy_agent_log_count(const vfy_agent_log *log);

/** The 32-byte digest of entry @i, or NULL if out of range; lives as long as @log. */
VFY_EXPORT const uint8_t *vfy_agent_log_digest(const vfy_agent_log *log, size_t i);

/**
 * The manifest bytes carried by entry @i (already checked against its
 * digest; parse them with vfy_manifest_parse() to appraise), length in
 * *@len; NULL and *@len = 0 if the entry carries none or @i is out of range.
 */
VFY_EXPORT const uint8_t *vfy_agent_log_manifest(const vfy_agent_log *log, size_t i,
                                                 size_t *len);

/** The PCR value the log replays to (32 bytes into @out). */
VFY_EXPORT void vfy_agent_log_pcr(const vfy_agent_log *log, uint8_t out[32]);

/**
 * DESIGN §4: the log must replay to @pcr, the agent PCR value from the
 * verified quote (compared in constant time) — else VFY_E_LOG_REPLAY — and
 * its last entry must equal @md, the digest of the presented manifest —
 * else VFY_E_LOG_LAST. VFY_OK only if both hold.
 */
VFY_EXPORT vfy_rc vfy_agent_log_replay(const vfy_agent_log *log, const uint8_t pcr[32],
                                       const uint8_t md[32]) VFY_MUST_CHECK;

/** One entry of the persisted history (same layout as vfy_store_log_entry). */
typedef struct vfy_agent_history_entry {
    uint8_t digest[32];
    uint64_t first_clock;  /* TPM clock of the first quote that showed this entry */
} vfy_agent_history_entry;

/**
 * The persisted history of one attester: the TPM resetCount of its epoch
 * and the longest log seen in it. Plain data; whoever fills @entries owns
 * them (vfy_agent_history_clear() frees what vfy_agent_history_check()
 * allocated).
 */
typedef struct vfy_agent_history {
    uint32_t epoch;
    size_t n;
    vfy_agent_history_entry *entries;
} vfy_agent_history;

/** Outcome of vfy_agent_history_check(). */
typedef enum vfy_log_outcome {
    VFY_LOG_NEW_EPOCH = 1,   /* no previous state, or resetCount advanced (reboot): history restarts */
    VFY_LOG_EXTENDS = 2,     /* the log extends the stored one */
    VFY_LOG_SAME = 3,        /* the log is the stored one */
    VFY_LOG_LATE_PREFIX = 4, /* a strict prefix quoted before the next entry was first seen */
    VFY_LOG_ROLLBACK = 5,    /* anything else */
} vfy_log_outcome;

/**
 * The history rule of DESIGN §4, a pure function. @prev is the stored state
 * (NULL: none yet), @log the new (parsed, replayed) log, @quote the verified
 * quote's clock info.
 *
 *   - no @prev, or quote resetCount ahead of prev->epoch (wrap-around
 *     compare)                                        → VFY_LOG_NEW_EPOCH
 *   - resetCount behind                               → VFY_LOG_ROLLBACK
 *   - log == stored                                   → VFY_LOG_SAME
 *   - stored is a strict prefix of log, and the quote clock is not below the
 *     clock of the last stored entry                  → VFY_LOG_EXTENDS
 *     (a longer log quoted before a shorter one was seen means the PCR was
 *     reset in between, so a lower clock is a rollback)
 *   - log is a strict prefix of stored (length k) and the quote clock is
 *     lower than entries[k].first_clock               → VFY_LOG_LATE_PREFIX
 *   - anything else                                   → VFY_LOG_ROLLBACK
 *
 * Returns VFY_OK for the first four outcomes and VFY_E_LOG_ROLLBACK for a
 * rollback (fail closed: the caller must check); VFY_E_LOG_STATE if @prev is
 * inconsistent (n > 4096, or entries NULL with n > 0); VFY_E_INVALID_ARG,
 * VFY_E_NOMEM. *@outcome is set whenever the result is VFY_OK or
 * VFY_E_LOG_ROLLBACK.
 *
 * @next receives the state to persist only when it changes
 * (VFY_LOG_NEW_EPOCH: the whole log, every entry stamped with the quote
 * clock; VFY_LOG_EXTENDS: the stored entries with their clocks plus the new
 * ones stamped with the quote clock). Otherwise, and on any error, @next is
 * empty (n = 0, entries = NULL) and nothing is to be persisted. Free it
 * with vfy_agent_history_clear().
 */
VFY_EXPORT vfy_rc vfy_agent_history_check(const vfy_agent_history *prev,
                                          const vfy_agent_log *log,
                                          const vfy_clock_info *quote,
                                          vfy_log_outcome *outcome,
                                          vfy_agent_history *next) VFY_MUST_CHECK;

/** Free @h->entries (if allocated by libverify) and zero @h; NULL is fine. */
VFY_EXPORT void vfy_agent_history_clear(vfy_agent_history *h);

/** "new-epoch", "extends", "same", "late-prefix", "rollback", or NULL (static). */
VFY_EXPORT const char *vfy_log_outcome_name(vfy_log_outcome o);

#ifdef __cplusplus
}
#endif
#endif
