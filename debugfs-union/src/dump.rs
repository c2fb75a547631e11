//! dump and rdump: copying files out of the image onto the host.
//!
//! `dump`'s output is a path the user chose. `rdump` writes a tree whose
//! names come from the image, so everything goes through `host::HostDir`:
//! it lands beneath the destination whatever the image says.

use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{anyhow, bail, Result};
use ext2fs::fs::Filesystem;
use ext2fs::inode::Inode;

use crate::format::escaped;
use crate::host::{corrupt_name, errno_text, set_fd_meta, HostDir, MAX_DEPTH};
use crate::inodes::copy_out;
use crate::session::Session;
use crate::table::{getopt, usage_check};

/// The mode a dumped file gets: permission bits only, as debugfs'
/// mode_xlate (set-id and sticky bits are dropped).
fn dumped_mode(inode: &Inode) -> u32 {
    (inode.mode() & 0o777) as u32
}

/// Owner, mode and times of a dumped file or directory (debugfs'
/// fix_perms), each failure reported and the rest still done.
fn fix_perms(cmd: &str, f: &File, inode: &Inode, shown: &Path) {
    for (what, e) in set_fd_meta(f, inode, dumped_mode(inode)) {
        eprintln!("{cmd}: {} while {what} {}", errno_text(e), shown.display());
    }
}

pub fn dump(s: &mut Session, args: &[String]) -> Result<()> {
    let (opts, rest) = getopt(args, "p")?;
    usage_check(&rest, 2, 2, "dump_inode [-p] <file> <output_file>")?;
    let ino = s.inode_arg(&rest[0])?;
    let fs = s.fs()?;
    // The output path is the user's own choice, opened as debugfs opens
    // it (before the inode is read: an unreadable inode leaves it empty);
    // what -p sets goes through the open file, not the path again.
    let out = Path::new(&rest[1]);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o666)
        .open(out)
        .map_err(|e| {
            anyhow!(
                "{} while opening {} for dump_inode",
                errno_text(e),
                out.display()
            )
        })?;
    let inode = crate::inodes::read_inode_worded(fs, ino)?;
    copy_out(fs, ino, &inode, &args[0], &mut f)
        .map_err(|e| anyhow!("{} while writing file", errno_text(e)))?;
    if !opts.is_empty() {
        fix_perms("dump_file", &f, &inode, out);
    }
    Ok(())
}

/// One rdump run: the image and where it goes.
struct Rdump<'a> {
    fs: &'a Filesystem,
}

impl Rdump<'_> {
    /// Dumps inode `ino` as `name` in `parent` (debugfs' rdump_inode):
    /// symlinks, regular files and directories; other types are skipped.
    /// Failures are reported and the walk goes on, as in debugfs.
    fn entry(&self, ino: u32, inode: &Inode, name: &[u8], parent: &HostDir, depth: usize) {
        let shown = parent.shown(name);
        if inode.is_symlink() {
            let target = match self.fs.read_link(inode) {
                Ok(t) => t,
                Err(e) => return eprintln!("rdump: {e} while reading symlink"),
            };
            if let Err(e) = parent.symlink(&target, name) {
                eprintln!(
                    "rdump: {} while creating symlink {} -> {}",
                    errno_text(e),
                    String::from_utf8_lossy(&target),
                    shown.display()
                );
            }
        } else if inode.is_reg() {
            let mut f = match parent.create_file(name) {
                Ok(f) => f,
                Err(e) => {
                    return eprintln!("rdump: {} while opening {}", errno_text(e), shown.display())
                }
            };
            if let Err(e) = copy_out(self.fs, ino, inode, "rdump", &mut f) {
                eprintln!("rdump: {} while writing file", errno_text(e));
            }
            fix_perms("dump_file", &f, inode, &shown);
        } else if inode.is_dir() && name != b"." && name != b".." {
            match parent.make_dir(name) {
                Ok(dir) => self.dir(ino, inode, &dir, depth + 1),
                Err(e) => eprintln!(
                    "rdump: {} while making directory {}",
                    errno_text(e),
                    shown.display()
                ),
            }
        }
    }

    /// Dumps the entries of directory `ino` into `host`, then gives
    /// `host` the directory's owner, mode and times.
    fn dir(&self, ino: u32, inode: &Inode, host: &HostDir, depth: usize) {
        if depth > MAX_DEPTH {
            return eprintln!(
                "rdump: {} is more than {MAX_DEPTH} directories deep; not dumped",
                host.path().display()
            );
        }
        match self.fs.read_dir(ino) {
            Ok(entries) => {
                let wh = self.fs.whiteout_feature();
                for (i, e) in entries.iter().enumerate() {
                    // The real '.' and '..' open every directory.
                    let dot = (i == 0 && e.is_dot()) || (i == 1 && e.is_dotdot());
                    if dot || e.inode == 0 || !e.in_use(wh) {
                        continue;
                    }
                    if corrupt_name(&e.name) {
                        eprintln!(
                            "rdump: skipping corrupt name \"{}\" in directory inode {ino}",
                            escaped(&e.name)
                        );
                        continue;
                    }
                    match self.fs.read_inode(e.inode) {
                        Ok(child) => self.entry(e.inode, &child, &e.name, host, depth),
                        Err(err) => eprintln!(
                            "{}: {} while reading inode {}",
                            escaped(&e.name),
                            err.com_err_text(),
                            e.inode
                        ),
                    }
                }
            }
            Err(e) => eprintln!("rdump: {e} while dumping {}", host.path().display()),
        }
        match host.file() {
            Ok(f) => fix_perms("rdump", &f, inode, host.path()),
            Err(e) => eprintln!(
                "rdump: {} while reopening {}",
                errno_text(e),
                host.path().display()
            ),
        }
    }
}

pub fn rdump(s: &mut Session, args: &[String]) -> Result<()> {
    let (_, rest) = getopt(args, "")?;
    if rest.len() < 2 {
        bail!("Usage: rdump <directory>... <native directory>");
    }
    let dest = Path::new(&rest[rest.len() - 1]);
    match std::fs::metadata(dest) {
        Err(e) => bail!("{} while statting {}", errno_text(e), dest.display()),
        Ok(m) if !m.is_dir() => bail!("{} is not a directory", dest.display()),
        Ok(_) => {}
    }
    let host = HostDir::open_dest(dest)
        .map_err(|e| anyhow!("{} while opening {}", errno_text(e), dest.display()))?;
    for src in &rest[..rest.len() - 1] {
        let ino = match s.inode_arg(src) {
            Ok(i) => i,
            Err(e) => {
                crate::table::report("rdump", &e);
                continue;
            }
        };
        let fs = s.fs()?;
        let inode = match fs.read_inode(ino) {
            Ok(i) => i,
            Err(e) => {
                eprintln!("{src}: {} while reading inode {ino}", e.com_err_text());
                continue;
            }
        };
        let r = Rdump { fs };
        // As debugfs: the part after the last '/' names the copy; an
        // argument ending in '/' (such as "/") is dumped into DEST itself.
        match src.rsplit('/').next().unwrap_or("") {
            "" if inode.is_dir() => r.dir(ino, &inode, &host, 0),
            "" => {}
            base => r.entry(ino, &inode, base.as_bytes(), &host, 0),
        }
    }
    Ok(())
}
