//! e2fsck-union and the real e2fsck on the same images made by the real
//! mke2fs (and real debugfs or byte edits): same exit code, same output.
//! Each test is a bug where the two once differed.

use std::path::Path;
use std::process::{Command, Output};

use integration_tests::*;

/// Runs ours and the real e2fsck with `args` on copies of `img`; returns
/// (our exit code, our stdout, real exit code, real stdout). Both copies
/// are named alike so that messages naming the device compare equal.
fn both(img: &Path, args: &[&str]) -> (i32, String, i32, String) {
    let t = tempfile::tempdir().unwrap();
    let go = |bin: &Path, sub: &str| -> Output {
        let dir = t.path().join(sub);
        std::fs::create_dir(&dir).unwrap();
        let copy = dir.join("test.img");
        std::fs::copy(img, &copy).unwrap();
        run(Command::new(bin)
            .args(args)
            .arg("test.img")
            .current_dir(&dir))
    };
    let ours = go(&our_bin("e2fsck-union"), "ours");
    let real = go(Path::new("e2fsck"), "real");
    let out = |o: &Output| String::from_utf8_lossy(&o.stdout).into_owned();
    (
        ours.status.code().unwrap_or(-1),
        out(&ours),
        real.status.code().unwrap_or(-1),
        out(&real),
    )
}

/// Asserts ours answers like the real e2fsck (exit code and stdout).
fn assert_same(img: &Path, args: &[&str]) {
    let (oc, os, rc, rs) = both(img, args);
    assert_eq!(
        (oc, &os),
        (rc, &rs),
        "{args:?}: ours (left) and e2fsck (right) differ"
    );
}

#[test]
fn inode_zeroed_group_flag_is_no_problem() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("lazy.img");
    // lazy_itable_init=0 makes mke2fs zero the inode tables and set
    // INODE_ZEROED in every group even without uninit_bg.
    real_mkfs(&img, &["-E", "lazy_itable_init=0"], "64M");
    for args in [&["-fn"][..], &["-p"], &["-fp"], &["-fy"]] {
        let (oc, os, _, _) = both(&img, args);
        assert_eq!(oc, 0, "{args:?}:\n{os}");
        assert_same(&img, args);
    }
}
