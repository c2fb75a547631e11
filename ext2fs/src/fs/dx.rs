//! Hash-indexed directories on a live filesystem: finding a name through
//! the htree (only the leaves its hash can be in), adding one while
//! keeping the index (splitting a full leaf, splitting a node or deepening
//! the root as e2fsprogs' dx_link does) and removing one. Any index the
//! walk cannot trust is reported as an error so the caller scans
//! linearly instead (lookup) or drops the index (insert).

use super::Filesystem;
use crate::dirent::{self, DirEntry};
use crate::htree::{self, DxContext, DxPath};
use crate::inode::{flags, Inode};
use crate::{Error, Result};

/// A name found in a leaf.
pub(super) struct Found {
    /// The leaf's physical block.
    pub phys: u32,
    /// The leaf's entries.
    pub entries: Vec<DirEntry>,
    /// Which of them has the name.
    pub index: usize,
}

/// How an indexed insert ended.
pub(super) enum DxAdd {
    /// The name is in its leaf, the index kept.
    Added,
    /// The index cannot be used or cannot grow (damaged, or every level
    /// full): the caller drops it and inserts linearly.
    Unindexable,
}

/// Splits or deepenings one insert may need before its leaf has room: a
/// node split, a leaf split, and a deepening before both.
const MAX_GROW_ROUNDS: usize = 4;

impl Filesystem {
    /// Whether lookups and inserts of `name` may go through `inode`'s
    /// index: '.' and '..' live in the root block, outside every leaf.
    pub(super) fn dx_applies(&self, inode: &Inode, name: &[u8]) -> bool {
        inode.base.i_flags & flags::INDEX != 0
            && self.sb.has_compat(crate::features::compat::DIR_INDEX)
            && name != b"."
            && name != b".."
    }

    fn dx_context(&self, dir: u32, inode: &Inode) -> DxContext<'_> {
        let blocks = inode.size() / self.geo.block_size as u64;
        DxContext {
            dir,
            blocks: blocks.min(u32::MAX as u64) as u32,
            seed: &self.sb.s_hash_seed,
            s_flags: self.sb.s_flags,
        }
    }

    /// A directory block by logical number: its physical block and bytes
    /// (a hole is an error: an index never points at one).
    fn dir_block(&self, inode: &Inode, logical: u32) -> Result<(u32, Vec<u8>)> {
        let phys = self
            .bmap(inode, logical as u64)?
            .ok_or(Error::DirectoryBlockVanished(logical as u64))?;
        Ok((phys, self.read_block(phys as u64)?))
    }

    fn dx_path(&self, dir: u32, inode: &Inode, name: &[u8]) -> Result<DxPath> {
        let ctx = self.dx_context(dir, inode);
        let (_, root) = self.dir_block(inode, 0)?;
        DxPath::find(&ctx, &root, name, |l| Ok(self.dir_block(inode, l)?.1))
    }

    /// Searches the leaves `path` leads to (the collision run included)
    /// for `name` in use.
    fn dx_search(
        &self,
        dir: u32,
        inode: &Inode,
        path: &mut DxPath,
        name: &[u8],
    ) -> Result<Option<Found>> {
        let wh = self.whiteout_feature();
        let ctx = self.dx_context(dir, inode);
        let mut leaf = path.leaf();
        loop {
            let (phys, buf) = self.dir_block(inode, leaf)?;
            // Scan in place; parse (with its checks) on a hit, or when the
            // walk stops short of the block's end (a malformed leaf).
            let mut covered = 0;
            let mut hit = false;
            for e in dirent::iter_block(&buf) {
                covered = e.offset + e.rec_len;
                if e.in_use(wh) && e.name == name {
                    hit = true;
                    break;
                }
            }
            if hit || covered != buf.len() {
                let entries = dirent::parse_block(&buf, dir, phys as u64)?;
                if let Some(index) = entries.iter().position(|e| e.in_use(wh) && e.name == name) {
                    return Ok(Some(Found {
                        phys,
                        entries,
                        index,
                    }));
                }
            }
            match path.next_leaf(&ctx, |l| Ok(self.dir_block(inode, l)?.1))? {
                Some(next) => leaf = next,
                None => return Ok(None),
            }
        }
    }

    /// Finds `name` through the index of `dir` (see `dx_applies`).
    pub(super) fn dx_lookup(&self, dir: u32, inode: &Inode, name: &[u8]) -> Result<Option<Found>> {
        let mut path = self.dx_path(dir, inode, name)?;
        self.dx_search(dir, inode, &mut path, name)
    }

    /// Adds `new` to indexed directory `dir` in the leaf its hash belongs
    /// in, growing the tree when that leaf is full. A live entry of the
    /// name is `Exists`; a whiteout or fallthru of it is replaced in its
    /// slot (the union rule).
    pub(super) fn dx_add(&mut self, dir: u32, inode: &mut Inode, new: DirEntry) -> Result<DxAdd> {
        let wh = self.whiteout_feature();
        let Ok(mut path) = self.dx_path(dir, inode, &new.name) else {
            return Ok(DxAdd::Unindexable);
        };
        let found = match self.dx_search(dir, inode, &mut path.clone(), &new.name) {
            Ok(f) => f,
            Err(_) => return Ok(DxAdd::Unindexable),
        };
        if let Some(mut f) = found {
            if f.entries[f.index].inode != 0 {
                return Err(Error::Exists(
                    String::from_utf8_lossy(&new.name).into_owned(),
                ));
            }
            dirent::insert_at(&mut f.entries, dirent::Slot::Existing(f.index), new);
            self.write_dir_block_at(f.phys, &f.entries)?;
            return Ok(DxAdd::Added);
        }
        for _ in 0..MAX_GROW_ROUNDS {
            let leaf = path.leaf();
            let Ok((phys, buf)) = self.dir_block(inode, leaf) else {
                return Ok(DxAdd::Unindexable);
            };
            let Ok(mut entries) = dirent::parse_block(&buf, dir, phys as u64) else {
                return Ok(DxAdd::Unindexable);
            };
            if let Some(slot) = dirent::find_slot(&entries, &new.name, wh) {
                dirent::insert_at(&mut entries, slot, new);
                self.write_dir_block_at(phys, &entries)?;
                return Ok(DxAdd::Added);
            }
            if !self.dx_grow(dir, inode, &path, phys, entries)? {
                return Ok(DxAdd::Unindexable);
            }
            match self.dx_path(dir, inode, &new.name) {
                Ok(p) => path = p,
                Err(_) => return Ok(DxAdd::Unindexable),
            }
        }
        Ok(DxAdd::Unindexable)
    }

    /// Makes room under `path`'s full leaf (at `leaf_phys`, holding
    /// `entries`): splits the leaf when its index block has room, else
    /// splits the full node under a root with room, else deepens a full
    /// root. False when every level is full at the deepest ext2 allows.
    fn dx_grow(
        &mut self,
        dir: u32,
        inode: &mut Inode,
        path: &DxPath,
        leaf_phys: u32,
        entries: Vec<DirEntry>,
    ) -> Result<bool> {
        let bs = self.geo.block_size as usize;
        let wh = self.whiteout_feature();
        let last = path.frames.len() - 1;
        let mut root = path.root.clone();
        root.index = path.frames[0].index.clone();
        match (0..=last).rev().find(|&l| !path.frames[l].index.is_full()) {
            Some(l) if l == last => {
                let keep = |e: &DirEntry| e.in_use(wh);
                let Some(split) =
                    htree::split_leaf(entries, keep, path.version, &self.sb.s_hash_seed, bs)?
                else {
                    return Ok(false);
                };
                let new_leaf = self.append_dir_block(dir, inode, &split.upper)?;
                self.write_block(leaf_phys as u64, &split.lower)?;
                let frame = &path.frames[last];
                let mut index = frame.index.clone();
                index.insert_after(frame.at, split.hash, new_leaf);
                if last == 0 {
                    root.index = index;
                    self.write_dx_root(inode, &root)?;
                } else {
                    self.write_dx_node(inode, frame.logical, &index)?;
                }
            }
            Some(_) => {
                // The root has room, its child node is full: split the node.
                let frame = &path.frames[1];
                let mut lower = frame.index.clone();
                let (hash, upper) = lower.split_half();
                let new_node = self.append_dir_block(dir, inode, &htree::write_node(&upper, bs))?;
                self.write_dx_node(inode, frame.logical, &lower)?;
                root.index.insert_after(path.frames[0].at, hash, new_node);
                self.write_dx_root(inode, &root)?;
            }
            None if root.can_deepen() => {
                let node = root.entries_as_node(bs);
                let node_block =
                    self.append_dir_block(dir, inode, &htree::write_node(&node, bs))?;
                root.deepen(node_block);
                self.write_dx_root(inode, &root)?;
            }
            None => return Ok(false),
        }
        Ok(true)
    }

    /// Turns a directory of one full block into an htree in place, as the
    /// kernel's make_indexed_dir: its entries move to a new leaf (block
    /// 1), block 0 becomes the root pointing at it. False (nothing
    /// changed) when the directory has more than one block, block 0 does
    /// not start with '.' and '..' or the default hash is unknown.
    pub(super) fn dx_make_indexed(&mut self, dir: u32, inode: &mut Inode) -> Result<bool> {
        let bs = self.geo.block_size as usize;
        let wh = self.whiteout_feature();
        let version = self.sb.s_def_hash_version;
        if version > crate::superblock::HASH_TEA || inode.size() != bs as u64 {
            return Ok(false);
        }
        let (phys, buf) = self.dir_block(inode, 0)?;
        let mut entries = dirent::parse_block(&buf, dir, phys as u64)?.into_iter();
        let (Some(dot), Some(dotdot)) = (entries.next(), entries.next()) else {
            return Ok(false);
        };
        if !dot.is_dot() || !dotdot.is_dotdot() {
            return Ok(false);
        }
        let leaf = htree::pack_leaf(entries.filter(|e| e.in_use(wh)).collect(), bs)?;
        let root = htree::DxRoot {
            dot,
            dotdot,
            info: htree::DxRootInfo {
                reserved_zero: 0,
                hash_version: version,
                info_length: 8,
                indirect_levels: 0,
                unused_flags: 0,
            },
            index: htree::DxIndex {
                limit: htree::root_limit(bs),
                count: 1,
                entries: vec![htree::DxEntry { hash: 0, block: 1 }],
            },
        }
        .write(bs)?;
        // Block 1: the directory had one block.
        self.append_dir_block(dir, inode, &leaf)?;
        self.write_block(phys as u64, &root)?;
        inode.base.i_flags |= flags::INDEX;
        self.write_inode(dir, inode)?;
        Ok(true)
    }

    fn write_dx_root(&mut self, inode: &Inode, root: &htree::DxRoot) -> Result<()> {
        let bytes = root.write(self.geo.block_size as usize)?;
        let (phys, _) = self.dir_block(inode, 0)?;
        self.write_block(phys as u64, &bytes)
    }

    fn write_dx_node(&mut self, inode: &Inode, logical: u32, node: &htree::DxIndex) -> Result<()> {
        let bytes = htree::write_node(node, self.geo.block_size as usize);
        let phys = self
            .bmap(inode, logical as u64)?
            .ok_or(Error::DirectoryBlockVanished(logical as u64))?;
        self.write_block(phys as u64, &bytes)
    }

    /// Appends `bytes` as the directory's next block (size and inode
    /// written) and returns its logical number.
    pub(super) fn append_dir_block(
        &mut self,
        dir: u32,
        inode: &mut Inode,
        bytes: &[u8],
    ) -> Result<u32> {
        let bs = self.geo.block_size as u64;
        let logical = inode.size() / bs;
        let number = u32::try_from(logical).map_err(|_| Error::FileTooLarge((logical + 1) * bs))?;
        self.append_block(dir, inode, logical, bytes)?;
        inode.set_size((logical + 1) * bs);
        self.write_inode(dir, inode)?;
        Ok(number)
    }
}
