//! Union-mount requests: whiteout, fallthru, opaque, and export_overlay
//! (the tree as an overlayfs upper directory).

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use ext2fs::dirent::ft;
use ext2fs::fs::Filesystem;
use ext2fs::inode::{self, Inode};

use crate::session::Session;
use crate::table::{getopt, usage_check};

fn union_entry(s: &mut Session, args: &[String], kind: u8) -> Result<()> {
    let (_, rest) = getopt(args, "")?;
    usage_check(&rest, 1, 1, &format!("{} <path>", args[0]))?;
    s.fs_rw()?;
    let (dir, name) = s.parent_and_name(&rest[0])?;
    s.fs_rw()?.add_union_entry(dir, name.as_bytes(), kind)?;
    Ok(())
}

pub fn whiteout(s: &mut Session, args: &[String]) -> Result<()> {
    union_entry(s, args, ft::WHT)
}

pub fn fallthru(s: &mut Session, args: &[String]) -> Result<()> {
    union_entry(s, args, ft::FALLTHRU)
}

pub fn opaque(s: &mut Session, args: &[String]) -> Result<()> {
    let (_, rest) = getopt(args, "")?;
    usage_check(&rest, 1, 2, "opaque <directory> [on|off]")?;
    let ino = s.inode_arg(&rest[0])?;
    match rest.get(1).map(String::as_str) {
        None => {
            let rec = s.fs()?.read_inode(ino)?;
            if !rec.is_dir() {
                bail!("{}: Ext2 inode is not a directory", rest[0]);
            }
            let state = if rec.is_opaque() {
                "opaque"
            } else {
                "not opaque"
            };
            writeln!(s.out, "{}: {state}", rest[0])?;
        }
        Some(v @ ("on" | "off")) => s.fs_rw()?.set_opaque(ino, v == "on")?,
        Some(v) => bail!("'{v}' is neither on nor off"),
    }
    Ok(())
}

/// Writes the tree below `top` into `dest` as an overlayfs upper layer.
struct Exporter<'a> {
    fs: &'a Filesystem,
    /// inode -> first path written, to keep hard links linked.
    seen: HashMap<u32, PathBuf>,
    skipped_fallthrus: usize,
}

fn set_xattr(path: &Path, name: &str, value: &[u8], symlink: bool) -> Result<()> {
    let r = if symlink {
        rustix::fs::lsetxattr(path, name, value, rustix::fs::XattrFlags::empty())
    } else {
        rustix::fs::setxattr(path, name, value, rustix::fs::XattrFlags::empty())
    };
    r.map_err(|e| anyhow!("setting {name} on {}: {e}", path.display()))
}

fn apply_meta(path: &Path, rec: &Inode, symlink: bool) -> Result<()> {
    use rustix::fs::{utimensat, AtFlags, Timespec, Timestamps, CWD};
    let flags = if symlink {
        AtFlags::SYMLINK_NOFOLLOW
    } else {
        AtFlags::empty()
    };
    (if symlink {
        std::os::unix::fs::lchown
    } else {
        std::os::unix::fs::chown
    })(path, Some(rec.uid()), Some(rec.gid()))
    .map_err(|e| anyhow!("chown {}: {e}", path.display()))?;
    if !symlink {
        rustix::fs::chmod(
            path,
            rustix::fs::Mode::from_raw_mode((rec.mode() & 0o7777) as u32),
        )
        .map_err(|e| anyhow!("chmod {}: {e}", path.display()))?;
    }
    let ts = |t: u32| Timespec {
        tv_sec: t as i32 as i64,
        tv_nsec: 0,
    };
    let times = Timestamps {
        last_access: ts(rec.base.i_atime),
        last_modification: ts(rec.base.i_mtime),
    };
    utimensat(CWD, path, &times, flags).map_err(|e| anyhow!("utimes {}: {e}", path.display()))?;
    Ok(())
}

impl Exporter<'_> {
    /// Exports the entries of `dir`. Whiteouts in an opaque directory
    /// are left out: the opaque xattr already hides every lower name, and
    /// overlayfs shows whiteouts of a directory it does not merge.
    fn export_dir(&mut self, dir: u32, dest: &Path) -> Result<()> {
        let wh = self.fs.whiteout_feature();
        let opaque = self.fs.read_inode(dir)?.is_opaque();
        for e in self.fs.read_dir(dir)? {
            if e.is_dot() || e.is_dotdot() || !e.in_use(wh) {
                continue;
            }
            let path = dest.join(std::ffi::OsStr::from_bytes(&e.name));
            if e.inode == 0 {
                match e.file_type {
                    ft::WHT if opaque => {}
                    ft::WHT => {
                        rustix::fs::mknodat(
                            rustix::fs::CWD,
                            &path,
                            rustix::fs::FileType::CharacterDevice,
                            rustix::fs::Mode::empty(),
                            rustix::fs::makedev(0, 0),
                        )
                        .map_err(|err| anyhow!("whiteout {}: {err} (overlayfs whiteouts are 0/0 character devices: this needs root)", path.display()))?;
                    }
                    _ => self.skipped_fallthrus += 1,
                }
                continue;
            }
            self.export_inode(e.inode, &path)?;
        }
        Ok(())
    }

    fn export_inode(&mut self, ino: u32, path: &Path) -> Result<()> {
        let rec = self.fs.read_inode(ino)?;
        if !rec.is_dir() {
            if let Some(first) = self.seen.get(&ino) {
                std::fs::hard_link(first, path)
                    .with_context(|| format!("link {}", path.display()))?;
                return Ok(());
            }
            self.seen.insert(ino, path.to_path_buf());
        }
        let symlink = rec.is_symlink();
        match rec.file_type() {
            inode::S_IFDIR => {
                std::fs::create_dir(path).with_context(|| format!("mkdir {}", path.display()))?;
                self.export_dir(ino, path)?;
                if rec.is_opaque() {
                    set_xattr(path, "trusted.overlay.opaque", b"y", false)?;
                }
            }
            inode::S_IFREG => {
                let mut f = std::fs::File::create(path)
                    .with_context(|| format!("create {}", path.display()))?;
                let mut pos = 0u64;
                self.fs.read_file_with(&rec, |off, data| {
                    use std::io::{Seek, SeekFrom};
                    if off != pos {
                        f.seek(SeekFrom::Start(off))
                            .map_err(|e| ext2fs::Error::io(path, e))?;
                    }
                    f.write_all(data).map_err(|e| ext2fs::Error::io(path, e))?;
                    pos = off + data.len() as u64;
                    Ok(())
                })?;
                f.set_len(rec.size())?;
            }
            inode::S_IFLNK => {
                let target = self.fs.read_link(&rec)?;
                std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(&target), path)
                    .with_context(|| format!("symlink {}", path.display()))?;
            }
            t @ (inode::S_IFCHR | inode::S_IFBLK | inode::S_IFIFO | inode::S_IFSOCK) => {
                let ftype = match t {
                    inode::S_IFCHR => rustix::fs::FileType::CharacterDevice,
                    inode::S_IFBLK => rustix::fs::FileType::BlockDevice,
                    inode::S_IFIFO => rustix::fs::FileType::Fifo,
                    _ => rustix::fs::FileType::Socket,
                };
                let (ma, mi) = if rec.is_device() {
                    rec.device()
                } else {
                    (0, 0)
                };
                rustix::fs::mknodat(
                    rustix::fs::CWD,
                    path,
                    ftype,
                    rustix::fs::Mode::from_raw_mode((rec.mode() & 0o7777) as u32),
                    rustix::fs::makedev(ma, mi),
                )
                .map_err(|e| anyhow!("mknod {}: {e}", path.display()))?;
            }
            _ => bail!("inode {ino} has an unknown type {:o}", rec.mode()),
        }
        for a in self.fs.list_xattrs(ino).unwrap_or_default() {
            // Best effort: a filesystem or a user may refuse some names.
            if let Err(e) = set_xattr(path, &a.name, &a.value, symlink) {
                eprintln!("export_overlay: {e:#}");
            }
        }
        if let Err(e) = apply_meta(path, &rec, symlink) {
            eprintln!("export_overlay: {e:#}");
        }
        Ok(())
    }
}

pub fn export_overlay(s: &mut Session, args: &[String]) -> Result<()> {
    let (_, rest) = getopt(args, "")?;
    usage_check(
        &rest,
        1,
        2,
        "export_overlay <native directory> [<directory in the fs>]",
    )?;
    let top = match rest.get(1) {
        Some(p) => s.inode_arg(p)?,
        None => s.root,
    };
    let fs = s.fs()?;
    if !fs.read_inode(top)?.is_dir() {
        bail!("not a directory");
    }
    let dest = Path::new(&rest[0]);
    if dest.exists() {
        if !dest.is_dir() || std::fs::read_dir(dest)?.next().is_some() {
            bail!("{} exists and is not an empty directory", dest.display());
        }
    } else {
        std::fs::create_dir_all(dest).with_context(|| format!("mkdir {}", dest.display()))?;
    }
    let mut ex = Exporter {
        fs,
        seen: HashMap::new(),
        skipped_fallthrus: 0,
    };
    ex.export_dir(top, dest)?;
    let rec = fs.read_inode(top)?;
    if rec.is_opaque() {
        set_xattr(dest, "trusted.overlay.opaque", b"y", false)?;
    }
    if ex.skipped_fallthrus > 0 {
        eprintln!(
            "export_overlay: {} fallthru entries have no overlayfs equivalent and were left out",
            ex.skipped_fallthrus
        );
    }
    Ok(())
}
