/*
 * log.c — structured JSON log lines on stderr, one per request and one per
 * notable event. Never logs a token, a nonce key or a private key: callers
 * pass names and ids only.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vd.h"

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static void emit(cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);

    if (s == NULL)
        return;
    pthread_mutex_lock(&log_mu);
    fputs(s, stderr);
    fputc('\n', stderr);
    fflush(stderr);
    pthread_mutex_unlock(&log_mu);
    free(s);
}

static void add_time(cJSON *o)
{
    struct timespec ts;
    char buf[40], frac[24];
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(frac, sizeof(frac), ".%03dZ", (int)(ts.tv_nsec / 1000000) % 1000);
    strncat(buf, frac, sizeof(buf) - strlen(buf) - 1);
    cJSON_AddStringToObject(o, "ts", buf);
}

void vd_log(const char *level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    cJSON *o = cJSON_CreateObject();

    if (o == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    add_time(o);
    cJSON_AddStringToObject(o, "level", level);
    cJSON_AddStringToObject(o, "msg", msg);
    emit(o);
    cJSON_Delete(o);
}

/* The start of a request's log line (NULL when quiet, or out of memory). */
static cJSON *request_line(const char *id, enum vd_endpoint ep)
{
    cJSON *o;

    if ((vd_srv != NULL && vd_srv->cfg->quiet) || (o = cJSON_CreateObject()) == NULL)
        return NULL;
    add_time(o);
    cJSON_AddStringToObject(o, "level", "info");
    cJSON_AddStringToObject(o, "request_id", id);
    cJSON_AddStringToObject(o, "endpoint", vd_endpoint_name(ep));
    return o;
}

void vd_log_request(const struct vd_req *r, const char *method, const char *path, double secs)
{
    cJSON *o = request_line(r->id, r->ep);

    if (o == NULL)
        return;
    /* The path only: query strings are not logged. The client chose the
     * method, the path and the attester name: bytes that are not UTF-8
     * become '?', so that every line stays valid JSON for strict log
     * pipelines. */
    {
        char m[sizeof(r->method)], p[sizeof(r->path)], a[sizeof(r->attester)];

        vd_utf8_copy(m, sizeof(m), method != NULL ? method : "");
        cJSON_AddStringToObject(o, "method", m);

        snprintf(p, sizeof(p), "%s", path != NULL ? path : "");
        vd_utf8_scrub(p);
        cJSON_AddStringToObject(o, "path", p);
        cJSON_AddNumberToObject(o, "status", r->status);
        if (r->token[0] != '\0')
            cJSON_AddStringToObject(o, "token_name", r->token);
        if (r->attester[0] != '\0') {
            snprintf(a, sizeof(a), "%s", r->attester);
            vd_utf8_scrub(a);
            cJSON_AddStringToObject(o, "attester", a);
        }
    }
    if (r->verdict[0] != '\0')
        cJSON_AddStringToObject(o, "verdict", r->verdict);
    cJSON_AddNumberToObject(o, "latency_ms", secs * 1000.0);
    emit(o);
    cJSON_Delete(o);
}

void vd_log_mhd_answer(const char *id, unsigned status)
{
    cJSON *o = request_line(id, VD_EP_OTHER);

    if (o == NULL)
        return;
    cJSON_AddNumberToObject(o, "status", status);
    cJSON_AddStringToObject(o, "answered_by", "libmicrohttpd");
    emit(o);
    cJSON_Delete(o);
}
