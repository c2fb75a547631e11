//! Shared helpers for the integration tests: where our binaries are, and
//! how to run the real e2fsprogs on the same images.

pub mod fuzz;
mod skip;

pub use skip::{skip, REQUIRE_ORACLES};
pub mod check_pair;
pub mod damage;
pub mod debugfs_draw;
pub mod differential;
pub mod inputs;
pub mod mkfs_draw;
pub mod mkfs_pair;
pub mod vs_e2fsck;
pub use vs_e2fsck::{peek, poke};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (the workspace).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace")
        .to_path_buf()
}

/// `../shared` beside the checkout, when present.
pub fn shared_dir() -> Option<PathBuf> {
    let p = repo_root().join("../shared");
    p.is_dir().then_some(p)
}

/// Path of one of our binaries, built by `cargo build --workspace`.
/// Panics with the command to run when it is missing, or when it is older
/// than a source file it is built from (a test must never pass or fail on
/// a stale binary).
pub fn our_bin(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    for profile in ["debug", "release"] {
        let p = target.join(profile).join(name);
        if p.is_file() {
            assert_fresh(name, &p);
            return p;
        }
    }
    panic!(
        "{name} is not built: run `cargo build --workspace` before the integration tests \
         (README's test command does)"
    );
}

/// The crates a binary is built from: its own, the library and cli-common.
fn source_crates(bin: &str) -> [&'static str; 3] {
    let own = match bin {
        "mke2fs-union" | "mkfs.ext2-union" => "mke2fs-union",
        "e2fsck-union" | "fsck.ext2-union" => "e2fsck-union",
        "debugfs-union" => "debugfs-union",
        "mount-union" => "mount-union",
        other => panic!("{other} is not one of our binaries"),
    };
    [own, "ext2fs", "cli-common"]
}

/// The newest of the files under `dir` (recursively) and its time.
fn newest_file(dir: &Path) -> Option<(std::time::SystemTime, PathBuf)> {
    let mut newest: Option<(std::time::SystemTime, PathBuf)> = None;
    for e in walkdir::WalkDir::new(dir).into_iter().flatten() {
        let Some(t) = e.metadata().ok().and_then(|m| m.modified().ok()) else {
            continue;
        };
        if e.file_type().is_file() && !matches!(&newest, Some((n, _)) if *n >= t) {
            newest = Some((t, e.into_path()));
        }
    }
    newest
}

/// Panics when `bin` is older than a source file or manifest of the
/// crates it is built from. Checked once per binary and process.
fn assert_fresh(name: &str, bin: &Path) {
    use std::collections::HashSet;
    use std::sync::Mutex;
    static CHECKED: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);
    let mut checked = CHECKED.lock().unwrap_or_else(|e| e.into_inner());
    if !checked
        .get_or_insert_with(HashSet::new)
        .insert(bin.to_path_buf())
    {
        return;
    }
    let built = std::fs::metadata(bin)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    for krate in source_crates(name) {
        let dir = repo_root().join(krate);
        for part in [dir.join("src"), dir.join("Cargo.toml")] {
            if let Some((t, f)) = newest_file(&part) {
                assert!(
                    t <= built,
                    "{} is older than {}: run `cargo build --workspace` before the \
                     integration tests (they never run a stale binary)",
                    bin.display(),
                    f.display()
                );
            }
        }
    }
}

/// Whether a real e2fsprogs tool is installed; tests print SKIP otherwise.
pub fn have_tool(tool: &str) -> bool {
    Command::new(tool).arg("-V").output().is_ok()
}

/// Prints a skip reason and returns true when e2fsprogs is missing.
pub fn skip_without_e2fsprogs() -> bool {
    if have_tool("mke2fs") && have_tool("e2fsck") && have_tool("debugfs") {
        return false;
    }
    skip("the real e2fsprogs (mke2fs, e2fsck, debugfs, dumpe2fs) is not installed");
    true
}

/// Whether we are root (needed for loop mounts); prints why when not.
pub fn skip_without_root(what: &str) -> bool {
    if rustix_uid_is_root() {
        return false;
    }
    skip(&format!("{what} needs root (loop devices and mount)"));
    true
}

fn rustix_uid_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// Runs a command and returns its output, panicking only if it cannot start.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// As [`run`], keeping at most `cap` bytes of each of stdout and stderr
/// (the rest is read and dropped, so the child never blocks on a full
/// pipe); a stream that was cut ends with a line saying so.
pub fn run_capped(cmd: &mut Command, cap: usize) -> Output {
    use std::io::Read;
    use std::process::Stdio;
    fn keep(mut from: impl Read + Send + 'static, cap: usize) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut buf = [0u8; 64 * 1024];
            let mut cut = false;
            while let Ok(n) = from.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let room = cap.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
                cut |= n > room;
            }
            if cut {
                kept.extend_from_slice(format!("\n[output cut at {cap} bytes]\n").as_bytes());
            }
            kept
        })
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let stdout = keep(child.stdout.take().expect("piped stdout"), cap);
    let stderr = keep(child.stderr.take().expect("piped stderr"), cap);
    let status = child
        .wait()
        .unwrap_or_else(|e| panic!("cannot wait for {cmd:?}: {e}"));
    Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Makes an image with the real mke2fs: `mke2fs -q -F -t ext2 ARGS img size`.
pub fn real_mkfs(img: &Path, args: &[&str], size: &str) {
    std::fs::File::create(img).expect("create image file");
    let out = run(Command::new("mke2fs")
        .args(["-q", "-F", "-t", "ext2"])
        .args(args)
        .arg(img)
        .arg(size));
    assert!(out.status.success(), "mke2fs failed: {}", text(&out));
}

/// Exit code of the real `e2fsck -fn` and its output.
pub fn real_fsck_n(img: &Path) -> (i32, String) {
    let out = run(Command::new("e2fsck").arg("-fn").arg(img));
    (out.status.code().unwrap_or(-1), text(&out))
}

/// Asserts the real `e2fsck -fn` finds the image clean.
pub fn assert_real_fsck_clean(img: &Path) {
    let (code, out) = real_fsck_n(img);
    assert_eq!(code, 0, "real e2fsck -fn on {}:\n{out}", img.display());
}

/// Output of the real `debugfs -R REQ img` (stdout only).
pub fn real_debugfs(img: &Path, req: &str) -> Vec<u8> {
    run(Command::new("debugfs").arg("-R").arg(req).arg(img)).stdout
}

/// Output of the real `dumpe2fs` (with `-h` for the header only).
pub fn real_dumpe2fs(img: &Path, header_only: bool) -> String {
    let mut c = Command::new("dumpe2fs");
    if header_only {
        c.arg("-h");
    }
    String::from_utf8_lossy(&run(c.arg(img)).stdout).into_owned()
}

/// Sets or clears the union `whiteout` incompat bit (0x20 at superblock
/// byte 0x60) in place: how tests show a union image to the stock tools.
pub fn set_whiteout_bit(img: &Path, on: bool) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(img)
        .expect("open image");
    let mut b = [0u8; 4];
    f.read_exact_at(&mut b, 1024 + 0x60)
        .expect("read superblock");
    let mut v = u32::from_le_bytes(b);
    if on {
        v |= 0x20;
    } else {
        v &= !0x20;
    }
    f.write_all_at(&v.to_le_bytes(), 1024 + 0x60)
        .expect("write superblock");
}

/// A copy of `img` with the whiteout bit cleared, for the stock e2fsck.
pub fn stock_copy(img: &Path) -> PathBuf {
    let copy = img.with_extension("stock.img");
    std::fs::copy(img, &copy).expect("copy image");
    set_whiteout_bit(&copy, false);
    copy
}

/// The source tree the `-d` tests copy: many small files, a big one, a
/// sparse one, short and long symlinks, a hard link, a fifo, an xattr, a
/// setuid mode and (as root) a device and foreign owners.
pub fn make_sample_tree(src: &Path) {
    std::fs::create_dir_all(src.join("a/b/c")).unwrap();
    for i in 0..300 {
        std::fs::write(src.join(format!("a/many-{i:04}")), format!("file {i}")).unwrap();
    }
    std::fs::write(src.join("a/b/c/big"), vec![7u8; 3 << 20]).unwrap();
    let f = std::fs::File::create(src.join("sparse")).unwrap();
    use std::os::unix::fs::FileExt;
    f.write_all_at(b"x", 10 << 20).unwrap();
    std::os::unix::fs::symlink("a/b", src.join("short")).unwrap();
    std::os::unix::fs::symlink("y".repeat(100), src.join("long")).unwrap();
    std::fs::hard_link(src.join("a/many-0001"), src.join("hard")).unwrap();
    assert!(Command::new("mkfifo")
        .arg(src.join("fifo"))
        .status()
        .unwrap()
        .success());
    rustix::fs::setxattr(
        src.join("a/many-0002"),
        "user.k",
        b"value",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        src.join("a/many-0003"),
        std::fs::Permissions::from_mode(0o4710),
    )
    .unwrap();
    if rustix::process::geteuid().is_root() {
        assert!(Command::new("mknod")
            .arg(src.join("null"))
            .args(["c", "1", "3"])
            .status()
            .unwrap()
            .success());
        std::os::unix::fs::chown(src.join("a/many-0004"), Some(4242), Some(4343)).unwrap();
    }
}

/// Our library's view of an image, opened for writing (to damage it or
/// to make union objects the tools then meet).
pub fn open_rw(img: &Path) -> ext2fs::fs::Filesystem {
    let opts = ext2fs::fs::OpenOptions {
        write: true,
        ..Default::default()
    };
    ext2fs::fs::Filesystem::open(img, &opts).expect("open the image for writing")
}

/// A small deterministic generator, so that damage tests reproduce from
/// their seed (no dependency needed for this).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    /// A number below `n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One of `xs` (not empty).
    pub fn pick<'a, T: ?Sized>(&mut self, xs: &[&'a T]) -> &'a T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

/// Mounts the ext2 image or device `img` read-only with the kernel at
/// `work/mnt` (root only), runs `check` on the mount point and unmounts
/// (also when the check fails, whose panic then goes on). False, after a
/// SKIP line, where it cannot mount.
pub fn with_kernel_mount(img: &Path, work: &Path, check: impl FnOnce(&Path)) -> bool {
    use std::os::unix::fs::FileTypeExt;
    if skip_without_root("mounting the image with the kernel") {
        return false;
    }
    let mnt = work.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let is_device = std::fs::metadata(img).is_ok_and(|m| m.file_type().is_block_device());
    let opts = if is_device { "ro" } else { "loop,ro" };
    let m = run(Command::new("mount")
        .args(["-t", "ext2", "-o", opts])
        .arg(img)
        .arg(&mnt));
    if !m.status.success() {
        skip(&format!("the kernel cannot mount ext2 here: {}", text(&m)));
        return false;
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&mnt)));
    let _ = run(Command::new("umount").arg(&mnt));
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
    true
}

/// The kernel's view `mnt` of an image made from `src` (a tree made by
/// `make_sample_tree`): the same contents (`diff -r`), modes, owners,
/// mtimes, link counts, devices and xattrs.
pub fn assert_mount_shows_sample_tree(src: &Path, mnt: &Path) {
    use std::os::unix::fs::MetadataExt;
    let d = run(Command::new("diff")
        .args(["-r", "--no-dereference", "-x", "lost+found"])
        .arg(src)
        .arg(mnt));
    // diff cannot compare special files; it says so when both sides
    // are the same kind, which is what we want.
    let same_kind = |l: &str| {
        l.split_once(" is a ")
            .and_then(|(_, rest)| rest.split_once(" while file "))
            .is_some_and(|(kind, other)| other.ends_with(&format!(" is a {kind}")))
    };
    let listing = String::from_utf8_lossy(&d.stdout).into_owned();
    let real_diffs: Vec<&str> = listing.lines().filter(|l| !same_kind(l)).collect();
    assert!(real_diffs.is_empty(), "diff -r:\n{}", text(&d));
    for e in walkdir::WalkDir::new(src).min_depth(1) {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(src).unwrap();
        let (a, b) = (
            e.path().symlink_metadata().unwrap(),
            mnt.join(rel).symlink_metadata().unwrap(),
        );
        assert_eq!(a.mode(), b.mode(), "{rel:?} mode");
        assert_eq!((a.uid(), a.gid()), (b.uid(), b.gid()), "{rel:?} owner");
        assert_eq!(a.mtime(), b.mtime(), "{rel:?} mtime");
        if !a.is_dir() {
            assert_eq!(a.nlink(), b.nlink(), "{rel:?} links");
            assert_eq!(a.rdev(), b.rdev(), "{rel:?} rdev");
        }
    }
    let mut v = [0u8; 16];
    let n = rustix::fs::getxattr(mnt.join("a/many-0002"), "user.k", &mut v).unwrap();
    assert_eq!(&v[..n], b"value");
}

/// Runs a tool under GNU time with a timeout; returns (exit, output, secs, kb).
pub fn measured(tool: &str, args: &[&str], img: &Path) -> (i32, String, f64, u64) {
    let out = run(Command::new("/usr/bin/time")
        .args(["-f", "@@ %e %M", "timeout", "120"])
        .arg(our_bin(tool))
        .args(args)
        .arg(img));
    let all = text(&out);
    let stats = all
        .lines()
        .rev()
        .find(|l| l.starts_with("@@ "))
        .unwrap_or("@@ 0 0")
        .to_string();
    let mut it = stats.split_whitespace().skip(1);
    let secs: f64 = it.next().and_then(|x| x.parse().ok()).unwrap_or(0.0);
    let kb: u64 = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
    (out.status.code().unwrap_or(-1), all, secs, kb)
}

/// The real `debugfs -w -R REQ`, which must succeed.
pub fn real_debugfs_w(img: &Path, req: &str) {
    let out = run(Command::new("debugfs").args(["-w", "-R", req]).arg(img));
    assert!(
        out.status.success(),
        "debugfs -w -R '{req}': {}",
        text(&out)
    );
}

/// The real `debugfs -w -f -` with `cmds` on its standard input (one
/// request a line); debugfs exits 0 even when a request fails.
pub fn real_debugfs_script(img: &Path, cmds: &str) {
    use std::io::Write;
    let mut child = Command::new("debugfs")
        .args(["-w", "-f", "-"])
        .arg(img)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("debugfs");
    child
        .stdin
        .take()
        .expect("debugfs stdin")
        .write_all(cmds.as_bytes())
        .expect("debugfs script");
    assert!(child.wait().expect("debugfs").success());
}

/// The number after `label` on the first line of the real dumpe2fs's
/// output that has it (group 0's, for "Block bitmap at ").
pub fn dumpe2fs_number(img: &Path, label: &str) -> u64 {
    let dump = real_dumpe2fs(img, false);
    dump.lines()
        .find_map(|l| l.split_once(label))
        .and_then(|(_, rest)| {
            rest.trim_start()
                .split(|c: char| !c.is_ascii_digit())
                .next()
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no '{label}' in dumpe2fs output:\n{dump}"))
}

/// Runs `cmd` on a terminal (script(1)) and types `keys` (printf's
/// escapes; no Enter added): key k once `prompt` has been printed more
/// than k times (script -f flushes the typescript as it goes), so the
/// test does not depend on how fast the program starts. Each wait is
/// bounded; without a question the program gets end of input.
pub fn keys_on_a_terminal(cmd: &str, prompt: &str, keys: &[&str], dir: &Path) -> Output {
    let ts = dir.join("typescript");
    let _ = std::fs::remove_file(&ts);
    let ts = ts.display();
    let typing: Vec<String> = keys
        .iter()
        .enumerate()
        .map(|(k, key)| {
            format!(
                "i=0; until [ \"$(grep -o '{prompt}' '{ts}' 2>/dev/null | wc -l)\" -gt {k} ] \
                 || [ $i -ge 600 ]; do sleep 0.1; i=$((i+1)); done; printf '{key}'; "
            )
        })
        .collect();
    // `exec`: script(1) runs the command through $SHELL -c, and a shell
    // that stays as the terminal's session leader (dash does) is killed by
    // a Ctrl-C itself, hanging up the program halfway through its exit.
    run(Command::new("sh").arg("-c").arg(format!(
        "({}) | script -qefc 'exec {cmd}' '{ts}'",
        typing.concat()
    )))
}

/// What a terminal run showed, without e2fsprogs' version banners (ours
/// print none, docs/compat.md) and script(1)'s carriage returns.
pub fn terminal_text(out: &Output) -> String {
    let t = text(out).replace('\r', "");
    t.lines()
        .filter(|l| !l.starts_with("e2fsck 1.") && !l.starts_with("mke2fs 1."))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod capture_tests {
    use super::*;

    #[test]
    fn endless_output_is_cut_and_the_child_still_ends() {
        let out = run_capped(
            Command::new("sh").args(["-c", "head -c 3000000 /dev/zero; echo err >&2; exit 3"]),
            1 << 20,
        );
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(
            out.stdout.len(),
            (1 << 20) + "\n[output cut at 1048576 bytes]\n".len()
        );
        assert!(out.stdout.ends_with(b"[output cut at 1048576 bytes]\n"));
        assert_eq!(out.stderr, b"err\n");
    }
}
