# shellcheck shell=bash
# shellcheck disable=SC2034,SC2120  # globals are for the sourcing tests; vd_stop PID is optional
#
# verifierd.sh — run a real verifierd over HTTPS for the integration tests,
# and the small assertion kit they share. Source it; it is not a test.
#
#   . "$VFY_SOURCE_DIR/tests/lib/verifierd.sh"
#   vd_start_dev main                 # --dev in $VD_TMP/main/state, free port
#   vd_call GET /healthz -            # HTTP_CODE, HTTP_CTYPE, $VD_BODY, $VD_HDRS
#   expect_eq "healthz status" "$(jget /status)" ok
#   vd_done                           # "N passed, M failed"; exit status
#
# Servers: vd_start NAME ARGS... starts "$VD_BIN --listen 127.0.0.1:PORT ARGS"
# on a random free port (retrying on another port if the bind fails), waits
# until GET /healthz answers 200 and sets, for the server started last:
#   VD_PID VD_PORT VD_URL VD_DIR VD_LOG (its stderr: JSON lines) VD_STDOUT
# vd_start_dev NAME [ARGS] adds --dev --state-dir $VD_TMP/NAME/state and sets
#   VD_STATE VD_DB VD_CA VD_ATTEST VD_ADMIN (the two dev tokens)
# For a production-mode server set VD_CA (and tokens) yourself; vd_make_prod
# DIR prepares DB, TLS certificate, signing key and tokens with verifyctl and
# openssl only.
#
# vd_stop [PID] sends SIGTERM to that PID (default $VD_PID), waits up to 40 s
# (then SIGKILL) and sets VD_STOP_RC to its exit status. Every server started
# here is stopped by PID on exit (normal end, failure, or signal); scripts add
# their own clean-up with vd_on_exit FUNCTION.
#
# Checks print one line each ("ok - ..." or "FAIL - ...") and keep going;
# vd_done prints "N passed, M failed" and returns non-zero on any failure.
# die aborts (setup that cannot go on) and still prints the summary line.

: "${VFY_BUILD_DIR:?VFY_BUILD_DIR must point at the build root}"
: "${VFY_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
VD_BIN="$VFY_BUILD_DIR/verifierd/verifierd"
VCTL="$VFY_BUILD_DIR/tools/verifyctl/verifyctl"
JSONGET="$VFY_BUILD_DIR/tests/jsonget"

VD_TMP=$(mktemp -d /tmp/vd_test.XXXXXX)
VD_BODY="$VD_TMP/body"
VD_HDRS="$VD_TMP/headers"
VD_PIDS=()
VD_EXIT_HOOKS=()
T_PASS=0
T_FAIL=0
_VD_DONE=0

# ---- assertions ----

pass() { T_PASS=$((T_PASS + 1)); echo "ok - $*"; }
fail() { T_FAIL=$((T_FAIL + 1)); echo "FAIL - $*"; }

# check NAME COMMAND...: passes when COMMAND succeeds.
check() {
    local name=$1; shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}

# expect_schema NAME SCHEMA[#POINTER] FILE...: the JSON documents validate
# against schemas/SCHEMA (tests/tools/schema_check.py; "-" is stdin), e.g.
# expect_schema "challenge" 'openapi.yaml#/components/schemas/Challenge' "$VD_BODY".
expect_schema() {
    local name=$1 spec=$2 out
    shift 2
    if out=$(/usr/bin/python3 "$VFY_SOURCE_DIR/tests/tools/schema_check.py" \
                 "$VFY_SOURCE_DIR/schemas/$spec" "$@" 2>&1); then
        pass "$name"
    else
        fail "$name: $(printf '%s' "$out" | head -5 | tr '\n' ';')"
    fi
}

# expect_eq NAME GOT WANT
expect_eq() {
    if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: got '$2', want '$3'"; fi
}

# expect_match NAME TEXT ERE
expect_match() {
    # grep reads a here-string, not a pipe: with pipefail, grep -q leaving
    # early could fail printf with SIGPIPE on a long text and so the check
    if grep -Eq -- "$3" <<<"$2"; then pass "$1"
    else fail "$1: '$(printf '%s' "$2" | head -c 300)' does not match /$3/"; fi
}

# expect_nomatch NAME TEXT ERE
expect_nomatch() {
    if grep -Eq -- "$3" <<<"$2"; then
        # the matching lines (at most 5), not the head of a long text
        fail "$1: matches /$3/: $(grep -E -m5 -- "$3" <<<"$2" | cut -c1-400)"
    else pass "$1"; fi
}

die() {
    fail "aborting: $*"
    vd_done
    exit 1
}

vd_done() {
    _VD_DONE=1
    echo "$T_PASS passed, $T_FAIL failed"
    [ "$T_FAIL" -eq 0 ] && [ "$T_PASS" -gt 0 ]
}

# ---- clean-up ----

vd_on_exit() { VD_EXIT_HOOKS+=("$1"); }

_vd_exit() {
    local rc=$? pid h
    trap - EXIT INT TERM
    for h in "${VD_EXIT_HOOKS[@]}"; do "$h" || true; done
    for pid in "${VD_PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null
            for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
        fi
    done
    if [ "$rc" -eq 0 ] && [ "$_VD_DONE" -eq 0 ]; then
        echo "FAIL - the script ended without vd_done"
        rc=1
    fi
    if [ "$rc" -ne 0 ] && [ -n "${VD_KEEP_TMP:-}" ]; then
        echo "kept $VD_TMP" >&2
    else
        rm -rf "$VD_TMP"
    fi
    exit "$rc"
}
trap _vd_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- servers ----

_vd_port_free() {
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 1; fi
    if command -v ss >/dev/null 2>&1 && ss -Htln "sport = :$1" 2>/dev/null | grep -q .; then
        return 1
    fi
    return 0
}

# _vd_wait_healthy PID CA: 0 once /healthz answers 200 over TLS verified
# against CA; 1 if the process died or 15 s passed.
_vd_wait_healthy() {
    local pid=$1 ca=$2 i code
    for i in $(seq 1 150); do
        kill -0 "$pid" 2>/dev/null || return 1
        if [ -s "$ca" ]; then
            code=$(curl -s --max-time 2 --cacert "$ca" -o /dev/null -w '%{http_code}' \
                "$VD_URL/healthz" 2>/dev/null) || code=000
            [ "$code" = 200 ] && return 0
        fi
        sleep 0.1
    done
    return 1
}

# vd_start NAME ARGS...: see the header. The CA used to probe /healthz is
# $VD_CA, or $VD_TMP/NAME/state/tls-cert.pem when ARGS contain --dev.
vd_start() {
    local name=$1; shift
    local dir="$VD_TMP/$name" attempt port pid ca before
    mkdir -p "$dir"
    ca=${VD_CA:-}
    case " $* " in *" --dev "*) ca="$dir/state/tls-cert.pem" ;; esac
    for attempt in 1 2 3 4 5 6 7 8; do
        port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
        _vd_port_free "$port" || continue
        VD_URL="https://127.0.0.1:$port"
        # the log is appended to across restarts of NAME; remember where this start's part begins
        before=$(stat -c %s "$dir/stderr.log" 2>/dev/null || echo 0)
        "$VD_BIN" --listen "127.0.0.1:$port" "$@" >"$dir/stdout" 2>>"$dir/stderr.log" &
        pid=$!
        VD_PIDS+=("$pid")
        if _vd_wait_healthy "$pid" "$ca"; then
            VD_PID=$pid VD_PORT=$port VD_DIR=$dir
            VD_LOG="$dir/stderr.log" VD_STDOUT="$dir/stdout"
            return 0
        fi
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
            echo "vd_start: verifierd on port $port never became healthy" >&2
            tail -n 5 "$dir/stderr.log" >&2
            return 1
        fi
        wait "$pid" 2>/dev/null
        if tail -c +"$((before + 1))" "$dir/stderr.log" | grep -q 'Address already in use'; then
            # Lost a race for the port: keep the attempt's log lines out of
            # the log tests read (they look for "level":"error"), but keep them.
            echo "vd_start: port $port taken, retrying (attempt $attempt)" >&2
            tail -c +"$((before + 1))" "$dir/stderr.log" >>"$dir/stderr.port-taken.log"
            truncate -s "$before" "$dir/stderr.log"
            continue
        fi
        echo "vd_start: verifierd exited during start-up:" >&2
        tail -n 5 "$dir/stderr.log" >&2
        return 1
    done
    echo "vd_start: no free port after 8 attempts" >&2
    return 1
}

# vd_start_dev NAME [ARGS...]
vd_start_dev() {
    local name=$1; shift
    local st="$VD_TMP/$name/state"
    vd_start "$name" --dev --state-dir "$st" "$@" || return 1
    VD_STATE=$st VD_DB="$st/verifierd.db" VD_CA="$st/tls-cert.pem"
    VD_ATTEST=$(sed -n 1p "$st/dev-tokens")
    VD_ADMIN=$(sed -n 2p "$st/dev-tokens")
    [ -n "$VD_ATTEST" ] && [ -n "$VD_ADMIN" ]
}

# vd_stop [PID]: graceful stop; VD_STOP_RC is the exit status (137 if it had
# to be killed).
vd_stop() {
    local pid=${1:-$VD_PID} i
    VD_STOP_RC=0
    kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; VD_STOP_RC=$?; return 0; }
    for i in $(seq 1 400); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    VD_STOP_RC=$?
}

# vd_make_prod DIR: a production-mode set-up made without verifierd --dev:
# DIR/db (verifyctl init, policies/default.json loaded), DIR/cert.pem +
# DIR/key.pem (openssl, self-signed for 127.0.0.1), DIR/sign.pem (ES256),
# tokens in VD_ATTEST / VD_ADMIN. Sets VD_CA=DIR/cert.pem and VD_DB.
vd_make_prod() {
    local d=$1
    mkdir -p "$d"
    "$VCTL" --db "$d/db" init >/dev/null || return 1
    "$VCTL" --db "$d/db" policy load "$VFY_SOURCE_DIR/policies/default.json" >/dev/null || return 1
    vd_make_cert "$d/cert.pem" "$d/key.pem" "verifierd test" || return 1
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/sign.pem" 2>/dev/null ||
        return 1
    VD_ATTEST=$("$VCTL" --db "$d/db" token add rp --role attest) || return 1
    VD_ADMIN=$("$VCTL" --db "$d/db" token add ops --role admin) || return 1
    VD_CA="$d/cert.pem" VD_DB="$d/db"
}

# vd_make_cert CERT KEY CN: self-signed EC P-256 certificate for 127.0.0.1.
vd_make_cert() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=$3" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
        -keyout "$2" -out "$1" 2>/dev/null
}

# ---- HTTP ----

# vd_call METHOD PATH TOKEN|- [CURL ARGS...]: one HTTPS request to the
# current server. Sets HTTP_CODE (000 if curl failed), HTTP_CTYPE (media
# type without parameters), HTTP_REQID (X-Request-Id); the body is in
# $VD_BODY and the headers in $VD_HDRS.
vd_call() {
    local m=$1 p=$2 tok=$3; shift 3
    local auth=()
    [ "$tok" = - ] || auth=(-H "Authorization: Bearer $tok")
    if [ "$m" = HEAD ]; then set -- -I "$@"; else set -- -X "$m" "$@"; fi
    : >"$VD_BODY"; : >"$VD_HDRS"
    HTTP_CODE=$(curl -sS --max-time 20 --cacert "$VD_CA" "${auth[@]}" -o "$VD_BODY" \
        -D "$VD_HDRS" -w '%{http_code}' "$@" "$VD_URL$p" 2>"$VD_TMP/curl.err") || HTTP_CODE=000
    HTTP_CTYPE=$(hdr Content-Type | cut -d';' -f1 | tr -d ' ')
    HTTP_REQID=$(hdr X-Request-Id)
}

# vd_post_json PATH TOKEN JSON [CURL ARGS...]
vd_post_json() {
    local p=$1 tok=$2 body=$3; shift 3
    printf '%s' "$body" >"$VD_TMP/req.json"
    vd_call POST "$p" "$tok" -H 'Content-Type: application/json' --data-binary "@$VD_TMP/req.json" "$@"
}

# hdr NAME: the value of the last response header NAME (case-insensitive).
hdr() {
    grep -i "^$1:" "$VD_HDRS" | tail -n 1 | cut -d: -f2- | sed 's/^ *//' | tr -d '\r'
}

# jget [-t|-l] POINTER [FILE]: the JSON value (type, length) at an RFC 6901 pointer in FILE
# (default: the last response body); empty and non-zero if absent.
jget() {
    local opt=()
    case $1 in -t|-l) opt=("$1"); shift ;; esac
    "$JSONGET" "${opt[@]}" -f "${2:-$VD_BODY}" -- "$1" 2>/dev/null
}

body() { cat "$VD_BODY"; }

# expect_status NAME WANT: HTTP_CODE is WANT.
expect_status() {
    if [ "$HTTP_CODE" = "$2" ]; then pass "$1 -> $2"
    else fail "$1: status $HTTP_CODE, want $2; body: $(head -c 300 "$VD_BODY")"; fi
}

# expect_problem NAME STATUS [DETAIL]: an RFC 9457 problem with that status:
# the media type, "type", "title", "status" equal to the HTTP status, a
# "detail" (exactly DETAIL when given), and "instance" equal to the
# X-Request-Id header. ("type" is about:blank for every problem, so the
# detail is what tells one 400 from another.)
expect_problem() {
    local name=$1 want=$2 detail=${3-} why=""
    [ "$HTTP_CODE" = "$want" ] || why="status $HTTP_CODE"
    [ "$HTTP_CTYPE" = application/problem+json ] || why="$why content-type '$HTTP_CTYPE'"
    [ "$(jget /status)" = "$want" ] || why="$why .status '$(jget /status)'"
    [ -n "$(jget /title)" ] || why="$why no title"
    [ -n "$(jget /type)" ] || why="$why no type"
    [ -n "$(jget /detail)" ] || why="$why no detail"
    [ $# -lt 3 ] || [ "$(jget /detail)" = "$detail" ] ||
        why="$why detail '$(jget /detail)', want '$detail'"
    [ -n "$HTTP_REQID" ] && [ "$(jget /instance)" = "$HTTP_REQID" ] || why="$why instance != X-Request-Id"
    if [ -z "$why" ]; then pass "$name -> $want problem+json${3+ \"$detail\"}"
    else fail "$name: want a $want problem:$why; body: $(head -c 300 "$VD_BODY")"; fi
}

# ---- encodings, JWS ----

b64url_enc() { openssl base64 -A | tr '/+' '_-' | tr -d '='; }
b64url_dec() {
    local s
    s=$(printf '%s' "$1" | tr '_-' '/+')
    case $(( ${#s} % 4 )) in 2) s="$s==" ;; 3) s="$s=" ;; 1) return 1 ;; esac
    printf '%s' "$s" | openssl base64 -d -A
}
# rand_b64url N: N random bytes, base64url.
rand_b64url() { openssl rand "$1" | b64url_enc; }
# b64url_len S: decoded length of a base64url string.
b64url_len() { b64url_dec "$1" | wc -c; }

# jws_part JWS N: the N-th part (1 header, 2 payload) decoded.
jws_part() {
    local h p s
    IFS=. read -r h p s <<<"$1"
    case $2 in 1) b64url_dec "$h" ;; 2) b64url_dec "$p" ;; 3) b64url_dec "$s" ;; esac
}

# jws_claim JWS POINTER: a claim from the JWS payload.
jws_claim() { jws_part "$1" 2 | "$JSONGET" -- "$2" 2>/dev/null; }

# jws_verify_openssl JWS JWKS_FILE: verify an ES256 JWS with the openssl CLI
# only, with the JWKS key whose kid is the header's kid: the key is rebuilt
# as DER SubjectPublicKeyInfo from x and y, the raw r||s signature as a DER
# ECDSA-Sig-Value with `openssl asn1parse -genconf`.
jws_verify_openssl() {
    local jws=$1 jwks=$2 d="$VD_TMP/jwsv" h p s kid n i x y hex
    rm -rf "$d"; mkdir -p "$d"
    IFS=. read -r h p s <<<"$jws"
    [ "$(jws_part "$jws" 1 | "$JSONGET" /alg)" = ES256 ] || return 1
    kid=$(jws_part "$jws" 1 | "$JSONGET" /kid) || return 1
    n=$("$JSONGET" -l -f "$jwks" /keys) || return 1
    x="" y=""
    for i in $(seq 0 $((n - 1))); do
        if [ "$("$JSONGET" -f "$jwks" "/keys/$i/kid")" = "$kid" ]; then
            [ "$("$JSONGET" -f "$jwks" "/keys/$i/kty")" = EC ] || return 1
            [ "$("$JSONGET" -f "$jwks" "/keys/$i/crv")" = P-256 ] || return 1
            x=$("$JSONGET" -f "$jwks" "/keys/$i/x") y=$("$JSONGET" -f "$jwks" "/keys/$i/y")
        fi
    done
    [ -n "$x" ] && [ -n "$y" ] || return 1
    # SPKI for P-256: fixed 26-byte prefix, 0x04, X, Y.
    { printf '3059301306072a8648ce3d020106082a8648ce3d03010703420004' | xxd_r
      b64url_dec "$x"; b64url_dec "$y"; } >"$d/pub.der"
    [ "$(wc -c <"$d/pub.der")" -eq 91 ] || return 1
    openssl pkey -pubin -inform DER -in "$d/pub.der" -out "$d/pub.pem" 2>/dev/null || return 1
    b64url_dec "$s" >"$d/sig.raw"
    [ "$(wc -c <"$d/sig.raw")" -eq 64 ] || return 1
    hex=$(od -An -v -tx1 "$d/sig.raw" | tr -d ' \n')
    printf 'asn1=SEQUENCE:sig\n[sig]\nr=INTEGER:0x%s\ns=INTEGER:0x%s\n' "${hex:0:64}" "${hex:64:64}" \
        >"$d/sig.cnf"
    openssl asn1parse -genconf "$d/sig.cnf" -out "$d/sig.der" -noout >/dev/null 2>&1 || return 1
    printf '%s.%s' "$h" "$p" >"$d/input"
    openssl dgst -sha256 -verify "$d/pub.pem" -signature "$d/sig.der" "$d/input" >/dev/null 2>&1
}

# xxd_r: hex on stdin to bytes on stdout (no xxd needed).
xxd_r() {
    local hex
    hex=$(tr -d ' \n')
    printf '%b' "$(printf '%s' "$hex" | sed 's/../\\x&/g')"
}

# ---- evidence that parses but proves nothing ----

# vd_fake_evidence OUT: a CMW JSON collection whose manifest, agent log and
# PCR values are well-formed but whose quote is junk, so verifierd must
# appraise it (200 + a contraindicated EAR) rather than reject it (4xx).
vd_fake_evidence() {
    local out=$1 man log pcrs md z
    z=$(printf '%064d' 0)
    man='{"agent_id":"fake-agent","manifest_version":1,"models":[{"name":"m","digest":"sha256:'$z'"}],"tools":[],"policies":[],"context":{"digest":"sha256:'$z'"}}'
    md=$(printf '%s' "$man" | openssl dgst -sha256 -r | cut -d' ' -f1)
    log='[{"digest":"sha256:'$md'"}]'
    pcrs='{"sha256":{"0":"'$z'","23":"'$z'"}}'
    printf '{"__cmwc_t":"tag:github.com,2026:verifierd/agent-evidence/v1",'
    printf '"tpm-attest":["application/vnd.verifierd.tpms-attest","%s"],' "$(printf 'junkattest' | b64url_enc)"
    printf '"tpm-signature":["application/vnd.verifierd.tpmt-signature","%s"],' "$(printf 'junksig' | b64url_enc)"
    printf '"tpm-pcrs":["application/vnd.verifierd.pcr-values+json","%s"],' "$(printf '%s' "$pcrs" | b64url_enc)"
    printf '"agent-manifest":["application/vnd.verifierd.agent-manifest+json","%s"],' "$(printf '%s' "$man" | b64url_enc)"
    printf '"agent-log":["application/vnd.verifierd.agent-log+json","%s"]}' "$(printf '%s' "$log" | b64url_enc)"
} 2>/dev/null >"${1:-/dev/stdout}"

# attest_body NONCE CB ATTESTER EVIDENCE_JSON_OR_QUOTED_STRING [EXTRA]
attest_body() {
    printf '{"nonce":"%s","channel_binding":"%s","attester":"%s","evidence":%s%s}' \
        "$1" "$2" "$3" "$4" "${5:+,$5}"
}

# vd_nonce TOKEN [JSON]: POST /v1/challenge; sets NONCE (empty unless 201).
# Not for $(...): HTTP_CODE and friends must reach the caller.
vd_nonce() {
    NONCE=""
    if [ -n "${2:-}" ]; then vd_post_json /v1/challenge "$1" "$2"
    else vd_call POST /v1/challenge "$1"; fi
    [ "$HTTP_CODE" = 201 ] || return 1
    NONCE=$(jget /nonce)
}

[ -x "$VD_BIN" ] || die "verifierd not built at $VD_BIN"
[ -x "$JSONGET" ] || die "jsonget not built at $JSONGET"
command -v curl >/dev/null || die "curl not installed"

# ---- a real attester (tests/lib/evidence.sh) provisioned in verifierd ----

# vd_ev_load: source evidence.sh (swtpm attester); its swtpm is stopped on exit.
vd_ev_load() {
    # shellcheck source=evidence.sh
    . "$VFY_SOURCE_DIR/tests/lib/evidence.sh" || return 1
    vd_on_exit ev_stop
}

_vd_sha() { printf '%s' "$1" | openssl dgst -sha256 -r | cut -c1-64; }

# vd_manifest OUT VERSION MODEL TOOL: an agent manifest (DESIGN §5) whose
# component digests are derived from the names, so tests can make new ones.
vd_manifest() {
    printf '{"agent_id":"travel-agent-01","manifest_version":%s,"models":[{"name":"%s","digest":"sha256:%s"}],"tools":[{"name":"%s","version":"2.1.0","digest":"sha256:%s"}],"policies":[{"name":"spend-limits","digest":"sha256:%s"}],"context":{"digest":"sha256:%s"}}' \
        "$2" "$3" "$(_vd_sha "model:$3")" "$4" "$(_vd_sha "tool:$4")" \
        "$(_vd_sha policy:spend-limits)" "$(_vd_sha context:travel)" >"$1"
}

# vd_approve_manifest DB FILE: approve every component of manifest FILE with
# verifyctl (digests taken from the file itself).
vd_approve_manifest() {
    local db=$1 f=$2
    "$VCTL" --db "$db" component add model "$("$JSONGET" -f "$f" /models/0/name)" \
        --digest "$("$JSONGET" -f "$f" /models/0/digest)" >/dev/null || return 1
    "$VCTL" --db "$db" component add tool "$("$JSONGET" -f "$f" /tools/0/name)" \
        --digest "$("$JSONGET" -f "$f" /tools/0/digest)" --version 2.1.0 >/dev/null || return 1
    "$VCTL" --db "$db" component add policy "$("$JSONGET" -f "$f" /policies/0/name)" \
        --digest "$("$JSONGET" -f "$f" /policies/0/digest)" >/dev/null || return 1
    "$VCTL" --db "$db" component add context travel \
        --digest "$("$JSONGET" -f "$f" /context/digest)" >/dev/null || return 1
}

# vd_ev_provision DB NAME [verifyctl attester add options]: register the
# swtpm AK as attester NAME and import the platform PCRs as reference set
# "default" (after ev_init).
vd_ev_provision() {
    local db=$1 name=$2; shift 2
    "$VCTL" --db "$db" attester add "$name" --ak-pem "$EV_DIR/ak.pem" "$@" >/dev/null || return 1
    ev_pcrread_yaml "$EV_DIR/pcrs.yaml" || return 1
    "$VCTL" --db "$db" pcr import default "$EV_DIR/pcrs.yaml" >/dev/null 2>&1
}

# vd_ev_attest TOKEN ATTESTER MANIFEST [json|cbor] [EXTRA JSON] [CURL ARGS...]:
# challenge, evidence for that nonce and a fresh channel binding, attest.
# Sets NONCE, CB, EVFILE, and the response (RID, EAR, STATUS, REASONS when 200).
vd_ev_attest() {
    local tok=$1 who=$2 man=$3 fmt=${4:-json} extra=${5:-} ev
    shift 5 2>/dev/null || shift $#
    RID="" EAR="" STATUS="" REASONS=""
    vd_nonce "$tok" || return 1
    CB=$(rand_b64url 32)
    EVFILE="$VD_TMP/ev.$fmt"
    ev_evidence "$NONCE" "$CB" "$man" "$EVFILE" "$fmt" || return 1
    if [ "$fmt" = cbor ]; then ev="\"$(cat "$EVFILE")\""; else ev=$(cat "$EVFILE"); fi
    vd_post_json /v1/attest "$tok" "$(attest_body "$NONCE" "$CB" "$who" "$ev" "$extra")" "$@"
    vd_parse_attest
}

# vd_parse_attest: RID, EAR, STATUS, REASONS from the last attest response
# (JSON or bare JWS).
vd_parse_attest() {
    if [ "$HTTP_CTYPE" = application/eat+jwt ]; then EAR=$(body); RID=$(jws_claim "$EAR" /jti)
    else EAR=$(jget /ear); RID=$(jget /result_id); fi
    STATUS=$(jws_claim "$EAR" /ear_status)
    REASONS=$(jws_claim "$EAR" /verifierd.reasons)
}
