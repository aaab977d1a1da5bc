/*
 * http_load.c — `vfy-bench http`: a verifierd load generator (DESIGN §8).
 *
 *   vfy-bench http --url https://127.0.0.1:PORT --token TOKEN --cacert PEM
 *                  --key AKFILE [--attesters N] [--conns C] [--threads T]
 *                  [--seconds S] [--warmup W] [--label L]
 *
 * C keep-alive HTTPS connections (libcurl multi, C/T per thread), each a
 * loop of POST /v1/challenge then POST /v1/attest with fresh evidence from
 * the software AK (evgen.c) bound to the issued nonce and a random channel
 * binding, for attesters walked over all N. Every attest must come back 200
 * "affirming"; anything else is counted as an error. Reports completed
 * pairs per second and the p50/p99 of the pair latency (challenge sent →
 * EAR received) over the S seconds after W seconds of warm-up.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/rand.h>

#include "evgen.h"

struct cfg {
    const char *url, *token, *cacert, *label;
    size_t natt, conns, threads;
    double seconds, warmup;
    bench_ak ak;
    bench_fixture f;
    double t_start, t_end;       /* measuring window (monotonic) */
};

struct conn {
    CURL *h;
    int phase;                   /* 0 challenge, 1 attest */
    double t0;
    char *resp;
    size_t rlen, rcap;
    char *body;
    size_t att_next, stride, id;
};

struct tstate {
    struct cfg *cfg;
    size_t first, n;             /* connection ids */
    double *lat;
    size_t nlat, caplat;
    size_t pairs, errors;
    char firsterr[256];
};

static size_t on_data(char *p, size_t sz, size_t nm, void *u)
{
    struct conn *c = u;
    size_t n = sz * nm;

    if (c->rlen + n + 1 > c->rcap) {
        c->rcap = (c->rlen + n + 1) * 2;
        if ((c->resp = realloc(c->resp, c->rcap)) == NULL)
            return 0;
    }
    memcpy(c->resp + c->rlen, p, n);
    c->rlen += n;
    c->resp[c->rlen] = '\0';
    return n;
}

static struct curl_slist *hdrs(const char *token, int json)
{
    char auth[256];
    struct curl_slist *l = NULL;

    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    l = curl_slist_append(l, auth);
    if (json)
        l = curl_slist_append(l, "Content-Type: application/json");
    l = curl_slist_append(l, "Expect:");
    return l;
}

static void start(struct conn *c, struct cfg *g, struct curl_slist *h, const char *path,
                  const char *body)
{
    char url[512];

    snprintf(url, sizeof(url), "%s%s", g->url, path);
    c->rlen = 0;
    curl_easy_setopt(c->h, CURLOPT_URL, url);
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
}

/* Pull "nonce":"<43 chars>" out of the challenge response. */
static int get_nonce(const char *resp, char out[44])
{
    const char *p = strstr(resp, "\"nonce\":\"");

    if (p == NULL)
        return -1;
    p += 9;
    if (strlen(p) < 43 || p[43] != '"')
        return -1;
    memcpy(out, p, 43);
    out[43] = '\0';
    return 0;
}

static void *run(void *arg)
{
    struct tstate *ts = arg;
    struct cfg *g = ts->cfg;
    CURLM *m = curl_multi_init();
    struct conn *cs = calloc(ts->n, sizeof(*cs));
    struct curl_slist *h_chal = hdrs(g->token, 0), *h_att = hdrs(g->token, 1);
    int running;

    if (m == NULL || cs == NULL)
        return NULL;
    for (size_t i = 0; i < ts->n; i++) {
        struct conn *c = &cs[i];

        c->h = curl_easy_init();
        c->id = ts->first + i;
        c->stride = g->natt > 1000 ? 7919 : 1;
        while (g->natt > 1000 && g->natt % c->stride == 0)
            c->stride += 2;
        c->att_next = c->id * (g->natt / (g->conns ? g->conns : 1) + 1);
        curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c);
        curl_easy_setopt(c->h, CURLOPT_PRIVATE, c);
        curl_easy_setopt(c->h, CURLOPT_CAINFO, g->cacert);
        curl_easy_setopt(c->h, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(c->h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
        start(c, g, h_chal, "/v1/challenge", "");
        c->phase = 0;
        c->t0 = bench_now();
        curl_multi_add_handle(m, c->h);
    }
    for (;;) {
        CURLMsg *msg;
        int left;
        double now = bench_now();

        if (now >= g->t_end)
            break;
        curl_multi_perform(m, &running);
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            struct conn *c;
            long code = 0;
            int ok;

            if (msg->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
            curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &code);
            curl_multi_remove_handle(m, c->h);
            now = bench_now();
            ok = msg->data.result == CURLE_OK;
            if (ok && c->phase == 0 && code == 201) {
                char nb64[44], cbb64[44];
                uint8_t nonce[32], cb[32];
                uint8_t *ev = NULL;
                size_t evlen = 0, nlen = 0, blen;
                char name[32];

                if (get_nonce(c->resp, nb64) != 0 ||
                    vfy_b64url_decode(nonce, 32, &nlen, nb64, 43) != VFY_OK || nlen != 32) {
                    ok = 0;
                } else {
                    RAND_bytes(cb, 32);
                    (void)vfy_b64url_encode(cbb64, sizeof(cbb64), cb, 32);
                    if (bench_evidence(&g->ak, &g->f, nonce, cb, VFY_CMW_JSON, &ev, &evlen) != 0) {
                        ok = 0;
                    } else {
                        snprintf(name, sizeof(name), "bench-%07zu", c->att_next % g->natt);
                        c->att_next += c->stride;
                        blen = evlen + 256;
                        free(c->body);
                        c->body = malloc(blen);
                        snprintf(c->body, blen,
                                 "{\"nonce\":\"%s\",\"channel_binding\":\"%s\",\"attester\":\"%s\","
                                 "\"evidence\":%s}", nb64, cbb64, name, (const char *)ev);
                        vfy_free(ev);
                        start(c, g, h_att, "/v1/attest", c->body);
                        c->phase = 1;
                        curl_multi_add_handle(m, c->h);
                        continue;
                    }
                }
            } else if (ok && c->phase == 1 && code == 200 &&
                       strstr(c->resp, "\"status\":\"affirming\"") != NULL) {
                if (c->t0 >= g->t_start && now < g->t_end) {
                    if (ts->nlat == ts->caplat) {
                        ts->caplat = ts->caplat * 2 + 1024;
                        ts->lat = realloc(ts->lat, ts->caplat * sizeof(double));
                    }
                    ts->lat[ts->nlat++] = now - c->t0;
                    ts->pairs++;
                }
            } else {
                ok = 0;
            }
            if (!ok) {
                if (c->t0 >= g->t_start)
                    ts->errors++;
                if (ts->firsterr[0] == '\0')
                    snprintf(ts->firsterr, sizeof(ts->firsterr), "phase %d: curl %d, HTTP %ld: %.180s",
                             c->phase, (int)msg->data.result, code, c->resp ? c->resp : "");
            }
            start(c, g, h_chal, "/v1/challenge", "");
            c->phase = 0;
            c->t0 = now;
            curl_multi_add_handle(m, c->h);
        }
        curl_multi_poll(m, NULL, 0, 5, NULL);
    }
    for (size_t i = 0; i < ts->n; i++) {
        curl_multi_remove_handle(m, cs[i].h);
        curl_easy_cleanup(cs[i].h);
        free(cs[i].resp);
        free(cs[i].body);
    }
    free(cs);
    curl_multi_cleanup(m);
    curl_slist_free_all(h_chal);
    curl_slist_free_all(h_att);
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

int bench_http_main(int argc, char **argv);
int bench_http_main(int argc, char **argv)
{
    struct cfg g;
    const char *keyfile = NULL;
    struct tstate *ts;
    pthread_t *th;
    double *all, p50, p99;
    size_t nall = 0, pairs = 0, errors = 0;

    memset(&g, 0, sizeof(g));
    g.natt = 10;
    g.conns = 16;
    g.threads = 1;
    g.seconds = 10;
    g.warmup = 2;
    g.label = "http";
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) { fprintf(stderr, "vfy-bench http: %s needs a value\n", argv[i]); return 2; }
        if (strcmp(argv[i], "--url") == 0) g.url = argv[++i];
        else if (strcmp(argv[i], "--token") == 0) g.token = argv[++i];
        else if (strcmp(argv[i], "--cacert") == 0) g.cacert = argv[++i];
        else if (strcmp(argv[i], "--key") == 0) keyfile = argv[++i];
        else if (strcmp(argv[i], "--label") == 0) g.label = argv[++i];
        else if (strcmp(argv[i], "--attesters") == 0) g.natt = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--conns") == 0) g.conns = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--threads") == 0) g.threads = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--seconds") == 0) g.seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--warmup") == 0) g.warmup = atof(argv[++i]);
        else { fprintf(stderr, "vfy-bench http: bad argument %s\n", argv[i]); return 2; }
    }
    if (g.url == NULL || g.token == NULL || g.cacert == NULL || keyfile == NULL || g.natt == 0 ||
        g.conns == 0 || g.threads == 0 || g.threads > g.conns)
        return fprintf(stderr, "vfy-bench http: need --url --token --cacert --key\n"), 2;
    bench_fixture_init(&g.f);
    if (bench_ak_load(&g.ak, keyfile) != 0)
        return fprintf(stderr, "vfy-bench http: cannot load %s\n", keyfile), 1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    g.t_start = bench_now() + g.warmup;
    g.t_end = g.t_start + g.seconds;
    ts = calloc(g.threads, sizeof(*ts));
    th = calloc(g.threads, sizeof(*th));
    for (size_t t = 0; t < g.threads; t++) {
        ts[t].cfg = &g;
        ts[t].first = t * g.conns / g.threads;
        ts[t].n = (t + 1) * g.conns / g.threads - ts[t].first;
        pthread_create(&th[t], NULL, run, &ts[t]);
    }
    for (size_t t = 0; t < g.threads; t++) {
        pthread_join(th[t], NULL);
        nall += ts[t].nlat;
    }
    all = malloc((nall + 1) * sizeof(double));
    nall = 0;
    for (size_t t = 0; t < g.threads; t++) {
        memcpy(all + nall, ts[t].lat, ts[t].nlat * sizeof(double));
        nall += ts[t].nlat;
        pairs += ts[t].pairs;
        errors += ts[t].errors;
        if (ts[t].firsterr[0])
            fprintf(stderr, "vfy-bench http: first error: %s\n", ts[t].firsterr);
        free(ts[t].lat);
    }
    qsort(all, nall, sizeof(double), cmp_d);
    p50 = nall ? all[(size_t)(0.50 * (double)(nall - 1))] : 0;
    p99 = nall ? all[(size_t)(0.99 * (double)(nall - 1))] : 0;
    printf("bench: %s_pairs_per_s=%.0f pairs/s\n", g.label, (double)pairs / g.seconds);
    printf("bench: %s_p50_ms=%.2f ms\n", g.label, p50 * 1000);
    printf("bench: %s_p99_ms=%.2f ms\n", g.label, p99 * 1000);
    printf("bench: %s_errors=%zu requests\n", g.label, errors);
    free(all);
    free(ts);
    free(th);
    bench_ak_free(&g.ak);
    curl_global_cleanup();
    return errors > 0 && pairs == 0 ? 1 : 0;
}
