//! Pass 2's htree verification, as e2fsck 1.47 makes it while it checks
//! each directory block: every block of an indexed directory is classed
//! (root, interior node, leaf) before its entries; after them, interior
//! nodes are parsed (limit, count, block numbers, hash order: each a
//! question whose yes clears the index); leaves record the range of their
//! names' hashes; then every block is compared with what its parent says
//! of it (min/max hash, depth, referenced once) and one question clears
//! an index found wrong. Cleared indexes are rebuilt in pass 3A.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use ext2fs::dirent::{self, ft};
use ext2fs::hash;
use ext2fs::htree::{self, DX_BLOCK_MASK};
use ext2fs::inode::flags;

use crate::checker::{Checker, DirBlock};
use crate::problem::{Code, Ctx};

/// e2fsck's DX_FLAG_* bits of a block.
const REFERENCED: u8 = 1;
const DUP_REF: u8 = 2;
const FIRST: u8 = 4;
const LAST: u8 = 8;

/// Depth walks stop here, as e2fsck's htree_depth (a parent loop).
const MAX_DEPTH: u32 = 32000;

#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Kind {
    /// Not read (a hole, or past a cleared index).
    #[default]
    Unseen,
    Root,
    Leaf,
    Node,
}

/// e2fsck's dx_dirblock_info.
#[derive(Clone, Copy, Default)]
struct DxBlock {
    kind: Kind,
    flags: u8,
    parent: u32,
    previous: u32,
    min_hash: u32,
    max_hash: u32,
    node_min_hash: u32,
    node_max_hash: u32,
}

/// One directory's index under check.
struct DxDir {
    ino: u32,
    blocks: Vec<DxBlock>,
    depth: u32,
    version: u8,
}

/// Whether the index was cleared (no further checks of it).
type Cleared = bool;

/// The indexes under check during pass 2's walk over directory blocks.
#[derive(Default)]
pub struct HtreeWalk {
    dirs: BTreeMap<u32, DxDir>,
    cleared: BTreeSet<u32>,
}

impl Checker {
    /// Starts pass 2's htree verification for the indexed directories
    /// whose blocks `walk` lists: each block is then classed as its turn
    /// comes in check_dir_block (the root's own check before its entries,
    /// as e2fsck; an interior node parsed after them), and each index's
    /// links are checked once the walk is over.
    pub fn htree_walk_begin(&mut self, walk: &[DirBlock]) {
        let mut w = HtreeWalk::default();
        for db in walk.iter().filter(|d| d.pblk != 0) {
            let dx = w.dirs.entry(db.ino).or_insert_with(|| DxDir {
                ino: db.ino,
                blocks: Vec::new(),
                depth: 0,
                version: 0,
            });
            if dx.blocks.len() <= db.lblk as usize {
                dx.blocks.resize(db.lblk as usize + 1, DxBlock::default());
            }
        }
        // Indexed inodes of another type: no block of theirs is walked.
        for (&ino, &n) in &self.dx_others {
            w.dirs.insert(
                ino,
                DxDir {
                    ino,
                    blocks: vec![DxBlock::default(); n as usize],
                    depth: 0,
                    version: 0,
                },
            );
        }
        self.htree_walk = w;
    }

    /// The index directory `ino` has in this walk, if it is still checked.
    fn walked_index(&mut self, ino: u32) -> Option<DxDir> {
        if self.htree_walk.cleared.contains(&ino) || !self.is_dir(ino) {
            return None;
        }
        self.htree_walk.dirs.remove(&ino)
    }

    /// check_dir_block's start for a block of an indexed directory, with
    /// the block as read: its kind, and for the root the check of its
    /// info header (a yes clears the index).
    pub fn htree_block_start(&mut self, db: &DirBlock, buf: &[u8]) -> Result<()> {
        let Some(mut dx) = self.walked_index(db.ino) else {
            return Ok(());
        };
        let cleared = self.classify_dx_block(&mut dx, db.lblk, buf)?;
        self.htree_walk.dirs.insert(db.ino, dx);
        if cleared {
            self.htree_walk.cleared.insert(db.ino);
        }
        Ok(())
    }

    /// check_dir_block's end for a block of an indexed directory, with
    /// the entries as pass 2 left them: an index block is parsed, a leaf
    /// records the range of its names' hashes.
    pub fn htree_block_end(&mut self, db: &DirBlock, buf: &[u8]) -> Result<()> {
        let Some(mut dx) = self.walked_index(db.ino) else {
            return Ok(());
        };
        let cleared = self.finish_dx_block(&mut dx, db.lblk, buf)?;
        self.htree_walk.dirs.insert(db.ino, dx);
        if cleared {
            self.htree_walk.cleared.insert(db.ino);
        }
        Ok(())
    }

    /// After the walk: each index still standing against its blocks.
    pub fn htree_walk_finish(&mut self) -> Result<()> {
        let mut w = std::mem::take(&mut self.htree_walk);
        for (ino, dx) in &mut w.dirs {
            if !w.cleared.contains(ino) && (self.is_dir(*ino) || self.dx_others.contains_key(ino)) {
                self.check_dx_links(dx)?;
            }
        }
        Ok(())
    }

    /// check_dir_block's classing of an indexed directory's block before
    /// its entries. True when the index was cleared.
    fn classify_dx_block(&mut self, dx: &mut DxDir, lblk: u32, buf: &[u8]) -> Result<Cleared> {
        let bs = buf.len();
        if lblk as usize >= dx.blocks.len() {
            // Past the blocks pass 1 counted (a block it cleared, now
            // allocated again): the index cannot be trusted, and e2fsck
            // cannot go on with it kept.
            let c = Ctx {
                path: self.dir_path(dx.ino),
                ..Default::default()
            };
            if self.clear_index_on(dx.ino, Code::UnexpectedHtreeBlock, &c)? {
                return Ok(true);
            }
            return Err(self.ask.fatal_error("Can not continue."));
        }
        let Some(b) = dx.blocks.get_mut(lblk as usize) else {
            return Ok(false);
        };
        b.kind = Kind::Leaf;
        b.min_hash = u32::MAX;
        b.max_hash = 0;
        if lblk == 0 {
            b.kind = Kind::Root;
            b.flags |= FIRST | LAST;
            let info = htree::raw_root_info(buf);
            let (reserved, version, info_len, levels) = info.map_or((1, 0, 0, 0), |i| {
                (
                    i.reserved_zero,
                    i.hash_version,
                    i.info_length,
                    i.indirect_levels,
                )
            });
            // e2fsck names the directory of the last index block it
            // parsed before this one (0 before any), not this one.
            let shown = Ctx {
                dir: self.dx_root_shown.get(&dx.ino).copied().unwrap_or(0),
                ..Default::default()
            };
            if (reserved != 0 || info_len < 8 || levels >= 2)
                && self.problem(Code::HtreeRootInvalid, &shown)?
            {
                self.clear_index(dx.ino)?;
                return Ok(true);
            }
            dx.version = hash::effective_version(version, self.fs.sb().s_flags);
            dx.depth = levels as u32 + 1;
            return Ok(false);
        }
        let first = dirent::iter_block(buf).next();
        if first.is_some_and(|d| d.inode == 0 && d.rec_len == bs && d.name.is_empty())
            && htree::raw_count_limit(buf, htree::NODE_ENTRIES_OFFSET)
                .is_some_and(|cl| cl.limit == htree::node_limit(bs))
        {
            b.kind = Kind::Node;
        }
        Ok(false)
    }

    /// The rest of check_dir_block's work on an indexed directory's block,
    /// after its entries. True when the index was cleared.
    fn finish_dx_block(&mut self, dx: &mut DxDir, lblk: u32, buf: &[u8]) -> Result<Cleared> {
        let Some(kind) = dx.blocks.get(lblk as usize).map(|b| b.kind) else {
            return Ok(false);
        };
        match kind {
            Kind::Root => {
                let info_len = htree::raw_root_info(buf).map_or(0, |i| i.info_length);
                self.parse_int_node(dx, lblk, buf, htree::ROOT_INFO_OFFSET + info_len as usize)
            }
            Kind::Node => self.parse_int_node(dx, lblk, buf, htree::NODE_ENTRIES_OFFSET),
            Kind::Leaf => {
                self.leaf_hash_range(dx, lblk, buf);
                Ok(false)
            }
            Kind::Unseen => Ok(false),
        }
    }

    /// A leaf's range of its names' hashes.
    fn leaf_hash_range(&self, dx: &mut DxDir, lblk: u32, buf: &[u8]) {
        let seed = self.fs.sb().s_hash_seed;
        let first_ino = self.fs.sb().first_ino();
        for de in dirent::iter_block(buf) {
            let union_entry = matches!(de.file_type, ft::WHT | ft::FALLTHRU);
            if de.inode == 0 && !union_entry {
                continue;
            }
            // check_dir_block hashes every entry it keeps but one naming a
            // bad inode number (PR_2_BAD_INO declined goes to the next);
            // a zero-length name kept is hashed too.
            let bad_ino =
                (de.inode != 0 && de.inode != ext2fs::inode::ROOT_INO && de.inode < first_ino)
                    || de.inode > self.inodes_count
                    || (de.inode != 0 && self.named_by_superblock(de.inode));
            if bad_ino {
                continue;
            }
            // A hash version pass 1 was let keep hashes everything to 0,
            // as libext2fs' dirhash does.
            let h = hash::dirhash(dx.version, de.name, &seed).map_or(0, |(h, _)| h);
            let b = &mut dx.blocks[lblk as usize];
            b.min_hash = b.min_hash.min(h);
            b.max_hash = b.max_hash.max(h);
        }
    }

    /// e2fsck's parse_int_node: the entries of a root or interior node
    /// starting at byte `at`.
    fn parse_int_node(
        &mut self,
        dx: &mut DxDir,
        lblk: u32,
        buf: &[u8],
        at: usize,
    ) -> Result<Cleared> {
        let bs = buf.len();
        let Some(cl) = htree::raw_count_limit(buf, at).filter(|_| at + 8 <= bs) else {
            return self.clear_index_on(dx.ino, Code::HtreeBadLimit, &Ctx::default());
        };
        let node = Ctx {
            num2: lblk as u64,
            ..Default::default()
        };
        let (limit, mut count) = (cl.limit as usize, cl.count as usize);
        let expect = (bs - at) / 8;
        if limit != expect {
            let c = Ctx {
                num: limit as u64,
                ..node.clone()
            };
            if self.clear_index_on(dx.ino, Code::HtreeBadLimit, &c)? {
                return Ok(true);
            }
        }
        if count > expect {
            let c = Ctx {
                num: count as u64,
                ..node.clone()
            };
            if self.clear_index_on(dx.ino, Code::HtreeBadCount, &c)? {
                return Ok(true);
            }
            count = expect;
        }
        // count <= (bs - at) / 8, so every entry asked for is in the block.
        let entry = |i: usize| htree::raw_entry(buf, at, i).map_or((0, 0), |e| (e.hash, e.block));
        let (mut min, mut max, mut hash) = (u32::MAX, 0u32, 0u32);
        for i in 0..count {
            let prev = hash;
            hash = if i > 0 { entry(i).0 & !1 } else { 0 };
            let blk = entry(i).1 & DX_BLOCK_MASK;
            if blk as usize >= dx.blocks.len() {
                let c = Ctx {
                    blk: blk as u64,
                    path: self.dir_path(dx.ino),
                    ..node.clone()
                };
                if self.clear_index_on(dx.ino, Code::HtreeBadBlk, &c)? {
                    return Ok(true);
                }
                continue;
            }
            if hash < prev && self.clear_index_on(dx.ino, Code::HtreeHashOrder, &node)? {
                return Ok(true);
            }
            let d = &mut dx.blocks[blk as usize];
            if d.flags & REFERENCED != 0 {
                d.flags |= DUP_REF;
            } else {
                d.flags |= REFERENCED;
                d.parent = lblk;
            }
            d.previous = if i > 0 {
                entry(i - 1).1 & DX_BLOCK_MASK
            } else {
                0
            };
            min = min.min(hash);
            max = max.max(hash);
            d.node_min_hash = hash;
            if i + 1 < count {
                d.node_max_hash = entry(i + 1).0 & !1;
            } else {
                d.node_max_hash = 0xffff_fffe;
                d.flags |= LAST;
            }
            if i == 0 {
                d.flags |= FIRST;
            }
        }
        let b = &mut dx.blocks[lblk as usize];
        b.min_hash = min;
        b.max_hash = max;
        Ok(false)
    }

    /// The end of e2fsck's pass 2 for one index: each block against its
    /// parent's view of it, then one question for the whole index.
    fn check_dx_links(&mut self, dx: &mut DxDir) -> Result<()> {
        let root = &mut dx.blocks[0];
        root.flags |= if root.flags & REFERENCED != 0 {
            DUP_REF
        } else {
            REFERENCED
        };
        update_parents(&mut dx.blocks, Kind::Leaf);
        update_parents(&mut dx.blocks, Kind::Node);
        let mut bad = false;
        for (b, d) in dx.blocks.iter().enumerate() {
            let c = Ctx {
                dir: dx.ino,
                num2: b as u64,
                ..Default::default()
            };
            if d.flags & FIRST == 0 && d.min_hash < d.node_min_hash {
                self.problem(Code::HtreeMinHash, &c)?;
                bad = true;
            }
            if d.kind == Kind::Leaf {
                let depth = depth_of(&dx.blocks, b);
                if depth != dx.depth {
                    let c = Ctx {
                        num: dx.depth as u64,
                        ..c.clone()
                    };
                    self.problem(Code::HtreeBadDepth, &c)?;
                    bad = true;
                }
            }
            if b > 0 && d.max_hash > d.node_max_hash {
                self.problem(Code::HtreeMaxHash, &c)?;
                bad = true;
            }
            if d.flags & REFERENCED == 0 {
                self.problem(Code::HtreeNotRef, &c)?;
                bad = true;
            } else if d.flags & DUP_REF != 0 {
                self.problem(Code::HtreeDupRef, &c)?;
                bad = true;
            }
        }
        if bad {
            self.ask_clear_index(dx.ino)?;
        }
        Ok(())
    }

    /// PR_2_HTREE_CLEAR for the whole index of `dir`.
    fn ask_clear_index(&mut self, dir: u32) -> Result<()> {
        let c = Ctx {
            ino: dir,
            str1: self.dir_path(dir),
            ..Default::default()
        };
        if self.problem(Code::HtreeClear, &c)? {
            self.clear_index(dir)?;
        }
        Ok(())
    }

    /// Asks `code` about directory `dir`'s index; yes clears it.
    fn clear_index_on(&mut self, dir: u32, code: Code, c: &Ctx) -> Result<Cleared> {
        let c = Ctx { dir, ..c.clone() };
        if !self.problem(code, &c)? {
            return Ok(false);
        }
        self.clear_index(dir)?;
        Ok(true)
    }

    /// e2fsck's clear_htree: the index flag goes, pass 3A rebuilds.
    pub fn clear_index(&mut self, dir: u32) -> Result<()> {
        let mut inode = self.fs.read_inode(dir)?;
        inode.base.i_flags &= !flags::INDEX;
        self.write_inode(dir, &inode)?;
        self.rehash.insert(dir);
        Ok(())
    }
}

/// e2fsck's update_parents: first and last children give their parent
/// its hash range (and its previous sibling its upper bound).
fn update_parents(blocks: &mut [DxBlock], kind: Kind) {
    for b in 0..blocks.len() {
        let d = blocks[b];
        if d.kind != kind {
            continue;
        }
        let p = d.parent as usize;
        if d.flags & FIRST != 0 {
            blocks[p].min_hash = d.min_hash;
            let prev = blocks[p].previous as usize;
            if prev != 0 {
                blocks[prev].node_max_hash = blocks[p].min_hash;
            }
        }
        if d.flags & LAST != 0 {
            blocks[p].max_hash = d.max_hash;
        }
    }
}

/// e2fsck's htree_depth: parent links up to the root.
fn depth_of(blocks: &[DxBlock], mut b: usize) -> u32 {
    let mut depth = 0;
    while blocks[b].kind != Kind::Root && depth < MAX_DEPTH {
        b = blocks[b].parent as usize;
        depth += 1;
    }
    depth
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_follows_parents_and_stops_on_loops() {
        let mut blocks = vec![DxBlock::default(); 3];
        blocks[0].kind = Kind::Root;
        blocks[1].parent = 0;
        blocks[2].parent = 1;
        assert_eq!(depth_of(&blocks, 2), 2);
        blocks[1].parent = 2;
        assert_eq!(depth_of(&blocks, 2), MAX_DEPTH);
    }
}
