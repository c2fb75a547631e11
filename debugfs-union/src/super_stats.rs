//! Whole-filesystem requests: open/close, params, stats, features,
//! set_super_value, set_bg, dirty.

use std::io::Write;

use anyhow::{anyhow, bail, Result};
use ext2fs::features::{self, incompat};
use ext2fs::superblock::{self as sbm, Superblock};

use crate::format::time_string;
use crate::session::{num32_arg, num_arg, OpenRequest, Session};
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
            'z' => {
                let device = std::path::Path::new(&rest[0]);
                let asked = Some(std::path::Path::new(&v));
                req.undo_file = cli_common::undo::undo_file_path(
                    asked,
                    false,
                    "debugfs",
                    device,
                    "/var/lib/e2fsprogs",
                )
                .map_err(|e| anyhow!("{e} while trying to setup undo file"))?;
            }
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
    use ext2fs::mntopts::{JMODE, NAMES};
    // e2p's print_mntopts: the journal data mode first, then the other
    // bits in order (e2p_mntopt2string's MNTOPT_<n> for unnamed ones).
    let name = |m: u32| {
        NAMES
            .iter()
            .find(|(b, _)| *b == m)
            .map_or_else(|| format!("MNTOPT_{}", m.ilog2()), |(_, n)| n.to_string())
    };
    let jmode = (v & JMODE != 0).then(|| name(v & JMODE));
    let others = (0..32)
        .map(|bit| 1u32 << bit)
        .filter(|&m| m & JMODE == 0 && v & m != 0)
        .map(name);
    let out: Vec<String> = jmode.into_iter().chain(others).collect();
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
    // list_super2 shows it when set, whatever the features say.
    if sb.s_first_meta_bg != 0 {
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
        // e2p adds the two 32-bit fields in 32 bits (wrapping), without
        // the high byte of the last check time.
        line(
            "Next check after",
            time_string(i64::from(sb.s_lastcheck.wrapping_add(sb.s_checkinterval))),
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
    // An empty key: the whole line as given.
    let mut line = |k: &str, v: String| match k {
        "" => o.push_str(&v),
        _ => o.push_str(&format!("{:<26}{v}\n", format!("{k}:"))),
    };
    if sb.s_journal_uuid != [0; 16] {
        line("Journal UUID", sbm::uuid_string(&sb.s_journal_uuid));
    }
    if sb.s_journal_inum != 0 {
        line("Journal inode", sb.s_journal_inum.to_string());
    }
    if sb.s_journal_dev != 0 {
        // e2p's list_super has a tab inside this one's padding.
        line(
            "",
            format!("Journal device:\t          0x{:04x}\n", sb.s_journal_dev),
        );
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
    if sb.s_snapshot_inum != 0 {
        line("Snapshot inode", sb.s_snapshot_inum.to_string());
        line("Snapshot ID", sb.s_snapshot_id.to_string());
        line(
            "Snapshot reserved blocks",
            sb.s_snapshot_r_blocks_count.to_string(),
        );
    }
    if sb.s_snapshot_list != 0 {
        line("Snapshot list head", sb.s_snapshot_list.to_string());
    }
    if sb.s_error_count != 0 {
        line("FS Error count", sb.s_error_count.to_string());
    }
    for (which, err) in [
        (
            "First",
            ErrorRecord {
                time: sb.s_first_error_time,
                func: &sb.s_first_error_func,
                line: sb.s_first_error_line,
                ino: sb.s_first_error_ino,
                block: sb.s_first_error_block,
                errcode: sb.s_first_error_errcode,
            },
        ),
        (
            "Last",
            ErrorRecord {
                time: sb.s_last_error_time,
                func: &sb.s_last_error_func,
                line: sb.s_last_error_line,
                ino: sb.s_last_error_ino,
                block: sb.s_last_error_block,
                errcode: sb.s_last_error_errcode,
            },
        ),
    ] {
        if err.time == 0 {
            continue;
        }
        line(
            &format!("{which} error time"),
            time_string(i64::from(err.time)),
        );
        let func = err.func.split(|&b| b == 0).next().unwrap_or_default();
        line(
            &format!("{which} error function"),
            String::from_utf8_lossy(func).into_owned(),
        );
        line(&format!("{which} error line #"), err.line.to_string());
        if err.ino != 0 {
            line(&format!("{which} error inode #"), err.ino.to_string());
        }
        if err.block != 0 {
            line(&format!("{which} error block #"), err.block.to_string());
        }
        if err.errcode != 0 {
            line(&format!("{which} error err"), errcode_name(err.errcode));
        }
    }
    if sb.has_incompat(features::incompat::MMP) {
        line("MMP block number", sb.s_mmp_block.to_string());
        line("MMP update interval", sb.s_mmp_update_interval.to_string());
    }
    for (prefix, inum) in [
        ("User quota inode", sb.s_usr_quota_inum),
        ("Group quota inode", sb.s_grp_quota_inum),
        ("Project quota inode", sb.s_prj_quota_inum),
    ] {
        if inum != 0 {
            line(prefix, inum.to_string());
        }
    }
    if sb.has_ro_compat(features::ro_compat::METADATA_CSUM) {
        let kind = if sb.s_checksum_type == 1 {
            "crc32c"
        } else {
            "unknown"
        };
        line("Checksum type", kind.to_string());
        line("Checksum", format!("0x{:08x}", sb.s_checksum));
    }
    if sb.s_encrypt_pw_salt != [0; 16] {
        line(
            "Encryption PW Salt",
            sbm::uuid_string(&sb.s_encrypt_pw_salt),
        );
    }
    if sb.has_incompat(features::incompat::CSUM_SEED) {
        line("Checksum seed", format!("0x{:08x}", sb.s_checksum_seed));
    }
    if sb.has_incompat(features::incompat::CASEFOLD) {
        let name = match sb.s_encoding {
            1 => "utf8-12.1".to_string(),
            e => format!("UNKNOWN_ENCODING_{e}"),
        };
        line("Character encoding", name);
    }
    if sb.has_compat(features::compat::ORPHAN_FILE) {
        line("Orphan file inode", sb.s_orphan_file_inum.to_string());
    }
    o
}

/// One of the superblock's two error records (first, last), as e2p's
/// list_super2 prints them.
struct ErrorRecord<'a> {
    time: u32,
    func: &'a [u8; 32],
    line: u32,
    ino: u32,
    block: u64,
    errcode: u8,
}

/// e2p_errcode2str: the kernel's error code names.
fn errcode_name(code: u8) -> String {
    const NAMES: [&str; 18] = [
        "",
        "UNKNOWN",
        "EIO",
        "ENOMEM",
        "EFSBADCRC",
        "EFSCORRUPTED",
        "ENOSPC",
        "ENOKEY",
        "EROFS",
        "EFBIG",
        "EEXIST",
        "ERANGE",
        "EOVERFLOW",
        "EBUSY",
        "ENOTDIR",
        "ENOTEMPTY",
        "ESHUTDOWN",
        "EFAULT",
    ];
    NAMES
        .get(usize::from(code))
        .map_or_else(|| format!("UNKNOWN_ERRCODE_{code}"), |n| n.to_string())
}

/// A UUID as e2p prints it: all zeroes is `<none>`.
fn shown_uuid(u: &[u8; 16]) -> String {
    if *u == [0; 16] {
        "<none>".to_string()
    } else {
        sbm::uuid_string(u)
    }
}

/// set_current_time: the time this session's changes are stamped with
/// (inode times, dtime, the superblock's write time), as debugfs' fs->now.
pub fn set_current_time(s: &mut Session, args: &[String]) -> Result<()> {
    let (_, rest) = getopt(args, "")?;
    usage_check(&rest, 1, 1, "set_current_time <time>")?;
    let fs = s.fs_mut()?;
    let t = crate::cnum::string_to_time(&rest[0])
        .ok_or_else(|| anyhow!("Couldn't parse argument as a time: {}\n", rest[0]))?;
    fs.set_fixed_time(Some(t as u32));
    writeln!(s.out, "Setting current time to {}\n", time_string(t))?;
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
}
