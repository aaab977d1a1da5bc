# verifyctl.sh — helpers sourced by the verifyctl_*.sh integration tests
# (not a test itself: it exits 0 when run alone).
set -euo pipefail
: "${VFY_BUILD_DIR:?VFY_BUILD_DIR must point at the build root}"
VCTL="$VFY_BUILD_DIR/tools/verifyctl/verifyctl"
[ -x "$VCTL" ] || { echo "verifyctl not built at $VCTL" >&2; exit 1; }
WORK=$(mktemp -d /tmp/verifyctl_test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# A stable dump of everything in the DB: sqlite3's .dump when the CLI is
# installed, else verifyctl's own export plus the audit and token listings.
dump() {
    if command -v sqlite3 >/dev/null 2>&1; then
        sqlite3 "$1" .dump
    else
        "$VCTL" --db "$1" export
        "$VCTL" --db "$1" list audit --json
        "$VCTL" --db "$1" list tokens --json
    fi
}

hex() { printf "%0${2}x" 0 | tr 0 "$1"; }   # hex CHAR LEN -> CHAR repeated LEN times

new_ec_pem() {   # new_ec_pem OUT.pem
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null
    openssl pkey -in "$1.key" -pubout -out "$1"
}

# expect_fail DB "exact stderr line" verifyctl-args...
# The command must exit non-zero, print exactly that one line on stderr,
# nothing on stdout, and leave the DB dump unchanged.
expect_fail() {
    local db=$1 want=$2; shift 2
    local before after out err rc=0
    before=$(dump "$db")
    "$VCTL" --db "$db" "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
    out=$(cat "$WORK/out"); err=$(cat "$WORK/err")
    [ "$rc" -ne 0 ] || fail "verifyctl $* exited 0"
    [ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "verifyctl $*: stderr is not one line: $err"
    [ "$err" = "$want" ] || fail "verifyctl $*: stderr
  got:  $err
  want: $want"
    [ -z "$out" ] || fail "verifyctl $*: unexpected stdout: $out"
    after=$(dump "$db")
    [ "$before" = "$after" ] || fail "verifyctl $* changed the database"
    echo "ok: $* -> $err"
}
