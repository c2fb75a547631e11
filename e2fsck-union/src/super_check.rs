//! Pass 0: the superblock and group descriptors, features that do not
//! fit together, and the orphan list, before any inode is read.

use anyhow::Result;
use ext2fs::features::{compat, incompat};
use ext2fs::fs::Filesystem;
use ext2fs::group_desc::GroupDesc;
use ext2fs::layout::Geometry;
use ext2fs::superblock::{FLAGS_SIGNED_HASH, FLAGS_TEST_FILESYS, FLAGS_UNSIGNED_HASH};

use crate::ask::Stop;
use crate::checker::Checker;
use crate::problem::{Code, Ctx};

/// What is wrong with the group descriptors, if anything, judged as
/// ext2fs_check_desc judges them: each group's bitmaps and inode table
/// inside the group and on no block already taken by a superblock copy,
/// the descriptors, the reserved descriptor blocks the superblock counts
/// (whatever the features say) or another table.
pub fn check_desc(fs: &Filesystem) -> Option<String> {
    let geo = fs.geo();
    let mut taken = ext2fs::bitmap::Bitmap::new(geo.blocks_count);
    // The classic table counts the superblock's reserved GDT blocks
    // whatever the features say (ext2fs_reserve_super_and_bgd).
    let reserved = fs.sb().s_reserved_gdt_blocks as u64;
    for g in 0..geo.group_count {
        let m = geo.group_metadata(g);
        if let Some(sb_blk) = m.super_block {
            taken.set(sb_blk, true);
        }
        if let Some((start, len)) = m.table {
            let len = if geo.meta_bg() {
                len as u64
            } else {
                geo.desc_blocks as u64 + reserved
            };
            taken.set_range(start, (start + len).min(geo.blocks_count));
        }
        if let Some(b) = m.meta_desc {
            taken.set(b, true);
        }
    }
    for g in 0..geo.group_count {
        let gd = &fs.groups()[g as usize];
        let (first, last) = (geo.group_first_block(g), geo.group_last_block(g));
        for table in GroupTable::ALL {
            let start = table.start(gd);
            let end = start + table.len(geo) - 1;
            if start < first || end > last || (start..=end).any(|b| taken.get(b)) {
                return Some(format!("bad block for {}", table.name()));
            }
            taken.set_range(start, end + 1);
        }
    }
    None
}

/// Why libext2fs cannot read group `g`'s inodes, in its words, when the
/// descriptor names no inode table (being relocated) or one that does not
/// fit in the filesystem; None when the table can be read.
pub fn inode_table_unreadable(fs: &Filesystem, g: u32) -> Option<&'static str> {
    let geo = fs.geo();
    let start = fs.groups()[g as usize].bg_inode_table as u64;
    if start == 0 {
        Some("A block group is missing an inode table")
    } else if start < fs.sb().s_first_data_block as u64
        || start + geo.inode_table_blocks as u64 > geo.blocks_count
    {
        Some("Corrupt group descriptor: bad block for inode table")
    } else {
        None
    }
}

/// The features this checker checks, in the three words.
const CHECKED: ext2fs::features::FeatureSet = {
    use ext2fs::features::ro_compat;
    ext2fs::features::FeatureSet {
        compat: compat::DIR_PREALLOC
            | compat::IMAGIC_INODES
            | compat::EXT_ATTR
            | compat::RESIZE_INODE
            | compat::DIR_INDEX
            | compat::SPARSE_SUPER2,
        incompat: incompat::FILETYPE | incompat::WHITEOUT | incompat::META_BG,
        ro_compat: ro_compat::SPARSE_SUPER | ro_compat::LARGE_FILE,
    }
};

/// Features this checker knows how to check (ext2 with the union
/// extension); anything else is refused like e2fsck refuses features it
/// does not know, so nothing it cannot understand is "repaired".
pub fn unsupported_features(fs: &Filesystem) -> Option<String> {
    use ext2fs::features::FeatureSet;
    let sb = fs.sb();
    let extra = FeatureSet {
        compat: sb.s_feature_compat & !CHECKED.compat,
        incompat: sb.s_feature_incompat & !CHECKED.incompat,
        ro_compat: sb.s_feature_ro_compat & !CHECKED.ro_compat,
    };
    if extra.compat | extra.incompat | extra.ro_compat == 0 {
        return None;
    }
    Some(extra.names().join(" "))
}

/// e2fsprogs 1.47's EXT2_LIB_FEATURE_COMPAT_SUPP: dir_prealloc,
/// imagic_inodes, has_journal, ext_attr, resize_inode, dir_index,
/// sparse_super2, fast_commit, stable_inodes, orphan_file.
const E2FSPROGS_COMPAT: u32 = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x20 | 0x200 | 0x400 | 0x800 | 0x1000;
/// EXT2_LIB_FEATURE_INCOMPAT_SUPP (MMP built in): filetype,
/// needs_recovery, journal_dev, meta_bg, extent, 64bit, mmp, flex_bg,
/// ea_inode, metadata_csum_seed, large_dir, inline_data, encrypt, casefold.
const E2FSPROGS_INCOMPAT: u32 = 0x2
    | 0x4
    | 0x8
    | 0x10
    | 0x40
    | 0x80
    | 0x100
    | 0x200
    | 0x400
    | 0x2000
    | 0x4000
    | 0x8000
    | 0x10000
    | 0x20000;
/// EXT2_LIB_FEATURE_RO_COMPAT_SUPP: sparse_super, large_file, huge_file,
/// uninit_bg, dir_nlink, extra_isize, quota, bigalloc, metadata_csum,
/// read-only, project, shared_blocks, verity, orphan_present (not
/// btree_dir).
const E2FSPROGS_RO_COMPAT: u32 = 0x1
    | 0x2
    | 0x8
    | 0x10
    | 0x20
    | 0x40
    | 0x100
    | 0x200
    | 0x400
    | 0x1000
    | 0x2000
    | 0x4000
    | 0x8000
    | 0x10000;

/// The feature bits e2fsprogs 1.47's library does not know (its
/// EXT2_LIB_FEATURE_*_SUPP masks, MMP built in) nor this checker, by name: e2fsck names
/// them and stops ("Get a newer version of e2fsck!"). None when e2fsck
/// would check the filesystem.
pub fn unknown_to_e2fsprogs(sb: &ext2fs::superblock::Superblock) -> Option<String> {
    // The union features are ours to check.
    let unknown = ext2fs::features::FeatureSet {
        compat: sb.s_feature_compat & !E2FSPROGS_COMPAT & !CHECKED.compat,
        incompat: sb.s_feature_incompat & !E2FSPROGS_INCOMPAT & !CHECKED.incompat,
        ro_compat: sb.s_feature_ro_compat & !E2FSPROGS_RO_COMPAT & !CHECKED.ro_compat,
    };
    (unknown.compat | unknown.incompat | unknown.ro_compat != 0).then(|| unknown.names().join(" "))
}

/// Whether ext2fs_open2 refuses to open this superblock's filesystem for
/// writing (EXT2_ET_RO_UNSUPP_FEATURE): a read-only-compatible feature
/// its library does not know. e2fsck -y/-p then names the unknown
/// features and stops before looking at the descriptors or a backup.
pub fn refused_for_writing(sb: &ext2fs::superblock::Superblock) -> bool {
    sb.s_feature_ro_compat & !E2FSPROGS_RO_COMPAT & !CHECKED.ro_compat != 0
}

/// Whether ext2fs_open2 opens this superblock's filesystem for e2fsck:
/// no incompatible feature its library does not know, and, to write, no
/// such read-only-compatible one.
pub fn libext2fs_opens(sb: &ext2fs::superblock::Superblock, write: bool) -> bool {
    sb.s_feature_incompat & !E2FSPROGS_INCOMPAT & !CHECKED.incompat == 0
        && !(write && refused_for_writing(sb))
}

/// A group's own tables: where the descriptor says they are, how long
/// they are, and what a move changes. One description serves the checks
/// (outside the group, on other metadata, on a bad block) and the move.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum GroupTable {
    BlockBitmap,
    InodeBitmap,
    InodeTable,
}

impl GroupTable {
    pub const ALL: [GroupTable; 3] = [
        GroupTable::BlockBitmap,
        GroupTable::InodeBitmap,
        GroupTable::InodeTable,
    ];

    pub fn name(self) -> &'static str {
        match self {
            GroupTable::BlockBitmap => "block bitmap",
            GroupTable::InodeBitmap => "inode bitmap",
            GroupTable::InodeTable => "inode table",
        }
    }

    /// First block (0: none, or being relocated).
    pub fn start(self, gd: &GroupDesc) -> u64 {
        (match self {
            GroupTable::BlockBitmap => gd.bg_block_bitmap,
            GroupTable::InodeBitmap => gd.bg_inode_bitmap,
            GroupTable::InodeTable => gd.bg_inode_table,
        }) as u64
    }

    pub fn set_start(self, gd: &mut GroupDesc, blk: u32) {
        match self {
            GroupTable::BlockBitmap => gd.bg_block_bitmap = blk,
            GroupTable::InodeBitmap => gd.bg_inode_bitmap = blk,
            GroupTable::InodeTable => gd.bg_inode_table = blk,
        }
    }

    pub fn len(self, geo: &Geometry) -> u64 {
        match self {
            GroupTable::InodeTable => geo.inode_table_blocks as u64,
            _ => 1,
        }
    }

    /// Whether any of its blocks lies outside group `g`.
    pub fn outside_group(self, geo: &Geometry, g: u32, gd: &GroupDesc) -> bool {
        let start = self.start(gd);
        let end = start + self.len(geo) - 1;
        start < geo.group_first_block(g) || end > geo.group_last_block(g)
    }

    /// Whether block `b` is one of its blocks.
    pub fn holds(self, geo: &Geometry, gd: &GroupDesc, b: u64) -> bool {
        let start = self.start(gd);
        start != 0 && b >= start && b < start + self.len(geo)
    }

    fn not_in_group_problem(self) -> Code {
        match self {
            GroupTable::BlockBitmap => Code::BlockBitmapNotInGroup,
            GroupTable::InodeBitmap => Code::InodeBitmapNotInGroup,
            GroupTable::InodeTable => Code::InodeTableNotInGroup,
        }
    }

    /// Its blocks overlap other metadata (found in pass 1).
    pub fn conflict_problem(self) -> Code {
        match self {
            GroupTable::BlockBitmap => Code::BlockBitmapConflict,
            GroupTable::InodeBitmap => Code::InodeBitmapConflict,
            GroupTable::InodeTable => Code::InodeTableConflict,
        }
    }

    /// One of its blocks is on the bad block list. None for the inode
    /// table: e2fsck asks nothing, its inode scan skips the inodes there.
    pub fn bad_block_problem(self) -> Option<Code> {
        match self {
            GroupTable::BlockBitmap => Some(Code::BlockBitmapBadBlock),
            GroupTable::InodeBitmap => Some(Code::InodeBitmapBadBlock),
            GroupTable::InodeTable => None,
        }
    }
}

/// Tables to be moved after pass 1, each once, in e2fsck's order: group
/// by group, the block bitmap, the inode bitmap, the inode table.
#[derive(Default)]
pub struct Relocations {
    moves: std::collections::BTreeSet<(u32, GroupTable)>,
}

impl Relocations {
    pub fn add(&mut self, table: GroupTable, group: u32) {
        self.moves.insert((group, table));
    }

    pub fn is_empty(&self) -> bool {
        self.moves.is_empty()
    }
}

impl Checker {
    /// e2fsck's check_super_value list and the superblock counts that must
    /// agree with the group geometry: values no repair can make sense of
    /// end the check (the user can try a backup with -b); a wrong inode
    /// count (reached only when the open ignored it) can be set right.
    fn check_super_values(&mut self) -> Result<()> {
        let sb = *self.fs.sb();
        let bs = self.fs.block_size() as u64;
        let blocks = sb.s_blocks_count as u64;
        let per_block = bs / sb.inode_size().max(1) as u64;
        let groups = self.fs.geo().group_count as u64;
        // Ours also keeps a group's inodes within its one bitmap block
        // (docs/compat.md): the library opened the superblock despite
        // errors without judging that.
        let ipg_max = (per_block * (sb.s_blocks_per_group as u64).saturating_sub(4))
            .min(65536 - per_block)
            .min(8 * bs);
        // Without bigalloc a cluster is a block.
        let bpg_max = (8 * bs).min(65528);
        // (name, value, least, most, a power of two); 0 least: no minimum.
        let limits = [
            ("inodes_count", sb.s_inodes_count as u64, 1, u64::MAX, false),
            ("blocks_count", blocks, 1, u32::MAX as u64, false),
            (
                "first_data_block",
                sb.s_first_data_block as u64,
                0,
                blocks,
                false,
            ),
            ("log_block_size", sb.s_log_block_size as u64, 0, 6, false),
            (
                "log_cluster_size",
                sb.s_log_cluster_size as u64,
                sb.s_log_block_size as u64,
                19,
                false,
            ),
            (
                "clusters_per_group",
                sb.s_clusters_per_group as u64,
                8,
                bpg_max,
                false,
            ),
            (
                "blocks_per_group",
                sb.s_blocks_per_group as u64,
                8,
                bpg_max,
                false,
            ),
            (
                "inodes_per_group",
                sb.s_inodes_per_group as u64,
                per_block,
                ipg_max,
                false,
            ),
            (
                "r_blocks_count",
                sb.s_r_blocks_count as u64,
                0,
                blocks / 2,
                false,
            ),
            (
                "reserved_gdt_blocks",
                sb.s_reserved_gdt_blocks as u64,
                0,
                bs / 4,
                false,
            ),
            ("desc_size", sb.s_desc_size as u64, 0, 1024, true),
        ];
        for (name, value, least, most, pow2) in limits {
            if value < least || value > most || (pow2 && value & value.wrapping_sub(1) != 0) {
                return self.corrupt_super(name, value);
            }
        }
        let should_be = sb.s_inodes_per_group as u64 * groups;
        if should_be > u32::MAX as u64 {
            let c = Ctx {
                num: should_be,
                ..Default::default()
            };
            self.problem(Code::InodeCountBig, &c)?;
            return self.superblock_unusable();
        }
        if sb.s_inodes_count as u64 != should_be {
            let c = Ctx {
                ino: sb.s_inodes_count,
                ino2: should_be as u32,
                ..Default::default()
            };
            if !self.problem(Code::InodeCountWrong, &c)? {
                return self.corrupt_super("inodes_count", sb.s_inodes_count as u64);
            }
            self.fs
                .update_superblock(|sb| sb.s_inodes_count = should_be as u32);
            // The passes size their inode maps by the count.
            self.inodes_count = should_be as u32;
            self.reset();
        }
        let inodes_count = self.fs.sb().s_inodes_count as u64;
        if sb.s_rev_level > 0 && (sb.s_first_ino < 11 || sb.s_first_ino as u64 > inodes_count) {
            return self.corrupt_super("first_ino", sb.s_first_ino as u64);
        }
        let isize = sb.inode_size() as u64;
        if isize < 128 || isize > bs || !isize.is_power_of_two() {
            return self.corrupt_super("inode_size", isize);
        }
        // Read as e2fsck reads it: the file's (or device's) size.
        let device_blocks = self.fs.image().len() / bs;
        if device_blocks < blocks {
            let c = Ctx {
                blk: blocks,
                num: device_blocks,
                ..Default::default()
            };
            if self.problem(Code::FsSizeWrong, &c)? {
                return Err(Stop::Fatal.into());
            }
        }
        let first_should_be = if sb.s_log_block_size == 0 { 1 } else { 0 };
        if sb.s_first_data_block != first_should_be {
            let c = Ctx {
                blk: sb.s_first_data_block as u64,
                num: first_should_be as u64,
                ..Default::default()
            };
            self.problem(Code::FirstDataBlock, &c)?;
            return self.superblock_unusable();
        }
        if isize > 128 {
            self.check_extra_isize(isize)?;
        }
        let desc_blocks = self.fs.geo().desc_blocks;
        if sb.has_incompat(incompat::META_BG) && sb.s_first_meta_bg > desc_blocks {
            let c = Ctx {
                num: sb.s_first_meta_bg as u64,
                num2: desc_blocks as u64,
                ..Default::default()
            };
            if self.problem(Code::FirstMetaBgTooBig, &c)? {
                self.fs.clear_meta_bg();
            }
        }
        Ok(())
    }

    /// The large inodes' extra sizes the superblock asks for: at least the
    /// extra-size and checksum words, within the inode, a multiple of 4
    /// (0: none asked); a bad one is set to e2fsck's own inode size's.
    fn check_extra_isize(&mut self, isize: u64) -> Result<()> {
        const MIN: u16 = 4;
        // sizeof(struct ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE.
        const DEFAULT: u16 = 32;
        let max = (isize - 128) as u16;
        let bad = |v: u16| v != 0 && (!(MIN..=max).contains(&v) || v & 3 != 0);
        let sb = *self.fs.sb();
        let c = |v: u16| Ctx {
            num: v as u64,
            ..Default::default()
        };
        if bad(sb.s_min_extra_isize)
            && self.problem(Code::BadMinExtraIsize, &c(sb.s_min_extra_isize))?
        {
            self.fs
                .update_superblock(|sb| sb.s_min_extra_isize = DEFAULT);
        }
        if bad(sb.s_want_extra_isize)
            && self.problem(Code::BadWantExtraIsize, &c(sb.s_want_extra_isize))?
        {
            self.fs
                .update_superblock(|sb| sb.s_want_extra_isize = DEFAULT);
        }
        Ok(())
    }

    /// "Corruption found in superblock" for one value, and the end.
    fn corrupt_super(&mut self, name: &str, value: u64) -> Result<()> {
        let c = Ctx {
            str1: name.into(),
            num: value,
            ..Default::default()
        };
        self.problem(Code::MiscCorruptSuper, &c)?;
        self.superblock_unusable()
    }

    /// e2fsck's advice to try a backup superblock, and the end.
    fn superblock_unusable(&mut self) -> Result<()> {
        self.problem(Code::SbCorrupt, &Ctx::default())?;
        Err(Stop::Fatal.into())
    }

    /// `backup_hint`: the backup superblock the relocation hint names;
    /// None when a backup is already in use (e2fsck latches the hint away).
    pub fn check_super(&mut self, backup_hint: Option<u64>) -> Result<()> {
        self.check_super_values()?;
        let mut reloc = Relocations::default();
        let geo = self.fs.geo().clone();
        let mut hinted = backup_hint.is_none();
        for g in 0..geo.group_count {
            let gd = self.fs.groups()[g as usize];
            for table in GroupTable::ALL {
                if !table.outside_group(&geo, g, &gd) {
                    continue;
                }
                if !hinted {
                    hinted = true;
                    let c = Ctx {
                        num: backup_hint.unwrap_or_default(),
                        ..Default::default()
                    };
                    self.problem(Code::RelocateHint, &c)?;
                }
                let c = Ctx {
                    group: g,
                    blk: table.start(&gd),
                    ..Default::default()
                };
                if self.problem(table.not_in_group_problem(), &c)? {
                    self.fs.update_group(g, |gd| table.set_start(gd, 0))?;
                    self.fs.mark_group_dirty(g);
                }
            }
            // A table at block 0 (cleared above, or so on disk, which is
            // inside group 0 of a filesystem starting at block 0) is
            // given a new place after pass 1, without a word.
            let gd = self.fs.groups()[g as usize];
            for table in GroupTable::ALL {
                if table.start(&gd) == 0 {
                    reloc.add(table, g);
                }
            }
            self.check_uninit_flags(g)?;
        }
        // A generated UUID is not a repair: e2fsck neither reports the
        // filesystem modified nor changes its exit code for it.
        if !self.read_only()
            && self.fs.sb().s_uuid == [0; 16]
            && self.problem(Code::AddUuid, &Ctx::default())?
        {
            self.fs
                .update_superblock(|sb| sb.s_uuid = ext2fs::uuid::random_v4());
            // The backups carry the new UUID too.
            self.fs.set_primary_only(false);
        }
        // e2fsck clears the test_fs flag where ext4 can mount the
        // filesystem instead of ext4dev (not a change it marks).
        if !self.read_only()
            && self.fs.sb().s_flags & FLAGS_TEST_FILESYS != 0
            && ext4_available()
            && self.problem(Code::ClearTestfsFlag, &Ctx::default())?
        {
            self.fs
                .update_superblock(|sb| sb.s_flags &= !FLAGS_TEST_FILESYS);
            self.fs.set_primary_only(false);
        }
        let sb = *self.fs.sb();
        // e2fsck keeps the features and makes the filesystem dynamic
        // (ext2fs_update_dynamic_rev); it does not ask under -n.
        if !self.read_only()
            && sb.s_rev_level == 0
            && (sb.s_feature_compat != 0
                || sb.s_feature_incompat != 0
                || sb.s_feature_ro_compat != 0)
            && self.problem(Code::RevZeroFeatures, &Ctx::default())?
        {
            self.fs.update_superblock(|sb| sb.update_dynamic_rev());
            self.fs.set_primary_only(false);
        }
        if sb.s_creator_os == 1
            && sb.has_incompat(incompat::FILETYPE)
            && self.problem(Code::HurdFiletype, &Ctx::default())?
        {
            self.fs
                .update_superblock(|sb| sb.s_feature_incompat &= !incompat::FILETYPE);
            self.fs.set_primary_only(false);
        }
        if self.fs.whiteout_feature()
            && !self.fs.filetype_feature()
            && self.problem(Code::UnionFiletypeMissing, &Ctx::default())?
        {
            self.fs
                .update_superblock(|sb| sb.s_feature_incompat |= incompat::FILETYPE);
            self.fs.set_primary_only(false);
        }
        self.reloc = reloc;
        Ok(())
    }

    /// e2fsck's e2fsck_validate_quota_inodes, after the orphan list and
    /// the superblock times: a quota inode number that names a reserved
    /// inode of another use, or none at all, is dropped (with or without
    /// the quota feature; a number the feature does not use still stands
    /// for a quota inode in passes 2 and 4).
    pub fn validate_quota_inodes(&mut self) -> Result<()> {
        // Bad blocks, root, boot loader, undelete directory, resize,
        // journal, exclude and replica inodes.
        const OTHER_RESERVED: [u32; 8] = [1, 2, 5, 6, 7, 8, 9, 10];
        let sb = *self.fs.sb();
        for (which, value) in [
            ("user", sb.s_usr_quota_inum),
            ("group", sb.s_grp_quota_inum),
            ("project", sb.s_prj_quota_inum),
        ] {
            let invalid = OTHER_RESERVED.contains(&value) || value > sb.s_inodes_count;
            if value == 0 || !invalid {
                continue;
            }
            let c = Ctx {
                ino: value,
                str1: which.into(),
                ..Default::default()
            };
            if self.problem(Code::InvalidQuotaInode, &c)? {
                match which {
                    "user" => self.fs.update_superblock(|sb| sb.s_usr_quota_inum = 0),
                    "group" => self.fs.update_superblock(|sb| sb.s_grp_quota_inum = 0),
                    _ => self.fs.update_superblock(|sb| sb.s_prj_quota_inum = 0),
                }
            }
        }
        Ok(())
    }

    /// e2fsck's check of the superblock's last mount and last write times
    /// (made with -f or a check interval, and only on a sane clock): a
    /// time in the future is set to now, quietly when it is less than a
    /// day ahead (a hardware clock on local time). Only the superblock's
    /// own times change, which e2fsck does not count as a repair.
    pub fn check_future_times(&mut self, force: bool, clock_sane: bool) -> Result<()> {
        const FUDGE: u64 = 86_400;
        let sb = *self.fs.sb();
        if !(force || sb.s_checkinterval != 0) || !clock_sane {
            return Ok(());
        }
        let now = self.now;
        let cases = [
            (
                sb.s_mtime,
                Code::FutureLastMount,
                Code::FutureLastMountFudged,
            ),
            (
                sb.s_wtime,
                Code::FutureLastWrite,
                Code::FutureLastWriteFudged,
            ),
        ];
        for (i, (when, far, near)) in cases.into_iter().enumerate() {
            if when <= now {
                continue;
            }
            let code = if when as u64 <= now as u64 + FUDGE {
                near
            } else {
                far
            };
            let c = Ctx {
                str1: cli_common::asctime(when as i64),
                str2: cli_common::asctime(now as i64),
                ..Default::default()
            };
            if self.problem(code, &c)? {
                self.fs.update_superblock(|sb| match i {
                    0 => sb.s_mtime = now,
                    _ => sb.s_wtime = now,
                });
            }
        }
        Ok(())
    }

    /// e2fsck's dirhash hint: an indexed filesystem that does not say
    /// whether its name hashes take characters as signed or unsigned gets
    /// the signedness of e2fsck's own platform's `char`, as libext2fs
    /// would hash them (signed on x86, unsigned on arm and others).
    pub fn add_dirhash_hint(&mut self) -> Result<()> {
        let sb = self.fs.sb();
        if self.read_only()
            || !sb.has_compat(compat::DIR_INDEX)
            || sb.s_flags & (FLAGS_SIGNED_HASH | FLAGS_UNSIGNED_HASH) != 0
        {
            return Ok(());
        }
        self.ask.notice(Code::DirhashHint, &Ctx::default());
        let flag = if std::ffi::c_char::MIN != 0 {
            FLAGS_SIGNED_HASH
        } else {
            FLAGS_UNSIGNED_HASH
        };
        self.fs.update_superblock(|sb| sb.s_flags |= flag);
        self.ask.changed = true;
        Ok(())
    }

    /// The free counts of a clean filesystem whose check is skipped: the
    /// superblock's totals are set from the group descriptors' (kernels
    /// keep only those exact), quietly under preen and never with -n.
    pub fn sum_free_counts(&mut self) {
        if self.read_only() {
            return;
        }
        let groups = self.fs.groups();
        let inodes: u64 = groups.iter().map(|g| g.bg_free_inodes_count as u64).sum();
        let blocks: u64 = groups.iter().map(|g| g.bg_free_blocks_count as u64).sum();
        let sb = *self.fs.sb();
        if sb.s_free_inodes_count as u64 != inodes {
            let c = Ctx {
                num: sb.s_free_inodes_count as u64,
                num2: inodes,
                ..Default::default()
            };
            self.ask.notice(Code::FreeInodeCount, &c);
            self.fs
                .update_superblock(|sb| sb.s_free_inodes_count = inodes as u32);
        }
        if sb.s_free_blocks_count as u64 != blocks {
            let c = Ctx {
                num: sb.s_free_blocks_count as u64,
                num2: blocks,
                ..Default::default()
            };
            self.ask.notice(Code::FreeBlockCount, &c);
            self.fs
                .update_superblock(|sb| sb.s_free_blocks_count = blocks as u32);
        }
    }

    /// e2fsck's check_backup_super_block: whether the first readable
    /// backup superblock disagrees with the primary on the features (but
    /// those the kernel sets in the primary alone), the size, the inode
    /// count or the UUID. Asked only while the backups are to be left
    /// alone, of a writable filesystem.
    pub fn backup_differs(&self) -> bool {
        use ext2fs::features::ro_compat;
        use ext2fs::superblock::Superblock;
        const RO_COMPAT_IGNORE: u32 =
            ro_compat::LARGE_FILE | ro_compat::DIR_NLINK | ro_compat::ORPHAN_PRESENT;
        const INCOMPAT_IGNORE: u32 = incompat::EXTENTS | incompat::RECOVER;
        if self.read_only() || !self.fs.primary_only() {
            return false;
        }
        let geo = self.fs.geo();
        let sb = self.fs.sb();
        for g in (1..geo.group_count).filter(|&g| geo.has_super(g)) {
            let Ok(block) = self.fs.read_block(geo.group_first_block(g)) else {
                continue;
            };
            let Ok(backup) = Superblock::from_bytes(&block[..1024.min(block.len())]) else {
                continue;
            };
            if backup.s_rev_level > 1 || backup.s_log_block_size > 6 || backup.inode_size() < 128 {
                continue;
            }
            return sb.s_feature_compat != backup.s_feature_compat
                || (sb.s_feature_incompat ^ backup.s_feature_incompat) & !INCOMPAT_IGNORE != 0
                || (sb.s_feature_ro_compat ^ backup.s_feature_ro_compat) & !RO_COMPAT_IGNORE != 0
                || sb.s_blocks_count != backup.s_blocks_count
                || sb.s_blocks_count_hi != backup.s_blocks_count_hi
                || sb.s_inodes_count != backup.s_inodes_count
                || sb.s_uuid != backup.s_uuid;
        }
        false
    }

    /// e2fsck's uninit checks of one descriptor: without uninit_bg or
    /// metadata_csum only the UNINIT flags and an unused-inodes count mean
    /// anything wrong (INODE_ZEROED, which mke2fs sets whenever it zeroes
    /// the inode tables, is harmless); the last group may never have an
    /// uninitialized block bitmap.
    fn check_uninit_flags(&mut self, g: u32) -> Result<()> {
        use ext2fs::features::ro_compat;
        use ext2fs::group_desc::{BG_BLOCK_UNINIT, BG_INODE_UNINIT};
        let csum = self
            .fs
            .sb()
            .has_ro_compat(ro_compat::GDT_CSUM | ro_compat::METADATA_CSUM);
        let c = Ctx {
            group: g,
            ..Default::default()
        };
        let gd = self.fs.groups()[g as usize];
        if !csum
            && (gd.bg_flags & (BG_BLOCK_UNINIT | BG_INODE_UNINIT) != 0 || gd.bg_itable_unused != 0)
            && self.problem(Code::UninitBgFlags, &c)?
        {
            self.fs.update_group(g, |gd| {
                gd.bg_flags &= !(BG_BLOCK_UNINIT | BG_INODE_UNINIT);
                gd.bg_itable_unused = 0;
            })?;
            self.fs.mark_group_dirty(g);
        }
        if g + 1 == self.fs.geo().group_count
            && self.fs.groups()[g as usize].bg_flags & BG_BLOCK_UNINIT != 0
            && self.problem(Code::BlockUninitLast, &c)?
        {
            self.fs
                .update_group(g, |gd| gd.bg_flags &= !BG_BLOCK_UNINIT)?;
            self.fs.mark_group_dirty(g);
        }
        Ok(())
    }

    /// Moves the tables pass 0 found outside their groups; true when an
    /// inode table moved (its inodes are new, so the check restarts).
    pub fn relocate(&mut self) -> Result<bool> {
        // Moved tables are recorded in every descriptor copy.
        self.fs.set_primary_only(false);
        let reloc = std::mem::take(&mut self.reloc);
        let geo = self.fs.geo().clone();
        let mut restart = false;
        for (g, table) in reloc.moves {
            let what = table.name();
            let len = table.len(&geo);
            let first = geo.group_first_block(g) - self.first_data;
            let end = geo.group_last_block(g) + 1 - self.first_data;
            let start = self
                .find_free_run(first, end, len)
                .or_else(|| self.find_free_run(0, self.found.len(), len));
            let Some(start) = start else {
                eprintln!("Could not allocate {len} block(s) for group {g}'s {what}: the filesystem is full");
                self.ask.unfixed = true;
                continue;
            };
            let blk = start + self.first_data;
            let old = table.start(&self.fs.groups()[g as usize]);
            let c = Ctx {
                group: g,
                blk,
                num: old,
                str1: what.to_string(),
                ..Default::default()
            };
            let code = match old {
                0 => Code::RelocatingTable,
                _ => Code::RelocatingTableFrom,
            };
            self.problem(code, &c)?;
            for i in 0..len {
                self.found.set(start + i, true);
                self.metadata.set(start + i, true);
                self.move_table_block(if old != 0 { old + i } else { 0 }, blk + i, what)?;
            }
            self.fs
                .update_group(g, |gd| table.set_start(gd, blk as u32))?;
            // New inodes (zeroed): the check starts over.
            restart |= table == GroupTable::InodeTable;
            self.fs.mark_group_dirty(g);
        }
        Ok(restart)
    }

    /// One block of a relocated table: e2fsck's new_table_block copies
    /// the old block (bad blocks often still read), or zeroes a table
    /// that had no place; failures are warnings.
    fn move_table_block(&mut self, old: u64, new: u64, what: &str) -> Result<()> {
        let bs = self.fs.block_size() as usize;
        let data = match old {
            0 => vec![0u8; bs],
            _ => self.fs.read_block(old).or_else(|e| {
                let c = Ctx {
                    blk: old,
                    str1: what.to_string(),
                    str2: e.to_string(),
                    ..Default::default()
                };
                self.problem(Code::RelocReadErr, &c).map(|_| vec![0u8; bs])
            })?,
        };
        if let Err(e) = self.fs.write_block(new, &data) {
            let c = Ctx {
                blk: new,
                str1: what.to_string(),
                str2: e.to_string(),
                ..Default::default()
            };
            self.problem(Code::RelocWriteErr, &c)?;
        }
        Ok(())
    }

    fn find_free_run(&self, from: u64, to: u64, len: u64) -> Option<u64> {
        let mut i = from;
        while i + len <= to {
            match (i..i + len).find(|&k| self.found.get(k)) {
                Some(used) => i = used + 1,
                None => return Some(i),
            }
        }
        None
    }
}

/// Whether the running kernel has ext4, built in or as a module (e2fsck's
/// fs_proc_check and check_for_modules: /proc/filesystems, then the
/// module list of the running release).
fn ext4_available() -> bool {
    let listed = std::fs::read_to_string("/proc/filesystems").is_ok_and(|t| {
        t.lines()
            .any(|l| l.split_whitespace().last() == Some("ext4"))
    });
    listed || ext4_module_listed()
}

fn ext4_module_listed() -> bool {
    let Ok(release) = std::fs::read_to_string("/proc/sys/kernel/osrelease") else {
        return false;
    };
    let deps = format!("/lib/modules/{}/modules.dep", release.trim());
    let Ok(text) = std::fs::read_to_string(deps) else {
        return false;
    };
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .any(|(path, _)| {
            let name = path.rsplit('/').next().unwrap_or(path);
            name.strip_suffix(".ko").unwrap_or(name) == "ext4"
        })
}
