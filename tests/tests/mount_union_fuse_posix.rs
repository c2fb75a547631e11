//! POSIX semantics through the FUSE engine's union: files unlinked or
//! renamed over while open stay usable through their descriptor (and are
//! freed at the last close), a name's loss changes the file's ctime, and a
//! directory listed while its entries are deleted lists all of them.

mod fuse_common;

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use fuse_common::*;

#[test]
fn unlinked_and_renamed_over_files_stay_usable_while_open() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    let guard = mount_engine(&s);
    let m = &s.mnt;
    // A top file, unlinked while open.
    std::fs::write(m.join("gone"), b"kept data").unwrap();
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(m.join("gone"))
        .unwrap();
    std::fs::remove_file(m.join("gone")).unwrap();
    assert!(!m.join("gone").exists());
    let mut got = String::new();
    f.read_to_string(&mut got).unwrap();
    assert_eq!(got, "kept data");
    assert_eq!(f.metadata().unwrap().nlink(), 0);
    f.write_all(b" and more").unwrap();
    f.seek(SeekFrom::Start(0)).unwrap();
    got.clear();
    f.read_to_string(&mut got).unwrap();
    assert_eq!(got, "kept data and more");
    f.set_len(4).unwrap();
    assert_eq!(f.metadata().unwrap().len(), 4);

    // An editor's atomic save over a file a reader has open.
    std::fs::write(m.join("log"), b"old contents").unwrap();
    let mut reader = std::fs::File::open(m.join("log")).unwrap();
    std::fs::write(m.join("log.tmp"), b"new contents").unwrap();
    std::fs::rename(m.join("log.tmp"), m.join("log")).unwrap();
    got.clear();
    reader.read_to_string(&mut got).unwrap();
    assert_eq!(got, "old contents");
    assert_eq!(std::fs::read(m.join("log")).unwrap(), b"new contents");
    // ... and over a lower file a reader has open.
    let mut lower_reader = std::fs::File::open(m.join("a")).unwrap();
    std::fs::write(m.join("a.tmp"), b"replaced").unwrap();
    std::fs::rename(m.join("a.tmp"), m.join("a")).unwrap();
    got.clear();
    lower_reader.read_to_string(&mut got).unwrap();
    assert_eq!(got, "hello\n");
    drop((f, reader, lower_reader));
    // The orphans were freed at the last close: the image checks clean.
    unmount_and_check(&s, guard);
    let fs = ext2fs::fs::Filesystem::open(&s.img, &Default::default()).unwrap();
    assert_eq!(fs.sb().s_last_orphan, 0, "an orphan was left on the list");
}

#[test]
fn losing_a_link_changes_ctime() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    let guard = mount_engine(&s);
    let m = &s.mnt;
    std::fs::write(m.join("one"), b"1").unwrap();
    std::fs::hard_link(m.join("one"), m.join("two")).unwrap();
    std::fs::hard_link(m.join("one"), m.join("three")).unwrap();
    let before = std::fs::metadata(m.join("one")).unwrap().ctime();
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::remove_file(m.join("two")).unwrap();
    let after = std::fs::metadata(m.join("one")).unwrap().ctime();
    assert!(
        after > before,
        "unlink of a second name left ctime at {before}"
    );
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(m.join("other"), b"o").unwrap();
    std::fs::rename(m.join("other"), m.join("three")).unwrap();
    let last = std::fs::metadata(m.join("one")).unwrap().ctime();
    assert!(
        last > after,
        "rename over a second name left ctime at {after}"
    );
    unmount_and_check(&s, guard);
}

#[test]
fn listing_while_deleting_returns_every_entry() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    let guard = mount_engine(&s);
    let d = s.mnt.join("many");
    std::fs::create_dir(&d).unwrap();
    const N: usize = 3000;
    for i in 0..N {
        std::fs::write(d.join(format!("entry-{i:05}")), b"").unwrap();
    }
    let mut seen = 0;
    for e in std::fs::read_dir(&d).unwrap() {
        let e = e.unwrap();
        std::fs::remove_file(e.path()).unwrap();
        seen += 1;
    }
    assert_eq!(seen, N, "the listing skipped entries deleted meanwhile");
    assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0);
    unmount_and_check(&s, guard);
}

/// Runs `args` as uid/gid 1000 (setpriv) and returns its output.
fn as_user(args: &[&str]) -> std::process::Output {
    std::process::Command::new("setpriv")
        .args(["--reuid", "1000", "--regid", "1000", "--clear-groups", "--"])
        .args(args)
        .output()
        .unwrap()
}

/// Tests that run commands as another user need setpriv(1) too.
fn skip_without_fuse_or_setpriv() -> bool {
    if skip_without_fuse() {
        return true;
    }
    if !integration_tests::have_tool("setpriv") {
        integration_tests::skip("setpriv(1) (util-linux) is missing");
        return true;
    }
    false
}

/// A union directory everybody may write in, reachable by uid 1000.
fn open_to_all(s: &Setup, name: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let perm = |p: &std::path::Path, m| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
    };
    perm(s.lower.parent().unwrap(), 0o755);
    let d = s.mnt.join(name);
    std::fs::create_dir(&d).unwrap();
    perm(&d, 0o1777);
    d
}

#[test]
fn the_kernels_ext2_rules_apply_through_the_union() {
    if skip_without_fuse_or_setpriv() {
        return;
    }
    let s = setup();
    let guard = mount_engine(&s);
    let m = &s.mnt;
    // The top image's lost+found is e2fsck's: not in the union.
    assert!(std::fs::read_dir(m)
        .unwrap()
        .all(|e| e.unwrap().file_name() != "lost+found"));
    assert!(std::fs::symlink_metadata(m.join("lost+found")).is_err());

    // Device nodes only for root.
    let pub_dir = open_to_all(&s, "pub");
    let dev = pub_dir.join("null2");
    let out = as_user(&["mknod", dev.to_str().unwrap(), "c", "1", "3"]);
    assert!(
        !out.status.success(),
        "an unprivileged mknod of a device worked"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not permitted"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fifo = pub_dir.join("fifo");
    assert!(as_user(&["mkfifo", fifo.to_str().unwrap()])
        .status
        .success());
    let st = std::process::Command::new("mknod")
        .args([dev.to_str().unwrap(), "c", "1", "3"])
        .status()
        .unwrap();
    assert!(st.success(), "root's mknod failed");

    // A setgid directory gives its group, and its setgid bit to new
    // directories.
    let sg = m.join("sg");
    std::fs::create_dir(&sg).unwrap();
    std::os::unix::fs::chown(&sg, None, Some(4242)).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&sg, std::fs::Permissions::from_mode(0o2775)).unwrap();
    }
    std::fs::write(sg.join("f"), b"").unwrap();
    std::fs::create_dir(sg.join("d")).unwrap();
    assert_eq!(std::fs::metadata(sg.join("f")).unwrap().gid(), 4242);
    let d = std::fs::metadata(sg.join("d")).unwrap();
    assert_eq!((d.gid(), d.mode() & 0o2000), (4242, 0o2000));

    // The root-reserved blocks: a user fills the image up to them, root
    // can still write.
    let big = pub_dir.join("big");
    let out = as_user(&[
        "dd",
        "if=/dev/urandom",
        &format!("of={}", big.display()),
        "bs=64k",
        "count=1000",
    ]);
    assert!(
        !out.status.success(),
        "a user wrote past the reserved blocks"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("No space left"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(m.join("root-still-writes"), vec![1u8; 200_000]).unwrap();
    std::fs::remove_file(&big).unwrap();
    unmount_and_check(&s, guard);
}

/// The permission bits of `p` (setuid, setgid and sticky included).
fn perm_of(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().mode() & 0o7777
}

#[test]
fn writes_truncates_and_chowns_clear_setuid_and_setgid() {
    if skip_without_fuse_or_setpriv() {
        return;
    }
    let s = setup();
    let guard = mount_engine(&s);
    let d = open_to_all(&s, "pub");
    let file = |name: &str, mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        let p = d.join(name);
        std::fs::write(&p, b"data\n").unwrap();
        std::os::unix::fs::chown(&p, Some(1000), Some(1000)).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    };
    let (written, truncated) = (file("written", 0o6755), file("truncated", 0o6755));
    let (chowned, by_root) = (file("chowned", 0o6755), file("by-root", 0o6755));
    let locking = file("locking", 0o2664);
    for (p, redirect) in [(&written, ">>"), (&truncated, ">"), (&locking, ">>")] {
        let sh = format!("echo more {redirect} '{}'", p.display());
        assert!(as_user(&["sh", "-c", &sh]).status.success(), "{sh}");
    }
    std::os::unix::fs::chown(&chowned, Some(0), Some(0)).unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&by_root)
        .unwrap()
        .write_all(b"root keeps the bits\n")
        .unwrap();
    let dir = d.join("sgid-dir");
    std::fs::create_dir(&dir).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o2775)).unwrap();
    }
    std::os::unix::fs::chown(&dir, Some(1000), None).unwrap();
    // As the kernel's ext2: a writer or truncater without CAP_FSETID and
    // any chown of a non-directory take setuid, and setgid with group
    // execution; setgid without it (mandatory locking) stays.
    let want = [
        (&written, 0o755),
        (&truncated, 0o755),
        (&chowned, 0o755),
        (&by_root, 0o6755),
        (&locking, 0o2664),
        (&dir, 0o2775),
    ];
    for (p, mode) in want {
        assert_eq!(perm_of(p), mode, "{}", p.display());
    }
    // The same in the image, seen by a new mount.
    umount_retrying(&s.mnt);
    wait_for_release(&s.img);
    drop(guard);
    let guard = mount_engine(&s);
    for (p, mode) in want {
        assert_eq!(perm_of(p), mode, "{} after a remount", p.display());
    }
    unmount_and_check(&s, guard);
}

/// Sets the link count of the top inode `ino` (the library's writes are
/// checked against the limit, a byte edit of the record is not).
fn set_links(fs: &mut ext2fs::fs::Filesystem, ino: u32, n: u16) {
    let mut rec = fs.read_inode(ino).unwrap();
    rec.base.i_links_count = n;
    fs.write_inode(ino, &rec).unwrap();
}

#[test]
fn a_link_past_the_ext2_limit_is_emlink() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    // A top file one link short of the limit and a directory at the limit
    // (with an empty subdirectory and a directory to move), made with the
    // library.
    {
        let mut fs = integration_tests::open_rw(&s.img);
        let ino = fs
            .create(2, b"many-links", ext2fs::inode::S_IFREG | 0o644)
            .unwrap();
        set_links(&mut fs, ino, 64_999);
        let full = fs.mkdir(2, b"full", 0o755).unwrap();
        fs.mkdir(full, b"empty", 0o755).unwrap();
        fs.mkdir(full, b"inside", 0o755).unwrap();
        set_links(&mut fs, full, ext2fs::inode::LINK_MAX);
        fs.mkdir(2, b"mover", 0o755).unwrap();
        fs.close().unwrap();
    }
    let guard = mount_engine(&s);
    let m = &s.mnt;
    let emlink = Some(rustix::io::Errno::MLINK.raw_os_error());
    std::fs::hard_link(m.join("many-links"), m.join("link-65000")).unwrap();
    let e = std::fs::hard_link(m.join("many-links"), m.join("link-65001")).unwrap_err();
    assert_eq!(e.raw_os_error(), emlink);
    // A directory at the limit takes no new subdirectory, made or moved
    // in (as vfs_rename with ext2's s_max_links) ...
    assert_eq!(errno_of(std::fs::create_dir(m.join("full/new"))), emlink);
    assert_eq!(
        errno_of(std::fs::rename(m.join("mover"), m.join("full/mover"))),
        emlink
    );
    assert!(m.join("mover").is_dir(), "the refused rename moved it");
    // ... but a file, a directory replacing an empty one, and a rename
    // inside it add no link to it.
    std::fs::rename(m.join("a"), m.join("full/a")).unwrap();
    std::fs::rename(m.join("mover"), m.join("full/empty")).unwrap();
    std::fs::rename(m.join("full/inside"), m.join("full/moved")).unwrap();
    assert_eq!(
        std::fs::metadata(m.join("full")).unwrap().nlink(),
        u64::from(ext2fs::inode::LINK_MAX)
    );
    umount_retrying(m);
    wait_for_release(&s.img);
    drop(guard);
}

fn mount_options_of(mnt: &std::path::Path) -> String {
    mountinfo_of(mnt, |l| l.split(' ').nth(5))
}

/// A field of the mountinfo line of the mount at `mnt`.
fn mountinfo_of(mnt: &std::path::Path, field: impl Fn(&str) -> Option<&str>) -> String {
    let canon = std::fs::canonicalize(mnt).unwrap();
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines()
        .find(|l| l.split(' ').nth(4) == Some(canon.to_str().unwrap()))
        .and_then(field)
        .unwrap_or_default()
        .to_string()
}

#[test]
fn mount_flags_reach_the_kernel() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    let guard = mount_engine_with(&s, "noexec,nosuid,nodev,noatime,");
    let opts = mount_options_of(&s.mnt);
    for o in ["noexec", "nosuid", "nodev", "noatime"] {
        assert!(opts.split(',').any(|x| x == o), "{o} missing from {opts}");
    }
    let script = s.mnt.join("run.sh");
    std::fs::write(&script, b"#!/bin/sh\nexit 0\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let e = std::process::Command::new(&script).status().unwrap_err();
    assert_eq!(
        e.raw_os_error(),
        Some(rustix::io::Errno::ACCESS.raw_os_error())
    );
    umount_retrying(&s.mnt);
    wait_for_release(&s.img);
    drop(guard);
    // Without options: exec, suid, dev and the kernel's relatime.
    let guard = mount_engine(&s);
    let opts = mount_options_of(&s.mnt);
    assert!(opts.split(',').any(|x| x == "relatime"), "{opts}");
    for o in ["noexec", "nosuid", "nodev"] {
        assert!(!opts.split(',').any(|x| x == o), "{o} in {opts}");
    }
    assert!(std::process::Command::new(&script)
        .status()
        .unwrap()
        .success());
    // Options a FUSE mount cannot take are refused, not dropped.
    unmount_and_check(&s, guard);
    let out = fuse_mount(
        &s,
        &format!("union,strictatime,lowerdir={}", s.lower.display()),
    );
    let why = integration_tests::text(&out);
    assert_eq!(out.status.code(), Some(32), "{why}");
    assert!(why.contains("strictatime"), "{why}");
}

#[test]
fn hard_links_are_one_object_through_every_name() {
    if skip_without_fuse() {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let s = setup();
    let guard = mount_engine(&s);
    let m = &s.mnt;
    std::fs::write(m.join("first"), b"shared").unwrap();
    std::fs::create_dir(m.join("dir")).unwrap();
    std::fs::hard_link(m.join("first"), m.join("dir/second")).unwrap();
    // A lower file linked: copied up once, then one object too.
    std::fs::hard_link(m.join("a"), m.join("a-too")).unwrap();
    for (x, y) in [("first", "dir/second"), ("a", "a-too")] {
        let (mx, my) = (
            std::fs::metadata(m.join(x)).unwrap(),
            std::fs::metadata(m.join(y)).unwrap(),
        );
        assert_eq!(mx.ino(), my.ino(), "{x} and {y} differ");
        assert_eq!((mx.nlink(), my.nlink()), (2, 2), "{x}, {y}");
        std::fs::set_permissions(m.join(x), std::fs::Permissions::from_mode(0o640)).unwrap();
        assert_eq!(std::fs::metadata(m.join(y)).unwrap().mode() & 0o777, 0o640);
    }
    std::fs::remove_file(m.join("first")).unwrap();
    assert_eq!(std::fs::metadata(m.join("dir/second")).unwrap().nlink(), 1);
    assert_eq!(std::fs::read(m.join("dir/second")).unwrap(), b"shared");
    let ino = std::fs::metadata(m.join("dir/second")).unwrap().ino();
    let lower_ino = std::fs::metadata(m.join("keep/k")).unwrap().ino();
    umount_retrying(m);
    wait_for_release(&s.img);
    drop(guard);
    // The same numbers after a remount.
    let guard = mount_engine(&s);
    assert_eq!(std::fs::metadata(m.join("dir/second")).unwrap().ino(), ino);
    assert_eq!(
        std::fs::metadata(m.join("keep/k")).unwrap().ino(),
        lower_ino
    );
    unmount_and_check(&s, guard);
}

/// The nanoseconds of `t` (a stat time).
fn nsec_of(t: std::time::SystemTime) -> u32 {
    t.duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
}

#[test]
fn timestamps_keep_nanoseconds_where_the_inode_has_room() {
    if skip_without_fuse() {
        return;
    }
    // 2023-11-14 22:13:20.123456789 UTC
    let when = std::time::UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
    for (inode_size, room) in [("256", true), ("128", false)] {
        let s = setup();
        let out = integration_tests::run(
            std::process::Command::new(integration_tests::our_bin("mke2fs-union"))
                .args(["-q", "-F", "-O", "whiteout", "-I", inode_size])
                .arg(&s.img)
                .arg("16M"),
        );
        assert!(out.status.success(), "{}", integration_tests::text(&out));
        let m = &s.mnt;
        let lower_mtime = std::fs::metadata(s.lower.join("a"))
            .unwrap()
            .modified()
            .unwrap();
        let guard = mount_engine(&s);
        std::fs::write(m.join("f"), b"f").unwrap();
        std::fs::create_dir(m.join("newdir")).unwrap();
        std::fs::File::open(m.join("f"))
            .unwrap()
            .set_modified(when)
            .unwrap();
        // A lower file copied up (by chmod) keeps its mtime.
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(m.join("a"), std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let check = |what: &str| {
            let f = std::fs::metadata(m.join("f")).unwrap();
            let d = std::fs::metadata(m.join("newdir")).unwrap();
            let a = std::fs::metadata(m.join("a")).unwrap().modified().unwrap();
            let made = [f.ctime_nsec(), d.ctime_nsec(), d.mtime_nsec()];
            if room {
                assert_eq!(f.modified().unwrap(), when, "-I {inode_size} {what}");
                assert_eq!(a, lower_mtime, "-I {inode_size} {what}");
                assert!(made.iter().any(|&n| n != 0), "-I {inode_size} {what}");
            } else {
                let whole = |t| t - Duration::from_nanos(nsec_of(t) as u64);
                assert_eq!(f.modified().unwrap(), whole(when), "{what}");
                assert_eq!(a, whole(lower_mtime), "{what}");
                assert_eq!(made, [0, 0, 0], "-I 128 {what}");
            }
        };
        check("while mounted");
        unmount_and_check(&s, guard);
        let guard = mount_engine(&s);
        check("after a remount");
        umount_retrying(m);
        wait_for_release(&s.img);
        drop(guard);
        // e2fsprogs reads the same: the extra word is nanoseconds << 2.
        let out = integration_tests::run(
            std::process::Command::new("debugfs")
                .args(["-R", "stat /f"])
                .arg(integration_tests::stock_copy(&s.img)),
        );
        let stat = integration_tests::text(&out);
        let want = if room {
            " mtime: 0x6553f100:1d6f3454 "
        } else {
            "mtime: 0x6553f100 -- "
        };
        assert!(stat.contains(want), "-I {inode_size}: {stat}");
    }
}

fn lost_found_listed(m: &std::path::Path) -> bool {
    std::fs::read_dir(m)
        .unwrap()
        .any(|e| e.unwrap().file_name() == "lost+found")
}

#[test]
fn a_lost_found_made_in_the_union_root_is_the_unions() {
    if skip_without_fuse() {
        return;
    }
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let s = setup();
    let guard = mount_engine(&s);
    let m = &s.mnt;
    let lf = m.join("lost+found");
    // e2fsck's is hidden; mkdir takes it over (a restore of a whole
    // filesystem's tree makes one).
    assert!(!lost_found_listed(m));
    std::fs::DirBuilder::new().mode(0o750).create(&lf).unwrap();
    assert!(lost_found_listed(m));
    assert_eq!(std::fs::metadata(&lf).unwrap().mode() & 0o7777, 0o750);
    std::fs::write(lf.join("kept"), b"k").unwrap();
    assert_eq!(std::fs::read_dir(&lf).unwrap().count(), 1);
    assert_eq!(
        errno_of(std::fs::remove_dir(&lf)),
        Some(rustix::io::Errno::NOTEMPTY.raw_os_error())
    );
    std::fs::remove_file(lf.join("kept")).unwrap();
    // rmdir gives it back to e2fsck: hidden again, still in the image.
    std::fs::remove_dir(&lf).unwrap();
    assert!(!lost_found_listed(m));
    assert!(std::fs::symlink_metadata(&lf).is_err());
    // Only a directory can take the name.
    assert_eq!(
        errno_of(std::fs::write(&lf, b"file")),
        Some(rustix::io::Errno::EXIST.raw_os_error())
    );
    // A directory renamed there replaces it.
    std::fs::create_dir(m.join("mine")).unwrap();
    std::fs::write(m.join("mine/inside"), b"i").unwrap();
    std::fs::rename(m.join("mine"), &lf).unwrap();
    assert!(lost_found_listed(m));
    assert_eq!(std::fs::read(lf.join("inside")).unwrap(), b"i");
    unmount_and_check(&s, guard);
    let guard = mount_engine(&s);
    assert!(
        lost_found_listed(m),
        "the union's lost+found went at a remount"
    );
    assert_eq!(std::fs::read(lf.join("inside")).unwrap(), b"i");
    unmount_and_check(&s, guard);

    // e2fsck put a file in its lost+found: mkdir does not take it over.
    let s = setup();
    {
        let mut fs = integration_tests::open_rw(&s.img);
        let lf_ino = fs.lookup_entry(2, b"lost+found").unwrap().unwrap().inode;
        fs.create(lf_ino, b"#12", ext2fs::inode::S_IFREG | 0o644)
            .unwrap();
        fs.close().unwrap();
    }
    let guard = mount_engine(&s);
    assert_eq!(
        errno_of(std::fs::create_dir(s.mnt.join("lost+found"))),
        Some(rustix::io::Errno::EXIST.raw_os_error())
    );
    umount_retrying(&s.mnt);
    wait_for_release(&s.img);
    drop(guard);

    // A lower layer's lost+found merges with the top one, and takes
    // writes.
    let s = setup();
    std::fs::create_dir(s.lower.join("lost+found")).unwrap();
    std::fs::write(s.lower.join("lost+found/found"), b"f").unwrap();
    std::fs::set_permissions(
        s.lower.join("lost+found"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    let guard = mount_engine(&s);
    let lf = s.mnt.join("lost+found");
    assert!(lost_found_listed(&s.mnt));
    assert_eq!(std::fs::read(lf.join("found")).unwrap(), b"f");
    std::fs::write(lf.join("new"), b"n").unwrap();
    assert_eq!(std::fs::read_dir(&lf).unwrap().count(), 2);
    unmount_and_check(&s, guard);
}

#[test]
fn lower_hard_links_stay_one_object_through_copy_up() {
    if skip_without_fuse() {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let s = setup();
    // One lower file under three names in three directories.
    std::fs::hard_link(s.lower.join("d/b"), s.lower.join("keep/b2")).unwrap();
    std::fs::hard_link(s.lower.join("d/b"), s.lower.join("e/b3")).unwrap();
    let guard = mount_engine(&s);
    let m = &s.mnt;
    let names = ["d/b", "keep/b2", "e/b3"];
    let same = |names: &[&str], nlink: u64, mode: u32| {
        let meta: Vec<_> = names
            .iter()
            .map(|n| std::fs::metadata(m.join(n)).unwrap())
            .collect();
        for (n, x) in names.iter().zip(&meta) {
            assert_eq!(x.ino(), meta[0].ino(), "{n}");
            assert_eq!((x.nlink(), x.mode() & 0o777), (nlink, mode), "{n}");
        }
    };
    same(&names, 3, 0o644);
    // A chmod through one name copies the file up: all three names are
    // the one top inode.
    std::fs::set_permissions(m.join("keep/b2"), std::fs::Permissions::from_mode(0o600)).unwrap();
    same(&names, 3, 0o600);
    std::fs::OpenOptions::new()
        .append(true)
        .open(m.join("e/b3"))
        .unwrap()
        .write_all(b"more\n")
        .unwrap();
    assert_eq!(std::fs::read(m.join("d/b")).unwrap(), b"bee\nmore\n");
    std::fs::remove_file(m.join("e/b3")).unwrap();
    same(&names[..2], 2, 0o600);
    unmount_and_check(&s, guard);
    // They are ext2 hard links in the top image: the same after a remount.
    let guard = mount_engine(&s);
    same(&names[..2], 2, 0o600);
    assert_eq!(std::fs::read(m.join("keep/b2")).unwrap(), b"bee\nmore\n");
    assert!(!m.join("e/b3").exists());
    unmount_and_check(&s, guard);
}

/// Runs `sh -c script` as `uid`/`gid` (setpriv).
fn as_ids(uid: u32, gid: u32, script: &str) -> std::process::Output {
    std::process::Command::new("setpriv")
        .args(["--reuid", &uid.to_string(), "--regid", &gid.to_string()])
        .args(["--clear-groups", "--", "sh", "-c", script])
        .output()
        .unwrap()
}

/// The superblock's resuid and resgid may use the root-reserved blocks
/// too (ext2_has_free_blocks); anybody else stops short of them.
#[test]
fn resuid_and_resgid_may_use_the_reserved_blocks() {
    if skip_without_fuse_or_setpriv() {
        return;
    }
    let s = setup();
    let (free, reserved, bs) = {
        let mut fs = integration_tests::open_rw(&s.img);
        fs.update_superblock(|sb| {
            sb.s_def_resuid = 3001;
            sb.s_def_resgid = 3002;
        });
        fs.sync().unwrap();
        let sb = fs.sb();
        (
            sb.s_free_blocks_count as u64,
            sb.s_r_blocks_count as u64,
            fs.block_size() as u64,
        )
    };
    assert!(
        reserved > 200,
        "no reserved blocks to test with: {reserved}"
    );
    // Half-way into the reserved blocks, less the block map's blocks.
    let bytes = (free - reserved / 2 - free / 128) * bs;
    let guard = mount_engine(&s);
    let pub_dir = open_to_all(&s, "pub");
    for (uid, gid, allowed) in [(3001, 3000, true), (3000, 3002, true), (3000, 3000, false)] {
        let f = pub_dir.join(format!("fill-{uid}-{gid}"));
        let out = as_ids(
            uid,
            gid,
            // Not zeroes: those would be holes.
            &format!("head -c {bytes} /dev/zero | tr '\\0' x > {}", f.display()),
        );
        let why = integration_tests::text(&out);
        if allowed {
            assert!(out.status.success(), "uid {uid} gid {gid}: {why}");
            assert_eq!(std::fs::metadata(&f).unwrap().len(), bytes);
        } else {
            assert!(
                !out.status.success() && why.contains("No space left"),
                "uid {uid} gid {gid} used the reserved blocks: {why}"
            );
        }
        std::fs::remove_file(&f).unwrap();
    }
    unmount_and_check(&s, guard);
}

/// The super options of the mount at `mnt` (after the " - " in
/// mountinfo: where the kernel shows sync and dirsync).
fn super_options_of(mnt: &std::path::Path) -> String {
    mountinfo_of(mnt, |l| l.split(" - ").nth(1)?.split(' ').nth(2))
}

/// Whether `path` (from the root) names something in the image.
fn in_image(img: &std::path::Path, path: &str) -> bool {
    let fs = ext2fs::fs::Filesystem::open(img, &Default::default()).unwrap();
    let mut dir = ext2fs::inode::ROOT_INO;
    for c in path.split('/') {
        match fs.lookup_entry(dir, c.as_bytes()).unwrap() {
            Some(e) if e.inode != 0 => dir = e.inode,
            _ => return false,
        }
    }
    true
}

/// `sync` and `dirsync` reach the kernel, and the engine keeps them: after
/// the engine is killed, every directory change made under dirsync is in
/// the image, and under sync the data written and attributes set too.
#[test]
fn sync_and_dirsync_changes_survive_a_killed_engine() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    let lower = s.lower.display().to_string();
    let (mut child, guard) =
        mount_foreground(&format!("union,dirsync,lowerdir={lower}"), &s.img, &s.mnt);
    let opts = super_options_of(&s.mnt);
    assert!(opts.split(',').any(|o| o == "dirsync"), "{opts}");
    let m = &s.mnt;
    std::fs::create_dir(m.join("made")).unwrap();
    std::fs::write(m.join("made/new"), b"").unwrap();
    std::os::unix::fs::symlink("a", m.join("made/sl")).unwrap();
    std::fs::rename(m.join("made/new"), m.join("made/moved")).unwrap();
    std::fs::hard_link(m.join("made/moved"), m.join("made/linked")).unwrap();
    std::fs::remove_file(m.join("d/b")).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    drop(guard);
    for p in ["made", "made/moved", "made/sl", "made/linked"] {
        assert!(in_image(&s.img, p), "{p} was lost with the engine");
    }
    assert!(!in_image(&s.img, "made/new"), "made/new was not renamed");
    // d/b is whited out: d is in the top layer with an entry for b.
    let fs = ext2fs::fs::Filesystem::open(&s.img, &Default::default()).unwrap();
    let d = fs
        .lookup_entry(ext2fs::inode::ROOT_INO, b"d")
        .unwrap()
        .unwrap();
    let b = fs.lookup_entry(d.inode, b"b").unwrap().unwrap();
    assert_eq!((b.inode, b.file_type), (0, ext2fs::dirent::ft::WHT));
    drop(fs);
    let out = integration_tests::run(
        std::process::Command::new(integration_tests::our_bin("e2fsck-union"))
            .arg("-fy")
            .arg(&s.img),
    );
    let why = integration_tests::text(&out);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{why}");

    let (mut child, guard) =
        mount_foreground(&format!("union,sync,lowerdir={lower}"), &s.img, &s.mnt);
    let opts = super_options_of(&s.mnt);
    assert!(opts.split(',').any(|o| o == "sync"), "{opts}");
    std::fs::write(m.join("made/data"), vec![b'd'; 50_000]).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::Permissions::from_mode(0o640);
        std::fs::set_permissions(m.join("made/moved"), mode).unwrap();
    }
    rustix::fs::setxattr(
        m.join("made/moved"),
        "user.kept",
        b"yes",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    drop(guard);
    let fs = ext2fs::fs::Filesystem::open(&s.img, &Default::default()).unwrap();
    let made = fs
        .lookup_entry(ext2fs::inode::ROOT_INO, b"made")
        .unwrap()
        .unwrap();
    let e = fs.lookup_entry(made.inode, b"data").unwrap().unwrap();
    let i = fs.read_inode(e.inode).unwrap();
    assert_eq!(fs.read_range(&i, 0, 60_000).unwrap(), vec![b'd'; 50_000]);
    let e = fs.lookup_entry(made.inode, b"moved").unwrap().unwrap();
    assert_eq!(fs.read_inode(e.inode).unwrap().mode() & 0o7777, 0o640);
    let x = fs.list_xattrs(e.inode).unwrap();
    assert!(
        x.iter().any(|x| x.name == "user.kept" && x.value == b"yes"),
        "{x:?}"
    );
}

/// A file unlinked while open is on the image's orphan list once synced;
/// when the engine is killed before the last close, e2fsck-union frees it
/// (as after a crash of the kernel's ext2) and the image is clean again.
/// The mount itself counted the mount and stamped its time.
#[test]
fn an_orphan_left_by_a_killed_engine_is_freed_by_the_checker() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let lower = s.lower.display().to_string();
    let (mut child, guard) = mount_foreground(&format!("union,lowerdir={lower}"), &s.img, &s.mnt);
    {
        let fs = ext2fs::fs::Filesystem::open(&s.img, &Default::default()).unwrap();
        let sb = fs.sb();
        assert_eq!(sb.s_mnt_count, 1);
        assert!(sb.s_mtime as u64 >= start, "mount time not stamped");
    }
    std::fs::write(s.mnt.join("doomed"), vec![b'o'; 100_000]).unwrap();
    let f = std::fs::File::open(s.mnt.join("doomed")).unwrap();
    std::fs::remove_file(s.mnt.join("doomed")).unwrap();
    f.sync_all().unwrap();
    let orphan = {
        let fs = ext2fs::fs::Filesystem::open(&s.img, &Default::default()).unwrap();
        fs.sb().s_last_orphan
    };
    assert_ne!(
        orphan, 0,
        "the unlinked open file is not on the orphan list"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    drop(f);
    drop(guard);
    let out = integration_tests::run(
        std::process::Command::new(integration_tests::our_bin("e2fsck-union"))
            .arg("-p")
            .arg(&s.img),
    );
    let why = integration_tests::text(&out);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{why}");
    let fs = ext2fs::fs::Filesystem::open(&s.img, &Default::default()).unwrap();
    assert_eq!(fs.sb().s_last_orphan, 0, "{why}");
    assert_eq!(fs.read_inode(orphan).unwrap().base.i_links_count, 0);
    drop(fs);
    integration_tests::assert_real_fsck_clean(&integration_tests::stock_copy(&s.img));
}
