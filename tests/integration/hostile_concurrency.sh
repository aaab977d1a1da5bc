#!/usr/bin/env bash
# hostile_concurrency.sh — verifyctl and admin-API writes on the live
# database while verifierd is under attest load (issue 7). Every attestation
# of the registered attester writes a result row, so verifierd's workers and
# verifyctl compete for SQLite's single writer. Passes when no client — RP,
# admin API or verifyctl — ever sees a 5xx or "database is locked"/"busy",
# verifierd logs no such error, and the DB is consistent afterwards.
# Bounded: 20 s of load, at most 60 verifyctl writes per writer.
set -u
. "$VFY_SOURCE_DIR/tests/lib/verifierd.sh"

HH="$VFY_BUILD_DIR/tests/hostilehttp"
[ -x "$HH" ] || die "hostilehttp not built"
LOAD_S=20

vd_start_dev main --rate 0 || die "verifierd did not start"
vd_fake_evidence "$VD_TMP/ev.json"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null |
    openssl pkey -pubout -out "$VD_TMP/ak.pem" 2>/dev/null
"$VCTL" --db "$VD_DB" attester add fake-agent --ak-pem "$VD_TMP/ak.pem" >/dev/null ||
    die "attester add"
results0=$(sqlite3 "$VD_DB" 'SELECT count(*) FROM results')

# ---- load: 4 keep-alive clients, challenge + attest (results are written) ----
"$HH" load "$VD_PORT" "$LOAD_S" 4 "$VD_ATTEST" fake-agent "$VD_TMP/ev.json" \
    >"$VD_TMP/load.out" 2>"$VD_TMP/load.err" &
lpid=$!
VD_PIDS+=("$lpid")
sleep 1

# ---- writers, in parallel with the load and with each other ----
writer_components() {   # verifyctl component add/revoke
    local i
    for i in $(seq 1 60); do
        "$VCTL" --db "$VD_DB" component add tool "hostile-tool-$i" \
            --digest "sha256:$(printf 'tool %s' "$i" | openssl dgst -sha256 -r | cut -c1-64)" \
            --version 1 >/dev/null 2>>"$VD_TMP/vctl.err" || echo "component add $i: rc $?" >>"$VD_TMP/vctl.fail"
        if [ $((i % 5)) = 0 ]; then
            "$VCTL" --db "$VD_DB" component revoke tool "hostile-tool-$((i - 1))" >/dev/null \
                2>>"$VD_TMP/vctl.err" || echo "component revoke $i: rc $?" >>"$VD_TMP/vctl.fail"
        fi
        [ -e "$VD_TMP/stop" ] && break
    done
}
writer_pcrs() {         # verifyctl pcr add, policy load, token add
    local i
    for i in $(seq 1 60); do
        "$VCTL" --db "$VD_DB" pcr add hostile-set --index $((i % 24)) \
            --digest "$(printf 'pcr %s' "$i" | openssl dgst -sha256 -r | cut -c1-64)" >/dev/null \
            2>>"$VD_TMP/vctl.err" || echo "pcr add $i: rc $?" >>"$VD_TMP/vctl.fail"
        if [ $((i % 10)) = 0 ]; then
            sed "s/\"version\": *1/\"version\":$((i / 10 + 1))/" "$VFY_SOURCE_DIR/policies/default.json" \
                >"$VD_TMP/pol-$i.json"
            "$VCTL" --db "$VD_DB" policy load "$VD_TMP/pol-$i.json" >/dev/null \
                2>>"$VD_TMP/vctl.err" || echo "policy load $i: rc $?" >>"$VD_TMP/vctl.fail"
            "$VCTL" --db "$VD_DB" token add "hostile-$i" --role attest >/dev/null \
                2>>"$VD_TMP/vctl.err" || echo "token add $i: rc $?" >>"$VD_TMP/vctl.fail"
        fi
        [ -e "$VD_TMP/stop" ] && break
    done
}
writer_import() {       # verifyctl export, and import of 200 new components at once
    local i
    for i in $(seq 1 15); do
        "$VCTL" --db "$VD_DB" export >"$VD_TMP/export-$i.json" 2>>"$VD_TMP/vctl.err" ||
            echo "export $i: rc $?" >>"$VD_TMP/vctl.fail"
        jq --arg i "$i" '.policies = [] | .attesters = [] | .pcrs = [] |
            .components = [range(200) | {kind:"model", name:("import-\($i)-\(.)"), version:"1",
                state:"approved", note:"hostile import",
                digest:("sha256:" + ("0" * 60) + ((1000 + .) | tostring))}]' \
            "$VD_TMP/bundle-1.json" >"$VD_TMP/import-$i.json" 2>>"$VD_TMP/vctl.err"
        "$VCTL" --db "$VD_DB" import "$VD_TMP/import-$i.json" >/dev/null 2>>"$VD_TMP/vctl.err" ||
            echo "import $i: rc $?" >>"$VD_TMP/vctl.fail"
        [ -e "$VD_TMP/stop" ] && break
    done
}
writer_admin_api() {    # admin API writes through verifierd itself
    local i code
    for i in $(seq 1 40); do
        code=$(curl -s --max-time 20 --cacert "$VD_CA" -o /dev/null -w '%{http_code}' \
            -H "Authorization: Bearer $VD_ADMIN" -H 'Content-Type: application/json' \
            --data-binary "@$VD_TMP/bundle-1.json" "$VD_URL/v1/admin/refvalues" 2>/dev/null)
        echo "$code" >>"$VD_TMP/admin.codes"
        code=$(curl -s --max-time 20 --cacert "$VD_CA" -o /dev/null -w '%{http_code}' \
            -H "Authorization: Bearer $VD_ADMIN" -H 'Content-Type: application/json' \
            -d "{\"kind\":\"tool\",\"name\":\"hostile-tool-$i\"}" \
            "$VD_URL/v1/admin/components/revoke" 2>/dev/null)
        echo "$code" >>"$VD_TMP/admin.codes"
        [ -e "$VD_TMP/stop" ] && break
    done
}
"$VCTL" --db "$VD_DB" export >"$VD_TMP/bundle-1.json" 2>/dev/null
wpids=()
writer_components & wpids+=("$!")
writer_pcrs & wpids+=("$!")
writer_import & wpids+=("$!")
writer_admin_api & wpids+=("$!")
VD_PIDS+=("${wpids[@]}")

# The load ends by itself after LOAD_S; then the writers are told to stop.
wait "$lpid"
touch "$VD_TMP/stop"
for p in "${wpids[@]}"; do wait "$p"; done

out=$(cat "$VD_TMP/load.out"); echo "# $out"
num() { printf '%s' "$1" | sed -n "s/.*$2=\([0-9]*\).*/\1/p"; }
check "load made progress ($(num "$out" requests) requests)" test "$(num "$out" requests)" -ge 200
expect_eq "load: no 5xx reached the RP" "$(num "$out" 5xx)" 0
expect_eq "load: no 4xx (all requests well-formed)" "$(num "$out" 4xx)" 0
check "load: attestations were appraised under contention ($(num "$out" 2xx) 2xx)" \
    test "$(num "$out" 2xx)" -ge 200
expect_eq "load: no request without an answer" "$(num "$out" other)" 0
head -n 3 "$VD_TMP/load.err" | sed 's/^/# /'
results1=$(sqlite3 "$VD_DB" 'SELECT count(*) FROM results')
check "results were written during the load ($((results1 - results0)) rows)" \
    test $((results1 - results0)) -ge 100
expect_eq "every verifyctl write succeeded" "$(cat "$VD_TMP/vctl.fail" 2>/dev/null | head -n 3)" ""
expect_nomatch "no 'locked' or 'busy' on verifyctl's stderr" \
    "$(cat "$VD_TMP/vctl.err" 2>/dev/null)" 'locked|BUSY|busy'
admin_codes=$(sort "$VD_TMP/admin.codes" | uniq -c | tr '\n' ' ')
echo "# admin API codes: $admin_codes"
expect_nomatch "admin API writes: no 5xx and no failed request" "$(cat "$VD_TMP/admin.codes")" '^(5..|000)$'
# (request ids are random base64url and can spell "busy": match messages only)
expect_nomatch "verifierd logged no 'database is locked'/busy and no error" "$(cat "$VD_LOG")" \
    'database (table )?is locked|SQLITE_BUSY|DB_BUSY|database is busy|"level":"error"'
bad=$(grep -c '"status":5[0-9][0-9]' "$VD_LOG" || true)
expect_eq "no 5xx in verifierd's request log" "$bad" 0
expect_eq "integrity_check after the contention" "$(sqlite3 "$VD_DB" 'PRAGMA integrity_check')" ok
expect_eq "foreign_key_check after the contention" "$(sqlite3 "$VD_DB" 'PRAGMA foreign_key_check')" ""
check "verifyctl export works afterwards" sh -c "'$VCTL' --db '$VD_DB' export >/dev/null"
n_tools=$("$VCTL" --db "$VD_DB" list components --json | "$JSONGET" -l '' 2>/dev/null)
check "the components written under load are there (${n_tools:-0} >= 60)" test "${n_tools:-0}" -ge 60
vd_stop
expect_eq "verifierd exits 0 on SIGTERM" "$VD_STOP_RC" 0
vd_done
