//! Damaged images never make the library panic: bytes of a real image are
//! flipped at random (superblock, descriptors, inode tables, directories,
//! bitmaps) and everything is read back. Errors are expected; panics and
//! hangs are not.

#[path = "../../tests/src/skip.rs"]
mod skip;
use skip::skip;

use std::path::Path;
use std::process::Command;

use ext2fs::fs::{Filesystem, OpenOptions};

/// A tiny deterministic generator, so failures reproduce.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn read_everything(img: &Path) {
    if let Ok(fs) = Filesystem::open(
        img,
        &OpenOptions {
            force: true,
            ..Default::default()
        },
    ) {
        let _ = fs.sweep(5000);
    }
}

#[test]
fn random_damage_never_panics() {
    if Command::new("mke2fs").arg("-V").output().is_err() {
        skip("mke2fs (e2fsprogs) is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("a/b/c")).unwrap();
    for i in 0..60 {
        std::fs::write(src.join(format!("a/f{i}")), vec![i as u8; i * 700]).unwrap();
    }
    std::os::unix::fs::symlink("a/f1", src.join("l")).unwrap();
    let clean = dir.path().join("clean.img");
    std::fs::File::create(&clean).unwrap();
    let st = Command::new("mke2fs")
        .args(["-q", "-F", "-t", "ext2", "-b", "1024", "-d"])
        .arg(&src)
        .arg(&clean)
        .arg("2M")
        .status()
        .unwrap();
    assert!(st.success());
    let pristine = std::fs::read(&clean).unwrap();
    let mut rng = Lcg(0x5eed);
    let img = dir.path().join("bad.img");
    for round in 0..300 {
        let mut bytes = pristine.clone();
        // Aim most damage at the first 64 KiB where the metadata lives.
        let flips = 1 + rng.next() % 40;
        for _ in 0..flips {
            let limit = if rng.next().is_multiple_of(4) {
                bytes.len()
            } else {
                65536
            };
            let at = (rng.next() as usize) % limit;
            bytes[at] = rng.next() as u8;
        }
        std::fs::write(&img, &bytes).unwrap();
        let r = std::panic::catch_unwind(|| read_everything(&img));
        assert!(
            r.is_ok(),
            "round {round}: the library panicked on a damaged image"
        );
    }
    // Truncated images: every cut point is an error, not a panic.
    for cut in [0usize, 100, 1024, 1500, 2048, 4096, 10_000, 100_000] {
        std::fs::write(&img, &pristine[..cut.min(pristine.len())]).unwrap();
        let r = std::panic::catch_unwind(|| read_everything(&img));
        assert!(r.is_ok(), "truncated at {cut}: panic");
    }
}
