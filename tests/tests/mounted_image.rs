//! "Is this image mounted?" by identity, not by name: every writer refuses
//! a filesystem the kernel has mounted read-write, whether it is named by
//! the path that was mounted, a hard link to it, a bind mount of it, or
//! from a mount namespace where the mount is not visible.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use integration_tests::*;

/// A read-write kernel mount of an image through util-linux's loop setup,
/// unmounted on drop.
struct KernelMount(PathBuf);

impl KernelMount {
    fn new(img: &Path, mnt: &Path) -> Option<Self> {
        std::fs::create_dir_all(mnt).unwrap();
        let m = run(Command::new("mount")
            .args(["-t", "ext2", "-o", "loop"])
            .arg(img)
            .arg(mnt));
        if !m.status.success() {
            skip(&format!(
                "the kernel cannot loop-mount ext2 here: {}",
                text(&m)
            ));
            return None;
        }
        Some(KernelMount(mnt.to_path_buf()))
    }
}

impl Drop for KernelMount {
    fn drop(&mut self) {
        let _ = run(Command::new("umount").arg(&self.0));
    }
}

/// Runs the three writers on `name` and checks that each refused, in
/// e2fsprogs' words for a mounted (`busy` false) or an exclusively held
/// (`busy` true) filesystem.
fn assert_writers_refuse(name: &Path, busy: bool) {
    let fsck = run(Command::new(our_bin("e2fsck-union")).arg("-fy").arg(name));
    assert_eq!(
        fsck.status.code(),
        Some(8),
        "e2fsck-union -fy:\n{}",
        text(&fsck)
    );
    let want = if busy {
        "Filesystem mounted or opened exclusively by another program?".to_string()
    } else {
        format!("{} is mounted.", name.display())
    };
    assert!(text(&fsck).contains(&want), "{}", text(&fsck));

    let mkfs = run(Command::new(our_bin("mke2fs-union")).arg("-F").arg(name));
    assert_eq!(
        mkfs.status.code(),
        Some(1),
        "mke2fs-union:\n{}",
        text(&mkfs)
    );
    let how = if busy {
        "is apparently in use by the system"
    } else {
        "is mounted"
    };
    let want = format!("{} {how}; will not make a filesystem here!", name.display());
    assert!(text(&mkfs).contains(&want), "{}", text(&mkfs));

    let dbg = run(Command::new(our_bin("debugfs-union"))
        .args(["-w", "-R", "mkdir /written-while-mounted"])
        .arg(name));
    assert!(
        text(&dbg).contains("opening it read-only"),
        "{}",
        text(&dbg)
    );
    assert!(text(&dbg).contains("read/only"), "{}", text(&dbg));
}

/// After unmounting: the file written through the mount is there, nothing
/// of ours got in, and the real e2fsck finds the filesystem clean.
fn assert_untouched(img: &Path) {
    let ls = String::from_utf8_lossy(&real_debugfs(img, "ls -l /")).into_owned();
    assert!(ls.contains("kernel-file"), "{ls}");
    assert!(!ls.contains("written-while-mounted"), "{ls}");
    assert_real_fsck_clean(img);
}

/// One test at a time: `unshare --mount` copies every mount of this
/// namespace, so a namespace made by one test would keep the other test's
/// filesystem alive (and unwritten) past its unmount.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn setup() -> Option<(tempfile::TempDir, PathBuf)> {
    if skip_without_e2fsprogs() || skip_without_root("kernel loop mounts") {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("a.img");
    real_mkfs(&img, &[], "8M");
    Some((dir, img))
}

#[test]
fn a_hard_link_or_bind_mount_of_a_mounted_image_is_refused() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some((dir, img)) = setup() else {
        return;
    };
    let mnt = dir.path().join("mnt");
    {
        let Some(_m) = KernelMount::new(&img, &mnt) else {
            return;
        };
        std::fs::write(mnt.join("kernel-file"), b"written by the kernel").unwrap();
        assert_writers_refuse(&img, false);

        let link = dir.path().join("link.img");
        std::fs::hard_link(&img, &link).unwrap();
        assert_writers_refuse(&link, false);

        let sym = dir.path().join("sym.img");
        std::os::unix::fs::symlink(&img, &sym).unwrap();
        assert_writers_refuse(&sym, false);

        // A bind mount of the image file onto another name.
        let bound = dir.path().join("bound.img");
        std::fs::write(&bound, b"").unwrap();
        let b = run(Command::new("mount").arg("--bind").arg(&img).arg(&bound));
        assert!(b.status.success(), "{}", text(&b));
        let result = std::panic::catch_unwind(|| assert_writers_refuse(&bound, false));
        let _ = run(Command::new("umount").arg(&bound));
        if let Err(e) = result {
            std::panic::resume_unwind(e);
        }

        // The loop device itself, by its /dev name.
        let dev = loop_device_of(&img);
        assert_writers_refuse(&dev, false);
    }
    assert_untouched(&img);
}

/// The /dev/loopN util-linux bound `img` to.
fn loop_device_of(img: &Path) -> PathBuf {
    let o = run(Command::new("losetup").arg("-j").arg(img));
    let t = String::from_utf8_lossy(&o.stdout).into_owned();
    let dev = t.split(':').next().unwrap_or_default().trim().to_string();
    assert!(dev.starts_with("/dev/loop"), "losetup -j: {t}");
    PathBuf::from(dev)
}

/// Runs `sh -c SCRIPT` in a new mount namespace where the mount at `mnt`
/// is gone: the kernel still has the filesystem mounted (elsewhere), which
/// only the device's exclusive claim tells.
fn in_namespace_without(mnt: &Path, script: &str) -> Output {
    run(Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(format!("umount {} && {script}", mnt.display())))
}

#[test]
fn a_mount_in_another_namespace_is_refused() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some((dir, img)) = setup() else {
        return;
    };
    let mnt = dir.path().join("mnt");
    {
        let Some(_m) = KernelMount::new(&img, &mnt) else {
            return;
        };
        std::fs::write(mnt.join("kernel-file"), b"written by the kernel").unwrap();
        let img_s = img.display().to_string();
        let probe = in_namespace_without(
            &mnt,
            &format!(
                "grep -c -F ' {} ' /proc/self/mountinfo || true",
                mnt.display()
            ),
        );
        assert_eq!(
            String::from_utf8_lossy(&probe.stdout).trim(),
            "0",
            "the mount must be invisible in the new namespace: {}",
            text(&probe)
        );
        let fsck = in_namespace_without(
            &mnt,
            &format!("{} -fy {img_s}", our_bin("e2fsck-union").display()),
        );
        assert_eq!(fsck.status.code(), Some(8), "{}", text(&fsck));
        assert!(
            text(&fsck).contains("Filesystem mounted or opened exclusively by another program?"),
            "{}",
            text(&fsck)
        );
        let mkfs = in_namespace_without(
            &mnt,
            &format!("{} -F {img_s}", our_bin("mke2fs-union").display()),
        );
        assert_eq!(mkfs.status.code(), Some(1), "{}", text(&mkfs));
        assert!(
            text(&mkfs)
                .contains("is apparently in use by the system; will not make a filesystem here!"),
            "{}",
            text(&mkfs)
        );
        let dbg = in_namespace_without(
            &mnt,
            &format!(
                "{} -w -R 'mkdir /written-while-mounted' {img_s}",
                our_bin("debugfs-union").display()
            ),
        );
        assert!(
            text(&dbg).contains("in use by the system"),
            "{}",
            text(&dbg)
        );
        assert!(text(&dbg).contains("read/only"), "{}", text(&dbg));
    }
    assert_untouched(&img);
}
