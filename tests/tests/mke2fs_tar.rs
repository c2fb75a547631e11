//! mke2fs-union -d ARCHIVE: a tar archive (plain, gzip, xz, zstd, or on
//! standard input) gives the same filesystem as the tree it was made
//! from; OCI layers become whiteouts and opaque directories; several
//! sources merge like container layers; images are reproducible; bad
//! archives fail naming the member and never write outside the image.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use ext2fs::fs::{Filesystem, OpenOptions};
use integration_tests::*;

const EPOCH: &str = "1700000000";
const SEED: &str = "hash_seed=11111111-2222-3333-4444-555555555555";
const UUID: &str = "01234567-89ab-cdef-0123-456789abcdef";

fn mk(img: &Path, args: &[&str], size: &str) -> Output {
    let _ = std::fs::remove_file(img);
    run(Command::new(our_bin("mke2fs-union"))
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .args(["-q", "-F", "-U", UUID])
        .args(args)
        .arg(img)
        .arg(size))
}

fn mk_ok(img: &Path, args: &[&str], size: &str) {
    let out = mk(img, args, size);
    assert!(
        out.status.success(),
        "mke2fs-union {args:?}: {}",
        text(&out)
    );
}

/// mke2fs-union with `-d -`, the archive written into a pipe (`pipe`) or
/// standard input redirected from the file.
fn mk_stdin(img: &Path, archive: &Path, pipe: bool) -> Output {
    use std::io::Write;
    let _ = std::fs::remove_file(img);
    let mut c = Command::new(our_bin("mke2fs-union"));
    c.env("SOURCE_DATE_EPOCH", EPOCH)
        .args(["-q", "-F", "-U", UUID, "-E", SEED, "-d", "-"])
        .arg(img)
        .arg("64M")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if !pipe {
        return run(c.stdin(std::fs::File::open(archive).unwrap()));
    }
    let mut child = c.stdin(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = std::fs::read(archive).unwrap();
    let w = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    w.join().unwrap();
    out
}

fn sh(cmd: &mut Command) {
    let out = run(cmd);
    assert!(out.status.success(), "{cmd:?}: {}", text(&out));
}

fn root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A tree with every kind of file the tar path must carry over.
fn make_tree(src: &Path) {
    make_sample_tree(src);
    // Data at the start of the sparse file too, and a target outside the
    // tree (kept as a link, never followed).
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(src.join("sparse"))
        .unwrap();
    f.write_all_at(b"head", 0).unwrap();
    std::os::unix::fs::symlink("/etc/shadow", src.join("absolute")).unwrap();
    if root() {
        sh(Command::new("mknod")
            .arg(src.join("loop9"))
            .args(["b", "7", "9"]));
    }
    // Fixed times: the tree and the archive agree to the second.
    sh(Command::new("find").arg(src).args([
        "-exec",
        "touch",
        "-h",
        "-d",
        "@1600000000",
        "{}",
        "+",
    ]));
}

/// `tar` of a tree with the system tar: sparse, numeric owners, and
/// xattrs in PAX (GNU tar stores them only there).
fn system_tar(src: &Path, out: &Path, format: &str) {
    let mut c = Command::new("tar");
    if format == "pax" {
        c.args(["--xattrs", "--xattrs-include=*"]);
    }
    sh(c.args(["--sparse", "--numeric-owner"])
        .arg(format!("--format={format}"))
        .arg("-C")
        .arg(src)
        .arg("-cf")
        .arg(out)
        .arg("."));
}

/// What the filesystem holds, path by path: type, mode, owner, mtime,
/// links, size, content hash, link target, device, xattrs, union state.
fn snapshot(img: &Path) -> BTreeMap<String, String> {
    let fs = Filesystem::open(img, &OpenOptions::default()).unwrap();
    let mut out = BTreeMap::new();
    let mut first = BTreeMap::new();
    walk(&fs, 2, "", &mut out, &mut first);
    out
}

fn walk(
    fs: &Filesystem,
    dir: u32,
    prefix: &str,
    out: &mut BTreeMap<String, String>,
    first: &mut BTreeMap<u32, String>,
) {
    for e in fs.read_dir(dir).unwrap() {
        if e.is_dot() || e.is_dotdot() || (dir == 2 && e.name == b"lost+found") {
            continue;
        }
        let path = format!("{prefix}/{}", String::from_utf8_lossy(&e.name));
        if e.is_whiteout() {
            out.insert(path, "whiteout".into());
            continue;
        }
        let ino = fs.read_inode(e.inode).unwrap();
        let mut d = format!(
            "mode={:o} owner={}:{} mtime={} links={}",
            ino.mode(),
            ino.uid(),
            ino.gid(),
            ino.base.i_mtime,
            ino.base.i_links_count
        );
        let xattrs = fs.list_xattrs(e.inode).unwrap();
        if !xattrs.is_empty() {
            d += &format!(" xattrs={xattrs:?}");
        }
        if ino.is_dir() {
            if ino.is_opaque() {
                d += " opaque";
            }
            out.insert(path.clone(), d);
            walk(fs, e.inode, &path, out, first);
            continue;
        }
        if ino.base.i_links_count > 1 {
            let f = first.entry(e.inode).or_insert_with(|| path.clone());
            d += &format!(" same-as={f}");
        }
        if ino.is_symlink() {
            d += &format!(
                " -> {}",
                String::from_utf8_lossy(&fs.read_link(&ino).unwrap())
            );
        } else if ino.is_reg() {
            let data = fs.read_file(&ino).unwrap();
            let mut h = std::collections::hash_map::DefaultHasher::new();
            data.hash(&mut h);
            d += &format!(" size={} data={:x}", ino.size(), h.finish());
        } else if ino.is_device() {
            d += &format!(" dev={:?}", ino.device());
        }
        out.insert(path, d);
    }
}

fn assert_same(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>, what: &str) {
    for (k, v) in a {
        assert_eq!(Some(v), b.get(k), "{what}: {k}");
    }
    for k in b.keys() {
        assert!(a.contains_key(k), "{what}: {k} only in the second image");
    }
}

#[test]
fn a_tar_gives_the_same_filesystem_as_its_tree() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    make_tree(&src);
    let (dimg, timg) = (dir.path().join("dir.img"), dir.path().join("tar.img"));
    mk_ok(&dimg, &["-d", src.to_str().unwrap()], "64M");
    let want = snapshot(&dimg);
    assert!(want.contains_key("/a/many-0002") && want.contains_key("/fifo"));
    for format in ["pax", "gnu"] {
        let tar = dir.path().join(format!("{format}.tar"));
        system_tar(&src, &tar, format);
        mk_ok(&timg, &["-E", SEED, "-d", tar.to_str().unwrap()], "64M");
        // Streamed (sparse members spooled, not read in place): the same.
        let simg = dir.path().join("stdin.img");
        let out = mk_stdin(&simg, &tar, true);
        assert!(out.status.success(), "{format} stdin: {}", text(&out));
        let same = run(Command::new("cmp").arg(&timg).arg(&simg));
        assert!(same.status.success(), "{format}: stdin image differs");
        let mut got = snapshot(&timg);
        let mut want = want.clone();
        if format == "gnu" {
            for m in [&mut got, &mut want] {
                for v in m.values_mut() {
                    if let Some(i) = v.find(" xattrs=") {
                        let j = v[i..].find("}]").map_or(v.len(), |j| i + j + 2);
                        v.replace_range(i..j, "");
                    }
                }
            }
        }
        assert_same(&want, &got, format);
        assert_real_fsck_clean(&timg);
        // The 300-entry directory is an htree the real debugfs reads.
        let dump = String::from_utf8_lossy(&real_debugfs(&timg, "htree_dump /a")).into_owned();
        assert!(dump.contains("Root node dump"), "{format}: {dump}");
        // The sparse file keeps its holes (PAX or GNU sparse members).
        let fs = Filesystem::open(&timg, &OpenOptions::default()).unwrap();
        let sp = fs.read_inode(fs.namei(2, "/sparse").unwrap()).unwrap();
        assert_eq!(sp.size(), (10 << 20) + 1);
        assert!(
            sp.base.i_blocks <= 32,
            "{format}: {} sectors",
            sp.base.i_blocks
        );
        // The absolute symlink is kept as it is.
        let abs = fs.read_inode(fs.namei(2, "/absolute").unwrap()).unwrap();
        assert_eq!(fs.read_link(&abs).unwrap(), b"/etc/shadow");
    }
    // The real debugfs agrees: rdump of the tar image equals the tree.
    let tar = dir.path().join("pax.tar");
    mk_ok(&timg, &["-d", tar.to_str().unwrap()], "64M");
    let out = dir.path().join("rdump");
    std::fs::create_dir(&out).unwrap();
    let _ = real_debugfs(&timg, &format!("rdump /a {}", out.display()));
    let d = run(Command::new("diff")
        .arg("-r")
        .arg(src.join("a"))
        .arg(out.join("a")));
    assert!(d.status.success(), "diff -r: {}", text(&d));
    kernel_diff(&timg, &src, dir.path());
}

/// Mounts the image with the kernel (root only) and compares it with the
/// tree: contents, modes, owners, mtimes, links, devices, xattrs.
fn kernel_diff(img: &Path, src: &Path, work: &Path) {
    with_kernel_mount(img, work, |mnt| assert_mount_shows_sample_tree(src, mnt));
}

#[test]
fn compressed_archives_and_stdin_give_identical_images() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    make_tree(&src);
    let tar = dir.path().join("t.tar");
    system_tar(&src, &tar, "pax");
    let base = dir.path().join("base.img");
    mk_ok(&base, &["-E", SEED, "-d", tar.to_str().unwrap()], "64M");
    let want = std::fs::read(&base).unwrap();
    let mut variants: Vec<PathBuf> = Vec::new();
    for (tool, ext) in [("gzip", "gz"), ("xz", "xz"), ("zstd", "zst")] {
        if Command::new(tool).arg("--version").output().is_err() {
            skip(&format!("{tool} is not installed"));
            continue;
        }
        let out = dir.path().join(format!("t.tar.{ext}"));
        let o = run(Command::new(tool)
            .arg("-c")
            .arg(&tar)
            .stdout(Stdio::piped()));
        assert!(o.status.success(), "{tool}");
        std::fs::write(&out, o.stdout).unwrap();
        variants.push(out);
    }
    let img = dir.path().join("v.img");
    for v in &variants {
        mk_ok(&img, &["-E", SEED, "-d", v.to_str().unwrap()], "64M");
        assert!(std::fs::read(&img).unwrap() == want, "{v:?} differs");
    }
    // Standard input, a pipe or redirected from the file: plain and
    // compressed.
    for v in std::iter::once(&tar).chain(&variants) {
        for pipe in [true, false] {
            let out = mk_stdin(&img, v, pipe);
            assert!(out.status.success(), "stdin {v:?}: {}", text(&out));
            assert!(
                std::fs::read(&img).unwrap() == want,
                "stdin {v:?} (pipe: {pipe}) differs"
            );
        }
    }
    // A fifo named as the source (`-d <(zcat layer.tar.gz)`), plain too.
    let fifo = dir.path().join("fifo");
    for v in std::iter::once(&tar).chain(&variants) {
        let _ = std::fs::remove_file(&fifo);
        sh(Command::new("mkfifo").arg(&fifo));
        let (data, path) = (std::fs::read(v).unwrap(), fifo.clone());
        let w = std::thread::spawn(move || {
            use std::io::Write;
            // The tool may stop reading early on failure: ignore EPIPE.
            let _ = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .and_then(|mut f| f.write_all(&data));
        });
        mk_ok(&img, &["-E", SEED, "-d", fifo.to_str().unwrap()], "64M");
        w.join().unwrap();
        assert!(std::fs::read(&img).unwrap() == want, "fifo {v:?} differs");
    }
}

/// A tar built with the `tar` crate, members in the given order.
struct Member<'a> {
    path: &'a str,
    kind: tar::EntryType,
    data: &'a [u8],
    link: &'a str,
    mtime: u64,
}

fn file<'a>(path: &'a str, data: &'a [u8]) -> Member<'a> {
    Member {
        path,
        kind: tar::EntryType::Regular,
        data,
        link: "",
        mtime: 1_600_000_000,
    }
}

fn dir_m(path: &str) -> Member<'_> {
    Member {
        path,
        kind: tar::EntryType::Directory,
        data: b"",
        link: "",
        mtime: 1_600_000_000,
    }
}

fn build_tar(out: &Path, members: &[Member]) {
    let mut b = tar::Builder::new(std::fs::File::create(out).unwrap());
    for m in members {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(m.kind);
        h.set_mode(if m.kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        h.set_mtime(m.mtime);
        h.set_uid(0);
        h.set_gid(0);
        h.set_size(m.data.len() as u64);
        match m.kind {
            tar::EntryType::Symlink | tar::EntryType::Link => {
                b.append_link(&mut h, m.path, m.link).unwrap();
            }
            _ => b.append_data(&mut h, m.path, m.data).unwrap(),
        }
    }
    b.finish().unwrap();
}

/// A ustar header for a member without data (a device, a directory),
/// dated 1_600_000_000.
fn empty_member(
    kind: tar::EntryType,
    mode: u32,
    owner: (u64, u64),
    dev: (u32, u32),
) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_device_major(dev.0).unwrap();
    h.set_device_minor(dev.1).unwrap();
    h.set_size(0);
    h.set_uid(owner.0);
    h.set_gid(owner.1);
    h.set_mtime(1_600_000_000);
    h
}

/// A tar whose member name is written raw (the crate refuses `..`).
fn raw_tar(out: &Path, name: &[u8], data: &[u8]) {
    let mut h = tar::Header::new_ustar();
    h.as_ustar_mut().unwrap().name[..name.len()].copy_from_slice(name);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_size(data.len() as u64);
    h.set_cksum();
    let mut b = tar::Builder::new(std::fs::File::create(out).unwrap());
    b.append(&h, data).unwrap();
    b.finish().unwrap();
}

#[test]
fn member_order_does_not_change_the_image() {
    let dir = tempfile::tempdir().unwrap();
    let big = vec![5u8; 200_000];
    let mut members = vec![
        dir_m("d/"),
        dir_m("d/sub/"),
        file("d/one", b"1"),
        file("d/sub/two", &big),
        file("top", b"top"),
        Member {
            path: "hl",
            kind: tar::EntryType::Link,
            data: b"",
            link: "top",
            mtime: 0,
        },
        Member {
            path: "sl",
            kind: tar::EntryType::Symlink,
            data: b"",
            link: "d/one",
            mtime: 1_600_000_000,
        },
        // From the future: clamped to SOURCE_DATE_EPOCH.
        Member {
            path: "future",
            kind: tar::EntryType::Regular,
            data: b"f",
            link: "",
            mtime: 4_000_000_000,
        },
    ];
    for i in 0..150 {
        let name: &'static str = Box::leak(format!("d/f{i:03}").into_boxed_str());
        members.push(file(name, b"x"));
    }
    let a = dir.path().join("a.tar");
    build_tar(&a, &members);
    // Reversed, with the link after its target still.
    let mut rev: Vec<Member> = members.into_iter().rev().collect();
    let hl = rev.iter().position(|m| m.path == "hl").unwrap();
    let hl = rev.remove(hl);
    rev.push(hl);
    let b = dir.path().join("b.tar");
    build_tar(&b, &rev);
    assert_ne!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let (ia, ib) = (dir.path().join("a.img"), dir.path().join("b.img"));
    mk_ok(&ia, &["-E", SEED, "-d", a.to_str().unwrap()], "16M");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    mk_ok(&ib, &["-E", SEED, "-d", b.to_str().unwrap()], "16M");
    let same = run(Command::new("cmp").arg(&ia).arg(&ib));
    assert!(same.status.success(), "cmp: {}", text(&same));
    let s = snapshot(&ia);
    assert!(
        s["/future"].contains(&format!("mtime={EPOCH}")),
        "{}",
        s["/future"]
    );
    assert!(s["/hl"].contains("same-as=/hl") && s["/top"].contains("same-as=/hl"));
}

/// A docker/podman `save`-style layer.tar made from a tree with OCI
/// whiteout files gives the same union image as the tree itself.
#[test]
fn oci_layer_tar_becomes_whiteouts_and_opaque_dirs() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let layer = dir.path().join("layer");
    std::fs::create_dir_all(layer.join("etc/opq/inner")).unwrap();
    std::fs::write(layer.join("etc/.wh.gone"), b"").unwrap();
    std::fs::write(layer.join("etc/.wh.both"), b"").unwrap();
    std::fs::write(layer.join("etc/both"), b"live").unwrap();
    std::fs::write(layer.join("etc/opq/.wh..wh..opq"), b"").unwrap();
    std::fs::write(layer.join("etc/opq/inner/f"), b"f").unwrap();
    std::fs::write(layer.join("kept"), b"k").unwrap();
    // docker save: <id>/layer.tar beside manifest.json, names without "./".
    let saved = dir.path().join("save/0123abcd");
    std::fs::create_dir_all(&saved).unwrap();
    let layer_tar = saved.join("layer.tar");
    sh(Command::new("tar")
        .args(["--numeric-owner", "--format=posix", "-C"])
        .arg(&layer)
        .arg("-cf")
        .arg(&layer_tar)
        .args(["etc", "kept"]));
    let args = |src: &Path| {
        vec![
            "-O".to_string(),
            "whiteout".into(),
            "-E".into(),
            "union_source=oci".into(),
            "-d".into(),
            src.to_str().unwrap().to_string(),
        ]
    };
    let (timg, dimg) = (dir.path().join("t.img"), dir.path().join("d.img"));
    let a: Vec<String> = args(&layer_tar);
    mk_ok(
        &timg,
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        "16M",
    );
    let a: Vec<String> = args(&layer);
    mk_ok(
        &dimg,
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        "16M",
    );
    let t = snapshot(&timg);
    assert_eq!(t["/etc/gone"], "whiteout");
    assert!(t["/etc/opq"].ends_with(" opaque"), "{}", t["/etc/opq"]);
    assert!(t["/etc/both"].contains("size=4"), "the live entry wins");
    assert!(!t.keys().any(|k| k.contains(".wh.")), "{t:?}");
    // The directory path gives the same union objects (its root differs:
    // the layer tar has no member for the root).
    let mut d = snapshot(&dimg);
    let mut t2 = t.clone();
    for m in [&mut d, &mut t2] {
        for v in m.values_mut() {
            if let Some(i) = v.find(" mtime=") {
                let j = v[i + 1..].find(' ').map_or(v.len(), |j| i + 1 + j);
                v.replace_range(i..j, "");
            }
        }
    }
    assert_same(&d, &t2, "layer dir vs layer.tar");
    assert_real_fsck_clean(&stock_copy(&timg));
}

#[test]
fn layers_merge_like_a_container_runtime() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lower = dir.path().join("lower.tar");
    build_tar(
        &lower,
        &[
            dir_m("a/"),
            file("a/x", b"x"),
            file("a/y", b"y"),
            dir_m("d/"),
            file("d/old", b"old"),
            dir_m("d/deep/"),
            file("d/deep/older", b"older"),
            file("keep", b"lower"),
            file("gone", b"gone"),
            file("lower-only", b"lo"),
        ],
    );
    let upper = dir.path().join("upper.tar");
    build_tar(
        &upper,
        &[
            file(".wh.gone", b""),
            file("a/.wh.x", b""),
            file("d/.wh..wh..opq", b""),
            file("d/new", b"new"),
            file("keep", b"upper"),
            file("new-top", b"nt"),
        ],
    );
    let (l, u) = (lower.to_str().unwrap(), upper.to_str().unwrap());
    let img = dir.path().join("m.img");
    // Flattened: no union objects at all.
    mk_ok(&img, &["-E", "union_source=oci", "-d", l, "-d", u], "16M");
    let s = snapshot(&img);
    let names: Vec<&str> = s.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "/a",
            "/a/y",
            "/d",
            "/d/new",
            "/keep",
            "/lower-only",
            "/new-top"
        ]
    );
    assert!(s["/keep"].contains("size=5"));
    assert!(!s["/d"].contains("opaque"));
    assert_real_fsck_clean(&img);
    // With -O whiteout: the top layer's markers stay as union objects.
    mk_ok(
        &img,
        &["-O", "whiteout", "-E", "union_source=oci", "-d", l, "-d", u],
        "16M",
    );
    let s = snapshot(&img);
    assert_eq!(s["/gone"], "whiteout");
    assert_eq!(s["/a/x"], "whiteout");
    assert!(s["/d"].ends_with(" opaque"), "{}", s["/d"]);
    assert!(!s.contains_key("/d/old") && !s.contains_key("/d/deep"));
    assert_real_fsck_clean(&stock_copy(&img));
    // A directory lower layer and a tar upper layer merge the same way.
    let ldir = dir.path().join("lowerdir");
    std::fs::create_dir(&ldir).unwrap();
    sh(Command::new("tar")
        .arg("-C")
        .arg(&ldir)
        .arg("-xf")
        .arg(&lower));
    let img2 = dir.path().join("m2.img");
    mk_ok(
        &img2,
        &[
            "-O",
            "whiteout",
            "-E",
            "union_source=oci",
            "-d",
            ldir.to_str().unwrap(),
            "-d",
            u,
        ],
        "16M",
    );
    let s2 = snapshot(&img2);
    let shape = |m: &BTreeMap<String, String>| -> Vec<(String, bool)> {
        m.iter()
            .map(|(k, v)| (k.clone(), v == "whiteout" || v.contains("opaque")))
            .collect()
    };
    assert_eq!(shape(&s), shape(&s2));
}

#[test]
fn bad_archives_fail_naming_the_member() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("e.img");
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let fail = |tar: &Path, want: &[&str]| {
        let out = mk(&img, &["-d", tar.to_str().unwrap()], "8M");
        assert_eq!(out.status.code(), Some(1), "{tar:?}: {}", text(&out));
        let t = text(&out);
        for w in want {
            assert!(t.contains(w), "{tar:?}: the message should say {w:?}: {t}");
        }
        assert!(!t.contains("panicked"), "{t}");
    };
    // Truncated in the middle of a member's data.
    let good = dir.path().join("good.tar");
    let data = vec![1u8; 100_000];
    build_tar(&good, &[file("first", b"1"), file("victim", &data)]);
    let bytes = std::fs::read(&good).unwrap();
    let cut = dir.path().join("cut.tar");
    std::fs::write(&cut, &bytes[..50_000]).unwrap();
    fail(&cut, &["victim", "truncated"]);
    // The same, compressed (read as a stream).
    let gz = dir.path().join("cut.tar.gz");
    let mut enc = flate_gzip(&bytes);
    enc.truncate(enc.len() / 2);
    std::fs::write(&gz, &enc).unwrap();
    fail(&gz, &["cut.tar.gz"]);
    // Cut at a member boundary: no end-of-archive blocks.
    let cut2 = dir.path().join("cut2.tar");
    std::fs::write(&cut2, &bytes[..1024]).unwrap();
    fail(&cut2, &["first", "truncated"]);
    // A corrupt header: the checksum fails after the first member.
    let mut bad = bytes.clone();
    bad[1024 + 10] ^= 0x55;
    let corrupt = dir.path().join("corrupt.tar");
    std::fs::write(&corrupt, &bad).unwrap();
    fail(&corrupt, &["after member 'first'", "checksum"]);
    // A member path escaping the root.
    let esc = dir.path().join("escape.tar");
    raw_tar(&esc, b"../outside/pwned", b"evil");
    fail(&esc, &["../outside/pwned", "leaves the root"]);
    // A name over 255 bytes.
    let long = dir.path().join("long.tar");
    let name = format!("d/{}", "n".repeat(300));
    build_tar(&long, &[file(&name, b"x")]);
    fail(&long, &["nnnn", "255"]);
    // A symlink to outside, then a member through it: never followed.
    let through = dir.path().join("through.tar");
    let target = outside.to_str().unwrap().to_string();
    build_tar(
        &through,
        &[
            Member {
                path: "evil",
                kind: tar::EntryType::Symlink,
                data: b"",
                link: &target,
                mtime: 0,
            },
            file("evil/pwned", b"evil"),
        ],
    );
    fail(&through, &["evil/pwned", "not a directory"]);
    // A hard link to nothing.
    let dangling = dir.path().join("dangling.tar");
    build_tar(
        &dangling,
        &[Member {
            path: "hl",
            kind: tar::EntryType::Link,
            data: b"",
            link: "nowhere",
            mtime: 0,
        }],
    );
    fail(&dangling, &["'hl'", "nowhere"]);
    // Not an archive at all.
    let junk = dir.path().join("junk");
    std::fs::write(&junk, vec![0x42u8; 4096]).unwrap();
    fail(&junk, &["junk"]);
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    // The symlink alone is fine and kept as it is.
    let ok = dir.path().join("ok.tar");
    build_tar(
        &ok,
        &[Member {
            path: "evil",
            kind: tar::EntryType::Symlink,
            data: b"",
            link: &target,
            mtime: 0,
        }],
    );
    mk_ok(&img, &["-d", ok.to_str().unwrap()], "8M");
    let fs = Filesystem::open(&img, &OpenOptions::default()).unwrap();
    let l = fs.read_inode(fs.namei(2, "/evil").unwrap()).unwrap();
    assert_eq!(fs.read_link(&l).unwrap(), target.as_bytes());
}

/// gzip through the system gzip (the tests do not link a compressor).
fn flate_gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("gzip")
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("gzip");
    let mut stdin = child.stdin.take().unwrap();
    let input = data.to_vec();
    let w = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    w.join().unwrap().unwrap();
    out.stdout
}

/// An overlayfs upper directory saved as a tar (char device 0/0 for a
/// whiteout, the opaque xattr as a PAX record) with the default
/// union_source=overlay, and PAX xattrs and devices in general.
#[test]
fn overlay_style_tar_becomes_union_objects() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("upper.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&t).unwrap());
    let mut h = empty_member(tar::EntryType::Char, 0o000, (0, 0), (0, 0));
    b.append_data(&mut h, "gone", &b""[..]).unwrap();
    let mut h = empty_member(tar::EntryType::Block, 0o660, (0, 6), (8, 1));
    b.append_data(&mut h, "sda1", &b""[..]).unwrap();
    b.append_pax_extensions([
        ("SCHILY.xattr.trusted.overlay.opaque", &b"y"[..]),
        ("SCHILY.xattr.user.note", &b"kept"[..]),
        ("mtime", &b"1650000000.5"[..]),
    ])
    .unwrap();
    let mut h = empty_member(tar::EntryType::Directory, 0o750, (1000, 1001), (0, 0));
    b.append_data(&mut h, "opq/", &b""[..]).unwrap();
    b.finish().unwrap();
    drop(b);
    let img = dir.path().join("o.img");
    mk_ok(&img, &["-O", "whiteout", "-d", t.to_str().unwrap()], "16M");
    let s = snapshot(&img);
    assert_eq!(s["/gone"], "whiteout");
    let opq = &s["/opq"];
    assert!(opq.ends_with(" opaque"), "{opq}");
    assert!(
        opq.contains("mode=40750 owner=1000:1001 mtime=1650000000"),
        "{opq}"
    );
    assert!(
        opq.contains("user.note") && !opq.contains("trusted.overlay"),
        "{opq}"
    );
    assert!(s["/sda1"].contains("mode=60660") && s["/sda1"].contains("dev=(8, 1)"));
    assert_real_fsck_clean(&stock_copy(&img));
    // Without -O whiteout one source is copied as it is.
    mk_ok(&img, &["-d", t.to_str().unwrap()], "16M");
    let s = snapshot(&img);
    assert!(s["/gone"].contains("dev=(0, 0)"), "{}", s["/gone"]);
    assert!(s["/opq"].contains("trusted.overlay.opaque"));
    assert_real_fsck_clean(&img);
}

/// GNU tar's PAX sparse formats 0.0, 0.1 and 1.0 and its old GNU sparse
/// headers: same content, holes kept, read in place or streamed.
#[test]
fn every_sparse_format_keeps_holes() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let f = std::fs::File::create(src.join("sparse")).unwrap();
    f.write_all_at(b"head", 0).unwrap();
    f.write_all_at(&[9u8; 10_000], 3 << 20).unwrap();
    f.write_all_at(b"tail", 20 << 20).unwrap();
    drop(f);
    let want = std::fs::read(src.join("sparse")).unwrap();
    let img = dir.path().join("s.img");
    let mut images = Vec::new();
    for (format, version) in [("pax", "0.0"), ("pax", "0.1"), ("pax", "1.0"), ("gnu", "")] {
        let tar = dir.path().join(format!("{format}{version}.tar"));
        let mut c = Command::new("tar");
        c.args(["--sparse", "--numeric-owner"])
            .arg(format!("--format={format}"));
        if !version.is_empty() {
            c.arg(format!("--sparse-version={version}"));
        }
        sh(c.arg("-C").arg(&src).arg("-cf").arg(&tar).arg("sparse"));
        for pipe in [false, true] {
            let out = if pipe {
                mk_stdin(&img, &tar, true)
            } else {
                mk(&img, &["-E", SEED, "-d", tar.to_str().unwrap()], "64M")
            };
            assert!(out.status.success(), "{format} {version}: {}", text(&out));
            let fs = Filesystem::open(&img, &OpenOptions::default()).unwrap();
            let ino = fs.read_inode(fs.namei(2, "/sparse").unwrap()).unwrap();
            assert!(fs.read_file(&ino).unwrap() == want, "{format} {version}");
            assert!(
                ino.base.i_blocks <= 48,
                "{format} {version}: {} sectors",
                ino.base.i_blocks
            );
            images.push(std::fs::read(&img).unwrap());
        }
    }
    assert!(
        images.windows(2).all(|w| w[0] == w[1]),
        "every format gives the same image"
    );
}
