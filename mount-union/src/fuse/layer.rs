//! Read-only lower layers: a directory read with std::fs, or an ext2
//! image read through the ext2fs library. A lower layer is never written.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use ext2fs::dirent::ft;
use ext2fs::fs::{Filesystem, OpenOptions};
use ext2fs::inode::{self, ROOT_INO};

use super::errno::{from_io, from_lib, Errno};

/// A name in a lower directory and its mode (None: a whiteout).
pub type Listed = (Vec<u8>, Option<u32>);

/// One lower layer.
pub enum Layer {
    Dir(PathBuf),
    Image(Box<Filesystem>),
}

/// An object in a lower layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LObj {
    Path(PathBuf),
    Ino(u32),
}

/// What a name is in one lower directory.
pub enum LEntry {
    /// A live object and its mode (S_IFMT bits included).
    Live(LObj, u32),
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
    pub atime: (i64, u32),
    pub mtime: (i64, u32),
    pub ctime: (i64, u32),
    pub rdev_major: u32,
    pub rdev_minor: u32,
}

impl LAttr {
    /// The stat(2) view of an inode of an ext2 layer (whole seconds).
    pub fn of_inode(i: &inode::Inode) -> Self {
        let (ma, mi) = if i.is_device() { i.device() } else { (0, 0) };
        LAttr {
            mode: i.mode() as u32,
            nlink: i.base.i_links_count as u32,
            uid: i.uid(),
            gid: i.gid(),
            size: i.size(),
            blocks: i.base.i_blocks as u64,
            atime: (i.base.i_atime as i64, 0),
            mtime: (i.base.i_mtime as i64, 0),
            ctime: (i.base.i_ctime as i64, 0),
            rdev_major: ma,
            rdev_minor: mi,
        }
    }
}

pub const S_IFMT: u32 = 0o170000;
pub const S_IFDIR: u32 = 0o040000;

pub fn is_dir(mode: u32) -> bool {
    mode & S_IFMT == S_IFDIR
}

impl Layer {
    /// Opens a lower layer: a directory, or an ext2 image (read-only).
    pub fn open(path: &Path) -> Result<Layer, String> {
        let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if meta.is_dir() {
            return Ok(Layer::Dir(path.to_path_buf()));
        }
        let fs = Filesystem::open(path, &OpenOptions::default())
            .map_err(|e| format!("{}: not a directory nor an ext2 image: {e}", path.display()))?;
        Ok(Layer::Image(Box::new(fs)))
    }

    pub fn root(&self) -> LObj {
        match self {
            Layer::Dir(p) => LObj::Path(p.clone()),
            Layer::Image(_) => LObj::Ino(ROOT_INO),
        }
    }

    /// Looks `name` up in the lower directory `dir`. Directory layers show
    /// overlayfs whiteouts (character devices 0/0) as whiteouts; image
    /// layers their own whiteouts (fallthrus there are taken as absent).
    pub fn lookup(&self, dir: &LObj, name: &[u8]) -> Result<Option<LEntry>, Errno> {
        match (self, dir) {
            (Layer::Dir(_), LObj::Path(d)) => {
                let p = d.join(OsStr::from_bytes(name));
                match std::fs::symlink_metadata(&p) {
                    Ok(m) => {
                        if m.mode() & S_IFMT == 0o020000 && m.rdev() == 0 {
                            return Ok(Some(LEntry::Whiteout));
                        }
                        Ok(Some(LEntry::Live(LObj::Path(p), m.mode())))
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => Ok(None),
                    Err(e) => Err(from_io(&e)),
                }
            }
            (Layer::Image(fs), LObj::Ino(d)) => {
                match fs.lookup_entry(*d, name).map_err(from_lib)? {
                    Some(e) if e.inode != 0 => {
                        let i = fs.read_inode(e.inode).map_err(from_lib)?;
                        Ok(Some(LEntry::Live(LObj::Ino(e.inode), i.mode() as u32)))
                    }
                    Some(e) if e.file_type == ft::WHT => Ok(Some(LEntry::Whiteout)),
                    _ => Ok(None),
                }
            }
            _ => Err(libc::EIO),
        }
    }

    /// Whether a lower directory hides the layers below it.
    pub fn is_opaque(&self, dir: &LObj) -> bool {
        match (self, dir) {
            (Layer::Image(fs), LObj::Ino(d)) => {
                fs.read_inode(*d).map(|i| i.is_opaque()).unwrap_or(false)
            }
            (Layer::Dir(_), LObj::Path(p)) => {
                let mut v = [0u8; 4];
                matches!(
                    rustix::fs::lgetxattr(p, "trusted.overlay.opaque", &mut v),
                    Ok(1) if v[0] == b'y'
                )
            }
            _ => false,
        }
    }

    pub fn attr(&self, o: &LObj) -> Result<LAttr, Errno> {
        match (self, o) {
            (Layer::Dir(_), LObj::Path(p)) => {
                let m = std::fs::symlink_metadata(p).map_err(|e| from_io(&e))?;
                let rdev = m.rdev();
                Ok(LAttr {
                    mode: m.mode(),
                    nlink: m.nlink() as u32,
                    uid: m.uid(),
                    gid: m.gid(),
                    size: m.size(),
                    blocks: m.blocks(),
                    atime: (m.atime(), m.atime_nsec() as u32),
                    mtime: (m.mtime(), m.mtime_nsec() as u32),
                    ctime: (m.ctime(), m.ctime_nsec() as u32),
                    rdev_major: libc::major(rdev),
                    rdev_minor: libc::minor(rdev),
                })
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
            (Layer::Dir(_), LObj::Path(d)) => {
                for e in std::fs::read_dir(d).map_err(|e| from_io(&e))? {
                    let e = e.map_err(|e| from_io(&e))?;
                    let m = match e.metadata() {
                        Ok(m) => m,
                        Err(_) => continue,
                    };
                    let name = e.file_name().as_bytes().to_vec();
                    if m.mode() & S_IFMT == 0o020000 && m.rdev() == 0 {
                        out.push((name, None));
                    } else {
                        out.push((name, Some(m.mode())));
                    }
                }
            }
            (Layer::Image(fs), LObj::Ino(d)) => {
                for e in fs.read_dir(*d).map_err(from_lib)? {
                    if e.is_dot() || e.is_dotdot() {
                        continue;
                    }
                    if e.inode != 0 {
                        out.push((e.name, Some(mode_of_ft(e.file_type))));
                    } else if e.file_type == ft::WHT {
                        out.push((e.name, None));
                    }
                }
            }
            _ => return Err(libc::EIO),
        }
        Ok(out)
    }

    pub fn read(&self, o: &LObj, offset: u64, len: u32) -> Result<Vec<u8>, Errno> {
        match (self, o) {
            (Layer::Dir(_), LObj::Path(p)) => {
                let f = std::fs::File::open(p).map_err(|e| from_io(&e))?;
                let mut buf = vec![0u8; len as usize];
                let mut got = 0;
                while got < buf.len() {
                    match f.read_at(&mut buf[got..], offset + got as u64) {
                        Ok(0) => break,
                        Ok(n) => got += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(from_io(&e)),
                    }
                }
                buf.truncate(got);
                Ok(buf)
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
            (Layer::Dir(_), LObj::Path(p)) => std::fs::read_link(p)
                .map(|t| t.as_os_str().as_bytes().to_vec())
                .map_err(|e| from_io(&e)),
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
            (Layer::Dir(_), LObj::Path(p)) => {
                let mut names = vec![0u8; 65536];
                let n = match rustix::fs::llistxattr(p, &mut names) {
                    Ok(n) => n,
                    Err(e) if e == rustix::io::Errno::NOTSUP => return Ok(Vec::new()),
                    Err(e) => return Err(e.raw_os_error()),
                };
                let mut out = Vec::new();
                for name in names[..n].split(|&b| b == 0).filter(|s| !s.is_empty()) {
                    let name = String::from_utf8_lossy(name).into_owned();
                    let mut val = vec![0u8; 65536];
                    match rustix::fs::lgetxattr(p, name.as_str(), &mut val) {
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
            (Layer::Dir(_), LObj::Path(p)) => {
                let f = std::fs::File::open(p).map_err(|e| from_io(&e))?;
                let mut buf = vec![0u8; 1 << 20];
                let mut off = 0u64;
                loop {
                    let n = match f.read_at(&mut buf, off) {
                        Ok(0) => return Ok(()),
                        Ok(n) => n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(from_io(&e)),
                    };
                    sink(off, &buf[..n])?;
                    off += n as u64;
                }
            }
            (Layer::Image(fs), LObj::Ino(n)) => {
                let i = fs.read_inode(*n).map_err(from_lib)?;
                let mut err = None;
                fs.read_file_with(&i, |off, data| {
                    if let Err(e) = sink(off, data) {
                        err = Some(e);
                        return Err(ext2fs::Error::Invalid("copy-up stopped".into()));
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
