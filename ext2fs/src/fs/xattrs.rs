//! Extended attributes of an inode: in the inode body and in a shared
//! block, with the block's refcount.

use super::Filesystem;
use crate::{Error, Result};

impl Filesystem {
    /// Whether libext2fs would read attributes here at all
    /// (ext2fs_xattrs_open wants ext_attr or inline_data).
    pub fn xattrs_openable(&self) -> bool {
        use crate::features::{compat, incompat};
        self.sb.has_compat(compat::EXT_ATTR) || self.sb.has_incompat(incompat::INLINE_DATA)
    }

    /// Every xattr of an inode: the in-inode ones, then the block's.
    pub fn list_xattrs(&self, ino: u32) -> Result<Vec<crate::xattr::Xattr>> {
        self.xattrs_of(ino, &self.read_inode(ino)?)
    }

    /// Every xattr of inode `ino` as `rec` holds it (a checker's copy that
    /// may differ from the disk), read as libext2fs' ext2fs_xattrs_read_inode
    /// reads them: an unreadable area or block is an error.
    pub fn xattrs_of(
        &self,
        ino: u32,
        rec: &crate::inode::Inode,
    ) -> Result<Vec<crate::xattr::Xattr>> {
        let mut out = match rec.in_inode_xattr_area() {
            Some(area) => crate::xattr::parse_ibody(&area, ino)?,
            None => Vec::new(),
        };
        let blk = rec.base.i_file_acl as u64;
        if blk != 0 {
            self.check_block(blk)?;
            out.extend(crate::xattr::parse_block(&self.read_block(blk)?, blk)?.attrs);
        }
        Ok(out)
    }

    /// Replaces all xattrs of an inode: as many as fit go in the inode
    /// body (large inodes), the rest in a block of their own. Needs ext_attr.
    pub fn set_xattrs(&mut self, ino: u32, attrs: &[crate::xattr::Xattr]) -> Result<()> {
        self.require_write()?;
        if !attrs.is_empty() && !self.sb.has_compat(crate::features::compat::EXT_ATTR) {
            return Err(Error::MissingFeature("ext_attr"));
        }
        let mut rec = self.read_inode(ino)?;
        let body_len = rec.in_inode_xattr_area().map(|a| a.len()).unwrap_or(0);
        let (body, rest) = crate::xattr::split_for_inode(attrs, body_len);
        if body_len > 0 {
            rec.set_in_inode_xattr_area(&crate::xattr::build_ibody(&body, body_len)?)?;
        }
        let bs = self.geo.block_size;
        let old = rec.base.i_file_acl;
        if old != 0 {
            self.release_xattr_block(old)?;
            rec.base.i_file_acl = 0;
            rec.base.i_blocks = rec.base.i_blocks.saturating_sub(bs / 512);
        }
        if !rest.is_empty() {
            let data = crate::xattr::build_block(&rest, bs as usize, 1)?;
            let goal = self.geo.group_first_block(self.geo.inode_group(ino));
            let b = self.alloc_block(goal)?;
            self.write_block(b as u64, &data)?;
            rec.base.i_file_acl = b;
            rec.base.i_blocks += bs / 512;
        }
        self.write_inode(ino, &rec)
    }

    /// Sets one xattr (replacing a same-named one).
    pub fn set_xattr(&mut self, ino: u32, name: &str, value: &[u8]) -> Result<()> {
        let mut all = self.list_xattrs(ino)?;
        all.retain(|a| a.name != name);
        all.push(crate::xattr::Xattr {
            name: name.to_string(),
            value: value.to_vec(),
        });
        self.set_xattrs(ino, &all)
    }

    /// Removes one xattr; NotFound when absent.
    pub fn remove_xattr(&mut self, ino: u32, name: &str) -> Result<()> {
        let mut all = self.list_xattrs(ino)?;
        let before = all.len();
        all.retain(|a| a.name != name);
        if all.len() == before {
            return Err(Error::NotFound(name.to_string()));
        }
        self.set_xattrs(ino, &all)
    }

    /// Decrements an xattr block's refcount, freeing it at zero.
    pub(super) fn release_xattr_block(&mut self, block: u32) -> Result<()> {
        if self.check_block(block as u64).is_err() {
            return Ok(());
        }
        let mut buf = self.read_block(block as u64)?;
        let magic = crate::codec::le32(&buf, 0);
        let refs = crate::codec::le32(&buf, 4);
        if magic != 0xEA02_0000 || refs <= 1 {
            return self.mark_block(block as u64, false);
        }
        crate::codec::put32(&mut buf, 4, refs - 1);
        self.write_block(block as u64, &buf)
    }
}
