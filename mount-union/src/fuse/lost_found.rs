//! The top image's /lost+found belongs to e2fsck (it reconnects lost
//! files there and expects it to exist), so the union root does not show
//! it while it is e2fsck's: a plain directory with nothing from the layers
//! below to merge with. It becomes the union's when the union makes a
//! lost+found in its root: mkdir takes the (empty) directory over and
//! marks it opaque, as every directory the union makes; a directory
//! renamed there replaces it (and is made opaque). rmdir gives it back to
//! e2fsck (the directory stays, hidden again) instead of removing it.
//! When a lower layer has a lost+found the top one merges with it like
//! any directory.

use ext2fs::inode::ROOT_INO;

use super::errno::{from_lib, Errno};
use super::layer::is_dir;
use super::union::{Res, Union};

const NAME: &[u8] = b"lost+found";

/// Whether `name` in the top directory `dir` is the root's lost+found.
pub fn named(dir: u32, name: &[u8]) -> bool {
    dir == ROOT_INO && name == NAME
}

impl Union {
    /// Whether `r`, found as `name` in `dir`, is e2fsck's lost+found (not
    /// shown): a top directory, not opaque, with no lower directory.
    pub(super) fn is_checkers(&self, dir: &Res, name: &[u8], r: Option<&Res>) -> bool {
        let (Some(t), Some(r)) = (dir.top, r) else {
            return false;
        };
        named(t, name) && r.top.is_some() && is_dir(r.mode) && !r.top_opaque && r.lower.is_empty()
    }

    /// The hidden top lost+found of the top directory `ptop`, when `name`
    /// names it (the union's creating that name finds it in the way).
    pub(super) fn hidden_checkers(&self, ptop: u32, name: &[u8]) -> Result<Option<u32>, Errno> {
        if !named(ptop, name) {
            return Ok(None);
        }
        let e = self.top.lookup_entry(ptop, name).map_err(from_lib)?;
        Ok(e.filter(|e| e.inode != 0).map(|e| e.inode))
    }

    /// mkdir of a lost+found in the union root while e2fsck's is there:
    /// it becomes the union's if empty (EEXIST when e2fsck put files in
    /// it). Returns its inode with the mode `perm`, opaque.
    pub(super) fn adopt_checkers(&mut self, t: u32, perm: u32) -> Result<u32, Errno> {
        let mut rec = self.top.read_inode(t).map_err(from_lib)?;
        if !rec.is_dir() || !self.top.dir_is_empty(t).map_err(from_lib)? {
            return Err(libc::EEXIST);
        }
        rec.base.i_mode = ext2fs::inode::S_IFDIR | (perm & 0o7777) as u16;
        self.top.write_inode(t, &rec).map_err(from_lib)?;
        self.top.set_opaque(t, true).map_err(from_lib)?;
        Ok(t)
    }

    /// rmdir of the union's lost+found: back to e2fsck (opaque flag
    /// cleared, the directory kept, as e2fsck made it: root's, mode 0700).
    /// EBUSY when a lower layer's lost+found would show through again.
    pub(super) fn give_back_checkers(&mut self, t: u32, r: &Res) -> Result<(), Errno> {
        if !r.lower.is_empty() {
            return Err(libc::EBUSY);
        }
        let mut rec = self.top.read_inode(t).map_err(from_lib)?;
        rec.base.i_mode = ext2fs::inode::S_IFDIR | 0o700;
        rec.set_uid(0);
        rec.set_gid(0);
        self.top.write_inode(t, &rec).map_err(from_lib)?;
        self.top.set_opaque(t, false).map_err(from_lib)
    }
}
