#!/usr/bin/env bash
# scripts/demo.sh [BUILD_DIR] — `make demo`: dynamic attestation end to end
# (issue 6, DESIGN §1). An agent (examples/agent, swtpm-backed) and a relying
# party (examples/relying-party) keep ONE TLS 1.3 connection open while the
# agent's posture changes; before each high-impact operation the relying party
# gets fresh evidence in-band, bound to that connection, appraised by
# verifierd --dev.
#
# The story (a readable timeline on stdout; agent lines say "agent"):
#   1. approved manifest -> operation allowed (then allowed again on the held EAR)
#   2. relay: evidence captured on this connection, submitted by a second
#      relying party with its own connection's exporter -> contraindicated
#   3. the agent swaps in an unapproved model -> posture-changed notice ->
#      re-attestation -> warning -> refused
#   4. the operator approves that model; the held EAR still refuses until it
#      expires; EAR expiry forces a fresh attestation -> affirming -> allowed
#   5. the operator revokes the model -> the revocation feed says so ->
#      re-attestation -> contraindicated -> refused
#   and the relying party's connection saw exactly one TLS handshake.
#
# Environment: DEMO_TTL (EAR max_ttl_s, default 4; "none": the relying
# party's own default), DEMO_KEEP=1 keeps the
# work directory. For tests: DEMO_STORY=FILE runs that story (rp.c's script
# language) instead of this one, DEMO_AGENT_ARGS adds options to the agent
# (e.g. its --test-notice-after-evidence hook; a story's "run" lines see
# DEMO_VD_DIR and DEMO_VD_PID, verifierd's state directory and pid, and
# DEMO_AGENT_ADDR, and DEMO_RP_OP, a relying party with the demo's settings
# to which they add options), DEMO_RP_PRELOAD an LD_PRELOAD for the relying party only,
# DEMO_RP_ARGS to the relying
# party (e.g. --jwks-max-age). Exit status 0 only if every step went as scripted. Every
# process started here (swtpm, verifierd, agent) is stopped by PID on exit,
# whatever the exit path.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$(cd "${1:-${VFY_BUILD_DIR:-$SRC/build}}" && pwd)
VD=$BUILD/verifierd/verifierd
VCTL=$BUILD/tools/verifyctl/verifyctl
AGENT=$BUILD/examples/vfy-agent
RP=$BUILD/examples/vfy-rp
TTL=${DEMO_TTL:-4}
EAR_S=$TTL   # how long an EAR lives: the relying party's default without --max-ttl
[ "$TTL" != none ] || EAR_S=300
AK_HANDLE=0x81010003

for b in "$VD" "$VCTL" "$AGENT" "$RP"; do
    [ -x "$b" ] || { echo "demo: $b is not built (make build)" >&2; exit 1; }
done
for t in swtpm tpm2_pcrextend tpm2_pcrread curl openssl; do
    command -v "$t" >/dev/null || { echo "demo: $t is not installed (scripts/install-deps.sh)" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/vfy-demo.XXXXXX)
VD_PID="" AGENT_PID=""

# shellcheck source=../tests/lib/swtpm.sh
. "$SRC/tests/lib/swtpm.sh"

stop_pid() {   # stop_pid PID: TERM, wait up to 5 s, then KILL; never fails
    local pid=$1
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_pid "$AGENT_PID"
    stop_pid "$VD_PID"
    swtpm_stop
    if [ "${DEMO_KEEP:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
        echo "demo: work directory kept: $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

banner() { printf '\n=== %s\n' "$*"; }
sha() { printf '%s' "$1" | openssl dgst -sha256 -r | cut -c1-64; }
flush() { tpm2_flushcontext -t >/dev/null 2>&1 || true; }

# ---- the TPM: swtpm with non-zero platform PCRs 0-7 ----
banner "setting up: swtpm, verifierd --dev, reference values"
swtpm_start "$WORK/tpm" >/dev/null
for i in 0 1 2 3 4 5 6 7; do
    tpm2_pcrextend "$i:sha256=$(sha "demo platform pcr $i")"
    flush
done
tpm2_pcrread sha256:0,1,2,3,4,5,6,7 >"$WORK/pcrs.yaml"
flush
# The AK, before the agent holds the TPM (swtpm serves one client at a time).
"$AGENT" --provision --ak-handle "$AK_HANDLE" --ak-public-out "$WORK/ak.pub" 2>&1

# ---- verifierd --dev on a free port ----
for attempt in 1 2 3 4 5 6 7 8; do
    PORT=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && continue
    "$VD" --dev --state-dir "$WORK/vd" --listen "127.0.0.1:$PORT" >"$WORK/verifierd.out" \
        2>"$WORK/verifierd.log" &
    VD_PID=$!
    for _ in $(seq 1 100); do
        kill -0 "$VD_PID" 2>/dev/null || break
        if [ -s "$WORK/vd/tls-cert.pem" ] && curl -sf --max-time 2 --cacert "$WORK/vd/tls-cert.pem" \
            "https://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then
            break 2
        fi
        sleep 0.1
    done
    stop_pid "$VD_PID"; VD_PID=""
    grep -q 'Address already in use' "$WORK/verifierd.log" 2>/dev/null || break
done
[ -n "$VD_PID" ] || { echo "demo: verifierd did not start:" >&2; tail -5 "$WORK/verifierd.log" >&2; exit 1; }
VFY=https://127.0.0.1:$PORT
DB=$WORK/vd/verifierd.db
echo "verifierd --dev on $VFY (pid $VD_PID)"
# for a DEMO_STORY's "run" lines: verifierd's state directory and pid
export DEMO_VD_DIR="$WORK/vd" DEMO_VD_PID="$VD_PID"

# ---- manifests: v1 approved; v2 swaps in a model nobody approved yet ----
manifest() {   # manifest VERSION MODEL
    printf '{"agent_id":"travel-agent-01","manifest_version":%s,"models":[{"name":"%s","digest":"sha256:%s"}],"tools":[{"name":"payments.transfer","version":"2.1.0","digest":"sha256:%s"}],"policies":[{"name":"spend-limits","digest":"sha256:%s"}],"context":{"digest":"sha256:%s"}}' \
        "$1" "$2" "$(sha "model:$2")" "$(sha tool:payments.transfer)" "$(sha policy:spend-limits)" \
        "$(sha context:travel)"
}
MODEL_A=llama-3.1-8b-instruct
MODEL_B=llama-3.1-8b-instruct-uncensored
manifest 1 "$MODEL_A" >"$WORK/manifest-v1.json"
manifest 2 "$MODEL_B" >"$WORK/manifest-v2.json"
cp "$WORK/manifest-v1.json" "$WORK/agent-manifest.json"

# ---- provisioning with verifyctl ----
"$VCTL" --db "$DB" attester add agent-1 --ak-public "$WORK/ak.pub" >/dev/null
"$VCTL" --db "$DB" pcr import default "$WORK/pcrs.yaml" >/dev/null
"$VCTL" --db "$DB" component add model "$MODEL_A" --digest "sha256:$(sha "model:$MODEL_A")" >/dev/null
"$VCTL" --db "$DB" component add tool payments.transfer --version 2.1.0 \
    --digest "sha256:$(sha tool:payments.transfer)" >/dev/null
"$VCTL" --db "$DB" component add policy spend-limits --digest "sha256:$(sha policy:spend-limits)" >/dev/null
"$VCTL" --db "$DB" component add context travel --digest "sha256:$(sha context:travel)" >/dev/null
echo "provisioned: attester agent-1 (AK $AK_HANDLE), PCRs 0-7 as reference set 'default',"
echo "             model $MODEL_A, tool payments.transfer, policy spend-limits, context travel"

# ---- the agent ----
# Mutual TLS: the relying parties' certificate (one for both of them here)
# is the only client certificate the agent accepts (--client-ca).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj "/CN=demo relying party" -keyout "$WORK/rp-key.pem" -out "$WORK/rp-cert.pem" \
    >/dev/null 2>&1 || { echo "demo: openssl could not make the RP's certificate" >&2; exit 1; }
# shellcheck disable=SC2086  # DEMO_AGENT_ARGS is a list of options
"$AGENT" --manifest "$WORK/agent-manifest.json" --ak-handle "$AK_HANDLE" \
    --listen 127.0.0.1:0 --port-file "$WORK/agent.port" --cert-out "$WORK/agent-cert.pem" \
    --client-ca "$WORK/rp-cert.pem" ${DEMO_AGENT_ARGS:-} &
AGENT_PID=$!
for _ in $(seq 1 100); do
    [ -s "$WORK/agent.port" ] && break
    kill -0 "$AGENT_PID" 2>/dev/null || break
    sleep 0.1
done
[ -s "$WORK/agent.port" ] || { echo "demo: the agent did not start" >&2; exit 1; }
AGENT_ADDR=127.0.0.1:$(cat "$WORK/agent.port")
export DEMO_AGENT_ADDR="$AGENT_ADDR"
echo "processes: swtpm $SWTPM_PID, verifierd $VD_PID, agent $AGENT_PID"

# Narrator helpers the relying party's story runs.
cat >"$WORK/swap-manifest" <<SH
#!/bin/sh
# swap-manifest FILE: atomically replace the agent's manifest and tell it (SIGHUP).
cp "\$1" "$WORK/agent-manifest.json.tmp" && mv -f "$WORK/agent-manifest.json.tmp" "$WORK/agent-manifest.json" &&
kill -HUP $AGENT_PID
SH
chmod +x "$WORK/swap-manifest"
RP_COMMON=(--agent "$AGENT_ADDR" --agent-ca "$WORK/agent-cert.pem" --verifier "$VFY"
           --verifier-ca "$WORK/vd/tls-cert.pem" --token-file "$WORK/vd/dev-tokens"
           --attester agent-1 --cert "$WORK/rp-cert.pem" --key "$WORK/rp-key.pem")
[ "$TTL" = none ] || RP_COMMON+=(--max-ttl "$TTL")
# shellcheck disable=SC2206  # DEMO_RP_ARGS is a list of options
RP_COMMON+=(${DEMO_RP_ARGS:-})
# relay-rp2: a second relying party, on its own connection to the agent, that
# submits the evidence rp captured on its connection (with rp2's own exporter).
{ echo '#!/bin/sh'
  printf "printf 'op transfer 9999 EUR to MALLORY\\nexpect refused contraindicated\\n' | exec "
  printf '%q ' "$RP" "${RP_COMMON[@]}" --name rp2 --replay "$WORK/captured.json" --script -
  echo; } >"$WORK/relay-rp2"
chmod +x "$WORK/relay-rp2"
# rp-op ARGS...: another relying party with the same settings, for a story's
# "run" lines (tests): e.g. "$DEMO_RP_OP --name rp3 --op TEXT".
{ echo '#!/bin/sh'
  printf 'exec '
  printf '%q ' "$RP" "${RP_COMMON[@]}"
  echo '"$@"'; } >"$WORK/rp-op"
chmod +x "$WORK/rp-op"
export DEMO_RP_OP="$WORK/rp-op"

cat >"$WORK/story.txt" <<STORY
say 1. the agent runs its approved manifest (model $MODEL_A)
op transfer 100 EUR to ACME Travel
expect allowed affirming
op transfer 250 EUR to ACME Hotels
expect allowed affirming

say 2. relay: evidence captured on THIS connection, submitted by another relying party on ITS connection
capture $WORK/captured.json
run $WORK/relay-rp2

say 3. mid-connection the agent swaps in model $MODEL_B, which nobody approved
run $WORK/swap-manifest $WORK/manifest-v2.json
wait-notice 5
op transfer 5000 EUR to ACME Travel
expect refused warning

say 4. the operator reviews $MODEL_B and approves it; the held EAR keeps refusing until it expires
run $VCTL --db $DB component add model $MODEL_B --digest sha256:$(sha "model:$MODEL_B") >/dev/null
op transfer 5000 EUR to ACME Travel
expect refused warning
sleep $((EAR_S + 1))
op transfer 5000 EUR to ACME Travel
expect allowed affirming

say 5. the operator revokes $MODEL_B; the relying party learns it from the revocation feed
run $VCTL --db $DB component revoke model $MODEL_B >/dev/null
wait-revoked 5
op delete customer records
expect refused contraindicated
STORY

if [ -n "${DEMO_STORY:-}" ]; then
    cp "$DEMO_STORY" "$WORK/story.txt"
fi

banner "the story: one TLS connection, re-attested in-band before high-impact operations"
if [ -n "${DEMO_RP_PRELOAD:-}" ]; then   # tests: e.g. a shim that moves its wall clock
    env LD_PRELOAD="$DEMO_RP_PRELOAD" "$RP" "${RP_COMMON[@]}" --name rp --script "$WORK/story.txt"
else
    "$RP" "${RP_COMMON[@]}" --name rp --script "$WORK/story.txt"
fi
banner "demo complete: every step went as scripted"
