#!/bin/sh
# cgroup2-vm.sh: the engine's cgroup v2 side, tested for real in a virtual machine.
#
# The machines this project runs on mount cgroup v1 controllers (hybrid), so a cgroup2 hierarchy there
# has no memory, cpu or pids controller to give. This script boots Debian's kernel under qemu with
# cgroup v1 switched off (cgroup_no_v1=all), from an initramfs holding busybox, the engine binary and the
# base image, starts `engine -d` inside, runs containers with limits and commits a running one (which
# freezes it through cgroup.freeze). The VM prints one line per
# check, "CHECK <name> ok" or "CHECK <name> FAIL <why>"; the script exits 0 only if all passed. A
# race-enabled engine (the e2e tests under `go test -race`) writes the races it finds in the daemon and
# its keepers to files (GORACE), which the VM prints as RACE lines and which fail the check no-data-race.
#
#   contrib/cgroup2-vm.sh ENGINE_BINARY       # static engine binary (CGO_ENABLED=0 go build, or -race)
#
# It needs qemu-system-x86, busybox-static and network access to Debian's package mirror (it downloads
# the kernel package, without installing it). Everything goes into a temporary directory.
set -eu
engine=$(realpath "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM HUP # sh runs the EXIT trap on a signal only if the signal is trapped too
repo=$(cd "$(dirname "$0")/.." && pwd)

# The kernel: Debian's own, unpacked, with the overlay module (Debian builds overlayfs as a module).
cd "$work"
apt-get download -q linux-image-amd64 >/dev/null 2>&1 || true
kernel_package=$(apt-cache depends linux-image-amd64 | sed -n 's/.*Depends: \(linux-image-[0-9].*\)/\1/p' | head -n 1)
apt-get download -q "$kernel_package" >/dev/null 2>&1
dpkg-deb -x "$kernel_package"_*.deb kernel
vmlinuz=$(ls kernel/boot/vmlinuz-*)
overlay=$(find kernel/lib/modules -name overlay.ko | head -n 1)

# The initramfs: busybox, the engine, the overlay module, the base image and the test below.
mkdir -p root/bin root/var/lib/engine
cp /bin/busybox root/bin/busybox
cp "$engine" root/engine
cp "$overlay" root/overlay.ko
ENGINE="$work/save-tar" && printf '#!/bin/sh\ncat > %s/root/base.tar\n' "$work" > "$ENGINE" && chmod +x "$ENGINE"
ENGINE="$ENGINE" sh "$repo/contrib/mkimage-busybox.sh" >/dev/null

# Stage 1 copies the initramfs into a tmpfs and switches to it: pivot_root, which every container's init
# uses, cannot leave the initramfs's own root file system.
cat > root/init <<'EOF'
#!/bin/busybox sh
/bin/busybox mkdir -p /new /proc
/bin/busybox mount -t tmpfs -o size=400m root /new
/bin/busybox cp -a /bin /engine /overlay.ko /base.tar /stage2 /var /new/
exec /bin/busybox switch_root /new /stage2
EOF
cat > root/stage2 <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /tmp /etc /usr/bin /sbin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev; mount -t tmpfs tmp /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
insmod /overlay.ko redirect_dir=on metacopy=on # as some kernels default; the engine turns them off
ip link set lo up
export PATH=/bin
printf '#!/bin/sh\nexec /engine "$@"\n' > /bin/e && chmod +x /bin/e
check() { name=$1; shift; if out=$("$@" 2>&1); then echo "CHECK $name ok"; else echo "CHECK $name FAIL $(echo "$out" | tr '\n' ' ' | cut -c1-300)"; fi; }
GORACE='log_path=/tmp/race atexit_sleep_ms=0' /engine -d --bridge none >/tmp/daemon.log 2>&1 &
for i in $(seq 100); do [ -f /var/lib/engine/engine.token ] && e version >/dev/null 2>&1 && break; sleep 0.1; done
check import e import /base.tar base
check v2-detected sh -c 'e info | grep -qx "Cgroup Version: 2"'

id=$(e run -d --net none --name lim -m 64m --cpus 0.5 -c 512 --cpuset-cpus 0 --pids-limit 50 base sleep 1000)
cg=/sys/fs/cgroup/engine/$id
check memory.max sh -c "test \$(cat $cg/memory.max) = 67108864"
check cpu.max sh -c "test \"\$(cat $cg/cpu.max)\" = '50000 100000'"
check cpu.weight sh -c "test \$(cat $cg/cpu.weight) = 20"
check cpuset.cpus sh -c "test \$(cat $cg/cpuset.cpus) = 0"
check pids.max sh -c "test \$(cat $cg/pids.max) = 50"
check init-in-cgroup sh -c "grep -qx \$(e inspect lim | grep '\"Pid\"' | tr -dc 0-9) $cg/cgroup.procs"
check exec-in-cgroup sh -c "e exec lim cat /proc/self/cgroup 2>&1 | grep -x '0::/engine/$id' || { e exec lim cat /proc/self/cgroup; exit 1; }"
check stats sh -c "e stats --no-stream lim | grep -q '64MiB'"

# 32 MiB, not less: a race-enabled init needs more than 16 before it executes the command.
e run --net none --name oom -m 32m base sh -c 'x=$(head -c 64m /dev/zero | tr "\0" a); echo $x' >/dev/null 2>&1; status=$?
check oom-137 test "$status" = 137
check oom-killed sh -c 'e inspect oom | grep -q "\"OOMKilled\": true"'

check pids-limit sh -c "e run --rm --net none --pids-limit 10 base sh -c 'for i in \$(seq 30); do sleep 3 & done; wait' 2>&1 | grep -q 'can.t fork'"
# The VM's serial port, 4:64, exists and root could write to it: only the device filter stops that.
check device-refused sh -c "! e run --rm --net none base sh -c 'mknod /tmp/ttyS0 c 4 64 && echo escaped > /tmp/ttyS0'"
check device-allowed e run --rm --net none base sh -c 'head -c 1 /dev/zero >/dev/null && echo x > /dev/null'

# commit freezes a running container (cgroup.freeze, cgroups_freeze.go) while it packs, and thaws it.
e run -d --net none --name frz base sh -c 'dd if=/dev/zero of=/big bs=1M count=32 2>/dev/null; i=0; while :; do i=$((i+1)); echo $i > /tmp/c.new; mv /tmp/c.new /tmp/c; done' >/dev/null
fcg=/sys/fs/cgroup/engine/$(e inspect frz | grep '"Id"' | cut -d'"' -f4)
sleep 2
check frz-running sh -c "test -f $fcg/cgroup.events || { e ps -a; e inspect frz | grep -A14 '\"State\"'; tail -5 /tmp/daemon.log; exit 1; }"
( while ! grep -q 'frozen 1' $fcg/cgroup.events; do :; done; touch /tmp/frozen-seen ) & watcher=$!
check commit-running e commit frz frzimg
check commit-froze test -f /tmp/frozen-seen
kill $watcher 2>/dev/null
check commit-thawed grep -qx 'frozen 0' $fcg/cgroup.events
check commit-counts-on sh -c "a=\$(e exec frz cat /tmp/c); sleep 1; test \"\$(e exec frz cat /tmp/c)\" != \"\$a\""
check commit-image sh -c 'e run --rm --net none frzimg cat /tmp/c | grep -qx "[0-9][0-9]*"'
# overlay was loaded with redirect_dir and metacopy on: the engine's mounts turn them off, so
# a renamed directory and a chmod-ed file are whole in the rw dir, and a commit keeps their content.
e run --net none --name dataimg base sh -c 'mkdir /data && echo whole > /data/file' >/dev/null
e commit dataimg withdata >/dev/null
e run --net none --name mover withdata sh -c 'mv /data /data2 && chmod 600 /data2/file' >/dev/null
check commit-renamed-dir sh -c 'e commit mover moved >/dev/null && test "$(e run --rm --net none moved cat /data2/file)" = whole'

e rm -f lim oom frz dataimg mover >/dev/null
check removed sh -c "! test -e $cg"
kill %1; wait
check parent-removed sh -c "! test -e /sys/fs/cgroup/engine"
check no-data-race sh -c '! ls /tmp/race.* >/dev/null 2>&1'
cat /tmp/race.* 2>/dev/null | sed 's/^/RACE /'
grep -q 'engine -d: ' /tmp/daemon.log && sed 's/^/DAEMON /' /tmp/daemon.log
echo "VM DONE"
poweroff -f
EOF
chmod +x root/init root/stage2
(cd root && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) > initramfs.gz

# qemu emulates the CPU (TCG), so the boot takes a while. Not KVM even where /dev/kvm exists: under
# nested virtualisation it can hang the guest before the kernel starts (it did on our CI machine, in
# SeaBIOS, for the whole timeout), while TCG ran the whole check well within it.
timeout 600 qemu-system-x86_64 -machine accel=tcg -m 1024 -smp 2 -nographic -no-reboot \
	-kernel "$vmlinuz" -initrd initramfs.gz \
	-append "console=ttyS0 cgroup_no_v1=all panic=-1 quiet" >console.log 2>&1 || true
grep -E '^(CHECK|DAEMON|RACE|VM DONE)' console.log | tr -d '\r'
grep -q '^VM DONE' console.log || { echo "cgroup2-vm: the VM did not finish; its console:" >&2; tail -n 40 console.log >&2; exit 1; }
! grep -q '^CHECK .* FAIL' console.log
