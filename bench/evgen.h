/*
 * evgen.h — a software attester for the benchmarks: valid, channel-bound
 * evidence (DESIGN §3–§5) made without a TPM.
 *
 * A software AK (EC P-256 / ECDSA-SHA256 or RSA-2048 / RSASSA-SHA256) signs
 * real TPMS_ATTEST structures marshalled with tpm2-tss (Tss2_MU_*): magic,
 * TPM_ST_ATTEST_QUOTE, qualifiedSigner, extraData = the binder over each
 * nonce, an increasing TPM clock with safe = 1, and a quote over sha256
 * PCRs 0-7,23 whose pcrDigest matches the supplied values. The manifest,
 * its one-entry agent log (replaying to PCR 23) and the PCR values are
 * fixed, so one provisioning approves every piece of evidence.
 *
 * Benchmark code, not part of libverify: no stable API, aborts on
 * impossible errors.
 */
#ifndef BENCH_EVGEN_H
#define BENCH_EVGEN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "verify/verify.h"

typedef struct bench_ak {
    EVP_PKEY *key;
    int rsa;                 /* 1: RSA-2048 RSASSA-SHA256, 0: P-256 ECDSA-SHA256 */
    char *pub_pem;           /* SubjectPublicKeyInfo PEM */
} bench_ak;

/* The fixed agent state: PCR values, manifest, agent log, records. */
typedef struct bench_fixture {
    uint8_t pcr[24][32];     /* sha256 bank, 0-7 and 23 used */
    char manifest[1024];
    size_t manifest_len;
    uint8_t md[32];
    char log[128];
    char pcrs_json[1024];
    uint8_t comp_digest[4][32]; /* model, tool, policy, context */
} bench_fixture;

void bench_fixture_init(bench_fixture *f);

/* Generate a fresh AK; 0 on success. */
int bench_ak_generate(bench_ak *ak, int rsa);
/* Load a private key PEM file written by bench_ak_save. */
int bench_ak_load(bench_ak *ak, const char *path);
int bench_ak_save(const bench_ak *ak, const char *path);
void bench_ak_free(bench_ak *ak);

/*
 * Evidence over @nonce and @cb as a CMW collection in @fmt: *@out is
 * malloc'd (vfy_free), *@out_len bytes, NUL-terminated for JSON. The TPM
 * resetCount is the process start time in seconds (each run is a new TPM
 * epoch for the verifier) and the clock a process-wide counter that grows
 * by one per quote, so it never goes back. 0 on success.
 */
int bench_evidence(const bench_ak *ak, const bench_fixture *f, const uint8_t nonce[32],
                   const uint8_t cb[32], vfy_cmw_format fmt, uint8_t **out, size_t *out_len);

/* Monotonic seconds. */
double bench_now(void);

#endif
