//! `-d`: copy trees into the new filesystem, layer after layer, keeping
//! holes, hard links, special files, owners, modes, times and xattrs, and
//! translating overlayfs / OCI union markers into whiteouts and opaque
//! directories when the filesystem has the whiteout feature.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use anyhow::{anyhow, Context, Result};
use ext2fs::dirent::ft;
use ext2fs::fs::{Filesystem, OpenOptions};
use ext2fs::image::Image;
use ext2fs::inode::{self, ROOT_INO};
use ext2fs::xattr::Xattr;

use crate::options::UnionSource;

struct Copier {
    fs: Filesystem,
    union: Option<UnionSource>,
    /// (st_dev, st_ino) of multiply-linked sources -> our inode.
    links: HashMap<(u64, u64), u32>,
    xattrs: bool,
    /// Several -d layers: names may already exist from a lower one.
    layered: bool,
    /// Whiteouts made from markers, by (directory, name): a live entry of
    /// the same name later in the layer replaces them (the live entry wins).
    union_made: std::collections::HashSet<(u32, Vec<u8>)>,
    progress: Option<indicatif::ProgressBar>,
    files: u64,
    bytes: u64,
    clamp: Option<u32>,
    /// One copy buffer for every file (allocating per file costs more
    /// than the copy for small files).
    buf: Vec<u8>,
}

/// `clamp`: SOURCE_DATE_EPOCH; every time is at most this, and the times
/// the library sets itself are this (reproducible builds).
pub fn populate(
    device: &Path,
    offset: u64,
    roots: &[std::path::PathBuf],
    source: UnionSource,
    quiet: bool,
    clamp: Option<u32>,
) -> Result<()> {
    let image = Image::open_read_write(device)
        .map_err(|e| anyhow!("{e}"))?
        .with_offset(offset);
    let mut fs =
        Filesystem::from_image(image, &OpenOptions::default()).map_err(|e| anyhow!("{e}"))?;
    fs.set_fixed_time(clamp);
    // One layer: names are unique per directory, so inserts can append.
    fs.set_unique_names(roots.len() == 1);
    let union = fs.whiteout_feature().then_some(source);
    let xattrs = fs.sb.has_compat(ext2fs::features::compat::EXT_ATTR);
    let progress = (!quiet && std::io::stdout().is_terminal()).then(|| {
        let pb = indicatif::ProgressBar::new_spinner();
        pb.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        pb
    });
    let mut c = Copier {
        fs,
        union,
        links: HashMap::new(),
        xattrs,
        layered: roots.len() > 1,
        union_made: Default::default(),
        progress,
        files: 0,
        bytes: 0,
        clamp,
        buf: vec![0u8; 1 << 20],
    };
    let mut result = Ok(());
    for root in roots {
        let meta =
            std::fs::symlink_metadata(root).with_context(|| format!("{}", root.display()))?;
        if !meta.is_dir() {
            result = Err(anyhow!("{}: not a directory", root.display()));
            break;
        }
        result = c
            .set_attrs(ROOT_INO, root, &meta)
            .and_then(|_| c.copy_dir(root, ROOT_INO));
        if result.is_err() {
            break;
        }
    }
    if let Some(pb) = &c.progress {
        pb.finish_and_clear();
    }
    if let Err(e) = result {
        // Never leave a half-filled image that claims to be clean.
        c.fs.sb.s_state &= !ext2fs::superblock::STATE_VALID;
        c.fs.mark_super_dirty();
        let _ = c.fs.sync();
        return Err(e.context("the filesystem is incomplete and marked not clean"));
    }
    c.fs.close().map_err(|e| anyhow!("{e}"))
}

fn lib<T>(r: ext2fs::Result<T>, path: &Path) -> Result<T> {
    r.map_err(|e| anyhow!("{}: {e}", path.display()))
}

impl Copier {
    fn tick(&mut self, path: &Path, bytes: u64) {
        self.files += 1;
        self.bytes += bytes;
        if let Some(pb) = &self.progress {
            if self.files.is_multiple_of(64) {
                pb.set_message(format!(
                    "{} files, {} MiB: {}",
                    self.files,
                    self.bytes >> 20,
                    path.display()
                ));
                pb.tick();
            }
        }
    }

    fn copy_dir(&mut self, src: &Path, dst: u32) -> Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(src)
            .with_context(|| format!("{}", src.display()))?
            .collect::<std::io::Result<_>>()
            .with_context(|| format!("{}", src.display()))?;
        // Sorted so that the image does not depend on readdir order.
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            let name = e.file_name();
            let name = name.as_encoded_bytes();
            let meta =
                std::fs::symlink_metadata(&path).with_context(|| format!("{}", path.display()))?;
            if self.union_marker(&path, name, &meta, dst)? {
                continue;
            }
            self.tick(&path, meta.len());
            // A later layer replaces what an earlier one put here.
            let existing = if self.layered || self.union_made.contains(&(dst, name.to_vec())) {
                lib(self.fs.lookup_entry(dst, name), &path)?
            } else {
                None
            };
            if let Some(old) = &existing {
                let both_dirs = old.inode != 0
                    && meta.is_dir()
                    && lib(self.fs.read_inode(old.inode), &path)?.is_dir();
                if both_dirs {
                    self.set_attrs(old.inode, &path, &meta)?;
                    self.copy_dir(&path, old.inode)?;
                    continue;
                }
                self.remove_tree(dst, name, &path)?;
            }
            let ino = self.copy_one(&path, name, &meta, dst)?;
            if meta.is_dir() {
                self.copy_dir(&path, ino)?;
            }
        }
        self.finish_dir(dst, src)
    }

    /// Handles union markers (with the whiteout feature): returns true when
    /// the entry was a marker and has been turned into a union object.
    fn union_marker(
        &mut self,
        path: &Path,
        name: &[u8],
        meta: &std::fs::Metadata,
        dst: u32,
    ) -> Result<bool> {
        match self.union {
            Some(UnionSource::Overlay) if meta.file_type().is_char_device() && meta.rdev() == 0 => {
                self.replace_with_union_entry(dst, name, path)?;
                return Ok(true);
            }
            Some(UnionSource::Oci) => {
                if name == b".wh..wh..opq" {
                    lib(self.fs.set_opaque(dst, true), path)?;
                    return Ok(true);
                }
                if let Some(hidden) = name.strip_prefix(b".wh.") {
                    if hidden.is_empty() {
                        return Err(anyhow!(
                            "{}: whiteout marker without a name",
                            path.display()
                        ));
                    }
                    self.replace_with_union_entry(dst, hidden, path)?;
                    return Ok(true);
                }
            }
            _ => {}
        }
        Ok(false)
    }

    fn replace_with_union_entry(&mut self, dst: u32, name: &[u8], path: &Path) -> Result<()> {
        self.union_made.insert((dst, name.to_vec()));
        if lib(self.fs.lookup_entry(dst, name), path)?.is_some() {
            self.remove_tree(dst, name, path)?;
        }
        lib(self.fs.add_union_entry(dst, name, ft::WHT), path)
    }

    /// Removes `name` (a whole subtree for a directory) from `dir`.
    fn remove_tree(&mut self, dir: u32, name: &[u8], path: &Path) -> Result<()> {
        let Some(e) = lib(self.fs.lookup_entry(dir, name), path)? else {
            return Ok(());
        };
        if e.inode == 0 {
            lib(self.fs.remove_entry(dir, name), path)?;
            return Ok(());
        }
        if lib(self.fs.read_inode(e.inode), path)?.is_dir() {
            for child in lib(self.fs.read_dir(e.inode), path)? {
                if !child.is_dot() && !child.is_dotdot() {
                    self.remove_tree(e.inode, &child.name, path)?;
                }
            }
            lib(self.fs.rmdir(dir, name), path)
        } else {
            lib(self.fs.unlink(dir, name), path)
        }
    }

    fn copy_one(
        &mut self,
        path: &Path,
        name: &[u8],
        meta: &std::fs::Metadata,
        dst: u32,
    ) -> Result<u32> {
        let ft = meta.file_type();
        let perm = (meta.mode() & 0o7777) as u16;
        if meta.nlink() > 1 && !ft.is_dir() {
            if let Some(&ino) = self.links.get(&(meta.dev(), meta.ino())) {
                lib(self.fs.link(dst, name, ino), path)?;
                return Ok(ino);
            }
        }
        let ino = if ft.is_dir() {
            lib(self.fs.mkdir(dst, name, perm), path)?
        } else if ft.is_symlink() {
            let target = std::fs::read_link(path).with_context(|| format!("{}", path.display()))?;
            lib(
                self.fs
                    .symlink(dst, name, target.as_os_str().as_encoded_bytes()),
                path,
            )?
        } else if ft.is_file() {
            let ino = lib(self.fs.create(dst, name, inode::S_IFREG | perm), path)?;
            self.copy_data(path, ino)?;
            ino
        } else {
            let (mode, major, minor) = if ft.is_char_device() {
                (
                    inode::S_IFCHR,
                    rustix::fs::major(meta.rdev()),
                    rustix::fs::minor(meta.rdev()),
                )
            } else if ft.is_block_device() {
                (
                    inode::S_IFBLK,
                    rustix::fs::major(meta.rdev()),
                    rustix::fs::minor(meta.rdev()),
                )
            } else if ft.is_fifo() {
                (inode::S_IFIFO, 0, 0)
            } else {
                (inode::S_IFSOCK, 0, 0)
            };
            lib(self.fs.mknod(dst, name, mode | perm, major, minor), path)?
        };
        if meta.nlink() > 1 && !ft.is_dir() {
            self.links.insert((meta.dev(), meta.ino()), ino);
        }
        self.set_attrs(ino, path, meta)?;
        Ok(ino)
    }

    /// Copies a file's data region by region (SEEK_DATA/SEEK_HOLE), so
    /// holes stay holes.
    fn copy_data(&mut self, path: &Path, ino: u32) -> Result<()> {
        let f =
            std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        let size = f.metadata()?.len();
        let mut rec = lib(self.fs.read_inode(ino), path)?;
        let mut buf = std::mem::take(&mut self.buf);
        let res = self.copy_regions(&f, path, ino, &mut rec, size, &mut buf);
        self.buf = buf;
        res?;
        if rec.size() != size {
            // A trailing hole: the size says so, no blocks.
            rec.set_size(size);
            lib(self.fs.write_inode(ino, &rec), path)?;
        }
        Ok(())
    }

    fn copy_regions(
        &mut self,
        f: &std::fs::File,
        path: &Path,
        ino: u32,
        rec: &mut ext2fs::inode::Inode,
        size: u64,
        buf: &mut [u8],
    ) -> Result<()> {
        use rustix::fs::{seek, SeekFrom};
        use std::os::unix::fs::FileExt;
        let mut pos = 0u64;
        while pos < size {
            let start = match seek(f, SeekFrom::Data(pos as i64)) {
                Ok(p) => p,
                Err(rustix::io::Errno::NXIO) => break,
                Err(_) => pos, // no SEEK_DATA here: read everything
            };
            let end = seek(f, SeekFrom::Hole(start as i64))
                .unwrap_or(size)
                .min(size);
            let mut at = start;
            while at < end {
                let n = ((end - at) as usize).min(buf.len());
                f.read_exact_at(&mut buf[..n], at)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                lib(self.fs.write_range(ino, rec, at, &buf[..n]), path)?;
                at += n as u64;
            }
            pos = end.max(start + 1);
        }
        Ok(())
    }

    fn set_attrs(&mut self, ino: u32, path: &Path, meta: &std::fs::Metadata) -> Result<()> {
        let mut rec = lib(self.fs.read_inode(ino), path)?;
        rec.base.i_mode = (rec.base.i_mode & inode::S_IFMT) | (meta.mode() & 0o7777) as u16;
        rec.set_uid(meta.uid());
        rec.set_gid(meta.gid());
        let t = |v: i64| {
            let v = v.clamp(0, u32::MAX as i64) as u32;
            self.clamp.map_or(v, |c| v.min(c))
        };
        rec.base.i_atime = t(meta.atime());
        rec.base.i_mtime = t(meta.mtime());
        rec.base.i_ctime = t(meta.ctime());
        lib(self.fs.write_inode(ino, &rec), path)?;
        if self.xattrs {
            let mut attrs = read_xattrs(path)?;
            let opaque = attrs
                .iter()
                .any(|a| a.name == "trusted.overlay.opaque" && a.value == b"y");
            if self.union == Some(UnionSource::Overlay) && meta.is_dir() {
                attrs.retain(|a| !a.name.starts_with("trusted.overlay."));
                if opaque {
                    lib(self.fs.set_opaque(ino, true), path)?;
                }
            }
            if !attrs.is_empty() {
                lib(self.fs.set_xattrs(ino, &attrs), path)?;
            }
        }
        Ok(())
    }

    /// Big directories become htrees (the real mke2fs -d leaves them linear).
    fn finish_dir(&mut self, dir: u32, path: &Path) -> Result<()> {
        let rec = lib(self.fs.read_inode(dir), path)?;
        if self.fs.sb.has_compat(ext2fs::features::compat::DIR_INDEX)
            && rec.size() > self.fs.block_size() as u64
            && rec.flags() & inode::flags::INDEX == 0
        {
            lib(self.fs.index_directory(dir), path)?;
        }
        Ok(())
    }
}

/// All xattrs of a path (not following symlinks), names in order.
fn read_xattrs(path: &Path) -> Result<Vec<Xattr>> {
    // Ask for the sizes first: most files have no xattrs at all.
    let size = match rustix::fs::llistxattr(path, &mut []) {
        Ok(0) => return Ok(Vec::new()),
        Ok(n) => n,
        Err(rustix::io::Errno::NOTSUP) => return Ok(Vec::new()),
        Err(e) => return Err(anyhow!("{}: listing xattrs: {e}", path.display())),
    };
    let mut names = vec![0u8; size];
    let n = rustix::fs::llistxattr(path, &mut names)
        .map_err(|e| anyhow!("{}: listing xattrs: {e}", path.display()))?;
    let mut out = Vec::new();
    for name in names[..n].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        let len = rustix::fs::lgetxattr(path, name.as_str(), &mut [])
            .map_err(|e| anyhow!("{}: reading xattr {name}: {e}", path.display()))?;
        let mut value = vec![0u8; len];
        let len = rustix::fs::lgetxattr(path, name.as_str(), &mut value)
            .map_err(|e| anyhow!("{}: reading xattr {name}: {e}", path.display()))?;
        value.truncate(len);
        out.push(Xattr { name, value });
    }
    out.sort();
    Ok(out)
}
