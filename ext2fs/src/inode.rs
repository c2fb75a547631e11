//! Inodes: the 128-byte base, the large-inode extra fields (i_extra_isize
//! and what follows) and the in-inode extended attribute area after them.

use crate::{ondisk, Error, Result};

pub const ROOT_INO: u32 = 2;
pub const BAD_INO: u32 = 1;
pub const USR_QUOTA_INO: u32 = 3;
pub const GRP_QUOTA_INO: u32 = 4;
pub const BOOT_LOADER_INO: u32 = 5;
pub const UNDEL_DIR_INO: u32 = 6;
pub const RESIZE_INO: u32 = 7;
pub const JOURNAL_INO: u32 = 8;
pub const EXCLUDE_INO: u32 = 9;
pub const REPLICA_INO: u32 = 10;

/// i_block layout: 12 direct, then single, double, triple indirect.
pub const NDIR_BLOCKS: usize = 12;
pub const IND_BLOCK: usize = 12;
pub const DIND_BLOCK: usize = 13;
pub const TIND_BLOCK: usize = 14;
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
pub const S_IFSOCK: u16 = 0o140000;
pub const S_IFLNK: u16 = 0o120000;
pub const S_IFREG: u16 = 0o100000;
pub const S_IFBLK: u16 = 0o060000;
pub const S_IFDIR: u16 = 0o040000;
pub const S_IFCHR: u16 = 0o020000;
pub const S_IFIFO: u16 = 0o010000;

/// i_flags bits.
pub mod flags {
    pub const SECRM: u32 = 0x0000_0001;
    pub const UNRM: u32 = 0x0000_0002;
    pub const COMPR: u32 = 0x0000_0004;
    pub const SYNC: u32 = 0x0000_0008;
    pub const IMMUTABLE: u32 = 0x0000_0010;
    pub const APPEND: u32 = 0x0000_0020;
    pub const NODUMP: u32 = 0x0000_0040;
    pub const NOATIME: u32 = 0x0000_0080;
    pub const DIRTY: u32 = 0x0000_0100;
    pub const COMPRBLK: u32 = 0x0000_0200;
    pub const NOCOMPR: u32 = 0x0000_0400;
    pub const ENCRYPT: u32 = 0x0000_0800;
    pub const BTREE: u32 = 0x0000_1000;
    /// Hash-indexed directory (same bit as BTREE).
    pub const INDEX: u32 = 0x0000_1000;
    pub const IMAGIC: u32 = 0x0000_2000;
    pub const JOURNAL_DATA: u32 = 0x0000_4000;
    pub const NOTAIL: u32 = 0x0000_8000;
    pub const DIRSYNC: u32 = 0x0001_0000;
    pub const TOPDIR: u32 = 0x0002_0000;
    pub const HUGE_FILE: u32 = 0x0004_0000;
    pub const EXTENTS: u32 = 0x0008_0000;
    pub const VERITY: u32 = 0x0010_0000;
    pub const EA_INODE: u32 = 0x0020_0000;
    /// Union mounts: opaque directory (union-ext2.md **Decision**: Val's value).
    pub const OPAQUE: u32 = 0x0080_0000;
    pub const SNAPFILE: u32 = 0x0100_0000;
    pub const SNAPFILE_DELETED: u32 = 0x0400_0000;
    pub const SNAPFILE_SHRUNK: u32 = 0x0800_0000;
    pub const INLINE_DATA: u32 = 0x1000_0000;
    pub const PROJINHERIT: u32 = 0x2000_0000;
    pub const CASEFOLD: u32 = 0x4000_0000;
}

ondisk! {
    /// The first 128 bytes of `struct ext2_inode_large` (Linux osd2 layout).
    pub struct InodeBase {
        i_mode: u16,
        i_uid: u16,
        i_size: u32,
        i_atime: u32,
        i_ctime: u32,
        i_mtime: u32,
        i_dtime: u32,
        i_gid: u16,
        i_links_count: u16,
        /// 512-byte sectors, including indirect and xattr blocks.
        i_blocks: u32,
        i_flags: u32,
        /// osd1: l_i_version on Linux, h_i_translator on Hurd.
        i_version: u32,
        i_block: [u32; 15],
        i_generation: u32,
        i_file_acl: u32,
        /// i_dir_acl in revision 0; high 32 bits of the size in revision 1.
        i_size_high: u32,
        i_faddr: u32,
        // osd2 (Linux): l_i_blocks_hi, l_i_file_acl_high, uid/gid high,
        // checksum low, reserved. Hurd reuses the first bytes (h_i_frag,
        // h_i_fsize, h_i_mode_high).
        l_i_blocks_hi: u16,
        l_i_file_acl_high: u16,
        l_i_uid_high: u16,
        l_i_gid_high: u16,
        l_i_checksum_lo: u16,
        l_i_reserved: u16,
    }
}

ondisk! {
    /// The fixed fields after byte 128 in inodes larger than 128 bytes.
    /// Only the first `i_extra_isize` bytes are meaningful.
    pub struct InodeExtra {
        i_extra_isize: u16,
        i_checksum_hi: u16,
        i_ctime_extra: u32,
        i_mtime_extra: u32,
        i_atime_extra: u32,
        i_crtime: u32,
        i_crtime_extra: u32,
        i_version_hi: u32,
        i_projid: u32,
    }
}

/// Magic at the start of the in-inode xattr area (after i_extra_isize).
pub const XATTR_IBODY_MAGIC: u32 = 0xEA02_0000;

/// One inode as stored in the inode table, with all its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inode {
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

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.size as usize);
        self.write(&mut v);
        v
    }

    pub fn mode(&self) -> u16 {
        self.base.i_mode
    }
    pub fn file_type(&self) -> u16 {
        self.base.i_mode & S_IFMT
    }
    pub fn is_dir(&self) -> bool {
        self.file_type() == S_IFDIR
    }
    pub fn is_reg(&self) -> bool {
        self.file_type() == S_IFREG
    }
    pub fn is_symlink(&self) -> bool {
        self.file_type() == S_IFLNK
    }
    pub fn is_device(&self) -> bool {
        matches!(self.file_type(), S_IFCHR | S_IFBLK)
    }
    pub fn is_fifo_or_socket(&self) -> bool {
        matches!(self.file_type(), S_IFIFO | S_IFSOCK)
    }

    /// The full 64-bit size (i_size_high is the size's top half for
    /// regular files; ext2 directories keep it zero).
    pub fn size(&self) -> u64 {
        self.base.i_size as u64 | (self.base.i_size_high as u64) << 32
    }

    pub fn set_size(&mut self, size: u64) {
        self.base.i_size = size as u32;
        self.base.i_size_high = (size >> 32) as u32;
    }

    pub fn uid(&self) -> u32 {
        self.base.i_uid as u32 | (self.base.l_i_uid_high as u32) << 16
    }
    pub fn gid(&self) -> u32 {
        self.base.i_gid as u32 | (self.base.l_i_gid_high as u32) << 16
    }
    pub fn set_uid(&mut self, uid: u32) {
        self.base.i_uid = uid as u16;
        self.base.l_i_uid_high = (uid >> 16) as u16;
    }
    pub fn set_gid(&mut self, gid: u32) {
        self.base.i_gid = gid as u16;
        self.base.l_i_gid_high = (gid >> 16) as u16;
    }

    pub fn flags(&self) -> u32 {
        self.base.i_flags
    }

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

    /// The target of a fast symlink, read from i_block.
    pub fn fast_symlink_target(&self) -> Vec<u8> {
        let mut raw = Vec::with_capacity(60);
        for w in self.base.i_block {
            raw.extend_from_slice(&w.to_le_bytes());
        }
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
