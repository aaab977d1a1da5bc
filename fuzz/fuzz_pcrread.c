/*
 * fuzz_pcrread.c — the `tpm2_pcrread` YAML reader of `verifyctl pcr import`.
 */
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vfy_pcr_values pv;
    size_t skipped = 0, line = 0;

    (void)vfy_store_pcrread_parse(&pv, (const char *)data, size, &skipped, &line);
    return 0;
}
