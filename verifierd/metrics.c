/*
 * metrics.c — Prometheus text exposition for /metrics: requests by endpoint
 * and status class, verdicts by status, and a latency histogram per
 * endpoint. Lock-free: relaxed atomic counters.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vd.h"

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                 0.1, 0.25, 0.5, 1, 2.5};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))
#define NCODES 600

static atomic_ullong req_code[VD_EP_COUNT][NCODES];
static atomic_ullong lat_bucket[VD_EP_COUNT][NBUCKETS];
static atomic_ullong lat_count[VD_EP_COUNT];
static atomic_ullong lat_sum_us[VD_EP_COUNT];
static atomic_ullong verdicts[4];                      /* affirming, warning, contraindicated, none */
static const char *verdict_names[4] = {"affirming", "warning", "contraindicated", "none"};
static atomic_ullong commits, committed_answers, commit_us;
static atomic_ullong wal_restarts, wal_restarts_busy;
static atomic_int wal_pages;
static atomic_ullong reloads, reload_failures, dropped;
static atomic_ullong generation_regressions;
static atomic_llong tls_not_after;   /* the served certificate's expiry; 0 unknown */

const char *vd_endpoint_name(enum vd_endpoint ep)
{
    static const char *names[VD_EP_COUNT] = {
        "challenge", "attest", "keys", "results", "revocations",
        "admin", "healthz", "metrics", "well-known", "other"};

    return (unsigned)ep < VD_EP_COUNT ? names[ep] : "other";
}

void vd_metrics_request(enum vd_endpoint ep, unsigned status, double seconds)
{
    if ((unsigned)ep >= VD_EP_COUNT)
        ep = VD_EP_OTHER;
    if (status < NCODES)
        atomic_fetch_add_explicit(&req_code[ep][status], 1, memory_order_relaxed);
    for (size_t i = 0; i < NBUCKETS; i++)
        if (seconds <= buckets[i])
            atomic_fetch_add_explicit(&lat_bucket[ep][i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&lat_count[ep], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&lat_sum_us[ep], (unsigned long long)(seconds * 1e6),
                              memory_order_relaxed);
}

void vd_metrics_verdict(const char *status)
{
    for (size_t i = 0; i < 4; i++)
        if (strcmp(status, verdict_names[i]) == 0)
            atomic_fetch_add_explicit(&verdicts[i], 1, memory_order_relaxed);
}

void vd_metrics_reload(int ok)
{
    atomic_fetch_add_explicit(&reloads, 1, memory_order_relaxed);
    if (!ok)
        atomic_fetch_add_explicit(&reload_failures, 1, memory_order_relaxed);
}

void vd_metrics_tls_expiry(int64_t not_after)
{
    atomic_store_explicit(&tls_not_after, (long long)not_after, memory_order_relaxed);
}

void vd_metrics_dropped(void)
{
    atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
}

void vd_metrics_generation_regression(void)
{
    atomic_fetch_add_explicit(&generation_regressions, 1, memory_order_relaxed);
}

void vd_metrics_wal_restart(int ok)
{
    atomic_fetch_add_explicit(ok ? &wal_restarts : &wal_restarts_busy, 1,
                              memory_order_relaxed);
}

void vd_metrics_wal_pages(int pages)
{
    atomic_store_explicit(&wal_pages, pages, memory_order_relaxed);
}

void vd_metrics_commit(size_t answers, double seconds)
{
    atomic_fetch_add_explicit(&commits, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&committed_answers, answers, memory_order_relaxed);
    atomic_fetch_add_explicit(&commit_us, (unsigned long long)(seconds * 1e6),
                              memory_order_relaxed);
}

struct sbuf {
    char *p;
    size_t len, cap;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->p == NULL)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            free(b->p);
            b->p = NULL;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        char *np = realloc(b->p, b->cap * 2 + (size_t)n);
        if (np == NULL) {
            free(b->p);
            b->p = NULL;
            return;
        }
        b->p = np;
        b->cap = b->cap * 2 + (size_t)n;
    }
}

char *vd_metrics_render(size_t *len)
{
    struct sbuf b = {malloc(8192), 0, 8192};

    sb_printf(&b, "# HELP verifierd_requests_total HTTP requests by endpoint and status code.\n"
                  "# TYPE verifierd_requests_total counter\n");
    for (int ep = 0; ep < VD_EP_COUNT; ep++)
        for (int code = 100; code < NCODES; code++) {
            unsigned long long v = atomic_load_explicit(&req_code[ep][code], memory_order_relaxed);
            if (v != 0)
                sb_printf(&b, "verifierd_requests_total{endpoint=\"%s\",code=\"%d\"} %llu\n",
                          vd_endpoint_name(ep), code, v);
        }
    sb_printf(&b, "# HELP verifierd_verdicts_total Attestation results issued, by status.\n"
                  "# TYPE verifierd_verdicts_total counter\n");
    for (int i = 0; i < 4; i++)
        sb_printf(&b, "verifierd_verdicts_total{status=\"%s\"} %llu\n", verdict_names[i],
                  atomic_load_explicit(&verdicts[i], memory_order_relaxed));
    sb_printf(&b, "# HELP verifierd_request_duration_seconds Request latency by endpoint.\n"
                  "# TYPE verifierd_request_duration_seconds histogram\n");
    for (int ep = 0; ep < VD_EP_COUNT; ep++) {
        unsigned long long cnt = atomic_load_explicit(&lat_count[ep], memory_order_relaxed);
        if (cnt == 0)
            continue;
        for (size_t i = 0; i < NBUCKETS; i++)
            sb_printf(&b, "verifierd_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %llu\n",
                      vd_endpoint_name(ep), buckets[i],
                      atomic_load_explicit(&lat_bucket[ep][i], memory_order_relaxed));
        sb_printf(&b, "verifierd_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %llu\n",
                  vd_endpoint_name(ep), cnt);
        sb_printf(&b, "verifierd_request_duration_seconds_sum{endpoint=\"%s\"} %.6f\n",
                  vd_endpoint_name(ep),
                  atomic_load_explicit(&lat_sum_us[ep], memory_order_relaxed) / 1e6);
        sb_printf(&b, "verifierd_request_duration_seconds_count{endpoint=\"%s\"} %llu\n",
                  vd_endpoint_name(ep), cnt);
    }
    sb_printf(&b, "# HELP verifierd_group_commits_total Group commits of parked attest answers.\n"
                  "# TYPE verifierd_group_commits_total counter\n"
                  "verifierd_group_commits_total %llu\n"
                  "# HELP verifierd_group_commit_failures_total Batches of results lost: commits that failed, by any thread, and batches rolled back under an appraisal (their answers were 503).\n"
                  "# TYPE verifierd_group_commit_failures_total counter\n"
                  "verifierd_group_commit_failures_total %llu\n"
                  "# HELP verifierd_group_commit_answers_total Attest answers released by group commits (divide by commits: batch size).\n"
                  "# TYPE verifierd_group_commit_answers_total counter\n"
                  "verifierd_group_commit_answers_total %llu\n"
                  "# HELP verifierd_group_commit_seconds_total Time spent committing.\n"
                  "# TYPE verifierd_group_commit_seconds_total counter\n"
                  "verifierd_group_commit_seconds_total %.6f\n",
              (unsigned long long)atomic_load(&commits),
              (unsigned long long)(vd_srv != NULL && vd_srv->committer != NULL
                                       ? vfy_committer_failures(vd_srv->committer) : 0),
              (unsigned long long)atomic_load(&committed_answers),
              (double)atomic_load(&commit_us) / 1e6);
    sb_printf(&b, "# HELP verifierd_wal_pages Write-ahead log size after the last checkpoint, in 4 KiB pages.\n"
                  "# TYPE verifierd_wal_pages gauge\n"
                  "verifierd_wal_pages %d\n"
                  "# HELP verifierd_wal_restarts_total Restarting checkpoints: the write-ahead log passed --wal-limit-mib and was started over.\n"
                  "# TYPE verifierd_wal_restarts_total counter\n"
                  "verifierd_wal_restarts_total %llu\n"
                  "# HELP verifierd_wal_restarts_busy_total Restarting checkpoints that could not finish in time (busy).\n"
                  "# TYPE verifierd_wal_restarts_busy_total counter\n"
                  "verifierd_wal_restarts_busy_total %llu\n",
              atomic_load(&wal_pages), (unsigned long long)atomic_load(&wal_restarts),
              (unsigned long long)atomic_load(&wal_restarts_busy));
    sb_printf(&b, "# HELP verifierd_reloads_total SIGHUP reloads.\n"
                  "# TYPE verifierd_reloads_total counter\n"
                  "verifierd_reloads_total %llu\n"
                  "# HELP verifierd_reload_failures_total SIGHUP reloads that kept a policy, the signing keys or the TLS certificate (see the log).\n"
                  "# TYPE verifierd_reload_failures_total counter\n"
                  "verifierd_reload_failures_total %llu\n"
                  "# HELP verifierd_requests_dropped_total Requests closed unread because they started on a server generation past its drain (a client that retries goes to the new generation).\n"
                  "# TYPE verifierd_requests_dropped_total counter\n"
                  "verifierd_requests_dropped_total %llu\n"
                  "# HELP verifierd_tls_cert_expiry_timestamp_seconds When the TLS certificate being served expires (Unix time).\n"
                  "# TYPE verifierd_tls_cert_expiry_timestamp_seconds gauge\n"
                  "verifierd_tls_cert_expiry_timestamp_seconds %lld\n",
              (unsigned long long)atomic_load(&reloads),
              (unsigned long long)atomic_load(&reload_failures),
              (unsigned long long)atomic_load(&dropped), (long long)atomic_load(&tls_not_after));
    sb_printf(&b, "# HELP verifierd_store_generation_regressions_total Times the database was restored or replaced under this verifierd (its store generation went back, or it lacks the last audit row seen): revocations made after its backup are undone until re-applied.\n"
                  "# TYPE verifierd_store_generation_regressions_total counter\n"
                  "verifierd_store_generation_regressions_total %llu\n",
              (unsigned long long)atomic_load(&generation_regressions));
    if (vd_srv != NULL && vd_srv->committer != NULL)
        sb_printf(&b, "# HELP verifierd_results_pruned_total Expired results deleted by --results-keep-days.\n"
                      "# TYPE verifierd_results_pruned_total counter\n"
                      "verifierd_results_pruned_total %llu\n",
                  (unsigned long long)vfy_committer_pruned(vd_srv->committer));
    if (vd_srv != NULL && vd_srv->nonce_cache != NULL) {
        sb_printf(&b, "# HELP verifierd_nonce_cache_entries Used nonces remembered until they expire.\n"
                      "# TYPE verifierd_nonce_cache_entries gauge\n"
                      "verifierd_nonce_cache_entries %zu\n",
                  vfy_nonce_cache_size(vd_srv->nonce_cache));
    }
    {
        unsigned per[VD_MAX_WORKERS];
        size_t nw = vd_conn_per_worker(per, sizeof(per) / sizeof(per[0]));

        sb_printf(&b, "# HELP verifierd_connections_open Connections open now.\n"
                      "# TYPE verifierd_connections_open gauge\n"
                      "verifierd_connections_open %u\n"
                      "# HELP verifierd_worker_connections Connections open on each worker thread "
                      "(numbered in the order they got a first one; 0 for those without one yet).\n"
                      "# TYPE verifierd_worker_connections gauge\n",
                  vd_conn_open());
        for (size_t i = 0; i < nw; i++)
            sb_printf(&b, "verifierd_worker_connections{worker=\"%zu\"} %u\n", i, per[i]);
    }
    if (b.p == NULL)
        return NULL;
    *len = b.len;
    return b.p;
}
