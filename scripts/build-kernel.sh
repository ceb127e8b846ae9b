#!/usr/bin/env bash
# Build the kernel the per-object series runs in: Debian's linux-source for the series in
# kernel/SERIES, with kernel/patches/*.patch applied, configured from tinyconfig plus
# kernel/klpkit.config, bzImage and modules built. Cached in KLPKIT_CACHE by a hash of everything
# that went in (exact source version, patches, config fragment, this script, the compiler), so a
# second run with the same inputs builds nothing; ccache (when installed) keeps a changed series
# cheap to rebuild.
#
#   scripts/build-kernel.sh [--no-patches]
#     --no-patches: the same kernel without the series (the baseline the series is compared with)
#
# Progress goes to stderr; the last line on stdout is the kernel's build directory: external
# modules build against it (make -C DIR M=...), and it holds .config, Module.symvers, vmlinux and
# arch/x86/boot/bzImage.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${KLPKIT_CACHE:-$HOME/.cache/klpkit}
SERIES=$(cat "$HERE/kernel/SERIES")
PATCHES=1
if [ "${1:-}" = --no-patches ]; then PATCHES=0; fi
say() { echo "build-kernel: $*" >&2; }

PKG=linux-source-$SERIES
VERSION=$(apt-cache policy "$PKG" 2>/dev/null | awk '/Candidate:/{print $2; exit}')
if [ -z "$VERSION" ] || [ "$VERSION" = "(none)" ]; then
  echo "build-kernel: $PKG is not known to apt (run 'apt-get update' first)" >&2
  exit 1
fi
patches=()
if [ "$PATCHES" = 1 ]; then
  for p in "$HERE"/kernel/patches/[0-9][0-9][0-9][0-9]-*.patch; do
    [ -e "$p" ] || continue
    case $(basename "$p") in 0000-*) continue ;; esac # the cover letter
    patches+=("$p")
  done
fi
KEY=$( {
  echo "$PKG=$VERSION"
  gcc --version | head -n 1
  cat "$HERE/kernel/klpkit.config" "$0"
  for p in "${patches[@]}"; do basename "$p"; cat "$p"; done
} | sha256sum | cut -c1-16)
VARIANT=base
if [ "${#patches[@]}" -gt 0 ]; then VARIANT=series; fi
OUT=$CACHE/kernel-build/$SERIES-$KEY
SRC=$OUT/linux-source-$SERIES
say "$PKG $VERSION, ${#patches[@]} patch(es) ($VARIANT), key $KEY"
if [ -f "$OUT/.complete" ]; then
  say "cached: $SRC"
  echo "$SRC"
  exit 0
fi

# The source package, downloaded once per version.
DEBS=$CACHE/kernel-src
mkdir -p "$DEBS"
# apt-get download names the file PKG_VERSION_all.deb, an epoch's colon written %3a.
DEB=$DEBS/${PKG}_${VERSION//:/%3a}_all.deb
if [ ! -f "$DEB" ]; then
  say "downloading $PKG $VERSION"
  (cd "$DEBS" && apt-get download -q "$PKG=$VERSION" >&2)
fi

rm -rf "$OUT"
mkdir -p "$OUT"
say "unpacking"
dpkg-deb --fsys-tarfile "$DEB" | tar -xO --wildcards "*/$PKG.tar.xz" | tar -xJ -C "$OUT"
cd "$SRC"
for p in "${patches[@]}"; do
  say "applying $(basename "$p")"
  patch -p1 --quiet --forward < "$p"
done

say "configuring"
make -s tinyconfig >&2
scripts/kconfig/merge_config.sh -m .config "$HERE/kernel/klpkit.config" >/dev/null
make -s olddefconfig >&2
missing=0
while read -r line; do
  case $line in CONFIG_*) grep -qxF "$line" .config || { say "not in .config: $line"; missing=1; } ;; esac
done < "$HERE/kernel/klpkit.config"
[ "$missing" = 0 ] || { echo "build-kernel: the config fragment did not land (above)" >&2; exit 1; }

CC=gcc
if command -v ccache >/dev/null; then
  export CCACHE_DIR=$CACHE/ccache CCACHE_MAXSIZE=2G CCACHE_BASEDIR=$OUT CCACHE_NOHASHDIR=1
  CC="ccache gcc"
fi
JOBS=$(nproc)
say "building bzImage and modules with $JOBS jobs ($CC)"
start=$(date +%s)
make -s -j"$JOBS" CC="$CC" bzImage modules >&2
say "built in $(( $(date +%s) - start )) s"
# Older builds of the same variant go (a tree with its objects is ~1.8 GB); the base and the
# series are kept side by side.
for d in "$CACHE"/kernel-build/"$SERIES"-*; do
  if [ "$d" != "$OUT" ] && [ "$(cat "$d/.variant" 2>/dev/null)" = "$VARIANT" ]; then rm -rf "$d"; fi
done
echo "$VARIANT" > "$OUT/.variant"
make -s kernelrelease > "$OUT/.complete"
echo "$SRC"
