/*
 * test_tls_send.c — verifierd's GnuTLS push function that sends an answer's
 * header record together with its body record (verifierd/tls_send.c),
 * over a socketpair: what is held, what passes through, and that the byte
 * stream is exactly the records in order whatever the socket accepts
 * (partial writes, EAGAIN, retries as GnuTLS makes them).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vd.h"

/* The descriptor-level API is used directly (its libmicrohttpd side, which
 * only looks the descriptor up, is left to the integration tests). */

static int sp[2]; /* [0] verifierd's end, [1] the client's */

static void setup(void)
{
    cr_assert_eq(vd_tls_hold_init(65536), 0);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    cr_assert_eq(vd_tls_hold_open(sp[0]), 0);
}

static void teardown(void)
{
    vd_tls_hold_end(sp[0]);
    close(sp[0]);
    close(sp[1]);
}

TestSuite(tls_send, .init = setup, .fini = teardown);

static ssize_t push1(const void *p, size_t n)
{
    struct iovec v = {(void *)p, n};

    return vd_tls_push((void *)(intptr_t)sp[0], &v, 1);
}

/* Everything the client end has now (non-blocking). */
static size_t drain_all(uint8_t *out, size_t cap)
{
    size_t got = 0;

    for (;;) {
        ssize_t n = recv(sp[1], out + got, cap - got, MSG_DONTWAIT);

        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + i * 31);
}

Test(tls_send, not_armed_passes_through)
{
    uint8_t a[300], got[1024];

    fill(a, sizeof(a), 1);
    cr_assert_eq(push1(a, sizeof(a)), (ssize_t)sizeof(a));
    cr_assert_eq(drain_all(got, sizeof(got)), sizeof(a));
    cr_assert_eq(memcmp(got, a, sizeof(a)), 0);
}

Test(tls_send, header_held_then_sent_with_the_body)
{
    uint8_t h[200], b[1500], got[4096];
    struct iovec v[2];

    fill(h, sizeof(h), 2);
    fill(b, sizeof(b), 3);
    vd_tls_hold_arm_fd(sp[0]);
    cr_assert_eq(push1(h, sizeof(h)), (ssize_t)sizeof(h), "GnuTLS is told the header went");
    cr_assert_eq(drain_all(got, sizeof(got)), 0, "but it is held");
    /* the body as two iovecs, as GnuTLS may give it */
    v[0] = (struct iovec){b, 700};
    v[1] = (struct iovec){b + 700, sizeof(b) - 700};
    cr_assert_eq(vd_tls_push((void *)(intptr_t)sp[0], v, 2), (ssize_t)sizeof(b),
                 "the count is the body record's only");
    cr_assert_eq(drain_all(got, sizeof(got)), sizeof(h) + sizeof(b));
    cr_assert_eq(memcmp(got, h, sizeof(h)), 0);
    cr_assert_eq(memcmp(got + sizeof(h), b, sizeof(b)), 0);
    /* disarmed after one answer: the next record passes through */
    cr_assert_eq(push1(h, 10), 10);
    cr_assert_eq(drain_all(got, sizeof(got)), 10);
}

/* GnuTLS may pass up to 31 buffers: all of them go, held bytes first. */
Test(tls_send, many_buffers_behind_a_held_header)
{
    uint8_t h[100], b[40][50], got[4096];
    struct iovec v[40];

    fill(h, sizeof(h), 10);
    for (int i = 0; i < 40; i++) {
        fill(b[i], sizeof(b[i]), (uint8_t)(20 + i));
        v[i] = (struct iovec){b[i], sizeof(b[i])};
    }
    vd_tls_hold_arm_fd(sp[0]);
    cr_assert_eq(push1(h, sizeof(h)), (ssize_t)sizeof(h));
    cr_assert_eq(vd_tls_push((void *)(intptr_t)sp[0], v, 40), (ssize_t)sizeof(b),
                 "every buffer reported sent, not a short count");
    cr_assert_eq(drain_all(got, sizeof(got)), sizeof(h) + sizeof(b));
    cr_assert_eq(memcmp(got, h, sizeof(h)), 0);
    cr_assert_eq(memcmp(got + sizeof(h), b, sizeof(b)), 0);
    /* and unheld, straight through */
    cr_assert_eq(vd_tls_push((void *)(intptr_t)sp[0], v, 40), (ssize_t)sizeof(b));
    cr_assert_eq(drain_all(got, sizeof(got)), sizeof(b));
    cr_assert_eq(memcmp(got, b, sizeof(b)), 0);
}

Test(tls_send, record_above_the_hold_size_is_not_held)
{
    uint8_t big[2000], got[4096];

    fill(big, sizeof(big), 4);
    vd_tls_hold_arm_fd(sp[0]);
    cr_assert_eq(push1(big, sizeof(big)), (ssize_t)sizeof(big));
    cr_assert_eq(drain_all(got, sizeof(got)), sizeof(big));
    cr_assert_eq(push1(big, 5), 5, "and the arm is spent");
    cr_assert_eq(drain_all(got, sizeof(got)), 5);
}

Test(tls_send, flush_sends_a_header_left_without_body)
{
    uint8_t h[150], got[512];

    fill(h, sizeof(h), 5);
    vd_tls_hold_arm_fd(sp[0]);
    cr_assert_eq(push1(h, sizeof(h)), (ssize_t)sizeof(h));
    cr_assert_eq(vd_tls_hold_flush_fd(sp[0]), 0);
    cr_assert_eq(drain_all(got, sizeof(got)), sizeof(h));
    cr_assert_eq(memcmp(got, h, sizeof(h)), 0);
    cr_assert_eq(vd_tls_hold_flush_fd(sp[0]), 0, "nothing left: a no-op");
    cr_assert_eq(drain_all(got, sizeof(got)), 0);
}

Test(tls_send, flush_failure_shuts_the_connection_down)
{
    uint8_t h[150], got[16];

    fill(h, sizeof(h), 6);
    vd_tls_hold_arm_fd(sp[0]);
    cr_assert_eq(push1(h, sizeof(h)), (ssize_t)sizeof(h));
    close(sp[1]); /* the client is gone */
    sp[1] = -1;
    cr_assert_eq(vd_tls_hold_flush_fd(sp[0]), -1);
    cr_assert_eq(recv(sp[0], got, sizeof(got), MSG_DONTWAIT), 0, "shut down for reading too");
    sp[1] = open("/dev/null", O_RDONLY); /* for teardown */
}

Test(tls_send, unknown_descriptor_passes_through)
{
    int other[2];
    uint8_t a[64], got[128];
    struct iovec v = {a, sizeof(a)};

    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, other), 0);
    fill(a, sizeof(a), 7);
    vd_tls_hold_arm_fd(other[0]); /* no hold opened for it: ignored */
    cr_assert_eq(vd_tls_push((void *)(intptr_t)other[0], &v, 1), (ssize_t)sizeof(a));
    cr_assert_eq(recv(other[1], got, sizeof(got), MSG_DONTWAIT), (ssize_t)sizeof(a));
    cr_assert_eq(vd_tls_hold_flush_fd(other[0]), 0);
    close(other[0]);
    close(other[1]);
}

/* A sendmsg that takes at most `budget` bytes (then EAGAIN), recording them. */
static size_t budget;
static uint8_t taken[8192];
static size_t ntaken;

static ssize_t stingy_sendmsg(int fd, const struct msghdr *m, int flags)
{
    size_t n = 0;

    (void)fd;
    (void)flags;
    for (size_t i = 0; i < (size_t)m->msg_iovlen && n < budget; i++) {
        size_t k = m->msg_iov[i].iov_len;

        if (k > budget - n)
            k = budget - n;
        memcpy(taken + ntaken + n, m->msg_iov[i].iov_base, k);
        n += k;
    }
    if (n == 0) {
        errno = EAGAIN;
        return -1;
    }
    ntaken += n;
    budget -= n;
    return (ssize_t)n;
}

/*
 * The socket takes part of the held header only, then the rest of it and
 * nothing of the body, then part of the body: each time GnuTLS must be told
 * "nothing of the body record went" until some of it did, and then exactly
 * how much.
 */
Test(tls_send, partial_write_inside_the_held_header)
{
    uint8_t h[200], b[500];
    ssize_t (*real)(int, const struct msghdr *, int) = vd_tls_sendmsg;

    fill(h, sizeof(h), 8);
    fill(b, sizeof(b), 9);
    vd_tls_sendmsg = stingy_sendmsg;
    ntaken = 0;
    vd_tls_hold_arm_fd(sp[0]);
    cr_assert_eq(push1(h, sizeof(h)), (ssize_t)sizeof(h));
    budget = 50;  /* a quarter of the header */
    cr_assert_eq(push1(b, sizeof(b)), -1);
    cr_assert_eq(errno, EAGAIN);
    budget = 150; /* the rest of the header, none of the body */
    cr_assert_eq(push1(b, sizeof(b)), -1);
    cr_assert_eq(errno, EAGAIN);
    budget = 0;   /* the socket full */
    cr_assert_eq(push1(b, sizeof(b)), -1);
    cr_assert_eq(errno, EAGAIN);
    budget = 120; /* part of the body */
    cr_assert_eq(push1(b, sizeof(b)), 120);
    budget = 1000;
    cr_assert_eq(push1(b + 120, sizeof(b) - 120), (ssize_t)(sizeof(b) - 120));
    vd_tls_sendmsg = real;
    cr_assert_eq(ntaken, sizeof(h) + sizeof(b));
    cr_assert_eq(memcmp(taken, h, sizeof(h)), 0);
    cr_assert_eq(memcmp(taken + sizeof(h), b, sizeof(b)), 0);
}

/*
 * A small, non-blocking socket and a slow reader: answers (an optional
 * held header record, then body records) are pushed the way GnuTLS does —
 * the rest of a record again after a short count, the same record again
 * after EAGAIN — and the client must read exactly the records in order.
 */
Test(tls_send, stream_is_intact_through_partial_writes_and_eagain)
{
    enum { ANSWERS = 600, MAXREC = 3000 };
    size_t cap = (size_t)ANSWERS * 3 * MAXREC, sent = 0, got = 0;
    uint8_t *want = malloc(cap), *seen = malloc(cap), rec[MAXREC];
    int sndbuf = 4096, eagain = 0;
    unsigned seed = 12345;

    cr_assert(want != NULL && seen != NULL);
    cr_assert_eq(setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
    cr_assert_eq(fcntl(sp[0], F_SETFL, fcntl(sp[0], F_GETFL) | O_NONBLOCK), 0);
    for (int a = 0; a < ANSWERS; a++) {
        int held = rand_r(&seed) % 4 != 0; /* most answers: a header held for its body */
        int records = (held ? 2 : 1) + (int)(rand_r(&seed) % 2);

        if (held)
            vd_tls_hold_arm_fd(sp[0]);
        for (int k = 0; k < records; k++) {
            size_t len = k == 0 && held ? 1 + rand_r(&seed) % 1024 : 1 + rand_r(&seed) % MAXREC;
            size_t off = 0;

            fill(rec, len, (uint8_t)rand_r(&seed));
            memcpy(want + sent, rec, len);
            sent += len;
            while (off < len) {
                struct iovec v = {rec + off, len - off};
                ssize_t n = vd_tls_push((void *)(intptr_t)sp[0], &v, 1);

                if (n < 0) {
                    cr_assert_eq(errno, EAGAIN, "errno %d", errno);
                    eagain++;
                } else {
                    cr_assert_gt(n, 0);
                    off += (size_t)n;
                }
                /* the reader takes a little, now and then */
                if (n < 0 || rand_r(&seed) % 3 == 0) {
                    ssize_t r = recv(sp[1], seen + got, 1 + rand_r(&seed) % 3000, MSG_DONTWAIT);

                    if (r > 0)
                        got += (size_t)r;
                }
            }
        }
        /* the completion: a body followed, so nothing is held any more */
        cr_assert_eq(vd_tls_hold_flush_fd(sp[0]), 0);
    }
    /* read the rest */
    for (int idle = 0; got < sent && idle < 1000;) {
        ssize_t r = recv(sp[1], seen + got, sent - got, MSG_DONTWAIT);

        if (r > 0) {
            got += (size_t)r;
            idle = 0;
        } else {
            idle++;
            usleep(1000);
        }
    }
    cr_log_info("%zu bytes in %d answers, %d EAGAIN", sent, ANSWERS, eagain);
    cr_assert_gt(eagain, 50, "the socket must have pushed back (%d)", eagain);
    cr_assert_eq(got, sent, "read %zu of %zu", got, sent);
    cr_assert_eq(memcmp(seen, want, sent), 0, "the stream is the records in order");
    free(want);
    free(seen);
}
