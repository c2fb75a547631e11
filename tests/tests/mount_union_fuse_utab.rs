//! libmount's utab and an engine killed before its unmount: the dead mount
//! is refused as a mountpoint with a clear error and goes with umount; the
//! unmount helper drops the mount's utab entry (umount(8) leaves utab to
//! the helpers it runs), and an entry a killed engine left is dropped by
//! the next mount of the same image there instead of joining it.

mod fuse_common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fuse_common::*;
use integration_tests::*;

fn canon(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap()
}

/// The sources of utab's entries for `mnt` (paths here need no escapes).
fn utab_entries(mnt: &Path) -> Vec<String> {
    let target = format!("TARGET={}", canon(mnt).display());
    std::fs::read_to_string("/run/mount/utab")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.split(' ').any(|f| f == target))
        .filter_map(|l| l.split(' ').find_map(|f| f.strip_prefix("SRC=")))
        .map(str::to_string)
        .collect()
}

/// Waits for the engine to record its mount in utab; false (after a skip
/// notice) when this system's mount(8) keeps no utab.
fn registered(mnt: &Path) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while utab_entries(mnt).is_empty() {
        if Instant::now() > deadline {
            skip("util-linux keeps no /run/mount/utab entry for the engine's mount");
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

fn union_opt(s: &Setup) -> String {
    format!("union,lowerdir={}", s.lower.display())
}

#[test]
fn a_killed_engine_leaves_a_mount_that_umount_clears() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    let (mut child, guard) = mount_foreground(&union_opt(&s), &s.img, &s.mnt);
    if !registered(&s.mnt) {
        return;
    }
    std::fs::write(s.mnt.join("new"), b"data").unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    // The dead mount stays until unmounted: not a mountpoint to use.
    let out = fuse_mount(&s, &union_opt(&s));
    assert_eq!(out.status.code(), Some(32), "{}", text(&out));
    assert!(
        text(&out).contains("engine is gone: umount it first"),
        "{}",
        text(&out)
    );
    // What umount(8) runs for it: unmounted, the utab entry dropped.
    let helper = umount_helper_link(s._dir.path());
    let out = run(Command::new(&helper).arg(canon(&s.mnt)));
    assert!(out.status.success(), "{}", text(&out));
    assert!(!mounted_at(&s.mnt));
    assert_eq!(utab_entries(&s.mnt), Vec::<String>::new());
    drop(guard);
    // The image was never marked clean: the checker runs and repairs.
    let out = run(Command::new(our_bin("e2fsck-union")).arg("-fy").arg(&s.img));
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out));
    // And the next mount there works.
    let guard = mount_engine(&s);
    assert_eq!(std::fs::read(s.mnt.join("a")).unwrap(), b"hello\n");
    unmount_and_check(&s, guard);
}

#[test]
fn a_stale_utab_entry_is_dropped_by_the_next_mount() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    // What a killed engine's mount leaves when it is detached without
    // umount(8) (umount -l through the kernel, fusermount3 -u).
    let img = canon(&s.img);
    let out = run(Command::new("mount")
        .args(["--fake", "-i", "--no-canonicalize", "-t", "fuse.union-ext2"])
        .args(["-o", "helper=fuse.union-ext2"])
        .arg(&img)
        .arg(canon(&s.mnt)));
    assert!(out.status.success(), "{}", text(&out));
    if utab_entries(&s.mnt).len() != 1 {
        skip("mount --fake keeps no /run/mount/utab entry here");
        return;
    }
    let guard = mount_engine(&s);
    if !registered(&s.mnt) {
        return;
    }
    assert_eq!(utab_entries(&s.mnt), vec![img.display().to_string()]);
    let helper = umount_helper_link(s._dir.path());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = run(Command::new(&helper).arg(canon(&s.mnt)));
        if out.status.success() {
            break;
        }
        assert!(Instant::now() < deadline, "{}", text(&out));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(utab_entries(&s.mnt), Vec::<String>::new());
    drop(guard);
    assert_real_fsck_clean(&stock_copy(&s.img));
    // umount(8) itself (with or without the helper installed) leaves no
    // entry either.
    let guard = mount_engine(&s);
    if !registered(&s.mnt) {
        return;
    }
    umount_retrying(&s.mnt);
    assert_eq!(utab_entries(&s.mnt), Vec::<String>::new());
    wait_for_release(&s.img);
    drop(guard);
}

/// `-n` (no mtab): nothing recorded in utab, as util-linux's mount -n.
#[test]
fn no_mtab_records_nothing_in_utab() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    let out = run(Command::new(our_bin("mount-union"))
        .args(["-n", "--engine", "fuse", "-o", &union_opt(&s)])
        .arg(&s.img)
        .arg(&s.mnt));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let guard = Mounted(s.mnt.clone());
    assert_eq!(std::fs::read(s.mnt.join("a")).unwrap(), b"hello\n");
    // A detached engine records its entry before it reports ready.
    assert_eq!(utab_entries(&s.mnt), Vec::<String>::new());
    unmount_and_check(&s, guard);
}
