/*
 * cmd_pcr.c — `verifyctl pcr add|import|revoke`: allowed PCR values in
 * named reference sets. `pcr import` reads what `tpm2_pcrread` prints; its
 * sha1 bank is skipped with a note on stderr (SHA-1 values are never
 * reference values), sha256 and sha384 are imported, other banks refused;
 * a file without sha256 values gets a note (policies appraise no other bank).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verifyctl.h"

#define PCRREAD_FILE_MAX (1024 * 1024)

static const char usage[] =
    "usage: verifyctl --db PATH pcr add SET --index N --digest HEX [--bank sha256|sha384]\n"
    "       verifyctl --db PATH pcr import SET FILE\n"
    "       verifyctl --db PATH pcr revoke SET --index N --digest HEX [--bank sha256|sha384]\n";

static const char add_usage[] =
    "usage: verifyctl --db PATH pcr add SET --index N --digest HEX [--bank sha256|sha384]\n"
    "\n"
    "Allow HEX as a value of PCR N (0..23) of BANK (default sha256) in reference\n"
    "set SET. HEX is 64 hex digits for sha256, 96 for sha384 (either case, an\n"
    "optional 0x prefix). A PCR may have several allowed values.\n";

static const char import_usage[] =
    "usage: verifyctl --db PATH pcr import SET FILE\n"
    "\n"
    "Allow every value in FILE, the output of `tpm2_pcrread` (e.g.\n"
    "`tpm2_pcrread sha256:0,1,2,3,4,5,6,7 > FILE`), in reference set SET, in one\n"
    "transaction. The sha1 bank is skipped with a note; sha256 and sha384 are\n"
    "imported; any other bank, or a malformed line, fails the whole import.\n";

static const char revoke_usage[] =
    "usage: verifyctl --db PATH pcr revoke SET --index N --digest HEX [--bank sha256|sha384]\n"
    "\n"
    "Revoke an allowed PCR value; unexpired results that relied on it are marked\n"
    "revoked and appear in the revocation feed. A value revoked already is left\n"
    "as it is (\"already revoked, unchanged\").\n";

/* Parse --bank, --index and --digest into @bank, @index, @d (@dlen bytes). */
static int parse_value(const char *what, const char *bank_s, const char *index_s,
                       const char *hex, vfy_hash_alg *bank, unsigned *index,
                       uint8_t d[VFY_MAX_DIGEST], size_t *dlen)
{
    unsigned long long v;
    size_t n;

    *bank = VFY_HASH_SHA256;
    if (bank_s != NULL && (vfy_hash_from_name(bank, bank_s) != VFY_OK ||
                           (*bank != VFY_HASH_SHA256 && *bank != VFY_HASH_SHA384)))
        return vc_fail(VC_EXIT_USAGE, what, "--bank must be sha256 or sha384, not \"%s\"", bank_s);
    if (index_s == NULL || hex == NULL)
        return vc_fail(VC_EXIT_USAGE, what, "--index N and --digest HEX are required");
    if (vc_parse_uint(index_s, VFY_PCR_COUNT - 1, &v) != 0)
        return vc_fail(VC_EXIT_USAGE, what, "--index must be a PCR index 0..23, not \"%s\"",
                       index_s);
    *index = (unsigned)v;
    if (hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X'))
        hex += 2;
    n = strlen(hex);
    if (n != 2 * vfy_hash_size(*bank) ||
        vfy_hex_decode(d, VFY_MAX_DIGEST, dlen, hex, n) != VFY_OK)
        return vc_fail(VC_EXIT_FAIL, what, "--digest must be %zu hex digits for bank %s",
                       2 * vfy_hash_size(*bank), vfy_hash_name(*bank));
    return 0;
}

static int pcr_add(const vc_ctx *c, int argc, char **argv)
{
    const char *index_s = NULL, *hex = NULL, *bank_s = NULL;
    const vc_opt opts[] = {
        {"index", 1, &index_s, NULL}, {"digest", 1, &hex, NULL}, {"bank", 1, &bank_s, NULL},
        {NULL, 0, NULL, NULL},
    };
    const char *pos[1];
    uint8_t d[VFY_MAX_DIGEST];
    size_t np, dlen = 0;
    vfy_hash_alg bank;
    unsigned index;
    vfy_store *st = NULL;
    int added = 0;
    vfy_rc rc;
    int r = vc_parse("pcr add", add_usage, argc, argv, opts, pos, 1, 1, &np);

    if (r != 0)
        return VC_STOP(r);
    if ((r = parse_value("pcr add", bank_s, index_s, hex, &bank, &index, d, &dlen)) != 0)
        return r;
    if ((r = vc_open(c, "pcr add", 0, &st)) != 0)
        return r;
    rc = vfy_store_pcr_add(st, pos[0], bank, index, d, dlen, &added);
    if (rc != VFY_OK)
        r = vc_fail_rc("pcr add", st, rc);
    else
        printf("pcr %s %s:%u: %s\n", pos[0], vfy_hash_name(bank), index,
               added ? "added" : "already present, unchanged");
    vfy_store_close(&st);
    return r;
}

static int pcr_import(const vc_ctx *c, int argc, char **argv)
{
    const char *pos[2];
    size_t np, len = 0, skipped = 0, line = 0, added = 0, n256 = 0;
    char *buf = NULL;
    vfy_pcr_values pv;
    vfy_store *st = NULL;
    vfy_rc rc;
    int r = vc_parse("pcr import", import_usage, argc, argv, NULL, pos, 2, 2, &np);

    if (r != 0)
        return VC_STOP(r);
    if ((r = vc_read_file("pcr import", pos[1], PCRREAD_FILE_MAX, &buf, &len)) != 0)
        return r;
    rc = vfy_store_pcrread_parse(&pv, buf, len, &skipped, &line);
    free(buf);
    if (rc != VFY_OK)
        return vc_fail(VC_EXIT_FAIL, "pcr import", "%s:%zu: %s (%s)", pos[1], line,
                       rc == VFY_E_PCR_BANK ? "unsupported bank or PCR index (banks: sha256, "
                                              "sha384; indices 0..23)"
                                            : "not tpm2_pcrread output",
                       vfy_rc_name(rc));
    for (size_t b = 0; b < pv.nbanks; b++)
        if (pv.banks[b].alg == VFY_HASH_SHA256)
            for (unsigned i = 0; i < VFY_PCR_COUNT; i++)
                n256 += (pv.banks[b].mask >> i) & 1u;
    if ((r = vc_open(c, "pcr import", 0, &st)) != 0)
        return r;
    rc = vfy_store_pcr_import(st, pos[0], &pv, &added);
    if (rc != VFY_OK) {
        r = vc_fail_rc("pcr import", st, rc);   /* one line: no note before it */
    } else {
        if (skipped > 0)
            vc_note("pcr import", "note: skipped %zu sha1 values (SHA-1 is never a "
                    "reference value)", skipped);
        if (n256 == 0) {
            /* sha384 values only: stored, but a policy appraises the sha256
             * bank alone (policy.h, platform.bank) */
            size_t have = 0;
            int none = vfy_store_refset_pcr_count_bank(st, pos[0], VFY_HASH_SHA256,
                                                       &have) == VFY_OK && have == 0;

            vc_note("pcr import", "note: %s has no sha256 values: policies appraise the "
                    "sha256 bank only, so the values it holds are not used (tpm2_pcrread "
                    "sha256:...)%s%s%s", pos[1], none ? "; reference set " : "",
                    none ? pos[0] : "", none ? " has no approved sha256 value: its "
                    "attesters fail platform appraisal" : "");
        }
        printf("pcr %s: %zu values added\n", pos[0], added);
    }
    vfy_store_close(&st);
    return r;
}

static int pcr_revoke(const vc_ctx *c, int argc, char **argv)
{
    const char *index_s = NULL, *hex = NULL, *bank_s = NULL;
    const vc_opt opts[] = {
        {"index", 1, &index_s, NULL}, {"digest", 1, &hex, NULL}, {"bank", 1, &bank_s, NULL},
        {NULL, 0, NULL, NULL},
    };
    const char *pos[1];
    uint8_t d[VFY_MAX_DIGEST];
    size_t np, dlen = 0, nrev = 0, nres = 0;
    vfy_hash_alg bank;
    unsigned index;
    vfy_store *st = NULL;
    vfy_rc rc;
    int r = vc_parse("pcr revoke", revoke_usage, argc, argv, opts, pos, 1, 1, &np);

    if (r != 0)
        return VC_STOP(r);
    if ((r = parse_value("pcr revoke", bank_s, index_s, hex, &bank, &index, d, &dlen)) != 0)
        return r;
    if ((r = vc_open(c, "pcr revoke", 0, &st)) != 0)
        return r;
    rc = vfy_store_pcr_revoke_counted(st, pos[0], bank, index, d, dlen, &nrev, &nres);
    if (rc != VFY_OK)
        r = vc_fail_rc("pcr revoke", st, rc);
    else if (nrev == 0)   /* revoked before: nothing changed */
        printf("pcr %s %s:%u: already revoked, unchanged\n", pos[0], vfy_hash_name(bank), index);
    else
        printf("pcr %s %s:%u: revoked; %zu results revoked\n", pos[0], vfy_hash_name(bank),
               index, nres);
    vfy_store_close(&st);
    return r;
}

int vc_cmd_pcr(const vc_ctx *c, int argc, char **argv)
{
    static const vc_sub subs[] = {
        {"add", pcr_add}, {"import", pcr_import}, {"revoke", pcr_revoke}, {NULL, NULL},
    };

    return vc_dispatch(c, "pcr", usage, subs, argc, argv);
}
