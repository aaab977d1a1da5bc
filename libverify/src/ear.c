/*
 * ear.c — EAT Attestation Results (draft-ietf-rats-ear-04, JWT form) with
 * AR4SI trustworthiness vectors (draft-ietf-rats-ar4si): build the claims,
 * sign them (jws.c) and verify them for relying parties (DESIGN §7).
 *
 * Two claim-naming profiles: the current draft names (ear_status, ...,
 * eat_profile "tag:ietf.org,2026:rats/ear#04") and the older Veraison names
 * (ear.status, ..., "tag:github.com,2023:veraison/ear"). verifierd's own
 * claims use the "verifierd." prefix in both. docs/ear.md is the reference.
 *
 * Caveats: only the "platform" and "agent" submodules exist in this
 * profile; a result naming any other is refused (VFY_E_EAR_CLAIMS), so a
 * status nobody reads cannot hide a verdict.
 */
#include <stdio.h>
#include <stdlib.h>

#include <openssl/rand.h>

#include "jose.h"
#include "verify/ear.h"

#define JSON_INT_MAX 9007199254740991.0 /* 2^53 - 1: exact in a double */
#define MAX_NONCE 64
#define MIN_NONCE 8
#define MAX_SUBMODS 16

struct profile_names {
    const char *id, *status, *tv, *policy, *verifier;
    int policy_array; /* IETF: array of ids; Veraison: one string */
};

static const struct profile_names profiles[] = {
    [VFY_EAR_PROFILE_IETF] = {VFY_EAR_PROFILE_IETF_ID, "ear_status", "ear_trustworthiness_vector",
                              "ear_appraisal_policy_ids", "ear_verifier_id", 1},
    [VFY_EAR_PROFILE_VERAISON] = {VFY_EAR_PROFILE_VERAISON_ID, "ear.status",
                                  "ear.trustworthiness-vector", "ear.appraisal-policy-id",
                                  "ear.verifier-id", 0},
};

static const char *const submod_names[VFY_EAR_SUBMOD_COUNT] = {"platform", "agent"};

static const char *const tv_names[VFY_TV_COUNT] = {
    "instance-identity", "configuration", "executables", "file-system",
    "hardware", "runtime-opaque", "storage-opaque", "sourced-data",
};

#define CLAIM_ATTESTER "verifierd.attester"
#define CLAIM_CB "verifierd.channel_binding"
#define CLAIM_REASONS "verifierd.reasons"
#define CLAIM_MD "verifierd.manifest_digest"
#define CLAIM_MV "verifierd.manifest_version"
#define VERIFIER_DEVELOPER "verifierd"

/* ---- tiers ---- */

vfy_ear_status vfy_ar4si_tier(int v)
{
    if (v < -128 || v > 127)
        return VFY_EAR_CONTRAINDICATED; /* not an AR4SI value: fail closed */
    if (v >= -1 && v <= 1)
        return VFY_EAR_NONE;
    if ((v >= 2 && v <= 31) || (v >= -32 && v <= -2))
        return VFY_EAR_AFFIRMING;
    if ((v >= 32 && v <= 95) || (v >= -96 && v <= -33))
        return VFY_EAR_WARNING;
    return VFY_EAR_CONTRAINDICATED;
}

vfy_ear_status vfy_ear_status_worst(vfy_ear_status a, vfy_ear_status b)
{
    return a > b ? a : b;
}

vfy_ear_status vfy_trust_vector_status(const vfy_trust_vector *tv)
{
    vfy_ear_status s = VFY_EAR_NONE;

    if (tv == NULL)
        return VFY_EAR_NONE;
    for (int i = 0; i < VFY_TV_COUNT; i++)
        if (tv->set & (1u << i))
            s = vfy_ear_status_worst(s, vfy_ar4si_tier(tv->value[i]));
    return s;
}

vfy_rc vfy_trust_vector_set(vfy_trust_vector *tv, vfy_tv_claim c, int value)
{
    if (tv == NULL || (int)c < 0 || c >= VFY_TV_COUNT || value < -128 || value > 127)
        return VFY_E_INVALID_ARG;
    tv->value[c] = (int8_t)value;
    tv->set |= (uint8_t)(1u << c);
    return VFY_OK;
}

const char *vfy_ear_status_name(vfy_ear_status s)
{
    switch (s) {
    case VFY_EAR_NONE:
        return "none";
    case VFY_EAR_AFFIRMING:
        return "affirming";
    case VFY_EAR_WARNING:
        return "warning";
    case VFY_EAR_CONTRAINDICATED:
        return "contraindicated";
    }
    return NULL;
}

static int status_from_name(const char *name, vfy_ear_status *s)
{
    static const vfy_ear_status all[] = {VFY_EAR_NONE, VFY_EAR_AFFIRMING, VFY_EAR_WARNING,
                                         VFY_EAR_CONTRAINDICATED};

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (strcmp(name, vfy_ear_status_name(all[i])) == 0) {
            *s = all[i];
            return 1;
        }
    return 0;
}

const char *vfy_tv_claim_name(vfy_tv_claim c)
{
    return (int)c >= 0 && c < VFY_TV_COUNT ? tv_names[c] : NULL;
}

uint32_t vfy_ear_ttl(uint32_t policy_ttl_s, uint32_t requested_max_ttl_s)
{
    if (requested_max_ttl_s == 0 || requested_max_ttl_s > policy_ttl_s)
        return policy_ttl_s;
    return requested_max_ttl_s;
}

/* ---- building ---- */

static int str_ok(const char *s, size_t max)
{
    return s != NULL && s[0] != '\0' && strlen(s) <= max;
}

static vfy_rc add_b64(cJSON *o, const char *name, const uint8_t *b, size_t n)
{
    char *s = vfy_b64url_dup(b, n);
    vfy_rc rc = VFY_OK;

    if (s == NULL || cJSON_AddStringToObject(o, name, s) == NULL)
        rc = VFY_E_NOMEM;
    free(s);
    return rc;
}

/*
 * An integer claim. cJSON prints every number with "%1.15g" and reads it
 * back with sscanf to check the round trip (~4k instructions, seven times
 * per EAR); claims are integers, so they go in as raw decimal text, which
 * cJSON prints verbatim.
 */
static cJSON *add_int(cJSON *o, const char *name, long long v)
{
    char buf[24];

    snprintf(buf, sizeof(buf), "%lld", v);
    return cJSON_AddRawToObject(o, name, buf);
}

static cJSON *build_submod(const vfy_ear_claims *c, vfy_ear_submod_id id,
                           const struct profile_names *pn)
{
    const vfy_ear_submod *sm = &c->submod[id];
    cJSON *o = cJSON_CreateObject(), *tv;
    char md[VFY_SHA256_STR_LEN + 1];

    if (o == NULL ||
        cJSON_AddStringToObject(o, pn->status,
                                vfy_ear_status_name(vfy_trust_vector_status(&sm->tv))) == NULL)
        goto fail;
    if (sm->tv.set != 0) {
        tv = cJSON_AddObjectToObject(o, pn->tv);
        if (tv == NULL)
            goto fail;
        for (int i = 0; i < VFY_TV_COUNT; i++)
            if ((sm->tv.set & (1u << i)) && add_int(tv, tv_names[i], sm->tv.value[i]) == NULL)
                goto fail;
    }
    if (sm->n_policy_ids > 0) {
        if (pn->policy_array) {
            cJSON *a = cJSON_AddArrayToObject(o, pn->policy);

            if (a == NULL)
                goto fail;
            for (size_t i = 0; i < sm->n_policy_ids; i++) {
                cJSON *str = cJSON_CreateString(sm->policy_ids[i]);

                if (str == NULL || !cJSON_AddItemToArray(a, str)) {
                    cJSON_Delete(str);
                    goto fail;
                }
            }
        } else if (cJSON_AddStringToObject(o, pn->policy, sm->policy_ids[0]) == NULL) {
            goto fail;
        }
    }
    if (id == VFY_EAR_AGENT && c->has_manifest) {
        if (vfy_sha256_format(md, sizeof(md), c->manifest_digest) != VFY_OK ||
            cJSON_AddStringToObject(o, CLAIM_MD, md) == NULL ||
            add_int(o, CLAIM_MV, (long long)c->manifest_version) == NULL)
            goto fail;
    }
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

static vfy_rc claims_check(const vfy_ear_claims *c, vfy_ear_status overall)
{
    if (c == NULL || (c->profile != VFY_EAR_PROFILE_IETF && c->profile != VFY_EAR_PROFILE_VERAISON))
        return VFY_E_INVALID_ARG;
    if (c->iat < 0 || c->exp <= c->iat || (double)c->exp > JSON_INT_MAX)
        return VFY_E_INVALID_ARG;
    if (!str_ok(c->verifier_build, VFY_EAR_MAX_STRING) ||
        (c->jti != NULL && !str_ok(c->jti, VFY_EAR_JTI_MAX)) ||
        (c->attester != NULL && !str_ok(c->attester, VFY_EAR_MAX_STRING)))
        return VFY_E_INVALID_ARG;
    if (c->nonce != NULL && (c->nonce_len < MIN_NONCE || c->nonce_len > MAX_NONCE))
        return VFY_E_INVALID_ARG;
    if (c->n_reasons > VFY_EAR_MAX_REASONS || (c->n_reasons > 0 && c->reasons == NULL))
        return VFY_E_INVALID_ARG;
    for (size_t i = 0; i < c->n_reasons; i++)
        if (!str_ok(c->reasons[i], VFY_EAR_MAX_STRING))
            return VFY_E_INVALID_ARG;
    /* DESIGN §7: every non-affirming verdict carries reasons. */
    if ((overall == VFY_EAR_WARNING || overall == VFY_EAR_CONTRAINDICATED) && c->n_reasons == 0)
        return VFY_E_INVALID_ARG;
    if (!c->submod[VFY_EAR_PLATFORM].present && !c->submod[VFY_EAR_AGENT].present)
        return VFY_E_INVALID_ARG; /* submods must be non-empty */
    if (c->has_manifest && (!c->submod[VFY_EAR_AGENT].present || c->manifest_version < 0 ||
                            (double)c->manifest_version > JSON_INT_MAX))
        return VFY_E_INVALID_ARG;
    for (int id = 0; id < VFY_EAR_SUBMOD_COUNT; id++) {
        const vfy_ear_submod *sm = &c->submod[id];

        if (!sm->present)
            continue;
        if (sm->n_policy_ids > VFY_EAR_MAX_POLICY_IDS ||
            (sm->n_policy_ids > 0 && sm->policy_ids == NULL))
            return VFY_E_INVALID_ARG;
        for (size_t i = 0; i < sm->n_policy_ids; i++)
            if (!str_ok(sm->policy_ids[i], VFY_EAR_MAX_STRING))
                return VFY_E_INVALID_ARG;
    }
    return VFY_OK;
}

vfy_rc vfy_ear_claims_json(const vfy_ear_claims *c, char **json, char *jti_out)
{
    const struct profile_names *pn;
    vfy_ear_status overall = VFY_EAR_NONE;
    char jti[VFY_EAR_JTI_MAX + 1];
    cJSON *root = NULL, *vid, *subs, *arr;
    char *printed;
    uint8_t h[32];
    vfy_rc rc;

    if (json == NULL)
        return VFY_E_INVALID_ARG;
    *json = NULL;
    if (jti_out != NULL)
        jti_out[0] = '\0';
    if (c == NULL)
        return VFY_E_INVALID_ARG;
    for (int id = 0; id < VFY_EAR_SUBMOD_COUNT; id++)
        if (c->submod[id].present)
            overall = vfy_ear_status_worst(overall, vfy_trust_vector_status(&c->submod[id].tv));
    rc = claims_check(c, overall);
    if (rc != VFY_OK)
        return rc;
    pn = &profiles[c->profile];
    if (c->jti != NULL) {
        memcpy(jti, c->jti, strlen(c->jti) + 1);
    } else {
        uint8_t r[16];

        if (RAND_bytes(r, sizeof(r)) != 1)
            return VFY_E_INTERNAL;
        if (vfy_b64url_encode(jti, sizeof(jti), r, sizeof(r)) != VFY_OK)
            return VFY_E_INTERNAL;
    }
    rc = VFY_E_NOMEM;
    root = cJSON_CreateObject();
    if (root == NULL || cJSON_AddStringToObject(root, "eat_profile", pn->id) == NULL ||
        add_int(root, "iat", (long long)c->iat) == NULL ||
        add_int(root, "exp", (long long)c->exp) == NULL ||
        cJSON_AddStringToObject(root, "jti", jti) == NULL)
        goto out;
    if (c->nonce != NULL && (rc = add_b64(root, "eat_nonce", c->nonce, c->nonce_len)) != VFY_OK)
        goto out;
    rc = VFY_E_NOMEM;
    vid = cJSON_AddObjectToObject(root, pn->verifier);
    if (vid == NULL || cJSON_AddStringToObject(vid, "developer", VERIFIER_DEVELOPER) == NULL ||
        cJSON_AddStringToObject(vid, "build", c->verifier_build) == NULL ||
        cJSON_AddStringToObject(root, pn->status, vfy_ear_status_name(overall)) == NULL)
        goto out;
    subs = cJSON_AddObjectToObject(root, "submods");
    if (subs == NULL)
        goto out;
    for (int id = 0; id < VFY_EAR_SUBMOD_COUNT; id++) {
        cJSON *o;

        if (!c->submod[id].present)
            continue;
        o = build_submod(c, (vfy_ear_submod_id)id, pn);
        if (o == NULL || !cJSON_AddItemToObject(subs, submod_names[id], o)) {
            cJSON_Delete(o);
            goto out;
        }
    }
    if (c->attester != NULL && cJSON_AddStringToObject(root, CLAIM_ATTESTER, c->attester) == NULL)
        goto out;
    if (c->channel_binding != NULL) {
        if (vfy_sha256(c->channel_binding, 32, h) != VFY_OK) {
            rc = VFY_E_INTERNAL;
            goto out;
        }
        if ((rc = add_b64(root, CLAIM_CB, h, sizeof(h))) != VFY_OK)
            goto out;
        rc = VFY_E_NOMEM;
    }
    arr = cJSON_AddArrayToObject(root, CLAIM_REASONS);
    if (arr == NULL)
        goto out;
    for (size_t i = 0; i < c->n_reasons; i++) {
        cJSON *str = cJSON_CreateString(c->reasons[i]);

        if (str == NULL || !cJSON_AddItemToArray(arr, str)) {
            cJSON_Delete(str);
            goto out;
        }
    }
    printed = cJSON_PrintUnformatted(root);
    if (printed == NULL)
        goto out;
    *json = malloc(strlen(printed) + 1);
    if (*json != NULL)
        memcpy(*json, printed, strlen(printed) + 1);
    cJSON_free(printed);
    if (*json == NULL)
        goto out;
    if (jti_out != NULL)
        memcpy(jti_out, jti, strlen(jti) + 1);
    rc = VFY_OK;
out:
    cJSON_Delete(root);
    return rc;
}

vfy_rc vfy_ear_sign(const vfy_ear_claims *c, const vfy_signing_key *key, char **jws,
                    char *jti_out)
{
    char *payload = NULL;
    vfy_rc rc;

    if (jws == NULL)
        return VFY_E_INVALID_ARG;
    *jws = NULL;
    if (jti_out != NULL)
        jti_out[0] = '\0';
    if (key == NULL)
        return VFY_E_INVALID_ARG;
    rc = vfy_ear_claims_json(c, &payload, jti_out);
    if (rc == VFY_OK)
        rc = vfy_jws_sign_es256(key, (const uint8_t *)payload, strlen(payload), jws);
    if (rc != VFY_OK && jti_out != NULL)
        jti_out[0] = '\0';
    free(payload);
    return rc;
}

/* ---- verifying ---- */

struct ear_submod_view {
    int present;
    vfy_ear_status status;
    vfy_trust_vector tv;
    size_t n_policy;
    const char *policy[VFY_EAR_MAX_POLICY_IDS];
};

struct vfy_ear {
    char *payload; /* decoded claims JSON */
    cJSON *root;   /* parsed payload; strings below point into it */
    vfy_ear_profile profile;
    vfy_ear_status status;
    struct ear_submod_view sub[VFY_EAR_SUBMOD_COUNT];
    int64_t iat, exp, nbf;
    int has_nbf;
    const char *jti, *attester, *cb, *build;
    int has_nonce;
    uint8_t nonce[MAX_NONCE];
    size_t nonce_len;
    int has_md, has_mv;
    uint8_t md[32];
    int64_t mv;
    size_t n_reasons;
    const char **reasons;
    char kid[VFY_JWK_MAX_KID + 1];
};

void vfy_ear_free(vfy_ear **ear)
{
    if (ear == NULL || *ear == NULL)
        return;
    cJSON_Delete((*ear)->root);
    free((*ear)->payload);
    free((*ear)->reasons);
    free(*ear);
    *ear = NULL;
}

/* An integral JSON number within +-(2^53 - 1). */
static int json_int(const cJSON *v, int64_t *out)
{
    double d;

    if (!cJSON_IsNumber(v))
        return 0;
    d = v->valuedouble;
    /* NaN fails both comparisons; in range, the cast is exact iff d is integral. */
    if (!(d <= JSON_INT_MAX && d >= -JSON_INT_MAX) || (double)(int64_t)d != d)
        return 0;
    *out = (int64_t)d;
    return 1;
}

/* A string of 1..VFY_EAR_MAX_STRING bytes, or NULL. */
static const char *json_str(const cJSON *v)
{
    if (!cJSON_IsString(v) || v->valuestring == NULL || !str_ok(v->valuestring, VFY_EAR_MAX_STRING))
        return NULL;
    return v->valuestring;
}

static vfy_rc parse_submod(vfy_ear *e, vfy_ear_submod_id id, const cJSON *o,
                           const struct profile_names *pn)
{
    struct ear_submod_view *sv = &e->sub[id];
    const cJSON *v, *m;
    const char *s;

    if (!cJSON_IsObject(o))
        return VFY_E_EAR_CLAIMS;
    sv->present = 1;
    s = json_str(cJSON_GetObjectItemCaseSensitive(o, pn->status));
    if (s == NULL || !status_from_name(s, &sv->status))
        return VFY_E_EAR_CLAIMS;
    v = cJSON_GetObjectItemCaseSensitive(o, pn->tv);
    if (v != NULL) {
        if (!cJSON_IsObject(v))
            return VFY_E_EAR_CLAIMS;
        cJSON_ArrayForEach(m, v) {
            int64_t val;
            int i;

            for (i = 0; i < VFY_TV_COUNT; i++)
                if (strcmp(m->string, tv_names[i]) == 0)
                    break;
            if (i == VFY_TV_COUNT || !json_int(m, &val) || val < -128 || val > 127 ||
                vfy_trust_vector_set(&sv->tv, (vfy_tv_claim)i, (int)val) != VFY_OK)
                return VFY_E_EAR_CLAIMS;
        }
    }
    /* The issuer derives the status from the vector (never by hand): a
     * signed EAR whose status says otherwise is refused, not believed. */
    if (sv->status != vfy_trust_vector_status(&sv->tv))
        return VFY_E_EAR_STATUS;
    v = cJSON_GetObjectItemCaseSensitive(o, pn->policy);
    if (v != NULL) {
        if (pn->policy_array) {
            if (!cJSON_IsArray(v))
                return VFY_E_EAR_CLAIMS;
            cJSON_ArrayForEach(m, v) {
                if (sv->n_policy >= VFY_EAR_MAX_POLICY_IDS || (s = json_str(m)) == NULL)
                    return VFY_E_EAR_CLAIMS;
                sv->policy[sv->n_policy++] = s;
            }
        } else {
            if ((s = json_str(v)) == NULL)
                return VFY_E_EAR_CLAIMS;
            sv->policy[sv->n_policy++] = s;
        }
    }
    if (id == VFY_EAR_AGENT) {
        v = cJSON_GetObjectItemCaseSensitive(o, CLAIM_MD);
        if (v != NULL) {
            if ((s = json_str(v)) == NULL || vfy_sha256_parse(e->md, s, strlen(s)) != VFY_OK)
                return VFY_E_EAR_CLAIMS;
            e->has_md = 1;
        }
        v = cJSON_GetObjectItemCaseSensitive(o, CLAIM_MV);
        if (v != NULL) {
            if (!json_int(v, &e->mv) || e->mv < 0)
                return VFY_E_EAR_CLAIMS;
            e->has_mv = 1;
        }
    }
    return VFY_OK;
}

/* Parse and type-check the claims (no time or binding checks yet). */
static vfy_rc parse_claims(vfy_ear *e)
{
    const struct profile_names *pn = NULL;
    const cJSON *root = e->root, *v, *m;
    const char *s;
    vfy_ear_status worst = VFY_EAR_NONE;
    size_t nsub = 0;
    vfy_rc rc;

    if (!cJSON_IsObject(root))
        return VFY_E_EAR_CLAIMS;
    s = json_str(cJSON_GetObjectItemCaseSensitive(root, "eat_profile"));
    for (size_t i = 0; s != NULL && i < sizeof(profiles) / sizeof(profiles[0]); i++)
        if (strcmp(s, profiles[i].id) == 0) {
            pn = &profiles[i];
            e->profile = (vfy_ear_profile)i;
        }
    if (pn == NULL)
        return VFY_E_EAR_PROFILE;
    if (!json_int(cJSON_GetObjectItemCaseSensitive(root, "iat"), &e->iat) ||
        !json_int(cJSON_GetObjectItemCaseSensitive(root, "exp"), &e->exp) || e->exp <= e->iat)
        return VFY_E_EAR_CLAIMS;
    v = cJSON_GetObjectItemCaseSensitive(root, pn->verifier);
    if (!cJSON_IsObject(v) || json_str(cJSON_GetObjectItemCaseSensitive(v, "developer")) == NULL ||
        (e->build = json_str(cJSON_GetObjectItemCaseSensitive(v, "build"))) == NULL)
        return VFY_E_EAR_CLAIMS;
    v = cJSON_GetObjectItemCaseSensitive(root, "jti");
    if (v != NULL && ((e->jti = json_str(v)) == NULL || strlen(e->jti) > VFY_EAR_JTI_MAX))
        return VFY_E_EAR_CLAIMS;
    v = cJSON_GetObjectItemCaseSensitive(root, CLAIM_ATTESTER);
    if (v != NULL && (e->attester = json_str(v)) == NULL)
        return VFY_E_EAR_CLAIMS;
    v = cJSON_GetObjectItemCaseSensitive(root, CLAIM_CB);
    if (v != NULL && (e->cb = json_str(v)) == NULL)
        return VFY_E_EAR_CLAIMS;
    v = cJSON_GetObjectItemCaseSensitive(root, "eat_nonce");
    if (v != NULL) {
        if ((s = json_str(v)) == NULL ||
            vfy_b64url_decode(e->nonce, sizeof(e->nonce), &e->nonce_len, s, strlen(s)) != VFY_OK ||
            e->nonce_len < MIN_NONCE)
            return VFY_E_EAR_CLAIMS;
        e->has_nonce = 1;
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "submods");
    if (!cJSON_IsObject(v))
        return VFY_E_EAR_CLAIMS;
    cJSON_ArrayForEach(m, v) {
        int id;

        if (++nsub > MAX_SUBMODS || !cJSON_IsObject(m))
            return VFY_E_EAR_CLAIMS;
        for (id = 0; id < VFY_EAR_SUBMOD_COUNT; id++)
            if (strcmp(m->string, submod_names[id]) == 0)
                break;
        /* only the profile's submodules: a status in one nobody reads
         * could otherwise hide a verdict */
        if (id == VFY_EAR_SUBMOD_COUNT || e->sub[id].present)
            return VFY_E_EAR_CLAIMS;
        rc = parse_submod(e, (vfy_ear_submod_id)id, m, pn);
        if (rc != VFY_OK)
            return rc;
        worst = vfy_ear_status_worst(worst, e->sub[id].status);
    }
    if (nsub == 0)
        return VFY_E_EAR_CLAIMS;
    v = cJSON_GetObjectItemCaseSensitive(root, pn->status);
    if ((s = json_str(v)) == NULL || !status_from_name(s, &e->status))
        return VFY_E_EAR_CLAIMS;
    if (e->status != worst)   /* the overall status is the worst submodule's */
        return VFY_E_EAR_STATUS;
    /* Not issued by this profile; honoured if present (RFC 7519 §4.1.5). */
    v = cJSON_GetObjectItemCaseSensitive(root, "nbf");
    if (v != NULL && (!json_int(v, &e->nbf) || e->nbf > e->exp))
        return VFY_E_EAR_CLAIMS;
    e->has_nbf = v != NULL;
    v = cJSON_GetObjectItemCaseSensitive(root, CLAIM_REASONS);
    if (v != NULL) {
        size_t n = 0;

        if (!cJSON_IsArray(v))
            return VFY_E_EAR_CLAIMS;
        cJSON_ArrayForEach(m, v)
            n++;
        if (n > VFY_EAR_MAX_REASONS)
            return VFY_E_EAR_CLAIMS;
        e->reasons = calloc(n + 1, sizeof(*e->reasons));
        if (e->reasons == NULL)
            return VFY_E_NOMEM;
        cJSON_ArrayForEach(m, v) {
            if ((s = json_str(m)) == NULL)
                return VFY_E_EAR_CLAIMS;
            e->reasons[e->n_reasons++] = s;
        }
    }
    return VFY_OK;
}

vfy_rc vfy_ear_verify(vfy_ear **out, const char *jws, size_t jws_len, const vfy_jwks *keys,
                      const uint8_t *expected_nonce, size_t nonce_len,
                      const uint8_t *channel_binding, int64_t now)
{
    vfy_ear *e = NULL;
    size_t plen = 0;
    vfy_rc rc;

    if (out == NULL)
        return VFY_E_INVALID_ARG;
    *out = NULL;
    if (keys == NULL || (jws == NULL && jws_len != 0) ||
        (expected_nonce != NULL && (nonce_len == 0 || nonce_len > MAX_NONCE)))
        return VFY_E_INVALID_ARG;
    e = calloc(1, sizeof(*e));
    if (e == NULL)
        return VFY_E_NOMEM;
    rc = vfy_jws_verify_es256(jws, jws_len, keys, &e->payload, &plen, e->kid);
    if (rc != VFY_OK)
        goto out;
    e->root = vfy_json_parse_strict(e->payload, plen);
    if (e->root == NULL) {
        rc = VFY_E_EAR_CLAIMS;
        goto out;
    }
    rc = parse_claims(e);
    if (rc != VFY_OK)
        goto out;
    if (now >= e->exp) {
        rc = VFY_E_EAR_EXPIRED;
        goto out;
    }
    if (e->iat > now + VFY_EAR_IAT_SKEW_S || (e->has_nbf && e->nbf > now + VFY_EAR_IAT_SKEW_S)) {
        rc = VFY_E_EAR_NOT_YET_VALID;
        goto out;
    }
    if (expected_nonce != NULL &&
        (!e->has_nonce || e->nonce_len != nonce_len ||
         !vfy_ct_eq(e->nonce, expected_nonce, nonce_len))) {
        rc = VFY_E_EAR_NONCE;
        goto out;
    }
    if (channel_binding != NULL) {
        uint8_t want[32], got[32];
        size_t glen = 0;

        rc = VFY_E_EAR_CHANNEL_BINDING;
        if (e->cb == NULL || vfy_sha256(channel_binding, 32, want) != VFY_OK ||
            vfy_b64url_decode(got, sizeof(got), &glen, e->cb, strlen(e->cb)) != VFY_OK ||
            glen != sizeof(got) || !vfy_ct_eq(got, want, sizeof(want)))
            goto out;
    }
    *out = e;
    e = NULL;
    rc = VFY_OK;
out:
    vfy_ear_free(&e);
    return rc;
}

vfy_rc vfy_ear_verify_jwks_json(vfy_ear **out, const char *jws, size_t jws_len,
                                const char *jwks_json, size_t jwks_len,
                                const uint8_t *expected_nonce, size_t nonce_len,
                                const uint8_t *channel_binding, int64_t now)
{
    vfy_jwks *keys = NULL;
    vfy_rc rc;

    if (out == NULL)
        return VFY_E_INVALID_ARG;
    *out = NULL;
    rc = vfy_jwks_parse(&keys, jwks_json, jwks_len);
    if (rc != VFY_OK)
        return rc;
    rc = vfy_ear_verify(out, jws, jws_len, keys, expected_nonce, nonce_len, channel_binding, now);
    vfy_jwks_free(&keys);
    return rc;
}

/* ---- accessors ---- */

static const struct ear_submod_view *sub_of(const vfy_ear *e, vfy_ear_submod_id id)
{
    if (e == NULL || (int)id < 0 || id >= VFY_EAR_SUBMOD_COUNT || !e->sub[id].present)
        return NULL;
    return &e->sub[id];
}

vfy_ear_status vfy_ear_get_status(const vfy_ear *ear)
{
    return ear != NULL ? ear->status : VFY_EAR_CONTRAINDICATED;
}

vfy_ear_profile vfy_ear_get_profile(const vfy_ear *ear)
{
    return ear != NULL ? ear->profile : VFY_EAR_PROFILE_IETF;
}

int vfy_ear_has_submod(const vfy_ear *ear, vfy_ear_submod_id id)
{
    return sub_of(ear, id) != NULL;
}

vfy_ear_status vfy_ear_get_submod_status(const vfy_ear *ear, vfy_ear_submod_id id)
{
    const struct ear_submod_view *s = sub_of(ear, id);

    return s != NULL ? s->status : VFY_EAR_NONE;
}

vfy_rc vfy_ear_get_vector(const vfy_ear *ear, vfy_ear_submod_id id, vfy_trust_vector *tv)
{
    const struct ear_submod_view *s;

    if (tv == NULL)
        return VFY_E_INVALID_ARG;
    memset(tv, 0, sizeof(*tv));
    if (ear == NULL)
        return VFY_E_INVALID_ARG;
    s = sub_of(ear, id);
    if (s == NULL)
        return VFY_E_NOT_FOUND;
    *tv = s->tv;
    return VFY_OK;
}

size_t vfy_ear_get_policy_id_count(const vfy_ear *ear, vfy_ear_submod_id id)
{
    const struct ear_submod_view *s = sub_of(ear, id);

    return s != NULL ? s->n_policy : 0;
}

const char *vfy_ear_get_policy_id(const vfy_ear *ear, vfy_ear_submod_id id, size_t i)
{
    const struct ear_submod_view *s = sub_of(ear, id);

    return s != NULL && i < s->n_policy ? s->policy[i] : NULL;
}

int64_t vfy_ear_get_iat(const vfy_ear *ear)
{
    return ear != NULL ? ear->iat : 0;
}

int64_t vfy_ear_get_exp(const vfy_ear *ear)
{
    return ear != NULL ? ear->exp : 0;
}

vfy_rc vfy_ear_check_scope(const vfy_ear *ear, const char *attester, uint32_t max_ttl_s)
{
    if (ear == NULL || attester == NULL)
        return VFY_E_INVALID_ARG;
    if (ear->jti == NULL || ear->jti[0] == '\0')
        return VFY_E_EAR_JTI;
    if (ear->attester == NULL || strcmp(ear->attester, attester) != 0)
        return VFY_E_EAR_ATTESTER;
    /* exp >= iat: the difference fits in 64 unsigned bits, whatever the signs */
    if (max_ttl_s != 0 && ear->exp >= ear->iat &&
        (uint64_t)ear->exp - (uint64_t)ear->iat > max_ttl_s)
        return VFY_E_EAR_TTL;
    return VFY_OK;
}

/* @got ("ID@VERSION") is what @want names: "ID@VERSION" exactly, or a bare
 * "ID" at any version. */
static int policy_id_is(const char *got, const char *want)
{
    size_t n = strlen(want);

    if (got == NULL || strncmp(got, want, n) != 0)
        return 0;
    return strchr(want, '@') != NULL ? got[n] == '\0' : got[n] == '@';
}

vfy_rc vfy_ear_verify_expected(vfy_ear **out, const char *jws, size_t jws_len,
                               const vfy_jwks *keys, const vfy_ear_expect *expect, int64_t now)
{
    vfy_rc rc;

    if (out == NULL)
        return VFY_E_INVALID_ARG;
    *out = NULL;
    if (expect == NULL || expect->nonce == NULL || expect->nonce_len == 0 ||
        expect->channel_binding == NULL || expect->attester == NULL ||
        expect->attester[0] == '\0' || expect->max_ttl_s == 0 ||
        (expect->policy != NULL && (expect->policy[0] == '\0' || expect->policy[0] == '@')))
        return VFY_E_INVALID_ARG;
    for (size_t i = 0; i < sizeof(expect->reserved) / sizeof(expect->reserved[0]); i++)
        if (expect->reserved[i] != NULL)   /* a later version's expectation: not checked here */
            return VFY_E_INVALID_ARG;
    rc = vfy_ear_verify(out, jws, jws_len, keys, expect->nonce, expect->nonce_len,
                        expect->channel_binding, now);
    if (rc == VFY_OK)
        rc = vfy_ear_check_scope(*out, expect->attester, expect->max_ttl_s);
    for (int id = 0; rc == VFY_OK && expect->policy != NULL && id < VFY_EAR_SUBMOD_COUNT; id++) {
        const struct ear_submod_view *s = &(*out)->sub[id];

        if (s->present && (s->n_policy != 1 || !policy_id_is(s->policy[0], expect->policy)))
            rc = VFY_E_EAR_POLICY;
    }
    if (rc != VFY_OK)
        vfy_ear_free(out);
    return rc;
}

const char *vfy_ear_get_jti(const vfy_ear *ear)
{
    return ear != NULL ? ear->jti : NULL;
}

const char *vfy_ear_get_attester(const vfy_ear *ear)
{
    return ear != NULL ? ear->attester : NULL;
}

const char *vfy_ear_get_verifier_build(const vfy_ear *ear)
{
    return ear != NULL ? ear->build : NULL;
}

const char *vfy_ear_get_channel_binding(const vfy_ear *ear)
{
    return ear != NULL ? ear->cb : NULL;
}

vfy_rc vfy_ear_get_nonce(const vfy_ear *ear, const uint8_t **nonce, size_t *len)
{
    if (nonce == NULL || len == NULL)
        return VFY_E_INVALID_ARG;
    *nonce = NULL;
    *len = 0;
    if (ear == NULL)
        return VFY_E_INVALID_ARG;
    if (!ear->has_nonce)
        return VFY_E_NOT_FOUND;
    *nonce = ear->nonce;
    *len = ear->nonce_len;
    return VFY_OK;
}

vfy_rc vfy_ear_get_manifest_digest(const vfy_ear *ear, uint8_t out[32])
{
    if (ear == NULL || out == NULL)
        return VFY_E_INVALID_ARG;
    if (!ear->has_md) {
        memset(out, 0, 32);
        return VFY_E_NOT_FOUND;
    }
    memcpy(out, ear->md, 32);
    return VFY_OK;
}

vfy_rc vfy_ear_get_manifest_version(const vfy_ear *ear, int64_t *v)
{
    if (ear == NULL || v == NULL)
        return VFY_E_INVALID_ARG;
    *v = ear->has_mv ? ear->mv : 0;
    return ear->has_mv ? VFY_OK : VFY_E_NOT_FOUND;
}

size_t vfy_ear_get_reason_count(const vfy_ear *ear)
{
    return ear != NULL ? ear->n_reasons : 0;
}

const char *vfy_ear_get_reason(const vfy_ear *ear, size_t i)
{
    return ear != NULL && i < ear->n_reasons ? ear->reasons[i] : NULL;
}

const char *vfy_ear_get_kid(const vfy_ear *ear)
{
    return ear != NULL ? ear->kid : NULL;
}

const char *vfy_ear_get_claims_json(const vfy_ear *ear)
{
    return ear != NULL ? ear->payload : NULL;
}
