/*
 * http.c — response helpers (JSON, RFC 9457 problems), header parsing and
 * bearer-token authentication for verifierd's endpoints.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "vd.h"

uint64_t vd_now(void)
{
    return (uint64_t)time(NULL);
}

void vd_free_secret(char *s)
{
    if (s == NULL)
        return;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
}

void vd_rfc3339(char out[32], uint64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

enum MHD_Result vd_send(struct MHD_Connection *c, struct vd_req *r, unsigned status,
                        const char *ctype, const char *body, size_t len)
{
    return vd_send_hdr(c, r, status, ctype, body, len, NULL, NULL);
}

enum MHD_Result vd_send_hdr(struct MHD_Connection *c, struct vd_req *r, unsigned status,
                            const char *ctype, const char *body, size_t len, const char *hname,
                            const char *hvalue)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return MHD_NO;
    if (ctype != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (hname != NULL && hvalue != NULL)
        MHD_add_response_header(resp, hname, hvalue);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Request-Id", r->id);
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"verifierd\"");
    if (status == 405)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
                                r->allow != NULL ? r->allow
                                : r->ep == VD_EP_ADMIN ? "GET, POST"
                                : (r->ep == VD_EP_CHALLENGE || r->ep == VD_EP_ATTEST) ? "POST"
                                                                                      : "GET, HEAD");
    if (status == 429)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    /* A generation retired by a reload sends its clients to the new one: a
     * keep-alive client would otherwise keep it busy to the end of the
     * drain. Past the drain (reload or stop) every answer closes. */
    if (r->gate != NULL &&
        (atomic_load(&r->gate->draining) || atomic_load(&r->gate->cutting))) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
        if (status == 503)
            MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    } else if (r->close) {
        /* the request's framing is in doubt: nothing after it is read */
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    }
    /* libmicrohttpd sends the body after the header unless the request
     * was HEAD (204 and 304 have none; verifierd sends neither). */
    if (len > 0 && strcmp(r->method, "HEAD") != 0)
        vd_tls_hold_arm(c);
    ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    r->status = status;
    if (ret != MHD_YES)
        vd_tls_hold_flush(c);   /* disarm: nothing was queued */
    else
        r->queued = 1;
    vd_consume_leave(r);        /* queued (or failed): the stop need not wait for it */
    return ret;
}

int vd_consume_enter(struct vd_req *r)
{
    if (r->gate == NULL || r->consuming)
        return 0;
    /* Raise, then look (retire_gen sets cutting, then reads consuming). */
    atomic_fetch_add(&r->gate->consuming, 1);
    if (atomic_load(&r->gate->cutting)) {
        atomic_fetch_sub(&r->gate->consuming, 1);
        return -1;
    }
    r->consuming = 1;
    return 0;
}

void vd_consume_leave(struct vd_req *r)
{
    if (r->consuming) {
        r->consuming = 0;
        atomic_fetch_sub(&r->gate->consuming, 1);
    }
}

enum MHD_Result vd_send_json(struct MHD_Connection *c, struct vd_req *r, unsigned status,
                             const char *json)
{
    return vd_send(c, r, status, "application/json", json, strlen(json));
}

static const char *status_title(unsigned status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 503: return "Service Unavailable";
    default: return status >= 500 ? "Internal Server Error" : "Error";
    }
}

enum MHD_Result vd_problem(struct MHD_Connection *c, struct vd_req *r, unsigned status,
                           const char *detail)
{
    cJSON *o = cJSON_CreateObject();
    char *s, d[1024];
    enum MHD_Result ret;

    if (o == NULL)
        return MHD_NO;
    cJSON_AddStringToObject(o, "type", "about:blank");
    cJSON_AddStringToObject(o, "title", status_title(status));
    cJSON_AddNumberToObject(o, "status", status);
    /* A detail may echo client bytes (a key, a decoded path): the body
     * stays UTF-8 JSON whatever they were (cJSON copies bytes as given). */
    if (detail != NULL) {
        vd_utf8_copy(d, sizeof(d), detail);
        cJSON_AddStringToObject(o, "detail", d);
    }
    cJSON_AddStringToObject(o, "instance", r->id);
    s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (s == NULL)
        return MHD_NO;
    ret = vd_send(c, r, status, "application/problem+json", s, strlen(s));
    free(s);
    return ret;
}

int vd_content_type_is(struct MHD_Connection *c, const char *want)
{
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    size_t n;

    if (ct == NULL)
        return -1;
    while (*ct == ' ')
        ct++;
    n = strcspn(ct, "; ");
    return (n == strlen(want) && strncasecmp(ct, want, n) == 0) ? 0 : -1;
}

int vd_accepts(struct MHD_Connection *c, const char *want)
{
    const char *acc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
    size_t wl = strlen(want);

    if (acc == NULL)
        return 0;
    for (const char *p = acc; *p != '\0';) {
        size_t n;

        while (*p == ' ' || *p == ',')
            p++;
        n = strcspn(p, ",;");
        while (n > 0 && p[n - 1] == ' ')
            n--;
        if (n == wl && strncasecmp(p, want, n) == 0)
            return 1;
        p += strcspn(p, ",");
    }
    return 0;
}

struct header_count {
    const char *name;
    unsigned n;
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    struct header_count *hc = cls;

    (void)kind;
    (void)value;
    if (strcasecmp(key, hc->name) == 0)
        hc->n++;
    return MHD_YES;
}

unsigned vd_header_count(struct MHD_Connection *c, const char *name)
{
    struct header_count hc = {name, 0};

    (void)MHD_get_connection_values(c, MHD_HEADER_KIND, count_header, &hc);
    return hc.n;
}

/* 1 for an RFC 9110 §5.6.2 tchar. */
static int tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

struct framing {
    const char *bad_name;   /* the first header name that is not a token */
    const char *te;         /* the (first) Transfer-Encoding value */
    unsigned n_te, n_cl;
};

static enum MHD_Result framing_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    struct framing *f = cls;
    const unsigned char *k = (const unsigned char *)key;

    (void)kind;
    if (f->bad_name == NULL) {
        size_t i = 0;

        while (k[i] != '\0' && tchar(k[i]))
            i++;
        if (i == 0 || k[i] != '\0')
            f->bad_name = key;
    }
    if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0 && f->n_te++ == 0)
        f->te = value != NULL ? value : "";
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
        f->n_cl++;
    return MHD_YES;
}

const char *vd_framing_error(struct MHD_Connection *c, char *buf, size_t cap)
{
    struct framing f = {NULL, NULL, 0, 0};
    char name[65];

    (void)MHD_get_connection_values(c, MHD_HEADER_KIND, framing_header, &f);
    /* "Content-Length : 5" is stored under "Content-Length ": neither
     * libmicrohttpd nor a check by name sees it, and its body would be
     * read as the next request, which a proxy in front took for a body. */
    if (f.bad_name != NULL) {
        vd_utf8_copy(name, sizeof(name), f.bad_name);
        snprintf(buf, cap, "header name \"%s\" is not an HTTP token", name);
        return buf;
    }
    if (f.n_te > 1)
        return "Transfer-Encoding repeated";
    /* libmicrohttpd decodes chunked alone; any other coding left it
     * waiting for a body end that never comes (RFC 9112 §6.1: 400 or 501). */
    if (f.n_te == 1 && strcasecmp(f.te, "chunked") != 0)
        return "Transfer-Encoding other than chunked";
    /* One framing only (RFC 9112 §6.3): a proxy in front that read the
     * other one would see a different request (smuggling). */
    if (f.n_cl > 1 || (f.n_cl == 1 && f.n_te == 1))
        return "Content-Length repeated or with Transfer-Encoding";
    return NULL;
}

enum MHD_Result vd_auth(struct MHD_Connection *c, struct vd_req *r, vfy_token_role need,
                        int *done)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    char name[VFY_STORE_NAME_MAX + 1];
    uint8_t sha[32];
    vfy_token_role role;
    int64_t expires_at = 0;
    vfy_rc rc;
    struct timespec ts;

    *done = 1;
    if (h != NULL && vd_header_count(c, MHD_HTTP_HEADER_AUTHORIZATION) > 1)
        return vd_problem(c, r, 400, "more than one Authorization header");
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 || h[7] == '\0')
        return vd_problem(c, r, 401, "a bearer token is required");
    h += 7;
    while (*h == ' ')
        h++;
    if (*h == '\0')   /* "Bearer" and spaces: no token either */
        return vd_problem(c, r, 401, "a bearer token is required");
    if (strlen(h) > 256)
        return vd_problem(c, r, 401, "unknown token");
    if (vfy_sha256(h, strlen(h), sha) != VFY_OK)
        return vd_problem(c, r, 500, "internal error");
    rc = vd_token_lookup(sha, name, &role, &expires_at);
    if (rc == VFY_E_NOT_FOUND)
        return vd_problem(c, r, 401, "unknown or revoked token");
    if (rc == VFY_OK && expires_at != 0 && (int64_t)vd_now() >= expires_at)
        return vd_problem(c, r, 401, "token expired");
    if (rc != VFY_OK) {
        vd_log("error", "token lookup: %s", vfy_strerror(rc));
        return vd_problem(c, r, 503, "token store unavailable");
    }
    snprintf(r->token, sizeof(r->token), "%s", name);
    r->role = role;
    if (role != need)
        return vd_problem(c, r, 403, need == VFY_ROLE_ADMIN ? "this endpoint needs an admin token"
                                                           : "this endpoint needs an attest token");
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (vd_srv->rl != NULL &&
        !vd_ratelimit_allow(vd_srv->rl, sha, (double)ts.tv_sec + ts.tv_nsec / 1e9))
        return vd_problem(c, r, 429, "rate limit exceeded for this token");
    r->authed = 1;
    *done = 0;
    return MHD_YES;
}

int vd_query_u64(struct MHD_Connection *c, const char *key, uint64_t def, uint64_t max,
                     uint64_t *out)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
    char *end;
    unsigned long long n;

    if (v == NULL || *v == '\0') {
        *out = def;
        return 0;
    }
    if (*v < '0' || *v > '9')   /* digits only: no sign, no leading whitespace */
        return -1;
    errno = 0;
    n = strtoull(v, &end, 10);
    if (errno != 0 || *end != '\0' || n > max)
        return -1;
    *out = n;
    return 0;
}

cJSON *vd_json_body(struct MHD_Connection *c, struct vd_req *r, enum MHD_Result *ret)
{
    const char *why = NULL;
    char msg[160];
    cJSON *o;

    if (vd_content_type_is(c, "application/json") != 0) {
        *ret = vd_problem(c, r, 415, "expected Content-Type: application/json");
        return NULL;
    }
    /* libverify's strict rule first: cJSON alone would cut a string at a
     * \u0000 ("payments.transfer\u0000-old" revoking payments.transfer),
     * read 1.0 as 1 and take invalid UTF-8. */
    if (vfy_json_check(r->body, r->len, &why) != VFY_OK) {
        snprintf(msg, sizeof(msg), "body is not strict JSON: %s",
                 why != NULL ? why : "not well-formed JSON");
        *ret = vd_problem(c, r, 400, msg);
        return NULL;
    }
    o = cJSON_ParseWithLength(r->body, r->len);
    if (o == NULL || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        *ret = vd_problem(c, r, 400, "body must be one JSON object");
        return NULL;
    }
    return o;
}

int vd_json_only_fields(struct MHD_Connection *c, struct vd_req *r, const cJSON *o,
                        const char *const *allowed, enum MHD_Result *ret)
{
    const cJSON *it;
    char msg[128], key[65];

    cJSON_ArrayForEach(it, o) {
        int ok = 0;

        for (size_t i = 0; allowed[i] != NULL; i++)
            if (strcmp(it->string, allowed[i]) == 0)
                ok = 1;
        for (const cJSON *x = it->next; ok && x != NULL; x = x->next)
            if (strcmp(x->string, it->string) == 0)
                ok = 0;
        if (!ok) {
            vd_utf8_copy(key, sizeof(key), it->string);   /* cut between characters */
            snprintf(msg, sizeof(msg), "unknown or repeated field \"%s\"", key);
            *ret = vd_problem(c, r, 400, msg);
            return -1;
        }
    }
    return 0;
}

int vd_json_strings(struct MHD_Connection *c, struct vd_req *r, const cJSON *o,
                    const char *const *names, enum MHD_Result *ret)
{
    char msg[128];

    for (size_t i = 0; names[i] != NULL; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, names[i]);

        if (v != NULL && !cJSON_IsString(v)) {
            snprintf(msg, sizeof(msg), "field \"%s\" must be a string", names[i]);
            *ret = vd_problem(c, r, 400, msg);
            return -1;
        }
    }
    return 0;
}

int vd_name_ok(const char *s)
{
    size_t len, i = 0;

    if (s == NULL || *s == '\0' || (len = strlen(s)) > VFY_STORE_NAME_MAX)
        return 0;
    while (i < len) {   /* as the store checks names (vfy_name_char) */
        size_t n = vfy_name_char(s + i, len - i);

        if (n == 0)
            return 0;
        i += n;
    }
    return 1;
}

void vd_utf8_scrub(char *s)
{
    size_t len = strlen(s), i = 0;

    while (i < len) {
        size_t n = vfy_utf8_seq(s + i, len - i);   /* libverify's rule, the store's */

        if (n == 0)
            s[i++] = '?';
        else
            i += n;
    }
}

void vd_utf8_copy(char *out, size_t cap, const char *s)
{
    size_t len = strlen(s), i = 0, o = 0;

    if (cap == 0)
        return;
    while (i < len) {
        size_t n = vfy_utf8_seq(s + i, len - i), w = n != 0 ? n : 1;

        if (o + w >= cap)
            break;
        if (n != 0)
            memcpy(out + o, s + i, n);
        else
            out[o] = '?';
        o += w;
        i += w;
    }
    out[o] = '\0';
}

size_t vd_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    /* A %00 would cut the decoded path short ("/healthz%00x" served as
     * /healthz): such a path is left encoded, and so matches no route. */
    if (strstr(s, "%00") != NULL)
        return strlen(s);
    return MHD_http_unescape(s);
}
