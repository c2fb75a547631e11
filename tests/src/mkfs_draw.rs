//! Random mke2fs option sets for the mke2fs differential: command-line
//! options, `-E` options, the device's sector sizes from the environment
//! and, now and then, a mke2fs.conf of its own (fs_types stanzas and
//! [defaults] settings), all drawn from one seeded generator.

use crate::mkfs_pair::{Case, BAD_BLOCKS_FILE, UNDO_FILE};
use crate::Lcg;

/// One random option set of the whole space.
pub fn draw(r: &mut Lcg) -> Case {
    let case = draw_basic(r);
    more_options(r, case)
}

/// One random option set of the first generator's space (what the
/// e2fsck and debugfs differentials make their inputs with: unchanged,
/// so that their seeds keep their cases).
pub fn draw_basic(r: &mut Lcg) -> Case {
    let mut args: Vec<String> = vec!["-t".into(), "ext2".into()];
    let mut push = |a: &str, v: String| {
        args.push(a.into());
        args.push(v);
    };
    let bs: Option<u32> = r
        .chance(60)
        .then(|| [1024, 2048, 4096][(r.next_u64() % 3) as usize]);
    if let Some(b) = bs {
        push("-b", b.to_string());
    }
    let rev0 = r.chance(8);
    if rev0 {
        push("-r", "0".into());
    } else {
        if r.chance(30) {
            push("-I", r.pick(&["128", "256", "512", "1024"]).into());
        }
        if r.chance(35) {
            let n = 1 + r.next_u64() % 3;
            let list: Vec<&str> = (0..n).map(|_| r.pick(&FEATURE_EDITS)).collect();
            push("-O", list.join(","));
        }
    }
    if r.chance(30) {
        push("-i", (1024u64 << (r.next_u64() % 7)).to_string());
    } else if r.chance(15) {
        push("-N", (16 + r.next_u64() % 20000).to_string());
    }
    if r.chance(30) {
        push("-m", (r.next_u64() % 11).to_string());
    }
    if r.chance(25) {
        let b = bs.unwrap_or(1024) as u64;
        push(
            "-g",
            (256 + 8 * (r.next_u64() % ((8 * b - 256) / 8 + 1))).to_string(),
        );
    }
    if r.chance(15) {
        push("-o", r.pick(&["Linux", "hurd", "FreeBSD", "lites"]).into());
    }
    if r.chance(25) {
        push(
            "-T",
            r.pick(&[
                "small",
                "floppy",
                "news",
                "largefile",
                "big",
                "huge",
                "default",
            ])
            .into(),
        );
    }
    if r.chance(10) {
        push("-L", r.pick(&["label", "a-much-longer-label-text"]).into());
    }
    if r.chance(10) {
        push("-e", r.pick(&["continue", "remount-ro", "panic"]).into());
    }
    // Mostly small (fast), sometimes up to 1 GiB (4 KiB blocks, "default").
    let size_kib = match r.next_u64() % 10 {
        0..=3 => 64 + r.next_u64() % 4096,
        4..=7 => 4096 + r.next_u64() % 65536,
        8 => 65536 + r.next_u64() % (448 << 10),
        _ => (512 << 10) + r.next_u64() % (512 << 10),
    };
    let mut case = Case::new(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        Some(&format!("{size_kib}k")),
    )
    .env("E2FSPROGS_SKIP_PROGRESS", "1");
    if r.chance(30) {
        case = case.extended(&format!("stride={}", 1 + r.next_u64() % 64));
    }
    if r.chance(20) {
        case = case.extended(&format!("stripe_width={}", 1 + r.next_u64() % 256));
    }
    if r.chance(15) {
        case = case.extended(&format!(
            "root_owner={}:{}",
            r.next_u64() % 70000,
            r.next_u64() % 70000
        ));
    }
    if r.chance(20) {
        case = case.extended(r.pick(&["lazy_itable_init=0", "lazy_itable_init=1", "nodiscard"]));
    }
    case
}

const FEATURE_EDITS: [&str; 10] = [
    "^resize_inode",
    "^dir_index",
    "^ext_attr",
    "^filetype",
    "^sparse_super",
    "large_file",
    "^large_file",
    "sparse_super2",
    "meta_bg",
    "meta_bg,^resize_inode",
];

/// The options added since the first generator: repeated -o, -m
/// fractions, odd labels, -q/-v/-n/-z, -G, -E offset, sector sizes, a
/// conf.
fn more_options(r: &mut Lcg, mut case: Case) -> Case {
    let mut more: Vec<String> = Vec::new();
    if r.chance(8) {
        // Repeated -o: the last one wins.
        for _ in 0..2 {
            more.push("-o".into());
            more.push(r.pick(&["Linux", "hurd", "GNU", "FreeBSD", "lites"]).into());
        }
    }
    if r.chance(10) {
        more.push("-m".into());
        more.push(format!("{}.{}", r.below(20), r.below(1000)));
    }
    if r.chance(10) {
        more.push("-L".into());
        more.push(r.pick(&ODD_STRINGS).into());
    }
    if r.chance(10) {
        more.push("-M".into());
        more.push(r.pick(&ODD_STRINGS).into());
    }
    if r.chance(10) {
        more.push(r.pick(&["-q", "-v"]).into());
    }
    if r.chance(3) {
        more.push("-n".into());
    }
    if r.chance(5) {
        more.push("-z".into());
        more.push(UNDO_FILE.into());
    }
    if r.chance(4) {
        // -G: checked, then refused without flex_bg (ext2 has none).
        more.push("-G".into());
        more.push(r.pick(&["16", "0x4", "3", "0", "x", "4294967296"]).into());
    }
    case.args.extend(more);
    if r.chance(10) {
        // A byte offset: an image that starts past a partition table, or
        // one not block-aligned.
        let off = if r.chance(50) {
            512 * (1 + r.below(4096))
        } else {
            1 + r.below(1 << 20)
        };
        case = case.extended(&format!("offset={off}"));
    }
    if r.chance(10) {
        let logical = *r.pick(&[&512u32, &1024, &2048, &4096]);
        case = case.env("MKE2FS_DEVICE_SECTSIZE", &logical.to_string());
        if r.chance(50) {
            let physical = logical << r.below(4);
            case = case.env("MKE2FS_DEVICE_PHYS_SECTSIZE", &physical.to_string());
        }
    }
    if r.chance(25) {
        let (text, types) = config(r);
        case = case.config(&text);
        if !types.is_empty() && r.chance(60) {
            // Our own usage types, perhaps after one the conf lacks.
            let mut t = types;
            if r.chance(20) {
                t.insert(0, "undefined".into());
            }
            case.args.push("-T".into());
            case.args.push(t.join(","));
        }
    }
    // Drawn last, so each case's earlier draws stay what they were.
    if r.chance(6) {
        case = bad_blocks_list(r, case);
    }
    case
}

/// `-l FILE`: a few block numbers, mostly inside the filesystem (data
/// blocks, sometimes the primary superblock or a backup's group),
/// sometimes past its end, and now and then a line that is no number.
fn bad_blocks_list(r: &mut Lcg, mut case: Case) -> Case {
    let kib = case
        .size
        .as_deref()
        .and_then(|s| s.strip_suffix('k'))
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(4096);
    let lines: Vec<String> = (0..1 + r.below(4))
        .map(|_| match r.below(8) {
            0 => r.below(3).to_string(),
            1 => (8193 + r.below(3)).to_string(),
            2 => (kib + r.below(kib)).to_string(),
            3 => "junk".into(),
            _ => r.below(kib / 4 + 1).to_string(),
        })
        .collect();
    case.bad_blocks = Some(lines.join("\n") + "\n");
    case.args.push("-l".into());
    case.args.push(BAD_BLOCKS_FILE.into());
    case
}

/// Labels and mount points: empty, blanks, tabs, non-ASCII, too long.
const ODD_STRINGS: [&str; 8] = [
    "",
    "with blank",
    "tab\there",
    "ünïcödé-läbel",
    "exactly16bytes!!",
    "seventeen-bytes!!",
    "/a/very/long/last/mounted/directory/that/goes/past/sixty/four/bytes/for/sure",
    "-",
];

/// A mke2fs.conf of random [defaults] and [fs_types] settings, and the
/// usage types it defines beyond the size ones.
fn config(r: &mut Lcg) -> (String, Vec<String>) {
    let mut text = String::from("[defaults]\n");
    for (k, v) in settings(r, true) {
        text.push_str(&format!("\t{k} = {v}\n"));
    }
    text.push_str("\n[fs_types]\n");
    let mut own = Vec::new();
    for name in [
        "ext2", "small", "floppy", "default", "big", "news", "t1", "t2",
    ] {
        if !r.chance(35) {
            continue;
        }
        text.push_str(&format!("\t{name} = {{\n"));
        for (k, v) in settings(r, false) {
            text.push_str(&format!("\t\t{k} = {v}\n"));
        }
        text.push_str("\t}\n");
        if name.starts_with('t') || name == "news" {
            own.push(name.to_string());
        }
    }
    (text, own)
}

/// Some of the settings mke2fs reads from [defaults] or an fs_type.
fn settings(r: &mut Lcg, defaults: bool) -> Vec<(&'static str, String)> {
    let mut s: Vec<(&'static str, String)> = Vec::new();
    let mut set = |r: &mut Lcg, pct: u64, k: &'static str, v: &dyn Fn(&mut Lcg) -> String| {
        if r.chance(pct) {
            let val = v(r);
            s.push((k, val));
        }
    };
    let feats = |r: &mut Lcg| {
        let n = 1 + r.below(3);
        (0..n)
            .map(|_| r.pick(&FEATURE_EDITS))
            .collect::<Vec<_>>()
            .join(",")
    };
    if defaults {
        set(r, 70, "base_features", &|r| {
            let mut v = vec!["sparse_super", "filetype", "resize_inode", "dir_index"];
            v.retain(|_| r.chance(85));
            for f in ["ext_attr", "large_file"] {
                if r.chance(60) {
                    v.push(f);
                }
            }
            v.join(",")
        });
        set(r, 15, "default_features", &feats);
        set(r, 10, "creator_os", &|r| {
            r.pick(&["Linux", "hurd", "FreeBSD"]).into()
        });
    } else {
        set(r, 40, "features", &feats);
    }
    set(r, 40, "blocksize", &|r| {
        r.pick(&["1024", "2048", "4096", "-1", "0x400", "bogus"])
            .into()
    });
    set(r, 40, "inode_ratio", &|r| {
        (1024u64 << r.below(8)).to_string()
    });
    set(r, 30, "inode_size", &|r| {
        r.pick(&["128", "256", "512", "1024"]).into()
    });
    set(r, 25, "reserved_ratio", &|r| {
        r.pick(&["0", "1", "2.5", "0.1", "7.25", "10"]).into()
    });
    set(r, 20, "default_mntopts", &|r| {
        r.pick(&[
            "acl,user_xattr",
            "^acl",
            "^user_xattr",
            "acl",
            "user_xattr,^acl",
            "+debug,-acl",
        ])
        .into()
    });
    set(r, 15, "errors", &|r| {
        r.pick(&["continue", "remount-ro", "panic"]).into()
    });
    set(r, 15, "hash_alg", &|r| {
        r.pick(&["legacy", "half_md4", "tea"]).into()
    });
    set(r, 10, "flex_bg_size", &|r| (1u64 << r.below(6)).to_string());
    set(r, 20, "lazy_itable_init", &|r| {
        r.pick(&["true", "false", "0", "1", "yes", "Off"]).into()
    });
    set(r, 10, "cluster_size", &|r| {
        (16384u64 << r.below(3)).to_string()
    });
    set(r, 20, "enable_periodic_fsck", &|r| {
        r.pick(&["true", "false", "1"]).into()
    });
    set(r, 10, "warn_y2038_dates", &|r| {
        r.pick(&["true", "false"]).into()
    });
    set(r, 10, "discard", &|r| r.pick(&["true", "false"]).into());
    s
}
