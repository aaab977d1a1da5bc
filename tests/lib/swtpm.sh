# shellcheck shell=bash
#
# swtpm.sh — start and stop a throw-away software TPM for tests.
#
# Source this file, then:
#
#   swtpm_start DIR     # state in DIR (created), TPM on a free 127.0.0.1 port pair
#   trap swtpm_stop EXIT
#   tpm2_getrandom 8    # tpm2-tools find the TPM through TPM2TOOLS_TCTI
#   swtpm_stop          # idempotent; kills exactly the swtpm we started, by PID
#
# After swtpm_start these are exported:
#   SWTPM_PORT, SWTPM_CTRL_PORT   the server and control ports
#   SWTPM_PID                     the PID of the swtpm process
#   TPM2TOOLS_TCTI, TCTI, TSS2_TCTI   "swtpm:host=127.0.0.1,port=$SWTPM_PORT"
#
# swtpm runs with --flags not-need-init,startup-clear, so the TPM is usable at
# once (no tpm2_startup, no swtpm_setup). A port pair that another process
# grabs between our check and swtpm's bind is handled by retrying on a new
# random pair. Works as root with no prior setup.

SWTPM_PID=""
SWTPM_PID_FILE=""
SWTPM_LOG=""

# _swtpm_port_free PORT: true if nothing listens on 127.0.0.1:PORT (TCP).
_swtpm_port_free() {
    local port=$1
    # bash's /dev/tcp connect succeeds only if something is listening.
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        return 1
    fi
    if command -v ss >/dev/null 2>&1; then
        if ss -Htln "sport = :$port" 2>/dev/null | grep -q .; then
            return 1
        fi
    fi
    return 0
}

# swtpm_start DIR: start swtpm with its state in DIR. Returns non-zero (and
# prints why) if no instance could be started after several attempts.
swtpm_start() {
    local dir=${1:?swtpm_start: state directory required}
    local attempt port ctrl

    if [ -n "$SWTPM_PID" ]; then
        echo "swtpm_start: an swtpm (pid $SWTPM_PID) is already running" >&2
        return 1
    fi
    if ! command -v swtpm >/dev/null 2>&1; then
        echo "swtpm_start: swtpm not installed" >&2
        return 1
    fi
    mkdir -p "$dir" || return 1
    SWTPM_PID_FILE="$dir/swtpm.pid"
    SWTPM_LOG="$dir/swtpm.log"

    for attempt in 1 2 3 4 5 6 7 8 9 10; do
        # Random even port in 20000..59998; control port is the next one.
        port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 20000 * 2 ))
        ctrl=$(( port + 1 ))
        if ! _swtpm_port_free "$port" || ! _swtpm_port_free "$ctrl"; then
            continue
        fi

        rm -f "$SWTPM_PID_FILE"
        swtpm socket --tpm2 \
            --server "type=tcp,port=$port,bindaddr=127.0.0.1" \
            --ctrl "type=tcp,port=$ctrl,bindaddr=127.0.0.1" \
            --tpmstate "dir=$dir" \
            --flags not-need-init,startup-clear \
            --pid "file=$SWTPM_PID_FILE" \
            --log "file=$SWTPM_LOG" \
            --daemon 2>>"$SWTPM_LOG.stderr" || {
                echo "swtpm_start: attempt $attempt on port $port failed (retrying):" \
                     "$(tail -n 1 "$SWTPM_LOG.stderr" 2>/dev/null)" >&2
                continue
            }

        # --daemon returns once the sockets are bound; the pid file follows.
        for _ in $(seq 1 50); do
            [ -s "$SWTPM_PID_FILE" ] && break
            sleep 0.1
        done
        if [ ! -s "$SWTPM_PID_FILE" ]; then
            echo "swtpm_start: no pid file after start on port $port" >&2
            continue
        fi
        SWTPM_PID=$(cat "$SWTPM_PID_FILE")
        case $SWTPM_PID in
            ''|*[!0-9]*) echo "swtpm_start: bad pid file" >&2; SWTPM_PID=""; continue ;;
        esac

        # Wait until it accepts connections.
        for _ in $(seq 1 50); do
            if ! kill -0 "$SWTPM_PID" 2>/dev/null; then
                break
            fi
            if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
                SWTPM_PORT=$port
                SWTPM_CTRL_PORT=$ctrl
                TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$port"
                TCTI=$TPM2TOOLS_TCTI
                TSS2_TCTI=$TPM2TOOLS_TCTI
                export SWTPM_PORT SWTPM_CTRL_PORT SWTPM_PID TPM2TOOLS_TCTI TCTI TSS2_TCTI
                return 0
            fi
            sleep 0.1
        done
        echo "swtpm_start: swtpm (pid $SWTPM_PID) did not come up on port $port" >&2
        kill "$SWTPM_PID" 2>/dev/null
        SWTPM_PID=""
    done
    echo "swtpm_start: giving up; last log:" >&2
    tail -n 5 "$SWTPM_LOG" "$SWTPM_LOG.stderr" >&2 2>/dev/null
    return 1
}

# swtpm_stop: stop the swtpm started by swtpm_start. Safe to call twice and
# from an EXIT trap; never fails the caller.
swtpm_stop() {
    local pid=$SWTPM_PID
    SWTPM_PID=""
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null
        for _ in $(seq 1 30); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    fi
    [ -n "$SWTPM_PID_FILE" ] && rm -f "$SWTPM_PID_FILE"
    return 0
}
