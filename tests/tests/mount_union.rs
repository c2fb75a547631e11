//! mount-union against the real kernel: plain mounts of our images via a
//! loop device, and -o union refused honestly on kernels without union
//! mounts (nothing left mounted, no loop device left attached).

use std::path::Path;
use std::process::Command;

use integration_tests::*;

fn mu(args: &[&str]) -> std::process::Output {
    run(Command::new(our_bin("mount-union")).args(args))
}

fn mounted_at(p: &Path) -> bool {
    let canon = std::fs::canonicalize(p).unwrap();
    ext2fs::image::read_mountinfo()
        .iter()
        .any(|m| m.mountpoint == canon)
}

fn loop_backed_by(img: &Path) -> bool {
    let canon = std::fs::canonicalize(img).unwrap();
    std::fs::read_dir("/sys/block").unwrap().flatten().any(|e| {
        std::fs::read_to_string(e.path().join("loop/backing_file"))
            .map(|b| Path::new(b.trim_end()) == canon)
            .unwrap_or(false)
    })
}

#[test]
fn usage_errors_and_fake_mounts() {
    let out = mu(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let out = mu(&["-o", "ro=1", "/dev/null", "/tmp"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let out = mu(&["-x"]);
    assert_eq!(out.status.code(), Some(1));
    let out = mu(&["/no/such/source", "/tmp"]);
    assert_eq!(out.status.code(), Some(32), "{}", text(&out));
    assert!(text(&out).contains("/no/such/source"));
    let out = mu(&["-V"]);
    assert!(text(&out).contains(env!("CARGO_PKG_VERSION")));
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("f.img");
    real_mkfs(&img, &[], "8M");
    let out = mu(&[
        "-f",
        "-v",
        "-o",
        "ro,noatime,union,user_xattr",
        img.to_str().unwrap(),
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("type=ext2"), "{t}");
    assert!(
        t.contains("flags=0x501 (MS_RDONLY|MS_UNION|MS_NOATIME)"),
        "{t}"
    );
    assert!(t.contains("data=user_xattr"), "{t}");
    assert!(!mounted_at(dir.path()));
}

#[test]
fn mounts_an_image_and_refuses_a_union_that_does_not_form() {
    if skip_without_e2fsprogs() || skip_without_root("mounting through loop devices") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("hello"), b"from the image").unwrap();
    let img = dir.path().join("top.img");
    let out = run(Command::new(our_bin("mke2fs-union"))
        .args(["-q", "-F", "-O", "whiteout", "-d"])
        .arg(&src)
        .arg(&img)
        .arg("16M"));
    assert!(out.status.success(), "{}", text(&out));
    let plain = dir.path().join("plain.img");
    real_mkfs(&plain, &["-d", src.to_str().unwrap()], "16M");
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();

    // A plain mount of an ext2 image through a loop device.
    let out = mu(&["-r", plain.to_str().unwrap(), mnt.to_str().unwrap()]);
    if !out.status.success() && text(&out).contains("loop device") {
        skip(&format!("no loop devices here: {}", text(&out)));
        return;
    }
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(std::fs::read(mnt.join("hello")).unwrap(), b"from the image");
    assert!(
        loop_backed_by(&plain),
        "the image is served by a loop device"
    );
    assert!(run(Command::new("umount").arg(&mnt)).status.success());
    // Autoclear: the loop device goes away with the unmount.
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        !loop_backed_by(&plain),
        "autoclear should detach the loop device at umount"
    );

    // The union procedure: a read-only tmpfs lower layer first, then the
    // ext2 top layer with -o union. Either the union forms, or exit 32 and
    // nothing of ours is left behind.
    let lower = run(Command::new("mount")
        .args(["-t", "tmpfs", "lowerfs"])
        .arg(&mnt));
    assert!(lower.status.success(), "{}", text(&lower));
    std::fs::write(mnt.join("lower-only"), b"below").unwrap();
    let ro = run(Command::new("mount").args(["-o", "remount,ro"]).arg(&mnt));
    assert!(ro.status.success(), "{}", text(&ro));
    let layers = |p: &Path| {
        let canon = std::fs::canonicalize(p).unwrap();
        ext2fs::image::read_mountinfo()
            .iter()
            .filter(|m| m.mountpoint == canon)
            .count()
    };
    assert_eq!(layers(&mnt), 1);
    let check = mu(&["--check"]);
    let out = mu(&[
        "-o",
        "union",
        plain.to_str().unwrap(),
        mnt.to_str().unwrap(),
    ]);
    if check.status.code() == Some(32) {
        assert_eq!(out.status.code(), Some(32), "{}", text(&out));
        let t = text(&out);
        assert!(
            t.contains("no union mount support") && t.contains("overlay"),
            "{t}"
        );
        assert_eq!(
            layers(&mnt),
            1,
            "the failed union must be unmounted, the lower layer kept"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(!loop_backed_by(&plain), "the loop device must be detached");
        assert!(mnt.join("lower-only").exists());
    } else {
        assert_eq!(check.status.code(), Some(0), "{}", text(&check));
        assert!(out.status.success(), "{}", text(&out));
        assert!(mnt.join("lower-only").exists() && mnt.join("hello").exists());
        let _ = run(Command::new("umount").arg(&mnt));
    }
    let _ = run(Command::new("umount").arg(&mnt));
    assert!(!mounted_at(&mnt));
    // --check never leaves a mount in this namespace.
    let before = ext2fs::image::read_mountinfo().len();
    let _ = mu(&["--check"]);
    assert_eq!(ext2fs::image::read_mountinfo().len(), before);
    // -l lists mounts.
    let out = mu(&["-l"]);
    assert!(
        out.status.success() && text(&out).contains(" on / type "),
        "{}",
        text(&out)
    );
}

/// Loop devices bound to `img` (by identity, as the library finds them).
fn loops_of(img: &Path) -> Vec<ext2fs::loopdev::Binding> {
    let meta = std::fs::metadata(img).unwrap();
    ext2fs::loopdev::backed_by(ext2fs::loopdev::FileId::of(&meta))
}

#[test]
fn a_second_mount_of_one_image_reuses_its_loop_device() {
    if skip_without_e2fsprogs() || skip_without_root("mounting through loop devices") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("a.img");
    real_mkfs(&img, &[], "8M");
    let link = dir.path().join("link.img");
    std::fs::hard_link(&img, &link).unwrap();
    let (m1, m2) = (dir.path().join("m1"), dir.path().join("m2"));
    std::fs::create_dir(&m1).unwrap();
    std::fs::create_dir(&m2).unwrap();
    let out = mu(&[img.to_str().unwrap(), m1.to_str().unwrap()]);
    if !out.status.success() && text(&out).contains("loop device") {
        skip(&format!("no loop devices here: {}", text(&out)));
        return;
    }
    assert!(out.status.success(), "{}", text(&out));
    // The second mount names the image by another name (a hard link).
    let out2 = mu(&[link.to_str().unwrap(), m2.to_str().unwrap()]);
    let loops = loops_of(&img);
    // At another offset the same file would be an overlapping view.
    let m3 = dir.path().join("m3");
    std::fs::create_dir(&m3).unwrap();
    let out3 = mu(&[
        "-t",
        "ext2",
        "-o",
        "offset=4096",
        img.to_str().unwrap(),
        m3.to_str().unwrap(),
    ]);
    // Writes through one mount are seen through the other: one filesystem.
    let shared = out2.status.success()
        && std::fs::write(m1.join("through-m1"), b"one").is_ok()
        && std::fs::read(m2.join("through-m1")).ok().as_deref() == Some(&b"one"[..]);
    let _ = run(Command::new("umount").arg(&m3));
    let _ = run(Command::new("umount").arg(&m2));
    assert!(run(Command::new("umount").arg(&m1)).status.success());
    assert!(out2.status.success(), "{}", text(&out2));
    assert_eq!(loops.len(), 1, "one loop device for one file: {loops:?}");
    assert!(shared, "both mounts must show one filesystem");
    assert_eq!(out3.status.code(), Some(32), "{}", text(&out3));
    assert!(
        text(&out3).contains("overlapping loop device"),
        "{}",
        text(&out3)
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        loops_of(&img).is_empty(),
        "autoclear after the last unmount"
    );
    let ls = String::from_utf8_lossy(&real_debugfs(&img, "ls /")).into_owned();
    assert!(ls.contains("through-m1"), "{ls}");
    assert_real_fsck_clean(&img);
}
