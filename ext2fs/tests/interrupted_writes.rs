//! Writes stopped at every point: the library's write path runs on an
//! in-memory image whose N-th write fails (as if the machine died there).
//! Whatever was written before the failure, the real `e2fsck -fy` brings
//! the image back to a state `e2fsck -fn` finds clean, and the files that
//! were committed before the interrupted session are all still there.

#[path = "../../tests/src/skip.rs"]
mod skip;
use skip::skip;

use std::process::Command;

use ext2fs::fs::{Filesystem, OpenOptions};
use ext2fs::image::Image;
use ext2fs::inode::S_IFREG;

fn session(fs: &mut Filesystem) -> ext2fs::Result<()> {
    let d = fs.mkdir(2, b"new-dir", 0o755)?;
    for i in 0..6 {
        let name = format!("new-{i}");
        let ino = fs.create(d, name.as_bytes(), S_IFREG | 0o644)?;
        let mut rec = fs.read_inode(ino)?;
        fs.write_range(ino, &mut rec, 0, &vec![i as u8 + 1; 3000 * (i + 1)])?;
    }
    fs.unlink(2, b"old-2")?;
    fs.symlink(d, b"link", b"../old-1")?;
    fs.sync()
}

#[test]
fn every_interruption_point_is_repairable() {
    if Command::new("e2fsck").arg("-V").output().is_err() {
        skip("e2fsprogs not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("base.img");
    std::fs::File::create(&img).unwrap();
    assert!(Command::new("mke2fs")
        .args(["-q", "-F", "-t", "ext2", "-b", "1024"])
        .arg(&img)
        .arg("4M")
        .status()
        .unwrap()
        .success());
    // The committed state: files written and closed before the crash.
    let mut fs = Filesystem::open(
        &img,
        &OpenOptions {
            write: true,
            ..Default::default()
        },
    )
    .unwrap();
    for i in 0..4 {
        let name = format!("old-{i}");
        let ino = fs.create(2, name.as_bytes(), S_IFREG | 0o600).unwrap();
        let mut rec = fs.read_inode(ino).unwrap();
        fs.write_range(ino, &mut rec, 0, name.repeat(500).as_bytes())
            .unwrap();
    }
    fs.close().unwrap();
    let base = std::fs::read(&img).unwrap();

    let work = dir.path().join("work.img");
    let mut points = 0;
    for n in (0..400).step_by(7) {
        let mut image = Image::in_memory(base.clone(), true);
        image.fail_writes_after(n);
        let mut fs = Filesystem::from_image(image, &OpenOptions::default()).unwrap();
        let finished = session(&mut fs).is_ok();
        let bytes = fs.image().memory_bytes().unwrap();
        std::fs::write(&work, &bytes).unwrap();
        let out = Command::new("e2fsck")
            .arg("-fy")
            .arg(&work)
            .output()
            .unwrap();
        let code = out.status.code().unwrap_or(99);
        assert!(
            code <= 1 || code == 2,
            "n={n}: e2fsck -fy exit {code}:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let out = Command::new("e2fsck")
            .arg("-fn")
            .arg(&work)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "n={n}: not clean after repair:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let fs = Filesystem::open(&work, &OpenOptions::default()).unwrap();
        for i in [0, 1, 3] {
            let name = format!("old-{i}");
            let ino = fs
                .namei(2, &format!("/{name}"))
                .unwrap_or_else(|e| panic!("n={n}: lost {name}: {e}"));
            let data = fs.read_file(&fs.read_inode(ino).unwrap()).unwrap();
            assert_eq!(data, name.repeat(500).as_bytes(), "n={n}: {name} damaged");
        }
        points += 1;
        if finished {
            break;
        }
    }
    assert!(
        points > 5,
        "the session made too few writes to test ({points})"
    );
}
