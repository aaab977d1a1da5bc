/*
 * notify.c — systemd's readiness protocol (sd_notify(3)), for Type=notify.
 *
 * One datagram of "KEY=VALUE" lines to the AF_UNIX socket named by
 * $NOTIFY_SOCKET (a path, or "@name" in the abstract namespace); nothing
 * at all without it. verifierd says READY=1 once it serves (so that
 * `systemctl start` reports a start that fails, instead of "started"),
 * RELOADING=1 and READY=1 around a SIGHUP reload, STOPPING=1 on a stop, and
 * a STATUS= line that `systemctl status` shows.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vd.h"

void vd_notify(const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    size_t n;
    int fd;

    if (path == NULL || (path[0] != '/' && path[0] != '@') || msg == NULL)
        return;
    n = strlen(path);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (n >= sizeof(sa.sun_path))
        return;
    memcpy(sa.sun_path, path, n);
    if (path[0] == '@')
        sa.sun_path[0] = '\0';   /* the abstract namespace */
    if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
        return;
    if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (const struct sockaddr *)&sa,
               (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) < 0) {
        /* the manager is gone or not listening: nothing to tell */
    }
    close(fd);
}
