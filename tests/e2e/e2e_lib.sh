# Shared prelude of the node e2e scripts (sourced, not run): a work
# directory, logging and checks, cleanup that stops the node and the
# simulator by pid, and free loopback ports. The sourcing script sets
# E2E_NAME (the log prefix and the work directory's name) first, and stores
# the pids it starts in NODE_PID and SIM_PID.
WORK=$(mktemp -d "/tmp/tr-e2e-${E2E_NAME:?E2E_NAME}.XXXXXX")
SIM_PID= NODE_PID=
FAIL=0
log() { printf '[%s %s] %s\n' "$E2E_NAME" "$(date +%H:%M:%S)" "$*"; }
check() { # description, command...
    local d=$1; shift
    if "$@" >/dev/null 2>&1; then log "ok: $d"; else log "FAIL: $d"; FAIL=1; fi
}
cleanup() {
    [ -n "$NODE_PID" ] && kill -KILL "$NODE_PID" 2>/dev/null && wait "$NODE_PID" 2>/dev/null
    [ -n "$SIM_PID" ] && kill -TERM "$SIM_PID" 2>/dev/null && wait "$SIM_PID" 2>/dev/null
    if [ "$FAIL" = 0 ] && [ "${E2E_KEEP:-0}" != 1 ]; then rm -rf "$WORK"; else log "kept $WORK"; fi
}
trap cleanup EXIT
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
    local p
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 20000)); port_free "$p" && { echo "$p"; return; }
    done
    echo 0
}
# A small collection for the node-failure scripts: picks SIM_PORT, CTL_PORT
# and HTTP_PORT, writes $WORK/node.conf (node id $1, three native
# instruments, 2 ms group commit, short backoffs) and starts the simulator
# (seed $2, 1,000 events/s, truth in $WORK/truth.jsonl) as SIM_PID.
# With E2E_TLS_CERT, E2E_TLS_KEY and E2E_TLS_CA set (PEM files), the
# simulator serves TLS with that certificate and REST on its own port
# (REST_PORT), and the feed is wss://localhost:SIM_PORT with
# https://127.0.0.1:REST_PORT and ca_file = E2E_TLS_CA: two host names,
# two ports. E2E_NODE_KEYS: extra lines for [node].
start_small_sim_and_conf() {
    SIM_PORT=$(pick_port); CTL_PORT=$(pick_port); HTTP_PORT=$(pick_port)
    local ws="ws://127.0.0.1:$SIM_PORT/native" rest="http://127.0.0.1:$SIM_PORT/native"
    local tls_conf=() tls_args=()
    if [ -n "${E2E_TLS_CERT:-}" ]; then
        REST_PORT=$(pick_port)
        ws="wss://localhost:$SIM_PORT/native" rest="https://127.0.0.1:$REST_PORT/native"
        tls_conf=("ca_file = $E2E_TLS_CA")
        tls_args=(--tls-cert "$E2E_TLS_CERT" --tls-key "$E2E_TLS_KEY" --rest-port "$REST_PORT")
    fi
    printf '%s\n' "[node]" "id = $1" "data_dir = $WORK/data" ${E2E_NODE_KEYS:+"$E2E_NODE_KEYS"} \
        "[log]" "level = info" \
        "file = $WORK/node.log" "rate_burst = 0" "[http]" "listen = 127.0.0.1:$HTTP_PORT" \
        "[storage]" "sync = group" "group_commit_ms = 2" "[feed sim]" "provider = sim" \
        "ws_url = $ws" "rest_url = $rest" "${tls_conf[@]}" \
        "instruments = SIM-0, SIM-1, SIM-2" "channels = trades, book" \
        "ping_interval = 1s" "ping_timeout = 3s" "ws_backoff_max = 2s" "rest_backoff_max = 2s" \
        >"$WORK/node.conf"
    "$BIN/tickraft-sim" --port "$SIM_PORT" --control-port "$CTL_PORT" --seed "$2" --dialect native \
        --instruments 3 --rate 1000 --history 3600 --truth "$WORK/truth.jsonl" "${tls_args[@]}" \
        >"$WORK/sim.log" 2>&1 &
    SIM_PID=$!
    sleep 0.5
}
# Stops the node with SIGTERM (checks it exits 0), then the simulator, and
# compares the node's log with the truth (trades and books) up to 2 s before
# the stop, since later events may still have been in flight: zero
# missing, zero duplicated, in order. The checker's report is in
# $WORK/check.json.
stop_and_check_truth() {
    local until rc
    until=$(( $(date +%s%N) - 2000000000 ))
    kill -TERM "$NODE_PID"; wait "$NODE_PID"; rc=$?; NODE_PID=
    check "graceful stop exit 0 (was $rc)" test "$rc" = 0
    kill -TERM "$SIM_PID"; wait "$SIM_PID" 2>/dev/null; SIM_PID=
    if "$TESTS/tr-e2e-check" --truth "$WORK/truth.jsonl" --dir "$WORK/data" --kinds trade,book \
        --until "$until" --from-first 0 >"$WORK/check.json"; then
        log "ok: zero missing, zero duplicated, in order"
    else
        log "FAIL: the log disagrees with the truth"; FAIL=1
    fi
    tail -1 "$WORK/check.json"
}
