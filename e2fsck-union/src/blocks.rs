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

/// libext2fs' error when its block iterator meets an indirect block of
/// `level` outside the filesystem (EXT2_ET_BAD_IND/DIND/TIND_BLOCK).
pub fn bad_indirect_error(level: u8) -> &'static str {
    match level {
        1 => "Illegal indirect block found",
        2 => "Illegal doubly indirect block found",
        _ => "Illegal triply indirect block found",
    }
}

/// What libext2fs' block iterator reports for `inode`'s map once the
/// pointers `cleared` picks are zero: the error of the last indirect
/// block outside the filesystem (it goes on past each, keeping the last
/// error), if any.
pub fn iterate_error<C>(fs: &Filesystem, inode: &Inode, cleared: C) -> Option<&'static str>
where
    C: Fn(&MapPtr) -> bool,
{
    let first = fs.sb().s_first_data_block as u64;
    let count = fs.sb().s_blocks_count as u64;
    let mut error = None;
    walk(fs, &mut inode.clone(), |p| {
        let b = p.pblk as u64;
        let level = p.level();
        if cleared(p) {
            return Visit::Replace(0);
        }
        if level > 0 && (b < first || b >= count) {
            error = Some(bad_indirect_error(level));
            return Visit::Replace(0);
        }
        Visit::Keep
    });
    error
}
