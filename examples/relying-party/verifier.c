/*
 * verifier.c — verifierd client for the example relying party (see
 * verifier.h; docs/api.md). libcurl for HTTPS, cJSON for the bodies.
 * Caveats: responses are capped at 2 MiB; a non-2xx answer is an error whose
 * text carries the problem+json "detail" when there is one.
 */
#include "verifier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/crypto.h>

#include <verify/verify.h>

#define RESP_MAX (2u * 1024 * 1024)

struct vclient {
    CURL *curl;
    char *base;
    char *ca;
    char *auth; /* "Authorization: Bearer ..." */
};

struct buf {
    char *p;
    size_t len;
    int overflow;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct buf *b = arg;
    size_t n = size * nmemb;
    char *np;

    if (n > RESP_MAX - b->len) {
        b->overflow = 1;
        return 0;
    }
    np = realloc(b->p, b->len + n + 1);
    if (np == NULL)
        return 0;
    memcpy(np + b->len, ptr, n);
    b->p = np;
    b->len += n;
    b->p[b->len] = 0;
    return n;
}

int vc_new(vclient **out, const char *base, const char *ca, const char *token)
{
    vclient *vc = calloc(1, sizeof(*vc));
    size_t alen = strlen(token) + 32;

    *out = NULL;
    if (vc == NULL)
        return -1;
    vc->curl = curl_easy_init();
    vc->base = strdup(base);
    vc->ca = ca ? strdup(ca) : NULL;
    vc->auth = malloc(alen);
    if (vc->curl == NULL || vc->base == NULL || (ca && vc->ca == NULL) || vc->auth == NULL) {
        vc_free(&vc);
        return -1;
    }
    snprintf(vc->auth, alen, "Authorization: Bearer %s", token);
    *out = vc;
    return 0;
}

void vc_free(vclient **p)
{
    vclient *vc = p ? *p : NULL;

    if (vc == NULL)
        return;
    if (vc->curl)
        curl_easy_cleanup(vc->curl);
    free(vc->base);
    free(vc->ca);
    if (vc->auth)
        OPENSSL_cleanse(vc->auth, strlen(vc->auth));
    free(vc->auth);
    free(vc);
    *p = NULL;
}

/* One request; *@code the HTTP status, @resp the body (caller frees resp->p). */
static int request(vclient *vc, const char *method, const char *path, const char *body,
                   int auth, long *code, struct buf *resp, char *err, size_t err_cap)
{
    char url[2048];
    struct curl_slist *hdrs = NULL;
    CURLcode cc;

    memset(resp, 0, sizeof(*resp));
    *code = 0;
    snprintf(url, sizeof(url), "%s%s", vc->base, path);
    curl_easy_reset(vc->curl);
    curl_easy_setopt(vc->curl, CURLOPT_URL, url);
    curl_easy_setopt(vc->curl, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(vc->curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (vc->ca)
        curl_easy_setopt(vc->curl, CURLOPT_CAINFO, vc->ca);
    curl_easy_setopt(vc->curl, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(vc->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(vc->curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(vc->curl, CURLOPT_WRITEDATA, resp);
    if (auth)
        hdrs = curl_slist_append(hdrs, vc->auth);
    if (body != NULL) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        curl_easy_setopt(vc->curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(vc->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(vc->curl, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(vc->curl, CURLOPT_POSTFIELDSIZE, 0L);
    }
    curl_easy_setopt(vc->curl, CURLOPT_HTTPHEADER, hdrs);
    cc = curl_easy_perform(vc->curl);
    curl_slist_free_all(hdrs);
    if (cc != CURLE_OK) {
        snprintf(err, err_cap, "%s %s: %s%s", method, path, curl_easy_strerror(cc),
                 resp->overflow ? " (response too large)" : "");
        free(resp->p);
        resp->p = NULL;
        return -1;
    }
    curl_easy_getinfo(vc->curl, CURLINFO_RESPONSE_CODE, code);
    if (resp->p == NULL) {
        resp->p = calloc(1, 1);
        if (resp->p == NULL)
            return -1;
    }
    return 0;
}

static int http_error(const char *what, long code, const struct buf *b, char *err, size_t cap)
{
    cJSON *j = cJSON_Parse(b->p);
    const cJSON *d = j ? cJSON_GetObjectItemCaseSensitive(j, "detail") : NULL;

    snprintf(err, cap, "%s: HTTP %ld%s%s", what, code, cJSON_IsString(d) ? ": " : "",
             cJSON_IsString(d) ? d->valuestring : "");
    cJSON_Delete(j);
    return -1;
}

static int b64_32(const char *s, uint8_t out[32])
{
    size_t n = 0;

    if (s == NULL || vfy_b64url_decode(out, 32, &n, s, strlen(s)) != VFY_OK || n != 32)
        return -1;
    return 0;
}

int vc_challenge(vclient *vc, const char *attester, uint8_t nonce[32], long *ttl_s, char *err,
                 size_t err_cap)
{
    struct buf b;
    long code;
    cJSON *j = NULL, *req = NULL;
    const cJSON *n, *t;
    char *body = NULL;
    int ret = -1;

    /* Named, so the nonce lives as long as the attester's policy allows:
     * that policy also bounds its age when the evidence is appraised. */
    if (attester != NULL &&
        ((req = cJSON_CreateObject()) == NULL ||
         cJSON_AddStringToObject(req, "attester", attester) == NULL ||
         (body = cJSON_PrintUnformatted(req)) == NULL)) {
        cJSON_Delete(req);
        snprintf(err, err_cap, "POST /v1/challenge: out of memory");
        return -1;
    }
    cJSON_Delete(req);
    if (request(vc, "POST", "/v1/challenge", body, 1, &code, &b, err, err_cap) != 0) {
        cJSON_free(body);
        return -1;
    }
    cJSON_free(body);
    if (code != 201) {
        http_error("POST /v1/challenge", code, &b, err, err_cap);
        goto out;
    }
    j = cJSON_Parse(b.p);
    n = cJSON_GetObjectItemCaseSensitive(j, "nonce");
    t = cJSON_GetObjectItemCaseSensitive(j, "ttl_s");
    if (!cJSON_IsString(n) || b64_32(n->valuestring, nonce) != 0) {
        snprintf(err, err_cap, "POST /v1/challenge: no 32-byte nonce in the answer");
        goto out;
    }
    *ttl_s = cJSON_IsNumber(t) ? (long)t->valuedouble : 0;
    ret = 0;
out:
    cJSON_Delete(j);
    free(b.p);
    return ret;
}

void vc_result_clear(vc_result *res)
{
    free(res->ear);
    memset(res, 0, sizeof(*res));
}

int vc_attest(vclient *vc, const uint8_t nonce[32], const uint8_t cb[32], const char *attester,
              const char *evidence, size_t evidence_len, unsigned max_ttl_s, vc_result *res,
              char *err, size_t err_cap)
{
    char nb[VFY_B64URL_LEN(32) + 1], cbb[VFY_B64URL_LEN(32) + 1];
    cJSON *req = NULL, *ev = NULL, *j = NULL;
    const cJSON *e, *r, *s;
    char *body = NULL;
    struct buf b = {NULL, 0, 0};
    long code;
    int ret = -1;

    memset(res, 0, sizeof(*res));
    /* The evidence came from the agent: embed it only as a parsed JSON object,
     * so it cannot add members to the request. */
    ev = cJSON_ParseWithLength(evidence, evidence_len);
    if (!cJSON_IsObject(ev)) {
        snprintf(err, err_cap, "the agent's evidence is not a JSON object");
        goto out;
    }
    vfy_b64url_encode(nb, sizeof(nb), nonce, 32);
    vfy_b64url_encode(cbb, sizeof(cbb), cb, 32);
    req = cJSON_CreateObject();
    if (req == NULL || !cJSON_AddStringToObject(req, "nonce", nb) ||
        !cJSON_AddStringToObject(req, "channel_binding", cbb) ||
        !cJSON_AddStringToObject(req, "attester", attester))
        goto nomem;
    cJSON_AddItemToObject(req, "evidence", ev);
    ev = NULL;
    if (max_ttl_s > 0 && !cJSON_AddNumberToObject(req, "max_ttl_s", max_ttl_s))
        goto nomem;
    body = cJSON_PrintUnformatted(req);
    if (body == NULL)
        goto nomem;
    if (request(vc, "POST", "/v1/attest", body, 1, &code, &b, err, err_cap) != 0)
        goto out;
    if (code != 200) {
        http_error("POST /v1/attest", code, &b, err, err_cap);
        goto out;
    }
    j = cJSON_Parse(b.p);
    e = cJSON_GetObjectItemCaseSensitive(j, "ear");
    r = cJSON_GetObjectItemCaseSensitive(j, "result_id");
    s = cJSON_GetObjectItemCaseSensitive(j, "status");
    if (!cJSON_IsString(e) || !cJSON_IsString(r) || !cJSON_IsString(s)) {
        snprintf(err, err_cap, "POST /v1/attest: unexpected answer");
        goto out;
    }
    res->ear = strdup(e->valuestring);
    if (res->ear == NULL)
        goto nomem;
    snprintf(res->result_id, sizeof(res->result_id), "%s", r->valuestring);
    snprintf(res->status, sizeof(res->status), "%s", s->valuestring);
    ret = 0;
    goto out;
nomem:
    snprintf(err, err_cap, "out of memory");
out:
    cJSON_Delete(ev);
    cJSON_Delete(req);
    cJSON_Delete(j);
    free(body);
    free(b.p);
    OPENSSL_cleanse(cbb, sizeof(cbb));
    return ret;
}

int vc_keys(vclient *vc, char **jwks, size_t *len, char *err, size_t err_cap)
{
    struct buf b;
    long code;

    *jwks = NULL;
    if (request(vc, "GET", "/v1/keys", NULL, 0, &code, &b, err, err_cap) != 0)
        return -1;
    if (code != 200) {
        http_error("GET /v1/keys", code, &b, err, err_cap);
        free(b.p);
        return -1;
    }
    *jwks = b.p;
    *len = b.len;
    return 0;
}

int vc_revocations(vclient *vc, uint64_t *cursor, unsigned page_size, unsigned max_pages,
                   void (*fn)(void *arg, const char *result_id, const char *reason), void *arg,
                   char *err, size_t err_cap)
{
    for (unsigned page = 0; page < max_pages; page++) {
        char path[160];
        struct buf b;
        long code;
        cJSON *j;
        const cJSON *c, *list, *it;
        int n = 0;
        uint64_t next;

        snprintf(path, sizeof(path), "/v1/revocations?after=%llu&limit=%u",
                 (unsigned long long)*cursor, page_size);
        if (request(vc, "GET", path, NULL, 1, &code, &b, err, err_cap) != 0)
            return -1;
        if (code != 200) {
            http_error("GET /v1/revocations", code, &b, err, err_cap);
            free(b.p);
            if (code == 409)   /* the feed was reset: read it again from 0 */
                *cursor = 0;
            return -1;
        }
        j = cJSON_Parse(b.p);
        free(b.p);
        c = cJSON_GetObjectItemCaseSensitive(j, "cursor");
        list = cJSON_GetObjectItemCaseSensitive(j, "revoked");
        if (!cJSON_IsNumber(c) || c->valuedouble < 0 || !cJSON_IsArray(list)) {
            cJSON_Delete(j);
            snprintf(err, err_cap, "GET /v1/revocations: unexpected answer");
            return -1;
        }
        next = (uint64_t)c->valuedouble;
        cJSON_ArrayForEach(it, list) {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "result_id");
            const cJSON *why = cJSON_GetObjectItemCaseSensitive(it, "reason");
            if (cJSON_IsString(id))
                fn(arg, id->valuestring, cJSON_IsString(why) ? why->valuestring : "");
            n++;
        }
        cJSON_Delete(j);
        if (n == 0 || next <= *cursor) {
            *cursor = next > *cursor ? next : *cursor;
            return 0;
        }
        *cursor = next;
    }
    return 1;   /* not at the end: the caller must not take silence for "not revoked" */
}

int vc_result_state(vclient *vc, const char *result_id, char *state, size_t state_cap,
                    char *reason, size_t reason_cap, char *err, size_t err_cap)
{
    char path[200], *esc;
    struct buf b;
    long code;
    cJSON *j;
    const cJSON *st, *why;

    if (strlen(result_id) > 64 || (esc = curl_easy_escape(NULL, result_id, 0)) == NULL) {
        snprintf(err, err_cap, "result id unusable in a URL");
        return -1;
    }
    snprintf(path, sizeof(path), "/v1/results/%s", esc);
    curl_free(esc);
    if (request(vc, "GET", path, NULL, 1, &code, &b, err, err_cap) != 0)
        return -1;
    if (code != 200) {
        http_error("GET /v1/results", code, &b, err, err_cap);
        free(b.p);
        return -1;
    }
    j = cJSON_Parse(b.p);
    free(b.p);
    st = cJSON_GetObjectItemCaseSensitive(j, "state");
    why = cJSON_GetObjectItemCaseSensitive(j, "reason");
    if (!cJSON_IsString(st)) {
        cJSON_Delete(j);
        snprintf(err, err_cap, "GET /v1/results: unexpected answer");
        return -1;
    }
    snprintf(state, state_cap, "%s", st->valuestring);
    snprintf(reason, reason_cap, "%s", cJSON_IsString(why) ? why->valuestring : "");
    cJSON_Delete(j);
    return 0;
}
