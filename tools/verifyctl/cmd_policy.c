/*
 * cmd_policy.c — `verifyctl policy load FILE`: store an appraisal policy
 * (DESIGN §6). The policy must pass libverify's policy parser; the latest
 * version of an id is the one in force.
 */
#include <stdio.h>
#include <stdlib.h>

#include "verifyctl.h"

static const char usage[] =
    "usage: verifyctl --db PATH policy load FILE\n";

static const char load_usage[] =
    "usage: verifyctl --db PATH policy load FILE\n"
    "\n"
    "Load the appraisal policy in FILE (JSON, schemas/policy.schema.json). The\n"
    "pair (id, version) is unique: loading the same policy again changes\n"
    "nothing, different content under an existing (id, version) is an error.\n"
    "The highest version of an id is the one in force.\n";

static int policy_load(const vc_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    char id[VFY_STORE_NAME_MAX + 1];
    size_t np, len = 0;
    char *buf = NULL;
    unsigned version = 0;
    vfy_store *st = NULL;
    int added = 0;
    vfy_rc rc;
    int r = vc_parse("policy load", load_usage, argc, argv, NULL, pos, 1, 1, &np);

    if (r != 0)
        return VC_STOP(r);
    if ((r = vc_read_file("policy load", pos[0], VFY_STORE_POLICY_MAX, &buf, &len)) != 0)
        return r;
    if ((r = vc_open(c, "policy load", 0, &st)) == 0) {
        rc = vfy_store_policy_load(st, buf, len, id, &version, &added);
        if (rc != VFY_OK) {
            r = vc_fail_rc("policy load", st, rc);
        } else {
            char *json = NULL;
            unsigned in_force = 0;

            printf("policy %s@%u: %s\n", id, version,
                   added ? "loaded" : "already present, unchanged");
            /* an older version is stored, but the highest one stays in force */
            if (vfy_store_policy_get(st, id, &json, &in_force) == VFY_OK && in_force > version)
                printf("note: %s@%u remains in force (the highest version of an id is); load "
                       "a higher version to change what %s says\n", id, in_force, id);
            vfy_free(json);
        }
    }
    vfy_store_close(&st);
    free(buf);
    return r;
}

int vc_cmd_policy(const vc_ctx *c, int argc, char **argv)
{
    static const vc_sub subs[] = {{"load", policy_load}, {NULL, NULL}};

    return vc_dispatch(c, "policy", usage, subs, argc, argv);
}
