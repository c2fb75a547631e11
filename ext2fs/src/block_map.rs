//! The ext2 block map: i_block[0..12] direct, [12] single, [13] double,
//! [14] triple indirect. A zero pointer is a hole (or, for an indirect
//! slot, a hole of the whole range it would cover).

use crate::inode::{DIND_BLOCK, IND_BLOCK, NDIR_BLOCKS, N_BLOCKS, TIND_BLOCK};
use crate::{Error, Result};

/// What a block of the map is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    /// A data block at this logical block number.
    Data(u64),
    /// An indirect block; `level` 1 = single, 2 = double, 3 = triple;
    /// `first` = the first logical block it covers.
    Indirect { level: u8, first: u64 },
}

/// Largest logical block + 1 reachable through the map.
pub fn max_logical_blocks(block_size: u32) -> u64 {
    let p = (block_size / 4) as u64;
    NDIR_BLOCKS as u64 + p + p * p + p * p * p
}

/// Walks every non-zero pointer of the map, metadata blocks first at each
/// level (the order e2fsck reports them in), calling `visit(kind, block)`.
/// `read` fetches an indirect block's contents. A `visit` returning false
/// stops the walk. Pointers are passed as found, unvalidated: the caller
/// decides whether a block number is legal; an indirect block that `read`
/// cannot fetch is an error.
pub fn walk<R, V>(
    i_block: &[u32; N_BLOCKS],
    block_size: u32,
    mut read: R,
    mut visit: V,
) -> Result<()>
where
    R: FnMut(u32) -> Result<Vec<u8>>,
    V: FnMut(BlockKind, u32) -> bool,
{
    for (i, &b) in i_block.iter().enumerate().take(NDIR_BLOCKS) {
        if b != 0 && !visit(BlockKind::Data(i as u64), b) {
            return Ok(());
        }
    }
    let p = (block_size / 4) as u64;
    let mut first = NDIR_BLOCKS as u64;
    let mut seen = std::collections::HashSet::new();
    for (slot, level) in [(IND_BLOCK, 1u8), (DIND_BLOCK, 2), (TIND_BLOCK, 3)] {
        let span = p.pow(level as u32);
        if i_block[slot] != 0
            && !walk_indirect(
                i_block[slot],
                level,
                first,
                p,
                &mut read,
                &mut visit,
                &mut seen,
            )?
        {
            return Ok(());
        }
        first += span;
    }
    Ok(())
}

fn walk_indirect<R, V>(
    block: u32,
    level: u8,
    first: u64,
    per: u64,
    read: &mut R,
    visit: &mut V,
    seen: &mut std::collections::HashSet<u32>,
) -> Result<bool>
where
    R: FnMut(u32) -> Result<Vec<u8>>,
    V: FnMut(BlockKind, u32) -> bool,
{
    if !visit(BlockKind::Indirect { level, first }, block) {
        return Ok(false);
    }
    // A map that lists an indirect block twice loops (or was made to cost
    // pointers^3 reads): corrupt, and never followed.
    if !seen.insert(block) {
        return Err(crate::Error::BlockMapLoop(block));
    }
    let data = read(block)?;
    let span = per.pow(level as u32 - 1);
    for (i, chunk) in data.chunks_exact(4).enumerate().take(per as usize) {
        let b = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        if b == 0 {
            continue;
        }
        let start = first + i as u64 * span;
        let go = if level == 1 {
            visit(BlockKind::Data(start), b)
        } else {
            walk_indirect(b, level - 1, start, per, read, visit, seen)?
        };
        if !go {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The path through the map to logical block `lblk`: the i_block slot and
/// the index in each indirect level.
pub fn path_to(lblk: u64, block_size: u32) -> Result<(usize, Vec<usize>)> {
    let p = (block_size / 4) as u64;
    if lblk < NDIR_BLOCKS as u64 {
        return Ok((lblk as usize, vec![]));
    }
    let mut rest = lblk - NDIR_BLOCKS as u64;
    for (slot, level) in [(IND_BLOCK, 1u32), (DIND_BLOCK, 2), (TIND_BLOCK, 3)] {
        let span = p.pow(level);
        if rest < span {
            let mut idx = Vec::with_capacity(level as usize);
            for l in (0..level).rev() {
                let s = p.pow(l);
                idx.push((rest / s) as usize);
                rest %= s;
            }
            return Ok((slot, idx));
        }
        rest -= span;
    }
    Err(Error::BlockBeyondLargestFile(lblk))
}

/// i_block and the indirect blocks (number, contents) of a built map.
pub type BuiltMap = ([u32; N_BLOCKS], Vec<(u32, Vec<u8>)>);

/// Builds a complete block map for data blocks listed as (logical,
/// physical), in increasing logical order. `alloc` provides blocks for the
/// indirect blocks (called in the order they are laid out: each indirect
/// block just before the data it maps, as mke2fs does). Returns i_block
/// and the indirect blocks with their contents.
pub fn build<A>(data: &[(u64, u32)], block_size: u32, mut alloc: A) -> Result<BuiltMap>
where
    A: FnMut() -> Result<u32>,
{
    let mut i_block = [0u32; N_BLOCKS];
    // Indirect blocks by (slot, index path prefix) -> (block number, contents).
    let mut ind: Vec<(u32, Vec<u8>)> = Vec::new();
    let mut index: std::collections::HashMap<(usize, Vec<usize>), usize> = Default::default();
    for &(lblk, phys) in data {
        let (slot, path) = path_to(lblk, block_size)?;
        if path.is_empty() {
            i_block[slot] = phys;
            continue;
        }
        // Walk down, creating indirect blocks as needed.
        let mut parent: Option<(usize, usize)> = None; // (ind index, slot in it)
        for depth in 0..path.len() {
            let key = (slot, path[..depth].to_vec());
            let at = match index.get(&key) {
                Some(&at) => at,
                None => {
                    let b = alloc()?;
                    ind.push((b, vec![0u8; block_size as usize]));
                    let at = ind.len() - 1;
                    index.insert(key, at);
                    match parent {
                        None => i_block[slot] = b,
                        Some((pi, ps)) => {
                            ind[pi].1[ps * 4..ps * 4 + 4].copy_from_slice(&b.to_le_bytes())
                        }
                    }
                    at
                }
            };
            parent = Some((at, path[depth]));
        }
        if let Some((pi, ps)) = parent {
            ind[pi].1[ps * 4..ps * 4 + 4].copy_from_slice(&phys.to_le_bytes());
        }
    }
    Ok((i_block, ind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn round_trip(data: Vec<(u64, u32)>, bs: u32) -> Vec<(u64, u32)> {
        let mut next = 1_000_000u32;
        let (ib, ind) = build(&data, bs, || {
            next += 1;
            Ok(next)
        })
        .unwrap();
        let blocks: HashMap<u32, Vec<u8>> = ind.into_iter().collect();
        let mut seen = Vec::new();
        walk(
            &ib,
            bs,
            |b| Ok(blocks[&b].clone()),
            |k, b| {
                if let BlockKind::Data(l) = k {
                    seen.push((l, b));
                }
                true
            },
        )
        .unwrap();
        seen
    }

    #[test]
    fn paths() {
        assert_eq!(path_to(0, 1024).unwrap(), (0, vec![]));
        assert_eq!(path_to(12, 1024).unwrap(), (IND_BLOCK, vec![0]));
        assert_eq!(path_to(12 + 256, 1024).unwrap(), (DIND_BLOCK, vec![0, 0]));
        assert_eq!(
            path_to(12 + 256 + 257, 1024).unwrap(),
            (DIND_BLOCK, vec![1, 1])
        );
        assert_eq!(
            path_to(12 + 256 + 65536, 1024).unwrap(),
            (TIND_BLOCK, vec![0, 0, 0])
        );
        assert!(path_to(max_logical_blocks(1024), 1024).is_err());
    }

    #[test]
    fn holes_survive() {
        let data = vec![(0, 10), (5, 11), (300, 12), (70000, 13), (16_843_000, 14)];
        assert_eq!(round_trip(data.clone(), 1024), data);
    }

    proptest! {
        #[test]
        fn build_then_walk(mut lblks in proptest::collection::btree_set(0u64..16_843_020, 0..50)) {
            let data: Vec<(u64, u32)> = std::mem::take(&mut lblks).into_iter().enumerate().map(|(i, l)| (l, i as u32 + 1)).collect();
            prop_assert_eq!(round_trip(data.clone(), 1024), data);
        }
    }
}
