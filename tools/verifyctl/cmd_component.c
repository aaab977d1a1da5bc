/*
 * cmd_component.c — `verifyctl component add|revoke`: approved and
 * revoked agent components (models, tools, policies, runtime contexts).
 */
#include <stdio.h>
#include <string.h>

#include "verifyctl.h"

static const char usage[] =
    "usage: verifyctl --db PATH component add (model|tool|policy|context) NAME\n"
    "                 --digest sha256:HEX [--version V] [--note TEXT]\n"
    "       verifyctl --db PATH component revoke (model|tool|policy|context) NAME\n"
    "                 [--digest sha256:HEX]\n";

static const char add_usage[] =
    "usage: verifyctl --db PATH component add (model|tool|policy|context) NAME\n"
    "                 --digest sha256:HEX [--version V] [--note TEXT]\n"
    "\n"
    "Approve a component: HEX is 64 lowercase hex digits. --note records where\n"
    "the value came from (provenance). Adding the same value again changes\n"
    "nothing; a revoked value cannot be approved again.\n";

static const char revoke_usage[] =
    "usage: verifyctl --db PATH component revoke (model|tool|policy|context) NAME\n"
    "                 [--digest sha256:HEX]\n"
    "\n"
    "Revoke every approved value of component NAME, or only the one with\n"
    "--digest. Unexpired results that relied on a revoked value are marked\n"
    "revoked and appear in the revocation feed.\n";

static int parse_kind(const char *what, const char *s, vfy_component_kind *k)
{
    if (vfy_component_kind_parse(k, s) != VFY_OK)
        return vc_fail(VC_EXIT_USAGE, what, "unknown kind \"%s\" (expected model, tool, policy "
                       "or context)", s);
    return 0;
}

static int parse_digest(const char *what, const char *s, uint8_t d[32])
{
    if (vfy_sha256_parse(d, s, strlen(s)) != VFY_OK)
        return vc_fail(VC_EXIT_FAIL, what, "--digest \"%s\": %s", s,
                       vfy_strerror(VFY_E_BAD_DIGEST));
    return 0;
}

static int component_add(const vc_ctx *c, int argc, char **argv)
{
    const char *dstr = NULL, *version = NULL, *note = NULL;
    const vc_opt opts[] = {
        {"digest", 1, &dstr, NULL}, {"version", 1, &version, NULL}, {"note", 1, &note, NULL},
        {NULL, 0, NULL, NULL},
    };
    const char *pos[2];
    vfy_component_kind kind;
    uint8_t d[32];
    size_t np;
    vfy_store *st = NULL;
    int added = 0;
    vfy_rc rc;
    int r = vc_parse("component add", add_usage, argc, argv, opts, pos, 2, 2, &np);

    if (r != 0)
        return VC_STOP(r);
    if ((r = parse_kind("component add", pos[0], &kind)) != 0)
        return r;
    if (dstr == NULL)
        return vc_fail(VC_EXIT_USAGE, "component add", "--digest sha256:HEX is required");
    if ((r = parse_digest("component add", dstr, d)) != 0)
        return r;
    if ((r = vc_open(c, "component add", 0, &st)) != 0)
        return r;
    rc = vfy_store_component_add(st, kind, pos[1], version, d, note, &added);
    if (rc != VFY_OK)
        r = vc_fail_rc("component add", st, rc);
    else
        printf("%s %s: %s\n", pos[0], pos[1], added ? "added" : "already present, unchanged");
    vfy_store_close(&st);
    return r;
}

static int component_revoke(const vc_ctx *c, int argc, char **argv)
{
    const char *dstr = NULL;
    const vc_opt opts[] = {{"digest", 1, &dstr, NULL}, {NULL, 0, NULL, NULL}};
    const char *pos[2];
    vfy_component_kind kind;
    uint8_t d[32];
    size_t np, nrev = 0, nres = 0;
    vfy_store *st = NULL;
    vfy_rc rc;
    int r = vc_parse("component revoke", revoke_usage, argc, argv, opts, pos, 2, 2, &np);

    if (r != 0)
        return VC_STOP(r);
    if ((r = parse_kind("component revoke", pos[0], &kind)) != 0)
        return r;
    if (dstr != NULL && (r = parse_digest("component revoke", dstr, d)) != 0)
        return r;
    if ((r = vc_open(c, "component revoke", 0, &st)) != 0)
        return r;
    rc = vfy_store_component_revoke(st, kind, pos[1], dstr != NULL ? d : NULL, &nrev, &nres);
    if (rc != VFY_OK)
        r = vc_fail_rc("component revoke", st, rc);
    else
        printf("%s %s: %zu values revoked; %zu results revoked\n", pos[0], pos[1], nrev, nres);
    vfy_store_close(&st);
    return r;
}

int vc_cmd_component(const vc_ctx *c, int argc, char **argv)
{
    static const vc_sub subs[] = {
        {"add", component_add}, {"revoke", component_revoke}, {NULL, NULL},
    };

    return vc_dispatch(c, "component", usage, subs, argc, argv);
}
