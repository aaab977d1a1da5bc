#!/usr/bin/env bash
# verifyctl_crash.sh — crash safety of import (DESIGN §10 "nothing lost"):
# SIGKILL `verifyctl import` in the middle of a 200k-component bundle, then
# show the database is entirely before or entirely after the import
# (its export equals one of the two), and still usable.
set -euo pipefail
. "$(dirname "$0")/../lib/verifyctl.sh"
DB="$WORK/a.db"
N=${VFY_CRASH_COMPONENTS:-200000}
cd "$WORK"

"$VCTL" --db "$DB" init >/dev/null
"$VCTL" --db "$DB" component add model base --digest "sha256:$(hex 1 64)" >/dev/null
"$VCTL" --db "$DB" export > before.json

# The bundle: the existing component plus N new ones (digest = sha256 of i, as hex).
awk -v n="$N" 'BEGIN {
    printf "{\"format\":\"verifierd-refvalues\",\"version\":1,\"components\":[\n"
    printf "{\"kind\":\"model\",\"name\":\"base\",\"version\":\"\",\"digest\":\"sha256:%s\",\"state\":\"approved\",\"note\":\"\"}", sprintf("%064d", 0) 
    for (i = 0; i < n; i++)
        printf ",\n{\"kind\":\"tool\",\"name\":\"tool-%07d\",\"version\":\"1\",\"digest\":\"sha256:%056x%08x\",\"state\":\"approved\",\"note\":\"bulk\"}", i, 0, i
    printf "]}\n"
}' | sed "s/sha256:$(hex 0 64)/sha256:$(hex 1 64)/" > big.json

# Reference "after": the same import, run to completion on a copy.
cp "$DB" after.db
"$VCTL" --db after.db import big.json >/dev/null
"$VCTL" --db after.db export > after.json
cmp -s before.json after.json && fail "the import changes nothing"

# Start the import and kill it while its transaction is being written:
# the WAL grows as pages spill from the cache (uncommitted).
"$VCTL" --db "$DB" import big.json >/dev/null 2>&1 &
pid=$!
killed=0
for _ in $(seq 1 2000); do
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    wal=$(stat -c %s "$DB-wal" 2>/dev/null || echo 0)
    if [ "$wal" -gt 4000000 ]; then
        kill -KILL "$pid" && killed=1
        break
    fi
    sleep 0.005
done
wait "$pid" 2>/dev/null || true
[ "$killed" -eq 1 ] || fail "import finished before it could be killed (raise VFY_CRASH_COMPONENTS)"
echo "killed import mid-way (WAL $(stat -c %s "$DB-wal" 2>/dev/null || echo 0) bytes)"

"$VCTL" --db "$DB" export > now.json
if cmp -s now.json before.json; then
    echo "ok: database is entirely before the import"
elif cmp -s now.json after.json; then
    echo "ok: database is entirely after the import"
else
    fail "database is neither before nor after the import"
fi
if command -v sqlite3 >/dev/null; then
    [ "$(sqlite3 "$DB" 'PRAGMA integrity_check')" = ok ] || fail "integrity_check"
fi
# Still usable: the import can be run again and completes.
"$VCTL" --db "$DB" import big.json >/dev/null
"$VCTL" --db "$DB" export | cmp - after.json || fail "re-import after the crash differs"
echo "PASS verifyctl_crash"
