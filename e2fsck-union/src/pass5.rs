//! Pass 5: the bitmaps on disk against what passes 1-4 found, then the
//! free counts of each group and of the superblock, and bitmap padding.

use anyhow::Result;
use ext2fs::bitmap::Bitmap;
use ext2fs::group_desc::BG_BLOCK_UNINIT;

use crate::checker::{Checker, RepairBlocks};
use crate::problem::{Code, Ctx};

/// The bitmaps as they were on disk before any repair, and their padding
/// as libext2fs judges it when it reads them: the last group's blocks past
/// the end of the filesystem (loaded with the bitmap) and every bitmap
/// block's tail past a group's worth of bits (a flag set while reading).
#[derive(Clone)]
pub struct DiskBitmaps {
    pub blocks: Bitmap,
    pub inodes: Bitmap,
    pub block_end_padding_ok: bool,
    pub block_tail_ok: bool,
    pub inode_tail_ok: bool,
    /// The bitmap blocks that could not be read, in e2fsck's reading
    /// order (each group's block bitmap, then its inode bitmap), for the
    /// handler's questions when e2fsck reads them at pass 5.
    pub unreadable: Vec<(ext2fs::BitmapKind, u32, u64)>,
}

/// Whether bits `from..to` of a bitmap block are all set.
fn all_ones(block: &[u8], from: u64, to: u64) -> bool {
    (from..to.min(block.len() as u64 * 8)).all(|i| ext2fs::bitmap::block_bit(block, i))
}

impl Checker {
    pub fn read_disk_bitmaps(&self) -> DiskBitmaps {
        let geo = self.fs.geo();
        let mut blocks = Bitmap::new(self.found.len());
        let mut inodes = Bitmap::new(self.inodes_count as u64);
        let mut block_end_padding_ok = true;
        let mut block_tail_ok = true;
        let mut inode_tail_ok = true;
        let mut unreadable = Vec::new();
        let bpg = geo.blocks_per_group as u64;
        for g in 0..geo.group_count {
            let gd = self.fs.groups()[g as usize];
            let first = geo.group_first_block(g) - self.first_data;
            let nb = geo.blocks_in_group(g) as u64;
            let read = self.read_meta_block(gd.bg_block_bitmap as u64);
            if let Err(b) = read {
                unreadable.push((ext2fs::BitmapKind::Block, g, b));
            }
            if let Ok(Some(buf)) = read {
                blocks.load_group(first, &buf, nb);
                block_end_padding_ok &= all_ones(&buf, nb, bpg);
                block_tail_ok &= all_ones(&buf, bpg, u64::MAX);
            } else {
                // libext2fs reads an unreadable bitmap as all zeros, its
                // padding included.
                block_end_padding_ok &= nb >= bpg;
            }
            let ifirst = g as u64 * geo.inodes_per_group as u64;
            let ni = geo.inode_bitmap_bits_read();
            match self.read_meta_block(gd.bg_inode_bitmap as u64) {
                Ok(Some(buf)) => {
                    inodes.load_group(ifirst, &buf, ni);
                    inode_tail_ok &= all_ones(&buf, ni, u64::MAX);
                }
                Ok(None) => {}
                Err(b) => unreadable.push((ext2fs::BitmapKind::Inode, g, b)),
            }
        }
        self.mark_uninit_group_metadata(&mut blocks);
        for &b in &self.early_allocs {
            if self.block_ok(b) {
                blocks.set(b - self.first_data, true);
            }
        }
        DiskBitmaps {
            blocks,
            inodes,
            block_end_padding_ok,
            block_tail_ok,
            inode_tail_ok,
            unreadable,
        }
    }

    /// libext2fs' read of the block bitmaps marks the metadata of every
    /// group flagged BLOCK_UNINIT in use, with or without the checksum
    /// features (mark_uninit_bg_group_blocks): its superblock copy and
    /// descriptor blocks, inode table and bitmaps. On ext2 the flag is
    /// left there only when pass 0's question about it is declined.
    fn mark_uninit_group_metadata(&self, blocks: &mut Bitmap) {
        let geo = self.fs.geo();
        let count = geo.blocks_count;
        let mut mark = |b: u64| {
            if b >= self.first_data && b < count {
                blocks.set(b - self.first_data, true);
            }
        };
        for g in 0..geo.group_count {
            let gd = self.fs.groups()[g as usize];
            if gd.bg_flags & BG_BLOCK_UNINIT == 0 {
                continue;
            }
            let m = geo.group_metadata(g);
            m.super_block.into_iter().for_each(&mut mark);
            if let Some((first, n)) = m.table {
                (first..first + n as u64).for_each(&mut mark);
            }
            m.meta_desc.into_iter().for_each(&mut mark);
            let table = gd.bg_inode_table as u64;
            if table != 0 {
                (table..table + geo.inode_table_blocks as u64).for_each(&mut mark);
            }
            for b in [gd.bg_block_bitmap, gd.bg_inode_bitmap] {
                if b != 0 {
                    mark(b as u64);
                }
            }
        }
    }

    /// A bitmap block as libext2fs reads it: none for 0 or a block
    /// outside the filesystem (read as clear), `Err(b)` when reading
    /// block `b` failed.
    fn read_meta_block(&self, b: u64) -> std::result::Result<Option<Vec<u8>>, u64> {
        if b == 0 || !self.block_ok(b) {
            return Ok(None);
        }
        self.fs.read_block(b).map(Some).map_err(|_| b)
    }

    /// Gives the library the maps passes 1-1D built, so every later
    /// allocation and release keeps them (and the group counts) current.
    pub fn hand_over_bitmaps(&mut self) {
        let blocks = std::mem::take(&mut self.found);
        let inodes = self.used.clone();
        // The blocks set aside for pass 3 are in e2fsck's found map only,
        // not in the filesystem's bitmap: what pass 3 does with them is a
        // change after the hand-over.
        let mut then = blocks.clone();
        let RepairBlocks { root, lost_found } = self.repair_blocks;
        for b in [root, lost_found].into_iter().flatten() {
            then.set(b - self.first_data, false);
        }
        self.handed_over_maps = Some((then, inodes.clone()));
        self.fs.install_bitmaps(blocks, inodes);
        self.handed_over = true;
    }

    /// The on-disk bitmaps as e2fsck holds them by pass 5: what passes
    /// 2-4 allocated or released went through ext2fs_*_alloc_stats, which
    /// change them too, so those changes are no difference.
    /// A bit set and cleared again (a pass-2 hole filled, then freed by
    /// pass 3A's rebuild) ends as the last change left it, on disk too.
    fn with_later_changes(&self, disk: &DiskBitmaps, bb: &Bitmap, ib: &Bitmap) -> DiskBitmaps {
        let mut disk = disk.clone();
        let touched = self.fs.touched_bitmap_bits();
        if let Some((hb, hi)) = &self.handed_over_maps {
            let (tb, ti) = touched.map_or((None, None), |(b, i)| (Some(b), Some(i)));
            for (then, now, on_disk, touched) in [
                (hb, bb, &mut disk.blocks, tb),
                (hi, ib, &mut disk.inodes, ti),
            ] {
                for i in 0..then.len().min(now.len()).min(on_disk.len()) {
                    let changed = then.get(i) != now.get(i)
                        || touched.is_some_and(|t| i < t.len() && t.get(i));
                    if changed {
                        on_disk.set(i, now.get(i));
                    }
                }
            }
        }
        disk
    }

    /// Before the check starts over after pass 2: the filesystem keeps
    /// its own bitmaps with what was allocated and released since (as
    /// e2fsck's, which reopens the filesystem), not the maps the passes
    /// built, so the next pass 5 still finds what they were wrong about.
    pub fn restore_disk_bitmaps(&mut self, disk: &DiskBitmaps) {
        let Some((bb, ib)) = self.fs.bitmaps() else {
            return;
        };
        let (bb, ib) = (bb.clone(), ib.clone());
        let kept = self.with_later_changes(disk, &bb, &ib);
        self.fs.install_bitmaps(kept.blocks, kept.inodes);
    }

    /// The block bitmap differences as e2fsck's check_block_bitmaps walks
    /// them: a block in use that the bitmap misses, in a group flagged
    /// BLOCK_UNINIT, is asked about where the walk meets it (the flag
    /// cleared on yes), and each run is printed once the walk has met the
    /// first block past it, so the questions come between the runs.
    fn block_differences(&mut self, runs: &[Run]) -> Result<()> {
        let geo = self.fs.geo().clone();
        let ask_uninit = |ck: &mut Checker, rel: u64| -> Result<()> {
            let block = rel + ck.first_data;
            let group = geo.block_group(block);
            if ck.fs.groups()[group as usize].bg_flags & BG_BLOCK_UNINIT == 0 {
                return Ok(());
            }
            let c = Ctx {
                group,
                blk: block,
                ..Default::default()
            };
            if ck.problem(Code::BlockUninitInUse, &c)? {
                ck.fs
                    .update_group(group, |gd| gd.bg_flags &= !BG_BLOCK_UNINIT)?;
                ck.fs.mark_group_dirty(group);
            }
            Ok(())
        };
        for (k, run) in runs.iter().enumerate() {
            let questions = if run.used {
                run.start..run.end + 1
            } else {
                0..0
            };
            let mut questions = questions.into_iter();
            if let Some(b) = questions.next() {
                ask_uninit(self, b)?;
            }
            if k > 0 {
                self.print_run(k == 1, &runs[k - 1])?;
            }
            for b in questions {
                ask_uninit(self, b)?;
            }
        }
        if let Some(last) = runs.last() {
            self.print_run(runs.len() == 1, last)?;
        }
        Ok(())
    }

    /// One run of the block bitmap differences, after the header when it
    /// is the first.
    fn print_run(&mut self, first: bool, run: &Run) -> Result<()> {
        if first {
            self.problem(Code::BlockBitmapHeader, &Ctx::default())?;
        }
        self.ask.raw(&run.text(self.first_data));
        Ok(())
    }

    /// e2fsck_read_bitmaps' reads at the start of pass 5 (the first time
    /// e2fsck reads the bitmaps when nothing was allocated before): the
    /// blocks found unreadable after pass 1 are read again in e2fsck's
    /// order, each failure put to the I/O error handler. One it does not
    /// let pass ends the check: "PROG: Can't read a block bitmap while
    /// retrying to read bitmaps for DEV". (What was read goes on to be
    /// judged from the copy taken after pass 1.)
    pub fn read_bitmaps_handled(&mut self, disk: &DiskBitmaps, prog: &str) -> Result<()> {
        let before = self
            .read_errors
            .operation
            .replace("reading inode and block bitmaps".into());
        let mut failed = None;
        for &(which, group, b) in &disk.unreadable {
            let Err(e @ ext2fs::Error::BlockRead { .. }) = self.fs.read_block(b) else {
                continue;
            };
            if self.read_error(e)?.is_none() {
                failed = Some(ext2fs::Error::BitmapRead {
                    which,
                    group,
                    source: Box::new(ext2fs::Error::Stopped),
                });
                break;
            }
        }
        self.read_errors.operation = before;
        if let Some(e) = failed {
            eprintln!(
                "{prog}: {} while retrying to read bitmaps for {}",
                e.com_err_text(),
                self.ask.device
            );
            return Err(crate::ask::Stop::Aborted.into());
        }
        Ok(())
    }

    pub fn pass5(&mut self, disk: &DiskBitmaps) -> Result<()> {
        let Some((bb, ib)) = self.fs.bitmaps() else {
            return Ok(());
        };
        let (bb, ib) = (bb.clone(), ib.clone());
        let disk = &self.with_later_changes(disk, &bb, &ib);
        let geo = self.fs.geo().clone();
        // Block bitmap differences.
        // A block bitmap replaced by the one the passes built gets the
        // end of its last group set with it (ext2fs_set_bitmap_padding);
        // the tails read from disk stay reported.
        // The free counts come from the bitmap kept: the one the passes
        // built, or the one on disk when its differences are not fixed.
        let mut block_end_padding_ok = disk.block_end_padding_ok;
        let mut kept_blocks = &bb;
        let runs = difference_runs(&bb, &disk.blocks);
        if !runs.is_empty() {
            self.block_differences(&runs)?;
            if self.problem(Code::BlockBitmapEnd, &Ctx::default())? {
                block_end_padding_ok = true;
            } else {
                let inodes = ib.clone();
                self.fs.install_bitmaps(disk.blocks.clone(), inodes);
                kept_blocks = &disk.blocks;
            }
        }
        let mut total_free = 0u64;
        for g in 0..geo.group_count {
            let first = geo.group_first_block(g) - self.first_data;
            let n = geo.blocks_in_group(g) as u64;
            let free = kept_blocks.count_clear(first, first + n);
            total_free += free;
            let have = self.fs.groups()[g as usize].bg_free_blocks_count as u64;
            if have != free {
                let c = Ctx {
                    group: g,
                    num: have,
                    num2: free,
                    ..Default::default()
                };
                if self.problem(Code::FreeBlocksGroup, &c)? {
                    self.fs
                        .update_group(g, |gd| gd.bg_free_blocks_count = free as u16)?;
                    self.fs.mark_group_dirty(g);
                }
            }
        }
        let have = self.fs.sb().s_free_blocks_count as u64;
        if have != total_free {
            let c = Ctx {
                num: have,
                num2: total_free,
                ..Default::default()
            };
            if self.problem(Code::FreeBlocksTotal, &c)? {
                self.fs
                    .update_superblock(|sb| sb.s_free_blocks_count = total_free as u32);
            }
        }
        // Inode bitmap differences.
        let mut kept_inodes = &ib;
        let diffs = differences(&ib, &disk.inodes, 1);
        if !diffs.is_empty() {
            self.problem(Code::InodeBitmapHeader, &Ctx::default())?;
            self.ask.raw(&diffs);
            if !self.problem(Code::InodeBitmapEnd, &Ctx::default())? {
                if let Some((blocks, _)) = self.fs.bitmaps() {
                    let blocks = blocks.clone();
                    self.fs.install_bitmaps(blocks, disk.inodes.clone());
                }
                kept_inodes = &disk.inodes;
            }
        }
        let mut total_free = 0u64;
        for g in 0..geo.group_count {
            let first = g as u64 * geo.inodes_per_group as u64;
            let n = geo.inodes_per_group as u64;
            let free = kept_inodes.count_clear(first, first + n);
            total_free += free;
            // Directories count where the kept bitmap says in use.
            let dirs = (first..first + n)
                .filter(|&i| self.dirs.get(i) && kept_inodes.get(i))
                .count() as u64;
            let gd = self.fs.groups()[g as usize];
            if gd.bg_free_inodes_count as u64 != free {
                let c = Ctx {
                    group: g,
                    num: gd.bg_free_inodes_count as u64,
                    num2: free,
                    ..Default::default()
                };
                if self.problem(Code::FreeInodesGroup, &c)? {
                    self.fs
                        .update_group(g, |gd| gd.bg_free_inodes_count = free as u16)?;
                    self.fs.mark_group_dirty(g);
                }
            }
            if gd.bg_used_dirs_count as u64 != dirs {
                let c = Ctx {
                    group: g,
                    num: gd.bg_used_dirs_count as u64,
                    num2: dirs,
                    ..Default::default()
                };
                if self.problem(Code::DirsCountGroup, &c)? {
                    self.fs
                        .update_group(g, |gd| gd.bg_used_dirs_count = dirs as u16)?;
                    self.fs.mark_group_dirty(g);
                }
            }
        }
        let have = self.fs.sb().s_free_inodes_count as u64;
        if have != total_free {
            let c = Ctx {
                num: have,
                num2: total_free,
                ..Default::default()
            };
            if self.problem(Code::FreeInodesTotal, &c)? {
                self.fs
                    .update_superblock(|sb| sb.s_free_inodes_count = total_free as u32);
            }
        }
        // Padding is written by the next flush (every group is written).
        if !disk.inode_tail_ok {
            self.problem(Code::InodeBitmapPadding, &Ctx::default())?;
        }
        if !block_end_padding_ok || !disk.block_tail_ok {
            self.problem(Code::BlockBitmapPadding, &Ctx::default())?;
        }
        Ok(())
    }
}

/// A run of bits that differ alike between what should be and what is
/// on disk: `start..=end`, in use (`+`) or not (`-`).
struct Run {
    start: u64,
    end: u64,
    used: bool,
}

impl Run {
    /// " +(22--23)" or " -60"; `base` is the number of bit 0.
    fn text(&self, base: u64) -> String {
        let sign = if self.used { '+' } else { '-' };
        if self.end > self.start {
            format!(" {sign}({}--{})", self.start + base, self.end + base)
        } else {
            format!(" {sign}{}", self.start + base)
        }
    }
}

fn difference_runs(want: &Bitmap, have: &Bitmap) -> Vec<Run> {
    let mut out = Vec::new();
    let n = want.len();
    let mut i = 0;
    while i < n {
        let w = want.get(i);
        if w == have.get(i) {
            i += 1;
            continue;
        }
        let start = i;
        while i + 1 < n && want.get(i + 1) == w && have.get(i + 1) != w {
            i += 1;
        }
        out.push(Run {
            start,
            end: i,
            used: w,
        });
        i += 1;
    }
    out
}

/// " +(22--23) +49 -60" between what should be and what is on disk;
/// `base` is the number of bit 0.
fn differences(want: &Bitmap, have: &Bitmap, base: u64) -> String {
    difference_runs(want, have)
        .iter()
        .map(|r| r.text(base))
        .collect()
}
