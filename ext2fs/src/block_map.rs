//! The ext2 block map: i_block[0..12] direct, [12] single, [13] double,
//! [14] triple indirect. A zero pointer is a hole (or, for an indirect
//! slot, a hole of the whole range it would cover).

use crate::inode::{DIND_BLOCK, IND_BLOCK, NDIR_BLOCKS, N_BLOCKS, TIND_BLOCK};
use crate::{Error, Result};

/// What a block of the map is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    /// A data block at this logical block number.
    Data(u64),
    /// An indirect block.
    Indirect {
        /// 1 = single, 2 = double, 3 = triple indirect.
        level: u8,
        /// The first logical block it covers.
        first: u64,
    },
}

/// Largest logical block + 1 reachable through the map.
pub fn max_logical_blocks(block_size: u32) -> u64 {
    let p = (block_size / 4) as u64;
    NDIR_BLOCKS as u64 + p + p * p + p * p * p
}

/// The block numbers stored in an indirect block, in order (zeros are
/// holes).
pub fn pointers(block: &[u8]) -> impl Iterator<Item = u32> + '_ {
    block
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

/// Stores `value` as pointer `k` of an indirect block (`k` past the block
/// changes nothing).
pub fn set_pointer(block: &mut [u8], k: usize, value: u32) {
    if let Some(slot) = block.chunks_exact_mut(4).nth(k) {
        slot.copy_from_slice(&value.to_le_bytes());
    }
}

impl BlockKind {
    /// The logical block of a data block; for an indirect block, the first
    /// logical block below it.
    pub fn lblk(self) -> u64 {
        match self {
            BlockKind::Data(l) => l,
            BlockKind::Indirect { first, .. } => first,
        }
    }
}

/// One pointer of the map as `iterate` shows it to its visitor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapPtr {
    /// What the block is for.
    pub kind: BlockKind,
    /// The pointer's value: the physical block.
    pub pblk: u32,
    /// An indirect block this map listed already (a loop, or a map made to
    /// cost pointers^3 reads): it is shown but never descended into again.
    pub repeat: bool,
    /// Children-first order only: the indirect block still holds a
    /// non-zero pointer after the blocks below it were visited (and
    /// possibly cleared). False for data blocks and in parent-first order.
    pub holds_pointers: bool,
}

impl MapPtr {
    /// Whether it points at a data block.
    pub fn is_data(&self) -> bool {
        matches!(self.kind, BlockKind::Data(_))
    }

    /// The logical block (see [`BlockKind::lblk`]).
    pub fn lblk(&self) -> u64 {
        self.kind.lblk()
    }

    /// 0 for a data block, else the indirect block's level (1 to 3).
    pub fn level(&self) -> u8 {
        match self.kind {
            BlockKind::Data(_) => 0,
            BlockKind::Indirect { level, .. } => level,
        }
    }
}

/// A visitor's verdict on one pointer (block_iterate's BLOCK_CHANGED and
/// BLOCK_ABORT).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visit {
    /// Leave the pointer as it is.
    Keep,
    /// Store this value instead (0 clears the pointer; a cleared indirect
    /// block is not descended into).
    Replace(u32),
    /// End the walk here.
    Stop,
    /// Give this branch up (e2fsprogs' BLOCK_ERROR, a bad indirect
    /// block): an indirect block is not descended into, and the indirect
    /// blocks above it stop as well; the walk goes on with the next
    /// pointer of i_block.
    Abandon,
}

/// When an indirect block is shown relative to the blocks below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Before them (block_iterate's default): the visitor vets a pointer
    /// before the walk follows it.
    ParentFirst,
    /// After them (BLOCK_FLAG_DEPTH_TRAVERSE), for freeing a map: the
    /// visitor sees whether the block still points anywhere. An indirect
    /// block that `read` cannot fetch is not shown at all and ends the
    /// loops of the blocks above it, which are still shown; after `Stop`
    /// nothing more is shown.
    ChildrenFirst,
}

/// What `iterate` changed. The walk never writes: changed indirect blocks
/// come back here for the caller to write (or not, under `-n`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MapEdit {
    /// Indirect blocks whose contents changed: (block, bytes).
    pub writes: Vec<(u64, Vec<u8>)>,
    /// i_block itself changed (the inode must be written).
    pub i_block_changed: bool,
    /// The visitor stopped the walk.
    pub stopped: bool,
}

/// The one walk over a block map (e2fsprogs' block_iterate): every
/// non-zero pointer in logical order, each indirect block before the
/// blocks below it, shown to `visit` before it is trusted; `visit` may
/// keep, replace or clear it, or stop the walk. `read` fetches an indirect
/// block: `Ok(None)` means it cannot be read (its subtree is skipped and,
/// as libext2fs gives up after a failed read, so is the rest of the
/// indirect blocks above it), `Err` ends the walk with that error.
/// A replaced indirect block is taken as a copy of the original: the
/// original is read and the copy (with changes below) is written.
pub fn iterate<R, V>(
    i_block: &mut [u32; N_BLOCKS],
    block_size: u32,
    mut read: R,
    mut visit: V,
) -> Result<MapEdit>
where
    R: FnMut(u32) -> Result<Option<Vec<u8>>>,
    V: FnMut(&MapPtr) -> Visit,
{
    iterate_in(
        &mut (),
        Order::ParentFirst,
        i_block,
        block_size,
        |_, p| read(p.pblk),
        |_, p| visit(p),
    )
}

/// [`iterate`] in either [`Order`], with a context `ctx` that `read` and
/// `visit` both borrow mutably in turn (a checker whose visitor marks
/// blocks and whose reader records errors). `read` is given the pointer
/// of the indirect block to fetch.
pub fn iterate_in<C, R, V>(
    ctx: &mut C,
    order: Order,
    i_block: &mut [u32; N_BLOCKS],
    block_size: u32,
    mut read: R,
    mut visit: V,
) -> Result<MapEdit>
where
    R: FnMut(&mut C, &MapPtr) -> Result<Option<Vec<u8>>>,
    V: FnMut(&mut C, &MapPtr) -> Visit,
{
    let per = (block_size / 4) as u64;
    let mut w = Walker {
        per,
        order,
        edit: MapEdit::default(),
        seen: std::collections::HashSet::new(),
        abandoned: false,
    };
    let mut first = 0u64;
    for (slot, p) in i_block.iter_mut().enumerate() {
        let level = slot.saturating_sub(NDIR_BLOCKS - 1) as u8;
        let start = first;
        first += per.pow(level as u32);
        if *p == 0 {
            continue;
        }
        let new = w.visit_tree(ctx, level, start, *p, &mut read, &mut visit)?;
        if w.edit.stopped {
            break;
        }
        w.abandoned = false;
        if new != *p {
            *p = new;
            w.edit.i_block_changed = true;
        }
    }
    Ok(w.edit)
}

struct Walker {
    per: u64,
    order: Order,
    edit: MapEdit,
    /// Indirect blocks already descended into.
    seen: std::collections::HashSet<u32>,
    /// The visitor gave up a branch of the current i_block pointer.
    abandoned: bool,
}

impl Walker {
    /// Applies a verdict on pointer `p`: its new value, or None when the
    /// walk stops or the branch is given up.
    fn judge(&mut self, verdict: Visit, p: u32) -> Option<u32> {
        match verdict {
            Visit::Keep => Some(p),
            Visit::Replace(n) => Some(n),
            Visit::Stop => {
                self.edit.stopped = true;
                None
            }
            Visit::Abandon => {
                self.abandoned = true;
                None
            }
        }
    }

    /// Visits one pointer and, for an indirect block, everything below it;
    /// returns the pointer's (possibly replaced) value.
    fn visit_tree<C, R, V>(
        &mut self,
        ctx: &mut C,
        level: u8,
        lblk: u64,
        p: u32,
        read: &mut R,
        visit: &mut V,
    ) -> Result<u32>
    where
        R: FnMut(&mut C, &MapPtr) -> Result<Option<Vec<u8>>>,
        V: FnMut(&mut C, &MapPtr) -> Visit,
    {
        let mut ptr = MapPtr {
            kind: if level == 0 {
                BlockKind::Data(lblk)
            } else {
                BlockKind::Indirect { level, first: lblk }
            },
            pblk: p,
            repeat: level > 0 && self.seen.contains(&p),
            holds_pointers: false,
        };
        let children_first = level > 0 && self.order == Order::ChildrenFirst;
        let cur = if children_first {
            p
        } else {
            match self.judge(visit(ctx, &ptr), p) {
                Some(cur) => cur,
                None => return Ok(p),
            }
        };
        if level == 0 || cur == 0 || ptr.repeat || !self.seen.insert(cur) {
            if children_first {
                return Ok(self.judge(visit(ctx, &ptr), p).unwrap_or(p));
            }
            return Ok(cur);
        }
        let Some(mut buf) = read(ctx, &ptr)? else {
            // libext2fs' BLOCK_ERROR: the blocks above it stop (children
            // first, the block itself is not shown either).
            self.abandoned = true;
            return Ok(cur);
        };
        let span = self.per.pow(level as u32 - 1);
        let mut changed = false;
        for k in 0..(self.per as usize).min(buf.len() / 4) {
            let child = crate::codec::le32(&buf, k * 4);
            if child == 0 {
                continue;
            }
            let new =
                self.visit_tree(ctx, level - 1, lblk + k as u64 * span, child, read, visit)?;
            if new != child {
                crate::codec::put32(&mut buf, k * 4, new);
                changed = true;
            }
            if self.edit.stopped || self.abandoned {
                break;
            }
        }
        if children_first && !self.edit.stopped {
            ptr.holds_pointers = pointers(&buf).any(|q| q != 0);
        }
        if changed || cur != p {
            // A later write of the same block (a replaced copy) wins.
            self.edit.writes.retain(|(b, _)| *b != cur as u64);
            self.edit.writes.push((cur as u64, buf));
        }
        if children_first && !self.edit.stopped {
            return Ok(self.judge(visit(ctx, &ptr), p).unwrap_or(p));
        }
        Ok(cur)
    }
}

/// A read-only walk: every non-zero pointer as `iterate` shows it, until
/// `visit` returns false. Pointers are passed as found, unvalidated: the
/// caller decides whether a block number is legal. An indirect block that
/// `read` cannot fetch, or one listed twice (a loop), is an error.
pub fn walk<R, V>(
    i_block: &[u32; N_BLOCKS],
    block_size: u32,
    mut read: R,
    mut visit: V,
) -> Result<()>
where
    R: FnMut(u32) -> Result<Vec<u8>>,
    V: FnMut(BlockKind, u32) -> bool,
{
    let mut looped = None;
    let mut map = *i_block;
    iterate(
        &mut map,
        block_size,
        |b| read(b).map(Some),
        |p| {
            if !visit(p.kind, p.pblk) {
                Visit::Stop
            } else if p.repeat {
                looped = Some(p.pblk);
                Visit::Stop
            } else {
                Visit::Keep
            }
        },
    )?;
    match looped {
        Some(b) => Err(Error::BlockMapLoop(b)),
        None => Ok(()),
    }
}

/// The path through the map to logical block `lblk`: the i_block slot and
/// the index in each indirect level.
pub fn path_to(lblk: u64, block_size: u32) -> Result<(usize, Vec<usize>)> {
    let p = (block_size / 4) as u64;
    if lblk < NDIR_BLOCKS as u64 {
        return Ok((lblk as usize, vec![]));
    }
    let mut rest = lblk - NDIR_BLOCKS as u64;
    for (slot, level) in [(IND_BLOCK, 1u32), (DIND_BLOCK, 2), (TIND_BLOCK, 3)] {
        let span = p.pow(level);
        if rest < span {
            let mut idx = Vec::with_capacity(level as usize);
            for l in (0..level).rev() {
                let s = p.pow(l);
                idx.push((rest / s) as usize);
                rest %= s;
            }
            return Ok((slot, idx));
        }
        rest -= span;
    }
    Err(Error::BlockBeyondLargestFile(lblk))
}

/// How many indirect blocks a map of the logical blocks `0..n` (no
/// holes) needs: what [`build`] asks `alloc` for on such a map.
pub fn indirect_blocks_for(n: u64, block_size: u32) -> u64 {
    let p = block_size as u64 / 4;
    let mut rest = n.saturating_sub(NDIR_BLOCKS as u64);
    let mut total = 0;
    // The single, double and triple indirect trees, each full before the
    // next; a tree of `here` blocks has ceil(here / p^l) blocks at level l.
    for level in 1..=3u32 {
        if rest == 0 {
            break;
        }
        let here = rest.min(p.pow(level));
        total += (1..=level).map(|l| here.div_ceil(p.pow(l))).sum::<u64>();
        rest -= here;
    }
    total
}

/// i_block and the indirect blocks (number, contents) of a built map.
pub type BuiltMap = ([u32; N_BLOCKS], Vec<(u32, Vec<u8>)>);

/// Builds a complete block map for data blocks listed as (logical,
/// physical), in increasing logical order. `alloc` provides blocks for the
/// indirect blocks (called in the order they are laid out: each indirect
/// block just before the data it maps, as mke2fs does). Returns i_block
/// and the indirect blocks with their contents.
pub fn build<A>(data: &[(u64, u32)], block_size: u32, mut alloc: A) -> Result<BuiltMap>
where
    A: FnMut() -> Result<u32>,
{
    let mut i_block = [0u32; N_BLOCKS];
    // Indirect blocks by (slot, index path prefix) -> (block number, contents).
    let mut ind: Vec<(u32, Vec<u8>)> = Vec::new();
    let mut index: std::collections::HashMap<(usize, Vec<usize>), usize> = Default::default();
    for &(lblk, phys) in data {
        let (slot, path) = path_to(lblk, block_size)?;
        if path.is_empty() {
            i_block[slot] = phys;
            continue;
        }
        // Walk down, creating indirect blocks as needed.
        let mut parent: Option<(usize, usize)> = None; // (ind index, slot in it)
        for depth in 0..path.len() {
            let key = (slot, path[..depth].to_vec());
            let at = match index.get(&key) {
                Some(&at) => at,
                None => {
                    let b = alloc()?;
                    ind.push((b, vec![0u8; block_size as usize]));
                    let at = ind.len() - 1;
                    index.insert(key, at);
                    match parent {
                        None => i_block[slot] = b,
                        Some((pi, ps)) => {
                            ind[pi].1[ps * 4..ps * 4 + 4].copy_from_slice(&b.to_le_bytes())
                        }
                    }
                    at
                }
            };
            parent = Some((at, path[depth]));
        }
        if let Some((pi, ps)) = parent {
            ind[pi].1[ps * 4..ps * 4 + 4].copy_from_slice(&phys.to_le_bytes());
        }
    }
    Ok((i_block, ind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    proptest! {
        /// A pointer stored is the pointer read back, the others untouched;
        /// a slot past the block changes nothing.
        #[test]
        fn set_pointer_is_what_pointers_reads(
            k in 0usize..300,
            value in any::<u32>(),
            seed in any::<u8>(),
        ) {
            let before: Vec<u8> = (0..1024u32).map(|i| (i as u8) ^ seed).collect();
            let mut block = before.clone();
            set_pointer(&mut block, k, value);
            let (old, new): (Vec<u32>, Vec<u32>) = (pointers(&before).collect(), pointers(&block).collect());
            for (i, (a, b)) in old.iter().zip(&new).enumerate() {
                prop_assert_eq!(*b, if i == k { value } else { *a });
            }
            if k >= 256 {
                prop_assert_eq!(&block, &before);
            }
        }
    }

    fn round_trip(data: Vec<(u64, u32)>, bs: u32) -> Vec<(u64, u32)> {
        let (ib, blocks) = built(&data, bs);
        data_of(&ib, &blocks, bs)
    }

    #[test]
    fn indirect_blocks_for_is_what_build_allocates() {
        for bs in [1024u32, 4096] {
            let p = bs as u64 / 4;
            for n in [
                0,
                1,
                12,
                13,
                12 + p,
                13 + p,
                12 + p + p * p,
                13 + p + p * p,
                12 + 3 * p + 5,
            ] {
                let data: Vec<(u64, u32)> = (0..n).map(|l| (l, 1)).collect();
                let mut asked = 0u64;
                build(&data, bs, || {
                    asked += 1;
                    Ok(2)
                })
                .unwrap();
                assert_eq!(indirect_blocks_for(n, bs), asked, "{n} blocks of {bs}");
            }
        }
    }

    #[test]
    fn paths() {
        assert_eq!(path_to(0, 1024).unwrap(), (0, vec![]));
        assert_eq!(path_to(12, 1024).unwrap(), (IND_BLOCK, vec![0]));
        assert_eq!(path_to(12 + 256, 1024).unwrap(), (DIND_BLOCK, vec![0, 0]));
        assert_eq!(
            path_to(12 + 256 + 257, 1024).unwrap(),
            (DIND_BLOCK, vec![1, 1])
        );
        assert_eq!(
            path_to(12 + 256 + 65536, 1024).unwrap(),
            (TIND_BLOCK, vec![0, 0, 0])
        );
        assert!(path_to(max_logical_blocks(1024), 1024).is_err());
    }

    #[test]
    fn holes_survive() {
        let data = vec![(0, 10), (5, 11), (300, 12), (70000, 13), (16_843_000, 14)];
        assert_eq!(round_trip(data.clone(), 1024), data);
    }

    /// A built map and its indirect blocks, keyed by block number.
    fn built(data: &[(u64, u32)], bs: u32) -> ([u32; N_BLOCKS], HashMap<u32, Vec<u8>>) {
        let mut next = 1_000_000u32;
        let (ib, ind) = build(data, bs, || {
            next += 1;
            Ok(next)
        })
        .unwrap();
        (ib, ind.into_iter().collect())
    }

    fn data_of(ib: &[u32; N_BLOCKS], blocks: &HashMap<u32, Vec<u8>>, bs: u32) -> Vec<(u64, u32)> {
        let mut seen = Vec::new();
        walk(
            ib,
            bs,
            |b| Ok(blocks[&b].clone()),
            |k, b| {
                if let BlockKind::Data(l) = k {
                    seen.push((l, b));
                }
                true
            },
        )
        .unwrap();
        seen
    }

    #[test]
    fn a_repeated_indirect_block_is_shown_once_more_then_a_loop() {
        let (mut ib, blocks) = built(&[(12, 50)], 1024);
        ib[DIND_BLOCK] = ib[IND_BLOCK];
        let mut shown = Vec::new();
        let edit = iterate(
            &mut ib,
            1024,
            |b| Ok(blocks.get(&b).cloned()),
            |p| {
                shown.push((p.kind, p.repeat));
                Visit::Keep
            },
        )
        .unwrap();
        assert_eq!(edit, MapEdit::default());
        assert_eq!(shown.len(), 3);
        assert_eq!(
            shown[2],
            (
                BlockKind::Indirect {
                    level: 2,
                    first: 12 + 256
                },
                true
            )
        );
        let err = walk(&ib, 1024, |b| Ok(blocks[&b].clone()), |_, _| true).unwrap_err();
        assert!(matches!(err, Error::BlockMapLoop(_)));
    }

    #[test]
    fn an_abandoned_branch_ends_its_parents_but_not_the_walk() {
        // Data under the double indirect block's first and second
        // indirect blocks, and under the triple indirect block.
        let dind = 12 + 256;
        let data = [(0, 9), (dind, 50), (dind + 256, 51), (dind + 65536, 52)];
        let (mut ib, blocks) = built(&data, 1024);
        let first_ind = crate::codec::le32(&blocks[&ib[DIND_BLOCK]], 0);
        let mut data_seen = Vec::new();
        iterate(
            &mut ib,
            1024,
            |b| Ok(blocks.get(&b).cloned()),
            |p| match p.kind {
                BlockKind::Data(l) => {
                    data_seen.push(l);
                    Visit::Keep
                }
                _ if p.pblk == first_ind => Visit::Abandon,
                _ => Visit::Keep,
            },
        )
        .unwrap();
        // Block 51 sits beside the abandoned branch, under the same
        // double indirect block: it is given up too; the triple
        // indirect block's data is still walked.
        assert_eq!(data_seen, vec![0, dind + 65536]);
    }

    #[test]
    fn an_unreadable_indirect_block_is_skipped_or_an_error() {
        let (mut ib, _) = built(&[(0, 9), (12, 50), (300, 51)], 1024);
        let mut shown = 0;
        iterate(
            &mut ib,
            1024,
            |_| Ok(None),
            |_| {
                shown += 1;
                Visit::Keep
            },
        )
        .unwrap();
        // data 0, the single and the double indirect block, nothing below.
        assert_eq!(shown, 3);
        assert!(walk(&ib, 1024, |_| Err(Error::BlockMapLoop(0)), |_, _| true).is_err());
    }

    #[test]
    fn an_unreadable_indirect_block_gives_up_the_blocks_beside_it() {
        let dind = 12 + 256;
        let (mut ib, blocks) = built(&[(dind, 60), (dind + 256, 61), (dind + 65536, 62)], 1024);
        let mut shown = Vec::new();
        let mut unreadable = None;
        iterate_in(
            &mut shown,
            Order::ParentFirst,
            &mut ib,
            1024,
            |_, p| {
                // The first indirect block below the double indirect one.
                if p.level() == 1 && unreadable.is_none() {
                    unreadable = Some(p.pblk);
                    return Ok(None);
                }
                Ok(blocks.get(&p.pblk).cloned())
            },
            |shown, p| {
                shown.push(p.kind);
                Visit::Keep
            },
        )
        .unwrap();
        let ind = |level, first| BlockKind::Indirect { level, first };
        // libext2fs' BLOCK_ERROR: the second indirect block beside it is
        // not walked; the triple indirect branch is.
        assert_eq!(
            shown,
            vec![
                ind(2, dind),
                ind(1, dind),
                ind(3, dind + 65536),
                ind(2, dind + 65536),
                ind(1, dind + 65536),
                BlockKind::Data(dind + 65536),
            ]
        );
    }

    /// Children first: (kind, holds_pointers) in the order shown, with
    /// the data blocks `clear` picks cleared.
    fn children_first(
        ib: &mut [u32; N_BLOCKS],
        blocks: &HashMap<u32, Vec<u8>>,
        unreadable: Option<u32>,
        clear: impl Fn(u64) -> bool,
    ) -> (Vec<(BlockKind, bool)>, MapEdit) {
        let mut shown = Vec::new();
        let edit = iterate_in(
            &mut shown,
            Order::ChildrenFirst,
            ib,
            1024,
            |_, p| {
                Ok(blocks
                    .get(&p.pblk)
                    .cloned()
                    .filter(|_| Some(p.pblk) != unreadable))
            },
            |shown, p| {
                shown.push((p.kind, p.holds_pointers));
                match p.kind {
                    BlockKind::Data(l) if clear(l) => Visit::Replace(0),
                    BlockKind::Indirect { .. } if !p.holds_pointers => Visit::Replace(0),
                    _ => Visit::Keep,
                }
            },
        )
        .unwrap();
        (shown, edit)
    }

    #[test]
    fn children_first_shows_an_indirect_block_after_its_blocks_as_they_are_left() {
        let dind = 12 + 256;
        let (mut ib, blocks) = built(&[(0, 9), (12, 50), (13, 51), (dind, 52)], 1024);
        // Block 13 stays: the single indirect block still points at it;
        // everything under the double indirect block goes, and so does it.
        let (shown, edit) = children_first(&mut ib, &blocks, None, |l| l != 13);
        let ind = |level, first| BlockKind::Indirect { level, first };
        assert_eq!(
            shown,
            vec![
                (BlockKind::Data(0), false),
                (BlockKind::Data(12), false),
                (BlockKind::Data(13), false),
                (ind(1, 12), true),
                (BlockKind::Data(dind), false),
                (ind(1, dind), false),
                (ind(2, dind), false),
            ]
        );
        assert!(edit.i_block_changed);
        assert_eq!((ib[0], ib[DIND_BLOCK]), (0, 0));
        assert_ne!(ib[IND_BLOCK], 0);
        // The single indirect block lost one pointer: it is written back.
        let ind_block = &edit
            .writes
            .iter()
            .find(|(b, _)| *b == u64::from(ib[IND_BLOCK]))
            .unwrap()
            .1;
        assert_eq!(pointers(ind_block).take(2).collect::<Vec<_>>(), vec![0, 51]);
    }

    #[test]
    fn children_first_an_unreadable_block_is_not_shown_and_ends_its_parents_loops() {
        let dind = 12 + 256;
        let data = [(dind, 50), (dind + 256, 51), (dind + 65536, 52)];
        let (mut ib, blocks) = built(&data, 1024);
        let first_ind = crate::codec::le32(&blocks[&ib[DIND_BLOCK]], 0);
        let (shown, _) = children_first(&mut ib, &blocks, Some(first_ind), |_| false);
        let kinds: Vec<BlockKind> = shown.into_iter().map(|(k, _)| k).collect();
        let ind = |level, first| BlockKind::Indirect { level, first };
        // The double indirect block is still shown (libext2fs calls its
        // function after a BLOCK_ERROR below); its second indirect block
        // is not reached; the triple indirect tree is walked in full.
        assert_eq!(
            kinds,
            vec![
                ind(2, dind),
                BlockKind::Data(dind + 65536),
                ind(1, dind + 65536),
                ind(2, dind + 65536),
                ind(3, dind + 65536),
            ]
        );
    }

    #[test]
    fn children_first_stop_shows_nothing_more_but_keeps_the_changes() {
        let (mut ib, blocks) = built(&[(12, 50), (13, 51), (14, 52)], 1024);
        let mut shown = 0;
        let edit = iterate_in(
            &mut shown,
            Order::ChildrenFirst,
            &mut ib,
            1024,
            |_, p| Ok(blocks.get(&p.pblk).cloned()),
            |shown, p| {
                *shown += 1;
                match p.lblk() {
                    12 => Visit::Replace(0),
                    _ => Visit::Stop,
                }
            },
        )
        .unwrap();
        assert_eq!(shown, 2, "the indirect block is not shown after Stop");
        assert!(edit.stopped);
        assert_eq!(edit.writes.len(), 1);
        assert_eq!(
            pointers(&edit.writes[0].1).take(3).collect::<Vec<_>>(),
            vec![0, 51, 52]
        );
    }

    proptest! {
        #[test]
        fn build_then_walk(mut lblks in proptest::collection::btree_set(0u64..16_843_020, 0..50)) {
            let data: Vec<(u64, u32)> = std::mem::take(&mut lblks).into_iter().enumerate().map(|(i, l)| (l, i as u32 + 1)).collect();
            prop_assert_eq!(round_trip(data.clone(), 1024), data);
        }

        /// Clearing pointers through the visitor and writing back what
        /// iterate returns leaves exactly the data blocks not cleared
        /// (a cleared indirect block takes its whole range with it).
        #[test]
        fn iterate_clears_what_the_visitor_clears(
            lblks in proptest::collection::btree_set(0u64..70_000, 0..40),
            drop in proptest::collection::vec(any::<bool>(), 80),
            stop_after in proptest::option::of(0usize..80),
        ) {
            let data: Vec<(u64, u32)> = lblks.into_iter().enumerate().map(|(i, l)| (l, i as u32 + 1)).collect();
            let (mut ib, mut blocks) = built(&data, 1024);
            let original = ib;
            let mut dropped_ranges: Vec<(u64, u64)> = Vec::new();
            let mut visited = 0usize;
            let mut stopped = false;
            let edit = iterate(&mut ib, 1024, |b| Ok(blocks.get(&b).cloned()), |p| {
                assert!(!stopped, "visited after Stop");
                if stop_after == Some(visited) {
                    stopped = true;
                    return Visit::Stop;
                }
                let i = visited;
                visited += 1;
                if !drop[i % drop.len()] {
                    return Visit::Keep;
                }
                let span = match p.kind {
                    BlockKind::Data(_) => 1,
                    BlockKind::Indirect { level, .. } => 256u64.pow(level as u32),
                };
                dropped_ranges.push((p.lblk(), p.lblk() + span));
                Visit::Replace(0)
            })
            .unwrap();
            prop_assert_eq!(edit.stopped, stopped);
            prop_assert_eq!(edit.i_block_changed, ib != original);
            for (b, bytes) in edit.writes {
                blocks.insert(b as u32, bytes);
            }
            let expect: Vec<(u64, u32)> = data
                .iter()
                .copied()
                .filter(|(l, _)| !dropped_ranges.iter().any(|&(a, z)| *l >= a && *l < z))
                .collect();
            if !edit.stopped {
                prop_assert_eq!(data_of(&ib, &blocks, 1024), expect);
            }
        }
    }
}
