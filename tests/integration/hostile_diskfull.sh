#!/usr/bin/env bash
# hostile_diskfull.sh — reference-value import when the disk is full
# (issue 7). The database lives on a size-limited tmpfs (needs root and
# mount; otherwise that part is skipped) whose free space is filled up to
# 96 KiB; a second case uses `ulimit -f` (file-size limit, any user).
#
# Passes when a big import fails with a clear one-line error and a non-zero
# exit (verifyctl), or a problem+json that is not a 2xx (admin API), the
# database is unchanged (same export, same audit log, integrity ok),
# verifierd stays up and keeps answering reads, and the same import succeeds
# once space is back (so it was the disk, not the bundle).
set -u
. "$VFY_SOURCE_DIR/tests/lib/verifierd.sh"

# bundle_big OUT N: a bundle of N new approved components (~200 B each).
bundle_big() {
    jq -n --argjson n "$2" '{format:"verifierd-refvalues", version:1, policies:[], attesters:[],
        pcrs:[], components:[range($n) | {kind:"tool", name:("full-\(.)"), version:"1",
        state:"approved", note:"disk full test",
        digest:("sha256:" + ("0" * 56) + ((10000000 + .) | tostring))}]}' >"$1"
}
db_state() {   # what must not change: the export and the audit log
    "$VCTL" --db "$1" export 2>/dev/null | md5sum | cut -c1-32
    sqlite3 "$1" 'SELECT count(*), coalesce(max(seq),0) FROM audit' 2>/dev/null
}
bundle_big "$VD_TMP/big.json" 4000   # < 1 MiB, the admin body limit
check "big bundle made ($(wc -c <"$VD_TMP/big.json") bytes)" test -s "$VD_TMP/big.json"

# ---- 1. tmpfs with size= ----
MNT="$VD_TMP/full"
mkdir -p "$MNT"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=12m,mode=0700 tmpfs "$MNT" 2>/dev/null; then
    umount_full() { umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null; }
    vd_on_exit umount_full
    D="$MNT/state"
    vd_make_prod "$D" || die "vd_make_prod on the tmpfs"
    "$VCTL" --db "$VD_DB" component add model base --digest "sha256:$(printf '%064d' 1)" >/dev/null
    # verifierd on the small file system: nonce key and WAL files exist first
    vd_start prod --db "$VD_DB" --tls-cert "$D/cert.pem" --tls-key "$D/key.pem" \
        --signing-key "$D/sign.pem" --rate 0 || die "verifierd did not start"
    before=$(db_state "$VD_DB")
    # fill the file system, then give back 96 KiB
    dd if=/dev/zero of="$MNT/filler" bs=64k 2>/dev/null
    truncate -s "-96K" "$MNT/filler" 2>/dev/null || truncate -s $(( $(stat -c %s "$MNT/filler") - 98304 )) "$MNT/filler"
    echo "# free on the tmpfs: $(df -k --output=avail "$MNT" | tail -n 1) kB"

    "$VCTL" --db "$VD_DB" import "$VD_TMP/big.json" >"$VD_TMP/imp.out" 2>"$VD_TMP/imp.err"
    rc=$?
    echo "# verifyctl import on a full disk: rc $rc, stderr: $(head -c 300 "$VD_TMP/imp.err")"
    check "verifyctl import on a full disk exits non-zero" test "$rc" -ne 0
    expect_eq "its error is one line" "$(wc -l <"$VD_TMP/imp.err")" 1
    expect_match "its error says the disk is full" "$(cat "$VD_TMP/imp.err")" \
        '[Dd]isk is full|[Nn]o space|ENOSPC|database or disk is full'
    expect_eq "the DB is unchanged after the failed import" "$(db_state "$VD_DB")" "$before"
    expect_eq "integrity_check after the failed import" "$(sqlite3 "$VD_DB" 'PRAGMA integrity_check')" ok

    vd_call POST /v1/admin/refvalues "$VD_ADMIN" -H 'Content-Type: application/json' \
        --data-binary "@$VD_TMP/big.json"
    echo "# admin import on a full disk: $HTTP_CODE $(head -c 200 "$VD_BODY")"
    check "admin API import on a full disk is refused (status $HTTP_CODE, not 2xx, not a dropped connection)" \
        test "$HTTP_CODE" -ge 400
    expect_eq "admin import on a full disk answers problem+json" "$HTTP_CTYPE" application/problem+json
    expect_eq "the DB is unchanged after the failed admin import" "$(db_state "$VD_DB")" "$before"
    check "verifierd still running on the full disk" kill -0 "$VD_PID"
    vd_call GET /v1/admin/components "$VD_ADMIN"
    expect_status "reads still served on the full disk" 200
    vd_call GET /healthz -
    expect_status "healthz on the full disk" 200

    rm -f "$MNT/filler"
    "$VCTL" --db "$VD_DB" import "$VD_TMP/big.json" >/dev/null 2>"$VD_TMP/imp2.err"
    expect_eq "the same import succeeds once space is back" "$?:$(head -c 200 "$VD_TMP/imp2.err")" "0:"
    n=$("$VCTL" --db "$VD_DB" list components --json | "$JSONGET" -l '')
    expect_eq "all 4001 components there after the retry" "$n" 4001
    vd_stop
    expect_eq "verifierd exits 0 after the disk-full episode" "$VD_STOP_RC" 0
    umount_full
else
    echo "# SKIP tmpfs case: cannot mount a tmpfs here (not root or no CAP_SYS_ADMIN)"
fi

# ---- 2. ulimit -f (file-size limit; SIGXFSZ ignored so write() fails with EFBIG) ----
D2="$VD_TMP/ulimit"
mkdir -p "$D2"
"$VCTL" --db "$D2/db" init >/dev/null || die "init"
"$VCTL" --db "$D2/db" policy load "$VFY_SOURCE_DIR/policies/default.json" >/dev/null || die "policy load"
before=$(db_state "$D2/db")
dbk=$(( $(stat -c %s "$D2/db") / 1024 ))
# The limit is in 1 KiB blocks: the DB may stay as it is, the WAL can grow to
# 64 KiB, far less than a 4000-component import needs.
( trap '' XFSZ; ulimit -f $(( dbk > 64 ? dbk + 8 : 64 ));
  exec "$VCTL" --db "$D2/db" import "$VD_TMP/big.json" ) >/dev/null 2>"$VD_TMP/ul.err"
rc=$?
echo "# verifyctl import with ulimit -f: rc $rc, stderr: $(head -c 300 "$VD_TMP/ul.err")"
check "verifyctl import over ulimit -f exits non-zero (not killed by a signal: rc $rc)" \
    test "$rc" -ne 0 -a "$rc" -lt 128
expect_eq "its error is one line" "$(wc -l <"$VD_TMP/ul.err")" 1
expect_match "its error names the cause (I/O, full, too large)" "$(cat "$VD_TMP/ul.err")" \
    '[Dd]isk|[Ff]ull|I/O|[Tt]oo large|EFBIG'
expect_eq "the DB is unchanged after the failed import (ulimit)" "$(db_state "$D2/db")" "$before"
expect_eq "integrity_check after the failed import (ulimit)" "$(sqlite3 "$D2/db" 'PRAGMA integrity_check')" ok
"$VCTL" --db "$D2/db" import "$VD_TMP/big.json" >/dev/null 2>&1
expect_eq "the same import succeeds without the limit" "$?" 0
vd_done
