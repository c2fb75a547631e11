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
