/*
 * accept.c — verifierd accepts its connections itself.
 *
 * libmicrohttpd's thread pool lets every worker thread accept from the
 * listening socket, and whichever wakes first takes up to ten connections
 * in a row. Relying parties keep their TLS connections open for hours, so
 * a burst of connections landing on one worker stays there: measured with
 * 16 keep-alive clients, one worker held all 16 in one run of four (the
 * other idled while its core had work) and 10/6 splits in the others.
 *
 * So the daemons run without a listening socket of their own
 * (MHD_USE_NO_LISTEN_SOCKET) and this thread accepts and hands each
 * connection to the current daemon with MHD_add_connection(), which gives
 * it to the worker its descriptor number selects (descriptor modulo the
 * number of workers, the next worker if that one is full). Descriptors are
 * handed out lowest first, so a burst alternates between the workers, and
 * a closed connection's descriptor — the lowest free one — goes to the
 * next connection of the worker that lost it.
 *
 * --max-connections is enforced here: like libmicrohttpd's own accept,
 * this thread stops accepting while that many connections are open (or on
 * their way into a worker), so that the next ones wait in the kernel's
 * backlog instead of being accepted and closed. The daemon's own limit is
 * set so high that no worker reaches it (libmicrohttpd 0.9.75 leaves
 * connections handed to a worker at its limit neither served nor closed).
 * --max-connections-per-ip is enforced here too, over the connections of
 * every daemon generation: libmicrohttpd counts them per daemon, so while
 * a SIGHUP reload drains the old generation, an address could hold its
 * limit there and its limit again in the new one. (The daemon keeps its
 * own limit as well, which can only be the lower count.)
 */
#define _GNU_SOURCE   /* accept4 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vd.h"

#define ACCEPT_SERIES 16      /* connections taken per wake-up before looking again */
#define ACCEPT_FULL_MS 20     /* at --max-connections: look again after this */
#define ACCEPT_PAUSE_MS 100   /* out of descriptors or memory: pause, then retry */

static pthread_mutex_t acc_mu = PTHREAD_MUTEX_INITIALIZER;
static struct MHD_Daemon *acc_daemon;   /* under acc_mu */
static pthread_t acc_thread;
static int acc_running;
static int acc_listen = -1;
static int acc_wake = -1;               /* eventfd: stop */
static unsigned acc_max;
static unsigned acc_per_ip;             /* 0: no per-address limit */

/* Connections handed to a daemon that its worker has not started yet
 * (under acc_mu). A worker starts them as soon as it is back in its event
 * loop; one the daemon drops before starting it (out of memory) is
 * forgotten when its descriptor comes back from accept4 — the lowest free
 * one, so soon under traffic — or after PENDING_MS, long enough that a
 * worker stalled for seconds does not let --max-connections be passed.
 *
 * Readers that also count started connections (tracked in server.c) read
 * the pending ones first: a worker tracks a connection before it removes
 * it from here, so read in this order it is counted at least once. */
#define PENDING_MAX 4096
#define PENDING_MS 10000
static struct pending {
    int fd;
    const struct MHD_Daemon *d;
    uint8_t ip[17];   /* vd_peer_ip */
    struct timespec at;
} acc_pending[PENDING_MAX];
static unsigned acc_npending;

static void pending_del(int fd)
{
    for (unsigned i = 0; i < acc_npending; i++)
        if (acc_pending[i].fd == fd) {
            acc_pending[i] = acc_pending[--acc_npending];
            return;
        }
}

/* Forget the stale entries and, with @d, those handed to @d. Returns how
 * many are left. */
static unsigned pending_sweep(const struct MHD_Daemon *d)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    for (unsigned i = 0; i < acc_npending;) {
        const struct timespec *t = &acc_pending[i].at;
        long ms = (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;

        if (ms > PENDING_MS || (d != NULL && acc_pending[i].d == d))
            acc_pending[i] = acc_pending[--acc_npending];
        else
            i++;
    }
    return acc_npending;
}

void vd_accept_started(int fd)
{
    pthread_mutex_lock(&acc_mu);
    pending_del(fd);
    pthread_mutex_unlock(&acc_mu);
}

unsigned vd_accept_pending(const struct MHD_Daemon *d)
{
    unsigned n = 0;

    pthread_mutex_lock(&acc_mu);
    pending_sweep(NULL);
    for (unsigned i = 0; i < acc_npending; i++)
        if (acc_pending[i].d == d)
            n++;
    pthread_mutex_unlock(&acc_mu);
    return n;
}

void vd_accept_forget(const struct MHD_Daemon *d)
{
    pthread_mutex_lock(&acc_mu);
    pending_sweep(d);
    pthread_mutex_unlock(&acc_mu);
}

int vd_peer_ip(const struct sockaddr *sa, uint8_t ip[17])
{
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    memset(ip, 0, 17);
    if (sa->sa_family == AF_INET) {
        ip[0] = 4;
        memcpy(ip + 1, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const uint8_t *a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;

        if (memcmp(a, v4mapped, sizeof(v4mapped)) == 0) {
            ip[0] = 4;
            memcpy(ip + 1, a + 12, 4);
        } else {
            ip[0] = 6;
            memcpy(ip + 1, a, 16);
        }
        return 0;
    }
    return -1;
}

/* 1 if a connection from @ip would pass --max-connections-per-ip: those
 * open in any generation and those on their way into one. acc_mu is held
 * across both reads (server.c's track_mu inside it, never the other way
 * round), so a connection cannot leave this list unseen; one a worker has
 * started but not yet taken off it is in both, and counted once. */
static int ip_at_limit(const uint8_t ip[17])
{
    static int fds[PENDING_MAX];   /* the accept thread's own */
    unsigned n = 0, open;

    if (acc_per_ip == 0 || ip[0] == 0)
        return 0;
    pthread_mutex_lock(&acc_mu);
    pending_sweep(NULL);
    for (unsigned i = 0; i < acc_npending; i++)
        if (memcmp(acc_pending[i].ip, ip, 17) == 0)
            fds[n++] = acc_pending[i].fd;
    open = vd_conn_from(ip, fds, n);
    pthread_mutex_unlock(&acc_mu);
    return open >= acc_per_ip;
}

/* 1 if another connection would pass --max-connections. */
static int at_limit(void)
{
    unsigned open, pend;

    pthread_mutex_lock(&acc_mu);   /* first: see the comment on acc_pending */
    pend = pending_sweep(NULL);
    pthread_mutex_unlock(&acc_mu);
    open = vd_conn_open();
    return pend >= PENDING_MAX || open + pend >= acc_max;
}

/* Wait up to @ms for the stop signal or, with @listen, a connection. 1 if
 * stopping. */
static int acc_wait(int listen, int ms)
{
    struct pollfd p[2] = {{.fd = acc_wake, .events = POLLIN}, {.fd = acc_listen, .events = POLLIN}};

    if (poll(p, listen ? 2 : 1, ms) < 0 && errno != EINTR)
        return 0;
    return (p[0].revents & POLLIN) != 0;
}

static void *acc_main(void *arg)
{
    time_t last_warn = 0;

    (void)arg;
    for (;;) {
        if (at_limit()) {
            if (acc_wait(0, ACCEPT_FULL_MS))
                break;
            continue;
        }
        if (acc_wait(1, -1))
            break;
        for (int i = 0; i < ACCEPT_SERIES && (i == 0 || !at_limit()); i++) {
            struct sockaddr_storage ss;
            socklen_t sl = sizeof(ss);
            int fd = accept4(acc_listen, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
            uint8_t ip[17];

            if (fd < 0) {
                if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                    time_t now = time(NULL);

                    if (now != last_warn)
                        vd_log("warn", "accept: %s; pausing %d ms", strerror(errno),
                               ACCEPT_PAUSE_MS);
                    last_warn = now;
                    if (acc_wait(0, ACCEPT_PAUSE_MS))
                        return NULL;
                }
                break;   /* EAGAIN, or a connection that failed on its way in */
            }
            if (vd_peer_ip((const struct sockaddr *)&ss, ip) != 0)
                memset(ip, 0, sizeof(ip));
            if (ip_at_limit(ip)) {
                close(fd);
                vd_log("debug", "connection closed at once: over --max-connections-per-ip");
                continue;
            }
            pthread_mutex_lock(&acc_mu);
            /* Pending before the worker can start it; MHD_add_connection()
             * closes @fd itself when over its own limits. */
            pending_del(fd);
            acc_pending[acc_npending].fd = fd;
            acc_pending[acc_npending].d = acc_daemon;
            memcpy(acc_pending[acc_npending].ip, ip, sizeof(ip));
            clock_gettime(CLOCK_MONOTONIC, &acc_pending[acc_npending++].at);
            if (MHD_add_connection(acc_daemon, fd, (struct sockaddr *)&ss, sl) != MHD_YES) {
                int e = errno;

                pending_del(fd);
                vd_log("debug", "connection closed at once: %s",
                       e == ENFILE ? "over a connection limit (--max-connections-per-ip)"
                                   : strerror(e));
            }
            pthread_mutex_unlock(&acc_mu);
        }
    }
    return NULL;
}

int vd_accept_start(int listen_fd, struct MHD_Daemon *d, unsigned max_connections,
                    unsigned max_per_ip)
{
    int fl = fcntl(listen_fd, F_GETFL);

    if (fl < 0 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) != 0)
        return -1;
    if ((acc_wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
        return -1;
    acc_listen = listen_fd;
    acc_daemon = d;
    acc_max = max_connections;
    acc_per_ip = max_per_ip;
    if (pthread_create(&acc_thread, NULL, acc_main, NULL) != 0) {
        close(acc_wake);
        acc_wake = -1;
        return -1;
    }
    acc_running = 1;
    return 0;
}

void vd_accept_set_daemon(struct MHD_Daemon *d)
{
    pthread_mutex_lock(&acc_mu);
    acc_daemon = d;
    pthread_mutex_unlock(&acc_mu);
}

void vd_accept_stop(void)
{
    uint64_t one = 1;

    if (!acc_running)
        return;
    if (write(acc_wake, &one, sizeof(one)) != (ssize_t)sizeof(one))
        vd_log("error", "cannot wake the accept thread");
    pthread_join(acc_thread, NULL);
    close(acc_wake);
    acc_wake = -1;
    acc_running = 0;
}
