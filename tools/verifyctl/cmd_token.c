/*
 * cmd_token.c — `verifyctl token add|revoke`: API tokens for verifierd.
 * `token add` prints the new token once, alone on stdout; only its SHA-256
 * is stored.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "verifyctl.h"

static const char usage[] =
    "usage: verifyctl --db PATH token add NAME --role (attest|admin) [--expires-days N]\n"
    "                 [--token-file FILE]\n"
    "       verifyctl --db PATH token revoke NAME\n";

static const char add_usage[] =
    "usage: verifyctl --db PATH token add NAME --role (attest|admin) [--expires-days N]\n"
    "                 [--token-file FILE]\n"
    "\n"
    "Create an API token: role attest for relying parties, admin for\n"
    "/v1/admin. The token is printed once, alone on stdout; only its SHA-256\n"
    "is stored, so it cannot be shown again. With --expires-days N (1..3650)\n"
    "verifierd refuses it (401 \"token expired\") N days from now; without,\n"
    "it is valid until revoked.\n"
    "--token-file FILE stores the token in FILE instead of making one: a token\n"
    "another database's token add printed (\"vfy_\" and 43 base64url\n"
    "characters, one newline after it allowed), so that replicas with their\n"
    "own databases accept the same token. Nothing is printed but a\n"
    "confirmation; revoke it on every replica.\n";

static const char revoke_usage[] =
    "usage: verifyctl --db PATH token revoke NAME\n"
    "\n"
    "Revoke token NAME: verifierd no longer accepts it. A token revoked\n"
    "already is left as it is (\"already revoked, unchanged\").\n";

/* token add --token-file: store the token in @file as @name. */
/* The token in @path into @buf (@cap bytes: a token and its newline, with
 * room to notice more), read without stdio's buffer, which would keep a
 * copy nobody wipes. 0, or an exit status (the message printed). */
static int read_token_file(const char *path, char *buf, size_t cap, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t n = 0;
    ssize_t got = 0;

    if (fd < 0)
        return vc_fail(VC_EXIT_FAIL, "token add", "%s: %s", path, strerror(errno));
    while (n < cap && ((got = read(fd, buf + n, cap - n)) > 0 || (got < 0 && errno == EINTR)))
        n += got > 0 ? (size_t)got : 0;
    close(fd);
    if (got < 0) {
        OPENSSL_cleanse(buf, cap);
        return vc_fail(VC_EXIT_FAIL, "token add", "%s: %s", path, strerror(errno));
    }
    *len = n;
    return 0;
}

static int token_add_given(const vc_ctx *c, const char *name, vfy_token_role role,
                           int64_t expires_at, const char *file)
{
    char buf[VFY_STORE_TOKEN_BUF + 8];
    size_t len = 0;
    vfy_store *st = NULL;
    vfy_rc rc;
    int r = read_token_file(file, buf, sizeof(buf), &len);

    if (r != 0)
        return r;
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    /* a file longer than any token is no token file: the library says what
     * a token must be (its length is what a made token has) */
    if ((r = vc_open(c, "token add", 0, &st)) == 0) {
        rc = vfy_store_token_add_given(st, name, role, expires_at, buf, len);
        if (rc != VFY_OK)
            r = vc_fail_rc("token add", st, rc);
        else
            printf("token %s: added (%s, the token in %s)\n", name, vfy_token_role_name(role),
                   file);
        vfy_store_close(&st);
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    return r;
}

static int token_add(const vc_ctx *c, int argc, char **argv)
{
    const char *role_s = NULL, *days_s = NULL, *file = NULL;
    const vc_opt opts[] = {{"role", 1, &role_s, NULL},
                           {"expires-days", 1, &days_s, NULL},
                           {"token-file", 1, &file, NULL},
                           {NULL, 0, NULL, NULL}};
    unsigned long long days = 0;
    int64_t expires_at = 0;
    const char *pos[1];
    char token[VFY_STORE_TOKEN_BUF];
    vfy_token_role role;
    size_t np;
    vfy_store *st = NULL;
    vfy_rc rc;
    int r = vc_parse("token add", add_usage, argc, argv, opts, pos, 1, 1, &np);

    if (r != 0)
        return VC_STOP(r);
    if (role_s == NULL)
        return vc_fail(VC_EXIT_USAGE, "token add", "--role (attest|admin) is required");
    if (vfy_token_role_parse(&role, role_s) != VFY_OK)
        return vc_fail(VC_EXIT_USAGE, "token add", "unknown role \"%s\" (expected attest or "
                       "admin)", role_s);
    if (days_s != NULL) {
        if (vc_parse_uint(days_s, 3650, &days) != 0 || days == 0)
            return vc_fail(VC_EXIT_USAGE, "token add",
                           "--expires-days must be a whole number of days, 1..3650");
        expires_at = (int64_t)time(NULL) + (int64_t)days * 86400;
    }
    if (file != NULL)
        return token_add_given(c, pos[0], role, expires_at, file);
    if ((r = vc_open(c, "token add", 0, &st)) != 0)
        return r;
    /* The token is committed only once it has been written out: a token
     * nobody saw must not exist (nor use up its name). */
    if ((rc = vfy_store_begin(st)) == VFY_OK) {
        rc = vfy_store_token_add_expiring(st, pos[0], role, expires_at, token);
        if (rc == VFY_OK) {
            printf("%s\n", token);
            if (fflush(stdout) != 0 || ferror(stdout))
                r = vc_fail(VC_EXIT_FAIL, "token add",
                            "cannot write the token to stdout; it was not created");
        }
        rc = vfy_store_end(st, rc != VFY_OK ? rc : r != 0 ? VFY_E_IO : VFY_OK);
    }
    if (rc != VFY_OK && r == 0)
        r = vc_fail_rc("token add", st, rc);
    OPENSSL_cleanse(token, sizeof(token));
    vfy_store_close(&st);
    return r;
}

static int token_revoke(const vc_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    size_t np, nrev = 0;
    vfy_store *st = NULL;
    vfy_rc rc;
    int r = vc_parse("token revoke", revoke_usage, argc, argv, NULL, pos, 1, 1, &np);

    if (r != 0)
        return VC_STOP(r);
    if ((r = vc_open(c, "token revoke", 0, &st)) != 0)
        return r;
    rc = vfy_store_token_revoke_counted(st, pos[0], &nrev);
    if (rc != VFY_OK)
        r = vc_fail_rc("token revoke", st, rc);
    else if (nrev == 0)   /* revoked before: nothing changed */
        printf("token %s: already revoked, unchanged\n", pos[0]);
    else
        printf("token %s: revoked\n", pos[0]);
    vfy_store_close(&st);
    return r;
}

int vc_cmd_token(const vc_ctx *c, int argc, char **argv)
{
    static const vc_sub subs[] = {{"add", token_add}, {"revoke", token_revoke}, {NULL, NULL}};

    return vc_dispatch(c, "token", usage, subs, argc, argv);
}
