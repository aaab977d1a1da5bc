#!/usr/bin/env bash
# verifyctl_badinput.sh — bad input to the real verifyctl: each case exits
# non-zero with exactly one expected line on stderr, prints nothing on
# stdout, and leaves the database dump unchanged.
set -euo pipefail
. "$(dirname "$0")/../lib/verifyctl.sh"
DB="$WORK/a.db"
cd "$WORK"

"$VCTL" --db "$DB" init >/dev/null
new_ec_pem k1.pem
new_ec_pem k2.pem
"$VCTL" --db "$DB" policy load "$VFY_SOURCE_DIR/policies/default.json" >/dev/null
"$VCTL" --db "$DB" attester add a1 --ak-pem k1.pem --policy default >/dev/null
"$VCTL" --db "$DB" component add model m --digest "sha256:$(hex a 64)" --note n1 >/dev/null
"$VCTL" --db "$DB" token add t1 --role admin >/dev/null
D="sha256:$(hex b 64)"

# Unknown kind.
expect_fail "$DB" 'verifyctl: component add: unknown kind "gadget" (expected model, tool, policy or context)' \
    component add gadget x --digest "$D"
expect_fail "$DB" 'verifyctl: component revoke: unknown kind "models" (expected model, tool, policy or context)' \
    component revoke models m
# Digests that are not sha256: + 64 lowercase hex.
for bad in "$(hex b 64)" "sha256:$(hex b 63)" "sha256:$(hex b 65)" "sha256:$(hex B 64)" \
           "sha384:$(hex b 64)" "sha256:$(hex g 64)" "sha256: $(hex b 63)"; do
    expect_fail "$DB" "verifyctl: component add: --digest \"$bad\": digest must be sha256: followed by 64 lowercase hex digits" \
        component add model x --digest "$bad"
done
# Same key, different value: conflict.
expect_fail "$DB" "verifyctl: component add: model m sha256:$(hex a 64) exists with a different note (VFY_E_CONFLICT)" \
    component add model m --digest "sha256:$(hex a 64)" --note other
# Attester name reused with a different key.
expect_fail "$DB" 'verifyctl: attester add: attester a1 already exists with a different attestation key (VFY_E_CONFLICT)' \
    attester add a1 --ak-pem k2.pem --policy default
# Unknown policy referenced by attester add.
expect_fail "$DB" 'verifyctl: attester add: policy nosuch not found (load it first) (VFY_E_NOT_FOUND)' \
    attester add a2 --ak-pem k2.pem --policy nosuch
# Missing files.
expect_fail "$DB" "verifyctl: attester add: $WORK/none.pem: No such file or directory" \
    attester add a2 --ak-pem "$WORK/none.pem"
expect_fail "$DB" "verifyctl: policy load: $WORK/none.json: No such file or directory" \
    policy load "$WORK/none.json"
expect_fail "$DB" "verifyctl: pcr import: $WORK/none.yaml: No such file or directory" \
    pcr import s "$WORK/none.yaml"
expect_fail "$DB" "verifyctl: import: $WORK/none.json: No such file or directory" \
    import "$WORK/none.json"
# Malformed files.
printf -- '-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n' > bad.pem
expect_fail "$DB" 'verifyctl: attester add: attestation key: attestation key is malformed (VFY_E_AK_MALFORMED)' \
    attester add a2 --ak-pem bad.pem
expect_fail "$DB" "verifyctl: attester add: k1.pem: PEM given to --ak-public (use --ak-pem)" \
    attester add a2 --ak-public k1.pem
printf '{"id":"p2","version":1,' > bad.json
expect_fail "$DB" "verifyctl: policy load: policy: not well-formed JSON (integers only) (VFY_E_POLICY_MALFORMED)" \
    policy load bad.json
printf '{"id":"p2","version":1,"agent":{"pcr":7}}' > badpcr.json
expect_fail "$DB" "verifyctl: policy load: policy: agent.pcr 7 is also a platform PCR (VFY_E_POLICY_PCR)" \
    policy load badpcr.json
printf '  sha256:\n    0 : 0x1234\n' > short.yaml
expect_fail "$DB" "verifyctl: pcr import: short.yaml:2: not tpm2_pcrread output (VFY_E_PCR_VALUES)" \
    pcr import s short.yaml
printf '  sha512:\n    0 : 0x00\n' > bank.yaml
expect_fail "$DB" "verifyctl: pcr import: bank.yaml:1: unsupported bank or PCR index (banks: sha256, sha384; indices 0..23) (VFY_E_PCR_BANK)" \
    pcr import s bank.yaml
printf '{"format":"verifierd-refvalues","version":1,' > bad-bundle.json
expect_fail "$DB" "verifyctl: import: bundle is not one JSON object (VFY_E_BUNDLE)" \
    import bad-bundle.json
# Text from a bundle or policy in a message is escaped: a control character,
# newline, C1 control or bidi character reached the operator's terminal as
# it was (ESC sequences acted on it, a newline made the error two lines).
printf '{"format":"verifierd-refvalues","version":1,"components":[{"kind":"\\u001b[31mEVIL\\nsecond line","name":"x","version":"","digest":"%s","state":"approved","note":""}]}' "$D" >esc-kind.json
expect_fail "$DB" 'verifyctl: import: bundle components[0]: unknown kind \x1b[31mEVIL\x0asecond line (VFY_E_BAD_KIND)' \
    import esc-kind.json
printf '{"format":"verifierd-refvalues","version":1,"components":[{"kind":"\\u009b31m\\u202eevil","name":"x","version":"","digest":"%s","state":"approved","note":""}]}' "$D" >esc-c1.json
expect_fail "$DB" 'verifyctl: import: bundle components[0]: unknown kind \u{009b}31m\u{202e}evil (VFY_E_BAD_KIND)' \
    import esc-c1.json
printf '{"id":"p3","version":1,"\\u001b[2Jx\\ny":1}' >esc-key.json
expect_fail "$DB" 'verifyctl: policy load: policy: unknown field "\x1b[2Jx\x0ay" in the policy (VFY_E_POLICY_UNKNOWN_FIELD)' \
    policy load esc-key.json
# A bundle whose last entry conflicts: nothing of it is imported.
"$VCTL" --db "$DB" export > good.json
sed 's/"note":	"n1"/"note":	"changed"/' good.json > conflict.json
cmp -s good.json conflict.json && fail "test bundle not modified"
expect_fail "$DB" "verifyctl: import: bundle components[0]: model m sha256:$(hex a 64) exists with a different note (VFY_E_CONFLICT)" \
    import conflict.json
# One entry twice in a bundle (here an approved and a revoked copy of one PCR
# value): refused before anything is stored. It used to depend on their
# order: imported one way round, a conflict the other.
jq -n --arg d "$(hex c 64)" '{format:"verifierd-refvalues", version:1, pcrs:[
    {set:"s", bank:"sha256", index:0, digest:$d, state:"approved"},
    {set:"s", bank:"sha256", index:0, digest:$d, state:"revoked"}]}' >dup.json
expect_fail "$DB" "verifyctl: import: bundle pcrs[0] and pcrs[1] are the same entry (each may appear once) (VFY_E_BUNDLE)" \
    import dup.json
# An empty refset or policy (the schema refuses them; the importer took them
# for the defaults)
jq -n --rawfile pem k2.pem '{format:"verifierd-refvalues", version:1, attesters:[
    {name:"e1", ak_pem:$pem, scheme:"ecdsa-sha256", refset:"", state:"active"}]}' >emptyref.json
expect_fail "$DB" "verifyctl: import: bundle attesters[0]: refset and policy may not be empty (leave policy out for the verifier's default) (VFY_E_BUNDLE)" \
    import emptyref.json
# A file of bare values: refused before cJSON builds them (a 4 MiB array of
# zeros took 170 MB)
python3 -c 'import json; print(json.dumps({"format": "verifierd-refvalues", "version": 1, "pcrs": [0] * 300000}))' >many.json
expect_fail "$DB" "verifyctl: import: bundle has more JSON values than a bundle of its size can (one per 4 bytes) (VFY_E_BUNDLE)" \
    import many.json
# A malformed sha1 line fails the import like any other (sha1 values used
# to be skipped unchecked); a sha1-only file fails in one line (the
# "skipped" note came first)
printf '  sha1:\n    0 : zz\n  sha256:\n    0 : 0x%s\n' "$(hex a 64)" >sha1bad.yaml
expect_fail "$DB" "verifyctl: pcr import: sha1bad.yaml:2: not tpm2_pcrread output (VFY_E_PCR_VALUES)" \
    pcr import s sha1bad.yaml
printf '  sha1:\n    0 : 0x%s\n' "$(hex b 40)" >sha1only.yaml
expect_fail "$DB" "verifyctl: pcr import: no PCR values to import (VFY_E_PCR_VALUES)" \
    pcr import s sha1only.yaml
# Bad PCR index, bank and digest.
for idx in 24 -1 1x "" 99999999999999999999; do
    expect_fail "$DB" "verifyctl: pcr add: --index must be a PCR index 0..23, not \"$idx\"" \
        pcr add s --index "$idx" --digest "$(hex a 64)"
done
expect_fail "$DB" 'verifyctl: pcr add: --bank must be sha256 or sha384, not "sha1"' \
    pcr add s --index 0 --bank sha1 --digest "$(hex a 40)"
expect_fail "$DB" 'verifyctl: pcr add: --digest must be 96 hex digits for bank sha384' \
    pcr add s --index 0 --bank sha384 --digest "$(hex a 64)"
# Bad role, duplicate token name.
expect_fail "$DB" 'verifyctl: token add: unknown role "root" (expected attest or admin)' \
    token add t2 --role root
expect_fail "$DB" 'verifyctl: token add: token t1 already exists (VFY_E_CONFLICT)' \
    token add t1 --role attest
# Command-line errors.
expect_fail "$DB" 'verifyctl: list: cannot list "secrets" (expected attesters, pcrs, components, policies, tokens, results or audit)' \
    list secrets
# --help after "--" is an argument, not a request for help (it exited 0
# with the usage on stdout, and `T=$(verifyctl token add ...)` took that
# for the token).
expect_fail "$DB" 'verifyctl: token add: unexpected argument "--role" (see --help)' \
    token add -- --help --role admin
expect_fail "$DB" 'verifyctl: token add: unexpected argument "--help" (see --help)' \
    token add t9 --role admin -- --help
expect_fail "$DB" 'verifyctl: component add: unknown option --digets (see --help)' \
    component add model x --digets "$D"
expect_fail "$DB" 'verifyctl: component revoke: no model named nosuch (VFY_E_NOT_FOUND)' \
    component revoke model nosuch
expect_fail "$DB" 'verifyctl: attester add: give exactly one of --ak-pem FILE or --ak-public FILE' \
    attester add a3 --ak-pem k1.pem --ak-public k2.pem
expect_fail "$DB" 'verifyctl: attester add: --scheme rsassa-sha256 does not fit this key (EC keys take ecdsa-*, RSA keys rsassa-* or rsapss-*; a TPM2B_PUBLIC that names its scheme takes only that one) (VFY_E_SIG_SCHEME)' \
    attester add a-scheme --ak-pem k1.pem --scheme rsassa-sha256
# An option value not of its form is a bad command line: exit 2, like an
# unknown option (some were 1, as if the operation had failed).
for args in "pcr add lab --index 24 --digest $D" "pcr add lab --bank sha1 --index 0 --digest $D" \
            "token add t9 --role bogus" "attester add a9 --ak-pem k1.pem --scheme bogus" \
            "component add widget w --digest $D" "list bogus" "token add t9 --role attest --expires-days 0"; do
    rc=0
    # shellcheck disable=SC2086
    "$VCTL" --db "$DB" $args >/dev/null 2>err || rc=$?
    [ "$rc" = 2 ] || fail "verifyctl $args: exit $rc, want 2 ($(cat err))"
done
# --db (or --actor) after the command: said so, exit 2
rc=0; "$VCTL" init --db "$WORK/late.db" 2>err || rc=$?
[ "$rc" = 2 ] && grep -qx "verifyctl: init: --db goes before the command (verifyctl --db ... init ...)" err &&
    [ ! -e "$WORK/late.db" ] || fail "--db after init: $rc $(cat err)"
# A database that was never initialised is not created by other commands.
rc=0; "$VCTL" --db "$WORK/new.db" list attesters 2>err || rc=$?
[ "$rc" -ne 0 ] && [ ! -e "$WORK/new.db" ] || fail "list created a database"
grep -qx "verifyctl: list: $WORK/new.db: cannot open database or not initialised (run verifyctl --db $WORK/new.db init) (VFY_E_DB_OPEN)" err \
    || fail "uninitialised db: $(cat err)"
# init in a directory that does not exist says so (it used to send the
# operator to init, the command that had just failed).
for cmd in "init" "list attesters"; do
    rc=0
    # shellcheck disable=SC2086
    "$VCTL" --db "$WORK/nodir/x.db" $cmd 2>err || rc=$?
    [ "$rc" = 1 ] && grep -qx "verifyctl: ${cmd%% *}: $WORK/nodir/x.db: its directory does not exist (create it first) (VFY_E_DB_OPEN)" err \
        || fail "missing directory, $cmd: $rc $(cat err)"
done
# Another program's database is refused, left in its journal mode, and the
# message does not send the operator to init (which would refuse it too).
sqlite3 "$WORK/foreign.db" 'CREATE TABLE foo (x INTEGER)'
for cmd in "init" "list attesters" "component add model m --digest $D"; do
    rc=0
    # shellcheck disable=SC2086
    "$VCTL" --db "$WORK/foreign.db" $cmd 2>err || rc=$?
    [ "$rc" = 1 ] || fail "foreign db, $cmd: exit $rc"
    grep -q "foreign.db: not a verifierd database (an SQLite database without verifierd's tables (another program's)); it was not changed (VFY_E_DB_OPEN)$" err \
        || fail "foreign db, $cmd: $(cat err)"
done
[ "$(sqlite3 "$WORK/foreign.db" 'PRAGMA journal_mode')" = delete ] || fail "the foreign db was switched to WAL"
# A file that is not SQLite, and (as root, through another user) one that
# cannot be read or whose directory cannot take the write-ahead log: each
# says why (they all used to say "not a verifierd database").
# An SQLite file with no tables (an init cut short after the WAL switch) is
# not "another program's": init it.
sqlite3 "$WORK/bare.db" 'PRAGMA journal_mode=WAL' >/dev/null
rc=0; "$VCTL" --db "$WORK/bare.db" list attesters 2>err || rc=$?
[ "$rc" = 1 ] && grep -qx "verifyctl: list: $WORK/bare.db: cannot open it: an SQLite database with no tables: not initialised (verifyctl --db PATH init) (VFY_E_DB_OPEN)" err \
    || fail "bare SQLite db: $rc $(cat err)"
"$VCTL" --db "$WORK/bare.db" init >/dev/null || fail "init of the bare SQLite db"
printf 'not a database at all, just text\n' >"$WORK/text.db"
rc=0; "$VCTL" --db "$WORK/text.db" list attesters 2>err || rc=$?
[ "$rc" = 1 ] && grep -qx "verifyctl: list: $WORK/text.db: not a verifierd database (not an SQLite database); it was not changed (VFY_E_DB_OPEN)" err \
    || fail "text file as db: $rc $(cat err)"
# A database a newer build made: both schema versions in the one line
# (it used to say only "database schema is newer than this program").
"$VCTL" --db "$WORK/newer.db" init >/dev/null || fail "init newer.db"
sqlite3 "$WORK/newer.db" 'PRAGMA user_version = 99'
rc=0; "$VCTL" --db "$WORK/newer.db" list attesters 2>err || rc=$?
[ "$rc" = 1 ] && grep -qx "verifyctl: list: $WORK/newer.db: database schema is newer than this program: schema version 99, this build knows up to [0-9]* (a newer verifierd or verifyctl made or migrated it: run that version) (VFY_E_DB_SCHEMA)" err \
    || fail "newer schema: $rc $(cat err)"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
    chmod 0711 "$WORK"   # the other user may pass through (mktemp made it 0700)
    mkdir -m 0755 "$WORK/perm"
    "$VCTL" --db "$WORK/perm/root.db" init >/dev/null
    chmod 0600 "$WORK/perm/root.db"
    rc=0; as_nobody "$VCTL" --db "$WORK/perm/root.db" list attesters 2>err || rc=$?
    [ "$rc" = 1 ] && grep -qx "verifyctl: list: $WORK/perm/root.db: cannot open it: Permission denied (VFY_E_DB_OPEN)" err \
        || fail "unreadable db: $rc $(cat err)"
    chmod 0666 "$WORK/perm/root.db"
    rm -f "$WORK/perm/root.db-wal" "$WORK/perm/root.db-shm"
    rc=0; as_nobody "$VCTL" --db "$WORK/perm/root.db" list attesters 2>err || rc=$?
    [ "$rc" = 1 ] && grep -q "root.db: cannot open it: its directory $WORK/perm is not writable (Permission denied): SQLite's write-ahead log creates PATH-wal and PATH-shm beside it (VFY_E_DB_OPEN)$" err \
        || fail "db in a read-only directory: $rc $(cat err)"
else
    echo "# not root (or no setpriv): permission cases skipped"
fi
echo "PASS verifyctl_badinput"
