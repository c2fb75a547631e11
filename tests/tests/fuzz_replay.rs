//! Replays the fuzz targets' saved inputs (fuzz/regressions/<target>/,
//! fuzz/corpus/<target>/ when present) and a set of generated seeds through
//! the same bodies the fuzzers run. This is the bounded fuzz run CI does on
//! stable Rust; `fuzz/run` does the long runs with cargo-fuzz.

use std::path::Path;

use integration_tests::fuzz::TARGETS;
use integration_tests::*;

fn saved_inputs(target: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for kind in ["regressions", "corpus"] {
        let dir = repo_root().join("fuzz").join(kind).join(target);
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files.into_iter().take(2000) {
            if let Ok(b) = std::fs::read(&f) {
                out.push(b);
            }
        }
    }
    out
}

/// Images to start from: our own small image and damaged copies of it.
fn generated_images() -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    for wh in [false, true] {
        let img = ext2fs::mkfs::small_image(512 << 10, wh).expect("small image");
        let mut rng = Lcg(0x9e3779b97f4a7c15);
        for round in 0..12 {
            let mut d = img.clone();
            for _ in 0..(1 + round * 3) {
                let at = 1024 + (rng.next_u64() as usize % (64 * 1024));
                d[at] ^= 1 << (rng.next_u64() % 8);
            }
            v.push(d);
        }
        v.push(img);
    }
    v
}

fn shared_images() -> Vec<Vec<u8>> {
    let Some(shared) = shared_dir() else {
        return Vec::new();
    };
    let mut v = Vec::new();
    let Ok(rd) = std::fs::read_dir(shared.join("e2fsck-tests")) else {
        return v;
    };
    for e in rd.flatten() {
        let gz = e.path().join("image.gz");
        if !gz.is_file() || std::fs::metadata(&gz).map(|m| m.len()).unwrap_or(0) > 200_000 {
            continue;
        }
        if let Ok(o) = std::process::Command::new("zcat").arg(&gz).output() {
            if o.status.success() && o.stdout.len() <= (4 << 20) {
                v.push(o.stdout);
            }
        }
    }
    v
}

#[test]
fn replay_every_target() {
    let images = generated_images();
    let shared = shared_images();
    if shared.is_empty() {
        skip("../shared/e2fsck-tests images not found; replaying generated seeds only");
    }
    // The committed regressions (fuzz/regressions/) are part of the suite.
    for name in ["debugfs_requests", "e2fsck_passes", "image_walk"] {
        assert!(
            !saved_inputs(name).is_empty(),
            "fuzz/regressions/{name}/ has no inputs"
        );
    }
    for (name, body) in TARGETS {
        let mut inputs = saved_inputs(name);
        match *name {
            "image_walk" | "e2fsck_passes" | "parsers" => {
                inputs.extend(images.iter().cloned());
                inputs.extend(shared.iter().cloned());
            }
            "debugfs_requests" => inputs.push(
                b"ls -l /\nstat /dir\nmkdir /a\nwhiteout /a/x\nopaque /a on\nrm /link\nbogus\nsif /dir links_count 9\nfreeb 100\nffb\nhtree /dir\n"
                    .to_vec(),
            ),
            "mount_options" => inputs.push(b"ro,union,lowerdir=/a:/b,offset=1024,loop".to_vec()),
            _ => {}
        }
        for input in &inputs {
            body(input);
        }
        eprintln!("{name}: {} inputs replayed", inputs.len());
    }
    let _ = Path::new(".");
}
