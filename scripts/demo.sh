#!/usr/bin/env bash
# `make demo`: the exchange simulator and one tickraft-node on loopback,
# with a live status view (rates, lag, gaps, reconnects) read each second
# from the node's /api/status, until Ctrl-C; then everything is stopped by
# pid. The simulator injects a provider fault every few seconds so the view
# has something to show (DEMO_FAULTS=0 turns that off).
#
#   bash scripts/demo.sh BIN_DIR
# Env: DEMO_SECONDS  run time; 0 = until Ctrl-C on a terminal (default),
#                    15 s when there is no terminal or CI=true
#      DEMO_RATE     simulator events/s (default 2000)
#      DEMO_KEEP=1   keep the work directory (data, logs, truth)
set -u
BIN=${1:-build/bin}
for p in tickraft-sim tickraft-node; do
    [ -x "$BIN/$p" ] || { echo "demo: $BIN/$p not found (run make build)" >&2; exit 1; }
done
SECS=${DEMO_SECONDS:-0}
TTY=0
if [ -t 1 ] && [ "${CI:-}" != true ]; then TTY=1; fi
if [ "$SECS" = 0 ] && [ "$TTY" = 0 ]; then SECS=15; fi
RATE=${DEMO_RATE:-2000}
WORK=$(mktemp -d /tmp/tickraft-demo.XXXXXX)
SIM_PID= NODE_PID=

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
    local p
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 20000))
        port_free "$p" && { echo "$p"; return; }
    done
    echo 0
}
SIM_PORT=$(pick_port); CTL_PORT=$(pick_port); PUB_PORT=$(pick_port); HTTP_PORT=$(pick_port)

stop_all() {
    trap - INT TERM EXIT
    [ "$TTY" = 1 ] && printf '\n'
    echo "demo: stopping node (pid ${NODE_PID:-none}) and simulator (pid ${SIM_PID:-none})"
    if [ -n "$NODE_PID" ]; then
        kill -TERM "$NODE_PID" 2>/dev/null
        wait "$NODE_PID" 2>/dev/null
        echo "demo: node exited with $?"
    fi
    if [ -n "$SIM_PID" ]; then
        kill -TERM "$SIM_PID" 2>/dev/null
        wait "$SIM_PID" 2>/dev/null
    fi
    if [ "${DEMO_KEEP:-0}" = 1 ]; then echo "demo: files kept in $WORK"; else rm -rf "$WORK"; fi
    exit 0
}
trap stop_all INT TERM EXIT

cat >"$WORK/node.conf" <<EOF
[node]
id = 1
data_dir = $WORK/data
[log]
level = info
file = $WORK/node.log
[http]
listen = 127.0.0.1:$HTTP_PORT
[storage]
sync = group
group_commit_ms = 2
[feed sim]
provider = sim
ws_url = ws://127.0.0.1:$SIM_PORT/native
rest_url = http://127.0.0.1:$SIM_PORT/native
instruments = SIM-0, SIM-1, SIM-2, SIM-3
channels = trades, book, ticker
ping_interval = 1s
ping_timeout = 3s
ws_backoff_max = 10s
EOF

# setsid: a Ctrl-C at the terminal goes to the whole foreground process
# group; the node must get exactly one signal (stop_all's SIGTERM), since a
# second one makes it exit at once (code 4) instead of stopping cleanly.
setsid "$BIN/tickraft-sim" --port "$SIM_PORT" --control-port "$CTL_PORT" --seed 1 --dialect native \
    --instruments 4 --rate "$RATE" --history 600 --truth "$WORK/truth.jsonl" \
    >"$WORK/sim.log" 2>&1 &
SIM_PID=$!
sleep 0.5
setsid "$BIN/tickraft-node" --config "$WORK/node.conf" --publish "tcp://127.0.0.1:$PUB_PORT" >"$WORK/node.out" 2>&1 &
NODE_PID=$!
echo "demo: simulator pid $SIM_PID (ws/rest 127.0.0.1:$SIM_PORT), node pid $NODE_PID" \
     "(http://127.0.0.1:$HTTP_PORT/api/status, /metrics, /healthz)"

fetch() { # GET path -> body on stdout
    if command -v curl >/dev/null; then
        curl -s --max-time 1 "http://127.0.0.1:$HTTP_PORT$1"
    else
        exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT" || return 1
        printf 'GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' "$1" >&3
        sed '1,/^\r$/d' <&3
        exec 3<&-
    fi
}

num() { grep -o "\"$1\":[-0-9.]*" <<<"$2" | head -1 | cut -d: -f2; }

render() {
    local s=$1
    printf 'tickraft demo  %s   node pid %s  sim pid %s  (Ctrl-C stops)\n' "$(date +%T)" "$NODE_PID" "$SIM_PID"
    printf 'events/s %-8s written %-9s dups %-6s gaps %s (filled %s, unfilled %s)\n' \
        "$(num events_per_s "$s")" "$(num written "$s")" "$(num dups "$s")" \
        "$(num gaps "$s")" "$(num gaps_filled "$s")" "$(num gaps_unfilled "$s")"
    printf 'provider->durable latency p50 %s us  p99 %s us   log durable lsn %s\n' \
        "$(num provider_to_durable_p50 "$s")" "$(num provider_to_durable_p99 "$s")" \
        "$(num durable_lsn "$s")"
    local feed=${s#*\"feeds\":[}; feed=${feed%%\"streams\"*}
    printf 'feed sim: connected %s  reconnects %s  malformed %s  alerts %s  rotations %s  maintenance %s\n' \
        "$(num connected "$feed")" "$(num reconnects "$feed")" "$(num malformed "$feed")" \
        "$(num alerts "$feed")" "$(num rotations "$feed")" "$(num maintenance "$feed")"
    printf '%-20s %10s %-10s %9s %6s %6s %9s\n' stream last_seq state written gaps dups lag_ms
    grep -o '{"key":[^}]*}' <<<"${s#*\"streams\":}" | sort | while read -r st; do
        printf '%-20s %10s %-10s %9s %6s %6s %9s\n' \
            "$(grep -o '"key":"[^"]*"' <<<"$st" | cut -d'"' -f4)" "$(num last_seq "$st")" \
            "$(grep -o '"state":"[^"]*"' <<<"$st" | cut -d'"' -f4)" "$(num written "$st")" \
            "$(num gaps "$st")" "$(num dups "$st")" "$(num lag_ms "$st")"
    done
}

FAULTS=("close code=1001" "gap count=15" "duplicate count=5" "malformed count=2"
        "close code=1000" "gap count=4 lost=1" "stall secs=4" "http429 secs=2")
start=$(date +%s); tick=0; fi_=0
while :; do
    now=$(date +%s)
    if [ "$SECS" != 0 ] && [ $((now - start)) -ge "$SECS" ]; then break; fi
    kill -0 "$NODE_PID" 2>/dev/null || { echo "demo: node exited (see $WORK/node.out)"; NODE_PID=; break; }
    s=$(fetch /api/status 2>/dev/null)
    if [ "$TTY" = 1 ]; then printf '\033[H\033[2J'; fi
    if [ -n "$s" ]; then render "$s"; else echo "waiting for the node..."; fi
    if [ "${DEMO_FAULTS:-1}" = 1 ] && [ $((tick % 6)) = 5 ]; then
        f=${FAULTS[$((fi_ % ${#FAULTS[@]}))]}; fi_=$((fi_ + 1))
        # shellcheck disable=SC2086
        "$BIN/tickraft-sim" ctl --port "$CTL_PORT" $f >/dev/null 2>&1 && echo "fault injected: $f"
    fi
    [ "$TTY" = 0 ] && echo
    tick=$((tick + 1))
    sleep 1
done
stop_all
