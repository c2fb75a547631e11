//! Extended attributes: the xattr block (`i_file_acl`) and the in-inode
//! area after `i_extra_isize`. Both hold a list of entries (name index,
//! name, value offset/size, hash) ended by four zero bytes, with the values
//! packed from the end.

use crate::codec::{le16, le32};
use crate::{ondisk, CorruptKind, Error, Result, Structure};

/// h_magic of an xattr block.
pub const XATTR_MAGIC: u32 = 0xEA02_0000;
/// h_magic of the first version's xattr blocks, which libext2fs still
/// reads.
pub const XATTR_MAGIC_V1: u32 = 0xEA01_0000;
/// Size of an entry before its name.
pub const ENTRY_HEADER: usize = 16;
/// Size of the in-inode area's header (its magic): entries start after
/// it, and their value offsets count from there.
pub const IBODY_HEADER: usize = 4;

ondisk! {
    /// `struct ext2_ext_attr_header`, at the start of an xattr block.
    pub struct XattrHeader {
        /// [`XATTR_MAGIC`].
        h_magic: u32,
        /// How many inodes share this block.
        h_refcount: u32,
        /// Always 1 in ext2.
        h_blocks: u32,
        /// Hash of all the block's entries.
        h_hash: u32,
        /// Block checksum (metadata_csum; zero in ext2).
        h_checksum: u32,
        /// Reserved, zero.
        h_reserved: [u32; 3],
    }
}

/// Name prefixes by e_name_index (e2fsprogs' ea_names table).
const PREFIXES: &[(u8, &str)] = &[
    (2, "system.posix_acl_access"),
    (3, "system.posix_acl_default"),
    (8, "system.richacl"),
    (1, "user."),
    (4, "trusted."),
    (6, "security."),
    (7, "system."),
];

/// The POSIX ACL names, whose values ext2 stores in its own format.
pub const ACL_NAMES: [&str; 2] = ["system.posix_acl_access", "system.posix_acl_default"];

/// Converts a POSIX ACL from the form the host's getxattr gives
/// (`posix_acl_xattr`: version 2, 8-byte entries) to ext2's on-disk form
/// (version 1; owner, owning group, mask and other entries without the
/// id, 4 bytes; named users and groups with it, 8 bytes), as the kernel's
/// ext2_acl_to_disk and e2fsprogs' xattr writer do.
pub fn posix_acl_to_disk(value: &[u8]) -> Result<Vec<u8>> {
    const HOST_VERSION: u32 = 2;
    const DISK_VERSION: u32 = 1;
    let bad = |why: &str| Error::BadAcl(why.to_string());
    if value.len() < 4 || le32(value, 0) != HOST_VERSION {
        return Err(bad("not a version 2 posix_acl_xattr"));
    }
    let entries = &value[4..];
    if !entries.len().is_multiple_of(8) {
        return Err(bad("entries are not 8 bytes each"));
    }
    let mut out = DISK_VERSION.to_le_bytes().to_vec();
    for e in entries.chunks_exact(8) {
        let tag = le16(e, 0);
        match tag {
            // USER_OBJ, GROUP_OBJ, MASK, OTHER: no id.
            0x01 | 0x04 | 0x10 | 0x20 => out.extend_from_slice(&e[..4]),
            // USER, GROUP: with the id.
            0x02 | 0x08 => out.extend_from_slice(e),
            _ => return Err(bad(&format!("unknown tag 0x{tag:x}"))),
        }
    }
    Ok(out)
}

/// Splits a full name into (index, suffix) the way it is stored.
pub fn split_name(full: &str) -> (u8, &str) {
    for &(idx, prefix) in PREFIXES {
        if idx == 2 || idx == 3 || idx == 8 {
            if full == prefix {
                return (idx, "");
            }
        } else if let Some(rest) = full.strip_prefix(prefix) {
            return (idx, rest);
        }
    }
    (0, full)
}

/// The full name of a stored (index, suffix).
pub fn join_name(index: u8, suffix: &[u8]) -> String {
    let suffix = String::from_utf8_lossy(suffix);
    match PREFIXES.iter().find(|(i, _)| *i == index) {
        Some((_, p)) => format!("{p}{suffix}"),
        None => suffix.into_owned(),
    }
}

/// One attribute with its full name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Xattr {
    /// The full name, namespace prefix included ("user.foo").
    pub name: String,
    /// The value.
    pub value: Vec<u8>,
}

/// One entry as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawEntry {
    /// e_name_index: the namespace prefix's number.
    pub name_index: u8,
    /// e_name: the name after the prefix.
    pub name: Vec<u8>,
    /// e_value_offs: where the value starts (see [`raw_steps`]).
    pub value_offs: u16,
    /// e_value_inum: the inode holding the value (ea_inode; 0 in ext2).
    pub value_inum: u32,
    /// e_value_size: the value's length in bytes.
    pub value_size: u32,
    /// e_hash: hash of the name and value.
    pub hash: u32,
}

/// The fixed part of an entry (`struct ext2_ext_attr_entry` before its
/// name), for tools that show entries field by field even when damaged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryHeader {
    /// e_name_len: the name's length.
    pub name_len: u8,
    /// e_name_index.
    pub name_index: u8,
    /// e_value_offs.
    pub value_offs: u16,
    /// e_value_inum.
    pub value_inum: u32,
    /// e_value_size.
    pub value_size: u32,
    /// e_hash.
    pub hash: u32,
}

/// The header of the entry at `off`, or None when it runs off `buf`.
pub fn entry_header(buf: &[u8], off: usize) -> Option<EntryHeader> {
    if off.checked_add(ENTRY_HEADER)? > buf.len() {
        return None;
    }
    Some(EntryHeader {
        name_len: buf[off],
        name_index: buf[off + 1],
        value_offs: le16(buf, off + 2),
        value_inum: le32(buf, off + 4),
        value_size: le32(buf, off + 8),
        hash: le32(buf, off + 12),
    })
}

/// Whether an entry table ends at `off`: the zero word after its last
/// entry (EXT2_EXT_IS_LAST_ENTRY), or fewer than four bytes left.
pub fn table_ends_at(buf: &[u8], off: usize) -> bool {
    off.checked_add(4)
        .and_then(|end| buf.get(off..end))
        .is_none_or(|w| w == [0; 4])
}

/// The name length of the entry at `off` (e_name_len, its first byte:
/// readable where the rest of the header may not be), None past `buf`.
pub fn entry_name_len(buf: &[u8], off: usize) -> Option<usize> {
    buf.get(off).map(|&n| n as usize)
}

/// The name of the entry at `off` with header `h`, None where it runs
/// off `buf`.
pub fn entry_name<'a>(buf: &'a [u8], off: usize, h: &EntryHeader) -> Option<&'a [u8]> {
    let at = off.checked_add(ENTRY_HEADER)?;
    buf.get(at..at.checked_add(h.name_len as usize)?)
}

/// What a field-by-field walk of an entry table finds at each step
/// (debugfs' raw dump with `idump -x`/`bd -x`), damaged tables included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RawStep<'a> {
    /// The zero word that ends the table, at this offset.
    End(usize),
    /// An entry header at this offset would run past the buffer.
    Overrun(usize),
    /// An entry at `offset`: its header, its name (None: runs off the
    /// end), its value, and where the value would start in the buffer.
    Entry {
        /// The entry's offset in the buffer.
        offset: usize,
        /// Its fixed part.
        header: EntryHeader,
        /// Its name, None when it runs off the end.
        name: Option<&'a [u8]>,
        /// Its value.
        value: RawValue<'a>,
        /// Where the value would start in the buffer.
        value_at: usize,
    },
}

/// An entry's value as the raw walk finds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawValue<'a> {
    /// value_size is 0.
    Empty,
    /// Kept in an EA inode (ext4's ea_inode), by number.
    Inode(u32),
    /// Its offset or size points past the buffer.
    RunsOff,
    /// The value's bytes.
    Bytes(&'a [u8]),
}

/// Walks the entry table of `buf` from `start` without trusting it: each
/// entry's header, name and value as far as they lie inside `buf`, until
/// the zero word that ends the table or a header that would not fit.
/// Value offsets count from `value_start` (0 in a block, 4 in an inode's
/// area, after its magic).
pub fn raw_steps(buf: &[u8], start: usize, value_start: usize) -> Vec<RawStep<'_>> {
    let len = buf.len();
    let mut steps = Vec::new();
    let mut off = start;
    while off < len {
        if buf.get(off..off + 2) == Some(&[0, 0][..]) {
            steps.push(RawStep::End(off));
            break;
        }
        // debugfs wants a byte beyond the header as well.
        let header = match entry_header(buf, off) {
            Some(h) if off + ENTRY_HEADER < len => h,
            _ => {
                steps.push(RawStep::Overrun(off));
                break;
            }
        };
        let name_at = off + ENTRY_HEADER;
        let name_len = header.name_len as usize;
        let name = buf
            .get(name_at..name_at + name_len)
            .filter(|_| name_at + name_len < len);
        let value_at = value_start + header.value_offs as usize;
        let size = header.value_size as usize;
        let value = if size == 0 {
            RawValue::Empty
        } else if header.value_inum != 0 {
            RawValue::Inode(header.value_inum)
        } else if header.value_offs as usize >= len {
            RawValue::RunsOff
        } else {
            buf.get(value_at..value_at.saturating_add(size))
                .map_or(RawValue::RunsOff, RawValue::Bytes)
        };
        steps.push(RawStep::Entry {
            offset: off,
            header,
            name,
            value,
            value_at,
        });
        off = name_at + ((name_len + 3) & !3);
    }
    steps
}

fn entry_len(name_len: usize) -> usize {
    (name_len + ENTRY_HEADER + 3) & !3
}

fn value_len(size: usize) -> usize {
    (size + 3) & !3
}

/// The hashes (signed-char and unsigned-char names) of an entry whose
/// value lives in an inode of its own (ext4's ea_inode): the name's hash,
/// shifted as a value word would shift it, mixed with the value inode's
/// hash (ext2fs_ext_attr_hash_entry3).
pub fn entry_hash_with_value_inode(name: &[u8], value_hash: u32) -> (u32, u32) {
    let mix = |h: u32| h.rotate_left(16) ^ value_hash;
    (
        mix(entry_hash(name, &[])),
        mix(entry_hash_unsigned(name, &[])),
    )
}

/// ext2fs_ext_attr_hash_entry: over the name (as signed chars, like the
/// kernel before 6.2 and e2fsprogs) and the value's little-endian words.
pub fn entry_hash(name: &[u8], value: &[u8]) -> u32 {
    let mut hash: u32 = 0;
    for &c in name {
        hash = (hash << 5) ^ (hash >> 27) ^ (c as i8 as i32 as u32);
    }
    let mut padded = value.to_vec();
    padded.resize(value_len(value.len()), 0);
    for w in padded.chunks_exact(4) {
        hash = (hash << 16) ^ (hash >> 16) ^ u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
    }
    hash
}

/// The same with unsigned chars (what newer kernels write); e2fsck
/// accepts either.
pub fn entry_hash_unsigned(name: &[u8], value: &[u8]) -> u32 {
    let mut hash: u32 = 0;
    for &c in name {
        hash = (hash << 5) ^ (hash >> 27) ^ c as u32;
    }
    let mut padded = value.to_vec();
    padded.resize(value_len(value.len()), 0);
    for w in padded.chunks_exact(4) {
        hash = (hash << 16) ^ (hash >> 16) ^ u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
    }
    hash
}

/// ext2fs_ext_attr_block_rehash: combines the entry hashes (0 when any
/// entry hash is 0).
pub fn block_hash(entries: &[RawEntry]) -> u32 {
    let mut hash: u32 = 0;
    for e in entries {
        if e.hash == 0 {
            return 0;
        }
        hash = (hash << 16) ^ (hash >> 16) ^ e.hash;
    }
    hash
}

/// Parses the entry list starting at `start` of `buf`; value offsets are
/// relative to `value_base`. `what` names the place in errors.
pub fn parse_entries(
    buf: &[u8],
    start: usize,
    value_base: usize,
    block: u64,
) -> Result<Vec<(RawEntry, Vec<u8>)>> {
    let corrupt = |kind| Error::corrupt(Structure::XattrBlock, block, kind);
    let mut out = Vec::new();
    let mut off = start;
    loop {
        if off + 4 > buf.len() {
            return Err(corrupt(CorruptKind::XattrListPastEnd));
        }
        if le32(buf, off) == 0 {
            break;
        }
        let h =
            entry_header(buf, off).ok_or_else(|| corrupt(CorruptKind::XattrEntryPastEnd(off)))?;
        let name_len = h.name_len as usize;
        let e = RawEntry {
            name_index: h.name_index,
            value_offs: h.value_offs,
            value_inum: h.value_inum,
            value_size: h.value_size,
            hash: h.hash,
            name: buf
                .get(off + ENTRY_HEADER..off + ENTRY_HEADER + name_len)
                .ok_or_else(|| corrupt(CorruptKind::XattrNamePastEnd(off)))?
                .to_vec(),
        };
        if name_len == 0 && !matches!(e.name_index, 2 | 3 | 8) {
            return Err(corrupt(CorruptKind::XattrEmptyName(off)));
        }
        if e.value_inum != 0 {
            return Err(corrupt(CorruptKind::XattrValueInode));
        }
        let vstart = value_base + e.value_offs as usize;
        let vend = vstart + e.value_size as usize;
        if e.value_size != 0 && (vend > buf.len() || vstart < off + entry_len(name_len)) {
            return Err(corrupt(CorruptKind::XattrValueOutside {
                name: join_name(e.name_index, &e.name),
                size: e.value_size,
                offset: e.value_offs,
            }));
        }
        let value = if e.value_size == 0 {
            Vec::new()
        } else {
            buf[vstart..vend].to_vec()
        };
        off += entry_len(name_len);
        out.push((e, value));
    }
    Ok(out)
}

/// Lays out entries and values: entries from `start`, values packed down
/// from `end` (offsets relative to `value_base`). Returns the raw entries
/// (with hashes) or an error when they do not fit.
fn lay_out(
    buf: &mut [u8],
    start: usize,
    end: usize,
    value_base: usize,
    attrs: &[Xattr],
    hashes: bool,
) -> Result<Vec<RawEntry>> {
    let mut sorted: Vec<(u8, &str, &Xattr)> = attrs
        .iter()
        .map(|a| {
            let (i, s) = split_name(&a.name);
            (i, s, a)
        })
        .collect();
    // The kernel searches blocks in (index, name length, name) order.
    sorted.sort_by(|a, b| (a.0, a.1.len(), a.1).cmp(&(b.0, b.1.len(), b.1)));
    let mut off = start;
    let mut vend = end;
    let mut raw = Vec::new();
    for (idx, suffix, a) in sorted {
        if suffix.is_empty() && !matches!(idx, 2 | 3 | 8) {
            return Err(Error::EmptyXattrName(a.name.clone()));
        }
        // POSIX ACLs (index 2, 3) and richacl (8) are stored with an empty name.
        let stored_name: Vec<u8> = suffix.as_bytes().to_vec();
        if stored_name.len() > 255 {
            return Err(Error::NameTooLong {
                name: a.name.clone(),
                len: stored_name.len(),
                max: 255,
            });
        }
        let elen = entry_len(stored_name.len());
        let vlen = value_len(a.value.len());
        if off + elen + 4 > vend.saturating_sub(vlen) {
            return Err(Error::NoSpace {
                what: "extended attribute space",
            });
        }
        vend -= vlen;
        let e = RawEntry {
            name_index: idx,
            value_offs: if a.value.is_empty() {
                0
            } else {
                (vend - value_base) as u16
            },
            value_inum: 0,
            value_size: a.value.len() as u32,
            hash: if hashes {
                entry_hash(&stored_name, &a.value)
            } else {
                0
            },
            name: stored_name,
        };
        buf[off] = e.name.len() as u8;
        buf[off + 1] = e.name_index;
        buf[off + 2..off + 4].copy_from_slice(&e.value_offs.to_le_bytes());
        buf[off + 4..off + 8].copy_from_slice(&0u32.to_le_bytes());
        buf[off + 8..off + 12].copy_from_slice(&e.value_size.to_le_bytes());
        buf[off + 12..off + 16].copy_from_slice(&e.hash.to_le_bytes());
        buf[off + 16..off + 16 + e.name.len()].copy_from_slice(&e.name);
        if !a.value.is_empty() {
            buf[vend..vend + a.value.len()].copy_from_slice(&a.value);
        }
        off += elen;
        raw.push(e);
    }
    Ok(raw)
}

/// A parsed xattr block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XattrBlock {
    /// The block header.
    pub header: XattrHeader,
    /// The entries as stored, in order.
    pub entries: Vec<RawEntry>,
    /// The attributes with full names and values, in entry order.
    pub attrs: Vec<Xattr>,
}

/// Parses and checks an xattr block.
pub fn parse_block(buf: &[u8], block: u64) -> Result<XattrBlock> {
    let corrupt = |kind| Error::corrupt(Structure::XattrBlock, block, kind);
    let (_, header) =
        XattrHeader::parse(buf).map_err(|_| corrupt(CorruptKind::XattrBlockTooShort))?;
    if header.h_magic != XATTR_MAGIC {
        return Err(corrupt(CorruptKind::XattrBadMagic(header.h_magic)));
    }
    if header.h_blocks != 1 {
        return Err(corrupt(CorruptKind::XattrBlocks(header.h_blocks)));
    }
    let list = parse_entries(buf, XattrHeader::SIZE, 0, block)?;
    let attrs = list
        .iter()
        .map(|(e, v)| Xattr {
            name: join_name(e.name_index, &e.name),
            value: v.clone(),
        })
        .collect();
    Ok(XattrBlock {
        header,
        entries: list.into_iter().map(|(e, _)| e).collect(),
        attrs,
    })
}

/// The magic at the start of an in-inode xattr area (0 when the area is
/// too short to hold one).
pub fn ibody_magic(area: &[u8]) -> u32 {
    if area.len() >= 4 {
        le32(area, 0)
    } else {
        0
    }
}

/// Whether a block's header is an xattr block's as libext2fs' reader
/// checks it (check_ext_attr_header): either version's magic, one block.
pub fn header_is_valid(buf: &[u8]) -> bool {
    XattrHeader::parse(buf)
        .is_ok_and(|(_, h)| matches!(h.h_magic, XATTR_MAGIC | XATTR_MAGIC_V1) && h.h_blocks == 1)
}

/// Changes header fields of xattr block `block` in place (a checker
/// fixing h_refcount), leaving the entries as they are.
pub fn update_header(
    buf: &mut [u8],
    block: u64,
    edit: impl FnOnce(&mut XattrHeader),
) -> Result<()> {
    let (_, mut header) = XattrHeader::parse(buf).map_err(|_| {
        Error::corrupt(
            Structure::XattrBlock,
            block,
            CorruptKind::XattrBlockTooShort,
        )
    })?;
    edit(&mut header);
    let mut bytes = Vec::with_capacity(XattrHeader::SIZE);
    header.write(&mut bytes);
    buf[..XattrHeader::SIZE].copy_from_slice(&bytes);
    Ok(())
}

/// Builds an xattr block holding `attrs` with refcount `refcount`.
pub fn build_block(attrs: &[Xattr], block_size: usize, refcount: u32) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; block_size];
    let raw = lay_out(&mut buf, XattrHeader::SIZE, block_size, 0, attrs, true)?;
    let header = XattrHeader {
        h_magic: XATTR_MAGIC,
        h_refcount: refcount,
        h_blocks: 1,
        h_hash: block_hash(&raw),
        ..Default::default()
    };
    buf[..XattrHeader::SIZE].copy_from_slice(&header.to_bytes());
    Ok(buf)
}

/// Parses the in-inode area (the bytes after 128 + i_extra_isize). An area
/// without the magic holds no attributes.
pub fn parse_ibody(area: &[u8], ino: u32) -> Result<Vec<Xattr>> {
    if area.len() < 4 || le32(area, 0) != XATTR_MAGIC {
        return Ok(Vec::new());
    }
    let list = parse_entries(area, 4, 4, ino as u64).map_err(|e| match e {
        Error::Corrupt {
            kind,
            structure: Structure::XattrBlock,
            ..
        } => Error::corrupt(
            Structure::Inode,
            ino as u64,
            CorruptKind::InInodeXattr(Box::new(kind)),
        ),
        other => other,
    })?;
    Ok(list
        .into_iter()
        .map(|(e, v)| Xattr {
            name: join_name(e.name_index, &e.name),
            value: v,
        })
        .collect())
}

/// Builds the in-inode area of `len` bytes; an empty list gives zeroes
/// (no magic), as e2fsprogs leaves it.
pub fn build_ibody(attrs: &[Xattr], len: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    if attrs.is_empty() {
        return Ok(buf);
    }
    if len < 8 {
        return Err(Error::NoSpace {
            what: "in-inode extended attribute space",
        });
    }
    buf[..4].copy_from_slice(&XATTR_MAGIC.to_le_bytes());
    lay_out(&mut buf, 4, len, 4, attrs, true)?;
    Ok(buf)
}

/// Splits attributes between the inode body (as many as fit, in order)
/// and a block, the way mke2fs -d fills them: the body first.
pub fn split_for_inode(attrs: &[Xattr], ibody_len: usize) -> (Vec<Xattr>, Vec<Xattr>) {
    let mut body = Vec::new();
    let mut rest = Vec::new();
    for a in attrs {
        let mut trial = body.clone();
        trial.push(a.clone());
        if rest.is_empty() && build_ibody(&trial, ibody_len).is_ok() {
            body = trial;
        } else {
            rest.push(a.clone());
        }
    }
    (body, rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_checker_reads_names_and_the_table_end_without_overrunning() {
        let block = build_block(&[x("user.ab", b"v")], 1024, 1).unwrap();
        let off = XattrHeader::SIZE;
        assert!(!table_ends_at(&block, off));
        assert_eq!(entry_name_len(&block, off), Some(2));
        let h = entry_header(&block, off).unwrap();
        assert_eq!(entry_name(&block, off, &h), Some(&b"ab"[..]));
        let next = off + (ENTRY_HEADER + 2).next_multiple_of(4);
        assert!(table_ends_at(&block, next));
        // Near the end: too short for a word, a header or a name.
        assert!(table_ends_at(&block, 1022));
        assert_eq!(entry_name_len(&block, 1024), None);
        let long = EntryHeader { name_len: 200, ..h };
        assert_eq!(entry_name(&block, 900, &long), None);
    }

    fn x(name: &str, value: &[u8]) -> Xattr {
        Xattr {
            name: name.into(),
            value: value.to_vec(),
        }
    }

    #[test]
    fn entry_header_reads_fields_and_bounds() {
        let block = build_block(&[x("user.k", b"val")], 1024, 1).unwrap();
        let h = entry_header(&block, XattrHeader::SIZE).unwrap();
        assert_eq!((h.name_len, h.name_index, h.value_size), (1, 1, 3));
        assert_eq!(h.value_inum, 0);
        assert_eq!(h.value_offs as usize + 4, 1024);
        assert_eq!(h.hash, entry_hash(b"k", b"val"));
        assert!(entry_header(&block, 1024 - ENTRY_HEADER + 1).is_none());
        assert!(entry_header(&block, usize::MAX).is_none());
    }

    #[test]
    fn names_split_and_join() {
        assert_eq!(split_name("user.foo"), (1, "foo"));
        assert_eq!(split_name("trusted.overlay.opaque"), (4, "overlay.opaque"));
        assert_eq!(split_name("security.selinux"), (6, "selinux"));
        assert_eq!(split_name("system.posix_acl_access"), (2, ""));
        assert_eq!(join_name(1, b"foo"), "user.foo");
        assert_eq!(join_name(6, b"selinux"), "security.selinux");
    }

    #[test]
    fn block_round_trip_and_sorted() {
        let attrs = vec![
            x("user.zz", b"1"),
            x("trusted.a", b"hello world"),
            x("user.a", b""),
        ];
        let b = build_block(&attrs, 1024, 1).unwrap();
        let p = parse_block(&b, 7).unwrap();
        assert_eq!(p.header.h_refcount, 1);
        let names: Vec<&str> = p.attrs.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["user.a", "user.zz", "trusted.a"]);
        assert_eq!(p.header.h_hash, block_hash(&p.entries));
        let mut got = p.attrs.clone();
        got.sort();
        let mut want = attrs.clone();
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn full_block_is_no_space() {
        let big = vec![x("user.big", &[7u8; 2000])];
        assert!(matches!(
            build_block(&big, 1024, 1),
            Err(Error::NoSpace { .. })
        ));
    }

    #[test]
    fn ibody_round_trip() {
        let attrs = vec![
            x("user.k", b"v"),
            x("security.selinux", b"system_u:object_r:x:s0\0"),
        ];
        let area = build_ibody(&attrs, 256 - 128 - 32).unwrap();
        let mut got = parse_ibody(&area, 12).unwrap();
        got.sort();
        let mut want = attrs;
        want.sort();
        assert_eq!(got, want);
        assert!(parse_ibody(&[0u8; 96], 12).unwrap().is_empty());
    }

    #[test]
    fn update_header_changes_only_the_field() {
        let attrs = [Xattr {
            name: "user.a".into(),
            value: b"v".to_vec(),
        }];
        let mut b = build_block(&attrs, 1024, 1).unwrap();
        let before = parse_block(&b, 7).unwrap();
        update_header(&mut b, 7, |h| h.h_refcount = 5).unwrap();
        let after = parse_block(&b, 7).unwrap();
        assert_eq!(after.header.h_refcount, 5);
        assert_eq!((after.entries, after.attrs), (before.entries, before.attrs));
        assert!(update_header(&mut [0u8; 8], 7, |_| ()).is_err());
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1100)) {
            let _ = parse_block(&bytes, 1);
            let _ = parse_ibody(&bytes, 1);
        }

        #[test]
        fn build_parse_round_trip(
            items in proptest::collection::btree_map("[a-z]{1,20}", proptest::collection::vec(any::<u8>(), 0..60), 0..12)
        ) {
            let attrs: Vec<Xattr> = items.into_iter().map(|(k, v)| x(&format!("user.{k}"), &v)).collect();
            let b = build_block(&attrs, 4096, 1).unwrap();
            let mut got = parse_block(&b, 1).unwrap().attrs;
            got.sort();
            let mut want = attrs.clone();
            want.sort();
            prop_assert_eq!(got, want);
        }
    }
}
