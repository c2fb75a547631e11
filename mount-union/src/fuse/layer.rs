//! Read-only lower layers: a directory tree (pinned at mount and read
//! only through `beneath`, so that a tree changing under us cannot make us
//! read outside it or hang), or an ext2 image read through the ext2fs
//! library. A lower layer is never written.

use std::os::fd::AsFd;
use std::path::Path;

use ext2fs::dirent::ft;
use ext2fs::fs::{Filesystem, OpenOptions};
use ext2fs::inode::{self, Stamp, Time, ROOT_INO};
use ext2fs::union_origin::{FsId, LayerId};
use rustix::fs::{AtFlags, FileType, Stat};

use super::beneath::{self, Ident, Tree, S_IFDIR, S_IFLNK, S_IFREG};
use super::errno::{from_lib, Errno};

/// A name in a lower directory, its mode (None: a whiteout) and inode
/// number.
pub type Listed = (Vec<u8>, Option<u32>, u64);

/// One lower layer.
pub enum Layer {
    Dir(Tree),
    Image(Box<Filesystem>),
}

/// An object in a lower layer: in a directory tree its path relative to
/// the tree and what it was when looked up; in an image its inode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LObj {
    Path(Vec<u8>, Ident),
    Ino(u32),
}

impl LObj {
    /// What identifies the object within its layer (for the copy-up map).
    pub fn ident(&self) -> Ident {
        match self {
            LObj::Path(_, id) => *id,
            LObj::Ino(n) => Ident {
                dev: 0,
                ino: *n as u64,
                kind: 0,
            },
        }
    }
}

/// What a name is in one lower directory.
pub enum LEntry {
    /// A live object and its attributes as the lookup found them.
    Live(LObj, LAttr),
    /// A whiteout: the name does not exist here nor below.
    Whiteout,
}

/// The metadata of a lower object, as stat(2) gives it.
#[derive(Clone, Copy, Debug, Default)]
pub struct LAttr {
    pub mode: u32,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub blocks: u64,
    pub atime: Time,
    pub mtime: Time,
    pub ctime: Time,
    pub rdev_major: u32,
    pub rdev_minor: u32,
}

impl LAttr {
    /// The stat(2) view of an inode of an ext2 layer (with nanoseconds
    /// where the inode keeps them).
    pub fn of_inode(i: &inode::Inode) -> Self {
        let (ma, mi) = if i.is_device() { i.device() } else { (0, 0) };
        LAttr {
            mode: i.mode() as u32,
            nlink: i.base.i_links_count as u32,
            uid: i.uid(),
            gid: i.gid(),
            size: i.size(),
            blocks: i.base.i_blocks as u64,
            atime: i.time(Stamp::Atime),
            mtime: i.time(Stamp::Mtime),
            ctime: i.time(Stamp::Ctime),
            rdev_major: ma,
            rdev_minor: mi,
        }
    }
}

pub use beneath::S_IFMT;

/// A directory layer's whiteout: overlayfs' character device 0/0.
fn is_whiteout(st: &Stat) -> bool {
    st.st_mode & S_IFMT == 0o020000 && st.st_rdev == 0
}

impl LAttr {
    fn of_stat(st: &Stat) -> Self {
        LAttr {
            mode: st.st_mode,
            nlink: st.st_nlink as u32,
            uid: st.st_uid,
            gid: st.st_gid,
            size: st.st_size as u64,
            blocks: st.st_blocks as u64,
            atime: stat_time(st.st_atime as i64, st.st_atime_nsec as i64),
            mtime: stat_time(st.st_mtime as i64, st.st_mtime_nsec as i64),
            ctime: stat_time(st.st_ctime as i64, st.st_ctime_nsec as i64),
            rdev_major: rustix::fs::major(st.st_rdev),
            rdev_minor: rustix::fs::minor(st.st_rdev),
        }
    }
}

fn stat_time(secs: i64, nsec: i64) -> Time {
    Time {
        secs,
        nsec: nsec.clamp(0, 999_999_999) as u32,
    }
}

pub fn is_dir(mode: u32) -> bool {
    mode & S_IFMT == S_IFDIR
}

impl Layer {
    /// Opens a lower layer: a directory, or an ext2 image (read-only).
    pub fn open(path: &Path) -> Result<Layer, String> {
        let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if meta.is_dir() {
            return Ok(Layer::Dir(Tree::open(path)?));
        }
        let fs = Filesystem::open(path, &OpenOptions::default())
            .map_err(|e| format!("{}: not a directory nor an ext2 image: {e}", path.display()))?;
        Ok(Layer::Image(Box::new(fs)))
    }

    /// What identifies the layer across mounts (origin records): an
    /// image's UUID, a directory's root by its filesystem and inode.
    pub fn identity(&self) -> Result<LayerId, Errno> {
        match (self, self.root()?) {
            (Layer::Image(fs), _) => Ok(LayerId::Image(fs.sb().s_uuid)),
            (Layer::Dir(t), LObj::Path(_, root)) => Ok(LayerId::Dir {
                fs: t.home_fs(),
                root: root.ino,
            }),
            (Layer::Dir(_), LObj::Ino(_)) => Err(libc::EIO),
        }
    }

    /// The filesystem the objects of a listing of a directory on device
    /// `dev` are on: None for the layer's own (always for an image).
    pub fn fs_of_dev(&self, dev: u64) -> Option<FsId> {
        match self {
            Layer::Dir(t) => t.fs_of(dev),
            Layer::Image(_) => None,
        }
    }

    /// The filesystem a looked-up object is on (see fs_of_dev).
    pub fn fs_of(&self, o: &LObj) -> Option<FsId> {
        self.fs_of_dev(o.ident().dev)
    }

    pub fn root(&self) -> Result<LObj, Errno> {
        match self {
            Layer::Dir(t) => {
                let (_, st) = t.stat(b"")?;
                Ok(LObj::Path(Vec::new(), Ident::of(&st)))
            }
            Layer::Image(_) => Ok(LObj::Ino(ROOT_INO)),
        }
    }

    /// Looks `name` up in the lower directory `dir`. Directory layers show
    /// overlayfs whiteouts (character devices 0/0) as whiteouts; image
    /// layers their own whiteouts (fallthrus there are taken as absent).
    pub fn lookup(&self, dir: &LObj, name: &[u8]) -> Result<Option<LEntry>, Errno> {
        match (self, dir) {
            (Layer::Dir(t), LObj::Path(d, did)) => match t.look_in(d, did, name) {
                Ok(st) => {
                    if is_whiteout(&st) {
                        return Ok(Some(LEntry::Whiteout));
                    }
                    let id = Ident::of(&st);
                    let p = beneath::join(d, name);
                    Ok(Some(LEntry::Live(LObj::Path(p, id), LAttr::of_stat(&st))))
                }
                Err(libc::ENOENT) | Err(libc::ENOTDIR) => Ok(None),
                Err(e) => Err(e),
            },
            (Layer::Image(fs), LObj::Ino(d)) => {
                match fs.lookup_entry(*d, name).map_err(from_lib)? {
                    Some(e) if e.inode != 0 => {
                        let i = fs.read_inode(e.inode).map_err(from_lib)?;
                        Ok(Some(LEntry::Live(LObj::Ino(e.inode), LAttr::of_inode(&i))))
                    }
                    Some(e) if e.file_type == ft::WHT => Ok(Some(LEntry::Whiteout)),
                    _ => Ok(None),
                }
            }
            _ => Err(libc::EIO),
        }
    }

    /// The lookups until `end_listing` are a listing's names (see
    /// Tree::look_in).
    pub fn begin_listing(&self) {
        if let Layer::Dir(t) = self {
            t.begin_listing();
        }
    }

    pub fn end_listing(&self) {
        if let Layer::Dir(t) = self {
            t.end_listing();
        }
    }

    /// Whether a lower directory hides the layers below it.
    pub fn is_opaque(&self, dir: &LObj) -> bool {
        match (self, dir) {
            (Layer::Image(fs), LObj::Ino(d)) => {
                fs.read_inode(*d).map(|i| i.is_opaque()).unwrap_or(false)
            }
            (Layer::Dir(t), LObj::Path(p, id)) => {
                let mut v = [0u8; 4];
                t.open_checked(p, id).is_ok_and(|(fd, _)| {
                    matches!(
                        rustix::fs::fgetxattr(&fd, "trusted.overlay.opaque", &mut v),
                        Ok(1) if v[0] == b'y'
                    )
                })
            }
            _ => false,
        }
    }

    pub fn attr(&self, o: &LObj) -> Result<LAttr, Errno> {
        match (self, o) {
            (Layer::Dir(t), LObj::Path(p, id)) => {
                let (_, st) = t.checked(p, id)?;
                Ok(LAttr::of_stat(&st))
            }
            (Layer::Image(fs), LObj::Ino(n)) => {
                let i = fs.read_inode(*n).map_err(from_lib)?;
                Ok(LAttr::of_inode(&i))
            }
            _ => Err(libc::EIO),
        }
    }

    /// The names of a lower directory with their modes (None: a whiteout),
    /// '.' and '..' left out.
    pub fn list(&self, dir: &LObj) -> Result<Vec<Listed>, Errno> {
        let mut out = Vec::new();
        match (self, dir) {
            (Layer::Dir(t), LObj::Path(d, id)) => {
                let (fd, _) = t.open_checked(d, id)?;
                let mut dir = rustix::fs::Dir::read_from(&fd).map_err(|e| e.raw_os_error())?;
                while let Some(e) = dir.read() {
                    let e = e.map_err(|e| e.raw_os_error())?;
                    let name = e.file_name().to_bytes();
                    if name == b"." || name == b".." {
                        continue;
                    }
                    // The entry's type is enough except for character
                    // devices (whiteouts are 0/0) and unknown types.
                    let mode = match e.file_type() {
                        FileType::RegularFile => S_IFREG,
                        FileType::Directory => S_IFDIR,
                        FileType::Symlink => S_IFLNK,
                        FileType::Fifo => inode::S_IFIFO as u32,
                        FileType::Socket => inode::S_IFSOCK as u32,
                        FileType::BlockDevice => inode::S_IFBLK as u32,
                        _ => match rustix::fs::statat(&fd, name, AtFlags::SYMLINK_NOFOLLOW) {
                            Ok(st) if is_whiteout(&st) => {
                                out.push((name.to_vec(), None, 0));
                                continue;
                            }
                            Ok(st) => st.st_mode,
                            Err(_) => continue, // gone meanwhile
                        },
                    };
                    out.push((name.to_vec(), Some(mode), e.ino()));
                }
            }
            (Layer::Image(fs), LObj::Ino(d)) => {
                for e in fs.read_dir(*d).map_err(from_lib)? {
                    if e.is_dot() || e.is_dotdot() {
                        continue;
                    }
                    if e.inode != 0 {
                        out.push((e.name, Some(mode_of_ft(e.file_type)), e.inode as u64));
                    } else if e.file_type == ft::WHT {
                        out.push((e.name, None, 0));
                    }
                }
            }
            _ => return Err(libc::EIO),
        }
        Ok(out)
    }

    pub fn read(&self, o: &LObj, offset: u64, len: u32) -> Result<Vec<u8>, Errno> {
        match (self, o) {
            (Layer::Dir(t), LObj::Path(p, id)) => {
                let (fd, _) = t.open_checked(p, id)?;
                beneath::pread_full(&fd, offset, len as usize)
            }
            (Layer::Image(fs), LObj::Ino(n)) => {
                let i = fs.read_inode(*n).map_err(from_lib)?;
                super::union::read_range(fs, &i, offset, len)
            }
            _ => Err(libc::EIO),
        }
    }

    pub fn readlink(&self, o: &LObj) -> Result<Vec<u8>, Errno> {
        match (self, o) {
            (Layer::Dir(t), LObj::Path(p, id)) => {
                let (fd, _) = t.checked(p, id)?;
                rustix::fs::readlinkat(&fd, "", Vec::new())
                    .map(|t| t.into_bytes())
                    .map_err(|e| e.raw_os_error())
            }
            (Layer::Image(fs), LObj::Ino(n)) => {
                let i = fs.read_inode(*n).map_err(from_lib)?;
                fs.read_link(&i).map_err(from_lib)
            }
            _ => Err(libc::EIO),
        }
    }

    /// Every extended attribute (full names, e.g. `user.x`).
    pub fn xattrs(&self, o: &LObj) -> Result<Vec<(String, Vec<u8>)>, Errno> {
        match (self, o) {
            (Layer::Dir(t), LObj::Path(p, id)) => {
                if id.kind != S_IFREG && id.kind != S_IFDIR {
                    // Read only through a descriptor opened for reading,
                    // which symlinks and special files do not get.
                    return Ok(Vec::new());
                }
                let (fd, _) = t.open_checked(p, id)?;
                let mut names = vec![0u8; 65536];
                let n = match rustix::fs::flistxattr(&fd, &mut names) {
                    Ok(n) => n,
                    Err(e) if e == rustix::io::Errno::NOTSUP => return Ok(Vec::new()),
                    Err(e) => return Err(e.raw_os_error()),
                };
                let mut out = Vec::new();
                for name in names[..n].split(|&b| b == 0).filter(|s| !s.is_empty()) {
                    let name = String::from_utf8_lossy(name).into_owned();
                    let mut val = vec![0u8; 65536];
                    match rustix::fs::fgetxattr(&fd, name.as_str(), &mut val) {
                        Ok(k) => {
                            val.truncate(k);
                            out.push((name, val));
                        }
                        Err(_) => continue,
                    }
                }
                Ok(out)
            }
            (Layer::Image(fs), LObj::Ino(n)) => Ok(fs
                .list_xattrs(*n)
                .map_err(from_lib)?
                .into_iter()
                .map(|x| (x.name, x.value))
                .collect()),
            _ => Err(libc::EIO),
        }
    }

    /// Streams a regular file's data as `sink(offset, bytes)` (holes of
    /// image layers skipped; directory layers in 1 MiB chunks).
    pub fn for_each_run(
        &self,
        o: &LObj,
        mut sink: impl FnMut(u64, &[u8]) -> Result<(), Errno>,
    ) -> Result<(), Errno> {
        match (self, o) {
            (Layer::Dir(t), LObj::Path(p, id)) => {
                let (fd, _) = t.open_checked(p, id)?;
                stream_fd(fd.as_fd(), sink)
            }
            (Layer::Image(fs), LObj::Ino(n)) => {
                let i = fs.read_inode(*n).map_err(from_lib)?;
                let mut err = None;
                fs.read_file_with(&i, |off, data| {
                    if let Err(e) = sink(off, data) {
                        err = Some(e);
                        return Err(ext2fs::Error::Stopped);
                    }
                    Ok(())
                })
                .map_err(|e| err.unwrap_or_else(|| from_lib(e)))
            }
            _ => Err(libc::EIO),
        }
    }
}

/// A mode with only the type bits, from a directory entry's file type.
pub fn mode_of_ft(t: u8) -> u32 {
    (match t {
        ft::DIR => inode::S_IFDIR,
        ft::CHRDEV => inode::S_IFCHR,
        ft::BLKDEV => inode::S_IFBLK,
        ft::FIFO => inode::S_IFIFO,
        ft::SOCK => inode::S_IFSOCK,
        ft::SYMLINK => inode::S_IFLNK,
        _ => inode::S_IFREG,
    }) as u32
}

/// Streams a descriptor's data as `sink(offset, bytes)` in 1 MiB chunks.
pub fn stream_fd(
    fd: std::os::fd::BorrowedFd<'_>,
    mut sink: impl FnMut(u64, &[u8]) -> Result<(), Errno>,
) -> Result<(), Errno> {
    let mut off = 0u64;
    loop {
        let chunk = beneath::pread_full(fd, off, 1 << 20)?;
        if chunk.is_empty() {
            return Ok(());
        }
        sink(off, &chunk)?;
        off += chunk.len() as u64;
    }
}
