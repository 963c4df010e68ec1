#!/usr/bin/env bash
# A subscription limit lowered by two markets in one step sheds exactly
# two markets (docs/node.md "Subscription limits"). The native simulator
# answers one request with one refusal per market over the limit, none
# naming a market; each must shed one market, not cascade through the
# re-asks' own refusals. Three markets, max_connections = 2, limit 1 per
# connection (sim fault sub_limit) at once: one market stays on the
# primary, one moves to the overflow slot 2, one waits shed at the bound;
# slot 2 is not reopened in a loop. Then the limit is lifted: all three
# collect, and the log agrees with the simulator's truth (zero missing,
# zero duplicated, in order).
#
#   bash tests/e2e/e2e_node_shed_cascade.sh BIN_DIR TESTS_DIR
set -u
BIN=${1:?bin dir}
TESTS=${2:?tests dir}
E2E_NAME=shedcasc
. "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
start_small_sim_and_conf 7 43
printf '%s\n' "max_connections = 2" >>"$WORK/node.conf"
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
log "subscription limit 1 per connection at once: two refusals naming no market"
ctl sub_limit max=1; ctl close code=1000
wait_log 'msg="shed market subscribed again" feed=sim instrument=SIM-[0-9] slot=2' 50
sleep 3
n_shed=$(grep -c 'msg="alert: subscription limit, shedding"' "$WORK/node.log")
n_opens=$(grep -c 'msg="shed markets moved to a new connection" feed=sim slot=2' "$WORK/node.log")
on2=$(grep -o 'msg="shed market subscribed again" feed=sim instrument=SIM-[0-9] slot=2' "$WORK/node.log" \
    | grep -o 'SIM-[0-9]' | sort -u | tr '\n' ' ')
st=$(status)
shed=$(printf '%s' "$st" | grep -o '"shed":\[[^]]*\]')
log "refusals shed $n_shed markets, slot 2 opened $n_opens times, on slot 2: $on2, status $shed"
first=$(awk '/msg="shed markets moved to a new connection"/ { exit }
    /msg="alert: subscription limit, shedding"/ { match($0, /instrument=SIM-[0-9]/); printf "%s ", substr($0, RSTART + 11, RLENGTH - 11) }' "$WORK/node.log")
check "the primary's two refusals shed exactly SIM-2 SIM-1 ($first)" test "$first" = "SIM-2 SIM-1 "
check "SIM-0 never shed" bash -c "! grep -q 'shedding\" feed=sim instrument=SIM-0' '$WORK/node.log'"
check "one market on slot 2 ($on2)" test "$(echo $on2 | wc -w)" = 1
check "slot 2 opened at most twice ($n_opens)" test "$n_opens" -le 2
check "one market waits shed at the bound ($shed)" bash -c "echo '$shed' | grep -Eq '^\"shed\":\[\"SIM-[0-9]\"\]$'"
log "the limit lifted: every market collects"
ctl clear
for _ in $(seq 1 80); do status | grep -q '"shed":\[\]' && break; sleep 0.1; done
check "status: nothing shed" bash -c "curl -sf 'http://127.0.0.1:$HTTP_PORT/api/status' | grep -q '\"shed\":\[\]'"
sleep 1
for m in SIM-0 SIM-1 SIM-2; do
    a=$(last_seq "$m"); sleep 1.5; b=$(last_seq "$m")
    check "$m collected ($a -> $b)" test "${b:-0}" -gt "${a:-0}"
done
stop_and_check_truth
[ "$FAIL" = 0 ] && log PASS || log FAIL
exit "$FAIL"
