//! The binaries stopped at every write: with UNION_E2FSPROGS_FAIL_WRITE=N
//! the N-th write to the image fails (as if the disk died there). After
//! each interruption, e2fsck-union -fy must bring the image back to a state
//! the real e2fsck -fn finds clean, with no file that was committed before
//! lost; the interrupted tool must have said that it failed.

use std::path::Path;
use std::process::{Command, Output};

use integration_tests::*;

const ENV: &str = ext2fs::image::FAIL_WRITE_ENV;

fn ours(tool: &str, args: &[&str], img: &Path, fail_at: Option<u32>) -> Output {
    let mut c = Command::new(our_bin(tool));
    c.args(args).arg(img).env_remove(ENV);
    if let Some(n) = fail_at {
        c.env(ENV, n.to_string());
    }
    run(&mut c)
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

const COMMITTED: &[u8] = b"this file was written and synced before the crash\n";

/// A small image with a committed file, made by the real mke2fs.
fn base(dir: &Path, extra: &[&str]) -> std::path::PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    std::fs::write(src.join("committed"), COMMITTED).unwrap();
    for i in 0..40 {
        std::fs::write(
            src.join(format!("d/f{i}")),
            vec![b'a' + (i % 26) as u8; 700 * i],
        )
        .unwrap();
    }
    let img = dir.join("base.img");
    let s = src.to_string_lossy().into_owned();
    let mut args = vec!["-b", "1024", "-d", &s];
    args.extend_from_slice(extra);
    real_mkfs(&img, &args, "4M");
    img
}

/// Repairs with our checker and checks the result with the real one.
fn repair_and_verify(img: &Path, what: &str, whiteout: bool) {
    let fix = ours("e2fsck-union", &["-fy"], img, None);
    assert!(
        matches!(code(&fix), 0 | 1),
        "{what}: e2fsck-union -fy after the interruption exited {}:\n{}",
        code(&fix),
        text(&fix)
    );
    let again = ours("e2fsck-union", &["-fn"], img, None);
    assert_eq!(
        code(&again),
        0,
        "{what}: left after repair:\n{}",
        text(&again)
    );
    let stock = if whiteout {
        stock_copy(img)
    } else {
        img.to_path_buf()
    };
    let (rc, out) = real_fsck_n(&stock);
    assert_eq!(rc, 0, "{what}: real e2fsck -fn after our repair:\n{out}");
    assert_eq!(
        real_debugfs(&stock, "cat /committed"),
        COMMITTED,
        "{what}: the committed file was lost"
    );
}

#[test]
fn e2fsck_interrupted_at_every_write() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let pristine = base(t.path(), &[]);
    // Damage for the checker to repair: lost bitmaps, wrong link counts, a
    // directory entry to a deleted inode.
    {
        let mut fs = open_rw(&pristine);
        let bs = fs.block_size() as usize;
        let g = fs.groups()[0];
        fs.write_block(g.bg_block_bitmap as u64, &vec![0; bs])
            .unwrap();
        fs.write_block(g.bg_inode_bitmap as u64, &vec![0; bs])
            .unwrap();
        let d = fs.namei(2, "/d").unwrap();
        let mut rec = fs.read_inode(d).unwrap();
        rec.base.i_links_count = 7;
        fs.write_inode(d, &rec).unwrap();
        let f = fs.namei(2, "/d/f3").unwrap();
        let mut rec = fs.read_inode(f).unwrap();
        rec.base.i_links_count = 0;
        rec.base.i_dtime = 1;
        fs.write_inode(f, &rec).unwrap();
        fs.close().unwrap();
    }
    let bytes = std::fs::read(&pristine).unwrap();
    let img = t.path().join("work.img");
    let mut interrupted = 0;
    for n in 1..400 {
        std::fs::write(&img, &bytes).unwrap();
        let out = ours("e2fsck-union", &["-fy"], &img, Some(n));
        if matches!(code(&out), 0 | 1) {
            break; // N is past the last write: the run completed.
        }
        interrupted += 1;
        assert_eq!(code(&out), 8, "write {n}: {}", text(&out));
        assert!(
            text(&out).contains("injected write failure"),
            "write {n}: {}",
            text(&out)
        );
        repair_and_verify(&img, &format!("e2fsck stopped at write {n}"), false);
    }
    eprintln!("{interrupted} interruption points, each repaired");
    assert!(interrupted >= 5, "only {interrupted} interruption points");
}

#[test]
fn debugfs_interrupted_at_every_write() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let pristine = base(t.path(), &[]);
    set_whiteout_bit(&pristine, true);
    let payload = t.path().join("payload");
    std::fs::write(&payload, vec![b'z'; 30_000]).unwrap();
    let script = t.path().join("script");
    std::fs::write(
        &script,
        format!(
            "mkdir /new\nwrite {} /new/file\nsymlink /new/link /committed\nrm /d/f5\nwhiteout /gone\nopaque /new on\nmkdir /new/sub\nrmdir /new/sub\nln /d/f6 /new/hard\n",
            payload.display()
        ),
    )
    .unwrap();
    let bytes = std::fs::read(&pristine).unwrap();
    let img = t.path().join("work.img");
    let script_s = script.to_string_lossy().into_owned();
    let mut interrupted = 0;
    for n in 1..400 {
        std::fs::write(&img, &bytes).unwrap();
        let out = ours("debugfs-union", &["-w", "-f", &script_s], &img, Some(n));
        let failed = text(&out).contains("injected write failure");
        if !failed {
            break;
        }
        interrupted += 1;
        repair_and_verify(&img, &format!("debugfs stopped at write {n}"), true);
    }
    eprintln!("{interrupted} interruption points, each repaired");
    assert!(interrupted >= 5, "only {interrupted} interruption points");
}

#[test]
fn mke2fs_interrupted_says_so_and_is_repairable_or_refused() {
    if skip_without_e2fsprogs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(src.join("a")).unwrap();
    for i in 0..30 {
        std::fs::write(src.join(format!("a/f{i}")), vec![b'q'; 900 * i]).unwrap();
    }
    let s = src.to_string_lossy().into_owned();
    let img = t.path().join("m.img");
    let mut interrupted = 0;
    for n in 1..300 {
        let _ = std::fs::remove_file(&img);
        let out = run(Command::new(our_bin("mke2fs-union"))
            .args(["-q", "-F", "-b", "1024", "-d", &s])
            .arg(&img)
            .arg("4M")
            .env(ENV, n.to_string()));
        if code(&out) == 0 {
            break;
        }
        interrupted += 1;
        assert!(
            text(&out).contains("injected write failure"),
            "write {n}: mke2fs-union failed without saying why:\n{}",
            text(&out)
        );
        // A filesystem stopped before its superblock exists is not one:
        // the checker must refuse it (exit 8) rather than "repair" it.
        let fix = ours("e2fsck-union", &["-fy"], &img, None);
        match code(&fix) {
            8 => {}
            0 | 1 => {
                let (rc, out) = real_fsck_n(&img);
                assert_eq!(rc, 0, "mke2fs stopped at write {n}, then our -fy:\n{out}");
            }
            other => panic!(
                "write {n}: e2fsck-union -fy exited {other}:\n{}",
                text(&fix)
            ),
        }
    }
    eprintln!("{interrupted} interruption points");
    assert!(interrupted >= 3, "only {interrupted} interruption points");
}
