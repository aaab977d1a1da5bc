/*
 * cmd_list.c — `verifyctl list WHAT [--json]`: a table for people, or the
 * JSON array libverify produces (vfy_store_list_json) for programs.
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
    "listing's order; without --limit every row is listed (for results and\n"
    "the audit log of a busy verifier, page with --limit).\n";

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

static int print_table(const char *what, const char *json)
{
    cJSON *arr = cJSON_Parse(json);
    const cJSON *row, *first, *f;
    const char *keys[MAX_COLS];
    size_t width[MAX_COLS], ncol = 0;
    char buf[CELL_MAX];

    if (!cJSON_IsArray(arr)) {
        cJSON_Delete(arr);
        return vc_fail(VC_EXIT_FAIL, "list", "unexpected listing from the library");
    }
    first = arr->child;
    if (first == NULL) {
        printf("no %s\n", what);
        cJSON_Delete(arr);
        return VC_EXIT_OK;
    }
    for (f = first->child; f != NULL && ncol < MAX_COLS; f = f->next) {
        keys[ncol] = f->string;
        width[ncol] = strlen(f->string);
        ncol++;
    }
    cJSON_ArrayForEach(row, arr) {
        for (size_t i = 0; i < ncol; i++) {
            size_t n;

            cell(keys[i], cJSON_GetObjectItemCaseSensitive(row, keys[i]), buf, sizeof(buf));
            n = strlen(buf);
            if (n > width[i])
                width[i] = n;
        }
    }
    for (size_t i = 0; i < ncol; i++)
        printf("%-*s%s", i + 1 < ncol ? (int)width[i] : 0, keys[i], i + 1 < ncol ? "  " : "\n");
    cJSON_ArrayForEach(row, arr) {
        for (size_t i = 0; i < ncol; i++) {
            cell(keys[i], cJSON_GetObjectItemCaseSensitive(row, keys[i]), buf, sizeof(buf));
            printf("%-*s%s", i + 1 < ncol ? (int)width[i] : 0, buf, i + 1 < ncol ? "  " : "\n");
        }
    }
    cJSON_Delete(arr);
    return VC_EXIT_OK;
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
    char *json = NULL;
    vfy_store *st = NULL;
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
    rc = vfy_store_list_json_page(st, pos[0], offset, (size_t)limit, &json, NULL);
    if (rc != VFY_OK)
        r = vc_fail_rc("list", st, rc);
    else if (as_json)
        printf("%s\n", json);
    else
        r = print_table(pos[0], json);
    if (r == 0 && fflush(stdout) != 0)
        r = vc_fail(VC_EXIT_FAIL, "list", "cannot write to stdout");
    vfy_free(json);
    vfy_store_close(&st);
    return r;
}
