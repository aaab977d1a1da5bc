#!/usr/bin/env bash
# agent_manifest_back.sh — the manifest file taken away or spoiled and put
# back as it was, without a SIGHUP: the agent notices from the file's stat
# alone.
#   1. mv m m.away: unmeasured (error 4, refused); mv m.away m: the agent
#      used to stay refused ("cannot read the manifest file") until a
#      SIGHUP: a read failure kept the stat of the file last measured, and
#      the file back had the same inode, size and mtime, so it was never
#      read again. Now a read failure forgets the stat: allowed again.
#   2. The same with cp -p: a backup taken with cp -p, the file overwritten
#      in place with over 64 KiB (refused), the backup copied back with
#      cp -p (same inode, size and mtime as when measured): allowed again.
#   3. A manifest of the same size with the same mtime copied in place
#      (cp -p; version 1 -> 2): only the file's ctime tells. The agent used
#      to compare inode, size and mtime only and went on attesting version
#      1 while the file said version 2; now version 2 is measured.
# Real parts: scripts/demo.sh's swtpm, verifierd --dev, vfy-agent, vfy-rp.
set -u
: "${VFY_BUILD_DIR:?VFY_BUILD_DIR must point at the build root}"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/demo.sh
. "$SRC/tests/lib/demo.sh"
demo_require_built
demo_tmp agent_manifest_back

head -c 70000 /dev/zero | tr '\0' ' ' >"$TMP/big.json"
M='"$DEMO_VD_DIR/../agent-manifest.json"'
cat >"$TMP/story.txt" <<STORY
op transfer 1 EUR to ACME Travel
expect allowed affirming
run mv $M $M.away && sleep 1
op transfer 2 EUR to ACME Travel
expect refused
run mv $M.away $M && sleep 1
op transfer 3 EUR to ACME Travel
expect allowed affirming
run cp -p $M $TMP/backup.json && cat $TMP/big.json >$M && sleep 1
op transfer 4 EUR to ACME Travel
expect refused
run cp -p $TMP/backup.json $M && sleep 1
op transfer 5 EUR to ACME Travel
expect allowed affirming
run sed 's/"manifest_version":1,/"manifest_version":2,/' $M >$TMP/m2.json && touch -r $M $TMP/m2.json && cp -p $TMP/m2.json $M && sleep 1
op transfer 6 EUR to ACME Travel
expect allowed affirming
STORY
rc=$(demo_run "$TMP/out" DEMO_TTL=1 DEMO_STORY="$TMP/story.txt")
if [ "$rc" = 0 ]; then pass "demo.sh exits 0 (ops 2 and 4 refused, the others allowed)"
else fail "exit status $rc"; fi
R='cannot read manifest .* \(missing, unreadable or over 64 KiB\): not measured; attestation requests get an error until a manifest that can be measured is in place$'
E='^[0-9:.]+ rp +<- agent: error 4: the manifest in force is not measured \(cannot read the manifest file \(missing, unreadable or over 64 KiB\)\)$'
B='^[0-9:.]+ agent file changed: manifest back to the one measured last; attesting again$'
in_order "moved away: refused; moved back: attested again, allowed" "$TMP/out" \
    '^[0-9:.]+ rp +op 1 .*: ALLOWED \(status affirming\)' \
    "^[0-9:.]+ agent file changed: $R" "$E" \
    '^[0-9:.]+ rp +op 2 .*: REFUSED' \
    "$B" \
    '^[0-9:.]+ rp +<- verifierd: result [A-Za-z0-9_-]+, status affirming$' \
    '^[0-9:.]+ rp +op 3 .*: ALLOWED \(status affirming\)'
in_order "over 64 KiB in place: refused; cp -p of the backup: attested again, allowed" "$TMP/out" \
    '^[0-9:.]+ rp +op 3 .*: ALLOWED \(status affirming\)' \
    "^[0-9:.]+ agent file changed: $R" "$E" \
    '^[0-9:.]+ rp +op 4 .*: REFUSED' \
    "$B" \
    '^[0-9:.]+ rp +<- verifierd: result [A-Za-z0-9_-]+, status affirming$' \
    '^[0-9:.]+ rp +op 5 .*: ALLOWED \(status affirming\)'
in_order "same size, same mtime, new content: measured (version 2)" "$TMP/out" \
    '^[0-9:.]+ rp +op 5 .*: ALLOWED \(status affirming\)' \
    '^[0-9:.]+ agent file changed: manifest travel-agent-01 version 2 \(sha256:[0-9a-f]{64}\) measured into PCR 23; agent log has 2 entries$' \
    '^[0-9:.]+ rp +<- agent: posture-changed notice \(manifest version 2, ' \
    '^[0-9:.]+ rp +op 6 .*: ALLOWED \(status affirming\)'

if [ "$FAIL" -ne 0 ]; then
    echo "---- demo output ----"; cat "$TMP/out"
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
