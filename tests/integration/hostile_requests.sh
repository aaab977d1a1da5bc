#!/usr/bin/env bash
# hostile_requests.sh — thousands of malformed and mutated requests against a
# running verifierd (issue 7): truncated, bit-flipped, oversized, deeply
# nested JSON/CBOR, wrong content types, garbage bytes, odd paths, methods,
# field types, broken chunked framing, mangled tokens
# (tests/tools/hostilehttp.c builds them, deterministically per seed).
#
# Passes when: no 5xx (nor any non-HTTP answer) for any of them, verifierd
# is alive and answering afterwards, every error it logged is a 4xx, its
# RSS after the second and third rounds has not grown by more than a bounded
# amount over the first (no per-request leak), and a set of hand-written
# edge cases gets exactly the documented status.
# Bounded: 3 rounds of HOSTILE_COUNT (default 1200) requests, ~30 s total.
set -u
. "$VFY_SOURCE_DIR/tests/lib/verifierd.sh"

HH="$VFY_BUILD_DIR/tests/hostilehttp"
[ -x "$HH" ] || die "hostilehttp not built"
COUNT=${HOSTILE_COUNT:-1200}

vd_start_dev main --rate 0 --timeout 5 || die "verifierd did not start"
vd_fake_evidence "$VD_TMP/ev.json"

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# ---- the mutation rounds ----
# Round 1 warms up every code path (thread stores, caches, TLS sessions);
# rounds 2 and 3 run different seeds: growth after the warm-up must be small.
rss=()
for round in 1 2 3; do
    out=$(timeout 80 "$HH" fuzz "$VD_PORT" "$((round * 7919))" "$COUNT" "$VD_ATTEST" "$VD_ADMIN" \
        "$VD_TMP/ev.json" 2>&1)
    rc=$?
    summary=$(printf '%s\n' "$out" | grep '^fuzz ')
    echo "# round $round: $summary"
    expect_eq "round $round: hostilehttp finished (no 5xx but 505, no non-HTTP answer)" "$rc" 0
    printf '%s\n' "$out" | grep '^BAD' | head -n 10 | sed 's/^/# /'
    expect_match "round $round: all $COUNT requests sent" "$summary" "sent=$COUNT "
    expect_match "round $round: zero 5xx from verifierd's handlers" "$summary" ' 5xx=0 '
    n505=$(printf '%s' "$summary" | sed -n 's/.* 505=\([0-9]*\).*/\1/p')
    [ "${n505:-0}" -eq 0 ] || echo "# round $round: $n505 x 505 from libmicrohttpd (mangled HTTP version; checked below)"
    answered=$(printf '%s' "$summary" | sed -n 's/.*answered=\([0-9]*\).*/\1/p')
    check "round $round: most requests answered (${answered:-0} >= $((COUNT / 2)))" \
        test "${answered:-0}" -ge $((COUNT / 2))
    check "round $round: verifierd still running" kill -0 "$VD_PID"
    vd_call GET /healthz -
    expect_status "round $round: healthz after the round" 200
    rss+=("$(rss_kb "$VD_PID")")
    echo "# VmRSS after round $round: ${rss[-1]} kB"
done

# RSS bounded: rounds 2 and 3 together add at most 24 MiB over round 1
# (a leak of even 10 kB per request would add ~24 MiB over 2400 requests).
# Under ASan the allocator's quarantine (256 MiB) holds freed memory, so RSS
# says nothing there; LeakSanitizer checks at exit instead (the SIGTERM exit
# status must be 0 below).
growth=$(( rss[2] - rss[0] ))
if [ "${VFY_SANITIZE:-0}" = 1 ]; then
    echo "# sanitizer build: RSS growth ${growth} kB not asserted (ASan quarantine); LeakSanitizer runs at exit"
else
    check "RSS growth over rounds 2-3 is bounded (${growth} kB <= 24576 kB)" test "$growth" -le 24576
fi

# ---- hand-written edge cases with their exact documented status ----

# A mangled HTTP version: libmicrohttpd answers 505 (HTTP Version Not
# Supported) itself, before verifierd's handler runs. It is the one 5xx for
# client input, documented in docs/api.md; anything else (a crash, a hang,
# another 5xx) fails.
for v in HTTP/1.2 HTTP/0.1 HTTP/2.0; do
    printf 'GET /healthz %s\r\nHost: x\r\nConnection: close\r\n\r\n' "$v" >"$VD_TMP/ver.req"
    st=$(timeout 10 openssl s_client -quiet -connect "127.0.0.1:$VD_PORT" -ign_eof \
        <"$VD_TMP/ver.req" 2>/dev/null | head -n 1 | cut -d' ' -f2)
    check "request line with $v -> 2xx/4xx or the documented 505 (got ${st:-no answer})" \
        test "${st:-0}" -ge 200 -a "${st:-0}" -lt 500 -o "${st:-0}" = 505
done
attest_hdr=(-H "Content-Type: application/json")
n=$(rand_b64url 32); cb=$(rand_b64url 32)

# deep nesting in the request body and in the evidence: 400, not a crash
nest_text() { local d=$1 o=$2 c=$3; printf "%${d}s" '' | tr ' ' "$o"; printf "%${d}s" '' | tr ' ' "$c"; }
nest_text 100000 '[' ']' >"$VD_TMP/nest.json"
vd_call POST /v1/attest "$VD_ATTEST" "${attest_hdr[@]}" --data-binary "@$VD_TMP/nest.json"
expect_problem "attest body nested 100000 deep" 400
{ printf '{"nonce":"%s","channel_binding":"%s","attester":"x","evidence":' "$n" "$cb"
  printf '%20000s' '' | sed 's/ /{"a":/g'; printf '1'; printf '%20000s' '' | tr ' ' '}'; printf '}'; } \
    >"$VD_TMP/nest2.json"
vd_call POST /v1/attest "$VD_ATTEST" "${attest_hdr[@]}" --data-binary "@$VD_TMP/nest2.json"
expect_problem "evidence object nested 20000 deep" 400
# A manifest nested 17 deep (limit 16: the object and 16 arrays) in an
# otherwise valid collection (every record there, a fresh nonce): refused for
# its nesting. 16 deep (15 arrays) passes the nesting limit and is refused
# for what a valid manifest needs (no valid manifest is 16 deep).
ev_manifest() {   # ev_manifest ARRAYS: the test evidence with a manifest that deep
    local man
    man=$(printf '{"agent_id":"a","manifest_version":1,"models":%s1%s}' \
        "$(printf "%${1}s" '' | tr ' ' '[')" "$(printf "%${1}s" '' | tr ' ' ']')")
    jq -c --arg m "$(printf '%s' "$man" | b64url_enc)" '."agent-manifest"[1] = $m' "$VD_TMP/ev.json"
}
vd_nonce "$VD_ATTEST" || fail "challenge for the manifest nesting case: $HTTP_CODE"
vd_post_json /v1/attest "$VD_ATTEST" "$(attest_body "$NONCE" "$cb" fake-agent "$(ev_manifest 16)")"
expect_problem "manifest nested 17 deep in the evidence" 400 \
    "agent manifest nesting exceeds 16 levels: agent-manifest: nesting deeper than 16"
vd_nonce "$VD_ATTEST" || fail "challenge for the manifest nesting case: $HTTP_CODE"
vd_post_json /v1/attest "$VD_ATTEST" "$(attest_body "$NONCE" "$cb" fake-agent "$(ev_manifest 15)")"
expect_problem "manifest nested 16 deep in the evidence: within the limit, refused for its fields" 400 \
    'agent manifest lacks a required field: agent-manifest: the manifest lacks "tools"'
# CBOR evidence: 100000 nested arrays
printf '%100000s' '' | sed 's/ /\x81/g' >"$VD_TMP/nest.cbor"; printf '\x00' >>"$VD_TMP/nest.cbor"
vd_post_json /v1/attest "$VD_ATTEST" \
    "$(attest_body "$(rand_b64url 32)" "$cb" x "\"$(b64url_enc <"$VD_TMP/nest.cbor")\"")"
check "CBOR evidence nested 100000 deep -> 400 or 413 (got $HTTP_CODE)" \
    test "$HTTP_CODE" = 400 -o "$HTTP_CODE" = 413

# wrong content types: 415
for ct in text/plain application/cbor application/cmw+json multipart/form-data ''; do
    vd_call POST /v1/attest "$VD_ATTEST" -H "Content-Type: $ct" \
        --data-binary "$(attest_body "$(rand_b64url 32)" "$cb" x "$(cat "$VD_TMP/ev.json")")"
    expect_problem "attest with Content-Type '$ct'" 415
done

# oversized: declared and streamed (chunked), attest and challenge
head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$VD_TMP/big"
head -c 1402199 /dev/zero | tr '\0' ' ' >"$VD_TMP/big-attest"   # the attest limit + 1 (docs/api.md)
vd_call POST /v1/attest "$VD_ATTEST" "${attest_hdr[@]}" --data-binary "@$VD_TMP/big-attest"
expect_problem "attest body over its limit (Content-Length)" 413
vd_call POST /v1/attest "$VD_ATTEST" "${attest_hdr[@]}" -H 'Transfer-Encoding: chunked' \
    --data-binary "@$VD_TMP/big-attest"
expect_problem "attest body over its limit (chunked)" 413
vd_call POST /v1/challenge "$VD_ATTEST" "${attest_hdr[@]}" --data-binary "@$VD_TMP/big"
expect_problem "challenge body of 1 MiB + 1" 413
vd_call POST /v1/attest "$VD_ATTEST" "${attest_hdr[@]}" -H 'Content-Length: 99999999999999999999999' \
    --data-binary '{}'
check "Content-Length beyond 2^64 -> 400 or 413 (got $HTTP_CODE)" \
    test "$HTTP_CODE" = 400 -o "$HTTP_CODE" = 413
# a 1 MiB string in the evidence object, within the body limit: the
# collection is over the 1 MiB evidence limit or malformed -> 400/413
{ printf '{"nonce":"%s","channel_binding":"%s","attester":"x","evidence":{"__cmwc_t":"' "$n" "$cb"
  head -c 1040000 /dev/zero | tr '\0' a; printf '"}}'; } >"$VD_TMP/bigev.json"
vd_call POST /v1/attest "$VD_ATTEST" "${attest_hdr[@]}" --data-binary "@$VD_TMP/bigev.json"
check "evidence with a 1 MB label value -> 400 or 413 (got $HTTP_CODE)" \
    test "$HTTP_CODE" = 400 -o "$HTTP_CODE" = 413
# NUL bytes and invalid UTF-8 inside JSON strings. A raw NUL byte in the
# attester name of an otherwise valid body (fresh nonce, the test evidence):
# not strict JSON. The same body without the NUL gets its EAR.
vd_nonce "$VD_ATTEST" || fail "challenge for the raw NUL case: $HTTP_CODE"
nul_body() {   # nul_body SEP: the body with attester "a${SEP}b"
    { printf '{"nonce":"%s","channel_binding":"%s","attester":"a' "$NONCE" "$cb"
      printf '%b' "$1"; printf 'b","evidence":'; cat "$VD_TMP/ev.json"; printf '}'; }
}
nul_body '\000' >"$VD_TMP/nul.json"
check "the raw NUL body holds one NUL byte" test "$(tr -cd '\000' <"$VD_TMP/nul.json" | wc -c)" = 1
vd_call POST /v1/attest "$VD_ATTEST" "${attest_hdr[@]}" --data-binary "@$VD_TMP/nul.json"
expect_problem "raw NUL inside the attester name" 400 \
    "body must be a JSON object (strict JSON: UTF-8, integers only)"
nul_body '' >"$VD_TMP/nonul.json"
vd_call POST /v1/attest "$VD_ATTEST" "${attest_hdr[@]}" --data-binary "@$VD_TMP/nonul.json"
expect_status "the same body without the NUL (attester ab)" 200
vd_post_json /v1/attest "$VD_ATTEST" "$(attest_body "$(rand_b64url 32)" "$cb" 'a\u0000b' "$(cat "$VD_TMP/ev.json")")"
expect_problem "escaped NUL in the attester name (strict JSON body)" 400 \
    "body must be a JSON object (strict JSON: UTF-8, integers only)"
vd_post_json /v1/attest "$VD_ATTEST" "$(attest_body "$(rand_b64url 32)" "$cb" $'\xc3\x28\xff' "$(cat "$VD_TMP/ev.json")")"
expect_problem "invalid UTF-8 attester name (strict JSON body)" 400 \
    "body must be a JSON object (strict JSON: UTF-8, integers only)"
# headers: 8 KiB always fit the 16 KiB connection pool; 20 and 70 KiB get
# 431 from libmicrohttpd (documented), not a crash. libmicrohttpd answers
# and closes while the client may still be sending the rest of the header,
# so the client can see the reset (curl: 000) instead of the 431; either
# way the server must stay up.
vd_call GET /healthz - -H "X-Big: $(head -c 8192 /dev/zero | tr '\0' A)"
check "8 KiB header -> 200 (got $HTTP_CODE)" test "$HTTP_CODE" = 200
vd_call GET /healthz - -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' A)"
check "20 KiB header -> 431 or closed (got $HTTP_CODE)" test "$HTTP_CODE" = 431 -o "$HTTP_CODE" = 000
vd_call GET /healthz - -H "X-Big: $(head -c 70000 /dev/zero | tr '\0' A)"
check "70 KiB header -> 431, 400 or closed (got $HTTP_CODE)" \
    test "$HTTP_CODE" = 431 -o "$HTTP_CODE" = 400 -o "$HTTP_CODE" = 000
vd_call GET /healthz -
check "still healthy after oversized headers (got $HTTP_CODE)" test "$HTTP_CODE" = 200
# a result id of 16 KiB
vd_call GET "/v1/results/$(head -c 16000 /dev/zero | tr '\0' A)" "$VD_ATTEST"
check "16 KB result id -> 404 or 414/431 (got $HTTP_CODE)" \
    test "$HTTP_CODE" = 404 -o "$HTTP_CODE" = 414 -o "$HTTP_CODE" = 431
# an admin bundle nested 5000 deep and a policy with 100000 PCR entries
{ printf '%5000s' '' | sed 's/ /{"policies":/g'; printf '[]'; printf '%5000s' '' | tr ' ' '}'; } >"$VD_TMP/bn.json"
vd_call POST /v1/admin/refvalues "$VD_ADMIN" "${attest_hdr[@]}" --data-binary "@$VD_TMP/bn.json"
expect_problem "admin bundle nested 5000 deep" 400
{ printf '{"id":"huge","version":1,"platform":{"bank":"sha256","pcrs":['
  seq -s, 0 99999 | tr -d '\n'; printf ']},"agent":{"pcr":23,"history":"current"},"freshness":{"nonce_ttl_s":60},"result":{"ttl_s":300}}'; } >"$VD_TMP/hp.json"
vd_call POST /v1/admin/policies "$VD_ADMIN" "${attest_hdr[@]}" --data-binary "@$VD_TMP/hp.json"
# (past the 64 KiB a policy may have: too large, 413, not malformed)
expect_problem "policy with 100000 PCR indexes" 413 \
    "invalid policy: policy exceeds 64 KiB: policy is $(wc -c <"$VD_TMP/hp.json") bytes, the limit is 65536"

# ---- the daemon afterwards ----
check "verifierd still running after the edge cases" kill -0 "$VD_PID"
vd_nonce "$VD_ATTEST"
expect_status "a valid challenge still works" 201
vd_post_json /v1/attest "$VD_ATTEST" "$(attest_body "$NONCE" "$cb" fake-agent "$(cat "$VD_TMP/ev.json")")"
expect_status "a valid attest still works" 200
# the log: every request line has a status; none is 5xx
bad=$(grep -c '"status":5[0-9][0-9]' "$VD_LOG" || true)
expect_eq "no 5xx in verifierd's request log" "$bad" 0
check "no sanitizer report in verifierd's log" \
    sh -c "! grep -q -E 'AddressSanitizer|runtime error:|LeakSanitizer' '$VD_LOG'"
vd_stop
expect_eq "verifierd exits 0 on SIGTERM after the hostile traffic" "$VD_STOP_RC" 0
vd_done
