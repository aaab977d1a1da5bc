/*
 * manifest.c — agent manifest parsing and validation (DESIGN §5; limits and
 * field rules in manifest.h). The digest md is SHA-256 of the exact input
 * bytes (DESIGN §3), computed here once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json_util.h"
#include "verify/manifest.h"

struct vfy_manifest {
    char *agent_id;
    uint64_t version;
    uint8_t md[32];
    uint8_t context[32];
    size_t count[3];
    vfy_manifest_entry *entries[3]; /* by list - 1 */
};

static const char *const list_names[3] = {"models", "tools", "policies"};

static vfy_rc fields(const cJSON *obj, const char *where, const char *const *names,
                     size_t n, const cJSON **found, char *detail, size_t cap)
{
    const char *bad = NULL;

    switch (vfy_json_fields(obj, names, n, found, &bad)) {
    case VFY_JSON_OK:
        break;
    case VFY_JSON_UNKNOWN:
        vfy_detail_set(detail, cap, "unknown field \"%s\" in %s", bad, where);
        return VFY_E_MANIFEST_UNKNOWN_FIELD;
    case VFY_JSON_DUPLICATE:
        vfy_detail_set(detail, cap, "field \"%s\" repeated in %s", bad, where);
        return VFY_E_MANIFEST_DUPLICATE;
    default:
        vfy_detail_set(detail, cap, "%s must be an object", where);
        return VFY_E_MANIFEST_MALFORMED;
    }
    for (size_t i = 0; i < n; i++) {
        if (found[i] == NULL) {
            vfy_detail_set(detail, cap, "%s lacks \"%s\"", where, names[i]);
            return VFY_E_MANIFEST_MISSING_FIELD;
        }
    }
    return VFY_OK;
}

/* A name-like string: 1..128 bytes, no control characters; copied to *@out. */
static vfy_rc name_field(const cJSON *item, const char *what, char **out,
                         char *detail, size_t cap)
{
    const char *s;
    size_t n;

    if (vfy_json_str(item, &s, &n) != VFY_JSON_OK) {
        vfy_detail_set(detail, cap, "%s must be a string", what);
        return VFY_E_MANIFEST_MALFORMED;
    }
    if (n == 0 || n > VFY_MANIFEST_NAME_MAX || !vfy_json_printable(s, n)) {
        vfy_detail_set(detail, cap, "%s must be 1..%d bytes without control characters",
                       what, VFY_MANIFEST_NAME_MAX);
        return VFY_E_MANIFEST_NAME;
    }
    *out = malloc(n + 1);
    if (*out == NULL)
        return VFY_E_NOMEM;
    memcpy(*out, s, n + 1);
    return VFY_OK;
}

static vfy_rc digest_field(const cJSON *item, const char *what, uint8_t out[32],
                           char *detail, size_t cap)
{
    const char *s;
    size_t n;

    if (vfy_json_str(item, &s, &n) != VFY_JSON_OK) {
        vfy_detail_set(detail, cap, "%s must be a string", what);
        return VFY_E_MANIFEST_MALFORMED;
    }
    if (vfy_sha256_parse(out, s, n) != VFY_OK) {
        vfy_detail_set(detail, cap, "%s must be sha256: followed by 64 lowercase hex digits",
                       what);
        return VFY_E_MANIFEST_DIGEST;
    }
    return VFY_OK;
}

static vfy_rc parse_list(vfy_manifest *m, int li, const cJSON *arr, char *detail, size_t cap)
{
    static const char *const plain[] = {"name", "digest"};
    static const char *const tool[] = {"name", "version", "digest"};
    const int is_tool = (li == VFY_MANIFEST_TOOLS - 1);
    const char *what = list_names[li];
    size_t n = 0, i = 0;
    vfy_rc rc;

    if (!cJSON_IsArray(arr)) {
        vfy_detail_set(detail, cap, "%s must be an array", what);
        return VFY_E_MANIFEST_MALFORMED;
    }
    for (const cJSON *e = arr->child; e != NULL; e = e->next) {
        if (++n > VFY_MANIFEST_MAX_ENTRIES) {
            vfy_detail_set(detail, cap, "%s has more than %d entries", what,
                           VFY_MANIFEST_MAX_ENTRIES);
            return VFY_E_MANIFEST_TOO_MANY;
        }
    }
    m->entries[li] = calloc(n ? n : 1, sizeof(vfy_manifest_entry));
    if (m->entries[li] == NULL)
        return VFY_E_NOMEM;
    for (const cJSON *e = arr->child; e != NULL; e = e->next, i++) {
        vfy_manifest_entry *ent = &m->entries[li][i];
        const cJSON *f[3];
        char where[32];

        snprintf(where, sizeof(where), "%s[%zu]", what, i);
        rc = fields(e, where, is_tool ? tool : plain, is_tool ? 3 : 2, f, detail, cap);
        if (rc != VFY_OK)
            return rc;
        /* count entries as they are filled, so vfy_manifest_free() frees them */
        m->count[li] = i + 1;
        if ((rc = name_field(f[0], where, (char **)&ent->name, detail, cap)) != VFY_OK)
            return rc;
        if (is_tool &&
            (rc = name_field(f[1], where, (char **)&ent->version, detail, cap)) != VFY_OK)
            return rc;
        if ((rc = digest_field(f[is_tool ? 2 : 1], where, ent->digest, detail, cap)) != VFY_OK)
            return rc;
    }
    return VFY_OK;
}

vfy_rc vfy_manifest_parse(vfy_manifest **out, const void *data, size_t len,
                          char *detail, size_t cap)
{
    static const char *const names[] = {"agent_id", "manifest_version", "models",
                                        "tools", "policies", "context"};
    static const char *const ctx_names[] = {"digest"};
    const cJSON *f[6], *cf[1];
    cJSON *root = NULL;
    vfy_manifest *m = NULL;
    long long v;
    int ok;
    vfy_rc rc;

    vfy_detail_set(detail, cap, "%s", "");
    if (out == NULL)
        return VFY_E_INVALID_ARG;
    *out = NULL;
    if (data == NULL)
        return VFY_E_INVALID_ARG;
    {
        /* three lists of entries of at most three fields (7 tokens), and a
         * few more: anything past it is more entries than a list may hold */
        static const vfy_json_codes codes = {"manifest", VFY_E_MANIFEST_TOO_LARGE,
                                             VFY_E_MANIFEST_NESTING, VFY_E_MANIFEST_MALFORMED,
                                             VFY_E_MANIFEST_TOO_MANY,
                                             3 * (8 * VFY_MANIFEST_MAX_ENTRIES + 1) + 64};

        if ((rc = vfy_json_intake(&root, data, len, VFY_MANIFEST_MAX, &codes, detail, cap)) !=
            VFY_OK)
            return rc;
    }
    m = calloc(1, sizeof(*m));
    if (m == NULL) {
        rc = VFY_E_NOMEM;
        goto out;
    }
    if ((rc = fields(root, "the manifest", names, 6, f, detail, cap)) != VFY_OK)
        goto out;
    if ((rc = name_field(f[0], "agent_id", &m->agent_id, detail, cap)) != VFY_OK)
        goto out;
    if (vfy_json_int(f[1], 0, VFY_JSON_INT_MAX, &v, &ok) != VFY_JSON_OK || !ok) {
        vfy_detail_set(detail, cap, "manifest_version must be an integer in 0..2^53-1");
        rc = VFY_E_MANIFEST_VERSION;
        goto out;
    }
    m->version = (uint64_t)v;
    for (int li = 0; li < 3; li++)
        if ((rc = parse_list(m, li, f[2 + li], detail, cap)) != VFY_OK)
            goto out;
    if ((rc = fields(f[5], "context", ctx_names, 1, cf, detail, cap)) != VFY_OK)
        goto out;
    if ((rc = digest_field(cf[0], "context.digest", m->context, detail, cap)) != VFY_OK)
        goto out;
    if ((rc = vfy_sha256(data, len, m->md)) != VFY_OK)
        goto out;
    *out = m;
    m = NULL;
out:
    vfy_manifest_free(&m);
    cJSON_Delete(root);
    return rc;
}

void vfy_manifest_free(vfy_manifest **pm)
{
    vfy_manifest *m;

    if (pm == NULL || *pm == NULL)
        return;
    m = *pm;
    for (int li = 0; li < 3; li++) {
        for (size_t i = 0; i < m->count[li]; i++) {
            free((char *)m->entries[li][i].name);
            free((char *)m->entries[li][i].version);
        }
        free(m->entries[li]);
    }
    free(m->agent_id);
    free(m);
    *pm = NULL;
}

const char *vfy_manifest_agent_id(const vfy_manifest *m) { return m->agent_id; }
uint64_t vfy_manifest_version(const vfy_manifest *m) { return m->version; }
const uint8_t *vfy_manifest_digest(const vfy_manifest *m) { return m->md; }
const uint8_t *vfy_manifest_context_digest(const vfy_manifest *m) { return m->context; }

size_t vfy_manifest_count(const vfy_manifest *m, vfy_manifest_list list)
{
    if (list < VFY_MANIFEST_MODELS || list > VFY_MANIFEST_POLICIES)
        return 0;
    return m->count[list - 1];
}

const vfy_manifest_entry *vfy_manifest_entry_at(const vfy_manifest *m,
                                                vfy_manifest_list list, size_t i)
{
    if (list < VFY_MANIFEST_MODELS || list > VFY_MANIFEST_POLICIES ||
        i >= m->count[list - 1])
        return NULL;
    return &m->entries[list - 1][i];
}
