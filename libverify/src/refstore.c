/*
 * refstore.c — the reference-value store: opening, schema migrations,
 * transactions, the audit log, the generation counter and shared helpers
 * (DESIGN §6; data model in docs/reference-values.md).
 *
 * Schema versions: PRAGMA user_version = N means migrations[0..N-1] have
 * been applied. A new version appends one step (SQL run in the same
 * transaction as the version bump); steps are never edited once released.
 *
 * Caveats: the handle is not thread-safe (one per thread); SQLite is opened
 * with SQLITE_OPEN_NOMUTEX accordingly.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "refstore_int.h"

#define STORE_BUSY_MS 5000 /* how long a statement waits for a lock */

/* ---------------------------------------------------------------- */
/* Schema                                                             */

static const char schema_v1[] =
    "CREATE TABLE generation ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  gen INTEGER NOT NULL);"
    "INSERT INTO generation (id, gen) VALUES (1, 0);"

    "CREATE TABLE policies ("
    "  row_id INTEGER PRIMARY KEY,"
    "  id TEXT NOT NULL,"
    "  version INTEGER NOT NULL CHECK (version >= 1),"
    "  json TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  UNIQUE (id, version));"

    "CREATE TABLE attesters ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  ak_pem TEXT NOT NULL,"
    "  ak_tpm2b BLOB,"
    "  ak_fingerprint TEXT NOT NULL,"
    "  scheme TEXT NOT NULL,"
    "  refset TEXT NOT NULL,"
    "  policy_id TEXT,"
    "  state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'revoked')),"
    "  created_at INTEGER NOT NULL);"

    "CREATE TABLE pcr_values ("
    "  id INTEGER PRIMARY KEY,"
    "  refset TEXT NOT NULL,"
    "  bank TEXT NOT NULL CHECK (bank IN ('sha256', 'sha384')),"
    "  pcr INTEGER NOT NULL CHECK (pcr BETWEEN 0 AND 23),"
    "  digest TEXT NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'approved' CHECK (state IN ('approved', 'revoked')),"
    "  created_at INTEGER NOT NULL,"
    "  revoked_at INTEGER,"
    "  UNIQUE (refset, bank, pcr, digest));"

    "CREATE TABLE components ("
    "  id INTEGER PRIMARY KEY,"
    "  kind TEXT NOT NULL CHECK (kind IN ('model', 'tool', 'policy', 'context')),"
    "  name TEXT NOT NULL,"
    "  version TEXT NOT NULL DEFAULT '',"
    "  digest TEXT NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'approved' CHECK (state IN ('approved', 'revoked')),"
    "  note TEXT NOT NULL DEFAULT '',"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  UNIQUE (kind, name, version, digest));"
    "CREATE INDEX components_by_digest ON components (kind, digest);"

    "CREATE TABLE tokens ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  role TEXT NOT NULL CHECK (role IN ('attest', 'admin')),"
    "  sha256 TEXT NOT NULL UNIQUE,"
    "  created_at INTEGER NOT NULL,"
    "  revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)));"

    "CREATE TABLE clock_state ("
    "  attester_id INTEGER PRIMARY KEY REFERENCES attesters (id) ON DELETE CASCADE,"
    "  reset_count INTEGER NOT NULL,"
    "  restart_count INTEGER NOT NULL,"
    "  clock INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL);"

    "CREATE TABLE agent_log_head ("
    "  attester_id INTEGER PRIMARY KEY REFERENCES attesters (id) ON DELETE CASCADE,"
    "  epoch INTEGER NOT NULL,"
    "  length INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL);"
    "CREATE TABLE agent_log_entries ("
    "  attester_id INTEGER NOT NULL REFERENCES agent_log_head (attester_id) ON DELETE CASCADE,"
    "  seq INTEGER NOT NULL,"
    "  digest TEXT NOT NULL,"
    "  first_clock INTEGER NOT NULL,"
    "  PRIMARY KEY (attester_id, seq)) WITHOUT ROWID;"

    "CREATE TABLE results ("
    "  id TEXT PRIMARY KEY,"
    "  attester TEXT NOT NULL,"
    "  iat INTEGER NOT NULL,"
    "  exp INTEGER NOT NULL,"
    "  status TEXT NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'valid' CHECK (state IN ('valid', 'revoked')),"
    "  revoked_at INTEGER,"
    "  reason TEXT);"
    "CREATE TABLE result_components ("
    "  result_id TEXT NOT NULL REFERENCES results (id) ON DELETE CASCADE,"
    "  component_id INTEGER NOT NULL REFERENCES components (id),"
    "  PRIMARY KEY (result_id, component_id)) WITHOUT ROWID;"
    "CREATE INDEX result_components_by_ref ON result_components (component_id);"
    "CREATE TABLE result_pcrs ("
    "  result_id TEXT NOT NULL REFERENCES results (id) ON DELETE CASCADE,"
    "  pcr_id INTEGER NOT NULL REFERENCES pcr_values (id),"
    "  PRIMARY KEY (result_id, pcr_id)) WITHOUT ROWID;"
    "CREATE INDEX result_pcrs_by_ref ON result_pcrs (pcr_id);"
    "CREATE TABLE revocations ("
    "  cursor INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  result_id TEXT NOT NULL REFERENCES results (id),"
    "  at INTEGER NOT NULL,"
    "  reason TEXT NOT NULL);"

    "CREATE TABLE audit_log ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  at INTEGER NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  object TEXT NOT NULL,"
    "  detail TEXT NOT NULL DEFAULT '');"
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log"
    "  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log"
    "  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;";

/*
 * v2: manifests the verifier appraised as affirming, per attester (the
 * "known-good" set of the agent history modes, DESIGN §4).
 */
static const char schema_v2[] =
    "CREATE TABLE known_manifests ("
    "  attester_id INTEGER NOT NULL REFERENCES attesters(id) ON DELETE CASCADE,"
    "  digest BLOB NOT NULL CHECK (length(digest) = 32),"
    "  first_at INTEGER NOT NULL,"
    "  PRIMARY KEY (attester_id, digest)) WITHOUT ROWID;"
    "CREATE INDEX results_by_attester ON results (attester, state);"
    /* The nonce each result answered: lets a restarted verifier refuse
     * nonces that were used before it stopped (DESIGN §8 single use). */
    "ALTER TABLE results ADD COLUMN nonce BLOB CHECK (nonce IS NULL OR length(nonce) = 32);"
    "CREATE INDEX results_by_iat ON results (iat);"
    /* The reference rows a result relied on, stored once per distinct set
     * (a fleet shares a handful): one row per result instead of a dozen. */
    "CREATE TABLE refsets ("
    "  id INTEGER PRIMARY KEY,"
    "  hash BLOB NOT NULL UNIQUE CHECK (length(hash) = 32));"
    "CREATE TABLE refset_components ("
    "  refset_id INTEGER NOT NULL REFERENCES refsets(id),"
    "  component_id INTEGER NOT NULL REFERENCES components(id),"
    "  PRIMARY KEY (refset_id, component_id)) WITHOUT ROWID;"
    "CREATE INDEX refset_components_by_ref ON refset_components (component_id);"
    "CREATE TABLE refset_pcrs ("
    "  refset_id INTEGER NOT NULL REFERENCES refsets(id),"
    "  pcr_id INTEGER NOT NULL REFERENCES pcr_values(id),"
    "  PRIMARY KEY (refset_id, pcr_id)) WITHOUT ROWID;"
    "CREATE INDEX refset_pcrs_by_ref ON refset_pcrs (pcr_id);"
    "ALTER TABLE results ADD COLUMN refset_id INTEGER REFERENCES refsets(id);"
    "CREATE INDEX results_by_refset ON results (refset_id);";

/*
 * v3: how long before its expiry an accepted nonce was used, at most. A
 * result recorded with a nonce at iat >= since has nonce expiry - iat <=
 * max_lead (verifierd's nonces begin with their big-endian expiry), so a
 * restarted verifier finds every still-unexpired used nonce among the
 * results of the last max_lead seconds instead of the last day
 * (vfy_store_nonce_window). Results recorded before v3 (iat < since) are
 * not covered: until they are a day old the window stays a day.
 */
static const char schema_v3[] =
    "CREATE TABLE nonce_lead ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  max_lead INTEGER NOT NULL CHECK (max_lead >= 0),"
    "  since INTEGER NOT NULL);"
    "INSERT INTO nonce_lead (id, max_lead, since)"
    "  SELECT 1, 0, coalesce(max(iat) + 1, 0) FROM results;";

/*
 * v4: the reference set of the result that made a manifest known-good, so
 * that revoking one of its components forgets the manifest (DESIGN §4
 * "appraised as affirming before": that appraisal's result is revoked).
 * Rows from before v4 have none and stay known.
 */
static const char schema_v4[] =
    "ALTER TABLE known_manifests ADD COLUMN refset_id INTEGER REFERENCES refsets(id);"
    "CREATE INDEX known_by_refset ON known_manifests (refset_id);";

/* v5: an optional expiry for API tokens (NULL: never; Unix seconds). */
static const char schema_v5[] =
    "ALTER TABLE tokens ADD COLUMN expires_at INTEGER CHECK (expires_at IS NULL OR expires_at > 0);";

/*
 * v6: attesters by AK fingerprint, so that registering an attester can
 * refuse the key of a revoked one (under any name) without a table scan.
 */
static const char schema_v6[] =
    "CREATE INDEX attesters_by_fingerprint ON attesters (ak_fingerprint);";

/*
 * v7: AK fingerprints of the key, not of its encoding. An EC AK registered
 * with a compressed point or explicit curve parameters had the fingerprint
 * of that encoding, so the same key in the usual form passed for another
 * (a revoked attester's key could register again). The step is C code
 * (st_attesters_rekey, run by migrate()): every key is read again, and a
 * fingerprint that differs is rewritten, with the PEM in the usual form.
 * Also an index of revoked attesters by key, for the revoked-key check.
 */
static const char schema_v7[] =
    /* The revoked-key check of every add and import looks up revoked rows
     * by key: through attesters_by_fingerprint it walked every attester
     * sharing the key (a fleet on one key: quadratic registration). */
    "CREATE INDEX attesters_revoked_by_fingerprint ON attesters (ak_fingerprint)"
    "  WHERE state = 'revoked';"
    /* then the keys themselves: st_attesters_rekey, run by migrate() */;

/*
 * v8: the indexes a revocation walks have the expiry. Revoking a component
 * or PCR value (by reference set) or an attester revokes its unexpired
 * valid results; through (refset_id) or (attester, state) it visited every
 * result ever kept, expired ones included (no pruning by default): 20M
 * results held the write lock ~9 s, and attestations waiting on it were
 * 503. With exp in the index it reads the unexpired ones only.
 */
static const char schema_v8[] =
    "DROP INDEX IF EXISTS results_by_refset;"
    "CREATE INDEX results_by_refset ON results (refset_id, exp);"
    "DROP INDEX IF EXISTS results_by_attester;"
    "CREATE INDEX results_by_attester ON results (attester, state, exp);";

/* migrations[i] takes user_version i to i + 1. */
static const char *const migrations[] = {
    schema_v1,
    schema_v2,
    schema_v3,
    schema_v4,
    schema_v5,
    schema_v6,
    schema_v7,
    schema_v8,
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == VFY_STORE_SCHEMA_VERSION,
               "one migration step per schema version");

/* ---------------------------------------------------------------- */
/* Errors and small helpers                                           */

int64_t st_now(const vfy_store *st)
{
    if (st != NULL && st->fixed_now != 0)
        return st->fixed_now;
    return (int64_t)time(NULL);
}

vfy_rc st_err(vfy_store *st, vfy_rc rc, const char *fmt, ...)
{
    va_list ap;

    if (st == NULL)
        return rc;
    va_start(ap, fmt);
    vsnprintf(st->err, sizeof(st->err), fmt, ap);
    va_end(ap);
    return rc;
}

vfy_rc st_db(vfy_store *st, int src, const char *what)
{
    vfy_rc rc;

    switch (src & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return VFY_OK;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        rc = VFY_E_DB_BUSY;
        break;
    case SQLITE_NOMEM:
        rc = VFY_E_NOMEM;
        break;
    case SQLITE_NOTADB:
        /* The page that said so may stay in the page cache (see st_stmt):
         * drop it now when no transaction of ours holds pages, else at the
         * next statement. */
        if (st != NULL && st->db != NULL && st->depth == 0)
            sqlite3_db_release_memory(st->db);
        else if (st != NULL)
            st->drop_cache = 1;
        /* fall through */
    case SQLITE_CANTOPEN:
        rc = VFY_E_DB_OPEN;
        break;
    default:
        rc = VFY_E_DB;
        break;
    }
    if (st != NULL && st->db != NULL)
        return st_err(st, rc, "%s: %s", what, sqlite3_errmsg(st->db));
    return st_err(st, rc, "%s: %s", what, sqlite3_errstr(src));
}

vfy_rc st_stmt(vfy_store *st, enum st_slot slot, const char *sql, sqlite3_stmt **out)
{
    int src;

    *out = NULL;
    /* A page read while the file was not a database (its header damaged,
     * or replaced under us) stays in SQLite's page cache: in WAL mode the
     * cache is dropped only when the log changes, so every later read
     * failed the same way, after the file was good again, until another
     * connection wrote. The next statement drops the cache instead. */
    if (st->drop_cache && st->depth == 0) {
        st->drop_cache = 0;
        sqlite3_db_release_memory(st->db);
    }
    if (st->stmt[slot] == NULL) {
        src = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                                 &st->stmt[slot], NULL);
        if (src != SQLITE_OK)
            return st_db(st, src, "prepare");
        st->stmt_sql[slot] = sql;
    } else if (st->stmt_sql[slot] != sql && strcmp(st->stmt_sql[slot], sql) != 0) {
        /* Two queries sharing one slot would silently run the wrong SQL. */
        return st_err(st, VFY_E_INTERNAL, "statement slot %d used for two queries", (int)slot);
    } else {
        sqlite3_reset(st->stmt[slot]);
        sqlite3_clear_bindings(st->stmt[slot]);
    }
    *out = st->stmt[slot];
    return VFY_OK;
}

vfy_rc st_exec_stmt(vfy_store *st, sqlite3_stmt *s, const char *what)
{
    int src = sqlite3_step(s);
    vfy_rc rc = VFY_OK;

    if (src != SQLITE_DONE && src != SQLITE_ROW)
        rc = st_db(st, src, what);
    sqlite3_reset(s);
    return rc;
}

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Every handle's busy handler, in place of sqlite3_busy_timeout(): SQLite's
 * own sleeps 1, 2, 5, 10, ... 100 ms between tries, so a writer blocked by a
 * transaction of a few milliseconds (a verifyctl batch, an admin import, a
 * group commit) slept well past its end — a 5 ms wait became 8 to 18 ms for
 * every request behind it. This one retries every 50 µs for the first 2 ms
 * of a wait, then every millisecond, up to st->busy_ms in all (5 s; a
 * restarting checkpoint sets its own limit and stays at 50 µs).
 */
static int store_busy(void *arg, int n)
{
    vfy_store *st = arg;
    int64_t now = mono_ns(), waited;

    if (n == 0)
        st->busy_since = now;
    waited = now - st->busy_since;
    if (waited >= (int64_t)st->busy_ms * 1000000)
        return 0;
    usleep(st->busy_fine_only || waited < 2000000 ? 50 : 1000);
    return 1;
}

vfy_rc st_exec(vfy_store *st, const char *sql)
{
    char *msg = NULL;
    int src = sqlite3_exec(st->db, sql, NULL, NULL, &msg);
    vfy_rc rc = VFY_OK;

    if (src != SQLITE_OK) {
        rc = st_db(st, src, "exec");
        if (msg != NULL)
            st_err(st, rc, "%s", msg);
    }
    sqlite3_free(msg);
    return rc;
}

vfy_rc st_writable(vfy_store *st)
{
    if (st->flags & VFY_STORE_READONLY)
        return st_err(st, VFY_E_INVALID_ARG, "store opened read-only");
    return VFY_OK;
}

vfy_rc vfy_store_begin(vfy_store *st)
{
    vfy_rc rc;

    if (st == NULL)
        return VFY_E_INVALID_ARG;
    if ((rc = st_writable(st)) != VFY_OK)
        return rc;
    return st_tx_begin(st);
}

vfy_rc vfy_store_end(vfy_store *st, vfy_rc rc)
{
    if (st == NULL)
        return VFY_E_INVALID_ARG;
    return st_tx_end(st, rc);
}

/* One transaction-control statement, prepared once per connection (an
 * appraisal runs several: re-parsing them with sqlite3_exec showed up in
 * profiles). */
static vfy_rc tx_exec(vfy_store *st, enum st_slot slot, const char *sql)
{
    sqlite3_stmt *s;
    vfy_rc rc = st_stmt(st, slot, sql, &s);

    return rc == VFY_OK ? st_exec_stmt(st, s, sql) : rc;
}

vfy_rc st_tx_begin(vfy_store *st)
{
    vfy_rc rc = st->depth == 0 ? tx_exec(st, SL_TX_BEGIN, "BEGIN IMMEDIATE")
                               : tx_exec(st, SL_TX_SAVEPOINT, "SAVEPOINT vfy_nested");

    if (rc == VFY_OK)
        st->depth++;
    return rc;
}

vfy_rc st_tx_end(vfy_store *st, vfy_rc rc)
{
    vfy_rc crc;
    char saved[sizeof(st->err)];

    if (st->depth <= 0)
        return rc != VFY_OK ? rc : VFY_E_INTERNAL;
    st->depth--;
    if (rc == VFY_OK) {
        crc = st->depth == 0 ? tx_exec(st, SL_TX_COMMIT, "COMMIT")
                             : tx_exec(st, SL_TX_RELEASE, "RELEASE vfy_nested");
        if (crc == VFY_OK)
            return VFY_OK;
        rc = crc;
    }
    /* Keep the message of the first error, not the rollback's. */
    memcpy(saved, st->err, sizeof(saved));
    if (st->depth == 0) {
        (void)tx_exec(st, SL_TX_ROLLBACK, "ROLLBACK");
    } else {
        (void)tx_exec(st, SL_TX_ROLLBACK_TO, "ROLLBACK TO vfy_nested");
        (void)tx_exec(st, SL_TX_RELEASE, "RELEASE vfy_nested");
    }
    memcpy(st->err, saved, sizeof(saved));
    st->gen_valid = 0;
    return rc;
}

int st_tx_lost(vfy_store *st)
{
    if (st->depth == 0 || !sqlite3_get_autocommit(st->db))
        return 0;
    st->depth = 0;
    st->gen_valid = 0;
    return 1;
}

vfy_rc st_audit(vfy_store *st, const char *action, const char *object, const char *detail)
{
    sqlite3_stmt *s;
    vfy_rc rc;

    rc = st_stmt(st, SL_AUDIT,
                 "INSERT INTO audit_log (at, actor, action, object, detail)"
                 " VALUES (?1, ?2, ?3, ?4, ?5)", &s);
    if (rc != VFY_OK)
        return rc;
    sqlite3_bind_int64(s, 1, st_now(st));
    sqlite3_bind_text(s, 2, st->actor, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, action, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, object, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, detail != NULL ? detail : "", -1, SQLITE_STATIC);
    rc = st_exec_stmt(st, s, "audit");
    if (rc != VFY_OK)
        return rc;
    /* At least the clock in microseconds (as feed cursors): a database
     * restored from a backup goes back to an older generation, and counting
     * on from there would soon repeat a value that a reader cached from the
     * lost database — with other data behind it, and the reader's caches
     * (tokens, attesters, reference values) taken for current. */
    rc = st_stmt(st, SL_GEN_BUMP, "UPDATE generation SET gen = max(gen + 1, ?1) WHERE id = 1",
                 &s);
    if (rc != VFY_OK)
        return rc;
    sqlite3_bind_int64(s, 1, st_feed_floor(st));
    /* data_version does not move for this connection's own commits: the
     * cached generation must be read again. */
    st->gen_valid = 0;
    return st_exec_stmt(st, s, "generation");
}

vfy_rc st_check_opt(vfy_store *st, const char *s, size_t max, const char *what)
{
    size_t n, i = 0, k;
    const unsigned char *p = (const unsigned char *)s;

    if (s == NULL)
        return VFY_OK;
    n = strnlen(s, max + 1);
    if (n > max)
        return st_err(st, VFY_E_BAD_NAME, "%s longer than %zu bytes", what, max);
    while (i < n) {
        if (p[i] < 0x20 || p[i] == 0x7f)
            return st_err(st, VFY_E_BAD_NAME, "%s contains a control character", what);
        if (vfy_utf8_seq(p + i, n - i) == 0)
            return st_err(st, VFY_E_BAD_NAME, "%s is not valid UTF-8", what);
        if ((k = vfy_name_char(p + i, n - i)) == 0)
            return st_err(st, VFY_E_BAD_NAME, "%s contains a control or bidirectional "
                          "formatting character", what);
        i += k;
    }
    return VFY_OK;
}

/* 1 if @sql (one parameter, @s) gives a row: the name is stored already. */
static int stored_already(vfy_store *st, const char *sql, const char *s)
{
    sqlite3_stmt *q = NULL;
    int found = 0;

    if (sql != NULL && sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, s, -1, SQLITE_STATIC);
        found = sqlite3_step(q) == SQLITE_ROW;
    }
    sqlite3_finalize(q);
    return found;
}

vfy_rc st_check_new_opt(vfy_store *st, const char *s, size_t max, const char *what,
                        const char *stored_sql)
{
    size_t n, i = 0;
    vfy_rc rc = st_check_opt(st, s, max, what);

    if (rc != VFY_OK || s == NULL || st->importing || stored_already(st, stored_sql, s))
        return rc;
    n = strlen(s);
    while (i < n) {
        uint32_t cp = vfy_name_char_invisible(s + i, n - i);

        if (cp != 0)
            return st_err(st, VFY_E_BAD_NAME, "%s contains an invisible character (U+%04X)",
                          what, (unsigned)cp);
        i += vfy_name_char(s + i, n - i);
    }
    return VFY_OK;
}

vfy_rc st_check_new_name(vfy_store *st, const char *s, size_t max, const char *what,
                         const char *stored_sql)
{
    vfy_rc rc = st_check_name(st, s, max, what);
    size_t n;

    if (rc != VFY_OK || st->importing || stored_already(st, stored_sql, s))
        return rc;
    /* "agent-1 " lists as "agent-1": a second name that reads as the first */
    n = strlen(s);
    if (s[0] == ' ' || s[n - 1] == ' ')
        return st_err(st, VFY_E_BAD_NAME, "%s begins or ends with a space", what);
    return st_check_new_opt(st, s, max, what, NULL);
}

vfy_rc st_check_name(vfy_store *st, const char *s, size_t max, const char *what)
{
    if (s == NULL || s[0] == '\0')
        return st_err(st, VFY_E_BAD_NAME, "%s is empty", what);
    return st_check_opt(st, s, max, what);
}

vfy_rc st_col_text(sqlite3_stmt *s, int col, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    size_t n = (size_t)sqlite3_column_bytes(s, col);

    if (cap == 0)
        return VFY_E_INTERNAL;
    if (t == NULL) {
        dst[0] = '\0';
        return VFY_OK;
    }
    if (n >= cap) {
        dst[0] = '\0';
        return VFY_E_INTERNAL;
    }
    memcpy(dst, t, n);
    dst[n] = '\0';
    return VFY_OK;
}

void st_hex(char *out, const uint8_t *in, size_t n)
{
    static const char hx[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[in[i] >> 4];
        out[2 * i + 1] = hx[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* ---------------------------------------------------------------- */
/* Opening and migrating                                              */

static vfy_rc read_int(vfy_store *st, const char *sql, int64_t *v)
{
    sqlite3_stmt *s = NULL;
    int src = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    vfy_rc rc;

    if (src != SQLITE_OK)
        return st_db(st, src, "prepare");
    src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        *v = sqlite3_column_int64(s, 0);
        rc = VFY_OK;
    } else {
        rc = st_db(st, src == SQLITE_DONE ? SQLITE_ERROR : src, "read");
    }
    sqlite3_finalize(s);
    return rc;
}

/* Apply migrations from the current user_version up to @target, in one transaction. */
static vfy_rc migrate(vfy_store *st, int target)
{
    int64_t v = 0;
    char sql[64];
    vfy_rc rc = st_tx_begin(st);

    if (rc != VFY_OK)
        return rc;
    rc = read_int(st, "PRAGMA user_version", &v);   /* again, under the write lock */
    for (; rc == VFY_OK && v < target; v++) {
        size_t n = 0, unread = 0, shared = 0;

        rc = st_exec(st, migrations[v]);
        if (rc == VFY_OK && v + 1 == 7)
            rc = st_attesters_rekey(st, &n, &unread, &shared);
        if (rc == VFY_OK && (n > 0 || unread > 0)) {
            char detail[256];

            snprintf(detail, sizeof(detail),
                     "schema 7: %zu keys stored again in the usual form; %zu keys unreadable, "
                     "left as they were; %zu active attesters have a revoked attester's key "
                     "(verifyctl init names them)", n, unread, shared);
            rc = st_audit(st, "store.migrate", "attesters", detail);
        }
        if (rc != VFY_OK)
            break;
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", (int)(v + 1));
        rc = st_exec(st, sql);
    }
    return st_tx_end(st, rc);
}

/* Open and configure the connection; no schema checks. */
static vfy_rc open_db(vfy_store *st, const char *path, unsigned flags)
{
    int oflags = SQLITE_OPEN_NOMUTEX;
    int src;
    int64_t ignored;
    vfy_rc rc;

    if (flags & VFY_STORE_READONLY)
        oflags |= SQLITE_OPEN_READONLY;
    else
        oflags |= SQLITE_OPEN_READWRITE | ((flags & VFY_STORE_CREATE) ? SQLITE_OPEN_CREATE : 0);
    src = sqlite3_open_v2(path, &st->db, oflags, NULL);
    if (src != SQLITE_OK) {
        rc = st_db(st, src, path);
        if ((src & 0xff) == SQLITE_CANTOPEN)
            rc = st_err(st, VFY_E_DB_OPEN, "%s: cannot open database file", path);
        return rc;
    }
    sqlite3_extended_result_codes(st->db, 1);
    st->busy_ms = STORE_BUSY_MS;
    sqlite3_busy_handler(st->db, store_busy, st);
    rc = st_exec(st, "PRAGMA foreign_keys = ON");
    if (rc != VFY_OK)
        return rc;
    /* The first real read: "file is not a database" surfaces here. */
    rc = read_int(st, "SELECT count(*) FROM sqlite_master", &ignored);
    if (rc != VFY_OK)
        return rc == VFY_E_DB_BUSY ? rc : st_err(st, VFY_E_DB_OPEN, "%s: %s", path, st->err);
    /* SQLite opens a file it may not write read-only without a word: every
     * write (a result, a used nonce, an admin change) would fail later,
     * while reads and /healthz went on working. */
    if (!(flags & VFY_STORE_READONLY) && sqlite3_db_readonly(st->db, "main") == 1)
        return st_err(st, VFY_E_DB_OPEN, "%s: opened read-only (the file cannot be written)", path);
    return VFY_OK;
}

/*
 * WAL and its sync level, for a writable handle — only once the file is
 * known to be ours (or new): a refused database is left as it was found,
 * journal mode included.
 */
static vfy_rc set_journal(vfy_store *st, unsigned flags)
{
    int64_t ignored;
    vfy_rc rc;

    if (flags & VFY_STORE_READONLY)
        return VFY_OK;
    rc = read_int(st, "PRAGMA journal_mode = WAL", &ignored);
    if (rc == VFY_E_DB) /* journal_mode returns text; read_int reads it as 0 */
        return rc;
    /*
     * In WAL mode NORMAL keeps the database consistent after a killed
     * process and after a power loss; only the last commits before a
     * power loss may be lost. FULL would fsync every commit, which
     * dominated an appraisal's cost (docs/performance.md).
     */
    return st_exec(st, "PRAGMA synchronous = NORMAL");
}

/* The directory of @path into @dir ("." without a slash). */
static void dir_of(const char *path, char *dir, size_t cap)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL)
        snprintf(dir, cap, ".");
    else if (slash == path)
        snprintf(dir, cap, "/");
    else
        snprintf(dir, cap, "%.*s", (int)(slash - path), path);
}

const char *vfy_store_open_why(const char *path, unsigned flags, char *out, size_t cap)
{
    static const char magic[16] = "SQLite format 3";   /* with its NUL */
    char dir[4096], head[16], side[4200];
    struct stat sb, db;
    int fd;
    ssize_t n;

    if (out == NULL || cap == 0)
        return out;
    if (path == NULL) {
        snprintf(out, cap, "no path");
        return out;
    }
    dir_of(path, dir, sizeof(dir));
    if (stat(path, &sb) != 0) {
        int e = errno;

        if (e != ENOENT)
            snprintf(out, cap, "%s", strerror(e));
        else if (stat(dir, &db) != 0 || !S_ISDIR(db.st_mode))
            snprintf(out, cap, "its directory does not exist");
        else if (!(flags & VFY_STORE_CREATE))
            snprintf(out, cap, "no such file: not initialised (verifyctl --db PATH init)");
        else if (access(dir, W_OK | X_OK) != 0)
            snprintf(out, cap, "cannot create it in %s: %s", dir, strerror(errno));
        else
            snprintf(out, cap, "cannot create it");
        return out;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(out, cap, "not a regular file");
        return out;
    }
    if (sb.st_size == 0) {
        snprintf(out, cap, "an empty file: not initialised (verifyctl --db PATH init)");
        return out;
    }
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        snprintf(out, cap, "%s", strerror(errno));
        return out;
    }
    n = read(fd, head, sizeof(head));
    close(fd);
    if (n != (ssize_t)sizeof(head) || memcmp(head, magic, sizeof(magic)) != 0) {
        snprintf(out, cap, "not an SQLite database");
        return out;
    }
    if (!(flags & VFY_STORE_READONLY) && access(path, W_OK) != 0) {
        snprintf(out, cap, "cannot write it: %s", strerror(errno));
        return out;
    }
    for (int i = 0; i < 2; i++) {   /* leftovers another user made, say root */
        snprintf(side, sizeof(side), "%s%s", path, i == 0 ? "-wal" : "-shm");
        if (access(side, F_OK) == 0 && access(side, R_OK | W_OK) != 0) {
            snprintf(out, cap, "%s: %s", side, strerror(errno));
            return out;
        }
    }
    if (access(dir, W_OK | X_OK) != 0) {
        int e = errno;

        if (access(side, F_OK) != 0) {
            snprintf(out, cap, "its directory %s is not writable (%s): SQLite's write-ahead log "
                     "creates PATH-wal and PATH-shm beside it", dir, strerror(e));
            return out;
        }
    }
    {   /* SQLite's own view, read-only: no tables at all is not initialised */
        sqlite3 *sq = NULL;
        sqlite3_stmt *s = NULL;
        int src = sqlite3_open_v2(path, &sq, SQLITE_OPEN_READONLY, NULL), ntab = -1;
        sqlite3_int64 ver = 0;

        if (src == SQLITE_OK &&
            (src = sqlite3_prepare_v2(sq, "PRAGMA user_version", -1, &s, NULL)) == SQLITE_OK &&
            (src = sqlite3_step(s)) == SQLITE_ROW)
            ver = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
        s = NULL;
        if (src == SQLITE_ROW &&
            (src = sqlite3_prepare_v2(sq, "SELECT count(*) FROM sqlite_master", -1, &s, NULL)) ==
                SQLITE_OK &&
            (src = sqlite3_step(s)) == SQLITE_ROW)
            ntab = sqlite3_column_int(s, 0);
        if (ntab > 0 && (ver > VFY_STORE_SCHEMA_VERSION || ver < 0))
            snprintf(out, cap, "schema version %lld, this build knows up to %d (a newer verifierd "
                     "or verifyctl made or migrated it: run that version)", (long long)ver,
                     VFY_STORE_SCHEMA_VERSION);
        else if (ntab > 0 && ver > 0 && ver < VFY_STORE_SCHEMA_VERSION)
            snprintf(out, cap, "schema version %lld, this build needs %d (verifyctl --db PATH "
                     "init migrates it)", (long long)ver, VFY_STORE_SCHEMA_VERSION);
        else if (ntab > 0 && ver == VFY_STORE_SCHEMA_VERSION)
            snprintf(out, cap, "a verifierd database of this build's schema, readable now: the "
                     "error may have passed (a lock held too long, an I/O error)");
        else if (ntab == 0)
            snprintf(out, cap, "an SQLite database with no tables: not initialised "
                     "(verifyctl --db PATH init)");
        else if (ntab > 0)
            snprintf(out, cap, "an SQLite database without verifierd's tables (another program's)");
        else
            snprintf(out, cap, "SQLite: %s", sq != NULL ? sqlite3_errmsg(sq) : sqlite3_errstr(src));
        sqlite3_finalize(s);
        sqlite3_close(sq);
    }
    return out;
}

vfy_rc vfy_store_open(vfy_store **out, const char *path, unsigned flags)
{
    vfy_store *st;
    int64_t v = 0, ntables = 0;
    vfy_rc rc;

    if (out == NULL)
        return VFY_E_INVALID_ARG;
    *out = NULL;
    if (path == NULL || ((flags & VFY_STORE_READONLY) &&
                         (flags & (VFY_STORE_CREATE | VFY_STORE_MIGRATE))))
        return VFY_E_INVALID_ARG;
    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return VFY_E_NOMEM;
    st->flags = flags;
    snprintf(st->actor, sizeof(st->actor), "libverify");
    rc = open_db(st, path, flags);
    if (rc == VFY_OK)
        rc = read_int(st, "PRAGMA user_version", &v);
    if (rc == VFY_OK && v == 0)
        rc = read_int(st, "SELECT count(*) FROM sqlite_master", &ntables);
    if (rc != VFY_OK)
        goto out;
    if (v > VFY_STORE_SCHEMA_VERSION || v < 0) {
        rc = st_err(st, VFY_E_DB_SCHEMA, "%s: schema version %lld, this program knows up to %d",
                    path, (long long)v, VFY_STORE_SCHEMA_VERSION);
    } else if (v == 0 && ntables > 0) {
        rc = st_err(st, VFY_E_DB_OPEN, "%s: not a verifierd database", path);
    } else if (v == 0 && !(flags & VFY_STORE_CREATE)) {
        rc = st_err(st, VFY_E_DB_OPEN, "%s: database not initialised (run verifyctl init)", path);
    } else if (v > 0 && v < VFY_STORE_SCHEMA_VERSION && !(flags & VFY_STORE_MIGRATE)) {
        rc = st_err(st, VFY_E_DB_OLD, "%s: schema version %lld is older than %d (run verifyctl init)",
                    path, (long long)v, VFY_STORE_SCHEMA_VERSION);
    }
    if (rc == VFY_OK)
        rc = set_journal(st, flags);
    if (rc == VFY_OK && v < VFY_STORE_SCHEMA_VERSION)
        rc = migrate(st, VFY_STORE_SCHEMA_VERSION);
    if (rc == VFY_OK)
        rc = read_int(st, "PRAGMA user_version", &v);
    if (rc == VFY_OK)
        st->schema = (int)v;
out:
    if (rc != VFY_OK) {
        vfy_store_close(&st);
        return rc;
    }
    *out = st;
    return VFY_OK;
}

vfy_rc vfy_store_create_at_version(const char *path, int version)
{
    vfy_store *st;
    vfy_rc rc;

    if (path == NULL || version < 0 || version > VFY_STORE_SCHEMA_VERSION)
        return VFY_E_INVALID_ARG;
    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return VFY_E_NOMEM;
    st->flags = VFY_STORE_CREATE;
    rc = open_db(st, path, VFY_STORE_CREATE);
    if (rc == VFY_OK)
        rc = set_journal(st, VFY_STORE_CREATE);
    if (rc == VFY_OK)
        rc = migrate(st, version);
    vfy_store_close(&st);
    return rc;
}

void vfy_store_close(vfy_store **pst)
{
    vfy_store *st;

    if (pst == NULL || *pst == NULL)
        return;
    st = *pst;
    for (size_t i = 0; i < SL_COUNT; i++)
        sqlite3_finalize(st->stmt[i]);
    if (st->db != NULL) {
        if (st->depth > 0)
            (void)sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(st->db);
    }
    free(st);
    *pst = NULL;
}

int vfy_store_schema_version(const vfy_store *st)
{
    return st != NULL ? st->schema : 0;
}

const char *vfy_store_errmsg(const vfy_store *st)
{
    return st != NULL ? st->err : "";
}

vfy_rc vfy_store_set_actor(vfy_store *st, const char *actor)
{
    vfy_rc rc;

    if (st == NULL)
        return VFY_E_INVALID_ARG;
    rc = st_check_name(st, actor, VFY_STORE_ACTOR_MAX, "actor");
    if (rc != VFY_OK)
        return rc;
    snprintf(st->actor, sizeof(st->actor), "%s", actor);
    return VFY_OK;
}

void vfy_store_set_time(vfy_store *st, int64_t now)
{
    if (st != NULL)
        st->fixed_now = now;
}

vfy_rc vfy_store_generation(vfy_store *st, uint64_t *gen)
{
    sqlite3_stmt *s;
    int64_t dv;
    vfy_rc rc;

    if (st == NULL || gen == NULL)
        return VFY_E_INVALID_ARG;
    rc = st_stmt(st, SL_DATA_VERSION, "PRAGMA data_version", &s);
    if (rc != VFY_OK)
        return rc;
    if (sqlite3_step(s) != SQLITE_ROW) {
        rc = st_db(st, sqlite3_errcode(st->db), "data_version");
        sqlite3_reset(s);
        return rc;
    }
    dv = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (st->gen_valid && dv == st->data_version) {
        *gen = st->gen;
        return VFY_OK;
    }
    rc = st_stmt(st, SL_GEN_READ, "SELECT gen FROM generation WHERE id = 1", &s);
    if (rc != VFY_OK)
        return rc;
    if (sqlite3_step(s) != SQLITE_ROW) {
        rc = st_db(st, sqlite3_errcode(st->db), "generation");
        sqlite3_reset(s);
        return rc;
    }
    st->gen = (uint64_t)sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    st->data_version = dv;
    st->gen_valid = 1;
    *gen = st->gen;
    return VFY_OK;
}

vfy_rc vfy_store_set_autocheckpoint(vfy_store *st, int pages)
{
    if (st == NULL || pages < 0)
        return VFY_E_INVALID_ARG;
    if (sqlite3_wal_autocheckpoint(st->db, pages) != SQLITE_OK)
        return st_db(st, sqlite3_errcode(st->db), "wal_autocheckpoint");
    return VFY_OK;
}

static vfy_rc checkpoint(vfy_store *st, int mode, int *wal_pages, int *copied)
{
    int log = 0, done = 0, src;

    if (wal_pages != NULL)
        *wal_pages = 0;
    if (copied != NULL)
        *copied = 0;
    if (st == NULL)
        return VFY_E_INVALID_ARG;
    src = sqlite3_wal_checkpoint_v2(st->db, NULL, mode, &log, &done);
    if (src != SQLITE_OK)
        return st_db(st, src, "checkpoint");
    if (wal_pages != NULL)
        *wal_pages = log > 0 ? log : 0;
    if (copied != NULL)
        *copied = done > 0 ? done : 0;
    return VFY_OK;
}

vfy_rc vfy_store_checkpoint(vfy_store *st, int *wal_pages, int *copied)
{
    return checkpoint(st, SQLITE_CHECKPOINT_PASSIVE, wal_pages, copied);
}

vfy_rc vfy_store_checkpoint_restart(vfy_store *st, int truncate, unsigned wait_ms,
                                    int *wal_pages, int *copied)
{
    vfy_rc rc;

    if (st == NULL)
        return checkpoint(st, 0, wal_pages, copied); /* VFY_E_INVALID_ARG */
    st->busy_ms = wait_ms > 60000 ? 60000 : wait_ms;
    st->busy_fine_only = 1;
    rc = checkpoint(st, truncate ? SQLITE_CHECKPOINT_TRUNCATE : SQLITE_CHECKPOINT_RESTART,
                    wal_pages, copied);
    st->busy_ms = STORE_BUSY_MS;
    st->busy_fine_only = 0;
    return rc;
}

/* ---------------------------------------------------------------- */
/* Kinds and roles                                                    */

static const char *const kind_names[] = {NULL, "model", "tool", "policy", "context"};
static const char *const role_names[] = {NULL, "attest", "admin"};

vfy_rc vfy_component_kind_parse(vfy_component_kind *out, const char *s)
{
    if (out == NULL || s == NULL)
        return VFY_E_INVALID_ARG;
    for (int i = 1; i <= 4; i++) {
        if (strcmp(s, kind_names[i]) == 0) {
            *out = (vfy_component_kind)i;
            return VFY_OK;
        }
    }
    return VFY_E_BAD_KIND;
}

const char *vfy_component_kind_name(vfy_component_kind k)
{
    return (k >= 1 && k <= 4) ? kind_names[k] : NULL;
}

vfy_rc vfy_token_role_parse(vfy_token_role *out, const char *s)
{
    if (out == NULL || s == NULL)
        return VFY_E_INVALID_ARG;
    for (int i = 1; i <= 2; i++) {
        if (strcmp(s, role_names[i]) == 0) {
            *out = (vfy_token_role)i;
            return VFY_OK;
        }
    }
    return VFY_E_BAD_KIND;
}

const char *vfy_token_role_name(vfy_token_role r)
{
    return (r >= 1 && r <= 2) ? role_names[r] : NULL;
}
