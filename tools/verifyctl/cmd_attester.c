/*
 * cmd_attester.c — `verifyctl attester add|revoke|reset`: register an
 * attester with its AK (PEM SubjectPublicKeyInfo or TPM2B_PUBLIC as written
 * by `tpm2_createak -u`), signing scheme, PCR reference set and policy;
 * revoke it; forget its TPM clock and agent-log state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verifyctl.h"

#define AK_FILE_MAX (64 * 1024)

static const char usage[] =
    "usage: verifyctl --db PATH attester add NAME (--ak-pem FILE | --ak-public FILE)\n"
    "                 [--refset SET] [--policy ID] [--scheme S]\n"
    "       verifyctl --db PATH attester revoke NAME\n"
    "       verifyctl --db PATH attester reset NAME\n";

static const char add_usage[] =
    "usage: verifyctl --db PATH attester add NAME (--ak-pem FILE | --ak-public FILE)\n"
    "                 [--refset SET] [--policy ID] [--scheme S]\n"
    "\n"
    "Register attester NAME with its attestation key.\n"
    "  --ak-pem FILE     the AK as PEM SubjectPublicKeyInfo\n"
    "  --ak-public FILE  the AK as a marshalled TPM2B_PUBLIC (tpm2_createak -u)\n"
    "  --refset SET      its PCR reference set (default \"default\")\n"
    "  --policy ID       its appraisal policy, which must be loaded already\n"
    "                    (default: the verifier's default policy)\n"
    "  --scheme S        signing scheme: ecdsa-sha256, ecdsa-sha384, rsassa-sha256,\n"
    "                    rsassa-sha384, rsapss-sha256, rsapss-sha384 (default: from\n"
    "                    the key; ecdsa-sha256 for EC, rsassa-sha256 for RSA)\n"
    "Adding the same attester again changes nothing; the same NAME with another\n"
    "key, scheme, set or policy is an error.\n";

static const char revoke_usage[] =
    "usage: verifyctl --db PATH attester revoke NAME\n"
    "\n"
    "Mark attester NAME revoked: its quotes are no longer trusted. An attester\n"
    "revoked already is left as it is (\"already revoked, unchanged\").\n";

static const char reset_usage[] =
    "usage: verifyctl --db PATH attester reset NAME\n"
    "\n"
    "Forget the TPM clock state and agent-log history stored for attester NAME,\n"
    "after its TPM was cleared or re-provisioned with the same attestation key\n"
    "(its quotes are refused with \"resetCount went back\" until then). Its next\n"
    "quote starts both again, as a first quote does. Known-good manifests,\n"
    "results and the attester itself are kept. Audited.\n";

static int attester_add(const vc_ctx *c, int argc, char **argv)
{
    const char *pem = NULL, *pub = NULL, *refset = NULL, *policy = NULL, *scheme = NULL;
    const vc_opt opts[] = {
        {"ak-pem", 1, &pem, NULL}, {"ak-public", 1, &pub, NULL}, {"refset", 1, &refset, NULL},
        {"policy", 1, &policy, NULL}, {"scheme", 1, &scheme, NULL}, {NULL, 0, NULL, NULL},
    };
    const char *pos[1];
    size_t np, len = 0;
    char *buf = NULL;
    vfy_store *st = NULL;
    int added = 0;
    vfy_rc rc;
    int r = vc_parse("attester add", add_usage, argc, argv, opts, pos, 1, 1, &np);

    if (r != 0)
        return VC_STOP(r);
    if ((pem == NULL) == (pub == NULL))
        return vc_fail(VC_EXIT_USAGE, "attester add", "give exactly one of --ak-pem FILE or "
                       "--ak-public FILE");
    {
        vfy_sig_scheme sch;

        if (scheme != NULL && vfy_sig_scheme_parse(&sch, scheme) != VFY_OK)
            return vc_fail(VC_EXIT_USAGE, "attester add", "--scheme must be ecdsa-sha256, "
                           "ecdsa-sha384, rsassa-sha256, rsassa-sha384, rsapss-sha256 or "
                           "rsapss-sha384, not \"%s\"", scheme);
    }
    r = vc_read_file("attester add", pem != NULL ? pem : pub, AK_FILE_MAX, &buf, &len);
    if (r != 0)
        return r;
    /* The flag says what the file must be; the library sniffs "-----BEGIN". */
    if ((pem != NULL) != (len >= 10 && memcmp(buf, "-----BEGIN", 10) == 0)) {
        r = vc_fail(VC_EXIT_FAIL, "attester add", "%s: %s", pem != NULL ? pem : pub,
                    pem != NULL ? "not a PEM public key" : "PEM given to --ak-public (use --ak-pem)");
        free(buf);
        return r;
    }
    r = vc_open(c, "attester add", 0, &st);
    if (r == 0) {
        rc = vfy_store_attester_add(st, pos[0], (const uint8_t *)buf, len, scheme, refset,
                                    policy, &added);
        if (rc == VFY_E_SIG_SCHEME && scheme != NULL)   /* from loading the key */
            r = vc_fail(VC_EXIT_FAIL, "attester add", "--scheme %s does not fit this key (EC "
                        "keys take ecdsa-*, RSA keys rsassa-* or rsapss-*; a TPM2B_PUBLIC that "
                        "names its scheme takes only that one) (%s)", scheme, vfy_rc_name(rc));
        else if (rc != VFY_OK)
            r = vc_fail_rc("attester add", st, rc);
        else
            printf("attester %s: %s\n", pos[0], added ? "added" : "already present, unchanged");
        if (rc == VFY_OK) {
            /* sha256 values only: a policy appraises no other bank
             * (policy.h, platform.bank), so a set of sha384 values alone
             * fails every platform appraisal as an empty one does */
            const char *set = refset != NULL && refset[0] != '\0' ? refset : "default";
            size_t n256 = 0, n384 = 0;
            char other[96] = "";

            if (vfy_store_refset_pcr_count_bank(st, set, VFY_HASH_SHA256, &n256) == VFY_OK &&
                n256 == 0) {
                if (vfy_store_refset_pcr_count_bank(st, set, VFY_HASH_SHA384, &n384) == VFY_OK &&
                    n384 > 0)
                    snprintf(other, sizeof(other), " (its %zu sha384 values are not used: "
                             "policies appraise the sha256 bank)", n384);
                vc_note("attester add", "warning: reference set %s has no approved sha256 PCR "
                        "values%s: this attester's platform appraisal fails until it has "
                        "(verifyctl pcr add %s ...)", set, other, set);
            }
        }
    }
    vfy_store_close(&st);
    free(buf);
    return r;
}

static int attester_revoke(const vc_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    size_t np, nrev = 0;
    vfy_store *st = NULL;
    vfy_rc rc;
    int r = vc_parse("attester revoke", revoke_usage, argc, argv, NULL, pos, 1, 1, &np);

    if (r != 0)
        return VC_STOP(r);
    if ((r = vc_open(c, "attester revoke", 0, &st)) != 0)
        return r;
    rc = vfy_store_attester_revoke_counted(st, pos[0], &nrev);
    if (rc != VFY_OK)
        r = vc_fail_rc("attester revoke", st, rc);
    else if (nrev == 0)   /* revoked before: nothing changed, the note was given then */
        printf("attester %s: already revoked, unchanged\n", pos[0]);
    else
        printf("attester %s: revoked\n", pos[0]);
    if (rc == VFY_OK && nrev > 0) {
        /* Revoking an attester does not revoke others registered with the
         * same key: say so, since a compromised key needs them revoked too. */
        char names[5][VFY_STORE_NAME_MAX + 1], list[5 * (VFY_STORE_NAME_MAX + 2)] = "";
        size_t n = 0, listed = 0, used = 0;

        if (vfy_store_attester_key_sharers(st, pos[0], &n, names, 5, &listed) == VFY_OK &&
            n > 0) {
            for (size_t i = 0; i < listed; i++)
                used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
                                         i ? ", " : "", names[i]);
            printf("note: %zu other active attester(s) share its attestation key (%s%s); "
                   "revoke them too if the key is compromised\n", n, list,
                   n > listed ? ", ..." : "");
        }
    }
    vfy_store_close(&st);
    return r;
}

static int attester_reset(const vc_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    size_t np;
    vfy_store *st = NULL;
    vfy_rc rc;
    int had = 0, r = vc_parse("attester reset", reset_usage, argc, argv, NULL, pos, 1, 1, &np);

    if (r != 0)
        return VC_STOP(r);
    if ((r = vc_open(c, "attester reset", 0, &st)) != 0)
        return r;
    rc = vfy_store_attester_reset(st, pos[0], &had);
    if (rc != VFY_OK)
        r = vc_fail_rc("attester reset", st, rc);
    else
        printf("attester %s: %s\n", pos[0],
               had ? "TPM clock and agent-log state cleared; its next quote starts them again"
                   : "no TPM clock or agent-log state stored; nothing to clear");
    vfy_store_close(&st);
    return r;
}

int vc_cmd_attester(const vc_ctx *c, int argc, char **argv)
{
    static const vc_sub subs[] = {
        {"add", attester_add}, {"revoke", attester_revoke}, {"reset", attester_reset},
        {NULL, NULL},
    };

    return vc_dispatch(c, "attester", usage, subs, argc, argv);
}
