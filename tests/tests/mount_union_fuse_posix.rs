//! POSIX semantics through the FUSE engine's union: files unlinked or
//! renamed over while open stay usable through their descriptor (and are
//! freed at the last close), a name's loss changes the file's ctime, and a
//! directory listed while its entries are deleted lists all of them.

mod fuse_common;

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use fuse_common::*;

#[test]
fn unlinked_and_renamed_over_files_stay_usable_while_open() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    let guard = mount_engine(&s);
    let m = &s.mnt;
    // A top file, unlinked while open.
    std::fs::write(m.join("gone"), b"kept data").unwrap();
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(m.join("gone"))
        .unwrap();
    std::fs::remove_file(m.join("gone")).unwrap();
    assert!(!m.join("gone").exists());
    let mut got = String::new();
    f.read_to_string(&mut got).unwrap();
    assert_eq!(got, "kept data");
    assert_eq!(f.metadata().unwrap().nlink(), 0);
    f.write_all(b" and more").unwrap();
    f.seek(SeekFrom::Start(0)).unwrap();
    got.clear();
    f.read_to_string(&mut got).unwrap();
    assert_eq!(got, "kept data and more");
    f.set_len(4).unwrap();
    assert_eq!(f.metadata().unwrap().len(), 4);

    // An editor's atomic save over a file a reader has open.
    std::fs::write(m.join("log"), b"old contents").unwrap();
    let mut reader = std::fs::File::open(m.join("log")).unwrap();
    std::fs::write(m.join("log.tmp"), b"new contents").unwrap();
    std::fs::rename(m.join("log.tmp"), m.join("log")).unwrap();
    got.clear();
    reader.read_to_string(&mut got).unwrap();
    assert_eq!(got, "old contents");
    assert_eq!(std::fs::read(m.join("log")).unwrap(), b"new contents");
    // ... and over a lower file a reader has open.
    let mut lower_reader = std::fs::File::open(m.join("a")).unwrap();
    std::fs::write(m.join("a.tmp"), b"replaced").unwrap();
    std::fs::rename(m.join("a.tmp"), m.join("a")).unwrap();
    got.clear();
    lower_reader.read_to_string(&mut got).unwrap();
    assert_eq!(got, "hello\n");
    drop((f, reader, lower_reader));
    // The orphans were freed at the last close: the image checks clean.
    unmount_and_check(&s, guard);
    let fs = ext2fs::fs::Filesystem::open(&s.img, &Default::default()).unwrap();
    assert_eq!(fs.sb.s_last_orphan, 0, "an orphan was left on the list");
}

#[test]
fn losing_a_link_changes_ctime() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    let guard = mount_engine(&s);
    let m = &s.mnt;
    std::fs::write(m.join("one"), b"1").unwrap();
    std::fs::hard_link(m.join("one"), m.join("two")).unwrap();
    std::fs::hard_link(m.join("one"), m.join("three")).unwrap();
    let before = std::fs::metadata(m.join("one")).unwrap().ctime();
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::remove_file(m.join("two")).unwrap();
    let after = std::fs::metadata(m.join("one")).unwrap().ctime();
    assert!(
        after > before,
        "unlink of a second name left ctime at {before}"
    );
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(m.join("other"), b"o").unwrap();
    std::fs::rename(m.join("other"), m.join("three")).unwrap();
    let last = std::fs::metadata(m.join("one")).unwrap().ctime();
    assert!(
        last > after,
        "rename over a second name left ctime at {after}"
    );
    unmount_and_check(&s, guard);
}

#[test]
fn listing_while_deleting_returns_every_entry() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    let guard = mount_engine(&s);
    let d = s.mnt.join("many");
    std::fs::create_dir(&d).unwrap();
    const N: usize = 3000;
    for i in 0..N {
        std::fs::write(d.join(format!("entry-{i:05}")), b"").unwrap();
    }
    let mut seen = 0;
    for e in std::fs::read_dir(&d).unwrap() {
        let e = e.unwrap();
        std::fs::remove_file(e.path()).unwrap();
        seen += 1;
    }
    assert_eq!(seen, N, "the listing skipped entries deleted meanwhile");
    assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0);
    unmount_and_check(&s, guard);
}
