//! Copied-up objects keep their inode number (union-ext2.md, "Origin
//! records"). A lower object is numbered by its (layer, inode); when it is
//! copied up, its top inode gets a `trusted.union.origin` record naming
//! that layer and inode, and the object is numbered by the record, through
//! every name and after remounts of the same layers, as overlayfs' origin
//! and xino do. A top directory that may hold such names is marked
//! `trusted.union.impure`, so that only those listings read the records of
//! their entries. Both attributes are the engine's: hidden from the
//! union's users.

use ext2fs::inode::Inode;
use ext2fs::xattr::Xattr;

use super::errno::{from_lib, Errno};
use super::layer::{LObj, Layer};
use super::nodes;
use super::union::Union;

pub use ext2fs::union_origin::{is_private, OriginRecord as Record, IMPURE, ORIGIN};

/// What identifies a lower layer across mounts: an image layer's UUID, a
/// directory layer's root (device and inode numbers).
pub fn layer_identity(layer: &Layer) -> Result<[u8; 16], Errno> {
    let mut id = [0u8; 16];
    match (layer, layer.root()?) {
        (Layer::Image(fs), _) => id = fs.sb().s_uuid,
        (Layer::Dir(_), LObj::Path(_, root)) => {
            id[..8].copy_from_slice(&root.dev.to_le_bytes());
            id[8..].copy_from_slice(&root.ino.to_le_bytes());
        }
        (Layer::Dir(_), LObj::Ino(_)) => return Err(libc::EIO),
    }
    Ok(id)
}

/// Whether an inode has extended attributes at all (in its body or in a
/// block): most have none, and their records need not be looked for.
fn has_xattrs(rec: &Inode) -> bool {
    rec.base.i_file_acl != 0
        || rec
            .in_inode_xattr_area()
            .is_some_and(|a| ext2fs::xattr::ibody_magic(&a) != 0)
}

impl Union {
    /// The record for copying up `obj` of layer `li`; None when its number
    /// would not be stable (another device inside a directory layer, an
    /// inode number past the lower range) or the top image has no xattrs.
    pub(super) fn origin_record(&self, li: usize, obj: &LObj) -> Option<Xattr> {
        if !self.top.sb().has_compat(ext2fs::features::compat::EXT_ATTR) {
            return None;
        }
        let home = self.layers[li].home_dev();
        let ino = match obj {
            LObj::Path(_, id) if id.dev == home => id.ino,
            LObj::Path(..) => return None,
            LObj::Ino(n) => *n as u64,
        };
        nodes::lower_number(li, ino)?;
        let r = Record {
            layer: u8::try_from(li).ok()?,
            identity: *self.layer_ids.get(li)?,
            ino,
        };
        Some(Xattr {
            name: ORIGIN.to_string(),
            value: r.encode(),
        })
    }

    /// The node number the origin record of the top inode `t` (read as
    /// `rec`) gives, when it names a layer of this mount as it was.
    pub(super) fn origin_node(&self, t: u32, rec: &Inode) -> Result<Option<u64>, Errno> {
        if !has_xattrs(rec) {
            return Ok(None);
        }
        let Some(x) = self
            .top
            .list_xattrs(t)
            .map_err(from_lib)?
            .into_iter()
            .find(|x| x.name == ORIGIN)
        else {
            return Ok(None);
        };
        Ok(Record::decode(&x.value).and_then(|r| {
            let li = r.layer as usize;
            (self.layer_ids.get(li) == Some(&r.identity))
                .then(|| nodes::lower_number(li, r.ino))
                .flatten()
        }))
    }

    /// origin_node for a top inode not read yet.
    pub(super) fn origin_of(&self, t: u32) -> Result<Option<u64>, Errno> {
        let rec = self.top.read_inode(t).map_err(from_lib)?;
        self.origin_node(t, &rec)
    }

    /// Whether the top directory `dir` may hold names with origin records.
    pub(super) fn is_impure(&self, dir: u32) -> Result<bool, Errno> {
        let rec = self.top.read_inode(dir).map_err(from_lib)?;
        if !has_xattrs(&rec) {
            return Ok(false);
        }
        let all = self.top.list_xattrs(dir).map_err(from_lib)?;
        Ok(all.iter().any(|x| x.name == IMPURE))
    }

    /// A name with an origin record was put in the top directory `dir`.
    pub(super) fn mark_impure(&mut self, dir: u32) -> Result<(), Errno> {
        if self.is_impure(dir)? {
            return Ok(());
        }
        self.top.set_xattr(dir, IMPURE, b"y").map_err(from_lib)
    }

    /// The top inode `t` was linked or moved into the directory `dir`.
    pub(super) fn placed(&mut self, t: u32, dir: u32) -> Result<(), Errno> {
        if self.origin_of(t)?.is_some() {
            self.mark_impure(dir)?;
        }
        Ok(())
    }
}
