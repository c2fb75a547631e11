//! The multiple-mount-protection block (struct mmp_struct), read for
//! tools that show one (debugfs' dump_mmp). This library neither opens
//! nor writes filesystems with the mmp feature.

use crate::codec::{le16, le32, le64};

/// EXT4_MMP_MAGIC.
pub const MMP_MAGIC: u32 = 0x004D_4D50;

/// The fields of an MMP block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MmpBlock {
    /// mmp_magic.
    pub magic: u32,
    /// mmp_seq.
    pub seq: u32,
    /// mmp_time.
    pub time: u64,
    /// mmp_nodename (64 bytes).
    pub nodename: Vec<u8>,
    /// mmp_bdevname (32 bytes).
    pub bdevname: Vec<u8>,
    /// mmp_check_interval.
    pub check_interval: u16,
    /// mmp_checksum.
    pub checksum: u32,
}

impl MmpBlock {
    /// Reads the fields from a block (1024 bytes or more).
    pub fn parse(b: &[u8]) -> Option<Self> {
        if b.len() < 1024 {
            return None;
        }
        Some(MmpBlock {
            magic: le32(b, 0),
            seq: le32(b, 4),
            time: le64(b, 8),
            nodename: b[16..80].to_vec(),
            bdevname: b[80..112].to_vec(),
            check_interval: le16(b, 112),
            checksum: le32(b, 1020),
        })
    }
}
