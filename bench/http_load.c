/*
 * http_load.c — `vfy-bench http`: a verifierd load generator (DESIGN §8).
 *
 *   vfy-bench http --url https://127.0.0.1:PORT --token TOKEN --cacert PEM
 *                  --key AKFILE [--attesters N] [--conns C] [--threads T]
 *                  [--seconds S] [--warmup W] [--label L]
 *
 * C keep-alive HTTPS connections (C/T per thread), each a loop of POST
 * /v1/challenge then POST /v1/attest with fresh evidence from the software
 * AK (evgen.c) bound to the issued nonce and a random channel binding, for
 * attesters walked over all N. Every attest must come back 200
 * "affirming"; anything else is counted as an error. Reports completed
 * pairs per second and the p50/p99 of the pair latency (challenge sent →
 * EAR received) over the S seconds after W seconds of warm-up.
 *
 * The client is kept lean, since it shares the machine with the server
 * and every microsecond it burns lowers the figure (libcurl cost ~300 µs of
 * CPU per pair, much of it signal, poll and string handling):
 *   - libssl directly: TLS 1.3 only, the server certificate verified
 *     against --cacert and the URL's host (DNS name, or IP address against
 *     an iPAddress SAN); read-ahead, so a response's records come in one
 *     read(2);
 *   - non-blocking TCP_NODELAY sockets, one edge-triggered epoll loop per
 *     thread; no read is tried after a request until its socket reports
 *     data;
 *   - hand-written HTTP/1.1: the fixed request, and a response reader that
 *     takes a status line, headers and a Content-Length body (required,
 *     capped at 1 MiB; no chunked encoding, no pipelining, no 1xx).
 *     "Connection: close" or an HTTP/1.0 reply closes the connection after
 *     the response and the next request opens a new one. A reused
 *     connection that dies before any byte of its response is reopened and
 *     the request sent once more (curl does the same for a stale
 *     keep-alive connection);
 *   - response bodies parsed with cJSON: the challenge must be 201 with a
 *     "nonce" of 43 base64url characters (32 bytes), the attest 200 with
 *     "status" "affirming";
 *   - channel bindings from RAND_bytes 64 at a time.
 * A pair that fails (transport, TLS, HTTP status or body) counts one error
 * if it started inside the window, the first error of each thread is
 * printed, and the connection starts a new pair; one that cannot even
 * connect is retried a millisecond later. The exit status is 1 when there
 * were errors and no pair completed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "evgen.h"

#define HEAD_MAX (16 * 1024)     /* response status line and headers */
#define BODY_MAX (1024 * 1024)   /* response body */

struct cfg {
    const char *url, *token, *cacert, *label;
    size_t natt, conns, threads;
    double seconds, warmup;
    bench_ak ak;
    bench_fixture f;
    double t_start, t_end;       /* measuring window (monotonic) */
    /* From --url: https://AUTHORITY[PREFIX]. */
    char host[256];              /* for SNI and the certificate check */
    char authority[300];         /* the Host header */
    char port[8];
    const char *prefix;          /* prepended to each request path */
    int host_is_ip;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    SSL_CTX *tls;
    char *hdrs;                  /* Host, Authorization, Content-Type lines */
};

/* Connection states. ST_IDLE: no pair in flight (the loop starts one),
 * and for a moment also "response complete" between recv_some and finish. */
enum { ST_IDLE, ST_CONNECTING, ST_HANDSHAKE, ST_SEND, ST_RECV };

struct conn {
    int fd;                      /* -1: no connection */
    SSL *ssl;
    int st;
    int reused;                  /* a response has come back on this connection */
    int retried;                 /* the request was resent on a new connection */
    int phase;                   /* 0 challenge, 1 attest */
    double t0;
    char *out, *body;            /* request; attest body being built */
    size_t outlen, outoff, outcap, bodycap;
    char *in;                    /* response */
    size_t inlen, incap, scan;
    size_t headlen, clen;        /* headlen 0: head not complete yet */
    long code;
    int closing;                 /* close after this response */
    size_t att_next, stride, id;
};

struct tstate {
    struct cfg *cfg;
    size_t first, n;             /* connection ids */
    int ep;
    double *lat;
    size_t nlat, caplat;
    size_t pairs, errors;
    char firsterr[256];
    uint8_t cbpool[64 * 32];     /* random channel bindings, drawn in bulk */
    size_t cbused;
};

/* Make room for @need bytes in *@buf; 0 on success. */
static int reserve(char **buf, size_t *cap, size_t need)
{
    char *p;

    if (need <= *cap)
        return 0;
    if ((p = realloc(*buf, need)) == NULL)
        return -1;
    *buf = p;
    *cap = need;
    return 0;
}

/* ---- setup ---- */

/* https://HOST[:PORT][PREFIX], HOST a name, an IPv4 address or [IPv6]. */
static int parse_url(struct cfg *g)
{
    const char *a = g->url + 8, *end, *hs, *he, *p;
    char *e;
    unsigned long port;

    if (strncmp(g->url, "https://", 8) != 0)
        return -1;
    end = a + strcspn(a, "/");
    if (end == a || memchr(a, '@', (size_t)(end - a)) != NULL ||
        (size_t)(end - a) >= sizeof(g->authority))
        return -1;
    if (*a == '[') {
        hs = a + 1;
        if ((he = memchr(hs, ']', (size_t)(end - hs))) == NULL)
            return -1;
        p = he + 1;
    } else {
        hs = a;
        if ((he = memchr(a, ':', (size_t)(end - a))) == NULL)
            he = end;
        p = he;
    }
    if (he == hs || (size_t)(he - hs) >= sizeof(g->host))
        return -1;
    memcpy(g->host, hs, (size_t)(he - hs));
    memcpy(g->authority, a, (size_t)(end - a));
    snprintf(g->port, sizeof(g->port), "443");
    if (p < end) {
        if (*p != ':' || end - p < 2 || end - p > 6 || p[1] < '0' || p[1] > '9')
            return -1;
        errno = 0;
        port = strtoul(p + 1, &e, 10);
        if (errno != 0 || e != end || port == 0 || port > 65535)
            return -1;
        snprintf(g->port, sizeof(g->port), "%lu", port);
    }
    g->prefix = end;
    return 0;
}

/* The server address: the first that accepts a connection when the name
 * has several (localhost: ::1 and 127.0.0.1), else the first. */
static int resolve(struct cfg *g)
{
    struct addrinfo hints, *res, *ai, *pick;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    if (getaddrinfo(g->host, g->port, &hints, &res) != 0)
        return -1;
    pick = res;
    for (ai = res->ai_next != NULL ? res : NULL; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int ok = fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0;

        if (fd >= 0)
            close(fd);
        if (ok) {
            pick = ai;
            break;
        }
    }
    memcpy(&g->addr, pick->ai_addr, pick->ai_addrlen);
    g->addrlen = pick->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* TLS 1.3 only; the peer must chain to --cacert and match the URL's host
 * (a DNS name, or an IP address in an iPAddress SAN). */
static int tls_setup(struct cfg *g)
{
    unsigned char ip[16];
    X509_VERIFY_PARAM *vp;

    g->host_is_ip = inet_pton(AF_INET, g->host, ip) == 1 || inet_pton(AF_INET6, g->host, ip) == 1;
    if ((g->tls = SSL_CTX_new(TLS_client_method())) == NULL)
        return -1;
    vp = SSL_CTX_get0_param(g->tls);
    SSL_CTX_set_verify(g->tls, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_mode(g->tls, SSL_MODE_ENABLE_PARTIAL_WRITE);
    SSL_CTX_set_read_ahead(g->tls, 1); /* a response's records in one read(2) */
    X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_CTX_set_min_proto_version(g->tls, TLS1_3_VERSION) != 1 ||
        SSL_CTX_load_verify_locations(g->tls, g->cacert, NULL) != 1)
        return -1;
    if (g->host_is_ip)
        return X509_VERIFY_PARAM_set1_ip_asc(vp, g->host) == 1 ? 0 : -1;
    return X509_VERIFY_PARAM_set1_host(vp, g->host, 0) == 1 ? 0 : -1;
}

/* The header lines every request carries. */
static int make_hdrs(struct cfg *g)
{
    static const char fmt[] = "Host: %s\r\nAuthorization: Bearer %s\r\n"
                              "Content-Type: application/json\r\n";
    size_t n = sizeof(fmt) + strlen(g->authority) + strlen(g->token);

    if ((g->hdrs = malloc(n)) == NULL)
        return -1;
    snprintf(g->hdrs, n, fmt, g->authority, g->token);
    return 0;
}

/* ---- connections ---- */

static void close_conn(struct conn *c)
{
    SSL_free(c->ssl);            /* no close_notify: nothing waits for it */
    c->ssl = NULL;
    if (c->fd >= 0)
        close(c->fd);            /* also leaves the epoll set */
    c->fd = -1;
}

/* Start a TCP connect and set up its TLS client; 0 on success, else -1
 * with the reason in @why. The epoll registration is edge-triggered for
 * both directions and never changed: every event just drives the state. */
static int open_conn(struct tstate *ts, struct conn *c, char *why, size_t n)
{
    struct cfg *g = ts->cfg;
    struct epoll_event ev;
    int one = 1, r;

    c->reused = 0;
    c->fd = socket(g->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return snprintf(why, n, "socket: %s", strerror(errno)), -1;
    (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    (void)setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    r = connect(c->fd, (const struct sockaddr *)&g->addr, g->addrlen);
    if (r != 0 && errno != EINPROGRESS) {
        snprintf(why, n, "connect: %s", strerror(errno));
        close_conn(c);
        return -1;
    }
    if ((c->ssl = SSL_new(g->tls)) == NULL || SSL_set_fd(c->ssl, c->fd) != 1 ||
        (!g->host_is_ip && SSL_set_tlsext_host_name(c->ssl, g->host) != 1)) {
        snprintf(why, n, "TLS setup failed");
        close_conn(c);
        return -1;
    }
    SSL_set_connect_state(c->ssl);
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = c;
    if (epoll_ctl(ts->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        snprintf(why, n, "epoll_ctl: %s", strerror(errno));
        close_conn(c);
        return -1;
    }
    c->st = r == 0 ? ST_HANDSHAKE : ST_CONNECTING;
    return 0;
}

/* After an SSL call returned @r <= 0 (errno and the error queue cleared
 * before it): 1 if it only waits for the socket, else -1 with the reason
 * in @why. */
static int tls_wait(struct conn *c, int r, const char *step, char *why, size_t n)
{
    int err = errno, e = SSL_get_error(c->ssl, r);
    long v = SSL_get_verify_result(c->ssl);
    char es[160];

    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 1;
    if (v != X509_V_OK) {
        snprintf(why, n, "%s: certificate verify failed: %s", step,
                 X509_verify_cert_error_string(v));
    } else if (e == SSL_ERROR_SSL) {
        ERR_error_string_n(ERR_peek_last_error(), es, sizeof(es));
        snprintf(why, n, "%s: %s", step, es);
    } else if (e == SSL_ERROR_SYSCALL && err != 0) {
        snprintf(why, n, "%s: %s", step, strerror(err));
    } else {
        snprintf(why, n, "%s: connection closed", step);
    }
    ERR_clear_error();
    return -1;
}

/* ---- the HTTP/1.1 response ---- */

/* Whether the comma-separated header value [v, e) has the token @tok. */
static int has_token(const char *v, const char *e, const char *tok)
{
    size_t tl = strlen(tok);

    while (v < e) {
        const char *t = v, *te = memchr(v, ',', (size_t)(e - v));

        if (te == NULL)
            te = e;
        v = te + 1;
        while (t < te && (*t == ' ' || *t == '\t'))
            t++;
        while (te > t && (te[-1] == ' ' || te[-1] == '\t'))
            te--;
        if ((size_t)(te - t) == tl && strncasecmp(t, tok, tl) == 0)
            return 1;
    }
    return 0;
}

/* One header line [l, e) without its CRLF; 0 or -1 with the reason. */
static int parse_header(struct conn *c, const char *l, const char *e, int *have_len,
                        const char **why)
{
    const char *colon = memchr(l, ':', (size_t)(e - l)), *v;
    size_t nl, clen = 0;

    if (colon == NULL)
        return *why = "malformed response header", -1;
    nl = (size_t)(colon - l);
    for (v = colon + 1; v < e && (*v == ' ' || *v == '\t'); v++)
        ;
    while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    if (nl == 14 && strncasecmp(l, "content-length", nl) == 0) {
        if (v == e || e - v > 7)
            return *why = "bad Content-Length", -1;
        for (const char *d = v; d < e; d++) {
            if (*d < '0' || *d > '9')
                return *why = "bad Content-Length", -1;
            clen = clen * 10 + (size_t)(*d - '0');
        }
        if (clen > BODY_MAX || (*have_len && clen != c->clen))
            return *why = "bad Content-Length", -1;
        c->clen = clen;
        *have_len = 1;
    } else if (nl == 10 && strncasecmp(l, "connection", nl) == 0) {
        c->closing |= has_token(v, e, "close");
    } else if (nl == 17 && strncasecmp(l, "transfer-encoding", nl) == 0) {
        return *why = "Transfer-Encoding is not supported", -1;
    }
    return 0;
}

/* The status line and headers, c->in[0, @len) ending in the empty line. */
static int parse_head(struct conn *c, size_t len, const char **why)
{
    const char *p = c->in, *end = c->in + len - 2, *nl;
    int have_len = 0;

    if (len < 16 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') ||
        p[8] != ' ' || p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' ||
        p[11] < '0' || p[11] > '9' || (p[12] != ' ' && p[12] != '\r'))
        return *why = "malformed status line", -1;
    c->code = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    c->closing = p[7] == '0';
    c->clen = 0;
    p = (const char *)memchr(p, '\n', len) + 1; /* the status line's end */
    while (p < end) {
        if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL || nl == p || nl[-1] != '\r')
            return *why = "malformed response header", -1;
        if (parse_header(c, p, nl - 1, &have_len, why) != 0)
            return -1;
        p = nl + 1;
    }
    if (!have_len)
        return *why = "response without Content-Length", -1;
    c->headlen = len;
    return 0;
}

/* After more bytes came in: 1 when the response is complete, 0 when it
 * needs more, -1 (with the reason) when it is malformed. */
static int parse_response(struct conn *c, const char **why)
{
    if (c->headlen == 0) {
        size_t i = c->scan > 3 ? c->scan - 3 : 0;

        for (; i + 4 <= c->inlen; i++)
            if (memcmp(c->in + i, "\r\n\r\n", 4) == 0)
                break;
        c->scan = c->inlen;
        if (i + 4 > c->inlen)
            return c->inlen > HEAD_MAX ? (*why = "response head too large", -1) : 0;
        if (parse_head(c, i + 4, why) != 0)
            return -1;
    }
    if (c->inlen < c->headlen + c->clen)
        return 0;
    if (c->inlen > c->headlen + c->clen)
        return *why = "bytes after the response", -1;
    return 1;
}

/* ---- the pairs ---- */

static void pair_error(struct tstate *ts, struct conn *c, const char *why)
{
    if (c->t0 >= ts->cfg->t_start)
        ts->errors++;
    if (ts->firsterr[0] != '\0')
        return;
    if (why != NULL)
        snprintf(ts->firsterr, sizeof(ts->firsterr), "phase %d: %s", c->phase, why);
    else
        snprintf(ts->firsterr, sizeof(ts->firsterr), "phase %d: HTTP %ld: %.*s", c->phase,
                 c->code, (int)(c->clen < 180 ? c->clen : 180), c->in + c->headlen);
}

/* Put POST PREFIX@path with @body in c->out. */
static int set_request(struct cfg *g, struct conn *c, const char *path, const char *body,
                       size_t blen)
{
    static const char fmt[] = "POST %s%s HTTP/1.1\r\n%sContent-Length: %zu\r\n\r\n";
    size_t cap = sizeof(fmt) + strlen(g->prefix) + strlen(path) + strlen(g->hdrs) + 24;
    int n;

    if (reserve(&c->out, &c->outcap, cap + blen) != 0)
        return -1;
    n = snprintf(c->out, cap, fmt, g->prefix, path, g->hdrs, blen);
    memcpy(c->out + n, body, blen);
    c->outlen = (size_t)n + blen;
    c->outoff = 0;
    return 0;
}

/* Send the request in c->out: on the open connection, else a new one. */
static void issue(struct tstate *ts, struct conn *c)
{
    char why[200];

    c->inlen = c->scan = c->headlen = c->clen = 0;
    c->code = 0;
    if (c->fd >= 0) {
        c->st = ST_SEND;
    } else if (open_conn(ts, c, why, sizeof(why)) != 0) {
        pair_error(ts, c, why);
        c->st = ST_IDLE;
    }
}

static void start_pair(struct tstate *ts, struct conn *c, double now)
{
    c->phase = 0;
    c->t0 = now;
    c->retried = 0;
    if (set_request(ts->cfg, c, "/v1/challenge", "", 0) != 0) {
        pair_error(ts, c, "out of memory");
        c->st = ST_IDLE;
        return;
    }
    issue(ts, c);
}

/* A fresh random channel binding: one RAND_bytes call per 64 of them. */
static int next_cb(struct tstate *ts, uint8_t cb[32])
{
    if (ts->cbused == sizeof(ts->cbpool)) {
        if (RAND_bytes(ts->cbpool, sizeof(ts->cbpool)) != 1)
            return -1;
        ts->cbused = 0;
    }
    memcpy(cb, ts->cbpool + ts->cbused, 32);
    ts->cbused += 32;
    return 0;
}

/* From the challenge's @body, the attest request; 0 when it is sent. */
static int start_attest(struct tstate *ts, struct conn *c, const char *body, size_t len)
{
    struct cfg *g = ts->cfg;
    cJSON *root = cJSON_ParseWithLength(body, len);
    const cJSON *jn = cJSON_GetObjectItemCaseSensitive(root, "nonce");
    char nb64[44], cbb64[44], name[32];
    uint8_t nonce[32], cb[32], *ev = NULL;
    size_t evlen = 0, nlen = 0, blen;
    int rc = -1;

    if (!cJSON_IsString(jn) || strlen(jn->valuestring) != 43 ||
        vfy_b64url_decode(nonce, 32, &nlen, jn->valuestring, 43) != VFY_OK || nlen != 32)
        goto out;
    memcpy(nb64, jn->valuestring, 44);
    if (next_cb(ts, cb) != 0 || vfy_b64url_encode(cbb64, sizeof(cbb64), cb, 32) != VFY_OK ||
        bench_evidence(&g->ak, &g->f, nonce, cb, VFY_CMW_JSON, &ev, &evlen) != 0)
        goto out;
    snprintf(name, sizeof(name), "bench-%07zu", c->att_next % g->natt);
    c->att_next += c->stride;
    if (reserve(&c->body, &c->bodycap, evlen + 256) != 0)
        goto out;
    blen = (size_t)snprintf(c->body, c->bodycap,
                            "{\"nonce\":\"%s\",\"channel_binding\":\"%s\",\"attester\":\"%s\","
                            "\"evidence\":%s}", nb64, cbb64, name, (const char *)ev);
    if (set_request(g, c, "/v1/attest", c->body, blen) != 0)
        goto out;
    c->phase = 1;
    issue(ts, c);
    rc = 0;
out:
    vfy_free(ev);
    cJSON_Delete(root);
    return rc;
}

static int affirming(const char *body, size_t len)
{
    cJSON *root = cJSON_ParseWithLength(body, len);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "status");
    int ok = cJSON_IsString(s) && strcmp(s->valuestring, "affirming") == 0;

    cJSON_Delete(root);
    return ok;
}

static void record_pair(struct tstate *ts, struct conn *c, double now)
{
    struct cfg *g = ts->cfg;
    double *l;

    if (c->t0 < g->t_start || now >= g->t_end)
        return;
    if (ts->nlat == ts->caplat) {
        if ((l = realloc(ts->lat, (ts->caplat * 2 + 1024) * sizeof(double))) == NULL)
            return;
        ts->lat = l;
        ts->caplat = ts->caplat * 2 + 1024;
    }
    ts->lat[ts->nlat++] = now - c->t0;
    ts->pairs++;
}

/* A complete response is in c->in: check it and issue the next request. */
static void finish(struct tstate *ts, struct conn *c)
{
    double now = bench_now();
    const char *body = c->in + c->headlen;

    c->reused = 1;
    c->retried = 0;
    if (c->closing)
        close_conn(c);
    if (c->phase == 0) {
        if (c->code == 201 && start_attest(ts, c, body, c->clen) == 0)
            return;
        pair_error(ts, c, NULL);
    } else if (c->code == 200 && affirming(body, c->clen)) {
        record_pair(ts, c, now);
    } else {
        pair_error(ts, c, NULL);
    }
    start_pair(ts, c, now);
}

/* The connection broke: a stale keep-alive connection gets the request
 * once more on a new one, anything else is an error and the pair starts
 * over from the top of the loop. */
static void fail(struct tstate *ts, struct conn *c, const char *why)
{
    char why2[200];

    close_conn(c);
    if (c->reused && !c->retried && c->inlen == 0 && (c->st == ST_SEND || c->st == ST_RECV)) {
        c->retried = 1;
        c->outoff = 0;
        if (open_conn(ts, c, why2, sizeof(why2)) == 0)
            return;
        why = why2;
    }
    pair_error(ts, c, why);
    c->st = ST_IDLE;
}

/* Read what the socket has; 0 to go on, 1 to wait, -1 failed (@why). */
static int recv_some(struct conn *c, char *why, size_t n)
{
    const char *perr = NULL;
    int r;

    if (c->incap - c->inlen < 4096 && c->incap < HEAD_MAX + BODY_MAX &&
        reserve(&c->in, &c->incap, c->incap * 2 + 8192) != 0)
        return snprintf(why, n, "out of memory"), -1;
    if (c->incap == c->inlen)
        return snprintf(why, n, "response too large"), -1;
    errno = 0;
    if ((r = SSL_read(c->ssl, c->in + c->inlen, (int)(c->incap - c->inlen))) <= 0)
        return tls_wait(c, r, "receive", why, n);
    c->inlen += (size_t)r;
    switch (parse_response(c, &perr)) {
    case 1:
        c->st = ST_IDLE;         /* done: finish() sets what comes next */
        return 0;
    case 0:
        return 0;
    default:
        return snprintf(why, n, "%s", perr), -1;
    }
}

/* Take the connection as far as its socket allows. */
static void drive(struct tstate *ts, struct conn *c)
{
    char why[200];
    int r = 0;

    for (;;) {
        errno = 0;               /* what tls_wait reads must be this call's */
        ERR_clear_error();
        switch (c->st) {
        case ST_HANDSHAKE:
            if ((r = SSL_do_handshake(c->ssl)) == 1) {
                c->st = ST_SEND;
                r = 0;
            } else {
                r = tls_wait(c, r, "TLS handshake", why, sizeof(why));
            }
            break;
        case ST_SEND:
            if ((r = SSL_write(c->ssl, c->out + c->outoff, (int)(c->outlen - c->outoff))) > 0) {
                c->outoff += (size_t)r;
                r = 0;
                if (c->outoff == c->outlen) {
                    /* The answer cannot be there yet: no read until the
                     * event for its arrival (edge-triggered, and nothing
                     * of it can sit in the read-ahead buffer). */
                    c->st = ST_RECV;
                    r = 1;
                }
            } else {
                r = tls_wait(c, r, "send", why, sizeof(why));
            }
            break;
        case ST_RECV:
            if ((r = recv_some(c, why, sizeof(why))) == 0 && c->st == ST_IDLE)
                finish(ts, c);
            break;
        default:
            return;              /* connecting, or idle until the loop restarts it */
        }
        if (r == 1)
            return;
        if (r < 0)
            fail(ts, c, why);
    }
}

static void on_event(struct tstate *ts, struct conn *c, uint32_t ev)
{
    int err = 0;
    socklen_t el = sizeof(err);
    char why[200];

    if (c->st == ST_CONNECTING) {
        if ((ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0)
            return;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
            err = errno;
        if (err != 0) {
            snprintf(why, sizeof(why), "connect: %s", strerror(err));
            fail(ts, c, why);
            return;
        }
        c->st = ST_HANDSHAKE;
    }
    drive(ts, c);
}

static void *run(void *arg)
{
    struct tstate *ts = arg;
    struct cfg *g = ts->cfg;
    struct conn *cs = calloc(ts->n, sizeof(*cs));
    struct epoll_event evs[64];

    ts->cbused = sizeof(ts->cbpool);
    if (cs == NULL || (ts->ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        free(cs);
        snprintf(ts->firsterr, sizeof(ts->firsterr), "cannot set up the load thread");
        return NULL;
    }
    for (size_t i = 0; i < ts->n; i++) {
        struct conn *c = &cs[i];

        c->fd = -1;
        c->st = ST_IDLE;
        c->id = ts->first + i;
        c->stride = g->natt > 1000 ? 7919 : 1;
        while (g->natt > 1000 && g->natt % c->stride == 0)
            c->stride += 2;
        c->att_next = c->id * (g->natt / (g->conns ? g->conns : 1) + 1);
    }
    for (;;) {
        double now = bench_now();
        int idle = 0, timeout, n;

        if (now >= g->t_end)
            break;
        /* Connections idle after an error (or not started) start a pair;
         * one that cannot even connect is retried after a millisecond. */
        for (size_t i = 0; i < ts->n; i++) {
            if (cs[i].st != ST_IDLE)
                continue;
            start_pair(ts, &cs[i], now);
            drive(ts, &cs[i]);
            idle |= cs[i].st == ST_IDLE;
        }
        timeout = idle ? 1 : (int)((g->t_end - now) * 1000) + 1;
        n = epoll_wait(ts->ep, evs, 64, timeout < 100 ? timeout : 100);
        for (int i = 0; i < n; i++)
            on_event(ts, evs[i].data.ptr, evs[i].events);
    }
    for (size_t i = 0; i < ts->n; i++) {
        close_conn(&cs[i]);
        free(cs[i].out);
        free(cs[i].body);
        free(cs[i].in);
    }
    free(cs);
    close(ts->ep);
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

int bench_http_main(int argc, char **argv);
int bench_http_main(int argc, char **argv)
{
    struct cfg g;
    const char *keyfile = NULL;
    struct sigaction sa;
    struct tstate *ts;
    pthread_t *th;
    double *all, p50, p99;
    size_t nall = 0, pairs = 0, errors = 0;

    memset(&g, 0, sizeof(g));
    g.natt = 10;
    g.conns = 16;
    g.threads = 1;
    g.seconds = 10;
    g.warmup = 2;
    g.label = "http";
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) { fprintf(stderr, "vfy-bench http: %s needs a value\n", argv[i]); return 2; }
        if (strcmp(argv[i], "--url") == 0) g.url = argv[++i];
        else if (strcmp(argv[i], "--token") == 0) g.token = argv[++i];
        else if (strcmp(argv[i], "--cacert") == 0) g.cacert = argv[++i];
        else if (strcmp(argv[i], "--key") == 0) keyfile = argv[++i];
        else if (strcmp(argv[i], "--label") == 0) g.label = argv[++i];
        else if (strcmp(argv[i], "--attesters") == 0) g.natt = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--conns") == 0) g.conns = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--threads") == 0) g.threads = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--seconds") == 0) g.seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--warmup") == 0) g.warmup = atof(argv[++i]);
        else { fprintf(stderr, "vfy-bench http: bad argument %s\n", argv[i]); return 2; }
    }
    if (g.url == NULL || g.token == NULL || g.cacert == NULL || keyfile == NULL || g.natt == 0 ||
        g.conns == 0 || g.threads == 0 || g.threads > g.conns)
        return fprintf(stderr, "vfy-bench http: need --url --token --cacert --key\n"), 2;
    if (parse_url(&g) != 0)
        return fprintf(stderr, "vfy-bench http: --url must be https://HOST[:PORT][/PATH]\n"), 2;
    bench_fixture_init(&g.f);
    if (bench_ak_load(&g.ak, keyfile) != 0)
        return fprintf(stderr, "vfy-bench http: cannot load %s\n", keyfile), 1;
    if (tls_setup(&g) != 0) {
        ERR_print_errors_fp(stderr);
        return fprintf(stderr, "vfy-bench http: cannot set up TLS with %s\n", g.cacert), 1;
    }
    if (resolve(&g) != 0 || make_hdrs(&g) != 0)
        return fprintf(stderr, "vfy-bench http: cannot resolve %s\n", g.host), 1;
    /* A write to a connection the server closed must fail, not kill us. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    g.t_start = bench_now() + g.warmup;
    g.t_end = g.t_start + g.seconds;
    ts = calloc(g.threads, sizeof(*ts));
    th = calloc(g.threads, sizeof(*th));
    for (size_t t = 0; t < g.threads; t++) {
        ts[t].cfg = &g;
        ts[t].first = t * g.conns / g.threads;
        ts[t].n = (t + 1) * g.conns / g.threads - ts[t].first;
        pthread_create(&th[t], NULL, run, &ts[t]);
    }
    for (size_t t = 0; t < g.threads; t++) {
        pthread_join(th[t], NULL);
        nall += ts[t].nlat;
    }
    all = malloc((nall + 1) * sizeof(double));
    nall = 0;
    for (size_t t = 0; t < g.threads; t++) {
        if (ts[t].nlat > 0)
            memcpy(all + nall, ts[t].lat, ts[t].nlat * sizeof(double));
        nall += ts[t].nlat;
        pairs += ts[t].pairs;
        errors += ts[t].errors;
        if (ts[t].firsterr[0])
            fprintf(stderr, "vfy-bench http: first error: %s\n", ts[t].firsterr);
        free(ts[t].lat);
    }
    qsort(all, nall, sizeof(double), cmp_d);
    p50 = nall ? all[(size_t)(0.50 * (double)(nall - 1))] : 0;
    p99 = nall ? all[(size_t)(0.99 * (double)(nall - 1))] : 0;
    printf("bench: %s_pairs_per_s=%.0f pairs/s\n", g.label, (double)pairs / g.seconds);
    printf("bench: %s_p50_ms=%.2f ms\n", g.label, p50 * 1000);
    printf("bench: %s_p99_ms=%.2f ms\n", g.label, p99 * 1000);
    printf("bench: %s_errors=%zu requests\n", g.label, errors);
    free(all);
    free(ts);
    free(th);
    free(g.hdrs);
    SSL_CTX_free(g.tls);
    bench_ak_free(&g.ak);
    return errors > 0 && pairs == 0 ? 1 : 0;
}
