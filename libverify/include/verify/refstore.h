/*
 * refstore.h — the reference-value store (DESIGN §6).
 *
 * One SQLite file holds what "good" looks like and the verifier's
 * per-attester state: attesters and their AKs, PCR reference sets,
 * agent components (models, tools, policies, contexts), appraisal policies,
 * API tokens (SHA-256 only), TPM clock and agent-log state, issued results
 * with the reference rows they relied on, a revocation feed, and an
 * append-only audit log. The data model is documented in
 * docs/reference-values.md.
 *
 * Threading: a vfy_store handle is NOT thread-safe. Use one handle per
 * thread (SQLite serialises writers between handles; WAL lets readers run
 * concurrently with one writer). Prepared statements are cached on the
 * handle, so lookups do not re-parse SQL.
 *
 * Admin changes (the functions documented "admin change") each run in one
 * transaction (BEGIN IMMEDIATE) together with their audit-log row and a bump
 * of the generation counter; on any error nothing is changed. Adding a value
 * identical to a stored one is a no-op (VFY_OK, *added = 0); adding a
 * different value under the same unique key is VFY_E_CONFLICT.
 *
 * Errors common to every function: VFY_E_INVALID_ARG (NULL or impossible
 * argument), VFY_E_DB (SQLite error), VFY_E_DB_BUSY (locked beyond the busy
 * timeout), VFY_E_NOMEM. After an error vfy_store_errmsg() gives a
 * one-line human-readable detail.
 *
 * Strings passed in are copied; nothing keeps a pointer to them after the
 * call returns.
 */
#ifndef VERIFY_REFSTORE_H
#define VERIFY_REFSTORE_H

#include <stddef.h>
#include <stdint.h>
#include "verify/export.h"
#include "verify/error.h"
#include "verify/digest.h"
#include "verify/ak.h"
#include "verify/pcr.h"
#include "verify/clock.h"
#include "verify/policy.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Schema version this library writes (PRAGMA user_version). */
#define VFY_STORE_SCHEMA_VERSION 8

/** Longest name (attester, set, component, policy id, token), in bytes. */
#define VFY_STORE_NAME_MAX 128
/** Longest component version string, in bytes. */
#define VFY_STORE_VERSION_MAX 64
/** Longest provenance note, in bytes. */
#define VFY_STORE_NOTE_MAX 1024
/** Longest result id, in bytes. */
#define VFY_STORE_RESULT_ID_MAX 64
/** Longest result status / revocation reason, in bytes. */
#define VFY_STORE_STATUS_MAX 32
#define VFY_STORE_REASON_MAX 512
/** Longest policy JSON accepted, in bytes. */
#define VFY_STORE_POLICY_MAX (64 * 1024)
/** Longest bundle accepted by vfy_store_import(), in bytes. */
#define VFY_STORE_BUNDLE_MAX ((size_t)512 * 1024 * 1024)
/** Room for a token made by vfy_store_token_add(), with NUL. */
#define VFY_STORE_TOKEN_BUF 64
/** Tokens start with this prefix. */
#define VFY_STORE_TOKEN_PREFIX "vfy_"

/* ------------------------------------------------------------------ */
/* Opening, schema, transactions                                        */

typedef struct vfy_store vfy_store;

/** vfy_store_open() flags. */
enum {
    /** Create the file if missing and create the schema in an empty DB. */
    VFY_STORE_CREATE = 1u << 0,
    /** Migrate an older schema forward to VFY_STORE_SCHEMA_VERSION. */
    VFY_STORE_MIGRATE = 1u << 1,
    /** Open read-only (no admin changes, no state writes). */
    VFY_STORE_READONLY = 1u << 2,
};

/**
 * Open the store at @path. Sets WAL mode, foreign_keys=ON and a 5000 ms
 * busy timeout. On success *@out is a new handle owned by the caller (close
 * with vfy_store_close); on failure *@out is NULL.
 * Errors: VFY_E_DB_OPEN (file missing without VFY_STORE_CREATE, not a
 * database, or an empty database without VFY_STORE_CREATE),
 * VFY_E_DB_SCHEMA (schema newer than this library), VFY_E_DB_OLD (schema
 * older and VFY_STORE_MIGRATE not given).
 */
VFY_EXPORT vfy_rc vfy_store_open(vfy_store **out, const char *path, unsigned flags) VFY_MUST_CHECK;

/**
 * Why vfy_store_open(@path, @flags) gave VFY_E_DB_OPEN (or VFY_E_DB_SCHEMA,
 * VFY_E_DB_OLD), as one line for an operator, into @out (@cap bytes;
 * returns @out): "No such file or directory", "its directory does not
 * exist", "Permission denied", "not an SQLite database", "its directory is
 * not writable (...)", "an SQLite database without verifierd's tables
 * (another program's)", "schema version 9, this build knows up to 8 (...)",
 * "schema version 5, this build needs 8 (...)", ... Looks at the file and
 * its directory only; changes nothing.
 */
VFY_EXPORT const char *vfy_store_open_why(const char *path, unsigned flags, char *out, size_t cap);

/** Close @*st and set it to NULL; NULL and *NULL are fine. */
VFY_EXPORT void vfy_store_close(vfy_store **st);

/** The schema version of the open database. */
VFY_EXPORT int vfy_store_schema_version(const vfy_store *st);

/**
 * A one-line detail about the last error on @st (static or owned by @st,
 * valid until the next call on @st). Never NULL; "" when there is none.
 */
VFY_EXPORT const char *vfy_store_errmsg(const vfy_store *st);

/** Longest audit actor, in bytes: room for a prefix such as "token:" before
 * a name of VFY_STORE_NAME_MAX bytes. */
#define VFY_STORE_ACTOR_MAX (VFY_STORE_NAME_MAX + 16)

/**
 * The actor recorded in audit rows of later admin changes (copied; a name
 * of at most VFY_STORE_ACTOR_MAX bytes; default "libverify"). On an error
 * the actor is left as it was: a caller acting for someone else must not
 * go on (its changes would be audited under the previous actor).
 */
VFY_EXPORT vfy_rc vfy_store_set_actor(vfy_store *st, const char *actor);

/**
 * Override the clock used for timestamps and for "unexpired" (Unix
 * seconds); 0 restores the real clock. For tests and replay.
 */
VFY_EXPORT void vfy_store_set_time(vfy_store *st, int64_t now);

/**
 * The generation counter: bumped by every admin change, by any handle, to
 * at least the clock in microseconds since the epoch (from 0.2.7), so that
 * a database restored from a backup does not give again a value the lost
 * one gave. A long-running reader caches lookups and refreshes them when
 * the value differs from the one it cached with (it may go down: a
 * restore). Cheap: when no other connection
 * committed since the last call (PRAGMA data_version) and this handle did
 * not write, no table is read.
 */
VFY_EXPORT vfy_rc vfy_store_generation(vfy_store *st, uint64_t *gen) VFY_MUST_CHECK;

/**
 * WAL checkpoints. By default the connection whose commit takes the
 * write-ahead log past @pages (SQLite's default 1000) copies it back into
 * the database inside that commit, fsyncs included. A server that wants no
 * such pause in its requests calls vfy_store_set_autocheckpoint(@st, 0) on
 * its request connections and vfy_store_checkpoint() from a background
 * thread on a connection of its own. @pages < 0 is VFY_E_INVALID_ARG.
 */
VFY_EXPORT vfy_rc vfy_store_set_autocheckpoint(vfy_store *st, int pages) VFY_MUST_CHECK;

/**
 * One passive checkpoint: copies what it can of the WAL into the database
 * without waiting for readers or writers. *@wal_pages and *@copied
 * (optional) receive the WAL's size and the pages copied, in pages.
 * VFY_E_DB_BUSY if another checkpoint is running.
 */
VFY_EXPORT vfy_rc vfy_store_checkpoint(vfy_store *st, int *wal_pages,
                                       int *copied) VFY_MUST_CHECK;

/**
 * A restarting checkpoint: waits until no write transaction is open,
 * blocks new writers from then on, copies the whole WAL into the database
 * (an fsync of the database file), waits for readers to leave the WAL, and
 * leaves it so that the next write starts the WAL over from its beginning;
 * with @truncate the file is also cut to zero bytes. Passive checkpoints
 * copy but never start the WAL over: SQLite does that itself only when a
 * write begins with every frame copied and no reader in the WAL, which on
 * a store that is never idle (group commits every millisecond, reads
 * always in flight) does not happen, and the file then grows without
 * bound. Call this when the WAL passed a size (vfy_store_checkpoint's
 * *@wal_pages) and with @truncate at shutdown.
 *
 * Writers on every connection wait while it runs, so the waits are
 * bounded by @wait_ms in all (checked every 50 µs; at most 60000): a long reader —
 * an export, a backup — makes it give up with VFY_E_DB_BUSY instead of
 * stalling writes behind it (what it copied stays copied; try again
 * later). *@wal_pages and *@copied as for vfy_store_checkpoint().
 */
VFY_EXPORT vfy_rc vfy_store_checkpoint_restart(vfy_store *st, int truncate, unsigned wait_ms,
                                               int *wal_pages, int *copied) VFY_MUST_CHECK;

/**
 * Group several writes into one transaction: vfy_store_begin() starts it
 * (BEGIN IMMEDIATE, or a savepoint inside another), every write function
 * called until vfy_store_end() joins it, and vfy_store_end(@st, @rc)
 * commits when @rc is VFY_OK and rolls back otherwise, returning the final
 * result. Calls must pair up.
 */
VFY_EXPORT vfy_rc vfy_store_begin(vfy_store *st) VFY_MUST_CHECK;
VFY_EXPORT vfy_rc vfy_store_end(vfy_store *st, vfy_rc rc);

/* ------------------------------------------------------------------ */
/* Kinds, states, roles                                                 */

typedef enum vfy_component_kind {
    VFY_COMPONENT_MODEL = 1,
    VFY_COMPONENT_TOOL = 2,
    VFY_COMPONENT_POLICY = 3,
    VFY_COMPONENT_CONTEXT = 4,
} vfy_component_kind;

/** Parse "model", "tool", "policy", "context"; else VFY_E_BAD_KIND. */
VFY_EXPORT vfy_rc vfy_component_kind_parse(vfy_component_kind *out, const char *s) VFY_MUST_CHECK;
/** "model", ... or NULL for an unknown value (static). */
VFY_EXPORT const char *vfy_component_kind_name(vfy_component_kind k);

/** State of a reference value (component or PCR digest). */
typedef enum vfy_ref_state {
    VFY_REF_APPROVED = 1,
    VFY_REF_REVOKED = 2,
} vfy_ref_state;

typedef enum vfy_token_role {
    VFY_ROLE_ATTEST = 1,
    VFY_ROLE_ADMIN = 2,
} vfy_token_role;

/** Parse "attest" or "admin"; else VFY_E_BAD_KIND. */
VFY_EXPORT vfy_rc vfy_token_role_parse(vfy_token_role *out, const char *s) VFY_MUST_CHECK;
/** "attest", "admin" or NULL (static). */
VFY_EXPORT const char *vfy_token_role_name(vfy_token_role r);

/* ------------------------------------------------------------------ */
/* Admin changes                                                        */

/**
 * Admin change: register attester @name with the AK in @ak (@ak_len bytes:
 * PEM SubjectPublicKeyInfo, or a marshalled TPM2B_PUBLIC which is kept as
 * well). @scheme names the signing scheme (NULL: the key's default, see
 * vfy_ak_load). @refset names its PCR reference set (NULL: "default"; the
 * set need not have values yet — an empty set allows nothing). @policy is
 * an appraisal policy id that must already be loaded (NULL: the verifier's
 * default). Identical re-add is a no-op; the same name with a different
 * key, scheme, refset or policy is VFY_E_CONFLICT.
 * Errors also: VFY_E_BAD_NAME, VFY_E_AK_MALFORMED, VFY_E_AK_UNSUPPORTED,
 * VFY_E_UNSUPPORTED (scheme), VFY_E_SIG_SCHEME, VFY_E_NOT_FOUND (policy).
 * @added (optional) is 1 if a row was inserted.
 */
VFY_EXPORT vfy_rc vfy_store_attester_add(vfy_store *st, const char *name,
                                         const uint8_t *ak, size_t ak_len,
                                         const char *scheme, const char *refset,
                                         const char *policy, int *added) VFY_MUST_CHECK;

/**
 * Admin change: mark attester @name revoked (no-op if it already is) and
 * revoke its unexpired valid results (with revocation-feed entries).
 * VFY_E_NOT_FOUND.
 */
VFY_EXPORT vfy_rc vfy_store_attester_revoke(vfy_store *st, const char *name) VFY_MUST_CHECK;

/**
 * The same, also saying whether anything changed: *@revoked (optional) is
 * 1 when the attester was active and this call revoked it, 0 when it was
 * revoked already (then nothing is written: no audit row, no result
 * revoked), as vfy_store_pcr_revoke_counted(). Since 0.2.7.
 */
VFY_EXPORT vfy_rc vfy_store_attester_revoke_counted(vfy_store *st, const char *name,
                                                    size_t *revoked) VFY_MUST_CHECK;

/**
 * The other ACTIVE attesters registered with the attestation key of
 * attester @name (revoked or not): revoking one name leaves them attesting
 * with a key that may be compromised, so an admin tool says so. *@count
 * receives how many; the first @max of them in name order are written to
 * @names (each VFY_STORE_NAME_MAX + 1 bytes; may be NULL when @max is 0),
 * *@listed (may be NULL) how many were written. One indexed query (the
 * attesters by key fingerprint). VFY_E_NOT_FOUND for an unknown @name.
 * (Since 0.2.6.)
 */
VFY_EXPORT vfy_rc vfy_store_attester_key_sharers(vfy_store *st, const char *name, size_t *count,
                                                 char (*names)[VFY_STORE_NAME_MAX + 1],
                                                 size_t max, size_t *listed) VFY_MUST_CHECK;

/**
 * Admin change: forget the TPM clock state and the agent-log history
 * stored for attester @name (after a TPM2_Clear or a re-provisioned TPM
 * whose AK survived: its quotes are otherwise refused with "resetCount went
 * back" for good). Its next verified quote starts both again, as a first
 * quote does; known-good manifest marks, results and the attester's state
 * are kept. Audited ("attester.reset"). *@had_state (may be NULL): there
 * was state to clear. VFY_E_NOT_FOUND.
 */
VFY_EXPORT vfy_rc vfy_store_attester_reset(vfy_store *st, const char *name,
                                           int *had_state) VFY_MUST_CHECK;

/**
 * Admin change: allow @digest (vfy_hash_size(@bank) bytes) for PCR @index
 * (0..23) of bank @bank (sha256 or sha384) in reference set @set.
 * Errors: VFY_E_BAD_NAME, VFY_E_PCR_BANK (bank or index), VFY_E_CONFLICT
 * (the same value exists and is revoked).
 */
VFY_EXPORT vfy_rc vfy_store_pcr_add(vfy_store *st, const char *set, vfy_hash_alg bank,
                                    unsigned index, const uint8_t *digest, size_t digest_len,
                                    int *added) VFY_MUST_CHECK;

/**
 * Admin change: add every value in @pv to @set in one transaction. @added
 * (optional) counts new rows. Audited (from 0.2.7) with one "pcr.add" row
 * per value added, as vfy_store_pcr_add() writes it with " (by pcr import)"
 * after the digest, then one "pcr.import" row with the counts (before, the
 * counts were the only row).
 */
VFY_EXPORT vfy_rc vfy_store_pcr_import(vfy_store *st, const char *set,
                                       const vfy_pcr_values *pv, size_t *added) VFY_MUST_CHECK;

/**
 * Admin change: revoke an allowed PCR value and mark every unexpired valid
 * result that relied on it revoked (with revocation-feed entries).
 * VFY_E_NOT_FOUND if there is no such value. @results (optional) counts
 * results revoked.
 */
VFY_EXPORT vfy_rc vfy_store_pcr_revoke(vfy_store *st, const char *set, vfy_hash_alg bank,
                                       unsigned index, const uint8_t *digest, size_t digest_len,
                                       size_t *results) VFY_MUST_CHECK;

/**
 * The same, also saying whether anything changed: *@revoked (optional) is
 * 1 when the value was approved and this call revoked it, 0 when it was
 * revoked already (then nothing is written: no audit row, no result
 * revoked), as vfy_store_component_revoke() counts the rows it revoked.
 * Since 0.2.6.
 */
VFY_EXPORT vfy_rc vfy_store_pcr_revoke_counted(vfy_store *st, const char *set, vfy_hash_alg bank,
                                               unsigned index, const uint8_t *digest,
                                               size_t digest_len, size_t *revoked,
                                               size_t *results) VFY_MUST_CHECK;

/**
 * Admin change: approve component @kind/@name/@version (NULL or "" = no
 * version) with SHA-256 @digest and provenance @note (NULL = ""). Unique
 * key (kind, name, version, digest); a different note, or re-adding a
 * revoked value, is VFY_E_CONFLICT.
 */
VFY_EXPORT vfy_rc vfy_store_component_add(vfy_store *st, vfy_component_kind kind,
                                          const char *name, const char *version,
                                          const uint8_t digest[32], const char *note,
                                          int *added) VFY_MUST_CHECK;

/**
 * Admin change: revoke every approved component @kind/@name (all versions),
 * or only those with @digest if it is not NULL, and mark every unexpired
 * valid result that relied on one of them revoked (with feed entries).
 * A digest is revoked for appraisal once any row of its kind carrying it is
 * (vfy_store_component_lookup), so the other approved rows of the same kind
 * and digest (another name, say a mirror) are revoked too, with the results
 * that relied on them. VFY_E_NOT_FOUND if no component matches. Already
 * revoked rows are left alone. @revoked and @results (optional) count the
 * component rows revoked (those others included) and the results.
 */
VFY_EXPORT vfy_rc vfy_store_component_revoke(vfy_store *st, vfy_component_kind kind,
                                             const char *name, const uint8_t *digest,
                                             size_t *revoked, size_t *results) VFY_MUST_CHECK;

/**
 * Admin change: load appraisal policy JSON (@len bytes, at most
 * VFY_STORE_POLICY_MAX). The document must pass vfy_policy_parse() (policy.h);
 * its exact VFY_E_POLICY_* code is returned otherwise, with the parser's
 * explanation in vfy_store_errmsg(). The policy is stored in compact form
 * (whitespace removed, key order kept); the same (id, version) with
 * different content is VFY_E_CONFLICT. @id_out (optional,
 * VFY_STORE_NAME_MAX + 1 bytes) and @version_out (optional) receive its
 * identity. Errors also: VFY_E_TOO_LARGE.
 */
VFY_EXPORT vfy_rc vfy_store_policy_load(vfy_store *st, const char *json, size_t len,
                                        char *id_out, unsigned *version_out,
                                        int *added) VFY_MUST_CHECK;

/**
 * Admin change: create API token @name with @role. The token — "vfy_" and
 * 43 base64url characters (32 random bytes) — is written to @token (room
 * for VFY_STORE_TOKEN_BUF bytes) and only its SHA-256 is stored: it cannot
 * be recovered later. An existing name is VFY_E_CONFLICT. On failure
 * @token is wiped.
 */
VFY_EXPORT vfy_rc vfy_store_token_add(vfy_store *st, const char *name, vfy_token_role role,
                                      char token[VFY_STORE_TOKEN_BUF]) VFY_MUST_CHECK;

/**
 * The same, for a token that stops authenticating at @expires_at (Unix
 * seconds; 0: never). An @expires_at not after the store's now is
 * VFY_E_INVALID_ARG.
 */
VFY_EXPORT vfy_rc vfy_store_token_add_expiring(vfy_store *st, const char *name,
                                               vfy_token_role role, int64_t expires_at,
                                               char token[VFY_STORE_TOKEN_BUF]) VFY_MUST_CHECK;

/**
 * Admin change: store a token made elsewhere (@len bytes, not
 * NUL-terminated) as @name, e.g. the same token on every replica that keeps
 * its own database. It must be exactly what vfy_store_token_add() makes —
 * "vfy_" and 43 canonical base64url characters — else VFY_E_INVALID_ARG.
 * An existing name, or a token already stored under any name, is
 * VFY_E_CONFLICT. Audited as token.add with "(given)". @expires_at as in
 * vfy_store_token_add_expiring(). From 0.2.7.
 */
VFY_EXPORT vfy_rc vfy_store_token_add_given(vfy_store *st, const char *name,
                                            vfy_token_role role, int64_t expires_at,
                                            const char *token, size_t len) VFY_MUST_CHECK;

/** Admin change: revoke token @name (no-op if it already is). VFY_E_NOT_FOUND. */
VFY_EXPORT vfy_rc vfy_store_token_revoke(vfy_store *st, const char *name) VFY_MUST_CHECK;

/**
 * The same, also saying whether anything changed: *@revoked (optional) is
 * 1 when this call revoked the token, 0 when it was revoked already (then
 * nothing is written: no audit row). Since 0.2.7.
 */
VFY_EXPORT vfy_rc vfy_store_token_revoke_counted(vfy_store *st, const char *name,
                                                 size_t *revoked) VFY_MUST_CHECK;

/* ------------------------------------------------------------------ */
/* Hot-path lookups (prepared statements cached on the handle)          */

/**
 * How many approved PCR values reference set @set holds (*@n; 0 for a set
 * no value names). An attester's set with none fails every platform
 * appraisal: verifyctl warns when one is named (a typo, or values still
 * to come).
 */
VFY_EXPORT vfy_rc vfy_store_refset_pcr_count(vfy_store *st, const char *set,
                                             size_t *n) VFY_MUST_CHECK;

/**
 * The same for one bank: how many approved PCR values of bank @bank
 * (sha256 or sha384, else VFY_E_PCR_BANK) reference set @set holds (*@n).
 * vfy_store_refset_pcr_count() counts every bank, but a policy appraises
 * the sha256 bank only (policy.h: platform.bank), so a set holding sha384
 * values alone fails every platform appraisal too: count sha256 to warn
 * about that. Since 0.2.7.
 */
VFY_EXPORT vfy_rc vfy_store_refset_pcr_count_bank(vfy_store *st, const char *set,
                                                  vfy_hash_alg bank, size_t *n) VFY_MUST_CHECK;

/**
 * Is @digest allowed for (@set, @bank, @index)? VFY_OK with *@state
 * APPROVED or REVOKED and *@row_id (optional) the row to record as a
 * result reference; VFY_E_NOT_FOUND when the value is not in the set.
 */
VFY_EXPORT vfy_rc vfy_store_pcr_lookup(vfy_store *st, const char *set, vfy_hash_alg bank,
                                       unsigned index, const uint8_t *digest, size_t digest_len,
                                       vfy_ref_state *state, int64_t *row_id) VFY_MUST_CHECK;

/** A component row as returned by vfy_store_component_lookup(). */
typedef struct vfy_store_component {
    int64_t id;
    vfy_component_kind kind;
    vfy_ref_state state;
    char name[VFY_STORE_NAME_MAX + 1];
    char version[VFY_STORE_VERSION_MAX + 1];
} vfy_store_component;

/**
 * Look up a component by (@kind, @digest). Several rows may carry the same
 * digest (different names or versions): a revoked one wins (a revoked
 * digest is revoked whatever it is called), else the oldest approved one.
 * VFY_E_NOT_FOUND if none; @out is zeroed on failure.
 */
VFY_EXPORT vfy_rc vfy_store_component_lookup(vfy_store *st, vfy_component_kind kind,
                                             const uint8_t digest[32],
                                             vfy_store_component *out) VFY_MUST_CHECK;

/** An attester as returned by vfy_store_attester_get(). */
typedef struct vfy_store_attester {
    int64_t id;
    int revoked;                               /* 1: state "revoked" */
    vfy_ak *ak;                                /* owned; freed by vfy_store_attester_clear */
    vfy_sig_scheme scheme;
    char refset[VFY_STORE_NAME_MAX + 1];
    char policy[VFY_STORE_NAME_MAX + 1];       /* "" = the verifier's default */
} vfy_store_attester;

/**
 * Look up attester @name. On success @out holds a freshly imported AK that
 * the caller releases with vfy_store_attester_clear(); on failure @out is
 * zeroed. VFY_E_NOT_FOUND if unknown.
 */
VFY_EXPORT vfy_rc vfy_store_attester_get(vfy_store *st, const char *name,
                                         vfy_store_attester *out) VFY_MUST_CHECK;

/** Free what @a holds and zero it. NULL is fine. */
VFY_EXPORT void vfy_store_attester_clear(vfy_store_attester *a);

/**
 * The latest version of policy @id. *@json (NUL-terminated, owned by the
 * caller, freed with vfy_free) and *@version (optional). VFY_E_NOT_FOUND.
 */
VFY_EXPORT vfy_rc vfy_store_policy_get(vfy_store *st, const char *id, char **json,
                                       unsigned *version) VFY_MUST_CHECK;

/**
 * Find the unrevoked token whose SHA-256 is @sha. @name (optional, room for
 * VFY_STORE_NAME_MAX + 1) and @role receive its identity. Unknown,
 * revoked or expired tokens give VFY_E_NOT_FOUND.
 */
VFY_EXPORT vfy_rc vfy_store_token_lookup(vfy_store *st, const uint8_t sha[32], char *name,
                                         vfy_token_role *role) VFY_MUST_CHECK;

/**
 * Like vfy_store_token_lookup, but an expired unrevoked token is found too:
 * *@expires_at (required) is its expiry, 0 for none, and the caller
 * decides (a server caching tokens checks the expiry at every use).
 */
VFY_EXPORT vfy_rc vfy_store_token_lookup_at(vfy_store *st, const uint8_t sha[32], char *name,
                                            vfy_token_role *role,
                                            int64_t *expires_at) VFY_MUST_CHECK;

/** Same, hashing the presented @token (@len bytes) first. */
VFY_EXPORT vfy_rc vfy_store_token_check(vfy_store *st, const char *token, size_t len,
                                        char *name, vfy_token_role *role) VFY_MUST_CHECK;

/* ------------------------------------------------------------------ */
/* Per-attester verifier state (not admin changes: no audit row)         */

/** Last accepted TPM clock state of @attester; VFY_E_NOT_FOUND if none yet. */
VFY_EXPORT vfy_rc vfy_store_clock_get(vfy_store *st, const char *attester,
                                      vfy_clock_info *out) VFY_MUST_CHECK;

/** Store @ci as the clock state of @attester (VFY_E_NOT_FOUND: no such attester). */
VFY_EXPORT vfy_rc vfy_store_clock_put(vfy_store *st, const char *attester,
                                      const vfy_clock_info *ci) VFY_MUST_CHECK;

/** One agent-log entry the verifier has seen (DESIGN §4). */
typedef struct vfy_store_log_entry {
    uint8_t digest[32];
    uint64_t first_clock;     /* TPM clock of the first quote that showed it */
} vfy_store_log_entry;

/**
 * The longest agent log seen for @attester: its epoch (TPM resetCount) and
 * entries (*@entries owned by the caller, freed with vfy_free; NULL when
 * *@n is 0). VFY_E_NOT_FOUND if nothing is stored.
 */
VFY_EXPORT vfy_rc vfy_store_agent_log_get(vfy_store *st, const char *attester,
                                          uint32_t *epoch, vfy_store_log_entry **entries,
                                          size_t *n) VFY_MUST_CHECK;

/**
 * Store the agent log of @attester. With a new epoch the stored log is
 * replaced; with the same epoch @entries must extend the stored log (same
 * length or longer, same last stored entry) — only the new tail is written;
 * otherwise VFY_E_CONFLICT.
 */
VFY_EXPORT vfy_rc vfy_store_agent_log_put(vfy_store *st, const char *attester, uint32_t epoch,
                                          const vfy_store_log_entry *entries,
                                          size_t n) VFY_MUST_CHECK;

/**
 * Is @digest a manifest this verifier appraised as affirming for
 * @attester? *@known is 1 or 0 (0 also for an unknown attester).
 */
VFY_EXPORT vfy_rc vfy_store_manifest_known(vfy_store *st, const char *attester,
                                           const uint8_t digest[32], int *known) VFY_MUST_CHECK;

/**
 * Remember @digest as a manifest appraised affirming for @attester (no-op
 * if already known). VFY_E_NOT_FOUND for an unknown attester. Such a mark
 * has no reference set: what it rested on is unknown, so revoking any
 * component forgets it (as marks made before schema 4); see
 * vfy_store_manifest_mark_known_result.
 */
VFY_EXPORT vfy_rc vfy_store_manifest_mark_known(vfy_store *st, const char *attester,
                                                const uint8_t digest[32]) VFY_MUST_CHECK;

/**
 * The same, made known by recorded result @result_id (NULL: as above): the
 * mark keeps the reference rows that result relied on, and revoking one of
 * its components (vfy_store_component_revoke, or a bundle import) forgets
 * the manifest again — the affirming appraisal it rested on is revoked.
 * Record the result first, in the same transaction.
 */
VFY_EXPORT vfy_rc vfy_store_manifest_mark_known_result(vfy_store *st, const char *attester,
                                                       const uint8_t digest[32],
                                                       const char *result_id) VFY_MUST_CHECK;

/**
 * Replace the stored agent log of @attester with @entries whatever was
 * stored (a TPM Restart within one reset epoch resets PCRs too, so the
 * history starts over).
 */
VFY_EXPORT vfy_rc vfy_store_agent_log_replace(vfy_store *st, const char *attester,
                                              uint32_t epoch,
                                              const vfy_store_log_entry *entries,
                                              size_t n) VFY_MUST_CHECK;

/* ------------------------------------------------------------------ */
/* Results and revocation                                               */

typedef enum vfy_store_ref_kind {
    VFY_STORE_REF_COMPONENT = 1,
    VFY_STORE_REF_PCR = 2,
} vfy_store_ref_kind;

/** A reference row a result relied on (an id from a lookup). */
typedef struct vfy_store_ref {
    vfy_store_ref_kind kind;
    int64_t id;
} vfy_store_ref;

/**
 * Record issued result @id (at most VFY_STORE_RESULT_ID_MAX bytes) for
 * @attester with @iat/@exp (Unix seconds), @status ("affirming", ...) and
 * the @nrefs reference rows it relied on, in one transaction. Duplicate
 * refs are merged. An existing @id is VFY_E_CONFLICT; an unknown ref id is
 * VFY_E_NOT_FOUND.
 */
VFY_EXPORT vfy_rc vfy_store_result_record(vfy_store *st, const char *id, const char *attester,
                                          int64_t iat, int64_t exp, const char *status,
                                          const vfy_store_ref *refs, size_t nrefs) VFY_MUST_CHECK;

/**
 * As vfy_store_result_record(), also remembering the 32-byte @nonce the
 * result answered (NULL: none), so that a restarted verifier can refuse
 * nonces used before it stopped (vfy_store_recent_nonces).
 */
VFY_EXPORT vfy_rc vfy_store_result_record_nonce(vfy_store *st, const char *id,
                                                const char *attester, int64_t iat, int64_t exp,
                                                const char *status, const vfy_store_ref *refs,
                                                size_t nrefs, const uint8_t *nonce) VFY_MUST_CHECK;

/**
 * The nonces of results issued at or after @since (Unix seconds): *@out is
 * an array of *@n 32-byte nonces owned by the caller (vfy_free; NULL when
 * *@n is 0). Same as vfy_store_recent_nonces_from() with no @min: every
 * nonce of the period is read, so the cost follows the number of results.
 */
VFY_EXPORT vfy_rc vfy_store_recent_nonces(vfy_store *st, int64_t since, uint8_t (**out)[32],
                                          size_t *n) VFY_MUST_CHECK;

/**
 * The nonces of results issued at or after @since (Unix seconds) that sort
 * at or after the @min_len bytes at @min, in memcmp order with a shorter
 * value first when one is a prefix of the other (SQLite's BLOB order): a
 * 32-byte nonce whose first @min_len bytes equal @min is returned. @min_len
 * 0 (@min may then be NULL) returns every nonce, as vfy_store_recent_nonces().
 * Results recorded without a nonce are never returned; the order of *@out
 * is unspecified and a nonce recorded with several results appears once per
 * result.
 *
 * The store does not interpret nonces. For verifierd's nonces, which begin
 * with their big-endian expiry (verify/nonce.h), @min = the 8 big-endian
 * bytes of now + 1 selects exactly those that have not expired at now, so
 * expired ones are never copied out. The rows are found through the results'
 * issue times, so the store still reads (without returning) every result
 * issued since @since: vfy_store_nonce_window() gives the latest @since that
 * still finds every unexpired one.
 *
 * *@out is an array of *@n 32-byte nonces owned by the caller (vfy_free;
 * NULL when *@n is 0). Errors: VFY_E_INVALID_ARG (@min NULL with @min_len
 * > 0, @min_len above INT_MAX), VFY_E_NOMEM, VFY_E_DB, VFY_E_DB_BUSY.
 */
VFY_EXPORT vfy_rc vfy_store_recent_nonces_from(vfy_store *st, int64_t since, const uint8_t *min,
                                               size_t min_len, uint8_t (**out)[32],
                                               size_t *n) VFY_MUST_CHECK;

/**
 * The latest issue time *@since (Unix seconds) such that every result
 * whose nonce is still unexpired at @now was issued at or after it, for
 * vfy_store_recent_nonces_from() after a restart. Nonces are read as
 * verifierd's (verify/nonce.h: the big-endian expiry first): recording a
 * result with a nonce keeps the largest expiry - iat seen (its "lead",
 * clamped to 0..VFY_NONCE_MAX_TTL), so *@since is @now minus that lead —
 * about the longest nonce TTL in use, not a day. Results recorded by a
 * library older than schema 3 carry no lead: while any of them is younger
 * than VFY_NONCE_MAX_TTL, *@since is @now - VFY_NONCE_MAX_TTL. A lead
 * raised by a transaction that rolls back is rolled back with it. Errors:
 * VFY_E_INVALID_ARG, VFY_E_DB, VFY_E_DB_BUSY.
 */
VFY_EXPORT vfy_rc vfy_store_nonce_window(vfy_store *st, int64_t now,
                                         int64_t *since) VFY_MUST_CHECK;

/**
 * The issue time of the newest result (0 when there is none) into *@iat:
 * with the lead of vfy_store_nonce_window(), a bound on the expiry of every
 * nonce any result used (a restart marks its used-nonce cache swept up to
 * there, vfy_nonce_cache_mark_swept). Errors: VFY_E_INVALID_ARG, VFY_E_DB.
 */
VFY_EXPORT vfy_rc vfy_store_results_last_iat(vfy_store *st, int64_t *iat) VFY_MUST_CHECK;

/**
 * The latest expiry before @before of a nonce recorded with a result issued
 * at or after @since (read from the nonce: verifierd's nonces begin with
 * their big-endian expiry) into *@expiry, 0 when there is none. For a
 * restart: the used nonces expired by now are not reloaded, and its
 * used-nonce cache counts them as swept up to a time no used nonce
 * expiring before now passes. A nonce is recorded with its result only
 * when it was accepted, so unexpired when used: a result issued more than
 * the lead (vfy_store_nonce_window) before the newest one used a nonce
 * that expired before the newest was issued. So with @since = the newest
 * result's issue time minus the lead and @before = now + 1, max(*@expiry,
 * the newest issue time) is such a time, however large the lead (the
 * newest issue time plus the lead was not: the lead is the largest ever
 * seen, and one nonce of an hour-long policy made every fresh nonce of the
 * next hour "expired" after a start while the clock was ahead). Errors:
 * VFY_E_INVALID_ARG (@before 2^40 or more), VFY_E_DB. (Since 0.2.6.)
 */
VFY_EXPORT vfy_rc vfy_store_results_nonce_expiry_max(vfy_store *st, int64_t since,
                                                     uint64_t before,
                                                     uint64_t *expiry) VFY_MUST_CHECK;

/** Largest @max_rows of one vfy_store_results_prune() call. */
#define VFY_STORE_PRUNE_MAX 100000

/**
 * Retention: delete, in one transaction, up to @max_rows (1..
 * VFY_STORE_PRUNE_MAX) results issued and expired before @before (Unix
 * seconds), oldest first, with their revocation-feed entries; *@deleted
 * (optional) counts them. Call again until it deletes fewer than @max_rows:
 * batches keep each write short when verifierd shares the database (its
 * commits wait for each batch). An expired result can no longer be relied
 * on, so nothing is lost for relying parties, but GET /v1/results/{id}
 * answers 404 for it afterwards. A restarted verifierd reads back the
 * nonces of the last VFY_NONCE_MAX_TTL seconds of results, so @before must
 * be at least that far in the past (store clock): otherwise
 * VFY_E_INVALID_ARG. An audit row records each batch that deleted
 * anything.
 */
VFY_EXPORT vfy_rc vfy_store_results_prune(vfy_store *st, int64_t before, size_t max_rows,
                                          size_t *deleted) VFY_MUST_CHECK;

typedef struct vfy_store_result {
    char id[VFY_STORE_RESULT_ID_MAX + 1];
    char attester[VFY_STORE_NAME_MAX + 1];
    char status[VFY_STORE_STATUS_MAX + 1];
    int64_t iat, exp;
    int revoked;                        /* 1: state "revoked" */
    int64_t revoked_at;                 /* 0 unless revoked */
    char reason[VFY_STORE_REASON_MAX + 1];
} vfy_store_result;

/** Read result @id into @out (zeroed on failure). VFY_E_NOT_FOUND. */
VFY_EXPORT vfy_rc vfy_store_result_get(vfy_store *st, const char *id,
                                       vfy_store_result *out) VFY_MUST_CHECK;

/** One revocation-feed entry. */
typedef struct vfy_store_revocation {
    uint64_t cursor;                    /* strictly increasing */
    int64_t at;
    char result_id[VFY_STORE_RESULT_ID_MAX + 1];
    char reason[VFY_STORE_REASON_MAX + 1];
} vfy_store_revocation;

/**
 * Up to @max feed entries with cursor > @after, in cursor order. *@out
 * (owned by the caller, freed with vfy_free; NULL when *@n is 0);
 * *@cursor is the last entry's cursor, or @after when there is none.
 */
VFY_EXPORT vfy_rc vfy_store_revocations(vfy_store *st, uint64_t after, size_t max,
                                        vfy_store_revocation **out, size_t *n,
                                        uint64_t *cursor) VFY_MUST_CHECK;

/**
 * The last cursor the feed has given (*@head; 0 for a feed never written),
 * also when its entries were pruned since. A client's cursor above it was
 * not given by this database: the feed was reset (a database replaced or
 * restored from a backup) and the client must read it again from 0.
 */
VFY_EXPORT vfy_rc vfy_store_feed_head(vfy_store *st, uint64_t *head) VFY_MUST_CHECK;

/* ------------------------------------------------------------------ */
/* Bundles, listings, parsing                                           */

/**
 * Export attesters, PCR sets, components and policies (not tokens, results
 * or state) as the JSON bundle of schemas/refvalues.schema.json, in a
 * deterministic order. *@json is owned by the caller (vfy_free).
 */
VFY_EXPORT vfy_rc vfy_store_export(vfy_store *st, char **json) VFY_MUST_CHECK;

/**
 * vfy_store_export(), refusing a bundle of more than @max bytes: import
 * takes at most VFY_STORE_BUNDLE_MAX, and an export it refuses cannot
 * restore or copy the store (at about a million attesters the export grew
 * past it). On success *@json as for vfy_store_export() and *@len
 * (optional) its strlen. A bundle over @max is VFY_E_TOO_LARGE with *@json
 * NULL, *@len the size it had and vfy_store_errmsg() "the bundle is N
 * bytes, more than MAX"; pass VFY_STORE_BUNDLE_MAX, less what the caller
 * adds around it (verifyctl writes a newline after it). Since 0.2.7.
 */
VFY_EXPORT vfy_rc vfy_store_export_max(vfy_store *st, size_t max, char **json,
                                       size_t *len) VFY_MUST_CHECK;

/** Counts of what vfy_store_import() added or changed. */
typedef struct vfy_store_import_stats {
    size_t policies, attesters, pcrs, components, revoked;
} vfy_store_import_stats;

/**
 * Admin change: import a bundle (@len bytes) in one transaction with one
 * audit row: policies, then attesters, PCR values, components. Identical
 * values are no-ops; a value marked "revoked" revokes a stored approved
 * one (and dependent results); any conflict, or a malformed bundle
 * (VFY_E_BUNDLE), leaves the store unchanged. @stats is optional.
 */
VFY_EXPORT vfy_rc vfy_store_import(vfy_store *st, const char *json, size_t len,
                                   vfy_store_import_stats *stats) VFY_MUST_CHECK;

/**
 * List a table as a JSON array (*@json owned by the caller, vfy_free):
 * @what is "attesters", "pcrs", "components", "policies", "tokens"
 * (never the hash), "results" or "audit". VFY_E_BAD_KIND for anything else.
 */
VFY_EXPORT vfy_rc vfy_store_list_json(vfy_store *st, const char *what, char **json) VFY_MUST_CHECK;

/**
 * One page of the same listing: the rows @offset .. @offset + @limit - 1
 * in the listing's order (@limit 0: every row from @offset on), so that a
 * table of millions of results or audit rows is never built in memory at
 * once. *@more (optional) is 1 when rows follow the page.
 */
VFY_EXPORT vfy_rc vfy_store_list_json_page(vfy_store *st, const char *what, uint64_t offset,
                                           size_t limit, char **json,
                                           int *more) VFY_MUST_CHECK;

/**
 * Called by vfy_store_list_each with one row: a JSON object, as
 * vfy_store_list_json prints each element (tab-indented, one "key":\tvalue
 * per line), valid for the call only. Return 0 to go on, nonzero to stop.
 */
typedef int (*vfy_store_row_fn)(void *ctx, const char *row_json);

/**
 * The same listing row by row, without building it in memory: @fn is
 * called for each of the rows @offset .. @offset + @limit - 1 (@limit 0:
 * every row from @offset on) as SQLite steps through them, so a listing of
 * any size takes the memory of one row. VFY_E_IO (store message "listing
 * ... stopped by its reader") when @fn stopped it; rows already passed
 * stay passed. *@more (optional) as for vfy_store_list_json_page.
 */
VFY_EXPORT vfy_rc vfy_store_list_each(vfy_store *st, const char *what, uint64_t offset,
                                      size_t limit, vfy_store_row_fn fn, void *ctx,
                                      int *more) VFY_MUST_CHECK;

/** One audit-log row as vfy_store_audit_row() identifies it. */
typedef struct vfy_store_audit_id {
    uint64_t gen;        /**< the store generation, read with the row */
    uint64_t seq;        /**< the row's seq; 0: the log has no row (@seq 0 only) */
    int64_t at;          /**< its time, Unix seconds */
    uint8_t sha256[32];  /**< SHA-256 of its actor, action, object and detail, each
                              followed by one 0 byte */
} vfy_store_audit_id;

/**
 * The audit-log row @seq (0: the last row), identified so that another copy
 * of the store can be checked for it, and the store generation, both read
 * in one snapshot, into *@out. The log is append-only and every admin
 * change writes a row in the transaction that raises the generation, so a
 * copy restored from a backup lacks the rows written after the backup
 * (seq numbers are then given again, to other rows: compare at and sha256
 * too), and another database holds other rows. With @seq 0 an empty log
 * is VFY_OK with out->seq 0, at 0 and sha256 zeros; a @seq the log lacks is
 * VFY_E_NOT_FOUND. *@out is zeroed on failure. verifierd's restore
 * interlock records the last row and checks for it at start. Since 0.2.7.
 */
VFY_EXPORT vfy_rc vfy_store_audit_row(vfy_store *st, uint64_t seq,
                                      vfy_store_audit_id *out) VFY_MUST_CHECK;

/**
 * Parse the YAML that `tpm2_pcrread` prints ("  sha256:" then
 * "    0 : 0x<hex>" lines) into @out (zeroed first, zeroed on failure).
 * The sha1 bank is skipped and counted in *@skipped (optional) — SHA-1 is
 * never accepted; sha256 and sha384 are kept; any other bank, a bad index,
 * a value of the wrong size, a duplicate or an unparsable line is
 * VFY_E_PCR_VALUES (VFY_E_PCR_BANK for an unknown bank). @line (optional)
 * gets the 1-based line of the error.
 */
VFY_EXPORT vfy_rc vfy_store_pcrread_parse(vfy_pcr_values *out, const char *text, size_t len,
                                          size_t *skipped, size_t *line) VFY_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
