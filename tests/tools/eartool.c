/*
 * eartool.c — test helper for tests/integration/ear_openssl.sh.
 *
 *   eartool sign KEY.pem OUTDIR [ietf|veraison]
 *       generates KEY.pem if missing, signs a sample EAR and writes
 *       OUTDIR/ear.jws, OUTDIR/jwks.json, OUTDIR/pub.pem, OUTDIR/kid
 *   eartool verify JWKS.json JWS_FILE NOW
 *       prints the vfy_rc name of vfy_ear_verify() and exits 0 only on VFY_OK
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "verify/verify.h"
#include "verify/jwk.h"
#include "verify/ear.h"

static int write_file(const char *dir, const char *name, const char *data)
{
    char path[4096];
    FILE *f;
    int ok;

    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
        return -1;
    f = fopen(path, "w");
    if (f == NULL)
        return -1;
    ok = fputs(data, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *b = malloc(1 << 20);
    size_t n;

    if (f == NULL || b == NULL) {
        if (f != NULL)
            fclose(f);
        free(b);
        return NULL;
    }
    n = fread(b, 1, (1 << 20) - 1, f);
    fclose(f);
    while (n > 0 && (b[n - 1] == '\n' || b[n - 1] == '\r'))
        n--;
    b[n] = '\0';
    *len = n;
    return b;
}

static int cmd_sign(const char *keypath, const char *dir, const char *profile)
{
    static const char *const policies[] = {"default@1"};
    static const char *const reasons[] = {"tool payments.transfer 2.1.0 is not approved"};
    vfy_signing_key *key = NULL;
    vfy_jwks *set = NULL;
    vfy_ear_claims c;
    uint8_t nonce[32], cb[32];
    char *jws = NULL, *jwks = NULL, *pem = NULL;
    vfy_rc rc;

    rc = vfy_signing_key_load(&key, keypath);
    if (rc == VFY_E_IO) {
        rc = vfy_signing_key_generate(&key);
        if (rc == VFY_OK)
            rc = vfy_signing_key_save(key, keypath);
    }
    if (rc != VFY_OK)
        goto out;
    memset(nonce, 0x5a, sizeof(nonce));
    memset(cb, 0xcb, sizeof(cb));
    memset(&c, 0, sizeof(c));
    c.profile = profile != NULL && strcmp(profile, "veraison") == 0 ? VFY_EAR_PROFILE_VERAISON
                                                                   : VFY_EAR_PROFILE_IETF;
    c.iat = (int64_t)time(NULL);
    c.exp = c.iat + vfy_ear_ttl(300, 120);
    c.verifier_build = "verifierd eartool";
    c.attester = "agent-1";
    c.nonce = nonce;
    c.nonce_len = sizeof(nonce);
    c.channel_binding = cb;
    c.submod[VFY_EAR_PLATFORM].present = 1;
    vfy_trust_vector_set(&c.submod[VFY_EAR_PLATFORM].tv, VFY_TV_INSTANCE_IDENTITY, 2);
    vfy_trust_vector_set(&c.submod[VFY_EAR_PLATFORM].tv, VFY_TV_EXECUTABLES, 2);
    c.submod[VFY_EAR_PLATFORM].policy_ids = policies;
    c.submod[VFY_EAR_PLATFORM].n_policy_ids = 1;
    c.submod[VFY_EAR_AGENT].present = 1;
    vfy_trust_vector_set(&c.submod[VFY_EAR_AGENT].tv, VFY_TV_EXECUTABLES, 33);
    vfy_trust_vector_set(&c.submod[VFY_EAR_AGENT].tv, VFY_TV_CONFIGURATION, 2);
    c.submod[VFY_EAR_AGENT].policy_ids = policies;
    c.submod[VFY_EAR_AGENT].n_policy_ids = 1;
    c.has_manifest = 1;
    memset(c.manifest_digest, 0x11, sizeof(c.manifest_digest));
    c.manifest_version = 7;
    c.reasons = reasons;
    c.n_reasons = 1;
    if ((rc = vfy_ear_sign(&c, key, &jws, NULL)) != VFY_OK ||
        (rc = vfy_jwks_new(&set)) != VFY_OK || (rc = vfy_jwks_add(set, key)) != VFY_OK ||
        (rc = vfy_jwks_to_json(set, &jwks)) != VFY_OK ||
        (rc = vfy_signing_key_public_pem(key, &pem)) != VFY_OK)
        goto out;
    if (write_file(dir, "ear.jws", jws) != 0 || write_file(dir, "jwks.json", jwks) != 0 ||
        write_file(dir, "pub.pem", pem) != 0 || write_file(dir, "kid", vfy_signing_key_kid(key)) != 0) {
        rc = VFY_E_IO;
        goto out;
    }
    printf("%s\n", jws);
out:
    if (rc != VFY_OK)
        fprintf(stderr, "eartool: %s\n", vfy_strerror(rc));
    vfy_free(jws);
    vfy_free(jwks);
    vfy_free(pem);
    vfy_jwks_free(&set);
    vfy_signing_key_free(&key);
    return rc == VFY_OK ? 0 : 1;
}

static int cmd_verify(const char *jwks_path, const char *jws_path, const char *now_s)
{
    size_t jlen = 0, klen = 0;
    char *jwks = read_all(jwks_path, &klen), *jws = read_all(jws_path, &jlen), *end = NULL;
    long long now = strtoll(now_s, &end, 10);
    vfy_ear *e = NULL;
    vfy_rc rc = VFY_E_IO;

    if (jwks != NULL && jws != NULL && end != NULL && *end == '\0')
        rc = vfy_ear_verify_jwks_json(&e, jws, jlen, jwks, klen, NULL, 0, NULL, (int64_t)now);
    printf("%s\n", vfy_rc_name(rc));
    vfy_ear_free(&e);
    free(jwks);
    free(jws);
    return rc == VFY_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "sign") == 0)
        return cmd_sign(argv[2], argv[3], argc > 4 ? argv[4] : NULL);
    if (argc == 5 && strcmp(argv[1], "verify") == 0)
        return cmd_verify(argv[2], argv[3], argv[4]);
    fprintf(stderr, "usage: eartool sign KEY.pem OUTDIR [ietf|veraison]\n"
                    "       eartool verify JWKS.json JWS_FILE NOW\n");
    return 2;
}
