#!/usr/bin/env bash
# rp_require_policy.sh — the example relying party's --require-policy: an
# EAR appraised under another policy than the one it requires is rejected
# (any attest token may name any stored policy, a laxer one included, and
# an operator may move the attester to another: the EAR's
# ear_appraisal_policy_ids say which applied; docs/rp-guide.md).
#   --require-policy default@1: the demo's attester is appraised under it:
#     allowed.
#   --require-policy strict: the EAR says default@1: rejected, the
#     operation refused.
# Real parts: scripts/demo.sh's swtpm, verifierd --dev, vfy-agent, vfy-rp.
set -u
: "${VFY_BUILD_DIR:?VFY_BUILD_DIR must point at the build root}"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/demo.sh
. "$SRC/tests/lib/demo.sh"
demo_require_built
demo_tmp rp_require_policy

printf 'op transfer 1 EUR to ACME Travel\nexpect allowed affirming\n' >"$TMP/allowed.txt"
rc=$(demo_run "$TMP/out.ok" DEMO_TTL=30 DEMO_STORY="$TMP/allowed.txt" \
    DEMO_RP_ARGS="--require-policy default@1")
if [ "$rc" = 0 ]; then pass "--require-policy default@1: allowed (the policy that applied)"
else fail "--require-policy default@1: exit status $rc"; fi

printf 'op transfer 1 EUR to ACME Travel\nexpect refused\n' >"$TMP/refused.txt"
rc=$(demo_run "$TMP/out.strict" DEMO_TTL=30 DEMO_STORY="$TMP/refused.txt" \
    DEMO_RP_ARGS="--require-policy strict")
if [ "$rc" = 0 ]; then pass "--require-policy strict: the operation refused"
else fail "--require-policy strict: exit status $rc"; fi
in_order "--require-policy strict: the EAR is rejected, naming the policy that applied" "$TMP/out.strict" \
    '^[0-9:.]+ rp +<- verifierd: result [A-Za-z0-9_-]+, status affirming$' \
    '^[0-9:.]+ rp +EAR REJECTED: appraised under platform default@1, agent default@1; this relying party requires strict \(--require-policy\)$' \
    '^[0-9:.]+ rp +EAR REJECTED by vfy_ear_verify_expected: VFY_E_EAR_POLICY ' \
    '^[0-9:.]+ rp +op 1 .*: REFUSED'
if [ "$FAIL" -ne 0 ]; then
    for f in ok strict; do echo "---- demo output ($f) ----"; cat "$TMP/out.$f"; done
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
