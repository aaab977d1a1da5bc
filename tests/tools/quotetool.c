/*
 * quotetool.c — a small CLI over libverify's quote API (DESIGN §3), driven by
 * the integration tests (tests/integration/quote_*.sh).
 *
 *   quotetool binder NONCE_HEX CB_HEX MANIFEST_FILE
 *       prints the binder as lowercase hex
 *   quotetool verify --ak FILE [--scheme S] --attest FILE --sig FILE
 *                    --pcrs FILE --binder HEX
 *       prints the vfy_rc name (VFY_OK or VFY_E_*); exit 0 only on VFY_OK
 *
 * --ak takes PEM SubjectPublicKeyInfo or a marshalled TPM2B_PUBLIC. Exit
 * status: 0 success, 1 verification failed, 2 usage or I/O error. Uses only
 * the public headers, like any user of the library.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <verify/verify.h>

#define FILE_MAX (1024 * 1024)

static int usage(void)
{
    fprintf(stderr,
            "usage: quotetool binder NONCE_HEX CB_HEX MANIFEST_FILE\n"
            "       quotetool verify --ak FILE [--scheme S] --attest FILE --sig FILE\n"
            "                        --pcrs FILE --binder HEX\n");
    return 2;
}

/* Read all of @path (at most FILE_MAX bytes) into a new buffer, NUL-terminated. */
static int read_file(const char *path, uint8_t **out, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t len = 0, n;

    *out = NULL;
    *out_len = 0;
    if (f == NULL) {
        fprintf(stderr, "quotetool: %s: %s\n", path, strerror(errno));
        return -1;
    }
    buf = malloc(FILE_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        fprintf(stderr, "quotetool: out of memory\n");
        return -1;
    }
    while ((n = fread(buf + len, 1, FILE_MAX + 1 - len, f)) > 0) {
        len += n;
        if (len > FILE_MAX)
            break;
    }
    if (ferror(f) || len > FILE_MAX) {
        fprintf(stderr, "quotetool: %s: %s\n", path,
                len > FILE_MAX ? "file too large" : "read error");
        fclose(f);
        free(buf);
        return -1;
    }
    fclose(f);
    buf[len] = 0;
    *out = buf;
    *out_len = len;
    return 0;
}

/* Decode exactly @want bytes of hex from @s (surrounding whitespace not allowed). */
static int parse_hex(const char *what, const char *s, uint8_t *out, size_t want)
{
    size_t n = 0;

    if (strlen(s) != 2 * want ||
        vfy_hex_decode(out, want, &n, s, strlen(s)) != VFY_OK || n != want) {
        fprintf(stderr, "quotetool: %s must be %zu bytes of hex\n", what, want);
        return -1;
    }
    return 0;
}

static void print_hex(const uint8_t *b, size_t len)
{
    char hex[2 * 64 + 1];

    if (len > 64 || vfy_hex_encode(hex, sizeof(hex), b, len) != VFY_OK) {
        fprintf(stderr, "quotetool: hex encoding failed\n");
        return;
    }
    printf("%s\n", hex);
}

static int cmd_binder(int argc, char **argv)
{
    uint8_t nonce[VFY_NONCE_LEN], cb[VFY_CB_LEN], binder[VFY_BINDER_LEN];
    uint8_t *manifest = NULL;
    size_t manifest_len = 0;
    vfy_rc rc;

    if (argc != 5)
        return usage();
    if (parse_hex("NONCE_HEX", argv[2], nonce, sizeof(nonce)) != 0 ||
        parse_hex("CB_HEX", argv[3], cb, sizeof(cb)) != 0 ||
        read_file(argv[4], &manifest, &manifest_len) != 0)
        return 2;
    rc = vfy_binder_manifest(binder, nonce, cb, manifest, manifest_len);
    free(manifest);
    if (rc != VFY_OK) {
        fprintf(stderr, "quotetool: binder: %s\n", vfy_rc_name(rc));
        return 1;
    }
    print_hex(binder, sizeof(binder));
    return 0;
}

static int cmd_verify(int argc, char **argv)
{
    const char *ak_path = NULL, *scheme_name = NULL, *attest_path = NULL;
    const char *sig_path = NULL, *pcrs_path = NULL, *binder_hex = NULL;
    uint8_t *akbuf = NULL, *attest = NULL, *sig = NULL, *pcrs_json = NULL;
    size_t ak_len = 0, attest_len = 0, sig_len = 0, pcrs_len = 0;
    uint8_t binder[VFY_BINDER_LEN];
    vfy_sig_scheme scheme;
    vfy_pcr_values pcrs;
    vfy_attest info;
    vfy_ak *ak = NULL;
    vfy_rc rc;
    int ret = 2;

    for (int i = 2; i < argc; i++) {
        const char **slot = NULL;

        if (strcmp(argv[i], "--ak") == 0)
            slot = &ak_path;
        else if (strcmp(argv[i], "--scheme") == 0)
            slot = &scheme_name;
        else if (strcmp(argv[i], "--attest") == 0)
            slot = &attest_path;
        else if (strcmp(argv[i], "--sig") == 0)
            slot = &sig_path;
        else if (strcmp(argv[i], "--pcrs") == 0)
            slot = &pcrs_path;
        else if (strcmp(argv[i], "--binder") == 0)
            slot = &binder_hex;
        if (slot == NULL || i + 1 >= argc || *slot != NULL)
            return usage();
        *slot = argv[++i];
    }
    if (ak_path == NULL || attest_path == NULL || sig_path == NULL ||
        pcrs_path == NULL || binder_hex == NULL)
        return usage();
    if (scheme_name != NULL && vfy_sig_scheme_parse(&scheme, scheme_name) != VFY_OK) {
        fprintf(stderr, "quotetool: unsupported scheme %s\n", scheme_name);
        return 2;
    }
    if (parse_hex("--binder", binder_hex, binder, sizeof(binder)) != 0)
        return 2;
    if (read_file(ak_path, &akbuf, &ak_len) != 0 ||
        read_file(attest_path, &attest, &attest_len) != 0 ||
        read_file(sig_path, &sig, &sig_len) != 0 ||
        read_file(pcrs_path, &pcrs_json, &pcrs_len) != 0)
        goto out;

    /* From here on every outcome is a verdict: print its name. */
    ret = 1;
    rc = vfy_ak_load(&ak, akbuf, ak_len, scheme_name != NULL ? &scheme : NULL);
    if (rc == VFY_OK)
        rc = vfy_pcr_values_parse(&pcrs, (const char *)pcrs_json, pcrs_len);
    if (rc == VFY_OK)
        rc = vfy_quote_verify(ak, attest, attest_len, sig, sig_len, &pcrs, binder, &info);
    printf("%s\n", vfy_rc_name(rc));
    if (rc == VFY_OK)
        ret = 0;
out:
    vfy_ak_free(&ak);
    free(akbuf);
    free(attest);
    free(sig);
    free(pcrs_json);
    return ret;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    if (strcmp(argv[1], "binder") == 0)
        return cmd_binder(argc, argv);
    if (strcmp(argv[1], "verify") == 0)
        return cmd_verify(argc, argv);
    return usage();
}
