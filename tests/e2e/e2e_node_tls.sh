#!/usr/bin/env bash
# TLS to providers (docs/node.md "TLS"): the test makes its own CA and
# certificates with the openssl command line, then runs tickraft-sim with
# TLS (WebSocket on one port, REST on another) and a node whose feed is
# wss://localhost:P + https://127.0.0.1:R with ca_file = that CA.
#   1. good certificate (SAN DNS:localhost, IP:127.0.0.1): the node collects
#      over both TLS connections, a dropped connection is replaced over TLS
#      and backfilled over https; tr-e2e-check finds nothing missing,
#      duplicated or out of order.
#      Along the way: the reconnects resume the TLS session (counted on
#      both sides), a rotated ticket key gets one full handshake without
#      an error, the simulator's close_notify (no close frame) is a clean
#      end (counted, cause close_1006, reconnected) answered with ours,
#      a frame breaking RFC 6455 closes with 1002 through TLS too, and a
#      peer that stops reading still gets our close_notify when the node
#      hangs up on it (the simulator reads it after its stall).
#   2. a certificate from a CA the node does not trust, and
#   3. one from the right CA for another host name: every connection is
#      refused during the handshake, an alert naming the feed and the
#      reason is logged (WebSocket and REST), the cause "tls" is counted,
#      and nothing is collected.
#
#   bash tests/e2e/e2e_node_tls.sh BIN_DIR TESTS_DIR
set -u
BIN=${1:?bin dir}
TESTS=${2:?tests dir}
E2E_NAME=tls
. "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"

# ---- certificates (EC keys: fast to make) ----
PKI=$WORK/pki
mkdir -p "$PKI"
mkca() { # name subject
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$PKI/$1.key" -out "$PKI/$1.pem" -days 2 -subj "/CN=$2" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign
}
mkcert() { # name ca subjectAltName
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$PKI/$1.key" -out "$PKI/$1.csr" -subj "/CN=tickraft-sim" &&
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$3" >"$PKI/$1.ext" &&
    openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/$2.pem" -CAkey "$PKI/$2.key" \
        -CAcreateserial -out "$PKI/$1.pem" -days 2 -extfile "$PKI/$1.ext"
}
{ mkca ca "tickraft test CA" && mkca rogue "some other CA" &&
  mkcert good ca "DNS:localhost,IP:127.0.0.1" &&
  mkcert stranger rogue "DNS:localhost,IP:127.0.0.1" &&
  mkcert misnamed ca "DNS:other.invalid,IP:127.0.0.2"; } >"$PKI/openssl.log" 2>&1
check "openssl made the CA and certificates" test -s "$PKI/misnamed.pem"
[ "$FAIL" = 0 ] || { cat "$PKI/openssl.log"; exit 1; }
E2E_TLS_CA=$PKI/ca.pem
status() { curl -sf "http://127.0.0.1:$HTTP_PORT/api/status"; }

# ---- 1. the good certificate: collection end to end ----
E2E_TLS_CERT=$PKI/good.pem E2E_TLS_KEY=$PKI/good.key start_small_sim_and_conf 7 21
"$BIN/tickraft-node" --config "$WORK/node.conf" --publish off >"$WORK/node.out" 2>&1 &
NODE_PID=$!
log "sim pid $SIM_PID (wss :$SIM_PORT, https :$REST_PORT), node pid $NODE_PID"
for _ in $(seq 1 50); do grep -q 'msg=subscribed' "$WORK/node.log" 2>/dev/null && break; sleep 0.1; done
check "subscribed over wss://localhost" grep -q 'msg=subscribed feed=sim' "$WORK/node.log"
sleep 2
# drop the WebSocket: the node reconnects over TLS (resuming its session)
# and backfills over https
"$BIN/tickraft-sim" ctl --port "$CTL_PORT" close code=1006 >/dev/null
sleep 3
# the server's ticket key changes: the next handshake is a full one
"$BIN/tickraft-sim" ctl --port "$CTL_PORT" tls_rekey >/dev/null
"$BIN/tickraft-sim" ctl --port "$CTL_PORT" close code=1000 >/dev/null
sleep 1
# close_notify without a close frame: the node ends the connection
# cleanly (answering with its own) and reconnects
"$BIN/tickraft-sim" ctl --port "$CTL_PORT" close_notify >/dev/null
sleep 2.5
# a frame breaking RFC 6455, through TLS: closed with 1002, reconnected
"$BIN/tickraft-sim" ctl --port "$CTL_PORT" badframe kind=rsv >/dev/null
sleep 2.5
# a peer that stops reading: the node hangs up after ping_timeout (3 s)
# with its close_notify written without waiting; the simulator reads it
# when its stall ends
"$BIN/tickraft-sim" ctl --port "$CTL_PORT" stall secs=4.5 >/dev/null
sleep 6.5
status >"$WORK/status1.json"
curl -sf "http://127.0.0.1:$CTL_PORT/stats" >"$WORK/simstats.json"
jn() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
tls_of() { jn "$WORK/status1.json" "d['feeds'][0]['tls']['$1']"; }
sim_of() { jn "$WORK/simstats.json" "d['$1']"; }
log "node tls: $(jn "$WORK/status1.json" "d['feeds'][0]['tls']"); sim: full $(sim_of tls_full) resumed $(sim_of tls_resumed) close_notify_in $(sim_of tls_close_notify_in)"
check "status: collecting" grep -q '"state":"collecting"' "$WORK/status1.json"
check "REST answered over https on its own port" grep -Eq '"2xx":[1-9]' "$WORK/status1.json"
check "reconnected after the drop" grep -Eq '"close_1006":[1-9]' "$WORK/status1.json"
check "no TLS rejection" grep -q '"tls":0' "$WORK/status1.json"
check "no certificate alert" bash -c "! grep -q 'TLS certificate rejected' '$WORK/node.log'"
check "two full handshakes: the first and the one after the key change" test "$(tls_of full)" = 2
check "the other reconnects resumed (>= 3)" test "$(tls_of resumed)" -ge 3
check "the simulator counts the same full and resumed handshakes" \
    test "$(sim_of tls_full)/$(sim_of tls_resumed)" = "$(tls_of full)/$(tls_of resumed)"
check "the refused ticket was offered, then a full handshake" \
    test "$(grep -c 'msg="TLS handshake done" .* resumed=false offered=true' "$WORK/node.log")" = 1
check "no TLS error logged" bash -c "! grep -Eq 'TLS failed|TLS handshake failed' '$WORK/node.log'"
check "the peer's close_notify counted (>= 1: lws's may follow its close frame too)" \
    test "$(tls_of close_notify_in)" -ge 1
check "... the one without a close frame logged once" \
    test "$(grep -c 'msg="TLS close_notify from the peer" feed=sim slot=0 websocket_close=none' "$WORK/node.log")" = 1
check "... then a reconnect as close_1006" \
    bash -c "grep -A1 'msg=\"TLS close_notify from the peer\"' '$WORK/node.log' | grep -q 'cause=close_1006'"
check "... and answered: the simulator read the node's close_notify" test "$(sim_of tls_close_notify_in)" -ge 1
check "the stalled peer got it too (simulator counted >= 2)" test "$(sim_of tls_close_notify_in)" -ge 2
check "the node counts close_notify sent (>= 3: the 1000 answer, close_notify answer, hang-up)" test "$(tls_of close_notify_out)" -ge 3
check "the bad frame over TLS: one ws_error, answered with 1002" \
    test "$(jn "$WORK/status1.json" "d['feeds'][0]['ws_errors']")/$(jn "$WORK/simstats.json" "d['client_close'].get('1002', 0)")" = 1/1
check "hung up on the stalled peer" grep -Eq '"ping_timeout":[1-9]' "$WORK/status1.json"
check "metrics: resumed handshakes" grep -Eq 'tickraft_tls_handshakes_total\{feed="sim",kind="resumed"\} [1-9]' \
    <(curl -sf "http://127.0.0.1:$HTTP_PORT/metrics")
# what a resumed handshake saves (printed, not asserted: a shared machine)
awk '/msg="TLS handshake done"/ { for (i = 1; i <= NF; i++) { if ($i ~ /^resumed=/) r = $i; if ($i ~ /^handshake_us=/) { split($i, a, "="); v[r] = v[r] " " a[2] } } }
     END { for (k in v) printf "[tls] handshake_us %s:%s\n", k, v[k] }' "$WORK/node.log"
stop_and_check_truth
rm -rf "$WORK/data"

# ---- 2 and 3: certificates the node must refuse ----
refused_run() { # cert, node id, seed, expected reason
    local cert=$1 reason=$4
    E2E_NODE_KEYS="shutdown_timeout = 2s" E2E_TLS_CERT=$PKI/$cert.pem \
        E2E_TLS_KEY=$PKI/$cert.key start_small_sim_and_conf "$2" "$3"
    : >"$WORK/node.log"
    "$BIN/tickraft-node" --config "$WORK/node.conf" --publish off >"$WORK/node.out" 2>&1 &
    NODE_PID=$!
    log "$cert: sim pid $SIM_PID, node pid $NODE_PID"
    for _ in $(seq 1 80); do
        [ "$(grep -c 'TLS certificate rejected' "$WORK/node.log")" -ge 3 ] && break; sleep 0.1
    done
    status >"$WORK/status-$cert.json"
    check "$cert: WebSocket refused with the reason, naming the feed" \
        grep -q "level=error component=conn msg=\"alert: TLS certificate rejected\" feed=sim host=localhost port=$SIM_PORT error=\"$reason" "$WORK/node.log"
    check "$cert: REST refused with the reason, naming the feed" \
        grep -q "level=error component=rest msg=\"alert: TLS certificate rejected\" feed=sim host=127.0.0.1 port=$REST_PORT" "$WORK/node.log"
    check "$cert: counted as reconnect cause tls" grep -Eq '"tls":[1-9]' "$WORK/status-$cert.json"
    check "$cert: never subscribed" bash -c "! grep -q 'msg=subscribed' '$WORK/node.log'"
    check "$cert: nothing collected" grep -q '"written":0,' "$WORK/status-$cert.json"
    check "$cert: no frame received" grep -q '"frames":0,' "$WORK/status-$cert.json"
    kill -TERM "$NODE_PID"; wait "$NODE_PID"; local rc=$?; NODE_PID=
    check "$cert: node stopped (exit $rc)" test "$rc" = 0
    kill -TERM "$SIM_PID"; wait "$SIM_PID" 2>/dev/null; SIM_PID=
    rm -rf "$WORK/data"
}
refused_run stranger 8 22 "unable to get local issuer certificate"
refused_run misnamed 9 23 "hostname mismatch"
grep -m1 'component=conn msg="alert: TLS' "$WORK/node.log"
[ "$FAIL" = 0 ] && log PASS || log FAIL
exit "$FAIL"
