/*
 * nolink.c — an LD_PRELOAD shim for tests: link() and linkat() fail with
 * EPERM, as on a file system without hard links (vfat, some FUSE and
 * network file systems). Used by tests/integration/verifierd_nonce.sh; not
 * part of any product.
 */
#include <errno.h>
#include <unistd.h>

int link(const char *from, const char *to)
{
    (void)from;
    (void)to;
    errno = EPERM;
    return -1;
}

int linkat(int fromfd, const char *from, int tofd, const char *to, int flags)
{
    (void)fromfd;
    (void)from;
    (void)tofd;
    (void)to;
    (void)flags;
    errno = EPERM;
    return -1;
}
