/*
 * frame.c — the agent protocol's framing (docs/agent-protocol.md): a type
 * byte, a 4-byte big-endian length, the payload. Blocking I/O, except that
 * frame_read_within() and frame_handshake() switch the socket to
 * non-blocking for the call to hold a deadline; the callers poll() before
 * reading when they must not block, and frame_data_ready() tells a frame
 * from TLS housekeeping on the socket.
 */
#include "frame.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>

size_t frame_max_payload(uint8_t type)
{
    switch (type) {
    case FRAME_ATTEST_REQUEST: return FRAME_NONCE_LEN;
    case FRAME_EVIDENCE: return FRAME_EVIDENCE_MAX;
    case FRAME_POSTURE_CHANGED: return FRAME_NOTICE_MAX;
    case FRAME_APP_REQUEST:
    case FRAME_APP_RESPONSE: return FRAME_APP_MAX;
    case FRAME_ERROR: return FRAME_ERROR_MAX;
    default: return 0;
    }
}

const char *frame_type_name(uint8_t type)
{
    switch (type) {
    case FRAME_ATTEST_REQUEST: return "attest-request";
    case FRAME_EVIDENCE: return "evidence";
    case FRAME_POSTURE_CHANGED: return "posture-changed";
    case FRAME_APP_REQUEST: return "app-request";
    case FRAME_APP_RESPONSE: return "app-response";
    case FRAME_ERROR: return "error";
    default: return "unknown";
    }
}

static int write_all(SSL *ssl, const uint8_t *p, size_t len)
{
    while (len > 0) {
        size_t n = 0;
        if (SSL_write_ex(ssl, p, len, &n) != 1)
            return -1;
        p += n;
        len -= n;
    }
    return 0;
}

/* Header and payload of one frame at @out (FRAME_HDR_LEN + len bytes). */
static void frame_put(uint8_t *out, uint8_t type, const void *payload, size_t len)
{
    out[0] = type;
    out[1] = (uint8_t)(len >> 24);
    out[2] = (uint8_t)(len >> 16);
    out[3] = (uint8_t)(len >> 8);
    out[4] = (uint8_t)len;
    if (len > 0)
        memcpy(out + FRAME_HDR_LEN, payload, len);
}

int frame_write_pair(SSL *ssl, uint8_t t1, const void *p1, size_t l1, uint8_t t2,
                     const void *p2, size_t l2)
{
    size_t n1 = FRAME_HDR_LEN + l1, n2 = t2 != 0 ? FRAME_HDR_LEN + l2 : 0;
    uint8_t *buf;
    int rc;

    if (l1 > frame_max_payload(t1) || (l1 > 0 && p1 == NULL) ||
        (t2 != 0 && (l2 > frame_max_payload(t2) || (l2 > 0 && p2 == NULL))))
        return -1;
    buf = malloc(n1 + n2);
    if (buf == NULL)
        return -1;
    frame_put(buf, t1, p1, l1);
    if (t2 != 0)
        frame_put(buf + n1, t2, p2, l2);
    rc = write_all(ssl, buf, n1 + n2);
    free(buf);
    return rc;
}

int frame_write(SSL *ssl, uint8_t type, const void *payload, size_t len)
{
    return frame_write_pair(ssl, type, payload, len, 0, NULL, 0);
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A frame being read: its SSL and socket, and its deadline (CLOCK_MONOTONIC
 * ms; -1: none, the socket blocks). */
struct reader {
    SSL *ssl;
    int fd;
    int64_t deadline;
};

/* Wait for @fd to be readable (or writable, @out) until @deadline: 0, or
 * FRAME_TIMEOUT / FRAME_IO. A hang-up counts as ready: the next SSL call
 * reports it. */
static int wait_fd(int fd, int out, int64_t deadline)
{
    for (;;) {
        struct pollfd pf = {fd, out ? POLLOUT : POLLIN, 0};
        int64_t left = deadline - mono_ms();
        int n;

        if (left <= 0)
            return FRAME_TIMEOUT;
        n = poll(&pf, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 ? FRAME_IO : n == 0 ? FRAME_TIMEOUT : 0;
    }
}

/* 0 on success, FRAME_EOF / FRAME_IO / FRAME_TIMEOUT otherwise. */
static int read_all(struct reader *r, uint8_t *p, size_t len)
{
    while (len > 0) {
        size_t n = 0;
        if (SSL_read_ex(r->ssl, p, len, &n) != 1) {
            int err = SSL_get_error(r->ssl, 0), w;

            if (r->deadline < 0 || (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE))
                return err == SSL_ERROR_ZERO_RETURN || err == SSL_ERROR_SYSCALL ? FRAME_EOF
                                                                                : FRAME_IO;
            if ((w = wait_fd(r->fd, err == SSL_ERROR_WANT_WRITE, r->deadline)) != 0)
                return w;
            continue;
        }
        p += n;
        len -= n;
    }
    return 0;
}

const char *frame_tls_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *why = e != 0 ? ERR_reason_error_string(e) : NULL;

    ERR_clear_error();
    return why != NULL ? why : "no TLS detail";
}

int frame_data_ready(SSL *ssl, int fd)
{
    int flags = fcntl(fd, F_GETFL), ok, err;
    uint8_t b;
    size_t n = 0;

    if (SSL_pending(ssl) > 0)
        return 1;
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
        return 1;   /* cannot peek without blocking: read as before */
    ok = SSL_peek_ex(ssl, &b, 1, &n);
    err = ok == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl, 0);
    (void)fcntl(fd, F_SETFL, flags);
    if (ok == 1 && n > 0)
        return 1;
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        ERR_clear_error();
        return 0;
    }
    return -1;
}

/* 1 if @from sends frames of @type (docs/agent-protocol.md §2). */
static int sent_by(enum frame_peer from, uint8_t type)
{
    switch (type) {
    case FRAME_ATTEST_REQUEST:
    case FRAME_APP_REQUEST: return from == FRAME_FROM_RP;
    case FRAME_EVIDENCE:
    case FRAME_POSTURE_CHANGED:
    case FRAME_APP_RESPONSE:
    case FRAME_ERROR: return from == FRAME_FROM_AGENT;
    default: return 0;
    }
}

static int read_frame(struct reader *r, enum frame_peer from, uint8_t *type, uint8_t **payload,
                      size_t *len)
{
    uint8_t hdr[FRAME_HDR_LEN];
    size_t n, max;
    uint8_t *buf;
    int rc;

    *payload = NULL;
    *len = 0;
    ERR_clear_error();   /* a failure below is then reported with its own reason */
    rc = read_all(r, hdr, sizeof(hdr));
    if (rc != 0)
        return rc;
    *type = hdr[0];
    n = ((size_t)hdr[1] << 24) | ((size_t)hdr[2] << 16) | ((size_t)hdr[3] << 8) | hdr[4];
    max = sent_by(from, hdr[0]) ? frame_max_payload(hdr[0]) : 0;
    if (max == 0) {
        /* Unknown type, or one this peer does not send: skip a bounded
         * payload so the stream stays in sync. */
        uint8_t skip[256];
        if (n > FRAME_APP_MAX)
            return FRAME_TOO_LARGE;
        while (n > 0) {
            size_t k = n < sizeof(skip) ? n : sizeof(skip);
            rc = read_all(r, skip, k);
            if (rc != 0)
                return rc;
            n -= k;
        }
        return FRAME_UNKNOWN;
    }
    if (n > max)
        return FRAME_TOO_LARGE;
    buf = malloc(n + 1);
    if (buf == NULL)
        return FRAME_NOMEM;
    rc = read_all(r, buf, n);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    buf[n] = 0;
    *payload = buf;
    *len = n;
    return FRAME_OK;
}

int frame_read(SSL *ssl, enum frame_peer from, uint8_t *type, uint8_t **payload, size_t *len)
{
    struct reader r = {ssl, -1, -1};

    return read_frame(&r, from, type, payload, len);
}

/* @fd non-blocking: its flags before, or -1 (left blocking) if they cannot be set. */
static int nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);

    return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 ? flags : -1;
}

int frame_read_within(SSL *ssl, int fd, enum frame_peer from, int timeout_ms, uint8_t *type,
                      uint8_t **payload, size_t *len)
{
    struct reader r = {ssl, fd, -1};
    int flags = timeout_ms >= 0 ? nonblocking(fd) : -1, rc;

    if (flags >= 0)
        r.deadline = mono_ms() + timeout_ms;
    else if (timeout_ms >= 0) {
        *payload = NULL;
        *len = 0;
        return FRAME_IO;   /* no deadline could be held: not read at all */
    }
    rc = read_frame(&r, from, type, payload, len);
    if (flags >= 0)
        (void)fcntl(fd, F_SETFL, flags);
    return rc;
}

int frame_handshake(SSL *ssl, int fd, int timeout_ms)
{
    int flags = nonblocking(fd), r = 0, hup = 0;
    int64_t deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);

    ERR_clear_error();   /* a failure is then reported with its own reason */
    if (flags < 0) {
        ERR_raise_data(ERR_LIB_SYS, errno, "fcntl(O_NONBLOCK)");
        return 0;
    }
    for (;;) {
        int hs = SSL_do_handshake(ssl), err;
        struct pollfd pf = {fd, 0, 0};
        int64_t left;

        if (hs == 1) {
            r = 1;
            break;
        }
        err = SSL_get_error(ssl, hs);
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
            /* after a hang-up: a plain end of the connection is FRAME_EOF;
             * an alert the peer sent before it keeps its reason (r = 0) */
            if (hup && (err == SSL_ERROR_SYSCALL || err == SSL_ERROR_ZERO_RETURN))
                r = FRAME_EOF;
            break;
        }
        if (hup) {   /* hung up, and nothing more to read: gone */
            r = FRAME_EOF;
            break;
        }
        pf.events = err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        left = deadline - mono_ms();
        if (left <= 0 || (hs = poll(&pf, 1, left > INT_MAX ? INT_MAX : (int)left)) == 0) {
            r = FRAME_TIMEOUT;
            break;
        }
        if (hs < 0 && errno == EINTR)
            continue;
        if (hs < 0) {
            r = FRAME_EOF;
            break;
        }
        /* shut down (a handshake cut to make room), or gone: read what came
         * with it once more (an alert names the failure) */
        hup = (pf.revents & (POLLHUP | POLLERR)) != 0;
    }
    if (r != 0)
        ERR_clear_error();
    (void)fcntl(fd, F_SETFL, flags);   /* blocking again */
    return r;
}

const char *frame_printable(const void *in, size_t len, char *out, size_t cap)
{
    const unsigned char *p = in;
    size_t n = len < cap - 1 ? len : cap - 1;

    for (size_t i = 0; i < n; i++)
        out[i] = p[i] < 0x20 || p[i] > 0x7e ? '?' : (char)p[i];
    out[n] = '\0';
    return out;
}
