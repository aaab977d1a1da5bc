/*
 * tpm.h — the agent's TPM side with tpm2-tss ESAPI (DESIGN §3, §4): the
 * attestation key, the agent PCR extend, and quote + PCR read for evidence.
 *
 * One ESAPI context over the TCTI named by the environment. swtpm (and any
 * TPM without a resource manager) keeps transient objects until they are
 * flushed, so every transient handle made here is flushed before returning;
 * the AK lives at a persistent handle (EvictControl). Not thread-safe: the
 * caller serialises access (the agent holds one mutex around every call).
 */
#ifndef EXAMPLES_AGENT_TPM_H
#define EXAMPLES_AGENT_TPM_H

#include <stddef.h>
#include <stdint.h>

typedef struct agent_tpm agent_tpm;

/** Most PCRs one quote covers (the platform PCRs + the agent PCR: all 24). */
#define AGENT_TPM_MAX_PCRS 24

/**
 * Open the TPM. @tcti is a TCTI configuration string ("swtpm:host=...,port=...",
 * "device:/dev/tpmrm0", ...); NULL means the first of $TPM2TOOLS_TCTI,
 * $TCTI, $TSS2_TCTI that is set, else tpm2-tss's default. Returns 0 and
 * *@out on success; -1 with a message in @err otherwise.
 */
int agent_tpm_open(agent_tpm **out, const char *tcti, char *err, size_t err_cap);

/* How many times a lost connection to the TPM (a TCTI I/O error, an ESAPI
 * context out of step) was opened again: quotes and PCR reads are then
 * retried once; an extend is not (the caller reads the PCR first). */
unsigned agent_tpm_reconnects(const agent_tpm *t);

/* How many times a quote was taken again because a quoted PCR changed
 * before it was read (another TPM client extending it). */
unsigned agent_tpm_requotes(const agent_tpm *t);

/** Close and free *@t, set it NULL. */
void agent_tpm_close(agent_tpm **t);

/**
 * Load the ECC P-256 restricted signing AK (ECDSA-SHA256) at persistent
 * @handle (0x81xxxxxx), creating it first (a primary key in the endorsement
 * hierarchy, made persistent with EvictControl) if the handle is empty. A key
 * already there that is not such an AK is an error. @created is set to 1 if it
 * was created. If @pub_out is not NULL the AK's TPM2B_PUBLIC (marshalled) is
 * written there, for `verifyctl attester add --ak-public`.
 */
int agent_tpm_ak(agent_tpm *t, uint32_t handle, const char *pub_out, int *created,
                 char *err, size_t err_cap);

/** TPM2_PCR_Extend(@pcr, sha256 = @digest). */
int agent_tpm_extend(agent_tpm *t, unsigned pcr, const uint8_t digest[32],
                     char *err, size_t err_cap);

/** Read sha256 PCR @pcr into @out. */
int agent_tpm_pcr_read1(agent_tpm *t, unsigned pcr, uint8_t out[32], char *err, size_t err_cap);

/** The TPM's reset and restart counters (TPMS_CLOCK_INFO). resetCount goes
 * up at every TPM reset (TPM2_Startup(CLEAR) after TPM2_Shutdown(CLEAR) or
 * none: restartCount back to 0); restartCount at every TPM restart
 * (TPM2_Startup(CLEAR) after TPM2_Shutdown(STATE), e.g. resume from
 * hibernation) and resume (TPM2_Startup(STATE)). Both reset the PCRs but a
 * resume, so PCRs back to their reset values while neither went up were
 * reset by software (TPM2_PCR_Reset). As the AK's quotes carry them: for an
 * AK outside the endorsement and platform hierarchies both are offset by a
 * constant per key (obfuscated), which is what a verifier compares, so they
 * are compared with each other only, never with TPM2_ReadClock's. */
typedef struct agent_tpm_counts {
    uint32_t reset;
    uint32_t restart;
} agent_tpm_counts;

/** The TPM's counters now: a quote of no PCRs by the AK (its clockInfo).
 * The AK must be loaded (agent_tpm_ak). */
int agent_tpm_counts_read(agent_tpm *t, agent_tpm_counts *c, char *err, size_t err_cap);

/** A quote with the PCR values it covers (sha256 bank). */
typedef struct agent_quote {
    uint8_t *attest;      /* marshalled TPMS_ATTEST (malloc) */
    size_t attest_len;
    uint8_t *sig;         /* marshalled TPMT_SIGNATURE (malloc) */
    size_t sig_len;
    uint32_t mask;        /* PCR indices covered (bit i = PCR i) */
    uint8_t values[AGENT_TPM_MAX_PCRS][32];
    agent_tpm_counts counts; /* the quote's clockInfo counters */
} agent_quote;

/**
 * TPM2_Quote with the AK over the sha256 PCRs in @mask with qualifyingData
 * = @qualifying (32 bytes), then TPM2_PCR_Read of the same PCRs. The PCR
 * values must be the ones the quote covers, so the caller must not extend in
 * between (it holds the lock); another TPM client may, so the values read
 * are checked against the quote's pcrDigest and the quote taken again once
 * if they differ (agent_tpm_requotes); differing twice is an error. Free
 * with agent_quote_clear().
 */
int agent_tpm_quote(agent_tpm *t, uint32_t mask, const uint8_t qualifying[32],
                    agent_quote *q, char *err, size_t err_cap);

void agent_quote_clear(agent_quote *q);

#endif
