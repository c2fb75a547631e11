//! The name e2fsck's messages give the filesystem: -N, else the volume
//! label, else the path; blanks and colons in it become '_' (unix.c),
//! whichever it came from (differential seed 20261210 case 1863: a label
//! of one space).

use std::path::Path;
use std::process::Command;

use integration_tests::*;

/// Ours and the real e2fsck -fn on copies of `img` named `file`, with
/// `extra` options: the same output and exit code.
fn alike(dir: &Path, img: &Path, file: &str, extra: &[&str]) {
    let run_one = |bin: &Path, side: &str| {
        let d = dir.join(side);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::copy(img, d.join(file)).unwrap();
        let out = run(Command::new(bin)
            .arg("-fn")
            .args(extra)
            .arg(file)
            .env("LC_ALL", "C")
            .current_dir(&d));
        let err: String = String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| !l.starts_with("e2fsck 1."))
            .collect();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            err,
        )
    };
    let ours = run_one(&our_bin("e2fsck-union"), "ours");
    let real = run_one(Path::new("/sbin/e2fsck"), "real");
    assert_eq!(ours, real, "{file} {extra:?}: ours (left) against e2fsck");
}

#[test]
fn blanks_and_colons_in_the_name_become_underscores_as_e2fsck() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("plain.img");
    real_mkfs(&img, &[], "4M");
    // A path with a blank and a colon, and -N with both.
    alike(&t.path().join("path"), &img, "my disk:1.img", &[]);
    alike(&t.path().join("n"), &img, "plain.img", &["-N", "a b\tc:d"]);
    // Labels: one blank (the case), blanks and a colon inside.
    for (k, label) in [" ", "a b:c", "tab\there"].into_iter().enumerate() {
        let labelled = t.path().join(format!("label{k}.img"));
        std::fs::copy(&img, &labelled).unwrap();
        let out = run(Command::new("tune2fs").arg("-L").arg(label).arg(&labelled));
        assert!(out.status.success(), "{}", text(&out));
        alike(&t.path().join(format!("l{k}")), &labelled, "fs.img", &[]);
    }
}
