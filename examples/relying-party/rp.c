/*
 * rp.c — a relying party that gates high-impact operations on fresh,
 * connection-bound attestation of the agent it talks to (DESIGN §1, §3, §7;
 * docs/rp-guide.md, docs/agent-protocol.md).
 *
 * One TLS 1.3 connection to the agent stays open for the whole run. Before
 * each high-impact operation the RP needs a valid EAR *for this connection*:
 * if it has none, if its exp passed, if verifierd's revocation feed lists it,
 * or if the agent pushed a posture-changed notice, it
 *   1. gets a nonce from verifierd (POST /v1/challenge),
 *   2. sends it in-band to the agent and receives CMW evidence bound to the
 *      connection's exporter value,
 *   3. forwards the evidence with its OWN exporter value (POST /v1/attest),
 *   4. verifies the EAR with vfy_ear_verify_expected() against /v1/keys:
 *      the nonce, the channel binding, the attester, the lifetime asked for
 *      and (--require-policy) the policy,
 * and allows the operation only if the EAR's status is "affirming". Every
 * step is a timeline line on stdout. The number of TLS handshakes on the
 * connection (SSL_CB_HANDSHAKE_START) is counted and reported; it must stay 1.
 *
 * Answers carry no request id: the agent answers requests in order, and the
 * RP takes the next answer frame as the answer to its request. So a
 * connection on which that pairing may be off is never read for answers
 * again (agent_close): no answer within --answer-timeout-ms (a late one may
 * still come and would be taken for the next request's), a stalled or
 * malformed frame, an answer of the wrong type or one nothing was waiting
 * for, or evidence whose quote is not bound to the nonce just sent on this
 * connection (checked before anything is submitted: evidence_answers). The
 * EAR held goes with the connection; the next operation opens a new one and
 * attests it afresh. A connection the agent closed is lost, as before: the
 * operations after it are refused and the story stops. Caveat: an
 * app-request left unanswered has an unknown outcome and stops the story
 * too (the agent may have run it).
 *
 * Story scripts (--script FILE, "-" for stdin), one command per line:
 *   op TEXT             a high-impact operation, gated as above
 *   expect allowed|refused [STATUS]   fail unless the last op matched
 *   wait-notice SECS    wait for the agent's posture-changed notice
 *   wait-revoked SECS   poll the revocation feed until the held EAR is revoked
 *   sleep SECS          wait (e.g. for the EAR to expire)
 *   run CMD             run a shell command (the demo's narrator: swap the
 *                       agent's manifest, an operator's verifyctl, ...)
 *   say TEXT            print a narration line
 *   capture FILE        relay demo: challenge the agent on this connection and
 *                       save {nonce, evidence} to FILE without submitting it
 * --replay FILE makes the first attestation submit evidence captured on
 * another connection (with this connection's exporter value): what a relay
 * attacker would do. verifierd must answer contraindicated.
 * --test-keep-connection-on-timeout (tests only) keeps the connection after
 * an answer timeout, as the RP once did, so that a test can show the
 * binder check catching the late answer.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <verify/verify.h>

#include "../common/frame.h"
#include "verifier.h"

struct rp {
    const char *name;
    /* the agent connection: ssl NULL and fd -1 while there is none */
    const char *agent_addr, *agent_ca;  /* --agent, --agent-ca: also for a reconnect */
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    int handshakes;         /* on the current (or last) connection */
    uint8_t cb[VFY_CB_LEN];
    unsigned answer_ms;     /* --answer-timeout-ms */
    const char *require_policy; /* --require-policy ID or ID@VERSION; NULL: any */
    unsigned conns;         /* connections opened; the current one is number conns */
    unsigned closed;        /* connections closed before the end (agent_close) */
    unsigned bad_conns;     /* closed connections that did not see exactly one handshake */
    int may_reconnect;      /* no connection: 1 the next operation opens one, 0 refuse */
    char drop_why[320];     /* "agent connection N dropped|lost: why" of the last close */
    int ssl_failed;         /* a fatal TLS error on the current connection: no close_notify */
    int test_keep_on_timeout; /* --test-keep-connection-on-timeout */
    /* verifierd */
    vclient *vc;
    const char *attester;
    unsigned max_ttl_s;
    int last_agent_error;   /* code of the last error frame transact() read; 0: none */
    const char *client_cert, *client_key; /* --cert/--key: mutual TLS with the agent */
    char *jwks;
    size_t jwks_len;
    time_t jwks_at;   /* CLOCK_MONOTONIC seconds when it was fetched */
    unsigned jwks_max_age_s; /* refetch at least this often (--jwks-max-age) */
    uint64_t cursor;
    unsigned feed_page, feed_pages; /* --feed-page-size, --feed-pages (per decision) */
    /* the EAR held for this connection */
    vfy_ear *ear;
    struct timespec ear_received;   /* CLOCK_MONOTONIC */
    int64_t ear_life_s;             /* how long it may be relied on from then */
    char jti[VFY_EAR_JTI_MAX + 1];
    int posture_changed;
    char posture_note[256];
    int revoked;
    char revoked_reason[512];
    /* relay demo */
    char *replay_nonce_b64;
    char *replay_evidence;
    /* story */
    int last_decision; /* 1 allowed, 0 refused, -1 none */
    vfy_ear_status last_status;
    unsigned ops, allowed, refused, attestations;
    struct timespec t0;
};

static void tl(struct rp *rp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tl(struct rp *rp, const char *fmt, ...)
{
    struct timespec now;
    struct tm tm;
    va_list ap;

    /* Wall-clock time, so that the agent's and the relying party's lines interleave. */
    clock_gettime(CLOCK_REALTIME, &now);
    localtime_r(&now.tv_sec, &tm);
    printf("%02d:%02d:%02d.%03ld %-5s ", tm.tm_hour, tm.tm_min, tm.tm_sec,
           now.tv_nsec / 1000000, rp->name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

/* ---------- the TLS connection to the agent ---------- */

static void info_cb(const SSL *ssl, int where, int ret)
{
    struct rp *rp = SSL_get_app_data(ssl);

    (void)ret;
    if ((where & SSL_CB_HANDSHAKE_START) && rp != NULL)
        rp->handshakes++;
}

/* A TCP connection to @host:@port; -1 if none. Each read and write (and,
 * on Linux, the connect itself) must make progress within @timeout_ms. */
static int tcp_connect(const char *host, const char *port, unsigned timeout_ms)
{
    struct addrinfo hints, *res = NULL, *ai;
    struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000};
    int fd = -1;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) != 0)
        return -1;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0)
            continue;
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            int one = 1;

            /* whole frames only: no reason to wait for an ACK (see the agent) */
            (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            break;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

/*
 * Open a TLS connection to the agent at --agent (the first one, or a new one
 * after agent_close). 0, or -1 with nothing left open. Every connection
 * gets its own exporter value; nothing held for an earlier one carries over.
 */
static int agent_connect(struct rp *rp)
{
    const char *hostport = rp->agent_addr, *ca = rp->agent_ca;
    char host[256];
    const char *colon = strrchr(hostport, ':');
    X509_VERIFY_PARAM *vp;
    int prev_handshakes = rp->handshakes; /* kept if no new connection is made */

    if (colon == NULL || (size_t)(colon - hostport) >= sizeof(host)) {
        fprintf(stderr, "%s: --agent must be HOST:PORT\n", rp->name);
        return -1;
    }
    memcpy(host, hostport, (size_t)(colon - hostport));
    host[colon - hostport] = 0;
    rp->handshakes = 0;
    rp->ssl_failed = 0;
    if (rp->ctx != NULL)
        goto connect;
    rp->ctx = SSL_CTX_new(TLS_client_method());
    if (rp->ctx == NULL || !SSL_CTX_set_min_proto_version(rp->ctx, TLS1_3_VERSION))
        goto tls_fail;
    /* Never resume: a resumed or new connection is a new channel and needs its own EAR. */
    SSL_CTX_set_options(rp->ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_session_cache_mode(rp->ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_verify(rp->ctx, SSL_VERIFY_PEER, NULL);
    if (ca != NULL ? SSL_CTX_load_verify_locations(rp->ctx, ca, NULL) != 1
                   : SSL_CTX_set_default_verify_paths(rp->ctx) != 1)
        goto tls_fail;
    /* mutual TLS: the certificate an agent started with --client-ca trusts */
    if (rp->client_cert != NULL &&
        (SSL_CTX_use_certificate_chain_file(rp->ctx, rp->client_cert) != 1 ||
         SSL_CTX_use_PrivateKey_file(rp->ctx, rp->client_key, SSL_FILETYPE_PEM) != 1 ||
         SSL_CTX_check_private_key(rp->ctx) != 1))
        goto tls_fail;
    SSL_CTX_set_info_callback(rp->ctx, info_cb);
connect:
    /* An agent that stalls in the handshake or inside a frame must not hang
     * the relying party: the handshake must finish within the answer
     * timeout, a frame once started too (next_frame), and each write must
     * make progress within it. */
    rp->fd = tcp_connect(host, colon + 1, rp->answer_ms);
    if (rp->fd < 0) {
        fprintf(stderr, "%s: cannot connect to the agent at %s\n", rp->name, hostport);
        rp->handshakes = prev_handshakes;
        return -1;
    }
    rp->ssl = SSL_new(rp->ctx);
    if (rp->ssl == NULL || SSL_set_fd(rp->ssl, rp->fd) != 1)
        goto tls_fail;
    SSL_set_app_data(rp->ssl, rp);
    vp = SSL_get0_param(rp->ssl);
    if (X509_VERIFY_PARAM_set1_ip_asc(vp, host) != 1) { /* not an IP literal: a host name */
        if (SSL_set1_host(rp->ssl, host) != 1 || SSL_set_tlsext_host_name(rp->ssl, host) != 1)
            goto tls_fail;
    }
    SSL_set_connect_state(rp->ssl);
    switch (frame_handshake(rp->ssl, rp->fd, (int)rp->answer_ms)) {
    case 1: break;
    case FRAME_TIMEOUT:
        fprintf(stderr, "%s: TLS to the agent failed: the handshake did not finish within %u ms\n",
                rp->name, rp->answer_ms);
        goto fail;
    case FRAME_EOF:
        fprintf(stderr, "%s: TLS to the agent failed: the agent closed the connection during "
                "the handshake\n", rp->name);
        goto fail;
    default: goto tls_fail;
    }
    if (SSL_export_keying_material(rp->ssl, rp->cb, sizeof(rp->cb), VFY_CB_EXPORTER_LABEL,
                                   strlen(VFY_CB_EXPORTER_LABEL), NULL, 0, 0) != 1)
        goto tls_fail;
    rp->conns++;
    if (rp->conns == 1)
        tl(rp, "connected to the agent at %s: %s %s, certificate verified; handshakes so far: %d",
           hostport, SSL_get_version(rp->ssl), SSL_get_cipher_name(rp->ssl), rp->handshakes);
    else
        tl(rp, "connected to the agent at %s (connection %u, a new channel: its own exporter "
           "value, attested afresh): %s %s, certificate verified; handshakes on it: %d", hostport,
           rp->conns, SSL_get_version(rp->ssl), SSL_get_cipher_name(rp->ssl), rp->handshakes);
    return 0;
tls_fail:
    fprintf(stderr, "%s: TLS to the agent failed:\n", rp->name);
    ERR_print_errors_fp(stderr);
fail:
    SSL_free(rp->ssl);   /* no shutdown: the handshake did not complete */
    rp->ssl = NULL;
    if (rp->fd >= 0)
        close(rp->fd);
    rp->fd = -1;
    OPENSSL_cleanse(rp->cb, sizeof(rp->cb));
    rp->handshakes = prev_handshakes;
    return -1;
}

static void drop_ear(struct rp *rp);

/*
 * Close the connection to the agent: it is not read again, so no answer
 * still on its way can be taken for a later request's. The EAR held goes
 * with it (an EAR speaks for one connection only). @reconnect 1: the RP
 * gave up on a live connection; the next operation opens a new one. 0: the
 * connection is lost (the agent closed it, or a write failed); operations
 * are refused from now on. One timeline line says which and why.
 */
static void agent_close(struct rp *rp, int reconnect, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void agent_close(struct rp *rp, int reconnect, const char *fmt, ...)
{
    char why[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    snprintf(rp->drop_why, sizeof(rp->drop_why), "agent connection %u %s: %s", rp->conns,
             reconnect ? "dropped" : "lost", why);
    tl(rp, "%s; %s", rp->drop_why,
       reconnect ? "it is not read again: the next operation opens a new connection"
                 : "refusing further operations");
    if (rp->ear != NULL)
        tl(rp, "the EAR %s held for connection %u is dropped with it", rp->jti, rp->conns);
    drop_ear(rp);
    rp->posture_changed = 0;
    if (rp->handshakes != 1)
        rp->bad_conns++;
    /* close_notify only on a connection that did not fail (SSL_shutdown
     * must not follow a fatal error); it does not wait for the agent's */
    if (reconnect && !rp->ssl_failed)
        (void)SSL_shutdown(rp->ssl);
    ERR_clear_error();
    SSL_free(rp->ssl);
    rp->ssl = NULL;
    close(rp->fd);
    rp->fd = -1;
    OPENSSL_cleanse(rp->cb, sizeof(rp->cb));
    rp->closed++;
    rp->may_reconnect = reconnect;
}

/*
 * A connection to use: the open one, or a new one when the last was
 * dropped. 0, or -1 (with a timeline line) when operations must be refused:
 * the connection was lost, or a new one could not be opened.
 */
static int agent_ready(struct rp *rp)
{
    if (rp->ssl != NULL)
        return 0;
    if (!rp->may_reconnect) {
        tl(rp, "no connection to the agent (%s)", rp->drop_why);
        return -1;
    }
    tl(rp, "opening a new connection to the agent (connection %u was dropped)", rp->conns);
    if (agent_connect(rp) != 0) {
        rp->may_reconnect = 0;
        snprintf(rp->drop_why, sizeof(rp->drop_why), "cannot reconnect to the agent at %s",
                 rp->agent_addr);
        tl(rp, "%s: refusing further operations", rp->drop_why);
        return -1;
    }
    return 0;
}

static void on_notice(struct rp *rp, const uint8_t *p, size_t len)
{
    cJSON *j = cJSON_ParseWithLength((const char *)p, len);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "manifest_version");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "manifest_digest");

    char digest[81];

    rp->posture_changed = 1;
    snprintf(rp->posture_note, sizeof(rp->posture_note), "manifest version %.0f, %s",
             cJSON_IsNumber(v) ? v->valuedouble : -1.0,
             cJSON_IsString(d)
                 ? frame_printable(d->valuestring, strlen(d->valuestring), digest, sizeof(digest))
                 : "?");
    cJSON_Delete(j);
    tl(rp, "<- agent: posture-changed notice (%s): the EAR held for this connection no longer "
       "describes the agent", rp->posture_note);
}

/*
 * Read frames until one that is not a notice arrives (notices are handled
 * on the way). @timeout_ms < 0: block. Returns 1 with a frame, 0 on timeout,
 * 2 after a notice if @stop_on_notice, -1 on error or EOF. Frames that have
 * started arriving must be whole by @timeout_ms (0 for a drain) plus the
 * answer timeout after the call, or the connection is dropped: an agent
 * that sends a byte now and then cannot hold the call longer.
 */
static int next_frame(struct rp *rp, int timeout_ms, int stop_on_notice, uint8_t *type,
                      uint8_t **p, size_t *len)
{
    struct timespec start, now;
    unsigned frames = 0;
    int must_poll = 0;   /* the last peek found no frame: wait for the socket */

    if (rp->ssl == NULL)
        return -1;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        int rc, left = -1;

        if (timeout_ms >= 0) {
            long el;
            clock_gettime(CLOCK_MONOTONIC, &now);
            el = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
            left = el >= timeout_ms ? 0 : (int)(timeout_ms - el);
            /* An agent that keeps sending notices or unknown frames must not
             * hold this call past its deadline (or a drain forever). */
            if (frames > 0 && (timeout_ms == 0 ? frames >= 64 : left == 0))
                return 0;
        }
        /* Poll the socket only when OpenSSL holds nothing: a frame that
         * arrived right behind the last one can sit in its buffer as a
         * record not yet decrypted, which SSL_pending() does not count and
         * the socket no longer shows. */
        if (must_poll || (SSL_pending(rp->ssl) == 0 && !SSL_has_pending(rp->ssl))) {
            struct pollfd pf = {rp->fd, POLLIN, 0};
            int n = poll(&pf, 1, left);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return -1;
            if (n == 0)
                return 0;
        }
        /* a KeyUpdate or ticket alone (or part of a record): no frame to
         * block for yet */
        if ((must_poll = frame_data_ready(rp->ssl, rp->fd) == 0))
            continue;
        clock_gettime(CLOCK_MONOTONIC, &now);
        {
            /* blocking (< 0): this frame within the answer timeout */
            long el = timeout_ms < 0 ? 0
                      : (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
            long budget = (timeout_ms > 0 ? timeout_ms : 0) + (long)rp->answer_ms;

            rc = el >= budget ? FRAME_TIMEOUT
                              : frame_read_within(rp->ssl, rp->fd, FRAME_FROM_AGENT,
                                                  (int)(budget - el), type, p, len);
        }
        frames++;
        if (rc == FRAME_UNKNOWN)
            continue;
        if (rc == FRAME_EOF) {
            agent_close(rp, 0, "the agent closed it");
            return -1;
        }
        if (rc != FRAME_OK) {
            /* part of a frame may be read: the stream is out of step */
            if (rc == FRAME_TOO_LARGE) {
                agent_close(rp, 1, "a %s frame over its type's limit", frame_type_name(*type));
            } else if (rc == FRAME_TIMEOUT) {
                agent_close(rp, 1, "a frame did not arrive whole within %ld ms",
                            (timeout_ms > 0 ? timeout_ms : 0) + (long)rp->answer_ms);
            } else {
                rp->ssl_failed = rc == FRAME_IO;
                agent_close(rp, 1, "reading a frame failed (%s%s)",
                            rc == FRAME_NOMEM ? "out of memory"
                                              : "a TLS error, or no progress within the answer "
                                                "timeout: ",
                            rc == FRAME_NOMEM ? "" : frame_tls_reason());
            }
            return -1;
        }
        if (*type == FRAME_POSTURE_CHANGED) {
            on_notice(rp, *p, *len);
            free(*p);
            *p = NULL;
            if (stop_on_notice)
                return 2;
            continue;
        }
        return 1;
    }
}

/* Drain pending notices without blocking. -1 if the connection is gone. */
static int drain(struct rp *rp)
{
    for (;;) {
        uint8_t type = 0, *p = NULL;
        size_t len = 0;
        int rc = next_frame(rp, 0, 0, &type, &p, &len);

        if (rc <= 0)
            return rc;
        free(p);
        /* an answer with no request waiting for it: the agent's count of
         * requests and the RP's disagree, and the next answer could be
         * this one's neighbour */
        agent_close(rp, 1, "an unexpected %s frame, with no request waiting for an answer",
                    frame_type_name(type));
        return -1;
    }
}

/*
 * Send a request frame and wait for the answer of type @want, at most
 * --answer-timeout-ms for it to start. The answer is the next frame that is
 * not a notice: on a timeout, or on a frame that cannot be that answer, the
 * connection is closed (agent_close), since a late answer would otherwise be
 * taken for the next request's. -1 then, with rp->ssl NULL; -1 with the
 * connection open after an error frame (rp->last_agent_error), a proper
 * answer.
 */
static int transact(struct rp *rp, uint8_t type, const void *req, size_t req_len, uint8_t want,
                    uint8_t **p, size_t *len)
{
    uint8_t got = 0;
    int rc;

    rp->last_agent_error = 0;
    if (rp->ssl == NULL)
        return -1;
    if (frame_write(rp->ssl, type, req, req_len) != 0) {
        rp->ssl_failed = 1;
        agent_close(rp, 0, "sending the %s failed", frame_type_name(type));
        return -1;
    }
    rc = next_frame(rp, (int)rp->answer_ms, 0, &got, p, len);
    if (rc < 0)
        return -1;   /* closed, and said why */
    if (rc == 0) {
        if (rp->test_keep_on_timeout) {
            tl(rp, "test hook: connection %u kept after no answer to the %s within %u ms",
               rp->conns, frame_type_name(type), rp->answer_ms);
            return -1;
        }
        agent_close(rp, 1, "no answer to the %s within %u ms (--answer-timeout-ms); it may still "
                    "come, and answers are matched to requests by order only",
                    frame_type_name(type), rp->answer_ms);
        return -1;
    }
    if (got == FRAME_ERROR) {
        char text[512];

        rp->last_agent_error = *len ? (*p)[0] : 0;
        tl(rp, "<- agent: error %u: %s", *len ? (*p)[0] : 0,
           frame_printable(*len > 1 ? *p + 1 : *p, *len > 1 ? *len - 1 : 0, text, sizeof(text)));
        free(*p);
        *p = NULL;
        return -1;
    }
    if (got != want) {
        free(*p);
        *p = NULL;
        agent_close(rp, 1, "a %s frame where the answer to the %s (%s) was due: answers and "
                    "requests are out of step", frame_type_name(got), frame_type_name(type),
                    frame_type_name(want));
        return -1;
    }
    return 0;
}

/* ---------- attestation ---------- */

static void on_revoked(void *arg, const char *result_id, const char *reason)
{
    struct rp *rp = arg;

    if (rp->ear != NULL && !rp->revoked && strcmp(result_id, rp->jti) == 0) {
        rp->revoked = 1;
        snprintf(rp->revoked_reason, sizeof(rp->revoked_reason), "%s", reason);
        tl(rp, "<- verifierd revocation feed: result %s revoked (%s)", result_id, reason);
    }
}

/*
 * Whether the held EAR was revoked: the feed, at most --feed-pages pages a
 * decision. A feed read to its end that does not name the EAR's result
 * says it is not revoked; one that could not be read to its end (the RP
 * started far behind, or a revocation listed many results) says nothing,
 * so the result is asked about directly (GET /v1/results/{id}) and the
 * feed catches up over the next decisions.
 */
static int poll_feed(struct rp *rp)
{
    char err[512], state[16], reason[512];
    int rc = vc_revocations(rp->vc, &rp->cursor, rp->feed_page, rp->feed_pages, on_revoked, rp,
                            err, sizeof(err));

    if (rc == 1 && rp->ear != NULL && !rp->revoked) {
        tl(rp, "revocation feed: more than %u pages to its end (cursor %llu); asking verifierd "
           "about result %s directly", rp->feed_pages, (unsigned long long)rp->cursor, rp->jti);
        rc = vc_result_state(rp->vc, rp->jti, state, sizeof(state), reason, sizeof(reason), err,
                             sizeof(err));
        if (rc == 0 && strcmp(state, "valid") != 0) {
            rp->revoked = 1;
            snprintf(rp->revoked_reason, sizeof(rp->revoked_reason), "%s",
                     reason[0] != '\0' ? reason : state);
            tl(rp, "<- verifierd: result %s %s (%s)", rp->jti, state, rp->revoked_reason);
        } else if (rc == 0) {
            tl(rp, "<- verifierd: result %s valid", rp->jti);
        }
    }
    if (rc < 0) {
        tl(rp, "revocation feed unavailable: %s (treating the held EAR as unusable)", err);
        rp->revoked = 1;
        snprintf(rp->revoked_reason, sizeof(rp->revoked_reason), "revocation feed unavailable");
        return -1;
    }
    return 0;
}

static void drop_ear(struct rp *rp)
{
    vfy_ear_free(&rp->ear);
    rp->jti[0] = 0;
    rp->revoked = 0;
    rp->revoked_reason[0] = 0;
}

static int load_replay(struct rp *rp, const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;
    cJSON *j = NULL;
    const cJSON *no, *ev;
    int ret = -1;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || n > 2 * 1024 * 1024 ||
        fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t)n + 1)) == NULL ||
        fread(buf, 1, (size_t)n, f) != (size_t)n)
        goto out;
    buf[n] = 0;
    j = cJSON_Parse(buf);
    no = cJSON_GetObjectItemCaseSensitive(j, "nonce");
    ev = cJSON_GetObjectItemCaseSensitive(j, "evidence");
    if (!cJSON_IsString(no) || !cJSON_IsObject(ev))
        goto out;
    rp->replay_nonce_b64 = strdup(no->valuestring);
    rp->replay_evidence = cJSON_PrintUnformatted(ev);
    ret = rp->replay_nonce_b64 && rp->replay_evidence ? 0 : -1;
out:
    if (f)
        fclose(f);
    free(buf);
    cJSON_Delete(j);
    return ret;
}

/*
 * 0 if the evidence @ev answers the attest-request with @nonce sent on this
 * connection: the quote's extraData is the binder rebuilt from that nonce,
 * this connection's exporter value and the manifest the evidence carries
 * (DESIGN §3). Not a verification (the signature is verifierd's to check):
 * it keeps the RP from submitting evidence made for another request — a
 * late answer taken by order — which verifierd would take for a relay.
 * -1 with a reason in @why otherwise.
 */
static int evidence_answers(struct rp *rp, const uint8_t nonce[32], const uint8_t *ev,
                            size_t evlen, char *why, size_t cap)
{
    vfy_cmw *cmw = NULL;
    vfy_attest att;
    const uint8_t *a, *m;
    size_t alen = 0, mlen = 0;
    uint8_t binder[VFY_BINDER_LEN];
    char detail[256] = "";
    vfy_rc rc;
    int ret = -1;

    rc = vfy_cmw_parse(&cmw, VFY_CMW_JSON, ev, evlen, detail, sizeof(detail));
    if (rc != VFY_OK) {
        snprintf(why, cap, "unreadable evidence: %s, %s", vfy_rc_name(rc), detail);
        goto out;
    }
    a = vfy_cmw_get(cmw, VFY_CMW_TPM_ATTEST, &alen);
    m = vfy_cmw_get(cmw, VFY_CMW_AGENT_MANIFEST, &mlen);
    if ((rc = vfy_attest_parse(&att, a, alen)) != VFY_OK) {
        snprintf(why, cap, "unreadable quote: %s", vfy_rc_name(rc));
        goto out;
    }
    if ((rc = vfy_binder_manifest(binder, nonce, rp->cb, m, mlen)) != VFY_OK) {
        snprintf(why, cap, "cannot compute the binder: %s", vfy_rc_name(rc));
        goto out;
    }
    if (att.extra_data_len != sizeof(binder) ||
        CRYPTO_memcmp(att.extra_data, binder, sizeof(binder)) != 0) {
        snprintf(why, cap, "its quote is not bound to the binder of this nonce, this connection "
                 "and its manifest: made for another request");
        goto out;
    }
    ret = 0;
out:
    vfy_cmw_free(&cmw);
    OPENSSL_cleanse(binder, sizeof(binder));
    return ret;
}

/* Challenge the agent in-band: nonce from verifierd, evidence from the agent. */
static int challenge_agent(struct rp *rp, uint8_t nonce[32], uint8_t **ev, size_t *evlen)
{
    char err[512], nb[VFY_B64URL_LEN(32) + 1];
    long ttl = 0;

    if (vc_challenge(rp->vc, rp->attester, nonce, &ttl, err, sizeof(err)) != 0) {
        tl(rp, "verifierd challenge failed: %s", err);
        return -1;
    }
    vfy_b64url_encode(nb, sizeof(nb), nonce, 32);
    tl(rp, "<- verifierd: nonce %.12s... (single use, valid %ld s)", nb, ttl);
    tl(rp, "-> agent: attest-request with the nonce, in-band on this connection");
    if (transact(rp, FRAME_ATTEST_REQUEST, nonce, 32, FRAME_EVIDENCE, ev, evlen) != 0) {
        tl(rp, "the agent did not answer with evidence");
        return -1;
    }
    tl(rp, "<- agent: evidence, %zu bytes of CMW JSON (TPM quote bound to its view of the "
       "channel)", *evlen);
    if (evidence_answers(rp, nonce, *ev, *evlen, err, sizeof(err)) != 0) {
        free(*ev);
        *ev = NULL;
        agent_close(rp, 1, "the evidence received does not answer this attest-request (%s); "
                    "not submitted", err);
        return -1;
    }
    return 0;
}

#define RP_JWKS_MAX_AGE_S 300
/* The longest an EAR is relied on when --max-ttl is not given: the
 * request asks for it and verify_and_hold refuses a longer one, whatever
 * the verifier's policy says (DESIGN: a verdict is relied on only for a
 * bounded time). */
#define RP_MAX_TTL_DEFAULT_S 300
/* The revocation feed: the largest page verifierd gives, and how many pages
 * one decision reads at most (a million entries). */
#define RP_FEED_PAGE_MAX 1000
#define RP_FEED_PAGES_DEFAULT 1000
/* How long the agent has to start an answer (and to make progress inside a
 * frame or the handshake) when --answer-timeout-ms is not given. */
#define RP_ANSWER_TIMEOUT_MS_DEFAULT 30000

/*
 * The key set, fetched again when @force or when older than --jwks-max-age:
 * a key verifierd stopped publishing (say, after a compromise) is not
 * trusted for the RP's whole run. 0, or -1 if it cannot be fetched.
 */
static int jwks_fresh(struct rp *rp, int force)
{
    char err[512];
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    if (rp->jwks != NULL && (force || t.tv_sec - rp->jwks_at >= (time_t)rp->jwks_max_age_s)) {
        free(rp->jwks);
        rp->jwks = NULL;
    }
    if (rp->jwks != NULL)
        return 0;
    if (vc_keys(rp->vc, &rp->jwks, &rp->jwks_len, err, sizeof(err)) != 0) {
        tl(rp, "cannot fetch verifierd's keys: %s", err);
        return -1;
    }
    rp->jwks_at = t.tv_sec;
    tl(rp, "<- verifierd: key set fetched (GET /v1/keys, %zu bytes)", rp->jwks_len);
    return 0;
}

/* 1 if the key that signed the held EAR is in verifierd's key set as
 * last fetched (do_op fetches a set older than --jwks-max-age before it
 * reads the agent's frames, so that nothing is asked of verifierd between
 * them and the decision); 0 if it is gone or there is no set: the EAR is
 * not relied on then. */
static int ear_key_published(struct rp *rp)
{
    const char *kid = vfy_ear_get_kid(rp->ear);
    vfy_jwks *set = NULL;
    int found = 0;

    if (kid == NULL || rp->jwks == NULL ||
        vfy_jwks_parse(&set, rp->jwks, rp->jwks_len) != VFY_OK)
        return 0;
    for (size_t i = 0; i < vfy_jwks_count(set); i++)
        found |= strcmp(vfy_jwks_kid(set, i), kid) == 0;
    vfy_jwks_free(&set);
    return found;
}

/*
 * A timeline line naming the policies a result refused with VFY_E_EAR_POLICY
 * was appraised under (the refusal leaves no handle to ask): the result is
 * verified once more without the policy, for the log only.
 */
static void log_policy_refusal(struct rp *rp, const char *jws, const vfy_jwks *keys,
                               const vfy_ear_expect *want)
{
    vfy_ear_expect any = *want;
    vfy_ear *ear = NULL;
    const char *got[2] = {NULL, NULL};

    any.policy = NULL;
    if (vfy_ear_verify_expected(&ear, jws, strlen(jws), keys, &any, (int64_t)time(NULL)) ==
        VFY_OK) {
        for (int i = 0; i < 2; i++) {
            vfy_ear_submod_id id = i == 0 ? VFY_EAR_PLATFORM : VFY_EAR_AGENT;

            if (vfy_ear_has_submod(ear, id))
                got[i] = vfy_ear_get_policy_id_count(ear, id) == 1
                             ? vfy_ear_get_policy_id(ear, id, 0)
                             : "no single policy";
        }
    }
    tl(rp, "EAR REJECTED: appraised under platform %s, agent %s; this relying party requires "
       "%s (--require-policy)", got[0] ? got[0] : "-", got[1] ? got[1] : "-", want->policy);
    vfy_ear_free(&ear);
}

/*
 * Verify @jws against the key set last fetched with everything this relying
 * party expects of it: the nonce it sent, its own connection's channel
 * binding, the attester it asked about, the lifetime it asked for and, with
 * --require-policy, the policy (any attest token may name any stored policy,
 * a laxer one included, and an operator may move the attester to another:
 * the EAR says which applied). vfy_ear_verify_expected() takes all of them
 * or refuses to run, so none can be left out by mistake.
 */
static vfy_rc verify_ear(struct rp *rp, const char *jws, const uint8_t nonce[32], vfy_ear **ear)
{
    vfy_ear_expect want = {.nonce = nonce,
                           .nonce_len = VFY_NONCE_LEN,
                           .channel_binding = rp->cb,
                           .attester = rp->attester,
                           .max_ttl_s = rp->max_ttl_s,
                           .policy = rp->require_policy};
    vfy_jwks *keys = NULL;
    vfy_rc rc;

    *ear = NULL;
    rc = vfy_jwks_parse(&keys, rp->jwks, rp->jwks_len);
    if (rc == VFY_OK)
        rc = vfy_ear_verify_expected(ear, jws, strlen(jws), keys, &want, (int64_t)time(NULL));
    if (rc == VFY_E_EAR_POLICY)
        log_policy_refusal(rp, jws, keys, &want);
    vfy_jwks_free(&keys);
    return rc;
}

static int verify_and_hold(struct rp *rp, const char *jws, const uint8_t nonce[32],
                           const char *result_id)
{
    vfy_ear *ear = NULL;
    vfy_rc rc;

    for (int attempt = 0; attempt < 2; attempt++) {
        if (jwks_fresh(rp, 0) != 0)
            return -1;
        rc = verify_ear(rp, jws, nonce, &ear);
        if (rc == VFY_E_JWS_KID_UNKNOWN && attempt == 0) { /* key rotated: refetch once */
            free(rp->jwks);
            rp->jwks = NULL;
            continue;
        }
        break;
    }
    if (rc != VFY_OK) {
        tl(rp, "EAR REJECTED by vfy_ear_verify_expected: %s (%s)", vfy_rc_name(rc),
           vfy_strerror(rc));
        return -1;
    }
    drop_ear(rp);
    rp->ear = ear;
    clock_gettime(CLOCK_MONOTONIC, &rp->ear_received);
    /* From now, as long as its own lifetime at most: an RP clock behind
     * verifierd's (which vfy_ear_verify allows by up to 60 s of iat) must
     * not stretch it. */
    rp->ear_life_s = vfy_ear_get_exp(ear) - (int64_t)time(NULL);
    if (rp->ear_life_s > vfy_ear_get_exp(ear) - vfy_ear_get_iat(ear))
        rp->ear_life_s = vfy_ear_get_exp(ear) - vfy_ear_get_iat(ear);
    snprintf(rp->jti, sizeof(rp->jti), "%s", vfy_ear_get_jti(ear));
    if (strcmp(rp->jti, result_id) != 0)
        tl(rp, "note: response result_id %s differs from the EAR's jti %s", result_id, rp->jti);
    tl(rp, "EAR verified (ES256 kid %s, nonce and channel binding match this connection): "
       "status %s, valid %lld s", vfy_ear_get_kid(ear),
       vfy_ear_status_name(vfy_ear_get_status(ear)),
       (long long)(vfy_ear_get_exp(ear) - vfy_ear_get_iat(ear)));
    for (size_t i = 0; i < vfy_ear_get_reason_count(ear) && i < 8; i++)
        tl(rp, "   reason: %s", vfy_ear_get_reason(ear, i));
    return 0;
}

/* One attestation of the agent for this connection. 0 if an EAR is now held. */
static int attest(struct rp *rp)
{
    uint8_t nonce[32], *ev = NULL;
    size_t evlen = 0;
    char err[512];
    vc_result res;
    int ret = -1;

    memset(&res, 0, sizeof(res));
    rp->attestations++;
    rp->posture_changed = 0; /* a notice from now on is newer than this evidence */
    drop_ear(rp);
    if (rp->replay_evidence != NULL) {
        size_t n = 0;
        if (vfy_b64url_decode(nonce, sizeof(nonce), &n, rp->replay_nonce_b64,
                              strlen(rp->replay_nonce_b64)) != VFY_OK || n != 32)
            goto out;
        ev = (uint8_t *)rp->replay_evidence;
        evlen = strlen(rp->replay_evidence);
        rp->replay_evidence = NULL;
        tl(rp, "RELAY: submitting evidence captured on ANOTHER connection (%zu bytes) as if this "
           "agent had sent it here", evlen);
    } else if (challenge_agent(rp, nonce, &ev, &evlen) != 0) {
        goto out;
    }
    tl(rp, "-> verifierd: POST /v1/attest (attester %s, this connection's own exporter value, "
       "max_ttl_s %u)", rp->attester, rp->max_ttl_s);
    if (vc_attest(rp->vc, nonce, rp->cb, rp->attester, (const char *)ev, evlen, rp->max_ttl_s,
                  &res, err, sizeof(err)) != 0) {
        tl(rp, "verifierd attest failed: %s", err);
        goto out;
    }
    tl(rp, "<- verifierd: result %s, status %s", res.result_id, res.status);
    ret = verify_and_hold(rp, res.ear, nonce, res.result_id);
out:
    free(ev);
    vc_result_clear(&res);
    return ret;
}

/*
 * Why the held EAR cannot be used for an operation now, or NULL if it can.
 * Checked in this order: none, posture change, revocation, expiry.
 */
static const char *need_attestation(struct rp *rp, char *why, size_t cap)
{
    int64_t now = (int64_t)time(NULL);

    if (rp->ear == NULL)
        return "no EAR yet for this connection";
    if (rp->posture_changed) {
        snprintf(why, cap, "posture changed: the agent announced %s", rp->posture_note);
        return why;
    }
    if (rp->revoked) {
        snprintf(why, cap, "EAR revoked by the verifier (%s)", rp->revoked_reason);
        return why;
    }
    if (now >= vfy_ear_get_exp(rp->ear)) {
        snprintf(why, cap, "EAR expired (exp passed %lld s ago)",
                 (long long)(now - vfy_ear_get_exp(rp->ear)));
        return why;
    }
    {   /* the same on the monotonic clock: a wall clock set back must not
         * stretch how long a verdict is relied on */
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - rp->ear_received.tv_sec >= rp->ear_life_s) {
            snprintf(why, cap, "EAR expired (%lld s since it was received)",
                     (long long)(t.tv_sec - rp->ear_received.tv_sec));
            return why;
        }
    }
    /* a key verifierd withdrew (rotated out after a compromise, say) stops
     * vouching for the EARs it signed, unexpired or not */
    if (!ear_key_published(rp)) {
        snprintf(why, cap, "the key that signed the EAR (%s) is no longer in verifierd's key set",
                 vfy_ear_get_kid(rp->ear) ? vfy_ear_get_kid(rp->ear) : "-");
        return why;
    }
    return NULL;
}

/* Attestations one operation may make before it gives up: the agent kept
 * announcing posture changes while it was being attested. */
#define RP_ATTEST_ROUNDS 3

/* The operation cannot be decided: no connection to the agent. Refused;
 * 0 if the next operation may open a new connection, -1 (the story stops)
 * if not. */
static int op_no_connection(struct rp *rp, const char *op)
{
    rp->refused++;
    rp->last_decision = 0;
    rp->last_status = VFY_EAR_NONE;
    tl(rp, "op %u \"%s\": REFUSED (no connection to the agent: %s)", rp->ops, op, rp->drop_why);
    return rp->may_reconnect ? 0 : -1;
}

static int do_op(struct rp *rp, const char *op)
{
    char whybuf[600];
    const char *why;
    vfy_ear_status st;
    uint8_t *p = NULL;
    size_t len = 0;
    unsigned closed;

    rp->ops++;
    /* A connection found unusable now, before anything of this operation
     * went out on it, is replaced at once (once). */
    if (agent_ready(rp) != 0 || (drain(rp) < 0 && agent_ready(rp) != 0))
        return op_no_connection(rp, op);
    closed = rp->closed;
    /*
     * The verdict must describe the agent as it is when the request goes
     * out. Notices that arrive while verifierd is asked (the revocation
     * feed, or a whole attestation) sit unread on the connection, so the
     * frames are read after each round trip, right before the decision: a
     * notice read then sends the operation back to attest, a few times at
     * most. The feed is asked about a held EAR, not about one just issued.
     */
    for (int attempt = 0;; attempt++) {
        for (int round = 0;; round++) {
            /* verifierd is asked before the frames are read, never between
             * them and the decision (a stale key set is fetched now too) */
            if (round == 0 && rp->ear != NULL) {
                poll_feed(rp);
                (void)jwks_fresh(rp, 0);
            }
            if (drain(rp) < 0)
                return op_no_connection(rp, op);
            why = need_attestation(rp, whybuf, sizeof(whybuf));
            if (why == NULL) {
                if (round == 0)
                    tl(rp, "op %u \"%s\": held EAR %s still valid for this connection (%lld s left, "
                       "not revoked, no posture change)", rp->ops, op, rp->jti,
                       (long long)(vfy_ear_get_exp(rp->ear) - (int64_t)time(NULL)));
                break;
            }
            if (round == RP_ATTEST_ROUNDS) {
                tl(rp, "op %u \"%s\": still no usable EAR after %d attestations (%s)", rp->ops, op,
                   RP_ATTEST_ROUNDS, why);
                drop_ear(rp);
                break;
            }
            tl(rp, "op %u \"%s\": high-impact -> attesting first: %s", rp->ops, op, why);
            if (attest(rp) != 0) {
                tl(rp, "attestation failed: no usable EAR");
                break;
            }
        }
        st = rp->ear ? vfy_ear_get_status(rp->ear) : VFY_EAR_NONE;
        /* Both parts appraised and affirming: an EAR without the agent's
         * verdict says nothing about the agent this operation goes to. */
        if (st == VFY_EAR_AFFIRMING &&
            (!vfy_ear_has_submod(rp->ear, VFY_EAR_PLATFORM) ||
             !vfy_ear_has_submod(rp->ear, VFY_EAR_AGENT) ||
             vfy_ear_get_submod_status(rp->ear, VFY_EAR_PLATFORM) != VFY_EAR_AFFIRMING ||
             vfy_ear_get_submod_status(rp->ear, VFY_EAR_AGENT) != VFY_EAR_AFFIRMING)) {
            tl(rp, "op %u \"%s\": the EAR lacks an affirming platform and agent verdict", rp->ops, op);
            st = VFY_EAR_CONTRAINDICATED;
        }
        rp->last_status = st;
        if (st != VFY_EAR_AFFIRMING) {
            rp->refused++;
            rp->last_decision = 0;
            /* the connection closed during this operation: say why */
            tl(rp, "op %u \"%s\": REFUSED (status %s%s%s)", rp->ops, op,
               rp->ear ? vfy_ear_status_name(st) : "no verified EAR",
               rp->closed != closed ? "; " : "", rp->closed != closed ? rp->drop_why : "");
            return 0;
        }
        if (transact(rp, FRAME_APP_REQUEST, op, strlen(op), FRAME_APP_RESPONSE, &p, &len) != 0) {
            if (rp->last_agent_error == FRAME_ERR_POSTURE && attempt + 1 < RP_ATTEST_ROUNDS) {
                /* The posture changed between the decision and the request:
                 * the agent did not run it. Attest the new posture. */
                tl(rp, "op %u \"%s\": the agent did not run it (its posture changed after the "
                   "decision) -> attesting again", rp->ops, op);
                rp->posture_changed = 1;
                snprintf(rp->posture_note, sizeof(rp->posture_note),
                         "a change after the decision (the agent refused the request)");
                continue;
            }
            if (rp->last_agent_error == FRAME_ERR_POSTURE) {
                rp->refused++;
                rp->last_decision = 0;
                tl(rp, "op %u \"%s\": REFUSED (the agent kept changing its posture)", rp->ops, op);
                return 0;
            }
            /* sent, and not answered: the agent may or may not have run it */
            tl(rp, "op %u \"%s\": agent failed to answer%s%s; the outcome is unknown", rp->ops, op,
               rp->ssl == NULL ? " (" : "", rp->ssl == NULL ? rp->drop_why : "");
            if (rp->ssl == NULL)
                tl(rp, "the RP stops here: an operation of unknown outcome is not retried");
            rp->last_decision = -1;
            return -1;
        }
        rp->allowed++;
        rp->last_decision = 1;
        char answer[101];

        tl(rp, "op %u \"%s\": ALLOWED (status affirming) -> agent answered \"%s\"", rp->ops, op,
           frame_printable(p, len, answer, sizeof(answer)));
        free(p);
        return 0;
    }
}

static int do_capture(struct rp *rp, const char *path)
{
    uint8_t nonce[32], *ev = NULL;
    size_t evlen = 0;
    char nb[VFY_B64URL_LEN(32) + 1];
    cJSON *j = NULL, *evj = NULL;
    char *out = NULL;
    FILE *f;
    int ret = -1;

    if (agent_ready(rp) != 0)
        return -1;
    tl(rp, "capture: challenging the agent on this connection, keeping the evidence unsubmitted");
    if (challenge_agent(rp, nonce, &ev, &evlen) != 0)
        return -1;
    vfy_b64url_encode(nb, sizeof(nb), nonce, 32);
    evj = cJSON_ParseWithLength((const char *)ev, evlen);
    j = cJSON_CreateObject();
    if (!cJSON_IsObject(evj) || j == NULL || !cJSON_AddStringToObject(j, "nonce", nb))
        goto out;
    cJSON_AddItemToObject(j, "evidence", evj);
    evj = NULL;
    out = cJSON_PrintUnformatted(j);
    f = out ? fopen(path, "w") : NULL;
    if (f == NULL || fputs(out, f) < 0 || fclose(f) != 0)
        goto out;
    tl(rp, "capture: nonce and evidence saved to %s", path);
    ret = 0;
out:
    cJSON_Delete(j);
    cJSON_Delete(evj);
    free(out);
    free(ev);
    return ret;
}

static int parse_secs(const char *s, double *out)
{
    char *end = NULL;

    errno = 0;
    *out = strtod(s, &end);
    return errno == 0 && end != s && *end == 0 && *out >= 0 && *out <= 3600 ? 0 : -1;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* One script line; 0 ok, -1 failed (the story stops). */
static int run_line(struct rp *rp, char *line)
{
    char *arg;
    double secs;

    line[strcspn(line, "\r\n")] = 0;
    while (*line == ' ' || *line == '\t')
        line++;
    if (*line == 0 || *line == '#')
        return 0;
    arg = line + strcspn(line, " \t");
    if (*arg) {
        *arg++ = 0;
        while (*arg == ' ' || *arg == '\t')
            arg++;
    }
    if (strcmp(line, "op") == 0 && *arg)
        return do_op(rp, arg);
    if (strcmp(line, "say") == 0) {
        tl(rp, "== %s", arg);
        return 0;
    }
    if (strcmp(line, "sleep") == 0 && parse_secs(arg, &secs) == 0) {
        tl(rp, "(waiting %.1f s)", secs);
        sleep_ms((long)(secs * 1000));
        return 0;
    }
    if (strcmp(line, "run") == 0 && *arg) {
        int rc;
        tl(rp, "$ %s", arg);
        fflush(stdout);
        rc = system(arg);
        if (rc != 0) {
            tl(rp, "command failed (status %d)", rc);
            return -1;
        }
        return 0;
    }
    if (strcmp(line, "wait-notice") == 0 && parse_secs(arg, &secs) == 0) {
        struct timespec a, b;
        if (agent_ready(rp) != 0)
            return -1;
        clock_gettime(CLOCK_MONOTONIC, &a);
        while (!rp->posture_changed) {
            uint8_t type = 0, *p = NULL;
            size_t len = 0;
            long el;
            int rc;
            clock_gettime(CLOCK_MONOTONIC, &b);
            el = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
            if (el >= (long)(secs * 1000)) {
                tl(rp, "no posture-changed notice within %.1f s", secs);
                return -1;
            }
            rc = next_frame(rp, (int)((long)(secs * 1000) - el), 1, &type, &p, &len);
            if (rc < 0)
                return -1;
            free(p);
        }
        return 0;
    }
    if (strcmp(line, "wait-revoked") == 0 && parse_secs(arg, &secs) == 0) {
        long waited = 0;
        if (rp->ear == NULL) {
            tl(rp, "wait-revoked: no EAR held");
            return -1;
        }
        while (!rp->revoked) {
            if (poll_feed(rp) != 0)
                return -1;
            if (rp->revoked)
                break;
            if (waited >= (long)(secs * 1000)) {
                tl(rp, "result %s not revoked within %.1f s", rp->jti, secs);
                return -1;
            }
            sleep_ms(200);
            waited += 200;
        }
        return 0;
    }
    if (strcmp(line, "expect") == 0 && *arg) {
        char *want = arg, *st = arg + strcspn(arg, " \t");
        int ok;
        if (*st) {
            *st++ = 0;
            while (*st == ' ')
                st++;
        }
        ok = (strcmp(want, "allowed") == 0 && rp->last_decision == 1) ||
             (strcmp(want, "refused") == 0 && rp->last_decision == 0);
        if (ok && *st)
            ok = strcmp(st, vfy_ear_status_name(rp->last_status)) == 0;
        if (!ok) {
            tl(rp, "EXPECTATION FAILED: wanted %s%s%s", want, *st ? " " : "", st);
            return -1;
        }
        return 0;
    }
    if (strcmp(line, "capture") == 0 && *arg)
        return do_capture(rp, arg);
    tl(rp, "script: cannot understand \"%s %s\"", line, arg);
    return -1;
}

static char *read_token(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[512];

    if (f == NULL)
        return NULL;
    if (fgets(line, sizeof(line), f) == NULL) {
        fclose(f);
        return NULL;
    }
    fclose(f);
    line[strcspn(line, "\r\n")] = 0;
    return line[0] ? strdup(line) : NULL;
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: vfy-rp --agent HOST:PORT --agent-ca PEM --verifier URL --verifier-ca PEM\n"
        "              (--token TOKEN | --token-file FILE) --attester NAME\n"
        "              [--max-ttl S] [--jwks-max-age S] [--name LABEL] [--replay FILE]\n"
        "              [--feed-page-size N] [--feed-pages N] [--answer-timeout-ms MS]\n"
        "              [--require-policy ID[@VERSION]]\n"
        "              [--cert PEM --key PEM]\n"
        "              (--script FILE|- | --op TEXT [--op TEXT ...])\n"
        "  runs the operations over one TLS 1.3 connection to the agent, attesting it\n"
        "  in-band before each high-impact operation whenever the held EAR is not usable.\n"
        "  Exit status: 0 if the story ran as scripted and each connection saw exactly one\n"
        "  TLS handshake; 1 otherwise; 2 usage. --jwks-max-age: refetch verifierd's key\n"
        "  set at least this often (default %d s), and whenever an EAR names an unknown kid.\n"
        "  --max-ttl: the longest an EAR is relied on, asked of verifierd and checked\n"
        "  (default %d s).\n"
        "  --feed-page-size, --feed-pages: read the revocation feed N entries a page\n"
        "  (default %d, the most verifierd gives), at most N pages a decision (default %d);\n"
        "  past that the held result is asked about directly (GET /v1/results/{id}).\n"
        "  --answer-timeout-ms: how long the agent has to start an answer, and then to\n"
        "  finish it; the TLS handshake must finish within it, and each write progress\n"
        "  (100..600000, default %d).\n"
        "  A connection left without an answer in time is closed with its EAR, and the\n"
        "  next operation opens a new one: answers are matched to requests by order only.\n"
        "  --require-policy: an EAR whose platform or agent verdict was appraised under\n"
        "  another policy (any version of ID, or exactly ID@VERSION) is rejected.\n",
        RP_JWKS_MAX_AGE_S, RP_MAX_TTL_DEFAULT_S, RP_FEED_PAGE_MAX, RP_FEED_PAGES_DEFAULT,
        RP_ANSWER_TIMEOUT_MS_DEFAULT);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"agent", required_argument, NULL, 'a'},
        {"agent-ca", required_argument, NULL, 'A'},
        {"cert", required_argument, NULL, 'E'},
        {"key", required_argument, NULL, 'K'},
        {"verifier", required_argument, NULL, 'v'},
        {"verifier-ca", required_argument, NULL, 'V'},
        {"token", required_argument, NULL, 't'},
        {"token-file", required_argument, NULL, 'T'},
        {"attester", required_argument, NULL, 'n'},
        {"max-ttl", required_argument, NULL, 'x'},
        {"jwks-max-age", required_argument, NULL, 'J'},
        {"feed-page-size", required_argument, NULL, 'P'},
        {"feed-pages", required_argument, NULL, 'G'},
        {"name", required_argument, NULL, 'N'},
        {"script", required_argument, NULL, 's'},
        {"op", required_argument, NULL, 'o'},
        {"replay", required_argument, NULL, 'r'},
        {"answer-timeout-ms", required_argument, NULL, 'W'},
        {"require-policy", required_argument, NULL, 'Y'},
        {"test-keep-connection-on-timeout", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct rp rp;
    const char *agent = NULL, *agent_ca = NULL, *vurl = NULL, *vca = NULL, *script = NULL;
    const char *replay = NULL;
    char *token = NULL;
    const char **ops = NULL;
    size_t nops = 0;
    int opt, ok = 1, ret = 1;
    char err[512];

    memset(&rp, 0, sizeof(rp));
    rp.name = "rp";
    rp.fd = -1;
    rp.last_decision = -1;
    rp.attester = "agent-1";
    rp.jwks_max_age_s = RP_JWKS_MAX_AGE_S;
    rp.max_ttl_s = RP_MAX_TTL_DEFAULT_S;
    rp.feed_page = RP_FEED_PAGE_MAX;
    rp.feed_pages = RP_FEED_PAGES_DEFAULT;
    rp.answer_ms = RP_ANSWER_TIMEOUT_MS_DEFAULT;
    clock_gettime(CLOCK_MONOTONIC, &rp.t0);
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'a': agent = optarg; break;
        case 'A': agent_ca = optarg; break;
        case 'E': rp.client_cert = optarg; break;
        case 'K': rp.client_key = optarg; break;
        case 'v': vurl = optarg; break;
        case 'V': vca = optarg; break;
        case 't': free(token); token = strdup(optarg); break;
        case 'T':
            free(token);
            token = read_token(optarg);
            if (token == NULL) {
                fprintf(stderr, "vfy-rp: no token in %s\n", optarg);
                return 2;
            }
            break;
        case 'n': rp.attester = optarg; break;
        case 'N': rp.name = optarg; break;
        case 's': script = optarg; break;
        case 'r': replay = optarg; break;
        case 'x':
        case 'J': {
            char *end = NULL;
            unsigned long v;
            errno = 0;
            v = strtoul(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-' || v < 1 || v > 86400) {
                fprintf(stderr, "vfy-rp: --%s must be 1..86400\n",
                        opt == 'x' ? "max-ttl" : "jwks-max-age");
                return 2;
            }
            if (opt == 'x')
                rp.max_ttl_s = (unsigned)v;
            else
                rp.jwks_max_age_s = (unsigned)v;
            break;
        }
        case 'P':
        case 'G': {
            char *end = NULL;
            unsigned long v, max = opt == 'P' ? RP_FEED_PAGE_MAX : 1000000;
            errno = 0;
            v = strtoul(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-' || v < 1 || v > max) {
                fprintf(stderr, "vfy-rp: --%s must be 1..%lu\n",
                        opt == 'P' ? "feed-page-size" : "feed-pages", max);
                return 2;
            }
            if (opt == 'P')
                rp.feed_page = (unsigned)v;
            else
                rp.feed_pages = (unsigned)v;
            break;
        }
        case 'W': {
            char *end = NULL;
            unsigned long v;
            errno = 0;
            v = strtoul(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-' || v < 100 || v > 600000) {
                fprintf(stderr, "vfy-rp: --answer-timeout-ms must be 100..600000\n");
                free(ops);
                free(token);
                return 2;
            }
            rp.answer_ms = (unsigned)v;
            break;
        }
        case 'k': rp.test_keep_on_timeout = 1; break;
        case 'Y':
            if (optarg[0] == '\0' || optarg[0] == '@') {
                fprintf(stderr, "vfy-rp: --require-policy needs ID or ID@VERSION\n");
                free(ops);
                free(token);
                return 2;
            }
            rp.require_policy = optarg;
            break;
        case 'o': {
            const char **n = realloc(ops, (nops + 1) * sizeof(*ops));
            if (n == NULL)
                return 1;
            ops = n;
            ops[nops++] = optarg;
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || agent == NULL || vurl == NULL || token == NULL ||
        (script == NULL) == (nops == 0) || (rp.client_cert == NULL) != (rp.client_key == NULL)) {
        usage(stderr);
        free(ops);
        free(token);
        return 2;
    }
    {   /* a file that cannot be read: one line now, not OpenSSL's error stack later */
        const struct { const char *opt, *path; } files[] = {
            {"--cert", rp.client_cert}, {"--key", rp.client_key},
            {"--agent-ca", agent_ca}, {"--verifier-ca", vca},
        };

        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
            if (files[i].path != NULL && access(files[i].path, R_OK) != 0) {
                fprintf(stderr, "vfy-rp: %s %s: %s\n", files[i].opt, files[i].path,
                        strerror(errno));
                free(ops);
                free(token);
                return 2;
            }
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    if (vc_new(&rp.vc, vurl, vca, token) != 0)
        goto out;
    if (replay != NULL && load_replay(&rp, replay) != 0) {
        fprintf(stderr, "vfy-rp: cannot load captured evidence from %s\n", replay);
        goto out;
    }
    rp.agent_addr = agent;
    rp.agent_ca = agent_ca;
    if (agent_connect(&rp) != 0)
        goto out;
    /* Start the revocation feed at its current end: older entries are not
     * ours. A feed longer than --feed-pages is caught up decision by
     * decision (poll_feed). */
    switch (vc_revocations(rp.vc, &rp.cursor, rp.feed_page, rp.feed_pages, on_revoked, &rp, err,
                           sizeof(err))) {
    case 0:
        tl(&rp, "verifierd %s reachable; revocation feed cursor %llu", vurl,
           (unsigned long long)rp.cursor);
        break;
    case 1:
        tl(&rp, "verifierd %s reachable; revocation feed cursor %llu, more than %u pages from "
           "its end", vurl, (unsigned long long)rp.cursor, rp.feed_pages);
        break;
    default:
        tl(&rp, "revocation feed: %s", err);
        goto out;
    }

    if (script != NULL) {
        FILE *f = strcmp(script, "-") == 0 ? stdin : fopen(script, "r");
        char line[4096];
        if (f == NULL) {
            fprintf(stderr, "vfy-rp: cannot open %s\n", script);
            goto out;
        }
        while (ok && fgets(line, sizeof(line), f) != NULL)
            ok = run_line(&rp, line) == 0;
        if (f != stdin)
            fclose(f);
    } else {
        for (size_t i = 0; ok && i < nops; i++)
            ok = do_op(&rp, ops[i]) == 0;
    }
    if (rp.ssl != NULL)
        drain(&rp);
    {
        char conns[160] = "";

        /* a closed connection's count was checked when it closed; the
         * current (or last) connection's is the one printed */
        if (rp.conns > 1)
            snprintf(conns, sizeof(conns), "; %u connections to the agent (%u dropped), %s",
                     rp.conns, rp.closed, rp.bad_conns == 0 ? "one handshake each"
                                                            : "NOT one handshake each  <-- MUST BE 1");
        tl(&rp, "summary: %u operation(s): %u allowed, %u refused; %u attestation(s); TLS "
           "handshakes on this connection: %d%s%s", rp.ops, rp.allowed, rp.refused,
           rp.attestations, rp.handshakes, rp.handshakes == 1 ? "" : "  <-- MUST BE 1", conns);
    }
    /* With --op (no script to say what to expect) each operation is expected
     * to be allowed: a refused one is exit 1, so that a shell can gate on it. */
    if (ok && script == NULL && rp.refused > 0) {
        tl(&rp, "%u of %u operation(s) refused", rp.refused, rp.ops);
        ok = 0;
    }
    ret = ok && rp.handshakes == 1 && rp.bad_conns == 0 ? 0 : 1;
    if (!ok && script != NULL)
        tl(&rp, "story stopped: a step did not go as scripted");
out:
    if (rp.ssl != NULL) {
        SSL_shutdown(rp.ssl);
        SSL_free(rp.ssl);
    }
    if (rp.fd >= 0)
        close(rp.fd);
    SSL_CTX_free(rp.ctx);
    drop_ear(&rp);
    vc_free(&rp.vc);
    free(rp.jwks);
    free(rp.replay_nonce_b64);
    free(rp.replay_evidence);
    OPENSSL_cleanse(rp.cb, sizeof(rp.cb));
    if (token)
        OPENSSL_cleanse(token, strlen(token));
    free(token);
    free(ops);
    curl_global_cleanup();
    return ret;
}
