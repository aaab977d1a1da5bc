#!/usr/bin/env bash
# agent_platform_pcrs.sh — the example agent quotes the platform PCRs the
# verifier's policy appraises (--platform-pcrs; DESIGN §3: the policy's
# platform PCRs plus the agent PCR). It used to quote PCRs 0-7 whatever the
# policy said, so an attester under a policy with more could never be
# affirmed. Here the attester's policy (default@2) requires PCRs 0-9, with
# reference values for all of them:
#   --platform-pcrs 0-9: affirming, allowed;
#   without it (0-7): contraindicated, "the quote does not cover sha256 PCR
#     8 (and 9) required by policy default@2";
# and values the agent refuses at its start (an index over 23, a list it
# cannot read, the agent PCR among them).
# Real parts: scripts/demo.sh's swtpm, verifierd --dev, vfy-agent, vfy-rp.
set -u
: "${VFY_BUILD_DIR:?VFY_BUILD_DIR must point at the build root}"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/demo.sh
. "$SRC/tests/lib/demo.sh"
demo_require_built
demo_tmp agent_platform_pcrs
AGENT=$VFY_BUILD_DIR/examples/vfy-agent

# ---- refused at the start, before the TPM is opened ----
for v in 0-24 24 7-3 '' 1,,2 0-7, x; do
    out=$("$AGENT" --manifest /nonexistent --platform-pcrs "$v" 2>&1); rc=$?
    if [ "$rc" = 2 ] && printf '%s' "$out" | grep -q "^vfy-agent: bad value for --platform-pcrs: $v "; then
        pass "--platform-pcrs '$v' refused (exit 2)"
    else fail "--platform-pcrs '$v': exit $rc: $out"; fi
done
for a in "--pcr 9 --platform-pcrs 0-9" "--pcr 5"; do
    # shellcheck disable=SC2086  # a list of options
    out=$("$AGENT" --manifest /nonexistent $a 2>&1); rc=$?
    if [ "$rc" = 2 ] && printf '%s' "$out" | grep -q '^vfy-agent: the agent PCR [0-9]* must not be one of the platform PCRs (--platform-pcrs)$'; then
        pass "$a: overlap refused (exit 2)"
    else fail "$a: exit $rc: $out"; fi
done

# ---- a policy requiring PCRs 0-9 ----
cat >"$TMP/policy.json" <<'JSON'
{"id":"default","version":2,
 "platform":{"bank":"sha256","pcrs":[0,1,2,3,4,5,6,7,8,9]},
 "agent":{"pcr":23,"history":"approved","unknown_context":"warning"},
 "freshness":{"nonce_ttl_s":60},"result":{"ttl_s":300}}
JSON
# PCRs 8 and 9 extended (the agent already runs: the swtpm TCTI takes turns)
# and registered, the policy loaded; then one operation
cat >"$TMP/setup.sh" <<SH
for i in 8 9; do
    tpm2_pcrextend "\$i:sha256=\$(printf 'platform pcr %s' "\$i" | openssl dgst -sha256 -r | cut -c1-64)" || exit 1
done
tpm2_pcrread sha256:8,9 >$TMP/pcrs89.yaml || exit 1
V=$VFY_BUILD_DIR/tools/verifyctl/verifyctl; DB=\$DEMO_VD_DIR/verifierd.db
"\$V" --db "\$DB" pcr import default $TMP/pcrs89.yaml && "\$V" --db "\$DB" policy load $TMP/policy.json
SH
story() {   # story EXPECT
    printf 'run sh %s >%s/setup.out 2>&1\nop transfer 1 EUR to ACME Travel\nexpect %s\n' \
        "$TMP/setup.sh" "$TMP" "$1"
}
story "allowed affirming" >"$TMP/story.09"
rc=$(demo_run "$TMP/out.09" DEMO_TTL=60 DEMO_STORY="$TMP/story.09" \
    DEMO_AGENT_ARGS="--platform-pcrs 0-9")
if [ "$rc" = 0 ]; then pass "--platform-pcrs 0-9: demo.sh exits 0 (allowed)"
else fail "--platform-pcrs 0-9: exit status $rc"; fi
in_order "--platform-pcrs 0-9: quoted 0-9 and 23, affirming under default@2" "$TMP/out.09" \
    '^[0-9:.]+ agent conn 1: attestation request -> quote over PCRs 0-9,23 bound to ' \
    '^[0-9:.]+ rp +<- verifierd: result [A-Za-z0-9_-]+, status affirming$' \
    '^[0-9:.]+ rp +op 1 .*: ALLOWED \(status affirming\)'

story "refused contraindicated" >"$TMP/story.07"
rc=$(demo_run "$TMP/out.07" DEMO_TTL=60 DEMO_STORY="$TMP/story.07")
if [ "$rc" = 0 ]; then pass "default (0-7): demo.sh exits 0 (refused, contraindicated)"
else fail "default (0-7): exit status $rc"; fi
for i in 8 9; do
    if grep -qE "^[0-9:.]+ rp +.*the quote does not cover sha256 PCR $i required by policy default@2$" "$TMP/out.07"; then
        pass "default (0-7): reason 'the quote does not cover sha256 PCR $i required by policy default@2'"
    else fail "default (0-7): no reason for PCR $i: $(grep -E 'reason|does not cover' "$TMP/out.07" | head -3)"; fi
done

if [ "$FAIL" -ne 0 ]; then
    for f in 09 07; do echo "---- demo output ($f) ----"; cat "$TMP/out.$f"; done
    echo "---- setup ----"; cat "$TMP/setup.out" 2>/dev/null
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
