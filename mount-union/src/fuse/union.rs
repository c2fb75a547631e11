//! The union engine: a writable top layer in a union-ext2 image (written
//! only through the ext2fs library) over read-only lower layers.
//!
//! Objects are named by their path in the union; every operation resolves
//! the path again, top-down (union-ext2.md "Union semantics"): a live top
//! entry wins, a whiteout ends the lookup, an opaque top directory hides the
//! layers below except for names with a fallthru, and a lower non-directory
//! hides everything under it. Directories merge.
//!
//! Fallthrus are honoured when found but never written: reading a
//! directory does not copy it up (no fallthrus, no opaque flag on first
//! read). Directories are copied up (not opaque) only on the path to a
//! changed object.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use ext2fs::dirent::ft;
use ext2fs::fs::Filesystem;
use ext2fs::inode::{self, Inode, Stamp, Time, ROOT_INO};

use super::beneath::Ident;
use super::errno::{from_lib, Errno};
use super::handles::Handles;
use super::layer::{is_dir, LAttr, LEntry, LObj, Layer, S_IFMT};
use super::lost_found;
use super::nodes::{top_node, Nodes};
use super::origin;
use super::posix;
use super::resolved::Resolved;

/// Where a union path is found.
#[derive(Clone, Debug)]
pub struct Res {
    /// The top-layer inode, when the object exists in the top layer.
    pub top: Option<u32>,
    /// The top directory is opaque: its lower directories only serve
    /// fallthru names.
    pub top_opaque: bool,
    /// The lower objects: the first is the object when `top` is None; for
    /// a directory every lower directory that merges into it, top-down.
    pub lower: Vec<(usize, LObj)>,
    /// The object's mode (type bits included).
    pub mode: u32,
    /// The attributes of the lower object when the object is from below
    /// (`top` None), as the lookup found them: lower layers are read-only,
    /// so getattr and readdirplus need not ask the layer again.
    pub lower_attr: Option<LAttr>,
    /// The node number the top inode's origin record gives (origin.rs).
    pub origin: Option<u64>,
}

/// A directory whose listed names are being looked up (readdirplus).
pub struct ListedDir {
    path: Vec<u8>,
    res: Res,
}

/// Where a listed name comes from (for its node number).
pub enum Origin {
    Top(u32),
    /// A lower layer, the device of the directory listed (0 in an image)
    /// and the inode number the directory gives.
    Lower(usize, u64, u64),
    Resolved(Res),
}

/// The kind of a union object, from its mode.
pub fn kind_of(mode: u32) -> fuser::FileType {
    use fuser::FileType as F;
    match mode & S_IFMT {
        0o040000 => F::Directory,
        0o120000 => F::Symlink,
        0o020000 => F::CharDevice,
        0o060000 => F::BlockDevice,
        0o010000 => F::NamedPipe,
        0o140000 => F::Socket,
        _ => F::RegularFile,
    }
}

pub(super) fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    if dir.is_empty() {
        return name.to_vec();
    }
    let mut p = dir.to_vec();
    p.push(b'/');
    p.extend_from_slice(name);
    p
}

pub(super) fn split(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&[], path),
    }
}

/// Sets the timestamps `which` of the top inode `t` to now (with
/// nanoseconds where the inode keeps them, see Inode::set_time).
pub(super) fn stamp_now(fs: &mut Filesystem, t: u32, which: &[Stamp]) -> Result<(), Errno> {
    let mut rec = fs.read_inode(t).map_err(from_lib)?;
    rec.stamp(which, Time::now());
    fs.write_inode(t, &rec).map_err(from_lib)
}

/// The kernel's new_encode_dev, as FUSE carries rdev.
fn encode_dev(major: u32, minor: u32) -> u32 {
    (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
}

fn check_name(name: &[u8]) -> Result<(), Errno> {
    if name.len() > 255 {
        return Err(libc::ENAMETOOLONG);
    }
    if name.is_empty() || name.contains(&b'/') || name.contains(&0) {
        return Err(libc::EINVAL);
    }
    Ok(())
}

/// Reads `len` bytes at `offset` of a file in an image (holes as zeroes):
/// the library's range reader, its error as an errno.
pub fn read_range(fs: &Filesystem, i: &Inode, offset: u64, len: u32) -> Result<Vec<u8>, Errno> {
    fs.read_range(i, offset, len as usize).map_err(from_lib)
}

pub struct Union {
    pub top: Filesystem,
    pub layers: Vec<Layer>,
    nodes: Nodes,
    /// Open files and directories, under a lock of their own: a release
    /// and an opendir of a listing already taken need the engine shared
    /// only.
    pub(super) handles: Mutex<Handles>,
    /// The top copies of lower regular files, by (layer, identity): a
    /// handle opened on the lower file reads the copy once there is one.
    pub(super) copied: HashMap<(usize, Ident), u32>,
    /// The other way, to drop an entry when its top inode is freed.
    copied_as: HashMap<u32, (usize, Ident)>,
    /// Where union paths were found (forgotten where the engine changes
    /// the union).
    pub(super) resolved: Resolved,
    /// Each lower layer's identity, for origin records (origin.rs).
    pub(super) layer_ids: Vec<origin::LayerIds>,
    /// Mounted `dirsync` or `sync`: directory changes are on disk before
    /// they are answered (see dir_changed).
    dir_sync: bool,
    /// Mounted `sync`: attribute changes too (see attr_changed).
    attr_sync: bool,
}

/// What setattr changes.
#[derive(Default)]
pub struct SetAttr {
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub size: Option<u64>,
    /// Already resolved from "now".
    pub atime: Option<Time>,
    pub mtime: Option<Time>,
    /// The setuid and setgid bits go (chown, truncate by a caller
    /// without CAP_FSETID; see posix::kill_suidgid), unless `mode` is
    /// given.
    pub kill_suidgid: bool,
}

impl Union {
    pub fn new(top: Filesystem, layers: Vec<Layer>) -> Result<Self, String> {
        if !top.whiteout_feature() {
            return Err("the top layer has no whiteout feature (make it with \
                 mke2fs-union -O whiteout, or add it with tune2fs-style -O whiteout)"
                .into());
        }
        if !top.is_writable() {
            return Err("the top layer is not writable".into());
        }
        let layer_ids = layers
            .iter()
            .map(|l| {
                origin::layer_identity(l).map_err(|e| {
                    format!(
                        "a lower layer's root: {}",
                        std::io::Error::from_raw_os_error(e)
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Union {
            layer_ids,
            dir_sync: false,
            attr_sync: false,
            top,
            layers,
            nodes: Nodes::new(),
            handles: Mutex::default(),
            copied: HashMap::new(),
            copied_as: HashMap::new(),
            resolved: Resolved::default(),
        })
    }

    /// Mounted `dirsync` (`dirs`) or `sync` (`all`): as the kernel's ext2
    /// writes a directory change out before the call returns
    /// (IS_DIRSYNC), the engine syncs the image after each one; under
    /// `sync` also after attribute and xattr changes (IS_SYNC). Data
    /// written under `sync` is synced by the kernel's fsync after each
    /// write.
    pub fn set_sync(&mut self, dirs: bool, all: bool) {
        self.dir_sync = dirs || all;
        self.attr_sync = all;
    }

    /// An attribute change is done: on disk now under sync.
    fn attr_changed(&mut self) -> Result<(), Errno> {
        if self.attr_sync {
            self.sync()?;
        }
        Ok(())
    }

    /// A directory change is done: on disk now under dirsync.
    fn dir_changed(&mut self) -> Result<(), Errno> {
        if self.dir_sync {
            self.sync()?;
        }
        Ok(())
    }

    pub(super) fn path_of(&self, ino: u64) -> Result<Vec<u8>, Errno> {
        self.nodes
            .path_of(ino)
            .map(|p| p.to_vec())
            .ok_or(libc::ESTALE)
    }

    fn child_path(&self, parent: u64, name: &[u8]) -> Result<Vec<u8>, Errno> {
        check_name(name)?;
        Ok(join(&self.path_of(parent)?, name))
    }

    // ----- resolution --------------------------------------------------

    fn root_res(&self) -> Result<Res, Errno> {
        let root = self.top.read_inode(ROOT_INO).map_err(from_lib)?;
        let mut lower = Vec::new();
        for (i, l) in self.layers.iter().enumerate() {
            let r = l.root()?;
            let opaque = l.is_opaque(&r);
            lower.push((i, r));
            if opaque {
                break;
            }
        }
        Ok(Res {
            top: Some(ROOT_INO),
            top_opaque: root.is_opaque(),
            lower,
            mode: root.mode() as u32,
            lower_attr: None,
            origin: None,
        })
    }

    /// One lookup step: `name` in the union directory `dir` (e2fsck's
    /// lost+found left out, see lost_found.rs).
    pub(super) fn step(&self, dir: &Res, name: &[u8]) -> Result<Option<Res>, Errno> {
        let r = self.step_in(dir, name, false)?;
        if self.is_checkers(dir, name, r.as_ref()) {
            return self.step_in(dir, name, true);
        }
        Ok(r)
    }

    /// A lookup step, with or without the top layer's entry.
    fn step_in(&self, dir: &Res, name: &[u8], skip_top: bool) -> Result<Option<Res>, Errno> {
        let mut top = None;
        let mut top_opaque = false;
        let mut mode = None;
        let mut fallthru = false;
        let mut origin = None;
        if let Some(t) = dir.top.filter(|_| !skip_top) {
            match self.top.lookup_entry(t, name).map_err(from_lib)? {
                Some(e) if e.inode != 0 => {
                    let i = self.top.read_inode(e.inode).map_err(from_lib)?;
                    let m = i.mode() as u32;
                    origin = self.origin_node(e.inode, &i)?;
                    if !is_dir(m) {
                        return Ok(Some(Res {
                            top: Some(e.inode),
                            top_opaque: false,
                            lower: Vec::new(),
                            mode: m,
                            lower_attr: None,
                            origin,
                        }));
                    }
                    top = Some(e.inode);
                    top_opaque = i.is_opaque();
                    mode = Some(m);
                }
                Some(e) if e.file_type == ft::WHT => return Ok(None),
                Some(e) if e.file_type == ft::FALLTHRU => fallthru = true,
                _ => {}
            }
        }
        let mut lower = Vec::new();
        let mut lower_attr = None;
        if !dir.top_opaque || fallthru {
            for (li, d) in &dir.lower {
                let layer = &self.layers[*li];
                match layer.lookup(d, name)? {
                    None => continue,
                    Some(LEntry::Whiteout) => break,
                    Some(LEntry::Live(o, a)) => match mode {
                        None => {
                            let m = a.mode;
                            mode = Some(m);
                            lower_attr = Some(a);
                            let stop = !is_dir(m) || layer.is_opaque(&o);
                            lower.push((*li, o));
                            if stop {
                                break;
                            }
                        }
                        Some(have) if is_dir(have) && is_dir(a.mode) => {
                            let stop = layer.is_opaque(&o);
                            lower.push((*li, o));
                            if stop {
                                break;
                            }
                        }
                        Some(_) => break,
                    },
                }
            }
        }
        Ok(mode.map(|mode| Res {
            lower_attr: lower_attr.filter(|_| top.is_none()),
            top,
            top_opaque,
            lower,
            mode,
            origin,
        }))
    }

    /// Where `path` is found: from its longest remembered ancestor (see
    /// `resolved`), one step per component below it. Names found absent
    /// are remembered too (a create looks its name up first).
    pub fn resolve(&self, path: &[u8]) -> Result<Option<Res>, Errno> {
        if let Some(r) = self.resolved.get(path) {
            return Ok(r);
        }
        // The ends of the path's prefixes: "" (the root), then each
        // ancestor, then the path itself.
        let mut ends = vec![0];
        ends.extend(
            path.iter()
                .enumerate()
                .filter(|(_, &b)| b == b'/')
                .map(|(i, _)| i),
        );
        if !path.is_empty() {
            ends.push(path.len());
        }
        let mut from = 0;
        let mut cur = None;
        for (k, &end) in ends.iter().enumerate().rev() {
            match self.resolved.get(&path[..end]) {
                Some(Some(r)) => {
                    (from, cur) = (k, Some(r));
                    break;
                }
                Some(None) => return Ok(None),
                None => {}
            }
        }
        let mut cur = match cur {
            Some(r) => r,
            None => {
                let r = self.root_res()?;
                self.resolved.put(b"", Some(&r));
                r
            }
        };
        for k in from + 1..ends.len() {
            let start = if k == 1 { 0 } else { ends[k - 1] + 1 };
            if !is_dir(cur.mode) {
                return Err(libc::ENOTDIR);
            }
            match self.step(&cur, &path[start..ends[k]])? {
                Some(r) => cur = r,
                None => {
                    self.resolved.put(&path[..ends[k]], None);
                    return Ok(None);
                }
            }
            self.resolved.put(&path[..ends[k]], Some(&cur));
        }
        Ok(Some(cur))
    }

    pub(super) fn must(&self, path: &[u8]) -> Result<Res, Errno> {
        self.resolve(path)?.ok_or(libc::ENOENT)
    }

    // ----- attributes --------------------------------------------------

    fn attr_of(&self, fino: u64, r: &Res) -> Result<fuser::FileAttr, Errno> {
        let a = match r.top {
            Some(t) => return self.top_attr(fino, t),
            None => match r.lower_attr {
                Some(a) => a,
                None => {
                    let (li, o) = r.lower.first().ok_or(libc::ENOENT)?;
                    self.layers[*li].attr(o)?
                }
            },
        };
        Ok(self.fuse_attr(fino, &a))
    }

    /// The attributes of the top inode `t`, shown as `fino`.
    pub(super) fn top_attr(&self, fino: u64, t: u32) -> Result<fuser::FileAttr, Errno> {
        let i = self.top.read_inode(t).map_err(from_lib)?;
        Ok(self.fuse_attr(fino, &LAttr::of_inode(&i)))
    }

    pub(super) fn fuse_attr(&self, fino: u64, a: &LAttr) -> fuser::FileAttr {
        fuser::FileAttr {
            ino: fuser::INodeNo(fino),
            size: a.size,
            blocks: a.blocks,
            atime: a.atime.to_system_time(),
            mtime: a.mtime.to_system_time(),
            ctime: a.ctime.to_system_time(),
            crtime: a.ctime.to_system_time(),
            kind: kind_of(a.mode),
            perm: (a.mode & 0o7777) as u16,
            nlink: a.nlink,
            uid: a.uid,
            gid: a.gid,
            rdev: encode_dev(a.rdev_major, a.rdev_minor),
            blksize: self.top.block_size(),
            flags: 0,
        }
    }

    fn attr_path(&mut self, path: &[u8]) -> Result<fuser::FileAttr, Errno> {
        let r = self.must(path)?;
        let node = self.node_of(&r);
        self.nodes.bind(path, node);
        self.attr_of(node, &r)
    }

    /// attr_path for a reply that gives the kernel an entry (counted until
    /// the kernel forgets it).
    fn entry_path(&mut self, path: &[u8]) -> Result<fuser::FileAttr, Errno> {
        let a = self.attr_path(path)?;
        self.nodes.looked_up(a.ino.0);
        Ok(a)
    }

    pub fn forget(&mut self, node: u64, n: u64) {
        self.nodes.forget(node, n);
    }

    /// The top inode `t` was freed.
    pub(super) fn forget_top(&mut self, t: u32) {
        self.nodes.top_freed(t);
        if let Some(lower) = self.copied_as.remove(&t) {
            self.copied.remove(&lower);
        }
    }

    /// The node number of a resolved object (its inode number, see nodes).
    fn node_of(&mut self, r: &Res) -> u64 {
        match (r.top, r.lower.first()) {
            (Some(t), _) => self.nodes.top_number(t, r.origin),
            (None, Some((li, o))) => self.lower_node(*li, o),
            (None, None) => 0,
        }
    }

    fn lower_node(&mut self, li: usize, o: &LObj) -> u64 {
        let id = o.ident();
        let fs = self.layers[li].fs_of(o);
        self.nodes.lower_node(li, id.dev, fs, id.ino)
    }

    /// Whether `name` in `parent` is absent, found without changing the
    /// engine (resolutions are remembered under their own lock): a
    /// lookup that finds nothing, as before every create, needs the
    /// engine shared only; one that finds something takes it alone
    /// (`lookup` numbers and counts the node).
    pub fn is_absent(&self, parent: u64, name: &[u8]) -> Result<bool, Errno> {
        let p = self.child_path(parent, name)?;
        Ok(self.resolve(&p)?.is_none())
    }

    pub fn lookup(&mut self, parent: u64, name: &[u8]) -> Result<fuser::FileAttr, Errno> {
        let p = self.child_path(parent, name)?;
        self.entry_path(&p)
    }

    /// The directory `parent` as readdirplus looks its names up: found
    /// once for all of them (`lookup_listed`), not once per name, and
    /// searched through one descriptor in each lower layer until
    /// `end_listing` (see beneath::Tree::look_in).
    pub fn listed_dir(&self, parent: u64) -> Result<ListedDir, Errno> {
        for l in &self.layers {
            l.begin_listing();
        }
        let path = self.path_of(parent)?;
        let res = self.must(&path)?;
        if !is_dir(res.mode) {
            return Err(libc::ENOTDIR);
        }
        Ok(ListedDir { path, res })
    }

    /// lookup for readdirplus of a name in `dir` (from listed_dir): one
    /// step from the directory, what attr_path would find; the entry is
    /// counted (`looked_up`) only once it fits in the reply.
    pub fn lookup_listed(
        &mut self,
        dir: &ListedDir,
        name: &[u8],
    ) -> Result<fuser::FileAttr, Errno> {
        check_name(name)?;
        let path = join(&dir.path, name);
        let r = match self.resolved.get(&path) {
            Some(r) => r,
            None => {
                let r = self.step(&dir.res, name)?;
                self.resolved.put(&path, r.as_ref());
                r
            }
        };
        let r = r.ok_or(libc::ENOENT)?;
        let node = self.node_of(&r);
        self.nodes.bind(&path, node);
        self.attr_of(node, &r)
    }

    /// The names of the listing are looked up: the lower directories'
    /// descriptors are let go.
    pub fn end_listing(&self) {
        for l in &self.layers {
            l.end_listing();
        }
    }

    /// The kernel was given an entry for `node`.
    pub fn looked_up(&mut self, node: u64) {
        self.nodes.looked_up(node);
    }

    pub fn getattr(&self, ino: u64) -> Result<fuser::FileAttr, Errno> {
        let Ok(p) = self.path_of(ino) else {
            // No name left: a file still open (fstat after unlink).
            let t = self.handles().top_of_node(ino).ok_or(libc::ESTALE)?;
            return self.top_attr(ino, t);
        };
        let r = self.must(&p)?;
        self.attr_of(ino, &r)
    }

    // ----- copy-up -----------------------------------------------------

    /// Makes sure `path` exists in the top layer (copying it and the
    /// directories above it up) and returns its top inode.
    pub fn copy_up(&mut self, path: &[u8]) -> Result<u32, Errno> {
        let r = self.must(path)?;
        if let Some(t) = r.top {
            return Ok(t);
        }
        let (parent, name) = split(path);
        let ptop = self.copy_up(parent)?;
        let (li, obj) = r.lower.first().cloned().ok_or(libc::ENOENT)?;
        let a = self.layers[li].attr(&obj)?;
        let perm = (a.mode & 0o7777) as u16;
        let ino = match a.mode & S_IFMT {
            0o040000 => self.top.mkdir(ptop, name, perm).map_err(from_lib)?,
            0o100000 => {
                let ino = self
                    .top
                    .create(ptop, name, inode::S_IFREG | perm)
                    .map_err(from_lib)?;
                let mut rec = self.top.read_inode(ino).map_err(from_lib)?;
                let top = &mut self.top;
                let copied = self.layers[li].for_each_run(&obj, |off, data| {
                    top.write_range(ino, &mut rec, off, data).map_err(from_lib)
                });
                let copied = copied.and_then(|()| {
                    if rec.size() != a.size {
                        top.truncate(ino, &mut rec, a.size).map_err(from_lib)
                    } else {
                        Ok(())
                    }
                });
                if let Err(e) = copied {
                    let _ = self.top.unlink(ptop, name);
                    return Err(e);
                }
                self.copied.insert((li, obj.ident()), ino);
                self.copied_as.insert(ino, (li, obj.ident()));
                ino
            }
            0o120000 => {
                let target = self.layers[li].readlink(&obj)?;
                self.top.symlink(ptop, name, &target).map_err(from_lib)?
            }
            t => self
                .top
                .mknod(ptop, name, t as u16 | perm, a.rdev_major, a.rdev_minor)
                .map_err(from_lib)?,
        };
        self.resolved.forget(path);
        let lower = self.lower_node(li, &obj);
        let mut rec = self.top.read_inode(ino).map_err(from_lib)?;
        rec.set_uid(a.uid);
        rec.set_gid(a.gid);
        rec.base.i_mode = (a.mode & 0o177777) as u16;
        rec.set_time(Stamp::Atime, a.atime);
        rec.set_time(Stamp::Mtime, a.mtime);
        rec.stamp(&[Stamp::Ctime, Stamp::Crtime], Time::now());
        self.top.write_inode(ino, &rec).map_err(from_lib)?;
        let xattrs = self.layers[li].xattrs(&obj)?;
        let mut xattrs: Vec<ext2fs::xattr::Xattr> = xattrs
            .into_iter()
            .filter(|(n, _)| {
                !n.starts_with("trusted.overlay.")
                    && !n.starts_with("system.posix_acl_")
                    && !origin::is_private(n)
            })
            .map(|(name, value)| ext2fs::xattr::Xattr { name, value })
            .collect();
        // The lower object's number stays when no other object can show
        // it: one name, a directory, or every other name linked to this
        // copy (a regular file's, below).
        let regular = a.mode & S_IFMT == 0o100000;
        let record = self
            .origin_record(li, &obj, lower)
            .filter(|_| a.nlink <= 1 || regular || is_dir(a.mode));
        let recorded = record.is_some();
        xattrs.extend(record);
        if !xattrs.is_empty() {
            self.top.set_xattrs(ino, &xattrs).map_err(from_lib)?;
        }
        let mut kept = recorded;
        if regular && a.nlink > 1 && !self.link_other_names(path, li, obj.ident(), a.nlink, ino)? {
            if recorded {
                self.top
                    .remove_xattr(ino, origin::ORIGIN)
                    .map_err(from_lib)?;
            }
            kept = false;
        }
        if kept {
            self.mark_impure(ptop)?;
        }
        let now = if kept { lower } else { top_node(ino) };
        self.nodes.copied_up(lower, now, ino);
        Ok(ino)
    }

    // ----- creating ----------------------------------------------------

    fn prepare_create(&mut self, parent: u64, name: &[u8]) -> Result<(Vec<u8>, u32), Errno> {
        let path = self.child_path(parent, name)?;
        let pr = self.must(&self.path_of(parent)?)?;
        if !is_dir(pr.mode) {
            return Err(libc::ENOTDIR);
        }
        if self.resolve(&path)?.is_some() {
            return Err(libc::EEXIST);
        }
        let (p, _) = split(&path);
        let ptop = self.copy_up(p)?;
        Ok((path, ptop))
    }

    fn finish_create(
        &mut self,
        path: &[u8],
        ptop: u32,
        ino: u32,
        uid: u32,
        gid: u32,
    ) -> Result<fuser::FileAttr, Errno> {
        let parent = self.top.read_inode(ptop).map_err(from_lib)?;
        let mut rec = self.top.read_inode(ino).map_err(from_lib)?;
        let (gid, mode) = posix::inherit(&parent, gid, rec.mode() as u32);
        rec.base.i_mode = mode as u16;
        rec.set_uid(uid);
        rec.set_gid(gid);
        let all = [Stamp::Atime, Stamp::Mtime, Stamp::Ctime, Stamp::Crtime];
        rec.stamp(&all, Time::now());
        self.top.write_inode(ino, &rec).map_err(from_lib)?;
        self.resolved.forget(path);
        if !rec.is_dir() {
            // What a lookup would find (a new directory may merge with
            // lower ones: left to the lookup).
            let r = Res {
                top: Some(ino),
                top_opaque: false,
                lower: Vec::new(),
                mode: rec.mode() as u32,
                lower_attr: None,
                origin: None,
            };
            self.resolved.put(path, Some(&r));
        }
        self.touch_parent(path)?;
        self.dir_changed()?;
        self.entry_path(path)
    }

    fn touch_parent(&mut self, path: &[u8]) -> Result<(), Errno> {
        let (p, _) = split(path);
        if let Some(t) = self.must(p)?.top {
            stamp_now(&mut self.top, t, &[Stamp::Mtime, Stamp::Ctime])?;
        }
        Ok(())
    }

    pub fn mknod(
        &mut self,
        parent: u64,
        name: &[u8],
        mode: u32,
        rdev: u32,
        uid: u32,
        gid: u32,
    ) -> Result<fuser::FileAttr, Errno> {
        let (path, ptop) = self.prepare_create(parent, name)?;
        let major = (rdev & 0xfff00) >> 8;
        let minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
        let t = mode & S_IFMT;
        let t = if t == 0 { 0o100000 } else { t };
        if t == 0o040000 || t == 0o120000 {
            return Err(libc::EINVAL);
        }
        let ino = self
            .top
            .mknod(ptop, name, (t | (mode & 0o7777)) as u16, major, minor)
            .map_err(from_lib)?;
        self.finish_create(&path, ptop, ino, uid, gid)
    }

    pub fn mkdir(
        &mut self,
        parent: u64,
        name: &[u8],
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> Result<fuser::FileAttr, Errno> {
        let (path, ptop) = self.prepare_create(parent, name)?;
        if let Some(t) = self.hidden_checkers(ptop, name)? {
            let ino = self.adopt_checkers(t, mode)?;
            return self.finish_create(&path, ptop, ino, uid, gid);
        }
        posix::check_links(&self.top.read_inode(ptop).map_err(from_lib)?)?;
        let ino = self
            .top
            .mkdir(ptop, name, (mode & 0o7777) as u16)
            .map_err(from_lib)?;
        // union-ext2.md: every directory made in the top layer is opaque
        // (over a whiteout this is what keeps the old lower one hidden).
        self.top.set_opaque(ino, true).map_err(from_lib)?;
        self.finish_create(&path, ptop, ino, uid, gid)
    }

    pub fn symlink(
        &mut self,
        parent: u64,
        name: &[u8],
        target: &[u8],
        uid: u32,
        gid: u32,
    ) -> Result<fuser::FileAttr, Errno> {
        if target.len() >= self.top.block_size() as usize {
            return Err(libc::ENAMETOOLONG);
        }
        let (path, ptop) = self.prepare_create(parent, name)?;
        let ino = self.top.symlink(ptop, name, target).map_err(from_lib)?;
        self.finish_create(&path, ptop, ino, uid, gid)
    }

    pub fn link(
        &mut self,
        ino: u64,
        newparent: u64,
        newname: &[u8],
    ) -> Result<fuser::FileAttr, Errno> {
        let src = self.path_of(ino)?;
        let r = self.must(&src)?;
        if is_dir(r.mode) {
            return Err(libc::EPERM);
        }
        let (path, _) = self.prepare_create(newparent, newname)?;
        let t = self.copy_up(&src)?;
        posix::check_links(&self.top.read_inode(t).map_err(from_lib)?)?;
        let (p, _) = split(&path);
        let ptop = self.copy_up(p)?;
        self.top.link(ptop, newname, t).map_err(from_lib)?;
        self.placed(t, ptop)?;
        self.resolved.forget(&path);
        self.touch_ctime(t)?;
        self.touch_parent(&path)?;
        self.dir_changed()?;
        self.entry_path(&path)
    }

    // ----- removing ----------------------------------------------------

    /// After the top entry went: a whiteout when the name is still visible
    /// from a lower layer.
    fn whiteout_if_visible(&mut self, path: &[u8], ptop: u32, name: &[u8]) -> Result<(), Errno> {
        self.resolved.forget(path);
        if self.resolve(path)?.is_some() {
            self.resolved.forget(path);
            self.top
                .add_union_entry(ptop, name, ft::WHT)
                .map_err(from_lib)?;
        }
        Ok(())
    }

    pub fn unlink(&mut self, parent: u64, name: &[u8]) -> Result<(), Errno> {
        let path = self.child_path(parent, name)?;
        let r = self.must(&path)?;
        if is_dir(r.mode) {
            return Err(libc::EISDIR);
        }
        let ptop = self.copy_up(split(&path).0)?;
        if let Some(t) = r.top {
            self.top.remove_entry(ptop, name).map_err(from_lib)?;
            self.drop_top_link(t)?;
        }
        self.whiteout_if_visible(&path, ptop, name)?;
        self.touch_parent(&path)?;
        self.nodes.unbind(&path, false);
        self.dir_changed()
    }

    pub fn rmdir(&mut self, parent: u64, name: &[u8]) -> Result<(), Errno> {
        let path = self.child_path(parent, name)?;
        let r = self.must(&path)?;
        if !is_dir(r.mode) {
            return Err(libc::ENOTDIR);
        }
        if !self.list(&path)?.is_empty() {
            return Err(libc::ENOTEMPTY);
        }
        let ptop = self.copy_up(split(&path).0)?;
        match r.top {
            Some(t) if lost_found::named(ptop, name) => self.give_back_checkers(t, &r)?,
            Some(t) => {
                self.top.rmdir(ptop, name).map_err(from_lib)?;
                self.forget_top(t);
            }
            None => {}
        }
        self.whiteout_if_visible(&path, ptop, name)?;
        self.touch_parent(&path)?;
        self.nodes.unbind(&path, true);
        self.dir_changed()
    }

    pub fn rename(
        &mut self,
        parent: u64,
        name: &[u8],
        newparent: u64,
        newname: &[u8],
        flags: u32,
    ) -> Result<(), Errno> {
        const NOREPLACE: u32 = 1;
        if flags & !NOREPLACE != 0 {
            // RENAME_EXCHANGE and RENAME_WHITEOUT are not offered.
            return Err(libc::EINVAL);
        }
        let src = self.child_path(parent, name)?;
        let dst = self.child_path(newparent, newname)?;
        if src == dst {
            return Ok(());
        }
        if Nodes::under(&src, &dst) {
            return Err(libc::EINVAL);
        }
        let s = self.must(&src)?;
        if is_dir(s.mode) && !s.lower.is_empty() {
            // union-ext2.md: renaming a directory that exists below is EXDEV
            // (mv falls back to copying).
            return Err(libc::EXDEV);
        }
        let dp = self.must(split(&dst).0)?;
        if !is_dir(dp.mode) {
            return Err(libc::ENOTDIR);
        }
        let d = self.resolve(&dst)?;
        let new_is_dir = d.as_ref().is_some_and(|d| is_dir(d.mode));
        if let (true, false, true, Some(t)) =
            (is_dir(s.mode), new_is_dir, parent != newparent, dp.top)
        {
            // vfs_rename: a directory moved to another parent adds a link
            // to it (its '..'), refused at the limit before anything moves.
            posix::check_links(&self.top.read_inode(t).map_err(from_lib)?)?;
        }
        // A directory renamed to lost+found in the root replaces e2fsck's
        // hidden one when that is empty (lost_found.rs).
        let checkers = match (dp.top, &d) {
            (Some(pt), None) => self.hidden_checkers(pt, newname)?,
            _ => None,
        };
        if let Some(t) = checkers {
            if !is_dir(s.mode) || !self.top.dir_is_empty(t).map_err(from_lib)? {
                return Err(libc::EEXIST);
            }
        }
        if let Some(d) = &d {
            if flags & NOREPLACE != 0 {
                return Err(libc::EEXIST);
            }
            if let (Some(a), Some(b)) = (s.top, d.top) {
                if a == b {
                    return Ok(()); // two links to one inode: nothing to do
                }
            }
            if is_dir(s.mode) {
                if !is_dir(d.mode) {
                    return Err(libc::ENOTDIR);
                }
                if !self.list(&dst)?.is_empty() {
                    return Err(libc::ENOTEMPTY);
                }
            } else if is_dir(d.mode) {
                return Err(libc::EISDIR);
            }
        }
        let moved = self.copy_up(&src)?;
        let sp = self.copy_up(split(&src).0)?;
        let np = self.copy_up(split(&dst).0)?;
        if let Some(d) = &d {
            if let Some(t) = d.top {
                if is_dir(d.mode) {
                    self.top.rmdir(np, newname).map_err(from_lib)?;
                    self.forget_top(t);
                } else {
                    self.top.remove_entry(np, newname).map_err(from_lib)?;
                    self.drop_top_link(t)?;
                }
            }
        }
        if let Some(t) = checkers {
            self.top.rmdir(np, newname).map_err(from_lib)?;
            self.forget_top(t);
        }
        self.top.rename(sp, name, np, newname).map_err(from_lib)?;
        self.placed(moved, np)?;
        if is_dir(s.mode) {
            self.resolved.forget_under(&src);
            self.resolved.forget_under(&dst);
        } else {
            self.resolved.forget(&src);
            self.resolved.forget(&dst);
        }
        self.whiteout_if_visible(&src, sp, name)?;
        if is_dir(s.mode) && lost_found::named(np, newname) {
            // Opaque, so that it shows as the union's (lost_found.rs).
            self.top.set_opaque(moved, true).map_err(from_lib)?;
        }
        if is_dir(s.mode) {
            if let Some(r) = self.resolve(&dst)? {
                if !r.lower.is_empty() {
                    self.top.set_opaque(moved, true).map_err(from_lib)?;
                    self.resolved.forget_under(&dst);
                }
            }
        }
        self.touch_ctime(moved)?;
        self.touch_parent(&src)?;
        self.touch_parent(&dst)?;
        self.nodes.rename(&src, &dst, is_dir(s.mode), new_is_dir);
        self.dir_changed()
    }

    /// A non-directory top inode lost a name: its ctime changes while it
    /// has links left; with none left it is freed, or put on the orphan
    /// list while it is still open (freed at the last release).
    fn drop_top_link(&mut self, t: u32) -> Result<(), Errno> {
        if self.handles().is_open(t) {
            if self.top.drop_link_keep_open(t).map_err(from_lib)? {
                self.handles().orphaned(t);
                return Ok(());
            }
        } else {
            self.top.drop_link(t).map_err(from_lib)?;
        }
        let rec = self.top.read_inode(t).map_err(from_lib)?;
        if rec.base.i_links_count > 0 {
            self.touch_ctime(t)?;
        } else {
            self.forget_top(t);
        }
        Ok(())
    }

    // ----- directories -------------------------------------------------

    /// The merged listing of a union directory: (name, mode, where it
    /// comes from), '.' and '..' left out, whiteouts dropped, fallthrus
    /// shown as the lower object.
    pub fn list(&self, path: &[u8]) -> Result<Vec<(Vec<u8>, u32, Origin)>, Errno> {
        let r = self.must(path)?;
        if !is_dir(r.mode) {
            return Err(libc::ENOTDIR);
        }
        let mut seen: HashSet<Vec<u8>> = HashSet::new();
        let mut out = Vec::new();
        if let Some(t) = r.top {
            for e in self.top.read_dir(t).map_err(from_lib)? {
                if e.is_dot() || e.is_dotdot() {
                    continue;
                }
                if lost_found::named(t, &e.name) {
                    // Shown only when it is the union's (see step).
                    seen.insert(e.name.clone());
                    if let Some(c) = self.step(&r, &e.name)? {
                        out.push((e.name, c.mode, Origin::Resolved(c)));
                    }
                    continue;
                }
                seen.insert(e.name.clone());
                if e.inode != 0 {
                    let m = if e.file_type != 0 && e.file_type < ft::WHT {
                        super::layer::mode_of_ft(e.file_type)
                    } else {
                        self.top.read_inode(e.inode).map_err(from_lib)?.mode() as u32
                    };
                    out.push((e.name, m, Origin::Top(e.inode)));
                } else if e.file_type == ft::FALLTHRU {
                    if let Some(c) = self.step(&r, &e.name)? {
                        out.push((e.name, c.mode, Origin::Resolved(c)));
                    }
                }
            }
        }
        if !r.top_opaque {
            for (li, d) in &r.lower {
                for (name, m, ino) in self.layers[*li].list(d)? {
                    if seen.insert(name.clone()) {
                        if let Some(m) = m {
                            out.push((name, m, Origin::Lower(*li, d.ident().dev, ino)));
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// readdir: (node, mode, name) with '.' and '..' first; a node number
    /// is what lookup gives the name.
    pub fn readdir(&mut self, ino: u64) -> Result<Vec<(u64, u32, Vec<u8>)>, Errno> {
        let path = self.path_of(ino)?;
        let entries = self.list(&path)?;
        // Only a directory marked impure has names with origin records.
        let impure = match self.must(&path)?.top {
            Some(t) => self.is_impure(t)?,
            None => false,
        };
        let parent = match self.resolve(split(&path).0)? {
            Some(r) if !path.is_empty() => self.node_of(&r),
            _ => ino,
        };
        let mut out = vec![
            (ino, 0o040000, b".".to_vec()),
            (parent, 0o040000, b"..".to_vec()),
        ];
        for (name, m, origin) in entries {
            let node = match origin {
                Origin::Top(t) if impure => {
                    let o = self.origin_of(t)?;
                    self.nodes.top_number(t, o)
                }
                Origin::Top(t) => top_node(t),
                Origin::Lower(li, dev, i) => {
                    let fs = self.layers[li].fs_of_dev(dev);
                    self.nodes.lower_node(li, dev, fs, i)
                }
                Origin::Resolved(r) => self.node_of(&r),
            };
            out.push((node, m, name));
        }
        Ok(out)
    }

    // ----- files -------------------------------------------------------

    pub fn readlink(&self, ino: u64) -> Result<Vec<u8>, Errno> {
        let r = self.must(&self.path_of(ino)?)?;
        match r.top {
            Some(t) => {
                let i = self.top.read_inode(t).map_err(from_lib)?;
                if !i.is_symlink() {
                    return Err(libc::EINVAL);
                }
                self.top.read_link(&i).map_err(from_lib)
            }
            None => {
                let (li, o) = r.lower.first().ok_or(libc::ENOENT)?;
                self.layers[*li].readlink(o)
            }
        }
    }

    /// setattr: through an open handle of a top file (ftruncate, fchmod
    /// of a file that may have no name left), else by the node's path.
    pub fn setattr(
        &mut self,
        ino: u64,
        fh: Option<u64>,
        s: &SetAttr,
    ) -> Result<fuser::FileAttr, Errno> {
        let path = self.path_of(ino);
        let by_handle = fh.and_then(|fh| self.handles().top_inode(fh));
        let open = match by_handle {
            Some(t) => Some(t),
            // No name left: fchmod of a file still open.
            None if path.is_err() => self.handles().top_of_node(ino),
            None => None,
        };
        if let Some(t) = open {
            self.set_top_attr(t, s)?;
            return self.top_attr(ino, t);
        }
        let path = path?;
        let t = self.copy_up(&path)?;
        self.set_top_attr(t, s)?;
        self.attr_path(&path)
    }

    fn set_top_attr(&mut self, t: u32, s: &SetAttr) -> Result<(), Errno> {
        let mut rec = self.top.read_inode(t).map_err(from_lib)?;
        let now = Time::now();
        if let Some(size) = s.size {
            if rec.is_dir() {
                return Err(libc::EISDIR);
            }
            if !rec.is_reg() {
                return Err(libc::EINVAL);
            }
            self.top.truncate(t, &mut rec, size).map_err(from_lib)?;
            rec.set_time(Stamp::Mtime, now);
        }
        if let Some(m) = s.mode {
            rec.base.i_mode = (rec.base.i_mode & inode::S_IFMT) | (m & 0o7777) as u16;
        } else if s.kill_suidgid && !rec.is_dir() {
            posix::kill_suidgid(&mut rec);
        }
        if let Some(u) = s.uid {
            rec.set_uid(u);
        }
        if let Some(g) = s.gid {
            rec.set_gid(g);
        }
        if let Some(a) = s.atime {
            rec.set_time(Stamp::Atime, a);
        }
        if let Some(m) = s.mtime {
            rec.set_time(Stamp::Mtime, m);
        }
        rec.set_time(Stamp::Ctime, now);
        self.top.write_inode(t, &rec).map_err(from_lib)?;
        self.attr_changed()
    }

    /// fallocate mode 0 allocates (zeroed) blocks and grows the size; the
    /// other modes (keep-size, punch-hole, ...) are not offered.
    pub fn fallocate(
        &mut self,
        ino: u64,
        offset: u64,
        length: u64,
        mode: i32,
    ) -> Result<(), Errno> {
        if mode != 0 {
            return Err(libc::EOPNOTSUPP);
        }
        let path = self.path_of(ino)?;
        let t = self.copy_up(&path)?;
        let mut rec = self.top.read_inode(t).map_err(from_lib)?;
        if !rec.is_reg() {
            return Err(libc::ENODEV);
        }
        let end = offset.checked_add(length).ok_or(libc::EFBIG)?;
        let bs = self.top.block_size() as u64;
        let zero = vec![0u8; bs as usize];
        for lblk in offset / bs..end.div_ceil(bs) {
            if self.top.bmap(&rec, lblk).map_err(from_lib)?.is_none() {
                self.top
                    .append_block(t, &mut rec, lblk, &zero)
                    .map_err(from_lib)?;
            }
        }
        if end > rec.size() {
            rec.set_size(end);
        }
        rec.set_time(Stamp::Ctime, Time::now());
        self.top.write_inode(t, &rec).map_err(from_lib)
    }

    pub fn statfs(&self) -> (u64, u64, u64, u64, u64, u32) {
        let sb = self.top.sb();
        let blocks = sb.s_blocks_count as u64;
        let bfree = sb.s_free_blocks_count as u64;
        let bavail = bfree.saturating_sub(sb.s_r_blocks_count as u64);
        (
            blocks,
            bfree,
            bavail,
            sb.s_inodes_count as u64,
            sb.s_free_inodes_count as u64,
            self.top.block_size(),
        )
    }

    pub fn sync(&mut self) -> Result<(), Errno> {
        self.top.sync().map_err(from_lib)
    }

    // ----- extended attributes -----------------------------------------

    /// The union object's extended attributes (the engine's own left out).
    fn xattrs(&self, r: &Res) -> Result<Vec<(String, Vec<u8>)>, Errno> {
        let mut all = self.all_xattrs(r)?;
        all.retain(|(n, _)| !origin::is_private(n));
        Ok(all)
    }

    fn all_xattrs(&self, r: &Res) -> Result<Vec<(String, Vec<u8>)>, Errno> {
        match r.top {
            Some(t) => Ok(self
                .top
                .list_xattrs(t)
                .map_err(from_lib)?
                .into_iter()
                .map(|x| (x.name, x.value))
                .collect()),
            None => {
                let (li, o) = r.lower.first().ok_or(libc::ENOENT)?;
                self.layers[*li].xattrs(o)
            }
        }
    }

    pub fn getxattr(&self, ino: u64, name: &str) -> Result<Vec<u8>, Errno> {
        if origin::is_private(name) {
            return Err(libc::EOPNOTSUPP);
        }
        let r = self.must(&self.path_of(ino)?)?;
        self.xattrs(&r)?
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .ok_or(libc::ENODATA)
    }

    pub fn listxattr(&self, ino: u64) -> Result<Vec<u8>, Errno> {
        let r = self.must(&self.path_of(ino)?)?;
        let mut out = Vec::new();
        for (n, _) in self.xattrs(&r)? {
            out.extend_from_slice(n.as_bytes());
            out.push(0);
        }
        Ok(out)
    }

    pub fn setxattr(
        &mut self,
        ino: u64,
        name: &str,
        value: &[u8],
        flags: i32,
    ) -> Result<(), Errno> {
        if name.starts_with("system.posix_acl_") {
            // POSIX ACLs would need the ext2 ACL encoding and mode sync:
            // refused, so that cp/mv fall back to chmod.
            return Err(libc::EOPNOTSUPP);
        }
        if origin::is_private(name) {
            // The engine's records, as overlayfs keeps trusted.overlay.*.
            return Err(libc::EOPNOTSUPP);
        }
        let path = self.path_of(ino)?;
        let r = self.must(&path)?;
        let exists = self.xattrs(&r)?.iter().any(|(n, _)| n == name);
        if flags & libc::XATTR_CREATE != 0 && exists {
            return Err(libc::EEXIST);
        }
        if flags & libc::XATTR_REPLACE != 0 && !exists {
            return Err(libc::ENODATA);
        }
        let t = self.copy_up(&path)?;
        self.top.set_xattr(t, name, value).map_err(from_lib)?;
        self.touch_ctime(t)?;
        self.attr_changed()
    }

    pub fn removexattr(&mut self, ino: u64, name: &str) -> Result<(), Errno> {
        if origin::is_private(name) {
            return Err(libc::EOPNOTSUPP);
        }
        let path = self.path_of(ino)?;
        let r = self.must(&path)?;
        if !self.xattrs(&r)?.iter().any(|(n, _)| n == name) {
            return Err(libc::ENODATA);
        }
        let t = self.copy_up(&path)?;
        self.top.remove_xattr(t, name).map_err(|e| match e {
            ext2fs::Error::NotFound(_) => libc::ENODATA,
            e => from_lib(e),
        })?;
        self.touch_ctime(t)?;
        self.attr_changed()
    }

    fn touch_ctime(&mut self, t: u32) -> Result<(), Errno> {
        stamp_now(&mut self.top, t, &[Stamp::Ctime])
    }
}
