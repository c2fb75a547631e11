//! The union engine's origin record (docs/union-ext2.md, "Origin
//! records"): the `trusted.union.origin` extended attribute a copied-up top
//! inode carries to name the lower object it came from, and the
//! `trusted.union.impure` mark on a top directory that may hold such
//! inodes. The library owns the bytes; the engine decides when to write
//! and trust them.
//!
//! Version 2 is written; version 1 records (from earlier engines) are
//! still read.

use crate::codec::le64;

/// The xattr naming the lower object a top inode was copied up from.
pub const ORIGIN: &str = "trusted.union.origin";
/// The xattr marking a top directory some of whose entries may carry an
/// origin record.
pub const IMPURE: &str = "trusted.union.impure";
/// The namespace both live in: the engine's own, never shown to users of
/// the union.
pub const PRIVATE_PREFIX: &str = "trusted.union.";

/// The first record version: the layer's identity is device-bound for
/// directory layers and objects on other devices have no record.
pub const VERSION_1: u8 = 1;
/// The encoded length of a version 1 record.
pub const V1_LEN: usize = 28;
/// The record version written.
pub const VERSION_2: u8 = 2;
/// The encoded length of a version 2 record.
pub const V2_LEN: usize = 36;

/// Version 2 kind codes (offsets 2 and 3).
const KIND_LAYER_FS: u8 = 0;
const KIND_IMAGE: u8 = 1;
const KIND_FSID: u8 = 2;
const KIND_DEV: u8 = 3;

/// Whether an extended attribute name is in the engine's private
/// namespace.
pub fn is_private(name: &str) -> bool {
    name.starts_with(PRIVATE_PREFIX)
}

/// A version 1 record: the lower layer (its index in the mount's list and
/// its identity) and the lower object's inode number in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OriginV1 {
    /// The lower layer's index in the mount's layer list (0 = uppermost).
    pub layer: u8,
    /// The layer's identity: an image layer's UUID, or a directory layer's
    /// root `st_dev` then `st_ino` (8 little-endian bytes each).
    pub identity: [u8; 16],
    /// The lower object's inode number in that layer.
    pub ino: u64,
}

impl OriginV1 {
    /// A directory layer's identity as version 1 records name it: its
    /// root's `st_dev` then `st_ino`, 8 little-endian bytes each.
    pub fn dir_identity(dev: u64, ino: u64) -> [u8; 16] {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&dev.to_le_bytes());
        id[8..].copy_from_slice(&ino.to_le_bytes());
        id
    }
}

/// How a mounted filesystem is named in a version 2 record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FsId {
    /// Its `statfs(2)` `f_fsid` (64 bits, first word low): derived from
    /// the filesystem's UUID by ext2/3/4, btrfs and others, so the same
    /// across reboots and device renumbering.
    Fsid(u64),
    /// Its device number (`st_dev`), for filesystems that report a zero
    /// `f_fsid`.
    Dev(u64),
}

/// A lower layer's identity in a version 2 record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LayerId {
    /// An ext2 image layer: its superblock UUID.
    Image([u8; 16]),
    /// A directory layer: the filesystem its root is on and the root's
    /// inode number there.
    Dir {
        /// The root's filesystem.
        fs: FsId,
        /// The root's inode number.
        root: u64,
    },
}

/// A version 2 record: the layer, the filesystem the object is on (other
/// than the layer's own for a filesystem mounted inside a directory layer)
/// and the object's inode number there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OriginV2 {
    /// The lower layer's index in the mount's layer list (0 = uppermost).
    pub layer: u8,
    /// The layer's identity.
    pub layer_id: LayerId,
    /// The object's filesystem; None for the layer's own (always for an
    /// image layer).
    pub fs: Option<FsId>,
    /// The object's inode number on that filesystem.
    pub ino: u64,
}

/// An origin record of either version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginRecord {
    /// Written by earlier engines; read only.
    V1(OriginV1),
    /// The current record.
    V2(OriginV2),
}

fn fs_kind(fs: &FsId) -> (u8, u64) {
    match *fs {
        FsId::Fsid(v) => (KIND_FSID, v),
        FsId::Dev(v) => (KIND_DEV, v),
    }
}

fn fs_of(kind: u8, v: u64) -> Option<FsId> {
    match kind {
        KIND_FSID => Some(FsId::Fsid(v)),
        KIND_DEV => Some(FsId::Dev(v)),
        _ => None,
    }
}

impl OriginV1 {
    /// Version, layer, two reserved zero bytes, identity, then the inode
    /// number little-endian.
    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(V1_LEN);
        v.push(VERSION_1);
        v.push(self.layer);
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(&self.identity);
        v.extend_from_slice(&self.ino.to_le_bytes());
        v
    }

    fn decode(v: &[u8]) -> Option<OriginV1> {
        if v.len() != V1_LEN || v.get(2..4) != Some(&[0, 0]) {
            return None;
        }
        Some(OriginV1 {
            layer: *v.get(1)?,
            identity: v.get(4..20)?.try_into().ok()?,
            ino: le64(v, 20),
        })
    }
}

impl OriginV2 {
    /// Version, layer, the layer identity's kind, the object
    /// filesystem's kind, the layer identity (16 bytes), the object's
    /// filesystem id, its inode number (8 bytes each, little-endian).
    fn encode(&self) -> Vec<u8> {
        let (lkind, lid) = match &self.layer_id {
            LayerId::Image(uuid) => (KIND_IMAGE, *uuid),
            LayerId::Dir { fs, root } => {
                let (k, v) = fs_kind(fs);
                let mut id = [0u8; 16];
                id[..8].copy_from_slice(&v.to_le_bytes());
                id[8..].copy_from_slice(&root.to_le_bytes());
                (k, id)
            }
        };
        let (okind, oid) = self.fs.as_ref().map_or((KIND_LAYER_FS, 0), fs_kind);
        let mut v = Vec::with_capacity(V2_LEN);
        v.extend_from_slice(&[VERSION_2, self.layer, lkind, okind]);
        v.extend_from_slice(&lid);
        v.extend_from_slice(&oid.to_le_bytes());
        v.extend_from_slice(&self.ino.to_le_bytes());
        v
    }

    fn decode(v: &[u8]) -> Option<OriginV2> {
        if v.len() != V2_LEN {
            return None;
        }
        let layer_id = match v[2] {
            KIND_IMAGE => LayerId::Image(v.get(4..20)?.try_into().ok()?),
            k => LayerId::Dir {
                fs: fs_of(k, le64(v, 4))?,
                root: le64(v, 12),
            },
        };
        let oid = le64(v, 20);
        let fs = match v[3] {
            KIND_LAYER_FS if oid == 0 => None,
            k => Some(fs_of(k, oid)?),
        };
        if fs.is_some() && matches!(layer_id, LayerId::Image(_)) {
            return None; // an image layer has no other filesystems
        }
        Some(OriginV2 {
            layer: v[1],
            layer_id,
            fs,
            ino: le64(v, 28),
        })
    }
}

impl OriginRecord {
    /// The record's bytes (version 1 records only as read).
    pub fn encode(&self) -> Vec<u8> {
        match self {
            OriginRecord::V1(r) => r.encode(),
            OriginRecord::V2(r) => r.encode(),
        }
    }

    /// The record in `v`; None for anything but a version 1 or 2 record
    /// of its length with its kinds known and reserved bytes zero (such a
    /// value is ignored, as if absent).
    pub fn decode(v: &[u8]) -> Option<OriginRecord> {
        match *v.first()? {
            VERSION_1 => OriginV1::decode(v).map(OriginRecord::V1),
            VERSION_2 => OriginV2::decode(v).map(OriginRecord::V2),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_layer_v1_identity_is_dev_then_ino_little_endian() {
        let id = OriginV1::dir_identity(0x0102, 0x0a0b_0c0d);
        assert_eq!(id[..8], [2, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(id[8..], [0x0d, 0x0c, 0x0b, 0x0a, 0, 0, 0, 0]);
    }
    use proptest::prelude::*;

    fn fs_id() -> impl Strategy<Value = FsId> {
        prop_oneof![
            any::<u64>().prop_map(FsId::Fsid),
            any::<u64>().prop_map(FsId::Dev)
        ]
    }

    fn v2() -> impl Strategy<Value = OriginV2> {
        let image = (any::<[u8; 16]>(), Just(None)).prop_map(|(u, f)| (LayerId::Image(u), f));
        let dir = (fs_id(), any::<u64>(), proptest::option::of(fs_id()))
            .prop_map(|(fs, root, f)| (LayerId::Dir { fs, root }, f));
        (any::<u8>(), prop_oneof![image, dir], any::<u64>()).prop_map(|(layer, (id, fs), ino)| {
            OriginV2 {
                layer,
                layer_id: id,
                fs,
                ino,
            }
        })
    }

    proptest! {
        #[test]
        fn every_version_1_record_survives_its_encoding(layer: u8, identity: [u8; 16], ino: u64) {
            let r = OriginRecord::V1(OriginV1 { layer, identity, ino });
            let v = r.encode();
            prop_assert_eq!(v.len(), V1_LEN);
            prop_assert_eq!(OriginRecord::decode(&v), Some(r));
        }

        #[test]
        fn every_version_2_record_survives_its_encoding(r in v2()) {
            let v = OriginRecord::V2(r).encode();
            prop_assert_eq!(v.len(), V2_LEN);
            prop_assert_eq!(OriginRecord::decode(&v), Some(OriginRecord::V2(r)));
        }

        #[test]
        fn any_bytes_decode_without_panic(v in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Some(r) = OriginRecord::decode(&v) {
                prop_assert_eq!(r.encode(), v);
            }
        }

        #[test]
        fn version_2_bytes_decode_to_what_they_encode(
            mut v in proptest::collection::vec(any::<u8>(), V2_LEN),
            kinds in (0u8..5, 0u8..5),
        ) {
            // Mostly valid kinds, so that the round trip is exercised.
            v[0] = VERSION_2;
            (v[2], v[3]) = kinds;
            if let Some(r) = OriginRecord::decode(&v) {
                prop_assert_eq!(r.encode(), v);
            }
        }
    }

    #[test]
    fn other_versions_lengths_kinds_and_reserved_bytes_are_ignored() {
        let v = OriginRecord::V1(OriginV1 {
            layer: 3,
            identity: [7; 16],
            ino: 0x1234_5678_9abc,
        })
        .encode();
        let mut bad = v.clone();
        bad[0] = 3;
        assert_eq!(OriginRecord::decode(&bad), None);
        let mut bad = v.clone();
        bad[2] = 1;
        assert_eq!(OriginRecord::decode(&bad), None);
        assert_eq!(OriginRecord::decode(&v[..27]), None);
        let v = OriginRecord::V2(OriginV2 {
            layer: 1,
            layer_id: LayerId::Dir {
                fs: FsId::Fsid(9),
                root: 2,
            },
            fs: Some(FsId::Dev(0x801)),
            ino: 1 << 60,
        })
        .encode();
        assert_eq!(v.len(), V2_LEN);
        for (at, val) in [(2, 0), (2, 4), (3, 1), (3, 4)] {
            let mut bad = v.clone();
            bad[at] = val;
            assert_eq!(OriginRecord::decode(&bad), None, "kind {val} at {at}");
        }
        // The layer's own filesystem has no id; an image layer no other.
        let mut bad = v.clone();
        bad[3] = KIND_LAYER_FS;
        assert_eq!(OriginRecord::decode(&bad), None);
        let mut bad = v.clone();
        bad[2] = KIND_IMAGE;
        assert_eq!(OriginRecord::decode(&bad), None);
        assert_eq!(OriginRecord::decode(&v[..35]), None);
        assert!(is_private(ORIGIN) && is_private(IMPURE) && !is_private("trusted.x"));
    }
}
