#!/usr/bin/env bash
# The node's operator commands against tickraft-sim, checked with the
# simulator's truth file (docs/node.md "Operator commands"):
#   feeds pause / resume: pause the feed, let the simulator run, resume;
#   the node's log then has no hole and no duplicate (trades backfilled
#   over REST from the last stored id, books resynced from a snapshot).
#   backfill jobs: a REST 401 turns a trade hole into a gap event ("backfill
#   failed") and halts the feed's REST (a job then fails); after a restart
#   a job (through a 5xx storm) recovers the hole into the stream's fill
#   stream, a job over 6 trades lost everywhere recovers nothing, a second
#   job finds nothing left; tr-e2e-check merges the fill streams.
# Every process started here is stopped by pid; loopback only.
#
#   bash tests/e2e/e2e_node_admin.sh BIN_DIR TESTS_DIR
set -u
BIN=${1:?bin dir}
TESTS=${2:?tests dir}
E2E_NAME=admin
. "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
SIM_PORT=$(pick_port); CTL_PORT=$(pick_port); PUB_PORT=$(pick_port); HTTP_PORT=$(pick_port)
PUB=tcp://127.0.0.1:$PUB_PORT
cat >"$WORK/node.conf" <<CONF
[node]
id = 3
data_dir = $WORK/data
[log]
level = info
file = $WORK/node.log
rate_burst = 0
[http]
listen = 127.0.0.1:$HTTP_PORT
[feed sim]
provider = sim
ws_url = ws://127.0.0.1:$SIM_PORT/native
rest_url = http://127.0.0.1:$SIM_PORT/native
instruments = SIM-0, SIM-1, SIM-2
channels = trades, book
ping_interval = 1s
ping_timeout = 3s
ws_backoff_base = 1s
ws_backoff_max = 2s
rest_backoff_base = 1s
rest_backoff_max = 2s
CONF
simctl() { "$BIN/tickraft-sim" ctl --port "$CTL_PORT" "$@" >>"$WORK/simctl.log" 2>&1 || log "sim ctl $* failed"; }
ctl() { "$BIN/tickraft-ctl" "$@" --node "$PUB" --token e2e-admin; }
status() { cat "$WORK/data/status.json" 2>/dev/null; }

"$BIN/tickraft-sim" --port "$SIM_PORT" --control-port "$CTL_PORT" --seed 7 --dialect native \
    --instruments 3 --rate 300 --history 3600 --truth "$WORK/truth.jsonl" >"$WORK/sim.log" 2>&1 &
SIM_PID=$!
sleep 0.5
TICKRAFT_ADMIN_TOKEN=e2e-admin "$BIN/tickraft-node" --config "$WORK/node.conf" --publish "$PUB" \
    >"$WORK/node.out" 2>&1 &
NODE_PID=$!
log "sim pid $SIM_PID, node pid $NODE_PID"
sleep 3

# ---- feeds pause / resume ----
check "feeds lists the feed collecting" bash -c "$(declare -f ctl); BIN='$BIN' PUB='$PUB'; ctl feeds | grep -q 'collecting'"
check "an unknown feed is refused (exit 1)" bash -c "'$BIN/tickraft-ctl' feeds pause nosuch --node $PUB --token e2e-admin; [ \$? = 1 ]"
check "pause answers paused" bash -c "'$BIN/tickraft-ctl' feeds pause sim --node $PUB --token e2e-admin | grep -q paused"
check "feeds list shows paused" bash -c "'$BIN/tickraft-ctl' feeds --node $PUB --token e2e-admin | grep -q paused"
sleep 1.2
check "/api/status shows paused" grep -q '"name":"sim","provider":"sim","state":"paused","paused":1,"connected":0' "$WORK/data/status.json"
check "metrics show paused" bash -c "curl -s http://127.0.0.1:$HTTP_PORT/metrics | grep -q 'tickraft_feed_paused{feed=\"sim\"} 1'"
W1=$(status | grep -o '"events":[0-9]*' | head -1)
log "paused; the simulator runs on for 4 s ($W1)"
simctl gap count=5   # the hole grows while paused; nothing arrives anyway
sleep 4
W2=$(status | grep -o '"events":[0-9]*' | head -1)
check "nothing received while paused" test "$W1" = "$W2"
check "resume answers collecting" bash -c "'$BIN/tickraft-ctl' feeds resume sim --node $PUB --token e2e-admin | grep -q collecting"
check "resume twice says not paused" bash -c "'$BIN/tickraft-ctl' feeds resume sim --node $PUB --token e2e-admin | grep -q 'not paused'"
sleep 4
check "collecting again" bash -c "'$BIN/tickraft-ctl' feeds --node $PUB --token e2e-admin | grep -q collecting"
check "the node logged pause and resume" grep -q 'msg="feed resumed by operator"' "$WORK/node.log"

# ---- backfill jobs ----
log "fault: 6 SIM-1 trades lost everywhere; then REST 401 while SIM-0 trades have a hole"
simctl gap count=6 lost=1 instrument=SIM-1 kind=trade; sleep 2
simctl auth secs=3 code=401; simctl gap count=15 instrument=SIM-0 kind=trade; sleep 4
check "REST halted on the 401" grep -q 'msg="alert: authentication failure, REST halted"' "$WORK/node.log"
check "SIM-0's hole is an explicit gap event" grep -q '"key":"sim/trade/SIM-0","last_seq":[0-9]*,"state":"live","written":[0-9]*,"dups":[0-9]*,"gaps":[1-9][0-9]*,"gaps_filled":[0-9]*,"gaps_unfilled":[1-9]' "$WORK/data/status.json"
check "a job fails while the feed's REST is halted (exit 1)" bash -c \
    "'$BIN/tickraft-ctl' backfill sim/trade/SIM-0 --from 1 --to 100000000 --wait --node $PUB --token e2e-admin >'$WORK/bf0.txt'; [ \$? = 1 ] && grep -q failed '$WORK/bf0.txt'"
log "restart the node (REST halts until an operator restarts it)"
kill -TERM "$NODE_PID"; wait "$NODE_PID"; RC=$?; NODE_PID=
check "graceful stop exit 0" test "$RC" = 0
TICKRAFT_ADMIN_TOKEN=e2e-admin "$BIN/tickraft-node" --config "$WORK/node.conf" --publish "$PUB" \
    >>"$WORK/node.out" 2>&1 &
NODE_PID=$!
log "node restarted pid $NODE_PID"
sleep 3
log "a 5xx storm during the backfill job: the job waits it out"
simctl http5xx secs=3 code=500
check "backfill SIM-0 fills the hole (exit 0)" bash -c \
    "'$BIN/tickraft-ctl' backfill sim/trade/SIM-0 --from 1 --to 100000000 --wait --node $PUB --token e2e-admin >'$WORK/bf1.txt'"
cat "$WORK/bf1.txt"
check "  ... recovered the 15 trades" grep -q 'done .*15 recovered' "$WORK/bf1.txt"
check "backfill SIM-1 by time finds the lost trades not in history" bash -c \
    "'$BIN/tickraft-ctl' backfill sim/trade/SIM-1 --by time --from 0 --to $(( $(date +%s) + 60 ))000000000 --wait --node $PUB --token e2e-admin >'$WORK/bf2.txt' && grep -q '0 recovered.* 6 not in provider history' '$WORK/bf2.txt'"
cat "$WORK/bf2.txt"
check "a second SIM-0 job finds nothing left to fill" bash -c \
    "'$BIN/tickraft-ctl' backfill sim/trade/SIM-0 --from 1 --to 100000000 --wait --node $PUB --token e2e-admin | grep -q 'done: 0 holes'"
contiguous() { # csv: the trade rows' seqs go up by one from the first
    awk -F, 'NR > 1 && $4 == "trade" { if (prev && $2 != prev + 1) bad = 1; prev = $2 } END { exit (bad || !prev) }' "$1"
}
"$BIN/tickraft-ctl" query sim/trade/SIM-0 --format csv --node "$PUB" --token e2e-admin >"$WORK/q0.csv" 2>/dev/null
"$BIN/tickraft-ctl" query sim/trade/SIM-0 --with-fills --format csv --node "$PUB" --token e2e-admin >"$WORK/q1.csv" 2>/dev/null
check "query shows SIM-0's hole in the canonical stream" bash -c "$(declare -f contiguous); ! contiguous '$WORK/q0.csv'"
check "query --with-fills gives SIM-0's trades without a hole" bash -c "$(declare -f contiguous); contiguous '$WORK/q1.csv'"
check "backfill status JOB answers the finished job" bash -c \
    "'$BIN/tickraft-ctl' backfill status bf-1 --node $PUB --token e2e-admin | grep -q 'bf-1 .*done'"
check "an unknown job is refused (exit 1)" bash -c \
    "'$BIN/tickraft-ctl' backfill status bf-99 --node $PUB --token e2e-admin >/dev/null 2>&1; [ \$? = 1 ]"
check "book streams are refused (exit 1)" bash -c \
    "'$BIN/tickraft-ctl' backfill sim/book/SIM-0 --from 1 --to 2 --node $PUB --token e2e-admin 2>&1 | grep -q 'only trade streams'"
check "an unknown stream is refused (exit 1)" bash -c \
    "'$BIN/tickraft-ctl' backfill --node $PUB --token e2e-admin nosuch --from 1 --to 2 >/dev/null 2>&1; [ \$? = 1 ]"

stop_and_check_truth
[ "$FAIL" = 0 ] && log "PASS" || log "FAIL"
exit "$FAIL"
