//! meta_bg (incompat 0x0010) end to end against the real e2fsprogs 1.47:
//! mke2fs-union lays it out as mke2fs does (asked for with `-O meta_bg`,
//! or switched on by itself when the descriptors would fill over 3/4 of
//! a group), e2fsck-union and debugfs-union read the real mke2fs' meta_bg
//! images as e2fsck and debugfs do, and what our tools write keeps every
//! copy of each descriptor block right.

use std::path::Path;
use std::process::Command;

use integration_tests::check_pair::{debugfs_differences, e2fsck_differences, Tools};
use integration_tests::mkfs_pair::Case;
use integration_tests::*;

/// Option sets (after `-t ext2`) and sizes: block sizes 1-4 KiB, meta
/// groups cut short, no sparse_super, descriptors kept classic by
/// MKE2FS_FIRST_META_BG, and the automatic switch of a small `-g`.
const LAYOUTS: &[(&[&str], &str, Option<&str>)] = &[
    (
        &["-O", "meta_bg,sparse_super,^resize_inode", "-g", "1024"],
        "131072",
        None,
    ),
    (&["-b", "1024", "-O", "meta_bg,^resize_inode"], "128M", None),
    (
        &["-b", "2048", "-g", "512", "-O", "meta_bg,^resize_inode"],
        "300M",
        None,
    ),
    (
        &["-b", "4096", "-g", "256", "-O", "meta_bg,^resize_inode"],
        "200M",
        None,
    ),
    (
        &[
            "-b",
            "1024",
            "-g",
            "256",
            "-O",
            "meta_bg,^resize_inode,^sparse_super",
        ],
        "64M",
        None,
    ),
    (
        &["-b", "1024", "-g", "1024", "-O", "meta_bg,^resize_inode"],
        "128M",
        Some("2"),
    ),
    (&["-b", "1024", "-g", "256"], "200M", None),
    (&["-b", "2048", "-g", "256", "-N", "2048"], "200M", None),
];

fn case(args: &[&str], size: &str, first_meta_bg: Option<&str>) -> Case {
    let mut all = vec!["-t", "ext2", "-q"];
    all.extend_from_slice(args);
    let c = Case::new(&all, Some(size));
    match first_meta_bg {
        Some(n) => c.env("MKE2FS_FIRST_META_BG", n),
        None => c,
    }
}

#[test]
fn mke2fs_lays_out_meta_bg_as_the_real_mke2fs() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (args, size, first) in LAYOUTS {
        let c = case(args, size, *first);
        let d = c.differences(dir.path(), true);
        assert!(d.is_empty(), "mke2fs {}:\n{}", c.describe(), d.join("\n"));
        let ours = dir.path().join("ours.img");
        assert!(
            real_dumpe2fs(&ours, true).contains(" meta_bg "),
            "mke2fs {}: no meta_bg",
            c.describe()
        );
        assert_real_fsck_clean(&ours);
    }
    // s_first_meta_bg past the table: mke2fs makes it (classic tables as
    // long as s_first_meta_bg says), though its own e2fsck calls it corrupt.
    let args = ["-b", "1024", "-g", "1024", "-O", "meta_bg,^resize_inode"];
    case(&args, "128M", Some("9")).assert_same(true);
}

/// The requests that read descriptors and what they locate: the summary
/// of every group, bitmap bits and owners of descriptor blocks in the
/// first, second and last group of a meta group, and blocks read raw.
fn requests(img: &Path) -> Vec<String> {
    let geo = open_ro(img);
    let per = geo.block_size / 32;
    let mut reqs = vec!["stats".to_string(), "ls -l /".into(), "ffb 5".into()];
    for g in [0, 1, per - 1, per, per + 1] {
        if g < geo.group_count {
            let b = geo.group_metadata(g);
            for blk in [b.super_block, b.meta_desc, b.table.map(|t| t.0)]
                .into_iter()
                .flatten()
            {
                reqs.push(format!("testb {blk} 3"));
                reqs.push(format!("icheck {blk}"));
                reqs.push(format!("bd {blk}"));
            }
        }
    }
    reqs
}

fn open_ro(img: &Path) -> ext2fs::layout::Geometry {
    let fs = ext2fs::fs::Filesystem::open(img, &Default::default()).expect("open image");
    fs.geo().clone()
}

#[test]
fn e2fsck_and_debugfs_read_real_meta_bg_images_as_e2fsprogs_does() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tools = Tools::new(dir.path());
    for (args, size, first) in LAYOUTS {
        let c = case(args, size, *first);
        let img = c.real_image(dir.path(), "real").expect("real mke2fs");
        let work = dir.path().join("work");
        let mut d = e2fsck_differences(&tools, &img, &work);
        d.extend(debugfs_differences(&tools, &img, &work, &requests(&img)));
        assert!(d.is_empty(), "mke2fs {}:\n{}", c.describe(), d.join("\n"));
    }
}

/// The same check from a backup superblock (e2fsck -b): the meta groups'
/// descriptors come from each meta group's second group then.
#[test]
fn e2fsck_from_a_backup_reads_the_second_copy() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let c = case(&["-b", "1024", "-g", "256"], "64M", None);
    let img = c.real_image(dir.path(), "real").expect("real mke2fs");
    // Spoil the primary copies of meta group 1's descriptor block: read
    // from the backup, they are not used.
    let geo = open_ro(&img);
    let primary = geo.group_metadata(32).meta_desc.unwrap();
    zero_block(&img, primary, geo.block_size);
    let run_in = |bin: &Path| {
        let out = run(Command::new(bin)
            .args(["-fn", "-b", "257", "-B", "1024"])
            .arg(&img));
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let ours = run_in(&our_bin("e2fsck-union"));
    let real = run_in(Path::new("e2fsck"));
    assert_eq!(ours, real);
    assert_eq!(real.0, Some(0), "{}", real.1);
}

fn zero_block(img: &Path, block: u64, bs: u32) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(img).unwrap();
    f.write_all_at(&vec![0; bs as usize], block * bs as u64)
        .unwrap();
}

/// Files written by debugfs-union and a free count repaired by
/// e2fsck-union -fy: the real e2fsck finds both clean, also from a
/// backup superblock (whose descriptors are the second copies).
#[test]
fn writes_keep_every_descriptor_copy() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let c = case(&["-b", "1024", "-g", "256"], "64M", None);
    let img = c.real_image(dir.path(), "real").expect("real mke2fs");
    let data = dir.path().join("data");
    std::fs::write(&data, vec![0x5a; 3 << 20]).unwrap();
    let out = run(Command::new(our_bin("debugfs-union"))
        .arg("-w")
        .arg("-R")
        .arg(format!("write {} big", data.display()))
        .arg(&img));
    assert!(out.status.success(), "{}", text(&out));
    assert_real_fsck_clean(&img);
    let from_backup = run(Command::new("e2fsck")
        .args(["-fn", "-b", "257", "-B", "1024"])
        .arg(&img));
    assert_eq!(from_backup.status.code(), Some(0), "{}", text(&from_backup));

    // A wrong free count in a group of meta group 1, repaired by ours.
    let out = run(Command::new("debugfs")
        .args(["-w", "-R", "set_bg 40 free_blocks_count 7"])
        .arg(&img));
    assert!(out.status.success(), "{}", text(&out));
    let work = dir.path().join("work");
    let tools = Tools::new(dir.path());
    let d = e2fsck_differences(&tools, &img, &work);
    assert!(d.is_empty(), "{}", d.join("\n"));
}
