#!/usr/bin/env bash
# agent_log_budget.sh — the example agent keeps its evidence under the
# verifier's 1 MiB limit however often its manifest changes: each agent-log
# entry may carry its manifest (DESIGN §4, optional), and the agent carries
# them for the newest entries only, within a budget (examples/agent,
# log_json). Fourteen swaps of a 58 KB manifest (256 tools with long names,
# none approved) would otherwise make ~1.1 MB of evidence and the agent
# could never be attested again this boot ("evidence exceeds 1 MiB").
# Real parts: scripts/demo.sh's swtpm, verifierd --dev, vfy-agent, vfy-rp.
set -u
: "${VFY_BUILD_DIR:?VFY_BUILD_DIR must point at the build root}"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/demo.sh
. "$SRC/tests/lib/demo.sh"
demo_require_built
demo_tmp agent_log_budget

# A manifest of 256 tools with 110-character names (~58 KB), version $1.
cat >"$TMP/gen.awk" <<'AWK'
BEGIN {
  pad = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
  printf "{\"agent_id\":\"travel-agent-01\",\"manifest_version\":%d,\"models\":[],\"tools\":[", v
  for (i = 0; i < 256; i++)
    printf "%s{\"name\":\"tool-%03d-%s\",\"version\":\"%d\",\"digest\":\"sha256:%064x\"}", (i ? "," : ""), i, pad, v, i + 1
  printf "],\"policies\":[],\"context\":{\"digest\":\"sha256:%064d\"}}", 0
}
AWK
{
    echo "op transfer 1 EUR to ACME Travel"
    echo "expect allowed affirming"
    for v in $(seq 10 23); do
        echo "run awk -v v=$v -f $TMP/gen.awk >$TMP/m.json && \"\$DEMO_VD_DIR/../swap-manifest\" $TMP/m.json && sleep 0.3"
    done
    echo "op transfer 2 EUR to ACME Travel"
    echo "expect refused warning"
} >"$TMP/story.txt"
rc=$(demo_run "$TMP/out" DEMO_TTL=2 DEMO_STORY="$TMP/story.txt")
if [ "$rc" = 0 ]; then pass "demo.sh exits 0 (the story ran as scripted)"; else fail "exit status $rc"; fi
in_order "after 14 large manifest changes the agent is still attested (an EAR, status warning)" "$TMP/out" \
    '^[0-9:.]+ rp +op 1 .*: ALLOWED \(status affirming\)' \
    '^[0-9:.]+ rp +<- verifierd: result [A-Za-z0-9_-]+, status warning$' \
    '^[0-9:.]+ rp +op 2 .*: REFUSED \(status warning\)'
if grep -q 'exceeds 1 MiB' "$TMP/out"; then fail "evidence over the limit: $(grep -m1 'exceeds 1 MiB' "$TMP/out")"
else pass "no evidence over the 1 MiB limit"; fi
if [ "$FAIL" -ne 0 ]; then echo "---- demo output ----"; cat "$TMP/out"; fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
