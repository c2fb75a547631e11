//! The union engine's origin record (docs/union-ext2.md, "Origin
//! records"): the `trusted.union.origin` extended attribute a copied-up top
//! inode carries to name the lower object it came from, and the
//! `trusted.union.impure` mark on a top directory that may hold such
//! inodes. The library owns the bytes; the engine decides when to write
//! and trust them.

use crate::codec::le64;

/// The xattr naming the lower object a top inode was copied up from.
pub const ORIGIN: &str = "trusted.union.origin";
/// The xattr marking a top directory some of whose entries may carry an
/// origin record.
pub const IMPURE: &str = "trusted.union.impure";
/// The namespace both live in: the engine's own, never shown to users of
/// the union.
pub const PRIVATE_PREFIX: &str = "trusted.union.";

/// The only record version written and read.
pub const VERSION: u8 = 1;
/// The encoded length of a version 1 record.
pub const RECORD_LEN: usize = 28;

/// Whether an extended attribute name is in the engine's private
/// namespace.
pub fn is_private(name: &str) -> bool {
    name.starts_with(PRIVATE_PREFIX)
}

/// An origin record: the lower layer (its index in the mount's list and
/// its identity) and the lower object's inode number in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OriginRecord {
    /// The lower layer's index in the mount's layer list (0 = uppermost).
    pub layer: u8,
    /// The layer's identity: an image layer's UUID, or a directory layer's
    /// root `st_dev` then `st_ino` (8 little-endian bytes each).
    pub identity: [u8; 16],
    /// The lower object's inode number in that layer.
    pub ino: u64,
}

impl OriginRecord {
    /// The record's bytes: version, layer, two reserved zero bytes,
    /// identity, then the inode number little-endian.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(RECORD_LEN);
        v.push(VERSION);
        v.push(self.layer);
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(&self.identity);
        v.extend_from_slice(&self.ino.to_le_bytes());
        v
    }

    /// The record in `v`; None for anything but a version 1 record of the
    /// right length with its reserved bytes zero (such a value is ignored,
    /// as if absent).
    pub fn decode(v: &[u8]) -> Option<OriginRecord> {
        if v.len() != RECORD_LEN || v.first() != Some(&VERSION) || v.get(2..4) != Some(&[0, 0]) {
            return None;
        }
        Some(OriginRecord {
            layer: *v.get(1)?,
            identity: v.get(4..20)?.try_into().ok()?,
            ino: le64(v, 20),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn every_record_survives_its_encoding(layer: u8, identity: [u8; 16], ino: u64) {
            let r = OriginRecord { layer, identity, ino };
            let v = r.encode();
            prop_assert_eq!(v.len(), RECORD_LEN);
            prop_assert_eq!(OriginRecord::decode(&v), Some(r));
        }

        #[test]
        fn any_bytes_decode_without_panic(v in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Some(r) = OriginRecord::decode(&v) {
                prop_assert_eq!(r.encode(), v);
            }
        }
    }

    #[test]
    fn other_versions_lengths_and_reserved_bytes_are_ignored() {
        let v = OriginRecord {
            layer: 3,
            identity: [7; 16],
            ino: 0x1234_5678_9abc,
        }
        .encode();
        let mut bad = v.clone();
        bad[0] = 2;
        assert_eq!(OriginRecord::decode(&bad), None);
        let mut bad = v.clone();
        bad[2] = 1;
        assert_eq!(OriginRecord::decode(&bad), None);
        assert_eq!(OriginRecord::decode(&v[..27]), None);
        assert!(is_private(ORIGIN) && is_private(IMPURE) && !is_private("trusted.x"));
    }
}
