/*
 * evgen.c — the benchmarks' software attester (see evgen.h).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <tss2/tss2_mu.h>

#include "evgen.h"

static const unsigned quoted[] = {0, 1, 2, 3, 4, 5, 6, 7, 23};
#define NQUOTED (sizeof(quoted) / sizeof(quoted[0]))

/* TPM reset epoch = the process start second (a new epoch per run: the
 * verifier treats it as a reboot and restarts the history); clock counts
 * quotes in this process. */
static atomic_uint_fast64_t tpm_clock;
static atomic_uint_fast32_t tpm_epoch;

double bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void hex(char *out, const uint8_t *d, size_t n)
{
    static const char x[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = x[d[i] >> 4];
        out[2 * i + 1] = x[d[i] & 15];
    }
    out[2 * n] = '\0';
}

void bench_fixture_init(bench_fixture *f)
{
    char h[4][65], ph[65];
    uint8_t buf[64];
    size_t off;
    int n;

    memset(f, 0, sizeof(*f));
    for (unsigned k = 0; k < 4; k++) {
        char seed[32];

        snprintf(seed, sizeof(seed), "bench component %u", k);
        SHA256((const uint8_t *)seed, strlen(seed), f->comp_digest[k]);
        hex(h[k], f->comp_digest[k], 32);
    }
    n = snprintf(f->manifest, sizeof(f->manifest),
                 "{\"agent_id\":\"bench-agent\",\"manifest_version\":1,"
                 "\"models\":[{\"name\":\"bench-model\",\"digest\":\"sha256:%s\"}],"
                 "\"tools\":[{\"name\":\"bench.tool\",\"version\":\"1.0.0\",\"digest\":\"sha256:%s\"}],"
                 "\"policies\":[{\"name\":\"bench-policy\",\"digest\":\"sha256:%s\"}],"
                 "\"context\":{\"digest\":\"sha256:%s\"}}",
                 h[0], h[1], h[2], h[3]);
    f->manifest_len = (size_t)n;
    SHA256((const uint8_t *)f->manifest, f->manifest_len, f->md);
    hex(ph, f->md, 32);
    snprintf(f->log, sizeof(f->log), "[{\"digest\":\"sha256:%s\"}]", ph);
    /* Platform PCRs: fixed pseudo-measurements; PCR 23 = extend(0, md). */
    for (unsigned i = 0; i < 8; i++) {
        char seed[32];

        snprintf(seed, sizeof(seed), "bench pcr %u", i);
        SHA256((const uint8_t *)seed, strlen(seed), f->pcr[i]);
    }
    memset(buf, 0, 32);
    memcpy(buf + 32, f->md, 32);
    SHA256(buf, 64, f->pcr[23]);
    off = (size_t)snprintf(f->pcrs_json, sizeof(f->pcrs_json), "{\"sha256\":{");
    for (size_t k = 0; k < NQUOTED; k++) {
        char v[65];

        hex(v, f->pcr[quoted[k]], 32);
        off += (size_t)snprintf(f->pcrs_json + off, sizeof(f->pcrs_json) - off, "%s\"%u\":\"%s\"",
                                k ? "," : "", quoted[k], v);
    }
    snprintf(f->pcrs_json + off, sizeof(f->pcrs_json) - off, "}}");
}

static int set_pub_pem(bench_ak *ak)
{
    BIO *b = BIO_new(BIO_s_mem());
    BUF_MEM *bm;
    int ok = b != NULL && PEM_write_bio_PUBKEY(b, ak->key) == 1;

    if (ok) {
        BIO_get_mem_ptr(b, &bm);
        /* not strndup: the buffer has no NUL after its bytes, and ASan's
         * strndup checks one byte past @n */
        if ((ak->pub_pem = malloc(bm->length + 1)) != NULL) {
            memcpy(ak->pub_pem, bm->data, bm->length);
            ak->pub_pem[bm->length] = '\0';
        }
        ok = ak->pub_pem != NULL;
    }
    BIO_free(b);
    ak->rsa = EVP_PKEY_get_base_id(ak->key) == EVP_PKEY_RSA;
    return ok ? 0 : -1;
}

int bench_ak_generate(bench_ak *ak, int rsa)
{
    memset(ak, 0, sizeof(*ak));
    ak->key = rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
    if (ak->key == NULL)
        return -1;
    return set_pub_pem(ak);
}

int bench_ak_load(bench_ak *ak, const char *path)
{
    FILE *fp = fopen(path, "r");

    memset(ak, 0, sizeof(*ak));
    if (fp == NULL)
        return -1;
    ak->key = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
    fclose(fp);
    if (ak->key == NULL)
        return -1;
    return set_pub_pem(ak);
}

int bench_ak_save(const bench_ak *ak, const char *path)
{
    FILE *fp = fopen(path, "w");
    int ok;

    if (fp == NULL)
        return -1;
    ok = PEM_write_PrivateKey(fp, ak->key, NULL, NULL, 0, NULL, NULL) == 1;
    return fclose(fp) == 0 && ok ? 0 : -1;
}

void bench_ak_free(bench_ak *ak)
{
    EVP_PKEY_free(ak->key);
    free(ak->pub_pem);
    memset(ak, 0, sizeof(*ak));
}

/*
 * A signing context for @key, set up once per thread (the load generator
 * signs one quote per request: making a context per signature cost about a
 * fifth of the signature itself). Contexts are not thread-safe, hence one
 * per thread; bench processes keep one key for their whole life, so a
 * thread's context is never freed.
 */
static EVP_PKEY_CTX *sign_ctx(const bench_ak *ak)
{
    static __thread EVP_PKEY_CTX *ctx;
    static __thread const EVP_PKEY *ctx_key;

    if (ctx != NULL && ctx_key == ak->key)
        return ctx;
    EVP_PKEY_CTX_free(ctx);
    ctx_key = NULL;
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, ak->key, NULL);
    if (ctx == NULL || EVP_PKEY_sign_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) != 1 ||
        (ak->rsa && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1)) {
        EVP_PKEY_CTX_free(ctx);
        ctx = NULL;
        return NULL;
    }
    ctx_key = ak->key;
    return ctx;
}

/* Sign SHA-256(@msg) with the AK into a TPMT_SIGNATURE. */
static int sign_quote(const bench_ak *ak, const uint8_t *msg, size_t len, TPMT_SIGNATURE *sig)
{
    EVP_PKEY_CTX *ctx = sign_ctx(ak);
    uint8_t der[512], digest[32];
    size_t dlen = sizeof(der);
    int ok = ctx != NULL && SHA256(msg, len, digest) != NULL &&
             EVP_PKEY_sign(ctx, der, &dlen, digest, sizeof(digest)) == 1;

    if (!ok)
        return -1;
    memset(sig, 0, sizeof(*sig));
    if (ak->rsa) {
        if (dlen > sizeof(sig->signature.rsassa.sig.buffer))
            return -1;
        sig->sigAlg = TPM2_ALG_RSASSA;
        sig->signature.rsassa.hash = TPM2_ALG_SHA256;
        sig->signature.rsassa.sig.size = (UINT16)dlen;
        memcpy(sig->signature.rsassa.sig.buffer, der, dlen);
    } else {
        const uint8_t *p = der;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
        const BIGNUM *r, *s;

        if (es == NULL)
            return -1;
        ECDSA_SIG_get0(es, &r, &s);
        sig->sigAlg = TPM2_ALG_ECDSA;
        sig->signature.ecdsa.hash = TPM2_ALG_SHA256;
        sig->signature.ecdsa.signatureR.size = 32;
        sig->signature.ecdsa.signatureS.size = 32;
        ok = BN_bn2binpad(r, sig->signature.ecdsa.signatureR.buffer, 32) == 32 &&
             BN_bn2binpad(s, sig->signature.ecdsa.signatureS.buffer, 32) == 32;
        ECDSA_SIG_free(es);
        if (!ok)
            return -1;
    }
    return 0;
}

int bench_evidence(const bench_ak *ak, const bench_fixture *f, const uint8_t nonce[32],
                   const uint8_t cb[32], vfy_cmw_format fmt, uint8_t **out, size_t *out_len)
{
    TPMS_ATTEST a;
    TPMT_SIGNATURE sig;
    uint8_t attest[1024], sigbuf[1024], binder[32], pcat[32 * NQUOTED];
    size_t alen = 0, slen = 0;
    uint64_t clk;
    vfy_cmw_parts parts;

    if (tpm_epoch == 0) {
        uint_fast32_t zero = 0;

        atomic_compare_exchange_strong(&tpm_epoch, &zero, (uint32_t)time(NULL));
    }
    clk = atomic_fetch_add(&tpm_clock, 1) + 1;
    if (vfy_binder(binder, nonce, cb, f->md) != VFY_OK)
        return -1;
    memset(&a, 0, sizeof(a));
    a.magic = TPM2_GENERATED_VALUE;
    a.type = TPM2_ST_ATTEST_QUOTE;
    a.qualifiedSigner.size = 34;
    a.qualifiedSigner.name[0] = 0x00;
    a.qualifiedSigner.name[1] = 0x0b;          /* TPM_ALG_SHA256 name */
    memset(a.qualifiedSigner.name + 2, 0xa5, 32);
    a.extraData.size = 32;
    memcpy(a.extraData.buffer, binder, 32);
    a.clockInfo.clock = clk;
    a.clockInfo.resetCount = (UINT32)tpm_epoch;
    a.clockInfo.restartCount = 0;
    a.clockInfo.safe = 1;
    a.firmwareVersion = 0x2023041200000000ull;
    a.attested.quote.pcrSelect.count = 1;
    a.attested.quote.pcrSelect.pcrSelections[0].hash = TPM2_ALG_SHA256;
    a.attested.quote.pcrSelect.pcrSelections[0].sizeofSelect = 3;
    for (size_t k = 0; k < NQUOTED; k++) {
        a.attested.quote.pcrSelect.pcrSelections[0].pcrSelect[quoted[k] / 8] |=
            (uint8_t)(1u << (quoted[k] % 8));
        memcpy(pcat + 32 * k, f->pcr[quoted[k]], 32);
    }
    a.attested.quote.pcrDigest.size = 32;
    SHA256(pcat, sizeof(pcat), a.attested.quote.pcrDigest.buffer);
    if (Tss2_MU_TPMS_ATTEST_Marshal(&a, attest, sizeof(attest), &alen) != TSS2_RC_SUCCESS)
        return -1;
    if (sign_quote(ak, attest, alen, &sig) != 0 ||
        Tss2_MU_TPMT_SIGNATURE_Marshal(&sig, sigbuf, sizeof(sigbuf), &slen) != TSS2_RC_SUCCESS)
        return -1;
    memset(&parts, 0, sizeof(parts));
    parts.data[VFY_CMW_TPM_ATTEST] = attest;
    parts.len[VFY_CMW_TPM_ATTEST] = alen;
    parts.data[VFY_CMW_TPM_SIGNATURE] = sigbuf;
    parts.len[VFY_CMW_TPM_SIGNATURE] = slen;
    parts.data[VFY_CMW_TPM_PCRS] = (const uint8_t *)f->pcrs_json;
    parts.len[VFY_CMW_TPM_PCRS] = strlen(f->pcrs_json);
    parts.data[VFY_CMW_AGENT_MANIFEST] = (const uint8_t *)f->manifest;
    parts.len[VFY_CMW_AGENT_MANIFEST] = f->manifest_len;
    parts.data[VFY_CMW_AGENT_LOG] = (const uint8_t *)f->log;
    parts.len[VFY_CMW_AGENT_LOG] = strlen(f->log);
    return vfy_cmw_encode(fmt, &parts, out, out_len) == VFY_OK ? 0 : -1;
}
