//! Directory entries (`struct ext2_dir_entry_2`) and the blocks they fill,
//! with the union rules of union-ext2.md: whiteouts (type 8) and fallthrus
//! (type 9) have inode 0 yet are in use.

use nom::bytes::complete::take;
use nom::number::complete::{le_u16, le_u32, u8 as nom_u8};
use nom::IResult;

use crate::{Error, Result};

/// EXT2_FT_* values in `file_type`.
pub mod ft {
    pub const UNKNOWN: u8 = 0;
    pub const REG_FILE: u8 = 1;
    pub const DIR: u8 = 2;
    pub const CHRDEV: u8 = 3;
    pub const BLKDEV: u8 = 4;
    pub const FIFO: u8 = 5;
    pub const SOCK: u8 = 6;
    pub const SYMLINK: u8 = 7;
    /// Union mounts: whiteout (inode 0).
    pub const WHT: u8 = 8;
    /// Union mounts: fallthru (inode 0; union-ext2.md **Decision**).
    pub const FALLTHRU: u8 = 9;
    pub const MAX: u8 = 10;
    /// The htree tail/checksum pseudo-entry type (metadata_csum only).
    pub const DIR_CSUM: u8 = 0xDE;
}

/// Fixed header size of a directory entry.
pub const HEADER_LEN: usize = 8;
pub const NAME_MAX: usize = 255;

/// EXT2_DIR_REC_LEN: the smallest record for a name of `name_len` bytes.
pub const fn rec_len_for(name_len: usize) -> usize {
    (name_len + HEADER_LEN + 3) & !3
}

/// One directory entry as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    pub inode: u32,
    /// Record length as it applies (already decoded for 64 KiB blocks).
    pub rec_len: u32,
    /// The low byte of the legacy 16-bit name length when `filetype` is off.
    pub file_type: u8,
    pub name: Vec<u8>,
}

impl DirEntry {
    pub fn new(inode: u32, file_type: u8, name: &[u8]) -> Self {
        DirEntry {
            inode,
            rec_len: rec_len_for(name.len()) as u32,
            file_type,
            name: name.to_vec(),
        }
    }

    pub fn is_whiteout(&self) -> bool {
        self.inode == 0 && self.file_type == ft::WHT
    }

    pub fn is_fallthru(&self) -> bool {
        self.inode == 0 && self.file_type == ft::FALLTHRU
    }

    /// In use: a live entry, a whiteout or a fallthru (union-ext2.md).
    /// Without the whiteout feature only live entries are in use.
    pub fn in_use(&self, whiteout_feature: bool) -> bool {
        self.inode != 0 || (whiteout_feature && matches!(self.file_type, ft::WHT | ft::FALLTHRU))
    }

    /// Bytes this entry really needs.
    pub fn min_rec_len(&self) -> usize {
        rec_len_for(self.name.len())
    }

    pub fn is_dot(&self) -> bool {
        self.name == b"."
    }

    pub fn is_dotdot(&self) -> bool {
        self.name == b".."
    }
}

/// rec_len on disk to bytes: 64 KiB blocks store 65536 as 0 or 65535.
pub fn rec_len_from_disk(v: u16, block_size: usize) -> u32 {
    if block_size < 65536 {
        return v as u32;
    }
    if v == u16::MAX || v == 0 {
        65536
    } else {
        (v as u32 & 65532) | ((v as u32 & 3) << 16)
    }
}

pub fn rec_len_to_disk(len: u32, block_size: usize) -> u16 {
    if block_size < 65536 || len < 65536 {
        return len as u16;
    }
    if len == 65536 {
        if block_size == 65536 {
            u16::MAX
        } else {
            0
        }
    } else {
        ((len & 65532) | ((len >> 16) & 3)) as u16
    }
}

/// inode, raw rec_len, name_len, file_type, name.
pub type RawEntry<'a> = (u32, u16, u8, u8, &'a [u8]);

/// `nom` parser for one entry header and name. rec_len is returned raw
/// (callers decode it for the block size and check it against the block).
pub fn parse_entry(input: &[u8]) -> IResult<&[u8], RawEntry<'_>> {
    let (input, inode) = le_u32(input)?;
    let (input, rec_len) = le_u16(input)?;
    let (input, name_len) = nom_u8(input)?;
    let (input, file_type) = nom_u8(input)?;
    let (input, name) = take(name_len as usize)(input)?;
    Ok((input, (inode, rec_len, name_len, file_type, name)))
}

/// Writes one entry's header and name; the caller pads to rec_len.
pub fn write_entry(e: &DirEntry, block_size: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(&e.inode.to_le_bytes());
    out.extend_from_slice(&rec_len_to_disk(e.rec_len, block_size).to_le_bytes());
    out.push(e.name.len() as u8);
    out.push(e.file_type);
    out.extend_from_slice(&e.name);
}

/// Parses a whole directory block into its entries, checking the rec_len
/// rules (4-byte aligned, at least the name's record, never past the
/// block). `dir` and `block` name the place in errors.
pub fn parse_block(buf: &[u8], dir: u32, block: u64) -> Result<Vec<DirEntry>> {
    let bs = buf.len();
    let mut off = 0usize;
    let mut out = Vec::new();
    while off < bs {
        let corrupt = |why: String| Error::CorruptDirectory { dir, block, why };
        let (_, (inode, raw_rec, name_len, file_type, name)) = parse_entry(&buf[off..])
            .map_err(|_| corrupt(format!("entry at offset {off} runs past the block")))?;
        let rec_len = rec_len_from_disk(raw_rec, bs) as usize;
        if rec_len < HEADER_LEN || !rec_len.is_multiple_of(4) {
            return Err(corrupt(format!("bad rec_len {rec_len} at offset {off}")));
        }
        if off + rec_len > bs {
            return Err(corrupt(format!(
                "rec_len {rec_len} at offset {off} runs past the block"
            )));
        }
        if rec_len_for(name_len as usize) > rec_len {
            return Err(corrupt(format!(
                "name_len {name_len} does not fit rec_len {rec_len} at offset {off}"
            )));
        }
        out.push(DirEntry {
            inode,
            rec_len: rec_len as u32,
            file_type,
            name: name.to_vec(),
        });
        off += rec_len;
    }
    Ok(out)
}

/// One entry seen in place, without copying its name.
#[derive(Clone, Copy, Debug)]
pub struct RawView<'a> {
    pub offset: usize,
    pub inode: u32,
    pub rec_len: usize,
    pub file_type: u8,
    pub name: &'a [u8],
}

impl RawView<'_> {
    pub fn in_use(&self, whiteout_feature: bool) -> bool {
        self.inode != 0 || (whiteout_feature && matches!(self.file_type, ft::WHT | ft::FALLTHRU))
    }
}

/// Iterates a directory block's entries in place (no allocation); stops
/// at the first malformed entry (`parse_block` reports those).
pub fn iter_block(buf: &[u8]) -> impl Iterator<Item = RawView<'_>> {
    let bs = buf.len();
    let mut off = 0usize;
    std::iter::from_fn(move || {
        if off + HEADER_LEN > bs {
            return None;
        }
        let inode = crate::codec::le32(buf, off);
        let rec_len = rec_len_from_disk(crate::codec::le16(buf, off + 4), bs) as usize;
        let name_len = buf[off + 6] as usize;
        if rec_len < HEADER_LEN
            || !rec_len.is_multiple_of(4)
            || off + rec_len > bs
            || rec_len_for(name_len) > rec_len
        {
            return None;
        }
        let v = RawView {
            offset: off,
            inode,
            rec_len,
            file_type: buf[off + 7],
            name: &buf[off + HEADER_LEN..off + HEADER_LEN + name_len],
        };
        off += rec_len;
        Some(v)
    })
}

/// One entry a `BlockCursor` yields, with whether it is a removed entry
/// (one found in the slack of a live entry's rec_len).
#[derive(Clone, Copy, Debug)]
pub struct BlockEntry<'a> {
    pub view: RawView<'a>,
    pub removed: bool,
}

/// Where a `BlockCursor` met an entry it cannot step over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MalformedEntry {
    pub offset: usize,
}

/// The checks libext2fs's dir_iterate makes on an entry before using it:
/// inside the block, aligned, and long enough for its header and name.
fn entry_fits(offset: usize, rec_len: usize, name_len: usize, block_size: usize) -> bool {
    offset + rec_len <= block_size
        && rec_len >= HEADER_LEN
        && rec_len.is_multiple_of(4)
        && name_len + HEADER_LEN <= rec_len
}

/// Whether entries starting at `offset` chain exactly to `end`: how a
/// removed entry hidden in slack is told from leftover bytes.
fn chains_to(buf: &[u8], mut offset: usize, end: usize) -> bool {
    let bs = buf.len();
    while offset < end && offset + 12 <= bs {
        let rec_len = rec_len_from_disk(crate::codec::le16(buf, offset + 4), bs) as usize;
        let name_len = buf[offset + 6] as usize;
        offset += rec_len;
        if rec_len < HEADER_LEN || !rec_len.is_multiple_of(4) || name_len + HEADER_LEN > rec_len {
            return false;
        }
    }
    offset == end
}

/// Walks a directory block entry by entry, as libext2fs's dir_iterate:
/// live entries (unused ones included, callers filter), and with
/// `include_removed` also the removed entries still readable in slack
/// (DIRENT_FLAG_INCLUDE_REMOVED). Yields one `Err` at the first entry
/// that does not fit, then stops.
pub struct BlockCursor<'a> {
    buf: &'a [u8],
    offset: usize,
    next_live: usize,
    include_removed: bool,
    done: bool,
}

impl<'a> BlockCursor<'a> {
    pub fn new(buf: &'a [u8], include_removed: bool) -> Self {
        BlockCursor {
            buf,
            offset: 0,
            next_live: 0,
            include_removed,
            done: false,
        }
    }
}

impl<'a> Iterator for BlockCursor<'a> {
    type Item = std::result::Result<BlockEntry<'a>, MalformedEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        let (buf, off) = (self.buf, self.offset);
        let bs = buf.len();
        if self.done || off + HEADER_LEN > bs {
            return None;
        }
        let rec_len = rec_len_from_disk(crate::codec::le16(buf, off + 4), bs) as usize;
        let name_len = buf[off + 6] as usize;
        if !entry_fits(off, rec_len, name_len, bs) {
            self.done = true;
            return Some(Err(MalformedEntry { offset: off }));
        }
        let removed = off < self.next_live;
        if self.next_live == off {
            self.next_live += rec_len;
        }
        self.offset = off + rec_len;
        let needed = rec_len_for(name_len);
        if self.include_removed && rec_len != needed {
            // Step through the slack 4 bytes at a time until what follows
            // chains exactly to the end of this record.
            let end = off + rec_len;
            let mut next = off + needed;
            while next < end && !chains_to(buf, next, end) {
                next += 4;
            }
            self.offset = next;
        }
        Some(Ok(BlockEntry {
            view: RawView {
                offset: off,
                inode: crate::codec::le32(buf, off),
                rec_len,
                file_type: buf[off + 7],
                name: &buf[off + HEADER_LEN..off + HEADER_LEN + name_len],
            },
            removed,
        }))
    }
}

/// Writes entries into a block of `block_size` bytes. The rec_lens must
/// tile the block exactly (as `parse_block` returns them).
pub fn write_block(entries: &[DirEntry], block_size: usize) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(block_size);
    for e in entries {
        let start = out.len();
        if (e.rec_len as usize) < e.min_rec_len() {
            return Err(Error::RecLenTooSmall {
                name: String::from_utf8_lossy(&e.name).into_owned(),
                rec_len: e.rec_len,
            });
        }
        write_entry(e, block_size, &mut out);
        out.resize(start + e.rec_len as usize, 0);
    }
    if out.len() != block_size {
        return Err(Error::EntriesDoNotTile {
            covered: out.len(),
            block_size,
        });
    }
    Ok(out)
}

/// An empty directory block: one unused entry covering it all.
pub fn empty_block(block_size: usize) -> Vec<u8> {
    let e = DirEntry {
        inode: 0,
        rec_len: block_size as u32,
        file_type: 0,
        name: Vec::new(),
    };
    // OK: one entry of rec_len == block size always tiles the block.
    write_block(&[e], block_size).unwrap_or_else(|_| vec![0; block_size])
}

/// The first block of a new directory: '.' and '..' then free space.
pub fn new_dir_block(ino: u32, parent: u32, block_size: usize, filetype: bool) -> Vec<u8> {
    let t = |x| if filetype { x } else { 0 };
    let dot = DirEntry {
        inode: ino,
        rec_len: 12,
        file_type: t(ft::DIR),
        name: b".".to_vec(),
    };
    let dotdot = DirEntry {
        inode: parent,
        rec_len: block_size as u32 - 12,
        file_type: t(ft::DIR),
        name: b"..".to_vec(),
    };
    // OK: 12 + (bs - 12) tiles the block.
    write_block(&[dot, dotdot], block_size).unwrap_or_else(|_| vec![0; block_size])
}

/// Where a new name goes in a block, following the union replacement rule:
/// a whiteout or fallthru of the same name is replaced in its slot.
#[derive(Debug, PartialEq, Eq)]
pub enum Slot {
    /// Entry `index` has this name already (live, whiteout or fallthru).
    Existing(usize),
    /// Split entry `index`: it keeps its name, the new one follows it.
    After(usize),
    /// Entry `index` is a free slot big enough to reuse as it is.
    Free(usize),
}

/// Finds the slot for `name` in `entries`, or None when the block is full.
/// A same-named entry always wins over free space.
pub fn find_slot(entries: &[DirEntry], name: &[u8], whiteout_feature: bool) -> Option<Slot> {
    if let Some(i) = entries
        .iter()
        .position(|e| e.in_use(whiteout_feature) && e.name == name)
    {
        return Some(Slot::Existing(i));
    }
    let need = rec_len_for(name.len());
    for (i, e) in entries.iter().enumerate() {
        if !e.in_use(whiteout_feature) {
            if e.rec_len as usize >= need {
                return Some(Slot::Free(i));
            }
        } else if e.rec_len as usize >= e.min_rec_len() + need {
            return Some(Slot::After(i));
        }
    }
    None
}

/// Puts `new` into `entries` at `slot` (from `find_slot`), fixing rec_lens.
pub fn insert_at(entries: &mut Vec<DirEntry>, slot: Slot, mut new: DirEntry) {
    match slot {
        Slot::Existing(i) | Slot::Free(i) => {
            new.rec_len = entries[i].rec_len;
            entries[i] = new;
        }
        Slot::After(i) => {
            let keep = entries[i].min_rec_len() as u32;
            new.rec_len = entries[i].rec_len - keep;
            entries[i].rec_len = keep;
            entries.insert(i + 1, new);
        }
    }
}

/// Removes entry `i`, merging its space into the previous entry (or
/// marking it free when it is first), as the kernel's ext2_delete_entry.
pub fn remove_at(entries: &mut Vec<DirEntry>, i: usize) {
    if i == 0 {
        entries[0].inode = 0;
        entries[0].file_type = 0;
        entries[0].name.clear();
    } else {
        let gone = entries.remove(i);
        entries[i - 1].rec_len += gone.rec_len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rec_len_rules() {
        assert_eq!(rec_len_for(1), 12);
        assert_eq!(rec_len_for(4), 12);
        assert_eq!(rec_len_for(5), 16);
        assert_eq!(rec_len_for(255), 264);
        for bs in [1024usize, 4096, 65536] {
            for len in [12u32, 1000, 65536.min(bs as u32)] {
                assert_eq!(rec_len_from_disk(rec_len_to_disk(len, bs), bs), len);
            }
        }
    }

    #[test]
    fn new_dir_block_parses_with_dots() {
        let b = new_dir_block(12, 2, 1024, true);
        let e = parse_block(&b, 12, 0).unwrap();
        assert_eq!(e.len(), 2);
        assert!(e[0].is_dot() && e[1].is_dotdot());
        assert_eq!(e[1].inode, 2);
        assert_eq!(e[1].rec_len, 1012);
    }

    #[test]
    fn whiteout_is_replaced_in_place() {
        let b = new_dir_block(12, 2, 1024, true);
        let mut e = parse_block(&b, 12, 0).unwrap();
        let slot = find_slot(&e, b"gone", true).unwrap();
        insert_at(&mut e, slot, DirEntry::new(0, ft::WHT, b"gone"));
        assert!(e[2].is_whiteout());
        // Creating over the whiteout reuses its slot.
        assert_eq!(find_slot(&e, b"gone", true), Some(Slot::Existing(2)));
        let slot = find_slot(&e, b"gone", true).unwrap();
        insert_at(&mut e, slot, DirEntry::new(13, ft::REG_FILE, b"gone"));
        assert_eq!(e.len(), 3);
        assert_eq!(e[2].inode, 13);
        let bytes = write_block(&e, 1024).unwrap();
        assert_eq!(parse_block(&bytes, 12, 0).unwrap(), e);
        // Without the feature a whiteout is a free slot.
        let mut w = e.clone();
        w[2] = DirEntry {
            inode: 0,
            file_type: ft::WHT,
            ..w[2].clone()
        };
        assert!(!w[2].in_use(false));
    }

    #[test]
    fn bad_rec_len_is_error() {
        let mut b = new_dir_block(12, 2, 1024, true);
        b[4] = 3; // rec_len of '.' = 3
        assert!(parse_block(&b, 12, 5).is_err());
        b[4] = 0;
        b[5] = 8; // 2048, past the block
        assert!(parse_block(&b, 12, 5).is_err());
    }

    /// A block with "a" live, then "gone" removed by merging its record
    /// into "a"'s, then "b" live.
    fn block_with_removed() -> Vec<u8> {
        let mut e = vec![
            DirEntry::new(11, ft::REG_FILE, b"a"),
            DirEntry::new(12, ft::REG_FILE, b"gone"),
            DirEntry::new(13, ft::REG_FILE, b"b"),
        ];
        e[2].rec_len = 1024 - 24;
        let bytes = write_block(&e, 1024).unwrap();
        remove_at(&mut e, 1);
        let mut out = write_block(&e, 1024).unwrap();
        // The removed entry's bytes stay where they were.
        out[12..24].copy_from_slice(&bytes[12..24]);
        out
    }

    #[test]
    fn cursor_finds_removed_entry_in_slack() {
        let b = block_with_removed();
        let live: Vec<_> = BlockCursor::new(&b, false).map(|r| r.unwrap()).collect();
        assert_eq!(live.len(), 2);
        assert!(live.iter().all(|e| !e.removed));
        let all: Vec<_> = BlockCursor::new(&b, true).map(|r| r.unwrap()).collect();
        let seen: Vec<_> = all
            .iter()
            .map(|e| (e.view.offset, e.view.name, e.removed))
            .collect();
        assert_eq!(
            seen,
            vec![
                (0, &b"a"[..], false),
                (12, &b"gone"[..], true),
                (24, &b"b"[..], false)
            ]
        );
        assert_eq!(all[1].view.inode, 12);
    }

    #[test]
    fn cursor_reports_malformed_offset_once() {
        let mut b = new_dir_block(12, 2, 1024, true);
        b[16] = 6; // rec_len of '..' = 6
        let got: Vec<_> = BlockCursor::new(&b, true).collect();
        assert_eq!(got.len(), 2);
        assert!(got[0].is_ok());
        assert_eq!(got[1].unwrap_err(), MalformedEntry { offset: 12 });
    }

    fn arb_entry() -> impl Strategy<Value = DirEntry> {
        (
            any::<u32>(),
            0u8..12,
            proptest::collection::vec(1u8..=255, 1..40),
            0usize..3,
        )
            .prop_map(|(inode, file_type, name, slack)| {
                let mut e = DirEntry::new(inode, file_type, &name);
                e.rec_len += 4 * slack as u32;
                e
            })
    }

    proptest! {
        #[test]
        fn block_round_trip(mut entries in proptest::collection::vec(arb_entry(), 1..20)) {
            let used: u32 = entries.iter().map(|e| e.rec_len).sum();
            prop_assume!(used <= 4096);
            entries.last_mut().unwrap().rec_len += 4096 - used;
            let bytes = write_block(&entries, 4096).unwrap();
            let parsed = parse_block(&bytes, 2, 0).unwrap();
            prop_assert_eq!(&parsed, &entries);
            prop_assert_eq!(write_block(&parsed, 4096).unwrap(), bytes);
        }

        #[test]
        fn cursor_live_entries_match_parse_block(mut entries in proptest::collection::vec(arb_entry(), 1..20)) {
            let used: u32 = entries.iter().map(|e| e.rec_len).sum();
            prop_assume!(used <= 4096);
            entries.last_mut().unwrap().rec_len += 4096 - used;
            let bytes = write_block(&entries, 4096).unwrap();
            let live: Vec<_> = BlockCursor::new(&bytes, false).map(|r| r.unwrap()).collect();
            prop_assert_eq!(live.len(), entries.len());
            let mut offset = 0;
            for (c, e) in live.iter().zip(&entries) {
                prop_assert!(!c.removed);
                prop_assert_eq!(c.view.offset, offset);
                prop_assert_eq!((c.view.inode, c.view.rec_len as u32, c.view.name), (e.inode, e.rec_len, &e.name[..]));
                offset += e.rec_len as usize;
            }
            // With removed entries asked for, every live entry still comes,
            // in order, and anything extra is marked removed and sits in
            // the slack of the live entry before it.
            let all: Vec<_> = BlockCursor::new(&bytes, true).map(|r| r.unwrap()).collect();
            let again: Vec<_> = all.iter().filter(|c| !c.removed).map(|c| c.view.offset).collect();
            let offsets: Vec<_> = live.iter().map(|c| c.view.offset).collect();
            prop_assert_eq!(again, offsets);
            for w in all.windows(2) {
                prop_assert!(w[0].view.offset < w[1].view.offset);
            }
        }

        #[test]
        fn cursor_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048), removed in any::<bool>()) {
            let items: Vec<_> = BlockCursor::new(&bytes, removed).collect();
            // At most one error, and only last.
            let errs = items.iter().filter(|r| r.is_err()).count();
            prop_assert!(errs <= 1);
            if errs == 1 {
                prop_assert!(items.last().unwrap().is_err());
            }
        }

        #[test]
        fn random_block_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = parse_block(&bytes, 2, 0);
        }
    }
}
