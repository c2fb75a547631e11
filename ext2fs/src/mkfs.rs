//! Making a new ext2 filesystem: the geometry mke2fs 1.47 computes
//! (ext2fs_initialize's rules), the group table layout, and writing the
//! initial metadata (superblocks, descriptors, bitmaps, inode tables, root,
//! lost+found, bad-blocks and resize inodes) without writing zero blocks.

use crate::dirent;
use crate::features::{compat, incompat, ro_compat, FeatureSet};
use crate::group_desc::{self, GroupDesc};
use crate::image::{Image, RunWriter};
use crate::inode::{self, Inode, BAD_INO, RESIZE_INO, ROOT_INO};
use crate::layout::Geometry;
use crate::run_bitmap::RunBitmap;
use crate::superblock::*;
use crate::{Error, Result};

/// Everything mke2fs has decided before laying the filesystem out.
#[derive(Clone, Debug)]
pub struct Params {
    /// Block size in bytes (-b).
    pub block_size: u32,
    /// Blocks requested (before the last group may be dropped).
    pub blocks_count: u64,
    /// Blocks per group (-g); None: 8 * block size.
    pub blocks_per_group: Option<u32>,
    /// Inodes requested (-N), else computed from `inode_ratio`.
    pub inodes_count: Option<u64>,
    /// Bytes per inode (-i).
    pub inode_ratio: u64,
    /// The inode size asked for; revision 0 lays out 128-byte inodes
    /// whatever it is, but mke2fs's size check still weighs it.
    pub inode_size: u16,
    /// Percent of blocks reserved for the superuser (-m).
    pub reserved_ratio: f64,
    /// Revision (-r).
    pub rev_level: u32,
    /// Features (-O and the profile).
    pub features: FeatureSet,
    /// Volume label (-L).
    pub label: String,
    /// Last mounted directory (-M).
    pub last_mounted: String,
    /// Filesystem UUID (-U).
    pub uuid: [u8; 16],
    /// Directory hash seed (-E hash_seed).
    pub hash_seed: [u32; 4],
    /// Default directory hash (-E hash_alg).
    pub def_hash_version: u8,
    /// Creator OS (-o).
    pub creator_os: u32,
    /// s_errors behaviour (-e).
    pub errors: u16,
    /// Default mount options (s_default_mount_opts).
    pub default_mount_opts: u32,
    /// Mounts between checks (s_max_mnt_count; -1 disables).
    pub max_mnt_count: i16,
    /// Seconds between checks (s_checkinterval; 0: none).
    pub check_interval: u32,
    /// Owner of the root directory (-E root_owner).
    pub root_uid: u32,
    /// Group of the root directory (-E root_owner).
    pub root_gid: u32,
    /// RAID stride (-E stride): spreads bitmaps across the disks.
    pub stride: u32,
    /// RAID stripe width in blocks (-E stripe_width).
    pub stripe_width: u32,
    /// Creation time of everything (SOURCE_DATE_EPOCH or now).
    pub now: u32,
    /// Reserved GDT blocks wanted (-E resize); None = mke2fs' default.
    pub resize_blocks: Option<u64>,
    /// sparse_super2: the backup groups asked for, as mke2fs passes them
    /// (1 for the first backup, u32::MAX for the last group; 0 for none).
    pub backup_bgs: [u32; 2],
    /// meta_bg: descriptor blocks kept in the classic table
    /// (s_first_meta_bg, mke2fs' MKE2FS_FIRST_META_BG).
    pub first_meta_bg: u32,
    /// Mark every group's inode table as zeroed (bg_flags INODE_ZEROED),
    /// as mke2fs does unless lazy_itable_init leaves it to the kernel.
    pub inode_tables_zeroed: bool,
    /// mke2fs -S: only superblocks and descriptors are rewritten, and the
    /// superblock says the filesystem has errors so e2fsck looks at it.
    pub super_only: bool,
}

/// The computed layout.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The superblock to write.
    pub sb: Superblock,
    /// Its geometry.
    pub geo: Geometry,
    /// Each group's descriptor.
    pub groups: Vec<GroupDesc>,
    /// Blocks listed as bad (mke2fs -l), sorted, each once: the tables
    /// avoid them and the bad-blocks inode holds them.
    pub bad_blocks: Vec<u64>,
}

impl Plan {
    /// Takes `bad` (block numbers inside the filesystem) as the bad
    /// blocks: the group tables are placed again around them, as mke2fs
    /// allocates its tables after marking them in use.
    pub fn set_bad_blocks(&mut self, bad: &[u64]) -> Result<()> {
        let mut bad = bad.to_vec();
        bad.sort_unstable();
        bad.dedup();
        let mut groups = crate::group_tables::place(&self.geo, self.sb.s_raid_stride as u32, &bad)?;
        for (new, old) in groups.iter_mut().zip(&self.groups) {
            new.bg_flags = old.bg_flags;
        }
        self.groups = groups;
        self.bad_blocks = bad;
        Ok(())
    }
}

fn desc_per_block(bs: u32) -> u32 {
    bs / GroupDesc::SIZE as u32
}

/// calc_reserved_gdt_blocks: room to grow to 1024 times the size, capped
/// at 2^32 blocks and at one indirect block of entries.
fn default_reserved_gdt(
    blocks: u64,
    first_data_block: u32,
    bpg: u32,
    bs: u32,
    desc_blocks: u32,
) -> u32 {
    let mut max_blocks: u64 = 0xffff_ffff;
    if blocks < max_blocks / 1024 {
        max_blocks = blocks * 1024;
    }
    let rsv_groups = (max_blocks - first_data_block as u64).div_ceil(bpg as u64);
    let rsv_gdb = rsv_groups
        .div_ceil(desc_per_block(bs) as u64)
        .saturating_sub(desc_blocks as u64);
    rsv_gdb.min((bs / 4) as u64) as u32
}

/// sparse_super2's backup groups as ext2fs_initialize settles them: each
/// within the filesystem, no group twice, in ascending order (0 = none).
fn settle_backup_bgs(asked: [u32; 2], groups: u32) -> [u32; 2] {
    let mut b = asked.map(|g| g.min(groups - 1));
    if b[0] == b[1] {
        b[1] = 0;
    }
    if b[0] > b[1] {
        b.swap(0, 1);
    }
    b
}

/// Computes the layout as ext2fs_initialize does.
pub fn plan(p: &Params) -> Result<Plan> {
    let bs = p.block_size;
    if !(1024..=65536).contains(&bs) || !bs.is_power_of_two() {
        return Err(Error::InvalidBlockSize(bs));
    }
    let log = bs.trailing_zeros() - 10;
    let first_data_block = if bs == 1024 { 1 } else { 0 };
    let mut bpg = p.blocks_per_group.unwrap_or(bs * 8);
    if bpg < 256 || bpg > bs * 8 || !bpg.is_multiple_of(8) {
        return Err(Error::BlocksPerGroupOutOfRange {
            blocks_per_group: bpg,
            max: bs * 8,
        });
    }
    // EXT2_MAX_BLOCKS_PER_GROUP: a group's count must fit 16 bits (64 KiB
    // blocks would give 524288; ext2fs_initialize caps it).
    bpg = bpg.min(65528);
    if p.blocks_count > u32::MAX as u64 {
        return Err(Error::TooManyBlocks(p.blocks_count));
    }
    let isize = if p.rev_level == GOOD_OLD_REV {
        128
    } else {
        p.inode_size
    };
    if isize < 128 || !isize.is_power_of_two() || isize as u32 > bs {
        return Err(Error::InvalidInodeSize {
            size: isize as u32,
            max: bs,
        });
    }
    let mut blocks = p.blocks_count;
    // -N 0 means "from the ratio", as in mke2fs.
    let inodes_wanted = match p.inodes_count {
        Some(n) if n > 0 => n,
        _ => blocks * bs as u64 / p.inode_ratio.max(1024),
    };
    // mke2fs weighs the inode size it was given (on revision 0 too,
    // where the tables then use 128-byte inodes).
    if inodes_wanted * p.inode_size as u64 >= blocks * bs as u64 {
        return Err(Error::InodeTablesTooBig {
            inode_size: p.inode_size as u32,
            inodes: inodes_wanted,
            blocks,
        });
    }
    let first_ino = if p.rev_level == GOOD_OLD_REV {
        GOOD_OLD_FIRST_INO
    } else {
        11
    } as u64;
    let mut features = p.features;
    // The reserved count as mke2fs passes it, and as ext2fs_initialize
    // scales it when it drops a short last group (at the requested
    // ratio; a later retry with fewer blocks per group keeps the value).
    let r_requested = (p.reserved_ratio * p.blocks_count as f64 / 100.0) as u64;
    let mut r_blocks = r_requested;
    let inodes_per_block = bs / isize as u32;
    // The retry loop of ext2fs_initialize.
    loop {
        if blocks <= first_data_block as u64 {
            return Err(Error::TooSmall);
        }
        let groups = (blocks - first_data_block as u64).div_ceil(bpg as u64) as u32;
        let desc_blocks = groups.div_ceil(desc_per_block(bs));
        // A ratio giving no inodes at all takes ext2fs_initialize's
        // default: one inode per 4 KiB (per block from 4 KiB up); at
        // least the reserved ones plus one (1.47.0 asks no more, even
        // where rounding to 8 per group leaves fewer).
        let wanted = match inodes_wanted {
            0 => blocks / (4096 / bs as u64).max(1),
            n => n,
        }
        .max(first_ino + 1);
        let mut ipg = wanted.div_ceil(groups as u64);
        if ipg > bs as u64 * 8 {
            if bpg >= 256 {
                bpg -= 8;
                blocks = p.blocks_count;
                continue;
            }
            return Err(Error::TooManyInodes);
        }
        let max_ipg = 65536 - inodes_per_block as u64;
        ipg = ipg.min(max_ipg);
        // Fill whole inode-table blocks, in multiples of 8; retried with
        // the unrounded count one lower on overflow.
        let (ipg, itb) = loop {
            let itb = (ipg * isize as u64).div_ceil(bs as u64);
            let filled = (itb * bs as u64 / isize as u64).max(8) & !7;
            let itb = (filled * isize as u64).div_ceil(bs as u64);
            if filled * groups as u64 > u32::MAX as u64 {
                ipg -= 1;
            } else {
                break (filled, itb);
            }
        };
        let mut rsv = if features.compat & compat::RESIZE_INODE != 0 {
            match p.resize_blocks {
                Some(max) => {
                    let max = max.min(u32::MAX as u64);
                    let groups_max = (max - first_data_block as u64).div_ceil(bpg as u64);
                    (groups_max
                        .div_ceil(desc_per_block(bs) as u64)
                        .saturating_sub(desc_blocks as u64))
                    .min((bs / 4) as u64) as u32
                }
                None => default_reserved_gdt(blocks, first_data_block, bpg, bs, desc_blocks),
            }
        } else {
            0
        };
        // Descriptors over 3/4 of a group: ext2fs_initialize switches to
        // meta_bg (for this and every retry), which has no resize inode.
        if rsv + desc_blocks > bpg * 3 / 4 {
            features.incompat |= incompat::META_BG;
            features.compat &= !compat::RESIZE_INODE;
            rsv = 0;
        }
        let meta_bg = features.incompat & incompat::META_BG != 0;
        let table_overhead = if meta_bg { 1 } else { desc_blocks };
        let mut overhead = 3 + itb as u32 + rsv + table_overhead;
        if overhead > bpg {
            return Err(Error::TooManyInodes);
        }
        if features.compat & compat::RESIZE_INODE != 0 && resize_inode_needs_large_file(bs) {
            // ext2fs_create_resize_inode's i_size passes 2 GiB.
            features.ro_compat |= ro_compat::LARGE_FILE;
        }
        // The last group's check counts the whole table even under
        // meta_bg, as ext2fs_initialize does.
        overhead = 2 + itb as u32;
        let last_has_super = if features.compat & compat::SPARSE_SUPER2 != 0 {
            // ext2fs_initialize's own guess: s_backup_bgs is not set yet.
            if groups == 2 {
                p.backup_bgs[0] != 0
            } else {
                p.backup_bgs[1] != 0
            }
        } else {
            crate::layout::group_has_super(features, groups - 1)
        };
        if last_has_super {
            overhead += 1 + desc_blocks + rsv;
        }
        let rem = ((blocks - first_data_block as u64) % bpg as u64) as u32;
        if groups == 1 && rem != 0 && rem < overhead {
            return Err(Error::TooSmall);
        }
        if rem != 0 && rem < overhead + 50 {
            blocks -= rem as u64;
            let ratio = 100.0 * r_requested as f64 / p.blocks_count as f64;
            r_blocks = (ratio * blocks as f64 / 100.0) as u64;
            continue;
        }
        // Settled: fill in the superblock.
        let mut sb = Superblock {
            s_inodes_count: (ipg * groups as u64) as u32,
            s_blocks_count: blocks as u32,
            s_r_blocks_count: r_blocks as u32,
            s_first_data_block: first_data_block,
            s_log_block_size: log,
            s_log_cluster_size: log,
            s_blocks_per_group: bpg,
            s_clusters_per_group: bpg,
            s_inodes_per_group: ipg as u32,
            s_wtime: p.now,
            s_max_mnt_count: p.max_mnt_count as u16,
            s_magic: EXT2_MAGIC,
            s_state: if p.super_only {
                STATE_VALID | STATE_ERROR
            } else {
                STATE_VALID
            },
            s_errors: p.errors,
            s_lastcheck: p.now,
            s_checkinterval: p.check_interval,
            s_creator_os: p.creator_os,
            s_rev_level: p.rev_level,
            s_mkfs_time: p.now,
            s_uuid: p.uuid,
            ..Default::default()
        };
        // mke2fs sets the directory hash even on revision 0.
        sb.s_def_hash_version = p.def_hash_version;
        sb.s_hash_seed = p.hash_seed;
        sb.s_flags = FLAGS_SIGNED_HASH;
        // ext2fs_initialize fills these in on revision 0 too.
        sb.s_first_ino = first_ino as u32;
        sb.s_inode_size = isize;
        sb.s_raid_stride = p.stride as u16;
        sb.s_raid_stripe_width = p.stripe_width;
        if p.rev_level >= DYNAMIC_REV {
            sb.set_features(features);
            if features.compat & compat::SPARSE_SUPER2 != 0 {
                sb.s_backup_bgs = settle_backup_bgs(p.backup_bgs, groups);
            }
            sb.s_reserved_gdt_blocks = rsv as u16;
            if features.incompat & incompat::META_BG != 0 {
                sb.s_first_meta_bg = p.first_meta_bg;
            }
            sb.s_default_mount_opts = p.default_mount_opts;
            if isize >= 160 {
                sb.s_min_extra_isize = 32;
                sb.s_want_extra_isize = 32;
            }
        }
        // mke2fs sets these after ext2fs_initialize, whatever the revision.
        set_c_string(&mut sb.s_volume_name, &p.label);
        set_c_string(&mut sb.s_last_mounted, &p.last_mounted);
        let geo = Geometry::from_superblock(&sb);
        let mut groups = crate::group_tables::place(&geo, sb.s_raid_stride as u32, &[])?;
        if p.inode_tables_zeroed {
            for gd in &mut groups {
                gd.bg_flags |= group_desc::BG_INODE_ZEROED;
            }
        }
        return Ok(Plan {
            sb,
            geo,
            groups,
            bad_blocks: Vec::new(),
        });
    }
}

/// Whether the resize inode's size, (apb^2 + apb + 12) blocks, reaches
/// 2 GiB (4 KiB blocks and larger), so the filesystem needs large_file.
pub fn resize_inode_needs_large_file(bs: u32) -> bool {
    let apb = bs as u64 / 4;
    (apb * apb + apb + inode::NDIR_BLOCKS as u64) * bs as u64 > 0x7fff_ffff
}

/// Blocks of lost+found: at least 16 KiB and two blocks, within the 12
/// direct blocks (mke2fs' create_lost_and_found).
pub fn lost_found_blocks(bs: u32) -> u32 {
    let mut size = 0u32;
    let mut blocks = 1;
    for _ in 1..inode::NDIR_BLOCKS {
        size += bs;
        if size >= 16 * 1024 && size >= 2 * bs {
            break;
        }
        blocks += 1;
    }
    blocks
}

/// Writes the initial filesystem of `plan` into `image` at `offset`
/// bytes. Blocks that are all zero are never written: the caller zeroes
/// the range first (punching a hole in a file, or `zero_tables` for a
/// device whose old contents stay). Returns the finished superblock.
pub struct Writer<'a> {
    image: &'a Image,
    offset: u64,
    plan: Plan,
    blocks: RunBitmap,
    inodes: RunBitmap,
    now: u32,
    super_only: bool,
    root_uid: u32,
    root_gid: u32,
    /// Non-zero blocks to write, in order (block, contents).
    out: Vec<(u64, Vec<u8>)>,
    inode_records: Vec<(u32, Inode)>,
}

impl<'a> Writer<'a> {
    /// A writer of `plan` into `image` at byte `offset`, with `p`'s
    /// owner and time choices.
    pub fn new(image: &'a Image, offset: u64, plan: Plan, p: &Params) -> Self {
        let geo = &plan.geo;
        let blocks = RunBitmap::new(geo.blocks_count - geo.first_data_block as u64);
        let inodes = RunBitmap::new(plan.sb.s_inodes_count as u64);
        Writer {
            image,
            offset,
            blocks,
            inodes,
            now: p.now,
            super_only: p.super_only,
            root_uid: p.root_uid,
            root_gid: p.root_gid,
            out: Vec::new(),
            inode_records: Vec::new(),
            plan,
        }
    }

    fn mark(&mut self, b: u64) {
        self.blocks.set(b - self.plan.geo.first_data_block as u64);
    }

    /// Allocates the first free block at or after `goal`.
    fn alloc(&mut self, goal: u64) -> Result<u64> {
        let first = self.plan.geo.first_data_block as u64;
        let n = self.blocks.len();
        let g = goal.max(first) - first;
        let rel = self
            .blocks
            .first_clear(g, n)
            .or_else(|| self.blocks.first_clear(0, g))
            .ok_or(Error::NoSpace { what: "a block" })?;
        self.blocks.set(rel);
        Ok(rel + first)
    }

    fn new_inode(&self, mode: u16) -> Inode {
        let mut i = Inode::new(self.plan.geo.inode_size as u16);
        i.base.i_mode = mode;
        i.base.i_atime = self.now;
        i.base.i_ctime = self.now;
        i.base.i_mtime = self.now;
        if self.plan.geo.inode_size >= 160 {
            i.extra.i_extra_isize = 32;
            i.extra.i_crtime = self.now;
        }
        i
    }

    /// Lays out everything in memory; `write` then streams it out.
    pub fn build(&mut self) -> Result<()> {
        let geo = self.plan.geo.clone();
        let first = geo.first_data_block as u64;
        for g in 0..geo.group_count {
            let meta = geo.group_metadata_range(g);
            // Block 0 of a 1 KiB-block filesystem is outside the bitmap.
            let start = meta.start.max(first);
            if start < meta.end {
                self.blocks.set_range(start - first, meta.end - first);
            }
            let gd = self.plan.groups[g as usize];
            self.mark(gd.bg_block_bitmap as u64);
            self.mark(gd.bg_inode_bitmap as u64);
            let t = gd.bg_inode_table as u64 - first;
            self.blocks.set_range(t, t + geo.inode_table_blocks as u64);
        }
        if self.super_only {
            // mke2fs -S: no files and no overhead figure; the counts are
            // those of the bare group tables.
            return Ok(());
        }
        // mke2fs records the metadata overhead before any file exists.
        // (Block 0 of a 1 KiB-block filesystem, the boot block, counts too.)
        // mke2fs counts it with the bad blocks cleared from its bitmap,
        // which clears those that are metadata (a backup superblock) too.
        let bad_metadata = self
            .plan
            .bad_blocks
            .iter()
            .filter(|&&b| self.blocks.get(b - first))
            .count() as u32;
        self.plan.sb.s_overhead_clusters = self.blocks.count_set(0, self.blocks.len()) as u32
            + geo.first_data_block
            - bad_metadata;
        // Bad blocks are in use from here on.
        for b in self.plan.bad_blocks.clone() {
            self.mark(b);
        }
        let bs = geo.block_size;
        let filetype = self.plan.sb.has_incompat(incompat::FILETYPE);
        // Root directory.
        let root_blk = self.alloc(geo.group_first_block(0))?;
        let mut root = self.new_inode(inode::S_IFDIR | 0o755);
        root.set_uid(self.root_uid);
        root.set_gid(self.root_gid);
        let mut root_entries = dirent::parse_block(
            &dirent::new_dir_block(ROOT_INO, ROOT_INO, bs as usize, filetype),
            ROOT_INO,
            0,
        )?;
        // lost+found (inode 11, the first non-reserved).
        let lpf_ino = self.plan.sb.first_ino();
        if lpf_ino > self.plan.sb.s_inodes_count {
            return Err(Error::NoSpace {
                what: "an inode for lost+found",
            });
        }
        let slot =
            dirent::find_slot(&root_entries, b"lost+found", false).ok_or(Error::NoSpace {
                what: "root directory",
            })?;
        dirent::insert_at(
            &mut root_entries,
            slot,
            dirent::DirEntry::new(
                lpf_ino,
                if filetype { dirent::ft::DIR } else { 0 },
                b"lost+found",
            ),
        );
        self.out
            .push((root_blk, dirent::write_block(&root_entries, bs as usize)?));
        root.base.i_block[0] = root_blk as u32;
        root.base.i_links_count = 3;
        root.set_size(bs as u64);
        root.base.i_blocks = bs / 512;
        self.inode_records.push((ROOT_INO, root));

        let mut lpf = self.new_inode(inode::S_IFDIR | 0o700);
        let nblk = lost_found_blocks(bs);
        // ext2fs_mkdir's goal is the start of the inode's group (with
        // -N small, group 0 may hold only reserved inodes); each block
        // ext2fs_expand_dir adds goes after the last.
        let mut goal = geo.group_first_block(geo.group_of_inode(lpf_ino));
        for i in 0..nblk {
            let b = self.alloc(goal)?;
            goal = b + 1;
            let data = if i == 0 {
                dirent::new_dir_block(lpf_ino, ROOT_INO, bs as usize, filetype)
            } else {
                dirent::empty_block(bs as usize)
            };
            self.out.push((b, data));
            lpf.base.i_block[i as usize] = b as u32;
        }
        lpf.base.i_links_count = 2;
        lpf.set_size(nblk as u64 * bs as u64);
        lpf.base.i_blocks = nblk * (bs / 512);
        self.inode_records.push((lpf_ino, lpf));

        // Reserved inodes 1..first_ino-1 are in use; the bad-blocks inode
        // carries times like ext2fs_update_bb_inode leaves them.
        self.inodes.set_range(0, lpf_ino as u64);
        let mut bad = Inode::new(geo.inode_size as u16);
        bad.base.i_atime = self.now;
        bad.base.i_mtime = self.now;
        bad.base.i_ctime = self.now;
        let listed = self.plan.bad_blocks.len() as u64;
        bad.base.i_block = self.bad_block_map()?;
        // i_blocks counts the bad blocks only, not the indirect blocks
        // holding them, as ext2fs_update_bb_inode sets it.
        bad.base.i_blocks = (listed * u64::from(bs / 512)) as u32;
        bad.set_size(listed * u64::from(bs));
        // ext2fs_update_bb_inode writes only the 128-byte base: the large
        // part, i_extra_isize included, stays zero.
        self.inode_records.push((BAD_INO, bad));

        if self.plan.sb.has_compat(compat::RESIZE_INODE) {
            let dind = self.alloc(crate::resize_inode::dind_goal(&geo))?;
            let (rec, blocks) =
                crate::resize_inode::build(&geo, dind as u32, self.now, geo.inode_size as u16);
            for (b, data) in blocks {
                self.out.push((b as u64, data));
            }
            self.inode_records.push((RESIZE_INO, rec));
        }
        Ok(())
    }

    /// The bad-blocks inode's map as ext2fs_update_bb_inode fills it: the
    /// bad blocks in order, each indirect block taken (the first free
    /// block of the filesystem) when the walk reaches its slot, even when
    /// no bad block is left to go in it; the walk ends at the first slot
    /// with none.
    fn bad_block_map(&mut self) -> Result<[u32; inode::N_BLOCKS]> {
        let bad = self.plan.bad_blocks.clone();
        let mut next = bad.iter().map(|&b| b as u32);
        let mut map = [0u32; inode::N_BLOCKS];
        for slot in map.iter_mut().take(inode::NDIR_BLOCKS) {
            match next.next() {
                Some(b) => *slot = b,
                None => return Ok(map),
            }
        }
        for (level, slot) in (1u8..=3).zip(inode::NDIR_BLOCKS..) {
            let (block, more) = self.bad_block_indirect(level, &mut next)?;
            map[slot] = block;
            if !more {
                break;
            }
        }
        Ok(map)
    }

    /// One indirect block of the bad-blocks map at `level` and what goes
    /// below it; whether bad blocks remain after it.
    fn bad_block_indirect(
        &mut self,
        level: u8,
        next: &mut dyn Iterator<Item = u32>,
    ) -> Result<(u32, bool)> {
        let first = self.plan.geo.first_data_block as u64;
        let block = self.alloc(first)? as u32;
        let bs = self.plan.geo.block_size as usize;
        let mut data = vec![0u8; bs];
        let mut more = true;
        for k in 0..bs / 4 {
            let child = if level == 1 {
                next.next()
            } else {
                let (b, m) = self.bad_block_indirect(level - 1, next)?;
                more = m;
                Some(b)
            };
            match child {
                Some(c) => crate::block_map::set_pointer(&mut data, k, c),
                None => more = false,
            }
            if !more {
                break;
            }
        }
        self.out.push((u64::from(block), data));
        Ok((block, more))
    }

    /// Counts free blocks and inodes into the descriptors and superblock.
    fn account(&mut self) {
        let geo = self.plan.geo.clone();
        let mut free_b = 0u64;
        let mut free_i = 0u64;
        for g in 0..geo.group_count {
            let first = geo.group_first_block(g) - geo.first_data_block as u64;
            let fb = self
                .blocks
                .count_clear(first, first + geo.blocks_in_group(g) as u64);
            let ifirst = g as u64 * geo.inodes_per_group as u64;
            let fi = self
                .inodes
                .count_clear(ifirst, ifirst + geo.inodes_per_group as u64);
            let gd = &mut self.plan.groups[g as usize];
            gd.bg_free_blocks_count = fb as u16;
            gd.bg_free_inodes_count = fi as u16;
            gd.bg_used_dirs_count = if self.super_only {
                0
            } else {
                [ROOT_INO, self.plan.sb.first_ino()]
                    .iter()
                    .filter(|&&ino| geo.group_of_inode(ino) == g)
                    .count() as u16
            };
            free_b += fb;
            free_i += fi;
        }
        self.plan.sb.s_free_blocks_count = free_b as u32;
        self.plan.sb.s_free_inodes_count = free_i as u32;
    }

    /// Writes everything; `only_super` writes just the superblocks and
    /// descriptor tables (mke2fs -S).
    pub fn write(self, only_super: bool) -> Result<Superblock> {
        self.write_with_progress(only_super, &mut |_, _| {})
    }

    /// `write`, calling `progress(groups_done, groups)` as the group
    /// tables go out (for a progress bar on big filesystems).
    pub fn write_with_progress(
        mut self,
        only_super: bool,
        progress: &mut dyn FnMut(u32, u32),
    ) -> Result<Superblock> {
        self.account();
        let geo = self.plan.geo.clone();
        let bs = geo.block_size as usize;
        let mut out = BlockWriter(RunWriter::new(self.image, self.offset, bs));
        if !only_super {
            // Inode tables: only the blocks holding non-zero inodes.
            let mut by_block: std::collections::BTreeMap<u64, Vec<u8>> = Default::default();
            for (ino, rec) in &self.inode_records {
                let g = geo.inode_group(*ino);
                let idx = (*ino - 1) % geo.inodes_per_group;
                let byte = idx as u64 * geo.inode_size as u64;
                let blk = self.plan.groups[g as usize].bg_inode_table as u64 + byte / bs as u64;
                let buf = by_block.entry(blk).or_insert_with(|| vec![0u8; bs]);
                let at = (byte % bs as u64) as usize;
                buf[at..at + geo.inode_size as usize].copy_from_slice(&rec.to_bytes());
            }
            for (b, data) in by_block.iter().chain(self.out.iter().map(|(b, d)| (b, d))) {
                out.put(*b, data)?;
            }
            for g in 0..geo.group_count {
                let gd = self.plan.groups[g as usize];
                let first = geo.group_first_block(g) - geo.first_data_block as u64;
                let bb = self
                    .blocks
                    .group_block(first, geo.blocks_in_group(g) as u64, bs);
                out.put(gd.bg_block_bitmap as u64, &bb)?;
                let ifirst = g as u64 * geo.inodes_per_group as u64;
                let ib = self
                    .inodes
                    .group_block(ifirst, geo.inodes_per_group as u64, bs);
                out.put(gd.bg_inode_bitmap as u64, &ib)?;
            }
        }
        progress(geo.group_count, geo.group_count);
        let table = group_desc::write_table(&self.plan.groups, geo.desc_blocks as usize * bs);
        for g in std::iter::once(0).chain(geo.backup_groups()) {
            let copy = self.plan.sb.backup_copy(g);
            self.image
                .write_at(self.offset + geo.superblock_offset(g), &copy.to_bytes())?;
        }
        for (block, first, count) in geo.descriptor_copies(false) {
            let at = first as usize * bs;
            out.put(block, &table[at..at + count as usize * bs])?;
        }
        out.flush()?;
        Ok(self.plan.sb)
    }

    /// The inode table blocks (for zeroing a device that keeps old data).
    pub fn inode_table_ranges(&self) -> Vec<(u64, u32)> {
        self.plan
            .groups
            .iter()
            .map(|g| (g.bg_inode_table as u64, self.plan.geo.inode_table_blocks))
            .collect()
    }

    /// The layout being written.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }
}

/// Writes blocks, skipping all-zero ones (the caller zeroed the range),
/// adjacent ones joined into one write: a group's block and inode bitmaps
/// sit side by side, so a 1 TiB filesystem needs 8192 writes, not 16384.
struct BlockWriter<'a>(RunWriter<'a>);

impl BlockWriter<'_> {
    fn put(&mut self, block: u64, data: &[u8]) -> Result<()> {
        if data.iter().all(|&b| b == 0) {
            return self.0.flush();
        }
        self.0.put(block, data)
    }

    fn flush(&mut self) -> Result<()> {
        self.0.flush()
    }
}

/// Features mke2fs-union refuses because they belong to ext3/ext4.
pub fn ext4_only(f: &FeatureSet) -> Vec<String> {
    let bad = FeatureSet {
        compat: f.compat
            & (compat::HAS_JOURNAL
                | compat::LAZY_BG
                | compat::EXCLUDE_BITMAP
                | compat::FAST_COMMIT
                | compat::STABLE_INODES
                | compat::ORPHAN_FILE),
        incompat: f.incompat & !(incompat::FILETYPE | incompat::WHITEOUT | incompat::META_BG),
        ro_compat: f.ro_compat & !(ro_compat::SPARSE_SUPER | ro_compat::LARGE_FILE),
    };
    bad.names()
}

/// A small filesystem made in memory (1 KiB blocks, the ext2 defaults of
/// mke2fs.conf, with the whiteout feature when asked), holding a few
/// directories, files, a symlink and union entries: the starting image of
/// fuzz targets and tests that need one without touching the disk.
pub fn small_image(size: u64, whiteout: bool) -> Result<Vec<u8>> {
    use crate::features::{compat, incompat, ro_compat};
    let mut features = FeatureSet {
        compat: compat::EXT_ATTR | compat::RESIZE_INODE | compat::DIR_INDEX,
        incompat: incompat::FILETYPE,
        ro_compat: ro_compat::SPARSE_SUPER | ro_compat::LARGE_FILE,
    };
    if whiteout {
        features.incompat |= incompat::WHITEOUT;
    }
    let params = Params {
        block_size: 1024,
        blocks_count: size / 1024,
        blocks_per_group: None,
        inodes_count: None,
        inode_ratio: 4096,
        inode_size: 256,
        reserved_ratio: 5.0,
        rev_level: 1,
        features,
        label: String::new(),
        last_mounted: String::new(),
        uuid: [7; 16],
        hash_seed: [1, 2, 3, 4],
        def_hash_version: crate::superblock::HASH_HALF_MD4,
        creator_os: crate::superblock::OS_LINUX,
        errors: crate::superblock::ERRORS_CONTINUE,
        default_mount_opts: 0,
        max_mnt_count: -1,
        check_interval: 0,
        root_uid: 0,
        root_gid: 0,
        stride: 0,
        stripe_width: 0,
        now: 1_700_000_000,
        resize_blocks: None,
        backup_bgs: [0; 2],
        first_meta_bg: 0,
        inode_tables_zeroed: false,
        super_only: false,
    };
    let p = plan(&params)?;
    let image = Image::in_memory(vec![0; size as usize], true);
    let mut w = Writer::new(&image, 0, p, &params);
    w.build()?;
    w.write(false)?;
    let opts = crate::fs::OpenOptions {
        write: true,
        ..Default::default()
    };
    let mut fs = crate::fs::Filesystem::from_image(image, &opts)?;
    fs.set_fixed_time(Some(params.now));
    let d = fs.mkdir(crate::inode::ROOT_INO, b"dir", 0o755)?;
    let f = fs.create(d, b"file", crate::inode::S_IFREG | 0o644)?;
    let mut rec = fs.read_inode(f)?;
    fs.write_range(f, &mut rec, 0, &[b'x'; 5000])?;
    fs.symlink(crate::inode::ROOT_INO, b"link", b"dir/file")?;
    for i in 0..40 {
        fs.create(
            d,
            format!("n{i:02}").as_bytes(),
            crate::inode::S_IFREG | 0o600,
        )?;
    }
    if whiteout {
        fs.add_union_entry(crate::inode::ROOT_INO, b"gone", crate::dirent::ft::WHT)?;
        fs.add_union_entry(d, b"below", crate::dirent::ft::FALLTHRU)?;
        fs.set_opaque(d, true)?;
    }
    fs.flush()?;
    let bytes = fs.image().memory_bytes().ok_or(Error::NotInMemory)?;
    Ok(bytes)
}
