/*
 * devmode.c — `verifierd --dev --state-dir DIR`: the quick start.
 *
 * Creates, once, in DIR (mode 0700): the SQLite database, a self-signed
 * TLS certificate for localhost/127.0.0.1 (EC P-256, 1 year), the ES256
 * result-signing key, the nonce key, an attest token and an admin token;
 * loads the shipped policies; and prints the tokens with ready-to-paste curl
 * commands. Later runs reuse everything. The two dev tokens are kept in
 * DIR/dev-tokens (0600) so they can be printed again — only in dev mode;
 * production tokens are shown once by `verifyctl token add` and never stored.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "vd.h"

/* Shipped policies: the source tree's when this binary runs from the build
 * tree it was built in (an installed one used to read the source tree's
 * whenever it still existed, and a distribution's build carried its build
 * path), else the installed copy. */
static const char *policy_dirs[2];

static void policy_dirs_init(void)
{
    size_t n = 0;
#if defined(VERIFIERD_SRC_POLICY_DIR) && defined(VERIFIERD_BUILD_DIR)
    char exe[4096], *build = realpath(VERIFIERD_BUILD_DIR, NULL);   /* exe is resolved too */
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    size_t bl = build != NULL ? strlen(build) : 0;

    if (len > 0 && build != NULL) {
        exe[len] = '\0';
        if (strncmp(exe, build, bl) == 0 && exe[bl] == '/')
            policy_dirs[n++] = VERIFIERD_SRC_POLICY_DIR;
    }
    free(build);
#endif
#ifdef VERIFIERD_DATA_POLICY_DIR
    policy_dirs[n++] = VERIFIERD_DATA_POLICY_DIR;
#endif
    (void)n;
}

static char *path_in(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);

    if (p != NULL)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int exists(const char *p)
{
    return access(p, F_OK) == 0;
}

static int write_private(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    ssize_t w;

    if (fd < 0)
        return -1;
    w = write(fd, data, len);
    if (w == (ssize_t)len && fsync(fd) != 0)
        w = -1;
    if (close(fd) != 0 || w != (ssize_t)len) {
        unlink(path);
        return -1;
    }
    return 0;
}

static int make_tls(const char *cert_path, const char *key_path)
{
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name;
    X509V3_CTX v3;
    X509_EXTENSION *ext;
    BIO *b = NULL;
    BUF_MEM *bm;
    FILE *f = NULL;
    int rc = -1;

    if (pkey == NULL || x == NULL)
        goto out;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL));
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 365L * 24 * 3600);
    X509_set_pubkey(x, pkey);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"verifierd dev", -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1");
    if (ext == NULL || !X509_add_ext(x, ext, -1)) {
        X509_EXTENSION_free(ext);
        goto out;
    }
    X509_EXTENSION_free(ext);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
    if (ext != NULL) {
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    if (X509_sign(x, pkey, EVP_sha256()) == 0)
        goto out;
    /* Key first, 0600, through a memory BIO. */
    if ((b = BIO_new(BIO_s_mem())) == NULL ||
        !PEM_write_bio_PrivateKey(b, pkey, NULL, NULL, 0, NULL, NULL) ||
        BIO_get_mem_ptr(b, &bm) != 1 || write_private(key_path, bm->data, bm->length) != 0)
        goto out;
    if ((f = fopen(cert_path, "wx")) == NULL || !PEM_write_X509(f, x) || fflush(f) != 0 ||
        fsync(fileno(f)) != 0)
        goto out;
    rc = 0;
out:
    if (f != NULL && fclose(f) != 0)
        rc = -1;
    BIO_free(b);
    X509_free(x);
    EVP_PKEY_free(pkey);
    return rc;
}

/* 1 if the dev certificate and its key are both there and the
 * certificate has not expired: else they are made again, together (the key
 * is written first, exclusively, so one left alone used to stop every
 * start, and a certificate past its year was served as it was). */
static int dev_tls_usable(const char *cert_path, const char *key_path, const char **why)
{
    FILE *f;
    X509 *x = NULL;
    EVP_PKEY *k = NULL;
    int ok;

    *why = NULL;
    if (!exists(cert_path) || !exists(key_path)) {
        *why = exists(cert_path) || exists(key_path) ? "half of it was missing" : NULL;
        return 0;
    }
    if ((f = fopen(cert_path, "r")) != NULL) {
        x = PEM_read_X509(f, NULL, NULL, NULL);
        fclose(f);
    }
    if ((f = fopen(key_path, "r")) != NULL) {
        k = PEM_read_PrivateKey(f, NULL, vd_no_passphrase, NULL);
        fclose(f);
    }
    ok = x != NULL && k != NULL && X509_check_private_key(x, k) == 1 &&
         X509_cmp_current_time(X509_get0_notAfter(x)) > 0;
    if (!ok)
        *why = x == NULL   ? "the certificate was unreadable"
               : k == NULL ? "the key was unreadable"
               : X509_check_private_key(x, k) != 1 ? "the key did not match the certificate"
                                                    : "the certificate had expired";
    ERR_clear_error();
    X509_free(x);
    EVP_PKEY_free(k);
    return ok;
}

static int set_path(char **dst, const char *dir, const char *name)
{
    char *p = path_in(dir, name);

    if (p == NULL)
        return -1;
    free(*dst);
    *dst = p;
    return 0;
}

/* 1 if @token is a live token of @role in @st. */
static int token_ok(vfy_store *st, const char *token, vfy_token_role role)
{
    vfy_token_role got;

    return vfy_store_token_check(st, token, strlen(token), NULL, &got) == VFY_OK && got == role;
}

/* Create the two dev tokens once; read them back from DIR/dev-tokens. */
static int dev_tokens(const char *dir, char attest[VFY_STORE_TOKEN_BUF], char admin[VFY_STORE_TOKEN_BUF])
{
    char *path = path_in(dir, "dev-tokens");
    FILE *f;
    vfy_store *st = vd_store();
    char buf[2 * VFY_STORE_TOKEN_BUF + 4];
    int rc = -1, stale = 0;

    if (path == NULL || st == NULL)
        goto out;
    if ((f = fopen(path, "r")) != NULL) {
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        char *nl;

        fclose(f);
        buf[n] = '\0';
        nl = strchr(buf, '\n');
        if (nl == NULL || (size_t)(nl - buf) >= VFY_STORE_TOKEN_BUF ||
            strcspn(nl + 1, "\n") == 0 || strcspn(nl + 1, "\n") >= VFY_STORE_TOKEN_BUF)
            goto out;
        memcpy(attest, buf, (size_t)(nl - buf));
        attest[nl - buf] = '\0';
        memcpy(admin, nl + 1, strcspn(nl + 1, "\n"));
        admin[strcspn(nl + 1, "\n")] = '\0';
        if (token_ok(st, attest, VFY_ROLE_ATTEST) && token_ok(st, admin, VFY_ROLE_ADMIN)) {
            rc = 0;
            goto out;
        }
        /* The database was replaced (or the file is stale): the printed
         * tokens would not work. Make new ones if the names are free. */
        fprintf(stderr, "verifierd: %s holds tokens this database does not know; making new "
                        "ones\n", path);
        stale = 1;
    }
    vfy_store_set_actor(st, "verifierd --dev");
    if (vfy_store_token_add(st, "dev-attest", VFY_ROLE_ATTEST, attest) != VFY_OK ||
        vfy_store_token_add(st, "dev-admin", VFY_ROLE_ADMIN, admin) != VFY_OK) {
        vd_log("error", "--dev: creating tokens: %s (the database has dev tokens that %s does "
               "not hold: remove --state-dir %s to start over)", vfy_store_errmsg(st), path, dir);
        goto out;
    }
    snprintf(buf, sizeof(buf), "%s\n%s\n", attest, admin);
    if (stale)
        (void)unlink(path);
    rc = write_private(path, buf, strlen(buf));
out:
    OPENSSL_cleanse(buf, sizeof(buf));
    free(path);
    return rc;
}

/* verifyctl as the user can run it: the build tree's next to this verifierd
 * (build/verifierd/verifierd -> build/tools/verifyctl/verifyctl), else by name. */
static const char *verifyctl_path(char *buf, size_t cap)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    char *slash;

    if (n > 0) {
        self[n] = '\0';
        if ((slash = strrchr(self, '/')) != NULL) {
            *slash = '\0';
            if (snprintf(buf, cap, "%s/../tools/verifyctl/verifyctl", self) < (int)cap &&
                access(buf, X_OK) == 0) {
                char *real = realpath(buf, NULL);

                if (real != NULL && strlen(real) < cap) {
                    memcpy(buf, real, strlen(real) + 1);
                    free(real);
                    return buf;
                }
                free(real);
            }
        }
    }
    return "verifyctl";
}

int vd_dev_prepare(struct vd_config *cfg)
{
    const char *dir = cfg->state_dir;
    vfy_store *st = NULL;
    vfy_signing_key *sk = NULL;
    vfy_nonce_key *nk = NULL;
    char attest[VFY_STORE_TOKEN_BUF], admin[VFY_STORE_TOKEN_BUF];
    static const char *shipped[] = {"default.json", "strict.json"};
    vfy_rc rc;

    struct stat sb;

    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "verifierd: --state-dir %s: %s\n", dir, strerror(errno));
        return -1;
    }
    if (stat(dir, &sb) != 0) {
        fprintf(stderr, "verifierd: --state-dir %s: %s\n", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "verifierd: --state-dir %s: not a directory\n", dir);
        return -1;
    }
    if ((sb.st_mode & 077) != 0)
        fprintf(stderr, "verifierd: warning: --state-dir %s is open to other users (mode %03o); "
                        "it holds the signing key and the tokens: chmod 700 it\n",
                dir, (unsigned)(sb.st_mode & 0777));
    /* --dev uses the state directory's files: say so if others were given. */
    {
        const struct { const char *flag, *val; } given[] = {
            {"--db", cfg->db_path}, {"--tls-cert", cfg->tls_cert}, {"--tls-key", cfg->tls_key},
            {"--signing-key", cfg->signing_key}, {"--nonce-key", cfg->nonce_key}};

        for (size_t i = 0; i < sizeof(given) / sizeof(given[0]); i++)
            if (given[i].val != NULL)
                fprintf(stderr, "verifierd: warning: --dev ignores %s %s (it uses the files in "
                                "--state-dir %s)\n", given[i].flag, given[i].val, dir);
    }
    if (set_path(&cfg->db_path, dir, "verifierd.db") || set_path(&cfg->tls_cert, dir, "tls-cert.pem") ||
        set_path(&cfg->tls_key, dir, "tls-key.pem") || set_path(&cfg->signing_key, dir, "signing-key.pem") ||
        set_path(&cfg->nonce_key, dir, "nonce.key"))
        return -1;
    rc = vfy_store_open(&st, cfg->db_path, VFY_STORE_CREATE | VFY_STORE_MIGRATE);
    if (rc != VFY_OK) {
        fprintf(stderr, "verifierd: %s: %s\n", cfg->db_path, vfy_strerror(rc));
        return -1;
    }
    vfy_store_close(&st);
    {
        const char *why = NULL;

        if (!dev_tls_usable(cfg->tls_cert, cfg->tls_key, &why)) {
            if (why != NULL) {
                fprintf(stderr, "verifierd: --dev: a new TLS certificate and key (%s); relying "
                                "parties need the new %s\n", why, cfg->tls_cert);
                unlink(cfg->tls_cert);
                unlink(cfg->tls_key);
            }
            if (make_tls(cfg->tls_cert, cfg->tls_key) != 0) {
                fprintf(stderr, "verifierd: cannot create %s\n", cfg->tls_cert);
                return -1;
            }
        }
    }
    if (!exists(cfg->signing_key)) {
        if ((rc = vfy_signing_key_generate(&sk)) == VFY_OK)
            rc = vfy_signing_key_save(sk, cfg->signing_key);
        vfy_signing_key_free(&sk);
        if (rc != VFY_OK) {
            fprintf(stderr, "verifierd: %s: %s\n", cfg->signing_key, vfy_strerror(rc));
            return -1;
        }
    }
    if (!exists(cfg->nonce_key)) {
        if ((rc = vfy_nonce_key_generate(&nk)) == VFY_OK)
            rc = vfy_nonce_key_save(nk, cfg->nonce_key);
        vfy_nonce_key_free(&nk);
        if (rc != VFY_OK) {
            fprintf(stderr, "verifierd: %s: %s\n", cfg->nonce_key, vfy_strerror(rc));
            return -1;
        }
    }
    policy_dirs_init();
    for (size_t d = 0; cfg->npolicy_files == 0 && d < sizeof(policy_dirs) / sizeof(policy_dirs[0]) &&
                       policy_dirs[d] != NULL; d++) {
        for (size_t i = 0; i < 2; i++) {
            char *p = path_in(policy_dirs[d], shipped[i]);
            char **np = realloc(cfg->policy_files, (cfg->npolicy_files + 1) * sizeof(*np));

            if (p == NULL || np == NULL) {
                free(p);
                return -1;
            }
            cfg->policy_files = np;
            if (exists(p))
                cfg->policy_files[cfg->npolicy_files++] = p;
            else
                free(p);
        }
    }
    if (dev_tokens(dir, attest, admin) != 0) {
        fprintf(stderr, "verifierd: cannot create or read %s/dev-tokens\n", dir);
        return -1;
    }
    OPENSSL_cleanse(attest, sizeof(attest));
    OPENSSL_cleanse(admin, sizeof(admin));
    return 0;
}

void vd_dev_announce(const struct vd_config *cfg)
{
    char attest[VFY_STORE_TOKEN_BUF], admin[VFY_STORE_TOKEN_BUF], vc[4096], where[300];
    const char *dir = cfg->state_dir, *port = strrchr(cfg->listen, ':');

    /* A wildcard address is no place to send a request to, and the dev
     * certificate names localhost: the commands printed use that. */
    if (port != NULL && (strncmp(cfg->listen, "0.0.0.0:", 8) == 0 ||
                         strncmp(cfg->listen, "[::]:", 5) == 0))
        snprintf(where, sizeof(where), "localhost%s", port);
    else
        snprintf(where, sizeof(where), "%s", cfg->listen);

    if (dev_tokens(dir, attest, admin) != 0)
        return;   /* vd_dev_prepare made them: not reached */
    printf("verifierd --dev: state in %s\n"
           "  database      %s\n"
           "  TLS cert      %s (self-signed, localhost)\n"
           "  signing key   %s\n"
           "  attest token  %s\n"
           "  admin token   %s\n"
           "\n"
           "Try it (another terminal):\n"
           "  export VFY=https://%s CA=%s\n"
           "  curl --cacert $CA $VFY/healthz\n"
           "  curl --cacert $CA $VFY/v1/keys\n"
           "  curl --cacert $CA -X POST -H 'Authorization: Bearer %s' $VFY/v1/challenge\n"
           "  curl --cacert $CA -H 'Authorization: Bearer %s' $VFY/v1/admin/policies\n"
           "  %s --db %s list attesters\n"
           "Evidence goes to POST $VFY/v1/attest (docs/api.md). Ctrl-C stops.\n\n",
           dir, cfg->db_path, cfg->tls_cert, cfg->signing_key, attest, admin, where,
           cfg->tls_cert, attest, admin, verifyctl_path(vc, sizeof(vc)), cfg->db_path);
    fflush(stdout);
    OPENSSL_cleanse(attest, sizeof(attest));
    OPENSSL_cleanse(admin, sizeof(admin));
}
