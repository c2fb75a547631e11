//! Following an htree index from the root to the leaf that can hold a
//! name (e2fsprogs' dx_lookup, the kernel's dx_probe), checking every
//! index block on the way so a damaged index is an error (the caller
//! falls back to a linear scan), never a wrong block, a panic or a loop;
//! and stepping on to the next leaf while a run of equal hashes continues
//! there (the collision bit, ext4_htree_next_block).

use super::{node_limit, parse_node, root_limit, DxIndex, DxRoot};
use crate::hash::{dirhash, effective_version};
use crate::superblock::HASH_TEA;
use crate::{CorruptKind, Error, Result};

/// What a walk needs to know about the directory besides its blocks.
#[derive(Clone, Copy, Debug)]
pub struct DxContext<'a> {
    /// The directory's inode number (for errors).
    pub dir: u32,
    /// How many blocks the directory has (i_size / block size): every
    /// index pointer must be below this.
    pub blocks: u32,
    /// The superblock's s_hash_seed.
    pub seed: &'a [u32; 4],
    /// The superblock's s_flags (signed or unsigned hashes).
    pub s_flags: u32,
}

impl DxContext<'_> {
    fn corrupt(&self, kind: CorruptKind) -> Error {
        Error::corrupt(crate::Structure::Htree, self.dir as u64, kind)
    }

    /// Refuses an index that cannot be followed or safely updated: a limit
    /// other than what the block holds, a pointer to block 0 or past the
    /// end, hashes going down.
    fn check_index(&self, idx: &DxIndex, what: &'static str, limit: u16) -> Result<()> {
        if idx.limit != limit {
            return Err(self.corrupt(CorruptKind::HtreeLimit {
                what,
                limit: idx.limit,
                expected: limit,
            }));
        }
        for (i, e) in idx.entries.iter().enumerate() {
            if e.block == 0 || e.block >= self.blocks {
                return Err(self.corrupt(CorruptKind::HtreeBlockRange {
                    block: e.block,
                    blocks: self.blocks,
                }));
            }
            if i > 0 && e.hash < idx.entries[i - 1].hash {
                return Err(self.corrupt(CorruptKind::HtreeHashOrder(e.block)));
            }
        }
        Ok(())
    }
}

/// One index block on the way down: where it is and which entry was followed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DxFrame {
    /// The directory block holding this index (0: the root).
    pub logical: u32,
    /// Its entries.
    pub index: DxIndex,
    /// The entry followed (the last whose hash is at most the name's).
    pub at: usize,
}

/// The way from the root to the leaf for one name's hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DxPath {
    /// The parsed root block.
    pub root: DxRoot,
    /// The hash version in effect (the root's, made unsigned by s_flags).
    pub version: u8,
    /// The name's major hash.
    pub hash: u32,
    /// The root first, then one frame per index level.
    pub frames: Vec<DxFrame>,
}

/// Position in `idx` of the last entry whose hash is at most `hash`
/// (entry 0 stands for every hash below entry 1's).
fn position(idx: &DxIndex, hash: u32) -> usize {
    idx.entries[1..].partition_point(|e| e.hash <= hash)
}

impl DxPath {
    /// Walks from the root block (`root_block`, logical block 0) to the
    /// leaf for `name`. `read` returns a logical block of the directory.
    pub fn find<R>(ctx: &DxContext, root_block: &[u8], name: &[u8], mut read: R) -> Result<Self>
    where
        R: FnMut(u32) -> Result<Vec<u8>>,
    {
        let root = DxRoot::parse(root_block, ctx.dir)?;
        if root.info.hash_version > HASH_TEA {
            return Err(ctx.corrupt(CorruptKind::HtreeHashVersion(root.info.hash_version)));
        }
        let block_size = root_block.len();
        ctx.check_index(&root.index, "root", root_limit(block_size))?;
        let version = effective_version(root.info.hash_version, ctx.s_flags);
        let (hash, _) = dirhash(version, name, ctx.seed)?;
        let at = position(&root.index, hash);
        let mut frames = vec![DxFrame {
            logical: 0,
            index: root.index.clone(),
            at,
        }];
        for _ in 0..root.info.indirect_levels {
            let logical = frames[frames.len() - 1].child();
            let frame = Self::read_node(ctx, logical, hash, &mut read)?;
            frames.push(frame);
        }
        Ok(DxPath {
            root,
            version,
            hash,
            frames,
        })
    }

    fn read_node<R>(ctx: &DxContext, logical: u32, hash: u32, read: &mut R) -> Result<DxFrame>
    where
        R: FnMut(u32) -> Result<Vec<u8>>,
    {
        let buf = read(logical)?;
        let index = parse_node(&buf, ctx.dir)?;
        ctx.check_index(&index, "node", node_limit(buf.len()))?;
        let at = position(&index, hash);
        Ok(DxFrame { logical, index, at })
    }

    /// The leaf (logical block) the name belongs in.
    pub fn leaf(&self) -> u32 {
        self.frames[self.frames.len() - 1].child()
    }

    /// Steps to the next leaf when it may hold more names of this hash:
    /// its index hash, collision bit aside, equals the name's. Returns the
    /// new leaf, or None when the run of this hash ends here.
    pub fn next_leaf<R>(&mut self, ctx: &DxContext, mut read: R) -> Result<Option<u32>>
    where
        R: FnMut(u32) -> Result<Vec<u8>>,
    {
        // The deepest level that has an entry after the one followed.
        let Some(level) = (0..self.frames.len())
            .rev()
            .find(|&l| self.frames[l].at + 1 < self.frames[l].index.entries.len())
        else {
            return Ok(None);
        };
        let next = &self.frames[level].index.entries[self.frames[level].at + 1];
        if next.hash & !1 != self.hash {
            return Ok(None);
        }
        self.frames[level].at += 1;
        for l in level + 1..self.frames.len() {
            let logical = self.frames[l - 1].child();
            let mut frame = Self::read_node(ctx, logical, self.hash, &mut read)?;
            frame.at = 0;
            self.frames[l] = frame;
        }
        Ok(Some(self.leaf()))
    }
}

impl DxFrame {
    /// The block the followed entry points at.
    pub fn child(&self) -> u32 {
        self.index.entries[self.at].block
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dirent::DirEntry;
    use crate::htree::{DxEntry, DxRootInfo};
    use proptest::prelude::*;

    const BS: usize = 1024;
    const SEED: [u32; 4] = [7, 8, 9, 10];

    fn root_with(entries: Vec<DxEntry>, levels: u8) -> Vec<u8> {
        DxRoot {
            dot: DirEntry::new(12, 2, b"."),
            dotdot: DirEntry::new(2, 2, b".."),
            info: DxRootInfo {
                reserved_zero: 0,
                hash_version: 1,
                info_length: 8,
                indirect_levels: levels,
                unused_flags: 0,
            },
            index: DxIndex {
                limit: root_limit(BS),
                count: entries.len() as u16,
                entries,
            },
        }
        .write(BS)
        .unwrap()
    }

    fn ctx(blocks: u32) -> DxContext<'static> {
        DxContext {
            dir: 12,
            blocks,
            seed: &SEED,
            s_flags: 0,
        }
    }

    fn no_read(_: u32) -> Result<Vec<u8>> {
        panic!("no index node to read")
    }

    #[test]
    fn collision_bit_continues_to_the_next_leaf() {
        let name = b"some-name";
        let (h, _) = dirhash(1, name, &SEED).unwrap();
        let e = |hash, block| DxEntry { hash, block };
        // Leaf 2 continues hash h: a lookup starts in leaf 1, then goes on.
        let root = root_with(vec![e(0, 1), e(h | 1, 2), e(h + 2, 3)], 0);
        let mut path = DxPath::find(&ctx(4), &root, name, no_read).unwrap();
        assert_eq!(path.leaf(), 1);
        assert_eq!(path.next_leaf(&ctx(4), no_read).unwrap(), Some(2));
        assert_eq!(path.next_leaf(&ctx(4), no_read).unwrap(), None);
        // Leaf 2 starts at h itself: the name is only there.
        let root = root_with(vec![e(0, 1), e(h, 2), e(h + 2, 3)], 0);
        let mut path = DxPath::find(&ctx(4), &root, name, no_read).unwrap();
        assert_eq!(path.leaf(), 2);
        assert_eq!(path.next_leaf(&ctx(4), no_read).unwrap(), None);
    }

    #[test]
    fn continuation_crosses_index_nodes() {
        let name = b"another";
        let (h, _) = dirhash(1, name, &SEED).unwrap();
        let e = |hash, block| DxEntry { hash, block };
        let node = |entries: Vec<DxEntry>| {
            let idx = DxIndex {
                limit: node_limit(BS),
                count: entries.len() as u16,
                entries,
            };
            super::super::write_node(&idx, BS)
        };
        let root = root_with(vec![e(0, 1), e(h | 1, 2)], 1);
        let blocks = [
            Vec::new(),
            node(vec![e(0, 3), e(h - 2, 4)]),
            node(vec![e(0, 5), e(h + 8, 6)]),
        ];
        let read = |l: u32| Ok(blocks[l as usize].clone());
        let c = ctx(7);
        let mut path = DxPath::find(&c, &root, name, read).unwrap();
        assert_eq!(path.leaf(), 4);
        assert_eq!(path.next_leaf(&c, read).unwrap(), Some(5));
        assert_eq!(path.next_leaf(&c, read).unwrap(), None);
    }

    #[test]
    fn damaged_indexes_are_errors() {
        let e = |hash, block| DxEntry { hash, block };
        let good = root_with(vec![e(0, 1), e(0x100, 2)], 0);
        assert!(DxPath::find(&ctx(3), &good, b"x", no_read).is_ok());
        // A pointer past the end, or at block 0.
        assert!(DxPath::find(&ctx(2), &good, b"x", no_read).is_err());
        let zero = root_with(vec![e(0, 0), e(0x100, 2)], 0);
        assert!(DxPath::find(&ctx(3), &zero, b"x", no_read).is_err());
        // Hashes going down.
        let unordered = root_with(vec![e(0, 1), e(0x200, 2), e(0x100, 3)], 0);
        assert!(DxPath::find(&ctx(4), &unordered, b"x", no_read).is_err());
        // A limit other than the block's.
        let mut bad_limit = good.clone();
        bad_limit[32] = 3;
        bad_limit[33] = 0;
        assert!(DxPath::find(&ctx(3), &bad_limit, b"x", no_read).is_err());
        // An unknown hash version.
        let mut bad_version = good.clone();
        bad_version[28] = 4;
        assert!(DxPath::find(&ctx(3), &bad_version, b"x", no_read).is_err());
        // A level whose node is a leaf, not an index node.
        let deep = root_with(vec![e(0, 1)], 1);
        let leaf = crate::dirent::write_block(
            &[DirEntry {
                rec_len: BS as u32,
                ..DirEntry::new(20, 1, b"file")
            }],
            BS,
        )
        .unwrap();
        assert!(DxPath::find(&ctx(2), &deep, b"x", |_| Ok(leaf.clone())).is_err());
    }

    proptest! {
        #[test]
        fn random_indexes_never_panic(
            root in proptest::collection::vec(any::<u8>(), BS..=BS),
            node in proptest::collection::vec(any::<u8>(), BS..=BS),
            blocks in 0u32..200,
            name in proptest::collection::vec(1u8..255, 1..40),
        ) {
            let mut root = root;
            // Mostly a valid header so the index itself gets exercised.
            root[..32].copy_from_slice(&root_with(vec![DxEntry { hash: 0, block: 1 }], 0)[..32]);
            root[30] %= 3;
            let c = ctx(blocks);
            if let Ok(mut path) = DxPath::find(&c, &root, &name, |_| Ok(node.clone())) {
                prop_assert!(path.leaf() > 0 && path.leaf() < blocks);
                let mut steps = 0;
                while let Ok(Some(l)) = path.next_leaf(&c, |_| Ok(node.clone())) {
                    prop_assert!(l > 0 && l < blocks);
                    steps += 1;
                    prop_assert!(steps < 1000);
                }
            }
        }
    }
}
