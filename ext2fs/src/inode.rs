//! Inodes: the 128-byte base, the large-inode extra fields (i_extra_isize
//! and what follows) and the in-inode extended attribute area after them.

use crate::{ondisk, Error, Result};

/// The root directory's inode.
pub const ROOT_INO: u32 = 2;
/// The bad blocks inode (owns the blocks listed as bad).
pub const BAD_INO: u32 = 1;
/// The old user quota inode (ext3).
pub const USR_QUOTA_INO: u32 = 3;
/// The old group quota inode (ext3).
pub const GRP_QUOTA_INO: u32 = 4;
/// The boot loader inode.
pub const BOOT_LOADER_INO: u32 = 5;
/// The undelete directory inode (reserved, unused).
pub const UNDEL_DIR_INO: u32 = 6;
/// The resize inode: owns the reserved GDT blocks (resize_inode feature).
pub const RESIZE_INO: u32 = 7;
/// The journal inode (ext3; absent in ext2).
pub const JOURNAL_INO: u32 = 8;
/// The snapshot exclude inode (reserved).
pub const EXCLUDE_INO: u32 = 9;
/// The replica inode (reserved).
pub const REPLICA_INO: u32 = 10;

/// i_block layout: 12 direct, then single, double, triple indirect.
pub const NDIR_BLOCKS: usize = 12;
/// i_block index of the single-indirect block.
pub const IND_BLOCK: usize = 12;
/// i_block index of the double-indirect block.
pub const DIND_BLOCK: usize = 13;
/// i_block index of the triple-indirect block.
pub const TIND_BLOCK: usize = 14;
/// Number of i_block words.
pub const N_BLOCKS: usize = 15;

/// i_mode file type bits.
pub const S_IFMT: u16 = 0o170000;

/// The most links an ext2 inode may have (EXT2_LINK_MAX, as the kernel).
pub const LINK_MAX: u16 = 65000;

/// Whether a device number fits ext2's encodings: the new one (in
/// i_block[1]) holds 12 bits of major and 20 of minor, as Linux's dev_t.
pub fn device_fits(major: u32, minor: u32) -> bool {
    major < 1 << 12 && minor < 1 << 20
}
/// i_mode type: socket.
pub const S_IFSOCK: u16 = 0o140000;
/// i_mode type: symbolic link.
pub const S_IFLNK: u16 = 0o120000;
/// i_mode type: regular file.
pub const S_IFREG: u16 = 0o100000;
/// i_mode type: block device.
pub const S_IFBLK: u16 = 0o060000;
/// i_mode type: directory.
pub const S_IFDIR: u16 = 0o040000;
/// i_mode type: character device.
pub const S_IFCHR: u16 = 0o020000;
/// i_mode type: FIFO.
pub const S_IFIFO: u16 = 0o010000;

/// i_flags bits.
pub mod flags {
    /// Secure deletion (not implemented by Linux).
    pub const SECRM: u32 = 0x0000_0001;
    /// Undelete (not implemented by Linux).
    pub const UNRM: u32 = 0x0000_0002;
    /// Compressed file (old compression patches).
    pub const COMPR: u32 = 0x0000_0004;
    /// Synchronous updates.
    pub const SYNC: u32 = 0x0000_0008;
    /// Immutable file.
    pub const IMMUTABLE: u32 = 0x0000_0010;
    /// Writes only append.
    pub const APPEND: u32 = 0x0000_0020;
    /// dump(8) skips the file.
    pub const NODUMP: u32 = 0x0000_0040;
    /// Access time is not updated.
    pub const NOATIME: u32 = 0x0000_0080;
    /// Compression: dirty (old compression patches).
    pub const DIRTY: u32 = 0x0000_0100;
    /// Compression: compressed clusters (old compression patches).
    pub const COMPRBLK: u32 = 0x0000_0200;
    /// Compression: do not compress (old compression patches).
    pub const NOCOMPR: u32 = 0x0000_0400;
    /// Encrypted inode (ext4).
    pub const ENCRYPT: u32 = 0x0000_0800;
    /// Old name of [`INDEX`].
    pub const BTREE: u32 = 0x0000_1000;
    /// Hash-indexed directory (same bit as BTREE).
    pub const INDEX: u32 = 0x0000_1000;
    /// AFS directory.
    pub const IMAGIC: u32 = 0x0000_2000;
    /// File data is journalled (ext3).
    pub const JOURNAL_DATA: u32 = 0x0000_4000;
    /// No tail merging.
    pub const NOTAIL: u32 = 0x0000_8000;
    /// Directory updates are synchronous.
    pub const DIRSYNC: u32 = 0x0001_0000;
    /// Top of a directory hierarchy (Orlov allocator).
    pub const TOPDIR: u32 = 0x0002_0000;
    /// i_blocks counts filesystem blocks (ext4 huge_file).
    pub const HUGE_FILE: u32 = 0x0004_0000;
    /// i_block holds an extent tree (ext4; not ext2).
    pub const EXTENTS: u32 = 0x0008_0000;
    /// fs-verity file (ext4).
    pub const VERITY: u32 = 0x0010_0000;
    /// Inode holds a large xattr value (ext4 ea_inode).
    pub const EA_INODE: u32 = 0x0020_0000;
    /// Union mounts: opaque directory (union-ext2.md **Decision**: Val's value).
    pub const OPAQUE: u32 = 0x0080_0000;
    /// Snapshot file (next3 snapshots).
    pub const SNAPFILE: u32 = 0x0100_0000;
    /// Deleted snapshot (next3 snapshots).
    pub const SNAPFILE_DELETED: u32 = 0x0400_0000;
    /// Shrunk snapshot (next3 snapshots).
    pub const SNAPFILE_SHRUNK: u32 = 0x0800_0000;
    /// Data kept in the inode (ext4 inline_data).
    pub const INLINE_DATA: u32 = 0x1000_0000;
    /// Children inherit the project id.
    pub const PROJINHERIT: u32 = 0x2000_0000;
    /// Case-insensitive directory (ext4 casefold).
    pub const CASEFOLD: u32 = 0x4000_0000;
}

ondisk! {
    /// The first 128 bytes of `struct ext2_inode_large` (Linux osd2 layout).
    pub struct InodeBase {
        /// File type (S_IF*) and permission bits.
        i_mode: u16,
        /// Owner uid, low 16 bits.
        i_uid: u16,
        /// Size in bytes, low 32 bits.
        i_size: u32,
        /// Last access time (seconds since 1970).
        i_atime: u32,
        /// Last inode change time.
        i_ctime: u32,
        /// Last data modification time.
        i_mtime: u32,
        /// Deletion time; on the orphan chain, the next orphan's inode.
        i_dtime: u32,
        /// Group id, low 16 bits.
        i_gid: u16,
        /// Hard link count.
        i_links_count: u16,
        /// 512-byte sectors, including indirect and xattr blocks.
        i_blocks: u32,
        /// Inode flags ([`flags`]).
        i_flags: u32,
        /// osd1: l_i_version on Linux, h_i_translator on Hurd.
        i_version: u32,
        /// Block map: 12 direct, then single, double and triple indirect
        /// blocks; device numbers or a fast symlink's target instead.
        i_block: [u32; 15],
        /// File version for NFS.
        i_generation: u32,
        /// The extended attribute block (0: none).
        i_file_acl: u32,
        /// i_dir_acl in revision 0; high 32 bits of the size in revision 1.
        i_size_high: u32,
        /// Fragment address (obsolete, zero).
        i_faddr: u32,
        // osd2 (Linux): l_i_blocks_hi, l_i_file_acl_high, uid/gid high,
        // checksum low, reserved. Hurd reuses the first bytes (h_i_frag,
        // h_i_fsize, h_i_mode_high).
        /// i_blocks, high 16 bits (huge_file; zero in ext2).
        l_i_blocks_hi: u16,
        /// i_file_acl, high 16 bits (64bit; zero in ext2).
        l_i_file_acl_high: u16,
        /// Owner uid, high 16 bits.
        l_i_uid_high: u16,
        /// Group id, high 16 bits.
        l_i_gid_high: u16,
        /// Inode checksum, low 16 bits (metadata_csum; zero in ext2).
        l_i_checksum_lo: u16,
        /// Reserved.
        l_i_reserved: u16,
    }
}

ondisk! {
    /// The fixed fields after byte 128 in inodes larger than 128 bytes.
    /// Only the first `i_extra_isize` bytes are meaningful.
    pub struct InodeExtra {
        /// How many bytes of these extra fields are in use (from byte 128).
        i_extra_isize: u16,
        /// Inode checksum, high 16 bits (metadata_csum).
        i_checksum_hi: u16,
        /// i_ctime's nanoseconds (high 30 bits) and epoch bits (low 2).
        i_ctime_extra: u32,
        /// i_mtime's nanoseconds and epoch bits.
        i_mtime_extra: u32,
        /// i_atime's nanoseconds and epoch bits.
        i_atime_extra: u32,
        /// Creation time (seconds).
        i_crtime: u32,
        /// i_crtime's nanoseconds and epoch bits.
        i_crtime_extra: u32,
        /// i_version, high 32 bits.
        i_version_hi: u32,
        /// Project id (project quota).
        i_projid: u32,
    }
}

/// Magic at the start of the in-inode xattr area (after i_extra_isize).
pub const XATTR_IBODY_MAGIC: u32 = 0xEA02_0000;

/// One inode as stored in the inode table, with all its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inode {
    /// The first 128 bytes.
    pub base: InodeBase,
    /// The extra fields, when the inode is larger than 128 bytes (zero when
    /// the on-disk inode is 128 bytes).
    pub extra: InodeExtra,
    /// Bytes after the 32 extra-field bytes up to the inode size (in-inode
    /// xattrs live from 128 + i_extra_isize; see `in_inode_xattr_area`).
    pub tail: Vec<u8>,
    /// The on-disk size of this inode record.
    pub size: u16,
}

impl Inode {
    /// A zeroed inode record of `size` bytes.
    pub fn new(size: u16) -> Self {
        Inode {
            base: InodeBase::default(),
            extra: InodeExtra::default(),
            tail: vec![0; (size as usize).saturating_sub(128 + InodeExtra::SIZE)],
            size,
        }
    }

    /// Parses an inode record of exactly `bytes.len()` bytes (128 or more).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let (rest, base) = crate::codec::parse_exact(bytes, "inode", InodeBase::parse)
            .map(|b| (&bytes[InodeBase::SIZE..], b))?;
        let size = u16::try_from(bytes.len()).map_err(|_| Error::Truncated {
            what: "inode",
            have: bytes.len(),
        })?;
        let mut extra = InodeExtra::default();
        let mut tail = Vec::new();
        if rest.len() >= InodeExtra::SIZE {
            extra = crate::codec::parse_exact(rest, "inode extra fields", InodeExtra::parse)?;
            tail = rest[InodeExtra::SIZE..].to_vec();
        } else if !rest.is_empty() {
            // Odd sizes cannot come from a validated superblock; keep bytes.
            let mut padded = rest.to_vec();
            padded.resize(InodeExtra::SIZE, 0);
            extra = crate::codec::parse_exact(&padded, "inode extra fields", InodeExtra::parse)?;
        }
        Ok(Inode {
            base,
            extra,
            tail,
            size,
        })
    }

    /// Writes the record back, exactly `self.size` bytes.
    pub fn write(&self, out: &mut Vec<u8>) {
        let start = out.len();
        self.base.write(out);
        if self.size as usize > InodeBase::SIZE {
            self.extra.write(out);
            out.extend_from_slice(&self.tail);
        }
        out.resize(start + self.size as usize, 0);
    }

    /// The inode's on-disk bytes (its full inode size).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.size as usize);
        self.write(&mut v);
        v
    }

    /// i_mode: type and permission bits.
    pub fn mode(&self) -> u16 {
        self.base.i_mode
    }
    /// The file type bits of i_mode (an S_IF* value).
    pub fn file_type(&self) -> u16 {
        self.base.i_mode & S_IFMT
    }
    /// Whether the inode is a directory.
    pub fn is_dir(&self) -> bool {
        self.file_type() == S_IFDIR
    }
    /// Whether the inode is a regular file.
    pub fn is_reg(&self) -> bool {
        self.file_type() == S_IFREG
    }
    /// Whether the inode is a symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.file_type() == S_IFLNK
    }
    /// Whether the inode is a character or block device.
    pub fn is_device(&self) -> bool {
        matches!(self.file_type(), S_IFCHR | S_IFBLK)
    }
    /// Whether the inode is a FIFO or a socket.
    pub fn is_fifo_or_socket(&self) -> bool {
        matches!(self.file_type(), S_IFIFO | S_IFSOCK)
    }

    /// The full 64-bit size (i_size_high is the size's top half for
    /// regular files; ext2 directories keep it zero).
    pub fn size(&self) -> u64 {
        self.base.i_size as u64 | (self.base.i_size_high as u64) << 32
    }

    /// Sets the 64-bit size (i_size and i_size_high).
    pub fn set_size(&mut self, size: u64) {
        self.base.i_size = size as u32;
        self.base.i_size_high = (size >> 32) as u32;
    }

    /// The 32-bit owner uid (low and high halves joined).
    pub fn uid(&self) -> u32 {
        self.base.i_uid as u32 | (self.base.l_i_uid_high as u32) << 16
    }
    /// The 32-bit group id (low and high halves joined).
    pub fn gid(&self) -> u32 {
        self.base.i_gid as u32 | (self.base.l_i_gid_high as u32) << 16
    }
    /// Sets the 32-bit owner uid (both halves).
    pub fn set_uid(&mut self, uid: u32) {
        self.base.i_uid = uid as u16;
        self.base.l_i_uid_high = (uid >> 16) as u16;
    }
    /// Sets the 32-bit group id (both halves).
    pub fn set_gid(&mut self, gid: u32) {
        self.base.i_gid = gid as u16;
        self.base.l_i_gid_high = (gid >> 16) as u16;
    }

    /// i_flags.
    pub fn flags(&self) -> u32 {
        self.base.i_flags
    }

    /// Whether the directory is opaque (union mounts: [`flags::OPAQUE`]).
    pub fn is_opaque(&self) -> bool {
        self.base.i_flags & flags::OPAQUE != 0
    }

    /// Whether the inode is in use by a directory entry (links > 0, no dtime).
    pub fn in_use(&self) -> bool {
        self.base.i_links_count > 0
    }

    /// i_extra_isize when the record has room for it, else 0.
    pub fn extra_isize(&self) -> u16 {
        if self.size as usize > InodeBase::SIZE {
            self.extra.i_extra_isize
        } else {
            0
        }
    }

    /// The bytes after 128 + i_extra_isize: the in-inode xattr area
    /// (starting with the 0xEA020000 magic when it holds attributes).
    /// None when i_extra_isize does not fit.
    pub fn in_inode_xattr_area(&self) -> Option<Vec<u8>> {
        let bytes = self.to_bytes();
        let start = InodeBase::SIZE + self.extra_isize() as usize;
        if self.size as usize <= InodeBase::SIZE
            || start > bytes.len()
            || !self.extra_isize().is_multiple_of(4)
        {
            return None;
        }
        Some(bytes[start..].to_vec())
    }

    /// Whether the in-inode xattr magic sits at 128 + i_extra_isize, tested
    /// as e2fsck's pass 4 tests it (no alignment rule; false when the
    /// record has no room for it).
    pub fn has_in_inode_xattr_magic(&self) -> bool {
        let bytes = self.to_bytes();
        let at = InodeBase::SIZE + self.extra_isize() as usize;
        bytes
            .get(at..at + 4)
            .is_some_and(|m| crate::xattr::ibody_magic(m) == XATTR_IBODY_MAGIC)
    }

    /// Zeroes the magic that opens the in-inode xattr area, leaving the
    /// entries' bytes behind it: the area then holds no attributes (how
    /// e2fsck drops a damaged area). Does nothing without room for it.
    pub fn clear_in_inode_xattr_magic(&mut self) -> Result<()> {
        let mut bytes = self.to_bytes();
        let at = InodeBase::SIZE + self.extra_isize() as usize;
        if let Some(magic) = bytes.get_mut(at..at + 4) {
            magic.fill(0);
            *self = Inode::parse(&bytes)?;
        }
        Ok(())
    }

    /// Replaces the in-inode xattr area (bytes after 128 + i_extra_isize).
    pub fn set_in_inode_xattr_area(&mut self, area: &[u8]) -> Result<()> {
        let mut bytes = self.to_bytes();
        let start = InodeBase::SIZE + self.extra_isize() as usize;
        if start + area.len() > bytes.len() {
            return Err(Error::InodeXattrAreaTooLarge);
        }
        bytes[start..start + area.len()].copy_from_slice(area);
        bytes[start + area.len()..].fill(0);
        *self = Inode::parse(&bytes)?;
        Ok(())
    }

    /// Device number as stored by Linux: old format in i_block[0], new
    /// (huge) format in i_block[1] when i_block[0] is zero.
    pub fn device(&self) -> (u32, u32) {
        let b = &self.base.i_block;
        if b[0] != 0 {
            ((b[0] >> 8) & 0xff, b[0] & 0xff)
        } else {
            let d = b[1];
            ((d & 0xfff00) >> 8, (d & 0xff) | ((d >> 12) & 0xfff00))
        }
    }

    /// Stores a device number like the kernel's ext2_set_inode: the old
    /// 16-bit encoding when it fits, else the new one in i_block[1].
    /// Callers check [`device_fits`] first: larger numbers lose bits.
    pub fn set_device(&mut self, major: u32, minor: u32) {
        let b = &mut self.base.i_block;
        *b = [0; 15];
        if major < 256 && minor < 256 {
            b[0] = (major << 8) | minor;
        } else {
            b[1] = (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12);
        }
    }

    /// A fast symlink keeps its target in i_block. e2fsprogs 1.47 decides
    /// by size alone (non-zero and under 60 bytes), as the kernel writes them.
    pub fn is_fast_symlink(&self) -> bool {
        self.is_symlink() && self.size() > 0 && self.size() < 60
    }

    /// Whether i_block starts with an ext4 extent header that libext2fs'
    /// ext2fs_extent_header_verify accepts: the magic, no more entries than
    /// room, and a room of four 12-byte entries or up to two fewer (space
    /// kept for a tail). ext2 never maps blocks this way; checkers use it
    /// to recognise an inode written by ext4.
    pub fn holds_extent_header(&self) -> bool {
        const MAGIC: u16 = 0xF30A;
        const HEADER: usize = 12;
        const ENTRY: usize = 12;
        let w = &self.base.i_block;
        let (magic, entries) = ((w[0] & 0xffff) as u16, (w[0] >> 16) as u16);
        let max = (w[1] & 0xffff) as usize;
        let room = (60 - HEADER) / ENTRY;
        magic == MAGIC && entries as usize <= max && max <= room && max + 2 >= room
    }

    /// An ea_inode's record of its value's hash (kept in i_atime).
    pub fn ea_inode_hash(&self) -> u32 {
        self.base.i_atime
    }

    /// An ea_inode's count of the attributes that share its value: i_ctime
    /// holds the high 32 bits and l_i_version the low ones.
    pub fn ea_inode_refs(&self) -> u64 {
        (self.base.i_ctime as u64) << 32 | self.base.i_version as u64
    }

    /// Sets the count [`Inode::ea_inode_refs`] reads.
    pub fn set_ea_inode_refs(&mut self, refs: u64) {
        self.base.i_ctime = (refs >> 32) as u32;
        self.base.i_version = refs as u32;
    }

    /// i_block's 60 bytes as stored (a fast symlink's target area).
    pub fn i_block_bytes(&self) -> Vec<u8> {
        let mut raw = Vec::with_capacity(60);
        for w in self.base.i_block {
            raw.extend_from_slice(&w.to_le_bytes());
        }
        raw
    }

    /// The target of a fast symlink, read from i_block.
    pub fn fast_symlink_target(&self) -> Vec<u8> {
        let mut raw = self.i_block_bytes();
        raw.truncate((self.size() as usize).min(60));
        raw
    }

    /// Stores a fast symlink target (< 60 bytes) in i_block.
    pub fn set_fast_symlink_target(&mut self, target: &[u8]) {
        let mut raw = [0u8; 60];
        raw[..target.len().min(60)].copy_from_slice(&target[..target.len().min(60)]);
        for (i, w) in self.base.i_block.iter_mut().enumerate() {
            *w = u32::from_le_bytes([raw[4 * i], raw[4 * i + 1], raw[4 * i + 2], raw[4 * i + 3]]);
        }
        self.set_size(target.len() as u64);
    }
}

/// One of an inode's timestamps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stamp {
    /// Last access (i_atime).
    Atime,
    /// Last data change (i_mtime).
    Mtime,
    /// Last inode change (i_ctime).
    Ctime,
    /// Creation time: only in large inodes (i_crtime, i_crtime_extra).
    Crtime,
}

/// A timestamp: seconds since 1970 (negative before) and nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Time {
    /// Seconds since 1970-01-01 UTC (negative before).
    pub secs: i64,
    /// Nanoseconds within the second (0..1e9).
    pub nsec: u32,
}

impl Time {
    /// The time `t` (before 1970 too).
    pub fn of(t: std::time::SystemTime) -> Time {
        match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => Time {
                secs: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                nsec: d.subsec_nanos(),
            },
            Err(before) => {
                let d = before.duration();
                let (secs, nsec) = (d.as_secs() as i64, d.subsec_nanos());
                match nsec {
                    0 => Time { secs: -secs, nsec },
                    _ => Time {
                        secs: -secs - 1,
                        nsec: 1_000_000_000 - nsec,
                    },
                }
            }
        }
    }

    /// The current system time.
    pub fn now() -> Time {
        Time::of(std::time::SystemTime::now())
    }

    /// The time as a `SystemTime`.
    pub fn to_system_time(self) -> std::time::SystemTime {
        let nsec = std::time::Duration::from_nanos(self.nsec.min(999_999_999) as u64);
        if self.secs >= 0 {
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(self.secs as u64) + nsec
        } else {
            std::time::UNIX_EPOCH - std::time::Duration::from_secs(self.secs.unsigned_abs()) + nsec
        }
    }
}

/// The extra word's low two bits extend the seconds past 2038 (ext4's
/// "epoch" bits); the nanoseconds are above them.
const EPOCH_BITS: u32 = 2;
/// The epoch bits of an extra time word.
pub const EPOCH_MASK: u32 = (1 << EPOCH_BITS) - 1;
/// The seconds an extra word can carry: a signed 32-bit base plus three
/// epochs of 2^32 (1901 to 2446).
const EXTRA_SECS: std::ops::RangeInclusive<i64> =
    (i32::MIN as i64)..=(i32::MAX as i64 + 3 * (1 << 32));

/// A seconds field with its sign bit set whose extra word has both epoch
/// bits set (see [`Inode::has_misencoded_pre_1970_time`]).
fn misencoded(secs: u32, extra: u32) -> bool {
    secs & (1 << 31) != 0 && extra & EPOCH_MASK == EPOCH_MASK
}

/// The epoch bits of an extra time word for `secs` (the seconds field
/// holds `secs as u32`, read back as signed 32 bits): how many 2^32
/// steps lie between the two, 0-3.
pub fn epoch_bits(secs: i64) -> u32 {
    ((secs - i64::from(secs as i32)) >> 32) as u32 & EPOCH_MASK
}

impl Inode {
    /// The (seconds, extra word) pairs of atime, ctime, crtime and mtime
    /// as e2fsck reads them for its pre-1970 test: straight from the
    /// extra fields, whatever i_extra_isize covers.
    fn raw_time_pairs(&mut self) -> [(&mut u32, &mut u32); 4] {
        let (b, e) = (&mut self.base, &mut self.extra);
        [
            (&mut b.i_atime, &mut e.i_atime_extra),
            (&mut b.i_ctime, &mut e.i_ctime_extra),
            (&mut e.i_crtime, &mut e.i_crtime_extra),
            (&mut b.i_mtime, &mut e.i_mtime_extra),
        ]
    }

    /// Whether a large inode keeps a time the old (pre-1.47 kernel) way
    /// for dates before 1970: the seconds' sign bit set and both epoch
    /// bits set, which reads as a date after 2310 (e2fsck's
    /// CHECK_INODE_EXTRA_NEGATIVE_EPOCH on any of the four times).
    pub fn has_misencoded_pre_1970_time(&self) -> bool {
        let mut view = self.clone();
        view.raw_time_pairs()
            .iter()
            .any(|(secs, extra)| misencoded(**secs, **extra))
    }

    /// Clears the epoch bits of every time [`Inode::has_misencoded_pre_1970_time`]
    /// finds, so that each reads as the pre-1970 date it was meant to be.
    pub fn clear_misencoded_epochs(&mut self) {
        for (secs, extra) in self.raw_time_pairs() {
            if misencoded(*secs, *extra) {
                *extra &= !EPOCH_MASK;
            }
        }
    }

    /// Whether i_extra_isize covers the extra field ending `end` bytes
    /// after byte 128 (ext4's EXT4_FITS_IN_INODE).
    fn extra_covers(&self, end: usize) -> bool {
        self.extra_isize() as usize >= end
    }

    /// The seconds field of `s` (None: crtime in an inode without it) and
    /// its extra word, when the inode has one for it: ctime, mtime, atime
    /// and crtime's extra words end 8, 12, 16 and 24 bytes after byte 128
    /// (crtime's seconds 20).
    fn time_fields(&mut self, s: Stamp) -> (Option<&mut u32>, Option<&mut u32>) {
        let covers = [8, 12, 16, 20, 24].map(|end| self.extra_covers(end));
        let (b, e) = (&mut self.base, &mut self.extra);
        match s {
            Stamp::Ctime => (
                Some(&mut b.i_ctime),
                covers[0].then_some(&mut e.i_ctime_extra),
            ),
            Stamp::Mtime => (
                Some(&mut b.i_mtime),
                covers[1].then_some(&mut e.i_mtime_extra),
            ),
            Stamp::Atime => (
                Some(&mut b.i_atime),
                covers[2].then_some(&mut e.i_atime_extra),
            ),
            Stamp::Crtime => (
                covers[3].then_some(&mut e.i_crtime),
                covers[4].then_some(&mut e.i_crtime_extra),
            ),
        }
    }

    /// The timestamp `s`: with nanoseconds and ext4's epoch bits when the
    /// inode has the extra word for it (large inodes with i_extra_isize
    /// covering it), else whole seconds 1970-2106 as ext2 keeps them.
    /// An absent crtime reads as 0.
    pub fn time(&self, s: Stamp) -> Time {
        // The fixed fields are Copy; the tail is not needed.
        let mut view = Inode {
            base: self.base,
            extra: self.extra,
            tail: Vec::new(),
            size: self.size,
        };
        match view.time_fields(s) {
            (Some(secs), Some(extra)) => Time {
                secs: *secs as i32 as i64 + (((*extra & EPOCH_MASK) as i64) << 32),
                nsec: *extra >> EPOCH_BITS,
            },
            (Some(secs), None) => Time {
                secs: *secs as i64,
                nsec: 0,
            },
            _ => Time::default(),
        }
    }

    /// Sets the timestamp `s` as precisely as the inode can keep it:
    /// nanoseconds in the extra word when there is one (ext4's layout,
    /// which e2fsprogs and the kernel's ext4 driver read), else whole
    /// seconds clamped to 1970-2106. Crtime is kept only by large inodes.
    pub fn set_time(&mut self, s: Stamp, t: Time) {
        match self.time_fields(s) {
            (Some(secs), Some(extra)) => {
                let v = t.secs.clamp(*EXTRA_SECS.start(), *EXTRA_SECS.end());
                *secs = v as u32;
                *extra = epoch_bits(v) | t.nsec.min(999_999_999) << EPOCH_BITS;
            }
            (Some(secs), None) => *secs = t.secs.clamp(0, u32::MAX as i64) as u32,
            _ => {}
        }
    }

    /// Sets several timestamps to one time.
    pub fn stamp(&mut self, which: &[Stamp], t: Time) {
        for &s in which {
            self.set_time(s, t);
        }
    }
}

/// The directory-entry file type for an inode mode (EXT2_FT_*).
pub fn mode_to_dirent_type(mode: u16) -> u8 {
    use crate::dirent::ft;
    match mode & S_IFMT {
        S_IFREG => ft::REG_FILE,
        S_IFDIR => ft::DIR,
        S_IFCHR => ft::CHRDEV,
        S_IFBLK => ft::BLKDEV,
        S_IFIFO => ft::FIFO,
        S_IFSOCK => ft::SOCK,
        S_IFLNK => ft::SYMLINK,
        _ => ft::UNKNOWN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn in_inode_xattr_magic_is_found_after_extra_isize_only_with_room() {
        assert!(!Inode::new(128).has_in_inode_xattr_magic());
        let mut i = Inode::new(256);
        i.extra.i_extra_isize = 32;
        assert!(!i.has_in_inode_xattr_magic());
        i.set_in_inode_xattr_area(&XATTR_IBODY_MAGIC.to_le_bytes())
            .unwrap();
        assert!(i.has_in_inode_xattr_magic());
        // e2fsck's pass 4 applies no alignment rule to i_extra_isize.
        let mut bytes = i.to_bytes();
        bytes[128..130].copy_from_slice(&30u16.to_le_bytes());
        bytes[158..162].copy_from_slice(&XATTR_IBODY_MAGIC.to_le_bytes());
        assert!(Inode::parse(&bytes).unwrap().has_in_inode_xattr_magic());
        // No room: i_extra_isize points past the record.
        bytes[128..130].copy_from_slice(&254u16.to_le_bytes());
        assert!(!Inode::parse(&bytes).unwrap().has_in_inode_xattr_magic());
    }

    #[test]
    fn clearing_the_in_inode_magic_keeps_the_entries() {
        let mut i = Inode::new(256);
        i.extra.i_extra_isize = 32;
        let mut area = XATTR_IBODY_MAGIC.to_le_bytes().to_vec();
        area.extend_from_slice(&[7; 8]);
        i.set_in_inode_xattr_area(&area).unwrap();
        i.clear_in_inode_xattr_magic().unwrap();
        assert!(!i.has_in_inode_xattr_magic());
        assert_eq!(
            i.in_inode_xattr_area().unwrap()[..12],
            [0, 0, 0, 0, 7, 7, 7, 7, 7, 7, 7, 7]
        );
        let mut small = Inode::new(128);
        small.clear_in_inode_xattr_magic().unwrap();
        assert_eq!(small, Inode::new(128));
    }

    #[test]
    fn misencoded_pre_1970_times_are_found_and_cleared() {
        let mut i = Inode::new(256);
        i.extra.i_extra_isize = 32;
        assert!(!i.has_misencoded_pre_1970_time());
        // Sign bit without both epoch bits, or the reverse: fine.
        i.base.i_atime = 1 << 31;
        i.extra.i_atime_extra = 1;
        i.base.i_mtime = 5;
        i.extra.i_mtime_extra = 3;
        assert!(!i.has_misencoded_pre_1970_time());
        // crtime counts even though it lives in the extra fields only.
        i.extra.i_crtime = 0x8000_0001;
        i.extra.i_crtime_extra = (9 << EPOCH_BITS) | 3;
        assert!(i.has_misencoded_pre_1970_time());
        i.clear_misencoded_epochs();
        assert!(!i.has_misencoded_pre_1970_time());
        assert_eq!(i.extra.i_crtime_extra, 9 << EPOCH_BITS);
        // The others are left as they were.
        assert_eq!((i.extra.i_atime_extra, i.extra.i_mtime_extra), (1, 3));
    }

    #[test]
    fn timestamps_keep_nanoseconds_only_with_room() {
        let t = Time {
            secs: 1_700_000_000,
            nsec: 123_456_789,
        };
        let mut big = Inode::new(256);
        big.extra.i_extra_isize = 32;
        for s in [Stamp::Atime, Stamp::Mtime, Stamp::Ctime, Stamp::Crtime] {
            big.set_time(s, t);
            assert_eq!(big.time(s), t, "{s:?}");
        }
        // ext4's encoding: nanoseconds above two epoch bits.
        assert_eq!(big.extra.i_mtime_extra, 123_456_789 << 2);
        let past_2038 = Time {
            secs: (1 << 31) + 5,
            nsec: 1,
        };
        big.set_time(Stamp::Atime, past_2038);
        assert_eq!(big.base.i_atime, (1 << 31) + 5);
        assert_eq!(big.extra.i_atime_extra, 1 << 2 | 1);
        assert_eq!(big.time(Stamp::Atime), past_2038);
        // An extra size covering ctime's word only.
        big.extra.i_extra_isize = 8;
        assert_eq!(big.time(Stamp::Ctime), t);
        assert_eq!(big.time(Stamp::Mtime).nsec, 0);
        assert_eq!(big.time(Stamp::Crtime), Time::default());
        let mut small = Inode::new(128);
        small.set_time(Stamp::Mtime, t);
        small.set_time(Stamp::Crtime, t);
        assert_eq!(small.time(Stamp::Mtime), Time { nsec: 0, ..t });
        assert_eq!(small.time(Stamp::Crtime), Time::default());
        assert_eq!(small.to_bytes().len(), 128);
        let before = Time {
            secs: -2,
            nsec: 500_000_000,
        };
        assert_eq!(Time::of(before.to_system_time()), before);
    }

    #[test]
    fn sizes() {
        assert_eq!(InodeBase::SIZE, 128);
        assert_eq!(InodeExtra::SIZE, 32);
    }

    #[test]
    fn device_numbers_round_trip() {
        let mut i = Inode::new(256);
        for (ma, mi) in [(0, 0), (1, 3), (8, 1), (259, 1), (4095, 1048575)] {
            i.set_device(ma, mi);
            assert_eq!(i.device(), (ma, mi));
        }
    }

    #[test]
    fn fast_symlink_target_round_trip() {
        let mut i = Inode::new(128);
        i.base.i_mode = S_IFLNK | 0o777;
        i.set_fast_symlink_target(b"../some/where");
        assert_eq!(i.fast_symlink_target(), b"../some/where");
        assert!(i.is_fast_symlink());
    }

    proptest! {
        #[test]
        fn round_trip_128(bytes in proptest::collection::vec(any::<u8>(), 128)) {
            prop_assert_eq!(Inode::parse(&bytes).unwrap().to_bytes(), bytes);
        }

        #[test]
        fn round_trip_256(bytes in proptest::collection::vec(any::<u8>(), 256)) {
            let ino = Inode::parse(&bytes).unwrap();
            prop_assert_eq!(ino.size, 256);
            prop_assert_eq!(ino.to_bytes(), bytes);
        }

        #[test]
        fn short_input_is_error(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            prop_assert!(Inode::parse(&bytes).is_err());
        }
    }
}
