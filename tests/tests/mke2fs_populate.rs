//! mke2fs-union -d: the kernel, mounting our image, shows exactly the
//! source tree; union markers become whiteouts and opaque directories.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use ext2fs::fs::{Filesystem, OpenOptions};
use integration_tests::*;

fn mk(img: &Path, args: &[&str], size: &str) -> std::process::Output {
    let _ = std::fs::remove_file(img);
    run(Command::new(our_bin("mke2fs-union"))
        .args(["-q", "-F"])
        .args(args)
        .arg(img)
        .arg(size))
}

#[test]
fn populated_image_mounts_as_the_source_tree() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    make_sample_tree(&src);
    let img = dir.path().join("fs.img");
    let out = mk(&img, &["-d", src.to_str().unwrap()], "64M");
    assert!(out.status.success(), "{}", text(&out));
    assert_real_fsck_clean(&img);
    // The 300-entry directory became an htree the real debugfs reads.
    let dump = String::from_utf8_lossy(&real_debugfs(&img, "htree_dump /a")).into_owned();
    assert!(dump.contains("Root node dump"), "{dump}");

    with_kernel_mount(&img, dir.path(), |mnt| {
        assert_mount_shows_sample_tree(&src, mnt);
        let sp = mnt.join("sparse").metadata().unwrap();
        assert_eq!(sp.len(), (10 << 20) + 1);
        assert!(
            sp.blocks() <= 16,
            "sparse file allocates {} sectors",
            sp.blocks()
        );
    });
}

#[test]
fn overlay_and_oci_markers_become_union_objects() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // An overlayfs upper dir: whiteout = char device 0/0, opaque = xattr.
    let upper = dir.path().join("upper");
    std::fs::create_dir_all(upper.join("opq/inner")).unwrap();
    std::fs::write(upper.join("kept"), b"k").unwrap();
    let root = rustix::process::geteuid().is_root();
    if root {
        assert!(Command::new("mknod")
            .arg(upper.join("gone"))
            .args(["c", "0", "0"])
            .status()
            .unwrap()
            .success());
        rustix::fs::setxattr(
            upper.join("opq"),
            "trusted.overlay.opaque",
            b"y",
            rustix::fs::XattrFlags::empty(),
        )
        .unwrap();
    }
    // An OCI layer: .wh.NAME and .wh..wh..opq files.
    let oci = dir.path().join("oci");
    std::fs::create_dir_all(oci.join("opq")).unwrap();
    std::fs::write(oci.join(".wh.gone"), b"").unwrap();
    // A whiteout and a live entry of one name in one layer: the live one wins.
    std::fs::write(oci.join(".wh.both"), b"").unwrap();
    std::fs::write(oci.join("both"), b"live").unwrap();
    std::fs::write(oci.join("opq/.wh..wh..opq"), b"").unwrap();
    std::fs::write(oci.join("kept"), b"k").unwrap();

    let img = dir.path().join("u.img");
    let cases: Vec<(&Path, &str)> = if root {
        vec![(&upper, "overlay"), (&oci, "oci")]
    } else {
        vec![(&oci, "oci")]
    };
    for (src, kind) in cases {
        let opt = format!("union_source={kind}");
        let out = mk(
            &img,
            &["-O", "whiteout", "-E", &opt, "-d", src.to_str().unwrap()],
            "16M",
        );
        assert!(out.status.success(), "{kind}: {}", text(&out));
        let fs = Filesystem::open(&img, &OpenOptions::default()).unwrap();
        let gone = fs
            .lookup_entry(2, b"gone")
            .unwrap()
            .expect("whiteout entry");
        assert!(
            gone.is_whiteout(),
            "{kind}: 'gone' should be a whiteout: {gone:?}"
        );
        let opq = fs.namei(2, "/opq").unwrap();
        assert!(
            fs.read_inode(opq).unwrap().is_opaque(),
            "{kind}: /opq should be opaque"
        );
        assert!(fs.lookup_entry(2, b".wh.gone").unwrap().is_none());
        if kind == "oci" {
            let both: Vec<_> = fs
                .read_dir(2)
                .unwrap()
                .into_iter()
                .filter(|e| e.name == b"both")
                .collect();
            assert_eq!(both.len(), 1, "one entry per name");
            assert_ne!(both[0].inode, 0, "the live entry wins");
        }
        assert!(fs.lookup_entry(opq, b".wh..wh..opq").unwrap().is_none());
        assert!(fs
            .list_xattrs(opq)
            .unwrap()
            .iter()
            .all(|a| !a.name.starts_with("trusted.overlay.")));
        drop(fs);
        assert_real_fsck_clean(&stock_copy(&img));
    }
    // Without -O whiteout the markers are copied as they are.
    let out = mk(
        &img,
        &["-E", "union_source=oci", "-d", oci.to_str().unwrap()],
        "16M",
    );
    assert!(out.status.success(), "{}", text(&out));
    let fs = Filesystem::open(&img, &OpenOptions::default()).unwrap();
    assert!(fs.lookup_entry(2, b".wh.gone").unwrap().is_some());
}

#[test]
fn a_tree_that_does_not_fit_fails_and_is_marked_not_clean() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("huge"), vec![1u8; 3 << 20]).unwrap();
    let img = dir.path().join("small.img");
    let out = mk(&img, &["-d", src.to_str().unwrap()], "1M");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("huge") && t.contains("full"),
        "the error should name the file and say why: {t}"
    );
    let fs = Filesystem::open(&img, &OpenOptions::default()).unwrap();
    assert_eq!(
        fs.sb().s_state & ext2fs::superblock::STATE_VALID,
        0,
        "a half-made image must not claim to be clean"
    );
    let missing = dir.path().join("nope");
    let out = mk(&img, &["-d", missing.to_str().unwrap()], "8M");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("nope"), "{}", text(&out));
}

/// SOURCE_DATE_EPOCH with a fixed UUID and hash seed: two builds of the
/// same tree, created in different orders at different times, are
/// byte-identical.
#[test]
fn reproducible_with_source_date_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let make = |root: &Path, order: &[usize]| {
        std::fs::create_dir_all(root.join("d")).unwrap();
        for &i in order {
            std::fs::write(root.join(format!("d/f{i}")), format!("{i}").repeat(i * 100)).unwrap();
        }
        std::os::unix::fs::symlink("d/f1", root.join("link")).unwrap();
    };
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    make(&a, &[1, 2, 3, 4, 5]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    make(&b, &[5, 3, 1, 4, 2]);
    let mut imgs = Vec::new();
    for src in [&a, &b] {
        let img = src.with_extension("img");
        let out = run(Command::new(our_bin("mke2fs-union"))
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args([
                "-q",
                "-F",
                "-U",
                "clear",
                "-E",
                "hash_seed=11111111-2222-3333-4444-555555555555",
                "-d",
            ])
            .arg(src)
            .arg(&img)
            .arg("8M"));
        assert!(out.status.success(), "{}", text(&out));
        imgs.push(std::fs::read(&img).unwrap());
    }
    assert!(imgs[0] == imgs[1], "the two images differ");
}

/// -E offset with -d: the files land inside the filesystem at the offset
/// (writes once ignored the offset and clobbered the start of the file),
/// and the bytes before the offset are left alone.
#[test]
fn populate_at_an_offset() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("hello"), b"hello at an offset\n").unwrap();
    std::fs::write(src.join("big"), vec![7u8; 300_000]).unwrap();
    let img = dir.path().join("off.img");
    let header = vec![0xa5u8; 1 << 20];
    std::fs::write(&img, &header).unwrap();
    let out = run(Command::new(our_bin("mke2fs-union"))
        .args(["-q", "-F", "-E", "offset=1048576", "-d"])
        .arg(&src)
        .arg(&img)
        .arg("8M"));
    assert!(out.status.success(), "{}", text(&out));
    let bytes = std::fs::read(&img).unwrap();
    assert!(
        bytes[..1 << 20] == header[..],
        "bytes before the offset changed"
    );
    let inner = dir.path().join("inner.img");
    std::fs::write(&inner, &bytes[1 << 20..]).unwrap();
    assert_real_fsck_clean(&inner);
    assert_eq!(real_debugfs(&inner, "cat /hello"), b"hello at an offset\n");
    assert_eq!(real_debugfs(&inner, "cat /big"), vec![7u8; 300_000]);
}

/// -d onto a block device (a loop device): the data goes through the
/// writer thread with O_DIRECT (large files) and the block cache (small
/// ones); the real e2fsck finds it clean and the kernel shows the tree.
#[test]
fn populate_a_block_device() {
    if skip_without_e2fsprogs() || skip_without_root("a loop device") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let mut rng = Lcg(7);
    let mut bytes = |n: usize| -> Vec<u8> { (0..n).map(|_| rng.next_u64() as u8).collect() };
    std::fs::write(src.join("big"), bytes(5 << 20)).unwrap();
    std::fs::write(src.join("medium"), bytes(300_000)).unwrap();
    for i in 0..200 {
        std::fs::write(src.join(format!("small{i}")), bytes(100 + i * 97)).unwrap();
    }
    let backing = dir.path().join("backing.img");
    std::fs::File::create(&backing)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    let l = run(Command::new("losetup").args(["-f", "--show"]).arg(&backing));
    if !l.status.success() {
        skip(&format!("no loop device here: {}", text(&l)));
        return;
    }
    let dev = String::from_utf8_lossy(&l.stdout).trim().to_string();
    let result = std::panic::catch_unwind(|| {
        let out = run(Command::new(our_bin("mke2fs-union"))
            .args(["-q", "-F", "-d"])
            .arg(&src)
            .arg(&dev));
        assert!(out.status.success(), "{}", text(&out));
        assert_real_fsck_clean(Path::new(&dev));
        let mounted = with_kernel_mount(Path::new(&dev), dir.path(), |mnt| {
            let d = run(Command::new("diff")
                .args(["-r", "-x", "lost+found"])
                .arg(&src)
                .arg(mnt));
            assert!(d.status.success(), "diff -r: {}", text(&d));
        });
        assert!(mounted, "the kernel could not mount {dev}");
    });
    let _ = run(Command::new("losetup").args(["-d", &dev]));
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// A source with its own top-level lost+found (a tree copied out of an
/// ext2 filesystem) is merged into the one mke2fs makes, taking the
/// source's mode; a symlink given as the source is followed (only the
/// top-level argument). The real mke2fs -d does both.
#[test]
fn source_lost_found_merges_and_a_symlinked_source_is_followed() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("lost+found")).unwrap();
    std::fs::create_dir_all(src.join("d")).unwrap();
    std::fs::write(src.join("lost+found/keep"), b"kept\n").unwrap();
    std::fs::set_permissions(
        src.join("lost+found"),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&src, &link).unwrap();
    for (what, arg) in [("the tree", &src), ("a symlink to it", &link)] {
        let img = dir.path().join("fs.img");
        let out = mk(&img, &["-d", arg.to_str().unwrap()], "8M");
        assert!(out.status.success(), "{what}: {}", text(&out));
        assert_real_fsck_clean(&img);
        let fs = Filesystem::open(&img, &OpenOptions::default()).unwrap();
        let lf = fs.read_inode(fs.namei(2, "/lost+found").unwrap()).unwrap();
        assert_eq!(lf.mode() & 0o7777, 0o700, "{what}");
        let keep = fs
            .read_inode(fs.namei(2, "/lost+found/keep").unwrap())
            .unwrap();
        assert_eq!(fs.read_file(&keep).unwrap(), b"kept\n", "{what}");
        assert!(fs.namei(2, "/d").is_ok(), "{what}");
        let listing =
            String::from_utf8_lossy(&real_debugfs(&img, "ls -l /lost+found")).into_owned();
        assert!(listing.contains("keep"), "{what}: {listing}");
    }
}

/// POSIX ACLs of a source tree go into the image in ext2's on-disk ACL
/// format, byte for byte what the real mke2fs -d writes, and the kernel
/// gives the ACL back as it was set.
#[test]
fn posix_acls_are_stored_in_ext2s_format() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let f = src.join("f");
    std::fs::write(&f, b"shared\n").unwrap();
    // user::rw- user:1234:r-- group::r-- mask::r-- other::r--, as
    // setfacl -m u:1234:r gives it (version 2, 8-byte entries).
    let mut host = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in [
        (1u16, 6u16, u32::MAX),
        (2, 4, 1234),
        (4, 4, u32::MAX),
        (0x10, 4, u32::MAX),
        (0x20, 4, u32::MAX),
    ] {
        host.extend_from_slice(&tag.to_le_bytes());
        host.extend_from_slice(&perm.to_le_bytes());
        host.extend_from_slice(&id.to_le_bytes());
    }
    let flags = rustix::fs::XattrFlags::empty();
    if let Err(e) = rustix::fs::setxattr(&f, "system.posix_acl_access", &host, flags) {
        skip(&format!("the source filesystem takes no POSIX ACLs: {e}"));
        return;
    }
    let ours = dir.path().join("ours.img");
    let out = mk(&ours, &["-d", src.to_str().unwrap()], "8M");
    assert!(out.status.success(), "{}", text(&out));
    assert_real_fsck_clean(&ours);
    let theirs = dir.path().join("theirs.img");
    real_mkfs(&theirs, &["-d", src.to_str().unwrap()], "8M");
    let acl = |img: &Path| {
        let fs = Filesystem::open(img, &OpenOptions::default()).unwrap();
        let ino = fs.namei(2, "/f").unwrap();
        fs.list_xattrs(ino)
            .unwrap()
            .into_iter()
            .find(|a| a.name == "system.posix_acl_access")
            .map(|a| a.value)
    };
    let stored = acl(&ours).expect("no ACL in our image");
    assert_eq!(&stored[..4], &[1, 0, 0, 0], "ext2 ACL version 1");
    assert_eq!(stored.len(), 4 + 4 * 4 + 8, "short and long entries");
    assert_eq!(Some(stored), acl(&theirs), "the real mke2fs -d's bytes");
    with_kernel_mount(&ours, dir.path(), |mnt| {
        let mut v = [0u8; 64];
        let n = rustix::fs::getxattr(mnt.join("f"), "system.posix_acl_access", &mut v).unwrap();
        assert_eq!(&v[..n], &host[..]);
    });
}
