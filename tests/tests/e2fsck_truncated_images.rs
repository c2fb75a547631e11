//! Images cut short (an interrupted copy or download): blocks the
//! superblock counts lie past the file's end, and reading them is a short
//! read (and, last here, a block number past the filesystem's end, which
//! libext2fs reads all the same). e2fsck puts each failed read to its I/O
//! error handler ("Error reading block N (...) while <operation>.  Ignore
//! error?") wherever it reads: at open, before the passes, in pass 1's
//! inode scan, indirect blocks, symlinks and htree roots, in passes 1C, 3
//! and 5. Ours must print, ask and end as e2fsck 1.47 does, with -n and
//! at a terminal.

use std::path::{Path, PathBuf};
use std::process::Command;

use ext2fs::fs::{Filesystem, OpenOptions};
use integration_tests::vs_e2fsck::{
    self, alike_in_each_mode, answered_alike_at_a_terminal, side_by_side,
};
use integration_tests::*;

/// An ext2 image of `size` from the real mke2fs, with files of 3 KiB to
/// 90 KiB (1 KiB blocks: the larger ones have an indirect block) written
/// by the real debugfs.
fn image_with_files(dir: &Path, size: &str) -> PathBuf {
    let img = dir.join("full.img");
    real_mkfs(&img, &["-b", "1024"], size);
    let mut requests = String::new();
    for i in 1..=30u32 {
        let host = dir.join(format!("f{i}"));
        let bytes: Vec<u8> = (0..i * 3000).map(|k| (k * 7 + i) as u8).collect();
        std::fs::write(&host, bytes).unwrap();
        requests.push_str(&format!("write {} f{i}\n", host.display()));
    }
    real_debugfs_script(&img, &requests);
    img
}

/// A copy of `img` cut to `len` bytes.
fn cut(img: &Path, len: u64) -> PathBuf {
    let short = img.with_file_name("short.img");
    std::fs::copy(img, &short).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&short)
        .unwrap()
        .set_len(len)
        .unwrap();
    short
}

fn read_only(img: &Path) -> Filesystem {
    Filesystem::open(img, &OpenOptions::default()).unwrap()
}

/// -fn on `img`: ours as the real e2fsck, and the exit code.
fn checked_alike(t: &Path, img: &Path) -> i32 {
    let (ours, real) = side_by_side(t, img, &["-fn"]);
    assert_eq!(ours, real, "ours (left) against e2fsck -fn");
    ours.code
}

/// Keys at a terminal: "n" keeps the check going past the size warning,
/// then the handler's questions are answered.
const TERMINAL_ANSWERS: [&[&str]; 3] = [&["n", "y", "y", "a"], &["n", "y", "n", "a"], &["n", "n"]];

#[test]
fn inode_table_past_the_end_stops_the_scan_as_e2fsck() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = image_with_files(t.path(), "32M");
    let (table, bs) = {
        let fs = read_only(&img);
        (fs.inode_table_block(2).unwrap(), fs.block_size() as u64)
    };
    // Cut at the table's first block, then in its second chunk of eight
    // blocks (the scan reads eight at a time) half way into a block.
    for (k, len) in [table * bs, (table + 11) * bs + 300]
        .into_iter()
        .enumerate()
    {
        let short = cut(&img, len);
        let dir = t.path().join(format!("n{k}"));
        std::fs::create_dir(&dir).unwrap();
        assert_eq!(checked_alike(&dir, &short), 8);
        if !have_tool("script") {
            skip("needs script(1) to give the checkers a terminal");
            continue;
        }
        for (a, keys) in TERMINAL_ANSWERS.iter().enumerate() {
            let dir = t.path().join(format!("t{k}-{a}"));
            std::fs::create_dir(&dir).unwrap();
            answered_alike_at_a_terminal(&dir, &short, keys);
        }
    }
}

#[test]
fn indirect_block_past_the_end_goes_to_the_error_handler_as_e2fsck() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = image_with_files(t.path(), "8M");
    // The last file's indirect block: cut the image just before it.
    let indirect = {
        let fs = read_only(&img);
        let ino = fs.namei(ext2fs::inode::ROOT_INO, "/f30").unwrap();
        fs.read_inode(ino).unwrap().base.i_block[ext2fs::inode::IND_BLOCK] as u64
            * fs.block_size() as u64
    };
    assert_ne!(indirect, 0, "f30 has an indirect block");
    let short = cut(&img, indirect);
    assert_eq!(checked_alike(t.path(), &short), 8);
    if !have_tool("script") {
        skip("needs script(1) to give the checkers a terminal");
        return;
    }
    for (a, keys) in TERMINAL_ANSWERS.iter().enumerate() {
        let dir = t.path().join(format!("t{a}"));
        std::fs::create_dir(&dir).unwrap();
        answered_alike_at_a_terminal(&dir, &short, keys);
    }
}

/// Cut inside the descriptor table: libext2fs' open fails with a short
/// read, which e2fsck reports as such ("Could this be a zero-length
/// partition?") without trying the backups.
#[test]
fn descriptor_table_past_the_end_is_a_short_read_as_e2fsck() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = image_with_files(t.path(), "8M");
    let short = cut(&img, 2048);
    assert_eq!(alike_in_each_mode(t.path(), &short), [8, 8, 8]);
}

/// A superblock whose groups do not give its inode count, on an image cut
/// before the descriptors it then names (differential seed 20261210 case
/// 93): the try "despite errors" fails with a short read, and e2fsck
/// reports the first try's error again with its advice.
#[test]
fn loading_despite_errors_reports_the_first_error_as_e2fsck() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = image_with_files(t.path(), "8M");
    real_debugfs_w(&img, "ssv first_data_block 4000");
    let short = cut(&img, 3 << 20);
    assert_eq!(alike_in_each_mode(t.path(), &short), [8, 8, 8]);
}

/// A genext2fs image (revision 0, no sparse_super) cut inside group 1's
/// inode table, where its lost+found lives: before pass 1's inode loop
/// e2fsck reads that inode, then ext2fs_check_directory reads it again,
/// each failed read put to the I/O error handler.
#[test]
fn lost_found_inode_past_the_end_is_read_twice_as_e2fsck() {
    if skip_without_e2fsprogs() {
        return;
    }
    if !have_tool("genext2fs") {
        skip("needs genext2fs (Debian package genext2fs) to make the image");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let tree = t.path().join("tree");
    std::fs::create_dir_all(tree.join("a/b")).unwrap();
    for i in 1..=40u32 {
        let bytes: Vec<u8> = (0..i * 5000).map(|k| (k * 13 + i) as u8).collect();
        std::fs::write(tree.join(format!("a/f{i}")), bytes).unwrap();
    }
    let img = t.path().join("full.img");
    let out = run(Command::new("genext2fs")
        .args(["-b", "16384", "-N", "2048", "-d"])
        .arg(&tree)
        .arg(&img));
    assert!(out.status.success(), "{}", text(&out));
    let table = read_only(&img).inode_table_block(1).unwrap();
    for len in [4 << 20, table * 1024 + 100] {
        let dir = t.path().join(format!("cut{len}"));
        std::fs::create_dir(&dir).unwrap();
        assert_eq!(checked_alike(&dir, &cut(&img, len)), 8);
    }
}

/// A slow symlink (its target in a block) whose block lies past the end:
/// pass 1's symlink check reads it through the I/O error handler, and
/// pass 2 reads it again when it asks about the invalid link
/// (differential seed 20261210 case 29).
#[test]
fn slow_symlink_block_past_the_end_is_read_as_e2fsck() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("full.img");
    real_mkfs(&img, &["-b", "1024"], "4M");
    let target = format!("/{}", "t".repeat(200));
    real_debugfs_w(&img, &format!("symlink slow {target}"));
    let block = {
        let fs = read_only(&img);
        let ino = fs.namei(ext2fs::inode::ROOT_INO, "/slow").unwrap();
        fs.read_inode(ino).unwrap().base.i_block[0] as u64 * fs.block_size() as u64
    };
    let short = cut(&img, block);
    // Declined, the invalid link is left: errors left uncorrected.
    assert_eq!(checked_alike(t.path(), &short), 4);
    if have_tool("script") {
        // The block is asked about in pass 1 and, unless ignored (then
        // kept in the I/O cache), again in pass 2.
        let answers: [&[&str]; 3] = [
            &["n", "y", "y", "a"],
            &["n", "y", "n", "a"],
            &["n", "n", "n", "a"],
        ];
        for (a, keys) in answers.iter().enumerate() {
            let dir = t.path().join(format!("t{a}"));
            std::fs::create_dir(&dir).unwrap();
            answered_alike_at_a_terminal(&dir, &short, keys);
        }
    } else {
        skip("needs script(1) to give the checkers a terminal");
    }
}

/// Cut inside group 0's inode table, one inode a block (-I 1024): before
/// the passes e2fsck reads the resize inode and the bad blocks inode, then
/// pass 1 reads the bad blocks inode again ("while opening inode scan")
/// and the root for lost+found, each failed read put to the I/O error
/// handler (differential seed 20261210 cases 1292, 1768).
#[test]
fn first_inode_table_past_the_end_is_read_as_e2fsck() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("full.img");
    real_mkfs(&img, &["-b", "1024", "-I", "1024"], "8M");
    let table = read_only(&img).inode_table_block(0).unwrap();
    // Nothing of the table; the bad blocks inode only; up to the root;
    // half of the resize inode's block.
    for blocks in [0, 1, 2, 6] {
        let len = (table + blocks) * 1024 + if blocks == 6 { 512 } else { 0 };
        let dir = t.path().join(format!("cut{blocks}"));
        std::fs::create_dir(&dir).unwrap();
        assert_eq!(checked_alike(&dir, &cut(&img, len)), 8);
    }
}

/// A multiply-claimed block, one of its files named in a directory whose
/// block lies past the end: pass 1C reads the directory blocks in order
/// until every such file is named, and a block that cannot be read goes
/// to the I/O error handler and is passed over (differential seed
/// 20261210 case 2808).
#[test]
fn directory_past_the_end_in_pass_1c_is_read_as_e2fsck() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("full.img");
    real_mkfs(&img, &["-b", "1024"], "8M");
    let small = t.path().join("small");
    std::fs::write(&small, vec![7u8; 3000]).unwrap();
    let big = t.path().join("big");
    std::fs::write(&big, vec![9u8; 2_000_000]).unwrap();
    real_debugfs_script(
        &img,
        &format!(
            "write {s} f1\nwrite {b} big\nmkdir late\nwrite {s} late/f2\n",
            s = small.display(),
            b = big.display()
        ),
    );
    let (shared, late_dir, bs) = {
        let fs = read_only(&img);
        let block0 = |path: &str| {
            let ino = fs.namei(ext2fs::inode::ROOT_INO, path).unwrap();
            fs.read_inode(ino).unwrap().base.i_block[0] as u64
        };
        (block0("/f1"), block0("/late"), fs.block_size() as u64)
    };
    // late/f2 claims f1's first block too.
    real_debugfs_w(&img, &format!("sif late/f2 block[0] {shared}"));
    checked_alike(t.path(), &cut(&img, late_dir * bs));
}

/// Cut after the inode table's first chunk of eight blocks: the scan
/// checks the inodes it has read (here lost+found's wrong size) before
/// the chunk it cannot read ends the pass (differential seed 20261210
/// cases 2962, 3437).
#[test]
fn inodes_before_the_unreadable_chunk_are_checked_as_e2fsck() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("full.img");
    real_mkfs(&img, &["-b", "1024", "-I", "256"], "12M");
    real_debugfs_w(&img, "sif <11> size 61440");
    let table = read_only(&img).inode_table_block(0).unwrap();
    for blocks in [8, 11] {
        let dir = t.path().join(format!("cut{blocks}"));
        std::fs::create_dir(&dir).unwrap();
        assert_eq!(
            checked_alike(&dir, &cut(&img, (table + blocks) * 1024 + 100)),
            8
        );
    }
}

/// A group's bitmaps past the end of a cut image, its inode table not:
/// under -n e2fsck reads the bitmaps at the start of pass 5, and a read
/// the I/O error handler does not let pass ends the check ("Can't read a
/// block bitmap while retrying to read bitmaps"; differential seed
/// 20261210 case 6666).
#[test]
fn bitmaps_past_the_end_stop_pass_5_as_e2fsck() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("full.img");
    real_mkfs(&img, &["-b", "1024", "-g", "1024", "-N", "64"], "2M");
    for (k, edit) in ["set_bg 1 block_bitmap 1900", "set_bg 1 inode_bitmap 1900"]
        .into_iter()
        .enumerate()
    {
        let edited = t.path().join(format!("edited{k}.img"));
        std::fs::copy(&img, &edited).unwrap();
        real_debugfs_w(&edited, edit);
        let dir = t.path().join(format!("cut{k}"));
        std::fs::create_dir(&dir).unwrap();
        assert_eq!(checked_alike(&dir, &cut(&edited, 1800 * 1024)), 8);
    }
}

/// A directory whose only block number lies far past the end of the
/// filesystem, left (-n), and no parent: pass 3 looks its '..' up on disk
/// (ext2fs_lookup) before it asks, and libext2fs reads that block anyway,
/// the handler's words then in front of the question (differential seed
/// 20261210 case 7101).
#[test]
fn unconnected_directory_with_its_block_past_the_end() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("test.img");
    real_mkfs(&img, &["-b", "1024", "-O", "^resize_inode"], "264k");
    // lost+found's block far past the end, and its entry in the root gone.
    for req in ["sif <11> block[0] 536870922", "unlink lost+found"] {
        real_debugfs_w(&img, req);
    }
    checked_alike(t.path(), &img);
}

/// An indexed directory's root block past the end: e2fsck's handle_htree
/// reads it through the I/O error handler, then asks "Clear HTree index?"
/// (differential seed 20261210 case 8751). Declined, e2fsck 1.47 goes on
/// to judge whatever its buffer held (docs/compat.md): here it asks the
/// same question again, which ours does not.
#[test]
fn htree_root_past_the_end_is_read_as_e2fsck() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("full.img");
    real_mkfs(&img, &["-b", "1024"], "4M");
    vs_e2fsck::add_indexed_dir(&img);
    let root = {
        let fs = read_only(&img);
        let ino = fs.namei(ext2fs::inode::ROOT_INO, "/big").unwrap();
        let inode = fs.read_inode(ino).unwrap();
        assert_ne!(
            inode.base.i_flags & ext2fs::inode::flags::INDEX,
            0,
            "indexed"
        );
        inode.base.i_block[0] as u64 * fs.block_size() as u64
    };
    let short = cut(&img, root);
    let (ours, real) = side_by_side(t.path(), &short, &["-fn"]);
    let question = "has an invalid root node.\nClear HTree index? no\n\n";
    assert!(ours.stdout.contains("Ignore error? no"), "{}", ours.stdout);
    // e2fsck's second question, from its stale buffer, taken out.
    let at = real.stdout.rfind(question).expect("e2fsck asks");
    let first = real.stdout.find(question).expect("e2fsck asks");
    let mut real_once = real.stdout.clone();
    if at != first {
        let line = real_once[..at].rfind('\n').map_or(0, |n| n + 1);
        real_once.replace_range(line..at + question.len(), "");
    }
    assert_eq!(ours.stdout, real_once);
    assert_eq!(ours.code, real.code);
}

/// Pass 1B walks every map again and reads their indirect blocks through
/// the I/O error handler: an indirect block past the end of the image is
/// asked about in pass 1 and again in pass 1B, when another file shares
/// a metadata block (differential seed 779 case 139). The doubly indirect
/// block read after it clears the walk's error, so the check goes on.
#[test]
fn indirect_block_past_the_end_is_read_again_in_pass_1b() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = image_with_files(t.path(), "8M");
    let host = t.path().join("big");
    std::fs::write(&host, vec![9u8; 300_000]).unwrap();
    real_debugfs_w(&img, &format!("write {} big", host.display()));
    // Its indirect block past the cut, its doubly indirect one before.
    real_debugfs_w(&img, "sif big block[IND] 8000");
    // f1 claims a block of the inode table too.
    real_debugfs_w(&img, "sif f1 block[0] 40");
    let short = cut(&img, 4 << 20);
    let (ours, real) = side_by_side(t.path(), &short, &["-fn"]);
    assert_eq!(ours, real, "ours (left) against e2fsck -fn");
    assert!(ours.stdout.contains("Pass 1B"), "{}", ours.stdout);
    assert_eq!(
        ours.stdout.matches("Error reading block 8000").count(),
        2,
        "{}",
        ours.stdout
    );
}
