/*
 * agent_log.c — agent log parsing, replay against the agent PCR, and the
 * history rule (DESIGN §4). Rules and limits are in agent_log.h.
 *
 * Caveat: the history function is pure; persisting its result (and doing so
 * atomically with the clock state) is the caller's job.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json_util.h"
#include "verify/agent_log.h"
#include "verify/manifest.h"

struct log_entry {
    uint8_t digest[32];
    uint8_t *manifest; /* NULL if not carried */
    size_t manifest_len;
};

struct vfy_agent_log {
    size_t n;
    struct log_entry *e;
    uint8_t pcr[32]; /* replayed value */
};

static vfy_rc parse_entry(struct log_entry *ent, size_t i, const cJSON *obj,
                          char *detail, size_t cap)
{
    static const char *const names[] = {"digest", "manifest"};
    const cJSON *f[2];
    const char *bad = NULL, *s;
    size_t n, dec_len = 0;
    uint8_t md[32];
    vfy_rc rc;

    switch (vfy_json_fields(obj, names, 2, f, &bad)) {
    case VFY_JSON_OK:
        break;
    case VFY_JSON_UNKNOWN:
        vfy_detail_set(detail, cap, "entry %zu: unknown field \"%s\"", i, bad);
        return VFY_E_LOG_UNKNOWN_FIELD;
    case VFY_JSON_DUPLICATE:
        vfy_detail_set(detail, cap, "entry %zu: field \"%s\" repeated", i, bad);
        return VFY_E_LOG_DUPLICATE;
    default:
        vfy_detail_set(detail, cap, "entry %zu is not an object", i);
        return VFY_E_LOG_MALFORMED;
    }
    if (f[0] == NULL || vfy_json_str(f[0], &s, &n) != VFY_JSON_OK ||
        vfy_sha256_parse(ent->digest, s, n) != VFY_OK) {
        vfy_detail_set(detail, cap, "entry %zu: digest missing or not sha256:<64 lowercase hex>", i);
        return VFY_E_LOG_DIGEST;
    }
    if (f[1] == NULL)
        return VFY_OK;
    if (vfy_json_str(f[1], &s, &n) != VFY_JSON_OK) {
        vfy_detail_set(detail, cap, "entry %zu: manifest must be a base64url string", i);
        return VFY_E_LOG_MALFORMED;
    }
    if (n > VFY_B64URL_LEN(VFY_MANIFEST_MAX)) {
        vfy_detail_set(detail, cap, "entry %zu: manifest larger than %d bytes", i,
                       VFY_MANIFEST_MAX);
        return VFY_E_MANIFEST_TOO_LARGE;
    }
    ent->manifest = malloc(VFY_B64URL_DECODED_MAX(n) + 1);
    if (ent->manifest == NULL)
        return VFY_E_NOMEM;
    rc = vfy_b64url_decode(ent->manifest, VFY_B64URL_DECODED_MAX(n) + 1, &dec_len, s, n);
    if (rc != VFY_OK) {
        vfy_detail_set(detail, cap, "entry %zu: manifest is not strict base64url", i);
        return rc == VFY_E_ENCODING ? VFY_E_LOG_ENCODING : rc;
    }
    ent->manifest_len = dec_len;
    if (dec_len > VFY_MANIFEST_MAX) {
        vfy_detail_set(detail, cap, "entry %zu: manifest larger than %d bytes", i,
                       VFY_MANIFEST_MAX);
        return VFY_E_MANIFEST_TOO_LARGE;
    }
    if ((rc = vfy_sha256(ent->manifest, dec_len, md)) != VFY_OK)
        return rc;
    if (memcmp(md, ent->digest, 32) != 0) {
        vfy_detail_set(detail, cap, "entry %zu: manifest does not hash to the entry's digest", i);
        return VFY_E_LOG_MANIFEST_MISMATCH;
    }
    return VFY_OK;
}

static vfy_rc extend(uint8_t pcr[32], const uint8_t d[32])
{
    uint8_t buf[64];

    memcpy(buf, pcr, 32);
    memcpy(buf + 32, d, 32);
    return vfy_sha256(buf, sizeof(buf), pcr);
}

vfy_rc vfy_agent_log_parse(vfy_agent_log **out, const void *data, size_t len,
                           char *detail, size_t cap)
{
    cJSON *root = NULL;
    vfy_agent_log *log = NULL;
    size_t n = 0, i = 0;
    vfy_rc rc;

    vfy_detail_set(detail, cap, "%s", "");
    if (out == NULL)
        return VFY_E_INVALID_ARG;
    *out = NULL;
    if (data == NULL)
        return VFY_E_INVALID_ARG;
    {
        /* an entry is an object with at most a digest and a manifest: 5 tokens */
        static const vfy_json_codes codes = {"agent log", VFY_E_LOG_TOO_LARGE,
                                             VFY_E_LOG_NESTING, VFY_E_LOG_MALFORMED,
                                             VFY_E_LOG_TOO_MANY,
                                             6 * VFY_AGENT_LOG_MAX_ENTRIES + 1};

        if ((rc = vfy_json_intake(&root, data, len, VFY_AGENT_LOG_MAX, &codes, detail, cap)) !=
            VFY_OK)
            return rc;
    }
    if (!cJSON_IsArray(root)) {
        vfy_detail_set(detail, cap, "the agent log must be an array");
        rc = VFY_E_LOG_MALFORMED;
        goto out;
    }
    for (const cJSON *e = root->child; e != NULL; e = e->next) {
        if (++n > VFY_AGENT_LOG_MAX_ENTRIES) {
            vfy_detail_set(detail, cap, "more than %d entries", VFY_AGENT_LOG_MAX_ENTRIES);
            rc = VFY_E_LOG_TOO_MANY;
            goto out;
        }
    }
    if (n == 0) {
        vfy_detail_set(detail, cap, "the agent log has no entries");
        rc = VFY_E_LOG_EMPTY;
        goto out;
    }
    log = calloc(1, sizeof(*log));
    if (log == NULL || (log->e = calloc(n, sizeof(*log->e))) == NULL) {
        rc = VFY_E_NOMEM;
        goto out;
    }
    log->n = n;
    for (const cJSON *e = root->child; e != NULL; e = e->next, i++) {
        if ((rc = parse_entry(&log->e[i], i, e, detail, cap)) != VFY_OK)
            goto out;
        if ((rc = extend(log->pcr, log->e[i].digest)) != VFY_OK)
            goto out;
    }
    *out = log;
    log = NULL;
    rc = VFY_OK;
out:
    vfy_agent_log_free(&log);
    cJSON_Delete(root);
    return rc;
}

void vfy_agent_log_free(vfy_agent_log **plog)
{
    vfy_agent_log *log;

    if (plog == NULL || *plog == NULL)
        return;
    log = *plog;
    if (log->e != NULL)
        for (size_t i = 0; i < log->n; i++)
            free(log->e[i].manifest);
    free(log->e);
    free(log);
    *plog = NULL;
}

size_t vfy_agent_log_count(const vfy_agent_log *log)
{
    return log->n;
}

const uint8_t *vfy_agent_log_digest(const vfy_agent_log *log, size_t i)
{
    return i < log->n ? log->e[i].digest : NULL;
}

const uint8_t *vfy_agent_log_manifest(const vfy_agent_log *log, size_t i, size_t *len)
{
    if (len != NULL)
        *len = 0;
    if (i >= log->n || log->e[i].manifest == NULL)
        return NULL;
    if (len != NULL)
        *len = log->e[i].manifest_len;
    return log->e[i].manifest;
}

void vfy_agent_log_pcr(const vfy_agent_log *log, uint8_t out[32])
{
    memcpy(out, log->pcr, 32);
}

vfy_rc vfy_agent_log_replay(const vfy_agent_log *log, const uint8_t pcr[32],
                            const uint8_t md[32])
{
    if (log == NULL || pcr == NULL || md == NULL || log->n == 0)
        return VFY_E_INVALID_ARG;
    if (!vfy_ct_eq(log->pcr, pcr, 32))
        return VFY_E_LOG_REPLAY;
    if (!vfy_ct_eq(log->e[log->n - 1].digest, md, 32))
        return VFY_E_LOG_LAST;
    return VFY_OK;
}

/* next = the log's digests; the first @keep entries keep prev's clocks, the
 * rest are stamped with @clock. */
static vfy_rc build_next(vfy_agent_history *next, uint32_t epoch, const vfy_agent_log *log,
                         const vfy_agent_history *prev, size_t keep, uint64_t clock)
{
    next->entries = calloc(log->n, sizeof(*next->entries));
    if (next->entries == NULL)
        return VFY_E_NOMEM;
    for (size_t i = 0; i < log->n; i++) {
        memcpy(next->entries[i].digest, log->e[i].digest, 32);
        next->entries[i].first_clock = i < keep ? prev->entries[i].first_clock : clock;
    }
    next->n = log->n;
    next->epoch = epoch;
    return VFY_OK;
}

vfy_rc vfy_agent_history_check(const vfy_agent_history *prev, const vfy_agent_log *log,
                               const vfy_clock_info *quote, vfy_log_outcome *outcome,
                               vfy_agent_history *next)
{
    size_t common, pn;
    int32_t d = 0;

    if (next != NULL)
        memset(next, 0, sizeof(*next));
    if (log == NULL || quote == NULL || outcome == NULL || next == NULL || log->n == 0)
        return VFY_E_INVALID_ARG;
    if (prev != NULL &&
        (prev->n > VFY_AGENT_LOG_MAX_ENTRIES || (prev->n > 0 && prev->entries == NULL)))
        return VFY_E_LOG_STATE;

    if (prev != NULL)
        d = (int32_t)(quote->reset_count - prev->epoch);
    if (prev == NULL || d > 0) {
        *outcome = VFY_LOG_NEW_EPOCH;
        return build_next(next, quote->reset_count, log, NULL, 0, quote->clock);
    }
    *outcome = VFY_LOG_ROLLBACK;
    if (d < 0)
        return VFY_E_LOG_ROLLBACK;

    pn = prev->n;
    for (common = 0; common < pn && common < log->n; common++)
        if (memcmp(prev->entries[common].digest, log->e[common].digest, 32) != 0)
            break;
    if (common == pn && common == log->n) {
        *outcome = VFY_LOG_SAME;
        return VFY_OK;
    }
    if (common == pn) {
        /* extends; a lower clock than the last stored stamp means this longer
         * log was quoted before a shorter one was seen: reset in between */
        if (pn > 0 && quote->clock < prev->entries[pn - 1].first_clock)
            return VFY_E_LOG_ROLLBACK;
        *outcome = VFY_LOG_EXTENDS;
        return build_next(next, prev->epoch, log, prev, pn, quote->clock);
    }
    if (common == log->n && quote->clock < prev->entries[common].first_clock) {
        *outcome = VFY_LOG_LATE_PREFIX;
        return VFY_OK;
    }
    return VFY_E_LOG_ROLLBACK;
}

void vfy_agent_history_clear(vfy_agent_history *h)
{
    if (h == NULL)
        return;
    free(h->entries);
    memset(h, 0, sizeof(*h));
}

const char *vfy_log_outcome_name(vfy_log_outcome o)
{
    switch (o) {
    case VFY_LOG_NEW_EPOCH: return "new-epoch";
    case VFY_LOG_EXTENDS: return "extends";
    case VFY_LOG_SAME: return "same";
    case VFY_LOG_LATE_PREFIX: return "late-prefix";
    case VFY_LOG_ROLLBACK: return "rollback";
    }
    return NULL;
}
