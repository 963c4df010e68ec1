#!/usr/bin/env bash
# Subscription-limit shedding in a real dialect (docs/node.md "Subscription
# limits"): tickraft-sim's binance dialect refuses a SUBSCRIBE past the
# limit with {"error":{"code":2,"msg":"...subscription limit exceeded"}},
# a refusal that names no market and fails the rest of the request (the
# streams before the limit stay subscribed). With a limit of 2 markets per
# connection and max_connections = 2, the third market asked for is shed,
# moves to an overflow connection and collects there; the others keep
# collecting on the primary. Then a 2 s maintenance (Binance's status
# announces no resume time): no WebSocket attempt, primary or overflow,
# until the status says open, then both reconnect and collect. Then SIGTERM
# and tr-e2e-check (trades and books, from each stream's first trade):
# zero missing, zero duplicated (the outage backfilled).
#
#   bash tests/e2e/e2e_node_shed_binance.sh BIN_DIR TESTS_DIR
set -u
BIN=${1:?bin dir}
TESTS=${2:?tests dir}
E2E_NAME=shedbn
. "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
SIM_PORT=$(pick_port); CTL_PORT=$(pick_port); HTTP_PORT=$(pick_port)
printf '%s\n' "[node]" "id = 10" "data_dir = $WORK/data" "[log]" "level = info" \
    "file = $WORK/node.log" "rate_burst = 0" "[http]" "listen = 127.0.0.1:$HTTP_PORT" \
    "[storage]" "sync = group" "group_commit_ms = 2" "[feed bn]" "provider = binance" \
    "ws_url = ws://127.0.0.1:$SIM_PORT/binance/ws" "rest_url = http://127.0.0.1:$SIM_PORT/binance" \
    "instruments = SIM0USDT, SIM1USDT, SIM2USDT" "channels = trades, book" \
    "ping_interval = 1s" "ping_timeout = 3s" "ws_backoff_max = 2s" "rest_backoff_max = 2s" \
    "max_connections = 2" "maintenance_poll = 1s" >"$WORK/node.conf"
# the limit is on before the node connects: its first SUBSCRIBE hits it
"$BIN/tickraft-sim" --port "$SIM_PORT" --control-port "$CTL_PORT" --seed 17 --dialect binance \
    --instruments 3 --rate 300 --history 3600 --max-subs 2 --truth "$WORK/truth.jsonl" \
    >"$WORK/sim.log" 2>&1 &
SIM_PID=$!
sleep 0.5
last_seq() { curl -sf "http://127.0.0.1:$HTTP_PORT/api/status" 2>/dev/null |
    grep -oE "\"key\":\"$1\",\"last_seq\":[0-9]+" | grep -oE '[0-9]+$'; }
"$BIN/tickraft-node" --config "$WORK/node.conf" --publish off >"$WORK/node.out" 2>&1 &
NODE_PID=$!
log "sim pid $SIM_PID, node pid $NODE_PID"
sleep 3
check "the limit refusal alerted" grep -q 'msg="alert: subscription limit, shedding" feed=bn instrument=SIM2USDT' "$WORK/node.log"
check "SIM2USDT moved to a new connection" \
    grep -q 'msg="shed markets moved to a new connection" feed=bn slot=2 markets=1 first=SIM2USDT' "$WORK/node.log"
check "SIM2USDT subscribed there" grep -q 'msg="shed market subscribed again" feed=bn instrument=SIM2USDT slot=2' "$WORK/node.log"
curl -sf "http://127.0.0.1:$HTTP_PORT/api/status" >"$WORK/st.json"
check "status: two connections, nothing left shed" grep -q '"connections":2,"max_connections":2,"shed_total":1,"resubscribed":1,"shed":\[\]' "$WORK/st.json"
a0=$(last_seq binance/trade/SIM0USDT); a2=$(last_seq binance/trade/SIM2USDT); sleep 1.5
b0=$(last_seq binance/trade/SIM0USDT); b2=$(last_seq binance/trade/SIM2USDT)
check "SIM0USDT collects on the primary ($a0 -> $b0)" test "${b0:-0}" -gt "${a0:-0}"
check "SIM2USDT collects on the overflow connection ($a2 -> $b2)" test "${b2:-0}" -gt "${a2:-0}"

log "fault: binance maintenance for 2 s (its status has no resume time: polled every maintenance_poll)"
refused() { curl -sf "http://127.0.0.1:$SIM_PORT/stats" | grep -o '"ws_refused":[0-9]*' | cut -d: -f2; }
r0=$(refused)
"$BIN/tickraft-sim" ctl --port "$CTL_PORT" maintenance secs=2 >>"$WORK/ctl.log" 2>&1
for _ in $(seq 1 60); do grep -q 'msg="exchange open again"' "$WORK/node.log" && break; sleep 0.1; done
sleep 1.5
r1=$(refused)
check "maintenance without a time: polled every maintenance_poll" \
    grep -q 'msg="exchange in maintenance" feed=bn resume_ns=0 next_poll_ms=1000 ws_held=true' "$WORK/node.log"
check "no WebSocket attempt during it, primary or overflow (simulator refused $r0 -> $r1)" test "$r1" = "$r0"
curl -sf "http://127.0.0.1:$HTTP_PORT/api/status" >"$WORK/st2.json"
check "both connections back, nothing shed" grep -q '"connections":2,"max_connections":2,"shed_total":1,"resubscribed":1,"shed":\[\]' "$WORK/st2.json"
a0=$(last_seq binance/trade/SIM0USDT); a2=$(last_seq binance/trade/SIM2USDT); sleep 1.5
b0=$(last_seq binance/trade/SIM0USDT); b2=$(last_seq binance/trade/SIM2USDT)
check "SIM0USDT collects again ($a0 -> $b0)" test "${b0:-0}" -gt "${a0:-0}"
check "SIM2USDT collects again on the overflow connection ($a2 -> $b2)" test "${b2:-0}" -gt "${a2:-0}"
until=$(( $(date +%s%N) - 2000000000 ))
kill -TERM "$NODE_PID"; wait "$NODE_PID"; rc=$?; NODE_PID=
check "graceful stop exit 0 (was $rc)" test "$rc" = 0
kill -TERM "$SIM_PID"; wait "$SIM_PID" 2>/dev/null; SIM_PID=
if "$TESTS/tr-e2e-check" --truth "$WORK/truth.jsonl" --dir "$WORK/data" --kinds trade,book \
    --until "$until" --from-first 1 >"$WORK/check.json"; then
    log "ok: zero missing, zero duplicated, in order"
else
    log "FAIL: the log disagrees with the truth"; FAIL=1
fi
tail -1 "$WORK/check.json"
[ "$FAIL" = 0 ] && log PASS || log FAIL
exit "$FAIL"
