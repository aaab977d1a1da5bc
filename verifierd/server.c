/*
 * server.c — verifierd's HTTPS server on libmicrohttpd (GnuTLS backend).
 *
 * A thread pool (one epoll thread per core by default) serves every
 * connection; each worker thread owns its own SQLite handle (thread-local,
 * closed when the thread exits), so the hot path takes no global lock.
 *
 * verifierd binds the listening socket itself and accepts on it in a
 * thread of its own (accept.c), which hands each connection to the current
 * daemon: that spreads long-lived connections evenly over the workers, and
 * makes reloads seamless: SIGHUP starts a new daemon with the new
 * certificate, sends new connections to it, lets the old one finish its
 * in-flight requests, then stops it. SIGTERM stops accepting, waits for
 * in-flight requests (up to a deadline) and stops.
 *
 * Requests are authenticated from their headers before any body is read:
 * an unauthenticated client can make verifierd read no body at all.
 * Declared or streamed bodies above the endpoint's limit (1 MiB for attest
 * and admin, 4 KiB for challenge, none for GET) get 413.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "vd.h"

struct vd_server *vd_srv;

/* One generation of the daemon; replaced on SIGHUP. */
struct vd_gen {
    struct MHD_Daemon *d;
    atomic_int inflight;
    atomic_int stopping;        /* retire_gen: requests that start now are refused unread */
    struct vd_park_gate gate;   /* its parked answers (commit.c) */
    /* Its worker threads' daemons in the order they got a first connection,
     * and each one's open connections (under track_mu): /metrics. */
    const struct MHD_Daemon *worker[VD_MAX_WORKERS];
    unsigned worker_conns[VD_MAX_WORKERS];
    unsigned nworkers;
};

static struct vd_gen *cur_gen;
static int listen_fd = -1;
static pthread_key_t store_key;
static pthread_once_t store_once = PTHREAD_ONCE_INIT;

/* ---- the store generation, shared by all threads ----
 *
 * Every admin change bumps the store generation; the per-thread caches
 * (attesters, policies, reference values, tokens) are valid while it stays
 * the same. Asking the database on every request costs a read transaction
 * — and, with the committer committing all the time, a table read too. So
 * the housekeeping thread reads it every 100 ms and verifierd's own admin
 * requests read it again as soon as they are done (vd_generation_refresh):
 * a change made here applies to the next request, one made by verifyctl
 * or another replica within ~100 ms.
 */
static _Atomic uint64_t generation_now;
static atomic_int generation_valid;
static _Atomic int64_t generation_read_at;   /* CLOCK_MONOTONIC ms of the last good read */

/* A generation read longer ago than this (the reads failing: a damaged or
 * dropped table, an I/O error) no longer vouches for the token cache. */
#define GENERATION_FRESH_MS 1000

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static vfy_rc shared_generation(void *ctx, uint64_t *gen)
{
    (void)ctx;
    if (!atomic_load(&generation_valid))
        return VFY_E_DB_BUSY;
    *gen = atomic_load(&generation_now);
    return VFY_OK;
}

/* Read and publish under one lock: two readers (the checkpointer, a worker
 * after its admin change) publish in the order they read, so an older value
 * read first and stored last cannot undo a newer one for ~100 ms (and keep a
 * revoked token cached that long). Not a maximum: a restored database's
 * generation may go back. */
static pthread_mutex_t generation_mu = PTHREAD_MUTEX_INITIALIZER;

static vfy_rc generation_read(vfy_store *st, uint64_t *out)
{
    uint64_t gen;
    vfy_rc rc;

    pthread_mutex_lock(&generation_mu);
    rc = vfy_store_generation(st, &gen);
    if (rc == VFY_OK) {
        atomic_store(&generation_now, gen);
        atomic_store(&generation_valid, 1);
        atomic_store(&generation_read_at, mono_ms());
        if (out != NULL)
            *out = gen;
    }
    pthread_mutex_unlock(&generation_mu);
    return rc;
}

void vd_generation_refresh(void)
{
    vfy_store *st = vd_store();
    vfy_rc rc = st != NULL ? generation_read(st, NULL) : VFY_E_DB_OPEN;

    if (rc != VFY_OK)
        vd_log("warn", "reading the store generation: %s", vfy_strerror(rc));
}

/* ---- the restore interlock: DB.high-water ----
 *
 * A database restored from a backup (or replaced by another) brings back
 * everything revoked since the backup: attesters, components, PCR values
 * and tokens are valid again, and nothing in the database says so. So
 * verifierd keeps, in a file beside the database, DB.high-water (mode
 * 0600, written aside and renamed into place, synced as the key files
 * are), what it last served from it:
 *
 *   1752146400123456                        the store generation
 *   audit 4711 1752146400 <64 hex digits>   the last audit-log row then
 *
 * The row line is "audit SEQ AT SHA256" (vfy_store_audit_row: its seq, its
 * time and a digest of its actor, action, object and detail), or "audit
 * none" for an empty log; both lines come from one snapshot. A file of the
 * first line alone is the format of 0.2.7's first interlock: it is read as
 * a generation with no row, and written again in this format.
 *
 * At start a database is refused (VD_EXIT_RESTORED) when
 *   - its generation is below the file's. Every admin change raises the
 *     generation (to at least the clock in microseconds) in the
 *     transaction that writes its audit row, so on one database it only
 *     goes up. It is the only check when the file names no row (the first
 *     format, an empty log);
 *   - or it does not hold the recorded row: that seq with that time and
 *     digest and, when it is the database's last row, at the recorded
 *     generation (the generation moves only with a row: the same change
 *     made again within the same second has another one). The log is
 *     append-only, so a copy restored from a backup taken before the row
 *     lacks it, even after changes made on the copy, which raise its
 *     generation past the file's whenever the clock is ahead of it and
 *     give the lost seq numbers to other rows; and any other database
 *     holds other rows. With a row recorded, this check refuses every
 *     database the first one does (one that holds the row has its
 *     generation or a later one); the first is kept for files without a
 *     row, and says "older", which is what a restore is.
 * --accept-restored-db starts on it anyway (once the operator has
 * re-applied the revocations) and records it. What neither check sees: a
 * backup taken after the recorded row, when the changes it lacks were
 * never recorded (made while no verifierd ran on the database, a write
 * that failed, the 100 ms before a crash); and a restored DB.high-water.
 *
 * The housekeeping thread records every change it sees, and reports a
 * database restored or replaced under the running server (sqlite3
 * .restore: the generation goes down, or the row recorded last is gone),
 * which it then records: the operator has been told.
 *
 * Replicas on one database share the file. Each re-reads it before a
 * write and writes only a higher generation (except to record what it
 * reported), and every row written was read from the database, whose log
 * keeps it: a write that loses a race leaves an older state of the same
 * database, which weakens the check until the next change but never
 * refuses a start. A verifierd whose --db path no longer names the file it
 * opened (moved aside in a restore while it ran) writes nothing: its rows
 * are not in the database now at the path, and would refuse the next start.
 *
 * The start checks the file before anything is served or stored, and
 * writes it only once everything else is in hand, just before it serves
 * (hw_arm): a start that fails (the port taken, say) changes nothing, and
 * one with --accept-restored-db can be tried again as it was.
 *
 * Writing never fails or delays a request: only the start and the
 * housekeeping thread write, and a failure is a warning (once, until a
 * write succeeds again), retried at the next change and every 10 s.
 * A file that cannot be read or parsed is warned about and treated as
 * absent (it is not evidence of a restore, and verifierd never leaves one
 * half-written); it is then rewritten. A temporary file left by a write
 * that was killed before its rename is removed at the next start.
 */
struct hw_mark {
    int has_row;            /* 0: a generation alone (an old-format file) */
    vfy_store_audit_id id;  /* id.gen: the generation; id.seq 0: an empty log */
};

static char *hw_path;     /* DB.high-water */
static const char *hw_db; /* the --db path */
static dev_t hw_db_dev;   /* the file hw_db named at start (hw_db_known) */
static ino_t hw_db_ino;
static int hw_db_known;
/* The rest under hw_mu: the housekeeping thread, and the start's hw_arm. */
static pthread_mutex_t hw_mu = PTHREAD_MUTEX_INITIALIZER;
static struct hw_mark hw_last;  /* read last (at start, then by housekeeping) */
enum hw_pending { HW_DONE, HW_WRITE, HW_FORCE };
static enum hw_pending hw_pending;  /* a write to make (HW_FORCE: recording a fall) */
static unsigned hw_rounds;          /* housekeeping rounds since the failed write */
static int hw_warned;               /* a write failure was logged */
static int hw_moved_said;           /* the --db path no longer names our file: logged */
static int hw_armed;                /* the start is done: writes may be made */
static time_t hw_read_err;          /* the last audit-row read failure logged */

#define HW_FILE_MAX 200   /* the longest well-formed file is about 130 bytes */

static int hw_same(const struct hw_mark *a, const struct hw_mark *b)
{
    return a->id.gen == b->id.gen && a->has_row == b->has_row &&
           (!a->has_row || (a->id.seq == b->id.seq && a->id.at == b->id.at &&
                            memcmp(a->id.sha256, b->id.sha256, sizeof(a->id.sha256)) == 0));
}

/* Decimal digits at *@p (at most 20, no sign) into *@v; @p moves past them. */
static int hw_digits(const char **p, uint64_t *v)
{
    size_t n = strspn(*p, "0123456789");
    char *end;

    if (n == 0 || n > 20)
        return -1;
    errno = 0;
    *v = strtoull(*p, &end, 10);
    if (errno != 0 || end != *p + n)
        return -1;
    *p = end;
    return 0;
}

/* The file at @path: 1 and *@m; 0 if there is no such file; -1 with @why
 * (unreadable, malformed). */
static int hw_read(const char *path, struct hw_mark *m, char *why, size_t cap)
{
    char buf[HW_FILE_MAX + 1];
    const char *p = buf;
    size_t len = 0;
    ssize_t n;
    uint64_t at;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    memset(m, 0, sizeof(*m));
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(why, cap, "cannot read it: %s", strerror(errno));
        return -1;
    }
    while (len < sizeof(buf) - 1 &&
           ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0 || (n < 0 && errno == EINTR)))
        if (n > 0)
            len += (size_t)n;
    if (n < 0)
        snprintf(why, cap, "cannot read it: %s", strerror(errno));
    close(fd);
    if (n < 0)
        return -1;
    buf[len] = '\0';
    if (strlen(buf) != len || len == sizeof(buf) - 1 || hw_digits(&p, &m->id.gen) != 0)
        goto bad;
    if (*p == '\n')
        p++;
    if (*p == '\0')   /* the first format: a generation alone */
        return 1;
    if (p[-1] != '\n' || strncmp(p, "audit ", 6) != 0)
        goto bad;
    p += 6;
    m->has_row = 1;
    if (strncmp(p, "none", 4) == 0) {
        p += 4;
    } else {
        int neg;

        if (hw_digits(&p, &m->id.seq) != 0 || m->id.seq == 0 || *p++ != ' ')
            goto bad;
        if ((neg = *p == '-') != 0)
            p++;
        if (hw_digits(&p, &at) != 0 || at > INT64_MAX || *p++ != ' ')
            goto bad;
        m->id.at = neg ? -(int64_t)at : (int64_t)at;
        for (size_t i = 0; i < sizeof(m->id.sha256); i++) {
            static const char hex[] = "0123456789abcdef";
            const char *hi = p[0] != '\0' ? strchr(hex, p[0]) : NULL;
            const char *lo = hi != NULL && p[1] != '\0' ? strchr(hex, p[1]) : NULL;

            if (lo == NULL)
                goto bad;
            m->id.sha256[i] = (uint8_t)((hi - hex) << 4 | (lo - hex));
            p += 2;
        }
    }
    if (*p == '\n')
        p++;
    if (*p == '\0')
        return 1;
bad:
    memset(m, 0, sizeof(*m));
    snprintf(why, cap, "not a high-water file (want a store generation, then 'audit' and the "
             "last audit-log row)");
    return -1;
}

/* @m into @path: a new file beside it, mode 0600, synced, renamed over it.
 * 0 or an errno. */
static int hw_write(const char *path, const struct hw_mark *m)
{
    char text[HW_FILE_MAX], hex[65];
    size_t n = strlen(path) + sizeof(".XXXXXX");
    char *tmp = malloc(n);
    int fd, len, e = 0;

    if (tmp == NULL)
        return ENOMEM;
    snprintf(tmp, n, "%s.XXXXXX", path);
    if (m->id.seq == 0) {
        len = snprintf(text, sizeof(text), "%llu\naudit none\n", (unsigned long long)m->id.gen);
    } else {
        for (size_t i = 0; i < sizeof(m->id.sha256); i++)
            snprintf(hex + 2 * i, 3, "%02x", m->id.sha256[i]);
        len = snprintf(text, sizeof(text), "%llu\naudit %llu %lld %s\n",
                       (unsigned long long)m->id.gen, (unsigned long long)m->id.seq,
                       (long long)m->id.at, hex);
    }
    if ((fd = mkstemp(tmp)) < 0) {   /* 0600 */
        e = errno;
        free(tmp);
        return e;
    }
    errno = 0;
    if (fchmod(fd, S_IRUSR | S_IWUSR) != 0 || write(fd, text, (size_t)len) != len ||
        fsync(fd) != 0)
        e = errno != 0 ? errno : EIO;
    if (close(fd) != 0 && e == 0)
        e = errno;
    if (e == 0 && rename(tmp, path) != 0)
        e = errno;
    if (e != 0)
        unlink(tmp);
    free(tmp);
    return e;
}

/* 1 (logged once) if the --db path no longer names the file opened at
 * start: moved aside or replaced under this verifierd, which goes on with
 * the file it opened. */
static int hw_db_moved(void)
{
    struct stat sb;
    int moved;

    if (!hw_db_known)
        return 0;
    moved = stat(hw_db, &sb) != 0 || sb.st_dev != hw_db_dev || sb.st_ino != hw_db_ino;
    if (moved && !hw_moved_said)
        vd_log("error", "--db %s is no longer the database this verifierd opened (moved aside "
               "or replaced under it; it goes on with the file it opened): %s is not written "
               "from it any more; stop this verifierd (operator guide §10 step 1)", hw_db,
               hw_path);
    hw_moved_said = moved;
    return moved;
}

/* Record @m: when the file holds an older generation (re-read: replicas
 * write it too), or the same one without a row, or with @force anything
 * else (a fall, told to the operator). A failure is logged once, until a
 * write succeeds, and retried. */
static void hw_record(const struct hw_mark *m, int force)
{
    struct hw_mark held;
    char why[160];
    int r, e;

    if (hw_db_moved()) {   /* retried: the path may name our file again */
        if (hw_pending == HW_DONE)
            hw_pending = force ? HW_FORCE : HW_WRITE;
        hw_rounds = 0;
        return;
    }
    r = hw_read(hw_path, &held, why, sizeof(why));
    if (r == 1 && (force ? hw_same(&held, m)
                         : held.id.gen > m->id.gen || (held.id.gen == m->id.gen && held.has_row)))
        e = 0;
    else
        e = hw_write(hw_path, m);
    if (e == 0) {
        if (hw_warned)
            vd_log("info", "high-water file %s written again (store generation %llu)", hw_path,
                   (unsigned long long)m->id.gen);
        hw_pending = HW_DONE;
        hw_warned = 0;
        return;
    }
    if (!hw_warned)
        vd_log("warn", "writing the high-water file %s: %s (the restore check at the next "
               "start compares with an older value; retried)", hw_path, strerror(e));
    hw_warned = 1;
    if (hw_pending == HW_DONE)
        hw_pending = force ? HW_FORCE : HW_WRITE;
    hw_rounds = 0;
}

/* Remove DB.high-water.XXXXXX beside the database (mkstemp's six letters
 * and digits): a write killed between mkstemp and rename leaves one. Only
 * regular files not modified within a minute: a replica's write in
 * flight is younger. At start. */
static void hw_sweep(void)
{
    const char *slash = strrchr(hw_path, '/');
    const char *base = slash != NULL ? slash + 1 : hw_path;
    size_t blen = strlen(base), dlen = slash != NULL ? (size_t)(slash - hw_path) : 0;
    char *dir = malloc(dlen + 2);
    time_t now = time(NULL);
    struct dirent *e;
    DIR *d;

    if (dir == NULL)
        return;
    if (slash == NULL)
        snprintf(dir, dlen + 2, ".");
    else
        snprintf(dir, dlen + 2, "%.*s", (int)(dlen > 0 ? dlen : 1), dlen > 0 ? hw_path : "/");
    if ((d = opendir(dir)) == NULL) {
        free(dir);
        return;
    }
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        struct stat sb;
        size_t i;

        if (strlen(name) != blen + 7 || strncmp(name, base, blen) != 0 || name[blen] != '.')
            continue;
        for (i = blen + 1; i < blen + 7; i++)
            if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
                  (name[i] >= '0' && name[i] <= '9')))
                break;
        if (i < blen + 7 || fstatat(dirfd(d), name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(sb.st_mode) || (sb.st_mtime > now - 60 && sb.st_mtime < now + 60))
            continue;
        if (unlinkat(dirfd(d), name, 0) == 0)
            vd_log("info", "removed %s/%s, left by a high-water write that never finished "
                   "(verifierd killed while writing it)", dir, name);
        else
            vd_log("warn", "cannot remove %s/%s, left by a high-water write that never "
                   "finished: %s", dir, name, strerror(errno));
    }
    closedir(d);
    free(dir);
}

/* "2026-12-06T03:45:25Z" */
static const char *hw_time(int64_t at, char *buf, size_t cap)
{
    time_t t = (time_t)at;
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, cap, "%lld", (long long)at);
    return buf;
}

/* Whether the database @st, whose generation and last audit row are @now,
 * holds the row @held records (as held->id.seq: a seq is given again, to
 * another row, after a restore): 1 yes, or @held names no row; 0 no, with
 * @tail saying how; -1 when it cannot be read (the store's message). */
static int hw_holds(vfy_store *st, const struct hw_mark *held, const struct hw_mark *now,
                    char *tail, size_t cap)
{
    vfy_store_audit_id there;
    char t[32];
    vfy_rc rc;

    if (!held->has_row || held->id.seq == 0)
        return 1;
    if (now->id.seq == held->id.seq) {
        there = now->id;
    } else if ((rc = vfy_store_audit_row(st, held->id.seq, &there)) == VFY_E_NOT_FOUND) {
        snprintf(tail, cap, "the database's log ends at row %llu", (unsigned long long)now->id.seq);
        return 0;
    } else if (rc != VFY_OK) {
        return -1;
    }
    if (there.at != held->id.at || memcmp(there.sha256, held->id.sha256, 32) != 0) {
        snprintf(tail, cap, "the database's row %llu is another, of %s",
                 (unsigned long long)held->id.seq, hw_time(there.at, t, sizeof(t)));
        return 0;
    }
    /* The generation moves only with a row: a log that ends at the row
     * recorded has the generation recorded with it, or the row was made
     * again (the same change within the same second, after a restore). */
    if (now->id.seq == held->id.seq && now->id.gen != held->id.gen) {
        snprintf(tail, cap, "the database's row %llu is another, at store generation %llu, "
                 "not %llu", (unsigned long long)held->id.seq, (unsigned long long)now->id.gen,
                 (unsigned long long)held->id.gen);
        return 0;
    }
    return 1;
}

/* At start, with the store @st open: 0 to go on, 1 (logged) to refuse a
 * database that is not the one the file records (restored or replaced),
 * -1 (logged) when the database cannot be read. Writes nothing: the write
 * waits for hw_arm. Before the housekeeping thread starts. */
static int hw_start(const struct vd_config *cfg, vfy_store *st)
{
    size_t n = strlen(cfg->db_path) + sizeof(".high-water");
    struct hw_mark held, now;
    char why[160], t1[32], detail[400] = "";
    struct stat sb;
    int r, kind = 0;   /* 1: an older generation; 2: the recorded row missing */
    vfy_rc rc;

    if ((hw_path = malloc(n)) == NULL) {
        vd_log("error", "out of memory");
        return -1;
    }
    snprintf(hw_path, n, "%s.high-water", cfg->db_path);
    hw_db = cfg->db_path;
    hw_db_known = stat(cfg->db_path, &sb) == 0;
    hw_db_dev = hw_db_known ? sb.st_dev : 0;
    hw_db_ino = hw_db_known ? sb.st_ino : 0;
    hw_sweep();
    memset(&now, 0, sizeof(now));
    now.has_row = 1;
    if ((rc = vfy_store_audit_row(st, 0, &now.id)) != VFY_OK) {
        vd_log("error", "--db %s: reading the audit log: %s: %s", cfg->db_path, vfy_strerror(rc),
               vfy_store_errmsg(st));
        return -1;
    }
    hw_last = now;
    r = hw_read(hw_path, &held, why, sizeof(why));
    if (r < 0)
        vd_log("warn", "high-water file %s: %s; ignored (this start cannot tell whether the "
               "database was restored from a backup) and written again", hw_path, why);
    if (r == 1 && now.id.gen < held.id.gen) {
        kind = 1;
        snprintf(detail, sizeof(detail), "store generation %llu, %s records %llu",
                 (unsigned long long)now.id.gen, hw_path, (unsigned long long)held.id.gen);
    } else if (r == 1) {
        char tail[200];

        switch (hw_holds(st, &held, &now, tail, sizeof(tail))) {
        case 1:
            break;
        case 0:
            kind = 2;
            snprintf(detail, sizeof(detail), "%s records audit row %llu of %s; %s", hw_path,
                     (unsigned long long)held.id.seq, hw_time(held.id.at, t1, sizeof(t1)),
                     tail);
            break;
        default:
            vd_log("error", "--db %s: reading the audit log: %s", cfg->db_path,
                   vfy_store_errmsg(st));
            return -1;
        }
    }
    if (kind != 0 && !cfg->accept_restored_db) {
        vd_log("error", "--db %s: the database %s (%s): restored from a backup or replaced? "
               "Revocations made after the backup are undone; re-apply them (operator guide "
               "§10 step 4), then start once with --accept-restored-db (or remove %s)",
               cfg->db_path, kind == 1 ? "is older than the one this verifierd last served"
                                       : "lacks the last change this verifierd served",
               detail, hw_path);
        return 1;
    }
    if (kind != 0)
        vd_log("warn", "--db %s: starting on a database %s (%s), as --accept-restored-db says: "
               "revocations made after its backup stay undone unless re-applied (operator "
               "guide §10 step 4); remove --accept-restored-db now", cfg->db_path,
               kind == 1 ? "older than the one this verifierd last served"
                         : "that lacks the last change this verifierd served", detail);
    else if (cfg->accept_restored_db && r == 1)
        vd_log("warn", "--accept-restored-db: the database is not older than %s records%s, "
               "nothing to accept; remove the flag, or a later restore will start without a "
               "word", hw_path, held.has_row && held.id.seq != 0 ? " and holds its audit row" : "");
    else if (cfg->accept_restored_db && r == 0)
        vd_log("warn", "--accept-restored-db: there is no %s (a first start, or it was "
               "removed), nothing to compare with; remove the flag, or a later restore will "
               "start without a word", hw_path);
    else if (cfg->accept_restored_db)
        vd_log("warn", "--accept-restored-db: %s cannot be read (above), so whether the "
               "database was restored is not known; remove the flag, or a later restore will "
               "start without a word", hw_path);
    hw_pending = kind != 0 ? HW_FORCE : HW_WRITE;
    return 0;
}

/* The start is done (about to serve): record what was read last. */
static void hw_arm(void)
{
    pthread_mutex_lock(&hw_mu);
    hw_armed = 1;
    if (hw_pending != HW_DONE)
        hw_record(&hw_last, hw_pending == HW_FORCE);
    pthread_mutex_unlock(&hw_mu);
}

/* Housekeeping, after each good read of the store generation (@gen, on
 * @st, the housekeeping connection). A change is read again with its audit
 * row; before hw_arm it is only noted, for hw_arm to write. */
static void hw_watch(vfy_store *st, uint64_t gen)
{
    struct hw_mark m;
    char t1[32], tail[200];
    int lost = 0;
    vfy_rc rc;

    if (hw_path == NULL)
        return;
    pthread_mutex_lock(&hw_mu);
    if (gen == hw_last.id.gen) {
        /* nothing new: a failed write is retried every 10 s */
        if (hw_pending != HW_DONE && hw_armed && ++hw_rounds >= 100)
            hw_record(&hw_last, hw_pending == HW_FORCE);
        pthread_mutex_unlock(&hw_mu);
        return;
    }
    memset(&m, 0, sizeof(m));
    m.has_row = 1;
    rc = vfy_store_audit_row(st, 0, &m.id);
    /* the row recorded last: the log keeps it, unless the database was
     * restored or replaced under us */
    if (rc == VFY_OK && m.id.gen >= hw_last.id.gen) {
        int holds = hw_holds(st, &hw_last, &m, tail, sizeof(tail));

        if (holds < 0)
            rc = VFY_E_DB;
        lost = holds == 0;
    }
    if (rc != VFY_OK) {   /* read again at the next round */
        if (time(NULL) - hw_read_err >= 60) {
            vd_log("warn", "reading the audit log: %s: %s (the high-water file is written "
                   "once it can be read)", vfy_strerror(rc), vfy_store_errmsg(st));
            hw_read_err = time(NULL);
        }
        pthread_mutex_unlock(&hw_mu);
        return;
    }
    if (m.id.gen < hw_last.id.gen) {
        vd_log("error", "store generation went back from %llu to %llu: the database was "
               "restored or replaced under verifierd; revocations made after its backup are "
               "undone until re-applied (operator guide §10 step 4)",
               (unsigned long long)hw_last.id.gen, (unsigned long long)m.id.gen);
        vd_metrics_generation_regression();
        hw_pending = HW_FORCE;
    } else if (lost) {
        vd_log("error", "the database no longer holds audit row %llu of %s, the last one "
               "verifierd saw (%s): it was restored or replaced under verifierd; revocations "
               "made after its backup are undone until re-applied (operator guide §10 step 4)",
               (unsigned long long)hw_last.id.seq, hw_time(hw_last.id.at, t1, sizeof(t1)), tail);
        vd_metrics_generation_regression();
        hw_pending = HW_FORCE;
    } else if (m.id.gen == hw_last.id.gen) {
        pthread_mutex_unlock(&hw_mu);   /* read before a change, now the same again */
        return;
    } else if (hw_pending == HW_DONE) {
        hw_pending = HW_WRITE;
    }
    hw_last = m;
    if (hw_armed)
        hw_record(&hw_last, hw_pending == HW_FORCE);
    pthread_mutex_unlock(&hw_mu);
}

/* ---- per-thread store and appraiser ---- */

/* Tokens looked up by this thread, valid while the store generation (bumped
 * by every admin change, token revocation included) stays the same. */
#define TOKEN_SLOTS 16

struct token_entry {
    int used;
    uint8_t sha[32];
    char name[VFY_STORE_NAME_MAX + 1];
    vfy_token_role role;
    int64_t expires_at;   /* 0: never */
};

struct worker {
    vfy_store *st;
    vfy_appraiser *ap;
    uint64_t token_gen;
    struct token_entry tokens[TOKEN_SLOTS];
};

static void store_destroy(void *p)
{
    struct worker *w = p;

    vfy_appraiser_free(&w->ap);
    vfy_store_close(&w->st);
    free(w);
}

static void store_key_init(void)
{
    pthread_key_create(&store_key, store_destroy);
}

static struct worker *worker(void)
{
    struct worker *w;
    vfy_appraiser_config ac;
    vfy_rc rc;

    pthread_once(&store_once, store_key_init);
    w = pthread_getspecific(store_key);
    if (w != NULL)
        return w;
    if ((w = calloc(1, sizeof(*w))) == NULL)
        return NULL;
    rc = vfy_store_open(&w->st, vd_srv->cfg->db_path, 0);
    if (rc == VFY_OK) {
        memset(&ac, 0, sizeof(ac));
        ac.default_policy = vd_srv->cfg->default_policy;
        ac.profile = vd_srv->cfg->ear_legacy ? VFY_EAR_PROFILE_VERAISON : VFY_EAR_PROFILE_IETF;
        ac.record_results = 1;
        ac.committer = vd_srv->committer;
        ac.generation = shared_generation;
        rc = vfy_appraiser_new(&w->ap, w->st, &ac);
    }
    if (rc != VFY_OK) {
        vd_log("error", "open %s: %s", vd_srv->cfg->db_path, vfy_strerror(rc));
        store_destroy(w);
        return NULL;
    }
    (void)vfy_store_set_actor(w->st, "verifierd");
    if (vfy_store_set_autocheckpoint(w->st, 0) != VFY_OK)   /* the checkpointer does it */
        vd_log("warn", "wal_autocheckpoint: %s", vfy_store_errmsg(w->st));
    pthread_setspecific(store_key, w);
    return w;
}

vfy_store *vd_store(void)
{
    struct worker *w = worker();

    return w != NULL ? w->st : NULL;
}

vfy_rc vd_token_lookup(const uint8_t sha[32], char *name, vfy_token_role *role,
                       int64_t *expires_at)
{
    struct worker *w = worker();
    struct token_entry *e;
    uint64_t gen;
    vfy_rc rc;

    if (w == NULL)
        return VFY_E_DB_OPEN;
    if ((rc = shared_generation(NULL, &gen)) != VFY_OK)
        return rc;
    if (gen != w->token_gen) {
        memset(w->tokens, 0, sizeof(w->tokens));
        w->token_gen = gen;
    }
    if (mono_ms() - atomic_load(&generation_read_at) > GENERATION_FRESH_MS) {
        /* nothing says the cache is current (a token revoked since would
         * stay good for as long as the reads fail): the store answers */
        memset(w->tokens, 0, sizeof(w->tokens));
        return vfy_store_token_lookup_at(w->st, sha, name, role, expires_at);
    }
    e = &w->tokens[sha[0] % TOKEN_SLOTS];
    if (!e->used || CRYPTO_memcmp(e->sha, sha, 32) != 0) {   /* as the store compares */
        /* only known tokens are cached: unknown ones always ask the store */
        if ((rc = vfy_store_token_lookup_at(w->st, sha, e->name, &e->role, &e->expires_at)) !=
            VFY_OK) {
            e->used = 0;
            return rc;
        }
        memcpy(e->sha, sha, 32);
        e->used = 1;
    }
    memcpy(name, e->name, sizeof(e->name));
    *role = e->role;
    *expires_at = e->expires_at;   /* checked at every use: the cache outlives it */
    return VFY_OK;
}

vfy_appraiser *vd_appraiser(void)
{
    struct worker *w = worker();

    return w != NULL ? w->ap : NULL;
}

/* ---- request deadlines (slow clients) ----
 *
 * libmicrohttpd's connection timeout is an idle timeout that every byte
 * resets, so a client trickling one header line a second would hold its
 * connection slot forever. Every connection is tracked here with the phase
 * it is in; a watchdog thread shuts down (shutdown(2); the daemon then
 * closes it) any connection that has spent more than --timeout seconds
 * waiting for a complete request or receiving a request body, whether
 * bytes trickle in or not. A connection whose request is being handled is
 * never cut.
 */
enum conn_phase { PH_WAITING, PH_RECEIVING, PH_HANDLING };

struct conn_track {
    int fd;
    int cut;                    /* the watchdog shut it down (fd stays, for the close) */
    enum conn_phase phase;
    struct vd_gen *gen;         /* the daemon generation that accepted it */
    unsigned worker;            /* index in gen->worker */
    int served;                 /* a request on it has completed */
    uint8_t ip[17];             /* the peer's address (vd_peer_ip); family 0: unknown */
    struct timespec since;
    struct conn_track *prev, *next;
};

static pthread_mutex_t track_mu = PTHREAD_MUTEX_INITIALIZER;
static struct conn_track *tracked;
static unsigned tracked_n;   /* connections open, every generation */
static pthread_t watchdog;
static int watchdog_running;
static atomic_int watchdog_stop;

static void track_set(struct MHD_Connection *c, enum conn_phase ph)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct conn_track *t = ci != NULL ? ci->socket_context : NULL;

    if (t == NULL)
        return;
    pthread_mutex_lock(&track_mu);
    /* One --timeout for a whole request: its deadline runs from the
     * connection's start for a first request (the TLS handshake, the
     * headers and the body share it), from the request line for a
     * keep-alive connection's next one; moving on to the headers or the
     * body does not start it again. */
    if (ph != PH_RECEIVING || (t->phase == PH_WAITING && t->served))
        clock_gettime(CLOCK_MONOTONIC, &t->since);
    t->phase = ph;
    if (ph == PH_WAITING)   /* only after a request completed */
        t->served = 1;
    pthread_mutex_unlock(&track_mu);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct conn_track *t;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *di =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_DAEMON);
        struct vd_gen *g = cls;

        if (ci == NULL)
            return;
        if ((t = calloc(1, sizeof(*t))) == NULL) {
            vd_accept_started(ci->connect_fd);
            return;
        }
        t->fd = ci->connect_fd;
        {
            const union MHD_ConnectionInfo *ai =
                MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

            if (ai == NULL || ai->client_addr == NULL || vd_peer_ip(ai->client_addr, t->ip) != 0)
                memset(t->ip, 0, sizeof(t->ip));
        }
        t->phase = PH_WAITING;
        t->gen = g;
        clock_gettime(CLOCK_MONOTONIC, &t->since);
        pthread_mutex_lock(&track_mu);
        /* In a thread pool each connection belongs to a worker's daemon. */
        for (t->worker = 0; t->worker < g->nworkers; t->worker++)
            if (di != NULL && g->worker[t->worker] == di->daemon)
                break;
        if (t->worker == g->nworkers && g->nworkers < VD_MAX_WORKERS)
            g->worker[g->nworkers++] = di != NULL ? di->daemon : NULL;
        if (t->worker < g->nworkers)
            g->worker_conns[t->worker]++;
        t->next = tracked;
        if (tracked != NULL)
            tracked->prev = t;
        tracked = t;
        tracked_n++;
        pthread_mutex_unlock(&track_mu);
        vd_tls_hold_start(c, t->fd);
        vd_accept_started(t->fd);   /* counted in tracked_n from here on */
        *socket_context = t;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && (t = *socket_context) != NULL) {
        vd_tls_hold_end(t->fd);
        pthread_mutex_lock(&track_mu);
        if (t->prev != NULL)
            t->prev->next = t->next;
        else
            tracked = t->next;
        if (t->next != NULL)
            t->next->prev = t->prev;
        tracked_n--;
        if (t->worker < t->gen->nworkers)
            t->gen->worker_conns[t->worker]--;
        pthread_mutex_unlock(&track_mu);
        free(t);
        *socket_context = NULL;
    }
}

unsigned vd_conn_from(const uint8_t ip[17], const int *pending, unsigned npending)
{
    unsigned n = npending;

    pthread_mutex_lock(&track_mu);
    for (const struct conn_track *t = tracked; t != NULL; t = t->next) {
        if (memcmp(t->ip, ip, sizeof(t->ip)) != 0)
            continue;
        n++;
        for (unsigned i = 0; i < npending; i++)
            if (pending[i] == t->fd) {   /* started, not yet off the list: once */
                n--;
                break;
            }
    }
    pthread_mutex_unlock(&track_mu);
    return n;
}

unsigned vd_conn_open(void)
{
    unsigned n;

    pthread_mutex_lock(&track_mu);
    n = tracked_n;
    pthread_mutex_unlock(&track_mu);
    return n;
}

static unsigned worker_threads(const struct vd_config *cfg);

size_t vd_conn_per_worker(unsigned *out, size_t max)
{
    size_t n = 0, all = vd_srv != NULL && vd_srv->cfg != NULL ? worker_threads(vd_srv->cfg) : 0;

    pthread_mutex_lock(&track_mu);
    if (cur_gen != NULL)
        for (; n < cur_gen->nworkers && n < max; n++)
            out[n] = cur_gen->worker_conns[n];
    pthread_mutex_unlock(&track_mu);
    /* workers that have not had a connection yet hold none (libmicrohttpd
     * names a worker only through a connection it runs) */
    for (; n < all && n < max; n++)
        out[n] = 0;
    return n;
}

/* ---- housekeeping: store generation and WAL checkpoints ----
 *
 * Every 100 ms, on a connection of its own: the store generation (see
 * shared_generation), and a passive WAL checkpoint. Request connections
 * never checkpoint: SQLite would otherwise copy the WAL into the database,
 * fsyncs included, inside whichever commit crossed 1000 pages — a pause
 * for every request waiting on that group commit. A passive checkpoint
 * never blocks readers or writers, but it never shortens the WAL either,
 * and SQLite starts the WAL over only when a write begins with every frame
 * copied and no reader in the WAL: under steady load (a group commit every
 * millisecond, reads always in flight) that moment never comes and the
 * file grew by ~50 MB/s without bound. So once the WAL passes
 * --wal-limit-mib a restarting checkpoint runs: the committer waits for
 * it (about a millisecond, plus the database fsync on a disk, once every
 * second or so at full load) and the next commit writes the WAL from its
 * start again, so the file stays about that size. It gives up after
 * VD_WAL_RESTART_WAIT_MS rather than stall writes behind a long reader,
 * and then tries less often. Shutdown also truncates the file to zero
 * bytes.
 */
static pthread_t checkpointer;
static int checkpointer_running;
static atomic_int checkpointer_stop;

static void *checkpointer_main(void *arg)
{
    vfy_store *st = arg;
    time_t last_err = 0;
    /* in WAL frames: pages of the database's page size (4 KiB by default) */
    int limit = (int)((uint64_t)vd_srv->cfg->wal_limit_mib * 1024 * 1024 / 4096);
    unsigned backoff = 0, skip = 0; /* rounds to wait after a restart gave up */

    while (!atomic_load(&checkpointer_stop)) {
        vfy_rc rc;
        int pages = 0;
        uint64_t gen;

        usleep(100000);
        if ((rc = generation_read(st, &gen)) == VFY_OK)
            hw_watch(st, gen);
        else if (time(NULL) - last_err >= 60) {
            vd_log("warn", "reading the store generation: %s: %s", vfy_strerror(rc),
                   vfy_store_errmsg(st));
            last_err = time(NULL);
        }
        rc = vfy_store_checkpoint(st, &pages, NULL);
        if (rc == VFY_OK && pages >= limit && skip > 0) {
            skip--;
        } else if (rc == VFY_OK && pages >= limit) {
            /* writes wait while it runs: 20 ms at most, then back off (a
             * long reader holds the WAL; 1, 2, 4 ... 64 rounds) */
            rc = vfy_store_checkpoint_restart(st, 0, VD_WAL_RESTART_WAIT_MS, NULL, NULL);
            vd_metrics_wal_restart(rc == VFY_OK);
            if (rc == VFY_OK) {
                pages = 0;
                backoff = 0;
            } else if (rc == VFY_E_DB_BUSY) {
                backoff = backoff == 0 ? 1 : backoff >= 64 ? 64 : backoff * 2;
                skip = backoff;
                rc = VFY_OK;
            }
        }
        vd_metrics_wal_pages(pages);
        if (rc != VFY_OK && rc != VFY_E_DB_BUSY && time(NULL) - last_err >= 60) {
            vd_log("warn", "WAL checkpoint: %s: %s", vfy_strerror(rc), vfy_store_errmsg(st));
            last_err = time(NULL);
        }
    }
    /* nothing is being served any more: wait as long as it takes */
    if (vfy_store_checkpoint_restart(st, 1, 5000, NULL, NULL) != VFY_OK)
        vd_log("info", "final WAL checkpoint: %s", vfy_store_errmsg(st));
    return NULL;
}

static void *watchdog_main(void *arg)
{
    struct vd_server *s = arg;
    double limit = s->cfg->conn_timeout_s > 0 ? s->cfg->conn_timeout_s : 30;

    while (!atomic_load(&watchdog_stop)) {
        struct timespec now;

        usleep(250000);
        clock_gettime(CLOCK_MONOTONIC, &now);
        pthread_mutex_lock(&track_mu);
        for (struct conn_track *t = tracked; t != NULL; t = t->next) {
            double age = (double)(now.tv_sec - t->since.tv_sec) +
                         (now.tv_nsec - t->since.tv_nsec) / 1e9;

            if (t->phase != PH_HANDLING && age > limit && !t->cut) {
                shutdown(t->fd, SHUT_RDWR);
                t->cut = 1; /* once */
            }
        }
        pthread_mutex_unlock(&track_mu);
    }
    return NULL;
}

/* ---- routing ---- */

struct route {
    const char *method;   /* NULL: any (the handler checks) */
    const char *path;
    int prefix;           /* path is a prefix */
    enum vd_endpoint ep;
    int role;             /* 0: public, else vfy_token_role */
    size_t body_limit;
    vd_handler fn;
};

static const struct route routes[] = {
    {"POST", "/v1/challenge", 0, VD_EP_CHALLENGE, VFY_ROLE_ATTEST, 4096, vd_api_challenge},
    {"POST", "/v1/attest", 0, VD_EP_ATTEST, VFY_ROLE_ATTEST, VD_ATTEST_BODY_MAX, vd_api_attest},
    {"GET", "/v1/keys", 0, VD_EP_KEYS, 0, 0, vd_api_keys},
    {"GET", "/v1/results/", 1, VD_EP_RESULTS, VFY_ROLE_ATTEST, 0, vd_api_result},
    {"GET", "/v1/revocations", 0, VD_EP_REVOCATIONS, VFY_ROLE_ATTEST, 0, vd_api_revocations},
    {NULL, "/v1/admin/", 1, VD_EP_ADMIN, VFY_ROLE_ADMIN, VD_MAX_BODY, vd_api_admin},
    {"GET", "/healthz", 0, VD_EP_HEALTH, 0, 0, vd_api_health},
    {"GET", "/metrics", 0, VD_EP_METRICS, 0, 0, vd_api_metrics},
    {"GET", "/.well-known/verifierd", 0, VD_EP_WELLKNOWN, 0, 0, vd_api_wellknown},
};

static const struct route *find_route(const char *method, const char *url, int *bad_method)
{
    const struct route *path_match = NULL;

    *bad_method = 0;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        const struct route *r = &routes[i];
        size_t n = strlen(r->path);
        int match = r->prefix ? strncmp(url, r->path, n) == 0 && url[n] != '\0'
                              : strcmp(url, r->path) == 0;

        if (!match)
            continue;
        path_match = r;
        if (r->method == NULL || strcmp(method, r->method) == 0 ||
            (strcmp(r->method, "GET") == 0 && strcmp(method, "HEAD") == 0))
            return r;
    }
    *bad_method = path_match != NULL;
    return path_match;
}

/* ---- request life cycle ---- */

/*
 * 12 random bytes for a request id (a log and X-Request-Id correlation id:
 * unique and not guessable from the traffic, not a secret). Taken from a
 * per-thread pool refilled by RAND_bytes every 20 requests, not one
 * RAND_bytes call each (~2 us with OpenSSL 3.0's locking and fork check,
 * a request id per request). Sound here because verifierd never forks: a
 * forked child would repeat its parent's pool. 0 on success.
 */
#define REQ_ID_RND 12
static int req_id_bytes(uint8_t out[REQ_ID_RND])
{
    static __thread uint8_t pool[REQ_ID_RND * 20];
    static __thread size_t used = sizeof(pool);

    if (used == sizeof(pool)) {
        if (RAND_bytes(pool, sizeof(pool)) != 1)
            return -1;
        used = 0;
    }
    memcpy(out, pool + used, REQ_ID_RND);
    used += REQ_ID_RND;
    return 0;
}

static struct vd_req *req_new(void)
{
    struct vd_req *r = calloc(1, sizeof(*r));
    uint8_t rnd[REQ_ID_RND];

    if (r == NULL)
        return NULL;
    clock_gettime(CLOCK_MONOTONIC, &r->start);
    if (req_id_bytes(rnd) != 0 ||
        vfy_b64url_encode(r->id, sizeof(r->id), rnd, sizeof(rnd)) != VFY_OK)
        snprintf(r->id, sizeof(r->id), "unknown");
    r->ep = VD_EP_OTHER;
    return r;
}

/*
 * Past its limit a body of unstated length (chunked) is read and dropped
 * for this much more, so that one ending soon gets its 413 (libmicrohttpd
 * answers only once the body has ended); beyond it the connection is
 * closed instead of being read for as long as the client sends.
 */
#define VD_DISCARD_MAX (1024 * 1024)

static int body_append(struct vd_req *r, const char *data, size_t n)
{
    if (r->too_large || n > r->limit - r->len) {
        r->too_large = 1;
        r->discarded += n;
        return 0;
    }
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        char *nb;

        while (cap < r->len + n + 1)
            cap *= 2;
        if (cap > r->limit + 1)
            cap = r->limit + 1;
        if ((nb = realloc(r->body, cap)) == NULL) {
            r->too_large = 1;
            return -1;
        }
        r->body = nb;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = '\0';
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct vd_gen *g = cls;
    struct vd_req *r = *con_cls;
    const struct route *rt;
    int bad_method, done;

    (void)version;
    if (r == NULL) {
        const char *cl, *framing;
        char why[128];

        if ((r = req_new()) == NULL)
            return MHD_NO;
        *con_cls = r;
        r->gate = &g->gate;
        atomic_fetch_add(&g->inflight, 1);
        /* After inflight is raised (retire_gen reads them the other way
         * round): a request starting on a stopping generation is closed
         * before anything is read or consumed, and the client retries on
         * a new connection, which the new generation gets. */
        if (atomic_load(&g->stopping)) {
            r->dropped = 1;
            return MHD_NO;
        }
        track_set(c, PH_RECEIVING);
        snprintf(r->method, sizeof(r->method), "%s", method);
        snprintf(r->path, sizeof(r->path), "%s", url);
        rt = find_route(method, url, &bad_method);
        if (rt != NULL)
            r->ep = rt->ep;
        /* Framing first, whatever the path: an answer to a request whose
         * body may be hidden in its headers closes the connection, so that
         * body is never read as a request of its own (smuggling). */
        if ((framing = vd_framing_error(c, why, sizeof(why))) != NULL) {
            r->close = 1;
            return vd_problem(c, r, 400, framing);
        }
        if (rt == NULL)
            return vd_problem(c, r, 404, "no such endpoint");
        if (bad_method)
            return vd_problem(c, r, 405, rt->method != NULL && strcmp(rt->method, "GET") == 0
                                             ? "allowed: GET, HEAD" : "allowed: POST");
        r->limit = rt->body_limit;
        /* The admin routes share one entry: their GET and HEAD (listings,
         * export) take no body, like every other GET. */
        if (rt->method == NULL && (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0))
            r->limit = 0;
        cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl != NULL) {
            char *end;
            unsigned long long n;

            /* Not reached with libmicrohttpd 0.9.75: it answers a
             * Content-Length of anything but digits (400) or beyond 2^64
             * (413) itself, before on_request (docs/api.md). Kept for a
             * version that would pass one through: then the body's end is
             * unknown, and the connection is closed. */
            errno = 0;
            n = strtoull(cl, &end, 10);
            if (errno != 0 || *end != '\0' || end == cl) {
                r->close = 1;
                return vd_problem(c, r, 400, "bad Content-Length");
            }
            if (n > r->limit)
                return vd_problem(c, r, 413, r->limit == 0 ? "this endpoint takes no body"
                                                           : "request body too large");
        } else if (r->limit == 0 &&
                   MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                               MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL) {
            /* a body of unstated length where none is taken: refused now,
             * not read to its end (it could go on until the timeout) */
            return vd_problem(c, r, 413, "this endpoint takes no body");
        }
        if (rt->role != 0) {
            enum MHD_Result ret;

            if (vd_store() == NULL)
                return vd_problem(c, r, 503, "reference-value store unavailable");
            ret = vd_auth(c, r, (vfy_token_role)rt->role, &done);
            if (done)
                return ret;
        }
        return MHD_YES;
    }
    if (r->parked)   /* resumed: its group commit is done */
        return vd_commit_answer(c, r);
    if (r->status != 0) {
        /* A response is already queued (early error): drop the body. */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        if (body_append(r, upload_data, *upload_data_size) != 0 ||
            r->discarded > VD_DISCARD_MAX) {
            /* Far past the limit: closed now rather than read to the end
             * (logged as 413). */
            r->status = 413;
            return MHD_NO;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->too_large)
        return vd_problem(c, r, 413, "request body too large");
    rt = find_route(method, url, &bad_method);
    track_set(c, PH_HANDLING);
    if (rt->role == VFY_ROLE_ADMIN && strcmp(method, "GET") != 0) {
        /* An admin change applies to the very next request, on any thread. */
        enum MHD_Result ret = rt->fn(c, r, method, url);

        vd_generation_refresh();
        return ret;
    }
    return rt->fn(c, r, method, url);
}

/*
 * The request line has arrived (libmicrohttpd's URI log callback, before
 * the headers): from here the connection is in the middle of a request —
 * also a keep-alive connection's next one, which would otherwise look
 * idle — so a reload or stop waits for it (gen_busy), and its deadline
 * runs from now. *con_cls stays NULL.
 */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)uri;
    track_set(c, PH_RECEIVING);
    return NULL;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct vd_gen *g = cls;
    struct vd_req *r = *con_cls;
    const union MHD_ConnectionInfo *ci;
    struct timespec now;
    double secs;

    /* A header kept back with no body after it (not expected): sent now. */
    if (vd_tls_hold_flush(c) != 0)
        vd_log("debug", "an answer's header could not be sent at completion (connection "
               "closing or its buffer full); connection shut down");
    track_set(c, PH_WAITING);   /* also for an answer libmicrohttpd made itself */
    if (r == NULL) {
        /* No request context but an answer: libmicrohttpd made it after
         * the request line (on_uri) and before on_request (a malformed or
         * too large Content-Length, headers too large; docs/api.md). One
         * log line for it; method and path are not known here. (An answer
         * made while reading the request line, 505 or 414, comes here not
         * at all.) */
        uint8_t rnd[REQ_ID_RND];
        char id[VD_ID_LEN + 1];

        ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_HTTP_STATUS);
        if (ci != NULL && ci->http_status != 0) {
            if (req_id_bytes(rnd) != 0 ||
                vfy_b64url_encode(id, sizeof(id), rnd, sizeof(rnd)) != VFY_OK)
                snprintf(id, sizeof(id), "unknown");
            vd_log_mhd_answer(id, ci->http_status);
        }
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &now);
    secs = (double)(now.tv_sec - r->start.tv_sec) + (now.tv_nsec - r->start.tv_nsec) / 1e9;
    if (r->dropped) {
        vd_metrics_dropped();
        vd_log("debug", "request %s refused unread: its server generation was stopping", r->id);
    } else {
        if (r->status == 0)
            r->status = 499; /* client went away before a response */
        else if (r->queued && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
            vd_log("warn", "request %s: the %u answer was not delivered (connection %s)", r->id,
                   r->status, toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN ? "cut by a stop"
                              : toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? "timed out"
                                                                              : "closed");
        vd_metrics_request(r->ep, r->status, secs);
        vd_log_request(r, r->method, r->path, secs);
    }
    vd_consume_leave(r);   /* one that consumed and never answered */
    vd_commit_release(r);
    free(r->body);
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&g->inflight, 1);
}

static void mhd_logger(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    vd_log("debug", "mhd: %s", msg);
}

/* ---- listening socket ---- */

static int open_listener(const char *listen_spec)
{
    char host[256], port[16];
    const char *colon = strrchr(listen_spec, ':');
    struct addrinfo hints, *res = NULL;
    int fd = -1, one = 1, rc;
    size_t hl;

    if (colon == NULL || colon == listen_spec || colon[1] == '\0') {
        vd_log("error", "--listen %s: expected HOST:PORT", listen_spec);
        return -1;
    }
    hl = (size_t)(colon - listen_spec);
    if (listen_spec[0] == '[' && hl >= 2 && listen_spec[hl - 1] == ']') {
        listen_spec++;
        hl -= 2;
    }
    if (hl >= sizeof(host) || strlen(colon + 1) >= sizeof(port)) {
        vd_log("error", "--listen: address too long");
        return -1;
    }
    memcpy(host, listen_spec, hl);
    host[hl] = '\0';
    snprintf(port, sizeof(port), "%s", colon + 1);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
        vd_log("error", "--listen %s:%s: %s", host, port, gai_strerror(rc));
        return -1;
    }
    fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
        vd_log("error", "--listen %s:%s: %s", host, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static char *read_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;

    if (f == NULL)
        return NULL;
    if ((buf = malloc(max + 1)) == NULL) {
        fclose(f);
        return NULL;
    }
    n = fread(buf, 1, max + 1, f);
    if (n > max || ferror(f)) {   /* too large, or unreadable (a directory) */
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
}

/* ---- keys: the current signing key and the JWKS ---- */

/* Publish every DIR/NAME.pem public key too: results signed by a rotated-out
 * key stay verifiable until they expire. */
static vfy_rc add_old_keys(vfy_jwks *set, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    vfy_rc rc = VFY_OK;

    if (d == NULL) {
        vd_log("error", "--old-keys-dir %s: %s", dir, strerror(errno));
        return VFY_E_IO;
    }
    while (rc == VFY_OK && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name), len;
        char path[4096], *pem;

        if (n < 5 || strcmp(e->d_name + n - 4, ".pem") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if ((pem = read_file(path, 64 * 1024, &len)) == NULL) {
            vd_log("error", "--old-keys-dir: cannot read %s: %s", path,
                   access(path, R_OK) != 0 ? strerror(errno) : "not a file of at most 64 KiB");
            rc = VFY_E_IO;
            break;
        }
        rc = vfy_jwks_add_public_pem(set, pem, len);
        if (rc != VFY_OK)
            vd_log("error", "--old-keys-dir: %s: %s", path, vfy_strerror(rc));
        free(pem);
    }
    closedir(d);
    return rc;
}

/* Why a key file did not load: the system's reason when it cannot be read
 * ("Permission denied", "No such file or directory"), else libverify's. */
static const char *file_error(const char *path, vfy_rc rc)
{
    if (rc == VFY_E_IO && access(path, R_OK) != 0)
        return strerror(errno);
    return vfy_strerror(rc);
}

/*
 * A warning when secret key file @path can be read, or changed, by users
 * other than its owner and group: anyone on the host who can read the
 * signing key signs results, and the nonce key mints nonces of any expiry;
 * one who can write either replaces it. The documented modes (0600, or
 * root:verifierd 0640) pass; the key is used either way (the operator
 * guide's modes are the fix).
 */
static void warn_exposed_key(const char *what, const char *path)
{
    struct stat st;

    if (stat(path, &st) != 0 || !(st.st_mode & (S_IROTH | S_IWOTH | S_IWGRP)))
        return;
    vd_log("warn", "%s %s is %s (mode %04o): %s; chmod o-rwx,g-w it (operator guide: 0600, or "
           "0640 with group verifierd)", what, path,
           st.st_mode & (S_IROTH | S_IWOTH) ? "open to every user on the host"
                                            : "writable by its group",
           (unsigned)(st.st_mode & 07777),
           strcmp(what, "--signing-key") == 0
               ? "whoever reads it can sign results that relying parties accept"
               : "whoever reads it can make nonces of any expiry");
}

static int load_keys(struct vd_server *s, struct vd_keys *out)
{
    vfy_jwks *set = NULL;
    vfy_rc rc;

    memset(out, 0, sizeof(*out));
    warn_exposed_key("--signing-key", s->cfg->signing_key);
    rc = vfy_signing_key_load(&out->current, s->cfg->signing_key);
    if (rc != VFY_OK) {
        char *pem = rc == VFY_E_SIGNING_KEY ? read_file(s->cfg->signing_key, 64 * 1024, NULL) : NULL;

        if (pem != NULL && strstr(pem, "ENCRYPTED") != NULL)
            vd_log("error", "--signing-key %s is encrypted (verifierd needs it unencrypted: its "
                   "file permissions protect it)", s->cfg->signing_key);
        else
            vd_log("error", "--signing-key %s: %s", s->cfg->signing_key,
                   file_error(s->cfg->signing_key, rc));
        vd_free_secret(pem);
        return -1;
    }
    rc = vfy_jwks_new(&set);
    if (rc == VFY_OK)
        rc = vfy_jwks_add(set, out->current);
    if (rc == VFY_OK && s->cfg->old_keys_dir != NULL)
        rc = add_old_keys(set, s->cfg->old_keys_dir);   /* says what failed */
    else if (rc != VFY_OK)
        vd_log("error", "building the JWKS: %s", vfy_strerror(rc));
    if (rc == VFY_OK && (rc = vfy_jwks_to_json(set, &out->jwks)) != VFY_OK)
        vd_log("error", "building the JWKS: %s", vfy_strerror(rc));
    vfy_jwks_free(&set);
    if (rc != VFY_OK) {
        vfy_signing_key_free(&out->current);
        return -1;
    }
    out->jwks_len = strlen(out->jwks);
    return 0;
}

/* --threads, or one per online CPU. */
static unsigned worker_threads(const struct vd_config *cfg)
{
    long n;

    if (cfg->threads != 0)
        return cfg->threads;
    n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 2;
}

static void free_keys(struct vd_keys *k)
{
    vfy_signing_key_free(&k->current);
    vfy_free(k->jwks);
    memset(k, 0, sizeof(*k));
}

static struct vd_gen *start_gen(struct vd_server *s)
{
    struct vd_gen *g = calloc(1, sizeof(*g));
    unsigned threads = worker_threads(s->cfg);

    if (g == NULL)
        return NULL;
    g->d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TLS | MHD_USE_ITC |
            MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET,
        0, NULL, NULL, on_request, g,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
        MHD_OPTION_HTTPS_MEM_CERT, s->tls_cert_pem,
        MHD_OPTION_HTTPS_MEM_KEY, s->tls_key_pem,
        MHD_OPTION_HTTPS_PRIORITIES, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
        MHD_OPTION_THREAD_POOL_SIZE, threads,
        /* accept.c enforces --max-connections over all workers; each
         * worker could hold them all, so none ever reaches its share. */
        MHD_OPTION_CONNECTION_LIMIT, s->cfg->max_connections * threads,
        MHD_OPTION_CONNECTION_TIMEOUT, s->cfg->conn_timeout_s,
        /* Per-connection pool: request line, headers and the read buffer
         * (bodies are copied out as they arrive). libmicrohttpd zeroes the
         * pool between keep-alive requests, so its size is paid per
         * request: 16 KiB holds any sane header set (431 beyond). */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)VD_CONN_MEMORY,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, g,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, g,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
        MHD_OPTION_UNESCAPE_CALLBACK, vd_unescape, NULL,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->cfg->max_conn_per_ip,
        MHD_OPTION_END);
    if (g->d == NULL) {
        free(g);
        return NULL;
    }
    return g;
}

/*
 * Connections of @g that a stop would cut in the middle of something: a
 * request being received or handled, or a connection that has not yet
 * completed a request (TLS handshake, headers on their way — in flight
 * for its client, though no request exists yet). An idle keep-alive
 * connection (a request completed, nothing since) is not counted.
 */
static int gen_busy(const struct vd_gen *g)
{
    int n = 0;

    pthread_mutex_lock(&track_mu);
    for (const struct conn_track *t = tracked; t != NULL; t = t->next)
        if (t->gen == g && !t->cut && (t->phase != PH_WAITING || !t->served))
            n++;
    pthread_mutex_unlock(&track_mu);
    return n;
}

/*
 * @g gets no new connections any more (the accept thread hands them to
 * another daemon, or has stopped). Wait up to @secs for its requests and
 * for its connections still on their way to a first request (the watchdog
 * cuts those that stall beyond --timeout), then stop it: only idle
 * keep-alive connections are closed.
 */
static void retire_gen(struct vd_gen *g, int secs, int reload)
{
    int busy = 0;

    /* On a reload, answers from now on close their connection, so clients
     * move to the new generation. On a stop there is none: keep-alive
     * clients are served to the end of the drain rather than sent to a
     * backlog nobody accepts any more. */
    if (reload)
        atomic_store(&g->gate.draining, 1);
    for (int i = 0; i < secs * 100; i++) {
        /* Handed to @g just before the switch, not started yet: counted
         * first, as accept.c explains, then among the tracked ones. */
        busy = (int)vd_accept_pending(g->d);
        busy += gen_busy(g);
        if (atomic_load(&g->inflight) == 0 && busy == 0)
            break;
        usleep(10000);
    }
    if (atomic_load(&g->inflight) > 0 || busy > 0)
        vd_log("warn", "drain timeout: %d requests in flight, %d connections busy (receiving, "
                       "answering, or not yet started); stopping", atomic_load(&g->inflight), busy);
    /* From here a request that starts on @g is refused unread (on_request);
     * one that started before is answered (bounded below). */
    atomic_store(&g->stopping, 1);
    /* libmicrohttpd aborts the process when a daemon stops with a suspended
     * connection: park no more answers of @g and let the parked ones be
     * resumed (their commit is bounded by the store's busy timeouts). Its
     * attests still in appraisal wait for their commit in the handler. */
    atomic_store(&g->gate.closing, 1);
    for (int i = 1; atomic_load(&g->gate.parked) > 0; i++) {
        if (i % 500 == 0)
            vd_log("warn", "stopping: %d answers still wait for their group commit",
                   atomic_load(&g->gate.parked));
        usleep(10000);
    }
    /* Attests past their nonce (appraising, committing by themselves):
     * their answers are queued before the stop, however long the store
     * makes them wait (bounded by its busy timeouts, as the parked ones).
     * An attest that reaches its nonce from now on is turned away with a
     * 503 and nothing used (vd_consume_enter). */
    atomic_store(&g->gate.cutting, 1);
    for (int i = 1; atomic_load(&g->gate.consuming) > 0; i++) {
        if (i % 500 == 0)
            vd_log("warn", "stopping: %d attestations still being recorded",
                   atomic_load(&g->gate.consuming));
        usleep(10000);
    }
    /* Answers queued go out before the stop closes their connections: 5 s
     * more at most (the drain at most), for a client that does not read. */
    for (int i = 0; atomic_load(&g->inflight) > 0 && i < (secs < 5 ? secs : 5) * 100; i++)
        usleep(10000);
    if (atomic_load(&g->inflight) > 0)
        vd_log("warn", "stopping with %d requests unfinished (an answer not yet read by its "
               "client, or a request still being received)", atomic_load(&g->inflight));
    MHD_stop_daemon(g->d);
    vd_accept_forget(g->d);
    free(g);
}

/* Why read_file(@path, @max) failed, for the log. */
static const char *unreadable_why(const char *path, size_t max)
{
    struct stat sb;

    if (stat(path, &sb) != 0 || access(path, R_OK) != 0)
        return strerror(errno);
    if (S_ISDIR(sb.st_mode))
        return "is a directory";
    if ((size_t)sb.st_size > max)
        return "larger than 1 MiB";
    return "read error";
}

static int load_tls(struct vd_server *s, char **cert, char **key)
{
    *cert = read_file(s->cfg->tls_cert, 1 << 20, NULL);
    *key = read_file(s->cfg->tls_key, 1 << 20, NULL);
    if (*cert == NULL || *key == NULL) {
        const char *path = *cert == NULL ? s->cfg->tls_cert : s->cfg->tls_key;

        vd_log("error", "cannot read %s %s: %s", *cert == NULL ? "--tls-cert" : "--tls-key",
               path, unreadable_why(path, 1 << 20));
        free(*cert);
        if (*key != NULL)
            vd_free_secret(*key);
        *cert = *key = NULL;
        return -1;
    }
    return 0;
}

/*
 * After a restart (or kill -9) the in-memory used-nonce set is empty. Every
 * nonce that got an answer was recorded with its result before the answer
 * was sent, so marking the still-live ones used again keeps nonces
 * single-use across restarts. A nonce begins with its big-endian expiry, so
 * asking the store for the nonces that sort at or after now + 1
 * (vfy_nonce_expiry_prefix) reads only
 * the unexpired ones: expired nonces are neither copied nor HMAC'd, and the
 * memory and HMACs here follow the live nonces. The results read are those
 * of vfy_store_nonce_window(): the last longest-nonce-TTL seconds (the
 * store keeps how long before its expiry any nonce was used), not a day.
 */
static int remember_used_nonces(struct vd_server *s)
{
    vfy_store *st = vd_store();
    uint8_t (*v)[32] = NULL, min[VFY_NONCE_EXPIRY_LEN];
    size_t n = 0, live = 0, full = 0;
    uint64_t now = vd_now(), first_live = now + 1;
    int64_t since = 0;
    vfy_rc rc;

    if (st == NULL)
        return -1;
    if ((rc = vfy_store_nonce_window(st, (int64_t)now, &since)) != VFY_OK) {
        vd_log("error", "reading the used-nonce window: %s", vfy_strerror(rc));
        return -1;
    }
    if ((rc = vfy_nonce_expiry_prefix(first_live, min)) != VFY_OK) {
        vd_log("error", "clock out of range for nonces: %s", vfy_strerror(rc));
        return -1;
    }
    rc = vfy_store_recent_nonces_from(st, since, min, sizeof(min), &v, &n);
    if (rc != VFY_OK) {
        vd_log("error", "reading recently used nonces: %s", vfy_strerror(rc));
        return -1;
    }
    /* The nonces expired by now are not reloaded: each counts as swept, so a
     * clock stepped back after the start does not make one of them look
     * unused (the restart dropped them as a sweep would). The mark is the
     * latest expiry among them (vfy_store_results_nonce_expiry_max: with
     * the newest result's issue time, a bound that holds): marking no
     * further, a start while the clock ran ahead does not refuse fresh
     * nonces once it is corrected. (The newest result's issue time plus the
     * lead went too far: the lead is the largest ever seen, so after one
     * nonce of an hour-long policy such a start made fresh nonces
     * "expired" for as long as the clock had been ahead.) */
    {
        int64_t last = 0;
        uint64_t mark = now, latest = 0;

        if ((rc = vfy_store_results_last_iat(st, &last)) != VFY_OK ||
            (rc = vfy_store_results_nonce_expiry_max(st, last - ((int64_t)now - since),
                                                     first_live, &latest)) != VFY_OK) {
            vd_log("error", "reading the newest results: %s", vfy_strerror(rc));
            vfy_free(v);
            return -1;
        }
        if (last > 0 && (uint64_t)last > latest)
            latest = (uint64_t)last;
        if (latest < mark)
            mark = latest;   /* 0 with no result: no used nonce to keep out */
        vfy_nonce_cache_mark_swept(s->nonce_cache, mark);
    }
    for (size_t i = 0; i < n; i++) {
        /* Not reloaded: another key's (forged) nonces, and repeats of one nonce. */
        rc = vfy_nonce_consume(s->nonce_key, s->nonce_cache, v[i], 32, now, NULL);
        if (rc == VFY_OK)
            live++;
        else if (rc == VFY_E_NONCE_CACHE_FULL)
            full++;
    }
    vfy_free(v);
    vd_log("info", "reloaded %zu unexpired used nonces (of %zu read, from results of the last "
           "%lld s); they stay used", live, n, (long long)((int64_t)now - since));
    if (full > 0)
        vd_log("warn", "used-nonce cache full at start: %zu unexpired used nonces could not be "
               "reloaded and may be accepted again once room frees up; raise --nonce-cache",
               full);
    return 0;
}

/*
 * Every connection is a descriptor. A shell's soft limit is usually 1024,
 * which --max-connections 1024 plus the database files, epoll and event
 * descriptors exceed: connections past it would be refused (EMFILE) below
 * the limit the operator set, and a reload would fail for want of
 * descriptors. Raise the soft limit toward the hard one; say so if that is
 * not enough. (The systemd unit sets LimitNOFILE=65536.)
 */
static void raise_nofile(const struct vd_config *cfg)
{
    struct rlimit rl;
    /* Per worker: its epoll, event and database descriptors; then the
     * committer's and housekeeping's databases, logs and the listener. */
    rlim_t need = (rlim_t)cfg->max_connections + 64 + 8 * (rlim_t)worker_threads(cfg);

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
        return;
    if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need)
        rl.rlim_cur = need;
    else
        rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || getrlimit(RLIMIT_NOFILE, &rl) != 0)
        rl.rlim_cur = 0;
    if (rl.rlim_cur < need)
        vd_log("warn", "open-file limit %llu is below what --max-connections %u needs (%llu): "
               "connections past it are refused; raise it (ulimit -n, LimitNOFILE)",
               (unsigned long long)rl.rlim_cur, cfg->max_connections, (unsigned long long)need);
}

/* libmicrohttpd's fatal errors: one JSON line like every other, then the
 * abort it expects (it cannot go on after a panic). */
static void mhd_panic(void *cls, const char *file, unsigned int line, const char *reason)
{
    (void)cls;
    vd_log("error", "libmicrohttpd fatal error at %s:%u: %s", file != NULL ? file : "?", line,
           reason != NULL ? reason : "(no reason)");
    abort();
}

static int tls_pair_ok(const char *cert, const char *key, int64_t *not_after);

/* Days before its expiry from which the served certificate is warned about. */
#define TLS_EXPIRY_WARN_DAYS 30

/* Say when the certificate just taken into service expires: an error if it
 * has (relying parties refuse it), a warning within TLS_EXPIRY_WARN_DAYS;
 * and publish its expiry as a metric, for alerts. */
static void tls_expiry_say(const struct vd_config *cfg, int64_t not_after)
{
    int64_t left = not_after - (int64_t)time(NULL);
    char when[32];

    vd_metrics_tls_expiry(not_after);
    if (not_after <= 0)   /* unknown, or before 1970: nothing sensible to print */
        return;
    vd_rfc3339(when, (uint64_t)not_after);
    if (left <= 0)
        vd_log("error", "--tls-cert %s expired at %s: clients refuse it; install a new "
               "certificate and send SIGHUP", cfg->tls_cert, when);
    else if (left < (int64_t)TLS_EXPIRY_WARN_DAYS * 86400)
        vd_log("warn", "--tls-cert %s expires in %lld day(s), at %s: renew it and send SIGHUP",
               cfg->tls_cert, (long long)((left + 86399) / 86400), when);
}

/* The log line for what tls_pair_ok() returned (@pair, not 0). */
static void tls_pair_error(const struct vd_config *cfg, int pair, const char *prefix,
                           const char *suffix)
{
    if (pair == -2)
        vd_log("error", "%s--tls-key %s is encrypted (verifierd needs it unencrypted: its file "
               "permissions protect it)%s", prefix, cfg->tls_key, suffix);
    else
        vd_log("error", "%s--tls-cert %s and --tls-key %s are not a valid certificate and "
               "matching key%s", prefix, cfg->tls_cert, cfg->tls_key, suffix);
}

/* errno of a link() that failed because the file system has no hard links. */
static int no_hard_links(int e)
{
    return e == EPERM || e == EOPNOTSUPP || e == ENOTSUP || e == ENOSYS || e == EMLINK;
}

/* Copy the small file @from to @to, which must not exist (O_EXCL), mode
 * 0600, synced. 0 or an errno (EEXIST: another made @to first). */
static int copy_new_file(const char *from, const char *to)
{
    char buf[256];
    ssize_t n;
    int in = open(from, O_RDONLY | O_CLOEXEC), out, e = 0;

    if (in < 0)
        return errno;
    n = read(in, buf, sizeof(buf));
    e = n < 0 ? errno : 0;
    close(in);
    if (n < 0 || (size_t)n == sizeof(buf)) {
        OPENSSL_cleanse(buf, sizeof(buf));
        return e != 0 ? e : EFBIG;
    }
    if ((out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
        e = errno;
        OPENSSL_cleanse(buf, sizeof(buf));
        return e;
    }
    errno = 0;
    if (write(out, buf, (size_t)n) != n || fsync(out) != 0)
        e = errno != 0 ? errno : EIO;
    OPENSSL_cleanse(buf, sizeof(buf));
    if (close(out) != 0 && e == 0)
        e = errno;
    if (e != 0)
        unlink(to);
    return e;
}

int vd_server_start(struct vd_server *s)
{
    vfy_rc rc;
    int pair;
    int64_t not_after;

    vd_srv = s;
    MHD_set_panic_func(mhd_panic, NULL);
    s->started = vd_now();
    raise_nofile(s->cfg);
    if (load_keys(s, &s->keys) != 0)
        return -1;
    if (load_tls(s, &s->tls_cert_pem, &s->tls_key_pem) != 0)
        return -1;
    if ((pair = tls_pair_ok(s->tls_cert_pem, s->tls_key_pem, &not_after)) != 0) {
        tls_pair_error(s->cfg, pair, "", "");
        return -1;
    }
    tls_expiry_say(s->cfg, not_after);
    if (s->cfg->nonce_key == NULL) {
        /* Default: a key file next to the database, created on first start,
         * so nonces survive a restart. Replicas pass the same --nonce-key. */
        size_t n = strlen(s->cfg->db_path) + sizeof(".nonce-key");

        if ((s->cfg->nonce_key = malloc(n)) == NULL)
            return -1;
        snprintf(s->cfg->nonce_key, n, "%s.nonce-key", s->cfg->db_path);
        if (access(s->cfg->nonce_key, F_OK) != 0) {
            /* Written aside, then linked into place, which never replaces a
             * key another verifierd starting on this database made in the
             * meantime (a rename would: each would hold its own key, and
             * the nonces of one would be forged at the other). Both then
             * load the one on disk. */
            size_t tn = strlen(s->cfg->nonce_key) + 32;
            char *tmp = malloc(tn);
            int linked = 0, said = 0;

            if (tmp == NULL)
                return -1;
            snprintf(tmp, tn, "%s.new.%ld", s->cfg->nonce_key, (long)getpid());
            if ((rc = vfy_nonce_key_generate(&s->nonce_key)) == VFY_OK)
                rc = vfy_nonce_key_save(s->nonce_key, tmp);
            vfy_nonce_key_free(&s->nonce_key);
            if (rc == VFY_OK && link(tmp, s->cfg->nonce_key) == 0)
                linked = 1;
            else if (rc == VFY_OK && errno != EEXIST) {
                int e = errno;

                /* A file system without hard links: the key is copied into
                 * place with O_EXCL, which still never replaces another's
                 * (one that loads it half-written fails to start). */
                if (no_hard_links(e) && (e = copy_new_file(tmp, s->cfg->nonce_key)) == 0)
                    linked = 1;
                else if (e == EEXIST)
                    e = 0;   /* another verifierd made it first: load that */
                if (e != 0) {
                    vd_log("error", "creating nonce key %s: %s (create one with `openssl rand "
                           "-hex 32 > FILE`, mode 0600, and pass --nonce-key FILE)",
                           s->cfg->nonce_key, strerror(e));
                    rc = VFY_E_IO;
                    said = 1;
                }
            }
            unlink(tmp);
            free(tmp);
            if (rc != VFY_OK) {
                /* the key could not be written beside the database (its
                 * directory not writable, the disk full, ...) */
                if (!said)
                    vd_log("error", "creating nonce key %s: %s (is its directory writable? or "
                           "create one with `openssl rand -hex 32 > FILE`, mode 0600, and pass "
                           "--nonce-key FILE)", s->cfg->nonce_key, vfy_strerror(rc));
                return -1;
            }
            if (linked)
                vd_log("info", "created nonce key %s", s->cfg->nonce_key);
        }
    }
    warn_exposed_key("--nonce-key", s->cfg->nonce_key);
    rc = vfy_nonce_key_load(&s->nonce_key, s->cfg->nonce_key);
    if (rc != VFY_OK) {
        vd_log("error", "--nonce-key %s: %s", s->cfg->nonce_key, file_error(s->cfg->nonce_key, rc));
        return -1;
    }
    if ((rc = vfy_nonce_cache_new(&s->nonce_cache, s->cfg->nonce_cache)) != VFY_OK) {
        vd_log("error", "nonce cache: %s", vfy_strerror(rc));
        return -1;
    }
    /* Group commit: appraisals of all worker threads share commits (an
     * answer is sent only after the commit that made its result durable). */
    if ((rc = vfy_store_open(&s->commit_st, s->cfg->db_path, 0)) != VFY_OK ||
        (rc = vfy_store_set_actor(s->commit_st, "verifierd")) != VFY_OK ||
        (rc = vfy_store_set_autocheckpoint(s->commit_st, 0)) != VFY_OK ||
        (rc = vfy_committer_new(&s->committer, s->commit_st, s->cfg->commit_batch)) != VFY_OK ||
        (rc = vfy_committer_set_retention(s->committer,
                                          (int64_t)s->cfg->results_keep_days * 86400, 0)) != VFY_OK ||
        (rc = vfy_store_open(&s->ckpt_st, s->cfg->db_path, 0)) != VFY_OK) {
        vd_log("error", "open %s: %s", s->cfg->db_path, vfy_strerror(rc));
        return -1;
    }
    /* the generation the workers' caches start from */
    if ((rc = generation_read(s->ckpt_st, NULL)) != VFY_OK) {
        vd_log("error", "reading the store generation: %s", vfy_strerror(rc));
        return -1;
    }
    /* a database that is not the one served last (restored from a backup,
     * replaced) is refused before anything is served or stored */
    switch (hw_start(s->cfg, s->ckpt_st)) {
    case 0:
        break;
    case 1:
        s->start_exit = VD_EXIT_RESTORED;
        return -1;
    default:
        return -1;
    }
    atomic_store(&checkpointer_stop, 0);
    if (pthread_create(&checkpointer, NULL, checkpointer_main, s->ckpt_st) != 0) {
        vd_log("error", "cannot start the checkpoint thread");
        return -1;
    }
    checkpointer_running = 1;
    if (vd_commit_start(s) != 0) {
        vd_log("error", "cannot start the group-commit thread");
        return -1;
    }
    if (remember_used_nonces(s) != 0)
        return -1;
    s->rl = vd_ratelimit_new(s->cfg->rate_per_s, s->cfg->rate_burst);
    pthread_rwlock_init(&s->keys_lock, NULL);
    if ((listen_fd = open_listener(s->cfg->listen)) < 0)
        return -1;
    {   /* the port bound, which differs from the spec's with port 0 (no
         * thread reads cfg->listen yet) */
        struct sockaddr_storage sa;
        socklen_t sl = sizeof(sa);
        const char *colon = strrchr(s->cfg->listen, ':');
        unsigned port = 0;
        char *bound;
        size_t n;

        if (getsockname(listen_fd, (struct sockaddr *)&sa, &sl) == 0)
            port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                                  : ((struct sockaddr_in *)&sa)->sin_port);
        /* With port 0, what the discovery fallback and --dev print is the
         * port bound, not 0. */
        n = (size_t)(colon - s->cfg->listen) + 8;
        if (port != 0 && (bound = malloc(n)) != NULL) {
            snprintf(bound, n, "%.*s:%u", (int)(colon - s->cfg->listen), s->cfg->listen, port);
            free(s->cfg->listen);
            s->cfg->listen = bound;
        }
    }
    {   /* one slot per descriptor verifierd may hold (raised above); 8 bytes each */
        struct rlimit rl;
        size_t nfds = 65536;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
            rl.rlim_cur < nfds)
            nfds = (size_t)rl.rlim_cur;
        if (vd_tls_hold_init(nfds) != 0) {
            vd_log("error", "out of memory");
            return -1;
        }
    }
    if ((cur_gen = start_gen(s)) == NULL) {
        vd_log("error", "cannot start the HTTPS daemon (bad certificate or key?)");
        return -1;
    }
    s->daemon = cur_gen->d;
    /* Keys, certificate, database, port and daemon are in hand: only now
     * are the --policy files stored (main checked them), so that a start
     * that fails on any of those changes no policy another verifierd on
     * the database uses. Nothing is served yet: connections reach the
     * daemon through the accept thread, started below. */
    if (vd_load_policies(s->cfg) != 0)
        return -1;
    hw_arm();   /* about to serve: DB.high-water records the generation */
    if (vd_accept_start(listen_fd, cur_gen->d, s->cfg->max_connections,
                        s->cfg->max_conn_per_ip) != 0) {
        vd_log("error", "cannot start the accept thread");
        return -1;
    }
    atomic_store(&watchdog_stop, 0);
    if (pthread_create(&watchdog, NULL, watchdog_main, s) != 0) {
        vd_log("error", "cannot start the request-deadline watchdog");
        return -1;
    }
    watchdog_running = 1;
    vd_log("info", "verifierd %s listening on https://%s", VFY_VERSION_STRING, s->cfg->listen);
    return 0;
}

int vd_no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

/* 0 if the PEM certificate and key parse and belong together; -2 if the key
 * is encrypted. A reload checks this before it starts a daemon with them, so
 * that the log names the files. *@not_after: the certificate's expiry (Unix
 * seconds; 0 if unknown). */
static int tls_pair_ok(const char *cert, const char *key, int64_t *not_after)
{
    BIO *bc, *bk;
    X509 *x;
    EVP_PKEY *k;
    struct tm tm;

    *not_after = 0;

    if (strstr(key, "ENCRYPTED") != NULL)   /* PKCS#8 or a legacy Proc-Type header */
        return -2;
    bc = BIO_new_mem_buf(cert, -1);
    bk = BIO_new_mem_buf(key, -1);
    x = bc != NULL ? PEM_read_bio_X509(bc, NULL, vd_no_passphrase, NULL) : NULL;
    k = bk != NULL ? PEM_read_bio_PrivateKey(bk, NULL, vd_no_passphrase, NULL) : NULL;
    int ok = x != NULL && k != NULL && X509_check_private_key(x, k) == 1;

    if (ok && ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1)
        *not_after = (int64_t)timegm(&tm);
    X509_free(x);
    EVP_PKEY_free(k);
    BIO_free(bc);
    BIO_free(bk);
    return ok ? 0 : -1;
}

/* The closing line of a reload: what was reloaded and what was kept. */
static int reload_done(int policies_ok, int keys_ok, int tls_ok)
{
    int ok = policies_ok && keys_ok && tls_ok;

    char status[200];

    vd_metrics_reload(ok);
    if (ok)
        vd_log("info", "reloaded policies, signing keys and TLS certificate");
    else
        vd_log("warn", "reload incomplete: policies %s, signing keys %s, TLS certificate %s "
               "(see the lines above)", policies_ok ? "reloaded" : "kept",
               keys_ok ? "reloaded" : "KEPT", tls_ok ? "reloaded" : "KEPT");
    /* systemctl status shows whether the last reload took */
    snprintf(status, sizeof(status), "READY=1\nSTATUS=%s",
             ok ? "serving; last reload complete"
                : "serving; last reload INCOMPLETE (see the log: something kept its old value)");
    vd_notify(status);
    return ok ? 0 : -1;
}

int vd_server_reload(struct vd_server *s)
{
    struct vd_keys nk, ok;
    char *cert, *key, *oc, *okey;
    struct vd_gen *old = cur_gen, *g;
    int policies_ok = 1, keys_ok = 1, pair;
    int64_t not_after;

    if (vd_load_policies(s->cfg) != 0) {
        vd_log("warn", "reload: a --policy file failed (see above); none of them stored, the stored policies stay");
        policies_ok = 0;
    }
    if (load_keys(s, &nk) != 0) {
        vd_log("error", "reload: keeping the old signing key");
        keys_ok = 0;
    } else {
        pthread_rwlock_wrlock(&s->keys_lock);
        ok = s->keys;
        s->keys = nk;
        pthread_rwlock_unlock(&s->keys_lock);
        free_keys(&ok);
    }
    if (load_tls(s, &cert, &key) != 0) {
        vd_log("error", "reload: keeping the old TLS certificate");
        return reload_done(policies_ok, keys_ok, 0);
    }
    if ((pair = tls_pair_ok(cert, key, &not_after)) != 0) {
        tls_pair_error(s->cfg, pair, "reload: ", "; keeping the old ones");
        free(cert);
        vd_free_secret(key);
        return reload_done(policies_ok, keys_ok, 0);
    }
    oc = s->tls_cert_pem;
    okey = s->tls_key_pem;
    s->tls_cert_pem = cert;
    s->tls_key_pem = key;
    /* The running daemon gets new connections until the new one runs. */
    if ((g = start_gen(s)) == NULL) {
        vd_log("error", "reload: cannot start a server with the new certificate (refused, "
               "or out of descriptors or memory: see the log above); keeping the old one");
        s->tls_cert_pem = oc;
        s->tls_key_pem = okey;
        free(cert);
        vd_free_secret(key);
        return reload_done(policies_ok, keys_ok, 0);
    }
    vd_accept_set_daemon(g->d);
    pthread_mutex_lock(&track_mu);   /* vd_conn_per_worker() reads it */
    cur_gen = g;
    pthread_mutex_unlock(&track_mu);
    s->daemon = g->d;
    tls_expiry_say(s->cfg, not_after);   /* served from now on */
    retire_gen(old, (int)s->cfg->drain_s, 1);
    free(oc);
    vd_free_secret(okey);
    return reload_done(policies_ok, keys_ok, 1);
}

void vd_server_stop(struct vd_server *s)
{
    vd_accept_stop();   /* new connections wait in the backlog, then are refused */
    if (cur_gen != NULL) {
        struct vd_gen *g = cur_gen;

        pthread_mutex_lock(&track_mu);
        cur_gen = NULL;
        pthread_mutex_unlock(&track_mu);
        retire_gen(g, (int)s->cfg->drain_s, 0);
    }
    if (watchdog_running) {
        atomic_store(&watchdog_stop, 1);
        pthread_join(watchdog, NULL);
        watchdog_running = 0;
    }
    if (listen_fd >= 0)
        close(listen_fd);
    listen_fd = -1;
    free_keys(&s->keys);
    vd_commit_stop();                    /* the daemons are gone: nothing is parked */
    vfy_committer_free(&s->committer);   /* every attest waited for its batch */
    vfy_store_close(&s->commit_st);
    if (checkpointer_running) {
        atomic_store(&checkpointer_stop, 1);
        pthread_join(checkpointer, NULL);
        checkpointer_running = 0;
    }
    vfy_store_close(&s->ckpt_st);
    free(hw_path);   /* the housekeeping thread, its only user, has stopped */
    hw_path = NULL;
    hw_db = NULL;
    hw_db_known = 0;
    vfy_nonce_key_free(&s->nonce_key);
    vfy_nonce_cache_free(&s->nonce_cache);
    vd_ratelimit_free(s->rl);
    s->rl = NULL;
    free(s->tls_cert_pem);
    if (s->tls_key_pem != NULL)
        vd_free_secret(s->tls_key_pem);
    s->tls_cert_pem = s->tls_key_pem = NULL;
    pthread_rwlock_destroy(&s->keys_lock);
}
