/*
 * fuzz_ear.c — the relying party's EAR verifier (vfy_ear_verify) and the
 * JWKS parser. Input: JWS bytes; a fixed key set of one generated key. No
 * random input may ever verify.
 */
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static vfy_jwks *keys;
    vfy_jwks *parsed = NULL;
    vfy_ear *ear = NULL;

    if (keys == NULL) {
        vfy_signing_key *k = NULL;

        if (vfy_signing_key_generate(&k) != VFY_OK || vfy_jwks_new(&keys) != VFY_OK ||
            vfy_jwks_add(keys, k) != VFY_OK)
            __builtin_trap();
        vfy_signing_key_free(&k);
    }
    if (vfy_ear_verify(&ear, (const char *)data, size, keys, NULL, 0, NULL, 0) == VFY_OK)
        __builtin_trap();
    if (vfy_jwks_parse(&parsed, (const char *)data, size) == VFY_OK)
        vfy_jwks_free(&parsed);
    return 0;
}
