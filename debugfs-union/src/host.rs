//! Writing onto the host beneath one destination directory, for rdump and
//! export_overlay. The image is untrusted: every object is made relative
//! to an open directory fd, each name from the image is one checked
//! component, nothing on the host is followed (O_NOFOLLOW,
//! AT_SYMLINK_NOFOLLOW) and nothing that exists is replaced (O_EXCL,
//! mkdirat/symlinkat/mknodat fail with EEXIST).

use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use ext2fs::inode::Inode;
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, Timespec, Timestamps};

/// Directory trees deeper than this are not written: each level holds a
/// directory fd (and a stack frame) until its metadata is set.
pub const MAX_DEPTH: usize = 1024;

/// A name from a directory entry that cannot be one host path component:
/// empty, `.`, `..`, or containing '/' or NUL. Such names are corrupt.
pub fn corrupt_name(name: &[u8]) -> bool {
    name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') || name.contains(&0)
}

/// An error as debugfs' com_err prints it: the system's text alone.
pub use cli_common::errno_text;

/// The access and modification times of an inode, for utimensat.
pub fn inode_times(inode: &Inode) -> Timestamps {
    let ts = |t: u32| Timespec {
        tv_sec: t as i32 as i64,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: ts(inode.base.i_atime),
        last_modification: ts(inode.base.i_mtime),
    }
}

fn os(name: &[u8]) -> &OsStr {
    OsStr::from_bytes(name)
}

/// A host directory held open, and the path messages show for it.
pub struct HostDir {
    fd: OwnedFd,
    shown: PathBuf,
}

impl HostDir {
    /// Opens the destination the user named. Their path is theirs to
    /// choose (it may pass through symlinks); only what lies below it
    /// comes from the image.
    pub fn open_dest(path: &Path) -> std::io::Result<HostDir> {
        let fd = rfs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(HostDir {
            fd,
            shown: path.to_path_buf(),
        })
    }

    /// The path of `name` in this directory, for messages.
    pub fn shown(&self, name: &[u8]) -> PathBuf {
        self.shown.join(os(name))
    }

    pub fn path(&self) -> &Path {
        &self.shown
    }

    pub fn file(&self) -> std::io::Result<File> {
        Ok(File::from(self.fd.try_clone()?))
    }

    /// Opens the existing directory `name`; a symlink there is refused.
    pub fn open_dir(&self, name: &[u8]) -> std::io::Result<HostDir> {
        let fd = rfs::openat(
            &self.fd,
            os(name),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(HostDir {
            fd,
            shown: self.shown(name),
        })
    }

    /// Makes directory `name` (mode 0700 until the caller sets the real
    /// one after filling it) and opens it.
    pub fn make_dir(&self, name: &[u8]) -> std::io::Result<HostDir> {
        rfs::mkdirat(&self.fd, os(name), Mode::RWXU)?;
        self.open_dir(name)
    }

    /// Creates regular file `name` (mode 0600 until set), which must not
    /// exist yet.
    pub fn create_file(&self, name: &[u8]) -> std::io::Result<File> {
        let fd = rfs::openat(
            &self.fd,
            os(name),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::RUSR | Mode::WUSR,
        )?;
        Ok(File::from(fd))
    }

    pub fn symlink(&self, target: &[u8], name: &[u8]) -> std::io::Result<()> {
        Ok(rfs::symlinkat(os(target), &self.fd, os(name))?)
    }

    /// A device node, FIFO or socket `name` (mode without type bits).
    pub fn mknod(&self, name: &[u8], kind: FileType, mode: u32, dev: u64) -> std::io::Result<()> {
        Ok(rfs::mknodat(
            &self.fd,
            os(name),
            kind,
            Mode::from_raw_mode(mode),
            dev,
        )?)
    }

    /// A hard link `name` here to `from_name` in `from` (never following
    /// a symlink there).
    pub fn link_from(&self, from: &HostDir, from_name: &[u8], name: &[u8]) -> std::io::Result<()> {
        Ok(rfs::linkat(
            &from.fd,
            os(from_name),
            &self.fd,
            os(name),
            AtFlags::empty(),
        )?)
    }

    /// Owner of `name` itself, never of a symlink's target.
    pub fn chown_entry(&self, name: &[u8], uid: u32, gid: u32) -> std::io::Result<()> {
        std::os::unix::fs::lchown(self.proc_path(name), Some(uid), Some(gid))
    }

    /// `/proc/self/fd/<this directory>/<name>`: resolves to this very
    /// directory, then to `name` in it; the l* calls do not follow `name`.
    fn proc_path(&self, name: &[u8]) -> PathBuf {
        let mut path = format!(
            "/proc/self/fd/{}/",
            std::os::fd::AsRawFd::as_raw_fd(&self.fd)
        )
        .into_bytes();
        path.extend_from_slice(name);
        PathBuf::from(std::ffi::OsString::from_vec(path))
    }

    /// Times of `name` itself, never of a symlink's target.
    pub fn set_entry_times(&self, name: &[u8], inode: &Inode) -> std::io::Result<()> {
        Ok(rfs::utimensat(
            &self.fd,
            os(name),
            &inode_times(inode),
            AtFlags::SYMLINK_NOFOLLOW,
        )?)
    }

    /// Mode of `name`, a node that cannot be opened for writing (device,
    /// FIFO, socket): opened with O_PATH|O_NOFOLLOW, checked not to be a
    /// symlink, then changed through its /proc/self/fd link, which names
    /// that very inode.
    pub fn chmod_entry(&self, name: &[u8], mode: u32) -> std::io::Result<()> {
        let fd = rfs::openat(
            &self.fd,
            os(name),
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let st = rfs::fstat(&fd)?;
        if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
            return Err(std::io::Error::from(rustix::io::Errno::LOOP));
        }
        let link = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd));
        Ok(rfs::chmod(link.as_str(), Mode::from_raw_mode(mode))?)
    }

    /// An extended attribute of `name` itself: set through
    /// /proc/self/fd/<this directory>/<name>, whose last component the
    /// l*xattr call does not follow.
    pub fn set_entry_xattr(&self, name: &[u8], xname: &str, value: &[u8]) -> std::io::Result<()> {
        Ok(rfs::lsetxattr(
            self.proc_path(name),
            xname,
            value,
            rfs::XattrFlags::empty(),
        )?)
    }
}

/// Sets an extended attribute on an open file or directory.
pub fn set_fd_xattr(fd: impl AsFd, xname: &str, value: &[u8]) -> std::io::Result<()> {
    Ok(rfs::fsetxattr(fd, xname, value, rfs::XattrFlags::empty())?)
}

/// Owner, mode and times of an open file or directory, in the order that
/// keeps set-id bits (chown clears them, so chmod comes after).
pub fn set_fd_meta(fd: impl AsFd, inode: &Inode, mode: u32) -> Vec<(&'static str, std::io::Error)> {
    let mut errs = Vec::new();
    if let Err(e) = std::os::unix::fs::fchown(&fd, Some(inode.uid()), Some(inode.gid())) {
        errs.push(("changing ownership of", e));
    }
    if let Err(e) = rfs::fchmod(&fd, Mode::from_raw_mode(mode)) {
        errs.push(("setting permissions of", e.into()));
    }
    if let Err(e) = rfs::futimens(&fd, &inode_times(inode)) {
        errs.push(("setting times of", e.into()));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_not_one_component_are_corrupt() {
        for bad in [&b""[..], b".", b"..", b"/etc", b"a/b", b"a\0b", b"../x"] {
            assert!(corrupt_name(bad), "{bad:?}");
        }
        for good in [&b"a"[..], b"...", b".hidden", b"a b", b"\xff"] {
            assert!(!corrupt_name(good), "{good:?}");
        }
    }

    #[test]
    fn errno_text_is_the_bare_message() {
        let e = std::io::Error::from_raw_os_error(17);
        assert_eq!(errno_text(e), "File exists");
    }
}
