/*
 * fuzz_policy.c — the appraisal policy parser (policy.c).
 */
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vfy_policy *p = NULL;
    char detail[128];

    if (vfy_policy_parse_detail(&p, (const char *)data, size, detail, sizeof(detail)) != VFY_OK)
        return 0;
    if (vfy_policy_id(p) == NULL || vfy_policy_version(p) < 1 || vfy_policy_nonce_ttl_s(p) == 0)
        __builtin_trap();
    vfy_policy_free(&p);
    return 0;
}
