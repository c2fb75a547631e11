//! The orphan list (inodes deleted or truncated while open when the
//! filesystem went down), released before pass 1 as e2fsck's
//! release_orphan_inodes does: each inode named, its blocks checked
//! against the on-disk bitmap while they are freed, and the first thing
//! that cannot be trusted ends the walk and forces a full check.

use anyhow::Result;
use ext2fs::block_map;
use ext2fs::inode::{Inode, NDIR_BLOCKS};
use ext2fs::superblock::{STATE_ERROR, STATE_VALID};

use crate::checker::Checker;
use crate::problem::{Code, Ctx};

/// How the walk over one orphan's blocks ended.
enum Walk {
    Done,
    /// A problem was reported (or the map could not be read): the list is
    /// given up.
    Abort,
}

/// One orphan's block release (e2fsck's release_inode_blocks).
struct Release {
    ino: u32,
    /// Truncating: the first logical block past i_size, which and all
    /// after it are freed; None when the whole inode is deleted.
    keep_below: Option<u64>,
    /// The block visited last (a block listed twice in a row counts once).
    last: u32,
    freed: u64,
    /// libext2fs' iterator error: an indirect block outside the
    /// filesystem, met before its blocks are visited.
    iterate_error: Option<&'static str>,
}

impl Checker {
    /// Releases the orphan list. The list head is cleared whatever
    /// happens; a list that cannot be trusted marks the filesystem not
    /// clean, so the full check follows.
    pub fn release_orphans(&mut self) -> Result<()> {
        let head = self.fs.sb().s_last_orphan;
        if head == 0 || self.read_only() {
            return Ok(());
        }
        self.fs.update_superblock(|sb| sb.s_last_orphan = 0);
        // A filesystem with errors gets the full check instead: its list
        // cannot be trusted.
        if self.fs.sb().s_state & STATE_ERROR != 0 {
            return Ok(());
        }
        if !self.release_list(head)? {
            self.fs.update_superblock(|sb| sb.s_state &= !STATE_VALID);
        }
        Ok(())
    }

    /// Walks the list from `head`; false when it was given up.
    fn release_list(&mut self, head: u32) -> Result<bool> {
        let first_ino = self.fs.sb().first_ino();
        let count = self.fs.sb().s_inodes_count;
        let legal = |ino: u32| ino >= first_ino && ino <= count;
        if !legal(head) {
            self.ask.notice(Code::OrphanIllegalHead, &Ctx::ino(head));
            return Ok(false);
        }
        let mut ino = head;
        // A list that loops comes back to a released inode, whose dtime
        // is then a time, not a link: e2fsck stops there. The bound only
        // guards against a clock that reads as an inode number.
        let mut steps = 0u64;
        while ino != 0 {
            steps += 1;
            if steps > 2 * count as u64 {
                self.ask.notice(Code::OrphanListBad, &Ctx::ino(ino));
                return Ok(false);
            }
            let mut rec = self.fs.read_inode(ino)?;
            let clear = rec.base.i_links_count == 0;
            let c = Ctx {
                ino,
                num: rec.uid() as u64,
                num2: rec.gid() as u64,
                mode: rec.mode(),
                blk: rec.size(),
                str1: if clear { "Clearing" } else { "Truncating" }.into(),
                ..Default::default()
            };
            self.ask.notice(Code::OrphanInode, &c);
            let next = rec.base.i_dtime;
            if next != 0 && !legal(next) {
                self.ask.notice(Code::OrphanListBad, &Ctx::ino(next));
                return Ok(false);
            }
            if !self.release_orphan_blocks(ino, &mut rec)? {
                return Ok(false);
            }
            if clear {
                self.fs.mark_inode(ino, false, rec.is_dir())?;
                rec.base.i_dtime = self.now;
            } else {
                rec.base.i_dtime = 0;
            }
            self.write_inode(ino, &rec)?;
            ino = next;
        }
        Ok(true)
    }

    /// Frees an orphan's blocks (all of them, or those past i_size) and
    /// drops its extended attribute block; false when a block was found
    /// outside the filesystem or already free, or the map or the
    /// attribute block could not be read.
    fn release_orphan_blocks(&mut self, ino: u32, rec: &mut Inode) -> Result<bool> {
        if self.fs.has_block_map(rec) {
            let bs = self.fs.block_size() as u64;
            let mut r = Release {
                ino,
                keep_below: (rec.base.i_links_count != 0).then(|| rec.size().div_ceil(bs)),
                last: 0,
                freed: 0,
                iterate_error: None,
            };
            let mut map = rec.base.i_block;
            let mut walk = Walk::Done;
            let mut first = 0u64;
            let per = bs / 4;
            for (slot, p) in map.iter_mut().enumerate() {
                let level = slot.saturating_sub(NDIR_BLOCKS - 1) as u8;
                let start = first;
                first += per.pow(level as u32);
                if *p == 0 {
                    continue;
                }
                match self.release_tree(&mut r, level, start, *p)? {
                    Some(new) => *p = new,
                    None => {
                        walk = Walk::Abort;
                        break;
                    }
                }
            }
            let changed = map != rec.base.i_block;
            rec.base.i_block = map;
            if changed {
                self.write_inode(ino, rec)?;
            }
            if let Some(why) = r.iterate_error {
                eprintln!(
                    "release_inode_blocks: {why} while calling ext2fs_block_iterate for inode {ino}"
                );
                return Ok(false);
            }
            if matches!(walk, Walk::Abort) {
                return Ok(false);
            }
            let sectors = r.freed * (bs / 512);
            rec.base.i_blocks = rec.base.i_blocks.saturating_sub(sectors as u32);
        }
        let acl = rec.base.i_file_acl;
        if acl != 0 {
            if self.block_ok(acl as u64) {
                let mut buf = self.fs.read_block(acl as u64)?;
                let mut refs = None;
                let header = ext2fs::xattr::update_header(&mut buf, acl as u64, |h| {
                    if h.h_magic == ext2fs::xattr::XATTR_MAGIC {
                        h.h_refcount = h.h_refcount.wrapping_sub(1);
                        refs = Some(h.h_refcount);
                    }
                });
                let Some(left) = refs.filter(|_| header.is_ok()) else {
                    eprintln!(
                        "release_inode_blocks: Bad magic number in extended attribute block while calling ext2fs_adjust_ea_refcount2 for inode {ino}"
                    );
                    return Ok(false);
                };
                self.fs.write_block(acl as u64, &buf)?;
                if left == 0 {
                    self.fs.mark_block(acl as u64, false)?;
                }
            }
            rec.base.i_file_acl = 0;
        }
        Ok(true)
    }

    /// One pointer and, for an indirect block, the blocks below it first
    /// (libext2fs' depth-first order); the pointer's new value, or None
    /// when the walk ends.
    fn release_tree(
        &mut self,
        r: &mut Release,
        level: u8,
        lblk: u64,
        p: u32,
    ) -> Result<Option<u32>> {
        if level > 0 {
            if !self.block_ok(p as u64) {
                // The iterator skips it with an error and goes on.
                r.iterate_error = Some(crate::blocks::bad_indirect_error(level));
                return Ok(Some(p));
            }
            let mut buf = self.fs.read_block(p as u64)?;
            let children: Vec<u32> = ext2fs::block_map::pointers(&buf).collect();
            let span = (children.len() as u64).pow(level as u32 - 1);
            let mut changed = false;
            let mut aborted = false;
            for (k, child) in children.into_iter().enumerate() {
                if child == 0 {
                    continue;
                }
                match self.release_tree(r, level - 1, lblk + k as u64 * span, child)? {
                    Some(new) => {
                        if new != child {
                            ext2fs::block_map::set_pointer(&mut buf, k, new);
                            changed = true;
                        }
                    }
                    None => {
                        aborted = true;
                        break;
                    }
                }
            }
            if changed {
                self.fs.write_block(p as u64, &buf)?;
            }
            if aborted {
                return Ok(None);
            }
        }
        self.release_orphan_block(r, level, lblk, p)
    }

    /// e2fsck's release_inode_block for one block.
    fn release_orphan_block(
        &mut self,
        r: &mut Release,
        level: u8,
        lblk: u64,
        p: u32,
    ) -> Result<Option<u32>> {
        if p == r.last {
            return Ok(Some(p));
        }
        r.last = p;
        let c = Ctx {
            ino: r.ino,
            blk: p as u64,
            num: lblk,
            indirect: level,
            ..Default::default()
        };
        if !self.block_ok(p as u64) {
            self.ask.notice(Code::OrphanIllegalBlock, &c);
            return Ok(None);
        }
        if !self.fs.test_block(p as u64)? {
            self.ask.notice(Code::OrphanAlreadyCleared, &c);
            return Ok(None);
        }
        let mut new = p;
        if let Some(keep_below) = r.keep_below {
            if level > 0 {
                // An indirect block goes only once nothing below is left.
                let buf = self.fs.read_block(p as u64)?;
                if block_map::pointers(&buf).any(|q| q != 0) {
                    return Ok(Some(p));
                }
            } else if lblk < keep_below {
                return Ok(Some(p));
            }
            r.freed += 1;
            new = 0;
        }
        self.fs.mark_block(p as u64, false)?;
        Ok(Some(new))
    }
}
