#!/usr/bin/env bash
# Rebuild the modules of examples/late-patching with Kbuild against Debian's 6.1 headers (fetched
# into klpkit's cache), from the sources the real-kernel test uses (test/kernel/modules), then
# convert the patches with klp convert against the real kernel image:
#   klpkit_target.ko        the module to patch (two static get_homonym_string(), a static key)
#   klpkit_patch.ko         replaces klpkit_target_report(); converted (sympos 2 of the homonym)
#   klpkit_patch_branch.ko  the same with static_branch_likely() on the module's key:
#                           klp convert --per-object (converted, then split by klp split)
#   klpkit_patch_arch.ko    the same with an alternative and a static call into the module
#                           (-DKLPKIT_ARCH): klp convert --per-object
# Patches are built with -ffunction-sections -fdata-sections so that klp split can move code.
#   build.sh [OUTDIR]   (default: this folder; test/corpus/examples-build.test.ts builds into a temp dir)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(cd "${1:-$here}" && pwd)
top="$here/../.."
root=$("$top/scripts/fetch-kernel.sh" amd64)
kver=$(cat "$root/../.complete")
headers="$root/usr/src/linux-headers-$kver"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
klp() { node "$top/dist/cli/main.js" "$@"; }
mkdir -p "$work/t" "$work/p" "$work/pb" "$work/pa"
cp "$top"/test/kernel/modules/klpkit_target/* "$work/t/"
cp "$top"/test/kernel/modules/klpkit_patch/* "$work/p/"
cp "$top"/test/kernel/modules/klpkit_patch/* "$work/pb/"
cp "$top"/test/kernel/modules/klpkit_patch/* "$work/pa/"
make -s -C "$headers" M="$work/t" modules
sections="-ffunction-sections -fdata-sections"
make -s -C "$headers" M="$work/p" KBUILD_MODPOST_WARN=1 KCFLAGS="$sections" modules 2>/dev/null
make -s -C "$headers" M="$work/pb" KBUILD_MODPOST_WARN=1 KCFLAGS="$sections -DKLPKIT_STATIC_BRANCH" modules 2>/dev/null
make -s -C "$headers" M="$work/pa" KBUILD_MODPOST_WARN=1 KCFLAGS="$sections -DKLPKIT_ARCH" modules 2>/dev/null
strip -g -o "$out/klpkit_target.ko" "$work/t/klpkit_target.ko"
# The database knows the module to patch, not the patches beside it.
mkdir -p "$work/db-modules"
cp "$out/klpkit_target.ko" "$work/db-modules/"
klp symbols build --vmlinuz "$root/boot/vmlinuz-$kver" --modules "$work/db-modules" -o "$work/kernel.klpdb" --quiet
strip -g -o "$work/p.ko" "$work/p/klpkit_patch.ko"
strip -g -o "$work/pb.ko" "$work/pb/klpkit_patch.ko"
strip -g -o "$work/pa.ko" "$work/pa/klpkit_patch.ko"
klp convert "$work/p.ko" --db "$work/kernel.klpdb" --sym get_homonym_string=klpkit_target,2 -o "$out/klpkit_patch.ko" >/dev/null
klp convert "$work/pb.ko" --db "$work/kernel.klpdb" --sym get_homonym_string=klpkit_target,2 --per-object -o "$out/klpkit_patch_branch.ko" >/dev/null
klp convert "$work/pa.ko" --db "$work/kernel.klpdb" --sym get_homonym_string=klpkit_target,2 --per-object -o "$out/klpkit_patch_arch.ko" >/dev/null
echo "built $out against $kver"
