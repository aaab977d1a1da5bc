/*
 * fuzz_attest_request.c — the POST /v1/attest body parser
 * (vfy_attest_body_parse) and the evidence it hands to the appraisal.
 *
 * Oracle: for a body with a JSON evidence object, the collection read from
 * the body's tree (vfy_cmw_parse_tree, what vfy_appraise uses) and the one
 * read from that object printed compactly (vfy_cmw_parse, what a caller
 * passing evidence bytes gets) are both accepted with the same records, or
 * both refused.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vfy_attest_body *b = NULL;
    vfy_appraisal_request req;
    const struct cJSON *tree;
    const uint8_t *cbor;
    size_t cbor_len, body_len;
    vfy_cmw *c1 = NULL, *c2 = NULL;
    char detail[256], *printed;
    vfy_rc r1, r2;

    if (vfy_attest_body_parse(&b, (const char *)data, size, detail, sizeof(detail)) != VFY_OK) {
        if (b != NULL)
            __builtin_trap();
        return 0;
    }
    memset(&req, 0, sizeof(req));
    vfy_attest_body_request(b, &req);
    if (req.body != b || req.attester == NULL || req.attester[0] == '\0' ||
        strlen(req.attester) > VFY_STORE_NAME_MAX || req.max_ttl_s > VFY_ATTEST_MAX_TTL_S)
        __builtin_trap();
    tree = vfy_attest_body_evidence(b, &cbor, &cbor_len, &body_len);
    if (tree == NULL) {
        if (cbor == NULL || vfy_attest_body_format(b) != VFY_CMW_CBOR)
            __builtin_trap();
    } else if ((printed = cJSON_PrintUnformatted(tree)) != NULL) {
        r1 = vfy_cmw_parse_tree(&c1, tree, body_len, detail, sizeof(detail));
        r2 = vfy_cmw_parse(&c2, VFY_CMW_JSON, printed, strlen(printed), detail, sizeof(detail));
        if ((r1 == VFY_OK) != (r2 == VFY_OK))
            __builtin_trap();
        for (int i = 0; r1 == VFY_OK && i < VFY_CMW_RECORDS; i++) {
            size_t n1, n2;
            const uint8_t *p1 = vfy_cmw_get(c1, (vfy_cmw_record)i, &n1);
            const uint8_t *p2 = vfy_cmw_get(c2, (vfy_cmw_record)i, &n2);

            if (n1 != n2 || (n1 > 0 && memcmp(p1, p2, n1) != 0))
                __builtin_trap();
        }
        vfy_cmw_free(&c1);
        vfy_cmw_free(&c2);
        cJSON_free(printed);
    }
    vfy_attest_body_free(&b);
    return 0;
}
