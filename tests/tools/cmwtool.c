/*
 * cmwtool.c — build an evidence CMW collection (DESIGN §5, cmw.h) from the
 * files an attester produces, for the integration tests and the fixture
 * generator (tests/lib/evidence.sh).
 *
 *   cmwtool encode --attest F --sig F --pcrs F --manifest F --log F
 *                  [--format json|cbor]
 *
 * writes the collection made by vfy_cmw_encode() to stdout: the JSON form
 * as-is (application/cmw+json), the CBOR form as base64url text without
 * padding — what the "evidence" member of a verifierd attest request
 * carries for application/cmw+cbor. Exit status: 0 success, 1 the library
 * refused the parts (its vfy_rc name on stderr), 2 usage or I/O error.
 * Uses only the public headers, like any user of the library.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <verify/verify.h>

/* Any single part above the evidence cap cannot make valid evidence; reading
 * one byte more than the cap lets the library report the exact limit. */
#define FILE_MAX (VFY_CMW_MAX + 1)

static int usage(void)
{
    fprintf(stderr,
            "usage: cmwtool encode --attest F --sig F --pcrs F --manifest F --log F\n"
            "                      [--format json|cbor]\n");
    return 2;
}

/* Read all of @path (at most FILE_MAX bytes) into a new buffer. */
static int read_file(const char *path, uint8_t **out, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    size_t len = 0, n;

    *out = NULL;
    *out_len = 0;
    if (f == NULL) {
        fprintf(stderr, "cmwtool: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if ((buf = malloc(FILE_MAX + 1)) == NULL) {
        fclose(f);
        fprintf(stderr, "cmwtool: out of memory\n");
        return -1;
    }
    while ((n = fread(buf + len, 1, FILE_MAX + 1 - len, f)) > 0) {
        len += n;
        if (len > FILE_MAX)
            break;
    }
    if (ferror(f) || len > FILE_MAX) {
        fprintf(stderr, "cmwtool: %s: %s\n", path,
                len > FILE_MAX ? "file too large" : "read error");
        fclose(f);
        free(buf);
        return -1;
    }
    fclose(f);
    *out = buf;
    *out_len = len;
    return 0;
}

static int cmd_encode(int argc, char **argv)
{
    static const char *const opt[VFY_CMW_RECORDS] = {
        [VFY_CMW_TPM_ATTEST] = "--attest",
        [VFY_CMW_TPM_SIGNATURE] = "--sig",
        [VFY_CMW_TPM_PCRS] = "--pcrs",
        [VFY_CMW_AGENT_MANIFEST] = "--manifest",
        [VFY_CMW_AGENT_LOG] = "--log",
    };
    const char *path[VFY_CMW_RECORDS] = {NULL};
    const char *format = NULL;
    uint8_t *data[VFY_CMW_RECORDS] = {NULL};
    vfy_cmw_parts parts;
    vfy_cmw_format fmt;
    uint8_t *cmw = NULL;
    char *b64 = NULL;
    size_t cmw_len = 0;
    vfy_rc rc;
    int ret = 2;

    for (int i = 2; i < argc; i++) {
        const char **slot = NULL;

        for (size_t r = 0; r < VFY_CMW_RECORDS; r++)
            if (strcmp(argv[i], opt[r]) == 0)
                slot = &path[r];
        if (strcmp(argv[i], "--format") == 0)
            slot = &format;
        if (slot == NULL || i + 1 >= argc || *slot != NULL)
            return usage();
        *slot = argv[++i];
    }
    for (size_t r = 0; r < VFY_CMW_RECORDS; r++)
        if (path[r] == NULL) {
            fprintf(stderr, "cmwtool: %s is required\n", opt[r]);
            return usage();
        }
    if (format == NULL || strcmp(format, "json") == 0) {
        fmt = VFY_CMW_JSON;
    } else if (strcmp(format, "cbor") == 0) {
        fmt = VFY_CMW_CBOR;
    } else {
        fprintf(stderr, "cmwtool: --format must be json or cbor\n");
        return usage();
    }

    memset(&parts, 0, sizeof(parts));
    for (size_t r = 0; r < VFY_CMW_RECORDS; r++) {
        if (read_file(path[r], &data[r], &parts.len[r]) != 0)
            goto out;
        parts.data[r] = data[r];
    }
    if ((rc = vfy_cmw_encode(fmt, &parts, &cmw, &cmw_len)) != VFY_OK) {
        fprintf(stderr, "cmwtool: encode: %s (%s)\n", vfy_rc_name(rc), vfy_strerror(rc));
        ret = 1;
        goto out;
    }
    if (fmt == VFY_CMW_JSON) {
        if (fwrite(cmw, 1, cmw_len, stdout) != cmw_len)
            goto write_error;
    } else {
        size_t cap = VFY_B64URL_LEN(cmw_len) + 1;

        if ((b64 = malloc(cap)) == NULL) {
            fprintf(stderr, "cmwtool: out of memory\n");
            goto out;
        }
        if ((rc = vfy_b64url_encode(b64, cap, cmw, cmw_len)) != VFY_OK) {
            fprintf(stderr, "cmwtool: base64url: %s\n", vfy_rc_name(rc));
            goto out;
        }
        if (fputs(b64, stdout) == EOF)
            goto write_error;
    }
    if (fflush(stdout) != 0)
        goto write_error;
    ret = 0;
    goto out;
write_error:
    fprintf(stderr, "cmwtool: write error: %s\n", strerror(errno));
out:
    for (size_t r = 0; r < VFY_CMW_RECORDS; r++)
        free(data[r]);
    vfy_free(cmw);
    free(b64);
    return ret;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    if (strcmp(argv[1], "encode") == 0)
        return cmd_encode(argc, argv);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        (void)usage();
        return 0;
    }
    return usage();
}
