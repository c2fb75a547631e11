//! The bad blocks inode's list as e2fsck 1.47's pass 1 reads it
//! (process_bad_block, the inode scan over bad inode table blocks) and
//! pass 3A's duplicate names (rehash.c) and blocks that cannot be read
//! (e2fsck's I/O error handler, ehandler.c: a directory block in pass 2,
//! a directory block while a path is printed, an extended attribute
//! block), each on an image the real
//! mke2fs and debugfs made and damaged: e2fsck-union under -fn, -fy and
//! -fp prints and exits as the real e2fsck does, and the real e2fsck -fn
//! finds ours clean after -fy wherever it finds its own clean.

use std::path::{Path, PathBuf};

use integration_tests::*;

use integration_tests::vs_e2fsck::{e2fsck_in, side_by_side};

/// Ours and the real e2fsck with `args` on copies of `img`; after -fy,
/// the real e2fsck -fn on both results. Returns our output under -fn.
fn assert_as_e2fsck(img: &Path) -> String {
    assert_as_e2fsck_under(img, &[&["-fn"], &["-fy"], &["-fp"]])
}

/// The same under the options in `runs` only.
fn assert_as_e2fsck_under(img: &Path, runs: &[&[&str]]) -> String {
    let real = PathBuf::from("/sbin/e2fsck");
    let mut fn_output = String::new();
    for &args in runs {
        let t = tempfile::tempdir().unwrap();
        let (got, want) = side_by_side(t.path(), img, args);
        assert_eq!(got, want, "{args:?}: ours (left) and e2fsck (right) differ");
        if args == ["-fn"] {
            fn_output = got.stdout;
        }
        if args == ["-fy"] {
            let after_real = e2fsck_in(&t.path().join("real"), &real, &["-fn"]);
            let after_ours = e2fsck_in(&t.path().join("ours"), &real, &["-fn"]);
            if after_real.code == 0 {
                assert_eq!(
                    after_ours.code, 0,
                    "real e2fsck -fn after our -fy:\n{after_ours:?}"
                );
            }
        }
    }
    fn_output
}

/// The inode table block holding `ino` (debugfs' imap).
fn inode_block(img: &Path, ino: u32) -> u64 {
    let out = String::from_utf8_lossy(&real_debugfs(img, &format!("imap <{ino}>"))).into_owned();
    out.split_once("located at block ")
        .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no block in imap output: {out}"))
}

/// Three groups of 1 KiB blocks, zeroed inode tables, a file, a directory
/// and a file in it; then `cmds` (debugfs requests) on it.
fn image(t: &tempfile::TempDir, name: &str, cmds: impl FnOnce(&Path) -> String) -> PathBuf {
    let img = t.path().join(name);
    real_mkfs(&img, &["-b", "1024", "-E", "lazy_itable_init=0"], "20000");
    let data = t.path().join("data");
    std::fs::write(&data, b"hi\n").unwrap();
    let d = data.display();
    real_debugfs_script(&img, &format!("write {d} f1\nmkdir d\nwrite {d} d/f2\n"));
    let more = cmds(&img);
    real_debugfs_script(&img, &more);
    img
}

/// PR_1_BAD_SUPERBLOCK, PR_1_BAD_GROUP_DESCRIPTORS: warnings only, in
/// every mode (preen says nothing), and no repair.
#[test]
fn backup_superblock_and_descriptors_on_the_list_are_warnings() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = image(&t, "sb.img", |img| {
        let sb = dumpe2fs_number(img, "Backup superblock at ");
        format!(
            "sif <1> block[0] {sb}\nsif <1> block[1] {}\nsif <1> size 2048\n",
            sb + 1
        )
    });
    let out = assert_as_e2fsck(&img);
    assert!(
        out.contains("Warning: Group 1's superblock (8193) is bad.\n"),
        "{out}"
    );
    assert!(
        out.contains("Warning: Group 1's copy of the group descriptors has a bad block (8194).\n"),
        "{out}"
    );
}

/// PR_1_BB_FS_BLOCK (latched with the illegal blocks question) and
/// PR_1_BBINODE_BAD_METABLOCK_PROMPT: declined, the check stops.
#[test]
fn indirect_block_of_the_list_on_metadata() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = image(&t, "fs.img", |img| {
        let table = dumpe2fs_number(img, "Inode table at ") + 200;
        format!("sif <1> block[IND] {table}\nsif <1> size 1024\n")
    });
    let out = assert_as_e2fsck(&img);
    assert!(
        out.contains("that conflicts with\nfilesystem metadata.  IGNORED."),
        "{out}"
    );
    assert!(
        out.contains("run e2fsck -c to scan for bad blocks"),
        "{out}"
    );
}

/// PR_1_BBINODE_BAD_METABLOCK both ways: an indirect block the list
/// names as bad before it, and a bad block that is the list's own
/// indirect block.
#[test]
fn list_naming_its_own_indirect_block() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = image(&t, "ind1.img", |_| {
        "sif <1> block[0] 1000\nsif <1> block[IND] 1000\nsif <1> size 1024\n".into()
    });
    let out = assert_as_e2fsck(&img);
    assert!(
        out.contains("Bad block 1000 used as bad block inode indirect block.  IGNORED."),
        "{out}"
    );
    let img = image(&t, "ind2.img", |_| {
        "sif <1> block[IND] 1001\nsif <1> size 1024\n".into()
    });
    poke(&img, 1001 * 1024, &1001u32.to_le_bytes());
    let out = assert_as_e2fsck(&img);
    assert!(
        out.contains("Bad block 1001 used as bad block inode indirect block."),
        "{out}"
    );
}

/// PR_1_PROGERR_CLAIMED_BLOCK: a reserved descriptor block, and a block
/// listed twice (printed in preen too).
#[test]
fn blocks_claimed_for_no_reason() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = image(&t, "claim.img", |_| {
        "sif <1> block[0] 3\nsif <1> block[1] 1000\nsif <1> block[2] 1000\nsif <1> size 3072\n"
            .into()
    });
    let out = assert_as_e2fsck(&img);
    assert!(
        out.contains("block #1000 claimed for no reason in process_bad_block."),
        "{out}"
    );
}

/// PR_2_BB_INODE: the inode table block of /d on the list. e2fsck's scan
/// skips its inodes (marked in use), pass 2 asks about the entry naming
/// one (twice when declined, as e2fsck does).
#[test]
fn entry_naming_an_inode_in_a_bad_block() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = image(&t, "bbino.img", |img| {
        let b = inode_block(img, 13);
        format!("sif <1> block[0] {b}\nsif <1> size 1024\n")
    });
    let out = assert_as_e2fsck(&img);
    assert!(
        out.contains("Entry 'd' in / (2) points to inode (13) located in a bad block.\nClear? no"),
        "{out}"
    );
}

/// PR_1_BADBLOCKS_IN_BADBLOCKS: the list names the inode table block of
/// the bad blocks inode. Cleared, e2fsck starts over (and says nothing
/// was modified); declined, the root is in a bad block too.
#[test]
fn list_naming_the_block_of_its_own_inode() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = image(&t, "bbbb.img", |img| {
        let b = inode_block(img, 1);
        format!("sif <1> block[0] {b}\nsif <1> size 1024\n")
    });
    let out = assert_as_e2fsck(&img);
    assert!(
        out.contains("Bad block list says the bad block list inode is bad.  Clear inode? no"),
        "{out}"
    );
}

/// Renames `from` to `to` (same length) in the directory blocks of `dir`.
fn rename_in_place(img: &Path, dir: &str, from: &str, to: &str) {
    assert_eq!(from.len(), to.len());
    let out = String::from_utf8_lossy(&real_debugfs(img, &format!("blocks {dir}"))).into_owned();
    for b in out.split_whitespace().filter_map(|w| w.parse::<u64>().ok()) {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(img)
            .unwrap();
        let mut buf = vec![0; 1024];
        f.read_exact_at(&mut buf, b * 1024).unwrap();
        // An entry's name follows its 8-byte header.
        if let Some(at) = buf
            .windows(from.len() + 8)
            .position(|w| w[6] as usize == from.len() && &w[8..] == from.as_bytes())
        {
            f.write_all_at(to.as_bytes(), b * 1024 + at as u64 + 8)
                .unwrap();
            return;
        }
    }
    panic!("no entry {from} in {dir}");
}

/// PR_2_NON_UNIQUE_FILE without casefold: two names alike for two
/// inodes, one renamed in pass 3A (asked under -n too).
#[test]
fn non_unique_names_are_renamed_in_pass_3a() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = image(&t, "dup.img", |_| {
        "write /dev/null fa\nwrite /dev/null fb\nwrite /dev/null abc\nwrite /dev/null abd\n".into()
    });
    rename_in_place(&img, "/", "fb", "fa");
    rename_in_place(&img, "/", "abd", "abc");
    let out = assert_as_e2fsck(&img);
    assert!(
        out.contains("Entry 'fa' in / (2) has a non-unique filename.\nRename to fa~0? no"),
        "{out}"
    );
}

/// The same in a directory of several blocks on a dir_index filesystem:
/// the questions come in hash order, and the directory is indexed.
#[test]
fn non_unique_names_in_hash_order() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = image(&t, "duph.img", |_| {
        let mut cmds = String::from("mkdir big\n");
        for i in 0..80 {
            cmds.push_str(&format!(
                "write /dev/null big/file-with-a-long-name-{i:03}\n"
            ));
        }
        cmds
    });
    for (from, to) in [
        ("001", "000"),
        ("041", "040"),
        ("078", "079"),
        ("052", "050"),
    ] {
        let prefix = "file-with-a-long-name-";
        rename_in_place(
            &img,
            "/big",
            &format!("{prefix}{from}"),
            &format!("{prefix}{to}"),
        );
    }
    let out = assert_as_e2fsck(&img);
    assert!(out.contains("has a non-unique filename."), "{out}");
}

/// PR_2_READ_DIRBLOCK: a directory block past the end of a truncated
/// image. Under -n e2fsck goes on past the device size question, its I/O
/// error handler asks to ignore the short read, and declining both stops
/// the check; -fy and -fp stop at the size.
#[test]
fn directory_block_that_cannot_be_read() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("short.img");
    real_mkfs(&img, &["-b", "1024"], "4096");
    real_debugfs_script(&img, "mkdir d\nsif d block[0] 4000\n");
    let f = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
    f.set_len(3000 * 1024).unwrap();
    let out = assert_as_e2fsck(&img);
    assert!(
        out.contains("Error reading directory block 4000 (inode 12): Attempt to read block from filesystem resulted in short read\nContinue? no"),
        "{out}"
    );
}

/// A directory block past the end of the filesystem, met while a
/// message prints the directory's path (print_pathname): the I/O error
/// handler's words come inside the message, before the "???" of a path
/// that cannot be found, and nothing is asked. (-fy clears the block in
/// pass 1, before any path is printed; e2fsck then also asks to allocate
/// it in pass 2, which e2fsck-union does not yet.)
#[test]
fn directory_block_past_the_end_in_a_path() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("path.img");
    real_mkfs(&img, &["-b", "1024"], "4096");
    real_debugfs_script(
        &img,
        "mkdir d\nwrite /dev/null d/f\nsif d block[1] 99999999\nln <20> d/bad\n",
    );
    let out = assert_as_e2fsck_under(&img, &[&["-fn"], &["-fp"]]);
    assert!(
        out.contains("Entry 'bad' in Error reading block 99999999 (Attempt to read block from filesystem resulted in short read).  ??? (12) has deleted/unused inode 20.  Clear? no\n"),
        "{out}"
    );
}

/// The image of the tests below: 1 KiB blocks, 128-byte inodes (so
/// attributes go to a block), /f (inode 12) with user.test in a block
/// of its own, and /z (inode 13) whose one data block starts with 64
/// zero bytes.
fn image_with_attribute_block(dir: &Path) -> PathBuf {
    let img = dir.join("ea.img");
    real_mkfs(&img, &["-b", "1024", "-I", "128"], "4096");
    let data = dir.join("data");
    let mut bytes = vec![0u8; 64];
    bytes.extend_from_slice(&[b'x'; 900]);
    std::fs::write(&data, bytes).unwrap();
    let d = data.display();
    real_debugfs_script(
        &img,
        &format!("write {d} f\nwrite {d} z\nea_set /f user.test hello\n"),
    );
    img
}

/// PR_1_READ_EA_BLOCK and PR_1_EXTATTR_READ_ABORT: an extended attribute
/// block past the end of a truncated image. Under -n the handler asks
/// (naming "reading indirect blocks of inode 12", where e2fsck checks
/// such inodes), the read error is reported before and after the
/// header's checks on what e2fsck's buffer held, and the reference count
/// check at the end of pass 1 meets the error again and stops the check;
/// -fy and -fp stop at the device size.
#[test]
fn attribute_block_that_cannot_be_read() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = image_with_attribute_block(t.path());
    real_debugfs_script(&img, "sif /f file_acl 4000\n");
    let f = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
    f.set_len(3000 * 1024).unwrap();
    let out = assert_as_e2fsck(&img);
    for want in [
        "Error reading block 4000 (Attempt to read block from filesystem resulted in short read) while reading indirect blocks of inode 12.  Ignore error? no\n\n",
        "Error reading extended attribute block 4000 for inode 12.  Clear? no\n",
        "Error reading block 4000 (Attempt to read block from filesystem resulted in short read).  Ignore error? no\n\n",
        "Error reading extended attribute block 4000 (Attempt to read block from filesystem resulted in short read).  \n",
    ] {
        assert!(out.contains(want), "{want:?} missing:\n{out}");
    }
}

/// PR_1_EXTATTR_READ_ABORT for a header that is not an attribute
/// block's: /z names its own data block as its attribute block; -n
/// leaves it, and the reference count check at the end of pass 1 reads
/// it as libext2fs' attribute reader does and stops the check.
#[test]
fn attribute_block_with_a_bad_header_stops_the_reference_count_check() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = image_with_attribute_block(t.path());
    let out = String::from_utf8_lossy(&real_debugfs(&img, "bmap /z 0")).into_owned();
    let block: u64 = out.trim().parse().unwrap_or_else(|_| panic!("bmap: {out}"));
    real_debugfs_script(&img, &format!("sif /z file_acl {block}\n"));
    let out = assert_as_e2fsck(&img);
    let want = format!(
        "Error reading extended attribute block {block} (Extended attribute block has a bad header).  \n"
    );
    assert!(out.contains(&want), "{out}");
}

/// Pass 1B tests every block number of the inodes it rescans against its
/// multiply-claimed block map; libext2fs warns on standard error of each
/// one outside the filesystem (left by -n in pass 1): data blocks and
/// the attribute block of a regular file, not the pointers of a reserved
/// inode without a file type (which has no valid blocks to walk).
#[test]
fn pass_1b_warns_of_block_numbers_outside_its_map() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("dup.img");
    real_mkfs(&img, &["-b", "1024"], "4096");
    let data = t.path().join("data");
    std::fs::write(&data, vec![b'x'; 3000]).unwrap();
    let d = data.display();
    real_debugfs_script(&img, &format!("write {d} f1\nwrite {d} f2\nwrite {d} f3\n"));
    let out = String::from_utf8_lossy(&real_debugfs(&img, "bmap /f1 0")).into_owned();
    let shared: u64 = out.trim().parse().unwrap_or_else(|_| panic!("bmap: {out}"));
    real_debugfs_script(
        &img,
        &format!(
            "sif /f2 block[0] {shared}\nsif /f3 block[1] 99999999\nsif /f3 block[2] 4096\n\
             sif /f3 file_acl 77777777\nsif <10> block[0] 16777216\n"
        ),
    );
    assert_as_e2fsck(&img);
    let (ours, _) = side_by_side(t.path(), &img, &["-fn"]);
    let want: String = [99999999, 4096, 77777777]
        .iter()
        .map(|b| {
            format!(
                "Illegal block number passed to ext2fs_test_block_bitmap #{b} for multiply claimed block map\n"
            )
        })
        .collect();
    assert_eq!(ours.stderr, want);
}
