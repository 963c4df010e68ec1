# Shared prelude of the node e2e scripts (sourced, not run): a work
# directory, logging and checks, cleanup that stops the node and the
# simulator by pid, and free loopback ports. The sourcing script sets
# E2E_NAME (the log prefix and the work directory's name) first, and stores
# the pids it starts in NODE_PID and SIM_PID.
WORK=$(mktemp -d "/tmp/tr-e2e-${E2E_NAME:?E2E_NAME}.XXXXXX")
SIM_PID= NODE_PID=
FAIL=0
log() { printf '[%s %s] %s\n' "$E2E_NAME" "$(date +%H:%M:%S)" "$*"; }
check() { # description, command...
    local d=$1; shift
    if "$@" >/dev/null 2>&1; then log "ok: $d"; else log "FAIL: $d"; FAIL=1; fi
}
cleanup() {
    [ -n "$NODE_PID" ] && kill -KILL "$NODE_PID" 2>/dev/null && wait "$NODE_PID" 2>/dev/null
    [ -n "$SIM_PID" ] && kill -TERM "$SIM_PID" 2>/dev/null && wait "$SIM_PID" 2>/dev/null
    if [ "$FAIL" = 0 ] && [ "${E2E_KEEP:-0}" != 1 ]; then rm -rf "$WORK"; else log "kept $WORK"; fi
}
trap cleanup EXIT
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
    local p
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 20000)); port_free "$p" && { echo "$p"; return; }
    done
    echo 0
}
