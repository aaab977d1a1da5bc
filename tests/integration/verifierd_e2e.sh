#!/bin/bash
# verifierd_e2e.sh — end to end with a real TPM quote (swtpm): provision with
# verifyctl (the AK from the swtpm, `pcr import` of its PCRs, the manifest's
# components approved), then challenge -> channel-bound evidence (CMW JSON and
# CBOR) -> attest -> affirming EAR whose claims match what was sent; the EAR
# signature checked independently with the openssl CLI against /v1/keys; the
# same evidence relayed with another channel binding, or replayed, is
# contraindicated; an unapproved tool is not affirming; a revoked attester
# is contraindicated.
set -uo pipefail
# shellcheck disable=SC2119  # vd_stop without arguments stops the current server
# shellcheck source=../lib/verifierd.sh
. "${VFY_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/verifierd.sh"

vd_ev_load || die "cannot load tests/lib/evidence.sh"
vd_start_dev e2e || die "cannot start verifierd --dev"
A=$VD_ATTEST ADM=$VD_ADMIN
ev_init "$VD_TMP/agent" >/dev/null 2>"$VD_TMP/ev_init.err" || die "ev_init: $(tail -n 3 "$VD_TMP/ev_init.err")"
vd_manifest "$VD_TMP/m1.json" 7 llama-3.1-8b-instruct payments.transfer
ev_manifest_apply "$VD_TMP/m1.json" || die "ev_manifest_apply"
vd_ev_provision "$VD_DB" agent-1 || die "provisioning the attester"
vd_approve_manifest "$VD_DB" "$VD_TMP/m1.json" || die "approving the manifest components"
MD=$(openssl dgst -sha256 -r <"$VD_TMP/m1.json" | cut -c1-64)

vd_call GET /v1/keys -
cp "$VD_BODY" "$VD_TMP/jwks.json"

# ---- JSON evidence ----
vd_ev_attest "$A" agent-1 "$VD_TMP/m1.json" json || die "challenge/evidence failed"
expect_status "attest with a real quote (CMW JSON)" 200
expect_eq "JSON evidence: affirming" "$(jget /status) $STATUS" "affirming affirming"
[ "$STATUS" = affirming ] || echo "  reasons: $REASONS"
N1=$NONCE CB1=$CB RID1=$RID EAR1=$EAR
cp "$EVFILE" "$VD_TMP/ev1.json"
expect_schema "real evidence (swtpm quote) matches evidence.schema.json" evidence.schema.json "$VD_TMP/ev1.json"
expect_schema "its manifest matches agent-manifest.schema.json" agent-manifest.schema.json "$VD_TMP/m1.json"
expect_schema "EAR claims (affirming, both submodules) match ear-claims.schema.json" \
    ear-claims.schema.json <(jws_part "$EAR1" 2)
check "EAR signature verifies with openssl against /v1/keys" jws_verify_openssl "$EAR1" "$VD_TMP/jwks.json"
IFS=. read -r h p s <<<"$EAR1"
# One character in the middle of the signature (r's last bits and s's first
# ones), always changed: 'A' unless it is 'A' already.
mid=$(( ${#s} / 2 ))
[ "${s:$mid:1}" = A ] && c=B || c=A
s2="${s:0:$mid}$c${s:$((mid + 1))}"
check "the changed signature differs from the original in one character, same length" \
    test "$s2" != "$s" -a "${#s2}" = "${#s}"
if jws_verify_openssl "$h.$p.$s2" "$VD_TMP/jwks.json"; then
    fail "a JWS with a changed signature verified"
else pass "a JWS with a changed signature fails the openssl check"; fi
OTHERP=$(jws_part "$EAR1" 2 | sed 's/"agent-1"/"agent-2"/' | b64url_enc)
if jws_verify_openssl "$h.$OTHERP.$s" "$VD_TMP/jwks.json"; then fail "a JWS with another attester verified"
else pass "a JWS with the attester claim changed fails the openssl check"; fi
expect_eq "claims: eat_nonce" "$(jws_claim "$EAR1" /eat_nonce)" "$N1"
expect_eq "claims: jti is the result id" "$(jws_claim "$EAR1" /jti)" "$RID1"
expect_eq "claims: verifierd.attester" "$(jws_claim "$EAR1" /verifierd.attester)" agent-1
expect_eq "claims: channel binding = b64url(SHA-256(cb))" "$(jws_claim "$EAR1" /verifierd.channel_binding)" \
    "$(b64url_dec "$CB1" | openssl dgst -sha256 -binary | b64url_enc)"
expect_eq "claims: manifest digest" "$(jws_claim "$EAR1" /submods/agent/verifierd.manifest_digest)" "sha256:$MD"
expect_eq "claims: manifest version" "$(jws_claim "$EAR1" /submods/agent/verifierd.manifest_version)" 7
expect_eq "claims: platform affirming, TV 2/2" \
    "$(jws_claim "$EAR1" /submods/platform/ear_status) $(jws_claim "$EAR1" /submods/platform/ear_trustworthiness_vector/instance-identity) $(jws_claim "$EAR1" /submods/platform/ear_trustworthiness_vector/executables)" \
    "affirming 2 2"
expect_eq "claims: agent affirming, TV 2/2" \
    "$(jws_claim "$EAR1" /submods/agent/ear_status) $(jws_claim "$EAR1" /submods/agent/ear_trustworthiness_vector/executables) $(jws_claim "$EAR1" /submods/agent/ear_trustworthiness_vector/configuration)" \
    "affirming 2 2"
expect_eq "claims: policy id" "$(jws_claim "$EAR1" /submods/platform/ear_appraisal_policy_ids/0)" default@1
expect_eq "claims: exp - iat = 300 (policy result ttl)" \
    "$(( $(jws_claim "$EAR1" /exp) - $(jws_claim "$EAR1" /iat) ))" 300
check "claims: iat is now (within 5 s)" test $(( $(date +%s) - $(jws_claim "$EAR1" /iat) )) -le 5
vd_call GET "/v1/results/$RID1" "$A"
expect_eq "GET /v1/results: affirming, valid" "$HTTP_CODE $(jget /status) $(jget /state)" "200 affirming valid"

# ---- CBOR evidence, bare JWS ----
vd_ev_attest "$A" agent-1 "$VD_TMP/m1.json" cbor '"max_ttl_s":60' -H 'Accept: application/eat+jwt' ||
    die "challenge/evidence (CBOR) failed"
expect_status "attest with CBOR evidence, Accept: application/eat+jwt" 200
expect_eq "CBOR: bare JWS content type" "$HTTP_CTYPE" application/eat+jwt
expect_eq "CBOR evidence: affirming" "$STATUS" affirming
[ "$STATUS" = affirming ] || echo "  reasons: $REASONS"
check "CBOR: EAR verifies with openssl" jws_verify_openssl "$EAR" "$VD_TMP/jwks.json"
expect_eq "CBOR: max_ttl_s 60 caps exp - iat" "$(( $(jws_claim "$EAR" /exp) - $(jws_claim "$EAR" /iat) ))" 60
check "evidence really was CBOR (a base64url string)" grep -Eq '^[A-Za-z0-9_-]+$' "$EVFILE"

# ---- relay and replay ----
vd_nonce "$A"
CB2=$(rand_b64url 32)
ev_evidence "$NONCE" "$CB2" "$VD_TMP/m1.json" "$VD_TMP/ev2.json" json || die "ev_evidence"
CB3=$(rand_b64url 32)
vd_post_json /v1/attest "$A" "$(attest_body "$NONCE" "$CB3" agent-1 "$(cat "$VD_TMP/ev2.json")")"
vd_parse_attest
expect_status "relayed evidence (another TLS channel) gets an EAR" 200
expect_eq "relayed evidence: contraindicated" "$STATUS" contraindicated
expect_match "relayed evidence: the reason is the binder" "$REASONS" 'binder mismatch'
expect_eq "relayed evidence: instance-identity 96" \
    "$(jws_claim "$EAR" /submods/platform/ear_trustworthiness_vector/instance-identity)" 96
check "relayed: the contraindicated EAR is signed too" jws_verify_openssl "$EAR" "$VD_TMP/jwks.json"

vd_post_json /v1/attest "$A" "$(attest_body "$N1" "$CB1" agent-1 "$(cat "$VD_TMP/ev1.json")")"
vd_parse_attest
expect_eq "replayed affirming request (same nonce, same channel): contraindicated" "$STATUS" contraindicated
expect_match "replay: the reason names the nonce" "$REASONS" 'nonce rejected: nonce already used'

vd_nonce "$A"
vd_post_json /v1/attest "$A" "$(attest_body "$NONCE" "$CB1" agent-1 "$(cat "$VD_TMP/ev1.json")")"
vd_parse_attest
expect_eq "old evidence with a fresh nonce: contraindicated" "$STATUS" contraindicated
expect_match "old evidence with a fresh nonce: binder" "$REASONS" 'binder mismatch'

# The CMW JSON evidence is accepted with the records in another order: the
# collection's members reversed (__cmwc_t last), appraised as affirming.
vd_nonce "$A" || die "challenge (records reordered)"
CB4=$(rand_b64url 32)
ev_evidence "$NONCE" "$CB4" "$VD_TMP/m1.json" "$VD_TMP/ev4.json" json || die "ev_evidence (records reordered)"
jq -c 'to_entries | reverse | from_entries' "$VD_TMP/ev4.json" >"$VD_TMP/ev4r.json" ||
    die "reordering the records"
expect_eq "the reordered evidence has the same members" "$(jq -cS . "$VD_TMP/ev4r.json")" \
    "$(jq -cS . "$VD_TMP/ev4.json")"
expect_eq "... in the reverse order" "$(jq -c 'keys_unsorted' "$VD_TMP/ev4r.json")" \
    "$(jq -c 'keys_unsorted | reverse' "$VD_TMP/ev4.json")"
expect_eq "... __cmwc_t last, no longer first" \
    "$(jq -r 'keys_unsorted | first' "$VD_TMP/ev4.json") $(jq -r 'keys_unsorted | last' "$VD_TMP/ev4r.json")" \
    "__cmwc_t __cmwc_t"
vd_post_json /v1/attest "$A" "$(attest_body "$NONCE" "$CB4" agent-1 "$(cat "$VD_TMP/ev4r.json")")"
vd_parse_attest
expect_status "CMW JSON with the records in reverse order" 200
expect_eq "... is affirming, like the original order" "$STATUS" affirming
[ "$STATUS" = affirming ] || echo "  reasons: $REASONS"
expect_eq "... for this nonce" "$(jws_claim "$EAR" /eat_nonce)" "$NONCE"

# ---- an unapproved tool ----
vd_manifest "$VD_TMP/m2.json" 8 llama-3.1-8b-instruct payments.refund
ev_manifest_apply "$VD_TMP/m2.json" || die "ev_manifest_apply m2"
vd_ev_attest "$A" agent-1 "$VD_TMP/m2.json" json || die "evidence m2"
expect_status "attest with an unapproved tool" 200
check "unapproved tool: not affirming ($STATUS)" test "$STATUS" = warning -o "$STATUS" = contraindicated
expect_match "unapproved tool: the reason names it" "$REASONS" 'payments.refund.*not an approved'
vd_approve_manifest "$VD_DB" "$VD_TMP/m2.json" || die "approve m2"
vd_ev_attest "$A" agent-1 "$VD_TMP/m2.json" json || die "evidence m2"
expect_eq "once approved with verifyctl (live DB): affirming" "$STATUS" affirming
[ "$STATUS" = affirming ] || echo "  reasons: $REASONS"

# ---- a revoked attester ----
vd_post_json /v1/admin/attesters/agent-1/revoke "$ADM" '{}'
expect_status "admin: revoke agent-1" 200
vd_ev_attest "$A" agent-1 "$VD_TMP/m2.json" json || die "evidence"
expect_eq "revoked attester: contraindicated" "$STATUS" contraindicated
expect_match "revoked attester: reason" "$REASONS" 'agent-1 is revoked'

vd_call GET /metrics -
expect_match "metrics: affirming verdicts counted" "$(body)" 'verifierd_verdicts_total\{status="affirming"\} [4-9]'
vd_stop
expect_eq "verifierd exits 0 on SIGTERM" "$VD_STOP_RC" 0
vd_done
