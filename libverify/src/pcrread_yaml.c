/*
 * pcrread_yaml.c — parse the YAML that `tpm2_pcrread` (tpm2-tools 5.x)
 * prints, for `verifyctl pcr import`:
 *
 *     sha1:
 *       0 : 0x0000000000000000000000000000000000000000
 *     sha256:
 *       0 : 0x3D458CFE55CC03EA1F443F1562BEEC8DF51C75E14A9FCF9A7234A13F198E7969
 *       10: 0x...
 *
 * Only this shape is accepted — a bank line "<name>:" and value lines
 * "<index> : 0x<hex>" below it; blank lines and "#" comments are skipped.
 * It is a line parser for one known output, not a YAML implementation.
 * The sha1 bank is skipped (SHA-1 is never a reference value) and counted;
 * sha256 and sha384 are kept; any other bank is VFY_E_PCR_BANK. Indices are
 * canonical decimal 0..23, values exactly the bank's digest size in hex
 * (either case, "0x" optional); a repeated index is an error.
 */
#include <string.h>

#include "refstore_int.h"

#define PCRREAD_MAX ((size_t)1024 * 1024)

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Trim [*b, *e) of blanks on both ends. */
static void trim(const char **b, const char **e)
{
    while (*b < *e && is_space(**b))
        (*b)++;
    while (*e > *b && is_space((*e)[-1]))
        (*e)--;
}

vfy_rc vfy_store_pcrread_parse(vfy_pcr_values *out, const char *text, size_t len,
                               size_t *skipped, size_t *line_out)
{
    const char *p = text, *end = text + len;
    vfy_pcr_bank *bank = NULL;
    int in_sha1 = 0, sha1_seen = 0;
    uint32_t sha1_mask = 0;   /* sha1 indices seen (dropped, but checked) */
    size_t line = 0, nskip = 0;
    vfy_rc rc = VFY_OK;

    if (skipped != NULL)
        *skipped = 0;
    if (line_out != NULL)
        *line_out = 0;
    if (out == NULL || (text == NULL && len > 0))
        return VFY_E_INVALID_ARG;
    memset(out, 0, sizeof(*out));
    if (len > PCRREAD_MAX)
        return VFY_E_TOO_LARGE;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *b = p, *e = nl != NULL ? nl : end, *colon;

        p = nl != NULL ? nl + 1 : end;
        line++;
        trim(&b, &e);
        if (b == e || *b == '#')
            continue;
        if (memchr(b, '\0', (size_t)(e - b)) != NULL) {
            rc = VFY_E_PCR_VALUES;
            break;
        }
        colon = memchr(b, ':', (size_t)(e - b));
        if (colon == NULL) {
            rc = VFY_E_PCR_VALUES;
            break;
        }
        if (colon + 1 == e) {
            /* A bank header: "sha256:". */
            char name[16];
            const char *ne = colon;
            vfy_hash_alg alg;

            trim(&b, &ne);
            if (ne - b <= 0 || (size_t)(ne - b) >= sizeof(name)) {
                rc = VFY_E_PCR_VALUES;
                break;
            }
            memcpy(name, b, (size_t)(ne - b));
            name[ne - b] = '\0';
            bank = NULL;
            in_sha1 = 0;
            if (strcmp(name, "sha1") == 0) {
                if (sha1_seen) {
                    rc = VFY_E_PCR_VALUES;            /* bank twice */
                    break;
                }
                in_sha1 = sha1_seen = 1;
                continue;
            }
            if (vfy_hash_from_name(&alg, name) != VFY_OK ||
                (alg != VFY_HASH_SHA256 && alg != VFY_HASH_SHA384)) {
                rc = VFY_E_PCR_BANK;
                break;
            }
            for (size_t i = 0; i < out->nbanks; i++)
                if (out->banks[i].alg == alg)
                    rc = VFY_E_PCR_VALUES;            /* bank twice */
            if (rc != VFY_OK || out->nbanks >= VFY_PCR_MAX_BANKS) {
                rc = VFY_E_PCR_VALUES;
                break;
            }
            bank = &out->banks[out->nbanks++];
            bank->alg = alg;
            continue;
        }
        /* A value line: "<index> : 0x<hex>". */
        {
            const char *ib = b, *ie = colon, *vb = colon + 1, *ve = e;
            unsigned idx = 0;
            size_t want, got = 0;

            if (bank == NULL && !in_sha1) {
                rc = VFY_E_PCR_VALUES;            /* value before any bank */
                break;
            }
            trim(&ib, &ie);
            trim(&vb, &ve);
            if (ie - ib < 1 || ie - ib > 2 || (ie - ib == 2 && *ib == '0')) {
                rc = VFY_E_PCR_VALUES;
                break;
            }
            for (const char *q = ib; q < ie; q++) {
                if (*q < '0' || *q > '9') {
                    rc = VFY_E_PCR_VALUES;
                    break;
                }
                idx = idx * 10 + (unsigned)(*q - '0');
            }
            if (rc != VFY_OK)
                break;
            if (idx >= VFY_PCR_COUNT) {
                rc = VFY_E_PCR_BANK;
                break;
            }
            if (ve - vb >= 2 && vb[0] == '0' && (vb[1] == 'x' || vb[1] == 'X'))
                vb += 2;
            if (in_sha1) {
                /* checked as any bank's (20 bytes, once per index), then
                 * dropped: a malformed line fails the import here too */
                uint8_t scratch[VFY_MAX_DIGEST];

                if ((size_t)(ve - vb) != 40 || (sha1_mask & (1u << idx)) ||
                    vfy_hex_decode(scratch, sizeof(scratch), &got, vb, (size_t)(ve - vb)) !=
                        VFY_OK || got != 20) {
                    rc = VFY_E_PCR_VALUES;
                    break;
                }
                sha1_mask |= 1u << idx;
                nskip++;
                continue;
            }
            want = vfy_hash_size(bank->alg);
            if ((size_t)(ve - vb) != 2 * want || (bank->mask & (1u << idx)) ||
                vfy_hex_decode(bank->values[idx], VFY_MAX_DIGEST, &got, vb,
                               (size_t)(ve - vb)) != VFY_OK || got != want) {
                rc = VFY_E_PCR_VALUES;
                break;
            }
            bank->mask |= 1u << idx;
        }
    }
    if (rc != VFY_OK) {
        memset(out, 0, sizeof(*out));
        if (line_out != NULL)
            *line_out = line;
        return rc;
    }
    if (skipped != NULL)
        *skipped = nskip;
    return VFY_OK;
}
