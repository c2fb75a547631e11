//! What libext2fs tells about an inode's blocks without walking them:
//! whether i_block is a block map (ext2fs_inode_has_valid_blocks2) and
//! i_blocks as a count (ext2fs_inode_i_blocks), and the superblock's
//! free block count (ext2fs_free_blocks_count).

use super::Filesystem;
use crate::features::{incompat, ro_compat};
use crate::inode::{flags, Inode};

impl Filesystem {
    /// ext2fs_inode_has_valid_blocks2: i_block holds block numbers for
    /// directories, regular files and symlinks other than fast ones
    /// (judged by i_blocks, or by the size and i_block[1] when the inode
    /// has an xattr block), never with inline data.
    pub fn inode_has_valid_blocks(&self, inode: &Inode) -> bool {
        if !(inode.is_dir() || inode.is_reg() || inode.is_symlink()) {
            return false;
        }
        if inode.flags() & flags::INLINE_DATA != 0 {
            return false;
        }
        if !inode.is_symlink() {
            return true;
        }
        let acl_high = if self.sb().has_incompat(incompat::BIT64) {
            u64::from(inode.base.l_i_file_acl_high) << 32
        } else {
            0
        };
        let b = &inode.base;
        if u64::from(b.i_file_acl) | acl_high == 0 {
            b.i_blocks != 0
        } else {
            b.i_size >= 60 || (b.i_size > 4 && b.i_block[1] == 0)
        }
    }

    /// ext2fs_inode_i_blocks: i_blocks (with its high word under
    /// huge_file), as stored: 512-byte units unless the inode's
    /// huge_file flag counts filesystem blocks.
    pub fn inode_i_blocks(&self, inode: &Inode) -> u64 {
        let mut n = u64::from(inode.base.i_blocks);
        if self.sb().has_ro_compat(ro_compat::HUGE_FILE) {
            n |= u64::from(inode.base.l_i_blocks_hi) << 32;
        }
        n
    }

    /// ext2fs_free_blocks_count: the superblock's count (its high word
    /// under 64bit).
    pub fn sb_free_blocks(&self) -> u64 {
        let sb = self.sb();
        let high = if sb.has_incompat(incompat::BIT64) {
            u64::from(sb.s_free_blocks_hi) << 32
        } else {
            0
        };
        u64::from(sb.s_free_blocks_count) | high
    }
}
