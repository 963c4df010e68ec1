#!/usr/bin/env bash
# Hang detection of the collector (docs/node.md "Hang detection"):
# tickraft-sim (native, truth file) and a node whose collector's loop blocks
# for 16 s, 3 s after it starts (test hook $TR_NODE_FAULT_COLLECTOR_HANG_MS).
# The supervisor's heartbeat (every 1 s, 10 s bound) must declare it hung
# and start a new collector, which collects (and backfills the hole) while
# the old thread is still stuck; when the old one's handler returns, it must
# tear down beside its successor without touching the shared context. The
# node then stops cleanly (exit 0) and tr-e2e-check finds nothing missing,
# duplicated or out of order.
#
#   bash tests/e2e/e2e_node_hang.sh BIN_DIR TESTS_DIR
set -u
BIN=${1:?bin dir}
TESTS=${2:?tests dir}
E2E_NAME=hang
. "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
start_small_sim_and_conf 5 13
TR_NODE_FAULT_COLLECTOR_HANG_MS=3000 "$BIN/tickraft-node" --config "$WORK/node.conf" \
    --publish off >"$WORK/node.out" 2>&1 &
NODE_PID=$!
log "sim pid $SIM_PID, node pid $NODE_PID (collector hangs 16 s from 3 s)"
started() { grep -c 'component=collector msg=started' "$WORK/node.log"; }
# the successor starts while the old thread is still stuck (until 19 s)
for _ in $(seq 1 300); do [ "$(started)" -ge 2 ] && break; sleep 0.1; done
check "the collector hung (fault injected)" grep -q 'msg="fault injection: collector hanging"' "$WORK/node.log"
check "a new collector started while the old one was stuck" test "$(started)" -ge 2
check "... before the hang was over" bash -c "! grep -q 'msg=\"fault injection: hang over\"' '$WORK/node.log'"
# (rest_for_one restarts the HTTP endpoint after the collector: retry)
for _ in $(seq 1 30); do
    curl -sf "http://127.0.0.1:$HTTP_PORT/api/status" >"$WORK/status1.json" 2>/dev/null &&
        grep -q '"name":"collector","running":1' "$WORK/status1.json" && break
    sleep 0.1
done
check "status: collector running, restarted once" \
    grep -q '"name":"collector","running":1,"restarts":1' "$WORK/status1.json"
# the old thread returns at ~19 s and tears down beside its successor
for _ in $(seq 1 200); do grep -q 'msg="abandoned as hung' "$WORK/node.log" && break; sleep 0.1; done
check "the old incarnation knew it was abandoned" grep -q 'msg="abandoned as hung' "$WORK/node.log"
sleep 2
curl -sf "http://127.0.0.1:$HTTP_PORT/api/status" >"$WORK/status2.json" 2>/dev/null
check "status still the successor's: collecting" \
    grep -Eq '"key":"sim/trade/SIM-2","last_seq":[1-9]' "$WORK/status2.json"
check "no third collector" test "$(started)" = 2
stop_and_check_truth
[ "$FAIL" = 0 ] && log PASS || log FAIL
exit "$FAIL"
