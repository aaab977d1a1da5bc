/*
 * policy.c — appraisal policy parsing (DESIGN §6; schemas/policy.schema.json,
 * docs/policies.md). Strict: unknown fields, repeated keys, wrong types and
 * out-of-range values are errors; omitted optional fields take the defaults
 * documented in policy.h.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json_util.h"
#include "verify/policy.h"

struct vfy_policy {
    char id[VFY_POLICY_ID_MAX + 1];
    unsigned version;
    vfy_hash_alg bank;
    uint32_t platform_pcrs;
    unsigned agent_pcr;
    vfy_history_mode history;
    vfy_policy_tier unknown_context;
    uint32_t nonce_ttl_s;
    uint32_t result_ttl_s;
};

static void set_defaults(vfy_policy *p)
{
    memset(p, 0, sizeof(*p));
    p->bank = VFY_HASH_SHA256;
    p->platform_pcrs = VFY_POLICY_DEFAULT_PCRS;
    p->agent_pcr = VFY_POLICY_DEFAULT_AGENT_PCR;
    p->history = VFY_HISTORY_APPROVED;
    p->unknown_context = VFY_TIER_WARNING;
    p->nonce_ttl_s = VFY_POLICY_DEFAULT_NONCE_TTL_S;
    p->result_ttl_s = VFY_POLICY_DEFAULT_RESULT_TTL_S;
}

/* Map a field walk's status to the policy's codes. */
static vfy_rc fields(const cJSON *obj, const char *where, const char *const *names,
                     size_t n, const cJSON **found, char *detail, size_t cap)
{
    const char *bad = NULL;

    switch (vfy_json_fields(obj, names, n, found, &bad)) {
    case VFY_JSON_OK:
        return VFY_OK;
    case VFY_JSON_UNKNOWN:
        vfy_detail_set(detail, cap, "unknown field \"%s\" in %s", bad, where);
        return VFY_E_POLICY_UNKNOWN_FIELD;
    case VFY_JSON_DUPLICATE:
        vfy_detail_set(detail, cap, "field \"%s\" repeated in %s", bad, where);
        return VFY_E_POLICY_DUPLICATE;
    default:
        vfy_detail_set(detail, cap, "%s must be an object", where);
        return VFY_E_POLICY_MALFORMED;
    }
}

/* An integer field in [min, max]; wrong type → MALFORMED, outside → @range_rc. */
static vfy_rc int_field(const cJSON *item, const char *name, long long min,
                        long long max, vfy_rc range_rc, long long *v,
                        char *detail, size_t cap)
{
    int ok = 0;

    if (vfy_json_int(item, min, max, v, &ok) != VFY_JSON_OK) {
        vfy_detail_set(detail, cap, "%s must be an integer", name);
        return VFY_E_POLICY_MALFORMED;
    }
    if (!ok) {
        vfy_detail_set(detail, cap, "%s must be in %lld..%lld", name, min, max);
        return range_rc;
    }
    return VFY_OK;
}

static vfy_rc parse_id(vfy_policy *p, const cJSON *item, char *detail, size_t cap)
{
    const char *s;
    size_t n;

    if (vfy_json_str(item, &s, &n) != VFY_JSON_OK) {
        vfy_detail_set(detail, cap, "id must be a string");
        return VFY_E_POLICY_MALFORMED;
    }
    if (n == 0 || n > VFY_POLICY_ID_MAX)
        goto bad;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            goto bad;
    }
    memcpy(p->id, s, n);
    p->id[n] = '\0';
    return VFY_OK;
bad:
    vfy_detail_set(detail, cap, "id must be 1..%d characters of A-Z a-z 0-9 . _ -",
                   VFY_POLICY_ID_MAX);
    return VFY_E_POLICY_ID;
}

static vfy_rc parse_platform(vfy_policy *p, const cJSON *obj, char *detail, size_t cap)
{
    static const char *const names[] = {"bank", "pcrs"};
    const cJSON *f[2];
    vfy_rc rc = fields(obj, "platform", names, 2, f, detail, cap);

    if (rc != VFY_OK)
        return rc;
    if (f[0] != NULL) {
        const char *s;
        size_t n;

        if (vfy_json_str(f[0], &s, &n) != VFY_JSON_OK) {
            vfy_detail_set(detail, cap, "platform.bank must be a string");
            return VFY_E_POLICY_MALFORMED;
        }
        if (strcmp(s, "sha256") != 0) {
            vfy_detail_set(detail, cap, "platform.bank \"%.16s\" is not supported (only sha256)", s);
            return VFY_E_POLICY_BANK;
        }
        p->bank = VFY_HASH_SHA256;
    }
    if (f[1] != NULL) {
        uint32_t mask = 0;

        if (!cJSON_IsArray(f[1])) {
            vfy_detail_set(detail, cap, "platform.pcrs must be an array");
            return VFY_E_POLICY_MALFORMED;
        }
        for (const cJSON *e = f[1]->child; e != NULL; e = e->next) {
            long long v;

            rc = int_field(e, "platform.pcrs[]", 0, VFY_PCR_COUNT - 1, VFY_E_POLICY_PCR,
                           &v, detail, cap);
            if (rc != VFY_OK)
                return rc;
            if (mask & (UINT32_C(1) << v)) {
                vfy_detail_set(detail, cap, "platform.pcrs lists PCR %lld twice", v);
                return VFY_E_POLICY_PCR;
            }
            mask |= UINT32_C(1) << v;
        }
        if (mask == 0) {
            vfy_detail_set(detail, cap, "platform.pcrs must not be empty");
            return VFY_E_POLICY_PCR;
        }
        p->platform_pcrs = mask;
    }
    return VFY_OK;
}

static vfy_rc parse_agent(vfy_policy *p, const cJSON *obj, char *detail, size_t cap)
{
    static const char *const names[] = {"pcr", "history", "unknown_context"};
    static const char *const hist[] = {"current", "approved", "strict"};
    static const char *const tier[] = {"ignore", "warning", "contraindicated"};
    const cJSON *f[3];
    const char *s;
    size_t n, i;
    long long v;
    vfy_rc rc = fields(obj, "agent", names, 3, f, detail, cap);

    if (rc != VFY_OK)
        return rc;
    if (f[0] != NULL) {
        rc = int_field(f[0], "agent.pcr", 0, VFY_PCR_COUNT - 1, VFY_E_POLICY_PCR, &v,
                       detail, cap);
        if (rc != VFY_OK)
            return rc;
        p->agent_pcr = (unsigned)v;
    }
    if (f[1] != NULL) {
        if (vfy_json_str(f[1], &s, &n) != VFY_JSON_OK) {
            vfy_detail_set(detail, cap, "agent.history must be a string");
            return VFY_E_POLICY_MALFORMED;
        }
        for (i = 0; i < 3 && strcmp(s, hist[i]) != 0; i++)
            ;
        if (i == 3) {
            vfy_detail_set(detail, cap, "agent.history must be current, approved or strict");
            return VFY_E_POLICY_ENUM;
        }
        p->history = (vfy_history_mode)(VFY_HISTORY_CURRENT + (int)i);
    }
    if (f[2] != NULL) {
        if (vfy_json_str(f[2], &s, &n) != VFY_JSON_OK) {
            vfy_detail_set(detail, cap, "agent.unknown_context must be a string");
            return VFY_E_POLICY_MALFORMED;
        }
        for (i = 0; i < 3 && strcmp(s, tier[i]) != 0; i++)
            ;
        if (i == 3) {
            vfy_detail_set(detail, cap,
                           "agent.unknown_context must be ignore, warning or contraindicated");
            return VFY_E_POLICY_ENUM;
        }
        p->unknown_context = (vfy_policy_tier)i;
    }
    return VFY_OK;
}

static vfy_rc parse_ttl(const cJSON *obj, const char *where, const char *name,
                        const char *full, uint32_t *out, char *detail, size_t cap)
{
    const cJSON *f[1];
    long long v;
    vfy_rc rc = fields(obj, where, &name, 1, f, detail, cap);

    if (rc != VFY_OK || f[0] == NULL)
        return rc;
    rc = int_field(f[0], full, 1, VFY_POLICY_TTL_MAX, VFY_E_POLICY_RANGE, &v, detail, cap);
    if (rc == VFY_OK)
        *out = (uint32_t)v;
    return rc;
}

vfy_rc vfy_policy_parse_detail(vfy_policy **out, const char *json, size_t len,
                               char *detail, size_t cap)
{
    static const char *const names[] = {"id", "version", "platform", "agent",
                                        "freshness", "result"};
    const cJSON *f[6];
    cJSON *root = NULL;
    vfy_policy *p = NULL;
    long long v;
    vfy_rc rc;

    vfy_detail_set(detail, cap, "%s", "");
    if (out == NULL)
        return VFY_E_INVALID_ARG;
    *out = NULL;
    if (json == NULL)
        return VFY_E_INVALID_ARG;
    {
        static const vfy_json_codes codes = {"policy", VFY_E_POLICY_TOO_LARGE,
                                             VFY_E_POLICY_NESTING, VFY_E_POLICY_MALFORMED,
                                             VFY_E_POLICY_MALFORMED, 0};

        if ((rc = vfy_json_intake(&root, json, len, VFY_POLICY_MAX, &codes, detail, cap)) !=
            VFY_OK)
            return rc;
    }
    p = malloc(sizeof(*p));
    if (p == NULL) {
        rc = VFY_E_NOMEM;
        goto out;
    }
    set_defaults(p);
    if ((rc = fields(root, "the policy", names, 6, f, detail, cap)) != VFY_OK)
        goto out;
    if (f[0] == NULL || f[1] == NULL) {
        vfy_detail_set(detail, cap, "missing \"%s\"", f[0] == NULL ? "id" : "version");
        rc = VFY_E_POLICY_MISSING_FIELD;
        goto out;
    }
    if ((rc = parse_id(p, f[0], detail, cap)) != VFY_OK)
        goto out;
    rc = int_field(f[1], "version", 1, VFY_POLICY_VERSION_MAX, VFY_E_POLICY_RANGE, &v,
                   detail, cap);
    if (rc != VFY_OK)
        goto out;
    p->version = (unsigned)v;
    if (f[2] != NULL && (rc = parse_platform(p, f[2], detail, cap)) != VFY_OK)
        goto out;
    if (f[3] != NULL && (rc = parse_agent(p, f[3], detail, cap)) != VFY_OK)
        goto out;
    if (f[4] != NULL && (rc = parse_ttl(f[4], "freshness", "nonce_ttl_s",
                                        "freshness.nonce_ttl_s", &p->nonce_ttl_s,
                                        detail, cap)) != VFY_OK)
        goto out;
    if (f[5] != NULL && (rc = parse_ttl(f[5], "result", "ttl_s", "result.ttl_s",
                                        &p->result_ttl_s, detail, cap)) != VFY_OK)
        goto out;
    if (p->platform_pcrs & (UINT32_C(1) << p->agent_pcr)) {
        vfy_detail_set(detail, cap, "agent.pcr %u is also a platform PCR", p->agent_pcr);
        rc = VFY_E_POLICY_PCR;
        goto out;
    }
    *out = p;
    p = NULL;
    rc = VFY_OK;
out:
    free(p);
    cJSON_Delete(root);
    return rc;
}

vfy_rc vfy_policy_parse(vfy_policy **out, const char *json, size_t len)
{
    return vfy_policy_parse_detail(out, json, len, NULL, 0);
}

int vfy_policy_same(const vfy_policy *a, const vfy_policy *b)
{
    return a != NULL && b != NULL && strcmp(a->id, b->id) == 0 && a->version == b->version &&
           a->bank == b->bank && a->platform_pcrs == b->platform_pcrs &&
           a->agent_pcr == b->agent_pcr && a->history == b->history &&
           a->unknown_context == b->unknown_context && a->nonce_ttl_s == b->nonce_ttl_s &&
           a->result_ttl_s == b->result_ttl_s;
}

vfy_rc vfy_policy_new_default(vfy_policy **out)
{
    vfy_policy *p;

    if (out == NULL)
        return VFY_E_INVALID_ARG;
    *out = NULL;
    p = malloc(sizeof(*p));
    if (p == NULL)
        return VFY_E_NOMEM;
    set_defaults(p);
    memcpy(p->id, "default", sizeof("default"));
    p->version = 1;
    *out = p;
    return VFY_OK;
}

void vfy_policy_free(vfy_policy **p)
{
    if (p == NULL || *p == NULL)
        return;
    free(*p);
    *p = NULL;
}

const char *vfy_policy_id(const vfy_policy *p) { return p->id; }
unsigned vfy_policy_version(const vfy_policy *p) { return p->version; }
vfy_hash_alg vfy_policy_platform_bank(const vfy_policy *p) { return p->bank; }
uint32_t vfy_policy_platform_pcrs(const vfy_policy *p) { return p->platform_pcrs; }
unsigned vfy_policy_agent_pcr(const vfy_policy *p) { return p->agent_pcr; }
vfy_history_mode vfy_policy_history(const vfy_policy *p) { return p->history; }
vfy_policy_tier vfy_policy_unknown_context(const vfy_policy *p) { return p->unknown_context; }
uint32_t vfy_policy_nonce_ttl_s(const vfy_policy *p) { return p->nonce_ttl_s; }
uint32_t vfy_policy_result_ttl_s(const vfy_policy *p) { return p->result_ttl_s; }

const char *vfy_history_mode_name(vfy_history_mode m)
{
    switch (m) {
    case VFY_HISTORY_CURRENT: return "current";
    case VFY_HISTORY_APPROVED: return "approved";
    case VFY_HISTORY_STRICT: return "strict";
    }
    return NULL;
}

const char *vfy_policy_tier_name(vfy_policy_tier t)
{
    switch (t) {
    case VFY_TIER_IGNORE: return "ignore";
    case VFY_TIER_WARNING: return "warning";
    case VFY_TIER_CONTRAINDICATED: return "contraindicated";
    }
    return NULL;
}
