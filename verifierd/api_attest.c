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

static unsigned status_for(vfy_rc rc)
{
    switch (rc) {
    case VFY_E_DB: case VFY_E_DB_BUSY: case VFY_E_NOMEM: case VFY_E_INTERNAL: case VFY_E_IO:
    case VFY_E_DB_OPEN: case VFY_E_DB_SCHEMA: case VFY_E_DB_OLD:
    case VFY_E_CONFLICT: /* a concurrent appraisal of the same attester moved its state */
        return 503;
    case VFY_E_CMW_TOO_LARGE:
        return 413;
    default:
        return 400;
    }
}

/* The JSON answer of a successful attest (DESIGN §8); NULL if out of memory. */
static char *attest_json(const struct vd_req *r, const vfy_result *res, const char *jws)
{
    cJSON *o = cJSON_CreateObject();
    char ts[32], *s;

    vd_rfc3339(ts, (uint64_t)vfy_result_exp(res));
    cJSON_AddStringToObject(o, "result_id", vfy_result_id(res));
    cJSON_AddStringToObject(o, "status", r->verdict);
    cJSON_AddStringToObject(o, "expires_at", ts);
    cJSON_AddStringToObject(o, "ear", jws);
    s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

enum MHD_Result vd_api_attest(struct MHD_Connection *c, struct vd_req *r, const char *method,
                              const char *path)
{
    vfy_attest_body *body = NULL;
    char *jws = NULL, detail[400] = "", msg[512];
    vfy_appraisal_request req;
    vfy_result *res = NULL;
    vfy_appraiser *ap;
    enum MHD_Result ret;
    int busy = 0;
    vfy_rc rc;

    (void)method;
    (void)path;
    if (vd_content_type_is(c, "application/json") != 0)
        return vd_problem(c, r, 415, "expected Content-Type: application/json");
    if ((ap = vd_appraiser()) == NULL)
        return vd_problem(c, r, 503, "appraisal unavailable");
    /* One parse: the evidence is appraised from this body's tree. */
    /* CBOR evidence over 1 MiB is 413 as JSON evidence is (status_for):
     * too large, not malformed */
    if ((rc = vfy_attest_body_parse(&body, r->body, r->len, msg, sizeof(msg))) != VFY_OK)
        return vd_problem(c, r, rc == VFY_E_NOMEM ? 503 : rc == VFY_E_CMW_TOO_LARGE ? 413 : 400,
                          rc == VFY_E_NOMEM ? "appraisal unavailable" : msg);
    memset(&req, 0, sizeof(req));
    vfy_attest_body_request(body, &req);
    snprintf(r->attester, sizeof(r->attester), "%s", req.attester);

    /* From here the nonce is used and the result recorded: a stopping
     * server generation waits for this answer (or this one is turned away
     * with nothing used). */
    if (vd_consume_enter(r) != 0) {
        vfy_attest_body_free(&body);
        return vd_problem(c, r, 503, "server restarting; retry (nothing was consumed)");
    }
    /* The nonce: used once, whatever the outcome. */
    rc = vfy_nonce_consume(vd_srv->nonce_key, vd_srv->nonce_cache, req.nonce, VFY_NONCE_LEN,
                           vd_now(), &req.nonce_issued_at);
    if (rc == VFY_E_NONCE_CACHE_FULL) {
        vd_log("warn", "used-nonce cache full; refusing attestations until nonces expire");
        ret = vd_problem(c, r, 503, "too many outstanding nonces; retry shortly");
        goto out;
    }
    req.nonce_status = rc;
    vd_commit_busy(1);   /* may join the open batch: the commit thread waits for it */
    busy = 1;
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
    if (vd_commit_parking() && vd_commit_gate_enter(r) == 0) {
        /* The answer waits, parked, for the group commit (commit.c). */
        if (vd_accepts(c, "application/eat+jwt")) {
            r->park_ctype = "application/eat+jwt";
            r->park_body = jws;
            jws = NULL;
        } else {
            r->park_ctype = "application/json";
            r->park_body = attest_json(r, res, jws);
        }
        if (r->park_body == NULL) {
            vd_commit_gate_leave(r);
            ret = MHD_NO;
            goto out;
        }
        r->park_len = strlen(r->park_body);
        r->park_res = res;
        res = NULL;
        busy = 0;   /* handed over: parking ends it */
        vd_commit_park(c, r);
        ret = MHD_YES;
        goto out;
    }
    vd_commit_busy(-1);
    busy = 0;
    /* Nothing leaves before the commit that makes the result durable
     * (other threads' appraisals share it: group commit). */
    if ((rc = vfy_committer_wait(vd_srv->committer, res)) != VFY_OK) {
        vd_log("error", "recording the result: %s", vfy_strerror(rc));
        ret = vd_problem(c, r, 503, "appraisal unavailable");
        goto out;
    }
    vd_metrics_verdict(r->verdict);
    if (vd_accepts(c, "application/eat+jwt")) {
        ret = vd_send(c, r, 200, "application/eat+jwt", jws, strlen(jws));
    } else {
        char *s = attest_json(r, res, jws);

        ret = s != NULL ? vd_send_json(c, r, 200, s) : MHD_NO;
        free(s);
    }
out:
    if (busy)
        vd_commit_busy(-1);
    /* An appraisal whose answer failed after it joined a batch: make sure
     * the batch is committed (it holds the write lock until then). */
    if (res != NULL && vfy_committer_wait(vd_srv->committer, res) != VFY_OK)
        vd_log("error", "recording a result whose answer failed");
    vfy_free(jws);
    vfy_result_free(&res);
    vfy_attest_body_free(&body);
    return ret;
}
