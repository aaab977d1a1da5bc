/*
 * api_results.c — GET /v1/results/{id} and GET /v1/revocations?after=N
 * (DESIGN §8): the state of an issued result, and the feed of results
 * invalidated by later reference-value changes.
 */
#include <stdlib.h>
#include <string.h>

#include "vd.h"

#define FEED_PAGE_MAX 1000
#define CURSOR_MAX 9007199254740991ULL /* 2^53 - 1 */

enum MHD_Result vd_api_result(struct MHD_Connection *c, struct vd_req *r, const char *method,
                              const char *path)
{
    const char *id = path + strlen("/v1/results/");
    vfy_store_result res;
    cJSON *o;
    char ts[32], *s;
    enum MHD_Result ret;
    vfy_rc rc;

    (void)method;
    if (strlen(id) > VFY_STORE_RESULT_ID_MAX || strchr(id, '/') != NULL)
        return vd_problem(c, r, 404, "no such result");
    rc = vfy_store_result_get(vd_store(), id, &res);
    if (rc == VFY_E_NOT_FOUND)
        return vd_problem(c, r, 404, "no such result");
    if (rc != VFY_OK)
        return vd_problem(c, r, 503, "result store unavailable");
    if ((o = cJSON_CreateObject()) == NULL)
        return MHD_NO;
    snprintf(r->attester, sizeof(r->attester), "%s", res.attester);
    cJSON_AddStringToObject(o, "result_id", res.id);
    cJSON_AddStringToObject(o, "status", res.status);
    cJSON_AddStringToObject(o, "attester", res.attester);
    vd_rfc3339(ts, (uint64_t)res.iat);
    cJSON_AddStringToObject(o, "issued_at", ts);
    vd_rfc3339(ts, (uint64_t)res.exp);
    cJSON_AddStringToObject(o, "expires_at", ts);
    if (res.revoked) {
        cJSON_AddStringToObject(o, "state", "revoked");
        if (res.reason[0] != '\0')
            cJSON_AddStringToObject(o, "reason", res.reason);
        vd_rfc3339(ts, (uint64_t)res.revoked_at);
        cJSON_AddStringToObject(o, "revoked_at", ts);
    } else {
        cJSON_AddStringToObject(o, "state", (int64_t)vd_now() >= res.exp ? "expired" : "valid");
    }
    s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (s == NULL)
        return MHD_NO;
    ret = vd_send_json(c, r, 200, s);
    free(s);
    return ret;
}

enum MHD_Result vd_api_revocations(struct MHD_Connection *c, struct vd_req *r,
                                   const char *method, const char *path)
{
    uint64_t after, limit, cursor = 0;
    vfy_store_revocation *rev = NULL;
    size_t n = 0;
    cJSON *o, *a;
    char ts[32], num[24], *s;
    enum MHD_Result ret;
    vfy_rc rc;

    (void)method;
    (void)path;
    /* At most 2^53 - 1: the cursor goes back as a JSON number, exact in
     * every JSON parser only that far (store cursors never get near). */
    if (vd_query_u64(c, "after", 0, CURSOR_MAX, &after) != 0)
        return vd_problem(c, r, 400, "after must be an integer cursor 0..9007199254740991");
    if (vd_query_u64(c, "limit", FEED_PAGE_MAX, FEED_PAGE_MAX, &limit) != 0 || limit == 0)
        return vd_problem(c, r, 400, "limit must be an integer 1..1000");
    rc = vfy_store_revocations(vd_store(), after, (size_t)limit, &rev, &n, &cursor);
    if (rc != VFY_OK)
        return vd_problem(c, r, 503, "result store unavailable");
    /* Nothing after a cursor this database never gave: the feed was reset
     * (a database replaced or restored), and an empty page would tell the
     * client "nothing revoked" until the feed grows past its cursor. */
    if (n == 0 && after > 0) {
        uint64_t head = 0;
        char detail[160];

        if (vfy_store_feed_head(vd_store(), &head) != VFY_OK)
            return vd_problem(c, r, 503, "result store unavailable");
        if (after > head) {
            snprintf(detail, sizeof(detail), "cursor %llu is past the feed's end (%llu): the feed "
                     "was reset; read it again from 0 and stop relying on results held",
                     (unsigned long long)after, (unsigned long long)head);
            return vd_problem(c, r, 409, detail);
        }
    }
    if ((o = cJSON_CreateObject()) == NULL) {
        vfy_free(rev);
        return MHD_NO;
    }
    /* As an integer: cJSON prints a double past 2^31 with 15 digits. */
    snprintf(num, sizeof(num), "%llu", (unsigned long long)cursor);
    cJSON_AddRawToObject(o, "cursor", num);
    a = cJSON_AddArrayToObject(o, "revoked");
    for (size_t i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();

        cJSON_AddStringToObject(e, "result_id", rev[i].result_id);
        vd_rfc3339(ts, (uint64_t)rev[i].at);
        cJSON_AddStringToObject(e, "at", ts);
        cJSON_AddStringToObject(e, "reason", rev[i].reason);
        cJSON_AddItemToArray(a, e);
    }
    vfy_free(rev);
    s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (s == NULL)
        return MHD_NO;
    ret = vd_send_json(c, r, 200, s);
    free(s);
    return ret;
}
