//! Union-mount requests: whiteout, fallthru, opaque, and export_overlay
//! (the tree as an overlayfs upper directory).

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use ext2fs::dirent::ft;
use ext2fs::fs::Filesystem;
use ext2fs::inode::{self, Inode};

use rustix::fs::{makedev, FileType};

use crate::format::escaped;
use crate::host::{corrupt_name, errno_text, set_fd_meta, set_fd_xattr, HostDir, MAX_DEPTH};
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
/// Names come from the image: everything goes through `HostDir`, so it
/// lands beneath `dest` whatever the image says.
struct Exporter<'a> {
    fs: &'a Filesystem,
    root: HostDir,
    /// Copy the image's security.* and trusted.* attributes too (-x).
    all_xattrs: bool,
    /// inode -> the components (below `root`) of its first name, to keep
    /// hard links linked.
    seen: HashMap<u32, Vec<Vec<u8>>>,
    skipped_fallthrus: usize,
    failures: usize,
}

/// Whether an attribute read from the image is copied out. security.*
/// (capabilities, SELinux labels) and trusted.* (overlayfs' own markers)
/// change what the host grants or how overlayfs reads the tree, so an
/// image only gets them with -x.
fn copies_xattr(name: &str, all: bool) -> bool {
    all || !(name.starts_with("security.") || name.starts_with("trusted."))
}

/// The node type mknod makes for a device, FIFO or socket inode.
fn node_type(mode_type: u16) -> Option<FileType> {
    match mode_type {
        inode::S_IFCHR => Some(FileType::CharacterDevice),
        inode::S_IFBLK => Some(FileType::BlockDevice),
        inode::S_IFIFO => Some(FileType::Fifo),
        inode::S_IFSOCK => Some(FileType::Socket),
        _ => None,
    }
}

impl Exporter<'_> {
    /// Exports the entries of `dir` into `host`, whose components below
    /// the root are `path`. Whiteouts in an opaque directory are left out:
    /// the opaque xattr already hides every lower name, and overlayfs
    /// shows whiteouts of a directory it does not merge.
    fn export_dir(&mut self, dir: u32, host: &HostDir, path: &mut Vec<Vec<u8>>) -> Result<()> {
        if path.len() > MAX_DEPTH {
            eprintln!(
                "export_overlay: {} is more than {MAX_DEPTH} directories deep; not exported",
                host.path().display()
            );
            self.failures += 1;
            return Ok(());
        }
        let wh = self.fs.whiteout_feature();
        let opaque = self.fs.read_inode(dir)?.is_opaque();
        for (i, e) in self.fs.read_dir(dir)?.iter().enumerate() {
            let dot = (i == 0 && e.is_dot()) || (i == 1 && e.is_dotdot());
            if dot || !e.in_use(wh) {
                continue;
            }
            if corrupt_name(&e.name) {
                eprintln!(
                    "export_overlay: skipping corrupt name \"{}\" in directory inode {dir}",
                    escaped(&e.name)
                );
                self.failures += 1;
                continue;
            }
            if e.inode == 0 {
                match e.file_type {
                    ft::WHT if opaque => {}
                    ft::WHT => {
                        if let Err(err) =
                            host.mknod(&e.name, FileType::CharacterDevice, 0, makedev(0, 0))
                        {
                            eprintln!(
                                "export_overlay: {} while making whiteout {} (a 0/0 character device: this needs root)",
                                errno_text(err),
                                host.shown(&e.name).display()
                            );
                            self.failures += 1;
                        }
                    }
                    _ => self.skipped_fallthrus += 1,
                }
                continue;
            }
            if let Err(err) = self.export_inode(e.inode, host, &e.name, path) {
                eprintln!("export_overlay: {err:#}");
                self.failures += 1;
            }
        }
        Ok(())
    }

    /// A second name of an inode already written: a hard link to the
    /// first, found again from the root without following anything.
    fn link_again(&self, first: &[Vec<u8>], parent: &HostDir, name: &[u8]) -> std::io::Result<()> {
        let (last, dirs) = first.split_last().expect("a recorded name has components");
        let mut from: Option<HostDir> = None;
        for comp in dirs {
            let next = from.as_ref().unwrap_or(&self.root).open_dir(comp)?;
            from = Some(next);
        }
        parent.link_from(from.as_ref().unwrap_or(&self.root), last, name)
    }

    fn export_inode(
        &mut self,
        ino: u32,
        parent: &HostDir,
        name: &[u8],
        path: &mut Vec<Vec<u8>>,
    ) -> Result<()> {
        let shown = parent.shown(name);
        let rec = self
            .fs
            .read_inode(ino)
            .map_err(|e| anyhow!("{e} while exporting {}", shown.display()))?;
        let fail = |what: &str, e: std::io::Error| {
            anyhow!("{} while {what} {}", errno_text(e), shown.display())
        };
        if !rec.is_dir() {
            if let Some(first) = self.seen.get(&ino) {
                return self
                    .link_again(first, parent, name)
                    .map_err(|e| fail("linking", e));
            }
        }
        // Modes are kept (set-id bits too): an upper directory must show
        // what the image holds. chown comes first, as it clears set-id bits.
        let mode = (rec.mode() & 0o7777) as u32;
        let xattrs: Vec<_> = self
            .fs
            .list_xattrs(ino)
            .unwrap_or_default()
            .into_iter()
            .filter(|a| copies_xattr(&a.name, self.all_xattrs))
            .collect();
        let mut problems: Vec<(String, std::io::Error)> = Vec::new();
        match rec.file_type() {
            inode::S_IFDIR => {
                let d = parent
                    .make_dir(name)
                    .map_err(|e| fail("making directory", e))?;
                path.push(name.to_vec());
                let r = self.export_dir(ino, &d, path);
                path.pop();
                r?;
                let f = d.file().map_err(|e| fail("reopening", e))?;
                for (what, e) in set_fd_meta(&f, &rec, mode) {
                    problems.push((what.to_string(), e));
                }
                for a in &xattrs {
                    if let Err(e) = set_fd_xattr(&f, &a.name, &a.value) {
                        problems.push((format!("setting {} on", a.name), e));
                    }
                }
                if rec.is_opaque() {
                    set_fd_xattr(&f, OPAQUE_XATTR, b"y")
                        .map_err(|e| fail(&format!("setting {OPAQUE_XATTR} on"), e))?;
                }
            }
            inode::S_IFREG => {
                let mut f = parent.create_file(name).map_err(|e| fail("creating", e))?;
                self.record(ino, path, name);
                write_data(self.fs, &rec, &mut f, &shown)?;
                for (what, e) in set_fd_meta(&f, &rec, mode) {
                    problems.push((what.to_string(), e));
                }
                for a in &xattrs {
                    if let Err(e) = set_fd_xattr(&f, &a.name, &a.value) {
                        problems.push((format!("setting {} on", a.name), e));
                    }
                }
            }
            t => {
                if t == inode::S_IFLNK {
                    let target = self.fs.read_link(&rec).map_err(|e| {
                        anyhow!("{e} while reading the symlink for {}", shown.display())
                    })?;
                    parent
                        .symlink(&target, name)
                        .map_err(|e| fail("creating symlink", e))?;
                } else {
                    let kind = node_type(t).ok_or_else(|| {
                        anyhow!("inode {ino} has an unknown type {:o}", rec.mode())
                    })?;
                    let (ma, mi) = if rec.is_device() {
                        rec.device()
                    } else {
                        (0, 0)
                    };
                    parent
                        .mknod(name, kind, mode, makedev(ma, mi))
                        .map_err(|e| fail("making node", e))?;
                }
                self.record(ino, path, name);
                if let Err(e) = parent.chown_entry(name, rec.uid(), rec.gid()) {
                    problems.push(("changing ownership of".into(), e));
                }
                if t != inode::S_IFLNK {
                    if let Err(e) = parent.chmod_entry(name, mode) {
                        problems.push(("setting permissions of".into(), e));
                    }
                }
                for a in &xattrs {
                    if let Err(e) = parent.set_entry_xattr(name, &a.name, &a.value) {
                        problems.push((format!("setting {} on", a.name), e));
                    }
                }
                if let Err(e) = parent.set_entry_times(name, &rec) {
                    problems.push(("setting times of".into(), e));
                }
            }
        }
        // Best effort, as before: a filesystem or a user may refuse some
        // owners or attribute names; the object itself is there.
        for (what, e) in problems {
            eprintln!(
                "export_overlay: {} while {what} {}",
                errno_text(e),
                shown.display()
            );
        }
        Ok(())
    }

    fn record(&mut self, ino: u32, path: &[Vec<u8>], name: &[u8]) {
        let mut comps = path.to_vec();
        comps.push(name.to_vec());
        self.seen.insert(ino, comps);
    }
}

/// overlayfs' mark of an opaque directory.
const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// A regular file's data, holes left as holes.
fn write_data(fs: &Filesystem, rec: &Inode, f: &mut std::fs::File, shown: &Path) -> Result<()> {
    use std::io::{Seek, SeekFrom};
    let mut pos = 0u64;
    fs.read_file_with(rec, |off, data| {
        if off != pos {
            f.seek(SeekFrom::Start(off))
                .map_err(|e| ext2fs::Error::io(shown, e))?;
        }
        f.write_all(data).map_err(|e| ext2fs::Error::io(shown, e))?;
        pos = off + data.len() as u64;
        Ok(())
    })?;
    f.set_len(rec.size())?;
    Ok(())
}

pub fn export_overlay(s: &mut Session, args: &[String]) -> Result<()> {
    let (opts, rest) = getopt(args, "x")?;
    usage_check(
        &rest,
        1,
        2,
        "export_overlay [-x] <native directory> [<directory in the fs>]",
    )?;
    let top = match rest.get(1) {
        Some(p) => s.inode_arg(p)?,
        None => s.root,
    };
    let fs = s.fs()?;
    let rec = fs.read_inode(top)?;
    if !rec.is_dir() {
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
    let root = HostDir::open_dest(dest)
        .map_err(|e| anyhow!("{} while opening {}", errno_text(e), dest.display()))?;
    let mut ex = Exporter {
        fs,
        root,
        all_xattrs: !opts.is_empty(),
        seen: HashMap::new(),
        skipped_fallthrus: 0,
        failures: 0,
    };
    let root = HostDir::open_dest(dest)
        .map_err(|e| anyhow!("{} while opening {}", errno_text(e), dest.display()))?;
    ex.export_dir(top, &root, &mut Vec::new())?;
    if rec.is_opaque() {
        set_fd_xattr(root.file()?, OPAQUE_XATTR, b"y").map_err(|e| {
            anyhow!(
                "{} while setting {OPAQUE_XATTR} on {}",
                errno_text(e),
                dest.display()
            )
        })?;
    }
    if ex.skipped_fallthrus > 0 {
        eprintln!(
            "export_overlay: {} fallthru entries have no overlayfs equivalent and were left out",
            ex.skipped_fallthrus
        );
    }
    if ex.failures > 0 {
        bail!("{} entries were not exported", ex.failures);
    }
    Ok(())
}
