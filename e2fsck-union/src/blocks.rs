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

/// libext2fs' block iterator keeps one error code, which every later read
/// or write of an indirect block overwrites: an indirect block outside the
/// filesystem fails the walk only if no indirect block is read or written
/// after it. Fed by a parent-first walk, pointer by pointer.
#[derive(Default)]
pub struct IterateError {
    last: Option<String>,
    /// Per level, whether a pointer of the indirect block being walked
    /// there changed: libext2fs writes it once its subtree is done.
    dirty: [bool; 4],
}

impl IterateError {
    /// The walk meets a pointer of `level`: the subtrees of the indirect
    /// blocks at that level and below are done, the changed ones written.
    pub fn meet(&mut self, level: u8) {
        for d in &mut self.dirty[1..=level.min(3) as usize] {
            if std::mem::take(d) {
                self.last = None;
            }
        }
    }

    /// The verdict a walk gave pointer `p` (met first): a kept indirect
    /// block is read, or fails the walk when it lies outside the
    /// filesystem (`inside` false); a changed pointer dirties the
    /// indirect block holding it (`in_indirect`).
    pub fn record(&mut self, p: &MapPtr, verdict: &Visit, inside: bool, in_indirect: bool) {
        let level = p.level();
        match verdict {
            Visit::Replace(new) => {
                if let Some(d) = self
                    .dirty
                    .get_mut(level as usize + 1)
                    .filter(|_| in_indirect)
                {
                    *d = true;
                }
                if level > 0 && *new != 0 {
                    self.last = None;
                }
            }
            Visit::Keep | Visit::Abandon if level > 0 => {
                self.last = (!inside).then(|| bad_indirect_error(level).into());
            }
            _ => {}
        }
    }

    /// The indirect block just kept could not be read (`why`, the I/O
    /// error the handler did not let pass).
    pub fn read_failed(&mut self, why: String) {
        self.last = Some(why);
    }

    /// The error the iterator returns at the end of the walk.
    pub fn finish(mut self) -> Option<String> {
        self.meet(3);
        self.last
    }
}

/// Whether pointer `p` lies in an indirect block rather than in i_block.
pub fn in_indirect(p: &MapPtr, per_block: u64) -> bool {
    let ndir = ext2fs::inode::NDIR_BLOCKS as u64;
    match p.level() {
        0 => p.lblk() >= ndir,
        level => {
            let top: u64 = ndir + (1..level as u32).map(|l| per_block.pow(l)).sum::<u64>();
            p.lblk() != top
        }
    }
}

/// What libext2fs' block iterator shows of `inode`'s map, unchanged: the
/// pointers it meets (an indirect block outside shown, not followed, and
/// the rest of the block above it given up), and the error it returns
/// (see [`IterateError`]).
pub fn iterate(fs: &Filesystem, inode: &Inode) -> (Vec<MapPtr>, Option<String>) {
    let first = fs.sb().s_first_data_block as u64;
    let count = fs.sb().s_blocks_count as u64;
    let mut error = IterateError::default();
    let mut met = Vec::new();
    walk(fs, &mut inode.clone(), |p| {
        let b = p.pblk as u64;
        error.meet(p.level());
        met.push(*p);
        let inside = b >= first && b < count;
        let verdict = if p.level() > 0 && !inside {
            Visit::Abandon
        } else {
            Visit::Keep
        };
        error.record(p, &verdict, inside, false);
        verdict
    });
    (met, error.finish())
}
