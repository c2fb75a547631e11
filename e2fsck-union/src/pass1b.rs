//! Passes 1B-1D: blocks claimed by more than one inode (or by an inode and
//! the filesystem's own metadata) are found per inode, named, and each
//! file that still shares them gets its own copies.

use std::collections::BTreeMap;

use anyhow::Result;
use ext2fs::inode;

use crate::blocks;
use crate::checker::{Checker, DirBlock};
use crate::problem::{Code, Ctx};
use ext2fs::block_map::{self, MapPtr, Order, Visit};

impl Checker {
    pub fn pass1_dups(&mut self) -> Result<()> {
        if self.dup.is_empty() {
            return Ok(());
        }
        if self.ask.mode == crate::ask::Mode::Preen {
            self.problem(Code::DupBlocksPreenStop, &Ctx::default())?;
        }
        self.problem(Code::Pass1B, &Ctx::default())?;
        // Which inodes hold which multiply-claimed blocks, in the order
        // the walk met them. The resize inode is walked too: its reserved
        // descriptor blocks may be claimed by a file.
        let first_ino = self.fs.sb().first_ino();
        let mut holders: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        let mut dup_inodes = 0u64;
        for ino in 1..=self.inodes_count {
            // The inode scan skips inodes in bad blocks of their table.
            if !self.is_used(ino) || self.in_bad_block(ino) {
                continue;
            }
            let Ok(inode) = self.fs.read_inode(ino) else {
                continue;
            };
            self.warn_outside_dup_map(ino, &inode);
            // e2fsck walks the maps ext2fs_inode_has_valid_blocks2 admits:
            // a symlink with a block count has one, whatever its size.
            // libext2fs' walk: an indirect block outside is shown, not
            // followed, and the rest of the block above it given up.
            let (met, iterate_error) =
                if ino == inode::BAD_INO || crate::pass1::holds_block_map(&inode) {
                    self.iterate_handled(&inode)?
                } else {
                    Default::default()
                };
            let mut mine: Vec<u32> = met
                .iter()
                .map(|p| p.pblk)
                .filter(|b| self.dup.contains_key(b))
                .collect();
            // Then the attribute block, with the ext_attr feature.
            let acl = inode.base.i_file_acl;
            let xattrs = self.fs.sb().has_compat(ext2fs::features::compat::EXT_ATTR);
            if xattrs && acl != 0 && self.dup.contains_key(&acl) {
                mine.push(acl);
            }
            if !mine.is_empty() {
                if ino != inode::BAD_INO {
                    let c = Ctx {
                        ino,
                        str1: format_runs(&mine),
                        ..Default::default()
                    };
                    self.problem(Code::DupBlocksInInode, &c)?;
                }
                if ino >= first_ino || ino == inode::ROOT_INO {
                    dup_inodes += 1;
                }
                holders.insert(ino, mine);
            }
            if let Some(why) = iterate_error {
                let c = Ctx {
                    ino,
                    str1: "pass1b".into(),
                    str2: why,
                    ..Default::default()
                };
                self.problem(Code::DupBlockIterate, &c)?;
            }
        }
        self.problem(Code::Pass1C, &Ctx::default())?;
        self.pass1c_reads(&holders, first_ino)?;
        self.problem(Code::Pass1D, &Ctx::default())?;
        let c = Ctx {
            num: dup_inodes,
            ..Default::default()
        };
        self.problem(Code::DupInodeCount, &c)?;
        let inos: Vec<u32> = holders.keys().copied().collect();
        for &ino in &inos {
            if ino == inode::BAD_INO || ino == inode::RESIZE_INO {
                continue;
            }
            let mine = &holders[&ino];
            let meta = mine
                .iter()
                .any(|&b| self.metadata.get(b as u64 - self.first_data));
            let shared = sharers(&holders, ino);
            let still_shared = mine.iter().any(|b| self.dup.get(b).is_some_and(|&n| n > 1));
            // e2fsck counts each claim, a block listed twice twice.
            self.dup_header(ino, mine.len(), &shared, meta)?;
            if !still_shared {
                self.problem(Code::DupAlreadyCloned, &Ctx::default())?;
                continue;
            }
            if self.problem(Code::DupClone, &Ctx::default())? {
                let why = match self.clone_file(ino, &holders)? {
                    Cloned::Done => continue,
                    Cloned::NoSpace => {
                        // As e2fsck: out of blocks, the file may still be
                        // deleted.
                        let why = ext2fs::Error::NoSpace { what: "block" }.com_err_text();
                        eprintln!("clone_file: {why} returned from clone_file_block");
                        why
                    }
                    Cloned::WalkFailed(why) => why,
                };
                let c = Ctx {
                    str1: why,
                    ..Default::default()
                };
                self.problem(Code::CloneError, &c)?;
            }
            if self.problem(Code::DupDelete, &Ctx::default())? {
                self.delete_file(ino)?;
            } else {
                self.ask.unfixed = true;
            }
        }
        Ok(())
    }

    /// [`blocks::iterate`] with each indirect block read through the I/O
    /// error handler, as pass 1B's block walk reads them ("Error reading
    /// block N (...).  Ignore error?"); one it does not let pass is the
    /// walk's error and nothing below it is read.
    fn iterate_handled(&mut self, inode: &inode::Inode) -> Result<(Vec<MapPtr>, Option<String>)> {
        struct Walk<'a> {
            ck: &'a mut Checker,
            error: blocks::IterateError,
            met: Vec<MapPtr>,
            failure: Option<anyhow::Error>,
        }
        let (first, count) = (self.first_data, self.blocks_count);
        let bs = self.fs.block_size();
        let mut w = Walk {
            ck: self,
            error: Default::default(),
            met: Vec::new(),
            failure: None,
        };
        let mut i_block = inode.base.i_block;
        // OK: the reader never fails (a failure is kept for after).
        let _ = block_map::iterate_in(
            &mut w,
            Order::ParentFirst,
            &mut i_block,
            bs,
            |w, p| {
                if w.failure.is_some() {
                    return Ok(None);
                }
                let e = match w.ck.fs.read_block(u64::from(p.pblk)) {
                    Ok(bytes) => return Ok(Some(bytes)),
                    Err(e) => e,
                };
                let why = e.com_err_text();
                Ok(match w.ck.read_error(e) {
                    Ok(Some(bytes)) => Some(bytes),
                    Ok(None) => {
                        w.error.read_failed(why);
                        None
                    }
                    Err(e) => {
                        w.failure = Some(e);
                        None
                    }
                })
            },
            |w, p| {
                if w.failure.is_some() {
                    return Visit::Stop;
                }
                let b = u64::from(p.pblk);
                w.error.meet(p.level());
                w.met.push(*p);
                let inside = b >= first && b < count;
                let verdict = if p.level() > 0 && !inside {
                    Visit::Abandon
                } else {
                    Visit::Keep
                };
                w.error.record(p, &verdict, inside, false);
                verdict
            },
        );
        if let Some(e) = w.failure {
            return Err(e);
        }
        Ok((w.met, w.error.finish()))
    }

    /// e2fsck's pass 1B tests every pointer of an inode's map (libext2fs'
    /// walk: an indirect block outside shown, not followed, and the rest
    /// of the block above it given up), then its attribute block, against
    /// its multiply-claimed block map; libext2fs warns on standard error
    /// of each block number outside the map's range (what -n left of the
    /// illegal blocks pass 1 reported).
    fn warn_outside_dup_map(&self, ino: u32, inode: &inode::Inode) {
        let mut outside = Vec::new();
        if ino == inode::BAD_INO || crate::pass1::holds_block_map(inode) {
            self.fs.block_iterate(inode, |p| {
                if !self.block_ok(p.pblk as u64) {
                    outside.push(p.pblk);
                }
                std::ops::ControlFlow::Continue(())
            });
        }
        let acl = inode.base.i_file_acl;
        let xattrs = self.fs.sb().has_compat(ext2fs::features::compat::EXT_ATTR);
        if xattrs && acl != 0 && !self.block_ok(acl as u64) {
            outside.push(acl);
        }
        if crate::ask::quiet() {
            return;
        }
        outside.into_iter().for_each(warn_outside_map);
    }

    fn dup_header(&mut self, ino: u32, count: usize, shared: &[u32], meta: bool) -> Result<()> {
        let describe = |ck: &Checker, i: u32| -> (String, String) {
            let mtime = ck.fs.read_inode(i).map(|n| n.base.i_mtime).unwrap_or(0);
            (ck.find_path(i), cli_common::asctime(mtime as i64))
        };
        let (path, when) = describe(self, ino);
        let c = Ctx {
            ino,
            num: count as u64,
            num2: shared.len() as u64 + meta as u64,
            str1: path,
            str2: when,
            ..Default::default()
        };
        self.problem(Code::DupFileHeader, &c)?;
        if meta {
            let c = Ctx {
                str1: "<filesystem metadata>".into(),
                ..Default::default()
            };
            self.problem(Code::DupFileShared, &c)?;
        }
        for &o in shared {
            let (path, when) = describe(self, o);
            let line = format!("{path} (inode #{o}, mod time {when})");
            let c = Ctx {
                str1: line,
                ..Default::default()
            };
            self.problem(Code::DupFileShared, &c)?;
        }
        Ok(())
    }

    /// Pass 1C's reads: the directory blocks in e2fsck's dblist order
    /// until every multiply-claimed inode (past the reserved ones, the
    /// root aside) has been named, each failed read put to the I/O error
    /// handler and the block passed over. The names themselves are looked
    /// up again by [`Checker::find_path`].
    fn pass1c_reads(&mut self, holders: &BTreeMap<u32, Vec<u32>>, first_ino: u32) -> Result<()> {
        let mut unnamed: std::collections::BTreeSet<u32> = holders
            .keys()
            .copied()
            .filter(|&i| i >= first_ino)
            .collect();
        // e2fsck's count (dup_inode_count - dup_inode_founddir): every
        // multiply-claimed inode but the root, its own directory. A
        // reserved one is never named (search_dirent_proc passes over
        // inodes below the first), so it keeps the search going to the
        // last block.
        let mut left = holders.keys().filter(|&&i| i != inode::ROOT_INO).count();
        let mut order: Vec<(u32, u32, u32)> = self
            .dir_blocks
            .iter()
            .map(|d| (d.pblk, d.ino, d.lblk))
            .collect();
        order.sort_unstable();
        for (pblk, _, lblk) in order {
            if left == 0 {
                break;
            }
            if pblk == 0 {
                continue;
            }
            let Some(buf) = self.read_block_handled(pblk as u64)? else {
                continue;
            };
            let dots = if lblk == 0 { 2 } else { 0 };
            for e in ext2fs::dirent::iter_block(&buf).skip(dots) {
                if unnamed.remove(&e.inode) {
                    left -= 1;
                }
            }
        }
        Ok(())
    }

    /// The path of any inode, found as pass 1C does: the first directory
    /// entry naming it other than a directory's own '.' and '..' (a
    /// directory's '..' may be in a block it shares with another).
    pub fn find_path(&self, ino: u32) -> String {
        // e2fsck's add_dupe gives the root itself as its directory, so
        // its name is read from its own '..' ("???" when that block does
        // not read as a directory).
        if ino == inode::ROOT_INO {
            return self.pathname(ino, ino);
        }
        if ino < self.fs.sb().first_ino() {
            return self.pathname(0, ino);
        }
        // e2fsck's dblist is walked sorted by block, then inode, then
        // logical block: with several links the lowest block's name wins.
        let mut order: Vec<&DirBlock> = self.dir_blocks.iter().collect();
        order.sort_by_key(|d| (d.pblk, d.ino, d.lblk));
        for db in order {
            if db.pblk == 0 {
                continue;
            }
            let Ok(buf) = self.fs.read_block(db.pblk as u64) else {
                continue;
            };
            let dots = if db.lblk == 0 { 2 } else { 0 };
            if ext2fs::dirent::iter_block(&buf)
                .skip(dots)
                .any(|e| e.inode == ino)
            {
                return self.pathname(db.ino, ino);
            }
        }
        self.pathname(0, ino)
    }

    /// Pass 1D's delete_file: the inode and the blocks only it held are
    /// freed in the filesystem's bitmaps and free counts at once (libext2fs'
    /// alloc_stats), not left for pass 5 to find, as well as in the
    /// check's own maps. The map is walked as libext2fs' iterator walks it
    /// (an indirect block outside the filesystem ends the block above it,
    /// and the walk's error is reported); each block outside is warned of
    /// as libext2fs warns.
    fn delete_file(&mut self, ino: u32) -> Result<()> {
        let inode = self.fs.read_inode(ino)?;
        let mut held = Vec::new();
        if inode.base.i_file_acl != 0 && self.block_ok(inode.base.i_file_acl as u64) {
            held.push(inode.base.i_file_acl as u64);
        }
        if self.fs.has_block_map(&inode) {
            let (met, error) = blocks::iterate(&self.fs, &inode);
            let mut outside = Vec::new();
            for p in met.iter().filter(|p| !p.repeat) {
                if self.block_ok(p.pblk as u64) {
                    held.push(p.pblk as u64);
                } else {
                    outside.push(p.pblk);
                }
            }
            if !crate::ask::quiet() {
                for b in outside {
                    warn_outside_map(b);
                    if u64::from(b) >= self.blocks_count {
                        eprintln!("ext2fs_block_alloc_stats: Illegal block number: {b}");
                    }
                }
            }
            if let Some(why) = error {
                self.walk_failed(ino, "delete_file", why)?;
            }
        }
        self.deallocate(ino)?;
        for b in held {
            let index = b - self.first_data;
            if let Some(k) = self.early_allocs.iter().position(|&e| e == b) {
                // A copy this pass made, which e2fsck marked in the
                // bitmap without counting it: alloc_stats clears the bit
                // and counts it free all the same.
                self.early_allocs.swap_remove(k);
                self.fs.block_alloc_stats(b, false)?;
            } else if !self.found.get(index) && !self.metadata.get(index) {
                self.fs.mark_block(b, false)?;
            }
        }
        self.fs.mark_inode(ino, false, inode.is_dir())?;
        // Pass 5 compares with the bitmaps as written.
        self.fs.flush()?;
        Ok(())
    }

    /// PR_1B_BLOCK_ITERATE for pass 1D's walks (`what`: e2fsck's name of
    /// the walk).
    fn walk_failed(&mut self, ino: u32, what: &str, why: String) -> Result<()> {
        let c = Ctx {
            ino,
            str1: what.into(),
            str2: why,
            ..Default::default()
        };
        self.problem(Code::DupBlockIterate, &c)?;
        Ok(())
    }

    /// Gives `ino` its own copy of every block it still shares, walking
    /// its map as libext2fs' iterator walks it; what was copied before the
    /// free blocks ran out or the walk failed stays copied, as e2fsck's
    /// clone_file leaves it.
    fn clone_file(&mut self, ino: u32, holders: &BTreeMap<u32, Vec<u32>>) -> Result<Cloned> {
        let mut inode = self.fs.read_inode(ino)?;
        let first = self.first_data;
        let n = self.found.len();
        // (shared block, its copy, logical block) of each data block copied.
        let mut copies: Vec<(u64, u64, u64)> = Vec::new();
        let mut goal = 0u64;
        let mut full = false;
        let blocks_count = self.blocks_count;
        let per_block = u64::from(self.fs.block_size() / 4);
        let mut error = blocks::IterateError::default();
        let mut outside = Vec::new();
        let walk = blocks::walk(&self.fs, &mut inode, |p| {
            error.meet(p.level());
            let inside = u64::from(p.pblk) >= first && u64::from(p.pblk) < blocks_count;
            let verdict = 'decide: {
                if !inside {
                    // clone_file_block tests it against the multiply-claimed
                    // map; an indirect block there ends the block above it.
                    outside.push(p.pblk);
                    break 'decide if p.level() > 0 {
                        Visit::Abandon
                    } else {
                        Visit::Keep
                    };
                }
                let Some(count) = self.dup.get_mut(&p.pblk) else {
                    break 'decide Visit::Keep;
                };
                if *count <= 1 {
                    break 'decide Visit::Keep;
                }
                let Some(i) = self
                    .found
                    .first_clear(goal, n)
                    .or_else(|| self.found.first_clear(0, n))
                else {
                    full = true;
                    break 'decide Visit::Stop;
                };
                self.found.set(i, true);
                // e2fsck marks the copy in the filesystem's bitmap too.
                self.early_allocs.push(i + first);
                goal = i + 1;
                *count -= 1;
                if *count <= 1 {
                    self.dup.remove(&p.pblk);
                }
                let new = (i + first) as u32;
                if p.is_data() {
                    copies.push((p.pblk as u64, new as u64, p.lblk()));
                }
                Visit::Replace(new)
            };
            error.record(p, &verdict, inside, blocks::in_indirect(p, per_block));
            verdict
        });
        if !crate::ask::quiet() {
            outside.into_iter().for_each(warn_outside_map);
        }
        for &(from, to, lblk) in &copies {
            let data = self.fs.read_block(from)?;
            self.fs.write_block(to, &data)?;
            // Pass 2 must read a directory's own copy, not the shared
            // block: ext2fs_set_dir_block2 moves the dblist entry of this
            // logical block only (the map may list the shared block at
            // other logical blocks too, which keep it).
            if let Some(d) = self
                .dir_blocks
                .iter_mut()
                .find(|d| d.ino == ino && u64::from(d.lblk) == lblk)
            {
                d.pblk = to as u32;
            }
        }
        for (b, data) in &walk.writes {
            self.fs.write_block(*b, data)?;
        }
        if walk.i_block_changed {
            self.write_inode(ino, &inode)?;
        }
        if full {
            return Ok(Cloned::NoSpace);
        }
        if let Some(why) = error.finish() {
            self.walk_failed(ino, "clone_file", why.clone())?;
            return Ok(Cloned::WalkFailed(why));
        }
        Ok(if self.clone_ea_block(ino, &mut inode, holders)? {
            Cloned::Done
        } else {
            Cloned::NoSpace
        })
    }

    /// clone_file's attribute block: a multiply-claimed one is copied to a
    /// new block, and every other holder of the block whose attribute
    /// block it is follows the copy. False when no block is free.
    fn clone_ea_block(
        &mut self,
        ino: u32,
        inode: &mut inode::Inode,
        holders: &BTreeMap<u32, Vec<u32>>,
    ) -> Result<bool> {
        let acl = inode.base.i_file_acl;
        let xattrs = self.fs.sb().has_compat(ext2fs::features::compat::EXT_ATTR);
        if !xattrs || acl == 0 || self.dup.get(&acl).is_none_or(|&n| n <= 1) {
            return Ok(true);
        }
        let n = self.found.len();
        let Some(i) = self.found.first_clear(0, n) else {
            return Ok(false);
        };
        self.found.set(i, true);
        // e2fsck marks the copy in the filesystem's bitmap too.
        self.early_allocs.push(i + self.first_data);
        let new = (i + self.first_data) as u32;
        let data = self.fs.read_block(acl as u64)?;
        self.fs.write_block(new as u64, &data)?;
        let drop_one = |dup: &mut std::collections::HashMap<u32, u32>| {
            if let Some(count) = dup.get_mut(&acl) {
                *count -= 1;
                if *count <= 1 {
                    dup.remove(&acl);
                }
            }
        };
        drop_one(&mut self.dup);
        inode.base.i_file_acl = new;
        self.write_inode(ino, inode)?;
        for (&other, blocks) in holders {
            if other == ino || !blocks.contains(&acl) {
                continue;
            }
            let mut o = self.fs.read_inode(other)?;
            if o.base.i_file_acl == acl {
                o.base.i_file_acl = new;
                self.write_inode(other, &o)?;
                drop_one(&mut self.dup);
            }
        }
        Ok(true)
    }
}

/// How pass 1D's clone of a file ended.
enum Cloned {
    Done,
    /// No free block was left for a copy.
    NoSpace,
    /// libext2fs' iterator failed on the map (its error).
    WalkFailed(String),
}

/// libext2fs' warning, on standard error, of a block number outside the
/// multiply-claimed block map's range.
fn warn_outside_map(b: u32) {
    eprintln!("Illegal block number passed to ext2fs_test_block_bitmap #{b} for multiply claimed block map");
}

/// The inodes sharing a block with `ino`, in e2fsck's order: its blocks
/// from the last met to the first, and for each block its holders from the
/// last scanned to the first (e2fsck keeps both lists by prepending).
fn sharers(holders: &BTreeMap<u32, Vec<u32>>, ino: u32) -> Vec<u32> {
    let mut shared = Vec::new();
    for b in holders[&ino].iter().rev() {
        for (&other, theirs) in holders.iter().rev() {
            if other != ino && !shared.contains(&other) && theirs.contains(b) {
                shared.push(other);
            }
        }
    }
    shared
}

/// "25--26 30" style lists of block numbers (runs of consecutive blocks).
pub fn format_runs(blocks: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < blocks.len() {
        let start = blocks[i];
        let mut j = i;
        while j + 1 < blocks.len() && blocks[j + 1] == blocks[j].wrapping_add(1) {
            j += 1;
        }
        if j > i {
            out.push_str(&format!(" {start}--{}", blocks[j]));
        } else {
            out.push_str(&format!(" {start}"));
        }
        i = j + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs() {
        assert_eq!(format_runs(&[25, 26, 30]), " 25--26 30");
    }
}
