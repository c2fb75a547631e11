//! Access to a lower directory tree that may change under us (its owner
//! can swap a file for a symlink or a FIFO at any time): the tree is
//! pinned by one directory descriptor taken at mount, every object is
//! opened relative to it without following any symlink and without
//! leaving it (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, or O_NOFOLLOW
//! per component on kernels before 5.6), and every object is checked to
//! still be the one (device, inode, type) a lookup found before it is
//! used. Data is read only from regular files, opened non-blocking.
//!
//! Looked-up objects are held by their path beneath the pinned root and
//! their identity, not by an O_PATH descriptor each: the kernel may hold
//! hundreds of thousands of nodes, past any descriptor limit, and the
//! identity check gives the same guarantee (a path whose object changed
//! is an error, never another object, and nothing outside the tree is
//! reached). What differs: an object moved within the layer under the
//! mount is not followed to its new name (lower layers changing under a
//! mount is undefined, as with overlayfs). Open files keep a descriptor.

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Mutex;

use ext2fs::union_origin::FsId;

use rustix::fs::{Mode, OFlags, ResolveFlags, Stat};
use rustix::io::Errno as RErrno;

use super::errno::Errno;

pub const S_IFMT: u32 = 0o170000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFDIR: u32 = 0o040000;
pub const S_IFLNK: u32 = 0o120000;

/// What makes a lower object the one we looked up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ident {
    pub dev: u64,
    pub ino: u64,
    /// The S_IFMT bits.
    pub kind: u32,
}

impl Ident {
    pub fn of(st: &Stat) -> Self {
        Ident {
            dev: st.st_dev,
            ino: st.st_ino,
            kind: st.st_mode & S_IFMT,
        }
    }
}

/// A pinned lower directory tree.
pub struct Tree {
    root: OwnedFd,
    dev: u64,
    /// The root's filesystem, named to outlast device numbers.
    fs: FsId,
    /// Filesystems mounted inside the tree, by device, as met at lookups.
    inner: Mutex<HashMap<u64, FsId>>,
    /// The directory a listing's names are looked up in (see look_in).
    listing: Mutex<ListingDir>,
}

/// The directory look_in keeps for a listing's lookups.
#[derive(Default)]
enum ListingDir {
    /// No listing is being looked up: every lookup walks from the root.
    #[default]
    Off,
    /// A listing's names are (`begin_listing` to `end_listing`), in this
    /// directory once opened.
    On(Option<(Vec<u8>, OwnedFd)>),
}

/// How an origin record names the filesystem `fd` is on: its `f_fsid`
/// (UUID-based on ext2/3/4 and btrfs: the same across reboots and
/// device renumbering), or its device number where it reports none.
fn fs_id(fd: impl AsFd, dev: u64) -> FsId {
    match rustix::fs::fstatvfs(fd) {
        Ok(v) if v.f_fsid != 0 => FsId::Fsid(v.f_fsid),
        _ => FsId::Dev(dev),
    }
}

/// How many times a resolution interrupted by a concurrent rename is
/// tried again (openat2 answers EAGAIN then).
const RETRIES: usize = 8;

fn errno(e: RErrno) -> Errno {
    e.raw_os_error()
}

impl Tree {
    /// Pins the directory `path` (the administrator's path: followed).
    pub fn open(path: &std::path::Path) -> Result<Tree, String> {
        let root = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| format!("{}: {e}", path.display()))?;
        let dev = rustix::fs::fstat(&root)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .st_dev;
        let fs = fs_id(&root, dev);
        Ok(Tree {
            root,
            dev,
            fs,
            inner: Mutex::default(),
            listing: Mutex::default(),
        })
    }

    /// The device the tree's root is on.
    pub fn dev(&self) -> u64 {
        self.dev
    }

    /// The filesystem the tree's root is on.
    pub fn home_fs(&self) -> FsId {
        self.fs
    }

    /// The filesystem of device `dev` inside the tree: None for the
    /// root's own; for another, as noted at its objects' lookups.
    pub fn fs_of(&self, dev: u64) -> Option<FsId> {
        if dev == self.dev {
            return None;
        }
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        Some(inner.get(&dev).copied().unwrap_or(FsId::Dev(dev)))
    }

    /// Notes the filesystem of an object looked up on another device than
    /// the root's (a submount: asked again at each lookup, as another
    /// filesystem may be mounted there with the same device number).
    fn note_fs(&self, fd: &OwnedFd, st: &Stat) {
        if st.st_dev != self.dev {
            let fs = fs_id(fd, st.st_dev);
            let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            inner.insert(st.st_dev, fs);
        }
    }

    /// Opens `rel` (a path relative to the tree, "" for its root) with
    /// `flags`, following no symlink on the way nor at the end (a final
    /// symlink is only opened with O_PATH: ELOOP otherwise).
    pub fn open_at(&self, rel: &[u8], flags: OFlags) -> Result<OwnedFd, Errno> {
        let flags = flags | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let path: &[u8] = if rel.is_empty() { b"." } else { rel };
        let how = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        for _ in 0..RETRIES {
            match rustix::fs::openat2(&self.root, path, flags, Mode::empty(), how) {
                Ok(fd) => return Ok(fd),
                Err(RErrno::AGAIN) => continue,
                Err(RErrno::NOSYS) => return self.open_by_components(rel, flags),
                Err(e) => return Err(errno(e)),
            }
        }
        Err(libc::EAGAIN)
    }

    /// The same walk for kernels without openat2: one component at a
    /// time, each opened O_NOFOLLOW relative to the one before.
    fn open_by_components(&self, rel: &[u8], flags: OFlags) -> Result<OwnedFd, Errno> {
        let comps: Vec<&[u8]> = rel
            .split(|&b| b == b'/')
            .filter(|c| !c.is_empty())
            .collect();
        if comps.iter().any(|c| *c == b".." || *c == b".") {
            return Err(libc::EXDEV);
        }
        let Some((last, dirs)) = comps.split_last() else {
            return rustix::fs::openat(&self.root, ".", flags, Mode::empty()).map_err(errno);
        };
        let step = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mut cur: Option<OwnedFd> = None;
        for c in dirs {
            let at = cur.as_ref().map_or(self.root.as_fd(), |f| f.as_fd());
            cur = Some(rustix::fs::openat(at, *c, step, Mode::empty()).map_err(errno)?);
        }
        let at = cur.as_ref().map_or(self.root.as_fd(), |f| f.as_fd());
        rustix::fs::openat(at, *last, flags, Mode::empty()).map_err(errno)
    }

    /// The object at `rel` (not followed) and its stat.
    pub fn stat(&self, rel: &[u8]) -> Result<(OwnedFd, Stat), Errno> {
        let fd = self.open_at(rel, OFlags::PATH)?;
        let st = rustix::fs::fstat(&fd).map_err(errno)?;
        Ok((fd, st))
    }

    /// stat for a lookup: the object's filesystem noted too.
    pub fn look(&self, rel: &[u8]) -> Result<(OwnedFd, Stat), Errno> {
        let (fd, st) = self.stat(rel)?;
        self.note_fs(&fd, &st);
        Ok((fd, st))
    }

    /// The stat of `name` in the directory `dir` (the lookup found it as
    /// `dir_id`), as `look` gives it. While a listing's names are looked
    /// up one after the other (`begin_listing`, readdirplus), their
    /// directory is opened once (beneath the root, no symlinks, checked
    /// to be `dir_id`) and each name is one fstatat of a single
    /// component, not followed, instead of a walk from the root, a stat
    /// and a close. The directory is kept for that listing's request
    /// only (to `end_listing`): a directory moved afterwards is not
    /// searched.
    /// Names in the root are always looked up so (the root is pinned).
    /// Objects on another filesystem than the root's take `look` (their
    /// filesystem is noted from a descriptor).
    pub fn look_in(&self, dir: &[u8], dir_id: &Ident, name: &[u8]) -> Result<Stat, Errno> {
        let path = join(dir, name);
        if name == b"." || name == b".." || name.contains(&b'/') {
            return self.look(&path).map(|(_, st)| st);
        }
        let st = if dir.is_empty() {
            stat_name(&self.root, name)?
        } else {
            let mut listing = self.listing.lock().unwrap_or_else(|p| p.into_inner());
            let ListingDir::On(open) = &mut *listing else {
                drop(listing);
                return self.look(&path).map(|(_, st)| st);
            };
            if open.as_ref().is_none_or(|(p, _)| p != dir) {
                let (fd, st) = self.stat(dir)?;
                check(&st, dir_id)?;
                *open = Some((dir.to_vec(), fd));
            }
            let (_, fd) = open.as_ref().ok_or(libc::EIO)?;
            stat_name(fd, name)?
        };
        if st.st_dev != self.dev {
            return self.look(&path).map(|(_, st)| st);
        }
        Ok(st)
    }

    /// The lookups that follow, until `end_listing`, are a listing's
    /// names (see look_in; one request, under the engine's lock).
    pub fn begin_listing(&self) {
        let mut listing = self.listing.lock().unwrap_or_else(|p| p.into_inner());
        *listing = ListingDir::On(None);
    }

    /// The listing's lookups are done: its directory is let go.
    pub fn end_listing(&self) {
        let mut listing = self.listing.lock().unwrap_or_else(|p| p.into_inner());
        *listing = ListingDir::Off;
    }

    /// The object at `rel` when it is still `id`; EIO when something else
    /// took its place.
    pub fn checked(&self, rel: &[u8], id: &Ident) -> Result<(OwnedFd, Stat), Errno> {
        let (fd, st) = self.stat(rel)?;
        check(&st, id)?;
        Ok((fd, st))
    }

    /// Opens the regular file or directory `id` at `rel` for reading:
    /// non-blocking (a FIFO put in its place cannot hang us) and checked
    /// after the open, so that the descriptor is the object we looked up.
    pub fn open_checked(&self, rel: &[u8], id: &Ident) -> Result<(OwnedFd, Stat), Errno> {
        let mut flags = OFlags::RDONLY | OFlags::NONBLOCK;
        match id.kind {
            S_IFREG => {}
            S_IFDIR => flags |= OFlags::DIRECTORY,
            _ => return Err(libc::EINVAL),
        }
        let fd = self.open_at(rel, flags)?;
        let st = rustix::fs::fstat(&fd).map_err(errno)?;
        check(&st, id)?;
        Ok((fd, st))
    }
}

/// `dir/name` (`dir` "" for the root), a path relative to a tree.
pub fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    if dir.is_empty() {
        return name.to_vec();
    }
    let mut p = Vec::with_capacity(dir.len() + 1 + name.len());
    p.extend_from_slice(dir);
    p.push(b'/');
    p.extend_from_slice(name);
    p
}

/// The stat of the single component `name` in `dir`, not followed.
fn stat_name(dir: impl AsFd, name: &[u8]) -> Result<Stat, Errno> {
    rustix::fs::statat(dir, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW).map_err(errno)
}

/// The object behind a descriptor must be the one a lookup found.
pub fn check(st: &Stat, id: &Ident) -> Result<(), Errno> {
    if Ident::of(st) == *id {
        Ok(())
    } else {
        Err(libc::EIO)
    }
}

/// Reads up to `len` bytes at `offset` (short only at the end of file).
pub fn pread_full(fd: impl AsFd, offset: u64, len: usize) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; len];
    let mut got = 0;
    while got < len {
        match rustix::io::pread(&fd, &mut buf[got..], offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(RErrno::INTR) => {}
            Err(e) => return Err(errno(e)),
        }
    }
    buf.truncate(got);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> (std::path::PathBuf, Tree) {
        let dir = std::env::temp_dir().join(format!(
            "beneath-look-in-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("d/sub")).unwrap();
        std::fs::write(dir.join("d/f"), b"data").unwrap();
        std::fs::write(dir.join("top"), b"x").unwrap();
        symlink("/etc/passwd", dir.join("d/link")).unwrap();
        let t = Tree::open(&dir).unwrap();
        (dir, t)
    }

    fn id_of(t: &Tree, rel: &[u8]) -> Ident {
        Ident::of(&t.look(rel).unwrap().1)
    }

    /// A listing's lookups find what lookups from the root find: the
    /// object itself, a final symlink not followed, absent names absent,
    /// "." and ".." not out of the tree.
    #[test]
    fn look_in_a_listing_finds_what_look_finds() {
        let (dir, t) = tree();
        let d = id_of(&t, b"d");
        for listing in [false, true] {
            if listing {
                t.begin_listing();
            }
            for name in [&b"f"[..], b"sub", b"link"] {
                let st = t.look_in(b"d", &d, name).unwrap();
                let want = t.look(&join(b"d", name)).unwrap().1;
                assert_eq!(Ident::of(&st), Ident::of(&want));
                assert_eq!(st.st_size, want.st_size);
            }
            let link = t.look_in(b"d", &d, b"link").unwrap();
            assert_eq!(link.st_mode & S_IFMT, S_IFLNK);
            assert_eq!(t.look_in(b"d", &d, b"none").err(), Some(libc::ENOENT));
            assert_eq!(t.look_in(b"", &d, b"top").unwrap().st_size, 1);
            let up = t.look_in(b"", &d, b"..").err();
            assert!(up.is_some(), "'..' of the root must not be found");
            t.end_listing();
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The directory of a listing is the one the lookup found: one put in
    /// its place (or a symlink to elsewhere) is an error, never searched.
    #[test]
    fn look_in_refuses_a_directory_that_changed() {
        let (dir, t) = tree();
        let d = id_of(&t, b"d");
        std::fs::rename(dir.join("d"), dir.join("old")).unwrap();
        std::fs::create_dir(dir.join("d")).unwrap();
        std::fs::write(dir.join("d/f"), b"other").unwrap();
        t.begin_listing();
        assert_eq!(t.look_in(b"d", &d, b"f").err(), Some(libc::EIO));
        t.end_listing();
        std::fs::remove_dir_all(dir.join("d")).unwrap();
        symlink(dir.join("old"), dir.join("d")).unwrap();
        t.begin_listing();
        assert_eq!(t.look_in(b"d", &d, b"f").err(), Some(libc::EIO));
        t.end_listing();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
