//! debugfs-union against the real debugfs 1.47 on the same images: the
//! read-only requests print the same bytes; write requests leave images the
//! real e2fsck finds clean; the union requests; export_overlay under a real
//! overlayfs mount (root only).

use std::path::{Path, PathBuf};
use std::process::Command;

use integration_tests::*;

fn ours(img: &Path, req: &str) -> std::process::Output {
    run(Command::new(our_bin("debugfs-union"))
        .arg("-R")
        .arg(req)
        .arg(img))
}

fn ours_w(img: &Path, script: &str) -> std::process::Output {
    let dir = img.parent().unwrap();
    let cmd = dir.join("script.cmd");
    std::fs::write(&cmd, script).unwrap();
    run(Command::new(our_bin("debugfs-union"))
        .arg("-w")
        .arg("-f")
        .arg(&cmd)
        .arg(img))
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A source tree with every kind of object mke2fs -d copies.
fn source_tree(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("sub/deep")).unwrap();
    std::fs::write(src.join("a.txt"), "hello\n").unwrap();
    let big: Vec<u8> = (0..40_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(src.join("big.bin"), &big).unwrap();
    std::fs::write(src.join("sub/deep/f"), "deep\n").unwrap();
    std::os::unix::fs::symlink("a.txt", src.join("link")).unwrap();
    std::os::unix::fs::symlink("x".repeat(80), src.join("slowlink")).unwrap();
    std::fs::hard_link(src.join("a.txt"), src.join("hard")).unwrap();
    let st = run(Command::new("mkfifo").arg(src.join("fifo")));
    assert!(st.status.success());
    let many = src.join("many");
    std::fs::create_dir(&many).unwrap();
    for i in 0..150 {
        std::fs::write(
            many.join(format!("a_rather_long_file_name_{i}")),
            format!("{i}\n"),
        )
        .unwrap();
    }
    src
}

fn image(dir: &Path) -> PathBuf {
    let src = source_tree(dir);
    let img = dir.join("t.img");
    real_mkfs(&img, &["-d", src.to_str().unwrap()], "8M");
    img
}

fn assert_same(img: &Path, req: &str) {
    let real = String::from_utf8_lossy(&real_debugfs(img, req)).into_owned();
    let o = ours(img, req);
    let mine = stdout(&o);
    assert_eq!(
        mine,
        real,
        "request {req:?} differs\n--- ours (stderr: {}) ---\n{mine}\n--- debugfs ---\n{real}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn read_requests_match_real_debugfs() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path());
    for req in [
        "ls -l",
        "ls",
        "ls -p",
        "ls -d",
        "ls -l /sub",
        "ls -l many",
        "ls many",
        "stat a.txt",
        "stat /sub",
        "stat big.bin",
        "stat link",
        "stat slowlink",
        "stat fifo",
        "stat <2>",
        "stat <7>",
        "stat <11>",
        "cat a.txt",
        "cat big.bin",
        "cat /sub/deep/f",
        "blocks big.bin",
        "blocks /sub",
        "blocks <7>",
        "ncheck 12 13 14 15 16 17 18 19",
        "stats",
        "show_super_stats -h",
        "params",
        "pwd",
        "features",
        "testb 1 20",
        "testi <12>",
        "ffb 5",
        "ffb 3 1000",
        "ffi",
        "imap a.txt",
        "imap <2>",
        "idump a.txt",
        "dirsearch / big.bin",
        "dirsearch /sub deep",
        "dx_hash hello",
        "dx_hash -h tea some_name",
        "dx_hash -h half_md4 -s 01234567-89ab-cdef-0123-456789abcdef x",
        "lsdel",
        "bmap big.bin 12",
        "bmap big.bin 30",
        "ssv -l",
    ] {
        assert_same(&img, req);
    }
    // Blocks of the big file, its indirect block, metadata and a free one.
    let blocks = stdout(&ours(&img, "blocks big.bin"));
    let list: Vec<&str> = blocks.split_whitespace().collect();
    let req = format!("icheck {} {} 3 {} 8000", list[0], list[12], list[20]);
    assert_same(&img, &req);
    assert_same(&img, &format!("bd {}", list[0]));
    assert_same(&img, &format!("block_dump {}", list[12]));
    assert_same(&img, "bd -f big.bin 1");
    // Inode numbers past the end, paths that are not there: errors only.
    let o = ours(&img, "ls -l /nothing/here");
    assert!(o.stdout.is_empty());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("/nothing/here: File not found by ext2_lookup "),
        "{e}"
    );
    let o = ours(&img, "stat <999999>");
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("<999999>: File not found by ext2_lookup "),
        "{e}"
    );
    let o = ours(&img, "no_such_request");
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn other_geometries_match_real_debugfs() {
    if skip_without_e2fsprogs() {
        return;
    }
    for (opts, size) in [
        (&["-b", "1024"][..], "20M"),
        (&["-b", "4096", "-I", "128"][..], "64M"),
        (&["-r", "0"][..], "8M"),
        (
            &[
                "-O",
                "^dir_index,^resize_inode,^ext_attr",
                "-L",
                "lbl",
                "-M",
                "/mnt/x",
            ][..],
            "16M",
        ),
        (&["-b", "2048", "-O", "uninit_bg"][..], "32M"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let src = source_tree(dir.path());
        let img = dir.path().join("g.img");
        let mut args = opts.to_vec();
        args.extend(["-d", src.to_str().unwrap()]);
        real_mkfs(&img, &args, size);
        for req in [
            "stats",
            "ls -l",
            "stat a.txt",
            "stat big.bin",
            "stat <7>",
            "stat <2>",
            "blocks <7>",
            "ffi",
            "ffb 4",
            "testi <11>",
            "ncheck 12 13",
            "features",
            "idump -b big.bin",
        ] {
            assert_same(&img, req);
        }
        // An xattr (in a block with 128-byte inodes), where ext_attr is on.
        let o = run(Command::new("debugfs")
            .args(["-w", "-R", "ea_set /a.txt user.some_name some value"])
            .arg(&img));
        assert!(o.status.success());
        for req in [
            "stat a.txt",
            "ea_list a.txt",
            "idump -x a.txt",
            "idump -e a.txt",
        ] {
            assert_same(&img, req);
        }
        let st = stdout(&ours(&img, "stat a.txt"));
        let acl = st
            .lines()
            .find_map(|l| l.strip_prefix("File ACL: "))
            .unwrap_or("0")
            .to_string();
        if acl != "0" {
            assert_same(&img, &format!("bd -x {acl}"));
        }
    }
}

#[test]
fn uninit_block_groups_read_like_debugfs_and_are_not_written() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("u.img");
    real_mkfs(&img, &["-b", "1024", "-O", "uninit_bg"], "40M");
    for req in [
        "stats",
        "testb 16385 3",
        "testb 16600",
        "testb 24000",
        "ffb 3 16385",
        "ffb 5 8193",
    ] {
        assert_same(&img, req);
    }
    let before = std::fs::read(&img).unwrap();
    let o = ours_w(&img, "mkdir /x\n");
    assert!(text(&o).contains("uninit_bg"), "{}", text(&o));
    assert_eq!(std::fs::read(&img).unwrap(), before);
}

#[test]
fn htree_xattrs_and_deleted_match_real_debugfs() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path());
    // e2fsck -D indexes the big directory; the real debugfs adds xattrs
    // and deletes a file so that lsdel and ls -d have something to show.
    let o = run(Command::new("e2fsck").arg("-fyD").arg(&img));
    assert!(o.status.code().unwrap_or(8) <= 1, "{}", text(&o));
    for req in [
        "ea_set a.txt user.foo bar",
        "ea_set a.txt trusted.overlay.opaque y",
        "rm /big.bin",
        "rm /many/a_rather_long_file_name_7",
    ] {
        let o = run(Command::new("debugfs")
            .arg("-w")
            .arg("-R")
            .arg(req)
            .arg(&img));
        assert!(o.status.success(), "{}", text(&o));
    }
    for req in [
        "htree many",
        "htree_dump /many",
        "stat many",
        "ls many",
        "ls -d many",
        "ls -ld /",
        "ls -d",
        "stat a.txt",
        "ea_list a.txt",
        "ea_get a.txt user.foo",
        "idump -x a.txt",
        "idump -e a.txt",
        "idump -b a.txt",
        "lsdel",
        "stat <13>",
        "ncheck 12",
    ] {
        assert_same(&img, req);
    }
}

#[test]
fn dump_and_rdump_copy_files_out() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path());
    let src = dir.path().join("src");
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let o = ours(&img, &format!("rdump / {}", out.display()));
    assert!(o.status.success(), "{}", text(&o));
    for f in [
        "a.txt",
        "big.bin",
        "hard",
        "sub/deep/f",
        "many/a_rather_long_file_name_9",
    ] {
        assert_eq!(
            std::fs::read(out.join(f)).unwrap(),
            std::fs::read(src.join(f)).unwrap(),
            "{f}"
        );
    }
    assert_eq!(
        std::fs::read_link(out.join("link")).unwrap(),
        Path::new("a.txt")
    );
    assert_eq!(
        std::fs::read_link(out.join("slowlink")).unwrap(),
        Path::new(&"x".repeat(80))
    );
    let one = dir.path().join("one.bin");
    let o = ours(&img, &format!("dump -p /big.bin {}", one.display()));
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        std::fs::read(&one).unwrap(),
        std::fs::read(src.join("big.bin")).unwrap()
    );
    let o = ours(&img, "cat /sub");
    assert!(o.status.success());
}

#[test]
fn script_mode_echoes_requests_like_debugfs() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path());
    let cmd = dir.path().join("r.cmd");
    std::fs::write(&cmd, "ls\nstat a.txt\ncd sub\npwd\nls -l\n").unwrap();
    let real = run(Command::new("debugfs").arg("-f").arg(&cmd).arg(&img));
    let mine = run(Command::new(our_bin("debugfs-union"))
        .arg("-f")
        .arg(&cmd)
        .arg(&img));
    assert_eq!(
        stdout(&mine),
        stdout(&real).replace("debugfs: ", "debugfs-union: ")
    );
    // The same script on standard input.
    let mine = run(Command::new(our_bin("debugfs-union"))
        .arg("-f")
        .arg("-")
        .arg(&img)
        .stdin(std::fs::File::open(&cmd).unwrap()));
    assert!(stdout(&mine).starts_with("debugfs-union: ls\n"));
}

#[test]
fn write_requests_leave_a_clean_filesystem() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path());
    let native = dir.path().join("native.bin");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(&native, &data).unwrap();
    // Read-only by default: writes are refused and nothing changes.
    let before = std::fs::read(&img).unwrap();
    let o = ours(&img, "mkdir /nope");
    assert!(String::from_utf8_lossy(&o.stderr).contains("read/only"));
    assert_eq!(std::fs::read(&img).unwrap(), before);
    let script = format!(
        "mkdir /new\n\
         mkdir /new/inner\n\
         write {} /new/data\n\
         symlink /new/fast target\n\
         symlink /new/slow {}\n\
         mknod /new/pipe p\n\
         mknod /new/chr c 4 5\n\
         mknod /new/blk b 300 70000\n\
         link /a.txt /new/a2\n\
         sif /a.txt links_count 3\n\
         rm /big.bin\n\
         rm /hard\n\
         rmdir /sub/deep/../deep\n\
         rm /sub/deep/f\n\
         rmdir /sub/deep\n\
         expand_dir /new\n\
         punch /new/data 3 10\n\
         ea_set /a.txt user.x hello\n\
         ea_set /new/inner user.y 1\n\
         ea_rm /a.txt user.x\n\
         ssv mnt_count 5\n\
         sif /a.txt uid 1000\n\
         set_bg 0 itable_unused 0\n\
         setb 8000\n\
         freeb 8000\n",
        native.display(),
        "t".repeat(100)
    );
    let o = ours_w(&img, &script);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("rmdir: deep: directory not empty"), "{t}");
    assert_real_fsck_clean(&img);
    // What the real debugfs sees.
    let cat = real_debugfs(&img, "cat /new/data");
    let mut want = data.clone();
    want[3 * 1024..11 * 1024].fill(0);
    assert_eq!(cat, want);
    let ls = String::from_utf8_lossy(&real_debugfs(&img, "ls -l /new")).into_owned();
    for name in ["inner", "data", "fast", "slow", "pipe", "chr", "blk", "a2"] {
        assert!(ls.contains(name), "{name} missing:\n{ls}");
    }
    let st = String::from_utf8_lossy(&real_debugfs(&img, "stat /new/blk")).into_owned();
    assert!(st.contains("300:70000"), "{st}");
    let st = String::from_utf8_lossy(&real_debugfs(&img, "stat /a.txt")).into_owned();
    assert!(st.contains("User:  1000"), "{st}");
    let ss = String::from_utf8_lossy(&real_debugfs(&img, "stats -h")).into_owned();
    assert!(ss.contains("Mount count:              5"), "{ss}");
    // kill_file and unlink are raw like debugfs': e2fsck has work then.
    let o = ours_w(&img, "unlink /link\nkill_file <15>\n");
    assert!(o.status.success());
    let (code, _) = real_fsck_n(&img);
    assert_ne!(code, 0);
}

fn whiteout_image(dir: &Path) -> PathBuf {
    let img = image(dir);
    let o = ours_w(&img, "feature whiteout\n");
    assert!(stdout(&o).contains("whiteout"), "{}", text(&o));
    img
}

#[test]
fn union_requests() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let plain = image(dir.path());
    let o = ours_w(&plain, "whiteout /gone\nopaque /sub on\n");
    let t = text(&o);
    assert!(t.contains("whiteout feature"), "{t}");
    let udir = dir.path().join("u");
    std::fs::create_dir(&udir).unwrap();
    let img = whiteout_image(&udir);
    let o = ours_w(
        &img,
        "whiteout /sub/gone\nfallthru /sub/below\nwhiteout /a.txt\nopaque /sub on\nwhiteout /sub/deep\nwhiteout /\n",
    );
    let t = text(&o);
    assert!(t.contains("directory not empty"), "{t}");
    let ls = stdout(&ours(&img, "ls -l /sub"));
    assert!(ls.contains("gone <whiteout>"), "{ls}");
    assert!(ls.contains("below <fallthru>"), "{ls}");
    assert!(ls.contains(" (8) "), "{ls}");
    let ls = stdout(&ours(&img, "ls /sub"));
    assert!(ls.contains("gone <whiteout>"), "{ls}");
    let ls = stdout(&ours(&img, "ls -l /"));
    assert!(ls.contains("a.txt <whiteout>"), "{ls}");
    // The other link of a.txt lives on with one link less.
    let st = stdout(&ours(&img, "stat /hard"));
    assert!(st.contains("Links: 1 "), "{st}");
    let st = stdout(&ours(&img, "stat /sub"));
    assert!(st.contains("Flags: 0x800000"), "{st}");
    assert!(st.contains("opaque"), "{st}");
    assert_eq!(stdout(&ours(&img, "opaque /sub")), "/sub: opaque\n");
    let o = ours(&img, "opaque /sub off");
    assert!(String::from_utf8_lossy(&o.stderr).contains("read/only"));
    let o = ours(&img, "stat /sub/gone");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is a whiteout"),
        "{}",
        text(&o)
    );
    // A name lookup finds a whiteout too.
    assert!(stdout(&ours(&img, "dirsearch /sub gone")).contains("Entry found"));
    // Stock tools see a plain ext2 once the union bit is cleared.
    let stock = stock_copy(&img);
    assert_real_fsck_clean(&stock);
    // Creating over a whiteout reuses its name; opaque off; feature off.
    let o = ours_w(&img, "mkdir /sub/gone\nopaque /sub off\n");
    assert!(o.status.success(), "{}", text(&o));
    let ls = stdout(&ours(&img, "ls -l /sub"));
    assert!(
        !ls.contains("gone <whiteout>") && ls.contains(" gone\n"),
        "{ls}"
    );
    assert_eq!(stdout(&ours(&img, "opaque /sub")), "/sub: not opaque\n");
    // rm and unlink take whiteouts and fallthrus away.
    let o = ours_w(&img, "rm /a.txt\nunlink /sub/below\n");
    assert!(o.status.success(), "{}", text(&o));
    let ls = stdout(&ours(&img, "ls -l /sub")) + &stdout(&ours(&img, "ls -l /"));
    assert!(
        !ls.contains("<whiteout>") && !ls.contains("<fallthru>"),
        "{ls}"
    );
    assert_real_fsck_clean(&stock_copy(&img));
    let o = ours_w(&img, "feature -whiteout\n");
    let feats = stdout(&o);
    let line = feats
        .lines()
        .find(|l| l.starts_with("Filesystem features:"))
        .unwrap_or_default();
    assert!(!line.contains("whiteout"), "{feats}");
}

#[test]
fn export_overlay_under_a_real_overlay_mount() {
    if skip_without_e2fsprogs() || skip_without_root("export_overlay with a real overlayfs") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = whiteout_image(dir.path());
    let o = ours_w(
        &img,
        "whiteout /a.txt\nmkdir /opq\nopaque /opq on\nwhiteout /sub/lowfile\nwhiteout /opq/x\n",
    );
    assert!(o.status.success(), "{}", text(&o));
    let lower = dir.path().join("lower");
    std::fs::create_dir_all(lower.join("sub")).unwrap();
    std::fs::create_dir_all(lower.join("opq")).unwrap();
    std::fs::write(lower.join("a.txt"), "lower a\n").unwrap();
    std::fs::write(lower.join("sub/lowfile"), "hidden\n").unwrap();
    std::fs::write(lower.join("sub/visible"), "visible\n").unwrap();
    std::fs::write(lower.join("opq/hidden"), "hidden\n").unwrap();
    std::fs::write(lower.join("only_below"), "below\n").unwrap();
    let upper = dir.path().join("upper");
    let o = ours(&img, &format!("export_overlay {}", upper.display()));
    assert!(o.status.success(), "{}", text(&o));
    let md = std::fs::symlink_metadata(upper.join("a.txt")).unwrap();
    assert!(std::os::unix::fs::FileTypeExt::is_char_device(
        &md.file_type()
    ));
    let work = dir.path().join("work");
    let merged = dir.path().join("merged");
    std::fs::create_dir(&work).unwrap();
    std::fs::create_dir(&merged).unwrap();
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        work.display()
    );
    let o = run(Command::new("mount")
        .args(["-t", "overlay", "overlay", "-o", &opts])
        .arg(&merged));
    if !o.status.success() {
        skip(&format!("overlayfs cannot be mounted here: {}", text(&o)));
        return;
    }
    let check = || -> Result<(), String> {
        let exists = |p: &str| merged.join(p).symlink_metadata().is_ok();
        let expect = |p: &str, want: bool| {
            if exists(p) == want {
                Ok(())
            } else {
                Err(format!("{p}: exists={} want={want}", exists(p)))
            }
        };
        expect("a.txt", false)?;
        expect("hard", true)?;
        expect("sub/lowfile", false)?;
        expect("sub/visible", true)?;
        expect("sub/deep/f", true)?;
        expect("opq/hidden", false)?;
        expect("opq/x", false)?;
        expect("only_below", true)?;
        let big = std::fs::read(merged.join("big.bin")).map_err(|e| e.to_string())?;
        if big.len() != 40_000 {
            return Err("big.bin has the wrong size".into());
        }
        Ok(())
    };
    let r = check();
    let u = run(Command::new("umount").arg(&merged));
    assert!(u.status.success(), "{}", text(&u));
    r.unwrap();
}

#[test]
fn command_line() {
    let o = run(Command::new(our_bin("debugfs-union")).arg("-V"));
    assert!(stdout(&o).contains(env!("CARGO_PKG_VERSION")));
    let o = run(Command::new(our_bin("debugfs-union")).args(["-R", "ls", "/no/such/image"]));
    assert!(text(&o).contains("/no/such/image"));
    let o = run(Command::new(our_bin("debugfs-union")).args(["-R", "params"]));
    assert_eq!(
        stdout(&o),
        "Open mode: read-only\nFilesystem in use: --none--\n"
    );
    let o = run(Command::new(our_bin("debugfs-union")).args(["-R", "ls"]));
    assert!(text(&o).contains("ls: Filesystem not open"), "{}", text(&o));
    let o = run(Command::new(our_bin("debugfs-union")).args(["-s", "8193"]));
    assert_eq!(o.status.code(), Some(1));
    let o = run(Command::new(our_bin("debugfs-union")).arg("-Q"));
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn backup_superblock_and_catastrophic_mode() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("b.img");
    real_mkfs(&img, &["-b", "1024"], "20M");
    let o = run(Command::new(our_bin("debugfs-union"))
        .args(["-s", "8193", "-b", "1024", "-R", "stats -h"])
        .arg(&img));
    assert!(
        stdout(&o).contains("Block size:               1024"),
        "{}",
        text(&o)
    );
    // -c with -w opens read-write, as debugfs does; the bitmaps stay
    // unread (catastrophic_mode_writes_without_bitmaps_like_debugfs).
    let o = run(Command::new(our_bin("debugfs-union"))
        .args(["-c", "-w", "-R", "params"])
        .arg(&img));
    assert!(stdout(&o).contains("Open mode: read-write"), "{}", text(&o));
}

/// debugfs -w -c writes without ever reading the bitmaps: inode and
/// superblock edits go through, an allocation fails with "Inode bitmap not
/// loaded", kill_file moves the free counts but no bit, the bitmap
/// requests are refused, and at the end libext2fs refuses to write the
/// bitmaps it never read.
#[test]
fn catastrophic_mode_writes_without_bitmaps_like_debugfs() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path());
    let host = dir.path().join("hello.txt");
    std::fs::write(&host, "hello\n").unwrap();
    let script = format!(
        "sif <2> links_count 7\nmkdir x\nwrite {} h\nssv mnt_count 9\n\
         set_bg 0 free_blocks_count 17\nrm lost+found\nkill_file <11>\nrm big.bin\n\
         freeb 100\ntesti <2>\nstat <2>\n",
        host.display()
    );
    assert_same_writes_opened(
        &img,
        &["-c"],
        &script,
        &["stats", "stat <11>", "testb 100", "ls -l /"],
    );
    let (mine, real) = (dir.path().join("mine.img"), dir.path().join("real.img"));
    let (a, b) = (real_fsck_n(&mine), real_fsck_n(&real));
    assert_eq!(
        (a.0, a.1.replace("mine.img", "X")),
        (b.0, b.1.replace("real.img", "X"))
    );
}

/// As debugfs (libext2fs opens with EXT2_FLAG_MASTER_SB_ONLY): a change is
/// written to the primary superblock only, and to the backups too only
/// when `close_filesys -a` asks (e2fsprogs' f_resize_inode depends on it).
#[test]
fn superblock_changes_reach_the_backups_only_with_close_a() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("b.img");
    real_mkfs(&img, &["-b", "1024", "-O", "resize_inode"], "20M");
    let backup_value = |img: &Path| {
        let o = run(Command::new("/sbin/dumpe2fs")
            .args(["-h", "-o", "superblock=8193", "-o", "blocksize=1024"])
            .arg(img));
        let s = stdout(&o);
        s.lines()
            .find(|l| l.starts_with("Reserved GDT blocks:"))
            .map(|l| l.split_whitespace().last().unwrap().to_string())
            .unwrap_or_else(|| panic!("{s}"))
    };
    let before = backup_value(&img);
    ours_w(&img, "set_super_value reserved_gdt_blocks 15679\n");
    assert!(real_dumpe2fs(&img, true).contains("Reserved GDT blocks:      15679"));
    assert_eq!(backup_value(&img), before);
    ours_w(&img, "set_super_value reserved_gdt_blocks 33\nclose -a\n");
    assert_eq!(backup_value(&img), "33");
}

#[test]
fn a_mounted_filesystem_is_opened_read_only() {
    if skip_without_e2fsprogs() || skip_without_root("mounting an image") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("m.img");
    real_mkfs(&img, &[], "8M");
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let o = run(Command::new("mount")
        .args(["-o", "loop,ro"])
        .arg(&img)
        .arg(&mnt));
    if !o.status.success() {
        skip(&format!("cannot loop-mount here: {}", text(&o)));
        return;
    }
    let params = run(Command::new(our_bin("debugfs-union"))
        .args(["-w", "-R", "params"])
        .arg(&img));
    let mk = run(Command::new(our_bin("debugfs-union"))
        .args(["-w", "-R", "mkdir /zz"])
        .arg(&img));
    let u = run(Command::new("umount").arg(&mnt));
    assert!(u.status.success(), "{}", text(&u));
    assert!(
        stdout(&params).contains("Open mode: read-only"),
        "{}",
        text(&params)
    );
    assert!(text(&params).contains("is mounted on"), "{}", text(&params));
    assert!(text(&mk).contains("read/only"), "{}", text(&mk));
    assert_real_fsck_clean(&img);
}

/// stdout and stderr of both debugfs on one request, the version line
/// and the program's own name left out.
fn both_outputs(img: &Path, req: &str) -> (String, String) {
    let real = run(Command::new("debugfs").arg("-R").arg(req).arg(img));
    (
        printed(&ours(img, req), "debugfs-union"),
        printed(&real, "debugfs"),
    )
}

/// What a debugfs printed (stdout, then stderr without the version
/// line), with its own name `prog` replaced by PROG.
fn printed(o: &std::process::Output, prog: &str) -> String {
    let err = String::from_utf8_lossy(&o.stderr);
    let err: Vec<&str> = err.lines().skip(1).collect();
    format!("{}{}", stdout(o), err.join("\n")).replace(prog, "PROG")
}

/// Runs `script` with -w on two copies of `img`, ours and the real
/// debugfs, and compares what each printed, then the real debugfs'
/// answer to each of `queries` on both results.
fn assert_same_writes(img: &Path, script: &str, queries: &[&str]) {
    assert_same_writes_opened(img, &[], script, queries);
}

/// `assert_same_writes` with both debugfs given `opts` too (-c).
fn assert_same_writes_opened(img: &Path, opts: &[&str], script: &str, queries: &[&str]) {
    let dir = img.parent().unwrap();
    let cmd = dir.join("same_writes.cmd");
    std::fs::write(&cmd, script).unwrap();
    let (mine, real) = (dir.join("mine.img"), dir.join("real.img"));
    std::fs::copy(img, &mine).unwrap();
    std::fs::copy(img, &real).unwrap();
    // One clock for both (libext2fs reads E2FSPROGS_FAKE_TIME at open):
    // the write time they stamp must not depend on which second each ran.
    let go = |prog: &Path, target: &Path, name: &str| {
        let o = run(Command::new(prog)
            .env("E2FSPROGS_FAKE_TIME", "1700000000")
            .arg("-w")
            .args(opts)
            .arg("-f")
            .arg(&cmd)
            .arg(target));
        printed(&o, name)
    };
    let a = go(&our_bin("debugfs-union"), &mine, "debugfs-union");
    let b = go(Path::new("debugfs"), &real, "debugfs");
    assert_eq!(a, b, "{script:?}: what the requests printed differs");
    for q in queries {
        assert_eq!(
            String::from_utf8_lossy(&real_debugfs(&mine, q)),
            String::from_utf8_lossy(&real_debugfs(&real, q)),
            "{script:?} then {q:?}"
        );
    }
}

#[test]
fn ncheck_lists_every_name_of_a_hard_linked_inode() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("a")).unwrap();
    std::fs::create_dir_all(src.join("b")).unwrap();
    std::fs::write(src.join("a/f"), "x").unwrap();
    std::fs::hard_link(src.join("a/f"), src.join("b/g")).unwrap();
    std::fs::hard_link(src.join("a/f"), src.join("h")).unwrap();
    let img = dir.path().join("t.img");
    real_mkfs(&img, &["-d", src.to_str().unwrap()], "4M");
    for req in [
        "ncheck 12 13 14 15",
        "ncheck -c 14 13",
        "ncheck <14> 2",
        "ncheck 14 14",
    ] {
        assert_same(&img, req);
    }
    for req in ["ncheck 0", "ncheck 12 99999", "ncheck x"] {
        let (mine, real) = both_outputs(&img, req);
        assert_eq!(mine, real, "{req}");
    }
}

#[test]
fn paths_that_do_not_resolve_are_reported_like_debugfs() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path());
    for req in [
        "ls /x",
        "ls -l /nothing/here",
        "stat /x",
        "cat sub/x",
        "stat <0>",
        "stat <999999>",
        "cd /x",
        "blocks /x",
        "testi /x",
        "dump /x /dev/null",
        "rdump /x /tmp",
        "bmap /x 0",
        "ea_list /x",
    ] {
        let (mine, real) = both_outputs(&img, req);
        assert_eq!(mine, real, "{req}");
    }
}

#[test]
fn dump_unused_set_current_time_and_clri_like_debugfs() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path());
    // Freed blocks that still hold data, for dump_unused to find.
    let o = run(Command::new("debugfs")
        .args(["-w", "-R", "rm /big.bin"])
        .arg(&img));
    assert!(o.status.success(), "{}", text(&o));
    for req in [
        "dump_unused",
        "dump_unused x",
        "set_current_time 20200102030405",
        "set_current_time @1700000000",
        "set_current_time never",
        "clri",
    ] {
        let (mine, real) = both_outputs(&img, req);
        assert_eq!(mine, real, "{req}");
    }
    assert_same_writes(&img, "clri /a.txt\n", &["stat <12>", "ls -l /", "stats"]);
    assert_same_writes(
        &img,
        "set_current_time 20200102030405\nmkdir /d\nmknod p p\n",
        &["stat /d", "stat /p"],
    );
}

#[test]
fn link_bitmap_requests_and_write_layout_like_debugfs() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path());
    // link adds a name only: the link count stays.
    assert_same_writes(&img, "link /a.txt /newname\n", &["stat /a.txt", "ls -l /"]);
    // setb/freeb/seti/freei flip bits only: the free counts stay.
    assert_same_writes(
        &img,
        "freeb 300\nsetb 5000 3\nfreei 12\nseti 900\nfreeb 300\n",
        &[
            "stats",
            "testb 300",
            "testb 5000 3",
            "testi <12>",
            "testi <900>",
        ],
    );
    // A file past 12 blocks: its (IND) block comes before block 12's data,
    // and past 12 + 256 blocks the (DIND) blocks too, as debugfs lays them.
    let data: Vec<u8> = (0..700_000u32).map(|i| (i % 253) as u8 + 1).collect();
    let native = dir.path().join("native.bin");
    std::fs::write(&native, &data).unwrap();
    assert_same_writes(
        &img,
        &format!(
            "set_current_time 20200102030405\nwrite {} /w\n",
            native.display()
        ),
        &["stat /w", "stats"],
    );
}

#[test]
fn stats_show_sparse_super2_backups_and_a_missing_uuid() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (name, extra) in [("two", None), ("one", Some("num_backup_sb=1"))] {
        let img = dir.path().join(format!("{name}.img"));
        let mut args = vec!["-O", "sparse_super2", "-U", "clear"];
        if let Some(e) = extra {
            args.extend(["-E", e]);
        }
        real_mkfs(&img, &args, "64M");
        assert_same(&img, "stats");
    }
}

#[test]
fn xattr_values_and_removals_like_debugfs() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path());
    let value = dir.path().join("value");
    std::fs::write(&value, "tab\there \"quoted\" back\\slash 'q' line\n").unwrap();
    // A value read from a file (control characters, quotes, backslash)
    // shown with C escapes; removing a name that is not there is no error.
    assert_same_writes(
        &img,
        &format!(
            "ea_set -f {} /a.txt user.v\nea_get /a.txt user.v\nea_list /a.txt\n\
             ea_rm /a.txt user.nothere\nea_rm /a.txt user.v\nea_list /a.txt\n",
            value.display()
        ),
        &["ea_list /a.txt"],
    );
}

/// Called through a link named `debugfs` (how e2fsprogs' own test suite
/// calls it), the banner has debugfs' shape and the prompt its name.
#[test]
fn called_as_debugfs_it_names_itself_debugfs() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("debugfs");
    std::os::unix::fs::symlink(our_bin("debugfs-union"), &link).unwrap();
    let script = dir.path().join("s");
    std::fs::write(&script, "params\n").unwrap();
    let o = run(Command::new(&link).arg("-f").arg(&script));
    let err = String::from_utf8_lossy(&o.stderr);
    let banner = err.lines().next().unwrap_or_default();
    // e2fsprogs' tests/filter.sed drops exactly the lines of this shape.
    let rest = banner.strip_prefix("debugfs 1.47.0+union-").unwrap_or("");
    assert!(
        rest.starts_with(env!("CARGO_PKG_VERSION")) && rest.ends_with(" (5-Feb-2023)"),
        "{banner}"
    );
    assert!(
        stdout(&o).starts_with("debugfs: params\n"),
        "{}",
        stdout(&o)
    );
    let o = run(Command::new(our_bin("debugfs-union"))
        .arg("-f")
        .arg(&script));
    assert!(stdout(&o).starts_with("debugfs-union: params\n"));
    assert!(String::from_utf8_lossy(&o.stderr).contains("(union-e2fsprogs)"));
}

#[test]
fn devices_without_ext2_are_reported_like_debugfs() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let swap = |name: &str, label: Option<&str>| {
        let img = dir.path().join(name);
        std::fs::write(&img, vec![0u8; 1 << 20]).unwrap();
        let mut mkswap = Command::new("mkswap");
        if let Some(l) = label {
            mkswap.args(["-L", l]);
        }
        let o = run(mkswap.arg(&img));
        assert!(o.status.success(), "mkswap: {}", text(&o));
        img
    };
    let junk = dir.path().join("junk.img");
    std::fs::write(&junk, vec![0x5au8; 1 << 20]).unwrap();
    for img in [
        swap("labelled.img", Some("swaplabel")),
        swap("plain.img", None),
        junk,
        dir.path().join("missing.img"),
    ] {
        // From the command line and from an `open` request: the com_err
        // line, then the note naming what the device holds instead.
        let (mine, real) = both_outputs(&img, "stats");
        assert_eq!(mine, real, "{}", img.display());
        let req = format!("open {}", img.display());
        let mine = run(Command::new(our_bin("debugfs-union")).arg("-R").arg(&req));
        let real = run(Command::new("debugfs").arg("-R").arg(&req));
        assert_eq!(
            printed(&mine, "debugfs-union"),
            printed(&real, "debugfs"),
            "{req}"
        );
    }
}

/// A map whose double indirect pointer names the file's single indirect
/// block: debugfs walks it again, reading the file's data as pointers
/// (per^2 reads here, per^3 with a triple); ours lists it once and does
/// not walk it twice (docs/compat.md). A bad indirect block gives up its
/// branch, counted as debugfs counts, with the same listing as debugfs.
#[test]
fn a_shared_indirect_block_is_listed_not_walked_twice() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("big"), vec![7u8; 200 * 1024]).unwrap();
    let img = t.path().join("m.img");
    real_mkfs(&img, &["-b", "1024", "-d", src.to_str().unwrap()], "8M");
    let ind = ext2fs_ind_block(&img);
    let shared = t.path().join("shared.img");
    std::fs::copy(&img, &shared).unwrap();
    real_debugfs_w(&shared, &format!("sif big block[DIND] {ind}"));
    let listed = stdout(&ours(&shared, "blocks big"));
    let numbers = listed.split_whitespace().count();
    // 200 data blocks, the single indirect block, and it again as DIND.
    assert_eq!(numbers, 202, "{listed}");
    let bad = t.path().join("bad.img");
    std::fs::copy(&img, &bad).unwrap();
    real_debugfs_w(&bad, "sif big block[IND] 99999");
    assert_same(&bad, "blocks big");
    assert_same(&bad, "stat big");
}

fn ext2fs_ind_block(img: &Path) -> u32 {
    let fs = open_rw(img);
    let ino = fs.namei(2, "/big").unwrap();
    fs.read_inode(ino).unwrap().base.i_block[12]
}

fn real_debugfs_w(img: &Path, req: &str) {
    let o = run(Command::new("debugfs").args(["-w", "-R", req]).arg(img));
    assert!(o.status.success(), "{}", text(&o));
}
