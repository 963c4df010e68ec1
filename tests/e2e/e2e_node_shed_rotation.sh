#!/usr/bin/env bash
# A shed market asked for again during a primary rotation's overlap
# reaches the rotation's new connection (docs/node.md "Subscription
# limits"). Three markets, max_connections = 2 and a subscription limit
# of 2 then 1 per connection (sim fault sub_limit, one refusal at a time):
# one market waits shed; a SIGUSR1 rotation (rotate_overlap = 10s) opens
# the new primary connection, which subscribes the markets group 0 has
# then; the limit is lifted during the
# overlap, so the shed market is asked for again on the active (old)
# connection. After the takeover (the old one closed) the market must
# still be collected, and the log must agree with the simulator's truth:
# zero missing, zero duplicated, in order.
#
#   bash tests/e2e/e2e_node_shed_rotation.sh BIN_DIR TESTS_DIR
set -u
BIN=${1:?bin dir}
TESTS=${2:?tests dir}
E2E_NAME=shedrot
. "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
start_small_sim_and_conf 7 41
printf '%s\n' "max_connections = 2" "rotate_overlap = 10s" >>"$WORK/node.conf"
ctl() { "$BIN/tickraft-sim" ctl --port "$CTL_PORT" "$@" >>"$WORK/ctl.log" 2>&1 || log "ctl $* failed"; }
status() { curl -sf "http://127.0.0.1:$HTTP_PORT/api/status" 2>/dev/null; }
last_seq() { status | grep -o "\"key\":\"sim/trade/$1\",\"last_seq\":[0-9]*" | grep -o '[0-9]*$'; }
wait_log() { # pattern, tenths of a second
    for _ in $(seq 1 "$2"); do grep -Eq "$1" "$WORK/node.log" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}
"$BIN/tickraft-node" --config "$WORK/node.conf" --publish off >"$WORK/node.out" 2>&1 &
NODE_PID=$!
log "sim pid $SIM_PID, node pid $NODE_PID"
wait_log 'msg=subscribed feed=sim slot=0' 50
sleep 1
log "subscription limit 2 per connection: the third market moves to an overflow connection"
ctl sub_limit max=2; ctl close code=1000
wait_log 'msg="shed market subscribed again" feed=sim instrument=SIM-2 slot=2' 50
log "limit 1: at max_connections one market waits shed"
ctl sub_limit max=1; ctl close code=1000
shed=
for _ in $(seq 1 50); do
    shed=$(status | grep -o '"shed":\["SIM-[0-9]"\]' | grep -o 'SIM-[0-9]')
    [ -n "$shed" ] && break
    sleep 0.1
done
check "one market shed at the bound (${shed:-none})" test -n "$shed"
log "rotation (SIGUSR1), then the limit lifted during its overlap"
kill -USR1 "$NODE_PID"
wait_log 'msg=subscribed feed=sim slot=1' 50
ctl clear
wait_log "msg=\"shed market subscribed again\" feed=sim instrument=$shed slot=0" 50
wait_log 'msg=rotated feed=sim slot=1' 150
check "$shed asked for again on the old connection during the overlap" \
    awk -v m="instrument=$shed slot=0" '/msg=subscribed feed=sim slot=1/ { s = 1 }
        /msg="shed market subscribed again"/ && index($0, m) && s { a = 1 }
        /msg=rotated feed=sim slot=1/ && a { r = 1 } END { exit !r }' "$WORK/node.log"
check "the rotation's new connection asked for $shed too" \
    grep -q 'msg="rotation under way: asking the new connection too" feed=sim slot=1 markets=1' "$WORK/node.log"
sleep 1
a=$(last_seq "$shed"); sleep 2; b=$(last_seq "$shed")
check "$shed collected after the takeover ($a -> $b)" test "${b:-0}" -gt "${a:-0}"
check "status: nothing shed" bash -c "curl -sf 'http://127.0.0.1:$HTTP_PORT/api/status' | grep -q '\"shed\":\[\]'"
stop_and_check_truth
[ "$FAIL" = 0 ] && log PASS || log FAIL
exit "$FAIL"
