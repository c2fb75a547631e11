//! Inline data as libext2fs reads it (inline_data.c): the 60 bytes of
//! i_block, then the value of the inode's `system.data` attribute. ext2
//! never stores files this way; a stray inline-data flag on a damaged
//! image is still followed by e2fsprogs' tools, so the tools that must
//! answer as they do read it here.

use std::ops::ControlFlow;

use super::Filesystem;
use crate::dirent::BlockCursor;
use crate::inode::{flags, Inode};
use crate::{Error, Result};

use super::DirVisit;

/// The bytes of i_block that hold inline data (EXT4_MIN_INLINE_DATA_SIZE).
pub const INLINE_DATA_IN_INODE: usize = 60;

/// The attribute holding inline data past i_block.
const DATA_XATTR: &str = "system.data";

impl Filesystem {
    /// The value of inode `ino`'s `system.data` attribute (empty when it
    /// has none), its attributes read from the inode on disk as
    /// ext2fs_inline_data_ea_get reads them: not on a filesystem with
    /// neither ext_attr nor inline_data, and not past an xattr block
    /// outside the filesystem.
    fn inline_data_xattr(&self, ino: u32) -> Result<Vec<u8>> {
        if !self.xattrs_openable() {
            return Err(Error::NoXattrFeature);
        }
        let rec = self.read_inode(ino)?;
        let blk = u64::from(rec.base.i_file_acl);
        if blk != 0 && (blk < u64::from(self.geo.first_data_block) || blk >= self.geo.blocks_count)
        {
            return Err(Error::XattrBlockOutside(blk));
        }
        Ok(self
            .xattrs_of(ino, &rec)?
            .into_iter()
            .find(|a| a.name == DATA_XATTR)
            .map(|a| a.value)
            .unwrap_or_default())
    }

    /// ext2fs_inline_data_get: `inode`'s i_block bytes, then the
    /// `system.data` value of inode `ino` on disk, whatever the inode's
    /// size says.
    pub fn inline_data(&self, ino: u32, inode: &Inode) -> Result<Vec<u8>> {
        let value = self.inline_data_xattr(ino)?;
        let mut out: Vec<u8> = inode
            .base
            .i_block
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        out.extend_from_slice(&value);
        Ok(out)
    }

    /// ext2fs_inline_data_size: how many bytes [`Filesystem::inline_data`]
    /// holds for inode `ino`; `NoInlineData` without the flag.
    pub fn inline_data_size(&self, ino: u32) -> Result<usize> {
        if self.read_inode(ino)?.flags() & flags::INLINE_DATA == 0 {
            return Err(Error::NoInlineData);
        }
        Ok(INLINE_DATA_IN_INODE + self.inline_data_xattr(ino)?.len())
    }

    /// ext2fs_inline_data_dir_iterate, read-only: `.` (the directory
    /// itself) and `..` (i_block's first word) made up, then the entries
    /// in the rest of i_block, then those in `system.data`'s value, each
    /// part as one directory block of its length (logical blocks 0 to 3,
    /// physical 0). Returns the read or corruption that ended the walk.
    pub(super) fn inline_dir_iterate<V>(
        &self,
        dir: u32,
        inode: &Inode,
        include_removed: bool,
        visit: &mut V,
    ) -> Result<()>
    where
        V: FnMut(&DirVisit<'_>) -> ControlFlow<()>,
    {
        let made_up = |ino: u32, name: &[u8]| {
            // An entry of rec_len 12 holding `name` (file type 0).
            let mut e = vec![0u8; 12];
            e[0..4].copy_from_slice(&ino.to_le_bytes());
            e[4..6].copy_from_slice(&12u16.to_le_bytes());
            e[6] = name.len() as u8;
            e[8..8 + name.len()].copy_from_slice(name);
            e
        };
        let i_block: Vec<u8> = inode
            .base
            .i_block
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        let parts = [
            made_up(dir, b"."),
            made_up(inode.base.i_block[0], b".."),
            i_block[4..].to_vec(),
        ];
        let bs = self.geo.block_size as usize;
        for (lblk, buf) in (0u64..).zip(&parts) {
            if walk_part(dir, buf, lblk, bs, include_removed, visit)?.is_break() {
                return Ok(());
            }
        }
        // The attribute is read only once the inode's part is walked.
        let value = self.inline_data_xattr(dir)?;
        if !value.is_empty() {
            // Stopped by the visitor or not, the walk ends here.
            let _ = walk_part(dir, &value, 3, bs, include_removed, visit)?;
        }
        Ok(())
    }
}

/// One part of an inline directory walked as one directory block.
fn walk_part<V>(
    dir: u32,
    buf: &[u8],
    lblk: u64,
    block_size: usize,
    include_removed: bool,
    visit: &mut V,
) -> Result<ControlFlow<()>>
where
    V: FnMut(&DirVisit<'_>) -> ControlFlow<()>,
{
    if buf.len() < 8 {
        // Too short for one entry's header (dir_iterate's buflen check).
        let kind = crate::CorruptKind::BadRecLen {
            rec_len: 0,
            offset: 0,
        };
        return Err(Error::corrupt(
            crate::Structure::Directory { block: 0 },
            u64::from(dir),
            kind,
        ));
    }
    for entry in BlockCursor::in_filesystem(buf, block_size, include_removed) {
        let entry = entry.map_err(|m| m.error(buf, dir, 0))?;
        if visit(&DirVisit {
            entry,
            lblk,
            pblk: 0,
        })
        .is_break()
        {
            return Ok(ControlFlow::Break(()));
        }
    }
    Ok(ControlFlow::Continue(()))
}
