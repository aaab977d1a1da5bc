/*
 * fileio.c — writing secrets to disk: the key files of jwk.c and nonce.c.
 *
 * A secret is written to a temporary file created 0600 next to its
 * destination, flushed with fsync and renamed over it, so a reader never
 * sees a half-written key and a crash leaves the old file or the new one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

vfy_rc vfy_write_private_file(const char *path, const void *data, size_t len)
{
    size_t plen;
    char *tmp;
    int fd = -1, created = 0;
    vfy_rc rc = VFY_E_IO;

    if (path == NULL || (data == NULL && len != 0))
        return VFY_E_INVALID_ARG;
    plen = strlen(path);
    if ((tmp = malloc(plen + sizeof(".XXXXXX"))) == NULL)
        return VFY_E_NOMEM;
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".XXXXXX", sizeof(".XXXXXX"));
    fd = mkstemp(tmp); /* creates the file 0600 */
    if (fd < 0)
        goto out;
    created = 1;
    if (fchmod(fd, S_IRUSR | S_IWUSR) != 0 || write(fd, data, len) != (ssize_t)len ||
        fsync(fd) != 0)
        goto out;
    if (close(fd) != 0) {
        fd = -1;
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto out;
    rc = VFY_OK;
out:
    if (fd >= 0)
        close(fd);
    if (rc != VFY_OK && created)
        unlink(tmp);
    free(tmp);
    return rc;
}
