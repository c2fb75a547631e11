//! Images made to cost too much: an indirect-block loop (pointers^3 reads
//! if followed), a directory loop, an htree whose index points at itself,
//! and a superblock that claims far more than the device holds. Every tool
//! must finish in bounded time and memory with a clear message; the
//! figures (wall time, peak RSS) are printed for the record.

use std::path::Path;
use std::process::Command;

use integration_tests::*;

fn bounded(what: &str, r: &(i32, String, f64, u64)) {
    eprintln!("{what}: exit {}, {:.2} s, peak RSS {} KB", r.0, r.2, r.3);
    assert!(
        r.0 >= 0 && r.0 != 124,
        "{what}: killed or timed out:\n{}",
        r.1
    );
    assert!(!r.1.contains("panicked"), "{what}:\n{}", r.1);
    assert!(r.2 < 60.0, "{what}: {} s", r.2);
    assert!(r.3 < 512 * 1024, "{what}: {} KB", r.3);
}

/// e2fsck-union -fy repairs `img` within the bounds; afterwards our
/// -fn and the real e2fsck -fn both find it clean.
fn repaired_within_bounds(what: &str, img: &Path) {
    let r = measured("e2fsck-union", &["-fy"], img);
    bounded(what, &r);
    let again = measured("e2fsck-union", &["-fn"], img);
    assert_eq!(again.0, 0, "first:\n{}\nsecond:\n{}", r.1, again.1);
    assert_real_fsck_clean(&stock_copy(img));
}

fn make(dir: &Path, name: &str) -> std::path::PathBuf {
    let img = dir.join(name);
    let out = run(Command::new(our_bin("mke2fs-union"))
        .args(["-q", "-F", "-b", "4096", "-O", "whiteout"])
        .arg(&img)
        .arg("32M"));
    assert!(out.status.success(), "{}", text(&out));
    img
}

#[test]
fn costly_images_are_handled_in_bounded_time_and_memory() {
    if skip_without_e2fsprogs() || !Path::new("/usr/bin/time").exists() {
        skip("needs GNU time (/usr/bin/time) and e2fsprogs");
        return;
    }
    let t = tempfile::tempdir().unwrap();

    // 1. A triple-indirect block that points at itself 1024 times.
    let img = make(t.path(), "loop.img");
    {
        let mut fs = open_rw(&img);
        let f = fs.create(2, b"loop", 0o100644).unwrap();
        let b = fs.alloc_block(0).unwrap();
        let mut blk = Vec::with_capacity(4096);
        for _ in 0..1024 {
            blk.extend_from_slice(&b.to_le_bytes());
        }
        fs.write_block(b as u64, &blk).unwrap();
        let mut rec = fs.read_inode(f).unwrap();
        rec.base.i_block[14] = b;
        rec.base.i_blocks = 8;
        rec.set_size(1 << 40);
        fs.write_inode(f, &rec).unwrap();
        fs.close().unwrap();
    }
    let r = measured("debugfs-union", &["-R", "cat /loop"], &img);
    bounded("debugfs cat of an indirect loop", &r);
    assert!(r.1.contains("appears twice"), "{}", r.1);
    repaired_within_bounds("e2fsck -fy of an indirect loop", &img);

    // 2. Two directories that are each other's only parent.
    let img = make(t.path(), "dirloop.img");
    {
        let mut fs = open_rw(&img);
        let a = fs.mkdir(2, b"a", 0o755).unwrap();
        let b = fs.mkdir(a, b"b", 0o755).unwrap();
        fs.add_entry(b, b"back", a, ext2fs::dirent::ft::DIR)
            .unwrap();
        fs.remove_entry(2, b"a").unwrap();
        fs.close().unwrap();
    }
    repaired_within_bounds("e2fsck -fy of a directory loop", &img);

    // 3. An htree whose root index sends every hash back to the root.
    let img = make(t.path(), "htree.img");
    {
        let mut fs = open_rw(&img);
        let d = fs.mkdir(2, b"big", 0o755).unwrap();
        for i in 0..400 {
            fs.create(
                d,
                format!("name-{i:04}-with-some-length").as_bytes(),
                0o100644,
            )
            .unwrap();
        }
        fs.index_directory(d).unwrap();
        let rec = fs.read_inode(d).unwrap();
        let root = fs.bmap(&rec, 0).unwrap().unwrap();
        let mut buf = fs.read_block(root as u64).unwrap();
        // dx_root: '.'(12) '..'(12) info(8) count/limit(4) block(4) ...
        for e in 0..8 {
            let at = 0x20 + e * 8 + 4;
            buf[at..at + 4].copy_from_slice(&0u32.to_le_bytes());
        }
        fs.write_block(root as u64, &buf).unwrap();
        fs.close().unwrap();
    }
    let r = measured("debugfs-union", &["-R", "htree /big"], &img);
    bounded("debugfs htree of a self-referencing index", &r);
    repaired_within_bounds("e2fsck -fy of a self-referencing htree", &img);

    // 4. A superblock that claims billions of blocks and inodes.
    let img = make(t.path(), "huge.img");
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&img)
            .unwrap();
        f.write_all_at(&0xF000_0000u32.to_le_bytes(), 1024).unwrap(); // s_inodes_count
        f.write_all_at(&0xF000_0000u32.to_le_bytes(), 1024 + 4)
            .unwrap(); // s_blocks_count
    }
    for (tool, args) in [
        ("e2fsck-union", &["-fn"][..]),
        ("debugfs-union", &["-R", "stats"][..]),
        ("mount-union", &["-f", "-v"][..]),
    ] {
        let r = measured(tool, args, &img);
        bounded(
            &format!("{tool} on a superblock claiming 4 billion blocks"),
            &r,
        );
    }
    // e2fsck 1.47 falls back to the backups, tries the superblock despite
    // its errors, asks to fix the inode count and, declined, stops with
    // the superblock advice: exit 12 (8 | 4, "still has errors").
    let r = measured("e2fsck-union", &["-fn"], &img);
    assert_eq!(r.0, 12, "{}", r.1);
    assert!(
        r.1.contains("Trying to load superblock despite errors"),
        "{}",
        r.1
    );
}
