//! Measures name lookups and inserts in a 100,000-entry directory through
//! its htree index and, with the index flag cleared, by a linear scan (what
//! every lookup and insert did before the library followed the index),
//! and batches of inserts into a new directory, linear or auto-indexed
//! (`set_auto_index`). Prints the timings; `bench/htree/run` runs it. Needs the real mke2fs.
//!
//! Usage: htree_lookup [ENTRIES]

use std::process::Command;
use std::time::Instant;

use ext2fs::dirent::ft;
use ext2fs::fs::{Filesystem, OpenOptions};
use ext2fs::htree::{self, NewEntry};
use ext2fs::inode::{flags, S_IFREG};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn name(i: usize) -> Vec<u8> {
    format!("entry-{i:07}-of-a-big-directory").into_bytes()
}

/// Microseconds per call of `f` over `names`, checking every lookup hits.
fn per_lookup(fs: &Filesystem, dir: u32, names: &[Vec<u8>]) -> Res<f64> {
    let start = Instant::now();
    for n in names {
        if fs.lookup_entry(dir, n)?.is_none() {
            return Err(format!("{} not found", String::from_utf8_lossy(n)).into());
        }
    }
    Ok(start.elapsed().as_secs_f64() * 1e6 / names.len() as f64)
}

fn per_insert(fs: &mut Filesystem, dir: u32, ino: u32, names: &[Vec<u8>]) -> Res<f64> {
    let start = Instant::now();
    for n in names {
        fs.add_entry(dir, n, ino, ft::REG_FILE)?;
    }
    Ok(start.elapsed().as_secs_f64() * 1e6 / names.len() as f64)
}

fn main() -> Res<()> {
    let entries: usize = std::env::args().nth(1).map_or(Ok(100_000), |a| a.parse())?;
    let tmp = tempfile::tempdir()?;
    let img = tmp.path().join("fs.img");
    let st = Command::new("mke2fs")
        .args(["-q", "-F", "-t", "ext2", "-b", "4096"])
        .arg(&img)
        .arg("512M")
        .status()?;
    if !st.success() {
        return Err("mke2fs failed".into());
    }
    let rw = OpenOptions {
        write: true,
        ..Default::default()
    };
    let mut fs = Filesystem::open(&img, &rw)?;
    let d = fs.mkdir(2, b"big", 0o755)?;
    let f = fs.create(2, b"target", S_IFREG | 0o644)?;
    let all: Vec<NewEntry> = (0..entries)
        .map(|i| NewEntry {
            name: name(i),
            inode: f,
            file_type: ft::REG_FILE,
        })
        .collect();
    let sb = *fs.sb();
    let bs = fs.block_size() as usize;
    let blocks = htree::build(
        d,
        2,
        true,
        &all,
        bs,
        sb.s_def_hash_version,
        &sb.s_hash_seed,
        sb.s_flags,
    )?;
    fs.write_dir_blocks(d, &blocks, true)?;
    // Every 97th name, spread over the whole directory.
    let sample: Vec<Vec<u8>> = (0..entries).step_by(97).map(name).collect();
    let linear_sample = &sample[..sample.len().min(200)];
    let fresh: Vec<Vec<u8>> = (entries..entries + 1000).map(name).collect();
    println!(
        "directory of {entries} entries, {} blocks of {bs} bytes",
        blocks.len()
    );
    let indexed = per_lookup(&fs, d, &sample)?;
    println!(
        "lookup through the index: {indexed:10.1} us ({} names)",
        sample.len()
    );
    let added = per_insert(&mut fs, d, f, &fresh[..500])?;
    println!("insert keeping the index: {added:10.1} us (500 names)");
    let mut rec = fs.read_inode(d)?;
    rec.base.i_flags &= !flags::INDEX;
    fs.write_inode(d, &rec)?;
    let linear = per_lookup(&fs, d, linear_sample)?;
    println!(
        "lookup by linear scan:    {linear:10.1} us ({} names)",
        linear_sample.len()
    );
    let added_linear = per_insert(&mut fs, d, f, &fresh[500..600])?;
    println!("insert by linear scan:    {added_linear:10.1} us (100 names)");
    println!(
        "speed-up: lookup {:.0}x, insert {:.0}x",
        linear / indexed,
        added_linear / added
    );
    // Files created one by one into a new directory, in batches: linear
    // (e2fsprogs' way) against auto-indexed (the FUSE engine's top image).
    for auto in [false, true] {
        fs.set_auto_index(auto);
        let dir = fs.mkdir(2, if auto { b"auto" } else { b"flat" }, 0o755)?;
        let mut line = String::new();
        for batch in 0..5 {
            let start = Instant::now();
            for i in 0..2000 {
                fs.add_entry(dir, &name(batch * 2000 + i), f, ft::REG_FILE)?;
            }
            line += &format!(" {:6.0} ms", start.elapsed().as_secs_f64() * 1e3);
        }
        let how = if auto { "auto-indexed" } else { "linear      " };
        println!("5 x 2000 creates, {how}:{line}");
    }
    Ok(())
}
