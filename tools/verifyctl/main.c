/*
 * main.c — verifyctl, the reference-value admin CLI (DESIGN §9).
 *
 *   verifyctl --db PATH [--actor NAME] COMMAND ...
 *
 * Global options, command dispatch and `init`. Every command exits 0 on
 * success and non-zero with one line "verifyctl: <what>: <why>" on stderr
 * otherwise; a failed command leaves the database unchanged (each change
 * is one transaction in libverify).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verifyctl.h"

static const char usage[] =
    "usage: verifyctl --db PATH [--actor NAME] COMMAND [ARGS]\n"
    "\n"
    "Administer the verifierd reference-value store (a SQLite file).\n"
    "\n"
    "commands:\n"
    "  init                                    create or migrate the database\n"
    "  attester add NAME (--ak-pem FILE | --ak-public FILE) [--refset SET]\n"
    "               [--policy ID] [--scheme S] register an attester and its AK\n"
    "  attester revoke NAME                    mark an attester revoked\n"
    "  attester reset NAME                     forget its TPM clock and agent-log state\n"
    "  pcr add SET --index N --digest HEX [--bank sha256|sha384]\n"
    "  pcr import SET FILE                     values from `tpm2_pcrread` output\n"
    "  pcr revoke SET --index N --digest HEX [--bank sha256|sha384]\n"
    "  component add (model|tool|policy|context) NAME --digest sha256:HEX\n"
    "               [--version V] [--note TEXT]\n"
    "  component revoke (model|tool|policy|context) NAME [--digest sha256:HEX]\n"
    "  policy load FILE                        load an appraisal policy (JSON)\n"
    "  token add NAME --role (attest|admin) [--expires-days N]\n"
    "                                          print a new API token once\n"
    "  token revoke NAME\n"
    "  export                                  reference values as a JSON bundle\n"
    "  import FILE                             import a JSON bundle (one transaction)\n"
    "  list (attesters|pcrs|components|policies|tokens|results|audit) [--json]\n"
    "       [--limit N] [--offset N]\n"
    "  results prune --expired-days N [--batch N]\n"
    "                                          delete results that expired N+ days ago\n"
    "\n"
    "global options:\n"
    "  --db PATH      the database file (required)\n"
    "  --actor NAME   who is making the change, for the audit log\n"
    "                 (default: $USER, else \"verifyctl\")\n"
    "  --json         for list: a JSON array (as list WHAT --json)\n"
    "  --help         this text; COMMAND --help for one command\n"
    "  --version      print the version\n"
    "\n"
    "See verifyctl(1).\n";

static const char init_usage[] =
    "usage: verifyctl --db PATH init\n"
    "\n"
    "Create the database file and its schema, or migrate an existing database\n"
    "forward to the current schema version. Safe to run again.\n";

/* Active attesters with the attestation key of a revoked one: init names
 * them (schema 7 made keys in other encodings compare equal, so an attester
 * registered again with a revoked key re-encoded shows up here; so does one
 * that shared the key before the revocation). */
struct revoked_keys {
    char (*fp)[65];   /* fingerprints of revoked attesters */
    size_t n, cap;
    size_t warned;
    int failed;
};

static int fp_cmp(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static int collect_revoked(void *ctx, const char *row_json)
{
    struct revoked_keys *rk = ctx;
    vc_attester_row row;

    if (vc_attester_row_parse(row_json, &row) != 0 || row.active ||
        strlen(row.fp) >= sizeof(rk->fp[0]))
        return 0;
    if (rk->n == rk->cap) {
        size_t cap = rk->cap ? rk->cap * 2 : 64;
        char (*n)[65] = realloc(rk->fp, cap * sizeof(*n));

        if (n == NULL) {
            rk->failed = 1;
            return 1;
        }
        rk->fp = n;
        rk->cap = cap;
    }
    memcpy(rk->fp[rk->n++], row.fp, strlen(row.fp) + 1);   /* fits: checked above */
    return 0;
}

static int warn_shared(void *ctx, const char *row_json)
{
    struct revoked_keys *rk = ctx;
    vc_attester_row row;

    if (vc_attester_row_parse(row_json, &row) != 0 || !row.active ||
        bsearch(row.fp, rk->fp, rk->n, sizeof(rk->fp[0]), fp_cmp) == NULL)
        return 0;
    if (rk->warned < 20)
        vc_note("init", "warning: attester %s is active with the attestation key of a "
                "revoked attester (shared before the revocation, or registered again with "
                "the key in another encoding before schema 7): revoke it unless it should "
                "stay (verifyctl attester revoke %s)", row.name, row.name);
    rk->warned++;
    return 0;
}

int vc_cmd_init(const vc_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    size_t np;
    vfy_store *st = NULL;
    int r = vc_parse("init", init_usage, argc, argv, NULL, pos, 0, 0, &np);

    if (r != 0)
        return VC_STOP(r);
    r = vc_open(c, "init", VFY_STORE_CREATE | VFY_STORE_MIGRATE, &st);
    if (r != 0)
        return r;
    printf("%s: schema version %d\n", c->db, vfy_store_schema_version(st));
    {
        struct revoked_keys rk;

        memset(&rk, 0, sizeof(rk));
        if (vfy_store_list_each(st, "attesters", 0, 0, collect_revoked, &rk, NULL) == VFY_OK &&
            !rk.failed && rk.n > 0) {
            qsort(rk.fp, rk.n, sizeof(rk.fp[0]), fp_cmp);
            if (vfy_store_list_each(st, "attesters", 0, 0, warn_shared, &rk, NULL) == VFY_OK &&
                rk.warned > 20)
                vc_note("init", "warning: ... and %zu more (verifyctl list attesters "
                        "--json: compare ak_fingerprint)", rk.warned - 20);
        }
        free(rk.fp);
    }
    vfy_store_close(&st);
    return VC_EXIT_OK;
}

static const struct {
    const char *name;
    int (*run)(const vc_ctx *c, int argc, char **argv);
} commands[] = {
    {"init", vc_cmd_init},
    {"attester", vc_cmd_attester},
    {"pcr", vc_cmd_pcr},
    {"component", vc_cmd_component},
    {"policy", vc_cmd_policy},
    {"token", vc_cmd_token},
    {"export", vc_cmd_export},
    {"import", vc_cmd_import},
    {"list", vc_cmd_list},
    {"results", vc_cmd_results},
};

int main(int argc, char **argv)
{
    vc_ctx c = {NULL, NULL, 0};
    int i = 1;

    /* libtss2-mu's own log lines for malformed key files: verifyctl's error
     * already names the problem (TSS2_LOG set by the caller wins). */
    (void)setenv("TSS2_LOG", "all+NONE", 0);

    while (i < argc && strncmp(argv[i], "--", 2) == 0) {
        const char *a = argv[i];

        if (strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return VC_EXIT_OK;
        }
        if (strcmp(a, "--version") == 0) {
            printf("verifyctl %s\n", vfy_version());
            return VC_EXIT_OK;
        }
        if (strcmp(a, "--json") == 0) {   /* DESIGN §9 names it without a place */
            c.json = 1;
            i++;
            continue;
        }
        if (strcmp(a, "--db") == 0 || strcmp(a, "--actor") == 0 ||
            strncmp(a, "--db=", 5) == 0 || strncmp(a, "--actor=", 8) == 0) {
            /* --db PATH or --db=PATH, as the commands' own options */
            int is_db = a[2] == 'd';
            const char **dst = is_db ? &c.db : &c.actor;
            const char *eq = strchr(a, '=');
            const char *name = is_db ? "db" : "actor";

            if (eq == NULL && i + 1 >= argc)
                return vc_fail(VC_EXIT_USAGE, name, "needs a value");
            if (*dst != NULL)
                return vc_fail(VC_EXIT_USAGE, name, "given twice");
            *dst = eq != NULL ? eq + 1 : argv[i + 1];
            i += eq != NULL ? 1 : 2;
            continue;
        }
        return vc_fail(VC_EXIT_USAGE, "usage", "unknown global option %s (see --help)", a);
    }
    if (i >= argc)   /* DESIGN §9: one line on stderr, even for this */
        return vc_fail(VC_EXIT_USAGE, "usage", "no command given (see --help)");
    for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
        if (strcmp(argv[i], commands[k].name) != 0)
            continue;
        /* --db is checked when the command opens it (vc_open): its --help
         * needs none. */
        if (c.json && strcmp(argv[i], "list") != 0)
            return vc_fail(VC_EXIT_USAGE, "usage", "--json is an option of list only");
        if (c.actor == NULL || c.actor[0] == '\0')
            c.actor = getenv("USER");
        if (c.actor == NULL || c.actor[0] == '\0')
            c.actor = "verifyctl";
        return commands[k].run(&c, argc - i - 1, argv + i + 1);
    }
    return vc_fail(VC_EXIT_USAGE, "usage", "unknown command \"%s\" (see --help)", argv[i]);
}
