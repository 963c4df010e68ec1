#!/usr/bin/env bash
# Installs every Debian package tickraft needs to build, test and demo.
# Idempotent: skips apt entirely when everything is already present.
# Enables bookworm-backports for libraft-dev 0.22.1 (bookworm's 0.15.0 has
# safety bugs fixed upstream later; see docs/dependencies.md).
set -euo pipefail

PKGS=(build-essential cmake pkg-config clang libclang-rt-14-dev
      libuv1-dev libnng-dev libmsgpack-dev liblz4-dev
      libwebsockets-dev libwebsockets-evlib-uv libcmocka-dev libpq-dev
      libssl-dev openssl ca-certificates iproute2 procps)
BACKPORT_PKGS=(libraft-dev)
RAFT_MIN=0.17.1

missing=()
for p in "${PKGS[@]}" "${BACKPORT_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
raft_ok() {
    local v
    v=$(dpkg-query -W -f='${Version}' libraft-dev 2>/dev/null || true)
    [ -n "$v" ] && dpkg --compare-versions "$v" ge "$RAFT_MIN"
}
if [ ${#missing[@]} -eq 0 ] && raft_ok; then
    exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "install-deps: enabling bookworm-backports"
    echo "deb http://deb.debian.org/debian bookworm-backports main" |
        $SUDO tee /etc/apt/sources.list.d/tickraft-backports.list >/dev/null
fi
$SUDO apt-get update -q
$SUDO apt-get install -y -q "${PKGS[@]}"
$SUDO apt-get install -y -q -t bookworm-backports "${BACKPORT_PKGS[@]}"
raft_ok || { echo "install-deps: libraft-dev >= $RAFT_MIN not available" >&2; exit 1; }
