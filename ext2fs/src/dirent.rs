//! Directory entries (`struct ext2_dir_entry_2`) and the blocks they fill,
//! with the union rules of union-ext2.md: whiteouts (type 8) and fallthrus
//! (type 9) have inode 0 yet are in use.

use nom::bytes::complete::take;
use nom::number::complete::{le_u16, le_u32, u8 as nom_u8};
use nom::IResult;

use crate::{CorruptKind, Error, Result, Structure};

/// EXT2_FT_* values in `file_type`.
pub mod ft {
    /// Type not recorded.
    pub const UNKNOWN: u8 = 0;
    /// Regular file.
    pub const REG_FILE: u8 = 1;
    /// Directory.
    pub const DIR: u8 = 2;
    /// Character device.
    pub const CHRDEV: u8 = 3;
    /// Block device.
    pub const BLKDEV: u8 = 4;
    /// FIFO.
    pub const FIFO: u8 = 5;
    /// Socket.
    pub const SOCK: u8 = 6;
    /// Symbolic link.
    pub const SYMLINK: u8 = 7;
    /// Union mounts: whiteout (inode 0).
    pub const WHT: u8 = 8;
    /// Union mounts: fallthru (inode 0; union-ext2.md **Decision**).
    pub const FALLTHRU: u8 = 9;
    /// One past the last type value in use (with the union types).
    pub const MAX: u8 = 10;
    /// The htree tail/checksum pseudo-entry type (metadata_csum only).
    pub const DIR_CSUM: u8 = 0xDE;
}

/// Fixed header size of a directory entry.
pub const HEADER_LEN: usize = 8;
/// The longest name an entry holds (name_len is one byte).
pub const NAME_MAX: usize = 255;

/// EXT2_DIR_REC_LEN: the smallest record for a name of `name_len` bytes.
pub const fn rec_len_for(name_len: usize) -> usize {
    (name_len + HEADER_LEN + 3) & !3
}

/// One directory entry as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// The entry's inode (0: unused, or a whiteout or fallthru).
    pub inode: u32,
    /// Record length as it applies (already decoded for 64 KiB blocks).
    pub rec_len: u32,
    /// The low byte of the legacy 16-bit name length when `filetype` is off.
    pub file_type: u8,
    /// The name (name_len bytes, no NUL).
    pub name: Vec<u8>,
}

impl DirEntry {
    /// An entry for `name` with the smallest rec_len it fits.
    pub fn new(inode: u32, file_type: u8, name: &[u8]) -> Self {
        DirEntry {
            inode,
            rec_len: rec_len_for(name.len()) as u32,
            file_type,
            name: name.to_vec(),
        }
    }

    /// Whether this is a whiteout (inode 0, type [`ft::WHT`]).
    pub fn is_whiteout(&self) -> bool {
        self.inode == 0 && self.file_type == ft::WHT
    }

    /// Whether this is a fallthru (inode 0, type [`ft::FALLTHRU`]).
    pub fn is_fallthru(&self) -> bool {
        self.inode == 0 && self.file_type == ft::FALLTHRU
    }

    /// In use: a live entry, a whiteout or a fallthru (union-ext2.md).
    /// Without the whiteout feature only live entries are in use.
    pub fn in_use(&self, whiteout_feature: bool) -> bool {
        in_use(self.inode, self.file_type, whiteout_feature)
    }

    /// Bytes this entry really needs.
    pub fn min_rec_len(&self) -> usize {
        rec_len_for(self.name.len())
    }

    /// Whether the name is ".".
    pub fn is_dot(&self) -> bool {
        self.name == b"."
    }

    /// Whether the name is "..".
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

/// rec_len in bytes to its on-disk 16-bit form (the inverse of
/// [`rec_len_from_disk`]).
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
        let corrupt = |kind| Error::corrupt(Structure::Directory { block }, dir as u64, kind);
        let (_, (inode, raw_rec, name_len, file_type, name)) =
            parse_entry(&buf[off..]).map_err(|_| corrupt(CorruptKind::EntryPastBlock(off)))?;
        let rec_len = rec_len_from_disk(raw_rec, bs) as usize;
        if rec_len < HEADER_LEN || !rec_len.is_multiple_of(4) {
            return Err(corrupt(CorruptKind::BadRecLen {
                rec_len,
                offset: off,
            }));
        }
        if off + rec_len > bs {
            return Err(corrupt(CorruptKind::RecLenPastBlock {
                rec_len,
                offset: off,
            }));
        }
        if rec_len_for(name_len as usize) > rec_len {
            return Err(corrupt(CorruptKind::NameLenPastRecLen {
                name_len,
                rec_len,
                offset: off,
            }));
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
    /// The entry's byte offset in its block.
    pub offset: usize,
    /// The inode field.
    pub inode: u32,
    /// The record length, decoded for the block size.
    pub rec_len: usize,
    /// The file type byte.
    pub file_type: u8,
    /// The name (name_len bytes).
    pub name: &'a [u8],
}

impl RawView<'_> {
    /// In use: a live entry, a whiteout or a fallthru (union-ext2.md).
    /// Without the whiteout feature only live entries are in use.
    pub fn in_use(&self, whiteout_feature: bool) -> bool {
        in_use(self.inode, self.file_type, whiteout_feature)
    }
}

/// An entry with this inode field and file type is in use: a live entry,
/// or under the whiteout feature a whiteout or fallthru (union-ext2.md).
fn in_use(inode: u32, file_type: u8, whiteout_feature: bool) -> bool {
    inode != 0 || (whiteout_feature && matches!(file_type, ft::WHT | ft::FALLTHRU))
}

/// Iterates a directory block's live entries in place (no allocation);
/// stops at the first malformed entry (`parse_block` reports those).
pub fn iter_block(buf: &[u8]) -> impl Iterator<Item = RawView<'_>> {
    BlockCursor::new(buf, false).map_while(|e| e.ok().map(|e| e.view))
}

/// Byte offsets of `struct ext2_dir_entry_2`'s fields inside an entry.
const AT_INODE: usize = 0;
const AT_REC_LEN: usize = 4;
const AT_NAME_LEN: usize = 6;
const AT_FILE_TYPE: usize = 7;

/// The raw rec_len of the entry at `off` (header in bounds), decoded for
/// the block size.
fn rec_len_at(buf: &[u8], off: usize) -> usize {
    rec_len_from_disk(crate::codec::le16(buf, off + AT_REC_LEN), buf.len()) as usize
}

/// One entry a `BlockCursor` yields, with whether it is a removed entry
/// (one found in the slack of a live entry's rec_len).
#[derive(Clone, Copy, Debug)]
pub struct BlockEntry<'a> {
    /// The entry.
    pub view: RawView<'a>,
    /// Whether it is a removed entry in slack.
    pub removed: bool,
}

/// Where a `BlockCursor` met an entry it cannot step over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MalformedEntry {
    /// The byte offset of the entry that does not fit.
    pub offset: usize,
}

impl MalformedEntry {
    /// The corruption it is, as an error naming directory `dir` and the
    /// block `block` that `buf` was read from.
    pub fn error(self, buf: &[u8], dir: u32, block: u64) -> Error {
        let offset = self.offset;
        let rec_len = rec_len_at(buf, offset);
        let name_len = buf[offset + AT_NAME_LEN];
        let kind = if rec_len < HEADER_LEN || !rec_len.is_multiple_of(4) {
            CorruptKind::BadRecLen { rec_len, offset }
        } else if offset + rec_len > buf.len() {
            CorruptKind::RecLenPastBlock { rec_len, offset }
        } else {
            CorruptKind::NameLenPastRecLen {
                name_len,
                rec_len,
                offset,
            }
        };
        Error::corrupt(Structure::Directory { block }, dir as u64, kind)
    }
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
/// removed entry hidden in slack is told from leftover bytes. As
/// libext2fs' ext2fs_validate_entry, the walk goes on while 12 bytes fit
/// in a filesystem block (`block_size`), whatever the buffer's length (an
/// inline directory's 56 bytes); a header it cannot read ends the chain.
fn chains_to(buf: &[u8], mut offset: usize, end: usize, block_size: usize) -> bool {
    while offset < end && offset + 12 <= block_size {
        if offset + HEADER_LEN > buf.len() {
            return false;
        }
        let rec_len = rec_len_at(buf, offset);
        let name_len = buf[offset + AT_NAME_LEN] as usize;
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
    /// The filesystem's block size, which bounds the slack walk.
    block_size: usize,
}

impl<'a> BlockCursor<'a> {
    /// A cursor at the start of the block `buf`; `include_removed` also
    /// yields removed entries found in slack.
    pub fn new(buf: &'a [u8], include_removed: bool) -> Self {
        Self::in_filesystem(buf, buf.len(), include_removed)
    }

    /// A cursor over `buf`, a part of a directory shorter than a block
    /// (an inline directory's i_block or attribute) on a filesystem of
    /// `block_size`-byte blocks: libext2fs bounds its search for removed
    /// entries by the block size, not the part's length.
    pub fn in_filesystem(buf: &'a [u8], block_size: usize, include_removed: bool) -> Self {
        BlockCursor {
            buf,
            offset: 0,
            next_live: 0,
            include_removed,
            done: false,
            block_size,
        }
    }
}

impl<'a> Iterator for BlockCursor<'a> {
    type Item = std::result::Result<BlockEntry<'a>, MalformedEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        let (buf, off) = (self.buf, self.offset);
        let bs = buf.len();
        // ext2fs_process_dir_block stops once no more than a header's
        // 8 bytes are left: an entry there is never read.
        if self.done || off + HEADER_LEN >= bs {
            return None;
        }
        let rec_len = rec_len_at(buf, off);
        let name_len = buf[off + AT_NAME_LEN] as usize;
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
            while next < end && !chains_to(buf, next, end, self.block_size) {
                next += 4;
            }
            self.offset = next;
        }
        Some(Ok(BlockEntry {
            view: RawView {
                offset: off,
                inode: crate::codec::le32(buf, off + AT_INODE),
                rec_len,
                file_type: buf[off + AT_FILE_TYPE],
                name: &buf[off + HEADER_LEN..off + HEADER_LEN + name_len],
            },
            removed,
        }))
    }
}

/// A directory block as stored, for a checker that must judge damaged
/// entries itself: every field of the entry at an offset is read raw (no
/// rec_len rule applied), and the in-place edits e2fsck makes are here
/// (its salvage_directory included), so the checker never touches the
/// entry layout. Reads past the block give 0 and writes there are
/// dropped: callers check `has_header` first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawBlock {
    buf: Vec<u8>,
}

impl RawBlock {
    /// The block `buf` (one whole directory block).
    pub fn new(buf: Vec<u8>) -> Self {
        RawBlock { buf }
    }

    /// The block's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The block's bytes, edits included.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// The block size.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether the block has no bytes.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Whether an entry header (8 bytes) starts at `o` inside the block.
    pub fn has_header(&self, o: usize) -> bool {
        o.checked_add(HEADER_LEN)
            .is_some_and(|end| end <= self.buf.len())
    }

    fn byte(&self, at: usize) -> u8 {
        self.buf.get(at).copied().unwrap_or(0)
    }

    fn set_byte(&mut self, at: usize, v: u8) {
        if let Some(b) = self.buf.get_mut(at) {
            *b = v;
        }
    }

    fn put(&mut self, at: usize, bytes: &[u8]) {
        for (i, &v) in bytes.iter().enumerate() {
            self.set_byte(at + i, v);
        }
    }

    /// The inode field of the entry at `o`.
    pub fn inode(&self, o: usize) -> u32 {
        u32::from_le_bytes(std::array::from_fn(|i| self.byte(o + AT_INODE + i)))
    }

    /// rec_len as stored, decoded for the block size (65536-byte blocks).
    pub fn rec_len(&self, o: usize) -> usize {
        let raw = u16::from_le_bytes(std::array::from_fn(|i| self.byte(o + AT_REC_LEN + i)));
        rec_len_from_disk(raw, self.buf.len()) as usize
    }

    /// The name_len byte of the entry at `o`.
    pub fn name_len(&self, o: usize) -> usize {
        self.byte(o + AT_NAME_LEN) as usize
    }

    /// The file type byte of the entry at `o`.
    pub fn file_type(&self, o: usize) -> u8 {
        self.byte(o + AT_FILE_TYPE)
    }

    /// Whether the entry at `o` is in use, as [`RawView::in_use`] judges.
    pub fn in_use(&self, o: usize, whiteout_feature: bool) -> bool {
        in_use(self.inode(o), self.file_type(o), whiteout_feature)
    }

    /// The name, cut at the end of the block when name_len runs past it.
    pub fn name(&self, o: usize) -> &[u8] {
        let start = (o + HEADER_LEN).min(self.buf.len());
        let end = (start + self.name_len(o)).min(self.buf.len());
        &self.buf[start..end]
    }

    /// The name of the entry at `o`, for editing in place (cut at the
    /// end of the block).
    pub fn name_mut(&mut self, o: usize) -> &mut [u8] {
        let start = (o + HEADER_LEN).min(self.buf.len());
        let end = (start + self.name_len(o)).min(self.buf.len());
        &mut self.buf[start..end]
    }

    /// The byte after the name ('.' and '..' must be NUL terminated).
    pub fn byte_after_name(&self, o: usize) -> u8 {
        self.byte(o + HEADER_LEN + self.name_len(o))
    }

    /// Whether the bytes where entry `o`'s name starts begin with `prefix`.
    pub fn name_area_starts_with(&self, o: usize, prefix: &[u8]) -> bool {
        self.buf
            .get(o + HEADER_LEN..)
            .is_some_and(|rest| rest.starts_with(prefix))
    }

    /// Sets the inode field of the entry at `o`.
    pub fn set_inode(&mut self, o: usize, v: u32) {
        self.put(o + AT_INODE, &v.to_le_bytes());
    }

    /// Sets the rec_len of the entry at `o` (encoded for the block size).
    pub fn set_rec_len(&mut self, o: usize, len: usize) {
        let raw = rec_len_to_disk(len as u32, self.buf.len());
        self.put(o + AT_REC_LEN, &raw.to_le_bytes());
    }

    /// Sets the name_len byte of the entry at `o`.
    pub fn set_name_len(&mut self, o: usize, len: u8) {
        self.set_byte(o + AT_NAME_LEN, len);
    }

    /// Sets the file type byte of the entry at `o`.
    pub fn set_file_type(&mut self, o: usize, t: u8) {
        self.set_byte(o + AT_FILE_TYPE, t);
    }

    /// Writes name_len and the name followed by a NUL (as e2fsck writes
    /// '.' and '..'); rec_len, inode and file type stay.
    pub fn set_name(&mut self, o: usize, name: &[u8]) {
        let name = &name[..name.len().min(NAME_MAX)];
        self.set_name_len(o, name.len() as u8);
        self.put(o + HEADER_LEN, name);
        self.set_byte(o + HEADER_LEN + name.len(), 0);
    }

    /// Writes a whole entry (header and name, no padding) at `o`.
    pub fn put_entry(&mut self, o: usize, e: &DirEntry) {
        let mut raw = Vec::with_capacity(HEADER_LEN + e.name.len());
        write_entry(e, self.buf.len(), &mut raw);
        self.put(o, &raw);
    }

    /// Gives entry `o`'s record to the entry before it at `prev` (the
    /// kernel's way of deleting an entry); returns the offset after it.
    pub fn merge_into_prev(&mut self, prev: usize, o: usize) -> usize {
        let len = self.rec_len(o);
        let grown = self.rec_len(prev) + len;
        self.set_rec_len(prev, grown);
        o + len
    }

    /// e2fsck's salvage_directory: makes the bytes at `o` walkable again
    /// and returns the offset to continue at. `prev` is the last entry
    /// accepted before `o`; an entry whose inode is above `max_inode` or
    /// whose name holds a NUL is not worth keeping.
    pub fn salvage(&mut self, o: usize, prev: Option<usize>, max_inode: u32) -> usize {
        let bs = self.buf.len();
        let header = self.has_header(o);
        let (rec_len, name_len) = if header {
            (self.rec_len(o), self.name_len(o))
        } else {
            (0, 0)
        };
        let left = bs as i64 - o as i64 - rec_len as i64;
        if header && left >= 12 && rec_len == HEADER_LEN {
            // An 8-byte hole: pull the rest of the block up over it.
            self.buf.copy_within(o + HEADER_LEN..bs, o);
            self.buf[bs - HEADER_LEN..].fill(0);
            return o;
        }
        if header
            && left < 0
            && rec_len as i64 + left > HEADER_LEN as i64
            && (name_len + HEADER_LEN) as i64 <= rec_len as i64 + left
            && self.inode(o) <= max_inode
            && !self.name(o).contains(&0)
        {
            // The record runs past the block: end it at the block's end.
            self.set_rec_len(o, bs - o);
            return o;
        }
        if let Some(p) = prev {
            if rec_len != 0 && rec_len.is_multiple_of(4) && o + rec_len <= bs {
                return self.merge_into_prev(p, o);
            }
            let grown = self.rec_len(p) + bs - o;
            self.set_rec_len(p, grown);
            return bs;
        }
        let len = bs - o;
        if len < HEADER_LEN {
            return bs;
        }
        // The first entry: one empty record over the rest of the block.
        self.set_rec_len(o, len);
        self.set_name_len(o, 0);
        self.set_file_type(o, 0);
        self.set_inode(o, 0);
        o
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

    #[test]
    fn salvage_cases() {
        // An 8-byte record is a hole: the rest of the block moves up.
        let mut b = RawBlock::new(new_dir_block(12, 2, 1024, true));
        b.set_rec_len(0, 8);
        let moved = b.bytes()[8..16].to_vec();
        assert_eq!(b.salvage(0, None, 100), 0);
        assert_eq!(&b.bytes()[0..8], &moved[..]);
        assert!(b.bytes()[1016..].iter().all(|&x| x == 0));
        // A record past the block ends at the block's end.
        let mut b = RawBlock::new(new_dir_block(12, 2, 1024, true));
        b.set_rec_len(12, 2000);
        assert_eq!(b.salvage(12, Some(0), 100), 12);
        assert_eq!(b.rec_len(12), 1012);
        // ... unless its inode is impossible: then '.' takes the rest.
        b.set_rec_len(12, 2000);
        assert_eq!(b.salvage(12, Some(0), 1), 1024);
        assert_eq!(b.rec_len(0), 1024);
        // The first entry with no good rec_len becomes one empty record.
        let mut b = RawBlock::new(new_dir_block(12, 2, 1024, true));
        b.set_rec_len(0, 3);
        assert_eq!(b.salvage(0, None, 100), 0);
        assert_eq!((b.inode(0), b.rec_len(0), b.name_len(0)), (0, 1024, 0));
    }

    #[test]
    fn raw_block_reads_past_the_end_as_zero() {
        let mut b = RawBlock::new(vec![0xff; 10]);
        assert!(b.has_header(0) && !b.has_header(4));
        assert_eq!(b.inode(8), 0xffff);
        assert_eq!(b.name(0).len(), 2);
        b.set_inode(8, 0);
        assert_eq!(&b.bytes()[8..], &[0, 0]);
        b.set_name(0, b"..");
        assert_eq!(b.name(0), b"..");
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
        fn raw_block_edits_are_what_the_cursor_reads(
            mut entries in proptest::collection::vec(arb_entry(), 2..20),
            pick in any::<proptest::sample::Index>(),
            inode in any::<u32>(),
            file_type in any::<u8>(),
        ) {
            let used: u32 = entries.iter().map(|e| e.rec_len).sum();
            prop_assume!(used <= 4096);
            entries.last_mut().unwrap().rec_len += 4096 - used;
            let mut b = RawBlock::new(write_block(&entries, 4096).unwrap());
            let offsets: Vec<usize> = iter_block(b.bytes()).map(|e| e.offset).collect();
            let i = pick.index(entries.len());
            let o = offsets[i];
            prop_assert_eq!((b.inode(o), b.rec_len(o) as u32, b.name(o)), (entries[i].inode, entries[i].rec_len, &entries[i].name[..]));
            b.set_inode(o, inode);
            b.set_file_type(o, file_type);
            let seen = iter_block(b.bytes()).nth(i).unwrap();
            prop_assert_eq!((seen.inode, seen.file_type), (inode, file_type));
            // Merging an entry into the one before hides it from a live
            // walk; a walk with removed entries finds it again in slack.
            if i > 0 {
                let after = b.merge_into_prev(offsets[i - 1], o);
                prop_assert_eq!(after, o + entries[i].rec_len as usize);
                let live: Vec<usize> = iter_block(b.bytes()).map(|e| e.offset).collect();
                let mut expect = offsets.clone();
                expect.remove(i);
                prop_assert_eq!(live, expect);
                let removed: Vec<usize> = BlockCursor::new(b.bytes(), true)
                    .map(|r| r.unwrap())
                    .filter(|e| e.removed)
                    .map(|e| e.view.offset)
                    .collect();
                prop_assert!(removed.contains(&o));
            }
        }

        /// pass 2's walk: an entry it does not accept is salvaged. On any
        /// bytes the walk ends, and what it leaves is a block whose entries
        /// chain to its end.
        #[test]
        fn salvage_walk_leaves_a_walkable_block(bytes in proptest::collection::vec(any::<u8>(), 1024..=1024), zeros in 0usize..1024) {
            let mut bytes = bytes;
            bytes[zeros..].iter_mut().step_by(3).for_each(|b| *b = 0);
            let mut b = RawBlock::new(bytes);
            let (mut o, mut prev, mut steps) = (0usize, None, 0);
            while o < b.len() {
                steps += 1;
                prop_assert!(steps < 10_000);
                let ok = b.has_header(o) && {
                    let r = b.rec_len(o);
                    o + r <= b.len() && r >= 12 && r.is_multiple_of(4) && rec_len_for(b.name_len(o)) <= r
                };
                if !ok {
                    o = b.salvage(o, prev, u32::MAX);
                    continue;
                }
                prev = Some(o);
                o += b.rec_len(o);
            }
            let walked: Vec<_> = BlockCursor::new(b.bytes(), false).collect();
            prop_assert!(walked.iter().all(|r| r.is_ok()));
            let covered: usize = walked.iter().map(|r| r.unwrap().view.rec_len).sum();
            prop_assert_eq!(covered, b.len());
        }

        #[test]
        fn random_block_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = parse_block(&bytes, 2, 0);
        }
    }
}
