//! Top directories through the FUSE engine: a directory that outgrows its
//! first block becomes an htree, names are created, found and removed
//! through it, and the image stays clean for e2fsck-union and the real
//! e2fsck, with the index still there.

mod fuse_common;

use std::process::Command;

use fuse_common::*;
use integration_tests::*;

#[test]
fn a_big_top_directory_is_indexed_and_clean() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    let guard = mount_engine(&s);
    let d = s.mnt.join("many");
    std::fs::create_dir(&d).unwrap();
    let n: usize = 3000;
    for i in 0..n {
        std::fs::write(d.join(format!("file-{i:05}")), b"x").unwrap();
    }
    for i in (0..n).step_by(3) {
        std::fs::remove_file(d.join(format!("file-{i:05}"))).unwrap();
    }
    for i in 0..n {
        let p = d.join(format!("file-{i:05}"));
        assert_eq!(p.exists(), i % 3 != 0, "{}", p.display());
    }
    assert_eq!(std::fs::read_dir(&d).unwrap().count(), n - n.div_ceil(3));
    umount_retrying(&s.mnt);
    wait_for_release(&s.img);
    drop(guard);
    let out = run(Command::new(our_bin("e2fsck-union")).arg("-fn").arg(&s.img));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stock = stock_copy(&s.img);
    assert_real_fsck_clean(&stock);
    let dump = String::from_utf8_lossy(&real_debugfs(&stock, "htree /many")).into_owned();
    assert!(dump.contains("Root node dump:"), "{dump}");
}

/// A lower directory of 100,000 entries: listed whole (every name once,
/// every d_ino its own), looked up, thinned while a listing is open, and
/// grown by 10,000 files made through the union in its top copy.
#[test]
fn a_directory_of_100k_entries_lists_and_changes_whole() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    let big = s.lower.join("big");
    std::fs::create_dir(&big).unwrap();
    const N: usize = 100_000;
    // Room for the whiteouts and new files (the setup's image has 4,096
    // inodes).
    let out = run(Command::new(our_bin("mke2fs-union"))
        .args(["-q", "-F", "-O", "whiteout", "-N", "16384"])
        .arg(&s.img)
        .arg("64M"));
    assert!(out.status.success(), "{}", text(&out));
    for i in 0..N {
        std::fs::File::create(big.join(format!("l{i:06}"))).unwrap();
    }
    let guard = mount_engine(&s);
    let d = s.mnt.join("big");
    let names = |d: &std::path::Path| {
        let mut seen = std::collections::HashSet::new();
        let mut inos = std::collections::HashSet::new();
        for e in std::fs::read_dir(d).unwrap() {
            let e = e.unwrap();
            use std::os::unix::fs::DirEntryExt;
            assert!(inos.insert(e.ino()), "a d_ino given twice");
            let name = e.file_name().into_string().unwrap();
            assert!(seen.insert(name.clone()), "{name} listed twice");
        }
        seen
    };
    let all = names(&d);
    assert_eq!(all.len(), N);
    assert!(d.join("l099999").exists() && !d.join("l100000").exists());
    // Every 100th lower entry deleted while the listing is open.
    let mut listed = 0;
    for e in std::fs::read_dir(&d).unwrap() {
        let e = e.unwrap();
        listed += 1;
        let n: usize = e.file_name().to_str().unwrap()[1..].parse().unwrap();
        if n.is_multiple_of(100) {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    assert_eq!(listed, N);
    for i in 0..10_000 {
        std::fs::File::create(d.join(format!("t{i:05}"))).unwrap();
    }
    let now = names(&d);
    assert_eq!(now.len(), N - N / 100 + 10_000);
    assert!(!now.contains("l000100") && now.contains("l000101") && now.contains("t09999"));
    umount_retrying(&s.mnt);
    wait_for_release(&s.img);
    drop(guard);
    let out = run(Command::new(our_bin("e2fsck-union")).arg("-fn").arg(&s.img));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_real_fsck_clean(&stock_copy(&s.img));
}
