/*
 * main.c — verifierd: the HTTPS verification service (DESIGN §8, §9).
 *
 * Signals are blocked in every thread and taken synchronously here with
 * sigwait(): SIGHUP reloads, SIGTERM/SIGINT stop gracefully (stop
 * accepting, finish in-flight requests, exit 0).
 *
 * Exit status: 0 stopped by a signal (or --help, --version); 1 a start that
 * failed; 2 a bad command line or config file; 3 (VD_EXIT_RESTORED) a
 * start refused by the restore interlock (server.c).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vd.h"

/* A --policy file, read and checked. */
struct pol_file {
    char *buf;
    size_t len;
    char id[VFY_STORE_NAME_MAX + 1];
};

static void pol_files_free(struct pol_file *pf, size_t n)
{
    for (size_t i = 0; pf != NULL && i < n; i++)
        free(pf[i].buf);
    free(pf);
}

/* Read and check every --policy file; nothing is stored. NULL (each failure
 * logged) if one cannot be read or is not a valid policy. */
static struct pol_file *pol_files_read(const struct vd_config *cfg)
{
    struct pol_file *pf = calloc(cfg->npolicy_files + 1, sizeof(*pf));
    int failed = 0;

    if (pf == NULL) {
        vd_log("error", "policies: out of memory");
        return NULL;
    }
    for (size_t i = 0; i < cfg->npolicy_files; i++) {
        const char *path = cfg->policy_files[i];
        FILE *f = fopen(path, "rb");
        char detail[256] = "";
        vfy_policy *p = NULL;
        vfy_rc rc;

        if (f == NULL || (pf[i].buf = malloc(VFY_STORE_POLICY_MAX + 1)) == NULL) {
            vd_log("error", "policy %s: cannot read it: %s", path,
                   f == NULL ? strerror(errno) : "out of memory");
            failed = 1;
            if (f != NULL)
                fclose(f);
            continue;
        }
        pf[i].len = fread(pf[i].buf, 1, VFY_STORE_POLICY_MAX + 1, f);
        fclose(f);
        rc = pf[i].len > VFY_STORE_POLICY_MAX
                 ? VFY_E_TOO_LARGE
                 : vfy_policy_parse_detail(&p, pf[i].buf, pf[i].len, detail, sizeof(detail));
        if (rc == VFY_OK)
            snprintf(pf[i].id, sizeof(pf[i].id), "%s", vfy_policy_id(p));
        vfy_policy_free(&p);
        if (rc != VFY_OK) {
            vd_log("error", "policy %s: %s%s%s", path, vfy_strerror(rc), detail[0] ? ": " : "",
                   detail);
            failed = 1;
        }
    }
    if (failed) {
        pol_files_free(pf, cfg->npolicy_files);
        return NULL;
    }
    return pf;
}

/* What vd_check_policies read at start, stored by the first
 * vd_load_policies as read: a file rewritten between the check and the
 * store cannot change what was checked (say, drop the --default-policy
 * id). Later loads (SIGHUP) read the files again. Only the main thread
 * touches it, before the accept thread starts. */
static struct pol_file *checked_files;

int vd_check_policies(const struct vd_config *cfg, const char *id, int *has_id)
{
    struct pol_file *pf = pol_files_read(cfg);

    if (pf == NULL)
        return -1;
    *has_id = 0;
    for (size_t i = 0; i < cfg->npolicy_files; i++)
        if (strcmp(pf[i].id, id) == 0)
            *has_id = 1;
    pol_files_free(checked_files, cfg->npolicy_files);
    checked_files = pf;
    return 0;
}

/* A start that ends before the store: drop what the check read. */
static void checked_files_drop(const struct vd_config *cfg)
{
    pol_files_free(checked_files, cfg->npolicy_files);
    checked_files = NULL;
}

int vd_load_policies(struct vd_config *cfg)
{
    struct pol_file *pf;
    unsigned *version;
    int *added;
    size_t n = cfg->npolicy_files, i = 0;
    vfy_rc rc;

    if (n == 0)   /* nothing to store: no write lock to wait for */
        return 0;
    if ((pf = checked_files) != NULL)
        checked_files = NULL;   /* the start's: stored as checked */
    else if ((pf = pol_files_read(cfg)) == NULL)
        return -1;
    version = calloc(n + 1, sizeof(*version));
    added = calloc(n + 1, sizeof(*added));
    if (version == NULL || added == NULL) {
        vd_log("error", "policies: out of memory");
        rc = VFY_E_NOMEM;
        goto out;
    }
    /* All or none: one transaction. */
    if ((rc = vfy_store_begin(vd_store())) != VFY_OK) {
        vd_log("error", "policies: %s", vfy_strerror(rc));
        goto out;
    }
    for (i = 0; i < n && rc == VFY_OK; i++) {
        char id[VFY_STORE_NAME_MAX + 1];

        rc = vfy_store_policy_load(vd_store(), pf[i].buf, pf[i].len, id, &version[i], &added[i]);
        if (rc != VFY_OK)
            vd_log("error", "policy %s: %s%s%s; no --policy file stored", cfg->policy_files[i],
                   vfy_strerror(rc), vfy_store_errmsg(vd_store())[0] ? ": " : "",
                   vfy_store_errmsg(vd_store()));
    }
    {
        vfy_rc loaded = rc;

        if ((rc = vfy_store_end(vd_store(), rc)) != VFY_OK && loaded == VFY_OK)   /* the commit */
            vd_log("error", "policies: %s; no --policy file stored", vfy_strerror(rc));
    }
    if (rc == VFY_OK)
        for (i = 0; i < n; i++)
            vd_log("info", "policy %s@%u %s from %s", pf[i].id, version[i],
                   added[i] ? "loaded" : "unchanged", cfg->policy_files[i]);
out:
    free(version);
    free(added);
    pol_files_free(pf, n);
    return rc == VFY_OK ? 0 : -1;
}

/* 1 (and a message) if --default-policy names a policy the store lacks:
 * only "default" has a built-in stand-in. */
static int default_policy_missing(const struct vd_config *cfg)
{
    char *json = NULL;
    vfy_rc rc;

    if (strcmp(cfg->default_policy, "default") == 0)
        return 0;
    rc = vfy_store_policy_get(vd_store(), cfg->default_policy, &json, NULL);
    vfy_free(json);
    if (rc == VFY_OK)
        return 0;
    fprintf(stderr, "verifierd: --default-policy %s: %s (load it with --policy FILE or "
                    "verifyctl policy load; only \"default\" has a built-in)\n",
            cfg->default_policy,
            rc == VFY_E_NOT_FOUND ? "no stored policy has this id" : vfy_strerror(rc));
    return 1;
}

int main(int argc, char **argv)
{
    struct vd_config cfg;
    struct vd_server srv;
    sigset_t set;
    int rc, sig, has_default = 0;
    vfy_store *st = NULL;
    vfy_rc vrc;

    /* libtss2-mu prints a line to stderr for every malformed structure it
     * is given, and any attest client can send those: the result already
     * says what was wrong, so its log stays off unless the operator set
     * TSS2_LOG. */
    (void)setenv("TSS2_LOG", "all+NONE", 0);
    rc = vd_config_parse(&cfg, argc, argv);
    if (rc != 0) {
        vd_config_free(&cfg);
        return rc > 0 ? 0 : 2;
    }

    /* Block the signals we handle before any thread starts. */
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    memset(&srv, 0, sizeof(srv));
    srv.cfg = &cfg;
    vd_srv = &srv;
    if (cfg.dev && vd_dev_prepare(&cfg) != 0) {
        vd_config_free(&cfg);
        return 1;
    }
    /* The database must exist: verifyctl init (or --dev) creates it. */
    vrc = vfy_store_open(&st, cfg.db_path, 0);
    if (vrc != VFY_OK) {
        char why[512] = "";

        if (vrc == VFY_E_DB_OPEN || vrc == VFY_E_DB_SCHEMA)   /* the cause; the versions */
            vfy_store_open_why(cfg.db_path, 0, why, sizeof(why));
        fprintf(stderr, "verifierd: --db %s: %s%s%s\n", cfg.db_path, vfy_strerror(vrc),
                why[0] != '\0' ? ": " : "", why);
        vd_config_free(&cfg);
        return 1;
    }
    vfy_store_close(&st);
    /* The --policy files are checked now and stored only once the server
     * has what it needs to start (vd_server_start): a start that fails
     * changes nothing another verifierd on this database would see. */
    if (vd_check_policies(&cfg, cfg.default_policy, &has_default) != 0) {
        vd_config_free(&cfg);
        return 1;
    }
    if (!has_default && default_policy_missing(&cfg)) {
        checked_files_drop(&cfg);
        vd_config_free(&cfg);
        return 2;
    }
    if (vd_server_start(&srv) != 0) {
        rc = srv.start_exit != 0 ? srv.start_exit : 1;   /* VD_EXIT_RESTORED: the interlock */
        vd_server_stop(&srv);
        checked_files_drop(&cfg);
        vd_config_free(&cfg);
        return rc;
    }
    if (cfg.dev)
        vd_dev_announce(&cfg);
    vd_notify("READY=1\nSTATUS=serving");   /* systemd Type=notify: started */
    for (;;) {
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            vd_log("info", "SIGHUP: reloading");
            vd_notify("RELOADING=1\nSTATUS=reloading");
            (void)vd_server_reload(&srv); /* on failure the old settings stay in force */
            continue;
        }
        vd_notify("STOPPING=1\nSTATUS=stopping: finishing in-flight requests");
        vd_log("info", "%s: stopping (finishing in-flight requests)", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        rc = 0;
        break;
    }
    vd_server_stop(&srv);
    vd_log("info", "stopped");
    vd_config_free(&cfg);
    return rc;
}
