/*
 * tpmfault.c — an LD_PRELOAD shim for tests: TPM faults under the example
 * agent (examples/agent), driven by files in the directory $TPMFAULT_DIR
 * so that a test can turn them on and off while the agent runs. It acts in
 * processes named vfy-agent only, so it can be preloaded into a whole
 * scripts/demo.sh run (tpm2-tools, which also call ESAPI, are left alone).
 *
 *   extend-retry   while it exists, Esys_PCR_Extend extends nothing and
 *                  answers TPM2_RC_RETRY, as a busy TPM would.
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

/* 1 if the fault file @name exists and this process is the agent. */
static int fault(const char *name)
{
    const char *dir = getenv("TPMFAULT_DIR");
    char path[4096];

    if (dir == NULL || strcmp(program_invocation_short_name, "vfy-agent") != 0)
        return 0;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return access(path, F_OK) == 0;
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
    return real(esys, pcr, s1, s2, s3, digests);
}
