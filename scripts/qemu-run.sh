#!/usr/bin/env bash
# Boot a Debian kernel unpacked by scripts/fetch-kernel.sh under QEMU, with a busybox initramfs
# whose /init runs a shell script, and print what the script printed. The same recipe as the
# tests' test/kernel/qemu.ts (software emulation: never KVM). The script's output travels on the
# second serial port, so kernel messages on the console never interleave with it; run `dmesg` in
# the script to see them, or set QEMU_CONSOLE=1 to have the console on stderr.
#
#   scripts/qemu-run.sh ROOT SCRIPT [FILE...]
#     ROOT:   the unpacked root that fetch-kernel.sh prints
#     SCRIPT: a busybox sh script, run after /proc, /sys and /dev are mounted
#     FILE:   copied to /m/ in the guest (modules to insmod)
#
# Exits non-zero when the guest did not reach the end of its script (a panic or a hang).
# QEMU_TIMEOUT (seconds, default 180) bounds the boot.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: scripts/qemu-run.sh ROOT SCRIPT [FILE...]" >&2
  exit 2
fi
ROOT=$1
SCRIPT=$2
shift 2
KVER=$(ls "$ROOT/lib/modules" | head -n 1)
KERNEL=$ROOT/boot/vmlinuz-$KVER
BUSYBOX=$(command -v busybox || true)
[ -f /bin/busybox ] && BUSYBOX=/bin/busybox
if [ -z "$BUSYBOX" ]; then
  echo "qemu-run: busybox not found: apt-get install busybox-static" >&2
  exit 2
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/init/bin" "$TMP/init/m" "$TMP/init/proc" "$TMP/init/sys" "$TMP/init/dev" "$TMP/init/tmp"
cp "$BUSYBOX" "$TMP/init/bin/busybox"
for f in "$@"; do cp "$f" "$TMP/init/m/"; done
{
  printf '#!/bin/busybox sh\n/bin/busybox --install -s /bin\n'
  printf 'mount -t proc proc /proc\nmount -t sysfs sysfs /sys\nmount -t devtmpfs devtmpfs /dev\n'
  printf 'sh /script.sh > /dev/ttyS1 2>&1\necho QEMU-RUN-END > /dev/ttyS1\npoweroff -f\n'
} > "$TMP/init/init"
cp "$SCRIPT" "$TMP/init/script.sh"
chmod 755 "$TMP/init/init"
(cd "$TMP/init" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) > "$TMP/initrd"
timeout "${QEMU_TIMEOUT:-180}" qemu-system-x86_64 -machine q35 -cpu max -smp 1 -m 512M \
  -kernel "$KERNEL" -initrd "$TMP/initrd" \
  -append 'console=ttyS0 nokaslr panic=-1 oops=panic quiet loglevel=4' \
  -nographic -no-reboot -monitor none -display none \
  -serial "file:$TMP/console" -serial "file:$TMP/output" || true
clean() { tr -d '\r' < "$1" | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1bc//g'; }
[ "${QEMU_CONSOLE:-0}" = 1 ] && clean "$TMP/console" >&2
if ! grep -q QEMU-RUN-END "$TMP/output" 2>/dev/null; then
  echo "qemu-run: the guest did not reach the end of its script (a panic or a hang); its console:" >&2
  clean "$TMP/console" | tail -n 40 >&2
  [ -f "$TMP/output" ] && clean "$TMP/output"
  exit 1
fi
clean "$TMP/output" | grep -v '^QEMU-RUN-END$'
