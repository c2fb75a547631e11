//! Writing metadata back: dirty marks, and the flush of bitmaps,
//! descriptor table and superblock copies.

use super::Filesystem;
use crate::group_desc;
use crate::Result;

impl Filesystem {
    /// Marks one group's descriptor and bitmaps as changed.
    pub fn mark_group_dirty(&mut self, group: u32) {
        if let Some(d) = self.dirty_groups.get_mut(group as usize) {
            *d = true;
        }
        self.dirty = true;
    }

    /// Marks the superblock as changed (written by `flush`).
    pub fn mark_super_dirty(&mut self) {
        self.dirty = true;
    }

    /// Whether `flush` leaves the backup superblocks and descriptors alone
    /// (a checker's default: mount counts and check times are kept in the
    /// primary only; a repair the backups need turns it off).
    pub fn set_primary_only(&mut self, on: bool) {
        self.primary_only = on;
    }

    /// Whether `flush` will leave the backups alone (see
    /// [`Filesystem::set_primary_only`]).
    pub fn primary_only(&self) -> bool {
        self.primary_only
    }

    /// Writes bitmaps of changed groups, the descriptor table and the
    /// superblock, with their backups (s_block_group_nr set in each copy)
    /// unless `set_primary_only`.
    pub fn flush(&mut self) -> Result<()> {
        if let Some(c) = &mut self.cache {
            c.write_out(&self.image)?;
        }
        if !self.image.is_writable() || !self.dirty {
            return Ok(());
        }
        let geo = self.geo.clone();
        let bs = geo.block_size as usize;
        if let (Some(bb), Some(ib)) = (&self.block_bitmap, &self.inode_bitmap) {
            for g in 0..geo.group_count {
                if !self.dirty_groups[g as usize] {
                    continue;
                }
                let gd = self.groups[g as usize];
                let first = geo.group_first_block(g) - geo.first_data_block as u64;
                let bbuf = bb.group_block(first, geo.blocks_in_group(g) as u64, bs);
                let ifirst = g as u64 * geo.inodes_per_group as u64;
                // Only the bits libext2fs reads back, padding after them.
                let ibuf = ib.group_block(ifirst, geo.inode_bitmap_bits_read(), bs);
                for (at, buf) in [(gd.bg_block_bitmap, bbuf), (gd.bg_inode_bitmap, ibuf)] {
                    if self.bitmap_block_usable(at) {
                        self.image.write_at(at as u64 * bs as u64, &buf)?;
                    }
                }
            }
        }
        self.sb.s_wtime = self.now();
        let table = group_desc::write_table(&self.groups, geo.desc_blocks as usize * bs);
        let backups = if self.primary_only {
            Vec::new()
        } else {
            geo.backup_groups()
        };
        for g in std::iter::once(0).chain(backups) {
            let copy = self.sb.backup_copy(g);
            self.image
                .write_at(geo.superblock_offset(g), &copy.to_bytes())?;
        }
        for (block, first, count) in geo.descriptor_copies(self.primary_only) {
            let at = first as usize * bs;
            self.image
                .write_at(block * bs as u64, &table[at..at + count as usize * bs])?;
        }
        self.dirty_groups.iter_mut().for_each(|d| *d = false);
        self.dirty = false;
        Ok(())
    }

    /// Flushes and fsyncs; the filesystem stays open.
    pub fn sync(&mut self) -> Result<()> {
        self.flush()?;
        self.image.sync()
    }

    /// Flushes, fsyncs and closes.
    pub fn close(mut self) -> Result<()> {
        self.sync()
    }
}
