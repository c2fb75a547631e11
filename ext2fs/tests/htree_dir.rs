//! Indexed directories kept by the library: names added and removed one
//! by one go through the htree (lookups read only the leaves of a name's
//! hash, inserts split full leaves and grow the tree), and the real
//! `e2fsck -fn` finds the result clean with the index still there, for
//! every hash (legacy, half-MD4, TEA; signed and unsigned).

mod support;
use support::{debugfs, e2fsck_clean, fresh_image, rw, write_indexed_dir};

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use ext2fs::fs::{Filesystem, OpenOptions};
use ext2fs::htree::{self, DxContext, DxPath, DxRoot};
use ext2fs::inode::{flags, S_IFREG};

/// A small deterministic generator (xorshift64*): the same names on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A name of 1 to 40 bytes (one in ten up to 255), any byte but NUL
    /// and '/', high bytes included (where signed and unsigned hashes differ).
    fn name(&mut self) -> Vec<u8> {
        let max = if self.below(10) == 0 { 255 } else { 40 };
        let len = 1 + self.below(max);
        loop {
            let name: Vec<u8> = (0..len)
                .map(|_| match 1 + self.below(255) as u8 {
                    b'/' => b'_',
                    c => c,
                })
                .collect();
            if name != b"." && name != b".." {
                return name;
            }
        }
    }
}

/// Sets the superblock's default hash and signedness with the real debugfs.
fn set_hash(img: &Path, hash: &str, unsigned: bool) {
    let flags = if unsigned { "2" } else { "1" };
    for req in [
        format!("ssv def_hash_version {hash}"),
        format!("ssv flags {flags}"),
    ] {
        let st = Command::new("debugfs")
            .args(["-w", "-R", &req])
            .arg(img)
            .output()
            .unwrap();
        assert!(st.status.success(), "{req}");
    }
}

fn root_of(fs: &Filesystem, dir: u32) -> DxRoot {
    let rec = fs.read_inode(dir).unwrap();
    assert!(rec.flags() & flags::INDEX != 0, "index dropped");
    let b = fs.bmap(&rec, 0).unwrap().unwrap();
    DxRoot::parse(&fs.read_block(b as u64).unwrap(), dir).unwrap()
}

/// Whether the index itself leads to `name`: it is in its hash's leaf or
/// in a leaf continuing that hash (no linear fallback involved).
fn index_leads_to(fs: &Filesystem, dir: u32, name: &[u8]) -> bool {
    let rec = fs.read_inode(dir).unwrap();
    let read = |l: u32| fs.read_block(fs.bmap(&rec, l as u64)?.unwrap() as u64);
    let ctx = DxContext {
        dir,
        blocks: (rec.size() / fs.block_size() as u64) as u32,
        seed: &fs.sb().s_hash_seed,
        s_flags: fs.sb().s_flags,
    };
    let mut path = DxPath::find(&ctx, &read(0).unwrap(), name, read).unwrap();
    let mut leaf = Some(path.leaf());
    while let Some(l) = leaf {
        let entries = ext2fs::dirent::parse_block(&read(l).unwrap(), dir, 0).unwrap();
        if entries.iter().any(|e| e.inode != 0 && e.name == name) {
            return true;
        }
        leaf = path.next_leaf(&ctx, read).unwrap();
    }
    false
}

/// Every name of the model is found by lookup and by the linear listing,
/// nothing else is listed, and the removed names are not found. With
/// `sound_index`, the index also leads to every name.
fn check_model(
    fs: &Filesystem,
    dir: u32,
    ino: u32,
    live: &BTreeSet<Vec<u8>>,
    gone: &[Vec<u8>],
    sound_index: bool,
) {
    for name in live {
        let e = fs.lookup_entry(dir, name).unwrap();
        assert_eq!(e.map(|e| e.inode), Some(ino), "{name:?} not found");
        assert!(
            !sound_index || index_leads_to(fs, dir, name),
            "{name:?} off its leaf"
        );
    }
    for name in gone.iter().filter(|n| !live.contains(*n)) {
        assert!(fs.lookup_entry(dir, name).unwrap().is_none(), "{name:?}");
    }
    let listed: BTreeSet<Vec<u8>> = fs
        .read_dir(dir)
        .unwrap()
        .into_iter()
        .filter(|e| !e.is_dot() && !e.is_dotdot())
        .map(|e| e.name)
        .collect();
    assert_eq!(&listed, live);
}

fn htree_clean(img: &Path, dir: &str) -> String {
    e2fsck_clean(img);
    let dump = String::from_utf8_lossy(&debugfs(img, &format!("htree {dir}"))).into_owned();
    assert!(dump.contains("Root node dump:"), "{dump}");
    dump
}

#[test]
fn random_inserts_and_removes_keep_the_index() {
    let configs = [
        ("legacy", false, 2500),
        ("legacy", true, 2500),
        ("half_md4", false, 6000),
        ("half_md4", true, 2500),
        ("tea", false, 2500),
        ("tea", true, 6000),
    ];
    for (seed, (hash, unsigned, ops)) in configs.into_iter().enumerate() {
        let Some((_dir, img)) = fresh_image(&["-b", "1024"], "64M") else {
            return;
        };
        set_hash(&img, hash, unsigned);
        let mut fs = rw(&img);
        let d = fs.mkdir(2, b"d", 0o755).unwrap();
        let f = fs.create(2, b"target", S_IFREG | 0o644).unwrap();
        fs.index_directory(d).unwrap();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ seed as u64);
        let mut live: BTreeSet<Vec<u8>> = BTreeSet::new();
        let mut gone = Vec::new();
        for _ in 0..ops {
            if rng.below(4) == 0 && !live.is_empty() {
                let name = live.iter().nth(rng.below(live.len())).unwrap().clone();
                fs.unlink(d, &name).unwrap();
                live.remove(&name);
                gone.push(name);
            } else {
                let name = rng.name();
                match fs.link(d, &name, f) {
                    Ok(()) => assert!(live.insert(name)),
                    Err(ext2fs::Error::Exists(_)) => assert!(live.contains(&name)),
                    Err(e) => panic!("{name:?}: {e}"),
                }
            }
        }
        let root = root_of(&fs, d);
        if ops > 5000 {
            assert_eq!(root.info.indirect_levels, 1, "{hash}: not deepened");
            // Deepening leaves the root one entry: more come from node splits.
            assert!(root.index.count > 1, "{hash}: no node split");
        }
        check_model(&fs, d, f, &live, &gone, true);
        fs.close().unwrap();
        let dump = htree_clean(&img, "/d");
        assert!(!dump.contains("Corrupt") && !dump.contains("BAD"), "{hash}");
    }
}

/// 20,000 files created one by one in an indexed directory: the index
/// stays, and every name is found through it.
#[test]
fn twenty_thousand_creates_keep_the_index() {
    let Some((_dir, img)) = fresh_image(&["-N", "24000"], "128M") else {
        return;
    };
    let mut fs = rw(&img);
    let d = fs.mkdir(2, b"many", 0o755).unwrap();
    fs.index_directory(d).unwrap();
    let mut inodes = Vec::new();
    for i in 0..20_000 {
        inodes.push(
            fs.create(d, format!("file-{i:05}").as_bytes(), S_IFREG | 0o644)
                .unwrap(),
        );
    }
    root_of(&fs, d);
    for (i, ino) in inodes.iter().enumerate().step_by(13) {
        let e = fs
            .lookup_entry(d, format!("file-{i:05}").as_bytes())
            .unwrap();
        assert_eq!(e.map(|e| e.inode), Some(*ino));
    }
    assert_eq!(fs.read_dir(d).unwrap().len(), 20_002);
    fs.close().unwrap();
    htree_clean(&img, "/many");
    let fs = Filesystem::open(&img, &OpenOptions::default()).unwrap();
    assert_eq!(fs.namei(2, "/many/file-12345").unwrap(), inodes[12345]);
}

/// A damaged index is not followed: lookups scan linearly and find every
/// name, and the next insert drops the index (the directory stays clean).
#[test]
fn damaged_index_falls_back_to_a_linear_scan() {
    let Some((_dir, img)) = fresh_image(&["-b", "1024"], "16M") else {
        return;
    };
    let mut fs = rw(&img);
    let d = fs.mkdir(2, b"d", 0o755).unwrap();
    let f = fs.create(2, b"target", S_IFREG | 0o644).unwrap();
    fs.index_directory(d).unwrap();
    let names: BTreeSet<Vec<u8>> = (0..300).map(|i| format!("n{i}").into_bytes()).collect();
    for n in &names {
        fs.link(d, n, f).unwrap();
    }
    // Point the root's second entry past the end of the directory.
    let rec = fs.read_inode(d).unwrap();
    let b = fs.bmap(&rec, 0).unwrap().unwrap() as u64;
    let mut root = fs.read_block(b).unwrap();
    root[32 + 12..32 + 16].copy_from_slice(&9999u32.to_le_bytes());
    fs.write_block(b, &root).unwrap();
    check_model(&fs, d, f, &names, &[b"absent".to_vec()], false);
    fs.link(d, b"one-more", f).unwrap();
    let rec = fs.read_inode(d).unwrap();
    assert_eq!(rec.flags() & flags::INDEX, 0, "index kept");
    let mut all = names.clone();
    all.insert(b"one-more".to_vec());
    check_model(&fs, d, f, &all, &[], false);
    fs.close().unwrap();
    e2fsck_clean(&img);
}

/// An index full at the deepest level ext2 allows (every leaf, node and
/// the root full) cannot take one more name: the index is dropped and the
/// name added linearly, and the directory is still clean.
#[test]
fn full_index_is_dropped_and_the_directory_stays_clean() {
    let Some((_dir, img)) = fresh_image(&["-b", "1024"], "64M") else {
        return;
    };
    let mut fs = rw(&img);
    let d = fs.mkdir(2, b"d", 0o755).unwrap();
    let f = fs.create(2, b"target", S_IFREG | 0o644).unwrap();
    // Three 255-byte names fill a 1 KiB leaf; root limit x node limit leaves.
    let leaves = htree::root_limit(1024) as usize * htree::node_limit(1024) as usize;
    let long = |i: usize| format!("{i:0255}").into_bytes();
    let names = (0..3 * leaves).map(long).collect();
    // `target`'s own entry in the root is its one other link.
    let blocks = write_indexed_dir(&mut fs, (d, 2), f, names, 1);
    assert_eq!(blocks.len(), 1 + leaves + htree::root_limit(1024) as usize);
    fs.link(d, &long(3 * leaves), f).unwrap();
    assert_eq!(
        fs.read_inode(d).unwrap().flags() & flags::INDEX,
        0,
        "index kept"
    );
    assert!(fs.lookup_entry(d, &long(3 * leaves)).unwrap().is_some());
    assert!(fs.lookup_entry(d, &long(17)).unwrap().is_some());
    fs.close().unwrap();
    e2fsck_clean(&img);
}

/// With `set_auto_index`, a directory whose first block fills up becomes
/// an htree (the kernel's make_indexed_dir) and keeps growing through it;
/// without, it grows linearly as e2fsprogs' directories do.
#[test]
fn auto_index_turns_a_full_first_block_into_an_htree() {
    for auto in [true, false] {
        let Some((_dir, img)) = fresh_image(&["-b", "1024", "-N", "4096"], "16M") else {
            return;
        };
        let mut fs = rw(&img);
        fs.set_auto_index(auto);
        let d = fs.mkdir(2, b"d", 0o755).unwrap();
        let mut live = BTreeSet::new();
        let f = fs.create(2, b"target", S_IFREG | 0o644).unwrap();
        for i in 0..40 {
            let name = format!("first-block-{i:03}").into_bytes();
            fs.link(d, &name, f).unwrap();
            live.insert(name);
        }
        let indexed = |fs: &Filesystem| fs.read_inode(d).unwrap().flags() & flags::INDEX != 0;
        assert!(!indexed(&fs), "one block is not indexed");
        for i in 0..2000 {
            let name = format!("later-{i:05}").into_bytes();
            fs.link(d, &name, f).unwrap();
            live.insert(name);
        }
        assert_eq!(indexed(&fs), auto);
        check_model(&fs, d, f, &live, &[], auto);
        fs.close().unwrap();
        e2fsck_clean(&img);
        if auto {
            htree_clean(&img, "/d");
        }
    }
}
