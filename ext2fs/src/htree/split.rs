//! Growing an htree by one block when a name does not fit: a full leaf
//! split in two by hash (dx_split_leaf), a full index node split in two,
//! or the root's entries pushed down into a new node (dx_grow_tree).

use super::{node_limit, DxEntry, DxIndex, DxRoot, MAX_INDIRECT_LEVELS};
use crate::dirent::{self, DirEntry};
use crate::hash::dirhash;
use crate::Result;

/// A leaf split in two: `lower` stays in the old block, `upper` goes to
/// a new one whose index entry gets `hash`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeafSplit {
    /// The old block's new contents (the lower hashes).
    pub lower: Vec<u8>,
    /// The new block's contents (the upper hashes).
    pub upper: Vec<u8>,
    /// The new block's index hash: its first hash, with the collision
    /// bit when the lower half ends with the same hash.
    pub hash: u32,
}

/// Entries packed at the start of a block, the last one stretched to its
/// end; an empty list is an empty block.
pub fn pack_leaf(mut entries: Vec<DirEntry>, block_size: usize) -> Result<Vec<u8>> {
    if entries.is_empty() {
        return Ok(dirent::empty_block(block_size));
    }
    for e in &mut entries {
        e.rec_len = e.min_rec_len() as u32;
    }
    let used: u32 = entries.iter().map(|e| e.rec_len).sum();
    if let Some(last) = entries.last_mut() {
        last.rec_len += (block_size as u32).saturating_sub(used);
    }
    dirent::write_block(&entries, block_size)
}

/// Splits a full leaf: the entries in use (`keep`), sorted by hash, the
/// upper half by size moved out. None when fewer than two entries are in
/// use (nothing to split; the block cannot really be full).
pub fn split_leaf<K>(
    entries: Vec<DirEntry>,
    keep: K,
    version: u8,
    seed: &[u32; 4],
    block_size: usize,
) -> Result<Option<LeafSplit>>
where
    K: Fn(&DirEntry) -> bool,
{
    let mut hashed = Vec::with_capacity(entries.len());
    for e in entries
        .into_iter()
        .filter(|e| keep(e) && !e.name.is_empty())
    {
        let (h, _) = dirhash(version, &e.name, seed)?;
        hashed.push((h, e));
    }
    if hashed.len() < 2 {
        return Ok(None);
    }
    hashed.sort_by_key(|(h, _)| *h);
    // From the top, take entries while the moved part stays under half
    // the block; the lower part keeps at least one entry.
    let mut moved = 0;
    let mut first_moved = hashed.len();
    while first_moved > 1 {
        let size = hashed[first_moved - 1].1.min_rec_len();
        if moved + size / 2 > block_size / 2 {
            break;
        }
        moved += size;
        first_moved -= 1;
    }
    let first_moved = first_moved.min(hashed.len() - 1);
    let continued = hashed[first_moved - 1].0 == hashed[first_moved].0;
    let hash = hashed[first_moved].0 | continued as u32;
    let upper: Vec<DirEntry> = hashed.drain(first_moved..).map(|(_, e)| e).collect();
    let lower: Vec<DirEntry> = hashed.into_iter().map(|(_, e)| e).collect();
    Ok(Some(LeafSplit {
        lower: pack_leaf(lower, block_size)?,
        upper: pack_leaf(upper, block_size)?,
        hash,
    }))
}

impl DxIndex {
    /// No room for another entry.
    pub fn is_full(&self) -> bool {
        self.count >= self.limit
    }

    /// Adds an entry right after entry `at` (the caller checked `is_full`).
    pub fn insert_after(&mut self, at: usize, hash: u32, block: u32) {
        self.entries.insert(at + 1, DxEntry { hash, block });
        self.count += 1;
    }

    /// Splits a full node in two: keeps the lower half and returns the
    /// upper half with the hash its parent's new entry gets.
    pub fn split_half(&mut self) -> (u32, DxIndex) {
        let keep = self.entries.len() / 2;
        let mut upper = self.entries.split_off(keep);
        let hash = upper[0].hash;
        upper[0].hash = 0;
        self.count = self.entries.len() as u16;
        let upper = DxIndex {
            limit: self.limit,
            count: upper.len() as u16,
            entries: upper,
        };
        (hash, upper)
    }
}

impl DxRoot {
    /// Whether the tree may grow one index level deeper.
    pub fn can_deepen(&self) -> bool {
        self.info.indirect_levels < MAX_INDIRECT_LEVELS
    }

    /// The root's entries as an index node (to move them one level down).
    pub fn entries_as_node(&self, block_size: usize) -> DxIndex {
        DxIndex {
            limit: node_limit(block_size),
            count: self.index.count,
            entries: self.index.entries.clone(),
        }
    }

    /// Points the root at `node_block` alone (which holds its former
    /// entries, see `entries_as_node`), one level deeper.
    pub fn deepen(&mut self, node_block: u32) {
        self.index.entries = vec![DxEntry {
            hash: 0,
            block: node_block,
        }];
        self.index.count = 1;
        self.info.indirect_levels += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: [u32; 4] = [1, 2, 3, 4];

    /// Names added until a block of `bs` bytes is full.
    fn full_leaf(bs: usize, stem: &str) -> Vec<DirEntry> {
        let mut es = Vec::new();
        let mut used = 0;
        for i in 0.. {
            let e = DirEntry::new(100 + i, 1, format!("{stem}-{i}").as_bytes());
            if used + e.min_rec_len() > bs {
                break;
            }
            used += e.min_rec_len();
            es.push(e);
        }
        es
    }

    #[test]
    fn leaf_split_by_hash_keeps_every_name() {
        for (bs, version) in [(1024, 1), (4096, 2), (1024, 0), (4096, 4)] {
            let es = full_leaf(bs, "entry-name");
            let split = split_leaf(es.clone(), |e| e.inode != 0, version, &SEED, bs)
                .unwrap()
                .unwrap();
            let lower = dirent::parse_block(&split.lower, 2, 0).unwrap();
            let upper = dirent::parse_block(&split.upper, 2, 1).unwrap();
            assert_eq!(lower.len() + upper.len(), es.len());
            let h = |e: &DirEntry| dirhash(version, &e.name, &SEED).unwrap().0;
            let bound = split.hash & !1;
            assert!(upper.iter().all(|e| h(e) >= bound));
            if split.hash & 1 == 0 {
                assert!(lower.iter().all(|e| h(e) < bound));
            } else {
                assert!(lower.iter().all(|e| h(e) <= bound));
            }
            // Both halves have room for the longest name again.
            for b in [&split.lower, &split.upper] {
                let used: usize = dirent::parse_block(b, 2, 0)
                    .unwrap()
                    .iter()
                    .map(|e| e.min_rec_len())
                    .sum();
                assert!(bs - used >= dirent::rec_len_for(255), "{bs}: {used}");
            }
        }
    }

    #[test]
    fn nothing_to_split() {
        let one = vec![DirEntry::new(5, 1, b"only")];
        assert_eq!(split_leaf(one, |_| true, 1, &SEED, 1024).unwrap(), None);
    }

    #[test]
    fn node_split_and_deepen() {
        let mut idx = DxIndex {
            limit: 4,
            count: 4,
            entries: (0..4)
                .map(|i| DxEntry {
                    hash: i * 0x10,
                    block: i + 1,
                })
                .collect(),
        };
        assert!(idx.is_full());
        let (hash, upper) = idx.split_half();
        assert_eq!(hash, 0x20);
        assert_eq!((idx.count, upper.count), (2, 2));
        assert_eq!(upper.entries[0], DxEntry { hash: 0, block: 3 });
        idx.insert_after(0, 0x08, 9);
        assert_eq!(
            idx.entries[1],
            DxEntry {
                hash: 0x08,
                block: 9
            }
        );
        assert_eq!(idx.count, 3);
    }
}
