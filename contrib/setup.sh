#!/bin/sh
# setup.sh: from a fresh Debian machine to `engine run base echo hi`, as root.
#
# It installs what is missing (contrib/packages.sh: iptables for the daemon's firewall rules,
# busybox-static for the base image, ca-certificates to fetch Go modules), builds engine into
# /usr/local/bin, (re)starts the daemon in the background on the default root and address (its log in
# /var/log/engine.log), and imports the `base` image if the daemon has none. Running it again after a
# change rebuilds and restarts the daemon; containers and images are kept.
set -eu
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
[ "$(id -u)" = 0 ] || { echo "setup.sh: run me as root (the daemon makes namespaces and mounts)" >&2; exit 1; }
command -v go >/dev/null || { echo "setup.sh: Go is missing (https://go.dev/dl/)" >&2; exit 1; }

. contrib/packages.sh
engine_needs
install_missing

# Static (no cgo): one file that needs nothing from the host but the kernel.
CGO_ENABLED=0 go build -o /usr/local/bin/engine .

pidfile=/run/engine.pid
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  kill -TERM "$(cat "$pidfile")"
  while kill -0 "$(cat "$pidfile")" 2>/dev/null; do sleep 0.1; done
fi
nohup /usr/local/bin/engine -d >>/var/log/engine.log 2>&1 &
echo $! >"$pidfile"
for _ in $(seq 100); do engine version >/dev/null 2>&1 && break; sleep 0.1; done
engine version >/dev/null || { echo "setup.sh: the daemon did not start; see /var/log/engine.log" >&2; exit 1; }

engine inspect base >/dev/null 2>&1 || ENGINE=/usr/local/bin/engine contrib/mkimage-busybox.sh base >/dev/null
echo "engine is running. Try: engine run base echo hi"
