#!/bin/sh
# Smoke test of an installed union-e2fsprogs (after `dpkg -i` of the .deb,
# or `make install` with PREFIX=/usr): the tools through util-linux's
# mkfs(8) and fsck(8), the man pages (man --warnings), the bash completions.
#
#   packaging/smoke-test.sh [SBINDIR] [MANDIR] [BASHCOMPDIR]
#   (defaults: /usr/sbin /usr/share/man/man8 /usr/share/bash-completion/completions)
set -eu
sbin=${1:-/usr/sbin}
man8=${2:-/usr/share/man/man8}
bashcomp=${3:-/usr/share/bash-completion/completions}
version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' \
    "$(dirname "$0")/../Cargo.toml")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export PATH="$sbin:$PATH"

for t in mke2fs-union e2fsck-union debugfs-union mount-union mkfs.ext2-union fsck.ext2-union; do
    line=$("$sbin/$t" --version | head -n 1)
    case $line in
        *-union" $version (union-e2fsprogs)") ;;
        *) echo "FAIL: $t --version: $line (want $version)"; exit 1 ;;
    esac
done

# the unmount helper umount(8) runs for the FUSE engine's mounts
"$sbin/umount.fuse.union-ext2" --help | grep -q 'Usage: umount.fuse.union-ext2'

mkfs -t ext2-union -O whiteout "$tmp/top.img" 8M
debugfs-union -R features "$tmp/top.img" 2>/dev/null | grep -q whiteout
# fsck(8) takes the type from fstab (else blkid, which says ext4) before -t
echo "$tmp/top.img /mnt/top ext2-union noauto 0 2" > "$tmp/fstab"
LIBMOUNT_FSTAB=$tmp/fstab fsck -V -t ext2-union -a "$tmp/top.img" | tee "$tmp/fsck.out"
grep -q fsck.ext2-union "$tmp/fsck.out"
LIBMOUNT_FSTAB=$tmp/fstab fsck -C -t ext2-union -a -f "$tmp/top.img"

for page in mke2fs-union e2fsck-union debugfs-union mount-union mkfs.ext2-union fsck.ext2-union; do
    f=$(ls "$man8/$page".8* | head -n 1)
    MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -E UTF-8 -l "$f" > "$tmp/page" 2> "$tmp/warn"
    if [ -s "$tmp/warn" ]; then
        echo "FAIL: man --warnings -l $f:"; cat "$tmp/warn"; exit 1
    fi
    grep -q EXAMPLES "$tmp/page"
done
if command -v man >/dev/null && [ "$man8" = /usr/share/man/man8 ]; then
    MANWIDTH=80 man 8 mkfs.ext2-union 2>/dev/null | grep -q mke2fs-union
fi

for t in mke2fs-union e2fsck-union debugfs-union mount-union mkfs.ext2-union fsck.ext2-union; do
    bash -c 'set -e; source "$1"; complete -p "$2" >/dev/null' bash "$bashcomp/$t" "$t"
done
echo "smoke test: ok ($version)"
