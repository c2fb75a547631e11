//! Pass 2: every directory block. Entries are checked in place ('.',
//! '..', inode numbers, names, file types, record lengths) and links are
//! counted; htree indexes are verified; the union rules apply to
//! whiteout and fallthru entries.

use std::collections::{BTreeMap, HashSet};

use anyhow::Result;
use ext2fs::dirent::{self, ft, rec_len_for, DirEntry, RawBlock};
use ext2fs::features::{compat, incompat, ro_compat};
use ext2fs::inode;

use crate::checker::{Checker, DirBlock};
use crate::pass1::device_inode_ok;
use crate::problem::{Code, Ctx};

impl Checker {
    pub fn pass2(&mut self) -> Result<()> {
        let mut blocks = std::mem::take(&mut self.dir_blocks);
        // By block number; with dir_index every directory's first block
        // (an htree's root) comes before all others, as in e2fsck.
        let roots_first = self.fs.sb().has_compat(compat::DIR_INDEX);
        blocks.sort_by_key(|d| (roots_first && d.lblk != 0, d.pblk, d.ino, d.lblk));
        let mut union_dirs = BTreeMap::new();
        // Directory blocks are read in runs of consecutive blocks (they
        // are sorted by block number), one I/O per run.
        let bs = self.fs.block_size() as usize;
        // Index blocks are classed and parsed in the order of the walk,
        // as e2fsck does while checking each block.
        let walk: Vec<DirBlock> = blocks
            .iter()
            .filter(|d| self.dx_dirs.contains(&d.ino) && self.is_dir(d.ino))
            .copied()
            .collect();
        self.htree_walk_begin(&walk);
        let mut i = 0;
        let mut last_indexed = 0;
        while i < blocks.len() {
            // As e2fsck's check_dir_block: a cancel ends the pass here.
            crate::cancel::check()?;
            let start = blocks[i].pblk;
            let mut n = 1usize;
            while start != 0
                && i + n < blocks.len()
                && n < 64
                && blocks[i + n].pblk == start + n as u32
            {
                n += 1;
            }
            let run = if start != 0 {
                self.fs.read_blocks(start as u64, n as u32).ok()
            } else {
                None
            };
            for k in 0..n {
                let db = blocks[i + k];
                // As e2fsck: any inode still in use, a reserved one with a
                // directory's mode included (it has no dir_info).
                if !self.is_used(db.ino) {
                    continue;
                }
                let pre = run.as_ref().map(|r| r[k * bs..(k + 1) * bs].to_vec());
                let indexed = self.dx_dirs.contains(&db.ino);
                if indexed && db.lblk == 0 {
                    self.dx_root_shown.insert(db.ino, last_indexed);
                }
                blocks[i + k].pblk = self.check_dir_block(db, pre, &mut union_dirs)?;
                if indexed {
                    last_indexed = db.ino;
                }
            }
            i += n;
            self.tick(2, i as u64, blocks.len() as u64);
        }
        if self.restart_later {
            // e2fsck starts over once the directory blocks are read.
            return Ok(());
        }
        blocks.sort_by_key(|d| (d.ino, d.lblk));
        blocks.retain(|d| self.is_dir(d.ino));
        self.dir_blocks = blocks;
        self.htree_walk_finish()?;
        self.check_union_duplicates(&union_dirs)?;
        if self.stats.large_files > 0 {
            if !self.fs.sb().has_ro_compat(ro_compat::LARGE_FILE)
                && self.problem(Code::LargeFileFeature, &Ctx::default())?
            {
                self.fs
                    .update_superblock(|sb| sb.s_feature_ro_compat |= ro_compat::LARGE_FILE);
            }
            if self.fs.sb().s_rev_level == 0
                && self.problem(Code::RevLevelForLargeFiles, &Ctx::default())?
            {
                self.need_large_file();
            }
        }
        Ok(())
    }

    /// A directory block that cannot be read: e2fsck's I/O error handler
    /// asks to ignore the error (the block then reads as what a short read
    /// leaves, and may be rewritten so); declined, PR_2_READ_DIRBLOCK
    /// asks whether to go on with an empty block in its place.
    fn dir_block_read_failed(
        &mut self,
        db: DirBlock,
        pblk: u32,
        e: ext2fs::Error,
    ) -> Result<Vec<u8>> {
        let bs = self.fs.block_size() as usize;
        let why = e.com_err_text();
        self.read_errors.operation = Some("reading directory block".into());
        let handled = self.read_error(e);
        self.read_errors.operation = None;
        if let Some(data) = handled? {
            return Ok(data);
        }
        let c = Ctx {
            ino: db.ino,
            blk: pblk as u64,
            str1: why,
            ..Default::default()
        };
        if !self.problem(Code::ReadDirBlock, &c)? {
            return Err(crate::ask::Stop::Aborted.into());
        }
        let filetype = self.fs.filetype_feature();
        Ok(if db.lblk == 0 {
            dirent::new_dir_block(db.ino, inode::ROOT_INO, bs, filetype)
        } else {
            dirent::write_block(
                &[DirEntry {
                    inode: 0,
                    rec_len: bs as u32,
                    file_type: 0,
                    name: Vec::new(),
                }],
                bs,
            )?
        })
    }

    /// Returns the block's (possibly newly allocated) physical number.
    fn check_dir_block(
        &mut self,
        db: DirBlock,
        pre_read: Option<Vec<u8>>,
        union_dirs: &mut BTreeMap<u32, usize>,
    ) -> Result<u32> {
        let ino = db.ino;
        let bs = self.fs.block_size() as usize;
        let mut pblk = db.pblk;
        if pblk == 0 {
            let c = Ctx {
                ino,
                num: db.lblk as u64,
                ..Default::default()
            };
            if !self.problem(Code::UnallocatedDirBlock, &c)? {
                return Ok(0);
            }
            match self.allocate_dir_block(ino, db.lblk)? {
                Some(p) => pblk = p,
                None => return Ok(0),
            }
        }
        let buf = match pre_read {
            Some(b) if pblk == db.pblk => b,
            _ => match self.fs.read_block(pblk as u64) {
                Ok(b) => b,
                Err(e) => self.dir_block_read_failed(db, pblk, e)?,
            },
        };
        self.htree_block_start(&db, &buf)?;
        let mut b = RawBlock::new(buf);
        let filetype = self.fs.filetype_feature();
        let whiteout = self.fs.whiteout_feature();
        let mut modified = false;
        let mut dot_state = if db.lblk == 0 { 0 } else { 2 };
        let mut offset = 0usize;
        let mut prev: Option<usize> = None;
        let mut names: HashSet<Vec<u8>> = HashSet::new();
        // As e2fsck: a directory already marked for pass 3A reports no
        // further duplicate names.
        let mut dups_found = self.rehash.contains(&ino);
        while offset < bs {
            // Record length and name length sanity (no room for a header
            // at all is corrupt too); salvage otherwise.
            let corrupt = !b.has_header(offset) || {
                let rec_len = b.rec_len(offset);
                offset + rec_len > bs
                    || rec_len < 12
                    || !rec_len.is_multiple_of(4)
                    || rec_len_for(b.name_len(offset)) > rec_len
            };
            if corrupt {
                let c = Ctx {
                    ino,
                    num: db.lblk as u64,
                    num2: offset as u64,
                    ..Default::default()
                };
                if !self.problem(Code::DirCorrupted, &c)? {
                    // e2fsck gives the whole check up here.
                    return Err(crate::ask::Stop::Aborted.into());
                }
                offset = b.salvage(offset, prev, self.inodes_count);
                modified = true;
                continue;
            }
            let o = offset;
            let t = b.file_type(o);
            let is_union_type = matches!(t, ft::WHT | ft::FALLTHRU) && filetype;
            if is_union_type && dot_state < 2 && b.inode(o) == 0 {
                let c = self.entry_ctx(ino, &b, o);
                let c = Ctx {
                    str1: union_kind(t).into(),
                    ..c
                };
                if self.problem(Code::UnionEntryInDotSlot, &c)? {
                    b.set_file_type(o, 0);
                    modified = true;
                }
            }
            // As in e2fsck, a problem declined here is asked again below
            // unless a later one replaces it.
            let mut problem = None;
            if dot_state == 0 {
                modified |= self.check_dot(&mut b, o, ino)?;
            } else if dot_state == 1 {
                modified |= self.check_dotdot(&mut b, o, ino)?;
            } else if b.inode(o) == ino {
                let c = self.entry_ctx(ino, &b, o);
                problem = Some(Code::LinkDot);
                if self.problem(Code::LinkDot, &c)? {
                    b.set_inode(o, 0);
                    modified = true;
                    self.next(&b, &mut offset, &mut prev, &mut dot_state);
                    continue;
                }
            }
            let t = b.file_type(o);
            if matches!(t, ft::WHT | ft::FALLTHRU) && dot_state >= 2 {
                if whiteout {
                    modified |= self.check_union_entry(&mut b, o, ino, union_dirs)?;
                    self.next(&b, &mut offset, &mut prev, &mut dot_state);
                    continue;
                } else if b.inode(o) == 0 && b.name_len(o) > 0 {
                    let c = Ctx {
                        str1: union_kind(t).into(),
                        ..self.entry_ctx(ino, &b, o)
                    };
                    if self.problem(Code::UnionEntryNoFeature, &c)? {
                        b.set_file_type(o, 0);
                        b.set_name_len(o, 0);
                        modified = true;
                    }
                }
            }
            let target = b.inode(o);
            if target == 0 {
                self.next(&b, &mut offset, &mut prev, &mut dot_state);
                continue;
            }
            let name = b.name(o).to_vec();
            let first_ino = self.fs.sb().first_ino();
            if (target != inode::ROOT_INO && target < first_ino)
                || target > self.inodes_count
                || self.named_by_superblock(target)
            {
                problem = Some(Code::BadIno);
            } else if self.in_bad_block(target) {
                problem = Some(Code::InodeInBadBlock);
            } else if dot_state > 1 && name == b"." {
                problem = Some(Code::DupDot);
            } else if dot_state > 1 && name == b".." {
                problem = Some(Code::DupDotDot);
            } else if dot_state > 1 && target == inode::ROOT_INO {
                problem = Some(Code::LinkRoot);
            } else if dot_state > 1 && name.is_empty() {
                problem = Some(Code::NullName);
            }
            if let Some(code) = problem {
                let c = self.entry_ctx(ino, &b, o);
                if self.problem(code, &c)? {
                    b.set_inode(o, 0);
                    modified = true;
                    self.next(&b, &mut offset, &mut prev, &mut dot_state);
                    continue;
                } else if code == Code::BadIno {
                    self.next(&b, &mut offset, &mut prev, &mut dot_state);
                    continue;
                }
            }
            if self.bad.get(target as u64 - 1) && self.process_bad_inode(ino, target)? {
                b.set_inode(o, 0);
                modified = true;
                self.next(&b, &mut offset, &mut prev, &mut dot_state);
                continue;
            }
            // Once a descriptor is fixed the check starts over after this
            // pass, and until then unused inodes are left alone (their
            // group may have been skipped for the wrong reason).
            self.restart_later |= self.check_uninit_reference(ino, &b, o)?;
            if !self.restart_later && !self.is_used(target) {
                problem = Some(Code::UnusedInode);
            }
            if let Some(code) = problem {
                let c = self.entry_ctx(ino, &b, o);
                if self.problem(code, &c)? {
                    b.set_inode(o, 0);
                    modified = true;
                    self.next(&b, &mut offset, &mut prev, &mut dot_state);
                    continue;
                }
            }
            modified |= self.check_filetype(&mut b, o, ino)?;
            modified |= self.check_name(&mut b, o, ino)?;
            if dot_state > 1 && self.is_dir(target) {
                let parent = self.dir_info.get(&target).map_or(0, |d| d.parent);
                if parent != 0 {
                    // %P: the directory through the parent it was first
                    // found in, not through its own '..'.
                    let c = Ctx {
                        ino2: target,
                        str1: self.pathname(parent, target),
                        ..self.entry_ctx(ino, &b, o)
                    };
                    if self.problem(Code::LinkDir, &c)? {
                        b.set_inode(o, 0);
                        modified = true;
                        self.next(&b, &mut offset, &mut prev, &mut dot_state);
                        continue;
                    }
                } else if let Some(d) = self.dir_info.get_mut(&target) {
                    d.parent = ino;
                }
            }
            // '.' and '..' join the block's names too (e2fsck's de_dict):
            // a second entry still named '.' is a duplicate.
            let name = b.name(o).to_vec();
            if !dups_found && !names.insert(name.clone()) {
                let c = Ctx {
                    name,
                    ino,
                    path: self.dir_path(ino),
                    ..Default::default()
                };
                self.problem(Code::DuplicateEntry, &c)?;
                self.rehash.insert(ino);
                dups_found = true;
            }
            let slot = &mut self.counted[target as usize];
            *slot += 1;
            if *slot > 1 && dot_state > 1 {
                self.stats.links += 1;
            }
            if dot_state > 1 {
                self.stats.entries += 1;
            }
            self.next(&b, &mut offset, &mut prev, &mut dot_state);
        }
        self.htree_block_end(&db, b.bytes())?;
        if modified && !self.read_only() {
            self.fs.write_block(pblk as u64, b.bytes())?;
        }
        Ok(pblk)
    }

    fn next(
        &self,
        b: &RawBlock,
        offset: &mut usize,
        prev: &mut Option<usize>,
        dot_state: &mut u32,
    ) {
        *prev = Some(*offset);
        *offset += b.rec_len(*offset).max(12);
        *dot_state += 1;
    }

    /// An entry naming an inode of a group whose descriptor says its
    /// inodes are uninitialized or unused, which e2fsck 1.47 reports
    /// whatever the features (the descriptor's flags were left under -n).
    /// True when the descriptor was fixed: e2fsck would restart after
    /// pass 2 and, until then, leaves unused inodes alone.
    fn check_uninit_reference(&mut self, dir: u32, b: &RawBlock, o: usize) -> Result<bool> {
        use ext2fs::group_desc::BG_INODE_UNINIT;
        let target = b.inode(o);
        let ipg = self.fs.sb().s_inodes_per_group;
        let group = self.fs.geo().inode_group(target);
        let gd = self.fs.groups()[group as usize];
        // e2fsck's 32-bit inode arithmetic, wrapping as it does.
        let first_unused = group
            .wrapping_mul(ipg)
            .wrapping_add(1)
            .wrapping_add(ipg)
            .wrapping_sub(gd.bg_itable_unused as u32);
        let code = if gd.bg_flags & BG_INODE_UNINIT != 0 {
            Code::InorefBgInoUninit
        } else if target >= first_unused {
            Code::InorefInUnused
        } else {
            return Ok(false);
        };
        let c = Ctx {
            group,
            ..self.entry_ctx(dir, b, o)
        };
        if !self.problem(code, &c)? {
            return Ok(false);
        }
        self.fs.update_group(group, |gd| {
            if code == Code::InorefBgInoUninit {
                gd.bg_flags &= !BG_INODE_UNINIT;
            } else {
                gd.bg_itable_unused = 0;
            }
        })?;
        self.fs.mark_group_dirty(group);
        Ok(true)
    }

    fn entry_ctx(&self, dir: u32, b: &RawBlock, o: usize) -> Ctx {
        Ctx {
            ino: dir,
            ino2: b.inode(o),
            name: b.name(o).to_vec(),
            path: self.dir_path(dir),
            ..Default::default()
        }
    }

    fn check_dot(&mut self, b: &mut RawBlock, o: usize, ino: u32) -> Result<bool> {
        let mut status = false;
        let mut created = false;
        let problem = if b.inode(o) == 0 {
            Some(Code::MissingDot)
        } else if b.name_len(o) != 1 || b.name(o) != b"." {
            Some(Code::FirstNotDot)
        } else if b.byte_after_name(o) != 0 {
            Some(Code::DotNotTerminated)
        } else {
            None
        };
        let ftype = if self.fs.filetype_feature() {
            ft::DIR
        } else {
            0
        };
        let mut rec_len = b.rec_len(o);
        if let Some(code) = problem {
            let c = self.entry_ctx(ino, b, o);
            if self.problem(code, &c)? {
                if rec_len < 12 {
                    rec_len = 12;
                    b.set_rec_len(o, 12);
                }
                b.set_inode(o, ino);
                b.set_file_type(o, ftype);
                b.set_name(o, b".");
                status = true;
                created = true;
            }
        }
        if b.inode(o) != ino && self.problem(Code::BadInodeDot, &Ctx::ino(ino))? {
            b.set_inode(o, ino);
            status = true;
        }
        if rec_len > 12 {
            let new_len = rec_len - 12;
            if new_len > 12 {
                let c = Ctx {
                    ino,
                    path: self.dir_path(ino),
                    ..Default::default()
                };
                if created || self.problem(Code::SplitDot, &c)? {
                    b.set_rec_len(o, 12);
                    let n = o + 12;
                    if !b.name_area_starts_with(n, b"..\0") {
                        let empty = DirEntry {
                            inode: 0,
                            rec_len: new_len as u32,
                            file_type: ftype,
                            name: Vec::new(),
                        };
                        b.put_entry(n, &empty);
                    }
                    status = true;
                }
            }
        }
        Ok(status)
    }

    fn check_dotdot(&mut self, b: &mut RawBlock, o: usize, ino: u32) -> Result<bool> {
        let problem = if b.inode(o) == 0 {
            Some(Code::MissingDotDot)
        } else if b.name_len(o) != 2 || b.name(o) != b".." {
            Some(Code::SecondNotDotDot)
        } else if b.byte_after_name(o) != 0 {
            Some(Code::DotDotNotTerminated)
        } else {
            None
        };
        let ftype = if self.fs.filetype_feature() {
            ft::DIR
        } else {
            0
        };
        if let Some(code) = problem {
            let c = self.entry_ctx(ino, b, o);
            if self.problem(code, &c)? {
                if b.rec_len(o) < 12 {
                    b.set_rec_len(o, 12);
                }
                // The parent is not known yet; pass 3 fixes the number.
                b.set_inode(o, inode::ROOT_INO);
                b.set_file_type(o, ftype);
                b.set_name(o, b"..");
                return Ok(true);
            }
            return Ok(false);
        }
        match self.dir_info.get_mut(&ino) {
            Some(d) => d.dotdot = b.inode(o),
            // A reserved inode's directory block (e2fsck's PR_2_NO_DIRINFO).
            None => return Err(self.fatal(Code::NoDirInfo, &Ctx::ino(ino))),
        }
        Ok(false)
    }

    fn check_name(&mut self, b: &mut RawBlock, o: usize, dir: u32) -> Result<bool> {
        if !b.name(o).iter().any(|&c| matches!(c, b'/' | 0)) {
            return Ok(false);
        }
        let c = self.entry_ctx(dir, b, o);
        if !self.problem(Code::BadName, &c)? {
            return Ok(false);
        }
        for c in b.name_mut(o) {
            if matches!(*c, b'/' | 0) {
                *c = b'.';
            }
        }
        Ok(true)
    }

    fn check_filetype(&mut self, b: &mut RawBlock, o: usize, dir: u32) -> Result<bool> {
        let t = b.file_type(o);
        let target = b.inode(o);
        if !self.fs.filetype_feature() {
            if t == 0 {
                return Ok(false);
            }
            let c = self.entry_ctx(dir, b, o);
            if self.problem(Code::ClearFiletype, &c)? {
                b.set_file_type(o, 0);
                return Ok(true);
            }
            return Ok(false);
        }
        let should = if self.is_dir(target) {
            ft::DIR
        } else if self.regular.get(target as u64 - 1) {
            ft::REG_FILE
        } else if self.bad.get(target as u64 - 1) {
            0
        } else {
            match self.fs.read_inode(target) {
                Ok(i) => inode::mode_to_dirent_type(i.mode()),
                Err(_) => 0,
            }
        };
        if t == should {
            return Ok(false);
        }
        let c = Ctx {
            num: should as u64,
            num2: t as u64,
            ..self.entry_ctx(dir, b, o)
        };
        let code = if t != 0 {
            Code::BadFiletype
        } else {
            Code::SetFiletype
        };
        if self.problem(code, &c)? {
            b.set_file_type(o, should);
            return Ok(true);
        }
        Ok(false)
    }

    /// Rules 1, 2 and 6 of union-ext2.md for one whiteout or fallthru.
    fn check_union_entry(
        &mut self,
        b: &mut RawBlock,
        o: usize,
        dir: u32,
        union_dirs: &mut BTreeMap<u32, usize>,
    ) -> Result<bool> {
        let t = b.file_type(o);
        let kind = union_kind(t);
        let c = Ctx {
            str1: kind.into(),
            ..self.entry_ctx(dir, b, o)
        };
        let free = |b: &mut RawBlock| {
            b.set_inode(o, 0);
            b.set_file_type(o, 0);
        };
        if b.inode(o) != 0 {
            if self.problem(Code::UnionEntryHasInode, &c)? {
                free(b);
                return Ok(true);
            }
            return Ok(false);
        }
        let name = b.name(o);
        if name == b"." || name == b".." || name.is_empty() {
            if self.problem(Code::UnionEntryInDotSlot, &c)? {
                free(b);
                return Ok(true);
            }
            return Ok(false);
        }
        if t == ft::WHT {
            self.stats.whiteouts += 1;
        } else {
            self.stats.fallthrus += 1;
        }
        *union_dirs.entry(dir).or_insert(0) += 1;
        Ok(false)
    }

    /// Rule 3: a name appears once per directory; a live entry wins over a
    /// whiteout or fallthru, the first union entry over later ones.
    fn check_union_duplicates(&mut self, union_dirs: &BTreeMap<u32, usize>) -> Result<()> {
        for &dir in union_dirs.keys() {
            let blocks: Vec<DirBlock> = self
                .dir_blocks
                .iter()
                .filter(|d| d.ino == dir && d.pblk != 0)
                .copied()
                .collect();
            let mut live: HashSet<Vec<u8>> = HashSet::new();
            let mut bufs = Vec::new();
            for d in &blocks {
                let buf = self.fs.read_block(d.pblk as u64)?;
                for e in dirent::iter_block(&buf) {
                    if e.inode != 0 {
                        live.insert(e.name.to_vec());
                    }
                }
                bufs.push((d.pblk, buf));
            }
            let mut seen: HashSet<Vec<u8>> = HashSet::new();
            for (pblk, buf) in bufs {
                let mut b = RawBlock::new(buf);
                let mut modified = false;
                let offsets: Vec<usize> = dirent::iter_block(b.bytes())
                    .filter(|e| e.inode == 0 && matches!(e.file_type, ft::WHT | ft::FALLTHRU))
                    .map(|e| e.offset)
                    .collect();
                for o in offsets {
                    let name = b.name(o).to_vec();
                    if name.is_empty() {
                        continue;
                    }
                    if live.contains(&name) || !seen.insert(name.clone()) {
                        let c = Ctx {
                            str1: union_kind(b.file_type(o)).into(),
                            ..self.entry_ctx(dir, &b, o)
                        };
                        if self.problem(Code::UnionDuplicateName, &c)? {
                            b.set_file_type(o, 0);
                            modified = true;
                        }
                    }
                }
                if modified && !self.read_only() {
                    self.fs.write_block(pblk as u64, b.bytes())?;
                }
            }
        }
        Ok(())
    }

    /// Fills a hole in a directory with an empty block; with no free
    /// block, says so as e2fsck does and leaves the hole (None).
    fn allocate_dir_block(&mut self, ino: u32, lblk: u32) -> Result<Option<u32>> {
        let bs = self.fs.block_size() as usize;
        let mut inode = self.fs.read_inode(ino)?;
        // ext2fs_find_inode_goal: a mapped block 0, else the inode's group.
        let by_map = inode.base.i_flags & (inode::flags::EXTENTS | inode::flags::INLINE_DATA) == 0;
        let goal = match inode.base.i_block[0] {
            b if b != 0 && by_map => b as u64,
            _ => self
                .fs
                .geo()
                .group_first_block(self.fs.geo().inode_group(ino)),
        };
        // e2fsck marks the block in its maps without alloc_stats: the
        // free counts stay, for pass 5 to find wrong.
        let p = match self.fs.find_free_block(goal) {
            Ok(p) => {
                self.fs.set_block_bit(p as u64, true)?;
                p
            }
            Err(e) => {
                let ext2fs::Error::NoSpace { .. } = e else {
                    return Err(e.into());
                };
                let c = Ctx {
                    ino,
                    str1: "ext2fs_new_block".into(),
                    str2: e.com_err_text(),
                    ..Default::default()
                };
                self.problem(Code::AllocDirBlock, &c)?;
                return Ok(None);
            }
        };
        let data = if lblk == 0 {
            // As ext2fs_new_dir_block(fs, ino, EXT2_ROOT_INO): pass 3 fixes
            // the parent.
            dirent::new_dir_block(ino, inode::ROOT_INO, bs, self.fs.filetype_feature())
        } else {
            dirent::empty_block(bs)
        };
        self.fs.write_block(p as u64, &data)?;
        self.fs.bmap_set(&mut inode, lblk as u64, p)?;
        inode.base.i_blocks += (bs / 512) as u32;
        let end = (lblk as u64 + 1) * bs as u64;
        if (inode.base.i_size as u64) < end {
            inode.base.i_size = end as u32;
        }
        self.write_inode(ino, &inode)?;
        Ok(Some(p))
    }

    /// e2fsck_process_bad_inode: returns true when the inode was cleared.
    pub fn process_bad_inode(&mut self, dir: u32, ino: u32) -> Result<bool> {
        let mut inode = self.fs.read_inode(ino)?;
        let mut modified = false;
        let mut not_fixed = false;
        let c = Ctx {
            ino2: ino,
            dir,
            num: inode.base.i_file_acl as u64,
            mode: inode.base.i_mode,
            path: self.pathname(dir, ino),
            ..Default::default()
        };
        let sb = *self.fs.sb();
        if inode.base.i_file_acl != 0 && !sb.has_compat(ext2fs::features::compat::EXT_ATTR) {
            if self.problem(Code::FileAclZero, &c)? {
                inode.base.i_file_acl = 0;
                modified = true;
            } else {
                not_fixed = true;
            }
        }
        let mode = inode.file_type();
        let problem = match mode {
            inode::S_IFDIR | inode::S_IFREG => None,
            inode::S_IFCHR if !device_inode_ok(&inode) => Some(Code::BadCharDev),
            inode::S_IFBLK if !device_inode_ok(&inode) => Some(Code::BadBlockDev),
            inode::S_IFIFO if !device_inode_ok(&inode) => Some(Code::BadFifo),
            inode::S_IFSOCK if !device_inode_ok(&inode) => Some(Code::BadSocket),
            inode::S_IFCHR | inode::S_IFBLK | inode::S_IFIFO | inode::S_IFSOCK => None,
            inode::S_IFLNK if !self.symlink_valid(&inode)? => Some(Code::InvalidSymlink),
            inode::S_IFLNK => None,
            _ => Some(Code::BadMode),
        };
        if let Some(code) = problem {
            if self.problem(code, &c)? {
                self.deallocate(ino)?;
                return Ok(true);
            }
            not_fixed = true;
            // Pass 1 left a kept inode of no file type its opaque flag.
            if code == Code::BadMode && self.check_opaque(ino, &mut inode)? {
                modified = true;
            }
        }
        let hurd = sb.s_creator_os == 1;
        let field = |ck: &mut Checker, code: Code, v: u64| -> Result<bool> {
            let c2 = Ctx {
                num: v,
                ..c.clone()
            };
            ck.problem(code, &c2)
        };
        if inode.base.i_faddr != 0 {
            if field(self, Code::FaddrZero, inode.base.i_faddr as u64)? {
                inode.base.i_faddr = 0;
                modified = true;
            } else {
                not_fixed = true;
            }
        }
        if hurd {
            let frag = (inode.base.l_i_blocks_hi & 0xff) as u64;
            let fsize = (inode.base.l_i_blocks_hi >> 8) as u64;
            if frag != 0 {
                if field(self, Code::FragZero, frag)? {
                    inode.base.l_i_blocks_hi &= 0xff00;
                    modified = true;
                } else {
                    not_fixed = true;
                }
            }
            if fsize != 0 {
                if field(self, Code::FsizeZero, fsize)? {
                    inode.base.l_i_blocks_hi &= 0x00ff;
                    modified = true;
                } else {
                    not_fixed = true;
                }
            }
        } else {
            if inode.base.l_i_blocks_hi != 0
                && !sb.has_ro_compat(ro_compat::HUGE_FILE)
                && field(self, Code::BlocksHiZero, inode.base.l_i_blocks_hi as u64)?
            {
                inode.base.l_i_blocks_hi = 0;
                modified = true;
            }
            if inode.base.l_i_file_acl_high != 0 && !sb.has_incompat(incompat::BIT64) {
                if field(
                    self,
                    Code::FileAclHiZero,
                    inode.base.l_i_file_acl_high as u64,
                )? {
                    inode.base.l_i_file_acl_high = 0;
                    modified = true;
                } else {
                    not_fixed = true;
                }
            }
        }
        let acl = inode.base.i_file_acl as u64;
        if acl != 0 && !self.block_ok(acl) {
            if field(self, Code::FileAclBad, acl)? {
                inode.base.i_file_acl = 0;
                modified = true;
            } else {
                not_fixed = true;
            }
        }
        // Not for a directory of 2^29 bytes of blocks or more, which may
        // need it.
        let log = self.fs.sb().s_log_block_size + 10;
        let few_blocks = (inode.base.i_blocks as u64) < 1 << (29 - log);
        if inode.base.i_size_high != 0 && few_blocks && inode.is_dir() {
            if field(self, Code::DirSizeHighZero, inode.base.i_size_high as u64)? {
                inode.base.i_size_high = 0;
                modified = true;
            } else {
                not_fixed = true;
            }
        }
        if modified {
            self.write_inode(ino, &inode)?;
        }
        if !not_fixed {
            Self::set_ino(&mut self.bad, ino, false);
        }
        Ok(false)
    }

    fn symlink_valid(&mut self, inode: &ext2fs::inode::Inode) -> Result<bool> {
        // Same rule as pass 1 (kept in one place there).
        self.symlink_ok_pub(inode)
    }
}

fn union_kind(t: u8) -> &'static str {
    if t == ft::WHT {
        "Whiteout"
    } else {
        "Fallthru"
    }
}
