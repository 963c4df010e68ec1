#!/usr/bin/env bash
# The collector's loop actors under injected faults (docs/node.md "Shape: a
# supervision tree"): two feeds on one simulator ("fa": SIM-0/1, "fb":
# SIM-2/3). Feed fa's connection actor fails 3 s after it started
# ($TR_NODE_FAULT_CONN_CRASH_MS, $TR_NODE_FAULT_FEED=fa). At 4 s the
# simulator drops 20 SIM-0 trades from the stream (a gap: a backfill is
# due) and answers REST with 500 for 4 s, so the repair stays outstanding;
# fa's REST poller actor fails at the first moment after 5 s that it has a
# request ($TR_NODE_FAULT_POLLER_CRASH_MS), so its restart must queue that
# repair again from the deduplicator's streams. Only those two
# restart: the collector keeps its one incarnation, feed fb never
# reconnects and keeps delivering through both, /api/status counts one
# restart for conn-fa and for poll-fa and none for the others, /metrics
# has actor restarts by name, and the truth check finds zero missing, zero
# duplicated, nothing out of order (fa's hole is repaired as after any
# reconnect: trades backfilled, books resynced). Then (second run) a broken
# invariant of the deduplicator restarts the collector and with it every
# loop actor, no loss; and (third run) the escalation of the loop
# supervisor restarts the collector.
#
#   bash tests/e2e/e2e_node_loop_actors.sh BIN_DIR TESTS_DIR
set -u
BIN=${1:?bin dir}
TESTS=${2:?tests dir}
E2E_NAME=loopactors
. "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
SIM_PORT=$(pick_port); CTL_PORT=$(pick_port); HTTP_PORT=$(pick_port)
feed() { # name, instruments
    printf '%s\n' "[feed $1]" "provider = sim" \
        "ws_url = ws://127.0.0.1:$SIM_PORT/native" "rest_url = http://127.0.0.1:$SIM_PORT/native" \
        "instruments = $2" "channels = trades, book" \
        "ping_interval = 1s" "ping_timeout = 3s" "ws_backoff_max = 2s" "rest_backoff_max = 2s"
}
{
    printf '%s\n' "[node]" "id = 4" "data_dir = $WORK/data" "[log]" "level = info" \
        "file = $WORK/node.log" "rate_burst = 0" "[http]" "listen = 127.0.0.1:$HTTP_PORT" \
        "[storage]" "sync = group" "group_commit_ms = 2"
    feed fa "SIM-0, SIM-1"
    feed fb "SIM-2, SIM-3"
} >"$WORK/node.conf"
"$BIN/tickraft-sim" --port "$SIM_PORT" --control-port "$CTL_PORT" --seed 12 --dialect native \
    --instruments 4 --rate 1000 --history 3600 --truth "$WORK/truth.jsonl" \
    >"$WORK/sim.log" 2>&1 &
SIM_PID=$!
sleep 0.5
TR_NODE_FAULT_CONN_CRASH_MS=3000 TR_NODE_FAULT_POLLER_CRASH_MS=5000 TR_NODE_FAULT_FEED=fa \
    "$BIN/tickraft-node" --config "$WORK/node.conf" --publish off >"$WORK/node.out" 2>&1 &
NODE_PID=$!
log "sim pid $SIM_PID, node pid $NODE_PID"
# fb's trades written, sampled every 0.5 s: it must grow through fa's faults
fb_written() {
    curl -sf "http://127.0.0.1:$HTTP_PORT/api/status" 2>/dev/null |
        grep -o '"key":"sim/trade/SIM-2","last_seq":[0-9]*' | grep -o '[0-9]*$'
}
: >"$WORK/fb.txt"
for i in $(seq 1 20); do
    if [ "$i" = 8 ]; then
        "$BIN/tickraft-sim" ctl --port "$CTL_PORT" gap count=20 instrument=SIM-0 kind=trade >/dev/null
        "$BIN/tickraft-sim" ctl --port "$CTL_PORT" http5xx secs=4 >/dev/null
    fi
    fb_written >>"$WORK/fb.txt"
    sleep 0.5
done
sleep 1
curl -sf "http://127.0.0.1:$HTTP_PORT/api/status" >"$WORK/status.json" 2>/dev/null
curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" >"$WORK/metrics.txt" 2>/dev/null
# the samples taken while fa's connection was down (between its failure
# and its restart): fb's sequence moved on in them
grep -o '"name":"[a-z-]*","running":[01],"restarts":[0-9]*' "$WORK/status.json"
check "conn-fa failed (fault injected)" grep -q 'msg="fault injection: actor failing" actor=conn-fa' "$WORK/node.log"
check "poll-fa failed (fault injected)" grep -q 'msg="fault injection: actor failing" actor=poll-fa' "$WORK/node.log"
check "conn-fa dropped its socket" \
    grep -q 'msg="connection actor failed" feed=fa actor=conn-fa .*sockets_dropped=1' "$WORK/node.log"
check "conn-fa restarted" grep -q 'msg="connection actor restarted" feed=fa' "$WORK/node.log"
check "poll-fa restarted with the backfill queued again" \
    grep -Eq 'msg="poller actor restarted" feed=fa repairs_requeued=[1-9]' "$WORK/node.log"
check "status: conn-fa restarted once" grep -q '"name":"conn-fa","running":1,"restarts":1' "$WORK/status.json"
check "status: poll-fa restarted once" grep -q '"name":"poll-fa","running":1,"restarts":1' "$WORK/status.json"
check "status: conn-fb not restarted" grep -q '"name":"conn-fb","running":1,"restarts":0' "$WORK/status.json"
check "status: poll-fb not restarted" grep -q '"name":"poll-fb","running":1,"restarts":0' "$WORK/status.json"
check "status: the collector not restarted" grep -q '"name":"collector","running":1,"restarts":0' "$WORK/status.json"
check "one collector incarnation" test "$(grep -c 'component=collector msg=started' "$WORK/node.log")" = 1
check "metrics: actor restarts of conn-fa" grep -Eq '^tickraft_actor_restarts_total\{actor="conn-fa"\} 1' "$WORK/metrics.txt"
check "fb never reconnected" test "$(grep -c 'msg=reconnecting feed=fb' "$WORK/node.log")" = 0
# fb delivered throughout: once it had data, its last trade seq strictly
# grew between every pair of samples 1.5 s apart (the status document is
# republished each second, so samples 0.5 s apart may repeat one)
check "fb kept delivering (status sampled every 0.5 s)" \
    awk '$1 + 0 > 0 { n++ } n > 3 && $1 + 0 <= p3 + 0 { bad = 1 } $1 + 0 > 0 { p3 = p2; p2 = p1; p1 = $1 }
         END { exit bad || n < 12 }' "$WORK/fb.txt"
check "fa collecting again" grep -Eq '"key":"sim/trade/SIM-0","last_seq":[1-9]' "$WORK/status.json"
stop_and_check_truth

# the deduplicator (the collector itself) reports a broken invariant at 3 s
# ($TR_NODE_FAULT_DEDUP_CRASH_MS): the pipeline stops as fatal, the root
# restarts the collector, which re-derives its streams from the checkpoint
# and the log and starts every loop actor anew (new children of a new
# supervisor: not counted as their restarts); nothing lost or doubled
mv "$WORK/data" "$WORK/data1"; mv "$WORK/truth.jsonl" "$WORK/truth1.jsonl"
sed -i "s#^file = .*#file = $WORK/node3.log#" "$WORK/node.conf"
"$BIN/tickraft-sim" --port "$SIM_PORT" --control-port "$CTL_PORT" --seed 14 --dialect native \
    --instruments 4 --rate 1000 --history 3600 --truth "$WORK/truth.jsonl" \
    >"$WORK/sim3.log" 2>&1 &
SIM_PID=$!
sleep 0.5
TR_NODE_FAULT_DEDUP_CRASH_MS=3000 \
    "$BIN/tickraft-node" --config "$WORK/node.conf" --publish off >"$WORK/node3.out" 2>&1 &
NODE_PID=$!
for _ in $(seq 1 200); do
    n=$(grep -c 'msg=subscribed feed=fb' "$WORK/node3.log" 2>/dev/null)
    [ "${n:-0}" -ge 2 ] && break
    sleep 0.1
done
sleep 3 # the new incarnation collects and repairs the restart's hole
curl -sf "http://127.0.0.1:$HTTP_PORT/api/status" >"$WORK/status3.json" 2>/dev/null
check "dedup: invariant broken (fault injected), pipeline stopped as fatal" \
    grep -q 'what="deduplicator invariant broken (fault injection)"' "$WORK/node3.log"
check "dedup: two collector incarnations" \
    test "$(grep -c 'component=collector msg=started' "$WORK/node3.log")" = 2
check "dedup: both feeds subscribed again" test "$(grep -c 'msg=subscribed feed=fa' "$WORK/node3.log")" = 2
check "dedup: status counts the collector's restart" \
    grep -q '"name":"collector","running":1,"restarts":1' "$WORK/status3.json"
check "dedup: its dependants run again, new children (no restarts of theirs)" \
    grep -q '"name":"conn-fa","running":1,"restarts":0' "$WORK/status3.json"
stop_and_check_truth

# escalation: fa's connection actor failing in every incarnation
# ($TR_NODE_FAULT_REPEAT=1, 100 ms after each start; ws_backoff_base
# 100 ms) exceeds the loop supervisor's intensity (3 x 2 feeds + 2 = 8 in
# 60 s): the pipeline stops as fatal and the root restarts the collector,
# whose new loop actors start again; a SIGTERM then still stops cleanly
sed -i "s#^data_dir = .*#data_dir = $WORK/data2#; s#^file = .*#file = $WORK/node2.log#" "$WORK/node.conf"
sed -i 's#^ws_backoff_max = 2s#ws_backoff_base = 100ms\nws_backoff_max = 1s#' "$WORK/node.conf"
"$BIN/tickraft-sim" --port "$SIM_PORT" --control-port "$CTL_PORT" --seed 13 --dialect native \
    --instruments 4 --rate 200 --history 3600 >"$WORK/sim2.log" 2>&1 &
SIM_PID=$!
sleep 0.5
TR_NODE_FAULT_CONN_CRASH_MS=100 TR_NODE_FAULT_REPEAT=1 TR_NODE_FAULT_FEED=fa \
    "$BIN/tickraft-node" --config "$WORK/node.conf" --publish off >"$WORK/node2.out" 2>&1 &
NODE_PID=$!
for _ in $(seq 1 300); do
    n=$(grep -c 'component=collector msg=started' "$WORK/node2.log" 2>/dev/null)
    [ "${n:-0}" -ge 2 ] && break
    sleep 0.1
done
check "loop actors past their intensity: pipeline stopped as fatal" \
    grep -q 'what="connection/poller actors restarted too often"' "$WORK/node2.log"
check "nine conn-fa failures before that" test "$(grep -B1000 'actors restarted too often' "$WORK/node2.log" |
    grep -c 'msg="fault injection: actor failing" actor=conn-fa')" = 9
check "the collector restarted" test "$(grep -c 'component=collector msg=started' "$WORK/node2.log")" = 2
kill -TERM "$NODE_PID"; wait "$NODE_PID"; rc=$?; NODE_PID=
check "graceful stop during the failures: exit 0 (was $rc)" test "$rc" = 0
kill -TERM "$SIM_PID"; wait "$SIM_PID" 2>/dev/null; SIM_PID=
[ "$FAIL" = 0 ] && log PASS || log FAIL
exit "$FAIL"
