//! Pass 1 on the bad blocks inode (e2fsck's process_bad_block): one walk
//! of its map, indirect blocks before the blocks below them, each pointer
//! judged when it is met, so that questions come in e2fsck's order.

use anyhow::Result;
use ext2fs::block_map::{self, MapPtr, Order, Visit};
use ext2fs::inode::{self, flags, Inode};

use crate::blocks;
use crate::checker::Checker;
use crate::problem::{Code, Ctx};
use crate::super_check::GroupTable;

/// What the walk learned besides the map's changes.
#[derive(Default)]
struct Walk {
    /// The inode's own indirect pointers as read (e2fsck compares a bad
    /// block with its in-memory inode, which the walk does not change).
    top: [u32; 3],
    /// A pointer of the map itself was suspect: e2fsck asks at the end
    /// whether to go on at all.
    suspect: bool,
    /// libext2fs' iterator error (an indirect block outside the
    /// filesystem that was kept).
    error: blocks::IterateError,
    /// A question ended the check (preen halt, abort).
    stop: Option<anyhow::Error>,
}

/// Where a bad block that is already in use lies, as e2fsck looks for it:
/// group by group, its superblock, descriptors and tables.
enum Spot {
    PrimarySuper,
    PrimaryDescriptors,
    BackupSuper(u32),
    BackupDescriptors(u32),
    Table(GroupTable, u32),
    /// In an inode table: its inodes are skipped by the scan.
    InodeTable,
    Unknown,
}

impl Checker {
    /// The bad blocks inode: its blocks are bad, so nobody else may use them.
    pub(crate) fn check_bad_blocks_inode(&mut self, inode: &mut Inode) -> Result<()> {
        let ino = inode::BAD_INO;
        Self::set_ino(&mut self.used, ino, true);
        let b = &inode.base;
        if (b.i_mode != 0
            || b.i_uid != 0
            || b.i_gid != 0
            || b.i_links_count != 0
            || b.i_flags & flags::INLINE_DATA != 0
            || b.i_file_acl != 0)
            && self.problem(Code::BadBlocksInodeBadMode, &Ctx::ino(ino))?
        {
            let blank = Inode::new(inode.size);
            *inode = blank;
            self.write_inode(ino, inode)?;
            return Ok(());
        }
        if inode.base.i_flags & flags::INLINE_DATA != 0 {
            // libext2fs' iterator refuses the inode before any block.
            return Err(self.iteration_failed(ino, crate::pass1::INLINE_DATA_CANT_ITERATE));
        }
        if inode.base.i_flags & flags::EXTENTS != 0 {
            // libext2fs' iterator finds no extent tree and walks nothing.
            return Ok(());
        }
        let mut walk = Walk::default();
        walk.top
            .copy_from_slice(&inode.base.i_block[inode::NDIR_BLOCKS..]);
        let mut map = inode.base.i_block;
        let bs = self.fs.block_size();
        let edit = block_map::iterate_in(
            self,
            Order::ParentFirst,
            &mut map,
            bs,
            |ck, p| Ok(ck.fs.read_block(p.pblk as u64).ok()),
            |ck, p| {
                walk.error.meet(p.level());
                let verdict = match ck.judge_bad_block(p, &mut walk) {
                    Ok(v) => v,
                    Err(e) => {
                        walk.stop = Some(e);
                        Visit::Stop
                    }
                };
                let inside = ck.block_ok(p.pblk as u64);
                let in_indirect = blocks::in_indirect(p, bs as u64 / 4);
                walk.error.record(p, &verdict, inside, in_indirect);
                verdict
            },
        )?;
        for (b, data) in &edit.writes {
            self.fs.write_block(*b, data)?;
        }
        if edit.i_block_changed {
            inode.base.i_block = map;
            self.write_inode(ino, inode)?;
        }
        if let Some(e) = walk.stop {
            return Err(e);
        }
        // Where libext2fs' block iterator fails, e2fsck cannot go on.
        if let Some(e) = std::mem::take(&mut walk.error).finish() {
            return Err(self.iteration_failed(ino, &e));
        }
        if walk.suspect && !self.problem(Code::BadBlocksInodeCorrupted, &Ctx::ino(ino))? {
            return Err(crate::ask::Stop::Aborted.into());
        }
        // e2fsck looks at neither its size nor its i_blocks.
        Ok(())
    }

    /// An inode in a bad block of its table (libext2fs' inode scan reads
    /// zeros there and says so): in use, never checked, and named by no
    /// directory entry. For the bad blocks inode itself, e2fsck offers to
    /// clear it, which empties the list: true when it did.
    pub(crate) fn inode_in_bad_block(&mut self, ino: u32) -> Result<bool> {
        if ino == inode::BAD_INO && self.problem(Code::BadBlocksInodeInBadBlock, &Ctx::ino(ino))? {
            // e2fsck clears the zeros the scan gave it: only its dtime set.
            let mut rec = self.fs.read_inode(ino)?;
            rec.base = Default::default();
            rec.base.i_dtime = self.now;
            self.write_inode(ino, &rec)?;
            return Ok(true);
        }
        Self::set_ino(&mut self.in_bad_blocks, ino, true);
        Self::set_ino(&mut self.used, ino, true);
        Ok(false)
    }

    /// One pointer of the bad blocks inode's map: keep it, or clear it.
    fn judge_bad_block(&mut self, p: &MapPtr, walk: &mut Walk) -> Result<Visit> {
        let ino = inode::BAD_INO;
        let b = p.pblk as u64;
        let c = Ctx {
            ino,
            blk: b,
            num: p.lblk(),
            indirect: p.level(),
            ..Default::default()
        };
        if !self.block_ok(b) {
            if self.problem(Code::BadBlocksIllegal, &c)? {
                return Ok(Visit::Replace(0));
            }
            if p.is_data() {
                return Ok(Visit::Keep);
            }
            // The iterator gives up this branch with an error.
            return Ok(Visit::Abandon);
        }
        if !p.is_data() {
            // An indirect block: it must be neither metadata nor a block
            // the list has named already.
            let code = if self.metadata.get(b - self.first_data) {
                Code::BadBlocksIndirectOnMetadata
            } else if self.found.get(b - self.first_data) {
                Code::BadBlocksInodeBadMetablock
            } else {
                self.mark_found(b);
                return Ok(Visit::Keep);
            };
            walk.suspect = true;
            return Ok(if self.problem(code, &c)? {
                Visit::Replace(0)
            } else {
                Visit::Keep
            });
        }
        self.stats.bad_blocks += 1;
        if !self.found.get(b - self.first_data) {
            self.mark_found(b);
            return Ok(Visit::Keep);
        }
        let primary = |what: String| Ctx {
            str1: what,
            ..Default::default()
        };
        match self.locate_used_block(b) {
            Spot::PrimarySuper => {
                let c = primary(format!(
                    "The primary superblock ({b}) is on the bad block list."
                ));
                return self.clear_if(Code::BadBlockInPrimary, &c);
            }
            Spot::PrimaryDescriptors => {
                let c = primary(format!(
                    "Block {b} in the primary group descriptors is on the bad block list"
                ));
                return self.clear_if(Code::BadBlockInPrimary, &c);
            }
            Spot::BackupSuper(group) => {
                self.problem(Code::BackupSuperblockBad, &Ctx { group, ..c })?;
            }
            Spot::BackupDescriptors(group) => {
                self.problem(Code::BackupDescriptorsBad, &Ctx { group, ..c })?;
            }
            Spot::Table(table, group) => {
                if let Some(code) = table.bad_block_problem() {
                    let c = Ctx {
                        group,
                        str1: table.name().into(),
                        ..c
                    };
                    if self.problem(code, &c)? {
                        self.reloc.add(table, group);
                    }
                }
            }
            Spot::InodeTable => {}
            Spot::Unknown if walk.top.contains(&p.pblk) => {
                // The list names one of its own indirect blocks.
                walk.suspect = true;
                return self.clear_if(Code::BadBlocksInodeBadMetablock, &c);
            }
            Spot::Unknown => {
                self.problem(Code::BadBlockClaimedForNoReason, &c)?;
            }
        }
        Ok(Visit::Keep)
    }

    /// Clears the pointer when `code` is answered yes.
    fn clear_if(&mut self, code: Code, c: &Ctx) -> Result<Visit> {
        Ok(if self.problem(code, c)? {
            Visit::Replace(0)
        } else {
            Visit::Keep
        })
    }

    /// e2fsck's search for the owner of a bad block already marked in use:
    /// per group, a superblock copy, its descriptor copy (not the reserved
    /// blocks after it), the bitmaps, the inode table.
    fn locate_used_block(&self, b: u64) -> Spot {
        let geo = self.fs.geo();
        let mut first = self.first_data;
        for g in 0..geo.group_count {
            if geo.has_super(g) {
                if b == first {
                    return if g == 0 {
                        Spot::PrimarySuper
                    } else {
                        Spot::BackupSuper(g)
                    };
                }
                if b > first && b <= first + geo.desc_blocks as u64 {
                    return if g == 0 {
                        Spot::PrimaryDescriptors
                    } else {
                        Spot::BackupDescriptors(g)
                    };
                }
            }
            let gd = self.fs.groups()[g as usize];
            if let Some(t) = GroupTable::ALL.into_iter().find(|t| t.holds(geo, &gd, b)) {
                return match t {
                    GroupTable::InodeTable => Spot::InodeTable,
                    _ => Spot::Table(t, g),
                };
            }
            first += geo.blocks_per_group as u64;
        }
        Spot::Unknown
    }
}
