//! The FUSE union engine (`mount-union --engine fuse`) against the real
//! kernel: a union-ext2 top image over a lower directory tree, the union
//! rules seen through the mountpoint, and the image afterwards checked by
//! the real e2fsck (on a stock copy) and debugfs.

mod fuse_common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use fuse_common::*;
use integration_tests::*;

#[test]
fn fuse_engine_union_rules_and_a_clean_image() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    let (lower, img, mnt) = (&s.lower, &s.img, &s.mnt);
    let opt = format!("union,lowerdir={}", lower.display());
    let out = run(Command::new(our_bin("mount-union"))
        .args(["--engine", "fuse", "-o", &opt])
        .arg(img)
        .arg(mnt));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let guard = Mounted(mnt.clone());
    assert!(
        mounted_at(mnt),
        "mount-union returned before the mount was up"
    );

    // Read-through and the merged directory.
    let mut names: Vec<String> = std::fs::read_dir(mnt)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["a", "d", "e", "keep", "link", "sparse"]);
    assert_eq!(std::fs::read(mnt.join("a")).unwrap(), b"hello\n");
    assert_eq!(std::fs::read(mnt.join("d/b")).unwrap(), b"bee\n");
    assert_eq!(
        std::fs::read_link(mnt.join("link")).unwrap(),
        Path::new("a")
    );

    // Copy-up: data, xattrs; the lower file is untouched.
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(mnt.join("a"))
            .unwrap();
        f.write_all(b"more\n").unwrap();
        f.sync_all().unwrap();
    }
    assert_eq!(std::fs::read(mnt.join("a")).unwrap(), b"hello\nmore\n");
    assert_eq!(std::fs::read(lower.join("a")).unwrap(), b"hello\n");
    let mut v = [0u8; 16];
    if let Ok(n) = rustix::fs::getxattr(lower.join("a"), "user.colour", &mut v) {
        assert_eq!(&v[..n], b"blue");
        let n =
            rustix::fs::getxattr(mnt.join("a"), "user.colour", &mut v).expect("xattr copied up");
        assert_eq!(&v[..n], b"blue");
    }
    // Copy-up of a sparse file keeps its hole.
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(mnt.join("sparse"))
            .unwrap();
        f.write_all(b"!").unwrap();
    }
    let data = std::fs::read(mnt.join("sparse")).unwrap();
    assert_eq!(data.len(), (1 << 20) + 5);
    assert!(data[..1 << 20].iter().all(|&b| b == 0));
    assert_eq!(&data[1 << 20..], b"tail!");
    {
        use std::os::unix::fs::MetadataExt;
        let blocks = std::fs::metadata(mnt.join("sparse")).unwrap().blocks();
        assert!(blocks < 64, "the hole was filled: {blocks} sectors");
    }
    // chmod copies up too.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(mnt.join("keep/k"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
        let m = std::fs::metadata(mnt.join("keep/k")).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o600);
        let m = std::fs::metadata(lower.join("keep/k")).unwrap();
        assert_ne!(m.permissions().mode() & 0o777, 0o600);
    }

    // Unlink of a lower name leaves a whiteout.
    std::fs::remove_file(mnt.join("d/b")).unwrap();
    assert!(!mnt.join("d/b").exists());
    assert!(lower.join("d/b").exists());

    // rmdir of a non-empty merged dir fails; emptied, it goes; mkdir over
    // its whiteout makes an opaque (empty) directory.
    assert_eq!(
        errno_of(std::fs::remove_dir(mnt.join("d/sub"))),
        Some(libc_enotempty())
    );
    std::fs::remove_file(mnt.join("d/sub/x")).unwrap();
    std::fs::remove_dir(mnt.join("d/sub")).unwrap();
    assert!(!mnt.join("d/sub").exists());
    std::fs::create_dir(mnt.join("d/sub")).unwrap();
    assert_eq!(std::fs::read_dir(mnt.join("d/sub")).unwrap().count(), 0);
    assert!(lower.join("d/sub/x").exists());

    // Renaming a lower directory is EXDEV; a file renames (whiteout behind).
    assert_eq!(
        errno_of(std::fs::rename(mnt.join("e"), mnt.join("e2"))),
        Some(libc_exdev())
    );
    assert!(mnt.join("e").is_dir());
    std::fs::rename(mnt.join("a"), mnt.join("a2")).unwrap();
    assert!(!mnt.join("a").exists());
    assert_eq!(std::fs::read(mnt.join("a2")).unwrap(), b"hello\nmore\n");
    // A new top directory renames freely.
    std::fs::create_dir(mnt.join("new")).unwrap();
    std::fs::write(mnt.join("new/f"), b"f").unwrap();
    std::fs::rename(mnt.join("new"), mnt.join("d/new2")).unwrap();
    assert_eq!(std::fs::read(mnt.join("d/new2/f")).unwrap(), b"f");

    // symlink, hard link, fifo.
    std::os::unix::fs::symlink("a2", mnt.join("l2")).unwrap();
    std::fs::hard_link(mnt.join("a2"), mnt.join("a3")).unwrap();
    {
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(mnt.join("a3")).unwrap().nlink(), 2);
    }
    let st = Command::new("mkfifo")
        .arg(mnt.join("fifo"))
        .status()
        .unwrap();
    assert!(st.success());

    // statfs reports the top image.
    let sv = rustix::fs::statvfs(mnt).unwrap();
    assert_eq!(sv.f_blocks * sv.f_frsize, 16 << 20);

    // Unmount; the engine flushes and lets the image go.
    umount_retrying(mnt);
    wait_for_release(img);
    drop(guard);
    assert!(!mounted_at(mnt));

    // The image: whiteouts and the opaque directory, as our library sees them.
    let fs = ext2fs::fs::Filesystem::open(img, &Default::default()).unwrap();
    let d = fs.namei(2, "/d").unwrap();
    let b = fs.lookup_entry(d, b"b").unwrap().expect("whiteout for d/b");
    assert_eq!((b.inode, b.file_type), (0, 8));
    let sub = fs.namei(2, "/d/sub").unwrap();
    assert!(fs.read_inode(sub).unwrap().is_opaque());
    let a = fs.lookup_entry(2, b"a").unwrap().expect("whiteout for a");
    assert_eq!((a.inode, a.file_type), (0, 8));
    drop(fs);

    // ... as the real tools see them, on a stock copy.
    let stock = stock_copy(img);
    assert_real_fsck_clean(&stock);
    let ls = String::from_utf8_lossy(&real_debugfs(&stock, "ls -l /d")).into_owned();
    assert!(
        ls.lines()
            .any(|l| l.contains("(8)") && l.split_whitespace().last() == Some("b")),
        "no whiteout for b in debugfs ls -l /d:\n{ls}"
    );
    let stat = String::from_utf8_lossy(&real_debugfs(&stock, "stat /d/sub")).into_owned();
    assert!(stat.contains("Flags: 0x800000"), "{stat}");
    let cat = real_debugfs(&stock, "cat /a2");
    assert_eq!(cat, b"hello\nmore\n");
}

#[test]
fn foreground_mode_and_errors_before_detaching() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    // Errors are reported before detaching: a missing lower layer.
    let out = run(Command::new(our_bin("mount-union"))
        .args(["--engine", "fuse", "-o", "union,lowerdir=/no/such/lower"])
        .arg(&s.img)
        .arg(&s.mnt));
    assert_eq!(out.status.code(), Some(32), "{}", text(&out));
    assert!(text(&out).contains("/no/such/lower"), "{}", text(&out));
    assert!(!mounted_at(&s.mnt));
    // The FUSE engine needs lower layers.
    let out = run(Command::new(our_bin("mount-union"))
        .args(["--engine", "fuse", "-o", "union"])
        .arg(&s.img)
        .arg(&s.mnt));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // A top image without the whiteout feature is refused.
    let plain = s.img.with_extension("plain.img");
    real_mkfs(&plain, &[], "8M");
    let opt = format!("union,lowerdir={}", s.lower.display());
    let out = run(Command::new(our_bin("mount-union"))
        .args(["-o", &opt])
        .arg(&plain)
        .arg(&s.mnt));
    assert_eq!(out.status.code(), Some(32), "{}", text(&out));
    assert!(text(&out).contains("whiteout"), "{}", text(&out));

    // The native engine with lowerdir= on a kernel without union mounts:
    // refused, the lower bind mounts undone.
    let out = run(Command::new(our_bin("mount-union"))
        .args(["--engine", "native", "-o", &opt])
        .arg(&s.img)
        .arg(&s.mnt));
    assert_eq!(out.status.code(), Some(32), "{}", text(&out));
    assert!(!mounted_at(&s.mnt), "a bind mount was left behind");

    // -F: serves in the foreground until unmounted.
    let (mut child, guard) = mount_foreground(&opt, &s.img, &s.mnt);
    std::fs::write(s.mnt.join("new"), b"n").unwrap();
    assert_eq!(std::fs::read(s.mnt.join("keep/k")).unwrap(), b"k\n");
    umount_retrying(&s.mnt);
    let st = child.wait().unwrap();
    assert!(st.success(), "mount-union -F: {st}");
    drop(guard);
    assert_real_fsck_clean(&stock_copy(&s.img));
    assert_eq!(real_debugfs(&stock_copy(&s.img), "cat /new"), b"n");

    // SIGTERM unmounts and flushes too.
    let (mut child, guard) = mount_foreground(&opt, &s.img, &s.mnt);
    std::fs::create_dir(s.mnt.join("made-before-sigterm")).unwrap();
    std::fs::remove_file(s.mnt.join("keep/k")).unwrap();
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::Term).unwrap();
    let st = child.wait().unwrap();
    assert!(st.success(), "mount-union -F after SIGTERM: {st}");
    assert!(!mounted_at(&s.mnt));
    drop(guard);
    let stock = stock_copy(&s.img);
    assert_real_fsck_clean(&stock);
    let ls = String::from_utf8_lossy(&real_debugfs(&stock, "ls -l /")).into_owned();
    assert!(ls.contains("made-before-sigterm"), "{ls}");
}

fn libc_exdev() -> i32 {
    rustix::io::Errno::XDEV.raw_os_error()
}

fn libc_enotempty() -> i32 {
    rustix::io::Errno::NOTEMPTY.raw_os_error()
}

/// What a tree looks like through a mountpoint: path, type, mode, data or
/// link target (times and inode numbers left out).
fn snapshot(root: &Path) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(root).sort_by_file_name().min_depth(1) {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(root).unwrap().display().to_string();
        if rel == "lost+found" || rel.starts_with("lost+found/") {
            continue;
        }
        let m = std::fs::symlink_metadata(e.path()).unwrap();
        let what = if m.is_file() {
            format!("{:?}", std::fs::read(e.path()).unwrap())
        } else if m.file_type().is_symlink() {
            std::fs::read_link(e.path()).unwrap().display().to_string()
        } else {
            String::new()
        };
        out.push(format!(
            "{rel} {:o} {}:{} {what}",
            m.mode(),
            m.uid(),
            m.gid()
        ));
    }
    out
}

/// One script of changes; the errno of each step is part of the result.
fn script(m: &Path) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let r = |x: std::io::Result<()>| match x {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("errno {}", e.raw_os_error().unwrap_or(-1)),
    };
    vec![
        r(std::fs::write(m.join("a"), b"rewritten")),
        r(std::fs::remove_file(m.join("d/b"))),
        r(std::fs::remove_dir(m.join("d/sub"))),
        r(std::fs::remove_file(m.join("d/sub/x"))),
        r(std::fs::remove_dir(m.join("d/sub"))),
        r(std::fs::create_dir(m.join("d/sub"))),
        r(std::fs::write(m.join("d/sub/y"), b"y")),
        r(std::fs::rename(m.join("e"), m.join("e2"))),
        r(std::fs::rename(m.join("link"), m.join("link2"))),
        r(std::fs::rename(m.join("keep/k"), m.join("k-moved"))),
        r(std::fs::set_permissions(
            m.join("keep"),
            std::fs::Permissions::from_mode(0o700),
        )),
        r(std::os::unix::fs::chown(m.join("sparse"), Some(7), Some(8))),
        r(std::fs::hard_link(m.join("sparse"), m.join("sparse2"))),
        r(std::fs::create_dir_all(m.join("n1/n2"))),
        r(std::fs::rename(m.join("n1"), m.join("e/n1"))),
        r(std::fs::remove_dir(m.join("e/n1/n2"))),
        r(std::fs::remove_file(m.join("missing"))),
        r(std::fs::create_dir(m.join("a"))),
    ]
}

#[test]
fn same_results_as_overlayfs() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    // The kernel's overlayfs on the same lower tree.
    let ov = s.lower.parent().unwrap().join("ov");
    for d in ["ov", "upper", "work"] {
        std::fs::create_dir_all(s.lower.parent().unwrap().join(d)).unwrap();
    }
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        s.lower.display(),
        s.lower.parent().unwrap().join("upper").display(),
        s.lower.parent().unwrap().join("work").display()
    );
    let data_c = std::ffi::CString::new(data).unwrap();
    if let Err(e) = rustix::mount::mount2(
        Some("overlay"),
        &ov,
        Some("overlay"),
        rustix::mount::MountFlags::empty(),
        Some(data_c.as_c_str()),
    ) {
        integration_tests::skip(&format!(
            "overlayfs is not available here ({e}): nothing to compare with"
        ));
        return;
    }
    let ov_guard = Mounted(ov.clone());
    let opt = format!("union,lowerdir={}", s.lower.display());
    let out = run(Command::new(our_bin("mount-union"))
        .args(["-o", &opt])
        .arg(&s.img)
        .arg(&s.mnt));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let guard = Mounted(s.mnt.clone());

    let before = (snapshot(&ov), snapshot(&s.mnt));
    assert_eq!(before.0, before.1, "the trees differ before any change");
    let steps = (script(&ov), script(&s.mnt));
    assert_eq!(
        steps.0, steps.1,
        "the steps' results differ (overlayfs, ours)"
    );
    let after = (snapshot(&ov), snapshot(&s.mnt));
    assert_eq!(after.0, after.1, "the trees differ after the changes");

    umount_retrying(&s.mnt);
    wait_for_release(&s.img);
    drop(guard);
    drop(ov_guard);
    assert_real_fsck_clean(&stock_copy(&s.img));
}

#[test]
fn lower_layers_from_an_image_and_a_directory() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    // A lower image made from a tree, under the lower directory.
    let base = s.lower.parent().unwrap().join("base");
    std::fs::create_dir_all(base.join("d")).unwrap();
    std::fs::write(base.join("d/from-image"), b"img").unwrap();
    std::fs::write(base.join("a"), b"hidden by the directory layer").unwrap();
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::File::create(base.join("holey")).unwrap();
        f.write_all_at(b"end", 300_000).unwrap();
    }
    let base_img = s.lower.parent().unwrap().join("base.img");
    let out = run(Command::new(our_bin("mke2fs-union"))
        .args(["-q", "-F", "-d"])
        .arg(&base)
        .arg(&base_img)
        .arg("8M"));
    assert!(out.status.success(), "{}", text(&out));
    let before = std::fs::read(&base_img).unwrap();
    let opt = format!(
        "union,lowerdir={}:{}",
        s.lower.display(),
        base_img.display()
    );
    let out = fuse_mount(&s, &opt);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let guard = Mounted(s.mnt.clone());
    let m = &s.mnt;
    assert_eq!(std::fs::read(m.join("a")).unwrap(), b"hello\n");
    assert_eq!(std::fs::read(m.join("d/from-image")).unwrap(), b"img");
    assert_eq!(std::fs::read(m.join("d/b")).unwrap(), b"bee\n");
    let holey = std::fs::read(m.join("holey")).unwrap();
    assert_eq!(holey.len(), 300_003);
    assert!(holey[..300_000].iter().all(|&b| b == 0));
    // Copy-up from the image layer, and a whiteout over an image name.
    std::fs::OpenOptions::new()
        .append(true)
        .open(m.join("holey"))
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"+"))
        .unwrap();
    assert_eq!(&std::fs::read(m.join("holey")).unwrap()[300_000..], b"end+");
    std::fs::remove_file(m.join("d/from-image")).unwrap();
    assert!(!m.join("d/from-image").exists());
    umount_retrying(m);
    wait_for_release(&s.img);
    drop(guard);
    assert_eq!(
        std::fs::read(&base_img).unwrap(),
        before,
        "a lower image was written"
    );
    assert_real_fsck_clean(&stock_copy(&s.img));
}

/// The top image's superblock state and mount count, read without a lock.
fn image_state(img: &Path) -> (u16, u16) {
    let fs = ext2fs::fs::Filesystem::open(img, &Default::default()).unwrap();
    (fs.sb().s_state, fs.sb().s_mnt_count)
}

#[test]
fn the_image_is_marked_in_use_while_mounted_and_a_crash_is_checked() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    let opt = format!("union,lowerdir={}", s.lower.display());
    let (mut child, guard) = mount_foreground(&opt, &s.img, &s.mnt);
    let (state, count) = image_state(&s.img);
    assert_eq!(
        (state & 1, count),
        (0, 1),
        "not marked in use while mounted"
    );
    std::fs::create_dir(s.mnt.join("w")).unwrap();
    // Writes go on in a thread while the engine is killed.
    let dir = s.mnt.join("w");
    let writer = std::thread::spawn(move || {
        let mut written = 0;
        for i in 0..100_000 {
            if std::fs::write(dir.join(format!("f{i}")), vec![b'x'; 5000]).is_err() {
                break;
            }
            written += 1;
        }
        written
    });
    std::thread::sleep(Duration::from_millis(700));
    child.kill().unwrap();
    child.wait().unwrap();
    let written = writer.join().unwrap();
    assert!(written > 0, "nothing was written before the kill");
    drop(guard);

    let out = run(Command::new(our_bin("e2fsck-union")).arg("-p").arg(&s.img));
    assert!(
        text(&out).contains("was not cleanly unmounted") && !text(&out).contains("clean,"),
        "e2fsck-union -p did not check after a crash:\n{}",
        text(&out)
    );
    let out = run(Command::new(our_bin("e2fsck-union")).arg("-fy").arg(&s.img));
    assert!(
        matches!(out.status.code(), Some(0) | Some(1)),
        "e2fsck-union -fy did not repair:\n{}",
        text(&out)
    );
    assert_real_fsck_clean(&stock_copy(&s.img));
}

#[test]
fn umount_then_flock_waits_for_a_clean_image() {
    if skip_without_fuse() {
        return;
    }
    if !have_tool("flock") {
        integration_tests::skip("flock(1) (util-linux) is missing");
        return;
    }
    let s = setup();
    let guard = mount_engine(&s);
    for i in 0..200 {
        std::fs::write(s.mnt.join(format!("f{i}")), vec![b'y'; 3000]).unwrap();
    }
    umount_retrying(&s.mnt);
    // The procedure the man page gives: flock(1) on the image returns once
    // the engine has written everything out and let the image go.
    let st = Command::new("flock")
        .arg(&s.img)
        .arg("true")
        .status()
        .unwrap();
    assert!(st.success());
    drop(guard);
    let (state, count) = image_state(&s.img);
    assert_eq!((state, count), (1, 1), "not clean after the unmount");
    let out = run(Command::new(our_bin("e2fsck-union")).arg("-fn").arg(&s.img));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_real_fsck_clean(&stock_copy(&s.img));
}

/// Writes enough that the engine's last write-out takes a while.
fn write_files(mnt: &Path, n: usize) {
    for i in 0..n {
        let data: Vec<u8> = (0..30_000u32).map(|j| (i as u32 ^ j) as u8).collect();
        std::fs::write(mnt.join(format!("f{i}")), data).unwrap();
    }
}

/// e2fsck-union -fn at once: neither refused as locked nor finding errors.
fn assert_checks_clean_at_once(img: &Path) {
    let out = run(Command::new(our_bin("e2fsck-union")).arg("-fn").arg(img));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (state, count) = image_state(img);
    assert_eq!((state, count), (1, 1), "not clean after the unmount");
}

#[test]
fn the_umount_helper_returns_once_the_engine_released_the_image() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    let helper = umount_helper_link(s._dir.path());
    let guard = mount_engine(&s);
    // What umount(8) and the helper go by: the type and the image's path.
    let mnt = std::fs::canonicalize(&s.mnt).unwrap();
    let m = ext2fs::image::read_mountinfo()
        .into_iter()
        .find(|m| m.mountpoint == mnt)
        .expect("the mount is in mountinfo");
    assert_eq!(m.fstype, "fuse.union-ext2");
    assert_eq!(Path::new(&m.source), std::fs::canonicalize(&s.img).unwrap());
    write_files(&s.mnt, 300);
    // As umount(8) runs it (-n: it found the type without mountinfo),
    // retried while the kernel still sends the engine its releases.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let out = run(Command::new(&helper).arg(&mnt).arg("-n"));
        if out.status.success() {
            break;
        }
        assert_eq!(out.status.code(), Some(32), "{}", text(&out));
        assert!(
            std::time::Instant::now() < deadline && text(&out).contains("busy"),
            "{}",
            text(&out)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!mounted_at(&s.mnt));
    assert_checks_clean_at_once(&s.img);
    drop(guard);
    assert_real_fsck_clean(&stock_copy(&s.img));
}

#[test]
fn the_umount_helper_fails_with_32_on_what_is_not_mounted() {
    let dir = tempfile::tempdir().unwrap();
    let helper = umount_helper_link(dir.path());
    let out = run(Command::new(&helper).arg(dir.path()));
    assert_eq!(out.status.code(), Some(32), "{}", text(&out));
    assert!(text(&out).contains("not mounted"), "{}", text(&out));
}

/// The system's umount(8) end to end, with this build's helper where
/// umount looks for it (`make install` puts it in /sbin).
#[test]
fn umount_waits_for_the_engine_when_the_helper_is_installed() {
    if skip_without_fuse() {
        return;
    }
    let Some(_helper) = HelperLink::install() else {
        return;
    };
    let s = setup();
    let guard = mount_engine(&s);
    write_files(&s.mnt, 300);
    umount_retrying(&s.mnt);
    assert_checks_clean_at_once(&s.img);
    drop(guard);
}

/// `/sbin/umount.fuse.union-ext2` pointing at this build's mount-union for
/// the length of a test (umount(8) looks for helpers only in /sbin), so the
/// system umount runs the helper we just built; removed on drop. An
/// installed helper of another build is left alone and the test skips, so
/// it never judges a binary other than this tree's.
struct HelperLink(Option<std::path::PathBuf>);

impl HelperLink {
    const PATH: &'static str = "/sbin/umount.fuse.union-ext2";

    fn install() -> Option<HelperLink> {
        let ours = our_bin("mount-union");
        let link = Path::new(Self::PATH);
        match std::fs::canonicalize(link) {
            Ok(target) if target == std::fs::canonicalize(&ours).unwrap() => {
                return Some(HelperLink(None));
            }
            Ok(target) => {
                integration_tests::skip(&format!(
                    "{} is installed from another build ({}): not replacing it",
                    Self::PATH,
                    target.display()
                ));
                return None;
            }
            Err(_) => {}
        }
        std::os::unix::fs::symlink(&ours, link)
            .unwrap_or_else(|e| panic!("cannot link {} to {}: {e}", Self::PATH, ours.display()));
        Some(HelperLink(Some(link.to_path_buf())))
    }
}

impl Drop for HelperLink {
    fn drop(&mut self) {
        if let Some(link) = &self.0 {
            let _ = std::fs::remove_file(link);
        }
    }
}

#[test]
fn a_failed_final_write_out_is_reported_and_leaves_the_image_not_clean() {
    if skip_without_fuse() {
        return;
    }
    if !have_tool("losetup") || !have_tool("blockdev") {
        integration_tests::skip("losetup(8) or blockdev(8) (util-linux) is missing");
        return;
    }
    let s = setup();
    // The top image through a loop device, so that it can be made
    // read-only under the engine just before the unmount.
    let dev = LoopDev::attach(&s.img);
    let mut child = Command::new(our_bin("mount-union"))
        .args(["-F", "-o", &format!("union,lowerdir={}", s.lower.display())])
        .arg(&dev.0)
        .arg(&s.mnt)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let guard = Mounted(s.mnt.clone());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !mounted_at(&s.mnt) {
        assert!(
            std::time::Instant::now() < deadline,
            "the mount never came up"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "mount-union -F exited early"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::write(s.mnt.join("new"), vec![b'n'; 20_000]).unwrap();
    dev.set_read_only(true);
    umount_retrying(&s.mnt);
    drop(guard);
    let out = child.wait_with_output().unwrap();
    let why = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(32), "{why}");
    assert!(
        why.contains("writing out the top layer failed, the image stays marked not clean"),
        "{why}"
    );
    dev.set_read_only(false);
    drop(dev);
    assert_eq!(image_state(&s.img).0 & 1, 0, "the image was marked clean");
    let out = run(Command::new(our_bin("e2fsck-union")).arg("-n").arg(&s.img));
    assert!(
        text(&out).contains("was not cleanly unmounted") && !text(&out).contains("clean,"),
        "e2fsck-union -n took the image for clean:\n{}",
        text(&out)
    );
}

/// What the engine remembers (resolutions, listings) and what the kernel
/// keeps (entries, absent names, attributes) follows every change: each
/// change is made with the tree just walked (everything remembered), and
/// the tree seen then is the one a fresh mount of the image shows.
#[test]
fn remembered_names_and_listings_follow_every_change() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    let guard = mount_engine(&s);
    let m = s.mnt.clone();
    let p = |r: &str| m.join(r);
    let changes: Vec<Box<dyn Fn()>> = vec![
        // An absent name looked up, then made.
        Box::new(|| {
            assert!(std::fs::metadata(p("new")).is_err());
            std::fs::write(p("new"), b"new\n").unwrap();
        }),
        // A lower file removed (a whiteout), then made again.
        Box::new(|| std::fs::remove_file(p("a")).unwrap()),
        Box::new(|| std::fs::write(p("a"), b"again\n").unwrap()),
        // A lower file copied up under a lower directory.
        Box::new(|| std::fs::write(p("d/sub/x"), b"changed\n").unwrap()),
        // A top directory tree renamed, then a name reused below it.
        Box::new(|| {
            std::fs::create_dir_all(p("t/in")).unwrap();
            std::fs::write(p("t/in/f"), b"f\n").unwrap();
        }),
        Box::new(|| std::fs::rename(p("t"), p("u")).unwrap()),
        Box::new(|| std::fs::create_dir(p("t")).unwrap()),
        // A lower directory emptied and removed, then made again (opaque).
        Box::new(|| std::fs::remove_file(p("keep/k")).unwrap()),
        Box::new(|| std::fs::remove_dir(p("keep")).unwrap()),
        Box::new(|| std::fs::create_dir(p("keep")).unwrap()),
        // A file renamed over another, a hard link, a symlink.
        Box::new(|| std::fs::rename(p("new"), p("d/b")).unwrap()),
        Box::new(|| std::fs::hard_link(p("d/b"), p("u/in/g")).unwrap()),
        Box::new(|| std::os::unix::fs::symlink("d/b", p("e/l")).unwrap()),
    ];
    let mut warm = snapshot(&m);
    for change in &changes {
        change();
        warm = snapshot(&m);
    }
    assert!(warm.iter().any(|l| l.starts_with("u/in/f ")), "{warm:#?}");
    assert!(!warm.iter().any(|l| l.starts_with("keep/")), "{warm:#?}");
    umount_retrying(&s.mnt);
    wait_for_release(&s.img);
    drop(guard);
    let guard = mount_engine(&s);
    assert_eq!(snapshot(&m), warm, "a fresh mount shows another tree");
    unmount_and_check(&s, guard);
}

/// What `lstat` shows of a name (the attributes a listing must give).
fn shown(p: &Path) -> (u64, u64, u32, u64, u32, i64) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    (m.ino(), m.size(), m.mode(), m.nlink(), m.uid(), m.mtime())
}

/// A listing gives the kernel every name's attributes (readdirplus for
/// the whole listing, not only its first reply of about 200 names): after
/// `ls` of a merged directory of 1,500 names, stat of each is answered
/// with the engine stopped, and shows what a lookup after a remount
/// shows (size, mode, links, owner, mtime, the same inode number as the
/// listing's d_ino; hard links one object).
#[test]
fn a_listing_gives_every_name_its_attributes() {
    use std::os::unix::fs::{DirEntryExt, PermissionsExt};
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    let big = s.lower.join("big");
    std::fs::create_dir(&big).unwrap();
    for i in 0..1500 {
        std::fs::write(big.join(format!("file-{i:04}")), vec![b'z'; i % 700]).unwrap();
    }
    std::fs::hard_link(big.join("file-1499"), big.join("hard-link")).unwrap();
    std::os::unix::fs::symlink("file-0001", big.join("sym")).unwrap();
    std::fs::create_dir(big.join("subdir")).unwrap();
    let opt = format!("union,lowerdir={}", s.lower.display());
    let (mut child, guard) = mount_foreground(&opt, &s.img, &s.mnt);
    let m = s.mnt.join("big");
    // Top names in the same listing: made, copied up, removed.
    std::fs::write(m.join("top-new"), b"new").unwrap();
    std::fs::set_permissions(m.join("file-0700"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::remove_file(m.join("file-0002")).unwrap();
    // Listed in a fresh directory handle: every name, with its d_ino.
    let listed: Vec<(String, u64)> = std::fs::read_dir(&m)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), e.ino())
        })
        .collect();
    assert_eq!(listed.len(), 1500 + 3 - 1 + 1, "names listed");
    let pid = child.id().to_string();
    let stop = |sig: &str| {
        let out = run(Command::new("kill").args([sig, &pid]));
        assert!(out.status.success(), "kill {sig}: {}", text(&out));
    };
    // The changes above made the kernel drop the directory's attributes:
    // taken again now (the walk to each name checks permissions on it).
    std::fs::metadata(&m).unwrap();
    stop("-STOP");
    // stat of every listed name, with the engine stopped: from what the
    // listing gave the kernel (a LOOKUP would wait for the engine).
    let names: Vec<String> = listed.iter().map(|(n, _)| n.clone()).collect();
    let dir = m.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let got: Vec<_> = names.iter().map(|n| shown(&dir.join(n))).collect();
        let _ = tx.send(got);
    });
    let stopped = rx.recv_timeout(Duration::from_secs(10));
    stop("-CONT");
    let seen =
        stopped.expect("stat of listed names waited for the engine: not given by the listing");
    for ((name, d_ino), a) in listed.iter().zip(&seen) {
        assert_eq!(a.0, *d_ino, "{name}: st_ino is not the listing's d_ino");
    }
    let by_name = |n: &str| seen[listed.iter().position(|(x, _)| x == n).unwrap()];
    assert_eq!(by_name("hard-link").0, by_name("file-1499").0, "hard links");
    assert_eq!(by_name("hard-link").3, 2, "link count");
    assert_eq!(
        by_name("file-0700").2 & 0o7777,
        0o600,
        "chmod through the union"
    );
    assert_eq!(by_name("top-new").1, 3, "size of a top file");
    // The same through lookups alone, after a remount.
    umount_retrying(&s.mnt);
    child.wait().unwrap();
    drop(guard);
    let (mut child, guard) = mount_foreground(&opt, &s.img, &s.mnt);
    for ((name, _), a) in listed.iter().zip(&seen) {
        let want = shown(&m.join(name));
        assert_eq!(
            *a, want,
            "{name}: the listing's attributes and a lookup's differ"
        );
    }
    umount_retrying(&s.mnt);
    child.wait().unwrap();
    drop(guard);
    assert_real_fsck_clean(&stock_copy(&s.img));
}
