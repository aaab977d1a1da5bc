#!/bin/bash
# verifierd_notify.sh — systemd's readiness protocol (sd_notify; the unit is
# Type=notify). With $NOTIFY_SOCKET set, verifierd sends READY=1 once it
# serves, RELOADING=1 then READY=1 with a STATUS= saying whether the reload
# took, and STOPPING=1 on SIGTERM; a start that fails sends no READY=1 (so
# systemctl reports it). A listener on a datagram socket stands in for
# systemd, at a path and in the abstract namespace.
set -uo pipefail
# shellcheck source=../lib/verifierd.sh
. "${VFY_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/verifierd.sh"

# listen SOCKET OUT: record each datagram in OUT, followed by a "--" line
listen() {
    /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1].replace("@", "\0", 1) if sys.argv[1].startswith("@") else sys.argv[1])
with open(sys.argv[2], "ab", 0) as f:
    f.write(b"bound\n--\n")
    while True:
        f.write(s.recv(4096) + b"\n--\n")
' "$1" "$2" &
    VD_PIDS+=("$!")
    for _ in $(seq 50); do grep -q bound "$2" 2>/dev/null && return 0; sleep 0.1; done
    die "the notify listener did not start"
}
wait_for() {   # wait_for FILE ERE: up to 5 s
    for _ in $(seq 50); do grep -qE "$2" "$1" && return 0; sleep 0.1; done
    return 1
}

P="$VD_TMP/prod"
vd_make_prod "$P" || die "production set-up with verifyctl and openssl"
SOCK="$VD_TMP/notify.sock"
: >"$VD_TMP/notify.out"
listen "$SOCK" "$VD_TMP/notify.out"
NOTIFY_SOCKET=$SOCK vd_start a --db "$P/db" --tls-cert "$P/cert.pem" --tls-key "$P/key.pem" \
    --signing-key "$P/sign.pem" || die "verifierd did not start"
check "READY=1 once it serves" wait_for "$VD_TMP/notify.out" '^READY=1$'
expect_match "... with a status" "$(cat "$VD_TMP/notify.out")" 'STATUS=serving'
kill -HUP "$VD_PID"
check "SIGHUP: RELOADING=1, then READY=1 saying the reload took" \
    wait_for "$VD_TMP/notify.out" '^STATUS=serving; last reload complete$'
expect_eq "... RELOADING=1 came first" \
    "$(grep -E '^(RELOADING=1|STATUS=serving; last reload complete)$' "$VD_TMP/notify.out" | head -2 | tr '\n' ' ')" \
    "RELOADING=1 STATUS=serving; last reload complete "
cp "$P/cert.pem" "$VD_TMP/cert-good.pem"
printf 'not a certificate\n' >"$P/cert.pem"
kill -HUP "$VD_PID"
check "a SIGHUP that keeps the old certificate says so in STATUS" \
    wait_for "$VD_TMP/notify.out" 'last reload INCOMPLETE'
cp "$VD_TMP/cert-good.pem" "$P/cert.pem"
vd_stop
expect_eq "verifierd exits 0 on SIGTERM" "$VD_STOP_RC" 0
check "STOPPING=1 on SIGTERM" grep -q '^STOPPING=1$' "$VD_TMP/notify.out"

# a start that fails: no READY=1 (abstract socket this time)
ASOCK="@vfy-notify-test-$$"
: >"$VD_TMP/notify2.out"
listen "$ASOCK" "$VD_TMP/notify2.out"
printf 'not a key\n' >"$P/junk.pem"
rc=0
NOTIFY_SOCKET=$ASOCK timeout 10 "$VD_BIN" --db "$P/db" --listen 127.0.0.1:0 --tls-cert "$P/cert.pem" \
    --tls-key "$P/key.pem" --signing-key "$P/junk.pem" >/dev/null 2>&1 || rc=$?
check "a start with a bad signing key fails (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
sleep 0.3
expect_nomatch "... and never says READY=1" "$(cat "$VD_TMP/notify2.out")" 'READY=1'
# the same socket, a good start: READY=1 arrives there
NOTIFY_SOCKET=$ASOCK vd_start b --db "$P/db" --tls-cert "$P/cert.pem" --tls-key "$P/key.pem" \
    --signing-key "$P/sign.pem" || die "verifierd (abstract notify socket) did not start"
check "READY=1 through an abstract-namespace socket" wait_for "$VD_TMP/notify2.out" '^READY=1$'
vd_stop
vd_done
