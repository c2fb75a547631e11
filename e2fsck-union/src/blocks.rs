//! Block maps as the checker walks them: the library's iterator, where an
//! indirect block that cannot be read holds no pointers worth trusting,
//! and the legality rule the passes share.

use ext2fs::block_map::{self, MapEdit, MapPtr, Visit};
use ext2fs::fs::Filesystem;
use ext2fs::inode::Inode;

/// The pointers of a map that lie inside the filesystem, in map order, and
/// how many did not or repeat an indirect block already listed (those are
/// neither returned nor followed). The map is not changed.
pub struct Legal {
    pub blocks: Vec<MapPtr>,
    pub illegal: usize,
}

pub fn legal_blocks(fs: &Filesystem, inode: &Inode) -> Legal {
    let first = fs.sb().s_first_data_block as u64;
    let count = fs.sb().s_blocks_count as u64;
    let mut out = Legal {
        blocks: Vec::new(),
        illegal: 0,
    };
    walk(fs, &mut inode.clone(), |p| {
        let b = p.pblk as u64;
        if b < first || b >= count || p.repeat {
            out.illegal += 1;
            Visit::Replace(0)
        } else {
            out.blocks.push(*p);
            Visit::Keep
        }
    });
    out
}

/// Walks `inode`'s block map with `visit` deciding on each pointer; the
/// changes come back to be written by the caller.
pub fn walk<F>(fs: &Filesystem, inode: &mut Inode, visit: F) -> MapEdit
where
    F: FnMut(&MapPtr) -> Visit,
{
    let read = |b: u32| Ok(fs.read_block(b as u64).ok());
    // OK: the reader above never fails, so neither does the walk.
    block_map::iterate(&mut inode.base.i_block, fs.block_size(), read, visit).unwrap_or_default()
}
