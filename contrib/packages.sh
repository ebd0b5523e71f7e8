# packages.sh: the Debian packages the engine and its tests need, and what installs the missing ones.
# setup.sh and test.sh source it (it is not a program of its own): setup.sh installs engine_needs,
# test.sh installs engine_needs and tests_need, since the README runs test.sh on a fresh machine that
# may never have run setup.sh. A program missing here is a fresh machine failing (contrib/fresh-machine.sh
# checks the README's commands on one), so each line says who runs what.

missing=""

# need PACKAGE PROGRAM: PACKAGE is to be installed unless PROGRAM is on PATH.
need() { command -v "$2" >/dev/null || missing="$missing $1"; }

engine_needs() {
  need iptables iptables # engine -d: the bridge's NAT and published ports (iptables.go)
  # contrib/mkimage-busybox.sh: the base image is Debian's static busybox, which runs in any root.
  { [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; } || missing="$missing busybox-static"
  # go build: the modules come from the Go module proxy, over https.
  [ -s /etc/ssl/certs/ca-certificates.crt ] || missing="$missing ca-certificates"
}

tests_need() {
  need runc runc          # e2e: runc runs our OCI bundles (and the benchmarks compare against it)
  need crun crun          # e2e: so does crun
  need jq jq              # the benchmarks edit config.json with it; the README's examples use it
  need skopeo skopeo      # e2e: the oracle for save and load (docker-archive <-> OCI layout, both ways),
                          # and what fills the test registry
  need docker-registry docker-registry # e2e: the registry pull talks to (e2e_registry_test.go)
  need apache2-utils htpasswd # e2e: the bcrypt password file of the registry that asks who we are
  need tmux tmux          # e2e: a real terminal for `run -it`
  need procps ps          # e2e: the daemon's children
  need qemu-system-x86 qemu-system-x86_64 # contrib/cgroup2-vm.sh: a VM with cgroup v2
  # test.sh's `go test -race`: the race detector is linked in with cgo, and the race-enabled engine is
  # static (e2e_race_test.go), so gcc links it against libc.a.
  need gcc gcc
  { command -v gcc >/dev/null && [ -f "$(gcc -print-file-name=libc.a)" ]; } || missing="$missing libc6-dev"
}

# install_missing installs what the checks above found missing. update_anyway=yes refreshes the
# package lists even if nothing is missing (cgroup2-vm.sh downloads Debian's kernel package).
install_missing() {
  if [ -n "$missing" ] || [ "${update_anyway:-}" = yes ]; then
    apt-get update -qq
  fi
  if [ -n "$missing" ]; then
    echo "${0##*/}: installing$missing" >&2
    # A service's package starts its service when installed, if policy-rc.d lets it: docker-registry's
    # would listen on every interface. The tests start a registry of their own, on loopback.
    policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      policy=/usr/sbin/policy-rc.d
      printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
    fi
    status=0
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null || status=$?
    [ -z "$policy" ] || rm -f "$policy"
    [ "$status" = 0 ] || return "$status"
    # Nor may it start at the next boot.
    case "$missing" in *docker-registry*)
      if command -v systemctl >/dev/null; then systemctl disable --quiet docker-registry.service 2>/dev/null || true; fi
      if command -v update-rc.d >/dev/null; then update-rc.d docker-registry disable >/dev/null 2>&1 || true; fi
    esac
  fi
  return 0
}
