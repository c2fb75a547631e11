//! Allocation: the in-memory bitmaps and the free counts of groups and
//! superblock, kept in step on every mark, and goal-directed block and
//! inode allocation.

use super::Filesystem;
use crate::bitmap::Bitmap;
use crate::{BitmapKind, Error, Result};

impl Filesystem {
    /// Whether a bitmap location can be read or written: ext2fs_read_bitmaps
    /// takes 0 or a block past the end for no bitmap (all clear) and
    /// ext2fs_write_bitmaps skips it.
    pub(super) fn bitmap_block_usable(&self, block: u32) -> bool {
        block != 0 && (block as u64) < self.geo.blocks_count
    }

    /// One group's bitmap block as ext2fs_read_bitmaps reads it.
    fn read_bitmap_block(&self, block: u32, which: BitmapKind, group: u32) -> Result<Vec<u8>> {
        if !self.bitmap_block_usable(block) {
            return Ok(vec![0; self.geo.block_size as usize]);
        }
        self.read_block(block as u64)
            .map_err(|e| Error::BitmapRead {
                which,
                group,
                source: Box::new(e),
            })
    }

    /// Loads both bitmaps into memory (done once, before any allocation;
    /// never once they are withheld).
    pub fn load_bitmaps(&mut self) -> Result<()> {
        if self.block_bitmap.is_some() || self.bitmaps_withheld {
            return Ok(());
        }
        let geo = &self.geo;
        let nblocks = geo.blocks_count - geo.first_data_block as u64;
        let mut bb = Bitmap::new(nblocks);
        let mut ib = Bitmap::new(self.sb.s_inodes_count as u64);
        let mut padding_set = false;
        for g in 0..geo.group_count {
            let gd = &self.groups[g as usize];
            let bbuf = self.read_bitmap_block(gd.bg_block_bitmap, BitmapKind::Block, g)?;
            let first = geo.group_first_block(g) - geo.first_data_block as u64;
            let nbits = geo.blocks_in_group(g) as u64;
            bb.load_group(first, &bbuf, nbits);
            let span = (geo.blocks_per_group as u64).min(bbuf.len() as u64 * 8);
            padding_set |= (nbits..span).any(|i| crate::bitmap::block_bit(&bbuf, i));
            let ibuf = self.read_bitmap_block(gd.bg_inode_bitmap, BitmapKind::Inode, g)?;
            let ifirst = g as u64 * geo.inodes_per_group as u64;
            ib.load_group(ifirst, &ibuf, geo.inode_bitmap_bits_read());
        }
        self.mark_uninit_group_blocks(&mut bb);
        self.block_padding_set = padding_set;
        self.block_bitmap = Some(bb);
        self.inode_bitmap = Some(ib);
        Ok(())
    }

    /// Never reads the bitmaps, as a libext2fs caller that skips
    /// ext2fs_read_bitmaps (debugfs -c): a bit tested reads as clear, a
    /// bit set or cleared changes only the counts that go with it, and an
    /// allocation fails with [`Error::BitmapNotLoaded`].
    pub fn withhold_bitmaps(&mut self) {
        if self.block_bitmap.is_none() {
            self.bitmaps_withheld = true;
        }
    }

    /// libext2fs' mark_uninit_bg_group_blocks, which ext2fs_read_bitmaps
    /// runs whatever the features: in a group flagged BLOCK_UNINIT the
    /// superblock copy, descriptor blocks, inode table and both bitmaps
    /// are marked in use in memory. A mark outside the filesystem is
    /// refused, its block kept for [`Filesystem::take_refused_marks`].
    fn mark_uninit_group_blocks(&mut self, bb: &mut Bitmap) {
        let geo = &self.geo;
        let first = u64::from(geo.first_data_block);
        let end = geo.blocks_count;
        let mut refused = Vec::new();
        let mut mark = |start: u64, n: u64| {
            if n == 0 {
                return;
            }
            if start < first || start >= end || start + (n - 1) >= end {
                refused.push(start);
                return;
            }
            for b in start..start + n {
                bb.set(b - first, true);
            }
        };
        for (g, gd) in (0u32..).zip(&self.groups) {
            if gd.bg_flags & crate::group_desc::BG_BLOCK_UNINIT == 0 {
                continue;
            }
            let m = geo.group_metadata(g);
            if let Some(s) = m.super_block {
                mark(s, 1);
            }
            if let Some((start, len)) = m.table {
                mark(start, u64::from(len).min(end.saturating_sub(start)));
            }
            if let Some(d) = m.meta_desc {
                mark(d, 1);
            }
            if gd.bg_inode_table != 0 {
                mark(
                    u64::from(gd.bg_inode_table),
                    u64::from(geo.inode_table_blocks),
                );
            }
            // The bitmaps' blocks only inside the filesystem: libext2fs
            // passes over the others without a word.
            for b in [gd.bg_block_bitmap, gd.bg_inode_bitmap] {
                if b != 0 && u64::from(b) < end {
                    mark(u64::from(b), 1);
                }
            }
        }
        self.refused_marks.extend(refused);
    }

    /// The blocks libext2fs would have refused to mark in use while the
    /// bitmaps were read (it warns "Illegal block number passed to
    /// ext2fs_mark_block_bitmap"), since the last call.
    pub fn take_refused_marks(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.refused_marks)
    }

    /// Reads the bitmaps even when withheld, and stops withholding them
    /// (e2freefrag's ext2fs_read_block_bitmap after debugfs -c).
    pub fn read_withheld_bitmaps(&mut self) -> Result<()> {
        self.bitmaps_withheld = false;
        self.load_bitmaps()
    }

    /// Whether a withheld block bitmap and inode bitmap would have
    /// changed: what libext2fs, asked to write bitmaps it never read,
    /// refuses.
    pub fn withheld_bitmaps_changed(&self) -> (bool, bool) {
        self.withheld_changed
    }

    /// Whether `block` is marked in use in the block bitmap (loaded on
    /// first use; blocks before s_first_data_block read as in use).
    pub fn test_block(&mut self, block: u64) -> Result<bool> {
        self.load_bitmaps()?;
        let first = self.geo.first_data_block as u64;
        Ok(self
            .block_bitmap
            .as_ref()
            .is_some_and(|b| b.get(block.wrapping_sub(first))))
    }

    /// Whether inode `ino` is marked in use in the inode bitmap (loaded on
    /// first use).
    pub fn test_inode(&mut self, ino: u32) -> Result<bool> {
        self.load_bitmaps()?;
        Ok(self
            .inode_bitmap
            .as_ref()
            .is_some_and(|b| ino > 0 && b.get(ino as u64 - 1)))
    }

    /// Marks a block used or free, keeping group and superblock counts
    /// (which wrap below zero, as libext2fs' alloc_stats counts: a damaged
    /// count of 0 taken from reads 4294967295, as e2fsck then reports).
    pub fn mark_block(&mut self, block: u64, used: bool) -> Result<()> {
        self.require_write()?;
        self.check_block(block)?;
        self.load_bitmaps()?;
        let first = self.geo.first_data_block as u64;
        if block >= first {
            self.touch(Some(block - first), None);
        }
        let Some(bb) = self.block_bitmap.as_mut() else {
            return Ok(());
        };
        if block < first || bb.get(block - first) == used {
            return Ok(());
        }
        bb.set(block - first, used);
        let g = self.geo.block_group(block) as usize;
        let gd = &mut self.groups[g];
        if used {
            gd.bg_free_blocks_count = gd.bg_free_blocks_count.wrapping_sub(1);
            self.sb.s_free_blocks_count = self.sb.s_free_blocks_count.wrapping_sub(1);
        } else {
            gd.bg_free_blocks_count = gd.bg_free_blocks_count.wrapping_add(1);
            self.sb.s_free_blocks_count = self.sb.s_free_blocks_count.wrapping_add(1);
        }
        self.dirty_groups[g] = true;
        self.dirty = true;
        Ok(())
    }

    /// Marks an inode used or free; `dir` adjusts the used-dirs count.
    pub fn mark_inode(&mut self, ino: u32, used: bool, dir: bool) -> Result<()> {
        self.require_write()?;
        self.inode_location(ino)?;
        self.load_bitmaps()?;
        self.touch(None, Some(ino as u64 - 1));
        let Some(ib) = self.inode_bitmap.as_mut() else {
            return Ok(());
        };
        if ib.get(ino as u64 - 1) == used {
            return Ok(());
        }
        ib.set(ino as u64 - 1, used);
        let g = self.geo.inode_group(ino) as usize;
        let gd = &mut self.groups[g];
        if used {
            gd.bg_free_inodes_count = gd.bg_free_inodes_count.wrapping_sub(1);
            self.sb.s_free_inodes_count = self.sb.s_free_inodes_count.wrapping_sub(1);
            if dir {
                gd.bg_used_dirs_count = gd.bg_used_dirs_count.wrapping_add(1);
            }
        } else {
            gd.bg_free_inodes_count = gd.bg_free_inodes_count.wrapping_add(1);
            self.sb.s_free_inodes_count = self.sb.s_free_inodes_count.wrapping_add(1);
            if dir {
                gd.bg_used_dirs_count = gd.bg_used_dirs_count.wrapping_sub(1);
            }
        }
        self.dirty_groups[g] = true;
        self.dirty = true;
        Ok(())
    }

    /// Sets or clears one block's bitmap bit and nothing else: the free
    /// counts stay as they are (debugfs' setb/freeb, which mark the bitmap
    /// without libext2fs' alloc_stats; e2fsck then finds the counts wrong).
    pub fn set_block_bit(&mut self, block: u64, used: bool) -> Result<()> {
        self.require_write()?;
        self.check_block(block)?;
        self.load_bitmaps()?;
        let first = self.geo.first_data_block as u64;
        if block >= first {
            self.touch(Some(block - first), None);
        }
        if let Some(bb) = self.block_bitmap.as_mut() {
            if block >= first {
                bb.set(block - first, used);
                self.mark_group_dirty(self.geo.block_group(block));
            }
        }
        Ok(())
    }

    /// Sets or clears one inode's bitmap bit and nothing else (debugfs'
    /// seti/freei), the counts staying as they are.
    pub fn set_inode_bit(&mut self, ino: u32, used: bool) -> Result<()> {
        self.require_write()?;
        self.inode_location(ino)?;
        self.load_bitmaps()?;
        self.touch(None, Some(ino as u64 - 1));
        if let Some(ib) = self.inode_bitmap.as_mut() {
            ib.set(ino as u64 - 1, used);
            self.mark_group_dirty(self.geo.inode_group(ino));
        }
        Ok(())
    }

    /// How many blocks the block bitmap marks free.
    pub fn free_blocks_in_bitmap(&mut self) -> Result<u64> {
        self.load_bitmaps()?;
        Ok(self
            .block_bitmap
            .as_ref()
            .map_or(0, |bb| bb.count_clear(0, bb.len())))
    }

    /// Whether the block bitmap, as libext2fs holds it, has no bit set at
    /// all. libext2fs keeps the bitmaps of debugfs and e2fsck as red-black
    /// trees of set ranges, and its search for a clear bit
    /// (rb_find_first_zero) finds none in a tree with no range: on such a
    /// map ext2fs_new_block2 fails, although every block tests free. The
    /// last group's padding bits count, as libext2fs reads them in.
    pub fn block_bitmap_is_empty(&mut self) -> Result<bool> {
        self.load_bitmaps()?;
        let bb = self
            .block_bitmap
            .as_ref()
            .ok_or(Error::BitmapNotLoaded(BitmapKind::Block))?;
        Ok(!self.block_padding_set && bb.first_set(0, bb.len()).is_none())
    }

    /// Finds a free block, searching from `goal` to the end and then from
    /// the start (ext2fs_new_block2), without taking it.
    pub fn find_free_block(&mut self, goal: u64) -> Result<u32> {
        self.require_write()?;
        if self.block_bitmap_is_empty()? {
            return Err(Error::NoSpace { what: "a block" });
        }
        let first = self.geo.first_data_block as u64;
        let n = self.geo.blocks_count - first;
        let goal = goal.clamp(first, self.geo.blocks_count - 1) - first;
        let bb = self
            .block_bitmap
            .as_ref()
            .ok_or(Error::BitmapNotLoaded(BitmapKind::Block))?;
        let found = bb.first_clear(goal, n).or_else(|| bb.first_clear(0, goal));
        let Some(rel) = found else {
            return Err(Error::NoSpace { what: "a block" });
        };
        Ok((rel + first) as u32)
    }

    /// Allocates a free block, searching from `goal` to the end and then
    /// from the start (ext2's goal-directed allocation).
    pub fn alloc_block(&mut self, goal: u64) -> Result<u32> {
        let block = self.find_free_block(goal)?;
        self.mark_block(block as u64, true)?;
        Ok(block)
    }

    /// Allocates an inode: directories go to a group with free inodes above
    /// average and the most free blocks (the kernel's ext2 find_group_dir),
    /// other files near their parent.
    pub fn alloc_inode(&mut self, parent: u32, dir: bool) -> Result<u32> {
        self.require_write()?;
        self.load_bitmaps()?;
        if self.inode_bitmap.is_none() {
            return Err(Error::BitmapNotLoaded(BitmapKind::Inode));
        }
        let ngroups = self.geo.group_count;
        let parent_group = self.geo.inode_group(parent.max(1)).min(ngroups - 1);
        let order: Vec<u32> = if dir {
            let avg = self.sb.s_free_inodes_count / ngroups;
            let mut best: Option<u32> = None;
            for g in 0..ngroups {
                let gd = &self.groups[g as usize];
                if gd.bg_free_inodes_count as u32 >= avg.max(1)
                    && best.is_none_or(|b| {
                        gd.bg_free_blocks_count > self.groups[b as usize].bg_free_blocks_count
                    })
                {
                    best = Some(g);
                }
            }
            let start = best.unwrap_or(parent_group);
            (0..ngroups).map(|i| (start + i) % ngroups).collect()
        } else {
            (0..ngroups).map(|i| (parent_group + i) % ngroups).collect()
        };
        let first_ino = self.sb.first_ino();
        for g in order {
            if self.groups[g as usize].bg_free_inodes_count == 0 {
                continue;
            }
            let ib = self
                .inode_bitmap
                .as_ref()
                .ok_or(Error::NoSpace { what: "inode" })?;
            let lo = (g as u64 * self.geo.inodes_per_group as u64).max(first_ino as u64 - 1);
            let hi = (g as u64 + 1) * self.geo.inodes_per_group as u64;
            if let Some(i) = ib.first_clear(lo, hi) {
                let ino = i as u32 + 1;
                self.mark_inode(ino, true, dir)?;
                return Ok(ino);
            }
        }
        Err(Error::NoSpace { what: "an inode" })
    }

    /// Allocates an inode as libext2fs' ext2fs_new_inode with
    /// ext2fs_inode_alloc_stats2: the first free one from the start of
    /// `near`'s group on, then from the first non-reserved inode, whatever
    /// the groups' free counts say (e2fsck makes /lost+found this way, not
    /// with the kernel's spreading of directories).
    pub fn alloc_inode_first_free(&mut self, near: u32, dir: bool) -> Result<u32> {
        self.require_write()?;
        self.load_bitmaps()?;
        let ipg = self.geo.inodes_per_group as u64;
        let count = self.sb.s_inodes_count as u64;
        let first = self.sb.first_ino() as u64;
        let group_start = if near > 0 {
            (near as u64 - 1) / ipg * ipg + 1
        } else {
            0
        };
        let start = group_start.max(first);
        let ib = self
            .inode_bitmap
            .as_ref()
            .ok_or(Error::BitmapNotLoaded(BitmapKind::Inode))?;
        // Bit i is inode i + 1.
        let found = ib
            .first_clear(start - 1, count)
            .or_else(|| ib.first_clear(first - 1, start - 1));
        let Some(bit) = found.filter(|_| start <= count) else {
            return Err(Error::NoSpace { what: "an inode" });
        };
        let ino = bit as u32 + 1;
        self.mark_inode(ino, true, dir)?;
        Ok(ino)
    }

    /// Replaces the in-memory bitmaps (a checker hands over the maps it
    /// computed, so that later allocations never pick a block in use).
    /// Every group's bitmaps are written by the next `flush`.
    pub fn install_bitmaps(&mut self, blocks: Bitmap, inodes: Bitmap) {
        self.touched_bits = Some((Bitmap::new(blocks.len()), Bitmap::new(inodes.len())));
        self.block_bitmap = Some(blocks);
        self.inode_bitmap = Some(inodes);
        self.dirty_groups.iter_mut().for_each(|d| *d = true);
        self.dirty = true;
    }

    /// The block bits (relative to the first data block) and inode bits
    /// (inode number - 1) set or cleared through this library since the
    /// last `install_bitmaps`; None before any.
    pub fn touched_bitmap_bits(&self) -> Option<(&Bitmap, &Bitmap)> {
        self.touched_bits.as_ref().map(|(b, i)| (b, i))
    }

    pub(super) fn touch(&mut self, block: Option<u64>, inode: Option<u64>) {
        if let Some((bt, it)) = self.touched_bits.as_mut() {
            if let Some(b) = block.filter(|&b| b < bt.len()) {
                bt.set(b, true);
            }
            if let Some(i) = inode.filter(|&i| i < it.len()) {
                it.set(i, true);
            }
        }
    }

    /// The in-memory block and inode bitmaps, when loaded or installed.
    pub fn bitmaps(&self) -> Option<(&Bitmap, &Bitmap)> {
        match (&self.block_bitmap, &self.inode_bitmap) {
            (Some(b), Some(i)) => Some((b, i)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::fs::test_fs;
    use crate::inode::ROOT_INO;

    #[test]
    fn first_free_inode_from_the_group_of_near_then_wrapping() {
        let mut fs = test_fs(false);
        let first = fs.sb().first_ino();
        let ipg = fs.geo().inodes_per_group;
        // The root's group: the first inode past the reserved ones in use.
        let a = fs.alloc_inode_first_free(ROOT_INO, true).unwrap();
        assert!(a > first && a <= ipg, "{a}");
        assert!(fs.test_inode(a).unwrap());
        // Near an inode of a later group: from that group's start.
        if fs.geo().group_count > 1 {
            let b = fs.alloc_inode_first_free(ipg + 5, false).unwrap();
            assert_eq!(b, ipg + 1);
        }
        // Nothing free: the allocator's own failure.
        while fs.alloc_inode_first_free(ROOT_INO, false).is_ok() {}
        let e = fs.alloc_inode_first_free(ROOT_INO, false).unwrap_err();
        assert_eq!(
            e.com_err_text(),
            "Could not allocate inode in ext2 filesystem"
        );
    }
}
