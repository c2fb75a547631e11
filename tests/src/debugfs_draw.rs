//! The debugfs differential's draw: how both debugfs open a case's image
//! and which read requests they answer, with arguments taken from the
//! image itself (inode numbers, paths and names one level below the root,
//! blocks a file uses, the superblock's counts) and some invalid ones
//! (inode 0 and past the count, blocks past the end, paths that do not
//! exist).

use std::path::Path;
use std::process::Command;

use crate::{run, Lcg};

/// What the draw knows of an image, read by the real debugfs.
struct Facts {
    /// (inode, path) of the entries of the root and of up to two of its
    /// directories, without `.` and `..`.
    entries: Vec<(u64, String)>,
    /// Paths of directories among them (the root first).
    dirs: Vec<String>,
    /// Blocks a listed file uses (`blocks`).
    used: Vec<u64>,
    /// s_inodes_count and s_blocks_count.
    inodes: u64,
    blocks: u64,
}

/// `ls -p DIR` by the real debugfs: (inode, mode, name) per entry.
fn listing(img: &Path, dir: &str) -> Vec<(u64, u32, String)> {
    let out = run(Command::new("debugfs")
        .args(["-R", &format!("ls -p \"{dir}\"")])
        .arg(img))
    .stdout;
    String::from_utf8_lossy(&out)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('/').collect();
            let mode = u32::from_str_radix(f.get(2)?, 8).ok()?;
            Some((f.get(1)?.parse().ok()?, mode, f.get(5)?.to_string()))
        })
        .filter(|(_, _, n)| n != "." && n != ".." && !n.contains('"'))
        .collect()
}

fn le32(sb: &[u8], at: usize) -> u64 {
    sb.get(at..at + 4)
        .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64)
}

fn facts(img: &Path) -> Facts {
    let sb = std::fs::read(img)
        .map(|b| b.get(1024..2048).map(<[u8]>::to_vec).unwrap_or_default())
        .unwrap_or_default();
    let mut f = Facts {
        entries: Vec::new(),
        dirs: vec!["/".into()],
        used: Vec::new(),
        inodes: le32(&sb, 0),
        blocks: le32(&sb, 4),
    };
    let root = listing(img, "/");
    let mut files = Vec::new();
    for (ino, mode, name) in &root {
        let path = format!("/{name}");
        if mode & 0o170000 == 0o040000 && f.dirs.len() < 3 {
            f.dirs.push(path.clone());
        } else if mode & 0o170000 == 0o100000 {
            files.push(path.clone());
        }
        f.entries.push((*ino, path));
    }
    for dir in f.dirs.clone().iter().skip(1) {
        for (ino, _, name) in listing(img, dir) {
            f.entries.push((ino, format!("{dir}/{name}")));
        }
    }
    if let Some(file) = files.first() {
        let out = run(Command::new("debugfs")
            .args(["-R", &format!("blocks \"{file}\"")])
            .arg(img))
        .stdout;
        f.used = String::from_utf8_lossy(&out)
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
    }
    f
}

impl Facts {
    /// An inode: mostly a listed one, else a low number, sometimes one
    /// debugfs refuses (0, past the count).
    fn ino(&self, r: &mut Lcg) -> u64 {
        match r.below(20) {
            0 => 0,
            1 => self.inodes + 1 + r.below(3),
            _ if !self.entries.is_empty() && r.chance(65) => {
                self.entries[r.below(self.entries.len() as u64) as usize].0
            }
            _ => 1 + r.below(40),
        }
    }

    /// A file argument: `<ino>`, or a listed path (quoted), sometimes one
    /// that does not exist.
    fn file(&self, r: &mut Lcg) -> String {
        match r.below(10) {
            0 => "\"/no-such-name\"".into(),
            1..=5 if !self.entries.is_empty() => {
                let p = &self.entries[r.below(self.entries.len() as u64) as usize].1;
                format!("\"{p}\"")
            }
            _ => format!("<{}>", self.ino(r)),
        }
    }

    /// A directory path (quoted).
    fn dir(&self, r: &mut Lcg) -> String {
        format!(
            "\"{}\"",
            self.dirs[r.below(self.dirs.len() as u64) as usize]
        )
    }

    /// A name in `dir`, or one that is not there.
    fn name_in(&self, r: &mut Lcg, dir: &str) -> String {
        let dir = dir.trim_matches('"');
        let prefix = if dir == "/" {
            "/".to_string()
        } else {
            format!("{dir}/")
        };
        let names: Vec<&str> = self
            .entries
            .iter()
            .filter_map(|(_, p)| p.strip_prefix(prefix.as_str()))
            .filter(|n| !n.contains('/'))
            .collect();
        if names.is_empty() || r.chance(15) {
            "no-such-name".into()
        } else {
            names[r.below(names.len() as u64) as usize].to_string()
        }
    }

    /// A block: one a file uses, a low number, or past the end.
    fn block(&self, r: &mut Lcg) -> u64 {
        match r.below(10) {
            0 => self.blocks + r.below(100),
            1..=3 if !self.used.is_empty() => self.used[r.below(self.used.len() as u64) as usize],
            _ => 1 + r.below(600),
        }
    }
}

/// The read requests debugfs-union is compared on (with the options
/// both open the image with: none, -c catastrophic mode, or -s/-b a
/// backup superblock): the superblock and group summary, directories
/// listed (-l, -p, -d), inodes shown, dumped, catted and mapped, paths
/// found, blocks owned, bitmap bits, free blocks and inodes, deleted
/// inodes, names searched and hashed, hash indexes, the working
/// directory.
pub fn debugfs_requests(r: &mut Lcg, img: &Path) -> (Vec<String>, Vec<String>) {
    let f = facts(img);
    let mut reqs = vec!["stats".to_string(), "ls -l /".into(), "ls /".into()];
    for _ in 0..2 {
        let dir = f.dir(r);
        let flag = ["-l", "-d", "-p", "-ld", ""][r.below(5) as usize];
        reqs.push(format!("ls {flag} {dir}"));
        reqs.push(format!("stat {}", f.file(r)));
    }
    for _ in 0..3 {
        reqs.push(format!("stat <{}>", f.ino(r)));
    }
    let inos: Vec<String> = (0..3).map(|_| f.ino(r).to_string()).collect();
    reqs.push(format!("ncheck {}", inos.join(" ")));
    let blocks: Vec<String> = (0..3).map(|_| f.block(r).to_string()).collect();
    reqs.push(format!("icheck {}", blocks.join(" ")));
    reqs.push(format!("bd {}", f.block(r)));
    reqs.push(format!("testb {} {}", f.block(r), 1 + r.below(20)));
    reqs.push(format!("testi {}", f.file(r)));
    reqs.push(format!("blocks {}", f.file(r)));
    reqs.push(format!("dump {} dumped", f.file(r)));
    reqs.extend(more_debugfs_requests(r, &f));
    (debugfs_open_options(r, img), reqs)
}

/// The requests the differential added second: ffb, ffi, imap, idump,
/// cat, bmap, lsdel, dirsearch, htree_dump, dx_hash, pwd, ls -d/-p,
/// ncheck -c.
fn more_debugfs_requests(r: &mut Lcg, f: &Facts) -> Vec<String> {
    let dir = f.dir(r);
    let name = f.name_in(r, &dir);
    let idump = ["", "-b ", "-e ", "-x "][r.below(4) as usize];
    let mut reqs = vec![
        format!("ffb {} {}", 1 + r.below(8), f.block(r)),
        match r.below(3) {
            0 => "ffi".into(),
            1 => format!("ffi {}", f.ino(r)),
            _ => format!(
                "ffi {} 0{:o}",
                f.ino(r),
                [0o40755, 0o100644][r.below(2) as usize]
            ),
        },
        format!("imap {}", f.file(r)),
        format!("idump {idump}{}", f.file(r)),
        format!("cat {}", f.file(r)),
        format!("bmap {} {}", f.file(r), r.below(300)),
        if r.chance(70) {
            "lsdel".into()
        } else {
            format!("lsdel {}", r.below(1 << 30))
        },
        format!("dirsearch {dir} \"{name}\""),
        format!("htree {}", if r.chance(50) { f.dir(r) } else { f.file(r) }),
        format!("dx_hash \"{name}\""),
        format!("cd {}\npwd", f.dir(r)),
        format!("ls -d {}", f.dir(r)),
        format!("ls -p {}", f.dir(r)),
        format!("ncheck -c {} {}", f.ino(r), f.ino(r)),
    ];
    if r.chance(50) {
        let hash = ["legacy", "half_md4", "tea"][r.below(3) as usize];
        reqs.push(format!(
            "dx_hash -h {hash} -s {} \"{name}\"",
            r.below(1 << 20)
        ));
    }
    reqs
}

/// How both debugfs open the image for a case: mostly plainly, else in
/// catastrophic mode (-c) or from the first backup superblock (-s with
/// -b, as the damaged primary's block size and group size place it).
fn debugfs_open_options(r: &mut Lcg, img: &Path) -> Vec<String> {
    match r.below(10) {
        0 | 1 => vec!["-c".into()],
        2 => {
            let sb = std::fs::read(img).unwrap_or_default();
            // s_first_data_block, s_log_block_size, s_blocks_per_group.
            let (first, log, per_group) =
                (le32(&sb, 1044), le32(&sb, 1048).min(6), le32(&sb, 1056));
            vec![
                "-s".into(),
                (first + per_group).to_string(),
                "-b".into(),
                (1024u64 << log).to_string(),
            ]
        }
        _ => vec![],
    }
}
