//! Pass 4: link counts. An inode in use that no directory names is
//! reconnected to /lost+found (or cleared when it is empty); every
//! i_links_count must equal the number of entries that name the inode.

use anyhow::Result;

use crate::checker::Checker;
use crate::problem::{Code, Ctx};

impl Checker {
    pub fn pass4(&mut self) -> Result<()> {
        let first_ino = self.fs.sb().first_ino();
        for ino in 1..=self.inodes_count {
            crate::cancel::check()?;
            // As e2fsck: the project quota inode and the orphan file the
            // superblock names are left alone too (the user and group
            // quota inodes are reserved ones).
            let sb = self.fs.sb();
            if (ino != ext2fs::inode::ROOT_INO && ino < first_ino)
                || ino == sb.s_prj_quota_inum
                || ino == sb.s_orphan_file_inum
            {
                continue;
            }
            if !self.is_used(ino) || self.imagic.get(ino as u64 - 1) || self.in_bad_block(ino) {
                continue;
            }
            let i = ino as usize;
            let mut counted = self.counted[i];
            if counted == 0 && self.attribute_value_inode(ino)? {
                // Named by attributes, not by directories: one link.
                counted = 1;
            }
            if counted == 0 && self.disconnected(ino)? {
                continue;
            }
            if counted == 0 {
                counted = self.counted[i];
            }
            let link_count = self.link_info[i] as u32;
            if self.is_dir(ino) && counted > 65000 {
                counted = 1;
            }
            if link_count != counted {
                let c = Ctx {
                    ino,
                    num: link_count as u64,
                    num2: counted as u64,
                    ..Default::default()
                };
                // An indexed directory may hold the link count 1 that means
                // "too many to count" (the kernel's dir_nlink rule, which
                // e2fsck applies whatever the features): only a writable
                // check offers the exact count, and nothing is wrong.
                let overflow = self.is_dir(ino)
                    && counted > 1
                    && link_count == 1
                    && self.fs.read_inode(ino)?.base.i_flags & ext2fs::inode::flags::INDEX != 0;
                if overflow {
                    let c = Ctx {
                        ino,
                        num: counted as u64,
                        ..Default::default()
                    };
                    if !self.read_only() && self.problem(Code::DirOverflowRefCount, &c)? {
                        self.set_link_count(ino, counted)?;
                    }
                } else if self.problem(Code::BadRefCount, &c)? {
                    self.set_link_count(ino, counted)?;
                }
            }
        }
        Ok(())
    }

    /// Stores the link count pass 4 counted, in the inode and in the
    /// check's own table.
    fn set_link_count(&mut self, ino: u32, counted: u32) -> Result<()> {
        let mut rec = self.fs.read_inode(ino)?;
        rec.base.i_links_count = counted.min(u16::MAX as u32) as u16;
        self.write_inode(ino, &rec)?;
        self.link_info[ino as usize] = rec.base.i_links_count;
        Ok(())
    }

    /// e2fsck's check_ea_inode: whether `ino` holds attribute values that
    /// attributes seen in pass 1 name (an EA_INODE-flagged inode with
    /// references); its stored reference count is put right on the way,
    /// unless it is an old Lustre one (ctime equal to atime, no count).
    fn attribute_value_inode(&mut self, ino: u32) -> Result<bool> {
        let Some(&refs) = self.ea_inode_refs.get(&ino) else {
            return Ok(false);
        };
        let mut rec = self.fs.read_inode(ino)?;
        if rec.base.i_flags & ext2fs::inode::flags::EA_INODE == 0 || refs == 0 {
            return Ok(false);
        }
        let stored = rec.ea_inode_refs();
        if stored != refs && rec.base.i_ctime != rec.base.i_atime {
            let c = Ctx {
                ino,
                num: stored,
                num2: refs,
                ..Default::default()
            };
            if self.problem(Code::EaInodeRefCount, &c)? {
                rec.set_ea_inode_refs(refs);
                self.write_inode(ino, &rec)?;
            }
        }
        Ok(true)
    }

    /// An inode nobody names; returns true when it was cleared.
    fn disconnected(&mut self, ino: u32) -> Result<bool> {
        if self.bad.get(ino as u64 - 1) && self.process_bad_inode(0, ino)? {
            return Ok(true);
        }
        let rec = self.fs.read_inode(ino)?;
        // e2fsck's test: no blocks, no in-inode attributes that may be
        // worth keeping, a regular file or directory (whatever i_size).
        let attrs = rec.has_in_inode_xattr_magic();
        let empty = rec.base.i_blocks == 0 && !attrs && (rec.is_reg() || rec.is_dir());
        if empty && self.problem(Code::UnattachedZeroLength, &Ctx::ino(ino))? {
            self.deallocate(ino)?;
            return Ok(true);
        }
        if self.problem(Code::UnattachedInode, &Ctx::ino(ino))? {
            if !self.reconnect(ino)? {
                self.ask.unfixed = true;
            }
        } else {
            // Left alone: do not also "fix" its link count to zero.
            return Ok(true);
        }
        Ok(false)
    }
}
