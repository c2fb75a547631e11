//! mke2fs-union -d with sources made by someone else: a source file
//! swapped for a link (or a fifo, or another file) between the scan and
//! the copy is refused, never followed; small hostile archives are
//! refused early, in seconds and little memory; numbers ext2 cannot hold
//! (devices, link counts, sizes) are refused, never truncated.

use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ext2fs::fs::{Filesystem, OpenOptions};
use integration_tests::*;

const SECRET: &[u8] = b"root:$6$not-for-the-image:19000:0:99999:7:::\n";

/// Everything an image's regular files hold, concatenated.
fn all_file_data(img: &Path) -> Vec<u8> {
    let fs = Filesystem::open(img, &OpenOptions::default()).unwrap();
    let mut out = Vec::new();
    fs.walk_tree(2, |_, e| {
        if e.inode != 0 {
            let rec = fs.read_inode(e.inode)?;
            if rec.is_reg() {
                out.extend(fs.read_file(&rec)?);
            }
        }
        Ok(())
    })
    .unwrap();
    out
}

/// Runs `mke2fs-union -d src -d fifo img`: the fifo layer opens only
/// after `src` has been scanned, so `swap` runs exactly between the scan
/// and the copy. Returns the tool's output (None when it hung).
fn swap_between_scan_and_copy(
    work: &Path,
    swap: impl FnOnce(&Path),
) -> Option<std::process::Output> {
    let src = work.join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("victim"), b"harmless\n").unwrap();
    std::fs::write(src.join("plain"), b"plain\n").unwrap();
    let fifo = work.join("layer");
    let mk = run(Command::new("mkfifo").arg(&fifo));
    assert!(mk.status.success(), "{}", text(&mk));
    let layer = [
        header(b"other", tar::EntryType::Regular, 2)
            .as_bytes()
            .as_slice(),
        &padded(b"x\n"),
        &end_of_archive(),
    ]
    .concat();
    let gz = compress("gzip", &layer);
    let img = work.join("img");
    let mut child = Command::new(our_bin("mke2fs-union"))
        .args(["-q", "-F", "-d"])
        .arg(&src)
        .arg("-d")
        .arg(&fifo)
        .arg(&img)
        .arg("8M")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A non-blocking open for writing succeeds once the tool opened the
    // fifo for reading, which it does after scanning `src`.
    let deadline = Instant::now() + Duration::from_secs(60);
    let fd = loop {
        use rustix::fs::{open, Mode, OFlags};
        match open(&fifo, OFlags::WRONLY | OFlags::NONBLOCK, Mode::empty()) {
            Ok(fd) => break fd,
            Err(rustix::io::Errno::NXIO) if Instant::now() < deadline => {
                if child.try_wait().unwrap().is_some() {
                    return Some(child.wait_with_output().unwrap());
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("the tool never opened the fifo: {e}"),
        }
    };
    swap(&src.join("victim"));
    rustix::fs::fcntl_setfl(&fd, rustix::fs::OFlags::empty()).unwrap();
    std::fs::File::from(fd).write_all(&gz).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        // Whatever went in must not be the secret.
        let data = all_file_data(&img);
        assert!(
            !data.windows(SECRET.len()).any(|w| w == SECRET),
            "the image holds the secret"
        );
    }
    Some(out)
}

#[test]
fn a_source_file_swapped_after_the_scan_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let secret = t.path().join("shadow");
    std::fs::write(&secret, SECRET).unwrap();
    type Swap = Box<dyn Fn(&Path, &Path)>;
    let cases: [(&str, Swap); 3] = [
        (
            "a symlink to the secret",
            Box::new(|victim, secret| {
                std::fs::remove_file(victim).unwrap();
                symlink(secret, victim).unwrap();
            }),
        ),
        (
            "a hard link of the secret",
            Box::new(|victim, secret| {
                let tmp = victim.with_file_name("tmp");
                std::fs::hard_link(secret, &tmp).unwrap();
                std::fs::rename(&tmp, victim).unwrap();
            }),
        ),
        (
            "a fifo nobody writes",
            Box::new(|victim, _| {
                std::fs::remove_file(victim).unwrap();
                let mk = run(Command::new("mkfifo").arg(victim));
                assert!(mk.status.success());
            }),
        ),
    ];
    for (i, (what, swap)) in cases.iter().enumerate() {
        let work = t.path().join(format!("case{i}"));
        std::fs::create_dir(&work).unwrap();
        let out = swap_between_scan_and_copy(&work, |v| swap(v, &secret))
            .unwrap_or_else(|| panic!("{what}: the tool hung"));
        let msg = text(&out);
        assert!(!out.status.success(), "{what}: accepted:\n{msg}");
        assert!(
            msg.contains("victim") && msg.contains("changed while the source was being read"),
            "{what}:\n{msg}"
        );
    }
}

/// `data` through a compressor on the system (the tests link none).
fn compress(tool: &str, data: &[u8]) -> Vec<u8> {
    let data = data.to_vec();
    compress_stream(tool, move |w| w.write_all(&data).unwrap())
}

/// What `produce` writes, through a compressor, without holding it all.
fn compress_stream(tool: &str, produce: impl FnOnce(&mut dyn Write) + Send + 'static) -> Vec<u8> {
    let mut child = Command::new(tool)
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    let mut stdin = std::io::BufWriter::with_capacity(1 << 20, child.stdin.take().unwrap());
    let w = std::thread::spawn(move || {
        produce(&mut stdin);
        stdin.flush().unwrap();
    });
    let out = child.wait_with_output().unwrap();
    w.join().unwrap();
    assert!(out.status.success(), "{tool} failed");
    out.stdout
}

fn header(path: &[u8], kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..path.len()].copy_from_slice(path);
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_600_000_000);
    h.set_cksum();
    h
}

fn padded(data: &[u8]) -> Vec<u8> {
    let mut v = data.to_vec();
    v.resize(data.len().div_ceil(512) * 512, 0);
    v
}

/// One PAX record: "LEN key=value\n".
fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let body = [key.as_bytes(), b"=", value, b"\n"].concat();
    let mut len = body.len() + 2;
    while format!("{len} ").len() + body.len() != len {
        len += 1;
    }
    [format!("{len} ").as_bytes(), &body].concat()
}

fn end_of_archive() -> [u8; 1024] {
    [0u8; 1024]
}

/// The hostile archives: name, bytes, words the refusal must contain.
fn hostile_set(dir: &Path) -> Vec<(&'static str, PathBuf, Vec<&'static str>)> {
    let mut set = Vec::new();
    let mut save = |name: &'static str, bytes: Vec<u8>, words: Vec<&'static str>| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        set.push((name, p, words));
    };

    // An old GNU sparse member claiming 2^62 bytes (one 512-byte run at
    // its end), gzipped: about a hundred bytes.
    let mut h = header(b"huge", tar::EntryType::GNUSparse, 512);
    {
        let g = h.as_gnu_mut().unwrap();
        g.sparse[0].set_offset((1 << 62) - 512);
        g.sparse[0].set_length(512);
        g.set_real_size(1 << 62);
    }
    h.set_cksum();
    let tar = [h.as_bytes().as_slice(), &[7u8; 512], &end_of_archive()].concat();
    save(
        "sparse-2p62.tar.gz",
        compress("gzip", &tar),
        vec!["'huge'", "largest file"],
    );

    // A 1 GiB GNU long name, zstd: tens of KB.
    let zst = compress_stream("zstd", |w| {
        let size = 1u64 << 30;
        w.write_all(header(b"././@LongLink", tar::EntryType::GNULongName, size).as_bytes())
            .unwrap();
        let chunk = vec![b'a'; 1 << 20];
        for _ in 0..1024 {
            w.write_all(&chunk).unwrap();
        }
        w.write_all(header(b"short", tar::EntryType::Regular, 0).as_bytes())
            .unwrap();
        w.write_all(&end_of_archive()).unwrap();
    });
    save("longname-1g.tar.zst", zst, vec!["long name", "4096"]);

    // A million empty members, zstd.
    let zst = compress_stream("zstd", |w| {
        for i in 0..1_000_000u32 {
            let name = format!("f{i:07}");
            w.write_all(header(name.as_bytes(), tar::EntryType::Regular, 0).as_bytes())
                .unwrap();
        }
        w.write_all(&end_of_archive()).unwrap();
    });
    save("million.tar.zst", zst, vec!["inodes"]);

    // A PAX sparse member (format 1.0) of 2^62 bytes.
    let map = padded(b"1\n0\n4\n");
    let pax = [
        pax_record("GNU.sparse.major", b"1"),
        pax_record("GNU.sparse.minor", b"0"),
        pax_record("GNU.sparse.name", b"paxhuge"),
        pax_record("GNU.sparse.realsize", (1u64 << 62).to_string().as_bytes()),
    ]
    .concat();
    let tar = [
        header(b"PaxHeaders/x", tar::EntryType::XHeader, pax.len() as u64)
            .as_bytes()
            .as_slice(),
        &padded(&pax),
        header(b"GNUSparseFile.0/paxhuge", tar::EntryType::Regular, 1024).as_bytes(),
        &map,
        &padded(b"data"),
        &end_of_archive(),
    ]
    .concat();
    save("pax-sparse-2p62.tar", tar, vec!["paxhuge", "largest file"]);

    // A symlink whose PAX linkpath holds a NUL.
    let pax = pax_record("linkpath", b"ok\0/etc/shadow");
    let tar = [
        header(b"PaxHeaders/l", tar::EntryType::XHeader, pax.len() as u64)
            .as_bytes()
            .as_slice(),
        &padded(&pax),
        header(b"nul-link", tar::EntryType::Symlink, 0).as_bytes(),
        &end_of_archive(),
    ]
    .concat();
    save("linkpath-nul.tar", tar, vec!["nul-link", "NUL"]);

    // A character device ext2 cannot encode: (1, 2^20 + 1).
    let mut h = header(b"mem", tar::EntryType::Char, 0);
    h.set_device_major(1).unwrap();
    h.set_device_minor(1 << 20 | 1).unwrap();
    h.set_cksum();
    let tar = [h.as_bytes().as_slice(), &end_of_archive()].concat();
    save("device.tar", tar, vec!["'mem'", "1,1048577"]);

    // 66,000 hard links to one file.
    let mut tar = Vec::new();
    tar.extend_from_slice(header(b"target", tar::EntryType::Regular, 0).as_bytes());
    for i in 0..66_000u32 {
        let mut h = header(format!("l{i:05}").as_bytes(), tar::EntryType::Link, 0);
        h.set_link_name("target").unwrap();
        h.set_cksum();
        tar.extend_from_slice(h.as_bytes());
    }
    tar.extend_from_slice(&end_of_archive());
    save("links-66000.tar", tar, vec!["too many links"]);
    set
}

/// Each hostile archive is refused with a message naming the problem,
/// in a few seconds and under 100 MB, whatever it claims.
#[test]
fn hostile_archives_are_refused_quickly_in_little_memory() {
    if !Path::new("/usr/bin/time").exists() || !have_tool("zstd") || !have_tool("gzip") {
        skip("needs GNU time (/usr/bin/time), zstd and gzip");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let mut total = 0.0;
    let mut peak = 0;
    let mut wrong = Vec::new();
    for (name, archive, words) in hostile_set(t.path()) {
        let img = t.path().join("img");
        let f = std::fs::File::create(&img).unwrap();
        f.set_len(64 << 20).unwrap();
        let arg = archive.to_str().unwrap();
        let (code, out, secs, kb) = measured("mke2fs-union", &["-q", "-F", "-d", arg], &img);
        eprintln!(
            "{name} ({} bytes): exit {code}, {secs:.2} s, peak RSS {kb} KB",
            std::fs::metadata(&archive).unwrap().len()
        );
        let mut problems = Vec::new();
        if code == 0 || code == 124 || out.contains("panicked") {
            problems.push(format!("exit {code}"));
        }
        problems.extend(
            words
                .iter()
                .filter(|w| !out.contains(**w))
                .map(|w| format!("no '{w}' in the message")),
        );
        if out.len() >= 4096 {
            problems.push(format!("a {} byte message", out.len()));
        }
        if secs >= 10.0 {
            problems.push(format!("{secs} s"));
        }
        if kb >= 100 * 1024 {
            problems.push(format!("{kb} KB"));
        }
        if !problems.is_empty() {
            let shown: String = out.chars().take(1000).collect();
            wrong.push(format!("{name}: {}:\n{shown}", problems.join(", ")));
        }
        total += secs;
        peak = peak.max(kb);
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    eprintln!("the hostile set: {total:.2} s in all, peak RSS {peak} KB");
}

/// An old GNU sparse member of 2 TiB with a little data (five runs, so
/// its map goes on in an extension block) costs nothing for its holes,
/// read in place or streamed: holes stay holes, data lands where the map
/// says.
#[test]
fn old_gnu_sparse_holes_cost_nothing() {
    if !have_tool("gzip") {
        skip("needs gzip");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let real = 2u64 << 40;
    let runs: Vec<(u64, u64)> = (0..5).map(|i| (i * (real / 5), 512)).collect();
    let mut h = header(b"disk", tar::EntryType::GNUSparse, 5 * 512);
    {
        let g = h.as_gnu_mut().unwrap();
        for (slot, &(off, len)) in g.sparse.iter_mut().zip(&runs) {
            slot.set_offset(off);
            slot.set_length(len);
        }
        g.set_real_size(real);
        g.set_is_extended(true);
    }
    h.set_cksum();
    let mut ext = tar::GnuExtSparseHeader::new();
    ext.sparse[0].set_offset(runs[4].0);
    ext.sparse[0].set_length(512);
    // GNU tar ends the map with an empty run at the real size.
    ext.sparse[1].set_offset(real);
    ext.sparse[1].set_length(0);
    let mut tar = [h.as_bytes().as_slice(), ext.as_bytes()].concat();
    for i in 0..5u8 {
        tar.extend_from_slice(&[b'a' + i; 512]);
    }
    tar.extend_from_slice(header(b"after", tar::EntryType::Regular, 3).as_bytes());
    tar.extend_from_slice(&padded(b"end"));
    tar.extend_from_slice(&end_of_archive());
    let plain = t.path().join("disk.tar");
    std::fs::write(&plain, &tar).unwrap();
    let gz = t.path().join("disk.tar.gz");
    std::fs::write(&gz, compress("gzip", &tar)).unwrap();
    for archive in [&plain, &gz] {
        let img = t.path().join("img");
        let f = std::fs::File::create(&img).unwrap();
        f.set_len(64 << 20).unwrap();
        let arg = archive.to_str().unwrap();
        let (code, out, secs, kb) =
            measured("mke2fs-union", &["-q", "-F", "-b", "4096", "-d", arg], &img);
        eprintln!("{arg}: exit {code}, {secs:.2} s, peak RSS {kb} KB");
        assert_eq!(code, 0, "{out}");
        assert!(secs < 10.0 && kb < 100 * 1024, "{secs} s, {kb} KB");
        let fs = Filesystem::open(&img, &OpenOptions::default()).unwrap();
        let rec = fs.read_inode(fs.namei(2, "/disk").unwrap()).unwrap();
        assert_eq!(rec.size(), real);
        assert!(rec.base.i_blocks < 200, "{} sectors", rec.base.i_blocks);
        for (i, &(off, _)) in runs.iter().enumerate() {
            let mut got = Vec::new();
            fs.read_file_with(&rec, |at: u64, data: &[u8]| {
                if at <= off && off < at + data.len() as u64 {
                    let s = (off - at) as usize;
                    got.extend_from_slice(&data[s..(s + 512).min(data.len())]);
                }
                Ok(())
            })
            .ok();
            assert_eq!(got.first(), Some(&(b'a' + i as u8)), "run {i} of {arg}");
        }
        let after = fs.read_inode(fs.namei(2, "/after").unwrap()).unwrap();
        assert_eq!(fs.read_file(&after).unwrap(), b"end");
    }
}

/// The library keeps ext2's link limit (65000, EXT2_LINK_MAX) for new
/// names and for subdirectories, as the kernel: EMLINK, never a count
/// that wraps or saturates.
#[test]
fn link_counts_stop_at_ext2s_limit() {
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("img");
    let out = run(Command::new(our_bin("mke2fs-union"))
        .args(["-q", "-F"])
        .arg(&img)
        .arg("8M"));
    assert!(out.status.success(), "{}", text(&out));
    let mut fs = open_rw(&img);
    let f = fs.create(2, b"f", 0o100644).unwrap();
    let mut rec = fs.read_inode(f).unwrap();
    rec.base.i_links_count = 64_999;
    fs.write_inode(f, &rec).unwrap();
    fs.link(2, b"f2", f).unwrap();
    assert_eq!(fs.read_inode(f).unwrap().base.i_links_count, 65_000);
    let e = fs.link(2, b"f3", f).unwrap_err();
    assert!(matches!(e, ext2fs::Error::TooManyLinks(i) if i == f), "{e}");
    assert!(fs.lookup_entry(2, b"f3").unwrap().is_none());

    let d = fs.mkdir(2, b"d", 0o755).unwrap();
    let mut rec = fs.read_inode(d).unwrap();
    rec.base.i_links_count = 65_000;
    fs.write_inode(d, &rec).unwrap();
    let e = fs.mkdir(d, b"sub", 0o755).unwrap_err();
    assert!(matches!(e, ext2fs::Error::TooManyLinks(i) if i == d), "{e}");
    assert!(fs.lookup_entry(d, b"sub").unwrap().is_none());
    let free = fs.sb().s_free_inodes_count;
    // A directory moved into it is refused too.
    let other = fs.mkdir(2, b"other", 0o755).unwrap();
    let e = fs.rename(2, b"other", d, b"moved").unwrap_err();
    assert!(matches!(e, ext2fs::Error::TooManyLinks(_)), "{e}");
    assert_eq!(
        fs.lookup_entry(2, b"other").unwrap().map(|e| e.inode),
        Some(other)
    );
    assert_eq!(fs.sb().s_free_inodes_count, free - 1);
    fs.close().unwrap();
}
