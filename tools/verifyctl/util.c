/*
 * util.c — verifyctl helpers: the option parser, one-line error reports
 * (escaped: a message quotes bundle, policy and command-line text, which
 * must not act on the operator's terminal nor break the line), bounded
 * file reading, number parsing and opening the store.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "verifyctl.h"

void vc_put_escaped(FILE *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t k = vfy_name_char_visible(s + i, n - i);

        if (k > 0) {
            fwrite(s + i, 1, k, f);
            i += k;
            continue;
        }
        /* a character a new name may not hold (vfy_name_char_visible: C0,
         * DEL, C1, bidi formatting, invisible), or a byte that is not UTF-8:
         * escaped, so that nothing reaches the terminal as a control and
         * a message stays one line (U+2028 too) */
        k = vfy_utf8_seq(s + i, n - i);
        if (k >= 2) {
            const unsigned char *p = (const unsigned char *)s + i;
            unsigned long cp = p[0] & (k == 2 ? 0x1fu : k == 3 ? 0x0fu : 0x07u);

            for (size_t j = 1; j < k; j++)
                cp = cp << 6 | (p[j] & 0x3fu);
            fprintf(f, "\\u{%04lx}", cp);
            i += k;
        } else {
            fprintf(f, "\\x%02x", (unsigned)(unsigned char)s[i]);
            i++;
        }
    }
}

/* "verifyctl: @what: " and @fmt formatted, escaped (vc_put_escaped), and
 * one newline, on stderr. */
static void report(const char *what, const char *fmt, va_list ap)
{
    char buf[1024], *msg = buf;
    va_list aq;
    int n;

    va_copy(aq, ap);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    if (n < 0) {
        n = 0;
    } else if ((size_t)n >= sizeof(buf)) {
        msg = malloc((size_t)n + 1);
        if (msg != NULL) {
            n = vsnprintf(msg, (size_t)n + 1, fmt, aq);
        } else {            /* out of memory: the message cut short */
            msg = buf;
            n = (int)strlen(buf);
        }
    }
    va_end(aq);
    fputs("verifyctl: ", stderr);
    vc_put_escaped(stderr, what, strlen(what));
    fputs(": ", stderr);
    vc_put_escaped(stderr, msg, n > 0 ? (size_t)n : 0);
    fputc('\n', stderr);
    if (msg != buf)
        free(msg);
}

int vc_fail(int status, const char *what, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report(what, fmt, ap);
    va_end(ap);
    return status;
}

void vc_note(const char *what, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report(what, fmt, ap);
    va_end(ap);
}

int vc_fail_rc(const char *what, vfy_store *st, vfy_rc rc)
{
    const char *detail = st != NULL ? vfy_store_errmsg(st) : "";

    if (detail[0] != '\0')
        return vc_fail(VC_EXIT_FAIL, what, "%s (%s)", detail, vfy_rc_name(rc));
    return vc_fail(VC_EXIT_FAIL, what, "%s (%s)", vfy_strerror(rc), vfy_rc_name(rc));
}

static const vc_opt *find_opt(const vc_opt *opts, const char *name, size_t n)
{
    for (; opts != NULL && opts->name != NULL; opts++)
        if (strlen(opts->name) == n && strncmp(opts->name, name, n) == 0)
            return opts;
    return NULL;
}

int vc_parse(const char *cmd, const char *usage, int argc, char **argv, const vc_opt *opts,
             const char **pos, size_t min_pos, size_t max_pos, size_t *npos)
{
    int only_pos = 0;
    size_t np = 0;

    *npos = 0;
    /* --help in an option's place only: not as an option's value (--note
     * --help) nor after "--", where it is an argument like any other. */
    for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
        const vc_opt *o;

        if (strcmp(argv[i], "--help") == 0) {
            fputs(usage, stdout);
            return VC_HELP_SHOWN;
        }
        if (strncmp(argv[i], "--", 2) == 0 && strchr(argv[i], '=') == NULL &&
            (o = find_opt(opts, argv[i] + 2, strlen(argv[i] + 2))) != NULL && o->takes_value)
            i++;   /* its value */
    }
    for (const vc_opt *o = opts; o != NULL && o->name != NULL; o++) {
        if (o->value != NULL)
            *o->value = NULL;
        if (o->flag != NULL)
            *o->flag = 0;
    }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];

        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && a[0] == '-' && a[1] != '\0') {
            const char *name = a + 2, *eq;
            const vc_opt *o;
            size_t n;

            if (a[1] != '-')
                return vc_fail(VC_EXIT_USAGE, cmd, "unknown option %s (see --help)", a);
            eq = strchr(name, '=');
            n = eq != NULL ? (size_t)(eq - name) : strlen(name);
            o = find_opt(opts, name, n);
            if (o == NULL && ((n == 2 && strncmp(name, "db", 2) == 0) ||
                              (n == 5 && strncmp(name, "actor", 5) == 0)))
                return vc_fail(VC_EXIT_USAGE, cmd, "--%.*s goes before the command "
                               "(verifyctl --%.*s ... %s ...)", (int)n, name, (int)n, name, cmd);
            if (o == NULL)
                return vc_fail(VC_EXIT_USAGE, cmd, "unknown option --%.*s (see --help)",
                               (int)n, name);
            if (!o->takes_value) {
                if (eq != NULL)
                    return vc_fail(VC_EXIT_USAGE, cmd, "--%s takes no value", o->name);
                if (*o->flag)
                    return vc_fail(VC_EXIT_USAGE, cmd, "--%s given twice", o->name);
                *o->flag = 1;
                continue;
            }
            if (*o->value != NULL)
                return vc_fail(VC_EXIT_USAGE, cmd, "--%s given twice", o->name);
            if (eq != NULL) {
                *o->value = eq + 1;
            } else {
                if (i + 1 >= argc)
                    return vc_fail(VC_EXIT_USAGE, cmd, "--%s needs a value", o->name);
                *o->value = argv[++i];
            }
            continue;
        }
        if (np >= max_pos)
            return vc_fail(VC_EXIT_USAGE, cmd, "unexpected argument \"%s\" (see --help)", a);
        pos[np++] = a;
    }
    if (np < min_pos)
        return vc_fail(VC_EXIT_USAGE, cmd, "missing argument (see --help)");
    *npos = np;
    return 0;
}

int vc_dispatch(const vc_ctx *c, const char *group, const char *usage, const vc_sub *subs,
                int argc, char **argv)
{
    if (argc < 1)   /* DESIGN §9: one line on stderr, even for this */
        return vc_fail(VC_EXIT_USAGE, group, "no subcommand given (see --help)");
    if (strcmp(argv[0], "--help") == 0) {
        fputs(usage, stdout);
        return VC_EXIT_OK;
    }
    for (const vc_sub *s = subs; s->name != NULL; s++)
        if (strcmp(argv[0], s->name) == 0)
            return s->run(c, argc - 1, argv + 1);
    return vc_fail(VC_EXIT_USAGE, group, "unknown subcommand \"%s\" (see --help)", argv[0]);
}

int vc_read_file(const char *what, const char *path, size_t max, char **out, size_t *len)
{
    FILE *f;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    int status = VC_EXIT_FAIL;

    *out = NULL;
    *len = 0;
    f = fopen(path, "rb");
    if (f == NULL)
        return vc_fail(VC_EXIT_FAIL, what, "%s: %s", path, strerror(errno));
    for (;;) {
        size_t got;

        if (n == cap) {
            size_t ncap = cap == 0 ? 65536 : cap * 2;
            char *nb;

            if (cap > max) {
                vc_fail(VC_EXIT_FAIL, what, "%s: larger than %zu bytes", path, max);
                goto out;
            }
            nb = realloc(buf, ncap + 1);
            if (nb == NULL) {
                vc_fail(VC_EXIT_FAIL, what, "%s: out of memory", path);
                goto out;
            }
            buf = nb;
            cap = ncap;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        vc_fail(VC_EXIT_FAIL, what, "%s: read error", path);
        goto out;
    }
    if (n > max) {
        vc_fail(VC_EXIT_FAIL, what, "%s: larger than %zu bytes", path, max);
        goto out;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    buf = NULL;
    status = 0;
out:
    free(buf);
    fclose(f);
    return status;
}

int vc_parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end = NULL;
    unsigned long long v;

    if (s == NULL || s[0] < '0' || s[0] > '9')
        return -1;              /* no sign, no blanks, not empty */
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v > max)
        return -1;
    *out = v;
    return 0;
}

/* 1 if the directory @path would be created in exists. */
static int parent_dir_exists(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    struct stat sb;

    if (slash == NULL)
        return 1;  /* the current directory */
    if (slash == path)
        return 1;  /* "/" */
    if ((size_t)(slash - path) >= sizeof(dir))
        return 0;
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    return stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int vc_open(const vc_ctx *c, const char *what, unsigned flags, vfy_store **st)
{
    vfy_rc rc;

    *st = NULL;
    if (c->db == NULL || c->db[0] == '\0')
        return vc_fail(VC_EXIT_USAGE, what, "--db PATH is required (before the command)");
    rc = vfy_store_open(st, c->db, flags);

    if (rc != VFY_OK) {
        /* The handle is gone; the message names the path and the cause. */
        if (rc == VFY_E_DB_OPEN) {
            struct stat sb;

            /* init only helps a missing or empty file: another program's
             * database (or a file that is not SQLite) stays refused */
            if (stat(c->db, &sb) == 0 && sb.st_size > 0) {
                char why[512];

                /* say why: another program's database, not SQLite, no
                 * permission, a directory the WAL cannot be created in */
                vfy_store_open_why(c->db, flags, why, sizeof(why));
                if (strncmp(why, "an SQLite database without", 26) == 0 ||
                    strncmp(why, "not an SQLite", 13) == 0)
                    return vc_fail(VC_EXIT_FAIL, what, "%s: not a verifierd database (%s); it was "
                                   "not changed (%s)", c->db, why, vfy_rc_name(rc));
                return vc_fail(VC_EXIT_FAIL, what, "%s: cannot open it: %s (%s)", c->db, why,
                               vfy_rc_name(rc));
            }
            if (stat(c->db, &sb) != 0 && errno != ENOENT)
                return vc_fail(VC_EXIT_FAIL, what, "%s: %s (%s)", c->db, strerror(errno),
                               vfy_rc_name(rc));
            if (stat(c->db, &sb) != 0 && !parent_dir_exists(c->db))
                return vc_fail(VC_EXIT_FAIL, what, "%s: its directory does not exist (create "
                               "it first) (%s)", c->db, vfy_rc_name(rc));
            if (flags & VFY_STORE_CREATE)
                return vc_fail(VC_EXIT_FAIL, what, "%s: cannot create the database (%s)", c->db,
                               vfy_rc_name(rc));
            return vc_fail(VC_EXIT_FAIL, what, "%s: cannot open database or not initialised "
                           "(run verifyctl --db %s init) (%s)", c->db, c->db, vfy_rc_name(rc));
        }
        if (rc == VFY_E_DB_SCHEMA) {   /* which versions: the file's and this build's */
            char why[512];

            return vc_fail(VC_EXIT_FAIL, what, "%s: %s: %s (%s)", c->db, vfy_strerror(rc),
                           vfy_store_open_why(c->db, flags, why, sizeof(why)), vfy_rc_name(rc));
        }
        return vc_fail(VC_EXIT_FAIL, what, "%s: %s (%s)", c->db, vfy_strerror(rc),
                       vfy_rc_name(rc));
    }
    rc = vfy_store_set_actor(*st, c->actor);
    if (rc != VFY_OK) {
        vfy_store_close(st);
        return vc_fail(VC_EXIT_FAIL, what, "--actor: %s", vfy_strerror(rc));
    }
    return 0;
}

int vc_attester_row_parse(const char *row_json, vc_attester_row *out)
{
    cJSON *row = cJSON_Parse(row_json);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(row, "name");
    const cJSON *fp = cJSON_GetObjectItemCaseSensitive(row, "ak_fingerprint");
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(row, "state");
    int ok = cJSON_IsString(name) && cJSON_IsString(fp) && cJSON_IsString(state);

    if (ok) {
        snprintf(out->name, sizeof(out->name), "%s", name->valuestring);
        snprintf(out->fp, sizeof(out->fp), "%s", fp->valuestring);
        out->active = strcmp(state->valuestring, "active") == 0;
    }
    cJSON_Delete(row);
    return ok ? 0 : -1;
}
