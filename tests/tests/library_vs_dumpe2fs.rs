//! The library reads images made by the real `mke2fs -t ext2` exactly as
//! the real `dumpe2fs` and `debugfs` do: every superblock and group
//! descriptor field, and the fields of inodes.

use std::collections::HashMap;
use std::path::Path;

use ext2fs::fs::{Filesystem, OpenOptions};
use ext2fs::superblock::{self as sbm, Superblock};
use integration_tests::*;

/// `Key: value` lines of `dumpe2fs -h`.
fn header_fields(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// What the library says for each dumpe2fs header key it reads.
fn our_fields(sb: &Superblock) -> Vec<(&'static str, String)> {
    let mut v = vec![
        ("Filesystem volume name", {
            let l = sb.label();
            if l.is_empty() {
                "<none>".into()
            } else {
                l
            }
        }),
        ("Last mounted on", {
            let l = sb.last_mounted();
            if l.is_empty() {
                "<not available>".into()
            } else {
                l
            }
        }),
        ("Filesystem UUID", sbm::uuid_string(&sb.s_uuid)),
        ("Filesystem magic number", format!("0x{:04X}", sb.s_magic)),
        (
            "Filesystem revision #",
            format!(
                "{} ({})",
                sb.s_rev_level,
                if sb.s_rev_level == 0 {
                    "original"
                } else {
                    "dynamic"
                }
            ),
        ),
        ("Filesystem features", sb.features().to_list()),
        ("Filesystem state", sbm::state_name(sb.s_state)),
        ("Errors behavior", sbm::errors_behavior_name(sb.s_errors)),
        ("Filesystem OS type", sbm::os_name(sb.s_creator_os)),
        ("Inode count", sb.s_inodes_count.to_string()),
        ("Block count", sb.s_blocks_count.to_string()),
        ("Reserved block count", sb.s_r_blocks_count.to_string()),
        ("Free blocks", sb.s_free_blocks_count.to_string()),
        ("Free inodes", sb.s_free_inodes_count.to_string()),
        ("First block", sb.s_first_data_block.to_string()),
        ("Block size", sb.block_size().to_string()),
        (
            "Fragment size",
            (1024u32 << sb.s_log_cluster_size).to_string(),
        ),
        ("Blocks per group", sb.s_blocks_per_group.to_string()),
        ("Fragments per group", sb.s_clusters_per_group.to_string()),
        ("Inodes per group", sb.s_inodes_per_group.to_string()),
        (
            "Inode blocks per group",
            (sb.s_inodes_per_group * sb.inode_size() as u32)
                .div_ceil(sb.block_size())
                .to_string(),
        ),
        ("Mount count", sb.s_mnt_count.to_string()),
        (
            "Maximum mount count",
            (sb.s_max_mnt_count as i16).to_string(),
        ),
        (
            "Reserved blocks uid",
            format!("{} (user root)", sb.s_def_resuid),
        ),
        (
            "Reserved blocks gid",
            format!("{} (group root)", sb.s_def_resgid),
        ),
    ];
    if sb.s_rev_level >= 1 {
        v.push(("First inode", sb.s_first_ino.to_string()));
        v.push(("Inode size", sb.s_inode_size.to_string()));
    }
    if sb.s_reserved_gdt_blocks != 0 {
        v.push(("Reserved GDT blocks", sb.s_reserved_gdt_blocks.to_string()));
    }
    if sb.s_hash_seed != [0; 4] {
        v.push((
            "Directory Hash Seed",
            sbm::hash_seed_string(&sb.s_hash_seed),
        ));
    }
    if sb.has_compat(ext2fs::features::compat::DIR_INDEX) || sb.s_def_hash_version != 0 {
        v.push((
            "Default directory hash",
            sbm::hash_version_name(sb.s_def_hash_version),
        ));
    }
    if sb.inode_size() > 128 && sb.s_rev_level >= 1 {
        v.push(("Required extra isize", sb.s_min_extra_isize.to_string()));
        v.push(("Desired extra isize", sb.s_want_extra_isize.to_string()));
    }
    v
}

/// The per-group lines of `dumpe2fs` as the library computes them.
fn our_group_table(fs: &Filesystem) -> Vec<String> {
    let g = fs.geo();
    let mut out = Vec::new();
    for (i, gd) in fs.groups().iter().enumerate() {
        let i = i as u32;
        let first = g.group_first_block(i);
        out.push(format!("Blocks {}-{}", first, g.group_last_block(i)));
        out.push(format!(
            "Block bitmap at {} (+{})",
            gd.bg_block_bitmap,
            gd.bg_block_bitmap as u64 - first
        ));
        out.push(format!(
            "Inode bitmap at {} (+{})",
            gd.bg_inode_bitmap,
            gd.bg_inode_bitmap as u64 - first
        ));
        out.push(format!(
            "Inode table at {}-{} (+{})",
            gd.bg_inode_table,
            gd.bg_inode_table + g.inode_table_blocks - 1,
            gd.bg_inode_table as u64 - first
        ));
        out.push(format!(
            "{} free blocks, {} free inodes, {} directories",
            gd.bg_free_blocks_count, gd.bg_free_inodes_count, gd.bg_used_dirs_count
        ));
    }
    out
}

/// The same facts picked out of the real dumpe2fs group listing.
fn real_group_table(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix("Group ") {
            // "Group 0: (Blocks 1-8192)"
            if let Some(b) = rest.split_once("(Blocks ") {
                out.push(format!(
                    "Blocks {}",
                    b.1.trim_end_matches(')').split(')').next().unwrap_or("")
                ));
            }
        } else if l.starts_with("Block bitmap at")
            || l.starts_with("Inode bitmap at")
            || l.starts_with("Inode table at")
        {
            // Drop checksums and ", csum" tails that ext2 never has.
            out.push(l.split(',').next().unwrap_or(l).trim().to_string());
        } else if l.contains("free blocks,") && l.contains("directories") {
            out.push(
                l.trim_end_matches('.')
                    .split(',')
                    .take(3)
                    .collect::<Vec<_>>()
                    .join(",")
                    .trim()
                    .to_string(),
            );
        }
    }
    out
}

fn check_image(img: &Path, what: &str) {
    let fs = Filesystem::open(img, &OpenOptions::default())
        .unwrap_or_else(|e| panic!("{what}: library cannot open: {e}"));
    let real = header_fields(&real_dumpe2fs(img, true));
    for (key, ours) in our_fields(fs.sb()) {
        let theirs = real
            .get(key)
            .unwrap_or_else(|| panic!("{what}: dumpe2fs has no '{key}'"));
        assert_eq!(&ours, theirs, "{what}: field '{key}'");
    }
    assert_eq!(
        our_group_table(&fs),
        real_group_table(&real_dumpe2fs(img, false)),
        "{what}: group table"
    );
}

#[test]
fn superblock_and_groups_match_dumpe2fs() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["-b", "1024"], "8M"),
        (&["-b", "2048"], "64M"),
        (&["-b", "4096"], "300M"),
        (&["-b", "1024", "-I", "128"], "20M"),
        (
            &["-b", "4096", "-I", "256", "-L", "lbl", "-M", "/mnt/x"],
            "64M",
        ),
        (&["-b", "1024", "-O", "^resize_inode"], "40M"),
        (&["-b", "1024", "-O", "^sparse_super,^resize_inode"], "40M"),
        (&["-b", "4096", "-O", "^filetype,^dir_index"], "64M"),
        (&["-b", "1024", "-O", "^ext_attr", "-g", "2048"], "30M"),
        (&["-r", "0", "-b", "1024"], "16M"),
        (&["-b", "4096", "-N", "100000", "-m", "1"], "1G"),
    ];
    for (i, (args, size)) in cases.iter().enumerate() {
        let img = dir.path().join(format!("{i}.img"));
        real_mkfs(&img, args, size);
        check_image(&img, &format!("mke2fs {} {size}", args.join(" ")));
    }
}

/// `debugfs -R "stat <N>"` fields against the library's inode.
#[test]
fn inode_fields_match_debugfs_stat() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("d/e")).unwrap();
    std::fs::write(src.join("d/file"), vec![b'x'; 70_000]).unwrap();
    std::os::unix::fs::symlink("d/file", src.join("link")).unwrap();
    for isize in ["128", "256"] {
        let img = dir.path().join(format!("i{isize}.img"));
        real_mkfs(
            &img,
            &["-b", "1024", "-I", isize, "-d", src.to_str().unwrap()],
            "8M",
        );
        let fs = Filesystem::open(&img, &OpenOptions::default()).unwrap();
        for path in ["/", "/d", "/d/e", "/d/file", "/link", "/lost+found"] {
            let ino = fs.namei(2, path).unwrap();
            let inode = fs.read_inode(ino).unwrap();
            let stat =
                String::from_utf8_lossy(&real_debugfs(&img, &format!("stat <{ino}>"))).into_owned();
            let want = [
                format!("Mode:  {:04o}", inode.mode() & 0o7777),
                format!("User: {:>5}", inode.uid()),
                format!("Group: {:>5}", inode.gid()),
                format!("Size: {}", inode.size()),
                format!("Links: {}", inode.base.i_links_count),
                format!("Blockcount: {}", inode.base.i_blocks),
                format!("Generation: {}", inode.base.i_generation),
                format!("Flags: 0x{:x}", inode.flags()),
            ];
            for w in want {
                assert!(
                    stat.contains(&w),
                    "-I {isize} {path}: want '{w}' in:\n{stat}"
                );
            }
            if isize == "256" {
                let w = format!("Size of extra inode fields: {}", inode.extra_isize());
                assert!(stat.contains(&w), "{path}: want '{w}' in:\n{stat}");
            }
            // The block list debugfs prints, from our block map walk.
            if fs.has_block_map(&inode) && inode.base.i_blocks > 0 {
                let blocks = fs.data_blocks(&inode).unwrap();
                let first = format!("(0):{}", blocks[0].1);
                let any_range = "(0-";
                assert!(
                    stat.contains(&first) || stat.contains(any_range),
                    "{path}: want block list starting at {} in:\n{stat}",
                    blocks[0].1
                );
            }
        }
    }
}

/// The resize inode the real mke2fs writes has exactly the layout the
/// library computes (and our builder reproduces its blocks).
#[test]
fn resize_inode_layout_matches_mke2fs() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (args, size) in [
        (&["-b", "1024"][..], "64M"),
        (&["-b", "4096"][..], "2G"),
        (&["-b", "1024", "-g", "1024"][..], "40M"),
    ] {
        let img = dir.path().join("r.img");
        real_mkfs(&img, args, size);
        let fs = Filesystem::open(&img, &OpenOptions::default()).unwrap();
        let ino = fs.read_inode(7).unwrap();
        let problems = ext2fs::resize_inode::verify(fs.geo(), &ino, |b| fs.read_block(b as u64));
        assert!(problems.is_empty(), "{args:?}: {problems:?}");
        let dind = ino.base.i_block[ext2fs::inode::DIND_BLOCK];
        let (built, blocks) =
            ext2fs::resize_inode::build(fs.geo(), dind, ino.base.i_ctime, fs.sb().inode_size());
        assert_eq!(built.base.i_blocks, ino.base.i_blocks, "{args:?}: i_blocks");
        assert_eq!(built.size(), ino.size(), "{args:?}: i_size");
        assert_eq!(built.base.i_mode, ino.base.i_mode);
        for (b, contents) in blocks {
            assert_eq!(
                fs.read_block(b as u64).unwrap(),
                contents,
                "{args:?}: block {b}"
            );
        }
    }
}
