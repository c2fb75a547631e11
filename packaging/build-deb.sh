#!/bin/sh
# Builds the union-e2fsprogs Debian package with dpkg-deb from a tree staged
# by `make install` (the same files cargo-deb packs from the metadata in
# mke2fs-union/Cargo.toml). Used by `make deb` when cargo-deb is not
# installed, and by the packaging test.
#
#   packaging/build-deb.sh [OUTDIR]      (default: target/debian)
#
# Environment: PROFILE (release|debug, default release), TARGET_DIR,
# BUILT (the directory holding the built tools), BUILDDIR, MAKE.
# Prints the path of the .deb on the last line.
set -eu
cd "$(dirname "$0")/.."

outdir=${1:-target/debian}
profile=${PROFILE:-release}
make=${MAKE:-make}
builddir=${BUILDDIR:-target/packaging}

version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml)
arch=$(dpkg --print-architecture)
revision=1
stage=$builddir/deb-root
rm -rf "$stage"
mkdir -p "$stage/DEBIAN" "$outdir"

$make --no-print-directory install DESTDIR="$stage" PREFIX=/usr GZIP_MAN=1 \
    zshcompdir=/usr/share/zsh/vendor-completions umounthelperdir=/usr/sbin \
    PROFILE="$profile" ${TARGET_DIR:+TARGET_DIR="$TARGET_DIR"} ${BUILT:+BUILT="$BUILT"} \
    BUILDDIR="$builddir" >&2

for t in mke2fs-union e2fsck-union debugfs-union mount-union; do
    command -v strip >/dev/null && strip --strip-unneeded "$stage/usr/sbin/$t"
done

doc=$stage/usr/share/doc/union-e2fsprogs
mkdir -p "$doc"
cat > "$doc/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: union-e2fsprogs

Files: *
License: GPL-2.0-or-later
 On Debian systems the full text of the GNU General Public License
 version 2 is in /usr/share/common-licenses/GPL-2.
EOF
chmod 644 "$doc/copyright"

# Shared-library dependencies as dpkg-shlibdeps computes them (it wants a
# debian/control), else what a Rust binary links.
depends="libc6, libgcc-s1"
if command -v dpkg-shlibdeps >/dev/null; then
    tmp=$(mktemp -d)
    mkdir "$tmp/debian"
    printf 'Source: union-e2fsprogs\n\nPackage: union-e2fsprogs\nArchitecture: any\n' > "$tmp/debian/control"
    abs_stage=$(cd "$stage" && pwd)
    if d=$(cd "$tmp" && dpkg-shlibdeps -O "$abs_stage"/usr/sbin/*-union 2>/dev/null); then
        d=${d#shlibs:Depends=}
        [ -n "$d" ] && depends=$d
    fi
    rm -rf "$tmp"
fi

installed_size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<EOF
Package: union-e2fsprogs
Version: $version-$revision
Architecture: $arch
Maintainer: union-e2fsprogs developers <union-e2fsprogs@example.invalid>
Installed-Size: $installed_size
Depends: $depends
Suggests: fuse3, e2fsprogs
Section: admin
Priority: optional
Homepage: https://example.invalid/union-e2fsprogs
Description: ext2 tools with union-mount whiteouts, fallthrus and opaque directories
 mke2fs-union, e2fsck-union, debugfs-union and mount-union make, check,
 inspect and mount ext2 filesystems like e2fsprogs and util-linux, plus the
 union-mount objects of the ext2 "writable overlays" patch set.
 .
 mkfs.ext2-union and fsck.ext2-union let `mkfs -t ext2-union` and
 `fsck -t ext2-union` find them. They do not replace mkfs.ext2/fsck.ext2
 unless asked to (see /usr/share/doc/union-e2fsprogs).
 umount.fuse.union-ext2 makes umount wait until mount-union's FUSE engine
 has written its image out.
EOF

deb=$outdir/union-e2fsprogs_$version-${revision}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >&2
echo "$deb"
