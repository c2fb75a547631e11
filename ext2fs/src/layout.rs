//! Group geometry: where each group starts and ends, which groups carry
//! superblock backups (sparse_super: 0, 1 and powers of 3, 5 and 7), and
//! how many blocks the descriptor table and reserved GDT take.

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
    pub block_size: u32,
    pub blocks_count: u64,
    pub first_data_block: u32,
    pub blocks_per_group: u32,
    pub inodes_per_group: u32,
    pub inode_size: u32,
    pub group_count: u32,
    /// Blocks of the group descriptor table (in each copy).
    pub desc_blocks: u32,
    pub reserved_gdt_blocks: u32,
    /// Inode table length in blocks.
    pub inode_table_blocks: u32,
    pub features: FeatureSet,
    /// sparse_super2: the only groups (besides 0) with a backup.
    pub backup_bgs: [u32; 2],
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
    pub fn from_superblock(sb: &Superblock) -> Self {
        let block_size = sb.block_size();
        let group_count = sb.group_count();
        let desc_per_block = block_size / GroupDesc::SIZE as u32;
        let inode_size = sb.inode_size() as u32;
        let inodes_per_block = block_size / inode_size.max(1);
        Geometry {
            block_size,
            blocks_count: sb.s_blocks_count as u64,
            first_data_block: sb.s_first_data_block,
            blocks_per_group: sb.s_blocks_per_group,
            inodes_per_group: sb.s_inodes_per_group,
            inode_size,
            group_count,
            desc_blocks: group_count.div_ceil(desc_per_block.max(1)),
            reserved_gdt_blocks: if sb.has_compat(compat::RESIZE_INODE) {
                sb.s_reserved_gdt_blocks as u32
            } else {
                0
            },
            inode_table_blocks: sb.s_inodes_per_group.div_ceil(inodes_per_block.max(1)),
            features: sb.features(),
            backup_bgs: sb.s_backup_bgs,
        }
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
    /// descriptor table and the reserved GDT blocks (0 when no backup).
    pub fn super_and_gdt_blocks(&self, group: u32) -> u32 {
        if self.features.incompat & incompat::META_BG != 0 {
            // meta_bg is an ext4 layout; not produced by these tools.
            return if self.has_super(group) { 1 } else { 0 };
        }
        if !self.has_super(group) {
            return 0;
        }
        1 + self.desc_blocks + self.reserved_gdt_blocks
    }

    /// Block numbers of the superblock copy, descriptor table and reserved
    /// GDT blocks of `group` (the superblock at block 0 when the block size
    /// is larger than 1024, so block 0 is always in group 0's list).
    pub fn group_metadata_range(&self, group: u32) -> std::ops::Range<u64> {
        let first = self.group_first_block(group);
        if group == 0 && self.first_data_block == 0 {
            0..self.super_and_gdt_blocks(0) as u64
        } else {
            first..first + self.super_and_gdt_blocks(group) as u64
        }
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
}
