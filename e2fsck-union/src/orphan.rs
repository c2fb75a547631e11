//! The orphan list (inodes deleted or truncated while open when the
//! filesystem went down), released before pass 1 as e2fsck's
//! release_orphan_inodes does: each inode named, its blocks checked
//! against the on-disk bitmap while they are freed, and the first thing
//! that cannot be trusted ends the walk and forces a full check.

use anyhow::Result;
use ext2fs::block_map::{self, MapPtr, Order, Visit};
use ext2fs::inode::Inode;
use ext2fs::superblock::{STATE_ERROR, STATE_VALID};

use crate::checker::Checker;
use crate::problem::{Code, Ctx};

/// One orphan's block release (e2fsck's release_inode_blocks), the
/// context of its children-first walk.
struct Release<'a> {
    ck: &'a mut Checker,
    ino: u32,
    /// Truncating: the first logical block past i_size, which and all
    /// after it are freed; None when the whole inode is deleted.
    keep_below: Option<u64>,
    /// The block visited last (a block listed twice in a row counts once).
    last: u32,
    freed: u64,
    /// libext2fs' iterator error: the last indirect block outside the
    /// filesystem, met before its blocks are visited.
    iterate_error: Option<&'static str>,
    /// A problem was reported: the list is given up.
    aborted: bool,
    /// An I/O error met by the visitor, which ended the walk.
    failed: Option<anyhow::Error>,
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
        // ext2fs_mark_super_dirty: the filesystem counts as modified,
        // whatever the list turns out to be.
        self.ask.changed = true;
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
        // e2fsck_read_bitmaps, before the first orphan.
        self.bitmaps_read_early = true;
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
                // ext2fs_inode_alloc_stats2: counted free whatever its bit
                // says (an orphan already free is freed again).
                self.fs.inode_alloc_stats(ino, false, rec.is_dir())?;
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
            let bs = self.fs.block_size();
            let mut r = Release {
                ck: self,
                ino,
                keep_below: (rec.base.i_links_count != 0)
                    .then(|| rec.size().div_ceil(u64::from(bs))),
                last: 0,
                freed: 0,
                iterate_error: None,
                aborted: false,
                failed: None,
            };
            // libext2fs' BLOCK_FLAG_DEPTH_TRAVERSE: an indirect block is
            // judged once the blocks below it are gone.
            let edit = block_map::iterate_in(
                &mut r,
                Order::ChildrenFirst,
                &mut rec.base.i_block,
                bs,
                |r, p| {
                    if !r.ck.block_ok(u64::from(p.pblk)) {
                        r.iterate_error = Some(crate::blocks::bad_indirect_error(p.level()));
                        return Ok(None);
                    }
                    // libext2fs' one error code: a later read overwrites it.
                    r.iterate_error = None;
                    r.ck.fs.read_block(u64::from(p.pblk)).map(Some)
                },
                |r, p| match r.release_block(p) {
                    Ok(verdict) => verdict,
                    Err(e) => {
                        r.failed = Some(e);
                        Visit::Stop
                    }
                },
            )?;
            let Release {
                freed,
                iterate_error,
                aborted,
                failed,
                ..
            } = r;
            if let Some(e) = failed {
                return Err(e);
            }
            for (b, bytes) in &edit.writes {
                self.fs.write_block(*b, bytes)?;
            }
            if edit.i_block_changed {
                self.write_inode(ino, rec)?;
            }
            if let Some(why) = iterate_error {
                eprintln!(
                    "release_inode_blocks: {why} while calling ext2fs_block_iterate for inode {ino}"
                );
                return Ok(false);
            }
            if aborted {
                return Ok(false);
            }
            let sectors = freed * u64::from(bs / 512);
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
}

impl Release<'_> {
    /// e2fsck's release_inode_block for one pointer.
    fn release_block(&mut self, p: &MapPtr) -> Result<Visit> {
        if p.pblk == self.last {
            return Ok(Visit::Keep);
        }
        self.last = p.pblk;
        let b = u64::from(p.pblk);
        let c = Ctx {
            ino: self.ino,
            blk: b,
            num: p.lblk(),
            indirect: p.level(),
            ..Default::default()
        };
        let problem = if !self.ck.block_ok(b) {
            Some(Code::OrphanIllegalBlock)
        } else if !self.ck.fs.test_block(b)? {
            Some(Code::OrphanAlreadyCleared)
        } else {
            None
        };
        if let Some(code) = problem {
            self.ck.ask.notice(code, &c);
            self.aborted = true;
            return Ok(Visit::Stop);
        }
        let mut verdict = Visit::Keep;
        if let Some(keep_below) = self.keep_below {
            // An indirect block goes only once nothing below is left.
            let kept = if p.is_data() {
                p.lblk() < keep_below
            } else {
                p.holds_pointers
            };
            if kept {
                return Ok(Visit::Keep);
            }
            self.freed += 1;
            verdict = Visit::Replace(0);
        }
        self.ck.fs.mark_block(b, false)?;
        Ok(verdict)
    }
}
