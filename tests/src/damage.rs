//! Random damage for the differentials: edits with the real debugfs -w
//! (`sif`, `ssv`, `set_bg`, `clri`, `freeb`, `freei`, `setb`, `unlink`)
//! and byte changes in metadata blocks (superblock, descriptors, bitmaps,
//! inode table, the root directory), found from the raw superblock so
//! that earlier damage cannot stop the search, and aimed damage
//! (`aimed`: directory entries, counts a little off, shared blocks,
//! htree roots, ...), and images cut short. Each step is logged.

mod aimed;

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::Lcg;

/// The few superblock and group-0 values the damage aims with.
struct Shape {
    block_size: u64,
    blocks: u64,
    inodes: u64,
    inodes_per_group: u64,
    inode_size: u64,
    first_data_block: u64,
    groups: u64,
    block_bitmap: u64,
    inode_bitmap: u64,
    inode_table: u64,
    root_block: u64,
}

fn u32_at(b: &[u8], at: usize) -> u64 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as u64
}

fn shape(img: &Path) -> Option<Shape> {
    let f = std::fs::File::open(img).ok()?;
    let mut sb = [0u8; 1024];
    f.read_exact_at(&mut sb, 1024).ok()?;
    let log = u32_at(&sb, 24);
    if log > 6 {
        return None;
    }
    let block_size = 1024u64 << log;
    let rev = u32_at(&sb, 76);
    let inode_size = if rev == 0 {
        128
    } else {
        u16::from_le_bytes([sb[88], sb[89]]) as u64
    };
    let first_data_block = u32_at(&sb, 20);
    let (blocks, bpg) = (u32_at(&sb, 4), u32_at(&sb, 32).max(1));
    let mut gd = [0u8; 32];
    f.read_exact_at(&mut gd, (first_data_block + 1) * block_size)
        .ok()?;
    let inode_table = u32_at(&gd, 8);
    let mut root = [0u8; 128];
    // The root is inode 2: the second record of group 0's table.
    let _ = f.read_exact_at(&mut root, inode_table * block_size + inode_size.max(128));
    Some(Shape {
        block_size,
        blocks,
        inodes: u32_at(&sb, 0),
        inodes_per_group: u32_at(&sb, 40),
        inode_size: inode_size.max(128),
        first_data_block,
        groups: blocks.saturating_sub(first_data_block).div_ceil(bpg),
        block_bitmap: u32_at(&gd, 0),
        inode_bitmap: u32_at(&gd, 4),
        inode_table,
        root_block: u32_at(&root, 40),
    })
}

/// Applies 0 to 4 random damages to `img`; returns the steps.
pub fn damage(r: &mut Lcg, img: &Path) -> Vec<String> {
    let mut log = Vec::new();
    let n = match r.below(10) {
        0 | 1 => 0,
        2..=5 => 1,
        6..=8 => 2,
        _ => 3 + r.below(2),
    };
    // A write past the device's end (debugfs following a damaged
    // descriptor) would fail on a real disk; on an image file it makes a
    // sparse file of any size, which the copies would then fill in.
    let len = std::fs::metadata(img).map(|m| m.len()).unwrap_or(0);
    let keep_length = || {
        if let Ok(f) = std::fs::OpenOptions::new().write(true).open(img) {
            let _ = f.set_len(len);
        }
    };
    for _ in 0..n {
        keep_length();
        let Some(s) = shape(img) else {
            log.push("(superblock unreadable: no further damage)".into());
            break;
        };
        match r.below(100) {
            0..=34 => {
                let req = debugfs_edit(r, &s, img);
                run_debugfs_w(img, &req);
                log.push(format!("debugfs -w -R '{req}' input.img"));
            }
            35..=59 => log.push(byte_edit(r, &s, img)),
            _ => log.push(
                aimed::edit(r, &s, img).unwrap_or_else(|| "(no target for aimed damage)".into()),
            ),
        }
    }
    keep_length();
    log
}

/// A path in the root directory (from the real debugfs' `ls -p`), or a
/// name that is not there.
fn some_root_name(r: &mut Lcg, img: &Path) -> String {
    let out = Command::new("debugfs")
        .args(["-R", "ls -p /"])
        .arg(img)
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let names: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split('/').nth(5))
        .filter(|n| !n.is_empty() && *n != "." && *n != "..")
        .collect();
    if names.is_empty() {
        return "/nothing".into();
    }
    format!("/{}", names[r.below(names.len() as u64) as usize])
}

fn debugfs_edit(r: &mut Lcg, s: &Shape, img: &Path) -> String {
    // Mostly the first inodes, where a small filesystem's files are.
    let ino = 1 + r.below(s.inodes.clamp(1, 40));
    let blk = s.first_data_block + r.below(s.blocks.saturating_sub(s.first_data_block).max(1));
    let value = |r: &mut Lcg| -> String {
        match r.below(4) {
            0 => "0".into(),
            1 => r.below(16).to_string(),
            2 => r.below(s.blocks.max(1) + 10).to_string(),
            _ => (r.next_u64() as u32).to_string(),
        }
    };
    match r.below(8) {
        0 | 1 => {
            let field = r.pick(&[
                "mode",
                "links_count",
                "size",
                "blocks",
                "block[0]",
                "block[1]",
                "block[IND]",
                "block[DIND]",
                "dtime",
                "flags",
                "file_acl",
                "uid",
                "generation",
                "faddr",
            ]);
            let v = if field == "mode" {
                format!(
                    "0{:o}",
                    r.pick(&[
                        &0o100644u32,
                        &0o40755,
                        &0o120777,
                        &0o20644,
                        &0o10644,
                        &0o140755,
                        &0o170000
                    ])
                )
            } else {
                value(r)
            };
            format!("sif <{ino}> {field} {v}")
        }
        2 => {
            let field = r.pick(&[
                "free_blocks_count",
                "free_inodes_count",
                "state",
                "errors",
                "mnt_count",
                "max_mnt_count",
                "r_blocks_count",
                "last_orphan",
                "first_ino",
                "lastcheck",
                "wtime",
                "rev_level",
                "feature_compat",
                "feature_ro_compat",
                "first_data_block",
                "uuid",
            ]);
            let v = match field {
                "uuid" => r.pick(&["null", "random"]).to_string(),
                "feature_compat" | "feature_ro_compat" => (1u64 << r.below(8)).to_string(),
                _ => value(r),
            };
            format!("ssv {field} {v}")
        }
        3 => {
            let field = r.pick(&[
                "free_blocks_count",
                "free_inodes_count",
                "used_dirs_count",
                "block_bitmap",
                "inode_bitmap",
                "inode_table",
                "flags",
                "checksum",
                "itable_unused",
            ]);
            let v = if field == "flags" {
                r.below(8).to_string()
            } else {
                value(r)
            };
            format!("set_bg {} {field} {v}", r.below(s.groups.max(1)))
        }
        4 => format!("clri <{ino}>"),
        5 => format!("freeb {blk} {}", 1 + r.below(4)),
        6 => match r.below(3) {
            0 => format!("freei <{ino}>"),
            1 => format!("setb {blk}"),
            _ => format!("seti <{}>", 1 + r.below(s.inodes.max(1))),
        },
        _ => format!("unlink {}", some_root_name(r, img)),
    }
}

/// Changes 1 to 4 bytes of a metadata block; returns the step.
fn byte_edit(r: &mut Lcg, s: &Shape, img: &Path) -> String {
    let bs = s.block_size;
    let (what, start, len) = match r.below(7) {
        0 => ("superblock", 1024, 264),
        1 => (
            "group descriptors",
            (s.first_data_block + 1) * bs,
            32 * s.groups.min(bs / 32),
        ),
        2 => ("block bitmap", s.block_bitmap * bs, bs),
        3 => ("inode bitmap", s.inode_bitmap * bs, bs),
        // The first inode records: reserved ones, root, lost+found, files.
        4 | 5 => (
            "inode table",
            s.inode_table * bs,
            (s.inode_size * 16).min(bs * 8),
        ),
        _ => ("root directory block", s.root_block * bs, bs),
    };
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(img)
        .expect("open image");
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len == 0 || start + len > size {
        return format!("(no {what} to damage)");
    }
    let mut steps = Vec::new();
    for _ in 0..1 + r.below(4) {
        let at = start + r.below(len);
        let mut b = [0u8; 1];
        f.read_exact_at(&mut b, at).expect("read byte");
        let new = match r.below(3) {
            0 => b[0] ^ (1 << r.below(8)),
            1 => 0,
            _ => r.below(256) as u8,
        };
        f.write_all_at(&[new], at).expect("write byte");
        steps.push(format!("byte {at} {:#04x}->{new:#04x}", b[0]));
    }
    format!("{what}: {}", steps.join(", "))
}

/// The real debugfs -w with one request (its output is of no interest:
/// a refused edit is simply no damage).
pub fn run_debugfs_w(img: &Path, req: &str) {
    let _ = Command::new("debugfs")
        .args(["-w", "-R", req])
        .arg(img)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// One damaged image in twenty is then cut short, as an interrupted copy
/// or download leaves one: blocks the superblock counts lie past the
/// file's end. The choice and the length come from `steps`, the case's
/// log so far (the same for a seed's case in every run, where the
/// image's bytes are not: the kernel stamps its writes with the time),
/// not from the case's draw, so a seed's cases are drawn as before this
/// damage existed (only the cut ones change). The superblock is kept.
pub fn cut_short(img: &Path, steps: &str) -> Option<String> {
    // FNV-1a over the steps.
    let hash = steps.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let mut r = Lcg(hash);
    let len = std::fs::metadata(img).ok()?.len();
    const KEEP_SUPERBLOCK: u64 = 2048;
    if !r.chance(5) || len <= 2 * KEEP_SUPERBLOCK {
        return None;
    }
    let keep = KEEP_SUPERBLOCK + r.below(len - KEEP_SUPERBLOCK);
    let f = std::fs::OpenOptions::new().write(true).open(img).ok()?;
    f.set_len(keep).ok()?;
    Some(format!("truncate -s {keep} input.img"))
}
