//! Copied-up objects keep their inode number (union-ext2.md, "Origin
//! records"). A lower object is numbered by its (layer, filesystem,
//! inode); when it is copied up, its top inode gets a
//! `trusted.union.origin` record naming them (the layer and filesystem by
//! ids that outlast device numbers where the filesystem allows), and the object is numbered by the record, through
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

pub use ext2fs::union_origin::{is_private, IMPURE, ORIGIN};
use ext2fs::union_origin::{LayerId, OriginRecord, OriginV1, OriginV2};

/// What identifies a lower layer across mounts: for records written now
/// (version 2) and as version 1 records named it (an image layer's UUID,
/// a directory layer's root device and inode numbers).
pub struct LayerIds {
    pub v2: LayerId,
    pub v1: [u8; 16],
}

pub fn layer_identity(layer: &Layer) -> Result<LayerIds, Errno> {
    let v1 = match (layer, layer.root()?) {
        (Layer::Image(fs), _) => fs.sb().s_uuid,
        (Layer::Dir(_), LObj::Path(_, root)) => OriginV1::dir_identity(root.dev, root.ino),
        (Layer::Dir(_), LObj::Ino(_)) => return Err(libc::EIO),
    };
    Ok(LayerIds {
        v2: layer.identity()?,
        v1,
    })
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
    /// The record for copying up `obj` of layer `li`, numbered `lower`;
    /// None when the record would not give the copy that number (another
    /// object took the number it names in this mount) or the top image
    /// has no xattrs.
    pub(super) fn origin_record(&self, li: usize, obj: &LObj, lower: u64) -> Option<Xattr> {
        if !self.top.sb().has_compat(ext2fs::features::compat::EXT_ATTR) {
            return None;
        }
        let ino = match obj {
            LObj::Path(_, id) => id.ino,
            LObj::Ino(n) => *n as u64,
        };
        let r = OriginRecord::V2(OriginV2 {
            layer: u8::try_from(li).ok()?,
            layer_id: self.layer_ids.get(li)?.v2,
            fs: self.layers[li].fs_of(obj),
            ino,
        });
        (self.record_number(&r) == Some(lower)).then(|| Xattr {
            name: ORIGIN.to_string(),
            value: r.encode(),
        })
    }

    /// The number a record gives its copy when it names a layer of this
    /// mount as it was.
    fn record_number(&self, r: &OriginRecord) -> Option<u64> {
        match r {
            OriginRecord::V1(r) => {
                let li = r.layer as usize;
                (self.layer_ids.get(li)?.v1 == r.identity)
                    .then(|| nodes::lower_number(li, r.ino))
                    .flatten()
            }
            OriginRecord::V2(r) => {
                let li = r.layer as usize;
                (self.layer_ids.get(li)?.v2 == r.layer_id)
                    .then(|| nodes::record_number(li, r.fs, r.ino))
                    .flatten()
            }
        }
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
        Ok(OriginRecord::decode(&x.value).and_then(|r| self.record_number(&r)))
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
