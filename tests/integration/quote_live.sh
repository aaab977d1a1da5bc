#!/usr/bin/env bash
#
# quote_live.sh — a live quote from a real swtpm, verified by libverify
# (DESIGN §3): binder from random nonce/cb/manifest (quotetool binder), PCR 23
# extended with the manifest digest, TPM2_Quote with qualifyingData = binder
# (tpm2_quote), then quotetool verify must say VFY_OK, and VFY_E_BINDER_MISMATCH
# for another binder. Run by ctest with VFY_BUILD_DIR, VFY_SOURCE_DIR set.
set -uo pipefail

: "${VFY_BUILD_DIR:?VFY_BUILD_DIR not set}"
: "${VFY_SOURCE_DIR:?VFY_SOURCE_DIR not set}"
QT=$VFY_BUILD_DIR/tests/quotetool
[ -x "$QT" ] || { echo "FAIL: $QT not built"; exit 1; }

# shellcheck source=../lib/swtpm.sh
source "$VFY_SOURCE_DIR/tests/lib/swtpm.sh"

work=$(mktemp -d)
cleanup() { swtpm_stop; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

fails=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
die() { echo "FAIL: $*"; exit 1; }

swtpm_start "$work/tpm" || die "swtpm did not start"
pass "swtpm running (pid $SWTPM_PID, port $SWTPM_PORT)"
cd "$work" || die "cd $work"

flush() { tpm2_flushcontext -t >/dev/null 2>&1; tpm2_flushcontext -s >/dev/null 2>&1; }
rand_hex() { openssl rand -hex "$1"; }

# pcr-values JSON from the "pcrs:" YAML that tpm2_quote prints.
pcrs_json() {
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
        END { printf "{\"sha256\":{%s}}\n", out }
    ' "$1"
}

# live_case KEYALG HASH SCHEME: one AK, one quote, the checks.
live_case() {
    local alg=$1 hash=$2 scheme=$3 tag=$1-$3
    local nonce cb binder other md out

    tpm2_createak -C ek.ctx -c "ak-$tag.ctx" -G "$alg" -g "$hash" -s "${scheme%%-*}" \
        -u "ak-$tag.pub" -n "ak-$tag.name" >/dev/null 2>"err-$tag" \
        || { fail "$tag: tpm2_createak: $(tail -n1 "err-$tag")"; flush; return; }
    flush
    tpm2_readpublic -c "ak-$tag.ctx" -f pem -o "ak-$tag.pem" >/dev/null 2>&1 \
        || { fail "$tag: tpm2_readpublic"; flush; return; }
    flush

    nonce=$(rand_hex 32)
    cb=$(rand_hex 32)
    printf '{"agent_id":"live-%s","manifest_version":%d}' "$(rand_hex 4)" "$RANDOM" >"manifest-$tag.json"
    binder=$("$QT" binder "$nonce" "$cb" "manifest-$tag.json") \
        || { fail "$tag: quotetool binder"; return; }
    [[ $binder =~ ^[0-9a-f]{64}$ ]] || { fail "$tag: binder '$binder' is not 64 hex"; return; }
    md=$(openssl dgst -sha256 -r <"manifest-$tag.json" | cut -c1-64)
    tpm2_pcrextend "23:sha256=$md" >/dev/null 2>&1 || { fail "$tag: pcrextend 23"; return; }

    tpm2_quote -c "ak-$tag.ctx" -g "$hash" --scheme "${scheme%%-*}" \
        -l sha256:0,1,2,3,4,5,6,7,23 -q "$binder" \
        -m "attest-$tag.bin" -s "sig-$tag.bin" -o "pcrs-$tag.tpm2" >"quote-$tag.yaml" 2>"err-$tag" \
        || { fail "$tag: tpm2_quote: $(tail -n1 "err-$tag")"; flush; return; }
    flush
    pcrs_json "quote-$tag.yaml" >"pcrs-$tag.json"

    for key in pem pub; do
        if out=$("$QT" verify --ak "ak-$tag.$key" --scheme "$scheme" --attest "attest-$tag.bin" \
                 --sig "sig-$tag.bin" --pcrs "pcrs-$tag.json" --binder "$binder") &&
           [ "$out" = VFY_OK ]; then
            pass "$tag: live quote verifies with ak.$key (VFY_OK)"
        else
            fail "$tag: live quote with ak.$key gave '$out', want VFY_OK"
        fi
    done

    other=$(rand_hex 32)
    if ! out=$("$QT" verify --ak "ak-$tag.pem" --scheme "$scheme" --attest "attest-$tag.bin" \
               --sig "sig-$tag.bin" --pcrs "pcrs-$tag.json" --binder "$other") &&
       [ "$out" = VFY_E_BINDER_MISMATCH ]; then
        pass "$tag: other binder rejected (VFY_E_BINDER_MISMATCH)"
    else
        fail "$tag: other binder gave '$out', want VFY_E_BINDER_MISMATCH"
    fi

    # A binder from the same nonce and manifest but another channel.
    other=$("$QT" binder "$nonce" "$(rand_hex 32)" "manifest-$tag.json")
    out=$("$QT" verify --ak "ak-$tag.pem" --scheme "$scheme" --attest "attest-$tag.bin" \
          --sig "sig-$tag.bin" --pcrs "pcrs-$tag.json" --binder "$other")
    if [ "$out" = VFY_E_BINDER_MISMATCH ]; then
        pass "$tag: binder of another channel rejected (VFY_E_BINDER_MISMATCH)"
    else
        fail "$tag: binder of another channel gave '$out', want VFY_E_BINDER_MISMATCH"
    fi
}

tpm2_createek -c ek.ctx -G rsa -u ek.pub >/dev/null 2>&1 || die "tpm2_createek"
flush

live_case ecc256 sha256 ecdsa-sha256
live_case rsa2048 sha256 rsassa-sha256

if [ "$fails" -ne 0 ]; then
    echo "quote_live: $fails check(s) failed"
    exit 1
fi
echo "quote_live: all checks passed"
