//! Whole-filesystem requests: open/close, params, stats, features,
//! set_super_value, set_bg, dirty.

use std::io::Write;

use anyhow::{anyhow, bail, Result};
use ext2fs::features::{self, incompat};
use ext2fs::superblock::{self as sbm, Superblock};

use crate::format::time_string;
use crate::session::{num32_arg, num_arg, parse_u64, OpenRequest, Session};
use crate::table::{getopt, usage_check};

pub fn params(s: &mut Session, _: &[String]) -> Result<()> {
    let rw = s.fs.as_ref().is_some_and(|f| f.is_writable());
    writeln!(
        s.out,
        "Open mode: read-{}",
        if rw { "write" } else { "only" }
    )?;
    let dev = s.device.clone().unwrap_or_else(|| "--none--".into());
    writeln!(s.out, "Filesystem in use: {dev}")?;
    Ok(())
}

pub fn open(s: &mut Session, args: &[String]) -> Result<()> {
    let (opts, rest) = getopt(args, "iwfecb:s:d:Dz:")?;
    usage_check(
        &rest,
        1,
        1,
        "open [-s superblock] [-b blocksize] [-d image_filename] [-z undo_file] [-c] [-i] [-f] [-e] [-D] [-w] <device>",
    )?;
    let mut req = OpenRequest::default();
    for (c, v) in opts {
        match c {
            'w' => req.write = true,
            'c' => req.catastrophic = true,
            'f' => req.force = true,
            'b' => req.block_size = Some(num32_arg("block size", &v)?),
            's' => req.superblock = Some(num_arg("superblock block number", &v)?),
            _ => {}
        }
    }
    if req.superblock.is_some() && req.block_size.is_none() {
        bail!("if you specify the superblock, you must also specify the block size");
    }
    if req.catastrophic {
        req.write = false;
    }
    s.open(&rest[0], &req)
}

pub fn close(s: &mut Session, args: &[String]) -> Result<()> {
    let (opts, rest) = getopt(args, "a")?;
    usage_check(&rest, 0, 0, "close_filesys [-a]")?;
    s.close_with_backups(opts.iter().any(|(c, _)| *c == 'a'))
}

pub fn dirty(s: &mut Session, _: &[String]) -> Result<()> {
    s.fs_rw()?.mark_super_dirty();
    Ok(())
}

pub fn feature(s: &mut Session, args: &[String]) -> Result<()> {
    if args.len() > 1 {
        let fs = s.fs_rw()?;
        let mut set = fs.sb().features();
        for a in &args[1..] {
            set.apply_edit(a)
                .map_err(|_| anyhow!("Unknown feature: {a}"))?;
        }
        if set.incompat & incompat::WHITEOUT != 0 && set.incompat & incompat::FILETYPE == 0 {
            bail!("the whiteout feature needs filetype");
        }
        fs.update_superblock(|sb| sb.set_features(set));
    }
    let list = s.fs()?.sb().features().names();
    let mut line = "Filesystem features:".to_string();
    if list.is_empty() {
        line.push_str("(none)");
    }
    for n in list {
        line.push(' ');
        line.push_str(&n);
    }
    writeln!(s.out, "{line}")?;
    Ok(())
}

pub fn stats(s: &mut Session, args: &[String]) -> Result<()> {
    let (opts, rest) = getopt(args, "h")?;
    usage_check(&rest, 0, 0, "show_super_stats [-h]")?;
    let header_only = !opts.is_empty();
    let fs = s.fs()?;
    let mut text = list_super(fs.sb());
    let dirs: u32 = fs
        .groups()
        .iter()
        .map(|g| g.bg_used_dirs_count as u32)
        .sum();
    text.push_str(&format!("Directories:              {dirs}\n"));
    if !header_only {
        let csum = fs.sb().has_ro_compat(features::ro_compat::GDT_CSUM);
        for (i, g) in fs.groups().iter().enumerate() {
            let pl =
                |n: u16, one: &'static str, many: &'static str| if n != 1 { many } else { one };
            text.push_str(&format!(
                " Group {i:2}: block bitmap at {}, inode bitmap at {}, inode table at {}\n           {} free {}, {} free {}, {} used {}{}",
                g.bg_block_bitmap,
                g.bg_inode_bitmap,
                g.bg_inode_table,
                g.bg_free_blocks_count,
                pl(g.bg_free_blocks_count, "block", "blocks"),
                g.bg_free_inodes_count,
                pl(g.bg_free_inodes_count, "inode", "inodes"),
                g.bg_used_dirs_count,
                pl(g.bg_used_dirs_count, "directory", "directories"),
                if csum { ", " } else { "\n" }
            ));
            if csum {
                text.push_str(&format!(
                    "{} unused {}\n",
                    g.bg_itable_unused,
                    pl(g.bg_itable_unused, "inode", "inodes")
                ));
            }
            let mut first = true;
            let mut opt = |text: &mut String, s: &str| {
                text.push_str(if first { "           [" } else { ", " });
                text.push_str(s);
                first = false;
            };
            if g.bg_flags & 1 != 0 {
                opt(&mut text, "Inode not init");
            }
            if g.bg_flags & 2 != 0 {
                opt(&mut text, "Block not init");
            }
            if csum {
                opt(&mut text, &format!("Checksum 0x{:04x}", g.bg_checksum));
            }
            if !first {
                text.push_str("]\n");
            }
        }
    }
    s.out.write_all(text.as_bytes())?;
    Ok(())
}

fn interval_string(mut secs: u32) -> String {
    if secs == 0 {
        return "<none>".into();
    }
    const DAY: u32 = 86400;
    let mut parts = Vec::new();
    for (len, unit) in [(DAY * 30, "month"), (DAY * 7, "week"), (DAY, "day")] {
        if secs >= len {
            let n = secs / len;
            secs -= n * len;
            parts.push(format!("{n} {unit}{}", if n > 1 { "s" } else { "" }));
        }
    }
    if secs > 0 {
        parts.push(format!(
            "{}:{:02}:{:02}",
            secs / 3600,
            secs % 3600 / 60,
            secs % 60
        ));
    }
    parts.join(", ")
}

/// The name of a user or group id from /etc/passwd or /etc/group.
fn id_name(file: &str, id: u16) -> String {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2].parse::<u32>().ok() == Some(id as u32))
                    .then(|| f[0].to_string())
            })
        })
        .unwrap_or_else(|| "unknown".into())
}

fn mntopt_names(v: u32) -> String {
    const NAMES: &[(u32, &str)] = &[
        (0x0001, "debug"),
        (0x0002, "bsdgroups"),
        (0x0004, "user_xattr"),
        (0x0008, "acl"),
        (0x0010, "uid16"),
        (0x0100, "nobarrier"),
        (0x0200, "block_validity"),
        (0x0400, "discard"),
        (0x0800, "nodelalloc"),
    ];
    let mut out = Vec::new();
    for bit in 0..32 {
        let m = 1u32 << bit;
        if v & m == 0 || m & 0x60 != 0 {
            continue;
        }
        match NAMES.iter().find(|(b, _)| *b == m) {
            Some((_, n)) => out.push(n.to_string()),
            None => out.push(format!("MNTOPT_{bit}")),
        }
    }
    match v & 0x60 {
        0x20 => out.push("journal_data".into()),
        0x40 => out.push("journal_data_ordered".into()),
        0x60 => out.push("journal_data_writeback".into()),
        _ => {}
    }
    if out.is_empty() {
        " (none)".into()
    } else {
        out.iter().map(|n| format!(" {n}")).collect()
    }
}

/// The superblock as dumpe2fs -h / debugfs stats list it.
pub fn list_super(sb: &Superblock) -> String {
    let mut o = String::new();
    let mut line = |k: &str, v: String| o.push_str(&format!("{:<26}{v}\n", format!("{k}:")));
    let label = sb.label();
    line(
        "Filesystem volume name",
        if label.is_empty() {
            "<none>".into()
        } else {
            label
        },
    );
    let lm = sb.last_mounted();
    line(
        "Last mounted on",
        if lm.is_empty() {
            "<not available>".into()
        } else {
            lm
        },
    );
    line("Filesystem UUID", shown_uuid(&sb.s_uuid));
    line("Filesystem magic number", format!("0x{:04X}", sb.s_magic));
    line(
        "Filesystem revision #",
        format!(
            "{} ({})",
            sb.s_rev_level,
            match sb.s_rev_level {
                0 => "original",
                1 => "dynamic",
                _ => "unknown",
            }
        ),
    );
    let f = sb.features().names();
    o.push_str("Filesystem features:     ");
    if f.is_empty() {
        o.push_str(" (none)");
    }
    for n in f {
        o.push(' ');
        o.push_str(&n);
    }
    o.push('\n');
    let mut line = |k: &str, v: String| o.push_str(&format!("{:<26}{v}\n", format!("{k}:")));
    if sb.s_flags & 7 != 0 {
        let mut v = String::new();
        for (bit, name) in [
            (sbm::FLAGS_SIGNED_HASH, "signed_directory_hash "),
            (sbm::FLAGS_UNSIGNED_HASH, "unsigned_directory_hash "),
            (sbm::FLAGS_TEST_FILESYS, "test_filesystem "),
        ] {
            if sb.s_flags & bit != 0 {
                v.push_str(name);
            }
        }
        line("Filesystem flags", v);
    }
    o.push_str(&format!(
        "Default mount options:   {}\n",
        mntopt_names(sb.s_default_mount_opts)
    ));
    let mut line = |k: &str, v: String| o.push_str(&format!("{:<26}{v}\n", format!("{k}:")));
    let mo = sbm::c_string(&sb.s_mount_opts);
    if !mo.is_empty() {
        line("Mount options", mo);
    }
    line("Filesystem state", sbm::state_name(sb.s_state));
    line("Errors behavior", sbm::errors_behavior_name(sb.s_errors));
    line("Filesystem OS type", sbm::os_name(sb.s_creator_os));
    line("Inode count", sb.s_inodes_count.to_string());
    line("Block count", sb.s_blocks_count.to_string());
    line("Reserved block count", sb.s_r_blocks_count.to_string());
    if sb.s_overhead_clusters != 0 {
        line("Overhead clusters", sb.s_overhead_clusters.to_string());
    }
    line("Free blocks", sb.s_free_blocks_count.to_string());
    line("Free inodes", sb.s_free_inodes_count.to_string());
    line("First block", sb.s_first_data_block.to_string());
    line("Block size", sb.block_size().to_string());
    let bigalloc = sb.has_ro_compat(features::ro_compat::BIGALLOC);
    line(
        if bigalloc {
            "Cluster size"
        } else {
            "Fragment size"
        },
        (1024u64 << sb.s_log_cluster_size.min(30)).to_string(),
    );
    if sb.has_incompat(incompat::BIT64) {
        line("Group descriptor size", sb.s_desc_size.to_string());
    }
    if sb.s_reserved_gdt_blocks != 0 {
        line("Reserved GDT blocks", sb.s_reserved_gdt_blocks.to_string());
    }
    line("Blocks per group", sb.s_blocks_per_group.to_string());
    line(
        if bigalloc {
            "Clusters per group"
        } else {
            "Fragments per group"
        },
        sb.s_clusters_per_group.to_string(),
    );
    line("Inodes per group", sb.s_inodes_per_group.to_string());
    line(
        "Inode blocks per group",
        (sb.s_inodes_per_group as u64 * sb.inode_size() as u64)
            .div_ceil(sb.block_size() as u64)
            .to_string(),
    );
    if sb.s_raid_stride != 0 {
        line("RAID stride", sb.s_raid_stride.to_string());
    }
    if sb.s_raid_stripe_width != 0 {
        line("RAID stripe width", sb.s_raid_stripe_width.to_string());
    }
    if sb.has_incompat(incompat::META_BG) {
        line("First meta block group", sb.s_first_meta_bg.to_string());
    }
    if sb.s_log_groups_per_flex != 0 {
        line(
            "Flex block group size",
            (1u64 << sb.s_log_groups_per_flex.min(31)).to_string(),
        );
    }
    let t = |lo: u32, hi: u8| lo as i64 | ((hi as i64) << 32);
    if sb.s_mkfs_time != 0 {
        line(
            "Filesystem created",
            time_string(t(sb.s_mkfs_time, sb.s_mkfs_time_hi)),
        );
    }
    line(
        "Last mount time",
        if sb.s_mtime == 0 {
            "n/a".into()
        } else {
            time_string(t(sb.s_mtime, sb.s_mtime_hi))
        },
    );
    line("Last write time", time_string(t(sb.s_wtime, sb.s_wtime_hi)));
    line("Mount count", sb.s_mnt_count.to_string());
    line(
        "Maximum mount count",
        (sb.s_max_mnt_count as i16).to_string(),
    );
    let lastcheck = t(sb.s_lastcheck, sb.s_lastcheck_hi);
    line("Last checked", time_string(lastcheck));
    line(
        "Check interval",
        format!(
            "{} ({})",
            sb.s_checkinterval,
            interval_string(sb.s_checkinterval)
        ),
    );
    if sb.s_checkinterval != 0 {
        line(
            "Next check after",
            time_string(lastcheck + sb.s_checkinterval as i64),
        );
    }
    if sb.s_kbytes_written != 0 {
        let k = sb.s_kbytes_written;
        let v = if k < 8192 {
            format!("{k} kB")
        } else if k < 8192 << 10 {
            format!("{} MB", (k + 512) >> 10)
        } else if k < 8192 << 20 {
            format!("{} GB", (k + (1 << 19)) >> 20)
        } else {
            format!("{} TB", (k + (1 << 29)) >> 30)
        };
        line("Lifetime writes", v);
    }
    line(
        "Reserved blocks uid",
        format!(
            "{} (user {})",
            sb.s_def_resuid,
            id_name("/etc/passwd", sb.s_def_resuid)
        ),
    );
    line(
        "Reserved blocks gid",
        format!(
            "{} (group {})",
            sb.s_def_resgid,
            id_name("/etc/group", sb.s_def_resgid)
        ),
    );
    if sb.s_rev_level >= 1 {
        line("First inode", sb.s_first_ino.to_string());
        o.push_str(&format!("Inode size:\t          {}\n", sb.s_inode_size));
        let mut line = |k: &str, v: String| o.push_str(&format!("{:<26}{v}\n", format!("{k}:")));
        if sb.s_min_extra_isize != 0 {
            line("Required extra isize", sb.s_min_extra_isize.to_string());
        }
        if sb.s_want_extra_isize != 0 {
            line("Desired extra isize", sb.s_want_extra_isize.to_string());
        }
    }
    let mut line = |k: &str, v: String| o.push_str(&format!("{:<26}{v}\n", format!("{k}:")));
    if sb.s_journal_uuid != [0; 16] {
        line("Journal UUID", sbm::uuid_string(&sb.s_journal_uuid));
    }
    if sb.s_journal_inum != 0 {
        line("Journal inode", sb.s_journal_inum.to_string());
    }
    if sb.s_last_orphan != 0 {
        line("First orphan inode", sb.s_last_orphan.to_string());
    }
    if sb.has_compat(features::compat::DIR_INDEX) || sb.s_def_hash_version != 0 {
        line(
            "Default directory hash",
            sbm::hash_version_name(sb.s_def_hash_version),
        );
    }
    if sb.s_hash_seed != [0; 4] {
        line(
            "Directory Hash Seed",
            sbm::hash_seed_string(&sb.s_hash_seed),
        );
    }
    if sb.s_jnl_backup_type != 0 {
        let v = match sb.s_jnl_backup_type {
            1 => "inode blocks".to_string(),
            t => format!("type {t}"),
        };
        line("Journal backup", v);
    }
    // sparse_super2 names its (at most two) backup groups; each is
    // followed by a space, as e2p's list_super prints them.
    if sb.s_backup_bgs != [0, 0] {
        let groups: String = sb
            .s_backup_bgs
            .iter()
            .filter(|&&g| g != 0)
            .map(|g| format!("{g} "))
            .collect();
        line("Backup block groups", groups);
    }
    if sb.s_error_count != 0 {
        line("FS Error count", sb.s_error_count.to_string());
    }
    o
}

/// A UUID as e2p prints it: all zeroes is `<none>`.
fn shown_uuid(u: &[u8; 16]) -> String {
    if *u == [0; 16] {
        "<none>".to_string()
    } else {
        sbm::uuid_string(u)
    }
}

/// `ssv -l`: the fields set_super_value knows, with their types.
const SUPER_FIELDS: &[(&str, &str)] = &[
    ("inodes_count", "unsigned integer"),
    ("blocks_count[_hi|_lo]", "unsigned integer"),
    ("r_blocks_count[_hi|_lo]", "unsigned integer"),
    ("free_blocks_count[_hi|_lo]", "unsigned integer"),
    ("free_inodes_count", "unsigned integer"),
    ("first_data_block", "unsigned integer"),
    ("log_block_size", "unsigned integer"),
    ("log_cluster_size", "integer"),
    ("blocks_per_group", "unsigned integer"),
    ("clusters_per_group", "unsigned integer"),
    ("inodes_per_group", "unsigned integer"),
    ("mtime", "date/time"),
    ("wtime", "date/time"),
    ("mnt_count", "unsigned integer"),
    ("max_mnt_count", "integer"),
    ("state", "unsigned integer"),
    ("errors", "unsigned integer"),
    ("minor_rev_level", "unsigned integer"),
    ("lastcheck", "date/time"),
    ("checkinterval", "unsigned integer"),
    ("creator_os", "unsigned integer"),
    ("rev_level", "unsigned integer"),
    ("def_resuid", "unsigned integer"),
    ("def_resgid", "unsigned integer"),
    ("first_ino", "unsigned integer"),
    ("inode_size", "unsigned integer"),
    ("block_group_nr", "unsigned integer"),
    ("feature_compat", "unsigned integer"),
    ("feature_incompat", "unsigned integer"),
    ("feature_ro_compat", "unsigned integer"),
    ("uuid", "UUID"),
    ("volume_name", "string"),
    ("last_mounted", "string"),
    ("algorithm_usage_bitmap", "unsigned integer"),
    ("prealloc_blocks", "unsigned integer"),
    ("prealloc_dir_blocks", "unsigned integer"),
    ("reserved_gdt_blocks", "unsigned integer"),
    ("journal_uuid", "UUID"),
    ("journal_inum", "unsigned integer"),
    ("journal_dev", "unsigned integer"),
    ("last_orphan", "unsigned integer"),
    ("hash_seed", "UUID"),
    ("def_hash_version", "hash algorithm"),
    ("jnl_backup_type", "unsigned integer"),
    ("desc_size", "unsigned integer"),
    ("default_mount_opts", "unsigned integer"),
    ("first_meta_bg", "unsigned integer"),
    ("mkfs_time", "date/time"),
    ("jnl_blocks[17]", "unsigned integer"),
    ("min_extra_isize", "unsigned integer"),
    ("want_extra_isize", "unsigned integer"),
    ("flags", "unsigned integer"),
    ("raid_stride", "unsigned integer"),
    ("mmp_interval", "unsigned integer"),
    ("mmp_block", "unsigned integer"),
    ("raid_stripe_width", "unsigned integer"),
    ("log_groups_per_flex", "unsigned integer"),
    ("kbytes_written", "unsigned integer"),
    ("snapshot_inum", "unsigned integer"),
    ("snapshot_id", "unsigned integer"),
    ("snapshot_r_blocks_count", "unsigned integer"),
    ("snapshot_list", "unsigned integer"),
    ("mount_opts", "string"),
    ("usr_quota_inum", "unsigned integer"),
    ("grp_quota_inum", "unsigned integer"),
    ("prj_quota_inum", "unsigned integer"),
    ("overhead_clusters", "unsigned integer"),
    ("backup_bgs[2]", "unsigned integer"),
    ("checksum", "unsigned integer"),
    ("checksum_type", "unsigned integer"),
    ("encryption_level", "unsigned integer"),
    ("error_count", "unsigned integer"),
    ("first_error_time", "date/time"),
    ("first_error_ino", "unsigned integer"),
    ("first_error_block", "unsigned integer"),
    ("first_error_func", "string"),
    ("first_error_line", "unsigned integer"),
    ("last_error_time", "date/time"),
    ("last_error_ino", "unsigned integer"),
    ("last_error_block", "unsigned integer"),
    ("last_error_func", "string"),
    ("last_error_line", "unsigned integer"),
    ("encrypt_algos[4]", "unsigned integer"),
    ("encrypt_pw_salt", "UUID"),
    ("lpf_ino", "unsigned integer"),
    ("checksum_seed", "unsigned integer"),
    ("encoding", "unknown"),
    ("orphan_file_inum", "unsigned integer"),
];

/// Parses a date/time value: a number of seconds, `now`, or
/// YYYYMMDD[HHMM[SS]] (UTC), like debugfs' string_to_time.
/// set_current_time: the time this session's changes are stamped with
/// (inode times, dtime, the superblock's write time), as debugfs' fs->now.
pub fn set_current_time(s: &mut Session, args: &[String]) -> Result<()> {
    let (_, rest) = getopt(args, "")?;
    usage_check(&rest, 1, 1, "set_current_time <time>")?;
    let fs = s.fs_mut()?;
    let t = parse_time(&rest[0])
        .map_err(|_| anyhow!("Couldn't parse argument as a time: {}\n", rest[0]))?;
    fs.set_fixed_time(Some(t as u32));
    writeln!(s.out, "Setting current time to {}\n", time_string(t))?;
    Ok(())
}

pub fn parse_time(v: &str) -> Result<i64> {
    if v == "now" {
        return Ok(i64::from(ext2fs::clock::now()));
    }
    if let Some(n) = v.strip_prefix('@') {
        return n
            .parse()
            .map_err(|_| anyhow!("Couldn't parse '{v}' as a time"));
    }
    if v.len() >= 8 && v.chars().all(|c| c.is_ascii_digit()) {
        let fmt = match v.len() {
            8 => "%Y%m%d%H%M%S",
            12 => "%Y%m%d%H%M%S",
            14 => "%Y%m%d%H%M%S",
            _ => "",
        };
        let padded = format!("{v:0<14}");
        if !fmt.is_empty() {
            if let Ok(d) = chrono::NaiveDateTime::parse_from_str(&padded, fmt) {
                return Ok(d.and_utc().timestamp());
            }
        }
    }
    parse_u64(v)
        .map(|n| n as i64)
        .ok_or_else(|| anyhow!("Couldn't parse '{v}' as a time"))
}

/// A UUID field's value as debugfs takes it: null/clear, random, time or
/// the 8-4-4-4-12 form.
fn parse_uuid(v: &str) -> Result<[u8; 16]> {
    ext2fs::uuid::from_arg(v, u64::from(ext2fs::clock::now()))
        .ok_or_else(|| anyhow!("Invalid UUID format: {v}"))
}

/// Sets one superblock field by its debugfs name. Returns false for a
/// name this table does not know.
fn set_super_field(sb: &mut Superblock, name: &str, v: &str) -> Result<bool> {
    let u = || num_arg("value", v);
    let u32v = || -> Result<u32> {
        u().and_then(|n| u32::try_from(n).map_err(|_| anyhow!("Invalid value {v}")))
    };
    let u16v = || -> Result<u16> {
        u().and_then(|n| u16::try_from(n).map_err(|_| anyhow!("Invalid value {v}")))
    };
    let u8v = || -> Result<u8> {
        u().and_then(|n| u8::try_from(n).map_err(|_| anyhow!("Invalid value {v}")))
    };
    let i16v = || -> Result<u16> {
        let n: i64 = v.parse().map_err(|_| anyhow!("Invalid value {v}"))?;
        i16::try_from(n)
            .map(|x| x as u16)
            .map_err(|_| anyhow!("Invalid value {v}"))
    };
    let tv = || -> Result<u32> { Ok(parse_time(v)? as u32) };
    match name {
        "inodes_count" => sb.s_inodes_count = u32v()?,
        "blocks_count" | "blocks_count_lo" => sb.s_blocks_count = u32v()?,
        "blocks_count_hi" => sb.s_blocks_count_hi = u32v()?,
        "r_blocks_count" | "r_blocks_count_lo" => sb.s_r_blocks_count = u32v()?,
        "r_blocks_count_hi" => sb.s_r_blocks_count_hi = u32v()?,
        "free_blocks_count" | "free_blocks_count_lo" => sb.s_free_blocks_count = u32v()?,
        "free_blocks_count_hi" => sb.s_free_blocks_hi = u32v()?,
        "free_inodes_count" => sb.s_free_inodes_count = u32v()?,
        "first_data_block" => sb.s_first_data_block = u32v()?,
        "log_block_size" => sb.s_log_block_size = u32v()?,
        "log_cluster_size" => {
            sb.s_log_cluster_size =
                v.parse::<i32>().map_err(|_| anyhow!("Invalid value {v}"))? as u32
        }
        "blocks_per_group" => sb.s_blocks_per_group = u32v()?,
        "clusters_per_group" => sb.s_clusters_per_group = u32v()?,
        "inodes_per_group" => sb.s_inodes_per_group = u32v()?,
        "mtime" => sb.s_mtime = tv()?,
        "wtime" => sb.s_wtime = tv()?,
        "mnt_count" => sb.s_mnt_count = u16v()?,
        "max_mnt_count" => sb.s_max_mnt_count = i16v()?,
        "state" => sb.s_state = u16v()?,
        "errors" => sb.s_errors = u16v()?,
        "minor_rev_level" => sb.s_minor_rev_level = u16v()?,
        "lastcheck" => sb.s_lastcheck = tv()?,
        "checkinterval" => sb.s_checkinterval = u32v()?,
        "creator_os" => sb.s_creator_os = u32v()?,
        "rev_level" => sb.s_rev_level = u32v()?,
        "def_resuid" => sb.s_def_resuid = u16v()?,
        "def_resgid" => sb.s_def_resgid = u16v()?,
        "first_ino" => sb.s_first_ino = u32v()?,
        "inode_size" => sb.s_inode_size = u16v()?,
        "block_group_nr" => sb.s_block_group_nr = u16v()?,
        "feature_compat" => sb.s_feature_compat = u32v()?,
        "feature_incompat" => sb.s_feature_incompat = u32v()?,
        "feature_ro_compat" => sb.s_feature_ro_compat = u32v()?,
        "uuid" => sb.s_uuid = parse_uuid(v)?,
        "volume_name" => sbm::set_c_string(&mut sb.s_volume_name, v),
        "last_mounted" => sbm::set_c_string(&mut sb.s_last_mounted, v),
        "mount_opts" => sbm::set_c_string(&mut sb.s_mount_opts, v),
        "algorithm_usage_bitmap" => sb.s_algorithm_usage_bitmap = u32v()?,
        "prealloc_blocks" => sb.s_prealloc_blocks = u8v()?,
        "prealloc_dir_blocks" => sb.s_prealloc_dir_blocks = u8v()?,
        "reserved_gdt_blocks" => sb.s_reserved_gdt_blocks = u16v()?,
        "journal_uuid" => sb.s_journal_uuid = parse_uuid(v)?,
        "journal_inum" => sb.s_journal_inum = u32v()?,
        "journal_dev" => sb.s_journal_dev = u32v()?,
        "last_orphan" => sb.s_last_orphan = u32v()?,
        "hash_seed" => {
            sb.s_hash_seed = ext2fs::uuid::seed_words(&parse_uuid(v)?);
        }
        "def_hash_version" => {
            sb.s_def_hash_version = match sbm::hash_version_from_name(v) {
                Some(h) => h,
                None => u8v()?,
            }
        }
        "jnl_backup_type" => sb.s_jnl_backup_type = u8v()?,
        "desc_size" => sb.s_desc_size = u16v()?,
        "default_mount_opts" => sb.s_default_mount_opts = u32v()?,
        "first_meta_bg" => sb.s_first_meta_bg = u32v()?,
        "mkfs_time" => sb.s_mkfs_time = tv()?,
        "min_extra_isize" => sb.s_min_extra_isize = u16v()?,
        "want_extra_isize" => sb.s_want_extra_isize = u16v()?,
        "flags" => sb.s_flags = u32v()?,
        "raid_stride" => sb.s_raid_stride = u16v()?,
        "mmp_interval" => sb.s_mmp_update_interval = u16v()?,
        "mmp_block" => sb.s_mmp_block = u()?,
        "raid_stripe_width" => sb.s_raid_stripe_width = u32v()?,
        "log_groups_per_flex" => sb.s_log_groups_per_flex = u8v()?,
        "kbytes_written" => sb.s_kbytes_written = u()?,
        "snapshot_inum" => sb.s_snapshot_inum = u32v()?,
        "snapshot_id" => sb.s_snapshot_id = u32v()?,
        "snapshot_r_blocks_count" => sb.s_snapshot_r_blocks_count = u()?,
        "snapshot_list" => sb.s_snapshot_list = u32v()?,
        "usr_quota_inum" => sb.s_usr_quota_inum = u32v()?,
        "grp_quota_inum" => sb.s_grp_quota_inum = u32v()?,
        "prj_quota_inum" => sb.s_prj_quota_inum = u32v()?,
        "overhead_clusters" => sb.s_overhead_clusters = u32v()?,
        "checksum" => sb.s_checksum = u32v()?,
        "checksum_type" => sb.s_checksum_type = u8v()?,
        "encryption_level" => sb.s_encryption_level = u8v()?,
        "error_count" => sb.s_error_count = u32v()?,
        "first_error_time" => sb.s_first_error_time = tv()?,
        "first_error_ino" => sb.s_first_error_ino = u32v()?,
        "first_error_block" => sb.s_first_error_block = u()?,
        "first_error_func" => sbm::set_c_string(&mut sb.s_first_error_func, v),
        "first_error_line" => sb.s_first_error_line = u32v()?,
        "last_error_time" => sb.s_last_error_time = tv()?,
        "last_error_ino" => sb.s_last_error_ino = u32v()?,
        "last_error_block" => sb.s_last_error_block = u()?,
        "last_error_func" => sbm::set_c_string(&mut sb.s_last_error_func, v),
        "last_error_line" => sb.s_last_error_line = u32v()?,
        "encrypt_pw_salt" => sb.s_encrypt_pw_salt = parse_uuid(v)?,
        "lpf_ino" => sb.s_lpf_ino = u32v()?,
        "checksum_seed" => sb.s_checksum_seed = u32v()?,
        "orphan_file_inum" => sb.s_orphan_file_inum = u32v()?,
        _ => {
            // Arrays: jnl_blocks[N], backup_bgs[N], encrypt_algos[N].
            let Some((base, idx)) = name.strip_suffix(']').and_then(|n| n.split_once('[')) else {
                return Ok(false);
            };
            let i: usize = idx.parse().map_err(|_| anyhow!("Invalid index {idx}"))?;
            match base {
                "jnl_blocks" if i < 17 => sb.s_jnl_blocks[i] = u32v()?,
                "backup_bgs" if i < 2 => sb.s_backup_bgs[i] = u32v()?,
                "encrypt_algos" if i < 4 => sb.s_encrypt_algos[i] = u8v()?,
                _ => return Ok(false),
            }
        }
    }
    Ok(true)
}

pub fn set_super_value(s: &mut Session, args: &[String]) -> Result<()> {
    let (opts, rest) = getopt(args, "l")?;
    if !opts.is_empty() {
        writeln!(
            s.out,
            "Superblock fields supported by the set_super_value command:"
        )?;
        for (n, t) in SUPER_FIELDS {
            writeln!(s.out, "\t{n:<25}\t{t}")?;
        }
        return Ok(());
    }
    usage_check(&rest, 2, 2, "set_super_value [-l] <field> <value>")?;
    let fs = s.fs_rw()?;
    let name = rest[0].strip_prefix("s_").unwrap_or(&rest[0]);
    let mut sb = *fs.sb();
    if !set_super_field(&mut sb, name, &rest[1])? {
        bail!("invalid field specifier: {}", rest[0]);
    }
    fs.update_superblock(|s| *s = sb);
    Ok(())
}

const BG_FIELDS: &[&str] = &[
    "block_bitmap",
    "inode_bitmap",
    "inode_table",
    "free_blocks_count",
    "free_inodes_count",
    "used_dirs_count",
    "flags",
    "itable_unused",
    "checksum",
];

pub fn set_bg(s: &mut Session, args: &[String]) -> Result<()> {
    let (opts, rest) = getopt(args, "l")?;
    if !opts.is_empty() {
        writeln!(
            s.out,
            "Block group descriptor fields supported by the set_block_group command:"
        )?;
        for n in BG_FIELDS {
            writeln!(s.out, "\t{n:<25}\tunsigned integer")?;
        }
        return Ok(());
    }
    usage_check(
        &rest,
        3,
        3,
        "set_block_group [-l] <bg number> <field> <value>",
    )?;
    let fs = s.fs_rw()?;
    let g = num32_arg("block group number", &rest[0])?;
    if g >= fs.geo().group_count {
        bail!("invalid block group number: {}", rest[0]);
    }
    let v = num_arg("value", &rest[2])?;
    let v32 = u32::try_from(v).map_err(|_| anyhow!("Invalid value {}", rest[2]));
    let v16 = u16::try_from(v).map_err(|_| anyhow!("Invalid value {}", rest[2]));
    let mut desc = fs.groups()[g as usize];
    let gd = &mut desc;
    let name = rest[1].strip_prefix("bg_").unwrap_or(&rest[1]);
    match name {
        "block_bitmap" => gd.bg_block_bitmap = v32?,
        "inode_bitmap" => gd.bg_inode_bitmap = v32?,
        "inode_table" => gd.bg_inode_table = v32?,
        "free_blocks_count" => gd.bg_free_blocks_count = v16?,
        "free_inodes_count" => gd.bg_free_inodes_count = v16?,
        "used_dirs_count" => gd.bg_used_dirs_count = v16?,
        "flags" => gd.bg_flags = v16?,
        "itable_unused" => gd.bg_itable_unused = v16?,
        "checksum" => gd.bg_checksum = v16?,
        _ => bail!("invalid field specifier: {}", rest[1]),
    }
    fs.update_group(g, |d| *d = desc)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(interval_string(0), "<none>");
        assert_eq!(interval_string(15552000), "6 months");
        assert_eq!(interval_string(86400 * 8 + 61), "1 week, 1 day, 0:01:01");
    }

    #[test]
    fn every_listed_field_is_settable() {
        let mut sb = Superblock::default();
        for (n, t) in SUPER_FIELDS {
            let base = n.split('[').next().unwrap_or(n);
            let v = match *t {
                "UUID" => "null",
                "string" => "x",
                "hash algorithm" => "tea",
                _ => "1",
            };
            let numbered = n.ends_with(']') && n.contains(|c: char| c.is_ascii_digit());
            let name = if numbered {
                format!("{base}[0]")
            } else {
                base.to_string()
            };
            if name == "encoding" {
                continue;
            }
            assert!(set_super_field(&mut sb, &name, v).unwrap(), "{name}");
        }
    }
}
