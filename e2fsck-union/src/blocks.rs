//! Walking an inode's block map the way a checker must: every pointer is
//! shown to the caller before it is trusted, and the caller may replace it
//! (clear an illegal block, point to a clone). Changed indirect blocks come
//! back as pending writes so the walk itself never writes.

use ext2fs::fs::Filesystem;
use ext2fs::inode::Inode;

/// Where a pointer sits in the map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Data,
    /// An indirect block of the given level (1 = IND, 2 = DIND, 3 = TIND).
    Indirect(u8),
}

#[derive(Clone, Copy, Debug)]
pub struct Ptr {
    pub kind: Kind,
    /// Logical block of a data block; for indirect blocks the logical
    /// block of the first data block below it.
    pub lblk: u64,
    pub pblk: u32,
    /// An indirect block this map already listed (a loop): the walk does
    /// not descend into it again.
    pub repeat: bool,
}

/// The caller's verdict on one pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visit {
    Keep,
    /// Write this value instead (0 clears the pointer; for an indirect
    /// block the walk does not descend).
    Replace(u32),
    /// Stop the walk (e.g. the inode is being cleared).
    Stop,
}

pub struct Walk {
    /// Indirect blocks whose contents changed: (block, bytes).
    pub writes: Vec<(u64, Vec<u8>)>,
    pub inode_changed: bool,
    pub stopped: bool,
    /// Indirect blocks already descended into: a map that lists one twice
    /// (a loop, or a crafted image) is not followed again, which bounds a
    /// walk by the size of the filesystem instead of pointers^3.
    seen: std::collections::HashSet<u32>,
}

/// The pointers of a map that lie inside the filesystem, in map order, and
/// how many did not or repeat an indirect block already listed (those are
/// neither returned nor followed). The map is not changed.
pub struct Legal {
    pub blocks: Vec<Ptr>,
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

/// Walks `inode`'s direct and indirect pointers in logical order.
pub fn walk<F>(fs: &Filesystem, inode: &mut Inode, mut visit: F) -> Walk
where
    F: FnMut(&Ptr) -> Visit,
{
    let bs = fs.block_size() as u64;
    let per = bs / 4;
    let mut w = Walk {
        writes: Vec::new(),
        inode_changed: false,
        stopped: false,
        seen: std::collections::HashSet::new(),
    };
    let spans = [1, per, per * per, per * per * per];
    let mut lblk = 0u64;
    for i in 0..15usize {
        let (level, span) = match i {
            0..=11 => (0u8, 1u64),
            12 => (1, spans[1]),
            13 => (2, spans[2]),
            _ => (3, spans[3]),
        };
        let start = lblk;
        lblk += span;
        let p = inode.base.i_block[i];
        if p == 0 {
            continue;
        }
        let new = visit_tree(fs, level, start, p, per, &mut visit, &mut w);
        if w.stopped {
            return w;
        }
        if new != p {
            inode.base.i_block[i] = new;
            w.inode_changed = true;
        }
    }
    w
}

/// Visits one pointer and, for indirect blocks, everything below it.
/// Returns the pointer's (possibly replaced) value.
fn visit_tree<F>(
    fs: &Filesystem,
    level: u8,
    lblk: u64,
    p: u32,
    per: u64,
    visit: &mut F,
    w: &mut Walk,
) -> u32
where
    F: FnMut(&Ptr) -> Visit,
{
    let kind = if level == 0 {
        Kind::Data
    } else {
        Kind::Indirect(level)
    };
    let ptr = Ptr {
        kind,
        lblk,
        pblk: p,
        repeat: level > 0 && w.seen.contains(&p),
    };
    let cur = match visit(&ptr) {
        Visit::Keep => p,
        Visit::Replace(n) => n,
        Visit::Stop => {
            w.stopped = true;
            return p;
        }
    };
    if level == 0 || cur == 0 || ptr.repeat || !w.seen.insert(cur) {
        return cur;
    }
    // A replaced indirect block is a copy of the original: read the
    // original (the copy is not written yet) and write the copy below.
    // A block we cannot read holds no pointers we could trust.
    let Ok(mut buf) = fs.read_block(p as u64) else {
        return cur;
    };
    let span = per.pow(level as u32 - 1);
    let mut changed = false;
    for k in 0..per as usize {
        let child = u32::from_le_bytes(buf[k * 4..k * 4 + 4].try_into().unwrap_or([0; 4]));
        if child == 0 {
            continue;
        }
        let new = visit_tree(fs, level - 1, lblk + k as u64 * span, child, per, visit, w);
        if new != child {
            buf[k * 4..k * 4 + 4].copy_from_slice(&new.to_le_bytes());
            changed = true;
        }
        if w.stopped {
            break;
        }
    }
    if changed || cur != p {
        // A later write of the same block (a replaced copy) wins.
        w.writes.retain(|(b, _)| *b != cur as u64);
        w.writes.push((cur as u64, buf));
    }
    cur
}
