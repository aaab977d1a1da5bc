#!/usr/bin/env bash
# agent_guide.sh — docs/agent-guide.md §1, followed literally: its two shell
# blocks run as written (in a scratch directory standing for the top of the
# source tree, "make build" already done: build/ and examples/ are links to
# the build and the sources) with its fixed ports 2321/2322/9443/8443
# replaced by free ones. It must end with the relying party's operation
# ALLOWED (status affirming) and every process it started stopped.
# The guide used to fail when followed: swtpm's relative --tpmstate dir with
# --daemon ("TPM failure 0x101"), verifyctl not on the PATH, no "verifyctl
# init" before "attester add" on a new database, no manifest to start from.
set -u
: "${VFY_BUILD_DIR:?}" "${VFY_SOURCE_DIR:?}"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/demo.sh
. "$SRC/tests/lib/demo.sh"
demo_require_built
demo_tmp agent_guide

# An even port whose successor is free too, below the kernel's ephemeral
# range (ip_local_port_range, 32768 and up by default): there a port that
# no one listens on (so the check below finds it free) may be the source
# port of a parallel test's connection, and the guide's bind then fails
# ("Address already in use" on every try in one CI run).
free_port() {
    local p lo=32768
    read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=32768
    [ "$lo" -gt 12000 ] || lo=32768
    for _ in $(seq 50); do
        p=$(( 10000 + (RANDOM * 32768 + RANDOM) % ((lo - 10002) / 2) * 2 ))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
        (exec 3<>"/dev/tcp/127.0.0.1/$((p + 1))") 2>/dev/null && continue
        echo "$p"; return
    done
}
doc="$VFY_SOURCE_DIR/docs/agent-guide.md"
awk '/^## /{s = ($0 ~ /^## 1\. Build and run/)} s' "$doc" >"$TMP/section.md"
awk '/^```sh/{c = 1; n++; next} c && /^```/{c = 0; if (n == 2) exit; next} c' \
    "$TMP/section.md" >"$TMP/guide.txt"
if [ "$(grep -c '^```sh' "$TMP/section.md")" -ge 2 ]; then pass "§1 has its two shell blocks"
else fail "§1 has $(grep -c '^```sh' "$TMP/section.md") shell block(s), want 2"; fi

# up to three tries: a port found free may be taken by a parallel test
# before the guide's command binds it
for try in 1 2 3; do
    TPMP=$(free_port) AGP=$(free_port) VDP=$(free_port)
    sed -e 's/^make build\b/: make build/' -e "s/\\b2321\\b/$TPMP/g" \
        -e "s/\\b2322\\b/$((TPMP + 1))/g" -e "s/\\b9443\\b/$AGP/g" -e "s/\\b8443\\b/$VDP/g" \
        "$TMP/guide.txt" >"$TMP/guide.sh"
    rm -rf "$TMP/top"
    mkdir -p "$TMP/top"
    ln -s "$VFY_BUILD_DIR" "$TMP/top/build"
    ln -s "$VFY_SOURCE_DIR/examples" "$TMP/top/examples"
    # whatever happens, the processes the guide starts are stopped (by PID)
    { echo 'trap "exit 1" TERM'
      echo 'trap '\''kill $AGENT_PID $VD_PID $(cat "$PWD/swtpm.pid" 2>/dev/null) 2>/dev/null'\'' EXIT'
      cat "$TMP/guide.sh"; } >"$TMP/run.sh"
    (cd "$TMP/top" && env -u TPM2TOOLS_TCTI -u TCTI -u TSS2_TCTI timeout -k 5 60 bash "$TMP/run.sh") \
        >"$TMP/out" 2>&1
    rc=$?
    grep -qiE 'address already in use|bind.*failed|could not bind' "$TMP/out" || break
    echo "# try $try: a port was taken meanwhile; again on other ports"
    sleep 0.5
done
if [ "$rc" = 0 ]; then pass "the guide's commands ran to the end"; else fail "exit status $rc"; fi
in_order "the agent measured the sample manifest, the relying party was allowed" "$TMP/out" \
    '^[0-9:.]+ agent start: manifest travel-agent-01 version 1 \(sha256:[0-9a-f]{64}\) measured into PCR 23; agent log has 1 entry$' \
    "^[0-9:.]+ agent listening on TLS 1.3 port $AGP " \
    '^[0-9:.]+ rp +<- verifierd: result [A-Za-z0-9_-]+, status affirming$' \
    '^[0-9:.]+ rp +op 1 "transfer 100 EUR": ALLOWED \(status affirming\)'
if grep -qE 'command not found|No such file|0x101|^usage:|[Ee]rror' "$TMP/out"; then
    fail "a step failed: $(grep -m1 -E 'command not found|No such file|0x101|^usage:|[Ee]rror' "$TMP/out")"
else pass "no step failed"; fi
# nothing the guide started is left on its ports (what is, is stopped by
# its PID; a process of another test that took the port since is not)
sleep 0.5
left=""
for p in "$TPMP" "$AGP" "$VDP"; do
    pid=$(ss -Hltnp "sport = :$p" 2>/dev/null | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n 1)
    [ -n "$pid" ] || continue
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qE "(swtpm|vfy-agent|verifierd) .*[:=]$p\b" ||
        continue
    left="$left port $p (pid $pid)"
    kill "$pid" 2>/dev/null
done
if [ -z "$left" ]; then pass "the guide's last line stopped what it started"
else fail "left running:$left"; fi

if [ "$FAIL" -ne 0 ]; then echo "---- guide.sh ----"; cat "$TMP/guide.sh"; echo "---- output ----"; cat "$TMP/out"; fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
