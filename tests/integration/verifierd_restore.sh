#!/bin/bash
# verifierd_restore.sh — the restore interlock (docs/operator-guide.md §10).
# A database restored from a backup undoes every revocation made after the
# backup; verifierd keeps the highest store generation it served in
# DB.high-water and:
#   1. creates it at the first start (mode 0600, the database's generation,
#      digits and a newline) and records every later admin change;
#   2. refuses to start (exit 1, one error line) on a database restored from
#      an older backup (§10 steps 2-3: the database, -wal and -shm moved
#      aside, the copy put in place); --accept-restored-db starts on it with
#      a warning and records its generation, so the next start is plain
#      (a start that fails later, with the flag, records nothing);
#      the config key accept_restored_db is a boolean, and the flag with
#      nothing to accept says so;
#   3. logs one error line when the database is restored under it (sqlite3
#      .restore), counts it in verifierd_store_generation_regressions_total,
#      keeps serving, and records the lower generation (a restart is not
#      refused for it);
#   4. warns about a high-water file it cannot read or parse (treated as
#      absent, written again) and one it cannot write (not fatal; written at
#      a later change once possible);
#   5. two verifierd on one database share the file without a false
#      regression.
set -uo pipefail
# shellcheck disable=SC2119  # vd_stop without arguments stops the current server
# shellcheck source=../lib/verifierd.sh
. "${VFY_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/verifierd.sh"
command -v sqlite3 >/dev/null || die "sqlite3 not installed"
command -v jq >/dev/null || die "jq not installed"

P="$VD_TMP/prod"
vd_make_prod "$P" || die "production set-up with verifyctl and openssl"
DB="$P/db" HW="$P/db.high-water"
ARGS=(--db "$DB" --tls-cert "$P/cert.pem" --tls-key "$P/key.pem" --signing-key "$P/sign.pem")
gen() { sqlite3 "${1:-$DB}" 'SELECT gen FROM generation'; }
# msgs LEVEL FILE: the msg of every LEVEL line of a JSON log, one a line
# (but the warning that the test certificate expires in 2 days)
msgs() {
    grep -F "\"level\":\"$1\"" "$2" | jq -r .msg | grep -v '^--tls-cert .* expires in ' || true
}
# since FILE OFFSET: what a log got after OFFSET bytes
since() { tail -c +"$(($2 + 1))" "$1"; }
logsize() { stat -c %s "$1" 2>/dev/null || echo 0; }
# wait_hw WANT: up to 3 s for the high-water file to hold WANT
wait_hw() {
    for _ in $(seq 1 30); do
        [ "$(cat "$HW" 2>/dev/null)" = "$1" ] && return 0
        sleep 0.1
    done
    return 1
}
n=0
change() {   # one admin change with verifyctl (a component added, then revoked)
    n=$((n + 1))
    "$VCTL" --db "$DB" component add model "m-$n" --digest "sha256:$(printf '%064x' "$n")" >/dev/null &&
        "$VCTL" --db "$DB" component revoke model "m-$n" >/dev/null
}

# ---- 1. the first start creates the file ----
check "no high-water file before the first start" test ! -e "$HW"
vd_start a "${ARGS[@]}" || die "verifierd did not start"
expect_eq "first start: $HW created, mode 0600" "$(stat -c %a "$HW" 2>&1)" 600
expect_eq "... holding the database's generation" "$(cat "$HW")" "$(gen)"
expect_eq "... as decimal digits and a newline" "$(od -An -c "$HW" | tr -d ' \n')" "$(gen)\\n"
sqlite3 "$DB" ".backup '$VD_TMP/backup.db'" || die "sqlite3 .backup"
BGEN=$(gen "$VD_TMP/backup.db")
change || die "verifyctl component add/revoke"
NGEN=$(gen)
check "an admin change moved the generation ($BGEN -> $NGEN)" test "$NGEN" -gt "$BGEN"
check "the running verifierd records it within 3 s" wait_hw "$NGEN"
vd_stop
expect_eq "verifierd exits 0 on SIGTERM" "$VD_STOP_RC" 0
expect_eq "no error or warning logged" "$(msgs error "$VD_LOG")$(msgs warn "$VD_LOG")" ""

# ---- 2. a start on the restored database ----
mkdir -p "$P/damaged"
for f in "$DB" "$DB-wal" "$DB-shm"; do [ -e "$f" ] && mv "$f" "$P/damaged/"; done
cp "$VD_TMP/backup.db" "$DB" || die "putting the backup in place"
rc=0
out=$(timeout 20 "$VD_BIN" --listen 127.0.0.1:0 "${ARGS[@]}" 2>&1 </dev/null) || rc=$?
expect_eq "restored database: verifierd refuses to start, exit 1" "$rc" 1
printf '%s\n' "$out" >"$VD_TMP/refused.log"
expect_eq "... with this one error line" "$(msgs error "$VD_TMP/refused.log")" \
    "--db $DB: the database is older than the one this verifierd last served (store generation $BGEN, $HW records $NGEN): restored from a backup or replaced? Revocations made after the backup are undone; re-apply them (operator guide §10 step 4), then start once with --accept-restored-db (or remove $HW)"
expect_nomatch "... and before it listens" "$out" 'listening on'
expect_eq "... the file is left as it was" "$(cat "$HW")" "$NGEN"

rc=0
out=$(timeout 20 "$VD_BIN" "${ARGS[@]}" --accept-restored-db --listen 192.0.2.1:0 2>&1 </dev/null) ||
    rc=$?
expect_eq "--accept-restored-db, and the start fails later (an address not on this host): exit 1" \
    "$rc" 1
expect_match "... on the address" "$out" '192\.0\.2\.1'
expect_eq "... the file is left as it was: the next start may accept" "$(cat "$HW")" "$NGEN"
vd_start b "${ARGS[@]}" --accept-restored-db || die "verifierd --accept-restored-db did not start"
pass "--accept-restored-db: verifierd starts on the restored database"
expect_eq "... with this warning" "$(msgs warn "$VD_LOG")" \
    "--db $DB: starting on a database older than the one this verifierd last served (store generation $BGEN, $HW records $NGEN), as --accept-restored-db says: revocations made after its backup stay undone unless re-applied (operator guide §10 step 4); remove --accept-restored-db now"
expect_eq "... and the file rewritten with the database's generation" "$(cat "$HW")" "$(gen)"
expect_eq "... which is the backup's" "$(gen)" "$BGEN"
expect_eq "... mode 0600" "$(stat -c %a "$HW")" 600
vd_stop
vd_start c "${ARGS[@]}" || die "the next start, without the flag, was refused"
pass "the next start, without the flag, is not refused"
expect_eq "... and logs no warning" "$(msgs warn "$VD_LOG")" ""
vd_stop
printf '{"accept_restored_db":true}\n' >"$VD_TMP/accept.json"
vd_start d --config "$VD_TMP/accept.json" "${ARGS[@]}" || die "config accept_restored_db true: no start"
expect_eq "config accept_restored_db true with nothing to accept: says so" "$(msgs warn "$VD_LOG")" \
    "--accept-restored-db: the database is not older than $HW records, nothing to accept; remove the flag, or a later restore will start without a word"
vd_stop
printf '{"accept_restored_db":"yes"}\n' >"$VD_TMP/accept-bad.json"
rc=0
out=$("$VD_BIN" --config "$VD_TMP/accept-bad.json" "${ARGS[@]}" 2>&1 </dev/null) || rc=$?
expect_eq "config accept_restored_db \"yes\": exit 2" "$rc" 2
expect_eq "... saying it is a boolean" "$out" \
    "verifierd: --config $VD_TMP/accept-bad.json: \"accept_restored_db\" must be true or false"

# ---- 3. restored under a running verifierd ----
vd_start e "${ARGS[@]}" || die "verifierd did not start"
sqlite3 "$DB" ".backup '$VD_TMP/backup2.db'" || die "sqlite3 .backup"
B2=$(gen "$VD_TMP/backup2.db")
change || die "verifyctl component add/revoke"
N2=$(gen)
check "the change is recorded" wait_hw "$N2"
sqlite3 "$DB" ".restore '$VD_TMP/backup2.db'" || die "sqlite3 .restore"
want="store generation went back from $N2 to $B2: the database was restored or replaced under verifierd; revocations made after its backup are undone until re-applied (operator guide §10 step 4)"
for _ in $(seq 1 30); do msgs error "$VD_LOG" | grep -qF "$want" && break; sleep 0.1; done
sleep 0.5   # a few more housekeeping rounds: still one line
expect_eq ".restore under verifierd: one error line" "$(msgs error "$VD_LOG")" "$want"
vd_call GET /metrics -
expect_match "... counted in verifierd_store_generation_regressions_total" "$(body)" \
    '^verifierd_store_generation_regressions_total 1$'
vd_call GET /healthz -
expect_status "... verifierd keeps serving" 200
check "... the lower generation recorded (the operator was told)" wait_hw "$B2"
change || die "verifyctl component add/revoke"
check "... later changes are recorded again" wait_hw "$(gen)"
vd_stop
expect_eq "verifierd exits 0" "$VD_STOP_RC" 0
vd_start f "${ARGS[@]}" || die "the start after a restore under verifierd was refused"
pass "a restart after it is not refused"
vd_stop

# ---- 4. a file that cannot be read, or written ----
printf 'garbage\n' >"$HW"
vd_start g "${ARGS[@]}" || die "a garbage high-water file stopped the start"
pass "a garbage high-water file: verifierd starts"
expect_eq "... with a warning" "$(msgs warn "$VD_LOG")" \
    "high-water file $HW: not a store generation (want decimal digits and a newline); ignored (this start cannot tell whether the database was restored from a backup) and written again"
expect_eq "... and writes it again" "$(cat "$HW")" "$(gen)"
vd_stop
rm -f "$HW" && mkdir "$HW"   # neither read nor replaced by a rename
vd_start h "${ARGS[@]}" || die "a high-water path that cannot be written stopped the start"
pass "a high-water path that cannot be read or written: verifierd starts"
expect_eq "... saying both" "$(msgs warn "$VD_LOG")" \
    "high-water file $HW: cannot read it: Is a directory; ignored (this start cannot tell whether the database was restored from a backup) and written again
writing the high-water file $HW: Is a directory (the restore check at the next start compares with an older value; retried)"
change || die "verifyctl component add/revoke"
sleep 0.5
vd_call GET /healthz -
expect_status "... serves after a change it could not record" 200
expect_eq "... which warns no more" "$(msgs warn "$VD_LOG" | wc -l)" 2
rmdir "$HW"
change || die "verifyctl component add/revoke"
check "... and records the next change once it can" wait_hw "$(gen)"
expect_eq "... saying so" "$(msgs info "$VD_LOG" | grep -c '^high-water file .* written again')" 1
vd_stop
expect_eq "... mode 0600" "$(stat -c %a "$HW")" 600

# ---- 5. two verifierd on one database ----
vd_start r1 "${ARGS[@]}" || die "replica 1"
R1=$VD_PID R1LOG=$VD_LOG
vd_start r2 "${ARGS[@]}" || die "replica 2"
R2=$VD_PID R2LOG=$VD_LOG
for _ in 1 2 3 4 5 6; do change || die "verifyctl component add/revoke"; sleep 0.07; done
check "two replicas: the file ends at the database's generation" wait_hw "$(gen)"
vd_stop "$R1"
vd_stop "$R2"
expect_eq "... no error or warning from either" \
    "$(msgs error "$R1LOG")$(msgs warn "$R1LOG")$(msgs error "$R2LOG")$(msgs warn "$R2LOG")" ""
vd_start r3 "${ARGS[@]}" || die "the start after the replicas was refused"
pass "... and the next start is not refused"
vd_stop
check "no temporary file left beside the database" \
    test -z "$(find "$P" -maxdepth 1 -name 'db.high-water.*' -print)"

vd_done
