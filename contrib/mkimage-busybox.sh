#!/bin/sh
# mkimage-busybox.sh: make the `base` image from Debian's busybox-static, as Docker once made its first
# images with contrib/mkimage-busybox.sh. It builds a tiny root filesystem (busybox and a link per applet,
# /etc/passwd and /etc/group, the usual empty directories), tars it and imports it:
#
#   contrib/mkimage-busybox.sh [NAME]        # NAME defaults to base; uses `engine` from $PATH or $ENGINE
#
# The tar is built with fixed owners and times, so the same busybox always gives the same image ID.
set -eu
name=${1:-base}
engine=${ENGINE:-engine}
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "mkimage-busybox: $busybox missing: apt-get install busybox-static" >&2; exit 1; }
ldd "$busybox" >/dev/null 2>&1 && { echo "mkimage-busybox: $busybox is not static: apt-get install busybox-static" >&2; exit 1; }

rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT
trap 'exit 1' INT TERM HUP # sh runs the EXIT trap on a signal only if the signal is trapped too
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/root" "$rootfs/tmp" "$rootfs/proc" "$rootfs/sys" \
         "$rootfs/dev" "$rootfs/home" "$rootfs/var/www" "$rootfs/usr/bin" "$rootfs/usr/sbin" "$rootfs/sbin"
chmod 755 "$rootfs"
chmod 1777 "$rootfs/tmp"
cp "$busybox" "$rootfs/bin/busybox"
for applet in $("$busybox" --list-full); do
  [ -e "$rootfs/$applet" ] || ln -s /bin/busybox "$rootfs/$applet"
done
cat > "$rootfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
PASSWD
cat > "$rootfs/etc/group" <<'GROUP'
root:x:0:
daemon:x:1:
tty:x:5:
nogroup:x:65534:
GROUP
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$rootfs" -cf - . | "$engine" import - "$name"
