//! Pass 3: every directory must reach the root; '..' must name the
//! directory that holds it; /lost+found must exist. Pass 3A rebuilds the
//! directories marked for it (duplicate names, cleared htree indexes).

use std::collections::HashSet;

use anyhow::Result;
use ext2fs::dirent::{self, ft, RawBlock};
use ext2fs::inode;

use crate::checker::{Checker, DirBlock, DirInfo, RepairBlocks};
use crate::lost_found::{find_dotdot, LOST_FOUND};
use crate::problem::{Code, Ctx};

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
        let mut stale = Stale {
            ino: 0,
            dir: inode::ROOT_INO,
        };
        for dir in dirs {
            if self.is_dir(dir) {
                self.check_directory(dir, &mut done, &mut stale)?;
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
            None => match self.fs.alloc_block(0) {
                Ok(b) => {
                    self.fs.mark_block(b as u64, false)?;
                    self.fs.set_block_bit(b as u64, true)?;
                    b
                }
                Err(e) => {
                    let c = Ctx {
                        str1: "ext2fs_new_block".into(),
                        str2: e.com_err_text(),
                        ..Default::default()
                    };
                    return Err(self.fatal(Code::CreateRootError, &c));
                }
            },
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
        stale: &mut Stale,
    ) -> Result<()> {
        let mut ino = dir;
        let mut path_seen: HashSet<u32> = HashSet::new();
        loop {
            if !done.insert(ino) {
                break;
            }
            path_seen.insert(ino);
            let Some(parent) = self.dir_info.get(&ino).map(|d| d.parent) else {
                // A parent pass 2 took from a reserved inode's directory
                // block: e2fsck stops, naming the inode of its last report.
                return Err(self.fatal(Code::NoDirInfoPass3, &Ctx::ino(stale.ino)));
            };
            if parent == 0 || path_seen.contains(&parent) {
                // As e2fsck: the '..' entry as it is now on disk (pass 2
                // may have cleared it).
                let was_in = if parent != 0 {
                    parent
                } else {
                    // ext2fs_lookup of '..', its reads through the I/O
                    // error handler.
                    self.lookup_handled(ino, b"..")?.unwrap_or(stale.dir)
                };
                *stale = Stale { ino, dir: was_in };
                // A loop is e2fsck's "recursively looped" directory, named
                // by its own path (e2fsck 1.47 never gets to ask it; see
                // docs/compat.md); a directory without a parent, by the
                // one its '..' names.
                let (code, path) = if parent != 0 {
                    (Code::LoopedDir, self.dir_path(ino))
                } else {
                    (Code::UnconnectedDir, self.dir_path(was_in))
                };
                let c = Ctx {
                    ino,
                    path,
                    ..Default::default()
                };
                if self.problem(code, &c)? {
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
        *stale = Stale {
            ino: dir,
            dir: info.parent,
        };
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
}

/// e2fsck's pass 3 problem context, kept from one directory to the next:
/// where e2fsck reports without setting them, its inode and "was in"
/// directory are still what the last report or check left there.
struct Stale {
    ino: u32,
    dir: u32,
}

impl Checker {
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

    /// e2fsck's fix_dotdot: the first entry named '..' in `dir`, in use
    /// or not and wherever it is, now names `parent`. A directory whose
    /// '..' is gone (a salvage let '.' absorb it) keeps the problem, as
    /// with e2fsck; a read error ends the run with the library's error.
    fn fix_dotdot(&mut self, dir: u32, parent: u32) -> Result<()> {
        // A directory that keeps the inline data flag: its '..' is
        // i_block[0], in no block.
        let before = self.fs.read_inode(dir)?;
        let inline = before.base.i_flags & inode::flags::INLINE_DATA != 0;
        let (at, walked) = find_dotdot(&self.fs, dir);
        if let (true, Some((_, _, old))) = (inline, at) {
            self.adjust_count(old, false)?;
            self.adjust_count(parent, true)?;
            // libext2fs' inline walk writes back the inode as it read it
            // before the visit, '..' changed: a link count the visit
            // changed on this inode is undone.
            let mut rec = before;
            rec.base.i_block[0] = parent;
            self.write_inode(dir, &rec)?;
            self.link_info[dir as usize] = rec.base.i_links_count;
        } else if let Some((pblk, off, old)) = at {
            self.adjust_count(old, false)?;
            self.adjust_count(parent, true)?;
            let mut b = RawBlock::new(self.fs.read_block(pblk as u64)?);
            b.set_inode(off, parent);
            b.set_file_type(
                off,
                if self.fs.filetype_feature() {
                    ft::DIR
                } else {
                    0
                },
            );
            self.fs.write_block(pblk as u64, b.bytes())?;
        }
        walked?;
        if at.is_none() {
            self.problem(Code::FixParentNoFind, &Ctx::ino(dir))?;
            self.ask.unfixed = true;
        }
        // As e2fsck: the parent recorded is lost+found, whatever `parent`.
        self.dir_info.insert(
            dir,
            DirInfo {
                parent: self.lost_found,
                dotdot: parent,
            },
        );
        Ok(())
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
}
