//! Pass 3: every directory must reach the root; '..' must name the
//! directory that holds it; /lost+found must exist. Pass 3A rebuilds the
//! directories marked for it (duplicate names, cleared htree indexes).

use std::collections::HashSet;

use anyhow::Result;
use ext2fs::dirent::{self, ft, DirEntry, RawBlock};
use ext2fs::inode::{self, mode_to_dirent_type};

use crate::checker::{Checker, DirBlock, DirInfo, RepairBlocks};
use crate::problem::{Code, Ctx};

const LOST_FOUND: &[u8] = b"lost+found";

impl Checker {
    pub fn pass3(&mut self) -> Result<()> {
        let result = self.connect_directories();
        // Set aside and not used: free again (as e2fsck at pass 3's end).
        let RepairBlocks { root, lost_found } = std::mem::take(&mut self.repair_blocks);
        for b in [root, lost_found].into_iter().flatten() {
            self.fs.set_block_bit(b, false)?;
        }
        result
    }

    /// e2fsck's reserve_block_for_root_repair and _lnf_repair, at the end
    /// of pass 1: a block each for a root directory and a /lost+found
    /// pass 3 will have to make.
    pub fn reserve_repair_blocks(&mut self) -> Result<()> {
        if self.read_only() {
            // Nothing will be made: the reservation could change nothing.
            return Ok(());
        }
        let root_missing = !self.is_used(inode::ROOT_INO);
        let lnf_missing = !self.is_dir(inode::ROOT_INO)
            || !matches!(self.lookup_in(inode::ROOT_INO, LOST_FOUND), Ok(Some(_)));
        let n = self.found.len();
        for (missing, which) in [(root_missing, 0), (lnf_missing, 1)] {
            let Some(i) = missing.then(|| self.found.first_clear(0, n)).flatten() else {
                continue;
            };
            self.found.set(i, true);
            let b = Some(i + self.first_data);
            if which == 0 {
                self.repair_blocks.root = b;
            } else {
                self.repair_blocks.lost_found = b;
            }
        }
        Ok(())
    }

    fn connect_directories(&mut self) -> Result<()> {
        self.check_root()?;
        if !self.is_dir(inode::ROOT_INO) {
            return Ok(());
        }
        let mut dirs: Vec<u32> = self.dir_info.keys().copied().collect();
        dirs.sort_unstable();
        let mut done: HashSet<u32> = HashSet::new();
        done.insert(inode::ROOT_INO);
        // e2fsck's pass 3 problem context, kept from one directory to the
        // next: its "was in" directory stays the last parent it recorded
        // when a '..' entry cannot be looked up.
        let mut last_parent = inode::ROOT_INO;
        for dir in dirs {
            if self.is_dir(dir) {
                self.check_directory(dir, &mut done, &mut last_parent)?;
            }
        }
        if !self.read_only() && self.lost_found == 0 {
            self.get_lost_and_found(true)?;
        }
        if !self.rehash.is_empty() {
            self.pass3a()?;
        }
        Ok(())
    }

    /// As e2fsck's check_root: a root in use must be a directory (its
    /// clearing was declined in pass 1); a missing one is made anew or
    /// the check stops. Both stops are fatal problems.
    fn check_root(&mut self) -> Result<()> {
        if self.is_used(inode::ROOT_INO) {
            if !self.is_dir(inode::ROOT_INO) {
                return Err(self.fatal(Code::RootNotDirAbort, &Ctx::default()));
            }
            return Ok(());
        }
        if !self.problem(Code::NoRoot, &Ctx::default())? {
            return Err(self.fatal(Code::NoRootInodeAbort, &Ctx::default()));
        }
        let bs = self.fs.block_size() as usize;
        // e2fsck marks the new root's block and inode in the bitmaps
        // without counting them: pass 5 then corrects the counts.
        let blk = match self.repair_blocks.root.take() {
            Some(b) => b as u32,
            None => {
                let b = self.alloc_block(0)?;
                self.fs.mark_block(b as u64, false)?;
                self.fs.set_block_bit(b as u64, true)?;
                b
            }
        };
        let block = dirent::new_dir_block(
            inode::ROOT_INO,
            inode::ROOT_INO,
            bs,
            self.fs.filetype_feature(),
        );
        self.fs.write_block(blk as u64, &block)?;
        let mut rec = self.fs.new_inode_record(inode::S_IFDIR | 0o755);
        rec.base.i_block[0] = blk;
        rec.base.i_links_count = 2;
        rec.base.i_blocks = (bs / 512) as u32;
        rec.set_size(bs as u64);
        self.write_inode(inode::ROOT_INO, &rec)?;
        self.fs.set_inode_bit(inode::ROOT_INO, true)?;
        Self::set_ino(&mut self.used, inode::ROOT_INO, true);
        Self::set_ino(&mut self.dirs, inode::ROOT_INO, true);
        self.dir_info.insert(
            inode::ROOT_INO,
            DirInfo {
                parent: inode::ROOT_INO,
                dotdot: inode::ROOT_INO,
            },
        );
        self.dir_blocks.push(DirBlock {
            ino: inode::ROOT_INO,
            lblk: 0,
            pblk: blk,
        });
        self.counted[inode::ROOT_INO as usize] = 2;
        self.link_info[inode::ROOT_INO as usize] = 2;
        self.stats.dirs += 1;
        Ok(())
    }

    fn check_directory(
        &mut self,
        dir: u32,
        done: &mut HashSet<u32>,
        last_parent: &mut u32,
    ) -> Result<()> {
        let mut ino = dir;
        let mut path_seen: HashSet<u32> = HashSet::new();
        loop {
            if !done.insert(ino) {
                break;
            }
            path_seen.insert(ino);
            let parent = self.dir_info.get(&ino).map_or(0, |d| d.parent);
            if parent == 0 || path_seen.contains(&parent) {
                // As e2fsck: the '..' entry as it is now on disk (pass 2
                // may have cleared it).
                let was_in = if parent != 0 {
                    parent
                } else {
                    match self.fs.lookup_entry(ino, b"..") {
                        Ok(Some(e)) => e.inode,
                        _ => *last_parent,
                    }
                };
                *last_parent = was_in;
                let c = Ctx {
                    ino,
                    path: self.dir_path(was_in),
                    ..Default::default()
                };
                if self.problem(Code::UnconnectedDir, &c)? {
                    if parent != 0 {
                        // A loop: the entry that closes it goes, so that
                        // lost+found holds the directory's only name.
                        self.unlink_loop_edge(parent, ino)?;
                    }
                    if self.reconnect(ino)? {
                        let lpf = self.lost_found;
                        self.fix_dotdot(ino, lpf)?;
                    } else {
                        self.ask.unfixed = true;
                    }
                }
                break;
            }
            ino = parent;
        }
        let info = self.dir_info.get(&dir).copied().unwrap_or_default();
        *last_parent = info.parent;
        if info.dotdot != info.parent {
            let c = Ctx {
                ino: dir,
                ino2: info.dotdot,
                dir: info.parent,
                // e2fsck's %Q: the directory named in its parent.
                path: self.pathname(info.parent, dir),
                str1: self.dir_path(info.dotdot),
                str2: self.dir_path(info.parent),
                ..Default::default()
            };
            if self.problem(Code::BadDotDot, &c)? {
                self.fix_dotdot(dir, info.parent)?;
            }
        }
        Ok(())
    }

    /// Removes the entry of `dir` that names the directory `ino`.
    fn unlink_loop_edge(&mut self, dir: u32, ino: u32) -> Result<()> {
        let mut names = Vec::new();
        self.for_each_entry(dir, |e| {
            if e.inode == ino && e.name != b"." && e.name != b".." {
                names.push(e.name.to_vec());
            }
            true
        })?;
        for name in names {
            self.fs.remove_entry(dir, &name)?;
            self.adjust_count(ino, false)?;
        }
        self.refresh_dir_blocks(dir)
    }

    /// Changes a link count both as counted and on disk (e2fsck keeps
    /// them moving together while it repairs).
    pub fn adjust_count(&mut self, ino: u32, up: bool) -> Result<()> {
        if ino == 0 || ino > self.inodes_count {
            return Ok(());
        }
        let mut rec = self.fs.read_inode(ino)?;
        let i = ino as usize;
        if up {
            self.counted[i] += 1;
            if rec.base.i_links_count == u16::MAX {
                return Ok(());
            }
            rec.base.i_links_count += 1;
        } else {
            self.counted[i] = self.counted[i].saturating_sub(1);
            if rec.base.i_links_count == 0 {
                return Ok(());
            }
            rec.base.i_links_count -= 1;
        }
        self.link_info[i] = rec.base.i_links_count;
        self.write_inode(ino, &rec)
    }

    /// Points `dir`'s '..' at `parent`.
    fn fix_dotdot(&mut self, dir: u32, parent: u32) -> Result<()> {
        let Some(db) = self
            .dir_blocks
            .iter()
            .find(|d| d.ino == dir && d.lblk == 0 && d.pblk != 0)
            .copied()
        else {
            return Ok(());
        };
        let mut b = RawBlock::new(self.fs.read_block(db.pblk as u64)?);
        let has_dotdot = dirent::iter_block(b.bytes())
            .nth(1)
            .is_some_and(|e| e.name == b"..");
        if !has_dotdot {
            // '.' swallowed the '..' slot (a salvaged block): split it again.
            let first = dirent::iter_block(b.bytes())
                .next()
                .map(|e| (e.name == b"." && e.rec_len >= 24, e.offset, e.rec_len));
            if let Some((true, off, len)) = first {
                b.set_rec_len(off, 12);
                let dotdot = DirEntry {
                    inode: 0,
                    rec_len: (len - 12) as u32,
                    file_type: 0,
                    name: b"..".to_vec(),
                };
                b.put_entry(off + 12, &dotdot);
            }
        }
        let Some(e) = dirent::iter_block(b.bytes())
            .nth(1)
            .filter(|e| e.name == b"..")
        else {
            eprintln!("Couldn't fix parent of inode {dir}: Couldn't find parent directory entry");
            self.ask.unfixed = true;
            return Ok(());
        };
        let (off, old) = (e.offset, e.inode);
        b.set_inode(off, parent);
        if self.fs.filetype_feature() {
            b.set_file_type(off, ft::DIR);
        }
        self.fs.write_block(db.pblk as u64, b.bytes())?;
        if old != 0 {
            self.adjust_count(old, false)?;
        }
        self.adjust_count(parent, true)?;
        self.dir_info.insert(
            dir,
            DirInfo {
                parent,
                dotdot: parent,
            },
        );
        Ok(())
    }

    /// Finds /lost+found, or (with `create`) makes it.
    pub fn get_lost_and_found(&mut self, create: bool) -> Result<u32> {
        if self.lost_found != 0 {
            return Ok(self.lost_found);
        }
        let found = self.lookup_in(inode::ROOT_INO, LOST_FOUND)?;
        if let Some((ino, _)) = found {
            if self.is_dir(ino) {
                self.lost_found = ino;
                return Ok(ino);
            }
            let c = Ctx::ino(ino);
            if !self.problem(Code::LostFoundNotDir, &c)? {
                return Ok(0);
            }
            self.fs.remove_entry(inode::ROOT_INO, LOST_FOUND)?;
            self.adjust_count(ino, false)?;
        }
        if !create || !self.problem(Code::NoLostFound, &Ctx::default())? {
            return Ok(0);
        }
        if let Some(b) = self.repair_blocks.lost_found.take() {
            // Free for the new directory's block (the allocator takes the
            // first free one, as e2fsck takes this one).
            self.fs.set_block_bit(b, false)?;
        }
        let ino = self.fs.mkdir(inode::ROOT_INO, LOST_FOUND, 0o700)?;
        // A checker makes lost+found as mke2fs does: not opaque.
        let mut rec = self.fs.read_inode(ino)?;
        if rec.base.i_flags & inode::flags::OPAQUE != 0 {
            rec.base.i_flags &= !inode::flags::OPAQUE;
            self.write_inode(ino, &rec)?;
        }
        Self::set_ino(&mut self.used, ino, true);
        Self::set_ino(&mut self.dirs, ino, true);
        self.dir_info.insert(
            ino,
            DirInfo {
                parent: inode::ROOT_INO,
                dotdot: inode::ROOT_INO,
            },
        );
        for (l, p) in self.fs.data_blocks(&rec)? {
            self.dir_blocks.push(DirBlock {
                ino,
                lblk: l as u32,
                pblk: p,
            });
        }
        self.refresh_dir_blocks(inode::ROOT_INO)?;
        self.counted[ino as usize] = 2;
        self.link_info[ino as usize] = 2;
        self.counted[inode::ROOT_INO as usize] += 1;
        self.link_info[inode::ROOT_INO as usize] =
            self.fs.read_inode(inode::ROOT_INO)?.base.i_links_count;
        self.stats.dirs += 1;
        self.lost_found = ino;
        Ok(ino)
    }

    /// /lost+found as e2fsck finds it at the start of pass 1: the entry
    /// the root holds on disk, when it names a directory; else 0.
    pub fn lost_found_on_disk(&self) -> u32 {
        match self.fs.lookup_entry(inode::ROOT_INO, LOST_FOUND) {
            Ok(Some(e))
                if (1..=self.inodes_count).contains(&e.inode)
                    && self.fs.read_inode(e.inode).is_ok_and(|r| r.is_dir()) =>
            {
                e.inode
            }
            _ => 0,
        }
    }

    /// e2fsck 1.47's rule at the end of pass 1's block check: with
    /// dir_index, unless under -n, every unindexed directory of three
    /// blocks or more (by its size) is rebuilt in pass 3A, but for the
    /// lost+found pass 1 found.
    pub fn rehash_if_large(&mut self, dir: u32, rec: &inode::Inode) {
        let bs = self.fs.block_size() as u64;
        if !self.read_only()
            && self.fs.sb().has_compat(ext2fs::features::compat::DIR_INDEX)
            && dir != self.lost_found
            && rec.base.i_flags & inode::flags::INDEX == 0
            && rec.base.i_size as u64 / bs >= 3
        {
            self.rehash.insert(dir);
        }
    }

    /// Re-reads a directory's block list after the library changed it.
    pub fn refresh_dir_blocks(&mut self, dir: u32) -> Result<()> {
        let rec = self.fs.read_inode(dir)?;
        self.dir_blocks.retain(|d| d.ino != dir);
        for (l, p) in self.fs.data_blocks(&rec)? {
            self.dir_blocks.push(DirBlock {
                ino: dir,
                lblk: l as u32,
                pblk: p,
            });
        }
        Ok(())
    }

    fn lookup_in(&self, dir: u32, name: &[u8]) -> Result<Option<(u32, u8)>> {
        let mut found = None;
        self.for_each_entry(dir, |e| {
            if e.inode != 0 && e.name == name {
                found = Some((e.inode, e.file_type));
            }
            found.is_none()
        })?;
        Ok(found)
    }

    /// Calls `f` on each entry of `dir` (as pass 2 left it) until it
    /// returns false.
    fn for_each_entry<F>(&self, dir: u32, mut f: F) -> Result<()>
    where
        F: FnMut(&dirent::RawView<'_>) -> bool,
    {
        for db in self
            .dir_blocks
            .iter()
            .filter(|d| d.ino == dir && d.pblk != 0)
        {
            let buf = self.fs.read_block(db.pblk as u64)?;
            for e in dirent::iter_block(&buf) {
                if !f(&e) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Links `ino` into lost+found as "#ino"; false when that is impossible.
    pub fn reconnect(&mut self, ino: u32) -> Result<bool> {
        let lpf = self.get_lost_and_found(true)?;
        if lpf == 0 {
            self.problem(Code::NoLostFoundCannotReconnect, &Ctx::ino(ino))?;
            return Ok(false);
        }
        let rec = self.fs.read_inode(ino)?;
        let name = format!("#{ino}");
        let t = mode_to_dirent_type(rec.mode());
        if let Err(e) = self.fs.add_entry(lpf, name.as_bytes(), ino, t) {
            let c = Ctx {
                ino,
                str1: e.to_string(),
                ..Default::default()
            };
            self.problem(Code::CannotReconnect, &c)?;
            return Ok(false);
        }
        self.refresh_dir_blocks(lpf)?;
        self.adjust_count(ino, true)?;
        Ok(true)
    }
}
