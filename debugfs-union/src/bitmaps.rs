//! Bitmap requests: testb/setb/freeb, testi/seti/freei, ffb, ffi,
//! dump_unused.

use std::io::Write;

use anyhow::{bail, Result};
use ext2fs::features::ro_compat;
use ext2fs::fs::Filesystem;
use ext2fs::group_desc::BG_BLOCK_UNINIT;

use crate::session::{num_arg, Session, Worded};
use crate::table::{getopt, usage_check};

/// Whether a block is in use. A group whose block bitmap was never
/// initialised (uninit_bg's BLOCK_UNINIT) has only its own metadata in
/// use, whatever its bitmap block holds (as libext2fs computes it).
pub fn block_in_use(fs: &mut Filesystem, b: u64) -> Result<bool> {
    let g = fs.geo().block_group(b);
    let uninit = fs.sb().has_ro_compat(ro_compat::GDT_CSUM)
        && fs
            .groups()
            .get(g as usize)
            .is_some_and(|gd| gd.bg_flags & BG_BLOCK_UNINIT != 0);
    if !uninit {
        return Ok(fs.test_block(b)?);
    }
    if fs.geo().group_metadata_range(g).contains(&b) {
        return Ok(true);
    }
    let itb = fs.geo().inode_table_blocks as u64;
    Ok(fs.groups().iter().any(|gd| {
        b == gd.bg_block_bitmap as u64
            || b == gd.bg_inode_bitmap as u64
            || (b >= gd.bg_inode_table as u64 && b < gd.bg_inode_table as u64 + itb)
    }))
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Test,
    Set,
    Clear,
}

fn block_op(s: &mut Session, args: &[String], op: Op) -> Result<()> {
    let (_, rest) = getopt(args, "")?;
    usage_check(&rest, 1, 2, &format!("{} <block> [count]", args[0]))?;
    s.bitmaps_loaded()?;
    if op != Op::Test {
        s.fs_rw()?;
    }
    // debugfs refuses block 0 only; a block past the bitmap gets
    // libext2fs's warning and reads as free.
    let first = num_arg("block number", &rest[0])?;
    if first == 0 {
        bail!("Invalid block number 0");
    }
    let count = match rest.get(1) {
        Some(c) => num_arg("count", c)?,
        None => 1,
    };
    let device = s.device.clone().unwrap_or_default();
    let fs = s.fs_mut()?;
    let range = fs.geo().first_data_block as u64..fs.geo().blocks_count;
    let outside = |call: &str, b: u64| {
        eprintln!("Illegal block number passed to ext2fs_{call}_block_bitmap #{b} for block bitmap for {device}")
    };
    let mut o = String::new();
    for b in first..first.saturating_add(count) {
        let inside = range.contains(&b);
        let used = if inside {
            block_in_use(fs, b)?
        } else {
            outside("test", b);
            false
        };
        match op {
            Op::Test => o.push_str(&format!(
                "Block {b} {}\n",
                if used { "marked in use" } else { "not in use" }
            )),
            Op::Set if used => eprintln!("{}: Warning: block {b} already set", args[0]),
            Op::Clear if !used => {
                eprintln!("{}: Warning: block {b} already clear", args[0]);
                if !inside {
                    outside("unmark", b);
                }
            }
            Op::Set if !inside => outside("mark", b),
            // As debugfs: the bit alone, the free counts untouched.
            Op::Set => fs.set_block_bit(b, true)?,
            Op::Clear => fs.set_block_bit(b, false)?,
        }
    }
    s.out.write_all(o.as_bytes())?;
    Ok(())
}

pub fn testb(s: &mut Session, a: &[String]) -> Result<()> {
    block_op(s, a, Op::Test)
}
pub fn setb(s: &mut Session, a: &[String]) -> Result<()> {
    block_op(s, a, Op::Set)
}
pub fn freeb(s: &mut Session, a: &[String]) -> Result<()> {
    block_op(s, a, Op::Clear)
}

fn inode_op(s: &mut Session, args: &[String], op: Op) -> Result<()> {
    let (_, rest) = getopt(args, "")?;
    if op == Op::Test {
        usage_check(&rest, 1, 1, "testi <file>")?;
    } else {
        usage_check(&rest, 1, 2, &format!("{} <file> [num]", args[0]))?;
    }
    if op != Op::Test {
        s.fs_rw()?;
    }
    s.bitmaps_loaded()?;
    let first = s.inode_arg(&rest[0])?;
    let count = match rest.get(1) {
        Some(c) => num_arg("count", c)? as u32,
        None => 1,
    };
    let fs = s.fs_mut()?;
    if count == 0 || first as u64 + count as u64 - 1 > fs.sb().s_inodes_count as u64 {
        bail!("Invalid inode count {count}");
    }
    let mut o = String::new();
    for ino in first..first + count {
        let used = fs.test_inode(ino)?;
        // debugfs warns about a bit already as wanted for one inode only.
        match op {
            Op::Test => o.push_str(&format!(
                "Inode {ino} is {}\n",
                if used { "marked in use" } else { "not in use" }
            )),
            Op::Set if used && count == 1 => {
                eprintln!("{}: Warning: inode already set", args[0])
            }
            Op::Clear if !used && count == 1 => {
                eprintln!("{}: Warning: inode already clear", args[0])
            }
            // As debugfs: the bit alone, the free counts untouched.
            Op::Set => fs.set_inode_bit(ino, true)?,
            Op::Clear => fs.set_inode_bit(ino, false)?,
        }
    }
    s.out.write_all(o.as_bytes())?;
    Ok(())
}

pub fn testi(s: &mut Session, a: &[String]) -> Result<()> {
    inode_op(s, a, Op::Test)
}
pub fn seti(s: &mut Session, a: &[String]) -> Result<()> {
    inode_op(s, a, Op::Set)
}
pub fn freei(s: &mut Session, a: &[String]) -> Result<()> {
    inode_op(s, a, Op::Clear)
}

pub fn ffb(s: &mut Session, args: &[String]) -> Result<()> {
    let (_, rest) = getopt(args, "")?;
    usage_check(&rest, 0, 2, "find_free_block [count [goal]]")?;
    let catastrophic = s.catastrophic;
    let count = match rest.first() {
        Some(c) => num_arg("count", c)?,
        None => 1,
    };
    let device = s.device.clone().unwrap_or_default();
    let fs = s.fs_mut()?;
    let first = fs.geo().first_data_block as u64;
    let end = fs.geo().blocks_count;
    let mut goal = match rest.get(1) {
        Some(g) => num_arg("goal", g)?,
        None => first,
    };
    // ext2fs_new_block2: no goal, or one past the end, starts at the
    // first data block; one before it is refused by the bitmap search.
    if goal == 0 || goal >= end {
        goal = first;
    }
    if goal < first && !catastrophic {
        s.out.write_all(b"Free blocks found: ")?;
        eprintln!(
            "Illegal block number passed to ext2fs_test_block_bitmap #{goal} for block bitmap for {device}"
        );
        bail!(Worded("ext2fs_new_block: Invalid argument ".into()));
    }
    if catastrophic {
        // libext2fs' allocator refuses without the bitmap.
        s.out.write_all(b"Free blocks found: ")?;
        bail!(Worded("ext2fs_new_block: Block bitmap not loaded ".into()));
    }
    let mut found = Vec::new();
    let mut b = goal;
    let mut scanned = 0u64;
    // libext2fs' search finds nothing in a map with no bit set at all.
    let empty = fs.block_bitmap_is_empty()?;
    while !empty && (found.len() as u64) < count && scanned < end - first {
        if !block_in_use(fs, b)? {
            found.push(b);
        }
        b += 1;
        if b >= end {
            b = first;
        }
        scanned += 1;
    }
    let mut o = String::from("Free blocks found: ");
    if found.is_empty() && count > 0 {
        // ext2fs_new_block fails only when no block at all is free (or
        // the map is empty, above): the line stays open. Fewer free
        // blocks than asked for end where the search wraps to the first
        // one found, without a word.
        s.out.write_all(o.as_bytes())?;
        bail!(Worded(
            "ext2fs_new_block: Could not allocate block in ext2 filesystem ".into()
        ));
    }
    for b in &found {
        o.push_str(&format!("{b} "));
    }
    o.push('\n');
    s.out.write_all(o.as_bytes())?;
    Ok(())
}

pub fn ffi(s: &mut Session, args: &[String]) -> Result<()> {
    // No getopt: debugfs checks the count (and a '?'), then the open fs,
    // then reads each number with strtol.
    if args.len() > 3 || args.get(1).is_some_and(|a| a.starts_with('?')) {
        bail!("Usage: find_free_inode [dir [mode]]");
    }
    s.fs()?;
    let number = |what: &str, a: &String| {
        crate::cnum::strtol(a, 0).ok_or_else(|| anyhow::anyhow!("Bad {what} - {a}"))
    };
    let dir = match args.get(1) {
        Some(d) => number("dir", d)? as u32,
        None => s.root,
    };
    if let Some(m) = args.get(2) {
        number("mode", m)?;
    }
    if s.catastrophic {
        s.fs()?;
        bail!(Worded("ext2fs_new_inode: Inode bitmap not loaded ".into()));
    }
    let device = s.device.clone().unwrap_or_default();
    let fs = s.fs_mut()?;
    let ipg = fs.geo().inodes_per_group;
    let total = fs.sb().s_inodes_count;
    let first_ino = fs.sb().first_ino();
    // ext2fs_new_inode: the start of the directory's group (none for
    // directory 0), not before the first non-reserved inode.
    let start = if dir > 0 {
        ((dir - 1) / ipg).saturating_mul(ipg).saturating_add(1)
    } else {
        0
    }
    .max(first_ino);
    let mut ino = start;
    // ext2fs_new_inode: a start past the last inode finds none.
    let none_free = Worded("ext2fs_new_inode: Could not allocate inode in ext2 filesystem ".into());
    if start > total {
        bail!(none_free);
    }
    if start == 0 {
        // A first inode of 0: the bitmap search refuses inode 0.
        eprintln!("Illegal inode number passed to ext2fs_test_inode_bitmap #0 for inode bitmap for {device}");
        bail!(none_free);
    }
    for _ in 0..total {
        if ino >= first_ino && ino <= total && !fs.test_inode(ino)? {
            writeln!(s.out, "Free inode found: {ino}")?;
            return Ok(());
        }
        ino = if ino >= total { 1 } else { ino + 1 };
    }
    bail!(none_free)
}

/// dump_unused: every block the bitmap calls free that holds anything but
/// zeroes, raw after a header line (as debugfs prints it).
pub fn dump_unused(s: &mut Session, args: &[String]) -> Result<()> {
    let (_, rest) = getopt(args, "")?;
    usage_check(&rest, 0, 0, "dump_unused ")?;
    let fs =
        s.fs.as_mut()
            .ok_or_else(|| anyhow::anyhow!("Filesystem not open"))?;
    for b in fs.geo().first_data_block as u64..fs.geo().blocks_count {
        if block_in_use(fs, b)? {
            continue;
        }
        let buf = fs
            .read_block(b)
            .map_err(|e| anyhow::anyhow!("{e} While reading block\n"))?;
        if buf.iter().all(|&x| x == 0) {
            continue;
        }
        write!(s.out, "\nUnused block {b} contains non-zero data:\n\n")?;
        s.out.write_all(&buf)?;
    }
    Ok(())
}
