# shellcheck shell=bash
#
# evidence.sh — a real attester for tests: an swtpm with an AK, the agent PCR
# and agent log of DESIGN §4, and channel-bound evidence (DESIGN §3, §5) as a
# CMW collection. Source it (it sources swtpm.sh next to it), then:
#
#   ev_init DIR
#       Starts swtpm (state in DIR/tpm), extends platform PCRs 0..7 with fixed
#       non-zero values, creates an RSA EK and an ECC P-256 ecdsa-sha256 AK
#       (made persistent at $EV_AK, so it survives ev_reboot), writes
#       DIR/ak.pem (PEM SPKI) and DIR/ak.pub (TPM2B_PUBLIC), sets EV_DIR=DIR
#       and starts an empty agent log DIR/agent-log.json ("[]").
#   ev_manifest_apply FILE
#       md = SHA-256(FILE); tpm2_pcrextend 23:sha256=<md>; appends
#       {"digest":"sha256:<md>","manifest":"<b64url of FILE>"} to the log.
#   ev_pcr_reset23
#       tpm2_pcrreset 23 and empties the log (an agent-PCR reset, i.e. a
#       history-rollback attempt); the old log is kept in
#       DIR/agent-log.prev.json.
#   ev_evidence NONCE_B64URL CB_B64URL MANIFEST_FILE OUT [json|cbor] [LOGFILE]
#       binder = SHA-256(label || 0 || nonce || cb || SHA-256(MANIFEST_FILE))
#       (quotetool binder), tpm2_quote with the AK over
#       sha256:0,1,2,3,4,5,6,7,23 with -q binder, the pcr-values JSON from
#       the quote's own PCR output, and `cmwtool encode` to OUT: JSON as-is,
#       CBOR as base64url text (what an attest request carries). LOGFILE
#       defaults to DIR/agent-log.json. The quote's parts are kept in
#       DIR/last.{attest,sig,pcrs.json,yaml}.
#   ev_pcrread_yaml OUT
#       tpm2_pcrread sha256:0,1,2,3,4,5,6,7 > OUT (what `verifyctl pcr
#       import` reads).
#   ev_stop
#       Stops swtpm. Safe to call twice and from an EXIT trap.
#
# Extras (used by tests/fixtures/gen-appraise-fixtures.sh):
#   ev_reboot         orderly TPM shutdown and power cycle (resetCount + 1),
#                     platform PCRs re-extended to the same values, PCR 23
#                     and the agent log start empty (old log kept as
#                     agent-log.prev.json).
#   ev_restart        TPM Restart: Shutdown(STATE) and power cycle, as on
#                     hibernation: restartCount + 1, resetCount unchanged,
#                     PCRs reset (platform PCRs re-extended, PCR 23 and the
#                     agent log start empty as with ev_reboot).
#   ev_clock_advance MS   moves the TPM clock forward by MS milliseconds
#                     (tpm2_setclock), e.g. to make an earlier quote look
#                     older than the nonce TTL.
#   ev_clock_yaml     prints tpm2_readclock output.
#
# Needs: swtpm, tpm2-tools 5.x, openssl, jq, basenc, od; the test tools
# quotetool and cmwtool, found at $EV_QUOTETOOL / $EV_CMWTOOL or else under
# $VFY_BUILD_DIR/tests/. Every function returns non-zero (with a message on
# stderr) on failure; none calls exit, so callers decide (set -e works).
#
# swtpm has no resource manager: every tpm2 tool call is followed by
# flushing transient objects and sessions, or the next one fails with 0x902.

_EV_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=swtpm.sh
source "$_EV_HERE/swtpm.sh"

EV_DIR=""
EV_AK=0x81010002
EV_PCRS=sha256:0,1,2,3,4,5,6,7,23
EV_PLATFORM_PCRS=sha256:0,1,2,3,4,5,6,7

_ev_err() { echo "evidence.sh: $*" >&2; return 1; }

_ev_flush() {
    tpm2_flushcontext -t >/dev/null 2>&1 || true
    tpm2_flushcontext -s >/dev/null 2>&1 || true
}

_ev_tool() {   # _ev_tool NAME -> path of the built test tool
    local var override
    var=EV_$(printf '%s' "$1" | tr '[:lower:]' '[:upper:]')
    override=${!var:-}
    if [ -n "$override" ]; then
        printf '%s\n' "$override"
    elif [ -n "${VFY_BUILD_DIR:-}" ] && [ -x "$VFY_BUILD_DIR/tests/$1" ]; then
        printf '%s\n' "$VFY_BUILD_DIR/tests/$1"
    else
        _ev_err "$1 not found: set VFY_BUILD_DIR or $var"
    fi
}

_ev_sha256() { openssl dgst -sha256 -r <"$1" | cut -c1-64; }

_ev_b64url_file() { basenc --base64url -w0 <"$1" | tr -d '='; }

_ev_b64url_to_hex() {   # base64url (no padding) -> lowercase hex
    local s=$1
    case $(( ${#s} % 4 )) in
        2) s="$s==" ;;
        3) s="$s=" ;;
        1) _ev_err "bad base64url: $1"; return 1 ;;
    esac
    printf '%s' "$s" | basenc --base64url -d | od -An -tx1 -v | tr -d ' \n'
}

_ev_need_dir() { [ -n "$EV_DIR" ] || _ev_err "call ev_init first"; }

# Fixed non-zero platform values (the same after every ev_reboot).
_ev_extend_platform() {
    local i
    for i in 0 1 2 3 4 5 6 7; do
        tpm2_pcrextend "$i:sha256=$(printf 'evidence.sh platform pcr %s' "$i" |
            openssl dgst -sha256 -r | cut -c1-64)" || return 1
        _ev_flush
    done
}

ev_init() {
    local dir=${1:?ev_init: directory required}
    mkdir -p "$dir" || return 1
    dir=$(cd "$dir" && pwd)
    swtpm_start "$dir/tpm" || return 1
    EV_DIR=$dir
    _ev_extend_platform || return 1
    tpm2_createek -c "$dir/ek.ctx" -G rsa -u "$dir/ek.pub" >/dev/null || return 1
    _ev_flush
    tpm2_createak -C "$dir/ek.ctx" -c "$dir/ak.ctx" -G ecc256 -g sha256 -s ecdsa \
        -u "$dir/ak.pub" -n "$dir/ak.name" >/dev/null || return 1
    _ev_flush
    tpm2_evictcontrol -C o -c "$dir/ak.ctx" "$EV_AK" >/dev/null || return 1
    _ev_flush
    tpm2_readpublic -c "$EV_AK" -f pem -o "$dir/ak.pem" >/dev/null || return 1
    _ev_flush
    printf '[]' >"$dir/agent-log.json"
}

ev_manifest_apply() {
    local f=${1:?ev_manifest_apply: manifest file required} md b64
    _ev_need_dir || return 1
    [ -r "$f" ] || _ev_err "cannot read $f" || return 1
    md=$(_ev_sha256 "$f") || return 1
    b64=$(_ev_b64url_file "$f") || return 1
    tpm2_pcrextend "23:sha256=$md" || return 1
    _ev_flush
    jq -c --arg d "sha256:$md" --arg m "$b64" '. + [{"digest":$d,"manifest":$m}]' \
        "$EV_DIR/agent-log.json" >"$EV_DIR/agent-log.json.tmp" || return 1
    # No trailing newline: the log bytes go into the evidence as they are.
    printf '%s' "$(cat "$EV_DIR/agent-log.json.tmp")" >"$EV_DIR/agent-log.json"
    rm -f "$EV_DIR/agent-log.json.tmp"
}

ev_pcr_reset23() {
    _ev_need_dir || return 1
    tpm2_pcrreset 23 || return 1
    _ev_flush
    cp "$EV_DIR/agent-log.json" "$EV_DIR/agent-log.prev.json" || return 1
    printf '[]' >"$EV_DIR/agent-log.json"
}

ev_evidence() {
    local nonce=${1:?ev_evidence: NONCE_B64URL required}
    local cb=${2:?ev_evidence: CB_B64URL required}
    local manifest=${3:?ev_evidence: MANIFEST_FILE required}
    local out=${4:?ev_evidence: OUT required}
    local fmt=${5:-json}
    local log nonce_hex cb_hex binder qt ct p
    _ev_need_dir || return 1
    log=${6:-$EV_DIR/agent-log.json}
    case $fmt in json|cbor) ;; *) _ev_err "format must be json or cbor"; return 1 ;; esac
    qt=$(_ev_tool quotetool) || return 1
    ct=$(_ev_tool cmwtool) || return 1
    nonce_hex=$(_ev_b64url_to_hex "$nonce") || return 1
    cb_hex=$(_ev_b64url_to_hex "$cb") || return 1
    [ ${#nonce_hex} -eq 64 ] || _ev_err "nonce must be 32 bytes" || return 1
    [ ${#cb_hex} -eq 64 ] || _ev_err "channel binding must be 32 bytes" || return 1
    binder=$("$qt" binder "$nonce_hex" "$cb_hex" "$manifest") || return 1
    p=$EV_DIR/last
    tpm2_quote -c "$EV_AK" -g sha256 -l "$EV_PCRS" -q "$binder" \
        -m "$p.attest" -s "$p.sig" -o "$p.pcrs.tpm2" >"$p.yaml" || { _ev_flush; return 1; }
    _ev_flush
    # pcr-values JSON (DESIGN §5) from the values tpm2_quote printed.
    awk '
        /^pcrs:/ { inpcrs = 1; next }
        inpcrs && /^  sha256:/ { bank = 1; next }
        inpcrs && /^  [a-z]/ { bank = 0 }
        inpcrs && /^[^ ]/ { inpcrs = 0 }
        bank && /^    [0-9]+ *: *0x/ {
            split($0, f, ":"); idx = f[1]; gsub(/ /, "", idx)
            val = f[2]; gsub(/ |0x/, "", val)
            out = out (n++ ? "," : "") "\"" idx "\":\"" tolower(val) "\""
        }
        END { printf "{\"sha256\":{%s}}", out }
    ' "$p.yaml" >"$p.pcrs.json" || return 1
    "$ct" encode --attest "$p.attest" --sig "$p.sig" --pcrs "$p.pcrs.json" \
        --manifest "$manifest" --log "$log" --format "$fmt" >"$out"
}

ev_pcrread_yaml() {
    local out=${1:?ev_pcrread_yaml: OUT required}
    _ev_need_dir || return 1
    tpm2_pcrread "$EV_PLATFORM_PCRS" >"$out" || return 1
    _ev_flush
}

ev_clock_yaml() {
    _ev_need_dir || return 1
    tpm2_readclock || return 1
    _ev_flush
}

ev_clock_advance() {
    local ms=${1:?ev_clock_advance: milliseconds required} now
    _ev_need_dir || return 1
    now=$(tpm2_readclock | awk '/^ *clock:/ { print $2; exit }') || return 1
    _ev_flush
    [ -n "$now" ] || _ev_err "cannot read the TPM clock" || return 1
    tpm2_setclock "$(( now + ms ))" >/dev/null || return 1
    _ev_flush
}

ev_reboot() { _ev_power_cycle -c; }
ev_restart() { _ev_power_cycle; }

_ev_power_cycle() {   # _ev_power_cycle [-c]: Shutdown(CLEAR) with -c, else Shutdown(STATE)
    _ev_need_dir || return 1
    tpm2_shutdown "$@" || return 1
    _ev_flush
    # Power cycle: CMD_INIT resets the TPM; swtpm runs with startup-clear, so
    # it sends TPM2_Startup(CLEAR) itself: after Shutdown(CLEAR) a TPM Reset
    # (resetCount + 1), after Shutdown(STATE) a TPM Restart (restartCount + 1).
    swtpm_ioctl --tcp "127.0.0.1:$SWTPM_CTRL_PORT" -i >/dev/null || return 1
    tpm2_startup -c >/dev/null 2>&1 || true
    _ev_flush
    _ev_extend_platform || return 1
    cp "$EV_DIR/agent-log.json" "$EV_DIR/agent-log.prev.json" || return 1
    printf '[]' >"$EV_DIR/agent-log.json"
}

ev_stop() {
    swtpm_stop
    return 0
}
