/*
 * test_refstore.c — the reference-value store (refstore*.c, pcrread_yaml.c)
 * on temporary SQLite files: schema and migrations, admin changes and
 * their idempotence/conflicts, audit append-only, hot-path lookups,
 * revocation of dependent results, verifier state, bundles, the
 * tpm2_pcrread parser.
 */
#include <criterion/criterion.h>
#include <sys/stat.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>

#include "verify/verify.h"
#include "internal.h"
#include "refstore_int.h"
#include <cjson/cJSON.h>

static char dir[64];
static char path[128];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/test_refstore.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/store.db", dir);
}

static void teardown(void)
{
    char cmd[160];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(refstore, .init = setup, .fini = teardown);

static vfy_store *open_new(void)
{
    vfy_store *st = NULL;

    cr_assert_eq(vfy_store_open(&st, path, VFY_STORE_CREATE | VFY_STORE_MIGRATE), VFY_OK);
    cr_assert_not_null(st);
    return st;
}

/* A fresh P-256 public key as PEM (caller frees). */
/* @n bytes of @p (no NUL among them: a BIO's data), NUL-terminated. */
static char *bytes_dup(const char *p, size_t n)
{
    char *s = malloc(n + 1);

    cr_assert_not_null(s);
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* A bundle with one active attester @name registered with @pem. */
static void attester_bundle(char *out, size_t cap, const char *name, const char *pem)
{
    char esc[2048];
    size_t o = 0;

    for (size_t i = 0; pem[i] != '\0' && o + 3 < sizeof(esc); i++) {
        if (pem[i] == '\n') {
            esc[o++] = '\\';
            esc[o++] = 'n';
        } else {
            esc[o++] = pem[i];
        }
    }
    esc[o] = '\0';
    snprintf(out, cap,
             "{\"format\":\"verifierd-refvalues\",\"version\":1,\"attesters\":[{\"name\":"
             "\"%s\",\"ak_pem\":\"%s\",\"scheme\":\"ecdsa-sha256\",\"refset\":\"default\","
             "\"state\":\"active\"}]}", name, esc);
}

static char *new_ec_pem(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    BIO *b = BIO_new(BIO_s_mem());
    char *data, *out;
    long n;

    cr_assert_not_null(k);
    cr_assert_eq(PEM_write_bio_PUBKEY(b, k), 1);
    n = BIO_get_mem_data(b, &data);
    out = calloc(1, (size_t)n + 1);
    memcpy(out, data, (size_t)n);
    BIO_free(b);
    EVP_PKEY_free(k);
    return out;
}

static int64_t count(const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    int64_t v = -1;

    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static int raw_exec(const char *sql)
{
    sqlite3 *db;
    int rc;

    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

static void fill(uint8_t *d, size_t n, uint8_t v)
{
    memset(d, v, n);
}

/* ---- opening and migrations ---- */

Test(refstore, missing_file_without_create)
{
    vfy_store *st = (vfy_store *)1;

    cr_assert_eq(vfy_store_open(&st, path, 0), VFY_E_DB_OPEN);
    cr_assert_null(st);
    cr_assert_neq(access(path, F_OK), 0, "no file may be created");
}

Test(refstore, create_sets_schema_and_pragmas)
{
    vfy_store *st = open_new();

    cr_assert_eq(vfy_store_schema_version(st), VFY_STORE_SCHEMA_VERSION);
    vfy_store_close(&st);
    cr_assert_null(st);
    vfy_store_close(&st);  /* NULL is fine */
    cr_assert_eq(count("PRAGMA user_version"), VFY_STORE_SCHEMA_VERSION);
    cr_assert_eq(count("SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'"), 1);
    /* The revoked-key check reads revoked attesters by key alone: through
     * the index of every attester by key it walked all sharers of the key,
     * one registration at a time (a fleet on one key: quadratic; 20k
     * attesters took 48 s, with this index 2 s). */
    cr_assert_eq(count("SELECT count(*) FROM pragma_index_info('attesters_revoked_by_fingerprint')"),
                 1);
    cr_assert_eq(count("SELECT count(*) FROM sqlite_master WHERE name ="
                       " 'attesters_revoked_by_fingerprint' AND sql LIKE '%WHERE state = ''revoked''%'"),
                 1, "a partial index of revoked rows");
    /* A revocation reads the unexpired results of a reference set or an
     * attester only (schema 8): without exp in these indexes it visited
     * every result ever kept (20M expired ones held the write lock ~9 s). */
    cr_assert_eq(count("SELECT (SELECT group_concat(name, ',') FROM"
                       " (SELECT name FROM pragma_index_info('results_by_refset') ORDER BY seqno))"
                       " = 'refset_id,exp'"), 1);
    cr_assert_eq(count("SELECT (SELECT group_concat(name, ',') FROM"
                       " (SELECT name FROM pragma_index_info('results_by_attester') ORDER BY seqno))"
                       " = 'attester,state,exp'"), 1);
    /* Reopening without flags works on a current schema. */
    cr_assert_eq(vfy_store_open(&st, path, 0), VFY_OK);
    vfy_store_close(&st);
}

/* Schema 8 rebuilds two results indexes: a schema-7 database where an
 * operator dropped one (performance.md measured dropping
 * results_by_attester) still migrates. */
Test(refstore, migrate_to_8_without_the_old_indexes)
{
    vfy_store *st = open_new();

    vfy_store_close(&st);
    cr_assert_eq(raw_exec("DROP INDEX results_by_refset; DROP INDEX results_by_attester;"
                          " PRAGMA user_version = 7"), SQLITE_OK);
    cr_assert_eq(vfy_store_open(&st, path, VFY_STORE_MIGRATE), VFY_OK, "%s",
                 st != NULL ? vfy_store_errmsg(st) : "");
    cr_assert_eq(count("PRAGMA user_version"), VFY_STORE_SCHEMA_VERSION);
    cr_assert_eq(count("SELECT count(*) FROM sqlite_master WHERE name IN"
                       " ('results_by_refset', 'results_by_attester')"), 2);
    vfy_store_close(&st);
}

/* WAL pages written since the last checkpoint, as a second connection sees them. */
static int wal_pages_now(vfy_store *st)
{
    int wal = -1, copied = -1;

    cr_assert_eq(vfy_store_checkpoint(st, &wal, &copied), VFY_OK);
    cr_assert_eq(copied, wal, "no reader: a passive checkpoint copies everything");
    return wal;
}

/* Models model-FROM .. model-(TO-1), one commit each. */
static void add_models(vfy_store *st, int from, int to)
{
    uint8_t d[32];
    char name[32];

    for (int i = from; i < to; i++) {
        fill(d, sizeof(d), (uint8_t)i);
        d[1] = (uint8_t)(i >> 8);
        snprintf(name, sizeof(name), "model-%d", i);
        cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_MODEL, name, "1", d, NULL, NULL),
                     VFY_OK);
    }
}

Test(refstore, checkpoints_by_hand_when_auto_is_off)
{
    vfy_store *st = open_new(), *ck = NULL;
    int wal = 0, copied = 0;

    cr_assert_eq(vfy_store_set_autocheckpoint(st, -1), VFY_E_INVALID_ARG);
    cr_assert_eq(vfy_store_set_autocheckpoint(NULL, 0), VFY_E_INVALID_ARG);
    cr_assert_eq(vfy_store_checkpoint(NULL, &wal, &copied), VFY_E_INVALID_ARG);
    cr_assert_eq(vfy_store_set_autocheckpoint(st, 0), VFY_OK);
    cr_assert_eq(vfy_store_open(&ck, path, 0), VFY_OK);
    (void)wal_pages_now(ck);   /* start from a checkpointed log */
    /* Enough single-row commits to pass SQLite's default of 1000 pages:
     * with auto-checkpoint off the WAL keeps them all. */
    add_models(st, 0, 600);
    wal = wal_pages_now(ck);
    cr_expect_gt(wal, 1000, "the WAL was checkpointed behind our back (%d pages)", wal);
    /* with the default back on, commits checkpoint again: the log restarts small */
    cr_assert_eq(vfy_store_set_autocheckpoint(st, 1000), VFY_OK);
    add_models(st, 600, 1800);
    cr_expect_lt(wal_pages_now(ck), 1100);
    vfy_store_close(&ck);
    vfy_store_close(&st);
}

static long wal_file_size(void)
{
    char w[160];
    struct stat sb;

    snprintf(w, sizeof(w), "%s-wal", path);
    return stat(w, &sb) == 0 ? (long)sb.st_size : -1;
}

/*
 * The restarting checkpoint: with @truncate it leaves a zero-byte WAL and
 * every row in the database; an open write transaction on another
 * connection makes it give up with VFY_E_DB_BUSY after its wait (and not
 * before: the time is checked), leaving the data alone; once the writer is
 * gone it runs.
 */
Test(refstore, restarting_checkpoint_empties_the_wal_and_waits_for_writers, .timeout = 30)
{
    vfy_store *st = open_new(), *ck = NULL;
    int wal = -1, copied = -1;
    uint8_t d[32];

    cr_assert_eq(vfy_store_checkpoint_restart(NULL, 0, 10, &wal, &copied), VFY_E_INVALID_ARG);
    cr_assert_eq(wal, 0);
    cr_assert_eq(vfy_store_set_autocheckpoint(st, 0), VFY_OK);
    cr_assert_eq(vfy_store_open(&ck, path, 0), VFY_OK);
    add_models(st, 0, 300);
    cr_assert_gt(wal_file_size(), 300L * 4096, "the WAL holds the commits");
    cr_assert_eq(vfy_store_checkpoint_restart(ck, 1, 1000, &wal, &copied), VFY_OK);
    cr_expect_eq(wal_file_size(), 0, "truncated");
    cr_expect_eq(count("SELECT count(*) FROM components WHERE kind = 'model'"), 300);
    add_models(st, 300, 310);
    cr_expect_gt(wal_file_size(), 0, "the next commit writes the WAL from its start");
    /* a write transaction left open on another connection */
    cr_assert_eq(vfy_store_begin(st), VFY_OK);
    fill(d, sizeof(d), 0xee);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_MODEL, "open-tx", "1", d, NULL, NULL),
                 VFY_OK);
    {
        struct timespec t0, t1;
        double ms;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        cr_expect_eq(vfy_store_checkpoint_restart(ck, 0, 50, &wal, &copied), VFY_E_DB_BUSY);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        cr_expect(ms >= 45 && ms < 2000, "gave up after %.1f ms, asked for 50", ms);
    }
    cr_assert_eq(vfy_store_end(st, VFY_OK), VFY_OK);
    cr_expect_eq(vfy_store_checkpoint_restart(ck, 0, 1000, &wal, &copied), VFY_OK);
    cr_expect_eq(copied, wal, "everything copied");
    cr_expect_eq(count("SELECT count(*) FROM components WHERE kind = 'model'"), 311);
    vfy_store_close(&ck);
    vfy_store_close(&st);
}

Test(refstore, every_earlier_version_migrates_to_current)
{
    for (int v = 0; v < VFY_STORE_SCHEMA_VERSION; v++) {
        vfy_store *st = NULL;

        unlink(path);
        cr_assert_eq(vfy_store_create_at_version(path, v), VFY_OK);
        cr_assert_eq(count("PRAGMA user_version"), v);
        if (v == 0)
            cr_assert_eq(vfy_store_open(&st, path, 0), VFY_E_DB_OPEN, "empty needs CREATE");
        else
            cr_assert_eq(vfy_store_open(&st, path, 0), VFY_E_DB_OLD, "v%d needs MIGRATE", v);
        cr_assert_null(st);
        cr_assert_eq(count("PRAGMA user_version"), v, "a refused open must not migrate");
        cr_assert_eq(vfy_store_open(&st, path, VFY_STORE_CREATE | VFY_STORE_MIGRATE), VFY_OK);
        cr_assert_eq(vfy_store_schema_version(st), VFY_STORE_SCHEMA_VERSION);
        vfy_store_close(&st);
        cr_assert_eq(count("PRAGMA user_version"), VFY_STORE_SCHEMA_VERSION);
    }
}

Test(refstore, newer_schema_is_refused)
{
    vfy_store *st = open_new();

    vfy_store_close(&st);
    cr_assert_eq(raw_exec("PRAGMA user_version = 99"), SQLITE_OK);
    cr_assert_eq(vfy_store_open(&st, path, VFY_STORE_CREATE | VFY_STORE_MIGRATE), VFY_E_DB_SCHEMA);
    cr_assert_null(st);
    cr_assert_eq(count("PRAGMA user_version"), 99);
}

/* The database file's journal mode, as another program sees it. */
static void journal_mode(char *out, size_t cap)
{
    sqlite3 *db;
    sqlite3_stmt *q;

    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    snprintf(out, cap, "%s", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    sqlite3_close(db);
}

/* A refused file is left as it was found: not switched to WAL, not grown. */
Test(refstore, foreign_database_is_refused)
{
    vfy_store *st = NULL;
    char mode[16];
    struct stat sb;
    FILE *f;

    cr_assert_eq(raw_exec("CREATE TABLE other (x INTEGER)"), SQLITE_OK);
    cr_assert_eq(vfy_store_open(&st, path, VFY_STORE_CREATE | VFY_STORE_MIGRATE), VFY_E_DB_OPEN);
    cr_assert_eq(count("SELECT count(*) FROM sqlite_master"), 1);
    journal_mode(mode, sizeof(mode));
    cr_expect_str_eq(mode, "delete", "a foreign database keeps its journal mode");
    /* a newer schema: refused, untouched */
    cr_assert_eq(raw_exec("PRAGMA user_version = 99"), SQLITE_OK);
    cr_assert_eq(vfy_store_open(&st, path, VFY_STORE_MIGRATE), VFY_E_DB_SCHEMA);
    journal_mode(mode, sizeof(mode));
    cr_expect_str_eq(mode, "delete", "a newer database keeps its journal mode");
    /* an empty file opened without CREATE: refused, still empty */
    cr_assert_eq(unlink(path), 0);
    cr_assert_not_null(f = fopen(path, "w"));
    fclose(f);
    cr_assert_eq(vfy_store_open(&st, path, 0), VFY_E_DB_OPEN);
    cr_assert_eq(stat(path, &sb), 0);
    cr_expect_eq(sb.st_size, 0, "an empty file stays empty");
}

Test(refstore, not_a_database_file)
{
    vfy_store *st = NULL;
    FILE *f = fopen(path, "w");

    fputs("this is not an SQLite database, just some text long enough to have a header......"
          "..........................................................................\n", f);
    fclose(f);
    cr_assert_eq(vfy_store_open(&st, path, VFY_STORE_CREATE), VFY_E_DB_OPEN);
}

Test(refstore, readonly_refuses_writes)
{
    vfy_store *st = open_new();
    uint8_t d[32];

    vfy_store_close(&st);
    cr_assert_eq(vfy_store_open(&st, path, VFY_STORE_READONLY), VFY_OK);
    fill(d, 32, 1);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_MODEL, "m", NULL, d, NULL, NULL),
                 VFY_E_INVALID_ARG);
    vfy_store_close(&st);
    cr_assert_eq(count("SELECT count(*) FROM components"), 0);
}

/* ---- audit ---- */

Test(refstore, audit_is_append_only_and_written_with_changes)
{
    vfy_store *st = open_new();
    uint8_t d[32];
    int added = -1;

    fill(d, 32, 7);
    cr_assert_eq(vfy_store_set_actor(st, "alice"), VFY_OK);
    cr_assert_eq(vfy_store_set_actor(st, ""), VFY_E_BAD_NAME);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_TOOL, "t", "1", d, "n", &added), VFY_OK);
    cr_assert_eq(added, 1);
    cr_assert_eq(count("SELECT count(*) FROM audit_log WHERE actor = 'alice'"
                       " AND action = 'component.add'"), 1);
    vfy_store_close(&st);
    cr_assert_neq(raw_exec("UPDATE audit_log SET actor = 'mallory'"), SQLITE_OK);
    cr_assert_neq(raw_exec("DELETE FROM audit_log"), SQLITE_OK);
    cr_assert_eq(count("SELECT count(*) FROM audit_log WHERE actor = 'alice'"), 1);
}

/* ---- components ---- */

Test(refstore, component_idempotent_conflict_lookup)
{
    vfy_store *st = open_new();
    vfy_store_component c;
    uint8_t d[32], other[32];
    int added = -1;

    fill(d, 32, 0xab);
    fill(other, 32, 0xcd);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_MODEL, "llama", "3.1", d, "hf", &added),
                 VFY_OK);
    cr_assert_eq(added, 1);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_MODEL, "llama", "3.1", d, "hf", &added),
                 VFY_OK);
    cr_assert_eq(added, 0);
    cr_assert_eq(count("SELECT count(*) FROM components"), 1);
    cr_assert_eq(count("SELECT count(*) FROM audit_log"), 1, "no-op writes no audit row");
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_MODEL, "llama", "3.1", d, "other", NULL),
                 VFY_E_CONFLICT);
    cr_assert_eq(vfy_store_component_add(st, 9, "x", NULL, d, NULL, NULL), VFY_E_BAD_KIND);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_MODEL, "", NULL, d, NULL, NULL),
                 VFY_E_BAD_NAME);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_MODEL, "bad\nname", NULL, d, NULL, NULL),
                 VFY_E_BAD_NAME);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_MODEL, "\xc3\x28", NULL, d, NULL, NULL),
                 VFY_E_BAD_NAME);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_MODEL, "x\xc2\x9b31m", NULL, d, NULL,
                                         NULL), VFY_E_BAD_NAME, "a C1 control (CSI)");
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_MODEL, "a\xe2\x80\xaegnp.exe", NULL, d,
                                         NULL, NULL), VFY_E_BAD_NAME, "a right-to-left override");
    cr_expect_str_eq(vfy_store_errmsg(st),
                     "component name contains a control or bidirectional formatting character");
    cr_assert_eq(count("SELECT count(*) FROM components"), 1);

    cr_assert_eq(vfy_store_component_lookup(st, VFY_COMPONENT_MODEL, d, &c), VFY_OK);
    cr_assert_eq(c.state, VFY_REF_APPROVED);
    cr_assert_str_eq(c.name, "llama");
    cr_assert_str_eq(c.version, "3.1");
    cr_assert_gt(c.id, 0);
    cr_assert_eq(vfy_store_component_lookup(st, VFY_COMPONENT_TOOL, d, &c), VFY_E_NOT_FOUND);
    cr_assert_eq(c.id, 0);
    cr_assert_eq(vfy_store_component_lookup(st, VFY_COMPONENT_MODEL, other, &c), VFY_E_NOT_FOUND);
    vfy_store_close(&st);
}

/* A database restored from a backup taken before a revocation gives its
 * next feed cursors after the clock, so after every cursor the lost
 * database gave: a relying party's cursor from before the restore sees the
 * revocations made after it. (Cursors started at 1, and the restored
 * database gave cursor 1 again: the relying party, already at 1, skipped
 * the new revocation without a word.) */
Test(refstore, feed_cursors_after_a_restore_follow_the_clock)
{
    vfy_store *st = open_new();
    vfy_store_component c;
    vfy_store_revocation *feed = NULL;
    uint8_t d[32];
    size_t nrev = 0, nres = 0, n = 0;
    uint64_t seen = 0, cur = 0;
    char *pem = new_ec_pem(), bak[160], sql[200];

    vfy_store_set_time(st, 1000);
    fill(d, 32, 7);
    cr_assert_eq(vfy_store_attester_add(st, "a1", (const uint8_t *)pem, strlen(pem), NULL, NULL,
                                        NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_TOOL, "t", "1", d, NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_component_lookup(st, VFY_COMPONENT_TOOL, d, &c), VFY_OK);
    {
        vfy_store_ref ref = {VFY_STORE_REF_COMPONENT, c.id};

        cr_assert_eq(vfy_store_result_record(st, "r-1", "a1", 990, 5000, "affirming", &ref, 1),
                     VFY_OK);
    }
    /* the backup, before any revocation */
    snprintf(bak, sizeof(bak), "%s/backup.db", dir);
    snprintf(sql, sizeof(sql), "VACUUM INTO '%s'", bak);
    cr_assert_eq(raw_exec(sql), SQLITE_OK);
    /* a revocation the relying party reads */
    cr_assert_eq(vfy_store_component_revoke(st, VFY_COMPONENT_TOOL, "t", d, &nrev, &nres), VFY_OK);
    cr_assert_eq(nres, 1);
    cr_assert_eq(vfy_store_revocations(st, 0, 10, &feed, &n, &seen), VFY_OK);
    cr_assert_eq(n, 1);
    vfy_free(feed);
    vfy_store_close(&st);
    /* restored, and the same revocation made again a second later */
    cr_assert_eq(rename(bak, path), 0);
    st = open_new();
    vfy_store_set_time(st, 1001);
    {   /* a revocation that feeds nothing leaves the restored feed's end
         * where it is: the relying party's cursor is still past it (409) */
        uint8_t d2[32];
        uint64_t head = 99;

        fill(d2, 32, 8);
        cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_TOOL, "u", "1", d2, NULL, NULL),
                     VFY_OK);
        cr_assert_eq(vfy_store_component_revoke(st, VFY_COMPONENT_TOOL, "u", d2, &nrev, &nres),
                     VFY_OK);
        cr_assert_eq(nres, 0);
        cr_assert_eq(vfy_store_feed_head(st, &head), VFY_OK);
        cr_expect_eq(head, 0, "the restored feed's end, not moved by an empty revocation");
    }
    cr_assert_eq(vfy_store_component_revoke(st, VFY_COMPONENT_TOOL, "t", d, &nrev, &nres), VFY_OK);
    cr_assert_eq(nres, 1, "r-1 is valid again in the restored database, and revoked again");
    cr_assert_eq(vfy_store_revocations(st, seen, 10, &feed, &n, &cur), VFY_OK);
    cr_expect_eq(n, 1, "the relying party's cursor %llu sees the new revocation",
                 (unsigned long long)seen);
    if (n == 1) {
        cr_expect_str_eq(feed[0].result_id, "r-1");
        cr_expect_gt(feed[0].cursor, seen);
    }
    vfy_free(feed);
    vfy_store_close(&st);
    free(pem);
}

Test(refstore, component_revoke_revokes_dependent_unexpired_results)
{
    vfy_store *st = open_new();
    vfy_store_component c;
    vfy_store_result r;
    vfy_store_revocation *feed = NULL;
    uint8_t d[32], d2[32];
    size_t nrev = 0, nres = 0, n = 0;
    uint64_t cur = 0;
    char *pem = new_ec_pem();

    vfy_store_set_time(st, 1000);
    fill(d, 32, 1);
    fill(d2, 32, 2);
    cr_assert_eq(vfy_store_attester_add(st, "a1", (const uint8_t *)pem, strlen(pem), NULL, NULL,
                                        NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_MODEL, "m", "1", d, NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_MODEL, "m", "2", d2, NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_component_lookup(st, VFY_COMPONENT_MODEL, d, &c), VFY_OK);
    {
        vfy_store_ref refs[] = {{VFY_STORE_REF_COMPONENT, c.id}, {VFY_STORE_REF_COMPONENT, c.id}};

        cr_assert_eq(vfy_store_result_record(st, "r-live", "a1", 990, 1300, "affirming", refs, 2),
                     VFY_OK);
        cr_assert_eq(vfy_store_result_record(st, "r-expired", "a1", 600, 900, "affirming", refs, 1),
                     VFY_OK);
        cr_assert_eq(vfy_store_result_record(st, "r-live", "a1", 990, 1300, "affirming", refs, 1),
                     VFY_E_CONFLICT);
    }
    {
        vfy_store_ref bad_ref = {VFY_STORE_REF_PCR, 4242};

        cr_assert_eq(vfy_store_result_record(st, "r-bad", "a1", 990, 1300, "affirming", &bad_ref,
                                             1), VFY_E_NOT_FOUND);
        cr_assert_eq(vfy_store_result_get(st, "r-bad", &r), VFY_E_NOT_FOUND);
    }
    cr_assert_eq(vfy_store_component_revoke(st, VFY_COMPONENT_MODEL, "nope", NULL, &nrev, &nres),
                 VFY_E_NOT_FOUND);
    cr_assert_eq(vfy_store_component_revoke(st, VFY_COMPONENT_MODEL, "m", d, &nrev, &nres), VFY_OK);
    cr_assert_eq(nrev, 1);
    cr_assert_eq(nres, 1);
    cr_assert_eq(vfy_store_component_lookup(st, VFY_COMPONENT_MODEL, d, &c), VFY_OK);
    cr_assert_eq(c.state, VFY_REF_REVOKED);
    cr_assert_eq(vfy_store_component_lookup(st, VFY_COMPONENT_MODEL, d2, &c), VFY_OK);
    cr_assert_eq(c.state, VFY_REF_APPROVED, "only the given digest is revoked");

    cr_assert_eq(vfy_store_result_get(st, "r-live", &r), VFY_OK);
    cr_assert_eq(r.revoked, 1);
    cr_assert_eq(r.revoked_at, 1000);
    cr_assert_not_null(strstr(r.reason, "model m 1 sha256:0101"));
    cr_assert_eq(vfy_store_result_get(st, "r-expired", &r), VFY_OK);
    cr_assert_eq(r.revoked, 0, "expired results are not revoked");

    cr_assert_eq(vfy_store_revocations(st, 0, 10, &feed, &n, &cur), VFY_OK);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(feed[0].result_id, "r-live");
    cr_assert_eq(cur, feed[0].cursor);
    cr_expect_eq(cur, 1000000001u, "the cursor is after the clock (1000 s, in us)");
    vfy_free(feed);
    cr_assert_eq(vfy_store_revocations(st, cur, 10, &feed, &n, &cur), VFY_OK);
    cr_assert_eq(n, 0);
    cr_assert_null(feed);
    {   /* the feed's head: the last cursor given, kept when entries go */
        uint64_t head = 99;

        cr_assert_eq(vfy_store_feed_head(NULL, &head), VFY_E_INVALID_ARG);
        cr_assert_eq(vfy_store_feed_head(st, &head), VFY_OK);
        cr_assert_eq(head, cur);
        cr_assert_eq(raw_exec("DELETE FROM revocations"), SQLITE_OK);
        cr_assert_eq(vfy_store_feed_head(st, &head), VFY_OK);
        cr_assert_eq(head, cur, "a pruned feed keeps its head");
    }

    /* Re-approving a revoked value is refused; revoking again is a no-op. */
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_MODEL, "m", "1", d, NULL, NULL),
                 VFY_E_CONFLICT);
    cr_assert_eq(vfy_store_component_revoke(st, VFY_COMPONENT_MODEL, "m", d, &nrev, &nres), VFY_OK);
    cr_assert_eq(nrev, 0);
    /* Revoking by name takes the remaining version. */
    cr_assert_eq(vfy_store_component_revoke(st, VFY_COMPONENT_MODEL, "m", NULL, &nrev, &nres),
                 VFY_OK);
    cr_assert_eq(nrev, 1);
    free(pem);
    vfy_store_close(&st);
}

/* vfy_store_refset_pcr_count: approved values of one set only. */
Test(refstore, refset_pcr_count)
{
    vfy_store *st = open_new();
    uint8_t d1[32], d2[32];
    size_t n = 99, nres = 0;
    int added = 0;

    fill(d1, 32, 31);
    fill(d2, 32, 32);
    cr_assert_eq(vfy_store_refset_pcr_count(st, "lab", &n), VFY_OK);
    cr_expect_eq(n, 0, "a set no value names");
    cr_assert_eq(vfy_store_pcr_add(st, "lab", VFY_HASH_SHA256, 0, d1, 32, &added), VFY_OK);
    cr_assert_eq(vfy_store_pcr_add(st, "lab", VFY_HASH_SHA256, 1, d2, 32, &added), VFY_OK);
    cr_assert_eq(vfy_store_pcr_add(st, "other", VFY_HASH_SHA256, 0, d1, 32, &added), VFY_OK);
    cr_assert_eq(vfy_store_refset_pcr_count(st, "lab", &n), VFY_OK);
    cr_expect_eq(n, 2);
    cr_assert_eq(vfy_store_pcr_revoke(st, "lab", VFY_HASH_SHA256, 1, d2, 32, &nres), VFY_OK);
    cr_assert_eq(vfy_store_refset_pcr_count(st, "lab", &n), VFY_OK);
    cr_expect_eq(n, 1, "a revoked value does not count");
    cr_expect_eq(vfy_store_refset_pcr_count(st, NULL, &n), VFY_E_INVALID_ARG);
    vfy_store_close(&st);
}

/*
 * Rows of one digest revoked together are counted once each (two versions
 * of one name and a mirror: 3, not 4), and an import whose new entry is a
 * revoked twin of a stored approved row revokes that row with an audit
 * row of its own and counts it.
 */
Test(refstore, same_digest_rows_are_counted_once_and_imports_audit_them)
{
    vfy_store *st = open_new();
    vfy_store_import_stats stats;
    uint8_t d[32], d2[32];
    size_t nrev = 0, nres = 0;
    char bundle[512], hex[65];

    fill(d, 32, 21);
    fill(d2, 32, 22);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_MODEL, "llama", "1", d, NULL, NULL),
                 VFY_OK);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_MODEL, "llama", "2", d, NULL, NULL),
                 VFY_OK);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_MODEL, "llama-mirror", NULL, d, NULL,
                                         NULL), VFY_OK);
    cr_assert_eq(vfy_store_component_revoke(st, VFY_COMPONENT_MODEL, "llama", NULL, &nrev, &nres),
                 VFY_OK);
    cr_expect_eq(nrev, 3, "three rows, each counted once");
    cr_expect_eq(count("SELECT count(*) FROM components WHERE state = 'revoked'"), 3);
    cr_expect_eq(count("SELECT count(*) FROM audit_log WHERE action = 'component.revoke'"
                       " AND detail LIKE '%; 3 rows, %'"), 1, "the audit says 3 rows");

    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_TOOL, "zeta", NULL, d2, NULL, NULL),
                 VFY_OK);
    st_hex(hex, d2, 32);
    snprintf(bundle, sizeof(bundle),
             "{\"format\":\"verifierd-refvalues\",\"version\":1,\"components\":["
             "{\"kind\":\"tool\",\"name\":\"alpha\",\"digest\":\"sha256:%s\","
             "\"state\":\"revoked\"}]}", hex);
    cr_assert_eq(vfy_store_import(st, bundle, strlen(bundle), &stats), VFY_OK, "%s",
                 vfy_store_errmsg(st));
    cr_expect_eq(stats.components, 1, "alpha is new");
    cr_expect_eq(stats.revoked, 1, "zeta, stored approved, revoked by the import");
    cr_expect_eq(count("SELECT count(*) FROM components WHERE name = 'zeta' AND state = 'revoked'"),
                 1);
    cr_expect_eq(count("SELECT count(*) FROM audit_log WHERE action = 'component.revoke'"
                       " AND object = 'tool alpha' AND detail LIKE '%1 stored rows%(by import)'"),
                 1, "audited");
    vfy_store_close(&st);
}

/* Revoking one row revokes its digest for appraisal (a revoked row wins the
 * lookup), so the results that relied on a sibling row with the same digest
 * under another name are revoked too — by admin revoke and by import. */
Test(refstore, component_revoke_reaches_results_of_same_digest_rows)
{
    vfy_store *st = open_new();
    vfy_store_component c;
    vfy_store_result r;
    vfy_store_revocation *feed = NULL;
    uint8_t d[32], d2[32];
    size_t nrev = 0, nres = 0, n = 0;
    uint64_t cur = 0;
    char *pem = new_ec_pem(), bundle[512], hex[65];
    vfy_store_import_stats stats;

    vfy_store_set_time(st, 1000);
    fill(d, 32, 7);
    fill(d2, 32, 8);
    cr_assert_eq(vfy_store_attester_add(st, "a1", (const uint8_t *)pem, strlen(pem), NULL, NULL,
                                        NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_MODEL, "llama", "3.1", d, NULL, NULL),
                 VFY_OK);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_MODEL, "llama-mirror", NULL, d, NULL,
                                         NULL), VFY_OK);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_TOOL, "t", NULL, d, NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_MODEL, "other", NULL, d2, NULL, NULL),
                 VFY_OK);
    cr_assert_eq(vfy_store_component_lookup(st, VFY_COMPONENT_MODEL, d, &c), VFY_OK);
    {
        vfy_store_ref ref = {VFY_STORE_REF_COMPONENT, c.id};   /* the row appraisal used */
        vfy_store_component t, o;

        cr_assert_eq(vfy_store_component_lookup(st, VFY_COMPONENT_TOOL, d, &t), VFY_OK);
        cr_assert_eq(vfy_store_component_lookup(st, VFY_COMPONENT_MODEL, d2, &o), VFY_OK);
        vfy_store_ref tref = {VFY_STORE_REF_COMPONENT, t.id}, oref = {VFY_STORE_REF_COMPONENT, o.id};

        cr_assert_eq(vfy_store_result_record(st, "r1", "a1", 990, 1300, "affirming", &ref, 1),
                     VFY_OK);
        cr_assert_eq(vfy_store_result_record(st, "r-tool", "a1", 990, 1300, "affirming", &tref,
                                             1), VFY_OK);
        cr_assert_eq(vfy_store_result_record(st, "r-other", "a1", 990, 1300, "affirming", &oref,
                                             1), VFY_OK);
    }
    cr_assert_eq(vfy_store_component_revoke(st, VFY_COMPONENT_MODEL, "llama-mirror", NULL, &nrev,
                                            &nres), VFY_OK);
    cr_expect_eq(nrev, 2, "llama-mirror and the row of the same digest, llama 3.1");
    cr_expect_eq(nres, 1, "the result that relied on the same digest under another name");
    cr_expect_eq(count("SELECT count(*) FROM components WHERE kind = 'model' AND state = 'revoked'"),
                 2, "listings and exports say what appraisal does: both rows are revoked");
    cr_expect_eq(count("SELECT count(*) FROM components WHERE name IN ('t', 'other')"
                       " AND state = 'approved'"), 2, "another kind, another digest: untouched");
    cr_assert_eq(vfy_store_component_lookup(st, VFY_COMPONENT_MODEL, d, &c), VFY_OK);
    cr_expect_eq(c.state, VFY_REF_REVOKED, "the digest is revoked for appraisal");
    cr_assert_eq(vfy_store_result_get(st, "r1", &r), VFY_OK);
    cr_expect_eq(r.revoked, 1);
    cr_expect_not_null(strstr(r.reason, "llama-mirror"), "%s", r.reason);
    cr_assert_eq(vfy_store_result_get(st, "r-tool", &r), VFY_OK);
    cr_expect_eq(r.revoked, 0, "another kind with the same digest is another value");
    cr_assert_eq(vfy_store_result_get(st, "r-other", &r), VFY_OK);
    cr_expect_eq(r.revoked, 0);
    cr_assert_eq(vfy_store_revocations(st, 0, 10, &feed, &n, &cur), VFY_OK);
    cr_assert_eq(n, 1);
    cr_expect_str_eq(feed[0].result_id, "r1");
    vfy_free(feed);

    /* Through an import: a new revoked row with d2 under a new name. */
    st_hex(hex, d2, 32);
    snprintf(bundle, sizeof(bundle),
             "{\"format\":\"verifierd-refvalues\",\"version\":1,\"components\":["
             "{\"kind\":\"model\",\"name\":\"other-copy\",\"digest\":\"sha256:%s\","
             "\"state\":\"revoked\"}]}", hex);
    cr_assert_eq(vfy_store_import(st, bundle, strlen(bundle), &stats), VFY_OK, "%s",
                 vfy_store_errmsg(st));
    cr_assert_eq(vfy_store_result_get(st, "r-other", &r), VFY_OK);
    cr_expect_eq(r.revoked, 1, "revoked by an imported revoked row of the same digest");
    free(pem);
    vfy_store_close(&st);
}

/* Results that rely on the same rows share one reference set. */
Test(refstore, results_share_reference_sets)
{
    vfy_store *st = open_new();
    vfy_store_component c1, c2;
    uint8_t d1[32], d2[32], nonce[32];
    uint8_t (*nonces)[32] = NULL;
    size_t nres = 0, n = 0;
    char *pem = new_ec_pem();

    vfy_store_set_time(st, 1000);
    fill(d1, 32, 7);
    fill(d2, 32, 8);
    fill(nonce, 32, 0x5a);
    cr_assert_eq(vfy_store_attester_add(st, "a1", (const uint8_t *)pem, strlen(pem), NULL, NULL,
                                        NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_MODEL, "m", "1", d1, NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_TOOL, "t", "1", d2, NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_component_lookup(st, VFY_COMPONENT_MODEL, d1, &c1), VFY_OK);
    cr_assert_eq(vfy_store_component_lookup(st, VFY_COMPONENT_TOOL, d2, &c2), VFY_OK);
    {
        vfy_store_ref ab[] = {{VFY_STORE_REF_COMPONENT, c1.id}, {VFY_STORE_REF_COMPONENT, c2.id}};
        vfy_store_ref ba[] = {{VFY_STORE_REF_COMPONENT, c2.id}, {VFY_STORE_REF_COMPONENT, c1.id},
                              {VFY_STORE_REF_COMPONENT, c2.id}};
        vfy_store_ref a[] = {{VFY_STORE_REF_COMPONENT, c1.id}};

        cr_assert_eq(vfy_store_result_record_nonce(st, "r1", "a1", 990, 1300, "affirming", ab, 2,
                                                   nonce), VFY_OK);
        cr_assert_eq(vfy_store_result_record(st, "r2", "a1", 990, 1300, "affirming", ba, 3), VFY_OK);
        cr_assert_eq(vfy_store_result_record(st, "r3", "a1", 990, 1300, "affirming", a, 1), VFY_OK);
    }
    cr_assert_eq(count("SELECT count(*) FROM refsets"), 2, "same rows in any order: one set");
    cr_assert_eq(count("SELECT count(DISTINCT refset_id) FROM results"), 2);
    cr_assert_eq(count("SELECT count(*) FROM refset_components"), 3);
    /* The nonce is remembered for a restarted verifier. */
    cr_assert_eq(vfy_store_recent_nonces(st, 900, &nonces, &n), VFY_OK);
    cr_assert_eq(n, 1);
    cr_assert_eq(memcmp(nonces[0], nonce, 32), 0);
    vfy_free(nonces);
    cr_assert_eq(vfy_store_recent_nonces(st, 991, &nonces, &n), VFY_OK);
    cr_assert_eq(n, 0);
    /* Revoking the tool reaches r1 and r2 through their set, not r3. */
    cr_assert_eq(vfy_store_component_revoke(st, VFY_COMPONENT_TOOL, "t", NULL, NULL, &nres), VFY_OK);
    cr_assert_eq(nres, 2);
    cr_assert_eq(count("SELECT count(*) FROM results WHERE state = 'revoked'"), 2);
    cr_assert_eq(count("SELECT count(*) FROM results WHERE id = 'r3' AND state = 'valid'"), 1);
    cr_assert_eq(count("SELECT count(*) FROM revocations"), 2);
    free(pem);
    vfy_store_close(&st);
}

/* component revoke of a name without a digest names in its audit row what
 * it revoked, version and digest, at most 16 of them ("all digests; 2
 * rows" left the audit log without the values). */
Test(refstore, component_revoke_audit_names_the_values)
{
    vfy_store *st = open_new();
    uint8_t d[32];
    char ver[8], want[4096], sql[4400];
    size_t o, nrev = 0;

    fill(d, 32, 0xa1);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_MODEL, "m", "1", d, NULL, NULL), VFY_OK);
    fill(d, 32, 0xb2);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_MODEL, "m", NULL, d, NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_MODEL, "m-mirror", NULL, d, NULL, NULL),
                 VFY_OK);
    cr_assert_eq(vfy_store_component_revoke(st, VFY_COMPONENT_MODEL, "m", NULL, &nrev, NULL),
                 VFY_OK);
    cr_assert_eq(nrev, 3, "both rows of m and the mirror");
    cr_assert_eq(count("SELECT count(*) FROM audit_log WHERE action = 'component.revoke'"
                       " AND object = 'model m' AND detail = 'all digests (1 sha256:"
                       "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1, sha256:"
                       "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2);"
                       " 3 rows, 0 results revoked'"), 1);
    /* with --digest the digest alone, as before */
    fill(d, 32, 0xc3);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_TOOL, "t", NULL, d, NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_component_revoke(st, VFY_COMPONENT_TOOL, "t", d, NULL, NULL), VFY_OK);
    cr_assert_eq(count("SELECT count(*) FROM audit_log WHERE object = 'tool t' AND detail ="
                       " 'sha256:c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3;"
                       " 1 rows, 0 results revoked'"), 1);
    /* 18 versions: 16 named, "and 2 more" */
    for (int i = 0; i < 18; i++) {
        fill(d, 32, (uint8_t)(0x10 + i));
        snprintf(ver, sizeof(ver), "v%02d", i);
        cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_POLICY, "p", ver, d, NULL, NULL),
                     VFY_OK);
    }
    cr_assert_eq(vfy_store_component_revoke(st, VFY_COMPONENT_POLICY, "p", NULL, &nrev, NULL),
                 VFY_OK);
    cr_assert_eq(nrev, 18);
    o = (size_t)snprintf(want, sizeof(want), "all digests (");
    for (int i = 0; i < 16; i++) {
        char hex[65];

        fill(d, 32, (uint8_t)(0x10 + i));
        st_hex(hex, d, 32);
        o += (size_t)snprintf(want + o, sizeof(want) - o, "%sv%02d sha256:%s", i ? ", " : "", i,
                              hex);
    }
    snprintf(want + o, sizeof(want) - o, ", and 2 more); 18 rows, 0 results revoked");
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit_log WHERE action = 'component.revoke'"
             " AND object = 'policy p' AND detail = '%s'", want);
    cr_assert_eq(count(sql), 1, "want %s", want);
    vfy_store_close(&st);
}

/* ---- recent nonces from a bound ---- */

/* A verifierd-shaped nonce: big-endian @exp, then 24 bytes of @fill. */
/* A nonce laid out as verifierd's: its expiry first (vfy_nonce_expiry_prefix). */
static void nonce_exp(uint8_t n[32], uint64_t exp, uint8_t fill_byte)
{
    cr_assert_eq(vfy_nonce_expiry_prefix(exp, n), VFY_OK);
    memset(n + VFY_NONCE_EXPIRY_LEN, fill_byte, 32 - VFY_NONCE_EXPIRY_LEN);
}

static int nonce_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/* *@got (@ngot nonces, freed here) is exactly the multiset @want (@nwant). */
static void expect_nonces(uint8_t (*got)[32], size_t ngot, const uint8_t (*want)[32],
                          size_t nwant, const char *what)
{
    uint8_t (*w)[32] = NULL;

    cr_assert_eq(ngot, nwant, "%s: %zu nonces, want %zu", what, ngot, nwant);
    if (nwant > 0) {
        w = malloc(nwant * 32);
        cr_assert_not_null(w);
        memcpy(w, want, nwant * 32);
        qsort(w, nwant, 32, nonce_cmp);
        qsort(got, ngot, 32, nonce_cmp);
        for (size_t i = 0; i < nwant; i++)
            cr_assert_eq(memcmp(got[i], w[i], 32), 0, "%s: nonce %zu differs", what, i);
    } else {
        cr_assert_null(got, "%s: no nonces but an array", what);
    }
    free(w);
    vfy_free(got);
}

/*
 * Only the nonces at or after the bound (memcmp order) of results issued at
 * or after since: at now = 1000 the bound 1001 (big-endian) keeps exactly
 * the unexpired verifierd nonces, whatever their other 24 bytes.
 */
Test(refstore, recent_nonces_from_bound_and_since)
{
    vfy_store *st = open_new();
    enum { PAST, AT_NOW, NEXT, LIVE, OLD_IAT, AT_SINCE, HIGH, NN };
    static const struct {
        const char *id;
        int64_t iat;
        uint64_t exp;
        uint8_t fill;
    } rows[NN] = {
        [PAST] = {"past", 990, 500, 0x11},         /* expired long ago */
        [AT_NOW] = {"at-now", 995, 1000, 0xff},    /* expires at now: expired, tail 0xff */
        [NEXT] = {"next", 995, 1001, 0x00},        /* first live second, tail 0x00 */
        [LIVE] = {"live", 999, 1060, 0x22},
        [OLD_IAT] = {"old-iat", 899, 5000, 0x33},  /* live, but issued before since */
        [AT_SINCE] = {"at-since", 900, 2000, 0x44}, /* issued exactly at since */
        [HIGH] = {"high", 999, 0xffffffffffu, 0x55}, /* the last expiry a nonce holds: sorts last */
    };
    uint8_t n[NN][32], bound[32], want[8][32];
    uint8_t (*got)[32] = (uint8_t (*)[32])1;
    size_t ngot = 7;

    for (int i = 0; i < NN; i++) {
        nonce_exp(n[i], rows[i].exp, rows[i].fill);
        cr_assert_eq(vfy_store_result_record_nonce(st, rows[i].id, "a1", rows[i].iat,
                                                   rows[i].iat + 60, "affirming", NULL, 0, n[i]),
                     VFY_OK, "%s", rows[i].id);
    }
    /* a result without a nonce, and a second result answering LIVE's nonce */
    cr_assert_eq(vfy_store_result_record_nonce(st, "no-nonce", "a1", 999, 1060, "affirming", NULL,
                                               0, NULL), VFY_OK);
    cr_assert_eq(vfy_store_result_record_nonce(st, "live-again", "a1", 999, 1060, "affirming",
                                               NULL, 0, n[LIVE]), VFY_OK);
    nonce_exp(bound, 1001, 0); /* only its expiry bytes are passed */

    cr_assert_eq(vfy_store_recent_nonces_from(st, 900, bound, VFY_NONCE_EXPIRY_LEN, &got, &ngot), VFY_OK);
    memcpy(want[0], n[NEXT], 32);
    memcpy(want[1], n[LIVE], 32);
    memcpy(want[2], n[LIVE], 32);
    memcpy(want[3], n[HIGH], 32);
    memcpy(want[4], n[AT_SINCE], 32);
    expect_nonces(got, ngot, (const uint8_t (*)[32])want, 5, "since 900, bound 1001");

    /* since is inclusive: one second later drops AT_SINCE */
    cr_assert_eq(vfy_store_recent_nonces_from(st, 901, bound, VFY_NONCE_EXPIRY_LEN, &got, &ngot), VFY_OK);
    expect_nonces(got, ngot, (const uint8_t (*)[32])want, 4, "since 901, bound 1001");

    /* one second earlier in the bound takes AT_NOW in, never PAST */
    nonce_exp(bound, 1000, 0);
    cr_assert_eq(vfy_store_recent_nonces_from(st, 900, bound, VFY_NONCE_EXPIRY_LEN, &got, &ngot), VFY_OK);
    memcpy(want[5], n[AT_NOW], 32);
    expect_nonces(got, ngot, (const uint8_t (*)[32])want, 6, "since 900, bound 1000");

    /* no bound: every nonce since, as vfy_store_recent_nonces */
    memcpy(want[6], n[PAST], 32);
    cr_assert_eq(vfy_store_recent_nonces_from(st, 900, NULL, 0, &got, &ngot), VFY_OK);
    expect_nonces(got, ngot, (const uint8_t (*)[32])want, 7, "since 900, no bound");
    cr_assert_eq(vfy_store_recent_nonces(st, 900, &got, &ngot), VFY_OK);
    expect_nonces(got, ngot, (const uint8_t (*)[32])want, 7, "recent_nonces since 900");
    memcpy(want[7], n[OLD_IAT], 32);
    cr_assert_eq(vfy_store_recent_nonces_from(st, 0, NULL, 0, &got, &ngot), VFY_OK);
    expect_nonces(got, ngot, (const uint8_t (*)[32])want, 8, "since 0, no bound");

    /* a whole nonce as the bound is "at or after": it is returned itself */
    cr_assert_eq(vfy_store_recent_nonces_from(st, 900, n[HIGH], 32, &got, &ngot), VFY_OK);
    expect_nonces(got, ngot, (const uint8_t (*)[32])&n[HIGH], 1, "bound = HIGH");
    /* a longer bound that HIGH is a prefix of sorts after it */
    {
        uint8_t longer[33];

        memcpy(longer, n[HIGH], 32);
        longer[32] = 0;
        cr_assert_eq(vfy_store_recent_nonces_from(st, 900, longer, 33, &got, &ngot), VFY_OK);
        expect_nonces(got, ngot, NULL, 0, "bound = HIGH || 00");
    }
    /* nothing issued since the future */
    cr_assert_eq(vfy_store_recent_nonces_from(st, 1000, NULL, 0, &got, &ngot), VFY_OK);
    expect_nonces(got, ngot, NULL, 0, "since 1000");

    got = (uint8_t (*)[32])1;
    ngot = 7;
    cr_assert_eq(vfy_store_recent_nonces_from(st, 900, NULL, 8, &got, &ngot), VFY_E_INVALID_ARG);
    cr_assert_null(got);
    cr_assert_eq(ngot, 0);
    cr_assert_eq(vfy_store_recent_nonces_from(NULL, 900, bound, VFY_NONCE_EXPIRY_LEN, &got, &ngot),
                 VFY_E_INVALID_ARG);
    cr_assert_eq(vfy_store_recent_nonces_from(st, 900, bound, VFY_NONCE_EXPIRY_LEN, NULL, &ngot), VFY_E_INVALID_ARG);
    cr_assert_eq(vfy_store_recent_nonces_from(st, 900, bound, VFY_NONCE_EXPIRY_LEN, &got, NULL), VFY_E_INVALID_ARG);
    vfy_store_close(&st);
}

/* ---- the used-nonce window (schema 3: nonce_lead) ---- */

static int64_t window_at(vfy_store *st, int64_t now)
{
    int64_t since = -1;

    cr_assert_eq(vfy_store_nonce_window(st, now, &since), VFY_OK);
    return since;
}

static void record_lead(vfy_store *st, const char *id, int64_t iat, uint64_t exp)
{
    uint8_t n[32];

    nonce_exp(n, exp, 0x42);
    cr_assert_eq(vfy_store_result_record_nonce(st, id, "a1", iat, iat + 300, "affirming", NULL, 0,
                                               n), VFY_OK, "%s", id);
}

/* Times near today's, as a store sees them. */
#define T INT64_C(1800000000)

/*
 * A new database covers every result: the window is the largest
 * expiry - iat of a recorded nonce (its lead), clamped to 0..a day, and a
 * rolled-back record does not widen it. With that window,
 * vfy_store_recent_nonces_from finds every unexpired nonce.
 */
Test(refstore, nonce_window_follows_the_longest_lead)
{
    vfy_store *st = open_new();
    uint8_t bound[32], live[2][32];
    uint8_t (*got)[32] = NULL;
    size_t ngot = 0;
    int64_t since = 7;

    cr_assert_eq(count("SELECT since FROM nonce_lead"), 0, "new database: every result covered");
    cr_assert_eq(window_at(st, T + 10000), T + 10000, "no nonce recorded yet");
    record_lead(st, "l60", T + 9000, T + 9060);
    cr_assert_eq(window_at(st, T + 10000), T + 10000 - 60);
    record_lead(st, "l300", T + 9100, T + 9400);
    cr_assert_eq(window_at(st, T + 10000), T + 10000 - 300);
    record_lead(st, "l10", T + 9200, T + 9210);
    record_lead(st, "expired-at-use", T + 9300, T + 9250); /* lead 0 */
    cr_assert_eq(window_at(st, T + 10000), T + 10000 - 300, "shorter leads do not narrow it");
    cr_assert_eq(count("SELECT max_lead FROM nonce_lead"), 300);
    /* a nonce that is not verifierd's: its "expiry" is far off; clamped */
    {
        vfy_store *st2 = NULL;
        uint8_t n[32];

        cr_assert_eq(vfy_store_open(&st2, path, 0), VFY_OK);
        cr_assert_eq(vfy_store_begin(st2), VFY_OK);
        memset(n, 0xee, sizeof(n));
        cr_assert_eq(vfy_store_result_record_nonce(st2, "foreign", "a1", T + 9500, T + 9800, "affirming",
                                                   NULL, 0, n), VFY_OK);
        cr_assert_eq(count("SELECT max_lead FROM nonce_lead"), 300, "not visible before commit");
        /* rolled back with the result it came with */
        cr_assert_eq(vfy_store_end(st2, VFY_E_INTERNAL), VFY_E_INTERNAL);
        cr_assert_eq(count("SELECT count(*) FROM results WHERE id = 'foreign'"), 0);
        cr_assert_eq(window_at(st, T + 10000), T + 10000 - 300, "a rolled-back lead is gone");
        cr_assert_eq(vfy_store_result_record_nonce(st2, "foreign", "a1", T + 9500, T + 9800, "affirming",
                                                   NULL, 0, n), VFY_OK);
        cr_assert_eq(count("SELECT max_lead FROM nonce_lead"), VFY_NONCE_MAX_TTL);
        cr_assert_eq(window_at(st, T + 100000), T + 100000 - (int64_t)VFY_NONCE_MAX_TTL);
        vfy_store_close(&st2);
    }
    /* back to a fresh database: the window finds exactly the live nonces */
    vfy_store_close(&st);
    unlink(path);
    st = open_new();
    record_lead(st, "dead", T + 9690, T + 9750);   /* issued in the window, expired */
    record_lead(st, "live1", T + 9700, T + 9760);  /* lead 60: the longest */
    record_lead(st, "live2", T + 9750, T + 9770);
    record_lead(st, "old", T + 9500, T + 9520);    /* before the window, expired */
    nonce_exp(live[0], T + 9760, 0x42);
    nonce_exp(live[1], T + 9770, 0x42);
    since = window_at(st, T + 9755);
    cr_assert_eq(since, T + 9755 - 60);
    nonce_exp(bound, T + 9756, 0);  /* the expiry bytes: unexpired at T + 9755 */
    cr_assert_eq(vfy_store_recent_nonces_from(st, since, bound, VFY_NONCE_EXPIRY_LEN, &got, &ngot), VFY_OK);
    expect_nonces(got, ngot, (const uint8_t (*)[32])live, 2, "window at T + 9755");
    cr_assert_eq(vfy_store_nonce_window(NULL, 1, &since), VFY_E_INVALID_ARG);
    cr_assert_eq(vfy_store_nonce_window(st, 1, NULL), VFY_E_INVALID_ARG);
    vfy_store_close(&st);
}

/* The newest result's issue time: with the lead, the bound a restart marks
 * its used-nonce cache swept to. */
Test(refstore, results_last_iat)
{
    vfy_store *st = open_new();
    int64_t iat = 7;

    cr_assert_eq(vfy_store_results_last_iat(st, &iat), VFY_OK);
    cr_assert_eq(iat, 0, "no result yet");
    record_lead(st, "a", T + 9000, T + 9060);
    record_lead(st, "b", T + 9300, T + 9310);
    record_lead(st, "c", T + 9100, T + 9400);
    cr_assert_eq(vfy_store_results_last_iat(st, &iat), VFY_OK);
    cr_assert_eq(iat, T + 9300);
    cr_assert_eq(vfy_store_results_last_iat(NULL, &iat), VFY_E_INVALID_ARG);
    cr_assert_eq(vfy_store_results_last_iat(st, NULL), VFY_E_INVALID_ARG);
    vfy_store_close(&st);
}

/*
 * Results recorded before schema 3 carry no lead: until the newest of them
 * is a day old the window stays a day, then it is the lead again.
 */
Test(refstore, nonce_window_after_migration_covers_older_results)
{
    vfy_store *st = NULL;
    uint8_t n[32];
    int64_t day = VFY_NONCE_MAX_TTL;

    cr_assert_eq(vfy_store_create_at_version(path, 2), VFY_OK);
    nonce_exp(n, 5000 + day - 1, 0x17); /* a nonce live for almost a day */
    {
        sqlite3 *db = NULL;
        sqlite3_stmt *s = NULL;

        cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
        cr_assert_eq(sqlite3_prepare_v2(db, "INSERT INTO results (id, attester, iat, exp, status,"
                                            " nonce) VALUES ('v2', 'a1', 5000, 5300,"
                                            " 'affirming', ?1)", -1, &s, NULL), SQLITE_OK);
        sqlite3_bind_blob(s, 1, n, 32, SQLITE_STATIC);
        cr_assert_eq(sqlite3_step(s), SQLITE_DONE);
        sqlite3_finalize(s);
        sqlite3_close(db);
    }
    cr_assert_eq(vfy_store_open(&st, path, VFY_STORE_MIGRATE), VFY_OK);
    cr_assert_eq(count("SELECT since FROM nonce_lead"), 5001, "covered from after the last v2 result");
    cr_assert_eq(count("SELECT max_lead FROM nonce_lead"), 0);
    record_lead(st, "v3", 5010, 5070);
    /* the v2 result's nonce is still live: a day back finds it */
    cr_assert_eq(window_at(st, 6000), 6000 - day);
    cr_assert_eq(window_at(st, 5001 + day - 1), 5001 - 1, "v2 results still younger than a day");
    /* once every v2 result is a day old, the lead is enough */
    cr_assert_eq(window_at(st, 5001 + day), 5001 + day - 60);
    vfy_store_close(&st);
}

/* Results recorded by a v1 library (per-result link rows) are still revoked. */
Test(refstore, v1_result_links_still_revoke)
{
    vfy_store *st = NULL;
    vfy_store_result r;
    size_t nres = 0;

    cr_assert_eq(vfy_store_create_at_version(path, 1), VFY_OK);
    cr_assert_eq(raw_exec("INSERT INTO components (id, kind, name, version, digest, state, note,"
                          " created_at, updated_at) VALUES (1, 'model', 'm', '1', 'sha256:"
                          "0909090909090909090909090909090909090909090909090909090909090909',"
                          " 'approved', '', 1, 1);"
                          "INSERT INTO results (id, attester, iat, exp, status)"
                          " VALUES ('old', 'a1', 990, 5000, 'affirming');"
                          "INSERT INTO result_components (result_id, component_id) VALUES ('old', 1);"),
                 SQLITE_OK);
    cr_assert_eq(vfy_store_open(&st, path, VFY_STORE_MIGRATE), VFY_OK);
    vfy_store_set_time(st, 1000);
    cr_assert_eq(vfy_store_component_revoke(st, VFY_COMPONENT_MODEL, "m", NULL, NULL, &nres),
                 VFY_OK);
    cr_assert_eq(nres, 1);
    cr_assert_eq(vfy_store_result_get(st, "old", &r), VFY_OK);
    cr_assert_eq(r.revoked, 1);
    vfy_store_close(&st);
}

/* Revoking an attester revokes its unexpired results, with feed entries. */
Test(refstore, attester_revoke_revokes_its_results)
{
    vfy_store *st = open_new();
    vfy_store_result r;
    vfy_store_revocation *feed = NULL;
    size_t n = 0;
    uint64_t cur = 0;
    char *pem = new_ec_pem();

    vfy_store_set_time(st, 1000);
    cr_assert_eq(vfy_store_attester_add(st, "a1", (const uint8_t *)pem, strlen(pem), NULL, NULL,
                                        NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_result_record(st, "live", "a1", 990, 1300, "affirming", NULL, 0), VFY_OK);
    cr_assert_eq(vfy_store_result_record(st, "old", "a1", 500, 900, "affirming", NULL, 0), VFY_OK);
    cr_assert_eq(vfy_store_result_record(st, "other", "a2", 990, 1300, "affirming", NULL, 0), VFY_OK);
    cr_assert_eq(vfy_store_attester_revoke(st, "a1"), VFY_OK);
    cr_assert_eq(vfy_store_result_get(st, "live", &r), VFY_OK);
    cr_assert_eq(r.revoked, 1);
    cr_assert_not_null(strstr(r.reason, "attester a1"));
    cr_assert_eq(vfy_store_result_get(st, "old", &r), VFY_OK);
    cr_assert_eq(r.revoked, 0, "expired results stay as they were");
    cr_assert_eq(vfy_store_result_get(st, "other", &r), VFY_OK);
    cr_assert_eq(r.revoked, 0);
    cr_assert_eq(vfy_store_revocations(st, 0, 10, &feed, &n, &cur), VFY_OK);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(feed[0].result_id, "live");
    vfy_free(feed);
    free(pem);
    vfy_store_close(&st);
}

/* A file of the quote fixtures (tests/fixtures/quote/...), NUL-terminated. */
static char *read_quote_fixture(const char *rel, size_t *len)
{
    const char *d = getenv("VFY_FIXTURES");
    char p[512];
    FILE *f;
    char *buf;
    long n;

    cr_assert(d != NULL && *d != 0, "VFY_FIXTURES is not set (run through ctest)");
    snprintf(p, sizeof(p), "%s/quote/%s", d, rel);
    cr_assert_not_null(f = fopen(p, "rb"), "%s", p);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    rewind(f);
    cr_assert_not_null(buf = malloc((size_t)n + 1));
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Importing an attester as revoked does what vfy_store_attester_revoke
 * does: its live results are revoked, with feed entries, and counted. */
Test(refstore, import_revoking_an_attester_revokes_its_results)
{
    vfy_store *st = open_new();
    vfy_store_result r;
    vfy_store_revocation *feed = NULL;
    vfy_store_import_stats stats;
    vfy_store_attester a;
    size_t n = 0;
    uint64_t cur = 0;
    char *pem = new_ec_pem(), *bundle = NULL, *p;

    vfy_store_set_time(st, 1000);
    cr_assert_eq(vfy_store_attester_add(st, "a1", (const uint8_t *)pem, strlen(pem), NULL, NULL,
                                        NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_result_record(st, "live", "a1", 990, 1300, "affirming", NULL, 0), VFY_OK);
    cr_assert_eq(vfy_store_result_record(st, "old", "a1", 500, 900, "affirming", NULL, 0), VFY_OK);
    cr_assert_eq(vfy_store_export(st, &bundle), VFY_OK);
    {
        cJSON *b = cJSON_Parse(bundle), *e, *state;

        cr_assert_not_null(b);
        e = cJSON_GetArrayItem(cJSON_GetObjectItem(b, "attesters"), 0);
        cr_assert_not_null(state = cJSON_GetObjectItem(e, "state"), "%s", bundle);
        cr_assert_str_eq(state->valuestring, "active");
        cJSON_ReplaceItemInObject(e, "state", cJSON_CreateString("revoked"));
        vfy_free(bundle);
        p = cJSON_PrintUnformatted(b);
        cJSON_Delete(b);
        cr_assert_not_null(bundle = strdup(p));
        cJSON_free(p);
    }
    memset(&stats, 0xff, sizeof(stats));
    cr_assert_eq(vfy_store_import(st, bundle, strlen(bundle), &stats), VFY_OK, "%s",
                 vfy_store_errmsg(st));
    cr_expect_eq(stats.attesters, 0, "a revocation is not an addition");
    cr_expect_eq(stats.revoked, 1);
    cr_assert_eq(vfy_store_attester_get(st, "a1", &a), VFY_OK);
    cr_expect_eq(a.revoked, 1);
    vfy_store_attester_clear(&a);
    cr_assert_eq(vfy_store_result_get(st, "live", &r), VFY_OK);
    cr_expect_eq(r.revoked, 1, "a live result of an attester revoked by import");
    cr_expect_not_null(strstr(r.reason, "attester a1"));
    cr_assert_eq(vfy_store_result_get(st, "old", &r), VFY_OK);
    cr_expect_eq(r.revoked, 0, "expired results stay as they were");
    cr_assert_eq(vfy_store_revocations(st, 0, 10, &feed, &n, &cur), VFY_OK);
    cr_assert_eq(n, 1);
    cr_expect_str_eq(feed[0].result_id, "live");
    vfy_free(feed);
    /* the audit log names the revocation, not only the import's counts */
    cr_expect_eq(count("SELECT count(*) FROM audit_log WHERE action = 'attester.revoke'"
                       " AND object = 'attester a1' AND detail = 'by import'"), 1);
    /* importing it again changes nothing */
    cr_assert_eq(vfy_store_import(st, bundle, strlen(bundle), &stats), VFY_OK);
    cr_expect_eq(stats.revoked, 0);
    cr_expect_eq(count("SELECT count(*) FROM audit_log WHERE action = 'attester.revoke'"), 1);
    free(bundle);
    free(pem);
    vfy_store_close(&st);
}

/* An attester entry with ak_public must carry the same key as its ak_pem. */
Test(refstore, import_ak_pem_and_ak_public_must_match)
{
    vfy_store *st = open_new();
    size_t publen = 0, pemlen = 0;
    char *pub = read_quote_fixture("ecc-p256-ecdsa-sha256/ak.pub", &publen);
    char *pem = read_quote_fixture("ecc-p256-ecdsa-sha256/ak.pem", &pemlen);
    char *other = new_ec_pem(), *pub64, *bundle;
    const char *pems[2] = {pem, other};

    (void)pemlen;
    cr_assert_not_null(pub64 = malloc(VFY_B64URL_LEN(publen) + 1));
    cr_assert_eq(vfy_b64url_encode(pub64, VFY_B64URL_LEN(publen) + 1, (const uint8_t *)pub,
                                   publen), VFY_OK);
    for (int k = 1; k >= 0; k--) {
        cJSON *b = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(b, "attesters");
        cJSON *e = cJSON_CreateObject();
        vfy_rc rc;

        cJSON_AddStringToObject(b, "format", "verifierd-refvalues");
        cJSON_AddNumberToObject(b, "version", 1);
        cJSON_AddStringToObject(e, "name", "a1");
        cJSON_AddStringToObject(e, "ak_pem", pems[k]);
        cJSON_AddStringToObject(e, "ak_public", pub64);
        cJSON_AddStringToObject(e, "scheme", "ecdsa-sha256");
        cJSON_AddStringToObject(e, "refset", "default");
        cJSON_AddStringToObject(e, "state", "active");
        cJSON_AddItemToArray(arr, e);
        bundle = cJSON_PrintUnformatted(b);
        cJSON_Delete(b);
        rc = vfy_store_import(st, bundle, strlen(bundle), NULL);
        if (k == 1) {
            cr_expect_eq(rc, VFY_E_BUNDLE, "another key in ak_pem: %s", vfy_rc_name(rc));
            cr_expect_str_eq(vfy_store_errmsg(st),
                             "bundle attesters[0]: ak_pem and ak_public are different keys");
            cr_expect_eq(count("SELECT count(*) FROM attesters"), 0);
        } else {
            cr_expect_eq(rc, VFY_OK, "the same key: %s", vfy_store_errmsg(st));
            cr_expect_eq(count("SELECT count(*) FROM attesters"), 1);
        }
        cJSON_free(bundle);
    }
    free(pub64);
    free(pub);
    free(pem);
    free(other);
    vfy_store_close(&st);
}

/* vfy_store_begin/end: one commit for several writes, or none. */
Test(refstore, grouped_writes_commit_or_roll_back_together)
{
    vfy_store *st = open_new();
    char *pem = new_ec_pem();
    vfy_clock_info ci = {5000, 1, 0, 1}, back;

    cr_assert_eq(vfy_store_attester_add(st, "a1", (const uint8_t *)pem, strlen(pem), NULL, NULL,
                                        NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_begin(st), VFY_OK);
    cr_assert_eq(vfy_store_clock_put(st, "a1", &ci), VFY_OK);
    cr_assert_eq(vfy_store_result_record(st, "x", "a1", 1, 2, "affirming", NULL, 0), VFY_OK);
    cr_assert_eq(vfy_store_end(st, VFY_E_INTERNAL), VFY_E_INTERNAL);
    cr_assert_eq(vfy_store_clock_get(st, "a1", &back), VFY_E_NOT_FOUND, "rolled back");
    cr_assert_eq(count("SELECT count(*) FROM results"), 0);
    cr_assert_eq(vfy_store_begin(st), VFY_OK);
    cr_assert_eq(vfy_store_clock_put(st, "a1", &ci), VFY_OK);
    cr_assert_eq(vfy_store_result_record(st, "x", "a1", 1, 2, "affirming", NULL, 0), VFY_OK);
    cr_assert_eq(vfy_store_end(st, VFY_OK), VFY_OK);
    cr_assert_eq(vfy_store_clock_get(st, "a1", &back), VFY_OK);
    cr_assert_eq(back.clock, 5000);
    cr_assert_eq(count("SELECT count(*) FROM results"), 1);
    free(pem);
    vfy_store_close(&st);
}

/* ---- PCRs ---- */

Test(refstore, pcr_values)
{
    vfy_store *st = open_new();
    vfy_ref_state state;
    vfy_store_result r;
    uint8_t a[48], b[48];
    int64_t id = 0;
    int added = -1;
    size_t nres = 9;
    char *pem = new_ec_pem();

    fill(a, 48, 0x11);
    fill(b, 48, 0x22);
    vfy_store_set_time(st, 5000);
    cr_assert_eq(vfy_store_pcr_add(st, "s", VFY_HASH_SHA256, 0, a, 32, &added), VFY_OK);
    cr_assert_eq(added, 1);
    cr_assert_eq(vfy_store_pcr_add(st, "s", VFY_HASH_SHA256, 0, b, 32, &added), VFY_OK);
    cr_assert_eq(vfy_store_pcr_add(st, "s", VFY_HASH_SHA256, 0, a, 32, &added), VFY_OK);
    cr_assert_eq(added, 0);
    cr_assert_eq(vfy_store_pcr_add(st, "s", VFY_HASH_SHA384, 7, a, 48, &added), VFY_OK);
    cr_assert_eq(vfy_store_pcr_add(st, "s", VFY_HASH_SHA256, 24, a, 32, NULL), VFY_E_PCR_BANK);
    cr_assert_eq(vfy_store_pcr_add(st, "s", VFY_HASH_SHA1, 0, a, 20, NULL), VFY_E_PCR_BANK);
    cr_assert_eq(vfy_store_pcr_add(st, "s", VFY_HASH_SHA384, 0, a, 32, NULL), VFY_E_BAD_DIGEST);
    cr_assert_eq(count("SELECT count(*) FROM pcr_values"), 3);

    cr_assert_eq(vfy_store_pcr_lookup(st, "s", VFY_HASH_SHA256, 0, b, 32, &state, &id), VFY_OK);
    cr_assert_eq(state, VFY_REF_APPROVED);
    cr_assert_gt(id, 0);
    cr_assert_eq(vfy_store_pcr_lookup(st, "s", VFY_HASH_SHA256, 1, b, 32, &state, NULL),
                 VFY_E_NOT_FOUND);
    cr_assert_eq(vfy_store_pcr_lookup(st, "other", VFY_HASH_SHA256, 0, b, 32, &state, NULL),
                 VFY_E_NOT_FOUND);

    cr_assert_eq(vfy_store_attester_add(st, "a", (const uint8_t *)pem, strlen(pem), NULL, "s",
                                        NULL, NULL), VFY_OK);
    {
        vfy_store_ref ref = {VFY_STORE_REF_PCR, id};

        cr_assert_eq(vfy_store_result_record(st, "r1", "a", 4990, 5100, "affirming", &ref, 1),
                     VFY_OK);
    }
    cr_assert_eq(vfy_store_pcr_revoke(st, "s", VFY_HASH_SHA256, 0, b, 32, &nres), VFY_OK);
    cr_assert_eq(nres, 1);
    cr_assert_eq(vfy_store_pcr_lookup(st, "s", VFY_HASH_SHA256, 0, b, 32, &state, NULL), VFY_OK);
    cr_assert_eq(state, VFY_REF_REVOKED);
    cr_assert_eq(vfy_store_result_get(st, "r1", &r), VFY_OK);
    cr_assert_eq(r.revoked, 1);
    cr_assert_eq(vfy_store_pcr_revoke(st, "s", VFY_HASH_SHA256, 3, b, 32, &nres), VFY_E_NOT_FOUND);
    cr_assert_eq(vfy_store_pcr_add(st, "s", VFY_HASH_SHA256, 0, b, 32, NULL), VFY_E_CONFLICT);
    free(pem);
    vfy_store_close(&st);
}

/* vfy_store_pcr_revoke_counted says whether the call changed anything: a
 * value revoked already is 0 and writes nothing (a repeat was reported as
 * revoked again: "revoked":1 from the admin API). */
Test(refstore, pcr_revoke_counted_says_whether_it_changed)
{
    vfy_store *st = open_new();
    uint8_t a[32];
    int64_t id = 0;
    size_t nrev = 9, nres = 9;
    vfy_ref_state state;
    char *pem = new_ec_pem();

    fill(a, 32, 0x33);
    vfy_store_set_time(st, 5000);
    cr_assert_eq(vfy_store_pcr_add(st, "s", VFY_HASH_SHA256, 4, a, 32, NULL), VFY_OK);
    cr_assert_eq(vfy_store_pcr_lookup(st, "s", VFY_HASH_SHA256, 4, a, 32, &state, &id), VFY_OK);
    cr_assert_eq(vfy_store_attester_add(st, "a", (const uint8_t *)pem, strlen(pem), NULL, "s",
                                        NULL, NULL), VFY_OK);
    {
        vfy_store_ref ref = {VFY_STORE_REF_PCR, id};

        cr_assert_eq(vfy_store_result_record(st, "r1", "a", 4990, 5100, "affirming", &ref, 1),
                     VFY_OK);
    }
    cr_assert_eq(vfy_store_pcr_revoke_counted(st, "s", VFY_HASH_SHA256, 4, a, 32, &nrev, &nres),
                 VFY_OK);
    cr_assert_eq(nrev, 1);
    cr_assert_eq(nres, 1);
    cr_assert_eq(count("SELECT count(*) FROM audit_log WHERE action = 'pcr.revoke'"), 1);
    /* again: nothing changes, and it says so */
    nrev = nres = 9;
    cr_assert_eq(vfy_store_pcr_revoke_counted(st, "s", VFY_HASH_SHA256, 4, a, 32, &nrev, &nres),
                 VFY_OK);
    cr_assert_eq(nrev, 0);
    cr_assert_eq(nres, 0);
    cr_assert_eq(count("SELECT count(*) FROM audit_log WHERE action = 'pcr.revoke'"), 1);
    cr_assert_eq(count("SELECT count(*) FROM revocations"), 1);
    /* the counts are optional; the old function is the same without one */
    cr_assert_eq(vfy_store_pcr_revoke_counted(st, "s", VFY_HASH_SHA256, 4, a, 32, NULL, NULL),
                 VFY_OK);
    cr_assert_eq(vfy_store_pcr_revoke(st, "s", VFY_HASH_SHA256, 4, a, 32, &nres), VFY_OK);
    cr_assert_eq(nres, 0);
    /* not stored: VFY_E_NOT_FOUND, the counts zeroed */
    nrev = nres = 9;
    cr_assert_eq(vfy_store_pcr_revoke_counted(st, "s", VFY_HASH_SHA256, 5, a, 32, &nrev, &nres),
                 VFY_E_NOT_FOUND);
    cr_assert_eq(nrev, 0);
    cr_assert_eq(nres, 0);
    cr_assert_str_eq(vfy_store_errmsg(st), "PCR sha256:5 value "
                     "3333333333333333333333333333333333333333333333333333333333333333 not in set s");
    free(pem);
    vfy_store_close(&st);
}

Test(refstore, pcr_import_is_one_transaction)
{
    vfy_store *st = open_new();
    vfy_pcr_values pv;
    size_t added = 9;

    memset(&pv, 0, sizeof(pv));
    pv.nbanks = 1;
    pv.banks[0].alg = VFY_HASH_SHA256;
    pv.banks[0].mask = 0x3;
    fill(pv.banks[0].values[0], 32, 1);
    fill(pv.banks[0].values[1], 32, 2);
    cr_assert_eq(vfy_store_pcr_import(st, "s", &pv, &added), VFY_OK);
    cr_assert_eq(added, 2);
    /* A revoked value makes the whole import fail; nothing else is added. */
    cr_assert_eq(vfy_store_pcr_revoke(st, "s", VFY_HASH_SHA256, 1, pv.banks[0].values[1], 32, NULL),
                 VFY_OK);
    pv.banks[0].mask = 0x7;
    fill(pv.banks[0].values[2], 32, 3);
    cr_assert_eq(vfy_store_pcr_import(st, "s", &pv, &added), VFY_E_CONFLICT);
    cr_assert_eq(added, 0);
    cr_assert_eq(count("SELECT count(*) FROM pcr_values"), 2);
    vfy_store_close(&st);
}

/* vfy_store_refset_pcr_count_bank: approved values of one set and one bank
 * (a set of sha384 values counted 2 with vfy_store_refset_pcr_count, and
 * verifyctl did not warn, though no policy appraises that bank). */
Test(refstore, refset_pcr_count_bank)
{
    vfy_store *st = open_new();
    uint8_t d[48];
    size_t n = 99;

    fill(d, 48, 0x44);
    cr_assert_eq(vfy_store_pcr_add(st, "lab", VFY_HASH_SHA384, 0, d, 48, NULL), VFY_OK);
    cr_assert_eq(vfy_store_pcr_add(st, "lab", VFY_HASH_SHA384, 1, d, 48, NULL), VFY_OK);
    cr_assert_eq(vfy_store_pcr_add(st, "other", VFY_HASH_SHA256, 0, d, 32, NULL), VFY_OK);
    cr_assert_eq(vfy_store_refset_pcr_count(st, "lab", &n), VFY_OK);
    cr_expect_eq(n, 2, "every bank");
    cr_assert_eq(vfy_store_refset_pcr_count_bank(st, "lab", VFY_HASH_SHA256, &n), VFY_OK);
    cr_expect_eq(n, 0, "no sha256 value in lab");
    cr_assert_eq(vfy_store_refset_pcr_count_bank(st, "lab", VFY_HASH_SHA384, &n), VFY_OK);
    cr_expect_eq(n, 2);
    cr_assert_eq(vfy_store_pcr_add(st, "lab", VFY_HASH_SHA256, 3, d, 32, NULL), VFY_OK);
    cr_assert_eq(vfy_store_pcr_add(st, "lab", VFY_HASH_SHA256, 4, d, 32, NULL), VFY_OK);
    cr_assert_eq(vfy_store_pcr_revoke(st, "lab", VFY_HASH_SHA256, 4, d, 32, NULL), VFY_OK);
    cr_assert_eq(vfy_store_refset_pcr_count_bank(st, "lab", VFY_HASH_SHA256, &n), VFY_OK);
    cr_expect_eq(n, 1, "a revoked value does not count");
    n = 99;
    cr_expect_eq(vfy_store_refset_pcr_count_bank(st, "lab", VFY_HASH_SHA1, &n), VFY_E_PCR_BANK);
    cr_expect_eq(n, 0);
    cr_expect_str_eq(vfy_store_errmsg(st), "PCR bank must be sha256 or sha384");
    cr_expect_eq(vfy_store_refset_pcr_count_bank(st, NULL, VFY_HASH_SHA256, &n),
                 VFY_E_INVALID_ARG);
    cr_expect_eq(vfy_store_refset_pcr_count_bank(st, "lab", VFY_HASH_SHA256, NULL),
                 VFY_E_INVALID_ARG);
    vfy_store_close(&st);
}

/* pcr import audits each value it adds as pcr add does (bank, index and
 * digest, "by pcr import"), then the counts; a value already stored gets no
 * row (it wrote "imported 2 of 3 values" alone). */
Test(refstore, pcr_import_audits_each_value)
{
    vfy_store *st = open_new();
    vfy_pcr_values pv;
    size_t added = 0;

    memset(&pv, 0, sizeof(pv));
    pv.nbanks = 2;
    pv.banks[0].alg = VFY_HASH_SHA256;
    pv.banks[0].mask = (1u << 0) | (1u << 7);
    fill(pv.banks[0].values[0], 32, 0x01);
    fill(pv.banks[0].values[7], 32, 0x07);
    pv.banks[1].alg = VFY_HASH_SHA384;
    pv.banks[1].mask = 1u << 23;
    fill(pv.banks[1].values[23], 48, 0x23);
    cr_assert_eq(vfy_store_pcr_add(st, "lab", VFY_HASH_SHA256, 7, pv.banks[0].values[7], 32,
                                   NULL), VFY_OK);
    cr_assert_eq(vfy_store_set_actor(st, "importer"), VFY_OK);
    cr_assert_eq(vfy_store_pcr_import(st, "lab", &pv, &added), VFY_OK);
    cr_assert_eq(added, 2);
    cr_assert_eq(count("SELECT count(*) FROM audit_log WHERE actor = 'importer'"), 3);
    cr_assert_eq(count("SELECT count(*) FROM audit_log WHERE actor = 'importer' AND seq ="
                       " (SELECT min(seq) FROM audit_log WHERE actor = 'importer')"
                       " AND action = 'pcr.add' AND object = 'pcr lab sha256:0' AND detail ="
                       " '0101010101010101010101010101010101010101010101010101010101010101"
                       " (by pcr import)'"), 1);
    cr_assert_eq(count("SELECT count(*) FROM audit_log WHERE actor = 'importer'"
                       " AND action = 'pcr.add' AND object = 'pcr lab sha384:23' AND detail ="
                       " '2323232323232323232323232323232323232323232323232323232323232323"
                       "23232323232323232323232323232323 (by pcr import)'"), 1);
    cr_assert_eq(count("SELECT count(*) FROM audit_log WHERE actor = 'importer'"
                       " AND seq = (SELECT max(seq) FROM audit_log) AND action = 'pcr.import'"
                       " AND object = 'pcr lab' AND detail = 'imported 2 of 3 values'"), 1);
    cr_assert_eq(count("SELECT count(*) FROM audit_log WHERE object = 'pcr lab sha256:7'"), 1,
                 "the value stored before: its pcr add row only");
    /* again: nothing added, nothing audited */
    cr_assert_eq(vfy_store_pcr_import(st, "lab", &pv, &added), VFY_OK);
    cr_assert_eq(added, 0);
    cr_assert_eq(count("SELECT count(*) FROM audit_log WHERE actor = 'importer'"), 3);
    vfy_store_close(&st);
}

/* ---- attesters, policies ---- */

/*
 * Names that read as another (a character that prints as nothing, a space
 * at either end) are refused when an add call creates them (0.2.7), but a
 * value stored under the older rule — by an older version, or by a bundle,
 * which carries names as a store exported them — can still be revoked and
 * copied: the rule applied to lookups made such values unrevocable.
 */
Test(refstore, new_names_visible_old_names_still_revocable)
{
    vfy_store *st = open_new();
    char *pem = new_ec_pem(), bundle[1024], *exported = NULL;
    uint8_t d[32], p[32];
    size_t revoked = 0, results = 0;
    int added = -1;
    const char *zw = "tool\xe2\x80\x8b";   /* "tool" + U+200B */

    fill(d, 32, 0x21);
    fill(p, 32, 0x22);
    /* created by an add call: refused, saying which character */
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_TOOL, zw, NULL, d, NULL, NULL),
                 VFY_E_BAD_NAME);
    cr_assert_str_eq(vfy_store_errmsg(st), "component name contains an invisible character (U+200B)");
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_TOOL, "t", "1\xc2\xad" "0", d, NULL, NULL),
                 VFY_E_BAD_NAME);
    cr_assert_str_eq(vfy_store_errmsg(st),
                     "component version contains an invisible character (U+00AD)");
    cr_assert_eq(vfy_store_pcr_add(st, "prod ", VFY_HASH_SHA256, 0, p, 32, NULL), VFY_E_BAD_NAME);
    cr_assert_str_eq(vfy_store_errmsg(st), "reference set name begins or ends with a space");
    cr_assert_eq(vfy_store_attester_add(st, " a", (const uint8_t *)pem, strlen(pem), NULL, NULL,
                                        NULL, NULL), VFY_E_BAD_NAME);
    cr_assert_eq(count("SELECT count(*) FROM components"), 0);
    /* a note keeps the name rule: U+200D joins emoji and Persian text */
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_TOOL, "t", NULL, d,
                                         "\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb", &added),
                 VFY_OK);
    cr_assert_eq(added, 1);
    /* stored by a bundle (as an older store exported them): imported, and
     * revocable by the same names */
    snprintf(bundle, sizeof(bundle),
             "{\"format\":\"verifierd-refvalues\",\"version\":1,"
             "\"pcrs\":[{\"set\":\"prod \",\"bank\":\"sha256\",\"index\":0,"
             "\"digest\":\"%064x\",\"state\":\"approved\"}],"
             "\"components\":[{\"kind\":\"tool\",\"name\":\"tool\\u200b\",\"version\":\"\","
             "\"digest\":\"sha256:%064x\",\"state\":\"approved\",\"note\":\"\"}]}", 9, 10);
    cr_assert_eq(vfy_store_import(st, bundle, strlen(bundle), NULL), VFY_OK, "%s",
                 vfy_store_errmsg(st));
    /* the import's leniency ends with it: a new name is refused again */
    fill(d, 32, 0x23);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_MODEL, "m\xe2\x80\x8b", NULL, d, NULL,
                                         NULL), VFY_E_BAD_NAME);
    /* a name stored already is not created: values and attesters can be
     * added to the set "prod " and digests to "tool"+U+200B */
    fill(p, 32, 0x24);
    cr_assert_eq(vfy_store_pcr_add(st, "prod ", VFY_HASH_SHA256, 1, p, 32, &added), VFY_OK, "%s",
                 vfy_store_errmsg(st));
    cr_assert_eq(added, 1);
    cr_assert_eq(vfy_store_attester_add(st, "agent-p", (const uint8_t *)pem, strlen(pem), NULL,
                                        "prod ", NULL, &added), VFY_OK, "%s", vfy_store_errmsg(st));
    fill(d, 32, 0x25);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_TOOL, zw, NULL, d, NULL, &added),
                 VFY_OK, "%s", vfy_store_errmsg(st));
    cr_assert_eq(vfy_store_component_revoke(st, VFY_COMPONENT_TOOL, zw, NULL, &revoked, &results),
                 VFY_OK, "%s", vfy_store_errmsg(st));
    cr_assert_eq(revoked, 2);
    memset(p, 0, 32);
    p[31] = 9;
    cr_assert_eq(vfy_store_pcr_revoke(st, "prod ", VFY_HASH_SHA256, 0, p, 32, &results), VFY_OK,
                 "%s", vfy_store_errmsg(st));
    /* and the store with them exports and imports again */
    cr_assert_eq(vfy_store_export(st, &exported), VFY_OK);
    vfy_store_close(&st);
    unlink(path);
    st = open_new();
    cr_assert_eq(vfy_store_import(st, exported, strlen(exported), NULL), VFY_OK, "%s",
                 vfy_store_errmsg(st));
    cr_assert_eq(count("SELECT count(*) FROM components WHERE state = 'revoked'"), 2);
    vfy_free(exported);
    free(pem);
    vfy_store_close(&st);
}

/* "default" unstored is the built-in default@1 to the appraisal
 * (docs/appraisal.md): an attester may name it on a store where nothing is
 * loaded yet (it was refused, though DESIGN's command lines name it); any
 * other policy must be loaded first. */
Test(refstore, attester_policy_default_needs_no_load)
{
    vfy_store *st = open_new();
    vfy_store_attester a;
    char *k = new_ec_pem();

    cr_assert_eq(vfy_store_attester_add(st, "s", (const uint8_t *)k, strlen(k), NULL, NULL,
                                        "strict", NULL), VFY_E_NOT_FOUND);
    cr_assert_str_eq(vfy_store_errmsg(st), "policy strict not found (load it first)");
    cr_assert_eq(vfy_store_attester_add(st, "d", (const uint8_t *)k, strlen(k), NULL, NULL,
                                        "default", NULL), VFY_OK);
    cr_assert_eq(vfy_store_attester_get(st, "d", &a), VFY_OK);
    cr_assert_str_eq(a.policy, "default");
    vfy_store_attester_clear(&a);
    free(k);
    vfy_store_close(&st);
}

Test(refstore, attesters)
{
    vfy_store *st = open_new();
    vfy_store_attester a;
    char *k1 = new_ec_pem(), *k2 = new_ec_pem();
    int added = -1;
    static const char pol[] = "{\"id\":\"p1\",\"version\":1}";

    cr_assert_eq(vfy_store_attester_add(st, "a", (const uint8_t *)k1, strlen(k1), NULL, NULL, "p1",
                                        NULL), VFY_E_NOT_FOUND);
    cr_assert_str_eq(vfy_store_errmsg(st), "policy p1 not found (load it first)");
    cr_assert_eq(vfy_store_policy_load(st, pol, strlen(pol), NULL, NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_attester_add(st, "a", (const uint8_t *)k1, strlen(k1), "ecdsa-sha256",
                                        "set1", "p1", &added), VFY_OK);
    cr_assert_eq(added, 1);
    cr_assert_eq(vfy_store_attester_add(st, "a", (const uint8_t *)k1, strlen(k1), NULL, "set1",
                                        "p1", &added), VFY_OK);
    cr_assert_eq(added, 0);
    cr_assert_eq(vfy_store_attester_add(st, "a", (const uint8_t *)k2, strlen(k2), NULL, "set1",
                                        "p1", NULL), VFY_E_CONFLICT);
    cr_assert_not_null(strstr(vfy_store_errmsg(st), "different attestation key"));
    cr_assert_eq(vfy_store_attester_add(st, "a", (const uint8_t *)k1, strlen(k1), NULL, "set2",
                                        "p1", NULL), VFY_E_CONFLICT);
    cr_assert_eq(vfy_store_attester_add(st, "a", (const uint8_t *)k1, strlen(k1), "ecdsa-sha384",
                                        "set1", "p1", NULL), VFY_E_CONFLICT);
    cr_assert_eq(vfy_store_attester_add(st, "b", (const uint8_t *)"junk", 4, NULL, NULL, NULL,
                                        NULL), VFY_E_AK_MALFORMED);
    cr_assert_eq(vfy_store_attester_add(st, "b", (const uint8_t *)k2, strlen(k2), "ecdsa-sha1",
                                        NULL, NULL, NULL), VFY_E_UNSUPPORTED);
    cr_assert_eq(count("SELECT count(*) FROM attesters"), 1);

    cr_assert_eq(vfy_store_attester_get(st, "a", &a), VFY_OK);
    cr_assert_not_null(a.ak);
    cr_assert_str_eq(a.refset, "set1");
    cr_assert_str_eq(a.policy, "p1");
    cr_assert_eq(a.revoked, 0);
    cr_assert_eq(a.scheme.sig, VFY_SIG_ECDSA);
    cr_assert_eq(a.scheme.hash, VFY_HASH_SHA256);
    vfy_store_attester_clear(&a);
    cr_assert_null(a.ak);
    cr_assert_eq(vfy_store_attester_get(st, "zz", &a), VFY_E_NOT_FOUND);

    cr_assert_eq(vfy_store_attester_revoke(st, "a"), VFY_OK);
    cr_assert_eq(vfy_store_attester_get(st, "a", &a), VFY_OK);
    cr_assert_eq(a.revoked, 1);
    vfy_store_attester_clear(&a);
    cr_assert_eq(vfy_store_attester_revoke(st, "zz"), VFY_E_NOT_FOUND);
    free(k1);
    free(k2);
    vfy_store_close(&st);
}

Test(refstore, policies_latest_wins)
{
    vfy_store *st = open_new();
    static const char p1[] = "{\"id\":\"p\",\"version\":1}";
    static const char p1ws[] = "{ \"id\" : \"p\" ,\n \"version\" : 1 }";
    static const char p1b[] = "{\"id\":\"p\",\"version\":1,\"result\":{\"ttl_s\":10}}";
    static const char p2[] = "{\"id\":\"p\",\"version\":2,\"result\":{\"ttl_s\":20}}";
    char *json = NULL;
    unsigned ver = 0;
    int added = -1;

    cr_assert_eq(vfy_store_policy_load(st, p2, strlen(p2), NULL, NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_policy_load(st, p1, strlen(p1), NULL, &ver, &added), VFY_OK);
    cr_assert_eq(ver, 1);
    cr_assert_eq(added, 1);
    cr_assert_eq(vfy_store_policy_load(st, p1ws, strlen(p1ws), NULL, NULL, &added), VFY_OK);
    cr_assert_eq(added, 0, "whitespace does not make a policy different");
    cr_assert_eq(vfy_store_policy_load(st, p1b, strlen(p1b), NULL, NULL, NULL), VFY_E_CONFLICT);
    cr_assert_eq(vfy_store_policy_load(st, "[1]", 3, NULL, NULL, NULL), VFY_E_POLICY_MALFORMED);
    cr_assert_eq(vfy_store_policy_load(st, "{\"id\":\"p\"}", 10, NULL, NULL, NULL),
                 VFY_E_POLICY_MISSING_FIELD);
    cr_assert_eq(vfy_store_policy_get(st, "p", &json, &ver), VFY_OK);
    cr_assert_eq(ver, 2);
    cr_assert_str_eq(json, p2);
    vfy_free(json);
    cr_assert_eq(vfy_store_policy_get(st, "q", &json, &ver), VFY_E_NOT_FOUND);
    cr_assert_null(json);
    vfy_store_close(&st);
}

/* Same id@version is judged on what the policy says, not its text: other
 * key order, or a default spelled out, is the same policy (it was a
 * conflict, and a reformatted file blocked a whole SIGHUP reload); a
 * different value still conflicts. default@1 is the built-in's label: a
 * stored default@1 must say what the built-in says (a laxer one was stored,
 * and its results named "default@1" like the built-in's). */
Test(refstore, policies_compared_by_meaning_and_default_1_is_the_builtin)
{
    vfy_store *st = open_new();
    static const char p[] = "{\"id\":\"a\",\"version\":1,\"platform\":{\"pcrs\":[0,1,2,3,4,5,6,7]}}";
    static const char reordered[] =
        "{\"version\":1,\"platform\":{\"pcrs\":[0,1,2,3,4,5,6,7]},\"id\":\"a\"}";
    static const char defaults_left_out[] = "{\"id\":\"a\",\"version\":1}";
    static const char other[] = "{\"id\":\"a\",\"version\":1,\"platform\":{\"pcrs\":[7]}}";
    static const char lax_default[] =
        "{\"id\":\"default\",\"version\":1,\"platform\":{\"pcrs\":[7]},"
        "\"agent\":{\"history\":\"current\",\"unknown_context\":\"ignore\"}}";
    static const char lax_default2[] =
        "{\"id\":\"default\",\"version\":2,\"platform\":{\"pcrs\":[7]}}";
    int added = -1;
    char *json = NULL;
    unsigned ver = 0;
    FILE *f;
    char shipped[4096];
    size_t n;
    char path_default[512];

    cr_assert_eq(vfy_store_policy_load(st, p, strlen(p), NULL, NULL, &added), VFY_OK);
    cr_assert_eq(added, 1);
    cr_expect_eq(vfy_store_policy_load(st, reordered, strlen(reordered), NULL, NULL, &added),
                 VFY_OK, "%s", vfy_store_errmsg(st));
    cr_expect_eq(added, 0, "other key order: the same policy");
    cr_expect_eq(vfy_store_policy_load(st, defaults_left_out, strlen(defaults_left_out), NULL,
                                       NULL, &added), VFY_OK, "%s", vfy_store_errmsg(st));
    cr_expect_eq(added, 0, "the default PCRs left out: the same policy");
    cr_expect_eq(vfy_store_policy_load(st, other, strlen(other), NULL, NULL, NULL),
                 VFY_E_CONFLICT);
    cr_expect_str_eq(vfy_store_errmsg(st), "policy a version 1 exists with different content");

    cr_expect_eq(vfy_store_policy_load(st, lax_default, strlen(lax_default), NULL, NULL, NULL),
                 VFY_E_CONFLICT);
    cr_expect_str_eq(vfy_store_errmsg(st),
                     "policy default version 1 is the built-in default's label and must say what "
                     "it says (DESIGN section 6): give a different default version 2 or more");
    cr_expect_eq(vfy_store_policy_get(st, "default", &json, &ver), VFY_E_NOT_FOUND);
    /* the shipped policies/default.json says what the built-in says */
    snprintf(path_default, sizeof(path_default), "%s/policies/default.json",
             getenv("VFY_SOURCE_DIR") != NULL ? getenv("VFY_SOURCE_DIR") : "..");
    f = fopen(path_default, "rb");
    cr_assert_not_null(f, "%s", path_default);
    n = fread(shipped, 1, sizeof(shipped), f);
    fclose(f);
    cr_expect_eq(vfy_store_policy_load(st, shipped, n, NULL, NULL, &added), VFY_OK, "%s",
                 vfy_store_errmsg(st));
    cr_expect_eq(added, 1);
    cr_expect_eq(vfy_store_policy_load(st, lax_default2, strlen(lax_default2), NULL, NULL,
                                       &added), VFY_OK, "a laxer default needs version 2: %s",
                 vfy_store_errmsg(st));
    vfy_store_close(&st);
}

/* A store error met while importing an entry names the entry: in a bundle
 * of thousands, "note contains a control character" alone did not say
 * which. Nothing of the bundle is stored. */
Test(refstore, import_errors_name_the_entry)
{
    vfy_store *st = open_new();
    vfy_store_import_stats stats;
    static const char bundle[] =
        "{\"format\":\"verifierd-refvalues\",\"version\":1,\"components\":["
        "{\"kind\":\"tool\",\"name\":\"ok\",\"digest\":\"sha256:"
        "1111111111111111111111111111111111111111111111111111111111111111\",\"state\":\"approved\"},"
        "{\"kind\":\"tool\",\"name\":\"bad\",\"digest\":\"sha256:"
        "2222222222222222222222222222222222222222222222222222222222222222\",\"state\":\"approved\","
        "\"note\":\"x\\u0007\"}]}";
    static const char policies[] =
        "{\"format\":\"verifierd-refvalues\",\"version\":1,\"policies\":["
        "{\"id\":\"default\",\"version\":1,\"policy\":{\"id\":\"default\",\"version\":1,"
        "\"platform\":{\"pcrs\":[7]}}}]}";

    cr_assert_eq(vfy_store_import(st, bundle, strlen(bundle), &stats), VFY_E_BAD_NAME);
    cr_expect_str_eq(vfy_store_errmsg(st), "bundle components[1]: note contains a control character");
    cr_expect_eq(count("SELECT count(*) FROM components"), 0, "nothing stored");
    cr_assert_eq(vfy_store_import(st, policies, strlen(policies), &stats), VFY_E_CONFLICT);
    cr_expect_str_eq(vfy_store_errmsg(st),
                     "bundle policies[0]: policy default version 1 is the built-in default's label "
                     "and must say what it says (DESIGN section 6): give a different default "
                     "version 2 or more");
    vfy_store_close(&st);
}

/* The other active attesters on an attester's key, in one indexed query:
 * itself left out, revoked ones left out, names in order, at most @max
 * written but all counted; an attester alone on its key has none; an
 * unknown name is NOT_FOUND. */
Test(refstore, attester_key_sharers)
{
    vfy_store *st = open_new();
    char *pem = new_ec_pem(), *other = new_ec_pem();
    char names[2][VFY_STORE_NAME_MAX + 1];
    size_t n = 99, listed = 99;
    static const char *const on_key[] = {"s-c", "s-a", "s-d", "s-b"};

    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(vfy_store_attester_add(st, on_key[i], (const uint8_t *)pem, strlen(pem), NULL,
                                            NULL, NULL, NULL), VFY_OK, "%s", vfy_store_errmsg(st));
    cr_assert_eq(vfy_store_attester_add(st, "alone", (const uint8_t *)other, strlen(other), NULL,
                                        NULL, NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_attester_revoke(st, "s-d"), VFY_OK);
    cr_assert_eq(vfy_store_attester_key_sharers(st, "s-c", &n, names, 2, &listed), VFY_OK);
    cr_expect_eq(n, 2, "s-a and s-b (s-d is revoked, s-c itself)");
    cr_expect_eq(listed, 2);
    cr_expect_str_eq(names[0], "s-a");
    cr_expect_str_eq(names[1], "s-b");
    cr_assert_eq(vfy_store_attester_key_sharers(st, "s-d", &n, names, 1, &listed), VFY_OK);
    cr_expect_eq(n, 3, "a revoked attester's key: the three active ones");
    cr_expect_eq(listed, 1, "at most max written");
    cr_expect_str_eq(names[0], "s-a");
    cr_assert_eq(vfy_store_attester_key_sharers(st, "alone", &n, NULL, 0, &listed), VFY_OK);
    cr_expect_eq(n, 0);
    cr_expect_eq(vfy_store_attester_key_sharers(st, "nobody", &n, NULL, 0, NULL), VFY_E_NOT_FOUND);
    cr_expect_str_eq(vfy_store_errmsg(st), "attester nobody not found");
    cr_expect_eq(vfy_store_attester_key_sharers(st, "s-a", &n, NULL, 1, NULL), VFY_E_INVALID_ARG);
    free(pem);
    free(other);
    vfy_store_close(&st);
}

/* vfy_store_attester_revoke_counted says whether the call changed anything:
 * an attester revoked already is 0 and nothing is written (verifyctl
 * printed "revoked" again, and the shared-key note, for a no-op). */
Test(refstore, attester_revoke_counted_says_whether_it_changed)
{
    vfy_store *st = open_new();
    char *pem = new_ec_pem();
    size_t nrev = 9;
    vfy_store_result r;

    vfy_store_set_time(st, 1000);
    cr_assert_eq(vfy_store_attester_add(st, "a1", (const uint8_t *)pem, strlen(pem), NULL, NULL,
                                        NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_result_record(st, "live", "a1", 990, 1300, "affirming", NULL, 0),
                 VFY_OK);
    cr_assert_eq(vfy_store_attester_revoke_counted(st, "a1", &nrev), VFY_OK);
    cr_assert_eq(nrev, 1);
    cr_assert_eq(vfy_store_result_get(st, "live", &r), VFY_OK);
    cr_assert_eq(r.revoked, 1);
    cr_assert_eq(count("SELECT count(*) FROM audit_log WHERE action = 'attester.revoke'"
                       " AND object = 'attester a1'"), 1);
    /* again: nothing changes, and it says so */
    nrev = 9;
    cr_assert_eq(vfy_store_attester_revoke_counted(st, "a1", &nrev), VFY_OK);
    cr_assert_eq(nrev, 0);
    cr_assert_eq(count("SELECT count(*) FROM audit_log WHERE action = 'attester.revoke'"), 1);
    cr_assert_eq(count("SELECT count(*) FROM revocations"), 1);
    /* the count is optional; the old function is the same without one */
    cr_assert_eq(vfy_store_attester_revoke_counted(st, "a1", NULL), VFY_OK);
    cr_assert_eq(vfy_store_attester_revoke(st, "a1"), VFY_OK);
    cr_assert_eq(count("SELECT count(*) FROM audit_log WHERE action = 'attester.revoke'"), 1);
    /* unknown: VFY_E_NOT_FOUND, the count zeroed */
    nrev = 9;
    cr_assert_eq(vfy_store_attester_revoke_counted(st, "nobody", &nrev), VFY_E_NOT_FOUND);
    cr_assert_eq(nrev, 0);
    cr_assert_str_eq(vfy_store_errmsg(st), "attester nobody not found");
    cr_assert_eq(vfy_store_attester_revoke_counted(NULL, "a1", &nrev), VFY_E_INVALID_ARG);
    free(pem);
    vfy_store_close(&st);
}

/* ---- tokens ---- */

Test(refstore, tokens_store_only_the_hash)
{
    vfy_store *st = open_new();
    char tok[VFY_STORE_TOKEN_BUF], name[VFY_STORE_NAME_MAX + 1];
    vfy_token_role role;
    uint8_t sha[32];
    char hex[65], sql[160];

    cr_assert_eq(vfy_store_token_add(st, "rp", VFY_ROLE_ATTEST, tok), VFY_OK);
    cr_assert_eq(strncmp(tok, "vfy_", 4), 0);
    cr_assert_eq(strlen(tok), 4 + 43);
    cr_assert_eq(vfy_sha256(tok, strlen(tok), sha), VFY_OK);
    st_hex(hex, sha, 32);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM tokens WHERE sha256 = '%s'", hex);
    cr_assert_eq(count(sql), 1);
    cr_assert_eq(vfy_store_token_check(st, tok, strlen(tok), name, &role), VFY_OK);
    cr_assert_str_eq(name, "rp");
    cr_assert_eq(role, VFY_ROLE_ATTEST);
    cr_assert_eq(vfy_store_token_check(st, tok, strlen(tok) - 1, name, &role), VFY_E_NOT_FOUND);
    cr_assert_eq(vfy_store_token_add(st, "rp", VFY_ROLE_ADMIN, tok), VFY_E_CONFLICT);
    cr_assert_eq(tok[0], '\0', "the token buffer is wiped on failure");
    cr_assert_eq(vfy_store_token_add(st, "x", 7, tok), VFY_E_BAD_KIND);
    cr_assert_eq(vfy_token_role_parse(&role, "root"), VFY_E_BAD_KIND);
    cr_assert_eq(vfy_store_token_revoke(st, "rp"), VFY_OK);
    cr_assert_eq(vfy_store_token_lookup(st, sha, name, &role), VFY_E_NOT_FOUND);
    cr_assert_eq(vfy_store_token_revoke(st, "nope"), VFY_E_NOT_FOUND);
    vfy_store_close(&st);
}

/* A token made elsewhere (another replica's database) stored as given:
 * found by its hash like a made one; only the exact form of a made token
 * is taken; no second name for one token. */
Test(refstore, tokens_given)
{
    vfy_store *st = open_new();
    char tok[VFY_STORE_TOKEN_BUF] = "vfy_", name[VFY_STORE_NAME_MAX + 1], bad[64];
    uint8_t rnd[32];
    vfy_token_role role;
    const char *d;

    for (size_t i = 0; i < sizeof(rnd); i++)   /* as another database's token add made it */
        rnd[i] = (uint8_t)(i * 37 + 11);
    cr_assert_eq(vfy_b64url_encode(tok + 4, sizeof(tok) - 4, rnd, sizeof(rnd)), VFY_OK);
    cr_assert_eq(vfy_store_token_add_given(st, "rp", VFY_ROLE_ATTEST, 0, tok, strlen(tok)),
                 VFY_OK);
    cr_assert_eq(vfy_store_token_check(st, tok, strlen(tok), name, &role), VFY_OK);
    cr_assert_str_eq(name, "rp");
    cr_assert_eq(role, VFY_ROLE_ATTEST);
    cr_assert_eq(count("SELECT count(*) FROM audit_log WHERE action = 'token.add'"
                       " AND object = 'token rp' AND detail = 'attest (given)'"), 1);
    /* the same token again, under its name or another */
    cr_assert_eq(vfy_store_token_add_given(st, "rp", VFY_ROLE_ATTEST, 0, tok, strlen(tok)),
                 VFY_E_CONFLICT);
    cr_assert_str_eq(vfy_store_errmsg(st), "token rp already exists");
    cr_assert_eq(vfy_store_token_add_given(st, "rp2", VFY_ROLE_ADMIN, 0, tok, strlen(tok)),
                 VFY_E_CONFLICT);
    cr_assert_str_eq(vfy_store_errmsg(st), "that token is already stored under another name");
    cr_assert_eq(count("SELECT count(*) FROM tokens"), 1);
    /* anything but the form of a made token */
    d = "a token must be as verifyctl token add prints it: \"vfy_\" and 43 base64url characters";
    cr_assert_eq(vfy_store_token_add_given(st, "x", VFY_ROLE_ATTEST, 0, tok, strlen(tok) - 1),
                 VFY_E_INVALID_ARG, "42 characters");
    cr_assert_str_eq(vfy_store_errmsg(st), d);
    snprintf(bad, sizeof(bad), "%s", tok);
    bad[0] = 'V';
    cr_assert_eq(vfy_store_token_add_given(st, "x", VFY_ROLE_ATTEST, 0, bad, strlen(bad)),
                 VFY_E_INVALID_ARG, "another prefix");
    snprintf(bad, sizeof(bad), "%s", tok);
    bad[10] = '+';
    cr_assert_eq(vfy_store_token_add_given(st, "x", VFY_ROLE_ATTEST, 0, bad, strlen(bad)),
                 VFY_E_INVALID_ARG, "not base64url");
    snprintf(bad, sizeof(bad), "vfy_%042d%c", 0, 'B');   /* trailing bits set */
    cr_assert_eq(vfy_store_token_add_given(st, "x", VFY_ROLE_ATTEST, 0, bad, strlen(bad)),
                 VFY_E_INVALID_ARG, "not canonical");
    snprintf(bad, sizeof(bad), "vfy_%043d", 0);
    cr_assert_eq(vfy_store_token_add_given(st, "x", VFY_ROLE_ATTEST, 0, bad, strlen(bad)),
                 VFY_OK, "the form is all that is checked");
    cr_assert_eq(vfy_store_token_add_given(st, "y", 9, 0, tok, strlen(tok)), VFY_E_BAD_KIND);
    cr_assert_eq(vfy_store_token_add_given(st, "", VFY_ROLE_ATTEST, 0, tok, strlen(tok)),
                 VFY_E_BAD_NAME);
    cr_assert_eq(vfy_store_token_add_given(st, "y", VFY_ROLE_ATTEST, 0, NULL, 0),
                 VFY_E_INVALID_ARG);
    cr_assert_eq(count("SELECT count(*) FROM tokens"), 2);
    vfy_store_close(&st);
}

/* Expiring tokens: refused by vfy_store_token_lookup from their expiry on;
 * vfy_store_token_lookup_at still finds them, with the expiry. */
Test(refstore, tokens_expire)
{
    vfy_store *st = open_new();
    char tok[VFY_STORE_TOKEN_BUF], forever[VFY_STORE_TOKEN_BUF], name[VFY_STORE_NAME_MAX + 1];
    vfy_token_role role;
    uint8_t sha[32], sha2[32];
    int64_t exp = -1;
    char *json = NULL;

    vfy_store_set_time(st, 1000);
    cr_assert_eq(vfy_store_token_add_expiring(st, "past", VFY_ROLE_ATTEST, 1000, tok),
                 VFY_E_INVALID_ARG, "an expiry that is not in the future");
    cr_assert_eq(tok[0], '\0');
    cr_assert_str_eq(vfy_store_errmsg(st), "token expiry 1000 is not in the future");
    cr_assert_eq(vfy_store_token_add_expiring(st, "neg", VFY_ROLE_ATTEST, -5, tok),
                 VFY_E_INVALID_ARG);
    cr_assert_eq(count("SELECT count(*) FROM tokens"), 0);
    cr_assert_eq(vfy_store_token_add_expiring(st, "rp", VFY_ROLE_ATTEST, 1100, tok), VFY_OK);
    cr_assert_eq(vfy_store_token_add(st, "ops", VFY_ROLE_ADMIN, forever), VFY_OK);
    cr_assert_eq(vfy_sha256(tok, strlen(tok), sha), VFY_OK);
    cr_assert_eq(vfy_sha256(forever, strlen(forever), sha2), VFY_OK);
    cr_assert_eq(count("SELECT count(*) FROM audit_log WHERE action = 'token.add'"
                       " AND detail = 'attest expires_at=1100'"), 1);

    cr_assert_eq(vfy_store_token_lookup(st, sha, name, &role), VFY_OK, "before its expiry");
    cr_assert_str_eq(name, "rp");
    vfy_store_set_time(st, 1099);
    cr_assert_eq(vfy_store_token_check(st, tok, strlen(tok), name, &role), VFY_OK);
    vfy_store_set_time(st, 1100);
    cr_assert_eq(vfy_store_token_lookup(st, sha, name, &role), VFY_E_NOT_FOUND, "at its expiry");
    cr_assert_eq(name[0], '\0');
    cr_assert_eq(role, 0);
    cr_assert_eq(vfy_store_token_check(st, tok, strlen(tok), name, &role), VFY_E_NOT_FOUND);
    cr_assert_eq(vfy_store_token_lookup_at(st, sha, name, &role, &exp), VFY_OK, "found, expired");
    cr_assert_eq(exp, 1100);
    cr_assert_eq(role, VFY_ROLE_ATTEST);
    cr_assert_eq(vfy_store_token_lookup_at(st, sha2, name, &role, &exp), VFY_OK);
    cr_assert_eq(exp, 0, "no expiry");
    cr_assert_eq(vfy_store_token_lookup(st, sha2, name, &role), VFY_OK);
    cr_assert_eq(vfy_store_token_lookup_at(st, sha, name, &role, NULL), VFY_E_INVALID_ARG);
    {
        /* the listing's state follows the store's clock too */
        cJSON *arr;

        for (int64_t t = 1099; t <= 1100; t++) {
            vfy_store_set_time(st, t);
            cr_assert_eq(vfy_store_list_json(st, "tokens", &json), VFY_OK);
            cr_assert_not_null(arr = cJSON_Parse(json));
            cr_expect_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 1), "state")->valuestring,
                             t < 1100 ? "active" : "expired", "listing at %lld", (long long)t);
            cr_expect_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "state")->valuestring,
                             "active");
            cJSON_Delete(arr);
            vfy_free(json);
            json = NULL;
        }
    }
    cr_assert_eq(vfy_store_token_revoke(st, "rp"), VFY_OK);
    cr_assert_eq(vfy_store_token_lookup_at(st, sha, name, &role, &exp), VFY_E_NOT_FOUND,
                 "revoked");
    cr_assert_eq(vfy_store_list_json(st, "tokens", &json), VFY_OK);
    {
        cJSON *arr = cJSON_Parse(json);
        const cJSON *ops = cJSON_GetArrayItem(arr, 0), *rp = cJSON_GetArrayItem(arr, 1);

        cr_assert_not_null(arr, "%s", json);
        cr_assert_str_eq(cJSON_GetObjectItem(ops, "name")->valuestring, "ops");
        cr_assert(cJSON_IsNull(cJSON_GetObjectItem(ops, "expires_at")), "%s", json);
        cr_assert_str_eq(cJSON_GetObjectItem(rp, "name")->valuestring, "rp");
        cr_assert_eq(cJSON_GetObjectItem(rp, "expires_at")->valuedouble, 1100.0);
        cr_assert_str_eq(cJSON_GetObjectItem(rp, "state")->valuestring, "revoked");
        cJSON_Delete(arr);
    }
    vfy_free(json);
    vfy_store_close(&st);
}

/* vfy_store_token_revoke_counted: 1 when the call revoked the token, 0
 * when it was revoked already (nothing written). */
Test(refstore, token_revoke_counted_says_whether_it_changed)
{
    vfy_store *st = open_new();
    char tok[VFY_STORE_TOKEN_BUF];
    size_t nrev = 9;

    cr_assert_eq(vfy_store_token_add(st, "rp", VFY_ROLE_ATTEST, tok), VFY_OK);
    cr_assert_eq(vfy_store_token_revoke_counted(st, "rp", &nrev), VFY_OK);
    cr_assert_eq(nrev, 1);
    cr_assert_eq(count("SELECT count(*) FROM audit_log WHERE action = 'token.revoke'"
                       " AND object = 'token rp'"), 1);
    cr_assert_eq(count("SELECT revoked FROM tokens WHERE name = 'rp'"), 1);
    nrev = 9;
    cr_assert_eq(vfy_store_token_revoke_counted(st, "rp", &nrev), VFY_OK);
    cr_assert_eq(nrev, 0, "revoked already");
    cr_assert_eq(vfy_store_token_revoke_counted(st, "rp", NULL), VFY_OK);
    cr_assert_eq(vfy_store_token_revoke(st, "rp"), VFY_OK);
    cr_assert_eq(count("SELECT count(*) FROM audit_log WHERE action = 'token.revoke'"), 1);
    nrev = 9;
    cr_assert_eq(vfy_store_token_revoke_counted(st, "nope", &nrev), VFY_E_NOT_FOUND);
    cr_assert_eq(nrev, 0);
    cr_assert_str_eq(vfy_store_errmsg(st), "token nope not found");
    vfy_store_close(&st);
}

/* ---- verifier state ---- */

Test(refstore, clock_and_agent_log_state)
{
    vfy_store *st = open_new();
    vfy_clock_info ci = {123456789012ull, 3, 7, 1}, got;
    vfy_store_log_entry e[3], *out = NULL;
    uint32_t epoch = 0;
    size_t n = 0;
    char *pem = new_ec_pem();

    cr_assert_eq(vfy_store_clock_put(st, "a", &ci), VFY_E_NOT_FOUND);
    cr_assert_eq(vfy_store_attester_add(st, "a", (const uint8_t *)pem, strlen(pem), NULL, NULL,
                                        NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_clock_get(st, "a", &got), VFY_E_NOT_FOUND);
    cr_assert_eq(vfy_store_clock_put(st, "a", &ci), VFY_OK);
    ci.reset_count = 0xffffffffu;   /* full 32-bit range survives */
    cr_assert_eq(vfy_store_clock_put(st, "a", &ci), VFY_OK);
    cr_assert_eq(vfy_store_clock_get(st, "a", &got), VFY_OK);
    cr_assert_eq(got.clock, 123456789012ull);
    cr_assert_eq(got.reset_count, 0xffffffffu);
    cr_assert_eq(got.restart_count, 7);

    for (int i = 0; i < 3; i++) {
        fill(e[i].digest, 32, (uint8_t)(i + 1));
        e[i].first_clock = 100u * (unsigned)(i + 1);
    }
    cr_assert_eq(vfy_store_agent_log_get(st, "a", &epoch, &out, &n), VFY_E_NOT_FOUND);
    cr_assert_eq(vfy_store_agent_log_put(st, "a", 5, e, 2), VFY_OK);
    cr_assert_eq(vfy_store_agent_log_put(st, "a", 5, e, 3), VFY_OK);   /* extends */
    cr_assert_eq(vfy_store_agent_log_put(st, "a", 5, e, 1), VFY_E_CONFLICT);  /* shorter */
    e[2].digest[0] ^= 1;
    cr_assert_eq(vfy_store_agent_log_put(st, "a", 5, e, 3), VFY_E_CONFLICT);  /* different */
    e[2].digest[0] ^= 1;
    cr_assert_eq(vfy_store_agent_log_get(st, "a", &epoch, &out, &n), VFY_OK);
    cr_assert_eq(epoch, 5);
    cr_assert_eq(n, 3);
    cr_assert_eq(memcmp(out[2].digest, e[2].digest, 32), 0);
    cr_assert_eq(out[1].first_clock, 200);
    vfy_free(out);
    /* A new epoch replaces the log. */
    cr_assert_eq(vfy_store_agent_log_put(st, "a", 6, e, 1), VFY_OK);
    cr_assert_eq(vfy_store_agent_log_get(st, "a", &epoch, &out, &n), VFY_OK);
    cr_assert_eq(epoch, 6);
    cr_assert_eq(n, 1);
    vfy_free(out);
    free(pem);
    vfy_store_close(&st);
}

/* A known-good mark rests on the reference rows of the appraisal that made
 * it: revoking one of them — a component, or a PCR value of the platform
 * it ran on — forgets it, revoking another does not. A mark without a
 * reference set (made before schema 4, or by vfy_store_manifest_mark_known)
 * may rest on anything: any revocation forgets it. */
Test(refstore, known_marks_follow_the_revocations_they_rest_on)
{
    vfy_store *st = open_new();
    vfy_store_component c;
    uint8_t d1[32], d2[32], d3[32], md1[32], md2[32], md3[32], md4[32], md5[32], pcr[32];
    int64_t c1, c2, pcr_id = 0;
    vfy_ref_state state;
    size_t nrev = 0, nres = 0;
    int known = -1;
    char *pem = new_ec_pem();

    fill(d1, 32, 1);
    fill(d2, 32, 2);
    fill(d3, 32, 3);
    fill(md1, 32, 0x41);
    fill(md2, 32, 0x42);
    fill(md3, 32, 0x43);
    fill(md4, 32, 0x44);
    fill(md5, 32, 0x45);
    fill(pcr, 32, 0x50);
    cr_assert_eq(vfy_store_attester_add(st, "a", (const uint8_t *)pem, strlen(pem), NULL, "s",
                                        NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_MODEL, "m1", "1", d1, NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_TOOL, "t2", "1", d2, NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_TOOL, "t3", "1", d3, NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_pcr_add(st, "s", VFY_HASH_SHA256, 0, pcr, 32, NULL), VFY_OK);
    cr_assert_eq(vfy_store_pcr_lookup(st, "s", VFY_HASH_SHA256, 0, pcr, 32, &state, &pcr_id),
                 VFY_OK);
    cr_assert_eq(vfy_store_component_lookup(st, VFY_COMPONENT_MODEL, d1, &c), VFY_OK);
    c1 = c.id;
    cr_assert_eq(vfy_store_component_lookup(st, VFY_COMPONENT_TOOL, d2, &c), VFY_OK);
    c2 = c.id;
    {
        vfy_store_ref r1[] = {{VFY_STORE_REF_PCR, pcr_id}, {VFY_STORE_REF_COMPONENT, c1}};
        vfy_store_ref r2[] = {{VFY_STORE_REF_COMPONENT, c2}, {VFY_STORE_REF_COMPONENT, c1}};
        vfy_store_ref bad = {VFY_STORE_REF_COMPONENT, 4242};

        int64_t rs1 = 0, rs2 = 0, rs = -1;
        vfy_store_ref *rows = NULL;
        size_t nrows = 0;

        cr_assert_eq(vfy_store_manifest_mark_known_refs(st, "a", md1, r1, 2, &rs1), VFY_OK);
        cr_assert_eq(vfy_store_manifest_mark_known_refs(st, "a", md2, r2, 2, &rs2), VFY_OK);
        cr_assert_gt(rs1, 0);
        cr_assert_gt(rs2, 0);
        cr_assert_neq(rs1, rs2);
        cr_assert_eq(vfy_store_manifest_mark_known_refs(st, "a", md2, r2, 2, &rs), VFY_OK, "again");
        cr_assert_eq(rs, rs2, "known already: the existing mark's set");
        cr_assert_eq(vfy_store_manifest_mark_known(st, "a", md3), VFY_OK);
        cr_assert_eq(vfy_store_manifest_mark_known_refs(st, "a", md4, NULL, 0, &rs), VFY_OK);
        cr_assert_eq(rs, 0, "no reference set");
        cr_assert_eq(vfy_store_manifest_mark_known_refs(st, "nobody", md1, r1, 2, &rs),
                     VFY_E_NOT_FOUND);
        cr_assert_eq(vfy_store_manifest_mark_known_refs(st, "a", md1, NULL, 1, &rs),
                     VFY_E_INVALID_ARG);
        cr_assert_eq(vfy_store_manifest_mark_known_refs(st, "a", md1, r1, 2, NULL),
                     VFY_E_INVALID_ARG);
        cr_assert_eq(vfy_store_manifest_mark_known_refs(st, "a", md5, &bad, 1, &rs),
                     VFY_E_NOT_FOUND, "a reference row that does not exist");
        cr_assert_eq(vfy_store_manifest_mark_known_refs(st, "a", md4, &bad, 1, &rs), VFY_OK,
                     "known already: nothing to do");
        /* a mark's set and its rows, as the history check reads them */
        cr_assert_eq(vfy_store_manifest_known_refset(st, "a", md2, &known, &rs), VFY_OK);
        cr_assert_eq(known, 1);
        cr_assert_eq(rs, rs2);
        cr_assert_eq(vfy_store_manifest_known_refset(st, "a", md3, &known, &rs), VFY_OK);
        cr_assert_eq(known, 1);
        cr_assert_eq(rs, 0, "marked without a reference set");
        cr_assert_eq(vfy_store_manifest_known_refset(st, "a", md5, &known, &rs), VFY_OK);
        cr_assert_eq(known, 0);
        cr_assert_eq(vfy_store_refset_rows(st, rs1, &rows, &nrows), VFY_OK);
        cr_assert_eq(nrows, 2);
        for (size_t i = 0; i < nrows; i++)
            cr_assert((rows[i].kind == VFY_STORE_REF_PCR && rows[i].id == pcr_id) ||
                          (rows[i].kind == VFY_STORE_REF_COMPONENT && rows[i].id == c1),
                      "row %zu: kind %d id %lld", i, (int)rows[i].kind, (long long)rows[i].id);
        cr_assert_neq(rows[0].kind, rows[1].kind);
        free(rows);
        cr_assert_eq(vfy_store_refset_rows(st, rs1 + rs2 + 100, &rows, &nrows), VFY_E_NOT_FOUND);
        cr_assert_null(rows);
        cr_assert_eq(vfy_store_refset_rows(st, 0, &rows, &nrows), VFY_E_INVALID_ARG);
    }
    cr_assert_eq(count("SELECT count(*) FROM known_manifests"), 4);
    cr_assert_eq(count("SELECT count(*) FROM known_manifests WHERE refset_id IS NULL"), 2);

    /* the PCR value md1's appraisal relied on (its platform): md1 goes, and
     * so do the marks without a reference set; md2 stays */
    cr_assert_eq(vfy_store_pcr_revoke(st, "s", VFY_HASH_SHA256, 0, pcr, 32, &nres), VFY_OK);
    cr_assert_eq(vfy_store_manifest_known(st, "a", md1, &known), VFY_OK);
    cr_expect_eq(known, 0, "relied on the revoked PCR value");
    cr_assert_eq(vfy_store_manifest_known(st, "a", md3, &known), VFY_OK);
    cr_expect_eq(known, 0, "a mark without a reference set");
    cr_assert_eq(vfy_store_manifest_known(st, "a", md4, &known), VFY_OK);
    cr_expect_eq(known, 0, "a mark that relied on nothing recorded");
    cr_assert_eq(vfy_store_manifest_known(st, "a", md2, &known), VFY_OK);
    cr_expect_eq(known, 1, "did not rely on the PCR value");
    /* t3, which no mark relied on: nothing more goes */
    cr_assert_eq(vfy_store_component_revoke(st, VFY_COMPONENT_TOOL, "t3", NULL, &nrev, &nres),
                 VFY_OK);
    cr_assert_eq(nrev, 1);
    cr_assert_eq(vfy_store_manifest_known(st, "a", md2, &known), VFY_OK);
    cr_expect_eq(known, 1);
    /* with a mark without a reference set again: any component revocation forgets it */
    cr_assert_eq(vfy_store_manifest_mark_known(st, "a", md3), VFY_OK);
    /* t2: the mark that relied on it goes, and the unattributed one */
    cr_assert_eq(vfy_store_component_revoke(st, VFY_COMPONENT_TOOL, "t2", NULL, &nrev, &nres),
                 VFY_OK);
    cr_assert_eq(vfy_store_manifest_known(st, "a", md2, &known), VFY_OK);
    cr_expect_eq(known, 0, "relied on t2");
    cr_assert_eq(vfy_store_manifest_known(st, "a", md3, &known), VFY_OK);
    cr_expect_eq(known, 0, "unattributed: forgotten by any revocation");
    /* m1: nothing is left to forget */
    cr_assert_eq(vfy_store_component_revoke(st, VFY_COMPONENT_MODEL, "m1", NULL, &nrev, &nres),
                 VFY_OK);
    cr_assert_eq(count("SELECT count(*) FROM known_manifests"), 0);
    free(pem);
    vfy_store_close(&st);
}

/* A revoked attester's key cannot be added under another name (nor a case
 * or whitespace variant of its own); an active key may be shared (vfy-bench
 * registers many attesters on one), and an import restores what it is
 * given. */
Test(refstore, revoked_attesters_key_cannot_be_registered_again)
{
    vfy_store *st = open_new();
    char *pem = new_ec_pem(), *other = new_ec_pem(), bundle[4096];

    cr_assert_eq(vfy_store_attester_add(st, "agent-1", (const uint8_t *)pem, strlen(pem), NULL,
                                        NULL, NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_attester_add(st, "agent-1b", (const uint8_t *)pem, strlen(pem), NULL,
                                        NULL, NULL, NULL), VFY_OK, "an active key may be shared");
    cr_assert_eq(vfy_store_attester_revoke(st, "agent-1"), VFY_OK);
    cr_assert_eq(vfy_store_attester_add(st, "agent-2", (const uint8_t *)pem, strlen(pem), NULL,
                                        NULL, NULL, NULL), VFY_E_CONFLICT);
    cr_assert_str_eq(vfy_store_errmsg(st),
                     "the attestation key of revoked attester agent-1 cannot be registered again");
    cr_assert_eq(vfy_store_attester_add(st, "Agent-1", (const uint8_t *)pem, strlen(pem), NULL,
                                        NULL, NULL, NULL), VFY_E_CONFLICT);
    cr_assert_eq(vfy_store_attester_add(st, "agent-1 ", (const uint8_t *)pem, strlen(pem), NULL,
                                        NULL, NULL, NULL), VFY_E_BAD_NAME,
                 "a name that reads as another is refused first (0.2.7)");
    cr_assert_str_eq(vfy_store_errmsg(st), "attester name begins or ends with a space");
    cr_assert_eq(vfy_store_attester_add(st, "agent-1\xe2\x80\x8b", (const uint8_t *)other,
                                        strlen(other), NULL, NULL, NULL, NULL), VFY_E_BAD_NAME);
    cr_assert_str_eq(vfy_store_errmsg(st), "attester name contains an invisible character (U+200B)");
    cr_assert_eq(vfy_store_attester_add(st, "agent-3", (const uint8_t *)other, strlen(other),
                                        NULL, NULL, NULL, NULL), VFY_OK, "another key");
    /* nor by import: a new active attester with the key of one revoked
     * before the import */
    attester_bundle(bundle, sizeof(bundle), "agent-4", pem);
    cr_assert_eq(vfy_store_import(st, bundle, strlen(bundle), NULL), VFY_E_CONFLICT);
    cr_assert_str_eq(vfy_store_errmsg(st), "bundle attesters[0]: the attestation key of revoked "
                                           "attester agent-1 cannot be registered again");
    cr_assert_eq(count("SELECT count(*) FROM attesters"), 3, "nothing imported");
    free(pem);
    free(other);
    vfy_store_close(&st);
}

/* The key of a revoked attester re-encoded (a compressed point, explicit
 * curve parameters) is the same key: refused under a new name, by add and
 * by import; stored in its usual form, so listings show one fingerprint. */
Test(refstore, revoked_key_re_encoded_is_the_same_key)
{
    vfy_store *st = open_new();
    EVP_PKEY *k = EVP_EC_gen("P-256");
    const char *forms[2][2] = {
        {OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "compressed"},
        {OSSL_PKEY_PARAM_EC_ENCODING, OSSL_PKEY_EC_ENCODING_EXPLICIT},
    };
    char *plain = NULL, *odd[2] = {NULL, NULL};

    for (int i = 0; i < 3; i++) {
        EVP_PKEY *c = EVP_PKEY_dup(k);
        BIO *b = BIO_new(BIO_s_mem());
        char *data;
        long n;

        if (i > 0)
            cr_assert_eq(EVP_PKEY_set_utf8_string_param(c, forms[i - 1][0], forms[i - 1][1]), 1);
        cr_assert_eq(PEM_write_bio_PUBKEY(b, c), 1);
        n = BIO_get_mem_data(b, &data);
        if (i == 0)
            plain = bytes_dup(data, (size_t)n);
        else
            odd[i - 1] = bytes_dup(data, (size_t)n);
        BIO_free(b);
        EVP_PKEY_free(c);
    }
    /* registered in the compressed form, stored in the usual one */
    cr_assert_eq(vfy_store_attester_add(st, "agent-1", (const uint8_t *)odd[0], strlen(odd[0]),
                                        NULL, NULL, NULL, NULL), VFY_OK, "%s", vfy_store_errmsg(st));
    cr_assert_eq(count("SELECT count(*) FROM attesters WHERE ak_pem = (SELECT ak_pem FROM"
                       " attesters WHERE name = 'agent-1') AND instr(ak_pem, 'MFkwEwYHKoZIzj0CAQYI')"
                       " > 0"), 1, "the usual named-curve uncompressed SPKI is stored");
    cr_assert_eq(vfy_store_attester_add(st, "agent-1b", (const uint8_t *)plain, strlen(plain),
                                        NULL, NULL, NULL, NULL), VFY_OK);
    cr_assert_eq(count("SELECT count(DISTINCT ak_fingerprint) FROM attesters"), 1, "one key");
    cr_assert_eq(vfy_store_attester_revoke(st, "agent-1"), VFY_OK);
    cr_assert_eq(vfy_store_attester_revoke(st, "agent-1b"), VFY_OK);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(vfy_store_attester_add(st, "agent-2", (const uint8_t *)odd[i], strlen(odd[i]),
                                            NULL, NULL, NULL, NULL), VFY_E_CONFLICT, "form %d", i);
        cr_assert_str_eq(vfy_store_errmsg(st), "the attestation key of revoked attester agent-1 "
                                               "cannot be registered again");
    }
    {   /* by import too */
        char bundle[4096];

        attester_bundle(bundle, sizeof(bundle), "agent-3", odd[1]);
        cr_assert_eq(vfy_store_import(st, bundle, strlen(bundle), NULL), VFY_E_CONFLICT);
        cr_assert_str_eq(vfy_store_errmsg(st), "bundle attesters[0]: the attestation key of "
                                               "revoked attester agent-1 cannot be registered "
                                               "again");
    }
    cr_assert_eq(count("SELECT count(*) FROM attesters"), 2);
    free(plain);
    free(odd[0]);
    free(odd[1]);
    EVP_PKEY_free(k);
    vfy_store_close(&st);
}

/* Schema 7: an attester stored before it with a compressed key had the
 * fingerprint of that encoding; the migration stores the key in the usual
 * form with the key's fingerprint, so that the usual form of a revoked key
 * is refused. */
Test(refstore, schema_7_rekeys_attesters_stored_re_encoded)
{
    EVP_PKEY *k = EVP_EC_gen("P-256"), *c = EVP_PKEY_dup(k);
    BIO *b = BIO_new(BIO_s_mem());
    unsigned char *der = NULL;
    uint8_t fp[32];
    char fphex[65], sql[2048], *data, *plain = NULL;
    vfy_store *st = NULL;
    long n;
    int dn;

    cr_assert_eq(EVP_PKEY_set_utf8_string_param(c, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                                "compressed"), 1);
    cr_assert_eq(PEM_write_bio_PUBKEY(b, c), 1);
    n = BIO_get_mem_data(b, &data);
    dn = i2d_PUBKEY(c, &der);   /* what schema 6 fingerprinted */
    cr_assert_gt(dn, 0);
    cr_assert_eq(vfy_sha256(der, (size_t)dn, fp), VFY_OK);
    for (int i = 0; i < 32; i++)
        snprintf(fphex + 2 * i, 3, "%02x", fp[i]);
    unlink(path);
    cr_assert_eq(vfy_store_create_at_version(path, 6), VFY_OK);
    snprintf(sql, sizeof(sql),
             "INSERT INTO attesters (name, ak_pem, ak_fingerprint, scheme, refset, state,"
             " created_at) VALUES ('old-1', '%.*s', '%s', 'ecdsa-sha256', 'default', 'revoked',"
             " 1)", (int)n, data, fphex);
    cr_assert_eq(raw_exec(sql), SQLITE_OK);
    BIO_free(b);
    /* the same key in the usual form, registered again under schema 6 (its
     * fingerprint differed), and a row whose key cannot be read */
    b = BIO_new(BIO_s_mem());
    cr_assert_eq(PEM_write_bio_PUBKEY(b, k), 1);
    n = BIO_get_mem_data(b, &data);
    plain = bytes_dup(data, (size_t)n);
    BIO_free(b);
    {
        vfy_ak *ak = NULL;
        uint8_t pfp[32];
        char pfphex[65];

        cr_assert_eq(vfy_ak_from_pem(&ak, plain, strlen(plain), NULL), VFY_OK);
        cr_assert_eq(vfy_ak_fingerprint(ak, pfp), VFY_OK);
        vfy_ak_free(&ak);
        for (int i = 0; i < 32; i++)
            snprintf(pfphex + 2 * i, 3, "%02x", pfp[i]);
        cr_assert_str_neq(pfphex, fphex, "schema 6 told the two forms apart");
        snprintf(sql, sizeof(sql),
                 "INSERT INTO attesters (name, ak_pem, ak_fingerprint, scheme, refset, state,"
                 " created_at) VALUES ('back-1', '%s', '%s', 'ecdsa-sha256', 'default', 'active',"
                 " 2), ('junk-1', 'not a key', 'ff', 'ecdsa-sha256', 'default', 'active', 3)",
                 plain, pfphex);
        cr_assert_eq(raw_exec(sql), SQLITE_OK);
    }
    cr_assert_eq(vfy_store_open(&st, path, VFY_STORE_MIGRATE), VFY_OK, "%s",
                 st != NULL ? vfy_store_errmsg(st) : "");
    cr_assert_eq(count("SELECT count(*) FROM attesters WHERE name = 'old-1' AND ak_fingerprint = "
                       "(SELECT ak_fingerprint FROM attesters WHERE name = 'back-1') AND"
                       " instr(ak_pem, 'MFkwEwYHKoZIzj0CAQYI') > 0"), 1,
                 "stored in the usual form: one key, one fingerprint");
    cr_assert_eq(count("SELECT count(*) FROM attesters WHERE name = 'junk-1' AND"
                       " ak_fingerprint = 'ff'"), 1, "an unreadable key is left as it was");
    cr_assert_eq(count("SELECT count(*) FROM audit_log WHERE action = 'store.migrate' AND detail ="
                       " 'schema 7: 1 keys stored again in the usual form; 1 keys unreadable,"
                       " left as they were; 1 active attesters have a revoked attester''s key"
                       " (verifyctl init names them)'"), 1);
    cr_assert_eq(vfy_store_attester_add(st, "new-1", (const uint8_t *)plain, strlen(plain), NULL,
                                        NULL, NULL, NULL), VFY_E_CONFLICT);
    cr_assert_str_eq(vfy_store_errmsg(st), "the attestation key of revoked attester old-1 cannot "
                                           "be registered again");
    vfy_store_close(&st);
    /* a second open finds nothing to do */
    cr_assert_eq(vfy_store_open(&st, path, VFY_STORE_MIGRATE), VFY_OK);
    cr_assert_eq(count("SELECT count(*) FROM audit_log WHERE action = 'store.migrate'"), 1);
    vfy_store_close(&st);
    free(plain);
    OPENSSL_free(der);
    EVP_PKEY_free(c);
    EVP_PKEY_free(k);
}

/* A store where a key was shared before one of its attesters was revoked
 * exports and imports again, whatever the order of the entries: active
 * entries are stored before revoked ones. */
Test(refstore, shared_key_export_imports_again)
{
    vfy_store *st = open_new();
    char *pem = new_ec_pem(), *json = NULL, *again = NULL;

    cr_assert_eq(vfy_store_attester_add(st, "a-revoked", (const uint8_t *)pem, strlen(pem), NULL,
                                        NULL, NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_attester_add(st, "b-active", (const uint8_t *)pem, strlen(pem), NULL,
                                        NULL, NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_attester_revoke(st, "a-revoked"), VFY_OK);
    cr_assert_eq(vfy_store_export(st, &json), VFY_OK);
    cr_assert_lt(strstr(json, "a-revoked") - json, strstr(json, "b-active") - json,
                 "the revoked entry comes first in the export");
    vfy_store_close(&st);
    unlink(path);
    st = open_new();
    cr_assert_eq(vfy_store_import(st, json, strlen(json), NULL), VFY_OK, "%s",
                 vfy_store_errmsg(st));
    cr_assert_eq(vfy_store_export(st, &again), VFY_OK);
    cr_assert_str_eq(again, json, "the round trip is exact");
    free(json);
    free(again);
    free(pem);
    vfy_store_close(&st);
}

/* A revoked value cannot be added again under another name or version
 * (appraisal treats the digest as revoked; the listing must agree); an
 * import restores what it is given. */
Test(refstore, revoked_digest_cannot_be_approved_again_under_another_name)
{
    vfy_store *st = open_new();
    vfy_store_import_stats stats;
    uint8_t d[32];
    size_t nrev = 0, nres = 0;
    int added = -1;
    char hex[65], b[1024];

    fill(d, 32, 0x77);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_MODEL, "llama", "3.1", d, NULL, NULL),
                 VFY_OK);
    cr_assert_eq(vfy_store_component_revoke(st, VFY_COMPONENT_MODEL, "llama", d, &nrev, &nres),
                 VFY_OK);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_MODEL, "llama", "3.2", d, NULL,
                                         &added), VFY_E_CONFLICT, "another version");
    cr_assert_str_eq(vfy_store_errmsg(st), "model llama: digest sha256:7777777777777777777777777777777777777777777777777777777777777777 is revoked (as model llama 3.1)");
    cr_assert_eq(added, 0);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_MODEL, "llama2", "", d, NULL, NULL),
                 VFY_E_CONFLICT, "another name");
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_TOOL, "t", "1", d, NULL, NULL), VFY_OK,
                 "kinds are apart");
    snprintf(b, sizeof(b), "{\"format\":\"verifierd-refvalues\",\"version\":1,\"components\":["
             "{\"kind\":\"model\",\"name\":\"llama3\",\"version\":\"\",\"digest\":\"sha256:%s\","
             "\"state\":\"approved\",\"note\":\"\"}]}", hex);
    /* an import stores an approved entry whose digest is revoked (an
     * export from before twins were revoked together imports again), but
     * revoked: appraisal treats the digest as revoked, and so must the
     * listing and the next export */
    memset(&stats, 0xff, sizeof(stats));
    cr_assert_eq(vfy_store_import(st, b, strlen(b), &stats), VFY_OK, "by import: %s",
                 vfy_store_errmsg(st));
    cr_assert_eq(count("SELECT count(*) FROM components WHERE name = 'llama3' AND state = 'revoked'"),
                 1, "llama3, stored revoked by the import");
    cr_assert_eq(count("SELECT count(*) FROM audit_log WHERE action = 'component.revoke' AND"
                       " object = 'model llama3' AND detail LIKE '%; approved in the bundle,"
                       " stored revoked: the digest is revoked as model llama 3.1 (by import)'"),
                 1, "and audited as such");
    /* counted as added and as revoked (docs/reference-values.md), and its
     * add row comes before its revoke row, as it happened to the row (the
     * revoke row came first) */
    cr_assert_eq(stats.components, 1);
    cr_assert_eq(stats.revoked, 1);
    {
        char q[512];

        snprintf(q, sizeof(q), "SELECT count(*) FROM audit_log a, audit_log r WHERE"
                 " a.action = 'component.add' AND a.object = 'model llama3' AND"
                 " a.detail = 'sha256:%s, revoked (by import)' AND r.action = 'component.revoke'"
                 " AND r.object = 'model llama3' AND a.seq + 1 = r.seq", hex);
        cr_assert_eq(count(q), 1, "the add row, then the revoke row");
    }
    snprintf(b, sizeof(b), "{\"format\":\"verifierd-refvalues\",\"version\":1,\"components\":["
             "{\"kind\":\"model\",\"name\":\"llama3\",\"version\":\"\",\"digest\":\"sha256:%s\","
             "\"state\":\"revoked\",\"note\":\"\"}]}", hex);
    cr_assert_eq(vfy_store_import(st, b, strlen(b), NULL), VFY_OK, "a revoked entry: %s",
                 vfy_store_errmsg(st));
    /* a bundle revoking a stored value: audited as a revocation */
    snprintf(b, sizeof(b), "{\"format\":\"verifierd-refvalues\",\"version\":1,\"components\":["
             "{\"kind\":\"tool\",\"name\":\"t\",\"version\":\"1\",\"digest\":\"sha256:%s\","
             "\"state\":\"revoked\",\"note\":\"\"}]}", hex);
    cr_assert_eq(vfy_store_import(st, b, strlen(b), NULL), VFY_OK, "%s", vfy_store_errmsg(st));
    cr_expect_eq(count("SELECT count(*) FROM audit_log WHERE action = 'component.revoke'"
                       " AND object = 'tool t' AND detail LIKE '%(by import)'"), 1);
    cr_assert_eq(count("SELECT count(*) FROM components WHERE state = 'approved' AND kind = 'model'"),
                 0, "llama3 revoked by the second import");
    vfy_store_close(&st);
}

/* ---- change signal ---- */

Test(refstore, generation_counter_tracks_admin_changes)
{
    vfy_store *w = open_new(), *r = NULL;
    uint64_t g0, g1, g2;
    uint8_t d[32];

    fill(d, 32, 9);
    cr_assert_eq(vfy_store_open(&r, path, VFY_STORE_READONLY), VFY_OK);
    cr_assert_eq(vfy_store_generation(r, &g0), VFY_OK);
    cr_assert_eq(vfy_store_generation(r, &g1), VFY_OK);
    cr_assert_eq(g0, g1);
    cr_assert_eq(vfy_store_component_add(w, VFY_COMPONENT_TOOL, "t", NULL, d, NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_generation(r, &g1), VFY_OK);
    cr_assert_gt(g1, g0, "another handle's change is seen");
    cr_assert_eq(vfy_store_component_add(w, VFY_COMPONENT_TOOL, "t", NULL, d, NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_generation(r, &g2), VFY_OK);
    cr_assert_eq(g2, g1, "a no-op does not bump");
    cr_assert_eq(vfy_store_generation(w, &g2), VFY_OK);
    cr_assert_eq(g2, g1, "the writer sees its own change");
    vfy_store_close(&r);
    vfy_store_close(&w);
}

/* A database restored from a backup goes back to an older generation: the
 * next change must not give a value the lost database had given (a reader
 * that cached it would take its caches for current). The generation follows
 * the clock in microseconds, as feed cursors do. */
Test(refstore, generation_not_repeated_after_a_restore)
{
    vfy_store *st = open_new(), *bk = NULL;
    uint64_t at_backup, lost, after;
    uint8_t d[32];
    char backup[200], sql[320];

    snprintf(backup, sizeof(backup), "%s.backup", path);
    unlink(backup);
    vfy_store_set_time(st, 1800000000);
    fill(d, 32, 3);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_TOOL, "t", NULL, d, NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_generation(st, &at_backup), VFY_OK);
    cr_assert_geq(at_backup, (uint64_t)1800000000 * 1000000, "at least the clock in microseconds");
    snprintf(sql, sizeof(sql), "VACUUM INTO '%s'", backup);
    cr_assert_eq(raw_exec(sql), SQLITE_OK);
    /* changes the backup does not have: the lost database's generation */
    fill(d, 32, 4);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_TOOL, "u", NULL, d, NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_component_revoke(st, VFY_COMPONENT_TOOL, "u", NULL, NULL, NULL),
                 VFY_OK);
    cr_assert_eq(vfy_store_generation(st, &lost), VFY_OK);
    cr_assert_gt(lost, at_backup);
    vfy_store_close(&st);
    /* the restored copy, one change later (a second later) */
    cr_assert_eq(vfy_store_open(&bk, backup, VFY_STORE_MIGRATE), VFY_OK);
    vfy_store_set_time(bk, 1800000001);
    fill(d, 32, 5);
    cr_assert_eq(vfy_store_component_add(bk, VFY_COMPONENT_TOOL, "v", NULL, d, NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_generation(bk, &after), VFY_OK);
    cr_assert_gt(after, lost, "past every value the lost database gave (counting on: %llu)",
                 (unsigned long long)(at_backup + 1));
    vfy_store_close(&bk);
    unlink(backup);
}

/* ---- bundles ---- */

Test(refstore, bundle_roundtrip_and_bad_bundles)
{
    vfy_store *st = open_new(), *st2 = NULL;
    char *pem = new_ec_pem(), *b1 = NULL, *b2 = NULL, *before = NULL, *after = NULL;
    static const char pol[] = "{\"id\":\"p\",\"version\":3}";
    char path2[160];
    uint8_t d[32];

    fill(d, 32, 0x5a);
    cr_assert_eq(vfy_store_policy_load(st, pol, strlen(pol), NULL, NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_attester_add(st, "z", (const uint8_t *)pem, strlen(pem), NULL, NULL,
                                        "p", NULL), VFY_OK);
    cr_assert_eq(vfy_store_pcr_add(st, "default", VFY_HASH_SHA256, 4, d, 32, NULL), VFY_OK);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_CONTEXT, "ctx", NULL, d, "n", NULL),
                 VFY_OK);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_MODEL, "m", NULL, d, NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_component_revoke(st, VFY_COMPONENT_MODEL, "m", NULL, NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_export(st, &b1), VFY_OK);

    snprintf(path2, sizeof(path2), "%s/two.db", dir);
    cr_assert_eq(vfy_store_open(&st2, path2, VFY_STORE_CREATE), VFY_OK);
    cr_assert_eq(vfy_store_import(st2, b1, strlen(b1), NULL), VFY_OK);
    cr_assert_eq(vfy_store_export(st2, &b2), VFY_OK);
    cr_assert_str_eq(b1, b2);
    cr_assert_eq(vfy_store_import(st2, b1, strlen(b1), NULL), VFY_OK, "re-import is a no-op");

    /* Bad bundles change nothing. */
    cr_assert_eq(vfy_store_export(st2, &before), VFY_OK);
    cr_assert_eq(vfy_store_import(st2, "{", 1, NULL), VFY_E_BUNDLE);
    {   /* one object and nothing after it but whitespace */
        static const char tail[] = "{\"format\":\"verifierd-refvalues\",\"version\":1} }x";
        static const char ws[] = "{\"format\":\"verifierd-refvalues\",\"version\":1} \n";

        cr_assert_eq(vfy_store_import(st2, tail, strlen(tail), NULL), VFY_E_BUNDLE);
        cr_assert_str_eq(vfy_store_errmsg(st2), "bundle is not one JSON object");
        cr_assert_eq(vfy_store_import(st2, ws, strlen(ws), NULL), VFY_OK);
    }
    {   /* the library's strict JSON: no BOM, integers only */
        static const char bom[] = "\xef\xbb\xbf{\"format\":\"verifierd-refvalues\",\"version\":1}";
        static const char flt[] = "{\"format\":\"verifierd-refvalues\",\"version\":1.5}";

        cr_assert_eq(vfy_store_import(st2, bom, strlen(bom), NULL), VFY_E_BUNDLE);
        cr_assert_str_eq(vfy_store_errmsg(st2), "bundle is not one JSON object");
        cr_assert_eq(vfy_store_import(st2, flt, strlen(flt), NULL), VFY_E_BUNDLE);
        cr_assert_str_eq(vfy_store_errmsg(st2), "bundle is not one JSON object");
    }
    cr_assert_eq(vfy_store_import(st2, "{\"format\":\"x\",\"version\":1}", 26, NULL), VFY_E_BUNDLE);
    {
        static const char extra[] =
            "{\"format\":\"verifierd-refvalues\",\"version\":1,\"tokens\":[]}";
        static const char badkind[] =
            "{\"format\":\"verifierd-refvalues\",\"version\":1,\"components\":["
            "{\"kind\":\"model\",\"name\":\"new\",\"digest\":\"sha256:" 
            "0000000000000000000000000000000000000000000000000000000000000000\","
            "\"state\":\"approved\"},"
            "{\"kind\":\"gadget\",\"name\":\"x\",\"digest\":\"sha256:"
            "0000000000000000000000000000000000000000000000000000000000000000\","
            "\"state\":\"approved\"}]}";

        cr_assert_eq(vfy_store_import(st2, extra, strlen(extra), NULL), VFY_E_BUNDLE);
        cr_assert_eq(vfy_store_import(st2, badkind, strlen(badkind), NULL), VFY_E_BAD_KIND);
    }
    cr_assert_eq(vfy_store_export(st2, &after), VFY_OK);
    cr_assert_str_eq(before, after);
    vfy_free(b1);
    vfy_free(b2);
    vfy_free(before);
    vfy_free(after);
    free(pem);
    vfy_store_close(&st2);
    vfy_store_close(&st);
}

Test(refstore, list_json)
{
    vfy_store *st = open_new();
    char *json = NULL;

    cr_assert_eq(vfy_store_list_json(st, "audit", &json), VFY_OK);
    cr_assert_str_eq(json, "[]");
    vfy_free(json);
    cr_assert_eq(vfy_store_list_json(st, "secrets", &json), VFY_E_BAD_KIND);
    cr_assert_null(json);
    vfy_store_close(&st);
}

/* Pages of a listing: the same rows in the same order as the whole. */
Test(refstore, list_json_pages)
{
    vfy_store *st = open_new();
    char *all = NULL, *json = NULL, name[8];
    cJSON *whole, *page;
    int more = -1;

    for (int i = 0; i < 5; i++) {
        char tok[VFY_STORE_TOKEN_BUF];

        snprintf(name, sizeof(name), "t%d", 4 - i);
        cr_assert_eq(vfy_store_token_add(st, name, VFY_ROLE_ATTEST, tok), VFY_OK);
    }
    cr_assert_eq(vfy_store_list_json(st, "tokens", &all), VFY_OK);
    cr_assert_not_null(whole = cJSON_Parse(all));
    cr_assert_eq(cJSON_GetArraySize(whole), 5);
    for (uint64_t off = 0; off < 5; off += 2) {
        cr_assert_eq(vfy_store_list_json_page(st, "tokens", off, 2, &json, &more), VFY_OK);
        cr_assert_not_null(page = cJSON_Parse(json));
        cr_expect_eq(cJSON_GetArraySize(page), off < 4 ? 2 : 1, "page at %llu",
                     (unsigned long long)off);
        cr_expect_eq(more, off < 4, "more after the page at %llu", (unsigned long long)off);
        for (int k = 0; k < cJSON_GetArraySize(page); k++)
            cr_expect_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(page, k), "name")->valuestring,
                             cJSON_GetObjectItem(cJSON_GetArrayItem(whole, (int)off + k),
                                                 "name")->valuestring);
        cJSON_Delete(page);
        vfy_free(json);
    }
    cr_assert_eq(vfy_store_list_json_page(st, "tokens", 5, 2, &json, &more), VFY_OK);
    cr_expect_str_eq(json, "[]");
    cr_expect_eq(more, 0);
    vfy_free(json);
    cr_assert_eq(vfy_store_list_json_page(st, "tokens", 3, 0, &json, &more), VFY_OK);
    cr_assert_not_null(page = cJSON_Parse(json));
    cr_expect_eq(cJSON_GetArraySize(page), 2, "limit 0: every row from the offset");
    cr_expect_eq(more, 0);
    cJSON_Delete(page);
    vfy_free(json);
    cr_expect_eq(vfy_store_list_json_page(st, "tokens", (uint64_t)INT64_MAX + 1, 1, &json, NULL),
                 VFY_E_INVALID_ARG);
    cr_expect_eq(vfy_store_list_json_page(st, "nope", 0, 1, &json, NULL), VFY_E_BAD_KIND);
    cJSON_Delete(whole);
    vfy_free(all);
    vfy_store_close(&st);
}

/* Rows collected by list_each_collect: each as parsed, and a stop after @stop_at. */
typedef struct collected {
    cJSON *rows;
    int stop_at;   /* 0: never */
} collected;

static int list_each_collect(void *ctx, const char *row_json)
{
    collected *c = ctx;
    cJSON *row = cJSON_Parse(row_json);

    cr_assert(cJSON_IsObject(row), "a row is one JSON object: %s", row_json);
    cr_assert_not_null(strstr(row_json, "\"name\":\t\""), "printed as the array's elements");
    cJSON_AddItemToArray(c->rows, row);
    return c->stop_at > 0 && cJSON_GetArraySize(c->rows) == c->stop_at;
}

/* vfy_store_list_each passes the rows vfy_store_list_json_page lists, one
 * at a time, and stops when its reader asks. */
Test(refstore, list_each_streams_the_rows)
{
    vfy_store *st = open_new();
    collected c = {NULL, 0};
    char *json = NULL, name[8];
    cJSON *page;
    int more = -1;

    for (int i = 0; i < 5; i++) {
        char tok[VFY_STORE_TOKEN_BUF];

        snprintf(name, sizeof(name), "t%d", 4 - i);
        cr_assert_eq(vfy_store_token_add(st, name, VFY_ROLE_ATTEST, tok), VFY_OK);
    }
    cr_assert_eq(vfy_store_list_json_page(st, "tokens", 1, 3, &json, NULL), VFY_OK);
    cr_assert_not_null(page = cJSON_Parse(json));
    c.rows = cJSON_CreateArray();
    cr_assert_eq(vfy_store_list_each(st, "tokens", 1, 3, list_each_collect, &c, &more), VFY_OK);
    cr_expect_eq(more, 1);
    cr_expect(cJSON_Compare(page, c.rows, 1), "the same rows as the page");
    cJSON_Delete(c.rows);
    /* the reader stops it after two rows */
    c.rows = cJSON_CreateArray();
    c.stop_at = 2;
    cr_assert_eq(vfy_store_list_each(st, "tokens", 0, 0, list_each_collect, &c, &more), VFY_E_IO);
    cr_expect_eq(cJSON_GetArraySize(c.rows), 2);
    cr_expect_str_eq(vfy_store_errmsg(st), "listing tokens stopped by its reader");
    cJSON_Delete(c.rows);
    c.rows = cJSON_CreateArray();
    c.stop_at = 0;
    cr_expect_eq(vfy_store_list_each(st, "nope", 0, 0, list_each_collect, &c, NULL),
                 VFY_E_BAD_KIND);
    cr_expect_eq(vfy_store_list_each(st, "tokens", 0, 0, NULL, &c, NULL), VFY_E_INVALID_ARG);
    cr_expect_eq(cJSON_GetArraySize(c.rows), 0);
    cJSON_Delete(c.rows);
    cJSON_Delete(page);
    vfy_free(json);
    vfy_store_close(&st);
}

/* vfy_store_export_max: the bundle of vfy_store_export when it fits @max,
 * VFY_E_TOO_LARGE and nothing when it does not (verifyctl export wrote
 * bundles larger than import accepts). The bound is a parameter, so the
 * check is tested here at a few hundred bytes: verifyctl passes
 * VFY_STORE_BUNDLE_MAX less its newline. */
Test(refstore, export_max_refuses_what_import_would)
{
    vfy_store *st = open_new();
    uint8_t d[32];
    char *full = NULL, *json = NULL, want[96];
    size_t n, len = 9;

    fill(d, 32, 0x5e);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_TOOL, "t", "1", d, "n", NULL), VFY_OK);
    cr_assert_eq(vfy_store_export(st, &full), VFY_OK);
    n = strlen(full);
    cr_assert_gt(n, 100);
    cr_assert_eq(vfy_store_export_max(st, n, &json, &len), VFY_OK, "exactly @max bytes");
    cr_assert_eq(len, n);
    cr_assert_str_eq(json, full);
    vfy_free(json);
    json = NULL;
    cr_assert_eq(vfy_store_export_max(st, VFY_STORE_BUNDLE_MAX, &json, NULL), VFY_OK);
    cr_assert_str_eq(json, full);
    vfy_free(json);
    json = (char *)1;
    len = 0;
    cr_assert_eq(vfy_store_export_max(st, n - 1, &json, &len), VFY_E_TOO_LARGE, "one byte over");
    cr_assert_null(json);
    cr_assert_eq(len, n, "the size it would have had");
    snprintf(want, sizeof(want), "the bundle is %zu bytes, more than %zu", n, n - 1);
    cr_assert_str_eq(vfy_store_errmsg(st), want);
    /* what it refuses is what import refuses above the same bound (a real
     * buffer of that length: reserved address space, never touched) */
    {
        size_t big = (size_t)VFY_STORE_BUNDLE_MAX + 1;
        char *huge = mmap(NULL, big, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

        cr_assert_neq(huge, MAP_FAILED);
        cr_assert_eq(vfy_store_import(st, huge, big, NULL), VFY_E_TOO_LARGE);
        munmap(huge, big);
    }
    cr_assert_eq(vfy_store_export_max(NULL, n, &json, &len), VFY_E_INVALID_ARG);
    cr_assert_eq(len, 0);
    cr_assert_eq(vfy_store_export_max(st, n, NULL, NULL), VFY_E_INVALID_ARG);
    vfy_free(full);
    vfy_store_close(&st);
}

/* ---- tpm2_pcrread output ---- */

Test(refstore, pcrread_parse)
{
    static const char ok[] =
        "  sha1:\n"
        "    0 : 0x0000000000000000000000000000000000000000\n"
        "  sha256:\n"
        "    0 : 0x3D458CFE55CC03EA1F443F1562BEEC8DF51C75E14A9FCF9A7234A13F198E7969\n"
        "    10: 0x0000000000000000000000000000000000000000000000000000000000000001\n"
        "  sha384:\n"
        "    23: 0x" "000000000000000000000000000000000000000000000000"
        "000000000000000000000000000000000000000000000002\n";
    vfy_pcr_values pv;
    size_t skipped = 9, line = 9;

    cr_assert_eq(vfy_store_pcrread_parse(&pv, ok, strlen(ok), &skipped, &line), VFY_OK);
    cr_assert_eq(skipped, 1);
    cr_assert_eq(pv.nbanks, 2);
    cr_assert_eq(pv.banks[0].alg, VFY_HASH_SHA256);
    cr_assert_eq(pv.banks[0].mask, (1u << 0) | (1u << 10));
    cr_assert_eq(pv.banks[0].values[0][0], 0x3d);
    cr_assert_eq(pv.banks[0].values[10][31], 1);
    cr_assert_eq(pv.banks[1].alg, VFY_HASH_SHA384);
    cr_assert_eq(pv.banks[1].mask, 1u << 23);

    {
        static const struct { const char *in; vfy_rc rc; size_t line; } bad[] = {
            {"  sha256:\n    24: 0x" "0000000000000000000000000000000000000000000000000000000000000000\n",
             VFY_E_PCR_BANK, 2},
            {"  sha512:\n", VFY_E_PCR_BANK, 1},
            {"  sha256:\n    0 : 0x00\n", VFY_E_PCR_VALUES, 2},
            {"    0 : 0x" "0000000000000000000000000000000000000000000000000000000000000000\n",
             VFY_E_PCR_VALUES, 1},
            {"  sha256:\n    00: 0x" "0000000000000000000000000000000000000000000000000000000000000000\n",
             VFY_E_PCR_VALUES, 2},
            {"  sha256:\n    1 : 0x" "0000000000000000000000000000000000000000000000000000000000000000\n"
             "    1 : 0x" "0000000000000000000000000000000000000000000000000000000000000000\n",
             VFY_E_PCR_VALUES, 3},
            {"hello world\n", VFY_E_PCR_VALUES, 1},
            {"  sha256:\n    0 : 0xZZ" "00000000000000000000000000000000000000000000000000000000000000\n",
             VFY_E_PCR_VALUES, 2},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            cr_assert_eq(vfy_store_pcrread_parse(&pv, bad[i].in, strlen(bad[i].in), NULL, &line),
                         bad[i].rc, "case %zu", i);
            cr_assert_eq(line, bad[i].line, "case %zu line", i);
            cr_assert_eq(pv.nbanks, 0, "zeroed on failure");
        }
    }
}

/*
 * Retention: vfy_store_results_prune deletes exactly the results issued and
 * expired before the cut-off, oldest first, in batches of at most
 * max_rows, with their revocation-feed entries (and only theirs); each
 * batch leaves an audit row; the last day is protected.
 */
Test(refstore, results_prune_exact_rows_batches_and_guard)
{
    vfy_store *st = open_new();
    char *pem = new_ec_pem();
    size_t n = 99;

    vfy_store_set_time(st, 1000);
    cr_assert_eq(vfy_store_attester_add(st, "a1", (const uint8_t *)pem, strlen(pem), NULL, NULL,
                                        NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_store_result_record(st, "old-1", "a1", 100, 400, "affirming", NULL, 0), VFY_OK);
    cr_assert_eq(vfy_store_result_record(st, "old-2", "a1", 200, 1300, "affirming", NULL, 0),
                 VFY_OK);
    cr_assert_eq(vfy_store_result_record(st, "mid", "a1", 300, 100000, "affirming", NULL, 0),
                 VFY_OK);
    cr_assert_eq(vfy_store_result_record(st, "new", "a1", 95000, 95300, "affirming", NULL, 0),
                 VFY_OK);
    /* revoked at 1000: old-2, mid and new (unexpired then) get feed entries */
    cr_assert_eq(vfy_store_attester_revoke(st, "a1"), VFY_OK);
    cr_assert_eq(count("SELECT count(*) FROM revocations"), 3);

    vfy_store_set_time(st, 200000);
    cr_assert_eq(vfy_store_results_prune(st, 2000, 0, &n), VFY_E_INVALID_ARG);
    cr_assert_eq(n, 0);
    cr_assert_eq(vfy_store_results_prune(st, 2000, VFY_STORE_PRUNE_MAX + 1, &n), VFY_E_INVALID_ARG);
    cr_assert_eq(vfy_store_results_prune(NULL, 2000, 10, &n), VFY_E_INVALID_ARG);
    /* the last VFY_NONCE_MAX_TTL seconds are kept for the restart nonce check */
    cr_assert_eq(vfy_store_results_prune(st, 200000 - (int64_t)VFY_NONCE_MAX_TTL + 1, 10, &n),
                 VFY_E_INVALID_ARG);
    cr_assert_eq(count("SELECT count(*) FROM results"), 4, "a refused prune deletes nothing");

    cr_assert_eq(vfy_store_results_prune(st, 2000, 1, &n), VFY_OK);
    cr_assert_eq(n, 1);
    cr_assert_eq(count("SELECT count(*) FROM results WHERE id = 'old-1'"), 0, "oldest first");
    cr_assert_eq(count("SELECT count(*) FROM results WHERE id = 'old-2'"), 1);
    cr_assert_eq(vfy_store_results_prune(st, 2000, 1, &n), VFY_OK);
    cr_assert_eq(n, 1);
    cr_assert_eq(vfy_store_results_prune(st, 2000, 1, &n), VFY_OK);
    cr_assert_eq(n, 0, "nothing else expired before 2000");
    cr_assert_eq(count("SELECT count(*) FROM results WHERE id IN ('mid', 'new')"), 2);
    cr_assert_eq(count("SELECT count(*) FROM results"), 2);
    cr_assert_eq(count("SELECT count(*) FROM revocations"), 2, "old-2's feed entry went with it");
    cr_assert_eq(count("SELECT count(*) FROM revocations WHERE result_id IN ('mid', 'new')"), 2);
    cr_assert_eq(count("SELECT count(*) FROM audit_log WHERE action = 'results.prune'"), 2,
                 "one audit row per batch that deleted something");
    /* a later cut-off reaches the rest */
    cr_assert_eq(vfy_store_results_prune(st, 100001, 1000, &n), VFY_OK);
    cr_assert_eq(n, 2);
    cr_assert_eq(count("SELECT count(*) FROM revocations"), 0);
    cr_assert_eq(count("SELECT count(*) FROM pragma_foreign_key_check"), 0);
    free(pem);
    vfy_store_close(&st);
}

/* The SHA-256 of audit row @seq's actor, action, object and detail, each
 * followed by a 0 byte, read with SQLite itself from @db_path. */
static void audit_row_digest(const char *db_path, uint64_t seq, uint8_t out[32])
{
    sqlite3 *db;
    sqlite3_stmt *s;
    char buf[4096];
    size_t n = 0;

    cr_assert_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT actor, action, object, detail FROM audit_log"
                                        " WHERE seq = ?1", -1, &s, NULL), SQLITE_OK);
    sqlite3_bind_int64(s, 1, (sqlite3_int64)seq);
    cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
    for (int c = 0; c < 4; c++) {
        size_t len = (size_t)sqlite3_column_bytes(s, c);

        cr_assert_lt(n + len + 1, sizeof(buf));
        memcpy(buf + n, sqlite3_column_text(s, c), len);
        n += len;
        buf[n++] = '\0';
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    cr_assert_eq(vfy_sha256(buf, n, out), VFY_OK);
}

/*
 * vfy_store_audit_row (verifierd's restore interlock): the last row (seq 0)
 * or a given one, with the generation of the same read, identified by its
 * at and the digest of its actor, action, object and detail; an empty log
 * is seq 0; a seq the log lacks is VFY_E_NOT_FOUND with *out zeroed. A copy
 * restored from an older backup and changed again holds another row under
 * the same seq: a different at and digest.
 */
Test(refstore, audit_row_identifies_a_row)
{
    vfy_store *st = open_new(), *cp = NULL;
    vfy_store_audit_id id, one, two, other;
    static const vfy_store_audit_id zero;
    uint8_t d[32], d2[32], want[32];
    char bak[128], sql[200];
    uint64_t gen;

    fill(d, 32, 3);
    fill(d2, 32, 4);
    cr_assert_eq(vfy_store_audit_row(st, 0, &id), VFY_OK);
    cr_assert_eq(id.seq, 0, "an empty log: no row");
    cr_assert_eq(id.at, 0);
    cr_assert_eq(memcmp(id.sha256, zero.sha256, 32), 0);
    cr_assert_eq(vfy_store_generation(st, &gen), VFY_OK);
    cr_assert_eq(id.gen, gen);
    memset(&id, 0xa5, sizeof(id));
    cr_assert_eq(vfy_store_audit_row(st, 1, &id), VFY_E_NOT_FOUND);
    cr_assert_eq(memcmp(&id, &zero, sizeof(id)), 0, "zeroed on failure");

    cr_assert_eq(vfy_store_set_actor(st, "ops"), VFY_OK);
    vfy_store_set_time(st, 1000);
    cr_assert_eq(vfy_store_component_add(st, VFY_COMPONENT_MODEL, "m", "1", d, NULL, NULL),
                 VFY_OK);
    snprintf(bak, sizeof(bak), "%s/backup.db", dir);
    snprintf(sql, sizeof(sql), "VACUUM INTO '%s'", bak);
    cr_assert_eq(raw_exec(sql), SQLITE_OK);
    vfy_store_set_time(st, 2000);
    cr_assert_eq(vfy_store_component_revoke(st, VFY_COMPONENT_MODEL, "m", NULL, NULL, NULL),
                 VFY_OK);

    cr_assert_eq(vfy_store_audit_row(st, 0, &two), VFY_OK);
    cr_assert_eq(count("SELECT max(seq) FROM audit_log"), 2);
    cr_assert_eq(two.seq, 2, "seq 0: the last row");
    cr_assert_eq(two.at, 2000);
    cr_assert_eq(vfy_store_generation(st, &gen), VFY_OK);
    cr_assert_eq(two.gen, gen, "with the generation");
    audit_row_digest(path, 2, want);
    cr_assert_eq(memcmp(two.sha256, want, 32), 0, "SHA-256 of actor, action, object, detail");
    cr_assert_eq(vfy_store_audit_row(st, 2, &id), VFY_OK);
    cr_assert_eq(memcmp(&id, &two, sizeof(id)), 0, "by its seq: the same");
    cr_assert_eq(vfy_store_audit_row(st, 1, &one), VFY_OK);
    cr_assert_eq(one.seq, 1);
    cr_assert_eq(one.at, 1000);
    audit_row_digest(path, 1, want);
    cr_assert_eq(memcmp(one.sha256, want, 32), 0);
    cr_assert_neq(memcmp(one.sha256, two.sha256, 32), 0);
    cr_assert_eq(vfy_store_audit_row(st, 3, &id), VFY_E_NOT_FOUND);
    cr_assert_eq(vfy_store_audit_row(NULL, 0, &id), VFY_E_INVALID_ARG);
    cr_assert_eq(vfy_store_audit_row(st, 0, NULL), VFY_E_INVALID_ARG);
    cr_assert_eq(vfy_store_audit_row(st, (uint64_t)INT64_MAX + 1, &id), VFY_E_INVALID_ARG);

    /* the backup, restored and changed once more: row 1 is there, row 2 is
     * another row (the same seq given again) */
    cr_assert_eq(vfy_store_open(&cp, bak, 0), VFY_OK);
    cr_assert_eq(vfy_store_audit_row(cp, 2, &id), VFY_E_NOT_FOUND);
    cr_assert_eq(vfy_store_audit_row(cp, 1, &id), VFY_OK);
    cr_assert_eq(memcmp(&id.sha256, one.sha256, 32), 0);
    cr_assert_eq(id.at, one.at);
    cr_assert_eq(vfy_store_set_actor(cp, "ops"), VFY_OK);
    vfy_store_set_time(cp, 3000);
    cr_assert_eq(vfy_store_component_revoke(cp, VFY_COMPONENT_MODEL, "m", NULL, NULL, NULL),
                 VFY_OK);
    cr_assert_eq(vfy_store_audit_row(cp, 2, &other), VFY_OK);
    cr_assert_eq(other.seq, 2);
    cr_assert_eq(other.at, 3000);
    /* the same revocation made again: the same fields, so the same digest;
     * its time tells them apart */
    cr_assert_eq(memcmp(other.sha256, two.sha256, 32), 0);
    cr_assert_neq(other.at, two.at);
    cr_assert_eq(vfy_store_component_add(cp, VFY_COMPONENT_MODEL, "m2", "1", d2, NULL, NULL),
                 VFY_OK);
    cr_assert_eq(vfy_store_audit_row(cp, 0, &id), VFY_OK);
    cr_assert_eq(id.seq, 3);
    vfy_store_close(&cp);
    vfy_store_close(&st);
}
