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

/// The record of the lower object a top inode was copied up from.
pub const ORIGIN: &str = "trusted.union.origin";
/// On a top directory: some of its entries may carry an origin record.
pub const IMPURE: &str = "trusted.union.impure";
/// The namespace of both: not shown, set or removed through the union.
const PRIVATE: &str = "trusted.union.";

const VERSION: u8 = 1;
const RECORD_LEN: usize = 28;

/// Whether an extended attribute is the engine's own.
pub fn is_private(name: &str) -> bool {
    name.starts_with(PRIVATE)
}

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

/// An origin record: the lower layer (its index in the mount's list and
/// its identity) and the lower object's inode number in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub layer: u8,
    pub identity: [u8; 16],
    pub ino: u64,
}

impl Record {
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(RECORD_LEN);
        v.push(VERSION);
        v.push(self.layer);
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(&self.identity);
        v.extend_from_slice(&self.ino.to_le_bytes());
        v
    }

    /// None for anything but a version 1 record of the right length with
    /// its reserved bytes zero (ignored, as if absent).
    pub fn decode(v: &[u8]) -> Option<Record> {
        if v.len() != RECORD_LEN || v[0] != VERSION || v[2..4] != [0, 0] {
            return None;
        }
        Some(Record {
            layer: v[1],
            identity: v[4..20].try_into().ok()?,
            ino: u64::from_le_bytes(v[20..28].try_into().ok()?),
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_survives_its_encoding_and_bad_ones_are_ignored() {
        let r = Record {
            layer: 3,
            identity: [7; 16],
            ino: 0x1234_5678_9abc,
        };
        let v = r.encode();
        assert_eq!(v.len(), RECORD_LEN);
        assert_eq!(Record::decode(&v), Some(r));
        let mut bad = v.clone();
        bad[0] = 2;
        assert_eq!(Record::decode(&bad), None);
        let mut bad = v.clone();
        bad[2] = 1;
        assert_eq!(Record::decode(&bad), None);
        assert_eq!(Record::decode(&v[..27]), None);
        assert!(is_private(ORIGIN) && is_private(IMPURE) && !is_private("trusted.x"));
    }
}
