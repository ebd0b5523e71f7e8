#!/bin/sh
# fresh-machine.sh: the README's two commands, exactly as written, on a fresh Debian 12 machine.
#
# CI once passed only because its machine had iptables installed by hand. This check leans on nothing
# the host has: it builds a clean Debian 12 root (mmdebstrap --variant=minbase, from this machine's apt
# sources), adds only what the README assumes or this network needs (Go in /usr/local/go, read-only;
# the CA certificates, resolv.conf and hosts; the host's apt and Go proxy settings), copies in the
# checkout's tracked files (what a fresh clone has), and there runs the commands of the README's
# "Two commands" block, read from README.md, as root, without stdin, with CI=true. It fails if either
# command fails, or if the first does not print hi.
#
# They run in a chroot inside a private mount namespace: /proc, /sys, /dev and /dev/pts are the host's,
# /run, /var and /tmp the root's own. The network is the host's (apt and the Go module proxy need it),
# so the daemon setup.sh starts would meet one already serving 127.0.0.1:4242 or engine0 here: the check
# refuses to start then, rather than test the wrong daemon. At the end, also on failure, it stops the
# daemon setup.sh left running, checks that it removed its bridge and firewall rules, and removes what
# is left: processes in the root, the bridge and rules, containers' cgroups, the root itself.
#
#   contrib/fresh-machine.sh        # as root; ~25 s to build the root, then the commands' own time
set -eu
me=fresh-machine.sh
repo=$(cd "$(dirname "$0")/.." && pwd)
say() { echo "$me: $*" >&2; }
fail() { say "$*"; exit 1; }
now() { date +%s; }

# --- inside the private mount namespace (the script runs itself there: `unshare ... $0 inside WORK`) ---

# inside mounts what a booted machine has and runs each command of $work/commands in the chroot.
inside() {
  work=$1 root=$1/root
  readlink /proc/self/ns/mnt >"$work/mntns" # cleanup kills whatever is still in this namespace
  # The root is a mount point, as a machine's root is (the engine makes / private, and pivot_root
  # needs a mount). Then the kernel's file systems, the host's Go read-only, a /dev/shm of its own.
  mount --bind "$root" "$root"
  mount --bind /proc "$root/proc"
  mount --rbind /sys "$root/sys" # with the cgroup hierarchies under it
  mount --bind /dev "$root/dev"
  mount --bind /dev/pts "$root/dev/pts"
  mount -t tmpfs -o mode=1777,nosuid,nodev shm "$root/dev/shm"
  mkdir -p "$root/usr/local/go"
  mount --bind -o ro /usr/local/go "$root/usr/local/go"

  # A login's environment, as CI has it; the host's proxy settings, so the network works as here.
  set -- PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root USER=root \
    LOGNAME=root LANG=C.UTF-8 CI=true GOPATH=/root/go GOCACHE=/root/.cache/go-build
  for name in GOPROXY GOFLAGS GONOSUMDB GONOSUMCHECK GONOPROXY GOPRIVATE GOSUMDB GOINSECURE GOTOOLCHAIN \
    http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY all_proxy ALL_PROXY; do
    eval "[ -z \"\${$name+set}\" ]" || set -- "$@" "$name=$(printenv "$name")"
  done

  n=0
  while IFS= read -r command; do
    n=$((n + 1))
    say "command $n, in the fresh root: $command"
    start=$(now)
    status=0
    : >"$work/output.$n"
    env -i "$@" chroot "$root" /bin/sh -c "cd /root/engine && $command" </dev/null >"$work/output.$n" 2>&1 &
    tail --pid=$! -n +1 -f "$work/output.$n" # show it as it comes
    wait $! || status=$?
    echo "$n $status $(($(now) - start))" >>"$work/results"
    [ "$status" = 0 ] || return 0
  done <"$work/commands"
}

if [ "${1:-}" = inside ]; then
  inside "$2"
  exit 0
fi

# --- on the host ---

[ "$(id -u)" = 0 ] || fail "run me as root (mmdebstrap, chroot and the engine need it)"
[ -x /usr/local/go/bin/go ] || fail "no Go in /usr/local/go, where the README assumes it"

# The README's "Two commands" block: each line is a command, run as written (its comment included).
commands=$(awk '/^## Two commands/ { section = 1 } section && /^```sh/ { block = 1; next }
	block && /^```/ { exit } block && NF' "$repo/README.md")
count=$(printf '%s\n' "$commands" | grep -c .) || true
[ "$count" = 2 ] || fail "README.md's \"Two commands\" block has $count commands, not two"

# One check at a time: two would start two daemons on one port and one bridge, and each would remove
# the other's bridge and rules when it cleans up.
exec 9>/run/lock/engine-fresh-machine.lock
flock -n 9 || fail "another fresh-machine check is running on this machine"

# The chroot shares the host's network: a daemon here would take the port, the bridge and its rules.
# Checked now and again just before the commands run (the root takes a while to build).
no_daemon_here() {
  if awk '$4 == "0A" && $2 ~ /:1092$/ { found = 1 } END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
    fail "something already listens on port 4242 (an engine daemon?): the daemon in the fresh root would not get it, and the check would test that one instead; stop it first (kill \$(cat /run/engine.pid))"
  fi
  [ ! -e /sys/class/net/engine0 ] || fail "the bridge engine0 exists (an engine daemon runs here, or one left it): the daemon in the fresh root would share it; stop that daemon (or ip link delete engine0) first"
  if command -v iptables-save >/dev/null && iptables-save 2>/dev/null | grep -q 'ENGINE-.*-engine0'; then
    fail "firewall rules for engine0 exist here (a daemon runs, or one died and left them): stop that daemon first"
  fi
}
no_daemon_here

# The check's own tools.
. "$repo/contrib/packages.sh"
need mmdebstrap mmdebstrap
need iproute2 ip
install_missing

work=$(mktemp -d "${TMPDIR:-/var/tmp}/fresh-machine.XXXXXX")
root=$work/root

# stop_daemon stops the daemon setup.sh started in the root (its pidfile is the root's /run/engine.pid)
# as an admin would, with SIGTERM, and waits for it: on its way out it removes its bridge and rules.
stop_daemon() {
  pidfile=$root/run/engine.pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  case $(readlink "/proc/$pid/root" 2>/dev/null) in
  "$root") ;;
  *) rm -f "$pidfile"; return 0 ;; # gone already
  esac
  kill -TERM "$pid"
  for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    say "the daemon in the fresh root did not stop within 30 s of SIGTERM: killing it"
    kill -KILL "$pid"
    leftover="$leftover daemon-hung"
  fi
  rm -f "$pidfile"
}

# in_root lists the processes whose root is the fresh root or which are in its mount namespace.
in_root() {
  ns=$(cat "$work/mntns" 2>/dev/null) || ns=none
  [ "$ns" != "$(readlink /proc/self/ns/mnt)" ] || ns=none # never the host's own namespace
  for proc in /proc/[0-9]*; do
    case $(readlink "$proc/root" 2>/dev/null) in "$root" | "$root"/*) echo "${proc#/proc/}"; continue ;; esac
    [ "$(readlink "$proc/ns/mnt" 2>/dev/null)" != "$ns" ] || echo "${proc#/proc/}"
  done
}

# end_processes ends what still runs in the root: SIGTERM first, so the test suite's daemons remove
# their bridges and rules, then SIGKILL. When the last one is gone, the mount namespace and its
# mounts go with it.
end_processes() {
  pids=$(in_root)
  [ -n "$pids" ] || return 0
  leftover="$leftover processes"
  kill -TERM $pids 2>/dev/null
  for _ in $(seq 100); do [ -n "$(in_root)" ] || return 0; sleep 0.1; done
  for _ in $(seq 100); do
    pids=$(in_root)
    [ -n "$pids" ] || return 0
    kill -KILL $pids 2>/dev/null
    sleep 0.1
  done
  say "processes still running in the fresh root: $(in_root)"
}

# remove_network removes the bridge engine0 and the rules of the root's daemon if it left them. It uses
# the root's own iptables, the one the daemon ran.
remove_network() {
  if [ -e /sys/class/net/engine0 ]; then
    leftover="$leftover bridge"
    ip link delete engine0
  fi
  [ -x "$root/usr/sbin/iptables" ] || return 0
  set -f
  for table in raw mangle nat filter; do
    rules=$(chroot "$root" iptables-save -t "$table" 2>/dev/null) || continue
    printf '%s\n' "$rules" | grep -q 'ENGINE-[A-Z0-9]*-engine0' || continue
    leftover="$leftover rules"
    printf '%s\n' "$rules" | grep -- '^-A .* -j ENGINE-[A-Z0-9]*-engine0' | while read -r _ rule; do
      chroot "$root" iptables -w -t "$table" -D $rule
    done
    for chain in $(printf '%s\n' "$rules" | sed -n 's/^:\(ENGINE-[A-Z0-9]*-engine0\) .*/\1/p'); do
      chroot "$root" iptables -w -t "$table" -F "$chain"
      chroot "$root" iptables -w -t "$table" -X "$chain"
    done
  done
  set +f
}

# remove_cgroups removes the cgroups of the containers the root's daemons made (engine/<id> at the top
# of each hierarchy), after ending what is in them. The engine/ parents are shared with any other
# daemon on the host: they are left to the daemons, which remove them when empty.
remove_cgroups() {
  for dir in "$root"/var/lib/engine/containers/* "$root"/tmp/*/root/containers/*; do
    id=${dir##*/}
    [ ${#id} = 64 ] || continue
    for cgroup in /sys/fs/cgroup/engine/"$id" /sys/fs/cgroup/*/engine/"$id"; do
      [ -d "$cgroup" ] || continue
      leftover="$leftover cgroups"
      for _ in $(seq 50); do
        pids=$(cat "$cgroup/cgroup.procs" 2>/dev/null)
        [ -n "$pids" ] || break
        kill -KILL $pids 2>/dev/null
        sleep 0.1
      done
      rmdir "$cgroup" || say "could not remove $cgroup"
    done
  done
}

# cleanup runs on every way out. The mounts were made in the private namespace, invisible here; the
# root is removed only if nothing is mounted in it (rm -rf through a bound /dev or /sys would be a
# disaster).
cleanup() {
  status=$?
  set +e
  if [ "$started" = yes ]; then
    stop_daemon
    end_processes
    remove_network
    remove_cgroups
    [ -z "$leftover" ] || say "removed what was left in or by the fresh root:$leftover"
  fi
  if grep -q " $work" /proc/self/mountinfo; then
    say "something is still mounted under $work: not removing it"
    status=1
  else
    rm -rf --one-file-system "$work"
  fi
  exit $status
}
leftover="" started=no
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# The fresh root, from this machine's apt sources and with its apt network settings (a snapshot mirror's
# old Release dates, a proxy).
start=$(now)
set --
for sources in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  grep -q '^[^#[:space:]]' "$sources" 2>/dev/null && set -- "$@" "$sources"
done
[ $# -gt 0 ] || fail "no apt sources in /etc/apt/sources.list{,.d}"
apt-config dump | grep -E '^Acquire::((https?|ftp)::Proxy|Check-Valid-Until|Check-Date)' >"$work/apt.conf" || true
say "building a Debian 12 root (minbase) in $root"
mmdebstrap --quiet --variant=minbase --aptopt="$work/apt.conf" bookworm "$root" "$@"

# What the machine gives: its CA certificates (the Go module proxy is https; with those of
# /usr/local/share, a later install of ca-certificates keeps them), its resolver and hosts, and Go's
# settings of root's (go env -w writes them there).
mkdir -p "$root/etc/ssl/certs" "$root/usr/local/share/ca-certificates"
cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
cp -rL /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
cp -L /etc/resolv.conf /etc/hosts "$root/etc/"
if [ -f /root/.config/go/env ]; then
  mkdir -p "$root/root/.config/go"
  cp /root/.config/go/env "$root/root/.config/go/env"
fi

# The checkout as a fresh clone has it: the tracked files, as they are in the working tree.
mkdir -p "$root/root/engine"
if git -C "$repo" rev-parse --git-dir >/dev/null 2>&1; then
  git -C "$repo" ls-files -z | tar -C "$repo" --null -T - --ignore-failed-read -cf - | tar -C "$root/root/engine" -xf -
else
  tar -C "$repo" --exclude=./.git -cf - . | tar -C "$root/root/engine" -xf -
fi
built=$(($(now) - start))
say "the fresh root took ${built} s"

printf '%s\n' "$commands" >"$work/commands"
: >"$work/results"
no_daemon_here
started=yes # from here on, the bridge, rules and cgroups of a daemon in the root are ours to remove
unshare --mount --propagation private /bin/sh "$0" inside "$work" 9>&-

# What the README's commands did.
failed=""
while read -r n status seconds; do
  say "command $n exited with $status after $seconds s"
  [ "$status" = 0 ] || failed="command $n ($(sed -n "${n}p" "$work/commands")) exited with $status"
done <"$work/results"
[ -z "$failed" ] || {
  [ ! -f "$root/var/log/engine.log" ] || { say "the root's /var/log/engine.log ends:"; tail -n 20 "$root/var/log/engine.log" >&2; }
  fail "$failed"
}
[ "$(wc -l <"$work/results")" = 2 ] || fail "the commands did not all run"
[ "$(tail -n 1 "$work/output.1")" = hi ] || fail "the first command did not end by printing hi"

# The daemon setup.sh left running: stopped as an admin would, it must leave nothing behind.
stop_daemon
end_processes
remove_network
remove_cgroups
[ -z "$leftover" ] || fail "the daemon in the fresh root left:$leftover"
say "passed: the README's two commands work on a fresh Debian 12 machine (root ${built} s)"
