/* A relying party's smallest program: link libverify as an installed package. */
#include <stdio.h>
#include <string.h>
#include <verify/verify.h>

int main(void)
{
    uint8_t nonce[32] = {0}, cb[32] = {0}, binder[32];
    char hex[65];
    const char *why = NULL;

    if (VFY_VERSION_NUM != vfy_version_num())
        return 1;
    /* the strict JSON rule: \u0000 refused, with its reason */
    if (vfy_json_check("{\"a\":1}", 7, NULL) != VFY_OK ||
        vfy_json_check("[\"\\u0000\"]", 10, &why) != VFY_E_JSON || why == NULL)
        return 1;
    if (vfy_binder_manifest(binder, nonce, cb, (const uint8_t *)"{}", 2) != VFY_OK ||
        vfy_hex_encode(hex, sizeof(hex), binder, sizeof(binder)) != VFY_OK)
        return 1;
    printf("%s %s\n", vfy_version(), hex);
    return 0;
}
