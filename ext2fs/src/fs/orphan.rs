//! Files unlinked while still open: their inode keeps its blocks with no
//! links, chained on the orphan list (s_last_orphan, then each inode's
//! i_dtime naming the next), as the kernel keeps them, until the last
//! close frees it. After a crash e2fsck frees what the list still holds.

use super::Filesystem;
use crate::{Error, Result};

/// The chain is walked at most this far (a loop in a corrupt list).
const MAX_CHAIN: usize = 1 << 20;

impl Filesystem {
    /// Drops one link of the non-directory `ino` like `drop_link`, except
    /// that an inode left with no links is put on the orphan list instead
    /// of being freed. Returns whether it went on the list.
    pub fn drop_link_keep_open(&mut self, ino: u32) -> Result<bool> {
        let mut rec = self.read_inode(ino)?;
        if rec.is_dir() {
            return Err(Error::IsDirectory(format!("inode {ino}")));
        }
        if rec.base.i_links_count > 1 {
            rec.base.i_links_count -= 1;
            self.write_inode(ino, &rec)?;
            return Ok(false);
        }
        rec.base.i_links_count = 0;
        rec.base.i_dtime = self.sb.s_last_orphan;
        self.write_inode(ino, &rec)?;
        self.sb.s_last_orphan = ino;
        self.mark_super_dirty();
        Ok(true)
    }

    /// The last close of an orphan: takes it off the list and frees it.
    pub fn release_orphan(&mut self, ino: u32) -> Result<()> {
        let rec = self.read_inode(ino)?;
        let next = rec.base.i_dtime;
        if self.sb.s_last_orphan == ino {
            self.sb.s_last_orphan = next;
            self.mark_super_dirty();
        } else {
            let mut cur = self.sb.s_last_orphan;
            let mut found = false;
            for _ in 0..MAX_CHAIN {
                if cur == 0 {
                    break;
                }
                let mut c = self.read_inode(cur)?;
                if c.base.i_dtime == ino {
                    c.base.i_dtime = next;
                    self.write_inode(cur, &c)?;
                    found = true;
                    break;
                }
                cur = c.base.i_dtime;
            }
            if !found {
                return Err(Error::NotOrphan(ino));
            }
        }
        self.free_inode(ino, rec)
    }
}
