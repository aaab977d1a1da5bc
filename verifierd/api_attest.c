/*
 * api_attest.c — POST /v1/attest (attest role, DESIGN §8).
 *
 *   {"nonce":"<b64url 32B>","channel_binding":"<b64url 32B>","attester":"<name>",
 *    "evidence":<CMW JSON object> | "<b64url CMW CBOR>","policy"?:"<id>","max_ttl_s"?:N}
 *
 * The nonce is consumed first (single use on this replica; tag and expiry
 * checked with the shared key), and its verdict is handed to the appraisal:
 * a replayed, expired or forged nonce yields a signed contraindicated EAR,
 * like every other appraisal failure. Only a malformed request (bad JSON,
 * bad field, evidence that is not a valid collection) gets a 4xx.
 * Accept: application/eat+jwt returns the bare JWS.
 */
#include <stdlib.h>
#include <string.h>

#include "vd.h"

static int b64_field(const cJSON *o, const char *key, uint8_t *out, size_t want)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    size_t n = 0;

    if (!cJSON_IsString(v) || strlen(v->valuestring) != VFY_B64URL_LEN(want))
        return -1;
    if (vfy_b64url_decode(out, want, &n, v->valuestring, strlen(v->valuestring)) != VFY_OK ||
        n != want)
        return -1;
    return 0;
}

static unsigned status_for(vfy_rc rc)
{
    switch (rc) {
    case VFY_E_DB: case VFY_E_DB_BUSY: case VFY_E_NOMEM: case VFY_E_INTERNAL: case VFY_E_IO:
    case VFY_E_DB_OPEN:
        return 503;
    case VFY_E_CMW_TOO_LARGE:
        return 413;
    default:
        return 400;
    }
}

enum MHD_Result vd_api_attest(struct MHD_Connection *c, struct vd_req *r, const char *method,
                              const char *path)
{
    static const char *allowed[] = {"nonce", "channel_binding", "attester", "evidence",
                                    "policy", "max_ttl_s"};
    cJSON *body = NULL;
    const cJSON *it, *ev, *att, *pol, *ttl;
    uint8_t nonce[VFY_NONCE_LEN], cb[VFY_CB_LEN], *evbytes = NULL;
    char *evjson = NULL, *jws = NULL, detail[400] = "", msg[512], ts[32];
    size_t evlen = 0;
    vfy_appraisal_request req;
    vfy_result *res = NULL;
    vfy_appraiser *ap;
    enum MHD_Result ret;
    vfy_rc rc;

    (void)method;
    (void)path;
    if (vd_content_type_is(c, "application/json") != 0)
        return vd_problem(c, r, 415, "expected Content-Type: application/json");
    if ((ap = vd_appraiser()) == NULL)
        return vd_problem(c, r, 503, "appraisal unavailable");
    body = cJSON_ParseWithLength(r->body != NULL ? r->body : "", r->len);
    if (body == NULL || !cJSON_IsObject(body)) {
        ret = vd_problem(c, r, 400, "body must be a JSON object");
        goto out;
    }
    cJSON_ArrayForEach(it, body) {
        int known = 0;
        for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
            if (it->string != NULL && strcmp(it->string, allowed[i]) == 0)
                known = 1;
        if (!known) {
            snprintf(msg, sizeof(msg), "unknown field \"%.64s\"", it->string != NULL ? it->string : "");
            ret = vd_problem(c, r, 400, msg);
            goto out;
        }
        for (const cJSON *o = it->next; o != NULL; o = o->next)
            if (o->string != NULL && strcmp(o->string, it->string) == 0) {
                snprintf(msg, sizeof(msg), "duplicate field \"%.64s\"", it->string);
                ret = vd_problem(c, r, 400, msg);
                goto out;
            }
    }
    if (b64_field(body, "nonce", nonce, sizeof(nonce)) != 0) {
        ret = vd_problem(c, r, 400, "nonce must be 32 bytes, base64url without padding");
        goto out;
    }
    if (b64_field(body, "channel_binding", cb, sizeof(cb)) != 0) {
        ret = vd_problem(c, r, 400, "channel_binding must be 32 bytes (tls-exporter), base64url without padding");
        goto out;
    }
    att = cJSON_GetObjectItemCaseSensitive(body, "attester");
    if (!cJSON_IsString(att) || att->valuestring[0] == '\0' || strlen(att->valuestring) > VFY_STORE_NAME_MAX) {
        ret = vd_problem(c, r, 400, "attester must be a name of 1..128 bytes");
        goto out;
    }
    snprintf(r->attester, sizeof(r->attester), "%s", att->valuestring);
    pol = cJSON_GetObjectItemCaseSensitive(body, "policy");
    if (pol != NULL && !cJSON_IsString(pol)) {
        ret = vd_problem(c, r, 400, "policy must be a string");
        goto out;
    }
    ttl = cJSON_GetObjectItemCaseSensitive(body, "max_ttl_s");
    if (ttl != NULL && (!cJSON_IsNumber(ttl) || ttl->valuedouble < 1 || ttl->valuedouble > 86400 ||
                        (double)(uint32_t)ttl->valuedouble != ttl->valuedouble)) {
        ret = vd_problem(c, r, 400, "max_ttl_s must be an integer 1..86400");
        goto out;
    }
    ev = cJSON_GetObjectItemCaseSensitive(body, "evidence");
    memset(&req, 0, sizeof(req));
    if (cJSON_IsObject(ev)) {
        if ((evjson = cJSON_PrintUnformatted(ev)) == NULL) {
            ret = MHD_NO;
            goto out;
        }
        req.evidence = (const uint8_t *)evjson;
        req.evidence_len = strlen(evjson);
        req.format = VFY_CMW_JSON;
    } else if (cJSON_IsString(ev)) {
        size_t cap = VFY_B64URL_DECODED_MAX(strlen(ev->valuestring));

        if ((evbytes = malloc(cap + 1)) == NULL ||
            vfy_b64url_decode(evbytes, cap, &evlen, ev->valuestring, strlen(ev->valuestring)) != VFY_OK) {
            ret = vd_problem(c, r, 400, "evidence string must be base64url CMW CBOR");
            goto out;
        }
        req.evidence = evbytes;
        req.evidence_len = evlen;
        req.format = VFY_CMW_CBOR;
    } else {
        ret = vd_problem(c, r, 400, "evidence must be a CMW JSON object or a base64url CMW CBOR string");
        goto out;
    }

    /* The nonce: used once, whatever the outcome. */
    rc = vfy_nonce_consume(vd_srv->nonce_key, vd_srv->nonce_cache, nonce, sizeof(nonce), vd_now());
    if (rc == VFY_E_NONCE_CACHE_FULL) {
        vd_log("warn", "used-nonce cache full; refusing attestations until nonces expire");
        ret = vd_problem(c, r, 503, "too many outstanding nonces; retry shortly");
        goto out;
    }
    req.nonce = nonce;
    req.nonce_status = rc;
    req.channel_binding = cb;
    req.attester = att->valuestring;
    req.policy_id = pol != NULL ? pol->valuestring : NULL;
    req.max_ttl_s = ttl != NULL ? (uint32_t)ttl->valuedouble : 0;
    rc = vfy_appraise(ap, &req, &res, detail, sizeof(detail));
    if (rc != VFY_OK) {
        snprintf(msg, sizeof(msg), "%s%s%s", vfy_strerror(rc), detail[0] ? ": " : "", detail);
        if (status_for(rc) == 503)
            vd_log("error", "appraisal: %s", msg);
        ret = vd_problem(c, r, status_for(rc), status_for(rc) == 503 ? "appraisal unavailable" : msg);
        goto out;
    }
    pthread_rwlock_rdlock(&vd_srv->keys_lock);
    rc = vfy_result_sign(res, vd_srv->keys.current, &jws);
    pthread_rwlock_unlock(&vd_srv->keys_lock);
    if (rc != VFY_OK) {
        vd_log("error", "signing the result: %s", vfy_strerror(rc));
        ret = vd_problem(c, r, 503, "cannot sign the result");
        goto out;
    }
    snprintf(r->verdict, sizeof(r->verdict), "%s", vfy_ear_status_name(vfy_result_status(res)));
    vd_metrics_verdict(r->verdict);
    if (vd_accepts(c, "application/eat+jwt")) {
        ret = vd_send(c, r, 200, "application/eat+jwt", jws, strlen(jws));
    } else {
        cJSON *o = cJSON_CreateObject();
        char *s;

        vd_rfc3339(ts, (uint64_t)vfy_result_exp(res));
        cJSON_AddStringToObject(o, "result_id", vfy_result_id(res));
        cJSON_AddStringToObject(o, "status", r->verdict);
        cJSON_AddStringToObject(o, "expires_at", ts);
        cJSON_AddStringToObject(o, "ear", jws);
        s = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        ret = s != NULL ? vd_send_json(c, r, 200, s) : MHD_NO;
        free(s);
    }
out:
    vfy_free(jws);
    vfy_result_free(&res);
    free(evjson);
    free(evbytes);
    cJSON_Delete(body);
    return ret;
}
