/*
 * cmd_results.c — `verifyctl results prune`: retention of attestation
 * results. verifierd writes one result row per attestation (thousands a
 * second under load) and never deletes any; this removes those that
 * expired long enough ago, in short transactions so that a running
 * verifierd's commits are held up for one batch at a time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "verifyctl.h"

static const char usage[] =
    "usage: verifyctl --db PATH results prune --expired-days N [--batch N]\n";

static const char prune_usage[] =
    "usage: verifyctl --db PATH results prune --expired-days N [--batch N]\n"
    "\n"
    "Delete the results that expired more than N days ago (N >= 1: a\n"
    "restarted verifierd reads back the nonces of the last day's results),\n"
    "with their revocation-feed entries. GET /v1/results/{id} answers 404 for\n"
    "them afterwards; an expired result cannot be relied on anyway. Runs in\n"
    "transactions of --batch results (default 500, at most 100000) with a\n"
    "10 ms pause between them, so it can run while verifierd serves.\n";

/* @s as an integer in [@min, @max]; -1 when it is not one. */
static long long parse_count(const char *s, long long min, long long max)
{
    char *end;
    long long v;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    return v;
}

static int results_prune(const vc_ctx *c, int argc, char **argv)
{
    const char *days_s = NULL, *batch_s = NULL;
    const vc_opt opts[] = {{"expired-days", 1, &days_s, NULL},
                           {"batch", 1, &batch_s, NULL},
                           {NULL, 0, NULL, NULL}};
    const char *pos[1];
    size_t np, total = 0, n = 0;
    long long days, batch = 500;
    int64_t before;
    vfy_store *st = NULL;
    vfy_rc rc;
    char when[32];
    struct tm tm;
    time_t t;
    int r = vc_parse("results prune", prune_usage, argc, argv, opts, pos, 0, 0, &np);

    if (r != 0)
        return VC_STOP(r);
    if (days_s == NULL)
        return vc_fail(VC_EXIT_USAGE, "results prune", "--expired-days N is required");
    if ((days = parse_count(days_s, 1, 36500)) < 0)
        return vc_fail(VC_EXIT_USAGE, "results prune",
                       "--expired-days must be a whole number of days, 1..36500");
    if (batch_s != NULL && (batch = parse_count(batch_s, 1, VFY_STORE_PRUNE_MAX)) < 0)
        return vc_fail(VC_EXIT_USAGE, "results prune", "--batch must be 1..%d",
                       VFY_STORE_PRUNE_MAX);
    if ((r = vc_open(c, "results prune", 0, &st)) != 0)
        return r;
    before = (int64_t)time(NULL) - (int64_t)days * 86400;
    do {
        rc = vfy_store_results_prune(st, before, (size_t)batch, &n);
        total += n;
        if (rc == VFY_OK && n == (size_t)batch)
            nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    } while (rc == VFY_OK && n == (size_t)batch);
    t = (time_t)before;
    if (gmtime_r(&t, &tm) == NULL || strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(when, sizeof(when), "%lld", (long long)before);
    if (rc != VFY_OK) {
        /* what was done on stdout; the error alone, one line, on stderr */
        if (total > 0)
            printf("results: %zu pruned (expired before %s) before the error\n", total, when);
        r = vc_fail_rc("results prune", st, rc);
    } else {
        printf("results: %zu pruned (expired before %s)\n", total, when);
    }
    vfy_store_close(&st);
    return r;
}

int vc_cmd_results(const vc_ctx *c, int argc, char **argv)
{
    static const vc_sub subs[] = {{"prune", results_prune}, {NULL, NULL}};

    return vc_dispatch(c, "results", usage, subs, argc, argv);
}
