//! A tree of more than 5,000 entries, put into an image by the real
//! `mke2fs -d`, walked through the library: names, types, modes, owners,
//! sizes, link targets and contents equal the source tree. And the library
//! opens every damaged image of the e2fsprogs suite without panicking.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use ext2fs::fs::{Filesystem, OpenOptions};
use integration_tests::*;

#[derive(Debug, PartialEq, Eq)]
struct Facts {
    kind: char,
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    nlink: u64,
    /// Content hash for files, target for symlinks, rdev for devices.
    detail: String,
    /// user.* xattrs, name=hash, sorted.
    xattrs: String,
}

fn hash(data: &[u8]) -> String {
    // FNV-1a: enough to tell contents apart in a test.
    let mut h: u64 = 0xcbf29ce484222325;
    for &b in data {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}/{}", data.len())
}

fn make_tree(root: &Path) {
    let mk = |p: &Path| std::fs::create_dir_all(p).unwrap();
    mk(root);
    // Many sizes, including around the direct/indirect boundaries.
    let sizes = [
        0usize,
        1,
        59,
        60,
        1023,
        1024,
        1025,
        4095,
        4096,
        12 * 1024,
        13 * 1024,
        300_000,
    ];
    for (i, s) in sizes.iter().enumerate() {
        let data: Vec<u8> = (0..*s).map(|j| (j * 31 + i) as u8).collect();
        std::fs::write(root.join(format!("size-{s}")), data).unwrap();
    }
    // Sparse: a hole, data, a hole, data at 5 MiB.
    let f = std::fs::File::create(root.join("sparse")).unwrap();
    use std::os::unix::fs::FileExt;
    f.write_all_at(b"middle", 100_000).unwrap();
    f.write_all_at(b"end", 5 << 20).unwrap();
    // Deep directories.
    let mut deep = root.join("deep");
    for i in 0..40 {
        deep = deep.join(format!("level{i}"));
    }
    mk(&deep);
    std::fs::write(deep.join("bottom"), b"deep file").unwrap();
    // A directory big enough for an htree, and many small ones.
    let big = root.join("big");
    mk(&big);
    for i in 0..3000 {
        std::fs::write(big.join(format!("entry-number-{i:05}")), i.to_string()).unwrap();
    }
    for d in 0..100 {
        let dir = root.join(format!("dirs/d{d:03}"));
        mk(&dir);
        for f in 0..20 {
            std::fs::write(dir.join(format!("f{f}")), format!("{d}/{f}")).unwrap();
        }
    }
    // Symlinks short and long, hard links, fifos, devices, odd modes/owners.
    std::os::unix::fs::symlink("size-1", root.join("short-link")).unwrap();
    std::os::unix::fs::symlink("x".repeat(200), root.join("long-link")).unwrap();
    std::fs::hard_link(root.join("size-1024"), root.join("hard-1")).unwrap();
    std::fs::hard_link(root.join("size-1024"), root.join("dirs/hard-2")).unwrap();
    let ok = |c: &mut Command| c.status().map(|s| s.success()).unwrap_or(false);
    assert!(ok(Command::new("mkfifo").arg(root.join("fifo"))));
    if rustix::process::geteuid().is_root() {
        assert!(ok(Command::new("mknod")
            .arg(root.join("null"))
            .args(["c", "1", "3"])));
        assert!(ok(Command::new("mknod")
            .arg(root.join("blk"))
            .args(["b", "8", "1"])));
        std::os::unix::fs::chown(root.join("size-59"), Some(1234), Some(5678)).unwrap();
    }
    std::fs::set_permissions(
        root.join("size-60"),
        std::fs::Permissions::from_mode(0o4751),
    )
    .unwrap();
    // Extended attributes: small ones (in the inode) and a large one (block).
    for (file, name, value) in [
        ("size-1", "user.mime", b"text/plain".to_vec()),
        ("size-1", "user.big", vec![b'v'; 600]),
        ("dirs", "user.dir", b"on a directory".to_vec()),
    ] {
        rustix::fs::setxattr(
            root.join(file),
            name,
            &value,
            rustix::fs::XattrFlags::empty(),
        )
        .unwrap_or_else(|e| panic!("setxattr {name} on {file}: {e}"));
    }
}

fn user_xattrs_of_source(p: &Path) -> String {
    let mut names = vec![0u8; 4096];
    let n = rustix::fs::llistxattr(p, &mut names).unwrap_or(0);
    let mut out: Vec<String> = names[..n]
        .split(|&b| b == 0)
        .filter(|n| n.starts_with(b"user."))
        .map(|n| {
            let name = String::from_utf8_lossy(n).into_owned();
            let mut v = vec![0u8; 65536];
            let len = rustix::fs::lgetxattr(p, name.as_str(), &mut v).unwrap_or(0);
            format!("{name}={}", hash(&v[..len]))
        })
        .collect();
    out.sort();
    out.join(",")
}

fn source_facts(root: &Path) -> BTreeMap<String, Facts> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(root).min_depth(1) {
        let e = e.unwrap();
        let m = e.path().symlink_metadata().unwrap();
        let rel = e
            .path()
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let ft = m.file_type();
        let (kind, detail) = if ft.is_dir() {
            ('d', String::new())
        } else if ft.is_symlink() {
            (
                'l',
                std::fs::read_link(e.path())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            )
        } else if ft.is_file() {
            ('f', hash(&std::fs::read(e.path()).unwrap()))
        } else {
            use std::os::unix::fs::FileTypeExt;
            let k = if ft.is_fifo() {
                'p'
            } else if ft.is_char_device() {
                'c'
            } else {
                'b'
            };
            (
                k,
                format!(
                    "{}:{}",
                    rustix::fs::major(m.rdev()),
                    rustix::fs::minor(m.rdev())
                ),
            )
        };
        let size = if kind == 'd' { 0 } else { m.size() };
        out.insert(
            rel,
            Facts {
                kind,
                mode: m.mode() & 0o7777,
                uid: m.uid(),
                gid: m.gid(),
                size,
                nlink: if kind == 'd' { 0 } else { m.nlink() },
                detail,
                xattrs: user_xattrs_of_source(e.path()),
            },
        );
    }
    out
}

fn image_facts(fs: &Filesystem) -> BTreeMap<String, Facts> {
    let mut out = BTreeMap::new();
    fs.walk_tree(2, |path, e| {
        let rel = String::from_utf8_lossy(path).into_owned();
        if rel == "lost+found" {
            return Ok(());
        }
        let i = fs.read_inode(e.inode)?;
        let (kind, detail) = if i.is_dir() {
            ('d', String::new())
        } else if i.is_symlink() {
            (
                'l',
                String::from_utf8_lossy(&fs.read_link(&i)?).into_owned(),
            )
        } else if i.is_reg() {
            ('f', hash(&fs.read_file(&i)?))
        } else {
            let (ma, mi) = i.device();
            let k = match i.file_type() {
                ext2fs::inode::S_IFIFO => 'p',
                ext2fs::inode::S_IFCHR => 'c',
                _ => 'b',
            };
            let detail = if k == 'p' {
                "0:0".into()
            } else {
                format!("{ma}:{mi}")
            };
            (k, detail)
        };
        // The dirent's file type agrees with the inode.
        assert_eq!(
            e.file_type,
            ext2fs::inode::mode_to_dirent_type(i.mode()),
            "{rel}"
        );
        out.insert(
            rel,
            Facts {
                kind,
                mode: (i.mode() & 0o7777) as u32,
                uid: i.uid(),
                gid: i.gid(),
                size: if kind == 'd' { 0 } else { i.size() },
                nlink: if kind == 'd' {
                    0
                } else {
                    i.base.i_links_count as u64
                },
                detail,
                xattrs: {
                    let mut v: Vec<String> = fs
                        .list_xattrs(e.inode)?
                        .into_iter()
                        .filter(|a| a.name.starts_with("user."))
                        .map(|a| format!("{}={}", a.name, hash(&a.value)))
                        .collect();
                    v.sort();
                    v.join(",")
                },
            },
        );
        Ok(())
    })
    .unwrap();
    out
}

#[test]
fn tree_of_5000_entries_reads_back_exactly() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    make_tree(&src);
    let want = source_facts(&src);
    assert!(want.len() >= 5000, "only {} entries", want.len());
    for bs in ["1024", "4096"] {
        let img = dir.path().join(format!("tree-{bs}.img"));
        real_mkfs(
            &img,
            &["-b", bs, "-I", "256", "-d", src.to_str().unwrap()],
            "64M",
        );
        // mke2fs -d writes linear directories; e2fsck -D indexes them.
        let out = run(Command::new("e2fsck").args(["-fyD"]).arg(&img));
        assert!(
            out.status.code().unwrap_or(8) < 4,
            "e2fsck -fyD: {}",
            text(&out)
        );
        let fs = Filesystem::open(&img, &OpenOptions::default()).unwrap();
        let big = fs.read_inode(fs.namei(2, "/big").unwrap()).unwrap();
        assert!(
            big.flags() & ext2fs::inode::flags::INDEX != 0,
            "the 3000-entry directory should be an htree"
        );
        let got = image_facts(&fs);
        let missing: Vec<_> = want
            .keys()
            .filter(|k| !got.contains_key(*k))
            .take(5)
            .collect();
        assert!(
            missing.is_empty(),
            "-b {bs}: missing from image: {missing:?}"
        );
        for (k, w) in &want {
            assert_eq!(&got[k], w, "-b {bs}: {k}");
        }
        assert_eq!(got.len(), want.len());
        // The sparse file keeps its holes: 3 data blocks at most plus maps.
        let sp = fs.read_inode(fs.namei(2, "/sparse").unwrap()).unwrap();
        assert!(
            fs.data_blocks(&sp).unwrap().len() <= 3,
            "sparse file lost its holes"
        );
    }
}

/// Opens and walks every image of ../shared/e2fsck-tests: errors are fine
/// (they are damaged on purpose), panics and hangs are not.
#[test]
fn opens_every_conformance_image_without_panicking() {
    let Some(shared) = shared_dir() else {
        skip("../shared/e2fsck-tests is not beside the checkout");
        return;
    };
    let tests = shared.join("e2fsck-tests");
    let dir = tempfile::tempdir().unwrap();
    let mut opened = HashMap::new();
    let mut names: Vec<_> = std::fs::read_dir(&tests)
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("image.gz").is_file())
        .collect();
    names.sort_by_key(|e| e.file_name());
    assert!(
        names.len() >= 30,
        "expected the 34 images, found {}",
        names.len()
    );
    for e in names {
        let name = e.file_name().to_string_lossy().into_owned();
        let img = dir.path().join(&name);
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "gzip -dc '{}' > '{}'",
                e.path().join("image.gz").display(),
                img.display()
            ))
            .status()
            .unwrap();
        assert!(out.success(), "gunzip {name}");
        let result = std::panic::catch_unwind(|| walk_everything(&img));
        assert!(result.is_ok(), "{name}: the library panicked");
        opened.insert(name, result.unwrap());
    }
    // Most images have intact superblocks: the library must open them.
    let ok = opened.values().filter(|r| r.is_ok()).count();
    assert!(ok >= 25, "library opened only {ok} images: {opened:?}");
}

/// Opens and sweeps an image; Ok(number of read errors met).
fn walk_everything(img: &Path) -> Result<usize, String> {
    let fs = Filesystem::open(
        img,
        &OpenOptions {
            force: true,
            ..Default::default()
        },
    )
    .map_err(|e| e.to_string())?;
    // Every inode, every block map, every directory, tolerating errors.
    Ok(fs.sweep(200_000).len())
}
