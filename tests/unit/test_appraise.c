/*
 * test_appraise.c — appraisal (appraise.h; appraise.c), DESIGN §3–§7.
 *
 * Evidence: tests/fixtures/appraise/, made by a real swtpm through
 * tests/lib/evidence.sh (tests/fixtures/gen-appraise-fixtures.sh). Each
 * scenario file lists steps — evidence, nonce, channel binding, policy and
 * the exact expected status and trust-vector values — appraised in order
 * against one freshly provisioned store (a temporary SQLite file in /tmp,
 * provisioned only through the public store API: policies from policies/,
 * the attester with the fixture AK, the PCR reference set from the
 * tpm2_pcrread YAML, components approved or revoked as listed).
 *
 * On top of the scenarios, cases built here: unknown attester, a different
 * AK, relayed evidence (another channel binding or nonce), PCR values not in
 * or revoked from the reference set, a PCR the quote does not cover, nonce
 * errors, every DESIGN §5 limit (inputs made with vfy_cmw_encode, or by hand
 * where the encoder itself refuses them), unknown policy, state updates,
 * result recording and revocation, TTL, and the signed EAR.
 *
 * Statuses are recomputed here from the expected vectors with the AR4SI tier
 * table, independently of the library's vfy_ar4si_tier().
 */
#define _GNU_SOURCE /* asprintf */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <criterion/parameterized.h>
#include <pthread.h>
#include <stdatomic.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <tss2/tss2_mu.h>

#include "verify/verify.h"
#include "internal.h"   /* committer_enter/leave: a failed state phase */
#include "refstore_int.h"   /* the committer store's connection */

#define ATTESTER "agent-1"
#define REFSET "platform"

/* ---- files ----------------------------------------------------------------- */

typedef struct buf {
    uint8_t *p;
    size_t len;
} buf;

static void buf_free(buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = 0;
}

static const char *env_dir(const char *var)
{
    const char *d = getenv(var);

    cr_assert(d != NULL && *d != 0, "%s is not set (run through ctest)", var);
    return d;
}

/* Whole file, NUL-terminated; fails the test if unreadable. */
static buf read_path(const char *path)
{
    buf b = {NULL, 0};
    FILE *f = fopen(path, "rb");
    long n;

    cr_assert(f != NULL, "cannot open %s", path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    cr_assert(n >= 0 && n < 4 * 1024 * 1024, "%s: bad size", path);
    rewind(f);
    b.p = malloc((size_t)n + 1);
    cr_assert_not_null(b.p);
    b.len = fread(b.p, 1, (size_t)n, f);
    cr_assert_eq(b.len, (size_t)n, "%s: short read", path);
    b.p[b.len] = 0;
    fclose(f);
    return b;
}

/* tests/fixtures/appraise/<rel> */
static buf read_fx(const char *rel)
{
    char path[1024];
    int n = snprintf(path, sizeof(path), "%s/appraise/%s", env_dir("VFY_FIXTURES"), rel);

    cr_assert(n > 0 && (size_t)n < sizeof(path));
    return read_path(path);
}

/* <source>/policies/<name> */
static buf read_policy(const char *name)
{
    char path[1024];
    int n = snprintf(path, sizeof(path), "%s/policies/%s", env_dir("VFY_SOURCE_DIR"), name);

    cr_assert(n > 0 && (size_t)n < sizeof(path));
    return read_path(path);
}

static void b64url_dec(uint8_t *out, size_t want, const char *s, size_t len)
{
    size_t n = 0;

    cr_assert_eq(vfy_b64url_decode(out, want, &n, s, len), VFY_OK, "bad base64url %.*s",
                 (int)len, s);
    cr_assert_eq(n, want);
}

/* Evidence as vfy_appraise takes it: CBOR fixtures are base64url text. */
static buf read_evidence(const char *rel, vfy_cmw_format fmt)
{
    buf t = read_fx(rel), b = {NULL, 0};

    if (fmt == VFY_CMW_JSON)
        return t;
    while (t.len > 0 && (t.p[t.len - 1] == '\n' || t.p[t.len - 1] == ' '))
        t.len--;
    b.p = malloc(VFY_B64URL_DECODED_MAX(t.len) + 1);
    cr_assert_not_null(b.p);
    cr_assert_eq(vfy_b64url_decode(b.p, VFY_B64URL_DECODED_MAX(t.len), &b.len,
                                   (const char *)t.p, t.len), VFY_OK, "%s: not base64url", rel);
    buf_free(&t);
    return b;
}

static void sha256_of(const void *p, size_t len, uint8_t out[32])
{
    cr_assert_not_null(SHA256(p, len, out));
}

/* ---- an appraisal environment ---------------------------------------------- */

enum {
    PROV_PCR3_WRONG = 1u << 0,  /* reference value of PCR 3 replaced by another digest */
};

typedef struct env {
    char dir[64];
    char db[128];
    vfy_store *st;
    vfy_appraiser *ap;
} env;

static void load_policy(vfy_store *st, const char *json, size_t len)
{
    vfy_rc rc = vfy_store_policy_load(st, json, len, NULL, NULL, NULL);

    cr_assert_eq(rc, VFY_OK, "policy load: %s (%s)", vfy_rc_name(rc), vfy_store_errmsg(st));
}

/* Next space-separated token of *s (modified in place), or NULL. */
static char *token(char **s)
{
    char *t = *s, *e;

    while (*t == ' ')
        t++;
    if (*t == 0)
        return NULL;
    e = t + strcspn(t, " ");
    *s = *e ? e + 1 : e;
    *e = 0;
    return t;
}

static void provision_components(vfy_store *st)
{
    buf b = read_fx("components");
    char *line = (char *)b.p, *nl;

    for (; line != NULL && *line; line = nl) {
        char *s = line, *state, *kind, *name, *version, *digest;
        vfy_component_kind k;
        uint8_t d[32];
        size_t revoked = 0;
        vfy_rc rc;

        if ((nl = strchr(line, '\n')) != NULL)
            *nl++ = 0;
        state = token(&s);
        kind = token(&s);
        name = token(&s);
        version = token(&s);
        digest = token(&s);
        cr_assert(state && kind && name && version && digest, "bad components line");
        cr_assert_eq(vfy_component_kind_parse(&k, kind), VFY_OK);
        cr_assert_eq(vfy_sha256_parse(d, digest, strlen(digest)), VFY_OK);
        rc = vfy_store_component_add(st, k, name, strcmp(version, "-") == 0 ? NULL : version, d,
                                     "test_appraise fixture", NULL);
        cr_assert_eq(rc, VFY_OK, "component add %s: %s", name, vfy_rc_name(rc));
        if (strcmp(state, "revoked") == 0) {
            cr_assert_eq(vfy_store_component_revoke(st, k, name, d, &revoked, NULL), VFY_OK);
            cr_assert_eq(revoked, 1);
        } else {
            cr_assert_str_eq(state, "approved");
        }
    }
    buf_free(&b);
}

static void env_open(env *e, unsigned flags)
{
    static const char *const fx_policies[] = {"policies/hist-current.json"};
    static const char *const policies[] = {"default.json", "strict.json"};
    vfy_pcr_values pv;
    buf b;
    size_t added = 0;
    vfy_rc rc;

    memset(e, 0, sizeof(*e));
    snprintf(e->dir, sizeof(e->dir), "/tmp/vfy_appraise.XXXXXX");
    cr_assert_not_null(mkdtemp(e->dir));
    snprintf(e->db, sizeof(e->db), "%s/ref.db", e->dir);
    cr_assert_eq(vfy_store_open(&e->st, e->db, VFY_STORE_CREATE | VFY_STORE_MIGRATE), VFY_OK);

    for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
        b = read_policy(policies[i]);
        load_policy(e->st, (const char *)b.p, b.len);
        buf_free(&b);
    }
    for (size_t i = 0; i < sizeof(fx_policies) / sizeof(fx_policies[0]); i++) {
        b = read_fx(fx_policies[i]);
        load_policy(e->st, (const char *)b.p, b.len);
        buf_free(&b);
    }

    b = read_fx("ak.pub");  /* TPM2B_PUBLIC */
    rc = vfy_store_attester_add(e->st, ATTESTER, b.p, b.len, "ecdsa-sha256", REFSET, NULL, NULL);
    cr_assert_eq(rc, VFY_OK, "attester add: %s (%s)", vfy_rc_name(rc), vfy_store_errmsg(e->st));
    buf_free(&b);

    b = read_fx("pcrread.yaml");
    cr_assert_eq(vfy_store_pcrread_parse(&pv, (const char *)b.p, b.len, NULL, NULL), VFY_OK);
    buf_free(&b);
    cr_assert_eq(pv.nbanks, 1);
    cr_assert_eq(pv.banks[0].mask, 0xffu);
    if (flags & PROV_PCR3_WRONG)
        sha256_of("not the platform's PCR 3", 24, pv.banks[0].values[3]);
    cr_assert_eq(vfy_store_pcr_import(e->st, REFSET, &pv, &added), VFY_OK);
    cr_assert_eq(added, 8);

    provision_components(e->st);
    cr_assert_eq(vfy_appraiser_new(&e->ap, e->st, NULL), VFY_OK);
}

static void env_close(env *e)
{
    char p[160];

    vfy_appraiser_free(&e->ap);
    cr_assert_null(e->ap);
    vfy_store_close(&e->st);
    unlink(e->db);
    snprintf(p, sizeof(p), "%s-wal", e->db);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", e->db);
    unlink(p);
    rmdir(e->dir);
}

/* The single integer @sql returns on a read-only connection to e's database. */
static int64_t count_rows(const env *e, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    int64_t v = -1;

    cr_assert_eq(sqlite3_open_v2(e->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

/* ---- expectations ------------------------------------------------------------ */

#define ABSENT (-1000)

typedef struct expect {
    vfy_ear_status status;
    int pi, pe, ae, ac;        /* ABSENT: claim not present */
    const char *reason;        /* NULL: none checked; else one reason contains it */
} expect;

/* AR4SI tiers (draft-ietf-rats-ar4si), written out independently of the library. */
static vfy_ear_status tier(int v)
{
    if (v >= -1 && v <= 1)
        return VFY_EAR_NONE;
    if ((v >= 2 && v <= 31) || (v >= -32 && v <= -2))
        return VFY_EAR_AFFIRMING;
    if ((v >= 32 && v <= 95) || (v >= -96 && v <= -33))
        return VFY_EAR_WARNING;
    return VFY_EAR_CONTRAINDICATED;
}

static const int sev[] = {[VFY_EAR_NONE] = 0, [VFY_EAR_AFFIRMING] = 1,
                          [VFY_EAR_WARNING] = 2, [VFY_EAR_CONTRAINDICATED] = 3};

static vfy_ear_status worse(vfy_ear_status a, vfy_ear_status b)
{
    return sev[b] > sev[a] ? b : a;
}

static vfy_ear_status tier2(int a, int b)
{
    return worse(a == ABSENT ? VFY_EAR_NONE : tier(a), b == ABSENT ? VFY_EAR_NONE : tier(b));
}

static void check_claim(const vfy_trust_vector *tv, vfy_tv_claim c, int want, const char *what)
{
    if (want == ABSENT) {
        cr_expect(!(tv->set & (1u << c)), "%s: %s present (%d), expected absent", what,
                  vfy_tv_claim_name(c), tv->value[c]);
        return;
    }
    cr_expect(tv->set & (1u << c), "%s: %s absent, expected %d", what, vfy_tv_claim_name(c), want);
    cr_expect_eq(tv->value[c], want, "%s: %s = %d, expected %d", what, vfy_tv_claim_name(c),
                 tv->value[c], want);
}

static void dump_reasons(const vfy_result *r)
{
    for (size_t i = 0; i < vfy_result_reason_count(r); i++)
        cr_log_info("  reason %zu: %s", i, vfy_result_reason(r, i));
}

static void check_result(const vfy_result *r, const expect *x, const char *what)
{
    vfy_trust_vector p = vfy_result_vector(r, VFY_EAR_PLATFORM);
    vfy_trust_vector a = vfy_result_vector(r, VFY_EAR_AGENT);
    uint8_t other = (uint8_t)~((1u << VFY_TV_INSTANCE_IDENTITY) | (1u << VFY_TV_EXECUTABLES) |
                               (1u << VFY_TV_CONFIGURATION));
    vfy_ear_status ps = tier2(x->pi, x->pe), as = tier2(x->ae, x->ac);
    size_t nr = vfy_result_reason_count(r);
    int found = 0;

    dump_reasons(r);
    cr_expect_eq(vfy_result_status(r), x->status, "%s: status %s, expected %s", what,
                 vfy_ear_status_name(vfy_result_status(r)), vfy_ear_status_name(x->status));
    check_claim(&p, VFY_TV_INSTANCE_IDENTITY, x->pi, what);
    check_claim(&p, VFY_TV_EXECUTABLES, x->pe, what);
    check_claim(&p, VFY_TV_CONFIGURATION, ABSENT, what);
    check_claim(&a, VFY_TV_EXECUTABLES, x->ae, what);
    check_claim(&a, VFY_TV_CONFIGURATION, x->ac, what);
    check_claim(&a, VFY_TV_INSTANCE_IDENTITY, ABSENT, what);
    cr_expect_eq(p.set & other, 0, "%s: unexpected platform claims 0x%x", what, p.set);
    cr_expect_eq(a.set & other, 0, "%s: unexpected agent claims 0x%x", what, a.set);
    cr_expect_eq(vfy_result_submod_status(r, VFY_EAR_PLATFORM), ps, "%s: platform status %s",
                 what, vfy_ear_status_name(vfy_result_submod_status(r, VFY_EAR_PLATFORM)));
    cr_expect_eq(vfy_result_submod_status(r, VFY_EAR_AGENT), as, "%s: agent status %s", what,
                 vfy_ear_status_name(vfy_result_submod_status(r, VFY_EAR_AGENT)));
    /* The overall status is the worst submodule, given here independently. */
    cr_expect_eq(x->status, worse(ps, as), "%s: the expectation itself is inconsistent", what);
    if (x->status == VFY_EAR_AFFIRMING) {
        cr_expect_eq(nr, 0, "%s: affirming result with %zu reasons", what, nr);
    } else {
        cr_expect_gt(nr, 0, "%s: non-affirming result without reasons", what);
        for (size_t i = 0; i < nr; i++)
            cr_expect(vfy_result_reason(r, i) != NULL && vfy_result_reason(r, i)[0] != 0,
                      "%s: empty reason %zu", what, i);
    }
    if (x->reason != NULL) {
        for (size_t i = 0; i < nr; i++)
            if (strstr(vfy_result_reason(r, i), x->reason) != NULL)
                found = 1;
        cr_expect(found, "%s: no reason mentions \"%s\"", what, x->reason);
    }
}

/* ---- appraisal requests --------------------------------------------------- */

typedef struct req {
    buf ev;
    vfy_cmw_format fmt;
    uint8_t nonce[32], cb[32];
    vfy_appraisal_request r;
} req;

/* A request for fixture evidence @rel with the nonce and cb it was made for. */
static void req_init(req *q, const char *rel, vfy_cmw_format fmt, const char *nonce_b64,
                     const char *cb_b64)
{
    memset(q, 0, sizeof(*q));
    q->ev = read_evidence(rel, fmt);
    q->fmt = fmt;
    b64url_dec(q->nonce, 32, nonce_b64, strlen(nonce_b64));
    b64url_dec(q->cb, 32, cb_b64, strlen(cb_b64));
    q->r.evidence = q->ev.p;
    q->r.evidence_len = q->ev.len;
    q->r.format = fmt;
    q->r.nonce = q->nonce;
    q->r.channel_binding = q->cb;
    q->r.attester = ATTESTER;
    q->r.nonce_status = VFY_OK;
    q->r.now = (int64_t)time(NULL);
    q->r.nonce_issued_at = (uint64_t)q->r.now; /* just issued */
}

/* The first step of scenario @scen: its evidence, nonce and cb. */
static void req_from_scenario(req *q, const char *scen);

static vfy_result *appraise_ok(env *e, const req *q, const char *what)
{
    vfy_result *r = NULL;
    char detail[256] = "";
    vfy_rc rc = vfy_appraise(e->ap, &q->r, &r, detail, sizeof(detail));

    cr_assert_eq(rc, VFY_OK, "%s: vfy_appraise %s (%s)", what, vfy_rc_name(rc), detail);
    cr_assert_not_null(r);
    return r;
}

static void appraise_err(env *e, const vfy_appraisal_request *rq, vfy_rc want, const char *what)
{
    vfy_result *r = (vfy_result *)(uintptr_t)1;
    char detail[256] = "";
    vfy_rc rc = vfy_appraise(e->ap, rq, &r, detail, sizeof(detail));

    cr_expect_eq(rc, want, "%s: %s (%s), expected %s", what, vfy_rc_name(rc), detail,
                 vfy_rc_name(want));
    cr_expect_null(r, "%s: a result came with an error", what);
    if (rc != VFY_OK)
        cr_expect_neq(detail[0], 0, "%s: no detail for %s", what, vfy_rc_name(rc));
    if (r != (vfy_result *)(uintptr_t)1)
        vfy_result_free(&r);
}

/* ---- scenarios --------------------------------------------------------------- */

static int parse_claim(const char *v)
{
    char *end;
    long n;

    if (strcmp(v, "-") == 0)
        return ABSENT;
    n = strtol(v, &end, 10);
    cr_assert(*v != 0 && *end == 0 && n >= -128 && n <= 127, "bad claim value %s", v);
    return (int)n;
}

static vfy_ear_status parse_status(const char *v)
{
    static const vfy_ear_status all[] = {VFY_EAR_NONE, VFY_EAR_AFFIRMING, VFY_EAR_WARNING,
                                         VFY_EAR_CONTRAINDICATED};

    for (size_t i = 0; i < 4; i++)
        if (strcmp(v, vfy_ear_status_name(all[i])) == 0)
            return all[i];
    cr_assert_fail("bad status %s", v);
    return VFY_EAR_NONE;
}

typedef struct step {
    char ev[128], fmt[8], policy[64], nonce[64], cb[64];
    expect x;
    char reason[256];
} step;

/* Parse one steps line (see gen-appraise-fixtures.sh). */
static void parse_step(char *line, step *s)
{
    char *p = line, *t;

    memset(s, 0, sizeof(*s));
    s->x.reason = NULL;
    while ((t = token(&p)) != NULL) {
        char *v = strchr(t, '=');

        cr_assert_not_null(v, "bad step token %s", t);
        *v++ = 0;
        if (strcmp(t, "ev") == 0)
            snprintf(s->ev, sizeof(s->ev), "%s", v);
        else if (strcmp(t, "fmt") == 0)
            snprintf(s->fmt, sizeof(s->fmt), "%s", v);
        else if (strcmp(t, "policy") == 0)
            snprintf(s->policy, sizeof(s->policy), "%s", v);
        else if (strcmp(t, "nonce") == 0)
            snprintf(s->nonce, sizeof(s->nonce), "%s", v);
        else if (strcmp(t, "cb") == 0)
            snprintf(s->cb, sizeof(s->cb), "%s", v);
        else if (strcmp(t, "status") == 0)
            s->x.status = parse_status(v);
        else if (strcmp(t, "pi") == 0)
            s->x.pi = parse_claim(v);
        else if (strcmp(t, "pe") == 0)
            s->x.pe = parse_claim(v);
        else if (strcmp(t, "ae") == 0)
            s->x.ae = parse_claim(v);
        else if (strcmp(t, "ac") == 0)
            s->x.ac = parse_claim(v);
        else if (strcmp(t, "reason") == 0) {
            /* the rest of the line */
            snprintf(s->reason, sizeof(s->reason), "%s%s%s", v, *p ? " " : "", p);
            if (strcmp(s->reason, "-") != 0)
                s->x.reason = s->reason;
            break;
        } else
            cr_assert_fail("unknown step key %s", t);
    }
    cr_assert(s->ev[0] && s->fmt[0] && s->policy[0] && s->nonce[0] && s->cb[0] &&
                  s->x.status != VFY_EAR_NONE,
              "incomplete step");
}

/* Read the steps of @scen; returns the count, *steps allocated. */
static size_t read_steps(const char *scen, step **steps)
{
    char rel[256];
    buf b;
    size_t n = 0;
    char *line, *nl;

    snprintf(rel, sizeof(rel), "scenarios/%s", scen);
    b = read_fx(rel);
    *steps = calloc(64, sizeof(step));
    cr_assert_not_null(*steps);
    for (line = (char *)b.p; line != NULL && *line; line = nl) {
        if ((nl = strchr(line, '\n')) != NULL)
            *nl++ = 0;
        if (*line == 0 || *line == '#')
            continue;
        cr_assert_lt(n, 64);
        parse_step(line, &(*steps)[n++]);
    }
    buf_free(&b);
    cr_assert_gt(n, 0, "scenario %s has no steps", scen);
    return n;
}

static void req_from_step(req *q, const step *s)
{
    vfy_cmw_format fmt = strcmp(s->fmt, "cbor") == 0 ? VFY_CMW_CBOR : VFY_CMW_JSON;

    cr_assert(strcmp(s->fmt, "cbor") == 0 || strcmp(s->fmt, "json") == 0);
    req_init(q, s->ev, fmt, s->nonce, s->cb);
    q->r.policy_id = strcmp(s->policy, "-") == 0 ? NULL : s->policy;
}

static void req_from_scenario(req *q, const char *scen)
{
    step *steps = NULL;

    (void)read_steps(scen, &steps);
    req_from_step(q, &steps[0]);
    /* policy_id points into steps: the first steps used here name none */
    cr_assert_null(q->r.policy_id, "scenario %s: first step names a policy", scen);
    free(steps);
}

static void req_free(req *q)
{
    buf_free(&q->ev);
}

static const char *const scenarios[] = {
    "affirming", "unapproved-model", "unapproved-tool", "revoked-model",
    "unknown-context-default", "unknown-context-strict", "unapproved-policy",
    "log-noreplay", "log-notlast", "extend", "extend-strict",
    "hist-current-unknown", "hist-approved-unknown", "hist-strict-unknown",
    "hist-approved-carried", "hist-strict-carried",
    "hist-current-bad", "hist-approved-bad", "hist-strict-bad",
    "hist-current-bad-bare", "hist-approved-bad-bare", "hist-strict-bad-bare",
    "late-prefix", "late-prefix-bad", "late-prefix-bad-strict", "rollback-reset", "rollback-shorter", "reboot",
    "clock-back", "clock-within",
};
#define NSCEN (sizeof(scenarios) / sizeof(scenarios[0]))

/* Parameters are indices: Criterion runs each test in a new process, where
 * pointers into the parent's data would not be valid. */
ParameterizedTestParameters(appraise, scenario)
{
    static size_t params[NSCEN];

    for (size_t i = 0; i < NSCEN; i++)
        params[i] = i;
    return cr_make_param_array(size_t, params, NSCEN);
}

/* Scenarios run by their own named Test below. */
static const char *const known_issues[] = {"tpm-restart"};
#define NKNOWN (sizeof(known_issues) / sizeof(known_issues[0]))

static void run_scenario(const char *const *scen)
{
    step *steps = NULL;
    size_t n = read_steps(*scen, &steps);
    env e;

    env_open(&e, 0);
    for (size_t i = 0; i < n; i++) {
        char what[256];
        req q;
        vfy_result *r;

        snprintf(what, sizeof(what), "%s step %zu (%s, policy %s)", *scen, i + 1, steps[i].ev,
                 steps[i].policy);
        req_from_step(&q, &steps[i]);
        r = appraise_ok(&e, &q, what);
        check_result(r, &steps[i].x, what);
        vfy_result_free(&r);
        cr_assert_null(r);
        req_free(&q);
    }
    free(steps);
    env_close(&e);
}

ParameterizedTest(size_t *idx, appraise, scenario)
{
    run_scenario(&scenarios[*idx]);
}

/*
 * A TPM Restart — Shutdown(STATE) then Startup(CLEAR), as on resume from
 * hibernation — resets every PCR, PCR 23 included, but not resetCount
 * (restartCount goes up). The agent starts its log again; the verifier must
 * start the history over rather than call it a rollback.
 */
Test(appraise, tpm_restart_is_a_new_epoch)
{
    run_scenario(&known_issues[0]);
}

/* Every scenario file in the fixtures is in the tables above (none is skipped). */
Test(appraise, every_scenario_is_run)
{
    char path[1024];
    DIR *d;
    struct dirent *de;
    size_t seen = 0;

    snprintf(path, sizeof(path), "%s/appraise/scenarios", env_dir("VFY_FIXTURES"));
    cr_assert_not_null(d = opendir(path));
    while ((de = readdir(d)) != NULL) {
        int known = 0;

        if (de->d_name[0] == '.')
            continue;
        for (size_t i = 0; i < NSCEN; i++)
            known |= strcmp(de->d_name, scenarios[i]) == 0;
        for (size_t i = 0; i < NKNOWN; i++)
            known |= strcmp(de->d_name, known_issues[i]) == 0;
        cr_expect(known, "scenario %s is not run by test_appraise", de->d_name);
        seen++;
    }
    closedir(d);
    cr_expect_eq(seen, NSCEN + NKNOWN);
}

/* ---- the affirming case in detail ------------------------------------------ */

static const expect AFFIRMING = {VFY_EAR_AFFIRMING, 2, 2, 2, 2, NULL};

Test(appraise, affirming_json_and_cbor_details)
{
    static const char *const scen[] = {"affirming"};
    step *steps = NULL;
    size_t n = read_steps(scen[0], &steps);
    buf m1 = read_fx("manifests/m1.json");
    uint8_t md[32], got[32];
    int64_t version = -1;
    env e;

    cr_assert_eq(n, 2);
    cr_assert_str_eq(steps[0].fmt, "json");
    cr_assert_str_eq(steps[1].fmt, "cbor");
    sha256_of(m1.p, m1.len, md);
    env_open(&e, 0);
    for (size_t i = 0; i < n; i++) {
        req q;
        vfy_result *r;

        req_from_step(&q, &steps[i]);
        q.r.now = 1765000000;
        q.r.nonce_issued_at = (uint64_t)q.r.now; /* issued just now */
        r = appraise_ok(&e, &q, steps[i].fmt);
        check_result(r, &AFFIRMING, steps[i].fmt);
        cr_expect_eq(vfy_result_manifest(r, got, &version), 1);
        cr_expect_arr_eq(got, md, 32);
        cr_expect_eq(version, 1);
        cr_expect_str_eq(vfy_result_policy_id(r), "default@1");
        cr_expect_eq(vfy_result_iat(r), 1765000000);
        cr_expect_eq(vfy_result_exp(r) - vfy_result_iat(r), 300);
        cr_expect_eq(strlen(vfy_result_id(r)), VFY_RESULT_ID_LEN);
        {
            /* 16 bytes: the issue time in ms (6, big-endian), then 10 random */
            uint8_t id[16];
            uint64_t ms = 0, now_ms = (uint64_t)time(NULL) * 1000;

            b64url_dec(id, sizeof(id), vfy_result_id(r), strlen(vfy_result_id(r)));
            for (int k = 0; k < 6; k++)
                ms = ms << 8 | id[k];
            cr_expect(ms + 60000 > now_ms && ms < now_ms + 60000,
                      "result id time %llu ms, now %llu ms", (unsigned long long)ms,
                      (unsigned long long)now_ms);
        }
        vfy_result_free(&r);
        req_free(&q);
    }
    free(steps);
    buf_free(&m1);
    env_close(&e);
}

/*
 * The same steps through a parsed POST /v1/attest body (verifierd's path):
 * the JSON evidence is appraised from the body's tree, the CBOR evidence
 * from the decoded string, with the same verdict; evidence errors come from
 * vfy_appraise with the codes of the bytes path.
 */
static char *body_for(const step *s, const char *evidence_override)
{
    buf t = read_fx(s->ev);
    char *body;
    int n;

    while (t.len > 0 && (t.p[t.len - 1] == '\n' || t.p[t.len - 1] == ' '))
        t.len--;
    if (evidence_override != NULL)
        n = asprintf(&body, "{\"nonce\":\"%s\",\"channel_binding\":\"%s\",\"attester\":\"%s\","
                     "\"evidence\":%s}", s->nonce, s->cb, ATTESTER, evidence_override);
    else if (strcmp(s->fmt, "cbor") == 0)
        n = asprintf(&body, "{\"nonce\":\"%s\",\"channel_binding\":\"%s\",\"attester\":\"%s\","
                     "\"evidence\":\"%.*s\"}", s->nonce, s->cb, ATTESTER, (int)t.len, t.p);
    else
        n = asprintf(&body, "{\"nonce\":\"%s\",\"channel_binding\":\"%s\",\"attester\":\"%s\","
                     "\"evidence\":%.*s,\"max_ttl_s\":120}", s->nonce, s->cb, ATTESTER,
                     (int)t.len, t.p);
    cr_assert_gt(n, 0);
    buf_free(&t);
    return body;
}

Test(appraise, attest_body_path_same_verdicts_and_errors)
{
    step *steps = NULL;
    size_t n = read_steps("affirming", &steps);
    static const struct {
        const char *evidence;
        vfy_rc want;
    } bad[] = {
        {"{\"__cmwc_t\":\"" VFY_CMW_TAG "\"}", VFY_E_CMW_MISSING},
        {"{\"__cmwc_t\":\"other\"}", VFY_E_CMW_TYPE},
        {"{\"x\":1}", VFY_E_CMW_UNKNOWN_LABEL},
        {"{\"__cmwc_t\":\"" VFY_CMW_TAG "\",\"__cmwc_t\":\"" VFY_CMW_TAG "\"}",
         VFY_E_CMW_DUPLICATE},
        {"{\"tpm-attest\":[\"application/vnd.verifierd.tpms-attest\",\"a+b\"]}",
         VFY_E_CMW_ENCODING},
        {"{\"tpm-attest\":[\"text/plain\",\"AA\"]}", VFY_E_CMW_MEDIA_TYPE},
        {"{\"tpm-attest\":\"AA\"}", VFY_E_CMW_MALFORMED},
        {"\"AA\"", VFY_E_CMW_MALFORMED},   /* CBOR path: one byte, not a map */
    };
    env e;

    cr_assert_eq(n, 2);
    env_open(&e, 0);
    for (size_t i = 0; i < n; i++) {
        char *text = body_for(&steps[i], NULL), detail[256];
        vfy_attest_body *b = NULL;
        vfy_appraisal_request rq;
        vfy_result *r = NULL;
        vfy_rc rc;

        rc = vfy_attest_body_parse(&b, text, strlen(text), detail, sizeof(detail));
        cr_assert_eq(rc, VFY_OK, "%s: %s (%s)", steps[i].fmt, vfy_rc_name(rc), detail);
        cr_expect_eq(vfy_attest_body_format(b),
                     strcmp(steps[i].fmt, "cbor") == 0 ? VFY_CMW_CBOR : VFY_CMW_JSON);
        memset(&rq, 0, sizeof(rq));
        rq.evidence = (const uint8_t *)"junk: the body's evidence is used";
        rq.evidence_len = 4;
        vfy_attest_body_request(b, &rq);
        cr_expect_null(rq.evidence);
        cr_expect_eq((const void *)rq.body, (const void *)b);
        cr_expect_str_eq(rq.attester, ATTESTER);
        cr_expect_null(rq.policy_id);
        cr_expect_eq(rq.max_ttl_s, i == 0 ? 120u : 0u);
        rq.now = 1765000000;
        rq.nonce_issued_at = 1765000000; /* the caller's check: issued just now */
        rc = vfy_appraise(e.ap, &rq, &r, detail, sizeof(detail));
        cr_assert_eq(rc, VFY_OK, "%s: vfy_appraise %s (%s)", steps[i].fmt, vfy_rc_name(rc),
                     detail);
        check_result(r, &AFFIRMING, steps[i].fmt);
        cr_expect_eq(vfy_result_exp(r) - vfy_result_iat(r), i == 0 ? 120 : 300);
        vfy_result_free(&r);
        vfy_attest_body_free(&b);
        cr_expect_null(b);
        free(text);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *text = body_for(&steps[0], bad[i].evidence), detail[256];
        vfy_attest_body *b = NULL;
        vfy_appraisal_request rq;

        cr_assert_eq(vfy_attest_body_parse(&b, text, strlen(text), detail, sizeof(detail)),
                     VFY_OK, "%s: %s", bad[i].evidence, detail);
        memset(&rq, 0, sizeof(rq));
        vfy_attest_body_request(b, &rq);
        rq.now = 1765000000;
        rq.nonce_issued_at = (uint64_t)rq.now; /* issued just now */
        appraise_err(&e, &rq, bad[i].want, bad[i].evidence);
        vfy_attest_body_free(&b);
        free(text);
    }
    free(steps);
    env_close(&e);
}

/* ---- identity ------------------------------------------------------------------ */

Test(appraise, unknown_attester_97)
{
    env e;
    req q;
    vfy_result *r;
    vfy_store_result sr;
    const expect x = {VFY_EAR_CONTRAINDICATED, 97, ABSENT, ABSENT, ABSENT, "nobody-here"};

    env_open(&e, 0);
    req_from_scenario(&q, "affirming");
    q.r.attester = "nobody-here";
    r = appraise_ok(&e, &q, "unknown attester");
    check_result(r, &x, "unknown attester");
    /* recorded like every result (appraise.h), so GET /v1/results finds it */
    cr_assert_eq(vfy_store_result_get(e.st, vfy_result_id(r), &sr), VFY_OK);
    cr_expect_str_eq(sr.attester, "nobody-here");
    cr_expect_str_eq(sr.status, "contraindicated");
    cr_expect_eq(sr.revoked, 0);
    vfy_result_free(&r);
    req_free(&q);
    env_close(&e);
}

Test(appraise, revoked_attester_96)
{
    env e;
    req q;
    vfy_result *r;
    const expect x = {VFY_EAR_CONTRAINDICATED, 96, ABSENT, ABSENT, ABSENT, "revoked"};

    env_open(&e, 0);
    cr_assert_eq(vfy_store_attester_revoke(e.st, ATTESTER), VFY_OK);
    req_from_scenario(&q, "affirming");
    r = appraise_ok(&e, &q, "revoked attester");
    check_result(r, &x, "revoked attester");
    vfy_result_free(&r);
    req_free(&q);
    env_close(&e);
}

/*
 * Regression: the store handle once shared a prepared-statement slot
 * between the attester-revoke state lookup and the state code's id lookup;
 * after an appraisal on the same handle, revoking silently did nothing.
 */
Test(appraise, attester_revoke_after_appraisal)
{
    env e;
    req q;
    vfy_result *r;
    vfy_store_attester at;
    vfy_store_result sr;
    char id[VFY_RESULT_ID_LEN + 1];
    const expect x = {VFY_EAR_CONTRAINDICATED, 96, ABSENT, ABSENT, ABSENT, "revoked"};

    env_open(&e, 0);
    req_from_scenario(&q, "affirming");
    q.r.now = (int64_t)time(NULL);
    q.r.nonce_issued_at = (uint64_t)q.r.now; /* issued just now */
    r = appraise_ok(&e, &q, "before revocation");
    check_result(r, &AFFIRMING, "before revocation");
    snprintf(id, sizeof(id), "%s", vfy_result_id(r));
    vfy_result_free(&r);
    cr_assert_eq(vfy_store_attester_revoke(e.st, ATTESTER), VFY_OK);
    cr_assert_eq(vfy_store_attester_get(e.st, ATTESTER, &at), VFY_OK);
    cr_expect_eq(at.revoked, 1, "vfy_store_attester_revoke returned VFY_OK but did not revoke");
    vfy_store_attester_clear(&at);
    /* revoking the attester revokes its unexpired results (refstore.h) */
    cr_assert_eq(vfy_store_result_get(e.st, id, &sr), VFY_OK);
    cr_expect_eq(sr.revoked, 1);
    r = appraise_ok(&e, &q, "revoked attester");
    check_result(r, &x, "revoked attester");
    vfy_result_free(&r);
    req_free(&q);
    env_close(&e);
}

/* A fresh EC P-256 public key as PEM (another AK). */
static char *other_ak_pem(size_t *len)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *out;
    long n;

    cr_assert(k != NULL && bio != NULL);
    cr_assert_eq(PEM_write_bio_PUBKEY(bio, k), 1);
    n = BIO_get_mem_data(bio, &data);
    cr_assert_gt(n, 0);
    out = malloc((size_t)n + 1);
    cr_assert_not_null(out);
    memcpy(out, data, (size_t)n);
    out[n] = 0;
    *len = (size_t)n;
    BIO_free(bio);
    EVP_PKEY_free(k);
    return out;
}

Test(appraise, bad_signature_other_ak_96_no_state)
{
    env e;
    req q;
    vfy_result *r;
    vfy_clock_info ci;
    vfy_store_log_entry *le = NULL;
    uint32_t epoch;
    size_t n = 0, pem_len;
    char *pem = other_ak_pem(&pem_len);
    const expect x = {VFY_EAR_CONTRAINDICATED, 96, ABSENT, ABSENT, ABSENT, "signature"};

    env_open(&e, 0);
    cr_assert_eq(vfy_store_attester_add(e.st, "other", (const uint8_t *)pem, pem_len,
                                        "ecdsa-sha256", REFSET, NULL, NULL), VFY_OK);
    req_from_scenario(&q, "affirming");
    q.r.attester = "other";
    r = appraise_ok(&e, &q, "other AK");
    check_result(r, &x, "other AK");
    cr_expect_eq(vfy_store_clock_get(e.st, "other", &ci), VFY_E_NOT_FOUND);
    cr_expect_eq(vfy_store_agent_log_get(e.st, "other", &epoch, &le, &n), VFY_E_NOT_FOUND);
    vfy_free(le);
    vfy_result_free(&r);
    req_free(&q);
    free(pem);
    env_close(&e);
}

/* Relayed evidence: the quote is genuine but bound to another connection. */
Test(appraise, binder_mismatch_relayed_96)
{
    env e;
    req q;
    vfy_result *r;
    vfy_clock_info ci;
    const expect x = {VFY_EAR_CONTRAINDICATED, 96, ABSENT, ABSENT, ABSENT, "binder mismatch"};

    env_open(&e, 0);
    req_from_scenario(&q, "affirming");
    q.cb[0] ^= 1;  /* the relying party's own, different, TLS exporter */
    r = appraise_ok(&e, &q, "other channel binding");
    check_result(r, &x, "other channel binding");
    vfy_result_free(&r);
    q.cb[0] ^= 1;
    q.nonce[31] ^= 0x80;  /* another challenge */
    r = appraise_ok(&e, &q, "other nonce");
    check_result(r, &x, "other nonce");
    vfy_result_free(&r);
    cr_expect_eq(vfy_store_clock_get(e.st, ATTESTER, &ci), VFY_E_NOT_FOUND);
    /* and the very same evidence with its own binding affirms */
    q.nonce[31] ^= 0x80;
    r = appraise_ok(&e, &q, "own binding");
    check_result(r, &AFFIRMING, "own binding");
    vfy_result_free(&r);
    req_free(&q);
    env_close(&e);
}

/* A nonce the caller refused stops the appraisal after the quote's
 * signature and clock checks: the verdict is contraindicated already, and
 * a replayed genuine quote must not buy the agent log's and history's
 * appraisal under the write lock again and again, nor move the attester's
 * state (it did both before 0.2.6: platform and agent claims 2, the clock
 * stored). */
Test(appraise, nonce_status_errors_96)
{
    static const vfy_rc errs[] = {VFY_E_NONCE_REPLAY, VFY_E_NONCE_EXPIRED,
                                  VFY_E_NONCE_FORGED};

    for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
        env e;
        req q;
        vfy_result *r;
        vfy_clock_info ci;
        const expect x = {VFY_EAR_CONTRAINDICATED, 96, ABSENT, ABSENT, ABSENT,
                          vfy_strerror(errs[i])};

        env_open(&e, 0);
        req_from_scenario(&q, "affirming");
        q.r.nonce_status = errs[i];
        r = appraise_ok(&e, &q, vfy_rc_name(errs[i]));
        check_result(r, &x, vfy_rc_name(errs[i]));
        cr_expect(strstr(vfy_result_reason(r, 0), "nonce") != NULL, "%s",
                  vfy_result_reason(r, 0));
        cr_expect_eq(vfy_result_reason_count(r), 1, "the nonce's reason only");
        cr_expect_eq(vfy_store_clock_get(e.st, ATTESTER, &ci), VFY_E_NOT_FOUND,
                     "%s: the attester's state did not move", vfy_rc_name(errs[i]));
        vfy_result_free(&r);
        req_free(&q);
        env_close(&e);
    }
}

/*
 * The policy that judges the evidence bounds the nonce's age, whatever
 * lifetime the challenge gave it: a nonce from a 60 s challenge (the
 * default policy's) is refused under a policy of 10 s once 10 s old.
 */
Test(appraise, nonce_older_than_the_policy_ttl_96)
{
    static const char pol[] = "{\"id\":\"fresh10\",\"version\":1,"
                              "\"freshness\":{\"nonce_ttl_s\":10}}";
    static const struct {
        const char *policy;
        int64_t age;
        int stale;
    } t[] = {{"fresh10", 10, 1}, {"fresh10", 50, 1}, {"fresh10", 9, 0},
             {NULL, 50, 0} /* the default policy: 60 s */, {NULL, 60, 1}};

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        env e;
        req q;
        vfy_result *r;
        uint8_t (*got)[32] = NULL;
        size_t n = 0;
        char what[64], why[96];
        expect x = {VFY_EAR_AFFIRMING, 2, 2, 2, 2, NULL};

        snprintf(what, sizeof(what), "%s, %" PRId64 " s old", t[i].policy ? t[i].policy : "default",
                 t[i].age);
        snprintf(why, sizeof(why), "nonce rejected: issued %" PRId64 " s ago, policy %s allows %d s",
                 t[i].age, t[i].policy ? "fresh10@1" : "default@1", t[i].policy ? 10 : 60);
        if (t[i].stale) {
            x.status = VFY_EAR_CONTRAINDICATED;
            x.pi = 96;
            x.pe = x.ae = x.ac = ABSENT;   /* stopped after the clock check */
            x.reason = why;
        }
        env_open(&e, 0);
        load_policy(e.st, pol, strlen(pol));
        req_from_scenario(&q, "affirming");
        q.r.policy_id = t[i].policy;
        q.r.nonce_issued_at = (uint64_t)(q.r.now - t[i].age);
        r = appraise_ok(&e, &q, what);
        dump_reasons(r);
        check_result(r, &x, what);
        /* consumed by the caller, so kept for the restart reload either way */
        cr_assert_eq(vfy_store_recent_nonces(e.st, 0, &got, &n), VFY_OK);
        cr_expect_eq(n, 1, "%s: %zu nonces recorded", what, n);
        vfy_free(got);
        vfy_result_free(&r);
        req_free(&q);
        env_close(&e);
    }
}

/*
 * An issue time ahead of the appraisal's clock would make the nonce look
 * younger than it is: up to VFY_NONCE_FUTURE_SKEW_S (a fast replica, the
 * next-second stamp) it passes, beyond it the nonce is refused.
 */
Test(appraise, nonce_issued_in_the_future_96)
{
    for (int ahead = VFY_NONCE_FUTURE_SKEW_S; ahead <= VFY_NONCE_FUTURE_SKEW_S + 60; ahead += 60) {
        env e;
        req q;
        vfy_result *r;
        char what[48];
        const expect ok = {VFY_EAR_AFFIRMING, 2, 2, 2, 2, NULL};
        const expect refused = {VFY_EAR_CONTRAINDICATED, 96, ABSENT, ABSENT, ABSENT,
                                "nonce rejected: nonce issued in the future (clocks apart?)"};

        snprintf(what, sizeof(what), "issued %d s ahead", ahead);
        env_open(&e, 0);
        req_from_scenario(&q, "affirming");
        q.r.nonce_issued_at = (uint64_t)q.r.now + (uint64_t)ahead;
        r = appraise_ok(&e, &q, what);
        check_result(r, ahead > VFY_NONCE_FUTURE_SKEW_S ? &refused : &ok, what);
        vfy_result_free(&r);
        req_free(&q);
        env_close(&e);
    }
}

/* A request whose caller never checked the nonce fails closed, zeroed or not. */
Test(appraise, nonce_not_checked_96)
{
    env e;
    req q;
    vfy_result *r;
    const expect x = {VFY_EAR_CONTRAINDICATED, 96, ABSENT, ABSENT, ABSENT,
                      "nonce rejected: nonce not checked by the caller"};

    env_open(&e, 0);
    req_from_scenario(&q, "affirming");
    q.r.nonce_issued_at = 0; /* nonce_status is VFY_OK, as in a zeroed request */
    r = appraise_ok(&e, &q, "unchecked nonce");
    check_result(r, &x, "unchecked nonce");
    vfy_result_free(&r);
    req_free(&q);
    env_close(&e);
}

/* ---- platform ------------------------------------------------------------------ */

Test(appraise, pcr_not_in_reference_set_33)
{
    env e;
    req q;
    vfy_result *r;
    const expect x = {VFY_EAR_WARNING, 2, 33, 2, 2, "PCR 3 value"};

    env_open(&e, PROV_PCR3_WRONG);
    req_from_scenario(&q, "affirming");
    r = appraise_ok(&e, &q, "PCR 3 not in set");
    check_result(r, &x, "PCR 3 not in set");
    cr_expect(strstr(vfy_result_reason(r, 0), REFSET) != NULL, "%s", vfy_result_reason(r, 0));
    vfy_result_free(&r);
    req_free(&q);
    env_close(&e);
}

Test(appraise, pcr_revoked_96)
{
    env e;
    req q;
    vfy_result *r;
    vfy_pcr_values pv;
    buf y = read_fx("pcrread.yaml");
    const expect x = {VFY_EAR_CONTRAINDICATED, 2, 96, 2, 2, "PCR 5 value"};

    cr_assert_eq(vfy_store_pcrread_parse(&pv, (const char *)y.p, y.len, NULL, NULL), VFY_OK);
    env_open(&e, 0);
    cr_assert_eq(vfy_store_pcr_revoke(e.st, REFSET, VFY_HASH_SHA256, 5, pv.banks[0].values[5],
                                      32, NULL), VFY_OK);
    req_from_scenario(&q, "affirming");
    r = appraise_ok(&e, &q, "PCR 5 revoked");
    check_result(r, &x, "PCR 5 revoked");
    vfy_result_free(&r);
    req_free(&q);
    buf_free(&y);
    env_close(&e);
}

Test(appraise, pcr_required_but_not_quoted_99)
{
    static const char pol[] =
        "{\"id\":\"pcr8\",\"version\":1,\"platform\":{\"bank\":\"sha256\",\"pcrs\":[0,1,2,3,4,5,6,7,8]}}";
    env e;
    req q;
    vfy_result *r;
    const expect x = {VFY_EAR_CONTRAINDICATED, 2, 99, 2, 2, "PCR 8"};

    env_open(&e, 0);
    load_policy(e.st, pol, strlen(pol));
    req_from_scenario(&q, "affirming");
    q.r.policy_id = "pcr8";
    r = appraise_ok(&e, &q, "PCR 8 not quoted");
    check_result(r, &x, "PCR 8 not quoted");
    vfy_result_free(&r);
    req_free(&q);
    env_close(&e);
}

/* ---- errors (no result) ---------------------------------------------------------- */

Test(appraise, unknown_policy_in_request)
{
    env e;
    req q;

    env_open(&e, 0);
    req_from_scenario(&q, "affirming");
    q.r.policy_id = "no-such-policy";
    appraise_err(&e, &q.r, VFY_E_APPRAISE_POLICY, "unknown policy");
    req_free(&q);
    env_close(&e);
}

/* With no policy stored, "default" is the built-in whether a request names
 * it or not (results say "default@1" either way; a request naming it was
 * refused as unknown, after its nonce was spent); any other name is not. */
Test(appraise, default_named_or_not_is_the_builtin_when_not_stored)
{
    char dir[] = "/tmp/vfy_builtin.XXXXXX", db[64];
    vfy_appraiser_config cfg = {0};
    const vfy_policy *p = NULL, *q = NULL;
    vfy_appraiser *ap = NULL;
    vfy_store *st = NULL;

    cr_assert_not_null(mkdtemp(dir));
    snprintf(db, sizeof(db), "%s/ref.db", dir);
    cr_assert_eq(vfy_store_open(&st, db, VFY_STORE_CREATE | VFY_STORE_MIGRATE), VFY_OK);
    cr_assert_eq(vfy_appraiser_new(&ap, st, &cfg), VFY_OK);
    cr_assert_eq(vfy_appraiser_policy(ap, NULL, NULL, &p), VFY_OK);
    cr_assert_str_eq(vfy_policy_id(p), "default");
    cr_assert_eq(vfy_appraiser_policy(ap, "default", NULL, &q), VFY_OK, "named");
    cr_assert_eq(q, p, "the same built-in policy");
    cr_assert_eq(vfy_appraiser_policy(ap, "strict", NULL, &q), VFY_E_APPRAISE_POLICY);
    vfy_appraiser_free(&ap);
    vfy_store_close(&st);
    unlink(db);
    rmdir(dir);
}

/* A configured default policy that is not stored fails the appraisal: only
 * "default" falls back to the built-in (a typo of "strict" must not run the
 * laxer built-in policy). */
Test(appraise, missing_configured_default_policy_is_an_error)
{
    vfy_appraiser_config cfg = {0};
    env e;
    req q;

    env_open(&e, 0);
    vfy_appraiser_free(&e.ap);
    cfg.default_policy = "strcit";
    cfg.record_results = 1;
    cr_assert_eq(vfy_appraiser_new(&e.ap, e.st, &cfg), VFY_OK);
    req_from_scenario(&q, "affirming");
    appraise_err(&e, &q.r, VFY_E_APPRAISE_POLICY, "default policy strcit not stored");
    req_free(&q);
    env_close(&e);
}

/* The five record contents of fixture evidence (copies, owned by @pt->own). */
typedef struct parts {
    vfy_cmw_parts p;
    uint8_t *own[VFY_CMW_RECORDS];
} parts;

static void parts_from(parts *pt, const req *q)
{
    vfy_cmw *c = NULL;

    memset(pt, 0, sizeof(*pt));
    cr_assert_eq(vfy_cmw_parse(&c, q->fmt, q->ev.p, q->ev.len, NULL, 0), VFY_OK);
    for (int i = 0; i < VFY_CMW_RECORDS; i++) {
        size_t len = 0;
        const uint8_t *d = vfy_cmw_get(c, (vfy_cmw_record)i, &len);

        pt->own[i] = malloc(len + 1);
        cr_assert_not_null(pt->own[i]);
        memcpy(pt->own[i], d, len);
        pt->p.data[i] = pt->own[i];
        pt->p.len[i] = len;
    }
    vfy_cmw_free(&c);
}

static void parts_set(parts *pt, vfy_cmw_record rec, uint8_t *data, size_t len)
{
    free(pt->own[rec]);
    pt->own[rec] = data;
    pt->p.data[rec] = data;
    pt->p.len[rec] = len;
}

static void parts_free(parts *pt)
{
    for (int i = 0; i < VFY_CMW_RECORDS; i++)
        free(pt->own[i]);
    memset(pt, 0, sizeof(*pt));
}

/* A JSON CMW collection written out by hand, for inputs vfy_cmw_encode refuses. */
static uint8_t *cmw_json_by_hand(const vfy_cmw_parts *p, size_t *out_len)
{
    size_t cap = 256, len;
    char *s;

    for (int i = 0; i < VFY_CMW_RECORDS; i++)
        cap += VFY_B64URL_LEN(p->len[i]) + 128;
    s = malloc(cap);
    cr_assert_not_null(s);
    len = (size_t)snprintf(s, cap, "{\"__cmwc_t\":\"%s\"", VFY_CMW_TAG);
    for (int i = 0; i < VFY_CMW_RECORDS; i++) {
        len += (size_t)snprintf(s + len, cap - len, ",\"%s\":[\"%s\",\"",
                                vfy_cmw_label((vfy_cmw_record)i),
                                vfy_cmw_media_type((vfy_cmw_record)i));
        cr_assert_eq(vfy_b64url_encode(s + len, cap - len, p->data[i], p->len[i]), VFY_OK);
        len += strlen(s + len);
        len += (size_t)snprintf(s + len, cap - len, "\"]");
    }
    len += (size_t)snprintf(s + len, cap - len, "}");
    cr_assert_lt(len, cap);
    *out_len = len;
    return (uint8_t *)s;
}

/* Appraise @pt encoded in @fmt (vfy_cmw_encode) and expect @want. */
static void expect_parts_err(env *e, const req *base, const parts *pt, vfy_cmw_format fmt,
                             vfy_rc want, const char *what)
{
    uint8_t *ev = NULL;
    size_t len = 0;
    vfy_appraisal_request r = base->r;
    vfy_rc rc = vfy_cmw_encode(fmt, &pt->p, &ev, &len);

    cr_assert_eq(rc, VFY_OK, "%s: encode %s", what, vfy_rc_name(rc));
    r.evidence = ev;
    r.evidence_len = len;
    r.format = fmt;
    appraise_err(e, &r, want, what);
    vfy_free(ev);
}

/* Appraise @pt (encoded as JSON) and expect a result (the limit itself is fine). */
static void expect_parts_result(env *e, const req *base, const parts *pt, const char *what)
{
    uint8_t *ev = NULL;
    size_t len = 0;
    vfy_appraisal_request r = base->r;
    vfy_result *res = NULL;
    char detail[256] = "";
    vfy_rc rc;

    cr_assert_eq(vfy_cmw_encode(VFY_CMW_JSON, &pt->p, &ev, &len), VFY_OK, "%s", what);
    r.evidence = ev;
    r.evidence_len = len;
    r.format = VFY_CMW_JSON;
    rc = vfy_appraise(e->ap, &r, &res, detail, sizeof(detail));
    cr_expect_eq(rc, VFY_OK, "%s: %s (%s)", what, vfy_rc_name(rc), detail);
    cr_expect_not_null(res, "%s", what);
    vfy_result_free(&res);
    vfy_free(ev);
}

static char *alloc_str(size_t cap)
{
    char *s = malloc(cap);

    cr_assert_not_null(s);
    return s;
}

/* A manifest with @nmodels models whose names are @namelen bytes; the caller frees. */
static uint8_t *big_manifest(size_t nmodels, size_t namelen, size_t *len)
{
    size_t cap = 256 + nmodels * (namelen + 120), n;
    char *s = alloc_str(cap);

    n = (size_t)snprintf(s, cap, "{\"agent_id\":\"a\",\"manifest_version\":1,\"models\":[");
    for (size_t i = 0; i < nmodels; i++) {
        n += (size_t)snprintf(s + n, cap - n, "%s{\"name\":\"", i ? "," : "");
        for (size_t k = 0; k < namelen; k++)
            s[n++] = (char)('a' + (i + k) % 26);
        n += (size_t)snprintf(s + n, cap - n, "\",\"digest\":\"sha256:%064zx\"}", i);
    }
    n += (size_t)snprintf(s + n, cap - n,
                          "],\"tools\":[],\"policies\":[],\"context\":{\"digest\":\"sha256:%064x\"}}",
                          0);
    cr_assert_lt(n, cap);
    *len = n;
    return (uint8_t *)s;
}

/* An agent log of @n entries. */
static uint8_t *big_log(size_t n, size_t *len)
{
    size_t cap = 16 + n * 90, k = 0;
    char *s = alloc_str(cap);

    s[k++] = '[';
    for (size_t i = 0; i < n; i++)
        k += (size_t)snprintf(s + k, cap - k, "%s{\"digest\":\"sha256:%064zx\"}", i ? "," : "",
                              i + 1);
    s[k++] = ']';
    cr_assert_lt(k, cap);
    *len = k;
    return (uint8_t *)s;
}

static uint8_t *nested(const char *open, const char *close, size_t depth, const char *inner,
                       size_t *len)
{
    size_t cap = depth * (strlen(open) + strlen(close)) + strlen(inner) + 1, n = 0;
    char *s = alloc_str(cap);

    for (size_t i = 0; i < depth; i++)
        n += (size_t)snprintf(s + n, cap - n, "%s", open);
    n += (size_t)snprintf(s + n, cap - n, "%s", inner);
    for (size_t i = 0; i < depth; i++)
        n += (size_t)snprintf(s + n, cap - n, "%s", close);
    *len = n;
    return (uint8_t *)s;
}

Test(appraise, limits_exceeded_exact_errors)
{
    env e;
    req q;
    parts pt;
    uint8_t *d, *ev;
    size_t len, evlen;
    vfy_appraisal_request r;

    env_open(&e, 0);
    req_from_scenario(&q, "affirming");

    /* evidence over 1 MiB: valid JSON evidence followed by whitespace */
    evlen = VFY_CMW_MAX + 1;
    ev = malloc(evlen);
    cr_assert_not_null(ev);
    memset(ev, ' ', evlen);
    memcpy(ev, q.ev.p, q.ev.len);
    r = q.r;
    r.evidence = ev;
    r.evidence_len = evlen;
    appraise_err(&e, &r, VFY_E_CMW_TOO_LARGE, "evidence 1 MiB + 1");
    r.evidence_len = VFY_CMW_MAX;  /* at the limit: a verdict, not an error */
    {
        vfy_result *res = NULL;

        cr_expect_eq(vfy_appraise(e.ap, &r, &res, NULL, 0), VFY_OK, "evidence of exactly 1 MiB");
        check_result(res, &AFFIRMING, "evidence of exactly 1 MiB");
        vfy_result_free(&res);
    }
    free(ev);

    /* collection nesting over 16 (JSON): an extra member nested 17 deep */
    {
        size_t nl;
        uint8_t *nest = nested("[", "]", 17, "", &nl);
        char *s = alloc_str(q.ev.len + nl + 16);

        /* q.ev is "{...}": insert ,"x":<nest> before the final brace */
        cr_assert_eq(q.ev.p[q.ev.len - 1], '}');
        memcpy(s, q.ev.p, q.ev.len - 1);
        evlen = q.ev.len - 1;
        memcpy(s + evlen, ",\"x\":", 5);
        evlen += 5;
        memcpy(s + evlen, nest, nl);
        evlen += nl;
        s[evlen++] = '}';
        r = q.r;
        r.evidence = (uint8_t *)s;
        r.evidence_len = evlen;
        appraise_err(&e, &r, VFY_E_CMW_NESTING, "collection nested 18 deep");
        free(nest);
        free(s);
    }

    parts_from(&pt, &q);
    /* manifest nesting over 16 */
    d = nested("{\"a\":", "}", 17, "1", &len);
    parts_set(&pt, VFY_CMW_AGENT_MANIFEST, d, len);
    expect_parts_err(&e, &q, &pt, VFY_CMW_JSON, VFY_E_MANIFEST_NESTING, "manifest nested 17 deep");
    expect_parts_err(&e, &q, &pt, VFY_CMW_CBOR, VFY_E_MANIFEST_NESTING, "manifest nested 17 deep (CBOR)");
    parts_free(&pt);

    parts_from(&pt, &q);
    /* agent log nesting over 16 */
    d = nested("[", "]", 17, "", &len);
    parts_set(&pt, VFY_CMW_AGENT_LOG, d, len);
    expect_parts_err(&e, &q, &pt, VFY_CMW_JSON, VFY_E_LOG_NESTING, "log nested 17 deep");
    parts_free(&pt);

    /* manifest over 64 KiB: vfy_cmw_encode refuses to build it, so by hand */
    parts_from(&pt, &q);
    d = big_manifest(40, 1700, &len);
    cr_assert_gt(len, 64 * 1024);
    parts_set(&pt, VFY_CMW_AGENT_MANIFEST, d, len);
    cr_expect_eq(vfy_cmw_encode(VFY_CMW_JSON, &pt.p, &ev, &evlen), VFY_E_MANIFEST_TOO_LARGE);
    ev = cmw_json_by_hand(&pt.p, &evlen);
    r = q.r;
    r.evidence = ev;
    r.evidence_len = evlen;
    appraise_err(&e, &r, VFY_E_MANIFEST_TOO_LARGE, "manifest over 64 KiB");
    free(ev);
    parts_free(&pt);

    /* more than 256 list entries; exactly 256 is fine */
    parts_from(&pt, &q);
    d = big_manifest(257, 8, &len);
    parts_set(&pt, VFY_CMW_AGENT_MANIFEST, d, len);
    expect_parts_err(&e, &q, &pt, VFY_CMW_JSON, VFY_E_MANIFEST_TOO_MANY, "257 models");
    expect_parts_err(&e, &q, &pt, VFY_CMW_CBOR, VFY_E_MANIFEST_TOO_MANY, "257 models (CBOR)");
    d = big_manifest(256, 8, &len);
    parts_set(&pt, VFY_CMW_AGENT_MANIFEST, d, len);
    expect_parts_result(&e, &q, &pt, "256 models");
    parts_free(&pt);

    /* a name over 128 bytes; exactly 128 is fine */
    parts_from(&pt, &q);
    d = big_manifest(1, 129, &len);
    parts_set(&pt, VFY_CMW_AGENT_MANIFEST, d, len);
    expect_parts_err(&e, &q, &pt, VFY_CMW_JSON, VFY_E_MANIFEST_NAME, "name of 129 bytes");
    d = big_manifest(1, 128, &len);
    parts_set(&pt, VFY_CMW_AGENT_MANIFEST, d, len);
    expect_parts_result(&e, &q, &pt, "name of 128 bytes");
    parts_free(&pt);

    /* an agent log over 4096 entries; exactly 4096 is fine */
    parts_from(&pt, &q);
    d = big_log(4097, &len);
    parts_set(&pt, VFY_CMW_AGENT_LOG, d, len);
    expect_parts_err(&e, &q, &pt, VFY_CMW_JSON, VFY_E_LOG_TOO_MANY, "4097 log entries");
    expect_parts_err(&e, &q, &pt, VFY_CMW_CBOR, VFY_E_LOG_TOO_MANY, "4097 log entries (CBOR)");
    d = big_log(4096, &len);
    parts_set(&pt, VFY_CMW_AGENT_LOG, d, len);
    expect_parts_result(&e, &q, &pt, "4096 log entries");
    parts_free(&pt);

    req_free(&q);
    env_close(&e);
}

/* ---- state ----------------------------------------------------------------------- */

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)be16(p) << 16 | be16(p + 2); }
static uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }

/* TPMS_ATTEST clockInfo, read with plain byte offsets (not via libverify). */
static vfy_clock_info attest_clock(const req *q)
{
    parts pt;
    const uint8_t *a;
    size_t off;
    vfy_clock_info ci;

    parts_from(&pt, q);
    a = pt.p.data[VFY_CMW_TPM_ATTEST];
    cr_assert_gt(pt.p.len[VFY_CMW_TPM_ATTEST], 64);
    cr_assert_eq(be32(a), 0xff544347u);
    off = 6;
    off += 2 + be16(a + off);  /* qualifiedSigner */
    off += 2 + be16(a + off);  /* extraData */
    ci.clock = be64(a + off);
    ci.reset_count = be32(a + off + 8);
    ci.restart_count = be32(a + off + 12);
    ci.safe = a[off + 16];
    parts_free(&pt);
    return ci;
}

static void load_step(req *q, const char *scen, size_t i)
{
    step *steps = NULL;
    size_t n = read_steps(scen, &steps);

    cr_assert_lt(i, n);
    cr_assert_str_eq(steps[i].policy, "-");
    req_from_step(q, &steps[i]);
    free(steps);
}

Test(appraise, state_updated_by_affirming_not_by_rejected)
{
    env e;
    req a, b, bad;
    parts pt;
    vfy_result *r;
    vfy_clock_info ci, qa = {0}, qb = {0};
    vfy_store_log_entry *le = NULL;
    uint32_t epoch = 0;
    size_t n = 0;
    buf m1 = read_fx("manifests/m1.json"), m2 = read_fx("manifests/m2.json");
    uint8_t d1[32], d2[32];
    int known = -1;
    const expect xbad = {VFY_EAR_CONTRAINDICATED, 96, ABSENT, ABSENT, ABSENT, "signature"};

    sha256_of(m1.p, m1.len, d1);
    sha256_of(m2.p, m2.len, d2);
    env_open(&e, 0);
    load_step(&a, "extend", 0);  /* log m1 */
    load_step(&b, "extend", 1);  /* log m1,m2, quoted later */
    qa = attest_clock(&a);
    qb = attest_clock(&b);
    cr_assert_gt(qb.clock, qa.clock);
    cr_assert_eq(qa.safe, 1);

    cr_expect_eq(vfy_store_clock_get(e.st, ATTESTER, &ci), VFY_E_NOT_FOUND);
    r = appraise_ok(&e, &a, "m1");
    check_result(r, &AFFIRMING, "m1");
    vfy_result_free(&r);
    cr_assert_eq(vfy_store_clock_get(e.st, ATTESTER, &ci), VFY_OK);
    cr_expect_eq(ci.clock, qa.clock);
    cr_expect_eq(ci.reset_count, qa.reset_count);
    cr_expect_eq(ci.restart_count, qa.restart_count);
    cr_assert_eq(vfy_store_agent_log_get(e.st, ATTESTER, &epoch, &le, &n), VFY_OK);
    cr_expect_eq(epoch, qa.reset_count);
    cr_assert_eq(n, 1);
    cr_expect_arr_eq(le[0].digest, d1, 32);
    cr_expect_eq(le[0].first_clock, qa.clock);
    vfy_free(le);
    le = NULL;
    cr_assert_eq(vfy_store_manifest_known(e.st, ATTESTER, d1, &known), VFY_OK);
    cr_expect_eq(known, 1);

    /* The later evidence with its signature broken: no state moves. */
    parts_from(&pt, &b);
    cr_assert_gt(pt.p.len[VFY_CMW_TPM_SIGNATURE], 10);
    pt.own[VFY_CMW_TPM_SIGNATURE][8] ^= 0x01;  /* inside ECDSA r */
    memset(&bad, 0, sizeof(bad));
    bad = b;
    bad.ev.p = NULL;
    cr_assert_eq(vfy_cmw_encode(VFY_CMW_JSON, &pt.p, &bad.ev.p, &bad.ev.len), VFY_OK);
    bad.r.evidence = bad.ev.p;
    bad.r.evidence_len = bad.ev.len;
    bad.r.format = VFY_CMW_JSON;
    r = appraise_ok(&e, &bad, "broken signature");
    check_result(r, &xbad, "broken signature");
    vfy_result_free(&r);
    vfy_free(bad.ev.p);
    parts_free(&pt);
    cr_assert_eq(vfy_store_clock_get(e.st, ATTESTER, &ci), VFY_OK);
    cr_expect_eq(ci.clock, qa.clock, "a rejected quote moved the clock state");
    cr_assert_eq(vfy_store_agent_log_get(e.st, ATTESTER, &epoch, &le, &n), VFY_OK);
    cr_expect_eq(n, 1, "a rejected quote moved the agent-log state");
    vfy_free(le);
    le = NULL;
    cr_assert_eq(vfy_store_manifest_known(e.st, ATTESTER, d2, &known), VFY_OK);
    cr_expect_eq(known, 0);

    /* The genuine later evidence extends both. */
    r = appraise_ok(&e, &b, "m1,m2");
    check_result(r, &AFFIRMING, "m1,m2");
    vfy_result_free(&r);
    cr_assert_eq(vfy_store_clock_get(e.st, ATTESTER, &ci), VFY_OK);
    cr_expect_eq(ci.clock, qb.clock);
    cr_assert_eq(vfy_store_agent_log_get(e.st, ATTESTER, &epoch, &le, &n), VFY_OK);
    cr_assert_eq(n, 2);
    cr_expect_arr_eq(le[0].digest, d1, 32);
    cr_expect_eq(le[0].first_clock, qa.clock);
    cr_expect_arr_eq(le[1].digest, d2, 32);
    cr_expect_eq(le[1].first_clock, qb.clock);
    vfy_free(le);
    cr_assert_eq(vfy_store_manifest_known(e.st, ATTESTER, d2, &known), VFY_OK);
    cr_expect_eq(known, 1);

    req_free(&a);
    req_free(&b);
    buf_free(&m1);
    buf_free(&m2);
    env_close(&e);
}

/* ---- results, revocation, TTL, EAR -------------------------------------------- */

Test(appraise, results_recorded_and_revoked_by_component_revoke)
{
    env e;
    req q;
    vfy_result *r, *r2;
    vfy_store_result sr;
    vfy_store_revocation *rev = NULL;
    size_t n = 0, ncomp = 0, nres = 0;
    uint64_t cursor = 0;
    char id[VFY_RESULT_ID_LEN + 1], id2[VFY_RESULT_ID_LEN + 1];
    int64_t now = (int64_t)time(NULL);

    env_open(&e, 0);
    req_from_scenario(&q, "affirming");
    q.r.now = now;
    q.r.nonce_issued_at = (uint64_t)q.r.now; /* issued just now */
    r = appraise_ok(&e, &q, "affirming");
    check_result(r, &AFFIRMING, "affirming");
    snprintf(id, sizeof(id), "%s", vfy_result_id(r));
    cr_assert_eq(vfy_store_result_get(e.st, id, &sr), VFY_OK);
    cr_expect_str_eq(sr.attester, ATTESTER);
    cr_expect_str_eq(sr.status, "affirming");
    cr_expect_eq(sr.iat, now);
    cr_expect_eq(sr.exp, now + 300);
    cr_expect_eq(sr.revoked, 0);
    vfy_result_free(&r);

    /* a second, independent result; revoking a tool it did not rely on
     * leaves it alone (calendar.read is in m2 only) */
    r2 = appraise_ok(&e, &q, "affirming again");
    snprintf(id2, sizeof(id2), "%s", vfy_result_id(r2));
    vfy_result_free(&r2);
    cr_assert_eq(vfy_store_component_revoke(e.st, VFY_COMPONENT_TOOL, "calendar.read", NULL,
                                            &ncomp, &nres), VFY_OK);
    cr_expect_eq(ncomp, 1);
    cr_expect_eq(nres, 0);
    cr_assert_eq(vfy_store_result_get(e.st, id, &sr), VFY_OK);
    cr_expect_eq(sr.revoked, 0);

    /* revoking the model both results relied on revokes both */
    cr_assert_eq(vfy_store_component_revoke(e.st, VFY_COMPONENT_MODEL, "llama-3.1-8b-instruct",
                                            NULL, &ncomp, &nres), VFY_OK);
    cr_expect_eq(ncomp, 1);
    cr_expect_eq(nres, 2);
    cr_assert_eq(vfy_store_result_get(e.st, id, &sr), VFY_OK);
    cr_expect_eq(sr.revoked, 1);
    cr_expect_neq(sr.reason[0], 0);
    cr_assert_eq(vfy_store_revocations(e.st, 0, 100, &rev, &n, &cursor), VFY_OK);
    cr_assert_eq(n, 2);
    {
        int seen1 = 0, seen2 = 0;

        for (size_t i = 0; i < n; i++) {
            seen1 |= strcmp(rev[i].result_id, id) == 0;
            seen2 |= strcmp(rev[i].result_id, id2) == 0;
        }
        cr_expect(seen1 && seen2, "revocation feed lacks a result");
    }
    cr_expect_eq(cursor, rev[n - 1].cursor);
    vfy_free(rev);

    /* and a new appraisal of the same evidence now finds the model revoked */
    r = appraise_ok(&e, &q, "after revocation");
    {
        const expect x = {VFY_EAR_CONTRAINDICATED, 2, 2, 96, 2, "llama-3.1-8b-instruct"};

        check_result(r, &x, "after revocation");
    }
    vfy_result_free(&r);
    req_free(&q);
    env_close(&e);
}

Test(appraise, results_revoked_by_pcr_revoke)
{
    env e;
    req q;
    vfy_result *r;
    vfy_store_result sr;
    vfy_pcr_values pv;
    buf y = read_fx("pcrread.yaml");
    size_t nres = 0;

    cr_assert_eq(vfy_store_pcrread_parse(&pv, (const char *)y.p, y.len, NULL, NULL), VFY_OK);
    env_open(&e, 0);
    req_from_scenario(&q, "affirming");
    r = appraise_ok(&e, &q, "affirming");
    cr_assert_eq(vfy_store_pcr_revoke(e.st, REFSET, VFY_HASH_SHA256, 0, pv.banks[0].values[0],
                                      32, &nres), VFY_OK);
    cr_expect_eq(nres, 1);
    cr_assert_eq(vfy_store_result_get(e.st, vfy_result_id(r), &sr), VFY_OK);
    cr_expect_eq(sr.revoked, 1);
    vfy_result_free(&r);
    req_free(&q);
    buf_free(&y);
    env_close(&e);
}

Test(appraise, ttl_is_min_of_policy_and_request)
{
    static const struct {
        const char *policy;   /* NULL: the default */
        uint32_t max_ttl;
        int64_t want;
    } t[] = {
        {NULL, 0, 300},   {NULL, 100, 100}, {NULL, 300, 300}, {NULL, 301, 300},
        {NULL, 86400, 300}, {NULL, 1, 1},   {"strict", 0, 60}, {"strict", 59, 59},
        {"strict", 61, 60}, {"hist-current", 0, 120}, {"hist-current", 500, 120},
    };
    env e;
    req q;

    env_open(&e, 0);
    req_from_scenario(&q, "affirming");
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        vfy_result *r;

        q.r.policy_id = t[i].policy;
        q.r.max_ttl_s = t[i].max_ttl;
        q.r.now = 1765000000 + (int64_t)i;
        q.r.nonce_issued_at = (uint64_t)q.r.now; /* issued just now */
        r = appraise_ok(&e, &q, "ttl");
        cr_expect_eq(vfy_result_iat(r), 1765000000 + (int64_t)i);
        cr_expect_eq(vfy_result_exp(r) - vfy_result_iat(r), t[i].want,
                     "policy %s max_ttl %u: exp - iat = %lld, expected %lld",
                     t[i].policy ? t[i].policy : "default", t[i].max_ttl,
                     (long long)(vfy_result_exp(r) - vfy_result_iat(r)), (long long)t[i].want);
        vfy_result_free(&r);
    }
    req_free(&q);
    env_close(&e);
}

/* b64url(SHA-256(cb)) computed with OpenSSL's base64, independently. */
static void cb_claim(const uint8_t cb[32], char out[44])
{
    uint8_t h[32];
    unsigned char b64[64];
    int n;

    sha256_of(cb, 32, h);
    n = EVP_EncodeBlock(b64, h, 32);
    cr_assert_eq(n, 44);
    for (int i = 0; i < 43; i++)
        out[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : (char)b64[i];
    out[43] = 0;
}

Test(appraise, ear_verifies_and_carries_nonce_cb_manifest)
{
    static const char *const which[] = {"affirming", "unapproved-model"};

    for (size_t w = 0; w < 2; w++) {
        env e;
        req q;
        vfy_result *r;
        vfy_signing_key *key = NULL;
        vfy_jwks *set = NULL;
        vfy_ear *ear = NULL;
        char *jws = NULL, *jwks = NULL, want_cb[44];
        const uint8_t *nonce = NULL;
        size_t nonce_len = 0;
        uint8_t md[32], got[32], other_cb[32];
        int64_t version = -1, now = (int64_t)time(NULL);
        vfy_trust_vector tv;
        vfy_rc rc;

        env_open(&e, 0);
        req_from_scenario(&q, which[w]);
        q.r.now = now;
        q.r.nonce_issued_at = (uint64_t)q.r.now; /* issued just now */
        r = appraise_ok(&e, &q, which[w]);
        cr_assert_eq(vfy_signing_key_generate(&key), VFY_OK);
        cr_assert_eq(vfy_result_sign(r, key, &jws), VFY_OK);
        cr_assert_eq(vfy_jwks_new(&set), VFY_OK);
        cr_assert_eq(vfy_jwks_add(set, key), VFY_OK);
        cr_assert_eq(vfy_jwks_to_json(set, &jwks), VFY_OK);

        rc = vfy_ear_verify_jwks_json(&ear, jws, strlen(jws), jwks, strlen(jwks), q.nonce, 32,
                                      q.cb, now);
        cr_assert_eq(rc, VFY_OK, "%s: vfy_ear_verify %s", which[w], vfy_rc_name(rc));
        cr_expect_eq(vfy_ear_get_status(ear), vfy_result_status(r));
        cr_expect_str_eq(vfy_ear_get_jti(ear), vfy_result_id(r));
        cr_expect_str_eq(vfy_ear_get_attester(ear), ATTESTER);
        cr_expect_eq(vfy_ear_get_iat(ear), now);
        cr_expect_eq(vfy_ear_get_exp(ear), now + 300);
        cr_expect_str_eq(vfy_ear_get_kid(ear), vfy_signing_key_kid(key));
        cr_assert_eq(vfy_ear_get_nonce(ear, &nonce, &nonce_len), VFY_OK);
        cr_assert_eq(nonce_len, 32);
        cr_expect_arr_eq(nonce, q.nonce, 32);
        cb_claim(q.cb, want_cb);
        cr_expect_str_eq(vfy_ear_get_channel_binding(ear), want_cb);
        cr_assert_eq(vfy_result_manifest(r, md, NULL), 1);
        cr_assert_eq(vfy_ear_get_manifest_digest(ear, got), VFY_OK);
        cr_expect_arr_eq(got, md, 32);
        cr_assert_eq(vfy_ear_get_manifest_version(ear, &version), VFY_OK);
        cr_expect_eq(version, w == 0 ? 1 : 4);
        for (int s = 0; s < VFY_EAR_SUBMOD_COUNT; s++) {
            vfy_trust_vector rv = vfy_result_vector(r, (vfy_ear_submod_id)s);

            cr_assert_eq(vfy_ear_get_vector(ear, (vfy_ear_submod_id)s, &tv), VFY_OK);
            cr_expect_eq(tv.set, rv.set);
            for (int c = 0; c < VFY_TV_COUNT; c++)
                if (rv.set & (1u << c))
                    cr_expect_eq(tv.value[c], rv.value[c]);
            cr_expect_str_eq(vfy_ear_get_policy_id(ear, (vfy_ear_submod_id)s, 0), "default@1");
        }
        cr_expect_eq(vfy_ear_get_reason_count(ear), vfy_result_reason_count(r));
        if (w == 1)
            cr_expect(strstr(vfy_ear_get_reason(ear, 0), "rogue-model") != NULL);
        vfy_ear_free(&ear);

        /* another connection's binding, another nonce, a later time: refused */
        memcpy(other_cb, q.cb, 32);
        other_cb[5] ^= 1;
        cr_expect_eq(vfy_ear_verify_jwks_json(&ear, jws, strlen(jws), jwks, strlen(jwks), q.nonce,
                                              32, other_cb, now),
                     VFY_E_EAR_CHANNEL_BINDING);
        cr_expect_null(ear);
        other_cb[5] ^= 1;
        other_cb[0] = q.nonce[0] ^ 1;
        memcpy(other_cb + 1, q.nonce + 1, 31);
        cr_expect_eq(vfy_ear_verify_jwks_json(&ear, jws, strlen(jws), jwks, strlen(jwks),
                                              other_cb, 32, q.cb, now),
                     VFY_E_EAR_NONCE);
        cr_expect_eq(vfy_ear_verify_jwks_json(&ear, jws, strlen(jws), jwks, strlen(jwks), q.nonce,
                                              32, q.cb, now + 300),
                     VFY_E_EAR_EXPIRED);
        cr_expect_null(ear);

        vfy_free(jws);
        vfy_free(jwks);
        vfy_jwks_free(&set);
        vfy_signing_key_free(&key);
        vfy_result_free(&r);
        req_free(&q);
        env_close(&e);
    }
}

/* Every well-formed request gets a signed EAR, also when no agent verdict
 * was reached (DESIGN §8): unknown attester, bad signature. The EAR must
 * verify and say contraindicated with the result's reasons. */
Test(appraise, ear_for_results_without_agent_verdict)
{
    static const char *const who[] = {"nobody-here", ATTESTER};

    for (size_t w = 0; w < 2; w++) {
        env e;
        req q;
        vfy_result *r;
        vfy_signing_key *key = NULL;
        vfy_jwks *set = NULL;
        vfy_ear *ear = NULL;
        char *jws = NULL;
        int64_t now = (int64_t)time(NULL);
        vfy_rc rc;

        env_open(&e, 0);
        req_from_scenario(&q, "affirming");
        q.r.attester = who[w];
        q.r.now = now;
        q.r.nonce_issued_at = (uint64_t)q.r.now; /* issued just now */
        if (w == 1)
            q.cb[3] ^= 0x10;  /* relayed */
        r = appraise_ok(&e, &q, who[w]);
        cr_assert_eq(vfy_result_status(r), VFY_EAR_CONTRAINDICATED);
        cr_assert_eq(vfy_signing_key_generate(&key), VFY_OK);
        rc = vfy_result_sign(r, key, &jws);
        cr_assert_eq(rc, VFY_OK, "%s: vfy_result_sign %s", who[w], vfy_rc_name(rc));
        cr_assert_eq(vfy_jwks_new(&set), VFY_OK);
        cr_assert_eq(vfy_jwks_add(set, key), VFY_OK);
        rc = vfy_ear_verify(&ear, jws, strlen(jws), set, q.nonce, 32, q.cb, now);
        cr_assert_eq(rc, VFY_OK, "%s: vfy_ear_verify %s", who[w], vfy_rc_name(rc));
        cr_expect_eq(vfy_ear_get_status(ear), VFY_EAR_CONTRAINDICATED);
        cr_expect_eq(vfy_ear_get_submod_status(ear, VFY_EAR_PLATFORM), VFY_EAR_CONTRAINDICATED);
        cr_expect_eq(vfy_ear_get_reason_count(ear), vfy_result_reason_count(r));
        cr_expect_gt(vfy_ear_get_reason_count(ear), 0);
        cr_log_info("%s: %s", who[w], vfy_ear_get_claims_json(ear));
        vfy_ear_free(&ear);
        vfy_free(jws);
        vfy_jwks_free(&set);
        vfy_signing_key_free(&key);
        vfy_result_free(&r);
        req_free(&q);
        env_close(&e);
    }
}

/* ---- a software attester: history cases the swtpm fixtures cannot make -----
 *
 * The fixtures' manifests are nested (m1's values are a subset of m2's), so
 * no fixture has a past manifest relying on a value the current one does
 * not. This attester signs real TPMS_ATTEST structures with a software AK
 * registered like any other, over the reference set's platform PCRs and the
 * agent PCR its log replays to.
 */
typedef struct soft {
    EVP_PKEY *key;
    const char *name;
    vfy_pcr_values pv;   /* platform PCRs 0..7 (the reference set) */
    uint64_t clock;
    uint32_t restart;    /* the quotes' restartCount */
    int pcr23_zero;      /* quote PCR 23 as zeros (as right after a TPM Restart) */
} soft;

static void soft_open(soft *s, env *e, const char *name, const char *policy)
{
    BIO *b = BIO_new(BIO_s_mem());
    BUF_MEM *bm;
    buf y;

    memset(s, 0, sizeof(*s));
    s->name = name;
    s->clock = 1000;
    cr_assert_not_null(s->key = EVP_EC_gen("P-256"));
    cr_assert(b != NULL && PEM_write_bio_PUBKEY(b, s->key) == 1);
    BIO_get_mem_ptr(b, &bm);
    cr_assert_eq(vfy_store_attester_add(e->st, name, (const uint8_t *)bm->data, bm->length,
                                        "ecdsa-sha256", REFSET, policy, NULL), VFY_OK, "%s",
                 vfy_store_errmsg(e->st));
    BIO_free(b);
    y = read_fx("pcrread.yaml");
    cr_assert_eq(vfy_store_pcrread_parse(&s->pv, (const char *)y.p, y.len, NULL, NULL), VFY_OK);
    buf_free(&y);
}

static void soft_close(soft *s)
{
    EVP_PKEY_free(s->key);
}

/* Lowercase hex of 32 bytes into @out (65 bytes), through libverify's encoder. */
static void hexs(char *out, const uint8_t *d, size_t n)
{
    cr_assert_eq(vfy_hex_encode(out, 65, d, n), VFY_OK);
}

/* JSON evidence whose agent log is the @n manifests @man (the last is the
 * current one; carried[i]: entry i carries its manifest), for @nonce/@cb. */
static buf soft_evidence(soft *s, const uint8_t nonce[32], const uint8_t cb[32],
                         const char *const *man, const int *carried, size_t n)
{
    static const unsigned sel[] = {0, 1, 2, 3, 4, 5, 6, 7, 23};
    uint8_t (*md)[32], pcr23[32] = {0}, ext[64], binder[32], cat[9 * 32], digest[32];
    uint8_t attest[1024], sigbuf[512], der[128];
    char *logj, pcrj[1024], hx[65];
    size_t lo = 0, po = 0, alen = 0, slen = 0, dlen = sizeof(der), logcap = 16;
    TPMS_ATTEST a;
    TPMT_SIGNATURE sig;
    vfy_cmw_parts cp;
    EVP_PKEY_CTX *ctx;
    buf out = {NULL, 0};

    cr_assert(n >= 1 && n <= 4096);
    for (size_t i = 0; i < n; i++)
        logcap += 96 + (carried[i] ? VFY_B64URL_LEN(strlen(man[i])) + 16 : 0);
    cr_assert_not_null(md = malloc(n * sizeof(*md)));
    cr_assert_not_null(logj = malloc(logcap));
    lo += (size_t)snprintf(logj + lo, logcap - lo, "[");
    for (size_t i = 0; i < n; i++) {
        sha256_of(man[i], strlen(man[i]), md[i]);
        memcpy(ext, pcr23, 32);
        memcpy(ext + 32, md[i], 32);
        sha256_of(ext, 64, pcr23);
        hexs(hx, md[i], 32);
        lo += (size_t)snprintf(logj + lo, logcap - lo, "%s{\"digest\":\"sha256:%s\"",
                               i ? "," : "", hx);
        if (carried[i]) {
            size_t bcap = VFY_B64URL_LEN(strlen(man[i])) + 1;
            char *b64 = malloc(bcap);

            cr_assert_not_null(b64);
            cr_assert_eq(vfy_b64url_encode(b64, bcap, (const uint8_t *)man[i], strlen(man[i])),
                         VFY_OK);
            lo += (size_t)snprintf(logj + lo, logcap - lo, ",\"manifest\":\"%s\"", b64);
            free(b64);
        }
        lo += (size_t)snprintf(logj + lo, logcap - lo, "}");
    }
    lo += (size_t)snprintf(logj + lo, logcap - lo, "]");
    cr_assert_lt(lo, logcap);
    po += (size_t)snprintf(pcrj, sizeof(pcrj), "{\"sha256\":{");
    for (size_t k = 0; k < 9; k++) {
        static const uint8_t zero[32];
        const uint8_t *v = sel[k] == 23 ? (s->pcr23_zero ? zero : pcr23)
                                        : s->pv.banks[0].values[sel[k]];

        hexs(hx, v, 32);
        memcpy(cat + 32 * k, v, 32);
        po += (size_t)snprintf(pcrj + po, sizeof(pcrj) - po, "%s\"%u\":\"%s\"", k ? "," : "",
                               sel[k], hx);
    }
    snprintf(pcrj + po, sizeof(pcrj) - po, "}}");
    cr_assert_eq(vfy_binder(binder, nonce, cb, md[n - 1]), VFY_OK);
    memset(&a, 0, sizeof(a));
    a.magic = TPM2_GENERATED_VALUE;
    a.type = TPM2_ST_ATTEST_QUOTE;
    a.qualifiedSigner.size = 34;
    a.qualifiedSigner.name[1] = 0x0b;
    a.extraData.size = 32;
    memcpy(a.extraData.buffer, binder, 32);
    a.clockInfo.clock = ++s->clock;
    a.clockInfo.resetCount = 1;
    a.clockInfo.restartCount = s->restart;
    a.clockInfo.safe = 1;
    a.attested.quote.pcrSelect.count = 1;
    a.attested.quote.pcrSelect.pcrSelections[0].hash = TPM2_ALG_SHA256;
    a.attested.quote.pcrSelect.pcrSelections[0].sizeofSelect = 3;
    for (size_t k = 0; k < 9; k++)
        a.attested.quote.pcrSelect.pcrSelections[0].pcrSelect[sel[k] / 8] |=
            (uint8_t)(1u << (sel[k] % 8));
    a.attested.quote.pcrDigest.size = 32;
    sha256_of(cat, sizeof(cat), a.attested.quote.pcrDigest.buffer);
    cr_assert_eq(Tss2_MU_TPMS_ATTEST_Marshal(&a, attest, sizeof(attest), &alen), TSS2_RC_SUCCESS);
    sha256_of(attest, alen, digest);
    cr_assert_not_null(ctx = EVP_PKEY_CTX_new_from_pkey(NULL, s->key, NULL));
    cr_assert(EVP_PKEY_sign_init(ctx) == 1 &&
              EVP_PKEY_sign(ctx, der, &dlen, digest, sizeof(digest)) == 1);
    EVP_PKEY_CTX_free(ctx);
    {
        const uint8_t *p = der;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
        const BIGNUM *r, *ss;

        cr_assert_not_null(es);
        ECDSA_SIG_get0(es, &r, &ss);
        memset(&sig, 0, sizeof(sig));
        sig.sigAlg = TPM2_ALG_ECDSA;
        sig.signature.ecdsa.hash = TPM2_ALG_SHA256;
        sig.signature.ecdsa.signatureR.size = 32;
        sig.signature.ecdsa.signatureS.size = 32;
        cr_assert_eq(BN_bn2binpad(r, sig.signature.ecdsa.signatureR.buffer, 32), 32);
        cr_assert_eq(BN_bn2binpad(ss, sig.signature.ecdsa.signatureS.buffer, 32), 32);
        ECDSA_SIG_free(es);
    }
    cr_assert_eq(Tss2_MU_TPMT_SIGNATURE_Marshal(&sig, sigbuf, sizeof(sigbuf), &slen),
                 TSS2_RC_SUCCESS);
    memset(&cp, 0, sizeof(cp));
    cp.data[VFY_CMW_TPM_ATTEST] = attest;
    cp.len[VFY_CMW_TPM_ATTEST] = alen;
    cp.data[VFY_CMW_TPM_SIGNATURE] = sigbuf;
    cp.len[VFY_CMW_TPM_SIGNATURE] = slen;
    cp.data[VFY_CMW_TPM_PCRS] = (const uint8_t *)pcrj;
    cp.len[VFY_CMW_TPM_PCRS] = strlen(pcrj);
    cp.data[VFY_CMW_AGENT_MANIFEST] = (const uint8_t *)man[n - 1];
    cp.len[VFY_CMW_AGENT_MANIFEST] = strlen(man[n - 1]);
    cp.data[VFY_CMW_AGENT_LOG] = (const uint8_t *)logj;
    cp.len[VFY_CMW_AGENT_LOG] = lo;
    {
        uint8_t *o = NULL;
        size_t olen = 0;

        cr_assert_eq(vfy_cmw_encode(VFY_CMW_JSON, &cp, &o, &olen), VFY_OK);
        out.p = malloc(olen + 1);
        cr_assert_not_null(out.p);
        memcpy(out.p, o, olen);
        out.len = olen;
        vfy_free(o);
    }
    free(md);
    free(logj);
    return out;
}

/* Appraise the software attester's evidence for log @man/@carried. */
static vfy_result *soft_appraise_policy(env *e, soft *s, const char *const *man,
                                        const int *carried, size_t n, const char *policy,
                                        const char *what)
{
    uint8_t nonce[32], cb[32];
    vfy_appraisal_request rq;
    vfy_result *r = NULL;
    char detail[256] = "";
    buf ev;
    vfy_rc rc;

    memset(nonce, (int)s->clock, sizeof(nonce));
    memset(cb, 0xcb, sizeof(cb));
    ev = soft_evidence(s, nonce, cb, man, carried, n);
    memset(&rq, 0, sizeof(rq));
    rq.evidence = ev.p;
    rq.evidence_len = ev.len;
    rq.format = VFY_CMW_JSON;
    rq.nonce = nonce;
    rq.channel_binding = cb;
    rq.attester = s->name;
    rq.policy_id = policy;
    rq.nonce_status = VFY_OK;
    rq.nonce_issued_at = (uint64_t)time(NULL);
    rc = vfy_appraise(e->ap, &rq, &r, detail, sizeof(detail));
    cr_assert_eq(rc, VFY_OK, "%s: vfy_appraise %s (%s)", what, vfy_rc_name(rc), detail);
    buf_free(&ev);
    return r;
}

static vfy_result *soft_appraise(env *e, soft *s, const char *const *man, const int *carried,
                                 size_t n, const char *what)
{
    return soft_appraise_policy(e, s, man, carried, n, NULL, what);
}

/* Appraise and expect overall status @want. */
static void soft_expect(env *e, soft *s, const char *const *man, const int *carried, size_t n,
                        const char *policy, vfy_ear_status want, const char *what)
{
    vfy_result *r = soft_appraise_policy(e, s, man, carried, n, policy, what);

    cr_expect_eq(vfy_result_status(r), want, "%s: %s (%s)", what,
                 vfy_ear_status_name(vfy_result_status(r)),
                 vfy_result_reason_count(r) ? vfy_result_reason(r, 0) : "no reason");
    vfy_result_free(&r);
}

/* Manifests over the fixture's reference components: MA has the tool
 * calendar.read, MB (the current one) does not. */
#define SOFT_MANIFEST(ver, tools)                                                             \
    "{\"agent_id\":\"soft-agent\",\"manifest_version\":" ver ","                                \
    "\"models\":[{\"name\":\"llama-3.1-8b-instruct\",\"digest\":\"sha256:"                       \
    "3da9942e71546e2c806c048a7c3e0fa65f990c50c92a2fe55466856092887fc2\"}],\"tools\":[" tools "],"  \
    "\"policies\":[{\"name\":\"spend-limits\",\"digest\":\"sha256:"                             \
    "e51e5237c99087be4c74ba7d2497113bddcf7a9b4d8dd2f87237a8053e0311cc\"}],\"context\":{"         \
    "\"digest\":\"sha256:71f6de9b442070a65086749bc56ac539de247f1628f86626753eee0674e02cd3\"}}"
#define CAL_TOOL                                                                              \
    "{\"name\":\"calendar.read\",\"version\":\"1.0.0\",\"digest\":\"sha256:"                     \
    "10875f6dc3760043e889afaf78be2293a821fd2beaaed14910c0efc56afbe023\"}"
static const char SOFT_MA[] = SOFT_MANIFEST("1", CAL_TOOL);
static const char SOFT_MB[] = SOFT_MANIFEST("2", "");

static void revoke_calendar(env *e, size_t want_results, const char *what)
{
    uint8_t d[32];
    size_t nrev = 0, nres = 0;

    cr_assert_eq(vfy_sha256_parse(d, "sha256:10875f6dc3760043e889afaf78be2293a821fd2beaaed14910c0efc56afbe023",
                                  71), VFY_OK);
    cr_assert_eq(vfy_store_component_revoke(e->st, VFY_COMPONENT_TOOL, "calendar.read", d, &nrev,
                                            &nres), VFY_OK);
    cr_expect_eq(nrev, 1);
    cr_expect_eq(nres, want_results, "%s: %zu results revoked", what, nres);
}

/* A result that relied on a carried past manifest relies on its values: a
 * value only that past manifest used, revoked, revokes the result. */
Test(appraise, carried_past_manifest_values_revoke_the_result)
{
    const char *man[] = {SOFT_MA, SOFT_MB};
    const int carried[] = {1, 0};
    vfy_store_result sr;
    vfy_result *r;
    env e;
    soft s;
    char id[VFY_RESULT_ID_LEN + 1];

    env_open(&e, 0);
    soft_open(&s, &e, "soft-1", "strict");
    r = soft_appraise(&e, &s, man, carried, 2, "[MA carried, MB]");
    cr_assert_eq(vfy_result_status(r), VFY_EAR_AFFIRMING, "%s",
                 vfy_result_reason_count(r) ? vfy_result_reason(r, 0) : "");
    snprintf(id, sizeof(id), "%s", vfy_result_id(r));
    vfy_result_free(&r);
    revoke_calendar(&e, 1, "calendar.read, used only by the carried past manifest");
    cr_assert_eq(vfy_store_result_get(e.st, id, &sr), VFY_OK);
    cr_expect_eq(sr.revoked, 1, "the result that relied on the past manifest");
    cr_expect_not_null(strstr(sr.reason, "calendar.read"), "%s", sr.reason);
    soft_close(&s);
    env_close(&e);
}

/* A manifest known-good because an affirming appraisal saw it stops being
 * known when a value it relied on is revoked: the same bare log that
 * passed under "strict" fails afterwards, and the result that passed
 * because MA was known relied on MA's values, so it is revoked too. */
Test(appraise, revoked_value_forgets_known_manifests)
{
    const char *one[] = {SOFT_MA}, *two[] = {SOFT_MA, SOFT_MB};
    const int bare1[] = {0}, bare2[] = {0, 0};
    char id[VFY_RESULT_ID_LEN + 1];
    vfy_store_result sr;
    vfy_result *r;
    env e;
    soft s;

    env_open(&e, 0);
    soft_open(&s, &e, "soft-2", "strict");
    soft_expect(&e, &s, one, bare1, 1, NULL, VFY_EAR_AFFIRMING, "[MA]");
    r = soft_appraise(&e, &s, two, bare2, 2, "[MA, MB] with MA known");
    cr_assert_eq(vfy_result_status(r), VFY_EAR_AFFIRMING, "%s",
                 vfy_result_reason_count(r) ? vfy_result_reason(r, 0) : "");
    snprintf(id, sizeof(id), "%s", vfy_result_id(r));
    vfy_result_free(&r);
    {
        uint8_t md[32];
        int known = 0;

        sha256_of(SOFT_MA, strlen(SOFT_MA), md);
        cr_assert_eq(vfy_store_manifest_known(e.st, "soft-2", md, &known), VFY_OK);
        cr_assert_eq(known, 1);
        revoke_calendar(&e, 2, "calendar.read (MA's result and [MA, MB]'s)");
        cr_assert_eq(vfy_store_result_get(e.st, id, &sr), VFY_OK);
        cr_expect_eq(sr.revoked, 1, "the result that relied on MA being known");
        cr_expect_not_null(strstr(sr.reason, "calendar.read"), "%s", sr.reason);
        cr_assert_eq(vfy_store_manifest_known(e.st, "soft-2", md, &known), VFY_OK);
        cr_expect_eq(known, 0, "MA is forgotten with the value it relied on");
    }
    r = soft_appraise(&e, &s, two, bare2, 2, "[MA, MB] after the revocation");
    cr_expect_eq(vfy_result_status(r), VFY_EAR_CONTRAINDICATED,
                 "a bare past manifest that relied on a revoked value, under strict");
    cr_expect_eq(vfy_result_vector(r, VFY_EAR_AGENT).value[VFY_TV_EXECUTABLES], 96);
    {
        int found = 0;

        for (size_t i = 0; i < vfy_result_reason_count(r); i++)
            found |= strstr(vfy_result_reason(r, i), "agent log entry 1") != NULL;
        cr_expect(found, "the reason names the past entry");
    }
    vfy_result_free(&r);
    soft_close(&s);
    env_close(&e);
}

/* The same without recorded results (record_results 0): the mark keeps the
 * reference rows the appraisal relied on all the same, so the revocation
 * forgets it. */
Test(appraise, revoked_value_forgets_known_manifests_not_recorded)
{
    const char *one[] = {SOFT_MA};
    const int bare1[] = {0};
    vfy_appraiser_config cfg = {0};
    env e;
    soft s;
    uint8_t md[32];
    int known = 0;

    env_open(&e, 0);
    vfy_appraiser_free(&e.ap);
    cfg.record_results = 0;
    cr_assert_eq(vfy_appraiser_new(&e.ap, e.st, &cfg), VFY_OK);
    soft_open(&s, &e, "soft-5", "strict");
    soft_expect(&e, &s, one, bare1, 1, NULL, VFY_EAR_AFFIRMING, "[MA], not recorded");
    cr_assert_eq(count_rows(&e, "SELECT count(*) FROM results"), 0, "nothing recorded");
    sha256_of(SOFT_MA, strlen(SOFT_MA), md);
    cr_assert_eq(vfy_store_manifest_known(e.st, "soft-5", md, &known), VFY_OK);
    cr_assert_eq(known, 1);
    cr_assert_eq(count_rows(&e, "SELECT count(*) FROM known_manifests WHERE refset_id IS NULL"),
                 0, "the mark has its reference set");
    revoke_calendar(&e, 0, "calendar.read (no recorded result to revoke)");
    cr_assert_eq(vfy_store_manifest_known(e.st, "soft-5", md, &known), VFY_OK);
    cr_expect_eq(known, 0, "MA is forgotten with the value it relied on");
    soft_close(&s);
    env_close(&e);
}

/* A mark without its reference set (vfy_store_manifest_mark_known, or one
 * made before schema 4) cannot carry a later result: nothing a revocation
 * names would reach that result. Its past entry needs the manifest. */
Test(appraise, known_mark_without_reference_set_is_not_relied_on)
{
    const char *two[] = {SOFT_MA, SOFT_MB};
    const int bare2[] = {0, 0}, carried[] = {1, 0};
    uint8_t md[32];
    vfy_result *r;
    env e;
    soft s;

    env_open(&e, 0);
    soft_open(&s, &e, "soft-6", "strict");
    sha256_of(SOFT_MA, strlen(SOFT_MA), md);
    cr_assert_eq(vfy_store_manifest_mark_known(e.st, "soft-6", md), VFY_OK);
    r = soft_appraise(&e, &s, two, bare2, 2, "[MA, MB], MA marked without a set");
    cr_expect_eq(vfy_result_status(r), VFY_EAR_CONTRAINDICATED);
    cr_expect_eq(vfy_result_vector(r, VFY_EAR_AGENT).value[VFY_TV_EXECUTABLES], 96);
    {
        int found = 0;

        for (size_t i = 0; i < vfy_result_reason_count(r); i++)
            found |= strstr(vfy_result_reason(r, i), "agent log entry 1") != NULL;
        cr_expect(found, "the reason names the past entry");
    }
    vfy_result_free(&r);
    /* carried, it is appraised and relied on as any carried manifest */
    soft_expect(&e, &s, two, carried, 2, NULL, VFY_EAR_AFFIRMING, "[MA carried, MB]");
    revoke_calendar(&e, 1, "calendar.read (the carried appraisal)");
    soft_close(&s);
    env_close(&e);
}

/* A result relies on each reference value once, however many past
 * manifests used it: 399 carried copies of MA (about 2,000 references
 * before duplicates go, past the 1,024 a result records) leave a handful,
 * the result stays affirming, and revoking MA's tool still revokes it. */
Test(appraise, repeated_references_are_counted_once)
{
    enum { N = 400 };
    const char **man = malloc(N * sizeof(*man));
    int *carried = malloc(N * sizeof(*carried));
    vfy_store_result sr;
    vfy_result *r;
    char id[VFY_RESULT_ID_LEN + 1];
    env e;
    soft s;

    cr_assert(man != NULL && carried != NULL);
    for (int i = 0; i < N; i++) {
        man[i] = i < N - 1 ? SOFT_MA : SOFT_MB;
        carried[i] = i < N - 1;
    }
    env_open(&e, 0);
    soft_open(&s, &e, "soft-many", "strict");
    r = soft_appraise(&e, &s, man, carried, N, "399 carried MA, then MB");
    cr_expect_eq(vfy_result_status(r), VFY_EAR_AFFIRMING, "%s",
                 vfy_result_reason_count(r) ? vfy_result_reason(r, 0) : "");
    for (size_t i = 0; i < vfy_result_reason_count(r); i++)
        cr_expect_null(strstr(vfy_result_reason(r, i), "reference values"), "%s",
                       vfy_result_reason(r, i));
    snprintf(id, sizeof(id), "%s", vfy_result_id(r));
    vfy_result_free(&r);
    revoke_calendar(&e, 1, "calendar.read, relied on 399 times");
    cr_assert_eq(vfy_store_result_get(e.st, id, &sr), VFY_OK);
    cr_expect_eq(sr.revoked, 1);
    soft_close(&s);
    env_close(&e);
    free(man);
    free(carried);
}

/* @n tools "unapproved-NN" with digests filled with @fill (none is a
 * reference value), comma-separated, into @out; returns the length. */
static size_t unapproved_tools(char *out, size_t cap, int n, uint8_t fill)
{
    size_t o = 0;

    out[0] = '\0';
    for (int t = 0; t < n; t++) {
        uint8_t d[32];
        char hx[65];

        memset(d, fill, sizeof(d));
        d[0] = (uint8_t)t;
        hexs(hx, d, 32);
        o += (size_t)snprintf(out + o, cap - o,
                              "%s{\"name\":\"unapproved-%02d\",\"version\":\"1\",\"digest\":\"sha256:%s\"}",
                              t ? "," : "", t, hx);
    }
    return o;
}

/* A manifest naming 70 unapproved tools (warnings) does not crowd the
 * reason of a contraindicated verdict out of the list: under a strict
 * history, a bare past entry never appraised is what makes it
 * contraindicated, and its reason is listed. One manifest lists 16 of its
 * components and says how many more; a list that is still too long ends
 * with how many reasons were left out. */
Test(appraise, unapproved_components_do_not_crowd_out_the_verdicts_reason)
{
    enum { TOOLS = 70 };
    static const char tmpl[] = SOFT_MANIFEST("@V", "@T");
    static const char MX[] = SOFT_MANIFEST("40", "");   /* never appraised: a bare entry */
    size_t cap = (size_t)TOOLS * 128 + sizeof(tmpl), o = 0;
    char *tools = malloc(cap), *full = malloc(cap + 64);
    const char *man[2], *at, *av;
    const int bare[] = {0, 0};
    int history = 0, more = 0, tools_listed = 0;
    vfy_result *r;
    env e;
    soft s;

    cr_assert(tools != NULL && full != NULL);
    o = unapproved_tools(tools, cap, TOOLS, 0x6e);
    av = strstr(tmpl, "@V");
    at = strstr(tmpl, "@T");
    cr_assert(av != NULL && at != NULL && av < at);
    snprintf(full, cap + 64, "%.*s%d%.*s%s%s", (int)(av - tmpl), tmpl, 41, (int)(at - av - 2),
             av + 2, tools, at + 2);
    man[0] = MX;
    man[1] = full;
    env_open(&e, 0);
    soft_open(&s, &e, "soft-crowd", "strict");
    r = soft_appraise(&e, &s, man, bare, 2, "[MX bare, 70 unapproved tools]");
    cr_expect_eq(vfy_result_status(r), VFY_EAR_CONTRAINDICATED);
    cr_expect_eq(vfy_result_vector(r, VFY_EAR_AGENT).value[VFY_TV_EXECUTABLES], 96);
    for (size_t i = 0; i < vfy_result_reason_count(r); i++) {
        const char *x = vfy_result_reason(r, i);

        history |= strstr(x, "agent log entry 1 (sha256:") != NULL &&
                   strstr(x, "is not a manifest this verifier appraised as affirming "
                             "(history: strict)") != NULL;
        more |= strcmp(x, "54 more components are not approved reference values (not listed)") == 0;
        tools_listed += strstr(x, "unapproved-") != NULL;
    }
    cr_expect(history, "the past entry's reason is listed (%zu reasons)",
              vfy_result_reason_count(r));
    cr_expect(more, "the manifest says how many it left out");
    cr_expect_eq(tools_listed, 16);
    vfy_result_free(&r);
    soft_close(&s);
    /* A revoked tool after 20 unapproved ones is listed all the same: the
     * cap is on warnings, not on what makes the verdict contraindicated. */
    revoke_calendar(&e, 0, "calendar.read, before its manifest is appraised");
    o = unapproved_tools(tools, cap, 20, 0x6f);
    snprintf(tools + o, cap - o, ",%s", CAL_TOOL);
    snprintf(full, cap + 64, "%.*s%d%.*s%s%s", (int)(av - tmpl), tmpl, 42, (int)(at - av - 2),
             av + 2, tools, at + 2);
    man[0] = full;
    soft_open(&s, &e, "soft-crowd-2", "default");
    r = soft_appraise(&e, &s, man, bare, 1, "[20 unapproved tools, then a revoked one]");
    cr_expect_eq(vfy_result_status(r), VFY_EAR_CONTRAINDICATED);
    more = 0;
    for (size_t i = 0; i < vfy_result_reason_count(r); i++)
        more |= strstr(vfy_result_reason(r, i), "tool calendar.read ") != NULL &&
                strstr(vfy_result_reason(r, i), " is revoked") != NULL;
    cr_expect(more, "the revoked tool is named (%zu reasons, the last: %s)",
              vfy_result_reason_count(r),
              vfy_result_reason(r, vfy_result_reason_count(r) - 1));
    vfy_result_free(&r);
    soft_close(&s);
    env_close(&e);
    free(tools);
    free(full);
}

/* A list cut at the last slot ends with how many reasons it left out: 80
 * bare past entries never appraised, under strict, give 80 reasons. */
Test(appraise, a_cut_reason_list_says_how_many_are_left_out)
{
    enum { PAST = 80 };
    static char mans[PAST][sizeof(SOFT_MANIFEST("1000", ""))];
    const char *man[PAST + 1];
    int bare[PAST + 1] = {0};
    vfy_result *r;
    env e;
    soft s;

    for (int i = 0; i < PAST; i++) {
        snprintf(mans[i], sizeof(mans[i]), SOFT_MANIFEST("%d", ""), 100 + i);
        man[i] = mans[i];
    }
    man[PAST] = SOFT_MB;
    env_open(&e, 0);
    soft_open(&s, &e, "soft-cut", "strict");
    r = soft_appraise(&e, &s, man, bare, PAST + 1, "80 bare past entries");
    cr_expect_eq(vfy_result_status(r), VFY_EAR_CONTRAINDICATED);
    cr_assert_eq(vfy_result_reason_count(r), VFY_RESULT_MAX_REASONS);
    cr_expect_str_eq(vfy_result_reason(r, VFY_RESULT_MAX_REASONS - 1),
                     "17 more reasons not listed");
    vfy_result_free(&r);
    soft_close(&s);
    env_close(&e);
}

/* More distinct reference values than a result can record (1,024): a
 * revocation of one left out could never reach the result, so it is not
 * affirming — warning, agent executables 32, with a reason. Five carried
 * past manifests of 230 tools each, all approved. */
Test(appraise, too_many_distinct_references_is_a_warning)
{
    enum { PAST = 5, TOOLS = 230 };
    static const char tmpl[] = SOFT_MANIFEST("@V", "@T");
    char *mans[PAST + 1];
    const char *man[PAST + 1];
    int carried[PAST + 1];
    vfy_result *r;
    env e;
    soft s;
    int found = 0;

    env_open(&e, 0);
    cr_assert_eq(vfy_store_begin(e.st), VFY_OK);
    for (int m = 0; m < PAST; m++) {
        size_t cap = (size_t)TOOLS * 128 + sizeof(tmpl), o = 0;
        char *tools = malloc(cap), *full = malloc(cap + 64);
        const char *at, *av;

        cr_assert(tools != NULL && full != NULL);
        for (int t = 0; t < TOOLS; t++) {
            uint8_t d[32];
            char name[32], hx[65];

            memset(d, 0, sizeof(d));
            d[0] = (uint8_t)m;
            d[1] = (uint8_t)t;
            d[31] = 0x5a;
            hexs(hx, d, 32);
            snprintf(name, sizeof(name), "bulk-%d-%03d", m, t);
            cr_assert_eq(vfy_store_component_add(e.st, VFY_COMPONENT_TOOL, name, "1", d, NULL,
                                                 NULL), VFY_OK);
            o += (size_t)snprintf(tools + o, cap - o,
                                  "%s{\"name\":\"%s\",\"version\":\"1\",\"digest\":\"sha256:%s\"}",
                                  t ? "," : "", name, hx);
        }
        /* the template with its version and tool list filled in */
        av = strstr(tmpl, "@V");
        at = strstr(tmpl, "@T");
        cr_assert(av != NULL && at != NULL && av < at);
        snprintf(full, cap + 64, "%.*s%d%.*s%s%s", (int)(av - tmpl), tmpl, 10 + m,
                 (int)(at - av - 2), av + 2, tools, at + 2);
        free(tools);
        mans[m] = full;
        man[m] = full;
        carried[m] = 1;
    }
    cr_assert_eq(vfy_store_end(e.st, VFY_OK), VFY_OK);
    man[PAST] = SOFT_MB;
    carried[PAST] = 0;
    soft_open(&s, &e, "soft-wide", "strict");
    r = soft_appraise(&e, &s, man, carried, PAST + 1, "5 x 230 distinct tools");
    cr_expect_eq(vfy_result_status(r), VFY_EAR_WARNING, "%s",
                 vfy_result_reason_count(r) ? vfy_result_reason(r, 0) : "no reason");
    cr_expect_eq(vfy_result_vector(r, VFY_EAR_AGENT).value[VFY_TV_EXECUTABLES], 32);
    for (size_t i = 0; i < vfy_result_reason_count(r); i++)
        found |= strstr(vfy_result_reason(r, i), "more than 1024 distinct reference values") != NULL;
    cr_expect(found, "the reason says why");
    vfy_result_free(&r);
    soft_close(&s);
    env_close(&e);
    for (int m = 0; m < PAST; m++)
        free(mans[m]);
}

static int soft_known(env *e, const char *attester, const char *manifest)
{
    uint8_t md[32];
    int known = -1;

    sha256_of(manifest, strlen(manifest), md);
    cr_assert_eq(vfy_store_manifest_known(e->st, attester, md, &known), VFY_OK);
    return known;
}

/* A manifest affirmed under a policy the request chose is known-good only
 * if that policy treats an unknown context at least as harshly as the
 * attester's own: one a relying party's laxer policy affirmed does not
 * later pass the attester's strict history check as a bare past entry. */
Test(appraise, known_good_only_under_the_attesters_own_policy)
{
    static const char lax[] =
        "{\"id\":\"lax\",\"version\":1,\"platform\":{\"bank\":\"sha256\",\"pcrs\":[0,1,2,3,4,5,6,7]},"
        "\"agent\":{\"pcr\":23,\"history\":\"current\",\"unknown_context\":\"ignore\"}}";
    static const char MU[] =
        "{\"agent_id\":\"soft-agent\",\"manifest_version\":7,\"models\":[],\"tools\":[],"
        "\"policies\":[],\"context\":{\"digest\":\"sha256:"
        "0000000000000000000000000000000000000000000000000000000000000042\"}}";
    const char *u[] = {MU}, *ub[] = {MU, SOFT_MB}, *a1[] = {SOFT_MA};
    const int bare1[] = {0}, bare2[] = {0, 0};
    env e;
    soft s;

    env_open(&e, 0);
    load_policy(e.st, lax, strlen(lax));
    soft_open(&s, &e, "soft-3", "strict");
    soft_expect(&e, &s, u, bare1, 1, "lax", VFY_EAR_AFFIRMING,
                "[MU] under the request's lax policy");
    cr_expect_eq(soft_known(&e, "soft-3", MU), 0, "affirmed under a policy the request chose");
    soft_expect(&e, &s, ub, bare2, 2, NULL, VFY_EAR_CONTRAINDICATED,
                "[MU, MB] under the attester's strict policy");
    soft_close(&s);
    /* a policy as strict as the attester's own, named in the request, counts */
    soft_open(&s, &e, "soft-4", "strict");
    soft_expect(&e, &s, a1, bare1, 1, "strict", VFY_EAR_AFFIRMING, "[MA] naming strict");
    cr_expect_eq(soft_known(&e, "soft-4", SOFT_MA), 1, "affirmed under a policy as strict");
    soft_close(&s);
    env_close(&e);
}

/* Appraise evidence made earlier (a quote held back) for @s. */
static vfy_result *soft_appraise_held(env *e, soft *s, const buf *ev, const uint8_t nonce[32],
                                      const char *what)
{
    uint8_t cb[32];
    vfy_appraisal_request rq;
    vfy_result *r = NULL;
    char detail[256] = "";
    vfy_rc rc;

    memset(cb, 0xcb, sizeof(cb));
    memset(&rq, 0, sizeof(rq));
    rq.evidence = ev->p;
    rq.evidence_len = ev->len;
    rq.format = VFY_CMW_JSON;
    rq.nonce = nonce;
    rq.channel_binding = cb;
    rq.attester = s->name;
    rq.nonce_status = VFY_OK;
    rq.nonce_issued_at = (uint64_t)time(NULL);
    rc = vfy_appraise(e->ap, &rq, &r, detail, sizeof(detail));
    cr_assert_eq(rc, VFY_OK, "%s: vfy_appraise %s (%s)", what, vfy_rc_name(rc), detail);
    return r;
}

/* A late prefix (a quote held back while the agent moved on) is judged by
 * the agent's posture as the verifier last saw it, the last stored entry:
 * an unapproved manifest the agent passed through on the way does not make
 * it out of date (it has left that one too). */
Test(appraise, late_prefix_is_judged_by_the_last_entry)
{
    static const char MU[] = SOFT_MANIFEST("3",
        "{\"name\":\"shell.exec\",\"version\":\"0.1\",\"digest\":\"sha256:"
        "0000000000000000000000000000000000000000000000000000000000000077\"}");
    const char *held[] = {SOFT_MA}, *later[] = {SOFT_MA, MU, SOFT_MB}, *bad[] = {SOFT_MA, MU};
    const int c1[] = {0}, c3[] = {0, 0, 0}, c2[] = {0, 0};
    uint8_t nonce[32], cb[32];
    vfy_result *r;
    buf ev;
    env e;
    soft s;

    env_open(&e, 0);
    soft_open(&s, &e, "soft-late", "hist-current");
    memset(nonce, 0x11, sizeof(nonce));
    memset(cb, 0xcb, sizeof(cb));   /* the binding soft_appraise_held gives */
    ev = soft_evidence(&s, nonce, cb, held, c1, 1);
    soft_expect(&e, &s, later, c3, 3, NULL, VFY_EAR_AFFIRMING,
                "[MA, MU, MB] under history current (MU passed through)");
    r = soft_appraise_held(&e, &s, &ev, nonce, "the held [MA] quote, after MB");
    cr_expect_eq(vfy_result_status(r), VFY_EAR_AFFIRMING, "%s",
                 vfy_result_reason_count(r) ? vfy_result_reason(r, 0) : "");
    vfy_result_free(&r);
    buf_free(&ev);
    soft_close(&s);
    /* ... and out of date when the last entry is the unapproved one */
    soft_open(&s, &e, "soft-late-2", "hist-current");
    ev = soft_evidence(&s, nonce, cb, held, c1, 1);
    soft_expect(&e, &s, bad, c2, 2, NULL, VFY_EAR_WARNING, "[MA, MU]: MU is unapproved");
    r = soft_appraise_held(&e, &s, &ev, nonce, "the held [MA] quote, after MU");
    cr_expect_eq(vfy_result_status(r), VFY_EAR_WARNING);
    cr_expect(vfy_result_reason_count(r) > 0 &&
                  strstr(vfy_result_reason(r, 0), "this quote is out of date") != NULL,
              "%s", vfy_result_reason_count(r) ? vfy_result_reason(r, 0) : "no reason");
    vfy_result_free(&r);
    buf_free(&ev);
    soft_close(&s);
    env_close(&e);
}

/* Under history "approved" and "strict" an entry the agent passed through
 * after the quote was made does count: the verifier has seen it in this
 * epoch. A held [MB] quote, after [MB, MU, MB] was refused, used to be
 * affirmed (only the last stored entry, MB again, was looked at). */
Test(appraise, late_prefix_under_a_history_policy_sees_entries_in_between)
{
    static const char MU[] = SOFT_MANIFEST("3",
        "{\"name\":\"shell.exec\",\"version\":\"0.1\",\"digest\":\"sha256:"
        "0000000000000000000000000000000000000000000000000000000000000077\"}");
    static const struct {
        const char *policy;
        vfy_ear_status want;
        const char *mode;
    } cases[] = {{"strict", VFY_EAR_CONTRAINDICATED, "strict"},
                 {"default", VFY_EAR_WARNING, "approved"}};
    const char *held[] = {SOFT_MB}, *later[] = {SOFT_MB, MU, SOFT_MB};
    const int c1[] = {0}, c3[] = {0, 1, 0};
    uint8_t nonce[32], cb[32];
    env e;

    env_open(&e, 0);
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        char name[32], want[256];
        vfy_result *r;
        buf ev;
        soft s;

        snprintf(name, sizeof(name), "soft-late-hist-%zu", k);
        soft_open(&s, &e, name, cases[k].policy);
        soft_expect(&e, &s, held, c1, 1, NULL, VFY_EAR_AFFIRMING, "[MB]");
        memset(nonce, 0x12, sizeof(nonce));
        memset(cb, 0xcb, sizeof(cb));   /* the binding soft_appraise_held gives */
        ev = soft_evidence(&s, nonce, cb, held, c1, 1);
        soft_expect(&e, &s, later, c3, 3, NULL, cases[k].want, "[MB, MU, MB]: MU is unapproved");
        r = soft_appraise_held(&e, &s, &ev, nonce, "the held [MB] quote, after MU");
        cr_expect_eq(vfy_result_status(r), cases[k].want, "%s: the held quote: %s (%s)",
                     cases[k].policy, vfy_ear_status_name(vfy_result_status(r)),
                     vfy_result_reason_count(r) ? vfy_result_reason(r, 0) : "no reason");
        snprintf(want, sizeof(want), "(agent log entry 2), which is not a manifest this verifier "
                 "appraised as affirming (history: %s)", cases[k].mode);
        cr_expect(vfy_result_reason_count(r) == 1 &&
                      strstr(vfy_result_reason(r, 0), "this quote is out of date: since it was "
                                                      "made the agent ran manifest sha256:") != NULL &&
                      strstr(vfy_result_reason(r, 0), want) != NULL,
                  "%s: %s", cases[k].policy,
                  vfy_result_reason_count(r) ? vfy_result_reason(r, 0) : "no reason");
        vfy_result_free(&r);
        buf_free(&ev);
        soft_close(&s);
    }
    env_close(&e);
}

/* After its TPM was cleared (its clock and counters start again) an
 * attester's quotes are refused for good, until vfy_store_attester_reset
 * forgets its stored clock and agent-log state: the next quote is then a
 * first quote. The reset is audited; a name not registered is NOT_FOUND. */
Test(appraise, attester_reset_after_a_tpm_clear)
{
    const char *man[] = {SOFT_MB};
    const int c1[] = {0};
    vfy_result *r;
    int had = -1;
    env e;
    soft s;

    env_open(&e, 0);
    soft_open(&s, &e, "soft-cleared", NULL);
    cr_expect_eq(vfy_store_attester_reset(e.st, "soft-cleared", &had), VFY_OK);
    cr_expect_eq(had, 0, "nothing stored before its first quote");
    s.clock = 86400000;   /* a day of TPM clock (ms) */
    soft_expect(&e, &s, man, c1, 1, NULL, VFY_EAR_AFFIRMING, "[MB] before the clear");
    s.clock = 5;   /* the TPM cleared: its clock starts again */
    r = soft_appraise_policy(&e, &s, man, c1, 1, NULL, "[MB] after the clear");
    cr_expect_eq(vfy_result_status(r), VFY_EAR_CONTRAINDICATED);
    cr_expect(vfy_result_reason_count(r) > 0 &&
                  strstr(vfy_result_reason(r, 0), "TPM clock state rejected") != NULL,
              "%s", vfy_result_reason_count(r) ? vfy_result_reason(r, 0) : "no reason");
    vfy_result_free(&r);
    cr_expect_eq(vfy_store_attester_reset(e.st, "soft-cleared", &had), VFY_OK, "%s",
                 vfy_store_errmsg(e.st));
    cr_expect_eq(had, 1);
    soft_expect(&e, &s, man, c1, 1, NULL, VFY_EAR_AFFIRMING, "[MB] after the reset");
    soft_expect(&e, &s, man, c1, 1, NULL, VFY_EAR_AFFIRMING, "[MB] again: the state moves on");
    cr_expect_eq(vfy_store_attester_reset(e.st, "no-such-attester", &had), VFY_E_NOT_FOUND);
    {
        sqlite3 *db;
        sqlite3_stmt *q;
        int64_t n = -1;

        cr_assert_eq(sqlite3_open_v2(e.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        cr_assert_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM audit_log WHERE action ="
                                            " 'attester.reset' AND object = 'attester soft-cleared'",
                                        -1, &q, NULL), SQLITE_OK);
        if (sqlite3_step(q) == SQLITE_ROW)
            n = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
        sqlite3_close(db);
        cr_expect_eq(n, 2, "both resets audited");
    }
    soft_close(&s);
    env_close(&e);
}

/* ... while an entry in between that the verifier did appraise as
 * affirming (a past manifest carried in an affirmed log) does not make the
 * held quote out of date: an affirming log marks its past entries too. */
Test(appraise, late_prefix_after_an_affirmed_log_with_a_carried_past_entry)
{
    const char *held[] = {SOFT_MB}, *later[] = {SOFT_MB, SOFT_MA, SOFT_MB};
    const int c1[] = {0}, c3[] = {0, 1, 0};
    uint8_t nonce[32], cb[32];
    vfy_result *r;
    buf ev;
    env e;
    soft s;

    env_open(&e, 0);
    soft_open(&s, &e, "soft-late-carried", "default");
    soft_expect(&e, &s, held, c1, 1, NULL, VFY_EAR_AFFIRMING, "[MB]");
    memset(nonce, 0x13, sizeof(nonce));
    memset(cb, 0xcb, sizeof(cb));   /* the binding soft_appraise_held gives */
    ev = soft_evidence(&s, nonce, cb, held, c1, 1);
    soft_expect(&e, &s, later, c3, 3, NULL, VFY_EAR_AFFIRMING, "[MB, MA carried, MB]");
    r = soft_appraise_held(&e, &s, &ev, nonce, "the held [MB] quote, after MA");
    cr_expect_eq(vfy_result_status(r), VFY_EAR_AFFIRMING, "%s",
                 vfy_result_reason_count(r) ? vfy_result_reason(r, 0) : "no reason");
    vfy_result_free(&r);
    buf_free(&ev);
    soft_close(&s);
    env_close(&e);
}

/* A late prefix affirmed because the agent's later manifest is known-good
 * relies on that manifest's values: revoking one revokes it too. */
Test(appraise, late_prefix_relies_on_the_later_manifest)
{
    const char *held[] = {SOFT_MB}, *later[] = {SOFT_MB, SOFT_MA};
    const int c1[] = {0}, c2[] = {1, 0};   /* MB carried: the held quote is not seen yet */
    uint8_t nonce[32], cb[32];
    char id[VFY_RESULT_ID_LEN + 1];
    vfy_store_result sr;
    vfy_result *r;
    buf ev;
    env e;
    soft s;

    env_open(&e, 0);
    soft_open(&s, &e, "soft-late-3", NULL);
    memset(nonce, 0x22, sizeof(nonce));
    memset(cb, 0xcb, sizeof(cb));
    ev = soft_evidence(&s, nonce, cb, held, c1, 1);
    soft_expect(&e, &s, later, c2, 2, NULL, VFY_EAR_AFFIRMING, "[MB, MA]: MA known-good");
    r = soft_appraise_held(&e, &s, &ev, nonce, "the held [MB] quote, after MA");
    cr_assert_eq(vfy_result_status(r), VFY_EAR_AFFIRMING, "%s",
                 vfy_result_reason_count(r) ? vfy_result_reason(r, 0) : "");
    snprintf(id, sizeof(id), "%s", vfy_result_id(r));
    vfy_result_free(&r);
    buf_free(&ev);
    revoke_calendar(&e, 2, "calendar.read: MA's result and the late prefix's");
    cr_assert_eq(vfy_store_result_get(e.st, id, &sr), VFY_OK);
    cr_expect_eq(sr.revoked, 1, "the late prefix relied on MA's values");
    soft_close(&s);
    env_close(&e);
}

/* The attester's own policy of the unknown-context tests: strict history,
 * an unknown context ignored; and a manifest with only a context, whose
 * digest ends in @xx (never a reference value). */
static const char lax[] =
    "{\"id\":\"lax-own\",\"version\":1,\"platform\":{\"bank\":\"sha256\",\"pcrs\":[0,1,2,3,4,5,6,7]},"
    "\"agent\":{\"pcr\":23,\"history\":\"strict\",\"unknown_context\":\"ignore\"}}";
#define MU_CONTEXT(xx)                                                                        \
    "{\"agent_id\":\"soft-agent\",\"manifest_version\":8,\"models\":[],\"tools\":[],"          \
    "\"policies\":[],\"context\":{\"digest\":\"sha256:"                                          \
    "00000000000000000000000000000000000000000000000000000000000000" xx "\"}}"

/* A manifest whose context has no reference value is not made known-good,
 * even under the attester's own policy ignoring unknown contexts: no
 * revocation could ever name that context, so the mark would outlive a
 * later revocation of it (or a stricter policy). Its affirming result
 * stands; a later history check appraises a carried copy again. */
Test(appraise, unknown_context_never_makes_a_manifest_known)
{
    static const char MU[] = MU_CONTEXT("43");
    const char *u[] = {MU}, *a1[] = {SOFT_MA};
    const int bare1[] = {0};
    env e;
    soft s;

    env_open(&e, 0);
    load_policy(e.st, lax, strlen(lax));
    soft_open(&s, &e, "soft-6", "lax-own");
    soft_expect(&e, &s, u, bare1, 1, NULL, VFY_EAR_AFFIRMING, "[MU], its own policy ignores it");
    cr_expect_eq(soft_known(&e, "soft-6", MU), 0, "an unknown context is not made known-good");
    soft_close(&s);
    /* an approved context still is */
    soft_open(&s, &e, "soft-7", "lax-own");
    soft_expect(&e, &s, a1, bare1, 1, NULL, VFY_EAR_AFFIRMING, "[MA]");
    cr_expect_eq(soft_known(&e, "soft-7", SOFT_MA), 1);
    soft_close(&s);
    env_close(&e);
}

/* ... nor as a carried past manifest of an affirming log (the marks of its
 * past entries, session 12, made it known): the mark would hold when the
 * context is later added and revoked, or when a relying party names a
 * policy that refuses unknown contexts, and the bare past entry would pass
 * on it. Checked: no mark; after the context is added as revoked, the bare
 * [MU, MA] is contraindicated under strict, and so is [MU, MA] under a
 * request naming "strict" before that. */
Test(appraise, unknown_context_in_a_carried_past_manifest_is_not_marked)
{
    static const char MU[] = MU_CONTEXT("44");
    const char *ua[] = {MU, SOFT_MA};
    const int carried[] = {1, 0}, bare[] = {0, 0};
    size_t nrev = 0, nres = 0;
    uint8_t d[32];
    env e;
    soft s;

    env_open(&e, 0);
    load_policy(e.st, lax, strlen(lax));
    soft_open(&s, &e, "soft-8", "lax-own");
    soft_expect(&e, &s, ua, carried, 2, NULL, VFY_EAR_AFFIRMING,
                "[MU carried, MA]: its own policy ignores MU's context");
    cr_expect_eq(soft_known(&e, "soft-8", MU), 0, "MU, with an unknown context, is not marked");
    cr_expect_eq(soft_known(&e, "soft-8", SOFT_MA), 1, "MA, the current one, is");
    soft_expect(&e, &s, ua, carried, 2, "strict", VFY_EAR_CONTRAINDICATED,
                "[MU carried, MA] under a request naming strict");
    soft_expect(&e, &s, ua, bare, 2, "strict", VFY_EAR_CONTRAINDICATED,
                "[MU bare, MA] under a request naming strict");
    /* the context added and revoked: MU can never pass again */
    cr_assert_eq(vfy_sha256_parse(d, "sha256:0000000000000000000000000000000000000000000000000000000000000044", 71),
                 VFY_OK);
    cr_assert_eq(vfy_store_component_add(e.st, VFY_COMPONENT_CONTEXT, "ctx-44", NULL, d, NULL, NULL),
                 VFY_OK, "%s", vfy_store_errmsg(e.st));
    cr_assert_eq(vfy_store_component_revoke(e.st, VFY_COMPONENT_CONTEXT, "ctx-44", d, &nrev, &nres),
                 VFY_OK);
    soft_expect(&e, &s, ua, bare, 2, NULL, VFY_EAR_CONTRAINDICATED,
                "[MU bare, MA] after MU's context was revoked");
    soft_expect(&e, &s, ua, carried, 2, NULL, VFY_EAR_CONTRAINDICATED,
                "[MU carried, MA] after MU's context was revoked");
    soft_close(&s);
    env_close(&e);
}

/*
 * After a TPM Restart the history starts over from the first verified quote,
 * also when that quote's appraisal stops before the history: one quote of
 * the old log (PCR 23 already reset, so it does not replay) must not make
 * the agent's fresh log look like a rollback for the rest of the boot.
 */
Test(appraise, history_starts_over_after_a_restart_even_if_the_first_quote_stops)
{
    const char *one[] = {SOFT_MA}, *two[] = {SOFT_MA, SOFT_MB};
    const int bare1[] = {0}, bare2[] = {0, 0};
    vfy_result *r;
    env e;
    soft s;

    env_open(&e, 0);
    soft_open(&s, &e, "soft-r", "hist-current");
    soft_expect(&e, &s, one, bare1, 1, NULL, VFY_EAR_AFFIRMING, "[MA], restart 0");
    soft_expect(&e, &s, two, bare2, 2, NULL, VFY_EAR_AFFIRMING, "[MA, MB], restart 0");
    s.restart = 1;
    s.pcr23_zero = 1;
    r = soft_appraise(&e, &s, two, bare2, 2, "restart 1: the old log, PCR 23 reset");
    cr_expect_eq(vfy_result_status(r), VFY_EAR_CONTRAINDICATED, "the log does not replay");
    vfy_result_free(&r);
    s.pcr23_zero = 0;
    soft_expect(&e, &s, one, bare1, 1, NULL, VFY_EAR_AFFIRMING,
                "restart 1: the agent's fresh [MA] (was: history rollback)");
    soft_expect(&e, &s, two, bare2, 2, NULL, VFY_EAR_AFFIRMING, "restart 1: [MA, MB]");
    /* and the history holds within the new epoch */
    soft_expect(&e, &s, one, bare1, 1, NULL, VFY_EAR_CONTRAINDICATED,
                "restart 1: [MA] after [MA, MB] is a rollback");
    soft_close(&s);
    env_close(&e);
}

/* An agent that extended its manifest twice before its first attestation
 * (it restarted): [MA, MA] under strict is the current manifest twice, not
 * a past manifest never appraised. (It used to stay not affirming for the
 * whole boot: the current manifest was never marked known.) */
Test(appraise, current_manifest_repeated_in_the_log_is_not_a_past_one)
{
    const char *twice[] = {SOFT_MA, SOFT_MA}, *then[] = {SOFT_MA, SOFT_MA, SOFT_MB};
    const int bare2[] = {0, 0}, bare3[] = {0, 0, 0};
    env e;
    soft s;

    env_open(&e, 0);
    soft_open(&s, &e, "soft-twice", "strict");
    soft_expect(&e, &s, twice, bare2, 2, NULL, VFY_EAR_AFFIRMING, "[MA, MA] under strict");
    soft_expect(&e, &s, then, bare3, 3, NULL, VFY_EAR_AFFIRMING, "[MA, MA, MB]: MA known now");
    soft_close(&s);
    env_close(&e);
}

/* ---- group commit (vfy_committer) ------------------------------------------- */

/* A committer over a second connection to e's database, and an appraiser using it. */
typedef struct group {
    vfy_store *cst;
    vfy_committer *c;
    vfy_appraiser *ap;
} group;

static void group_open(group *g, env *e, unsigned max_batch, unsigned store_flags)
{
    vfy_appraiser_config cfg;

    memset(g, 0, sizeof(*g));
    memset(&cfg, 0, sizeof(cfg));
    cr_assert_eq(vfy_store_open(&g->cst, e->db, store_flags), VFY_OK);
    cr_assert_eq(vfy_committer_new(&g->c, g->cst, max_batch), VFY_OK);
    cfg.record_results = 1;
    cfg.committer = g->c;
    cr_assert_eq(vfy_appraiser_new(&g->ap, e->st, &cfg), VFY_OK);
}

static void group_close(group *g)
{
    vfy_appraiser_free(&g->ap);
    vfy_committer_free(&g->c);
    cr_assert_null(g->c);
    vfy_store_close(&g->cst);
}

static vfy_result *group_appraise(group *g, const req *q, const char *what)
{
    vfy_result *r = NULL;
    char detail[256] = "";
    vfy_rc rc = vfy_appraise(g->ap, &q->r, &r, detail, sizeof(detail));

    cr_assert_eq(rc, VFY_OK, "%s: vfy_appraise %s (%s)", what, vfy_rc_name(rc), detail);
    cr_assert_not_null(r);
    return r;
}

/* Whether another connection (e's own) sees result @id. */
static int recorded(env *e, const char *id)
{
    vfy_store_result sr;
    vfy_rc rc = vfy_store_result_get(e->st, id, &sr);

    cr_assert(rc == VFY_OK || rc == VFY_E_NOT_FOUND, "result get: %s", vfy_rc_name(rc));
    return rc == VFY_OK;
}

Test(appraise, group_commit_results_durable_only_after_wait)
{
    env e;
    group g;
    req q;
    vfy_result *r1, *r2;

    env_open(&e, 0);
    group_open(&g, &e, 64, 0);
    req_from_scenario(&q, "affirming");
    q.r.attester = "nobody-here";   /* unregistered: recorded, no attester state */
    r1 = group_appraise(&g, &q, "first");
    r2 = group_appraise(&g, &q, "second");
    cr_expect_str_eq(vfy_ear_status_name(vfy_result_status(r1)), "contraindicated");
    /* one open batch: nothing is visible to other connections yet */
    cr_expect_eq(recorded(&e, vfy_result_id(r1)), 0, "visible before its commit");
    cr_expect_eq(recorded(&e, vfy_result_id(r2)), 0, "visible before its commit");
    /* the first wait commits the batch, the second finds it done */
    cr_assert_eq(vfy_committer_wait(g.c, r2), VFY_OK);
    cr_expect_eq(recorded(&e, vfy_result_id(r1)), 1, "one commit for the whole batch");
    cr_expect_eq(recorded(&e, vfy_result_id(r2)), 1);
    cr_expect_eq(vfy_committer_wait(g.c, r1), VFY_OK);
    cr_expect_eq(vfy_committer_flush(g.c), VFY_OK, "nothing open: flush is a no-op");
    vfy_result_free(&r1);
    vfy_result_free(&r2);
    req_free(&q);
    group_close(&g);
    env_close(&e);
}

/* A result keeps its nonce only when the caller accepted the nonce: the
 * restart reload (vfy_store_recent_nonces) then never reads forged,
 * expired or replayed ones. */
Test(appraise, only_accepted_nonces_are_recorded)
{
    static const vfy_rc st[] = {VFY_OK, VFY_E_NONCE_FORGED, VFY_E_NONCE_EXPIRED,
                                VFY_E_NONCE_REPLAY};
    env e;
    group g;
    req q;
    vfy_result *r[4];
    uint8_t (*got)[32] = NULL;
    size_t n = 0;

    env_open(&e, 0);
    group_open(&g, &e, 64, 0);
    req_from_scenario(&q, "affirming");
    q.r.attester = "nobody-here"; /* no attester state: only the result row */
    for (size_t i = 0; i < 4; i++) {
        q.nonce[0] = (uint8_t)(0x10 + i);
        q.r.nonce_status = st[i];
        r[i] = group_appraise(&g, &q, vfy_rc_name(st[i]));
    }
    cr_assert_eq(vfy_committer_flush(g.c), VFY_OK);
    for (size_t i = 0; i < 4; i++)
        cr_expect_eq(recorded(&e, vfy_result_id(r[i])), 1, "every result is recorded");
    cr_assert_eq(vfy_store_recent_nonces(e.st, 0, &got, &n), VFY_OK);
    cr_assert_eq(n, 1, "%zu nonces recorded, want only the accepted one", n);
    cr_expect_eq(got[0][0], 0x10);
    cr_expect_eq(memcmp(got[0] + 1, q.nonce + 1, 31), 0);
    vfy_free(got);
    for (size_t i = 0; i < 4; i++)
        vfy_result_free(&r[i]);
    req_free(&q);
    group_close(&g);
    env_close(&e);
}

/*
 * Retention in group commits: each commit deletes up to max(8, 2 x batch)
 * results that expired more than keep_s ago (oldest first), without audit
 * rows; recent results stay; bad settings are refused.
 */
Test(appraise, group_commit_retention_prunes_a_few_per_commit)
{
    env e;
    group g;
    req q;
    vfy_result *r;
    int64_t now = (int64_t)time(NULL), day = 86400;
    char id[32];

    env_open(&e, 0);
    group_open(&g, &e, 64, 0);
    cr_assert_eq(vfy_committer_set_retention(g.c, 3600, 0), VFY_E_INVALID_ARG,
                 "less than a day is refused (restart nonce check)");
    cr_assert_eq(vfy_committer_set_retention(g.c, -1, 0), VFY_E_INVALID_ARG);
    cr_assert_eq(vfy_committer_set_retention(g.c, 2 * day, VFY_STORE_PRUNE_MAX + 1),
                 VFY_E_INVALID_ARG);
    cr_assert_eq(vfy_committer_set_retention(NULL, 2 * day, 0), VFY_E_INVALID_ARG);
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof(id), "old-%02d", i);
        cr_assert_eq(vfy_store_result_record(e.st, id, "nobody-here", now - 10 * day + i,
                                             now - 10 * day + 300 + i, "affirming", NULL, 0),
                     VFY_OK);
    }
    cr_assert_eq(vfy_store_result_record(e.st, "recent", "nobody-here", now - day,
                                         now - day + 300, "affirming", NULL, 0), VFY_OK);
    cr_assert_eq(vfy_committer_set_retention(g.c, 2 * day, 0), VFY_OK);
    req_from_scenario(&q, "affirming");
    q.r.attester = "nobody-here";
    for (int i = 0; i < 3; i++) {
        r = group_appraise(&g, &q, "pruning commit");
        cr_assert_eq(vfy_committer_wait(g.c, r), VFY_OK);
        cr_expect_eq(vfy_committer_pruned(g.c), (uint64_t)(i < 2 ? 8 * (i + 1) : 20),
                     "commit %d: a batch of one prunes at most 8", i + 1);
        vfy_result_free(&r);
    }
    cr_expect_eq(recorded(&e, "old-19"), 0);
    cr_expect_eq(recorded(&e, "recent"), 1, "expired one day ago, kept for two");
    {
        int64_t left = -1;
        sqlite3 *db;
        sqlite3_stmt *s;

        cr_assert_eq(sqlite3_open_v2(e.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        cr_assert_eq(sqlite3_prepare_v2(db, "SELECT (SELECT count(*) FROM results WHERE id LIKE"
                                            " 'old-%') * 1000 + (SELECT count(*) FROM audit_log"
                                            " WHERE action = 'results.prune')", -1, &s, NULL),
                     SQLITE_OK);
        if (sqlite3_step(s) == SQLITE_ROW)
            left = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
        sqlite3_close(db);
        cr_expect_eq(left, 0, "old rows and audit rows (x1000 + audit): %lld", (long long)left);
    }
    req_free(&q);
    group_close(&g);
    env_close(&e);
}

/* A retention deletion that fails (here a trigger refuses every delete)
 * is rolled back alone: the batch still commits and its result is there. */
Test(appraise, group_commit_retention_failure_does_not_lose_the_batch)
{
    env e;
    group g;
    req q;
    vfy_result *r;
    int64_t now = (int64_t)time(NULL), day = 86400;
    sqlite3 *db;

    env_open(&e, 0);
    group_open(&g, &e, 64, 0);
    cr_assert_eq(vfy_store_result_record(e.st, "old", "nobody-here", now - 10 * day,
                                         now - 10 * day + 300, "affirming", NULL, 0), VFY_OK);
    cr_assert_eq(sqlite3_open(e.db, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "CREATE TRIGGER no_prune BEFORE DELETE ON results"
                                  " BEGIN SELECT RAISE(ABORT, 'no deletes here'); END;",
                              NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    cr_assert_eq(vfy_committer_set_retention(g.c, 2 * day, 0), VFY_OK);
    req_from_scenario(&q, "affirming");
    q.r.attester = "nobody-here";
    r = group_appraise(&g, &q, "commit whose prune fails");
    cr_assert_eq(vfy_committer_wait(g.c, r), VFY_OK, "the batch commits anyway");
    cr_expect_eq(recorded(&e, vfy_result_id(r)), 1, "its result is durable");
    cr_expect_eq(recorded(&e, "old"), 1, "the failed deletion changed nothing");
    cr_expect_eq(vfy_committer_pruned(g.c), 0);
    vfy_result_free(&r);
    req_free(&q);
    group_close(&g);
    env_close(&e);
}

Test(appraise, group_commit_attester_state_and_verdict)
{
    env e;
    group g;
    req q;
    vfy_result *r;
    vfy_clock_info ci;

    env_open(&e, 0);
    group_open(&g, &e, 64, 0);
    req_from_scenario(&q, "affirming");
    r = group_appraise(&g, &q, "affirming");
    check_result(r, &AFFIRMING, "group commit");
    cr_expect_eq(vfy_store_clock_get(e.st, ATTESTER, &ci), VFY_E_NOT_FOUND,
                 "clock state visible before its commit");
    cr_assert_eq(vfy_committer_wait(g.c, r), VFY_OK);
    cr_expect_eq(vfy_store_clock_get(e.st, ATTESTER, &ci), VFY_OK);
    cr_expect_eq(recorded(&e, vfy_result_id(r)), 1);
    vfy_result_free(&r);
    /* again, in a new batch that reads the committed state */
    r = group_appraise(&g, &q, "second");
    check_result(r, &AFFIRMING, "second");
    cr_expect_eq(vfy_committer_wait(g.c, r), VFY_OK);
    cr_expect_eq(recorded(&e, vfy_result_id(r)), 1);
    vfy_result_free(&r);
    req_free(&q);
    group_close(&g);
    env_close(&e);
}

Test(appraise, group_commit_full_batch_commits_itself)
{
    env e;
    group g;
    req q;
    vfy_result *r1, *r2, *r3;

    env_open(&e, 0);
    group_open(&g, &e, 2, 0);
    req_from_scenario(&q, "affirming");
    q.r.attester = "nobody-here";
    r1 = group_appraise(&g, &q, "first");
    cr_expect_eq(recorded(&e, vfy_result_id(r1)), 0);
    r2 = group_appraise(&g, &q, "second");   /* fills max_batch 2: committed */
    cr_expect_eq(recorded(&e, vfy_result_id(r1)), 1, "a full batch was not committed");
    cr_expect_eq(recorded(&e, vfy_result_id(r2)), 1);
    r3 = group_appraise(&g, &q, "third");    /* a new batch */
    cr_expect_eq(recorded(&e, vfy_result_id(r3)), 0);
    cr_expect_eq(vfy_committer_wait(g.c, r1), VFY_OK);
    cr_expect_eq(recorded(&e, vfy_result_id(r3)), 0, "waiting for a done batch committed another");
    cr_expect_eq(vfy_committer_flush(g.c), VFY_OK);
    cr_expect_eq(recorded(&e, vfy_result_id(r3)), 1);
    vfy_result_free(&r1);
    vfy_result_free(&r2);
    vfy_result_free(&r3);
    req_free(&q);
    group_close(&g);
    env_close(&e);
}

Test(appraise, group_commit_free_rolls_back_unwaited)
{
    env e;
    group g;
    req q;
    vfy_result *r;
    vfy_clock_info ci;

    env_open(&e, 0);
    group_open(&g, &e, 64, 0);
    req_from_scenario(&q, "affirming");
    r = group_appraise(&g, &q, "never waited for");
    check_result(r, &AFFIRMING, "never waited for");
    vfy_appraiser_free(&g.ap);
    vfy_committer_free(&g.c);   /* nobody waited: nothing may have been relied on */
    cr_expect_eq(recorded(&e, vfy_result_id(r)), 0, "an unwaited result survived");
    cr_expect_eq(vfy_store_clock_get(e.st, ATTESTER, &ci), VFY_E_NOT_FOUND);
    vfy_result_free(&r);
    /* the write lock is free again: an ordinary appraisal commits */
    r = appraise_ok(&e, &q, "after the rollback");
    check_result(r, &AFFIRMING, "after the rollback");
    cr_expect_eq(vfy_committer_wait(NULL, r), VFY_E_INVALID_ARG);
    vfy_result_free(&r);
    req_free(&q);
    group_close(&g);
    env_close(&e);
}

/* A state phase that fails in a batch nobody joined ends that batch: the
 * write lock is not held until the next appraisal comes along. */
Test(appraise, group_commit_failed_state_phase_releases_the_lock)
{
    uint8_t d[32];
    env e;
    group g;
    vfy_store *bst = NULL;
    uint64_t failures = 0;
    int added = 0;
    time_t t0;

    memset(d, 0x5a, sizeof(d));
    env_open(&e, 0);
    group_open(&g, &e, 64, 0);
    cr_assert_eq(committer_enter(g.c, &bst, &failures), VFY_OK);
    cr_assert_eq(vfy_store_begin(bst), VFY_OK);            /* the state phase */
    cr_assert_eq(vfy_store_end(bst, VFY_E_INTERNAL), VFY_E_INTERNAL);   /* fails */
    cr_expect_eq(committer_leave(g.c, 0), 0u, "no ticket for a failed phase");
    t0 = time(NULL);
    cr_expect_eq(vfy_store_pcr_add(e.st, "rs-free", VFY_HASH_SHA256, 1, d, sizeof(d), &added),
                 VFY_OK, "an admin change after a failed state phase: %s",
                 vfy_store_errmsg(e.st));
    cr_expect_eq(added, 1);
    cr_expect_lt(time(NULL) - t0, 2, "the admin change waited for the lock");
    cr_expect_eq(vfy_committer_flush(g.c), VFY_OK, "nothing left open");
    group_close(&g);
    env_close(&e);
}

/*
 * SQLite may roll back a whole transaction on an I/O, disk-full or
 * out-of-memory error in one statement (here a ROLLBACK inside a state
 * phase stands in for it). The batch is then gone: its results' waiters get
 * VFY_E_DB, nothing of it is recorded, and the next appraisal runs in a new
 * batch — not outside any transaction.
 */
Test(appraise, group_commit_batch_rolled_back_by_sqlite_fails_its_waiters)
{
    env e;
    group g;
    req q;
    vfy_result *r1, *r2;
    vfy_store *bst;
    uint64_t failures = 0, f2 = 0;

    env_open(&e, 0);
    group_open(&g, &e, 64, 0);
    req_from_scenario(&q, "affirming");
    q.r.attester = "nobody-here";
    r1 = group_appraise(&g, &q, "first, in the batch");
    cr_assert_eq(committer_enter(g.c, &bst, &failures), VFY_OK);
    cr_assert_eq(vfy_store_begin(bst), VFY_OK);             /* the state phase */
    cr_assert_eq(sqlite3_exec(bst->db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    cr_assert_eq(vfy_store_end(bst, VFY_E_DB), VFY_E_DB);    /* its savepoint "rolled back" */
    cr_expect_eq(committer_leave(g.c, 0), 0u);
    /* the next appraisal, before anyone waits: a new batch, which holds
     * until its wait (not a transaction of its own, committed at once) */
    r2 = group_appraise(&g, &q, "second, a new batch");
    cr_expect_eq(recorded(&e, vfy_result_id(r2)), 0, "in a batch, not committed on its own");
    cr_expect_str_eq(vfy_rc_name(vfy_committer_wait(g.c, r1)), "VFY_E_DB",
                     "a result of the rolled-back batch");
    cr_expect_eq(recorded(&e, vfy_result_id(r1)), 0, "nothing of the lost batch");
    cr_assert_eq(committer_enter(g.c, &bst, &f2), VFY_OK);
    cr_expect_eq(f2, failures + 1, "the lost batch counts as a failure");
    cr_expect_eq(sqlite3_get_autocommit(bst->db), 0, "a batch transaction is open");
    cr_expect_eq(committer_leave(g.c, 0), 0u);
    cr_expect_eq(vfy_committer_wait(g.c, r2), VFY_OK);
    cr_expect_eq(recorded(&e, vfy_result_id(r2)), 1);
    vfy_result_free(&r1);
    vfy_result_free(&r2);
    req_free(&q);
    group_close(&g);
    env_close(&e);
}

/*
 * Reference sets made in a batch that is rolled back are gone, and SQLite
 * gives their ids to the next new ones: the appraiser must not keep their
 * rows. Batch 1 makes MB known (refset R) and relies on it for [MB, MA],
 * then is lost; batch 2 makes MA known with a new set that gets R's id
 * again, and [MA, MB] relies on MA: revoking MA's tool must revoke it.
 */
Test(appraise, refset_rows_of_a_lost_batch_are_not_relied_on)
{
    const char *b[] = {SOFT_MB}, *ba[] = {SOFT_MB, SOFT_MA}, *a[] = {SOFT_MA},
               *ab[] = {SOFT_MA, SOFT_MB};
    const int bare1[] = {0}, bare2[] = {0, 0};
    vfy_appraiser *own;
    vfy_store *bst;
    vfy_store_result sr;
    vfy_result *r;
    uint64_t failures = 0;
    char id[VFY_RESULT_ID_LEN + 1];
    env e;
    group g;
    soft s;

    env_open(&e, 0);
    group_open(&g, &e, 64, 0);
    soft_open(&s, &e, "soft-7", "strict");
    own = e.ap;
    e.ap = g.ap;   /* soft_* appraise through the batch */
    soft_expect(&e, &s, b, bare1, 1, NULL, VFY_EAR_AFFIRMING, "batch 1: [MB]");
    soft_expect(&e, &s, ba, bare2, 2, NULL, VFY_EAR_AFFIRMING, "batch 1: [MB, MA], MB known");
    cr_assert_eq(committer_enter(g.c, &bst, &failures), VFY_OK);
    cr_assert_eq(vfy_store_begin(bst), VFY_OK);
    cr_assert_eq(sqlite3_exec(bst->db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    cr_assert_eq(vfy_store_end(bst, VFY_E_DB), VFY_E_DB);
    cr_expect_eq(committer_leave(g.c, 0), 0u);
    soft_expect(&e, &s, a, bare1, 1, NULL, VFY_EAR_AFFIRMING, "batch 2: [MA]");
    r = soft_appraise(&e, &s, ab, bare2, 2, "batch 2: [MA, MB], MA known");
    cr_assert_eq(vfy_result_status(r), VFY_EAR_AFFIRMING, "%s",
                 vfy_result_reason_count(r) ? vfy_result_reason(r, 0) : "");
    snprintf(id, sizeof(id), "%s", vfy_result_id(r));
    vfy_result_free(&r);
    cr_assert_eq(vfy_committer_flush(g.c), VFY_OK);
    e.ap = own;
    revoke_calendar(&e, 2, "calendar.read: [MA]'s result and [MA, MB]'s");
    cr_assert_eq(vfy_store_result_get(e.st, id, &sr), VFY_OK);
    cr_expect_eq(sr.revoked, 1, "the result that relied on MA being known");
    soft_close(&s);
    group_close(&g);
    env_close(&e);
}

/* A thread opening a batch while another process holds the write lock. */
struct opener {
    vfy_committer *c;
    atomic_int returned;
    vfy_rc rc;
};

static void *open_batch(void *arg)
{
    struct opener *o = arg;
    vfy_store *bst;
    uint64_t f;

    o->rc = committer_enter(o->c, &bst, &f);
    atomic_store(&o->returned, 1);
    if (o->rc == VFY_OK)
        (void)committer_leave(o->c, 0);
    return NULL;
}

/*
 * Opening a batch waits for another process's write lock (up to the busy
 * timeout) without holding the committer's lock: meanwhile a wait for a
 * result of a batch already committed returns at once (verifierd's parked
 * answers used to sit behind it).
 */
Test(appraise, group_commit_opening_does_not_hold_up_finished_waits)
{
    env e;
    group g;
    req q;
    vfy_result *r1;
    struct opener o = {NULL, 0, VFY_OK};
    pthread_t th;

    env_open(&e, 0);
    group_open(&g, &e, 64, 0);
    req_from_scenario(&q, "affirming");
    q.r.attester = "nobody-here";
    r1 = group_appraise(&g, &q, "batch 1");
    cr_assert_eq(vfy_committer_wait(g.c, r1), VFY_OK, "batch 1 committed");
    cr_assert_eq(vfy_store_begin(e.st), VFY_OK, "another writer holds the lock");
    o.c = g.c;
    cr_assert_eq(pthread_create(&th, NULL, open_batch, &o), 0);
    usleep(300000);   /* the opener is in BEGIN, waiting for the lock */
    cr_expect_eq(vfy_committer_wait(g.c, r1), VFY_OK);
    cr_expect_eq(vfy_committer_flush(g.c), VFY_OK, "no batch open: nothing to do");
    cr_expect_eq(atomic_load(&o.returned), 0,
                 "the wait and the flush returned while the opener still waits for the lock");
    cr_assert_eq(vfy_store_end(e.st, VFY_OK), VFY_OK);   /* the lock is free */
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_expect_eq(o.rc, VFY_OK, "the batch opened once the lock was free");
    vfy_result_free(&r1);
    req_free(&q);
    group_close(&g);
    env_close(&e);
}

/* Appraisals that wait while another thread opens the batch share its
 * failure when another process holds the write lock for the whole busy
 * timeout: they used to try BEGIN again one after another, one busy timeout
 * each, which held a verifierd stop past systemd's limit. Here the lock is
 * released as soon as the first opening fails: a waiter that tried again
 * would then succeed, so each waiter's VFY_E_DB_BUSY shows it did not. */
Test(appraise, committer_waiters_share_a_failed_opening)
{
    struct opener first = {NULL, 0, VFY_OK}, rest[3];
    pthread_t t0, t[3];
    sqlite3 *holder;
    group g;
    env e;

    env_open(&e, 0);
    group_open(&g, &e, 32, 0);
    g.cst->busy_ms = 3000;
    cr_assert_eq(sqlite3_open_v2(e.db, &holder, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(holder, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    first.c = g.c;
    cr_assert_eq(pthread_create(&t0, NULL, open_batch, &first), 0);
    usleep(300 * 1000);   /* the first is in BEGIN, waiting for the lock */
    memset(rest, 0, sizeof(rest));
    for (int i = 0; i < 3; i++) {
        rest[i].c = g.c;
        cr_assert_eq(pthread_create(&t[i], NULL, open_batch, &rest[i]), 0);
    }
    pthread_join(t0, NULL);
    cr_expect_eq(first.rc, VFY_E_DB_BUSY, "the first opening: %s", vfy_rc_name(first.rc));
    cr_assert_eq(sqlite3_exec(holder, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        cr_expect_eq(rest[i].rc, VFY_E_DB_BUSY, "waiter %d: %s (it tried BEGIN again)", i,
                     vfy_rc_name(rest[i].rc));
    }
    /* the next appraisal opens a batch of its own */
    first.rc = VFY_E_INTERNAL;
    open_batch(&first);
    cr_expect_eq(first.rc, VFY_OK, "after the lock is free: %s", vfy_rc_name(first.rc));
    sqlite3_close(holder);
    group_close(&g);
    env_close(&e);
}

Test(appraise, group_commit_store_errors_are_errors)
{
    env e;
    group g;
    req q;
    vfy_result *r;
    vfy_committer *c2 = NULL;

    env_open(&e, 0);
    group_open(&g, &e, 64, VFY_STORE_READONLY);
    req_from_scenario(&q, "affirming");
    /* state phase of a verified quote, then recording alone: both refused */
    {
        vfy_appraiser *plain = e.ap;

        e.ap = g.ap;
        appraise_err(&e, &q.r, VFY_E_INVALID_ARG, "read-only committer store, attester state");
        q.r.attester = "nobody-here";
        appraise_err(&e, &q.r, VFY_E_INVALID_ARG, "read-only committer store, result only");
        e.ap = plain;
    }
    /* a result of an appraiser without a committer is durable at once */
    r = appraise_ok(&e, &q, "plain");
    cr_expect_eq(vfy_committer_wait(g.c, r), VFY_OK);
    vfy_result_free(&r);
    cr_expect_eq(vfy_committer_new(&c2, NULL, 1), VFY_E_INVALID_ARG);
    cr_expect_null(c2);
    cr_expect_eq(vfy_committer_new(NULL, e.st, 1), VFY_E_INVALID_ARG);
    cr_expect_eq(vfy_committer_flush(NULL), VFY_E_INVALID_ARG);
    req_free(&q);
    group_close(&g);
    env_close(&e);
}

/* ---- a generation source that lags behind admin changes ------------------- */

static uint64_t lagging_gen;

static vfy_rc lagging(void *ctx, uint64_t *gen)
{
    (void)ctx;
    *gen = lagging_gen;
    return VFY_OK;
}

Test(appraise, lagging_generation_source_never_gives_stale_verdicts)
{
    env e;
    req q;
    vfy_result *r;
    vfy_appraiser *plain, *lag = NULL;
    vfy_appraiser_config cfg;
    const expect revoked = {VFY_EAR_CONTRAINDICATED, 96, ABSENT, ABSENT, ABSENT, "revoked"};

    env_open(&e, 0);
    {   /* a second attester on the same TPM, for the committer part below
         * (registered now: a revoked attester's key cannot be registered) */
        buf ak = read_fx("ak.pub");

        cr_assert_eq(vfy_store_attester_add(e.st, "agent-2", ak.p, ak.len, "ecdsa-sha256", REFSET,
                                            NULL, NULL), VFY_OK);
        buf_free(&ak);
    }
    memset(&cfg, 0, sizeof(cfg));
    cfg.record_results = 1;
    cfg.generation = lagging;
    cr_assert_eq(vfy_store_generation(e.st, &lagging_gen), VFY_OK);
    cr_assert_eq(vfy_appraiser_new(&lag, e.st, &cfg), VFY_OK);
    plain = e.ap;
    e.ap = lag;
    req_from_scenario(&q, "affirming");
    r = appraise_ok(&e, &q, "cached");
    check_result(r, &AFFIRMING, "cached");   /* the attester is now in the cache */
    vfy_result_free(&r);
    /* An admin change the generation source has not caught up with: the
     * state phase reads the real generation and the appraisal is redone. */
    cr_assert_eq(vfy_store_attester_revoke(e.st, ATTESTER), VFY_OK);
    r = appraise_ok(&e, &q, "after revocation");
    check_result(r, &revoked, "after revocation, source lagging");
    vfy_result_free(&r);
    /* the same for a result recorded without attester state */
    q.r.attester = "nobody-here";
    r = appraise_ok(&e, &q, "unknown attester");
    cr_expect_eq(vfy_result_status(r), VFY_EAR_CONTRAINDICATED);
    vfy_result_free(&r);
    vfy_appraiser_free(&lag);
    /* and through a committer: the redo holds the committer's lock */
    {
        group g;

        group_open(&g, &e, 64, 0);
        vfy_appraiser_free(&g.ap);
        cfg.committer = g.c;
        cr_assert_eq(vfy_appraiser_new(&g.ap, e.st, &cfg), VFY_OK);
        e.ap = g.ap;
        q.r.attester = "agent-2";
        r = appraise_ok(&e, &q, "committer, cached");
        check_result(r, &AFFIRMING, "committer, cached");
        cr_expect_eq(vfy_committer_wait(g.c, r), VFY_OK);
        vfy_result_free(&r);
        cr_assert_eq(vfy_store_attester_revoke(e.st, "agent-2"), VFY_OK);
        r = appraise_ok(&e, &q, "committer, after revocation");
        check_result(r, &revoked, "committer, after revocation, source lagging");
        cr_expect_eq(vfy_committer_wait(g.c, r), VFY_OK);
        cr_expect_eq(recorded(&e, vfy_result_id(r)), 1);
        vfy_result_free(&r);
        group_close(&g);
    }
    e.ap = plain;
    req_free(&q);
    env_close(&e);
}
