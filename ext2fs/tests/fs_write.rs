//! The write side of the library, judged by the real e2fsprogs: after
//! every kind of change, `e2fsck -fn` must find the image clean and
//! `debugfs` must read back what we wrote.

mod support;
use support::{debugfs, e2fsck_clean, have, mkfs, rw, skip, write_indexed_dir};

use std::path::Path;
use std::process::Command;

use ext2fs::dirent::ft;
use ext2fs::fs::{Filesystem, OpenOptions};
use ext2fs::inode::{S_IFCHR, S_IFIFO, S_IFREG};

#[test]
fn create_files_dirs_links_and_read_back() {
    if !have("mke2fs") {
        skip("e2fsprogs (mke2fs, e2fsck, debugfs) not installed");
        return;
    }
    for bs in ["1024", "4096"] {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("fs.img");
        mkfs(&img, &["-b", bs], &img_size(bs));
        let mut fs = rw(&img);
        let d = fs.mkdir(2, b"dir", 0o755).unwrap();
        let sub = fs.mkdir(d, b"sub", 0o700).unwrap();
        // A file big enough to need double-indirect blocks on 1 KiB blocks,
        // with a hole in the middle.
        let mut data = vec![0u8; 300 * 1024];
        for (i, b) in data.iter_mut().enumerate().take(40 * 1024) {
            *b = (i % 251) as u8;
        }
        data[299 * 1024] = 7;
        let f = fs.create(sub, b"big", S_IFREG | 0o644).unwrap();
        let mut rec = fs.read_inode(f).unwrap();
        fs.set_file_data(f, &mut rec, &data).unwrap();
        fs.symlink(d, b"short", b"sub/big").unwrap();
        let long = "x/".repeat(50);
        fs.symlink(d, b"long", long.as_bytes()).unwrap();
        fs.mknod(d, b"null", S_IFCHR | 0o666, 1, 3).unwrap();
        fs.mknod(d, b"fifo", S_IFIFO | 0o600, 0, 0).unwrap();
        fs.link(2, b"hard", f).unwrap();
        for i in 0..200 {
            let n = format!("file-with-a-longish-name-{i:04}");
            fs.create(d, n.as_bytes(), S_IFREG | 0o600).unwrap();
        }
        for i in (0..200).step_by(3) {
            let n = format!("file-with-a-longish-name-{i:04}");
            fs.unlink(d, n.as_bytes()).unwrap();
        }
        fs.close().unwrap();
        e2fsck_clean(&img);
        assert_eq!(debugfs(&img, "cat /dir/sub/big"), data);
        assert_eq!(debugfs(&img, "cat /hard"), data);
        let stat = String::from_utf8_lossy(&debugfs(&img, "stat /dir/long")).into_owned();
        assert!(stat.contains("Size: 100"), "{stat}");
        let ls = String::from_utf8_lossy(&debugfs(&img, "ls -l /dir")).into_owned();
        assert!(ls.contains("null") && ls.contains("fifo"), "{ls}");

        // Read back through the library too.
        let fs = Filesystem::open(&img, &OpenOptions::default()).unwrap();
        let ino = fs.namei(2, "/dir/sub/big").unwrap();
        assert_eq!(fs.read_file(&fs.read_inode(ino).unwrap()).unwrap(), data);
        let l = fs.namei(2, "/dir/short").unwrap();
        assert_eq!(
            fs.read_link(&fs.read_inode(l).unwrap()).unwrap(),
            b"sub/big"
        );
        let l = fs.namei(2, "/dir/long").unwrap();
        assert_eq!(
            fs.read_link(&fs.read_inode(l).unwrap()).unwrap(),
            long.as_bytes()
        );
        assert_eq!(
            fs.read_inode(fs.namei(2, "/dir/null").unwrap())
                .unwrap()
                .device(),
            (1, 3)
        );
    }
}

fn img_size(bs: &str) -> String {
    if bs == "1024" { "8M" } else { "32M" }.to_string()
}

#[test]
fn whiteouts_fallthrus_and_rmdir_with_whiteouts() {
    if !have("mke2fs") {
        skip("e2fsprogs not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("fs.img");
    mkfs(&img, &["-b", "1024"], "8M");
    // Turn the whiteout feature on by hand (byte 0x60 of the superblock).
    set_whiteout_bit(&img, true);
    let mut fs = rw(&img);
    assert!(fs.whiteout_feature());
    let d = fs.mkdir(2, b"d", 0o755).unwrap();
    fs.create(d, b"victim", S_IFREG | 0o644).unwrap();
    fs.add_union_entry(d, b"victim", ft::WHT).unwrap();
    fs.add_union_entry(d, b"ghost", ft::FALLTHRU).unwrap();
    assert!(fs.add_union_entry(d, b"..", ft::WHT).is_err());
    let e = fs.lookup_entry(d, b"victim").unwrap().unwrap();
    assert!(e.is_whiteout());
    // A new file over the whiteout takes its slot.
    fs.create(d, b"victim", S_IFREG | 0o600).unwrap();
    assert_eq!(
        fs.read_dir(d)
            .unwrap()
            .iter()
            .filter(|e| e.name == b"victim")
            .count(),
        1
    );
    fs.unlink(d, b"victim").unwrap();
    fs.add_union_entry(d, b"victim", ft::WHT).unwrap();
    fs.set_opaque(d, true).unwrap();
    assert!(fs.read_inode(d).unwrap().is_opaque());
    // Only whiteouts and fallthrus left: the directory counts as empty.
    assert!(fs.dir_is_empty(d).unwrap());
    fs.mkdir(2, b"e", 0o755).unwrap();
    fs.close().unwrap();

    let copy = dir.path().join("copy.img");
    std::fs::copy(&img, &copy).unwrap();
    set_whiteout_bit(&copy, false);
    e2fsck_clean(&copy);

    let mut fs = rw(&img);
    fs.rmdir(2, b"d").unwrap();
    fs.close().unwrap();
    set_whiteout_bit(&img, false);
    e2fsck_clean(&img);
}

fn set_whiteout_bit(img: &Path, on: bool) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(img)
        .unwrap();
    let mut b = [0u8; 4];
    f.read_exact_at(&mut b, 1024 + 0x60).unwrap();
    let mut v = u32::from_le_bytes(b);
    if on {
        v |= 0x20;
    } else {
        v &= !0x20;
    }
    f.write_all_at(&v.to_le_bytes(), 1024 + 0x60).unwrap();
}

#[test]
fn write_range_and_truncate_match_a_model() {
    if !have("mke2fs") {
        skip("e2fsprogs not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("fs.img");
    mkfs(&img, &["-b", "1024"], "16M");
    let mut fs = rw(&img);
    let ino = fs.create(2, b"f", S_IFREG | 0o644).unwrap();
    let mut rec = fs.read_inode(ino).unwrap();
    let mut model: Vec<u8> = Vec::new();
    let mut seed = 7u64;
    let mut rnd = |m: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        (seed >> 33) % m
    };
    for step in 0..120 {
        if step % 10 == 9 {
            let size = rnd(model.len() as u64 + 1);
            fs.truncate(ino, &mut rec, size).unwrap();
            model.truncate(size as usize);
        } else {
            let off = rnd(400_000);
            let len = rnd(5000) as usize;
            let data: Vec<u8> = (0..len).map(|i| (i as u64 + off) as u8 | 1).collect();
            fs.write_range(ino, &mut rec, off, &data).unwrap();
            if model.len() < off as usize + len {
                model.resize(off as usize + len, 0);
            }
            model[off as usize..off as usize + len].copy_from_slice(&data);
        }
    }
    assert_eq!(fs.read_file(&fs.read_inode(ino).unwrap()).unwrap(), model);
    fs.close().unwrap();
    e2fsck_clean(&img);
    assert_eq!(debugfs(&img, "cat /f"), model);
}

#[test]
fn htree_directories_we_build_are_clean_and_readable() {
    if !have("mke2fs") {
        skip("e2fsprogs not installed");
        return;
    }
    for (bs, n) in [("1024", 2000), ("4096", 300)] {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("fs.img");
        mkfs(&img, &["-b", bs, "-N", "40000"], "64M");
        let mut fs = rw(&img);
        let d = fs.mkdir(2, b"big", 0o755).unwrap();
        for i in 0..n {
            fs.create(d, format!("name-{i:05}").as_bytes(), S_IFREG | 0o644)
                .unwrap();
        }
        fs.index_directory(d).unwrap();
        fs.close().unwrap();
        e2fsck_clean(&img);
        let dump = String::from_utf8_lossy(&debugfs(&img, "htree_dump /big")).into_owned();
        assert!(dump.contains("Root node dump:"), "{dump}");
        assert!(!dump.contains("Corrupt") && !dump.contains("BAD"), "{dump}");
        let fs = Filesystem::open(&img, &OpenOptions::default()).unwrap();
        assert!(fs.read_inode(d).unwrap().flags() & ext2fs::inode::flags::INDEX != 0);
        let names = fs.read_dir(d).unwrap();
        assert_eq!(names.len(), n + 2);
        // Every name is found through the index (what the kernel does).
        let root = fs
            .read_block(fs.bmap(&fs.read_inode(d).unwrap(), 0).unwrap().unwrap() as u64)
            .unwrap();
        let rec = fs.read_inode(d).unwrap();
        let ctx = ext2fs::htree::DxContext {
            dir: d,
            blocks: (rec.size() / fs.block_size() as u64) as u32,
            seed: &fs.sb().s_hash_seed,
            s_flags: fs.sb().s_flags,
        };
        for i in (0..n).step_by(7) {
            let name = format!("name-{i:05}");
            let leaf = ext2fs::htree::lookup_leaf(&root, &ctx, name.as_bytes(), |l| {
                fs.read_block(fs.bmap(&rec, l as u64)?.unwrap_or(0) as u64)
            })
            .unwrap();
            let blk = fs
                .read_block(fs.bmap(&rec, leaf as u64).unwrap().unwrap() as u64)
                .unwrap();
            let es = ext2fs::dirent::parse_block(&blk, d, 0).unwrap();
            assert!(
                es.iter().any(|e| e.name == name.as_bytes()),
                "{name} not in its leaf"
            );
        }
    }
}

/// A two-level htree (root -> index nodes -> leaves): 8000 names, all hard
/// links to one file so the test stays fast.
#[test]
fn two_level_htree_is_clean() {
    if !have("mke2fs") {
        skip("e2fsprogs not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("fs.img");
    mkfs(&img, &["-b", "1024"], "32M");
    let mut fs = rw(&img);
    let d = fs.mkdir(2, b"big", 0o755).unwrap();
    let f = fs.create(d, b"target", S_IFREG | 0o644).unwrap();
    let mut names: Vec<Vec<u8>> = (0..8000)
        .map(|i| format!("link-{i:05}").into_bytes())
        .collect();
    names.push(b"target".to_vec());
    let blocks = write_indexed_dir(&mut fs, (d, 2), f, names, 0);
    let root = ext2fs::htree::DxRoot::parse(&blocks[0], d).unwrap();
    assert_eq!(root.info.indirect_levels, 1);
    fs.close().unwrap();
    e2fsck_clean(&img);
    let dump = String::from_utf8_lossy(&debugfs(&img, "htree_dump /big")).into_owned();
    assert!(
        dump.contains("Indirect levels: 1"),
        "{}",
        &dump[..dump.len().min(2000)]
    );
}

#[test]
fn xattrs_read_from_mke2fs_d_and_written_clean() {
    if !have("mke2fs") {
        skip("e2fsprogs not installed");
        return;
    }
    use ext2fs::xattr::Xattr;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let f = src.join("f");
    std::fs::write(&f, b"data").unwrap();
    let mut want = vec![
        Xattr {
            name: "user.small".into(),
            value: b"v".to_vec(),
        },
        Xattr {
            name: "user.bigger".into(),
            value: vec![b'z'; 300],
        },
    ];
    let root = rustix::process::geteuid().is_root();
    if root {
        want.push(Xattr {
            name: "trusted.overlay.opaque".into(),
            value: b"y".to_vec(),
        });
    }
    for a in &want {
        if let Err(e) = rustix::fs::setxattr(
            &f,
            a.name.as_str(),
            &a.value,
            rustix::fs::XattrFlags::empty(),
        ) {
            skip(&format!(
                "the temporary directory does not take xattrs ({e})"
            ));
            return;
        }
    }
    want.sort();
    let img = dir.path().join("fs.img");
    std::fs::File::create(&img).unwrap();
    assert!(Command::new("mke2fs")
        .args(["-q", "-F", "-t", "ext2", "-b", "1024", "-I", "256", "-d"])
        .arg(&src)
        .arg(&img)
        .arg("4M")
        .status()
        .unwrap()
        .success());
    let fs = Filesystem::open(&img, &OpenOptions::default()).unwrap();
    let ino = fs.namei(2, "/f").unwrap();
    let mut got = fs.list_xattrs(ino).unwrap();
    got.retain(|a| !a.name.starts_with("security.") && a.name != "system.data");
    got.sort();
    assert_eq!(got, want);
    drop(fs);

    // Write our own: some in the inode body, one too big for it in a block.
    let mut fs = rw(&img);
    let g = fs.create(2, b"g", S_IFREG | 0o644).unwrap();
    fs.set_xattr(g, "user.a", b"1").unwrap();
    fs.set_xattr(g, "user.big", &[b'q'; 700]).unwrap();
    fs.set_xattr(g, "trusted.overlay.opaque", b"y").unwrap();
    fs.remove_xattr(ino, "user.small").unwrap();
    assert!(fs.remove_xattr(ino, "user.nope").is_err());
    let rec = fs.read_inode(g).unwrap();
    assert_ne!(rec.base.i_file_acl, 0, "the 700-byte value needs a block");
    fs.close().unwrap();
    e2fsck_clean(&img);
    let list = String::from_utf8_lossy(&debugfs(&img, "ea_list /g")).into_owned();
    assert!(
        list.contains("user.a")
            && list.contains("user.big")
            && list.contains("trusted.overlay.opaque"),
        "{list}"
    );
    let list = String::from_utf8_lossy(&debugfs(&img, "ea_list /f")).into_owned();
    assert!(
        !list.contains("user.small") && list.contains("user.bigger"),
        "{list}"
    );
}

#[test]
fn rename_files_and_directories_is_clean() {
    if !have("mke2fs") || !have("e2fsck") || !have("debugfs") {
        skip("the real e2fsprogs is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("r.img");
    mkfs(&img, &[], "4M");
    let mut fs = rw(&img);
    let a = fs.mkdir(2, b"a", 0o755).unwrap();
    let b = fs.mkdir(2, b"b", 0o755).unwrap();
    let sub = fs.mkdir(a, b"sub", 0o755).unwrap();
    let f = fs.create(sub, b"f", S_IFREG | 0o644).unwrap();
    let mut rec = fs.read_inode(f).unwrap();
    fs.set_file_data(f, &mut rec, b"data").unwrap();
    // A file within one directory, then a directory to another parent.
    fs.rename(sub, b"f", sub, b"g").unwrap();
    fs.rename(a, b"sub", b, b"moved").unwrap();
    assert!(fs.rename(a, b"gone", b, b"x").is_err());
    assert_eq!(fs.namei(2, "/b/moved/g").unwrap(), f);
    assert_eq!(fs.namei(2, "/b/moved").unwrap(), sub);
    assert_eq!(fs.read_inode(a).unwrap().base.i_links_count, 2);
    assert_eq!(fs.read_inode(b).unwrap().base.i_links_count, 3);
    fs.close().unwrap();
    e2fsck_clean(&img);
    assert_eq!(debugfs(&img, "cat /b/moved/g"), b"data");
}

/// Counts at their limit on a corrupt image saturate instead of
/// overflowing (found by fuzzing e2fsck-union).
#[test]
fn group_counts_saturate() {
    use ext2fs::fs::{Filesystem, OpenOptions};
    use ext2fs::image::Image;
    let bytes = ext2fs::mkfs::small_image(256 << 10, false).unwrap();
    let opts = OpenOptions {
        write: true,
        ..Default::default()
    };
    let mut fs = Filesystem::from_image(Image::in_memory(bytes, true), &opts).unwrap();
    fs.load_bitmaps().unwrap();
    fs.update_group(0, |gd| {
        gd.bg_used_dirs_count = u16::MAX;
        gd.bg_free_inodes_count = u16::MAX;
        gd.bg_free_blocks_count = u16::MAX;
    })
    .unwrap();
    fs.update_superblock(|sb| {
        sb.s_free_inodes_count = u32::MAX;
        sb.s_free_blocks_count = u32::MAX;
    });
    let ino = fs.alloc_inode(2, true).unwrap();
    fs.mark_inode(ino, true, true).unwrap();
    fs.mark_inode(ino, false, true).unwrap();
    let b = fs.alloc_block(0).unwrap();
    fs.mark_block(b as u64, false).unwrap();
    assert_eq!(fs.groups()[0].bg_free_blocks_count, u16::MAX);
}

#[test]
fn orphans_of_unlinked_open_files_chain_and_free() {
    if !have("mke2fs") {
        skip("e2fsprogs not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("fs.img");
    mkfs(&img, &["-b", "1024"], "8M");
    let mut fs = rw(&img);
    let free_before = fs.sb().s_free_blocks_count;
    let mut inos = Vec::new();
    for name in [b"a", b"b", b"c"] {
        let ino = fs.create(2, name, S_IFREG | 0o644).unwrap();
        let mut rec = fs.read_inode(ino).unwrap();
        fs.write_range(ino, &mut rec, 0, &[7u8; 5000]).unwrap();
        fs.remove_entry(2, name).unwrap();
        assert!(fs.drop_link_keep_open(ino).unwrap());
        inos.push(ino);
    }
    // The list runs newest first, through each inode's dtime.
    assert_eq!(fs.sb().s_last_orphan, inos[2]);
    assert_eq!(fs.read_inode(inos[2]).unwrap().base.i_dtime, inos[1]);
    assert_eq!(fs.read_inode(inos[1]).unwrap().base.i_dtime, inos[0]);
    assert_eq!(fs.read_inode(inos[0]).unwrap().base.i_links_count, 0);
    // Released from the middle, the end and the head.
    fs.release_orphan(inos[1]).unwrap();
    assert_eq!(fs.read_inode(inos[2]).unwrap().base.i_dtime, inos[0]);
    fs.release_orphan(inos[0]).unwrap();
    fs.release_orphan(inos[2]).unwrap();
    assert_eq!(fs.sb().s_last_orphan, 0);
    assert!(fs.release_orphan(inos[0]).is_err(), "released twice");
    assert_eq!(fs.sb().s_free_blocks_count, free_before);
    fs.close().unwrap();
    e2fsck_clean(&img);
}
