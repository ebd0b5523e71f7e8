#!/bin/sh
# test.sh: the whole test suite, as root, on a fresh Debian machine or a used one.
#
# It installs what the tests use (busybox-static for the base image, runc and crun to run our OCI
# bundles, jq, tmux for a real terminal, qemu for a cgroup v2 virtual machine), then checks formatting
# and vet, and runs the unit and end-to-end tests. The e2e tests build their own binary and start their
# own daemons on temporary roots and free ports: nothing here touches /var/lib/engine or a daemon you run.
set -eu
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
[ "$(id -u)" = 0 ] || { echo "test.sh: run me as root (the tests run real containers)" >&2; exit 1; }

missing=""
for tool in runc crun jq tmux; do command -v "$tool" >/dev/null || missing="$missing $tool"; done
{ [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; } || missing="$missing busybox-static"
command -v qemu-system-x86_64 >/dev/null || missing="$missing qemu-system-x86"
# The cgroup v2 test downloads Debian's kernel package, so the package lists must be there.
if [ -n "$missing" ] || ! apt-cache show linux-image-amd64 >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

unformatted=$(gofmt -l .)
[ -z "$unformatted" ] || { echo "test.sh: gofmt would change: $unformatted" >&2; exit 1; }
go vet ./...
go test -count=1 -timeout 30m ./...
