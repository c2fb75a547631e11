//! Inode numbers through the FUSE engine's union: a lower object keeps its
//! number when it is copied up (chmod, write, rename, a hard link made or
//! copied up with it), in `stat` and in directory listings, and after the
//! union is unmounted and mounted again over the same layers (origin
//! records, union-ext2.md); the records are clean for e2fsck and hidden
//! from the union's users.

mod fuse_common;

use std::collections::BTreeMap;
use std::os::unix::fs::{DirEntryExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use fuse_common::*;
use integration_tests::*;

/// The names the tests follow, as they are after `change`.
const NAMES: [&str; 8] = ["a", "c", "r2", "h1", "h2", "d", "d/b", "d/sub"];

fn ino(mnt: &Path, name: &str) -> u64 {
    std::fs::symlink_metadata(mnt.join(name))
        .unwrap_or_else(|e| panic!("stat {name}: {e}"))
        .ino()
}

/// Every followed name's st_ino.
fn inos(mnt: &Path) -> BTreeMap<&'static str, u64> {
    NAMES.iter().map(|n| (*n, ino(mnt, n))).collect()
}

/// The d_ino a listing of `dir` gives each name.
fn listed(dir: &Path) -> BTreeMap<String, u64> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), e.ino())
        })
        .collect()
}

/// Listings agree with stat for every followed name.
fn assert_listings_match(mnt: &Path, want: &BTreeMap<&'static str, u64>) {
    for (name, i) in want {
        let p = mnt.join(name);
        let (dir, base) = (p.parent().unwrap(), p.file_name().unwrap());
        let l = listed(dir);
        assert_eq!(
            l.get(base.to_str().unwrap()),
            Some(i),
            "d_ino of {name} in its directory's listing"
        );
    }
}

/// Lower files for each kind of copy-up, and two hard links.
fn lower_files(s: &Setup) {
    std::fs::write(s.lower.join("c"), b"append here\n").unwrap();
    std::fs::write(s.lower.join("r"), b"renamed\n").unwrap();
    std::fs::write(s.lower.join("h1"), b"linked\n").unwrap();
    std::fs::hard_link(s.lower.join("h1"), s.lower.join("h2")).unwrap();
}

/// Copies every followed object up, each in another way.
fn change(mnt: &Path) {
    std::fs::set_permissions(mnt.join("a"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(mnt.join("c"))
        .unwrap();
    std::io::Write::write_all(&mut f, b"more\n").unwrap();
    drop(f);
    std::fs::rename(mnt.join("r"), mnt.join("r2")).unwrap();
    std::fs::set_permissions(mnt.join("h1"), std::fs::Permissions::from_mode(0o640)).unwrap();
    // d is copied up as the parent of the file written in it.
    std::fs::write(mnt.join("d/b"), b"new bee\n").unwrap();
}

#[test]
fn copied_up_objects_keep_their_inode_numbers_across_remounts() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    lower_files(&s);
    let guard = mount_engine(&s);
    let m = &s.mnt;
    let before: BTreeMap<&str, u64> = NAMES
        .iter()
        .map(|n| (*n, ino(m, if *n == "r2" { "r" } else { n })))
        .collect();
    assert_eq!(
        before["h1"], before["h2"],
        "lower hard links are one object"
    );
    change(m);
    let after = inos(m);
    assert_eq!(after, before, "st_ino changed at copy-up");
    assert_listings_match(m, &after);
    // A hard link made through the union is the same object too.
    std::fs::hard_link(m.join("a"), m.join("d/a-link")).unwrap();
    assert_eq!(ino(m, "d/a-link"), before["a"]);
    assert_eq!(listed(&m.join("d"))["a-link"], before["a"]);
    // Renamed again, now within the top layer.
    std::fs::rename(m.join("c"), m.join("d/c")).unwrap();
    assert_eq!(ino(m, "d/c"), before["c"]);
    assert_eq!(listed(&m.join("d"))["c"], before["c"]);
    std::fs::rename(m.join("d/c"), m.join("c")).unwrap();
    // The records are the engine's: not listed, read or set through it.
    for name in ["a", "d"] {
        let mut buf = [0u8; 4096];
        let n = rustix::fs::listxattr(m.join(name), &mut buf).unwrap();
        let list = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(!list.contains("trusted.union."), "{name} lists {list:?}");
    }
    let get = rustix::fs::getxattr(m.join("a"), "trusted.union.origin", &mut [0u8; 64]);
    assert_eq!(get, Err(rustix::io::Errno::OPNOTSUPP));
    let set = rustix::fs::setxattr(
        m.join("a"),
        "trusted.union.origin",
        b"x",
        rustix::fs::XattrFlags::empty(),
    );
    assert_eq!(set, Err(rustix::io::Errno::OPNOTSUPP));
    // user.colour came up with a; the record did not replace it.
    let mut v = [0u8; 16];
    if let Ok(n) = rustix::fs::getxattr(m.join("a"), "user.colour", &mut v) {
        assert_eq!(&v[..n], b"blue");
    }
    unmount_and_check(&s, guard);
    assert_checks_clean(&s.img);

    // The same layers again: the same numbers, in stat and in listings.
    let guard = mount_engine(&s);
    let again = inos(m);
    for (name, i) in &again {
        assert_eq!(
            Some(i),
            before.get(name),
            "st_ino of {name} after a remount"
        );
    }
    assert_eq!(ino(m, "d/a-link"), before["a"]);
    assert_listings_match(m, &again);
    // A lower file copied up in this mount still keeps its number.
    let k = ino(m, "keep/k");
    std::fs::write(m.join("keep/k"), b"changed\n").unwrap();
    assert_eq!(ino(m, "keep/k"), k);
    unmount_and_check(&s, guard);
    assert_checks_clean(&s.img);
}

/// Records naming a layer that is no longer there are ignored: the copy
/// shows its own (top) number, never a number another object may have.
#[test]
fn origin_records_of_other_layers_are_ignored() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    let guard = mount_engine(&s);
    let lower_ino = ino(&s.mnt, "a");
    std::fs::set_permissions(s.mnt.join("a"), std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(ino(&s.mnt, "a"), lower_ino);
    unmount_and_check(&s, guard);
    // Another tree (another root directory) as the lower layer.
    let other = s._dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("a"), b"other\n").unwrap();
    let out = fuse_mount(&s, &format!("union,lowerdir={}", other.display()));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let guard = Mounted(s.mnt.clone());
    let top = ino(&s.mnt, "a");
    assert!(
        top < 1 << 32,
        "the copy shows its top inode number: {top:#x}"
    );
    assert_eq!(std::fs::read(s.mnt.join("a")).unwrap(), b"hello\n");
    unmount_and_check(&s, guard);
}

/// Our checker and debugfs take the records as ordinary xattrs: the check
/// is clean, and debugfs-union lists them as the real debugfs does.
fn assert_checks_clean(img: &Path) {
    let out = run(Command::new(our_bin("e2fsck-union")).arg("-fn").arg(img));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let ours = run(Command::new(our_bin("debugfs-union"))
        .args(["-R", "ea_list /a"])
        .arg(img));
    assert!(ours.status.success(), "{}", text(&ours));
    let ours = String::from_utf8_lossy(&ours.stdout).into_owned();
    assert!(ours.contains("trusted.union.origin"), "{ours}");
    let real = String::from_utf8_lossy(&real_debugfs(&stock_copy(img), "ea_list /a")).into_owned();
    assert!(real.contains("trusted.union.origin"), "{real}");
}

/// A lower image made with `files` (name, data) and the given UUID.
fn lower_image(dir: &Path, name: &str, uuid: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let src = dir.join(format!("{name}.src"));
    std::fs::create_dir(&src).unwrap();
    for (f, data) in files {
        std::fs::write(src.join(f), data).unwrap();
    }
    let img = dir.join(format!("{name}.img"));
    let out = run(Command::new(our_bin("mke2fs-union"))
        .args(["-q", "-F", "-U", uuid, "-d"])
        .arg(&src)
        .arg(&img)
        .arg("4M"));
    assert!(out.status.success(), "{}", text(&out));
    img
}

/// The inode number of `name` in the root of an image.
fn image_ino(img: &Path, name: &str) -> u32 {
    let fs = ext2fs::fs::Filesystem::open(img, &ext2fs::fs::OpenOptions::default()).unwrap();
    fs.lookup_entry(ext2fs::inode::ROOT_INO, name.as_bytes())
        .unwrap()
        .unwrap()
        .inode
}

/// A lower layer changed offline so that the inode a copy's record names
/// is another file now (the same layer identity: an image remade with its
/// UUID): the two never share a number; whichever the kernel meets first
/// keeps it, and each name shows its own data.
#[test]
fn a_reused_lower_inode_never_shares_a_number_with_a_copy() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    let dir = s._dir.path();
    let uuid = "6f1c1bd4-7a55-4c3e-9f0e-2b8d5c4a1e07";
    let first = lower_image(dir, "first", uuid, &[("a", b"first\n")]);
    let second = lower_image(dir, "second", uuid, &[("b", b"second\n")]);
    assert_eq!(image_ino(&first, "a"), image_ino(&second, "b"));
    let mount = |lower: &Path| {
        let out = fuse_mount(&s, &format!("union,lowerdir={}", lower.display()));
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        Mounted(s.mnt.clone())
    };
    let guard = mount(&first);
    let lower_ino = ino(&s.mnt, "a");
    std::fs::set_permissions(s.mnt.join("a"), std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(ino(&s.mnt, "a"), lower_ino);
    unmount_and_check(&s, guard);
    for order in [["a", "b"], ["b", "a"]] {
        let guard = mount(&second);
        let got: Vec<u64> = order.iter().map(|n| ino(&s.mnt, n)).collect();
        assert_ne!(got[0], got[1], "a and b share an inode number");
        assert_eq!(got[0], lower_ino, "{} met first keeps the number", order[0]);
        assert_eq!(std::fs::read(s.mnt.join("a")).unwrap(), b"first\n");
        assert_eq!(std::fs::read(s.mnt.join("b")).unwrap(), b"second\n");
        unmount_and_check(&s, guard);
    }
}

/// A tmpfs made at `dir` holding the files x and y (each its name).
fn tmpfs_with_x_and_y(dir: &Path) -> Mounted {
    std::fs::create_dir(dir).unwrap();
    let out = run(Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "inner"])
        .arg(dir));
    assert!(out.status.success(), "{}", text(&out));
    let guard = Mounted(dir.to_path_buf());
    for f in ["x", "y"] {
        std::fs::write(dir.join(f), f).unwrap();
    }
    guard
}

/// A filesystem mounted inside a directory layer (another device): its
/// objects keep their numbers across remounts too, whatever the order in
/// which they are met.
#[test]
fn objects_on_another_device_inside_a_layer_keep_their_numbers() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    let _nested = tmpfs_with_x_and_y(&s.lower.join("nested"));
    let mut seen = Vec::new();
    for order in [["x", "y"], ["y", "x"]] {
        let guard = mount_engine(&s);
        let mut inos: Vec<(&str, u64)> = order
            .iter()
            .map(|f| (*f, ino(&s.mnt, &format!("nested/{f}"))))
            .collect();
        inos.sort();
        assert_ne!(inos[0].1, inos[1].1);
        assert_eq!(listed(&s.mnt.join("nested"))["x"], inos[0].1);
        seen.push(inos);
        unmount_and_check(&s, guard);
    }
    assert_eq!(seen[0], seen[1], "numbers changed across remounts");
}

/// `img` mounted at `at` through a loop device of its own (read-only),
/// unmounted then detached on drop.
struct LoopMount {
    at: Mounted,
    dev: LoopDev,
}

impl LoopMount {
    fn new(img: &Path, at: &Path) -> LoopMount {
        let dev = LoopDev::attach(img);
        let out = run(Command::new("mount")
            .args(["-t", "ext2", "-o", "ro", &dev.0])
            .arg(at));
        assert!(out.status.success(), "{}", text(&out));
        LoopMount {
            at: Mounted(at.to_path_buf()),
            dev,
        }
    }

    fn unmount(self) -> LoopDev {
        umount_retrying(&self.at.0);
        self.dev
    }
}

fn skip_without_losetup() -> bool {
    if have_tool("losetup") && have_tool("blockdev") {
        return false;
    }
    integration_tests::skip("losetup(8) or blockdev(8) (util-linux) is missing");
    true
}

/// Files on filesystems mounted inside a directory layer (a tmpfs, an ext2
/// image through a loop device) keep their numbers when they are copied
/// up, in stat and in listings, and after the union is mounted again,
/// whatever the order in which they are met (version 2 origin records
/// name the object's filesystem).
#[test]
fn copied_up_files_on_filesystems_inside_a_layer_keep_their_numbers() {
    if skip_without_fuse() || skip_without_losetup() {
        return;
    }
    let s = setup();
    let _tmp = tmpfs_with_x_and_y(&s.lower.join("tmp"));
    let ext = s.lower.join("ext");
    std::fs::create_dir(&ext).unwrap();
    let uuid = "0b5a6a1e-93c2-4d8e-a7f1-3c6e2d9b8f40";
    let img = lower_image(
        s._dir.path(),
        "inner",
        uuid,
        &[("z", b"zed\n"), ("w", b"w\n")],
    );
    let inner = LoopMount::new(&img, &ext);
    let names = ["tmp/x", "tmp/y", "ext/z", "ext/w"];
    let guard = mount_engine(&s);
    let m = &s.mnt;
    let before: Vec<u64> = names.iter().map(|n| ino(m, n)).collect();
    let distinct: std::collections::BTreeSet<u64> = before.iter().copied().collect();
    assert_eq!(distinct.len(), names.len(), "{before:x?}");
    std::fs::set_permissions(m.join("tmp/x"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(m.join("ext/z"))
        .unwrap();
    std::io::Write::write_all(&mut f, b"more\n").unwrap();
    drop(f);
    let after: Vec<u64> = names.iter().map(|n| ino(m, n)).collect();
    assert_eq!(after, before, "st_ino changed at copy-up");
    assert_eq!(listed(&m.join("tmp"))["x"], before[0]);
    assert_eq!(listed(&m.join("ext"))["z"], before[2]);
    unmount_and_check(&s, guard);
    for order in [[0, 1, 2, 3], [3, 2, 1, 0]] {
        let guard = mount_engine(&s);
        for i in order {
            assert_eq!(ino(m, names[i]), before[i], "{} after a remount", names[i]);
        }
        assert_eq!(listed(&m.join("tmp"))["x"], before[0]);
        assert_eq!(listed(&m.join("ext"))["z"], before[2]);
        assert_eq!(std::fs::read(m.join("ext/z")).unwrap(), b"zed\nmore\n");
        assert_eq!(std::fs::read(m.join("tmp/x")).unwrap(), b"x");
        unmount_and_check(&s, guard);
    }
    inner.unmount();
}

/// A directory layer on a filesystem that comes back with another device
/// number (an ext2 image through another loop device, as after a reboot
/// or with a disk moved) keeps its copies' numbers: version 2 records name
/// the layer by its filesystem's id, not its device number.
#[test]
fn records_outlast_a_new_device_number_of_the_layer() {
    if skip_without_fuse() || skip_without_losetup() {
        return;
    }
    let s = setup();
    let uuid = "5d0f7c1a-2b3e-4f60-8a9b-0c1d2e3f4a5b";
    let img = lower_image(
        s._dir.path(),
        "layer",
        uuid,
        &[("p", b"p\n"), ("q", b"q\n")],
    );
    let at = s._dir.path().join("layerfs");
    std::fs::create_dir(&at).unwrap();
    let mount = || {
        let out = fuse_mount(&s, &format!("union,lowerdir={}", at.display()));
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        Mounted(s.mnt.clone())
    };
    let first = LoopMount::new(&img, &at);
    let dev = std::fs::metadata(&at).unwrap().dev();
    let guard = mount();
    let before = [ino(&s.mnt, "p"), ino(&s.mnt, "q")];
    std::fs::set_permissions(s.mnt.join("p"), std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(ino(&s.mnt, "p"), before[0]);
    unmount_and_check(&s, guard);
    // Still attached: the image gets another loop device.
    let _first = first.unmount();
    let second = LoopMount::new(&img, &at);
    assert_ne!(std::fs::metadata(&at).unwrap().dev(), dev);
    let guard = mount();
    assert_eq!([ino(&s.mnt, "p"), ino(&s.mnt, "q")], before);
    assert_eq!(
        std::fs::metadata(s.mnt.join("p")).unwrap().mode() & 0o777,
        0o600
    );
    unmount_and_check(&s, guard);
    second.unmount();
}

/// Version 1 records (earlier engines) are still read: a copy made by
/// hand in the top image with one shows the lower object's number.
#[test]
fn version_1_records_are_still_read() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    let uuid = "9e8d7c6b-5a49-4382-b1a0-f9e8d7c6b5a4";
    let lower = lower_image(s._dir.path(), "v1", uuid, &[("a", b"lower\n")]);
    let mount = || {
        let out = fuse_mount(&s, &format!("union,lowerdir={}", lower.display()));
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        Mounted(s.mnt.clone())
    };
    let guard = mount();
    let lower_ino = ino(&s.mnt, "a");
    unmount_and_check(&s, guard);
    {
        use ext2fs::union_origin::{OriginRecord, OriginV1, IMPURE, ORIGIN};
        let mut fs = open_rw(&s.img);
        let t = fs.create(ext2fs::inode::ROOT_INO, b"a", 0o100644).unwrap();
        let layer = ext2fs::fs::Filesystem::open(&lower, &Default::default()).unwrap();
        let r = OriginRecord::V1(OriginV1 {
            layer: 0,
            identity: layer.sb().s_uuid,
            ino: image_ino(&lower, "a") as u64,
        });
        fs.set_xattr(t, ORIGIN, &r.encode()).unwrap();
        fs.set_xattr(ext2fs::inode::ROOT_INO, IMPURE, b"y").unwrap();
        fs.sync().unwrap();
    }
    let guard = mount();
    assert_eq!(ino(&s.mnt, "a"), lower_ino);
    assert_eq!(listed(&s.mnt)["a"], lower_ino);
    assert_eq!(std::fs::read(s.mnt.join("a")).unwrap(), b"");
    unmount_and_check(&s, guard);
}
