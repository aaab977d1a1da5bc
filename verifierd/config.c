/*
 * config.c — verifierd's command line (DESIGN §9) and its JSON config file.
 *
 * Precedence: built-in defaults < config file (--config FILE) < flags.
 * The config file is a JSON object whose keys are the long flags with
 * '_' for '-' (e.g. "tls_cert", "max_connections"); "policy" may be an
 * array of files; "quiet" and "accept_restored_db" are true or false.
 * Unknown keys are errors, so typos do not pass silently.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vd.h"

enum {
    OPT_DB = 256, OPT_LISTEN, OPT_TLS_CERT, OPT_TLS_KEY, OPT_SIGNING_KEY, OPT_CONFIG,
    OPT_NONCE_KEY, OPT_POLICY, OPT_DEFAULT_POLICY, OPT_THREADS, OPT_MAX_CONN, OPT_TIMEOUT,
    OPT_RATE, OPT_BURST, OPT_EAR_PROFILE, OPT_DEV, OPT_STATE_DIR, OPT_QUIET, OPT_HELP,
    OPT_VERSION, OPT_NONCE_CACHE, OPT_OLD_KEYS, OPT_MAX_CONN_IP, OPT_COMMIT_BATCH, OPT_COMMIT_DELAY,
    OPT_WAL_LIMIT, OPT_KEEP_DAYS, OPT_DRAIN, OPT_PUBLIC_URL, OPT_ACCEPT_RESTORED,
};

static const struct option longopts[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"public-url", required_argument, NULL, OPT_PUBLIC_URL},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"signing-key", required_argument, NULL, OPT_SIGNING_KEY},
    {"old-keys-dir", required_argument, NULL, OPT_OLD_KEYS},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"nonce-key", required_argument, NULL, OPT_NONCE_KEY},
    {"policy", required_argument, NULL, OPT_POLICY},
    {"default-policy", required_argument, NULL, OPT_DEFAULT_POLICY},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"max-connections", required_argument, NULL, OPT_MAX_CONN},
    {"max-connections-per-ip", required_argument, NULL, OPT_MAX_CONN_IP},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"drain-timeout", required_argument, NULL, OPT_DRAIN},
    {"rate", required_argument, NULL, OPT_RATE},
    {"burst", required_argument, NULL, OPT_BURST},
    {"nonce-cache", required_argument, NULL, OPT_NONCE_CACHE},
    {"commit-batch", required_argument, NULL, OPT_COMMIT_BATCH},
    {"commit-delay-us", required_argument, NULL, OPT_COMMIT_DELAY},
    {"wal-limit-mib", required_argument, NULL, OPT_WAL_LIMIT},
    {"results-keep-days", required_argument, NULL, OPT_KEEP_DAYS},
    {"ear-profile", required_argument, NULL, OPT_EAR_PROFILE},
    {"dev", no_argument, NULL, OPT_DEV},
    {"state-dir", required_argument, NULL, OPT_STATE_DIR},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"accept-restored-db", no_argument, NULL, OPT_ACCEPT_RESTORED},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

void vd_usage(FILE *out)
{
    fputs("usage: verifierd --db PATH --listen HOST:PORT --tls-cert PEM --tls-key PEM\n"
          "                 --signing-key PEM [--config FILE] [options]\n"
          "       verifierd --dev --state-dir DIR\n"
          "\n"
          "  --db PATH              SQLite reference-value database (verifyctl init creates it)\n"
          "  --listen HOST:PORT     address to serve HTTPS on (default 127.0.0.1:8443)\n"
          "  --public-url URL       https://HOST[:PORT] clients reach this verifier at (behind a\n"
          "                         load balancer): the base of /.well-known/verifierd's URLs\n"
          "                         (default: the request's Host header if it is a plain host)\n"
          "  --tls-cert PEM         TLS certificate chain; --tls-key PEM its key\n"
          "  --signing-key PEM      ES256 key that signs attestation results\n"
          "  --old-keys-dir DIR     older public keys (*.pem) still published in /v1/keys\n"
          "  --nonce-key FILE       nonce key shared by replicas (default: DB path + \".nonce-key\",\n"
          "                         created on first start)\n"
          "  --policy FILE          load this appraisal policy at start and on SIGHUP (repeatable)\n"
          "  --default-policy ID    policy for attesters that name none (default \"default\")\n"
          "  --ear-profile P        claim names: ietf (default) or veraison\n"
          "  --threads N            worker threads (default: number of cores)\n"
          "  --max-connections N    concurrent connections (default 1024)\n"
          "  --max-connections-per-ip N  concurrent connections from one address (default 0: no limit)\n"
          "  --timeout S            seconds a connection may take to deliver a complete request\n"
          "                         (headers and body, however slowly it trickles) and to stay\n"
          "                         idle between requests (default 30)\n"
          "  --drain-timeout S      on SIGTERM or SIGHUP, seconds (1..3600) to let in-flight\n"
          "                         requests finish before they are cut (default 30)\n"
          "  --rate N, --burst N    requests per second and burst per token (default 1000, 2000;\n"
          "                         --rate 0 = no limit; --burst 0 = the rate)\n"
          "  --nonce-cache N        used-nonce set capacity, 1..16777216 (default 400000:\n"
          "                         rate x nonce TTL with headroom, about 40 bytes each)\n"
          "  --commit-batch N       appraisals that may share one database commit, 1..1024\n"
          "                         (default 64; 1: a commit each); no answer before its commit\n"
          "  --commit-delay-us N    longest an attest answer waits for others to share its\n"
          "                         commit, 0..100000 (default 500; 0: no waiting)\n"
          "  --wal-limit-mib N      empty the database's write-ahead log once it passes N MiB,\n"
          "                         1..65536 (default 64); writes wait a few ms while it runs\n"
          "  --results-keep-days N  delete results that expired N days ago, a few with every\n"
          "                         group commit, 0..36500 (default 0: keep every result)\n"
          "  --config FILE          JSON config file with the same keys (tls_cert, ...)\n"
          "  --dev --state-dir DIR  quick start: create DB, certificate, keys and tokens in DIR\n"
          "  --quiet                no per-request log lines\n"
          "  --accept-restored-db   start on a database DB.high-water says is not the one last\n"
          "                         served (older, or without its last change): once, after a\n"
          "                         restore and re-applying the revocations made since its backup\n"
          "  --version, --help\n"
          "\n"
          "Signals: SIGHUP reloads policies, TLS certificate and signing keys;\n"
          "SIGTERM/SIGINT stop accepting, finish in-flight requests and exit 0.\n",
          out);
}

/* @s as an integer in @min..@max into *@dst; errors name @flag. */
static int set_uint(const char *flag, const char *s, unsigned long min, unsigned long max,
                    unsigned *dst)
{
    char *end;
    unsigned long v;

    errno = 0;
    if (s == NULL || *s == '\0' || *s == '-' || *s == '+' || *s == ' ')
        goto bad;
    v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        goto bad;
    *dst = (unsigned)v;
    return 0;
bad:
    fprintf(stderr, "verifierd: %s: expected an integer %lu..%lu, got '%s'\n", flag, min, max,
            s != NULL ? s : "");
    return -1;
}

static int set_str(char **dst, const char *v)
{
    char *d = strdup(v);

    if (d == NULL)
        return -1;
    free(*dst);
    *dst = d;
    return 0;
}

static int add_policy(struct vd_config *cfg, const char *file)
{
    char **np = realloc(cfg->policy_files, (cfg->npolicy_files + 1) * sizeof(*np));

    if (np == NULL)
        return -1;
    cfg->policy_files = np;
    if ((np[cfg->npolicy_files] = strdup(file)) == NULL)
        return -1;
    cfg->npolicy_files++;
    return 0;
}

/* HOST:PORT or [IPv6]:PORT, a decimal port 0..65535; the host is checked by bind. */
static int listen_ok(const char *v)
{
    const char *colon = v != NULL ? strrchr(v, ':') : NULL;
    size_t digits;
    unsigned long port = 0;

    if (colon == NULL || colon == v)
        return 0;
    digits = strlen(colon + 1);
    if (digits == 0 || digits > 5 || strspn(colon + 1, "0123456789") != digits)
        return 0;
    for (const char *p = colon + 1; *p; p++)
        port = port * 10 + (unsigned long)(*p - '0');
    return port <= 65535;
}

/* Apply one option by id; @flag names it in errors. */
static int apply(struct vd_config *cfg, int id, const char *flag, const char *v)
{
    unsigned n = 0;

    switch (id) {
    case OPT_DB: return set_str(&cfg->db_path, v);
    case OPT_LISTEN:
        if (!listen_ok(v)) {
            fprintf(stderr, "verifierd: %s: expected HOST:PORT (or [IPv6]:PORT) with a port "
                            "0..65535 (0: any free port), got '%s'\n", flag, v != NULL ? v : "");
            return -1;
        }
        return set_str(&cfg->listen, v);
    case OPT_PUBLIC_URL:
        /* https://, then a host[:port] of the Host-header character set */
        if (v == NULL || strncmp(v, "https://", 8) != 0 || strlen(v) > 8 + 255 ||
            v[8] == '\0' || strspn(v + 8, VD_HOST_CHARS) != strlen(v + 8)) {
            fprintf(stderr, "verifierd: %s: expected https://HOST[:PORT], got '%s'\n", flag,
                    v != NULL ? v : "");
            return -1;
        }
        return set_str(&cfg->public_url, v);
    case OPT_TLS_CERT: return set_str(&cfg->tls_cert, v);
    case OPT_TLS_KEY: return set_str(&cfg->tls_key, v);
    case OPT_SIGNING_KEY: return set_str(&cfg->signing_key, v);
    case OPT_OLD_KEYS: return set_str(&cfg->old_keys_dir, v);
    case OPT_NONCE_KEY: return set_str(&cfg->nonce_key, v);
    case OPT_POLICY: return add_policy(cfg, v);
    case OPT_DEFAULT_POLICY: return set_str(&cfg->default_policy, v);
    case OPT_STATE_DIR: return set_str(&cfg->state_dir, v);
    case OPT_EAR_PROFILE:
        if (strcmp(v, "ietf") == 0)
            cfg->ear_legacy = 0;
        else if (strcmp(v, "veraison") == 0)
            cfg->ear_legacy = 1;
        else {
            fprintf(stderr, "verifierd: %s: expected ietf or veraison, got '%s'\n", flag, v);
            return -1;
        }
        return 0;
    case OPT_THREADS: return set_uint(flag, v, 0, VD_MAX_WORKERS, &cfg->threads);
    case OPT_MAX_CONN: return set_uint(flag, v, 1, 1000000, &cfg->max_connections);
    case OPT_MAX_CONN_IP: return set_uint(flag, v, 0, 1000000, &cfg->max_conn_per_ip);
    case OPT_TIMEOUT: return set_uint(flag, v, 1, 3600, &cfg->conn_timeout_s);
    case OPT_DRAIN: return set_uint(flag, v, 1, 3600, &cfg->drain_s);
    case OPT_RATE: return set_uint(flag, v, 0, 10000000, &cfg->rate_per_s);
    case OPT_BURST: return set_uint(flag, v, 0, 10000000, &cfg->rate_burst);
    case OPT_NONCE_CACHE:
        if (set_uint(flag, v, 1, 16777216, &n) != 0)
            return -1;
        cfg->nonce_cache = n;
        return 0;
    case OPT_COMMIT_BATCH: return set_uint(flag, v, 1, 1024, &cfg->commit_batch);
    case OPT_COMMIT_DELAY: return set_uint(flag, v, 0, 100000, &cfg->commit_delay_us);
    case OPT_WAL_LIMIT: return set_uint(flag, v, 1, 65536, &cfg->wal_limit_mib);
    case OPT_KEEP_DAYS: return set_uint(flag, v, 0, 36500, &cfg->results_keep_days);
    }
    return -1;
}

/* Config keys name the same option when equal with '_' and '-' alike. */
static int same_key(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++)
        if (*a != *b && !((*a == '_' || *a == '-') && (*b == '_' || *b == '-')))
            return 0;
    return *a == *b;
}

static int load_config_file(struct vd_config *cfg, const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0;
    cJSON *root = NULL, *it;
    int rc = -1;

    if (f == NULL) {
        fprintf(stderr, "verifierd: --config %s: %s\n", path, strerror(errno));
        return -1;
    }
    if ((buf = malloc(256 * 1024 + 1)) == NULL)
        goto out;
    len = fread(buf, 1, 256 * 1024 + 1, f);
    if (len > 256 * 1024) {
        fprintf(stderr, "verifierd: --config %s: larger than 256 KiB\n", path);
        goto out;
    }
    buf[len] = '\0';
    {   /* one JSON object and nothing after it: a second object pasted
         * below the first (or anything else) is a typo, never ignored */
        const char *end = NULL;

        root = cJSON_ParseWithOpts(buf, &end, 0);
        if (root == NULL) {
            const char *at = cJSON_GetErrorPtr();

            fprintf(stderr, "verifierd: --config %s: JSON syntax error near byte %zu\n", path,
                    at != NULL && at >= buf && at <= buf + len ? (size_t)(at - buf) : len);
            goto out;
        }
        if (end != NULL)
            end += strspn(end, " \t\r\n");
        if (!cJSON_IsObject(root) || end == NULL || end != buf + len) {
            fprintf(stderr, "verifierd: --config %s: %s\n", path,
                    !cJSON_IsObject(root) ? "not a JSON object"
                                          : "something follows the JSON object");
            goto out;
        }
    }
    cJSON_ArrayForEach(it, root) {
        char flag[64], label[600];
        const struct option *o = NULL;
        char val[32];

        for (const cJSON *prev = root->child; prev != it; prev = prev->next)
            if (same_key(prev->string, it->string)) {
                fprintf(stderr, "verifierd: --config %s: \"%s\" given twice\n", path,
                        it->string);
                goto out;
            }
        {   /* the flags without a value that the file may set: true or false */
            const struct {
                const char *key;
                int *dst;
            } bools[] = {
                {"quiet", &cfg->quiet},
                {"accept_restored_db", &cfg->accept_restored_db},
            };
            int *dst = NULL;

            for (size_t b = 0; b < sizeof(bools) / sizeof(bools[0]); b++)
                if (same_key(it->string, bools[b].key))
                    dst = bools[b].dst;
            if (dst != NULL) {
                if (!cJSON_IsBool(it)) {
                    fprintf(stderr, "verifierd: --config %s: \"%s\" must be true or false\n",
                            path, it->string);
                    goto out;
                }
                *dst = cJSON_IsTrue(it);
                continue;
            }
        }
        snprintf(flag, sizeof(flag), "%s", it->string);
        for (char *p = flag; *p; p++)
            if (*p == '_')
                *p = '-';
        for (const struct option *x = longopts; x->name != NULL; x++)
            if (x->has_arg == required_argument && strcmp(x->name, flag) == 0 &&
                x->val != OPT_CONFIG && x->val != OPT_STATE_DIR)
                o = x;
        if (o == NULL) {
            fprintf(stderr, "verifierd: --config %s: unknown key \"%s\"\n", path, it->string);
            goto out;
        }
        if (o->val == OPT_POLICY && cJSON_IsArray(it)) {
            const cJSON *p;
            cJSON_ArrayForEach(p, it) {
                if (!cJSON_IsString(p) || add_policy(cfg, p->valuestring) != 0) {
                    fprintf(stderr, "verifierd: --config %s: \"policy\" must list files\n", path);
                    goto out;
                }
            }
            continue;
        }
        /* its errors name the file and the key */
        snprintf(label, sizeof(label), "--config %.400s: %.64s", path, it->string);
        if (cJSON_IsString(it)) {
            if (apply(cfg, o->val, label, it->valuestring) != 0)
                goto out;
        } else if (cJSON_IsNumber(it) && it->valuedouble >= 0 && it->valuedouble < 1e9 &&
                   (double)(unsigned long)it->valuedouble == it->valuedouble) {
            snprintf(val, sizeof(val), "%lu", (unsigned long)it->valuedouble);
            if (apply(cfg, o->val, label, val) != 0)
                goto out;
        } else {
            fprintf(stderr, "verifierd: --config %s: \"%s\" has the wrong type\n", path, it->string);
            goto out;
        }
    }
    rc = 0;
out:
    cJSON_Delete(root);
    free(buf);
    fclose(f);
    return rc;
}

/* Returns 0 to run, 1 to exit 0 (help, version), -1 on error. */
int vd_config_parse(struct vd_config *cfg, int argc, char **argv)
{
    int opt;

    memset(cfg, 0, sizeof(*cfg));
    cfg->max_connections = 1024;
    cfg->conn_timeout_s = 30;
    cfg->drain_s = 30;
    cfg->rate_per_s = 1000;
    cfg->rate_burst = 2000;
    cfg->nonce_cache = 400000;
    cfg->commit_batch = 64;
    cfg->commit_delay_us = 500;
    cfg->wal_limit_mib = 64;

    /* First pass: only --config, so that flags override the file. */
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1)
        if (opt == OPT_CONFIG && set_str(&cfg->config_file, optarg) != 0)
            return -1;
    if (cfg->config_file != NULL && load_config_file(cfg, cfg->config_file) != 0)
        return -1;

    opterr = 0;   /* one line of our own below, not getopt's and the usage */
    optind = 1;
    /* ":": a missing value is ':', an unknown option '?' */
    while ((opt = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_CONFIG: break;
        case OPT_DEV: cfg->dev = 1; break;
        case OPT_QUIET: cfg->quiet = 1; break;
        case OPT_ACCEPT_RESTORED: cfg->accept_restored_db = 1; break;
        case OPT_HELP: vd_usage(stdout); return 1;
        case OPT_VERSION: printf("verifierd %s (libverify %s)\n", VFY_VERSION_STRING, vfy_version()); return 1;
        case ':':
            fprintf(stderr, "verifierd: %s needs a value (see --help)\n", argv[optind - 1]);
            return -1;
        case '?':
            if (optopt != 0 && optopt < 256)   /* a short option; there are none */
                fprintf(stderr, "verifierd: unknown option -%c (see --help)\n", optopt);
            else
                fprintf(stderr, "verifierd: unknown option %s (see --help)\n", argv[optind - 1]);
            return -1;
        default: {
            char flag[64];
            for (const struct option *x = longopts; x->name != NULL; x++)
                if (x->val == opt)
                    snprintf(flag, sizeof(flag), "--%s", x->name);
            if (apply(cfg, opt, flag, optarg) != 0)
                return -1;
        }
        }
    }
    if (optind < argc) {
        fprintf(stderr, "verifierd: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (cfg->listen == NULL && set_str(&cfg->listen, "127.0.0.1:8443") != 0)
        return -1;
    if (cfg->default_policy == NULL && set_str(&cfg->default_policy, "default") != 0)
        return -1;
    if (!cfg->dev && cfg->state_dir != NULL) {
        fprintf(stderr, "verifierd: --state-dir is for --dev only (a production verifierd "
                        "takes --db, --tls-cert, --tls-key and --signing-key)\n");
        return -1;
    }
    if (cfg->dev) {
        if (cfg->state_dir == NULL) {
            fprintf(stderr, "verifierd: --dev needs --state-dir DIR\n");
            return -1;
        }
        return 0;
    }
    if (cfg->db_path == NULL || cfg->tls_cert == NULL || cfg->tls_key == NULL ||
        cfg->signing_key == NULL) {
        fprintf(stderr, "verifierd: --db, --tls-cert, --tls-key and --signing-key are required "
                        "(or --dev --state-dir DIR); see --help\n");
        return -1;
    }
    return 0;
}

void vd_config_free(struct vd_config *cfg)
{
    free(cfg->db_path);
    free(cfg->listen);
    free(cfg->public_url);
    free(cfg->tls_cert);
    free(cfg->tls_key);
    free(cfg->signing_key);
    free(cfg->old_keys_dir);
    free(cfg->nonce_key);
    free(cfg->config_file);
    free(cfg->default_policy);
    free(cfg->state_dir);
    for (size_t i = 0; i < cfg->npolicy_files; i++)
        free(cfg->policy_files[i]);
    free(cfg->policy_files);
    memset(cfg, 0, sizeof(*cfg));
}
