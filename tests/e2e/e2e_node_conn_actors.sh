#!/usr/bin/env bash
# One loop actor per provider WebSocket connection (docs/node.md "Shape: a
# supervision tree"): the failure of one socket's actor restarts that
# socket only, the feed's other socket keeps delivering, and the streams
# the failed one fed are repaired as after any reconnect. Three runs, one
# feed "fa" (SIM-0..2) on the simulator, each checked against the truth
# (tr-e2e-check: 0 missing, 0 duplicated, 0 out of order):
#  1. overflow: the simulator takes 2 subscriptions per connection
#     (--max-subs 2), so SIM-2 is shed to an overflow connection (slot 2,
#     actor conn-fa.2); that actor fails 2.5 s after it started
#     ($TR_NODE_FAULT_CONN_SLOT=2): only conn-fa.2 restarts (after the ws
#     backoff) and resubscribes SIM-2, the primary connection (SIM-0, SIM-1)
#     never reconnects and delivers throughout.
#  2. rotation: SIGUSR1 opens the make-before-break successor (conn-fa.next),
#     whose actor fails 1 s after it started (slot "next"): it restarts,
#     subscribes again, the rotation completes after rotate_overlap, and
#     conn-fa.next ends on purpose (not running, not restarted again); the
#     primary never reconnects.
#  3. the primary's actor fails during a rotation whose new connection is
#     already subscribed: the new connection keeps delivering, and the
#     primary's restart takes it over as the active one (no new socket).
#  4. overflow rotation: with --max-subs 2, SIM-2 on overflow slot 2; two
#     SIGUSR1 rotate it make-before-break to slot 8 and back to slot 2
#     (rotate_overlap = 2s): each new overflow connection is subscribed
#     before its old one closes, both deliver during the overlap (the
#     deduplicator drops SIM-2's duplicates), SIM-2 never reconnects nor
#     needs a repair (its streams' gaps and backfilled unchanged), and the
#     old slot's actor ends on purpose. The first new connection's actor
#     (conn-fa.8) fails 1 s after it started, during the overlap
#     ($TR_NODE_FAULT_CONN_SLOT=8): it alone restarts, subscribes again,
#     and the rotation completes rotate_overlap after that.
#  5. the old overflow connection's actor (conn-fa.2) fails during its
#     rotation's overlap (rotate_overlap = 4s): the new one (slot 8) keeps
#     delivering SIM-2, conn-fa.2's restart reconnects slot 2 meanwhile,
#     and at the overlap's end slot 8 takes SIM-2 over and slot 2 is closed,
#     its actor ending on purpose.
#
#   bash tests/e2e/e2e_node_conn_actors.sh BIN_DIR TESTS_DIR
set -u
BIN=${1:?bin dir}
TESTS=${2:?tests dir}
E2E_NAME=connactors
. "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
SIM_PORT=$(pick_port); CTL_PORT=$(pick_port); HTTP_PORT=$(pick_port)
conf() { # run name, extra feed keys...
    local run=$1; shift
    printf '%s\n' "[node]" "id = 5" "data_dir = $WORK/data" "[log]" "level = info" \
        "file = $WORK/$run.log" "rate_burst = 0" "[http]" "listen = 127.0.0.1:$HTTP_PORT" \
        "[storage]" "sync = group" "group_commit_ms = 2" "[feed fa]" "provider = sim" \
        "ws_url = ws://127.0.0.1:$SIM_PORT/native" "rest_url = http://127.0.0.1:$SIM_PORT/native" \
        "instruments = SIM-0, SIM-1, SIM-2" "channels = trades, book" \
        "ping_interval = 1s" "ping_timeout = 3s" "ws_backoff_max = 2s" "rest_backoff_max = 2s" \
        "$@" >"$WORK/node.conf"
}
start_sim() { # seed, extra simulator arguments...
    local seed=$1; shift
    rm -rf "$WORK/data"
    "$BIN/tickraft-sim" --port "$SIM_PORT" --control-port "$CTL_PORT" --seed "$seed" \
        --dialect native --instruments 3 --rate 1000 --history 3600 \
        --truth "$WORK/truth.jsonl" "$@" >"$WORK/sim.log" 2>&1 &
    SIM_PID=$!
    sleep 0.5
}
status() { curl -sf "http://127.0.0.1:$HTTP_PORT/api/status" 2>/dev/null; }
last_seq() { # instrument: its trade stream's last seq in the status document
    status | grep -o "\"key\":\"sim/trade/$1\",\"last_seq\":[0-9]*" | grep -o '[0-9]*$'
}
# once it had data, the sampled seq strictly grew between every pair of
# samples 1.5 s apart (the status is republished each second)
grew_throughout() {
    awk '$1 + 0 > 0 { n++ } n > 3 && $1 + 0 <= p3 + 0 { bad = 1 } $1 + 0 > 0 { p3 = p2; p2 = p1; p1 = $1 }
         END { exit bad || n < 10 }' "$1"
}
wait_log() { # file, pattern, tenths of a second
    for _ in $(seq 1 "$3"); do grep -Eq "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}
actor() { # status file, name: "running restarts"
    grep -o "\"name\":\"$2\",\"running\":[01],\"restarts\":[0-9]*" "$1" |
        sed 's/.*"running":\([01]\),"restarts":\([0-9]*\)/\1 \2/'
}

log "run 1: the overflow connection's actor fails"
start_sim 21 --max-subs 2
conf run1 "max_connections = 2"
TR_NODE_FAULT_CONN_CRASH_MS=2500 TR_NODE_FAULT_CONN_SLOT=2 TR_NODE_FAULT_FEED=fa \
    "$BIN/tickraft-node" --config "$WORK/node.conf" --publish off >"$WORK/node1.out" 2>&1 &
NODE_PID=$!
: >"$WORK/sim0.txt"
for _ in $(seq 1 16); do last_seq SIM-0 >>"$WORK/sim0.txt"; sleep 0.5; done
s2a=$(last_seq SIM-2); sleep 1.5; s2b=$(last_seq SIM-2)
status >"$WORK/st1.json"
curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" >"$WORK/metrics1.txt" 2>/dev/null
L=$WORK/run1.log
check "SIM-2 shed to overflow slot 2" grep -q 'msg="shed markets moved to a new connection" feed=fa slot=2' "$L"
check "conn-fa.2 failed (fault injected)" grep -q 'msg="fault injection: actor failing" actor=conn-fa.2' "$L"
check "conn-fa.2 dropped its one socket" \
    grep -q 'msg="connection actor failed" feed=fa actor=conn-fa.2 .*sockets_dropped=1' "$L"
check "conn-fa.2 restarted" grep -q 'msg="connection actor restarted" feed=fa actor=conn-fa.2' "$L"
check "slot 2 subscribed twice, slot 0 once" \
    test "$(grep -c 'msg=subscribed feed=fa slot=2' "$L") $(grep -c 'msg=subscribed feed=fa slot=0' "$L")" = "2 1"
check "status: conn-fa.2 running, restarted once" test "$(actor "$WORK/st1.json" 'conn-fa\.2')" = "1 1"
check "status: conn-fa running, not restarted" test "$(actor "$WORK/st1.json" conn-fa)" = "1 0"
check "status: the collector not restarted" test "$(actor "$WORK/st1.json" collector)" = "1 0"
check "status: two connections open" grep -q '"connections":2,"max_connections":2' "$WORK/st1.json"
check "metrics: restarts by socket actor" grep -Eq '^tickraft_actor_restarts_total\{actor="conn-fa.2"\} 1' "$WORK/metrics1.txt"
check "metrics: none for the primary" grep -Eq '^tickraft_actor_restarts_total\{actor="conn-fa"\} 0' "$WORK/metrics1.txt"
check "the primary connection never reconnected" test "$(grep -c 'msg=reconnecting feed=fa' "$L")" = 0
check "SIM-0 (primary) kept delivering (sampled every 0.5 s)" grew_throughout "$WORK/sim0.txt"
check "SIM-2 collecting again ($s2a -> $s2b)" test "${s2b:-0}" -gt "${s2a:-0}"
stop_and_check_truth

log "run 2: the rotation's new connection's actor fails"
mv "$WORK/truth.jsonl" "$WORK/truth1.jsonl"
start_sim 22
conf run2 "rotate_overlap = 3s"
TR_NODE_FAULT_CONN_CRASH_MS=1000 TR_NODE_FAULT_CONN_SLOT=next TR_NODE_FAULT_FEED=fa \
    "$BIN/tickraft-node" --config "$WORK/node.conf" --publish off >"$WORK/node2.out" 2>&1 &
NODE_PID=$!
L=$WORK/run2.log
wait_log "$L" 'msg=subscribed feed=fa slot=0' 50
sleep 1
kill -USR1 "$NODE_PID"
: >"$WORK/sim0.txt"
for _ in $(seq 1 16); do last_seq SIM-0 >>"$WORK/sim0.txt"; sleep 0.5; done
wait_log "$L" 'msg=rotated feed=fa' 50
sleep 1.5
status >"$WORK/st2.json"
check "conn-fa.next failed (fault injected)" grep -q 'msg="fault injection: actor failing" actor=conn-fa.next' "$L"
check "conn-fa.next restarted" grep -q 'msg="connection actor restarted" feed=fa actor=conn-fa.next' "$L"
check "the new connection subscribed twice (before and after its restart)" \
    test "$(grep -c 'msg=subscribed feed=fa slot=1' "$L")" = 2
check "rotated after rotate_overlap" grep -Eq 'msg=rotated feed=fa slot=1 overlap_ms=(299[0-9]|[3-9][0-9]{3}) ' "$L"
check "status: conn-fa.next ended on purpose (not running), one restart" \
    test "$(actor "$WORK/st2.json" 'conn-fa\.next')" = "0 1"
check "status: conn-fa running, not restarted" test "$(actor "$WORK/st2.json" conn-fa)" = "1 0"
check "the primary connection never reconnected" test "$(grep -c 'msg=reconnecting feed=fa' "$L")" = 0
check "SIM-0 kept delivering (sampled every 0.5 s)" grew_throughout "$WORK/sim0.txt"
stop_and_check_truth

log "run 3: the primary's actor fails during a rotation"
mv "$WORK/truth.jsonl" "$WORK/truth2.jsonl"
start_sim 23
conf run3 "rotate_overlap = 10s"
TR_NODE_FAULT_CONN_CRASH_MS=3000 TR_NODE_FAULT_FEED=fa \
    "$BIN/tickraft-node" --config "$WORK/node.conf" --publish off >"$WORK/node3.out" 2>&1 &
NODE_PID=$!
L=$WORK/run3.log
wait_log "$L" 'msg=subscribed feed=fa slot=0' 50
sleep 1
kill -USR1 "$NODE_PID"
: >"$WORK/sim0.txt"
for _ in $(seq 1 12); do last_seq SIM-0 >>"$WORK/sim0.txt"; sleep 0.5; done
status >"$WORK/st3.json"
check "conn-fa failed (fault injected) during the rotation" \
    grep -q 'msg="fault injection: actor failing" actor=conn-fa$' "$L"
check "its restart took the new connection over" \
    grep -q "msg=\"rotation's new connection taken over as the active one\" feed=fa slot=1" "$L"
check "no new socket for the primary (slot 0 subscribed once)" \
    test "$(grep -c 'msg=subscribed feed=fa slot=0' "$L")" = 1
check "status: conn-fa running, restarted once" test "$(actor "$WORK/st3.json" conn-fa)" = "1 1"
check "status: conn-fa.next ended, never restarted" test "$(actor "$WORK/st3.json" 'conn-fa\.next')" = "0 0"
check "status: one connection open" grep -q '"connections":1,' "$WORK/st3.json"
check "SIM-0 kept delivering through the new connection" grew_throughout "$WORK/sim0.txt"
stop_and_check_truth

log "run 4: overflow connections rotated make-before-break"
mv "$WORK/truth.jsonl" "$WORK/truth3.jsonl"
start_sim 24 --max-subs 2
conf run4 "max_connections = 2" "rotate_overlap = 2s"
TR_NODE_FAULT_CONN_CRASH_MS=1000 TR_NODE_FAULT_CONN_SLOT=8 TR_NODE_FAULT_FEED=fa \
    "$BIN/tickraft-node" --config "$WORK/node.conf" --publish off >"$WORK/node4.out" 2>&1 &
NODE_PID=$!
L=$WORK/run4.log
stream() { # status file, stream key, field
    grep -o "\"key\":\"$2\",[^}]*" "$1" | grep -o "\"$3\":[0-9]*" | grep -o '[0-9]*$'
}
wait_log "$L" 'msg=subscribed feed=fa slot=2' 50
sleep 2
status >"$WORK/st4a.json"
: >"$WORK/sim2.txt"
kill -USR1 "$NODE_PID"
for _ in $(seq 1 10); do last_seq SIM-2 >>"$WORK/sim2.txt"; sleep 0.5; done
wait_log "$L" 'msg="overflow connection rotated" feed=fa slot=8' 50
kill -USR1 "$NODE_PID"
for _ in $(seq 1 8); do last_seq SIM-2 >>"$WORK/sim2.txt"; sleep 0.5; done
wait_log "$L" 'msg="overflow connection rotated" feed=fa slot=2' 50
sleep 1.5
status >"$WORK/st4b.json"
curl -sf "http://127.0.0.1:$SIM_PORT/stats" >"$WORK/simstats4.json" 2>/dev/null
# the new connection's subscription comes before the rotation that closes the old one
sub_before() { # new slot
    awk -v s="$1" '/msg=subscribed feed=fa slot=/ && $0 ~ "slot=" s "( |$)" && !r { sub_ok = 1 }
        /msg="overflow connection rotated" feed=fa/ && $0 ~ "slot=" s " " { r = 1 }
        END { exit !(sub_ok && r) }' "$L"
}
check "slot 2 -> 8 after rotate_overlap, both delivering" \
    grep -Eq 'msg="overflow connection rotated" feed=fa slot=8 old_slot=2 why=overlap overlap_ms=(199[0-9]|[2-9][0-9]{3}) new_data_frames=[1-9][0-9]* old_frames_in_overlap=[1-9]' "$L"
check "slot 8 -> 2 after rotate_overlap, both delivering" \
    grep -Eq 'msg="overflow connection rotated" feed=fa slot=2 old_slot=8 why=overlap overlap_ms=(199[0-9]|[2-9][0-9]{3}) new_data_frames=[1-9][0-9]* old_frames_in_overlap=[1-9]' "$L"
check "slot 8 subscribed before slot 2 was closed" sub_before 8
check "conn-fa.8 failed during the overlap (fault injected) and restarted" \
    grep -q 'msg="connection actor restarted" feed=fa actor=conn-fa.8' "$L"
check "conn-fa.8 dropped its one socket" \
    grep -q 'msg="connection actor failed" feed=fa actor=conn-fa.8 .*sockets_dropped=1' "$L"
check "slot 8 subscribed twice (before and after its restart), slot 2 again only after it" \
    test "$(grep -c 'msg=subscribed feed=fa slot=2' "$L") $(grep -c 'msg=subscribed feed=fa slot=8' "$L")" = "2 2"
check "the primary rotated twice too" test "$(grep -c 'msg=rotated feed=fa' "$L")" = 2
check "status: 2 overflow rotations, no reconnect" \
    grep -q '"rotations":2,"overflow_rotations":2,"reconnects":0,' "$WORK/st4b.json"
check "no overflow reconnect" test "$(grep -c 'overflow connection reconnecting' "$L")" = 0
check "simulator: the 4 old connections closed with 1000, nothing else" \
    grep -q '"client_close":{"1000":4}' "$WORK/simstats4.json"
for k in sim/trade/SIM-2 sim/book/SIM-2; do
    check "$k: no new gap (before/after: $(stream "$WORK/st4a.json" $k gaps)/$(stream "$WORK/st4b.json" $k gaps))" \
        test "$(stream "$WORK/st4a.json" $k gaps)" = "$(stream "$WORK/st4b.json" $k gaps)"
done
check "sim/trade/SIM-2: nothing backfilled by the rotations ($(stream "$WORK/st4a.json" sim/trade/SIM-2 backfilled) -> $(stream "$WORK/st4b.json" sim/trade/SIM-2 backfilled))" \
    test "$(stream "$WORK/st4a.json" sim/trade/SIM-2 backfilled)" = "$(stream "$WORK/st4b.json" sim/trade/SIM-2 backfilled)"
check "sim/trade/SIM-2: the overlaps' duplicates dropped ($(stream "$WORK/st4a.json" sim/trade/SIM-2 dups) -> $(stream "$WORK/st4b.json" sim/trade/SIM-2 dups))" \
    test "$(stream "$WORK/st4b.json" sim/trade/SIM-2 dups)" -gt "$(stream "$WORK/st4a.json" sim/trade/SIM-2 dups)"
check "status: conn-fa.2 running, not restarted" test "$(actor "$WORK/st4b.json" 'conn-fa\.2')" = "1 0"
check "status: conn-fa running, not restarted" test "$(actor "$WORK/st4b.json" conn-fa)" = "1 0"
check "status: conn-fa.8 ended on purpose (not running), restarted once" \
    test "$(actor "$WORK/st4b.json" 'conn-fa\.8')" = "0 1"
check "status: two connections open" grep -q '"connections":2,"max_connections":2' "$WORK/st4b.json"
check "SIM-2 kept delivering through both rotations (sampled every 0.5 s)" grew_throughout "$WORK/sim2.txt"
stop_and_check_truth

log "run 5: the old overflow connection's actor fails during its rotation"
mv "$WORK/truth.jsonl" "$WORK/truth4.jsonl"
start_sim 25 --max-subs 2
conf run5 "max_connections = 2" "rotate_overlap = 4s"
TR_NODE_FAULT_CONN_CRASH_MS=4000 TR_NODE_FAULT_CONN_SLOT=2 TR_NODE_FAULT_FEED=fa \
    "$BIN/tickraft-node" --config "$WORK/node.conf" --publish off >"$WORK/node5.out" 2>&1 &
NODE_PID=$!
L=$WORK/run5.log
wait_log "$L" 'msg=subscribed feed=fa slot=2' 50
sleep 2
kill -USR1 "$NODE_PID"
: >"$WORK/sim2.txt"
for _ in $(seq 1 12); do last_seq SIM-2 >>"$WORK/sim2.txt"; sleep 0.5; done
wait_log "$L" 'msg="overflow connection rotated" feed=fa slot=8' 50
sleep 1.5
status >"$WORK/st5.json"
check "conn-fa.2 failed during the overlap, after slot 8 subscribed" \
    awk '/msg=subscribed feed=fa slot=8/ { s = 1 } /msg="connection actor failed" feed=fa actor=conn-fa.2 / && s { f = 1 }
         /msg="overflow connection rotated"/ && f { r = 1 } END { exit !r }' "$L"
check "slot 8 took SIM-2 over after the overlap" \
    grep -Eq 'msg="overflow connection rotated" feed=fa slot=8 old_slot=2 why=overlap overlap_ms=(399[0-9]|[4-9][0-9]{3}) ' "$L"
check "status: conn-fa.2 ended on purpose (not running), restarted once" \
    test "$(actor "$WORK/st5.json" 'conn-fa\.2')" = "0 1"
check "status: conn-fa.8 running, not restarted" test "$(actor "$WORK/st5.json" 'conn-fa\.8')" = "1 0"
check "status: conn-fa running, not restarted" test "$(actor "$WORK/st5.json" conn-fa)" = "1 0"
check "status: two connections open" grep -q '"connections":2,"max_connections":2' "$WORK/st5.json"
check "SIM-2 kept delivering through slot 8 (sampled every 0.5 s)" grew_throughout "$WORK/sim2.txt"
stop_and_check_truth
[ "$FAIL" = 0 ] && log PASS || log FAIL
exit "$FAIL"
