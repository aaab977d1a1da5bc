/*
 * test_tpm_quote.c — TPM quote verification (quote.h, ak.h, pcr.h, clock.h,
 * binder.h; tpm_attest.c, tpm_ak.c, tpm_sig.c, pcr_values.c, tpm_quote.c,
 * tpm_clock.c), DESIGN §3.
 *
 * Vectors: tests/fixtures/quote/<case>/ made by a real swtpm
 * (tests/fixtures/gen-quote-fixtures.sh), each with an `expect` file naming
 * the exact result. On top of the table, the good fixtures are mutated byte
 * by byte and every mutation must give its exact error. Expected values
 * (PCR digests, binders, key fingerprints, attest fields) are recomputed here
 * independently with OpenSSL and plain byte reads.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <tss2/tss2_mu.h>

#include "verify/verify.h"

/* ---- helpers --------------------------------------------------------------- */

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

static const char *fixtures(void)
{
    const char *d = getenv("VFY_FIXTURES");

    cr_assert(d != NULL && *d != 0, "VFY_FIXTURES is not set (run through ctest)");
    return d;
}

/* Read a whole file (NUL-terminated for convenience); fails the test if absent. */
static buf read_path(const char *path)
{
    buf b = {NULL, 0};
    FILE *f = fopen(path, "rb");
    long n;

    cr_assert(f != NULL, "cannot open %s", path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    cr_assert(n >= 0 && n < 1024 * 1024, "%s: bad size", path);
    rewind(f);
    b.p = malloc((size_t)n + 1);
    cr_assert_not_null(b.p);
    b.len = fread(b.p, 1, (size_t)n, f);
    cr_assert_eq(b.len, (size_t)n, "%s: short read", path);
    b.p[b.len] = 0;
    fclose(f);
    return b;
}

static buf read_fx(const char *dir, const char *name)
{
    char path[1024];
    int n = snprintf(path, sizeof(path), "%s/quote/%s/%s", fixtures(), dir, name);

    cr_assert(n > 0 && (size_t)n < sizeof(path));
    return read_path(path);
}

static int fx_exists(const char *dir, const char *name)
{
    char path[1024];
    struct stat st;
    int n = snprintf(path, sizeof(path), "%s/quote/%s/%s", fixtures(), dir, name);

    cr_assert(n > 0 && (size_t)n < sizeof(path));
    return stat(path, &st) == 0;
}

/* Strip trailing whitespace in place. */
static void chomp(buf *b)
{
    while (b->len > 0 && (b->p[b->len - 1] == '\n' || b->p[b->len - 1] == '\r' ||
                          b->p[b->len - 1] == ' '))
        b->p[--b->len] = 0;
}

static void hex32(uint8_t out[32], const char *hex)
{
    size_t n = 0;

    cr_assert_eq(strlen(hex), 64, "expected 64 hex chars: %s", hex);
    cr_assert_eq(vfy_hex_decode(out, 32, &n, hex, 64), VFY_OK);
    cr_assert_eq(n, 32);
}

/* Value of "key=" line in an expect file, or NULL. Returns a pointer into b. */
static const char *expect_line(buf *b, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key);
    const char *s = (const char *)b->p;

    while (s != NULL && *s) {
        const char *nl = strchr(s, '\n');
        size_t llen = nl ? (size_t)(nl - s) : strlen(s);

        if (llen > klen && strncmp(s, key, klen) == 0 && s[klen] == '=') {
            size_t vlen = llen - klen - 1;

            cr_assert(vlen < cap);
            memcpy(out, s + klen + 1, vlen);
            out[vlen] = 0;
            return out;
        }
        s = nl ? nl + 1 : NULL;
    }
    return NULL;
}

/* A loaded fixture case. */
typedef struct fx {
    char name[256];
    buf pem, pub, attest, sig, pcrs_json;
    vfy_sig_scheme scheme;
    char scheme_name[32];
    uint8_t binder[32];
    vfy_ak *ak;            /* from ak.pem, pinned to `scheme` */
    vfy_pcr_values pcrs;
} fx;

static void fx_load(fx *f, const char *name)
{
    buf s, b;

    memset(f, 0, sizeof(*f));
    cr_assert(strlen(name) < sizeof(f->name));
    memcpy(f->name, name, strlen(name) + 1);
    f->pem = read_fx(name, "ak.pem");
    f->pub = read_fx(name, "ak.pub");
    f->attest = read_fx(name, "attest.bin");
    f->sig = read_fx(name, "sig.bin");
    f->pcrs_json = read_fx(name, "pcrs.json");
    s = read_fx(name, "scheme");
    chomp(&s);
    cr_assert(s.len < sizeof(f->scheme_name));
    memcpy(f->scheme_name, s.p, s.len + 1);
    buf_free(&s);
    cr_assert_eq(vfy_sig_scheme_parse(&f->scheme, f->scheme_name), VFY_OK,
                 "%s: scheme %s", name, f->scheme_name);
    b = read_fx(name, "binder.hex");
    chomp(&b);
    hex32(f->binder, (const char *)b.p);
    buf_free(&b);
    cr_assert_eq(vfy_ak_from_pem(&f->ak, (const char *)f->pem.p, f->pem.len, &f->scheme),
                 VFY_OK, "%s: ak.pem import", name);
    cr_assert_eq(vfy_pcr_values_parse(&f->pcrs, (const char *)f->pcrs_json.p,
                                      f->pcrs_json.len),
                 VFY_OK, "%s: pcrs.json", name);
}

static void fx_free(fx *f)
{
    buf_free(&f->pem);
    buf_free(&f->pub);
    buf_free(&f->attest);
    buf_free(&f->sig);
    buf_free(&f->pcrs_json);
    vfy_ak_free(&f->ak);
    cr_assert_null(f->ak);
}

static int all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;

    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return 0;
    return 1;
}

/*
 * Verify with the given pieces and assert the exact result. On failure the
 * info struct (pre-filled with garbage) must come back zeroed.
 */
static void expect_verify(const char *what, const vfy_ak *ak, const uint8_t *attest,
                          size_t alen, const uint8_t *sig, size_t slen,
                          const vfy_pcr_values *pcrs, const uint8_t binder[32],
                          const char *want)
{
    vfy_attest info;
    vfy_rc rc;

    memset(&info, 0xA5, sizeof(info));
    rc = vfy_quote_verify(ak, attest, alen, sig, slen, pcrs, binder, &info);
    cr_assert_str_eq(vfy_rc_name(rc), want, "%s: got %s, want %s", what,
                     vfy_rc_name(rc), want);
    if (rc != VFY_OK)
        cr_assert(all_zero(&info, sizeof(info)), "%s: info not zeroed on failure", what);
    else
        cr_assert_eq(memcmp(info.extra_data, binder, 32), 0, "%s", what);
}

static void expect_fx(const char *what, const fx *f, const uint8_t *attest, size_t alen,
                      const uint8_t *sig, size_t slen, const char *want)
{
    expect_verify(what, f->ak, attest, alen, sig, slen, &f->pcrs, f->binder, want);
}

/* Big-endian reads of the attest bytes, independent of the library. */
static uint64_t be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;

    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Offsets inside a TPMS_ATTEST quote (TPM 2.0 Part 2, 10.12.12). */
typedef struct attest_off {
    size_t name;       /* TPM2B_NAME qualifiedSigner size field */
    size_t extra;      /* TPM2B_DATA extraData size field */
    size_t clock;      /* TPMS_CLOCK_INFO: clock u64, reset u32, restart u32, safe u8 */
    size_t firmware;   /* u64 */
    size_t select;     /* TPML_PCR_SELECTION count field */
    size_t digest;     /* TPM2B_DIGEST size field */
} attest_off;

static attest_off offsets(const buf *a)
{
    attest_off o;
    size_t sel_count, p;

    cr_assert(a->len > 12);
    o.name = 6;
    o.extra = o.name + 2 + (size_t)be(a->p + o.name, 2);
    cr_assert(o.extra + 2 < a->len);
    o.clock = o.extra + 2 + (size_t)be(a->p + o.extra, 2);
    o.firmware = o.clock + 17;
    o.select = o.firmware + 8;
    cr_assert(o.select + 4 < a->len);
    sel_count = (size_t)be(a->p + o.select, 4);
    p = o.select + 4;
    for (size_t i = 0; i < sel_count; i++) {
        cr_assert(p + 3 <= a->len);
        p += 3 + a->p[p + 2];
    }
    o.digest = p;
    cr_assert_eq(o.digest + 2 + be(a->p + o.digest, 2), a->len, "attest layout");
    return o;
}

/* H(PCR values of the sha256 bank, ascending) computed with OpenSSL. */
static size_t pcr_digest_openssl(const vfy_pcr_values *pv, const EVP_MD *md,
                                 uint8_t out[EVP_MAX_MD_SIZE])
{
    const vfy_pcr_bank *b = vfy_pcr_values_bank(pv, VFY_HASH_SHA256);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int n = 0;

    cr_assert_not_null(b);
    cr_assert_not_null(ctx);
    cr_assert_eq(EVP_DigestInit_ex(ctx, md, NULL), 1);
    for (unsigned i = 0; i < VFY_PCR_COUNT; i++)
        if (b->mask & (1u << i))
            cr_assert_eq(EVP_DigestUpdate(ctx, b->values[i], 32), 1);
    cr_assert_eq(EVP_DigestFinal_ex(ctx, out, &n), 1);
    EVP_MD_CTX_free(ctx);
    return n;
}

static const char *const GOOD[] = {
    "ecc-p256-ecdsa-sha256", "ecc-p384-ecdsa-sha384",
    "rsa2048-rsassa-sha256", "rsa2048-rsapss-sha256",
};
#define NGOOD (sizeof(GOOD) / sizeof(GOOD[0]))

/* ---- the fixture table ----------------------------------------------------- */

Test(tpm_quote, fixture_table)
{
    char path[1024];
    DIR *d;
    struct dirent *e;
    size_t ncases = 0, nok = 0, nfail = 0;

    snprintf(path, sizeof(path), "%s/quote", fixtures());
    d = opendir(path);
    cr_assert_not_null(d, "no fixture directory %s", path);
    while ((e = readdir(d)) != NULL) {
        char want[64], want_pub[64];
        buf ex;
        fx f;
        vfy_ak *akpub = NULL;
        vfy_rc rc;

        if (e->d_name[0] == '.' || !fx_exists(e->d_name, "expect"))
            continue;
        ex = read_fx(e->d_name, "expect");
        cr_assert_not_null(expect_line(&ex, "libverify", want, sizeof(want)),
                           "%s: expect has no libverify= line", e->d_name);
        if (expect_line(&ex, "akpub", want_pub, sizeof(want_pub)) == NULL)
            memcpy(want_pub, "VFY_OK", sizeof("VFY_OK"));
        buf_free(&ex);

        fx_load(&f, e->d_name);
        cr_log_info("fixture %s: want %s", f.name, want);
        expect_fx(f.name, &f, f.attest.p, f.attest.len, f.sig.p, f.sig.len, want);

        /* The same key imported from TPM2B_PUBLIC gives the same verdict. */
        rc = vfy_ak_from_tpm2b_public(&akpub, f.pub.p, f.pub.len, &f.scheme);
        cr_assert_str_eq(vfy_rc_name(rc), want_pub, "%s: ak.pub import: %s", f.name,
                         vfy_rc_name(rc));
        if (rc == VFY_OK) {
            uint8_t fp1[32], fp2[32];

            cr_assert_eq(vfy_ak_fingerprint(f.ak, fp1), VFY_OK);
            cr_assert_eq(vfy_ak_fingerprint(akpub, fp2), VFY_OK);
            cr_assert_eq(memcmp(fp1, fp2, 32), 0, "%s: fingerprints differ", f.name);
            expect_verify(f.name, akpub, f.attest.p, f.attest.len, f.sig.p, f.sig.len,
                          &f.pcrs, f.binder, want);
        } else {
            cr_assert_null(akpub, "%s: *out not NULL after failed import", f.name);
        }
        vfy_ak_free(&akpub);
        fx_free(&f);
        ncases++;
        if (strcmp(want, "VFY_OK") == 0)
            nok++;
        else
            nfail++;
    }
    closedir(d);
    /* The table must not silently shrink. */
    cr_assert_geq(ncases, 10, "only %zu fixture cases found", ncases);
    cr_assert_geq(nok, NGOOD);
    cr_assert_geq(nfail, 6);
}

Test(tpm_quote, good_fixture_info_and_independent_pcr_digest)
{
    for (size_t k = 0; k < NGOOD; k++) {
        fx f;
        vfy_attest info, parsed;
        attest_off o;
        uint8_t want[EVP_MAX_MD_SIZE];
        size_t wlen;
        const EVP_MD *md;
        vfy_hash_alg h = 0;

        fx_load(&f, GOOD[k]);
        o = offsets(&f.attest);
        cr_assert_eq(vfy_quote_verify(f.ak, f.attest.p, f.attest.len, f.sig.p, f.sig.len,
                                      &f.pcrs, f.binder, &info), VFY_OK, "%s", f.name);
        cr_assert_eq(vfy_attest_parse(&parsed, f.attest.p, f.attest.len), VFY_OK);
        cr_assert_eq(memcmp(&info, &parsed, sizeof(info)), 0,
                     "%s: verify info differs from attest_parse", f.name);

        /* Fields, read independently from the bytes. */
        cr_assert_eq(info.clock.clock, be(f.attest.p + o.clock, 8), "%s", f.name);
        cr_assert_eq(info.clock.reset_count, (uint32_t)be(f.attest.p + o.clock + 8, 4));
        cr_assert_eq(info.clock.restart_count, (uint32_t)be(f.attest.p + o.clock + 12, 4));
        cr_assert_eq(info.clock.safe, f.attest.p[o.clock + 16]);
        cr_assert_eq(info.clock.safe, 1);
        cr_assert_gt(info.clock.clock, 0);
        cr_assert_eq(info.firmware_version, be(f.attest.p + o.firmware, 8));
        cr_assert_neq(info.firmware_version, 0);
        cr_assert_eq(info.extra_data_len, 32);
        cr_assert_eq(memcmp(info.extra_data, f.binder, 32), 0);
        cr_assert_eq(info.signer_name_len, be(f.attest.p + o.name, 2));
        cr_assert_eq(info.signer_name_len, 34); /* nameAlg sha256 + 32 */
        cr_assert_eq(memcmp(info.signer_name, f.attest.p + o.name + 2, 34), 0);
        cr_assert_eq(info.nselect, 1);
        cr_assert_eq(info.select[0].alg, VFY_HASH_SHA256);
        cr_assert_eq(info.select[0].mask, 0x008000ffu, "%s: mask %x", f.name,
                     info.select[0].mask);

        /* pcrDigest uses the signature's hash, over the sha256 bank values. */
        cr_assert_eq(vfy_sig_verify(f.ak, f.attest.p, f.attest.len, f.sig.p, f.sig.len, &h),
                     VFY_OK, "%s", f.name);
        cr_assert_eq(h, f.scheme.hash);
        md = f.scheme.hash == VFY_HASH_SHA384 ? EVP_sha384() : EVP_sha256();
        wlen = pcr_digest_openssl(&f.pcrs, md, want);
        cr_assert_eq(info.pcr_digest_len, wlen, "%s", f.name);
        cr_assert_eq(memcmp(info.pcr_digest, want, wlen), 0, "%s: pcrDigest", f.name);
        cr_assert_eq(memcmp(info.pcr_digest, f.attest.p + o.digest + 2, wlen), 0);
        fx_free(&f);
    }
}

Test(tpm_quote, info_is_optional)
{
    fx f;

    fx_load(&f, GOOD[0]);
    cr_assert_eq(vfy_quote_verify(f.ak, f.attest.p, f.attest.len, f.sig.p, f.sig.len,
                                  &f.pcrs, f.binder, NULL), VFY_OK);
    f.binder[0] ^= 1;
    cr_assert_eq(vfy_quote_verify(f.ak, f.attest.p, f.attest.len, f.sig.p, f.sig.len,
                                  &f.pcrs, f.binder, NULL), VFY_E_BINDER_MISMATCH);
    fx_free(&f);
}

/* ---- mutations of the attest bytes ----------------------------------------- */

Test(tpm_quote, attest_every_truncation)
{
    for (size_t k = 0; k < NGOOD; k++) {
        fx f;

        fx_load(&f, GOOD[k]);
        for (size_t n = 0; n < f.attest.len; n++) {
            uint8_t *cut = malloc(n ? n : 1);
            char what[320];
            vfy_attest a;

            cr_assert_not_null(cut);
            memcpy(cut, f.attest.p, n);
            snprintf(what, sizeof(what), "%s attest[0..%zu)", f.name, n);
            /* magic (4) + type (2) is the header */
            expect_fx(what, &f, cut, n, f.sig.p, f.sig.len,
                      n < 6 ? "VFY_E_TRUNCATED" : "VFY_E_ATTEST_MALFORMED");
            memset(&a, 0x5A, sizeof(a));
            cr_assert_str_eq(vfy_rc_name(vfy_attest_parse(&a, cut, n)),
                             n < 6 ? "VFY_E_TRUNCATED" : "VFY_E_ATTEST_MALFORMED", "%s", what);
            cr_assert(all_zero(&a, sizeof(a)), "%s: attest_parse output not zeroed", what);
            free(cut);
        }
        fx_free(&f);
    }
}

Test(tpm_quote, attest_trailing_magic_type)
{
    for (size_t k = 0; k < NGOOD; k++) {
        fx f;
        uint8_t *m;
        size_t n;

        fx_load(&f, GOOD[k]);
        n = f.attest.len;
        m = malloc(n + 1);
        cr_assert_not_null(m);

        memcpy(m, f.attest.p, n);
        m[n] = 0;
        expect_fx("trailing byte", &f, m, n + 1, f.sig.p, f.sig.len, "VFY_E_TRAILING");

        for (size_t i = 0; i < 4; i++) {
            memcpy(m, f.attest.p, n);
            m[i] ^= 0x01;
            expect_fx("bad magic", &f, m, n, f.sig.p, f.sig.len, "VFY_E_ATTEST_MAGIC");
        }

        memcpy(m, f.attest.p, n);
        m[4] = 0x80;
        m[5] = 0x17; /* TPM_ST_ATTEST_CERTIFY */
        expect_fx("certify type", &f, m, n, f.sig.p, f.sig.len, "VFY_E_ATTEST_TYPE");
        m[5] = 0x19; /* TPM_ST_ATTEST_SESSION_AUDIT */
        expect_fx("audit type", &f, m, n, f.sig.p, f.sig.len, "VFY_E_ATTEST_TYPE");

        /* Too large to be a TPMS_ATTEST at all. */
        {
            uint8_t *big = calloc(VFY_ATTEST_MAX + 1, 1);

            cr_assert_not_null(big);
            memcpy(big, f.attest.p, n);
            expect_fx("oversized", &f, big, VFY_ATTEST_MAX + 1, f.sig.p, f.sig.len,
                      "VFY_E_TOO_LARGE");
            free(big);
        }
        free(m);
        fx_free(&f);
    }
}

/*
 * Every byte of clockInfo and firmwareVersion, one extraData byte and one
 * pcrDigest byte: the structure still parses, but the signature no longer
 * covers it. Signature is checked before binder and PCRs (quote.h order).
 */
Test(tpm_quote, attest_signed_fields_changed)
{
    for (size_t k = 0; k < NGOOD; k++) {
        fx f;
        attest_off o;
        uint8_t *m;

        fx_load(&f, GOOD[k]);
        o = offsets(&f.attest);
        m = malloc(f.attest.len);
        cr_assert_not_null(m);
        for (size_t i = o.clock; i < o.firmware + 8; i++) {
            char what[320];

            memcpy(m, f.attest.p, f.attest.len);
            m[i] ^= 0x01;
            snprintf(what, sizeof(what), "%s attest byte %zu (clock/firmware)", f.name, i);
            expect_fx(what, &f, m, f.attest.len, f.sig.p, f.sig.len, "VFY_E_SIG_INVALID");
        }
        memcpy(m, f.attest.p, f.attest.len);
        m[o.extra + 2] ^= 0x80;
        expect_fx("extraData byte", &f, m, f.attest.len, f.sig.p, f.sig.len,
                  "VFY_E_SIG_INVALID");
        memcpy(m, f.attest.p, f.attest.len);
        m[f.attest.len - 1] ^= 0x80;
        expect_fx("pcrDigest byte", &f, m, f.attest.len, f.sig.p, f.sig.len,
                  "VFY_E_SIG_INVALID");
        memcpy(m, f.attest.p, f.attest.len);
        m[o.name + 5] ^= 0x80;
        expect_fx("signer name byte", &f, m, f.attest.len, f.sig.p, f.sig.len,
                  "VFY_E_SIG_INVALID");
        free(m);
        fx_free(&f);
    }
}

Test(tpm_quote, attest_parse_selection_banks)
{
    fx f;
    attest_off o;
    vfy_attest a;
    uint8_t m[VFY_ATTEST_MAX];
    size_t sel, n;

    fx_load(&f, GOOD[0]);
    o = offsets(&f.attest);
    sel = o.select + 4; /* first TPMS_PCR_SELECTION: hash u16, size u8, bitmap */
    cr_assert_eq(be(f.attest.p + o.select, 4), 1);
    cr_assert_eq(be(f.attest.p + sel, 2), 0x000b);
    cr_assert_eq(f.attest.p[sel + 2], 3);

    /* sha1 bank */
    memcpy(m, f.attest.p, f.attest.len);
    m[sel + 1] = 0x04;
    memset(&a, 0x77, sizeof(a));
    cr_assert_str_eq(vfy_rc_name(vfy_attest_parse(&a, m, f.attest.len)), "VFY_E_PCR_BANK");
    cr_assert(all_zero(&a, sizeof(a)));
    expect_fx("sha1 bank", &f, m, f.attest.len, f.sig.p, f.sig.len, "VFY_E_PCR_BANK");

    /* sha512 bank */
    m[sel + 1] = 0x0d;
    cr_assert_str_eq(vfy_rc_name(vfy_attest_parse(&a, m, f.attest.len)), "VFY_E_PCR_BANK");

    /* A fourth bitmap byte selecting PCR 24. */
    n = 0;
    memcpy(m, f.attest.p, sel + 2);
    n = sel + 2;
    m[n++] = 4;
    memcpy(m + n, f.attest.p + sel + 3, 3);
    n += 3;
    m[n++] = 0x01;
    memcpy(m + n, f.attest.p + o.digest, f.attest.len - o.digest);
    n += f.attest.len - o.digest;
    cr_assert_str_eq(vfy_rc_name(vfy_attest_parse(&a, m, n)), "VFY_E_PCR_BANK");
    /* ...and the same with the fourth byte zero is fine (PCRs 0..23 only). */
    m[sel + 6] = 0x00;
    cr_assert_str_eq(vfy_rc_name(vfy_attest_parse(&a, m, n)), "VFY_OK");
    cr_assert_eq(a.select[0].mask, 0x008000ffu);

    /* The same bank twice. */
    memcpy(m, f.attest.p, o.select);
    n = o.select;
    m[n++] = 0; m[n++] = 0; m[n++] = 0; m[n++] = 2;
    memcpy(m + n, f.attest.p + sel, 6);
    n += 6;
    memcpy(m + n, f.attest.p + sel, 6);
    n += 6;
    memcpy(m + n, f.attest.p + o.digest, f.attest.len - o.digest);
    n += f.attest.len - o.digest;
    cr_assert_str_eq(vfy_rc_name(vfy_attest_parse(&a, m, n)), "VFY_E_PCR_BANK");
    fx_free(&f);
}

/* ---- mutations of the signature -------------------------------------------- */

Test(tpm_quote, sig_every_truncation_trailing_and_flip)
{
    for (size_t k = 0; k < NGOOD; k++) {
        fx f;
        uint8_t *m;
        size_t n;

        fx_load(&f, GOOD[k]);
        n = f.sig.len;
        m = malloc(n + 1);
        cr_assert_not_null(m);
        for (size_t i = 0; i < n; i++) {
            char what[320];

            memcpy(m, f.sig.p, i);
            snprintf(what, sizeof(what), "%s sig[0..%zu)", f.name, i);
            expect_fx(what, &f, f.attest.p, f.attest.len, m, i, "VFY_E_SIG_MALFORMED");
        }
        memcpy(m, f.sig.p, n);
        m[n] = 0;
        expect_fx("sig trailing", &f, f.attest.p, f.attest.len, m, n + 1, "VFY_E_TRAILING");

        /* Flip a bit inside the signature value: first bytes (after alg,
         * hash and the size field; ECDSA r), and the last bytes (ECDSA s). */
        {
            size_t at[4] = {6, 20, n - 20, n - 1};

            for (size_t j = 0; j < 4; j++) {
                memcpy(m, f.sig.p, n);
                m[at[j]] ^= 0x01;
                expect_fx("sig byte flipped", &f, f.attest.p, f.attest.len, m, n,
                          "VFY_E_SIG_INVALID");
            }
        }

        /* Signature hash field set to SHA-1. */
        memcpy(m, f.sig.p, n);
        m[2] = 0x00;
        m[3] = 0x04;
        expect_fx("sig hash sha1", &f, f.attest.p, f.attest.len, m, n, "VFY_E_SIG_HASH");
        free(m);
        fx_free(&f);
    }
}

Test(tpm_quote, wrong_binder)
{
    for (size_t k = 0; k < NGOOD; k++) {
        fx f;
        uint8_t b[32];

        fx_load(&f, GOOD[k]);
        for (size_t i = 0; i < 32; i += 31) {
            memcpy(b, f.binder, 32);
            b[i] ^= 0x01;
            expect_verify("binder flipped", f.ak, f.attest.p, f.attest.len, f.sig.p,
                          f.sig.len, &f.pcrs, b, "VFY_E_BINDER_MISMATCH");
        }
        memset(b, 0, 32);
        expect_verify("zero binder", f.ak, f.attest.p, f.attest.len, f.sig.p, f.sig.len,
                      &f.pcrs, b, "VFY_E_BINDER_MISMATCH");
        fx_free(&f);
    }
}

/* The AK is pinned: a signature in another scheme or hash is refused. */
Test(tpm_quote, ak_pinned_to_other_scheme)
{
    static const struct {
        const char *fixture, *pin, *want;
    } v[] = {
        /* same algorithm, other hash: "hash ... not the AK's" (error.h) */
        {"ecc-p256-ecdsa-sha256", "ecdsa-sha384", "VFY_E_SIG_HASH"},
        {"ecc-p384-ecdsa-sha384", "ecdsa-sha256", "VFY_E_SIG_HASH"},
        {"rsa2048-rsassa-sha256", "rsassa-sha384", "VFY_E_SIG_HASH"},
        /* other algorithm */
        {"rsa2048-rsassa-sha256", "rsapss-sha256", "VFY_E_SIG_SCHEME"},
        {"rsa2048-rsapss-sha256", "rsassa-sha256", "VFY_E_SIG_SCHEME"},
        {"rsa2048-rsapss-sha256", "rsapss-sha384", "VFY_E_SIG_HASH"},
    };

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        fx f;
        vfy_sig_scheme s;
        vfy_ak *ak = NULL;

        fx_load(&f, v[i].fixture);
        cr_assert_eq(vfy_sig_scheme_parse(&s, v[i].pin), VFY_OK);
        cr_assert_eq(vfy_ak_from_pem(&ak, (const char *)f.pem.p, f.pem.len, &s), VFY_OK,
                     "%s pinned %s", v[i].fixture, v[i].pin);
        expect_verify(v[i].pin, ak, f.attest.p, f.attest.len, f.sig.p, f.sig.len,
                      &f.pcrs, f.binder, v[i].want);
        vfy_ak_free(&ak);
        /* ak.pub carries its scheme: pinning another one is refused at import. */
        cr_assert_str_eq(vfy_rc_name(vfy_ak_from_tpm2b_public(&ak, f.pub.p, f.pub.len, &s)),
                         "VFY_E_SIG_SCHEME", "%s ak.pub pinned %s", v[i].fixture, v[i].pin);
        cr_assert_null(ak);
        fx_free(&f);
    }
}

/* ---- PCR values ------------------------------------------------------------ */

Test(tpm_quote, pcr_values_mutations)
{
    for (size_t k = 0; k < NGOOD; k++) {
        fx f;
        vfy_pcr_values pv;
        vfy_pcr_bank *b;
        uint8_t v48[48] = {1};

        fx_load(&f, GOOD[k]);
        cr_assert_eq(f.pcrs.nbanks, 1);

        for (unsigned i = 0; i < VFY_PCR_COUNT; i++) {
            if (!(f.pcrs.banks[0].mask & (1u << i)))
                continue;
            pv = f.pcrs;
            pv.banks[0].values[i][31] ^= 0x01;
            expect_verify("PCR value flipped", f.ak, f.attest.p, f.attest.len, f.sig.p,
                          f.sig.len, &pv, f.binder, "VFY_E_PCR_DIGEST");
            pv = f.pcrs;
            pv.banks[0].mask &= ~(1u << i);
            expect_verify("PCR missing", f.ak, f.attest.p, f.attest.len, f.sig.p,
                          f.sig.len, &pv, f.binder, "VFY_E_PCR_MISSING");
        }
        pv = f.pcrs;
        b = &pv.banks[0];
        cr_assert_eq(vfy_pcr_values_set(&pv, VFY_HASH_SHA256, 8, b->values[0]), VFY_OK);
        expect_verify("PCR 8 extra", f.ak, f.attest.p, f.attest.len, f.sig.p, f.sig.len,
                      &pv, f.binder, "VFY_E_PCR_EXTRA");
        pv = f.pcrs;
        cr_assert_eq(vfy_pcr_values_set(&pv, VFY_HASH_SHA384, 0, v48), VFY_OK);
        expect_verify("sha384 bank extra", f.ak, f.attest.p, f.attest.len, f.sig.p,
                      f.sig.len, &pv, f.binder, "VFY_E_PCR_EXTRA");
        memset(&pv, 0, sizeof(pv));
        expect_verify("no PCR values", f.ak, f.attest.p, f.attest.len, f.sig.p, f.sig.len,
                      &pv, f.binder, "VFY_E_PCR_MISSING");
        fx_free(&f);
    }
}

static void pcr_json_expect(const char *json, const char *want)
{
    vfy_pcr_values pv;
    vfy_rc rc;

    memset(&pv, 0x33, sizeof(pv));
    rc = vfy_pcr_values_parse(&pv, json, strlen(json));
    /* cr_expect: report every failing document, not just the first. */
    cr_expect_str_eq(vfy_rc_name(rc), want, "%s: got %s", json, vfy_rc_name(rc));
    if (rc != VFY_OK)
        cr_expect(all_zero(&pv, sizeof(pv)), "%s: output not zeroed", json);
}

#define H64 "0000000000000000000000000000000000000000000000000000000000000000"
#define H40 "0000000000000000000000000000000000000000"
#define H96 H64 "00000000000000000000000000000000"

Test(pcr_values, parse_negatives)
{
    static const struct {
        const char *json, *want;
    } v[] = {
        {"{\"sha256\":{\"0\":\"" H64 "\"}}", "VFY_OK"},
        {"{\"sha256\":{\"23\":\"" H64 "\"},\"sha384\":{\"0\":\"" H96 "\"}}", "VFY_OK"},
        {"{\"sha256\":{\"0\":\"zz" H64 "\"}}", "VFY_E_PCR_VALUES"},
        {"{\"sha256\":{\"0\":\"g" H64 "\"}}", "VFY_E_PCR_VALUES"},
        {"{\"sha256\":{\"0\":\"0g" H40 H40 "\"}}", "VFY_E_PCR_VALUES"},       /* non-hex */
        {"{\"sha256\":{\"0\":\"" H40 "\"}}", "VFY_E_PCR_VALUES"},             /* 20 bytes */
        {"{\"sha256\":{\"0\":\"" H96 "\"}}", "VFY_E_PCR_VALUES"},             /* 48 bytes */
        {"{\"sha256\":{\"0\":\"0" H64 "\"}}", "VFY_E_PCR_VALUES"},            /* odd */
        {"{\"sha256\":{\"0\":\"\"}}", "VFY_E_PCR_VALUES"},
        {"{\"sha256\":{\"0\":0}}", "VFY_E_PCR_VALUES"},
        {"{\"sha256\":{\"0\":\"" H64 "\",\"0\":\"" H64 "\"}}", "VFY_E_PCR_VALUES"},
        {"{\"sha256\":{\"0\":\"" H64 "\"},\"sha256\":{\"1\":\"" H64 "\"}}", "VFY_E_PCR_VALUES"},
        {"{\"sha1\":{\"0\":\"" H40 "\"}}", "VFY_E_PCR_BANK"},
        {"{\"sha512\":{\"0\":\"" H64 H64 "\"}}", "VFY_E_PCR_BANK"},
        {"{\"SHA256\":{\"0\":\"" H64 "\"}}", "VFY_E_PCR_BANK"},
        {"[]", "VFY_E_PCR_VALUES"},
        {"\"sha256\"", "VFY_E_PCR_VALUES"},
        {"null", "VFY_E_PCR_VALUES"},
        {"{\"sha256\":[]}", "VFY_E_PCR_VALUES"},
        {"{\"sha256\":\"" H64 "\"}", "VFY_E_PCR_VALUES"},
        {"{\"sha256\":{\"0\":\"" H64 "\"}", "VFY_E_PCR_VALUES"},            /* unclosed */
        {"{\"sha256\":{\"0\":\"" H64 "\"}} x", "VFY_E_PCR_VALUES"},         /* trailing */
        {"", "VFY_E_PCR_VALUES"},
        /* the strict parser of every other evidence document */
        {"\xef\xbb\xbf{\"sha256\":{\"0\":\"" H64 "\"}}", "VFY_E_PCR_VALUES"},   /* BOM */
        {"{\"sha256\":{\"0\":\"" H64 "\"},\"x\\u0000\":{}}", "VFY_E_PCR_VALUES"},
        {"{\"sha256\":{\"0\":\"" H64 "\"},\"x\":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]}",
         "VFY_E_PCR_VALUES"},                                                   /* 21 deep */
    };

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        pcr_json_expect(v[i].json, v[i].want);
}

/*
 * Indices: "0".."23" in canonical decimal (pcr.h). Anything else is a
 * malformed document (VFY_E_PCR_VALUES, "pcr-values JSON malformed"), not an
 * unsupported bank (VFY_E_PCR_BANK, which pcr.h reserves for banks).
 */
Test(pcr_values, parse_bad_index)
{
    static const char *keys[] = {"24", "99", "07", "00", "-1", "+1", " 1", "1 ", "1.0",
                                 "", "a", "4294967296", "100"};

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char json[160];

        snprintf(json, sizeof(json), "{\"sha256\":{\"%s\":\"" H64 "\"}}", keys[i]);
        pcr_json_expect(json, "VFY_E_PCR_VALUES");
    }
    pcr_json_expect("{\"sha256\":{\"23\":\"" H64 "\"}}", "VFY_OK");
    pcr_json_expect("{\"sha256\":{\"10\":\"" H64 "\"}}", "VFY_OK");
}

Test(pcr_values, size_cap)
{
    const char *head = "{\"sha256\":{\"0\":\"" H64 "\"}";
    size_t n = VFY_PCR_JSON_MAX + 1;
    char *big = malloc(n);
    vfy_pcr_values pv;

    cr_assert_not_null(big);
    /* A valid document padded with whitespace to one byte over the cap. */
    memset(big, ' ', n);
    memcpy(big, head, strlen(head));
    big[n - 1] = '}';
    cr_assert_str_eq(vfy_rc_name(vfy_pcr_values_parse(&pv, big, n)), "VFY_E_TOO_LARGE");
    cr_assert(all_zero(&pv, sizeof(pv)));
    /* Exactly at the cap it parses. */
    memset(big, ' ', n);
    memcpy(big, head, strlen(head));
    big[n - 2] = '}';
    cr_assert_str_eq(vfy_rc_name(vfy_pcr_values_parse(&pv, big, n - 1)), "VFY_OK");
    free(big);
}

Test(pcr_values, not_nul_terminated_and_roundtrip)
{
    fx f;
    vfy_pcr_values pv;
    char *json = NULL;
    char *copy;

    fx_load(&f, GOOD[0]);
    /* The parser must honour the length and not read past it. */
    copy = malloc(f.pcrs_json.len);
    cr_assert_not_null(copy);
    memcpy(copy, f.pcrs_json.p, f.pcrs_json.len);
    cr_assert_eq(vfy_pcr_values_parse(&pv, copy, f.pcrs_json.len), VFY_OK);
    cr_assert_eq(memcmp(&pv, &f.pcrs, sizeof(pv)), 0);
    free(copy);

    cr_assert_eq(vfy_pcr_values_to_json(&pv, &json), VFY_OK);
    cr_assert_not_null(json);
    cr_assert_eq(vfy_pcr_values_parse(&pv, json, strlen(json)), VFY_OK);
    cr_assert_eq(memcmp(&pv, &f.pcrs, sizeof(pv)), 0);
    vfy_free(json);

    /* Values from the file, checked against an independent hex decode. */
    {
        const vfy_pcr_bank *b = vfy_pcr_values_bank(&pv, VFY_HASH_SHA256);
        const char *p = strstr((const char *)f.pcrs_json.p, "\"23\":\"");
        uint8_t want[32];
        char hex[65];

        cr_assert_not_null(b);
        cr_assert_null(vfy_pcr_values_bank(&pv, VFY_HASH_SHA384));
        cr_assert_eq(b->mask, 0x008000ffu);
        cr_assert_not_null(p);
        memcpy(hex, p + 6, 64);
        hex[64] = 0;
        hex32(want, hex);
        cr_assert_eq(memcmp(b->values[23], want, 32), 0);
    }
    fx_free(&f);
}

/* ---- AK import ------------------------------------------------------------- */

Test(tpm_ak, pem_and_tpm2b_public_are_the_same_key)
{
    for (size_t k = 0; k < NGOOD; k++) {
        fx f;
        vfy_ak *a = NULL, *b = NULL, *c = NULL;
        uint8_t fa[32], fb[32], fc[32], want[32];
        unsigned char *der = NULL;
        int dlen;
        BIO *bio;
        EVP_PKEY *pk;
        char *pem = NULL;
        size_t pem_len = 0;
        vfy_sig_scheme sa, sb;

        fx_load(&f, GOOD[k]);
        cr_assert_eq(vfy_ak_from_pem(&a, (const char *)f.pem.p, f.pem.len, NULL), VFY_OK);
        cr_assert_eq(vfy_ak_from_tpm2b_public(&b, f.pub.p, f.pub.len, NULL), VFY_OK,
                     "%s", f.name);
        cr_assert_eq(vfy_ak_fingerprint(a, fa), VFY_OK);
        cr_assert_eq(vfy_ak_fingerprint(b, fb), VFY_OK);
        cr_assert_eq(memcmp(fa, fb, 32), 0, "%s: PEM and TPM2B_PUBLIC differ", f.name);

        /* Fingerprint = SHA-256(DER SPKI), computed with OpenSSL. */
        bio = BIO_new_mem_buf(f.pem.p, (int)f.pem.len);
        cr_assert_not_null(bio);
        pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
        cr_assert_not_null(pk);
        dlen = i2d_PUBKEY(pk, &der);
        cr_assert_gt(dlen, 0);
        SHA256(der, (size_t)dlen, want);
        cr_assert_eq(memcmp(fa, want, 32), 0, "%s: fingerprint", f.name);
        OPENSSL_free(der);
        EVP_PKEY_free(pk);
        BIO_free(bio);

        /* Defaults: PEM has no scheme (ecdsa-sha256 / rsassa-sha256); ak.pub
         * carries the scheme the AK was created with. */
        sa = vfy_ak_scheme(a);
        sb = vfy_ak_scheme(b);
        cr_assert_eq(sa.hash, VFY_HASH_SHA256);
        cr_assert_eq(sa.sig, f.scheme.sig == VFY_SIG_ECDSA ? VFY_SIG_ECDSA : VFY_SIG_RSASSA);
        cr_assert_eq(sb.sig, f.scheme.sig, "%s", f.name);
        cr_assert_eq(sb.hash, f.scheme.hash, "%s", f.name);

        /* vfy_ak_load picks the format; to_pem round-trips. */
        cr_assert_eq(vfy_ak_load(&c, f.pub.p, f.pub.len, NULL), VFY_OK);
        cr_assert_eq(vfy_ak_fingerprint(c, fc), VFY_OK);
        cr_assert_eq(memcmp(fa, fc, 32), 0);
        vfy_ak_free(&c);
        cr_assert_eq(vfy_ak_to_pem(b, &pem, &pem_len), VFY_OK);
        cr_assert_eq(strlen(pem), pem_len);
        cr_assert_eq(vfy_ak_load(&c, (const uint8_t *)pem, pem_len, NULL), VFY_OK);
        cr_assert_eq(vfy_ak_fingerprint(c, fc), VFY_OK);
        cr_assert_eq(memcmp(fa, fc, 32), 0);
        vfy_free(pem);

        vfy_ak_free(&a);
        vfy_ak_free(&b);
        vfy_ak_free(&c);
        cr_assert_null(a);
        fx_free(&f);
    }
}

Test(tpm_ak, tpm2b_public_negatives)
{
    fx f;
    vfy_ak *ak = (vfy_ak *)&ak; /* must be set to NULL on failure */
    uint8_t *m;
    size_t n;

    fx_load(&f, GOOD[0]);
    n = f.pub.len;
    m = malloc(n + 1);
    cr_assert_not_null(m);
    memcpy(m, f.pub.p, n);
    m[n] = 0;
    cr_assert_str_eq(vfy_rc_name(vfy_ak_from_tpm2b_public(&ak, m, n + 1, NULL)),
                     "VFY_E_TRAILING");
    cr_assert_null(ak);
    for (size_t i = 0; i < n; i++) {
        ak = (vfy_ak *)&ak;
        cr_assert_str_eq(vfy_rc_name(vfy_ak_from_tpm2b_public(&ak, m, i, NULL)),
                         "VFY_E_AK_MALFORMED", "TPM2B_PUBLIC[0..%zu)", i);
        cr_assert_null(ak);
    }
    /* the point is the end of the structure: its y leaves the curve */
    for (size_t k = 0; k < 2; k++) {
        fx g;

        fx_load(&g, GOOD[k]);
        g.pub.p[g.pub.len - 1] ^= 0x01;
        ak = (vfy_ak *)&ak;
        cr_assert_str_eq(vfy_rc_name(vfy_ak_from_tpm2b_public(&ak, g.pub.p, g.pub.len, NULL)),
                         "VFY_E_AK_MALFORMED", "%s: y off the curve", GOOD[k]);
        cr_assert_null(ak);
        fx_free(&g);
    }
    free(m);
    cr_assert_str_eq(vfy_rc_name(vfy_ak_from_pem(&ak, "-----BEGIN PUBLIC KEY-----\nAAAA\n"
                                                      "-----END PUBLIC KEY-----\n", 58, NULL)),
                     "VFY_E_AK_MALFORMED");
    cr_assert_null(ak);
    fx_free(&f);
}

/* ak.pub of fixture @name with @edit applied, re-marshalled, imported. */
static vfy_rc pub_edited(const char *name, void (*edit)(TPMT_PUBLIC *, uint32_t), uint32_t arg)
{
    TPM2B_PUBLIC tp;
    uint8_t out[sizeof(TPM2B_PUBLIC)];
    size_t off = 0, n = 0;
    vfy_ak *ak = NULL;
    vfy_rc rc;
    fx f;

    fx_load(&f, name);
    memset(&tp, 0, sizeof(tp));
    cr_assert_eq(Tss2_MU_TPM2B_PUBLIC_Unmarshal(f.pub.p, f.pub.len, &off, &tp), TSS2_RC_SUCCESS);
    edit(&tp.publicArea, arg);
    tp.size = 0;   /* recomputed */
    cr_assert_eq(Tss2_MU_TPM2B_PUBLIC_Marshal(&tp, out, sizeof(out), &n), TSS2_RC_SUCCESS);
    rc = vfy_ak_from_tpm2b_public(&ak, out, n, NULL);
    cr_assert(rc == VFY_OK ? ak != NULL : ak == NULL);
    vfy_ak_free(&ak);
    fx_free(&f);
    return rc;
}

static void attr_clear(TPMT_PUBLIC *p, uint32_t bits) { p->objectAttributes &= ~bits; }
static void attr_set(TPMT_PUBLIC *p, uint32_t bits) { p->objectAttributes |= bits; }
static void rsa_exponent(TPMT_PUBLIC *p, uint32_t e) { p->parameters.rsaDetail.exponent = e; }
static void rsa_modulus_even(TPMT_PUBLIC *p, uint32_t unused)
{
    (void)unused;
    p->unique.rsa.buffer[p->unique.rsa.size - 1] &= 0xfe;
}

/* A TPM2B_PUBLIC must be a TPM-resident restricted signing key, and an RSA
 * key's exponent odd and at least 3: with e = 1 any padded digest is its
 * own signature, so such an AK would let anyone forge its quotes. */
Test(tpm_ak, tpm2b_public_attributes_and_rsa_exponent)
{
    static const struct {
        const char *what;
        void (*edit)(TPMT_PUBLIC *, uint32_t);
        uint32_t bits;
    } refused[] = {
        {"fixedTPM clear (an imported key)", attr_clear, TPMA_OBJECT_FIXEDTPM},
        {"fixedParent clear", attr_clear, TPMA_OBJECT_FIXEDPARENT},
        {"sensitiveDataOrigin clear", attr_clear, TPMA_OBJECT_SENSITIVEDATAORIGIN},
        {"restricted clear", attr_clear, TPMA_OBJECT_RESTRICTED},
        {"sign clear", attr_clear, TPMA_OBJECT_SIGN_ENCRYPT},
        {"decrypt set", attr_set, TPMA_OBJECT_DECRYPT},
    };

    for (size_t k = 0; k < NGOOD; k++) {
        cr_assert_str_eq(vfy_rc_name(pub_edited(GOOD[k], attr_set, 0)), "VFY_OK",
                         "%s re-marshalled as is", GOOD[k]);
        for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
            cr_assert_str_eq(vfy_rc_name(pub_edited(GOOD[k], refused[i].edit, refused[i].bits)),
                             "VFY_E_AK_UNSUPPORTED", "%s: %s", GOOD[k], refused[i].what);
    }
    cr_assert_str_eq(vfy_rc_name(pub_edited("rsa2048-rsassa-sha256", rsa_exponent, 1)),
                     "VFY_E_AK_UNSUPPORTED", "exponent 1");
    cr_assert_str_eq(vfy_rc_name(pub_edited("rsa2048-rsassa-sha256", rsa_exponent, 2)),
                     "VFY_E_AK_UNSUPPORTED", "exponent 2");
    cr_assert_str_eq(vfy_rc_name(pub_edited("rsa2048-rsassa-sha256", rsa_exponent, 65536)),
                     "VFY_E_AK_UNSUPPORTED", "an even exponent");
    cr_assert_str_eq(vfy_rc_name(pub_edited("rsa2048-rsassa-sha256", rsa_modulus_even, 0)),
                     "VFY_E_AK_UNSUPPORTED", "an even modulus");
    cr_assert_str_eq(vfy_rc_name(pub_edited("rsa2048-rsassa-sha256", rsa_exponent, 3)),
                     "VFY_OK", "exponent 3");
    cr_assert_str_eq(vfy_rc_name(pub_edited("rsa2048-rsassa-sha256", rsa_exponent, 65537)),
                     "VFY_OK", "exponent 65537 written out");
}

/* GOOD[0]'s attest with @edit applied to its PCR selection, re-marshalled. */
static size_t attest_edited(const fx *f, void (*edit)(TPML_PCR_SELECTION *), uint8_t *out,
                            size_t cap)
{
    TPMS_ATTEST a;
    size_t off = 0, n = 0;

    memset(&a, 0, sizeof(a));
    cr_assert_eq(Tss2_MU_TPMS_ATTEST_Unmarshal(f->attest.p, f->attest.len, &off, &a),
                 TSS2_RC_SUCCESS);
    edit(&a.attested.quote.pcrSelect);
    cr_assert_eq(Tss2_MU_TPMS_ATTEST_Marshal(&a, out, cap, &n), TSS2_RC_SUCCESS);
    return n;
}

static void sel_as_is(TPML_PCR_SELECTION *s) { (void)s; }
static void sel_none(TPML_PCR_SELECTION *s) { s->count = 0; }
static void sel_zero(TPML_PCR_SELECTION *s)
{
    for (UINT32 i = 0; i < s->count; i++)
        memset(s->pcrSelections[i].pcrSelect, 0, sizeof(s->pcrSelections[i].pcrSelect));
}
static void sel_short(TPML_PCR_SELECTION *s)
{
    s->pcrSelections[0].sizeofSelect = 2;
    s->pcrSelections[0].pcrSelect[2] = 0;
}

/* A quote selecting no PCR attests nothing (VFY_E_PCR_NONE), and one whose
 * sizeofSelect is below the TPM's minimum of 3 did not come from a TPM. */
Test(tpm_quote, empty_or_short_pcr_selection_is_refused)
{
    static const struct {
        const char *what;
        void (*edit)(TPML_PCR_SELECTION *);
        const char *want;
    } v[] = {
        {"as is", sel_as_is, "VFY_OK"},
        {"no bank", sel_none, "VFY_E_PCR_NONE"},
        {"banks with no PCR", sel_zero, "VFY_E_PCR_NONE"},
        {"sizeofSelect 2", sel_short, "VFY_E_ATTEST_MALFORMED"},
    };
    uint8_t m[2048];
    fx f;

    fx_load(&f, GOOD[0]);
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        vfy_attest info;
        size_t n = attest_edited(&f, v[i].edit, m, sizeof(m));

        cr_assert_str_eq(vfy_rc_name(vfy_attest_parse(&info, m, n)), v[i].want, "parse: %s",
                         v[i].what);
        if (i > 0)   /* (the signature covers the original bytes) */
            cr_assert_str_eq(vfy_rc_name(vfy_quote_verify(f.ak, m, n, f.sig.p, f.sig.len,
                                                          &f.pcrs, f.binder, &info)),
                             v[i].want, "verify: %s", v[i].what);
    }
    fx_free(&f);
}

Test(tpm_ak, scheme_names)
{
    static const char *ok[] = {"ecdsa-sha256", "ecdsa-sha384", "rsassa-sha256",
                               "rsassa-sha384", "rsapss-sha256", "rsapss-sha384"};
    static const char *bad[] = {"ecdsa-sha1", "rsassa-sha1", "rsapss-sha1", "ecdsa",
                                "ECDSA-SHA256", "ecdsa-sha512", "", "ecdsa-sha256 "};

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        vfy_sig_scheme s;
        char out[VFY_SCHEME_NAME_MAX];

        cr_assert_eq(vfy_sig_scheme_parse(&s, ok[i]), VFY_OK, "%s", ok[i]);
        cr_assert_eq(vfy_sig_scheme_format(&s, out, sizeof(out)), VFY_OK);
        cr_assert_str_eq(out, ok[i]);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        vfy_sig_scheme s;

        cr_assert_str_eq(vfy_rc_name(vfy_sig_scheme_parse(&s, bad[i])), "VFY_E_UNSUPPORTED",
                         "'%s'", bad[i]);
    }
}

/* ---- binder ---------------------------------------------------------------- */

Test(binder, known_answer_against_openssl)
{
    uint8_t nonce[32], cb[32], md[32], got[32], got2[32], want[32];
    buf nh, ch, man, bh;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int n = 0;
    char path[1024];

    snprintf(path, sizeof(path), "%s/quote/nonce.hex", fixtures());
    nh = read_path(path);
    snprintf(path, sizeof(path), "%s/quote/cb.hex", fixtures());
    ch = read_path(path);
    snprintf(path, sizeof(path), "%s/quote/manifest.json", fixtures());
    man = read_path(path);
    chomp(&nh);
    chomp(&ch);
    hex32(nonce, (const char *)nh.p);
    hex32(cb, (const char *)ch.p);
    SHA256(man.p, man.len, md);

    /* label || 0x00 || nonce || cb || md, hashed here with OpenSSL. */
    cr_assert_not_null(ctx);
    cr_assert_eq(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
    cr_assert_eq(EVP_DigestUpdate(ctx, "verifierd agent attestation v1", 30), 1);
    cr_assert_eq(EVP_DigestUpdate(ctx, "", 1), 1); /* the 0x00 separator */
    cr_assert_eq(EVP_DigestUpdate(ctx, nonce, 32), 1);
    cr_assert_eq(EVP_DigestUpdate(ctx, cb, 32), 1);
    cr_assert_eq(EVP_DigestUpdate(ctx, md, 32), 1);
    cr_assert_eq(EVP_DigestFinal_ex(ctx, want, &n), 1);
    EVP_MD_CTX_free(ctx);

    cr_assert_eq(vfy_binder(got, nonce, cb, md), VFY_OK);
    cr_assert_eq(memcmp(got, want, 32), 0);
    cr_assert_eq(vfy_binder_manifest(got2, nonce, cb, man.p, man.len), VFY_OK);
    cr_assert_eq(memcmp(got2, want, 32), 0);

    /* ...and equal to what the fixtures were quoted with (computed by the
     * generator with the openssl CLI). */
    bh = read_fx(GOOD[0], "binder.hex");
    chomp(&bh);
    hex32(got, (const char *)bh.p);
    cr_assert_eq(memcmp(got, want, 32), 0);

    /* Each input matters. */
    nonce[0] ^= 1;
    cr_assert_eq(vfy_binder(got, nonce, cb, md), VFY_OK);
    cr_assert_neq(memcmp(got, want, 32), 0);
    nonce[0] ^= 1;
    cb[31] ^= 1;
    cr_assert_eq(vfy_binder(got, nonce, cb, md), VFY_OK);
    cr_assert_neq(memcmp(got, want, 32), 0);
    cb[31] ^= 1;
    md[5] ^= 1;
    cr_assert_eq(vfy_binder(got, nonce, cb, md), VFY_OK);
    cr_assert_neq(memcmp(got, want, 32), 0);

    buf_free(&nh);
    buf_free(&ch);
    buf_free(&man);
    buf_free(&bh);
}

Test(binder, fixed_vector)
{
    /* nonce = 00..1f, cb = 20..3f, md = 40..5f: the concatenation is the
     * label, a 0x00, then the bytes 0..95 in order, hashed with OpenSSL. */
    uint8_t in[31 + 96], nonce[32], cb[32], md[32], got[32], want[32];

    for (int i = 0; i < 32; i++) {
        nonce[i] = (uint8_t)i;
        cb[i] = (uint8_t)(32 + i);
        md[i] = (uint8_t)(64 + i);
    }
    memcpy(in, "verifierd agent attestation v1", 30);
    in[30] = 0;
    for (int i = 0; i < 96; i++)
        in[31 + i] = (uint8_t)i;
    SHA256(in, sizeof(in), want);
    cr_assert_eq(vfy_binder(got, nonce, cb, md), VFY_OK);
    cr_assert_eq(memcmp(got, want, 32), 0);
}

/* ---- clock ----------------------------------------------------------------- */

static vfy_clock_info ck(uint64_t clock, uint32_t reset, uint32_t restart, uint8_t safe)
{
    vfy_clock_info c = {clock, reset, restart, safe};

    return c;
}

Test(clock, check_every_case)
{
    static const uint64_t TOL = 60000;
    static const struct {
        const char *what;
        int has_last;
        vfy_clock_info last, cur;
        const char *want;
    } v[] = {
        {"first quote", 0, {0, 0, 0, 0}, {1000, 3, 1, 1}, "VFY_OK"},
        {"first quote unsafe", 0, {0, 0, 0, 0}, {1000, 3, 1, 0}, "VFY_E_CLOCK_UNSAFE"},
        {"unsafe", 1, {1000, 3, 1, 1}, {2000, 3, 1, 0}, "VFY_E_CLOCK_UNSAFE"},
        {"unsafe even on reboot", 1, {1000, 3, 1, 1}, {2000, 4, 0, 0}, "VFY_E_CLOCK_UNSAFE"},
        {"same state", 1, {1000, 3, 1, 1}, {1000, 3, 1, 1}, "VFY_OK"},
        {"clock forward", 1, {1000, 3, 1, 1}, {999999, 3, 1, 1}, "VFY_OK"},
        {"reset back", 1, {1000, 3, 1, 1}, {999999, 2, 1, 1}, "VFY_E_CLOCK_RESET_BACK"},
        {"reset back, restart ahead", 1, {1000, 3, 1, 1}, {999999, 2, 9, 1},
         "VFY_E_CLOCK_RESET_BACK"},
        {"reset forward, clock back", 1, {900000, 3, 5, 1}, {10, 4, 0, 1}, "VFY_OK"},
        {"restart back", 1, {1000, 3, 5, 1}, {999999, 3, 4, 1}, "VFY_E_CLOCK_RESTART_BACK"},
        {"restart forward, clock back", 1, {900000, 3, 5, 1}, {10, 3, 6, 1}, "VFY_OK"},
        {"clock back beyond tolerance", 1, {100000, 3, 1, 1}, {100000 - 60001, 3, 1, 1},
         "VFY_E_CLOCK_BACK"},
        {"clock back exactly tolerance", 1, {100000, 3, 1, 1}, {100000 - 60000, 3, 1, 1},
         "VFY_OK"},
        {"clock back within tolerance", 1, {100000, 3, 1, 1}, {99000, 3, 1, 1}, "VFY_OK"},
        {"clock back from huge", 1, {UINT64_MAX, 3, 1, 1}, {0, 3, 1, 1}, "VFY_E_CLOCK_BACK"},
        /* obfuscated counters: wrap-around arithmetic */
        {"reset wraps forward", 1, {1000, 0xFFFFFFF0u, 1, 1}, {10, 0x00000005u, 0, 1},
         "VFY_OK"},
        {"reset wraps back", 1, {1000, 0x00000005u, 1, 1}, {5000, 0xFFFFFFF0u, 1, 1},
         "VFY_E_CLOCK_RESET_BACK"},
        {"restart wraps forward", 1, {1000, 7, 0xFFFFFFF0u, 1}, {10, 7, 0x00000005u, 1},
         "VFY_OK"},
        {"restart wraps back", 1, {1000, 7, 0x00000005u, 1}, {5000, 7, 0xFFFFFFF0u, 1},
         "VFY_E_CLOCK_RESTART_BACK"},
        {"reset across 2^31 forward", 1, {1000, 0x7FFFFFFFu, 1, 1}, {10, 0x80000000u, 0, 1},
         "VFY_OK"},
        {"reset across 2^31 back", 1, {1000, 0x80000000u, 1, 1}, {10, 0x7FFFFFFFu, 0, 1},
         "VFY_E_CLOCK_RESET_BACK"},
    };

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        vfy_rc rc = vfy_clock_check(v[i].has_last ? &v[i].last : NULL, &v[i].cur, TOL);

        cr_assert_str_eq(vfy_rc_name(rc), v[i].want, "%s: got %s", v[i].what,
                         vfy_rc_name(rc));
    }
    /* Zero tolerance: any step back in the same epoch fails. */
    {
        vfy_clock_info last = ck(5000, 1, 1, 1), cur = ck(4999, 1, 1, 1);

        cr_assert_eq(vfy_clock_check(&last, &cur, 0), VFY_E_CLOCK_BACK);
        cur.clock = 5000;
        cr_assert_eq(vfy_clock_check(&last, &cur, 0), VFY_OK);
    }
}

Test(clock, advance)
{
    vfy_clock_info last = ck(100000, 3, 1, 1), cur, next;

    /* Same epoch, clock ahead: keep the newer clock. */
    cur = ck(150000, 3, 1, 1);
    next = vfy_clock_advance(&last, &cur);
    cr_assert_eq(next.clock, 150000);
    cr_assert_eq(next.reset_count, 3);
    cr_assert_eq(next.restart_count, 1);

    /* Same epoch, an older quote arriving late: the latest clock stays. */
    cur = ck(90000, 3, 1, 1);
    cr_assert_eq(vfy_clock_check(&last, &cur, 60000), VFY_OK);
    next = vfy_clock_advance(&last, &cur);
    cr_assert_eq(next.clock, 100000);
    cr_assert_eq(next.reset_count, 3);
    cr_assert_eq(next.restart_count, 1);

    /* New restart epoch: history restarts at cur. */
    cur = ck(10, 3, 2, 1);
    next = vfy_clock_advance(&last, &cur);
    cr_assert_eq(next.clock, 10);
    cr_assert_eq(next.restart_count, 2);
    cr_assert_eq(next.reset_count, 3);

    /* New reset epoch (wrapped obfuscated counter): cur. */
    last = ck(100000, 0xFFFFFFFFu, 9, 1);
    cur = ck(10, 0x00000000u, 0, 1);
    cr_assert_eq(vfy_clock_check(&last, &cur, 60000), VFY_OK);
    next = vfy_clock_advance(&last, &cur);
    cr_assert_eq(next.clock, 10);
    cr_assert_eq(next.reset_count, 0);
    cr_assert_eq(next.restart_count, 0);

    /* A sequence: the persisted state rejects what it must afterwards. */
    last = ck(1000, 3, 1, 1);
    cur = ck(500000, 3, 1, 1);
    last = vfy_clock_advance(&last, &cur);
    cur = ck(1000, 3, 1, 1);
    cr_assert_eq(vfy_clock_check(&last, &cur, 60000), VFY_E_CLOCK_BACK);
}

Test(clock, real_quote_clock_fields)
{
    /* The fixtures were made in one TPM power cycle: same reset and restart
     * counts, safe, and each passes against itself. */
    vfy_attest a[NGOOD];

    for (size_t k = 0; k < NGOOD; k++) {
        buf at = read_fx(GOOD[k], "attest.bin");

        cr_assert_eq(vfy_attest_parse(&a[k], at.p, at.len), VFY_OK);
        cr_assert_eq(vfy_clock_check(NULL, &a[k].clock, 0), VFY_OK);
        cr_assert_eq(vfy_clock_check(&a[k].clock, &a[k].clock, 0), VFY_OK);
        cr_assert_eq(a[k].clock.reset_count, a[0].clock.reset_count);
        cr_assert_eq(a[k].clock.restart_count, a[0].clock.restart_count);
        buf_free(&at);
    }
}

/* ---- the AK's kept verify context ------------------------------------------- */

/*
 * vfy_sig_verify keeps a verify context per AK after a good verify. Good
 * and bad signatures interleaved on one AK must each get their own verdict
 * (a context kept after a good verify must not accept a bad one, one
 * dropped after a bad verify must not reject the next good one), for every
 * scheme.
 */
Test(tpm_quote, kept_verify_context_gives_each_signature_its_verdict)
{
    for (size_t k = 0; k < NGOOD; k++) {
        fx f;
        uint8_t *bad;

        fx_load(&f, GOOD[k]);
        bad = malloc(f.sig.len);
        cr_assert_not_null(bad);
        memcpy(bad, f.sig.p, f.sig.len);
        bad[f.sig.len - 1] ^= 0x01;
        for (int round = 0; round < 4; round++) {
            expect_fx("good", &f, f.attest.p, f.attest.len, f.sig.p, f.sig.len, "VFY_OK");
            expect_fx("good again", &f, f.attest.p, f.attest.len, f.sig.p, f.sig.len, "VFY_OK");
            expect_fx("bad after good", &f, f.attest.p, f.attest.len, bad, f.sig.len,
                      "VFY_E_SIG_INVALID");
            expect_fx("bad again", &f, f.attest.p, f.attest.len, bad, f.sig.len,
                      "VFY_E_SIG_INVALID");
        }
        free(bad);
        fx_free(&f);
    }
}

struct verify_job {
    const fx *f;
    const uint8_t *bad;
    int wrong; /* verdicts that were not the expected one */
};

static void *verify_worker(void *arg)
{
    struct verify_job *j = arg;

    for (int i = 0; i < 300; i++) {
        int good = (i % 3) != 2;
        vfy_rc rc = vfy_sig_verify(j->f->ak, j->f->attest.p, j->f->attest.len,
                                   good ? j->f->sig.p : j->bad, j->f->sig.len, NULL);

        if (rc != (good ? VFY_OK : VFY_E_SIG_INVALID))
            j->wrong++;
    }
    return NULL;
}

/* Four threads share one AK (the kept context goes to whichever thread
 * holds it; the others make their own): every verdict is still right. */
Test(tpm_quote, kept_verify_context_shared_by_threads)
{
    fx f;
    uint8_t *bad;
    pthread_t t[4];
    struct verify_job j[4];

    fx_load(&f, "ecc-p256-ecdsa-sha256");
    bad = malloc(f.sig.len);
    cr_assert_not_null(bad);
    memcpy(bad, f.sig.p, f.sig.len);
    bad[f.sig.len - 1] ^= 0x01;
    for (int i = 0; i < 4; i++) {
        j[i] = (struct verify_job){&f, bad, 0};
        cr_assert_eq(pthread_create(&t[i], NULL, verify_worker, &j[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(j[i].wrong, 0, "thread %d: %d wrong verdicts", i, j[i].wrong);
    }
    free(bad);
    fx_free(&f);
}
