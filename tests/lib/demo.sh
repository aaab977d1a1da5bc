# tests/lib/demo.sh — shared by the tests that run scripts/demo.sh
# (demo_story.sh, rp_notice_window.sh, rp_keys.sh): TAP-style counters, the
# check that the four programs the demo starts are built, a scratch
# directory and a runner. Source it after setting VFY_BUILD_DIR.
PASS=0 FAIL=0
DEMO_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

pass() { PASS=$((PASS + 1)); echo "ok - $*"; }
fail() { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }

# demo_require_built: exit 1 (one failure) unless verifierd, verifyctl,
# vfy-agent and vfy-rp are built under VFY_BUILD_DIR.
demo_require_built() {
    local b
    for b in verifierd/verifierd tools/verifyctl/verifyctl examples/vfy-agent examples/vfy-rp; do
        if [ ! -x "$VFY_BUILD_DIR/$b" ]; then
            echo "FAIL - $b not built"; echo "0 passed, 1 failed"; exit 1
        fi
    done
}

# demo_tmp NAME: TMP = a fresh directory, removed on exit.
demo_tmp() {
    TMP=$(mktemp -d "/tmp/$1.XXXXXX")
    # shellcheck disable=SC2064  # expand TMP now
    trap "rm -rf '$TMP'" EXIT
}

# demo_run OUT [VAR=VALUE...]: scripts/demo.sh (60 s at most) with those
# variables set (DEMO_STORY, DEMO_TTL, DEMO_AGENT_ARGS, DEMO_RP_ARGS, ...),
# its output in OUT; prints its exit status.
demo_run() {
    local out=$1
    shift
    env -u DEMO_KEEP "$@" timeout -k 5 60 bash "$DEMO_SRC/scripts/demo.sh" "$VFY_BUILD_DIR" \
        >"$out" 2>&1
    echo $?
}

# demo_fault_shim: SHIM = tests/shim/tpmfault.so (exit 1, one failure, if
# it is not built) and $TMP/fault, the directory its cue files go in
# (TPMFAULT_DIR); under ASan the uninstrumented shim may load after it.
demo_fault_shim() {
    SHIM=$VFY_BUILD_DIR/tests/tpmfault.so
    [ -f "$SHIM" ] || { echo "FAIL - $SHIM not built"; echo "0 passed, 1 failed"; exit 1; }
    # ASan wants to be first among the libraries; the shim is not instrumented
    [ "${VFY_SANITIZE:-0}" = 1 ] && export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
    mkdir -p "$TMP/fault"
}

# demo_platform_script FILE: a script (sourced or run by the story) that
# extends PCRs 0-7 as scripts/demo.sh's set-up does, to its reference values,
# as firmware would after a TPM reset or restart.
demo_platform_script() {
    cat >"$1" <<'SH'
for i in 0 1 2 3 4 5 6 7; do
    tpm2_pcrextend "$i:sha256=$(printf 'demo platform pcr %s' "$i" | openssl dgst -sha256 -r | cut -c1-64)" || exit 1
done
tpm2_flushcontext -t >/dev/null 2>&1 || true
SH
}

# demo_reset_script FILE: a script (run by the story, in the demo's
# environment) that resets the demo's swtpm as agent_tpm_reset.sh does: a
# clean shutdown, CMD_INIT, startup, the platform PCRs extended again
# (demo_platform_script).
demo_reset_script() {
    cat >"$1" <<'SH'
tpm2_shutdown -c && swtpm_ioctl --tcp "127.0.0.1:$SWTPM_CTRL_PORT" -i >/dev/null &&
    { tpm2_startup -c >/dev/null 2>&1 || true; } || exit 1
SH
    demo_platform_script "$1.platform"
    printf '. "%s"\n' "$1.platform" >>"$1"
}

# in_order NAME FILE ERE...: one check; each ERE must match a line of FILE
# after the line the previous one matched.
in_order() {
    local name=$1 file=$2 pos=0 hit re
    shift 2
    for re in "$@"; do
        hit=$(tail -n +"$((pos + 1))" "$file" | grep -nE -m1 -- "$re" | cut -d: -f1)
        if [ -z "$hit" ]; then
            fail "$name: no line matching /$re/ after line $pos"
            return
        fi
        pos=$((pos + hit))
    done
    pass "$name"
}
