//! e2fsck's open and its retries (unix.c): the primary superblock, then
//! a backup, then the primary again "despite errors"
//! (EXT2_FLAG_IGNORE_SB_ERRORS), each judged by ext2fs_open2's own
//! limits before e2fsck's check_super_block judges the values.

use integration_tests::vs_e2fsck::{alike_in_each_mode, poke};
use integration_tests::*;

/// s_inodes_per_group with its third byte set (differential seed
/// 20261210 case 69): libext2fs sizes a group's inode table in 32-bit
/// arithmetic, which wraps to a size it accepts, so the open "despite
/// errors" succeeds and e2fsck's "Corruption found in superblock.
/// (inodes_per_group = N)." ends the check.
#[test]
fn inodes_per_group_past_32_bits_of_table_is_judged_as_e2fsck() {
    if skip_without_e2fsprogs() {
        return;
    }
    for (bs, isz) in [("2048", "512"), ("1024", "128"), ("4096", "256")] {
        let t = tempfile::tempdir().unwrap();
        let img = t.path().join("test.img");
        real_mkfs(&img, &["-b", bs, "-I", isz], "12M");
        // s_inodes_per_group is at byte 40 of the superblock.
        poke(&img, 1024 + 42, &[0x80]);
        // Alike whatever e2fsck makes of it (with 1 KiB blocks the table
        // size wraps to one that fits, and the value is repaired).
        let codes = alike_in_each_mode(t.path(), &img);
        if bs == "2048" {
            assert_eq!(codes, [8, 8, 8], "-b {bs} -I {isz}");
        }
    }
}
