//! The kernel's view of the union's objects: node numbers by identity
//! and the names each node is known by.
//!
//! A node number is the object's inode number, so it is the same through
//! every name and across remounts: a top object's ext2 inode number (the
//! root is FUSE's 1), a lower object's (layer, inode) in a range of its
//! own (as overlayfs' xino does), kept by its top copy (origin.rs). Hard
//! links in the top layer are one node. The table holds what the kernel holds: a node counts the entries
//! the kernel was given and goes at `forget`.

use std::collections::{HashMap, HashSet};

use ext2fs::inode::ROOT_INO;
use ext2fs::union_origin::FsId;

/// FUSE's root node.
pub const ROOT: u64 = 1;
/// Lower objects: this bit, the layer in the next 8 bits, the inode in
/// the low 55.
const LOWER: u64 = 1 << 63;
const LAYER_SHIFT: u32 = 55;
const MAX_LAYERS: usize = 256;
/// Lower objects whose number does not fit (on another filesystem inside
/// a directory layer, or with an inode number past 2^55) are numbered in
/// [SPARE, LOWER) by a hash of (layer, filesystem, inode), the filesystem
/// named as origin records name it (ext2fs::union_origin::FsId), so that
/// they keep their numbers across remounts and reboots and their copies
/// can keep them; a number taken by another object in this mount moves to
/// the next free one.
const SPARE: u64 = 1 << 62;

/// A fixed mix of (layer, filesystem, inode) (splitmix64 steps): the same
/// in every mount and build. `fs` None: the layer's own filesystem.
fn spare_hash(layer: usize, fs: Option<FsId>, ino: u64) -> u64 {
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let fs = match fs {
        None => 0,
        Some(FsId::Fsid(v)) => mix(v ^ 1),
        Some(FsId::Dev(v)) => mix(v ^ 2),
    };
    let h = mix(mix(mix(layer as u64) ^ fs) ^ ino);
    SPARE | (h & (SPARE - 1))
}

/// The number of `layer`'s inode `ino` in the lower range (None when it
/// does not fit: a spare number then).
pub fn lower_number(layer: usize, ino: u64) -> Option<u64> {
    (layer < MAX_LAYERS && ino < 1 << LAYER_SHIFT)
        .then_some(LOWER | (layer as u64) << LAYER_SHIFT | ino)
}

/// The number an origin record naming `layer`'s inode `ino` on `fs`
/// (None: the layer's own filesystem) gives its copy: the number the
/// lower object has unless another object took it first.
pub fn record_number(layer: usize, fs: Option<FsId>, ino: u64) -> Option<u64> {
    if layer >= MAX_LAYERS {
        return None;
    }
    match fs {
        None => lower_number(layer, ino).or(Some(spare_hash(layer, None, ino))),
        Some(_) => Some(spare_hash(layer, fs, ino)),
    }
}

/// The node number of a top inode without an origin record.
pub fn top_node(ino: u32) -> u64 {
    if ino == ROOT_INO {
        ROOT
    } else {
        ino as u64
    }
}

#[derive(Default)]
pub struct Nodes {
    by_path: HashMap<Vec<u8>, u64>,
    /// The names of each node (a top file's hard links).
    names: HashMap<u64, Vec<Vec<u8>>>,
    /// How many entries for each node the kernel holds.
    lookups: HashMap<u64, u64>,
    spare: HashMap<(usize, u64, u64), u64>,
    /// The spare numbers given out.
    spare_used: HashSet<u64>,
    /// Lower nodes copied up under another number (no origin record):
    /// the kernel may still ask by the lower node's number until it looks
    /// the name up again.
    copied: HashMap<u64, u64>,
    /// Who holds each lower-range number the kernel was given, and each
    /// (lower- or spare-range) number a top inode's origin record gave:
    /// one object only, also when lower layers changed offline and a
    /// record names a reused lower inode.
    claims: HashMap<u64, Claim>,
}

/// The holder of a lower-range number.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Claim {
    /// The lower object itself.
    Lower,
    /// A top inode by its origin record.
    Top(u32),
}

impl Nodes {
    pub fn new() -> Self {
        let mut n = Nodes::default();
        n.bind(b"", ROOT);
        n
    }

    /// The node number of a lower object: `layer`'s inode `ino` on device
    /// `dev`, a filesystem `fs` (None: the layer's own).
    pub fn lower_node(&mut self, layer: usize, dev: u64, fs: Option<FsId>, ino: u64) -> u64 {
        if let Some(n) = lower_number(layer, ino).filter(|_| fs.is_none()) {
            if !self.held_by_top(n) {
                return n;
            }
            // A top inode's record holds it: the lower inode was reused.
        }
        if let Some(n) = self.spare.get(&(layer, dev, ino)) {
            return *n;
        }
        let mut n = spare_hash(layer, fs, ino);
        while self.spare_used.contains(&n) || self.held_by_top(n) {
            n = SPARE | (n.wrapping_add(1) & (SPARE - 1));
        }
        self.spare_used.insert(n);
        self.spare.insert((layer, dev, ino), n);
        n
    }

    fn held_by_top(&self, n: u64) -> bool {
        matches!(self.claims.get(&n), Some(Claim::Top(_)))
    }

    /// `path` names `node` now.
    pub fn bind(&mut self, path: &[u8], node: u64) {
        if let Some(old) = self.by_path.insert(path.to_vec(), node) {
            if old == node {
                return;
            }
            self.drop_name(old, path);
        }
        self.names.entry(node).or_default().push(path.to_vec());
    }

    fn drop_name(&mut self, node: u64, path: &[u8]) {
        if let Some(v) = self.names.get_mut(&node) {
            v.retain(|p| p != path);
        }
    }

    /// A name `node` is known by (any of a hard-linked file's).
    pub fn path_of(&self, node: u64) -> Option<&[u8]> {
        match self.names.get(&node).and_then(|v| v.first()) {
            Some(p) => Some(p.as_slice()),
            None => self.path_of(*self.copied.get(&node)?),
        }
    }

    /// The lower node `lower` was copied up as the top inode `ino`,
    /// numbered `top` (the same number when its copy has an origin record).
    pub fn copied_up(&mut self, lower: u64, top: u64, ino: u32) {
        if lower != top {
            self.copied.insert(lower, top);
        } else {
            self.claims.insert(lower, Claim::Top(ino));
        }
    }

    /// The node number of the top inode `t` whose origin record gives
    /// `origin`: that number, unless another object holds it already.
    pub fn top_number(&mut self, t: u32, origin: Option<u64>) -> u64 {
        let Some(n) = origin else {
            return top_node(t);
        };
        match self.claims.get(&n) {
            Some(Claim::Top(o)) if *o == t => n,
            Some(_) => top_node(t),
            // A spare number a lower object got in this mount.
            None if self.spare_used.contains(&n) => top_node(t),
            None => {
                self.claims.insert(n, Claim::Top(t));
                n
            }
        }
    }

    /// The top inode `ino` was freed: its number may come back for
    /// another object.
    pub fn top_freed(&mut self, ino: u32) {
        let top = top_node(ino);
        self.copied.retain(|_, t| *t != top);
        self.claims.retain(|_, c| *c != Claim::Top(ino));
    }

    /// The kernel was given an entry for `node`.
    pub fn looked_up(&mut self, node: u64) {
        *self.lookups.entry(node).or_default() += 1;
        if node >= LOWER {
            // Not a top inode's (those claim at top_number): the lower
            // object's own, held while the kernel holds it.
            self.claims.entry(node).or_insert(Claim::Lower);
        }
    }

    /// The kernel dropped `n` entries for `node`; at none, the node goes.
    pub fn forget(&mut self, node: u64, n: u64) {
        if node == ROOT {
            return;
        }
        let Some(count) = self.lookups.get_mut(&node) else {
            return;
        };
        *count = count.saturating_sub(n);
        if *count > 0 {
            return;
        }
        self.lookups.remove(&node);
        self.copied.remove(&node);
        if self.claims.get(&node) == Some(&Claim::Lower) {
            self.claims.remove(&node);
        }
        for p in self.names.remove(&node).unwrap_or_default() {
            if self.by_path.get(&p) == Some(&node) {
                self.by_path.remove(&p);
            }
        }
    }

    pub fn under(path: &[u8], key: &[u8]) -> bool {
        key == path || (key.len() > path.len() && key.starts_with(path) && key[path.len()] == b'/')
    }

    /// The paths at and below `path` (only `path` itself for a
    /// non-directory, without a walk of the table).
    fn at_and_below(&self, path: &[u8], dir: bool) -> Vec<Vec<u8>> {
        if !dir {
            return vec![path.to_vec()];
        }
        self.by_path
            .keys()
            .filter(|k| Self::under(path, k))
            .cloned()
            .collect()
    }

    /// `path` (and what is below it) no longer names anything: its nodes
    /// keep their other names; a node left with none answers ESTALE.
    pub fn unbind(&mut self, path: &[u8], dir: bool) {
        for k in self.at_and_below(path, dir) {
            if let Some(node) = self.by_path.remove(&k) {
                self.drop_name(node, &k);
            }
        }
    }

    /// `from` (and what is below it) moved to `to`.
    pub fn rename(&mut self, from: &[u8], to: &[u8], dir: bool, to_was_dir: bool) {
        self.unbind(to, to_was_dir);
        for k in self.at_and_below(from, dir) {
            if let Some(node) = self.by_path.remove(&k) {
                self.drop_name(node, &k);
                let mut n = to.to_vec();
                n.extend_from_slice(&k[from.len()..]);
                self.bind(&n, node);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hard_links_share_a_node_and_forget_drops_it() {
        let mut n = Nodes::new();
        n.bind(b"a", 12);
        n.bind(b"b", 12);
        n.looked_up(12);
        n.looked_up(12);
        n.unbind(b"a", false);
        assert_eq!(n.path_of(12), Some(&b"b"[..]));
        n.rename(b"b", b"d/c", false, false);
        assert_eq!(n.path_of(12), Some(&b"d/c"[..]));
        n.forget(12, 1);
        assert!(n.path_of(12).is_some());
        let lower = n.lower_node(0, 1, None, 40);
        n.bind(b"x", lower);
        n.bind(b"x", lower);
        n.copied_up(lower, 13, 13);
        n.unbind(b"x", false);
        n.bind(b"x", 13);
        assert_eq!(n.path_of(lower), Some(&b"x"[..]));
        n.top_freed(13);
        assert_eq!(n.path_of(lower), None);
        n.forget(12, 1);
        assert!(n.path_of(12).is_none());
        assert_eq!(n.path_of(ROOT), Some(&b""[..]));
    }

    #[test]
    fn one_object_holds_a_lower_number() {
        let mut n = Nodes::new();
        let l = n.lower_node(0, 1, None, 40);
        // A record naming the lower inode the kernel holds as a lower
        // object (reused offline) does not take its number.
        n.looked_up(l);
        assert_eq!(n.top_number(20, Some(l)), 20);
        // Copied up in this mount: the copy holds it from then on.
        n.copied_up(l, l, 21);
        assert_eq!(n.top_number(21, Some(l)), l);
        // Held by a record first: a lower object with that inode gets a
        // spare number.
        let m = lower_number(0, 41).unwrap();
        assert_eq!(n.top_number(22, Some(m)), m);
        assert_eq!(n.top_number(22, Some(m)), m);
        assert_ne!(n.lower_node(0, 1, None, 41), m);
        n.top_freed(22);
        assert_eq!(n.lower_node(0, 1, None, 41), m);
    }

    #[test]
    fn lower_numbers_are_stable_and_disjoint() {
        let mut n = Nodes::new();
        let a = n.lower_node(1, 5, None, 77);
        assert_eq!(a, n.lower_node(1, 5, None, 77));
        assert_ne!(a, n.lower_node(0, 5, None, 77));
        let other = Some(FsId::Fsid(0xabcd));
        let s = n.lower_node(1, 6, other, 77);
        assert_eq!(s, spare_hash(1, other, 77));
        assert_eq!(s, n.lower_node(1, 6, other, 77));
        assert!((SPARE..LOWER).contains(&s));
        // The same number in another mount, whatever was seen before, and
        // whatever device number the filesystem has now.
        let mut m = Nodes::new();
        m.lower_node(2, 9, None, 1);
        assert_eq!(m.lower_node(1, 7, other, 77), s);
        assert!(a > u32::MAX as u64 && s > u32::MAX as u64);
        // Two filesystems with one id (cloned images) never share numbers.
        assert_ne!(m.lower_node(1, 8, other, 77), s);
        // Inode numbers past the lower range: spare numbers too.
        let huge = 1 << 60;
        let h = m.lower_node(0, 9, None, huge);
        assert_eq!(Some(h), record_number(0, None, huge));
    }

    #[test]
    fn records_give_spare_numbers_to_one_object() {
        let fs = Some(FsId::Dev(0x801));
        let r = record_number(3, fs, 12).unwrap();
        // The copy read first holds the number; the lower object it names
        // (changed offline) gets another.
        let mut n = Nodes::new();
        assert_eq!(n.top_number(30, Some(r)), r);
        assert_ne!(n.lower_node(3, 0x801, fs, 12), r);
        // The lower object met first keeps it; a copy not made in this
        // mount shows its top number.
        let mut n = Nodes::new();
        assert_eq!(n.lower_node(3, 0x801, fs, 12), r);
        assert_eq!(n.top_number(30, Some(r)), 30);
        // Copied up in this mount: the copy holds it.
        n.copied_up(r, r, 31);
        assert_eq!(n.top_number(31, Some(r)), r);
    }
}
