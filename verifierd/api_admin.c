/*
 * api_admin.c — the /v1/admin/ endpoints (admin role): attesters, reference values
 * (bundle export/import, component and PCR revocation), policies, and
 * read-only listings of results and the audit log. Every change is one
 * store transaction with an audit row naming the token ("token:<name>").
 *
 *   GET  /v1/admin/attesters              list
 *   POST /v1/admin/attesters              {"name","ak_pem"|"ak_public","scheme"?,"refset"?,"policy"?}
 *   POST /v1/admin/attesters/{name}/revoke
 *   POST /v1/admin/attesters/{name}/reset  forget its TPM clock and agent-log state
 *   GET  /v1/admin/refvalues              export bundle (schemas/refvalues.schema.json)
 *   POST /v1/admin/refvalues              import bundle
 *   GET  /v1/admin/components | /pcrs     list
 *   POST /v1/admin/components/revoke      {"kind","name","digest"?}
 *   POST /v1/admin/pcrs/revoke            {"set","bank"?,"index","digest"}
 *   GET  /v1/admin/policies               list
 *   POST /v1/admin/policies               policy JSON
 *   GET  /v1/admin/results | /audit       list
 */
#include <stdlib.h>
#include <string.h>

#include "vd.h"

static enum MHD_Result store_error(struct MHD_Connection *c, struct vd_req *r, vfy_rc rc)
{
    const char *msg = vfy_store_errmsg(vd_store());
    char detail[600];

    /* The store's message says it all ("attester x not found", "... already
     * exists with a different key", "attestation key: attestation key is
     * malformed"), as verifyctl prints it (vc_fail_rc): the generic text of
     * @rc in front only repeated it. That text alone when there is none. */
    snprintf(detail, sizeof(detail), "%s", msg[0] != '\0' ? msg : vfy_strerror(rc));
    switch (rc) {
    case VFY_E_NOT_FOUND: return vd_problem(c, r, 404, detail);
    case VFY_E_CONFLICT: return vd_problem(c, r, 409, detail);
    case VFY_E_DB: case VFY_E_DB_BUSY: case VFY_E_NOMEM: case VFY_E_INTERNAL: case VFY_E_IO:
    case VFY_E_DB_OPEN: case VFY_E_DB_SCHEMA: case VFY_E_DB_OLD:   /* the server's, not the request's */
        vd_log("error", "admin: %s", detail);
        return vd_problem(c, r, 503, "reference-value store unavailable");
    case VFY_E_TOO_LARGE: return vd_problem(c, r, 413, detail);
    default: return vd_problem(c, r, 400, detail);
    }
}

static enum MHD_Result send_owned(struct MHD_Connection *c, struct vd_req *r, unsigned status,
                                  char *json)
{
    enum MHD_Result ret = vd_send_json(c, r, status, json);

    vfy_free(json);
    return ret;
}

/*
 * A listing, one page at a time (?offset=N&limit=M, default limit
 * VD_LIST_PAGE, at most VD_LIST_PAGE_MAX): results and the audit log grow
 * without bound and must never be built in memory whole. When rows
 * follow, a Link header (rel="next") gives the next page.
 */
static enum MHD_Result list(struct MHD_Connection *c, struct vd_req *r, const char *what)
{
    char *json = NULL, link[160];
    uint64_t offset, limit;
    enum MHD_Result ret;
    int more = 0;
    vfy_rc rc;

    if (vd_query_u64(c, "offset", 0, INT64_MAX, &offset) != 0)
        return vd_problem(c, r, 400, "offset must be a non-negative integer");
    if (vd_query_u64(c, "limit", VD_LIST_PAGE, VD_LIST_PAGE_MAX, &limit) != 0 || limit == 0)
        return vd_problem(c, r, 400, "limit must be an integer 1..10000");
    rc = vfy_store_list_json_page(vd_store(), what, offset, (size_t)limit, &json, &more);
    if (rc != VFY_OK)
        return store_error(c, r, rc);
    if (!more)
        return send_owned(c, r, 200, json);
    snprintf(link, sizeof(link), "</v1/admin/%s?offset=%llu&limit=%llu>; rel=\"next\"", what,
             (unsigned long long)(offset + limit), (unsigned long long)limit);
    ret = vd_send_hdr(c, r, 200, "application/json", json, strlen(json), "Link", link);
    vfy_free(json);
    return ret;
}

/* A string member of @o, or NULL when absent (vd_json_strings has refused
 * any other type before this is asked). */
static const char *opt_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* 1 if the @len bytes at @p start as a PEM file does (the library's test). */
static int is_pem(const uint8_t *p, size_t len)
{
    return len >= 10 && memcmp(p, "-----BEGIN", 10) == 0;
}

static enum MHD_Result attester_add(struct MHD_Connection *c, struct vd_req *r)
{
    enum MHD_Result ret;
    cJSON *o = vd_json_body(c, r, &ret);
    const char *name, *pem, *pub, *scheme;
    uint8_t *ak = NULL;
    size_t ak_len = 0;
    int added = 0;
    vfy_rc rc;

    static const char *const fields[] = {"name", "ak_pem", "ak_public", "scheme", "refset",
                                         "policy", NULL};

    if (o == NULL)
        return ret;
    if (vd_json_only_fields(c, r, o, fields, &ret) != 0 ||
        vd_json_strings(c, r, o, fields, &ret) != 0) {
        cJSON_Delete(o);
        return ret;
    }
    name = opt_str(o, "name");
    pem = opt_str(o, "ak_pem");
    pub = opt_str(o, "ak_public");
    if (name == NULL || (pem == NULL) == (pub == NULL)) {
        cJSON_Delete(o);
        return vd_problem(c, r, 400, "need \"name\" and one of \"ak_pem\" or \"ak_public\" (base64url TPM2B_PUBLIC)");
    }
    if (pub != NULL) {
        size_t cap = VFY_B64URL_DECODED_MAX(strlen(pub));
        if ((ak = malloc(cap + 1)) == NULL ||
            vfy_b64url_decode(ak, cap, &ak_len, pub, strlen(pub)) != VFY_OK) {
            free(ak);
            cJSON_Delete(o);
            return vd_problem(c, r, 400, "ak_public is not base64url");
        }
    }
    /* The field says what the key must be, as verifyctl's --ak-pem and
     * --ak-public do: the library sniffs "-----BEGIN" and would take a PEM
     * sent as "ak_public" (and read a TPM2B_PUBLIC sent as "ak_pem"). */
    if ((pem != NULL) != (pem != NULL ? is_pem((const uint8_t *)pem, strlen(pem))
                                      : is_pem(ak, ak_len))) {
        free(ak);
        cJSON_Delete(o);
        return vd_problem(c, r, 400, pem != NULL
                          ? "\"ak_pem\" is not a PEM public key (a TPM2B_PUBLIC goes in "
                            "\"ak_public\", base64url)"
                          : "\"ak_public\" holds a PEM file (send it as \"ak_pem\")");
    }
    scheme = opt_str(o, "scheme");
    rc = vfy_store_attester_add(vd_store(), name, pem != NULL ? (const uint8_t *)pem : ak,
                                pem != NULL ? strlen(pem) : ak_len, scheme,
                                opt_str(o, "refset"), opt_str(o, "policy"), &added);
    free(ak);
    if (rc == VFY_E_SIG_SCHEME && scheme != NULL) {
        /* From loading the key with a scheme it cannot take (a valid
         * scheme's name: an unknown one is VFY_E_UNSUPPORTED): what
         * verifyctl says of --scheme, not the quote check's "differs from
         * the AK's registered scheme" for an attester not registered yet. */
        char detail[320];

        snprintf(detail, sizeof(detail), "\"scheme\" %.32s does not fit this key (EC keys take "
                 "ecdsa-*, RSA keys rsassa-* or rsapss-*; a TPM2B_PUBLIC that names its scheme "
                 "takes only that one)", scheme);
        cJSON_Delete(o);
        return vd_problem(c, r, 400, detail);
    }
    cJSON_Delete(o);
    if (rc != VFY_OK)
        return store_error(c, r, rc);
    return vd_send_json(c, r, added ? 201 : 200, added ? "{\"added\":true}" : "{\"added\":false}");
}

/* The answer to a revoke of @name: {"revoked":true,"already_revoked":B,
 * "shared_key_active":N,"shared_key_attesters":[the first 16, by name]}:
 * the other active attesters on its key keep attesting with a key that may
 * be compromised (vfy_store_attester_key_sharers, as verifyctl attester
 * revoke says); "already_revoked" true when nothing changed (revoked
 * before: verifyctl's "already revoked, unchanged"). Without the shared_key
 * members when they cannot be read after the revocation (logged). NULL
 * without memory. */
#define SHARED_NAMES_MAX 16

static char *revoke_answer(const char *name, int already)
{
    char names[SHARED_NAMES_MAX][VFY_STORE_NAME_MAX + 1];
    size_t n = 0, listed = 0;
    cJSON *o = cJSON_CreateObject(), *arr;
    char *out = NULL;
    vfy_rc rc;

    if (o == NULL || !cJSON_AddBoolToObject(o, "revoked", 1) ||
        !cJSON_AddBoolToObject(o, "already_revoked", already))
        goto out;
    rc = vfy_store_attester_key_sharers(vd_store(), name, &n, names, SHARED_NAMES_MAX, &listed);
    if (rc != VFY_OK) {
        vd_log("warning", "admin: attester %s revoked; its key's other attesters not listed: %s",
               name, vfy_store_errmsg(vd_store()));
    } else {
        if (cJSON_AddNumberToObject(o, "shared_key_active", (double)n) == NULL ||
            (arr = cJSON_AddArrayToObject(o, "shared_key_attesters")) == NULL)
            goto out;
        for (size_t i = 0; i < listed; i++)
            if (!cJSON_AddItemToArray(arr, cJSON_CreateString(names[i])))
                goto out;
    }
    out = cJSON_PrintUnformatted(o);
out:
    cJSON_Delete(o);
    return out;
}

/* 1 if @sub is "attesters/NAME" + @action ("/revoke", "/reset"), NAME not empty. */
static int attester_action(const char *sub, const char *action)
{
    size_t n = strlen(sub), a = strlen(action);

    return strncmp(sub, "attesters/", 10) == 0 && n > 10 + a && strcmp(sub + n - a, action) == 0;
}

static enum MHD_Result component_revoke(struct MHD_Connection *c, struct vd_req *r)
{
    enum MHD_Result ret;
    cJSON *o = vd_json_body(c, r, &ret);
    const char *kind_s, *name, *dig_s;
    vfy_component_kind kind;
    uint8_t dig[32];
    size_t revoked = 0, results = 0;
    char out[128];
    vfy_rc rc;

    static const char *const fields[] = {"kind", "name", "digest", NULL};

    if (o == NULL)
        return ret;
    if (vd_json_only_fields(c, r, o, fields, &ret) != 0 ||
        vd_json_strings(c, r, o, fields, &ret) != 0) {
        cJSON_Delete(o);
        return ret;
    }
    kind_s = opt_str(o, "kind");
    name = opt_str(o, "name");
    dig_s = opt_str(o, "digest");
    if (kind_s == NULL || name == NULL) {
        cJSON_Delete(o);
        return vd_problem(c, r, 400, "need \"kind\" and \"name\"");
    }
    if ((rc = vfy_component_kind_parse(&kind, kind_s)) != VFY_OK ||
        (dig_s != NULL && (rc = vfy_sha256_parse(dig, dig_s, strlen(dig_s))) != VFY_OK)) {
        cJSON_Delete(o);
        return vd_problem(c, r, 400, rc == VFY_E_BAD_KIND ? "kind must be model, tool, policy or context"
                                                          : "digest must be sha256:<64 hex>");
    }
    rc = vfy_store_component_revoke(vd_store(), kind, name, dig_s != NULL ? dig : NULL, &revoked,
                                    &results);
    cJSON_Delete(o);
    if (rc != VFY_OK)
        return store_error(c, r, rc);
    snprintf(out, sizeof(out), "{\"revoked\":%zu,\"results_revoked\":%zu}", revoked, results);
    return vd_send_json(c, r, 200, out);
}

static enum MHD_Result pcr_revoke(struct MHD_Connection *c, struct vd_req *r)
{
    enum MHD_Result ret;
    cJSON *o = vd_json_body(c, r, &ret);
    const char *set, *bank_s, *dig_s;
    const cJSON *idx;
    vfy_hash_alg bank = VFY_HASH_SHA256;
    uint8_t dig[VFY_MAX_DIGEST];
    size_t dlen = 0, revoked = 0, results = 0;
    char out[96];
    vfy_rc rc;

    static const char *const fields[] = {"set", "bank", "index", "digest", NULL};
    static const char *const strings[] = {"set", "bank", "digest", NULL};

    if (o == NULL)
        return ret;
    if (vd_json_only_fields(c, r, o, fields, &ret) != 0 ||
        vd_json_strings(c, r, o, strings, &ret) != 0) {
        cJSON_Delete(o);
        return ret;
    }
    set = opt_str(o, "set");
    bank_s = opt_str(o, "bank");
    dig_s = opt_str(o, "digest");
    idx = cJSON_GetObjectItemCaseSensitive(o, "index");
    if (idx != NULL && !cJSON_IsNumber(idx)) {
        cJSON_Delete(o);
        return vd_problem(c, r, 400, "field \"index\" must be a number");
    }
    if (set == NULL || dig_s == NULL || !cJSON_IsNumber(idx) || idx->valuedouble < 0 ||
        idx->valuedouble > 23 || (double)(int)idx->valuedouble != idx->valuedouble ||
        (bank_s != NULL && vfy_hash_from_name(&bank, bank_s) != VFY_OK) ||
        vfy_hex_decode(dig, sizeof(dig), &dlen, dig_s, strlen(dig_s)) != VFY_OK ||
        dlen != vfy_hash_size(bank)) {
        cJSON_Delete(o);
        return vd_problem(c, r, 400, "need \"set\", \"index\" 0..23, \"digest\" hex of the bank's size, optional \"bank\"");
    }
    /* "revoked" is 0 for a value revoked already, as for components */
    rc = vfy_store_pcr_revoke_counted(vd_store(), set, bank, (unsigned)idx->valuedouble, dig, dlen,
                                      &revoked, &results);
    cJSON_Delete(o);
    if (rc != VFY_OK)
        return store_error(c, r, rc);
    snprintf(out, sizeof(out), "{\"revoked\":%zu,\"results_revoked\":%zu}", revoked, results);
    return vd_send_json(c, r, 200, out);
}

static enum MHD_Result policy_load(struct MHD_Connection *c, struct vd_req *r)
{
    char id[VFY_STORE_NAME_MAX + 1], out[1];
    unsigned version = 0;
    int added = 0;
    vfy_policy *p = NULL;
    char detail[256] = "";
    vfy_rc rc;

    if (vd_content_type_is(c, "application/json") != 0)
        return vd_problem(c, r, 415, "expected Content-Type: application/json");
    rc = vfy_policy_parse_detail(&p, r->body != NULL ? r->body : "", r->len, detail, sizeof(detail));
    vfy_policy_free(&p);
    if (rc != VFY_OK) {
        char msg[400];
        snprintf(msg, sizeof(msg), "invalid policy: %s%s%s", vfy_strerror(rc), detail[0] ? ": " : "", detail);
        /* Too large is 413 (DESIGN §8), as a body past the endpoint's 1 MiB
         * is: a policy between 64 KiB and 1 MiB reaches the parser. */
        return vd_problem(c, r, rc == VFY_E_POLICY_TOO_LARGE ? 413 : 400, msg);
    }
    rc = vfy_store_policy_load(vd_store(), r->body, r->len, id, &version, &added);
    if (rc != VFY_OK)
        return store_error(c, r, rc);
    {
        cJSON *o = cJSON_CreateObject();
        char *s;
        enum MHD_Result ret;

        (void)out;
        cJSON_AddStringToObject(o, "id", id);
        cJSON_AddNumberToObject(o, "version", version);
        cJSON_AddBoolToObject(o, "added", added);
        s = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (s == NULL)
            return MHD_NO;
        ret = vd_send_json(c, r, added ? 201 : 200, s);
        free(s);
        return ret;
    }
}

static enum MHD_Result import_bundle(struct MHD_Connection *c, struct vd_req *r)
{
    vfy_store_import_stats st;
    char out[256];
    vfy_rc rc;

    if (vd_content_type_is(c, "application/json") != 0)
        return vd_problem(c, r, 415, "expected Content-Type: application/json");
    rc = vfy_store_import(vd_store(), r->body != NULL ? r->body : "", r->len, &st);
    if (rc != VFY_OK)
        return store_error(c, r, rc);
    snprintf(out, sizeof(out),
             "{\"policies\":%zu,\"attesters\":%zu,\"pcrs\":%zu,\"components\":%zu,\"revoked\":%zu}",
             st.policies, st.attesters, st.pcrs, st.components, st.revoked);
    return vd_send_json(c, r, 200, out);
}

enum MHD_Result vd_api_admin(struct MHD_Connection *c, struct vd_req *r, const char *method,
                             const char *path)
{
    const char *sub = path + strlen("/v1/admin/");
    /* HEAD works wherever GET does (docs/api.md); MHD sends no body for it. */
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    int post = strcmp(method, "POST") == 0;
    char actor[VFY_STORE_ACTOR_MAX + 1];
    static const char *lists[] = {"attesters", "pcrs", "components", "policies", "results", "audit"};

    /* Every change is audited under its token: a token's whole name (up to
     * VFY_STORE_NAME_MAX), or no change at all (the handle would otherwise
     * keep the actor of this thread's previous admin request). */
    if (snprintf(actor, sizeof(actor), "token:%s", r->token) >= (int)sizeof(actor) ||
        vfy_store_set_actor(vd_store(), actor) != VFY_OK) {
        vd_log("error", "request %s: cannot audit under token %s: %s", r->id, r->token,
               vfy_store_errmsg(vd_store()));
        return vd_problem(c, r, 500, "cannot record the audit actor");
    }
    if (get) {
        for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
            if (strcmp(sub, lists[i]) == 0)
                return list(c, r, lists[i]);
        if (strcmp(sub, "refvalues") == 0) {
            char *json = NULL;
            vfy_rc rc = vfy_store_export(vd_store(), &json);
            return rc == VFY_OK ? send_owned(c, r, 200, json) : store_error(c, r, rc);
        }
    } else if (post) {
        size_t n = strlen(sub);

        if (strcmp(sub, "attesters") == 0)
            return attester_add(c, r);
        if (attester_action(sub, "/revoke") != 0 || attester_action(sub, "/reset") != 0) {
            int reset = attester_action(sub, "/reset") != 0, had = 0;
            size_t changed = 0;
            size_t nl = n - 10 - (reset ? 6 : 7);
            char name[VFY_STORE_NAME_MAX + 1];
            vfy_rc rc;

            if (nl == 0 || nl > VFY_STORE_NAME_MAX)
                return vd_problem(c, r, 404, "no such attester");
            memcpy(name, sub + 10, nl);
            name[nl] = '\0';
            rc = reset ? vfy_store_attester_reset(vd_store(), name, &had)
                       : vfy_store_attester_revoke_counted(vd_store(), name, &changed);
            if (rc != VFY_OK)
                return store_error(c, r, rc);
            if (reset)
                return vd_send_json(c, r, 200, had ? "{\"reset\":true,\"had_state\":true}"
                                                   : "{\"reset\":true,\"had_state\":false}");
            {
                char *json = revoke_answer(name, changed == 0);
                enum MHD_Result ret;

                if (json == NULL)   /* revoked all the same: say that much */
                    return vd_send_json(c, r, 200,
                                        changed == 0 ? "{\"revoked\":true,\"already_revoked\":true}"
                                                     : "{\"revoked\":true,\"already_revoked\":false}");
                ret = vd_send_json(c, r, 200, json);
                free(json);
                return ret;
            }
        }
        if (strcmp(sub, "refvalues") == 0)
            return import_bundle(c, r);
        if (strcmp(sub, "components/revoke") == 0)
            return component_revoke(c, r);
        if (strcmp(sub, "pcrs/revoke") == 0)
            return pcr_revoke(c, r);
        if (strcmp(sub, "policies") == 0)
            return policy_load(c, r);
    } else {
        return vd_problem(c, r, 405, "admin endpoints take GET or POST");
    }
    /* A known endpoint asked with the other method is 405, not 404. */
    {
        static const char *const get_only[] = {"attesters", "pcrs", "components", "policies",
                                               "results", "audit", "refvalues"};
        static const char *const post_only[] = {"attesters", "refvalues", "components/revoke",
                                                "pcrs/revoke", "policies"};

        for (size_t i = 0; post && i < sizeof(get_only) / sizeof(get_only[0]); i++)
            if (strcmp(sub, get_only[i]) == 0) {
                r->allow = "GET, HEAD";
                return vd_problem(c, r, 405, "this admin endpoint takes GET");
            }
        for (size_t i = 0; get && i < sizeof(post_only) / sizeof(post_only[0]); i++)
            if (strcmp(sub, post_only[i]) == 0) {
                r->allow = "POST";
                return vd_problem(c, r, 405, "this admin endpoint takes POST");
            }
        if (get && (attester_action(sub, "/revoke") != 0 || attester_action(sub, "/reset") != 0)) {
            r->allow = "POST";
            return vd_problem(c, r, 405, "this admin endpoint takes POST");
        }
    }
    return vd_problem(c, r, 404, "no such admin endpoint");
}
