//! Undo files (-z) against the real e2undo: after a run of mke2fs-union,
//! e2fsck-union or debugfs-union -w with an undo file, `e2undo FILE IMG`
//! puts back every byte of the image as it was. Also the refusals (a
//! symbolic link, the device itself, a missing directory, a file of another
//! filesystem), the undo directory rules, and random write sequences
//! through the library replayed by the real e2undo.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use integration_tests::*;

fn ours(tool: &str, args: &[&str]) -> Output {
    run(Command::new(our_bin(tool))
        .args(args)
        .env_remove("E2FSPROGS_UNDO_DIR")
        .env_remove("MKE2FS_CONFIG"))
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn skip_without_e2undo() -> bool {
    if skip_without_e2fsprogs() {
        return true;
    }
    if !have_tool("e2undo") {
        skip("the real e2undo is not installed");
        return true;
    }
    false
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs the real e2undo and checks the image is byte for byte `before`.
fn assert_undone(undo: &Path, img: &Path, before: &[u8], what: &str) {
    let out = run(Command::new("e2undo").arg(undo).arg(img));
    assert_eq!(code(&out), 0, "{what}: e2undo failed:\n{}", text(&out));
    assert!(
        !text(&out).contains("Incomplete undo record"),
        "{what}: {}",
        text(&out)
    );
    let after = std::fs::read(img).unwrap();
    assert!(after == before, "{what}: e2undo did not restore the image");
}

/// An image from the real mke2fs with some files in it.
fn real_image(dir: &Path, args: &[&str]) -> PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    for i in 0..30 {
        std::fs::write(src.join(format!("d/f{i}")), vec![b'a' + i as u8; 1500 * i]).unwrap();
    }
    let img = dir.join("real.img");
    let mut a = vec!["-d", s(&src)];
    a.extend_from_slice(args);
    real_mkfs(&img, &a, "16M");
    img
}

#[test]
fn mke2fs_over_a_real_image_is_undone() {
    if skip_without_e2undo() {
        return;
    }
    for (i, (old, new)) in [
        (vec!["-b", "1024"], vec!["-b", "4096"]),
        (
            vec!["-b", "4096"],
            vec!["-O", "whiteout", "-b", "1024", "-I", "256"],
        ),
        (vec!["-b", "2048"], vec!["-b", "2048", "-S"]),
    ]
    .into_iter()
    .enumerate()
    {
        let dir = tempfile::tempdir().unwrap();
        let img = real_image(dir.path(), &old);
        let before = std::fs::read(&img).unwrap();
        let undo = dir.path().join("u.e2undo");
        let mut args = vec!["-F", "-z", s(&undo)];
        args.extend_from_slice(&new);
        args.push(s(&img));
        let out = ours("mke2fs-union", &args);
        assert_eq!(code(&out), 0, "case {i}: {}", text(&out));
        assert!(
            text(&out).contains(&format!(
                "Overwriting existing filesystem; this can be undone using the command:\n    e2undo {} {}\n\n",
                undo.display(),
                img.display()
            )),
            "case {i}: {}",
            text(&out)
        );
        // At most the device plus its key blocks, header and superblock.
        let len = std::fs::metadata(&undo).unwrap().len();
        assert!(
            len <= before.len() as u64 + before.len() as u64 / 100 + 4 * 32768,
            "case {i}: undo file of {len} bytes for a {}-byte image",
            before.len()
        );
        assert_undone(&undo, &img, &before, &format!("case {i}"));
    }
}

#[test]
fn mke2fs_over_a_union_image_with_files_and_offset_is_undone() {
    if skip_without_e2undo() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    make_sample_tree(&src);
    std::fs::remove_dir_all(src.join("a/b/c")).unwrap();
    let img = dir.path().join("u.img");
    let made = ours(
        "mke2fs-union",
        &["-q", "-F", "-O", "whiteout", "-d", s(&src), s(&img), "24M"],
    );
    assert_eq!(code(&made), 0, "{}", text(&made));
    let before = std::fs::read(&img).unwrap();
    // A new filesystem filled from a tree (the copy's own writes, direct
    // I/O included, go to the same undo file).
    let undo = dir.path().join("fill.e2undo");
    let out = ours(
        "mke2fs-union",
        &[
            "-q",
            "-F",
            "-b",
            "4096",
            "-z",
            s(&undo),
            "-d",
            s(&src),
            s(&img),
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_undone(&undo, &img, &before, "-d");
    // A filesystem inside the file (-E offset): e2undo takes the offset
    // from the undo file.
    let undo = dir.path().join("offset.e2undo");
    let out = ours(
        "mke2fs-union",
        &[
            "-q",
            "-F",
            "-E",
            "offset=65536",
            "-z",
            s(&undo),
            s(&img),
            "8M",
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    let h = run(Command::new("e2undo").arg("-h").arg(&undo).arg(&img));
    assert!(text(&h).contains("fs offset:\t65536"), "{}", text(&h));
    assert_undone(&undo, &img, &before, "-E offset");
}

#[test]
fn e2fsck_repair_is_undone() {
    if skip_without_e2undo() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = real_image(dir.path(), &["-b", "1024"]);
    for req in [
        "set_inode_field <2> links_count 9",
        "freeb 300 20",
        "set_super_value free_inodes_count 3",
        "clri <13>",
    ] {
        let out = run(Command::new("debugfs").args(["-w", "-R", req]).arg(&img));
        assert!(out.status.success(), "{req}: {}", text(&out));
    }
    let before = std::fs::read(&img).unwrap();
    let undo = dir.path().join("fsck.e2undo");
    let out = ours("e2fsck-union", &["-fy", "-z", s(&undo), s(&img)]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert_ne!(std::fs::read(&img).unwrap(), before, "nothing was repaired");
    assert_undone(&undo, &img, &before, "e2fsck-union -fy");
}

#[test]
fn debugfs_edits_are_undone() {
    if skip_without_e2undo() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = real_image(dir.path(), &["-b", "4096"]);
    let before = std::fs::read(&img).unwrap();
    let undo = dir.path().join("dbg.e2undo");
    let cmds = dir.path().join("cmds");
    let data = dir.path().join("data");
    std::fs::write(&data, vec![5u8; 200_000]).unwrap();
    std::fs::write(
        &cmds,
        format!(
            "mkdir new\nwrite {} new/data\nrm d/f3\nset_inode_field d/f4 mode 0100600\n",
            data.display()
        ),
    )
    .unwrap();
    let out = ours(
        "debugfs-union",
        &["-w", "-z", s(&undo), "-f", s(&cmds), s(&img)],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_ne!(std::fs::read(&img).unwrap(), before, "nothing was written");
    assert_undone(&undo, &img, &before, "debugfs-union -w");
    // The same through the open request.
    let undo = dir.path().join("open.e2undo");
    std::fs::write(
        &cmds,
        format!(
            "open -w -z {} {}\nmkdir other\n",
            undo.display(),
            img.display()
        ),
    )
    .unwrap();
    let out = ours("debugfs-union", &["-f", s(&cmds)]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("Overwriting existing filesystem"),
        "{}",
        text(&out)
    );
    assert_ne!(
        std::fs::read(&img).unwrap(),
        before,
        "open -w -z wrote nothing"
    );
    assert_undone(&undo, &img, &before, "open -w -z");
}

#[test]
fn unusable_undo_files_are_refused() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = real_image(dir.path(), &["-b", "1024"]);
    let before = std::fs::read(&img).unwrap();
    let link = dir.path().join("link.e2undo");
    let target = dir.path().join("target");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let hard = dir.path().join("same.img");
    std::fs::hard_link(&img, &hard).unwrap();
    let garbage = dir.path().join("garbage.e2undo");
    std::fs::write(&garbage, b"not an undo file").unwrap();
    let missing = dir.path().join("no/such/dir.e2undo");
    let cases: [(&Path, &str); 4] = [
        (&link, "symbolic link"),
        (&hard, "the device itself"),
        (&garbage, "Undo file corrupt"),
        (&missing, "No such file or directory"),
    ];
    for (undo, why) in cases {
        let m = ours("mke2fs-union", &["-q", "-F", "-z", s(undo), s(&img)]);
        assert_eq!(code(&m), 1, "mke2fs {why}: {}", text(&m));
        assert!(
            text(&m).contains(why) && text(&m).contains("while setting up superblock"),
            "mke2fs {why}: {}",
            text(&m)
        );
        let f = ours("e2fsck-union", &["-fy", "-z", s(undo), s(&img)]);
        assert_eq!(code(&f), 8, "e2fsck {why}: {}", text(&f));
        assert!(
            text(&f).contains(why) && text(&f).contains("while trying to open"),
            "e2fsck {why}: {}",
            text(&f)
        );
        let d = ours(
            "debugfs-union",
            &["-w", "-z", s(undo), "-R", "mkdir x", s(&img)],
        );
        assert!(
            text(&d).contains(why) && text(&d).contains("Filesystem not open"),
            "debugfs {why}: {}",
            text(&d)
        );
        assert!(
            std::fs::read(&img).unwrap() == before,
            "{why}: image changed"
        );
    }
    assert!(!target.exists(), "the symbolic link was followed");
    // An undo file of an earlier state of the filesystem.
    let first = dir.path().join("first.e2undo");
    let out = ours("e2fsck-union", &["-fy", "-z", s(&first), s(&img)]);
    assert!(matches!(code(&out), 0 | 1), "{}", text(&out));
    let out = run(Command::new("debugfs")
        .args(["-w", "-R", "mkdir other"])
        .arg(&img));
    assert!(out.status.success());
    let out = ours("e2fsck-union", &["-fy", "-z", s(&first), s(&img)]);
    assert_eq!(code(&out), 8, "{}", text(&out));
    assert!(
        text(&out).contains("Wrong undo file for this filesystem"),
        "{}",
        text(&out)
    );
}

#[test]
fn undo_directory_and_force_undo() {
    if skip_without_e2undo() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = real_image(dir.path(), &["-b", "1024"]);
    let undo_dir = dir.path().join("undo");
    std::fs::create_dir(&undo_dir).unwrap();
    let conf = dir.path().join("mke2fs.conf");
    std::fs::write(&conf, "[defaults]\n\tforce_undo = 1\n").unwrap();
    let auto = undo_dir.join("mke2fs-real.img.e2undo");
    // A stale file of the generated name is replaced.
    std::fs::write(&auto, b"stale").unwrap();
    let before = std::fs::read(&img).unwrap();
    let mk = |env_dir: &str| {
        run(Command::new(our_bin("mke2fs-union"))
            .args(["-q", "-F", s(&img)])
            .env("MKE2FS_CONFIG", &conf)
            .env("E2FSPROGS_UNDO_DIR", env_dir))
    };
    let out = mk(s(&undo_dir));
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains(&format!("e2undo {} ", auto.display())),
        "{}",
        text(&out)
    );
    assert_undone(&auto, &img, &before, "force_undo");
    std::fs::remove_file(&auto).unwrap();
    let out = mk("none");
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(!text(&out).contains("Overwriting"), "{}", text(&out));
    // e2fsck and debugfs: an empty -z name means the undo directory.
    let fsck = run(Command::new(our_bin("e2fsck-union"))
        .args(["-fy", "-z", "", s(&img)])
        .env("E2FSPROGS_UNDO_DIR", &undo_dir));
    assert!(matches!(code(&fsck), 0 | 1), "{}", text(&fsck));
    assert!(undo_dir.join("e2fsck-real.img.e2undo").exists());
    let dbg = run(Command::new(our_bin("debugfs-union"))
        .args(["-w", "-z", "", "-R", "mkdir z", s(&img)])
        .env("E2FSPROGS_UNDO_DIR", &undo_dir));
    assert!(dbg.status.success(), "{}", text(&dbg));
    assert!(undo_dir.join("debugfs-real.img.e2undo").exists());
}

/// A small xorshift generator: the cases are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Random write sequences through the library (single bytes, runs over
/// many undo blocks, rewrites), then the real e2undo: every byte is back.
#[test]
fn random_writes_replayed_by_real_e2undo() {
    if skip_without_e2undo() {
        return;
    }
    for seed in 1..=24u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("img");
        let len = 1_000_000 + rng.below(300_000) as usize;
        let original: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        std::fs::write(&img, &original).unwrap();
        let block = [1024u32, 4096, 32768][rng.below(3) as usize];
        let fs_block = [1024u32, block][rng.below(2) as usize];
        let undo_path = dir.path().join("u.e2undo");
        {
            let mut image = ext2fs::image::Image::open_read_write(&img).unwrap();
            let undo = ext2fs::undo::Undo::open(&undo_path, &image, 0, block, fs_block).unwrap();
            image.attach_undo(undo);
            for _ in 0..rng.below(60) + 1 {
                let at = rng.below(len as u64);
                let longest = if rng.below(4) == 0 { 200_000 } else { 3000 };
                let n = (1 + rng.below(longest)).min(len as u64 - at);
                let v = rng.next() as u8;
                image.write_at(at, &vec![v; n as usize]).unwrap();
            }
            image.sync().unwrap();
        }
        assert_undone(&undo_path, &img, &original, &format!("seed {seed}"));
    }
}

/// Applies an undo file as e2undo's replay does (without the superblock
/// state e2undo then changes for an incomplete record): the old contents
/// of every key, at its place.
fn replay_ourselves(undo: &Path, img: &Path) -> Vec<u8> {
    let file = std::fs::File::open(undo).unwrap();
    let c = ext2fs::undo::read_contents(&file, undo).unwrap();
    let mut bytes = std::fs::read(img).unwrap();
    let base = c.header.fs_offset as usize;
    for (i, (key, _)) in c.keys.iter().enumerate() {
        let data = c.data(&file, undo, i).unwrap();
        let at = base + (key.fsblk * c.header.fs_block_size as u64) as usize;
        bytes[at..at + data.len()].copy_from_slice(&data);
    }
    bytes
}

/// A run stopped at its N-th write (as if the machine stopped there)
/// leaves an undo file that still holds every block it changed, marked
/// unfinished; the real e2undo accepts it and says so.
#[test]
fn interrupted_runs_stay_undoable() {
    if skip_without_e2undo() {
        return;
    }
    let env = ext2fs::image::FAIL_WRITE_ENV;
    for (tool, fail_at) in [
        ("mke2fs-union", 2),
        ("mke2fs-union", 5),
        ("mke2fs-union", 9),
        ("e2fsck-union", 2),
        ("e2fsck-union", 4),
    ] {
        let what = format!("{tool} stopped at write {fail_at}");
        let dir = tempfile::tempdir().unwrap();
        let img = real_image(dir.path(), &["-b", "1024"]);
        if tool == "e2fsck-union" {
            let out = run(Command::new("debugfs")
                .args(["-w", "-R", "freeb 300 40"])
                .arg(&img));
            assert!(out.status.success());
        }
        let before = std::fs::read(&img).unwrap();
        let undo = dir.path().join("u.e2undo");
        let args: &[&str] = if tool == "mke2fs-union" {
            &["-q", "-F", "-b", "4096"]
        } else {
            &["-fy"]
        };
        let out = run(Command::new(our_bin(tool))
            .args(args)
            .arg("-z")
            .arg(&undo)
            .arg(&img)
            .env(env, fail_at.to_string()));
        assert!(
            code(&out) != 0 && text(&out).contains("injected write failure"),
            "{what}: {}",
            text(&out)
        );
        assert_ne!(
            std::fs::read(&img).unwrap(),
            before,
            "{what}: nothing written"
        );
        assert!(
            replay_ourselves(&undo, &img) == before,
            "{what}: the undo file misses changed blocks"
        );
        let h = run(Command::new("e2undo").arg("-h").arg(&undo).arg(&img));
        assert!(text(&h).contains("state:\t\t0x0"), "{what}: {}", text(&h));
        let out = run(Command::new("e2undo").arg(&undo).arg(&img));
        assert_eq!(code(&out), 0, "{what}: {}", text(&out));
        assert!(
            text(&out).contains("Incomplete undo record"),
            "{what}: {}",
            text(&out)
        );
    }
}
