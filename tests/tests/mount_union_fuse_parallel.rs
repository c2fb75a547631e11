//! The FUSE engine serving several requests at once: lower files are read
//! from their open descriptors outside the engine's lock, by several
//! worker threads, while top files are written; every reader must get the
//! data of the object it opened.

mod fuse_common;

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Arc;

use fuse_common::*;

/// `len` bytes that tell file `k` and each position in it apart.
fn pattern(k: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2654435761).to_le_bytes()[k as usize % 4] ^ k)
        .collect()
}

#[test]
fn parallel_reads_of_lower_and_top_files_return_their_data() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    const LOWER: u8 = 6;
    const LEN: usize = 3 << 20;
    for k in 0..LOWER {
        std::fs::write(s.lower.join(format!("big{k}")), pattern(k, LEN)).unwrap();
    }
    let guard = mount_engine(&s);
    let mnt = Arc::new(s.mnt.clone());
    // Two top files written through the union while the lower ones are
    // read.
    let writers: Vec<_> = (0..2u8)
        .map(|w| {
            let mnt = mnt.clone();
            std::thread::spawn(move || {
                let k = LOWER + w;
                let data = pattern(k, LEN);
                let mut f = std::fs::File::create(mnt.join(format!("top{w}"))).unwrap();
                for chunk in data.chunks(64 << 10) {
                    f.write_all(chunk).unwrap();
                }
                f.sync_all().unwrap();
            })
        })
        .collect();
    // Readers: each reads every lower file, from a different start, in
    // chunks that cross FUSE request boundaries.
    let readers: Vec<_> = (0..LOWER)
        .map(|r| {
            let mnt = mnt.clone();
            std::thread::spawn(move || {
                for i in 0..LOWER {
                    let k = (r + i) % LOWER;
                    let path: PathBuf = mnt.join(format!("big{k}"));
                    let mut f = std::fs::File::open(&path).unwrap();
                    let from = (r as u64) * 100_003 % LEN as u64;
                    f.seek(SeekFrom::Start(from)).unwrap();
                    let mut got = Vec::new();
                    f.read_to_end(&mut got).unwrap();
                    assert!(
                        got == pattern(k, LEN)[from as usize..],
                        "{} read from {from} through the union differs",
                        path.display()
                    );
                }
            })
        })
        .collect();
    for t in writers.into_iter().chain(readers) {
        t.join().unwrap();
    }
    for w in 0..2u8 {
        let got = std::fs::read(s.mnt.join(format!("top{w}"))).unwrap();
        assert!(got == pattern(LOWER + w, LEN), "top{w} reads back wrong");
    }
    unmount_and_check(&s, guard);
}

/// A lower file replaced (renamed over) after it was opened: the open
/// descriptor keeps reading the file it was opened on, never the new one.
#[test]
fn a_lower_file_renamed_over_after_open_keeps_its_data() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    std::fs::write(s.lower.join("victim"), pattern(1, 200_000)).unwrap();
    let guard = mount_engine(&s);
    let mut f = std::fs::File::open(s.mnt.join("victim")).unwrap();
    let mut head = [0u8; 10];
    f.read_exact(&mut head).unwrap();
    std::fs::write(s.lower.join("new"), pattern(2, 300_000)).unwrap();
    std::fs::rename(s.lower.join("new"), s.lower.join("victim")).unwrap();
    let mut rest = Vec::new();
    f.read_to_end(&mut rest).unwrap();
    let mut got = head.to_vec();
    got.extend(rest);
    assert!(got == pattern(1, 200_000), "the open file's data changed");
    drop(f);
    unmount_and_check(&s, guard);
}
