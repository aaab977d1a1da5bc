#!/bin/bash
# ear_openssl.sh — check EAR signatures and kids with the openssl command line,
# independently of libverify's own verifier (issue 4: "The EAR signature is also
# checked by an independent path").
#
# eartool (tests/tools/eartool.c) signs a sample EAR with libverify; this script
# then splits the JWS, base64url-decodes it, rebuilds the DER ECDSA-Sig-Value from
# the raw r||s with `openssl asn1parse -genconf`, and verifies it with
# `openssl dgst -sha256 -verify`. It recomputes the RFC 7638 kid from the public
# key with openssl, and checks that a tampered payload fails both in openssl and
# in the library.
set -euo pipefail

: "${VFY_BUILD_DIR:?run under ctest (VFY_BUILD_DIR unset)}"
TOOL="$VFY_BUILD_DIR/tests/eartool"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# base64url (no padding) -> bytes on stdout
b64url_dec() {
    local s
    s=$(printf '%s' "$1" | tr '_-' '/+')
    case $(( ${#s} % 4 )) in
        2) s="$s==" ;;
        3) s="$s=" ;;
        1) fail "bad base64url length" ;;
    esac
    printf '%s' "$s" | openssl base64 -d -A
}
# bytes on stdin -> base64url without padding
b64url_enc() { openssl base64 -A | tr '/+' '_-' | tr -d '='; }

# Verify JWS file $1 with pub key $2 using openssl only; returns openssl's status.
openssl_verify_jws() {
    local jws h p s hex
    jws=$(cat "$1")
    IFS=. read -r h p s <<<"$jws"
    b64url_dec "$s" >"$T/sig.raw"
    [ "$(wc -c <"$T/sig.raw")" -eq 64 ] || fail "signature is not 64 bytes"
    hex=$(od -An -v -tx1 "$T/sig.raw" | tr -d ' \n')
    cat >"$T/sig.cnf" <<EOF
asn1=SEQUENCE:sig
[sig]
r=INTEGER:0x${hex:0:64}
s=INTEGER:0x${hex:64:64}
EOF
    openssl asn1parse -genconf "$T/sig.cnf" -out "$T/sig.der" -noout
    printf '%s.%s' "$h" "$p" >"$T/signing-input"
    openssl dgst -sha256 -verify "$2" -signature "$T/sig.der" "$T/signing-input" >/dev/null 2>&1
}

for profile in ietf veraison; do
    D="$T/$profile"
    mkdir -p "$D"
    "$TOOL" sign "$T/sign.pem" "$D" "$profile" >/dev/null
    [ "$(stat -c %a "$T/sign.pem")" = 600 ] || fail "signing key file is not 0600"

    # 1. signature verifies with openssl alone
    openssl_verify_jws "$D/ear.jws" "$D/pub.pem" || fail "$profile: openssl rejects the EAR signature"

    # 2. header is exactly {"alg":"ES256","typ":"JWT","kid":<kid>}
    IFS=. read -r h p s <<<"$(cat "$D/ear.jws")"
    kid=$(cat "$D/kid")
    [ "$(b64url_dec "$h")" = "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"$kid\"}" ] ||
        fail "$profile: unexpected header $(b64url_dec "$h")"

    # 3. kid = RFC 7638 thumbprint, recomputed from the public key with openssl
    openssl pkey -pubin -in "$D/pub.pem" -outform DER | tail -c 64 >"$T/xy"
    x=$(head -c 32 "$T/xy" | b64url_enc)
    y=$(tail -c 32 "$T/xy" | b64url_enc)
    tp=$(printf '{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}' "$x" "$y" |
        openssl dgst -sha256 -binary | b64url_enc)
    [ "$tp" = "$kid" ] || fail "$profile: kid $kid is not the RFC 7638 thumbprint $tp"
    grep -q "\"x\":\"$x\"" "$D/jwks.json" && grep -q "\"y\":\"$y\"" "$D/jwks.json" &&
        grep -q "\"kid\":\"$kid\"" "$D/jwks.json" || fail "$profile: JWKS does not carry the key"

    # 4. claims carry the profile's names
    claims=$(b64url_dec "$p")
    case $profile in
        ietf) want='"eat_profile":"tag:ietf.org,2026:rats/ear#04"'; name='"ear_status":"warning"' ;;
        veraison) want='"eat_profile":"tag:github.com,2023:veraison/ear"'; name='"ear.status":"warning"' ;;
    esac
    grep -qF "$want" <<<"$claims" || fail "$profile: profile string missing in $claims"
    grep -qF "$name" <<<"$claims" || fail "$profile: status claim missing in $claims"

    # 5. the library accepts it too, and rejects it once expired
    now=$(date +%s)
    [ "$("$TOOL" verify "$D/jwks.json" "$D/ear.jws" "$now")" = VFY_OK ] || fail "$profile: library rejects"
    [ "$("$TOOL" verify "$D/jwks.json" "$D/ear.jws" $((now + 100000)) || true)" = VFY_E_EAR_EXPIRED ] ||
        fail "$profile: expired EAR not rejected as expired"

    # 6. tampered payload (attester renamed), original signature: both must reject
    tp_payload=$(printf '%s' "$claims" | sed 's/"agent-1"/"agent-2"/' | b64url_enc)
    [ "$tp_payload" != "$p" ] || fail "tamper did not change the payload"
    printf '%s.%s.%s' "$h" "$tp_payload" "$s" >"$D/tampered.jws"
    if openssl_verify_jws "$D/tampered.jws" "$D/pub.pem"; then
        fail "$profile: openssl accepted a tampered payload"
    fi
    [ "$("$TOOL" verify "$D/jwks.json" "$D/tampered.jws" "$now" || true)" = VFY_E_JWS_SIGNATURE ] ||
        fail "$profile: library accepted or misreported a tampered payload"
done

echo "ear_openssl: ok"
