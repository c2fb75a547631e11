//! What the library's integration tests share: the real mke2fs, e2fsck
//! and debugfs run on our images, and opening an image for writing.

#![allow(dead_code)]

#[path = "../../../tests/src/skip.rs"]
mod skip_impl;
pub use skip_impl::skip;

use std::path::Path;
use std::process::Command;

use ext2fs::fs::{Filesystem, OpenOptions};

pub fn have(tool: &str) -> bool {
    Command::new(tool).arg("-V").output().is_ok()
}

pub fn mkfs(path: &Path, args: &[&str], size: &str) {
    let st = Command::new("mke2fs")
        .args(["-q", "-F", "-t", "ext2"])
        .args(args)
        .arg(path)
        .arg(size)
        .status()
        .expect("run mke2fs");
    assert!(st.success());
}

pub fn e2fsck_clean(path: &Path) {
    let out = Command::new("e2fsck")
        .arg("-fn")
        .arg(path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "e2fsck -fn:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn debugfs(path: &Path, req: &str) -> Vec<u8> {
    Command::new("debugfs")
        .arg("-R")
        .arg(req)
        .arg(path)
        .output()
        .unwrap()
        .stdout
}

pub fn rw(path: &Path) -> Filesystem {
    Filesystem::open(
        path,
        &OpenOptions {
            write: true,
            ..Default::default()
        },
    )
    .unwrap()
}

/// A fresh image made by the real mke2fs (`-t ext2 ARGS`, SIZE) in a new
/// temporary directory; None (after `skip`) without e2fsprogs.
pub fn fresh_image(args: &[&str], size: &str) -> Option<(tempfile::TempDir, std::path::PathBuf)> {
    if !have("mke2fs") {
        skip("e2fsprogs (mke2fs, e2fsck, debugfs) not installed");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("fs.img");
    mkfs(&img, args, size);
    Some((dir, img))
}
