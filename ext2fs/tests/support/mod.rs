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

/// Writes directory `dir` (in `parent`) as a hash-indexed directory of
/// `names`, each a hard link to the regular file `file`, whose link count
/// becomes `names.len() + other_links`. Returns the blocks written.
pub fn write_indexed_dir(
    fs: &mut Filesystem,
    (dir, parent): (u32, u32),
    file: u32,
    names: Vec<Vec<u8>>,
    other_links: usize,
) -> Vec<Vec<u8>> {
    let links = names.len() + other_links;
    let entries: Vec<ext2fs::htree::NewEntry> = names
        .into_iter()
        .map(|name| ext2fs::htree::NewEntry {
            name,
            inode: file,
            file_type: ext2fs::dirent::ft::REG_FILE,
        })
        .collect();
    let sb = *fs.sb();
    let bs = fs.block_size() as usize;
    let blocks = ext2fs::htree::build(
        dir,
        parent,
        true,
        &entries,
        bs,
        sb.s_def_hash_version,
        &sb.s_hash_seed,
        sb.s_flags,
    )
    .unwrap();
    fs.write_dir_blocks(dir, &blocks, true).unwrap();
    let mut rec = fs.read_inode(file).unwrap();
    rec.base.i_links_count = u16::try_from(links).unwrap();
    fs.write_inode(file, &rec).unwrap();
    blocks
}
