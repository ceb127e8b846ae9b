#!/usr/bin/env bash
# Rebuild examples/klp_demo.ko with Kbuild against Debian's headers (fetched into klpkit's cache).
#   build.sh [OUTDIR]   (default: examples/; test/corpus/examples-build.test.ts builds into a temp dir)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(cd "${1:-$here/..}" && pwd)
root=$("$here/../../scripts/fetch-kernel.sh" amd64)
kver=$(cat "$root/../.complete")
work=$(mktemp -d)
cp "$here/klp_demo.c" "$here/Kbuild" "$work/"
# The two non-exported references are expected: modpost must only warn about them.
make -s -C "$root/usr/src/linux-headers-$kver" M="$work" KBUILD_MODPOST_WARN=1 modules
strip -g -o "$out/klp_demo.ko" "$work/klp_demo.ko"
rm -rf "$work"
echo "built $out/klp_demo.ko against $kver"
