//! Pass 1's walk over one inode's block map, as e2fsck's process_block:
//! each pointer is judged (outside the filesystem, listed twice, past
//! what the inode's type allows; an indirect block on filesystem
//! metadata) and asked about where the walk meets it, so that the answers
//! steer the walk as they steer libext2fs' iterator.

use anyhow::Result;
use ext2fs::bitmap::Bitmap;
use ext2fs::block_map::{self, MapEdit, MapPtr, Order, Visit};
use ext2fs::inode::Inode;

use crate::ask::Asker;
use crate::blocks;
use crate::checker::Checker;
use crate::pass1::{Claims, TooBig};
use crate::problem::{Code, Ctx, Latch};

/// e2fsck asks whether to clear the inode at every twelfth illegal block.
const ILLEGAL_BATCH: u32 = 12;

/// What the walk of one map found.
pub struct MapWalk {
    pub claims: Claims,
    /// The changes to write (none to a metadata block).
    pub edit: MapEdit,
    /// "Too many illegal blocks" was answered yes: the inode goes.
    pub clear: bool,
    /// libext2fs' iterator error: an indirect block left outside the
    /// filesystem or unreadable, with no indirect block read or written
    /// after it.
    pub error: Option<String>,
}

/// The walk's running state, e2fsck's process_block_struct.
struct Judge {
    ino: u32,
    first: u64,
    count: u64,
    illegal: u32,
    suppress: bool,
    clear: bool,
    error: blocks::IterateError,
    /// The indirect block met last at each level: a pointer's parent is
    /// the last one a level up (i_block's slots come in level order, so a
    /// slot never sees a stale parent).
    parents: [u32; 5],
}

impl Judge {
    /// An indirect block listed again below itself: followed, it would
    /// cost pointers^3 reads (e2fsck follows it down to the data level).
    /// One listed again elsewhere is claimed again (multiply-claimed) but
    /// the library walks it once.
    fn loops(&self, p: &MapPtr, level: usize) -> bool {
        p.repeat && self.parents[level + 1..].contains(&p.pblk)
    }

    fn on_metadata(&self, metadata: &Bitmap, b: u64) -> bool {
        b >= self.first && b < self.count && metadata.get(b - self.first)
    }

    /// A pointer with a problem, not under a metadata block: asked about.
    fn ask(&mut self, ask: &mut Asker, p: &MapPtr, code: Code) -> Result<Visit> {
        if !self.suppress && self.illegal.is_multiple_of(ILLEGAL_BATCH) {
            if ask.fix(Code::TooManyIllegal, &Ctx::ino(self.ino))? {
                self.clear = true;
                return Ok(Visit::Stop);
            }
            if ask.fix(Code::SuppressMessages, &Ctx::ino(self.ino))? {
                self.suppress = true;
                ask.suppress_latch(Latch::IllegalBlocks);
            }
        }
        let level = p.level();
        let c = Ctx {
            ino: self.ino,
            blk: p.pblk as u64,
            num: p.lblk(),
            indirect: level,
            ..Default::default()
        };
        if ask.fix(code, &c)? {
            return Ok(Visit::Replace(0));
        }
        let b = p.pblk as u64;
        if level > 0 && (b < self.first || b >= self.count) {
            // libext2fs cannot read it: its branch is given up.
            return Ok(Visit::Abandon);
        }
        Ok(Visit::Keep)
    }
}

/// What the reader and the visitor share: the checker (its questions,
/// its I/O error handler) and the walk's running state.
struct Walk<'a> {
    ck: &'a mut Checker,
    judge: Judge,
    claims: Claims,
    /// An error that ends the check (a cancel, preen's stop).
    failure: Option<anyhow::Error>,
    collided: bool,
}

impl Walk<'_> {
    /// e2fsck's process_block on one pointer.
    fn visit(&mut self, p: &MapPtr, too_big: &TooBig, counted: u64, resize: bool) -> Visit {
        let judge = &mut self.judge;
        let b = p.pblk as u64;
        let level = p.level() as usize;
        let parent = judge.parents[level + 1];
        judge.error.meet(p.level());
        let inside = b >= judge.first && b < judge.count;
        if level > 0 {
            judge.parents[level] = p.pblk;
            // Pass 1B moves it, then the check starts over.
            if !resize && judge.on_metadata(&self.ck.metadata, b) {
                let c = Ctx {
                    ino: judge.ino,
                    blk: b,
                    ..Default::default()
                };
                self.ck.ask.notice(Code::CriticalMetadataCollision, &c);
                self.collided = true;
            }
        }
        let problem = if b < judge.first || b >= judge.count || judge.loops(p, level) {
            Some(Code::IllegalBlock)
        } else {
            too_big.problem(p, self.claims.nblocks + counted)
        };
        let Some(code) = problem else {
            self.claims.take(p);
            judge.error.record(p, &Visit::Keep, inside, parent != 0);
            return Visit::Keep;
        };
        self.claims.pass_over(p);
        judge.illegal += 1;
        if !resize && parent != 0 && judge.on_metadata(&self.ck.metadata, parent as u64) {
            // Not this file's pointer: dropped from the walk unasked,
            // and the metadata block is never written.
            return Visit::Replace(0);
        }
        let verdict = judge.ask(&mut self.ck.ask, p, code).unwrap_or_else(|e| {
            self.failure = Some(e);
            Visit::Stop
        });
        judge.error.record(p, &verdict, inside, parent != 0);
        if matches!(verdict, Visit::Replace(0)) && code != Code::TooBigDir {
            self.claims.cleared(p);
        }
        verdict
    }

    /// Reads an indirect block the walk follows. A failed read goes to
    /// the I/O error handler (libext2fs' read_error hook); one it does
    /// not let pass is the iterator's error, and nothing below is read.
    fn read(&mut self, p: &MapPtr) -> Option<Vec<u8>> {
        let e = match self.ck.fs.read_block(p.pblk as u64) {
            Ok(bytes) => return Some(bytes),
            Err(e) => e,
        };
        let why = e.com_err_text();
        match self.ck.read_error(e) {
            Ok(Some(bytes)) => Some(bytes),
            Ok(None) => {
                self.judge.error.read_failed(why);
                None
            }
            Err(e) => {
                self.failure.get_or_insert(e);
                None
            }
        }
    }
}

impl Checker {
    /// Walks `inode`'s map; `counted` blocks (its extended attribute
    /// block) are already the inode's. Returns what to write rather than
    /// writing it.
    pub fn walk_block_map(&mut self, ino: u32, inode: &mut Inode, counted: u64) -> Result<MapWalk> {
        let too_big = TooBig::new(inode, self.fs.sb().s_log_block_size);
        let block_size = self.fs.block_size();
        // The resize inode's indirect blocks are the reserved descriptor
        // blocks: metadata by design, so e2fsck's two metadata rules skip it.
        let resize = ino == ext2fs::inode::RESIZE_INO;
        let mut w = Walk {
            judge: Judge {
                ino,
                first: self.first_data,
                count: self.blocks_count,
                illegal: 0,
                suppress: false,
                clear: false,
                error: Default::default(),
                parents: [0; 5],
            },
            claims: Claims::new(ino, inode.is_dir()),
            ck: self,
            failure: None,
            collided: false,
        };
        let walked = block_map::iterate_in(
            &mut w,
            Order::ParentFirst,
            &mut inode.base.i_block,
            block_size,
            |w, p| {
                if w.failure.is_some() {
                    return Ok(None);
                }
                Ok(w.read(p))
            },
            |w, p| {
                if w.failure.is_some() {
                    return Visit::Stop;
                }
                w.visit(p, &too_big, counted, resize)
            },
        );
        let Walk {
            judge,
            claims,
            failure,
            collided,
            ..
        } = w;
        if let Some(e) = failure {
            return Err(e);
        }
        // OK: the reader never fails, so neither does the walk.
        let mut edit = walked.unwrap_or_default();
        // The resize inode's indirect blocks are metadata it owns: e2fsck
        // writes its fixes there.
        edit.writes
            .retain(|(b, _)| resize || !judge.on_metadata(&self.metadata, *b));
        if collided && !self.read_only() {
            self.restart_later = true;
        }
        Ok(MapWalk {
            claims,
            edit,
            clear: judge.clear,
            error: judge.error.finish(),
        })
    }
}
