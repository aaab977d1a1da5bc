/*
 * refstore_int.h — private to the refstore*.c modules: the handle layout,
 * the statement cache and the helpers they share (transactions, audit,
 * errors, validation). Not installed; nothing here is exported.
 */
#ifndef VERIFY_REFSTORE_INT_H
#define VERIFY_REFSTORE_INT_H

#include <sqlite3.h>
#include <stdarg.h>

#include "internal.h"
#include "verify/refstore.h"

/* One slot per cached prepared statement (see st_stmt()). */
enum st_slot {
    SL_GEN_READ, SL_GEN_BUMP, SL_DATA_VERSION, SL_AUDIT,
    SL_PCR_LOOKUP, SL_PCR_INSERT, SL_PCR_FIND, SL_PCR_REVOKE,
    SL_COMP_LOOKUP, SL_COMP_FIND, SL_COMP_INSERT,
    SL_ATT_GET, SL_ATT_FIND, SL_ATT_BY_FP, SL_ATT_INSERT, SL_ATT_ID, SL_ATT_STATE,
    SL_POL_LATEST, SL_POL_FIND, SL_POL_INSERT, SL_POL_EXISTS,
    SL_TOK_LOOKUP,
    SL_CLOCK_GET, SL_CLOCK_PUT,
    SL_LOG_HEAD_GET, SL_LOG_ENTRIES, SL_LOG_LAST, SL_LOG_INSERT, SL_LOG_HEAD_PUT, SL_LOG_CLEAR,
    SL_RES_INSERT, SL_RES_REF_COMP, SL_RES_REF_PCR, SL_RES_GET,
    SL_REVOKE_FEED_COMP, SL_REVOKE_MARK_COMP, SL_REVOKE_FEED_PCR, SL_REVOKE_MARK_PCR,
    SL_FEED_READ,
    SL_FEED_HEAD,
    SL_KNOWN_GET, SL_KNOWN_PUT, SL_KNOWN_PUT_REFS, SL_KNOWN_FORGET, SL_KNOWN_FORGET_PCR,
    SL_REFSET_FIND, SL_REFSET_INSERT, SL_KNOWN_GET_REFSET, SL_REFSET_ROWS,
    SL_PRUNE_FEED, SL_PRUNE_RESULTS, SL_NONCE_LEAD_PUT, SL_NONCE_LEAD_GET,
    SL_RES_LAST_IAT, SL_ATT_RESET_CLOCK, SL_ATT_RESET_LOG, SL_ATT_SHARERS,
    SL_TX_BEGIN, SL_TX_COMMIT, SL_TX_ROLLBACK, SL_TX_SAVEPOINT, SL_TX_RELEASE, SL_TX_ROLLBACK_TO,
    SL_COUNT
};

struct vfy_store {
    sqlite3 *db;
    unsigned flags;
    int schema;
    int depth;                       /* transaction nesting; 0 = none open */
    int64_t fixed_now;               /* vfy_store_set_time(); 0 = real clock */
    int64_t busy_since;              /* store_busy(): when the current wait began (ns) */
    unsigned busy_ms;                /* store_busy(): longest wait for a lock */
    int busy_fine_only;              /* store_busy(): 50 µs steps throughout */
    int gen_valid;
    uint64_t gen;                    /* cached generation counter */
    int64_t data_version;            /* PRAGMA data_version when gen was cached */
    int drop_cache;                  /* a read saw "not a database": see st_stmt() */
    int importing;                   /* inside vfy_store_import: names as exported */
    char actor[VFY_STORE_ACTOR_MAX + 1];
    char err[512];
    sqlite3_stmt *stmt[SL_COUNT];
    const char *stmt_sql[SL_COUNT];  /* the SQL each slot was prepared from */
};

/* The current time (Unix seconds) as the store sees it. */
int64_t st_now(const vfy_store *st);

/* Record a detail message for vfy_store_errmsg() and return @rc. */
vfy_rc st_err(vfy_store *st, vfy_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Map a SQLite result code to vfy_rc, recording the SQLite message. */
vfy_rc st_db(vfy_store *st, int src, const char *what);

/* The cached statement in @slot, preparing @sql on first use; reset and unbound. */
vfy_rc st_stmt(vfy_store *st, enum st_slot slot, const char *sql, sqlite3_stmt **out);

/* Step a statement that returns no row; reset it afterwards. */
vfy_rc st_exec_stmt(vfy_store *st, sqlite3_stmt *s, const char *what);

/* Run literal SQL (no parameters, no rows). */
vfy_rc st_exec(vfy_store *st, const char *sql);

/*
 * Transactions: the outermost st_tx_begin() is BEGIN IMMEDIATE, inner ones
 * are SAVEPOINTs. st_tx_end() commits (or releases) when @rc is VFY_OK and
 * rolls back otherwise; it returns the final result.
 */
vfy_rc st_tx_begin(vfy_store *st);
vfy_rc st_tx_end(vfy_store *st, vfy_rc rc);

/* Fail with VFY_E_INVALID_ARG on a read-only handle. */
vfy_rc st_writable(vfy_store *st);

/*
 * Append an audit row (actor from the handle) and bump the generation
 * counter; call inside the admin change's transaction.
 */
vfy_rc st_audit(vfy_store *st, const char *action, const char *object, const char *detail);
/* vfy_store_results_prune(), with an audit row per batch or without (the
 * committer's retention runs in every group commit). */
vfy_rc store_results_prune(vfy_store *st, int64_t before, size_t max_rows, int audit,
                           size_t *deleted);

/*
 * Names: 1..@max bytes of valid UTF-8 without control characters.
 * Returns VFY_E_BAD_NAME with a message naming @what.
 */
vfy_rc st_check_name(vfy_store *st, const char *s, size_t max, const char *what);
/* Same rule, but "" and NULL are fine (optional fields). */
vfy_rc st_check_opt(vfy_store *st, const char *s, size_t max, const char *what);
/*
 * The rules for a name or version an add call creates (from 0.2.7): also
 * no character that prints as nothing (vfy_name_char_visible) and, for a
 * name, no space at either end — it would read as another name. Lookups,
 * revocations and imports keep the rules above, so that values stored
 * before (or exported by a store that has them) can still be revoked and
 * copied; inside vfy_store_import (st->importing) these are the same. A
 * name @stored_sql (one parameter: the name; NULL: none) finds stored
 * already is not created: it keeps the rules above too (a value added to a
 * reference set named under the older rule, an attester added again).
 */
vfy_rc st_check_new_name(vfy_store *st, const char *s, size_t max, const char *what,
                         const char *stored_sql);
vfy_rc st_check_new_opt(vfy_store *st, const char *s, size_t max, const char *what,
                        const char *stored_sql);
/* @stored_sql of a reference set name: values or attesters name it. */
#define ST_REFSET_STORED                                                                   \
    "SELECT 1 FROM pcr_values WHERE refset = ?1 UNION ALL"                                 \
    " SELECT 1 FROM attesters WHERE refset = ?1 LIMIT 1"

/* Copy column @col as text into @dst (@cap bytes); truncation is VFY_E_INTERNAL. */
vfy_rc st_col_text(sqlite3_stmt *s, int col, char *dst, size_t cap);

/* Lowercase hex of @n bytes into @out (room 2n+1). */
void st_hex(char *out, const uint8_t *in, size_t n);

/* ---- internal operations without their own transaction or audit row,
 * used by the public wrappers and by the bundle import ---- */

vfy_rc st_policy_put(vfy_store *st, const char *json, size_t len, char *id_out,
                     unsigned *version_out, int *added);
/* *@added: 0 nothing changed, 1 inserted, 2 an active attester revoked
 * (@revoked; its live results are revoked with it). */
/* Schema 7: every attester's fingerprint and PEM from its key in the usual
 * form (a P-256/P-384 key registered with a compressed point or explicit
 * parameters had the fingerprint of that encoding); *changed rows, *unread
 * rows whose key could not be read (left as they were), *shared active
 * attesters with the key of a revoked one afterwards. */
vfy_rc st_attesters_rekey(vfy_store *st, size_t *changed, size_t *unread, size_t *shared);
/* @check_key: refuse the key of a revoked attester (an add; an import
 * restores what it is given). */
vfy_rc st_attester_put(vfy_store *st, const char *name, const uint8_t *ak, size_t ak_len,
                       const char *scheme, const char *refset, const char *policy,
                       int revoked, int check_key, int *added);
vfy_rc st_pcr_put(vfy_store *st, const char *set, vfy_hash_alg bank, unsigned index,
                  const uint8_t *digest, size_t len, int *added);
vfy_rc st_pcr_revoke_row(vfy_store *st, const char *set, vfy_hash_alg bank, unsigned index,
                         const uint8_t *digest, size_t len, int *changed, size_t *results);
/* Whether a row of @kind with @digest is revoked (*found), and as what
 * ("name version", into @as when not NULL). */
vfy_rc st_component_revoked_as(vfy_store *st, vfy_component_kind kind, const uint8_t digest[32],
                               int *found, char *as, size_t cap);
/* The stored component row (@kind, @name, @version, @dstr): *@exists,
 * *@revoked, and whether its note is @note (NULL: "") in *@same_note. */
vfy_rc st_component_row(vfy_store *st, const char *kind, const char *name, const char *version,
                        const char *dstr, const char *note, int *exists, int *revoked,
                        int *same_note);
/* @to_revoke: not checked against revoked digests — a row added to be
 * revoked at once, or an import's approved row (which the import then
 * revokes if its digest is revoked: import_components); otherwise (an add)
 * a digest revoked under any name or version of the kind is refused. */
vfy_rc st_component_put(vfy_store *st, vfy_component_kind kind, const char *name,
                        const char *version, const uint8_t digest[32], const char *note,
                        int to_revoke, int *added);
vfy_rc st_component_revoke_rows(vfy_store *st, vfy_component_kind kind, const char *name,
                                const char *version, const uint8_t *digest,
                                size_t *revoked, size_t *results);
/*
 * 1 if a transaction this handle opened is gone: SQLite may roll back the
 * whole transaction on an I/O, disk-full or out-of-memory error (its
 * "ROLLBACK TO"/"RELEASE" then fail unseen). The handle's nesting is reset
 * to none. 0 while none is open or it is still there.
 */
int st_tx_lost(vfy_store *st);

/*
 * The id of the reference set holding exactly @refs (@nrefs > 0; duplicates
 * merged), created on first use, in the caller's transaction.
 */
vfy_rc st_refset_get(vfy_store *st, const vfy_store_ref *refs, size_t nrefs, int64_t *out);
/*
 * The least cursor the next revocation feed entry may take: the clock in
 * microseconds since the epoch (at most 2^52, so a clock far ahead cannot
 * push cursors past what the API accepts). The feed's INSERTs number their
 * rows from max(the last cursor given, this) (FEED_CURSOR): a database
 * restored from a backup then gives cursors after every one the lost
 * database gave (unless the clock went back), so a relying party's cursor
 * does not skip the revocations made after the restore; an insert of no
 * rows moves nothing, so the 409 of a cursor past a restored feed's end
 * lasts until a revocation is fed.
 */
int64_t st_feed_floor(const vfy_store *st);
#define FEED_CURSOR(order)                                                                   \
    "max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'revocations'), 0), ?4)"      \
    " + row_number() OVER (ORDER BY " order ")"
/* Revoke unexpired valid results relying on component/PCR row @id. */
vfy_rc st_revoke_dependents(vfy_store *st, vfy_store_ref_kind kind, int64_t id,
                            const char *reason, size_t *results);

/* Migrate a new database only up to @version (tests of the migration path). */
vfy_rc vfy_store_create_at_version(const char *path, int version);

#endif
