//! What a tool needs to recognise a journal (debugfs' logdump of a
//! journal file): the jbd2 superblock's magic number, and an external
//! journal device's ext2 superblock header. Journals themselves are not
//! read by this library.

use crate::features::incompat;
use crate::superblock::Superblock;

/// JBD2_MAGIC_NUMBER, big-endian at the start of every journal block.
pub const JBD2_MAGIC: u32 = 0xC03B_3998;

/// Whether `block` starts with the jbd2 magic number.
pub fn has_magic(block: &[u8]) -> bool {
    block
        .get(..4)
        .is_some_and(|m| u32::from_be_bytes([m[0], m[1], m[2], m[3]]) == JBD2_MAGIC)
}

/// The ext2 superblock at byte 1024 of a journal device (journal_dev
/// feature), if `head` (its first 2048 bytes) holds one and no journal
/// block starts at 0, as logdump looks for it.
pub fn journal_dev_superblock(head: &[u8]) -> Option<Superblock> {
    if has_magic(head) {
        return None;
    }
    let sb = Superblock::from_bytes(head.get(1024..2048)?).ok()?;
    sb.has_incompat(incompat::JOURNAL_DEV).then_some(sb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_is_big_endian() {
        assert!(has_magic(&[0xc0, 0x3b, 0x39, 0x98, 0]));
        assert!(!has_magic(&[0x98, 0x39, 0x3b, 0xc0]));
        assert!(!has_magic(&[0xc0]));
        assert!(journal_dev_superblock(&[0u8; 2048]).is_none());
    }
}
