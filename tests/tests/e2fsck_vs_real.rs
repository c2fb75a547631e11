//! e2fsck-union and the real e2fsck on the same images made by the real
//! mke2fs (and real debugfs or byte edits): same exit code, same output.
//! Each test is a bug where the two once differed.

use std::path::Path;
use std::process::{Command, Output};

use integration_tests::*;

/// Ours and the real e2fsck with `args` on copies of `img` inside `t`
/// (vs_e2fsck::side_by_side); returns (our exit code, our stdout, real
/// exit code, real stdout).
fn both_in(t: &Path, img: &Path, args: &[&str]) -> (i32, String, i32, String) {
    let (ours, real) = vs_e2fsck::side_by_side(t, img, args);
    (ours.code, ours.stdout, real.code, real.stdout)
}

/// `both_in` on throwaway copies.
fn both(img: &Path, args: &[&str]) -> (i32, String, i32, String) {
    let t = tempfile::tempdir().unwrap();
    both_in(t.path(), img, args)
}

/// Asserts ours answers like the real e2fsck (exit code and stdout).
fn assert_same(img: &Path, args: &[&str]) {
    let (oc, os, rc, rs) = both(img, args);
    assert_eq!(
        (oc, &os),
        (rc, &rs),
        "{args:?}: ours (left) and e2fsck (right) differ"
    );
}

#[test]
fn inode_zeroed_group_flag_is_no_problem() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("lazy.img");
    // lazy_itable_init=0 makes mke2fs zero the inode tables and set
    // INODE_ZEROED in every group even without uninit_bg.
    real_mkfs(&img, &["-E", "lazy_itable_init=0"], "64M");
    for args in [&["-fn"][..], &["-p"], &["-fp"], &["-fy"]] {
        let (oc, os, _, _) = both(&img, args);
        assert_eq!(oc, 0, "{args:?}:\n{os}");
        assert_same(&img, args);
    }
}

/// Overwrites `bytes` at `offset` of an image file.
#[test]
fn missing_uuid_is_generated_quietly() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("nouuid.img");
    real_mkfs(&img, &[], "16M");
    // s_uuid: 16 bytes at 0x68 of the superblock (genext2fs leaves it zero).
    poke(&img, 1024 + 0x68, &[0; 16]);
    for args in [&["-fy"][..], &["-p"], &["-fn"]] {
        let (oc, os, _, _) = both(&img, args);
        // A generated UUID is no repair: exit 0, not "MODIFIED".
        assert_eq!(oc, 0, "{args:?}:\n{os}");
        assert_eq!(
            os.contains("did not have a UUID"),
            args != ["-fn"],
            "{args:?}:\n{os}"
        );
        assert_same(&img, args);
    }
}

#[test]
fn non_contiguous_share_is_counted_as_e2fsck_does() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("frag.img");
    real_mkfs(&img, &["-b", "1024"], "32M");
    let small = t.path().join("small");
    let mid = t.path().join("mid");
    let big = t.path().join("big");
    std::fs::write(&small, vec![1u8; 20_000]).unwrap();
    std::fs::write(&mid, vec![2u8; 60_000]).unwrap();
    // Larger than a group (8192 blocks): never counted as non-contiguous.
    std::fs::write(&big, vec![3u8; 9_000_000]).unwrap();
    let (s, m, b) = (small.display(), mid.display(), big.display());
    // "e" fills the hole "b" leaves and goes on past "c": fragmented. One
    // file in 16 inodes is 6.25%, which e2fsck rounds up to 6.3%.
    real_debugfs_script(
        &img,
        &format!(
            "write {s} a\nwrite {s} b\nwrite {s} c\nmkdir d\nrm b\nwrite {m} e\nwrite {b} f\n"
        ),
    );
    let (_, os, _, _) = both(&img, &["-fn"]);
    assert!(os.contains("(6.3% non-contiguous)"), "{os}");
    assert_same(&img, &["-fn"]);
}

#[test]
fn sparse_super2_is_checked() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("ss2.img");
    real_mkfs(&img, &["-O", "sparse_super2"], "64M");
    assert_same(&img, &["-fn"]);
    // Damage a group count: the repair writes the descriptors (and the
    // backups, only in the groups sparse_super2 names), and the real
    // e2fsck finds the result clean.
    real_debugfs_script(&img, "set_bg 3 free_blocks_count 7\n");
    assert_same(&img, &["-fy"]);
    let out = run(Command::new(our_bin("e2fsck-union")).arg("-fy").arg(&img));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_real_fsck_clean(&img);
}

#[test]
fn invalid_resize_inode_is_reported_before_pass_1() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("resize.img");
    real_mkfs(&img, &["-b", "1024"], "16M");
    real_debugfs_script(&img, "set_inode_field <7> block[2] 42\n");
    let (_, os, _, _) = both(&img, &["-fn"]);
    assert!(
        os.starts_with("Resize inode not valid.  Recreate? no\n\nPass 1:"),
        "{os}"
    );
    assert_same(&img, &["-fn"]);
    assert_same(&img, &["-fy"]);
}

#[test]
fn device_name_and_program_name_in_messages() {
    if skip_without_e2fsprogs() {
        return;
    }
    use std::os::unix::process::CommandExt;
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("named.img");
    real_mkfs(&img, &["-L", "mylabel"], "8M");
    // -N names the filesystem; else its label does, as in e2fsck.
    let (_, os, _, _) = both(&img, &["-fn", "-N", "test_filesys"]);
    assert!(os.contains("\ntest_filesys: 11/"), "{os}");
    assert_same(&img, &["-fn", "-N", "test_filesys"]);
    let (_, os, _, _) = both(&img, &["-fn"]);
    assert!(os.contains("\nmylabel: 11/"), "{os}");
    assert_same(&img, &["-fn"]);
    // Not a filesystem: messages carry argv[0], in e2fsck's words.
    let junk = t.path().join("junk.img");
    std::fs::write(&junk, vec![0x5au8; 4 << 20]).unwrap();
    let go = |bin: &Path| {
        let o = run(Command::new(bin)
            .arg0("../e2fsck/e2fsck")
            .arg("-fn")
            .arg("junk.img")
            .current_dir(t.path()));
        let err: String = String::from_utf8_lossy(&o.stderr)
            .lines()
            .filter(|l| !l.starts_with("e2fsck 1."))
            .map(|l| format!("{l}\n"))
            .collect();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            err,
        )
    };
    let ours = go(&our_bin("e2fsck-union"));
    assert!(
        ours.1
            .contains("../e2fsck/e2fsck: Superblock invalid, trying backup blocks..."),
        "{ours:?}"
    );
    assert_eq!(ours, go(Path::new("/usr/sbin/e2fsck")));
}

#[test]
fn backups_are_left_alone_by_a_repair_they_do_not_need() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("links.img");
    real_mkfs(&img, &["-b", "1024"], "16M");
    let data = t.path().join("data");
    std::fs::write(&data, b"x").unwrap();
    // A wrong link count: pass 4 fixes the inode; the backups need nothing.
    real_debugfs_script(
        &img,
        &format!("write {} a\nsif a links_count 3\n", data.display()),
    );
    let runs = t.path().join("runs");
    std::fs::create_dir(&runs).unwrap();
    let (oc, os, rc, _) = both_in(&runs, &img, &["-fy"]);
    assert_eq!((oc, rc), (1, 1), "{os}");
    // Group 1's superblock and descriptor copy (blocks 8193 and 8194).
    let backup = |p: &Path| std::fs::read(p).unwrap()[8193 * 1024..8195 * 1024].to_vec();
    let before = backup(&img);
    assert!(
        backup(&runs.join("ours/test.img")) == before,
        "ours rewrote the backups"
    );
    assert!(
        backup(&runs.join("real/test.img")) == before,
        "e2fsck rewrote the backups"
    );
}

#[test]
fn another_filesystem_on_the_device_is_named() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    for label in [None, Some("myswap")] {
        let img = t.path().join("swap.img");
        std::fs::write(&img, vec![0u8; 1 << 20]).unwrap();
        let mut mkswap = Command::new("mkswap");
        if let Some(l) = label {
            mkswap.args(["-L", l]);
        }
        let made = run(mkswap.arg(&img));
        assert!(made.status.success(), "mkswap failed");
        let (oc, os, rc, rs) = both(&img, &["-fn"]);
        let note = |s: &str| s.lines().last().unwrap_or("").to_string();
        let want = match label {
            Some(l) => format!("test.img contains a swap file system labelled '{l}'"),
            None => "test.img contains a swap file system".to_string(),
        };
        assert_eq!(
            (oc, note(&os)),
            (rc, note(&rs)),
            "ours (left) and e2fsck differ"
        );
        assert_eq!(note(&os), want, "{os}");
    }
}

/// An image from the real mke2fs with 128-byte inodes (no room for
/// attributes in the inode) whose file /f, inode 12, keeps one attribute,
/// user.test = "hello", in a block of its own: the image and the byte
/// offset of that block.
fn image_with_xattr_block(dir: &Path) -> (std::path::PathBuf, u64) {
    let img = dir.join("xattr.img");
    real_mkfs(&img, &["-I", "128"], "1M");
    let data = dir.join("data");
    std::fs::write(&data, b"hi\n").unwrap();
    real_debugfs_script(
        &img,
        &format!("write {} f\nea_set /f user.test hello\n", data.display()),
    );
    let fs = open_rw(&img);
    let blk = fs.read_inode(12).unwrap().base.i_file_acl as u64;
    assert_ne!(blk, 0, "debugfs put the attribute in the inode");
    (img, blk * fs.block_size() as u64)
}

/// Damages the attribute block (`bytes` at `at` within it) and checks that
/// e2fsck-union reports `message` and repairs it (-fy, -fp) as e2fsck
/// does, leaving a filesystem the real e2fsck finds clean. With `same_n`,
/// the -fn run is compared with e2fsck's too.
fn xattr_block_damage(at: u64, bytes: &[u8], message: &str, same_n: bool) {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (img, block) = image_with_xattr_block(t.path());
    poke(&img, block + at, bytes);
    let (oc, os, _, _) = both(&img, &["-fn"]);
    assert_eq!(oc, 4, "{os}");
    assert!(os.contains(&format!("{message}Clear? no\n")), "{os}");
    if same_n {
        assert_same(&img, &["-fn"]);
    }
    assert_same(&img, &["-fp"]);
    let t2 = tempfile::tempdir().unwrap();
    let (oc, os, rc, rs) = both_in(t2.path(), &img, &["-fy"]);
    assert_eq!((oc, &os), (rc, &rs), "-fy: ours (left) and e2fsck differ");
    assert_eq!(oc, 1, "{os}");
    assert_real_fsck_clean(&t2.path().join("ours/test.img"));
}

// The attribute block: a 32-byte header (h_blocks at 8), then the entry
// (name length, name index, value offset at 2, value inode at 4, value
// size at 8, hash at 12, the name at 16).

#[test]
fn xattr_entry_hash_is_checked() {
    xattr_block_damage(
        32 + 12,
        &[1, 2, 3, 4],
        "Extended attribute in inode 12 has a hash (67305985) which is invalid\n",
        true,
    );
}

#[test]
fn xattr_entry_without_name_index_is_invalid() {
    xattr_block_damage(
        32 + 1,
        &[0],
        "Extended attribute block 39 is corrupt (invalid name).  ",
        true,
    );
}

#[test]
fn xattr_value_past_the_block_is_invalid() {
    xattr_block_damage(
        32 + 8,
        &[0, 0x10, 0, 0],
        "Extended attribute block 39 is corrupt (invalid value).  ",
        true,
    );
}

#[test]
fn xattr_block_of_several_blocks_is_refused() {
    xattr_block_damage(
        8,
        &[2],
        "Extended attribute block 39 has h_blocks > 1.  ",
        true,
    );
}

#[test]
fn xattr_value_over_the_entries_is_a_collision() {
    xattr_block_damage(
        32 + 2,
        &[0x20, 0],
        "Extended attribute block 39 is corrupt (allocation collision).  ",
        true,
    );
}

#[test]
fn xattr_value_inode_out_of_range_is_illegal() {
    // Not compared under -n: e2fsck 1.47 then adds an uninitialised quota
    // figure to the inode's block count and reports it "too big".
    xattr_block_damage(
        32 + 4,
        &[5],
        "Inode 12 has illegal extended attribute value inode 5.\n",
        false,
    );
}

/// An image from the real mke2fs with 256-byte inodes whose file /f,
/// inode 12, keeps user.test = "hello" in its body (debugfs puts it
/// there, with a zero hash), damaged by `edit` of that inode through our
/// library.
fn image_with_xattr_in_inode(dir: &Path, edit: impl FnOnce(&mut Vec<u8>)) -> std::path::PathBuf {
    let img = dir.join("ibody.img");
    real_mkfs(&img, &["-I", "256"], "1M");
    let data = dir.join("data");
    std::fs::write(&data, b"hi\n").unwrap();
    real_debugfs_script(
        &img,
        &format!("write {} f\nea_set /f user.test hello\n", data.display()),
    );
    let mut fs = open_rw(&img);
    let inode = fs.read_inode(12).unwrap();
    assert_eq!(
        inode.base.i_file_acl, 0,
        "debugfs put the attribute in a block"
    );
    assert!(inode.has_in_inode_xattr_magic());
    let mut bytes = inode.to_bytes();
    edit(&mut bytes);
    fs.write_inode(12, &ext2fs::inode::Inode::parse(&bytes).unwrap())
        .unwrap();
    drop(fs);
    img
}

/// Damages inode 12 of `image_with_xattr_in_inode` (`bytes` at `at` in its
/// record) and checks that ours reports `message` then `question` under
/// -fn, and answers -fn, -fp and -fy as e2fsck does, the real e2fsck
/// finding our -fy result clean.
fn xattr_in_inode_damage(at: usize, bytes: &[u8], message: &str, question: &str) {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img =
        image_with_xattr_in_inode(t.path(), |b| b[at..at + bytes.len()].copy_from_slice(bytes));
    let (_, os, _, _) = both(&img, &["-fn"]);
    assert!(os.contains(&format!("{message}{question}? no\n")), "{os}");
    alike_in_every_mode(t.path(), &img);
}

// In the inode: the attribute area after the 32 bytes of extra fields,
// its magic at 160, then the entry at 164 (value offset at 166, value
// inode at 168, value size at 172, hash at 176).

#[test]
fn xattr_in_inode_hash_is_checked() {
    xattr_in_inode_damage(
        176,
        &[1, 2, 3, 4],
        "Extended attribute in inode 12 has a hash (67305985) which is invalid\n",
        "Clear",
    );
}

#[test]
fn xattr_in_inode_value_larger_than_the_space_left_is_invalid() {
    xattr_in_inode_damage(
        172,
        &[0, 1, 0, 0],
        "Extended attribute in inode 12 has a value size (256) which is invalid\n",
        "Clear",
    );
}

#[test]
fn xattr_in_inode_value_over_the_entry_is_a_collision() {
    xattr_in_inode_damage(
        166,
        &[0, 0],
        "Inode 12 extended attribute is corrupt (allocation collision).  ",
        "Clear",
    );
}

#[test]
fn xattr_in_inode_value_inode_out_of_range_is_illegal() {
    xattr_in_inode_damage(
        168,
        &[5],
        "Inode 12 has illegal extended attribute value inode 5.\n",
        "Clear",
    );
}

#[test]
fn pre_1970_time_kept_the_old_way_is_fixed() {
    // atime's sign bit and both epoch bits of its extra word (at 140).
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = image_with_xattr_in_inode(t.path(), |b| {
        b[8 + 3] |= 0x80;
        b[140] |= 3;
    });
    let (_, os, _, _) = both(&img, &["-fn"]);
    assert!(
        os.contains("Timestamp(s) on inode 12 beyond 2310-04-04 are likely pre-1970.\nFix? no\n"),
        "{os}"
    );
    alike_in_every_mode(t.path(), &img);
}

/// Quota inode numbers in the superblock without the quota feature, and
/// an orphan file number without orphan_file: e2fsck drops only numbers
/// of other reserved inodes or past the inode count (after the orphan
/// list, not in preen), clears an inode so named in pass 1 (checking it
/// as any other when that is declined) and refuses directory entries
/// naming one. Ours dropped every quota number, in preen too, and took the
/// named inodes as ordinary ones.
#[test]
fn quota_and_orphan_file_numbers_as_e2fsck() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    std::fs::write(&data, b"hi\n").unwrap();
    for (n, edit) in [
        "ssv usr_quota_inum 3",
        "ssv grp_quota_inum 2",
        "ssv usr_quota_inum 99999",
        "ssv prj_quota_inum 12",
        "ssv orphan_file_inum 12",
        "sif <3> links_count 1",
    ]
    .into_iter()
    .enumerate()
    {
        let cmds = format!("write {} f\n{edit}\n", data.display());
        let img = edited_image(t.path(), &format!("q{n}.img"), &[], &cmds);
        for args in [&["-fn"][..], &["-fp"], &["-fy"]] {
            let (oc, os, rc, rs) = both(&img, args);
            assert_eq!(
                (oc, &os),
                (rc, &rs),
                "{edit} {args:?}: ours (left) and e2fsck"
            );
        }
    }
}

/// An inode table outside the filesystem (differential seed 777, case
/// 108): e2fsck says why it cannot read the bad blocks inode, relocates
/// the table after pass 1 (past the blocks pass 1 set aside for a new root
/// and /lost+found), restarts and rebuilds root and /lost+found in those
/// blocks; with -n its inode scan stops. We stopped on the missing table
/// and left an image on which the real e2fsck -n loops.
#[test]
fn inode_table_outside_the_filesystem_is_relocated() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    for (i, features) in ["resize_inode", "^resize_inode"].iter().enumerate() {
        let img = t.path().join(format!("itable{i}.img"));
        real_mkfs(&img, &["-b", "1024", "-N", "64", "-O", features], "2048");
        real_debugfs_script(&img, "set_bg 0 inode_table 99999\n");
        assert_same(&img, &["-fn"]);
        let run_dir = t.path().join(format!("run{i}"));
        std::fs::create_dir(&run_dir).unwrap();
        let (oc, os, rc, rs) = both_in(&run_dir, &img, &["-fy"]);
        assert_eq!((oc, &os), (rc, &rs), "-fy: ours (left) and e2fsck (right)");
        assert!(os.contains("Relocating group 0's inode table to "), "{os}");
        let (code, out) = real_fsck_n(&run_dir.join("ours/test.img"));
        assert_eq!(code, 0, "the real e2fsck after ours:\n{out}");
    }
}

/// A bitmap or inode table at block 0, inside group 0 of a 4 KiB-block
/// filesystem (differential seed 777, case 530): e2fsck moves it after
/// pass 1 without a "not in group" question, and a bitmap replaced by the
/// one pass 5 built has its padding set. We left the inode table at 0.
#[test]
fn table_at_block_zero_is_relocated() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    for (i, field) in ["inode_table", "block_bitmap", "inode_bitmap"]
        .iter()
        .enumerate()
    {
        let img = t.path().join(format!("zero{i}.img"));
        real_mkfs(&img, &["-b", "4096"], "12637k");
        real_debugfs_script(&img, &format!("set_bg 0 {field} 0\n"));
        let run_dir = t.path().join(format!("run{i}"));
        std::fs::create_dir(&run_dir).unwrap();
        let (oc, os, rc, rs) = both_in(&run_dir, &img, &["-fy"]);
        assert_eq!(
            (oc, &os),
            (rc, &rs),
            "{field}: ours (left) and e2fsck (right)"
        );
        assert!(os.contains("Relocating group 0's "), "{os}");
        let (code, out) = real_fsck_n(&run_dir.join("ours/test.img"));
        assert_eq!(code, 0, "{field}: the real e2fsck after ours:\n{out}");
    }
}

#[test]
fn future_superblock_times_are_set_to_now() {
    if skip_without_e2fsprogs() {
        return;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as u32;
    // The runs see the clock a moment apart: compare without "now = ...".
    let steady = |s: &str| {
        s.lines()
            .filter(|l| !l.starts_with("\tnow = "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    // s_mtime at 0x2C, s_wtime at 0x30 of the superblock.
    for (at, when, message) in [
        (0x2C, now + 3600 * 24 * 365, "Superblock last mount time ("),
        (
            0x2C,
            now + 3600,
            "Superblock last mount time is in the future.\n",
        ),
        (0x30, now + 3600 * 24 * 365, "Superblock last write time ("),
        (
            0x30,
            now + 3600,
            "Superblock last write time is in the future.\n",
        ),
    ] {
        let t = tempfile::tempdir().unwrap();
        let img = t.path().join("future.img");
        real_mkfs(&img, &[], "8M");
        poke(&img, 1024 + at, &when.to_le_bytes());
        for args in [&["-fn"][..], &["-fp"], &["-p"], &["-fy"]] {
            let run = tempfile::tempdir().unwrap();
            let (oc, os, rc, rs) = both_in(run.path(), &img, args);
            assert_eq!(
                (oc, steady(&os)),
                (rc, steady(&rs)),
                "{args:?}: ours (left) and e2fsck differ"
            );
            // Not forced and no check interval: not looked at.
            assert_eq!(os.contains(message), args != ["-p"], "{args:?}:\n{os}");
            // Only the superblock's own time changes: no repair.
            assert_eq!(oc, 0, "{args:?}:\n{os}");
            if args == ["-fy"] {
                assert_real_fsck_clean(&run.path().join("ours/test.img"));
            }
        }
    }
}

#[test]
fn write_time_is_the_check_clock() {
    if skip_without_e2fsprogs() {
        return;
    }
    // A repair under E2FSCK_TIME stamps the superblock with that time, as
    // e2fsck does; a real clock time there would be "in the future" to
    // the next check on the same clock (e2fsprogs' f_dup_resize, run 2).
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("clock.img");
    real_mkfs(&img, &[], "8M");
    let fsck = |args: &[&str]| {
        run(Command::new(our_bin("e2fsck-union"))
            .env("E2FSCK_TIME", "1113200000")
            .args(args)
            .arg(&img))
    };
    let out = fsck(&["-fy"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(open_rw(&img).sb().s_wtime, 1_113_200_000);
    let out = fsck(&["-fn"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!text(&out).contains("in the future"), "{}", text(&out));
}

/// Repairs a copy of `img` with ours and the real e2fsck (`args`, in a
/// fresh directory under `t`), asserts they answer alike and that the
/// real e2fsck finds ours clean after; returns our exit code and stdout.
fn repaired_alike(t: &Path, img: &Path, args: &[&str]) -> (i32, String) {
    let run_dir = tempfile::tempdir_in(t).unwrap();
    let (oc, os, rc, rs) = both_in(run_dir.path(), img, args);
    assert_eq!((oc, &os), (rc, &rs), "{args:?}: ours (left) and e2fsck");
    assert_real_fsck_clean(&run_dir.path().join("ours/test.img"));
    (oc, os)
}

/// Ours answers as e2fsck under -fn and -fp, and repairs alike under -fy
/// (the real e2fsck finding ours clean after).
fn alike_in_every_mode(t: &Path, img: &Path) {
    assert_same(img, &["-fn"]);
    assert_same(img, &["-fp"]);
    repaired_alike(t, img, &["-fy"]);
}

/// A fresh 8 MiB image from the real mke2fs, edited by the real debugfs.
fn edited_image(dir: &Path, name: &str, mkfs_args: &[&str], cmds: &str) -> std::path::PathBuf {
    let img = dir.join(name);
    real_mkfs(&img, mkfs_args, "8M");
    real_debugfs_script(&img, cmds);
    img
}

#[test]
fn modified_line_and_exit_status_as_e2fsck() {
    if skip_without_e2fsprogs() {
        return;
    }
    // e2fsck prints "FILE SYSTEM WAS MODIFIED" when anything marked the
    // filesystem changed, and exits 1 only when a question was answered
    // yes as well, or when it found the filesystem not clean.
    let t = tempfile::tempdir().unwrap();
    struct Case {
        name: &'static str,
        mkfs: &'static [&'static str],
        debugfs: &'static str,
        option: &'static str,
        code: i32,
        modified: bool,
    }
    let case = |name, mkfs, debugfs, option, code, modified| Case {
        name,
        mkfs,
        debugfs,
        option,
        code,
        modified,
    };
    let cases = [
        // Orphans released: changed, nothing asked.
        case(
            "orphan.img",
            &[],
            "write /dev/null f\nunlink f\nsif <12> links_count 0\nssv last_orphan 12\n",
            "-fy",
            0,
            true,
        ),
        // Uninit flags cleared in the descriptor only: a repair, not a change.
        case("uninit.img", &[], "set_bg 0 flags 1\n", "-fy", 0, false),
        // ... on a filesystem not cleanly unmounted: exit 1 for the state.
        case(
            "unclean-uninit.img",
            &[],
            "set_bg 0 flags 1\nssv state 0\n",
            "-fy",
            1,
            false,
        ),
        // Nothing wrong but the state.
        case("unclean.img", &[], "ssv state 0\n", "-fy", 1, false),
        // Only notices (file types set): changed, no question answered.
        case(
            "filetype.img",
            &["-O", "^filetype"],
            "mkdir d\nfeature filetype\n",
            "-fy",
            0,
            true,
        ),
        // A repair in the superblock check makes preen check in full,
        // without naming a reason.
        case("uninit-p.img", &[], "set_bg 0 flags 1\n", "-p", 0, false),
    ];
    for Case {
        name,
        mkfs,
        debugfs,
        option,
        code,
        modified,
    } in cases
    {
        let img = edited_image(t.path(), name, mkfs, debugfs);
        let (oc, os) = repaired_alike(t.path(), &img, &[option]);
        assert_eq!(oc, code, "{name}:\n{os}");
        assert_eq!(os.contains("WAS MODIFIED"), modified, "{name}:\n{os}");
        assert!(!os.contains("clean,"), "{name}: not skipped:\n{os}");
    }
}

#[test]
fn relocation_hint_in_preen_names_the_device() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = edited_image(t.path(), "hint.img", &[], "set_bg 0 block_bitmap 0\n");
    let (oc, os, rc, rs) = both(&img, &["-p"]);
    assert_eq!((oc, &os), (rc, &rs), "ours (left) and e2fsck");
    assert_eq!(oc, 4, "{os}");
    assert!(os.starts_with("test.img: Note: if several"), "{os}");
}

#[test]
fn block_map_problems_per_inode_as_e2fsck() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    std::fs::write(&data, vec![0x5a; 3000]).unwrap();
    let long_target = format!("/{}", "a".repeat(90));
    // Two files with an illegal block each (the "illegal block(s)" question
    // is asked per inode), a slow symlink with a second block (too big), a
    // short symlink whose size_high makes it no fast symlink while it has
    // no blocks (its i_block is no map to walk).
    let cmds = format!(
        "write {d} f1\nwrite {d} f2\nsymlink slow {long_target}\nsymlink high /y\n\
         sif f1 block[1] 99999999\nsif f2 block[2] 88888888\n\
         sif slow block[1] 300\nsif slow blocks 4\nsif high size 0x100000002\n",
        d = data.display()
    );
    let img = edited_image(t.path(), "maps.img", &[], &cmds);
    let (_, os) = repaired_alike(t.path(), &img, &["-fy"]);
    for line in [
        "Inode 12 has illegal block(s).",
        "Inode 13 has illegal block(s).",
        "Inode 14 is too big.  Truncate? yes",
        "Block #1 (300) causes symlink to be too big.  CLEARED.",
    ] {
        assert!(os.contains(line), "{line}:\n{os}");
    }
    // The illegal blocks break contiguity as e2fsck counts it.
    assert!(!os.contains("(0.0% non-contiguous)"), "{os}");
}

#[test]
fn unconnected_directory_names_where_e2fsck_last_was() {
    if skip_without_e2fsprogs() {
        return;
    }
    // Root cleared: pass 2 clears the '..' entries naming it, so pass 3
    // cannot look them up and e2fsck names the last parent it recorded
    // (lost+found, just made, for the second directory).
    let t = tempfile::tempdir().unwrap();
    let img = edited_image(
        t.path(),
        "noroot.img",
        &["-O", "^dir_index"],
        "mkdir foo\nclri <2>\n",
    );
    let (_, os) = repaired_alike(t.path(), &img, &["-fy"]);
    assert!(
        os.contains("Unconnected directory inode 11 (was in /)\n")
            && os.contains("Unconnected directory inode 12 (was in /lost+found)\n"),
        "{os}"
    );
}

#[test]
fn inodes_with_indirect_blocks_are_checked_after_their_group() {
    if skip_without_e2fsprogs() {
        return;
    }
    // e2fsck checks the blocks of an inode with an indirect block (or an
    // extended attribute block) at the end of its group: the small file's
    // wrong i_blocks is reported before the big file's.
    let t = tempfile::tempdir().unwrap();
    let big = t.path().join("big");
    std::fs::write(&big, vec![0x42; 20 * 1024]).unwrap();
    let cmds = format!(
        "write {} big\nwrite /dev/null small\nsif big blocks 2\nsif small blocks 8\n",
        big.display()
    );
    let img = edited_image(t.path(), "later.img", &["-b", "1024"], &cmds);
    let (_, os) = repaired_alike(t.path(), &img, &["-fy"]);
    let small = os.find("Inode 13, i_blocks is 8, should be 0.");
    let big = os.find("Inode 12, i_blocks is 2, should be ");
    assert!(matches!((small, big), (Some(s), Some(b)) if s < b), "{os}");
}

#[test]
fn bad_blocks_inode_size_and_count_are_not_checked() {
    if skip_without_e2fsprogs() {
        return;
    }
    // e2fsck walks the bad blocks inode's map but judges neither its
    // i_blocks nor its size (e2fsprogs' f_badprimary, f_bbfile).
    let t = tempfile::tempdir().unwrap();
    let img = edited_image(
        t.path(),
        "bb.img",
        &[],
        "sif <1> blocks 4\nsif <1> size 5000\n",
    );
    for args in [&["-fn"][..], &["-fy"]] {
        let (oc, os, rc, rs) = both(&img, args);
        assert_eq!((oc, &os), (rc, &rs), "{args:?}: ours (left) and e2fsck");
        assert_eq!(oc, 0, "{args:?}:\n{os}");
    }
}

#[test]
fn inode_flag_problems_in_e2fsck_order() {
    if skip_without_e2fsprogs() {
        return;
    }
    // Pass 1 asks about casefold, then inline data (which clears the inode
    // before its encrypt flag is looked at); a directory's casefold flag
    // without the feature; a non-directory's casefold flag declined under
    // -n is asked about as a directory's too (e2fsck's `||`).
    let t = tempfile::tempdir().unwrap();
    let img = edited_image(
        t.path(),
        "flags.img",
        &[],
        "write /dev/null f\nwrite /dev/null g\nmkdir d\n\
         sif f flags 0x50000800\nsif g flags 0x40000000\nsif d flags 0x40000000\n",
    );
    let (oc, os) = repaired_alike(t.path(), &img, &["-fy"]);
    assert_eq!(oc, 1, "{os}");
    let casefold = os.find("Inode 12 has the casefold flag set but is not a directory.");
    let inline = os.find("Inode 12 has INLINE_DATA_FL flag");
    assert!(
        matches!((casefold, inline), (Some(c), Some(i)) if c < i),
        "{os}"
    );
    assert!(!os.contains("encrypt"), "{os}");
    let (oc, os, rc, rs) = both(&img, &["-fn"]);
    assert_eq!((oc, &os), (rc, &rs), "-fn: ours (left) and e2fsck");
    assert!(os.contains("casefold feature is not enabled"), "{os}");
}

#[test]
fn opaque_flag_of_an_inode_without_file_type_waits_for_pass_2() {
    if skip_without_e2fsprogs() {
        return;
    }
    // An inode of no file type is cleared whole in pass 2, as e2fsck
    // does, without a pass-1 question about its union opaque flag; kept
    // (-n), it is asked about then.
    let t = tempfile::tempdir().unwrap();
    let img = edited_image(
        t.path(),
        "opaque.img",
        &[],
        "write /dev/null f\nsif f mode 0170644\nsif f flags 0x800000\n",
    );
    let (oc, os) = repaired_alike(t.path(), &img, &["-fy"]);
    assert_eq!(oc, 1, "{os}");
    assert!(os.contains("has invalid mode (0170644)"), "{os}");
    assert!(!os.contains("opaque"), "{os}");
    let ours = run(Command::new(our_bin("e2fsck-union")).arg("-fn").arg(&img));
    let s = String::from_utf8_lossy(&ours.stdout).into_owned();
    let mode = s.find("has invalid mode (0170644)");
    let opaque = s.find("Inode 12 has the opaque (union) flag set");
    assert!(matches!((mode, opaque), (Some(m), Some(o)) if m < o), "{s}");
}

#[test]
fn relocated_table_keeps_its_contents_and_bad_blocks_owner_is_described() {
    if skip_without_e2fsprogs() {
        return;
    }
    // A bad-blocks list naming the inode bitmap and a file's block (as
    // e2fsprogs' f_bbfile): the bitmap moves with its contents (pass 5
    // finds no inode bitmap differences) and pass 1D describes the bad
    // blocks inode with its number and time like any other file.
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    std::fs::write(&data, vec![0x5a; 3000]).unwrap();
    let img = edited_image(
        t.path(),
        "bb.img",
        &[],
        &format!("write {} f\n", data.display()),
    );
    // The list goes into the bad blocks inode as debugfs writes it.
    let stat = String::from_utf8_lossy(&real_debugfs(&img, "stat f")).into_owned();
    let block: u64 = stat
        .split("(0-2):")
        .nth(1)
        .and_then(|r| r.split('-').next())
        .and_then(|b| b.trim().parse().ok())
        .unwrap_or_else(|| panic!("no blocks in:\n{stat}"));
    let groups =
        String::from_utf8_lossy(&run(Command::new("dumpe2fs").arg(&img)).stdout).into_owned();
    let bitmap: u64 = groups
        .split("Inode bitmap at ")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|b| b.parse().ok())
        .unwrap_or_else(|| panic!("no inode bitmap in:\n{groups}"));
    real_debugfs_script(
        &img,
        &format!("sif <1> block[0] {bitmap}\nsif <1> block[1] {block}\nsif <1> size 2048\nsif <1> blocks 4\n"),
    );
    let (oc, os) = repaired_alike(t.path(), &img, &["-fy"]);
    assert_eq!(oc, 1, "{os}");
    assert!(
        os.contains("<The bad blocks inode> (inode #1, mod time "),
        "{os}"
    );
    assert!(!os.contains("Inode bitmap differences"), "{os}");
}

#[test]
fn htree_faults_are_reported_block_by_block() {
    if skip_without_e2fsprogs() {
        return;
    }
    // A directory indexed by the real e2fsck -D, then its root damaged:
    // e2fsck names each fault of each block (one root entry pointing at
    // its neighbour's leaf: min/max hash, referenced twice, not
    // referenced) and then asks once; a bad limit is a question itself.
    // Repaired, the index is rebuilt as e2fsck's pass 3A packs it.
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src/d");
    std::fs::create_dir_all(&src).unwrap();
    for i in 0..300 {
        std::fs::write(src.join(format!("file_with_a_rather_long_name_{i}")), b"").unwrap();
    }
    let img = t.path().join("h.img");
    let s = t.path().join("src").to_string_lossy().into_owned();
    real_mkfs(&img, &["-b", "1024", "-d", &s], "4M");
    run(Command::new("e2fsck").arg("-fyD").arg(&img));
    let blocks = String::from_utf8_lossy(&real_debugfs(&img, "blocks /d")).into_owned();
    let root: u64 = blocks.split_whitespace().next().unwrap().parse().unwrap();
    // Root entries start at byte 32 (count/limit, then 8 bytes each).
    for (what, at, bytes, says) in [
        (
            "dupref",
            52,
            &[2u8, 0, 0, 0][..],
            "block #2 referenced twice",
        ),
        (
            "limit",
            32,
            &[100, 0][..],
            "block #0 has invalid limit (100)",
        ),
    ] {
        let bad = t.path().join(format!("{what}.img"));
        std::fs::copy(&img, &bad).unwrap();
        poke(&bad, root * 1024 + at, bytes);
        let (oc, os, rc, rs) = both(&bad, &["-fn"]);
        assert_eq!((oc, &os), (rc, &rs), "{what}: ours (left) and e2fsck");
        assert!(os.contains(says), "{what}:\n{os}");
        // Pass 3A rebuilds the index with e2fsck's leaf fill (80 %): the
        // same block count in the summary line.
        let (oc, _) = repaired_alike(t.path(), &bad, &["-fy"]);
        assert_eq!(oc, 1, "{what}");
    }
}

/// One damaged superblock for `superblock_damage_is_handled_as_e2fsck_does`.
struct SuperDamage<'a> {
    what: &'static str,
    mkfs: &'static [&'static str],
    size: &'static str,
    /// (byte offset, little-endian bytes), applied in order.
    pokes: &'a [(u64, &'a [u8])],
    /// The image is cut to this many bytes after the pokes.
    truncate: Option<u64>,
    /// What `-fn` must say.
    says: &'static str,
}

/// Byte offsets of a superblock field in the primary copy and in the
/// first backup of a 1 KiB-block filesystem (block 8193).
const fn primary(field: u64) -> u64 {
    1024 + field
}
const fn backup(field: u64) -> u64 {
    8193 * 1024 + field
}

/// The superblock checks before pass 1 (e2fsck's try_open_fs, its backup
/// fallback, "Trying to load superblock despite errors" and
/// check_super_block): each damage makes exactly one of them speak, and
/// -fn, -fy, -p and -fp must answer as the real e2fsck (stdout and exit
/// code); where our -fy repairs, the real e2fsck -fn finds the result
/// clean. We refused all of these at open or stopped with our own words.
#[test]
fn superblock_damage_is_handled_as_e2fsck_does() {
    if skip_without_e2fsprogs() {
        return;
    }
    const ONE_K: &[&str] = &["-b", "1024"];
    let cases = [
        SuperDamage {
            what: "inode count wrong in the primary only: the backup is used",
            mkfs: ONE_K,
            size: "20M",
            pokes: &[(primary(0), &5120u32.to_le_bytes())],
            truncate: None,
            says: "ext2fs_open2: The ext2 superblock is corrupt\ne2fsck: Superblock invalid, trying backup blocks...\n",
        },
        SuperDamage {
            what: "inode count wrong in every copy (PR_0_INODE_COUNT_WRONG)",
            mkfs: ONE_K,
            size: "20M",
            pokes: &[
                (primary(0), &5120u32.to_le_bytes()),
                (backup(0), &5120u32.to_le_bytes()),
            ],
            truncate: None,
            says: "e2fsck: Trying to load superblock despite errors...\nInode count in superblock is 5120, should be 5112.\nFix? no\n\nCorruption found in superblock.  (inodes_count = 5120).\n",
        },
        SuperDamage {
            what: "inode count wrong in a one-group filesystem (no backup)",
            mkfs: ONE_K,
            size: "4M",
            pokes: &[(primary(0), &1032u32.to_le_bytes())],
            truncate: None,
            says: "Inode count in superblock is 1032, should be 1024.\n",
        },
        SuperDamage {
            what: "inode count zero (PR_0_MISC_CORRUPT_SUPER, PR_0_SB_CORRUPT)",
            mkfs: ONE_K,
            size: "20M",
            pokes: &[(primary(0), &[0; 4]), (backup(0), &[0; 4])],
            truncate: None,
            says: "Corruption found in superblock.  (inodes_count = 0).\n\nThe superblock could not be read",
        },
        SuperDamage {
            what: "reserved blocks past half the filesystem",
            mkfs: ONE_K,
            size: "20M",
            pokes: &[(primary(8), &15000u32.to_le_bytes())],
            truncate: None,
            says: "Corruption found in superblock.  (r_blocks_count = 15000).\n",
        },
        SuperDamage {
            what: "descriptor size not a power of two",
            mkfs: ONE_K,
            size: "20M",
            pokes: &[(primary(0xFE), &48u16.to_le_bytes())],
            truncate: None,
            says: "(desc_size = 48)",
        },
        SuperDamage {
            what: "first inode below 11",
            mkfs: ONE_K,
            size: "20M",
            pokes: &[(primary(0x54), &5u32.to_le_bytes())],
            truncate: None,
            says: "(first_ino = 5)",
        },
        SuperDamage {
            what: "first data block 0 with 1 KiB blocks (PR_0_FIRST_DATA_BLOCK)",
            mkfs: ONE_K,
            size: "20M",
            pokes: &[(primary(0x14), &[0; 4])],
            truncate: None,
            says: "Superblock first_data_block = 0, should have been 1\n",
        },
        SuperDamage {
            what: "blocks per group past a bitmap's reach: the backup is used",
            mkfs: ONE_K,
            size: "20M",
            pokes: &[(primary(0x20), &900_000u32.to_le_bytes())],
            truncate: None,
            says: "Superblock invalid, trying backup blocks...\n",
        },
        SuperDamage {
            what: "device smaller than the filesystem (PR_0_FS_SIZE_WRONG)",
            mkfs: ONE_K,
            size: "20M",
            pokes: &[],
            truncate: Some(18 << 20),
            says: "The physical size of the device is 18432 blocks\nEither the superblock or the partition table is likely to be corrupt!\nAbort? no\n\n",
        },
        SuperDamage {
            what: "bad extra isizes (PR_0_BAD_MIN/WANT_EXTRA_ISIZE)",
            mkfs: &["-b", "1024", "-I", "256"],
            size: "20M",
            pokes: &[
                (primary(0x15C), &6u16.to_le_bytes()),
                (primary(0x15E), &200u16.to_le_bytes()),
            ],
            truncate: None,
            says: "Bad required extra isize in superblock (6).  Fix? no\n\nBad desired extra isize in superblock (200).  Fix? no\n\n",
        },
        SuperDamage {
            what: "first_meta_bg past the descriptor table (PR_0_FIRST_META_BG_TOO_BIG)",
            mkfs: &["-b", "1024", "-O", "meta_bg,^resize_inode"],
            size: "20M",
            pokes: &[
                (primary(0x104), &5u32.to_le_bytes()),
                (backup(0x104), &5u32.to_le_bytes()),
            ],
            truncate: None,
            says: "First_meta_bg is too big.  (5, max value 1).  Clear? no\n",
        },
        SuperDamage {
            what: "group 0's block bitmap in group 1 (PR_0_CHECK_DESC_FAILED)",
            mkfs: ONE_K,
            size: "20M",
            // bg_block_bitmap of group 0, in the descriptor table at block 2.
            pokes: &[(2048, &9000u32.to_le_bytes())],
            truncate: None,
            says: "ext2fs_check_desc: Corrupt group descriptor: bad block for block bitmap\ne2fsck: Group descriptors look bad... trying backup blocks...\n",
        },
    ];
    for case in cases {
        let t = tempfile::tempdir().unwrap();
        let img = t.path().join("damaged.img");
        real_mkfs(&img, case.mkfs, case.size);
        for (at, bytes) in case.pokes {
            poke(&img, *at, bytes);
        }
        if let Some(len) = case.truncate {
            let f = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
            f.set_len(len).unwrap();
        }
        for args in [&["-fn"][..], &["-fy"], &["-p"], &["-fp"]] {
            let run_dir = t.path().join(args[0]);
            std::fs::create_dir(&run_dir).unwrap();
            let (oc, os, rc, rs) = both_in(&run_dir, &img, args);
            assert_eq!(
                (oc, &os),
                (rc, &rs),
                "{}, {args:?}: ours (left) and e2fsck (right) differ",
                case.what
            );
            if args == ["-fn"] {
                assert!(os.contains(case.says), "{}:\n{os}", case.what);
            }
            if args == ["-fy"] && oc < 4 {
                assert_real_fsck_clean(&run_dir.join("ours/test.img"));
            }
        }
    }
}

/// One superblock edit for `superblock_hints_and_counts_as_e2fsck`.
struct Pass0Case<'a> {
    what: &'static str,
    mkfs: &'static [&'static str],
    size: &'static str,
    /// (byte offset, bytes) written over the real mke2fs's image.
    pokes: &'a [(u64, &'a [u8])],
    /// The runs compared with the real e2fsck.
    runs: &'static [&'static [&'static str]],
    /// (run, text its output must contain).
    says: &'static [(&'static [&'static str], &'static str)],
}

/// The pass-0 problems of e2fsck's check_super_block, check_if_skip and
/// check_resize_inode that e2fsck-union once did not report
/// (PR_0_DIRHASH_HINT, PR_0_CLEAR_TESTFS_FLAG, PR_0_FREE_INODE_COUNT,
/// PR_0_FREE_BLOCK_COUNT, PR_0_NONZERO_RESERVED_GDT_BLOCKS,
/// PR_0_DISABLE_RESIZE_INODE, and the backup comparison that forces a
/// check): ours answers each run as the real e2fsck (stdout and exit
/// code), and after our -fy the real e2fsck -fn finds nothing.
#[test]
fn superblock_hints_and_counts_as_e2fsck() {
    if skip_without_e2fsprogs() {
        return;
    }
    const FORCED: &[&[&str]] = &[&["-fn"], &["-fy"], &["-p"], &["-fp"]];
    let cases = [
        Pass0Case {
            what: "no dirhash signedness in s_flags (PR_0_DIRHASH_HINT)",
            mkfs: &[],
            size: "8M",
            pokes: &[(primary(0x160), &[0; 4])],
            runs: FORCED,
            says: &[
                (&["-fy"], "Adding dirhash hint to filesystem.\n\n"),
                (&["-p"], "test.img: Adding dirhash hint to filesystem.\n"),
            ],
        },
        Pass0Case {
            what: "test_fs flag (PR_0_CLEAR_TESTFS_FLAG where ext4 is available)",
            mkfs: &[],
            size: "8M",
            pokes: &[(primary(0x160), &[5, 0, 0, 0])],
            runs: FORCED,
            says: &[],
        },
        Pass0Case {
            what: "superblock free counts off from the groups' (PR_0_FREE_*_COUNT)",
            mkfs: &[],
            size: "8M",
            pokes: &[(primary(0x0C), &[16, 0, 0, 0]), (primary(0x10), &[16, 0, 0, 0])],
            runs: &[&["-y"], &["-p"], &["-n"]],
            says: &[(
                &["-y"],
                "Setting free inodes count to 2037 (was 16)\nSetting free blocks count to 7630 (was 16)\ntest.img: clean",
            )],
        },
        Pass0Case {
            what: "reserved GDT blocks without resize_inode (PR_0_NONZERO_RESERVED_GDT_BLOCKS)",
            mkfs: &["-b", "1024"],
            size: "20M",
            // compat: ext_attr, dir_index, no resize_inode.
            pokes: &[(primary(0x5C), &[0x28])],
            runs: FORCED,
            says: &[
                (&["-fn"], "Filesystem does not have resize_inode enabled, but s_reserved_gdt_blocks\nis 79; should be zero.  Fix? no\n"),
                (&["-p"], "primary superblock features different from backup, check forced.\n"),
            ],
        },
        Pass0Case {
            what: "resize_inode with meta_bg (PR_0_DISABLE_RESIZE_INODE)",
            mkfs: &["-b", "1024", "-O", "meta_bg,^resize_inode"],
            size: "20M",
            pokes: &[(primary(0x5C), &[0x38])],
            runs: FORCED,
            says: &[(&["-fy"], "Resize_inode and meta_bg features are enabled. Those features are\nnot compatible. Resize inode should be disabled.  Fix? yes\n")],
        },
    ];
    for case in cases {
        let t = tempfile::tempdir().unwrap();
        let img = t.path().join("damaged.img");
        real_mkfs(&img, case.mkfs, case.size);
        for (at, bytes) in case.pokes {
            poke(&img, *at, bytes);
        }
        for args in case.runs {
            let run_dir = t.path().join(args.concat());
            std::fs::create_dir(&run_dir).unwrap();
            let (oc, os, rc, rs) = both_in(&run_dir, &img, args);
            assert_eq!(
                (oc, &os),
                (rc, &rs),
                "{}, {args:?}: ours (left) and e2fsck (right) differ",
                case.what
            );
            for (run, text) in case.says {
                if run == args {
                    assert!(os.contains(text), "{}, {args:?}:\n{os}", case.what);
                }
            }
            if oc < 4 && args.contains(&"-fy") {
                assert_real_fsck_clean(&run_dir.join("ours/test.img"));
            }
        }
    }
}

/// The orphan list as e2fsck's release_orphan_inodes walks it: a head or
/// link outside the inode range (PR_0_ORPHAN_ILLEGAL_HEAD_INODE,
/// PR_0_ORPHAN_ILLEGAL_INODE), a block outside the filesystem or already
/// free in the bitmap (PR_0_ORPHAN_ILLEGAL_BLOCK_NUM,
/// PR_0_ORPHAN_ALREADY_CLEARED_BLOCK, for data and indirect blocks), an
/// indirect block the iterator refuses, a list on a filesystem with
/// errors, and lists released whole. Each stops the walk where e2fsck
/// stops it, leaving what was freed so far, and forces the full check:
/// -fy and -fp answer as the real e2fsck, whose -fn then finds ours clean.
#[test]
fn orphan_list_problems_as_e2fsck() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    // 20 blocks of 1 KiB: blocks 562-573, the indirect block 574, 575-582.
    let data = t.path().join("data.bin");
    std::fs::write(
        &data,
        (0..20_000u32)
            .map(|i| (i * 7 % 251) as u8)
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    let two = format!(
        "write {} f\nwrite {} g\nsif f links_count 0\nssv last_orphan 12\n",
        data.display(),
        data.display()
    );
    let cases: [(&str, &str, &str); 8] = [
        (
            "released",
            "sif f dtime 13\nsif g size 3000\n",
            "Truncating orphaned inode 13 (uid=0, gid=0, mode=0100644, size=3000)\n",
        ),
        (
            "illegal head",
            "ssv last_orphan 5\n",
            "Illegal orphaned inode 5 in superblock.\n",
        ),
        (
            "illegal link",
            "sif f dtime 99999\n",
            "Illegal inode 99999 in orphaned inode list.\n",
        ),
        (
            "illegal block",
            "sif f block[3] 99999999\n",
            "Illegal block #3 (99999999) found in orphaned inode 12.\n",
        ),
        (
            "cleared block",
            "freeb 565\n",
            "Already cleared block #3 (565) found in orphaned inode 12.\n",
        ),
        (
            "cleared indirect",
            "sif f links_count 1\nsif f size 3000\nfreeb 574\n",
            "Already cleared indirect block (574) found in orphaned inode 12.\n",
        ),
        (
            "illegal indirect",
            "sif f block[IND] 99999999\n",
            "Clearing orphaned inode 12",
        ),
        (
            "errors",
            "ssv state 2\n",
            "Deleted inode 12 has zero dtime.  FIXED.",
        ),
    ];
    for (what, edit, says) in cases {
        let img = edited_image(
            t.path(),
            &format!("{what}.img"),
            &["-b", "1024"],
            &format!("{two}{edit}"),
        );
        for args in [&["-fy"][..], &["-fp"]] {
            let (_, os) = repaired_alike(t.path(), &img, args);
            if args == ["-fp"] {
                assert!(os.contains(says), "{what}:\n{os}");
            }
        }
    }
}

#[test]
fn indirect_block_on_metadata_is_moved_by_pass_1b_then_the_check_restarts() {
    if skip_without_e2fsprogs() {
        return;
    }
    // An indirect block on the block bitmap, on an inode table block (a
    // double indirect one too), and on a reserved descriptor block: e2fsck
    // says so at once (PR_1_CRITICAL_METADATA_COLLISION), drops the
    // pointers read from it without asking and without writing into the
    // metadata, lets pass 1B clone the block and, not under -n, starts
    // over after pass 2 (pass 5 then frees the old indirect's blocks).
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    std::fs::write(&data, vec![0x5a; 20 * 1024]).unwrap();
    let huge = t.path().join("huge");
    std::fs::write(&huge, vec![0xa5; 400 * 1024]).unwrap();
    let base = edited_image(
        t.path(),
        "base.img",
        &["-b", "1024"],
        &format!("write {} f\nwrite {} h\n", data.display(), huge.display()),
    );
    let bitmap = real_dumpe2fs(&base, false)
        .lines()
        .find_map(|l| l.trim().strip_prefix("Block bitmap at "))
        .and_then(|r| r.split_whitespace().next()?.parse::<u64>().ok())
        .expect("block bitmap of group 0");
    for (n, edit) in [
        format!("sif f block[IND] {bitmap}"),
        format!("sif f block[IND] {}", bitmap + 6),
        format!("sif h block[DIND] {}", bitmap + 66),
        "sif f block[IND] 18".to_string(),
    ]
    .iter()
    .enumerate()
    {
        let img = t.path().join(format!("meta{n}.img"));
        std::fs::copy(&base, &img).unwrap();
        real_debugfs_script(&img, &format!("{edit}\n"));
        assert_same(&img, &["-fn"]);
        // Preen: "Duplicate or bad block in use!", the pass 1B-1D report,
        // then the clone question stops it.
        assert_same(&img, &["-fp"]);
        let (_, os) = repaired_alike(t.path(), &img, &["-fy"]);
        for line in [
            "conflicts with critical metadata, skipping block checks.",
            "<filesystem metadata>",
            "Restarting e2fsck from the beginning...",
        ] {
            assert!(os.contains(line), "{edit}: {line}:\n{os}");
        }
    }
}

#[test]
fn too_many_illegal_blocks_asked_at_the_twelfth() {
    if skip_without_e2fsprogs() {
        return;
    }
    // e2fsck asks at every twelfth illegal block, before reporting it:
    // clear the inode (then start over after pass 1), else whether to
    // suppress the messages.
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    std::fs::write(&data, vec![0x5a; 20 * 1024]).unwrap();
    let mut cmds = format!("write {} f\n", data.display());
    for i in 0..12 {
        cmds.push_str(&format!("sif f block[{i}] 99999999\n"));
    }
    let img = edited_image(t.path(), "illegal.img", &["-b", "1024"], &cmds);
    assert_same(&img, &["-fn"]);
    let (_, os, _, _) = both(&img, &["-fn"]);
    assert!(os.contains("Suppress messages? no"), "{os}");
    let (_, os) = repaired_alike(t.path(), &img, &["-fy"]);
    assert!(
        os.contains("Clear inode? yes\n\nRestarting e2fsck from the beginning..."),
        "{os}"
    );
}

#[test]
fn table_moved_off_another_is_relocated_from_its_old_place() {
    if skip_without_e2fsprogs() {
        return;
    }
    // A block bitmap inside the inode table: moved, and e2fsck names
    // where from (PR_1_RELOC_FROM_TO).
    let t = tempfile::tempdir().unwrap();
    let img = edited_image(
        t.path(),
        "reloc.img",
        &["-b", "1024"],
        "set_bg 0 block_bitmap 40\n",
    );
    let (_, os) = repaired_alike(t.path(), &img, &["-fy"]);
    assert!(
        os.contains("Relocating group 0's block bitmap from 40 to "),
        "{os}"
    );
}

#[test]
fn preen_stops_at_blocks_two_files_share() {
    if skip_without_e2fsprogs() {
        return;
    }
    // PR_1_DUP_BLOCKS_PREENSTOP, then pass 1B-1D's report with the device
    // name, then the clone question stops preen.
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    std::fs::write(&data, vec![0x5a; 20 * 1024]).unwrap();
    let cmds = format!("write {d} f\nwrite {d} g\n", d = data.display());
    let img = edited_image(t.path(), "shared.img", &["-b", "1024"], &cmds);
    let shared = String::from_utf8_lossy(&real_debugfs(&img, "bmap f 0"))
        .trim()
        .to_string();
    real_debugfs_script(&img, &format!("sif g block[0] {shared}\n"));
    assert_same(&img, &["-fp"]);
    let (_, os, _, _) = both(&img, &["-fp"]);
    assert!(
        os.contains("test.img: Duplicate or bad block in use!"),
        "{os}"
    );
}

/// An orphan whose double indirect block's first indirect block lies
/// outside the filesystem: libext2fs' depth-first iterator skips it with
/// an error, gives up the rest of that double indirect block (its second
/// indirect block and data stay allocated), still judges the double
/// indirect block itself, then goes on. Deleting and truncating orphans
/// alike, as the real e2fsck.
#[test]
fn orphan_with_a_bad_indirect_block_below_a_double_indirect_block_as_e2fsck() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    // 600 blocks of 1 KiB: the double indirect block has two indirect
    // blocks below it.
    let data = t.path().join("data.bin");
    std::fs::write(&data, vec![0x5a; 600 * 1024]).unwrap();
    // What shows that the second indirect block was left alone: deleting,
    // pass 5 frees the lost first indirect block with its 256 blocks and
    // the second one with its 76 (832-1165); truncating, the second one
    // still maps the file up to its old size.
    for (what, edit, says) in [
        (
            "deleting",
            "sif f links_count 0\n",
            "Block bitmap differences:  -(832--1165)\n",
        ),
        (
            "truncating",
            "sif f size 3000\n",
            "Inode 12, i_size is 3000, should be 614400.  Fix? yes\n",
        ),
    ] {
        let img = edited_image(
            t.path(),
            &format!("{what}.img"),
            &["-b", "1024"],
            &format!("write {} f\n{edit}ssv last_orphan 12\n", data.display()),
        );
        let stat = String::from_utf8_lossy(&real_debugfs(&img, "stat <12>")).into_owned();
        let dind: u64 = stat
            .split("(DIND):")
            .nth(1)
            .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{what}: no DIND block in\n{stat}"));
        poke(&img, dind * 1024, &99_999_999u32.to_le_bytes());
        let (_, os) = repaired_alike(t.path(), &img, &["-fy"]);
        assert!(os.contains(says), "{what}:\n{os}");
        // Preen stops at the truncated orphan's illegal block: the same
        // stop, the same exit code.
        let run_dir = tempfile::tempdir_in(t.path()).unwrap();
        let (oc, os, rc, rs) = both_in(run_dir.path(), &img, &["-fp"]);
        assert_eq!((oc, os), (rc, rs), "{what} -fp: ours (left) and e2fsck");
    }
}

#[test]
fn special_files_with_an_inline_data_flag_stay_devices() {
    if skip_without_e2fsprogs() {
        return;
    }
    // A device, FIFO or socket with the inline-data flag is still one to
    // e2fsck (only index and extents flags make it bogus): declining to
    // clear the inode leads to PR_1_SPECIAL_EXTENTS_IDATA, not to pass 2's
    // "illegal character device".
    let t = tempfile::tempdir().unwrap();
    let img = edited_image(
        t.path(),
        "special.img",
        &[],
        "mknod c c 1 3\nmknod p p\nsif c flags 0x10000000\nsif p flags 0x10000010\n",
    );
    assert_same(&img, &["-fn"]);
    assert_same(&img, &["-p"]);
    let (code, out) = repaired_alike(t.path(), &img, &["-fy"]);
    assert_eq!(code, 1, "{out}");
    let (_, out, _, _) = both(&img, &["-fn"]);
    assert!(
        out.contains("Special (device/socket/fifo) file (inode 12) has extents\nor inline-data flag set.  Clear? no"),
        "{out}"
    );
}

#[test]
fn an_inode_in_extent_format_is_asked_about_as_e2fsck() {
    if skip_without_e2fsprogs() {
        return;
    }
    // A file whose i_block holds an extent header (as ext4 writes one):
    // e2fsck first offers to turn the extents feature on. Under -n and -p
    // ours says what e2fsck says; under -y ours declines that offer
    // (docs/compat.md) and clears the inode, which leaves a filesystem
    // the real e2fsck finds clean.
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    std::fs::write(&data, b"x").unwrap();
    // Magic 0xF30A, no entries, room for 4, depth 0; and a bad header.
    let cmds = format!(
        "write {} a\nwrite {} b\nsif a flags 0x80000\nsif a block[0] 0x0000F30A\nsif a block[1] 4\n\
         sif b flags 0x80000\nsif b block[0] 0x0000F30A\nsif b block[1] 9\n",
        data.display(),
        data.display()
    );
    let img = edited_image(t.path(), "extent.img", &[], &cmds);
    assert_same(&img, &["-fn"]);
    assert_same(&img, &["-p"]);
    let (_, out, _, _) = both(&img, &["-fn"]);
    assert!(
        out.contains(
            "Inode 12 is in extent format, but superblock is missing EXTENTS feature\nFix? no"
        ),
        "{out}"
    );
    assert!(!out.contains("Inode 13 is in extent format"), "{out}");
    declines_ext4_offer_then_clears(
        t.path(),
        &img,
        "missing EXTENTS feature\nFix? no\n\nInode 12 has EXTENTS_FL flag set on filesystem without extents support.\nClear? yes",
    );
}

/// Our -fy on a copy of `img`: the offer to turn on an ext4 feature is
/// declined (docs/compat.md), `says` shows the inode cleared instead,
/// the exit status is 1 and the real e2fsck finds the result clean.
fn declines_ext4_offer_then_clears(dir: &Path, img: &Path, says: &str) {
    let yes = dir.join("yes");
    std::fs::create_dir(&yes).unwrap();
    let copy = yes.join("test.img");
    std::fs::copy(img, &copy).unwrap();
    let o = run(Command::new(our_bin("e2fsck-union")).arg("-fy").arg(&copy));
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains(says), "{out}");
    assert_real_fsck_clean(&copy);
}

#[test]
fn an_inode_with_inline_data_is_asked_about_as_e2fsck() {
    if skip_without_e2fsprogs() {
        return;
    }
    // The inline-data flag on an inode holding a system.data attribute
    // (ext4's inline data) makes e2fsck offer to turn inline_data on
    // first; without the attribute it goes straight to clearing. -n is
    // e2fsck's; -y declines the offer (docs/compat.md) and clears.
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    std::fs::write(&data, b"x").unwrap();
    let cmds = format!(
        "write {d} a\nwrite {d} b\nea_set a system.data hello\nea_set b user.x hi\n\
         sif a flags 0x10000000\nsif b flags 0x10000000\n",
        d = data.display()
    );
    let img = edited_image(t.path(), "inline.img", &["-I", "256"], &cmds);
    assert_same(&img, &["-fn"]);
    let (_, out, _, _) = both(&img, &["-fn"]);
    assert!(
        out.contains(
            "Inode 12 has inline data, but superblock is missing INLINE_DATA feature\nFix? no"
        ),
        "{out}"
    );
    assert!(!out.contains("Inode 13 has inline data"), "{out}");
    declines_ext4_offer_then_clears(
        t.path(),
        &img,
        "missing INLINE_DATA feature\nFix? no\n\nInode 12 has INLINE_DATA_FL flag on filesystem without inline data support.\nClear? yes",
    );
}

/// An attribute block whose entry `user.test` keeps its value in inode 13
/// (ext4's ea_inode; e2fsck checks it without the feature): inode 13 is a
/// file no directory names, its atime the value's hash. `hash_ok` makes
/// the entry's hash the right one; `flag` puts EA_INODE on inode 13;
/// `refs` is the reference count inode 13 stores.
fn image_with_value_inode(dir: &Path, hash_ok: bool, flag: bool, refs: u32) -> std::path::PathBuf {
    let (img, at) = image_with_xattr_block(dir);
    let data = dir.join("value");
    std::fs::write(&data, b"hello").unwrap();
    let value_hash = 0x1234_5678u32;
    real_debugfs_script(
        &img,
        &format!(
            "write {} v\nunlink v\nsif <13> atime @{value_hash}\nsif <13> ctime 0\n\
             sif <13> version {refs}\nsif <13> flags {}\n",
            data.display(),
            if flag { "0x200000" } else { "0" }
        ),
    );
    let (hash, _) = ext2fs::xattr::entry_hash_with_value_inode(b"test", value_hash);
    let hash = if hash_ok { hash } else { hash ^ 1 };
    // The first entry follows the 32-byte header: e_value_offs 0,
    // e_value_inum 13, e_value_size 5, e_hash.
    let entry = at + 32;
    poke(&img, entry + 2, &0u16.to_le_bytes());
    poke(&img, entry + 4, &13u32.to_le_bytes());
    poke(&img, entry + 8, &5u32.to_le_bytes());
    poke(&img, entry + 12, &hash.to_le_bytes());
    img
}

#[test]
fn attribute_values_in_inodes_are_checked_as_e2fsck() {
    if skip_without_e2fsprogs() {
        return;
    }
    // (hash right, EA_INODE flag, stored refs, what e2fsck says)
    let cases: [(bool, bool, u32, &str); 5] = [
        (true, true, 1, ""),
        (
            true,
            true,
            5,
            "Extended attribute inode 13 ref count is 5, should be 1.",
        ),
        (
            true,
            false,
            1,
            "EA inode 13 for parent inode 12 missing EA_INODE flag.",
        ),
        (false, true, 1, "has a hash"),
        (
            false,
            false,
            1,
            "has illegal extended attribute value inode 13.",
        ),
    ];
    for (hash_ok, flag, refs, says) in cases {
        let t = tempfile::tempdir().unwrap();
        let img = image_with_value_inode(t.path(), hash_ok, flag, refs);
        let what = format!("hash_ok={hash_ok} flag={flag} refs={refs}");
        let (oc, out, rc, real) = both(&img, &["-fn"]);
        assert!(out.contains(says), "{what}:\n{out}");
        if hash_ok {
            assert_same(&img, &["-fn"]);
        } else {
            // A bad hash declined: e2fsck adds an uninitialised count to
            // the owner's blocks (docs/compat.md), so only the question
            // and the exit code compare.
            assert!(real.contains(says), "{what}:\n{real}");
            assert_eq!(oc, rc, "{what}:\n{out}");
        }
        assert_same(&img, &["-fp"]);
        repaired_alike(t.path(), &img, &["-fy"]);
    }
}

#[test]
fn attribute_values_in_inodes_named_from_an_inode_body_are_checked_as_e2fsck() {
    if skip_without_e2fsprogs() {
        return;
    }
    // user.test in inode 12's body keeps its value in inode 13 (entry
    // fields at 166.. as laid out above xattr_in_inode_hash_is_checked).
    let value_hash = 0x0badcafeu32;
    let (hash, _) = ext2fs::xattr::entry_hash_with_value_inode(b"test", value_hash);
    for (flag, says) in [
        ("0x200000", ""),
        (
            "0",
            "EA inode 13 for parent inode 12 missing EA_INODE flag.",
        ),
    ] {
        let t = tempfile::tempdir().unwrap();
        let img = image_with_xattr_in_inode(t.path(), |b| {
            b[166..168].copy_from_slice(&0u16.to_le_bytes());
            b[168..172].copy_from_slice(&13u32.to_le_bytes());
            b[172..176].copy_from_slice(&5u32.to_le_bytes());
            b[176..180].copy_from_slice(&hash.to_le_bytes());
        });
        let data = t.path().join("value");
        std::fs::write(&data, b"hello").unwrap();
        real_debugfs_script(
            &img,
            &format!(
                "write {} v\nunlink v\nsif <13> atime @{value_hash}\nsif <13> ctime 0\n\
                 sif <13> version 1\nsif <13> flags {flag}\n",
                data.display()
            ),
        );
        let (_, out, _, real) = both(&img, &["-fn"]);
        assert!(out.contains(says), "flags {flag}:\n{out}\nreal:\n{real}");
        alike_in_every_mode(t.path(), &img);
    }
}

#[test]
fn a_file_that_cannot_be_cloned_is_deleted_as_e2fsck() {
    if skip_without_e2fsprogs() {
        return;
    }
    // A full filesystem where /a and /b share a block: cloning finds no
    // free block, e2fsck says so (PR_1D_CLONE_ERROR) and deletes the file
    // instead, freeing what only it held in the bitmaps at once.
    let t = tempfile::tempdir().unwrap();
    let small = t.path().join("small");
    std::fs::write(&small, b"hello\n").unwrap();
    let big = t.path().join("big");
    std::fs::write(&big, vec![7u8; 2 << 20]).unwrap();
    let img = t.path().join("full.img");
    real_mkfs(&img, &["-m", "0", "-N", "16"], "1M");
    // The write of big fails once the filesystem is full (debugfs still
    // exits 0), leaving no free block.
    real_debugfs_script(
        &img,
        &format!(
            "write {s} a\nwrite {s} b\nwrite {} big\n",
            big.display(),
            s = small.display()
        ),
    );
    let fs = open_rw(&img);
    let (a, b) = (fs.read_inode(12).unwrap(), fs.read_inode(13).unwrap());
    let (a0, b0) = (a.base.i_block[0], b.base.i_block[0]);
    drop(fs);
    real_debugfs_script(
        &img,
        &format!("sif b block[0] {a0}\nsif a block[1] {b0}\nsif a size 2048\nsif a blocks 4\n"),
    );
    let (_, out) = repaired_alike(t.path(), &img, &["-fy"]);
    assert!(
        out.contains(
            "Couldn't clone file: Could not allocate block in ext2 filesystem\nDelete file? yes"
        ),
        "{out}"
    );
    let o = run(Command::new(our_bin("e2fsck-union")).arg("-fy").arg(&img));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("clone_file: Could not allocate block in ext2 filesystem returned from clone_file_block"),
        "{}",
        text(&o)
    );
}

#[test]
fn an_attribute_block_outside_the_filesystem_is_named_as_e2fsck() {
    if skip_without_e2fsprogs() {
        return;
    }
    // e2fsck capitalises the "@a" its message opens with (differential
    // seed 20261205 case 856).
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    std::fs::write(&data, b"x").unwrap();
    let img = edited_image(
        t.path(),
        "acl.img",
        &[],
        &format!("write {} f\nsif f file_acl 9999999\n", data.display()),
    );
    let (_, out, _, _) = both(&img, &["-fn"]);
    assert!(
        out.contains("Extended attribute block for inode 12 (/f) is invalid (9999999)."),
        "{out}"
    );
    assert_same(&img, &["-fn"]);
    repaired_alike(t.path(), &img, &["-fy"]);
}

#[test]
fn an_indexed_directory_may_count_its_links_as_overflowed() {
    if skip_without_e2fsprogs() {
        return;
    }
    // An htree directory whose link count is 1, the "too many to count"
    // value: e2fsck's pass 4 accepts it under -n and offers the exact count
    // otherwise (PR_4_DIR_OVERFLOW_REF_COUNT), with or without dir_nlink
    // (differential seed 20261205 case 1219).
    let t = tempfile::tempdir().unwrap();
    let mut cmds = String::from("mkdir big\nmkdir big/sub\nwrite /dev/null big/f\n");
    for _ in 0..9 {
        cmds.push_str("expand_dir big\n");
    }
    for n in 0..216 {
        cmds.push_str(&format!("link big/f big/{}{n}\n", "e".repeat(27)));
    }
    let img = edited_image(t.path(), "overflow.img", &["-b", "2048"], &cmds);
    let index = run(Command::new("e2fsck").args(["-fyD"]).arg(&img));
    assert!(
        matches!(index.status.code(), Some(0 | 1)),
        "{}",
        text(&index)
    );
    real_debugfs_script(&img, "sif big links_count 1\n");
    let (oc, out, _, _) = both(&img, &["-fn"]);
    assert_eq!(oc, 0, "{out}");
    assert_same(&img, &["-fn"]);
    let (_, out) = repaired_alike(t.path(), &img, &["-fy"]);
    assert!(
        out.contains(
            "Directory inode 12 ref count set to overflow but could be exact value 3.  Fix? yes"
        ),
        "{out}"
    );
    assert_same(&img, &["-p"]);
}

#[test]
fn answers_that_leave_no_error_and_preen_policies_as_e2fsck() {
    if skip_without_e2fsprogs() {
        return;
    }
    // Problems whose "no" leaves the filesystem valid (PR_NO_OK) and whose
    // preen answer is e2fsck's (PR_PREEN_OK / PR_PREEN_NO): an immutable
    // FIFO (differential seed 20261205 case 858), an unattached empty
    // file; and a zero-length directory kept under -n, whose unmapped
    // block 0 pass 2 still offers to allocate.
    let t = tempfile::tempdir().unwrap();
    for (name, cmds) in [
        ("immutable", "mknod p p\nsif p flags 0x10\n"),
        ("unattached", "write /dev/null z\nunlink z\n"),
        (
            "zerodir",
            "mkdir d\nsif d size 0\nsif d blocks 0\nsif d block[0] 0\n",
        ),
    ] {
        let img = edited_image(t.path(), &format!("{name}.img"), &[], cmds);
        alike_in_every_mode(t.path(), &img);
    }
}

#[test]
fn the_resize_inode_map_is_judged_as_any_files() {
    if skip_without_e2fsprogs() {
        return;
    }
    // After "Resize inode not valid" is declined, e2fsck's pass 1 walks
    // inode 7's map as a file's, asking about illegal blocks (also those
    // read from a reserved descriptor block taken as an indirect block),
    // though it claims only the double-indirect block (differential seed
    // 20261205 cases 615 and 800).
    let t = tempfile::tempdir().unwrap();
    for (name, mkfs, cmds) in [
        ("ind", &["-b", "4096"][..], "sif <7> block[IND] 4\n"),
        ("direct", &[][..], "sif <7> block[0] 55849671\n"),
    ] {
        let img = edited_image(t.path(), &format!("{name}.img"), mkfs, cmds);
        let (_, out, _, _) = both(&img, &["-fn"]);
        assert!(
            out.contains("Inode 7 has illegal block(s)."),
            "{name}:\n{out}"
        );
        assert_same(&img, &["-fn"]);
        repaired_alike(t.path(), &img, &["-fy"]);
    }
}

#[test]
fn an_index_flag_off_a_directory_is_handled_as_e2fsck() {
    if skip_without_e2fsprogs() {
        return;
    }
    // e2fsck's handle_htree runs for any inode with INDEX_FL once its
    // blocks are counted: "not a directory" declined, it goes on to the
    // missing feature and to the "root" in the inode's first block
    // (differential seed 20261205 case 845: a slow symlink).
    let t = tempfile::tempdir().unwrap();
    let target = "t".repeat(200);
    for (name, mkfs) in [("nodx", &["-O", "^dir_index"][..]), ("dx", &[][..])] {
        let img = edited_image(
            t.path(),
            &format!("{name}.img"),
            mkfs,
            &format!("symlink s {target}\nmknod p p\nsif s flags 0x1000\nsif p flags 0x1000\n"),
        );
        let (_, out, _, _) = both(&img, &["-fn"]);
        assert!(
            out.contains("Inode 12 has INDEX_FL flag set but is not a directory."),
            "{out}"
        );
        alike_in_every_mode(t.path(), &img);
    }
}

#[test]
fn a_device_too_big_for_any_block_map_is_asked_about_twice() {
    if skip_without_e2fsprogs() {
        return;
    }
    // A device whose size (with i_size_high) passes the largest block-
    // mapped file: after "has non-zero size" is declined, e2fsck's size
    // check asks again, wanting 0 (differential seed 20261205 case 1114).
    let t = tempfile::tempdir().unwrap();
    let img = edited_image(
        t.path(),
        "dev.img",
        &[],
        "mknod c c 1 3\nsif c size 0x1000000000000\n",
    );
    let (_, out, _, _) = both(&img, &["-fn"]);
    assert!(
        out.contains("Inode 12, i_size is 281474976710656, should be 0.  Fix? no"),
        "{out}"
    );
    alike_in_every_mode(t.path(), &img);
}

/// Ours and the real e2fsck alike on `img` under -fn and -fy (exit code
/// and output), and the real e2fsck -fn after each -fy alike too (clean
/// after ours where it is clean after its own repair); returns our -fy
/// output.
fn repaired_as_e2fsck(img: &Path) -> String {
    assert_same(img, &["-fn"]);
    let t = tempfile::tempdir().unwrap();
    let (oc, os, rc, rs) = both_in(t.path(), img, &["-fy"]);
    assert_eq!((oc, &os), (rc, &rs), "-fy: ours (left) and e2fsck (right)");
    let after = |sub: &str| {
        let copy = t.path().join(sub).join("test.img");
        let (code, out) = real_fsck_n(&copy);
        (code, out.replace(&*copy.to_string_lossy(), "IMG"))
    };
    assert_eq!(
        after("ours"),
        after("real"),
        "e2fsck -fn after ours (left), after e2fsck"
    );
    os
}

/// A 1 MiB image (1 KiB blocks) from the real mke2fs with `mkfs_args`,
/// edited by `pass3_edit`.
fn pass3_image(dir: &Path, mkfs_args: &[&str], cmds: &str) -> std::path::PathBuf {
    let img = dir.join("pass3.img");
    let mut args = vec!["-b", "1024"];
    args.extend_from_slice(mkfs_args);
    real_mkfs(&img, &args, "1M");
    pass3_edit(dir, &img, cmds);
    img
}

/// The real debugfs' `cmds` on `img`, in which `SMALL` and `BIG` name a
/// 5-byte and a 400 KiB host file (made in `dir`) to `write`.
fn pass3_edit(dir: &Path, img: &Path, cmds: &str) {
    let small = dir.join("small");
    let big = dir.join("big");
    std::fs::write(&small, b"hello").unwrap();
    std::fs::write(&big, vec![0x5a; 400 * 1024]).unwrap();
    let cmds = cmds
        .replace("SMALL", &small.to_string_lossy())
        .replace("BIG", &big.to_string_lossy());
    real_debugfs_script(img, &cmds);
}

/// Writes the 400 KiB file until the filesystem is full (the last write
/// fails halfway and keeps what it got), in the current directory.
const FILL: &str = "write BIG big1\nwrite BIG big2\nwrite BIG big3\n";

/// debugfs `link` requests that leave no room for a "#NN" entry in a
/// one-block directory holding '.', '..' and `used` bytes of entries
/// more (names of 250 bytes, then one that leaves 8 bytes over).
fn fill_dir_block(target: &str, dir: &str, used: usize) -> String {
    let mut cmds = String::new();
    for c in ['a', 'b', 'c'] {
        cmds.push_str(&format!(
            "link {target} {dir}{}\n",
            c.to_string().repeat(250)
        ));
    }
    let last = 1024 - 24 - used - 3 * 260 - 8 - 8;
    cmds.push_str(&format!("link {target} {dir}{}\n", "d".repeat(last)));
    cmds
}

#[test]
fn lost_dotdot_cannot_be_fixed_as_e2fsck_cannot() {
    if skip_without_e2fsprogs() {
        return;
    }
    // '..' with a rec_len that is no multiple of 4: the salvage lets '.'
    // take the rest of the block, so pass 3 finds no '..' to point at the
    // parent (e2fsck's "Couldn't fix parent", and errors are left).
    let t = tempfile::tempdir().unwrap();
    let img = pass3_image(t.path(), &[], "mkdir d\n");
    let out = real_debugfs(&img, "bmap d 0");
    let blk: u64 = String::from_utf8_lossy(&out).trim().parse().unwrap();
    poke(&img, blk * 1024 + 16, &[3, 0]);
    let os = repaired_as_e2fsck(&img);
    assert!(
        os.contains("Couldn't fix parent of inode 12: Couldn't find parent directory entry\n\n"),
        "{os}"
    );
}

#[test]
fn full_filesystem_has_no_room_for_lost_found() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    // No free block: lost files are to go to the root, which is refused
    // to the directory pass 3 meets first, and to everything after it.
    let img = pass3_image(
        t.path(),
        &["-N", "32"],
        &format!("rmdir lost+found\nmkdir d\nwrite SMALL f\nwrite SMALL g\n{FILL}unlink d\nunlink f\nunlink g\n"),
    );
    let os = repaired_as_e2fsck(&img);
    assert!(
        os.contains("Cannot allocate space for /lost+found.\nPlace lost files in root directory instead? yes\n\nInsufficient space to recover lost files!\nMove data off the filesystem and re-run e2fsck.\n\nBad or non-existent /lost+found.  Cannot reconnect.\n"),
        "{os}"
    );
    // Nothing lost before pass 4: the root takes the lost file.
    let img = pass3_image(
        t.path(),
        &["-N", "32"],
        &format!("rmdir lost+found\nwrite SMALL f\n{FILL}unlink f\n"),
    );
    let os = repaired_as_e2fsck(&img);
    // Preen creates lost+found, then stops at the question about the root.
    assert_same(&img, &["-fp"]);
    assert!(os.contains("Insufficient space"), "{os}");
    assert!(
        os.contains("Unattached inode 11\nConnect to /lost+found? yes\n\nInode 11 ref count is 2, should be 1."),
        "{os}"
    );
    // No free inode: the block taken for lost+found stays taken.
    let mut cmds = String::from("rmdir lost+found\nwrite SMALL f\nmkdir d\n");
    for i in 0..6 {
        cmds.push_str(&format!("write SMALL g{i}\n"));
    }
    cmds.push_str("unlink f\nunlink d\n");
    let img = pass3_image(t.path(), &["-N", "16"], &cmds);
    let os = repaired_as_e2fsck(&img);
    assert!(
        os.contains("Cannot allocate space for /lost+found."),
        "{os}"
    );
}

#[test]
fn full_lost_found_is_expanded_when_asked() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let base = format!(
        "rmdir lost+found\nmkdir lost+found\nwrite SMALL f\nwrite SMALL g\n{}sif f links_count 5\n",
        fill_dir_block("f", "lost+found/", 0)
    );
    let img = pass3_image(t.path(), &[], &format!("{base}unlink f\nunlink g\n"));
    let os = repaired_as_e2fsck(&img);
    assert!(
        os.contains(
            "Connect to /lost+found? yes\n\nNo room in lost+found directory.  Expand? yes\n\n"
        ),
        "{os}"
    );
    // No block to grow it by.
    let img = pass3_image(t.path(), &[], &format!("{base}{FILL}unlink f\nunlink g\n"));
    let os = repaired_as_e2fsck(&img);
    assert!(
        os.contains("Could not expand /lost+found: Could not allocate block in ext2 filesystem\n"),
        "{os}"
    );
}

#[test]
fn lost_found_that_the_full_root_cannot_name() {
    if skip_without_e2fsprogs() {
        return;
    }
    // The one free block goes to lost+found; the root, full, cannot grow
    // to name it. Pass 4 then finds the new directory unattached.
    let t = tempfile::tempdir().unwrap();
    let cmds = format!(
        "rmdir lost+found\nwrite SMALL f\nmkdir d\n{}sif f links_count 5\ncd d\nwrite SMALL s\n{FILL}rm s\n",
        fill_dir_block("f", "", 24)
    );
    let img = pass3_image(t.path(), &[], &cmds);
    let os = repaired_as_e2fsck(&img);
    assert!(
        os.contains("Error creating /lost+found directory (ext2fs_link): Could not allocate block in ext2 filesystem\n"),
        "{os}"
    );
}

#[test]
fn root_without_a_free_block_stops_the_check() {
    if skip_without_e2fsprogs() {
        return;
    }
    // The root cleared and its block given to a new file: nothing left
    // for a new root directory.
    let t = tempfile::tempdir().unwrap();
    let img = pass3_image(t.path(), &[], FILL);
    let root = String::from_utf8_lossy(&real_debugfs(&img, "bmap <2> 0"))
        .trim()
        .to_string();
    let cmds = format!("cd lost+found\nclri <2>\nfreeb {root}\nwrite SMALL x\n");
    pass3_edit(t.path(), &img, &cmds);
    let os = repaired_as_e2fsck(&img);
    assert!(
        os.contains("Error creating root directory (ext2fs_new_block): Could not allocate block in ext2 filesystem\n"),
        "{os}"
    );
}

#[test]
fn directory_loop_is_reported_as_looped() {
    if skip_without_e2fsprogs() {
        return;
    }
    // /a/b holds the only name of /a: e2fsck 1.47 never reports such a
    // loop (docs/compat.md); ours asks e2fsck's question for it and
    // reconnects it, after which the real e2fsck finds nothing.
    let t = tempfile::tempdir().unwrap();
    let img = pass3_image(
        t.path(),
        &[],
        "mkdir a\nmkdir a/b\nlink a a/b/x\nunlink a\n",
    );
    let run_dir = tempfile::tempdir().unwrap();
    let (oc, os, _, _) = both_in(run_dir.path(), &img, &["-fy"]);
    assert_eq!(oc, 1, "{os}");
    assert!(
        os.contains(
            "Recursively looped directory inode 13 (/???/b)\nConnect to /lost+found? yes\n"
        ),
        "{os}"
    );
    assert_real_fsck_clean(&run_dir.path().join("ours/test.img"));
}

#[test]
fn lost_found_is_made_where_e2fsck_makes_it() {
    if skip_without_e2fsprogs() {
        return;
    }
    // Eight groups, the first ones full of data: e2fsck takes the first
    // free inode from the root's group on (ext2fs_new_inode), not the
    // group the kernel would choose for a new directory.
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("groups.img");
    real_mkfs(&img, &["-b", "1024", "-g", "1024"], "8M");
    pass3_edit(
        t.path(),
        &img,
        "rmdir lost+found\nwrite BIG f1\nwrite BIG f2\n",
    );
    let run_dir = tempfile::tempdir().unwrap();
    let (oc, os, rc, rs) = both_in(run_dir.path(), &img, &["-fy"]);
    assert_eq!((oc, &os), (rc, &rs), "ours (left) and e2fsck (right)");
    let made = |sub: &str| {
        let copy = run_dir.path().join(sub).join("test.img");
        (
            real_debugfs(&copy, "ls /"),
            real_debugfs(&copy, "stat /lost+found"),
        )
    };
    let ((ours_ls, ours_stat), (real_ls, real_stat)) = (made("ours"), made("real"));
    assert_eq!(ours_ls, real_ls);
    let blocks = |s: &[u8]| {
        let s = String::from_utf8_lossy(s).into_owned();
        s.split_once("BLOCKS:").map(|(_, b)| b.to_string())
    };
    assert_eq!(blocks(&ours_stat), blocks(&real_stat));
}

#[test]
fn reserved_directory_without_dir_info_stops_as_e2fsck_stops() {
    if skip_without_e2fsprogs() {
        return;
    }
    // s_first_ino past lost+found: inode 11 is reserved, so it has no
    // dir_info, but its blocks are still checked in pass 2 (-n). Its '..'
    // is where e2fsck stops ("Internal error: couldn't find dir_info").
    let t = tempfile::tempdir().unwrap();
    let img = pass3_image(t.path(), &[], "ssv first_ino 12\n");
    let (_, os, _, _) = both(&img, &["-fn"]);
    assert!(
        os.contains("Internal error: couldn't find dir_info for 11.\n"),
        "{os}"
    );
    repaired_as_e2fsck(&img);
    // With that '..' renamed, pass 2 goes on and records inode 11 as the
    // parent of the directory it names; pass 3 stops there, naming the
    // directory it checked last (the root).
    let img = pass3_image(
        t.path(),
        &[],
        "mkdir lost+found/d\nmkdir e\nssv first_ino 12\n",
    );
    let out = real_debugfs(&img, "bmap <11> 0");
    let blk: u64 = String::from_utf8_lossy(&out).trim().parse().unwrap();
    poke(&img, blk * 1024 + 20, b"xx");
    let (_, os, _, _) = both(&img, &["-fn"]);
    assert!(
        os.contains("Pass 3: Checking directory connectivity\nInternal error: couldn't find dir_info for 2.\n"),
        "{os}"
    );
    repaired_as_e2fsck(&img);
}

/// A superblock asked for that is not there (`-b`, debugfs `-s`): both
/// tools name what the device holds as e2fsprogs' check_plausibility does,
/// with libblkid's type name and the one time print_ext2_info shows (the
/// real debugfs said "contains a ext2 file system" and ours said nothing:
/// debugfs differential seed 556 case 40).
#[test]
fn missing_backup_superblock_names_what_the_device_holds() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let make = |name: &str, mkfs: &[&str], edits: &[&str]| {
        let img = t.path().join(format!("{name}.img"));
        std::fs::File::create(&img)
            .unwrap()
            .set_len(12 << 20)
            .unwrap();
        let o = run(Command::new("mke2fs")
            .args(["-q", "-F", "-b", "1024"])
            .args(mkfs)
            .arg(&img));
        assert!(o.status.success(), "{}", text(&o));
        for e in edits {
            let o = run(Command::new("debugfs").arg("-w").args(["-R", e]).arg(&img));
            assert!(o.status.success(), "{}", text(&o));
        }
        img
    };
    let images = [
        make("created", &["-t", "ext2"], &[]),
        make("labelled", &["-t", "ext3", "-L", "lbl"], &[]),
        make("ext4", &["-t", "ext4"], &[]),
        make("ext4dev", &["-t", "ext4", "-E", "test_fs"], &[]),
        make("journal", &["-O", "journal_dev"], &[]),
        make(
            "mounted_on",
            &["-t", "ext2"],
            &["ssv mtime 20200101", "ssv last_mounted /mnt/x"],
        ),
        make("mounted", &["-t", "ext2"], &["ssv mtime 20200101"]),
        make("written", &["-t", "ext2"], &["ssv mkfs_time 0"]),
        make("unopenable", &["-t", "ext2"], &["ssv inodes_count 5"]),
    ];
    for img in &images {
        let (oc, os, rc, rs) = both(img, &["-n", "-b", "8196", "-B", "1024"]);
        assert_eq!((oc, &os), (rc, &rs), "e2fsck on {}", img.display());
        assert!(os.contains(" file system"), "{os}");
        let debugfs = |bin: &Path| {
            let o = run(Command::new(bin)
                .args(["-s", "8196", "-b", "1024", "-R", "stats"])
                .arg(img));
            String::from_utf8_lossy(&o.stdout).into_owned()
        };
        assert_eq!(
            debugfs(&our_bin("debugfs-union")),
            debugfs(Path::new("debugfs")),
            "debugfs on {}",
            img.display()
        );
    }
}

/// The root sharing its first block: pass 1D names it from its own '..'
/// as e2fsck does (add_dupe makes the root its own directory), "???" when
/// that block is a file's data (e2fsck differential seed 20261205 cases
/// 32 and 392, where ours printed "/").
#[test]
fn root_with_a_shared_first_block_is_named_as_e2fsck_names_it() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    std::fs::write(&data, vec![b'x'; 3000]).unwrap();
    for target in ["f", "lost+found"] {
        let img = t.path().join("r.img");
        real_mkfs(&img, &["-b", "1024"], "4M");
        let o = run(Command::new("debugfs")
            .args(["-w", "-R", &format!("write {} f", data.display())])
            .arg(&img));
        assert!(o.status.success(), "{}", text(&o));
        let o = run(Command::new("debugfs")
            .args(["-R", &format!("bmap {target} 0")])
            .arg(&img));
        let block = String::from_utf8_lossy(&o.stdout).trim().to_string();
        assert!(block.parse::<u32>().is_ok(), "{}", text(&o));
        let o = run(Command::new("debugfs")
            .args(["-w", "-R", &format!("sif <2> block[0] {block}")])
            .arg(&img));
        assert!(o.status.success(), "{}", text(&o));
        let (oc, os, rc, rs) = both(&img, &["-fn"]);
        assert_eq!((oc, &os), (rc, &rs), "root's block shared with {target}");
        let named = if target == "f" {
            "File ??? (inode #2"
        } else {
            "File / (inode #2"
        };
        assert!(os.contains(named), "{os}");
    }
}

/// A '..' whose name length was cut to 1, so the directory has two
/// entries named '.': pass 2 reports the duplicate as e2fsck's de_dict
/// does (it holds '.' and '..' too) and, without dir_index, pass 3A's
/// duplicate search sees the second '.' (e2fsck differential seed
/// 20261205 case 216, where ours said neither).
#[test]
fn second_dot_entry_is_a_duplicate_name_as_e2fsck() {
    if skip_without_e2fsprogs() {
        return;
    }
    for features in ["^dir_index", "dir_index"] {
        let t = tempfile::tempdir().unwrap();
        let img = t.path().join("d.img");
        real_mkfs(&img, &["-b", "1024", "-O", features], "3M");
        let o = run(Command::new("debugfs")
            .args(["-R", "bmap <11> 0"])
            .arg(&img));
        let block: u64 = String::from_utf8_lossy(&o.stdout).trim().parse().unwrap();
        // '..' is the second entry, at byte 12; its name length at +6.
        poke(&img, block * 1024 + 12 + 6, &[1]);
        let (oc, os, rc, rs) = both(&img, &["-fn"]);
        assert_eq!((oc, &os), (rc, &rs), "-fn with {features}");
        assert!(os.contains("Duplicate entry '.' found."), "{os}");
        // -y renames the entry back to '..' first: no duplicate then.
        assert_same(&img, &["-fy"]);
    }
}

/// A root directory flagged indexed that holds plain entries: pass 2
/// checks the root's index header before the entries of its block, as
/// e2fsck's check_dir_block does, so "root node is invalid" comes before
/// the entry problems (e2fsck differential seed 20261205 case 1102, where
/// ours asked it after them).
#[test]
fn bad_htree_root_is_reported_before_its_block_entries() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("h.img");
    real_mkfs(&img, &["-T", "largefile"], "14M");
    let data = t.path().join("data");
    std::fs::write(&data, b"some data\n").unwrap();
    real_debugfs_script(
        &img,
        &format!(
            "write {d} n2\nwrite {d} n3\nclri n2\nsif <2> flags 0x1000\n",
            d = data.display()
        ),
    );
    let (oc, os, rc, rs) = both(&img, &["-fn"]);
    assert_eq!((oc, &os), (rc, &rs));
    let root = os.find("root node is invalid").unwrap();
    let entry = os.find("has deleted/unused inode").unwrap();
    assert!(root < entry, "{os}");
    assert_same(&img, &["-fy"]);
}

#[test]
fn directory_rebuild_without_free_blocks_is_reported_and_skipped() {
    if skip_without_e2fsprogs() {
        return;
    }
    // An unindexed directory of three blocks (names of 250 bytes, three to
    // a block) on a full filesystem with dir_index: pass 3A would index
    // it, which takes a block more; e2fsck says it failed
    // (PR_3A_OPTIMIZE_DIR_ERR) and leaves it as it was.
    let t = tempfile::tempdir().unwrap();
    let mut cmds = String::from("write SMALL f\nmkdir big\nexpand_dir big\nexpand_dir big\n");
    for c in 'a'..='i' {
        cmds.push_str(&format!("link f big/{}\n", c.to_string().repeat(250)));
    }
    cmds.push_str(&format!("sif f links_count 10\n{FILL}"));
    let img = pass3_image(t.path(), &[], &cmds);
    let os = repaired_as_e2fsck(&img);
    assert!(
        os.contains("Pass 3A: Optimizing directories\nFailed to optimize directory /big (13): Could not allocate block in ext2 filesystem\nPass 4"),
        "{os}"
    );
    assert_same(&img, &["-fp"]);
}

#[test]
fn directory_hole_without_a_free_block_is_left() {
    if skip_without_e2fsprogs() {
        return;
    }
    // A hole in a directory of three blocks on a full filesystem: the
    // block to fill it cannot be had (PR_2_ALLOC_DIRBOCK), pass 2 goes on.
    let t = tempfile::tempdir().unwrap();
    let img = pass3_image(
        t.path(),
        &[],
        &format!("mkdir d\nexpand_dir d\nexpand_dir d\npunch d 1 1\n{FILL}"),
    );
    let os = repaired_as_e2fsck(&img);
    assert!(
        os.contains("Directory inode 12 has an unallocated block #1.  Allocate? yes\n\nError allocating new directory block for inode 12 (ext2fs_new_block): Could not allocate block in ext2 filesystem\n"),
        "{os}"
    );
}

#[test]
fn block_uninit_flag_left_on_ext2_is_asked_block_by_block() {
    if skip_without_e2fsprogs() {
        return;
    }
    // BLOCK_UNINIT on group 0 of an ext2 filesystem, kept under -n (pass
    // 0's question declined; differential seed 20261205 case 415): the
    // bitmap is read with the group's metadata marked in use (their bits
    // cleared here are no difference), and each block in use that it
    // misses is asked about where pass 5's walk meets it, between the
    // runs of the differences (PR_5_BLOCK_UNINIT).
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("uninit.img");
    real_mkfs(&img, &[], "8M");
    let blk = |req: &str| -> u64 {
        String::from_utf8_lossy(&real_debugfs(&img, req))
            .trim()
            .parse()
            .unwrap()
    };
    let (root, lf0) = (blk("bmap <2> 0"), blk("bmap <11> 0"));
    let (lf2, lf3) = (blk("bmap <11> 2"), blk("bmap <11> 3"));
    real_debugfs_script(
        &img,
        &format!("set_bg 0 flags 2\nfreeb 3 4\nfreeb {root}\nfreeb {lf0}\nfreeb {lf2} 2\n"),
    );
    assert_eq!(lf3, lf2 + 1);
    let (_, os, _, _) = both(&img, &["-fn"]);
    assert_same(&img, &["-fn"]);
    // The second run is printed after the question about its second block.
    let q = "Group 0 block(s) in use but group is marked BLOCK_UNINIT\nFix? no\n\n";
    assert!(
        os.contains(&format!("{q}Block bitmap differences:  +")),
        "{os}"
    );
    assert!(
        os.contains(&format!("){q} +({lf2}--{lf3})\nFix? no")),
        "{os}"
    );
    repaired_as_e2fsck(&img);
}

#[test]
fn resize_inode_that_cannot_be_recreated_as_e2fsck() {
    if skip_without_e2fsprogs() {
        return;
    }
    // The resize inode's double indirect block unlinked and taken by a
    // file on a full filesystem: pass 0 clears the inode to recreate it,
    // and at the end of pass 1 there is no block for it
    // (PR_1_RESIZE_INODE_CREATE); -y goes on.
    let t = tempfile::tempdir().unwrap();
    let img = pass3_image(t.path(), &["-N", "32"], "");
    let stat = String::from_utf8_lossy(&real_debugfs(&img, "stat <7>")).into_owned();
    let dind = stat
        .split("(DIND):")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .expect("the resize inode's DIND block")
        .to_string();
    pass3_edit(
        t.path(),
        &img,
        &format!("sif <7> block[DIND] 0\nfreeb {dind}\n{FILL}"),
    );
    let os = repaired_as_e2fsck(&img);
    assert!(
        os.contains("Resize inode (re)creation failed: Could not allocate block in ext2 filesystem.Continue? yes\n\n"),
        "{os}"
    );
    assert_same(&img, &["-fp"]);
}

#[test]
fn device_size_that_cannot_be_read_stops_the_check_as_e2fsck() {
    if skip_without_e2fsprogs() {
        return;
    }
    // e2fsck opens the device a second time for its size; with no file
    // descriptor left for that open it stops (PR_0_GETSIZE_ERROR, exit 8).
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("fd.img");
    real_mkfs(&img, &[], "4M");
    let with_four_descriptors = |bin: &Path| {
        run(Command::new("sh")
            .arg("-c")
            .arg("ulimit -n 4; exec \"$0\" -fn \"$1\"")
            .arg(bin)
            .arg(&img))
    };
    let ours = with_four_descriptors(&our_bin("e2fsck-union"));
    let real = with_four_descriptors(Path::new("e2fsck"));
    let out = |o: &Output| String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(
        (ours.status.code(), out(&ours)),
        (real.status.code(), out(&real))
    );
    assert_eq!(
        out(&ours),
        "Error determining size of the physical device: Too many open files\n"
    );
}

#[test]
fn directory_hole_is_filled_near_the_directory_block_0() {
    if skip_without_e2fsprogs() {
        return;
    }
    // The block that fills a hole is sought from the directory's block 0
    // on (ext2fs_find_inode_goal), not from its group's start, where a
    // file removed before left free blocks; e2fsck marks it in the bitmap
    // without counting it, so pass 5 finds the free counts one too high.
    let t = tempfile::tempdir().unwrap();
    let img = pass3_image(
        t.path(),
        &[],
        "write BIG a\nmkdir d\nexpand_dir d\nexpand_dir d\nexpand_dir d\nrm a\npunch d 1 1\n",
    );
    let repaired = t.path().join("repaired");
    std::fs::create_dir(&repaired).unwrap();
    let (oc, os, rc, rs) = both_in(&repaired, &img, &["-fy"]);
    assert_eq!((oc, &os), (rc, &rs));
    assert!(os.contains("unallocated block #1.  Allocate? yes"), "{os}");
    assert!(os.contains("Free blocks count wrong for group #0"), "{os}");
    let placed = |sub: &str| real_debugfs(&repaired.join(sub).join("test.img"), "bmap d 1");
    assert_eq!(placed("ours"), placed("real"));
}

#[test]
fn directory_block_0_refilled_names_the_root_as_parent() {
    if skip_without_e2fsprogs() {
        return;
    }
    // A subdirectory's block 0 unmapped, block 1 kept: pass 2 fills the
    // hole with a block whose '..' is the root (ext2fs_new_dir_block's
    // EXT2_ROOT_INO), which pass 3 then points at the real parent.
    let t = tempfile::tempdir().unwrap();
    let img = pass3_image(
        t.path(),
        &[],
        "mkdir d\nmkdir d/e\nexpand_dir d/e\nsif d/e block[0] 0\n",
    );
    let os = repaired_as_e2fsck(&img);
    assert!(
        os.contains("'..' in /d/e (13) is / (2), should be /d (12).\nFix? yes"),
        "{os}"
    );
}

/// Without resize_inode, inode 7 with no mode but a block count: e2fsck's
/// check_blocks walks nothing and still finds i_blocks wrong (e2fsck
/// differential seed 20261207 case 247, a busybox image, where ours said
/// nothing and exited 0).
#[test]
fn unused_resize_inode_with_a_block_count_as_e2fsck() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("r.img");
    real_mkfs(&img, &["-O", "^resize_inode"], "8M");
    real_debugfs_script(&img, "sif <7> blocks 5\n");
    let (oc, os, rc, rs) = both(&img, &["-fn"]);
    assert_eq!((oc, &os), (rc, &rs));
    assert!(os.contains("Inode 7, i_blocks is 5, should be 0."), "{os}");
    assert_same(&img, &["-fy"]);
}

/// A directory block cleared in pass 1 (illegal number) is a hole that
/// pass 2 fills with a new block, which pass 3A's rebuild frees again:
/// e2fsck's allocations and releases change its copy of the on-disk
/// bitmap too, so pass 5 finds nothing. Ours kept the block marked on
/// disk ("Block bitmap differences: -N").
#[test]
fn hole_filled_then_freed_by_the_rebuild_leaves_no_bitmap_difference() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = edited_image(
        t.path(),
        "hole.img",
        &[],
        "mkdir d\nexpand_dir d\nexpand_dir d\nsif d block[1] 99999999\n",
    );
    let (_, out) = repaired_alike(t.path(), &img, &["-fy"]);
    assert!(
        out.contains("Directory inode 12 has an unallocated block #1.  Allocate? yes"),
        "{out}"
    );
    alike_in_every_mode(t.path(), &img);
}

/// An indexed directory /big whose last block pointer is made illegal,
/// after `extra` empty blocks were added past the index's.
fn indexed_dir_with_illegal_last_block(t: &Path, extra: usize) -> std::path::PathBuf {
    let img = t.join("h.img");
    // A fixed hash seed: the index, and so the directory's size, is the
    // same in every run.
    real_mkfs(
        &img,
        &[
            "-b",
            "1024",
            "-E",
            "hash_seed=66666666-7777-8888-9999-aaaaaaaaaaaa",
        ],
        "8M",
    );
    vs_e2fsck::add_indexed_dir(&img);
    if extra > 0 {
        real_debugfs_script(&img, &"expand_dir big\n".repeat(extra));
    }
    let blocks = String::from_utf8_lossy(&real_debugfs(&img, "blocks big")).into_owned();
    let last = blocks.split_whitespace().count() - 1;
    // A direct pointer: i_block[12] on is the indirect blocks'.
    assert!(last < 12, "/big has {} blocks: {blocks}", last + 1);
    real_debugfs_w(&img, &format!("sif big block[{last}] 99999999"));
    img
}

/// A directory's data block cleared in pass 1 for an illegal number is
/// still given to pass 2, which allocates it again ("unallocated block
/// #N"), as e2fsck's mark_dir does; when the index names that block,
/// its bad block number clears the index.
#[test]
fn cleared_directory_block_is_allocated_again_in_pass_2() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = indexed_dir_with_illegal_last_block(t.path(), 0);
    assert_eq!(vs_e2fsck::alike_in_each_mode(t.path(), &img), [4, 1, 0]);
}

/// PR_2_UNEXPECTED_HTREE_BLOCK: a block of an indexed directory past the
/// blocks pass 1 counted (one it cleared, allocated again in pass 2)
/// clears the index; declined at a terminal, e2fsck cannot go on.
#[test]
fn unexpected_htree_block_clears_the_index() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = indexed_dir_with_illegal_last_block(t.path(), 1);
    assert_eq!(vs_e2fsck::alike_in_each_mode(t.path(), &img), [4, 1, 0]);
    let (_, ours, _, _) = both(&img, &["-fy"]);
    assert!(
        ours.contains(
            "Unexpected block in HTREE directory inode 12 (/big).\nClear HTree index? yes"
        ),
        "{ours}"
    );
    if !have_tool("script") {
        skip("needs script(1) to give the checkers a terminal");
        return;
    }
    let dir = t.path().join("declined");
    std::fs::create_dir(&dir).unwrap();
    let (screen, code, _) =
        vs_e2fsck::answered_alike_at_a_terminal(&dir, &img, &["y", "y", "y", "y", "n"]);
    assert!(screen.contains("Can not continue."), "{screen}");
    assert_eq!(code, 12);
}
