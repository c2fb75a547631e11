//! The superblock: 1024 bytes at byte offset 1024 of the filesystem (and
//! backups at the start of some groups; see `layout`).
//!
//! The full revision-1 layout (including the ext4-era fields, which ext2
//! images keep zero) is declared so that a parse/write round trip is
//! byte-exact.

use crate::features::{incompat, FeatureSet};
use crate::{ondisk, CorruptKind, Error, Result, Structure};

/// Byte offset of the primary superblock from the filesystem's start.
pub const SUPERBLOCK_OFFSET: u64 = 1024;
/// Size of the superblock in bytes.
pub const SUPERBLOCK_SIZE: usize = 1024;
/// s_magic of every ext2/3/4 superblock.
pub const EXT2_MAGIC: u16 = 0xEF53;

/// s_state bits.
pub const STATE_VALID: u16 = 0x0001;
/// s_state: errors were detected.
pub const STATE_ERROR: u16 = 0x0002;
/// s_state: orphans are being recovered.
pub const STATE_ORPHAN: u16 = 0x0004;

/// s_errors behaviours.
pub const ERRORS_CONTINUE: u16 = 1;
/// s_errors: remount read-only on errors.
pub const ERRORS_RO: u16 = 2;
/// s_errors: panic on errors.
pub const ERRORS_PANIC: u16 = 3;

/// s_creator_os values.
pub const OS_LINUX: u32 = 0;
/// s_creator_os: GNU Hurd.
pub const OS_HURD: u32 = 1;
/// s_creator_os: Masix.
pub const OS_MASIX: u32 = 2;
/// s_creator_os: FreeBSD.
pub const OS_FREEBSD: u32 = 3;
/// s_creator_os: Lites.
pub const OS_LITES: u32 = 4;

/// s_rev_level values.
pub const GOOD_OLD_REV: u32 = 0;
/// s_rev_level: dynamic inode sizes and feature words.
pub const DYNAMIC_REV: u32 = 1;
/// Revision-0 filesystems have fixed 128-byte inodes and first inode 11.
pub const GOOD_OLD_INODE_SIZE: u16 = 128;
/// The first non-reserved inode of revision-0 filesystems.
pub const GOOD_OLD_FIRST_INO: u32 = 11;

/// s_def_hash_version values (also dx_root hash_version).
pub const HASH_LEGACY: u8 = 0;
/// Half MD4, signed characters.
pub const HASH_HALF_MD4: u8 = 1;
/// TEA, signed characters.
pub const HASH_TEA: u8 = 2;
/// Legacy hash, unsigned characters (in memory only, not on disk).
pub const HASH_LEGACY_UNSIGNED: u8 = 3;
/// Half MD4, unsigned characters (in memory only).
pub const HASH_HALF_MD4_UNSIGNED: u8 = 4;
/// TEA, unsigned characters (in memory only).
pub const HASH_TEA_UNSIGNED: u8 = 5;

/// `s_encoding`: filename encoding of casefolded directories (ext4).
pub const ENCODING_UTF8_12_1: u16 = 1;

/// s_flags bits.
pub const FLAGS_SIGNED_HASH: u32 = 0x0001;
/// s_flags: directory hashes treat names as unsigned characters.
pub const FLAGS_UNSIGNED_HASH: u32 = 0x0002;
/// s_flags: a test filesystem (ext4dev).
pub const FLAGS_TEST_FILESYS: u32 = 0x0004;

ondisk! {
    /// `struct ext2_super_block` (lib/ext2fs/ext2_fs.h).
    pub struct Superblock {
        /// Inodes in the filesystem.
        s_inodes_count: u32,
        /// Blocks in the filesystem.
        s_blocks_count: u32,
        /// Blocks reserved for the superuser.
        s_r_blocks_count: u32,
        /// Free blocks.
        s_free_blocks_count: u32,
        /// Free inodes.
        s_free_inodes_count: u32,
        /// The block holding the primary superblock (1 for 1 KiB blocks, else 0).
        s_first_data_block: u32,
        /// Block size is 1024 << s_log_block_size.
        s_log_block_size: u32,
        /// Cluster size is 1024 << s_log_cluster_size (equal to the block size
        /// without bigalloc).
        s_log_cluster_size: u32,
        /// Blocks per group.
        s_blocks_per_group: u32,
        /// Clusters per group (equal to blocks per group without bigalloc).
        s_clusters_per_group: u32,
        /// Inodes per group.
        s_inodes_per_group: u32,
        /// Last mount time.
        s_mtime: u32,
        /// Last write time.
        s_wtime: u32,
        /// Mounts since the last check.
        s_mnt_count: u16,
        /// Signed on disk: -1 disables the mount-count check.
        s_max_mnt_count: u16,
        /// [`EXT2_MAGIC`].
        s_magic: u16,
        /// Clean/error state (STATE_*).
        s_state: u16,
        /// What the kernel does on errors (ERRORS_*).
        s_errors: u16,
        /// Minor revision.
        s_minor_rev_level: u16,
        /// Time of the last check.
        s_lastcheck: u32,
        /// Most seconds between checks (0: none).
        s_checkinterval: u32,
        /// The OS that made the filesystem (OS_*).
        s_creator_os: u32,
        /// Revision (GOOD_OLD_REV or DYNAMIC_REV).
        s_rev_level: u32,
        /// User that may use the reserved blocks.
        s_def_resuid: u16,
        /// Group that may use the reserved blocks.
        s_def_resgid: u16,
        // Revision 1 (EXT2_DYNAMIC_REV) fields.
        /// First non-reserved inode.
        s_first_ino: u32,
        /// Inode size in bytes.
        s_inode_size: u16,
        /// The group this superblock copy is in.
        s_block_group_nr: u16,
        /// Compatible features ([`crate::features::compat`]).
        s_feature_compat: u32,
        /// Incompatible features ([`crate::features::incompat`]).
        s_feature_incompat: u32,
        /// Read-only compatible features ([`crate::features::ro_compat`]).
        s_feature_ro_compat: u32,
        /// Filesystem UUID.
        s_uuid: [u8; 16],
        /// Volume label (NUL padded).
        s_volume_name: [u8; 16],
        /// Directory last mounted on (NUL padded).
        s_last_mounted: [u8; 64],
        /// Compression algorithms (unused).
        s_algorithm_usage_bitmap: u32,
        /// Blocks to preallocate for files.
        s_prealloc_blocks: u8,
        /// Blocks to preallocate for directories.
        s_prealloc_dir_blocks: u8,
        /// Descriptor blocks reserved for growth (resize_inode).
        s_reserved_gdt_blocks: u16,
        /// UUID of the external journal (ext3).
        s_journal_uuid: [u8; 16],
        /// Journal inode (ext3).
        s_journal_inum: u32,
        /// External journal device (ext3).
        s_journal_dev: u32,
        /// Head of the orphan chain (unlinked but open inodes).
        s_last_orphan: u32,
        /// Seed of the directory hashes.
        s_hash_seed: [u32; 4],
        /// Default directory hash (HASH_*).
        s_def_hash_version: u8,
        /// What s_jnl_blocks holds (ext3).
        s_jnl_backup_type: u8,
        /// Group descriptor size (64bit only).
        s_desc_size: u16,
        /// Default mount options ([`crate::mntopts`]).
        s_default_mount_opts: u32,
        /// First meta group (meta_bg).
        s_first_meta_bg: u32,
        /// When the filesystem was made.
        s_mkfs_time: u32,
        /// Backup of the journal inode's i_block and size (ext3).
        s_jnl_blocks: [u32; 17],
        /// Block count, high 32 bits (64bit).
        s_blocks_count_hi: u32,
        /// Reserved block count, high 32 bits (64bit).
        s_r_blocks_count_hi: u32,
        /// Free block count, high 32 bits (64bit).
        s_free_blocks_hi: u32,
        /// Smallest i_extra_isize of all inodes.
        s_min_extra_isize: u16,
        /// i_extra_isize new inodes should have.
        s_want_extra_isize: u16,
        /// Miscellaneous flags (FLAGS_*).
        s_flags: u32,
        /// RAID stride in blocks.
        s_raid_stride: u16,
        /// Seconds between MMP updates.
        s_mmp_update_interval: u16,
        /// The MMP block.
        s_mmp_block: u64,
        /// RAID stripe width in blocks.
        s_raid_stripe_width: u32,
        /// Groups per flex group is 1 << s_log_groups_per_flex.
        s_log_groups_per_flex: u8,
        /// Metadata checksum algorithm (1: crc32c).
        s_checksum_type: u8,
        /// Encryption version.
        s_encryption_level: u8,
        /// Padding.
        s_reserved_pad: u8,
        /// KiB written over the filesystem's life.
        s_kbytes_written: u64,
        /// Active snapshot inode (next3).
        s_snapshot_inum: u32,
        /// Active snapshot id (next3).
        s_snapshot_id: u32,
        /// Blocks reserved for the snapshot (next3).
        s_snapshot_r_blocks_count: u64,
        /// Head of the snapshot list (next3).
        s_snapshot_list: u32,
        /// Errors seen.
        s_error_count: u32,
        /// Time of the first error.
        s_first_error_time: u32,
        /// Inode of the first error.
        s_first_error_ino: u32,
        /// Block of the first error.
        s_first_error_block: u64,
        /// Kernel function of the first error.
        s_first_error_func: [u8; 32],
        /// Source line of the first error.
        s_first_error_line: u32,
        /// Time of the last error.
        s_last_error_time: u32,
        /// Inode of the last error.
        s_last_error_ino: u32,
        /// Source line of the last error.
        s_last_error_line: u32,
        /// Block of the last error.
        s_last_error_block: u64,
        /// Kernel function of the last error.
        s_last_error_func: [u8; 32],
        /// Default mount options as text.
        s_mount_opts: [u8; 64],
        /// User quota inode.
        s_usr_quota_inum: u32,
        /// Group quota inode.
        s_grp_quota_inum: u32,
        /// Clusters of metadata overhead.
        s_overhead_clusters: u32,
        /// Groups with backup superblocks (sparse_super2).
        s_backup_bgs: [u32; 2],
        /// Encryption algorithms in use.
        s_encrypt_algos: [u8; 4],
        /// Salt for encryption keys.
        s_encrypt_pw_salt: [u8; 16],
        /// The lost+found inode.
        s_lpf_ino: u32,
        /// Project quota inode.
        s_prj_quota_inum: u32,
        /// crc32c(uuid) for metadata checksums (metadata_csum_seed).
        s_checksum_seed: u32,
        /// s_wtime, high 8 bits.
        s_wtime_hi: u8,
        /// s_mtime, high 8 bits.
        s_mtime_hi: u8,
        /// s_mkfs_time, high 8 bits.
        s_mkfs_time_hi: u8,
        /// s_lastcheck, high 8 bits.
        s_lastcheck_hi: u8,
        /// s_first_error_time, high 8 bits.
        s_first_error_time_hi: u8,
        /// s_last_error_time, high 8 bits.
        s_last_error_time_hi: u8,
        /// Error code of the first error.
        s_first_error_errcode: u8,
        /// Error code of the last error.
        s_last_error_errcode: u8,
        /// Filename encoding of casefolded directories.
        s_encoding: u16,
        /// Filename encoding flags.
        s_encoding_flags: u16,
        /// The orphan file's inode (orphan_file).
        s_orphan_file_inum: u32,
        /// Padding to the end of the block.
        s_reserved: [u32; 94],
        /// crc32c of the superblock (metadata_csum).
        s_checksum: u32,
    }
}

impl Superblock {
    /// Parses and sanity-checks a superblock, with the checks every tool
    /// needs before it can compute the geometry without overflow.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let sb = crate::codec::parse_exact(bytes, "superblock", Superblock::parse)?;
        if sb.s_magic != EXT2_MAGIC {
            return Err(Error::BadMagic(sb.s_magic));
        }
        Ok(sb)
    }

    /// Reads the primary superblock of the filesystem starting `offset`
    /// bytes into `file` without opening the filesystem (a type probe, as
    /// mount's). A read that fails (a file too short) is an `Io` error
    /// naming `path`; bytes that are no ext2 superblock are `BadMagic`.
    pub fn probe(file: &std::fs::File, path: &std::path::Path, offset: u64) -> Result<Self> {
        Self::from_bytes(&Self::read_raw(file, path, offset)?)
    }

    /// The primary superblock's bytes of the filesystem starting `offset`
    /// bytes into `file` (the reads behind `probe` and `probe_checksum`).
    fn read_raw(file: &std::fs::File, path: &std::path::Path, offset: u64) -> Result<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        let io = |source| Error::Io {
            path: path.into(),
            source,
        };
        let mut bytes = vec![0u8; SUPERBLOCK_SIZE];
        let at = offset
            .checked_add(SUPERBLOCK_OFFSET)
            .ok_or_else(|| io(std::io::ErrorKind::UnexpectedEof.into()))?;
        file.read_exact_at(&mut bytes, at).map_err(io)?;
        Ok(bytes)
    }

    /// What ext2fs_open2 finds of the metadata_csum checksum of the
    /// superblock at `offset` (ext2fs_verify_csum_type, then
    /// ext2fs_superblock_csum_verify, whose verdict wins).
    pub fn probe_checksum(
        file: &std::fs::File,
        path: &std::path::Path,
        offset: u64,
    ) -> Result<ChecksumState> {
        let bytes = Self::read_raw(file, path, offset)?;
        let sb = Self::from_bytes(&bytes)?;
        if !sb.has_ro_compat(crate::features::ro_compat::METADATA_CSUM) {
            return Ok(ChecksumState::NotUsed);
        }
        // s_checksum is the superblock's last field, over the bytes before it.
        Ok(
            if crate::crc32c::crc32c_le(!0, &bytes[..1020]) != sb.s_checksum {
                ChecksumState::Mismatch
            } else if sb.s_checksum_type != 1 {
                ChecksumState::UnknownType
            } else {
                ChecksumState::Valid
            },
        )
    }

    /// Checks the fields the geometry is computed from. Tools that repair
    /// (e2fsck) run their own finer checks; this one only guarantees that
    /// every derived quantity is in range, and refuses (as ext2fs_open2
    /// does) an inode count the groups do not give and an s_first_meta_bg
    /// past the descriptor table.
    pub fn validate(&self) -> Result<()> {
        self.validate_geometry()?;
        self.validate_group_inodes()?;
        let bad = |kind| Err(Error::corrupt(Structure::Superblock, 0, kind));
        let groups = self.group_count() as u64;
        if groups * self.s_inodes_per_group as u64 != self.s_inodes_count as u64 {
            return bad(CorruptKind::InodeCount {
                count: self.s_inodes_count,
                groups,
                per_group: self.s_inodes_per_group,
            });
        }
        let desc_blocks = groups.div_ceil(self.block_size() as u64 / 32);
        if self.has_incompat(crate::features::incompat::META_BG)
            && self.s_first_meta_bg as u64 > desc_blocks
        {
            return bad(CorruptKind::FirstMetaBg {
                first_meta_bg: self.s_first_meta_bg,
                desc_blocks,
            });
        }
        Ok(())
    }

    /// libext2fs' EXT2_ET_BAD_DESC_SIZE at open: a 64bit superblock whose
    /// s_desc_size is not a power of two from 64 to 1024, its block,
    /// cluster and inode sizes being ones ext2fs_open2 accepts (it judges
    /// those first, and the descriptor size before anything else).
    pub fn desc_size_refused(&self) -> bool {
        let isz = self.inode_size() as u64;
        let sizes_accepted = self.s_log_block_size <= 6
            && self.s_log_cluster_size == self.s_log_block_size
            && self.s_log_groups_per_flex <= 31
            && isz >= 128
            && isz.is_power_of_two()
            && isz <= self.block_size() as u64;
        let ds = self.s_desc_size;
        sizes_accepted
            && self.has_incompat(crate::features::incompat::BIT64)
            && !(ds.is_power_of_two() && (64..=1024).contains(&ds))
    }

    /// Ours, beside libext2fs' limit: a group's inodes fit the one block
    /// of its inode bitmap (libext2fs reads past its buffer otherwise).
    pub fn validate_group_inodes(&self) -> Result<()> {
        if self.s_inodes_per_group as u64 > 8 * self.block_size() as u64 {
            return Err(Error::corrupt(
                Structure::Superblock,
                0,
                CorruptKind::InodesPerGroup(self.s_inodes_per_group),
            ));
        }
        Ok(())
    }

    /// `validate` without its consistency checks (the inode count and
    /// s_first_meta_bg, which a checker repairs: libext2fs's
    /// EXT2_FLAG_IGNORE_SB_ERRORS) and without our bound on the inodes of
    /// a group (`validate_group_inodes`). The geometry is still safe to
    /// derive.
    pub fn validate_geometry(&self) -> Result<()> {
        let bad = |kind| Err(Error::corrupt(Structure::Superblock, 0, kind));
        if self.s_log_block_size > 6 {
            return bad(CorruptKind::BlockSizeTooLarge(self.s_log_block_size));
        }
        // libext2fs refuses these too (ext2fs_open2's corrupt checks).
        if self.s_log_groups_per_flex > 31 {
            return bad(CorruptKind::LogGroupsPerFlex(self.s_log_groups_per_flex));
        }
        if self.s_log_cluster_size != self.s_log_block_size {
            return bad(CorruptKind::ClusterSize(self.s_log_cluster_size));
        }
        if self.s_clusters_per_group != self.s_blocks_per_group {
            return bad(CorruptKind::ClustersPerGroup {
                clusters: self.s_clusters_per_group,
                blocks: self.s_blocks_per_group,
            });
        }
        let bs = self.block_size() as u64;
        if self.s_blocks_per_group < 8 || self.s_blocks_per_group as u64 > 8 * bs {
            return bad(CorruptKind::BlocksPerGroup(self.s_blocks_per_group));
        }
        if self.s_blocks_count == 0 || self.s_first_data_block >= self.s_blocks_count {
            return bad(CorruptKind::FirstDataBlock {
                first: self.s_first_data_block,
                blocks: self.s_blocks_count,
            });
        }
        let isz = self.inode_size();
        if isz < 128 || !isz.is_power_of_two() || isz as u64 > bs {
            return bad(CorruptKind::InodeSize(isz as u32));
        }
        // ext2fs_open2's rule, in its 32-bit arithmetic: the inode table
        // blocks of a group (wrapping as libext2fs' unsigned int does) at
        // most EXT2_MAX_INODES_PER_GROUP.
        let (bs32, isz32) = (bs as u32, isz as u32);
        let table_blocks = self
            .s_inodes_per_group
            .wrapping_mul(isz32)
            .wrapping_add(bs32 - 1)
            / bs32;
        if self.s_inodes_per_group == 0 || table_blocks > 65536 - bs32 / isz32 {
            return bad(CorruptKind::InodesPerGroup(self.s_inodes_per_group));
        }
        if self.s_rev_level > DYNAMIC_REV {
            return bad(CorruptKind::Revision(self.s_rev_level));
        }
        Ok(())
    }

    /// Block size in bytes (1024 << s_log_block_size, capped at 64 KiB).
    pub fn block_size(&self) -> u32 {
        1024u32 << self.s_log_block_size.min(6)
    }

    /// Inode size in bytes (128 in revision 0).
    pub fn inode_size(&self) -> u16 {
        if self.s_rev_level == GOOD_OLD_REV {
            GOOD_OLD_INODE_SIZE
        } else {
            self.s_inode_size
        }
    }

    /// Makes a revision 0 superblock dynamic (revision 1) with revision 0's
    /// first inode and inode size, leaving every other field alone, as
    /// ext2fs_update_dynamic_rev; a dynamic superblock is left as it is.
    pub fn update_dynamic_rev(&mut self) {
        if self.s_rev_level > GOOD_OLD_REV {
            return;
        }
        self.s_rev_level = DYNAMIC_REV;
        self.s_first_ino = GOOD_OLD_FIRST_INO;
        self.s_inode_size = GOOD_OLD_INODE_SIZE;
    }

    /// First non-reserved inode (11 in revision 0).
    pub fn first_ino(&self) -> u32 {
        if self.s_rev_level == GOOD_OLD_REV {
            GOOD_OLD_FIRST_INO
        } else {
            self.s_first_ino
        }
    }

    /// Number of block groups (the last one may be short).
    pub fn group_count(&self) -> u32 {
        let data = self.s_blocks_count.saturating_sub(self.s_first_data_block) as u64;
        data.div_ceil(self.s_blocks_per_group.max(1) as u64) as u32
    }

    /// The three feature words.
    pub fn features(&self) -> FeatureSet {
        FeatureSet {
            compat: self.s_feature_compat,
            incompat: self.s_feature_incompat,
            ro_compat: self.s_feature_ro_compat,
        }
    }

    /// The copy ext2fs_flush writes into backup group `group`: its group
    /// number (capped at 65535) and the valid bit cleared, so a backup
    /// that e2fsck falls back on is never taken for a clean filesystem.
    pub fn backup_copy(&self, group: u32) -> Superblock {
        let mut copy = *self;
        copy.s_block_group_nr = group.min(u16::MAX as u32) as u16;
        if group != 0 {
            copy.s_state &= !STATE_VALID;
        }
        copy
    }

    /// Sets the three feature words.
    pub fn set_features(&mut self, f: FeatureSet) {
        self.s_feature_compat = f.compat;
        self.s_feature_incompat = f.incompat;
        self.s_feature_ro_compat = f.ro_compat;
    }

    /// Whether any bit of `mask` is set in s_feature_incompat.
    pub fn has_incompat(&self, mask: u32) -> bool {
        self.s_feature_incompat & mask != 0
    }
    /// Whether any bit of `mask` is set in s_feature_compat.
    pub fn has_compat(&self, mask: u32) -> bool {
        self.s_feature_compat & mask != 0
    }
    /// Whether any bit of `mask` is set in s_feature_ro_compat.
    pub fn has_ro_compat(&self, mask: u32) -> bool {
        self.s_feature_ro_compat & mask != 0
    }

    /// Whether the union `whiteout` incompat feature is set.
    pub fn has_whiteout(&self) -> bool {
        self.has_incompat(incompat::WHITEOUT)
    }

    /// Whether directory entries carry file types (filetype).
    pub fn has_filetype(&self) -> bool {
        self.has_incompat(incompat::FILETYPE)
    }

    /// The volume label, up to the first NUL.
    pub fn label(&self) -> String {
        c_string(&self.s_volume_name)
    }

    /// The last mount point, up to the first NUL.
    pub fn last_mounted(&self) -> String {
        c_string(&self.s_last_mounted)
    }

    /// Whether `group` holds a superblock backup (sparse_super and
    /// sparse_super2 rules).
    pub fn group_has_super(&self, group: u32) -> bool {
        crate::layout::has_super_with(self.features(), self.s_backup_bgs, group)
    }
}

/// e2fsprogs' name of a directory hash version (lib/e2p/hashstr.c).
pub fn hash_version_name(v: u8) -> String {
    // e2p knows only the three signed names; the unsigned variants and
    // any other value print as a number (e2p_hash2string).
    match v {
        HASH_LEGACY => "legacy".into(),
        HASH_HALF_MD4 => "half_md4".into(),
        HASH_TEA => "tea".into(),
        n => format!("HASHALG_{n}"),
    }
}

/// Parses a hash version name as `-E hash_alg=`/debugfs accept it
/// (e2p_string2hash): a name in any case, or `HASHALG_<n>` for any
/// number 0-255, the form `hash_version_name` prints unknown ones in.
pub fn hash_version_from_name(name: &str) -> Option<u8> {
    if let Some(v) = (0u8..=2).find(|&v| hash_version_name(v).eq_ignore_ascii_case(name)) {
        return Some(v);
    }
    let prefix = name.get(..8)?;
    let digits = name.get(8..)?;
    if !prefix.eq_ignore_ascii_case("HASHALG_") || digits.is_empty() {
        return None;
    }
    // strtol's decimal digits, optionally signed; the value must fit a byte.
    let unsigned = digits.strip_prefix(['+', '-']).unwrap_or(digits);
    if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits
        .parse::<i64>()
        .ok()
        .and_then(|n| u8::try_from(n).ok())
}

/// A superblock's own checksum, as libext2fs judges it when it opens one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChecksumState {
    /// No metadata_csum feature: nothing to check.
    NotUsed,
    /// It matches, crc32c.
    Valid,
    /// It matches, but the checksum type is not crc32c
    /// (EXT2_ET_UNKNOWN_CSUM).
    UnknownType,
    /// It does not match (EXT2_ET_SB_CSUM_INVALID).
    Mismatch,
}

/// `s_encoding`'s value for a name (e2p_str2encoding): UTF-8 12.1 is the
/// only encoding there is.
pub fn encoding_from_name(name: &str) -> Option<u16> {
    match name {
        "utf8-12.1" | "utf8" => Some(ENCODING_UTF8_12_1),
        _ => None,
    }
}

/// e2fsprogs' name of a creator OS (lib/e2p/ostype.c).
pub fn os_name(os: u32) -> String {
    match os {
        OS_LINUX => "Linux".into(),
        OS_HURD => "Hurd".into(),
        OS_MASIX => "Masix".into(),
        OS_FREEBSD => "FreeBSD".into(),
        OS_LITES => "Lites".into(),
        _ => "(unknown os)".into(),
    }
}

/// The creator OS for a name given to `mke2fs -o`.
pub fn os_from_name(name: &str) -> Option<u32> {
    (0..=4).find(|&v| os_name(v).eq_ignore_ascii_case(name))
}

/// `dumpe2fs`' "Errors behavior" text.
pub fn errors_behavior_name(v: u16) -> String {
    match v {
        ERRORS_CONTINUE => "Continue".into(),
        ERRORS_RO => "Remount read-only".into(),
        ERRORS_PANIC => "Panic".into(),
        _ => "Unknown (continue)".into(),
    }
}

/// `dumpe2fs`' "Filesystem state" text (lib/e2p/ps.c).
pub fn state_name(state: u16) -> String {
    let mut s = if state & STATE_VALID != 0 {
        " clean".to_string()
    } else {
        " not clean".to_string()
    };
    if state & STATE_ERROR != 0 {
        s.push_str(" with errors");
    }
    s.trim_start().to_string()
}

/// The UUID and hash-seed forms dumpe2fs prints (see `crate::uuid`).
pub use crate::uuid::{format as uuid_string, format_seed as hash_seed_string};

/// A NUL-padded on-disk string as text (lossy for non-UTF-8 bytes).
pub fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Copies `s` into a NUL-padded fixed field, truncating like e2fsprogs.
pub fn set_c_string(field: &mut [u8], s: &str) {
    field.fill(0);
    let n = s.len().min(field.len());
    field[..n].copy_from_slice(&s.as_bytes()[..n]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn probe_reads_at_the_offset() {
        use std::io::Write;
        let sb = Superblock {
            s_magic: EXT2_MAGIC,
            s_inodes_count: 77,
            ..Default::default()
        };
        let mut bytes = vec![0u8; 4096 + 2048];
        let mut raw = Vec::new();
        sb.write(&mut raw);
        bytes[4096 + 1024..].copy_from_slice(&raw);
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&bytes).unwrap();
        let path = f.path().to_path_buf();
        let file = f.as_file();
        assert_eq!(
            Superblock::probe(file, &path, 4096).unwrap().s_inodes_count,
            77
        );
        assert!(matches!(
            Superblock::probe(file, &path, 0),
            Err(Error::BadMagic(0))
        ));
        assert!(matches!(
            Superblock::probe(file, &path, 8192),
            Err(Error::Io { .. })
        ));
        assert!(matches!(
            Superblock::probe(file, &path, u64::MAX),
            Err(Error::Io { .. })
        ));
    }

    #[test]
    fn size_is_1024() {
        assert_eq!(Superblock::SIZE, SUPERBLOCK_SIZE);
    }

    #[test]
    fn field_offsets_match_ext2_fs_h() {
        let mut sb = Superblock {
            s_magic: EXT2_MAGIC,
            s_reserved_gdt_blocks: 0x1234,
            s_checksum: 0xdeadbeef,
            ..Default::default()
        };
        sb.s_hash_seed[0] = 0x01020304;
        let b = sb.to_bytes();
        assert_eq!(&b[0x38..0x3a], &[0x53, 0xef]);
        assert_eq!(&b[0xce..0xd0], &[0x34, 0x12]);
        assert_eq!(&b[0xec..0xf0], &[4, 3, 2, 1]);
        assert_eq!(&b[0x3fc..0x400], &[0xef, 0xbe, 0xad, 0xde]);
    }

    #[test]
    fn bad_magic_and_truncation_are_errors() {
        assert!(matches!(
            Superblock::from_bytes(&[0u8; 1024]),
            Err(Error::BadMagic(0))
        ));
        assert!(matches!(
            Superblock::from_bytes(&[0u8; 100]),
            Err(Error::Truncated { .. })
        ));
    }

    proptest! {
        #[test]
        fn round_trip(bytes in proptest::collection::vec(any::<u8>(), SUPERBLOCK_SIZE)) {
            let (_, sb) = Superblock::parse(&bytes).unwrap();
            prop_assert_eq!(sb.to_bytes(), bytes);
        }

        #[test]
        fn random_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1100)) {
            if let Ok(sb) = Superblock::from_bytes(&bytes) {
                let _ = sb.validate();
                let _ = sb.group_count();
            }
        }
    }
}
