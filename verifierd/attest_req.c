/*
 * attest_req.c — parsing the POST /v1/attest body (see attest_req.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "attest_req.h"

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

void vd_attest_req_clear(struct vd_attest_req *r)
{
    if (r == NULL)
        return;
    free(r->evidence);
    memset(r, 0, sizeof(*r));
}

int vd_attest_req_parse(struct vd_attest_req *out, const char *body, size_t len, char *err,
                        size_t cap)
{
    static const char *const allowed[] = {"nonce", "channel_binding", "attester", "evidence",
                                          "policy", "max_ttl_s"};
    cJSON *root = NULL;
    const cJSON *it, *att, *pol, *ttl, *ev;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    root = cJSON_ParseWithLength(body != NULL ? body : "", len);
    if (root == NULL || !cJSON_IsObject(root)) {
        snprintf(err, cap, "body must be a JSON object");
        goto out;
    }
    cJSON_ArrayForEach(it, root) {
        int known = 0;

        for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
            if (it->string != NULL && strcmp(it->string, allowed[i]) == 0)
                known = 1;
        if (!known) {
            snprintf(err, cap, "unknown field \"%.64s\"", it->string != NULL ? it->string : "");
            goto out;
        }
        for (const cJSON *o = it->next; o != NULL; o = o->next)
            if (o->string != NULL && strcmp(o->string, it->string) == 0) {
                snprintf(err, cap, "duplicate field \"%.64s\"", it->string);
                goto out;
            }
    }
    if (b64_field(root, "nonce", out->nonce, sizeof(out->nonce)) != 0) {
        snprintf(err, cap, "nonce must be 32 bytes, base64url without padding");
        goto out;
    }
    if (b64_field(root, "channel_binding", out->cb, sizeof(out->cb)) != 0) {
        snprintf(err, cap, "channel_binding must be 32 bytes (tls-exporter), base64url without padding");
        goto out;
    }
    att = cJSON_GetObjectItemCaseSensitive(root, "attester");
    if (!cJSON_IsString(att) || att->valuestring[0] == '\0' ||
        strlen(att->valuestring) > VFY_STORE_NAME_MAX) {
        snprintf(err, cap, "attester must be a name of 1..128 bytes");
        goto out;
    }
    memcpy(out->attester, att->valuestring, strlen(att->valuestring) + 1);
    pol = cJSON_GetObjectItemCaseSensitive(root, "policy");
    if (pol != NULL && (!cJSON_IsString(pol) || strlen(pol->valuestring) > VFY_STORE_NAME_MAX)) {
        snprintf(err, cap, "policy must be a string of at most 128 bytes");
        goto out;
    }
    if (pol != NULL)
        memcpy(out->policy, pol->valuestring, strlen(pol->valuestring) + 1);
    ttl = cJSON_GetObjectItemCaseSensitive(root, "max_ttl_s");
    if (ttl != NULL && (!cJSON_IsNumber(ttl) || ttl->valuedouble < 1 || ttl->valuedouble > 86400 ||
                        (double)(uint32_t)ttl->valuedouble != ttl->valuedouble)) {
        snprintf(err, cap, "max_ttl_s must be an integer 1..86400");
        goto out;
    }
    out->max_ttl_s = ttl != NULL ? (uint32_t)ttl->valuedouble : 0;
    ev = cJSON_GetObjectItemCaseSensitive(root, "evidence");
    if (cJSON_IsObject(ev)) {
        char *s = cJSON_PrintUnformatted(ev);

        if (s == NULL) {
            snprintf(err, cap, "out of memory");
            goto out;
        }
        out->evidence = (uint8_t *)s;
        out->evidence_len = strlen(s);
        out->format = VFY_CMW_JSON;
    } else if (cJSON_IsString(ev)) {
        size_t slen = strlen(ev->valuestring), cap2 = VFY_B64URL_DECODED_MAX(slen);

        if ((out->evidence = malloc(cap2 + 1)) == NULL ||
            vfy_b64url_decode(out->evidence, cap2, &out->evidence_len, ev->valuestring, slen) !=
                VFY_OK) {
            snprintf(err, cap, "evidence string must be base64url CMW CBOR");
            goto out;
        }
        out->format = VFY_CMW_CBOR;
    } else {
        snprintf(err, cap, "evidence must be a CMW JSON object or a base64url CMW CBOR string");
        goto out;
    }
    rc = 0;
out:
    cJSON_Delete(root);
    if (rc != 0)
        vd_attest_req_clear(out);
    return rc;
}
