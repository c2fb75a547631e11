//! The FUSE union engine for kernels without union mounts: the writable
//! top layer is a union-ext2 image written through the ext2fs library
//! (never mounted by the kernel), the lower layers are directories or ext2
//! images read-only. `union.rs` has the union rules, `layer.rs` the lower
//! layers; this file adapts them to `fuser` and runs the mount.

mod beneath;
mod errno;
mod handles;
mod hardlinks;
mod layer;
mod lost_found;
mod lower_reads;
mod mount_state;
mod nodes;
mod origin;
mod passthrough;
mod posix;
mod readahead;
mod resolved;
mod union;

use std::ffi::OsStr;
use std::io::{BufRead, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use fuser::{
    Errno as FErrno, FileAttr, FileHandle, FopenFlags, Generation, INodeNo, OpenAccMode, OpenFlags,
    ReplyAttr, ReplyData, ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyOpen,
    ReplyStatfs, ReplyWrite, ReplyXattr, Request, TimeOrNow,
};

pub use layer::Layer;
pub use union::Union;

/// How long the kernel may keep names (also absent ones), attributes and
/// listings without asking: the engine is the only writer of the top image
/// and every change goes through the kernel, which updates or drops what
/// it keeps; lower layers are read-only (changing them under a mount is
/// undefined, as with overlayfs, which keeps its entries for ever).
const TTL: Duration = Duration::from_secs(24 * 3600);

/// Metadata and small writes to the top image held in memory until this
/// much is held, an fsync or the unmount: a file written in 1 MiB requests
/// changes its indirect blocks and inode once per request, not once per
/// 4 KiB block (the image is marked in use meanwhile, so a crash is
/// checked as with the kernel's page cache).
const WRITE_CACHE: usize = 32 << 20;

/// How many threads serve the kernel's requests (lower file data is read
/// and answered by threads of their own, lower_reads.rs, so a thread
/// waiting on a lower disk never holds up the others; under -o
/// passthrough an open may wait for a RELEASE, Fs::wait_released, which
/// another thread serves). Measured on 2 idle CPUs, untar of 5,000 small
/// files, 3 runs each: 1.9-2.2 s with one thread, 1.0-1.2 s with two,
/// 0.81-0.83 s with three, 0.90-0.95 s with four. A caller's requests
/// come one at a time, but its background ones (RELEASE, FORGET) and the
/// next request are then served at once, and a thread is already awake
/// for the next request more often. (On CPUs kept busy by other work one
/// thread did better, 0.6 s against 0.7 s: no CPU sleeps there between
/// requests.)
const WORKERS: usize = 3;

/// The environment variable that tells a re-executed foreground child to
/// report "ready" on stdout once the mount is up, then detach.
pub const NOTIFY_ENV: &str = "MOUNT_UNION_FUSE_NOTIFY";

/// What to mount.
pub struct FuseMount {
    pub top: PathBuf,
    pub lower: Vec<PathBuf>,
    pub target: PathBuf,
    pub read_only: bool,
    /// The mount(2) flags (-o nosuid, noexec, ...).
    pub flags: u64,
    pub verbose: bool,
    /// -o passthrough: lower files opened read-only are read by the
    /// kernel (see passthrough.rs).
    pub passthrough: bool,
    /// Record the unmount helper in libmount's utab (not with -n).
    pub record_utab: bool,
}

struct Fs {
    u: Arc<RwLock<Union>>,
    /// Asked for with -o passthrough (granted or not at init).
    want_passthrough: bool,
    /// The open files' modes (never locked while `u` is held).
    pt: Mutex<passthrough::Passthrough>,
    /// Signalled at each passthrough release (see wait_released).
    released: Condvar,
    /// Reads of lower files, done off the request threads.
    lower_reads: lower_reads::LowerReads,
}

impl Fs {
    /// The engine alone: for requests that change anything in it.
    fn lock(&self) -> RwLockWriteGuard<'_, Union> {
        self.u.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The engine shared with other readers: for requests that change
    /// nothing (the top image is read through `&Filesystem`).
    fn read(&self) -> RwLockReadGuard<'_, Union> {
        self.u.read().unwrap_or_else(|p| p.into_inner())
    }

    fn pt(&self) -> MutexGuard<'_, passthrough::Passthrough> {
        self.pt.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits (a second at most) for `node` to have no passthrough open.
    fn wait_released<'a>(
        &self,
        pt: MutexGuard<'a, passthrough::Passthrough>,
        node: u64,
    ) -> MutexGuard<'a, passthrough::Passthrough> {
        let (pt, _) = self
            .released
            .wait_timeout_while(pt, Duration::from_secs(1), |p| p.busy(node))
            .unwrap_or_else(|p| p.into_inner());
        pt
    }

    /// Releases an open file or directory: with the engine shared, unless
    /// an orphan is to be freed (its last handle).
    fn release_handle(&self, fh: u64) -> Result<(), i32> {
        let orphan = self.read().drop_handle(fh)?;
        match orphan {
            Some(t) => self.lock().free_orphan(t),
            None => Ok(()),
        }
    }

    /// The engine, once the caller is allowed to take `bytes` more of the
    /// top image (root-reserved blocks).
    fn lock_for(&self, req: &Request, bytes: u64) -> Result<RwLockWriteGuard<'_, Union>, i32> {
        let u = self.lock();
        caller(req).check_space(&u.top, bytes)?;
        Ok(u)
    }
}

fn caller(req: &Request) -> posix::Caller {
    posix::Caller {
        uid: req.uid(),
        gid: req.gid(),
    }
}

fn err(e: i32) -> FErrno {
    FErrno::from_i32(e)
}

/// Answers a request that makes or finds a name.
fn reply_entry(reply: ReplyEntry, r: Result<FileAttr, i32>) {
    match r {
        Ok(a) => reply.entry(&TTL, &a, Generation(0)),
        Err(e) => reply.error(err(e)),
    }
}

/// The entry of a name that does not exist (node 0).
fn absent() -> FileAttr {
    FileAttr {
        ino: INodeNo(0),
        size: 0,
        blocks: 0,
        atime: std::time::UNIX_EPOCH,
        mtime: std::time::UNIX_EPOCH,
        ctime: std::time::UNIX_EPOCH,
        crtime: std::time::UNIX_EPOCH,
        kind: fuser::FileType::RegularFile,
        perm: 0,
        nlink: 0,
        uid: 0,
        gid: 0,
        rdev: 0,
        blksize: 0,
        flags: 0,
    }
}

/// Answers a request that reads or changes attributes.
fn reply_attr(reply: ReplyAttr, r: Result<FileAttr, i32>) {
    match r {
        Ok(a) => reply.attr(&TTL, &a),
        Err(e) => reply.error(err(e)),
    }
}

/// Answers a request with nothing to return.
fn reply_empty(reply: ReplyEmpty, r: Result<(), i32>) {
    match r {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(err(e)),
    }
}

fn time_of(t: TimeOrNow) -> ext2fs::inode::Time {
    match t {
        TimeOrNow::SpecificTime(t) => ext2fs::inode::Time::of(t),
        TimeOrNow::Now => ext2fs::inode::Time::now(),
    }
}

impl fuser::Filesystem for Fs {
    fn init(&mut self, _req: &Request, config: &mut fuser::KernelConfig) -> std::io::Result<()> {
        // readdirplus for every listing where the kernel offers it: the
        // names come with their attributes, so a walk that stats what it
        // lists (find, du, ls -l, rm -r, tar c) asks no LOOKUP per name.
        // Not FUSE_READDIRPLUS_AUTO, with which the kernel asks for
        // attributes only in a listing's first reply (32 KiB, about 200
        // names) and the names past it are looked up one request each:
        // find over /usr/share (53,000 names) took 37,800 requests with
        // AUTO, 13,100 without (the 24,800 names of its 35 largest
        // directories came in 130 replies instead of 24,800 LOOKUPs). A
        // listing that stats nothing (ls -f) pays for a stat of each
        // lower name and an inode in the kernel instead (see
        // bench/fuse/run's "list" column).
        let plus = fuser::InitFlags::FUSE_DO_READDIRPLUS;
        let _ = config.add_capabilities(plus & config.capabilities());
        // The engine clears setuid/setgid bits itself at write, truncate
        // and chown (posix::kill_suidgid): the kernel then marks the
        // mount SB_NOSEC and stops asking for security.capability before
        // every write and for fresh attributes before every chown, two
        // round trips it made per request.
        let _ = config
            .add_capabilities(fuser::InitFlags::FUSE_HANDLE_KILLPRIV_V2 & config.capabilities());
        if self.want_passthrough {
            let pt = fuser::InitFlags::FUSE_PASSTHROUGH;
            // Depth 1: backing files on a filesystem that is not itself
            // stacked (others are refused and served by the engine).
            let on = config.capabilities().contains(pt)
                && config.set_max_stack_depth(1).is_ok()
                && config.add_capabilities(pt).is_ok();
            if !on {
                eprintln!(
                    "mount-union: warning: the kernel offers no FUSE passthrough \
                     (Linux 6.9+): lower files are read through the engine"
                );
            }
            self.pt.get_mut().unwrap_or_else(|p| p.into_inner()).on = on;
        }
        Ok(())
    }

    fn destroy(&mut self) {
        let _ = self.lock().sync();
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        // A name found absent is answered with the engine shared (the
        // LOOKUP before each create); the lock is let go before the
        // engine is taken alone, and the name looked up again there.
        match self.read().is_absent(parent.0, name.as_bytes()) {
            Ok(true) => return reply.entry(&TTL, &absent(), Generation(0)),
            Ok(false) => {}
            Err(e) => return reply.error(err(e)),
        }
        match self.lock().lookup(parent.0, name.as_bytes()) {
            // Node 0: the kernel keeps the name as absent for TTL.
            Err(libc::ENOENT) => reply.entry(&TTL, &absent(), Generation(0)),
            r => reply_entry(reply, r),
        }
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.lock().forget(ino.0, nlookup);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        let u = self.read();
        let open = fh.and_then(|fh| u.getattr_open(ino.0, fh.0));
        reply_attr(reply, open.unwrap_or_else(|| u.getattr(ino.0)))
    }

    fn setattr(
        &self,
        req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<std::time::SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<std::time::SystemTime>,
        _chgtime: Option<std::time::SystemTime>,
        _bkuptime: Option<std::time::SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        // What takes the setuid and setgid bits (posix::kill_suidgid):
        // a chown (the kernel's FATTR_KILL_SUIDGID for a non-directory);
        // a truncate by a caller other than root (the kernel sends the
        // flag without CAP_FSETID; fuser does not pass it on, root stands
        // for the capability); a request that sets nothing, which the
        // kernel sends only to remove privileges (before a write by a
        // caller without CAP_FSETID, or a chown to -1:-1), so that the
        // attributes in its reply, which the kernel keeps, are right.
        let nothing = [mode, uid, gid].iter().all(Option::is_none)
            && size.is_none()
            && atime.is_none()
            && mtime.is_none();
        let kill_suidgid =
            uid.is_some() || gid.is_some() || (size.is_some() && req.uid() != 0) || nothing;
        let s = union::SetAttr {
            mode,
            uid,
            gid,
            size,
            atime: atime.map(time_of),
            mtime: mtime.map(time_of),
            kill_suidgid,
        };
        reply_attr(reply, self.lock().setattr(ino.0, fh.map(|f| f.0), &s))
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match self.read().readlink(ino.0) {
            Ok(t) => reply.data(&t),
            Err(e) => reply.error(err(e)),
        }
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        rdev: u32,
        reply: ReplyEntry,
    ) {
        let r = caller(req)
            .may_mknod(mode)
            .and_then(|()| self.lock_for(req, 0))
            .and_then(|mut u| {
                u.mknod(
                    parent.0,
                    name.as_bytes(),
                    mode & !umask,
                    rdev,
                    req.uid(),
                    req.gid(),
                )
            });
        reply_entry(reply, r)
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let r = self.lock_for(req, 0).and_then(|mut u| {
            u.mkdir(
                parent.0,
                name.as_bytes(),
                mode & !umask,
                req.uid(),
                req.gid(),
            )
        });
        reply_entry(reply, r)
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        reply_empty(reply, self.lock().unlink(parent.0, name.as_bytes()))
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        reply_empty(reply, self.lock().rmdir(parent.0, name.as_bytes()))
    }

    fn symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        let r = self.lock_for(req, 0).and_then(|mut u| {
            u.symlink(
                parent.0,
                link_name.as_bytes(),
                target.as_os_str().as_bytes(),
                req.uid(),
                req.gid(),
            )
        });
        reply_entry(reply, r)
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: fuser::RenameFlags,
        reply: ReplyEmpty,
    ) {
        let r = self.lock().rename(
            parent.0,
            name.as_bytes(),
            newparent.0,
            newname.as_bytes(),
            flags.bits(),
        );
        reply_empty(reply, r)
    }

    fn link(
        &self,
        req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        let r = self
            .lock_for(req, 0)
            .and_then(|mut u| u.link(ino.0, newparent.0, newname.as_bytes()));
        reply_entry(reply, r)
    }

    fn open(&self, req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let write =
            !matches!(flags.acc_mode(), OpenAccMode::O_RDONLY) || flags.0 & libc::O_TRUNC != 0;
        // The modes are decided under their own lock, held through the
        // open (see passthrough.rs; taken before the engine's lock, never
        // while it is held).
        let mut pt = self.pt();
        // An open that cannot be passthrough while the node is: first
        // wait a little for releases on their way (the kernel sends
        // RELEASE after close(2) has returned).
        if write && pt.busy(ino.0) {
            pt = self.wait_released(pt, ino.0);
            if pt.busy(ino.0) {
                return reply.error(err(libc::ETXTBSY));
            }
        }
        for waited in [false, true] {
            let u = if write {
                self.lock_for(req, 0)
            } else {
                Ok(self.lock())
            };
            let opened = u.and_then(|mut u| {
                let fh = u.open(ino.0, write)?;
                let lower = u.lower_fd(fh);
                if lower.is_none() && pt.busy(ino.0) {
                    // The copy, while the lower file is open in
                    // passthrough.
                    u.release(fh)?;
                    return Ok(None);
                }
                Ok(Some((fh, lower)))
            });
            match opened {
                Ok(Some((fh, lower))) => return pt.reply(reply, ino.0, fh, lower.as_ref()),
                Ok(None) if !waited => pt = self.wait_released(pt, ino.0),
                Ok(None) => break,
                Err(e) => return reply.error(err(e)),
            }
        }
        reply.error(err(libc::ETXTBSY))
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        // Only a passthrough open's release can end a wait (see
        // wait_released); a notify is a syscall, one per close otherwise.
        if self.pt().released(fh.0) {
            self.released.notify_all();
        }
        reply_empty(reply, self.release_handle(fh.0))
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        // The kernel may keep listings across opens: every change to the
        // union goes through it (it drops a directory's cached listing
        // when the directory changes) and lower layers are read-only.
        let cache = FopenFlags::FOPEN_CACHE_DIR | FopenFlags::FOPEN_KEEP_CACHE;
        let listed = self.read().opendir_listed(ino.0);
        let opened = match listed {
            Ok(Some(fh)) => Ok(fh),
            Ok(None) => self.lock().opendir(ino.0),
            Err(e) => Err(e),
        };
        match opened {
            Ok(fh) => reply.opened(FileHandle(fh), cache),
            Err(e) => reply.error(err(e)),
        }
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        reply_empty(reply, self.release_handle(fh.0))
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        reply: ReplyData,
    ) {
        // The lock is let go before a lower file is read, and the read
        // is done and answered by a reader thread.
        let from = self.read().read(fh.0, offset, size);
        match from {
            Ok(handles::Read::Data(d)) => reply.data(&d),
            Ok(handles::Read::Lower(fd)) => self.lower_reads.read(fd, offset, size, reply),
            Err(e) => reply.error(err(e)),
        }
    }

    fn write(
        &self,
        req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        write_flags: fuser::WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        reply: ReplyWrite,
    ) {
        // Set by the kernel for a writer without CAP_FSETID.
        let kill = write_flags.contains(fuser::WriteFlags::FUSE_WRITE_KILL_SUIDGID);
        match self
            .lock_for(req, data.len() as u64)
            .and_then(|mut u| u.write(fh.0, offset, data, kill))
        {
            Ok(n) => reply.written(n),
            Err(e) => reply.error(err(e)),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: fuser::LockOwner,
        reply: ReplyEmpty,
    ) {
        // Nothing to do at close (data goes to the image at each write):
        // ENOSYS tells the kernel not to send FLUSH again, a round trip
        // less for every close.
        reply.error(err(libc::ENOSYS));
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply_empty(reply, self.lock().sync())
    }

    fn readdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let entries = match self.read().listing_of(fh.0) {
            Ok(e) => e,
            Err(e) => return reply.error(err(e)),
        };
        let rest = entries.get(offset as usize..).unwrap_or(&[]);
        for (i, (c, mode, name)) in rest.iter().enumerate() {
            if reply.add(
                INodeNo(*c),
                offset + i as u64 + 1,
                union::kind_of(*mode),
                OsStr::from_bytes(name),
            ) {
                break;
            }
        }
        reply.ok();
    }

    fn readdirplus(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        let mut u = self.lock();
        let entries = match u.listing_of(fh.0) {
            Ok(e) => e,
            Err(e) => return reply.error(err(e)),
        };
        // The directory may be gone since opendir: its names then go
        // without attributes (below).
        let dir = u.listed_dir(ino.0);
        let from = offset as usize;
        for (i, (node, mode, name)) in entries.iter().enumerate().skip(from) {
            let dot = name == b"." || name == b"..";
            let a = if dot {
                // The kernel takes no entry for these (nothing counted).
                FileAttr {
                    ino: INodeNo(*node),
                    kind: union::kind_of(*mode),
                    ..absent()
                }
            } else {
                // A name gone since the listing was taken (or that
                // cannot be looked up now) goes without attributes: node
                // 0, which the kernel takes as "no entry given".
                dir.as_ref()
                    .map_err(|e| *e)
                    .and_then(|d| u.lookup_listed(d, name))
                    .unwrap_or_else(|_| FileAttr {
                        kind: union::kind_of(*mode),
                        ..absent()
                    })
            };
            let name = OsStr::from_bytes(name);
            if reply.add(a.ino, i as u64 + 1, name, &TTL, &a, Generation(0)) {
                break;
            }
            if !dot && a.ino.0 != 0 {
                u.looked_up(a.ino.0);
            }
        }
        u.end_listing();
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply_empty(reply, self.lock().sync())
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let (blocks, bfree, bavail, files, ffree, bsize) = self.read().statfs();
        reply.statfs(blocks, bfree, bavail, files, ffree, bsize, 255, bsize);
    }

    fn setxattr(
        &self,
        req: &Request,
        ino: INodeNo,
        name: &OsStr,
        value: &[u8],
        flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        let Some(name) = name.to_str() else {
            return reply.error(err(libc::EINVAL));
        };
        let r = self
            .lock_for(req, value.len() as u64)
            .and_then(|mut u| u.setxattr(ino.0, name, value, flags));
        reply_empty(reply, r)
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        let Some(name) = name.to_str() else {
            return reply.error(err(libc::ENODATA));
        };
        match self.read().getxattr(ino.0, name) {
            Ok(v) => xattr_reply(reply, size, &v),
            Err(e) => reply.error(err(e)),
        }
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        match self.read().listxattr(ino.0) {
            Ok(v) => xattr_reply(reply, size, &v),
            Err(e) => reply.error(err(e)),
        }
    }

    fn removexattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let Some(name) = name.to_str() else {
            return reply.error(err(libc::ENODATA));
        };
        reply_empty(reply, self.lock().removexattr(ino.0, name))
    }

    fn access(&self, _req: &Request, _ino: INodeNo, _mask: fuser::AccessFlags, reply: ReplyEmpty) {
        // Permissions are checked by the kernel (default_permissions).
        reply.ok();
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _flags: i32,
        reply: fuser::ReplyCreate,
    ) {
        let mode = (mode & !umask & 0o7777) | 0o100000;
        let r = self.lock_for(req, 0).and_then(|mut u| {
            let a = u.mknod(parent.0, name.as_bytes(), mode, 0, req.uid(), req.gid())?;
            Ok((a, u.open(a.ino.0, true)?))
        });
        match r {
            Ok((a, fh)) => {
                self.pt().cached_open(a.ino.0, fh);
                reply.created(&TTL, &a, Generation(0), FileHandle(fh), passthrough::KEEP)
            }
            Err(e) => reply.error(err(e)),
        }
    }

    fn fallocate(
        &self,
        req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        let r = self
            .lock_for(req, length)
            .and_then(|mut u| u.fallocate(ino.0, offset, length, mode));
        reply_empty(reply, r)
    }
}

fn xattr_reply(reply: ReplyXattr, size: u32, v: &[u8]) {
    if size == 0 {
        reply.size(v.len() as u32);
    } else if (size as usize) < v.len() {
        reply.error(err(libc::ERANGE));
    } else {
        reply.data(v);
    }
}

/// Opens the layers and builds the engine (errors are for the user).
fn open_union(m: &FuseMount) -> Result<Union, String> {
    let mut top = ext2fs::fs::Filesystem::open(
        &m.top,
        &ext2fs::fs::OpenOptions {
            write: true,
            ..Default::default()
        },
    )
    .map_err(|e| format!("{}: cannot open the top layer: {e}", m.top.display()))?;
    top.set_write_cache(WRITE_CACHE);
    // Files written through the union get the real clock, as under the
    // kernel, even where e2fsprogs' test clock (E2FSPROGS_FAKE_TIME) is set.
    top.set_fixed_time(None);
    // Top directories get an htree once their first block is full, as
    // under the kernel's ext3/ext4 drivers.
    top.set_auto_index(true);
    let mut layers = Vec::new();
    for l in &m.lower {
        layers.push(Layer::open(l)?);
    }
    let mut u = Union::new(top, layers).map_err(|e| format!("{}: {e}", m.top.display()))?;
    use crate::options::ms;
    u.set_sync(m.flags & ms::DIRSYNC != 0, m.flags & ms::SYNCHRONOUS != 0);
    Ok(u)
}

/// Mounts and serves in the foreground until unmounted; with `notify`
/// prints "ready" on stdout once the mount is up and then detaches from
/// the terminal (stdio to /dev/null, a session of its own).
pub fn run_foreground(m: &FuseMount, notify: bool) -> Result<(), String> {
    if let Some(e) = crate::utab::dead_mount(&m.target) {
        return Err(e);
    }
    if !m.target.is_dir() {
        return Err(format!(
            "mount point {} does not exist or is not a directory",
            m.target.display()
        ));
    }
    if !Path::new("/dev/fuse").exists() {
        return Err("/dev/fuse is missing: load the fuse module (modprobe fuse)".into());
    }
    let root = rustix::process::getuid().is_root();
    let kernel_options = posix::mount_options(m.flags, root)?;
    let mut union = open_union(m)?;
    // A read-only mount leaves the image's state alone, as the kernel does.
    let in_use = if m.read_only {
        None
    } else {
        let (in_use, warnings) = mount_state::mark_in_use(&mut union.top)
            .map_err(|e| format!("{}: cannot mark the top layer in use: {e}", m.top.display()))?;
        for w in warnings {
            warn(notify, &m.top, &w);
        }
        Some(in_use)
    };
    let union = Arc::new(RwLock::new(union));
    // The image's absolute path as the mount's source: the unmount helper
    // waits on it. fuser drops Subtype when it calls mount(2) itself, so
    // the subtype goes to the kernel as an option (type fuse.union-ext2).
    let top_abs = std::fs::canonicalize(&m.top).unwrap_or_else(|_| m.top.clone());
    let mut config = fuser::Config::default();
    config.mount_options = vec![
        fuser::MountOption::FSName(top_abs.display().to_string()),
        fuser::MountOption::CUSTOM(format!("subtype={}", crate::umount_helper::SUBTYPE)),
        fuser::MountOption::DefaultPermissions,
    ];
    config.mount_options.extend(kernel_options);
    config.acl = fuser::SessionACL::All;
    // See WORKERS; each gets its own /dev/fuse descriptor.
    config.n_threads = Some(WORKERS);
    config.clone_fd = true;
    let fs = Fs {
        u: union.clone(),
        want_passthrough: m.passthrough,
        pt: Mutex::default(),
        released: Condvar::new(),
        lower_reads: lower_reads::LowerReads::start(),
    };
    let mut session = match fuser::Session::new(fs, &m.target, &config) {
        Ok(s) => s,
        Err(e) => {
            let mounted = format!("mounting {} failed: {e}", m.target.display());
            return Err(match release(&union, in_use, &m.top) {
                Ok(()) => mounted,
                Err(r) => format!("{mounted}; {r}"),
            });
        }
    };
    // Best effort: without root the window stays the kernel's 128 KiB.
    let _ = readahead::widen(&m.target);
    // SIGTERM, SIGINT, SIGHUP: unmount, so that the session ends and the
    // image is flushed like at an umount (a busy mount stays up).
    let mut unmounter = session.unmount_callable();
    if let Ok(mut signals) = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ]) {
        let _ = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for _ in signals.forever() {
                    let _ = unmounter.unmount();
                }
            });
    }
    // umount(8) runs the unmount helper only for root's mounts.
    if root && m.record_utab {
        let target = std::fs::canonicalize(&m.target).unwrap_or_else(|_| m.target.clone());
        if let Err(e) = crate::umount_helper::register(&top_abs, &target) {
            warn(
                notify,
                &m.top,
                &format!("umount will not wait for the image to be written out: {e}"),
            );
        }
    }
    if m.verbose && !notify {
        cli_common::outln!(
            "mount-union: {} mounted on {} (FUSE union engine, {} lower layer(s))",
            m.top.display(),
            m.target.display(),
            m.lower.len()
        );
    }
    if notify {
        let mut out = std::io::stdout();
        let _ = writeln!(out, "ready");
        let _ = out.flush();
        detach();
    }
    let served = session.run();
    let released = release(&union, in_use, &m.top);
    served.map_err(|e| format!("serving {} failed: {e}", m.target.display()))?;
    released
}

/// A warning while the mount comes up: a detached engine's goes on
/// stdout, which run_background passes on before "ready".
fn warn(notify: bool, top: &Path, w: &str) {
    if notify {
        let _ = writeln!(std::io::stdout(), "warning: {}: {w}", top.display());
    } else {
        eprintln!("mount-union: warning: {}: {w}", top.display());
    }
}

/// The end of a mount: the image written out and, when it was marked in
/// use, marked clean again (or left not clean, with the reason).
fn release(
    union: &RwLock<Union>,
    in_use: Option<mount_state::InUse>,
    top: &Path,
) -> Result<(), String> {
    let mut u = union.write().unwrap_or_else(|p| p.into_inner());
    if let Err(e) = u.release_all() {
        return Err(format!(
            "{}: freeing files unlinked while open failed, the image stays marked not clean: {}",
            top.display(),
            std::io::Error::from_raw_os_error(e)
        ));
    }
    let done = match in_use {
        Some(in_use) => mount_state::mark_released(&mut u.top, in_use),
        None => u.top.sync(),
    };
    done.map_err(|e| {
        format!(
            "{}: writing out the top layer failed, the image stays marked not clean: {e}",
            top.display()
        )
    })
}

/// Leaves the terminal: stdin and stdout on /dev/null, stderr on the
/// kernel log when it can be written (so that an error at the final
/// write-out is still seen), a session of its own.
fn detach() {
    let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    else {
        return;
    };
    let _ = rustix::stdio::dup2_stdin(&null);
    let _ = rustix::stdio::dup2_stdout(&null);
    match std::fs::OpenOptions::new().write(true).open("/dev/kmsg") {
        Ok(kmsg) => {
            let _ = rustix::stdio::dup2_stderr(&kmsg);
        }
        Err(_) => {
            let _ = rustix::stdio::dup2_stderr(&null);
        }
    }
    let _ = rustix::process::setsid();
}

/// Runs the engine in the background: re-executes this program in the
/// foreground as a detached child and returns once the mount is up, or
/// with the child's error when it did not come up.
pub fn run_background(args: &[std::ffi::OsString]) -> Result<(), (u8, String)> {
    let exe = std::env::current_exe().map_err(|e| (2, format!("cannot find myself: {e}")))?;
    let mut child = std::process::Command::new(exe)
        .args(args)
        .arg("--foreground")
        .env(NOTIFY_ENV, "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| (2, format!("cannot start the FUSE engine: {e}")))?;
    if let Some(out) = child.stdout.take() {
        for line in std::io::BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if line == "ready" {
                return Ok(());
            }
            if line.starts_with("warning: ") {
                eprintln!("mount-union: {line}");
            }
        }
    }
    let mut msg = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut msg);
    }
    let status = child.wait().ok().and_then(|s| s.code()).unwrap_or(32);
    let msg = msg
        .trim_end()
        .trim_start_matches("mount-union: ")
        .to_string();
    Err((
        u8::try_from(status).unwrap_or(32).max(1),
        if msg.is_empty() {
            "the FUSE engine stopped before the mount was up".into()
        } else {
            msg
        },
    ))
}
