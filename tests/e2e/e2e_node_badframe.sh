#!/usr/bin/env bash
# Malformed WebSocket frames on a live connection (docs/node.md
# "Connections", the simulator's badframe fault): a collecting node gets, in
# turn, a masked server frame, RSV1 set, a reserved opcode, a frame
# announcing 65 MiB, a close frame with code 1005 and a 126-byte ping, each
# in place of a data frame mid-stream. Each time the node counts ws_errors,
# logs the reason, closes with 1002 (1009 for the oversized frame: the
# simulator records the codes it received), reconnects and repairs the hole
# (trades backfilled, books resynced); at the end tr-e2e-check finds 0
# missing, 0 duplicated, 0 out of order.
#
#   bash tests/e2e/e2e_node_badframe.sh BIN_DIR TESTS_DIR
set -u
BIN=${1:?bin dir}
TESTS=${2:?tests dir}
E2E_NAME=badframe
. "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"

start_small_sim_and_conf 11 31
# short reconnect backoffs: six protocol errors in a few seconds
sed -i 's/^ws_backoff_max = .*/ws_backoff_max = 300ms/' "$WORK/node.conf"
echo "ws_backoff_base = 100ms" >>"$WORK/node.conf"
"$BIN/tickraft-node" --config "$WORK/node.conf" --publish off >"$WORK/node.out" 2>&1 &
NODE_PID=$!
log "sim pid $SIM_PID, node pid $NODE_PID"
subs() { local n; n=$(grep -c 'msg=subscribed feed=sim' "$WORK/node.log" 2>/dev/null); echo "${n:-0}"; }
for _ in $(seq 1 50); do [ "$(subs)" -ge 1 ] && break; sleep 0.1; done
check "subscribed" test "$(subs)" -ge 1
sleep 1
KINDS="masked rsv opcode oversize close_code ping_long"
for k in $KINDS; do
    n=$(subs)
    "$BIN/tickraft-sim" ctl --port "$CTL_PORT" badframe kind="$k" >/dev/null
    for _ in $(seq 1 50); do [ "$(subs)" -gt "$n" ] && break; sleep 0.1; done
    check "$k: reconnected and subscribed again" test "$(subs)" -gt "$n"
    sleep 0.7 # data flows on the new connection before the next fault
done
curl -sf "http://127.0.0.1:$HTTP_PORT/api/status" >"$WORK/status.json"
curl -sf "http://127.0.0.1:$CTL_PORT/stats" >"$WORK/simstats.json"
jn() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
feed() { jn "$WORK/status.json" "d['feeds'][0]$1"; }
log "node: ws_errors $(feed "['ws_errors']") malformed $(feed "['malformed']") close_other $(feed "['reconnects_by_cause']['close_other']"); sim: client_close $(jn "$WORK/simstats.json" "d['client_close']")"
check "six protocol errors counted (ws_errors)" test "$(feed "['ws_errors']")" = 6
check "... also as malformed" test "$(feed "['malformed']")" -ge 6
check "six reconnects after them (close_other)" test "$(feed "['reconnects_by_cause']['close_other']")" = 6
check "the simulator got five close frames with 1002" \
    test "$(jn "$WORK/simstats.json" "d['client_close'].get('1002', 0)")" = 5
check "... and one with 1009 (the oversized frame)" \
    test "$(jn "$WORK/simstats.json" "d['client_close'].get('1009', 0)")" = 1
for r in "masked frame from the server:1002" "RSV bits set, no extension agreed:1002" \
         "unknown data opcode:1002" "frame over the size bound:1009" "invalid close code:1002" \
         "control frame over 125 bytes:1002"; do
    check "logged: ${r%:*} (close ${r##*:})" \
        grep -q "msg=\"websocket protocol error: closing\" feed=sim slot=0 code=${r##*:} err=\"websocket frame [0-9]*: ${r%:*}\"" "$WORK/node.log"
done
check "one log line per error" test "$(grep -c 'websocket protocol error: closing' "$WORK/node.log")" = 6
check "status: collecting" grep -q '"state":"collecting"' "$WORK/status.json"
check "the holes were refilled over REST (trades backfilled)" \
    test "$(jn "$WORK/status.json" "sum(s['backfilled'] for s in d['streams'] if '/trade/' in s['key'])")" -gt 0
stop_and_check_truth
[ "$FAIL" = 0 ] && log PASS || log FAIL
exit "$FAIL"
