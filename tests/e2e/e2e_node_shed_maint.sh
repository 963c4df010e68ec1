#!/usr/bin/env bash
# Subscription-limit shedding and maintenance in a real dialect (docs/node.md
# "Subscription limits", "Exchange maintenance"). A limit refusal there
# names no market: tickraft-sim's binance dialect answers a SUBSCRIBE past
# the limit with {"error":{"code":2,"msg":"...subscription limit exceeded"}}
# (the streams before the limit stay subscribed), its coinbase dialect with
# {"type":"error","message":"Failed to subscribe",...} and subscribes
# nothing of the request; the node sheds the last market asked for and asks
# again for the rest. With a limit of 2 markets per
# connection and max_connections = 2, the third market asked for is shed,
# moves to an overflow connection and collects there; the others keep
# collecting on the primary. Then a 2 s maintenance (Binance's status
# announces no resume time): no WebSocket attempt, primary or overflow,
# until the status says open, then both reconnect and collect. Then SIGTERM
# and tr-e2e-check (trades and books, from each stream's first trade):
# zero missing, zero duplicated (the outage backfilled).
#
#   bash tests/e2e/e2e_node_shed_maint.sh BIN_DIR TESTS_DIR binance|coinbase
set -u
BIN=${1:?bin dir}
TESTS=${2:?tests dir}
DIALECT=${3:-binance}
E2E_NAME=shed-$DIALECT
case "$DIALECT" in
binance) WS=/binance/ws; M0=SIM0USDT; M1=SIM1USDT; M2=SIM2USDT; KINDS=trade,book
         RESUME='resume_ns=0 next_poll_ms=1000' ;; # (Binance's status has no resume time)
coinbase) WS=/coinbase; M0=SIM0-USD; M1=SIM1-USD; M2=SIM2-USD; KINDS=trade # (level2: no exchange-wide seq)
         RESUME='resume_ns=[1-9][0-9]+ next_poll_ms=1000' ;;
kalshi) WS=/kalshi/trade-api/ws/v2; M0=KXSIM-26JAN01-T0; M1=KXSIM-26JAN01-T1; M2=KXSIM-26JAN01-T2
         KINDS=trade; RESUME='resume_ns=[1-9][0-9]+ next_poll_ms=1000' ;;
*) echo "unknown dialect $DIALECT" >&2; exit 2 ;;
esac
. "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
SIM_PORT=$(pick_port); CTL_PORT=$(pick_port); HTTP_PORT=$(pick_port)
printf '%s\n' "[node]" "id = 10" "data_dir = $WORK/data" "[log]" "level = info" \
    "file = $WORK/node.log" "rate_burst = 0" "[http]" "listen = 127.0.0.1:$HTTP_PORT" \
    "[storage]" "sync = group" "group_commit_ms = 2" "[feed bn]" "provider = $DIALECT" \
    "ws_url = ws://127.0.0.1:$SIM_PORT$WS" "rest_url = http://127.0.0.1:$SIM_PORT/$DIALECT" \
    "instruments = $M0, $M1, $M2" "channels = trades, book" \
    "ping_interval = 1s" "ping_timeout = 3s" "ws_backoff_max = 2s" "rest_backoff_max = 2s" \
    "max_connections = 2" "maintenance_poll = 1s" >"$WORK/node.conf"
# the limit is on before the node connects: its first SUBSCRIBE hits it
"$BIN/tickraft-sim" --port "$SIM_PORT" --control-port "$CTL_PORT" --seed 17 --dialect "$DIALECT" \
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
check "the limit refusal alerted" grep -q "msg=\"alert: subscription limit, shedding\" feed=bn instrument=$M2" "$WORK/node.log"
check "$M2 moved to a new connection" \
    grep -q "msg=\"shed markets moved to a new connection\" feed=bn slot=2 markets=1 first=$M2" "$WORK/node.log"
check "$M2 subscribed there" grep -q "msg=\"shed market subscribed again\" feed=bn instrument=$M2 slot=2" "$WORK/node.log"
curl -sf "http://127.0.0.1:$HTTP_PORT/api/status" >"$WORK/st.json"
check "status: two connections, nothing left shed" grep -q '"connections":2,"max_connections":2,"shed_total":1,"resubscribed":1,"shed":\[\]' "$WORK/st.json"
check "the rest of the refused request asked again" \
    grep -q 'msg="limit refusal named no market: asking again for the rest" feed=bn slot=0 markets=2' "$WORK/node.log"
a0=$(last_seq $DIALECT/trade/$M0); a1=$(last_seq $DIALECT/trade/$M1); a2=$(last_seq $DIALECT/trade/$M2); sleep 1.5
b0=$(last_seq $DIALECT/trade/$M0); b1=$(last_seq $DIALECT/trade/$M1); b2=$(last_seq $DIALECT/trade/$M2)
check "$M0 collects on the primary ($a0 -> $b0)" test "${b0:-0}" -gt "${a0:-0}"
check "$M1 collects on the primary ($a1 -> $b1)" test "${b1:-0}" -gt "${a1:-0}"
check "$M2 collects on the overflow connection ($a2 -> $b2)" test "${b2:-0}" -gt "${a2:-0}"

log "fault: maintenance for 2 s"
refused() { curl -sf "http://127.0.0.1:$SIM_PORT/stats" | grep -o '"ws_refused":[0-9]*' | cut -d: -f2; }
r0=$(refused)
"$BIN/tickraft-sim" ctl --port "$CTL_PORT" maintenance secs=2 >>"$WORK/ctl.log" 2>&1
for _ in $(seq 1 60); do grep -q 'msg="exchange open again"' "$WORK/node.log" && break; sleep 0.1; done
sleep 1.5
r1=$(refused)
check "maintenance seen ($RESUME)" \
    grep -Eq "msg=\"exchange in maintenance\" feed=bn $RESUME ws_held=true" "$WORK/node.log"
check "no WebSocket attempt during it, primary or overflow (simulator refused $r0 -> $r1)" test "$r1" = "$r0"
curl -sf "http://127.0.0.1:$HTTP_PORT/api/status" >"$WORK/st2.json"
check "both connections back, nothing shed" grep -q '"connections":2,"max_connections":2,"shed_total":1,"resubscribed":1,"shed":\[\]' "$WORK/st2.json"
a0=$(last_seq $DIALECT/trade/$M0); a2=$(last_seq $DIALECT/trade/$M2); sleep 1.5
b0=$(last_seq $DIALECT/trade/$M0); b2=$(last_seq $DIALECT/trade/$M2)
check "$M0 collects again ($a0 -> $b0)" test "${b0:-0}" -gt "${a0:-0}"
check "$M2 collects again on the overflow connection ($a2 -> $b2)" test "${b2:-0}" -gt "${a2:-0}"
until=$(( $(date +%s%N) - 2000000000 ))
kill -TERM "$NODE_PID"; wait "$NODE_PID"; rc=$?; NODE_PID=
check "graceful stop exit 0 (was $rc)" test "$rc" = 0
kill -TERM "$SIM_PID"; wait "$SIM_PID" 2>/dev/null; SIM_PID=
if "$TESTS/tr-e2e-check" --truth "$WORK/truth.jsonl" --dir "$WORK/data" --kinds "$KINDS" \
    --until "$until" --from-first 1 >"$WORK/check.json"; then
    log "ok: zero missing, zero duplicated, in order"
else
    log "FAIL: the log disagrees with the truth"; FAIL=1
fi
tail -1 "$WORK/check.json"
[ "$FAIL" = 0 ] && log PASS || log FAIL
exit "$FAIL"
