//! The FUSE engine under readers and writers at once: lower files are
//! read from their open descriptors outside the engine's lock while top
//! files are written; every reader must get the data of the object it
//! opened. Also what the kernel keeps across opens
//! (file data, listings) and passthrough.

mod fuse_common;

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Arc;

use fuse_common::*;

/// `len` bytes that tell file `k` and each position in it apart.
fn pattern(k: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2654435761).to_le_bytes()[k as usize % 4] ^ k)
        .collect()
}

#[test]
fn parallel_reads_of_lower_and_top_files_return_their_data() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    const LOWER: u8 = 6;
    const LEN: usize = 3 << 20;
    for k in 0..LOWER {
        std::fs::write(s.lower.join(format!("big{k}")), pattern(k, LEN)).unwrap();
    }
    let guard = mount_engine(&s);
    let mnt = Arc::new(s.mnt.clone());
    // Two top files written through the union while the lower ones are
    // read.
    let writers: Vec<_> = (0..2u8)
        .map(|w| {
            let mnt = mnt.clone();
            std::thread::spawn(move || {
                let k = LOWER + w;
                let data = pattern(k, LEN);
                let mut f = std::fs::File::create(mnt.join(format!("top{w}"))).unwrap();
                for chunk in data.chunks(64 << 10) {
                    f.write_all(chunk).unwrap();
                }
                f.sync_all().unwrap();
            })
        })
        .collect();
    // Readers: each reads every lower file, from a different start, in
    // chunks that cross FUSE request boundaries.
    let readers: Vec<_> = (0..LOWER)
        .map(|r| {
            let mnt = mnt.clone();
            std::thread::spawn(move || {
                for i in 0..LOWER {
                    let k = (r + i) % LOWER;
                    let path: PathBuf = mnt.join(format!("big{k}"));
                    let mut f = std::fs::File::open(&path).unwrap();
                    let from = (r as u64) * 100_003 % LEN as u64;
                    f.seek(SeekFrom::Start(from)).unwrap();
                    let mut got = Vec::new();
                    f.read_to_end(&mut got).unwrap();
                    assert!(
                        got == pattern(k, LEN)[from as usize..],
                        "{} read from {from} through the union differs",
                        path.display()
                    );
                }
            })
        })
        .collect();
    for t in writers.into_iter().chain(readers) {
        t.join().unwrap();
    }
    for w in 0..2u8 {
        let got = std::fs::read(s.mnt.join(format!("top{w}"))).unwrap();
        assert!(got == pattern(LOWER + w, LEN), "top{w} reads back wrong");
    }
    unmount_and_check(&s, guard);
}

/// A lower file replaced (renamed over) after it was opened: the open
/// descriptor keeps reading the file it was opened on, never the new one.
#[test]
fn a_lower_file_renamed_over_after_open_keeps_its_data() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    std::fs::write(s.lower.join("victim"), pattern(1, 200_000)).unwrap();
    let guard = mount_engine(&s);
    let mut f = std::fs::File::open(s.mnt.join("victim")).unwrap();
    let mut head = [0u8; 10];
    f.read_exact(&mut head).unwrap();
    std::fs::write(s.lower.join("new"), pattern(2, 300_000)).unwrap();
    std::fs::rename(s.lower.join("new"), s.lower.join("victim")).unwrap();
    let mut rest = Vec::new();
    f.read_to_end(&mut rest).unwrap();
    let mut got = head.to_vec();
    got.extend(rest);
    assert!(got == pattern(1, 200_000), "the open file's data changed");
    drop(f);
    unmount_and_check(&s, guard);
}

/// Continues a stopped engine when dropped (a failing test leaves no
/// lower mount stopped under the union).
struct Stopped(rustix::process::Pid);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = rustix::process::kill_process(self.0, rustix::process::Signal::Cont);
    }
}

/// Reads waiting on a lower disk (here: a lower tree that is itself a
/// FUSE mount whose engine is stopped) do not hold up the engine's other
/// requests: more stuck reads than the engine has request threads, then
/// a statfs, which reads only the top image, must be answered.
#[test]
fn reads_stuck_on_a_lower_disk_do_not_hold_up_other_requests() {
    if skip_without_fuse() {
        return;
    }
    // More than the old engine's request threads (one per CPU, 2-4).
    const STUCK: u8 = 5;
    let inner = setup();
    for k in 0..STUCK {
        std::fs::write(inner.lower.join(format!("slow{k}")), pattern(k, 1 << 20)).unwrap();
    }
    let (mut inner_engine, inner_guard) = mount_foreground(
        &format!("union,lowerdir={}", inner.lower.display()),
        &inner.img,
        &inner.mnt,
    );
    let outer = setup();
    let out = fuse_mount(&outer, &format!("union,lowerdir={}", inner.mnt.display()));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        integration_tests::text(&out)
    );
    let outer_guard = Mounted(outer.mnt.clone());
    let files: Vec<_> = (0..STUCK)
        .map(|k| std::fs::File::open(outer.mnt.join(format!("slow{k}"))).unwrap())
        .collect();
    let stopped = Stopped(rustix::process::Pid::from_child(&inner_engine));
    rustix::process::kill_process(stopped.0, rustix::process::Signal::Stop).unwrap();
    let readers: Vec<_> = files
        .into_iter()
        .enumerate()
        .map(|(k, mut f)| {
            std::thread::spawn(move || {
                let mut got = Vec::new();
                f.read_to_end(&mut got).unwrap();
                assert!(got == pattern(k as u8, 1 << 20), "slow{k} read wrong");
            })
        })
        .collect();
    // Let the reads reach the engine and get stuck.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let (tx, rx) = std::sync::mpsc::channel();
    let mnt = outer.mnt.clone();
    std::thread::spawn(move || {
        let _ = tx.send(rustix::fs::statfs(&mnt).is_ok());
    });
    let answered = rx.recv_timeout(std::time::Duration::from_secs(10));
    drop(stopped);
    assert_eq!(
        answered,
        Ok(true),
        "statfs waited for reads stuck on the lower tree"
    );
    for r in readers {
        r.join().unwrap();
    }
    unmount_and_check(&outer, outer_guard);
    umount_retrying(&inner.mnt);
    assert!(inner_engine.wait().unwrap().success());
    wait_for_release(&inner.img);
    drop(inner_guard);
}

/// The engine in the foreground with `-o passthrough`, its stderr kept;
/// None (after a SKIP line) when the kernel gives no passthrough.
fn mount_passthrough(s: &Setup) -> Option<(std::process::Child, Mounted)> {
    let log = s.img.with_extension("stderr");
    let mut child = std::process::Command::new(integration_tests::our_bin("mount-union"))
        .args(["-F", "-o"])
        .arg(format!("union,passthrough,lowerdir={}", s.lower.display()))
        .arg(&s.img)
        .arg(&s.mnt)
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let guard = Mounted(s.mnt.clone());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !mounted_at(&s.mnt) {
        assert!(
            std::time::Instant::now() < deadline,
            "the mount never came up"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // The kernel's INIT has been answered once a request is.
    std::fs::metadata(s.mnt.join("a")).unwrap();
    let said = std::fs::read_to_string(&log).unwrap();
    if said.contains("no FUSE passthrough") {
        integration_tests::skip(&format!("FUSE passthrough unavailable: {said}"));
        umount_retrying(&s.mnt);
        let _ = child.wait();
        wait_for_release(&s.img);
        return None;
    }
    assert!(said.is_empty(), "{said}");
    Some((child, guard))
}

/// With passthrough, an open lower file is read by the kernel: its reads
/// go on while the engine is stopped, and give the lower file's data.
#[test]
fn passthrough_reads_a_lower_file_without_the_engine() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    let data = pattern(3, 5 << 20);
    std::fs::write(s.lower.join("big"), &data).unwrap();
    let Some((mut child, guard)) = mount_passthrough(&s) else {
        return;
    };
    let mut f = std::fs::File::open(s.mnt.join("big")).unwrap();
    let engine = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(engine, rustix::process::Signal::Stop).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut got = Vec::new();
        let r = f.read_to_end(&mut got).map(|_| got);
        let _ = tx.send(r);
    });
    let got = rx.recv_timeout(std::time::Duration::from_secs(20));
    rustix::process::kill_process(engine, rustix::process::Signal::Cont).unwrap();
    let got = got
        .expect("a passthrough read waited for the stopped engine")
        .unwrap();
    assert!(
        got == data,
        "passthrough read other data than the lower file"
    );
    umount_retrying(&s.mnt);
    assert!(child.wait().unwrap().success());
    wait_for_release(&s.img);
    drop(guard);
}

/// A lower file open in passthrough: opens that cannot share its
/// backing file (for writing, or of its copy) are refused with ETXTBSY
/// rather than the kernel's EIO, read-only opens share it, and once it is
/// closed the file is copied up and read back as written.
#[test]
fn passthrough_and_copy_up_of_the_same_file() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    let data = pattern(4, 300_000);
    std::fs::write(s.lower.join("f"), &data).unwrap();
    let Some((mut child, guard)) = mount_passthrough(&s) else {
        return;
    };
    let p = s.mnt.join("f");
    let mut ro = std::fs::File::open(&p).unwrap();
    let mut ro2 = std::fs::File::open(&p).unwrap();
    let busy = std::fs::OpenOptions::new().append(true).open(&p);
    assert_eq!(
        busy.err().and_then(|e| e.raw_os_error()),
        Some(libc_etxtbsy())
    );
    // A copy-up without an open (chmod): the copy cannot be opened
    // while the lower file is open in passthrough.
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let busy = std::fs::File::open(&p);
    assert_eq!(
        busy.err().and_then(|e| e.raw_os_error()),
        Some(libc_etxtbsy())
    );
    let mut old = Vec::new();
    ro.read_to_end(&mut old).unwrap();
    assert!(old == data, "the passthrough descriptor read other data");
    let mut old2 = Vec::new();
    ro2.read_to_end(&mut old2).unwrap();
    assert!(old2 == data);
    drop((ro, ro2));
    let mut w = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
    w.write_all(b"appended").unwrap();
    drop(w);
    let mut want = data.clone();
    want.extend_from_slice(b"appended");
    assert!(
        std::fs::read(&p).unwrap() == want,
        "the copy reads back wrong"
    );
    // A lower file renamed over after open: the passthrough descriptor
    // keeps the file it was opened on.
    std::fs::write(s.lower.join("v"), pattern(5, 70_000)).unwrap();
    let mut v = std::fs::File::open(s.mnt.join("v")).unwrap();
    std::fs::write(s.lower.join("v2"), pattern(6, 90_000)).unwrap();
    std::fs::rename(s.lower.join("v2"), s.lower.join("v")).unwrap();
    let mut got = Vec::new();
    v.read_to_end(&mut got).unwrap();
    assert!(got == pattern(5, 70_000), "read the file renamed in");
    drop(v);
    umount_retrying(&s.mnt);
    assert!(child.wait().unwrap().success());
    wait_for_release(&s.img);
    drop(guard);
    integration_tests::assert_real_fsck_clean(&integration_tests::stock_copy(&s.img));
}

fn libc_etxtbsy() -> i32 {
    rustix::io::Errno::TXTBSY.raw_os_error()
}

fn names(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// The kernel keeps file data and listings across opens: each change
/// made through the union is seen by the next open and listing.
#[test]
fn kept_data_and_listings_follow_changes() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    let guard = mount_engine(&s);
    let d = s.mnt.join("d");
    assert_eq!(names(&d), ["b", "sub"]);
    assert_eq!(names(&d), ["b", "sub"]);
    std::fs::write(d.join("new"), b"n").unwrap();
    assert_eq!(names(&d), ["b", "new", "sub"]);
    std::fs::remove_file(d.join("b")).unwrap();
    assert_eq!(names(&d), ["new", "sub"]);
    std::fs::rename(d.join("new"), d.join("renamed")).unwrap();
    assert_eq!(names(&d), ["renamed", "sub"]);
    std::fs::rename(d.join("renamed"), s.mnt.join("moved")).unwrap();
    assert_eq!(names(&d), ["sub"]);
    assert!(names(&s.mnt).contains(&"moved".to_string()));
    // File data: read (cached), then changed through other opens.
    let a = s.mnt.join("a");
    assert_eq!(std::fs::read(&a).unwrap(), b"hello\n");
    let mut w = std::fs::OpenOptions::new().append(true).open(&a).unwrap();
    w.write_all(b"more\n").unwrap();
    drop(w);
    assert_eq!(std::fs::read(&a).unwrap(), b"hello\nmore\n");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&a)
        .unwrap()
        .set_len(3)
        .unwrap();
    assert_eq!(std::fs::read(&a).unwrap(), b"hel");
    // Through a second name of the same file.
    std::fs::hard_link(&a, s.mnt.join("a2")).unwrap();
    std::fs::write(s.mnt.join("a2"), b"via a2").unwrap();
    assert_eq!(std::fs::read(&a).unwrap(), b"via a2");
    unmount_and_check(&s, guard);
}

/// Several clients at once on the engine's threads: one reads a big lower
/// file over and over (its cached pages dropped between passes, so every
/// pass asks the engine), others create and write files in two
/// directories, stat and list them and read back what is written. Each
/// gets its own objects' data, no name is lost, and the image the
/// creators filled (allocator and metadata written by several threads'
/// requests) checks clean.
#[test]
fn concurrent_creates_stats_and_reads_keep_every_object_right() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    const LEN: usize = 4 << 20;
    const FILES: usize = 150;
    std::fs::write(s.lower.join("big"), pattern(9, LEN)).unwrap();
    let guard = mount_engine(&s);
    let mnt = Arc::new(s.mnt.clone());
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (mnt, done) = (mnt.clone(), done.clone());
        std::thread::spawn(move || {
            let want = pattern(9, LEN);
            let mut passes = 0;
            while passes < 2 || !done.load(std::sync::atomic::Ordering::Relaxed) {
                let mut f = std::fs::File::open(mnt.join("big")).unwrap();
                let mut got = Vec::new();
                f.read_to_end(&mut got).unwrap();
                assert!(got == want, "the lower file read wrong in pass {passes}");
                rustix::fs::fadvise(&f, 0, 0, rustix::fs::Advice::DontNeed).unwrap();
                passes += 1;
            }
        })
    };
    let creators: Vec<_> = (0..2u8)
        .map(|c| {
            let mnt = mnt.clone();
            std::thread::spawn(move || {
                let dir = mnt.join(format!("new{c}"));
                std::fs::create_dir(&dir).unwrap();
                for i in 0..FILES {
                    let p = dir.join(format!("f{i}"));
                    let data = pattern(c, 1000 + i * 97);
                    std::fs::write(&p, &data).unwrap();
                    assert_eq!(std::fs::metadata(&p).unwrap().len(), data.len() as u64);
                    if i % 10 == 9 {
                        assert_eq!(names(&dir).len(), i + 1, "{} lost names", dir.display());
                        let back = dir.join(format!("f{}", i / 2));
                        assert!(
                            std::fs::read(&back).unwrap() == pattern(c, 1000 + i / 2 * 97),
                            "{} reads back wrong",
                            back.display()
                        );
                    }
                }
            })
        })
        .collect();
    for t in creators {
        t.join().unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    reader.join().unwrap();
    for c in 0..2u8 {
        let dir = s.mnt.join(format!("new{c}"));
        assert_eq!(names(&dir).len(), FILES);
        for i in 0..FILES {
            let got = std::fs::read(dir.join(format!("f{i}"))).unwrap();
            assert!(
                got == pattern(c, 1000 + i * 97),
                "new{c}/f{i} reads back wrong"
            );
        }
    }
    unmount_and_check(&s, guard);
}

/// Writers to different files at once, each on its own file: new top
/// files written in chunks out of order (holes filled last), a lower
/// file copied up and overwritten in the middle, every file fsynced and
/// read back while the others are still being written. Each file ends
/// with exactly its writer's bytes (no block of one file given to
/// another) and the image checks clean.
#[test]
fn parallel_writes_to_different_files_keep_their_data() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    const CHUNK: usize = 64 << 10;
    const CHUNKS: usize = 24;
    const WRITERS: u8 = 4;
    let lower = pattern(40, CHUNK * CHUNKS);
    std::fs::write(s.lower.join("low"), &lower).unwrap();
    let guard = mount_engine(&s);
    let mnt = Arc::new(s.mnt.clone());
    // Odd chunks first, then even ones: every writer leaves holes that
    // are filled later, so allocations interleave.
    let order: Vec<usize> = (1..CHUNKS)
        .step_by(2)
        .chain((0..CHUNKS).step_by(2))
        .collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (mnt, order) = (mnt.clone(), order.clone());
            std::thread::spawn(move || {
                let want = pattern(w, CHUNK * CHUNKS);
                let p = mnt.join(format!("w{w}"));
                let mut f = std::fs::File::create(&p).unwrap();
                for &c in &order {
                    f.seek(SeekFrom::Start((c * CHUNK) as u64)).unwrap();
                    f.write_all(&want[c * CHUNK..(c + 1) * CHUNK]).unwrap();
                }
                f.sync_all().unwrap();
                assert!(std::fs::read(&p).unwrap() == want, "w{w} reads back wrong");
            })
        })
        .collect();
    let copier = {
        let mnt = mnt.clone();
        std::thread::spawn(move || {
            let mut want = pattern(40, CHUNK * CHUNKS);
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .open(mnt.join("low"))
                .unwrap();
            let middle = pattern(41, 3 * CHUNK + 123);
            f.seek(SeekFrom::Start(5 * CHUNK as u64 + 7)).unwrap();
            f.write_all(&middle).unwrap();
            f.sync_all().unwrap();
            want[5 * CHUNK + 7..5 * CHUNK + 7 + middle.len()].copy_from_slice(&middle);
            assert!(
                std::fs::read(mnt.join("low")).unwrap() == want,
                "the copied-up file reads back wrong"
            );
            want
        })
    };
    for t in writers {
        t.join().unwrap();
    }
    let low = copier.join().unwrap();
    // Read again from the engine, not from what the kernel kept.
    for w in 0..WRITERS {
        let p = s.mnt.join(format!("w{w}"));
        let f = std::fs::File::open(&p).unwrap();
        rustix::fs::fadvise(&f, 0, 0, rustix::fs::Advice::DontNeed).unwrap();
        assert!(
            std::fs::read(&p).unwrap() == pattern(w, CHUNK * CHUNKS),
            "w{w} reads back wrong from the engine"
        );
    }
    assert!(std::fs::read(s.mnt.join("low")).unwrap() == low);
    assert!(
        std::fs::read(s.lower.join("low")).unwrap() == lower,
        "the lower file changed"
    );
    unmount_and_check(&s, guard);
}

/// As root the engine widens the mount's readahead to one 1 MiB FUSE
/// request (the kernel starts it at 128 KiB), and a sequential read of a
/// lower file in those requests returns its data.
#[test]
fn readahead_window_is_one_full_request() {
    use std::os::unix::fs::MetadataExt;
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    const LEN: usize = 9 << 20;
    std::fs::write(s.lower.join("seq"), pattern(3, LEN)).unwrap();
    let guard = mount_engine(&s);
    let dev = std::fs::metadata(&s.mnt).unwrap().dev();
    let knob = format!(
        "/sys/class/bdi/{}:{}/read_ahead_kb",
        rustix::fs::major(dev),
        rustix::fs::minor(dev)
    );
    let window = std::fs::read_to_string(&knob).unwrap();
    assert_eq!(window.trim(), "1024", "{knob}");
    let mut got = Vec::new();
    std::fs::File::open(s.mnt.join("seq"))
        .unwrap()
        .read_to_end(&mut got)
        .unwrap();
    assert!(got == pattern(3, LEN), "the lower file read back differs");
    unmount_and_check(&s, guard);
}
