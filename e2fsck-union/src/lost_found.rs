//! /lost+found as e2fsck keeps it (pass3.c's e2fsck_get_lost_and_found
//! and e2fsck_reconnect_file): found in the root, made when missing (or
//! the root stands in when the filesystem has no room for it), grown by
//! a block when full, and given the inodes nothing else names.

use std::ops::ControlFlow;

use anyhow::Result;
use ext2fs::dirent::{self, ft};
use ext2fs::inode::{self, mode_to_dirent_type};

use crate::checker::{Checker, DirBlock, DirInfo};
use crate::problem::{Code, Ctx};

pub const LOST_FOUND: &[u8] = b"lost+found";

/// Why making /lost+found stopped at an allocation.
#[derive(Clone, Copy)]
enum Missing {
    Block,
    Inode,
}

impl Checker {
    /// Finds /lost+found, or (with `create`) makes it. 0 when there is
    /// none; the root when the filesystem had no room for one and lost
    /// files go there instead.
    pub fn get_lost_and_found(&mut self, create: bool) -> Result<u32> {
        if self.lost_found != 0 {
            return Ok(self.lost_found);
        }
        let found = match self.lookup_in_inline_root(LOST_FOUND)? {
            InlineRoot::Looked(found) => found,
            InlineRoot::Failed(e) => {
                if !create {
                    return Ok(0);
                }
                let c = Ctx {
                    str1: e.com_err_text(),
                    ..Default::default()
                };
                self.problem(Code::ErrFindLostFound, &c)?;
                None
            }
            InlineRoot::No => self.lookup_in(inode::ROOT_INO, LOST_FOUND)?,
        };
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
        // e2fsck's "modified" is what was written: a yes to "Create" that
        // finds no block writes nothing.
        let changed_before = self.ask.changed;
        if !create || !self.problem(Code::NoLostFound, &Ctx::default())? {
            return Ok(0);
        }
        self.make_lost_and_found(changed_before)
    }

    /// e2fsck's steps and their order: a block (the one set aside in
    /// pass 1, else the first free), an inode (the first free from the
    /// root's group on), the inode, its block, then the root's entry.
    fn make_lost_and_found(&mut self, changed_before: bool) -> Result<u32> {
        let blk = match self.repair_blocks.lost_found.take() {
            Some(b) => {
                // Set aside in the map only: now counted as allocated.
                self.fs.set_block_bit(b, false)?;
                self.fs.mark_block(b, true)?;
                b as u32
            }
            None => match self.fs.alloc_block(0) {
                Ok(b) => b,
                Err(e) => {
                    let r = self.no_room_for_lost_found(Missing::Block, &e);
                    self.ask.changed = changed_before;
                    return r;
                }
            },
        };
        // A block taken before an inode is found stays taken (as e2fsck's).
        let ino = match self.fs.alloc_inode_first_free(inode::ROOT_INO, true) {
            Ok(ino) => ino,
            Err(e) => return self.no_room_for_lost_found(Missing::Inode, &e),
        };
        Self::set_ino(&mut self.used, ino, true);
        Self::set_ino(&mut self.dirs, ino, true);
        let bs = self.fs.block_size() as usize;
        // A checker makes lost+found as mke2fs does: not opaque.
        let mut rec = self.fs.new_inode_record(inode::S_IFDIR | 0o700);
        rec.base.i_flags &= !inode::flags::OPAQUE;
        rec.base.i_block[0] = blk;
        rec.base.i_links_count = 2;
        rec.base.i_blocks = (bs / 512) as u32;
        rec.set_size(bs as u64);
        self.write_inode(ino, &rec)?;
        let block = dirent::new_dir_block(ino, inode::ROOT_INO, bs, self.fs.filetype_feature());
        self.fs.write_block(blk as u64, &block)?;
        // ext2fs_link, and ext2fs_expand_dir when the root is full.
        if let Err(e) = self.fs.add_entry(inode::ROOT_INO, LOST_FOUND, ino, ft::DIR) {
            let c = Ctx {
                str1: "ext2fs_link".into(),
                str2: e.com_err_text(),
                ..Default::default()
            };
            self.problem(Code::CreateLostFoundError, &c)?;
            return Ok(0);
        }
        self.refresh_dir_blocks(inode::ROOT_INO)?;
        self.dir_info.insert(
            ino,
            DirInfo {
                parent: inode::ROOT_INO,
                dotdot: inode::ROOT_INO,
            },
        );
        self.dir_blocks.push(DirBlock {
            ino,
            lblk: 0,
            pblk: blk,
        });
        self.adjust_count(inode::ROOT_INO, true)?;
        self.counted[ino as usize] = 2;
        self.link_info[ino as usize] = 2;
        self.stats.dirs += 1;
        self.lost_found = ino;
        Ok(ino)
    }

    /// An allocation for /lost+found failed: offered to put lost files in
    /// the root instead (which then stands in for /lost+found), else the
    /// error is reported and there is none.
    fn no_room_for_lost_found(&mut self, what: Missing, e: &ext2fs::Error) -> Result<u32> {
        let full = matches!(e, ext2fs::Error::NoSpace { .. });
        if full && self.problem(Code::LostFoundNoSpace, &Ctx::default())? {
            self.problem(Code::NoSpaceToRecover, &Ctx::default())?;
            self.lost_found = inode::ROOT_INO;
            return Ok(0);
        }
        let code = match what {
            Missing::Block => Code::ErrLostFoundNewBlock,
            Missing::Inode => Code::ErrLostFoundNewInode,
        };
        let c = Ctx {
            str1: e.com_err_text(),
            ..Default::default()
        };
        self.problem(code, &c)?;
        Ok(0)
    }

    /// Links `ino` into lost+found as "#ino"; false when that is
    /// impossible. Once finding or making lost+found has failed, it is
    /// not tried again (e2fsck's bad_lost_and_found).
    pub fn reconnect(&mut self, ino: u32) -> Result<bool> {
        if !self.bad_lost_found && self.lost_found == 0 && self.get_lost_and_found(true)? == 0 {
            self.bad_lost_found = true;
        }
        if self.bad_lost_found {
            self.problem(Code::NoLostFoundCannotReconnect, &Ctx::ino(ino))?;
            return Ok(false);
        }
        let lpf = self.lost_found;
        let t = self
            .fs
            .read_inode(ino)
            .map_or(0, |rec| mode_to_dirent_type(rec.mode()));
        let name = format!("#{ino}");
        let mut linked = self.fs.add_entry_in_place(lpf, name.as_bytes(), ino, t);
        if matches!(linked, Err(ext2fs::Error::DirNoSpace(_))) {
            if !self.problem(Code::ExpandLostFound, &Ctx::ino(ino))? {
                return Ok(false);
            }
            if let Err(e) = self.fs.expand_dir(lpf) {
                let c = Ctx {
                    ino,
                    str1: e.com_err_text(),
                    ..Default::default()
                };
                self.problem(Code::CannotExpandLostFound, &c)?;
                self.refresh_dir_blocks(lpf)?;
                return Ok(false);
            }
            linked = self.fs.add_entry_in_place(lpf, name.as_bytes(), ino, t);
        }
        self.refresh_dir_blocks(lpf)?;
        if let Err(e) = linked {
            let c = Ctx {
                ino,
                str1: e.com_err_text(),
                ..Default::default()
            };
            self.problem(Code::CannotReconnect, &c)?;
            return Ok(false);
        }
        self.adjust_count(ino, true)?;
        Ok(true)
    }

    /// /lost+found as e2fsck finds it at the start of pass 1: the entry
    /// the root holds on disk, when it names a directory; else 0. The
    /// root is walked as ext2fs_lookup walks it (every mapped block up to
    /// the name), so a block that cannot be read meets the I/O error
    /// handler here, whose words are printed at once.
    pub fn lost_found_on_disk(&mut self) -> Result<u32> {
        let found = self
            .lookup_handled(inode::ROOT_INO, LOST_FOUND)?
            .unwrap_or(0);
        let is_dir = (1..=self.inodes_count).contains(&found) && self.lost_found_is_dir(found)?;
        Ok(if is_dir { found } else { 0 })
    }

    /// ext2fs_lookup as e2fsck calls it on the disk as it is: `dir`'s
    /// inode read (ext2fs_check_directory), then its blocks, each failed
    /// read put to the I/O error handler; a walk that fails finds nothing.
    pub fn lookup_handled(&mut self, dir: u32, name: &[u8]) -> Result<Option<u32>> {
        match self.read_inode_handled(dir) {
            Ok(Some(_)) => {}
            Err(e) if e.downcast_ref::<crate::ask::Stop>().is_some() => return Err(e),
            // Unreadable, or no inode table to read it from.
            _ => return Ok(None),
        }
        let mut said = String::new();
        let mut found = None;
        let walked = self.fs.dir_iterate_handled(
            dir,
            false,
            &mut |e| self.read_error_within(e, &mut said),
            |v| {
                let e = v.entry.view;
                if e.inode != 0 && e.name == name {
                    found = Some(e.inode);
                    return ControlFlow::Break(());
                }
                ControlFlow::Continue(())
            },
        );
        self.said_outside_a_message(&said)?;
        Ok(found.filter(|_| walked.is_ok()))
    }

    /// e2fsck_get_lost_and_found reads the inode found, then
    /// ext2fs_check_directory reads it again: a failed read goes to the
    /// I/O error handler each time (once read, it is cached).
    fn lost_found_is_dir(&mut self, ino: u32) -> Result<bool> {
        for _ in 0..2 {
            match self.read_inode_handled(ino) {
                Ok(Some(inode)) => return Ok(inode.is_dir()),
                Ok(None) => continue,
                Err(e) if e.downcast_ref::<crate::ask::Stop>().is_some() => return Err(e),
                Err(_) => return Ok(false),
            }
        }
        Ok(false)
    }

    /// The first live entry named `name` in `dir` as pass 2 left it.
    /// ext2fs_lookup in a root that keeps the inline data flag (e2fsck
    /// leaves it on the root even without the feature): libext2fs walks
    /// its inline entries, which may be corrupt.
    fn lookup_in_inline_root(&self, name: &[u8]) -> Result<InlineRoot> {
        let root = self.fs.read_inode(inode::ROOT_INO)?;
        if root.base.i_flags & inode::flags::INLINE_DATA == 0 || !root.is_dir() {
            return Ok(InlineRoot::No);
        }
        let mut found = None;
        let walked = self.fs.dir_iterate(inode::ROOT_INO, false, |v| {
            let e = v.entry.view;
            if e.inode != 0 && e.name == name {
                found = Some((e.inode, e.file_type));
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        });
        Ok(match walked {
            Ok(()) => InlineRoot::Looked(found),
            Err(e) => InlineRoot::Failed(e),
        })
    }

    pub fn lookup_in(&self, dir: u32, name: &[u8]) -> Result<Option<(u32, u8)>> {
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
    pub fn for_each_entry<F>(&self, dir: u32, mut f: F) -> Result<()>
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
}

/// A name looked up in the root as ext2fs_lookup would, when the root
/// keeps the inline data flag.
enum InlineRoot {
    /// The root has no inline data flag: pass 2's blocks are its entries.
    No,
    /// Walked: the entry's inode and file type, if found.
    Looked(Option<(u32, u8)>),
    /// Its inline entries cannot be walked.
    Failed(ext2fs::Error),
}

/// Where the first entry named '..' of a directory is, in block order,
/// whether in use or not (e2fsck's fix_dotdot walks with
/// DIRENT_FLAG_INCLUDE_EMPTY): its block, offset and inode field.
pub fn find_dotdot(
    fs: &ext2fs::fs::Filesystem,
    dir: u32,
) -> (Option<(u32, usize, u32)>, ext2fs::Result<()>) {
    let mut at = None;
    let walked = fs.dir_iterate(dir, false, |v| {
        let e = &v.entry.view;
        if e.name == b".." {
            at = Some((v.pblk, e.offset, e.inode));
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    });
    (at, walked)
}
