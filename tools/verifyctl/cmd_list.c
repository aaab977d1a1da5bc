/*
 * cmd_list.c — `verifyctl list WHAT [--json]`: a table for people, or the
 * JSON array of libverify's listing for programs, printed row by row as
 * the store is read (vfy_store_list_each), so any size fits in memory.
 * Timestamps (Unix seconds in JSON) are shown as RFC 3339 UTC in tables.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "verifyctl.h"

#define MAX_COLS 16
#define CELL_MAX 1100

static const char usage[] =
    "usage: verifyctl --db PATH list (attesters|pcrs|components|policies|tokens|results|audit)\n"
    "                 [--json] [--limit N] [--offset N]\n"
    "\n"
    "Show a table of the store. --json prints a JSON array instead (timestamps\n"
    "as Unix seconds). Token hashes and keys are never listed. --limit N\n"
    "(1..1000000) shows N rows from row --offset N (default 0) in the\n"
    "listing's order; without --limit every row is listed. Rows are printed\n"
    "as they are read (a table's column widths come from its first 1,000\n"
    "rows), so a listing of any size takes a few megabytes.\n";

static int is_time_key(const char *k)
{
    size_t n = strlen(k);

    return strcmp(k, "at") == 0 || strcmp(k, "iat") == 0 || strcmp(k, "exp") == 0 ||
           (n > 3 && strcmp(k + n - 3, "_at") == 0);
}

static void cell(const char *key, const cJSON *v, char *out, size_t cap)
{
    if (v == NULL || cJSON_IsNull(v)) {
        snprintf(out, cap, "-");
    } else if (cJSON_IsString(v)) {
        snprintf(out, cap, "%s", v->valuestring[0] != '\0' ? v->valuestring : "-");
    } else if (cJSON_IsNumber(v) && is_time_key(key)) {
        time_t t = (time_t)v->valuedouble;
        struct tm tm;

        if (gmtime_r(&t, &tm) == NULL || strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
            snprintf(out, cap, "%.0f", v->valuedouble);
    } else if (cJSON_IsNumber(v)) {
        snprintf(out, cap, "%.0f", v->valuedouble);
    } else {
        snprintf(out, cap, "?");
    }
}

/*
 * A listing printed as it is read, in memory bounded whatever its size: the
 * JSON array row by row; a table's column widths from its first
 * TABLE_SAMPLE rows (held until then), later rows printed with those
 * widths (a wider cell is printed whole, shifting its line).
 */
#define TABLE_SAMPLE 1000

typedef struct out {
    int as_json;
    size_t rows;
    int failed;                  /* a row that does not parse, or a write error */
    cJSON *held[TABLE_SAMPLE];   /* table rows not yet printed */
    size_t nheld;
    const char *keys[MAX_COLS];  /* names of the held first row's columns */
    size_t width[MAX_COLS], ncol;
} out;

static void print_row(const out *o, const cJSON *row)
{
    char buf[CELL_MAX];

    for (size_t i = 0; i < o->ncol; i++) {
        cell(o->keys[i], cJSON_GetObjectItemCaseSensitive(row, o->keys[i]), buf, sizeof(buf));
        printf("%-*s%s", i + 1 < o->ncol ? (int)o->width[i] : 0, buf, i + 1 < o->ncol ? "  " : "\n");
    }
}

/* Widths from the held rows, the header, the held rows; the first row (the
 * keys' owner) is kept for later rows. */
static void flush_held(out *o)
{
    char buf[CELL_MAX];

    for (size_t r = 0; r < o->nheld; r++)
        for (size_t i = 0; i < o->ncol; i++) {
            size_t n;

            cell(o->keys[i], cJSON_GetObjectItemCaseSensitive(o->held[r], o->keys[i]), buf,
                 sizeof(buf));
            n = strlen(buf);
            if (n > o->width[i])
                o->width[i] = n;
        }
    for (size_t i = 0; i < o->ncol; i++)
        printf("%-*s%s", i + 1 < o->ncol ? (int)o->width[i] : 0, o->keys[i],
               i + 1 < o->ncol ? "  " : "\n");
    for (size_t r = 0; r < o->nheld; r++) {
        print_row(o, o->held[r]);
        if (r > 0) {
            cJSON_Delete(o->held[r]);
            o->held[r] = NULL;
        }
    }
    o->nheld = 1;   /* held[0] stays: it owns the key strings */
}

static int on_row(void *ctx, const char *row_json)
{
    out *o = ctx;
    cJSON *row;

    if (o->as_json) {
        if (printf("%s%s", o->rows++ == 0 ? "[" : ", ", row_json) < 0)
            return o->failed = 1;
        return 0;
    }
    if ((row = cJSON_Parse(row_json)) == NULL || !cJSON_IsObject(row)) {
        cJSON_Delete(row);
        return o->failed = 1;
    }
    if (o->rows++ == 0) {
        for (const cJSON *f = row->child; f != NULL && o->ncol < MAX_COLS; f = f->next) {
            o->keys[o->ncol] = f->string;
            o->width[o->ncol] = strlen(f->string);
            o->ncol++;
        }
    }
    if (o->rows <= TABLE_SAMPLE) {
        o->held[o->nheld++] = row;
        if (o->rows == TABLE_SAMPLE)
            flush_held(o);
        return 0;
    }
    print_row(o, row);
    cJSON_Delete(row);
    return ferror(stdout) ? (o->failed = 1) : 0;
}

/* Print what is left once the listing ended (@ok), or nothing more after a
 * failure (a JSON array left open is not mistaken for a whole one); free
 * what is held. */
static void finish(out *o, const char *what, int ok)
{
    if (ok && o->as_json)
        printf(o->rows == 0 ? "[]\n" : "]\n");
    else if (ok && o->rows == 0)
        printf("no %s\n", what);
    else if (ok && o->rows < TABLE_SAMPLE)
        flush_held(o);
    for (size_t r = 0; r < o->nheld; r++)
        cJSON_Delete(o->held[r]);
    o->nheld = 0;
}

int vc_cmd_list(const vc_ctx *c, int argc, char **argv)
{
    static const char *const whats[] = {"attesters", "pcrs", "components", "policies",
                                        "tokens", "results", "audit", NULL};
    int as_json = 0, known = 0;
    const char *limit_s = NULL, *offset_s = NULL;
    const vc_opt opts[] = {{"json", 0, NULL, &as_json},
                           {"limit", 1, &limit_s, NULL},
                           {"offset", 1, &offset_s, NULL},
                           {NULL, 0, NULL, NULL}};
    unsigned long long limit = 0, offset = 0;
    const char *pos[1];
    size_t np;
    vfy_store *st = NULL;
    out *o;
    vfy_rc rc;
    int r = vc_parse("list", usage, argc, argv, opts, pos, 1, 1, &np);

    if (r != 0)
        return VC_STOP(r);
    for (size_t i = 0; whats[i] != NULL; i++)
        known |= strcmp(pos[0], whats[i]) == 0;
    if (!known)
        return vc_fail(VC_EXIT_USAGE, "list", "cannot list \"%s\" (expected attesters, pcrs, "
                       "components, policies, tokens, results or audit)", pos[0]);
    if (limit_s != NULL && (vc_parse_uint(limit_s, 1000000, &limit) != 0 || limit == 0))
        return vc_fail(VC_EXIT_USAGE, "list", "--limit must be a whole number 1..1000000");
    if (offset_s != NULL && vc_parse_uint(offset_s, INT64_MAX, &offset) != 0)
        return vc_fail(VC_EXIT_USAGE, "list", "--offset must be a whole number >= 0");
    if ((r = vc_open(c, "list", VFY_STORE_READONLY, &st)) != 0)
        return r;
    if ((o = calloc(1, sizeof(*o))) == NULL) {
        vfy_store_close(&st);
        return vc_fail(VC_EXIT_FAIL, "list", "out of memory");
    }
    o->as_json = as_json || c->json;
    rc = vfy_store_list_each(st, pos[0], offset, (size_t)limit, on_row, o, NULL);
    finish(o, pos[0], rc == VFY_OK);
    if (rc != VFY_OK && o->failed && ferror(stdout))
        r = vc_fail(VC_EXIT_FAIL, "list", "cannot write to stdout");
    else if (rc != VFY_OK && o->failed)
        r = vc_fail(VC_EXIT_FAIL, "list", "unexpected listing from the library");
    else if (rc != VFY_OK)
        r = vc_fail_rc("list", st, rc);
    if (r == 0 && (fflush(stdout) != 0 || ferror(stdout)))
        r = vc_fail(VC_EXIT_FAIL, "list", "cannot write to stdout");
    free(o);
    vfy_store_close(&st);
    return r;
}
