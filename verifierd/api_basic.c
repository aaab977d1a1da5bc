/*
 * api_basic.c — the unauthenticated endpoints: GET /v1/keys (JWKS),
 * GET /healthz, GET /metrics (Prometheus text) and the discovery document
 * GET /.well-known/verifierd.
 */
#include <stdlib.h>
#include <string.h>

#include "vd.h"

enum MHD_Result vd_api_keys(struct MHD_Connection *c, struct vd_req *r, const char *method,
                            const char *path)
{
    enum MHD_Result ret;
    char *copy;

    (void)method;
    (void)path;
    pthread_rwlock_rdlock(&vd_srv->keys_lock);
    copy = strdup(vd_srv->keys.jwks);
    pthread_rwlock_unlock(&vd_srv->keys_lock);
    if (copy == NULL)
        return MHD_NO;
    ret = vd_send(c, r, 200, "application/jwk-set+json", copy, strlen(copy));
    free(copy);
    return ret;
}

enum MHD_Result vd_api_health(struct MHD_Connection *c, struct vd_req *r, const char *method,
                              const char *path)
{
    uint64_t gen;

    (void)method;
    (void)path;
    if (vd_store() == NULL || vfy_store_generation(vd_store(), &gen) != VFY_OK)
        return vd_problem(c, r, 503, "database unavailable");
    return vd_send_json(c, r, 200, "{\"status\":\"ok\"}");
}

enum MHD_Result vd_api_metrics(struct MHD_Connection *c, struct vd_req *r, const char *method,
                               const char *path)
{
    size_t len = 0;
    char *text = vd_metrics_render(&len);
    enum MHD_Result ret;

    (void)method;
    (void)path;
    if (text == NULL)
        return MHD_NO;
    ret = vd_send(c, r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
    return ret;
}

enum MHD_Result vd_api_wellknown(struct MHD_Connection *c, struct vd_req *r,
                                 const char *method, const char *path)
{
    cJSON *o = cJSON_CreateObject(), *a;
    char base[300], url[400], *s;
    enum MHD_Result ret;
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    static const char *media[] = {"application/cmw+json", "application/cmw+cbor"};

    (void)method;
    (void)path;
    if (o == NULL)
        return MHD_NO;
    /* --public-url when configured; else the Host header, which is client
     * input: only echoed if it looks like a host. */
    if (vd_srv->cfg->public_url != NULL) {
        snprintf(base, sizeof(base), "%s", vd_srv->cfg->public_url);
    } else {
        if (host == NULL || strlen(host) > 255 || strspn(host, VD_HOST_CHARS) != strlen(host))
            host = vd_srv->cfg->listen;
        snprintf(base, sizeof(base), "https://%s", host);
    }
    cJSON_AddStringToObject(o, "issuer", base);
    cJSON_AddStringToObject(o, "verifier", "verifierd " VFY_VERSION_STRING);
#define URL(key, p) snprintf(url, sizeof(url), "%s%s", base, p), cJSON_AddStringToObject(o, key, url)
    URL("challenge_endpoint", "/v1/challenge");
    URL("attest_endpoint", "/v1/attest");
    URL("jwks_uri", "/v1/keys");
    URL("results_endpoint", "/v1/results/{id}");
    URL("revocations_endpoint", "/v1/revocations");
#undef URL
    a = cJSON_AddArrayToObject(o, "evidence_media_types");
    for (size_t i = 0; i < 2; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(media[i]));
    a = cJSON_AddArrayToObject(o, "result_media_types");
    cJSON_AddItemToArray(a, cJSON_CreateString("application/json"));
    cJSON_AddItemToArray(a, cJSON_CreateString("application/eat+jwt"));
    a = cJSON_AddArrayToObject(o, "result_signing_alg_values_supported");
    cJSON_AddItemToArray(a, cJSON_CreateString("ES256"));
    cJSON_AddStringToObject(o, "ear_profile", vd_srv->cfg->ear_legacy ? "veraison" : "ietf");
    cJSON_AddStringToObject(o, "channel_binding", "tls-exporter");
    cJSON_AddStringToObject(o, "binder_label", VFY_BINDER_LABEL);
    s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (s == NULL)
        return MHD_NO;
    ret = vd_send_json(c, r, 200, s);
    free(s);
    return ret;
}
