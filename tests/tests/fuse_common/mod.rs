//! What the FUSE engine's test files share: skipping, a sample lower tree
//! and top image, mounting in the foreground, unmounting and waiting for
//! the engine to let the image go.
#![allow(dead_code)] // each test file uses its own part

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use integration_tests::*;

pub fn skip_without_fuse() -> bool {
    if skip_without_e2fsprogs() || skip_without_root("the FUSE union engine") {
        return true;
    }
    if !Path::new("/dev/fuse").exists() {
        integration_tests::skip(
            "/dev/fuse is missing (no fuse module): the FUSE union engine cannot mount",
        );
        return true;
    }
    false
}

/// Unmounts, retrying for a few seconds: right after the last file is
/// closed a FUSE mount can still be busy while the kernel sends the
/// engine its release requests (more often on a loaded machine).
pub fn umount_retrying(mnt: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = Command::new("umount").arg(mnt).output().unwrap();
        if out.status.success() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "umount {} failed: {}",
            mnt.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Starts `mount-union -F -o OPT img mnt` and waits for the mount.
pub fn mount_foreground(opt: &str, img: &Path, mnt: &Path) -> (std::process::Child, Mounted) {
    let mut child = Command::new(our_bin("mount-union"))
        .args(["-F", "-o", opt])
        .arg(img)
        .arg(mnt)
        .spawn()
        .unwrap();
    let guard = Mounted(mnt.to_path_buf());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !mounted_at(mnt) {
        assert!(Instant::now() < deadline, "the -F mount never came up");
        if let Some(st) = child.try_wait().unwrap() {
            panic!("mount-union -F exited early: {st}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, guard)
}

pub fn mounted_at(p: &Path) -> bool {
    let canon = std::fs::canonicalize(p).unwrap();
    ext2fs::image::read_mountinfo()
        .iter()
        .any(|m| m.mountpoint == canon)
}

/// Unmounts on drop (a failing test leaves nothing mounted).
pub struct Mounted(pub PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        if mounted_at(&self.0) {
            let _ = rustix::mount::unmount(&self.0, rustix::mount::UnmountFlags::DETACH);
        }
    }
}

/// Waits until the engine let go of the image (its exclusive lock).
pub fn wait_for_release(img: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let f = std::fs::File::open(img).unwrap();
        if rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_ok() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the FUSE engine still holds {} 20 s after the unmount",
            img.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub struct Setup {
    pub _dir: tempfile::TempDir,
    pub lower: PathBuf,
    pub img: PathBuf,
    pub mnt: PathBuf,
}

pub fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let lower = dir.path().join("lower");
    for d in ["d/sub", "e", "keep"] {
        std::fs::create_dir_all(lower.join(d)).unwrap();
    }
    std::fs::write(lower.join("a"), b"hello\n").unwrap();
    std::fs::write(lower.join("d/b"), b"bee\n").unwrap();
    std::fs::write(lower.join("d/sub/x"), b"x\n").unwrap();
    std::fs::write(lower.join("keep/k"), b"k\n").unwrap();
    std::os::unix::fs::symlink("a", lower.join("link")).unwrap();
    // A sparse file: 1 MiB hole, then data.
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::File::create(lower.join("sparse")).unwrap();
        f.write_all_at(b"tail", 1 << 20).unwrap();
    }
    let _ = rustix::fs::setxattr(
        lower.join("a"),
        "user.colour",
        b"blue",
        rustix::fs::XattrFlags::empty(),
    );
    let img = dir.path().join("top.img");
    let out = run(Command::new(our_bin("mke2fs-union"))
        .args(["-q", "-F", "-O", "whiteout"])
        .arg(&img)
        .arg("16M"));
    assert!(out.status.success(), "{}", text(&out));
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    Setup {
        _dir: dir,
        lower,
        img,
        mnt,
    }
}

pub fn errno_of(r: std::io::Result<()>) -> Option<i32> {
    r.err().and_then(|e| e.raw_os_error())
}

/// Runs `mount-union --engine fuse -o OPT` on the setup's image and
/// mountpoint (the engine detaches once the mount is up).
pub fn fuse_mount(s: &Setup, opt: &str) -> std::process::Output {
    run(Command::new(our_bin("mount-union"))
        .args(["--engine", "fuse", "-o", opt])
        .arg(&s.img)
        .arg(&s.mnt))
}

/// Mounts the setup's union (`-o union,EXTRA` over its lower tree).
pub fn mount_engine_with(s: &Setup, extra: &str) -> Mounted {
    let out = fuse_mount(s, &format!("union,{extra}lowerdir={}", s.lower.display()));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    Mounted(s.mnt.clone())
}

/// Mounts the setup's union with the engine in the background.
pub fn mount_engine(s: &Setup) -> Mounted {
    mount_engine_with(s, "")
}

/// Unmounts, waits for the engine to let the image go and checks the
/// image with the real e2fsck.
pub fn unmount_and_check(s: &Setup, guard: Mounted) {
    umount_retrying(&s.mnt);
    wait_for_release(&s.img);
    drop(guard);
    assert_real_fsck_clean(&stock_copy(&s.img));
}

/// What umount(8) runs for a `fuse.union-ext2` mount: mount-union through
/// a link named `umount.fuse.union-ext2`.
pub fn umount_helper_link(dir: &Path) -> PathBuf {
    let link = dir.join("umount.fuse.union-ext2");
    std::os::unix::fs::symlink(our_bin("mount-union"), &link).unwrap();
    link
}

/// A loop device over a file, detached (and made writable again) on drop.
pub struct LoopDev(pub String);

impl LoopDev {
    pub fn attach(file: &Path) -> LoopDev {
        let out = run(Command::new("losetup").args(["-f", "--show"]).arg(file));
        assert!(out.status.success(), "{}", text(&out));
        LoopDev(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    pub fn set_read_only(&self, ro: bool) {
        let flag = if ro { "--setro" } else { "--setrw" };
        let st = Command::new("blockdev").args([flag, &self.0]).status();
        assert!(st.unwrap().success(), "blockdev {flag} {}", self.0);
    }
}

impl Drop for LoopDev {
    fn drop(&mut self) {
        let _ = Command::new("blockdev").args(["--setrw", &self.0]).status();
        let _ = Command::new("losetup").args(["-d", &self.0]).status();
    }
}
