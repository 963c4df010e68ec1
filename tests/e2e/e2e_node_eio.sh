#!/usr/bin/env bash
# The node stops with exit code 3 when its log fails (docs/node.md "Exit
# codes"): tickraft-sim (native, truth file) and a node whose log's fsyncs
# start failing with EIO 4 s after start (test hook
# $TR_NODE_FAULT_LOG_EIO_MS, node/fault_fs.c). The log then refuses every
# append; the writer actor stops the tree (go_fatal) and the node must exit
# 3 on its own. Then, with the fault gone, the data acknowledged before it
# must be intact: the last checkpoint (written only once its LSN was
# durable) is covered by the reopened log, tr-e2e-check finds nothing
# missing, duplicated or out of order up to 2 s before that checkpoint, and
# a restarted node collects again and stops with exit 0.
#
#   bash tests/e2e/e2e_node_eio.sh BIN_DIR TESTS_DIR
set -u
BIN=${1:?bin dir}
TESTS=${2:?tests dir}
E2E_NAME=eio
. "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
start_small_sim_and_conf 4 11
TR_NODE_FAULT_LOG_EIO_MS=4000 "$BIN/tickraft-node" --config "$WORK/node.conf" --publish off \
    >"$WORK/node.out" 2>&1 &
NODE_PID=$!
log "sim pid $SIM_PID, node pid $NODE_PID (fsync fails with EIO from 4 s)"
# it must stop by itself: wait up to 60 s (the collector's stop is bounded
# by shutdown_timeout, 30 s by default)
for _ in $(seq 1 600); do kill -0 "$NODE_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$NODE_PID" 2>/dev/null; then
    log "FAIL: the node did not stop on its own"; FAIL=1
    kill -TERM "$NODE_PID"
fi
wait "$NODE_PID"; rc=$?; NODE_PID=
check "exit code 3 after the log failed (was $rc)" test "$rc" = 3
check "the writer stopped the node" grep -q 'component=writer msg="append failed, stopping the node"' "$WORK/node.log"
check "the node said why" grep -q 'component=node msg="stopped on error"' "$WORK/node.log"
check "a checkpoint was written before the fault" test -s "$WORK/data/checkpoint"
CKPT_LSN=$(sed -n 's/^lsn //p' "$WORK/data/checkpoint")
CKPT_NS=$(( $(stat -c %Y "$WORK/data/checkpoint") * 1000000000 ))
log "last checkpoint: lsn ${CKPT_LSN:-?}"
# reopen without the fault: what was acknowledged (checkpointed) is there
if "$BIN/tickraft-ctl" log dump --dir "$WORK/data" >"$WORK/dump.jsonl" 2>"$WORK/dump.err"; then
    log "ok: the log reopens"
else
    log "FAIL: the log does not reopen: $(cat "$WORK/dump.err")"; FAIL=1
fi
check "the reopened log covers the checkpoint (lsn ${CKPT_LSN:-?}, $(wc -l <"$WORK/dump.jsonl") records)" \
    test "$(wc -l <"$WORK/dump.jsonl")" -ge "${CKPT_LSN:-999999999}"
if "$TESTS/tr-e2e-check" --truth "$WORK/truth.jsonl" --dir "$WORK/data" --kinds "trade,book" \
    --until "$((CKPT_NS - 2000000000))" --from-first 0 >"$WORK/check.json"; then
    log "ok: up to the checkpoint: zero missing, zero duplicated, in order"
else
    log "FAIL: the log disagrees with the truth before the fault"; FAIL=1
fi
cat "$WORK/check.json"

# the disk "fixed": a restart recovers and collects again
"$BIN/tickraft-node" --config "$WORK/node.conf" --publish off >"$WORK/node2.out" 2>&1 &
NODE_PID=$!
sleep 4
kill -TERM "$NODE_PID"; wait "$NODE_PID"; rc=$?; NODE_PID=
check "restarted node stops cleanly (was $rc)" test "$rc" = 0
n1=$(wc -l <"$WORK/dump.jsonl")
"$BIN/tickraft-ctl" log dump --dir "$WORK/data" >"$WORK/dump2.jsonl" 2>/dev/null
check "it collected again ($n1 -> $(wc -l <"$WORK/dump2.jsonl") records)" \
    test "$(wc -l <"$WORK/dump2.jsonl")" -gt "$n1"
kill -TERM "$SIM_PID"; wait "$SIM_PID" 2>/dev/null; SIM_PID=
[ "$FAIL" = 0 ] && log PASS || log FAIL
exit "$FAIL"
