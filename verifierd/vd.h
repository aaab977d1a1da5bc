/*
 * vd.h — verifierd's private header: configuration, server state, the
 * request context and the helpers shared by the endpoint modules.
 *
 * verifierd uses only libverify's public headers, like any other user.
 */
#ifndef VERIFIERD_VD_H
#define VERIFIERD_VD_H

#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/uio.h>
#include <time.h>

#include <verify/verify.h>

#define VD_MAX_BODY (1024 * 1024)        /* 413 above this (DESIGN §8) */
/* POST /v1/attest: 1 MiB of CBOR evidence travels as base64url, 4/3 of it,
 * beside the other fields; the evidence's own 1 MiB limit is libverify's
 * (VFY_CMW_MAX, checked on the decoded CBOR and the compact JSON). The
 * whole body at 1 MiB capped CBOR evidence at ~768 KiB. */
#define VD_ATTEST_BODY_MAX (VFY_B64URL_LEN(VFY_CMW_MAX) + 4096)
#define VD_WAL_RESTART_WAIT_MS 20         /* longest writes wait for a WAL restart */
#define VD_CONN_MEMORY (16 * 1024)      /* libmicrohttpd pool: request line + headers (431) */
#define VD_ID_LEN 16                     /* request id: 12 random bytes, b64url, no NUL */
#define VD_MAX_WORKERS 256               /* --threads at most */

/* ---- configuration (config.c) ---- */
struct vd_config {
    char *db_path;
    char *listen;              /* "host:port", default 127.0.0.1:8443 */
    char *public_url;          /* optional "https://host[:port]" for discovery */
    char *tls_cert, *tls_key;  /* PEM files */
    char *signing_key;         /* ES256 key, PEM */
    char *old_keys_dir;        /* optional: older public keys kept in the JWKS */
    char *nonce_key;           /* 32-byte key file shared by replicas */
    char *config_file;
    char **policy_files;       /* loaded at start and on SIGHUP */
    size_t npolicy_files;
    char *default_policy;      /* policy id when the request and attester name none */
    int ear_legacy;            /* 1: older Veraison claim names */
    unsigned threads;          /* 0: number of cores */
    unsigned max_connections;
    unsigned max_conn_per_ip;  /* 0: no per-address limit */
    unsigned conn_timeout_s;
    unsigned drain_s;          /* SIGTERM/SIGHUP: longest wait for in-flight requests */
    unsigned rate_per_s, rate_burst; /* per token */
    size_t nonce_cache;        /* capacity of the used-nonce set */
    unsigned commit_batch;     /* appraisals per group commit at most */
    unsigned commit_delay_us;  /* longest an answer waits for others to share its commit */
    unsigned wal_limit_mib;    /* restarting checkpoint once the WAL passes this */
    unsigned results_keep_days; /* retention in group commits; 0: keep every result */
    int dev;
    char *state_dir;
    int quiet;                 /* no per-request log lines */
    int accept_restored_db;    /* start on a database DB.high-water says was restored */
};

int vd_config_parse(struct vd_config *cfg, int argc, char **argv);
void vd_config_free(struct vd_config *cfg);
void vd_usage(FILE *out);

/* ---- metrics (metrics.c) ---- */
enum vd_endpoint {
    VD_EP_CHALLENGE, VD_EP_ATTEST, VD_EP_KEYS, VD_EP_RESULTS, VD_EP_REVOCATIONS,
    VD_EP_ADMIN, VD_EP_HEALTH, VD_EP_METRICS, VD_EP_WELLKNOWN, VD_EP_OTHER,
    VD_EP_COUNT
};
const char *vd_endpoint_name(enum vd_endpoint ep);
void vd_metrics_request(enum vd_endpoint ep, unsigned status, double seconds);
void vd_metrics_verdict(const char *status);
/* One group commit of @answers parked answers (commit.c). */
void vd_metrics_commit(size_t answers, double seconds);
void vd_metrics_wal_restart(int ok);   /* a restarting checkpoint ran (ok: it finished) */
void vd_metrics_wal_pages(int pages);   /* WAL size after the last checkpoint */
void vd_metrics_reload(int ok);         /* a SIGHUP reload ended (ok: nothing was kept) */
void vd_metrics_tls_expiry(int64_t not_after);   /* the served certificate's expiry */
void vd_metrics_dropped(void);          /* a request closed unread (its generation stopping) */
void vd_metrics_generation_regression(void); /* the store generation went back (server.c) */
char *vd_metrics_render(size_t *len);

/* ---- rate limiting (ratelimit.c) ---- */
struct vd_ratelimit;
struct vd_ratelimit *vd_ratelimit_new(unsigned per_s, unsigned burst);
void vd_ratelimit_free(struct vd_ratelimit *rl);
/* 1 if the caller identified by @key (a token hash) may proceed now. */
int vd_ratelimit_allow(struct vd_ratelimit *rl, const uint8_t key[32], double now);

/* ---- server state (server.c) ---- */
struct vd_keys {
    vfy_signing_key *current;
    char *jwks;                /* JSON served at /v1/keys */
    size_t jwks_len;
};

struct vd_server {
    struct vd_config *cfg;
    struct MHD_Daemon *daemon;
    pthread_rwlock_t keys_lock; /* guards keys (swapped on SIGHUP) */
    struct vd_keys keys;
    vfy_nonce_key *nonce_key;
    vfy_nonce_cache *nonce_cache;
    vfy_store *commit_st;      /* the committer's own connection */
    vfy_committer *committer;  /* group commit of appraisal state and results */
    vfy_store *ckpt_st;        /* the WAL checkpointer's connection */
    struct vd_ratelimit *rl;
    char *tls_cert_pem, *tls_key_pem;
    uint64_t started;
    int start_exit;            /* vd_server_start failed: main's exit status (0: 1) */
};

/* Exit status of a start refused by the restore interlock (server.c): the
 * database is not the one last served (restored from a backup, replaced).
 * Its own value, so that systemd does not restart on it
 * (RestartPreventExitStatus=, packaging/verifierd.service). */
#define VD_EXIT_RESTORED 3

extern struct vd_server *vd_srv;

/* ---- per-request context ---- */
/*
 * A daemon generation's gate for parked answers (server.c, commit.c).
 * libmicrohttpd aborts the process when a daemon is stopped with a
 * suspended connection, so once retire_gen closes the gate no connection
 * of that generation is parked any more (the answer waits for its commit
 * in the handler instead), and retire_gen waits until every parked one has
 * been resumed. The handler raises @parked before it looks at @closing and
 * retire_gen sets @closing before it reads @parked: one of them sees the
 * other (sequentially consistent atomics).
 */
struct vd_park_gate {
    atomic_int parked;   /* parked answers not yet resumed */
    atomic_int closing;
    atomic_int draining; /* the generation is retiring: answers say Connection: close */
    atomic_int consuming; /* attests past their nonce whose answer is not queued yet */
    atomic_int cutting;   /* retire_gen: no attest may use its nonce any more */
};

struct vd_req;

/*
 * Before an attest uses its nonce: 0, and its generation's stop waits for
 * its answer to be queued; -1 when the generation is being cut (nothing may
 * be consumed: answer 503). vd_consume_leave when the answer is queued
 * (vd_send_hdr) or the request ends (on_completed).
 */
int vd_consume_enter(struct vd_req *r);
void vd_consume_leave(struct vd_req *r);

struct vd_req {
    char id[VD_ID_LEN + 1];
    struct timespec start;
    enum vd_endpoint ep;
    char *body;
    size_t len, cap, limit;
    size_t discarded;          /* body bytes past the limit, read and dropped */
    const char *allow;         /* Allow of a 405, when the endpoint knows better than its route */
    int too_large;
    unsigned status;
    char method[8];
    char path[64];             /* truncated; never the query string */
    char attester[129];
    char verdict[20];
    char token[VFY_STORE_NAME_MAX + 1]; /* token name, for the log */
    vfy_token_role role;
    int authed;
    int dropped;               /* refused unread: its generation was stopping */
    int consuming;             /* counted in gate->consuming (vd_consume_enter) */
    int queued;                /* an answer was queued for it */
    int close;                 /* its answer closes the connection (framing in doubt) */
    /* an attest answer parked until its group commit (commit.c) */
    struct vd_park_gate *gate; /* its daemon generation's (server.c) */
    int parked;
    struct MHD_Connection *park_c;
    struct vd_req *park_next;
    struct timespec park_at;
    int park_idle;             /* parked after a gap longer than the commit delay */
    vfy_result *park_res;
    vfy_rc park_rc;
    const char *park_ctype;
    char *park_body;
    size_t park_len;
};

/* ---- answers parked until their group commit (commit.c) ---- */
int vd_commit_start(struct vd_server *s);   /* no-op with --commit-delay-us 0 */
void vd_commit_stop(void);                   /* after the daemons stopped */
int vd_commit_parking(void);                 /* 1: attest answers are parked */
/* +1 before an appraisal that may join the batch, -1 if it ends unparked. */
void vd_commit_busy(int delta);
/*
 * Before parking: 0 and r->gate holds a place for it, or -1 when the gate
 * is closing (its daemon is being stopped): the caller waits for the
 * commit itself. A place not used for vd_commit_park is given back with
 * vd_commit_gate_leave; a parked answer's is given back on its resume.
 */
int vd_commit_gate_enter(struct vd_req *r);
void vd_commit_gate_leave(struct vd_req *r);
/* Suspend @c (after vd_commit_gate_enter); r->park_res/ctype/body/len/verdict
 * are the answer to send. */
void vd_commit_park(struct MHD_Connection *c, struct vd_req *r);
/* On resume: send the parked answer, or 503 if its commit failed. */
enum MHD_Result vd_commit_answer(struct MHD_Connection *c, struct vd_req *r);
void vd_commit_release(struct vd_req *r);

/* The per-thread store handle and appraiser (opened on first use; never
 * shared; closed when the thread exits). NULL if the database cannot be
 * opened. */
vfy_store *vd_store(void);
vfy_appraiser *vd_appraiser(void);
/* vfy_store_token_lookup_at() on this thread's store, through a small
 * cache of known tokens dropped whenever the store generation changes; an
 * expired token is found too, with its *@expires_at (0: never), so the
 * caller checks the expiry at every use. While the generation cannot be
 * read (over a second since the last good read) the cache is not used. */
vfy_rc vd_token_lookup(const uint8_t sha[32], char *name, vfy_token_role *role,
                       int64_t *expires_at);
/* Read the store generation again now (after this process's admin changes). */
void vd_generation_refresh(void);

/* ---- HTTP helpers (http.c) ---- */
enum MHD_Result vd_send(struct MHD_Connection *c, struct vd_req *r, unsigned status,
                        const char *ctype, const char *body, size_t len);
/* The same with one more header (@hname: @hvalue; NULL: none). */
enum MHD_Result vd_send_hdr(struct MHD_Connection *c, struct vd_req *r, unsigned status,
                            const char *ctype, const char *body, size_t len, const char *hname,
                            const char *hvalue);
/* Admin listings: rows per page by default and at most (?limit=). */
/* The characters of a host[:port] (names, IPv4, [IPv6]) that discovery
 * URLs may carry: the Host header check and --public-url. */
#define VD_HOST_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]"
#define VD_LIST_PAGE 1000
#define VD_LIST_PAGE_MAX 10000
/*
 * tls_send.c: an answer's header and body leave in one sendmsg(). State is
 * per descriptor (below nfds), touched only by the connection's worker.
 */
int vd_tls_hold_init(size_t nfds);                        /* once, before the daemons */
void vd_tls_hold_start(struct MHD_Connection *c, int fd); /* connection started: our push */
void vd_tls_hold_end(int fd);                            /* connection closed */
void vd_tls_hold_arm(struct MHD_Connection *c);          /* an answer with a body is queued */
int vd_tls_hold_flush(struct MHD_Connection *c);         /* its request completed; -1: the
                                                            held header could not be sent
                                                            and the connection is shut down */
/* The descriptor-level parts, for the above and for test_tls_send. */
int vd_tls_hold_open(int fd);
void vd_tls_hold_arm_fd(int fd);
int vd_tls_hold_flush_fd(int fd);
ssize_t vd_tls_push(void *fd_ptr, const struct iovec *iov, int iovcnt);
struct msghdr;
extern ssize_t (*vd_tls_sendmsg)(int, const struct msghdr *, int); /* sendmsg; tests swap it */
enum MHD_Result vd_send_json(struct MHD_Connection *c, struct vd_req *r, unsigned status,
                             const char *json);
/* RFC 9457 problem: type is "about:blank"-style, title from status. */
enum MHD_Result vd_problem(struct MHD_Connection *c, struct vd_req *r, unsigned status,
                           const char *detail);
/* 0 if the request's media type (parameters ignored) is @want. */
int vd_content_type_is(struct MHD_Connection *c, const char *want);
/* How many request headers are named @name (case-insensitive). */
unsigned vd_header_count(struct MHD_Connection *c, const char *name);
/*
 * NULL if the request's headers frame it one way only; else the detail of
 * its 400 (in @buf, or a static string): a header name that is not an
 * RFC 9110 token (whitespace before the colon hides a Content-Length or
 * Transfer-Encoding from libmicrohttpd), Transfer-Encoding repeated or
 * other than chunked, Content-Length repeated or with Transfer-Encoding.
 */
const char *vd_framing_error(struct MHD_Connection *c, char *buf, size_t cap);
/*
 * The request body as one JSON object (Content-Type application/json,
 * strict JSON by libverify's rule, vfy_json_check), or NULL with *@ret the
 * 415/400 answer queued.
 */
cJSON *vd_json_body(struct MHD_Connection *c, struct vd_req *r, enum MHD_Result *ret);
/* 0 if every member of @o is in @allowed (NULL-terminated) and none repeats;
 * else -1 with a 400 queued in *@ret. */
int vd_json_only_fields(struct MHD_Connection *c, struct vd_req *r, const cJSON *o,
                        const char *const *allowed, enum MHD_Result *ret);
/* 0 if each member of @o named in @names (NULL-terminated) is a string;
 * else -1 with a 400 naming the first that is not (null included: a field
 * that is not meant is left out, never sent as null). */
int vd_json_strings(struct MHD_Connection *c, struct vd_req *r, const cJSON *o,
                    const char *const *names, enum MHD_Result *ret);
/* 1 for a name the store would take: non-empty, at most VFY_STORE_NAME_MAX
 * bytes, UTF-8 (vfy_utf8_seq), no control character. */
int vd_name_ok(const char *s);
/* Replace each byte of @s that is not part of valid UTF-8 with '?', in place
 * (client strings bound for the JSON log). */
void vd_utf8_scrub(char *s);
/* Copy @s into @out (@cap > 0 bytes with the NUL) as vd_utf8_scrub would
 * leave it, cut between characters when it does not fit. */
void vd_utf8_copy(char *out, size_t cap, const char *s);
/* libmicrohttpd's URL unescape, refusing to decode a path holding %00. */
size_t vd_unescape(void *cls, struct MHD_Connection *c, char *s);
/* 1 if @want appears in the Accept header. */
int vd_accepts(struct MHD_Connection *c, const char *want);
/* Authenticate the bearer token; on failure a 401/403/429 is queued and
 * *@done is set. @need is the role the endpoint requires. */
enum MHD_Result vd_auth(struct MHD_Connection *c, struct vd_req *r, vfy_token_role need,
                        int *done);
uint64_t vd_now(void);
/* Query argument @key as a decimal integer 0..@max (@def when absent or
 * empty): 0, or -1 when it is not one (no sign, no blanks). */
int vd_query_u64(struct MHD_Connection *c, const char *key, uint64_t def, uint64_t max,
                 uint64_t *out);
/* Wipe a NUL-terminated secret (key PEM) and free it; NULL is fine. */
void vd_free_secret(char *s);
void vd_rfc3339(char out[32], uint64_t t);

/* ---- logging (log.c) ---- */
void vd_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vd_log_request(const struct vd_req *r, const char *method, const char *path, double secs);
/* The line for a request libmicrohttpd answered itself (@id made up for it):
 * no method, path or latency, "answered_by":"libmicrohttpd". */
void vd_log_mhd_answer(const char *id, unsigned status);

/* ---- endpoints (api_*.c) ---- */
typedef enum MHD_Result (*vd_handler)(struct MHD_Connection *c, struct vd_req *r,
                                      const char *method, const char *path);
/* The nonce TTL of the policy that applies (see api_challenge.c); *err set
 * when the request named an unknown policy. */
uint32_t vd_policy_nonce_ttl(const char *policy_id, const char *attester, const char **err);
enum MHD_Result vd_api_challenge(struct MHD_Connection *, struct vd_req *, const char *, const char *);
enum MHD_Result vd_api_attest(struct MHD_Connection *, struct vd_req *, const char *, const char *);
enum MHD_Result vd_api_keys(struct MHD_Connection *, struct vd_req *, const char *, const char *);
enum MHD_Result vd_api_result(struct MHD_Connection *, struct vd_req *, const char *, const char *);
enum MHD_Result vd_api_revocations(struct MHD_Connection *, struct vd_req *, const char *, const char *);
enum MHD_Result vd_api_admin(struct MHD_Connection *, struct vd_req *, const char *, const char *);
enum MHD_Result vd_api_health(struct MHD_Connection *, struct vd_req *, const char *, const char *);
enum MHD_Result vd_api_metrics(struct MHD_Connection *, struct vd_req *, const char *, const char *);
enum MHD_Result vd_api_wellknown(struct MHD_Connection *, struct vd_req *, const char *, const char *);

/* ---- lifecycle (server.c, devmode.c) ---- */
int vd_server_start(struct vd_server *s);
/* Connections open now, in every daemon generation (server.c). */
unsigned vd_conn_open(void);
/* Open connections of each worker thread of the current daemon that has
 * had one, at most @max; returns how many workers were written. */
size_t vd_conn_per_worker(unsigned *out, size_t max);

/* Connections open from the address @ip (vd_peer_ip), every generation,
 * plus those of @pending (descriptors handed to a daemon and not yet off
 * the accept thread's list), each counted once. */
unsigned vd_conn_from(const uint8_t ip[17], const int *pending, unsigned npending);

/* ---- the accept thread (accept.c) ----
 * Accepts on @listen_fd (made non-blocking) and hands each connection to
 * the daemon last set; stops accepting while @max_connections are open and
 * closes at once a connection from an address that has @max_per_ip open
 * (0: no limit), counting the connections of every daemon generation. */
int vd_accept_start(int listen_fd, struct MHD_Daemon *d, unsigned max_connections,
                    unsigned max_per_ip);
/* The IP address of @sa into @ip: its family byte (4 or 6) then the address
 * (an IPv4-mapped IPv6 address as IPv4), zero-padded; 0 on success. */
int vd_peer_ip(const struct sockaddr *sa, uint8_t ip[17]);
/* New connections go to @d from the return on. */
void vd_accept_set_daemon(struct MHD_Daemon *d);
void vd_accept_stop(void);   /* joins the thread; no-op if not started */
/* The daemon started serving the connection on @fd (on_connection). */
void vd_accept_started(int fd);
/* Connections handed to @d that it has not started yet. */
unsigned vd_accept_pending(const struct MHD_Daemon *d);
/* @d is stopped: whatever was handed to it and not started is gone. */
void vd_accept_forget(const struct MHD_Daemon *d);
int vd_server_reload(struct vd_server *s);
/* systemd's sd_notify protocol: @msg ("READY=1\nSTATUS=...") to
 * $NOTIFY_SOCKET; nothing without it (notify.c). */
void vd_notify(const char *msg);
/* OpenSSL's passphrase callback that gives none: OpenSSL's default would
 * ask on the terminal (and a reload would wait for it); an encrypted key is
 * refused instead (server.c). */
int vd_no_passphrase(char *buf, int size, int rwflag, void *u);
void vd_server_stop(struct vd_server *s);
int vd_dev_prepare(struct vd_config *cfg);
/* The tokens and ready-to-paste commands, once the server listens. */
void vd_dev_announce(const struct vd_config *cfg);
/* Store every --policy file, all or none (one transaction); 0, or -1 with
 * each failure logged. */
int vd_load_policies(struct vd_config *cfg);
/* Read and check every --policy file without storing any; *@has_id: one of
 * them has the id @id. 0, or -1 with each failure logged. */
int vd_check_policies(const struct vd_config *cfg, const char *id, int *has_id);

#endif
