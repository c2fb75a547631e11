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

/// How a test runs one of our tools: directly, or inside another mount
/// namespace.
type Runner<'a> = &'a dyn Fn(&str, &[&str]) -> Output;

fn direct(tool: &str, args: &[&str]) -> Output {
    run(Command::new(our_bin(tool)).args(args))
}

/// Runs the three writers on `name` and checks that each refused, in
/// e2fsprogs' words for a mounted (`busy` false) or an exclusively held
/// (`busy` true) filesystem.
fn assert_writers_refuse(name: &Path, busy: bool, tool: Runner) {
    let n = name.to_str().unwrap();
    let fsck = tool("e2fsck-union", &["-fy", n]);
    assert_eq!(
        fsck.status.code(),
        Some(8),
        "e2fsck-union -fy:\n{}",
        text(&fsck)
    );
    let want = if busy {
        "Filesystem mounted or opened exclusively by another program?".to_string()
    } else {
        format!("{n} is mounted.")
    };
    assert!(text(&fsck).contains(&want), "{}", text(&fsck));

    let mkfs = tool("mke2fs-union", &["-F", n]);
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
    let want = format!("{n} {how}; will not make a filesystem here!");
    assert!(text(&mkfs).contains(&want), "{}", text(&mkfs));

    let dbg = tool(
        "debugfs-union",
        &["-w", "-R", "mkdir /written-while-mounted", n],
    );
    let how = if busy {
        "in use by the system"
    } else {
        "is mounted on"
    };
    assert!(text(&dbg).contains(how), "{}", text(&dbg));
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

/// Makes an image with the real mke2fs, mounts it read-write with the
/// kernel, writes a file through the mount, runs `check(dir, img, mnt)`,
/// unmounts and checks that nothing of ours got in.
fn with_mounted_image(check: impl FnOnce(&Path, &Path, &Path)) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if skip_without_e2fsprogs() || skip_without_root("kernel loop mounts") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("a.img");
    real_mkfs(&img, &[], "8M");
    let mnt = dir.path().join("mnt");
    {
        let Some(_m) = KernelMount::new(&img, &mnt) else {
            return;
        };
        std::fs::write(mnt.join("kernel-file"), b"written by the kernel").unwrap();
        check(dir.path(), &img, &mnt);
    }
    assert_untouched(&img);
}

#[test]
fn a_hard_link_or_bind_mount_of_a_mounted_image_is_refused() {
    with_mounted_image(|dir, img, _mnt| {
        assert_writers_refuse(img, false, &direct);

        let link = dir.join("link.img");
        std::fs::hard_link(img, &link).unwrap();
        assert_writers_refuse(&link, false, &direct);

        let sym = dir.join("sym.img");
        std::os::unix::fs::symlink(img, &sym).unwrap();
        assert_writers_refuse(&sym, false, &direct);

        // A bind mount of the image file onto another name.
        let bound = dir.join("bound.img");
        std::fs::write(&bound, b"").unwrap();
        let b = run(Command::new("mount").arg("--bind").arg(img).arg(&bound));
        assert!(b.status.success(), "{}", text(&b));
        let result = std::panic::catch_unwind(|| assert_writers_refuse(&bound, false, &direct));
        let _ = run(Command::new("umount").arg(&bound));
        if let Err(e) = result {
            std::panic::resume_unwind(e);
        }

        // The loop device itself, by its /dev name.
        assert_writers_refuse(&loop_device_of(img), false, &direct);
    });
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
    with_mounted_image(|_dir, img, mnt| {
        let probe = in_namespace_without(
            mnt,
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
        let elsewhere = |tool: &str, args: &[&str]| {
            let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
            let bin = our_bin(tool);
            in_namespace_without(mnt, &format!("{} {}", bin.display(), quoted.join(" ")))
        };
        assert_writers_refuse(img, true, &elsewhere);
    });
}
