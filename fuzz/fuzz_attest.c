/*
 * fuzz_attest.c — TPMS_ATTEST parsing and the full quote check.
 *
 * Input layout: the whole input is parsed as TPMS_ATTEST; it is also split
 * at its first byte (n = data[0] * 4) into attest || TPMT_SIGNATURE and run
 * through vfy_quote_verify() with a fixed ECC AK, so that signature parsing
 * and the later checks are reached.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

static const char ak_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYP7UuiVanTHJYet0xjVtaMBJuJI7\n"
    "Yfps5mliLmDyn7Z5A/4QCLi8maQa6elWKLxk8vGyDC1+n1F3o8KU1EYimQ==\n"
    "-----END PUBLIC KEY-----\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static vfy_ak *ak;
    vfy_attest a;
    vfy_pcr_values pv;
    uint8_t binder[32] = {0};
    size_t split;

    if (ak == NULL && vfy_ak_from_pem(&ak, ak_pem, sizeof(ak_pem) - 1, NULL) != VFY_OK)
        __builtin_trap();
    (void)vfy_attest_parse(&a, data, size);
    if (size < 1)
        return 0;
    split = (size_t)data[0] * 4;
    if (split > size - 1)
        split = size - 1;
    memset(&pv, 0, sizeof(pv));
    if (vfy_quote_verify(ak, data + 1, split, data + 1 + split, size - 1 - split, &pv,
                         binder, &a) == VFY_OK)
        __builtin_trap(); /* nothing random can carry a valid signature */
    return 0;
}
