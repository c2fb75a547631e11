//! Regression tests for mke2fs-union against the real mke2fs 1.47 on the
//! same options, UUID, hash seed and time (E2FSPROGS_FAKE_TIME): exit
//! status, stdout, stderr, the real dumpe2fs of both images and, where
//! e2fsprogs' output is deterministic, the image bytes.

use integration_tests::mkfs_pair::Case;
use integration_tests::skip_without_e2fsprogs;

/// A mke2fs.conf of our own: the settings these tests turn.
fn conf(defaults: &str, types: &str) -> String {
    format!(
        "[defaults]\n\tbase_features = sparse_super,filetype,resize_inode,dir_index,ext_attr\n\
         \tblocksize = 4096\n\tinode_size = 256\n\tinode_ratio = 16384\n{defaults}\n\
         [fs_types]\n\tsmall = {{\n\t\tblocksize = 1024\n\t\tinode_ratio = 4096\n\t}}\n\
         \tfloppy = {{\n\t\tblocksize = 1024\n\t\tinode_ratio = 8192\n\t}}\n\
         \tlargefile = {{\n\t\tinode_ratio = 1048576\n\t\tblocksize = -1\n\t}}\n{types}\n"
    )
}

#[test]
fn default_mntopts_edit_lists_as_mke2fs_takes_them() {
    if skip_without_e2fsprogs() {
        return;
    }
    for opts in [
        "^acl",
        "acl,user_xattr",
        "+debug,-acl",
        "MNTOPT_12",
        "acl,bogus",
    ] {
        Case::new(&["-q"], Some("8M"))
            .config(&conf(&format!("\tdefault_mntopts = {opts}"), ""))
            .assert_same(true);
    }
    // No default_mntopts at all: mke2fs' own default, acl,user_xattr.
    Case::new(&["-q"], Some("8M"))
        .config(&conf("", ""))
        .assert_same(true);
}

#[test]
fn device_sector_sizes_from_the_environment() {
    if skip_without_e2fsprogs() {
        return;
    }
    for (logical, physical, args) in [
        ("2048", None, vec![]),
        ("4096", None, vec![]),
        ("512", Some("4096"), vec!["-b", "1024"]),
        ("4096", None, vec!["-b", "1024"]),
        ("2048", None, vec!["-T", "largefile"]),
        ("junk", Some("0"), vec![]),
    ] {
        let mut c = Case::new(&args, Some("65536"))
            .config(&conf("", ""))
            .env("MKE2FS_DEVICE_SECTSIZE", logical);
        if let Some(p) = physical {
            c = c.env("MKE2FS_DEVICE_PHYS_SECTSIZE", p);
        }
        c.env("E2FSPROGS_SKIP_PROGRESS", "1").assert_same(true);
    }
}

#[test]
fn error_behavior_from_options_and_profile() {
    if skip_without_e2fsprogs() {
        return;
    }
    for e in ["continue", "remount-ro", "panic", "broken"] {
        Case::new(&["-q", "-e", e], Some("4M"))
            .config(&conf("", ""))
            .assert_same(true);
        Case::new(&["-q"], Some("4M"))
            .config(&conf(&format!("\terrors = {e}"), ""))
            .assert_same(true);
        Case::new(&["-q", "-T", "mine"], Some("4M"))
            .config(&conf(
                "\terrors = broken",
                &format!("\tmine = {{\n\t\terrors = {e}\n\t}}"),
            ))
            .assert_same(true);
        // -e wins over the profile.
        Case::new(&["-q", "-T", "mine", "-e", "panic"], Some("4M"))
            .config(&conf("", &format!("\tmine = {{\n\t\terrors = {e}\n\t}}")))
            .assert_same(true);
    }
}

#[test]
fn repeated_o_the_last_wins() {
    if skip_without_e2fsprogs() {
        return;
    }
    for args in [["-o", "hurd", "-o", "Linux"], ["-o", "Linux", "-o", "hurd"]] {
        Case::new(&args, Some("8M"))
            .config(&conf("", ""))
            .env("E2FSPROGS_SKIP_PROGRESS", "1")
            .assert_same(true);
    }
}

#[test]
fn progress_lines_padded_to_the_group_count() {
    if skip_without_e2fsprogs() {
        return;
    }
    // 1, 8, 128 and 1024 groups: the count's width sets the padding.
    for (args, size) in [
        (vec![], "4M"),
        (vec![], "64M"),
        (vec!["-g", "1024"], "128M"),
        (
            vec!["-b", "1024", "-g", "256", "-O", "^resize_inode"],
            "300M",
        ),
    ] {
        Case::new(&args, Some(size))
            .config(&conf("", ""))
            .env("E2FSPROGS_SKIP_PROGRESS", "1")
            .assert_same(true);
    }
}

#[test]
fn resize_inode_past_2_gib_turns_on_large_file() {
    if skip_without_e2fsprogs() {
        return;
    }
    // base_features without large_file: 4 KiB and larger blocks give the
    // resize inode a size past 2 GiB.
    for bs in ["1024", "2048", "4096", "8192"] {
        Case::new(&["-q", "-b", bs], Some("32M"))
            .config(&conf("", ""))
            .assert_same(true);
    }
    Case::new(&["-q", "-b", "4096", "-O", "^resize_inode"], Some("32M"))
        .config(&conf("", ""))
        .assert_same(true);
}

#[test]
fn backup_superblocks_as_ext2fs_flush_writes_them() {
    if skip_without_e2fsprogs() {
        return;
    }
    // Byte-identical images: each backup has its group number and is not
    // marked clean; also with -S, where the primary says "with errors".
    let c = Case::new(&["-q", "-t", "ext2"], Some("64M"));
    c.clone().assert_same(true);
    let dir = tempfile::tempdir().unwrap();
    let (ours, _) = c.run_both(dir.path());
    let ours_image = std::fs::read(&ours.image).unwrap();
    let backup = &ours_image[8193 * 1024..8193 * 1024 + 1024];
    assert_eq!(u16::from_le_bytes([backup[0x3a], backup[0x3b]]) & 1, 0);
    assert_eq!(u16::from_le_bytes([backup[0x5a], backup[0x5b]]), 1);
    let existing = ours_image;
    Case::new(&["-q", "-S"], None)
        .initial(Some(existing))
        .assert_same(true);
}

#[test]
fn old_contents_discarded_or_wiped_like_mke2fs() {
    if skip_without_e2fsprogs() {
        return;
    }
    // A file with old data: discarded (punched) when it has a size, or,
    // with nodiscard, only the boot sectors, the end and the metadata
    // rewritten; lazy_itable_init decides the groups' INODE_ZEROED flag.
    let mut old = vec![0u8; 16 << 20];
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for b in old.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    for (ext, lazy) in [
        ("discard", None),
        ("nodiscard", None),
        ("nodiscard", Some("lazy_itable_init = false")),
        ("nodiscard,lazy_itable_init=0", None),
        (
            "discard,lazy_itable_init=1",
            Some("lazy_itable_init = false"),
        ),
    ] {
        Case::new(&["-q", "-t", "ext2"], None)
            .initial(Some(old.clone()))
            .config(&conf(lazy.unwrap_or(""), ""))
            .extended(ext)
            .assert_same(true);
    }
    // Created from nothing and from an empty file.
    Case::new(&["-t", "ext2"], Some("8M"))
        .initial(None)
        .config(&conf("", ""))
        .env("E2FSPROGS_SKIP_PROGRESS", "1")
        .assert_same(true);
}

#[test]
fn offset_without_a_size_warns_once() {
    if skip_without_e2fsprogs() {
        return;
    }
    Case::new(&["-q", "-t", "ext2"], None)
        .initial(Some(vec![0u8; 8 << 20]))
        .extended("offset=524288")
        .assert_same(true);
}

#[test]
fn initialize_errors_and_inode_size_warning_worded_as_mke2fs() {
    if skip_without_e2fsprogs() {
        return;
    }
    for (args, size) in [
        (
            vec!["-b", "1024", "-m", "0", "-g", "1024", "-N", "8000"],
            "2048",
        ),
        (
            vec![
                "-b",
                "1024",
                "-O",
                "^resize_inode",
                "-g",
                "256",
                "-N",
                "9000",
            ],
            "3000",
        ),
        (
            vec!["-b", "1024", "-g", "256", "-N", "3745", "-o", "hurd"],
            "1024",
        ),
        (vec!["-I", "128"], "8M"),
        (vec!["-r", "0"], "8M"),
    ] {
        Case::new(&args, Some(size))
            .config(&conf("", ""))
            .env("E2FSPROGS_SKIP_PROGRESS", "1")
            .assert_same(true);
    }
}

/// With -z, mke2fs sets up its undo file and says so before
/// ext2fs_initialize can refuse the geometry; ours refused first and said
/// nothing of the undo file (differential seed 560 cases 1160, 1606,
/// 1668). A run failing later leaves it to undo_io's exit handler, which
/// says it force-closed the file (case 74: no inode left for
/// /lost+found).
#[test]
fn undo_file_announced_before_the_superblock_is_refused() {
    if skip_without_e2fsprogs() {
        return;
    }
    use integration_tests::mkfs_pair::UNDO_FILE;
    for (args, size) in [
        (vec!["-b", "4096", "-I", "1024", "-z", UNDO_FILE], "76k"),
        (
            vec!["-b", "1024", "-g", "256", "-N", "3745", "-z", UNDO_FILE],
            "1024",
        ),
    ] {
        Case::new(&args, Some(size))
            .config(&conf("", ""))
            .initial(Some(Vec::new()))
            .env("E2FSPROGS_SKIP_PROGRESS", "1")
            .assert_same(true);
    }
    // The failed run's image is not compared: mke2fs has the root
    // directory written by then, ours not (docs/compat.md).
    Case::new(&["-i", "32768", "-z", UNDO_FILE], Some("240k"))
        .config(&conf("", ""))
        .initial(Some(vec![0u8; 240 << 10]))
        .env("E2FSPROGS_SKIP_PROGRESS", "1")
        .assert_same(false);
}

#[test]
fn an_inode_ratio_giving_no_inodes_takes_the_library_default() {
    if skip_without_e2fsprogs() {
        return;
    }
    // 201 KiB at one inode per MiB: ext2fs_initialize's default of one
    // inode per 4 KiB (48 with 512-byte inodes), not the 8 of a rounded
    // minimum, which left no inode for lost+found (differential case 93).
    Case::new(
        &[
            "-b",
            "1024",
            "-I",
            "512",
            "-O",
            "large_file,^filetype",
            "-T",
            "largefile",
        ],
        Some("201k"),
    )
    .env("E2FSPROGS_SKIP_PROGRESS", "1")
    .assert_same(true);
    // -N below the reserved inodes: raised to 12, which rounds to 8 per
    // group, so lost+found finds no inode in either tool.
    for n in ["1", "5", "11"] {
        Case::new(&["-q", "-b", "1024", "-N", n], Some("300k")).assert_same(true);
    }
}

#[test]
fn labels_truncated_to_16_bytes_on_every_revision() {
    if skip_without_e2fsprogs() {
        return;
    }
    // Differential case 108: on revision 0 the label was dropped.
    for rev in ["0", "1"] {
        Case::new(
            &[
                "-q",
                "-r",
                rev,
                "-L",
                "a-much-longer-label-text",
                "-M",
                "/mnt/x",
            ],
            Some("6336k"),
        )
        .assert_same(true);
    }
}

#[test]
fn lost_found_in_the_group_of_its_inode() {
    if skip_without_e2fsprogs() {
        return;
    }
    // Differential case 127: 8 inodes per group, so group 0 holds only
    // reserved inodes and lost+found (inode 11), its blocks and its
    // directory count belong to group 1.
    Case::new(&["-q", "-N", "312", "-m", "8"], Some("301628k")).assert_same(true);
    Case::new(&["-q", "-b", "1024", "-g", "1024", "-N", "40"], Some("8M")).assert_same(true);
}

#[test]
fn label_warning_printed_before_a_later_refusal() {
    if skip_without_e2fsprogs() {
        return;
    }
    // Differential cases 210 and 798: the warning came after the checks,
    // so a refused run never showed it.
    Case::new(&["-L", "abcdefghijklmnopqrstu", "-e", "bogus"], Some("100"))
        .config(&conf("", ""))
        .env("E2FSPROGS_SKIP_PROGRESS", "1")
        .assert_same(true);
}

#[test]
fn revision_0_size_check_weighs_the_inode_size_asked_for() {
    if skip_without_e2fsprogs() {
        return;
    }
    // Differential cases 232 and 801: revision 0 lays out 128-byte inodes,
    // but mke2fs checks the tables' size with the profile's 256 (or -I).
    for (args, size) in [
        (vec!["-r", "0", "-N", "4444"], "149k"),
        (vec!["-r", "0", "-N", "800"], "149k"),
        (vec!["-r", "0", "-I", "512", "-N", "400"], "149k"),
        (vec!["-r", "0", "-N", "4444"], "2M"),
    ] {
        Case::new(&args, Some(size))
            .config(&conf("", ""))
            .env("E2FSPROGS_SKIP_PROGRESS", "1")
            .assert_same(true);
    }
}

/// Differential seed 20261130 cases 271, 407, 449, 699, 763: with
/// sparse_super2 and ^sparse_super, mke2fs refuses the resize inode on a
/// non-sparse filesystem before anything else; ours said it cannot make
/// sparse_super2 first.
#[test]
fn non_sparse_resize_refusal_comes_before_our_sparse_super2_refusal() {
    if integration_tests::skip_without_e2fsprogs() {
        return;
    }
    integration_tests::mkfs_pair::Case::new(
        &["-t", "ext2", "-O", "^sparse_super,sparse_super2"],
        Some("3370k"),
    )
    .assert_same(false);
}

/// Differential seed 20261130 case 501 and seed 556 case 305: with
/// -E stride the bitmaps of group g go stride*g past the end of where
/// the inode table would be, wrapping within the group, and the table
/// takes the first free run from the group's start (around the bitmaps
/// when they landed there); ours approximated the search.
#[test]
fn stride_places_bitmaps_as_ext2fs_allocate_group_table() {
    if skip_without_e2fsprogs() {
        return;
    }
    for (args, size) in [
        (
            vec![
                "-t",
                "ext2",
                "-O",
                "^large_file,large_file",
                "-i",
                "2048",
                "-m",
                "4",
            ]
            .into_iter()
            .chain(["-g", "560", "-o", "FreeBSD", "-E", "stride=11"])
            .collect::<Vec<_>>(),
            "831764k",
        ),
        (
            vec!["-t", "ext2", "-r", "0", "-g", "872", "-E", "stride=42"],
            "40203k",
        ),
        // Small groups: the offset wraps, bitmaps at the group's end.
        (
            vec!["-b", "1024", "-g", "256", "-N", "64", "-E", "stride=200"],
            "2M",
        ),
        (vec!["-b", "1024", "-E", "stride=8191"], "20M"),
        (
            vec![
                "-O",
                "meta_bg,^resize_inode",
                "-g",
                "1024",
                "-E",
                "stride=7",
            ],
            "64M",
        ),
        (vec!["-b", "2048", "-g", "2048", "-E", "stride=1500"], "30M"),
    ] {
        Case::new(&args, Some(size)).assert_same(true);
    }
}

/// Differential seed 556 case 294: mke2fs warns about 128-byte inodes and
/// then refuses inode tables too big for the filesystem; ours refused
/// sparse_super2 (which it cannot make) before either.
#[test]
fn option_checks_come_before_our_ext4_feature_refusal() {
    if skip_without_e2fsprogs() {
        return;
    }
    Case::new(
        &[
            "-t",
            "ext2",
            "-I",
            "128",
            "-O",
            "^dir_index,sparse_super2",
            "-N",
            "19036",
        ],
        Some("1904k"),
    )
    .assert_same(false);
}

/// A mke2fs.conf with only these [defaults] lines and one fs_type `mine`.
fn bare_conf(defaults: &str, mine: &str) -> String {
    format!("[defaults]\n{defaults}\n[fs_types]\n\tmine = {{\n{mine}\n\t}}\n")
}

#[test]
fn reserved_ratio_and_inode_size_from_the_profile() {
    if skip_without_e2fsprogs() {
        return;
    }
    for (defaults, mine, args) in [
        // No inode_size anywhere: ext2fs_initialize's 128, not 256.
        ("", "", vec![]),
        ("\treserved_ratio = 2.5", "", vec![]),
        (
            "\treserved_ratio = 1",
            "\t\treserved_ratio = 0",
            vec!["-T", "mine"],
        ),
        // -m wins over the profile; a bad profile value is an error.
        ("\treserved_ratio = 60", "", vec!["-m", "3"]),
        ("\treserved_ratio = 60", "", vec![]),
        ("\treserved_ratio = -1.5", "", vec![]),
        // An unreadable value leaves the one before, as libprofile does.
        (
            "\treserved_ratio = 7",
            "\t\treserved_ratio = lots",
            vec!["-T", "mine"],
        ),
        (
            "\tinode_size = 512",
            "\t\tinode_size = big",
            vec!["-T", "mine"],
        ),
        ("\tblocksize = 0x800\n\tinode_ratio = 010000", "", vec![]),
        ("\tinode_size = 100", "", vec![]),
        ("\tinode_size = 100", "", vec!["-r", "0"]),
        ("\tinode_size = 8192", "", vec!["-b", "4096"]),
        (
            "\tlazy_itable_init = FALSE",
            "\t\tlazy_itable_init = maybe",
            vec!["-T", "mine"],
        ),
    ] {
        Case::new(&args, Some("8M"))
            .config(&bare_conf(defaults, mine))
            .env("E2FSPROGS_SKIP_PROGRESS", "1")
            .assert_same(true);
    }
}

#[test]
fn periodic_fsck_message_as_mke2fs_prints_it() {
    if skip_without_e2fsprogs() {
        return;
    }
    for (conf, args, env) in [
        ("\tenable_periodic_fsck = true", vec![], None),
        ("\tenable_periodic_fsck = 1", vec!["-q"], None),
        (
            "\tenable_periodic_fsck = yes",
            vec![],
            Some("MKE2FS_SKIP_CHECK_MSG"),
        ),
    ] {
        let mut c = Case::new(&args, Some("8M"))
            .config(&bare_conf(conf, ""))
            .env("E2FSPROGS_SKIP_PROGRESS", "1");
        if let Some(k) = env {
            c = c.env(k, "1");
        }
        c.assert_same(true);
    }
}

#[test]
fn messages_in_the_order_mke2fs_reads_the_options() {
    if skip_without_e2fsprogs() {
        return;
    }
    // A label warning before a second -T's refusal; the fs_types line of
    // -v (even with -q) before the 128-byte inode warning; -E's stripe
    // warning and offset warning after the undefined usage type's.
    for (args, ext) in [
        (
            vec![
                "-L",
                "a-much-longer-label-text",
                "-T",
                "small",
                "-T",
                "news",
            ],
            None,
        ),
        (vec!["-v", "-I", "128"], None),
        (vec!["-q", "-v"], None),
        (vec!["-T", "nosuch"], Some("stride=3,stripe_width=7")),
        (vec!["-T", "nosuch", "-v"], Some("offset=4096")),
    ] {
        let mut c = Case::new(&args, Some("8M"))
            .config(&conf("", ""))
            .env("E2FSPROGS_SKIP_PROGRESS", "1");
        if let Some(e) = ext {
            c = c.extended(e);
        }
        c.assert_same(true);
    }
}

/// -l FILE (issue 17): the list read as ext2fs_read_bb_FILE reads it
/// (junk and blank lines skipped, numbers outside the filesystem warned
/// about, duplicates once), the group tables placed around the bad
/// blocks, the bad-blocks inode holding them (through an indirect and a
/// double indirect block for long lists), a backup superblock's warning,
/// and mke2fs' refusals: a bad primary superblock or descriptor block, a
/// number past 32 bits, a list that cannot be opened. Byte for byte.
#[test]
fn bad_blocks_list_files_are_taken_as_mke2fs_takes_them() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let lists: [(&str, String); 9] = [
        (
            "few",
            "100\n200\n  300 junk\nabc\n\n5000\n0\n8193\n8194\n300\n99999\n20479\n20480\n".into(),
        ),
        ("thirteen", (100..113).map(|b| format!("{b}\n")).collect()),
        ("twelve", (100..112).map(|b| format!("{b}\n")).collect()),
        ("double", (2000..2300).map(|b| format!("{b}\n")).collect()),
        ("primary", "500\n2\n".into()),
        ("overflow", "5000000000\n".into()),
        ("negative", "-1\n".into()),
        ("long line", format!("{}\n42\n", "7".repeat(200))),
        ("empty", String::new()),
    ];
    for (name, text) in &lists {
        let path = t.path().join(name);
        std::fs::write(&path, text).unwrap();
        for bs in ["1024", "4096"] {
            Case::new(
                &["-t", "ext2", "-b", bs, "-l", path.to_str().unwrap()],
                Some("20M"),
            )
            .env("E2FSPROGS_SKIP_PROGRESS", "1")
            .assert_same(true);
        }
    }
    // -q, a RAID stride moving the bitmaps, and a list that is missing.
    let few = t.path().join("few");
    Case::new(
        &[
            "-q",
            "-t",
            "ext2",
            "-b",
            "1024",
            "-l",
            few.to_str().unwrap(),
        ],
        Some("20M"),
    )
    .extended("stride=7")
    .assert_same(true);
    let missing = t.path().join("missing");
    Case::new(&["-t", "ext2", "-l", missing.to_str().unwrap()], Some("8M"))
        .env("E2FSPROGS_SKIP_PROGRESS", "1")
        .assert_same(true);
}

/// A bad block in the way of an inode table that fills its group
/// (differential seed 566 case 1080): ext2fs_allocate_tables fails after
/// its progress label, with libext2fs' "Could not allocate block in ext2
/// filesystem", with and without -q.
#[test]
fn no_room_for_the_tables_beside_a_bad_block_fails_as_mke2fs() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let list = t.path().join("bad");
    std::fs::write(&list, "436\n").unwrap();
    let list = list.to_str().unwrap();
    for quiet in [&[][..], &["-q"][..]] {
        let mut args = vec!["-t", "ext2", "-b", "4096", "-I", "512", "-i", "1024"];
        args.extend(quiet);
        args.extend(["-l", list]);
        Case::new(&args, Some("4129k"))
            .extended("stride=56")
            .env("E2FSPROGS_SKIP_PROGRESS", "1")
            .assert_same(true);
    }
}

/// -G (issue 17): mke2fs reads the number first (not a number, not a
/// power of 2, past 2^32), then refuses it without flex_bg, which ext2
/// never has.
#[test]
fn flex_bg_size_is_checked_and_refused_as_mke2fs_does() {
    if skip_without_e2fsprogs() {
        return;
    }
    for g in ["16", "0x10", "3", "0", "x", "-1", "4294967296", "", "1"] {
        Case::new(&["-q", "-t", "ext2", "-G", g], Some("8M")).assert_same(true);
    }
}

/// A long -L warns as mke2fs' getopt loop reads it: before a bad -G that
/// follows it, not when the -G comes first (mke2fs differential seed
/// 20261130 case 31, where ours refused -G before warning).
#[test]
fn label_warning_and_flex_bg_refusal_in_command_line_order() {
    if skip_without_e2fsprogs() {
        return;
    }
    let long = "a-much-longer-label-text";
    for args in [
        &["-L", long, "-G", "3"][..],
        &["-G", "3", "-L", long],
        &["-L", long, "-G", "3", "-L", "another-long-label-here"],
        &["-L", long, "-L", "another-long-label-here", "-G", "16"],
    ] {
        Case::new(args, Some("1M")).assert_same(true);
    }
}

/// sparse_super2 (a compat feature the kernel's ext2 driver knows): the
/// backups in group 1 and the last group, or as -E num_backup_sb and
/// mke2fs.conf ask, with the reserved GDT blocks only there; the layout,
/// output and bytes as mke2fs 1.47 makes them (ours used to refuse it).
#[test]
fn sparse_super2_backups_as_mke2fs_places_them() {
    if skip_without_e2fsprogs() {
        return;
    }
    for (args, size) in [
        (&["-O", "sparse_super2"][..], "64M"),
        (&["-O", "sparse_super2", "-b", "1024"], "20M"),
        (&["-O", "sparse_super2,^resize_inode"], "64M"),
        (&["-O", "sparse_super2", "-b", "1024", "-g", "256"], "2M"),
        (
            &["-O", "sparse_super2", "-b", "1024", "-g", "8192"],
            "8300k",
        ),
        (&["-O", "sparse_super2", "-b", "1024"], "900k"),
        (&["-O", "sparse_super2,meta_bg,^resize_inode"], "64M"),
        // Revision 0 refuses features left set, after the -O edits.
        (&["-O", "sparse_super2", "-r", "0"], "64M"),
        (&["-O", "^resize_inode", "-r", "0"], "64M"),
    ] {
        Case::new(args, Some(size)).assert_same(true);
    }
    for n in ["0", "1", "2", "0x1", "", "-1", "4294967297"] {
        Case::new(&["-O", "sparse_super2"], Some("64M"))
            .extended(&format!("num_backup_sb={n}"))
            .assert_same(true);
    }
    // Refused as mke2fs refuses them; only the list of valid -E options
    // after it is our own (docs/compat.md).
    for opt in [
        "num_backup_sb=3",
        "num_backup_sb=-1",
        "num_backup_sb=x",
        "num_backup_sb",
    ] {
        let case = Case::new(&["-O", "sparse_super2"], Some("64M")).extended(opt);
        let t = tempfile::tempdir().unwrap();
        let diffs = case.differences(t.path(), true);
        assert!(
            diffs.iter().all(|d| d.starts_with("stderr differs:")
                && d.lines().skip(1).all(|l| {
                    let l = l.trim_start();
                    l.starts_with("ours: Some(\"\\t")
                        || l.starts_with("real: Some(\"\\t")
                        || l.starts_with("ours: None")
                        || l.starts_with("real: None")
                })),
            "{opt}: {diffs:?}"
        );
    }
    Case::new(&["-O", "sparse_super2"], Some("64M"))
        .config(&conf("\tnum_backup_sb = 1", ""))
        .assert_same(true);
}

/// At a terminal, mke2fs names the filesystem already on the image (with
/// its creation time) and asks before overwriting it; "n" leaves without
/// a word and exit 1. With -E offset it does not ask.
#[test]
fn existing_filesystem_question_at_a_terminal_as_mke2fs() {
    use integration_tests::{keys_on_a_terminal, our_bin, real_mkfs, terminal_text};
    if skip_without_e2fsprogs() || !integration_tests::have_tool("script") {
        integration_tests::skip("needs script(1) to give mke2fs a terminal");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let base = t.path().join("base.img");
    real_mkfs(&base, &["-L", "old"], "8M");
    for (args, keys) in [
        ("", &["n\\n"][..]),
        ("", &["y\\n"]),
        ("-E offset=4096", &[]),
    ] {
        let mut outs = Vec::new();
        for (bin, name) in [(our_bin("mke2fs-union"), "ours"), ("mke2fs".into(), "real")] {
            let img = t.path().join("x.img");
            std::fs::copy(&base, &img).unwrap();
            let out = keys_on_a_terminal(
                &format!("{} -q -t ext2 {args} {} 4M", bin.display(), img.display()),
                "(y,N) ",
                keys,
                t.path(),
            );
            let shown = terminal_text(&out)
                .replace(&bin.display().to_string(), "mke2fs")
                .replace(name, "");
            // (the real one's version banner on standard error ends its
            // last line at the terminal: trailing blanks aside)
            outs.push((out.status.code(), shown.trim_end().to_string()));
        }
        assert_eq!(outs[0], outs[1], "{args} {keys:?}");
        let asked = outs[0]
            .1
            .contains("contains a ext2 file system labelled 'old'");
        assert_eq!(asked, args.is_empty(), "{}", outs[0].1);
    }
}

/// mke2fs.conf read as libprofile's parser reads it, before the options:
/// a relation without a value opens a subsection whose '{' must come on
/// the next line (seed 561 case 9597), a value is one word, a section
/// header needs its ']', braces must match; each refusal is mke2fs'
/// "Syntax error in mke2fs config file" with the line and libprofile's
/// code, and exit 1; what the parser lets through (text before the first
/// section, comments after a value or a header) is read as there.
#[test]
fn profile_syntax_as_libprofile_parses_it() {
    if skip_without_e2fsprogs() {
        return;
    }
    for text in [
        "[defaults]\n\tbase_features = \n\tinode_ratio = 8192\n",
        "[defaults]\n\tblocksize = 1024 4096\n",
        "[defaults]\n\tinode size = 256\n",
        "[defaults]\n\t= 256\n",
        "[defaults\n\tblocksize = 1024\n",
        "[defaults]\n}\n",
        "[fs_types]\n\tsmall = {\n[defaults]\n",
        "[fs_types]\n\tsmall = { inode_ratio = 2048\n",
        "[defaults]\n\tnonsense\n",
        "anything before the first section\n[defaults] trailing words\n\tblocksize = 2048 # a comment\n\tinode_ratio = \"4096\"\n[fs_types]\n\tsmall =\n\t{\n\t\tinode_size = 512 ; note\n\t}\n",
    ] {
        // A bad option too: the profile is read first.
        for args in [vec!["-q"], vec!["-q", "-b", "bogus"]] {
            Case::new(&args, Some("8M")).config(text).assert_same(true);
        }
    }
}

/// -b as mke2fs reads it: parse_num_blocks2 in bytes (base 0, one
/// suffix), kept in an int whose magnitude must be 1024 to 65536; a size
/// that is no power of two rounds down, a negative one is a minimum for
/// the profile's block size.
#[test]
fn block_size_option_as_mke2fs_reads_it() {
    if skip_without_e2fsprogs() {
        return;
    }
    for b in [
        "3000", "1k", "0x800", "-2048", "-65536", "8192", "4096x", "bogus", "70000", "1m",
    ] {
        Case::new(&["-q", "-b", b], Some("8M"))
            .env("E2FSPROGS_SKIP_PROGRESS", "1")
            .assert_same(true);
    }
}
