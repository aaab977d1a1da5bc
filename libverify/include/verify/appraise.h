/*
 * appraise.h — appraisal: from channel-bound evidence to a verdict with a
 * validity period (DESIGN §3–§7), and the signed EAR that carries it.
 *
 * One vfy_appraiser per thread: it owns no lock and uses one vfy_store
 * handle, whose attesters and policies it caches and refreshes when the
 * store's generation changes (an admin change by any process).
 *
 * vfy_appraise() returns VFY_OK with a result for every well-formed
 * request, whatever the verdict: unknown attester, bad signature, binder
 * mismatch, a nonce the caller found invalid, unapproved or revoked
 * components all give a result whose status is not affirming, with
 * human-readable reasons. It returns an error, and no result, only for
 * malformed input: evidence that is not a valid CMW collection, a manifest,
 * agent log or pcr-values record that does not parse or exceeds a limit
 * (the VFY_E_CMW_*, VFY_E_MANIFEST_*, VFY_E_LOG_* parse codes,
 * VFY_E_PCR_VALUES, VFY_E_PCR_BANK), an unknown policy named by the request
 * (VFY_E_APPRAISE_POLICY), or an internal failure (VFY_E_DB, VFY_E_NOMEM).
 *
 * Trustworthiness vector (AR4SI, DESIGN §6) and the reasons that set it:
 *   platform.instance-identity  2 AK registered and quote signature valid;
 *        97 unknown attester; 96 revoked attester, bad or unverifiable
 *        quote, binder mismatch (relayed evidence), nonce invalid/replayed/
 *        expired, nonce issued the policy's nonce_ttl_s or more ago
 *        (VFY_E_NONCE_STALE: the challenge may have used another policy's
 *        longer lifetime), issued more than VFY_NONCE_FUTURE_SKEW_S after
 *        the appraisal's clock (VFY_E_NONCE_FUTURE) or not checked at all
 *        (nonce_issued_at 0, VFY_E_NONCE_UNCHECKED), TPM clock or
 *        reset/restart counter went back.
 *   platform.executables  2 every policy PCR in the attester's reference
 *        set; 33 a value not in the set; 96 a revoked value; 99 the quote
 *        does not cover a PCR the policy requires.
 *   agent.executables  2 models and tools approved; 33 one not in the
 *        reference values; 96 one revoked, or the agent log does not replay
 *        to the quoted agent PCR, or the manifest is not its last entry, or
 *        the history rolled back (DESIGN §4); a past manifest that is not
 *        known-good raises 33 (history "approved") or 96 ("strict").
 *   agent.configuration  2 policies and context approved; 32 a policy not
 *        in the reference values; 96 revoked; an unknown context follows
 *        the policy's agent.unknown_context (ignore/32/96).
 * Submodule status = worst tier of its vector; overall = worst submodule.
 */
#ifndef VERIFY_APPRAISE_H
#define VERIFY_APPRAISE_H

#include <stddef.h>
#include <stdint.h>
#include "verify/export.h"
#include "verify/error.h"
#include "verify/cmw.h"
#include "verify/ear.h"
#include "verify/jwk.h"
#include "verify/refstore.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VFY_RESULT_ID_LEN 22     /* 16 bytes, base64url: 6 of issue time (ms), 10 random */
/* A result lists at most this many reasons (the last one may be "N more
 * reasons not listed"; one manifest lists at most 16 of its components). */
#define VFY_RESULT_MAX_REASONS 64

typedef struct vfy_appraiser vfy_appraiser;

/**
 * Group commit. Each appraisal writes state (TPM clock, agent history,
 * known manifests) and, with record_results, its result: by default in a
 * transaction of its own, one commit each. A committer lets many
 * appraisals — of one thread or of several threads each with its own
 * appraiser — share one commit:
 *
 * - vfy_committer_new() over a store connection the committer uses alone
 *   (a single-threaded caller may pass the appraiser's own store);
 * - appraisers created with vfy_appraiser_config.committer run their state
 *   phase (reads and writes of the attester's state, no crypto) under the
 *   committer's lock as a savepoint of its open transaction, the batch;
 * - the result vfy_appraise() returns is then **not yet committed**: call
 *   vfy_committer_wait() for it before releasing its EAR. The first wait
 *   for a result of the open batch commits the batch (every appraisal in
 *   it is committed at once); later waits of the same batch return its
 *   outcome. A batch is also committed when it reaches @max_batch.
 *   Committed survives a crash of the process; with the store's
 *   synchronous=NORMAL a power loss may lose the last commits.
 *
 * If a batch's commit fails, every result in it is lost: wait returns the
 * error for each of them and their EARs must be discarded (appraise again
 * with a new nonce). The batch transaction holds the store's write lock
 * from the first appraisal in it to its commit; other writers (verifyctl,
 * other processes) wait for it within the store's 5 s busy timeout, so
 * wait promptly. The committer is thread-safe; @st is borrowed and must
 * outlive it.
 */
typedef struct vfy_committer vfy_committer;

VFY_EXPORT vfy_rc vfy_committer_new(vfy_committer **out, vfy_store *st,
                                    unsigned max_batch) VFY_MUST_CHECK;

/** Free @*c and set it NULL (NULL is fine); an open batch is rolled back. */
VFY_EXPORT void vfy_committer_free(vfy_committer **c);

/** Commit the open batch, if any; its outcome. */
VFY_EXPORT vfy_rc vfy_committer_flush(vfy_committer *c) VFY_MUST_CHECK;

/**
 * Retention inside group commits: just before each batch commits, delete
 * in its transaction up to twice as many results as the batch recorded
 * (at least 8, at most @max_per_commit; 0: 64) of those that expired more
 * than @keep_s seconds ago, with their revocation-feed entries (as
 * vfy_store_results_prune() does, without an audit row per batch). No
 * second writer competes for the write lock and deletion keeps pace with
 * attestations. A deletion that fails is rolled back alone: the batch
 * still commits. @keep_s 0 turns it off; otherwise it must be at least
 * VFY_NONCE_MAX_TTL (a restart reads the last day's nonces back), else
 * VFY_E_INVALID_ARG. Call before the committer is in use.
 */
VFY_EXPORT vfy_rc vfy_committer_set_retention(vfy_committer *c, int64_t keep_s,
                                              unsigned max_per_commit) VFY_MUST_CHECK;

/** Results deleted by the committer's retention so far. */
VFY_EXPORT uint64_t vfy_committer_pruned(vfy_committer *c);
/**
 * Batches lost so far: commits that failed, and batches whose transaction
 * SQLite rolled back under an appraisal (disk full, I/O error), whichever
 * thread committed or found them. Every result of such a batch got a
 * failed vfy_committer_wait().
 */
VFY_EXPORT uint64_t vfy_committer_failures(vfy_committer *c);

typedef struct vfy_appraiser_config {
    /* When neither request nor attester names one; NULL: "default". A
     * missing "default" is the built-in policy of DESIGN §6; any other
     * missing id fails the appraisal (VFY_E_APPRAISE_POLICY). */
    const char *default_policy;
    const char *verifier_build;  /* ear_verifier_id.build; NULL: "verifierd <version>" */
    vfy_ear_profile profile;     /* claim names of issued EARs */
    int record_results;          /* 1: every result is recorded in the store (revocation needs it) */
    vfy_committer *committer;    /* NULL: each appraisal commits its own writes; see below */
    /*
     * Where the appraiser learns the store generation (vfy_store_generation())
     * that invalidates its caches of attesters, policies and reference
     * values. NULL: it asks its store before each appraisal (a read
     * transaction each time). A server may instead hand out a value it
     * refreshes itself — in the background, and at once after its own
     * admin changes — trading a bounded delay before changes made by other
     * processes are seen for one database read less per appraisal.
     */
    vfy_rc (*generation)(void *ctx, uint64_t *gen);
    void *generation_ctx;
} vfy_appraiser_config;

/**
 * A new appraiser over @st (borrowed: it must outlive the appraiser and be
 * used by one thread only). @cfg is copied; NULL gives the defaults with
 * record_results = 1.
 */
VFY_EXPORT vfy_rc vfy_appraiser_new(vfy_appraiser **out, vfy_store *st,
                                    const vfy_appraiser_config *cfg) VFY_MUST_CHECK;

/** Free @*a and set it NULL; NULL is fine. */
VFY_EXPORT void vfy_appraiser_free(vfy_appraiser **a);

/**
 * The policy that applies: @policy_id if not NULL (VFY_E_APPRAISE_POLICY if
 * unknown), else @attester's policy, else the default policy (the built-in
 * §6 default if the store has none). *@out is cached by @a and valid until
 * the next call on @a.
 */
VFY_EXPORT vfy_rc vfy_appraiser_policy(vfy_appraiser *a, const char *policy_id,
                                       const char *attester,
                                       const vfy_policy **out) VFY_MUST_CHECK;

/* A parsed POST /v1/attest body (verify/attest_body.h). */
typedef struct vfy_attest_body vfy_attest_body;

typedef struct vfy_appraisal_request {
    const uint8_t *evidence;         /* the CMW collection (unless body is set) */
    size_t evidence_len;
    vfy_cmw_format format;           /* VFY_CMW_JSON or VFY_CMW_CBOR */
    const uint8_t *nonce;            /* 32 bytes, the challenge the RP obtained */
    const uint8_t *channel_binding;  /* 32 bytes: the RP's own tls-exporter value */
    const char *attester;            /* registered attester name */
    const char *policy_id;           /* optional */
    uint32_t max_ttl_s;              /* 0: none requested */
    vfy_rc nonce_status;             /* the caller's check of the nonce (issued,
                                        unexpired, unused): VFY_OK or the error */
    uint64_t nonce_issued_at;        /* when the nonce was issued (Unix s; its issue
                                        time, not its expiry), from
                                        vfy_nonce_consume() or vfy_nonce_check();
                                        0: the nonce was not checked, and is
                                        refused whatever nonce_status says (a
                                        zeroed request fails closed) */
    int64_t now;                     /* Unix seconds; 0: the current time */
    const vfy_attest_body *body;     /* optional: the evidence is this parsed
                                        body's (vfy_attest_body_request());
                                        evidence/evidence_len/format unused */
} vfy_appraisal_request;

typedef struct vfy_result vfy_result;

/**
 * Appraise @req (see the top of this file). On VFY_OK *@out is a new
 * result owned by the caller (vfy_result_free()). Per-attester state (TPM
 * clock, agent-log history, known-good manifests) is updated only from
 * evidence whose quote verified. With record_results the result and the
 * reference rows it relied on are stored.
 * @detail (optional, @detail_cap bytes) explains an error return.
 */
VFY_EXPORT vfy_rc vfy_appraise(vfy_appraiser *a, const vfy_appraisal_request *req,
                               vfy_result **out, char *detail,
                               size_t detail_cap) VFY_MUST_CHECK;

/** Free @*r and set it NULL; NULL is fine. */
VFY_EXPORT void vfy_result_free(vfy_result **r);

/**
 * Wait until @r (from an appraiser using @c) is durable: VFY_OK, or the
 * store error that lost it (then discard its EAR). Commits @r's batch if
 * it is still open. VFY_OK at once for results of appraisers without a
 * committer.
 */
VFY_EXPORT vfy_rc vfy_committer_wait(vfy_committer *c, const vfy_result *r) VFY_MUST_CHECK;

/** Sign @r as an EAR (ES256 JWS) with @key; *@jws owned by the caller (vfy_free). */
VFY_EXPORT vfy_rc vfy_result_sign(const vfy_result *r, const vfy_signing_key *key,
                                  char **jws) VFY_MUST_CHECK;

/* Accessors; strings live as long as @r. */
VFY_EXPORT vfy_ear_status vfy_result_status(const vfy_result *r);
VFY_EXPORT vfy_ear_status vfy_result_submod_status(const vfy_result *r, vfy_ear_submod_id s);
VFY_EXPORT vfy_trust_vector vfy_result_vector(const vfy_result *r, vfy_ear_submod_id s);
VFY_EXPORT const char *vfy_result_id(const vfy_result *r);
VFY_EXPORT int64_t vfy_result_iat(const vfy_result *r);
VFY_EXPORT int64_t vfy_result_exp(const vfy_result *r);
VFY_EXPORT const char *vfy_result_policy_id(const vfy_result *r);   /* "id@version" */
VFY_EXPORT size_t vfy_result_reason_count(const vfy_result *r);
VFY_EXPORT const char *vfy_result_reason(const vfy_result *r, size_t i);
/** 1 and the digest/version if a manifest was appraised, else 0. */
VFY_EXPORT int vfy_result_manifest(const vfy_result *r, uint8_t digest[32], int64_t *version);

#ifdef __cplusplus
}
#endif
#endif
