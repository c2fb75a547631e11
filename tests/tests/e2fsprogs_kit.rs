//! e2fsprogs 1.47.0's own m_/d_/f_ tests (`../shared/e2fsprogs-tests`),
//! run in e2fsprogs' own terms: once with our three tools, once with our
//! e2fsck-union beside the real mke2fs and debugfs (so e2fsck's share is
//! measured on its own). Each run must pass at least the tests listed
//! here, which pass today: the lists are a ratchet, to grow as tools get
//! closer to e2fsprogs, never to shrink.

use std::path::{Path, PathBuf};
use std::process::Command;

use integration_tests::*;

/// Kit tests that pass with mke2fs-union, e2fsck-union and debugfs-union.
const PASSING_WITH_OUR_TOOLS: &[&str] = &[
    "m_std",
    "m_no_opt",
    "m_large_file",
    "m_dasd_bs",
    "m_raid_opt",
    "m_meta_bg",
    "m_root_owner",
    "m_mkfs_overhead",
    "m_error_behavior",
    "m_offset",
    "d_loaddump",
    "d_special_files",
    "d_xattr_edits",
    "d_xattr_sorting",
    "d_bad_ostype",
    "f_dup4",
    "f_dup_resize",
    "f_resize_inode",
    "f_imagic_fs",
    "f_detect_junk",
    "f_detect_xfs",
];

/// Kit tests that pass with e2fsck-union and the real mke2fs and debugfs.
const PASSING_WITH_OUR_E2FSCK: &[&str] = &[
    "m_std",
    "m_no_opt",
    "m_large_file",
    "m_dasd_bs",
    "m_raid_opt",
    "m_meta_bg",
    "m_root_owner",
    "m_mkfs_overhead",
    "m_error_behavior",
    "m_offset",
    "d_loaddump",
    "d_special_files",
    "d_xattr_edits",
    "d_xattr_sorting",
    "d_bad_ostype",
    "f_dup4",
    "f_dup_resize",
    "f_resize_inode",
    "f_imagic_fs",
    "f_detect_junk",
    "f_detect_xfs",
];

/// A BINDIR for the kit's runner: symlinks named as it wants them.
fn bindir(dir: &Path, mke2fs: PathBuf, e2fsck: PathBuf, debugfs: PathBuf) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    for (name, target) in [
        ("mke2fs-union", mke2fs),
        ("e2fsck-union", e2fsck),
        ("debugfs-union", debugfs),
    ] {
        std::os::unix::fs::symlink(target, dir.join(name)).unwrap();
    }
    dir.to_path_buf()
}

/// Runs the kit against `bin` and returns each test's verdict line.
fn run_kit(runner: &Path, bin: &Path) -> Vec<(String, bool)> {
    let out = run(Command::new(runner).arg(bin));
    let s = text(&out);
    eprintln!("{s}");
    assert!(
        s.lines()
            .any(|l| l.ends_with(" failed") && l.contains(" passed, ")),
        "the runner did not finish:\n{s}"
    );
    s.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let (name, verdict) = (w.next()?, w.next()?);
            (w.next().is_none() && (verdict == "ok" || verdict == "failed"))
                .then(|| (name.to_string(), verdict == "ok"))
        })
        .collect()
}

fn assert_pass(results: &[(String, bool)], expected: &[&str], what: &str) {
    let failing: Vec<&str> = expected
        .iter()
        .copied()
        .filter(|name| !results.iter().any(|(n, ok)| n == name && *ok))
        .collect();
    assert!(failing.is_empty(), "{what}: no longer pass: {failing:?}");
}

fn kit_runner() -> Option<PathBuf> {
    let Some(shared) = shared_dir() else {
        skip("../shared is absent");
        return None;
    };
    if skip_without_e2fsprogs() {
        return None;
    }
    Some(shared.join("e2fsprogs-tests/run-e2fsprogs-tests"))
}

/// Runs the kit with these three tools and checks the ratchet.
fn kit_with(mke2fs: PathBuf, e2fsck: PathBuf, debugfs: PathBuf, expected: &[&str], what: &str) {
    let Some(runner) = kit_runner() else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let bin = bindir(&t.path().join("bin"), mke2fs, e2fsck, debugfs);
    let results = run_kit(&runner, &bin);
    assert_eq!(results.len(), 21, "{results:?}");
    assert_pass(&results, expected, what);
}

#[test]
fn e2fsprogs_tests_with_our_tools() {
    kit_with(
        our_bin("mke2fs-union"),
        our_bin("e2fsck-union"),
        our_bin("debugfs-union"),
        PASSING_WITH_OUR_TOOLS,
        "our three tools",
    );
}

#[test]
fn e2fsprogs_tests_with_our_e2fsck() {
    kit_with(
        PathBuf::from("/usr/sbin/mke2fs"),
        our_bin("e2fsck-union"),
        PathBuf::from("/usr/sbin/debugfs"),
        PASSING_WITH_OUR_E2FSCK,
        "e2fsck-union with the real mke2fs/debugfs",
    );
}
