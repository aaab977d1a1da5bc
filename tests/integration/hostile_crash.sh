#!/usr/bin/env bash
# hostile_crash.sh — kill -9 of verifierd under load, then restart on the
# same state (issue 7). Real evidence from an swtpm attester
# (tests/lib/evidence.sh) is used so "accepted" means an affirming EAR.
#
# Checks: the DB is consistent after the crash (integrity_check,
# foreign_key_check, verifyctl export and list), verifierd starts again on
# it, results issued before the crash are still served, and single use of
# nonces survives the crash:
#   - a nonce USED (affirming) before the crash, replayed with the very same
#     request after the restart, must not be accepted again (DESIGN §8:
#     nonces are single-use; docs/api.md: replay -> contraindicated). The
#     used-nonce set is in memory, so this depends on verifierd re-seeding
#     it at start from the nonces recorded with the results.
#   - a nonce ISSUED but not used before the crash is accepted once after it
#     (the nonce key is persistent), and only once.
# Bounded: load for at most 30 s (killed earlier), ~40 s total.
set -u
. "$VFY_SOURCE_DIR/tests/lib/verifierd.sh"

HH="$VFY_BUILD_DIR/tests/hostilehttp"
[ -x "$HH" ] || die "hostilehttp not built"
command -v swtpm >/dev/null || die "swtpm not installed"

vd_start_dev main || die "verifierd did not start"
vd_ev_load || die "cannot load tests/lib/evidence.sh"
ev_init "$VD_TMP/agent" >/dev/null 2>"$VD_TMP/ev_init.err" || die "ev_init: $(tail -n 3 "$VD_TMP/ev_init.err")"
vd_manifest "$VD_TMP/m1.json" 1 llama-3.1-8b-instruct payments.transfer
ev_manifest_apply "$VD_TMP/m1.json" || die "ev_manifest_apply"
vd_ev_provision "$VD_DB" agent-1 || die "provisioning the attester"
vd_approve_manifest "$VD_DB" "$VD_TMP/m1.json" || die "approving the manifest components"
# a second attester for the load (junk quotes, but results are recorded)
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null |
    openssl pkey -pubout -out "$VD_TMP/fake-ak.pem" 2>/dev/null
"$VCTL" --db "$VD_DB" attester add fake-agent --ak-pem "$VD_TMP/fake-ak.pem" >/dev/null ||
    die "attester add fake-agent"
vd_fake_evidence "$VD_TMP/fake-ev.json"

# ---- before the crash ----
# A: used, affirming. Keep the exact request to replay it later.
vd_ev_attest "$VD_ATTEST" agent-1 "$VD_TMP/m1.json" json || die "evidence A"
expect_status "A: attest before the crash" 200
expect_eq "A: affirming before the crash" "$STATUS" affirming
RID_A=$RID
cp "$VD_TMP/req.json" "$VD_TMP/req-A.json"
vd_post_json /v1/attest "$VD_ATTEST" "$(cat "$VD_TMP/req-A.json")"
expect_status "A: replay before the crash gets an EAR" 200
vd_parse_attest
expect_eq "A: replay before the crash is contraindicated" "$STATUS" contraindicated
expect_match "A: replay before the crash: the nonce was used" "$REASONS" 'nonce rejected: nonce already used'
# B: issued before the crash, evidence made, not sent.
vd_nonce "$VD_ATTEST" || die "challenge B"
NONCE_B=$NONCE CB_B=$(rand_b64url 32)
ev_evidence "$NONCE_B" "$CB_B" "$VD_TMP/m1.json" "$VD_TMP/ev-B.json" json || die "evidence B"
attest_body "$NONCE_B" "$CB_B" agent-1 "$(cat "$VD_TMP/ev-B.json")" >"$VD_TMP/req-B.json"

# ---- load, verifyctl writes, then kill -9 in the middle ----
"$HH" load "$VD_PORT" 30 4 "$VD_ATTEST" fake-agent "$VD_TMP/fake-ev.json" \
    >"$VD_TMP/load.out" 2>"$VD_TMP/load.err" &
lpid=$!
VD_PIDS+=("$lpid")
( for i in $(seq 1 200); do
      "$VCTL" --db "$VD_DB" component add tool "crash-tool-$i" \
          --digest "sha256:$(printf 'crash %s' "$i" | openssl dgst -sha256 -r | cut -c1-64)" \
          >/dev/null 2>&1 || true
  done ) &
wpid=$!
VD_PIDS+=("$wpid")
sleep 3
results_before=$(sqlite3 "$VD_DB" 'SELECT count(*) FROM results' 2>/dev/null)
kill -KILL "$VD_PID"
wait "$VD_PID" 2>/dev/null
crash_rc=$?
expect_eq "verifierd killed with SIGKILL under load" "$crash_rc" 137
kill -TERM "$lpid" 2>/dev/null; wait "$lpid" 2>/dev/null
wait "$wpid" 2>/dev/null
out=$(cat "$VD_TMP/load.out"); echo "# load until the crash: $out"
expect_match "no 5xx before the crash" "$out" ' 5xx=0 '
check "the load had written results (${results_before:-0})" test "${results_before:-0}" -ge 20

# ---- the database after the crash (verifierd down) ----
expect_eq "integrity_check after kill -9" "$(sqlite3 "$VD_DB" 'PRAGMA integrity_check')" ok
expect_eq "foreign_key_check after kill -9" "$(sqlite3 "$VD_DB" 'PRAGMA foreign_key_check')" ""
check "verifyctl export works after kill -9" sh -c "'$VCTL' --db '$VD_DB' export >'$VD_TMP/after.json'"
check "verifyctl list results works after kill -9" sh -c "'$VCTL' --db '$VD_DB' list results >/dev/null"
check "the export still has agent-1" grep -q '"agent-1"' "$VD_TMP/after.json"
expect_eq "result A is in the DB" "$(sqlite3 "$VD_DB" "SELECT count(*) FROM results WHERE id='$RID_A'")" 1

# ---- restart on the same state ----
vd_start_dev main || die "verifierd did not restart on the crashed state"
pass "verifierd restarted on the state left by kill -9"
vd_call GET "/v1/results/$RID_A" "$VD_ATTEST"
expect_status "result A served after the restart" 200
expect_eq "result A still valid" "$(jget /state)" valid

# A's request again, byte for byte: its nonce was used before the crash.
vd_post_json /v1/attest "$VD_ATTEST" "$(cat "$VD_TMP/req-A.json")"
expect_status "A replayed after the restart" 200
vd_parse_attest
expect_eq "A replayed after the restart is contraindicated (not accepted twice) [bug if affirming: used-nonce set lost on crash]" \
    "$STATUS" contraindicated
expect_match "A replayed after the restart: the nonce was used" "$REASONS" 'nonce rejected: nonce already used'

# B: issued before the crash, never used: accepted once, then refused.
vd_post_json /v1/attest "$VD_ATTEST" "$(cat "$VD_TMP/req-B.json")"
vd_parse_attest
expect_eq "B (issued before the crash, unused) accepted after the restart" "$STATUS" affirming
vd_post_json /v1/attest "$VD_ATTEST" "$(cat "$VD_TMP/req-B.json")"
expect_status "B replayed gets an EAR" 200
vd_parse_attest
expect_eq "B replayed after its first use is contraindicated" "$STATUS" contraindicated
expect_match "B replay: the nonce was used" "$REASONS" 'nonce rejected: nonce already used'

# The daemon works normally after the crash.
vd_ev_attest "$VD_ATTEST" agent-1 "$VD_TMP/m1.json" json || die "evidence C"
expect_eq "a fresh attestation after the restart is affirming" "$STATUS" affirming
check "no sanitizer report in verifierd's log" \
    sh -c "! grep -q -E 'AddressSanitizer|runtime error:|LeakSanitizer' '$VD_LOG'"
vd_stop
expect_eq "restarted verifierd exits 0 on SIGTERM" "$VD_STOP_RC" 0
vd_done
