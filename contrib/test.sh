#!/bin/sh
# test.sh: the whole test suite, as root, on a fresh Debian machine or a used one.
#
# It installs what the engine needs (as setup.sh does: the README may run this first) and what the tests
# use (runc and crun to run our OCI bundles, tmux for a real terminal, ps, qemu for a cgroup v2 virtual
# machine, jq, gcc and libc6-dev for the race detector; contrib/packages.sh says who runs each), then
# checks formatting and vet, and runs the unit and end-to-end tests, then the end-to-end tests once more
# with the race detector (go test -race: a race-enabled engine, whose daemons, keepers and clients fail
# the run if they find a data race; e2e_race_test.go). The e2e tests build their own binary and start
# their own daemons on temporary roots and free ports: nothing here touches /var/lib/engine or a daemon
# you run.
set -eu
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
[ "$(id -u)" = 0 ] || { echo "test.sh: run me as root (the tests run real containers)" >&2; exit 1; }

. contrib/packages.sh
engine_needs
tests_need
# The cgroup v2 test downloads Debian's kernel package, so the package lists must be there.
apt-cache show linux-image-amd64 >/dev/null 2>&1 || update_anyway=yes
install_missing

unformatted=$(gofmt -l .)
[ -z "$unformatted" ] || { echo "test.sh: gofmt would change: $unformatted" >&2; exit 1; }
go vet ./...
go test -count=1 -timeout 30m ./...
go test -race -count=1 -timeout 30m -run '^TestE2E' .
