#!/usr/bin/env bash
# The node's supervision tree under injected actor faults (docs/node.md
# "Supervision tree"): tickraft-sim (native dialect, truth file) and a node
# whose collector crashes once after 3 s and whose writer crashes once after
# 8 s (test hooks $TR_NODE_FAULT_COLLECTOR_CRASH_MS and
# $TR_NODE_FAULT_WRITER_CRASH_MS). The supervisor must restart them
# (rest_for_one: the writer's crash restarts the collector and the HTTP
# endpoint too), the node must keep collecting and stop cleanly (exit 0),
# and tr-e2e-check must find zero missing, zero duplicated, nothing out of
# order. /metrics, scraped every 0.5 s through both crashes, must never
# show a counter lower than an earlier scrape did (the collector's totals
# restart with it; the registry adds them to the dead incarnations').
# Then a collector that crashes in every incarnation
# ($TR_NODE_FAULT_REPEAT=1) must make the tree give up: exit 86.
#
#   bash tests/e2e/e2e_pipeline_actors.sh BIN_DIR TESTS_DIR
set -u
BIN=${1:?bin dir}
TESTS=${2:?tests dir}
E2E_NAME=actors
. "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
SIM_PORT=$(pick_port); CTL_PORT=$(pick_port); HTTP_PORT=$(pick_port)
printf '%s\n' "[node]" "id = 3" "data_dir = $WORK/data" "[log]" "level = info" \
    "file = $WORK/node.log" "rate_burst = 0" "[http]" "listen = 127.0.0.1:$HTTP_PORT" \
    "[storage]" "sync = group" "group_commit_ms = 2" "[feed sim]" "provider = sim" \
    "ws_url = ws://127.0.0.1:$SIM_PORT/native" "rest_url = http://127.0.0.1:$SIM_PORT/native" \
    "instruments = SIM-0, SIM-1, SIM-2, SIM-3" "channels = trades, book" \
    "ping_interval = 1s" "ping_timeout = 3s" "ws_backoff_max = 2s" "rest_backoff_max = 2s" \
    >"$WORK/node.conf"
# The simulator's default 200 us tick: at this rate every event is its own
# frame (2,000 frames/s), so the collector is sending when the writer dies
# (a send to the dead writer must fail fast, and its batch must be fenced
# if it reaches the restarted writer). E2E_SIM_ARGS adds simulator options.
"$BIN/tickraft-sim" --port "$SIM_PORT" --control-port "$CTL_PORT" --seed 9 --dialect native \
    --instruments 4 --rate 2000 --history 3600 --truth "$WORK/truth.jsonl" ${E2E_SIM_ARGS:-} \
    >"$WORK/sim.log" 2>&1 &
SIM_PID=$!
sleep 0.5
TR_NODE_FAULT_COLLECTOR_CRASH_MS=3000 TR_NODE_FAULT_WRITER_CRASH_MS=8000 \
    "$BIN/tickraft-node" --config "$WORK/node.conf" --publish off >"$WORK/node.out" 2>&1 &
NODE_PID=$!
log "sim pid $SIM_PID, node pid $NODE_PID"
# scrapes fail while rest_for_one restarts the HTTP endpoint: skipped
for i in $(seq 1 28); do
    curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" >"$WORK/scrape.$i" 2>/dev/null || rm -f "$WORK/scrape.$i"
    sleep 0.5
done
# every *_total series in scrape order: "name{labels} value" (a counter
# that went down is printed as a line "DOWN series before after")
counters_down() {
    local f
    for i in $(seq 1 28); do f="$WORK/scrape.$i"; [ -f "$f" ] && echo "$f"; done |
        xargs awk '/^tickraft_[a-z_]*_total[{ ]/ {
            v = $NF; k = substr($0, 1, length($0) - length(v) - 1)
            if ((k in last) && v + 0 < last[k] + 0) print "DOWN", k, last[k], v
            last[k] = v }'
}
counters_down >"$WORK/counters_down.txt"
cat "$WORK/counters_down.txt"
check "metrics scraped through the crashes" test "$(ls "$WORK"/scrape.* | wc -l)" -ge 20
check "no /metrics counter went backwards across the restarts" test ! -s "$WORK/counters_down.txt"
check "metrics: events written counted" \
    grep -Eq '^tickraft_events_written_total\{feed="sim",kind="trade"\} [1-9]' "$(ls -v "$WORK"/scrape.* | tail -1)"
curl -sf "http://127.0.0.1:$HTTP_PORT/api/status" >"$WORK/status.json" 2>/dev/null
curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" >"$WORK/metrics.txt" 2>/dev/null
check "the collector crashed (fault injected)" grep -q 'msg="fault injection: collector crashing"' "$WORK/node.log"
check "the writer crashed (fault injected)" grep -q 'msg="fault injection: writer crashing"' "$WORK/node.log"
# restarts count the child that failed; rest_for_one also restarted the
# collector after the writer's crash: three collector incarnations
check "status: collector restarted once" grep -q '"name":"collector","running":1,"restarts":1' "$WORK/status.json"
check "status: writer restarted once" grep -q '"name":"writer","running":1,"restarts":1' "$WORK/status.json"
check "metrics: actor restarts" grep -Eq '^tickraft_actor_restarts_total\{actor="writer"\} 1' "$WORK/metrics.txt"
check "three collector incarnations (rest_for_one)" test "$(grep -c 'component=collector msg=started' "$WORK/node.log")" = 3
# epochs: writer start 1, HELLO 2, collector restart 3, writer restart 4, HELLO 5
check "each restart moved the fencing epoch on" grep -q 'component=collector msg=started epoch=5' "$WORK/node.log"
check "collecting again after the restarts" grep -Eq '"key":"sim/trade/SIM-3","last_seq":[1-9]' "$WORK/status.json"
stop_and_check_truth

# a collector that crashes in every incarnation: past the intensity (5
# restarts in 60 s) the tree stops in order and the node exits 86 (no
# simulator needed: the collector crashes 200 ms into each incarnation)
sed -i "s#^data_dir = .*#data_dir = $WORK/data2#; s#^file = .*#file = $WORK/node2.log#" "$WORK/node.conf"
TR_NODE_FAULT_COLLECTOR_CRASH_MS=200 TR_NODE_FAULT_REPEAT=1 \
    "$BIN/tickraft-node" --config "$WORK/node.conf" --publish off >"$WORK/node2.out" 2>&1 &
NODE_PID=$!
for _ in $(seq 1 600); do kill -0 "$NODE_PID" 2>/dev/null || break; sleep 0.1; done
wait "$NODE_PID"; rc=$?; NODE_PID=
check "restart intensity exceeded: exit 86 (was $rc)" test "$rc" = 86
check "six collector crashes before giving up" \
    test "$(grep -c 'msg="fault injection: collector crashing"' "$WORK/node2.log")" = 6
check "the writer still stopped in order" grep -q 'component=writer msg=stopped reason=shutdown' "$WORK/node2.log"
[ "$FAIL" = 0 ] && log PASS || log FAIL
exit "$FAIL"
