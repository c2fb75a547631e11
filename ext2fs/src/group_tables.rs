//! Where mke2fs puts each group's bitmaps and inode table (no flex_bg):
//! the search of ext2fs_allocate_group_table over a block map holding
//! every group's superblock copy and descriptor blocks (and the bad
//! blocks mke2fs was given), with the RAID stride's offset for the
//! bitmaps.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::group_desc::GroupDesc;
use crate::layout::Geometry;

/// libext2fs' EXT2_ET_BLOCK_ALLOC_FAIL, as ext2fs_allocate_group_table
/// returns it.
fn no_room() -> Error {
    Error::NoSpace { what: "block" }
}

/// Blocks taken so far: each group's superblock and descriptor blocks
/// (always, from the geometry) and the tables placed (start -> end).
struct Taken<'a> {
    geo: &'a Geometry,
    placed: BTreeMap<u64, u64>,
}

impl Taken<'_> {
    /// The first taken block in `lo..hi`, if any.
    fn first_in(&self, lo: u64, hi: u64) -> Option<u64> {
        let mut first: Option<u64> = None;
        let mut note = |b: u64| first = Some(first.map_or(b, |f| f.min(b)));
        if let Some((_, &end)) = self.placed.range(..=lo).next_back() {
            if end > lo {
                note(lo);
            }
        }
        if let Some((&start, _)) = self.placed.range(lo..hi).next() {
            note(start);
        }
        let fdb = self.geo.first_data_block as u64;
        let bpg = self.geo.blocks_per_group as u64;
        let group_of = |b: u64| (b.saturating_sub(fdb) / bpg).min(self.geo.group_count as u64 - 1);
        for g in group_of(lo)..=group_of(hi - 1) {
            let meta = self.geo.group_metadata_range(g as u32);
            if meta.start < hi && meta.end > lo {
                note(meta.start.max(lo));
            }
        }
        first
    }

    fn take(&mut self, start: u64, count: u64) {
        self.placed.insert(start, start + count);
    }

    /// ext2fs_get_free_blocks2: the first `num` free blocks from `start`,
    /// trying starts up to (not including) `finish`, wrapping to the first
    /// data block only when `finish` is not after `start`.
    fn free_run(&self, start: u64, finish: u64, num: u64) -> Option<u64> {
        let fdb = self.geo.first_data_block as u64;
        let mut b = if start == 0 { fdb } else { start };
        let mut wrapped = false;
        loop {
            if b + num > self.geo.blocks_count {
                if finish > start || wrapped {
                    return None;
                }
                b = fdb;
                wrapped = true;
            }
            let Some(used) = self.first_in(b, b + num) else {
                return Some(b);
            };
            // Every start up to `used` holds it too: skip them, stopping
            // where the search would have stopped.
            let next = used + 1;
            if (b + 1..=next).contains(&finish) || (wrapped && next > start) {
                return None;
            }
            b = next;
        }
    }

    /// A block for a bitmap: from `start`, else from the group's start.
    fn bitmap_block(&mut self, start: u64, group_first: u64, last: u64) -> Result<u64> {
        let b = self
            .free_run(start, last, 1)
            .or_else(|| self.free_run(group_first, last, 1))
            .ok_or_else(no_room)?;
        self.take(b, 1);
        Ok(b)
    }
}

/// Each group's block bitmap, inode bitmap and inode table as mke2fs
/// places them without flex_bg. With a RAID `stride` the bitmaps of
/// group g start stride*g (32-bit arithmetic, as libext2fs's) past where
/// the inode table would end, wrapping within the group; the table still
/// takes the first free run from the group's start.
/// Bad blocks (`bad`, mke2fs -l) are taken from the start, so no table
/// lands on one.
pub(crate) fn place(geo: &Geometry, stride: u32, bad: &[u64]) -> Result<Vec<GroupDesc>> {
    let mut taken = Taken {
        geo,
        placed: BTreeMap::new(),
    };
    for &b in bad {
        taken.take(b, 1);
    }
    let itb = geo.inode_table_blocks as u64;
    let mut out = Vec::with_capacity(geo.group_count as usize);
    for g in 0..geo.group_count {
        let first = geo.group_first_block(g);
        let last = geo.group_last_block(g);
        let mut start = first;
        if stride != 0 {
            let free = taken.free_run(first, last, 1).ok_or_else(no_room)?;
            let past_table = free + itb;
            // libext2fs computes the span unsigned: past the group's end
            // it is huge and the offset is the whole product.
            let span = last.wrapping_sub(past_table).wrapping_add(1);
            let shift = stride.wrapping_mul(g) as u64;
            let offset = if span == 0 { shift } else { shift % span };
            start = past_table + offset;
            if start >= last {
                start = first;
            }
        }
        let bb = taken.bitmap_block(start, first, last)?;
        let ib = taken.bitmap_block(start, first, last)?;
        let it = taken.free_run(first, last, itb).ok_or_else(no_room)?;
        taken.take(it, itb);
        out.push(GroupDesc {
            bg_block_bitmap: bb as u32,
            bg_inode_bitmap: ib as u32,
            bg_inode_table: it as u32,
            ..Default::default()
        });
    }
    Ok(out)
}
