#!/bin/bash
# verifierd_restore.sh — the restore interlock (docs/operator-guide.md §10).
# A database restored from a backup undoes every revocation made after the
# backup; verifierd keeps in DB.high-water the store generation it served
# last and the audit-log row that was the last one then, and:
#   1. creates the file at the first start (mode 0600: the generation, then
#      "audit SEQ AT SHA256" of the database's last audit row) and records
#      every later admin change;
#   2. refuses to start (exit 3, one error line) on a database restored
#      from an older backup (§10 steps 2-3: the database, -wal and -shm
#      moved aside, the copy put in place), an exit status the systemd unit
#      does not restart on; --accept-restored-db starts on it with a
#      warning and records it, so the next start is plain (a start that
#      fails later, with the flag, records nothing); the config key
#      accept_restored_db is a boolean, and the flag with nothing to
#      accept says so;
#   3. also refuses a restored copy changed before the start (§10 step 4's
#      revocations re-applied: its generation is then past the recorded
#      one), because it lacks the recorded audit row, and another, older
#      database with more audit rows; --accept-restored-db starts on it;
#   4. reads a file of the first format (the generation alone) as before and
#      writes it again with the row; refuses a database whose last row is the
#      recorded one at another generation (the row made again);
#   5. logs one error line when the database is restored under it (sqlite3
#      .restore: the generation goes back, or the row seen last is gone),
#      counts it in verifierd_store_generation_regressions_total, keeps
#      serving, and records the restored state (a restart is not refused);
#   6. warns about a high-water file it cannot read or parse (treated as
#      absent, written again; --accept-restored-db then says it cannot know
#      whether there was anything to accept) and one it cannot write (not
#      fatal; written at a later change once possible);
#   7. removes at start the temporary files a killed write left
#      (DB.high-water.XXXXXX, not modified for a minute), and nothing else;
#   8. two verifierd on one database share the file without a false
#      refusal, and neither lowers a file that holds more than it read;
#   9. a verifierd left running on the database moved aside in a restore
#      writes nothing to the file (its rows are not in the restored
#      database), so the next start is not refused.
set -uo pipefail
# shellcheck disable=SC2119  # vd_stop without arguments stops the current server
# shellcheck source=../lib/verifierd.sh
. "${VFY_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/verifierd.sh"
command -v sqlite3 >/dev/null || die "sqlite3 not installed"
command -v jq >/dev/null || die "jq not installed"
command -v xxd >/dev/null || die "xxd not installed"

P="$VD_TMP/prod"
vd_make_prod "$P" || die "production set-up with verifyctl and openssl"
DB="$P/db" HW="$P/db.high-water"
ARGS=(--db "$DB" --tls-cert "$P/cert.pem" --tls-key "$P/key.pem" --signing-key "$P/sign.pem")
UNIT="$VFY_SOURCE_DIR/packaging/verifierd.service"
gen() { sqlite3 "${1:-$DB}" 'SELECT gen FROM generation'; }
# row [DB]: "SEQ AT SHA256" of the database's last audit row, as the file
# records it (SHA-256 of actor, action, object and detail, each and a 0 byte)
row() {
    local r
    r=$(sqlite3 -separator ' ' "${1:-$DB}" "SELECT seq, at, hex(actor) || '00' || hex(action) ||
        '00' || hex(object) || '00' || hex(detail) || '00' FROM audit_log ORDER BY seq DESC LIMIT 1")
    set -- $r   # SEQ AT HEX: no spaces in any
    printf '%s %s %s' "$1" "$2" "$(printf '%s' "$3" | xxd -r -p | sha256sum | cut -d' ' -f1)"
}
# mark [DB]: what the high-water file holds for DB (without its last newline)
mark() { printf '%s\naudit %s' "$(gen "${1:-$DB}")" "$(row "${1:-$DB}")"; }
utc() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
# msgs LEVEL FILE: the msg of every LEVEL line of a JSON log, one a line
# (but the warning that the test certificate expires in 2 days)
msgs() {
    grep -F "\"level\":\"$1\"" "$2" | jq -r .msg | grep -v '^--tls-cert .* expires in ' || true
}
# wait_hw WANT: up to 3 s for the high-water file to hold WANT
wait_hw() {
    for _ in $(seq 1 30); do
        [ "$(cat "$HW" 2>/dev/null)" = "$1" ] && return 0
        sleep 0.1
    done
    return 1
}
n=0
# change [DB]: one admin change with verifyctl (a component added, then revoked)
change() {
    n=$((n + 1))
    "$VCTL" --db "${1:-$DB}" component add model "m-$n" --digest "sha256:$(printf '%064x' "$n")" \
        >/dev/null && "$VCTL" --db "${1:-$DB}" component revoke model "m-$n" >/dev/null
}
# restore COPY: §10 steps 2 and 3: the database, -wal and -shm moved into a
# new directory (its path in DAMAGED), the copy put in place
d=0
restore() {
    d=$((d + 1))
    DAMAGED="$P/damaged-$d"
    install -d -m 0700 "$DAMAGED" || return 1
    for f in "$DB" "$DB-wal" "$DB-shm"; do
        if [ -e "$f" ]; then mv "$f" "$DAMAGED/" || return 1; fi
    done
    cp "$1" "$DB"
}
# refused NAME ARGS...: a start that must be refused; RC and OUT (its log in
# $VD_TMP/NAME.log)
refused() {
    local name=$1; shift
    RC=0
    OUT=$(timeout 20 "$VD_BIN" --listen 127.0.0.1:0 "${ARGS[@]}" "$@" 2>&1 </dev/null) || RC=$?
    printf '%s\n' "$OUT" >"$VD_TMP/$name.log"
}
# an older database with more audit rows than this one will have (§3)
"$VCTL" --db "$VD_TMP/other.db" init >/dev/null || die "verifyctl init"
for i in $(seq 1 40); do
    "$VCTL" --db "$VD_TMP/other.db" component add tool "t-$i" --digest "sha256:$(printf '%064x' "$i")" \
        >/dev/null || die "verifyctl component add"
done

# ---- 1. the first start creates the file ----
check "no high-water file before the first start" test ! -e "$HW"
vd_start a "${ARGS[@]}" || die "verifierd did not start"
expect_eq "first start: $HW created, mode 0600" "$(stat -c %a "$HW" 2>&1)" 600
expect_eq "... holding the database's generation and its last audit row" "$(cat "$HW")" "$(mark)"
expect_match "... as two lines: digits, then 'audit SEQ AT SHA256'" "$(od -An -c "$HW" | tr -d ' \n')" \
    '^[0-9]+\\naudit[0-9]+[0-9]+[0-9a-f]{64}\\n$'
sqlite3 "$DB" ".backup '$VD_TMP/backup.db'" || die "sqlite3 .backup"
BGEN=$(gen "$VD_TMP/backup.db")
change || die "verifyctl component add/revoke"
NGEN=$(gen)
check "an admin change moved the generation ($BGEN -> $NGEN)" test "$NGEN" -gt "$BGEN"
check "the running verifierd records it within 3 s" wait_hw "$(mark)"
vd_stop
expect_eq "verifierd exits 0 on SIGTERM" "$VD_STOP_RC" 0
expect_eq "no error or warning logged" "$(msgs error "$VD_LOG")$(msgs warn "$VD_LOG")" ""

# ---- 2. a start on the restored database ----
HELD=$(cat "$HW")
restore "$VD_TMP/backup.db" || die "restoring the backup"
refused refused
expect_eq "restored database: verifierd refuses to start, exit 3" "$RC" 3
expect_eq "... with this one error line" "$(msgs error "$VD_TMP/refused.log")" \
    "--db $DB: the database is older than the one this verifierd last served (store generation $BGEN, $HW records $NGEN): restored from a backup or replaced? Revocations made after the backup are undone; re-apply them (operator guide §10 step 4), then start once with --accept-restored-db (or remove $HW)"
expect_nomatch "... and before it listens" "$OUT" 'listening on'
expect_eq "... the file is left as it was" "$(cat "$HW")" "$HELD"
expect_match "... an exit status the systemd unit does not restart on" \
    "$(grep '^RestartPreventExitStatus=' "$UNIT")" "[= ]$RC( |\$)"

rc=0
out=$(timeout 20 "$VD_BIN" "${ARGS[@]}" --accept-restored-db --listen 192.0.2.1:0 2>&1 </dev/null) ||
    rc=$?
expect_eq "--accept-restored-db, and the start fails later (an address not on this host): exit 1" \
    "$rc" 1
expect_match "... on the address" "$out" '192\.0\.2\.1'
expect_eq "... the file is left as it was: the next start may accept" "$(cat "$HW")" "$HELD"
vd_start b "${ARGS[@]}" --accept-restored-db || die "verifierd --accept-restored-db did not start"
pass "--accept-restored-db: verifierd starts on the restored database"
expect_eq "... with this warning" "$(msgs warn "$VD_LOG")" \
    "--db $DB: starting on a database older than the one this verifierd last served (store generation $BGEN, $HW records $NGEN), as --accept-restored-db says: revocations made after its backup stay undone unless re-applied (operator guide §10 step 4); remove --accept-restored-db now"
expect_eq "... and the file rewritten with the database's generation and last row" \
    "$(cat "$HW")" "$(mark)"
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
    "--accept-restored-db: the database is not older than $HW records and holds its audit row, nothing to accept; remove the flag, or a later restore will start without a word"
vd_stop
printf '{"accept_restored_db":"yes"}\n' >"$VD_TMP/accept-bad.json"
rc=0
out=$("$VD_BIN" --config "$VD_TMP/accept-bad.json" "${ARGS[@]}" 2>&1 </dev/null) || rc=$?
expect_eq "config accept_restored_db \"yes\": exit 2" "$rc" 2
expect_eq "... saying it is a boolean" "$out" \
    "verifierd: --config $VD_TMP/accept-bad.json: \"accept_restored_db\" must be true or false"

# ---- 3. a restored copy changed before the start ----
# 3a. One revocation after the backup, re-applied on the restored copy (§10
# step 4): the copy's generation is past the recorded one (the clock), and
# its audit log has a row under the lost row's seq again.
"$VCTL" --db "$DB" component add model keep --digest "sha256:$(printf '%064x' 1000)" >/dev/null ||
    die "verifyctl component add"
vd_start e "${ARGS[@]}" || die "verifierd did not start"
sqlite3 "$DB" ".backup '$VD_TMP/backup3.db'" || die "sqlite3 .backup"
"$VCTL" --db "$DB" component revoke model keep >/dev/null || die "verifyctl component revoke"
check "the revocation after the backup is recorded" wait_hw "$(mark)"
vd_stop
read -r S AT _ <<<"$(row)"
HELD=$(cat "$HW")
HGEN=$(gen)
restore "$VD_TMP/backup3.db" || die "restoring the backup"
"$VCTL" --db "$DB" component revoke model keep >/dev/null || die "re-applying the revocation"
check "re-applied on the restored copy: its generation is past the recorded one" \
    test "$(gen)" -gt "$HGEN"
read -r S2 AT2 _ <<<"$(row)"
expect_eq "... and its last audit row has the lost row's seq" "$S2" "$S"
refused refused3a
expect_eq "a restored copy with a re-applied revocation: refused all the same, exit 3" "$RC" 3
# the row made again in another second, or (the test is quick) in the same
expect_match "... with this error line" "$(msgs error "$VD_TMP/refused3a.log")" \
    "^--db $DB: the database lacks the last change this verifierd served \\($HW records audit row $S of $(utc "$AT"); the database's row $S is another, (of $(utc "$AT2")|at store generation $(gen), not $HGEN)\\): restored from a backup or replaced\\? Revocations made after the backup are undone; re-apply them \\(operator guide §10 step 4\\), then start once with --accept-restored-db \\(or remove $HW\\)\$"
expect_eq "... one line" "$(msgs error "$VD_TMP/refused3a.log" | wc -l)" 1
expect_eq "... the file is left as it was" "$(cat "$HW")" "$HELD"

# 3b. Two changes after the backup (a component added, then revoked), the
# first made again: the lost row's seq is past the copy's log.
restore "$VD_TMP/backup3.db" || die "restoring the backup"
"$VCTL" --db "$DB" component revoke model keep >/dev/null || die "re-applying the revocation"
sqlite3 "$DB" ".backup '$VD_TMP/backup3b.db'" || die "sqlite3 .backup"
vd_start f "${ARGS[@]}" --accept-restored-db || die "verifierd --accept-restored-db did not start"
change || die "verifyctl component add/revoke"
check "two changes after the backup recorded" wait_hw "$(mark)"
vd_stop
read -r S AT _ <<<"$(row)"
HELD=$(cat "$HW")
restore "$VD_TMP/backup3b.db" || die "restoring the backup"
"$VCTL" --db "$DB" component add model "m-$n" --digest "sha256:$(printf '%064x' "$n")" >/dev/null ||
    die "verifyctl component add"
check "... one made again on the restored copy: its generation is past the recorded one" \
    test "$(gen)" -gt "$(head -n1 "$HW")"
refused refused3b
expect_eq "... refused, exit 3" "$RC" 3
expect_eq "... saying where its log ends" "$(msgs error "$VD_TMP/refused3b.log")" \
    "--db $DB: the database lacks the last change this verifierd served ($HW records audit row $S of $(utc "$AT"); the database's log ends at row $((S - 1))): restored from a backup or replaced? Revocations made after the backup are undone; re-apply them (operator guide §10 step 4), then start once with --accept-restored-db (or remove $HW)"
expect_eq "... the file is left as it was" "$(cat "$HW")" "$HELD"

# 3c. Another database, older, with more audit rows.
sqlite3 "$DB" ".backup '$VD_TMP/restored3.db'" || die "sqlite3 .backup"
rm -f "$DB" "$DB-wal" "$DB-shm"
cp "$VD_TMP/other.db" "$DB"
refused refused3c
expect_eq "another, older database with more audit rows: refused, exit 3" "$RC" 3
expect_eq "... as older" "$(msgs error "$VD_TMP/refused3c.log")" \
    "--db $DB: the database is older than the one this verifierd last served (store generation $(gen), $HW records $(head -n1 "$HW")): restored from a backup or replaced? Revocations made after the backup are undone; re-apply them (operator guide §10 step 4), then start once with --accept-restored-db (or remove $HW)"
rm -f "$DB" "$DB-wal" "$DB-shm"
cp "$VD_TMP/restored3.db" "$DB"

vd_start g "${ARGS[@]}" --accept-restored-db || die "verifierd --accept-restored-db did not start"
pass "--accept-restored-db starts on the changed restored copy"
expect_eq "... with this warning" "$(msgs warn "$VD_LOG")" \
    "--db $DB: starting on a database that lacks the last change this verifierd served ($HW records audit row $S of $(utc "$AT"); the database's log ends at row $((S - 1))), as --accept-restored-db says: revocations made after its backup stay undone unless re-applied (operator guide §10 step 4); remove --accept-restored-db now"
expect_eq "... and records the copy" "$(cat "$HW")" "$(mark)"
vd_stop
vd_start h "${ARGS[@]}" || die "the next start, without the flag, was refused"
pass "... the next start, without the flag, is not refused"
expect_eq "... and logs no warning" "$(msgs warn "$VD_LOG")" ""
vd_stop

# ---- 4. a file of the first format; the last row at another generation ----
printf '%s\n' "$(gen)" >"$HW"
vd_start i "${ARGS[@]}" || die "a one-line high-water file stopped the start"
pass "a file of the first format (the generation alone): verifierd starts"
expect_eq "... without a warning" "$(msgs warn "$VD_LOG")$(msgs error "$VD_LOG")" ""
check "... and writes it again with the audit row" wait_hw "$(mark)"
vd_stop
printf '%s\n' "$(($(gen) + 1))" >"$HW"
refused refused4
expect_eq "a first-format file above the database's generation: refused, exit 3" "$RC" 3
expect_eq "... as older" "$(msgs error "$VD_TMP/refused4.log")" \
    "--db $DB: the database is older than the one this verifierd last served (store generation $(gen), $HW records $(($(gen) + 1))): restored from a backup or replaced? Revocations made after the backup are undone; re-apply them (operator guide §10 step 4), then start once with --accept-restored-db (or remove $HW)"
read -r S AT _ <<<"$(row)"
printf '%s\naudit %s\n' "$(($(gen) - 1))" "$(row)" >"$HW"
refused refused4b
expect_eq "the file names the database's last row, at a lower generation (the row made again): refused, exit 3" \
    "$RC" 3
expect_eq "... saying so" "$(msgs error "$VD_TMP/refused4b.log")" \
    "--db $DB: the database lacks the last change this verifierd served ($HW records audit row $S of $(utc "$AT"); the database's row $S is another, at store generation $(gen), not $(($(gen) - 1))): restored from a backup or replaced? Revocations made after the backup are undone; re-apply them (operator guide §10 step 4), then start once with --accept-restored-db (or remove $HW)"
printf '%s\n' "$(mark)" >"$HW"

# ---- 5. restored under a running verifierd ----
vd_start j "${ARGS[@]}" || die "verifierd did not start"
sqlite3 "$DB" ".backup '$VD_TMP/backup5.db'" || die "sqlite3 .backup"
B5=$(gen "$VD_TMP/backup5.db")
change || die "verifyctl component add/revoke"
N5=$(gen)
check "the change is recorded" wait_hw "$(mark)"
sqlite3 "$DB" ".restore '$VD_TMP/backup5.db'" || die "sqlite3 .restore"
want="store generation went back from $N5 to $B5: the database was restored or replaced under verifierd; revocations made after its backup are undone until re-applied (operator guide §10 step 4)"
for _ in $(seq 1 30); do msgs error "$VD_LOG" | grep -qF "$want" && break; sleep 0.1; done
sleep 0.5   # a few more housekeeping rounds: still one line
expect_eq ".restore under verifierd: one error line" "$(msgs error "$VD_LOG")" "$want"
vd_call GET /metrics -
expect_match "... counted in verifierd_store_generation_regressions_total" "$(body)" \
    '^verifierd_store_generation_regressions_total 1$'
vd_call GET /healthz -
expect_status "... verifierd keeps serving" 200
check "... the restored state recorded (the operator was told)" wait_hw "$(mark)"
change || die "verifyctl component add/revoke"
check "... later changes are recorded again" wait_hw "$(mark)"
# a copy restored under it whose generation is higher (changed after the
# copy was made) but which lacks the row seen last
read -r S AT _ <<<"$(row)"
cp "$VD_TMP/backup5.db" "$VD_TMP/copy5.db"
"$VCTL" --db "$VD_TMP/copy5.db" component add policy "p-5" --digest "sha256:$(printf '%064x' 555)" \
    >/dev/null || die "verifyctl component add on the copy"
"$VCTL" --db "$VD_TMP/copy5.db" component add policy "p-6" --digest "sha256:$(printf '%064x' 556)" \
    >/dev/null || die "verifyctl component add on the copy"
sqlite3 "$DB" ".restore '$VD_TMP/copy5.db'" || die "sqlite3 .restore"
check "... a later copy restored: its generation is higher" test "$(gen)" -gt "$(head -n1 "$HW")"
AT2=$(sqlite3 "$DB" "SELECT at FROM audit_log WHERE seq = $S")
want2="the database no longer holds audit row $S of $(utc "$AT"), the last one verifierd saw (the database's row $S is another, of $(utc "$AT2")): it was restored or replaced under verifierd; revocations made after its backup are undone until re-applied (operator guide §10 step 4)"
for _ in $(seq 1 30); do msgs error "$VD_LOG" | grep -qF "$want2" && break; sleep 0.1; done
expect_eq "... logged as such" "$(msgs error "$VD_LOG" | tail -n +2)" "$want2"
vd_call GET /metrics -
expect_match "... and counted" "$(body)" '^verifierd_store_generation_regressions_total 2$'
check "... and recorded" wait_hw "$(mark)"
vd_stop
expect_eq "verifierd exits 0" "$VD_STOP_RC" 0
vd_start k "${ARGS[@]}" || die "the start after a restore under verifierd was refused"
pass "a restart after it is not refused"
vd_stop

# ---- 6. a file that cannot be read, or written ----
printf 'garbage\n' >"$HW"
vd_start l "${ARGS[@]}" || die "a garbage high-water file stopped the start"
pass "a garbage high-water file: verifierd starts"
expect_eq "... with a warning" "$(msgs warn "$VD_LOG")" \
    "high-water file $HW: not a high-water file (want a store generation, then 'audit' and the last audit-log row); ignored (this start cannot tell whether the database was restored from a backup) and written again"
expect_eq "... and writes it again" "$(cat "$HW")" "$(mark)"
vd_stop
printf 'garbage\n' >"$HW"
vd_start l2 "${ARGS[@]}" --accept-restored-db || die "a garbage high-water file stopped the start"
expect_eq "... with --accept-restored-db: it cannot know whether there was anything to accept" \
    "$(msgs warn "$VD_LOG")" \
    "high-water file $HW: not a high-water file (want a store generation, then 'audit' and the last audit-log row); ignored (this start cannot tell whether the database was restored from a backup) and written again
--accept-restored-db: $HW cannot be read (above), so whether the database was restored is not known; remove the flag, or a later restore will start without a word"
vd_stop
rm -f "$HW"
vd_start l3 "${ARGS[@]}" --accept-restored-db || die "verifierd --accept-restored-db did not start"
expect_eq "no file, with --accept-restored-db: nothing to compare with" "$(msgs warn "$VD_LOG")" \
    "--accept-restored-db: there is no $HW (a first start, or it was removed), nothing to compare with; remove the flag, or a later restore will start without a word"
vd_stop
rm -f "$HW" && mkdir "$HW"   # neither read nor replaced by a rename
vd_start m "${ARGS[@]}" || die "a high-water path that cannot be written stopped the start"
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
check "... and records the next change once it can" wait_hw "$(mark)"
expect_eq "... saying so" "$(msgs info "$VD_LOG" | grep -c '^high-water file .* written again')" 1
vd_stop
expect_eq "... mode 0600" "$(stat -c %a "$HW")" 600

# ---- 7. temporary files left by a killed write ----
# (a SIGKILL between mkstemp and rename leaves DB.high-water.XXXXXX)
old=$(date -d '-2 minutes' '+%F %T')
for f in Ab3dE9 Ab3dE Ab3dE9x Ab-dE9; do printf '1\n' >"$HW.$f"; touch -d "$old" "$HW.$f"; done
printf '1\n' >"$HW.Zz9Yy8"                                         # a write in flight
mkdir "$HW.Dd4Ee5" && touch -d "$old" "$HW.Dd4Ee5"                 # not a file
printf '1\n' >"$P/other.high-water.Ab3dE9" && touch -d "$old" "$P/other.high-water.Ab3dE9"
mkdir -p "$P/sub" && printf '1\n' >"$P/sub/db.high-water.Ab3dE9" && touch -d "$old" "$P/sub/db.high-water.Ab3dE9"
vd_start n "${ARGS[@]}" || die "verifierd did not start"
check "a temporary file a killed write left (2 minutes old) is removed at start" test ! -e "$HW.Ab3dE9"
# (a start that lost its port to another test, retried, removed it: its log
# lines are in stderr.port-taken.log)
cat "$VD_DIR/stderr.port-taken.log" "$VD_LOG" >"$VD_TMP/n.log" 2>/dev/null
expect_eq "... saying so" "$(msgs info "$VD_TMP/n.log" | grep -F 'high-water write that never finished')" \
    "removed $P/db.high-water.Ab3dE9, left by a high-water write that never finished (verifierd killed while writing it)"
check "... not one modified within the minute (a replica's write in flight)" test -f "$HW.Zz9Yy8"
check "... nor names of other lengths or characters" \
    test -f "$HW.Ab3dE" -a -f "$HW.Ab3dE9x" -a -f "$HW.Ab-dE9"
check "... nor a directory, another file's, or one elsewhere" \
    test -d "$HW.Dd4Ee5" -a -f "$P/other.high-water.Ab3dE9" -a -f "$P/sub/db.high-water.Ab3dE9"
expect_eq "... and the file is written" "$(cat "$HW")" "$(mark)"
vd_stop
rm -rf "$HW.Zz9Yy8" "$HW.Ab3dE" "$HW.Ab3dE9x" "$HW.Ab-dE9" "$HW.Dd4Ee5" "$P/other.high-water.Ab3dE9" "$P/sub"

# ---- 8. two verifierd on one database ----
vd_start r1 "${ARGS[@]}" || die "replica 1"
R1=$VD_PID R1LOG=$VD_LOG
vd_start r2 "${ARGS[@]}" || die "replica 2"
R2=$VD_PID R2LOG=$VD_LOG
for _ in 1 2 3 4 5 6; do change || die "verifyctl component add/revoke"; sleep 0.07; done
check "two replicas: the file ends at the database's state" wait_hw "$(mark)"
# A file holding more than a replica read (another replica's later state)
# is not lowered by it: written by hand above the database's generation.
above=$(printf '%s\naudit %s' "$(($(gen) + 1000000000000))" "$(row)")
printf '%s\n' "$above" >"$HW"
change || die "verifyctl component add/revoke"
sleep 1   # ten housekeeping rounds: both saw the change
expect_eq "... a file above what they read is not lowered by either" "$(cat "$HW")" "$above"
printf '%s\n' "$(mark)" >"$HW"
change || die "verifyctl component add/revoke"
check "... and the next change is recorded" wait_hw "$(mark)"
vd_stop "$R1"
vd_stop "$R2"
expect_eq "... no error or warning from either" \
    "$(msgs error "$R1LOG")$(msgs warn "$R1LOG")$(msgs error "$R2LOG")$(msgs warn "$R2LOG")" ""
vd_start r3 "${ARGS[@]}" || die "the start after the replicas was refused"
pass "... and the next start is not refused"
vd_stop

# ---- 9. a replica left running during a restore ----
vd_start r4 "${ARGS[@]}" || die "verifierd did not start"
R4=$VD_PID R4LOG=$VD_LOG
sqlite3 "$DB" ".backup '$VD_TMP/backup9.db'" || die "sqlite3 .backup"
change || die "verifyctl component add/revoke"
check "a change is recorded" wait_hw "$(mark)"
restore "$VD_TMP/backup9.db" || die "restoring the backup"   # r4 still runs on the old file
vd_start r5 "${ARGS[@]}" --accept-restored-db || die "verifierd --accept-restored-db did not start"
R5=$VD_PID
check "restored with a replica still running on the moved-aside database: accepted and recorded" \
    wait_hw "$(mark)"
RESTORED=$(mark)
change "$DAMAGED/db" || die "verifyctl component add/revoke on the moved-aside database"
sleep 1   # ten housekeeping rounds of the old replica
expect_eq "... a change the old replica sees there is not written to the file" "$(cat "$HW")" \
    "$RESTORED"
expect_eq "... which says why, once" "$(msgs error "$R4LOG")" \
    "--db $DB is no longer the database this verifierd opened (moved aside or replaced under it; it goes on with the file it opened): $HW is not written from it any more; stop this verifierd (operator guide §10 step 1)"
vd_stop "$R4"
vd_stop "$R5"
vd_start r6 "${ARGS[@]}" || die "the start after the restore was refused (the old replica wrote the file)"
pass "... and the next start is not refused"
vd_stop
check "no temporary file left beside the database" \
    test -z "$(find "$P" -maxdepth 1 -name 'db.high-water.*' -print)"

vd_done
