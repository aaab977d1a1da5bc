#!/bin/bash
# verifierd_revocation.sh — revocation propagation (issue 5): affirming
# results from real swtpm quotes turn `revoked` in GET /v1/results/{id} and
# appear in GET /v1/revocations within 2 seconds after the reference value
# they relied on is revoked — by `verifyctl component revoke` on the same DB,
# by the admin API (component and PCR value). Expired results are left
# alone; the feed's cursor moves forward and `after` pages past old entries.
#
# The attester's policy appraises only the current manifest (history
# "current"), so after one component is revoked a new manifest can be
# affirming again and its result can be revoked by the next change.
set -uo pipefail
# shellcheck disable=SC2119  # vd_stop without arguments stops the current server
# shellcheck source=../lib/verifierd.sh
. "${VFY_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/verifierd.sh"

vd_ev_load || die "cannot load tests/lib/evidence.sh"
vd_start_dev rev || die "cannot start verifierd --dev"
A=$VD_ATTEST ADM=$VD_ADMIN
ev_init "$VD_TMP/agent" >/dev/null 2>"$VD_TMP/ev_init.err" || die "ev_init: $(tail -n 3 "$VD_TMP/ev_init.err")"
cat >"$VD_TMP/revtest.json" <<'EOF'
{"id":"revtest","version":1,"agent":{"pcr":23,"history":"current","unknown_context":"warning"},
 "freshness":{"nonce_ttl_s":60},"result":{"ttl_s":300}}
EOF
"$VCTL" --db "$VD_DB" policy load "$VD_TMP/revtest.json" >/dev/null || die "policy load"
vd_ev_provision "$VD_DB" agent-1 --policy revtest || die "provisioning"

# affirm MANIFEST [EXTRA]: one attestation that must be affirming; sets RID.
affirm() {
    vd_ev_attest "$A" agent-1 "$1" json "${2:-}" || die "evidence for $1"
    if [ "$STATUS" = affirming ]; then pass "affirming result for $(basename "$1") ${2:-}"
    else fail "$(basename "$1"): $STATUS, want affirming: $REASONS"; fi
}

# wait_revoked RID WHAT: polls /v1/results/RID for up to 2 s.
wait_revoked() {
    local rid=$1 what=$2 t0 t1 state=""
    t0=$(date +%s%N)
    while :; do
        vd_call GET "/v1/results/$rid" "$A"
        state=$(jget /state)
        [ "$state" = revoked ] && break
        t1=$(date +%s%N)
        [ $(( (t1 - t0) / 1000000 )) -gt 2000 ] && break
        sleep 0.1
    done
    t1=$(date +%s%N)
    if [ "$state" = revoked ]; then
        pass "$what: result revoked after $(( (t1 - t0) / 1000000 )) ms"
    else
        fail "$what: result state '$state' 2 s later"
    fi
    REV_REASON=$(jget /reason)
}

# feed AFTER: GET /v1/revocations?after=AFTER; FEED_IDS, CURSOR.
feed() {
    local n i
    vd_call GET "/v1/revocations?after=$1" "$A"
    [ "$HTTP_CODE" = 200 ] || { fail "GET /v1/revocations?after=$1: $HTTP_CODE"; return; }
    cp "$VD_BODY" "$VD_TMP/feed.json"
    CURSOR=$(jget /cursor)
    n=$(jget -l /revoked)
    FEED_IDS=""
    for ((i = 0; i < n; i++)); do FEED_IDS="$FEED_IDS $(jget "/revoked/$i/result_id")"; done
}

in_feed() { case " $FEED_IDS " in *" $1 "*) return 0 ;; esac; return 1; }

# ---- 1. verifyctl component revoke ----
vd_manifest "$VD_TMP/m1.json" 1 llama-a tool-a
ev_manifest_apply "$VD_TMP/m1.json" || die "ev_manifest_apply"
vd_approve_manifest "$VD_DB" "$VD_TMP/m1.json" || die "approve m1"
affirm "$VD_TMP/m1.json" '"max_ttl_s":1'
R0=$RID
affirm "$VD_TMP/m1.json"
R1=$RID
feed 0
C0=$CURSOR
check "feed before any revocation does not list R1" bash -c "! case ' $FEED_IDS ' in *' $R1 '*) true;; *) false;; esac"
sleep 1.5   # R0 (max_ttl_s 1) expires
vd_call GET "/v1/results/$R0" "$A"
expect_eq "the 1-second result is expired" "$(jget /state)" expired
"$VCTL" --db "$VD_DB" component revoke tool tool-a >/dev/null || die "verifyctl component revoke"
wait_revoked "$R1" "verifyctl component revoke tool"
expect_match "revoked result: reason names the tool" "$REV_REASON" 'tool-a'
expect_match "revoked result: revoked_at" "$(jget /revoked_at)" '^[0-9-]{10}T[0-9:]{8}Z$'
expect_eq "revoked result keeps its status" "$(jget /status)" affirming
vd_call GET "/v1/results/$R0" "$A"
expect_eq "an expired result is not revoked" "$(jget /state)" expired
feed "$C0"
check "feed after C0 lists R1" in_feed "$R1"
check "feed does not list the expired R0" bash -c "! case ' $FEED_IDS ' in *' $R0 '*) true;; *) false;; esac"
check "the cursor moved forward ($C0 -> $CURSOR)" test "$CURSOR" -gt "$C0"
i=0; n=$(jget -l /revoked "$VD_TMP/feed.json")
for ((j = 0; j < n; j++)); do [ "$(jget "/revoked/$j/result_id" "$VD_TMP/feed.json")" = "$R1" ] && i=$j; done
expect_match "feed entry has an RFC 3339 time" "$(jget "/revoked/$i/at" "$VD_TMP/feed.json")" '^[0-9-]{10}T[0-9:]{8}Z$'
expect_match "feed entry has the reason" "$(jget "/revoked/$i/reason" "$VD_TMP/feed.json")" 'tool-a'
C1=$CURSOR
feed "$C1"
expect_eq "feed after the latest cursor is empty" "$FEED_IDS" ""
expect_eq "an empty page keeps the cursor" "$CURSOR" "$C1"
vd_ev_attest "$A" agent-1 "$VD_TMP/m1.json" json || die "evidence"
expect_match "attesting with the revoked tool is not affirming ($STATUS)" "$STATUS" '^(warning|contraindicated)$'
expect_match "... and the reason says revoked" "$REASONS" 'tool-a.*revoked'

# ---- 2. admin API component revoke ----
vd_manifest "$VD_TMP/m2.json" 2 llama-a tool-b
ev_manifest_apply "$VD_TMP/m2.json" || die "ev_manifest_apply m2"
vd_approve_manifest "$VD_DB" "$VD_TMP/m2.json" 2>/dev/null
"$VCTL" --db "$VD_DB" component add tool tool-b --digest "$("$JSONGET" -f "$VD_TMP/m2.json" /tools/0/digest)" >/dev/null
affirm "$VD_TMP/m2.json"
R2=$RID
vd_post_json /v1/admin/components/revoke "$ADM" '{"kind":"model","name":"llama-a"}'
expect_status "admin: revoke model llama-a" 200
check "admin: it reports at least one result revoked ($(jget /results_revoked))" test "$(jget /results_revoked)" -ge 1
wait_revoked "$R2" "admin API component revoke"
expect_match "reason names the model" "$REV_REASON" 'llama-a'
feed "$C1"
check "feed after C1 lists R2" in_feed "$R2"
check "feed after C1 does not repeat R1" bash -c "! case ' $FEED_IDS ' in *' $R1 '*) true;; *) false;; esac"
C2=$CURSOR

# ---- 3. admin API PCR revoke ----
vd_manifest "$VD_TMP/m3.json" 3 llama-b tool-b
ev_manifest_apply "$VD_TMP/m3.json" || die "ev_manifest_apply m3"
"$VCTL" --db "$VD_DB" component add model llama-b --digest "$("$JSONGET" -f "$VD_TMP/m3.json" /models/0/digest)" >/dev/null
affirm "$VD_TMP/m3.json"
R3=$RID
# Resetting an attester's TPM clock and agent-log state (after a TPM clear
# or a restored vTPM snapshot): the admin API and verifyctl; the next quote
# starts the state again and is appraised as before.
vd_post_json /v1/admin/attesters/agent-1/reset "$ADM" ''
expect_eq "admin: reset agent-1's state" "$HTTP_CODE $(body)" '200 {"reset":true,"had_state":true}'
vd_call GET /v1/admin/attesters/agent-1/reset "$ADM"
expect_eq "... GET on it: 405, Allow: POST" "$HTTP_CODE $(hdr Allow)" "405 POST"
vd_post_json /v1/admin/attesters/no-such/reset "$ADM" ''
expect_problem "... an unknown attester" 404
vd_ev_attest "$A" agent-1 "$VD_TMP/m3.json" json || die "evidence after the reset"
expect_eq "after the reset the next quote is appraised as a first one" "$STATUS" affirming
expect_eq "verifyctl attester reset: the state the quote made is cleared" \
    "$("$VCTL" --db "$VD_DB" attester reset agent-1)" \
    "attester agent-1: TPM clock and agent-log state cleared; its next quote starts them again"
expect_eq "... again: nothing left to clear" "$("$VCTL" --db "$VD_DB" attester reset agent-1)" \
    "attester agent-1: no TPM clock or agent-log state stored; nothing to clear"
expect_eq "... each reset audited" \
    "$("$VCTL" --db "$VD_DB" list audit --json | jq -c '[.[] | select(.action == "attester.reset") | .detail]')" \
    '["TPM clock and agent-log state cleared","TPM clock and agent-log state cleared","no state to clear"]'
PCR0=$(awk '/^  sha256:/ {b = 1; next} b && /^ *0 *:/ {gsub(/.*0x/, ""); print tolower($0); exit}' "$EV_DIR/pcrs.yaml")
expect_match "PCR 0 value read from the tpm2_pcrread YAML" "$PCR0" '^[0-9a-f]{64}$'
vd_post_json /v1/admin/pcrs/revoke "$ADM" "{\"set\":\"default\",\"index\":0,\"digest\":\"$PCR0\"}"
expect_status "admin: revoke PCR 0's value" 200
wait_revoked "$R3" "admin API PCR revoke"
feed "$C2"
check "feed after C2 lists R3" in_feed "$R3"
vd_ev_attest "$A" agent-1 "$VD_TMP/m3.json" json || die "evidence"
expect_eq "attesting with a revoked PCR value: contraindicated" "$STATUS" contraindicated
feed 0
check "the whole feed lists R1, R2, R3" bash -c "case ' $FEED_IDS ' in *' $R1 '*) ;; *) exit 1;; esac; case ' $FEED_IDS ' in *' $R2 '*) ;; *) exit 1;; esac; case ' $FEED_IDS ' in *' $R3 '*) ;; *) exit 1;; esac"
vd_call GET "/v1/revocations?after=0&limit=1" "$A"
expect_eq "limit=1 gives one entry" "$(jget -l /revoked)" 1
# A cursor this database never gave (the feed was reset: a database
# replaced or restored from a backup) is 409, not an empty page that would
# read "nothing revoked" until the feed grew past it; its end is 200.
feed 0
HEAD=$CURSOR
vd_call GET "/v1/revocations?after=$HEAD" "$A"
expect_status "the feed's end: 200" 200
expect_eq "... and nothing after it" "$(jget -l /revoked)" 0
vd_call GET "/v1/revocations?after=$((HEAD + 1))" "$A"
expect_problem "one past the feed's end: 409" 409
expect_eq "... saying so" "$(jget /detail)" \
    "cursor $((HEAD + 1)) is past the feed's end ($HEAD): the feed was reset; read it again from 0 and stop relying on results held"
# A restore (docs/operator-guide.md §10) from a backup taken before any
# revocation: the feed is empty and its counter back at 0. A relying party's
# cursor is past its end (409) until the next revocation, whose cursor
# follows the clock: after every cursor given before, so that cursor sees it.
# (Cursors counted from 1: the restored database gave cursors the relying
# party had passed, and it never saw those revocations.)
sqlite3 "$VD_DB" "DELETE FROM revocations; UPDATE sqlite_sequence SET seq = 0 WHERE name = 'revocations';" ||
    die "the restore"
vd_call GET "/v1/revocations?after=$HEAD" "$A"
expect_problem "restored: the relying party's cursor is past the feed's end" 409 \
    "cursor $HEAD is past the feed's end (0): the feed was reset; read it again from 0 and stop relying on results held"
vd_post_json /v1/admin/attesters/agent-1/revoke "$ADM" ''
expect_status "admin: revoke agent-1 (its live results go on the feed)" 200
feed "$HEAD"
check "the revocation made after the restore is seen from the old cursor (cursor $CURSOR > $HEAD)" \
    test "${CURSOR:-0}" -gt "$HEAD"
check "... a cursor after the clock (microseconds since the epoch)" \
    test "${CURSOR:-0}" -gt "$(($(date +%s) - 600))000000"

vd_stop
expect_eq "verifierd exits 0 on SIGTERM" "$VD_STOP_RC" 0
vd_done
