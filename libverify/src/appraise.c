/*
 * appraise.c — the appraisal pipeline (DESIGN §3–§7, appraise.h).
 *
 * Order: parse everything (malformed input is an error, not a verdict);
 * then identity (nonce, attester, quote signature, binder, clock); then
 * platform PCRs against the attester's reference set; then the agent
 * (log replay, history, manifest components, past manifests). Each finding
 * sets one claim of the trust vector to the worse of its current and new
 * value tier and adds a reason. State is written only for evidence whose
 * quote verified, so forged evidence cannot move an attester's state.
 *
 * Caches: attesters (with their imported AK) and parsed policies, keyed by
 * name and dropped whenever the store's generation changes.
 */
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/rand.h>

#include "internal.h"
#include "verify/nonce.h"

#define ATT_SLOTS 1024
#define REF_SLOTS 4096  /* per cache, direct-mapped by digest */
#define POL_SLOTS 16
#define MAX_REFS 1024

struct att_entry {
    char *name;
    vfy_store_attester a;
};

struct pol_entry {
    char *id;
    vfy_policy *p;
    char label[VFY_POLICY_ID_MAX + 16];  /* "id@version" */
};

/* Reference-value lookups, positive and negative, until the generation changes. */
struct comp_entry {
    int used;
    vfy_component_kind kind;
    uint8_t digest[32];
    vfy_rc rc;
    vfy_store_component c;
};

struct pcr_entry {
    int used;
    vfy_hash_alg bank;
    unsigned index;
    uint8_t digest[VFY_MAX_DIGEST];
    char refset[VFY_STORE_NAME_MAX + 1];
    vfy_rc rc;
    vfy_ref_state state;
    int64_t row;
};

/*
 * Manifests known to have been appraised affirming, per attester. Only
 * positive answers are cached: known_manifests only ever grows (an
 * attester's rows go only when the attester does, which is an admin change
 * and drops every cache), so a cached "known" cannot go stale.
 */
struct known_entry {
    uint8_t digest[32];
    uint32_t att;    /* hash of the attester name; a hit also compares the name */
    char *name;
    int64_t refset;  /* the mark's reference set; 0: none */
};

/* The rows of a reference set (a committed refset never changes; see
 * known_clear for one that was not). */
struct refset_entry {
    int64_t id;      /* 0: empty slot */
    vfy_store_ref *refs;
    size_t n;
};

#define REFSET_SLOTS 64

struct vfy_appraiser {
    vfy_store *st;
    char *default_policy;
    char *verifier_build;
    vfy_ear_profile profile;
    int record;
    vfy_committer *committer;    /* NULL: one commit per appraisal */
    vfy_rc (*generation)(void *ctx, uint64_t *gen);   /* NULL: ask the store */
    void *generation_ctx;
    int locked;                  /* this attempt runs under the state phase's lock */
    vfy_store *sst;              /* the state phase's store: st, or the committer's */
    uint64_t failures;           /* the committer's failed batches, last seen */
    uint64_t gen;
    int gen_valid;
    struct att_entry att[ATT_SLOTS];
    struct pol_entry pol[POL_SLOTS];
    vfy_policy *builtin;
    char builtin_label[VFY_POLICY_ID_MAX + 16];
    struct comp_entry *comp;     /* REF_SLOTS */
    struct pcr_entry *pcr;       /* REF_SLOTS */
    struct known_entry *known;   /* REF_SLOTS */
    struct refset_entry refset[REFSET_SLOTS];
};

struct vfy_result {
    char id[VFY_RESULT_ID_LEN + 1];
    char attester[VFY_STORE_NAME_MAX + 1];
    char policy_label[VFY_POLICY_ID_MAX + 16];
    const char *policy_ids[1];
    int64_t iat, exp;
    uint8_t nonce[VFY_NONCE_LEN];
    uint8_t cb[VFY_CB_LEN];
    vfy_trust_vector tv[VFY_EAR_SUBMOD_COUNT];
    int agent_present;
    int has_manifest;
    uint8_t md[32];
    int64_t manifest_version;
    char *reasons[VFY_RESULT_MAX_REASONS];
    size_t nreasons;
    vfy_ear_profile profile;
    const char *verifier_build;  /* borrowed from the appraiser's config copy */
    char *build_copy;
    vfy_store_ref refs[MAX_REFS];
    size_t nrefs;
    int refs_overflow;
    int ctx_unknown;            /* the manifest's context had no reference value */
    int past_ctx_unknown;       /* ... or a carried past manifest's (appraise_history) */
    unsigned comp_listed;       /* component reasons of the manifest being appraised */
    size_t comp_unlisted;       /* ... and those over COMP_REASONS_MAX, counted only */
    size_t reasons_unlisted;    /* reasons past the last slot (reason()) */
    uint64_t ticket;   /* the committer batch it waits for; 0: none */
};

/* ---------------------------------------------------------------- */

vfy_rc vfy_appraiser_new(vfy_appraiser **out, vfy_store *st, const vfy_appraiser_config *cfg)
{
    vfy_appraiser *a;
    char build[64];
    vfy_rc rc;

    if (out == NULL)
        return VFY_E_INVALID_ARG;
    *out = NULL;
    if (st == NULL)
        return VFY_E_INVALID_ARG;
    if ((a = calloc(1, sizeof(*a))) == NULL)
        return VFY_E_NOMEM;
    snprintf(build, sizeof(build), "verifierd %s", vfy_version());
    a->st = st;
    a->default_policy = strdup(cfg != NULL && cfg->default_policy != NULL ? cfg->default_policy : "default");
    a->verifier_build = strdup(cfg != NULL && cfg->verifier_build != NULL ? cfg->verifier_build : build);
    a->profile = cfg != NULL ? cfg->profile : VFY_EAR_PROFILE_IETF;
    a->record = cfg != NULL ? cfg->record_results : 1;
    a->committer = cfg != NULL ? cfg->committer : NULL;
    a->generation = cfg != NULL ? cfg->generation : NULL;
    a->generation_ctx = cfg != NULL ? cfg->generation_ctx : NULL;
    a->sst = st;
    a->comp = calloc(REF_SLOTS, sizeof(*a->comp));
    a->pcr = calloc(REF_SLOTS, sizeof(*a->pcr));
    a->known = calloc(REF_SLOTS, sizeof(*a->known));
    if (a->default_policy == NULL || a->verifier_build == NULL || a->comp == NULL ||
        a->pcr == NULL || a->known == NULL) {
        vfy_appraiser_free(&a);
        return VFY_E_NOMEM;
    }
    if ((rc = vfy_policy_new_default(&a->builtin)) != VFY_OK) {
        vfy_appraiser_free(&a);
        return rc;
    }
    snprintf(a->builtin_label, sizeof(a->builtin_label), "%s@%u", vfy_policy_id(a->builtin),
             vfy_policy_version(a->builtin));
    *out = a;
    return VFY_OK;
}

static void known_clear(vfy_appraiser *a);

static void cache_clear(vfy_appraiser *a)
{
    for (size_t i = 0; i < ATT_SLOTS; i++) {
        free(a->att[i].name);
        vfy_store_attester_clear(&a->att[i].a);
        a->att[i].name = NULL;
    }
    for (size_t i = 0; i < POL_SLOTS; i++) {
        free(a->pol[i].id);
        vfy_policy_free(&a->pol[i].p);
        a->pol[i].id = NULL;
    }
    if (a->comp != NULL)
        memset(a->comp, 0, REF_SLOTS * sizeof(*a->comp));
    if (a->pcr != NULL)
        memset(a->pcr, 0, REF_SLOTS * sizeof(*a->pcr));
    known_clear(a);
}

/*
 * The known marks and the rows of their reference sets. Both go together:
 * a batch rolled back takes its new reference sets with it, and SQLite
 * hands their ids to the next new ones, so cached rows of a set are only
 * as good as the batch that made it.
 */
static void known_clear(vfy_appraiser *a)
{
    if (a->known != NULL) {
        for (size_t i = 0; i < REF_SLOTS; i++)
            free(a->known[i].name);
        memset(a->known, 0, REF_SLOTS * sizeof(*a->known));
    }
    for (size_t i = 0; i < REFSET_SLOTS; i++) {
        free(a->refset[i].refs);
        memset(&a->refset[i], 0, sizeof(a->refset[i]));
    }
}

void vfy_appraiser_free(vfy_appraiser **pa)
{
    vfy_appraiser *a;

    if (pa == NULL || *pa == NULL)
        return;
    a = *pa;
    cache_clear(a);
    vfy_policy_free(&a->builtin);
    free(a->comp);
    free(a->pcr);
    free(a->known);
    free(a->default_policy);
    free(a->verifier_build);
    free(a);
    *pa = NULL;
}

/*
 * The state phase of one appraisal: a transaction of its own, or a
 * savepoint in the committer's batch (committer.c), under its lock.
 */
static vfy_rc state_begin(vfy_appraiser *a)
{
    uint64_t failures;
    vfy_rc rc;

    if (a->committer == NULL)
        return vfy_store_begin(a->st);
    if ((rc = committer_enter(a->committer, &a->sst, &failures)) != VFY_OK)
        return rc;
    if (failures != a->failures) {
        /* A batch was rolled back: "known" answers read from it are void. */
        known_clear(a);
        a->failures = failures;
    }
    if ((rc = vfy_store_begin(a->sst)) != VFY_OK)
        (void)committer_leave(a->committer, 0);
    return rc;
}

/* End the state phase with @rc; the batch ticket goes to *@ticket. */
static vfy_rc state_end(vfy_appraiser *a, vfy_rc rc, uint64_t *ticket)
{
    rc = vfy_store_end(a->sst, rc);
    if (a->committer != NULL)
        *ticket = committer_leave(a->committer, rc == VFY_OK);
    return rc;
}

/*
 * Under the state phase's write lock no other connection can change the
 * store: the generation read here is the current one. If the caches were
 * filled at another (the caller's generation() lagging behind an admin
 * change), the appraisal is stale and is run again with exact answers.
 */
static vfy_rc state_current(vfy_appraiser *a, int *stale)
{
    uint64_t gen;
    vfy_rc rc = vfy_store_generation(a->sst, &gen);

    *stale = rc == VFY_OK && !(a->gen_valid && gen == a->gen);
    return rc;
}

/*
 * A result id: 16 bytes, base64url. The first 6 are the issue time in
 * milliseconds (big-endian), the other 10 random: ids issued close together
 * share a prefix, so a group commit's result rows land on one or two pages
 * of the id index instead of one random page each. 80 random bits keep ids
 * unique and unguessable; the time they reveal is the EAR's iat anyway.
 */
static vfy_rc result_id(char *out, size_t cap, uint8_t rnd[16])
{
    struct timespec ts;
    uint64_t ms;

    clock_gettime(CLOCK_REALTIME, &ts);
    ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    for (int i = 0; i < 6; i++)
        rnd[i] = (uint8_t)(ms >> (8 * (5 - i)));
    if (RAND_bytes(rnd + 6, 10) != 1)
        return VFY_E_INTERNAL;
    return vfy_b64url_encode(out, cap, rnd, 16);
}

uint64_t result_ticket(const vfy_result *r)
{
    return r != NULL ? r->ticket : 0;
}

/* Drop the caches when any process changed the reference values. */
static vfy_rc refresh(vfy_appraiser *a)
{
    uint64_t gen;
    vfy_rc rc = a->locked ? vfy_store_generation(a->sst, &gen)   /* under the lock */
                : a->generation != NULL ? a->generation(a->generation_ctx, &gen)
                : vfy_store_generation(a->st, &gen);

    if (rc != VFY_OK)
        return rc;
    if (!a->gen_valid || gen != a->gen) {
        cache_clear(a);
        a->gen = gen;
        a->gen_valid = 1;
    }
    return VFY_OK;
}

static size_t slot_of(const char *s, size_t n)
{
    uint32_t h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h % n;
}

/* The attester @name from the cache or the store; NULL + rc if none. */
static const vfy_store_attester *attester_get(vfy_appraiser *a, const char *name, vfy_rc *rc)
{
    struct att_entry *e = &a->att[slot_of(name, ATT_SLOTS)];

    if (e->name != NULL && strcmp(e->name, name) == 0) {
        *rc = VFY_OK;
        return &e->a;
    }
    free(e->name);
    e->name = NULL;
    vfy_store_attester_clear(&e->a);
    if ((*rc = vfy_store_attester_get(a->st, name, &e->a)) != VFY_OK)
        return NULL;
    if ((e->name = strdup(name)) == NULL) {
        vfy_store_attester_clear(&e->a);
        *rc = VFY_E_NOMEM;
        return NULL;
    }
    return &e->a;
}

static vfy_rc policy_by_id(vfy_appraiser *a, const char *id, const struct pol_entry **out)
{
    struct pol_entry *e = &a->pol[slot_of(id, POL_SLOTS)];
    char *json = NULL;
    vfy_rc rc;

    if (e->id != NULL && strcmp(e->id, id) == 0) {
        *out = e;
        return VFY_OK;
    }
    free(e->id);
    e->id = NULL;
    vfy_policy_free(&e->p);
    if ((rc = vfy_store_policy_get(a->st, id, &json, NULL)) != VFY_OK)
        return rc;
    rc = vfy_policy_parse(&e->p, json, strlen(json));
    vfy_free(json);
    if (rc != VFY_OK)
        return rc;
    if ((e->id = strdup(id)) == NULL) {
        vfy_policy_free(&e->p);
        return VFY_E_NOMEM;
    }
    snprintf(e->label, sizeof(e->label), "%s@%u", vfy_policy_id(e->p), vfy_policy_version(e->p));
    *out = e;
    return VFY_OK;
}

/* Resolve the policy; *label gets "id@version". */
static vfy_rc resolve_policy(vfy_appraiser *a, const char *policy_id, const char *attester_policy,
                             const vfy_policy **out, const char **label)
{
    const struct pol_entry *e;
    vfy_rc rc;

    if (policy_id != NULL || attester_policy == NULL || attester_policy[0] == '\0') {
        /* a policy the request names, or the verifier's default */
        const char *id = policy_id != NULL ? policy_id : a->default_policy;

        rc = policy_by_id(a, id, &e);
        /* Only "default" has a built-in stand-in (named by the request or
         * not: results under it say "default@1" either way): a policy the
         * operator or the request named that is missing (a typo of
         * "strict") must not quietly become the laxer built-in. */
        if (rc == VFY_E_NOT_FOUND && strcmp(id, "default") == 0) {
            *out = a->builtin;
            *label = a->builtin_label;
            return VFY_OK;
        }
        if (rc == VFY_E_NOT_FOUND)
            return VFY_E_APPRAISE_POLICY;
    } else {
        rc = policy_by_id(a, attester_policy, &e);
    }
    if (rc != VFY_OK)
        return rc;
    *out = e->p;
    *label = e->label;
    return VFY_OK;
}

vfy_rc vfy_appraiser_policy(vfy_appraiser *a, const char *policy_id, const char *attester,
                            const vfy_policy **out)
{
    const vfy_store_attester *at = NULL;
    const char *label;
    vfy_rc rc;

    if (a == NULL || out == NULL)
        return VFY_E_INVALID_ARG;
    *out = NULL;
    if ((rc = refresh(a)) != VFY_OK)
        return rc;
    if (policy_id == NULL && attester != NULL) {
        at = attester_get(a, attester, &rc);
        if (at == NULL && rc != VFY_E_NOT_FOUND)
            return rc;
    }
    return resolve_policy(a, policy_id, at != NULL ? at->policy : NULL, out, &label);
}

static size_t digest_slot(const uint8_t *d, unsigned salt)
{
    uint32_t h = ((uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3]) ^
                 (salt * 2654435761u);

    return h % REF_SLOTS;
}

static vfy_rc component_lookup(vfy_appraiser *a, vfy_component_kind kind, const uint8_t d[32],
                               vfy_store_component *out)
{
    struct comp_entry *e = &a->comp[digest_slot(d, (unsigned)kind)];

    if (!e->used || e->kind != kind || memcmp(e->digest, d, 32) != 0) {
        e->rc = vfy_store_component_lookup(a->st, kind, d, &e->c);
        if (e->rc != VFY_OK && e->rc != VFY_E_NOT_FOUND) {
            e->used = 0; /* never cache a failure of the store */
            return e->rc;
        }
        e->used = 1;
        e->kind = kind;
        memcpy(e->digest, d, 32);
    }
    *out = e->c;
    return e->rc;
}

static vfy_rc pcr_lookup(vfy_appraiser *a, const char *refset, vfy_hash_alg bank, unsigned index,
                         const uint8_t *d, size_t len, vfy_ref_state *state, int64_t *row)
{
    struct pcr_entry *e = &a->pcr[digest_slot(d, index * 31 + (unsigned)bank)];

    if (!e->used || e->bank != bank || e->index != index || memcmp(e->digest, d, len) != 0 ||
        strcmp(e->refset, refset) != 0) {
        e->rc = vfy_store_pcr_lookup(a->st, refset, bank, index, d, len, &e->state, &e->row);
        if (e->rc != VFY_OK && e->rc != VFY_E_NOT_FOUND) {
            e->used = 0;
            return e->rc;
        }
        e->used = 1;
        e->bank = bank;
        e->index = index;
        memset(e->digest, 0, sizeof(e->digest));
        memcpy(e->digest, d, len);
        snprintf(e->refset, sizeof(e->refset), "%s", refset);
    }
    *state = e->state;
    *row = e->row;
    return e->rc;
}

/* Is @d a manifest appraised affirming for @attester? Store errors read as "no". */
static struct known_entry *known_slot(vfy_appraiser *a, const char *attester,
                                      const uint8_t d[32], uint32_t *h)
{
    *h = (uint32_t)slot_of(attester, UINT32_MAX);
    return &a->known[digest_slot(d, *h)];
}

/* 1 if the cache says @attester's manifest @d is known; its refset to *@refset. */
static int known_cached(vfy_appraiser *a, const char *attester, const uint8_t d[32],
                        int64_t *refset)
{
    uint32_t h;
    struct known_entry *e = known_slot(a, attester, d, &h);

    if (e->name != NULL && e->att == h && memcmp(e->digest, d, 32) == 0 &&
        strcmp(e->name, attester) == 0) {
        *refset = e->refset;
        return 1;
    }
    return 0;
}

/* Remember that @attester's manifest @d is in known_manifests (committed). */
static void known_put(vfy_appraiser *a, const char *attester, const uint8_t d[32],
                      int64_t refset)
{
    uint32_t h;
    struct known_entry *e = known_slot(a, attester, d, &h);

    free(e->name);
    if ((e->name = strdup(attester)) != NULL) {
        e->att = h;
        memcpy(e->digest, d, 32);
        e->refset = refset;
    }
}

/* Is @d known-good for @attester, and on which reference set (0: none)? */
static int manifest_known(vfy_appraiser *a, const char *attester, const uint8_t d[32],
                          int64_t *refset)
{
    int known = 0;

    if (known_cached(a, attester, d, refset))
        return 1;
    if (vfy_store_manifest_known_refset(a->sst, attester, d, &known, refset) != VFY_OK ||
        !known)
        return 0;
    known_put(a, attester, d, *refset);
    return 1;
}

/* The rows of reference set @id, from the cache or the store; NULL if unreadable. */
static const struct refset_entry *refset_rows(vfy_appraiser *a, int64_t id)
{
    struct refset_entry *e = &a->refset[(uint64_t)id % REFSET_SLOTS];
    vfy_store_ref *refs;
    size_t n;

    if (e->id == id)
        return e;
    if (vfy_store_refset_rows(a->sst, id, &refs, &n) != VFY_OK)
        return NULL;
    free(e->refs);
    e->id = id;
    e->refs = refs;
    e->n = n;
    return e;
}

/* ---------------------------------------------------------------- */
/* Findings                                                           */

static void reason(vfy_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Reasons are kept in the order found, up to VFY_RESULT_MAX_REASONS - 1; the
 * last slot is kept for "N more reasons not listed" (reasons_close), so a
 * reader knows the list is cut. One manifest lists at most COMP_REASONS_MAX
 * of its unapproved components (appraise_component; revoked ones always):
 * an agent whose manifest names 70 unapproved models filled every slot
 * with warnings, and the reason of a contraindicated verdict found after
 * them (a past entry under a strict history) was dropped.
 */
#define COMP_REASONS_MAX 16

static void reason(vfy_result *r, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    if (r->nreasons >= VFY_RESULT_MAX_REASONS - 1) {
        r->reasons_unlisted++;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if ((r->reasons[r->nreasons] = strdup(buf)) != NULL)
        r->nreasons++;
}

/* The cut list's last line (see reason()). */
static void reasons_close(vfy_result *r)
{
    char buf[96];

    if (r->reasons_unlisted == 0 || r->nreasons >= VFY_RESULT_MAX_REASONS)
        return;
    snprintf(buf, sizeof(buf), "%zu more reason%s not listed", r->reasons_unlisted,
             r->reasons_unlisted == 1 ? "" : "s");
    if ((r->reasons[r->nreasons] = strdup(buf)) != NULL)
        r->nreasons++;
    r->reasons_unlisted = 0;
}

/* A component of the manifest being appraised that is not an approved
 * reference value (a warning): only the first COMP_REASONS_MAX are listed,
 * the rest counted (appraise_manifest says how many). Revoked components
 * (contraindicated) are always listed: 20 unapproved models must not hide
 * the revoked tool after them. */
static int comp_listed(vfy_result *r)
{
    if (r->comp_listed >= COMP_REASONS_MAX) {
        r->comp_unlisted++;
        return 0;
    }
    r->comp_listed++;
    return 1;
}

/* Raise claim @c of submodule @s to @value if that is a worse tier. */
static void raise_claim(vfy_result *r, vfy_ear_submod_id s, vfy_tv_claim c, int value)
{
    vfy_trust_vector *tv = &r->tv[s];

    if (!(tv->set & (1u << c)) || vfy_ar4si_tier(value) > vfy_ar4si_tier(tv->value[c]) ||
        (vfy_ar4si_tier(value) == vfy_ar4si_tier(tv->value[c]) && value > tv->value[c]))
        (void)vfy_trust_vector_set(tv, c, value);
}

static int ref_order(const void *x, const void *y)
{
    const vfy_store_ref *a = x, *b = y;

    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* Sort @r's references and drop repeats (the same component relied on by
 * several past manifests is one reference). */
static void refs_compact(vfy_result *r)
{
    size_t n = 0;

    qsort(r->refs, r->nrefs, sizeof(r->refs[0]), ref_order);
    for (size_t i = 0; i < r->nrefs; i++)
        if (n == 0 || ref_order(&r->refs[n - 1], &r->refs[i]) != 0)
            r->refs[n++] = r->refs[i];
    r->nrefs = n;
}

static void add_ref(vfy_result *r, vfy_store_ref_kind kind, int64_t id)
{
    if (r->refs_overflow)   /* full of distinct ones already: no re-sorting */
        return;
    if (r->nrefs >= MAX_REFS)
        refs_compact(r);
    if (r->nrefs >= MAX_REFS) {
        r->refs_overflow = 1;
        return;
    }
    r->refs[r->nrefs].kind = kind;
    r->refs[r->nrefs].id = id;
    r->nrefs++;
}

static void digest_str(char out[VFY_SHA256_STR_LEN + 1], const uint8_t d[32])
{
    if (vfy_sha256_format(out, VFY_SHA256_STR_LEN + 1, d) != VFY_OK)
        snprintf(out, VFY_SHA256_STR_LEN + 1, "sha256:?");
}

/* One manifest component against the reference values. */
static void appraise_component(vfy_appraiser *a, vfy_result *r, vfy_component_kind kind,
                               const char *name, const uint8_t digest[32], const vfy_policy *pol,
                               const char *when)
{
    vfy_store_component comp;
    const char *kname = vfy_component_kind_name(kind);
    vfy_tv_claim claim = (kind == VFY_COMPONENT_MODEL || kind == VFY_COMPONENT_TOOL)
                             ? VFY_TV_EXECUTABLES : VFY_TV_CONFIGURATION;
    int unknown_value = claim == VFY_TV_EXECUTABLES ? 33 : 32;
    char d[VFY_SHA256_STR_LEN + 1];
    vfy_rc rc = component_lookup(a, kind, digest, &comp);

    digest_str(d, digest);
    if (rc == VFY_OK && comp.state == VFY_REF_APPROVED) {
        raise_claim(r, VFY_EAR_AGENT, claim, 2);
        add_ref(r, VFY_STORE_REF_COMPONENT, comp.id);
        return;
    }
    if (rc == VFY_OK && comp.state == VFY_REF_REVOKED) {
        raise_claim(r, VFY_EAR_AGENT, claim, 96);
        reason(r, "%s%s %s %s is revoked", when, kname, name != NULL ? name : "", d);
        return;
    }
    if (rc != VFY_E_NOT_FOUND) {
        raise_claim(r, VFY_EAR_AGENT, claim, 96);
        reason(r, "%s%s %s: reference lookup failed (%s)", when, kname, name != NULL ? name : "",
               vfy_strerror(rc));
        return;
    }
    if (kind == VFY_COMPONENT_CONTEXT) {
        vfy_policy_tier t = vfy_policy_unknown_context(pol);

        r->ctx_unknown = 1;

        reason(r, "%scontext %s is not an approved reference value (policy: %s)", when, d,
               vfy_policy_tier_name(t));
        raise_claim(r, VFY_EAR_AGENT, claim,
                    t == VFY_TIER_CONTRAINDICATED ? 96 : t == VFY_TIER_WARNING ? 32 : 2);
        return;
    }
    raise_claim(r, VFY_EAR_AGENT, claim, unknown_value);
    if (comp_listed(r))
        reason(r, "%s%s %s %s is not an approved reference value", when, kname, name, d);
}

static void appraise_manifest(vfy_appraiser *a, vfy_result *r, const vfy_manifest *m,
                              const vfy_policy *pol, const char *when)
{
    static const struct {
        vfy_manifest_list list;
        vfy_component_kind kind;
    } lists[] = {
        {VFY_MANIFEST_MODELS, VFY_COMPONENT_MODEL},
        {VFY_MANIFEST_TOOLS, VFY_COMPONENT_TOOL},
        {VFY_MANIFEST_POLICIES, VFY_COMPONENT_POLICY},
    };

    r->comp_listed = 0;
    r->comp_unlisted = 0;
    /* the context first: its reason is never among those left unlisted */
    appraise_component(a, r, VFY_COMPONENT_CONTEXT, NULL, vfy_manifest_context_digest(m), pol, when);
    for (size_t l = 0; l < 3; l++)
        for (size_t i = 0; i < vfy_manifest_count(m, lists[l].list); i++) {
            const vfy_manifest_entry *e = vfy_manifest_entry_at(m, lists[l].list, i);
            appraise_component(a, r, lists[l].kind, e->name, e->digest, pol, when);
        }
    if (r->comp_unlisted > 0)
        reason(r, "%s%zu more component%s not %sapproved reference value%s (not listed)", when,
               r->comp_unlisted, r->comp_unlisted == 1 ? " is" : "s are",
               r->comp_unlisted == 1 ? "an " : "", r->comp_unlisted == 1 ? "" : "s");
    /* An empty manifest approves nothing but contradicts nothing either. */
    raise_claim(r, VFY_EAR_AGENT, VFY_TV_EXECUTABLES, 2);
    raise_claim(r, VFY_EAR_AGENT, VFY_TV_CONFIGURATION, 2);
}

/* ---------------------------------------------------------------- */

static const char *quote_reason(vfy_rc rc)
{
    switch (rc) {
    case VFY_E_BINDER_MISMATCH:
        return "evidence is not bound to this nonce, TLS connection and manifest (binder mismatch: relayed or replayed evidence)";
    case VFY_E_SIG_INVALID: return "TPM quote signature does not verify with the registered AK";
    case VFY_E_SIG_SCHEME: return "TPM quote signature scheme is not the AK's registered scheme";
    case VFY_E_SIG_HASH: return "TPM quote signature hash is not allowed (SHA-1) or not the AK's";
    case VFY_E_PCR_DIGEST: return "supplied PCR values do not match the quoted pcrDigest";
    case VFY_E_PCR_MISSING: return "the quote selects a PCR whose value was not supplied";
    case VFY_E_PCR_EXTRA: return "a supplied PCR value is not covered by the quote";
    default: return NULL;
    }
}

/*
 * Whether an affirming result appraised under a policy the request chose
 * (tier @req_tier for an unknown context) may make its manifest known-good
 * for @at: only if that policy judged the manifest at least as harshly as
 * the attester's own (its policy, else the default) would have. Approved
 * components are the same for every policy; the unknown-context tier is
 * the one knob of a manifest's appraisal, so a relying party picking a
 * laxer policy cannot launder a manifest into the attester's history.
 * Resolving may evict the request's policy from the cache: call it only
 * once the appraisal no longer uses that policy.
 */
static int own_policy(vfy_appraiser *a, const vfy_appraisal_request *req,
                      const vfy_store_attester *at, vfy_policy_tier req_tier)
{
    const vfy_policy *own = NULL;
    const char *label = NULL;

    if (req->policy_id == NULL)
        return 1;
    return resolve_policy(a, NULL, at != NULL ? at->policy : NULL, &own, &label) == VFY_OK &&
           req_tier >= vfy_policy_unknown_context(own);
}

/*
 * 1 if @d is a manifest appraised affirming before for @r's attester: @r
 * then relies on the reference rows that appraisal relied on, so that
 * revoking one of them revokes @r as it forgets the mark. A mark without
 * its rows (from before schema 4, or vfy_store_manifest_mark_known)
 * cannot be relied on that way: 0.
 */
static int rely_on_mark(vfy_appraiser *a, vfy_result *r, const uint8_t d[32])
{
    const struct refset_entry *rs;
    int64_t refset = 0;

    if (!manifest_known(a, r->attester, d, &refset) || refset <= 0 ||
        (rs = refset_rows(a, refset)) == NULL)
        return 0;
    for (size_t k = 0; k < rs->n; k++)
        add_ref(r, rs->refs[k].kind, rs->refs[k].id);
    return 1;
}

/*
 * A late prefix (the log of a quote made before the verifier saw the next
 * entry): the agent has moved on since. The last entry the stored history
 * holds — the agent's posture as this verifier last saw it — must be a
 * manifest it appraised as affirming (marked known-good, with the
 * reference rows that appraisal relied on, which this result then relies
 * on too: revoking one revokes it), or the verdict would be about a
 * posture the verifier knows is gone (AR4SI executables 33, 96 under a
 * strict history). Under history "current" the entries in between do not
 * matter: the agent has left them as well. Under "approved" and "strict"
 * they do, as every past entry of a fresh log does: the verifier has seen
 * the agent run them in this epoch, and a quote made before them must not
 * be affirmed when the log that showed them was not. Only digests are
 * stored, so each such entry is known-good or it is not; it cannot be
 * appraised here.
 */
static void appraise_later_entries(vfy_appraiser *a, vfy_result *r, const vfy_agent_history *prev,
                                   size_t quoted, const vfy_policy *pol)
{
    vfy_history_mode mode = vfy_policy_history(pol);
    int bad = mode == VFY_HISTORY_STRICT ? 96 : 33;
    const uint8_t *d;
    char ds[VFY_SHA256_STR_LEN + 1];

    if (prev->n <= quoted)
        return;
    for (size_t i = quoted; mode != VFY_HISTORY_CURRENT && i + 1 < prev->n; i++) {
        d = prev->entries[i].digest;
        if (memcmp(d, r->md, 32) == 0 || rely_on_mark(a, r, d))
            continue;
        digest_str(ds, d);
        raise_claim(r, VFY_EAR_AGENT, VFY_TV_EXECUTABLES, bad);
        reason(r, "this quote is out of date: since it was made the agent ran manifest %s "
                  "(agent log entry %zu), which is not a manifest this verifier appraised as "
                  "affirming (history: %s)", ds, i + 1,
               mode == VFY_HISTORY_STRICT ? "strict" : "approved");
        break;   /* one reason: the first such entry */
    }
    d = prev->entries[prev->n - 1].digest;
    if (memcmp(d, r->md, 32) == 0)
        return;   /* back to the quoted manifest: appraised as the current one */
    if (rely_on_mark(a, r, d))
        return;
    digest_str(ds, d);
    raise_claim(r, VFY_EAR_AGENT, VFY_TV_EXECUTABLES, bad);
    reason(r, "this quote is out of date: the agent has since run manifest %s (agent log entry "
              "%zu), which is not a manifest this verifier appraised as affirming", ds, prev->n);
}

/* Past manifests in the log (history modes "approved" and "strict"). */
static void appraise_history(vfy_appraiser *a, vfy_result *r, const vfy_agent_log *log,
                             const vfy_policy *pol)
{
    vfy_history_mode mode = vfy_policy_history(pol);
    size_t n = vfy_agent_log_count(log);
    int bad = mode == VFY_HISTORY_STRICT ? 96 : 33;

    if (mode == VFY_HISTORY_CURRENT || n < 2)
        return;
    for (size_t i = 0; i + 1 < n; i++) {
        const uint8_t *d = vfy_agent_log_digest(log, i);
        char ds[VFY_SHA256_STR_LEN + 1], when[64];
        size_t mlen = 0;
        const uint8_t *mbytes = vfy_agent_log_manifest(log, i, &mlen);
        /* the current manifest again (an agent restarted before its first
         * attestation extends it twice): appraised as the current one, and
         * the result's verdict is that appraisal's */
        if (memcmp(d, r->md, 32) == 0)
            continue;
        if (rely_on_mark(a, r, d))
            continue;
        digest_str(ds, d);
        if (mbytes != NULL) {
            vfy_manifest *m = NULL;
            vfy_result sub;

            memset(&sub, 0, sizeof(sub));
            if (vfy_manifest_parse(&m, mbytes, mlen, NULL, 0) == VFY_OK) {
                snprintf(sub.attester, sizeof(sub.attester), "%s", r->attester);
                appraise_manifest(a, &sub, m, pol, "");
                vfy_manifest_free(&m);
                /* affirming under a policy that ignores an unknown context:
                 * fine for this verdict, but not to be marked known-good */
                r->past_ctx_unknown |= sub.ctx_unknown;
                if (vfy_trust_vector_status(&sub.tv[VFY_EAR_AGENT]) == VFY_EAR_AFFIRMING) {
                    /* The result relies on the past manifest's values too:
                     * revoking one of them revokes it. */
                    for (size_t k = 0; k < sub.nrefs; k++)
                        add_ref(r, sub.refs[k].kind, sub.refs[k].id);
                    r->refs_overflow |= sub.refs_overflow;
                    for (size_t k = 0; k < sub.nreasons; k++)
                        free(sub.reasons[k]);
                    continue;
                }
                snprintf(when, sizeof(when), "past manifest %zu: ", i + 1);
                for (size_t k = 0; k < sub.nreasons; k++) {
                    reason(r, "%s%s", when, sub.reasons[k]);
                    free(sub.reasons[k]);
                }
            }
        }
        raise_claim(r, VFY_EAR_AGENT, VFY_TV_EXECUTABLES, bad);
        reason(r, "agent log entry %zu (%s) is not a manifest this verifier appraised as affirming (history: %s)",
               i + 1, ds, vfy_history_mode_name(mode));
    }
}

static void result_free_reasons(vfy_result *r)
{
    for (size_t i = 0; i < r->nreasons; i++)
        free(r->reasons[i]);
    r->nreasons = 0;
}

void vfy_result_free(vfy_result **pr)
{
    if (pr == NULL || *pr == NULL)
        return;
    result_free_reasons(*pr);
    free((*pr)->build_copy);
    free(*pr);
    *pr = NULL;
}

static void set_detail(char *detail, size_t cap, const char *what, const char *inner)
{
    if (detail != NULL && cap > 0)
        snprintf(detail, cap, "%s%s%s", what, inner != NULL && inner[0] ? ": " : "",
                 inner != NULL ? inner : "");
}

/*
 * Enter the state phase (*@in_tx = 1 once it is entered, so the caller's
 * exit path ends it) and check that the caches match the store's current
 * generation: if not, *@stale and VFY_E_CONFLICT, and the caller redoes
 * the appraisal (vfy_appraise).
 */
static vfy_rc state_enter(vfy_appraiser *a, int *in_tx, int *stale, char *detail,
                          size_t detail_cap, const char *what)
{
    vfy_rc rc = state_begin(a);

    if (rc != VFY_OK) {
        set_detail(detail, detail_cap, what, vfy_strerror(rc));
        return rc;
    }
    *in_tx = 1;
    if ((rc = state_current(a, stale)) != VFY_OK || *stale) {
        rc = rc != VFY_OK ? rc : VFY_E_CONFLICT;
        set_detail(detail, detail_cap, "store generation", vfy_strerror(rc));
    }
    return rc;
}

/* The request's CMW collection: from its parsed body's tree or bytes, else
 * from req->evidence. */
static vfy_rc parse_evidence(const vfy_appraisal_request *req, vfy_cmw **cmw, char *inner,
                             size_t cap)
{
    const uint8_t *cbor;
    const struct cJSON *tree;
    size_t cbor_len, body_len;

    if (req->body == NULL)
        return vfy_cmw_parse(cmw, req->format, req->evidence, req->evidence_len, inner, cap);
    tree = vfy_attest_body_evidence(req->body, &cbor, &cbor_len, &body_len);
    if (tree != NULL)
        return vfy_cmw_parse_tree(cmw, tree, body_len, inner, cap);
    return vfy_cmw_parse(cmw, VFY_CMW_CBOR, cbor, cbor_len, inner, cap);
}

/*
 * The nonce as this appraisal sees it: the caller's check, then its age
 * against this policy's nonce_ttl_s. The challenge may have been issued
 * under another policy (the default, or one named in the challenge) with a
 * longer lifetime; the nonce carries its authenticated issue time so that
 * the policy that judges the evidence also bounds how old it may be. An
 * issue time of 0 means the caller never checked the nonce: refused, so
 * that a zeroed request does not read as "nonce accepted". An issue time
 * more than VFY_NONCE_FUTURE_SKEW_S ahead of the appraisal's clock is
 * refused too: ahead by d, a nonce would pass for d seconds younger (a
 * replica with a fast clock, or a caller passing the expiry instead).
 */
static vfy_rc nonce_verdict(const vfy_appraisal_request *req, uint32_t ttl_s, int64_t now)
{
    if (req->nonce_status != VFY_OK)
        return req->nonce_status;
    if (req->nonce_issued_at == 0)
        return VFY_E_NONCE_UNCHECKED;
    if (now < 0 || req->nonce_issued_at > (uint64_t)now + VFY_NONCE_FUTURE_SKEW_S)
        return VFY_E_NONCE_FUTURE; /* its age would be unknowable: the bound below gone */
    if (req->nonce_issued_at <= (uint64_t)now && (uint64_t)now - req->nonce_issued_at >= ttl_s)
        return VFY_E_NONCE_STALE;
    return VFY_OK;
}

static vfy_rc appraise_once(vfy_appraiser *a, const vfy_appraisal_request *req, vfy_result **out,
                            char *detail, size_t detail_cap, int *stale)
{
    vfy_cmw *cmw = NULL;
    vfy_manifest *man = NULL;
    vfy_agent_log *log = NULL;
    vfy_pcr_values pcrs;
    vfy_result *r = NULL;
    const vfy_store_attester *at = NULL;
    const vfy_policy *pol = NULL;
    const char *plabel = NULL;
    vfy_policy_tier req_tier = VFY_TIER_IGNORE;
    vfy_attest q;
    vfy_clock_info last, next_clock;
    vfy_agent_history prev = {0, 0, NULL}, next = {0, 0, NULL};
    vfy_store_log_entry *stored = NULL;
    vfy_log_outcome outcome = 0;
    uint8_t binder[32], rnd[16], agent_pcr[32];
    const uint8_t *p;
    size_t len, n_stored = 0;
    char inner[256] = "";
    int have_last = 0, quote_ok = 0, restarted = 0, in_tx = 0, mark = 0, mark_past = 0;
    int64_t mark_refset = 0;
    uint64_t ticket = 0;
    vfy_rc rc, nonce_rc;

    if (out != NULL)
        *out = NULL;
    if (detail != NULL && detail_cap > 0)
        detail[0] = '\0';
    if (a == NULL || req == NULL || out == NULL || req->nonce == NULL ||
        req->channel_binding == NULL || req->attester == NULL ||
        (req->evidence == NULL && req->body == NULL))
        return VFY_E_INVALID_ARG;
    if (strlen(req->attester) == 0 || strlen(req->attester) > VFY_STORE_NAME_MAX) {
        set_detail(detail, detail_cap, "attester name must be 1..128 bytes", NULL);
        return VFY_E_BAD_NAME;
    }
    memset(&pcrs, 0, sizeof(pcrs));

    /* 1. Parse: malformed evidence is an error, not a verdict. */
    if ((rc = parse_evidence(req, &cmw, inner, sizeof(inner))) != VFY_OK) {
        set_detail(detail, detail_cap, "evidence", inner);
        goto out;
    }
    p = vfy_cmw_get(cmw, VFY_CMW_AGENT_MANIFEST, &len);
    if ((rc = vfy_manifest_parse(&man, p, len, inner, sizeof(inner))) != VFY_OK) {
        set_detail(detail, detail_cap, "agent-manifest", inner);
        goto out;
    }
    p = vfy_cmw_get(cmw, VFY_CMW_AGENT_LOG, &len);
    if ((rc = vfy_agent_log_parse(&log, p, len, inner, sizeof(inner))) != VFY_OK) {
        set_detail(detail, detail_cap, "agent-log", inner);
        goto out;
    }
    p = vfy_cmw_get(cmw, VFY_CMW_TPM_PCRS, &len);
    if ((rc = vfy_pcr_values_parse(&pcrs, (const char *)p, len)) != VFY_OK) {
        set_detail(detail, detail_cap, "tpm-pcrs", vfy_strerror(rc));
        goto out;
    }
    if (a->locked) {
        /* Last attempt: the whole appraisal under the write lock, where no
         * admin change can land between filling the caches and using them. */
        if ((rc = state_begin(a)) != VFY_OK) {
            set_detail(detail, detail_cap, "attester state", vfy_strerror(rc));
            goto out;
        }
        in_tx = 1;
    }
    if ((rc = refresh(a)) != VFY_OK)
        goto out;

    if ((r = calloc(1, sizeof(*r))) == NULL) {
        rc = VFY_E_NOMEM;
        goto out;
    }
    snprintf(r->attester, sizeof(r->attester), "%s", req->attester);
    memcpy(r->nonce, req->nonce, VFY_NONCE_LEN);
    memcpy(r->cb, req->channel_binding, VFY_CB_LEN);
    r->profile = a->profile;
    r->verifier_build = r->build_copy = strdup(a->verifier_build);
    r->iat = req->now != 0 ? req->now : (int64_t)time(NULL);
    r->has_manifest = 1;
    memcpy(r->md, vfy_manifest_digest(man), 32);
    r->manifest_version = (int64_t)vfy_manifest_version(man);
    if (r->build_copy == NULL || result_id(r->id, sizeof(r->id), rnd) != VFY_OK) {
        rc = VFY_E_INTERNAL;
        goto out;
    }

    /* 2. Identity: attester, policy, nonce, quote. */
    at = attester_get(a, req->attester, &rc);
    if (at == NULL && rc != VFY_E_NOT_FOUND)
        goto out;
    rc = resolve_policy(a, req->policy_id, at != NULL ? at->policy : NULL, &pol, &plabel);
    if (rc != VFY_OK) {
        set_detail(detail, detail_cap, req->policy_id != NULL ? req->policy_id : "policy",
                   vfy_strerror(rc));
        goto out;
    }
    snprintf(r->policy_label, sizeof(r->policy_label), "%s", plabel);
    req_tier = vfy_policy_unknown_context(pol);
    r->policy_ids[0] = r->policy_label;
    r->exp = r->iat + vfy_ear_ttl(vfy_policy_result_ttl_s(pol), req->max_ttl_s);

    if ((nonce_rc = nonce_verdict(req, vfy_policy_nonce_ttl_s(pol), r->iat)) != VFY_OK) {
        raise_claim(r, VFY_EAR_PLATFORM, VFY_TV_INSTANCE_IDENTITY, 96);
        if (nonce_rc == VFY_E_NONCE_STALE)
            reason(r, "nonce rejected: issued %" PRId64 " s ago, policy %s allows %" PRIu32 " s",
                   r->iat - (int64_t)req->nonce_issued_at, plabel, vfy_policy_nonce_ttl_s(pol));
        else
            reason(r, "nonce rejected: %s", vfy_strerror(nonce_rc));
    }
    if (at == NULL) {
        raise_claim(r, VFY_EAR_PLATFORM, VFY_TV_INSTANCE_IDENTITY, 97);
        reason(r, "attester %s is not registered", req->attester);
        goto done;
    }
    if (at->revoked) {
        raise_claim(r, VFY_EAR_PLATFORM, VFY_TV_INSTANCE_IDENTITY, 96);
        reason(r, "attester %s is revoked", req->attester);
        goto done;
    }
    if ((rc = vfy_binder(binder, req->nonce, req->channel_binding, r->md)) != VFY_OK)
        goto out;
    {
        const uint8_t *att, *sig;
        size_t alen, slen;

        att = vfy_cmw_get(cmw, VFY_CMW_TPM_ATTEST, &alen);
        sig = vfy_cmw_get(cmw, VFY_CMW_TPM_SIGNATURE, &slen);
        rc = vfy_quote_verify(at->ak, att, alen, sig, slen, &pcrs, binder, &q);
    }
    if (rc != VFY_OK) {
        const char *why = quote_reason(rc);

        raise_claim(r, VFY_EAR_PLATFORM, VFY_TV_INSTANCE_IDENTITY, 96);
        if (why != NULL)
            reason(r, "%s", why);
        else
            reason(r, "TPM quote rejected: %s", vfy_strerror(rc));
        rc = VFY_OK;
        goto done;
    }
    quote_ok = 1;
    /*
     * From here the attester's clock and agent history are read, checked
     * and written under one write lock, so two appraisals of one attester
     * (other threads, other processes) cannot interleave between the read
     * and the write.
     */
    if (!in_tx && (rc = state_enter(a, &in_tx, stale, detail, detail_cap, "attester state")) != VFY_OK)
        goto out;
    rc = vfy_store_clock_get(a->sst, req->attester, &last);
    if (rc != VFY_OK && rc != VFY_E_NOT_FOUND)
        goto out;
    have_last = rc == VFY_OK;
    rc = vfy_clock_check(have_last ? &last : NULL, &q.clock,
                         (uint64_t)vfy_policy_nonce_ttl_s(pol) * 1000);
    if (rc != VFY_OK) {
        raise_claim(r, VFY_EAR_PLATFORM, VFY_TV_INSTANCE_IDENTITY, 96);
        reason(r, "TPM clock state rejected: %s (replayed evidence or restored TPM state)",
               vfy_strerror(rc));
        rc = VFY_OK;
        quote_ok = 0; /* do not let this quote move the state */
        goto done;
    }
    if (nonce_rc != VFY_OK) {
        /* Not fresh evidence: the verdict is contraindicated already, and
         * a replayed genuine quote (its nonce spent) must not buy the work
         * of appraising its agent log and history under the write lock
         * again and again (a 4096-entry log: ~5x an appraisal's cost), nor
         * move the attester's state. */
        quote_ok = 0;
        goto done;
    }
    raise_claim(r, VFY_EAR_PLATFORM, VFY_TV_INSTANCE_IDENTITY, 2);
    /*
     * A TPM Restart (Shutdown(STATE) + Startup(CLEAR), e.g. resume from
     * hibernation) keeps resetCount but resets every PCR, PCR 23 included:
     * like a reboot, the agent history starts over — from the first verified
     * quote after it, whether or not its appraisal gets to the history (the
     * clock state it moves is what tells a restart). Quotes from before it
     * were already refused by the clock rule (restartCount went back).
     * A Resume (Startup(STATE)) raises restartCount too but keeps the
     * PCRs; a quote cannot tell it from a Restart, so root could suspend,
     * reset PCR 23 and start over — as it could by rebooting
     * (docs/threat-model.md).
     */
    restarted = have_last && q.clock.reset_count == last.reset_count &&
                (int32_t)(q.clock.restart_count - last.restart_count) > 0;

    /* 3. Platform PCRs against the attester's reference set. */
    {
        vfy_hash_alg bank = vfy_policy_platform_bank(pol);
        uint32_t need = vfy_policy_platform_pcrs(pol);
        const vfy_pcr_bank *b = vfy_pcr_values_bank(&pcrs, bank);
        uint32_t have = 0;

        for (size_t i = 0; i < q.nselect; i++)
            if (q.select[i].alg == bank)
                have = q.select[i].mask;
        for (unsigned idx = 0; idx < VFY_PCR_COUNT; idx++) {
            char hex[2 * VFY_MAX_DIGEST + 1];
            vfy_ref_state state;
            int64_t row;

            if (!(need & (1u << idx)))
                continue;
            if (!(have & (1u << idx)) || b == NULL) {
                raise_claim(r, VFY_EAR_PLATFORM, VFY_TV_EXECUTABLES, 99);
                reason(r, "the quote does not cover %s PCR %u required by policy %s",
                       vfy_hash_name(bank), idx, plabel);
                continue;
            }
            (void)vfy_hex_encode(hex, sizeof(hex), b->values[idx], vfy_hash_size(bank));
            rc = pcr_lookup(a, at->refset, bank, idx, b->values[idx], vfy_hash_size(bank),
                            &state, &row);
            if (rc == VFY_OK && state == VFY_REF_APPROVED) {
                raise_claim(r, VFY_EAR_PLATFORM, VFY_TV_EXECUTABLES, 2);
                add_ref(r, VFY_STORE_REF_PCR, row);
            } else if (rc == VFY_OK) {
                raise_claim(r, VFY_EAR_PLATFORM, VFY_TV_EXECUTABLES, 96);
                reason(r, "PCR %u value %s is revoked in reference set %s", idx, hex, at->refset);
            } else if (rc == VFY_E_NOT_FOUND) {
                raise_claim(r, VFY_EAR_PLATFORM, VFY_TV_EXECUTABLES, 33);
                reason(r, "PCR %u value %s is not in reference set %s", idx, hex, at->refset);
            } else {
                goto out;
            }
        }
        rc = VFY_OK;
    }

    /* 4. Agent: log replay to the quoted agent PCR, history, manifest. */
    r->agent_present = 1;
    {
        unsigned apcr = vfy_policy_agent_pcr(pol);
        const vfy_pcr_bank *b = vfy_pcr_values_bank(&pcrs, VFY_HASH_SHA256);
        int covered = 0;

        for (size_t i = 0; i < q.nselect; i++)
            if (q.select[i].alg == VFY_HASH_SHA256 && (q.select[i].mask & (1u << apcr)))
                covered = 1;
        if (!covered || b == NULL) {
            raise_claim(r, VFY_EAR_AGENT, VFY_TV_EXECUTABLES, 96);
            reason(r, "the quote does not cover the agent PCR %u (sha256)", apcr);
            goto done;
        }
        memcpy(agent_pcr, b->values[apcr], 32);
    }
    rc = vfy_agent_log_replay(log, agent_pcr, r->md);
    if (rc != VFY_OK) {
        raise_claim(r, VFY_EAR_AGENT, VFY_TV_EXECUTABLES, 96);
        reason(r, "%s", rc == VFY_E_LOG_REPLAY
                            ? "the agent log does not replay to the quoted agent PCR"
                            : "the presented manifest is not the last agent-log entry");
        rc = VFY_OK;
        goto done;
    }
    rc = vfy_store_agent_log_get(a->sst, req->attester, &prev.epoch, &stored, &n_stored);
    if (rc != VFY_OK && rc != VFY_E_NOT_FOUND)
        goto out;
    prev.n = n_stored;
    prev.entries = (vfy_agent_history_entry *)stored; /* same layout, see agent_log.h */
    rc = vfy_agent_history_check(rc == VFY_OK && !restarted ? &prev : NULL, log, &q.clock,
                                 &outcome, &next);
    if (rc == VFY_E_LOG_ROLLBACK) {
        raise_claim(r, VFY_EAR_AGENT, VFY_TV_EXECUTABLES, 96);
        reason(r, "agent history rollback: the agent log is not an extension of the history this verifier saw (agent PCR reset?)");
        rc = VFY_OK;
        goto done;
    }
    if (rc != VFY_OK)
        goto out;
    appraise_manifest(a, r, man, pol, "");
    appraise_history(a, r, log, pol);
    if (outcome == VFY_LOG_LATE_PREFIX)
        appraise_later_entries(a, r, &prev, vfy_agent_log_count(log), pol);

done:
    /* The manifest digest is vouched for only by a verified quote (binder). */
    if (!quote_ok)
        r->has_manifest = 0;
    if (r->refs_overflow) {
        /* Revoking a value it relied on but could not record would never
         * reach this result: not affirming (AR4SI executables 32, the
         * verifier cannot vouch for all of them). */
        raise_claim(r, r->agent_present ? VFY_EAR_AGENT : VFY_EAR_PLATFORM, VFY_TV_EXECUTABLES,
                    32);
        reason(r, "more than %d distinct reference values relied on; revocation could not "
                  "reach this result, so it is not affirming", MAX_REFS);
    }
    if (vfy_result_status(r) != VFY_EAR_AFFIRMING && r->nreasons == 0)
        reason(r, "not affirming");
    reasons_close(r);

    /* 5. State (only from a verified quote) and the result: one commit. */
    if (in_tx || a->record) {
        if (!in_tx && (rc = state_enter(a, &in_tx, stale, detail, detail_cap,
                                        "recording the result")) != VFY_OK)
            goto out;
        if (quote_ok && at != NULL) {
            next_clock = vfy_clock_advance(have_last ? &last : NULL, &q.clock);
            rc = vfy_store_clock_put(a->sst, req->attester, &next_clock);
            /* an unchanged history (the same log again) needs no write */
            if (rc == VFY_OK && next.n > 0 && outcome != VFY_LOG_SAME)
                rc = (restarted ? vfy_store_agent_log_replace : vfy_store_agent_log_put)(
                    a->sst, req->attester, next.epoch, (const vfy_store_log_entry *)next.entries,
                    next.n);
            else if (rc == VFY_OK && restarted && next.n == 0)
                /* stopped before the history: it starts over all the same,
                 * or the next fresh log would look like a rollback of the
                 * history from before the restart */
                rc = vfy_store_agent_log_replace(a->sst, req->attester, q.clock.reset_count,
                                                 NULL, 0);
            /* a manifest cached as known needs no write (a revocation that
             * forgets one changes the store generation: caches cleared) */
            /* Not for a manifest whose context had no reference value (a
             * policy may ignore that): no revocation could ever name what
             * its appraisal rested on, so it would stay known for good. */
            /* @pol first: own_policy() may evict it from the policy cache */
            int past = vfy_policy_history(pol) != VFY_HISTORY_CURRENT &&
                       vfy_agent_log_count(log) > 1;
            int own = r->agent_present && vfy_result_status(r) == VFY_EAR_AFFIRMING &&
                      !r->ctx_unknown && own_policy(a, req, at, req_tier);

            /* a past entry whose context had no reference value is not
             * marked either (its mark would rest on rows that never name
             * the context): then none is, they share one set of rows */
            mark_past = own && past && !r->past_ctx_unknown;
            mark = own && !known_cached(a, req->attester, r->md, &mark_refset);
        }
        /* The nonce is kept only when the caller accepted it: it is there
         * so that a restarted verifier refuses nonces used before (a
         * replayed one was recorded at its first use; forged and expired
         * ones can never be accepted, and would only swell that reload). */
        if (rc == VFY_OK && a->record)
            rc = vfy_store_result_record_nonce(a->sst, r->id, req->attester, r->iat, r->exp,
                                               vfy_ear_status_name(vfy_result_status(r)),
                                               r->refs, r->nrefs,
                                               req->nonce_status == VFY_OK ? req->nonce : NULL);
        /* The mark keeps the reference rows the appraisal relied on
         * (recorded or not), so that revoking one of them forgets the
         * manifest again. */
        if (rc == VFY_OK && mark)
            rc = vfy_store_manifest_mark_known_refs(a->sst, req->attester, r->md, r->refs,
                                                    r->nrefs, &mark_refset);
        /* Under a history policy an affirming verdict found every past entry
         * of the log acceptable too (from its carried manifest, or from its
         * own mark): mark those as well, with the same rows, so that a late
         * prefix judged by the entries after it (appraise_later_entries)
         * does not take them for manifests never appraised as affirming. */
        if (rc == VFY_OK && mark_past) {
            for (size_t i = 0; rc == VFY_OK && i + 1 < vfy_agent_log_count(log); i++) {
                const uint8_t *d = vfy_agent_log_digest(log, i);
                int64_t rs = 0;

                if (memcmp(d, r->md, 32) != 0 && !manifest_known(a, req->attester, d, &rs))
                    rc = vfy_store_manifest_mark_known_refs(a->sst, req->attester, d, r->refs,
                                                            r->nrefs, &rs);
            }
        }
        in_tx = 0;
        if ((rc = state_end(a, rc, &ticket)) != VFY_OK) {
            set_detail(detail, detail_cap, "recording the result", vfy_strerror(rc));
            goto out;
        }
        /* Cached once written (with a committer: its batch failing later
         * clears the cache at the next state phase, see state_begin). */
        if (mark)
            known_put(a, req->attester, r->md, mark_refset);
    }
    rc = VFY_OK;
    r->ticket = ticket;
    *out = r;
    r = NULL;
out:
    if (in_tx)
        (void)state_end(a, rc != VFY_OK ? rc : VFY_E_INTERNAL, &ticket);
    vfy_result_free(&r);
    vfy_agent_history_clear(&next);
    vfy_free(stored);
    vfy_agent_log_free(&log);
    vfy_manifest_free(&man);
    vfy_cmw_free(&cmw);
    return rc;
}


vfy_rc vfy_appraise(vfy_appraiser *a, const vfy_appraisal_request *req, vfy_result **out,
                    char *detail, size_t detail_cap)
{
    vfy_rc rc = VFY_E_INTERNAL;

    /* A stale attempt wrote nothing. The second runs entirely under the
     * write lock, where no admin change can land between filling the
     * caches and using them: it cannot be stale. Only appraisals within
     * moments of an admin change pay for it (their crypto holds the lock). */
    for (int attempt = 0; attempt < 2; attempt++) {
        int stale = 0;

        if (a != NULL)
            a->locked = attempt > 0;
        rc = appraise_once(a, req, out, detail, detail_cap, &stale);
        if (!stale)
            break;
        rc = VFY_E_INTERNAL;   /* not reached: the locked attempt is never stale */
    }
    if (a != NULL)
        a->locked = 0;
    return rc;
}

/* ---------------------------------------------------------------- */

vfy_ear_status vfy_result_submod_status(const vfy_result *r, vfy_ear_submod_id s)
{
    if (r == NULL || (unsigned)s >= VFY_EAR_SUBMOD_COUNT)
        return VFY_EAR_NONE;
    return vfy_trust_vector_status(&r->tv[s]);
}

vfy_ear_status vfy_result_status(const vfy_result *r)
{
    vfy_ear_status s;

    if (r == NULL)
        return VFY_EAR_CONTRAINDICATED;
    s = vfy_ear_status_worst(vfy_result_submod_status(r, VFY_EAR_PLATFORM),
                             vfy_result_submod_status(r, VFY_EAR_AGENT));
    /* A result that never reached a verdict on either part is not affirming. */
    if (!r->agent_present && s == VFY_EAR_AFFIRMING)
        s = VFY_EAR_CONTRAINDICATED;
    return s;
}

vfy_trust_vector vfy_result_vector(const vfy_result *r, vfy_ear_submod_id s)
{
    vfy_trust_vector none;

    memset(&none, 0, sizeof(none));
    if (r == NULL || (unsigned)s >= VFY_EAR_SUBMOD_COUNT)
        return none;
    return r->tv[s];
}

const char *vfy_result_id(const vfy_result *r) { return r != NULL ? r->id : NULL; }
int64_t vfy_result_iat(const vfy_result *r) { return r != NULL ? r->iat : 0; }
int64_t vfy_result_exp(const vfy_result *r) { return r != NULL ? r->exp : 0; }
const char *vfy_result_policy_id(const vfy_result *r) { return r != NULL ? r->policy_label : NULL; }
size_t vfy_result_reason_count(const vfy_result *r) { return r != NULL ? r->nreasons : 0; }

const char *vfy_result_reason(const vfy_result *r, size_t i)
{
    return r != NULL && i < r->nreasons ? r->reasons[i] : NULL;
}

int vfy_result_manifest(const vfy_result *r, uint8_t digest[32], int64_t *version)
{
    if (r == NULL || !r->has_manifest)
        return 0;
    if (digest != NULL)
        memcpy(digest, r->md, 32);
    if (version != NULL)
        *version = r->manifest_version;
    return 1;
}

vfy_rc vfy_result_sign(const vfy_result *r, const vfy_signing_key *key, char **jws)
{
    vfy_ear_claims c;

    if (r == NULL || key == NULL || jws == NULL)
        return VFY_E_INVALID_ARG;
    memset(&c, 0, sizeof(c));
    c.profile = r->profile;
    c.iat = r->iat;
    c.exp = r->exp;
    c.jti = r->id;
    c.verifier_build = r->verifier_build;
    c.attester = r->attester;
    c.nonce = r->nonce;
    c.nonce_len = VFY_NONCE_LEN;
    c.channel_binding = r->cb;
    c.submod[VFY_EAR_PLATFORM].present = 1;
    c.submod[VFY_EAR_PLATFORM].tv = r->tv[VFY_EAR_PLATFORM];
    c.submod[VFY_EAR_PLATFORM].policy_ids = r->policy_ids;
    c.submod[VFY_EAR_PLATFORM].n_policy_ids = r->policy_label[0] ? 1 : 0;
    c.submod[VFY_EAR_AGENT].present = r->agent_present;
    c.submod[VFY_EAR_AGENT].tv = r->tv[VFY_EAR_AGENT];
    c.submod[VFY_EAR_AGENT].policy_ids = r->policy_ids;
    c.submod[VFY_EAR_AGENT].n_policy_ids = r->policy_label[0] ? 1 : 0;
    c.has_manifest = r->has_manifest && r->agent_present;
    memcpy(c.manifest_digest, r->md, 32);
    c.manifest_version = r->manifest_version;
    c.reasons = (const char *const *)r->reasons;
    c.n_reasons = r->nreasons;
    /* The EAR's status is computed from its claims (the worst submodule);
     * it must be the status the result was recorded and answered with
     * (vfy_result_status, which also refuses "affirming" for a result that
     * never reached the agent): never sign a token that says more. */
    {
        vfy_ear_status claimed = vfy_trust_vector_status(&c.submod[VFY_EAR_PLATFORM].tv);

        if (c.submod[VFY_EAR_AGENT].present)
            claimed = vfy_ear_status_worst(claimed,
                                           vfy_trust_vector_status(&c.submod[VFY_EAR_AGENT].tv));
        if (claimed != vfy_result_status(r))
            return VFY_E_INTERNAL;
    }
    return vfy_ear_sign(&c, key, jws, NULL);
}
