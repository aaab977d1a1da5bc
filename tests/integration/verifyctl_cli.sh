#!/usr/bin/env bash
# verifyctl_cli.sh — drive the real verifyctl on real SQLite files: every
# DESIGN §9 command, --help everywhere, --json listings, token output,
# pcr import from tpm2_pcrread output, export -> import -> export identity.
set -euo pipefail
. "$(dirname "$0")/../lib/verifyctl.sh"
DB="$WORK/a.db"
cd "$WORK"

# --help works for every command and subcommand, without a database.
for c in "" init "attester" "attester add" "attester revoke" "attester reset" "pcr" "pcr add" "pcr import" \
         "pcr revoke" "component" "component add" "component revoke" "policy" "policy load" \
         "token" "token add" "token revoke" export import list "results" "results prune"; do
    # shellcheck disable=SC2086
    out=$("$VCTL" $c --help) || fail "verifyctl $c --help exited non-zero"
    case "$out" in usage:*) ;; *) fail "verifyctl $c --help: no usage text";; esac
    # every option a --help text names is in verifyctl(1)
    for o in $(printf '%s\n' "$out" | grep -o -- '--[a-z][a-z-]*' | sort -u); do
        grep -qF -- "$(printf '%s' "$o" | sed 's/-/\\-/g')" "$VFY_SOURCE_DIR/docs/verifyctl.1" ||
            fail "verifyctl $c --help names $o, verifyctl(1) does not"
    done
done
echo "ok: --help everywhere, every option in verifyctl(1)"
# ... but as an option's value it is that value: the note "--help" is stored
# (it used to print the usage and exit 0 with nothing done), and without a
# database the command fails.
rc=0; "$VCTL" component add tool helpnote --digest "sha256:$(printf 'c%.0s' $(seq 1 64))" \
    --note --help >/dev/null 2>"$WORK/err" || rc=$?
[ "$rc" -eq 2 ] || fail "component add without --db, --note --help: exit $rc, want 2"
grep -qx 'verifyctl: component add: --db PATH is required (before the command)' "$WORK/err" ||
    fail "component add without --db: $(cat "$WORK/err")"
"$VCTL" --db "$WORK/help.db" init >/dev/null
"$VCTL" --db "$WORK/help.db" component add tool helpnote \
    --digest "sha256:$(printf 'c%.0s' $(seq 1 64))" --note --help >"$WORK/out" ||
    fail "component add --note --help exited non-zero"
grep -q 'usage' "$WORK/out" && fail "component add --note --help printed the usage"
"$VCTL" --db "$WORK/help.db" list components --json | jq -e '.[] | select(.name == "helpnote" and .note == "--help")' >/dev/null ||
    fail "the note \"--help\" was not stored"
echo "ok: --help as an option's value is the value"
# No command, or a group without its subcommand: exit 2 and one line on
# stderr (DESIGN §9), not the usage text.
for c in "" attester pcr component policy token results; do
    rc=0
    # shellcheck disable=SC2086
    "$VCTL" --db "$WORK/help.db" $c >"$WORK/out" 2>"$WORK/err" || rc=$?
    [ "$rc" -eq 2 ] || fail "verifyctl $c (nothing more): exit $rc, want 2"
    [ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "verifyctl $c (nothing more): stderr is not one line: $(cat "$WORK/err")"
    [ -s "$WORK/out" ] && fail "verifyctl $c (nothing more): wrote to stdout"
    want="verifyctl: ${c:-usage}: no ${c:+sub}command given (see --help)"
    grep -qxF "$want" "$WORK/err" || fail "verifyctl $c (nothing more): $(cat "$WORK/err"), want $want"
done
echo "ok: a missing command or subcommand is one line on stderr"

"$VCTL" --db "$DB" init | grep -qx "$DB: schema version [1-9][0-9]*"
"$VCTL" --db "$DB" init >/dev/null     # again: fine
"$VCTL" --db="$DB" init | grep -qx "$DB: schema version [1-9][0-9]*" || fail "--db=PATH"
rc=0; "$VCTL" --db="$DB" --db "$DB" init >/dev/null 2>err || rc=$?
[ "$rc" = 2 ] && grep -qx "verifyctl: db: given twice" err || fail "--db twice: $rc $(cat err)"
new_ec_pem k1.pem
# An attester named with a reference set that has no PCR values (a typo, or
# values still to come): added, with a warning; none once the set has one.
"$VCTL" --db w.db init >/dev/null
"$VCTL" --db w.db attester add agent-x --ak-pem k1.pem --refset lba >out 2>err
grep -qx "attester agent-x: added" out || fail "attester add with an empty set: $(cat out)"
grep -qx "verifyctl: attester add: warning: reference set lba has no approved sha256 PCR values: this attester's platform appraisal fails until it has (verifyctl pcr add lba ...)" err \
    || fail "no warning for an empty reference set: $(cat err)"
# sha384 values alone are no better: policies appraise the sha256 bank only
# (the warning counted every bank, so such a set passed silently), and a
# pcr import that brings no sha256 value says so
printf '  sha384:\n    0 : 0x%s\n    1 : 0x%s\n' "$(hex c 96)" "$(hex d 96)" >p384.yaml
"$VCTL" --db w.db pcr import lba p384.yaml >out 2>err || fail "pcr import of sha384 values"
[ "$(cat out)" = "pcr lba: 2 values added" ] || fail "pcr import p384.yaml: $(cat out)"
[ "$(cat err)" = "verifyctl: pcr import: note: p384.yaml has no sha256 values: policies appraise the sha256 bank only, so the values it holds are not used (tpm2_pcrread sha256:...); reference set lba has no approved sha256 value: its attesters fail platform appraisal" ] ||
    fail "pcr import of sha384 values alone: $(cat err)"
"$VCTL" --db w.db attester add agent-x --ak-pem k1.pem --refset lba >out 2>err
[ "$(cat err)" = "verifyctl: attester add: warning: reference set lba has no approved sha256 PCR values (its 2 sha384 values are not used: policies appraise the sha256 bank): this attester's platform appraisal fails until it has (verifyctl pcr add lba ...)" ] ||
    fail "no warning for a set of sha384 values: $(cat err)"
"$VCTL" --db w.db pcr add lba --index 0 --digest "$(hex a 64)" >/dev/null
"$VCTL" --db w.db attester add agent-x --ak-pem k1.pem --refset lba >out 2>err
[ ! -s err ] || fail "a warning for a set with values: $(cat err)"
printf '  sha384:\n    2 : 0x%s\n' "$(hex e 96)" >p384b.yaml
"$VCTL" --db w.db pcr import lba p384b.yaml >out 2>err || fail "pcr import of a sha384 value"
[ "$(cat err)" = "verifyctl: pcr import: note: p384b.yaml has no sha256 values: policies appraise the sha256 bank only, so the values it holds are not used (tpm2_pcrread sha256:...)" ] ||
    fail "pcr import of sha384 values into a set with sha256 ones: $(cat err)"
rm -f w.db*
"$VCTL" --db "$DB" policy load "$VFY_SOURCE_DIR/policies/default.json" | grep -qx "policy default@1: loaded"
# An older version is stored, but the highest stays in force: said so (a
# roll-back of a policy file used to print "loaded" and change nothing).
echo '{"id":"roll","version":2}' >roll2.json
echo '{"id":"roll","version":1,"result":{"ttl_s":10}}' >roll1.json
"$VCTL" --db w2.db init >/dev/null
"$VCTL" --db w2.db policy load roll2.json | grep -qx "policy roll@2: loaded" || fail "roll@2"
"$VCTL" --db w2.db policy load roll1.json >out
[ "$(cat out)" = "policy roll@1: loaded
note: roll@2 remains in force (the highest version of an id is); load a higher version to change what roll says" ] ||
    fail "loading an older version: $(cat out)"
# default@1 is the built-in's label: a different default@1 is refused
echo '{"id":"default","version":1,"platform":{"pcrs":[7]}}' >lax.json
"$VCTL" --db w2.db policy load lax.json >out 2>err && fail "a laxer default@1 was loaded"
grep -qF "policy default version 1 is the built-in default's label and must say what it says" err ||
    fail "a laxer default@1: $(cat err)"
rm -f w2.db*
"$VCTL" --db "$DB" --actor ops attester add agent-1 --ak-pem k1.pem --policy default --refset lab \
    | grep -qx "attester agent-1: added"
"$VCTL" --db "$DB" attester add agent-1 --ak-pem k1.pem --policy default --refset lab \
    | grep -qx "attester agent-1: already present, unchanged"
"$VCTL" --db "$DB" pcr add lab --index 0 --digest "$(hex a 64)" | grep -qx "pcr lab sha256:0: added"
"$VCTL" --db "$DB" pcr add lab --index 0 --digest "$(hex b 64)" >/dev/null   # a 2nd allowed value
"$VCTL" --db "$DB" pcr add lab --index 1 --bank sha384 --digest "$(hex c 96)" >/dev/null
cat > pcrs.yaml <<YAML
  sha1:
    0 : 0x$(hex 0 40)
  sha256:
    0 : 0x$(hex A 64)
    7 : 0x$(hex 1 64)
    23: 0x$(hex 2 64)
YAML
"$VCTL" --db "$DB" pcr import lab pcrs.yaml >out 2>err
grep -qx "pcr lab: 2 values added" out || fail "pcr import: $(cat out)"
[ "$(cat err)" = "verifyctl: pcr import: note: skipped 1 sha1 values (SHA-1 is never a reference value)" ] ||
    fail "pcr import with sha256 values: stderr $(cat err)"
# pcr revoke says whether it changed anything: a value revoked already is
# "already revoked, unchanged" (it said "revoked" again; component revoke
# counts 0), with nothing written (a database of its own: $DB's PCR values
# are counted and exported below)
"$VCTL" --db pr.db init >/dev/null
"$VCTL" --db pr.db pcr add lab --index 1 --bank sha384 --digest "$(hex c 96)" >/dev/null
out=$("$VCTL" --db pr.db pcr revoke lab --index 1 --bank sha384 --digest "$(hex c 96)") ||
    fail "pcr revoke"
[ "$out" = "pcr lab sha384:1: revoked; 0 results revoked" ] || fail "pcr revoke: $out"
audit=$("$VCTL" --db pr.db list audit --json | grep -c '"pcr.revoke"')
out=$("$VCTL" --db pr.db pcr revoke lab --index 1 --bank sha384 --digest "$(hex c 96)") ||
    fail "pcr revoke again"
[ "$out" = "pcr lab sha384:1: already revoked, unchanged" ] || fail "pcr revoke again: $out"
[ "$("$VCTL" --db pr.db list audit --json | grep -c '"pcr.revoke"')" = "$audit" ] ||
    fail "pcr revoke again wrote an audit row"
expect_fail pr.db "verifyctl: pcr revoke: PCR sha384:2 value $(hex c 96) not in set lab (VFY_E_NOT_FOUND)" \
    pcr revoke lab --index 2 --bank sha384 --digest "$(hex c 96)"
rm -f pr.db*
"$VCTL" --db "$DB" component add model llama-3.1-8b --digest "sha256:$(hex d 64)" --version 3.1 \
    --note "hf.co/meta-llama" | grep -qx "model llama-3.1-8b: added"
"$VCTL" --db "$DB" component add model llama-3.1-8b --digest "sha256:$(hex d 64)" --version 3.1 \
    --note "hf.co/meta-llama" | grep -qx "model llama-3.1-8b: already present, unchanged"
"$VCTL" --db "$DB" component add tool payments.transfer --digest "sha256:$(hex e 64)" >/dev/null
"$VCTL" --db "$DB" component add context ctx --digest "sha256:$(hex f 64)" >/dev/null
"$VCTL" --db "$DB" component revoke tool payments.transfer | grep -qx \
    "tool payments.transfer: 1 values revoked; 0 results revoked"

# token add: the token alone on stdout; only its SHA-256 is stored.
tok=$("$VCTL" --db "$DB" token add rp-1 --role attest)
[[ "$tok" =~ ^vfy_[A-Za-z0-9_-]{43}$ ]] || fail "token format: $tok"
[ "$("$VCTL" --db "$DB" token add ops --role admin | wc -l)" -eq 1 ] || fail "token: not one line"
if command -v sqlite3 >/dev/null; then
    sha=$(printf %s "$tok" | sha256sum | cut -d' ' -f1)
    [ "$(sqlite3 "$DB" "SELECT count(*) FROM tokens WHERE sha256 = '$sha' AND role = 'attest'")" = 1 ]
    ! sqlite3 "$DB" .dump | grep -q "$tok" || fail "the token itself is stored"
fi
! "$VCTL" --db "$DB" list tokens --json | grep -q "$tok" || fail "token listed"
# --expires-days: 1..3650 whole days; the listing shows the expiry.
"$VCTL" --db "$DB" token add temp --role attest --expires-days 30 >/dev/null || fail "token add --expires-days 30"
"$VCTL" --db "$DB" list tokens | grep -Eq '^temp +attest +active +[0-9T:-]+Z +[0-9T:-]+Z$' ||
    fail "list tokens: temp with its expiry: $("$VCTL" --db "$DB" list tokens)"
"$VCTL" --db "$DB" list tokens | grep -Eq '^rp-1 +attest +active +[0-9T:-]+Z +-$' ||
    fail "list tokens: rp-1 without expiry: $("$VCTL" --db "$DB" list tokens)"
for bad in 0 3651 -1 1.5 x ""; do
    if "$VCTL" --db "$DB" token add "bad$bad" --role attest --expires-days "$bad" >out 2>err; then
        fail "token add --expires-days '$bad' accepted"
    fi
    grep -qx "verifyctl: token add: --expires-days must be a whole number of days, 1..3650" err ||
        fail "token add --expires-days '$bad': $(cat err)"
    [ ! -s out ] || fail "token add --expires-days '$bad' printed a token"
done
# A token that cannot be written out is not created (nor its name used up).
if "$VCTL" --db "$DB" token add lost --role admin >/dev/full 2>err; then fail "token add to /dev/full: exit 0"; fi
grep -qx "verifyctl: token add: cannot write the token to stdout; it was not created" err ||
    fail "token add to /dev/full: $(cat err)"
! "$VCTL" --db "$DB" list tokens --json | grep -q '"lost"' || fail "an unseen token was created"
"$VCTL" --db "$DB" token add lost --role admin >/dev/null || fail "the name of an unseen token is used up"
# --token-file: the token another database made (one database per replica),
# stored under the same hash; refused when malformed or already stored.
"$VCTL" --db "$DB.other" init >/dev/null || fail "init other"
printf '%s\n' "$tok" >given.tok
out=$("$VCTL" --db "$DB.other" token add rp-1 --role attest --token-file given.tok) ||
    fail "token add --token-file"
[ "$out" = "token rp-1: added (attest, the token in given.tok)" ] || fail "token add --token-file said: $out"
[ "$(sqlite3 "$DB.other" "SELECT sha256 FROM tokens WHERE name = 'rp-1'")" = \
  "$(sqlite3 "$DB" "SELECT sha256 FROM tokens WHERE name = 'rp-1'")" ] || fail "given token: another hash"
"$VCTL" --db "$DB.other" list audit | grep -Eq 'token\.add +token rp-1 +attest \(given\)$' ||
    fail "given token: audit row: $("$VCTL" --db "$DB.other" list audit)"
if "$VCTL" --db "$DB.other" token add rp-1b --role admin --token-file given.tok >out 2>err; then
    fail "the same token under a second name accepted"
fi
grep -qx "verifyctl: token add: that token is already stored under another name (VFY_E_CONFLICT)" err ||
    fail "second name: $(cat err)"
printf '%s' "${tok%?}" >short.tok
if "$VCTL" --db "$DB.other" token add short --role attest --token-file short.tok >out 2>err; then
    fail "a 42-character token accepted"
fi
grep -qx 'verifyctl: token add: a token must be as verifyctl token add prints it: "vfy_" and 43 base64url characters (VFY_E_INVALID_ARG)' err ||
    fail "short token: $(cat err)"
if "$VCTL" --db "$DB.other" token add none --role attest --token-file no-such.tok >out 2>err; then
    fail "a missing token file accepted"
fi
grep -qx "verifyctl: token add: no-such.tok: No such file or directory" err || fail "missing file: $(cat err)"
[ "$(sqlite3 "$DB.other" "SELECT count(*) FROM tokens")" = 1 ] || fail "given tokens: not one row"
# token revoke says whether it changed anything: a token revoked already is
# "already revoked, unchanged" with nothing written (it said "revoked" again)
out=$("$VCTL" --db "$DB.other" token revoke rp-1) || fail "token revoke"
[ "$out" = "token rp-1: revoked" ] || fail "token revoke: $out"
out=$("$VCTL" --db "$DB.other" token revoke rp-1) || fail "token revoke again"
[ "$out" = "token rp-1: already revoked, unchanged" ] || fail "token revoke again: $out"
[ "$(sqlite3 "$DB.other" "SELECT count(*) FROM audit_log WHERE action = 'token.revoke'")" = 1 ] ||
    fail "token revoke again wrote an audit row"
echo "ok: token"

# Listings: tables and JSON.
"$VCTL" --db "$DB" list attesters | grep -q "^agent-1  *ecdsa-sha256  *lab  *default  *active"
n=$("$VCTL" --db "$DB" list pcrs --json | grep -c '"digest"')
[ "$n" -eq 5 ] || fail "expected 5 pcr values, got $n"
grep -q '"state":	"revoked"' <<<"$("$VCTL" --db "$DB" list components --json)"
"$VCTL" --db "$DB" list policies | grep -q "^default  *1 "
"$VCTL" --db "$DB" list results | grep -qx "no results"
grep -q '"actor":	"ops"' <<<"$("$VCTL" --db "$DB" list audit --json)"
grep -q "attester.add  *attester agent-1" <<<"$("$VCTL" --db "$DB" list audit)"
# --json before the command (DESIGN §9 names it without a place): the same array
[ "$("$VCTL" --db "$DB" --json list pcrs)" = "$("$VCTL" --db "$DB" list pcrs --json)" ] ||
    fail "--json list pcrs differs from list pcrs --json"
if "$VCTL" --db "$DB" --json init >out 2>err; then fail "--json init accepted"; fi
grep -qx "verifyctl: usage: --json is an option of list only" err || fail "--json init: $(cat err)"
# --policy default on a database where nothing is loaded: the built-in
# default@1 the appraisal uses (it was "policy default not found")
new_ec_pem kd.pem
"$VCTL" --db nopol.db init >/dev/null
"$VCTL" --db nopol.db attester add agent-d --ak-pem kd.pem --policy default >out 2>&1 ||
    fail "attester add --policy default on an empty database: $(cat out)"
"$VCTL" --db nopol.db list attesters | grep -q "^agent-d  *ecdsa-sha256  *default  *default  *active" ||
    fail "agent-d: $("$VCTL" --db nopol.db list attesters)"
if "$VCTL" --db nopol.db attester add agent-s --ak-pem kd.pem --policy strict >out 2>err; then
    fail "--policy strict accepted unloaded"
fi
grep -qx "verifyctl: attester add: policy strict not found (load it first) (VFY_E_NOT_FOUND)" err ||
    fail "--policy strict: $(cat err)"
# attester revoke names the other active attesters on the same key (a
# revocation reaches one name; a compromised key needs all of them)
# (a database of its own: the round trip below counts $DB's attesters)
new_ec_pem ks.pem
"$VCTL" --db share.db init >/dev/null
for n in share-1 share-2 share-3; do
    "$VCTL" --db share.db attester add "$n" --ak-pem ks.pem >/dev/null || fail "attester add $n"
done
"$VCTL" --db share.db attester revoke share-1 >out || fail "attester revoke share-1"
[ "$(sed -n 1p out)" = "attester share-1: revoked" ] || fail "revoke: $(cat out)"
grep -qx "note: 2 other active attester(s) share its attestation key (share-2, share-3); revoke them too if the key is compromised" out \
    || fail "revoke: no note on the shared key: $(cat out)"
# revoked again: said so, without the note (it printed both again, though
# nothing changed and nothing was audited)
audit=$(sqlite3 share.db "SELECT count(*) FROM audit_log WHERE action = 'attester.revoke'")
"$VCTL" --db share.db attester revoke share-1 >out 2>err || fail "attester revoke share-1 again"
[ "$(cat out)" = "attester share-1: already revoked, unchanged" ] || fail "revoke again: $(cat out)"
[ ! -s err ] || fail "revoke again: stderr $(cat err)"
[ "$(sqlite3 share.db "SELECT count(*) FROM audit_log WHERE action = 'attester.revoke'")" = "$audit" ] ||
    fail "attester revoke again wrote an audit row"
# init names the active attesters left on a revoked attester's key (schema 7
# makes a key re-encoded compare equal: one registered again that way before
# it shows up here), on stderr, and exits 0
"$VCTL" --db share.db init >out 2>err || fail "init with a revoked key shared"
for n in share-2 share-3; do
    grep -qx "verifyctl: init: warning: attester $n is active with the attestation key of a revoked attester (shared before the revocation, or registered again with the key in another encoding before schema 7): revoke it unless it should stay (verifyctl attester revoke $n)" err ||
        fail "init does not name $n: $(cat err)"
done
"$VCTL" --db share.db attester revoke share-2 >/dev/null && "$VCTL" --db share.db attester revoke share-3 >out ||
    fail "attester revoke share-2/3"
[ "$(cat out)" = "attester share-3: revoked" ] || fail "revoke of the last sharer: $(cat out)"
"$VCTL" --db share.db init >out 2>err || fail "init"
[ ! -s err ] || fail "init warns with no active attester on a revoked key: $(cat err)"
echo "ok: list"

# An AK from a TPM2B_PUBLIC (tpm2_createak -u, from the quote fixtures): kept and exported.
FX="$VFY_FIXTURES/quote/rsa2048-rsapss-sha256"
if [ -f "$FX/ak.pub" ]; then
    "$VCTL" --db "$DB" attester add tpm-1 --ak-public "$FX/ak.pub" --scheme rsapss-sha256 \
        | grep -qx "attester tpm-1: added"
    # The same key as PEM is the same attester: no change.
    "$VCTL" --db "$DB" attester add tpm-1 --ak-pem "$FX/ak.pem" --scheme rsapss-sha256 \
        | grep -qx "attester tpm-1: already present, unchanged"
    # (a here-string, not a pipe: grep -q leaving early would fail the
    # writer with SIGPIPE under pipefail)
    grep -q '"ak_public":' <<<"$("$VCTL" --db "$DB" export)" || fail "TPM2B_PUBLIC not exported"
    NATT=2
    echo "ok: attester from TPM2B_PUBLIC"
else
    NATT=1
fi

# export -> import into an empty DB -> export is byte-identical.
"$VCTL" --db "$DB" export > b1.json
"$VCTL" --db b.db init >/dev/null
"$VCTL" --db b.db import b1.json | grep -qx \
    "imported 1 policies, $NATT attesters, 5 pcr values, 3 components; 0 revoked"
"$VCTL" --db b.db export > b2.json
cmp b1.json b2.json || fail "export -> import -> export differs"
"$VCTL" --db b.db import b1.json >/dev/null    # again: a no-op
"$VCTL" --db b.db export | cmp - b1.json
grep -q '"format":	"verifierd-refvalues"' b1.json
! grep -q '"tokens"' b1.json || fail "tokens exported"
echo "ok: export/import round trip"

# results prune: retention. Result rows as verifierd writes them (sqlite3
# stands in for a week of attestations): expired 10 days ago, 3 days ago,
# expired an hour ago, still valid. One of the 10-day-old ones was revoked
# (its revocation-feed entry must go with it).
now=$(date +%s)
day=86400
sqlite3 "$DB" <<SQL
INSERT INTO results (id, attester, iat, exp, status) VALUES
  ('r10a', 'agent-1', $((now - 10 * day - 300)), $((now - 10 * day)), 'affirming'),
  ('r10b', 'agent-1', $((now - 10 * day - 200)), $((now - 10 * day + 100)), 'affirming'),
  ('r10c', 'agent-1', $((now - 10 * day - 100)), $((now - 10 * day + 200)), 'warning'),
  ('r3', 'agent-1', $((now - 3 * day - 300)), $((now - 3 * day)), 'affirming'),
  ('r0', 'agent-1', $((now - 3900)), $((now - 3600)), 'affirming'),
  ('live', 'agent-1', $((now - 60)), $((now + 240)), 'affirming');
INSERT INTO revocations (result_id, at, reason) VALUES ('r10b', $((now - 10 * day)), 'test');
SQL
"$VCTL" --db "$DB" results prune --expired-days 5 --batch 2 >out
grep -qx "results: 3 pruned (expired before [0-9T:-]*Z)" out || fail "results prune: $(cat out)"
[ "$(sqlite3 "$DB" "SELECT group_concat(id, ' ') FROM (SELECT id FROM results ORDER BY id)")" = "live r0 r3" ] ||
    fail "results prune kept the wrong rows: $(sqlite3 "$DB" 'SELECT id FROM results')"
[ "$(sqlite3 "$DB" 'SELECT count(*) FROM revocations')" = 0 ] || fail "revocation entry of a pruned result kept"
[ "$(sqlite3 "$DB" "SELECT count(*) FROM audit_log WHERE action = 'results.prune'")" = 2 ] ||
    fail "results prune: want one audit row per batch (2 + 1)"
"$VCTL" --db "$DB" results prune --expired-days 5 | grep -qx "results: 0 pruned (expired before [0-9T:-]*Z)"
"$VCTL" --db "$DB" results prune --expired-days 1 | grep -qx "results: 1 pruned (expired before [0-9T:-]*Z)"
for bad in "--expired-days 0" "--expired-days x" "--expired-days 1 --batch 0" "--expired-days 1 --batch 100001" ""; do
    # shellcheck disable=SC2086
    if "$VCTL" --db "$DB" results prune $bad >out 2>err; then fail "results prune $bad accepted"; fi
    grep -q "^verifyctl: results prune: " err || fail "results prune $bad: $(cat err)"
done
[ "$(sqlite3 "$DB" 'SELECT count(*) FROM results')" = 2 ] || fail "a refused prune deleted something"
# A store error: one line on stderr (DESIGN §9), nothing on stdout.
( echo 'BEGIN IMMEDIATE;'; sleep 7 ) | sqlite3 "$DB" &
LOCKER=$!
sleep 0.5
if "$VCTL" --db "$DB" results prune --expired-days 1 >out 2>err; then fail "prune on a locked database: exit 0"; fi
kill "$LOCKER" 2>/dev/null; wait "$LOCKER" 2>/dev/null || true
[ "$(wc -l <err)" -eq 1 ] || fail "prune error: not one line: $(cat err)"
grep -q "^verifyctl: results prune: .*locked" err || fail "prune error: $(cat err)"
[ ! -s out ] || fail "prune error: stdout $(cat out)"
# list --limit/--offset: a page of a listing, in the listing's order
JSONGET="$VFY_BUILD_DIR/tests/jsonget"
"$VCTL" --db "$DB" list tokens --json --limit 2 >out || fail "list --limit 2"
[ "$("$JSONGET" -l -f out -- "")" = 2 ] || fail "list --limit 2: $(cat out)"
"$VCTL" --db "$DB" list tokens --json >all || fail "list tokens --json"
second=$("$JSONGET" -f all -- /1/name)
"$VCTL" --db "$DB" list tokens --json --offset 1 --limit 1 >out || fail "list --offset 1 --limit 1"
[ "$("$JSONGET" -l -f out -- "") $("$JSONGET" -f out -- /0/name)" = "1 $second" ] ||
    fail "list --offset 1 --limit 1: $(cat out), want $second"
"$VCTL" --db "$DB" list tokens --offset 1000 >out || fail "list --offset past the end"
grep -qx "no tokens" out || fail "list past the end: $(cat out)"
for bad in "--limit 0" "--limit 1000001" "--limit x" "--offset -1" "--offset 1.5"; do
    # shellcheck disable=SC2086
    if "$VCTL" --db "$DB" list tokens $bad >out 2>err; then fail "list $bad accepted"; fi
    grep -q "^verifyctl: list: --\(limit\|offset\) must be" err || fail "list $bad: $(cat err)"
done
echo "ok: results prune"

# A listing is printed as it is read: 100k rows in bounded memory (~150 MB
# when the whole array was built first, ~7 MB streamed), the table's
# widths from its first 1,000 rows, the JSON one array.
awk 'BEGIN { n = 100000
  printf "{\"format\":\"verifierd-refvalues\",\"version\":1,\"policies\":[],"
  printf "\"attesters\":[],\"pcrs\":[],\"components\":["
  for (i = 1; i <= n; i++)
    printf "%s{\"kind\":\"tool\",\"name\":\"bulk-%06d%s\",\"version\":\"1\",\"digest\":\"sha256:%064x\",\"state\":\"approved\",\"note\":\"\"}",
      (i > 1 ? "," : ""), i, (i == 99999 ? "-a-much-longer-name-than-the-first-thousand" : ""), i
  print "]}" }' > bulk.json
"$VCTL" --db big.db init >/dev/null
"$VCTL" --db big.db import bulk.json | grep -q "100000 components" || fail "bulk import"
if [ "${VFY_SANITIZE:-0}" = 1 ]; then
    echo "# sanitizer build: the listing's memory bound not asserted (ASan reserves its shadow)"
    "$VCTL" --db big.db list components --json >big.out || fail "list 100k --json"
    "$VCTL" --db big.db list components >big.txt || fail "list 100k"
else
    (ulimit -v 60000; "$VCTL" --db big.db list components --json >big.out) ||
        fail "list 100k --json in 60 MB of address space"
    (ulimit -v 60000; "$VCTL" --db big.db list components >big.txt) ||
        fail "list 100k in 60 MB of address space"
fi
[ "$(grep -c '"name":' big.out)" = 100000 ] || fail "list --json: $(grep -c '"name":' big.out) rows"
[ "$(head -c 1 big.out)" = "[" ] && [ "$(tail -n 1 big.out)" = "}]" ] ||
    fail "list --json: not one array: $(head -c 20 big.out) ... $(tail -n 1 big.out)"
[ "$(wc -l <big.txt)" = 100001 ] || fail "list: $(wc -l <big.txt) lines, want a header and 100000"
[ "$(grep -c '^kind  *name' big.txt)" = 1 ] || fail "list: the header is not printed once"
grep -Eq '^tool  bulk-000001 +1  +sha256:0{63}1  approved  -  ' big.txt ||
    fail "list: first row: $(sed -n 2p big.txt)"
grep -Eq '^tool  bulk-099999-a-much-longer-name-than-the-first-thousand  1  +sha256:' big.txt ||
    fail "list: a cell wider than the first 1,000 rows' is printed whole: $(grep 099999 big.txt)"
grep -Eq '^tool  bulk-100000 +1  +sha256:0{59}186a0  approved' big.txt ||
    fail "list: last row: $(tail -n 1 big.txt)"
"$VCTL" --db big.db list components --json --offset 99999 --limit 5 >out || fail "list last page"
[ "$("$JSONGET" -l -f out -- "")" = 1 ] || fail "list last page: $(cat out)"
echo "ok: listings stream"

# Bundle imports audit each item they add, as single adds do (only the
# counts were recorded: a new attester could arrive with no trail of its own),
# and a revocation audits every row it takes, twins of another name included.
"$VCTL" --db aud.db init >/dev/null
new_ec_pem ak-aud.pem
jq -n --rawfile pem ak-aud.pem --arg d "$(hex 1 64)" --arg t "sha256:$(hex 2 64)" '
  {format:"verifierd-refvalues", version:1,
   attesters:[{name:"imp-1", ak_pem:$pem, scheme:"ecdsa-sha256", refset:"default", state:"active"}],
   pcrs:[{set:"default", bank:"sha256", index:0, digest:$d, state:"approved"}],
   components:[{kind:"tool", name:"calc", version:"1", digest:$t, state:"approved", note:""}]}' >aud.json
"$VCTL" --db aud.db --actor importer import aud.json >/dev/null || fail "import aud.json"
"$VCTL" --db aud.db list audit --json | jq -c '[.[] | select(.actor == "importer") | [.action, .object, .detail]]' >aud.out
want='[["attester.add","attester imp-1","refset=default policy=(default) (by import)"],'
want+='["pcr.add","pcr default sha256:0","'"$(hex 1 64)"' (by import)"],'
want+='["component.add","tool calc 1","sha256:'"$(hex 2 64)"' (by import)"],'
want+='["bundle.import","bundle","added 0 policies, 1 attesters, 1 pcr values, 1 components; 0 revoked"]]'
[ "$(cat aud.out)" = "$want" ] || fail "import audit: $(cat aud.out)"
"$VCTL" --db aud.db component add tool calc-mirror --digest "sha256:$(hex 2 64)" >/dev/null
"$VCTL" --db aud.db --actor revoker component revoke tool calc >/dev/null || fail "revoke calc"
"$VCTL" --db aud.db list audit --json |
    jq -r '.[] | select(.actor == "revoker") | "\(.action) \(.object): \(.detail)"' >rev.out
grep -qx "component.revoke tool calc-mirror: sha256:$(hex 2 64); the same digest as revoked: tool calc 1 sha256:$(hex 2 64) was revoked" rev.out ||
    fail "the twin's revocation is not audited under its own name: $(cat rev.out)"
grep -qx "component.revoke tool calc: all digests (1 sha256:$(hex 2 64)); 2 rows, 0 results revoked" rev.out ||
    fail "component revoke audit: $(cat rev.out)"
echo "ok: imports and revocations audit each row"
# An approved entry whose digest is revoked as another row is stored
# revoked; importing the same bundle again is a no-op (it was a conflict:
# "re-approving a revoked row").
jq -n --arg d "sha256:$(hex 3 64)" '{format:"verifierd-refvalues", version:1, components:[
    {kind:"model", name:"a", version:"", digest:$d, state:"approved", note:""},
    {kind:"model", name:"b", version:"", digest:$d, state:"revoked", note:""}]}' >twin.json
"$VCTL" --db twin.db init >/dev/null
"$VCTL" --db twin.db import twin.json >out || fail "first import of twin.json"
grep -q '; 1 revoked$' out || fail "first import of twin.json: $(cat out)"
"$VCTL" --db twin.db export >twin1.json
"$VCTL" --db twin.db import twin.json >out || fail "second import of twin.json: $(cat out)"
"$VCTL" --db twin.db export >twin2.json
cmp -s twin1.json twin2.json || fail "a second import of twin.json changed the store"
echo "ok: a bundle with a revoked twin imports twice"

echo "PASS verifyctl_cli"
