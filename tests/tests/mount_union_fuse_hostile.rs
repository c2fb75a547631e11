//! The FUSE engine over a lower directory tree that changes under it, as
//! a user who owns part of the lower tree can make it change: files
//! swapped for symlinks to a secret outside the tree (after open, and
//! racing copy-up) and for FIFOs. Nothing outside the lower tree may be
//! read and the mount may not hang.

mod fuse_common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fuse_common::*;

const SECRET: &[u8] = b"TOP-SECRET-7c41e09b";

/// A secret beside (outside) the lower tree.
fn plant_secret(s: &Setup) -> std::path::PathBuf {
    let secret = s.lower.parent().unwrap().join("secret");
    std::fs::write(&secret, SECRET).unwrap();
    secret
}

/// Opens `rel` under the mountpoint without the kernel following any
/// symlink of the union (a symlink the union shows is the reader's to
/// follow; what is tested is what the engine itself opens).
fn open_no_symlinks(
    mnt: &Path,
    rel: &str,
    flags: rustix::fs::OFlags,
) -> std::io::Result<std::fs::File> {
    let root = std::fs::File::open(mnt)?;
    let fd = rustix::fs::openat2(
        &root,
        rel,
        flags | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
        rustix::fs::ResolveFlags::NO_SYMLINKS,
    )?;
    Ok(std::fs::File::from(fd))
}

/// Reads `rel` as `open_no_symlinks` opens it (empty on any error).
fn read_no_symlinks(mnt: &Path, rel: &str) -> Vec<u8> {
    let mut out = Vec::new();
    if let Ok(mut f) = open_no_symlinks(mnt, rel, rustix::fs::OFlags::RDONLY) {
        let _ = std::io::Read::read_to_end(&mut f, &mut out);
    }
    out
}

/// Appends to `rel` as `open_no_symlinks` opens it (errors ignored).
fn append_no_symlinks(mnt: &Path, rel: &str) {
    use rustix::fs::OFlags;
    if let Ok(mut f) = open_no_symlinks(mnt, rel, OFlags::WRONLY | OFlags::APPEND) {
        let _ = std::io::Write::write_all(&mut f, b"+");
    }
}

fn libc_o_nonblock() -> i32 {
    rustix::fs::OFlags::NONBLOCK.bits() as i32
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Runs `f` on a thread and fails if it takes longer than `secs`.
fn within<T: Send + 'static>(secs: u64, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(secs))
        .unwrap_or_else(|_| panic!("{what} hung for {secs} s"))
}

#[test]
fn a_symlink_swapped_in_after_open_is_not_followed() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    let secret = plant_secret(&s);
    std::fs::write(s.lower.join("victim"), b"lower data").unwrap();
    let guard = mount_engine(&s);
    let mut f = std::fs::File::open(s.mnt.join("victim")).unwrap();
    std::fs::remove_file(s.lower.join("victim")).unwrap();
    std::os::unix::fs::symlink(&secret, s.lower.join("victim")).unwrap();
    // The open descriptor keeps reading the file it was opened on.
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut f, &mut got).unwrap();
    assert_eq!(got, b"lower data");
    drop(f);
    // A new open of the name the kernel still takes for a regular file.
    let again = read_no_symlinks(&s.mnt, "victim");
    assert!(
        !contains(&again, SECRET),
        "read the secret through the union"
    );
    // Nor does a write open copy the secret up.
    append_no_symlinks(&s.mnt, "victim");
    unmount_and_check(&s, guard);
    assert!(
        !contains(&std::fs::read(&s.img).unwrap(), SECRET),
        "the secret was copied into the top image"
    );
}

#[test]
fn copy_up_racing_symlink_swaps_never_copies_outside_data() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    let secret = plant_secret(&s);
    let dir = s.lower.join("race");
    std::fs::create_dir(&dir).unwrap();
    const FILES: usize = 150;
    for i in 0..FILES {
        std::fs::write(dir.join(format!("f{i}")), b"harmless").unwrap();
        std::os::unix::fs::symlink(&secret, dir.join(format!("s{i}"))).unwrap();
    }
    let guard = mount_engine(&s);
    // The lower tree's owner exchanges each file with its symlink, over
    // and over, while the union copies the files up.
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (dir, stop) = (dir.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for i in 0..FILES {
                    let _ = rustix::fs::renameat_with(
                        rustix::fs::CWD,
                        dir.join(format!("f{i}")),
                        rustix::fs::CWD,
                        dir.join(format!("s{i}")),
                        rustix::fs::RenameFlags::EXCHANGE,
                    );
                }
            }
        })
    };
    let mnt = s.mnt.clone();
    let read_back = within(60, "copy-up under symlink swaps", move || {
        let mut seen = Vec::new();
        for i in 0..FILES {
            let rel = format!("race/f{i}");
            seen.extend(read_no_symlinks(&mnt, &rel));
            append_no_symlinks(&mnt, &rel);
            seen.extend(read_no_symlinks(&mnt, &rel));
        }
        seen
    });
    stop.store(true, Ordering::Relaxed);
    swapper.join().unwrap();
    assert!(
        !contains(&read_back, SECRET),
        "read the secret through the union"
    );
    unmount_and_check(&s, guard);
    assert!(
        !contains(&std::fs::read(&s.img).unwrap(), SECRET),
        "the secret was copied into the top image"
    );
}

#[test]
fn a_fifo_swapped_in_does_not_hang_the_mount() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    std::fs::write(s.lower.join("pipe"), b"was a file").unwrap();
    let guard = mount_engine(&s);
    assert_eq!(std::fs::read(s.mnt.join("pipe")).unwrap(), b"was a file");
    std::fs::remove_file(s.lower.join("pipe")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        s.lower.join("pipe"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    let (p, m) = (s.mnt.join("pipe"), s.mnt.clone());
    within(
        20,
        "reading a name whose lower file became a FIFO",
        move || {
            // Non-blocking: once the kernel sees the FIFO, opening it for
            // reading would wait for a writer in the kernel, not in the
            // engine. Before that (the name cached as a file) the engine
            // gets the open.
            use std::os::unix::fs::OpenOptionsExt;
            let nonblocking = |w: bool| {
                std::fs::OpenOptions::new()
                    .read(!w)
                    .append(w)
                    .custom_flags(libc_o_nonblock())
                    .open(&p)
                    .and_then(|mut f| std::io::Read::read_to_end(&mut f, &mut Vec::new()))
            };
            let _ = nonblocking(false);
            let _ = nonblocking(true);
            // The mount still answers.
            std::fs::read_dir(&m).unwrap().count()
        },
    );
    assert_eq!(std::fs::read(s.mnt.join("a")).unwrap(), b"hello\n");
    unmount_and_check(&s, guard);
}

/// The lower tree is reached only below its root: a lower directory
/// swapped for a symlink to / does not show /etc through the union.
#[test]
fn a_directory_swapped_for_a_symlink_is_not_entered() {
    if skip_without_fuse() {
        return;
    }
    let s = setup();
    std::fs::create_dir(s.lower.join("sub")).unwrap();
    std::fs::write(s.lower.join("sub/passwd"), b"mine").unwrap();
    let guard = mount_engine(&s);
    assert_eq!(std::fs::read(s.mnt.join("sub/passwd")).unwrap(), b"mine");
    std::fs::rename(s.lower.join("sub"), s.lower.join("sub.old")).unwrap();
    std::os::unix::fs::symlink("/etc", s.lower.join("sub")).unwrap();
    let etc = std::fs::read(Path::new("/etc/passwd")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    // Past the kernel's cache of the old entries too.
    while Instant::now() < deadline {
        let got = read_no_symlinks(&s.mnt, "sub/passwd");
        assert!(got != etc, "/etc/passwd read through the union");
        std::thread::sleep(Duration::from_millis(200));
    }
    unmount_and_check(&s, guard);
}

/// Lower files that the kernel and the engine already looked up, below a
/// directory that is then swapped: for a symlink out of the tree, or for
/// another directory of the tree. The engine holds each lower object by
/// its path beneath the layer's pinned root and the identity the lookup
/// found (beneath.rs), so opening, listing, reading xattrs and copying up
/// through the old names never go through the symlink nor give the other
/// directory's files: errors, or the objects the lookup found.
#[test]
fn a_path_component_swapped_after_lookup_is_never_gone_through() {
    if skip_without_fuse() {
        return;
    }
    const OTHER: &[u8] = b"OTHER-DIRECTORY-3f9d";
    let s = setup();
    let outside = s.lower.parent().unwrap().join("outside");
    for (dir, data) in [(&outside, SECRET), (&s.lower.join("other"), OTHER)] {
        std::fs::create_dir_all(dir.join("inner")).unwrap();
        for f in ["f", "g", "h"] {
            std::fs::write(dir.join("inner").join(f), data).unwrap();
            let _ = rustix::fs::setxattr(
                dir.join("inner").join(f),
                "user.tag",
                data,
                rustix::fs::XattrFlags::empty(),
            );
        }
    }
    for d in ["out", "in"] {
        std::fs::create_dir_all(s.lower.join(d).join("inner")).unwrap();
        for f in ["f", "g", "h"] {
            std::fs::write(s.lower.join(d).join("inner").join(f), b"mine").unwrap();
        }
    }
    let guard = mount_engine(&s);
    let m = &s.mnt;
    for d in ["out", "in"] {
        for f in ["f", "g", "h"] {
            assert!(m.join(d).join("inner").join(f).is_file());
        }
        assert_eq!(std::fs::read(m.join(d).join("inner/f")).unwrap(), b"mine");
    }
    // out/ becomes a symlink to a tree outside the layer; in/ becomes
    // the layer's other/ (same names, other files).
    std::fs::rename(s.lower.join("out"), s.lower.join("out.old")).unwrap();
    std::os::unix::fs::symlink(&outside, s.lower.join("out")).unwrap();
    std::fs::rename(s.lower.join("in"), s.lower.join("in.old")).unwrap();
    std::fs::rename(s.lower.join("other"), s.lower.join("in")).unwrap();
    let mut seen = Vec::new();
    for d in ["out", "in"] {
        let inner = format!("{d}/inner");
        // g was never opened: its open reaches the engine.
        seen.extend(read_no_symlinks(m, &format!("{inner}/g")));
        let mut v = [0u8; 64];
        if let Ok(n) = rustix::fs::getxattr(m.join(&inner).join("f"), "user.tag", &mut v) {
            seen.extend_from_slice(&v[..n]);
        }
        // Copy-ups: chmod, a write open, a rename.
        let _ = std::fs::set_permissions(
            m.join(&inner).join("f"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        );
        append_no_symlinks(m, &format!("{inner}/g"));
        let _ = std::fs::rename(m.join(&inner).join("h"), m.join(&inner).join("h2"));
        for f in ["f", "g", "h2"] {
            seen.extend(read_no_symlinks(m, &format!("{inner}/{f}")));
        }
    }
    assert!(!contains(&seen, SECRET), "read outside the layer");
    assert!(!contains(&seen, OTHER), "read another directory's files");
    unmount_and_check(&s, guard);
    let img = std::fs::read(&s.img).unwrap();
    assert!(!contains(&img, SECRET), "outside data copied up");
    assert!(
        !contains(&img, OTHER),
        "another directory's files copied up"
    );
}
