/*
 * verifyctl.h — shared declarations of the verifyctl modules: the global
 * context, the option parser, error reporting and file helpers.
 * verifyctl uses only libverify's public API.
 */
#ifndef VERIFYCTL_H
#define VERIFYCTL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "verify/verify.h"

/* Exit statuses (docs/verifyctl.1). */
#define VC_EXIT_OK 0
#define VC_EXIT_FAIL 1   /* the operation failed: bad input, conflict, not found */
#define VC_EXIT_USAGE 2  /* bad command line */

/* Largest file verifyctl reads (bundles); keys, YAML and policies are capped lower. */
#define VC_FILE_MAX VFY_STORE_BUNDLE_MAX

typedef struct vc_ctx {
    const char *db;      /* --db PATH */
    const char *actor;   /* --actor NAME, else $USER, else "verifyctl" */
    int json;            /* --json before the command (list only) */
} vc_ctx;

/* One option of a (sub)command: "--name VALUE" (or --name=VALUE) or a flag. */
typedef struct vc_opt {
    const char *name;    /* without the leading "--" */
    int takes_value;
    const char **value;  /* set when takes_value */
    int *flag;           /* set to 1 when a flag is present */
} vc_opt;

/*
 * Parse @argc/@argv (after the command words) into @opts and positional
 * arguments @pos (at most @max_pos, at least @min_pos). "--help" prints
 * @usage on stdout. Returns 0 to go on, VC_HELP_SHOWN after --help, or
 * VC_EXIT_USAGE after an error (reported on stderr as "verifyctl: @cmd: ...").
 * Callers stop with VC_STOP(r).
 */
#define VC_HELP_SHOWN (-1)
#define VC_STOP(r) ((r) == VC_HELP_SHOWN ? VC_EXIT_OK : (r))
int vc_parse(const char *cmd, const char *usage, int argc, char **argv, const vc_opt *opts,
             const char **pos, size_t min_pos, size_t max_pos, size_t *npos);

/*
 * Print "verifyctl: @what: <message>" on stderr; returns @status. The
 * message quotes text from files and the command line (a bundle's kind, a
 * policy's key, a name), so it is escaped (vc_put_escaped): it is always
 * one line and never acts on the terminal.
 */
int vc_fail(int status, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The same for a warning or note that is not an error ("warning: ..."). */
void vc_note(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Write the @n bytes at @s to @f, each character a name may not hold
 * (vfy_name_char: C0 controls and newlines, DEL, C1 controls, bidi marks,
 * embeddings, overrides and isolates, characters that print as nothing)
 * as \u{hex code point} — \x + two hex digits for a C0 control or DEL,
 * and for a byte that is not UTF-8.
 */
void vc_put_escaped(FILE *f, const char *s, size_t n);

/* Report a libverify error from @st (NULL: none open) for @what; returns VC_EXIT_FAIL. */
int vc_fail_rc(const char *what, vfy_store *st, vfy_rc rc);

/*
 * Read at most @max bytes of @path into a NUL-terminated buffer (*@out,
 * free()), @len without the NUL. Reports errors itself; returns 0 or
 * VC_EXIT_FAIL.
 */
int vc_read_file(const char *what, const char *path, size_t max, char **out, size_t *len);

/* Parse a decimal unsigned in [0, @max] (strtoull with full checks). */
int vc_parse_uint(const char *s, unsigned long long max, unsigned long long *out);

/* Open the store for @what with @flags, setting the actor. Returns 0 or VC_EXIT_FAIL. */
int vc_open(const vc_ctx *c, const char *what, unsigned flags, vfy_store **st);

/* One row of the attester listing (vfy_store_list_each), the fields the
 * shared-key checks read. 0, or -1 if the row lacks one of them. */
typedef struct vc_attester_row {
    char name[VFY_STORE_NAME_MAX + 1];
    char fp[80];      /* ak_fingerprint */
    int active;       /* state "active" */
} vc_attester_row;
int vc_attester_row_parse(const char *row_json, vc_attester_row *out);

/* Commands: argv[0] is the first word after the command name(s). */
int vc_cmd_init(const vc_ctx *c, int argc, char **argv);
int vc_cmd_attester(const vc_ctx *c, int argc, char **argv);
int vc_cmd_pcr(const vc_ctx *c, int argc, char **argv);
int vc_cmd_component(const vc_ctx *c, int argc, char **argv);
int vc_cmd_policy(const vc_ctx *c, int argc, char **argv);
int vc_cmd_results(const vc_ctx *c, int argc, char **argv);
int vc_cmd_token(const vc_ctx *c, int argc, char **argv);
int vc_cmd_export(const vc_ctx *c, int argc, char **argv);
int vc_cmd_import(const vc_ctx *c, int argc, char **argv);
int vc_cmd_list(const vc_ctx *c, int argc, char **argv);

/* Dispatch "@group SUB ..." to one of @subs; prints @usage for --help or no SUB. */
typedef struct vc_sub {
    const char *name;
    int (*run)(const vc_ctx *c, int argc, char **argv);
} vc_sub;
int vc_dispatch(const vc_ctx *c, const char *group, const char *usage, const vc_sub *subs,
                int argc, char **argv);

#endif
