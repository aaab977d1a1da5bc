#!/usr/bin/env bash
# make bench — the performance figures of issue 8 (docs/performance.md).
#
#   scripts/bench.sh [BUILD_DIR]      (default: build)
#
# Prints a table and, per figure, `bench: NAME=VALUE UNIT`. All ratios are
# measured in this one run. Work files go to BUILD_DIR/bench-work (the
# reference-value databases are kept there and reused by later runs:
# delete the directory to rebuild them). Environment knobs:
#   BENCH_SECONDS   HTTP measuring window per run (default 10)
#   BENCH_CONNS     concurrent HTTPS keep-alive connections (default 16)
#   BENCH_BIG_REFS  reference values of the big database (default 1000000)
#   BENCH_BIG_ATT   attesters of the big database (default 100000)
# Benchmarks are not tests: nothing here is part of ctest.
set -euo pipefail

BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
VB=$BUILD/bench/vfy-bench
VD=$BUILD/verifierd/verifierd
VCTL=$BUILD/tools/verifyctl/verifyctl
WORK=$BUILD/bench-work
SHM=/dev/shm/vfy-bench.$$
SECONDS_HTTP=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNS:-16}
BIG_REFS=${BENCH_BIG_REFS:-1000000}
BIG_ATT=${BENCH_BIG_ATT:-100000}
FIX=$ROOT/tests/fixtures/quote/ecc-p256-ecdsa-sha256

for b in "$VB" "$VD"; do
  [ -x "$b" ] || { echo "bench: $b missing (build first)" >&2; exit 1; }
done
mkdir -p "$WORK" "$SHM"
OUT=$WORK/results.txt
: > "$OUT"
VD_PID=
cleanup() {
  [ -n "$VD_PID" ] && kill "$VD_PID" 2>/dev/null && wait "$VD_PID" 2>/dev/null
  rm -rf "$SHM"
}
trap cleanup EXIT

emit() { echo "$1" | tee -a "$OUT"; }
val() { sed -n "s/^bench: $1=\([^ ]*\) .*/\1/p" "$OUT" | tail -1; }
# best NAME: the highest value measured for NAME in this run (the machine is
# shared and noisy: each throughput is measured several times, interleaved,
# and the best is kept — the least disturbed run).
best() { sed -n "s/^bench: $1=\([^ ]*\) .*/\1/p" "$OUT" | sort -g | tail -1; }
# run CMD...: emit its bench: lines; a failing figure is reported, the rest still runs.
run() {
  local rc=0
  "$@" > "$WORK/run.out" || rc=$?
  while read -r l; do emit "$(echo "$l" | sed "s/^\(bench: [a-z0-9_]*\)=/\1${RUN_SUFFIX:-}=/")"; done < "$WORK/run.out"
  [ $rc -eq 0 ] || echo "bench: FAILED (exit $rc): $*" >&2
  return 0
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "nan" }'; }
step() { echo "-- $*" >&2; }

# free_port: a random port in 20000..59999 nothing listens on (bash only).
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$(( 20000 + RANDOM % 40000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  echo "bench: no free port" >&2; return 1
}

# start_vd STATE_DIR: verifierd --dev on a free port; sets VD_PID, VD_URL.
start_vd() {
  local dir=$1 port
  port=$(free_port)
  "$VD" --dev --state-dir "$dir" --listen "127.0.0.1:$port" --rate 0 --quiet >"$dir/stdout.log" 2>"$dir/stderr.log" &
  VD_PID=$!
  VD_URL=https://127.0.0.1:$port
  for _ in $(seq 100); do
    curl -sf --cacert "$dir/tls-cert.pem" "$VD_URL/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$VD_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "bench: verifierd did not start; see $dir/stderr.log" >&2
  cat "$dir/stderr.log" >&2
  exit 1
}
stop_vd() { kill "$VD_PID"; wait "$VD_PID" 2>/dev/null || true; VD_PID=; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

# ---- databases (provisioned once, reused) ----------------------------------
# small: 10 attesters, 1k reference values (ECC and RSA AKs); bigrefs: 10
# attesters, BIG_REFS values; bigatt: BIG_ATT attesters, 1k values. Each is
# the DB of a verifierd --dev state directory.
prov() {  # NAME KEYNAME ATTESTERS REFS [--rsa]
  local dir=$WORK/$1
  # (Work directories from before pristine.db are provisioned again once.)
  if [ ! -f "$dir/provisioned" ] || [ ! -f "$dir/pristine.db" ]; then
    step "provisioning $1 ($3 attesters, $4 reference values)"
    rm -rf "$dir"; mkdir -p "$dir"
    "$VB" provision --db "$dir/verifierd.db" --key "$WORK/$2.pem" --attesters "$3" --refs "$4" ${5:-}
    cp "$dir/verifierd.db" "$dir/pristine.db"
    touch "$dir/provisioned"
  else
    # a copy made by an older build: brought to the current schema once
    "$VCTL" --db "$dir/pristine.db" init >/dev/null
  fi
}
# The small databases take the writes of (2) on disk and of (3): each run
# starts from the provisioned state, so that results of earlier runs (about
# 100k per run) do not pile up and make runs incomparable.
fresh() {  # NAME
  rm -f "$WORK/$1/verifierd.db" "$WORK/$1/verifierd.db-wal" "$WORK/$1/verifierd.db-shm"
  cp "$WORK/$1/pristine.db" "$WORK/$1/verifierd.db"
}
prov small-ecc ak-ecc 10 1000
prov small-rsa ak-rsa 10 1000 --rsa
fresh small-ecc
fresh small-rsa
prov "bigrefs-$BIG_REFS" ak-ecc 10 "$BIG_REFS"
prov "bigatt-$BIG_ATT" ak-ecc "$BIG_ATT" 1000

# ---- (1) crypto bound ---------------------------------------------------------
step "crypto bound (one core)"
run "$VB" akimport   # diagnostic: what one attester-cache miss costs

# ---- (2) in-process appraisal, one thread --------------------------------------
# On the disk the store lives on, and on a tmpfs copy (the CPU cost alone).
# Group commit as verifierd runs it (a vfy_committer, batches of 32: an EAR
# is released only after its batch commits), and one commit per appraisal.
step "in-process appraisal (ECC, RSA)"
cp "$WORK/small-ecc/verifierd.db" "$SHM/small.db"
cp "$WORK/small-rsa/verifierd.db" "$SHM/small-rsa.db"
G="--group 32"
for round in 1 2 3; do
  RUN_SUFFIX=_run run "$VB" crypto --seconds 1
  run "$VB" appraise --db "$WORK/small-ecc/verifierd.db" --key "$WORK/ak-ecc.pem" --count 2000 $G --label appraise_ecc_run
  run "$VB" appraise --db "$WORK/small-rsa/verifierd.db" --key "$WORK/ak-rsa.pem" --count 1000 $G --label appraise_rsa_run
  run "$VB" appraise --db "$SHM/small.db" --key "$WORK/ak-ecc.pem" --count 2000 $G --label appraise_ecc_tmpfs_run
  run "$VB" appraise --db "$SHM/small-rsa.db" --key "$WORK/ak-rsa.pem" --count 1000 $G --label appraise_rsa_tmpfs_run
  run "$VB" appraise --db "$WORK/small-ecc/verifierd.db" --key "$WORK/ak-ecc.pem" --count 1000 --label appraise_ecc_single_run
  run "$VB" appraise --db "$SHM/small.db" --key "$WORK/ak-ecc.pem" --count 1000 --label appraise_ecc_tmpfs_single_run
done
for f in crypto_p256_verify crypto_es256_sign crypto_bound; do
  emit "bench: $f=$(best ${f}_run) $(sed -n "s/^bench: ${f}_run=[^ ]* //p" "$OUT" | tail -1)"
done
for f in appraise_ecc appraise_rsa appraise_ecc_tmpfs appraise_rsa_tmpfs appraise_ecc_single appraise_ecc_tmpfs_single; do
  emit "bench: $f=$(best ${f}_run) appraisals/s"
done
emit "bench: appraise_ratio_to_crypto_bound=$(ratio "$(val appraise_ecc)" "$(val crypto_bound)") ratio"
emit "bench: appraise_tmpfs_ratio_to_crypto_bound=$(ratio "$(val appraise_ecc_tmpfs)" "$(val crypto_bound)") ratio"
emit "bench: appraise_single_commit_ratio_to_crypto_bound=$(ratio "$(val appraise_ecc_single)" "$(val crypto_bound)") ratio"

# ---- (3) verifierd over HTTPS keep-alive ---------------------------------------
step "verifierd over HTTPS, $CONNS keep-alive connections, ${SECONDS_HTTP}s"
start_vd "$WORK/small-ecc"
TOKEN=$(sed -n 1p "$WORK/small-ecc/dev-tokens")
run "$VB" http --url "$VD_URL" --token "$TOKEN" --cacert "$WORK/small-ecc/tls-cert.pem" \
  --key "$WORK/ak-ecc.pem" --attesters 10 --conns "$CONNS" --threads 1 \
  --seconds "$SECONDS_HTTP" --warmup 2 --label http
# the same with half the connections: a closed-loop client's latency is
# mostly queueing (connections / throughput), so this shows the other end
# of the trade-off
run "$VB" http --url "$VD_URL" --token "$TOKEN" --cacert "$WORK/small-ecc/tls-cert.pem" \
  --key "$WORK/ak-ecc.pem" --attesters 10 --conns $(( CONNS / 2 > 0 ? CONNS / 2 : 1 )) --threads 1 \
  --seconds "$SECONDS_HTTP" --warmup 2 --label http_half
stop_vd

# ---- (4) tpm2_checkquote, one process per quote --------------------------------
if command -v tpm2_checkquote >/dev/null; then
  step "tpm2_checkquote baseline (3 s)"
  q=$(cat "$FIX/binder.hex")
  n=0; t0=$(date +%s.%N)
  while :; do
    tpm2_checkquote -u "$FIX/ak.pem" -m "$FIX/attest.bin" -s "$FIX/sig.bin" -f "$FIX/pcrs.tpm2" \
      -g sha256 -q "$q" >/dev/null 2>&1 || { echo "bench: tpm2_checkquote rejected the fixture" >&2; break; }
    n=$((n + 1))
    t=$(date +%s.%N)
    awk -v a="$t0" -v b="$t" 'BEGIN { exit !(b - a >= 3) }' && break
  done
  emit "bench: tpm2_checkquote=$(awk -v n=$n -v a="$t0" -v b="$t" 'BEGIN { printf "%.0f", n / (b - a) }') quotes/s"
fi

# ---- (5) scaling: reference values and attesters ---------------------------------
# tmpfs copies, so the ratio shows lookup cost and not disk noise; group
# commit as in (2). --steady: each timed appraisal is an attester's second
# (an untimed pass first), as when every agent re-attests; 4000 distinct
# attesters per pass overflow the appraiser's 1024-entry attester cache, so
# nearly every timed appraisal imports its AK. The first-appraisal figure
# (state rows created) is a diagnostic.
step "scaling (1k vs $BIG_REFS reference values, 10 vs $BIG_ATT attesters)"
cp "$WORK/small-ecc/verifierd.db" "$SHM/base.db"
cp "$WORK/bigrefs-$BIG_REFS/verifierd.db" "$SHM/bigrefs.db"
cp "$WORK/bigatt-$BIG_ATT/verifierd.db" "$SHM/bigatt.db"
for round in 1 2 3; do
  run "$VB" appraise --db "$SHM/base.db" --key "$WORK/ak-ecc.pem" --count 4000 $G --steady --label scale_base_run
  run "$VB" appraise --db "$SHM/bigrefs.db" --key "$WORK/ak-ecc.pem" --count 4000 $G --steady --label scale_refs_big_run
  run "$VB" appraise --db "$SHM/bigatt.db" --key "$WORK/ak-ecc.pem" --attesters "$BIG_ATT" --count 4000 $G --steady --label scale_att_big_run
  run "$VB" appraise --db "$SHM/bigatt.db" --key "$WORK/ak-ecc.pem" --attesters "$BIG_ATT" --count 2000 $G --label scale_att_first_run
done
emit "bench: scale_base=$(best scale_base_run) appraisals/s"
emit "bench: scale_refs_big=$(best scale_refs_big_run) appraisals/s"
emit "bench: scale_att_big=$(best scale_att_big_run) appraisals/s"
emit "bench: scale_att_first=$(best scale_att_first_run) appraisals/s"
emit "bench: scale_refs_ratio=$(ratio "$(val scale_base)" "$(val scale_refs_big)") ratio"
emit "bench: scale_attesters_ratio=$(ratio "$(val scale_base)" "$(val scale_att_big)") ratio"
rm -f "$SHM"/*.db*

# ---- (6) verifierd RSS with BIG_ATT attesters -----------------------------------
step "verifierd RSS with $BIG_ATT attesters"
# On a copy: the results of the run would otherwise pile up in the
# provisioned database and slow every later run a little.
rm -rf "$WORK/rss-run"
cp -r "$WORK/bigatt-$BIG_ATT" "$WORK/rss-run"
start_vd "$WORK/rss-run"
sleep 2
emit "bench: rss_rest=$(( $(rss_kib "$VD_PID") / 1024 )) MiB"
TOKEN=$(sed -n 1p "$WORK/rss-run/dev-tokens")
peak=0
( while kill -0 "$VD_PID" 2>/dev/null; do rss_kib "$VD_PID"; sleep 0.5; done ) > "$WORK/rss-samples.txt" 2>/dev/null &
SAMPLER=$!
run "$VB" http --url "$VD_URL" --token "$TOKEN" --cacert "$WORK/rss-run/tls-cert.pem" \
  --key "$WORK/ak-ecc.pem" --attesters "$BIG_ATT" --conns "$CONNS" --threads 1 \
  --seconds "$SECONDS_HTTP" --warmup 1 --label http_bigatt
peak=$(sort -n "$WORK/rss-samples.txt" | tail -1)
emit "bench: rss_load=$(( $(rss_kib "$VD_PID") / 1024 )) MiB"
emit "bench: rss_peak=$(( $(hwm_kib "$VD_PID") / 1024 )) MiB"
kill "$SAMPLER" 2>/dev/null || true
stop_vd
rm -rf "$WORK/rss-run"

# ---- table -------------------------------------------------------------------------
row() { printf '| %-52s | %14s | %-13s | %-16s |\n' "$1" "$2" "$3" "$4"; }
fig() { sed -n "s/^bench: $1=\([^ ]*\) \(.*\)/\1 \2/p" "$OUT" | tail -1; }
cell() { fig "$1" | cut -d' ' -f1; }
unit() { fig "$1" | cut -d' ' -f2-; }
echo
echo "machine: $(nproc) cores, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(openssl version | cut -d' ' -f1-2)"
row "figure" "value" "unit" "target"
row "----" "----" "----" "----"
row "(1) ECDSA P-256 verify, one core" "$(cell crypto_p256_verify)" "$(unit crypto_p256_verify)" ""
row "(1) ES256 sign, one core" "$(cell crypto_es256_sign)" "$(unit crypto_es256_sign)" ""
row "(1) crypto bound: 1 verify + 1 sign" "$(cell crypto_bound)" "$(unit crypto_bound)" ""
row "(2) in-process appraise+sign, ECC AK (disk)" "$(cell appraise_ecc)" "$(unit appraise_ecc)" ""
row "(2) in-process appraise+sign, RSA-2048 AK (disk)" "$(cell appraise_rsa)" "$(unit appraise_rsa)" ""
row "(2) in-process appraise+sign, ECC AK (tmpfs)" "$(cell appraise_ecc_tmpfs)" "$(unit appraise_ecc_tmpfs)" ""
row "(2) in-process appraise+sign, RSA-2048 AK (tmpfs)" "$(cell appraise_rsa_tmpfs)" "$(unit appraise_rsa_tmpfs)" ""
row "(2) ECC (disk) / crypto bound" "$(cell appraise_ratio_to_crypto_bound)" "ratio" ">= 0.9"
row "(2) ECC (tmpfs) / crypto bound" "$(cell appraise_tmpfs_ratio_to_crypto_bound)" "ratio" ">= 0.9"
row "(2) ECC, one commit per appraisal (disk / tmpfs)" "$(cell appraise_ecc_single) / $(cell appraise_ecc_tmpfs_single)" "appraisals/s" ""
row "(2) same / crypto bound (disk)" "$(cell appraise_single_commit_ratio_to_crypto_bound)" "ratio" ""
row "(3) HTTPS challenge+attest pairs, $CONNS conns" "$(cell http_pairs_per_s)" "pairs/s" ">= 5000"
row "(3) HTTPS pair latency p50" "$(cell http_p50_ms)" "ms" ""
row "(3) HTTPS pair latency p99" "$(cell http_p99_ms)" "ms" "<= 10"
row "(3) errors" "$(cell http_errors)" "requests" "0"
row "(3) same, $(( CONNS / 2 > 0 ? CONNS / 2 : 1 )) conns: pairs/s, p50 / p99 ms" "$(cell http_half_pairs_per_s), $(cell http_half_p50_ms) / $(cell http_half_p99_ms)" "" ""
row "(4) tpm2_checkquote, one process per quote" "$(cell tpm2_checkquote)" "quotes/s" ""
row "(5) 1k / ${BIG_REFS} reference values (throughput ratio)" "$(cell scale_refs_ratio)" "ratio" "<= 1.2"
row "(5) 10 / ${BIG_ATT} attesters (throughput ratio)" "$(cell scale_attesters_ratio)" "ratio" "<= 1.2"
row "(5) ${BIG_ATT} attesters, first appraisals" "$(cell scale_att_first)" "appraisals/s" ""
row "(6) verifierd RSS at rest, ${BIG_ATT} attesters" "$(cell rss_rest)" "MiB" "<= 64"
row "(6) verifierd RSS under load (end / peak)" "$(cell rss_load) / $(cell rss_peak)" "MiB" "<= 64"
row "AK import (cache miss): PEM / DER / raw point" "$(cell ak_import_pem_us) / $(cell ak_import_der_us) / $(cell ak_import_fromdata_us)" "us" ""
row "AK cache miss: PEM import + first verify" "$(cell ak_import_pem_first_verify_us)" "us" ""
row "(6) HTTPS pairs/s over ${BIG_ATT} attesters" "$(cell http_bigatt_pairs_per_s)" "pairs/s" ""
