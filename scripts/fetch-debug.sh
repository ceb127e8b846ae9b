#!/usr/bin/env bash
# Fetch Debian's debug package for the corpus kernel (linux-image-<abi>-<flavour>-dbg: the same
# modules unstripped, with their STT_FILE symbols) and unpack the named modules from it into
# klpkit's cache. The package is large (about 860 MB for 6.1) and its payload one xz stream, so
# the members are taken in one pass, once per set of members.
#
#   scripts/fetch-debug.sh FLAVOUR MODULE...
#     MODULE: a path below lib/modules/<abi>/kernel/, e.g. arch/x86/events/intel/intel-uncore.ko
#
# Prints the directory that holds them (.../usr/lib/debug/lib/modules/<abi>/kernel) on stdout.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
FLAVOUR=$1; shift
ROOT=$("$HERE/scripts/fetch-kernel.sh" "$FLAVOUR")
KVER=$(cat "$ROOT/../.complete")
DIR=$(dirname "$ROOT")/debug
WANT=$(printf '%s\n' "$@" | sort | sha256sum | cut -c1-16)
OUT=$DIR/root-$WANT
KDIR=$OUT/usr/lib/debug/lib/modules/$KVER/kernel
if [ ! -f "$OUT/.complete" ]; then
  mkdir -p "$DIR"
  PKG=linux-image-$KVER-dbg
  DEB=$(ls "$DIR"/"$PKG"_*.deb 2>/dev/null | head -n 1 || true)
  if [ -z "$DEB" ]; then
    echo "fetch-debug: downloading $PKG" >&2
    (cd "$DIR" && apt-get download -q "$PKG" >&2)
    DEB=$(ls "$DIR"/"$PKG"_*.deb | head -n 1)
  fi
  rm -rf "$OUT"
  mkdir -p "$OUT"
  members=()
  for m in "$@"; do members+=("./usr/lib/debug/lib/modules/$KVER/kernel/$m"); done
  echo "fetch-debug: unpacking ${#members[@]} module(s) from $(basename "$DEB")" >&2
  dpkg-deb --fsys-tarfile "$DEB" | tar -x -C "$OUT" "${members[@]}"
  touch "$OUT/.complete"
fi
echo "$KDIR"
