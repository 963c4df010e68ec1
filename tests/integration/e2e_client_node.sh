#!/usr/bin/env bash
# End-to-end proof of the client path (docs/sdk.md, issue 6 "Proof"):
# tickraft-sim publishes with a truth file; tickraft-node collects and
# serves through its publisher; a subscriber (`tickraft-ctl tail
# --earliest --json`, i.e. the SDK) follows the node while the node is
# killed with SIGKILL and restarted twice and the simulator injects
# provider faults. At the end tr-e2e-check compares what the SUBSCRIBER
# received with the truth: nothing missing, nothing twice, native order.
#
# With E2E_LIVE=1 the subscriber is `tail --live` (protocol 1.2: events
# once written to the node's log, before they are durable): across the
# same kills it must end with the same events, none twice, in order.
# E2E_POWERLOSS=1 (with E2E_LIVE=1) turns each kill -9 into an emulated
# machine crash: the node's log fsyncs wait 500 ms first and note what
# they made durable (node/fault_fs.h), and after the kill the segment is
# cut back to that, so the node loses records the live subscriber has
# already shown; the node collects them again (backfill, snapshots) under
# the same native sequences, the subscriber's cursor skips them, and the
# subscriber must still end with exactly the truth. The subscriber then
# holds what the node's log replaced by gap events (book deltas), so the
# count check becomes "the subscriber stopped growing"; the truth check
# stays.
#
#   bash tests/integration/e2e_client_node.sh BIN_DIR TESTS_DIR
# Every process started here is stopped by pid; loopback only.
set -u
BIN=${1:?bin dir}
TESTS=${2:?tests dir}
RATE=${E2E_RATE:-400}
TAIL_OPTS=
[ "${E2E_LIVE:-0}" = 1 ] && TAIL_OPTS=--live
POWERLOSS=${E2E_POWERLOSS:-0}
WORK=$(mktemp -d /tmp/tr-e2e-client.XXXXXX)
SIM_PID= NODE_PID= TAIL_PID=
FAIL=0

log() { printf '[e2e-client %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

cleanup() {
    [ -n "$TAIL_PID" ] && kill -KILL "$TAIL_PID" 2>/dev/null
    [ -n "$NODE_PID" ] && kill -KILL "$NODE_PID" 2>/dev/null
    [ -n "$SIM_PID" ] && kill -TERM "$SIM_PID" 2>/dev/null
    for p in $TAIL_PID $NODE_PID $SIM_PID; do wait "$p" 2>/dev/null; done
    if [ "${E2E_KEEP:-0}" = 1 ] || [ "$FAIL" != 0 ]; then
        log "work dir kept: $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
    local p
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 20000))
        if port_free "$p" && port_free $((p + 1)); then echo "$p"; return; fi
    done
    echo 0
}
SIM_PORT=$(pick_port)
HTTP_PORT=$((SIM_PORT + 1))
CTL_PORT=$(pick_port)
PUB_PORT=$(pick_port)
[ "$SIM_PORT" = 0 ] && { log "no free port"; exit 1; }
PUB="tcp://127.0.0.1:$PUB_PORT"
export TICKRAFT_ADMIN_TOKEN=e2e-admin

cat >"$WORK/node.conf" <<CONF
[node]
id = 1
data_dir = $WORK/data
shutdown_timeout = 30s
[log]
level = info
file = $WORK/node.log
[http]
listen = 127.0.0.1:$HTTP_PORT
[storage]
sync = group
group_commit_ms = 2
[feed sim]
provider = sim
ws_url = ws://127.0.0.1:$SIM_PORT/native
rest_url = http://127.0.0.1:$SIM_PORT/native
instruments = SIM-0, SIM-1, SIM-2, SIM-3
channels = trades, book
ping_interval = 1s
ping_timeout = 3s
ws_backoff_base = 1s
ws_backoff_max = 4s
rest_backoff_base = 1s
rest_backoff_max = 4s
CONF

ctl() { "$BIN/tickraft-sim" ctl --port "$CTL_PORT" "$@" >>"$WORK/ctl.log" 2>&1 || log "ctl $* failed"; }

# waits until the node's publisher answers (at most ~10 s)
wait_pub() {
    for _ in $(seq 1 100); do
        "$BIN/tickraft-ctl" status --node "$PUB" --token e2e-admin >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    log "FAIL: publisher never answered"; FAIL=1; exit 1
}

start_node() {
    if [ "$POWERLOSS" = 1 ]; then
        TR_NODE_FAULT_LOG_SYNCED="$WORK/synced" TR_NODE_FAULT_LOG_SYNC_DELAY_MS=500 \
            "$BIN/tickraft-node" --config "$WORK/node.conf" --publish "$PUB" >>"$WORK/node.out" 2>&1 &
    else
        "$BIN/tickraft-node" --config "$WORK/node.conf" --publish "$PUB" >>"$WORK/node.out" 2>&1 &
    fi
    NODE_PID=$!
    log "node started pid $NODE_PID"
    wait_pub
}

SEEN_LOST=0
kill9_node() {
    kill -KILL "$NODE_PID" 2>/dev/null
    wait "$NODE_PID" 2>/dev/null
    log "node pid $NODE_PID killed with SIGKILL"
    NODE_PID=
    [ "$POWERLOSS" = 1 ] && power_loss
}

# Cuts the active segment back to what its last fsync made durable, as a
# machine crash would, and counts the trades the subscriber had shown
# that the node's log no longer holds.
power_loss() {
    local seg size have segs shown kept
    read -r seg size <"$WORK/synced" || { log "FAIL: no fsync noted"; FAIL=1; return; }
    segs=$(ls "$WORK/data"/*.seg | wc -l)
    [ "$(ls "$WORK/data"/*.seg | tail -1)" = "$seg" ] ||
        { log "FAIL: last fsync was not on the active segment ($segs segments)"; FAIL=1; return; }
    have=$(stat -c %s "$seg")
    shown=$(grep -c '"kind":"trade"' "$WORK/sub.jsonl")
    truncate -s "$size" "$seg"
    kept=$("$BIN/tickraft-ctl" log dump --dir "$WORK/data" --stream 'sim/trade/*' 2>/dev/null | wc -l)
    log "power loss: cut $((have - size)) written, not durable bytes; subscriber had shown $shown trades, the log keeps $kept"
    [ "$shown" -gt "$kept" ] && SEEN_LOST=$((SEEN_LOST + shown - kept))
}

committed() {
    "$BIN/tickraft-ctl" status --json --node "$PUB" --token e2e-admin 2>/dev/null |
        grep -o '"log.committed_lsn","value":"[0-9]*"' | grep -o '[0-9]*"$' | tr -d '"'
}

"$BIN/tickraft-sim" --port "$SIM_PORT" --seed 7 --dialect native --instruments 4 \
    --rate "$RATE" --history 3600 --control-port "$CTL_PORT" --truth "$WORK/truth.jsonl" >"$WORK/sim.log" 2>&1 &
SIM_PID=$!
log "sim started pid $SIM_PID (rate $RATE/s)"
sleep 1
start_node

"$BIN/tickraft-ctl" tail --earliest --json $TAIL_OPTS --node "$PUB" >"$WORK/sub.jsonl" 2>"$WORK/tail.err" &
TAIL_PID=$!
log "subscriber (tickraft-ctl tail $TAIL_OPTS) started pid $TAIL_PID"
sleep 3

log "fault: close 1006";                 ctl close code=1006; sleep 3
log "fault: recoverable gap";            ctl gap count=20; sleep 2
log "kill -9 #1";                        kill9_node; sleep 2; start_node; sleep 3
log "fault: duplicate frames";           ctl duplicate count=10; sleep 1
log "fault: unrecoverable gap";          ctl gap count=6 lost=1; sleep 2
log "kill -9 #2";                        kill9_node; sleep 3; start_node; sleep 3
log "settling"; sleep 3

UNTIL=$(( $(date +%s%N) - 2000000000 ))
kill -TERM "$SIM_PID"; wait "$SIM_PID" 2>/dev/null; log "sim stopped"; SIM_PID=
sleep 2
# the subscriber must catch up with everything the node committed
WANT=$(committed)
if [ "$POWERLOSS" = 1 ]; then
    # it holds deltas the node replaced by gaps: wait until it stops growing
    PREV=-1
    for _ in $(seq 1 30); do
        GOT=$(wc -l <"$WORK/sub.jsonl")
        [ "$GOT" = "$PREV" ] && [ "$GOT" -ge "${WANT:-0}" ] && break
        PREV=$GOT
        sleep 1
    done
    log "trades the subscriber had shown and the node lost (then collected again): $SEEN_LOST"
else
    for _ in $(seq 1 150); do
        GOT=$(wc -l <"$WORK/sub.jsonl")
        [ "$GOT" -ge "${WANT:-0}" ] && break
        sleep 0.2
    done
fi
log "node committed $WANT records, subscriber received $GOT"
kill -INT "$TAIL_PID"; wait "$TAIL_PID" 2>/dev/null; TAIL_PID=
log "subscriber: $(grep -c 'now following' "$WORK/tail.err") resumes; $(grep cursor: "$WORK/tail.err" | cut -c1-40)..."
kill -TERM "$NODE_PID"; wait "$NODE_PID" 2>/dev/null; NODE_PID=
if [ "$POWERLOSS" = 1 ]; then
    [ "${GOT:-0}" -ge "${WANT:-0}" ] || { log "FAIL: subscriber got $GOT of $WANT records"; FAIL=1; }
else
    [ "${GOT:-0}" = "${WANT:-x}" ] || { log "FAIL: subscriber got $GOT of $WANT records"; FAIL=1; }
fi

log "checking what the subscriber received against the truth"
if ! "$TESTS/tr-e2e-check" --truth "$WORK/truth.jsonl" --dump "$WORK/sub.jsonl" \
    --kinds trade,book --until "$UNTIL" --from-first 0 >"$WORK/check.json"; then
    FAIL=1
fi
tail -1 "$WORK/check.json"
[ "$FAIL" = 0 ] && log "PASS" || log "FAIL"
exit "$FAIL"
