/*
 * agent.c — an AI agent runtime as a RATS attester (DESIGN §1, §3-§5;
 * docs/agent-guide.md, docs/agent-protocol.md).
 *
 *   - the TPM (tpm.c): a persistent ECC P-256 AK, the agent PCR, quotes;
 *   - the manifest: measured into the agent PCR at start and on every change
 *     (SIGHUP, or the file's inode/size/mtime/ctime changing), with the agent log
 *     kept in memory;
 *   - a TLS 1.3 server (tls.c) speaking the framed protocol (frame.c): an
 *     attestation request carries a nonce and is answered with CMW evidence
 *     bound to that very connection's exporter value; a posture-changed notice
 *     is pushed to every connected peer when the manifest changes; ordinary
 *     application requests get "ok".
 *
 * Threads: the main thread accepts connections and watches the manifest; one
 * thread per connection. One mutex (g.lock) covers the TPM, the manifest and
 * the log, so a quote and the PCR values and log sent with it are
 * consistent. Caveats: the agent log lives in memory only — restarting the
 * agent without a TPM reset leaves the agent PCR ahead of the new log, which
 * a verifier rightly reports as a history it cannot replay.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <verify/verify.h>

#include "../common/frame.h"
#include "agent_log.h"
#include "tls.h"
#include "tpm.h"

#define DEFAULT_AK_HANDLE 0x81010003u
#define DEFAULT_AGENT_PCR 23u
#define DEFAULT_PLATFORM_PCRS "0-7" /* sha256 PCRs 0..7, as policies/default.json */
#define MAX_LOG VFY_AGENT_LOG_MAX_ENTRIES
#define MAX_CONNS 64    /* open connections (one thread each) */
#define IO_TIMEOUT_S 10 /* a handshake or a started frame must be whole within this */
#define MAX_HANDSHAKES 16 /* in their TLS handshake; a newer one cuts the oldest */


struct conn {
    int id;
    int fd;
    int wake[2]; /* the main thread writes a byte here on a posture change */
    SSL *ssl;
    pthread_t th;
    int done;
    unsigned long seen_gen;
    int attested;               /* evidence was sent on this connection */
    unsigned long evidence_gen; /* the generation the last evidence described (at least) */
    int in_handshake;           /* under g.conns_lock */
    int cut;                    /* its handshake shut down to make room (g.conns_lock) */
    struct timespec accepted;
    struct conn *next;
};

static struct {
    pthread_mutex_t lock; /* tpm, manifest, log, gen */
    agent_tpm *tpm;
    unsigned pcr;
    uint32_t platform_pcrs;   /* --platform-pcrs: bit i = PCR i, quoted beside g.pcr */
    char quoted[96];          /* the PCRs quoted, as a list for the log ("0-7,23") */
    const char *manifest_path;
    uint8_t *manifest;
    size_t manifest_len;
    uint64_t manifest_version;
    struct stat manifest_st;
    int read_failing;         /* the manifest could not be read (main thread only) */
    int unmeasured;           /* a valid manifest is in force but not measured */
    int pcr_mismatch_said;    /* "PCR does not match the agent log" logged once */
    int remeasure;            /* the TPM was reset: g.log[0] is to be extended again */
    int restart_pending;      /* the TPM was reset: the log is dropped once the manifest
                               * being measured is extended (g.unmeasured until then) */
    int started;              /* a manifest was measured once: the PCR is read before extends */
    atomic_int reset_seen;    /* a quote saw a TPM reset: the main loop notifies */
    agent_tpm_counts seen;    /* the TPM's reset and restart counters last seen while
                               * the agent PCR held the log (seen_counts) */
    unsigned reconnects;      /* agent_tpm_reconnects() last said */
    unsigned requotes;        /* agent_tpm_requotes() last said */
    char unmeasured_why[256];
    uint8_t unmeasured_md[32];
    struct {                  /* the manifest whose extend failed last: done all the
                               * same if only its answer was lost (settle_tried) */
        struct agent_log_entry e;
        uint8_t *bytes;       /* NULL: none pending */
        size_t len;
        uint64_t version;
    } tried;
    struct agent_log_entry *log;
    size_t nlog;
    unsigned long gen; /* bumped at every measured change */
    unsigned test_notices; /* --test-notice-after-evidence: extra notices left */
    unsigned test_changes; /* --test-change-before-app: changes left to fake */
    unsigned test_fail_extends; /* --test-fail-extends: extends after start left to fail */

    pthread_mutex_t conns_lock;
    struct conn *conns;
    int nconns;
    int nhandshakes;          /* of nconns, still in the TLS handshake */
    int next_id;

    int sigpipe[2];
} g = {.lock = PTHREAD_MUTEX_INITIALIZER, .conns_lock = PTHREAD_MUTEX_INITIALIZER};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    struct timespec now;
    struct tm tm;
    va_list ap;
    char line[1024];

    clock_gettime(CLOCK_REALTIME, &now);
    localtime_r(&now.tv_sec, &tm);
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%02d:%02d:%02d.%03ld agent %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
            now.tv_nsec / 1000000, line);
}

static void on_signal(int sig)
{
    unsigned char c = (unsigned char)sig;
    int saved = errno;

    if (write(g.sigpipe[1], &c, 1) < 0) {
        /* nothing to do: the pipe is non-blocking and a signal is already pending */
    }
    errno = saved;
}

/* ---------- manifest and agent log (DESIGN §4) ---------- */

static int read_file(const char *path, uint8_t **out, size_t *len, size_t max, struct stat *st)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t n = 0;

    *out = NULL;
    *len = 0;
    if (f == NULL)
        return -1;
    if (fstat(fileno(f), st) != 0 || st->st_size < 0 || (uint64_t)st->st_size > max) {
        fclose(f);
        return -1;
    }
    buf = malloc((size_t)st->st_size + 1);
    if (buf == NULL) {
        fclose(f);
        return -1;
    }
    n = fread(buf, 1, (size_t)st->st_size + 1, f);
    fclose(f);
    if (n != (size_t)st->st_size) { /* changed under us: try again later */
        free(buf);
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* The agent PCR value the first @n log entries replay to: each entry's
 * digest extended into 32 zero bytes, in order (DESIGN §4). */
static void log_replay(uint8_t out[32], size_t n)
{
    uint8_t buf[64];

    memset(out, 0, 32);
    for (size_t i = 0; i < n; i++) {
        memcpy(buf, out, 32);
        memcpy(buf + 32, g.log[i].md, 32);
        (void)EVP_Digest(buf, sizeof(buf), out, NULL, EVP_sha256(), NULL);
    }
}

/* Whether extending the agent PCR with @md after the first @base log
 * entries is still to be done: 1 yes, 0 it was done already (its answer
 * lost with the TPM connection: extending again would put the PCR out of
 * step with the log for good), -1 the PCR holds neither value (reset with
 * the TPM, or extended by another program; *@reset: it is all zeros), -2
 * the PCR could not be read (@err). g.lock held. */
static int extend_needed(const uint8_t md[32], size_t base, int *reset, char *err,
                         size_t err_cap)
{
    uint8_t cur[32], want[32], after[32], buf[64], zero[32] = {0};

    *reset = 0;
    if (agent_tpm_pcr_read1(g.tpm, g.pcr, cur, err, err_cap) != 0)
        return -2;
    log_replay(want, base);
    memcpy(buf, want, 32);
    memcpy(buf + 32, md, 32);
    (void)EVP_Digest(buf, sizeof(buf), after, NULL, EVP_sha256(), NULL);
    if (memcmp(cur, want, 32) == 0)
        return 1;
    if (memcmp(cur, after, 32) == 0)
        return 0;
    *reset = memcmp(cur, zero, 32) == 0;
    return -1;
}

/* After a TPM reset (PCR back to zeros while the log is not empty) the log
 * starts again: every entry but the last dropped, that one (the manifest in
 * force, @md when not NULL its replacement) to be extended first. g.lock
 * held. */
static void log_restart(void)
{
    for (size_t i = 0; i + 1 < g.nlog; i++)
        free(g.log[i].b64);
    if (g.nlog > 1)
        g.log[0] = g.log[g.nlog - 1];
    g.nlog = g.nlog > 0 ? 1 : 0;
}

/* The agent PCR reads zeros while the log is not empty, with the TPM's
 * counters @now (a quote's; NULL: read them): 1 if the TPM was reset (its
 * resetCount went up since the agent PCR last held the log), 2 if it was
 * restarted (resetCount the same, restartCount up: TPM2_Shutdown(STATE)
 * then TPM2_Startup(CLEAR), e.g. resume from hibernation) — the log starts
 * again, the counters are the new epoch's, as the verifier's history
 * starts over at either, compared with the last quote it verified
 * (docs/appraisal.md, State) — 0 if neither: PCR 23 reset by another
 * program (TPM2_PCR_Reset), which the verifier would rightly take a new log
 * for a history rollback after, so @err says so; -1 with @err if the TPM
 * cannot tell. g.lock held. */
static int tpm_was_reset(const agent_tpm_counts *now, char *err, size_t err_cap)
{
    agent_tpm_counts read;
    int32_t dreset, drestart;

    if (now == NULL) {
        if (agent_tpm_counts_read(g.tpm, &read, err, err_cap) != 0)
            return -1;
        now = &read;
    }
    dreset = (int32_t)(now->reset - g.seen.reset);
    drestart = (int32_t)(now->restart - g.seen.restart);
    if (dreset > 0 || (dreset == 0 && drestart > 0)) {
        g.seen = *now;
        return dreset > 0 ? 1 : 2;
    }
    snprintf(err, err_cap, "PCR %u was reset by another program (zeros, but no TPM reset or "
             "restart: resetCount and restartCount unchanged); a new log would be a rollback: "
             "restart the platform", g.pcr);
    return 0;
}

/* The agent PCR was extended from zeros (the log starts again): the TPM's
 * counters now are the ones its log lives in. Read after the extend, so a
 * reset the agent has not seen (one more while a re-measure was pending)
 * is not taken for a new one when the PCR next reads zeros: the counters
 * seen when the reset was found are older than the log. If they cannot be
 * read, those stay (said), until a quote tells. g.lock held. */
static void seen_counts(void)
{
    char err[200];

    if (agent_tpm_counts_read(g.tpm, &g.seen, err, sizeof(err)) != 0)
        say("the TPM's reset counters cannot be read after measuring from zeros (%s): the "
            "next quote records them", err);
}

/* After a TPM reset seen in a quote (log_restart), the manifest in force
 * is extended again before any evidence: 0 once done (or if not needed),
 * -1 with @err while the TPM refuses. g.lock held. */
static int remeasure(char *err, size_t err_cap)
{
    char inner[200] = "";
    int reset, need;

    if (!g.remeasure)
        return 0;
    /* from zeros: was it extended already (an answer lost)? */
    need = extend_needed(g.log[0].md, 0, &reset, inner, sizeof(inner));
    if (need == -1)
        snprintf(inner, sizeof(inner), "PCR %u holds neither zeros nor this manifest's extend",
                 g.pcr);
    if (need < 0 || (need == 1 && agent_tpm_extend(g.tpm, g.pcr, g.log[0].md, inner,
                                                   sizeof(inner)) != 0)) {
        snprintf(err, err_cap, "measuring the manifest again after a TPM reset failed: %s",
                 inner);
        return -1;
    }
    g.remeasure = 0;
    seen_counts();
    return 0;
}

/* Append @e to the log (room made by the caller) and make @bytes (@len,
 * @version) the manifest in force, taking both; after a TPM reset the old
 * log is dropped first. The PCR holds the whole log now. g.lock held. */
static void log_commit(struct agent_log_entry *e, uint8_t **bytes, size_t len, uint64_t version)
{
    if (g.restart_pending) {   /* measured from zeros: the log starts again */
        for (size_t i = 0; i < g.nlog; i++)
            free(g.log[i].b64);
        g.nlog = 0;
        g.restart_pending = 0;
        seen_counts();
    }
    g.log[g.nlog++] = *e;
    e->b64 = NULL;
    free(g.manifest);
    g.manifest = *bytes;
    g.manifest_len = len;
    g.manifest_version = version;
    *bytes = NULL;
    g.remeasure = 0;   /* nothing left to extend again */
    g.started = 1;
}

static void tried_clear(void)
{
    free(g.tried.e.b64);
    free(g.tried.bytes);
    memset(&g.tried, 0, sizeof(g.tried));
}

/*
 * The manifest whose extend failed last (g.tried) may have been extended
 * all the same: the answer, not the effect, lost with the TPM connection.
 * Before another manifest (@md) is measured or the last measured one taken
 * back, the PCR tells: if it holds the log extended by that manifest, the
 * manifest is logged — the PCR says it ran, and the log must replay — and
 * @md goes on top of it; if it holds the log alone, it was not extended.
 * (Taking back the last measured manifest without looking used to leave the
 * PCR one extend ahead of the log for good.) 0 once settled, -1 with @err
 * while the PCR cannot be read. g.lock held.
 */
static int settle_tried(const uint8_t md[32], char *err, size_t err_cap)
{
    size_t base = g.restart_pending ? 0 : g.nlog;
    char ds[VFY_SHA256_STR_LEN + 1];
    int reset, need;

    if (g.tried.bytes == NULL || memcmp(g.tried.e.md, md, 32) == 0)
        return 0;   /* none, or @md itself: its own extend settles it */
    need = extend_needed(g.tried.e.md, base, &reset, err, err_cap);
    if (need == -2)
        return -1;
    if (need == 0) {
        struct agent_log_entry *nl = realloc(g.log, (g.nlog + 1) * sizeof(*nl));

        if (nl == NULL) {
            snprintf(err, err_cap, "out of memory");
            return -1;
        }
        g.log = nl;
        vfy_sha256_format(ds, sizeof(ds), g.tried.e.md);
        log_commit(&g.tried.e, &g.tried.bytes, g.tried.len, g.tried.version);
        say("PCR %u holds the extend of manifest version %llu (%s) after all (its answer was "
            "lost): logged; agent log has %zu entr%s", g.pcr,
            (unsigned long long)g.manifest_version, ds, g.nlog, g.nlog == 1 ? "y" : "ies");
    }
    tried_clear();   /* logged, or not extended (or the PCR holds neither: said next) */
    return 0;
}

/* Say when the TPM connection was opened again since last time, or a quote
 * taken again. g.lock held. */
static void say_reconnects(void)
{
    unsigned n = agent_tpm_reconnects(g.tpm), r = agent_tpm_requotes(g.tpm);

    if (n != g.reconnects)
        say("the connection to the TPM was lost and opened again (%u time%s so far)", n,
            n == 1 ? "" : "s");
    g.reconnects = n;
    if (r != g.requotes)
        say("a quoted PCR changed before it was read (another TPM client extended it): "
            "quoted again (%u time%s so far)", r, r == 1 ? "" : "s");
    g.requotes = r;
}

/* The manifest in force is not measured (g.unmeasured, why: @err; @md its
 * digest, zeros if it has none): 2 if that is news (the posture changed:
 * relying parties are told), else 0. @line is said unless it says what was
 * said last. g.lock held. */
static int set_unmeasured(const uint8_t md[32], const char *err, const char *line)
{
    int ret = 0;

    if (!g.unmeasured || strcmp(g.unmeasured_why, err) != 0 ||
        memcmp(g.unmeasured_md, md, 32) != 0)
        say("%s", line);
    if (!g.unmeasured) {
        g.unmeasured = 1;
        g.gen++;
        ret = 2;
    }
    snprintf(g.unmeasured_why, sizeof(g.unmeasured_why), "%s", err);
    memcpy(g.unmeasured_md, md, 32);
    return ret;
}

/*
 * Load the manifest; if its digest differs from the current one, extend the
 * agent PCR with it and append it to the log. Returns 1 if measured, 2 if it
 * changed but could not be measured (now), 0 if unchanged or not measured
 * still, -1 if it cannot be read or is not a valid manifest at the start.
 *
 * A manifest that cannot be measured is what the agent now runs, so the
 * previous one is not attested any more: until one is measured, attestation
 * requests get an error (g.unmeasured) and the relying parties a notice.
 * That is a valid manifest whose extend failed (or no memory, or the log is
 * full), and also, failing closed, a changed file the agent cannot read
 * (missing, unreadable, over 64 KiB) or refuses as a manifest (malformed,
 * over a limit): the runtime may well run what it says. The file is read
 * again at every poll until it is measured (its stat is recorded only once
 * it was measured, found unchanged or refused as invalid, and forgotten
 * when it cannot be read), and each complaint is said once, not at every
 * poll.
 */
static int manifest_reload(const char *why)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    struct stat st;
    vfy_manifest *m = NULL;
    char detail[256] = "", err[256] = "", ds[VFY_SHA256_STR_LEN + 1];
    struct agent_log_entry e = {{0}, NULL};
    size_t b64cap;
    vfy_rc rc;
    int ret = -1;

    if (read_file(g.manifest_path, &bytes, &len, VFY_MANIFEST_MAX, &st) != 0) {
        char line[512];

        g.read_failing = 1;
        snprintf(line, sizeof(line), "%s: cannot read manifest %.200s (missing, unreadable or "
                 "over 64 KiB)%s", why, g.manifest_path,
                 g.started ? ": not measured; attestation requests get an error until a "
                             "manifest that can be measured is in place" : "");
        if (!g.started) {
            say("%s", line);
            return -1;
        }
        snprintf(err, sizeof(err), "cannot read the manifest file (missing, unreadable or over "
                 "64 KiB)");
        pthread_mutex_lock(&g.lock);
        /* whatever comes back is read: the measured file put back as it
         * was (mv, cp -p) has the stat recorded when it was measured */
        memset(&g.manifest_st, 0, sizeof(g.manifest_st));
        ret = set_unmeasured(e.md, err, line);   /* (e.md: zeros, no bytes) */
        pthread_mutex_unlock(&g.lock);
        return ret;
    }
    g.read_failing = 0;
    pthread_mutex_lock(&g.lock);
    rc = vfy_manifest_parse(&m, bytes, len, detail, sizeof(detail));
    if (rc != VFY_OK) {
        char line[700];

        g.manifest_st = st;   /* read again once it changes */
        snprintf(err, sizeof(err), "manifest rejected (%s: %.160s)", vfy_strerror(rc), detail);
        (void)EVP_Digest(bytes, len, e.md, NULL, EVP_sha256(), NULL);
        vfy_sha256_format(ds, sizeof(ds), e.md);
        snprintf(line, sizeof(line), "%s: manifest %.200s (%s) rejected (%s: %.200s)%s", why,
                 g.manifest_path, ds, vfy_strerror(rc), detail,
                 g.started ? ": not measured; attestation requests get an error until a "
                             "manifest that can be measured is in place" : "");
        if (!g.started) {
            say("%s", line);
            goto out;
        }
        ret = set_unmeasured(e.md, err, line);
        goto out;
    }
    memcpy(e.md, vfy_manifest_digest(m), 32);
    vfy_sha256_format(ds, sizeof(ds), e.md);
    if (settle_tried(e.md, err, sizeof(err)) != 0) {
        char inner[sizeof(err)];

        memcpy(inner, err, sizeof(inner));
        snprintf(err, sizeof(err), "reading PCR %u failed: %.200s", g.pcr, inner);
        goto unmeasured;
    }
    /* a TPM reset a quote saw: the manifest in force extended again first,
     * so that the PCR holds the log (else the zeros read below would be
     * taken for a second reset) */
    if (remeasure(err, sizeof(err)) != 0)
        goto unmeasured;
    /* The last measured manifest again: nothing to extend, if the PCR
     * holds the log. Read when the agent was unmeasured: a TPM reset (or
     * PCR 23 reset by another program, or extended) meanwhile went unseen,
     * as an unmeasured agent quotes nothing; the manifest is then measured
     * like any other, which says what the PCR holds, rather than announced
     * as attested again while the PCR holds none of the log (the next
     * quote would find that too: agent_refused_reset_back.sh). */
    if (g.nlog > 0 && !g.restart_pending && memcmp(g.log[g.nlog - 1].md, e.md, 32) == 0) {
        int reset;

        if (!g.unmeasured) {
            g.manifest_st = st;
            ret = 0;
            goto out;
        }
        if (extend_needed(e.md, g.nlog, &reset, err, sizeof(err)) == 1) {
            g.manifest_st = st;
            g.unmeasured = 0;
            g.gen++;
            say("%s: manifest back to the one measured last; attesting again", why);
            ret = 1;
            goto out;
        }
        /* else measured below, which says what the PCR holds */
    }
    b64cap = VFY_B64URL_LEN(len) + 1;
    e.b64 = malloc(b64cap);
    if (e.b64 == NULL || vfy_b64url_encode(e.b64, b64cap, bytes, len) != VFY_OK) {
        snprintf(err, sizeof(err), "out of memory");
        goto unmeasured;
    }
    {   /* room in the log first: a measured manifest is always logged */
        struct agent_log_entry *nl = realloc(g.log, (g.nlog + 1) * sizeof(*nl));
        if (nl == NULL) {
            snprintf(err, sizeof(err), "out of memory");
            goto unmeasured;
        }
        g.log = nl;
    }
    /* Measure first: the log only ever records what the PCR holds. */
    if (g.nlog > 0 && g.test_fail_extends > 0) {   /* test hook: a TPM error */
        g.test_fail_extends--;
        snprintf(err, sizeof(err), "extending PCR %u failed: test hook", g.pcr);
        goto unmeasured;
    }
    {
        /* the PCR is read first unless nothing was ever measured: also after a
         * reset (replayed from zeros, a lost answer then reads as done, not
         * as a second extend to make) */
        size_t base = g.restart_pending ? 0 : g.nlog;
        int reset, need = g.nlog > 0 || g.started
                              ? extend_needed(e.md, base, &reset, err, sizeof(err)) : 1;

        if (need == -1 && reset && base > 0) {
            int was = tpm_was_reset(NULL, err, sizeof(err));

            if (was <= 0) {   /* reset by another program, or cannot tell */
                if (was < 0) {
                    char inner[sizeof(err)];

                    memcpy(inner, err, sizeof(inner));
                    snprintf(err, sizeof(err), "PCR %u reads zeros and the TPM's reset "
                             "counters cannot be read: %.180s", g.pcr, inner);
                }
                goto unmeasured;
            }
            /* the TPM was reset (or restarted) under the agent: the log
             * starts again from the new manifest, as after a reboot. It is
             * dropped once that manifest is extended: until then it is the
             * last one measured (what notices describe), and a failed
             * extend leaves it whole. */
            say("PCR %u is back to zeros (the TPM was %s): the agent log starts again", g.pcr,
                was == 2 ? "restarted" : "reset");
            g.restart_pending = 1;
            base = 0;
            need = 1;
        }
        if (need == -1) {
            snprintf(err, sizeof(err), "PCR %u holds neither the agent log's value nor that "
                     "value extended by this manifest (extended by another program?): restart "
                     "the platform", g.pcr);
            goto unmeasured;
        }
        /* Full: checked against the log this manifest would go on, after
         * the PCR told whether a TPM reset dropped it. The stat is not
         * recorded: tried again at every poll, which is also how a reset
         * comes to be seen (an unmeasured agent quotes nothing). */
        if (base >= MAX_LOG) {
            snprintf(err, sizeof(err), "agent log full (%d entries); restart the platform to "
                     "measure more", MAX_LOG);
            goto unmeasured;
        }
        if (need == -2 || (need == 1 && agent_tpm_extend(g.tpm, g.pcr, e.md, err,
                                                         sizeof(err)) != 0)) {
            char inner[sizeof(err)];

            if (need == 1) {   /* done all the same if only the answer was lost */
                tried_clear();
                g.tried.e = e;
                g.tried.bytes = bytes;
                g.tried.len = len;
                g.tried.version = vfy_manifest_version(m);
                e.b64 = NULL;
                bytes = NULL;
            }
            memcpy(inner, err, sizeof(inner));
            snprintf(err, sizeof(err), "extending PCR %u failed: %.200s", g.pcr, inner);
            goto unmeasured;
        }
        if (need == 0)
            say("PCR %u already holds this manifest's extend (its answer was lost with the TPM "
                "connection): not extended again", g.pcr);
    }
    tried_clear();   /* the PCR holds the whole log */
    log_commit(&e, &bytes, len, vfy_manifest_version(m));
    g.manifest_st = st;
    g.unmeasured = 0;
    g.gen++;
    say("%s: manifest %s version %llu (%s) measured into PCR %u; agent log has %zu entr%s",
        why, vfy_manifest_agent_id(m), (unsigned long long)g.manifest_version, ds, g.pcr,
        g.nlog, g.nlog == 1 ? "y" : "ies");
    ret = 1;
    goto out;
unmeasured: {
        char line[700];

        snprintf(line, sizeof(line), "%s: manifest %.128s (%s) not measured: %s; attestation "
                 "requests get an error until it is (retrying)", why, vfy_manifest_agent_id(m),
                 ds, err);
        ret = set_unmeasured(e.md, err, line);
    }
out:
    pthread_mutex_unlock(&g.lock);
    vfy_manifest_free(&m);
    free(e.b64);
    free(bytes);
    return ret;
}

/* ---------- evidence (DESIGN §3, §5) ---------- */

/*
 * CMW JSON evidence for @nonce over this connection's exporter value. On
 * failure returns NULL with a message in @err.
 */
static uint8_t *make_evidence(SSL *ssl, const uint8_t nonce[32], size_t *out_len,
                              unsigned long *gen_out, char *err, size_t err_cap)
{
    uint8_t cb[VFY_CB_LEN], binder[VFY_BINDER_LEN];
    agent_quote q;
    vfy_pcr_values pv;
    char *pcrs = NULL, *log = NULL;
    uint8_t *ev = NULL;
    vfy_cmw_parts parts;
    vfy_rc rc;

    memset(&q, 0, sizeof(q));
    memset(&pv, 0, sizeof(pv));
    if (SSL_export_keying_material(ssl, cb, sizeof(cb), VFY_CB_EXPORTER_LABEL,
                                   strlen(VFY_CB_EXPORTER_LABEL), NULL, 0, 0) != 1) {
        snprintf(err, err_cap, "TLS exporter failed");
        return NULL;
    }
    pthread_mutex_lock(&g.lock);
    if (g.unmeasured) {   /* never the previous manifest's evidence */
        snprintf(err, err_cap, "the manifest in force is not measured (%.160s)", g.unmeasured_why);
        goto out;
    }
    if (remeasure(err, err_cap) != 0)   /* after a TPM reset, until it works */
        goto out;
    rc = vfy_binder_manifest(binder, nonce, cb, g.manifest, g.manifest_len);
    if (rc != VFY_OK) {
        snprintf(err, err_cap, "binder: %s", vfy_strerror(rc));
        goto out;
    }
    if (agent_tpm_quote(g.tpm, g.platform_pcrs | (1u << g.pcr), binder, &q, err, err_cap) != 0) {
        say_reconnects();
        goto out;
    }
    say_reconnects();
    {   /* the log must replay to the quoted agent PCR, or the evidence is void */
        uint8_t want[32], zero[32] = {0};

        log_replay(want, g.nlog);
        if (memcmp(q.values[g.pcr], want, 32) != 0 && memcmp(q.values[g.pcr], zero, 32) == 0 &&
            g.nlog > 0) {
            int was = tpm_was_reset(&q.counts, err, err_cap);

            if (was < 0)
                goto out;   /* cannot tell a TPM reset from another program's */
            if (was == 0) {   /* reset by another program: no new log can be attested */
                if (!g.pcr_mismatch_said)
                    say("%s", err);
                g.pcr_mismatch_said = 1;
                goto out;
            }
            /* reset with the TPM, or a TPM restart (unseen: the TCTI
             * reconnected by itself): the manifest in force is measured
             * again, the log starts over */
            say("PCR %u is back to zeros (the TPM was %s): measuring the manifest in force "
                "again; the agent log starts again", g.pcr, was == 2 ? "restarted" : "reset");
            log_restart();
            g.remeasure = 1;
            g.gen++;
            atomic_store(&g.reset_seen, 1);   /* the other connections: the main loop */
            agent_quote_clear(&q);
            if (remeasure(err, err_cap) != 0 ||
                agent_tpm_quote(g.tpm, g.platform_pcrs | (1u << g.pcr), binder, &q, err,
                                err_cap) != 0)
                goto out;
            log_replay(want, g.nlog);
        }
        if (memcmp(q.values[g.pcr], want, 32) != 0) {
            snprintf(err, err_cap, "PCR %u does not match the agent log (extended by another "
                     "program?): restart the platform", g.pcr);
            if (!g.pcr_mismatch_said)
                say("%s", err);
            g.pcr_mismatch_said = 1;
            goto out;
        }
        /* the PCR held the log at these counters: zeros at the same ones
         * later are another program's reset (the verifier's last seen) */
        g.seen = q.counts;
    }
    for (unsigned i = 0; i < 24; i++)
        if (q.mask & (1u << i))
            (void)vfy_pcr_values_set(&pv, VFY_HASH_SHA256, i, q.values[i]);
    if (vfy_pcr_values_to_json(&pv, &pcrs) != VFY_OK ||
        (log = agent_log_json(g.log, g.nlog, AGENT_LOG_JSON_MAX, NULL)) == NULL) {
        snprintf(err, err_cap, "out of memory");
        goto out;
    }
    memset(&parts, 0, sizeof(parts));
    parts.data[VFY_CMW_TPM_ATTEST] = q.attest;
    parts.len[VFY_CMW_TPM_ATTEST] = q.attest_len;
    parts.data[VFY_CMW_TPM_SIGNATURE] = q.sig;
    parts.len[VFY_CMW_TPM_SIGNATURE] = q.sig_len;
    parts.data[VFY_CMW_TPM_PCRS] = (const uint8_t *)pcrs;
    parts.len[VFY_CMW_TPM_PCRS] = strlen(pcrs);
    parts.data[VFY_CMW_AGENT_MANIFEST] = g.manifest;
    parts.len[VFY_CMW_AGENT_MANIFEST] = g.manifest_len;
    parts.data[VFY_CMW_AGENT_LOG] = (const uint8_t *)log;
    parts.len[VFY_CMW_AGENT_LOG] = strlen(log);
    rc = vfy_cmw_encode(VFY_CMW_JSON, &parts, &ev, out_len);
    if (rc != VFY_OK) {
        snprintf(err, err_cap, "CMW encoding: %s", vfy_strerror(rc));
        ev = NULL;
    }
    /* the generation this evidence describes, under the lock it was made
     * under (a TPM reset seen above has bumped it already) */
    *gen_out = g.gen;
out:
    pthread_mutex_unlock(&g.lock);
    OPENSSL_cleanse(cb, sizeof(cb));
    agent_quote_clear(&q);
    vfy_free(pcrs);
    cJSON_free(log);
    return ev;
}

/* ---------- connections ---------- */

static int send_error(struct conn *c, uint8_t code, const char *msg)
{
    uint8_t buf[FRAME_ERROR_MAX];
    size_t n = strlen(msg);

    if (n > sizeof(buf) - 1)
        n = sizeof(buf) - 1;
    buf[0] = code;
    memcpy(buf + 1, msg, n);
    return frame_write(c->ssl, FRAME_ERROR, buf, n + 1);
}

/* A posture-changed notice describing the current manifest into @msg
 * (FRAME_NOTICE_MAX bytes); its length. @why: NULL for a measured change,
 * else what the log line says instead. *@gen (optional): the generation
 * the notice describes, read with it. */
static size_t notice(struct conn *c, char *msg, const char *why, unsigned long *gen)
{
    char ds[VFY_SHA256_STR_LEN + 1];
    uint8_t md[32] = {0};   /* zeros: nothing measured (not after the start) */
    uint64_t ver;
    size_t n;
    int len;

    pthread_mutex_lock(&g.lock);
    if (gen != NULL)
        *gen = g.gen;
    ver = g.manifest_version;
    n = g.nlog;
    if (n > 0)
        memcpy(md, g.log[n - 1].md, 32);
    pthread_mutex_unlock(&g.lock);
    vfy_sha256_format(ds, sizeof(ds), md);
    len = snprintf(msg, FRAME_NOTICE_MAX,
                   "{\"event\":\"posture-changed\",\"manifest_version\":%llu,"
                   "\"manifest_digest\":\"%s\",\"log_entries\":%zu}",
                   (unsigned long long)ver, ds, n);
    say("conn %d: posture-changed notice pushed (manifest version %llu)%s%s", c->id,
        (unsigned long long)ver, why ? ": " : "", why ? why : "");
    return (size_t)len;
}

/* Push a posture-changed notice if the manifest changed since the last one. */
static int maybe_notify(struct conn *c)
{
    char msg[FRAME_NOTICE_MAX];
    unsigned long gen;
    size_t len;

    pthread_mutex_lock(&g.lock);
    gen = g.gen;
    pthread_mutex_unlock(&g.lock);
    if (gen == c->seen_gen)
        return 0;
    /* the generation the notice describes, read with its content: a change
     * landing after the check above is in this notice, not in a second one */
    len = notice(c, msg, NULL, &c->seen_gen);
    return frame_write(c->ssl, FRAME_POSTURE_CHANGED, msg, len);
}

/*
 * The evidence frame and, for the first N of them with the test hook
 * --test-notice-after-evidence N, a notice right behind it in the same write,
 * as if the manifest had changed just after the quote: the notice is on the
 * relying party's connection while it asks verifierd about the evidence,
 * the window it must re-read the connection for before it decides
 * (tests/integration/rp_notice_window.sh).
 */
static int send_evidence(struct conn *c, const uint8_t *ev, size_t evlen)
{
    char msg[FRAME_NOTICE_MAX];
    size_t len = 0;
    int due;

    pthread_mutex_lock(&g.lock);
    due = g.test_notices > 0;
    if (due)
        g.test_notices--;
    pthread_mutex_unlock(&g.lock);
    if (due)
        len = notice(c, msg, "test hook, right behind the evidence", NULL);
    return frame_write_pair(c->ssl, FRAME_EVIDENCE, ev, evlen, due ? FRAME_POSTURE_CHANGED : 0,
                            msg, len);
}

/* Handle one frame from the peer; -1 closes the connection. */
static int handle_frame(struct conn *c)
{
    uint8_t type = 0, *p = NULL;
    size_t len = 0;
    char err[256];
    /* once a frame has started, all of it within IO_TIMEOUT_S */
    int rc = frame_read_within(c->ssl, c->fd, FRAME_FROM_RP, IO_TIMEOUT_S * 1000, &type, &p, &len);
    int ret = 0;

    switch (rc) {
    case FRAME_OK: break;
    case FRAME_EOF: return -1;
    case FRAME_UNKNOWN:
        say("conn %d: unknown frame type 0x%02x ignored", c->id, type);
        return send_error(c, FRAME_ERR_UNKNOWN_TYPE, "unknown frame type");
    case FRAME_TOO_LARGE:
        say("conn %d: oversized %s frame; closing", c->id, frame_type_name(type));
        send_error(c, FRAME_ERR_TOO_LARGE, "frame too large");
        return -1;
    case FRAME_TIMEOUT:
        say("conn %d: a frame did not arrive whole within %d s; closing", c->id, IO_TIMEOUT_S);
        return -1;
    default: return -1;
    }
    switch (type) {
    case FRAME_ATTEST_REQUEST: {
        uint8_t *ev;
        size_t evlen = 0;
        unsigned long gen_ev = 0;

        if (len != FRAME_NONCE_LEN) {
            send_error(c, FRAME_ERR_MALFORMED, "attest-request: the nonce must be 32 bytes");
            ret = -1;
            break;
        }
        ev = make_evidence(c->ssl, p, &evlen, &gen_ev, err, sizeof(err));
        if (ev == NULL) {
            say("conn %d: attestation failed: %s", c->id, err);
            ret = send_error(c, FRAME_ERR_ATTEST, err);
            break;
        }
        c->attested = 1;
        c->evidence_gen = gen_ev;   /* what the evidence describes, read with it */
        if (gen_ev > c->seen_gen)
            c->seen_gen = gen_ev;   /* the evidence tells it: no notice of it behind it */
        say("conn %d: attestation request -> quote over PCRs %s bound to this connection's "
            "exporter; evidence %zu bytes", c->id, g.quoted, evlen);
        ret = send_evidence(c, ev, evlen);
        vfy_free(ev);
        break;
    }
    case FRAME_APP_REQUEST: {
        unsigned long now_gen;
        char text[201];   /* the request as logged: 200 printable bytes at most */

        /*
         * The relying party decided on evidence from this connection; if
         * the posture changed since (a notice it could not have read
         * before sending the request), the request is not run: it attests
         * again. This closes the window between its decision and the
         * operation. (A peer that never attested is not gated here.)
         */
        pthread_mutex_lock(&g.lock);
        if (g.test_changes > 0 && c->attested) {   /* test hook: a change lands now */
            g.test_changes--;
            g.gen++;
        }
        now_gen = g.gen;
        pthread_mutex_unlock(&g.lock);
        if (c->attested && now_gen != c->evidence_gen) {
            say("conn %d: application request \"%s\" -> refused: the posture changed since "
                "this connection's last evidence", c->id, frame_printable(p, len, text, sizeof(text)));
            ret = send_error(c, FRAME_ERR_POSTURE,
                             "posture changed since this connection's last evidence: "
                             "not run, attest again");
            break;
        }
        say("conn %d: application request \"%s\" -> ok", c->id,
            frame_printable(p, len, text, sizeof(text)));
        ret = frame_write(c->ssl, FRAME_APP_RESPONSE, "ok", 2);
        break;
    }
    default:
        /* Known type, wrong direction (e.g. evidence sent to the agent). */
        ret = send_error(c, FRAME_ERR_UNKNOWN_TYPE, "frame type not accepted by the agent");
        break;
    }
    free(p);
    return ret;
}

/* The TLS handshake within IO_TIMEOUT_S in all: a client that sends a byte
 * now and then (each read made progress) used to hold its slot for as long
 * as it liked, before any certificate was checked. 1 if done. */
static int handshake(struct conn *c)
{
    int r;

    SSL_set_accept_state(c->ssl);
    r = frame_handshake(c->ssl, c->fd, IO_TIMEOUT_S * 1000);
    if (r == 0)
        say("conn %d: TLS handshake failed: %s", c->id, frame_tls_reason());
    else if (r == FRAME_TIMEOUT)
        say("conn %d: TLS handshake failed: not finished within %d s", c->id, IO_TIMEOUT_S);
    /* FRAME_EOF: shut down to make room (said by the caller), or gone */
    return r == 1;
}

static void *conn_main(void *arg)
{
    struct conn *c = arg;

    int ok = handshake(c), cut;

    pthread_mutex_lock(&g.conns_lock);
    if (!c->cut)
        g.nhandshakes--;   /* a cut one was uncounted when it was cut */
    c->in_handshake = 0;
    cut = c->cut;
    pthread_mutex_unlock(&g.conns_lock);
    if (cut) {
        say("conn %d: TLS handshake cut: the oldest of %d in progress, to make room for a "
            "newer one", c->id, MAX_HANDSHAKES);
        ok = 0;
    }
    if (!ok)
        goto out;
    say("conn %d: TLS %s established (%s)", c->id, SSL_get_version(c->ssl),
        SSL_get_cipher_name(c->ssl));
    pthread_mutex_lock(&g.lock);
    c->seen_gen = g.gen; /* the peer attests the current posture; notify later changes */
    pthread_mutex_unlock(&g.lock);
    for (int must_poll = 0;;) {
        struct pollfd pf[2] = {{c->fd, POLLIN, 0}, {c->wake[0], POLLIN, 0}};
        /* Poll unless OpenSSL holds data (decrypted, or a record not yet
         * decrypted, which the socket no longer shows) that the last peek
         * did not find to be only part of a record. */
        int held = !must_poll && (SSL_pending(c->ssl) > 0 || SSL_has_pending(c->ssl));
        int n = held ? 1 : poll(pf, 2, -1);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        if (pf[1].revents & POLLIN) {
            char buf[64];
            while (read(c->wake[0], buf, sizeof(buf)) > 0)
                ;
            if (maybe_notify(c) != 0)
                break;
        }
        if (held || (pf[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            /* a KeyUpdate or ticket alone must not hold this thread in a
             * blocking read (posture notices wait on it) */
            if ((must_poll = frame_data_ready(c->ssl, c->fd) == 0))
                continue;
            if (handle_frame(c) != 0)
                break;
        }
    }
    say("conn %d: closed", c->id);
out:
    SSL_shutdown(c->ssl);
    pthread_mutex_lock(&g.conns_lock);
    c->done = 1;
    pthread_mutex_unlock(&g.conns_lock);
    return NULL;
}

static void notify_all(void)
{
    pthread_mutex_lock(&g.conns_lock);
    for (struct conn *c = g.conns; c != NULL; c = c->next)
        if (!c->done && write(c->wake[1], "!", 1) < 0) {
            /* the pipe is full: a wake-up is already pending */
        }
    pthread_mutex_unlock(&g.conns_lock);
}

static void conn_free(struct conn *c)
{
    SSL_free(c->ssl);
    close(c->fd);
    close(c->wake[0]);
    close(c->wake[1]);
    free(c);
}

/* Join finished connection threads (or all of them when @all, after shutdown). */
static void reap(int all)
{
    struct conn **pp, *c;

    pthread_mutex_lock(&g.conns_lock);
    pp = &g.conns;
    while ((c = *pp) != NULL) {
        if (all && !c->done)
            shutdown(c->fd, SHUT_RDWR);
        if (c->done || all) {
            *pp = c->next;
            g.nconns--;
            pthread_mutex_unlock(&g.conns_lock);
            pthread_join(c->th, NULL);
            conn_free(c);
            pthread_mutex_lock(&g.conns_lock);
            continue;
        }
        pp = &c->next;
    }
    pthread_mutex_unlock(&g.conns_lock);
}

static int start_conn(SSL_CTX *ctx, int fd)
{
    struct conn *c = calloc(1, sizeof(*c));
    sigset_t all, old;
    int rc;

    if (c == NULL) {
        close(fd);
        return -1;
    }
    c->fd = fd;
    /* A peer that stalls inside a handshake or a frame (not between frames:
     * the loop polls for those) loses its connection after IO_TIMEOUT_S. */
    {
        struct timeval tv = {IO_TIMEOUT_S, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    }
    if (pipe(c->wake) != 0) {
        free(c);
        close(fd);
        return -1;
    }
    fcntl(c->wake[0], F_SETFL, O_NONBLOCK);
    fcntl(c->wake[1], F_SETFL, O_NONBLOCK);
    c->ssl = SSL_new(ctx);
    if (c->ssl == NULL || SSL_set_fd(c->ssl, fd) != 1) {
        conn_free(c);
        return -1;
    }
    pthread_mutex_lock(&g.conns_lock);
    if (g.nhandshakes >= MAX_HANDSHAKES) {
        /* The oldest handshake in progress makes room: a real one takes
         * milliseconds, so the oldest is a client that trickles (refusing
         * the newcomer instead let 16 such clients, reopened every 10 s,
         * keep every relying party out). */
        struct conn *oldest = NULL;

        for (struct conn *k = g.conns; k != NULL; k = k->next)
            if (k->in_handshake && !k->cut &&
                (oldest == NULL || k->accepted.tv_sec < oldest->accepted.tv_sec ||
                 (k->accepted.tv_sec == oldest->accepted.tv_sec &&
                  k->accepted.tv_nsec < oldest->accepted.tv_nsec)))
                oldest = k;
        if (oldest != NULL) {
            oldest->cut = 1;
            g.nhandshakes--;
            shutdown(oldest->fd, SHUT_RDWR);
        }
    }
    if (g.nconns >= MAX_CONNS) {
        pthread_mutex_unlock(&g.conns_lock);
        say("connection refused: %d connections open", MAX_CONNS);
        conn_free(c);
        return -1;
    }
    g.nconns++;
    g.nhandshakes++;
    c->in_handshake = 1;
    clock_gettime(CLOCK_MONOTONIC, &c->accepted);
    c->id = ++g.next_id;
    c->next = g.conns;
    g.conns = c;
    /* Signals go to the main thread only. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rc = pthread_create(&c->th, NULL, conn_main, c);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        g.nconns--;
        g.nhandshakes--;
        c->in_handshake = 0;
        g.conns = c->next;
        pthread_mutex_unlock(&g.conns_lock);
        conn_free(c);
        return -1;
    }
    pthread_mutex_unlock(&g.conns_lock);
    return 0;
}

/* ---------- main ---------- */

static int listen_on(const char *spec, int *port_out)
{
    char host[64];
    const char *colon = strrchr(spec, ':');
    struct sockaddr_in sa;
    socklen_t salen = sizeof(sa);
    char *end = NULL;
    unsigned long port;
    int fd, one = 1;

    if (colon == NULL || (size_t)(colon - spec) >= sizeof(host))
        return -1;
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = 0;
    errno = 0;
    port = strtoul(colon + 1, &end, 10);
    if (errno != 0 || end == colon + 1 || *end != 0 || port > 65535)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return -1;
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &salen) != 0) {
        close(fd);
        return -1;
    }
    *port_out = ntohs(sa.sin_port);
    return fd;
}

static int manifest_file_changed(void)
{
    struct stat st;
    int changed;

    if (stat(g.manifest_path, &st) != 0)   /* gone: a change, once */
        return !g.read_failing;
    pthread_mutex_lock(&g.lock);
    /* ctime too: a file of the same size written in place with its mtime
     * set back (cp -p, touch -r, rsync -t) changes nothing else */
    changed = st.st_dev != g.manifest_st.st_dev || st.st_ino != g.manifest_st.st_ino ||
              st.st_size != g.manifest_st.st_size ||
              st.st_mtim.tv_sec != g.manifest_st.st_mtim.tv_sec ||
              st.st_mtim.tv_nsec != g.manifest_st.st_mtim.tv_nsec ||
              st.st_ctim.tv_sec != g.manifest_st.st_ctim.tv_sec ||
              st.st_ctim.tv_nsec != g.manifest_st.st_ctim.tv_nsec;
    pthread_mutex_unlock(&g.lock);
    return changed;
}

/* "0-7,9" (indexes and ranges, ascending or not) into *@mask: 0, or -1 on
 * anything else (an index over 23, an empty item, a range backwards). */
static int parse_pcr_list(const char *s, uint32_t *mask)
{
    uint32_t m = 0;

    for (const char *p = s;;) {
        unsigned long lo, hi;
        char *end = NULL;

        if (*p < '0' || *p > '9')
            return -1;
        errno = 0;
        lo = hi = strtoul(p, &end, 10);
        if (errno != 0 || lo > 23)
            return -1;
        if (*end == '-') {
            p = end + 1;
            if (*p < '0' || *p > '9')
                return -1;
            hi = strtoul(p, &end, 10);
            if (errno != 0 || hi > 23 || hi < lo)
                return -1;
        }
        for (unsigned long i = lo; i <= hi; i++)
            m |= 1u << i;
        if (*end == 0)
            break;
        if (*end != ',')
            return -1;
        p = end + 1;
    }
    *mask = m;
    return 0;
}

/* @mask as a list, ranges of three or more folded ("0-7,9,23"). */
static void format_pcr_list(char *out, size_t cap, uint32_t mask)
{
    size_t n = 0;

    out[0] = 0;
    for (unsigned i = 0; i < 24 && n < cap; i++) {
        unsigned j = i;
        int w;

        if (!(mask & (1u << i)))
            continue;
        while (j + 1 < 24 && (mask & (1u << (j + 1))))
            j++;
        w = j >= i + 2 ? snprintf(out + n, cap - n, "%s%u-%u", n ? "," : "", i, j)
                       : snprintf(out + n, cap - n, "%s%u", n ? "," : "", i);
        if (w < 0)
            return;
        n += (size_t)w;
        if (j >= i + 2)
            i = j;
    }
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: vfy-agent --manifest FILE [--listen ADDR:PORT] [options]\n"
        "       vfy-agent --provision --ak-public-out FILE [--ak-handle H] [--tcti CONF]\n"
        "  --manifest FILE       agent manifest (JSON, DESIGN §5); re-measured on SIGHUP or change\n"
        "  --listen ADDR:PORT    TLS 1.3 listener (default 127.0.0.1:0 = any free port)\n"
        "  --ak-handle H         persistent AK handle (default 0x%08x); created if empty\n"
        "  --ak-public-out FILE  write the AK's TPM2B_PUBLIC (for verifyctl attester add --ak-public)\n"
        "  --cert-out FILE       write the TLS certificate (PEM) relying parties should trust\n"        "  --client-ca PEM       mutual TLS: accept only clients whose certificate chains to\n"
        "                        PEM (without it any client may connect and send requests)\n"
        "  --port-file FILE      write the listening port once ready\n"
        "  --pcr N               agent PCR (default 23)\n"
        "  --platform-pcrs LIST  platform PCRs quoted beside it: the policy's platform.pcrs,\n"
        "                        indexes and ranges such as 0-7,9 (default %s)\n"
        "  --tcti CONF           TCTI (default: $TPM2TOOLS_TCTI, $TCTI or $TSS2_TCTI)\n"
        "  --provision           create/load the AK, write --ak-public-out, exit\n"
        "  --test-notice-after-evidence N\n"
        "                        test hook: push a posture-changed notice right after each of\n"
        "                        the first N evidence frames (0..1000; default 0)\n"
        "  --test-change-before-app N\n"
        "                        test hook: count a posture change just before each of the\n"
        "                        first N app requests on an attested connection (0..1000)\n"
        "  --test-fail-extends N test hook: the first N PCR extends after the start fail,\n"
        "                        as a TPM error would (0..1000)\n",
        DEFAULT_AK_HANDLE, DEFAULT_PLATFORM_PCRS);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"manifest", required_argument, NULL, 'm'},
        {"listen", required_argument, NULL, 'l'},
        {"ak-handle", required_argument, NULL, 'k'},
        {"ak-public-out", required_argument, NULL, 'a'},
        {"cert-out", required_argument, NULL, 'c'},
        {"port-file", required_argument, NULL, 'P'},
        {"pcr", required_argument, NULL, 'p'},
        {"platform-pcrs", required_argument, NULL, 'X'},
        {"tcti", required_argument, NULL, 't'},
        {"provision", no_argument, NULL, 'R'},
        {"test-notice-after-evidence", required_argument, NULL, 'N'},
        {"test-change-before-app", required_argument, NULL, 'C'},
        {"test-fail-extends", required_argument, NULL, 'F'},
        {"client-ca", required_argument, NULL, 'Q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *listen_spec = "127.0.0.1:0", *ak_pub = NULL, *cert_out = NULL;
    const char *port_file = NULL, *tcti = NULL, *client_ca = NULL;
    uint32_t ak_handle = DEFAULT_AK_HANDLE;
    int provision = 0, created = 0, lfd = -1, port = 0, ret = 1, opt, stop = 0;
    SSL_CTX *ctx = NULL;
    char err[256];
    struct sigaction sa;

    g.pcr = DEFAULT_AGENT_PCR;
    (void)parse_pcr_list(DEFAULT_PLATFORM_PCRS, &g.platform_pcrs);
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        char *end = NULL;
        unsigned long v;

        switch (opt) {
        case 'm': g.manifest_path = optarg; break;
        case 'l': listen_spec = optarg; break;
        case 'a': ak_pub = optarg; break;
        case 'c': cert_out = optarg; break;
        case 'P': port_file = optarg; break;
        case 't': tcti = optarg; break;
        case 'Q': client_ca = optarg; break;
        case 'R': provision = 1; break;
        case 'X':
            if (parse_pcr_list(optarg, &g.platform_pcrs) != 0) {
                fprintf(stderr, "vfy-agent: bad value for --platform-pcrs: %s (PCR indexes "
                        "0-23 and ranges, comma-separated: 0-7,9)\n", optarg);
                return 2;
            }
            break;
        case 'k':
        case 'p':
        case 'N':
        case 'C':
        case 'F':
            errno = 0;
            v = strtoul(optarg, &end, 0);
            if (errno != 0 || end == optarg || *end != 0 || optarg[0] == '-' ||
                (opt == 'p' ? v > 23 : (opt == 'N' || opt == 'C' || opt == 'F') ? v > 1000
                              : v > UINT32_MAX)) {
                fprintf(stderr, "vfy-agent: bad value for --%s: %s\n",
                        opt == 'p' ? "pcr" : opt == 'N' ? "test-notice-after-evidence"
                        : opt == 'C' ? "test-change-before-app"
                        : opt == 'F' ? "test-fail-extends" : "ak-handle",
                        optarg);
                return 2;
            }
            if (opt == 'p')
                g.pcr = (unsigned)v;
            else if (opt == 'N')
                g.test_notices = (unsigned)v;
            else if (opt == 'C')
                g.test_changes = (unsigned)v;
            else if (opt == 'F')
                g.test_fail_extends = (unsigned)v;
            else
                ak_handle = (uint32_t)v;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || (!provision && g.manifest_path == NULL) ||
        (provision && ak_pub == NULL)) {
        usage(stderr);
        return 2;
    }
    if ((g.platform_pcrs & (1u << g.pcr)) && !provision) {
        fprintf(stderr, "vfy-agent: the agent PCR %u must not be one of the platform PCRs "
                "(--platform-pcrs)\n", g.pcr);
        return 2;
    }
    format_pcr_list(g.quoted, sizeof(g.quoted), g.platform_pcrs | (1u << g.pcr));

    /* Signals first: a SIGHUP or SIGTERM while the TPM is opened or the
     * manifest first measured is taken after the start (the default action
     * used to kill the agent, after it had extended the PCR: a log that
     * cannot be replayed until the platform restarts). */
    if (pipe(g.sigpipe) != 0) {
        fprintf(stderr, "vfy-agent: pipe: %s\n", strerror(errno));
        return 1;
    }
    fcntl(g.sigpipe[0], F_SETFL, O_NONBLOCK);
    fcntl(g.sigpipe[1], F_SETFL, O_NONBLOCK);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (agent_tpm_open(&g.tpm, tcti, err, sizeof(err)) != 0) {
        fprintf(stderr, "vfy-agent: TPM: %s\n", err);
        return 1;
    }
    if (agent_tpm_ak(g.tpm, ak_handle, ak_pub, &created, err, sizeof(err)) != 0) {
        fprintf(stderr, "vfy-agent: AK: %s\n", err);
        goto out;
    }
    say("AK %s at persistent handle 0x%08x (ECC P-256, ECDSA-SHA256)%s%s",
        created ? "created" : "loaded", (unsigned)ak_handle, ak_pub ? "; TPM2B_PUBLIC -> " : "",
        ak_pub ? ak_pub : "");
    if (provision) {
        ret = 0;
        goto out;
    }

    {
        uint8_t cur[32], zero[32] = {0};
        if (agent_tpm_pcr_read1(g.tpm, g.pcr, cur, err, sizeof(err)) != 0) {
            fprintf(stderr, "vfy-agent: %s\n", err);
            goto out;
        }
        if (memcmp(cur, zero, 32) != 0)
            say("warning: PCR %u is already extended (agent restarted without a TPM reset?); "
                "a verifier will not be able to replay this agent log", g.pcr);
        if (agent_tpm_counts_read(g.tpm, &g.seen, err, sizeof(err)) != 0) {
            fprintf(stderr, "vfy-agent: %s\n", err);
            goto out;
        }
    }
    if (manifest_reload("start") != 1)
        goto out;

    ctx = agent_tls_ctx(cert_out, "vfy-agent", client_ca);
    if (ctx == NULL)
        goto out;
    lfd = listen_on(listen_spec, &port);
    if (lfd < 0) {
        fprintf(stderr, "vfy-agent: cannot listen on %s: %s\n", listen_spec, strerror(errno));
        goto out;
    }
    if (port_file != NULL) {
        char tmp[4096];
        FILE *f;
        snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
        f = fopen(tmp, "w");
        if (f == NULL || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 ||
            rename(tmp, port_file) != 0) {
            fprintf(stderr, "vfy-agent: cannot write %s\n", port_file);
            goto out;
        }
    }
    say("listening on TLS 1.3 port %d (session tickets off)", port);

    while (!stop) {
        struct pollfd pf[2] = {{lfd, POLLIN, 0}, {g.sigpipe[0], POLLIN, 0}};
        int n = poll(pf, 2, 200);

        if (n < 0 && errno != EINTR)
            break;
        if (n > 0 && (pf[1].revents & POLLIN)) {
            unsigned char sig;
            int hup = 0;

            /* every queued signal first, then one reload for any number of
             * SIGHUPs (a storm of them used to stall the loop), none once
             * a stop is asked for */
            while (read(g.sigpipe[0], &sig, 1) == 1) {
                if (sig == SIGHUP)
                    hup = 1;
                else
                    stop = 1;
            }
            if (hup && !stop && manifest_reload("SIGHUP") > 0)
                notify_all();
        }
        if (n > 0 && (pf[0].revents & POLLIN)) {
            int fd = accept(lfd, NULL, NULL);
            if (fd >= 0) {
                int one = 1;

                fcntl(fd, F_SETFD, FD_CLOEXEC);
                /* Frames are written whole; Nagle would only hold a small
                 * frame (a posture-changed notice right behind evidence)
                 * until the peer's delayed ACK, i.e. past the moment the
                 * relying party re-reads the connection before deciding. */
                if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
                    say("TCP_NODELAY: %s (notices may be delayed)", strerror(errno));
                start_conn(ctx, fd);
            }
        }
        if (!stop && manifest_file_changed() && manifest_reload("file changed") > 0)
            notify_all();
        if (!stop && atomic_exchange(&g.reset_seen, 0))   /* a TPM reset seen in a quote */
            notify_all();
        reap(0);
    }
    say("stopping");
    ret = 0;
out:
    if (lfd >= 0)
        close(lfd);
    reap(1);
    SSL_CTX_free(ctx);
    agent_tpm_close(&g.tpm);
    for (size_t i = 0; i < g.nlog; i++)
        free(g.log[i].b64);
    free(g.log);
    free(g.manifest);
    tried_clear();
    return ret;
}
