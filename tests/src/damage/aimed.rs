//! Aimed damage: the faults real filesystems show, placed where they
//! matter rather than on random bytes. Directory entries (rec_len,
//! name_len, inode, file type; '.' and '..'; entries making loops),
//! inode fields set near their right values (links_count, i_size,
//! i_blocks, dtime on a live inode), bit flips in any group's bitmaps,
//! free counts off by a little, blocks shared by two files, fast
//! symlink lengths, block fields of device inodes, immutable and append
//! flags on special files, and htree roots. The targets come from the
//! raw inode tables, so each step names exactly what it changed.

use std::os::unix::fs::FileExt;
use std::path::Path;

use super::{run_debugfs_w, u32_at, Shape};
use crate::Lcg;

/// The inodes looked at: the first ones, where small filesystems keep
/// their files.
const SCAN_INODES: u64 = 200;
/// Entries looked at in one directory block (a bound against loops on
/// damaged blocks).
const MAX_ENTRIES: usize = 512;

const S_IFMT: u32 = 0o170000;
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const INDEX_FL: u32 = 0x1000;

/// What the aim needs of one in-use inode.
struct Inode {
    ino: u64,
    mode: u32,
    size: u64,
    links: u64,
    blocks: u64,
    flags: u32,
    block: [u64; 15],
}

impl Inode {
    fn kind(&self) -> u32 {
        self.mode & S_IFMT
    }

    fn is_special(&self) -> bool {
        matches!(self.kind(), 0o020000 | 0o060000 | 0o010000 | 0o140000)
    }
}

fn u16_at(b: &[u8], at: usize) -> u64 {
    u16::from_le_bytes([b[at], b[at + 1]]) as u64
}

/// Group `g`'s descriptor (32 bytes), if readable.
fn descriptor(f: &std::fs::File, s: &Shape, g: u64) -> Option<[u8; 32]> {
    let mut gd = [0u8; 32];
    let at = (s.first_data_block + 1) * s.block_size + g * 32;
    f.read_exact_at(&mut gd, at).ok()?;
    Some(gd)
}

/// The in-use inodes among the first `SCAN_INODES` (mode and links not 0).
fn live_inodes(f: &std::fs::File, s: &Shape) -> Vec<Inode> {
    let mut out = Vec::new();
    let ipg = s.inodes_per_group.max(1);
    for ino in 1..=s.inodes.min(SCAN_INODES) {
        let Some(gd) = descriptor(f, s, (ino - 1) / ipg) else {
            break;
        };
        let at = u32_at(&gd, 8) * s.block_size + ((ino - 1) % ipg) * s.inode_size;
        let mut raw = [0u8; 128];
        if f.read_exact_at(&mut raw, at).is_err() {
            continue;
        }
        let (mode, links) = (u16_at(&raw, 0) as u32, u16_at(&raw, 26));
        if mode == 0 || links == 0 || u32_at(&raw, 20) != 0 {
            continue;
        }
        let mut block = [0u64; 15];
        for (k, b) in block.iter_mut().enumerate() {
            *b = u32_at(&raw, 40 + 4 * k);
        }
        out.push(Inode {
            ino,
            mode,
            size: u32_at(&raw, 4),
            links,
            blocks: u32_at(&raw, 28),
            flags: u32_at(&raw, 32) as u32,
            block,
        });
    }
    out
}

fn pick_inode<'a>(r: &mut Lcg, xs: &[&'a Inode]) -> Option<&'a Inode> {
    (!xs.is_empty()).then(|| xs[r.below(xs.len() as u64) as usize])
}

/// One aimed damage, or None when the image has no target for the kind
/// drawn; returns the step as logged.
pub(super) fn edit(r: &mut Lcg, s: &Shape, img: &Path) -> Option<String> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(img)
        .ok()?;
    let live = live_inodes(&f, s);
    let of = |pred: &dyn Fn(&Inode) -> bool| live.iter().filter(|i| pred(i)).collect::<Vec<_>>();
    let in_range = |b: u64| b >= s.first_data_block && b < s.blocks;
    let dirs = of(&|i| i.kind() == S_IFDIR && in_range(i.block[0]));
    let sif = |req: String| {
        run_debugfs_w(img, &req);
        Some(format!("debugfs -w -R '{req}' input.img"))
    };
    match r.below(15) {
        0..=2 => {
            let dir = pick_inode(r, &dirs)?;
            dirent_edit(r, s, &f, dir, &live)
        }
        3 => {
            let i = pick_inode(r, &live.iter().collect::<Vec<_>>())?;
            let v = match r.below(4) {
                0 => i.links + 1,
                1 => i.links - 1,
                2 => i.links + 2 + r.below(8),
                _ => 0,
            };
            sif(format!("sif <{}> links_count {v}", i.ino))
        }
        4 => {
            let i = pick_inode(r, &live.iter().collect::<Vec<_>>())?;
            let bs = s.block_size;
            let v = match r.below(5) {
                0 => i.size + bs,
                1 => i.size.saturating_sub(bs),
                2 => i.size + 1 + r.below(bs),
                3 => 0,
                _ => i.size * 4 + 12 * bs,
            };
            sif(format!("sif <{}> size {v}", i.ino))
        }
        5 => {
            let i = pick_inode(r, &live.iter().collect::<Vec<_>>())?;
            let per = s.block_size / 512;
            let v = match r.below(4) {
                0 => i.blocks + per,
                1 => i.blocks.saturating_sub(per),
                2 => i.blocks * 2 + 2,
                _ => 0,
            };
            sif(format!("sif <{}> blocks {v}", i.ino))
        }
        6 => {
            let i = pick_inode(r, &live.iter().collect::<Vec<_>>())?;
            let v = if r.chance(50) {
                1_700_000_000
            } else {
                1 + r.below(1 << 30)
            };
            sif(format!("sif <{}> dtime {v}", i.ino))
        }
        7 => bitmap_flip(r, s, &f),
        8 => {
            let g = r.below(s.groups.max(1));
            let gd = descriptor(&f, s, g)?;
            let (field, at) = *r.pick(&[
                &("free_blocks_count", 12),
                &("free_inodes_count", 14),
                &("used_dirs_count", 16),
            ]);
            let v = near(r, u16_at(&gd, at));
            sif(format!("set_bg {g} {field} {v}"))
        }
        9 => {
            let (field, at) = *r.pick(&[&("free_blocks_count", 12), &("free_inodes_count", 16)]);
            let mut sb = [0u8; 32];
            f.read_exact_at(&mut sb, 1024).ok()?;
            let v = near(r, u32_at(&sb, at));
            sif(format!("ssv {field} {v}"))
        }
        10 => {
            // A block of one file (or of the metadata) in another file.
            let files = of(&|i| i.kind() == S_IFREG && in_range(i.block[0]));
            let to = pick_inode(r, &files)?;
            let shared = if r.chance(70) {
                pick_inode(r, &files)?.block[r.below(2) as usize]
            } else {
                *r.pick(&[
                    &s.block_bitmap,
                    &s.inode_bitmap,
                    &s.inode_table,
                    &s.root_block,
                ])
            };
            let k = *r.pick(&[&"0", &"1", &"2", &"IND"]);
            sif(format!("sif <{}> block[{k}] {shared}", to.ino))
        }
        11 => {
            // Loops: a directory linked into itself, or the root into one.
            let d = pick_inode(r, &dirs)?;
            let name = format!("loop{}", r.below(100));
            let req = if r.chance(50) {
                format!("link <{}> <{}>/{name}", d.ino, d.ino)
            } else {
                format!("link <2> <{}>/{name}", d.ino)
            };
            // debugfs takes a path for the new name: reach the directory
            // through the name `ls` gives it in the root, if it has one.
            let path = dir_path(img, d.ino)?;
            let req = req.replace(&format!("<{}>/", d.ino), &format!("{path}/"));
            sif(req)
        }
        12 => {
            let links = of(&|i| i.kind() == S_IFLNK);
            let l = pick_inode(r, &links)?;
            let v = match r.below(5) {
                0 => 0,
                1 => l.size + 1,
                2 => l.size.saturating_sub(1),
                3 => 60 + r.below(2),
                _ => s.block_size + r.below(2),
            };
            sif(format!("sif <{}> size {v}", l.ino))
        }
        13 => {
            let specials = of(&|i| i.is_special());
            let d = pick_inode(r, &specials)?;
            let k = r.below(15);
            let v = if r.chance(30) {
                0
            } else {
                1 + r.below(s.blocks)
            };
            sif(format!("sif <{}> block[{k}] {v}", d.ino))
        }
        _ => {
            let indexed = of(&|i| i.kind() == S_IFDIR && i.flags & INDEX_FL != 0);
            if !indexed.is_empty() && r.chance(80) {
                let d = pick_inode(r, &indexed)?;
                return htree_edit(r, s, &f, d);
            }
            let odd = of(&|i| i.is_special() || i.kind() == S_IFLNK || i.kind() == S_IFDIR);
            let i = pick_inode(r, &odd)?;
            // Immutable, append-only or an index on a non-directory.
            let v = i.flags | *r.pick(&[&0x10u32, &0x20, &0x30, &INDEX_FL]);
            sif(format!("sif <{}> flags {v:#x}", i.ino))
        }
    }
}

/// A count a little off: one or a few either way, or 0.
fn near(r: &mut Lcg, v: u64) -> u64 {
    match r.below(5) {
        0 => v + 1,
        1 => v.saturating_sub(1),
        2 => v + 2 + r.below(30),
        3 => v.saturating_sub(2 + r.below(30)),
        _ => 0,
    }
}

/// The root-relative path of directory `ino` when it sits in the root.
fn dir_path(img: &Path, ino: u64) -> Option<String> {
    if ino == 2 {
        return Some(String::new());
    }
    let out = std::process::Command::new("debugfs")
        .args(["-R", "ls -p /"])
        .arg(img)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
        let f: Vec<&str> = l.split('/').collect();
        (f.len() > 5 && f[1] == ino.to_string() && !f[5].is_empty() && f[5] != "." && f[5] != "..")
            .then(|| format!("/{}", f[5]))
    })
}

/// Writes `new` at `at` and names the change.
fn poke(f: &std::fs::File, at: u64, new: &[u8]) -> Option<String> {
    let mut old = vec![0u8; new.len()];
    f.read_exact_at(&mut old, at).ok()?;
    f.write_all_at(new, at).ok()?;
    Some(format!("bytes at {at}: {old:02x?}->{new:02x?}"))
}

/// One field of one entry of the directory's first or second block.
fn dirent_edit(
    r: &mut Lcg,
    s: &Shape,
    f: &std::fs::File,
    dir: &Inode,
    live: &[Inode],
) -> Option<String> {
    let bs = s.block_size;
    let blk = if dir.block[1] >= s.first_data_block && dir.block[1] < s.blocks && r.chance(30) {
        dir.block[1]
    } else {
        dir.block[0]
    };
    let mut b = vec![0u8; bs as usize];
    f.read_exact_at(&mut b, blk * bs).ok()?;
    // The entries' offsets, as far as their rec_lens lead.
    let mut offs = Vec::new();
    let mut at = 0usize;
    while at + 8 <= b.len() && offs.len() < MAX_ENTRIES {
        offs.push(at);
        let rec = u16_at(&b, at + 4) as usize;
        if rec < 8 {
            break;
        }
        at += rec;
    }
    // '.' and '..' (the first two entries of block 0) one time in three.
    let k = if blk == dir.block[0] && offs.len() >= 2 && r.chance(35) {
        r.below(2) as usize
    } else {
        r.below(offs.len() as u64) as usize
    };
    let e = offs[k];
    let base = blk * bs + e as u64;
    let rec = u16_at(&b, e + 4);
    let name_len = b[e + 6] as u64;
    let what = format!("directory <{}> block {blk} entry {k}", dir.ino);
    let step = match r.below(5) {
        0 => {
            let v = match r.below(6) {
                0 => 0,
                1 => rec + 4,
                2 => rec.saturating_sub(4),
                3 => rec + 1 + r.below(3),
                4 => bs - e as u64 + 4 * r.below(2),
                _ => 12,
            };
            poke(f, base + 4, &(v as u16).to_le_bytes())?
        }
        1 => {
            let v = match r.below(5) {
                0 => name_len + 1,
                1 => name_len.saturating_sub(1),
                2 => 0,
                3 => 255,
                _ => rec.saturating_sub(8) + 1,
            };
            poke(f, base + 6, &[v.min(255) as u8])?
        }
        2 | 3 => {
            // Another inode: nothing, a reserved one, past the end, a
            // live one (a directory makes a second parent or a loop).
            let other = live[r.below(live.len().max(1) as u64) as usize..]
                .first()
                .map_or(11, |i| i.ino);
            let v = match r.below(6) {
                0 => 0,
                1 => 1 + r.below(10),
                2 => s.inodes + 1 + r.below(100),
                3 => dir.ino,
                4 => 2,
                _ => other,
            };
            poke(f, base, &(v as u32).to_le_bytes())?
        }
        _ => {
            if k < 2 && blk == dir.block[0] && r.chance(50) {
                // The name itself: '.' as 'x.', '..' as '.x'.
                poke(f, base + 8 + k as u64, b"x")?
            } else {
                poke(f, base + 7, &[r.below(9) as u8])?
            }
        }
    };
    Some(format!("{what}: {step}"))
}

/// One bit of a random group's block or inode bitmap.
fn bitmap_flip(r: &mut Lcg, s: &Shape, f: &std::fs::File) -> Option<String> {
    let g = r.below(s.groups.max(1));
    let gd = descriptor(f, s, g)?;
    let (what, blk) = if r.chance(50) {
        ("block", u32_at(&gd, 0))
    } else {
        ("inode", u32_at(&gd, 4))
    };
    if blk == 0 || blk >= s.blocks {
        return None;
    }
    // Mostly among the first bits, where the used ones are.
    let bit = if r.chance(70) {
        r.below(256)
    } else {
        r.below(s.block_size * 8)
    };
    let at = blk * s.block_size + bit / 8;
    let mut old = [0u8; 1];
    f.read_exact_at(&mut old, at).ok()?;
    let new = old[0] ^ (1 << (bit % 8));
    f.write_all_at(&[new], at).ok()?;
    Some(format!(
        "group {g} {what} bitmap bit {bit}: byte {at} {:#04x}->{new:#04x}",
        old[0]
    ))
}

/// One field of an htree root (dx_root after '.' and '..') or of its
/// first entries.
fn htree_edit(r: &mut Lcg, s: &Shape, f: &std::fs::File, d: &Inode) -> Option<String> {
    let root = d.block[0] * s.block_size;
    let (field, at, v): (&str, u64, Vec<u8>) = match r.below(8) {
        0 => ("hash_version", 28, vec![r.below(8) as u8]),
        1 => ("info_length", 29, vec![*r.pick(&[&0u8, &4, &16])]),
        2 => ("indirect_levels", 30, vec![1 + r.below(4) as u8]),
        3 => ("reserved_zero", 24, vec![1 + r.below(255) as u8]),
        4 => {
            let mut lim = [0u8; 2];
            f.read_exact_at(&mut lim, root + 32).ok()?;
            let v = u16::from_le_bytes(lim).wrapping_add(1 + r.below(3) as u16);
            ("limit", 32, v.to_le_bytes().to_vec())
        }
        5 => {
            let v = *r.pick(&[&0u16, &1, &600]);
            ("count", 34, v.to_le_bytes().to_vec())
        }
        6 => {
            let v = r.below(d.blocks / (s.block_size / 512) + 4) as u32;
            ("first block", 36, v.to_le_bytes().to_vec())
        }
        _ => {
            // A hash out of order in the second entry.
            let v = r.next_u64() as u32 & !1;
            ("hash of entry 1", 40, v.to_le_bytes().to_vec())
        }
    };
    let step = poke(f, root + at, &v)?;
    Some(format!("htree root of <{}> {field}: {step}", d.ino))
}
