/*
 * tpmfault.c — an LD_PRELOAD shim for tests: TPM faults under the example
 * agent (examples/agent), driven by files in the directory $TPMFAULT_DIR
 * so that a test can turn them on and off while the agent runs. It acts in
 * processes named vfy-agent only, so it can be preloaded into a whole
 * scripts/demo.sh run (tpm2-tools, which also call ESAPI, are left alone).
 *
 *   extend-retry   while it exists, Esys_PCR_Extend extends nothing and
 *                  answers TPM2_RC_RETRY, as a busy TPM would.
 *   extend-lost    the next Esys_PCR_Extend extends, then answers a TCTI
 *                  I/O error (the answer lost, not the effect); the file
 *                  is removed and read-fail made.
 *   read-fail      while it exists, Esys_PCR_Read answers a TCTI I/O
 *                  error: the TPM unreachable for a while.
 *   quote-race     the next Esys_Quote is followed, before it returns, by
 *                  an extend of the PCR whose index the file holds with 32
 *                  bytes of 0x5a, as another TPM client extending it
 *                  between the agent's quote and its PCR read would; the
 *                  file is removed.
 *
 * Each fault says what it did on stderr ("tpmfault: ..."). Used by
 * tests/integration/agent_*.sh; not part of any product.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tss2/tss2_esys.h>

#define TCTI_IO_ERROR 0xa000au /* TSS2_TCTI_RC_IO_ERROR */

/* The path of fault file @name in @out; 0 if this process is not the agent. */
static int fault_path(const char *name, char *out, size_t cap)
{
    const char *dir = getenv("TPMFAULT_DIR");

    if (dir == NULL || strcmp(program_invocation_short_name, "vfy-agent") != 0)
        return 0;
    snprintf(out, cap, "%s/%s", dir, name);
    return 1;
}

/* 1 if the fault file @name exists and this process is the agent. */
static int fault(const char *name)
{
    char path[4096];

    return fault_path(name, path, sizeof(path)) && access(path, F_OK) == 0;
}

TSS2_RC Esys_PCR_Extend(ESYS_CONTEXT *esys, ESYS_TR pcr, ESYS_TR s1, ESYS_TR s2, ESYS_TR s3,
                        const TPML_DIGEST_VALUES *digests)
{
    TSS2_RC (*real)(ESYS_CONTEXT *, ESYS_TR, ESYS_TR, ESYS_TR, ESYS_TR,
                    const TPML_DIGEST_VALUES *);

    if (fault("extend-retry")) {
        fprintf(stderr, "tpmfault: Esys_PCR_Extend -> TPM2_RC_RETRY (nothing extended)\n");
        return TPM2_RC_RETRY;
    }
    *(void **)&real = dlsym(RTLD_NEXT, "Esys_PCR_Extend");
    if (fault("extend-lost")) {
        char path[4096];
        TSS2_RC rc = real(esys, pcr, s1, s2, s3, digests);
        FILE *f;

        fault_path("extend-lost", path, sizeof(path));
        unlink(path);
        fault_path("read-fail", path, sizeof(path));
        if ((f = fopen(path, "w")) != NULL)
            fclose(f);
        fprintf(stderr, "tpmfault: Esys_PCR_Extend done (0x%x), answer lost: TCTI I/O error; "
                "PCR reads fail from now on\n", (unsigned)rc);
        return TCTI_IO_ERROR;
    }
    return real(esys, pcr, s1, s2, s3, digests);
}

TSS2_RC Esys_Quote(ESYS_CONTEXT *esys, ESYS_TR key, ESYS_TR s1, ESYS_TR s2, ESYS_TR s3,
                   const TPM2B_DATA *qualifying, const TPMT_SIG_SCHEME *scheme,
                   const TPML_PCR_SELECTION *sel, TPM2B_ATTEST **quoted,
                   TPMT_SIGNATURE **signature)
{
    TSS2_RC (*real)(ESYS_CONTEXT *, ESYS_TR, ESYS_TR, ESYS_TR, ESYS_TR, const TPM2B_DATA *,
                    const TPMT_SIG_SCHEME *, const TPML_PCR_SELECTION *, TPM2B_ATTEST **,
                    TPMT_SIGNATURE **);
    TSS2_RC (*extend)(ESYS_CONTEXT *, ESYS_TR, ESYS_TR, ESYS_TR, ESYS_TR,
                      const TPML_DIGEST_VALUES *);
    char path[4096];
    unsigned pcr = 0;
    TSS2_RC rc;
    FILE *f;

    *(void **)&real = dlsym(RTLD_NEXT, "Esys_Quote");
    rc = real(esys, key, s1, s2, s3, qualifying, scheme, sel, quoted, signature);
    if (rc == TSS2_RC_SUCCESS && fault_path("quote-race", path, sizeof(path)) &&
        (f = fopen(path, "r")) != NULL) {
        TPML_DIGEST_VALUES d;
        int ok = fscanf(f, "%u", &pcr) == 1 && pcr < 24;

        fclose(f);
        unlink(path);
        memset(&d, 0, sizeof(d));
        d.count = 1;
        d.digests[0].hashAlg = TPM2_ALG_SHA256;
        memset(d.digests[0].digest.sha256, 0x5a, 32);
        *(void **)&extend = dlsym(RTLD_NEXT, "Esys_PCR_Extend");
        fprintf(stderr, "tpmfault: after Esys_Quote, PCR %u extended (0x%x)\n", pcr,
                ok ? (unsigned)extend(esys, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                      ESYS_TR_NONE, &d)
                   : 0xffffffffu);
    }
    return rc;
}

TSS2_RC Esys_PCR_Read(ESYS_CONTEXT *esys, ESYS_TR s1, ESYS_TR s2, ESYS_TR s3,
                      const TPML_PCR_SELECTION *sel, UINT32 *counter,
                      TPML_PCR_SELECTION **out_sel, TPML_DIGEST **values)
{
    TSS2_RC (*real)(ESYS_CONTEXT *, ESYS_TR, ESYS_TR, ESYS_TR, const TPML_PCR_SELECTION *,
                    UINT32 *, TPML_PCR_SELECTION **, TPML_DIGEST **);

    static int said;

    if (fault("read-fail")) {
        if (!said++)
            fprintf(stderr, "tpmfault: Esys_PCR_Read -> TCTI I/O error (said once)\n");
        return TCTI_IO_ERROR;
    }
    *(void **)&real = dlsym(RTLD_NEXT, "Esys_PCR_Read");
    return real(esys, s1, s2, s3, sel, counter, out_sel, values);
}
