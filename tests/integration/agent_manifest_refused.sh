#!/usr/bin/env bash
# agent_manifest_refused.sh — the example agent fails closed on a changed
# manifest file it cannot measure because it refuses the file: 257 tools
# (over the 256-entry limit), then not JSON, then over 64 KiB. It used to
# say "keeping the current one" and go on quoting the previous manifest,
# with no notice: the relying party's next operation was ALLOWED while the
# runtime may run what the new file says. Now each is the "unmeasured"
# state: a posture-changed notice, attestation requests answered with
# error 4, each reason said once; putting the measured manifest back
# attests again (allowed).
# Real parts: scripts/demo.sh's swtpm, verifierd --dev, vfy-agent, vfy-rp.
set -u
: "${VFY_BUILD_DIR:?VFY_BUILD_DIR must point at the build root}"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/demo.sh
. "$SRC/tests/lib/demo.sh"
demo_require_built
demo_tmp agent_manifest_refused

# the demo's manifest with 257 tools (an unapproved model besides)
python3 - >"$TMP/tools257.json" <<'PY'
import json
tools = [{"name": "t%d" % i, "version": "1", "digest": "sha256:" + "ab" * 32} for i in range(257)]
print(json.dumps({"agent_id": "travel-agent-01", "manifest_version": 2,
                  "models": [{"name": "evil", "digest": "sha256:" + "ef" * 32}],
                  "tools": tools, "policies": [], "context": {"digest": "sha256:" + "cd" * 32}},
                 separators=(",", ":")), end="")
PY
printf '{"agent_id":"travel-agent-01","manifest_version":3,' >"$TMP/broken.json"
head -c 70000 /dev/zero | tr '\0' ' ' >"$TMP/big.json"
SWAP='"$DEMO_VD_DIR/../swap-manifest"'
cat >"$TMP/story.txt" <<STORY
op transfer 1 EUR to ACME Travel
expect allowed affirming
run $SWAP $TMP/tools257.json && sleep 1
op transfer 2 EUR to ACME Travel
expect refused
run $SWAP $TMP/broken.json && sleep 1
run $SWAP $TMP/big.json && sleep 1
op transfer 3 EUR to ACME Travel
expect refused
run $SWAP "\$DEMO_VD_DIR/../manifest-v1.json" && sleep 1
op transfer 4 EUR to ACME Travel
expect allowed affirming
STORY
rc=$(demo_run "$TMP/out" DEMO_TTL=60 DEMO_STORY="$TMP/story.txt")
if [ "$rc" = 0 ]; then pass "demo.sh exits 0 (ops 2 and 3 refused, 1 and 4 allowed)"
else fail "exit status $rc"; fi
R='not measured; attestation requests get an error until a manifest that can be measured is in place$'
in_order "257 tools: a notice, error 4, refused" "$TMP/out" \
    '^[0-9:.]+ rp +op 1 .*: ALLOWED \(status affirming\)' \
    "^[0-9:.]+ agent (SIGHUP|file changed): manifest .* \\(sha256:[0-9a-f]{64}\\) rejected \\(.*\\): $R" \
    '^[0-9:.]+ agent conn 1: posture-changed notice pushed \(manifest version 1\)' \
    '^[0-9:.]+ rp +<- agent: posture-changed notice \(manifest version 1, ' \
    '^[0-9:.]+ rp +<- agent: error 4: the manifest in force is not measured \(manifest rejected \(' \
    '^[0-9:.]+ rp +op 2 .*: REFUSED'
in_order "not JSON, then over 64 KiB: each said, still error 4, refused" "$TMP/out" \
    '^[0-9:.]+ rp +op 2 .*: REFUSED' \
    "^[0-9:.]+ agent (SIGHUP|file changed): manifest .* \\(sha256:[0-9a-f]{64}\\) rejected \\(.*\\): $R" \
    "^[0-9:.]+ agent (SIGHUP|file changed): cannot read manifest .* \\(missing, unreadable or over 64 KiB\\): $R" \
    '^[0-9:.]+ rp +<- agent: error 4: the manifest in force is not measured \(cannot read the manifest file \(missing, unreadable or over 64 KiB\)\)$' \
    '^[0-9:.]+ rp +op 3 .*: REFUSED'
in_order "the measured manifest back: attested again, allowed" "$TMP/out" \
    '^[0-9:.]+ rp +op 3 .*: REFUSED' \
    '^[0-9:.]+ agent (SIGHUP|file changed): manifest back to the one measured last; attesting again$' \
    '^[0-9:.]+ rp +<- verifierd: result [A-Za-z0-9_-]+, status affirming$' \
    '^[0-9:.]+ rp +op 4 .*: ALLOWED \(status affirming\)'
for what in 'rejected' 'cannot read manifest'; do
    n=$(grep -cE "agent (SIGHUP|file changed): .*$what .*$R" "$TMP/out")
    case $what in rejected) want=2 ;; *) want=1 ;; esac
    if [ "$n" = "$want" ]; then pass "'$what' said $want time(s), not at every poll"
    else fail "'$what' said $n times, want $want"; fi
done
n=$(grep -cE '^[0-9:.]+ agent conn 1: posture-changed notice pushed' "$TMP/out")
if [ "$n" = 2 ]; then pass "two notices: refused, then back to the measured manifest"
else fail "$n notices pushed, want 2"; fi

if [ "$FAIL" -ne 0 ]; then
    echo "---- demo output ----"; cat "$TMP/out"
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
