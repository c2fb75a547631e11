//! Inode requests: stat, cat, blocks, bmap, icheck, imap,
//! idump, block_dump, lsdel, set_inode_field.

use std::io::Write;

use anyhow::{anyhow, bail, Result};
use ext2fs::fs::Filesystem;
use ext2fs::inode::{flags, Inode};
use ext2fs::superblock as sbm;
use ext2fs::xattr;

use crate::format::{block_runs, hexdump, inode_time, time_string, type_name, ListItem};
use crate::session::{num32_arg, num_arg, Session, Worded};
use crate::table::{getopt, usage_check};

/// An inode as debugfs_read_inode reads it for a request: a failure is
/// worded "<com_err text> while reading inode N".
pub fn read_inode_worded(fs: &Filesystem, ino: u32) -> Result<Inode> {
    fs.read_inode(ino)
        .map_err(|e| anyhow!("{} while reading inode {ino}", e.com_err_text()))
}

/// Calls `f(ino, inode)` for every inode as ext2fs' inode scan reads
/// them (a group's table 8 blocks at a time, EXT2_INODE_SCAN_DEFAULT_
/// BUFFER_BLOCKS) until `f` says stop. A table the scan cannot read ends
/// it with debugfs' words, under `who`: "while opening inode scan" for
/// group 0's table outside the filesystem, "while starting" before the
/// first inode, "while doing" after it.
pub fn for_each_inode<F>(fs: &Filesystem, who: &str, mut f: F) -> Result<()>
where
    F: FnMut(u32, &Inode) -> Result<bool>,
{
    const CHUNK: u64 = 8;
    let geo = fs.geo();
    let isz = geo.inode_size as usize;
    let failed =
        |text: String, phase: &str| Worded(format!("{who}: {text} while {phase} inode scan"));
    // ext2fs_open_inode_scan reads the bad blocks list first.
    let bad = fs.inode_scan_bad_blocks();
    let mut phase = "starting";
    if let Err(e) = fs.inode_table_block(0) {
        if !matches!(
            e,
            ext2fs::Error::Corrupt {
                kind: ext2fs::CorruptKind::MissingInodeTable,
                ..
            }
        ) {
            return Err(failed(e.com_err_text(), "opening").into());
        }
    }
    let table_blocks = u64::from(geo.inode_table_blocks);
    for g in 0..geo.group_count {
        let table = fs
            .inode_table_block(g)
            .map_err(|e| failed(e.com_err_text(), phase))?;
        let mut ino = g * geo.inodes_per_group + 1;
        let end = ino + geo.inodes_per_group;
        let mut at = 0;
        while ino < end && at < table_blocks {
            let from = table + at;
            // As get_next_blocks: a listed bad block of the table is a
            // chunk of its own, of zeros, whose inodes the scan's callers
            // skip (EXT2_ET_BAD_BLOCK_IN_INODE_TABLE); a chunk read ends
            // before one.
            let is_bad = bad.binary_search(&from).is_ok();
            let mut n = CHUNK.min(table_blocks - at);
            if let Some(&next_bad) = bad.iter().find(|&&b| b > from && b < from + n) {
                n = next_bad - from;
            }
            let buf = if is_bad {
                n = 1;
                vec![0; geo.block_size as usize]
            } else {
                let count = u32::try_from(n).unwrap_or(u32::MAX);
                fs.read_blocks(from, count)
                    .map_err(|_| failed("Can't read next inode".into(), phase))?
            };
            for raw in buf.chunks_exact(isz) {
                if ino >= end {
                    break;
                }
                if !is_bad {
                    if !f(ino, &Inode::parse(raw)?)? {
                        return Ok(());
                    }
                    phase = "doing";
                }
                ino += 1;
            }
            at += n;
        }
    }
    Ok(())
}

/// The block map as list items, in debugfs' order: the library's
/// `block_iterate` (each indirect block before what it maps). Every
/// non-zero pointer is listed whatever the inode's type or the pointer's
/// value; an indirect block outside the filesystem (or unreadable) ends
/// its branch and the branches above it, but not the inode's other
/// top-level pointers, and the logical numbers after it are counted as
/// ext2fs_block_iterate3 counts them (not advanced past what was given
/// up). Inline data and extent trees (ext4; on ext2 only a damaged flag)
/// list nothing, as there.
fn block_items(fs: &Filesystem, inode: &Inode) -> Vec<ListItem> {
    use ext2fs::block_map::BlockKind;
    let mut items = Vec::new();
    // The walk's error ends nothing here: the list is what it reached.
    fs.block_iterate(inode, |p| {
        items.push(match p.kind {
            BlockKind::Data(l) => ListItem::Data(l, p.pblk),
            BlockKind::Indirect { level, .. } => {
                let name = ["IND", "DIND", "TIND"][usize::from(level.clamp(1, 3)) - 1];
                ListItem::Meta(name, p.pblk)
            }
        });
        std::ops::ControlFlow::Continue(())
    });
    items
}

fn print_xattr(out: &mut String, name: &str, value: &[u8], statfmt: bool) {
    out.push_str(&format!("{name} ({})", value.len()));
    // stat's format leaves inline data's value out.
    let shown = !(statfmt && name == "system.data");
    if shown && !value.is_empty() && (!statfmt || value.len() < 40) {
        out.push_str(" = ");
        let printable = value.iter().filter(|&&b| (0x20..0x7f).contains(&b)).count();
        if printable <= value.len() * 7 / 8 {
            for b in value {
                out.push_str(&format!("{b:02x} "));
            }
        } else {
            out.push('"');
            out.push_str(&crate::format::c_string(value));
            out.push('"');
        }
    }
    out.push('\n');
}

/// The `Extended attributes:` section of stat and ea_list.
/// As debugfs' dump_inode_attributes: nothing when the attributes cannot
/// be read (no ext_attr feature, an unreadable block).
pub fn xattr_section(fs: &Filesystem, ino: u32) -> String {
    let mut o = String::new();
    let attrs = match fs.list_xattrs(ino) {
        Ok(attrs) if fs.xattrs_openable() => attrs,
        _ => return o,
    };
    if attrs.is_empty() {
        return o;
    }
    o.push_str("Extended attributes:\n");
    for a in attrs {
        o.push_str("  ");
        print_xattr(&mut o, &a.name, &a.value, true);
    }
    o
}

/// debugfs `stat` text for one inode.
pub fn stat_text(fs: &Filesystem, ino: u32, inode: &Inode) -> Result<String> {
    let mut o = String::new();
    let b = &inode.base;
    o.push_str(&format!(
        "Inode: {ino}   Type: {}    Mode:  0{:03o}   Flags: 0x{:x}\n",
        type_name(inode),
        inode.mode() & 0o7777,
        b.i_flags
    ));
    let ex = inode.extra_isize();
    let large = inode.size > 128;
    if large && ex >= 24 {
        o.push_str(&format!(
            "Generation: {}    Version: 0x{:08x}:{:08x}\n",
            b.i_generation, inode.extra.i_version_hi, b.i_version
        ));
    } else {
        o.push_str(&format!(
            "Generation: {}    Version: 0x{:08x}\n",
            b.i_generation, b.i_version
        ));
    }
    o.push_str(&format!(
        "User: {:5}   Group: {:5}",
        // debugfs' inode_uid/inode_gid are ints: printed signed.
        inode.uid() as i32,
        inode.gid() as i32
    ));
    if large && ex >= 32 {
        // printf's %5d: signed.
        o.push_str(&format!("   Project: {:5}", inode.extra.i_projid as i32));
    }
    if inode.is_reg() || inode.is_dir() {
        o.push_str(&format!("   Size: {}\n", inode.size()));
    } else {
        o.push_str(&format!("   Size: {}\n", b.i_size));
    }
    if fs.sb().s_creator_os == ext2fs::superblock::OS_HURD {
        o.push_str(&format!(
            "File ACL: {} Translator: {}\n",
            b.i_file_acl, b.i_version
        ));
    } else {
        o.push_str(&format!(
            "File ACL: {}\n",
            b.i_file_acl as u64 | (b.l_i_file_acl_high as u64) << 32
        ));
    }
    // debugfs adds the high word whatever the features, except on Hurd
    // (whose osd2 has no such field).
    let blocks = if fs.sb().s_creator_os == sbm::OS_HURD {
        b.i_blocks as u64
    } else {
        b.i_blocks as u64 | (b.l_i_blocks_hi as u64) << 32
    };
    o.push_str(&format!(
        "Links: {}   Blockcount: {blocks}\n",
        b.i_links_count
    ));
    o.push_str(&format!(
        "Fragment:  Address: {}    Number: 0    Size: 0\n",
        b.i_faddr
    ));
    if b.i_flags & flags::OPAQUE != 0 && fs.whiteout_feature() {
        o.push_str("Union: opaque directory\n");
    }
    let e = &inode.extra;
    if large && ex >= 24 {
        for (label, t, x) in [
            (" ctime", b.i_ctime, e.i_ctime_extra),
            (" atime", b.i_atime, e.i_atime_extra),
            (" mtime", b.i_mtime, e.i_mtime_extra),
            ("crtime", e.i_crtime, e.i_crtime_extra),
        ] {
            o.push_str(&format!(
                "{label}: 0x{t:08x}:{x:08x} -- {}\n",
                time_string(inode_time(t, Some(x)))
            ));
        }
        if b.i_dtime != 0 {
            o.push_str(&format!(
                " dtime: 0x{:08x}:({:08x}) -- {}\n",
                b.i_dtime,
                e.i_ctime_extra,
                time_string(inode_time(b.i_dtime, Some(e.i_ctime_extra)))
            ));
        }
    } else {
        for (label, t) in [
            ("ctime", b.i_ctime),
            ("atime", b.i_atime),
            ("mtime", b.i_mtime),
        ] {
            o.push_str(&format!(
                "{label}: 0x{t:08x} -- {}\n",
                time_string(inode_time(t, None))
            ));
        }
        if b.i_dtime != 0 {
            o.push_str(&format!(
                "dtime: 0x{:08x} -- {}\n",
                b.i_dtime,
                time_string(inode_time(b.i_dtime, None))
            ));
        }
    }
    if fs.geo().inode_size > 128 {
        o.push_str(&format!("Size of extra inode fields: {ex}\n"));
        if u32::from(ex) > fs.geo().inode_size - 128 {
            eprintln!("invalid inode->i_extra_isize ({ex})");
        }
    }
    // Attributes that cannot be read are left out without a word, as
    // debugfs' dump_inode_attributes does.
    o.push_str(&xattr_section(fs, ino));
    if inode.is_fast_symlink() {
        // printf's %.*s: up to the size, and to the first NUL before it.
        let target = inode.fast_symlink_target();
        let shown = target.split(|&c| c == 0).next().unwrap_or_default();
        o.push_str(&format!(
            "Fast link dest: \"{}\"\n",
            String::from_utf8_lossy(shown)
        ));
    } else if inode.is_symlink() && b.i_flags & flags::INLINE_DATA != 0 {
        inline_symlink_line(fs, ino, inode, &mut o);
    } else if inode.is_device() {
        let i0 = b.i_block[0];
        let (major, minor, note) = if i0 != 0 {
            ((i0 >> 8) & 255, i0 & 255, "")
        } else {
            let d = b.i_block[1];
            (
                (d & 0xfff00) >> 8,
                (d & 0xff) | ((d >> 12) & 0xfff00),
                "(New-style) ",
            )
        };
        o.push_str(&format!(
            "{note}Device major/minor number: {major:02}:{minor:02} (hex {major:02x}:{minor:02x})\n"
        ));
    } else if b.i_flags & flags::EXTENTS != 0 {
        // debugfs shows the extent tree instead. ext2fs_extent_open makes
        // an empty tree of an all-zero i_block and accepts a header with
        // no entries: the heading alone. A stray flag over block numbers
        // cannot be opened and shows nothing (a tree with entries is not
        // read on ext2 either).
        let empty_tree = b.i_block.iter().all(|&w| w == 0)
            || (inode.holds_extent_header() && b.i_block[0] >> 16 == 0);
        if empty_tree {
            o.push_str("EXTENTS:\n");
        }
    } else if b.i_flags & flags::INLINE_DATA != 0 {
        // dump_inline_data: the size, or nothing when it cannot be read.
        if let Ok(size) = fs.inline_data_size(ino) {
            o.push_str(&format!("Size of inline data: {size}\n"));
        }
    } else {
        o.push_str("BLOCKS:\n");
        let items = block_items(fs, inode);
        o.push_str(&block_runs(&items));
        if !items.is_empty() {
            o.push_str(&format!("\nTOTAL: {}\n", items.len()));
        }
        o.push('\n');
    }
    Ok(o)
}

/// debugfs' dump_inline_symlink: a symlink with the inline-data flag
/// shows its inline data up to the first NUL (printf's %.*s), or says on
/// stderr why it cannot be read.
fn inline_symlink_line(fs: &Filesystem, ino: u32, inode: &Inode, o: &mut String) {
    let data = fs
        .inline_data_size(ino)
        .and_then(|_| fs.inline_data(ino, inode));
    match data {
        Ok(data) => {
            let shown = data.split(|&c| c == 0).next().unwrap_or_default();
            o.push_str(&format!(
                "Fast link dest: \"{}\"\n",
                String::from_utf8_lossy(shown)
            ));
        }
        Err(e) => eprintln!(
            "dump_inline_symlink: {} while dumping link destination",
            e.com_err_text()
        ),
    }
}

fn one_inode_arg(
    s: &Session,
    args: &[String],
    opts: &str,
    usage: &str,
) -> Result<(Vec<(char, String)>, u32)> {
    let (o, rest) = getopt(args, opts)?;
    usage_check(&rest, 1, 1, usage)?;
    Ok((o, s.inode_arg(&rest[0])?))
}

pub fn stat(s: &mut Session, args: &[String]) -> Result<()> {
    // debugfs asks for an open filesystem before looking at the arguments.
    s.fs()?;
    let (_, ino) = one_inode_arg(s, args, "", "stat <file>")?;
    let fs = s.fs()?;
    let inode = read_inode_worded(fs, ino)?;
    let text = stat_text(fs, ino, &inode)?;
    s.out.write_all(text.as_bytes())?;
    Ok(())
}

/// A file's data into `w` as debugfs' dump_file reads it with
/// ext2fs_file_read: block by block up to i_size, through the block map
/// whatever the inode's type (a fast symlink's target is read as block
/// numbers), holes as zeroes. A block that cannot be mapped or read ends
/// the copy with `CMD: <error> while reading ext2 file`, what came before
/// it kept; only a failure to write is an error.
pub(crate) fn copy_out(
    fs: &Filesystem,
    ino: u32,
    inode: &Inode,
    cmd: &str,
    w: &mut dyn Write,
) -> std::io::Result<()> {
    if inode.flags() & flags::INLINE_DATA != 0 {
        // ext2fs_file_read's inline path: all of the inline data, whatever
        // i_size says. (When it cannot be read, debugfs 1.47 goes on with
        // an uninitialised count: docs/compat.md.)
        return match fs.inline_data(ino, inode) {
            Ok(data) => w.write_all(&data),
            Err(e) => {
                eprintln!("{cmd}: {} while reading ext2 file", e.com_err_text());
                Ok(())
            }
        };
    }
    let size = inode.size();
    let bs = fs.block_size() as u64;
    let zeros = vec![0u8; bs as usize];
    // A map that names a readable indirect block twice (a loop) can make
    // every logical block of a huge i_size readable: refused before any
    // work (the library's rule for every walk, docs/compat.md). One named
    // twice that cannot be read, or that holds no pointer, costs nothing
    // more: debugfs' words then.
    let holds_pointers = |b: u32| {
        fs.read_block(u64::from(b))
            .is_ok_and(|blk| ext2fs::block_map::pointers(&blk).any(|p| p != 0))
    };
    let mut looped = None;
    let mut map = inode.base.i_block;
    let _ = ext2fs::block_map::iterate(
        &mut map,
        bs as u32,
        |b| Ok(fs.read_block(u64::from(b)).ok()),
        |p| {
            if p.repeat && holds_pointers(p.pblk) {
                looped = Some(p.pblk);
                ext2fs::block_map::Visit::Stop
            } else {
                ext2fs::block_map::Visit::Keep
            }
        },
    );
    if let Some(b) = looped {
        eprintln!("{cmd}: {}", ext2fs::Error::BlockMapLoop(b));
        return Ok(());
    }
    // The blocks go out through a buffer of their own: a huge sparse
    // file is gigabytes of holes, written a block at a time by debugfs;
    // the bytes are the same, in a sixteenth of the writes.
    let mut w = std::io::BufWriter::with_capacity(64 << 10, w);
    let mut pos = 0u64;
    while pos < size {
        let read = fs
            .bmap_anywhere(inode, pos / bs)
            .and_then(|p| p.map(|p| fs.read_block_anywhere(p as u64)).transpose());
        let block = match read {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{cmd}: {} while reading ext2 file", e.com_err_text());
                break;
            }
        };
        let n = (size - pos).min(bs) as usize;
        w.write_all(&block.as_deref().unwrap_or(&zeros)[..n])?;
        pos += n as u64;
    }
    w.flush()
}

pub fn cat(s: &mut Session, args: &[String]) -> Result<()> {
    let (_, ino) = one_inode_arg(s, args, "", "cat <file>")?;
    let fs =
        s.fs.as_ref()
            .ok_or_else(|| anyhow!("Filesystem not open"))?;
    let inode = read_inode_worded(fs, ino)?;
    copy_out(fs, ino, &inode, &args[0], &mut s.out)?;
    Ok(())
}

pub fn blocks(s: &mut Session, args: &[String]) -> Result<()> {
    s.fs()?;
    let (_, ino) = one_inode_arg(s, args, "", "blocks <file>")?;
    let fs = s.fs()?;
    // debugfs' block_iterate says nothing when the inode cannot be read:
    // the line is empty.
    let items = fs
        .read_inode(ino)
        .map(|inode| block_items(fs, &inode))
        .unwrap_or_default();
    let line: String = items
        .iter()
        .map(|item| match item {
            ListItem::Data(_, b) | ListItem::Meta(_, b) => format!("{b} "),
        })
        .collect();
    writeln!(s.out, "{line}")?;
    Ok(())
}

pub fn bmap(s: &mut Session, args: &[String]) -> Result<()> {
    let (opts, rest) = getopt(args, "a")?;
    usage_check(&rest, 2, 3, "bmap [-a] <file> logical_blk [physical_blk]")?;
    let ino = s.inode_arg(&rest[0])?;
    let lblk = num_arg("logical block", &rest[1])?;
    if !opts.is_empty() || rest.len() == 3 {
        let fs = s.fs_rw()?;
        let mut inode = fs.read_inode(ino)?;
        let phys = match rest.get(2) {
            Some(p) => num32_arg("physical block", p)?,
            None => fs.alloc_block(0)?,
        };
        fs.bmap_set(&mut inode, lblk, phys)?;
        fs.write_inode(ino, &inode)?;
        writeln!(s.out, "{phys}")?;
        return Ok(());
    }
    let fs = s.fs()?;
    // As ext2fs_bmap2 (which reads the inode itself), worded with the
    // extra newline of debugfs' format.
    let p = fs
        .read_inode(ino)
        .and_then(|inode| fs.bmap_anywhere(&inode, lblk))
        .map_err(|e| {
            Worded(format!(
                "{}: {} while mapping logical block {lblk}\n",
                args[0],
                e.com_err_text()
            ))
        })?
        .unwrap_or(0);
    writeln!(s.out, "{p}")?;
    Ok(())
}

pub fn icheck(s: &mut Session, args: &[String]) -> Result<()> {
    let (_, rest) = getopt(args, "")?;
    if rest.is_empty() {
        bail!("Usage: icheck <block number> ...");
    }
    s.fs()?;
    let mut want = Vec::new();
    for a in &rest {
        want.push(num_arg("block number", a)?);
    }
    let fs = s.fs()?;
    let mut owner: Vec<Option<u32>> = vec![None; want.len()];
    for_each_inode(fs, "icheck", |ino, inode| {
        if inode.base.i_links_count == 0 {
            return Ok(true);
        }
        let mut claim = |b: u64| {
            for (k, w) in want.iter().enumerate() {
                if *w == b && owner[k].is_none() {
                    owner[k] = Some(ino);
                }
            }
            owner.iter().any(Option::is_none)
        };
        if file_acl_block(fs, inode) != 0 && !claim(file_acl_block(fs, inode)) {
            return Ok(false);
        }
        // debugfs skips a deleted inode's blocks (a 0.3c extfs habit).
        if !inode_has_valid_blocks(fs, inode) || inode.base.i_dtime != 0 {
            return Ok(true);
        }
        let mut left = true;
        // ext2fs_block_iterate3's own error code (reset by each indirect
        // block read after a failure).
        let failed = fs.block_iterate_status(inode, |p| {
            left = claim(u64::from(p.pblk));
            if left {
                std::ops::ControlFlow::Continue(())
            } else {
                std::ops::ControlFlow::Break(())
            }
        });
        if let Some(e) = failed {
            eprintln!(
                "icheck: {} while calling ext2fs_block_iterate",
                e.com_err_text()
            );
            return Ok(true);
        }
        Ok(left)
    })?;
    let mut o = String::from("Block\tInode number\n");
    for (w, who) in want.iter().zip(owner) {
        match who {
            Some(i) => o.push_str(&format!("{w}\t{i}\n")),
            None => o.push_str(&format!("{w}\t<block not found>\n")),
        }
    }
    s.out.write_all(o.as_bytes())?;
    Ok(())
}

pub fn imap(s: &mut Session, args: &[String]) -> Result<()> {
    let (_, ino) = one_inode_arg(s, args, "", "imap <file>")?;
    let fs = s.fs()?;
    let g = fs.geo().inode_group(ino);
    let index = (ino - 1) % fs.geo().inodes_per_group;
    let byte = index as u64 * fs.geo().inode_size as u64;
    let bs = fs.block_size() as u64;
    let table = fs.groups()[g as usize].bg_inode_table as u64;
    if table == 0 {
        bail!("Inode table for group {g} is missing\n");
    }
    let block = table + byte / bs;
    writeln!(s.out, "Inode {ino} is part of block group {g}")?;
    writeln!(
        s.out,
        "\tlocated at block {block}, offset 0x{:04x}",
        byte % bs
    )?;
    Ok(())
}

pub fn idump(s: &mut Session, args: &[String]) -> Result<()> {
    let (opts, ino) = one_inode_arg(s, args, "bex", "inode_dump [-b]|[-e]|[-x] <file>")?;
    let fs = s.fs()?;
    let inode = read_inode_worded(fs, ino)?;
    let bytes = inode.to_bytes();
    match opts.first().map(|(c, _)| *c) {
        // i_block: 60 bytes.
        Some('b') => hexdump(&mut s.out, &bytes[40..100])?,
        Some(c @ ('e' | 'x')) => {
            if bytes.len() <= 128 {
                bail!("No extra space in inode");
            }
            // An i_extra_isize reaching past the inode: nothing at all.
            let start = 128 + inode.extra_isize() as usize;
            if start > bytes.len() {
                return Ok(());
            }
            if c == 'e' {
                hexdump(&mut s.out, &bytes[start..])?;
            } else {
                let text = raw_xattr_area(&bytes[start..]);
                s.out.write_all(text.as_bytes())?;
            }
        }
        _ => hexdump(&mut s.out, &bytes)?,
    }
    Ok(())
}

/// The entries of an xattr area or block, field by field (idump -x, bd -x).
fn raw_xattr_entries(buf: &[u8], start: usize, value_start: usize, o: &mut String) {
    let len = buf.len();
    for step in xattr::raw_steps(buf, start, value_start) {
        let (off, h, name, value, vstart) = match step {
            xattr::RawStep::End(off) => {
                o.push_str(&format!("last entry found at offset {off} ({off:04o})\n"));
                break;
            }
            xattr::RawStep::Overrun(off) => {
                o.push_str(&format!("xattr buffer overrun at {off} (len = {len})\n"));
                break;
            }
            xattr::RawStep::Entry {
                offset,
                header,
                name,
                value,
                value_at,
            } => (offset, header, name, value, value_at),
        };
        o.push_str(&format!(
            "offset = {off} ({off:04o}), hash = {}, name_len = {}, name_index = {}\n",
            h.hash, h.name_len, h.name_index
        ));
        o.push_str(&format!(
            "value_offset = {} ({vstart:04o}), value_inum = {}, value_size = {}\n",
            h.value_offs, h.value_inum, h.value_size
        ));
        o.push_str("name = ");
        match name {
            Some(n) => o.push_str(&cli_common::safe_text(n)),
            None => o.push_str("<runs off end>"),
        }
        o.push('\n');
        if value != xattr::RawValue::Empty {
            o.push_str("value = ");
            match value {
                xattr::RawValue::Inode(n) => o.push_str(&format!("<ino {n}>")),
                xattr::RawValue::Bytes(v) => {
                    let unprintable = v.iter().filter(|&&b| !(0x20..0x7f).contains(&b)).count();
                    if unprintable <= 3 {
                        o.push_str(&cli_common::safe_text(v));
                    } else {
                        o.push_str("<hexdump>\n");
                        let mut h = Vec::new();
                        let _ = hexdump(&mut h, v);
                        o.push_str(&String::from_utf8_lossy(&h));
                    }
                }
                _ => o.push_str("<runs off end>"),
            }
            o.push('\n');
        }
        o.push('\n');
    }
}

fn raw_xattr_area(buf: &[u8]) -> String {
    let magic = xattr::ibody_magic(buf);
    let mut o = format!(
        "magic = {magic:08x}, length = {}, value_start =4 \n\n",
        buf.len()
    );
    if magic == xattr::XATTR_MAGIC {
        raw_xattr_entries(buf, 4, 4, &mut o);
    }
    o
}

fn raw_xattr_block(buf: &[u8]) -> String {
    // A block is always longer than its header; zeros stand in otherwise.
    let h = xattr::XattrHeader::parse(buf)
        .map(|(_, h)| h)
        .unwrap_or_default();
    let mut o = format!(
        "magic = {:x}, length = {}\nrefcount = {}, blocks = {}\n",
        h.h_magic,
        buf.len(),
        h.h_refcount,
        h.h_blocks
    );
    o.push_str(&format!(
        "hash = {:08x}, checksum = {:08x}\n",
        h.h_hash, h.h_checksum
    ));
    let r = h.h_reserved;
    o.push_str(&format!(
        "reserved: {:08x} {:08x} {:08x}\n\n",
        r[0], r[1], r[2]
    ));
    raw_xattr_entries(buf, 32, 0, &mut o);
    o
}

pub fn block_dump(s: &mut Session, args: &[String]) -> Result<()> {
    let (opts, rest) = getopt(args, "f:x")?;
    usage_check(&rest, 1, 1, "block_dump [-x] [-f inode] block_num")?;
    let mut file = None;
    for (c, v) in &opts {
        if *c == 'f' {
            file = Some(s.inode_arg(v)?);
        }
    }
    let fs = s.fs()?;
    let n = num_arg("block number", &rest[0])?;
    let block = match file {
        Some(ino) => crate::zap::file_block(fs, ino, n)?,
        None => n,
    };
    // debugfs reads whatever block it is given: past the filesystem from
    // the image, past the image a short read.
    let buf = fs
        .read_block_anywhere(block)
        // debugfs words it with a newline of its own, then com_err's.
        .map_err(|e| anyhow!("{} while reading block {block}\n", e.com_err_text()))?;
    if opts.iter().any(|(c, _)| *c == 'x') {
        let text = raw_xattr_block(&buf);
        s.out.write_all(text.as_bytes())?;
    } else {
        hexdump(&mut s.out, &buf)?;
    }
    Ok(())
}

/// One inode lsdel lists.
#[derive(Clone)]
struct Deleted {
    ino: u32,
    mode: u16,
    uid: u32,
    size: u64,
    dtime: i64,
    blocks: u64,
    free: u64,
}

/// lsdel [secs]: inodes with a deletion time (within `secs` of now) whose
/// blocks lie inside the filesystem and are partly free, as debugfs'
/// do_lsdel counts them through ext2fs_block_iterate3 (indirect blocks
/// too; an out-of-range block ends an inode's walk and drops it; with
/// no bitmaps read, -c, every block reads as free), or that carry the
/// inline-data flag.
pub fn lsdel(s: &mut Session, args: &[String]) -> Result<()> {
    // common_args_process: no options, the count first, then the open fs.
    usage_check(&args[1..], 0, 1, "list_deleted_inodes [secs]")?;
    s.fs()?;
    let secs = match args.get(1) {
        Some(a) => crate::cnum::strtol(a, 0).ok_or_else(|| anyhow!("Bad time - {a}"))?,
        None => 0,
    };
    let catastrophic = s.catastrophic;
    let fs = s.fs_mut()?;
    if !catastrophic {
        fs.load_bitmaps()?;
    }
    let now = i64::from(fs.now());
    let mut cand = Vec::new();
    for_each_inode(fs, "ls_deleted_inodes", |ino, inode| {
        let dt = inode.base.i_dtime;
        // labs(now - secs) > (long) i_dtime, in C's wrapping arithmetic.
        if dt == 0 || (secs != 0 && now.wrapping_sub(secs).wrapping_abs() > i64::from(dt)) {
            return Ok(true);
        }
        cand.push((ino, inode.clone()));
        Ok(true)
    })?;
    let first = u64::from(fs.geo().first_data_block);
    let count = fs.geo().blocks_count;
    let mut found = Vec::new();
    for (ino, inode) in cand {
        let (mut blocks, mut free, mut bad) = (0u64, 0u64, false);
        if inode_has_valid_blocks(fs, &inode) {
            let mut inside = Vec::new();
            let walk_err = fs.block_iterate_status(&inode, |p| {
                blocks += 1;
                let b = u64::from(p.pblk);
                if b < first || b >= count {
                    bad = true;
                    return std::ops::ControlFlow::Break(());
                }
                inside.push(b);
                std::ops::ControlFlow::Continue(())
            });
            if let Some(e) = walk_err {
                eprintln!(
                    "ls_deleted_inodes: {} while calling ext2fs_block_iterate2",
                    e.com_err_text()
                );
                continue;
            }
            for b in inside {
                if catastrophic || !crate::bitmaps::block_in_use(fs, b)? {
                    free += 1;
                }
            }
        }
        if (free > 0 && !bad) || inode.flags() & flags::INLINE_DATA != 0 {
            found.push(Deleted {
                ino,
                mode: inode.mode(),
                uid: inode.uid(),
                size: inode.size(),
                dtime: i64::from(inode.base.i_dtime as i32),
                blocks,
                free,
            });
        }
    }
    // qsort with deleted_info_compare: the difference of the times as
    // an int (it wraps for times far apart), glibc's merge sort.
    crate::format::glibc_msort(&mut found, &|a: &Deleted, b: &Deleted| {
        a.dtime.wrapping_sub(b.dtime) as i32
    });
    let mut o = String::from(" Inode  Owner  Mode    Size      Blocks   Time deleted\n");
    for d in &found {
        o.push_str(&format!(
            "{:6} {:6} {:6o} {:6} {:6}/{:6} {}\n",
            d.ino,
            d.uid as i32,
            d.mode,
            d.size,
            d.free,
            d.blocks,
            time_string(d.dtime)
        ));
    }
    o.push_str(&format!("{} deleted inodes found.\n", found.len()));
    s.out.write_all(o.as_bytes())?;
    Ok(())
}

/// ext2fs_file_acl_block: i_file_acl, with its high word only on 64bit.
fn file_acl_block(fs: &Filesystem, inode: &Inode) -> u64 {
    let high = if fs.sb().has_incompat(ext2fs::features::incompat::BIT64) {
        u64::from(inode.base.l_i_file_acl_high) << 32
    } else {
        0
    };
    u64::from(inode.base.i_file_acl) | high
}

/// ext2fs_inode_has_valid_blocks2: whether i_block holds block numbers
/// (directories, regular files and symlinks that are not fast ones,
/// without the inline-data flag).
fn inode_has_valid_blocks(fs: &Filesystem, inode: &Inode) -> bool {
    use ext2fs::inode::{S_IFDIR, S_IFLNK, S_IFREG};
    let kind = inode.file_type();
    if kind != S_IFDIR && kind != S_IFREG && kind != S_IFLNK {
        return false;
    }
    if kind == S_IFLNK {
        if file_acl_block(fs, inode) == 0 {
            if inode.base.i_blocks == 0 {
                return false;
            }
        } else if !(inode.base.i_size >= 60
            || (inode.base.i_size > 4 && inode.base.i_block[1] == 0))
        {
            return false;
        }
    }
    inode.flags() & flags::INLINE_DATA == 0
}
