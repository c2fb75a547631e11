//! Directory requests: ls, cd, pwd, chroot, dirsearch, htree_dump,
//! dx_hash, ncheck.

use std::io::Write;

use anyhow::{anyhow, bail, Result};
use std::ops::ControlFlow;

use ext2fs::dirent::{ft, BlockCursor, BlockEntry, MalformedEntry, RawBlock};
use ext2fs::fs::Filesystem;
use ext2fs::hash;
use ext2fs::htree;
use ext2fs::inode::{flags, Inode};
use ext2fs::superblock as sbm;

use crate::format::ls_date;
use crate::session::{parse_u64, Session, Worded};
use crate::table::{getopt, usage_check};

/// One entry as a block walk sees it, deleted ones included.
pub struct RawEntry {
    pub inode: u32,
    pub rec_len: u32,
    pub file_type: u8,
    pub name: Vec<u8>,
    pub deleted: bool,
    pub lblk: u64,
    pub pblk: u32,
    pub offset: usize,
}

impl RawEntry {
    fn new(e: &BlockEntry<'_>, lblk: u64, pblk: u32) -> Self {
        RawEntry {
            inode: e.view.inode,
            rec_len: e.view.rec_len as u32,
            file_type: e.view.file_type,
            name: e.view.name.to_vec(),
            deleted: e.removed,
            lblk,
            pblk,
            offset: e.view.offset,
        }
    }
}

/// Every entry of a directory block, in order, as the library's cursor
/// walks it; with `removed`, also the deleted entries still readable in
/// slack. Entries before a malformed one are kept in `out`.
fn block_entries(
    buf: &[u8],
    removed: bool,
    lblk: u64,
    pblk: u32,
    out: &mut Vec<RawEntry>,
) -> std::result::Result<(), MalformedEntry> {
    for e in BlockCursor::new(buf, removed) {
        out.push(RawEntry::new(&e?, lblk, pblk));
    }
    Ok(())
}

/// All entries of directory `dir`, block by block.
pub fn dir_entries(fs: &Filesystem, dir: u32, removed: bool) -> Result<Vec<RawEntry>> {
    let inode = fs.read_inode(dir)?;
    if !inode.is_dir() {
        bail!("Ext2 inode is not a directory");
    }
    let mut out = Vec::new();
    for (l, b) in fs.data_blocks(&inode)? {
        if l * fs.block_size() as u64 >= inode.size() {
            break;
        }
        let buf = fs.read_block(b as u64)?;
        block_entries(&buf, removed, l, b, &mut out).map_err(|m| {
            anyhow!(
                "Corrupted directory block {b} (logical {l}) at offset {}",
                m.offset
            )
        })?;
    }
    Ok(out)
}

/// The union marker of an entry: `<whiteout>` or `<fallthru>`.
pub fn union_mark(fs: &Filesystem, e: &RawEntry) -> Option<&'static str> {
    if e.inode != 0 || e.deleted || !fs.whiteout_feature() {
        return None;
    }
    match e.file_type {
        ft::WHT => Some("<whiteout>"),
        ft::FALLTHRU => Some("<fallthru>"),
        _ => None,
    }
}

/// A name as debugfs' print_filename shows it: bytes outside printable
/// ASCII, and the backslash, as `\xNN`.
fn shown_name(name: &[u8]) -> String {
    name.iter()
        .map(|&c| match c {
            32..=126 if c != b'\\' => (c as char).to_string(),
            _ => format!("\\x{c:02x}"),
        })
        .collect()
}

pub fn ls(s: &mut Session, args: &[String]) -> Result<()> {
    // debugfs' ls words its usage without the command's name, after
    // getopt's own complaint about an unknown option.
    const USAGE: &str = "Usage: ls [-c] [-d] [-l] [-p] [-r] file";
    let (opts, rest) = match getopt(args, "cdlpr") {
        Ok(parsed) if parsed.1.len() <= 1 => parsed,
        Ok(_) => bail!(Worded(USAGE.into())),
        Err(e) => bail!(Worded(format!("{}: {e}\n{USAGE}", args[0]))),
    };
    // -c (checksums) changes nothing on ext2, which has none, exactly as
    // with debugfs on an ext2 image.
    let has = |c: char| opts.iter().any(|(o, _)| *o == c);
    let (long, parse, deleted) = (has('l'), has('p'), has('d'));
    let dir = match rest.first() {
        Some(p) => s.inode_arg(p)?,
        None => s.cwd,
    };
    let fs = s.fs()?;
    // debugfs prints the listing (of what ext2_dir_iterate read), its
    // newline, then com_err under its first argument, whatever that is.
    let first = args.get(1).map_or("(null)", String::as_str);
    let dir_inode = crate::inodes::read_inode_worded(fs, dir)?;
    if !dir_inode.is_dir() {
        s.out.write_all(b"\n")?;
        bail!(Worded(format!("{first}: Ext2 inode is not a directory ")));
    }
    // What ext2fs_dir_iterate read, up to where it stopped and why.
    let mut entries = Vec::new();
    let walked = fs.dir_iterate(dir, deleted, |v| {
        entries.push(RawEntry::new(&v.entry, v.lblk, v.pblk));
        ControlFlow::Continue(())
    });
    let mut text: Vec<u8> = Vec::new();
    let mut col = 0usize;
    // As debugfs: in a directory with the encrypt flag (set on ext2 only
    // by damage), names past the first two entries the walk gave are
    // shown as their length, unless -r.
    let hidden = dir_inode.flags() & flags::ENCRYPT != 0 && !has('r');
    for (i, e) in entries.iter().enumerate() {
        let name = if hidden && i >= 2 {
            format!("<encrypted ({})>", e.name.len())
        } else {
            shown_name(&e.name)
        };
        let mark = union_mark(fs, e);
        let ino = if e.deleted { 0 } else { e.inode };
        // Only -p and -l read the inode (debugfs_read_inode: a failure
        // is reported and the entry left out).
        let inode = if ino != 0 && (parse || long) {
            match fs.read_inode(ino) {
                Ok(i) => i,
                Err(err) => {
                    eprintln!("ls: {} while reading inode {ino}", err.com_err_text());
                    continue;
                }
            }
        } else {
            Inode::new(128)
        };
        if parse {
            // -p shows the name's bytes as they are, up to a NUL
            // (printf's %.*s).
            let shown = e.name.split(|&c| c == 0).next().unwrap_or_default();
            text.extend_from_slice(
                format!(
                    "/{ino}/{:06o}/{}/{}/",
                    inode.mode(),
                    inode.uid() as i32,
                    inode.gid() as i32,
                )
                .as_bytes(),
            );
            text.extend_from_slice(shown);
            text.push(b'/');
            if inode.is_dir() {
                text.push(b'/');
            } else if let Some(m) = mark {
                text.extend_from_slice(m.as_bytes());
                text.push(b'/');
            } else {
                text.extend_from_slice(format!("{}/", inode.size()).as_bytes());
            }
            text.push(b'\n');
        } else if long {
            let (l, r) = if e.deleted { ('<', '>') } else { (' ', ' ') };
            let date = if ino != 0 {
                ls_date(inode.base.i_mtime as i64)
            } else {
                " ".repeat(17)
            };
            text.extend_from_slice(
                format!(
                    "{l}{ino:6}{r} {:6o} ({})  {:5}  {:5}   {:5} {date} {name}",
                    inode.mode(),
                    e.file_type,
                    inode.uid() as i32,
                    inode.gid() as i32,
                    inode.size()
                )
                .as_bytes(),
            );
            if let Some(m) = mark {
                text.push(b' ');
                text.extend_from_slice(m.as_bytes());
            }
            text.push(b'\n');
        } else {
            let (l, r) = if e.deleted { ('<', '>') } else { (' ', ' ') };
            let mut item = format!("{l}{}{r} ({}) {name}", e.inode, e.rec_len);
            if let Some(m) = mark {
                item.push(' ');
                item.push_str(m);
            }
            item.push_str("   ");
            if col + item.len() > 80 {
                text.push(b'\n');
                col = 0;
            }
            col += item.len();
            text.extend_from_slice(item.as_bytes());
        }
    }
    text.push(b'\n');
    s.out.write_all(&text)?;
    match walked {
        Err(why) => Err(Worded(format!("{first}: {} ", why.com_err_text())).into()),
        Ok(()) => Ok(()),
    }
}

fn dir_arg(s: &Session, args: &[String], usage: &str) -> Result<u32> {
    let (_, rest) = getopt(args, "")?;
    usage_check(&rest, 1, 1, usage)?;
    let ino = s.inode_arg(&rest[0])?;
    // ext2fs_check_directory's failure, com_err'd under the argument.
    let refused = match s.fs()?.read_inode(ino) {
        Ok(inode) if inode.is_dir() => return Ok(ino),
        Ok(_) => "Ext2 inode is not a directory".to_string(),
        Err(e) => e.com_err_text(),
    };
    bail!(Worded(format!("{}: {refused} ", args[1])))
}

pub fn cd(s: &mut Session, args: &[String]) -> Result<()> {
    s.cwd = dir_arg(s, args, "cd <file>")?;
    Ok(())
}

pub fn chroot(s: &mut Session, args: &[String]) -> Result<()> {
    s.root = dir_arg(s, args, "chroot <file>")?;
    Ok(())
}

pub fn pwd(s: &mut Session, args: &[String]) -> Result<()> {
    usage_check(&args[1..], 0, 0, "print_working_directory")?;
    s.fs()?;
    for (label, ino, what) in [("[pwd] ", s.cwd, "cwd"), ("[root]", s.root, "root")] {
        let path = s.fs()?.get_pathname(ino, 0).unwrap_or_else(|why| {
            let why = why.com_err_text();
            eprintln!("{}: {why} while trying to get pathname of {what}", args[0]);
            b"NULL".to_vec()
        });
        s.out
            .write_all(format!("{label}  INODE: {ino:6}  PATH: ").as_bytes())?;
        s.out.write_all(&path)?;
        s.out.write_all(b"\n")?;
    }
    Ok(())
}

pub fn dirsearch(s: &mut Session, args: &[String]) -> Result<()> {
    let (_, rest) = getopt(args, "")?;
    if rest.len() != 2 {
        bail!(Worded("Usage: dirsearch dir filename".into()));
    }
    let dir = s.inode_arg(&rest[0])?;
    let fs = s.fs()?;
    let want = rest[1].as_bytes();
    // debugfs walks the map with ext2fs_block_iterate3 (failures
    // unreported; no map for inline data or extents) and reads each data
    // block raw as it is visited, entry by entry along rec_len, nothing
    // validated; a block that cannot be read ends the walk.
    let Ok(inode) = fs.read_inode(dir) else {
        return Ok(());
    };
    let mut outcome: Result<()> = Ok(());
    let mut found = None;
    let whiteout = fs.whiteout_feature();
    fs.block_iterate(&inode, |p| {
        let ext2fs::block_map::BlockKind::Data(l) = p.kind else {
            return ControlFlow::Continue(());
        };
        let b = p.pblk;
        let buf = match fs.read_block_anywhere(u64::from(b)) {
            Ok(buf) => buf,
            Err(e) => {
                outcome = Err(Worded(format!(
                    "search_dir_block: {} while reading block {b}",
                    e.com_err_text()
                ))
                .into());
                return ControlFlow::Break(());
            }
        };
        let Some(offset) = raw_search(RawBlock::new(buf), want, whiteout) else {
            return ControlFlow::Continue(());
        };
        found = Some(format!(
            "Entry found at logical block {l}, phys {b}, offset {offset}\noffset {offset}\n"
        ));
        ControlFlow::Break(())
    });
    if let Some(line) = found {
        s.out.write_all(line.as_bytes())?;
    }
    outcome
}

/// Where a live entry named `want` starts in a directory block, read as
/// debugfs' search_dir_block reads it (with the `whiteout` feature, a
/// whiteout or fallthru entry counts as live). A rec_len of 0 ends the
/// block (debugfs loops on it forever, docs/compat.md).
fn raw_search(block: RawBlock, want: &[u8], whiteout: bool) -> Option<usize> {
    let mut offset = 0usize;
    while block.has_header(offset) {
        if block.in_use(offset, whiteout)
            && block.name_len(offset) == want.len()
            && block.name(offset) == want
        {
            return Some(offset);
        }
        match block.rec_len(offset) {
            0 => return None,
            n => offset += n,
        }
    }
    None
}

pub fn dx_hash(s: &mut Session, args: &[String]) -> Result<()> {
    // debugfs 1.47.0's options and usage (no -v yet).
    const USAGE: &str = "usage: dx_hash [-h hash_alg] [-s hash_seed] [-c] [-e encoding] filename";
    let (opts, rest) = match getopt(args, "h:s:ce:") {
        Ok(parsed) => parsed,
        Err(e) => bail!(Worded(format!("{0}: {e}\n{0}: {USAGE}", args[0]))),
    };
    let mut version: i32 = 0;
    let mut seed = [0u32; 4];
    for (c, v) in opts {
        match c {
            // A name, else atoi's number.
            'h' => {
                version =
                    sbm::hash_version_from_name(&v).map_or_else(|| crate::cnum::atoi(&v), i32::from)
            }
            's' => {
                let u = ext2fs::uuid::parse(&v)
                    .ok_or_else(|| Worded(format!("Invalid UUID format: {v}")))?;
                seed = ext2fs::uuid::seed_words(&u);
            }
            // Casefolding needs an encoding, which ext2 has none of:
            // without one, libext2fs hashes the name as it is.
            'e' => bail!("casefolded hashes (-e) are not supported: ext2 has no casefold feature"),
            _ => {}
        }
    }
    if rest.len() != 1 {
        bail!(Worded(format!("{}: {USAGE}", args[0])));
    }
    let name = &rest[0];
    let calculated = u8::try_from(version)
        .map_err(|_| ext2fs::Error::UnsupportedHash(u8::MAX))
        .and_then(|v| hash::dirhash(v, name.as_bytes(), &seed));
    let (h, minor) = calculated.map_err(|e| {
        Worded(format!(
            "{}: {} while calculating hash",
            args[0],
            e.com_err_text()
        ))
    })?;
    writeln!(s.out, "Hash of {name} is 0x{h:x} (minor 0x{minor:x})")?;
    Ok(())
}

pub fn htree_dump(s: &mut Session, args: &[String]) -> Result<()> {
    // debugfs 1.47's common_inode_args_process: one argument, no options.
    let rest = &args[1..];
    usage_check(rest, 1, 1, &format!("{} <file>", args[0]))?;
    let ino = s.inode_arg(&rest[0])?;
    let fs = s.fs()?;
    // debugfs names a failed read after its first argument.
    let inode = fs.read_inode(ino).map_err(|e| {
        Worded(format!(
            "{}: {} while reading inode {ino}",
            args[1],
            e.com_err_text()
        ))
    })?;
    if !inode.is_dir() {
        bail!("Not a directory");
    }
    if inode.flags() & flags::INDEX == 0 {
        bail!("Not a hash-indexed directory");
    }
    let b0 = fs.bmap_anywhere(&inode, 0).map_err(|e| {
        Worded(format!(
            "do_htree_block: {} while mapping logical block 0\n",
            e.com_err_text()
        ))
    })?;
    // A hole is block 0, read as debugfs reads it.
    let root_block = fs
        .read_block_anywhere(u64::from(b0.unwrap_or(0)))
        .map_err(|e| {
            Worded(format!(
                "{}: {} Error reading root node",
                args[0],
                e.com_err_text()
            ))
        })?;
    // debugfs dumps the root as stored, whatever it holds: the info at
    // byte 24, the entries where its info_length says.
    let info =
        htree::raw_root_info(&root_block).ok_or_else(|| anyhow!("Error reading root node"))?;
    let mut dump = HtreeDump {
        fs,
        inode: &inode,
        version: hash::effective_version(info.hash_version, fs.sb().s_flags),
        out: Vec::new(),
        blocks_left: HTREE_DUMP_BLOCKS,
    };
    let o = &mut dump.out;
    o.extend_from_slice(b"Root node dump:\n");
    o.extend_from_slice(format!("\t Reserved zero: {}\n", info.reserved_zero).as_bytes());
    o.extend_from_slice(format!("\t Hash Version: {}\n", info.hash_version).as_bytes());
    o.extend_from_slice(format!("\t Info length: {}\n", info.info_length).as_bytes());
    o.extend_from_slice(format!("\t Indirect levels: {}\n", info.indirect_levels).as_bytes());
    // printf's %#x: 0 bare, anything else with 0x.
    o.extend_from_slice(
        match info.unused_flags {
            0 => "\t Flags: 0\n".to_string(),
            f => format!("\t Flags: {f:#x}\n"),
        }
        .as_bytes(),
    );
    say_dx_tail_refusal(&root_block, "htree root");
    // debugfs reads the root into the first half of a two-block buffer
    // and every block below it into the second half, which an index
    // whose count runs past the root block lists as entries.
    let mut second = vec![0u8; root_block.len()];
    dump.int_node(
        IndexBuffer::Root(&root_block),
        htree::ROOT_INFO_OFFSET + usize::from(info.info_length),
        info.indirect_levels,
        &mut second,
    );
    s.out.write_all(&dump.out)?;
    Ok(())
}

/// How many blocks one htree_dump reads below the root at most: debugfs
/// dumps an index whose nodes point back up count^levels times (docs/compat.md).
const HTREE_DUMP_BLOCKS: usize = 100_000;

/// What one htree_dump reads with and prints (stdout; messages go to
/// stderr as they come).
struct HtreeDump<'a> {
    fs: &'a Filesystem,
    inode: &'a Inode,
    /// The hash version the leaves are hashed with.
    version: u8,
    out: Vec<u8>,
    blocks_left: usize,
}

/// Where an index's entries are read from: debugfs' buffers, past which
/// it reads whatever memory follows (not listed here).
#[derive(Clone, Copy)]
enum IndexBuffer<'a> {
    /// The root block, followed by the buffer its children are read into.
    Root(&'a [u8]),
    /// An interior node's block.
    Node(&'a [u8]),
}

impl HtreeDump<'_> {
    /// Entry `i` of the index at byte `at` of `buf` (the root's children
    /// buffer `second` after it), None past the buffers.
    fn entry(buf: IndexBuffer, second: &[u8], at: usize, i: usize) -> Option<htree::DxEntry> {
        let o = at.checked_add(i.checked_mul(8)?)?;
        match buf {
            IndexBuffer::Node(b) => htree::raw_entry(b, o, 0),
            IndexBuffer::Root(b) => {
                let bytes: Vec<u8> = b.iter().chain(second).skip(o).take(8).copied().collect();
                htree::raw_entry(&bytes, 0, 0)
            }
        }
    }

    /// debugfs' htree_dump_int_node: the index's count, limit and
    /// entries, then each entry's block dumped below it (`child` is the
    /// buffer they are read into).
    fn int_node(&mut self, buf: IndexBuffer, at: usize, level: u8, child: &mut Vec<u8>) {
        let block = match buf {
            IndexBuffer::Root(b) | IndexBuffer::Node(b) => b,
        };
        let (count, limit) =
            htree::raw_count_limit(block, at).map_or((0, 0), |cl| (cl.count, cl.limit));
        self.out
            .extend_from_slice(format!("Number of entries (count): {count}\n").as_bytes());
        self.out
            .extend_from_slice(format!("Number of entries (limit): {limit}\n").as_bytes());
        let count = usize::from(count);
        let listed = (0..count)
            .take_while(|&i| Self::entry(buf, child, at, i).is_some())
            .count();
        if listed < count {
            eprintln!(
                "htree_dump_int_node: entries #{listed} to #{} lie past the index block's \
                 buffer, not listed",
                count - 1
            );
        }
        for i in 0..listed {
            let Some(e) = Self::entry(buf, child, at, i) else {
                break;
            };
            let hash = if i == 0 { 0 } else { e.hash };
            let mark = if hash & 1 != 0 { " (**)" } else { "" };
            self.out.extend_from_slice(
                format!("Entry #{i}: Hash 0x{hash:08x}{mark}, block {}\n", e.block).as_bytes(),
            );
        }
        self.out.push(b'\n');
        for i in 0..listed {
            // Read again: a root's entries past its block are in `child`,
            // which the blocks dumped so far were read into.
            let Some(e) = Self::entry(buf, child, at, i) else {
                break;
            };
            let hash = if i == 0 { 0 } else { e.hash };
            self.out.extend_from_slice(
                format!("Entry #{i}: Hash 0x{hash:08x}, block {}\n", e.block).as_bytes(),
            );
            if level > 0 {
                self.int_block(e.block, child, level - 1);
            } else {
                self.leaf(e.block, child);
            }
        }
        self.out.extend_from_slice(b"---------------------\n");
    }

    /// Reads logical block `lblk` into `buf` as debugfs does (mapped
    /// through `buf`, a hole read as block 0); the physical block, or None
    /// after saying why not (`who` names the function).
    fn read(&mut self, lblk: u32, buf: &mut [u8], who: &str) -> Option<u32> {
        if self.blocks_left == 0 {
            return None;
        }
        self.blocks_left -= 1;
        if self.blocks_left == 0 {
            eprintln!(
                "htree_dump: stopped after {HTREE_DUMP_BLOCKS} blocks (an index pointing back \
                 up repeats without end)"
            );
            return None;
        }
        let pblk = match self
            .fs
            .bmap_through_buffer(self.inode, u64::from(lblk), buf)
        {
            Ok(p) => p.unwrap_or(0),
            Err(e) => {
                eprintln!(
                    "{who}: {} while mapping logical block {lblk}\n",
                    e.com_err_text()
                );
                return None;
            }
        };
        Some(pblk)
    }

    /// debugfs' htree_dump_int_block: an interior node read into `buf`
    /// and dumped, its children read into a buffer of its own.
    fn int_block(&mut self, lblk: u32, buf: &mut Vec<u8>, level: u8) {
        let who = "htree_dump_int_block";
        let Some(pblk) = self.read(lblk, buf, who) else {
            return;
        };
        if !self.read_into(pblk, buf) {
            let why = self.read_error(pblk);
            eprintln!("{who}: {why} while reading block {lblk}\n");
            return;
        }
        say_dx_tail_refusal(buf, &format!("logical block {lblk}"));
        let node = buf.clone();
        let mut below = vec![0u8; node.len()];
        self.int_node(
            IndexBuffer::Node(&node),
            htree::NODE_ENTRIES_OFFSET,
            level,
            &mut below,
        );
    }

    /// Reads physical block `pblk` into `buf` (what was read of it and
    /// zeros after, when it cannot be read whole): whether it was read.
    fn read_into(&self, pblk: u32, buf: &mut Vec<u8>) -> bool {
        match self.fs.read_block_anywhere(u64::from(pblk)) {
            Ok(b) => {
                *buf = b;
                true
            }
            Err(ext2fs::Error::BlockRead { partial, .. }) => {
                *buf = partial;
                false
            }
            Err(_) => false,
        }
    }

    /// The words for a block that `read_into` could not read.
    fn read_error(&self, pblk: u32) -> String {
        self.fs
            .read_block_anywhere(u64::from(pblk))
            .err()
            .map_or_else(String::new, |e| e.com_err_text())
    }

    /// debugfs' htree_dump_leaf_node: a leaf read into `buf` and listed
    /// entry by entry with each name's hash, 80 columns to a line.
    fn leaf(&mut self, lblk: u32, buf: &mut Vec<u8>) {
        let who = "htree_dump_leaf_node";
        let Some(pblk) = self.read(lblk, buf, who) else {
            return;
        };
        self.out
            .extend_from_slice(format!("Reading directory block {lblk}, phys {pblk}\n").as_bytes());
        if !self.read_into(pblk, buf) {
            let why = self.read_error(pblk);
            eprintln!("{who}: {why} while reading block {lblk} ({pblk})\n");
            return;
        }
        let block = RawBlock::new(buf.clone());
        let bs = block.len();
        let seed = self.fs.sb().s_hash_seed;
        let (mut offset, mut col) = (0usize, 0usize);
        while offset < bs {
            let (rec_len, name_len) = (block.rec_len(offset), block.name_len(offset));
            if offset + rec_len > bs || rec_len < 8 || rec_len % 4 != 0 || name_len + 8 > rec_len {
                self.out
                    .extend_from_slice(format!("Corrupted directory block ({lblk})!\n").as_bytes());
                break;
            }
            // debugfs copies the name with strncpy: up to a NUL, zeros
            // after; it hashes name_len bytes of that and prints the rest.
            let name = block.name(offset);
            let shown = name.split(|&c| c == 0).next().unwrap_or_default();
            let mut hashed = shown.to_vec();
            hashed.resize(name.len(), 0);
            let (h, minor) = hash::dirhash(self.version, &hashed, &seed).unwrap_or_else(|e| {
                // debugfs prints an uninitialised minor hash here
                // (docs/compat.md); the hash is 0.
                eprintln!("{who}: {} while calculating hash", e.com_err_text());
                (0, 0)
            });
            let mut item =
                format!("{} 0x{h:08x}-{minor:08x} ({rec_len}) ", block.inode(offset)).into_bytes();
            item.extend_from_slice(shown);
            item.extend_from_slice(b"   ");
            if col + item.len() > 80 {
                self.out.push(b'\n');
                col = 0;
            }
            col += item.len();
            self.out.extend_from_slice(&item);
            offset += rec_len;
        }
        self.out.push(b'\n');
    }
}

/// debugfs computes each index block's checksum whatever the features and
/// reports libext2fs' refusal (with its format's extra newline) before
/// dumping the block.
fn say_dx_tail_refusal(block: &[u8], what: &str) {
    if let Some(why) = htree::dx_tail_refusal(block) {
        eprintln!(
            "htree_dump_int_block: {} while calculating checksum for {what}\n",
            why.com_err_text()
        );
    }
}

pub fn ncheck(s: &mut Session, args: &[String]) -> Result<()> {
    let (opts, rest) = getopt(args, "c")?;
    if rest.is_empty() {
        bail!("Usage: ncheck [-c] <inode number> ...");
    }
    let check = !opts.is_empty();
    let fs = s.fs()?;
    let mut wanted = Vec::new();
    // As debugfs: a directory has one name to find, anything else as many
    // as its link count; the scan stops once all are found.
    let mut names_left: i64 = 0;
    for a in &rest {
        let inner = a
            .strip_prefix('<')
            .and_then(|x| x.strip_suffix('>'))
            .filter(|x| !x.is_empty())
            .unwrap_or(a);
        let n = parse_u64(inner)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| anyhow!("Invalid inode number - '{a}'"))?;
        // debugfs names its first operand in this message, whichever failed.
        if n == 0 || n > fs.sb().s_inodes_count {
            let msg = format!("{}: Illegal inode number while reading inode {n}", rest[0]);
            return Err(Worded(msg).into());
        }
        let rec = fs.read_inode(n).map_err(|e| {
            Worded(format!(
                "{}: {} while reading inode {n}",
                rest[0],
                e.com_err_text()
            ))
        })?;
        names_left += if rec.is_dir() {
            1
        } else {
            i64::from(rec.base.i_links_count)
        };
        wanted.push(n);
    }
    // As debugfs: an inode scan over every directory in use, each walked
    // as ext2fs_dir_iterate walks it; the header once the scan started.
    let mut o: Vec<u8> = Vec::new();
    let mut started = false;
    let scan = crate::inodes::for_each_inode(fs, "ncheck", |dir, i| {
        if !started {
            o.extend_from_slice(b"Inode\tPathname\n");
            started = true;
        }
        if !i.is_dir() || i.base.i_links_count == 0 || i.base.i_dtime != 0 {
            return Ok(true);
        }
        let mut path: Option<Vec<u8>> = None;
        // The first two entries are '.' and '..', whatever their names.
        let mut position = 0;
        let walked = fs.dir_iterate(dir, false, |v| {
            let e = v.entry.view;
            if e.inode == 0 {
                return ControlFlow::Continue(());
            }
            position += 1;
            if position <= 2 {
                return ControlFlow::Continue(());
            }
            for &w in wanted.iter().filter(|&&w| w == e.inode) {
                let p = path.get_or_insert_with(|| {
                    fs.get_pathname(dir, 0).unwrap_or_else(|why| {
                        eprintln!(
                            "ncheck: {} while calling ext2fs_get_pathname for inode #{dir}",
                            why.com_err_text()
                        );
                        format!("<{dir}>").into_bytes()
                    })
                });
                // printf's %s and %.*s: each stops at a NUL.
                let until_nul = |b: &[u8]| b.split(|&c| c == 0).next().unwrap_or_default().to_vec();
                o.extend_from_slice(format!("{w}\t").as_bytes());
                o.extend_from_slice(&until_nul(p));
                o.push(b'/');
                o.extend_from_slice(&until_nul(e.name));
                if check && e.file_type != 0 {
                    match fs.read_inode(e.inode) {
                        Ok(t) if ext2fs::inode::mode_to_dirent_type(t.mode()) != e.file_type => {
                            o.extend_from_slice(b"  <--- BAD FILETYPE")
                        }
                        Ok(_) => {}
                        Err(err) => eprintln!(
                            "ncheck: {} while reading inode {}",
                            err.com_err_text(),
                            e.inode
                        ),
                    }
                }
                o.push(b'\n');
                names_left -= 1;
            }
            if names_left == 0 {
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        });
        // As debugfs: after a failed walk the scan goes on, whatever is
        // left to find.
        if let Err(why) = walked {
            eprintln!(
                "ncheck: {} while calling ext2_dir_iterate",
                why.com_err_text()
            );
            return Ok(true);
        }
        Ok(names_left != 0)
    });
    s.out.write_all(&o)?;
    scan
}
