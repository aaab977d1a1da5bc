#!/bin/bash
# verifierd_dbfault.sh — the database goes bad under a running verifierd.
#   1. Its header is overwritten (the file is no longer SQLite): /healthz,
#      an attest and an admin read are each answered 503 problem+json
#      (never 4xx, never an EAR), and the log says why. With the header put
#      back, the same requests succeed again without a restart (a SQLite
#      connection kept the bad page: 503 until a restart).
#   2. A table the appraisal writes is dropped: an attest is 503 and no EAR
#      is sent (an EAR is released only once its result is recorded), and
#      /healthz still answers; with the generation table dropped too,
#      /healthz is 503, and a token revoked meanwhile is refused (the
#      token cache is not trusted without a generation).
#   Neither is taken for a restore: no "store generation went back" line.
set -uo pipefail
# shellcheck disable=SC2119  # vd_stop without arguments stops the current server
# shellcheck source=../lib/verifierd.sh
. "${VFY_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/verifierd.sh"
command -v sqlite3 >/dev/null || die "sqlite3 not installed"

vd_fake_evidence "$VD_TMP/ev.json"
EV=$(cat "$VD_TMP/ev.json")
CB=$(rand_b64url 32)
vd_start_dev dbf || die "cannot start verifierd --dev"
A=$VD_ATTEST ADM=$VD_ADMIN

# all_four: the status of healthz, a challenge, an attest and an admin read
all_four() {
    local out=""
    vd_call GET /healthz -; out="$HTTP_CODE"
    vd_nonce "$A"; out="$out $HTTP_CODE"
    vd_post_json /v1/attest "$A" "$(attest_body "$(rand_b64url 32)" "$CB" nobody "$EV")"
    out="$out $HTTP_CODE"
    vd_call GET /v1/admin/attesters "$ADM"; out="$out $HTTP_CODE"
    echo "$out"
}
expect_eq "healthy: healthz, challenge, attest (a contraindicated EAR), admin" "$(all_four)" "200 201 200 200"

# ---- 1. the header overwritten ----
head -c 16 "$VD_DB" >"$VD_TMP/header"
printf 'not SQLite any.\0' | dd of="$VD_DB" bs=16 count=1 conv=notrunc 2>/dev/null
# Connections that hold the good first page keep it until the log changes:
# the first attest may still be appraised and committed (200), or not (503).
vd_post_json /v1/attest "$A" "$(attest_body "$(rand_b64url 32)" "$CB" nobody "$EV")"
case $HTTP_CODE in
200) check "not a database: the first attest, from cached pages, has its EAR" test -n "$(jget /ear)" ;;
*) expect_problem "not a database: the first attest" 503 ;;
esac
vd_call GET /healthz -
expect_problem "... then healthz" 503
expect_eq "... saying so" "$(jget /detail)" "database unavailable"
vd_post_json /v1/attest "$A" "$(attest_body "$(rand_b64url 32)" "$CB" nobody "$EV")"
expect_problem "... an attest" 503
expect_nomatch "... with no EAR in it" "$(body)" '"ear"'
vd_call GET /v1/admin/attesters "$ADM"
expect_problem "... an admin read" 503
# (which line depends on the worker thread that met it first: the token
# lookup's, the admin read's, the appraisal's or a reopen's)
expect_match "... and the log says why" "$(cat "$VD_LOG")" \
    '"level":"error","msg":"(admin|appraisal|token lookup|open [^"]*): database missing, unreadable or not initialised'
dd if="$VD_TMP/header" of="$VD_DB" bs=16 count=1 conv=notrunc 2>/dev/null
# (each connection used to keep the bad page, so verifierd answered 503
# until a restart, or until another program wrote to the database)
expect_eq "header back: healthz, challenge, attest and admin succeed again, without a restart" \
    "$(all_four) $(all_four)" "200 201 200 200 200 201 200 200"
# A database that cannot be read is no restore: the generation reads fail,
# none goes back (the restore interlock, docs/operator-guide.md §10).
expect_nomatch "... and no 'store generation went back' was logged" "$(cat "$VD_LOG")" \
    'store generation went back'
expect_eq "... the high-water file holds the database's generation" \
    "$(head -n1 "$VD_DB.high-water")" "$(sqlite3 "$VD_DB" 'SELECT gen FROM generation')"

# ---- 2. tables dropped ----
sqlite3 "$VD_DB" 'PRAGMA foreign_keys=OFF; DROP TABLE results;' 2>"$VD_TMP/sql.err" ||
    die "dropping results: $(cat "$VD_TMP/sql.err")"
vd_nonce "$A"
check "results dropped: a challenge is still issued" test "$HTTP_CODE" = 201
vd_post_json /v1/attest "$A" "$(attest_body "$NONCE" "$CB" nobody "$EV")"
expect_problem "... an attest whose result cannot be recorded" 503
expect_nomatch "... sends no EAR" "$(body)" '"ear"'
vd_call GET /healthz -
expect_status "... healthz still answers (the database opens)" 200
sqlite3 "$VD_DB" 'DROP TABLE generation;' 2>"$VD_TMP/sql.err" || die "dropping generation: $(cat "$VD_TMP/sql.err")"
vd_call GET /healthz -
expect_problem "generation dropped: healthz" 503
# The token cache is good while the generation says nothing changed: with no
# generation to read, a token revoked behind verifierd's back (no bump) is
# refused once the last good read is over a second old, on each of six
# requests (the workers that had the attest token cached served it for as
# long as the reads failed: at least one of six requests got a nonce).
sqlite3 "$VD_DB" "UPDATE tokens SET revoked = 1 WHERE role = 'attest';" 2>"$VD_TMP/sql.err" ||
    die "revoking: $(cat "$VD_TMP/sql.err")"
sleep 1.5
codes=""
for _ in 1 2 3 4 5 6; do vd_nonce "$A"; codes="$codes $HTTP_CODE"; done
expect_eq "... a token revoked meanwhile is refused, six times out of six" "$codes" " 401 401 401 401 401 401"
expect_problem "... as unknown or revoked" 401 "unknown or revoked token"
vd_stop
vd_done
