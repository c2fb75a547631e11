//! Block group descriptors: 32 bytes each in ext2, packed in the blocks
//! right after the superblock (and in each backup group).

use crate::ondisk;

/// bg_flags bits (ext4 uninit_bg; never set by ext2 tools).
pub const BG_INODE_UNINIT: u16 = 0x0001;
pub const BG_BLOCK_UNINIT: u16 = 0x0002;
pub const BG_INODE_ZEROED: u16 = 0x0004;

ondisk! {
    /// `struct ext2_group_desc`.
    pub struct GroupDesc {
        bg_block_bitmap: u32,
        bg_inode_bitmap: u32,
        bg_inode_table: u32,
        bg_free_blocks_count: u16,
        bg_free_inodes_count: u16,
        bg_used_dirs_count: u16,
        bg_flags: u16,
        bg_exclude_bitmap_lo: u32,
        bg_block_bitmap_csum_lo: u16,
        bg_inode_bitmap_csum_lo: u16,
        bg_itable_unused: u16,
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn size_is_32() {
        assert_eq!(GroupDesc::SIZE, 32);
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
