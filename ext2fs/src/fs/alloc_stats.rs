//! libext2fs' alloc_stats (counting a block or inode taken or given back
//! whatever its bit said before, as ext2fs_block_alloc_stats2 and
//! ext2fs_inode_alloc_stats2 count) and ext2fs_fallocate on a
//! block-mapped file, block by block as ext2fs_bmap2 with BMAP_ALLOC
//! places them: for tools that follow debugfs' requests byte for byte
//! (undelete, fallocate).

use super::Filesystem;
use crate::block_map;
use crate::group_desc::{BG_BLOCK_UNINIT, BG_INODE_UNINIT};
use crate::inode::{flags, Inode};
use crate::{Error, Result};

impl Filesystem {
    /// ext2fs_block_alloc_stats2(fs, block, ±1): the bit set or cleared
    /// and the group's and superblock's free counts moved by one in any
    /// case (16 and 32 bits, wrapping as there). A block past the end is
    /// refused with [`Error::BlockOutOfRange`] (libext2fs says "Illegal
    /// block number" and does nothing).
    pub fn block_alloc_stats(&mut self, block: u64, used: bool) -> Result<()> {
        self.require_write()?;
        self.check_block(block)?;
        self.load_bitmaps()?;
        let first = u64::from(self.geo.first_data_block);
        self.withheld_changed.0 |= self.bitmaps_withheld;
        if block >= first {
            self.touch(Some(block - first), None);
            if let Some(bb) = self.block_bitmap.as_mut() {
                bb.set(block - first, used);
            }
        }
        let g = self.geo.block_group(block) as usize;
        let gd = &mut self.groups[g];
        let step: u16 = 1;
        gd.bg_free_blocks_count = if used {
            gd.bg_free_blocks_count.wrapping_sub(step)
        } else {
            gd.bg_free_blocks_count.wrapping_add(step)
        };
        gd.bg_flags &= !BG_BLOCK_UNINIT;
        self.sb.s_free_blocks_count = if used {
            self.sb.s_free_blocks_count.wrapping_sub(1)
        } else {
            self.sb.s_free_blocks_count.wrapping_add(1)
        };
        self.dirty_groups[g] = true;
        self.dirty = true;
        Ok(())
    }

    /// ext2fs_inode_alloc_stats2(fs, ino, ±1, dir): as
    /// [`Filesystem::block_alloc_stats`] for an inode.
    pub fn inode_alloc_stats(&mut self, ino: u32, used: bool, dir: bool) -> Result<()> {
        self.require_write()?;
        self.inode_location(ino)?;
        self.load_bitmaps()?;
        self.touch(None, Some(u64::from(ino) - 1));
        self.withheld_changed.1 |= self.bitmaps_withheld;
        if let Some(ib) = self.inode_bitmap.as_mut() {
            ib.set(u64::from(ino) - 1, used);
        }
        let g = self.geo.inode_group(ino) as usize;
        let gd = &mut self.groups[g];
        if used {
            gd.bg_free_inodes_count = gd.bg_free_inodes_count.wrapping_sub(1);
            if dir {
                gd.bg_used_dirs_count = gd.bg_used_dirs_count.wrapping_add(1);
            }
            self.sb.s_free_inodes_count = self.sb.s_free_inodes_count.wrapping_sub(1);
        } else {
            gd.bg_free_inodes_count = gd.bg_free_inodes_count.wrapping_add(1);
            if dir {
                gd.bg_used_dirs_count = gd.bg_used_dirs_count.wrapping_sub(1);
            }
            self.sb.s_free_inodes_count = self.sb.s_free_inodes_count.wrapping_add(1);
        }
        gd.bg_flags &= !BG_INODE_UNINIT;
        self.dirty_groups[g] = true;
        self.dirty = true;
        Ok(())
    }

    /// ext2fs_alloc_block: a free block from `goal` (0 or past the end:
    /// the first data block), zeroed and counted.
    fn alloc_zeroed(&mut self, goal: u64) -> Result<u32> {
        let goal = if goal == 0 || goal >= self.geo.blocks_count {
            u64::from(self.geo.first_data_block)
        } else {
            goal
        };
        let b = self.find_free_block(goal)?;
        self.write_block(u64::from(b), &vec![0; self.geo.block_size as usize])?;
        self.block_alloc_stats(u64::from(b), true)?;
        Ok(b)
    }

    /// ext2fs_find_inode_goal for a block-mapped inode: its block 0, else
    /// the first block of its (flex) group.
    fn inode_goal(&self, ino: u32, inode: &Inode) -> u64 {
        let mapped = !inode.is_fast_symlink() && inode.flags() & flags::INLINE_DATA == 0;
        if mapped && inode.base.i_block[0] != 0 {
            return u64::from(inode.base.i_block[0]);
        }
        let mut group = self.geo.inode_group(ino);
        let log_flex = u32::from(self.sb.s_log_groups_per_flex);
        if log_flex != 0 && log_flex < 32 {
            group &= !((1u32 << log_flex) - 1);
        }
        self.geo.group_first_block(group)
    }

    /// ext2fs_bmap2(…, BMAP_ALLOC, lblk) on a block-mapped inode: the
    /// block if mapped, else one allocated with libext2fs' goals (the
    /// pointer before it at each level, or the block holding it; for a
    /// new indirect block the i_block pointer before it), the indirect
    /// blocks on the way first. The inode is written after an
    /// allocation, i_blocks counting what was added.
    fn bmap_alloc(&mut self, ino: u32, inode: &mut Inode, lblk: u64) -> Result<u32> {
        let (slot, path) = block_map::path_to(lblk, self.geo.block_size)?;
        let sectors = self.geo.block_size / 512;
        let mut added = 0u32;
        let result = (|| {
            if inode.base.i_block[slot] == 0 {
                // A direct block's goal is the block before it; an
                // indirect block's, the i_block pointer before it.
                let goal = if slot == 0 {
                    self.inode_goal(ino, inode)
                } else {
                    u64::from(inode.base.i_block[slot - 1])
                };
                let b = self.alloc_zeroed(goal)?;
                inode.base.i_block[slot] = b;
                added += 1;
            }
            let mut cur = inode.base.i_block[slot];
            for idx in path {
                let mut next = self.map_entry(u64::from(cur), idx)?;
                if next == 0 {
                    let goal = if idx > 0 {
                        self.map_entry(u64::from(cur), idx - 1)?
                    } else {
                        cur
                    };
                    next = self.alloc_zeroed(u64::from(goal))?;
                    self.modify_block(u64::from(cur), |buf| {
                        crate::codec::put32(buf, idx * 4, next)
                    })?;
                    added += 1;
                }
                cur = next;
            }
            Ok(cur)
        })();
        if added > 0 {
            inode.base.i_blocks = inode.base.i_blocks.wrapping_add(added * sectors);
            self.write_inode(ino, inode)?;
        }
        result
    }

    /// ext2fs_fallocate(fs, INIT_BEYOND_EOF, ino, NULL, ~0, start, len) on
    /// a block-mapped inode: every hole from `start` for `len` blocks
    /// gets a zeroed block; i_size is left alone. More blocks than the
    /// filesystem has fail at once (EXT2_ET_BLOCK_ALLOC_FAIL, as
    /// [`Error::NoSpace`]).
    pub fn fallocate_block_mapped(&mut self, ino: u32, start: u64, len: u64) -> Result<()> {
        if len > self.geo.blocks_count {
            return Err(Error::NoSpace { what: "block" });
        }
        if len == 0 {
            return Ok(());
        }
        let mut inode = self.read_inode(ino)?;
        for lblk in start..start.saturating_add(len) {
            if self.bmap_anywhere(&inode, lblk)?.is_some() {
                continue;
            }
            self.bmap_alloc(ino, &mut inode, lblk)?;
        }
        self.write_inode(ino, &inode)
    }
}

impl Filesystem {
    /// Writes one block wherever its number points, as libext2fs' I/O
    /// channel writes: inside the filesystem as [`Filesystem::write_block`],
    /// past its end into the image (which grows, for a file). For
    /// debugfs' zap_block, which writes any block number it is given.
    pub fn write_block_anywhere(&mut self, block: u64, data: &[u8]) -> Result<()> {
        if block < self.geo.blocks_count {
            return self.write_block(block, data);
        }
        self.require_write()?;
        let bs = u64::from(self.geo.block_size);
        let at = block.checked_mul(bs).ok_or(Error::BlockOutOfRange {
            block,
            blocks: self.geo.blocks_count,
        })?;
        self.image.write_at(at, data)
    }
}
