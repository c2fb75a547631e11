//! The bad blocks list an inode scan skips (libext2fs' fs->badblocks):
//! read from the bad blocks inode when the first scan opens, as
//! ext2fs_open_inode_scan reads it with ext2fs_read_bb_inode, and kept
//! for the scans after it while it could be read.

use std::ops::ControlFlow;

use super::Filesystem;
use crate::block_map::BlockKind;
use crate::inode::{flags, BAD_INO};
use crate::{Error, Result};

impl Filesystem {
    /// The bad blocks list as the inode scan holds it, read now if no
    /// scan has read it yet. A list that cannot be read is none, and is
    /// read again by the next scan (ext2fs_open_inode_scan frees it).
    pub fn inode_scan_bad_blocks(&self) -> Vec<u64> {
        let mut held = self
            .scan_bad_blocks
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(list) = held.as_ref() {
            return list.clone();
        }
        match self.read_bad_blocks_inode() {
            Ok(list) => {
                *held = Some(list.clone());
                list
            }
            Err(_) => Vec::new(),
        }
    }

    /// ext2fs_read_bb_inode: the data blocks inside the filesystem that
    /// the bad blocks inode maps, sorted. The inode is read as libext2fs
    /// reads it, once for its size and once more by the block iterator
    /// (which a tool following libext2fs' inode cache sees).
    pub fn read_bad_blocks_inode(&self) -> Result<Vec<u64>> {
        self.read_inode(BAD_INO)?;
        let inode = self.read_inode(BAD_INO)?;
        if inode.flags() & flags::INLINE_DATA != 0 {
            return Err(Error::InlineDataCantIterate);
        }
        let first = u64::from(self.sb.s_first_data_block);
        let end = u64::from(self.sb.s_blocks_count);
        let mut list = Vec::new();
        let failed = self.block_iterate_status(&inode, |p| {
            let b = u64::from(p.pblk);
            if matches!(p.kind, BlockKind::Data(_)) && b >= first && b < end {
                list.push(b);
            }
            ControlFlow::Continue(())
        });
        if let Some(e) = failed {
            return Err(e);
        }
        list.sort_unstable();
        list.dedup();
        Ok(list)
    }
}
