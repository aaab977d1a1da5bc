/*
 * tpm.c — the agent's TPM operations with tpm2-tss ESAPI (DESIGN §3 quote,
 * §4 agent PCR): open the TCTI from the environment, create or load the
 * persistent ECC P-256 AK, extend the agent PCR, quote + read PCRs, the
 * TPM's reset and restart counters as the AK's quotes carry them.
 *
 * A quote and the PCR read after it are two commands, and another TPM
 * client may extend a PCR in between: the values read are checked against
 * the quote's pcrDigest (Tss2_MU_TPMS_ATTEST_Unmarshal) and the quote is
 * taken again once when they differ.
 *
 * Caveats: no sessions beyond password auth with empty authValues (the AK
 * and the endorsement/owner hierarchies must have empty auth, as on a fresh
 * swtpm); every transient handle is flushed (swtpm has no resource manager).
 */
#include "tpm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

struct agent_tpm {
    TSS2_TCTI_CONTEXT *tcti;
    ESYS_CONTEXT *esys;   /* NULL after a re-open that failed: the next call tries again */
    ESYS_TR ak;
    char *tcti_conf;      /* what it was opened with (NULL: tpm2-tss's default) */
    uint32_t ak_handle;   /* the AK's persistent handle, once loaded */
    TSS2_RC last_rc;      /* of the last ESAPI call that failed */
    unsigned reconnects;  /* connections opened again after one was lost */
    unsigned requotes;    /* quotes taken again: the PCRs changed before their read */
};

static int fail(char *err, size_t cap, const char *what, TSS2_RC rc)
{
    if (err != NULL && cap > 0)
        snprintf(err, cap, "%s: %s (0x%x)", what, Tss2_RC_Decode(rc), (unsigned)rc);
    return -1;
}

static int failmsg(char *err, size_t cap, const char *msg)
{
    if (err != NULL && cap > 0)
        snprintf(err, cap, "%s", msg);
    return -1;
}

static void disconnect(agent_tpm *t)
{
    if (t->esys != NULL)
        Esys_Finalize(&t->esys);
    if (t->tcti != NULL)
        Tss2_TctiLdr_Finalize(&t->tcti);
    t->esys = NULL;
    t->tcti = NULL;
    t->ak = ESYS_TR_NONE;
}

/* The TCTI and the ESAPI context, and a TPM started if it was not. */
static int connect_tpm(agent_tpm *t, char *err, size_t err_cap)
{
    TSS2_RC rc = Tss2_TctiLdr_Initialize(t->tcti_conf, &t->tcti);

    if (rc != TSS2_RC_SUCCESS) {
        t->tcti = NULL;
        return fail(err, err_cap, "Tss2_TctiLdr_Initialize", rc);
    }
    rc = Esys_Initialize(&t->esys, t->tcti, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        t->esys = NULL;
        disconnect(t);
        return fail(err, err_cap, "Esys_Initialize", rc);
    }
    /* A TPM that is not started yet (a plain swtpm without startup-clear). */
    rc = Esys_Startup(t->esys, TPM2_SU_CLEAR);
    if (rc != TSS2_RC_SUCCESS && (rc & 0xfff) != TPM2_RC_INITIALIZE) {
        disconnect(t);
        return fail(err, err_cap, "Esys_Startup", rc);
    }
    return 0;
}

/* 1 if @rc says the connection to the TPM was lost: an I/O error of the
 * TCTI, or the ESAPI context left out of step by one (every later call then
 * failed with "function called in the wrong order", for good). */
static int lost_connection(TSS2_RC rc)
{
    return (rc & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER || rc == TSS2_ESYS_RC_BAD_SEQUENCE ||
           ((rc & TSS2_RC_LAYER_MASK) == TSS2_ESAPI_RC_LAYER &&
            (rc & 0xffff) == TSS2_BASE_RC_IO_ERROR);
}

/* Open the TPM again after a lost connection, and its AK. */
static int reconnect(agent_tpm *t, char *err, size_t err_cap)
{
    TSS2_RC rc;

    disconnect(t);
    if (connect_tpm(t, err, err_cap) != 0)
        return -1;
    t->reconnects++;
    if (t->ak_handle != 0) {
        rc = Esys_TR_FromTPMPublic(t->esys, t->ak_handle, ESYS_TR_NONE, ESYS_TR_NONE,
                                   ESYS_TR_NONE, &t->ak);
        if (rc != TSS2_RC_SUCCESS) {
            disconnect(t);   /* not half open: the next call (ready) tries it all again */
            return fail(err, err_cap, "reloading the AK", rc);
        }
    }
    return 0;
}

/* Before a call: a context a failed re-open left closed is opened again. */
static int ready(agent_tpm *t, char *err, size_t err_cap)
{
    if (t->esys != NULL)
        return 0;
    if (reconnect(t, err, err_cap) != 0) {
        char inner[200];

        snprintf(inner, sizeof(inner), "%s", err != NULL ? err : "");
        if (err != NULL && err_cap > 0)
            snprintf(err, err_cap, "TPM not reachable (%s)", inner);
        return -1;
    }
    return 0;
}

int agent_tpm_open(agent_tpm **out, const char *tcti, char *err, size_t err_cap)
{
    static const char *const vars[] = {"TPM2TOOLS_TCTI", "TCTI", "TSS2_TCTI"};
    agent_tpm *t;

    *out = NULL;
    for (size_t i = 0; tcti == NULL && i < sizeof(vars) / sizeof(vars[0]); i++) {
        const char *v = getenv(vars[i]);
        if (v != NULL && *v != '\0')
            tcti = v;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL || (tcti != NULL && (t->tcti_conf = strdup(tcti)) == NULL)) {
        free(t);
        return failmsg(err, err_cap, "out of memory");
    }
    t->ak = ESYS_TR_NONE;
    if (connect_tpm(t, err, err_cap) != 0) {
        agent_tpm_close(&t);
        return -1;
    }
    *out = t;
    return 0;
}

unsigned agent_tpm_reconnects(const agent_tpm *t)
{
    return t != NULL ? t->reconnects : 0;
}

unsigned agent_tpm_requotes(const agent_tpm *t)
{
    return t != NULL ? t->requotes : 0;
}

void agent_tpm_close(agent_tpm **tp)
{
    agent_tpm *t = tp != NULL ? *tp : NULL;

    if (t == NULL)
        return;
    disconnect(t);
    free(t->tcti_conf);
    free(t);
    *tp = NULL;
}

/* NODA: the AK's auth is empty, so dictionary-attack protection guards
 * nothing, while each unclean TPM shutdown counts as a failed try: after a
 * few (vTPMs of VMs reset hard) every quote failed with "DA lockout" for
 * ~1000 s per try. An AK made before this keeps its attributes. */
static const TPMA_OBJECT AK_ATTRS = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                    TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT |
                                    TPMA_OBJECT_NODA;

static void ak_template(TPM2B_PUBLIC *p)
{
    memset(p, 0, sizeof(*p));
    p->publicArea.type = TPM2_ALG_ECC;
    p->publicArea.nameAlg = TPM2_ALG_SHA256;
    p->publicArea.objectAttributes = AK_ATTRS;
    p->publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    p->publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
    p->publicArea.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    p->publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    p->publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
}

/* 0 if @p is the AK this agent expects (ECC P-256, ECDSA-SHA256, a restricted
 * signing key made in this TPM: what libverify's AK import requires too). */
static int ak_check(const TPMT_PUBLIC *p)
{
    const TPMS_ECC_PARMS *e = &p->parameters.eccDetail;
    const TPMA_OBJECT need = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT |
                             TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                             TPMA_OBJECT_SENSITIVEDATAORIGIN;

    if (p->type != TPM2_ALG_ECC || e->curveID != TPM2_ECC_NIST_P256)
        return -1;
    if ((p->objectAttributes & (need | TPMA_OBJECT_DECRYPT)) != need)
        return -1;
    if (e->scheme.scheme != TPM2_ALG_ECDSA || e->scheme.details.ecdsa.hashAlg != TPM2_ALG_SHA256)
        return -1;
    return 0;
}

static int ak_create(agent_tpm *t, uint32_t handle, char *err, size_t err_cap)
{
    TPM2B_SENSITIVE_CREATE sens;
    TPM2B_PUBLIC tmpl;
    TPM2B_DATA outside;
    TPML_PCR_SELECTION creation_pcr;
    ESYS_TR obj = ESYS_TR_NONE, persistent = ESYS_TR_NONE;
    TPM2B_PUBLIC *pub = NULL;
    TPM2B_CREATION_DATA *cdata = NULL;
    TPM2B_DIGEST *chash = NULL;
    TPMT_TK_CREATION *ticket = NULL;
    TSS2_RC rc;
    int ret = -1;

    memset(&sens, 0, sizeof(sens));
    memset(&outside, 0, sizeof(outside));
    memset(&creation_pcr, 0, sizeof(creation_pcr));
    ak_template(&tmpl);
    rc = Esys_CreatePrimary(t->esys, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                            ESYS_TR_NONE, &sens, &tmpl, &outside, &creation_pcr, &obj, &pub,
                            &cdata, &chash, &ticket);
    if (rc != TSS2_RC_SUCCESS) {
        fail(err, err_cap, "Esys_CreatePrimary (AK)", rc);
        goto out;
    }
    rc = Esys_EvictControl(t->esys, ESYS_TR_RH_OWNER, obj, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                           ESYS_TR_NONE, handle, &persistent);
    if (rc != TSS2_RC_SUCCESS) {
        fail(err, err_cap, "Esys_EvictControl (AK)", rc);
        goto out;
    }
    t->ak = persistent;
    ret = 0;
out:
    if (obj != ESYS_TR_NONE)
        Esys_FlushContext(t->esys, obj);
    Esys_Free(pub);
    Esys_Free(cdata);
    Esys_Free(chash);
    Esys_Free(ticket);
    return ret;
}

static int write_file(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    int ok;

    if (f == NULL)
        return -1;
    ok = fwrite(data, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    return ok ? 0 : -1;
}

/* Whether a persistent object sits at @handle (asked first, so that ESAPI logs no error). */
static int handle_exists(agent_tpm *t, uint32_t handle, char *err, size_t err_cap, int *exists)
{
    TPMS_CAPABILITY_DATA *cap = NULL;
    TPMI_YES_NO more = 0;
    TSS2_RC rc;

    rc = Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES,
                            handle, 1, &more, &cap);
    if (rc != TSS2_RC_SUCCESS)
        return fail(err, err_cap, "Esys_GetCapability (handles)", rc);
    *exists = cap->data.handles.count >= 1 && cap->data.handles.handle[0] == handle;
    Esys_Free(cap);
    return 0;
}

int agent_tpm_ak(agent_tpm *t, uint32_t handle, const char *pub_out, int *created,
                 char *err, size_t err_cap)
{
    TPM2B_PUBLIC *pub = NULL;
    TPM2B_NAME *name = NULL, *qname = NULL;
    uint8_t buf[sizeof(TPM2B_PUBLIC)];
    size_t off = 0;
    TSS2_RC rc;
    int ret = -1, exists = 0;

    *created = 0;
    if ((handle >> 24) != TPM2_HT_PERSISTENT)
        return failmsg(err, err_cap, "the AK handle must be persistent (0x81xxxxxx)");
    if (handle_exists(t, handle, err, err_cap, &exists) != 0)
        return -1;
    rc = exists ? Esys_TR_FromTPMPublic(t->esys, handle, ESYS_TR_NONE, ESYS_TR_NONE,
                                        ESYS_TR_NONE, &t->ak)
                : TPM2_RC_HANDLE;
    if (rc != TSS2_RC_SUCCESS) {
        /* Nothing at the handle yet: create the AK there. */
        t->ak = ESYS_TR_NONE;
        if (ak_create(t, handle, err, err_cap) != 0)
            return -1;
        *created = 1;
    }
    rc = Esys_ReadPublic(t->esys, t->ak, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, &name,
                         &qname);
    if (rc != TSS2_RC_SUCCESS) {
        fail(err, err_cap, "Esys_ReadPublic (AK)", rc);
        goto out;
    }
    if (ak_check(&pub->publicArea) != 0) {
        snprintf(err, err_cap, "the key at 0x%08x is not an ECC P-256 restricted ECDSA-SHA256 "
                 "signing key", (unsigned)handle);
        goto out;
    }
    t->ak_handle = handle;   /* reloaded from there after a lost connection */
    if (pub_out != NULL) {
        rc = Tss2_MU_TPM2B_PUBLIC_Marshal(pub, buf, sizeof(buf), &off);
        if (rc != TSS2_RC_SUCCESS) {
            fail(err, err_cap, "Tss2_MU_TPM2B_PUBLIC_Marshal", rc);
            goto out;
        }
        if (write_file(pub_out, buf, off) != 0) {
            snprintf(err, err_cap, "cannot write %s", pub_out);
            goto out;
        }
    }
    ret = 0;
out:
    Esys_Free(pub);
    Esys_Free(name);
    Esys_Free(qname);
    return ret;
}

int agent_tpm_extend(agent_tpm *t, unsigned pcr, const uint8_t digest[32], char *err,
                     size_t err_cap)
{
    TPML_DIGEST_VALUES d;
    TSS2_RC rc;

    if (pcr > 23)
        return failmsg(err, err_cap, "PCR index out of range");
    memset(&d, 0, sizeof(d));
    d.count = 1;
    d.digests[0].hashAlg = TPM2_ALG_SHA256;
    memcpy(d.digests[0].digest.sha256, digest, 32);
    if (ready(t, err, err_cap) != 0)
        return -1;
    rc = Esys_PCR_Extend(t->esys, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                         ESYS_TR_NONE, &d);
    if (rc != TSS2_RC_SUCCESS) {
        fail(err, err_cap, "Esys_PCR_Extend", rc);
        /* Not retried here: the TPM may have done it before the connection
         * failed (the caller reads the PCR before it extends again). The
         * context is opened again for the next call. */
        if (lost_connection(rc)) {
            char why[200];

            (void)reconnect(t, why, sizeof(why));
        }
        return -1;
    }
    return 0;
}

static void selection(TPML_PCR_SELECTION *sel, uint32_t mask)
{
    memset(sel, 0, sizeof(*sel));
    sel->count = 1;
    sel->pcrSelections[0].hash = TPM2_ALG_SHA256;
    sel->pcrSelections[0].sizeofSelect = 3;
    for (unsigned i = 0; i < 24; i++)
        if (mask & (1u << i))
            sel->pcrSelections[0].pcrSelect[i / 8] |= (uint8_t)(1u << (i % 8));
}

/* TPM2_PCR_Read returns at most 8 digests per call: loop until all are read. */
static int pcr_read(agent_tpm *t, uint32_t mask, uint8_t values[][32], char *err, size_t err_cap)
{
    uint32_t left = mask;

    while (left != 0) {
        TPML_PCR_SELECTION sel, *out_sel = NULL;
        TPML_DIGEST *vals = NULL;
        UINT32 counter = 0;
        uint32_t got = 0;
        size_t k = 0;
        TSS2_RC rc;

        selection(&sel, left);
        rc = Esys_PCR_Read(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel, &counter,
                           &out_sel, &vals);
        if (rc != TSS2_RC_SUCCESS) {
            t->last_rc = rc;
            return fail(err, err_cap, "Esys_PCR_Read", rc);
        }
        for (unsigned i = 0; i < 24 && out_sel->count == 1; i++) {
            if (!(out_sel->pcrSelections[0].pcrSelect[i / 8] & (1u << (i % 8))))
                continue;
            if (k >= vals->count || vals->digests[k].size != 32 || !(left & (1u << i)))
                break;
            memcpy(values[i], vals->digests[k].buffer, 32);
            got |= 1u << i;
            k++;
        }
        Esys_Free(out_sel);
        Esys_Free(vals);
        if (got == 0)
            return failmsg(err, err_cap, "Esys_PCR_Read returned no sha256 values");
        left &= ~got;
    }
    return 0;
}

int agent_tpm_pcr_read1(agent_tpm *t, unsigned pcr, uint8_t out[32], char *err, size_t err_cap)
{
    uint8_t values[AGENT_TPM_MAX_PCRS][32];

    if (pcr > 23)
        return failmsg(err, err_cap, "PCR index out of range");
    if (ready(t, err, err_cap) != 0)
        return -1;
    t->last_rc = TSS2_RC_SUCCESS;
    if (pcr_read(t, 1u << pcr, values, err, err_cap) != 0) {
        /* a read changes nothing: once more on a fresh connection */
        if (!lost_connection(t->last_rc) || reconnect(t, err, err_cap) != 0 ||
            pcr_read(t, 1u << pcr, values, err, err_cap) != 0)
            return -1;
    }
    memcpy(out, values[pcr], 32);
    return 0;
}

void agent_quote_clear(agent_quote *q)
{
    if (q == NULL)
        return;
    free(q->attest);
    free(q->sig);
    memset(q, 0, sizeof(*q));
}

static int quote_once(agent_tpm *t, uint32_t mask, const uint8_t qualifying[32], agent_quote *q,
                      char *err, size_t err_cap);

int agent_tpm_quote(agent_tpm *t, uint32_t mask, const uint8_t qualifying[32], agent_quote *q,
                    char *err, size_t err_cap)
{
    int r;

    if (ready(t, err, err_cap) != 0)
        return -1;
    t->last_rc = TSS2_RC_SUCCESS;
    r = quote_once(t, mask, qualifying, q, err, err_cap);
    if (r < 0) {
        /* A quote changes nothing in the TPM: after a lost connection, once
         * more on a fresh one (the context was otherwise broken for good). */
        if (!lost_connection(t->last_rc) || reconnect(t, err, err_cap) != 0)
            return -1;
        t->last_rc = TSS2_RC_SUCCESS;
        r = quote_once(t, mask, qualifying, q, err, err_cap);
    }
    if (r == 1) {   /* another client extended a quoted PCR before the read: once more */
        t->requotes++;
        r = quote_once(t, mask, qualifying, q, err, err_cap);
        if (r == 1) {
            failmsg(err, err_cap, "the PCRs changed between the quote and their read, twice "
                    "(another TPM client extending them)");
            return -1;
        }
    }
    return r;
}

/* The TPMS_ATTEST of a quote into @a: 0, or -1 with @err. */
static int attest_read(const TPM2B_ATTEST *quoted, TPMS_ATTEST *a, char *err, size_t err_cap)
{
    size_t off = 0;
    TSS2_RC rc;

    memset(a, 0, sizeof(*a));
    rc = Tss2_MU_TPMS_ATTEST_Unmarshal(quoted->attestationData, quoted->size, &off, a);
    if (rc != TSS2_RC_SUCCESS)
        return fail(err, err_cap, "Tss2_MU_TPMS_ATTEST_Unmarshal", rc);
    if (off != quoted->size || a->type != TPM2_ST_ATTEST_QUOTE)
        return failmsg(err, err_cap, "the TPM's quote is not a TPMS_ATTEST of a quote");
    return 0;
}

/* Whether @values (the PCRs in @mask) are the ones @quoted covers: SHA-256
 * of them, ascending, equals its pcrDigest (the AK signs with SHA-256). 1
 * yes, 0 no, -1 with @err if the quote cannot be read. @counts: the
 * counters of its clockInfo. */
static int values_quoted(const TPM2B_ATTEST *quoted, uint32_t mask,
                         const uint8_t values[][32], agent_tpm_counts *counts, char *err,
                         size_t err_cap)
{
    uint8_t cat[AGENT_TPM_MAX_PCRS * 32], md[32];
    const TPM2B_DIGEST *pd;
    TPMS_ATTEST a;
    size_t n = 0;

    if (attest_read(quoted, &a, err, err_cap) != 0)
        return -1;
    counts->reset = a.clockInfo.resetCount;
    counts->restart = a.clockInfo.restartCount;
    pd = &a.attested.quote.pcrDigest;
    for (unsigned i = 0; i < AGENT_TPM_MAX_PCRS; i++)
        if (mask & (1u << i)) {
            memcpy(cat + n, values[i], 32);
            n += 32;
        }
    if (EVP_Digest(cat, n, md, NULL, EVP_sha256(), NULL) != 1)
        return failmsg(err, err_cap, "SHA-256 failed");
    return pd->size == sizeof(md) && memcmp(pd->buffer, md, sizeof(md)) == 0;
}

/* One quote and the PCR read: 0, 1 if the values read are not the ones
 * quoted (@q cleared), -1 with @err. */
static int quote_once(agent_tpm *t, uint32_t mask, const uint8_t qualifying[32], agent_quote *q,
                      char *err, size_t err_cap)
{
    TPM2B_DATA qd;
    TPMT_SIG_SCHEME scheme;
    TPML_PCR_SELECTION sel;
    TPM2B_ATTEST *quoted = NULL;
    TPMT_SIGNATURE *sig = NULL;
    uint8_t sbuf[sizeof(TPMT_SIGNATURE)];
    size_t soff = 0;
    TSS2_RC rc;
    int ret = -1;

    memset(q, 0, sizeof(*q));
    if (t->ak == ESYS_TR_NONE)
        return failmsg(err, err_cap, "no AK loaded");
    memset(&qd, 0, sizeof(qd));
    qd.size = 32;
    memcpy(qd.buffer, qualifying, 32);
    memset(&scheme, 0, sizeof(scheme));
    scheme.scheme = TPM2_ALG_NULL; /* the AK's own scheme: ECDSA-SHA256 */
    selection(&sel, mask);
    rc = Esys_Quote(t->esys, t->ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &qd, &scheme,
                    &sel, &quoted, &sig);
    if (rc != TSS2_RC_SUCCESS) {
        t->last_rc = rc;
        fail(err, err_cap, "Esys_Quote", rc);
        goto out;
    }
    /* TPM2B_ATTEST.attestationData is the marshalled TPMS_ATTEST itself. */
    q->attest = malloc(quoted->size ? quoted->size : 1);
    rc = Tss2_MU_TPMT_SIGNATURE_Marshal(sig, sbuf, sizeof(sbuf), &soff);
    if (rc != TSS2_RC_SUCCESS) {
        fail(err, err_cap, "Tss2_MU_TPMT_SIGNATURE_Marshal", rc);
        goto out;
    }
    q->sig = malloc(soff);
    if (q->attest == NULL || q->sig == NULL) {
        failmsg(err, err_cap, "out of memory");
        goto out;
    }
    memcpy(q->attest, quoted->attestationData, quoted->size);
    q->attest_len = quoted->size;
    memcpy(q->sig, sbuf, soff);
    q->sig_len = soff;
    q->mask = mask;
    if (pcr_read(t, mask, q->values, err, err_cap) != 0)
        goto out;
    ret = values_quoted(quoted, mask, (const uint8_t(*)[32])q->values, &q->counts, err,
                        err_cap);
    if (ret >= 0)
        ret = !ret;   /* 1: matched -> 0; 0: changed -> 1 */
out:
    Esys_Free(quoted);
    Esys_Free(sig);
    if (ret != 0)
        agent_quote_clear(q);
    return ret;
}

/* A quote of no PCRs by the AK: its clockInfo, nothing else used. */
static int counts_once(agent_tpm *t, agent_tpm_counts *c, char *err, size_t err_cap)
{
    TPM2B_DATA qd;
    TPMT_SIG_SCHEME scheme;
    TPML_PCR_SELECTION sel;
    TPM2B_ATTEST *quoted = NULL;
    TPMT_SIGNATURE *sig = NULL;
    TPMS_ATTEST a;
    TSS2_RC rc;
    int ret = -1;

    if (t->ak == ESYS_TR_NONE)
        return failmsg(err, err_cap, "no AK loaded");
    memset(&qd, 0, sizeof(qd));
    memset(&scheme, 0, sizeof(scheme));
    scheme.scheme = TPM2_ALG_NULL;
    selection(&sel, 0);
    rc = Esys_Quote(t->esys, t->ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &qd, &scheme,
                    &sel, &quoted, &sig);
    if (rc != TSS2_RC_SUCCESS) {
        t->last_rc = rc;
        fail(err, err_cap, "Esys_Quote (the TPM's counters)", rc);
        goto out;
    }
    if (attest_read(quoted, &a, err, err_cap) != 0)
        goto out;
    c->reset = a.clockInfo.resetCount;
    c->restart = a.clockInfo.restartCount;
    ret = 0;
out:
    Esys_Free(quoted);
    Esys_Free(sig);
    return ret;
}

int agent_tpm_counts_read(agent_tpm *t, agent_tpm_counts *c, char *err, size_t err_cap)
{
    if (ready(t, err, err_cap) != 0)
        return -1;
    t->last_rc = TSS2_RC_SUCCESS;
    if (counts_once(t, c, err, err_cap) != 0) {
        /* a quote changes nothing: once more on a fresh connection */
        if (!lost_connection(t->last_rc) || reconnect(t, err, err_cap) != 0 ||
            counts_once(t, c, err, err_cap) != 0)
            return -1;
    }
    return 0;
}
