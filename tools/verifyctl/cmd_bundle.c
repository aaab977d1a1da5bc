/*
 * cmd_bundle.c — `verifyctl export` and `verifyctl import FILE`: the
 * reference-value bundle of schemas/refvalues.schema.json. Export writes
 * to stdout in a deterministic order, and refuses a bundle larger than
 * import reads; import runs in one transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verifyctl.h"

static const char export_usage[] =
    "usage: verifyctl --db PATH export > bundle.json\n"
    "\n"
    "Write attesters, PCR reference sets, components and policies as one JSON\n"
    "bundle (schemas/refvalues.schema.json) to stdout, in a deterministic order.\n"
    "Tokens, results, verifier state and the audit log are not exported. A\n"
    "bundle larger than import accepts (512 MiB) is an error and nothing is\n"
    "written: copy such a database with sqlite3 .backup instead.\n";

static const char import_usage[] =
    "usage: verifyctl --db PATH import FILE\n"
    "\n"
    "Import a bundle written by export, in one transaction: values already\n"
    "present are left alone, values marked revoked are revoked, and any\n"
    "conflict or malformed entry leaves the database unchanged.\n";

int vc_cmd_export(const vc_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    size_t np, len;
    char *json = NULL;
    vfy_store *st = NULL;
    vfy_rc rc;
    int r = vc_parse("export", export_usage, argc, argv, NULL, pos, 0, 0, &np);

    if (r != 0)
        return VC_STOP(r);
    if ((r = vc_open(c, "export", VFY_STORE_READONLY, &st)) != 0)
        return r;
    /* At most what import reads back (VC_FILE_MAX), with the newline after
     * it: a bundle import refuses is not written (it is no copy of the
     * store, and a script going on with it would find out at import). */
    rc = vfy_store_export_max(st, VC_FILE_MAX - 1, &json, &len);
    if (rc == VFY_E_TOO_LARGE) {
        r = vc_fail(VC_EXIT_FAIL, "export", "the bundle is %zu bytes with its newline, more than "
                    "import accepts (%zu): nothing written; copy this database with sqlite3 "
                    ".backup instead (%s)", len + 1, (size_t)VC_FILE_MAX, vfy_rc_name(rc));
    } else if (rc != VFY_OK) {
        r = vc_fail_rc("export", st, rc);
    } else {
        if (fwrite(json, 1, len, stdout) != len || fputc('\n', stdout) == EOF ||
            fflush(stdout) != 0)
            r = vc_fail(VC_EXIT_FAIL, "export", "cannot write to stdout");
    }
    vfy_free(json);
    vfy_store_close(&st);
    return r;
}

int vc_cmd_import(const vc_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    size_t np, len = 0;
    char *buf = NULL;
    vfy_store_import_stats s;
    vfy_store *st = NULL;
    vfy_rc rc;
    int r = vc_parse("import", import_usage, argc, argv, NULL, pos, 1, 1, &np);

    if (r != 0)
        return VC_STOP(r);
    if ((r = vc_read_file("import", pos[0], VC_FILE_MAX, &buf, &len)) != 0)
        return r;
    if ((r = vc_open(c, "import", 0, &st)) == 0) {
        rc = vfy_store_import(st, buf, len, &s);
        if (rc != VFY_OK)
            r = vc_fail_rc("import", st, rc);
        else
            printf("imported %zu policies, %zu attesters, %zu pcr values, %zu components; "
                   "%zu revoked\n", s.policies, s.attesters, s.pcrs, s.components, s.revoked);
    }
    vfy_store_close(&st);
    free(buf);
    return r;
}
