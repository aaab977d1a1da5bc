/*
 * fuzz_bundle.c — reference-value bundle import (refstore_bundle.c) into an
 * in-memory store. A rejected bundle must leave the store unchanged.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vfy_store *st = NULL;
    char *before = NULL, *after = NULL;

    if (vfy_store_open(&st, ":memory:", VFY_STORE_CREATE | VFY_STORE_MIGRATE) != VFY_OK)
        __builtin_trap();
    if (vfy_store_export(st, &before) != VFY_OK)
        __builtin_trap();
    if (vfy_store_import(st, (const char *)data, size, NULL) != VFY_OK) {
        if (vfy_store_export(st, &after) != VFY_OK || strcmp(before, after) != 0)
            __builtin_trap();
    }
    vfy_free(before);
    vfy_free(after);
    vfy_store_close(&st);
    return 0;
}
