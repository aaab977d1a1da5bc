/*
 * test_example_agent_log.c — the example agent's agent-log record
 * (examples/agent/agent_log.c): which entries carry their manifest, that
 * the byte count is exact, and that a full log of the largest manifests
 * still makes evidence verifierd takes (1 MiB body, VFY_CMW_MAX).
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <openssl/sha.h>

#include <verify/verify.h>

#include "agent_log.h"

#define NBIG 8 /* entries with a distinct 64 KiB manifest, the newest */

struct fixture {
    struct agent_log_entry *log;
    size_t n;
    uint8_t *manifests[NBIG];
};

/* Entry i: a manifest of @size bytes (content from @seed) or, when @size is
 * 0, a digest alone (its b64 is not read unless it carries). */
static void entry_set(struct agent_log_entry *e, uint8_t **keep, size_t size, unsigned seed)
{
    uint8_t *m = malloc(size > 0 ? size : 1);
    size_t cap = VFY_B64URL_LEN(size) + 1;

    cr_assert_not_null(m);
    for (size_t i = 0; i < size; i++)
        m[i] = (uint8_t)(seed * 131u + i * 7u);
    if (size == 0)
        m[0] = (uint8_t)seed;
    SHA256(m, size > 0 ? size : 1, e->md);
    e->md[0] ^= (uint8_t)(seed >> 8);   /* distinct digests for the small ones */
    e->md[1] ^= (uint8_t)seed;
    e->b64 = malloc(cap);
    cr_assert_not_null(e->b64);
    cr_assert_eq(vfy_b64url_encode(e->b64, cap, m, size), VFY_OK);
    if (keep != NULL) {
        SHA256(m, size, e->md);   /* a carried manifest must match its digest */
        *keep = m;
    } else {
        free(m);
    }
}

static void fixture_free(struct fixture *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->log[i].b64);
    for (size_t i = 0; i < NBIG; i++)
        free(f->manifests[i]);
    free(f->log);
}

/* @n entries of @size-byte manifests. */
static void fixture_small(struct fixture *f, size_t n, size_t size)
{
    memset(f, 0, sizeof(*f));
    f->n = n;
    f->log = calloc(n, sizeof(*f->log));
    cr_assert_not_null(f->log);
    for (size_t i = 0; i < n; i++) {
        uint8_t *m = NULL;

        entry_set(&f->log[i], &m, size, (unsigned)i + 1);
        free(m);
    }
}

static size_t carried_count(const char *json)
{
    cJSON *a = cJSON_Parse(json);
    const cJSON *e;
    size_t n = 0;

    cr_assert(cJSON_IsArray(a), "not a JSON array: %.80s", json);
    cJSON_ArrayForEach(e, a) {
        if (cJSON_GetObjectItemCaseSensitive(e, "manifest") != NULL)
            n++;
    }
    cJSON_Delete(a);
    return n;
}

Test(example_agent_log, every_manifest_fits_a_large_budget)
{
    struct fixture f;
    size_t first = 99;
    char *s;
    vfy_agent_log *log = NULL;

    fixture_small(&f, 5, 300);
    s = agent_log_json(f.log, f.n, AGENT_LOG_JSON_MAX, &first);
    cr_assert_not_null(s);
    cr_assert_eq(first, 0);
    cr_assert_eq(carried_count(s), 5);
    cr_assert_eq(vfy_agent_log_parse(&log, s, strlen(s), NULL, 0), VFY_OK);
    cr_assert_eq(vfy_agent_log_count(log), 5);
    for (size_t i = 0; i < 5; i++) {
        size_t len = 0;

        cr_assert_arr_eq(vfy_agent_log_digest(log, i), f.log[i].md, 32);
        cr_assert_not_null(vfy_agent_log_manifest(log, i, &len));
        cr_assert_eq(len, 300);
    }
    vfy_agent_log_free(&log);
    cJSON_free(s);
    fixture_free(&f);
}

/* The count is exact: a budget of exactly the printed length carries every
 * manifest, one byte less carries all but the oldest. */
Test(example_agent_log, byte_count_is_exact)
{
    struct fixture f;
    size_t first = 99, all;
    char *s;

    fixture_small(&f, 6, 100);
    s = agent_log_json(f.log, f.n, (size_t)-1, &first);
    cr_assert_not_null(s);
    cr_assert_eq(first, 0);
    all = strlen(s);
    cJSON_free(s);

    s = agent_log_json(f.log, f.n, all, &first);
    cr_assert_eq(first, 0);
    cr_assert_eq(strlen(s), all);
    cJSON_free(s);

    s = agent_log_json(f.log, f.n, all - 1, &first);
    cr_assert_eq(first, 1, "one byte short: the oldest must lose its manifest (first %zu)", first);
    cr_assert_leq(strlen(s), all - 1);
    cr_assert_eq(carried_count(s), 5);
    cJSON_free(s);

    /* no budget for any manifest: digests only, still every entry */
    s = agent_log_json(f.log, f.n, 0, &first);
    cr_assert_eq(first, 6);
    cr_assert_eq(carried_count(s), 0);
    cJSON_free(s);
    fixture_free(&f);
}

/* The newest carry, the oldest do not (the verifier saw the old ones). */
Test(example_agent_log, the_newest_carry)
{
    struct fixture f;
    size_t first = 0, one;
    char *s;
    cJSON *a;

    fixture_small(&f, 10, 1000);
    s = agent_log_json(f.log, 1, (size_t)-1, NULL);
    one = strlen(s);   /* one carried entry, with its brackets */
    cJSON_free(s);
    s = agent_log_json(f.log, f.n, one * 4, &first);   /* room for about 3 */
    cr_assert(first >= 6 && first <= 8, "first carried %zu", first);
    a = cJSON_Parse(s);
    for (size_t i = 0; i < f.n; i++) {
        const cJSON *e = cJSON_GetArrayItem(a, (int)i);

        cr_assert_eq(cJSON_GetObjectItemCaseSensitive(e, "manifest") != NULL, i >= first,
                     "entry %zu", i);
        cr_assert_not_null(cJSON_GetObjectItemCaseSensitive(e, "digest"));
    }
    cJSON_Delete(a);
    cJSON_free(s);
    fixture_free(&f);
}

/*
 * The worst case: a full log (4096 entries), the newest NBIG of them 64 KiB
 * manifests, beside a current manifest of 64 KiB, 24 sha256 PCRs and a
 * quote: the evidence verifierd receives stays under VFY_CMW_MAX and leaves
 * room in the 1 MiB request body for its other fields. (The agent used to
 * count only the carried manifests' base64url: after about 3,000 changes
 * its evidence passed 1 MiB and it could not be attested until reboot.)
 */
Test(example_agent_log, a_full_log_of_the_largest_manifests_fits_the_evidence_limit)
{
    struct fixture f;
    size_t n = VFY_AGENT_LOG_MAX_ENTRIES, first = 0, evlen = 0;
    uint8_t attest[1024], sig[104], *ev = NULL;
    vfy_pcr_values pv;
    vfy_cmw_parts parts;
    vfy_agent_log *log = NULL;
    vfy_cmw *cmw = NULL;
    char *s, *pcrs = NULL;

    memset(&f, 0, sizeof(f));
    f.n = n;
    f.log = calloc(n, sizeof(*f.log));
    cr_assert_not_null(f.log);
    for (size_t i = 0; i < n; i++) {
        size_t big = i + NBIG >= n ? i + NBIG - n : NBIG;

        entry_set(&f.log[i], big < NBIG ? &f.manifests[big] : NULL,
                  big < NBIG ? VFY_MANIFEST_MAX : 0, (unsigned)i + 1);
    }
    s = agent_log_json(f.log, n, AGENT_LOG_JSON_MAX, &first);
    cr_assert_not_null(s);
    cr_assert_leq(strlen(s), AGENT_LOG_JSON_MAX);
    cr_assert(first < n && first >= n - NBIG, "first carried %zu", first);
    cr_assert_eq(vfy_agent_log_parse(&log, s, strlen(s), NULL, 0), VFY_OK);
    cr_assert_eq(vfy_agent_log_count(log), n);
    vfy_agent_log_free(&log);

    memset(&pv, 0, sizeof(pv));
    for (unsigned i = 0; i < 24; i++) {
        uint8_t v[32];

        memset(v, (int)i + 1, sizeof(v));
        cr_assert_eq(vfy_pcr_values_set(&pv, VFY_HASH_SHA256, i, v), VFY_OK);
    }
    cr_assert_eq(vfy_pcr_values_to_json(&pv, &pcrs), VFY_OK);
    cr_assert_lt(strlen(pcrs), 4096);
    memset(attest, 0xa5, sizeof(attest));
    memset(sig, 0x5a, sizeof(sig));
    memset(&parts, 0, sizeof(parts));
    parts.data[VFY_CMW_TPM_ATTEST] = attest;
    parts.len[VFY_CMW_TPM_ATTEST] = sizeof(attest);
    parts.data[VFY_CMW_TPM_SIGNATURE] = sig;
    parts.len[VFY_CMW_TPM_SIGNATURE] = sizeof(sig);
    parts.data[VFY_CMW_TPM_PCRS] = (const uint8_t *)pcrs;
    parts.len[VFY_CMW_TPM_PCRS] = strlen(pcrs);
    parts.data[VFY_CMW_AGENT_MANIFEST] = f.manifests[NBIG - 1];
    parts.len[VFY_CMW_AGENT_MANIFEST] = VFY_MANIFEST_MAX;
    parts.data[VFY_CMW_AGENT_LOG] = (const uint8_t *)s;
    parts.len[VFY_CMW_AGENT_LOG] = strlen(s);
    cr_assert_eq(vfy_cmw_encode(VFY_CMW_JSON, &parts, &ev, &evlen), VFY_OK);
    /* the request's nonce, channel binding, attester name and framing */
    cr_assert_leq(evlen + 1024, VFY_CMW_MAX, "evidence of %zu bytes", evlen);
    cr_assert_eq(vfy_cmw_parse(&cmw, VFY_CMW_JSON, ev, evlen, NULL, 0), VFY_OK);
    vfy_cmw_free(&cmw);
    vfy_free(ev);

    /* The budget itself: a log of exactly AGENT_LOG_JSON_MAX bytes (more
     * than these manifests fill) beside the same records still fits. */
    {
        char *full = malloc(AGENT_LOG_JSON_MAX + 1);

        cr_assert_not_null(full);
        memset(full, 'A', AGENT_LOG_JSON_MAX);
        memcpy(full, "[{\"digest\":\"", 12);
        full[AGENT_LOG_JSON_MAX] = '\0';
        parts.data[VFY_CMW_AGENT_LOG] = (const uint8_t *)full;
        parts.len[VFY_CMW_AGENT_LOG] = AGENT_LOG_JSON_MAX;
        cr_assert_eq(vfy_cmw_encode(VFY_CMW_JSON, &parts, &ev, &evlen), VFY_OK);
        cr_assert_leq(evlen + 1024, VFY_CMW_MAX, "evidence of %zu bytes at the budget", evlen);
        vfy_free(ev);
        free(full);
    }
    vfy_free(pcrs);
    cJSON_free(s);
    fixture_free(&f);
}
