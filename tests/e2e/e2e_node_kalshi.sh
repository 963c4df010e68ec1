#!/usr/bin/env bash
# Kalshi specifics against tickraft-sim's kalshi dialect (docs/node.md
# "REST", "Kalshi trade losses"):
#   1. the market registry pages the market list with Kalshi's cursor: the
#      simulator serves at most 2 markets a page (--markets-page 2), 5
#      markets listed, so 3 pages, none missing;
#   2. a 2 s maintenance with Kalshi's announced resume time: no WebSocket
#      attempt until the status says open (the outage backfilled);
#   3. a trade gap the exchange lost for good (`gap kind=trade lost=1`):
#      the trade subscription's seq jumps, the node resubscribes and
#      backfills by time, REST cannot bring the lost trades back, and the
#      connection's trade streams get an explicit gap event;
#   4. a skip during a rotation's overlap is no loss: SIGUSR1 opens the
#      make-before-break successor; once both connections are subscribed
#      one trade message is malformed on one of them (`malformed count=1`:
#      the next data message, on whichever connection gets it first), so
#      that connection's trade seq skips one while the other delivers the
#      trade; the skip is logged as not counted, and a second rotation's
#      repairs (which compare the trades missed with what they wrote) write
#      no gap event for it (before, the skip stayed counted for the
#      connection group and that repair, writing nothing new on quiet
#      markets, "proved" a loss: a gap event for a trade that was stored);
# then SIGTERM and tr-e2e-check on trades: zero missing, zero duplicated,
# every lost trade's stream carrying a gap event.
#
#   bash tests/e2e/e2e_node_kalshi.sh BIN_DIR TESTS_DIR
set -u
BIN=${1:?bin dir}
TESTS=${2:?tests dir}
E2E_NAME=kalshi
. "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
SIM_PORT=$(pick_port); CTL_PORT=$(pick_port); HTTP_PORT=$(pick_port)
I=KXSIM-26JAN01-T
printf '%s\n' "[node]" "id = 9" "data_dir = $WORK/data" "[log]" "level = info" \
    "file = $WORK/node.log" "rate_burst = 0" "[http]" "listen = 127.0.0.1:$HTTP_PORT" \
    "[storage]" "sync = group" "group_commit_ms = 2" "[feed kx]" "provider = kalshi" \
    "ws_url = ws://127.0.0.1:$SIM_PORT/kalshi/trade-api/ws/v2" \
    "rest_url = http://127.0.0.1:$SIM_PORT/kalshi" \
    "instruments = ${I}0, ${I}1, ${I}2, ${I}3, ${I}4" "channels = trades" "rotate_overlap = 3s" \
    "ping_interval = 1s" "ping_timeout = 3s" "ws_backoff_max = 2s" "rest_backoff_max = 2s" \
    >"$WORK/node.conf"
"$BIN/tickraft-sim" --port "$SIM_PORT" --control-port "$CTL_PORT" --seed 31 --dialect kalshi \
    --instruments 5 --rate 100 --history 3600 --markets-page 2 --truth "$WORK/truth.jsonl" \
    >"$WORK/sim.log" 2>&1 &
SIM_PID=$!
sleep 0.5
ctl() { "$BIN/tickraft-sim" ctl --port "$CTL_PORT" "$@" >>"$WORK/ctl.log" 2>&1 || log "ctl $* failed"; }
status() { curl -sf "http://127.0.0.1:$HTTP_PORT/api/status"; }
"$BIN/tickraft-node" --config "$WORK/node.conf" --publish off >"$WORK/node.out" 2>&1 &
NODE_PID=$!
log "sim pid $SIM_PID, node pid $NODE_PID"
for _ in $(seq 1 50); do status | grep -q '"state":"collecting"' && break; sleep 0.1; done
sleep 2
status >"$WORK/st1.json"
check "registry: 5 markets listed over 3 pages, none missing" \
    grep -q '"markets_listed":5,"markets_missing":0,"registry_refreshes":1,"registry_pages":3' "$WORK/st1.json"
check "registry log line" grep -q 'msg="market list read" feed=kx listed=5 pages=3 missing=0' "$WORK/node.log"

log "fault: kalshi maintenance for 2 s (exchange_estimated_resume_time announced)"
refused() { curl -sf "http://127.0.0.1:$SIM_PORT/stats" | grep -o '"ws_refused":[0-9]*' | cut -d: -f2; }
r0=$(refused)
ctl maintenance secs=2
for _ in $(seq 1 60); do grep -q 'msg="exchange open again"' "$WORK/node.log" && break; sleep 0.1; done
sleep 1.5
r1=$(refused)
check "maintenance seen with Kalshi's resume time" \
    grep -Eq 'msg="exchange in maintenance" feed=kx resume_ns=[1-9][0-9]+ next_poll_ms=2[0-9]{3} ws_held=true' "$WORK/node.log"
check "no WebSocket attempt during it (simulator refused $r0 -> $r1)" test "$r1" = "$r0"
check "collecting again" bash -c "curl -sf http://127.0.0.1:$HTTP_PORT/api/status | grep -q '\"state\":\"collecting\"'"

log "fault: 12 trades lost for good (not in REST history)"
ctl gap count=12 kind=trade lost=1
sleep 4
check "the subscription's seq jump was seen" grep -q 'msg="subscription sequence gap: resubscribing"' "$WORK/node.log"
check "the loss was proved and written as gap events" \
    grep -Eq 'msg="unrecoverable trade loss: gap events" feed=kx group=0 missed=12 written=[0-9]+ lost_at_least=[1-9]' "$WORK/node.log"
log "rotation: one trade message malformed on one connection during the overlap"
subs() { grep -c 'msg=subscribed feed=kx' "$WORK/node.log"; }
n0=$(subs)
kill -USR1 "$NODE_PID"
for _ in $(seq 1 50); do [ "$(subs)" -gt "$n0" ] && break; sleep 0.1; done
check "the rotation's new connection subscribed" test "$(subs)" -gt "$n0"
ctl malformed count=1
skipped='msg="trade messages skipped during a rotation: the other connection delivers them, not counted" feed=kx'
for _ in $(seq 1 30); do grep -q "$skipped" "$WORK/node.log" && break; sleep 0.1; done
check "the skip during the overlap was seen and not counted as missed" \
    grep -Eq "$skipped slot=[01] skipped=1" "$WORK/node.log"
sleep 3.5 # the overlap's end (rotate_overlap = 3s), if the rotation went on
log "a second rotation: its repairs compare what they write with the trades missed"
n1=$(subs)
kill -USR1 "$NODE_PID"
for _ in $(seq 1 50); do [ "$(subs)" -gt "$n1" ] && break; sleep 0.1; done
check "the second rotation's new connection subscribed" test "$(subs)" -gt "$n1"
sleep 1 # its repairs (one REST page per market) are done
check "no gap event claimed for the skip: one unrecoverable loss in the log (step 3's)" \
    test "$(grep -c 'msg="unrecoverable trade loss: gap events"' "$WORK/node.log")" = 1
# stop_and_check_truth checks trade and book; Kalshi books have no
# exchange-wide sequence: check trades only, as e2e_pipeline.sh does
until=$(( $(date +%s%N) - 2000000000 ))
kill -TERM "$NODE_PID"; wait "$NODE_PID"; rc=$?; NODE_PID=
check "graceful stop exit 0 (was $rc)" test "$rc" = 0
kill -TERM "$SIM_PID"; wait "$SIM_PID" 2>/dev/null; SIM_PID=
if "$TESTS/tr-e2e-check" --truth "$WORK/truth.jsonl" --dir "$WORK/data" --kinds trade \
    --until "$until" --from-first 1 --id-gaps 1 >"$WORK/check.json"; then
    log "ok: zero missing, zero duplicated, lost trades explained by gap events"
else
    log "FAIL: the log disagrees with the truth"; FAIL=1
fi
tail -1 "$WORK/check.json"
check "only step 3's gap events: one in each of the 5 trade streams" grep -q '"gaps":5,' "$WORK/check.json"
check "the truth does mark lost trades" grep -q '"unrecoverable"' "$WORK/truth.jsonl"
"$BIN/tickraft-ctl" log dump --dir "$WORK/data" >"$WORK/dump.jsonl" 2>/dev/null
check "gap events in the trade streams" grep -q '"kind":"gap".*"reason":"trades lost: >= ' "$WORK/dump.jsonl"
[ "$FAIL" = 0 ] && log PASS || log FAIL
exit "$FAIL"
