#!/usr/bin/env bash
# End-to-end proof of the collection pipeline (docs/node.md, "Proof"):
# tickraft-sim (native dialect, several instruments) publishes at a modest
# rate with a truth file; tickraft-node collects trades and books; during
# the run the simulator injects provider faults and the node is killed with
# SIGKILL and restarted twice; at the end tr-e2e-check compares the node's
# log (and `tickraft-ctl log dump` when that command exists) with the truth:
# zero missing, zero duplicated, order by native sequence, trade gaps only
# where the truth marks unrecoverable events, book gaps always followed by
# their snapshot.
#
#   bash tests/e2e/e2e_pipeline.sh BIN_DIR TESTS_DIR [DIALECT]
# DIALECT: native (default) or binance (the exchange-wide-identity dialects
# the pipeline repairs end to end; see docs/node.md for the others).
# Env: E2E_RATE (events/s, default 400), E2E_KEEP=1 keeps the work dir,
#      E2E_LONG=1 runs every phase three times (the documented long run).
# Every process started here is stopped by pid; loopback only.
set -u
BIN=${1:?bin dir}
TESTS=${2:?tests dir}
DIALECT=${3:-native}
RATE=${E2E_RATE:-400}
FROM_FIRST=1 # live dialects: trade streams are checked from their first stored trade
KINDS=trade,book
case "$DIALECT" in native) FROM_FIRST=0 ;; coinbase|kalshi) KINDS=trade ;; esac
# (coinbase level2 and kalshi books have no exchange-wide sequence: the
# truth cannot place their deltas, so only trades are compared; the
# per-connection book rules are covered by the unit test)
case "$DIALECT" in
native) PROVIDER=sim; WS_PATH=/native; REST_PATH=/native
        INSTRUMENTS="SIM-0, SIM-1, SIM-2, SIM-3" ;;
binance) PROVIDER=binance; WS_PATH=/binance/ws; REST_PATH=/binance
        INSTRUMENTS="SIM0USDT, SIM1USDT, SIM2USDT, SIM3USDT" ;;
coinbase) PROVIDER=coinbase; WS_PATH=/coinbase; REST_PATH=/coinbase
        INSTRUMENTS="SIM0-USD, SIM1-USD, SIM2-USD, SIM3-USD" ;;
kalshi) PROVIDER=kalshi; WS_PATH=/kalshi/trade-api/ws/v2; REST_PATH=/kalshi
        INSTRUMENTS="KXSIM-26JAN01-T0, KXSIM-26JAN01-T1, KXSIM-26JAN01-T2, KXSIM-26JAN01-T3" ;;
*) echo "unknown dialect $DIALECT" >&2; exit 2 ;;
esac
WORK=$(mktemp -d /tmp/tr-e2e-pipeline.XXXXXX)
SIM_PID= NODE_PID=
FAIL=0

log() { printf '[e2e %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

cleanup() {
    [ -n "$NODE_PID" ] && kill -KILL "$NODE_PID" 2>/dev/null
    [ -n "$SIM_PID" ] && kill -TERM "$SIM_PID" 2>/dev/null
    [ -n "$SIM_PID" ] && wait "$SIM_PID" 2>/dev/null
    [ -n "$NODE_PID" ] && wait "$NODE_PID" 2>/dev/null
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

cat >"$WORK/node.conf" <<EOF
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
provider = $PROVIDER
ws_url = ws://127.0.0.1:$SIM_PORT$WS_PATH
rest_url = http://127.0.0.1:$SIM_PORT$REST_PATH
instruments = $INSTRUMENTS
channels = trades, book
ping_interval = 1s
ping_timeout = 3s
ws_backoff_base = 1s
ws_backoff_max = 4s
rest_backoff_base = 1s
rest_backoff_max = 4s
rotate_overlap = 1s
EOF

ctl() { "$BIN/tickraft-sim" ctl --port "$CTL_PORT" "$@" >>"$WORK/ctl.log" 2>&1 || log "ctl $* failed"; }

start_node() {
    "$BIN/tickraft-node" --config "$WORK/node.conf" --publish "tcp://127.0.0.1:$PUB_PORT" >>"$WORK/node.out" 2>&1 &
    NODE_PID=$!
    log "node started pid $NODE_PID"
    sleep 0.5
    if ! kill -0 "$NODE_PID" 2>/dev/null; then
        log "FAIL: node exited at startup"; tail -3 "$WORK/node.out"; FAIL=1; exit 1
    fi
}

kill9_node() {
    kill -KILL "$NODE_PID" 2>/dev/null
    wait "$NODE_PID" 2>/dev/null
    log "node pid $NODE_PID killed with SIGKILL"
    NODE_PID=
}

stop_node() {
    kill -TERM "$NODE_PID" 2>/dev/null
    wait "$NODE_PID"
    local rc=$?
    log "node pid $NODE_PID stopped with SIGTERM: exit $rc"
    NODE_PID=
    [ "$rc" = 0 ] || { log "FAIL: graceful stop exit code $rc"; FAIL=1; }
}

status() { cat "$WORK/data/status.json" 2>/dev/null | head -c 400; echo; }

"$BIN/tickraft-sim" --port "$SIM_PORT" --seed 42 --dialect "$DIALECT" --instruments 4 \
    --rate "$RATE" --history 3600 --control-port "$CTL_PORT" --truth "$WORK/truth.jsonl" >"$WORK/sim.log" 2>&1 &
SIM_PID=$!
log "sim ($DIALECT) started pid $SIM_PID on port $SIM_PORT (rate $RATE/s)"
sleep 1
start_node
sleep 3

phases() {
    log "fault: close 1000 (reconnect at once)";        ctl close code=1000; sleep 2
    log "fault: close 1001 (backoff)";                  ctl close code=1001; sleep 3
    log "fault: close 1011 (backoff)";                  ctl close code=1011; sleep 3
    log "fault: drop without close frame (1006)";       ctl close code=1006; sleep 3
    log "fault: recoverable gap (20 hidden events)";    ctl gap count=20; sleep 2
    log "fault: unrecoverable gap (6 lost events)";     ctl gap count=6 lost=1; sleep 2
    log "fault: duplicate frames";                      ctl duplicate count=10; sleep 1
    log "fault: malformed frames";                      ctl malformed count=5; sleep 1
    log "fault: unknown market on resubscribe";         ctl unknown_market count=1; ctl close code=1000; sleep 2
    log "kill -9 #1";                                   kill9_node; sleep 2; start_node; sleep 3
    log "fault: 429 storm during a gap backfill";       ctl http429 secs=3 retry_after=1; ctl gap count=10; sleep 5
    log "fault: 5xx during a gap backfill";             ctl http5xx secs=2 code=500; ctl gap count=10; sleep 4
    log "fault: stalled server (ping timeout)";         ctl stall secs=5; sleep 9
    log "fault: refused connections + drop";            ctl refuse secs=3; ctl close code=1006; sleep 7
    log "kill -9 #2";                                   kill9_node; sleep 3; start_node; sleep 3
    log "fault: maintenance (503) during a backfill";   ctl http429 secs=1 retry_after=1; ctl gap count=8; sleep 0.5
                                                        ctl maintenance secs=3; sleep 7
    log "fault: close 1008 (alert, backoff)";           ctl close code=1008; sleep 6
    log "make-before-break rotation (SIGUSR1)";         kill -USR1 "$NODE_PID"; sleep 2
    log "rotation during a gap";                        ctl gap count=10; kill -USR1 "$NODE_PID"; sleep 2
}
phases
if [ "${E2E_LONG:-0}" = 1 ]; then phases; phases; fi
log "settling"; sleep 4
status
# everything published up to 2 s before the stop must be in the log
UNTIL=$(( $(date +%s%N) - 2000000000 ))
stop_node
kill -TERM "$SIM_PID"; wait "$SIM_PID" 2>/dev/null; log "sim pid $SIM_PID stopped"; SIM_PID=

log "checking the node's log against the truth"
if ! "$TESTS/tr-e2e-check" --truth "$WORK/truth.jsonl" --dir "$WORK/data" --kinds "$KINDS" --until "$UNTIL" --from-first "$FROM_FIRST" \
    >"$WORK/check.json"; then
    FAIL=1
fi
cat "$WORK/check.json"
if "$BIN/tickraft-ctl" log --help >/dev/null 2>&1; then
    "$BIN/tickraft-ctl" log dump --dir "$WORK/data" >"$WORK/dump.jsonl" 2>"$WORK/dump.err"
    if ! "$TESTS/tr-e2e-check" --truth "$WORK/truth.jsonl" --dump "$WORK/dump.jsonl" \
        --kinds "$KINDS" --until "$UNTIL" --from-first "$FROM_FIRST" | tail -1; then
        log "FAIL: tickraft-ctl log dump disagrees with the truth"
        FAIL=1
    fi
else
    log "tickraft-ctl log dump not available: checked the log directly"
fi
grep -c "level=error" "$WORK/node.log" | xargs -I{} echo "[e2e] node error lines: {}"
grep -o 'msg=[a-z":, -]*' "$WORK/node.log" | sort | uniq -c | sort -rn | head -20
[ "$FAIL" = 0 ] && log "PASS" || log "FAIL"
exit "$FAIL"
