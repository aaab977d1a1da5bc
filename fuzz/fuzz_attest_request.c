/*
 * fuzz_attest_request.c — verifierd's POST /v1/attest body parser
 * (verifierd/attest_req.c). Accepted bodies must carry evidence of a known
 * format.
 */
#include <stddef.h>
#include <stdint.h>

#include "../verifierd/attest_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vd_attest_req r;
    char err[256];

    if (vd_attest_req_parse(&r, (const char *)data, size, err, sizeof(err)) != 0)
        return 0;
    if ((r.format != VFY_CMW_JSON && r.format != VFY_CMW_CBOR) || r.attester[0] == '\0')
        __builtin_trap();
    vd_attest_req_clear(&r);
    return 0;
}
