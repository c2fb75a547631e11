//! Pass 1: every inode, its mode, flags, size and block map. Builds the
//! maps the later passes work from: inodes in use, directories, blocks in
//! use (with multiply-claimed ones), directory blocks, link counts.

use anyhow::Result;
use ext2fs::features::{compat, incompat, ro_compat};
use ext2fs::inode::{self, flags, Inode};
use ext2fs::xattr;

use crate::checker::{Checker, DirBlock, DirInfo};
use crate::problem::{Code, Ctx, Latch};
use crate::super_check::GroupTable;
use crate::xattr_check::EaBlock;
use ext2fs::block_map::MapPtr;

/// What libext2fs says on stderr when e2fsck's pass 1 tests and marks a
/// table block past the end of its block maps: its own warnings, in the
/// order mark_table_blocks makes the calls.
fn warn_outside_bitmap(table: GroupTable, b: u64) {
    let marks: [&str; 2] = match table {
        GroupTable::InodeBitmap => ["metadata", "in-use"],
        _ => ["in-use", "metadata"],
    };
    eprintln!("Illegal block number passed to ext2fs_test_block_bitmap #{b} for in-use block map");
    for map in marks {
        eprintln!(
            "Illegal block number passed to ext2fs_mark_block_bitmap #{b} for {map} block map"
        );
    }
}

/// Largest file a block map of this block size can address (e2fsck's
/// ext2_max_sizes).
pub fn max_file_size(block_size: u64) -> u64 {
    let per = block_size / 4;
    (12 + per + per * per + per * per * per).saturating_mul(block_size)
}

impl Checker {
    /// Marks superblocks, descriptor tables, bitmaps and inode tables; a
    /// bitmap or table on top of other metadata is moved after pass 1.
    pub fn mark_metadata(&mut self) -> Result<()> {
        let geo = self.fs.geo().clone();
        for g in 0..geo.group_count {
            for b in geo.group_metadata_range(g) {
                self.mark_meta(b);
            }
        }
        for g in 0..geo.group_count {
            let gd = self.fs.groups()[g as usize];
            // e2fsck's order: the inode table, then the two bitmaps.
            for table in [
                GroupTable::InodeTable,
                GroupTable::BlockBitmap,
                GroupTable::InodeBitmap,
            ] {
                let (start, len) = (table.start(&gd), table.len(&geo));
                if start == 0 {
                    continue;
                }
                for b in (start..start + len).filter(|&b| !self.block_ok(b)) {
                    warn_outside_bitmap(table, b);
                }
                if !self.block_ok(start) {
                    continue;
                }
                // As e2fsck: each block already taken is a conflict (asked
                // until the table is to move); the others are the table's.
                let mut moving = false;
                for b in start..start + len {
                    if !self.block_ok(b) {
                        continue;
                    }
                    if !self.metadata.get(b - self.first_data) {
                        self.mark_meta(b);
                        continue;
                    }
                    let c = Ctx {
                        group: g,
                        blk: b,
                        str1: table.name().into(),
                        ..Default::default()
                    };
                    if !moving && self.problem(table.conflict_problem(), &c)? {
                        moving = true;
                        self.reloc.add(table, g);
                    }
                }
                if moving && table == GroupTable::InodeTable {
                    // Its inodes cannot be trusted until it moves.
                    self.fs.update_group(g, |gd| gd.bg_inode_table = 0)?;
                }
            }
        }
        Ok(())
    }

    fn mark_meta(&mut self, b: u64) {
        if self.block_ok(b) && !self.metadata.get(b - self.first_data) {
            self.metadata.set(b - self.first_data, true);
            self.mark_found(b);
        }
    }

    pub fn pass1(&mut self) -> Result<()> {
        self.mark_metadata()?;
        if self.bad_blocks_list_lost {
            // ext2fs_open_inode_scan reads the list again, its error
            // ignored.
            self.bad_blocks_unreadable(Some("opening inode scan"))?;
        }
        // As e2fsck: lost+found as the disk holds it, for pass 1's rule of
        // rebuilding large directories (and forgotten at its end).
        self.lost_found = self.lost_found_on_disk()?;
        let geo = self.fs.geo().clone();
        let isz = geo.inode_size as usize;
        let bad_list = crate::badblocks::list(&self.fs);
        for g in 0..geo.group_count {
            if let Some(why) = crate::super_check::inode_table_unreadable(&self.fs, g) {
                if self.fs.groups()[g as usize].bg_inode_table == 0 {
                    // Being relocated: its inodes are read after the restart.
                    continue;
                }
                // Left outside the filesystem (-n): e2fsck's inode scan
                // stops here, naming the last inode it read.
                let c = Ctx {
                    ino: g * geo.inodes_per_group,
                    str1: why.into(),
                    ..Default::default()
                };
                // Fatal: this returns the abort.
                self.problem(Code::InodeScanError, &c)?;
                return Err(crate::ask::Stop::Aborted.into());
            }
            // The table as the scan reads it, a chunk at a time: a chunk
            // that cannot be read ends the pass after the inodes before it.
            let mut next = 0usize;
            for chunk in 0..crate::inode_scan::chunks(&geo) {
                let bytes = self.read_inode_chunk_as_scanned(g, chunk)?;
                let garbage = self.garbage_blocks(g, next, &bytes);
                for (k, raw) in bytes.chunks(isz).enumerate() {
                    let i = next;
                    next += 1;
                    if i >= geo.inodes_per_group as usize {
                        break;
                    }
                    let ino = g * geo.inodes_per_group + i as u32 + 1;
                    // As e2fsck's inode scan: a cancel ends the pass here.
                    crate::cancel::check()?;
                    let itable = self.fs.groups()[g as usize].bg_inode_table as u64;
                    let blk = itable + (i * isz) as u64 / geo.block_size as u64;
                    if bad_list.contains(&blk) {
                        if self.inode_in_bad_block(ino)? {
                            // The list was cleared: e2fsck starts over.
                            self.restart = true;
                            return Ok(());
                        }
                        continue;
                    }
                    let in_garbage = garbage[k * isz / geo.block_size as usize];
                    self.check_one_inode(ino, raw, in_garbage)?;
                }
            }
            // As e2fsck's scan callback at the end of each group.
            self.check_deferred()?;
            self.tick(1, g as u64 + 1, geo.group_count as u64);
        }
        self.check_ea_refcounts()?;
        self.lost_found = 0;
        self.reserve_repair_blocks()?;
        if self.large_dirs > 0 && !self.fs.sb().has_incompat(incompat::LARGEDIR) {
            if self.problem(Code::LargeDirsFeature, &Ctx::default())? {
                self.fs
                    .update_superblock(|sb| sb.s_feature_incompat |= incompat::LARGEDIR);
            }
            if self.fs.sb().s_rev_level == 0
                && self.problem(Code::RevLevelForLargeFiles, &Ctx::default())?
            {
                self.fs.update_superblock(|sb| sb.update_dynamic_rev());
            }
        }
        Ok(())
    }

    /// ext2fs_inline_data_size of `inode` (e2fsck's copy): the 60 bytes of
    /// i_block and the value of its system.data attribute; None when its
    /// attributes cannot be read.
    fn inline_data_size(&self, ino: u32, inode: &Inode) -> Option<u64> {
        if !self.fs.xattrs_openable() {
            return None;
        }
        let attrs = self.fs.xattrs_of(ino, inode).ok()?;
        let data = attrs.iter().find(|a| a.name == "system.data");
        Some(60 + data.map_or(0, |a| a.value.len() as u64))
    }

    /// libext2fs' inode scan as e2fsck asks for it
    /// (EXT2_SF_WARN_GARBAGE_INODES, check_inode_block_sanity): the blocks
    /// of a chunk of group `g`'s inode table (`table`, from the group's
    /// inode `start`, as the scan reads it) in which more than half the
    /// inodes look insane (an extents flag with a bad header, or a block
    /// map more than half outside the filesystem); every inode of such a
    /// block "seems to contain garbage". Counted as the scan counts: the
    /// tally starts again after each block's last inode (by inode
    /// number), and a block stops being looked at once it is garbage.
    fn garbage_blocks(&self, g: u32, start: usize, table: &[u8]) -> Vec<bool> {
        let geo = self.fs.geo();
        let (isz, bs) = (geo.inode_size as usize, geo.block_size as usize);
        let per_group = geo.inodes_per_group as usize;
        let mut out = vec![false; table.len().div_ceil(bs)];
        let per_block = bs / isz;
        if per_block < 2 {
            return out;
        }
        let (first, count) = (self.first_data, self.blocks_count);
        let insane = |raw: &[u8]| {
            let Ok(inode) = Inode::parse(raw) else {
                return false;
            };
            let b = &inode.base;
            if b.i_flags & flags::EXTENTS != 0 {
                return !inode.holds_extent_header();
            }
            let t = inode.file_type();
            if b.i_flags & flags::INLINE_DATA != 0
                || !matches!(t, inode::S_IFREG | inode::S_IFLNK | inode::S_IFDIR)
                || (t == inode::S_IFLNK && inode.size() <= 60)
                || b.i_links_count == 0
            {
                return false;
            }
            let outside = b
                .i_block
                .iter()
                .filter(|&&x| x != 0 && ((x as u64) < first || x as u64 >= count))
                .count();
            outside > inode::N_BLOCKS / 2
        };
        let mut badness = 0;
        let mut i = 0;
        while start + i < per_group && (i + 1) * isz <= table.len() {
            let ino = g as usize * per_group + start + i + 1;
            if insane(&table[i * isz..(i + 1) * isz]) {
                badness += 1;
            }
            if badness > per_block / 2 {
                out[i * isz / bs] = true;
                i += per_block - (ino - 1) % per_block;
                badness = 0;
                continue;
            }
            if ino.is_multiple_of(per_block) {
                badness = 0;
            }
            i += 1;
        }
        out
    }

    /// One inode, in the order e2fsck 1.47's pass 1 looks at it; `garbage`
    /// when its inode table block seems to hold garbage.
    fn check_one_inode(&mut self, ino: u32, raw: &[u8], garbage: bool) -> Result<()> {
        let first_ino = self.fs.sb().first_ino();
        let prj_quota = ino == self.fs.sb().s_prj_quota_inum;
        if (ino < first_ino || prj_quota) && ino != inode::ROOT_INO {
            // Reserved inodes (and the project quota inode the superblock
            // names, as e2fsck's pass 1) are always in use.
            Self::set_ino(&mut self.used, ino, true);
        }
        // A zeroed root is still looked at: it is no directory.
        if ino != inode::ROOT_INO && raw.iter().all(|&b| b == 0) {
            return Ok(());
        }
        let mut inode = Inode::parse(raw)?;
        if garbage
            && inode.base.i_links_count > 0
            && self.problem(Code::InodeIsGarbage, &Ctx::ino(ino))?
        {
            // e2fsck_clear_inode, then the inode is looked at as cleared.
            self.clear_inode_as_e2fsck(ino, &mut inode)?;
        }
        // A dtime below the inode count is an orphan-list link left behind.
        let sb = *self.fs.sb();
        let low_dtime_check = !(sb.s_mkfs_time != 0 && sb.s_mkfs_time < sb.s_inodes_count);
        if inode.base.i_dtime != 0
            && low_dtime_check
            && inode.base.i_dtime < sb.s_inodes_count
            && self.problem(Code::LowDtime, &Ctx::ino(ino))?
        {
            inode.base.i_dtime = if inode.base.i_links_count != 0 {
                0
            } else {
                self.now
            };
            self.write_inode(ino, &inode)?;
        }
        // e2fsck's quota_inum_is_reserved: the project quota inode is
        // whichever the superblock names (without the quota feature too).
        let quota_ino = matches!(ino, inode::USR_QUOTA_INO | inode::GRP_QUOTA_INO)
            || ino == sb.s_prj_quota_inum;
        if inode.base.i_links_count == 0 && ino >= first_ino && !quota_ino {
            if inode.base.i_dtime == 0
                && inode.base.i_mode != 0
                && self.problem(Code::ZeroDtime, &Ctx::ino(ino))?
            {
                inode.base.i_dtime = self.now;
                self.write_inode(ino, &inode)?;
            }
            return Ok(());
        }
        if !self.check_flags(ino, &mut inode)? {
            return Ok(());
        }
        if ino == inode::BAD_INO {
            return self.check_bad_blocks_inode(&mut inode);
        }
        if ino == inode::ROOT_INO {
            // Declined, a root of another type is checked as that type
            // (pass 3 then stops on it, as e2fsck does).
            if !inode.is_dir() && self.problem(Code::RootNotDir, &Ctx::ino(ino))? {
                self.clear_inode(ino, &mut inode)?;
                return Ok(());
            }
            if inode.base.i_dtime != 0
                && inode.base.i_links_count != 0
                && self.problem(Code::RootDtime, &Ctx::ino(ino))?
            {
                inode.base.i_dtime = 0;
                self.write_inode(ino, &inode)?;
            }
            if inode.base.i_links_count == 0 {
                // A deleted root; pass 3 makes a new one.
                return Ok(());
            }
            // Declined above, the dtime is asked about again as any
            // live inode's.
            if inode.base.i_dtime != 0 && self.problem(Code::SetDtime, &Ctx::ino(ino))? {
                inode.base.i_dtime = 0;
                self.write_inode(ino, &inode)?;
            }
            return self.check_inode(ino, &mut inode);
        }
        if ino == inode::RESIZE_INO {
            return self.check_resize_inode(&mut inode);
        }
        if ino == inode::JOURNAL_INO && sb.s_journal_inum == ino {
            // A journal without has_journal whose clearing was declined:
            // e2fsck checks it as the journal (a regular file) it is.
            if !inode.is_reg() && self.problem(Code::JournalBadMode, &Ctx::ino(ino))? {
                inode.base.i_mode = inode::S_IFREG;
                self.write_inode(ino, &inode)?;
            }
            return self.check_blocks(ino, &mut inode);
        }
        // The orphan file the superblock names (no orphan_file feature
        // here) must be empty as well.
        let orphan_file = ino == sb.s_orphan_file_inum;
        if quota_ino || orphan_file || ino == inode::JOURNAL_INO {
            Self::set_ino(&mut self.used, ino, true);
            let b = &inode.base;
            if b.i_links_count != 0 || b.i_blocks != 0 || b.i_block[0] != 0 {
                let code = if ino == inode::JOURNAL_INO {
                    Code::JournalInodeNotClear
                } else if quota_ino {
                    Code::QuotaInodeNotClear
                } else {
                    Code::OrphanFileNotClear
                };
                if self.problem(code, &Ctx::ino(ino))? {
                    let empty = Inode::new(inode.size);
                    self.write_inode(ino, &empty)?;
                    return Ok(());
                }
            }
            // Left with links, e2fsck checks it as any live inode.
            if inode.base.i_links_count == 0 {
                return Ok(());
            }
            return self.check_live_inode(ino, inode);
        }
        if ino < first_ino {
            let bad_mode = match ino {
                inode::BOOT_LOADER_INO => inode.is_dir(),
                _ => inode.base.i_mode != 0,
            };
            if bad_mode {
                self.reserved_bad_mode(ino, &mut inode)?;
            }
            return self.check_blocks(ino, &mut inode);
        }
        self.check_live_inode(ino, inode)
    }

    /// PR_1_RESERVED_BAD_MODE: a reserved inode with a mode it may not
    /// have loses its mode.
    fn reserved_bad_mode(&mut self, ino: u32, inode: &mut Inode) -> Result<()> {
        let c = Ctx {
            ino,
            // e2fsck's %Q with no directory: "<The ... inode>".
            str1: self.pathname(0, ino),
            ..Default::default()
        };
        if self.problem(Code::ReservedBadMode, &c)? {
            inode.base.i_mode = 0;
            self.write_inode(ino, inode)?;
        }
        Ok(())
    }

    /// An inode with links: a dtime is a fault, then its checks.
    fn check_live_inode(&mut self, ino: u32, mut inode: Inode) -> Result<()> {
        if inode.base.i_dtime != 0 && self.problem(Code::SetDtime, &Ctx::ino(ino))? {
            inode.base.i_dtime = 0;
            self.write_inode(ino, &inode)?;
        }
        self.check_inode(ino, &mut inode)
    }

    /// Flags that do not belong on an ext2 inode, in the order of
    /// e2fsck 1.47's inode loop (casefold, ea_inode, inline data,
    /// extents), for reserved inodes too. False when the inode was cleared.
    fn check_flags(&mut self, ino: u32, inode: &mut Inode) -> Result<bool> {
        let c = Ctx::ino(ino);
        let sb = *self.fs.sb();
        let special = matches!(ino, inode::BAD_INO | inode::ROOT_INO | inode::JOURNAL_INO);
        let mut dirty = false;
        // No casefold feature here: a non-directory declined as such is
        // still asked about the feature, as e2fsck's `||` does.
        if inode.base.i_flags & flags::CASEFOLD != 0
            && ((!inode.is_dir() && self.problem(Code::CasefoldNotDir, &c)?)
                || self.problem(
                    Code::CasefoldNoFeature,
                    &Ctx {
                        path: self.dir_path(ino),
                        ..c.clone()
                    },
                )?)
        {
            inode.base.i_flags &= !flags::CASEFOLD;
            dirty = true;
        }
        if inode.base.i_flags & flags::EA_INODE != 0
            && !inode.is_reg()
            && self.problem(Code::EaInodeNotRegular, &c)?
        {
            inode.base.i_flags &= !flags::EA_INODE;
            dirty = true;
        }
        if dirty {
            self.write_inode(ino, inode)?;
        }
        let fl = inode.base.i_flags;
        if fl & flags::INLINE_DATA != 0
            && ino >= sb.first_ino()
            && !(self.holds_inline_data_attr(ino, inode)
                && self.problem(Code::InlineDataNoFeature, &c)?)
            && self.problem(Code::InlineDataFlagNoFeature, &c)?
        {
            self.clear_inode(ino, inode)?;
            return Ok(false);
        }
        if fl & flags::EXTENTS != 0
            && !sb.has_incompat(incompat::EXTENTS)
            && (inode.base.i_links_count != 0 || special)
            && !(inode.holds_extent_header() && self.problem(Code::ExtentFormatNoFeature, &c)?)
            && self.problem(Code::ExtentsFlagNoFeature, &c)?
        {
            self.clear_inode(ino, inode)?;
            return Ok(false);
        }
        Ok(true)
    }

    /// The union rule for the opaque flag: only on directories of a
    /// filesystem with the whiteout feature. True when the flag was
    /// cleared in `inode` (the caller writes it).
    pub fn check_opaque(&mut self, ino: u32, inode: &mut Inode) -> Result<bool> {
        if inode.base.i_flags & flags::OPAQUE == 0 {
            return Ok(false);
        }
        let code = if !self.fs.whiteout_feature() {
            Code::OpaqueNoFeature
        } else if !inode.is_dir() {
            Code::OpaqueNotDir
        } else {
            self.stats.opaque += 1;
            return Ok(false);
        };
        if !self.problem(code, &Ctx::ino(ino))? {
            return Ok(false);
        }
        inode.base.i_flags &= !flags::OPAQUE;
        Ok(true)
    }

    /// e2fsck's check_inode_extra_space, for the root and ordinary
    /// inodes (the other reserved ones leave its loop before it).
    fn check_inode_extra_space(&mut self, ino: u32, inode: &mut Inode) -> Result<()> {
        let sb = *self.fs.sb();
        let isz = self.fs.geo().inode_size as u16;
        let extra = inode.extra.i_extra_isize;
        if isz > 128 && extra != 0 && (extra < 4 || extra > isz - 128 || !extra.is_multiple_of(4)) {
            let c = Ctx {
                ino,
                num: extra as u64,
                ..Default::default()
            };
            if !self.problem(Code::ExtraIsize, &c)? {
                return Ok(());
            }
            inode.extra.i_extra_isize = if extra < 4 || extra > isz - 128 {
                match sb.s_want_extra_isize {
                    0 => 32,
                    w => w,
                }
            } else {
                (extra + 3) & !3
            };
            self.write_inode(ino, inode)?;
        }
        // No room for the attribute area's magic after the extra fields.
        if isz <= 128
            || inode.extra.i_extra_isize as usize + xattr::IBODY_HEADER >= (isz - 128) as usize
        {
            return Ok(());
        }
        self.check_ea_in_inode(ino, inode)?;
        // e2fsck takes these for pre-1970 dates while its clock is before
        // 2242, as ours (32-bit seconds) always is.
        if inode.has_misencoded_pre_1970_time()
            && self.problem(Code::EaTimeOutOfRange, &Ctx::ino(ino))?
        {
            inode.clear_misencoded_epochs();
            self.write_inode(ino, inode)?;
        }
        Ok(())
    }

    /// The checks of an inode in use (root and ordinary inodes).
    fn check_inode(&mut self, ino: u32, inode: &mut Inode) -> Result<()> {
        Self::set_ino(&mut self.used, ino, true);
        self.link_info[ino as usize] = inode.base.i_links_count;
        let sb = *self.fs.sb();
        let hurd = sb.s_creator_os == 1;
        let mut dirty = false;
        let c = Ctx::ino(ino);

        if inode.base.i_faddr != 0
            || (hurd && inode.base.l_i_blocks_hi != 0)
            || (inode.is_dir() && inode.base.i_size_high != 0)
            || (!hurd && inode.base.l_i_file_acl_high != 0)
            || (!hurd && inode.base.l_i_blocks_hi != 0 && !sb.has_ro_compat(ro_compat::HUGE_FILE))
        {
            Self::set_ino(&mut self.bad, ino, true);
        }
        let fl = inode.base.i_flags;
        if fl & flags::IMAGIC != 0 {
            if sb.has_compat(compat::IMAGIC_INODES) {
                // AFS keeps these without directory entries (pass 4).
                Self::set_ino(&mut self.imagic, ino, true);
            } else if self.problem(Code::SetImagic, &c)? {
                inode.base.i_flags &= !flags::IMAGIC;
                dirty = true;
            }
        }
        if dirty {
            self.write_inode(ino, inode)?;
        }

        self.check_inode_extra_space(ino, inode)?;
        self.check_really_dir(ino, inode)?;
        // e2fsck's add_encrypted_file: no encryption xattr is kept here.
        if inode.base.i_flags & flags::ENCRYPT != 0 && self.problem(Code::EncryptFlag, &c)? {
            inode.base.i_flags &= !flags::ENCRYPT;
            self.write_inode(ino, inode)?;
        }
        // An inode of no file type is offered for clearing whole in pass 2
        // or 4 (e2fsck's process_bad_inode); its opaque flag waits for that.
        if has_file_type(inode) && self.check_opaque(ino, inode)? {
            self.write_inode(ino, inode)?;
        }
        let mode = inode.file_type();
        let mut walk_blocks = true;
        let mut fast_symlink = false;
        match mode {
            inode::S_IFDIR => {
                Self::set_ino(&mut self.dirs, ino, true);
                let parent = if ino == inode::ROOT_INO { ino } else { 0 };
                self.dir_info.insert(ino, DirInfo { parent, dotdot: 0 });
                self.stats.dirs += 1;
            }
            inode::S_IFREG => {
                Self::set_ino(&mut self.regular, ino, true);
                self.stats.regular += 1;
            }
            inode::S_IFCHR | inode::S_IFBLK | inode::S_IFIFO | inode::S_IFSOCK => {
                walk_blocks = false;
                if !device_inode_ok(inode) {
                    Self::set_ino(&mut self.bad, ino, true);
                } else {
                    self.check_special_map_flags(ino, inode)?;
                    self.check_special_flags(ino, inode, true)?;
                    match mode {
                        inode::S_IFCHR => self.stats.chardevs += 1,
                        inode::S_IFBLK => self.stats.blockdevs += 1,
                        inode::S_IFIFO => self.stats.fifos += 1,
                        _ => self.stats.sockets += 1,
                    }
                }
            }
            inode::S_IFLNK => {
                if !self.symlink_ok(inode)? {
                    Self::set_ino(&mut self.bad, ino, true);
                } else {
                    self.check_special_flags(ino, inode, false)?;
                    self.stats.symlinks += 1;
                    if inode.is_fast_symlink() {
                        self.stats.fast_symlinks += 1;
                        fast_symlink = true;
                    }
                }
                walk_blocks = holds_block_map(inode);
            }
            _ => {
                Self::set_ino(&mut self.bad, ino, true);
                walk_blocks = false;
            }
        }
        if inode.base.i_block[inode::IND_BLOCK] != 0 && walk_blocks {
            self.stats.ind += 1;
        }
        if inode.base.i_block[inode::DIND_BLOCK] != 0 && walk_blocks {
            self.stats.dind += 1;
        }
        if inode.base.i_block[inode::TIND_BLOCK] != 0 && walk_blocks {
            self.stats.tind += 1;
        }
        // e2fsck checks the blocks of inodes with indirect or extended
        // attribute blocks later, in batches sorted by those blocks (not
        // with the extents or inline-data flag: those now).
        let b = &inode.base;
        let later = b.i_flags & (flags::EXTENTS | flags::INLINE_DATA) == 0
            && !fast_symlink
            && (b.i_block[inode::IND_BLOCK..].iter().any(|&p| p != 0) || b.i_file_acl != 0);
        if later {
            self.deferred.push(Deferred {
                ino,
                inode: inode.clone(),
                map: walk_blocks,
            });
            if self.deferred.len() >= DEFERRED_BATCH {
                self.check_deferred()?;
            }
            return Ok(());
        }
        self.check_inode_blocks(ino, inode, walk_blocks)
    }

    fn check_inode_blocks(&mut self, ino: u32, inode: &mut Inode, map: bool) -> Result<()> {
        if map {
            self.check_blocks(ino, inode)
        } else {
            self.check_counts_only(ino, inode)
        }
    }

    /// e2fsck's process_inodes: the deferred inodes in the order of their
    /// indirect block, then extended attribute block, then number.
    fn check_deferred(&mut self) -> Result<()> {
        let mut batch = std::mem::take(&mut self.deferred);
        batch.sort_by_key(|d| {
            let b = &d.inode.base;
            (b.i_block[inode::IND_BLOCK], b.i_file_acl, d.ino)
        });
        // The I/O error handler names the inode (e2fsck's operation).
        let before = self.read_errors.operation.take();
        for mut d in batch {
            self.read_errors.operation =
                Some(format!("reading indirect blocks of inode {}", d.ino));
            self.check_inode_blocks(d.ino, &mut d.inode, d.map)?;
        }
        self.read_errors.operation = before;
        Ok(())
    }

    /// e2fsck's get_inline_data_ea_size: libext2fs reads the inode's
    /// attributes (which needs ext_attr) and finds `system.data`, where
    /// ext4 keeps inline data past i_block.
    fn holds_inline_data_attr(&self, ino: u32, inode: &Inode) -> bool {
        self.fs.sb().has_compat(compat::EXT_ATTR)
            && self
                .fs
                .xattrs_of(ino, inode)
                .is_ok_and(|list| list.iter().any(|x| x.name == "system.data"))
    }

    /// e2fsck's check_extents_inlinedata: a device, FIFO or socket has no
    /// block map of either ext4 kind.
    fn check_special_map_flags(&mut self, ino: u32, inode: &mut Inode) -> Result<()> {
        let map_flags = flags::EXTENTS | flags::INLINE_DATA;
        if inode.base.i_flags & map_flags != 0
            && self.problem(Code::SpecialExtentsInline, &Ctx::ino(ino))?
        {
            inode.base.i_flags &= !map_flags;
            self.write_inode(ino, inode)?;
        }
        Ok(())
    }

    /// Immutable/append-only flags and a size on special files.
    fn check_special_flags(&mut self, ino: u32, inode: &mut Inode, sized: bool) -> Result<()> {
        let c = Ctx::ino(ino);
        if inode.base.i_flags & (flags::IMMUTABLE | flags::APPEND) != 0
            && self.problem(Code::SetImmutable, &c)?
        {
            inode.base.i_flags &= !(flags::IMMUTABLE | flags::APPEND);
            self.write_inode(ino, inode)?;
        }
        if sized
            && (inode.base.i_size != 0 || inode.base.i_size_high != 0)
            && self.problem(Code::SetNonzeroSize, &c)?
        {
            inode.set_size(0);
            self.write_inode(ino, inode)?;
        }
        Ok(())
    }

    pub fn symlink_ok_pub(&mut self, inode: &Inode) -> Result<bool> {
        self.symlink_ok(inode)
    }

    /// e2fsck_pass1_check_symlink: size and target must agree. A slow
    /// symlink's block that cannot be read goes to the I/O error handler
    /// (no operation named); one it does not let pass makes the link
    /// invalid.
    fn symlink_ok(&mut self, inode: &Inode) -> Result<bool> {
        let size = inode.size();
        if inode.base.i_size_high != 0 || size == 0 || inode.base.i_flags & flags::INDEX != 0 {
            return Ok(false);
        }
        if inode.base.i_flags & (flags::EXTENTS | flags::INLINE_DATA) != 0 {
            return Ok(false);
        }
        let (buf, buflen) = if inode.is_fast_symlink() {
            (inode.i_block_bytes(), 60usize)
        } else {
            let b = inode.base.i_block;
            if b[1..].iter().any(|&x| x != 0) {
                return Ok(false);
            }
            if !self.block_ok(b[0] as u64) {
                return Ok(false);
            }
            let before = self.read_errors.operation.take();
            let read = self.read_block_handled(b[0] as u64);
            self.read_errors.operation = before;
            let read = read?;
            match read {
                Some(v) => {
                    let n = v.len();
                    (v, n)
                }
                None => return Ok(false),
            }
        };
        let len = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
        Ok(len < buflen && len as u64 == size)
    }

    /// i_blocks of inodes without a block map (devices, fast symlinks).
    fn check_counts_only(&mut self, ino: u32, inode: &mut Inode) -> Result<()> {
        let bs = self.fs.block_size() as u64;
        let sectors = self.check_ea_blocks(ino, inode)? * (bs / 512);
        self.check_index_flag(ino, inode, 0)?;
        // e2fsck's size rule for a file with no blocks: only "too big for
        // any block map" (a size left by a declined non-zero-size fix).
        let size = inode.size();
        if !inode.is_symlink() && size > max_file_size(bs) {
            let c = Ctx {
                ino,
                num: size,
                num2: 0,
                ..Default::default()
            };
            if self.problem(Code::BadISize, &c)? {
                inode.set_size(0);
                self.write_inode(ino, inode)?;
            }
        }
        self.check_i_blocks(ino, inode, sectors)
    }

    fn check_i_blocks(&mut self, ino: u32, inode: &mut Inode, sectors: u64) -> Result<()> {
        if self.fs.sb().s_creator_os == 1 {
            // Hurd keeps i_blocks its own way; e2fsck does not check it.
            return Ok(());
        }
        // Without huge_file the high bits are not part of the count
        // (a non-zero l_i_blocks_hi is a bad field, handled in pass 2).
        let have = inode.base.i_blocks as u64;
        if have != sectors {
            let c = Ctx {
                ino,
                num: have,
                num2: sectors,
                ..Default::default()
            };
            if self.problem(Code::BadIBlocks, &c)? {
                inode.base.i_blocks = sectors as u32;
                inode.base.l_i_blocks_hi = (sectors >> 32) as u16;
                self.write_inode(ino, inode)?;
            }
        }
        Ok(())
    }

    /// The blocks an inode's extended attributes count for in its
    /// i_blocks, besides its map: values kept in inodes of their own that
    /// its body names, and its attribute block with theirs.
    fn check_ea_blocks(&mut self, ino: u32, inode: &mut Inode) -> Result<u64> {
        let ibody = self.ibody_charge.remove(&ino).unwrap_or(0);
        Ok(ibody + self.check_ea_block(ino, inode)?)
    }

    /// The extended attribute block of an inode: the blocks it counts for
    /// (0 when there is none or it was detached).
    fn check_ea_block(&mut self, ino: u32, inode: &mut Inode) -> Result<u64> {
        let blk = inode.base.i_file_acl;
        if blk == 0 {
            return Ok(0);
        }
        if !self.fs.sb().has_compat(compat::EXT_ATTR) || !self.block_ok(blk as u64) {
            Self::set_ino(&mut self.bad, ino, true);
            return Ok(0);
        }
        if let Some(r) = self.ea_refs.get_mut(&blk) {
            r.0 += 1;
            return Ok(self.ea_block_charge.get(&blk).copied().unwrap_or(1));
        }
        match self.check_ea_block_contents(ino, blk)? {
            EaBlock::Keep { refcount, charge } => {
                self.ea_refs.insert(blk, (1, refcount));
                if charge != 1 {
                    self.ea_block_charge.insert(blk, charge);
                }
                self.mark_found(blk as u64);
                Ok(charge)
            }
            EaBlock::Clear => {
                inode.base.i_file_acl = 0;
                self.write_inode(ino, inode)?;
                Ok(0)
            }
        }
    }

    /// ext2fs_read_ext_attr3 as adjust_extattr_refcount calls it: a read
    /// error the handler leaves, or a header that is not an attribute
    /// block's, ends the check (PR_1_EXTATTR_READ_ABORT).
    fn read_ea_block_for_refcount(&mut self, blk: u32) -> Result<Vec<u8>> {
        let buf = match self.fs.read_block(blk as u64) {
            Ok(buf) => buf,
            Err(e) => {
                let why = e.com_err_text();
                match self.read_error(e)? {
                    Some(buf) => buf,
                    None => {
                        let c = Ctx {
                            blk: blk as u64,
                            str1: why,
                            ..Default::default()
                        };
                        return Err(self.fatal(Code::ExtattrReadAbort, &c));
                    }
                }
            }
        };
        self.pass1_buf.clone_from(&buf);
        if !xattr::header_is_valid(&buf) {
            let c = Ctx {
                blk: blk as u64,
                str1: "Extended attribute block has a bad header".into(),
                ..Default::default()
            };
            return Err(self.fatal(Code::ExtattrReadAbort, &c));
        }
        Ok(buf)
    }

    fn check_ea_refcounts(&mut self) -> Result<()> {
        let mut blocks: Vec<_> = self.ea_refs.iter().map(|(&b, &r)| (b, r)).collect();
        blocks.sort();
        for (blk, (seen, stored)) in blocks {
            if seen == stored {
                continue;
            }
            let c = Ctx {
                blk: blk as u64,
                num: stored as u64,
                num2: seen as u64,
                ..Default::default()
            };
            // As e2fsck: the block is read, its header checked, before
            // the question.
            let mut buf = self.read_ea_block_for_refcount(blk)?;
            if self.problem(Code::XattrBlockRefcount, &c)? {
                xattr::update_header(&mut buf, blk as u64, |h| h.h_refcount = seen)?;
                self.fs.write_block(blk as u64, &buf)?;
                if let Some(r) = self.ea_refs.get_mut(&blk) {
                    r.1 = seen;
                }
            }
        }
        Ok(())
    }

    /// Walks an inode's block map: illegal pointers, claims, sizes, counts.
    pub fn check_blocks(&mut self, ino: u32, inode: &mut Inode) -> Result<()> {
        let is_dir = inode.is_dir();
        let bs = self.fs.block_size() as u64;
        // As e2fsck: the extended attribute block is counted first.
        let ea_blocks = self.check_ea_blocks(ino, inode)?;
        let walk = if holds_block_map(inode) {
            Some(self.walk_and_apply(ino, inode, ea_blocks)?)
        } else {
            None
        };
        let walked = walk.is_some();
        let (acc, clear) = match walk {
            Some(w) => (w.claims, w.clear),
            None => (Claims::new(ino, is_dir), false),
        };
        let Claims {
            claimed,
            mut nblocks,
            last_block,
            fragmented,
            mut dir_blocks,
            ..
        } = acc;
        for b in claimed {
            self.mark_found(b);
        }
        nblocks += ea_blocks;
        // e2fsck's simple contiguity figure: a file larger than a group
        // can never be contiguous, so it does not count (its
        // extended attribute block counts in its size).
        if fragmented && nblocks < self.fs.sb().s_blocks_per_group as u64 {
            if is_dir {
                self.stats.fragmented_dirs += 1;
            } else {
                self.stats.fragmented += 1;
            }
        }
        if clear {
            // What it claimed stays claimed: the check starts over after
            // pass 1 (e2fsck's E2F_FLAG_RESTART).
            self.clear_inode(ino, inode)?;
            self.restart = true;
            return Ok(());
        }
        self.check_index_flag(ino, inode, (last_block + 1) as u32)?;
        if is_dir {
            // e2fsck counts every block, an indirect or attribute block
            // too: a directory with no data block is not zero-length; nor
            // is one flagged as holding inline data.
            if nblocks == 0
                && inode.base.i_flags & flags::INLINE_DATA == 0
                && self.problem(Code::ZeroLengthDir, &Ctx::ino(ino))?
            {
                self.clear_inode(ino, inode)?;
                self.stats.dirs = self.stats.dirs.saturating_sub(1);
                return Ok(());
            }
            // Holes inside a directory are filled in pass 2.
            // Block 0 even when unmapped: e2fsck walks a directory's holes
            // and feeds its first block to pass 2, so that '.' and '..'
            // can be made again; but not when it holds an illegal block
            // left in place (e2fsck adds no block for it).
            // A map not walked (an inline data flag) gives pass 2 nothing.
            let illegal_first = walked && last_block < 0 && inode.base.i_block[0] != 0;
            // Up to the last block given to pass 2: a mapped one, or one
            // cleared (e2fsck's last_db_block).
            let last_db = dir_blocks
                .iter()
                .map(|d| i64::from(d.lblk))
                .fold(last_block, i64::max);
            let known = if illegal_first || !walked {
                0
            } else {
                (last_db + 1).max(1)
            };
            let mut have = vec![false; known as usize];
            for d in &dir_blocks {
                if let Some(h) = have.get_mut(d.lblk as usize) {
                    *h = true;
                }
            }
            for (l, h) in have.iter().enumerate() {
                if !h {
                    dir_blocks.push(DirBlock {
                        ino,
                        lblk: l as u32,
                        pblk: 0,
                    });
                }
            }
            self.dir_blocks.extend(dir_blocks);
        }
        // Sizes.
        let size = inode.size();
        let mut want = (last_block + 1) as u64 * bs;
        let inline = inode.base.i_flags & flags::INLINE_DATA != 0;
        let bad_size = if is_dir && inline {
            // ext2fs_inline_data_size: 60 bytes and the system.data
            // attribute's value; 0 when the attributes cannot be read.
            want = self.inline_data_size(ino, inode).unwrap_or(0);
            size != want
        } else if is_dir {
            // e2fsck counts a directory's blocks from its 64-bit size in
            // an unsigned int: i_size_high shows through the truncation.
            let nblock = (size / bs) as u32 as u64;
            let want = (last_block + 1) as u64;
            !size.is_multiple_of(bs)
                || nblock > want
                || (nblock < want && want - nblock > self.fs.sb().s_prealloc_dir_blocks as u64)
        } else {
            (last_block >= 0 && size < last_block as u64 * bs) || size > max_file_size(bs)
        };
        if bad_size && !inode.is_symlink() {
            let c = Ctx {
                ino,
                num: size,
                num2: want,
                ..Default::default()
            };
            if self.problem(Code::BadISize, &c)? {
                inode.set_size(want);
                if want == 0 && inline {
                    inode.base.i_block = [0; 15];
                    inode.base.i_flags &= !flags::INLINE_DATA;
                }
                if inode.is_reg() && want >= 0x8000_0000 {
                    self.need_large_file();
                }
                self.write_inode(ino, inode)?;
            }
        }
        if is_dir {
            self.rehash_if_large(ino, inode);
        }
        if inode.is_reg() && inode.size() >= 0x8000_0000 {
            self.stats.large_files += 1;
        }
        self.check_i_blocks(ino, inode, nblocks * (bs / 512))
    }

    /// Walks `inode`'s map (see walk_block_map), ends its question latches
    /// and writes what the answers changed.
    fn walk_and_apply(
        &mut self,
        ino: u32,
        inode: &mut Inode,
        counted: u64,
    ) -> Result<crate::map_walk::MapWalk> {
        let changed = self.ask.changed;
        let walk = self.walk_block_map(ino, inode, counted)?;
        // e2fsck's "modified" comes from writing an inode (or the
        // superblock, a bitmap), not from rewriting an indirect block:
        // pointers cleared inside indirect blocks alone change nothing it
        // counts (the inode, when written later for its size or i_blocks,
        // does).
        if !walk.edit.i_block_changed && !walk.clear {
            self.ask.changed = changed;
        }
        self.ask.end_latch(Latch::IllegalBlocks);
        self.ask.end_latch(Latch::TooBig);
        for (b, data) in &walk.edit.writes {
            self.fs.write_block(*b, data)?;
        }
        if walk.edit.i_block_changed {
            self.write_inode(ino, inode)?;
        }
        // An indirect block left outside the filesystem stops libext2fs'
        // iterator with an error, which e2fsck cannot get past.
        if let Some(e) = walk.error {
            return Err(self.iteration_failed(ino, &e));
        }
        Ok(walk)
    }

    /// e2fsck's PR_1_BLOCK_ITERATE, fatal: the error that ends the check.
    pub(crate) fn iteration_failed(&mut self, ino: u32, error: &str) -> anyhow::Error {
        let c = Ctx {
            ino,
            str1: error.into(),
            ..Default::default()
        };
        match self.problem(Code::BlockIterate, &c) {
            Err(e) => e,
            Ok(_) => crate::ask::Stop::Aborted.into(),
        }
    }

    /// A file of 2 GiB or more needs large_file and a dynamic revision
    /// (libext2fs sets both when it writes such a size).
    pub fn need_large_file(&mut self) {
        let sb = self.fs.sb();
        if sb.has_ro_compat(ro_compat::LARGE_FILE) && sb.s_rev_level > 0 {
            return;
        }
        self.fs.update_superblock(|sb| {
            sb.s_feature_ro_compat |= ro_compat::LARGE_FILE;
            if sb.s_rev_level == 0 {
                sb.s_rev_level = 1;
                sb.s_first_ino = 11;
                sb.s_inode_size = 128;
            }
        });
        // A feature change goes to the backups too.
        self.fs.set_primary_only(false);
    }

    /// e2fsck's check_is_really_dir: a special file whose first block
    /// starts with '.' and '..' entries is a directory with a bad mode.
    fn check_really_dir(&mut self, ino: u32, inode: &mut Inode) -> Result<()> {
        let t = inode.file_type();
        if matches!(t, inode::S_IFDIR | inode::S_IFREG | inode::S_IFLNK)
            || inode.base.i_block[0] == 0
        {
            return Ok(());
        }
        let mut not_device = false;
        for (i, &b) in inode.base.i_block.iter().enumerate() {
            if b == 0 {
                continue;
            }
            if i >= 4 {
                not_device = true;
            }
            if !self.block_ok(b as u64) || self.found.get(b as u64 - self.first_data) {
                return Ok(());
            }
        }
        if matches!(t, inode::S_IFCHR | inode::S_IFBLK)
            && inode.base.i_links_count == 1
            && !not_device
        {
            return Ok(());
        }
        let Ok(buf) = self.fs.read_block(inode.base.i_block[0] as u64) else {
            return Ok(());
        };
        let bs = buf.len();
        let mut it = ext2fs::dirent::iter_block(&buf);
        let Some(dot) = it.next() else {
            return Ok(());
        };
        if dot.name != b"." || dot.inode != ino || dot.rec_len >= bs - 12 {
            return Ok(());
        }
        let Some(dotdot) = it.next() else {
            return Ok(());
        };
        if dotdot.name != b".." {
            return Ok(());
        }
        let c = Ctx {
            ino,
            str1: match t {
                inode::S_IFCHR => "character device".into(),
                inode::S_IFBLK => "block device".into(),
                inode::S_IFIFO => "named pipe".into(),
                inode::S_IFSOCK => "socket".into(),
                _ => format!("unknown file type with mode 0{:o}", inode.base.i_mode),
            },
            ..Default::default()
        };
        if self.problem(Code::TreatAsDirectory, &c)? {
            inode.base.i_mode = (inode.base.i_mode & 0o7777) | inode::S_IFDIR;
            self.write_inode(ino, inode)?;
        }
        Ok(())
    }

    /// e2fsck's handle_htree: pass 1's look at the root of an indexed
    /// directory (its first block as the block map says, not checked
    /// further). True when a question about it was answered yes: the
    /// index flag is then cleared.
    /// e2fsck's handle_htree, for any inode with the index flag, once its
    /// blocks are counted: not a directory and no dir_index are questions
    /// of their own; each declined, the root is looked at anyway.
    /// The index flag of an inode whose map reaches `blocks` blocks.
    fn check_index_flag(&mut self, ino: u32, inode: &mut Inode, blocks: u32) -> Result<()> {
        if inode.base.i_flags & flags::INDEX == 0 {
            return Ok(());
        }
        let c = Ctx::ino(ino);
        let is_dir = inode.is_dir();
        let refused = (!is_dir && self.problem(Code::IndexFlagNotDir, &c)?)
            || (!self.fs.sb().has_compat(compat::DIR_INDEX)
                && self.problem(Code::IndexFlagNoFeature, &c)?)
            || self.htree_root_refused(ino, inode)?;
        if refused {
            inode.base.i_flags &= !flags::INDEX;
            self.write_inode(ino, inode)?;
        } else if is_dir {
            self.dx_dirs.insert(ino);
        } else if blocks > 0 {
            // e2fsck_add_dx_dir for any type: pass 2 finds none of its
            // blocks referenced.
            self.dx_others.insert(ino, blocks);
        }
        Ok(())
    }

    fn htree_root_refused(&mut self, ino: u32, inode: &Inode) -> Result<bool> {
        use ext2fs::superblock::{HASH_HALF_MD4, HASH_LEGACY, HASH_TEA};
        /// e2fsprogs' EXT2_HASH_SIPHASH (for casefolded, encrypted names).
        const HASH_SIPHASH: u8 = 6;
        /// The root's unused_flags bit e2fsck refuses.
        const HASH_FLAG_INCOMPAT: u8 = 1;
        let c = Ctx::ino(ino);
        let blk = inode.base.i_block[0] as u64;
        if blk == 0
            || blk < self.fs.sb().s_first_data_block as u64
            || blk >= self.fs.geo().blocks_count
        {
            return self.problem(Code::HtreeBadRoot, &c);
        }
        // A failed read goes to the I/O error handler (e2fsck's
        // io_channel_read_blk64 there).
        let read = self.read_block_handled(blk)?;
        let Some(root) = read.and_then(|b| ext2fs::htree::raw_root_info(&b)) else {
            return self.problem(Code::HtreeBadRoot, &c);
        };
        if (root.reserved_zero != 0 || root.info_length < 8)
            && self.problem(Code::HtreeBadRoot, &c)?
        {
            return Ok(true);
        }
        let with_num = |num: u8| Ctx {
            ino,
            num: num as u64,
            ..Default::default()
        };
        let v = root.hash_version;
        if !matches!(v, HASH_LEGACY | HASH_HALF_MD4 | HASH_TEA | HASH_SIPHASH)
            && self.problem(Code::HtreeHashVersion, &with_num(v))?
        {
            return Ok(true);
        }
        // Without casefolded encrypted names (refused here) SipHash is
        // wrong.
        if v == HASH_SIPHASH && self.problem(Code::HtreeCannotSiphash, &c)? {
            return Ok(true);
        }
        if root.unused_flags & HASH_FLAG_INCOMPAT != 0 && self.problem(Code::HtreeIncompat, &c)? {
            return Ok(true);
        }
        let levels = root.indirect_levels;
        // Above 3 levels clearly broken; 3 (beyond ext2's 2, no
        // largedir) unless the directory is as big as a full two-level
        // tree, by e2fsck's sums in 32 bits (which wrap). Declined, the
        // second test asks again.
        if levels > 3 && self.problem(Code::HtreeDepth, &with_num(levels))? {
            return Ok(true);
        }
        let small = {
            let bits = self.fs.sb().s_log_block_size + 20;
            let per_block: u32 = 1 << (bits - 3);
            let blocks = (per_block - 1).wrapping_mul(per_block - 2);
            inode.size() < (blocks << bits) as u64 && inode.base.i_blocks < blocks << (bits - 9)
        };
        if levels > 2 && small && self.problem(Code::HtreeDepth, &with_num(levels))? {
            return Ok(true);
        }
        if levels > 2 || inode.size() >= 0x8000_0000 {
            self.large_dirs += 1;
        }
        Ok(false)
    }

    /// e2fsck's check_resize_inode, before pass 1: a resize inode without
    /// the feature is cleared, an invalid one is cleared and recreated
    /// after the passes.
    pub fn check_resize_inode_early(&mut self) -> Result<()> {
        let ino = inode::RESIZE_INO;
        let sb = *self.fs.sb();
        if sb.has_compat(compat::RESIZE_INODE)
            && sb.has_incompat(ext2fs::features::incompat::META_BG)
            && self.problem(Code::DisableResizeInode, &Ctx::default())?
        {
            self.fs
                .update_superblock(|sb| sb.s_feature_compat &= !compat::RESIZE_INODE);
            self.fs.set_reserved_gdt_blocks(0);
        }
        let has_feature = self.fs.sb().has_compat(compat::RESIZE_INODE);
        let reserved = self.fs.sb().s_reserved_gdt_blocks;
        if !has_feature && reserved != 0 {
            let c = Ctx {
                num: reserved as u64,
                ..Default::default()
            };
            if self.problem(Code::NonzeroReservedGdt, &c)? {
                self.fs.set_reserved_gdt_blocks(0);
            }
        }
        // Its inode table being relocated: e2fsck recreates it silently.
        if crate::super_check::inode_table_unreadable(&self.fs, self.fs.geo().inode_group(ino))
            .is_some()
        {
            self.recreate_resize |= has_feature;
            return Ok(());
        }
        // A read the I/O error handler does not let pass: e2fsck flags the
        // inode for recreation and looks no further.
        let Some(inode) = self.read_inode_handled(ino)? else {
            self.recreate_resize |= has_feature;
            return Ok(());
        };
        if !has_feature {
            // e2fsck looks at the block map only.
            let empty = inode.base.i_block.iter().all(|&b| b == 0);
            if !empty && self.problem(Code::ResizeInodeNoFeature, &Ctx::ino(ino))? {
                self.write_inode(ino, &Inode::new(inode.size))?;
            }
            return Ok(());
        }
        let geo = self.fs.geo().clone();
        // A failed read goes to the I/O error handler (e2fsck's
        // ext2fs_read_ind_block there); one it does not let pass makes the
        // inode invalid. e2fsck 1.47 looks at the first
        // s_reserved_gdt_blocks / 4 reserved descriptor blocks only (none
        // with fewer than four).
        let slots = geo.reserved_gdt_blocks as usize / 4;
        let mut stop = None;
        // An unlinked inode or one without the regular-file bit (tested
        // alone, not the whole type) is invalid before any block is read.
        let shape_ok = inode.base.i_links_count != 0 && inode.base.i_mode & inode::S_IFREG != 0;
        let problems = if !shape_ok {
            vec!["not a linked regular file".to_string()]
        } else {
            ext2fs::resize_inode::verify_slots(&geo, &inode, slots, |b| {
                match self.fs.read_block(b as u64) {
                    Err(e @ ext2fs::Error::BlockRead { .. }) => match self.read_error(e) {
                        Ok(Some(bytes)) => Ok(bytes),
                        Ok(None) => Err(ext2fs::Error::Stopped),
                        Err(s) => {
                            stop.get_or_insert(s);
                            Err(ext2fs::Error::Stopped)
                        }
                    },
                    read => read,
                }
            })
        };
        if let Some(s) = stop {
            return Err(s);
        }
        if problems.is_empty() {
            return Ok(());
        }
        if self.problem(Code::ResizeInodeInvalid, &Ctx::ino(ino))? {
            self.write_inode(ino, &Inode::new(inode.size))?;
            self.recreate_resize = true;
        }
        Ok(())
    }

    /// The resize inode in pass 1: only its double-indirect block is its
    /// own; the reserved descriptor blocks it lists are marked as metadata.
    /// When cleared before pass 1 to be recreated, it holds nothing to
    /// claim.
    fn check_resize_inode(&mut self, inode: &mut Inode) -> Result<()> {
        let ino = inode::RESIZE_INO;
        Self::set_ino(&mut self.used, ino, true);
        if self.recreate_resize {
            return Ok(());
        }
        // A mode other than a regular file's (or none) is asked about as
        // any reserved inode's.
        if inode.base.i_mode != 0 && !inode.is_reg() {
            self.reserved_bad_mode(ino, inode)?;
        }
        // Then e2fsck's check_blocks as for any file (a directory's blocks
        // go to pass 2), except that only its double-indirect blocks are
        // claimed (Claims::take): the others are metadata (reserved
        // descriptor blocks) that still count in i_blocks.
        self.check_blocks(ino, inode)
    }
}

/// What one walk of a block map found: the blocks to claim and the
/// numbers the size and i_blocks checks need.
pub struct Claims {
    ino: u32,
    is_dir: bool,
    pub claimed: Vec<u64>,
    pub nblocks: u64,
    pub last_block: i64,
    prev_phys: u64,
    pub fragmented: bool,
    pub dir_blocks: Vec<DirBlock>,
}

impl Claims {
    /// e2fsck's contiguity check sees every pointer, a refused one too,
    /// against the last block taken.
    pub fn pass_over(&mut self, p: &MapPtr) {
        // The resize inode is never fragmented (its blocks are not its own).
        if self.ino != inode::RESIZE_INO
            && self.prev_phys != 0
            && self.prev_phys + 1 != p.pblk as u64
        {
            self.fragmented = true;
        }
    }

    pub fn new(ino: u32, is_dir: bool) -> Self {
        Claims {
            ino,
            is_dir,
            claimed: Vec::new(),
            nblocks: 0,
            last_block: -1,
            prev_phys: 0,
            fragmented: false,
            dir_blocks: Vec::new(),
        }
    }

    /// A directory's data block cleared for a problem (not for being past
    /// the largest directory): e2fsck's mark_dir still gives pass 2 its
    /// place, as a hole to fill.
    pub fn cleared(&mut self, p: &MapPtr) {
        if self.is_dir && p.is_data() {
            self.dir_blocks.push(DirBlock {
                ino: self.ino,
                lblk: p.lblk() as u32,
                pblk: 0,
            });
        }
    }

    pub fn take(&mut self, p: &MapPtr) {
        let b = p.pblk as u64;
        // The resize inode claims its double-indirect blocks only (e2fsck's
        // process_block marks BLOCK_COUNT_DIND alone).
        if self.ino != inode::RESIZE_INO || p.level() == 2 {
            self.claimed.push(b);
        }
        self.nblocks += 1;
        self.pass_over(p);
        self.prev_phys = b;
        if p.is_data() {
            self.last_block = self.last_block.max(p.lblk() as i64);
            if self.is_dir {
                self.dir_blocks.push(DirBlock {
                    ino: self.ino,
                    lblk: p.lblk() as u32,
                    pblk: p.pblk,
                });
            }
        }
    }
}

/// An inode whose blocks pass 1 checks at the end of its group (or when
/// [`DEFERRED_BATCH`] are waiting), as e2fsck's inodes_to_process.
pub struct Deferred {
    ino: u32,
    inode: Inode,
    /// Whether i_block holds a block map to walk.
    map: bool,
}

/// e2fsck's default process_inode_size.
const DEFERRED_BATCH: usize = 256;

/// e2fsck's ext2fs_inode_has_valid_blocks2: whether i_block holds a block
/// map. A symlink keeps its target there when it has no blocks (or, with
/// an extended attribute block, when the target looks short enough). An
/// inode flagged as holding inline data or extents (a flag left by -n)
/// has no map either: libext2fs' iterator walks no block of it.
pub(crate) fn holds_block_map(inode: &Inode) -> bool {
    let b = &inode.base;
    if b.i_flags & (flags::INLINE_DATA | flags::EXTENTS) != 0 {
        return false;
    }
    match inode.file_type() {
        inode::S_IFDIR | inode::S_IFREG => true,
        inode::S_IFLNK if b.i_file_acl == 0 => b.i_blocks != 0,
        inode::S_IFLNK => b.i_size >= 60 || (b.i_size > 4 && b.i_block[1] == 0),
        _ => false,
    }
}

/// e2fsck's limits on how far a map may reach, by the inode's type: a
/// symlink has one block, a directory at most 2 GiB without largedir,
/// and no file more blocks than its 512-byte count can hold.
pub struct TooBig {
    is_dir: bool,
    is_reg: bool,
    /// A directory's last allowed logical block (none with i_size_high set).
    dir_last: Option<u64>,
    max_blocks: u64,
}

impl TooBig {
    pub fn new(inode: &Inode, log_block_size: u32) -> Self {
        let log = log_block_size.min(10);
        TooBig {
            is_dir: inode.is_dir(),
            is_reg: inode.is_reg(),
            dir_last: (inode.base.i_size_high == 0).then(|| 1u64 << (21 - log)),
            max_blocks: 1u64 << (31 - log),
        }
    }

    /// The problem a legal pointer has, given the blocks counted so far.
    pub fn problem(&self, p: &MapPtr, counted: u64) -> Option<Code> {
        let lblk = p.is_data().then(|| p.lblk());
        if self.is_dir {
            let past_end = matches!((lblk, self.dir_last), (Some(l), Some(last)) if l > last);
            (past_end || counted + 1 >= self.max_blocks).then_some(Code::TooBigDir)
        } else if self.is_reg {
            (counted + 1 >= self.max_blocks).then_some(Code::TooBigReg)
        } else {
            matches!(lblk, Some(l) if l > 0).then_some(Code::TooBigSymlink)
        }
    }
}

/// libext2fs' refusal to iterate over an inode flagged as holding inline
/// data (EXT2_ET_INLINE_DATA_CANT_ITERATE).
pub const INLINE_DATA_CANT_ITERATE: &str =
    "Cannot iterate data blocks of an inode containing inline data";

/// Whether the mode names one of the seven file types.
fn has_file_type(inode: &Inode) -> bool {
    matches!(
        inode.file_type(),
        inode::S_IFDIR
            | inode::S_IFREG
            | inode::S_IFLNK
            | inode::S_IFCHR
            | inode::S_IFBLK
            | inode::S_IFIFO
            | inode::S_IFSOCK
    )
}

/// e2fsck_pass1_check_device_inode: devices never carry immutable or
/// append-only flags with extra i_block words, nor index/extents flags.
pub fn device_inode_ok(inode: &Inode) -> bool {
    // As e2fsck_pass1_check_device_inode: an inline-data flag leaves the
    // inode a device (pass 1 offers to clear the flag).
    if inode.base.i_flags & (flags::INDEX | flags::EXTENTS) != 0 {
        return false;
    }
    if inode.base.i_flags & (flags::IMMUTABLE | flags::APPEND) != 0 {
        return inode.base.i_block[4..].iter().all(|&b| b == 0);
    }
    true
}
