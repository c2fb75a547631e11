//! set_super_value, set_inode_field and set_block_group against the real
//! debugfs: the `-l` listings, and a range of settings (split fields and
//! their _hi/_lo halves, arrays, dates, UUIDs, hash algorithms, strings,
//! the Hurd's aliases, checksums, bmap) each run with -w on a fresh copy
//! of one image by both tools: the same output, errors and exit code, and
//! the same image bytes afterwards.

use integration_tests::check_pair::{debugfs_differences, debugfs_write_differences, Tools};
use integration_tests::{real_mkfs, skip_without_e2fsprogs};

/// An image with 256-byte inodes and a file (inode 12) written by the
/// real mke2fs.
fn image(dir: &std::path::Path) -> std::path::PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("f"), b"some data\n").unwrap();
    let img = dir.join("base.img");
    real_mkfs(
        &img,
        &[
            "-I",
            "256",
            "-d",
            src.to_str().unwrap(),
            "-E",
            "root_owner=0:0",
        ],
        "4M",
    );
    img
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn listings_and_read_only_refusals_match_debugfs() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = image(t.path());
    let tools = Tools::new(t.path());
    let reqs = strings(&[
        "ssv -l",
        "set_super_value -l",
        "sif -l",
        "set_inode_field -l",
        "set_bg -l",
        "set_block_group -l",
        "ssv mnt_count 1",
        "sif <12> mode 1",
        "set_bg 0 flags 1",
        "set_current_time 20200229123456",
        "set_current_time bogus",
    ]);
    let d = debugfs_differences(&tools, &img, &t.path().join("work"), &reqs);
    assert!(d.is_empty(), "{}", d.join("\n"));
}

const SUPER_SETS: &[&str] = &[
    "ssv mnt_count 7",
    "ssv s_mnt_count 0x10",
    "ssv mnt_count 010",
    "ssv mnt_count \"\"",
    "ssv mnt_count 70000",
    "ssv mnt_count -1",
    "ssv mnt_count abc",
    "ssv mnt_count \" 5\"",
    "ssv max_mnt_count -1",
    "ssv max_mnt_count 70000",
    "ssv max_mnt_count x",
    "ssv log_cluster_size -2",
    "ssv blocks_count 0x100000005",
    "ssv blocks_count_hi 3",
    "ssv s_blocks_count_lo 4096",
    "ssv free_blocks_count_hi 0x100000000",
    "ssv r_blocks_count 0x10000000000000000",
    "ssv inodes_count_lo 5",
    "ssv mtime 20200101",
    "ssv mtime 202001011230",
    "ssv lastcheck 20200229123456",
    "ssv first_error_time 2020201",
    "ssv last_error_time @0x20",
    "ssv mkfs_time 99999999999",
    "ssv mtime -1",
    "ssv mtime bogus",
    "ssv mtime_hi 1",
    "ssv mtime[2] 5",
    "ssv mtime[ 5",
    "ssv uuid 01234567-89ab-cdef-0123-456789abcdef",
    "ssv uuid null",
    "ssv uuid bad",
    "ssv uuid €x",
    "ssv journal_uuid CLEAR",
    "ssv hash_seed 01234567-89ab-cdef-0123-456789abcdef",
    "ssv volume_name hello",
    "ssv volume_name 0123456789abcdef",
    "ssv last_mounted /mnt/x",
    "ssv first_error_func fn",
    "ssv def_hash_version tea",
    "ssv def_hash_version TEA_unsigned",
    "ssv def_hash_version 1",
    "ssv def_hash_version HASHALG_9",
    "ssv def_hash_version hashalg_300",
    "ssv jnl_blocks[3] 9",
    "ssv jnl_blocks[16] 1",
    "ssv jnl_blocks[17] 1",
    "ssv jnl_blocks 1",
    "ssv backup_bgs[1] 2",
    "ssv encrypt_algos[0] 300",
    "ssv encoding utf8",
    "ssv encoding 7",
    "ssv mmp_block 0xffffffffffffffff",
    "ssv kbytes_written 18446744073709551616",
    "ssv prealloc_blocks 256",
    "ssv checksum_type 2",
    "ssv nosuch 1",
    "ssv mnt_count",
    "ssv -l x",
];

const INODE_SETS: &[&str] = &[
    "sif f mode 0100600",
    "sif <12> uid 0x12345",
    "sif <12> uid_hi 2",
    "sif <12> uid_lo 70000",
    "sif <12> i_gid 77",
    "sif <12> size 0x100000001",
    "sif <12> atime 20200101",
    "sif <12> mtime 0x7fffffff",
    "sif <12> ctime @-5",
    "sif <12> atime_extra 0x40",
    "sif <12> atime_hi 3",
    "sif <12> crtime 20300101",
    "sif <12> dtime @5",
    "sif <12> blocks 0x300000002",
    "sif <12> blocks_lo 0x100000001",
    "sif <12> file_acl 0x100000000",
    "sif <12> version 0x100000002",
    "sif <12> translator 9",
    "sif <12> block[2] 100",
    "sif <12> block[0x3] 101",
    "sif <12> block[IND] 200",
    "sif <12> block[12] 1",
    "sif <12> frag 7",
    "sif <12> fsize 9",
    "sif <12> author 0x12345678",
    "sif <12> checksum 0x12345",
    "sif <12> checksum calc",
    "sif <12> projid 5",
    "sif <12> extra_isize 28",
    "sif <12> bmap[5] 300",
    "sif <12> links_count x",
    "sif <12> mtime bogus",
    "sif <12> nosuch 1",
    "sif /nonexistent mode 1",
    "sif <12> mode",
    "sif <0> mode 1",
];

const GROUP_SETS: &[&str] = &[
    "set_bg 0 free_blocks_count 10",
    "set_bg 0 bg_flags 4",
    "set_bg 0 checksum calc",
    "set_bg 0 checksum 0x1234",
    "set_bg 0 itable_unused 0x10000",
    "set_bg 5 flags 1",
    "set_bg x flags 1",
    "set_bg -1 flags 1",
    "set_bg 0 nosuch 1",
    "set_bg 0 block_bitmap_csum 1",
];

#[test]
fn settings_match_debugfs_byte_for_byte() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = image(t.path());
    let tools = Tools::new(t.path());
    let reqs: Vec<String> = [SUPER_SETS, INODE_SETS, GROUP_SETS]
        .concat()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let d = debugfs_write_differences(&tools, &img, &t.path().join("work"), &reqs);
    assert!(d.is_empty(), "{}", d.join("\n"));
}
