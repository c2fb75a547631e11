//! Union-mount entries: whiteouts, fallthrus and opaque directories.

use super::Filesystem;
use crate::dirent::ft;
use crate::inode::flags;
use crate::{Error, Result};

impl Filesystem {
    /// Puts a whiteout (`file_type` 8) or fallthru (9) named `name` in
    /// `dir`. A live entry of that name is replaced (its link dropped);
    /// needs the whiteout feature.
    pub fn add_union_entry(&mut self, dir: u32, name: &[u8], kind: u8) -> Result<()> {
        if !self.whiteout_feature() {
            return Err(Error::MissingFeature("the whiteout feature"));
        }
        if kind != ft::WHT && kind != ft::FALLTHRU {
            return Err(Error::NotUnionEntry(kind));
        }
        if name == b"." || name == b".." {
            return Err(Error::InvalidName(
                String::from_utf8_lossy(name).into_owned(),
                "'.' and '..' cannot be whiteouts or fallthrus",
            ));
        }
        if let Some(e) = self.lookup_entry(dir, name)? {
            if e.inode != 0 {
                if self.read_inode(e.inode)?.is_dir() {
                    if !self.dir_is_empty(e.inode)? {
                        return Err(Error::NotEmpty(String::from_utf8_lossy(name).into_owned()));
                    }
                    self.rmdir(dir, name)?;
                } else {
                    self.unlink(dir, name)?;
                }
            } else {
                self.remove_entry(dir, name)?;
            }
        }
        self.add_entry(dir, name, 0, kind)
    }

    /// Sets or clears the opaque flag of a directory.
    pub fn set_opaque(&mut self, dir: u32, on: bool) -> Result<()> {
        self.require_write()?;
        let mut rec = self.read_inode(dir)?;
        if !rec.is_dir() {
            return Err(Error::NotDirectory(format!("<{dir}>")));
        }
        if on {
            if !self.whiteout_feature() {
                return Err(Error::MissingFeature("the whiteout feature"));
            }
            rec.base.i_flags |= flags::OPAQUE;
        } else {
            rec.base.i_flags &= !flags::OPAQUE;
        }
        self.write_inode(dir, &rec)
    }
}
