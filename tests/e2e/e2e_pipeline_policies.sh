#!/usr/bin/env bash
# The reference error policies the main e2e test cannot check against the
# truth (they lose data on purpose), each against a tickraft-sim fault:
#   - the market registry (REST) reports a configured market it does not list;
#   - subscribe error "unknown market": that market is dropped, the rest
#     of the feed keeps collecting;
#   - subscribe error "subscription limit": shed + alert, the shed market
#     moves to a new connection of the feed (max_connections = 2); past
#     that bound it is listed as shed in /api/status and asked for again
#     with backoff until the limit is lifted; a pause and resume of the
#     feed reopens its overflow connection too;
#   - a make-before-break rotation (SIGUSR1) keeps both connections for
#     rotate_overlap (2 s) after the new one subscribed, then closes the old;
#   - REST 404 on a trade backfill: skipped, the hole an explicit gap event;
#     REST 400 on a book snapshot: not retried, the snapshot skipped with a
#     gap event in the book and asked again later (sim fault http4xx);
#   - REST 401: the feed's REST halts with an alert, the pending repair
#     becomes an explicit gap event (never a silent hole);
#   - SIGTERM afterwards still stops cleanly (exit 0).
# Checks the node's log lines, /api/status (status.json), an admin call
# through the publisher (`tickraft-ctl feeds`) and `tickraft-ctl log dump`.
#
#   bash tests/e2e/e2e_pipeline_policies.sh BIN_DIR
set -u
BIN=${1:?bin dir}
E2E_NAME=policies
. "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
SIM_PORT=$(pick_port); CTL_PORT=$(pick_port); PUB_PORT=$(pick_port); HTTP_PORT=$(pick_port)
cat >"$WORK/node.conf" <<EOF
[node]
id = 2
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
instruments = SIM-0, SIM-1, SIM-2, SIM-99
channels = trades, book
ping_interval = 1s
ping_timeout = 3s
ws_backoff_max = 2s
rest_backoff_max = 2s
snapshot_backoff_max = 1s
max_connections = 2
rotate_overlap = 2s
EOF
ctl() { "$BIN/tickraft-sim" ctl --port "$CTL_PORT" "$@" >>"$WORK/ctl.log" 2>&1 || log "ctl $* failed"; }

"$BIN/tickraft-sim" --port "$SIM_PORT" --control-port "$CTL_PORT" --seed 5 --dialect native \
    --instruments 3 --rate 300 --history 600 >"$WORK/sim.log" 2>&1 &
SIM_PID=$!
sleep 0.5
TICKRAFT_ADMIN_TOKEN=e2e-admin "$BIN/tickraft-node" --config "$WORK/node.conf" --publish "tcp://127.0.0.1:$PUB_PORT" >"$WORK/node.out" 2>&1 &
NODE_PID=$!
log "sim pid $SIM_PID, node pid $NODE_PID"
sleep 3
check "the market registry does not list SIM-99" grep -q '"markets_listed":3,"markets_missing":1' "$WORK/data/status.json"
check "unknown market SIM-99 dropped" grep -q 'msg="unknown market dropped".*instrument=SIM-99' "$WORK/node.log"
check "the other markets collect" grep -q '"key":"sim/trade/SIM-2","last_seq":[1-9]' "$WORK/data/status.json"
# /metrics from the running node: real counters, not only HELP/TYPE lines
curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" >"$WORK/metrics.txt" 2>/dev/null
check "/metrics counts events written" grep -Eq '^tickraft_events_written_total\{feed="sim",kind="trade"\} [1-9]' "$WORK/metrics.txt"
check "/metrics counts events received" grep -Eq '^tickraft_events_received_total\{[^}]*feed="sim"[^}]*\} [1-9]' "$WORK/metrics.txt"
check "/metrics has append latency observations" grep -Eq '^tickraft_append_latency_seconds_count [1-9]' "$WORK/metrics.txt"
check "/metrics mirrors the durable LSN" grep -Eq '^tickraft_log_durable_lsn [1-9]' "$WORK/metrics.txt"
check "/readyz ready with the feed subscribed" bash -c \
    "curl -sf 'http://127.0.0.1:$HTTP_PORT/readyz?verbose' | grep -q '\[+\]feed sim ok'"
check "tickraft-ctl feeds answers through the publisher" bash -c \
    "'$BIN/tickraft-ctl' feeds --node tcp://127.0.0.1:$PUB_PORT --token e2e-admin | grep -q collecting"

log "make-before-break rotation (SIGUSR1) with rotate_overlap = 2s"
kill -USR1 "$NODE_PID"
for _ in $(seq 1 60); do grep -q 'msg=rotated' "$WORK/node.log" && break; sleep 0.25; done
# the overlap timer does not fire early (1 ms of loop-clock granularity
# aside); at 300 events/s both connections deliver plenty of frames in 2 s
# (the former rule promoted the new one after its second data frame)
check "rotated once rotate_overlap had passed" \
    grep -Eq 'msg=rotated feed=sim slot=1 overlap_ms=(199[0-9]|[2-9][0-9]{3}) ' "$WORK/node.log"
check "the old connection kept delivering during the overlap" \
    grep -Eq 'msg=rotated .*old_frames_in_overlap=[1-9]' "$WORK/node.log"
check "the new one delivered more than two frames before taking over" \
    grep -Eq 'msg=rotated .*new_data_frames=([3-9]|[1-9][0-9]+) ' "$WORK/node.log"
# last_seq of a stream in /api/status
last_seq() { curl -sf "http://127.0.0.1:$HTTP_PORT/api/status" 2>/dev/null |
    grep -oE "\"key\":\"$1\",\"last_seq\":[0-9]+" | grep -oE '[0-9]+$'; }
status() { curl -sf "http://127.0.0.1:$HTTP_PORT/api/status" >"$WORK/st.json" 2>/dev/null; }
log "fault: subscription limit 2 per connection, then every connection resubscribes"
ctl sub_limit max=2; ctl close code=1000; sleep 2
check "limit alerted" grep -q 'msg="alert: subscription limit, shedding"' "$WORK/node.log"
check "the shed market moved to a new connection" \
    grep -q 'msg="shed markets moved to a new connection".*slot=2 markets=1 first=SIM-2' "$WORK/node.log"
check "SIM-2 subscribed again" grep -q 'msg="shed market subscribed again".*instrument=SIM-2 slot=2' "$WORK/node.log"
status
check "status: two connections, nothing shed" grep -q '"connections":2,"max_connections":2,"shed_total":1,"resubscribed":1,"shed":\[\]' "$WORK/st.json"
s2a=$(last_seq sim/trade/SIM-2); sleep 1.5; s2b=$(last_seq sim/trade/SIM-2)
check "SIM-2 collects on the overflow connection ($s2a -> $s2b)" test "${s2b:-0}" -gt "${s2a:-0}"
log "fault: subscription limit 1: past max_connections the shed market waits, listed"
ctl sub_limit max=1; ctl close code=1000; sleep 2.5
status
check "status lists SIM-1 as shed at the bound" grep -q '"connections":2,"max_connections":2,.*"shed":\["SIM-1"\]' "$WORK/st.json"
check "asked again with backoff at the bound" \
    grep -q 'msg="connections at max_connections: asking again for shed markets"' "$WORK/node.log"
s1a=$(last_seq sim/trade/SIM-1); sleep 1; s1b=$(last_seq sim/trade/SIM-1)
check "SIM-1 not collected while shed ($s1a -> $s1b)" test "${s1b:-0}" = "${s1a:-0}"
ctl clear
# the next ask (backoff <= ws_backoff_max = 2 s + 25 %) is accepted
for _ in $(seq 1 40); do status; grep -q '"shed":\[\]' "$WORK/st.json" && break; sleep 0.25; done
check "SIM-1 subscribed again once the limit is lifted" grep -q '"shed":\[\]' "$WORK/st.json"
s1a=$(last_seq sim/trade/SIM-1); sleep 1.5; s1b=$(last_seq sim/trade/SIM-1)
check "SIM-1 collects again ($s1a -> $s1b)" test "${s1b:-0}" -gt "${s1a:-0}"
log "pause and resume the feed: its overflow connection reopens with the primary"
"$BIN/tickraft-ctl" feeds pause sim --node "tcp://127.0.0.1:$PUB_PORT" --token e2e-admin >>"$WORK/ctl.log" 2>&1
sleep 1
status
check "paused: no connection open" grep -q '"connections":0,' "$WORK/st.json"
"$BIN/tickraft-ctl" feeds resume sim --node "tcp://127.0.0.1:$PUB_PORT" --token e2e-admin >>"$WORK/ctl.log" 2>&1
for _ in $(seq 1 40); do status; grep -q '"connections":2,' "$WORK/st.json" && break; sleep 0.25; done
check "resumed: both connections open again" grep -q '"connections":2,"max_connections":2,.*"shed":\[\]' "$WORK/st.json"
s2a=$(last_seq sim/trade/SIM-2); sleep 1.5; s2b=$(last_seq sim/trade/SIM-2)
check "SIM-2 collects again on its overflow connection ($s2a -> $s2b)" test "${s2b:-0}" -gt "${s2a:-0}"

log "fault: REST 404 (delisted under the request) on trades while SIM-1 has a trade hole"
ctl http4xx code=404 endpoint=trades secs=3; ctl gap count=5 instrument=SIM-1 kind=trade; sleep 1.5
check "404: skipped, not retried" grep -q 'msg="http error" feed=sim status=404 policy=skip' "$WORK/node.log"
log "fault: REST 400 (malformed, a bug on our side) on book snapshots while SIM-2's book has a hole"
ctl http4xx code=400 endpoint=book secs=3; ctl gap count=5 instrument=SIM-2 kind=book; sleep 1.5
check "400: not retried" grep -q 'msg="http error" feed=sim status=400 policy=no_retry' "$WORK/node.log"
check "400: the snapshot skipped with a gap, asked again later" \
    grep -q 'msg="book snapshot skipped: gap written" feed=sim instrument=SIM-2 attempts=1 status=400' "$WORK/node.log"
ctl clear; sleep 2.5
status
check "SIM-2's book live again once snapshots are answered" grep -q '"key":"sim/book/SIM-2","last_seq":[0-9]*,"state":"live"' "$WORK/st.json"

log "fault: REST answers 401 while a gap needs a backfill"
ctl auth code=401 secs=30; sleep 0.2; ctl gap count=40 instrument=SIM-0; sleep 3
check "REST halted with an alert" grep -q 'msg="alert: authentication failure, REST halted"' "$WORK/node.log"
check "status shows rest_halted" grep -q '"rest_halted":1' "$WORK/data/status.json"
ctl clear
sleep 1
kill -TERM "$NODE_PID"; wait "$NODE_PID"; rc=$?; NODE_PID=
check "graceful stop exit 0 (was $rc)" test "$rc" = 0
# the reference stop order, from the supervision tree's reverse start order
order=$(grep -nE 'msg="publisher closed"|component=collector msg="graceful stop"|component=node msg="pipeline flushed"|component=writer msg=stopped|msg="stopped cleanly"' \
        "$WORK/node.log" | sed -E 's/.* msg=("([^"]*)"|([^ ]*)).*/\2\3/' | tr '\n' ',')
check "stop order: publisher, collector flush, writer, log (was $order)" \
    test "$order" = "publisher closed,graceful stop,pipeline flushed,stopped,stopped cleanly,"
"$BIN/tickraft-ctl" log dump --dir "$WORK/data" >"$WORK/dump.jsonl" 2>/dev/null
check "the lost backfill is an explicit gap event" grep -q '"kind":"gap".*backfill failed' "$WORK/dump.jsonl"
check "404: SIM-1's lost trades are an explicit gap event" \
    grep -q '"kind":"gap","instrument":"SIM-1".*"reason":"backfill failed"' "$WORK/dump.jsonl"
check "400: SIM-2's book has an explicit gap event" \
    grep -q '"kind":"gap","instrument":"SIM-2".*"reason":"book snapshot failed: skipped, asked again later"' "$WORK/dump.jsonl"
[ "$FAIL" = 0 ] && log PASS || log FAIL
exit "$FAIL"
