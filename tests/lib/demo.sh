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
