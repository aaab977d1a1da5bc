/*
 * fuzz_manifest.c — the agent manifest parser (manifest.c); accepted
 * manifests must hash to the digest the parser reports.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vfy_manifest *m = NULL;
    uint8_t md[32];

    if (vfy_manifest_parse(&m, data, size, NULL, 0) != VFY_OK)
        return 0;
    if (vfy_sha256(data, size, md) != VFY_OK || memcmp(md, vfy_manifest_digest(m), 32) != 0)
        __builtin_trap();
    for (int l = VFY_MANIFEST_MODELS; l <= VFY_MANIFEST_POLICIES; l++)
        for (size_t i = 0; i < vfy_manifest_count(m, (vfy_manifest_list)l); i++)
            if (vfy_manifest_entry_at(m, (vfy_manifest_list)l, i) == NULL)
                __builtin_trap();
    vfy_manifest_free(&m);
    return 0;
}
