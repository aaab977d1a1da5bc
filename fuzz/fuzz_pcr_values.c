/*
 * fuzz_pcr_values.c — the pcr-values JSON parser; accepted input must
 * round-trip through vfy_pcr_values_to_json().
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vfy_pcr_values a, b;
    char *json = NULL;

    if (vfy_pcr_values_parse(&a, (const char *)data, size) != VFY_OK)
        return 0;
    if (vfy_pcr_values_to_json(&a, &json) != VFY_OK ||
        vfy_pcr_values_parse(&b, json, strlen(json)) != VFY_OK ||
        memcmp(&a, &b, sizeof(a)) != 0)
        __builtin_trap();
    vfy_free(json);
    return 0;
}
