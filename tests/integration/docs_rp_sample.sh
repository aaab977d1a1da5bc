#!/usr/bin/env bash
# docs_rp_sample.sh — the relying party's code sample in docs/api.md
# ("Verifying an EAR as a relying party") compiles against the public
# headers and makes the checks docs/rp-guide.md §2-3 require of a verified
# EAR: vfy_ear_verify_expected with every expectation and the appraisal
# policy, the overall status and both submodules present and affirming; and the section around it links the
# normative rule and does not call the revocation check optional.
set -u
: "${VFY_BUILD_DIR:?}" "${VFY_SOURCE_DIR:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npass=0 nfail=0
ok() { npass=$((npass + 1)); echo "ok - $*"; }
bad() { nfail=$((nfail + 1)); echo "FAIL - $*"; }

doc="$VFY_SOURCE_DIR/docs/api.md"
# The section, and the first C block in it (its indentation removed).
awk '/^## /{s = ($0 ~ /^## Verifying an EAR as a relying party/)} s' "$doc" >"$tmp/section.md"
awk '/^ *```c/{c = 1; next} c && /^ *```/{exit} c{sub(/^   /, ""); print}' "$tmp/section.md" \
    >"$tmp/sample.txt"
if [ -s "$tmp/sample.txt" ]; then ok "the section has a C sample"; else bad "no C sample in the section"; fi

# File scope: what comes before the first statement on the EAR (a helper);
# the rest is the body of a function with the sample's free variables as
# parameters, and hold() stands for the application's own.
{
    printf '#include <stdint.h>\n#include <string.h>\n#include <time.h>\n#include <verify/verify.h>\n'
    printf 'static void hold(vfy_ear *ear) { vfy_ear_free(&ear); }\n'
    sed -n '/^vfy_jwks \*keys/q;p' "$tmp/sample.txt"
    printf 'int sample(const char *jws, const char *jwks, size_t jwks_len, const uint8_t *nonce,\n'
    printf '           const uint8_t *cb, uint32_t max_ttl_s);\n'
    printf 'int sample(const char *jws, const char *jwks, size_t jwks_len, const uint8_t *nonce,\n'
    printf '           const uint8_t *cb, uint32_t max_ttl_s)\n{\n'
    sed -n '/^vfy_jwks \*keys/,$p' "$tmp/sample.txt"
    printf 'return 0;\n}\n'
} >"$tmp/sample.c"
if cc -std=c11 -Wall -Wextra -Werror -fsyntax-only -I"$VFY_SOURCE_DIR/libverify/include" \
      -I"$VFY_BUILD_DIR/libverify/include" "$tmp/sample.c" 2>"$tmp/cc.err"; then
    ok "the sample compiles (-Wall -Wextra -Werror) against the public headers"
else
    bad "the sample does not compile: $(head -c 600 "$tmp/cc.err")"
fi

# What it must check (rp-guide §3), each a call in the sample.
for want in 'vfy_ear_verify_expected(&ear' 'vfy_ear_expect want' '"default@1"' \
            'vfy_ear_get_status(ear) == VFY_EAR_AFFIRMING' \
            'vfy_ear_has_submod(ear, VFY_EAR_PLATFORM)' 'vfy_ear_has_submod(ear, VFY_EAR_AGENT)' \
            'vfy_ear_get_submod_status(ear, VFY_EAR_PLATFORM) == VFY_EAR_AFFIRMING' \
            'vfy_ear_get_submod_status(ear, VFY_EAR_AGENT) == VFY_EAR_AFFIRMING' \
            'vfy_ear_free(&ear)'; do
    if grep -qF -- "$want" "$tmp/sample.txt"; then ok "the sample has $want"
    else bad "the sample lacks $want"; fi
done
# ... and the text: the normative rule linked, revocation, notices and the
# key's publication before each operation, revocation not optional.
for want in 'docs/rp-guide.md' 'GET /v1/revocations' 'GET /v1/results/{id}' 'posture change' \
            'vfy_ear_get_kid()' 'This is not'; do
    if grep -qF -- "$want" "$tmp/section.md"; then ok "the section says $want"
    else bad "the section does not say $want"; fi
done
if grep -qi 'optionally' "$tmp/section.md"; then bad "the section calls a check optional"
else ok "the section calls no check optional"; fi

echo "$npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
