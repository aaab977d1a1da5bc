#!/usr/bin/env bash
#
# quote_checkquote.sh — cross-check libverify against tpm2_checkquote on every
# fixture in $VFY_FIXTURES/quote/<case>/ (DESIGN §3).
#
# For each case:
#   - tpm2_checkquote's verdict must equal the `checkquote=` line of `expect`;
#   - libverify's (quotetool verify) must equal the `libverify=` line;
#   - the two must agree (accept <=> VFY_OK) unless `expect` documents the
#     difference in a `note=` line.
# tpm2_checkquote 5.4 flags: -u key -m message -s signature -f pcrs (the
# tpm2_quote -o file, with its selection) -g hash -q qualification.
set -uo pipefail

: "${VFY_BUILD_DIR:?VFY_BUILD_DIR not set}"
: "${VFY_FIXTURES:?VFY_FIXTURES not set}"
QT=$VFY_BUILD_DIR/tests/quotetool
[ -x "$QT" ] || { echo "FAIL: $QT not built"; exit 1; }
command -v tpm2_checkquote >/dev/null || { echo "FAIL: tpm2_checkquote not installed"; exit 1; }

fails=0
ncases=0
ndiff=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

field() { sed -n "s/^$1=//p" "$2" | head -n1; }

for dir in "$VFY_FIXTURES"/quote/*/; do
    dir=${dir%/}
    [ -f "$dir/expect" ] || continue
    c=$(basename "$dir")
    ncases=$((ncases + 1))
    want_lv=$(field libverify "$dir/expect")
    want_cq=$(field checkquote "$dir/expect")
    note=$(field note "$dir/expect")
    scheme=$(tr -d '[:space:]' <"$dir/scheme")
    binder=$(tr -d '[:space:]' <"$dir/binder.hex")
    hash=${scheme##*-}
    if [ -z "$want_lv" ] || { [ "$want_cq" != accept ] && [ "$want_cq" != reject ]; }; then
        fail "$c: expect file malformed"
        continue
    fi

    if tpm2_checkquote -u "$dir/ak.pem" -m "$dir/attest.bin" -s "$dir/sig.bin" \
        -f "$dir/pcrs.tpm2" -g "$hash" -q "$binder" >/dev/null 2>&1; then
        got_cq=accept
    else
        got_cq=reject
    fi
    got_lv=$("$QT" verify --ak "$dir/ak.pem" --scheme "$scheme" --attest "$dir/attest.bin" \
             --sig "$dir/sig.bin" --pcrs "$dir/pcrs.json" --binder "$binder")
    lv_exit=$?

    if [ "$got_cq" = "$want_cq" ]; then
        pass "$c: tpm2_checkquote $got_cq"
    else
        fail "$c: tpm2_checkquote $got_cq, expect says $want_cq"
    fi
    if [ "$got_lv" = "$want_lv" ]; then
        pass "$c: libverify $got_lv"
    else
        fail "$c: libverify $got_lv, expect says $want_lv"
    fi
    # quotetool's exit status must match its verdict.
    if { [ "$got_lv" = VFY_OK ] && [ $lv_exit -ne 0 ]; } ||
       { [ "$got_lv" != VFY_OK ] && [ $lv_exit -eq 0 ]; }; then
        fail "$c: quotetool exit $lv_exit does not match $got_lv"
    fi

    # tpm2_checkquote cannot check RSA-PSS quotes (tpm2-tools issue #3283):
    # back the note up with openssl on the raw signature (after the 6-byte
    # sigAlg, hash and size header of the TPMT_SIGNATURE).
    if [ "${scheme%%-*}" = rsapss ]; then
        tail -c +7 "$dir/sig.bin" >"${TMPDIR:-/tmp}/qcq-$$.sig"
        if openssl dgst "-$hash" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:auto \
            -verify "$dir/ak.pem" -signature "${TMPDIR:-/tmp}/qcq-$$.sig" \
            "$dir/attest.bin" >/dev/null 2>&1; then
            ossl=VFY_OK
        else
            ossl=VFY_E_SIG_INVALID
        fi
        rm -f "${TMPDIR:-/tmp}/qcq-$$.sig"
        if [ "$got_lv" = VFY_OK ] && [ "$ossl" != VFY_OK ]; then
            fail "$c: libverify accepts an RSA-PSS signature openssl rejects"
        elif [ "$got_lv" = VFY_OK ]; then
            pass "$c: openssl also verifies the RSA-PSS signature"
        fi
    fi

    # Agreement between the two verifiers.
    lv_accepts=no; [ "$got_lv" = VFY_OK ] && lv_accepts=yes
    cq_accepts=no; [ "$got_cq" = accept ] && cq_accepts=yes
    if [ "$lv_accepts" = "$cq_accepts" ]; then
        pass "$c: both verifiers agree ($got_cq)"
    elif [ -n "$note" ]; then
        ndiff=$((ndiff + 1))
        pass "$c: documented difference: $note"
    else
        fail "$c: libverify $got_lv but tpm2_checkquote $got_cq, and expect has no note="
    fi
    # A note on a case where both agree is stale.
    if [ "$lv_accepts" = "$cq_accepts" ] && [ -n "$note" ]; then
        fail "$c: expect has a note= but the verifiers agree; remove or fix the note"
    fi
done

if [ "$ncases" -lt 10 ]; then
    fail "only $ncases fixture cases in $VFY_FIXTURES/quote"
fi
if [ "$fails" -ne 0 ]; then
    echo "quote_checkquote: $fails check(s) failed over $ncases cases"
    exit 1
fi
echo "quote_checkquote: $ncases cases, $ndiff documented differences, all checks passed"
