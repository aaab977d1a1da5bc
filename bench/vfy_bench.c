/*
 * vfy_bench.c — the benchmark driver behind `make bench` (scripts/bench.sh,
 * docs/performance.md). Subcommands:
 *
 *   crypto    [--seconds S]   ECDSA P-256 verifies/s and ES256 signs/s on one core
 *   provision --db PATH --key AKFILE [--rsa] [--attesters N] [--refs M]
 *             a store with N attesters sharing one software AK (written to
 *             AKFILE) and M reference values (the 12 the evidence needs plus
 *             filler), imported as reference-value bundles of 50k entries,
 *             each one transaction
 *   appraise  --db PATH --key AKFILE [--attesters N] [--count K] [--cbor] [--group G]
 *             in-process vfy_appraise + vfy_result_sign on one thread over K
 *             pre-made pieces of evidence, spread over N attesters; with
 *             --group G, group commit through a vfy_committer (batches of G);
 *             --steady: an untimed pass first, so each timed appraisal is
 *             an attester's second (state rows exist)
 *   akimport  cost of one AK import: vfy_ak_from_pem (what an attester-cache
 *             miss pays) vs d2i_PUBKEY vs EVP_PKEY_fromdata from the raw point;
 *             vfy_ak_from_tpm2b_public; and a whole miss — PEM import plus the
 *             first vfy_sig_verify with the new key — against a verify with a
 *             key already imported. --cpu: this thread's CPU time instead of
 *             the wall clock (steadier on a shared machine)
 *   http      see http_load.c
 *
 * Each subcommand prints `bench: NAME=VALUE UNIT` lines. Not a test.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "evgen.h"

int bench_http_main(int argc, char **argv);

static void die(const char *what, vfy_rc rc)
{
    fprintf(stderr, "vfy-bench: %s: %s\n", what, rc != VFY_OK ? vfy_strerror(rc) : "failed");
    exit(1);
}

/* ------------------------------------------------------------------ */
/* crypto                                                               */

/*
 * The crypto bound: the two operations an appraisal cannot avoid, at the
 * least cost OpenSSL offers — SHA-256 of the signed input with a digest
 * fetched once, then EVP_PKEY_verify / EVP_PKEY_sign on a context set up
 * once (no per-operation setup at all, which libverify still pays in part).
 */
static int cmd_crypto(int argc, char **argv)
{
    double secs = 2.0, t0, dt;
    EVP_PKEY *k = EVP_EC_gen("P-256");
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
    EVP_PKEY_CTX *vc = k != NULL ? EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL) : NULL;
    EVP_PKEY_CTX *sc = k != NULL ? EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL) : NULL;
    uint8_t msg[160], der[128], h[32];
    size_t dlen = sizeof(der);
    unsigned long n;
    double ver, sig, bound;

    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            secs = atof(argv[++i]);
    if (k == NULL || md == NULL || vc == NULL || sc == NULL ||
        EVP_PKEY_verify_init(vc) != 1 || EVP_PKEY_sign_init(sc) != 1)
        die("setup", VFY_OK);
    RAND_bytes(msg, sizeof(msg));   /* about a TPMS_ATTEST / JWS signing input */
    if (EVP_Digest(msg, sizeof(msg), h, NULL, md, NULL) != 1 ||
        EVP_PKEY_sign(sc, der, &dlen, h, sizeof(h)) != 1)
        die("sign", VFY_OK);
    t0 = bench_now();
    n = 0;
    do {
        for (int j = 0; j < 100; j++) {
            if (EVP_Digest(msg, sizeof(msg), h, NULL, md, NULL) != 1 ||
                EVP_PKEY_verify(vc, der, dlen, h, sizeof(h)) != 1)
                die("verify", VFY_OK);
        }
        n += 100;
        dt = bench_now() - t0;
    } while (dt < secs);
    ver = (double)n / dt;
    t0 = bench_now();
    n = 0;
    do {
        for (int j = 0; j < 100; j++) {
            size_t l = sizeof(der);

            if (EVP_Digest(msg, sizeof(msg), h, NULL, md, NULL) != 1 ||
                EVP_PKEY_sign(sc, der, &l, h, sizeof(h)) != 1)
                die("sign", VFY_OK);
        }
        n += 100;
        dt = bench_now() - t0;
    } while (dt < secs);
    sig = (double)n / dt;
    bound = 1.0 / (1.0 / ver + 1.0 / sig);
    printf("bench: crypto_p256_verify=%.0f ops/s\n", ver);
    printf("bench: crypto_es256_sign=%.0f ops/s\n", sig);
    printf("bench: crypto_bound=%.0f appraisals/s\n", bound);
    EVP_PKEY_CTX_free(vc);
    EVP_PKEY_CTX_free(sc);
    EVP_MD_free(md);
    EVP_PKEY_free(k);
    return 0;
}

/* ------------------------------------------------------------------ */
/* akimport: what an attester-cache miss costs                          */

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <time.h>
#include <tss2/tss2_mu.h>

static int akimport_cpu; /* --cpu */

/* Seconds on the clock akimport measures with. */
static double akimport_now(void)
{
    struct timespec ts;

    if (!akimport_cpu)
        return bench_now();
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/*
 * @pub (uncompressed P-256 point) as a marshalled TPM2B_PUBLIC of a
 * restricted ECDSA-SHA256 signing key, and a marshalled TPMT_SIGNATURE by
 * @key over @msg.
 */
static void akimport_tpm(EVP_PKEY *key, const unsigned char pub[65], const uint8_t *msg,
                         size_t msg_len, uint8_t *tpub, size_t *tpub_len, uint8_t *tsig,
                         size_t *tsig_len)
{
    TPM2B_PUBLIC tp;
    TPMT_SIGNATURE ts;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char der[128];
    const unsigned char *p = der;
    size_t dlen = sizeof(der), cap_pub = *tpub_len, cap_sig = *tsig_len;
    ECDSA_SIG *es = NULL;
    const BIGNUM *r, *s;

    memset(&tp, 0, sizeof(tp));
    tp.publicArea.type = TPM2_ALG_ECC;
    tp.publicArea.nameAlg = TPM2_ALG_SHA256;
    tp.publicArea.objectAttributes = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_RESTRICTED |
                                     TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                     TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH;
    tp.publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    tp.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
    tp.publicArea.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    tp.publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    tp.publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    tp.publicArea.unique.ecc.x.size = 32;
    memcpy(tp.publicArea.unique.ecc.x.buffer, pub + 1, 32);
    tp.publicArea.unique.ecc.y.size = 32;
    memcpy(tp.publicArea.unique.ecc.y.buffer, pub + 33, 32);
    *tpub_len = 0;
    if (Tss2_MU_TPM2B_PUBLIC_Marshal(&tp, tpub, cap_pub, tpub_len) != TSS2_RC_SUCCESS)
        die("TPM2B_PUBLIC", VFY_OK);

    if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(ctx, der, &dlen, msg, msg_len) != 1 ||
        (es = d2i_ECDSA_SIG(NULL, &p, (long)dlen)) == NULL)
        die("sign", VFY_OK);
    EVP_MD_CTX_free(ctx);
    ECDSA_SIG_get0(es, &r, &s);
    memset(&ts, 0, sizeof(ts));
    ts.sigAlg = TPM2_ALG_ECDSA;
    ts.signature.ecdsa.hash = TPM2_ALG_SHA256;
    ts.signature.ecdsa.signatureR.size = 32;
    ts.signature.ecdsa.signatureS.size = 32;
    if (BN_bn2binpad(r, ts.signature.ecdsa.signatureR.buffer, 32) != 32 ||
        BN_bn2binpad(s, ts.signature.ecdsa.signatureS.buffer, 32) != 32)
        die("sign", VFY_OK);
    ECDSA_SIG_free(es);
    *tsig_len = 0;
    if (Tss2_MU_TPMT_SIGNATURE_Marshal(&ts, tsig, cap_sig, tsig_len) != TSS2_RC_SUCCESS)
        die("TPMT_SIGNATURE", VFY_OK);
}

static int cmd_akimport(int argc, char **argv)
{
    bench_ak ak;
    unsigned char *der = NULL, pub[65];
    uint8_t msg[160], tpub[256], tsig[256];
    size_t publen, tpub_len = sizeof(tpub), tsig_len = sizeof(tsig);
    int derlen;
    const int n = 2000;
    double t0, pem_s, der_s, fromdata_s, tpm2b_s, miss_s, verify_s;
    vfy_ak *warm = NULL;

    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--cpu") == 0)
            akimport_cpu = 1;
    if (bench_ak_generate(&ak, 0) != 0 || (derlen = i2d_PUBKEY(ak.key, &der)) <= 0 ||
        EVP_PKEY_get_octet_string_param(ak.key, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub), &publen) != 1)
        die("AK", VFY_OK);
    t0 = akimport_now();
    for (int i = 0; i < n; i++) {
        vfy_ak *k = NULL;

        if (vfy_ak_from_pem(&k, ak.pub_pem, strlen(ak.pub_pem), NULL) != VFY_OK)
            die("vfy_ak_from_pem", VFY_OK);
        vfy_ak_free(&k);
    }
    pem_s = (akimport_now() - t0) / n;
    t0 = akimport_now();
    for (int i = 0; i < n; i++) {
        const unsigned char *p = der;
        EVP_PKEY *k = d2i_PUBKEY(NULL, &p, derlen);

        if (k == NULL)
            die("d2i_PUBKEY", VFY_OK);
        EVP_PKEY_free(k);
    }
    der_s = (akimport_now() - t0) / n;
    t0 = akimport_now();
    for (int i = 0; i < n; i++) {
        OSSL_PARAM params[3];
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        EVP_PKEY *k = NULL;

        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"P-256", 0);
        params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub, publen);
        params[2] = OSSL_PARAM_construct_end();
        if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
            EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) <= 0)
            die("fromdata", VFY_OK);
        EVP_PKEY_free(k);
        EVP_PKEY_CTX_free(ctx);
    }
    fromdata_s = (akimport_now() - t0) / n;

    RAND_bytes(msg, sizeof(msg)); /* about a TPMS_ATTEST */
    akimport_tpm(ak.key, pub, msg, sizeof(msg), tpub, &tpub_len, tsig, &tsig_len);
    t0 = akimport_now();
    for (int i = 0; i < n; i++) {
        vfy_ak *k = NULL;

        if (vfy_ak_from_tpm2b_public(&k, tpub, tpub_len, NULL) != VFY_OK)
            die("vfy_ak_from_tpm2b_public", VFY_OK);
        vfy_ak_free(&k);
    }
    tpm2b_s = (akimport_now() - t0) / n;
    /* A miss: import, then the first verify with the new key. */
    t0 = akimport_now();
    for (int i = 0; i < n; i++) {
        vfy_ak *k = NULL;
        vfy_rc rc = vfy_ak_from_pem(&k, ak.pub_pem, strlen(ak.pub_pem), NULL);

        if (rc != VFY_OK || (rc = vfy_sig_verify(k, msg, sizeof(msg), tsig, tsig_len, NULL)) != VFY_OK)
            die("import + verify", rc);
        vfy_ak_free(&k);
    }
    miss_s = (akimport_now() - t0) / n;
    if (vfy_ak_from_pem(&warm, ak.pub_pem, strlen(ak.pub_pem), NULL) != VFY_OK)
        die("vfy_ak_from_pem", VFY_OK);
    t0 = akimport_now();
    for (int i = 0; i < n; i++) {
        vfy_rc rc = vfy_sig_verify(warm, msg, sizeof(msg), tsig, tsig_len, NULL);

        if (rc != VFY_OK)
            die("verify", rc);
    }
    verify_s = (akimport_now() - t0) / n;
    vfy_ak_free(&warm);
    printf("bench: ak_import_pem_us=%.1f us\n", pem_s * 1e6);
    printf("bench: ak_import_der_us=%.1f us\n", der_s * 1e6);
    printf("bench: ak_import_fromdata_us=%.1f us\n", fromdata_s * 1e6);
    printf("bench: ak_import_tpm2b_us=%.1f us\n", tpm2b_s * 1e6);
    printf("bench: ak_import_pem_first_verify_us=%.1f us\n", miss_s * 1e6);
    printf("bench: ak_verify_imported_us=%.1f us\n", verify_s * 1e6);
    OPENSSL_free(der);
    bench_ak_free(&ak);
    return 0;
}

/* ------------------------------------------------------------------ */
/* provision                                                            */

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap * 2 + (size_t)n + 1024;
        if ((b->p = realloc(b->p, b->cap)) == NULL)
            die("out of memory", VFY_OK);
    }
}

static void hexs(char *out, const uint8_t *d, size_t n)
{
    static const char x[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = x[d[i] >> 4];
        out[2 * i + 1] = x[d[i] & 15];
    }
    out[2 * n] = '\0';
}

enum { ITEM_ATT, ITEM_PCR, ITEM_COMP };

/* Import one bundle holding items [from, to) of kind @kind. */
static void import_batch(vfy_store *st, int kind, size_t from, size_t to, const bench_ak *ak,
                         const bench_fixture *f)
{
    static const char *kinds[] = {"model", "tool", "policy", "context"};
    sbuf b = {NULL, 0, 0};
    char pem[1024], h[65];
    size_t j = 0;
    vfy_rc rc;

    for (const char *s = ak->pub_pem; *s && j + 3 < sizeof(pem); s++) {
        if (*s == '\n') {
            pem[j++] = '\\';
            pem[j++] = 'n';
        } else {
            pem[j++] = *s;
        }
    }
    pem[j] = '\0';
    sb_add(&b, "{\"format\":\"verifierd-refvalues\",\"version\":1,\"%s\":[",
           kind == ITEM_ATT ? "attesters" : kind == ITEM_PCR ? "pcrs" : "components");
    for (size_t i = from; i < to; i++) {
        const char *sep = i > from ? "," : "";

        if (kind == ITEM_ATT) {
            sb_add(&b, "%s{\"name\":\"bench-%07zu\",\"ak_pem\":\"%s\",\"scheme\":\"%s\","
                       "\"refset\":\"default\",\"state\":\"active\"}",
                   sep, i, pem, ak->rsa ? "rsassa-sha256" : "ecdsa-sha256");
        } else if (kind == ITEM_PCR) {
            unsigned idx = (unsigned)(i % 8);
            uint8_t d[32];

            if (i < 8)
                memcpy(d, f->pcr[idx], 32);
            else
                RAND_bytes(d, 32);
            hexs(h, d, 32);
            sb_add(&b, "%s{\"set\":\"default\",\"bank\":\"sha256\",\"index\":%u,\"digest\":\"%s\","
                       "\"state\":\"approved\"}", sep, idx, h);
        } else {
            uint8_t d[32];

            if (i < 4) {
                memcpy(d, f->comp_digest[i], 32);
                hexs(h, d, 32);
                sb_add(&b, "%s{\"kind\":\"%s\",\"name\":\"%s\",\"version\":\"%s\",\"digest\":\"sha256:%s\","
                           "\"state\":\"approved\",\"note\":\"bench\"}",
                       sep, kinds[i], i == 0 ? "bench-model" : i == 1 ? "bench.tool" : i == 2 ? "bench-policy" : "context",
                       i == 1 ? "1.0.0" : "", h);
            } else {
                RAND_bytes(d, 32);
                hexs(h, d, 32);
                sb_add(&b, "%s{\"kind\":\"%s\",\"name\":\"filler-%zu\",\"version\":\"\",\"digest\":\"sha256:%s\","
                           "\"state\":\"approved\",\"note\":\"bench filler\"}",
                       sep, kinds[i % 2], i, h);
            }
        }
    }
    sb_add(&b, "]}");
    if ((rc = vfy_store_import(st, b.p, b.len, NULL)) != VFY_OK) {
        fprintf(stderr, "vfy-bench: import: %s\n", vfy_store_errmsg(st));
        die("import", rc);
    }
    free(b.p);
}

static int cmd_provision(int argc, char **argv)
{
    const char *db = NULL, *keyfile = NULL;
    size_t natt = 10, nrefs = 1000, npcr, ncomp;
    int rsa = 0;
    bench_ak ak;
    bench_fixture f;
    vfy_store *st = NULL;
    double t0 = bench_now();
    const size_t batch = 50000;
    vfy_rc rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) db = argv[++i];
        else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc) keyfile = argv[++i];
        else if (strcmp(argv[i], "--attesters") == 0 && i + 1 < argc) natt = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--refs") == 0 && i + 1 < argc) nrefs = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--rsa") == 0) rsa = 1;
        else { fprintf(stderr, "vfy-bench provision: bad argument %s\n", argv[i]); return 2; }
    }
    if (db == NULL || keyfile == NULL || nrefs < 12 || natt < 1)
        return fprintf(stderr, "vfy-bench provision: need --db, --key, --refs >= 12\n"), 2;
    bench_fixture_init(&f);
    if (bench_ak_load(&ak, keyfile) != 0) {
        if (bench_ak_generate(&ak, rsa) != 0 || bench_ak_save(&ak, keyfile) != 0)
            die("AK", VFY_OK);
    }
    if ((rc = vfy_store_open(&st, db, VFY_STORE_CREATE | VFY_STORE_MIGRATE)) != VFY_OK)
        die(db, rc);
    (void)vfy_store_set_actor(st, "vfy-bench");
    /* Half the reference values are PCR values of set "default" (spread over
     * PCRs 0-7), half components; the first 8 / 4 are the ones the evidence shows. */
    npcr = nrefs / 2;
    ncomp = nrefs - npcr;
    for (size_t i = 0; i < natt; i += batch)
        import_batch(st, ITEM_ATT, i, i + batch < natt ? i + batch : natt, &ak, &f);
    for (size_t i = 0; i < npcr; i += batch)
        import_batch(st, ITEM_PCR, i, i + batch < npcr ? i + batch : npcr, &ak, &f);
    for (size_t i = 0; i < ncomp; i += batch)
        import_batch(st, ITEM_COMP, i, i + batch < ncomp ? i + batch : ncomp, &ak, &f);
    vfy_store_close(&st);
    fprintf(stderr, "vfy-bench: provisioned %s: %zu attesters, %zu reference values in %.1f s\n",
            db, natt, nrefs, bench_now() - t0);
    bench_ak_free(&ak);
    return 0;
}

/* ------------------------------------------------------------------ */
/* appraise                                                             */

static int cmd_appraise(int argc, char **argv)
{
    const char *db = NULL, *keyfile = NULL, *label = "appraise";
    size_t natt = 10, count = 20000, warm = 200, group = 0, held = 0;
    int steady = 0;
    vfy_appraiser_config cfg = {.profile = VFY_EAR_PROFILE_IETF, .record_results = 1};
    vfy_committer *cm = NULL;
    vfy_cmw_format fmt = VFY_CMW_JSON;
    bench_ak ak;
    bench_fixture f;
    vfy_store *st = NULL;
    vfy_appraiser *ap = NULL;
    vfy_signing_key *sk = NULL;
    uint8_t (*nonces)[64];
    uint8_t **ev;
    size_t *evlen, bad = 0;
    char (*names)[32];
    double t0, dt;
    vfy_rc rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) db = argv[++i];
        else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc) keyfile = argv[++i];
        else if (strcmp(argv[i], "--attesters") == 0 && i + 1 < argc) natt = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) count = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--label") == 0 && i + 1 < argc) label = argv[++i];
        else if (strcmp(argv[i], "--cbor") == 0) fmt = VFY_CMW_CBOR;
        else if (strcmp(argv[i], "--group") == 0 && i + 1 < argc) group = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--steady") == 0) steady = 1;
        else { fprintf(stderr, "vfy-bench appraise: bad argument %s\n", argv[i]); return 2; }
    }
    if (db == NULL || keyfile == NULL || natt < 1 || count < 1)
        return fprintf(stderr, "vfy-bench appraise: need --db and --key\n"), 2;
    bench_fixture_init(&f);
    if (bench_ak_load(&ak, keyfile) != 0)
        die(keyfile, VFY_OK);
    /* The bench's own databases outlive library upgrades: migrate them. */
    if ((rc = vfy_store_open(&st, db, VFY_STORE_MIGRATE)) != VFY_OK)
        die(db, rc);
    if (group > 1 && (rc = vfy_committer_new(&cm, st, (unsigned)group)) != VFY_OK)
        die("committer", rc);
    cfg.committer = cm;
    if ((rc = vfy_appraiser_new(&ap, st, &cfg)) != VFY_OK || (rc = vfy_signing_key_generate(&sk)) != VFY_OK)
        die("appraiser", rc);
    /* --steady: an untimed first pass appraises every attester of the timed
     * pass once, so the timed pass measures returning attesters (their
     * state rows exist) rather than first appraisals. */
    if (steady)
        warm = count;
    count += warm;
    nonces = malloc(count * sizeof(*nonces));
    ev = calloc(count, sizeof(*ev));
    evlen = calloc(count, sizeof(*evlen));
    names = malloc(count * sizeof(*names));
    if (nonces == NULL || ev == NULL || evlen == NULL || names == NULL)
        die("out of memory", VFY_OK);
    /* Pre-make the evidence (not timed). Attesters: a full-period walk over
     * all N (a stride coprime to N), so with many attesters every request
     * is for a different one, as with many agents. */
    {
        size_t stride = 1;

        if (natt > 1000) {
            stride = 7919;
            while (natt % stride == 0)
                stride += 2;
        }
        vfy_nonce_key *nk = NULL;

        /* Nonces as verifierd issues them (60 s), so the results recorded
         * carry real expiries: random bytes read as an expiry would push the
         * store's restart window (nonce_lead) to a day. */
        if ((rc = vfy_nonce_key_generate(&nk)) != VFY_OK)
            die("nonce key", rc);
        for (size_t i = 0; i < count; i++) {
            if ((rc = vfy_nonce_issue(nk, (uint64_t)time(NULL), 60, nonces[i], NULL)) != VFY_OK)
                die("nonce", rc);
            RAND_bytes(nonces[i] + 32, 32);
            if (bench_evidence(&ak, &f, nonces[i], nonces[i] + 32, fmt, &ev[i], &evlen[i]) != 0)
                die("evidence", VFY_OK);
            snprintf(names[i], sizeof(names[i]), "bench-%07zu",
                     ((steady ? i % (count - warm) : i) * stride) % natt);
        }
        vfy_nonce_key_free(&nk);
    }
    t0 = 0;
    for (size_t i = 0; i < count; i++) {
        vfy_appraisal_request req;
        vfy_result *res = NULL;
        char *jws = NULL, detail[256];

        if (i == warm)
            t0 = bench_now();
        memset(&req, 0, sizeof(req));
        req.evidence = ev[i];
        req.evidence_len = evlen[i];
        req.format = fmt;
        req.nonce = nonces[i];
        req.channel_binding = nonces[i] + 32;
        req.attester = names[i];
        req.nonce_status = VFY_OK;
        req.nonce_issued_at = (uint64_t)time(NULL); /* consumed just now */
        if ((rc = vfy_appraise(ap, &req, &res, detail, sizeof(detail))) != VFY_OK) {
            fprintf(stderr, "vfy-bench: appraise: %s: %s\n", vfy_strerror(rc), detail);
            die("appraise", rc);
        }
        if ((rc = vfy_result_sign(res, sk, &jws)) != VFY_OK)
            die("sign", rc);
        if (vfy_result_status(res) != VFY_EAR_AFFIRMING) {
            if (bad++ == 0)
                fprintf(stderr, "vfy-bench: not affirming: %s\n",
                        vfy_result_reason_count(res) ? vfy_result_reason(res, 0) : "?");
        }
        /* With --group G a committer commits every G appraisals (its
         * max_batch); an EAR is released (here: freed) only once
         * vfy_committer_wait() says its result is durable. A real caller
         * would hold the EAR until then; waiting at once here commits
         * the batch early, so the bench waits for the batch-filling one
         * and checks the rest through it. */
        if (cm != NULL && (++held == group || i + 1 == count)) {
            if ((rc = vfy_committer_wait(cm, res)) != VFY_OK)
                die("commit", rc);
            held = 0;
        }
        vfy_free(jws);
        vfy_result_free(&res);
    }
    dt = bench_now() - t0;
    count -= warm;
    printf("bench: %s=%.0f appraisals/s\n", label, (double)count / dt);
    if (bad > 0) {
        fprintf(stderr, "vfy-bench: %zu of %zu results were not affirming\n", bad, count + warm);
        return 1;
    }
    for (size_t i = 0; i < count + warm; i++)
        vfy_free(ev[i]);
    free(ev);
    free(evlen);
    free(nonces);
    free(names);
    vfy_signing_key_free(&sk);
    vfy_appraiser_free(&ap);
    vfy_committer_free(&cm);
    vfy_store_close(&st);
    bench_ak_free(&ak);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: vfy-bench crypto|provision|appraise|http ...\n");
        return 2;
    }
    if (strcmp(argv[1], "crypto") == 0)
        return cmd_crypto(argc - 1, argv + 1);
    if (strcmp(argv[1], "provision") == 0)
        return cmd_provision(argc - 1, argv + 1);
    if (strcmp(argv[1], "appraise") == 0)
        return cmd_appraise(argc - 1, argv + 1);
    if (strcmp(argv[1], "akimport") == 0)
        return cmd_akimport(argc - 1, argv + 1);
    if (strcmp(argv[1], "http") == 0)
        return bench_http_main(argc - 1, argv + 1);
    fprintf(stderr, "vfy-bench: unknown subcommand %s\n", argv[1]);
    return 2;
}
