//! Write requests debugfs 1.47 has beside the usual ones: zap_block
//! (debugfs/zap.c), undelete, fallocate and init_filesys (debugfs.c).

use anyhow::{anyhow, bail, Result};
use ext2fs::fs::Filesystem;
use ext2fs::inode::Inode;

use crate::cnum::strtoull_prefix;
use crate::gnu_getopt::getopt;
use crate::session::{Session, Worded};

/// debugfs' parse_ulong / parse_ulonglong: strtoul(…, 0) with nothing
/// left over, else "Bad <what> - <arg>".
fn parse_ulong(what: &str, arg: &str) -> Result<u64> {
    match strtoull_prefix(arg) {
        (n, true) => Ok(n),
        _ => bail!("Bad {what} - {arg}"),
    }
}

/// debugfs_read_inode(ino, &inode, name): a failure worded under `name`.
fn read_inode_named(
    fs: &ext2fs::fs::Filesystem,
    ino: u32,
    name: &str,
) -> Result<ext2fs::inode::Inode> {
    fs.read_inode(ino).map_err(|e| {
        Worded(format!(
            "{name}: {} while reading inode {ino}",
            e.com_err_text()
        ))
        .into()
    })
}

/// zap_block [-f file] [-o offset] [-l length] [-p pattern] block_num,
/// zap_block [-f file] [-b bit] block_num
pub fn zap_block(s: &mut Session, args: &[String]) -> Result<()> {
    s.fs_rw()?;
    let bs = s.fs()?.block_size() as i32;
    let usage = || {
        Worded(
            "Usage:\tzap_block [-f file] [-o offset] [-l length] [-p pattern] block_num\n\tzap_block [-f file] [-b bit] block_num"
                .into(),
        )
    };
    let (opts, rest) = getopt(args, "b:f:l:o:p:");
    let (mut file, mut pattern) = (None, 0u8);
    let (mut offset, mut length, mut bit) = (-1i32, -1i32, -1i32);
    for (c, v) in &opts {
        match c {
            'f' => file = Some(v.clone()),
            // The values land in C ints, truncated as there.
            'b' => {
                bit = parse_ulong("bit", v)? as i32;
                if bit >= bs * 8 {
                    bail!("The bit to flip must be within a {bs} block\n");
                }
            }
            'p' => {
                let p = parse_ulong("pattern", v)?;
                if p >= 256 {
                    bail!("The fill pattern must be an 8-bit value\n");
                }
                pattern = p as u8;
            }
            'o' => {
                offset = parse_ulong("offset", v)? as i32;
                if offset >= bs {
                    bail!("The offset must be within a {bs} block\n");
                }
            }
            'l' => length = parse_ulong("length", v)? as i32,
            _ => return Err(usage().into()),
        }
    }
    if bit > 0 && offset > 0 {
        bail!("The -o and -b options can not be mixed.");
    }
    let offset = offset.max(0);
    if length < 0 {
        length = bs - offset;
    }
    if offset.wrapping_add(length) > bs {
        bail!("The specified length is too bug\n");
    }
    if rest.len() != 1 {
        return Err(usage().into());
    }
    let mut block = parse_ulong("block", &rest[0])?;
    if let Some(f) = file {
        let ino = s.inode_arg(&f)?;
        block = file_block(s.fs()?, ino, block)?;
    }
    let fs = s.fs_rw()?;
    let mut buf = fs
        .read_block_anywhere(block)
        .map_err(|e| anyhow!("{} while reading block {block}\n", e.com_err_text()))?;
    if bit >= 0 {
        buf[(bit >> 3) as usize] ^= 1 << (bit & 7);
    } else {
        let (o, l) = (offset as usize, length as usize);
        buf[o..o + l].fill(pattern);
    }
    fs.write_block_anywhere(block, &buf)
        .map_err(|e| anyhow!("{} while write block {block}\n", e.com_err_text()))?;
    Ok(())
}

/// undelete <inode_num> [dest_name]: the inode given one link (two for a
/// directory) and no deletion time, its blocks and itself counted in use
/// again as libext2fs' alloc_stats count them (blocks still marked are
/// counted once more, as there), then linked when a name is given.
/// The block `-f FILE` names with a logical block number, as zap_block and
/// block_dump map it with ext2fs_bmap2: a hole is block 0 (and is then
/// read or zapped).
pub fn file_block(fs: &Filesystem, ino: u32, lblk: u64) -> Result<u64> {
    Ok(fs
        .read_inode(ino)
        .and_then(|inode| fs.bmap_anywhere(&inode, lblk))
        // ext2fs_bmap2 zeroes the number it was given (debugfs passes the
        // same variable) before it can fail.
        .map_err(|e| anyhow!("{} while mapping logical block 0\n", e.com_err_text()))?
        .map_or(0, u64::from))
}

/// Every block of `inode`'s map (indirect blocks too) taken (`used`) or
/// given back by ext2fs_block_alloc_stats2, which refuses a block past
/// the end with a word and goes on (debugfs' undel and kill_file).
pub fn map_alloc_stats(fs: &mut Filesystem, inode: &Inode, used: bool) -> Result<()> {
    let mut blocks = Vec::new();
    fs.block_iterate(inode, |p| {
        blocks.push(u64::from(p.pblk));
        std::ops::ControlFlow::Continue(())
    });
    let count = fs.geo().blocks_count;
    for b in blocks {
        if b >= count {
            eprintln!("ext2fs_block_alloc_stats: Illegal block number: {b}");
            continue;
        }
        fs.block_alloc_stats(b, used)?;
    }
    Ok(())
}

pub fn undelete(s: &mut Session, args: &[String]) -> Result<()> {
    if !(2..=3).contains(&args.len()) {
        bail!("Usage: undelete <inode_num> [dest_name]");
    }
    s.fs_rw()?;
    s.bitmaps_loaded()?;
    let ino = s.inode_arg(&args[1])?;
    let fs = s.fs_rw()?;
    let mut inode = read_inode_named(fs, ino, &args[1])?;
    if fs.test_inode(ino)? {
        return Err(Worded(format!("{}: Inode is not marked as deleted", args[1])).into());
    }
    inode.base.i_links_count = if inode.is_dir() { 2 } else { 1 };
    inode.base.i_dtime = 0;
    fs.write_inode(ino, &inode)
        .map_err(|e| anyhow!("{} while writing inode {ino}", e.com_err_text()))?;
    map_alloc_stats(fs, &inode, true)?;
    fs.inode_alloc_stats(ino, true, false)?;
    if args.len() > 2 {
        let link_args = vec!["link".to_string(), args[1].clone(), args[2].clone()];
        crate::write::link(s, &link_args)?;
    }
    Ok(())
}

/// fallocate <file> start_blk [end_blk]: blocks for the holes of a
/// block-mapped file, as ext2fs_fallocate places them (without an end,
/// the range is past any filesystem and fails, as there).
pub fn fallocate(s: &mut Session, args: &[String]) -> Result<()> {
    if !(3..=4).contains(&args.len()) {
        bail!("Usage: {} <file> start_blk [end_blk]", args[0]);
    }
    s.fs_rw()?;
    s.bitmaps_loaded()?;
    let ino = s.inode_arg(&args[1])?;
    let start = parse_ulong("logical block", &args[2])?;
    let end = match args.get(3) {
        Some(e) => parse_ulong("logical block", e)?,
        None => u64::MAX,
    };
    let fs = s.fs_rw()?;
    let len = end.wrapping_sub(start).wrapping_add(1);
    let extents = fs
        .read_inode(ino)
        .ok()
        .filter(|i| i.flags() & ext2fs::inode::flags::EXTENTS != 0);
    if let Some(inode) = extents.filter(|_| len <= fs.geo().blocks_count && len != 0) {
        // ext2fs_extent_open refuses a flag over block numbers.
        if !inode.holds_extent_header() {
            bail!("Corrupt extent header while fallocating inode {ino} from {start} to {end}\n");
        }
        bail!("extent trees are not written by this tool (ext2 only; see compat.md)");
    }
    fs.fallocate_block_mapped(ino, start, len).map_err(|e| {
        anyhow!(
            "{} while fallocating inode {ino} from {start} to {end}\n",
            e.com_err_text()
        )
    })
}

/// init_filesys <device> <blocks>
pub fn init_filesys(s: &mut Session, args: &[String]) -> Result<()> {
    if args.len() != 3 {
        bail!("Usage: initialize <device> <blocks>");
    }
    if s.fs.is_some() {
        let dev = s.device.clone().unwrap_or_default();
        bail!("Filesystem {dev} is still open.  Close it first.\n");
    }
    parse_ulong("blocks count", &args[2])?;
    bail!("an in-memory filesystem is not made by this tool: use mke2fs-union (see compat.md)")
}

/// One modify_inode prompt: `%30s    [value] `, then a line from standard
/// input (at most 199 bytes, as fgets into debugfs' 200-byte buffer); an
/// empty line or end of input keeps the value, a number as strtoul reads
/// it replaces it (truncated to the field), anything else is a bad value.
fn prompt_field(s: &mut Session, cmd: &str, prompt: &str, shown: String) -> Result<Option<u64>> {
    use std::io::{BufRead, Read, Write};
    write!(s.out, "{prompt:>30}    [{shown}] ")?;
    s.out.flush()?;
    let mut line = Vec::new();
    let stdin = std::io::stdin();
    let mut lock = stdin.lock();
    let n = (&mut lock).take(199).read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    if line.is_empty() {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&line).into_owned();
    match strtoull_prefix(&text) {
        (v, true) => Ok(Some(v)),
        _ => {
            eprintln!("{cmd}: Bad value - {text}");
            Ok(None)
        }
    }
}

/// modify_inode <file>: every field of the inode's first 128 bytes
/// prompted for in debugfs' order and formats, then written back.
pub fn modify_inode(s: &mut Session, args: &[String]) -> Result<()> {
    if args.len() != 2 {
        bail!("Usage: {} <file>", args[0]);
    }
    s.fs_rw()?;
    let ino = s.inode_arg(&args[1])?;
    let fs = s.fs_rw()?;
    let os = fs.sb().s_creator_os;
    let mut inode = read_inode_named(fs, ino, &args[1])?;
    let cmd = args[0].clone();
    let hurd = os == ext2fs::superblock::OS_HURD;
    let linux = os == 0;
    macro_rules! field {
        ($prompt:expr, $fmt:literal, $ty:ty, $place:expr) => {{
            let shown = format!($fmt, $place);
            if let Some(v) = prompt_field(s, &cmd, &$prompt, shown)? {
                $place = v as $ty;
            }
        }};
    }
    // "%d" of a 32-bit field prints it signed.
    macro_rules! signed32 {
        ($prompt:expr, $place:expr) => {{
            let shown = format!("{}", $place as i32);
            if let Some(v) = prompt_field(s, &cmd, &$prompt, shown)? {
                $place = v as u32;
            }
        }};
    }
    let b = &mut inode.base;
    field!("Mode", "0{:o}", u16, b.i_mode);
    field!("User ID", "{}", u16, b.i_uid);
    field!("Group ID", "{}", u16, b.i_gid);
    field!("Size", "{}", u32, b.i_size);
    signed32!("Creation time", b.i_ctime);
    signed32!("Modification time", b.i_mtime);
    signed32!("Access time", b.i_atime);
    signed32!("Deletion time", b.i_dtime);
    field!("Link count", "{}", u16, b.i_links_count);
    if linux {
        field!("Block count high", "{}", u16, b.l_i_blocks_hi);
    }
    field!("Block count", "{}", u32, b.i_blocks);
    field!("File flags", "0x{:x}", u32, b.i_flags);
    field!("Generation", "0x{:x}", u32, b.i_generation);
    signed32!("File acl", b.i_file_acl);
    signed32!("High 32bits of size", b.i_size_high);
    if hurd {
        signed32!("Translator Block", b.i_version);
    }
    signed32!("Fragment address", b.i_faddr);
    if hurd {
        // h_i_frag and h_i_fsize: the two bytes of l_i_blocks_hi.
        let mut frag = (b.l_i_blocks_hi & 0xff) as u8;
        let mut fsize = (b.l_i_blocks_hi >> 8) as u8;
        field!("Fragment number", "{}", u8, frag);
        field!("Fragment size", "{}", u8, fsize);
        b.l_i_blocks_hi = u16::from(frag) | u16::from(fsize) << 8;
    }
    for i in 0..12 {
        signed32!(format!("Direct Block #{i}"), b.i_block[i]);
    }
    signed32!("Indirect Block", b.i_block[12]);
    signed32!("Double Indirect Block", b.i_block[13]);
    signed32!("Triple Indirect Block", b.i_block[14]);
    s.fs_rw()?.write_inode(ino, &inode).map_err(|e| {
        Worded(format!(
            "{}: {} while writing inode {ino}",
            args[1],
            e.com_err_text()
        ))
    })?;
    Ok(())
}
