/*
 * api_challenge.c — POST /v1/challenge (attest role): a fresh 32-byte
 * nonce, HMAC-tagged with its expiry so any replica sharing the nonce key
 * can check it without shared state (vfy_nonce_issue). The lifetime is the
 * policy's freshness.nonce_ttl_s: the policy named in the optional body
 * {"policy": ID} or {"attester": NAME} (that attester's policy), else the
 * default policy.
 */
#include <stdlib.h>
#include <string.h>

#include "vd.h"

uint32_t vd_policy_nonce_ttl(const char *policy_id, const char *attester, const char **err)
{
    const vfy_policy *p = NULL;
    vfy_appraiser *ap = vd_appraiser();
    vfy_rc rc;

    *err = NULL;
    if (ap == NULL) {
        *err = "appraisal unavailable";
        return 0;
    }
    rc = vfy_appraiser_policy(ap, policy_id, attester, &p);
    if (rc == VFY_E_APPRAISE_POLICY) {
        *err = "unknown policy";
        return 0;
    }
    if (rc != VFY_OK) {
        vd_log("error", "policy lookup: %s", vfy_strerror(rc));
        *err = "appraisal unavailable";
        return 0;
    }
    return vfy_policy_nonce_ttl_s(p);
}

enum MHD_Result vd_api_challenge(struct MHD_Connection *c, struct vd_req *r, const char *method,
                                 const char *path)
{
    const char *policy = NULL, *attester = NULL, *err = NULL;
    cJSON *body = NULL;
    uint8_t nonce[VFY_NONCE_LEN];
    char b64[VFY_B64URL_LEN(VFY_NONCE_LEN) + 1], ts[32], out[256];
    uint64_t exp = 0;
    uint32_t ttl;
    vfy_rc rc;

    (void)method;
    (void)path;
    if (r->len > 0) {
        static const char *const fields[] = {"policy", "attester", NULL};
        enum MHD_Result ret;
        const cJSON *v;

        if ((body = vd_json_body(c, r, &ret)) == NULL)
            return ret;
        if (vd_json_only_fields(c, r, body, fields, &ret) != 0) {
            cJSON_Delete(body);
            return ret;
        }
        v = cJSON_GetObjectItemCaseSensitive(body, "policy");
        if (v != NULL && (!cJSON_IsString(v) || !vd_name_ok(v->valuestring))) {
            cJSON_Delete(body);
            return vd_problem(c, r, 400, "policy must be a name (a string without control "
                                         "characters)");
        }
        policy = v != NULL ? v->valuestring : NULL;
        v = cJSON_GetObjectItemCaseSensitive(body, "attester");
        if (v != NULL && (!cJSON_IsString(v) || !vd_name_ok(v->valuestring))) {
            cJSON_Delete(body);
            return vd_problem(c, r, 400, "attester must be a name (a string without control "
                                         "characters)");
        }
        attester = v != NULL ? v->valuestring : NULL;
        if (attester != NULL)
            snprintf(r->attester, sizeof(r->attester), "%s", attester);
    }
    ttl = vd_policy_nonce_ttl(policy, attester, &err);
    cJSON_Delete(body);
    if (err != NULL)
        return vd_problem(c, r, strcmp(err, "unknown policy") == 0 ? 400 : 503, err);
    /* Expiry has one-second resolution and a nonce is expired from its
     * expiry second on: counting from the next second guarantees at least
     * ttl_s seconds of life (at most ttl_s + 1). */
    rc = vfy_nonce_issue(vd_srv->nonce_key, vd_now() + 1, ttl, nonce, &exp);
    if (rc != VFY_OK) {
        vd_log("error", "nonce issue: %s", vfy_strerror(rc));
        return vd_problem(c, r, 503, "cannot issue a nonce");
    }
    if (vfy_b64url_encode(b64, sizeof(b64), nonce, sizeof(nonce)) != VFY_OK)
        return MHD_NO;
    vd_rfc3339(ts, exp);
    snprintf(out, sizeof(out), "{\"nonce\":\"%s\",\"expires_at\":\"%s\",\"ttl_s\":%u}", b64, ts, ttl);
    return vd_send(c, r, 201, "application/json", out, strlen(out));
}
