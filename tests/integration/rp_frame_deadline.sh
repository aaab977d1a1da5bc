#!/bin/bash
# rp_frame_deadline.sh — an agent that sends a byte now and then must not
# hold the relying party (docs/rp-guide.md §4). --answer-timeout-ms used to
# bound each read only, so an agent that sent one byte per 0.3 s kept
# vfy-rp inside one TLS handshake or one frame for as long as it liked (a
# 4 KiB notice: 20 minutes; vfy-rp is single-threaded, so every operation
# waited). Now the handshake, and a frame once started, must be whole
# within the answer timeout.
#   1. handshake: a TCP peer that answers the ClientHello with a record
#      header and then one byte at a time: the first connection, made at
#      start, fails at the timeout and vfy-rp exits.
#   2. frame: a real TLS 1.3 peer that, right after the handshake, sends a
#      posture-changed frame one byte per TLS record: the connection is
#      dropped ("a frame did not arrive whole within N ms") and the
#      operation is refused.
# Both runs must end (exit 1) within 20 s; without the deadlines they ran
# into the 40 s guard.
set -uo pipefail
# shellcheck source=../lib/verifierd.sh
. "${VFY_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/verifierd.sh"
RP="$VFY_BUILD_DIR/examples/vfy-rp"
[ -x "$RP" ] || die "vfy-rp not built at $RP"
command -v python3 >/dev/null || die "python3 not installed"

vd_start_dev rpdl || die "cannot start verifierd --dev"
vd_make_cert "$VD_TMP/agent-cert.pem" "$VD_TMP/agent-key.pem" "127.0.0.1" ||
    die "cannot make the fake agent's certificate"

# trickle.py MODE PORTFILE CERT KEY: accept connections on a free port
# (written to PORTFILE) and, on each, trickle one byte per 0.3 s for 60 s.
cat >"$VD_TMP/trickle.py" <<'PY'
import socket, ssl, sys, threading, time
mode, portfile, cert, key = sys.argv[1:5]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_cert_chain(cert, key)
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(8)
with open(portfile + ".tmp", "w") as f:
    f.write(str(ls.getsockname()[1]))
import os
os.rename(portfile + ".tmp", portfile)

def trickle(conn):
    try:
        if mode == "handshake":
            conn.recv(4096)                      # the ClientHello
            data = b"\x16\x03\x03\x40\x00" + b"\x00" * 16384
            send = conn.send
        else:
            conn = ctx.wrap_socket(conn, server_side=True)
            # a posture-changed notice of 4096 bytes: header, then payload
            data = b"\x03\x00\x00\x10\x00" + b"{" * 4096
            send = conn.write                    # one TLS record per call
        end = time.time() + 60
        for b in data:
            if time.time() > end:
                break
            send(bytes([b]))
            time.sleep(0.3)
    except Exception:
        pass

while True:
    c, _ = ls.accept()
    threading.Thread(target=trickle, args=(c,), daemon=True).start()
PY

for mode in handshake frame; do
    pf="$VD_TMP/$mode.port"
    python3 "$VD_TMP/trickle.py" "$mode" "$pf" "$VD_TMP/agent-cert.pem" "$VD_TMP/agent-key.pem" \
        >"$VD_TMP/$mode.py.log" 2>&1 &
    pid=$!
    VD_PIDS+=("$pid")
    for _ in $(seq 100); do [ -s "$pf" ] && break; sleep 0.1; done
    [ -s "$pf" ] || die "$mode: the fake agent did not start: $(cat "$VD_TMP/$mode.py.log")"
    start=$(date +%s)
    timeout 40 "$RP" --agent "127.0.0.1:$(cat "$pf")" --agent-ca "$VD_TMP/agent-cert.pem" \
        --verifier "$VD_URL" --verifier-ca "$VD_CA" --token "$VD_ATTEST" --attester agent-1 \
        --answer-timeout-ms 1000 --op "transfer 100 EUR" >"$VD_TMP/$mode.out" 2>"$VD_TMP/$mode.err"
    rc=$? took=$(($(date +%s) - start))
    kill "$pid" 2>/dev/null
    expect_eq "$mode: vfy-rp exits 1 (not held until the guard's 124)" "$rc" 1
    check "$mode: it took ${took} s, well inside the 40 s guard" test "$took" -lt 20
    if [ "$mode" = handshake ]; then
        # (the first connection is made at start: no operation is run)
        expect_eq "$mode: the handshake failed at the deadline, at start" \
            "$(cat "$VD_TMP/$mode.err")" \
            'rp: TLS to the agent failed: the handshake did not finish within 1000 ms'
    else
        # the frame starts while the RP waits for the evidence: the wait's
        # 1000 ms plus 1000 ms for the frame
        expect_match "$mode: the connection was dropped at the frame's deadline" \
            "$(cat "$VD_TMP/$mode.out")" \
            'agent connection 1 dropped: a frame did not arrive whole within (1000|2000) ms'
        expect_match "$mode: the operation is refused" "$(cat "$VD_TMP/$mode.out")" \
            'op 1 "transfer 100 EUR": REFUSED \(status no verified EAR; agent connection 1 dropped: a frame did not arrive whole'
    fi
done
if [ "$T_FAIL" -ne 0 ]; then
    for mode in handshake frame; do
        echo "---- vfy-rp, $mode: stdout ----"; cat "$VD_TMP/$mode.out"
        echo "---- stderr ----"; cat "$VD_TMP/$mode.err"
    done
fi
vd_stop
vd_done
