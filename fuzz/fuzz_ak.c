/*
 * fuzz_ak.c — AK import: TPM2B_PUBLIC (libtss2-mu + EVP_PKEY_fromdata) and PEM.
 */
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vfy_ak *ak = NULL;

    if (vfy_ak_load(&ak, data, size, NULL) == VFY_OK) {
        uint8_t fp[32];
        char *pem = NULL;

        if (vfy_ak_fingerprint(ak, fp) != VFY_OK || vfy_ak_to_pem(ak, &pem, NULL) != VFY_OK)
            __builtin_trap();
        vfy_free(pem);
    }
    vfy_ak_free(&ak);
    return 0;
}
