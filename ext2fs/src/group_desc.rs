//! Block group descriptors: 32 bytes each in ext2, packed in the blocks
//! right after the superblock (and in each backup group).

use crate::ondisk;

/// bg_flags bits (ext4 uninit_bg; never set by ext2 tools).
pub const BG_INODE_UNINIT: u16 = 0x0001;
/// The group's block bitmap is not initialised.
pub const BG_BLOCK_UNINIT: u16 = 0x0002;
/// The group's inode table is zeroed.
pub const BG_INODE_ZEROED: u16 = 0x0004;

ondisk! {
    /// `struct ext2_group_desc`.
    pub struct GroupDesc {
        /// Block of the group's block bitmap.
        bg_block_bitmap: u32,
        /// Block of the group's inode bitmap.
        bg_inode_bitmap: u32,
        /// First block of the group's inode table.
        bg_inode_table: u32,
        /// Free blocks in the group.
        bg_free_blocks_count: u16,
        /// Free inodes in the group.
        bg_free_inodes_count: u16,
        /// Directories in the group.
        bg_used_dirs_count: u16,
        /// Group flags (BG_*).
        bg_flags: u16,
        /// Snapshot exclude bitmap block (next3).
        bg_exclude_bitmap_lo: u32,
        /// Block bitmap checksum (metadata_csum).
        bg_block_bitmap_csum_lo: u16,
        /// Inode bitmap checksum (metadata_csum).
        bg_inode_bitmap_csum_lo: u16,
        /// Unused inodes at the end of the inode table (uninit_bg).
        bg_itable_unused: u16,
        /// Descriptor checksum (uninit_bg/metadata_csum).
        bg_checksum: u16,
    }
}

/// Parses a packed descriptor table; `count` descriptors, no more.
pub fn parse_table(bytes: &[u8], count: u32) -> crate::Result<Vec<GroupDesc>> {
    let need = count as usize * GroupDesc::SIZE;
    if bytes.len() < need {
        return Err(crate::Error::Truncated {
            what: "group descriptor table",
            have: bytes.len(),
        });
    }
    Ok(bytes[..need]
        .chunks_exact(GroupDesc::SIZE)
        .map(|c| {
            crate::codec::parse_exact(c, "group descriptor", GroupDesc::parse)
                // OK: chunks_exact gives exactly SIZE bytes.
                .unwrap_or_default()
        })
        .collect())
}

/// Writes a descriptor table, zero-padded to `len` bytes.
pub fn write_table(descs: &[GroupDesc], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len.max(descs.len() * GroupDesc::SIZE));
    for d in descs {
        d.write(&mut out);
    }
    if out.len() < len {
        out.resize(len, 0);
    }
    out
}

/// The gdt_csum checksum of group `group`'s descriptor (ext4's
/// uninit_bg; what debugfs' `set_bg N checksum calc` stores): CRC-16 of
/// the filesystem UUID, the group number and the descriptor without its
/// checksum field.
pub fn checksum(uuid: &[u8; 16], group: u32, desc: &GroupDesc) -> u16 {
    let bytes = desc.to_bytes();
    // bg_checksum is the descriptor's last two bytes.
    let (covered, _) = bytes.split_at(GroupDesc::SIZE - 2);
    let crc = crc16(0xffff, uuid);
    let crc = crc16(crc, &group.to_le_bytes());
    crc16(crc, covered)
}

/// CRC-16 (polynomial 0x8005, bit-reflected, as lib/ext2fs/crc16.c).
fn crc16(mut crc: u16, bytes: &[u8]) -> u16 {
    for &b in bytes {
        crc ^= u16::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xa001
            } else {
                crc >> 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn size_is_32() {
        assert_eq!(GroupDesc::SIZE, 32);
    }

    #[test]
    fn crc16_check_value() {
        // The CRC-16/ARC check value of "123456789" (initial value 0).
        assert_eq!(crc16(0, b"123456789"), 0xbb3d);
    }

    proptest! {
        #[test]
        fn round_trip(bytes in proptest::collection::vec(any::<u8>(), 32 * 4)) {
            let t = parse_table(&bytes, 4).unwrap();
            prop_assert_eq!(write_table(&t, 0), bytes);
        }

        #[test]
        fn short_table_is_error(n in 0usize..127) {
            prop_assert!(parse_table(&vec![0; n], 4).is_err());
        }
    }
}
