#!/usr/bin/env bash
# agent_quote_race.sh — another TPM client extends a quoted PCR between the
# agent's TPM2_Quote and its TPM2_PCR_Read (tests/shim/tpmfault.so: PCR 7
# extended right after the quote, once). The PCR values the agent sent then
# were not the ones the quote covers, and the verifier refused the evidence
# (contraindicated: the quote's pcrDigest does not match the supplied
# values). Now the agent checks the values read against the pcrDigest of
# the TPMS_ATTEST (Tss2_MU_TPMS_ATTEST_Unmarshal) and quotes again once:
# PCR 7's new value is a registered reference value, so the operation is
# allowed on the second quote.
# Real parts: scripts/demo.sh's swtpm, verifierd --dev, vfy-agent, vfy-rp;
# the shim is preloaded into the whole demo and acts in vfy-agent only.
set -u
: "${VFY_BUILD_DIR:?VFY_BUILD_DIR must point at the build root}"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/demo.sh
. "$SRC/tests/lib/demo.sh"
demo_require_built
demo_tmp agent_quote_race
demo_fault_shim

# PCR 7 as it will be after the shim's extend (32 bytes of 0x5a), approved
# beside its current value; then the race armed
cat >"$TMP/arm.sh" <<SH
old=\$(tpm2_pcrread sha256:7 | sed -n 's/^ *7 *: *0x\\([0-9A-Fa-f]*\\)\$/\\1/p')
[ \${#old} = 64 ] || { echo "PCR 7 not read: \$old"; exit 1; }
new=\$(python3 -c 'import hashlib,sys; print(hashlib.sha256(bytes.fromhex(sys.argv[1]) + b"\\x5a" * 32).hexdigest())' "\$old")
$VFY_BUILD_DIR/tools/verifyctl/verifyctl --db "\$DEMO_VD_DIR/verifierd.db" pcr add default --index 7 --digest "\$new" || exit 1
echo 7 >$TMP/fault/quote-race
SH
cat >"$TMP/story.txt" <<STORY
run sh $TMP/arm.sh >$TMP/arm.out 2>&1
op transfer 1 EUR to ACME Travel
expect allowed affirming
STORY
rc=$(demo_run "$TMP/out" DEMO_TTL=60 DEMO_STORY="$TMP/story.txt" LD_PRELOAD="$SHIM" \
    TPMFAULT_DIR="$TMP/fault")
if [ "$rc" = 0 ]; then pass "demo.sh exits 0 (allowed)"; else fail "exit status $rc"; fi
in_order "PCR 7 extended between quote and read: quoted again, affirming" "$TMP/out" \
    '^tpmfault: after Esys_Quote, PCR 7 extended \(0x0\)$' \
    '^[0-9:.]+ agent a quoted PCR changed before it was read \(another TPM client extended it\): quoted again \(1 time so far\)$' \
    '^[0-9:.]+ rp +<- verifierd: result [A-Za-z0-9_-]+, status affirming$' \
    '^[0-9:.]+ rp +op 1 .*: ALLOWED \(status affirming\)'
if [ -e "$TMP/fault/quote-race" ]; then fail "the race was never armed off (no quote?)"
else pass "the race happened"; fi
if grep -qE 'AddressSanitizer|runtime error:' "$TMP/out"; then
    fail "a sanitizer report: $(grep -m1 -E 'AddressSanitizer|runtime error:' "$TMP/out")"
else pass "no sanitizer report"; fi

if [ "$FAIL" -ne 0 ]; then
    echo "---- demo output ----"; cat "$TMP/out"
    echo "---- arm ----"; cat "$TMP/arm.out" 2>/dev/null
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
