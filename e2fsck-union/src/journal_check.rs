//! The journal fields of a filesystem without has_journal, checked as
//! e2fsck 1.47's e2fsck_check_ext3_journal checks them before anything
//! else: an external journal named by UUID cannot be found (fatal); a
//! journal inode that does not hold a journal is an invalid journal
//! (cleared, or the check cannot go on); a real journal without the
//! feature is cleared from the superblock.

use anyhow::Result;
use ext2fs::inode::{flags, Inode};
use ext2fs::superblock::STATE_VALID;

use crate::ask::Stop;
use crate::checker::Checker;
use crate::problem::{Code, Ctx};

/// jbd2's smallest journal, in blocks (JBD2_MIN_JOURNAL_BLOCKS).
const MIN_JOURNAL_BLOCKS: u64 = 1024;
/// The journal superblock's magic, stored big-endian.
const JOURNAL_MAGIC: u32 = 0xc03b_3998;
/// s_jnl_backup_type: s_jnl_blocks holds a copy of the inode's map.
const BACKUP_BLOCKS: u8 = 1;

/// What the journal inode turned out to be.
enum Journal {
    /// It holds a journal (a journal superblock at its first block).
    Present,
    /// No journal there (e2fsck's bad-inode errors).
    Bad,
    /// The inode could not be read: the error in com_err's words.
    Unreadable(String),
}

impl Checker {
    /// e2fsck_check_ext3_journal for ext2 (has_journal and
    /// needs_recovery are refused before this runs).
    pub fn check_journal_fields(&mut self, prog: &str) -> Result<()> {
        let sb = *self.fs.sb();
        if sb.s_journal_inum == 0 && sb.s_journal_dev == 0 && sb.s_journal_uuid == [0; 16] {
            return Ok(());
        }
        if sb.s_journal_uuid != [0; 16] {
            // e2fsck asks blkid for a device with that UUID (or device
            // number); ours looks up none (docs/compat.md).
            self.ask.notice(Code::CantFindJournal, &Ctx::default());
            return self.cannot_go_on(None, prog);
        }
        if sb.s_journal_inum == 0 {
            // A device number alone: e2fsck finds no inode and, without
            // the feature, nothing to clear.
            return Ok(());
        }
        match self.journal_inode(sb.s_journal_inum) {
            Journal::Present => {
                if self.problem(Code::JournalInodeNoFeature, &Ctx::default())? {
                    self.fs.update_superblock(|sb| {
                        // A journal on a reserved inode was part of the
                        // filesystem: a full check follows.
                        if sb.s_journal_inum < sb.first_ino() {
                            sb.s_state &= !STATE_VALID;
                        }
                        sb.s_journal_inum = 0;
                        sb.s_journal_dev = 0;
                        sb.s_journal_uuid = [0; 16];
                    });
                    self.fs.set_primary_only(false);
                }
                Ok(())
            }
            Journal::Bad => {
                if self.problem(Code::JournalBadInode, &Ctx::ino(sb.s_journal_inum))? {
                    // e2fsck would then offer to create a new journal
                    // after the passes; ext2 keeps none (docs/compat.md).
                    self.fs.update_superblock(|sb| {
                        sb.s_journal_inum = 0;
                        sb.s_jnl_blocks = [0; 17];
                        sb.s_state &= !STATE_VALID;
                    });
                    self.fs.set_primary_only(false);
                    return Ok(());
                }
                self.cannot_go_on(Some("The journal superblock is corrupt"), prog)
            }
            Journal::Unreadable(why) => self.cannot_go_on(Some(&why), prog),
        }
    }

    /// e2fsck's stop before the passes: the error (when there is one),
    /// then "Cannot proceed" and the filesystem's state.
    fn cannot_go_on(&mut self, error: Option<&str>, prog: &str) -> Result<()> {
        if let Some(why) = error {
            eprintln!(
                "{prog}: {why} while checking journal for {}",
                self.ask.device
            );
            eprintln!("e2fsck: Cannot proceed with file system check");
        }
        // Nothing has been found valid yet at this point.
        self.ask.unfixed = true;
        Err(Stop::Fatal.into())
    }

    /// e2fsck_get_journal's and e2fsck_journal_load's tests of the inode,
    /// then of the copy of its map in s_jnl_blocks when the superblock
    /// keeps one.
    fn journal_inode(&self, ino: u32) -> Journal {
        let geo = self.fs.geo();
        if ino as u64 > geo.group_count as u64 * self.fs.sb().s_inodes_per_group as u64 {
            return Journal::Bad;
        }
        let inode = match self.fs.read_inode(ino) {
            Ok(inode) => inode,
            Err(e) => match self.backup_inode() {
                Some(copy) => return self.journal_in(&copy),
                None => return Journal::Unreadable(e.com_err_text()),
            },
        };
        match self.journal_in(&inode) {
            Journal::Bad => match self.backup_inode() {
                Some(copy) => self.journal_in(&copy),
                None => Journal::Bad,
            },
            found => found,
        }
    }

    /// The journal inode as e2fsck rebuilds it from s_jnl_blocks.
    fn backup_inode(&self) -> Option<Inode> {
        let sb = self.fs.sb();
        if sb.s_jnl_backup_type != BACKUP_BLOCKS {
            return None;
        }
        let mut inode = Inode::new(self.fs.geo().inode_size as u16);
        inode.base.i_block.copy_from_slice(&sb.s_jnl_blocks[..15]);
        inode.set_size((sb.s_jnl_blocks[15] as u64) << 32 | sb.s_jnl_blocks[16] as u64);
        inode.base.i_links_count = 1;
        inode.base.i_mode = ext2fs::inode::S_IFREG | 0o600;
        Some(inode)
    }

    /// Whether `inode` holds a journal: a linked regular file of at least
    /// jbd2's minimum size, every block of it mapped inside the
    /// filesystem, a journal superblock first.
    fn journal_in(&self, inode: &Inode) -> Journal {
        let bs = self.fs.block_size() as u64;
        let size = inode.size();
        if inode.base.i_links_count == 0
            || !inode.is_reg()
            || inode.base.i_flags & flags::ENCRYPT != 0
            || size / bs < MIN_JOURNAL_BLOCKS
        {
            return Journal::Bad;
        }
        // e2fsck walks the map until a hole or a block outside the
        // filesystem and wants the blocks found to cover the size.
        let needed = size.div_ceil(bs);
        let limit = ext2fs::block_map::max_logical_blocks(self.fs.block_size());
        if needed > limit {
            return Journal::Bad;
        }
        let mut first = None;
        for lblk in 0..needed {
            match self.fs.bmap(inode, lblk) {
                Ok(Some(b)) if self.block_ok(b as u64) => first = first.or(Some(b)),
                _ => return Journal::Bad,
            }
        }
        let magic = first
            .and_then(|b| self.fs.read_block(b as u64).ok())
            .map(|data| u32::from_be_bytes([data[0], data[1], data[2], data[3]]));
        if magic == Some(JOURNAL_MAGIC) {
            Journal::Present
        } else {
            Journal::Bad
        }
    }
}
