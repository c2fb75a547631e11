//! mke2fs-union makes the same filesystem as the real `mke2fs -t ext2`:
//! dumpe2fs of both images is equal but for times, over a matrix of sizes
//! and options, and the real e2fsck finds ours clean.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use integration_tests::*;

const UUID: &str = "11111111-2222-3333-4444-555555555555";

fn dumpe2fs_without_times(img: &Path) -> String {
    real_dumpe2fs(img, false)
        .lines()
        .filter(|l| {
            !(l.contains("time:")
                || l.starts_with("Filesystem created:")
                || l.starts_with("Last checked:")
                || l.starts_with("Lifetime writes:"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn ours(img: &Path, args: &[&str], size: &str) -> std::process::Output {
    run(Command::new(our_bin("mke2fs-union"))
        .args(["-q", "-F", "-U", UUID])
        .args(args)
        .arg(img)
        .arg(size))
}

fn real(img: &Path, args: &[&str], size: &str) {
    let _ = std::fs::remove_file(img);
    let out = run(Command::new("mke2fs")
        .args(["-q", "-F", "-t", "ext2", "-U", UUID])
        .args(args)
        .arg(img)
        .arg(size));
    assert!(
        out.status.success(),
        "real mke2fs {args:?} {size}: {}",
        text(&out)
    );
}

fn compare(dir: &Path, args: &[&str], size: &str) {
    let a = dir.join("ours.img");
    let b = dir.join("real.img");
    let _ = std::fs::remove_file(&a);
    let out = ours(&a, args, size);
    assert!(
        out.status.success(),
        "mke2fs-union {args:?} {size}: {}",
        text(&out)
    );
    real(&b, args, size);
    let (da, db) = (dumpe2fs_without_times(&a), dumpe2fs_without_times(&b));
    if da != db {
        let diff: Vec<String> = da
            .lines()
            .zip(db.lines())
            .filter(|(x, y)| x != y)
            .take(8)
            .map(|(x, y)| format!("ours: {x}\nreal: {y}"))
            .collect();
        panic!("{args:?} {size}: dumpe2fs differs:\n{}", diff.join("\n"));
    }
    assert_real_fsck_clean(&a);
    // Sparse: we allocate no more than the real mke2fs does.
    let (sa, sb) = (
        std::fs::metadata(&a).unwrap().blocks(),
        std::fs::metadata(&b).unwrap().blocks(),
    );
    assert!(
        sa <= sb,
        "{args:?} {size}: our image allocates {sa} sectors, the real one {sb}"
    );
}

#[test]
fn same_layout_as_real_mke2fs() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let hs = format!("hash_seed={UUID}");
    let e = |extra: &str| format!("{hs}{extra}");
    let matrix: Vec<(Vec<String>, &str)> = vec![
        (vec![], "1M"),
        (vec![], "8M"),
        (vec![], "100M"),
        (vec![], "1G"),
        (vec![], "16G"),
        (vec![], "1T"),
        (vec!["-b".into(), "1024".into()], "100M"),
        (vec!["-b".into(), "4096".into()], "8M"),
        (vec!["-b".into(), "2048".into()], "300M"),
        (vec!["-b".into(), "1024".into()], "1G"),
        (vec!["-N".into(), "5000".into()], "100M"),
        (vec!["-i".into(), "65536".into()], "1G"),
        (vec!["-I".into(), "128".into()], "100M"),
        (
            vec!["-I".into(), "256".into(), "-b".into(), "1024".into()],
            "8M",
        ),
        (vec!["-m".into(), "1".into()], "100M"),
        (vec!["-m".into(), "0".into()], "8M"),
        (
            vec!["-g".into(), "1024".into(), "-b".into(), "1024".into()],
            "100M",
        ),
        (vec!["-g".into(), "8192".into()], "1G"),
        (vec!["-O".into(), "^resize_inode".into()], "100M"),
        (
            vec!["-O".into(), "^sparse_super,^resize_inode".into()],
            "100M",
        ),
        (vec!["-O".into(), "^dir_index".into()], "8M"),
        (vec!["-O".into(), "^filetype".into()], "8M"),
        (vec!["-O".into(), "^ext_attr".into()], "8M"),
        (vec!["-O".into(), "ext_attr".into()], "8M"),
        (vec!["-r".into(), "0".into()], "100M"),
        (
            vec!["-L".into(), "label".into(), "-M".into(), "/mnt/x".into()],
            "8M",
        ),
        (vec!["-T".into(), "news".into()], "100M"),
        (vec!["-o".into(), "hurd".into()], "8M"),
    ];
    for (args, size) in matrix {
        let mut a: Vec<String> = args.clone();
        a.push("-E".into());
        a.push(e(""));
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        compare(dir.path(), &refs, size);
    }
    for ext in [",stride=16", ",stride=4,stripe_width=16", ",resize=1000000"] {
        let ev = e(ext);
        compare(dir.path(), &["-E", &ev], "100M");
    }
}

#[test]
fn whiteout_image_is_the_plain_image_plus_one_bit() {
    if skip_without_e2fsprogs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("wh.img");
    let b = dir.path().join("real.img");
    let hs = format!("hash_seed={UUID}");
    for (opt, size) in [
        ("whiteout", "64M"),
        ("fallthru", "8M"),
        ("whiteout,^dir_index", "8M"),
    ] {
        let _ = std::fs::remove_file(&a);
        let out = ours(&a, &["-O", opt, "-E", &hs], size);
        assert!(out.status.success(), "{}", text(&out));
        let fs = ext2fs::fs::Filesystem::open(&a, &Default::default()).unwrap();
        assert!(fs.whiteout_feature() && fs.filetype_feature());
        drop(fs);
        // The stock e2fsck refuses the unknown feature ...
        assert_ne!(
            real_fsck_n(&a).0,
            0,
            "stock e2fsck should refuse incompat 0x20"
        );
        // ... and with the bit cleared the image is exactly mke2fs's.
        let copy = stock_copy(&a);
        let plain = opt
            .replace("whiteout,", "")
            .replace("whiteout", "")
            .replace("fallthru", "");
        let args: Vec<&str> = if plain.is_empty() {
            vec!["-E", &hs]
        } else {
            vec!["-O", &plain, "-E", &hs]
        };
        real(&b, &args, size);
        assert_eq!(
            dumpe2fs_without_times(&copy),
            dumpe2fs_without_times(&b),
            "-O {opt}"
        );
        assert_real_fsck_clean(&copy);
    }
    // whiteout needs filetype.
    let out = ours(&a, &["-O", "whiteout,^filetype"], "8M");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("filetype"), "{}", text(&out));
}

#[test]
fn ext3_and_ext4_requests_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("x.img");
    for args in [
        &["-t", "ext4"][..],
        &["-t", "ext3"],
        &["-j"],
        &["-O", "has_journal"],
        &["-O", "extent"],
        &["-O", "64bit"],
        &["-O", "metadata_csum"],
        &["-O", "flex_bg"],
    ] {
        let out = ours(&img, args, "8M");
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        assert!(
            text(&out).contains("ext2"),
            "{args:?}: the message should say we make ext2: {}",
            text(&out)
        );
    }
    for (args, what) in [
        (&["-b", "1000"][..], "block size"),
        (&["-I", "100"], "inode size"),
        (&["-O", "no_such_feature"], "Invalid filesystem option"),
        (&["-E", "bogus"], "Bad option"),
        (&["-r", "2"], "revision"),
        (&["-m", "60"], "reserved"),
    ] {
        let out = ours(&img, args, "8M");
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        assert!(
            text(&out).contains(what),
            "{args:?}: want '{what}' in: {}",
            text(&out)
        );
    }
    let out = run(Command::new(our_bin("mke2fs-union")).arg(dir.path().join("missing.img")));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("size"), "{}", text(&out));
}

#[test]
fn version_and_help() {
    let out = run(Command::new(our_bin("mke2fs-union")).arg("-V"));
    assert!(out.status.success());
    assert!(text(&out).contains(env!("CARGO_PKG_VERSION")));
    let out = run(Command::new(our_bin("mke2fs-union")).arg("--help"));
    assert!(out.status.success());
    for opt in ["-O", "-E", "-d", "-N", "-U"] {
        assert!(text(&out).contains(opt), "--help lacks {opt}");
    }
}
