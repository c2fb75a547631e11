//! Open files and directories. A handle owns its object from open to
//! release, so read, write, fstat and ftruncate never resolve a path
//! again: a top file is its inode (kept on the orphan list when its last
//! name goes while it is open), a lower file the descriptor opened and
//! checked at open, a directory the listing taken at opendir (readdir
//! offsets index it, so entries removed while listing are not skipped).
//! A lower file's descriptor is shared out of the engine's lock (`Read`):
//! its data is read while other requests go on.

use std::collections::{HashMap, HashSet};
use std::os::fd::OwnedFd;
use std::sync::{Arc, MutexGuard};

use ext2fs::inode::{Stamp, Time};

use super::errno::{from_lib, Errno};
use super::layer::{is_dir, LObj, Layer};
use super::posix;
use super::union::{read_range, Union};

/// A directory listing entry: (inode number, mode, name).
pub type Listed = (u64, u32, Vec<u8>);

enum Handle {
    /// A top file: (the node it was opened on, its inode).
    Top(u64, u32),
    Lower {
        layer: usize,
        obj: LObj,
        /// Directory layers: the file opened (non-blocking, checked).
        fd: Option<Arc<OwnedFd>>,
    },
    Dir(Arc<Vec<Listed>>),
}

#[derive(Default)]
pub struct Handles {
    map: HashMap<u64, Handle>,
    next: u64,
    /// How many handles each top inode has.
    open_top: HashMap<u32, u32>,
    /// Top inodes with no name left, on the orphan list until released.
    orphans: HashSet<u32>,
}

impl Handles {
    fn add(&mut self, h: Handle) -> u64 {
        if let Handle::Top(_, t) = h {
            *self.open_top.entry(t).or_default() += 1;
        }
        self.next += 1;
        self.map.insert(self.next, h);
        self.next
    }

    /// The top inode an open file handle owns.
    pub fn top_inode(&self, fh: u64) -> Option<u32> {
        match self.map.get(&fh) {
            Some(Handle::Top(_, t)) => Some(*t),
            _ => None,
        }
    }

    /// The top inode open through the node `fino` (the kernel asks by
    /// node for fstat and fchmod of a file whose name is gone).
    pub fn top_of_node(&self, fino: u64) -> Option<u32> {
        self.map.values().find_map(|h| match h {
            Handle::Top(n, t) if *n == fino => Some(*t),
            _ => None,
        })
    }

    pub fn is_open(&self, t: u32) -> bool {
        self.open_top.contains_key(&t)
    }

    /// `t` lost its last name while open.
    pub fn orphaned(&mut self, t: u32) {
        self.orphans.insert(t);
    }
}

/// Where a read's data comes from.
pub enum Read {
    Data(Vec<u8>),
    /// A lower file's descriptor (kept open by the Arc even if the handle
    /// is released meanwhile).
    Lower(Arc<OwnedFd>),
}

impl Union {
    /// The open handles (never held across a call that takes them again).
    pub(super) fn handles(&self) -> MutexGuard<'_, Handles> {
        self.handles.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// open: a write open copies the file up first; the handle owns the
    /// top inode or the lower file.
    pub fn open(&mut self, ino: u64, write: bool) -> Result<u64, Errno> {
        let path = self.path_of(ino)?;
        let r = self.must(&path)?;
        if is_dir(r.mode) {
            return Err(libc::EISDIR);
        }
        let t = match r.top {
            Some(t) => Some(t),
            None if write => Some(self.copy_up(&path)?),
            None => None,
        };
        if let Some(t) = t {
            return Ok(self.handles().add(Handle::Top(ino, t)));
        }
        let (layer, obj) = r.lower.first().cloned().ok_or(libc::ENOENT)?;
        let fd = match (&self.layers[layer], &obj) {
            (Layer::Dir(tree), LObj::Path(rel, id)) => {
                Some(Arc::new(tree.open_checked(rel, id)?.0))
            }
            _ => None,
        };
        Ok(self.handles().add(Handle::Lower { layer, obj, fd }))
    }

    /// The lower file a handle reads from its own descriptor (not copied
    /// up): what passthrough gives the kernel.
    pub fn lower_fd(&self, fh: u64) -> Option<Arc<OwnedFd>> {
        match self.handles().map.get(&fh)? {
            Handle::Lower { layer, obj, fd }
                if !self.copied.contains_key(&(*layer, obj.ident())) =>
            {
                fd.clone()
            }
            _ => None,
        }
    }

    /// read: the data, or the lower file's descriptor to read it from
    /// once the engine is unlocked (by a reader thread, lower_reads.rs).
    pub fn read(&self, fh: u64, offset: u64, size: u32) -> Result<Read, Errno> {
        // What to read, taken out of the handles (let go before reading).
        let (layer, obj, fd) = match self.handles().map.get(&fh).ok_or(libc::EBADF)? {
            Handle::Top(_, t) => (None, None, Err(*t)),
            Handle::Lower { layer, obj, fd } => {
                let top = self.copied.get(&(*layer, obj.ident())).copied();
                match (top, fd) {
                    (Some(t), _) => (None, None, Err(t)),
                    (None, Some(fd)) => (None, None, Ok(Some(fd.clone()))),
                    (None, None) => (Some(*layer), Some(obj.clone()), Ok(None)),
                }
            }
            Handle::Dir(_) => return Err(libc::EISDIR),
        };
        match (fd, layer, obj) {
            (Err(t), _, _) => self.read_top(t, offset, size).map(Read::Data),
            (Ok(Some(fd)), _, _) => Ok(Read::Lower(fd)),
            (Ok(None), Some(layer), Some(obj)) => {
                self.layers[layer].read(&obj, offset, size).map(Read::Data)
            }
            (Ok(None), _, _) => Err(libc::EBADF),
        }
    }

    fn read_top(&self, t: u32, offset: u64, size: u32) -> Result<Vec<u8>, Errno> {
        let i = self.top.read_inode(t).map_err(from_lib)?;
        read_range(&self.top, &i, offset, size)
    }

    /// write; `kill_suidgid`: the writer may not keep the file's setuid
    /// and setgid bits (see posix::kill_suidgid).
    pub fn write(
        &mut self,
        fh: u64,
        offset: u64,
        data: &[u8],
        kill_suidgid: bool,
    ) -> Result<u32, Errno> {
        let t = self.handles().top_inode(fh).ok_or(libc::EBADF)?;
        let mut rec = self.top.read_inode(t).map_err(from_lib)?;
        if !rec.is_reg() {
            return Err(libc::EINVAL);
        }
        if kill_suidgid {
            posix::kill_suidgid(&mut rec);
        }
        rec.stamp(&[Stamp::Mtime, Stamp::Ctime], Time::now());
        self.top
            .write_range(t, &mut rec, offset, data)
            .map_err(from_lib)?;
        Ok(data.len() as u32)
    }

    /// getattr through an open file (fstat): the handle's object, named
    /// or not.
    pub fn getattr_open(&self, ino: u64, fh: u64) -> Option<Result<fuser::FileAttr, Errno>> {
        let (t, lower) = match self.handles().map.get(&fh)? {
            Handle::Top(_, t) => (Some(*t), None),
            Handle::Lower { layer, obj, .. } => {
                let top = self.copied.get(&(*layer, obj.ident())).copied();
                (top, Some((*layer, obj.clone())).filter(|_| top.is_none()))
            }
            Handle::Dir(_) => return None,
        };
        match (t, lower) {
            (Some(t), _) => Some(self.top_attr(ino, t)),
            (None, Some((layer, obj))) => Some(
                self.layers[layer]
                    .attr(&obj)
                    .map(|a| self.fuse_attr(ino, &a)),
            ),
            (None, None) => None,
        }
    }

    /// The last user of a handle is gone; an orphan whose last handle this
    /// was is freed.
    pub fn release(&mut self, fh: u64) -> Result<(), Errno> {
        match self.drop_handle(fh)? {
            Some(t) => self.free_orphan(t),
            None => Ok(()),
        }
    }

    /// The handle part of `release`, with the engine shared: the top
    /// inode to free when the handle was an orphan's last (`free_orphan`,
    /// with the engine alone; nothing can reach the orphan meanwhile: it
    /// has no name and no handle, and it stays on the orphan list).
    pub fn drop_handle(&self, fh: u64) -> Result<Option<u32>, Errno> {
        let mut h = self.handles();
        let Some(Handle::Top(_, t)) = h.map.remove(&fh) else {
            return Ok(None);
        };
        let n = h.open_top.get_mut(&t).ok_or(libc::EBADF)?;
        *n -= 1;
        if *n > 0 {
            return Ok(None);
        }
        h.open_top.remove(&t);
        Ok(h.orphans.remove(&t).then_some(t))
    }

    /// Frees the orphan `t` whose last handle was released.
    pub fn free_orphan(&mut self, t: u32) -> Result<(), Errno> {
        self.top.release_orphan(t).map_err(from_lib)?;
        self.forget_top(t);
        Ok(())
    }

    /// Frees the orphans of handles the kernel never released (the end of
    /// the mount).
    pub fn release_all(&mut self) -> Result<(), Errno> {
        let fhs: Vec<u64> = self.handles().map.keys().copied().collect();
        for fh in fhs {
            self.release(fh)?;
        }
        Ok(())
    }

    /// opendir: the merged listing as it is now (the one last taken while
    /// nothing changed there since, see resolved).
    pub fn opendir(&mut self, ino: u64) -> Result<u64, Errno> {
        if let Some(fh) = self.opendir_listed(ino)? {
            return Ok(fh);
        }
        let path = self.path_of(ino)?;
        let l = Arc::new(self.readdir(ino)?);
        self.resolved.put_listing(&path, &l);
        Ok(self.handles().add(Handle::Dir(l)))
    }

    /// opendir with the engine shared: a handle on the listing last
    /// taken, when nothing changed there since (None: `opendir` lists).
    pub fn opendir_listed(&self, ino: u64) -> Result<Option<u64>, Errno> {
        let path = self.path_of(ino)?;
        Ok(self
            .resolved
            .listing(&path)
            .map(|l| self.handles().add(Handle::Dir(l))))
    }

    /// The whole listing of an open directory.
    pub fn listing_of(&self, fh: u64) -> Result<Arc<Vec<Listed>>, Errno> {
        match self.handles().map.get(&fh) {
            Some(Handle::Dir(e)) => Ok(e.clone()),
            _ => Err(libc::EBADF),
        }
    }
}
