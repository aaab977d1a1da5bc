/*
 * hostilehttp.c — test helper: a raw HTTPS client for the hostile-input
 * tests (issue 7). It speaks TLS to a verifierd on 127.0.0.1 and writes
 * arbitrary bytes: mutated, truncated, oversized and nested requests, slow
 * bodies, idle connections, and a keep-alive challenge/attest load.
 *
 *   hostilehttp fuzz  PORT SEED COUNT ATTEST_TOKEN ADMIN_TOKEN EVIDENCE_FILE
 *   hostilehttp idle  PORT COUNT HOLD_S tls|tcp
 *   hostilehttp slow  PORT COUNT SECS ATTEST_TOKEN
 *   hostilehttp load  PORT SECS THREADS ATTEST_TOKEN ATTESTER EVIDENCE_FILE
 *
 * fuzz: COUNT requests, one connection each, built from valid templates
 *   (challenge, attest with EVIDENCE_FILE, admin import, GETs) and then
 *   mutated by kind (i % KINDS): truncated, bit-flipped (anywhere or in the
 *   body only), oversized (Content-Length, chunked, headers), deeply nested
 *   JSON (request, evidence object, manifest and CBOR inside the evidence),
 *   wrong content types, garbage bytes, odd paths and methods, odd field
 *   types, broken chunked framing, mangled Authorization. Deterministic for
 *   a SEED. Prints one line per response outside {no answer, 2xx, 4xx} as
 *   "BAD kind=K case=I status=S" and a summary line
 *   "fuzz sent=N answered=A noanswer=X 2xx=.. 4xx=.. 5xx=.. 505=.. other=..".
 *   505 (libmicrohttpd's answer to a mangled HTTP version) is counted on its
 *   own, so the caller can tell it from a 5xx made by verifierd's handlers.
 *   Exit 0 unless a 5xx other than 505, or an unparsable status line, was
 *   seen (1).
 * idle: opens COUNT connections (tls: handshake done; tcp: not even a
 *   ClientHello), holds them HOLD_S seconds, then reports
 *   "idle opened=O refused=R closed_by_server=C".
 * slow: COUNT connections each POST /v1/attest declaring 2000 bytes and
 *   sending one byte every 200 ms for SECS seconds; prints
 *   "slow conns=N closed_by_server=C answered=A statuses=..."
 * split: connections caught mid-way by a reload or stop: N of them
 *   TCP-connected without a ClientHello, N with TLS up and the request
 *   line of GET /healthz sent, N keep-alive ones that completed one request
 *   and sent the next one's request line. Prints "split ready" once all
 *   are so, waits until GO_FILE exists, then finishes each (TLS handshake,
 *   rest of the request) and prints "split ok=K of=M" with K the number
 *   answered 200 of the M opened. KINDS (default "thk") picks the groups:
 *   t TCP only, h half a request, k keep-alive. Exit 0.
 *   (hostilehttp split PORT N GO_FILE [KINDS])
 * slowread: COUNT connections with a 4 KiB receive buffer, each sending
 *   GET PATH (with TOKEN unless "-") and then reading RATE raw bytes every
 *   250 ms (0: none) for HOLD_S seconds: slow readers, whose answer backs
 *   up in the server's send buffer. Prints "slowread opened=O" once they
 *   are all open (the caller watches verifierd's connection gauge
 *   meanwhile) and "slowread read=B closed_by_server=C" at the end.
 *   (hostilehttp slowread PORT COUNT PATH TOKEN RATE HOLD_S)
 * load: THREADS keep-alive connections, each looping POST /v1/challenge
 *   then POST /v1/attest (EVIDENCE_FILE for ATTESTER with the fresh nonce)
 *   for SECS seconds or until SIGTERM/SIGINT; reconnects when the server
 *   goes away. Prints "load requests=N 2xx=.. 4xx=.. 5xx=.. other=..
 *   connfail=F" (other: no answer on an established connection).
 *
 * TLS: libssl is loaded with dlopen (libssl.so.3) because the generic
 * tests/tools rule links libverify_static, which brings libcrypto only.
 * The server certificate is not verified: the tests talk to their own
 * verifierd on loopback, and the point here is the bytes after the
 * handshake. Every loop is bounded by COUNT or a deadline.
 */
#include <dlfcn.h>
#include <errno.h>
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
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

/* ---- libssl through dlopen ---- */

static struct {
    const SSL_METHOD *(*client_method)(void);
    SSL_CTX *(*ctx_new)(const SSL_METHOD *);
    void (*ctx_free)(SSL_CTX *);
    SSL *(*ssl_new)(SSL_CTX *);
    void (*ssl_free)(SSL *);
    int (*set_fd)(SSL *, int);
    int (*connect)(SSL *);
    int (*read)(SSL *, void *, int);
    int (*write)(SSL *, const void *, int);
    int (*shutdown)(SSL *);
} tls;

static SSL_CTX *ctx;
static in_port_t g_port;
static int g_rcvbuf;   /* SO_RCVBUF for new connections; 0: the default */

static int tls_load(void)
{
    void *h = dlopen("libssl.so.3", RTLD_NOW);

    if (h == NULL) {
        fprintf(stderr, "hostilehttp: dlopen libssl.so.3: %s\n", dlerror());
        return -1;
    }
#define SYM(field, name)                                                  \
    do {                                                                  \
        *(void **)&tls.field = dlsym(h, name);                            \
        if (tls.field == NULL) {                                          \
            fprintf(stderr, "hostilehttp: no symbol %s\n", name);         \
            return -1;                                                    \
        }                                                                 \
    } while (0)
    SYM(client_method, "TLS_client_method");
    SYM(ctx_new, "SSL_CTX_new");
    SYM(ctx_free, "SSL_CTX_free");
    SYM(ssl_new, "SSL_new");
    SYM(ssl_free, "SSL_free");
    SYM(set_fd, "SSL_set_fd");
    SYM(connect, "SSL_connect");
    SYM(read, "SSL_read");
    SYM(write, "SSL_write");
    SYM(shutdown, "SSL_shutdown");
#undef SYM
    ctx = tls.ctx_new(tls.client_method());
    return ctx != NULL ? 0 : -1;
}

/* ---- connections ---- */

struct conn {
    int fd;
    SSL *ssl;
};

static int tcp_open(int timeout_s)
{
    struct sockaddr_in sa;
    struct timeval tv = {timeout_s, 0};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(g_port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (g_rcvbuf > 0)   /* before connect: it sets the window offered */
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &g_rcvbuf, sizeof(g_rcvbuf));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int conn_open(struct conn *c, int timeout_s)
{
    c->ssl = NULL;
    if ((c->fd = tcp_open(timeout_s)) < 0)
        return -1;
    if ((c->ssl = tls.ssl_new(ctx)) == NULL || tls.set_fd(c->ssl, c->fd) != 1 ||
        tls.connect(c->ssl) != 1) {
        if (c->ssl != NULL)
            tls.ssl_free(c->ssl);
        close(c->fd);
        c->ssl = NULL;
        c->fd = -1;
        return -1;
    }
    return 0;
}

static void conn_close(struct conn *c)
{
    if (c->ssl != NULL) {
        (void)tls.shutdown(c->ssl);
        tls.ssl_free(c->ssl);
    }
    if (c->fd >= 0)
        close(c->fd);
    c->ssl = NULL;
    c->fd = -1;
}

static int conn_write(struct conn *c, const void *buf, size_t n)
{
    const unsigned char *p = buf;

    while (n > 0) {
        int chunk = n > (1u << 20) ? 1 << 20 : (int)n;
        int w = tls.write(c->ssl, p, chunk);

        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read one HTTP response. Returns the status (100..599), 0 when the
 * connection closed (or timed out) before a status line, -1 when what came
 * back is not an HTTP response. *keep is set when the connection can be
 * reused. The body is kept (NUL-terminated) in buf up to cap - 1 bytes. */
static int read_response(struct conn *c, char *buf, size_t cap, int *keep)
{
    size_t len = 0, hlen = 0, clen = 0, want;
    int status = 0, have_clen = 0;
    char *hend = NULL, *p;

    *keep = 0;
    while (hend == NULL) {
        int n;

        if (len + 1 >= cap)
            return -1;
        n = tls.read(c->ssl, buf + len, (int)(cap - 1 - len));
        if (n <= 0)
            return len == 0 ? 0 : -1;
        len += (size_t)n;
        buf[len] = '\0';
        hend = strstr(buf, "\r\n\r\n");
    }
    hlen = (size_t)(hend - buf) + 4;
    if (strncmp(buf, "HTTP/1.", 7) != 0 || len < 12)
        return -1;
    status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    if (status < 100 || status > 599)
        return -1;
    for (p = buf; p < hend; p++) {
        if (strncasecmp(p, "\r\nContent-Length:", 17) == 0) {
            clen = strtoul(p + 17, NULL, 10);
            have_clen = 1;
        }
        if (strncasecmp(p, "\r\nConnection: close", 19) == 0)
            *keep = -1;
    }
    want = hlen + clen;
    if (have_clen) {
        while (len < want && len + 1 < cap) {
            int n = tls.read(c->ssl, buf + len, (int)(cap - 1 - len));

            if (n <= 0)
                break;
            len += (size_t)n;
        }
    }
    buf[len < cap ? len : cap - 1] = '\0';
    memmove(buf, buf + hlen, (len > hlen ? len - hlen : 0) + 1);
    *keep = (*keep == 0 && have_clen && len >= want) ? 1 : 0;
    return status;
}

/* ---- growable byte buffer ---- */

struct buf {
    char *p;
    size_t n, cap;
};

static void bput(struct buf *b, const void *d, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;

        while (cap < b->n + n + 1)
            cap *= 2;
        if ((b->p = realloc(b->p, cap)) == NULL) {
            perror("realloc");
            exit(2);
        }
        b->cap = cap;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void bputs(struct buf *b, const char *s)
{
    bput(b, s, strlen(s));
}

static void bprintf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void bprintf(struct buf *b, const char *fmt, ...)
{
    char tmp[4096];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        bput(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void brep(struct buf *b, const char *s, size_t times)
{
    for (size_t i = 0; i < times; i++)
        bputs(b, s);
}

/* ---- deterministic randomness (xorshift64*) ---- */

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static size_t rndn(uint64_t *s, size_t n)
{
    return n == 0 ? 0 : (size_t)(rnd(s) % n);
}

static void rand_b64url(uint64_t *s, char *out, size_t chars)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    for (size_t i = 0; i < chars; i++)
        out[i] = al[rndn(s, 64)];
    /* 43 characters carry 32 bytes: the last one's low 4 bits must be 0
     * (canonical base64url), or a strict decoder rightly refuses it. */
    if (chars == 43)
        out[42] = "AQgw"[rndn(s, 4)];
    out[chars] = '\0';
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *d;
    size_t n;

    if (f == NULL)
        return NULL;
    d = malloc(1u << 21);
    n = d != NULL ? fread(d, 1, (1u << 21) - 1, f) : 0;
    fclose(f);
    if (d != NULL)
        d[n] = '\0';
    *len = n;
    return d;
}

static void b64url(struct buf *b, const unsigned char *d, size_t n)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t i;

    for (i = 0; i + 2 < n; i += 3) {
        char q[4] = {al[d[i] >> 2], al[((d[i] & 3) << 4) | (d[i + 1] >> 4)],
                     al[((d[i + 1] & 15) << 2) | (d[i + 2] >> 6)], al[d[i + 2] & 63]};
        bput(b, q, 4);
    }
    if (n - i == 1) {
        char q[2] = {al[d[i] >> 2], al[(d[i] & 3) << 4]};
        bput(b, q, 2);
    } else if (n - i == 2) {
        char q[3] = {al[d[i] >> 2], al[((d[i] & 3) << 4) | (d[i + 1] >> 4)],
                     al[(d[i + 1] & 15) << 2]};
        bput(b, q, 3);
    }
}

/* ---- request templates ---- */

struct ctx_in {
    const char *attest, *admin, *attester;
    char *evidence;
    size_t evlen;
};

static void http_req(struct buf *out, const char *method, const char *path, const char *tok,
                     const char *ctype, const char *body, size_t blen)
{
    bprintf(out, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n", method, path);
    if (tok != NULL)
        bprintf(out, "Authorization: Bearer %s\r\n", tok);
    if (ctype != NULL)
        bprintf(out, "Content-Type: %s\r\n", ctype);
    if (body != NULL)
        bprintf(out, "Content-Length: %zu\r\n", blen);
    bputs(out, "Connection: close\r\n\r\n");
    if (body != NULL)
        bput(out, body, blen);
}

static void attest_body(struct buf *b, uint64_t *s, const struct ctx_in *in, const char *nonce,
                        const char *evidence)
{
    char n[44], cb[44];

    rand_b64url(s, n, 43);
    rand_b64url(s, cb, 43);
    bprintf(b, "{\"nonce\":\"%s\",\"channel_binding\":\"%s\",\"attester\":\"%s\",\"evidence\":",
            nonce != NULL ? nonce : n, cb, in->attester);
    bputs(b, evidence != NULL ? evidence : in->evidence);
    bputs(b, "}");
}

/* A valid request of template t (0..5). */
static void valid_req(struct buf *out, uint64_t *s, const struct ctx_in *in, int t)
{
    struct buf b = {0};

    switch (t % 6) {
    case 0:
        http_req(out, "POST", "/v1/challenge", in->attest, NULL, NULL, 0);
        break;
    case 1:
        bputs(&b, "{\"policy\":\"default\"}");
        http_req(out, "POST", "/v1/challenge", in->attest, "application/json", b.p, b.n);
        break;
    case 2:
    case 3:
        attest_body(&b, s, in, NULL, NULL);
        http_req(out, "POST", "/v1/attest", in->attest, "application/json", b.p, b.n);
        break;
    case 4:
        bputs(&b, "{\"id\":\"hostile\",\"version\":1,\"platform\":{\"bank\":\"sha256\",\"pcrs\":[0]},"
                  "\"agent\":{\"pcr\":23,\"history\":\"current\",\"unknown_context\":\"warning\"},"
                  "\"freshness\":{\"nonce_ttl_s\":60},\"result\":{\"ttl_s\":300}}");
        http_req(out, "POST", "/v1/admin/policies", in->admin, "application/json", b.p, b.n);
        break;
    default:
        http_req(out, "GET", (rnd(s) & 1) ? "/v1/revocations?after=0" : "/v1/results/abc",
                 in->attest, NULL, NULL, 0);
        break;
    }
    free(b.p);
}

/* Evidence collection (JSON object text) with one record's payload replaced. */
static void evidence_with(struct buf *out, const char *label, const char *mtype,
                          const unsigned char *payload, size_t plen)
{
    bputs(out, "{\"__cmwc_t\":\"tag:github.com,2026:verifierd/agent-evidence/v1\",");
    bprintf(out, "\"%s\":[\"%s\",\"", label, mtype);
    b64url(out, payload, plen);
    bputs(out, "\"]}");
}

enum { K_TRUNC, K_FLIP, K_BODYFLIP, K_BIG, K_NEST, K_CTYPE, K_GARBAGE, K_PATH, K_TYPES,
       K_CHUNK, K_AUTH, K_VALID, KINDS };
static const char *kind_name[KINDS] = {"truncated", "bitflip",  "bodyflip", "oversized",
                                       "nested",    "ctype",    "garbage",  "path",
                                       "fieldtypes", "chunked", "auth",     "valid"};

/* Build case i; sets *half_close when the client should stop writing
 * (truncated requests) rather than wait for the server to answer first. */
static void build_case(struct buf *out, uint64_t *s, const struct ctx_in *in, size_t i,
                       int *kind, int *half_close)
{
    struct buf b = {0}, e = {0};
    int k = (int)(i % KINDS);
    size_t depth, n;

    *kind = k;
    *half_close = 0;
    switch (k) {
    case K_TRUNC:
        valid_req(out, s, in, (int)rndn(s, 6));
        out->n = rndn(s, out->n);
        *half_close = 1;
        break;
    case K_FLIP:
        valid_req(out, s, in, (int)rndn(s, 6));
        for (n = 1 + rndn(s, 8); n > 0; n--)
            out->p[rndn(s, out->n)] ^= (char)(1u << rndn(s, 8));
        *half_close = 1; /* a flipped Content-Length may promise more */
        break;
    case K_BODYFLIP:
        attest_body(&b, s, in, NULL, NULL);
        for (n = 1 + rndn(s, 4); n > 0; n--)
            b.p[rndn(s, b.n)] ^= (char)(1u << rndn(s, 8));
        http_req(out, "POST", "/v1/attest", in->attest, "application/json", b.p, b.n);
        break;
    case K_BIG:
        switch (rndn(s, 6)) {
        case 0: /* Content-Length far above the limit, nothing sent */
            bprintf(out, "POST /v1/attest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                         "Content-Type: application/json\r\nContent-Length: %s\r\n\r\n{",
                    in->attest, (rnd(s) & 1) ? "18446744073709551615" : "1048577");
            break;
        case 1: /* 1 MiB + 1 body actually sent */
            bprintf(out, "POST /v1/attest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                         "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n",
                    in->attest, (1 << 20) + 1);
            for (n = 0; n < (1u << 20) + 1; n++)
                bput(out, "[", 1);
            break;
        case 2: /* 70 KiB header */
            bputs(out, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ");
            brep(out, "A", 70 * 1024);
            bputs(out, "\r\n\r\n");
            break;
        case 3: /* 3000 headers */
            bputs(out, "GET /v1/keys HTTP/1.1\r\nHost: x\r\n");
            for (n = 0; n < 3000; n++)
                bprintf(out, "X-H%zu: v\r\n", n);
            bputs(out, "\r\n");
            break;
        case 4: /* challenge body above 4 KiB */
            brep(&b, " ", 5000);
            bputs(&b, "{}");
            http_req(out, "POST", "/v1/challenge", in->attest, "application/json", b.p, b.n);
            break;
        default: /* admin import 1 MiB of string */
            bputs(&b, "{\"x\":\"");
            brep(&b, "a", (1u << 20));
            bputs(&b, "\"}");
            http_req(out, "POST", "/v1/admin/refvalues", in->admin, "application/json", b.p, b.n);
            break;
        }
        break;
    case K_NEST:
        depth = (size_t)1 << (4 + rndn(s, 14)); /* 16 .. 131072 */
        switch (rndn(s, 5)) {
        case 0: /* the request itself */
            brep(&b, "[", depth);
            brep(&b, "]", depth);
            http_req(out, "POST", "/v1/attest", in->attest, "application/json", b.p, b.n);
            break;
        case 1: /* inside the evidence object */
            brep(&e, "{\"a\":", depth);
            bputs(&e, "1");
            brep(&e, "}", depth);
            attest_body(&b, s, in, NULL, e.p);
            http_req(out, "POST", "/v1/attest", in->attest, "application/json", b.p, b.n);
            break;
        case 2: { /* nested manifest inside a valid-looking collection */
            struct buf m = {0};

            if (depth > 200000)
                depth = 200000;
            brep(&m, "{\"models\":[", depth);
            brep(&m, "]}", depth);
            evidence_with(&e, "agent-manifest", "application/vnd.verifierd.agent-manifest+json",
                          (const unsigned char *)m.p, m.n);
            free(m.p);
            attest_body(&b, s, in, NULL, e.p);
            http_req(out, "POST", "/v1/attest", in->attest, "application/json", b.p, b.n);
            break;
        }
        case 3: { /* nested CBOR arrays as the CBOR evidence */
            struct buf c = {0};

            brep(&c, "\x81", depth > 300000 ? 300000 : depth);
            bput(&c, "\x00", 1);
            bputs(&e, "\"");
            b64url(&e, (const unsigned char *)c.p, c.n);
            bputs(&e, "\"");
            free(c.p);
            attest_body(&b, s, in, NULL, e.p);
            http_req(out, "POST", "/v1/attest", in->attest, "application/json", b.p, b.n);
            break;
        }
        default: /* nested admin bundle and policy */
            brep(&b, "{\"policies\":", depth);
            bputs(&b, "[]");
            brep(&b, "}", depth);
            http_req(out, "POST", (rnd(s) & 1) ? "/v1/admin/refvalues" : "/v1/admin/policies",
                     in->admin, "application/json", b.p, b.n);
            break;
        }
        break;
    case K_CTYPE: {
        static const char *ct[] = {"text/plain", "application/cbor", "application/cmw+json",
                                   "multipart/form-data; boundary=x", "application/jsonx",
                                   "application/x-www-form-urlencoded", "", ";", "application/",
                                   "APPLICATION/JSON; charset=\xff"};
        size_t w = rndn(s, sizeof(ct) / sizeof(ct[0]) + 1);

        attest_body(&b, s, in, NULL, NULL);
        http_req(out, "POST", (rnd(s) & 1) ? "/v1/attest" : "/v1/admin/policies",
                 w == 0 ? in->attest : in->admin, w < sizeof(ct) / sizeof(ct[0]) ? ct[w] : NULL,
                 b.p, b.n);
        /* the admin route with the attest token is 403, with admin 415 */
        break;
    }
    case K_GARBAGE:
        for (n = 1 + rndn(s, 4096); n > 0; n--) {
            char ch = (char)rnd(s);
            bput(out, &ch, 1);
        }
        *half_close = 1;
        break;
    case K_PATH: {
        static const char *paths[] = {"/v1/results/%00", "/v1/../v1/keys", "/v1/results/",
                                      "/v1/admin/", "/v1/admin/attesters/%2e%2e/revoke",
                                      "/v1/revocations?after=-1", "/v1/revocations?after=99999999999999999999",
                                      "/v1/revocations?limit=0&limit=1&after=a", "*", "//",
                                      "/healthz?\xff\xfe", "/v1/admin/attesters/x/revoke/y"};
        static const char *methods[] = {"GET", "POST", "PUT", "DELETE", "OPTIONS", "TRACE",
                                        "CONNECT", "PATCH", "BREW", "G\x01T", "HEAD"};
        const char *p = paths[rndn(s, sizeof(paths) / sizeof(paths[0]))];

        if (rndn(s, 4) == 0) {
            bputs(&e, "/v1/results/");
            brep(&e, "A", 1 + rndn(s, 16000));
            p = e.p;
        }
        http_req(out, methods[rndn(s, sizeof(methods) / sizeof(methods[0]))], p,
                 (rnd(s) & 1) ? in->attest : in->admin, NULL, NULL, 0);
        break;
    }
    case K_TYPES: {
        static const char *vals[] = {"null", "1e999", "-1", "[]", "{}", "true", "\"\"",
                                     "\"\\u0000\"", "\"\\ud800\"", "18446744073709551616",
                                     "0.5", "\"AAAA\"", "\"\xc3\x28\""};
        static const char *fields[] = {"nonce", "channel_binding", "attester", "evidence",
                                       "policy", "max_ttl_s", "extra"};
        char nonce[44], cb[44];

        rand_b64url(s, nonce, 43);
        rand_b64url(s, cb, 43);
        bputs(&b, "{");
        for (n = 0; n < 7; n++) {
            const char *f = fields[n];
            int odd = rndn(s, 3) == 0;

            if (!odd && n == 6)
                continue;
            if (n == 6 || rndn(s, 7) != 0) {
                if (b.n > 1)
                    bputs(&b, ",");
                bprintf(&b, "\"%s\":", f);
                if (odd || n == 6)
                    bputs(&b, vals[rndn(s, sizeof(vals) / sizeof(vals[0]))]);
                else if (n == 0)
                    bprintf(&b, "\"%s\"", nonce);
                else if (n == 1)
                    bprintf(&b, "\"%s\"", cb);
                else if (n == 2)
                    bprintf(&b, "\"%s\"", in->attester);
                else if (n == 3)
                    bputs(&b, in->evidence);
                else if (n == 4)
                    bputs(&b, "\"default\"");
                else
                    bputs(&b, "60");
            }
        }
        bputs(&b, "}");
        http_req(out, "POST", "/v1/attest", in->attest, "application/json", b.p, b.n);
        break;
    }
    case K_CHUNK: {
        static const char *sizes[] = {"ffffffffffffffff", "-1", "1;ext=\xff", "zz", "",
                                      "100000", "7fffffffffffffff", "0x10"};

        bprintf(out, "POST /v1/attest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                     "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n",
                in->attest);
        if (rnd(s) & 1)
            bputs(out, "Content-Length: 5\r\n");
        bputs(out, "\r\n");
        bprintf(out, "%s\r\n{\"a\":1}\r\n", sizes[rndn(s, sizeof(sizes) / sizeof(sizes[0]))]);
        if (rnd(s) & 1)
            bputs(out, "0\r\n\r\n");
        *half_close = 1;
        break;
    }
    case K_AUTH: {
        static const char *auth[] = {"Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer x",
                                     "Bearer \x00\x01", "Bearer vfy_", "Bearer  Bearer"};
        size_t w = rndn(s, sizeof(auth) / sizeof(auth[0]) + 2);

        bputs(out, "POST /v1/challenge HTTP/1.1\r\nHost: x\r\n");
        if (w < sizeof(auth) / sizeof(auth[0])) {
            bputs(out, "Authorization: ");
            bput(out, auth[w], w == 4 ? 9 : strlen(auth[w]));
            bputs(out, "\r\n");
        } else if (w == sizeof(auth) / sizeof(auth[0])) {
            bputs(out, "Authorization: Bearer ");
            brep(out, "v", 257 + rndn(s, 30000));
            bputs(out, "\r\n");
        } else { /* the real token with one character changed */
            char t[512];

            snprintf(t, sizeof(t), "%s", in->attest);
            t[rndn(s, strlen(t))] ^= 1;
            bprintf(out, "Authorization: Bearer %s\r\n", t);
        }
        bputs(out, "Content-Length: 0\r\nConnection: close\r\n\r\n");
        break;
    }
    default:
        valid_req(out, s, in, (int)rndn(s, 6));
        break;
    }
    free(b.p);
    free(e.p);
}

/* ---- fuzz ---- */

struct fuzz_state {
    const struct ctx_in *in;
    uint64_t seed;
    size_t count;
    atomic_size_t next;
    atomic_size_t answered, noanswer, s2, s4, s5, s505, other, connfail;
    atomic_size_t by_kind_noanswer[KINDS];
    pthread_mutex_t out_lock;
};

static void *fuzz_thread(void *arg)
{
    struct fuzz_state *fs = arg;
    char *resp = malloc(65536);
    size_t i;

    while ((i = atomic_fetch_add(&fs->next, 1)) < fs->count) {
        uint64_t s = fs->seed * 0x9E3779B97F4A7C15ULL + i + 1;
        struct buf req = {0};
        struct conn c;
        int kind, half, keep, st;

        for (int w = 0; w < 4; w++)
            (void)rnd(&s);
        build_case(&req, &s, fs->in, i, &kind, &half);
        if (conn_open(&c, 10) != 0) {
            atomic_fetch_add(&fs->connfail, 1);
            free(req.p);
            continue;
        }
        (void)conn_write(&c, req.p, req.n); /* the server may close early: fine */
        if (half)
            shutdown(c.fd, SHUT_WR);
        st = read_response(&c, resp, 65536, &keep);
        if (st == 0) {
            atomic_fetch_add(&fs->noanswer, 1);
            atomic_fetch_add(&fs->by_kind_noanswer[kind], 1);
        } else {
            atomic_fetch_add(&fs->answered, 1);
            if (st >= 200 && st < 300)
                atomic_fetch_add(&fs->s2, 1);
            else if (st >= 400 && st < 500)
                atomic_fetch_add(&fs->s4, 1);
            else if (st == 505)
                atomic_fetch_add(&fs->s505, 1);
            else if (st >= 500 && st < 600)
                atomic_fetch_add(&fs->s5, 1);
            else
                atomic_fetch_add(&fs->other, 1);
            if (st < 200 || (st >= 300 && st < 400) || st >= 500) {
                pthread_mutex_lock(&fs->out_lock);
                printf("BAD kind=%s case=%zu status=%d body=%.200s\n", kind_name[kind], i, st,
                       st > 0 ? resp : "");
                fflush(stdout);
                pthread_mutex_unlock(&fs->out_lock);
            }
        }
        conn_close(&c);
        free(req.p);
    }
    free(resp);
    return NULL;
}

static int cmd_fuzz(char **argv)
{
    struct ctx_in in = {argv[2], argv[3], "fake-agent", NULL, 0};
    struct fuzz_state fs;
    pthread_t th[4];

    memset(&fs, 0, sizeof(fs));
    fs.in = &in;
    fs.seed = strtoull(argv[0], NULL, 10);
    fs.count = strtoull(argv[1], NULL, 10);
    if ((in.evidence = read_file(argv[4], &in.evlen)) == NULL) {
        fprintf(stderr, "hostilehttp: cannot read %s\n", argv[4]);
        return 2;
    }
    while (in.evlen > 0 && (in.evidence[in.evlen - 1] == '\n'))
        in.evidence[--in.evlen] = '\0';
    pthread_mutex_init(&fs.out_lock, NULL);
    for (int t = 0; t < 4; t++)
        pthread_create(&th[t], NULL, fuzz_thread, &fs);
    for (int t = 0; t < 4; t++)
        pthread_join(th[t], NULL);
    printf("fuzz sent=%zu answered=%zu noanswer=%zu 2xx=%zu 4xx=%zu 5xx=%zu 505=%zu other=%zu "
           "connfail=%zu",
           fs.count, (size_t)fs.answered, (size_t)fs.noanswer, (size_t)fs.s2, (size_t)fs.s4,
           (size_t)fs.s5, (size_t)fs.s505, (size_t)fs.other, (size_t)fs.connfail);
    printf(" noanswer_by_kind=");
    for (int k = 0; k < KINDS; k++)
        printf("%s%s:%zu", k ? "," : "", kind_name[k], (size_t)fs.by_kind_noanswer[k]);
    printf("\n");
    free(in.evidence);
    return (fs.s5 > 0 || fs.other > 0) ? 1 : 0;
}

/* ---- idle ---- */

static int cmd_idle(char **argv)
{
    size_t count = strtoull(argv[0], NULL, 10), opened = 0, refused = 0, closed = 0;
    long hold = strtol(argv[1], NULL, 10) > 0 ? strtol(argv[1], NULL, 10) : 1;
    int use_tls = strcmp(argv[2], "tls") == 0;
    struct conn *cs = calloc(count, sizeof(*cs));
    struct pollfd *pf = calloc(count, sizeof(*pf));
    time_t end;

    for (size_t i = 0; i < count; i++) {
        int ok = use_tls ? conn_open(&cs[i], 5) == 0 : (cs[i].fd = tcp_open(5)) >= 0;

        if (ok)
            opened++;
        else {
            refused++;
            cs[i].fd = -1;
        }
    }
    end = time(NULL) + hold;
    /* Watch for the server closing them (EOF) while we hold them. */
    while (time(NULL) < end) {
        size_t live = 0;

        for (size_t i = 0; i < count; i++) {
            pf[i].fd = cs[i].fd;
            pf[i].events = POLLIN;
            pf[i].revents = 0;
            live += cs[i].fd >= 0;
        }
        if (live == 0)
            break;
        if (poll(pf, count, 200) > 0)
            for (size_t i = 0; i < count; i++)
                if (cs[i].fd >= 0 && (pf[i].revents & (POLLIN | POLLHUP | POLLERR))) {
                    char tmp[256];
                    ssize_t n = recv(cs[i].fd, tmp, sizeof(tmp), MSG_DONTWAIT);

                    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) ||
                        (pf[i].revents & (POLLHUP | POLLERR))) {
                        closed++;
                        if (cs[i].ssl != NULL)
                            tls.ssl_free(cs[i].ssl);
                        close(cs[i].fd);
                        cs[i].fd = -1;
                        cs[i].ssl = NULL;
                    }
                }
    }
    for (size_t i = 0; i < count; i++)
        if (cs[i].fd >= 0) {
            if (cs[i].ssl != NULL)
                tls.ssl_free(cs[i].ssl);
            close(cs[i].fd);
        }
    printf("idle opened=%zu refused=%zu closed_by_server=%zu\n", opened, refused, closed);
    free(cs);
    free(pf);
    return 0;
}

/* ---- slow bodies ---- */

static int cmd_slow(char **argv)
{
    size_t count = strtoull(argv[0], NULL, 10), closed = 0, answered = 0, opened = 0;
    long secs = strtol(argv[1], NULL, 10);
    const char *tok = argv[2];
    struct conn *cs = calloc(count, sizeof(*cs));
    int *done = calloc(count, sizeof(int));
    char hdr[1024], *resp = malloc(65536);
    time_t end = time(NULL) + secs;
    char statuses[4096] = "";
    size_t sl = 0;

    snprintf(hdr, sizeof(hdr),
             "POST /v1/attest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
             "Content-Type: application/json\r\nContent-Length: 2000\r\n\r\n{",
             tok);
    for (size_t i = 0; i < count; i++) {
        if (conn_open(&cs[i], 2) == 0 && conn_write(&cs[i], hdr, strlen(hdr)) == 0)
            opened++;
        else
            done[i] = 1;
    }
    while (time(NULL) < end) {
        size_t live = 0;

        for (size_t i = 0; i < count; i++) {
            if (done[i])
                continue;
            if (conn_write(&cs[i], " ", 1) != 0) {
                int keep, st = read_response(&cs[i], resp, 65536, &keep);

                done[i] = 1;
                if (st > 0) {
                    answered++;
                    if (sl + 8 < sizeof(statuses))
                        sl += (size_t)snprintf(statuses + sl, sizeof(statuses) - sl, "%d,", st);
                } else
                    closed++;
                continue;
            }
            live++;
        }
        if (live == 0)
            break;
        usleep(200000);
    }
    for (size_t i = 0; i < count; i++)
        if (cs[i].fd >= 0)
            conn_close(&cs[i]);
    printf("slow conns=%zu opened=%zu closed_by_server=%zu answered=%zu statuses=%s\n", count,
           opened, closed, answered, statuses);
    free(cs);
    free(done);
    free(resp);
    return 0;
}

/* ---- slow readers ---- */

static int cmd_slowread(char **argv)
{
    size_t count = strtoull(argv[0], NULL, 10), opened = 0, total = 0, closed = 0;
    const char *path = argv[1], *tok = argv[2];
    size_t rate = strtoull(argv[3], NULL, 10);
    time_t end = time(NULL) + strtol(argv[4], NULL, 10);
    struct conn *cs = calloc(count, sizeof(*cs));
    char *tmp = malloc(rate + 1);
    struct buf req = {0};

    if (cs == NULL || tmp == NULL)
        return 2;
    bprintf(&req, "GET %s HTTP/1.1\r\nHost: x\r\n", path);
    if (strcmp(tok, "-") != 0)
        bprintf(&req, "Authorization: Bearer %s\r\n", tok);
    bprintf(&req, "\r\n");
    g_rcvbuf = 4096;
    for (size_t i = 0; i < count; i++) {
        if (conn_open(&cs[i], 5) == 0 && conn_write(&cs[i], req.p, req.n) == 0)
            opened++;
    }
    printf("slowread opened=%zu\n", opened);
    fflush(stdout);
    while (time(NULL) < end) {
        usleep(250000);
        for (size_t i = 0; i < count && rate > 0; i++) {
            ssize_t n;

            if (cs[i].fd < 0)
                continue;
            /* the TCP stream, under TLS: only the pace matters here */
            n = recv(cs[i].fd, tmp, rate, MSG_DONTWAIT);
            if (n > 0)
                total += (size_t)n;
            else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                closed++;
                tls.ssl_free(cs[i].ssl);
                close(cs[i].fd);
                cs[i].fd = -1;
            }
        }
    }
    for (size_t i = 0; i < count; i++)
        if (cs[i].fd >= 0) {
            if (cs[i].ssl != NULL)
                tls.ssl_free(cs[i].ssl);
            close(cs[i].fd);
        }
    printf("slowread read=%zu closed_by_server=%zu\n", total, closed);
    free(req.p);
    free(tmp);
    free(cs);
    return 0;
}

/* ---- keep-alive load ---- */

static volatile sig_atomic_t stop_load;

static void on_stop(int sig)
{
    (void)sig;
    stop_load = 1;
}

struct load_state {
    const struct ctx_in *in;
    time_t end;
    atomic_size_t requests, s2, s4, s5, other, connfail, reported;
    atomic_size_t codes[600];
};

static void count_status(struct load_state *ls, int st)
{
    atomic_fetch_add(&ls->requests, 1);
    if (st >= 100 && st < 600)
        atomic_fetch_add(&ls->codes[st], 1);
    if (st >= 200 && st < 300)
        atomic_fetch_add(&ls->s2, 1);
    else if (st >= 400 && st < 500)
        atomic_fetch_add(&ls->s4, 1);
    else if (st >= 500 && st < 600)
        atomic_fetch_add(&ls->s5, 1);
    else
        atomic_fetch_add(&ls->other, 1);
}

static void *load_thread(void *arg)
{
    struct load_state *ls = arg;
    char *resp = malloc(65536);
    struct conn c = {-1, NULL};
    uint64_t s = (uint64_t)(uintptr_t)&c ^ (uint64_t)time(NULL);

    while (!stop_load && time(NULL) < ls->end) {
        struct buf req = {0}, b = {0};
        char nonce[64] = "";
        int keep = 0, st;
        const char *p, *q;

        if (c.fd < 0 && conn_open(&c, 10) != 0) {
            atomic_fetch_add(&ls->connfail, 1);
            usleep(50000);
            continue;
        }
        bprintf(&req, "POST /v1/challenge HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                      "Content-Length: 0\r\n\r\n", ls->in->attest);
        if (conn_write(&c, req.p, req.n) != 0 ||
            (st = read_response(&c, resp, 65536, &keep)) == 0) {
            /* the connection went away between requests: not an answer */
            conn_close(&c);
            free(req.p);
            atomic_fetch_add(&ls->connfail, 1);
            continue;
        }
        count_status(ls, st);
        if (st == 201 && (p = strstr(resp, "\"nonce\":\"")) != NULL &&
            (q = strchr(p + 9, '"')) != NULL && q - (p + 9) < 60)
            memcpy(nonce, p + 9, (size_t)(q - (p + 9)));
        if (!keep)
            conn_close(&c);
        req.n = 0;
        if (nonce[0] == '\0' || stop_load) {
            free(req.p);
            continue;
        }
        if (c.fd < 0 && conn_open(&c, 10) != 0) {
            atomic_fetch_add(&ls->connfail, 1);
            free(req.p);
            continue;
        }
        attest_body(&b, &s, ls->in, nonce, NULL);
        bprintf(&req, "POST /v1/attest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                ls->in->attest, b.n);
        bput(&req, b.p, b.n);
        if (conn_write(&c, req.p, req.n) != 0 ||
            (st = read_response(&c, resp, 65536, &keep)) == 0) {
            conn_close(&c);
            atomic_fetch_add(&ls->connfail, 1);
        } else {
            count_status(ls, st);
            if (st >= 400 && atomic_fetch_add(&ls->reported, 1) < 5)
                fprintf(stderr, "load: attest status %d: %.300s\n", st, resp);
            if (!keep)
                conn_close(&c);
        }
        free(req.p);
        free(b.p);
    }
    conn_close(&c);
    free(resp);
    return NULL;
}

static int cmd_load(char **argv)
{
    struct ctx_in in = {argv[2], NULL, argv[3], NULL, 0};
    struct load_state *ls = calloc(1, sizeof(*ls));
    long secs = strtol(argv[0], NULL, 10);
    int threads = (int)strtol(argv[1], NULL, 10);
    pthread_t th[64];
    struct sigaction sa;

    if (threads < 1 || threads > 64 || secs < 1 || secs > 600 || ls == NULL)
        return 2;
    if ((in.evidence = read_file(argv[4], &in.evlen)) == NULL)
        return 2;
    while (in.evlen > 0 && in.evidence[in.evlen - 1] == '\n')
        in.evidence[--in.evlen] = '\0';
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    ls->in = &in;
    ls->end = time(NULL) + secs;
    for (int t = 0; t < threads; t++)
        pthread_create(&th[t], NULL, load_thread, ls);
    for (int t = 0; t < threads; t++)
        pthread_join(th[t], NULL);
    printf("load requests=%zu 2xx=%zu 4xx=%zu 5xx=%zu other=%zu connfail=%zu codes=",
           (size_t)ls->requests, (size_t)ls->s2, (size_t)ls->s4, (size_t)ls->s5,
           (size_t)ls->other, (size_t)ls->connfail);
    for (int i = 100; i < 600; i++)
        if (ls->codes[i] > 0)
            printf("%d:%zu,", i, (size_t)ls->codes[i]);
    printf("\n");
    free(in.evidence);
    free(ls);
    return 0;
}

static int cmd_split(char **argv)
{
    int n = (int)strtol(argv[0], NULL, 10), ok = 0, opened = 0;
    const char *go = argv[1], *kinds = argv[2] != NULL ? argv[2] : "thk";
    static const char head[] = "GET /healthz HTTP/1.1\r\n";
    static const char rest[] = "Host: x\r\nConnection: close\r\n\r\n";
    static const char first[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    struct conn *cs;
    char buf[4096];

    if (n < 1 || n > 64 || (cs = calloc(3 * (size_t)n, sizeof(*cs))) == NULL)
        return 2;
    for (int i = 0; i < 3 * n; i++) {
        int keep = 0;

        cs[i].fd = -1;
        if (strchr(kinds, "thk"[i / n]) == NULL)
            continue;
        opened++;
        if (i < n) {   /* TCP only: the handshake comes after the signal */
            cs[i].fd = tcp_open(20);
            continue;
        }
        if (conn_open(&cs[i], 20) != 0)
            continue;
        if (i >= 2 * n &&   /* keep-alive: one request done, then the next begun */
            (conn_write(&cs[i], first, strlen(first)) != 0 ||
             read_response(&cs[i], buf, sizeof(buf), &keep) != 200 || keep != 1)) {
            conn_close(&cs[i]);
            continue;
        }
        if (conn_write(&cs[i], head, strlen(head)) != 0)
            conn_close(&cs[i]);
    }
    usleep(200000);   /* the server has read what was sent */
    printf("split ready\n");
    fflush(stdout);
    for (int t = 0; t < 3000 && access(go, F_OK) != 0; t++)
        usleep(10000);
    for (int i = 0; i < 3 * n; i++) {
        int keep = 0;

        if (cs[i].fd < 0)
            continue;
        if (i < n) {
            if ((cs[i].ssl = tls.ssl_new(ctx)) == NULL || tls.set_fd(cs[i].ssl, cs[i].fd) != 1 ||
                tls.connect(cs[i].ssl) != 1 || conn_write(&cs[i], head, strlen(head)) != 0) {
                conn_close(&cs[i]);
                continue;
            }
        }
        if (conn_write(&cs[i], rest, strlen(rest)) == 0 &&
            read_response(&cs[i], buf, sizeof(buf), &keep) == 200)
            ok++;
        conn_close(&cs[i]);
    }
    printf("split ok=%d of=%d\n", ok, opened);
    free(cs);
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc < 3) {
        fprintf(stderr, "usage: hostilehttp fuzz|idle|slow|split|slowread|load PORT ... (see the source)\n");
        return 2;
    }
    g_port = (in_port_t)strtoul(argv[2], NULL, 10);
    if (tls_load() != 0)
        return 2;
    if (strcmp(argv[1], "fuzz") == 0 && argc == 8)
        return cmd_fuzz(argv + 3);
    if (strcmp(argv[1], "idle") == 0 && argc == 6)
        return cmd_idle(argv + 3);
    if (strcmp(argv[1], "slow") == 0 && argc == 6)
        return cmd_slow(argv + 3);
    if (strcmp(argv[1], "split") == 0 && (argc == 5 || argc == 6))
        return cmd_split(argv + 3);
    if (strcmp(argv[1], "slowread") == 0 && argc == 8)
        return cmd_slowread(argv + 3);
    if (strcmp(argv[1], "load") == 0 && argc == 8)
        return cmd_load(argv + 3);
    fprintf(stderr, "hostilehttp: bad arguments\n");
    return 2;
}
