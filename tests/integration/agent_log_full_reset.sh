#!/usr/bin/env bash
# agent_log_full_reset.sh — a full agent log (4096 entries, the verifier's
# limit) and a manifest change: the agent cannot log it and is unmeasured
# (error 4 "agent log full ... restart the platform"). Then the TPM is
# reset, which drops the log anyway.
#   The agent checked the log's size before it looked at the PCR, and
#   recorded the file's stat as "nothing to retry before a platform reset";
#   unmeasured, it refused every attestation request before quoting, so the
#   quote never saw the reset either: it stayed unmeasured until it was
#   restarted. Now the size is checked after the reset is found, against
#   the log the manifest would start (empty after a reset), and a full log
#   is tried again at every poll: after the reset the manifest is measured
#   from zeros, the log starts over, and the next operation is allowed.
# The log is filled by fill.py below: a manifest version per SIGHUP, each
# waited for in the agent's output; 4095 extends take ~10 s on swtpm.
# Real parts: scripts/demo.sh's swtpm, verifierd --dev, vfy-agent, vfy-rp.
set -u
: "${VFY_BUILD_DIR:?VFY_BUILD_DIR must point at the build root}"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/demo.sh
. "$SRC/tests/lib/demo.sh"
demo_require_built
demo_tmp agent_log_full_reset

# fill.py OUT WORK FIRST LAST: the demo's manifest as versions FIRST..LAST,
# each renamed into place with a SIGHUP to the agent (its pid read from
# demo.sh's swap-manifest) and waited for in OUT ("... version V (...)
# measured into PCR 23"); LAST not waited for when WAIT_LAST=0.
cat >"$TMP/fill.py" <<'PY'
import os, re, signal, sys, time
out, work, first, last = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
wait_last = os.environ.get("WAIT_LAST", "1") == "1"
pid = int(re.search(r"kill -HUP (\d+)", open(work + "/swap-manifest").read()).group(1))
v1 = open(work + "/manifest-v1.json").read()
assert '"manifest_version":1,' in v1
path = work + "/agent-manifest.json"
f = open(out, "rb")
f.seek(0, 2)
pending = b""
for v in range(first, last + 1):
    with open(path + ".fill", "w") as m:
        m.write(v1.replace('"manifest_version":1,', '"manifest_version":%d,' % v))
    os.rename(path + ".fill", path)
    os.kill(pid, signal.SIGHUP)
    if v == last and not wait_last:
        break
    want = b" version %d (sha256:" % v
    deadline = time.monotonic() + 10
    while True:
        pending += f.read()
        lines = pending.split(b"\n")
        pending = lines[-1]
        if any(want in l and b"measured into PCR" in l for l in lines[:-1]):
            break
        if time.monotonic() > deadline:
            sys.exit("fill.py: version %d not measured within 10 s" % v)
        time.sleep(0.0005)
print("fill.py: versions %d..%d written" % (first, last))
PY
demo_reset_script "$TMP/reset.sh"   # a TPM reset, as agent_tpm_reset.sh does it
W='"$DEMO_VD_DIR/.."'
cat >"$TMP/story.txt" <<STORY
op transfer 1 EUR to ACME Travel
expect allowed affirming
run python3 $TMP/fill.py $TMP/out $W 2 4096 >$TMP/fill.out 2>&1
run WAIT_LAST=0 python3 $TMP/fill.py $TMP/out $W 4097 4097 >>$TMP/fill.out 2>&1 && sleep 1
op transfer 2 EUR to ACME Travel
expect refused
run sh $TMP/reset.sh >$TMP/reset.out 2>&1
sleep 1.2
op transfer 3 EUR to ACME Travel
expect allowed affirming
STORY
rc=$(demo_run "$TMP/out" DEMO_TTL=1 DEMO_STORY="$TMP/story.txt")
if [ "$rc" = 0 ]; then pass "demo.sh exits 0 (op 2 refused, 1 and 3 allowed)"
else fail "exit status $rc"; fi
in_order "4096 entries, a change: log full, refused; a TPM reset: measured from zeros, allowed" "$TMP/out" \
    '^[0-9:.]+ rp +op 1 .*: ALLOWED \(status affirming\)' \
    '^[0-9:.]+ agent (SIGHUP|file changed): manifest travel-agent-01 version 4096 \(sha256:[0-9a-f]{64}\) measured into PCR 23; agent log has 4096 entries$' \
    '^[0-9:.]+ agent (SIGHUP|file changed): manifest travel-agent-01 \(sha256:[0-9a-f]{64}\) not measured: agent log full \(4096 entries\); restart the platform to measure more; ' \
    '^[0-9:.]+ rp +<- agent: error 4: the manifest in force is not measured \(agent log full \(4096 entries\)' \
    '^[0-9:.]+ rp +op 2 .*: REFUSED' \
    '^[0-9:.]+ agent PCR 23 is back to zeros \(the TPM was reset\): the agent log starts again$' \
    '^[0-9:.]+ agent (SIGHUP|file changed): manifest travel-agent-01 version 4097 \(sha256:[0-9a-f]{64}\) measured into PCR 23; agent log has 1 entry$' \
    '^[0-9:.]+ rp +<- verifierd: result [A-Za-z0-9_-]+, status affirming$' \
    '^[0-9:.]+ rp +op 3 .*: ALLOWED \(status affirming\)'
n=$(grep -cE '^[0-9:.]+ agent .* not measured: agent log full' "$TMP/out")
if [ "$n" = 1 ]; then pass "'agent log full' said once, though tried again at every poll"
else fail "'agent log full' said $n times, want 1"; fi

if [ "$FAIL" -ne 0 ]; then
    echo "---- demo output (agent and rp lines, notices left out) ----"
    grep -vE 'posture-changed notice|measured into PCR 23; agent log has [0-9]+ entries$' "$TMP/out"
    for f in fill reset; do echo "---- $f ----"; cat "$TMP/$f.out" 2>/dev/null; done
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
