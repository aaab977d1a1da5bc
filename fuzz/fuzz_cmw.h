/*
 * fuzz_cmw.h — the body shared by fuzz_cmw_json.c and fuzz_cmw_cbor.c: the
 * evidence CMW collection parser (cmw.c) in the format FUZZ_CMW_FORMAT.
 * Accepted input must re-encode and parse back to the same records.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vfy_cmw *c = NULL, *back = NULL;
    vfy_cmw_parts parts;
    uint8_t *enc = NULL;
    size_t enc_len = 0;
    char detail[128];

    if (vfy_cmw_parse(&c, FUZZ_CMW_FORMAT, data, size, detail, sizeof(detail)) != VFY_OK)
        return 0;
    for (int r = 0; r < VFY_CMW_RECORDS; r++)
        parts.data[r] = vfy_cmw_get(c, (vfy_cmw_record)r, &parts.len[r]);
    if (vfy_cmw_encode(FUZZ_CMW_FORMAT, &parts, &enc, &enc_len) != VFY_OK ||
        vfy_cmw_parse(&back, FUZZ_CMW_FORMAT, enc, enc_len, NULL, 0) != VFY_OK)
        __builtin_trap();
    for (int r = 0; r < VFY_CMW_RECORDS; r++) {
        size_t a, b;
        const uint8_t *x = vfy_cmw_get(c, (vfy_cmw_record)r, &a);
        const uint8_t *y = vfy_cmw_get(back, (vfy_cmw_record)r, &b);
        if (a != b || (a != 0 && memcmp(x, y, a) != 0))
            __builtin_trap();
    }
    vfy_free(enc);
    vfy_cmw_free(&back);
    vfy_cmw_free(&c);
    return 0;
}
