//! Hash-indexed directories (htree): the dx_root in block 0 (behind fake
//! '.' and '..' entries), dx_node blocks (behind one empty entry), and the
//! leaves, which are ordinary directory blocks. Parse, write, look up
//! (`path`), grow by one block (`split`), and build a whole indexed
//! directory from its entries.

mod path;
mod split;

pub use path::{DxContext, DxFrame, DxPath};
pub use split::{pack_leaf, split_leaf, LeafSplit};

use crate::codec::{le16, le32};
use crate::dirent::{self, DirEntry};
use crate::hash::dirhash;
use crate::{ondisk, CorruptKind, Error, Result, Structure};

ondisk! {
    /// `struct ext2_dx_root_info`, at byte 24 of block 0.
    pub struct DxRootInfo {
        /// Zero.
        reserved_zero: u32,
        /// The directory's hash (HASH_*).
        hash_version: u8,
        /// Always 8.
        info_length: u8,
        /// 0: the root points at leaves; 1: at dx_nodes (ext2 allows 2 levels).
        indirect_levels: u8,
        /// Unused, zero.
        unused_flags: u8,
    }
}

ondisk! {
    /// `struct ext2_dx_countlimit`: overlays the first dx_entry's hash.
    pub struct DxCountLimit {
        /// How many entries the index block holds.
        limit: u16,
        /// How many entries are in use (the first included).
        count: u16,
    }
}

ondisk! {
    /// `struct ext2_dx_entry`: hash (0 implied for the first) and block.
    pub struct DxEntry {
        /// Lowest hash of the names under `block` (0 for the first entry).
        hash: u32,
        /// The logical block (leaf or node) it points at.
        block: u32,
    }
}

/// Byte offset of dx_root_info in block 0 ('.' 12 bytes, '..' header 12).
pub const ROOT_INFO_OFFSET: usize = 24;
/// Byte offset of the entries in the root (after the 8-byte info).
pub const ROOT_ENTRIES_OFFSET: usize = 32;
/// Byte offset of the entries in a node (after the 8-byte fake dirent).
pub const NODE_ENTRIES_OFFSET: usize = 8;
/// ext2/ext3 htrees have at most two index levels (root + one node level).
pub const MAX_INDIRECT_LEVELS: u8 = 1;

/// The block-number bits of a dx_entry's block field (EXT4_DX_BLOCK_MASK);
/// the top four bits are not part of the block number.
pub const DX_BLOCK_MASK: u32 = 0x0fff_ffff;

/// The root info of block 0 as stored, unjudged (a checker weighs each
/// field itself); `None` when the block is too short to hold it.
pub fn raw_root_info(buf: &[u8]) -> Option<DxRootInfo> {
    let (_, info) = DxRootInfo::parse(buf.get(ROOT_INFO_OFFSET..)?).ok()?;
    Some(info)
}

/// The count/limit of the index starting at byte `at`, as stored;
/// `None` when it does not fit in the block.
pub fn raw_count_limit(buf: &[u8], at: usize) -> Option<DxCountLimit> {
    let (_, cl) = DxCountLimit::parse(buf.get(at..)?).ok()?;
    Some(cl)
}

/// Entry `i` of the index starting at byte `at`, as stored (entry 0's
/// hash bytes are the count/limit); `None` past the block.
pub fn raw_entry(buf: &[u8], at: usize, i: usize) -> Option<DxEntry> {
    let (_, e) = DxEntry::parse(buf.get(at.checked_add(i.checked_mul(DxEntry::SIZE)?)?..)?).ok()?;
    Some(e)
}

/// The index starting at byte `at` as stored, unjudged: count/limit as
/// written and the first `count` entries (entry 0's hash reported as 0),
/// those that lie inside the block; an empty index when the count/limit
/// itself does not fit.
pub fn raw_index(buf: &[u8], at: usize) -> DxIndex {
    let Some(cl) = raw_count_limit(buf, at) else {
        return DxIndex {
            limit: 0,
            count: 0,
            entries: Vec::new(),
        };
    };
    let entries = (0..usize::from(cl.count))
        .map_while(|i| raw_entry(buf, at, i))
        .enumerate()
        .map(|(i, e)| DxEntry {
            hash: if i == 0 { 0 } else { e.hash },
            block: e.block,
        })
        .collect();
    DxIndex {
        limit: cl.limit,
        count: cl.count,
        entries,
    }
}

/// Why libext2fs' ext2fs_dx_csum refuses an index block: it finds no
/// dx tail room, whatever the features (debugfs' htree_dump reports it on
/// every ext2 index, whose limit fills the block).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DxTailRefusal {
    /// Neither a root ('.' then '..' to the block's end, root info as
    /// written) nor a node (one empty entry spanning the block):
    /// EXT2_ET_DB_NOT_FOUND.
    NotIndex,
    /// count or limit beyond the block, or no 8 bytes left after `limit`
    /// entries: EXT2_ET_DIR_NO_SPACE_FOR_CSUM.
    NoSpace,
}

impl DxTailRefusal {
    /// libext2fs' message for it.
    pub fn com_err_text(self) -> &'static str {
        match self {
            DxTailRefusal::NotIndex => "Ext2 directory block not found",
            DxTailRefusal::NoSpace => "Directory block does not have space for checksum",
        }
    }
}

/// Whether libext2fs could place a dx tail (checksum) in this index block
/// (__get_dx_countlimit and ext2fs_dx_csum's room test); rec_len and
/// name_len are compared as stored, as there.
pub fn dx_tail_refusal(block: &[u8]) -> Option<DxTailRefusal> {
    let bs = block.len();
    let u16_at = |o: usize| {
        block
            .get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let rec_len_at = |o: usize| u16_at(o + 4).map(usize::from);
    // struct ext2_dir_entry's 16-bit name_len: name length and type byte.
    let count_offset = if rec_len_at(0) == Some(bs) && u16_at(6) == Some(0) {
        NODE_ENTRIES_OFFSET
    } else if rec_len_at(0) == Some(12) {
        let info = raw_root_info(block);
        let root_ok = rec_len_at(12) == Some(bs.wrapping_sub(12))
            && info.is_some_and(|i| i.reserved_zero == 0 && i.info_length == 8);
        if !root_ok {
            return Some(DxTailRefusal::NotIndex);
        }
        ROOT_ENTRIES_OFFSET
    } else {
        return Some(DxTailRefusal::NotIndex);
    };
    let Some(cl) = raw_count_limit(block, count_offset) else {
        return Some(DxTailRefusal::NoSpace);
    };
    let sane = (bs - count_offset) / DxEntry::SIZE;
    let (limit, count) = (usize::from(cl.limit), usize::from(cl.count));
    if limit > sane || count > sane || count_offset + limit * DxEntry::SIZE > bs - 8 {
        return Some(DxTailRefusal::NoSpace);
    }
    None
}

/// How many dx_entries a root block of `block_size` holds.
pub fn root_limit(block_size: usize) -> u16 {
    ((block_size - ROOT_ENTRIES_OFFSET) / DxEntry::SIZE) as u16
}

/// How many dx_entries a node block of `block_size` holds.
pub fn node_limit(block_size: usize) -> u16 {
    ((block_size - NODE_ENTRIES_OFFSET) / DxEntry::SIZE) as u16
}

/// One index block (root or node): its count/limit and entries. The first
/// entry's hash is reported as 0 (on disk those bytes hold count/limit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DxIndex {
    /// The limit field.
    pub limit: u16,
    /// The count field.
    pub count: u16,
    /// The `count` entries.
    pub entries: Vec<DxEntry>,
}

/// The parsed root block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DxRoot {
    /// The '.' entry.
    pub dot: DirEntry,
    /// The '..' entry (its rec_len covers the rest of the block).
    pub dotdot: DirEntry,
    /// The root info.
    pub info: DxRootInfo,
    /// The root's index.
    pub index: DxIndex,
}

fn parse_index(buf: &[u8], off: usize, dir: u32, what: &'static str) -> Result<DxIndex> {
    let corrupt = |kind| Error::corrupt(Structure::Htree, dir as u64, kind);
    if buf.len() < off + 8 {
        return Err(corrupt(CorruptKind::IndexTooShort(what)));
    }
    let (_, cl) = DxCountLimit::parse(&buf[off..])
        .map_err(|_| corrupt(CorruptKind::IndexShortCountLimit(what)))?;
    let max = (buf.len() - off) / DxEntry::SIZE;
    if cl.limit as usize > max || cl.count > cl.limit || cl.count == 0 {
        return Err(corrupt(CorruptKind::IndexCountLimit {
            what,
            count: cl.count,
            limit: cl.limit,
            max,
        }));
    }
    let mut entries = Vec::with_capacity(cl.count as usize);
    for i in 0..cl.count as usize {
        let at = off + i * DxEntry::SIZE;
        let hash = if i == 0 { 0 } else { le32(buf, at) };
        entries.push(DxEntry {
            hash,
            block: le32(buf, at + 4),
        });
    }
    Ok(DxIndex {
        limit: cl.limit,
        count: cl.count,
        entries,
    })
}

fn write_index(buf: &mut [u8], off: usize, idx: &DxIndex) {
    for (i, e) in idx.entries.iter().enumerate() {
        let at = off + i * DxEntry::SIZE;
        if i == 0 {
            let cl = DxCountLimit {
                limit: idx.limit,
                count: idx.count,
            };
            buf[at..at + 4].copy_from_slice(&cl.to_bytes());
        } else {
            buf[at..at + 4].copy_from_slice(&e.hash.to_le_bytes());
        }
        buf[at + 4..at + 8].copy_from_slice(&e.block.to_le_bytes());
    }
}

impl DxRoot {
    /// Parses block 0 of an indexed directory `dir`.
    pub fn parse(buf: &[u8], dir: u32) -> Result<Self> {
        let corrupt = |kind| Error::corrupt(Structure::Htree, dir as u64, kind);
        if buf.len() < ROOT_ENTRIES_OFFSET + 8 {
            return Err(corrupt(CorruptKind::HtreeRootTooShort));
        }
        let (_, (ino, rec, nl, ft, name)) =
            dirent::parse_entry(buf).map_err(|_| corrupt(CorruptKind::HtreeBadDot))?;
        if name != b"." || rec != 12 {
            return Err(corrupt(CorruptKind::HtreeDot {
                name_len: nl,
                rec_len: rec,
            }));
        }
        let dot = DirEntry {
            inode: ino,
            rec_len: 12,
            file_type: ft,
            name: name.to_vec(),
        };
        let (_, (ino2, rec2, _, ft2, name2)) =
            dirent::parse_entry(&buf[12..]).map_err(|_| corrupt(CorruptKind::HtreeBadDotDot))?;
        let rec2 = dirent::rec_len_from_disk(rec2, buf.len());
        if name2 != b".." || rec2 as usize != buf.len() - 12 {
            return Err(corrupt(CorruptKind::HtreeDotDot(rec2)));
        }
        let dotdot = DirEntry {
            inode: ino2,
            rec_len: rec2,
            file_type: ft2,
            name: name2.to_vec(),
        };
        let (_, info) = DxRootInfo::parse(&buf[ROOT_INFO_OFFSET..])
            .map_err(|_| corrupt(CorruptKind::HtreeShortRootInfo))?;
        if info.info_length != 8 {
            return Err(corrupt(CorruptKind::HtreeRootInfoLength(info.info_length)));
        }
        if info.indirect_levels > MAX_INDIRECT_LEVELS {
            return Err(corrupt(CorruptKind::HtreeLevels(info.indirect_levels)));
        }
        let index = parse_index(buf, ROOT_ENTRIES_OFFSET, dir, "root")?;
        Ok(DxRoot {
            dot,
            dotdot,
            info,
            index,
        })
    }

    /// The root block's bytes ('.' and '..' rec_lens set as the format wants).
    pub fn write(&self, block_size: usize) -> Result<Vec<u8>> {
        let mut dotdot = self.dotdot.clone();
        dotdot.rec_len = block_size as u32 - 12;
        let mut dot = self.dot.clone();
        dot.rec_len = 12;
        let mut buf = dirent::write_block(&[dot, dotdot], block_size)?;
        buf[ROOT_INFO_OFFSET..ROOT_ENTRIES_OFFSET].copy_from_slice(&self.info.to_bytes());
        buf[ROOT_ENTRIES_OFFSET..].fill(0);
        write_index(&mut buf, ROOT_ENTRIES_OFFSET, &self.index);
        Ok(buf)
    }
}

/// Parses an interior dx_node block.
pub fn parse_node(buf: &[u8], dir: u32) -> Result<DxIndex> {
    if buf.len() < 16
        || le32(buf, 0) != 0
        || dirent::rec_len_from_disk(le16(buf, 4), buf.len()) as usize != buf.len()
    {
        return Err(Error::corrupt(
            Structure::Htree,
            dir as u64,
            CorruptKind::HtreeNodeHeader,
        ));
    }
    parse_index(buf, NODE_ENTRIES_OFFSET, dir, "node")
}

/// An interior node block holding `idx` (behind an empty entry
/// covering the block).
pub fn write_node(idx: &DxIndex, block_size: usize) -> Vec<u8> {
    let mut buf = vec![0u8; block_size];
    buf[4..6]
        .copy_from_slice(&dirent::rec_len_to_disk(block_size as u32, block_size).to_le_bytes());
    write_index(&mut buf, NODE_ENTRIES_OFFSET, idx);
    buf
}

/// Looks up the leaf (logical block) for `name` through the index.
/// `read` returns the contents of a logical block of the directory, which
/// has `blocks` blocks.
pub fn lookup_leaf<R>(root_block: &[u8], ctx: &DxContext, name: &[u8], read: R) -> Result<u32>
where
    R: FnMut(u32) -> Result<Vec<u8>>,
{
    Ok(DxPath::find(ctx, root_block, name, read)?.leaf())
}

/// One name to put into an indexed directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEntry {
    /// The name.
    pub name: Vec<u8>,
    /// Its inode.
    pub inode: u32,
    /// Its file type ([`crate::dirent::ft`]).
    pub file_type: u8,
}

/// Builds every block of an indexed directory (logical block 0 first):
/// the root, the leaves with entries sorted by hash and packed like
/// e2fsck's rehash, and index nodes when one root cannot hold all leaves.
/// `version` is the dx_root hash version (the signed one; unsigned
/// directories are marked by the superblock flag), `s_flags` the
/// superblock's flags. Union entries (whiteouts, fallthrus) go in leaves
/// like any other name.
#[allow(clippy::too_many_arguments)]
pub fn build(
    dir: u32,
    parent: u32,
    filetype: bool,
    entries: &[NewEntry],
    block_size: usize,
    version: u8,
    seed: &[u32; 4],
    s_flags: u32,
) -> Result<Vec<Vec<u8>>> {
    build_with_slack(
        dir, parent, filetype, entries, block_size, version, seed, s_flags, 0,
    )
}

/// [`build`] leaving room in the leaves: a leaf is closed once fewer than
/// `slack` bytes remain after an entry (e2fsck's rehash keeps
/// indexed_dir_slack_percentage, 20 % of a block, for later inserts).
#[allow(clippy::too_many_arguments)]
pub fn build_with_slack(
    dir: u32,
    parent: u32,
    filetype: bool,
    entries: &[NewEntry],
    block_size: usize,
    version: u8,
    seed: &[u32; 4],
    s_flags: u32,
    slack: usize,
) -> Result<Vec<Vec<u8>>> {
    let eff = crate::hash::effective_version(version, s_flags);
    let mut hashed = Vec::with_capacity(entries.len());
    for e in entries {
        let (h, m) = dirhash(eff, &e.name, seed)?;
        hashed.push((h, m, e));
    }
    hashed.sort_by(|a, b| (a.0, a.1, &a.2.name).cmp(&(b.0, b.1, &b.2.name)));
    // Pack the leaves.
    let mut leaves: Vec<(u32, Vec<DirEntry>)> = Vec::new();
    let mut cur: Vec<DirEntry> = Vec::new();
    let mut used = 0usize;
    let mut first_hash = 0u32;
    let mut prev_hash = None;
    for (h, _, e) in &hashed {
        let need = dirent::rec_len_for(e.name.len());
        if used + need > block_size && !cur.is_empty() {
            leaves.push((first_hash, std::mem::take(&mut cur)));
            used = 0;
        }
        if cur.is_empty() {
            // A leaf starting inside a run of equal hashes is marked with the
            // low bit (collision continuation), as the kernel and e2fsck do.
            first_hash = if prev_hash == Some(*h) { *h | 1 } else { *h };
        }
        let t = if filetype { e.file_type } else { 0 };
        cur.push(DirEntry::new(e.inode, t, &e.name));
        used += need;
        prev_hash = Some(*h);
        if block_size - used < slack {
            leaves.push((first_hash, std::mem::take(&mut cur)));
            used = 0;
        }
    }
    if !cur.is_empty() || leaves.is_empty() {
        leaves.push((first_hash, cur));
    }
    let nleaves = leaves.len();
    let rlimit = root_limit(block_size) as usize;
    let nlimit = node_limit(block_size) as usize;
    if nleaves > rlimit * nlimit {
        return Err(Error::HtreeTooLarge {
            dir,
            leaves: nleaves,
            max: rlimit * nlimit,
        });
    }
    let mut blocks = vec![Vec::new()];
    let mut leaf_index = Vec::with_capacity(nleaves);
    for (i, (h, es)) in leaves.into_iter().enumerate() {
        let logical = 1 + i as u32;
        blocks.push(pack_leaf(es, block_size)?);
        leaf_index.push(DxEntry {
            hash: if i == 0 { 0 } else { h },
            block: logical,
        });
    }
    let t = |x| if filetype { x } else { 0 };
    let (levels, root_entries) = if nleaves <= rlimit {
        (0u8, leaf_index)
    } else {
        // Nodes after the leaves, each full but the last.
        let mut root_entries = Vec::new();
        for (n, chunk) in leaf_index.chunks(nlimit).enumerate() {
            let logical = blocks.len() as u32;
            let mut entries = chunk.to_vec();
            let node_hash = entries[0].hash;
            entries[0].hash = 0;
            let node = DxIndex {
                limit: nlimit as u16,
                count: entries.len() as u16,
                entries,
            };
            blocks.push(write_node(&node, block_size));
            root_entries.push(DxEntry {
                hash: if n == 0 { 0 } else { node_hash },
                block: logical,
            });
        }
        (1u8, root_entries)
    };
    let root = DxRoot {
        dot: DirEntry::new(dir, t(dirent::ft::DIR), b"."),
        dotdot: DirEntry::new(parent, t(dirent::ft::DIR), b".."),
        info: DxRootInfo {
            reserved_zero: 0,
            hash_version: version,
            info_length: 8,
            indirect_levels: levels,
            unused_flags: 0,
        },
        index: DxIndex {
            limit: rlimit as u16,
            count: root_entries.len() as u16,
            entries: root_entries,
        },
    };
    blocks[0] = root.write(block_size)?;
    Ok(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The unjudged readers see what parse_node sees in a valid node,
        /// and stop at the block's end on any offset.
        #[test]
        fn raw_readers_agree_with_parse_and_stay_in_the_block(
            count in 1u16..=126,
            blocks in proptest::collection::vec(any::<u32>(), 126),
            at in 0usize..1100,
            i in 0usize..200,
        ) {
            let entries: Vec<DxEntry> = (0..count as usize)
                .map(|k| DxEntry { hash: if k == 0 { 0 } else { 2 * k as u32 }, block: blocks[k] })
                .collect();
            let idx = DxIndex { limit: node_limit(1024), count, entries };
            let buf = write_node(&idx, 1024);
            let parsed = parse_node(&buf, 2).unwrap();
            let cl = raw_count_limit(&buf, NODE_ENTRIES_OFFSET).unwrap();
            prop_assert_eq!((cl.limit, cl.count), (parsed.limit, parsed.count));
            for (k, e) in parsed.entries.iter().enumerate().skip(1) {
                prop_assert_eq!(raw_entry(&buf, NODE_ENTRIES_OFFSET, k), Some(*e));
            }
            let fits = at + (i + 1) * DxEntry::SIZE <= buf.len();
            prop_assert_eq!(raw_entry(&buf, at, i).is_some(), fits);
            prop_assert_eq!(raw_count_limit(&buf, at).is_some(), at + 4 <= buf.len());
        }
    }

    #[test]
    fn an_ext2_index_has_no_room_for_a_dx_tail() {
        let seed = [0u32; 4];
        let blocks = build(2, 2, true, &names(300), 1024, 1, &seed, 0).unwrap();
        assert_eq!(dx_tail_refusal(&blocks[0]), Some(DxTailRefusal::NoSpace));
        let mut root = DxRoot::parse(&blocks[0], 2).unwrap();
        // metadata_csum's layout: one entry fewer leaves the tail's 8 bytes.
        root.index.limit -= 1;
        assert_eq!(dx_tail_refusal(&root.write(1024).unwrap()), None);
        let node = DxIndex {
            limit: node_limit(1024),
            count: 1,
            entries: vec![DxEntry { hash: 0, block: 1 }],
        };
        assert_eq!(
            dx_tail_refusal(&write_node(&node, 1024)),
            Some(DxTailRefusal::NoSpace)
        );
        let roomy = DxIndex {
            limit: node_limit(1024) - 1,
            ..node
        };
        assert_eq!(dx_tail_refusal(&write_node(&roomy, 1024)), None);
        assert_eq!(dx_tail_refusal(&[0u8; 1024]), Some(DxTailRefusal::NotIndex));
        assert_eq!(dx_tail_refusal(&blocks[1]), Some(DxTailRefusal::NotIndex));
    }

    fn names(n: usize) -> Vec<NewEntry> {
        (0..n)
            .map(|i| NewEntry {
                name: format!("file-{i:06}-with-some-length").into_bytes(),
                inode: 100 + i as u32,
                file_type: 1,
            })
            .collect()
    }

    fn check_all_found(blocks: &[Vec<u8>], entries: &[NewEntry], seed: &[u32; 4]) {
        for e in entries {
            let ctx = DxContext {
                dir: 2,
                blocks: blocks.len() as u32,
                seed,
                s_flags: 0,
            };
            let leaf = lookup_leaf(
                &blocks[0],
                &ctx,
                &e.name,
                |b| Ok(blocks[b as usize].clone()),
            )
            .unwrap();
            let es = dirent::parse_block(&blocks[leaf as usize], 2, leaf as u64).unwrap();
            assert!(
                es.iter().any(|x| x.name == e.name && x.inode == e.inode),
                "{:?}",
                e.name
            );
        }
    }

    #[test]
    fn one_and_two_levels() {
        let seed = [1, 2, 3, 4];
        for (n, levels) in [(10, 0), (2000, 0), (40_000, 1)] {
            let es = names(n);
            let blocks = build(2, 2, true, &es, 1024, 1, &seed, 0).unwrap();
            let root = DxRoot::parse(&blocks[0], 2).unwrap();
            assert_eq!(root.info.indirect_levels, levels, "{n} names");
            assert_eq!(root.write(1024).unwrap(), blocks[0]);
            check_all_found(&blocks, &es, &seed);
            // Index hashes increase.
            let hs: Vec<u32> = root.index.entries.iter().map(|e| e.hash).collect();
            assert!(hs.windows(2).all(|w| w[0] < w[1]));
        }
    }

    #[test]
    fn slack_leaves_room_in_every_leaf_but_the_last() {
        let seed = [1, 2, 3, 4];
        let es = names(2000);
        let full = build(2, 2, true, &es, 1024, 1, &seed, 0).unwrap();
        let roomy = build_with_slack(2, 2, true, &es, 1024, 1, &seed, 0, 204).unwrap();
        assert!(roomy.len() > full.len());
        check_all_found(&roomy, &es, &seed);
        let leaves = &roomy[1..roomy.len() - 1];
        for (i, b) in leaves.iter().enumerate() {
            let names: usize = dirent::parse_block(b, 2, i as u64 + 1)
                .unwrap()
                .iter()
                .map(|e| dirent::rec_len_for(e.name.len()))
                .sum();
            // Closed as soon as fewer than 204 bytes were left.
            assert!(1024 - names < 204, "leaf {i}: {names} bytes of names");
            assert!(1024 - names + dirent::rec_len_for(30) >= 204);
        }
    }

    #[test]
    fn node_round_trip_and_damage() {
        let idx = DxIndex {
            limit: node_limit(1024),
            count: 2,
            entries: vec![
                DxEntry { hash: 0, block: 1 },
                DxEntry {
                    hash: 0x100,
                    block: 2,
                },
            ],
        };
        let b = write_node(&idx, 1024);
        assert_eq!(parse_node(&b, 5).unwrap(), idx);
        let mut bad = b.clone();
        bad[10] = 0xff; // count > limit
        bad[11] = 0xff;
        assert!(parse_node(&bad, 5).is_err());
    }

    proptest! {
        #[test]
        fn random_blocks_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = DxRoot::parse(&bytes, 2);
            let _ = parse_node(&bytes, 2);
        }

        #[test]
        fn root_round_trip(hashes in proptest::collection::btree_set(1u32..u32::MAX, 0..50), version in 0u8..3) {
            let mut entries = vec![DxEntry { hash: 0, block: 1 }];
            entries.extend(hashes.iter().enumerate().map(|(i, &h)| DxEntry { hash: h, block: i as u32 + 2 }));
            let root = DxRoot {
                dot: DirEntry::new(12, 2, b"."),
                dotdot: DirEntry { rec_len: 4096 - 12, ..DirEntry::new(2, 2, b"..") },
                info: DxRootInfo { reserved_zero: 0, hash_version: version, info_length: 8, indirect_levels: 0, unused_flags: 0 },
                index: DxIndex { limit: root_limit(4096), count: entries.len() as u16, entries },
            };
            let bytes = root.write(4096).unwrap();
            prop_assert_eq!(DxRoot::parse(&bytes, 12).unwrap(), root);
        }
    }
}
