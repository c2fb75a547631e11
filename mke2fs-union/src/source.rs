//! The source-tree model `-d` builds before writing anything: every
//! source (a directory or a tar archive) is read into a [`Dir`] tree whose
//! files live in one [`Model`] arena, union markers are turned into
//! whiteout names and opaque flags, and the layers are merged the way a
//! container runtime applies them. The writer (`populate.rs`) then walks
//! the merged tree in name order, so the image depends neither on readdir
//! order nor on archive member order.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use ext2fs::xattr::Xattr;
use rustix::fs::{fstat, openat, readlinkat, statat, AtFlags, FileType, Mode, OFlags, Stat, CWD};

use crate::options::UnionSource;

/// Owner, permissions, times and xattrs of one file or directory.
#[derive(Clone, Debug, Default)]
pub struct Meta {
    /// `mode & 0o7777`
    pub perm: u16,
    pub uid: u32,
    pub gid: u32,
    pub atime: i64,
    pub mtime: i64,
    pub ctime: i64,
    /// Sorted by name.
    pub xattrs: Vec<Xattr>,
}

/// One run of a file's data: `len` bytes at `file_off` in the file come
/// from `src_off` in the data source.
#[derive(Clone, Copy, Debug)]
pub struct Seg {
    pub file_off: u64,
    pub src_off: u64,
    pub len: u64,
}

/// Where a regular file's bytes are.
#[derive(Debug)]
pub enum Data {
    /// A file of a source directory, copied region by region (SEEK_DATA)
    /// when `may_have_holes` (it has fewer blocks than its size needs),
    /// else read straight through. `id`: its (st_dev, st_ino) when
    /// scanned; the copy opens `path` without following links and
    /// refuses anything else.
    Path {
        path: PathBuf,
        id: (u64, u64),
        may_have_holes: bool,
    },
    /// Runs of a seekable archive file (`Model::archives[i]`), read in place.
    Archive(usize, Vec<Seg>),
    /// Runs of the in-memory spool (compressed or piped archives).
    Spool(Vec<Seg>),
}

#[derive(Debug)]
pub enum Kind {
    File { size: u64, data: Data },
    Symlink(Vec<u8>),
    Char(u32, u32),
    Block(u32, u32),
    Fifo,
    Socket,
}

/// A non-directory inode; several entries may name it (hard links).
#[derive(Debug)]
pub struct Node {
    pub meta: Meta,
    pub kind: Kind,
    /// Where it came from, for messages: a path or `archive: member`.
    pub origin: String,
}

#[derive(Debug)]
pub enum Entry {
    Dir(Box<Dir>),
    /// An index into `Model::nodes`.
    Node(usize),
    /// A union whiteout entry (kept from the top layer with -O whiteout).
    Whiteout,
}

#[derive(Debug, Default)]
pub struct Dir {
    /// None: made implicitly (a tar member below it, no member for it).
    pub meta: Option<Meta>,
    pub origin: String,
    pub entries: BTreeMap<Vec<u8>, Entry>,
    /// An opaque marker was in this directory (of this layer).
    pub opaque: bool,
    /// Names whited out by markers in this directory (of this layer).
    pub whiteouts: BTreeSet<Vec<u8>>,
}

/// Data of archives that cannot be read in place (compressed or piped):
/// the first SPOOL_MEMORY bytes in memory, in chunks so that growing never
/// copies what is already there, the rest in an unnamed temporary file, so
/// that a large archive never needs its size in memory.
#[derive(Debug, Default)]
pub struct Spool {
    chunks: Vec<Vec<u8>>,
    /// Bytes held in `chunks`.
    mem_len: u64,
    len: u64,
    overflow: Option<std::fs::File>,
    /// Tests lower the memory budget to reach the temporary file.
    memory_limit: Option<u64>,
}

const SPOOL_CHUNK: usize = 16 << 20;
/// Memory a spool may use before it spills to a temporary file.
const SPOOL_MEMORY: u64 = 256 << 20;

impl Spool {
    /// Appends `data`; returns where it starts.
    pub fn append(&mut self, mut data: &[u8]) -> Result<u64> {
        use std::os::unix::fs::FileExt;
        let at = self.len;
        let limit = self.memory_limit.unwrap_or(SPOOL_MEMORY);
        if self.overflow.is_none() && self.len + data.len() as u64 > limit {
            let f = tempfile::tempfile().map_err(|e| {
                anyhow!("while making a temporary file for the archive's data: {e}")
            })?;
            self.overflow = Some(f);
        }
        if let Some(f) = &self.overflow {
            f.write_all_at(data, self.len - self.mem_len).map_err(|e| {
                anyhow!("while spooling the archive's data to a temporary file: {e}")
            })?;
            self.len += data.len() as u64;
            return Ok(at);
        }
        while !data.is_empty() {
            if self.chunks.last().is_none_or(|c| c.len() == SPOOL_CHUNK) {
                self.chunks.push(Vec::with_capacity(SPOOL_CHUNK));
            }
            let Some(last) = self.chunks.last_mut() else {
                break;
            };
            let n = (SPOOL_CHUNK - last.len()).min(data.len());
            last.extend_from_slice(&data[..n]);
            data = &data[n..];
            self.len += n as u64;
            self.mem_len += n as u64;
        }
        Ok(at)
    }

    #[cfg(test)]
    fn with_memory_limit(limit: u64) -> Self {
        Spool {
            memory_limit: Some(limit),
            ..Default::default()
        }
    }

    /// Bytes spooled so far.
    pub fn bytes(&self) -> u64 {
        self.len
    }

    pub fn read_at(&self, mut off: u64, mut buf: &mut [u8]) -> Result<()> {
        use std::os::unix::fs::FileExt;
        while !buf.is_empty() {
            if off >= self.mem_len {
                let f = self
                    .overflow
                    .as_ref()
                    .ok_or_else(|| anyhow!("internal error: read past the spooled data"))?;
                return f
                    .read_exact_at(buf, off - self.mem_len)
                    .map_err(|e| anyhow!("while reading the spooled archive data back: {e}"));
            }
            let chunk = (off / SPOOL_CHUNK as u64) as usize;
            let within = (off % SPOOL_CHUNK as u64) as usize;
            let c = self
                .chunks
                .get(chunk)
                .filter(|c| c.len() > within)
                .ok_or_else(|| anyhow!("internal error: read past the spooled data"))?;
            let n = (c.len() - within).min(buf.len());
            buf[..n].copy_from_slice(&c[within..within + n]);
            buf = &mut buf[n..];
            off += n as u64;
        }
        Ok(())
    }
}

/// What the image can take, checked as the archive is read so that a
/// small hostile archive fails early instead of costing time and memory.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The largest file of the image's block size.
    pub max_file: u64,
    /// Free blocks times the block size.
    pub free_bytes: u64,
    pub free_inodes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file: u64::MAX,
            free_bytes: u64::MAX,
            free_inodes: u64::MAX,
        }
    }
}

#[derive(Debug, Default)]
pub struct Model {
    pub nodes: Vec<Node>,
    pub archives: Vec<std::fs::File>,
    pub spool: Spool,
    pub limits: Limits,
    /// Inodes the archives read so far need.
    pub inodes: u64,
}

impl Model {
    pub fn add(&mut self, node: Node) -> usize {
        self.nodes.push(node);
        self.nodes.len() - 1
    }
}

impl Dir {
    /// The entry at `path` (components, no `.`/`..`), not following symlinks.
    pub fn lookup(&self, comps: &[&[u8]]) -> Option<&Entry> {
        let (last, parents) = comps.split_last()?;
        let mut d = self;
        for c in parents {
            match d.entries.get(*c)? {
                Entry::Dir(sub) => d = sub,
                _ => return None,
            }
        }
        d.entries.get(*last)
    }
}

/// Reads a source directory into a layer tree. `links` maps
/// (st_dev, st_ino) of multiply-linked files to their node (across layers,
/// like the tree copy always did). The top-level `root` is followed when
/// it is a symlink (as mke2fs does); below it nothing is: every directory
/// is opened relative to its parent's descriptor with O_NOFOLLOW, and each
/// file's identity is recorded so that the copy can check it opens the
/// very file the scan saw.
pub fn read_dir_layer(
    model: &mut Model,
    root: &Path,
    xattrs: bool,
    links: &mut HashMap<(u64, u64), usize>,
) -> Result<Dir> {
    let fd = openat(
        CWD,
        root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| anyhow!("{}: {e}", root.display()))?;
    let st = fstat(&fd).map_err(|e| anyhow!("{}: {e}", root.display()))?;
    let mut d = Dir {
        meta: Some(meta_of(&st, xattrs, XattrSrc::Fd(&fd), root)?),
        origin: root.display().to_string(),
        ..Dir::default()
    };
    read_dir_into(model, &fd, root, &mut d, xattrs, links)?;
    Ok(d)
}

/// Where a source object's xattrs are read from: an open descriptor, or
/// a path whose last component is not followed.
enum XattrSrc<'a> {
    Fd(&'a OwnedFd),
    NoFollow(&'a Path),
}

fn meta_of(st: &Stat, xattrs: bool, src: XattrSrc, shown: &Path) -> Result<Meta> {
    Ok(Meta {
        perm: (st.st_mode & 0o7777) as u16,
        uid: st.st_uid,
        gid: st.st_gid,
        atime: st.st_atime as i64,
        mtime: st.st_mtime as i64,
        ctime: st.st_ctime as i64,
        xattrs: if xattrs {
            read_xattrs(src, shown)?
        } else {
            Vec::new()
        },
    })
}

/// The identity a source file is checked against when it is opened for
/// copying.
pub fn same_object(st: &Stat, id: (u64, u64)) -> bool {
    (st.st_dev, st.st_ino) == id
}

fn read_dir_into(
    model: &mut Model,
    dirfd: &OwnedFd,
    src: &Path,
    dir: &mut Dir,
    xattrs: bool,
    links: &mut HashMap<(u64, u64), usize>,
) -> Result<()> {
    let shown = |e: rustix::io::Errno| anyhow!("{}: {e}", src.display());
    // xattrs of objects that cannot be opened safely (symlinks, devices,
    // fifos) are read through this directory's descriptor.
    let via_fd = PathBuf::from(format!("/proc/self/fd/{}", dirfd.as_raw_fd()));
    let anchored = xattrs && via_fd.exists();
    let mut names = Vec::new();
    for e in rustix::fs::Dir::read_from(dirfd).map_err(shown)? {
        let name = e.map_err(shown)?.file_name().to_bytes().to_vec();
        if name != b"." && name != b".." {
            names.push(name);
        }
    }
    for name in names {
        let os = std::ffi::OsStr::from_bytes(&name);
        let path = src.join(os);
        let fail = |e: rustix::io::Errno| anyhow!("{}: {e}", path.display());
        let st = statat(dirfd, os, AtFlags::SYMLINK_NOFOLLOW).map_err(fail)?;
        let ft = FileType::from_raw_mode(st.st_mode);
        if ft == FileType::Directory {
            let fd = openat(
                dirfd,
                os,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(fail)?;
            let now = fstat(&fd).map_err(fail)?;
            if !same_object(&now, (st.st_dev, st.st_ino)) {
                return Err(changed(&path));
            }
            let mut sub = Dir {
                meta: Some(meta_of(&now, xattrs, XattrSrc::Fd(&fd), &path)?),
                origin: path.display().to_string(),
                ..Dir::default()
            };
            read_dir_into(model, &fd, &path, &mut sub, xattrs, links)?;
            dir.entries.insert(name, Entry::Dir(Box::new(sub)));
            continue;
        }
        let id = (st.st_dev, st.st_ino);
        if st.st_nlink > 1 {
            if let Some(&node) = links.get(&id) {
                dir.entries.insert(name, Entry::Node(node));
                continue;
            }
        }
        let rdev = || (rustix::fs::major(st.st_rdev), rustix::fs::minor(st.st_rdev));
        let kind = match ft {
            FileType::Symlink => Kind::Symlink(
                readlinkat(dirfd, os, Vec::new())
                    .map_err(fail)?
                    .into_bytes(),
            ),
            FileType::RegularFile => Kind::File {
                size: st.st_size as u64,
                data: Data::Path {
                    path: path.clone(),
                    id,
                    may_have_holes: (st.st_blocks as u64).saturating_mul(512) < st.st_size as u64,
                },
            },
            FileType::CharacterDevice => {
                let (a, b) = rdev();
                Kind::Char(a, b)
            }
            FileType::BlockDevice => {
                let (a, b) = rdev();
                Kind::Block(a, b)
            }
            FileType::Fifo => Kind::Fifo,
            _ => Kind::Socket,
        };
        let xsrc = if anchored {
            via_fd.join(os)
        } else {
            path.clone()
        };
        let id_node = model.add(Node {
            meta: meta_of(&st, xattrs, XattrSrc::NoFollow(&xsrc), &path)?,
            kind,
            origin: path.display().to_string(),
        });
        if st.st_nlink > 1 {
            links.insert(id, id_node);
        }
        dir.entries.insert(name, Entry::Node(id_node));
    }
    Ok(())
}

/// A source object that is not the one the scan recorded.
pub fn changed(path: &Path) -> anyhow::Error {
    anyhow!(
        "{}: changed while the source was being read (replaced by another file or a link); \
         refusing to copy it",
        path.display()
    )
}

/// All xattrs of a source object (never following a symlink), sorted by name.
fn read_xattrs(src: XattrSrc, shown: &Path) -> Result<Vec<Xattr>> {
    let list = |buf: &mut [u8]| match &src {
        XattrSrc::Fd(fd) => rustix::fs::flistxattr(fd, buf),
        XattrSrc::NoFollow(p) => rustix::fs::llistxattr(*p, buf),
    };
    let get = |name: &str, buf: &mut [u8]| match &src {
        XattrSrc::Fd(fd) => rustix::fs::fgetxattr(fd, name, buf),
        XattrSrc::NoFollow(p) => rustix::fs::lgetxattr(*p, name, buf),
    };
    // Ask for the sizes first: most files have no xattrs at all.
    let size = match list(&mut []) {
        Ok(0) => return Ok(Vec::new()),
        Ok(n) => n,
        Err(rustix::io::Errno::NOTSUP) => return Ok(Vec::new()),
        Err(e) => return Err(anyhow!("{}: listing xattrs: {e}", shown.display())),
    };
    let mut names = vec![0u8; size];
    let n = list(&mut names).map_err(|e| anyhow!("{}: listing xattrs: {e}", shown.display()))?;
    let mut out = Vec::new();
    for name in names[..n.min(size)]
        .split(|&b| b == 0)
        .filter(|n| !n.is_empty())
    {
        let name = String::from_utf8_lossy(name).into_owned();
        let read = |e| anyhow!("{}: reading xattr {name}: {e}", shown.display());
        let len = get(name.as_str(), &mut []).map_err(read)?;
        let mut value = vec![0u8; len];
        let len = get(name.as_str(), &mut value).map_err(read)?;
        value.truncate(len);
        out.push(Xattr { name, value });
    }
    out.sort();
    Ok(out)
}

/// Turns the union markers of one layer into whiteout names and opaque
/// flags, removing the marker entries (overlayfs: char device 0/0 and
/// `trusted.overlay.opaque=y`; OCI: `.wh.NAME` and `.wh..wh..opq`).
pub fn extract_markers(model: &Model, dir: &mut Dir, source: UnionSource) -> Result<()> {
    if source == UnionSource::Plain {
        return Ok(());
    }
    let mut whiteouts = Vec::new();
    for (name, e) in &dir.entries {
        match source {
            UnionSource::Oci => {
                if name.as_slice() == b".wh..wh..opq" {
                    dir.opaque = true;
                    whiteouts.push((name.clone(), None));
                } else if let Some(hidden) = name.strip_prefix(b".wh.") {
                    if hidden.is_empty() {
                        return Err(anyhow!(
                            "{}/.wh.: whiteout marker without a name",
                            dir.origin
                        ));
                    }
                    whiteouts.push((name.clone(), Some(hidden.to_vec())));
                }
            }
            UnionSource::Overlay => {
                if let Entry::Node(id) = e {
                    if matches!(
                        model.nodes.get(*id).map(|n| &n.kind),
                        Some(Kind::Char(0, 0))
                    ) {
                        whiteouts.push((name.clone(), Some(name.clone())));
                    }
                }
            }
            UnionSource::Plain => {}
        }
    }
    for (marker, hidden) in whiteouts {
        dir.entries.remove(&marker);
        if let Some(h) = hidden {
            dir.whiteouts.insert(h);
        }
    }
    if source == UnionSource::Overlay {
        if let Some(m) = &mut dir.meta {
            if m.xattrs
                .iter()
                .any(|a| a.name == "trusted.overlay.opaque" && a.value == b"y")
            {
                dir.opaque = true;
            }
            m.xattrs.retain(|a| !a.name.starts_with("trusted.overlay."));
        }
    }
    for e in dir.entries.values_mut() {
        if let Entry::Dir(sub) = e {
            extract_markers(model, sub, source)?;
        }
    }
    Ok(())
}

/// Applies one layer on the merged tree: an opaque marker clears what
/// lower layers put in the directory, a whiteout deletes the name, later
/// entries replace earlier ones and directories merge. With `keep` (the
/// top layer of a -O whiteout image) the markers stay as whiteout entries
/// and opaque flags.
pub fn merge(layer: Dir, into: &mut Dir, keep: bool) {
    if layer.opaque {
        into.entries.clear();
        if keep {
            into.opaque = true;
        }
    }
    for w in &layer.whiteouts {
        into.entries.remove(w);
        // A live entry of the same name in the same layer wins.
        if keep && !layer.entries.contains_key(w) {
            into.entries.insert(w.clone(), Entry::Whiteout);
        }
    }
    if layer.meta.is_some() {
        into.meta = layer.meta;
        into.origin = layer.origin;
    } else if into.origin.is_empty() {
        into.origin = layer.origin;
    }
    for (name, e) in layer.entries {
        match e {
            Entry::Dir(sub) => match into.entries.get_mut(&name) {
                Some(Entry::Dir(existing)) => merge(*sub, existing, keep),
                _ => {
                    let mut fresh = Dir::default();
                    merge(*sub, &mut fresh, keep);
                    into.entries.insert(name, Entry::Dir(Box::new(fresh)));
                }
            },
            other => {
                into.entries.insert(name, other);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spool_spills_to_a_temporary_file() {
        let mut sp = Spool::with_memory_limit(40);
        let a = sp.append(&[1u8; 30]).unwrap();
        let b = sp.append(&[2u8; 30]).unwrap();
        let c = sp.append(&[3u8; 5]).unwrap();
        assert_eq!((a, b, c), (0, 30, 60));
        let mut buf = vec![0u8; 65];
        sp.read_at(0, &mut buf).unwrap();
        assert_eq!(&buf[..30], &[1u8; 30]);
        assert_eq!(&buf[30..60], &[2u8; 30]);
        assert_eq!(&buf[60..], &[3u8; 5]);
        let mut tail = vec![0u8; 10];
        sp.read_at(25, &mut tail).unwrap();
        assert_eq!(tail, [1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
        assert!(sp.read_at(64, &mut [0u8; 4]).is_err());
    }

    fn file(model: &mut Model, tag: &str) -> Entry {
        Entry::Node(model.add(Node {
            meta: Meta::default(),
            kind: Kind::Symlink(tag.as_bytes().to_vec()),
            origin: tag.into(),
        }))
    }

    fn dir(entries: Vec<(&str, Entry)>) -> Dir {
        Dir {
            meta: Some(Meta::default()),
            entries: entries
                .into_iter()
                .map(|(n, e)| (n.as_bytes().to_vec(), e))
                .collect(),
            ..Dir::default()
        }
    }

    fn names(d: &Dir) -> Vec<String> {
        let mut out = Vec::new();
        for (n, e) in &d.entries {
            let n = String::from_utf8_lossy(n).into_owned();
            match e {
                Entry::Dir(sub) => {
                    out.push(format!("{n}/{}", if sub.opaque { " (opaque)" } else { "" }));
                    out.extend(names(sub).into_iter().map(|c| format!("{n}/{c}")));
                }
                Entry::Node(_) => out.push(n),
                Entry::Whiteout => out.push(format!("{n} (whiteout)")),
            }
        }
        out
    }

    fn layers(keep_top: bool) -> Dir {
        let mut m = Model::default();
        let lower = dir(vec![
            (
                "a",
                Entry::Dir(Box::new(dir(vec![("x", file(&mut m, "x"))]))),
            ),
            (
                "d",
                Entry::Dir(Box::new(dir(vec![("old", file(&mut m, "o"))]))),
            ),
            ("gone", file(&mut m, "g")),
        ]);
        let mut upper = dir(vec![
            (
                "a",
                Entry::Dir(Box::new(dir(vec![(".wh.x", file(&mut m, "w"))]))),
            ),
            (
                "d",
                Entry::Dir(Box::new(dir(vec![
                    (".wh..wh..opq", file(&mut m, "w")),
                    ("new", file(&mut m, "n")),
                ]))),
            ),
            (".wh.gone", file(&mut m, "w")),
            (".wh.both", file(&mut m, "w")),
            ("both", file(&mut m, "b")),
        ]);
        let mut lower = lower;
        extract_markers(&m, &mut lower, UnionSource::Oci).unwrap();
        extract_markers(&m, &mut upper, UnionSource::Oci).unwrap();
        let mut merged = Dir::default();
        merge(lower, &mut merged, false);
        merge(upper, &mut merged, keep_top);
        merged
    }

    #[test]
    fn layers_flatten() {
        assert_eq!(names(&layers(false)), ["a/", "both", "d/", "d/new"]);
    }

    #[test]
    fn top_layer_markers_are_kept() {
        assert_eq!(
            names(&layers(true)),
            [
                "a/",
                "a/x (whiteout)",
                "both",
                "d/ (opaque)",
                "d/new",
                "gone (whiteout)"
            ]
        );
    }
}
