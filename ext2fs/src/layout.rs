//! Group geometry: where each group starts and ends, which groups carry
//! superblock backups (sparse_super: 0, 1 and powers of 3, 5 and 7), and
//! where the descriptor table's blocks are: one table after each
//! superblock copy (with the reserved GDT blocks), or, under meta_bg, each
//! descriptor block in the first, second and last group of the "meta
//! group" it describes (groups before s_first_meta_bg's meta groups keep
//! the classic table).

use crate::features::{compat, incompat, ro_compat, FeatureSet};
use crate::group_desc::GroupDesc;
use crate::superblock::Superblock;

fn is_power_of(mut n: u32, base: u32) -> bool {
    while n > 1 {
        if !n.is_multiple_of(base) {
            return false;
        }
        n /= base;
    }
    n == 1
}

/// ext2fs_bg_has_super for ext2 without sparse_super2 (and no meta_bg).
pub fn group_has_super(features: FeatureSet, group: u32) -> bool {
    if group == 0 {
        return true;
    }
    if features.ro_compat & ro_compat::SPARSE_SUPER == 0 {
        return true;
    }
    if group <= 1 {
        return true;
    }
    if group & 1 == 0 {
        return false;
    }
    is_power_of(group, 3) || is_power_of(group, 5) || is_power_of(group, 7)
}

/// Geometry derived from a superblock; every value here is in range once
/// `Superblock::validate` has passed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Block size in bytes.
    pub block_size: u32,
    /// Blocks in the filesystem.
    pub blocks_count: u64,
    /// The primary superblock's block (s_first_data_block).
    pub first_data_block: u32,
    /// Blocks per group.
    pub blocks_per_group: u32,
    /// Inodes per group.
    pub inodes_per_group: u32,
    /// Inode size in bytes.
    pub inode_size: u32,
    /// Number of groups.
    pub group_count: u32,
    /// Blocks of the group descriptor table (in each copy).
    pub desc_blocks: u32,
    /// Descriptor blocks reserved for growth (after each table copy).
    pub reserved_gdt_blocks: u32,
    /// Inode table length in blocks.
    pub inode_table_blocks: u32,
    /// The feature words.
    pub features: FeatureSet,
    /// sparse_super2: the only groups (besides 0) with a backup.
    pub backup_bgs: [u32; 2],
    /// meta_bg: descriptor blocks before this one stay in the classic
    /// table (s_first_meta_bg; 0 without meta_bg).
    pub first_meta_bg: u32,
}

/// Where a group's superblock copy and descriptor blocks are
/// (ext2fs_super_and_bgd_loc2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupMetadata {
    /// The superblock copy (the primary's block for group 0).
    pub super_block: Option<u64>,
    /// The classic descriptor table copy after the superblock: its first
    /// block and length (descriptor plus reserved GDT blocks, or under
    /// meta_bg the s_first_meta_bg blocks that stay classic).
    pub table: Option<(u64, u32)>,
    /// meta_bg: this group's copy of its meta group's descriptor block.
    pub meta_desc: Option<u64>,
}

/// ext2fs_bg_has_super: with sparse_super2 only group 0 and the (up to
/// two) groups the superblock names hold a backup.
pub(crate) fn has_super_with(features: FeatureSet, backup_bgs: [u32; 2], group: u32) -> bool {
    if group != 0 && features.compat & compat::SPARSE_SUPER2 != 0 {
        return backup_bgs.contains(&group);
    }
    group_has_super(features, group)
}

impl Geometry {
    /// The geometry `sb` describes (after `Superblock::validate`).
    pub fn from_superblock(sb: &Superblock) -> Self {
        let block_size = sb.block_size();
        let group_count = sb.group_count();
        let desc_per_block = block_size / GroupDesc::SIZE as u32;
        let inode_size = sb.inode_size() as u32;
        Geometry {
            block_size,
            blocks_count: sb.s_blocks_count as u64,
            first_data_block: sb.s_first_data_block,
            blocks_per_group: sb.s_blocks_per_group,
            inodes_per_group: sb.s_inodes_per_group,
            inode_size,
            group_count,
            desc_blocks: group_count.div_ceil(desc_per_block.max(1)),
            // Reserved whatever the features say, as libext2fs lays
            // groups out (a checker reports the count without the
            // resize inode, and the blocks stay taken until it is fixed).
            reserved_gdt_blocks: sb.s_reserved_gdt_blocks as u32,
            // libext2fs' inode_blocks_per_group, in its 32-bit arithmetic
            // (it wraps only for counts no checker lets through).
            inode_table_blocks: sb
                .s_inodes_per_group
                .wrapping_mul(inode_size)
                .wrapping_add(block_size - 1)
                / block_size,
            features: sb.features(),
            backup_bgs: sb.s_backup_bgs,
            first_meta_bg: if sb.has_incompat(incompat::META_BG) {
                sb.s_first_meta_bg
            } else {
                0
            },
        }
    }

    /// Whether descriptors are laid out by meta group (incompat meta_bg).
    pub fn meta_bg(&self) -> bool {
        self.features.incompat & incompat::META_BG != 0
    }

    /// Descriptors in one block, i.e. groups in one meta group.
    pub fn desc_per_block(&self) -> u32 {
        (self.block_size / GroupDesc::SIZE as u32).max(1)
    }

    /// Blocks of the classic table after each superblock copy: under
    /// meta_bg s_first_meta_bg (as the superblock says, even past the
    /// table), else the descriptor and reserved GDT blocks.
    fn classic_table_blocks(&self) -> u32 {
        if self.meta_bg() {
            self.first_meta_bg
        } else {
            self.desc_blocks + self.reserved_gdt_blocks
        }
    }

    /// ext2fs_super_and_bgd_loc2: the superblock copy and descriptor
    /// blocks `group` carries.
    pub fn group_metadata(&self, group: u32) -> GroupMetadata {
        let mut start = self.group_first_block(group);
        if start == 0 && self.block_size == 1024 {
            start = 1;
        }
        let has_super = self.has_super(group);
        let mut m = GroupMetadata {
            super_block: has_super.then_some(start),
            ..Default::default()
        };
        let per = self.desc_per_block();
        if !self.meta_bg() || group / per < self.first_meta_bg {
            if has_super {
                m.table = Some((start + 1, self.classic_table_blocks()));
            }
        } else if [0, 1, per - 1].contains(&(group % per)) {
            m.meta_desc = Some(start + has_super as u64);
        }
        m
    }

    /// ext2fs_descriptor_block_loc2: where descriptor block `i` is read
    /// from, for the table that goes with the superblock copy at
    /// `super_block` (the primary when it is the first data block).
    /// Under meta_bg a backup's meta-group blocks are the copies in the
    /// meta group's second group, when it exists.
    pub fn descriptor_block(&self, super_block: u64, i: u32) -> u64 {
        if !self.meta_bg() || i < self.first_meta_bg {
            // With 1 KiB blocks block 0 is the boot block: a superblock
            // said to start at block 0 is at block 1 (a damaged
            // s_first_data_block; ext2fs_open2's group_zero_adjust).
            let adjust = (super_block == 0 && self.block_size == 1024) as u64;
            return super_block + adjust + i as u64 + 1;
        }
        let bg = self.desc_per_block() as u64 * i as u64;
        let Ok(bg) = u32::try_from(bg) else {
            return super_block + i as u64 + 1;
        };
        let mut has_super = self.has_super(bg) as u64;
        let mut block = self.group_first_block(bg);
        if super_block != self.first_data_block as u64
            && block + has_super + (self.blocks_per_group as u64) < self.blocks_count
        {
            block += self.blocks_per_group as u64;
            has_super = self.has_super(bg + 1) as u64;
        }
        block + has_super
    }

    /// Every block a flush writes the descriptor table to: (block, first
    /// table block, table blocks), as ext2fs_flush writes them. With
    /// `primary_only` the classic copies of the backup groups are left
    /// alone, but every meta group's three copies are still written.
    pub fn descriptor_copies(&self, primary_only: bool) -> Vec<(u64, u32, u32)> {
        let classic = self.classic_table_blocks().min(self.desc_blocks);
        let mut out = Vec::new();
        for g in 0..self.group_count {
            let m = self.group_metadata(g);
            if let Some((block, _)) = m.table {
                if classic > 0 && (g == 0 || !primary_only) {
                    out.push((block, 0, classic));
                }
            }
            if let Some(block) = m.meta_desc {
                out.push((block, g / self.desc_per_block(), 1));
            }
        }
        out
    }

    /// First block of `group`.
    pub fn group_first_block(&self, group: u32) -> u64 {
        self.first_data_block as u64 + group as u64 * self.blocks_per_group as u64
    }

    /// Last block of `group` (the last group may be short).
    pub fn group_last_block(&self, group: u32) -> u64 {
        let end = self.group_first_block(group) + self.blocks_per_group as u64 - 1;
        end.min(self.blocks_count - 1)
    }

    /// The bits of a group's inode bitmap that libext2fs reads: whole
    /// bytes only (inodes per group / 8 of them), so where a damaged
    /// superblock makes inodes per group no multiple of 8, the last few
    /// inodes' bits read as clear and the rest of that byte is padding.
    pub fn inode_bitmap_bits_read(&self) -> u64 {
        u64::from(self.inodes_per_group / 8 * 8)
    }

    /// Blocks in `group`.
    pub fn blocks_in_group(&self, group: u32) -> u32 {
        (self.group_last_block(group) - self.group_first_block(group) + 1) as u32
    }

    /// The group inode `ino` (1-based) belongs to.
    pub fn group_of_inode(&self, ino: u32) -> u32 {
        (ino.max(1) - 1) / self.inodes_per_group.max(1)
    }

    /// The group a block belongs to.
    pub fn block_group(&self, block: u64) -> u32 {
        ((block.saturating_sub(self.first_data_block as u64)) / self.blocks_per_group as u64) as u32
    }

    /// The group an inode belongs to (inodes are numbered from 1).
    pub fn inode_group(&self, ino: u32) -> u32 {
        (ino.saturating_sub(1)) / self.inodes_per_group
    }

    /// Whether `group` holds a superblock backup (sparse_super and
    /// sparse_super2 rules).
    pub fn has_super(&self, group: u32) -> bool {
        has_super_with(self.features, self.backup_bgs, group)
    }

    /// Blocks at the start of `group` taken by the superblock backup, the
    /// descriptor table and the reserved GDT blocks, or under meta_bg the
    /// group's descriptor block (0 when the group carries none of them).
    pub fn super_and_gdt_blocks(&self, group: u32) -> u32 {
        let m = self.group_metadata(group);
        (m.super_block.is_some() as u32)
            .saturating_add(m.table.map_or(0, |(_, n)| n))
            .saturating_add(m.meta_desc.is_some() as u32)
    }

    /// Block numbers of the superblock copy, descriptor table and reserved
    /// GDT blocks of `group` (the superblock at block 0 when the block size
    /// is larger than 1024, so block 0 is always in group 0's list).
    /// (A damaged s_first_meta_bg cannot make it pass the last block.)
    pub fn group_metadata_range(&self, group: u32) -> std::ops::Range<u64> {
        let first = self.group_first_block(group);
        let end = first + self.super_and_gdt_blocks(group) as u64;
        first..end.min(self.blocks_count)
    }

    /// Byte offset of the superblock copy in `group` (primary at 1024).
    pub fn superblock_offset(&self, group: u32) -> u64 {
        if group == 0 {
            return 1024;
        }
        self.group_first_block(group) * self.block_size as u64
    }

    /// Inode numbers of `group`.
    pub fn group_inodes(&self, group: u32) -> std::ops::RangeInclusive<u32> {
        let first = group * self.inodes_per_group + 1;
        first..=first + self.inodes_per_group - 1
    }

    /// Groups that carry a superblock backup (not group 0).
    pub fn backup_groups(&self) -> Vec<u32> {
        (1..self.group_count)
            .filter(|&g| self.has_super(g))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_super_groups() {
        let f = FeatureSet {
            ro_compat: ro_compat::SPARSE_SUPER,
            ..Default::default()
        };
        let with: Vec<u32> = (0..100).filter(|&g| group_has_super(f, g)).collect();
        assert_eq!(with, [0, 1, 3, 5, 7, 9, 25, 27, 49, 81]);
        assert!(group_has_super(FeatureSet::default(), 42));
    }

    /// 128 groups of 1024 1 KiB blocks under meta_bg: 32 groups per meta
    /// group, descriptors in groups 0, 1, 31, 32, 33, 63, ...
    fn meta_bg_geometry(first_meta_bg: u32) -> Geometry {
        Geometry {
            block_size: 1024,
            blocks_count: 131072,
            first_data_block: 1,
            blocks_per_group: 1024,
            inodes_per_group: 256,
            inode_size: 256,
            group_count: 128,
            desc_blocks: 4,
            reserved_gdt_blocks: 0,
            inode_table_blocks: 64,
            features: FeatureSet {
                incompat: incompat::META_BG,
                ro_compat: ro_compat::SPARSE_SUPER,
                ..Default::default()
            },
            backup_bgs: [0; 2],
            first_meta_bg,
        }
    }

    #[test]
    fn meta_bg_descriptor_blocks() {
        let geo = meta_bg_geometry(0);
        let m = |g| geo.group_metadata(g);
        assert_eq!(m(0).super_block, Some(1));
        assert_eq!(m(0).meta_desc, Some(2));
        assert_eq!(m(1).meta_desc, Some(1026));
        assert_eq!(m(2), GroupMetadata::default());
        assert_eq!(m(3).meta_desc, None);
        assert_eq!(m(31).meta_desc, Some(31745));
        assert_eq!(m(127).meta_desc, Some(130049));
        assert_eq!(geo.super_and_gdt_blocks(3), 1);
        assert_eq!(geo.super_and_gdt_blocks(32), 1);
        // The primary reads the first group's copy, a backup the second's.
        assert_eq!(geo.descriptor_block(1, 1), 32769);
        assert_eq!(geo.descriptor_block(8193, 1), 33793);
        assert_eq!(geo.descriptor_block(8193, 0), 1026);
        let copies = geo.descriptor_copies(true);
        assert_eq!(copies.len(), 12);
        assert!(copies.contains(&(130049, 3, 1)));
    }

    #[test]
    fn meta_bg_keeps_the_classic_table_before_first_meta_bg() {
        let geo = meta_bg_geometry(2);
        assert_eq!(geo.group_metadata(0).table, Some((2, 2)));
        assert_eq!(geo.group_metadata(3).table, Some((3074, 2)));
        assert_eq!(geo.group_metadata(31).meta_desc, None);
        assert_eq!(geo.group_metadata(64).meta_desc, Some(65537));
        assert_eq!(geo.descriptor_block(1, 1), 3);
        assert_eq!(geo.descriptor_block(1, 2), 65537);
        assert_eq!(geo.descriptor_copies(true)[0], (2, 0, 2));
    }
}
