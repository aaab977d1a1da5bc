/*
 * refstore_component.c — agent components (DESIGN §6): kind model | tool |
 * policy | context, name, version ("" when none), SHA-256 digest, state
 * approved | revoked, provenance note, created/updated timestamps.
 *
 * Unique key (kind, name, version, digest). Re-adding the identical row is
 * a no-op; the same key with a different note, or an attempt to re-approve
 * a revoked row, is VFY_E_CONFLICT (revocation is final: approve a new
 * version instead). Digests are stored as "sha256:<64 lowercase hex>".
 */
#include <stdio.h>
#include <string.h>

#include "refstore_int.h"

/* @adding: the name and version are created (st_check_new_name), not
 * looked up: a revocation must reach a value stored under an older rule.
 * A note keeps the name rule (U+200D joins emoji and Persian text). */
static vfy_rc check(vfy_store *st, vfy_component_kind kind, const char *name,
                    const char *version, const char *note, int adding)
{
    vfy_rc rc;

    if (vfy_component_kind_name(kind) == NULL)
        return st_err(st, VFY_E_BAD_KIND, "unknown component kind");
    if ((rc = adding ? st_check_new_name(st, name, VFY_STORE_NAME_MAX, "component name",
                                         "SELECT 1 FROM components WHERE name = ?1 LIMIT 1")
                     : st_check_name(st, name, VFY_STORE_NAME_MAX, "component name")) != VFY_OK ||
        (rc = adding ? st_check_new_opt(st, version, VFY_STORE_VERSION_MAX, "component version",
                                        "SELECT 1 FROM components WHERE version = ?1 LIMIT 1")
                     : st_check_opt(st, version, VFY_STORE_VERSION_MAX, "component version")) !=
            VFY_OK ||
        (rc = st_check_opt(st, note, VFY_STORE_NOTE_MAX, "note")) != VFY_OK)
        return rc;
    return VFY_OK;
}

vfy_rc st_component_revoked_as(vfy_store *st, vfy_component_kind kind, const uint8_t digest[32],
                               int *found, char *as, size_t cap)
{
    vfy_store_component c;
    vfy_rc rc = vfy_store_component_lookup(st, kind, digest, &c);   /* a revoked row wins */

    *found = 0;
    if (rc == VFY_E_NOT_FOUND)
        return VFY_OK;
    if (rc != VFY_OK)
        return rc;
    if (c.state == VFY_REF_REVOKED) {
        *found = 1;
        if (as != NULL)
            snprintf(as, cap, "%s%s%s", c.name, c.version[0] != '\0' ? " " : "", c.version);
    }
    return VFY_OK;
}

/* The stored row (@kind, @name, @version, @dstr): *@exists, *@revoked and,
 * when it exists, whether its note is @note (*@same_note). */
vfy_rc st_component_row(vfy_store *st, const char *kind, const char *name, const char *version,
                        const char *dstr, const char *note, int *exists, int *revoked,
                        int *same_note)
{
    sqlite3_stmt *s;
    vfy_rc rc;
    int src;

    *exists = *revoked = *same_note = 0;
    rc = st_stmt(st, SL_COMP_FIND,
                 "SELECT state, note FROM components"
                 " WHERE kind = ?1 AND name = ?2 AND version = ?3 AND digest = ?4", &s);
    if (rc != VFY_OK)
        return rc;
    sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, version, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, dstr, -1, SQLITE_STATIC);
    src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        *exists = 1;
        *revoked = strcmp((const char *)sqlite3_column_text(s, 0), "revoked") == 0;
        *same_note = strcmp((const char *)sqlite3_column_text(s, 1), note != NULL ? note : "") == 0;
    }
    sqlite3_reset(s);
    return src == SQLITE_ROW || src == SQLITE_DONE ? VFY_OK : st_db(st, src, "component");
}

vfy_rc st_component_put(vfy_store *st, vfy_component_kind kind, const char *name,
                        const char *version, const uint8_t digest[32], const char *note,
                        int to_revoke, int *added)
{
    char dstr[VFY_SHA256_STR_LEN + 1];
    sqlite3_stmt *s;
    vfy_rc rc;

    if (added != NULL)
        *added = 0;
    if (version == NULL)
        version = "";
    if (note == NULL)
        note = "";
    if ((rc = check(st, kind, name, version, note, 1)) != VFY_OK)
        return rc;
    if (digest == NULL)
        return st_err(st, VFY_E_BAD_DIGEST, "component digest missing");
    if ((rc = vfy_sha256_format(dstr, sizeof(dstr), digest)) != VFY_OK)
        return rc;
    {
        int exists, revoked, same_note;

        rc = st_component_row(st, vfy_component_kind_name(kind), name, version, dstr, note,
                              &exists, &revoked, &same_note);
        if (rc != VFY_OK)
            return rc;
        if (exists && revoked)
            return st_err(st, VFY_E_CONFLICT, "%s %s %s is revoked",
                          vfy_component_kind_name(kind), name, dstr);
        if (exists && !same_note)
            return st_err(st, VFY_E_CONFLICT, "%s %s %s exists with a different note",
                          vfy_component_kind_name(kind), name, dstr);
        if (exists)
            return VFY_OK;
    }
    /* A revoked value cannot be approved again (DESIGN §6) — under another
     * name or version either: appraisal already treats the digest as
     * revoked, and the listing and the export must not say otherwise. A
     * row added only to be revoked (a bundle's revoked entry) may be. */
    if (!to_revoke) {
        char as[VFY_STORE_NAME_MAX + VFY_STORE_VERSION_MAX + 2];
        int found = 0;

        if ((rc = st_component_revoked_as(st, kind, digest, &found, as, sizeof(as))) != VFY_OK)
            return rc;
        if (found)
            return st_err(st, VFY_E_CONFLICT, "%s %s: digest %s is revoked (as %s %s)",
                          vfy_component_kind_name(kind), name, dstr,
                          vfy_component_kind_name(kind), as);
    }
    rc = st_stmt(st, SL_COMP_INSERT,
                 "INSERT INTO components (kind, name, version, digest, note, created_at, updated_at)"
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)", &s);
    if (rc != VFY_OK)
        return rc;
    sqlite3_bind_text(s, 1, vfy_component_kind_name(kind), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, version, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, dstr, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, note, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, st_now(st));
    rc = st_exec_stmt(st, s, "insert component");
    if (rc == VFY_OK && added != NULL)
        *added = 1;
    return rc;
}

vfy_rc vfy_store_component_add(vfy_store *st, vfy_component_kind kind, const char *name,
                               const char *version, const uint8_t digest[32], const char *note,
                               int *added)
{
    char obj[VFY_STORE_NAME_MAX + VFY_STORE_VERSION_MAX + 32];
    char dstr[VFY_SHA256_STR_LEN + 1];
    int add = 0;
    vfy_rc rc;

    if (added != NULL)
        *added = 0;
    if (st == NULL || digest == NULL)
        return VFY_E_INVALID_ARG;
    if ((rc = st_writable(st)) != VFY_OK || (rc = st_tx_begin(st)) != VFY_OK)
        return rc;
    rc = st_component_put(st, kind, name, version, digest, note, 0, &add);
    if (rc == VFY_OK && add) {
        snprintf(obj, sizeof(obj), "%s %s%s%s", vfy_component_kind_name(kind), name,
                 version != NULL && version[0] != '\0' ? " " : "",
                 version != NULL ? version : "");
        rc = vfy_sha256_format(dstr, sizeof(dstr), digest);
        if (rc == VFY_OK)
            rc = st_audit(st, "component.add", obj, dstr);
    }
    rc = st_tx_end(st, rc);
    if (rc == VFY_OK && added != NULL)
        *added = add;
    return rc;
}

/*
 * A digest is revoked for appraisal once any row of its kind with it is
 * (vfy_store_component_lookup: a revoked row wins), whatever that row's
 * name or version. So the other rows of @kind with digest @dg (row @id just
 * revoked) are revoked with it — listings and exports then say what
 * appraisal does — and so are the results that relied on them; *@rows and
 * *@n grow.
 */
static vfy_rc revoke_same_digest(vfy_store *st, vfy_component_kind kind, const char *dg,
                                 int64_t id, const char *reason, size_t *rows, size_t *n)
{
    sqlite3_stmt *s = NULL, *upd = NULL;
    vfy_rc rc = VFY_OK;
    int src = sqlite3_prepare_v2(st->db,
                                 "SELECT id, state, name, version FROM components WHERE kind = ?1"
                                 " AND digest = ?2 AND id != ?3 ORDER BY id", -1, &s, NULL);

    if (src == SQLITE_OK)
        src = sqlite3_prepare_v2(st->db,
                                 "UPDATE components SET state = 'revoked', updated_at = ?2"
                                 " WHERE id = ?1 AND state = 'approved'", -1, &upd, NULL);
    if (src != SQLITE_OK) {
        sqlite3_finalize(s);
        return st_db(st, src, "prepare");
    }
    sqlite3_bind_text(s, 1, vfy_component_kind_name(kind), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, dg, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, id);
    while (rc == VFY_OK && (src = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t twin = sqlite3_column_int64(s, 0);
        size_t k = 0;

        if (strcmp((const char *)sqlite3_column_text(s, 1), "approved") == 0) {
            sqlite3_bind_int64(upd, 1, twin);
            sqlite3_bind_int64(upd, 2, st_now(st));
            if ((rc = st_exec_stmt(st, upd, "revoke component")) != VFY_OK)
                break;
            if (sqlite3_changes(st->db) > 0) {
                /* audited under its own name: the row the operator named is
                 * not the only one this revocation took */
                char obj[VFY_STORE_NAME_MAX + VFY_STORE_VERSION_MAX + 32];
                char detail[VFY_SHA256_STR_LEN + VFY_STORE_REASON_MAX + 48];
                const char *tn = (const char *)sqlite3_column_text(s, 2);
                const char *tv = (const char *)sqlite3_column_text(s, 3);

                snprintf(obj, sizeof(obj), "%s %s%s%s", vfy_component_kind_name(kind), tn,
                         tv[0] != '\0' ? " " : "", tv);
                snprintf(detail, sizeof(detail), "%s; the same digest as revoked: %s", dg,
                         reason);
                if ((rc = st_audit(st, "component.revoke", obj, detail)) != VFY_OK)
                    break;
                *rows += 1;
            }
        }
        rc = st_revoke_dependents(st, VFY_STORE_REF_COMPONENT, twin, reason, &k);
        *n += k;
    }
    if (rc == VFY_OK && src != SQLITE_DONE)
        rc = st_db(st, src, "component");
    sqlite3_finalize(s);
    sqlite3_finalize(upd);
    return rc;
}

/* At most this many revoked rows are named in a component.revoke detail. */
#define REVOKED_LISTED 16

/* The rows of the named component one revocation took, for its audit row:
 * "VERSION sha256:HEX" (or the digest alone), the first REVOKED_LISTED. */
struct revoked_list {
    char text[REVOKED_LISTED * (VFY_STORE_VERSION_MAX + VFY_SHA256_STR_LEN + 4)];
    size_t len, listed, more;
};

static void revoked_list_add(struct revoked_list *l, const char *version, const char *dg)
{
    int w;

    if (l == NULL)
        return;
    if (l->listed == REVOKED_LISTED) {
        l->more++;
        return;
    }
    w = snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s%s%s%s",
                 l->listed > 0 ? ", " : "", version, version[0] != '\0' ? " " : "", dg);
    if (w > 0 && (size_t)w < sizeof(l->text) - l->len)
        l->len += (size_t)w;
    l->listed++;
}

static vfy_rc revoke_rows(vfy_store *st, vfy_component_kind kind, const char *name,
                          const char *version, const uint8_t *digest, size_t *revoked,
                          size_t *results, struct revoked_list *list);

/*
 * Revoke approved rows of @kind/@name, narrowed by @version (NULL: any) and
 * @digest (NULL: any), and the results that relied on them or on another
 * row of @kind with the same digest (revoke_same_digest).
 */
vfy_rc st_component_revoke_rows(vfy_store *st, vfy_component_kind kind, const char *name,
                                const char *version, const uint8_t *digest,
                                size_t *revoked, size_t *results)
{
    return revoke_rows(st, kind, name, version, digest, revoked, results, NULL);
}

/* The same, naming the rows of @name it revoked in @list (optional). */
static vfy_rc revoke_rows(vfy_store *st, vfy_component_kind kind, const char *name,
                          const char *version, const uint8_t *digest, size_t *revoked,
                          size_t *results, struct revoked_list *list)
{
    char dstr[VFY_SHA256_STR_LEN + 1] = "";
    char reason[VFY_STORE_REASON_MAX + 1];
    sqlite3_stmt *sel = NULL, *upd = NULL;
    size_t nrev = 0, nres = 0, found = 0;
    vfy_rc rc;
    int src;

    *revoked = 0;
    *results = 0;
    if ((rc = check(st, kind, name, version, NULL, 0)) != VFY_OK)
        return rc;
    if (digest != NULL && (rc = vfy_sha256_format(dstr, sizeof(dstr), digest)) != VFY_OK)
        return rc;
    src = sqlite3_prepare_v2(st->db,
                             "SELECT id, version, digest, state FROM components"
                             " WHERE kind = ?1 AND name = ?2"
                             " AND (?3 IS NULL OR version = ?3) AND (?4 IS NULL OR digest = ?4)"
                             " ORDER BY id", -1, &sel, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_prepare_v2(st->db,
                                 "UPDATE components SET state = 'revoked', updated_at = ?2"
                                 " WHERE id = ?1 AND state = 'approved'", -1, &upd, NULL);
    if (src != SQLITE_OK) {
        rc = st_db(st, src, "prepare");
        goto out;
    }
    sqlite3_bind_text(sel, 1, vfy_component_kind_name(kind), -1, SQLITE_STATIC);
    sqlite3_bind_text(sel, 2, name, -1, SQLITE_STATIC);
    if (version != NULL)
        sqlite3_bind_text(sel, 3, version, -1, SQLITE_STATIC);
    if (digest != NULL)
        sqlite3_bind_text(sel, 4, dstr, -1, SQLITE_STATIC);
    /* Updating rows while stepping a SELECT over the same table is fine in
     * SQLite as long as the updated column is not the one being scanned on.
     * The SELECT may read a sorted snapshot (ORDER BY): a row revoked
     * meanwhile as another's twin reads "approved" there, so the UPDATE
     * only takes approved rows and what it changed is what counts. */
    while ((src = sqlite3_step(sel)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(sel, 0);
        const char *ver = (const char *)sqlite3_column_text(sel, 1);
        const char *dg = (const char *)sqlite3_column_text(sel, 2);
        size_t n = 0;

        found++;
        if (strcmp((const char *)sqlite3_column_text(sel, 3), "revoked") == 0)
            continue;
        snprintf(reason, sizeof(reason), "%s %s%s%s %s was revoked",
                 vfy_component_kind_name(kind), name, ver[0] != '\0' ? " " : "", ver, dg);
        sqlite3_bind_int64(upd, 1, id);
        sqlite3_bind_int64(upd, 2, st_now(st));
        if ((rc = st_exec_stmt(st, upd, "revoke component")) != VFY_OK)
            goto out;
        if (sqlite3_changes(st->db) == 0)
            continue;   /* revoked a moment ago as a twin: counted there */
        nrev++;
        revoked_list_add(list, ver, dg);
        if ((rc = st_revoke_dependents(st, VFY_STORE_REF_COMPONENT, id, reason, &n)) != VFY_OK ||
            (rc = revoke_same_digest(st, kind, dg, id, reason, &nrev, &n)) != VFY_OK)
            goto out;
        nres += n;
    }
    if (src != SQLITE_DONE) {
        rc = st_db(st, src, "component");
        goto out;
    }
    if (found == 0) {
        rc = st_err(st, VFY_E_NOT_FOUND, "no %s named %s%s%s", vfy_component_kind_name(kind),
                    name, digest != NULL ? " with digest " : "", dstr);
        goto out;
    }
    *revoked = nrev;
    *results = nres;
out:
    sqlite3_finalize(sel);
    sqlite3_finalize(upd);
    return rc;
}

vfy_rc vfy_store_component_revoke(vfy_store *st, vfy_component_kind kind, const char *name,
                                  const uint8_t *digest, size_t *revoked, size_t *results)
{
    struct revoked_list list;
    char obj[VFY_STORE_NAME_MAX + 32], detail[sizeof(list.text) + 128];
    size_t nrev = 0, nres = 0;
    vfy_rc rc;

    if (revoked != NULL)
        *revoked = 0;
    if (results != NULL)
        *results = 0;
    if (st == NULL || name == NULL)
        return VFY_E_INVALID_ARG;
    if ((rc = st_writable(st)) != VFY_OK || (rc = st_tx_begin(st)) != VFY_OK)
        return rc;
    memset(&list, 0, sizeof(list));
    rc = revoke_rows(st, kind, name, NULL, digest, &nrev, &nres, &list);
    if (rc == VFY_OK && nrev > 0) {
        char dstr[VFY_SHA256_STR_LEN + 1];
        char more[48] = "";

        snprintf(obj, sizeof(obj), "%s %s", vfy_component_kind_name(kind), name);
        if (digest != NULL) {
            (void)vfy_sha256_format(dstr, sizeof(dstr), digest);
            snprintf(detail, sizeof(detail), "%s; %zu rows, %zu results revoked", dstr, nrev,
                     nres);
        } else {
            /* which values: "all digests" alone did not say what was revoked */
            if (list.more > 0)
                snprintf(more, sizeof(more), ", and %zu more", list.more);
            snprintf(detail, sizeof(detail), "all digests (%s%s); %zu rows, %zu results revoked",
                     list.text, more, nrev, nres);
        }
        rc = st_audit(st, "component.revoke", obj, detail);
    }
    rc = st_tx_end(st, rc);
    if (rc == VFY_OK) {
        if (revoked != NULL)
            *revoked = nrev;
        if (results != NULL)
            *results = nres;
    }
    return rc;
}

vfy_rc vfy_store_component_lookup(vfy_store *st, vfy_component_kind kind,
                                  const uint8_t digest[32], vfy_store_component *out)
{
    char dstr[VFY_SHA256_STR_LEN + 1];
    sqlite3_stmt *s;
    vfy_rc rc;
    int src;

    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (st == NULL || digest == NULL || out == NULL || vfy_component_kind_name(kind) == NULL)
        return VFY_E_INVALID_ARG;
    if ((rc = vfy_sha256_format(dstr, sizeof(dstr), digest)) != VFY_OK)
        return rc;
    /* A revoked row wins, then the oldest approved one. */
    rc = st_stmt(st, SL_COMP_LOOKUP,
                 "SELECT id, state, name, version FROM components WHERE kind = ?1 AND digest = ?2"
                 " ORDER BY state = 'revoked' DESC, id LIMIT 1", &s);
    if (rc != VFY_OK)
        return rc;
    sqlite3_bind_text(s, 1, vfy_component_kind_name(kind), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, dstr, -1, SQLITE_STATIC);
    src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        out->id = sqlite3_column_int64(s, 0);
        out->kind = kind;
        out->state = strcmp((const char *)sqlite3_column_text(s, 1), "revoked") == 0
                         ? VFY_REF_REVOKED : VFY_REF_APPROVED;
        rc = st_col_text(s, 2, out->name, sizeof(out->name));
        if (rc == VFY_OK)
            rc = st_col_text(s, 3, out->version, sizeof(out->version));
    } else if (src == SQLITE_DONE) {
        rc = VFY_E_NOT_FOUND;
    } else {
        rc = st_db(st, src, "component lookup");
    }
    sqlite3_reset(s);
    if (rc != VFY_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}
