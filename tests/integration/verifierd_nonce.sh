#!/bin/bash
# verifierd_nonce.sh — challenge nonces (DESIGN §3, §8): 32 bytes base64url,
# 201 with expires_at = now + ttl_s from the applicable policy; single use;
# a reused, expired (policy nonce_ttl_s 1, loaded with --policy FILE and with
# the admin API), forged or altered nonce, or one older than the appraisal
# policy's nonce_ttl_s (issued under a longer one), still gets a signed EAR, status
# contraindicated, whose reasons name the nonce — while the same request with
# a fresh nonce has no nonce reason. Across a restart: a nonce used before
# it is still refused as used, one used and since expired is simply expired
# (and is not even read back at start: the log and the used-nonce gauge
# count only the unexpired ones), one issued but unused is accepted once.
# A replica sharing the nonce key accepts the nonce; one with another key
# calls it forged.
#
# The evidence parses but its quote is junk, so every verdict here is
# contraindicated; the nonce shows in the reasons only when the nonce is bad.
set -uo pipefail
# shellcheck disable=SC2119  # vd_stop without arguments stops the current server
# shellcheck source=../lib/verifierd.sh
. "${VFY_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/verifierd.sh"

vd_fake_evidence "$VD_TMP/ev.json"
EV=$(cat "$VD_TMP/ev.json")
CB=$(rand_b64url 32)
cat >"$VD_TMP/fast.json" <<'EOF'
{"id":"fast","version":1,"freshness":{"nonce_ttl_s":1},"result":{"ttl_s":30}}
EOF

vd_start_dev one --policy "$VFY_SOURCE_DIR/policies/default.json" \
    --policy "$VFY_SOURCE_DIR/policies/strict.json" --policy "$VD_TMP/fast.json" ||
    die "cannot start verifierd --dev"
A=$VD_ATTEST ADM=$VD_ADMIN URL1=$VD_URL CA1=$VD_CA STATE1=$VD_STATE PID1=$VD_PID

# attest NONCE [EXTRA]: sets EAR, REASONS and STATUS from the answer. Every
# nonce here, good or bad, must get 200 and a signed EAR for that nonce;
# anything else is a failed check and returns 1 (a "no nonce reason" check
# alone would pass on the empty reasons of a request that got no EAR).
attest() {
    vd_post_json /v1/attest "$A" "$(attest_body "$1" "$CB" nobody "$EV" "${2:-}")"
    EAR=$(jget /ear)
    STATUS=$(jws_claim "$EAR" /ear_status)
    REASONS=$(jws_claim "$EAR" /verifierd.reasons)
    if [ "$HTTP_CODE" != 200 ] || [ -z "$STATUS" ] ||
       [ "$(jws_claim "$EAR" /eat_nonce)" != "$1" ]; then
        fail "attest with nonce '$1': want 200 and an EAR for it, got $HTTP_CODE: $(head -c 300 "$VD_BODY")"
        return 1
    fi
}

# ---- the challenge ----
t0=$(date +%s)
vd_nonce "$A"
expect_status "POST /v1/challenge without a body" 201
expect_eq "challenge content type" "$HTTP_CTYPE" application/json
expect_match "nonce is base64url without padding" "$NONCE" '^[A-Za-z0-9_-]{43}$'
expect_eq "nonce decodes to 32 bytes" "$(b64url_len "$NONCE")" 32
expect_eq "ttl_s is the default policy's 60" "$(jget /ttl_s)" 60
exp=$(date -u -d "$(jget /expires_at)" +%s 2>/dev/null || echo 0)
expect_match "expires_at is RFC 3339 UTC" "$(jget /expires_at)" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$'
check "expires_at = now + ttl_s (within 2 s)" test $((exp - t0 - 60)) -ge -1 -a $((exp - t0 - 60)) -le 2
N1=$NONCE
vd_nonce "$A"
check "two challenges give different nonces" test "$NONCE" != "$N1"
vd_nonce "$A" '{"policy":"strict"}'
expect_eq "challenge for policy strict: its nonce_ttl_s" "$HTTP_CODE $(jget /ttl_s)" "201 30"
vd_nonce "$A" '{"policy":"fast"}'
expect_eq "challenge for policy fast (from --policy FILE): ttl_s 1" "$HTTP_CODE $(jget /ttl_s)" "201 1"
vd_nonce "$A" '{"attester":"nobody"}'
expect_eq "challenge for an unknown attester: the default policy" "$HTTP_CODE $(jget /ttl_s)" "201 60"

# ---- single use ----
vd_nonce "$A"; N=$NONCE
attest "$N"
expect_status "first use of a nonce" 200
expect_nomatch "first use: no nonce reason" "$REASONS" '[Nn]once'
expect_eq "first use: eat_nonce" "$(jws_claim "$EAR" /eat_nonce)" "$N"
attest "$N"
expect_status "reuse of a nonce still gets an EAR" 200
expect_eq "reuse: contraindicated" "$STATUS" contraindicated
expect_eq "reuse: response status field" "$(jget /status)" contraindicated
expect_match "reuse: a reason names the nonce" "$REASONS" 'nonce rejected: nonce already used'
attest "$N" '"max_ttl_s":30'
expect_match "third use: still a replay" "$REASONS" 'nonce already used'

# ---- forged ----
attest "$(rand_b64url 32)"
expect_status "random 32-byte nonce gets an EAR" 200
expect_eq "forged: contraindicated" "$STATUS" contraindicated
expect_match "forged: a reason names the nonce" "$REASONS" 'nonce rejected: nonce was not issued by this verifier'
vd_nonce "$A"
# The last of 43 characters carries 4 bits and 2 zero bits: swap it for
# another canonical one (A and E differ in the data bits only).
last=${NONCE: -1}; [ "$last" = A ] && repl=E || repl=A
attest "${NONCE:0:42}$repl"
expect_match "an issued nonce with its last character changed is forged" "$REASONS" 'nonce was not issued'
attest "$NONCE"
expect_nomatch "the original of that nonce is still good" "$REASONS" '[Nn]once'

# ---- expired: policy nonce_ttl_s 1 (from --policy FILE) ----
vd_nonce "$A" '{"policy":"fast"}'; NF=$NONCE
vd_nonce "$A" '{"policy":"fast"}'; NF2=$NONCE
attest "$NF2"
expect_nomatch "a ttl-1 nonce used at once is accepted" "$REASONS" '[Nn]once'
vd_nonce "$A"; ND=$NONCE    # the default policy's 60 s
vd_nonce "$A"; ND2=$NONCE
attest "$ND2" '"policy":"strict"'
expect_nomatch "a 60 s nonce judged at once by a 30 s policy is accepted" "$REASONS" '[Nn]once'
sleep 2.2
attest "$NF"
expect_eq "expired (--policy FILE): contraindicated" "$STATUS" contraindicated
expect_match "expired (--policy FILE): a reason names the nonce" "$REASONS" 'nonce rejected: nonce expired'
# The appraisal's policy bounds the nonce's age, not only the challenge's:
# ND is unexpired (60 s) but older than policy fast's nonce_ttl_s.
attest "$ND" '"policy":"fast"'
expect_eq "older than the appraisal policy's nonce_ttl_s: contraindicated" "$STATUS" contraindicated
expect_match "older than the appraisal policy's nonce_ttl_s: the reason says so" "$REASONS" \
    'nonce rejected: issued [1-3] s ago, policy fast@1 allows 1 s'
attest "$ND"
expect_match "...and it was used up all the same" "$REASONS" 'nonce rejected: nonce already used'

# ---- expired: a ttl-1 policy loaded with the admin API ----
vd_post_json /v1/admin/policies "$ADM" '{"id":"fast-admin","version":1,"freshness":{"nonce_ttl_s":1}}'
expect_status "admin: load policy fast-admin" 201
vd_nonce "$A" '{"policy":"fast-admin"}'
expect_eq "challenge for fast-admin (loaded over the API): ttl_s 1" "$HTTP_CODE $(jget /ttl_s)" "201 1"
NA=$NONCE
sleep 2.2
attest "$NA"
expect_eq "expired (admin API policy): contraindicated" "$STATUS" contraindicated
expect_match "expired (admin API policy): a reason names the nonce" "$REASONS" 'nonce rejected: nonce expired'

vd_call GET /metrics -
expect_match "metrics: used-nonce gauge counts the consumed nonces" "$(body)" 'verifierd_nonce_cache_entries [1-9]'

# ---- restart: used nonces are reloaded from the results, expired ones are not ----
vd_nonce "$A"; NU=$NONCE
attest "$NU"
expect_nomatch "before the restart: NU is accepted" "$REASONS" '[Nn]once'
vd_nonce "$A"; NI=$NONCE     # issued, never used before the restart
# NF2 (nonce_ttl_s 1) was used at once above and has long expired.
vd_stop "$PID1"
expect_eq "verifierd exits 0 before the restart" "$VD_STOP_RC" 0
total=$(sqlite3 "$VD_DB" 'SELECT count(*) FROM results WHERE nonce IS NOT NULL')
# Unexpired: the 5-byte big-endian expiry is above now (the expired ones
# here are seconds old, the live ones a minute ahead; a forged nonce's
# random first bytes sort above any current time).
unexpired=$(sqlite3 "$VD_DB" "SELECT count(*) FROM results WHERE nonce IS NOT NULL
    AND hex(substr(nonce, 1, 5)) > printf('%010X', CAST(strftime('%s', 'now') AS INTEGER))")
vd_start_dev one --policy "$VFY_SOURCE_DIR/policies/default.json" \
    --policy "$VFY_SOURCE_DIR/policies/strict.json" --policy "$VD_TMP/fast.json" ||
    die "cannot restart verifierd"
A=$VD_ATTEST URL1=$VD_URL CA1=$VD_CA PID1=$VD_PID
line=$(grep -F 'unexpired used nonces' "$VD_LOG" | tail -n 1)
re='.*reloaded \([0-9]*\) unexpired used nonces (of \([0-9]*\) read, from results of the last \([0-9]*\) s).*'
reloaded=$(printf '%s' "$line" | sed -n "s/$re/\\1/p")
read_n=$(printf '%s' "$line" | sed -n "s/$re/\\2/p")
window=$(printf '%s' "$line" | sed -n "s/$re/\\3/p")
check "restart: the log says how many used nonces were reloaded ($line)" test -n "$reloaded"
# The results read are those of the longest nonce lead seen (nonce TTLs
# here: 60 s at most, plus up to a second between the expiry's clock and
# the result's iat), not a day: the database was made by this library.
lead=$(sqlite3 "$VD_DB" 'SELECT max_lead FROM nonce_lead')
check "restart: the recorded nonce lead is within the longest TTL used ($lead)" \
    test "${lead:-0}" -ge 1 -a "${lead:-99}" -le 61
expect_eq "restart: results of the last lead seconds are read, not a day" "$window" "$lead"
expect_eq "restart: only the unexpired nonces are read ($total recorded)" "$read_n" "$unexpired"
check "restart: expired nonces were recorded but not read ($unexpired of $total)" \
    test "${unexpired:-0}" -lt "${total:-0}"
check "restart: at least NU was reloaded ($reloaded)" test "${reloaded:-0}" -ge 1
vd_call GET /metrics -
expect_match "restart: the used-nonce gauge is what was reloaded" "$(body)" \
    "verifierd_nonce_cache_entries ${reloaded:-x}([^0-9]|\$)"
attest "$NU"
expect_eq "after the restart: a nonce used before it is contraindicated" "$STATUS" contraindicated
expect_match "after the restart: a nonce used before it is refused as used" "$REASONS" \
    'nonce rejected: nonce already used'
attest "$NF2"
expect_match "after the restart: a used nonce that expired is reported expired" "$REASONS" \
    'nonce rejected: nonce expired'
expect_nomatch "after the restart: ... not as used" "$REASONS" 'already used'
attest "$NI"
expect_nomatch "after the restart: a nonce issued but unused before it is accepted" "$REASONS" '[Nn]once'
attest "$NI"
expect_match "after the restart: ... once" "$REASONS" 'nonce already used'

# ---- replicas ----
# Same nonce key (production mode, its own database): accepted there.
vd_make_prod "$VD_TMP/prod" || die "prod set-up"
vd_start two --db "$VD_DB" --tls-cert "$VD_TMP/prod/cert.pem" --tls-key "$VD_TMP/prod/key.pem" \
    --signing-key "$VD_TMP/prod/sign.pem" --nonce-key "$STATE1/nonce.key" || die "cannot start replica"
A2=$VD_ATTEST URL2=$VD_URL CA2=$VD_CA
VD_URL=$URL1 VD_CA=$CA1
vd_nonce "$A"; NR=$NONCE
vd_nonce "$A"; NR2=$NONCE
VD_URL=$URL2 VD_CA=$CA2 A=$A2
attest "$NR"
expect_status "replica with the shared nonce key answers" 200
expect_nomatch "replica with the shared nonce key accepts the nonce" "$REASONS" '[Nn]once'
attest "$NR"
expect_match "the replica enforces single use itself" "$REASONS" 'nonce already used'
# Another key (a --dev replica has its own): forged.
vd_start_dev three || die "cannot start a third verifierd"
A=$VD_ATTEST
attest "$NR2"
expect_match "a verifierd with another nonce key calls the nonce forged" "$REASONS" 'nonce was not issued'

# Four verifierd started at once on one fresh database with the default
# nonce key (the file beside it): one key for all, so each accepts the
# nonces of the others. (Each used to write its own key over the file, and
# one could keep a key that was on disk nowhere: its nonces were forged at
# the others.)
vd_make_prod "$VD_TMP/race" || die "race set-up"
RA=$VD_ATTEST
ports=()
race_start() {   # race_start I: instance I on a free port, in the background
    local p
    while :; do p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 )); _vd_port_free "$p" && break; done
    ports[$1]=$p
    "$VD_BIN" --db "$VD_TMP/race/db" --listen "127.0.0.1:$p" --tls-cert "$VD_TMP/race/cert.pem" \
        --tls-key "$VD_TMP/race/key.pem" --signing-key "$VD_TMP/race/sign.pem" --quiet \
        >>"$VD_TMP/race/out.$1" 2>&1 &
    VD_PIDS+=("$!")
}
race_up() {   # how many answer within 20 s
    local n=0
    for _ in $(seq 200); do
        n=0
        for p in "${ports[@]}"; do
            curl -sf --cacert "$VD_TMP/race/cert.pem" "https://127.0.0.1:$p/healthz" >/dev/null 2>&1 && n=$((n + 1))
        done
        [ "$n" = 4 ] && break
        sleep 0.1
    done
    echo "$n"
}
for i in 0 1 2 3; do race_start "$i"; done
up=$(race_up)
# A port taken between the check and the bind (ephemeral ports of other
# tests' clients): that instance again on another port, as vd_start does.
if [ "$up" != 4 ]; then
    for i in 0 1 2 3; do
        curl -sf --cacert "$VD_TMP/race/cert.pem" "https://127.0.0.1:${ports[$i]}/healthz" >/dev/null 2>&1 ||
            { grep -q 'Address already in use' "$VD_TMP/race/out.$i" && race_start "$i"; }
    done
    up=$(race_up)
fi
expect_eq "four verifierd started at once on a fresh database" "$up" 4
[ "$up" = 4 ] || for i in 0 1 2 3; do echo "# instance $i:"; sed 's/^/#   /' "$VD_TMP/race/out.$i"; done
bad=0
A=$RA VD_CA="$VD_TMP/race/cert.pem"
for i in 0 1 2 3; do
    VD_URL="https://127.0.0.1:${ports[$i]}"
    if ! vd_nonce "$A"; then
        bad=$((bad + 1)); echo "# instance $i: challenge answered $HTTP_CODE"; continue
    fi
    NX=$NONCE
    VD_URL="https://127.0.0.1:${ports[$(( (i + 1) % 4 ))]}"
    if ! attest "$NX"; then
        bad=$((bad + 1)); echo "# nonce of instance $i: no EAR from $(( (i + 1) % 4 ))"; continue
    fi
    case $REASONS in *[Nn]once*) bad=$((bad + 1)); echo "# nonce of instance $i refused at $(( (i + 1) % 4 )): $REASONS" ;; esac
done
expect_eq "each accepts the nonces of the next (one nonce key for all)" "$bad" 0
expect_eq "one key file, none left aside" "$(ls "$VD_TMP/race/" | grep -c 'nonce-key')" 1

# A file system without hard links (tests/shim/nolink.so: link() fails
# with EPERM): the default key is copied into place instead (O_EXCL), and
# verifierd starts. It used to stop with "creating nonce key: I/O error".
if [ "${VFY_SANITIZE:-0}" = 1 ]; then
    echo "# sanitizer build: no-hard-link case skipped (an uninstrumented LD_PRELOAD shim)"
else
    vd_make_prod "$VD_TMP/nolink" || die "nolink set-up"
    NL=$VD_TMP/nolink
    LD_PRELOAD="$VFY_BUILD_DIR/tests/nolink.so" vd_start nolink --db "$NL/db" \
        --tls-cert "$NL/cert.pem" --tls-key "$NL/key.pem" --signing-key "$NL/sign.pem" ||
        die "verifierd did not start where link() fails: $(tail -n 2 "$VD_TMP/nolink/stderr.log")"
    # an attempt that lost its port to another test created the key: vd_start
    # keeps that attempt's lines in stderr.port-taken.log
    expect_match "no hard links: the default nonce key is created" \
        "$(cat "$NL/stderr.port-taken.log" "$VD_LOG" 2>/dev/null)" "created nonce key $NL/db.nonce-key"
    expect_eq "... 64 hex digits and a newline, mode 0600, none left aside" \
        "$(stat -c '%a %s' "$NL/db.nonce-key") $(grep -cE '^[0-9a-f]{64}$' "$NL/db.nonce-key") $(ls "$NL" | grep -c 'nonce-key')" \
        "600 65 1 1"
    A=$VD_ATTEST VD_CA="$NL/cert.pem"
    vd_nonce "$A"
    attest "$NONCE"
    expect_status "... an attest there gets an EAR" 200
    expect_eq "... for this nonce" "$(jws_claim "$EAR" /eat_nonce)" "$NONCE"
    expect_nomatch "... and its nonces check" "$REASONS" '[Nn]once'
    vd_stop
fi

# A start while the clock is ahead, after a nonce of an hour-long policy was
# used: once the clock is corrected, fresh nonces of a minute are accepted.
# (The start marked every nonce expiring before its clock as swept, up to the
# newest result plus the longest lead ever seen: an hour here, so for the
# 30 minutes the clock had been ahead every attestation was "nonce
# expired".) Through the timeshift shim, which reads the shift at each call.
if [ "${VFY_SANITIZE:-0}" = 1 ]; then
    echo "# sanitizer build: clock-ahead start skipped (an uninstrumented LD_PRELOAD shim)"
else
    printf '%s\n' '{"id":"long","version":1,"freshness":{"nonce_ttl_s":3600},"result":{"ttl_s":30}}' \
        >"$VD_TMP/long.json"
    vd_start_dev ahead --policy "$VFY_SOURCE_DIR/policies/default.json" --policy "$VD_TMP/long.json" ||
        die "cannot start verifierd (ahead)"
    A=$VD_ATTEST
    vd_nonce "$A" '{"policy":"long"}'
    attest "$NONCE" '"policy":"long"'
    expect_nomatch "ahead: a nonce of the hour-long policy is used" "$REASONS" '[Nn]once'
    vd_stop
    echo 1800 >"$VD_TMP/shift"
    TIMESHIFT_FILE="$VD_TMP/shift" LD_PRELOAD="$VFY_BUILD_DIR/tests/timeshift.so" \
        vd_start_dev ahead --policy "$VFY_SOURCE_DIR/policies/default.json" \
        --policy "$VD_TMP/long.json" || die "cannot start verifierd 30 minutes ahead"
    expect_match "ahead: the start reloads the used nonce" "$(cat "$VD_LOG")" \
        '"msg":"reloaded 1 unexpired used nonces'
    echo 0 >"$VD_TMP/shift"   # the clock corrected
    vd_nonce "$A"
    attest "$NONCE"
    expect_nomatch "ahead: after the correction a fresh nonce is accepted" "$REASONS" 'nonce rejected'
    vd_stop
fi

vd_stop "$PID1"
expect_eq "first verifierd exits 0 on SIGTERM" "$VD_STOP_RC" 0
if grep -qF -- "$(tr -d '\n' <"$STATE1/nonce.key")" "$VD_TMP"/*/stderr.log; then
    fail "the nonce key appears in a log"
else pass "the nonce key appears in no log"; fi
vd_done
