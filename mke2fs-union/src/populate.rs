//! `-d`: copy trees into the new filesystem, layer after layer, keeping
//! holes, hard links, special files, owners, modes, times and xattrs, and
//! translating overlayfs / OCI union markers into whiteouts and opaque
//! directories when the filesystem has the whiteout feature.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::Path;

use anyhow::{anyhow, Result};
use ext2fs::dirent::ft;
use ext2fs::fs::{Filesystem, OpenOptions};
use ext2fs::image::Image;
use ext2fs::inode::{self, ROOT_INO};
use ext2fs::xattr::{posix_acl_to_disk, ACL_NAMES};

use crate::options::UnionSource;
use crate::source::{self, Data, Dir, Entry, Kind, Meta, Model, Seg};

struct Copier<'m> {
    fs: Filesystem,
    model: &'m Model,
    /// Model node -> our inode, for hard links.
    made: HashMap<usize, u32>,
    progress: Option<indicatif::ProgressBar>,
    files: u64,
    bytes: u64,
    clamp: Option<u32>,
    /// Owner, mode and times of directories no source describes.
    implicit: Meta,
    /// One copy buffer for every file (allocating per file costs more
    /// than the copy for small files).
    buf: Vec<u8>,
}

/// Reads every source (directories and tar archives, lowest layer first)
/// into the model and merges them: markers are interpreted when the
/// filesystem has the whiteout feature (the top layer's stay as union
/// objects) or when there are several layers (they delete and clear, the
/// result is flattened); one layer without -O whiteout is copied as it is.
fn build_tree(
    roots: &[std::path::PathBuf],
    source: UnionSource,
    union_on: bool,
    xattrs: bool,
    limits: source::Limits,
) -> Result<(Model, Dir)> {
    let mut model = Model {
        limits,
        ..Model::default()
    };
    let mut merged = Dir::default();
    let mut links = HashMap::new();
    let interpret = union_on || roots.len() > 1;
    if roots.iter().filter(|r| r.as_os_str() == "-").count() > 1 {
        return Err(anyhow!(
            "standard input ('-d -') can be only one of the sources"
        ));
    }
    for (i, root) in roots.iter().enumerate() {
        let is_dir = root.as_os_str() != "-"
            && std::fs::metadata(root)
                .map_err(|e| anyhow!("{}: {e}", root.display()))?
                .is_dir();
        let mut layer = if is_dir {
            source::read_dir_layer(&mut model, root, xattrs, &mut links)?
        } else {
            crate::tarball::read_tar_layer(&mut model, root, &merged)?
        };
        if interpret {
            source::extract_markers(&model, &mut layer, source)?;
        }
        let keep = union_on && i + 1 == roots.len();
        source::merge(layer, &mut merged, keep);
    }
    Ok((model, merged))
}

/// `clamp`: SOURCE_DATE_EPOCH; every time is at most this, and the times
/// the library sets itself are this (reproducible builds). `now`: the
/// times of directories an archive implies without a member for them.
/// `image`: the device, from the filesystem's start (its undo log, -z,
/// attached).
pub fn populate(
    mut image: Image,
    roots: &[std::path::PathBuf],
    source: UnionSource,
    quiet: bool,
    clamp: Option<u32>,
    now: u32,
) -> Result<()> {
    // File data goes straight to the disk: no second copy through the
    // page cache, and nothing left for the final fsync to write back.
    image.use_direct_writes();
    let mut fs =
        Filesystem::from_image(image, &OpenOptions::default()).map_err(|e| anyhow!("{e}"))?;
    fs.set_fixed_time(clamp);
    // The merged tree has one entry per name: inserts can append.
    fs.set_unique_names(true);
    // Inode table, indirect and directory blocks are rewritten many
    // times in a copy: hold them (16 MiB at most) and write each once.
    fs.set_write_cache(16 << 20);
    let union_on = fs.whiteout_feature();
    let xattrs = fs.sb().has_compat(ext2fs::features::compat::EXT_ATTR);
    let bs = fs.block_size() as u64;
    let limits = source::Limits {
        max_file: ext2fs::block_map::max_logical_blocks(fs.block_size()).saturating_mul(bs),
        free_bytes: (fs.sb().s_free_blocks_count as u64).saturating_mul(bs),
        free_inodes: fs.sb().s_free_inodes_count as u64,
    };
    let (model, tree) = match build_tree(roots, source, union_on, xattrs, limits) {
        Ok(t) => t,
        Err(e) => {
            // Nothing was copied, but the image is not what was asked for.
            mark_not_clean(&mut fs);
            return Err(e.context("nothing was copied; the filesystem is marked not clean"));
        }
    };
    let progress = (!quiet && std::io::stdout().is_terminal()).then(|| {
        let pb = indicatif::ProgressBar::new_spinner();
        pb.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        pb
    });
    let root_meta = fs.read_inode(ROOT_INO).map_err(|e| anyhow!("{e}"))?;
    let mut c = Copier {
        fs,
        model: &model,
        made: HashMap::new(),
        progress,
        files: 0,
        bytes: 0,
        clamp,
        implicit: Meta {
            perm: 0o755,
            uid: root_meta.uid(),
            gid: root_meta.gid(),
            atime: now as i64,
            mtime: now as i64,
            ctime: now as i64,
            xattrs: Vec::new(),
        },
        buf: vec![0u8; 1 << 20],
    };
    let result = c.copy_root(&tree);
    if let Some(pb) = &c.progress {
        pb.finish_and_clear();
    }
    if let Err(e) = result {
        // Never leave a half-filled image that claims to be clean.
        mark_not_clean(&mut c.fs);
        return Err(e.context("the filesystem is incomplete and marked not clean"));
    }
    if let Err(e) = c.fs.sync() {
        // A write that failed late (the writer thread reports it here):
        // the image must not claim to be clean, as far as we can still say.
        mark_not_clean(&mut c.fs);
        return Err(anyhow!("{e}").context("the filesystem is incomplete and marked not clean"));
    }
    Ok(())
}

/// Best effort: the superblock says "not clean", so that e2fsck checks
/// an image a copy could not finish.
fn mark_not_clean(fs: &mut Filesystem) {
    fs.update_superblock(|sb| sb.s_state &= !ext2fs::superblock::STATE_VALID);
    let _ = fs.sync();
}

fn lib<T>(r: ext2fs::Result<T>, what: &str) -> Result<T> {
    r.map_err(|e| anyhow!("{what}: {e}"))
}

impl<'m> Copier<'m> {
    fn tick(&mut self, what: &str, bytes: u64) {
        self.files += 1;
        self.bytes += bytes;
        if let Some(pb) = &self.progress {
            if self.files.is_multiple_of(64) {
                pb.set_message(format!(
                    "{} files, {} MiB: {what}",
                    self.files,
                    self.bytes >> 20
                ));
                pb.tick();
            }
        }
    }

    fn copy_root(&mut self, tree: &Dir) -> Result<()> {
        if let Some(m) = &tree.meta {
            self.set_attrs(ROOT_INO, m, &tree.origin)?;
        }
        self.copy_dir(tree, ROOT_INO)
    }

    fn copy_dir(&mut self, dir: &Dir, dst: u32) -> Result<()> {
        if dir.opaque {
            lib(self.fs.set_opaque(dst, true), &dir.origin)?;
        }
        // BTreeMap order: the image depends on names only.
        for (name, e) in &dir.entries {
            match e {
                Entry::Whiteout => {
                    lib(self.fs.add_union_entry(dst, name, ft::WHT), &dir.origin)?;
                }
                Entry::Dir(sub) => {
                    self.tick(&sub.origin, 0);
                    let meta = sub.meta.as_ref().unwrap_or(&self.implicit).clone();
                    let ino = match self.made_by_mkfs(dst, name, &sub.origin)? {
                        Some(ino) => ino,
                        None => lib(self.fs.mkdir(dst, name, meta.perm), &sub.origin)?,
                    };
                    self.set_attrs(ino, &meta, &sub.origin)?;
                    self.copy_dir(sub, ino)?;
                }
                Entry::Node(id) => {
                    if let Some(&ino) = self.made.get(id) {
                        let origin = self.node(*id)?.origin.as_str();
                        lib(self.fs.link(dst, name, ino), origin)?;
                        continue;
                    }
                    let ino = self.copy_node(*id, name, dst)?;
                    self.made.insert(*id, ino);
                }
            }
        }
        self.finish_dir(dst, &dir.origin)
    }

    /// The lost+found mke2fs made, when the source has one at its top:
    /// the source's is merged into it (as mke2fs -d does).
    fn made_by_mkfs(&mut self, dir: u32, name: &[u8], origin: &str) -> Result<Option<u32>> {
        if dir != ROOT_INO || name != b"lost+found" {
            return Ok(None);
        }
        let Some(e) = lib(self.fs.lookup_entry(dir, name), origin)? else {
            return Ok(None);
        };
        let is_dir = e.inode != 0 && lib(self.fs.read_inode(e.inode), origin)?.is_dir();
        Ok(is_dir.then_some(e.inode))
    }

    fn node(&self, id: usize) -> Result<&'m source::Node> {
        self.model
            .nodes
            .get(id)
            .ok_or_else(|| anyhow!("internal error: no source node {id}"))
    }

    fn copy_node(&mut self, id: usize, name: &[u8], dst: u32) -> Result<u32> {
        let node = self.node(id)?;
        let origin = node.origin.as_str();
        let perm = node.meta.perm;
        let ino = match &node.kind {
            Kind::Symlink(target) => lib(self.fs.symlink(dst, name, target), origin)?,
            Kind::File { size, data } => {
                self.tick(origin, *size);
                let ino = lib(self.fs.create(dst, name, inode::S_IFREG | perm), origin)?;
                self.copy_file(ino, *size, data, origin)?;
                ino
            }
            Kind::Char(a, b) => lib(
                self.fs.mknod(dst, name, inode::S_IFCHR | perm, *a, *b),
                origin,
            )?,
            Kind::Block(a, b) => lib(
                self.fs.mknod(dst, name, inode::S_IFBLK | perm, *a, *b),
                origin,
            )?,
            Kind::Fifo => lib(
                self.fs.mknod(dst, name, inode::S_IFIFO | perm, 0, 0),
                origin,
            )?,
            Kind::Socket => lib(
                self.fs.mknod(dst, name, inode::S_IFSOCK | perm, 0, 0),
                origin,
            )?,
        };
        self.set_attrs(ino, &node.meta, origin)?;
        Ok(ino)
    }

    fn copy_file(&mut self, ino: u32, size: u64, data: &Data, origin: &str) -> Result<()> {
        let mut rec = lib(self.fs.read_inode(ino), origin)?;
        let mut buf = std::mem::take(&mut self.buf);
        let res = match data {
            Data::Path {
                path,
                id,
                may_have_holes,
            } => match open_scanned(path, *id) {
                Ok(f) => self.copy_path(&f, path, size, *may_have_holes, ino, &mut rec, &mut buf),
                Err(e) => Err(e),
            },
            Data::Archive(i, segs) => match self.model.archives.get(*i) {
                Some(f) => {
                    self.copy_segs(segs, &Src::File(f), ino, &mut rec, &mut buf, size, origin)
                }
                None => Err(anyhow!("internal error: no archive {i}")),
            },
            Data::Spool(segs) => {
                let spool = &self.model.spool;
                self.copy_segs(
                    segs,
                    &Src::Spool(spool),
                    ino,
                    &mut rec,
                    &mut buf,
                    size,
                    origin,
                )
            }
        };
        self.buf = buf;
        res?;
        if rec.size() != size {
            // A trailing hole: the size says so, no blocks.
            rec.set_size(size);
            lib(self.fs.write_inode(ino, &rec), origin)?;
        }
        Ok(())
    }

    /// Archive data: runs read in place or from the spool, gaps between
    /// them read as zeroes; every whole block of zeroes is left as a hole.
    /// Blocks are judged whole (runs and gaps together), so the result
    /// does not depend on how the data was cut into runs.
    #[allow(clippy::too_many_arguments)]
    fn copy_segs(
        &mut self,
        segs: &[Seg],
        src: &Src,
        ino: u32,
        rec: &mut ext2fs::inode::Inode,
        buf: &mut [u8],
        size: u64,
        origin: &str,
    ) -> Result<()> {
        let bs = self.fs.block_size() as u64;
        let mut segs: Vec<Seg> = segs.iter().filter(|s| s.len > 0).copied().collect();
        segs.sort_by_key(|s| s.file_off);
        // Block-aligned windows around the runs, merged.
        let mut windows: Vec<(u64, u64)> = Vec::new();
        for s in &segs {
            let a = s.file_off / bs * bs;
            let b = (s.file_off + s.len)
                .div_ceil(bs)
                .saturating_mul(bs)
                .min(size);
            match windows.last_mut() {
                Some(w) if a <= w.1 => w.1 = w.1.max(b),
                _ => windows.push((a, b)),
            }
        }
        let mut next = 0usize; // first run that may reach the chunk
        for (wa, wb) in windows {
            let mut at = wa;
            while at < wb {
                let n = (wb - at).min(buf.len() as u64) as usize;
                let chunk = &mut buf[..n];
                chunk.fill(0);
                let cend = at + n as u64;
                while next < segs.len() && segs[next].file_off + segs[next].len <= at {
                    next += 1;
                }
                for s in segs[next..].iter().take_while(|s| s.file_off < cend) {
                    let a = s.file_off.max(at);
                    let b = (s.file_off + s.len).min(cend);
                    if a < b {
                        src.read_at(
                            s.src_off + (a - s.file_off),
                            &mut chunk[(a - at) as usize..(b - at) as usize],
                        )
                        .map_err(|e| anyhow!("{origin}: {e}"))?;
                    }
                }
                let mut p = 0usize;
                let mut run: Option<usize> = None;
                while p < n {
                    let q = ((p as u64 + bs).min(n as u64)) as usize;
                    if (q - p) as u64 == bs && is_zero(&chunk[p..q]) {
                        if let Some(s) = run.take() {
                            lib(
                                self.fs.write_range(ino, rec, at + s as u64, &chunk[s..p]),
                                origin,
                            )?;
                        }
                    } else if run.is_none() {
                        run = Some(p);
                    }
                    p = q;
                }
                if let Some(s) = run {
                    lib(
                        self.fs.write_range(ino, rec, at + s as u64, &chunk[s..n]),
                        origin,
                    )?;
                }
                at = cend;
            }
        }
        Ok(())
    }

    /// A source directory's file `f` of `size` bytes (as the tree was
    /// read): region by region (SEEK_DATA/SEEK_HOLE) when it may have
    /// holes, so that holes stay holes.
    #[allow(clippy::too_many_arguments)]
    fn copy_path(
        &mut self,
        f: &std::fs::File,
        path: &Path,
        size: u64,
        may_have_holes: bool,
        ino: u32,
        rec: &mut ext2fs::inode::Inode,
        buf: &mut [u8],
    ) -> Result<()> {
        use rustix::fs::{seek, SeekFrom};
        use std::os::unix::fs::FileExt;
        let what = path.display().to_string();
        let mut pos = 0u64;
        while pos < size {
            let (start, end) = if may_have_holes {
                let start = match seek(f, SeekFrom::Data(pos as i64)) {
                    Ok(p) => p,
                    Err(rustix::io::Errno::NXIO) => break,
                    Err(_) => pos, // no SEEK_DATA here: read everything
                };
                let end = seek(f, SeekFrom::Hole(start as i64))
                    .unwrap_or(size)
                    .min(size);
                (start, end)
            } else {
                (pos, size)
            };
            let mut at = start;
            while at < end {
                let n = ((end - at) as usize).min(buf.len());
                f.read_exact_at(&mut buf[..n], at)
                    .map_err(|e| anyhow!("cannot read {what}: {e}"))?;
                lib(self.fs.write_range(ino, rec, at, &buf[..n]), &what)?;
                at += n as u64;
            }
            pos = end.max(start + 1);
        }
        Ok(())
    }

    fn set_attrs(&mut self, ino: u32, meta: &Meta, origin: &str) -> Result<()> {
        let mut rec = lib(self.fs.read_inode(ino), origin)?;
        rec.base.i_mode = (rec.base.i_mode & inode::S_IFMT) | (meta.perm & 0o7777);
        rec.set_uid(meta.uid);
        rec.set_gid(meta.gid);
        let t = |v: i64| {
            let v = v.clamp(0, u32::MAX as i64) as u32;
            self.clamp.map_or(v, |c| v.min(c))
        };
        rec.base.i_atime = t(meta.atime);
        rec.base.i_mtime = t(meta.mtime);
        rec.base.i_ctime = t(meta.ctime);
        lib(self.fs.write_inode(ino, &rec), origin)?;
        if !meta.xattrs.is_empty() && self.fs.sb().has_compat(ext2fs::features::compat::EXT_ATTR) {
            let mut attrs = meta.xattrs.clone();
            for a in attrs.iter_mut() {
                if ACL_NAMES.contains(&a.name.as_str()) {
                    // Sources hold ACLs as the host's getxattr gives them.
                    a.value = lib(posix_acl_to_disk(&a.value), origin)
                        .map_err(|e| e.context(format!("xattr {}", a.name)))?;
                }
            }
            lib(self.fs.set_xattrs(ino, &attrs), origin)?;
        }
        Ok(())
    }

    /// Big directories become htrees (the real mke2fs -d leaves them linear).
    fn finish_dir(&mut self, dir: u32, origin: &str) -> Result<()> {
        let rec = lib(self.fs.read_inode(dir), origin)?;
        if self.fs.sb().has_compat(ext2fs::features::compat::DIR_INDEX)
            && rec.size() > self.fs.block_size() as u64
            && rec.flags() & inode::flags::INDEX == 0
        {
            lib(self.fs.index_directory(dir), origin)?;
        }
        Ok(())
    }
}

/// Opens a source directory's file for reading its data: never through a
/// symlink, never waiting on a fifo, and only the regular file the scan
/// recorded as `id`; anything swapped in since is refused.
fn open_scanned(path: &Path, id: (u64, u64)) -> Result<std::fs::File> {
    use rustix::fs::{fstat, open, FileType, Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = match open(path, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::LOOP) => return Err(source::changed(path)),
        Err(e) => return Err(anyhow!("cannot read {}: {e}", path.display())),
    };
    let st = fstat(&fd).map_err(|e| anyhow!("cannot read {}: {e}", path.display()))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile || !source::same_object(&st, id)
    {
        return Err(source::changed(path));
    }
    Ok(std::fs::File::from(fd))
}

/// Where archive data is read from.
enum Src<'a> {
    File(&'a std::fs::File),
    Spool(&'a source::Spool),
}

impl Src<'_> {
    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<()> {
        use std::os::unix::fs::FileExt;
        match self {
            Src::File(f) => f.read_exact_at(buf, off).map_err(|e| anyhow!("{e}")),
            Src::Spool(s) => s.read_at(off, buf),
        }
    }
}

fn is_zero(b: &[u8]) -> bool {
    let mut chunks = b.chunks_exact(16);
    chunks.all(|c| c == [0u8; 16]) && chunks.remainder().iter().all(|&x| x == 0)
}
