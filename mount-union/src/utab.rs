//! libmount's utab (/run/mount/utab) entries of FUSE engine mounts, and
//! what an engine killed before its unmount leaves behind.
//!
//! umount(8) leaves utab to an unmount helper when it runs one, so the
//! helper drops the mount's entry itself once unmounted. An entry can
//! still outlive its mount (the engine killed and the mount detached
//! without umount(8): `umount -l` through the kernel, fusermount3 -u);
//! libmount ties an entry to a mount by target and source, so a stale one
//! would join the next mount of the same image on the same target. The
//! engine drops such entries before it records its own. Entries are
//! changed only through util-linux (`umount --fake`), which takes utab's
//! lock and rewrites it as libmount does; this module only reads utab.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where libmount keeps utab (LIBMOUNT_UTAB overrides it, as for libmount).
fn path() -> PathBuf {
    std::env::var_os("LIBMOUNT_UTAB")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/run/mount/utab"))
}

/// Undoes libmount's escapes (`\` and three octal digits: space, tab,
/// newline and backslash in paths).
fn unmangle(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b.get(i + 1..i + 4).filter(|d| {
            b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)) && d[0] <= b'3'
        });
        match oct {
            Some(d) => {
                out.push((d[0] - b'0') << 6 | (d[1] - b'0') << 3 | (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    out
}

/// The sources of utab's entries for `target`, in the file's order.
pub fn sources_for(target: &Path) -> Vec<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let Ok(text) = std::fs::read_to_string(path()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in text.lines() {
        let field = |key: &str| {
            line.split(' ')
                .find_map(|f| f.strip_prefix(key))
                .map(unmangle)
        };
        if field("TARGET=").as_deref() == Some(target.as_os_str().as_bytes()) {
            let src = field("SRC=").unwrap_or_default();
            out.push(PathBuf::from(OsStr::from_bytes(&src)));
        }
    }
    out
}

/// Runs util-linux's `mount --fake` or `umount --fake` with `args` (no
/// mount(2) or umount(2), no helper: libmount only updates utab, with its
/// lock, as it does for a real mount).
pub fn fake(program: &str, args: &[&OsStr]) -> Result<(), String> {
    let out = Command::new(program)
        .args(["--fake", "-i", "--no-canonicalize"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {program}(8): {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{program} --fake failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    ))
}

/// Drops utab's last entry for `target` (libmount finds it by target,
/// mounted or not).
fn drop_last(target: &Path) -> Result<(), String> {
    fake("umount", &[target.as_os_str()])
}

/// After the unmount: drops the mount's utab entry (the last for
/// `target`), when there is one.
pub fn unregister(target: &Path) -> Result<(), String> {
    if sources_for(target).is_empty() {
        return Ok(());
    }
    drop_last(target)
}

/// Before recording a new mount of `source` on `target`: drops the
/// entries earlier mounts of it left (the last ones for `target` while
/// they name `source`; an entry of another mount there stays).
pub fn drop_stale(source: &Path, target: &Path) -> Result<(), String> {
    let entries = sources_for(target);
    for _ in 0..entries.len() {
        match sources_for(target).last() {
            Some(s) if s == source => drop_last(target)?,
            _ => break,
        }
    }
    Ok(())
}

/// Why `target` cannot be mounted on, when it is a FUSE mount whose
/// engine is gone (killed): the kernel answers ENOTCONN for it until it is
/// unmounted.
pub fn dead_mount(target: &Path) -> Option<String> {
    match std::fs::metadata(target) {
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => Some(format!(
            "mount point {}: {e} (a FUSE mount whose engine is gone: umount it first)",
            target.display()
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_paths_are_read_back() {
        assert_eq!(unmangle(r"/a\040b\134c\011"), b"/a b\\c\t");
        assert_eq!(unmangle(r"/x\4y\999"), br"/x\4y\999");
    }
}
