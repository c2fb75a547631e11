//! Creating and deleting objects: files, directories, symlinks, device
//! nodes, hard links, unlink, rmdir and rename, with link counts.

use super::{validate_name, Filesystem};
use crate::dirent;
use crate::inode::{self, Inode};
use crate::{Error, Result};

impl Filesystem {
    /// Creates an inode of `mode` linked as `name` in `parent`.
    pub fn create(&mut self, parent: u32, name: &[u8], mode: u16) -> Result<u32> {
        self.require_write()?;
        validate_name(name)?;
        let is_dir = mode & inode::S_IFMT == inode::S_IFDIR;
        let ino = self.alloc_inode(parent, is_dir)?;
        let mut rec = self.new_inode_record(mode);
        rec.base.i_links_count = 1;
        self.write_inode(ino, &rec)?;
        // add_entry refuses a live entry of the same name: give the inode back.
        if let Err(e) = self.add_entry(parent, name, ino, inode::mode_to_dirent_type(mode)) {
            rec.base.i_links_count = 0;
            rec.base.i_dtime = rec.base.i_ctime;
            self.write_inode(ino, &rec)?;
            self.mark_inode(ino, false, is_dir)?;
            return Err(e);
        }
        Ok(ino)
    }

    /// mkdir: '.' and '..', link counts of the new dir and its parent.
    pub fn mkdir(&mut self, parent: u32, name: &[u8], perm: u16) -> Result<u32> {
        // ext2fs_mkdir allocates the inode before it reads the parent or
        // looks the name up: bitmaps never read fail first.
        if self.bitmaps_withheld {
            return Err(Error::BitmapNotLoaded(crate::error::BitmapKind::Inode));
        }
        self.check_new_link(parent)?;
        let ino = self.create(parent, name, inode::S_IFDIR | (perm & 0o7777))?;
        let mut rec = self.read_inode(ino)?;
        let block = dirent::new_dir_block(
            ino,
            parent,
            self.geo.block_size as usize,
            self.filetype_feature(),
        );
        self.append_block(ino, &mut rec, 0, &block)?;
        rec.set_size(self.geo.block_size as u64);
        rec.base.i_links_count = 2;
        self.write_inode(ino, &rec)?;
        let mut p = self.read_inode(parent)?;
        p.base.i_links_count += 1;
        self.write_inode(parent, &p)?;
        Ok(ino)
    }

    /// Creates a symlink; targets under 60 bytes are fast symlinks.
    pub fn symlink(&mut self, parent: u32, name: &[u8], target: &[u8]) -> Result<u32> {
        if target.is_empty() {
            return Err(Error::InvalidName(String::new(), "empty symlink target"));
        }
        if target.len() >= self.geo.block_size as usize {
            return Err(Error::NameTooLong {
                name: String::from_utf8_lossy(target).into_owned(),
                len: target.len(),
                max: self.geo.block_size as usize - 1,
            });
        }
        let ino = self.create(parent, name, inode::S_IFLNK | 0o777)?;
        let mut rec = self.read_inode(ino)?;
        if target.len() < 60 {
            rec.set_fast_symlink_target(target);
            self.write_inode(ino, &rec)
        } else {
            self.set_file_data(ino, &mut rec, target)
        }?;
        Ok(ino)
    }

    /// Creates a device node, fifo or socket.
    pub fn mknod(
        &mut self,
        parent: u32,
        name: &[u8],
        mode: u16,
        major: u32,
        minor: u32,
    ) -> Result<u32> {
        let kind = mode & inode::S_IFMT;
        if (kind == inode::S_IFCHR || kind == inode::S_IFBLK) && !inode::device_fits(major, minor) {
            return Err(Error::DeviceTooLarge { major, minor });
        }
        let ino = self.create(parent, name, mode)?;
        let mut rec = self.read_inode(ino)?;
        if rec.is_device() {
            rec.set_device(major, minor);
        }
        self.write_inode(ino, &rec)?;
        Ok(ino)
    }

    /// A new hard link to `ino`.
    pub fn link(&mut self, parent: u32, name: &[u8], ino: u32) -> Result<()> {
        let mut rec = self.read_inode(ino)?;
        if rec.is_dir() {
            return Err(Error::DirectoryHardLink);
        }
        if rec.base.i_links_count >= inode::LINK_MAX {
            return Err(Error::TooManyLinks(ino));
        }
        self.add_entry(parent, name, ino, inode::mode_to_dirent_type(rec.mode()))?;
        rec.base.i_links_count += 1;
        self.write_inode(ino, &rec)
    }

    /// Refuses one more link to `ino` (a subdirectory's '..' or a new
    /// name) past [`inode::LINK_MAX`].
    pub(super) fn check_new_link(&self, ino: u32) -> Result<()> {
        if self.read_inode(ino)?.base.i_links_count >= inode::LINK_MAX {
            return Err(Error::TooManyLinks(ino));
        }
        Ok(())
    }

    /// Drops one link of `ino`; at zero links the inode and its blocks are
    /// freed (dtime set, as the kernel does).
    pub fn drop_link(&mut self, ino: u32) -> Result<()> {
        let mut rec = self.read_inode(ino)?;
        let dir = rec.is_dir();
        let keep = if dir { 2 } else { 1 };
        if rec.base.i_links_count > keep {
            rec.base.i_links_count -= 1;
            return self.write_inode(ino, &rec);
        }
        self.free_inode(ino, rec)
    }

    /// Frees an inode that has no links left: its blocks, its xattr block
    /// and the inode itself (dtime set, as the kernel does).
    pub(super) fn free_inode(&mut self, ino: u32, mut rec: Inode) -> Result<()> {
        let dir = rec.is_dir();
        self.free_file_blocks(&mut rec)?;
        if rec.base.i_file_acl != 0 {
            self.release_xattr_block(rec.base.i_file_acl)?;
            rec.base.i_file_acl = 0;
        }
        rec.base.i_links_count = 0;
        rec.base.i_dtime = self.now();
        rec.base.i_blocks = 0;
        self.write_inode(ino, &rec)?;
        self.mark_inode(ino, false, dir)
    }

    /// unlink: removes a non-directory entry and drops the link.
    pub fn unlink(&mut self, parent: u32, name: &[u8]) -> Result<()> {
        let e = self
            .lookup_entry(parent, name)?
            .ok_or_else(|| Error::NotFound(String::from_utf8_lossy(name).into_owned()))?;
        if e.inode != 0 && self.read_inode(e.inode)?.is_dir() {
            return Err(Error::IsDirectory(
                String::from_utf8_lossy(name).into_owned(),
            ));
        }
        self.remove_entry(parent, name)?;
        if e.inode != 0 {
            self.drop_link(e.inode)?;
        }
        Ok(())
    }

    /// rmdir: the directory must be empty (whiteouts allowed).
    pub fn rmdir(&mut self, parent: u32, name: &[u8]) -> Result<()> {
        let e = self
            .lookup_entry(parent, name)?
            .filter(|e| e.inode != 0)
            .ok_or_else(|| Error::NotFound(String::from_utf8_lossy(name).into_owned()))?;
        let rec = self.read_inode(e.inode)?;
        if !rec.is_dir() {
            return Err(Error::NotDirectory(
                String::from_utf8_lossy(name).into_owned(),
            ));
        }
        if !self.dir_is_empty(e.inode)? {
            return Err(Error::NotEmpty(String::from_utf8_lossy(name).into_owned()));
        }
        self.remove_entry(parent, name)?;
        let mut rec = self.read_inode(e.inode)?;
        rec.base.i_links_count = 1; // drop_link frees at <= 2 for dirs
        self.write_inode(e.inode, &rec)?;
        self.drop_link(e.inode)?;
        let mut p = self.read_inode(parent)?;
        p.base.i_links_count = p.base.i_links_count.saturating_sub(1).max(2);
        self.write_inode(parent, &p)
    }

    /// rename: moves the entry `old_name` of `old_dir` to `new_name` in
    /// `new_dir` (which must not hold a live entry of that name: a whiteout
    /// or fallthru there is replaced in its slot). A directory moved to
    /// another parent gets its '..' rewritten and both parents' link counts
    /// adjusted.
    pub fn rename(
        &mut self,
        old_dir: u32,
        old_name: &[u8],
        new_dir: u32,
        new_name: &[u8],
    ) -> Result<()> {
        self.require_write()?;
        let e = self
            .lookup_entry(old_dir, old_name)?
            .filter(|e| e.inode != 0)
            .ok_or_else(|| Error::NotFound(String::from_utf8_lossy(old_name).into_owned()))?;
        if old_dir == new_dir && old_name == new_name {
            return Ok(());
        }
        let rec = self.read_inode(e.inode)?;
        if rec.is_dir() && old_dir != new_dir {
            self.check_new_link(new_dir)?;
        }
        let ft = inode::mode_to_dirent_type(rec.mode());
        self.add_entry(new_dir, new_name, e.inode, ft)?;
        self.remove_entry(old_dir, old_name)?;
        if rec.is_dir() && old_dir != new_dir {
            for (l, mut entries) in self.read_dir_blocks(e.inode)? {
                if let Some(d) = entries.iter_mut().find(|x| x.is_dotdot()) {
                    d.inode = new_dir;
                    self.write_dir_block(&rec, l, &entries)?;
                    break;
                }
            }
            let mut op = self.read_inode(old_dir)?;
            op.base.i_links_count = op.base.i_links_count.saturating_sub(1).max(2);
            self.write_inode(old_dir, &op)?;
            let mut np = self.read_inode(new_dir)?;
            np.base.i_links_count += 1;
            self.write_inode(new_dir, &np)?;
        }
        Ok(())
    }
}
