/*
 * tls_send.c — an answer's header and body leave in one sendmsg().
 *
 * libmicrohttpd 0.9.75 hands a response's header and body to
 * gnutls_record_send() separately, and GnuTLS writes each record with its
 * own sendmsg(): two system calls per answer, and for an answer of 1,400
 * bytes or more (an EAR) two pushes onto the network, the header alone
 * first (libmicrohttpd pushes it with a TCP_NODELAY setsockopt() so that a
 * client may start on the header — nothing a verifier's client does).
 *
 * verifierd installs its own GnuTLS push function on each connection. When
 * vd_tls_hold_arm() was called for an answer that has a body, the next
 * record — the header's — is kept back (copied, up to HOLD_MAX bytes) and
 * written together with the next one — the body's — in one sendmsg(). The
 * records, their order and their content are GnuTLS's own; only the
 * grouping into system calls changes. Partial writes and EAGAIN behave as
 * before: held bytes go out first, and a push reports as sent only bytes
 * of the record it was given, so GnuTLS and libmicrohttpd retry the rest
 * as they would. A header held with no body after it (not expected: arm
 * is only called for answers with a body) is written by vd_tls_hold_flush()
 * from the completion callback, and the connection shut down if that fails.
 *
 * State is per descriptor, touched only by the worker thread that owns the
 * connection (start, pushes, completion and close all run there).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <gnutls/gnutls.h>

#include "vd.h"

#define HOLD_MAX 1024   /* a header record: ~200 bytes */
#define IOV_MAX_PUSH 64  /* GnuTLS 3.7 queues at most 31 buffers per push */

struct tls_hold {
    int armed;
    size_t len;
    unsigned char buf[HOLD_MAX];
};

static struct tls_hold **holds;
static size_t nholds;

ssize_t (*vd_tls_sendmsg)(int, const struct msghdr *, int) = sendmsg;

int vd_tls_hold_init(size_t nfds)
{
    if (holds != NULL)
        return 0;
    if (nfds == 0 || (holds = calloc(nfds, sizeof(*holds))) == NULL)
        return -1;
    nholds = nfds;
    return 0;
}

static struct tls_hold *hold_of(int fd)
{
    return holds != NULL && fd >= 0 && (size_t)fd < nholds ? holds[fd] : NULL;
}

ssize_t vd_tls_push(gnutls_transport_ptr_t ptr, const giovec_t *iov, int iovcnt)
{
    int fd = (int)(intptr_t)ptr;
    struct tls_hold *h = hold_of(fd);
    struct iovec v[IOV_MAX_PUSH + 1];
    struct msghdr msg;
    size_t total = 0, nv = 0;
    ssize_t n;

    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    if (h != NULL && h->armed && h->len == 0 && total > 0 && total <= HOLD_MAX) {
        /* The header's record: keep it for the body's. */
        h->armed = 0;
        for (int i = 0; i < iovcnt; i++) {
            memcpy(h->buf + h->len, iov[i].iov_base, iov[i].iov_len);
            h->len += iov[i].iov_len;
        }
        return (ssize_t)total;
    }
    if (h != NULL)
        h->armed = 0;
    memset(&msg, 0, sizeof(msg));
    if (h == NULL || h->len == 0) {
        /* Nothing held: GnuTLS's buffers as they are (as its own push does). */
        msg.msg_iov = (struct iovec *)iov;
        msg.msg_iovlen = (size_t)iovcnt;
    } else {
        /* Held bytes first. A short count for more buffers than fit would be
         * safe for GnuTLS but an EAGAIN the socket did not cause, and
         * libmicrohttpd would then wait for an EPOLLOUT that never comes:
         * IOV_MAX_PUSH is twice what GnuTLS ever passes. */
        v[nv].iov_base = h->buf;
        v[nv++].iov_len = h->len;
        for (int i = 0; i < iovcnt && nv < IOV_MAX_PUSH + 1; i++) {
            v[nv].iov_base = iov[i].iov_base;
            v[nv++].iov_len = iov[i].iov_len;
        }
        msg.msg_iov = v;
        msg.msg_iovlen = nv;
    }
    n = vd_tls_sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n < 0 || h == NULL || h->len == 0)
        return n;   /* errno as GnuTLS's own push leaves it */
    if ((size_t)n < h->len) {
        /* Only part of the held record left: keep the rest, and tell
         * GnuTLS that nothing of this record went (it will push it again). */
        memmove(h->buf, h->buf + n, h->len - (size_t)n);
        h->len -= (size_t)n;
        errno = EAGAIN;
        return -1;
    }
    n -= (ssize_t)h->len;
    h->len = 0;
    if (n == 0) {
        errno = EAGAIN;
        return -1;
    }
    return n;
}

int vd_tls_hold_open(int fd)
{
    if (holds == NULL || fd < 0 || (size_t)fd >= nholds)
        return -1;
    free(holds[fd]);
    holds[fd] = calloc(1, sizeof(*holds[fd]));
    return holds[fd] != NULL ? 0 : -1;
}

void vd_tls_hold_end(int fd)
{
    if (holds != NULL && fd >= 0 && (size_t)fd < nholds) {
        free(holds[fd]);
        holds[fd] = NULL;
    }
}

void vd_tls_hold_arm_fd(int fd)
{
    struct tls_hold *h = hold_of(fd);

    if (h != NULL && h->len == 0)
        h->armed = 1;
}

int vd_tls_hold_flush_fd(int fd)
{
    struct tls_hold *h = hold_of(fd);
    int ret = 0;

    if (h == NULL)
        return 0;
    h->armed = 0;
    if (h->len == 0)
        return 0;
    /* Only after an abnormal end (timeout, error, stop) with the body unsent:
     * libmicrohttpd closes the connection next, which pushes the bytes out
     * (no TCP_NODELAY here: it would change the socket under libmicrohttpd's
     * cached notion of it). */
    if (send(fd, h->buf, h->len, MSG_NOSIGNAL) != (ssize_t)h->len) {
        shutdown(fd, SHUT_RDWR);   /* a record lost or cut: the stream is unusable */
        ret = -1;
    }
    h->len = 0;
    return ret;
}

/* ---- the libmicrohttpd side ---- */

static int conn_fd(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *fi =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);

    return fi != NULL ? fi->connect_fd : -1;
}

void vd_tls_hold_start(struct MHD_Connection *c, int fd)
{
    const union MHD_ConnectionInfo *si =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);

    if (si == NULL || si->tls_session == NULL || vd_tls_hold_open(fd) != 0)
        return;   /* GnuTLS's own push stays: one sendmsg per record */
    gnutls_transport_set_vec_push_function((gnutls_session_t)si->tls_session, vd_tls_push);
}

void vd_tls_hold_arm(struct MHD_Connection *c)
{
    vd_tls_hold_arm_fd(conn_fd(c));
}

int vd_tls_hold_flush(struct MHD_Connection *c)
{
    return vd_tls_hold_flush_fd(conn_fd(c));
}
