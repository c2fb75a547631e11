//! Requests that change the filesystem (need `-w` or `open -w`): mkdir,
//! rmdir, rm, unlink, link, kill_file, write, symlink, mknod, copy_inode,
//! expand_dir, punch.

use std::io::{Read, Write};

use anyhow::{anyhow, bail, Context, Result};
use ext2fs::block_map::BlockKind;
use ext2fs::dirent;
use ext2fs::fs::Filesystem;
use ext2fs::inode::{self, Inode};

use crate::session::{num32_arg, num_arg, Session, Worded};
use crate::table::{getopt, usage_check};

/// debugfs' kill_file_by_inode: dtime set and the inode written, each
/// block of its map given back as ext2fs_block_alloc_stats2 gives it back
/// (the counts move whatever the bit said), a blank line, then the inode
/// given back. The map and the attribute block stay, so lsdel and undel
/// still find them.
pub fn kill_inode(s: &mut Session, ino: u32) -> Result<()> {
    let fs = s.fs_rw()?;
    let mut rec = fs.read_inode(ino)?;
    // current_fs->now: E2FSPROGS_FAKE_TIME when set.
    rec.base.i_dtime = fs.now();
    fs.write_inode(ino, &rec)?;
    if fs.inode_has_valid_blocks(&rec) {
        crate::zap::map_alloc_stats(fs, &rec, false)?;
    }
    writeln!(s.out)?;
    s.fs_rw()?.inode_alloc_stats(ino, false, rec.is_dir())?;
    Ok(())
}

/// A library error as debugfs' com_err(argv[0], retval, 0) words it.
fn com_err(request: &str, e: anyhow::Error) -> anyhow::Error {
    match e.downcast_ref::<ext2fs::Error>() {
        Some(fe) => Worded(format!("{request}: {} ", fe.com_err_text())).into(),
        None => e,
    }
}

fn name_arg(s: &Session, path: &str) -> Result<(u32, Vec<u8>)> {
    let (dir, name) = s.parent_and_name(path)?;
    Ok((dir, name.into_bytes()))
}

pub fn mkdir(s: &mut Session, args: &[String]) -> Result<()> {
    let (_, rest) = getopt(args, "")?;
    usage_check(&rest, 1, 1, "mkdir <filename>")?;
    s.fs_rw()?;
    let path = &rest[0];
    // create_inode.c's do_mkdir_internal: what comes before the last '/'
    // is looked up as ext2fs_namei looks it up (nothing before it is the
    // current directory), what follows is the name; each failure is said
    // there, then by debugfs' do_mkdir.
    let (parent, name) = match path.rfind('/') {
        Some(i) => {
            let dir = &path[..i];
            match s.fs()?.namei_at(s.root, s.cwd, dir.as_bytes()) {
                Ok(parent) => (parent, &path[i + 1..]),
                Err(e) => {
                    let text = crate::session::namei_error_text(&e);
                    eprintln!("{dir}: {text} while looking up \"{dir}\"");
                    return Err(Worded(format!("mkdir: {text} ")).into());
                }
            }
        }
        None => (s.cwd, path.as_str()),
    };
    if let Err(e) = s.fs_rw()?.mkdir(parent, name.as_bytes(), 0o755) {
        // ext2fs_mkdir's own check of the name (EXT2_ET_DIR_EXISTS).
        let text = match &e {
            ext2fs::Error::Exists(_) => "Ext2 directory already exists".to_string(),
            other => other.com_err_text(),
        };
        eprintln!("ext2fs_mkdir: {text} while creating directory \"{name}\"");
        return Err(Worded(format!("mkdir: {text} ")).into());
    }
    Ok(())
}

pub fn rmdir(s: &mut Session, args: &[String]) -> Result<()> {
    let (_, rest) = getopt(args, "")?;
    usage_check(&rest, 1, 1, "rmdir <filename>")?;
    s.fs_rw()?;
    let (dir, name) = name_arg(s, &rest[0])?;
    s.fs_rw()?.rmdir(dir, &name)?;
    Ok(())
}

pub fn rm(s: &mut Session, args: &[String]) -> Result<()> {
    let (_, rest) = getopt(args, "")?;
    usage_check(&rest, 1, 1, "rm <filename>")?;
    s.fs_rw()?;
    let (dir, name) = name_arg(s, &rest[0])?;
    let ino = match s.inode_arg(&rest[0]) {
        Ok(i) => i,
        Err(e) => {
            // A whiteout or fallthru has no inode: rm removes the entry.
            let fs = s.fs_rw()?;
            match fs.lookup_entry(dir, &name)? {
                Some(ent) if ent.inode == 0 => {
                    fs.remove_entry(dir, &name)?;
                    return Ok(());
                }
                _ => return Err(e),
            }
        }
    };
    let fs = s.fs_rw()?;
    let mut rec = fs.read_inode(ino)?;
    if rec.is_dir() {
        bail!("file is a directory");
    }
    fs.remove_entry(dir, &name)?;
    rec.base.i_links_count = rec.base.i_links_count.saturating_sub(1);
    fs.write_inode(ino, &rec)?;
    if rec.base.i_links_count == 0 {
        kill_inode(s, ino)?;
    }
    Ok(())
}

pub fn unlink(s: &mut Session, args: &[String]) -> Result<()> {
    let (_, rest) = getopt(args, "")?;
    usage_check(&rest, 1, 1, "unlink <pathname>")?;
    s.fs_rw()?;
    let (dir, name) = name_arg(s, &rest[0])?;
    s.fs_rw()?.remove_entry(dir, &name)?;
    Ok(())
}

pub fn link(s: &mut Session, args: &[String]) -> Result<()> {
    let (_, rest) = getopt(args, "")?;
    usage_check(&rest, 2, 2, "link <source file> <dest_name>")?;
    s.fs_rw()?;
    let ino = s.inode_arg(&rest[0])?;
    // Into an existing directory: keep the source's name.
    let (dir, name) = match s.lookup_path(&rest[1]) {
        Ok(d) if s.fs()?.read_inode(d)?.is_dir() => {
            let base = rest[0]
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or("");
            (d, base.as_bytes().to_vec())
        }
        _ => name_arg(s, &rest[1])?,
    };
    // debugfs' link adds the name only: the link count is not changed
    // (and a directory may be linked too).
    let fs = s.fs_rw()?;
    let rec = fs.read_inode(ino)?;
    fs.add_entry(dir, &name, ino, inode::mode_to_dirent_type(rec.mode()))?;
    Ok(())
}

pub fn kill_file(s: &mut Session, args: &[String]) -> Result<()> {
    let (_, rest) = getopt(args, "")?;
    usage_check(&rest, 1, 1, "kill_file <file>")?;
    s.fs_rw()?;
    let ino = s.inode_arg(&rest[0])?;
    kill_inode(s, ino)
}

/// clri: zeroes the inode's 128-byte base, as debugfs does (its
/// ext2fs_write_inode writes only the base, so the large-inode fields and
/// in-inode attributes stay); bitmaps, counts and blocks are left alone.
pub fn clri(s: &mut Session, args: &[String]) -> Result<()> {
    let (_, rest) = getopt(args, "")?;
    usage_check(&rest, 1, 1, "clri <file>")?;
    s.fs_rw()?;
    let ino = s.inode_arg(&rest[0])?;
    let fs = s.fs_rw()?;
    let mut rec = fs.read_inode(ino)?;
    rec.base = inode::InodeBase::default();
    fs.write_inode(ino, &rec)?;
    Ok(())
}

pub fn write(s: &mut Session, args: &[String]) -> Result<()> {
    let (_, rest) = getopt(args, "")?;
    usage_check(&rest, 2, 2, "write <native file> <new file>")?;
    s.fs_rw()?;
    let mut src = std::fs::File::open(&rest[0]).with_context(|| rest[0].clone())?;
    let meta = src.metadata()?;
    if !meta.is_file() {
        bail!("{} is not a regular file", rest[0]);
    }
    let (dir, name) = name_arg(s, &rest[1])?;
    let fs = s.fs_rw()?;
    if fs.lookup_entry(dir, &name)?.is_some_and(|e| e.inode != 0) {
        bail!("The file '{}' already exists", rest[1]);
    }
    let perm = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) as u16 & 0o7777;
    let ino = fs
        .create(dir, &name, inode::S_IFREG | perm)
        .map_err(|e| com_err("write", e.into()))?;
    let mut rec = fs.read_inode(ino)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut off = 0u64;
    loop {
        let n = src.read(&mut buf)?;
        if n == 0 {
            break;
        }
        fs.write_range(ino, &mut rec, off, &buf[..n])?;
        off += n as u64;
    }
    writeln!(s.out, "Allocated inode: {ino}")?;
    Ok(())
}

pub fn symlink(s: &mut Session, args: &[String]) -> Result<()> {
    let (_, rest) = getopt(args, "")?;
    usage_check(&rest, 2, 2, "symlink <filename> <target>")?;
    s.fs_rw()?;
    let (dir, name) = name_arg(s, &rest[0])?;
    s.fs_rw()?.symlink(dir, &name, rest[1].as_bytes())?;
    Ok(())
}

pub fn mknod(s: &mut Session, args: &[String]) -> Result<()> {
    let (_, rest) = getopt(args, "")?;
    let usage = "mknod <name> [p| [c|b] <major> <minor>]";
    if rest.len() < 2 {
        bail!("Usage: {usage}");
    }
    let (mode, major, minor) = match (rest[1].as_str(), rest.len()) {
        ("p", 2) => (inode::S_IFIFO, 0, 0),
        ("c", 4) => (
            inode::S_IFCHR,
            num32_arg("major", &rest[2])?,
            num32_arg("minor", &rest[3])?,
        ),
        ("b", 4) => (
            inode::S_IFBLK,
            num32_arg("major", &rest[2])?,
            num32_arg("minor", &rest[3])?,
        ),
        _ => bail!("Usage: {usage}"),
    };
    s.fs_rw()?;
    let (dir, name) = name_arg(s, &rest[0])?;
    let ino = s.fs_rw()?.mknod(dir, &name, mode, major, minor)?;
    writeln!(s.out, "Allocated inode: {ino}")?;
    Ok(())
}

pub fn copy_inode(s: &mut Session, args: &[String]) -> Result<()> {
    let (_, rest) = getopt(args, "")?;
    usage_check(&rest, 2, 2, "copy_inode <source file> <dest_name>")?;
    s.fs_rw()?;
    let src = s.inode_arg(&rest[0])?;
    let dst = s.inode_arg(&rest[1])?;
    let fs = s.fs_rw()?;
    let rec = fs.read_inode(src)?;
    fs.write_inode(dst, &rec)?;
    Ok(())
}

pub fn expand_dir(s: &mut Session, args: &[String]) -> Result<()> {
    let (_, rest) = getopt(args, "")?;
    usage_check(&rest, 1, 1, "expand_dir <file>")?;
    s.fs_rw()?;
    let ino = s.inode_arg(&rest[0])?;
    let fs = s.fs_rw()?;
    let mut rec = fs.read_inode(ino)?;
    if !rec.is_dir() {
        bail!("Ext2 inode is not a directory");
    }
    let bs = fs.block_size();
    let l = rec.size().div_ceil(bs as u64);
    fs.append_block(ino, &mut rec, l, &dirent::empty_block(bs as usize))?;
    rec.set_size((l + 1) * bs as u64);
    fs.write_inode(ino, &rec)?;
    Ok(())
}

/// Deallocates logical blocks `start..=end` of an inode (holes stay
/// holes; the size is unchanged).
fn punch_blocks(
    fs: &mut Filesystem,
    ino: u32,
    rec: &mut Inode,
    start: u64,
    end: u64,
) -> Result<()> {
    let mut victims = Vec::new();
    fs.walk_blocks(rec, |k, b| {
        if let BlockKind::Data(l) = k {
            if l >= start && l <= end {
                victims.push((l, b));
            }
        }
        true
    })?;
    let per = fs.block_size() / 512;
    for (l, b) in victims {
        fs.bmap_set(rec, l, 0)?;
        fs.mark_block(b as u64, false)?;
        rec.base.i_blocks = rec.base.i_blocks.saturating_sub(per);
    }
    fs.write_inode(ino, rec)?;
    Ok(())
}

pub fn punch(s: &mut Session, args: &[String]) -> Result<()> {
    let (_, rest) = getopt(args, "")?;
    usage_check(&rest, 2, 3, "punch <file> start_blk [end_blk]")?;
    s.fs_rw()?;
    let ino = s.inode_arg(&rest[0])?;
    let start = num_arg("logical block", &rest[1])?;
    let end = match rest.get(2) {
        Some(e) => num_arg("logical block", e)?,
        None => u64::MAX,
    };
    if end < start {
        return Err(anyhow!("end block {end} is before start block {start}"));
    }
    let fs = s.fs_rw()?;
    let mut rec = fs.read_inode(ino)?;
    if !fs.has_block_map(&rec) {
        return Ok(());
    }
    punch_blocks(fs, ino, &mut rec, start, end)
}
