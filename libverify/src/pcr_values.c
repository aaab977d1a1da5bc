/*
 * pcr_values.c — the pcr-values JSON of DESIGN §5 (tpm-pcrs record).
 *
 *   {"sha256":{"0":"<64 hex>",...}}
 *
 * Parsed with cJSON into a fixed-size vfy_pcr_values (no allocation kept).
 * Strict: canonical decimal indices 0..23, hex of exactly the bank's digest
 * size, no duplicate banks or indices (cJSON keeps duplicates, so they are
 * detected here), nothing but objects and strings.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "json_util.h"

static vfy_pcr_bank *bank_get(vfy_pcr_values *pv, vfy_hash_alg alg, int create)
{
    for (size_t i = 0; i < pv->nbanks; i++)
        if (pv->banks[i].alg == alg)
            return &pv->banks[i];
    if (!create || pv->nbanks >= VFY_PCR_MAX_BANKS)
        return NULL;
    memset(&pv->banks[pv->nbanks], 0, sizeof(pv->banks[0]));
    pv->banks[pv->nbanks].alg = alg;
    return &pv->banks[pv->nbanks++];
}

const vfy_pcr_bank *vfy_pcr_values_bank(const vfy_pcr_values *pv, vfy_hash_alg alg)
{
    if (pv == NULL)
        return NULL;
    for (size_t i = 0; i < pv->nbanks; i++)
        if (pv->banks[i].alg == alg)
            return &pv->banks[i];
    return NULL;
}

static int bank_supported(vfy_hash_alg alg)
{
    return alg == VFY_HASH_SHA256 || alg == VFY_HASH_SHA384;
}

vfy_rc vfy_pcr_values_set(vfy_pcr_values *pv, vfy_hash_alg alg, unsigned index,
                          const uint8_t *value)
{
    vfy_pcr_bank *b;

    if (pv == NULL || value == NULL)
        return VFY_E_INVALID_ARG;
    if (!bank_supported(alg) || index >= VFY_PCR_COUNT)
        return VFY_E_PCR_BANK;
    if ((b = bank_get(pv, alg, 1)) == NULL)
        return VFY_E_PCR_BANK;
    memcpy(b->values[index], value, vfy_hash_size(alg));
    b->mask |= 1u << index;
    return VFY_OK;
}

/* Canonical decimal 0..23: no sign, no leading zero, no spaces. */
static int parse_index(const char *s, unsigned *out)
{
    size_t n = strlen(s);

    if (n == 0 || n > 2 || (n == 2 && s[0] == '0'))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    *out = (unsigned)(n == 1 ? s[0] - '0' : (s[0] - '0') * 10 + (s[1] - '0'));
    return *out < VFY_PCR_COUNT;
}

static vfy_rc parse_bank(vfy_pcr_values *pv, const cJSON *jb)
{
    vfy_hash_alg alg;
    vfy_pcr_bank *b;
    const cJSON *jv;

    if (jb->string == NULL || !cJSON_IsObject(jb))
        return VFY_E_PCR_VALUES;
    if (vfy_hash_from_name(&alg, jb->string) != VFY_OK)
        return VFY_E_PCR_BANK;
    if (!bank_supported(alg))
        return VFY_E_PCR_BANK;
    if (vfy_pcr_values_bank(pv, alg) != NULL)
        return VFY_E_PCR_VALUES; /* duplicate bank */
    if ((b = bank_get(pv, alg, 1)) == NULL)
        return VFY_E_PCR_BANK;
    cJSON_ArrayForEach(jv, jb) {
        size_t hlen = vfy_hash_size(alg), n;
        unsigned idx;

        if (jv->string == NULL || !cJSON_IsString(jv) || jv->valuestring == NULL)
            return VFY_E_PCR_VALUES;
        if (!parse_index(jv->string, &idx))
            return VFY_E_PCR_VALUES;
        if (b->mask & (1u << idx))
            return VFY_E_PCR_VALUES; /* duplicate index */
        if (strlen(jv->valuestring) != 2 * hlen ||
            vfy_hex_decode(b->values[idx], VFY_MAX_DIGEST, &n, jv->valuestring,
                           2 * hlen) != VFY_OK)
            return VFY_E_PCR_VALUES;
        b->mask |= 1u << idx;
    }
    return VFY_OK;
}

vfy_rc vfy_pcr_values_parse(vfy_pcr_values *out, const char *json, size_t len)
{
    cJSON *root = NULL;
    const cJSON *jb;
    vfy_rc rc = VFY_OK;

    if (out == NULL || (json == NULL && len != 0))
        return VFY_E_INVALID_ARG;
    memset(out, 0, sizeof(*out));
    if (len > VFY_PCR_JSON_MAX)
        return VFY_E_TOO_LARGE;
    /* The strict parser every other evidence document goes through: UTF-8
     * only (no BOM, no \u0000), integers only, no duplicate keys, at most
     * VFY_JSON_MAX_DEPTH deep, only whitespace after the object. */
    if (vfy_json_parse(&root, json, len, VFY_JSON_MAX_DEPTH) != VFY_JSON_OK ||
        !cJSON_IsObject(root)) {
        rc = VFY_E_PCR_VALUES;
        goto out;
    }
    cJSON_ArrayForEach(jb, root) {
        if ((rc = parse_bank(out, jb)) != VFY_OK)
            goto out;
    }
out:
    cJSON_Delete(root);
    if (rc != VFY_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

vfy_rc vfy_pcr_values_to_json(const vfy_pcr_values *pv, char **json)
{
    cJSON *root, *jb;
    char hex[2 * VFY_MAX_DIGEST + 1], key[4];

    if (pv == NULL || json == NULL)
        return VFY_E_INVALID_ARG;
    *json = NULL;
    if ((root = cJSON_CreateObject()) == NULL)
        return VFY_E_NOMEM;
    for (size_t i = 0; i < pv->nbanks; i++) {
        const vfy_pcr_bank *b = &pv->banks[i];
        const char *name = vfy_hash_name(b->alg);

        if (name == NULL || (jb = cJSON_AddObjectToObject(root, name)) == NULL)
            goto fail;
        for (unsigned idx = 0; idx < VFY_PCR_COUNT; idx++) {
            if (!(b->mask & (1u << idx)))
                continue;
            snprintf(key, sizeof(key), "%u", idx);
            if (vfy_hex_encode(hex, sizeof(hex), b->values[idx], vfy_hash_size(b->alg)) != VFY_OK ||
                cJSON_AddStringToObject(jb, key, hex) == NULL)
                goto fail;
        }
    }
    *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return *json != NULL ? VFY_OK : VFY_E_NOMEM;
fail:
    cJSON_Delete(root);
    return VFY_E_NOMEM;
}
