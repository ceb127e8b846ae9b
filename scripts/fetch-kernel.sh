#!/usr/bin/env bash
# Fetch Debian bookworm's kernel packages into klpkit's cache and unpack them there.
# Nothing is installed system-wide: `apt-get download` + `dpkg-deb -x` only.
#
#   scripts/fetch-kernel.sh [FLAVOUR [SERIES]]
#     FLAVOUR: amd64 (default) or cloud-amd64
#     SERIES:  empty for bookworm's default kernel (6.1), or e.g. 6.12 for linux-image-6.12-<flavour>
#
# Prints the unpacked root (KLPKIT_CACHE/kernel/<abi>-<flavour>/root) on stdout.
# The ABI is resolved through the meta-package (linux-image-<flavour>), because the archive can
# list headers for an ABI whose signed image is not published yet (see docs/testing.md).
set -euo pipefail
FLAVOUR=${1:-amd64}
SERIES=${2:-}
META=linux-image-${SERIES:+$SERIES-}$FLAVOUR
CACHE=${KLPKIT_CACHE:-$HOME/.cache/klpkit}
KPKG=$(apt-cache depends "$META" 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')
if [ -z "$KPKG" ]; then
  echo "fetch-kernel: cannot resolve $META (run 'apt-get update' first)" >&2
  exit 1
fi
ABI=${KPKG#linux-image-}; ABI=${ABI%-"$FLAVOUR"}
KVER=$ABI-$FLAVOUR
DIR=$CACHE/kernel/$KVER
ROOT=$DIR/root
if [ ! -f "$DIR/.complete" ]; then
  mkdir -p "$DIR/debs"
  rm -rf "$ROOT"
  KBUILD=$(apt-cache depends "linux-headers-$KVER" 2>/dev/null | awk '/Depends: linux-kbuild-/{print $2; exit}')
  (cd "$DIR/debs" && apt-get download -q "$KPKG" "linux-headers-$KVER" "linux-headers-$ABI-common" "${KBUILD:-linux-kbuild-6.1}" >&2)
  mkdir -p "$ROOT"
  for d in "$DIR"/debs/*.deb; do dpkg-deb -x "$d" "$ROOT"; done
  # Debian's arch headers Makefile includes the common one by absolute path: point it into the cache.
  sed -i "s|^include /usr/src/|include $ROOT/usr/src/|" "$ROOT/usr/src/linux-headers-$KVER/Makefile"
  ln -sfn "../../../usr/src/linux-headers-$KVER" "$ROOT/lib/modules/$KVER/build"
  echo "$KVER" > "$DIR/.complete"
fi
echo "$ROOT"
