#!/bin/bash
# verifierd_api.sh — every verifierd endpoint over real HTTPS (DESIGN §8,
# issue 5): the public endpoints, attest/results/revocations with evidence
# that parses but proves nothing (so every answer is a signed
# contraindicated EAR), every 4xx the API defines with its RFC 9457 shape,
# the admin API, /metrics arithmetic, and the per-request log lines.
# Real swtpm evidence is in verifierd_e2e.sh.
set -uo pipefail
# shellcheck disable=SC2119  # vd_stop without arguments stops the current server
# shellcheck source=../lib/verifierd.sh
. "${VFY_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/verifierd.sh"

# --wal-limit-mib 1: the WAL section below passes the limit on purpose;
# --results-keep-days 2: the retention section below
vd_start_dev api --wal-limit-mib 1 --results-keep-days 2 || die "cannot start verifierd --dev"
A=$VD_ATTEST
ADM=$VD_ADMIN
REQIDS="$VD_TMP/reqids"
: >"$REQIDS"
# Remember every request id, to match against the log at the end.
call() { vd_call "$@"; [ -z "$HTTP_REQID" ] || echo "$HTTP_REQID $HTTP_CODE" >>"$REQIDS"; }
post() { vd_post_json "$@"; [ -z "$HTTP_REQID" ] || echo "$HTTP_REQID $HTTP_CODE" >>"$REQIDS"; }
nonce() { vd_nonce "$A"; [ -z "$HTTP_REQID" ] || echo "$HTTP_REQID $HTTP_CODE" >>"$REQIDS"; N=$NONCE; }
# A registered attester whose evidence is junk: a recorded, contraindicated
# result (results of unregistered attesters are recorded too, checked below).
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$VD_TMP/reg.key" 2>/dev/null
openssl pkey -in "$VD_TMP/reg.key" -pubout -out "$VD_TMP/reg.pem" 2>/dev/null
"$VCTL" --db "$VD_DB" attester add registered --ak-pem "$VD_TMP/reg.pem" >/dev/null ||
    die "verifyctl attester add"

# ---- public endpoints ----
call GET /healthz -
expect_status "GET /healthz" 200
expect_eq "healthz body" "$(body)" '{"status":"ok"}'
expect_eq "healthz content type" "$HTTP_CTYPE" application/json
expect_match "healthz X-Request-Id is 16 base64url chars" "$HTTP_REQID" '^[A-Za-z0-9_-]{16}$'
# Request ids come from a per-thread pool of random bytes: 50 requests
# (more than one refill on each worker) give 50 different ids.
ids=$(for _ in $(seq 50); do
          curl -s -D - -o /dev/null --cacert "$VD_CA" "$VD_URL/healthz" |
              sed -n 's/^[Xx]-[Rr]equest-[Ii]d: *\([A-Za-z0-9_-]*\).*/\1/p'
      done | sort -u | wc -l)
expect_eq "50 requests, 50 distinct request ids" "$ids" 50

call GET /.well-known/verifierd -
expect_status "GET /.well-known/verifierd" 200
expect_eq "discovery issuer" "$(jget /issuer)" "$VD_URL"
expect_eq "discovery jwks_uri" "$(jget /jwks_uri)" "$VD_URL/v1/keys"
expect_eq "discovery challenge_endpoint" "$(jget /challenge_endpoint)" "$VD_URL/v1/challenge"
expect_eq "discovery attest_endpoint" "$(jget /attest_endpoint)" "$VD_URL/v1/attest"
expect_eq "discovery evidence media types" "$(jget /evidence_media_types)" \
    '["application/cmw+json","application/cmw+cbor"]'
expect_match "discovery result media types include eat+jwt" "$(jget /result_media_types)" 'application/eat\+jwt'
expect_eq "discovery alg" "$(jget /result_signing_alg_values_supported/0)" ES256
call GET /.well-known/verifierd - -H 'Host: evil"host/<x>'
expect_eq "discovery does not echo a hostile Host header" "$(jget /issuer)" "https://127.0.0.1:$VD_PORT"
expect_schema "discovery document matches openapi.yaml" "openapi.yaml#/components/schemas/Discovery" "$VD_BODY"

call GET /v1/keys -
expect_status "GET /v1/keys (no token)" 200
expect_eq "JWKS content type" "$HTTP_CTYPE" application/jwk-set+json
cp "$VD_BODY" "$VD_TMP/jwks.json"
expect_eq "JWKS has one key" "$(jget -l /keys)" 1
expect_eq "JWKS key is EC P-256 ES256" "$(jget /keys/0/kty) $(jget /keys/0/crv) $(jget /keys/0/alg)" "EC P-256 ES256"
check "JWKS key has no private part (d)" test -z "$(jget /keys/0/d)"
KID=$(jget /keys/0/kid)
expect_schema "JWKS matches openapi.yaml" "openapi.yaml#/components/schemas/JWKS" "$VD_TMP/jwks.json"

call HEAD /healthz -
expect_status "HEAD /healthz" 200
# HEAD works wherever GET does, admin listings included
for x in attesters pcrs components policies results audit refvalues; do
    call HEAD "/v1/admin/$x" "$ADM"
    expect_status "HEAD /v1/admin/$x" 200
done
call HEAD /v1/admin/components/revoke "$ADM"
expect_status "HEAD on a POST-only admin endpoint" 405
expect_eq "... its Allow names POST" "$(hdr Allow)" "POST"
call POST /v1/admin/pcrs "$ADM" -H 'Content-Type: application/json' --data-binary '{}'
expect_status "POST on a GET-only admin endpoint" 405
expect_eq "... its Allow names GET, HEAD" "$(hdr Allow)" "GET, HEAD"

# ---- attest with evidence that proves nothing ----
vd_fake_evidence "$VD_TMP/ev.json"
EV=$(cat "$VD_TMP/ev.json")
CB=$(rand_b64url 32)
nonce
expect_status "POST /v1/challenge" 201
expect_schema "challenge answer matches openapi.yaml" "openapi.yaml#/components/schemas/Challenge" "$VD_BODY"
expect_schema "the test evidence matches evidence.schema.json" evidence.schema.json "$VD_TMP/ev.json"
# Non-canonical base64url (a length leaving one character; unused trailing
# bits set) is refused by the parser, and by the schema too (it took any
# string of the alphabet).
for v in YXR0ZXN0B YXR0ZXB; do
    /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["tpm-attest"][1]=sys.argv[2]; print(json.dumps(d))' \
        "$VD_TMP/ev.json" "$v" >"$VD_TMP/ev-noncanon.json"
    rc=0
    /usr/bin/python3 "$VFY_SOURCE_DIR/tests/tools/schema_check.py" \
        "$VFY_SOURCE_DIR/schemas/evidence.schema.json" "$VD_TMP/ev-noncanon.json" >/dev/null 2>&1 || rc=$?
    expect_eq "evidence.schema.json refuses the record \"$v\" (not canonical base64url)" "$rc" 1
    post /v1/attest "$A" "$(attest_body "$N" "$CB" nobody "$(cat "$VD_TMP/ev-noncanon.json")")"
    expect_eq "... and so does verifierd" "$HTTP_CODE" 400
done
post /v1/attest "$A" "$(attest_body "$N" "$CB" nobody "$EV")"
expect_status "POST /v1/attest (unregistered attester)" 200
expect_eq "attest content type" "$HTTP_CTYPE" application/json
expect_eq "attest status" "$(jget /status)" contraindicated
RID=$(jget /result_id)
EAR=$(jget /ear)
RID_NOBODY=$RID
expect_schema "attest answer matches openapi.yaml" "openapi.yaml#/components/schemas/AttestResponse" "$VD_BODY"
expect_schema "EAR claims (contraindicated) match ear-claims.schema.json" ear-claims.schema.json \
    <(jws_part "$EAR" 2)
expect_match "attest expires_at is RFC 3339" "$(jget /expires_at)" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$'
expect_eq "EAR jti is the result id" "$(jws_claim "$EAR" /jti)" "$RID"
expect_eq "EAR ear_status" "$(jws_claim "$EAR" /ear_status)" contraindicated
expect_eq "EAR eat_nonce is the nonce" "$(jws_claim "$EAR" /eat_nonce)" "$N"
expect_eq "EAR header" "$(jws_part "$EAR" 1)" "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"$KID\"}"
expect_match "EAR reasons name the unknown attester" "$(jws_claim "$EAR" /verifierd.reasons)" 'nobody is not registered'
expect_eq "EAR instance-identity 97 (unknown attester)" \
    "$(jws_claim "$EAR" /submods/platform/ear_trustworthiness_vector/instance-identity)" 97
check "EAR signature verifies with openssl against /v1/keys" jws_verify_openssl "$EAR" "$VD_TMP/jwks.json"
IFS=. read -r eh _ es <<<"$EAR"
FORGED="$eh.$(jws_part "$EAR" 2 | sed 's/contraindicated/affirming/' | b64url_enc).$es"
if jws_verify_openssl "$FORGED" "$VD_TMP/jwks.json"; then fail "tampered EAR verified"
else pass "a tampered EAR payload fails the openssl check"; fi

nonce
post /v1/attest "$A" "$(attest_body "$N" "$CB" nobody "$EV")" -H 'Accept: application/eat+jwt'
expect_status "POST /v1/attest, Accept: application/eat+jwt" 200
expect_eq "eat+jwt content type" "$HTTP_CTYPE" application/eat+jwt
expect_match "eat+jwt body is a bare compact JWS" "$(body)" '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$'
check "bare JWS verifies with openssl" jws_verify_openssl "$(body)" "$VD_TMP/jwks.json"
expect_eq "bare JWS eat_nonce" "$(jws_claim "$(body)" /eat_nonce)" "$N"

nonce
post /v1/attest "$A" "$(attest_body "$N" "$CB" nobody "$EV" '"max_ttl_s":7')"
E2=$(jget /ear)
expect_eq "max_ttl_s 7 gives exp - iat = 7" \
    "$(( $(jws_claim "$E2" /exp) - $(jws_claim "$E2" /iat) ))" 7
expect_eq "default result ttl is the policy's 300 s" \
    "$(( $(jws_claim "$EAR" /exp) - $(jws_claim "$EAR" /iat) ))" 300

nonce
post /v1/attest "$A" "$(attest_body "$N" "$CB" registered "$EV")"
expect_status "attest as a registered attester with a junk quote" 200
RID=$(jget /result_id)
expect_match "junk quote: reasons say the quote was rejected" "$(jws_claim "$(jget /ear)" /verifierd.reasons)" '[Qq]uote'
expect_eq "junk quote: instance-identity 96" \
    "$(jws_claim "$(jget /ear)" /submods/platform/ear_trustworthiness_vector/instance-identity)" 96

# A TPMS_ATTEST that libtss2-mu itself refuses (sizeofSelect 200): a
# contraindicated result, and no libtss2 log line on verifierd's stderr,
# which every attest client could otherwise fill (verifierd sets TSS2_LOG).
fx_attest="$VFY_SOURCE_DIR/tests/fixtures/quote/ecc-p256-ecdsa-sha256/attest.bin"
bad_attest=$({ head -c 107 "$fx_attest"; printf '\310'; tail -c +109 "$fx_attest"; } | b64url_enc)
EV_MU=$(printf '%s' "$EV" | sed 's|"tpm-attest":\["application/vnd.verifierd.tpms-attest","[^"]*"|"tpm-attest":["application/vnd.verifierd.tpms-attest","'"$bad_attest"'"|')
expect_match "the evidence carries the mutated TPMS_ATTEST" "$EV_MU" "$bad_attest"
nonce
post /v1/attest "$A" "$(attest_body "$N" "$CB" registered "$EV_MU")"
expect_status "attest with a TPMS_ATTEST libtss2-mu refuses" 200
expect_match "its reasons: the quote is malformed" "$(jws_claim "$(jget /ear)" /verifierd.reasons)" 'TPMS_ATTEST'
expect_nomatch "no libtss2 log line in verifierd's stderr" "$(cat "$VD_LOG")" 'ERROR:marshal|sizeofSelect'

# ---- results and revocations ----
call GET "/v1/results/$RID" "$A"
expect_status "GET /v1/results/{id}" 200
expect_eq "result fields" "$(jget /result_id) $(jget /status) $(jget /state)" "$RID contraindicated valid"
expect_schema "result state matches openapi.yaml" "openapi.yaml#/components/schemas/ResultState" "$VD_BODY"
expect_match "result expires_at" "$(jget /expires_at)" '^[0-9-]{10}T[0-9:]{8}Z$'
call GET "/v1/results/$RID_NOBODY" "$A"
expect_eq "the result for an unregistered attester is recorded too" "$HTTP_CODE $(jget /state)" "200 valid"
call GET /v1/results/AAAAAAAAAAAAAAAAAAAAAA "$A"
expect_problem "GET /v1/results/{unknown id}" 404
expect_schema "a problem document matches openapi.yaml" "openapi.yaml#/components/schemas/Problem" "$VD_BODY"
call GET "/v1/results/$(printf 'x%.0s' $(seq 1 300))" "$A"
expect_problem "GET /v1/results/{300-char id}" 404
call GET /v1/revocations?after=0 "$A"
expect_status "GET /v1/revocations?after=0" 200
expect_eq "revocations cursor is a number" "$(jget -t /cursor)" number
expect_eq "revocations list empty (nothing revoked yet)" "$(jget /revoked)" '[]'
expect_schema "revocation page matches openapi.yaml" "openapi.yaml#/components/schemas/RevocationFeed" "$VD_BODY"
call GET /v1/revocations "$A"
expect_status "GET /v1/revocations (no cursor)" 200
call GET /v1/revocations?after=1 "$A"
expect_problem "a cursor past the (empty) feed's end: 409 (the feed was reset)" 409
# The largest cursor, once the feed has given it (its head set in the
# database by hand, and put back after), is echoed exactly.
sqlite3 "$VD_DB" "INSERT INTO sqlite_sequence (name, seq) VALUES ('revocations', 9007199254740991)" ||
    die "setting the feed's head"
call GET /v1/revocations?after=9007199254740991 "$A"
expect_eq "the largest cursor (2^53 - 1) is echoed exactly" "$HTTP_CODE $(tr -d ' ' <"$VD_BODY")" \
    '200 {"cursor":9007199254740991,"revoked":[]}'
sqlite3 "$VD_DB" "DELETE FROM sqlite_sequence WHERE name = 'revocations'" || die "putting the head back"
for q in 'after=abc' 'after=-1' 'after=1x' 'after=99999999999999999999' 'limit=0' 'limit=1001' \
         'after=%095' 'after=%205' 'after=+5' 'after=9007199254740992' 'after=9223372036854775807'; do
    call GET "/v1/revocations?$q" "$A"
    case $q in
        after=*) expect_problem "GET /v1/revocations?$q" 400 'after must be an integer cursor 0..9007199254740991' ;;
        *) expect_problem "GET /v1/revocations?$q" 400 'limit must be an integer 1..1000' ;;
    esac
done

# ---- framing and headers a proxy could read differently ----
raw() {   # raw REQUEST: the status line verifierd answers a hand-written request with
    { printf '%b' "$1"; sleep 1; } |
        timeout 10 openssl s_client -quiet -connect "127.0.0.1:$VD_PORT" 2>/dev/null | head -n 1 | tr -d '\r'
}
expect_match "two Authorization headers: 400" \
    "$(raw "POST /v1/challenge HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $A\r\nAuthorization: Bearer $ADM\r\nContent-Length: 0\r\n\r\n")" \
    '^HTTP/1.1 400'
expect_match "two Content-Length headers: 400" \
    "$(raw "POST /v1/challenge HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $A\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 0\r\n\r\n{}")" \
    '^HTTP/1.1 400'
expect_match "Content-Length with Transfer-Encoding: 400" \
    "$(raw "POST /v1/challenge HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $A\r\nContent-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")" \
    '^HTTP/1.1 400'
expect_match "one of each, as a client sends them: 201" \
    "$(raw "POST /v1/challenge HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $A\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")" \
    '^HTTP/1.1 201'
# Every answer verifierd sends back on one connection: RAW_N status lines,
# RAW_STATUS the first one's code, the first answer's headers and body in
# $VD_TMP/raw.hdr and $VD_TMP/raw.body.
rawall() {
    { printf '%b' "$1"; sleep 1; } |
        timeout 10 openssl s_client -quiet -connect "127.0.0.1:$VD_PORT" 2>/dev/null >"$VD_TMP/raw.out"
    RAW_N=$(grep -ac '^HTTP/1\.[01] [0-9][0-9][0-9]' "$VD_TMP/raw.out")
    RAW_STATUS=$(head -n 1 "$VD_TMP/raw.out" | cut -d' ' -f2)
    /usr/bin/python3 - "$VD_TMP/raw.out" "$VD_TMP/raw.hdr" "$VD_TMP/raw.body" <<'PY'
import re, sys
d = open(sys.argv[1], 'rb').read()
h, _, rest = d.partition(b'\r\n\r\n')
m = re.search(rb'(?im)^content-length:\s*(\d+)', h)
open(sys.argv[2], 'wb').write(h)
open(sys.argv[3], 'wb').write(rest[:int(m.group(1))] if m else b'')
PY
}
# expect_raw_problem NAME STATUS DETAIL: the connection got exactly one
# answer, a problem with that status and detail, and it closed the
# connection (nothing after the headers is read as another request).
expect_raw_problem() {
    local why=""
    [ "$RAW_N" = 1 ] || why="$RAW_N answers"
    [ "$RAW_STATUS" = "$2" ] || why="$why status '$RAW_STATUS'"
    grep -qai '^Content-Type: application/problem+json' "$VD_TMP/raw.hdr" || why="$why not problem+json"
    grep -qai '^Connection: close' "$VD_TMP/raw.hdr" || why="$why no Connection: close"
    [ "$(jget /detail "$VD_TMP/raw.body")" = "$3" ] || why="$why detail '$(jget /detail "$VD_TMP/raw.body")'"
    if [ -z "$why" ]; then pass "$1 -> one $2 problem \"$3\", connection closed"
    else fail "$1:$why; got: $(head -c 400 "$VD_TMP/raw.out" | tr '\r\n' '  ')"; fi
}
# Whitespace before the colon: libmicrohttpd stores the header under
# "Content-Length " and sees no framing, so the body used to be served as a
# second request (a POST /v1/challenge got 201, then GET /metrics its 200):
# smuggling through a proxy that reads the header as Content-Length.
SMUGGLED='GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'
rawall "POST /v1/challenge HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $A\r\nContent-Length : 34\r\n\r\n$SMUGGLED"
expect_raw_problem "'Content-Length : 34' hiding a GET /metrics" 400 'header name "Content-Length " is not an HTTP token'
expect_nomatch "... the hidden GET /metrics was not served" "$(cat "$VD_TMP/raw.out")" 'verifierd_requests_total'
rawall "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length : 34\r\n\r\n$SMUGGLED"
expect_raw_problem "the same on GET /healthz" 400 'header name "Content-Length " is not an HTTP token'
rawall "POST /v1/challenge HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $A\r\nTransfer-Encoding : chunked\r\n\r\n22\r\n$SMUGGLED\r\n0\r\n\r\n"
expect_raw_problem "'Transfer-Encoding : chunked'" 400 'header name "Transfer-Encoding " is not an HTTP token'
rawall "GET /nope HTTP/1.1\r\nHost: x\r\nX(y): 1\r\n\r\n$SMUGGLED"
expect_raw_problem "a header name with '(' (before the 404 of its path)" 400 'header name "X(y)" is not an HTTP token'
# A coding other than chunked: libmicrohttpd waited for a body end it could
# not find until the --timeout watchdog cut the connection, without an answer.
for te in 'gzip, chunked' gzip 'chunked, gzip' identity ''; do
    rawall "POST /v1/challenge HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $A\r\nContent-Type: application/json\r\nTransfer-Encoding: $te\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
    expect_raw_problem "Transfer-Encoding: '$te'" 400 'Transfer-Encoding other than chunked'
done
rawall "POST /v1/challenge HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $A\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
expect_raw_problem "two Transfer-Encoding headers" 400 'Transfer-Encoding repeated'
rawall "POST /v1/challenge HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $A\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}"
expect_raw_problem "two Content-Length headers" 400 'Content-Length repeated or with Transfer-Encoding'
rawall "POST /v1/challenge HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $A\r\nContent-Type: application/json\r\nTransfer-Encoding: CHUNKED\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
expect_eq "Transfer-Encoding: CHUNKED (the coding's name in any case) is still read" "$RAW_N $RAW_STATUS" "1 201"
# Answers libmicrohttpd makes itself (docs/api.md): not problem+json, but
# each has one log line (checked with the log below).
for cl in -1 +2 0x10 '2, 2'; do
    rawall "POST /v1/challenge HTTP/1.1\r\nHost: x\r\nContent-Length: $cl\r\n\r\n{}"
    expect_eq "Content-Length: '$cl' -> 400 from libmicrohttpd" "$RAW_STATUS" 400
done
rawall "POST /v1/challenge HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n{}"
expect_eq "Content-Length beyond 2^64 -> 413 from libmicrohttpd" "$RAW_STATUS" 413
# A method that is not UTF-8: its log line stays UTF-8 JSON (checked below).
expect_match "method G\\xffT -> 405" \
    "$(raw "G\xffT /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")" '^HTTP/1.1 405'

# ---- 404, 405 ----
for p in /nope /v1 /v1/ /v1/results /v1/results/ /v1/keys/x /healthz/x /v1/challengex \
         /healthz%00x /v1/keys%00 '/%ff%c0%af' '/x%ED%A0%80y%E0%80%AFz%F4%90%80%80'; do
    call GET "$p" "$A"
    expect_problem "GET $p" 404
done
for mp in "GET /v1/challenge" "GET /v1/attest" "PUT /v1/attest" "POST /v1/keys" "DELETE /healthz" \
          "POST /metrics" "POST /.well-known/verifierd" "POST /v1/results/abc" "POST /v1/revocations" \
          "PUT /v1/admin/attesters" "DELETE /v1/admin/attesters"; do
    # shellcheck disable=SC2086
    call ${mp% *} "${mp#* }" "$ADM"
    expect_problem "$mp" 405
    expect_match "$mp: Allow header" "$(hdr Allow)" '^(GET|POST)'
done

# ---- 400: malformed attest and challenge requests ----
# Each with the exact detail: "type" is about:blank for all of them, so the
# detail is what shows the request failed the check it was written for.
Z=$(rand_b64url 32)
bad400() {   # bad400 NAME DETAIL BODY [PATH]
    post "${4:-/v1/attest}" "$A" "$3"
    expect_problem "$1" 400 "$2"
}
STRICT='body must be a JSON object (strict JSON: UTF-8, integers only)'
NONCE='nonce must be 32 bytes, base64url without padding'
CBD='channel_binding must be 32 bytes (tls-exporter), base64url without padding'
ATT='attester must be a name of 1..128 bytes without control characters'
TTL='max_ttl_s must be an integer 1..86400'
ONE='body must be one JSON object'
NOTJSON='body is not strict JSON: not well-formed JSON'
bad400 "attest: not JSON" "$STRICT" '{"nonce":'
bad400 "attest: JSON array" 'body must be a JSON object' '[]'
bad400 "attest: empty body" "$STRICT" ''
bad400 "attest: missing nonce" "$NONCE" "{\"channel_binding\":\"$Z\",\"attester\":\"a\",\"evidence\":$EV}"
bad400 "attest: nonce 31 bytes" "$NONCE" "$(attest_body "$(rand_b64url 31)" "$Z" a "$EV")"
# The alphabet and padding cases are 43 characters, the length of 32 bytes
# in base64url, so they fail on the character and not on the length; the
# same strings with a base64url character there are accepted (below).
bad400 "attest: nonce with padding (43 characters)" "$NONCE" "$(attest_body "${Z:0:42}=" "$Z" a "$EV")"
bad400 "attest: nonce standard base64 '/' (43 characters)" "$NONCE" "$(attest_body "/${Z:1}" "$Z" a "$EV")"
bad400 "attest: nonce not a string" "$NONCE" "{\"nonce\":1,\"channel_binding\":\"$Z\",\"attester\":\"a\",\"evidence\":$EV}"
bad400 "attest: channel_binding 33 bytes" "$CBD" "$(attest_body "$Z" "$(rand_b64url 33)" a "$EV")"
bad400 "attest: channel_binding standard base64 '+' (43 characters)" "$CBD" "$(attest_body "$Z" "+${Z:1}" a "$EV")"
bad400 "attest: channel_binding standard base64 '/' (43 characters)" "$CBD" "$(attest_body "$Z" "/${Z:1}" a "$EV")"
post /v1/attest "$A" "$(attest_body "_${Z:1}" "-${Z:1}" a "$EV")"
expect_status "attest: the same 43 characters with '_' and '-' there pass the body checks" 200
bad400 "attest: attester empty" "$ATT" "$(attest_body "$Z" "$Z" '' "$EV")"
bad400 "attest: attester 129 bytes" "$ATT" "$(attest_body "$Z" "$Z" "$(printf 'a%.0s' $(seq 1 129))" "$EV")"
bad400 "attest: unknown field" 'unknown field "extra"' "$(attest_body "$Z" "$Z" a "$EV" '"extra":1')"
bad400 "attest: duplicate field" 'duplicate field "nonce"' "$(attest_body "$Z" "$Z" a "$EV" "\"nonce\":\"$Z\"")"
bad400 "attest: max_ttl_s 0" "$TTL" "$(attest_body "$Z" "$Z" a "$EV" '"max_ttl_s":0')"
bad400 "attest: max_ttl_s 1.5" "$STRICT" "$(attest_body "$Z" "$Z" a "$EV" '"max_ttl_s":1.5')"
bad400 "attest: max_ttl_s string" "$TTL" "$(attest_body "$Z" "$Z" a "$EV" '"max_ttl_s":"60"')"
bad400 "attest: policy not a string" \
    'policy must be a string of at most 128 bytes without control characters' \
    "$(attest_body "$Z" "$Z" a "$EV" '"policy":7')"
bad400 "attest: policy empty (names none; it meant the attester's own before 0.2.7)" \
    "policy must not be empty (leave it out for the attester's own policy)" \
    "$(attest_body "$Z" "$Z" a "$EV" '"policy":""')"
bad400 "challenge: policy empty" 'policy must be a name (a string without control characters)' \
    '{"policy":""}' /v1/challenge
bad400 "attest: evidence a number" 'evidence must be a CMW JSON object or a base64url CMW CBOR string' \
    "$(attest_body "$Z" "$Z" a 42)"
bad400 "attest: evidence string not base64url" 'evidence string must be base64url CMW CBOR' \
    "$(attest_body "$Z" "$Z" a '"not*base64"')"
bad400 "attest: evidence base64url of junk CBOR" \
    'evidence is not a well-formed CMW collection: evidence: not well-formed definite-length CBOR without tags' \
    "$(attest_body "$Z" "$Z" a "\"$(printf 'junk' | b64url_enc)\"")"
bad400 "attest: evidence CMW without records" \
    'evidence lacks a required record: evidence: record "tpm-attest" is missing' \
    "$(attest_body "$Z" "$Z" a '{"__cmwc_t":"tag:github.com,2026:verifierd/agent-evidence/v1"}')"
bad400 "attest: evidence CMW with a wrong collection type" \
    'evidence __cmwc_t is missing or not the verifierd agent-evidence tag: evidence: __cmwc_t must be "tag:github.com,2026:verifierd/agent-evidence/v1"' \
    "$(attest_body "$Z" "$Z" a "${EV/agent-evidence\/v1/other}")"
bad400 "challenge: not JSON" "$NOTJSON" '{' /v1/challenge
bad400 "challenge: a JSON array" "$ONE" '["policy"]' /v1/challenge
bad400 "challenge: policy not a string" 'policy must be a name (a string without control characters)' \
    '{"policy":1}' /v1/challenge
bad400 "challenge: unknown policy" 'unknown policy' '{"policy":"no-such-policy"}' /v1/challenge
bad400 "challenge: trailing garbage" "$NOTJSON" '{"policy":"default"} trailing' /v1/challenge
bad400 "challenge: a second object" 'body is not strict JSON: bytes after the JSON value' \
    '{"policy":"default"} {}' /v1/challenge
bad400 "challenge: policy twice (the first used to win)" 'unknown or repeated field "policy"' \
    '{"policy":"default","policy":"nope"}' /v1/challenge
bad400 "challenge: unknown field" 'unknown or repeated field "zzz"' '{"policy":"default","zzz":[1,2]}' /v1/challenge
bad400 "challenge: attester with a control character" \
    'attester must be a name (a string without control characters)' '{"attester":"a\u0001b"}' /v1/challenge
bad400 "challenge: attester that is not UTF-8 (a raw 0xff byte)" \
    'body is not strict JSON: invalid UTF-8 in a string' $'{"attester":"a\xffb"}' /v1/challenge
# The challenge and admin bodies are held to libverify's strict JSON
# (vfy_json_check), like the attest body: cJSON alone took these.
bad400 "challenge: a key that is not UTF-8 (it was echoed raw in the detail)" \
    'body is not strict JSON: invalid UTF-8 in a string' $'{"a\xff":"x"}' /v1/challenge
bad400 "challenge: \\u0000 in the attester (cJSON cut the name there)" \
    'body is not strict JSON: \u0000 in a string' '{"attester":"a\u0000b"}' /v1/challenge
bad400 "challenge: a number 1.0" \
    'body is not strict JSON: a number that is not a plain integer (no fraction, exponent or leading zero)' \
    '{"policy":1.0}' /v1/challenge
bad400 "challenge: nested 17 deep" 'body is not strict JSON: nesting deeper than 16 levels' \
    "{\"policy\":$(printf '[%.0s' $(seq 16))1$(printf ']%.0s' $(seq 16))}" /v1/challenge
# An unknown key of more than 64 bytes is cut between characters in the
# detail (63 'a' and an e-acute: the cut used to fall inside the acute).
K63=$(printf 'a%.0s' $(seq 63))
bad400 "challenge: a long unknown key, cut before a 2-byte character" \
    "unknown or repeated field \"$K63\"" "{\"$K63\u00e9\":1}" /v1/challenge
check "... the problem body is UTF-8" iconv -f UTF-8 -t UTF-8 -o /dev/null "$VD_BODY"
post /v1/admin/components/revoke "$ADM" '{"kind":"model","name":"x"} }}garbage'
expect_problem "admin: trailing garbage after the object" 400 "$NOTJSON"
# A bad field must not burn a nonce: it is still good for a well-formed request.
nonce
post /v1/attest "$A" "$(attest_body "$N" "$CB" nobody "$EV" '"max_ttl_s":0')"
expect_problem "attest with a bad field and a live nonce" 400 "$TTL"
post /v1/attest "$A" "$(attest_body "$N" "$CB" nobody "$EV")"
expect_status "the same nonce in a well-formed request gets an EAR" 200
expect_eq "... for that nonce" "$(jws_claim "$(jget /ear)" /eat_nonce)" "$N"
expect_nomatch "the nonce of a rejected (400) request is still unused" \
    "$(jws_claim "$(jget /ear)" /verifierd.reasons)" '[Nn]once'

# ---- 415 ----
printf '%s' "$(attest_body "$Z" "$Z" a "$EV")" >"$VD_TMP/att.json"
call POST /v1/attest "$A" -H 'Content-Type: text/plain' --data-binary "@$VD_TMP/att.json"
expect_problem "attest with Content-Type: text/plain" 415
call POST /v1/attest "$A" --data-binary "@$VD_TMP/att.json"
expect_problem "attest with a form content type (curl default)" 415
call POST /v1/attest "$A" -H 'Content-Type: application/cmw+json' --data-binary "@$VD_TMP/att.json"
expect_problem "attest with Content-Type: application/cmw+json" 415
call POST /v1/challenge "$A" -H 'Content-Type: text/plain' --data-binary '{}'
expect_problem "challenge with a body of type text/plain" 415
call POST /v1/admin/policies "$ADM" -H 'Content-Type: text/plain' --data-binary "@$VFY_SOURCE_DIR/policies/default.json"
expect_problem "admin policy load with text/plain" 415
call POST /v1/attest "$A" -H 'Content-Type: application/json; charset=utf-8' --data-binary "@$VD_TMP/att.json"
expect_eq "application/json with a charset parameter is accepted" "$HTTP_CODE" 200

# ---- 413 ----
# An attest body is at most 1,402,198 bytes (1 MiB of CBOR evidence is
# 1,398,102 base64url characters, and the other fields); admin bodies 1 MiB.
# Exactly the limit is allowed (then malformed: 400); one byte more is 413,
# with Content-Length and with chunked transfer encoding (no length up front).
mkbody() { { printf '{"x":"'; head -c $(( $1 - 10 )) /dev/zero | tr '\0' a; printf '"}  '; } >"$2"; }
mkbody 1048576 "$VD_TMP/1m"
mkbody 1048577 "$VD_TMP/1m+1"
mkbody 1402198 "$VD_TMP/att-max"
mkbody 1402199 "$VD_TMP/att-max+1"
expect_eq "test bodies are 1 MiB and 1 MiB + 1" "$(wc -c <"$VD_TMP/1m") $(wc -c <"$VD_TMP/1m+1")" "1048576 1048577"
call POST /v1/attest "$A" -H 'Content-Type: application/json' --data-binary "@$VD_TMP/att-max"
expect_problem "attest body of exactly 1,402,198 bytes (malformed, not too large)" 400
call POST /v1/attest "$A" -H 'Content-Type: application/json' --data-binary "@$VD_TMP/att-max+1"
expect_problem "attest body one byte over with Content-Length" 413
call POST /v1/attest "$A" -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' \
    --data-binary "@$VD_TMP/att-max+1"
expect_problem "attest body one byte over, chunked" 413
call POST /v1/attest "$A" -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' \
    --data-binary "@$VD_TMP/att-max"
expect_problem "attest body of exactly the limit, chunked (400, not 413)" 400
# CBOR evidence up to 1 MiB fits (the body limit was 1 MiB, which stopped
# CBOR evidence at ~768 KiB with 413 "request body too large"): 900 KiB of
# junk CBOR is read and refused as malformed; 1 MiB + 1 is the evidence's 413.
cbor_body() {   # BYTES FILE: an attest body whose evidence string decodes to BYTES bytes
    { printf '{"nonce":"%s","channel_binding":"%s","attester":"a","evidence":"' "$Z" "$Z"
      head -c "$1" /dev/zero | tr '\0' '\377' | basenc --base64url -w0 | tr -d '='; printf '"}'; } >"$2"
}
cbor_body 921600 "$VD_TMP/cbor-900k"
call POST /v1/attest "$A" -H 'Content-Type: application/json' --data-binary "@$VD_TMP/cbor-900k"
expect_problem "900 KiB of CBOR evidence: read, and refused as malformed (not 413)" 400
cbor_body 1048577 "$VD_TMP/cbor-1m+1"
call POST /v1/attest "$A" -H 'Content-Type: application/json' --data-binary "@$VD_TMP/cbor-1m+1"
expect_problem "1 MiB + 1 of CBOR evidence: 413, the evidence's limit" 413
call POST /v1/admin/refvalues "$ADM" -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' \
    --data-binary "@$VD_TMP/1m+1"
expect_problem "admin bundle import 1 MiB + 1, chunked" 413
head -c 5000 /dev/zero | tr '\0' ' ' >"$VD_TMP/5k"
call POST /v1/challenge "$A" -H 'Content-Type: application/json' --data-binary "@$VD_TMP/5k"
expect_problem "challenge body above its 4 KiB cap" 413
call POST /v1/attest - -H 'Content-Type: application/json' --data-binary "@$VD_TMP/att-max+1"
expect_problem "an attest body over the limit without a token is refused before the body" 413
# GET takes no body, the admin listings and export included
call GET /v1/admin/results "$ADM" --data-binary 'ten bytes!'
expect_problem "admin GET with a 10-byte body" 413
expect_eq "... this endpoint takes no body" "$(jget /detail)" "this endpoint takes no body"
call GET /v1/admin/refvalues "$ADM" -H 'Transfer-Encoding: chunked' --data-binary 'x'
expect_problem "admin export with a chunked body" 413
# The server is still fine after all that.
call GET /healthz -
expect_status "healthz after the oversized requests" 200

# ---- admin API ----
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$VD_TMP/ak.key" 2>/dev/null
openssl pkey -in "$VD_TMP/ak.key" -pubout -out "$VD_TMP/ak.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$VD_TMP/ak2.key" 2>/dev/null
openssl pkey -in "$VD_TMP/ak2.key" -pubout -out "$VD_TMP/ak2.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$VD_TMP/ak3.key" 2>/dev/null
openssl pkey -in "$VD_TMP/ak3.key" -pubout -out "$VD_TMP/ak3.pem" 2>/dev/null
jstr() { sed -e ':a;N;$!ba' -e 's/\n/\\n/g' "$1"; }   # file -> JSON string body
AKJ=$(jstr "$VD_TMP/ak.pem")
call GET /v1/admin/attesters "$ADM"
expect_status "admin: list attesters" 200
expect_match "admin: the list has the attester verifyctl added" "$(body)" '"registered"'
post /v1/admin/attesters "$ADM" "{\"name\":\"agent-x\",\"ak_pem\":\"$AKJ\"}"
expect_status "admin: add attester" 201
expect_eq "admin: add attester body" "$(jget /added)" true
post /v1/admin/attesters "$ADM" "{\"name\":\"agent-x\",\"ak_pem\":\"$AKJ\"}"
expect_status "admin: add the same attester again (no-op)" 200
expect_eq "admin: re-add says added false" "$(jget /added)" false
post /v1/admin/attesters "$ADM" "{\"name\":\"agent-x\",\"ak_pem\":\"$(jstr "$VD_TMP/ak2.pem")\"}"
expect_problem "admin: same name, another key" 409
expect_eq "admin: ... its detail is the conflict itself" "$(jget /detail)" \
    "attester agent-x already exists with a different attestation key"
# the key of a revoked attester under a new name: 409 saying so
post /v1/admin/attesters "$ADM" "{\"name\":\"agent-x-gone\",\"ak_pem\":\"$(jstr "$VD_TMP/ak2.pem")\"}"
expect_status "admin: add an attester to revoke" 201
post /v1/admin/attesters/agent-x-gone/revoke "$ADM" ''
expect_eq "admin: revoke it (no other attester on its key)" "$HTTP_CODE $(body)" \
    '200 {"revoked":true,"already_revoked":false,"shared_key_active":0,"shared_key_attesters":[]}'
post /v1/admin/attesters "$ADM" "{\"name\":\"agent-x-back\",\"ak_pem\":\"$(jstr "$VD_TMP/ak2.pem")\"}"
expect_problem "admin: its key under a new name" 409
expect_eq "admin: ... named as a revoked attester's key" "$(jget /detail)" \
    "the attestation key of revoked attester agent-x-gone cannot be registered again"
post /v1/admin/attesters "$ADM" '{"name":"agent-y"}'
expect_problem "admin: attester without a key" 400
# Names that read as another (from 0.2.7): a zero-width space after it, a
# space at either end ("agent-1 " lists as "agent-1").
post /v1/admin/attesters "$ADM" "{\"name\":\"agent-1\\u200b\",\"ak_pem\":\"$AKJ\"}"
expect_problem "admin: attester name with a zero-width space" 400 \
    'attester name contains an invisible character (U+200B)'
post /v1/admin/attesters "$ADM" "{\"name\":\"agent-1 \",\"ak_pem\":\"$AKJ\"}"
expect_problem "admin: attester name ending with a space" 400 'attester name begins or ends with a space'
post /v1/admin/attesters "$ADM" '{"name":"agent-y","ak_pem":"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}'
# A detail is the store's message alone, as verifyctl prints it: the
# generic text of the error code in front repeated it ("attestation key is
# malformed: attestation key: attestation key is malformed").
expect_problem "admin: attester with a garbage PEM" 400 'attestation key: attestation key is malformed'
post /v1/admin/attesters "$ADM" "{\"name\":\"agent-y\",\"ak_pem\":\"$AKJ\",\"policy\":\"no-such-policy\"}"
expect_problem "admin: attester naming a policy not loaded" 404 'policy no-such-policy not found (load it first)'
# A scheme the key cannot take: what verifyctl says of --scheme, not the
# quote check's "signature scheme differs from the AK's registered scheme".
post /v1/admin/attesters "$ADM" "{\"name\":\"agent-y\",\"ak_pem\":\"$AKJ\",\"scheme\":\"rsassa-sha256\"}"
expect_problem "admin: an EC key with scheme rsassa-sha256" 400 \
    '"scheme" rsassa-sha256 does not fit this key (EC keys take ecdsa-*, RSA keys rsassa-* or rsapss-*; a TPM2B_PUBLIC that names its scheme takes only that one)'
post /v1/admin/attesters "$ADM" "{\"name\":\"agent-y\",\"ak_pem\":\"$AKJ\",\"scheme\":\"ecdsa-md5\"}"
expect_problem "admin: an unknown scheme" 400 'unsupported signing scheme ecdsa-md5'
post /v1/admin/attesters "$ADM" '{"name":"agent-y","ak_public":"!!"}'
expect_problem "admin: ak_public not base64url" 400
# The field says what the key is, as verifyctl's --ak-pem and --ak-public
# do: a PEM file sent as ak_public was taken (the library sniffs PEM).
post /v1/admin/attesters "$ADM" "{\"name\":\"agent-y\",\"ak_public\":\"$(b64url_enc <"$VD_TMP/ak3.pem")\"}"
expect_problem "admin: a PEM file in ak_public" 400 '"ak_public" holds a PEM file (send it as "ak_pem")'
post /v1/admin/attesters "$ADM" '{"name":"agent-y","ak_pem":"AAAA"}'
expect_problem "admin: ak_pem that is not PEM" 400 \
    '"ak_pem" is not a PEM public key (a TPM2B_PUBLIC goes in "ak_public", base64url)'
expect_eq "admin: ... neither was added" "$("$VCTL" --db "$VD_DB" list attesters --json | grep -c '"agent-y"')" 0
FXQ="$VFY_SOURCE_DIR/tests/fixtures/quote/rsa2048-rsapss-sha256"
post /v1/admin/attesters "$ADM" "{\"name\":\"agent-tpm\",\"ak_public\":\"$(b64url_enc <"$FXQ/ak.pub")\",\"scheme\":\"rsapss-sha256\"}"
expect_eq "admin: a TPM2B_PUBLIC in ak_public is added" "$HTTP_CODE $(body)" '201 {"added":true}'
post /v1/admin/attesters "$ADM" "{\"name\":\"agent-tpm2\",\"ak_public\":\"$(b64url_enc <"$FXQ/ak.pub")\",\"scheme\":\"ecdsa-sha256\"}"
expect_problem "admin: an RSA TPM2B_PUBLIC with scheme ecdsa-sha256" 400 \
    '"scheme" ecdsa-sha256 does not fit this key (EC keys take ecdsa-*, RSA keys rsassa-* or rsapss-*; a TPM2B_PUBLIC that names its scheme takes only that one)'
post /v1/admin/attesters "$ADM" '{'
expect_problem "admin: attester body not JSON" 400
call GET /v1/admin/attesters "$ADM"
expect_match "admin: list shows agent-x" "$(body)" '"agent-x"'
expect_schema "admin: attester listing matches openapi.yaml" \
    'openapi.yaml#/paths/~1v1~1admin~1attesters/get/responses/200/content/application~1json/schema' "$VD_BODY"
VL=$("$VCTL" --db "$VD_DB" list attesters --json)
expect_match "verifyctl sees the attester added over HTTPS" "$VL" '"agent-x"'
post /v1/admin/attesters/agent-x/revoke "$ADM" '{}'
expect_status "admin: revoke attester" 200
call GET /v1/admin/attesters "$ADM"
expect_match "admin: attester now revoked" "$(body)" '"state":[[:space:]]*"revoked"'
post /v1/admin/attesters/no-such/revoke "$ADM" '{}'
expect_problem "admin: revoke an unknown attester" 404
# Revoking one of several attesters on one key names the others still
# active (at most 16, in name order), as verifyctl attester revoke does: a
# compromised key needs all of them revoked.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$VD_TMP/aks.key" 2>/dev/null
openssl pkey -in "$VD_TMP/aks.key" -pubout -out "$VD_TMP/aks.pem" 2>/dev/null
for i in $(seq -w 1 20); do
    "$VCTL" --db "$VD_DB" attester add "share-$i" --ak-pem "$VD_TMP/aks.pem" >/dev/null 2>&1 ||
        die "verifyctl attester add share-$i"
done
names() { printf '"share-%s",' "$@" | sed 's/,$//'; }
post /v1/admin/attesters/share-01/revoke "$ADM" ''
expect_eq "admin: revoke share-01: 19 others share its key, 16 named" "$HTTP_CODE $(body)" \
    "200 {\"revoked\":true,\"already_revoked\":false,\"shared_key_active\":19,\"shared_key_attesters\":[$(names $(seq -w 2 17))]}"
expect_schema "admin: ... the answer matches openapi.yaml" \
    'openapi.yaml#/paths/~1v1~1admin~1attesters~1{name}~1revoke/post/responses/200/content/application~1json/schema' "$VD_BODY"
post /v1/admin/attesters/share-01/revoke "$ADM" ''
expect_eq "admin: revoke share-01 again: nothing changed, and it says so" "$HTTP_CODE $(body)" \
    "200 {\"revoked\":true,\"already_revoked\":true,\"shared_key_active\":19,\"shared_key_attesters\":[$(names $(seq -w 2 17))]}"
post /v1/admin/attesters/share-02/revoke "$ADM" ''
expect_eq "admin: revoke share-02: the revoked share-01 is not counted" "$HTTP_CODE $(body)" \
    "200 {\"revoked\":true,\"already_revoked\":false,\"shared_key_active\":18,\"shared_key_attesters\":[$(names $(seq -w 3 18))]}"

# Policies
cat >"$VD_TMP/pol.json" <<'EOF'
{"id":"api-test","version":3,
 "platform":{"bank":"sha256","pcrs":[0,7]},
 "agent":{"pcr":23,"history":"current","unknown_context":"warning"},
 "freshness":{"nonce_ttl_s":42},
 "result":{"ttl_s":120}}
EOF
post /v1/admin/policies "$ADM" "$(cat "$VD_TMP/pol.json")"
expect_status "admin: load a policy" 201
expect_schema "the shipped policies and this one match policy.schema.json" policy.schema.json \
    "$VFY_SOURCE_DIR"/policies/*.json "$VD_TMP/pol.json"
expect_eq "admin: policy id and version" "$(jget /id)@$(jget /version) $(jget /added)" "api-test@3 true"
post /v1/admin/policies "$ADM" "$(cat "$VD_TMP/pol.json")"
expect_eq "admin: same policy again is a no-op" "$HTTP_CODE $(jget /added)" "200 false"
post /v1/admin/policies "$ADM" "$(sed 's/"ttl_s":120/"ttl_s":121/' "$VD_TMP/pol.json")"
expect_problem "admin: other content under the same id and version" 409
post /v1/admin/policies "$ADM" '{"id":"broken","version":1,"agent":{"history":"sometimes"}}'
expect_problem "admin: invalid policy" 400
# A policy is at most 64 KiB; one byte more is too large: 413 as a body past
# the endpoint's 1 MiB is (it was 400), both limits checked.
padpol() {  # padpol VERSION SIZE FILE: a valid policy of exactly SIZE bytes
    local tail="\"id\":\"big\",\"version\":$1}"
    { printf '{'; head -c $(( $2 - 1 - ${#tail} )) /dev/zero | tr '\0' ' '; printf '%s' "$tail"; } >"$3"
}
padpol 1 65536 "$VD_TMP/pol64k"
padpol 2 65537 "$VD_TMP/pol64k+1"
expect_eq "test policies are 64 KiB and 64 KiB + 1" "$(wc -c <"$VD_TMP/pol64k") $(wc -c <"$VD_TMP/pol64k+1")" "65536 65537"
call POST /v1/admin/policies "$ADM" -H 'Content-Type: application/json' --data-binary "@$VD_TMP/pol64k"
expect_eq "admin: a policy of exactly 64 KiB is loaded" "$HTTP_CODE $(jget /id)@$(jget /version)" "201 big@1"
call POST /v1/admin/policies "$ADM" -H 'Content-Type: application/json' --data-binary "@$VD_TMP/pol64k+1"
expect_problem "admin: a policy of 64 KiB + 1" 413 \
    'invalid policy: policy exceeds 64 KiB: policy is 65537 bytes, the limit is 65536'
call POST /v1/admin/policies "$ADM" -H 'Content-Type: application/json' --data-binary "@$VD_TMP/1m+1"
expect_problem "admin: a policy body past the endpoint's 1 MiB" 413 'request body too large'
call GET /v1/admin/policies "$ADM"
expect_match "admin: policy list has api-test" "$(body)" '"api-test"'
post /v1/challenge "$A" '{"policy":"api-test"}'
expect_eq "challenge with the new policy uses its nonce_ttl_s" "$HTTP_CODE $(jget /ttl_s)" "201 42"

# Reference values: components, PCRs, bundles
H1=$(printf 'tool one' | openssl dgst -sha256 -r | cut -c1-64)
H2=$(printf 'model one' | openssl dgst -sha256 -r | cut -c1-64)
P0=$(printf 'pcr zero' | openssl dgst -sha256 -r | cut -c1-64)
"$VCTL" --db "$VD_TMP/src.db" init >/dev/null
"$VCTL" --db "$VD_TMP/src.db" component add tool payments.transfer --digest "sha256:$H1" --version 2.1.0 >/dev/null
"$VCTL" --db "$VD_TMP/src.db" component add model llama --digest "sha256:$H2" >/dev/null
"$VCTL" --db "$VD_TMP/src.db" pcr add default --index 0 --digest "$P0" >/dev/null
"$VCTL" --db "$VD_TMP/src.db" export >"$VD_TMP/bundle.json"
post /v1/admin/refvalues "$ADM" "$(cat "$VD_TMP/bundle.json")"
expect_status "admin: import a verifyctl bundle" 200
expect_eq "admin: import counts" "$(jget /components) $(jget /pcrs)" "2 1"
post /v1/admin/refvalues "$ADM" "$(cat "$VD_TMP/bundle.json")"
expect_status "admin: import the same bundle again" 200
post /v1/admin/refvalues "$ADM" '{"version":1,"components":"nope"}'
expect_problem "admin: malformed bundle" 400
call GET /v1/admin/components "$ADM"
expect_match "admin: components list has the imported tool" "$(body)" "$H1"

call GET /v1/admin/pcrs "$ADM"
expect_match "admin: pcrs list has the imported value" "$(body)" "$P0"
call GET /v1/admin/refvalues "$ADM"
expect_status "admin: export bundle" 200
cp "$VD_BODY" "$VD_TMP/export.json"
expect_schema "admin export matches refvalues.schema.json" refvalues.schema.json "$VD_TMP/export.json"
expect_eq "admin export = verifyctl export of the same DB" \
    "$(cat "$VD_TMP/export.json")" "$("$VCTL" --db "$VD_DB" export)"
"$VCTL" --db "$VD_TMP/dst.db" init >/dev/null
check "verifyctl imports the admin export" bash -c "\"$VCTL\" --db \"$VD_TMP/dst.db\" import \"$VD_TMP/export.json\" >/dev/null"
expect_match "the copy has the tool" "$("$VCTL" --db "$VD_TMP/dst.db" list components --json)" "$H1"
# The schema takes in a component's version and note what the importer takes
# (vfy_name_char, as in names): no C0 or C1 control, no bidirectional
# formatting character (it had no rule for versions and let a note carry
# C1 controls and bidi overrides).
cbundle() {  # cbundle VERSION NOTE: a bundle of one tool (JSON string contents)
    printf '{"format":"verifierd-refvalues","version":1,"components":[{"kind":"tool","name":"charset","version":"%s","digest":"sha256:%064x","state":"approved","note":"%s"}]}' \
        "$1" 7 "$2"
}
for c in 'version 1\u0085|component version contains a control or bidirectional formatting character' \
         'version 1\u202e|component version contains a control or bidirectional formatting character' \
         'version 1\u0007|component version contains a control character' \
         'note x\u0085|note contains a control or bidirectional formatting character' \
         'note x\u2067|note contains a control or bidirectional formatting character'; do
    field=${c%% *} val=${c#* } want=${val#*|} val=${val%%|*}
    if [ "$field" = version ]; then cbundle "$val" "" >"$VD_TMP/cb.json"; else cbundle 1 "$val" >"$VD_TMP/cb.json"; fi
    rc=0   # 1: the document does not validate (2 would be a broken schema)
    /usr/bin/python3 "$VFY_SOURCE_DIR/tests/tools/schema_check.py" \
        "$VFY_SOURCE_DIR/schemas/refvalues.schema.json" "$VD_TMP/cb.json" >/dev/null 2>&1 || rc=$?
    expect_eq "refvalues.schema.json refuses a $field \"$val\"" "$rc" 1
    post /v1/admin/refvalues "$ADM" "$(cat "$VD_TMP/cb.json")"
    expect_problem "admin: ... and so does the import, naming the entry" 400 "bundle components[0]: $want"
done
cbundle '1.0-\u03b2' 'caf\u00e9 \u2014 hf.co/x' >"$VD_TMP/cb.json"
expect_schema "refvalues.schema.json takes a version and note outside ASCII" refvalues.schema.json "$VD_TMP/cb.json"
post /v1/admin/refvalues "$ADM" "$(cat "$VD_TMP/cb.json")"
expect_eq "admin: ... and so does the import" "$HTTP_CODE $(jget /components)" "200 1"

# A field of the wrong type is refused, never taken as left out: a client
# writing an unset digest as null must not revoke every digest of the name.
post /v1/admin/components/revoke "$ADM" '{"kind":"model","name":"llama","digest":null}'
expect_problem "admin: revoke with digest null" 400
expect_eq "admin: ... naming the field" "$(jget /detail)" 'field "digest" must be a string'
post /v1/admin/components/revoke "$ADM" "{\"kind\":\"model\",\"name\":\"llama\",\"digest\":[\"sha256:$H2\"]}"
expect_problem "admin: revoke with digest an array" 400
expect_match "admin: ... llama is still approved" \
    "$("$VCTL" --db "$VD_DB" list components --json | tr -d ' \t\n')" '"name":"llama"[^}]*"state":"approved"'
post /v1/admin/attesters "$ADM" "{\"name\":\"agent-z\",\"ak_pem\":\"$(jstr "$VD_TMP/ak3.pem")\",\"policy\":[\"strict\"]}"
expect_problem "admin: attester with policy an array" 400
expect_eq "admin: ... naming the field" "$(jget /detail)" 'field "policy" must be a string'
post /v1/admin/attesters "$ADM" "{\"name\":\"agent-z\",\"ak_pem\":\"$(jstr "$VD_TMP/ak3.pem")\",\"refset\":null}"
expect_eq "admin: attester with refset null: 400 naming it" "$HTTP_CODE $(jget /detail)" \
    '400 field "refset" must be a string'
expect_eq "admin: ... and not added" "$("$VCTL" --db "$VD_DB" list attesters --json | grep -c '"agent-z"')" 0
post /v1/admin/pcrs/revoke "$ADM" "{\"set\":\"default\",\"bank\":5,\"index\":0,\"digest\":\"$P0\"}"
expect_eq "admin: PCR revoke with bank a number: 400 naming it" "$HTTP_CODE $(jget /detail)" \
    '400 field "bank" must be a string'
post /v1/admin/pcrs/revoke "$ADM" "{\"set\":\"default\",\"index\":\"0\",\"digest\":\"$P0\"}"
expect_eq "admin: PCR revoke with index a string: 400 naming it" "$HTTP_CODE $(jget /detail)" \
    '400 field "index" must be a number'

# Strict JSON: cJSON alone stopped a string at \u0000, so this revoked
# payments.transfer, and "a\u0000b" added an attester "a"; it read 0.0 as 0.
NUL='body is not strict JSON: \u0000 in a string'
post /v1/admin/components/revoke "$ADM" '{"kind":"tool","name":"payments.transfer\u0000-old"}'
expect_problem "admin: revoke payments.transfer\\u0000-old" 400 "$NUL"
expect_match "admin: ... payments.transfer is still approved" \
    "$("$VCTL" --db "$VD_DB" list components --json | tr -d ' \t\n')" '"name":"payments.transfer"[^}]*"state":"approved"'
post /v1/admin/attesters "$ADM" "{\"name\":\"a\\u0000b\",\"ak_pem\":\"$(jstr "$VD_TMP/ak3.pem")\"}"
expect_problem "admin: add attester a\\u0000b" 400 "$NUL"
expect_eq "admin: ... no attester a was added" \
    "$("$VCTL" --db "$VD_DB" list attesters --json | tr -d ' \t\n' | grep -c '"name":"a"')" 0
post /v1/admin/pcrs/revoke "$ADM" "{\"set\":\"default\",\"index\":0.0,\"digest\":\"$P0\"}"
expect_problem "admin: PCR revoke with index 0.0" 400 \
    'body is not strict JSON: a number that is not a plain integer (no fraction, exponent or leading zero)'
expect_match "admin: ... the PCR value is still approved" \
    "$("$VCTL" --db "$VD_DB" list pcrs --json | tr -d ' \t\n')" "\"digest\":\"$P0\"[^}]*\"state\":\"approved\""
post /v1/admin/attesters "$ADM" $'{"name":"agent-u","ak_pem":"x","\xc3\x28":"y"}'
expect_problem "admin: a key that is not UTF-8" 400 'body is not strict JSON: invalid UTF-8 in a string'
# A detail that echoes a decoded path stays UTF-8: %ff is not.
call POST /v1/admin/attesters/%ff/revoke "$ADM"
expect_problem "admin: revoke attester %ff" 404 'attester ? not found'
check "admin: ... the problem body is UTF-8" iconv -f UTF-8 -t UTF-8 -o /dev/null "$VD_BODY"

post /v1/admin/components/revoke "$ADM" '{"kind":"tool","name":"payments.transfer"}'
expect_status "admin: revoke a component" 200
expect_eq "admin: one component revoked" "$(jget /revoked)" 1
expect_match "verifyctl sees it revoked" "$("$VCTL" --db "$VD_DB" list components --json)" '"revoked"'
post /v1/admin/components/revoke "$ADM" '{"kind":"gadget","name":"x"}'
expect_problem "admin: revoke with a bad kind" 400
post /v1/admin/components/revoke "$ADM" '{"kind":"model","name":"llama","digest":"sha256:xyz"}'
expect_problem "admin: revoke with a bad digest" 400
post /v1/admin/components/revoke "$ADM" '{"kind":"model","name":"no-such-model"}'
expect_problem "admin: revoke an unknown component" 404
post /v1/admin/pcrs/revoke "$ADM" "{\"set\":\"default\",\"index\":0,\"digest\":\"$P0\"}"
expect_eq "admin: revoke a PCR value" "$HTTP_CODE $(body)" '200 {"revoked":1,"results_revoked":0}'
# again: nothing changes, and the answer says so (it said "revoked":1), as
# for a component revoked already
post /v1/admin/pcrs/revoke "$ADM" "{\"set\":\"default\",\"index\":0,\"digest\":\"$P0\"}"
expect_eq "admin: revoke it again: revoked 0" "$HTTP_CODE $(body)" '200 {"revoked":0,"results_revoked":0}'
expect_schema "admin: ... the answer matches openapi.yaml" \
    'openapi.yaml#/components/schemas/RevokeCounts' "$VD_BODY"
post /v1/admin/components/revoke "$ADM" '{"kind":"tool","name":"payments.transfer"}'
expect_eq "admin: a component revoked already: revoked 0" "$HTTP_CODE $(body)" '200 {"revoked":0,"results_revoked":0}'
post /v1/admin/pcrs/revoke "$ADM" "{\"set\":\"default\",\"index\":24,\"digest\":\"$P0\"}"
expect_problem "admin: PCR index 24" 400
post /v1/admin/pcrs/revoke "$ADM" "{\"set\":\"default\",\"index\":0,\"digest\":\"abcd\"}"
expect_problem "admin: PCR digest of the wrong size" 400
post /v1/admin/pcrs/revoke "$ADM" "{\"set\":\"default\",\"index\":1,\"digest\":\"$P0\"}"
expect_problem "admin: revoke a PCR value that is not stored" 404

call GET /v1/admin/results "$ADM"
expect_status "admin: list results" 200
expect_match "admin: results list has the first result" "$(body)" "$RID"
call GET /v1/admin/audit "$ADM"
expect_status "admin: audit log" 200
expect_match "admin: audit names the admin token" "$(body)" 'token:dev-admin'
expect_match "admin: audit has the component revocation" "$(body)" 'payments.transfer'
# Listings come one page at a time: ?limit=&offset=, a Link to the next.
call GET /v1/admin/audit "$ADM"
NAUDIT=$(jget -l "")
check "admin: the audit log has more than 2 rows ($NAUDIT)" test "$NAUDIT" -gt 2
expect_eq "admin: a full listing has no Link" "$(hdr Link)" ""
call GET "/v1/admin/audit?limit=2" "$ADM"
expect_status "admin: audit, limit 2" 200
expect_eq "admin: ... 2 rows" "$(jget -l "")" 2
FIRST2="$(jget /0/seq) $(jget /1/seq)"
expect_eq "admin: ... and a Link to the next page" "$(hdr Link)" \
    '</v1/admin/audit?offset=2&limit=2>; rel="next"'
call GET "/v1/admin/audit?offset=2&limit=2" "$ADM"
expect_status "admin: audit, the next page" 200
check "admin: the next page starts after the first ($FIRST2, then $(jget /0/seq))" \
    test "$(jget /0/seq)" -gt "${FIRST2#* }"
call GET "/v1/admin/audit?offset=$((NAUDIT - 1))&limit=5" "$ADM"
expect_eq "admin: the last page: 1 row, no Link" "$(jget -l "") $(hdr Link)" "1 "
call GET "/v1/admin/audit?offset=$NAUDIT" "$ADM"
expect_eq "admin: past the end: an empty array" "$(body)" "[]"
for q in "limit=0" "limit=10001" "limit=x" "limit=-1" "offset=-1" "offset=1.5"; do
    call GET "/v1/admin/results?$q" "$ADM"
    expect_problem "admin: listing with $q" 400
done
call GET /v1/admin/nope "$ADM"
expect_problem "admin: unknown admin path" 404
call GET /v1/admin/ "$ADM"
expect_problem "admin: bare /v1/admin/" 404

# ---- metrics ----
metric() { grep -F "$1 " "$VD_TMP/metrics" | tail -n 1 | awk '{print $NF}'; }
call GET /metrics -
expect_status "GET /metrics" 200
expect_eq "metrics content type" "$HTTP_CTYPE" text/plain
cp "$VD_BODY" "$VD_TMP/metrics"
h0=$(metric 'verifierd_requests_total{endpoint="healthz",code="200"}')
v0=$(metric 'verifierd_verdicts_total{status="contraindicated"}')
a0=$(metric 'verifierd_requests_total{endpoint="attest",code="413"}')
g0=$(metric 'verifierd_group_commit_answers_total')
c0=$(metric 'verifierd_group_commits_total')
for _ in 1 2 3; do call GET /healthz -; done
nonce
post /v1/attest "$A" "$(attest_body "$N" "$CB" nobody "$EV")"
call POST /v1/attest "$A" -H 'Content-Type: application/json' --data-binary "@$VD_TMP/att-max+1"
call GET /metrics -
cp "$VD_BODY" "$VD_TMP/metrics"
expect_eq "metrics: healthz 200 counter grew by 3" "$(metric 'verifierd_requests_total{endpoint="healthz",code="200"}')" $((h0 + 3))
expect_eq "metrics: contraindicated verdicts grew by 1" "$(metric 'verifierd_verdicts_total{status="contraindicated"}')" $((v0 + 1))
expect_eq "metrics: attest 413 counter grew by 1" "$(metric 'verifierd_requests_total{endpoint="attest",code="413"}')" $((a0 + 1))
expect_eq "metrics: the attest answer went through one group commit" \
    "$(metric 'verifierd_group_commit_answers_total'):$(metric 'verifierd_group_commits_total')" \
    "$((g0 + 1)):$((c0 + 1))"
expect_eq "metrics: no failed group commit" "$(metric 'verifierd_group_commit_failures_total')" 0
expect_match "metrics: 405s are counted" "$(cat "$VD_TMP/metrics")" 'verifierd_requests_total\{endpoint="[a-z-]+",code="405"\} [1-9]'
expect_match "metrics: verdicts_total has affirming" "$(cat "$VD_TMP/metrics")" 'verifierd_verdicts_total\{status="affirming"\} 0'
expect_match "metrics: histogram TYPE line" "$(cat "$VD_TMP/metrics")" '# TYPE verifierd_request_duration_seconds histogram'
inf=$(metric 'verifierd_request_duration_seconds_bucket{endpoint="attest",le="+Inf"}')
cnt=$(metric 'verifierd_request_duration_seconds_count{endpoint="attest"}')
expect_eq "metrics: attest +Inf bucket equals _count" "$inf" "$cnt"
expect_eq "metrics: attest _count equals the sum of attest request counters" "$cnt" \
    "$(grep '^verifierd_requests_total{endpoint="attest"' "$VD_TMP/metrics" | awk '{s += $NF} END {print s}')"
check "metrics: attest buckets are cumulative" bash -c \
    "grep '^verifierd_request_duration_seconds_bucket{endpoint=\"attest\"' '$VD_TMP/metrics' |
     awk '{ if (\$NF < prev) exit 1; prev = \$NF }'"
expect_match "metrics: attest latency sum is positive" \
    "$(metric 'verifierd_request_duration_seconds_sum{endpoint="attest"}')" '^[0-9]+\.[0-9]*[1-9]'

# ---- retention in group commits (--results-keep-days 2) ----
# 12 results that expired 10 days ago and one that expired yesterday, put
# there with sqlite3 beside the running verifierd; each group commit deletes
# up to 8 expired ones, so three attestations remove the 12 and keep the
# recent one.
now=$(date +%s)
{
    printf 'BEGIN;\n'
    for i in $(seq 1 12); do
        printf "INSERT INTO results (id, attester, iat, exp, status) VALUES ('old-%d', 'registered', %d, %d, 'affirming');\n" \
            "$i" $((now - 864000 - 300 + i)) $((now - 864000 + i))
    done
    printf "INSERT INTO results (id, attester, iat, exp, status) VALUES ('yesterday', 'registered', %d, %d, 'affirming');\n" \
        $((now - 86700)) $((now - 86400))
    printf 'COMMIT;\n'
} | sqlite3 "$VD_DB"
call GET /metrics -
p0=$(awk '/^verifierd_results_pruned_total /{print $2}' "$VD_BODY")
for _ in 1 2 3; do
    nonce
    post /v1/attest "$A" "$(attest_body "$N" "$CB" registered "$EV")"
    expect_status "retention: an attestation (its commit prunes)" 200
done
call GET /metrics -
expect_eq "retention: 12 expired results pruned" \
    "$(( $(awk '/^verifierd_results_pruned_total /{print $2}' "$VD_BODY") - ${p0:-0} ))" 12
expect_eq "retention: none of them left, yesterday's kept" \
    "$(sqlite3 "$VD_DB" "SELECT count(*) FROM results WHERE id LIKE 'old-%'"):$(sqlite3 "$VD_DB" "SELECT count(*) FROM results WHERE id = 'yesterday'")" "0:1"
call GET /v1/results/old-1 "$A"
expect_status "retention: a pruned result is 404" 404

# ---- the write-ahead log stays bounded (--wal-limit-mib 1) ----
# A reader holding a snapshot (sqlite3 in the background, 3 s) keeps
# passive checkpoints from copying, so two bundles of 3000 components take
# the WAL past 1 MiB. While the reader holds it a restarting checkpoint
# gives up after 20 ms (writes must not stall behind a long reader); once
# the reader is gone one succeeds and the WAL is back under the limit.
wal_bundle() {  # FIRST: 3000 tools named wal-FIRST.. with distinct digests
    printf '{"format":"verifierd-refvalues","version":1,"policies":[],"attesters":[],"pcrs":[],"components":['
    for i in $(seq "$1" $(($1 + 2999))); do
        [ "$i" -gt "$1" ] && printf ','
        printf '{"kind":"tool","name":"wal-%d","version":"1","digest":"sha256:%064x","state":"approved","note":""}' "$i" "$i"
    done
    printf ']}'
}
wal_bundle 1 >"$VD_TMP/wal1.json"
wal_bundle 3001 >"$VD_TMP/wal2.json"
{ printf 'BEGIN;\nSELECT count(*) FROM components;\n'; sleep 3; printf 'COMMIT;\n'; } |
    sqlite3 "$VD_DB" >/dev/null &
READER=$!
sleep 0.3
call POST /v1/admin/refvalues "$ADM" -H 'Content-Type: application/json' --data-binary "@$VD_TMP/wal1.json"
expect_status "wal: import 3000 components" 200
call POST /v1/admin/refvalues "$ADM" -H 'Content-Type: application/json' --data-binary "@$VD_TMP/wal2.json"
expect_status "wal: import 3000 more" 200
sleep 0.5
call GET /metrics -
check "wal: past the limit while the reader holds it ($(awk '/^verifierd_wal_pages /{print $2}' "$VD_BODY") pages)" \
    test "$(awk '/^verifierd_wal_pages /{print $2}' "$VD_BODY")" -ge 256
check "wal: the restart gave up instead of stalling writes" \
    test "$(awk '/^verifierd_wal_restarts_busy_total /{print $2}' "$VD_BODY")" -ge 1
wait "$READER"
restarts=0 walpages=-1
for _ in $(seq 1 80); do
    sleep 0.1
    call GET /metrics -
    restarts=$(awk '/^verifierd_wal_restarts_total /{print $2}' "$VD_BODY")
    walpages=$(awk '/^verifierd_wal_pages /{print $2}' "$VD_BODY")
    [ "${restarts:-0}" -ge 1 ] && [ "${walpages:-999}" -lt 256 ] && break
done
check "wal: a restarting checkpoint ran once the reader left (restarts_total=$restarts)" \
    test "${restarts:-0}" -ge 1
check "wal: the WAL is back under 1 MiB ($walpages pages)" test "${walpages:-999}" -lt 256

# ---- logs ----
vd_stop
expect_eq "verifierd exits 0 on SIGTERM" "$VD_STOP_RC" 0
bad=0 missing=0
while read -r id code; do
    line=$(grep -F "\"request_id\":\"$id\"" "$VD_LOG")
    if [ "$(printf '%s\n' "$line" | grep -c .)" -ne 1 ]; then missing=$((missing + 1)); continue; fi
    printf '%s' "$line" >"$VD_TMP/line.json"
    got=$("$JSONGET" -f "$VD_TMP/line.json" /status /endpoint /latency_ms /ts /method /path 2>/dev/null | head -n 2 | tr '\n' ' ')
    case $got in "$code "[a-z]*) ;; *) bad=$((bad + 1)); echo "  log line for $id: $line" ;; esac
    "$JSONGET" -f "$VD_TMP/line.json" /latency_ms /ts /method /path >/dev/null 2>&1 || bad=$((bad + 1))
done <"$REQIDS"
expect_eq "log: exactly one line per request id ($(wc -l <"$REQIDS") requests)" "$missing" 0
expect_eq "log: each line has the response status, endpoint, latency_ms, ts, method, path" "$bad" 0
nonjson=0
while IFS= read -r line; do
    printf '%s' "$line" | "$JSONGET" -t '' >/dev/null 2>&1 || nonjson=$((nonjson + 1))
done <"$VD_LOG"
expect_eq "log: every stderr line is a JSON object" "$nonjson" 0
# ... and valid UTF-8, though a client asked for /%ff%c0%af (those bytes are logged as '?')
check "log: valid UTF-8 throughout" iconv -f UTF-8 -t UTF-8 -o /dev/null "$VD_LOG"
expect_match "log: the non-UTF-8 path is logged with '?'" "$(cat "$VD_LOG")" '"path":"/[?][?][?]"'
expect_match "log: a surrogate, an overlong form and a code point above U+10FFFF too" \
    "$(cat "$VD_LOG")" '"path":"/x[?]{3}y[?]{3}z[?]{4}"' 
expect_match "log: the method G\\xffT is logged as G?T" "$(cat "$VD_LOG")" '"method":"G[?]T","path":"/healthz","status":405'
# Answers libmicrohttpd made itself have a line each (no method or path).
expect_eq "log: a line for each 400 libmicrohttpd sent for a bad Content-Length" \
    "$(grep -c '"status":400,"answered_by":"libmicrohttpd"' "$VD_LOG")" 4
expect_eq "log: ... and for its 413" \
    "$(grep -c '"status":413,"answered_by":"libmicrohttpd"' "$VD_LOG")" 1
for secret in "$A" "$ADM" "$(tr -d '\n' <"$VD_STATE/nonce.key")" \
              "$(sed -n 2p "$VD_STATE/signing-key.pem")" "$(sed -n 2p "$VD_STATE/tls-key.pem")"; do
    [ ${#secret} -ge 16 ] || { fail "log: secret to look for is too short (${#secret})"; continue; }
    if grep -qF -- "$secret" "$VD_LOG"; then fail "log: a secret (${secret:0:8}...) appears in the log"
    else pass "log: no trace of ${secret:0:8}... (token or key)"; fi
done
check "log: the query string is not logged" bash -c "! grep -q 'after=' '$VD_LOG'"
expect_eq "wal: a clean stop leaves an empty write-ahead log" \
    "$(stat -c %s "$VD_DB-wal" 2>/dev/null || echo 0)" 0
vd_done
