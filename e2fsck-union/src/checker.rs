//! The checker's state: what pass 1 learns about every inode and block,
//! and the small operations every pass shares (clearing an inode, naming
//! an inode for a message, allocating a block).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::Result;
use ext2fs::bitmap::Bitmap;
use ext2fs::fs::Filesystem;
use ext2fs::inode::Inode;

use crate::ask::Asker;
use crate::problem::{Code, Ctx};

/// Where a directory hangs: the entry that names it (`parent`, found in
/// pass 2) and what its own '..' says (`dotdot`).
#[derive(Clone, Copy, Debug, Default)]
pub struct DirInfo {
    pub parent: u32,
    pub dotdot: u32,
}

/// Where -C progress goes: (pass, done, total).
pub type Reporter = Box<dyn FnMut(usize, u64, u64)>;

/// One block of a directory; `pblk` 0 is a hole to be filled in pass 2.
#[derive(Clone, Copy, Debug)]
pub struct DirBlock {
    pub ino: u32,
    pub lblk: u32,
    pub pblk: u32,
}

#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub dirs: u64,
    pub regular: u64,
    pub symlinks: u64,
    pub fast_symlinks: u64,
    pub chardevs: u64,
    pub blockdevs: u64,
    pub fifos: u64,
    pub sockets: u64,
    pub links: u64,
    pub entries: u64,
    pub whiteouts: u64,
    pub fallthrus: u64,
    pub opaque: u64,
    /// Non-contiguous files and directories (e2fsck's fs_fragmented and
    /// fs_fragmented_dir).
    pub fragmented: u64,
    pub fragmented_dirs: u64,
    pub ind: u64,
    pub dind: u64,
    pub tind: u64,
    pub large_files: u64,
    pub bad_blocks: u64,
}

pub struct Checker {
    pub fs: Filesystem,
    pub ask: Asker,
    pub now: u32,
    /// Whether `now` is trusted for judging times (E2FSCK_TIME set, or a
    /// system clock past 2010): e2fsck's E2F_FLAG_TIME_INSANE, inverted.
    pub clock_sane: bool,
    pub first_data: u64,
    pub blocks_count: u64,
    pub inodes_count: u32,
    /// Inodes in use (bit ino-1).
    pub used: Bitmap,
    pub dirs: Bitmap,
    pub regular: Bitmap,
    /// Inodes with bad fields, dealt with in pass 2 where a path is known.
    pub bad: Bitmap,
    /// Imagic inodes on an imagic_inodes filesystem: pass 4 leaves them be.
    pub imagic: Bitmap,
    /// Inodes in an inode table block on the bad blocks list (e2fsck's
    /// inode_bb_map): in use, never read.
    pub in_bad_blocks: Bitmap,
    /// i_links_count as read, and the links pass 2 counted.
    pub link_info: Vec<u16>,
    pub counted: Vec<u32>,
    /// Blocks in use (bit block - first_data_block).
    pub found: Bitmap,
    /// Blocks claimed more than once, with the number of claims.
    pub dup: HashMap<u32, u32>,
    /// Filesystem metadata blocks (superblocks, descriptors, bitmaps, tables).
    pub metadata: Bitmap,
    pub dir_info: HashMap<u32, DirInfo>,
    pub dir_blocks: Vec<DirBlock>,
    /// Directories with an htree index to verify in pass 2.
    pub dx_dirs: BTreeSet<u32>,
    /// Inodes of another type whose index flag stayed (declined): e2fsck
    /// verifies their index too, over this many blocks, none referenced.
    pub dx_others: BTreeMap<u32, u32>,
    /// Indexed directories pass 1 found deeper than two levels or past
    /// 2 GiB (e2fsck's large_dirs).
    pub large_dirs: u32,
    /// For each indexed directory, the directory e2fsck's pass 2 names
    /// when its root is invalid: the owner of the index block parsed
    /// last before the root (a stale field of e2fsck's).
    pub dx_root_shown: BTreeMap<u32, u32>,
    /// Pass 2's indexes under check, block by block.
    pub htree_walk: crate::htree_check::HtreeWalk,
    /// Directories to rebuild in pass 3A.
    pub rehash: BTreeSet<u32>,
    /// Extended attribute blocks: references seen and the stored count.
    pub ea_refs: HashMap<u32, (u32, u32)>,
    /// Attributes seen naming each value inode (e2fsck's ea_inode_refs).
    pub ea_inode_refs: HashMap<u32, u64>,
    /// Blocks an attribute block counts for in its owners' i_blocks, where
    /// not just itself: values in inodes of their own count too (e2fsck's
    /// ea_block_quota_blocks).
    pub ea_block_charge: HashMap<u32, u64>,
    /// The same for the attributes in an inode's body, by inode, from the
    /// check of the body to the check of the inode's blocks.
    pub ibody_charge: HashMap<u32, u64>,
    /// Pass 1's inodes whose blocks are checked later (see pass1.rs).
    pub deferred: Vec<crate::pass1::Deferred>,
    /// What e2fsck's pass 1 block buffer holds (the attribute block read
    /// last): an attribute check whose read failed goes on with it.
    pub pass1_buf: Vec<u8>,
    /// The I/O error handler's operation and pending stop (ehandler.rs).
    pub read_errors: crate::ehandler::ReadErrors,
    pub stats: Stats,
    pub lost_found: u32,
    /// Finding or making /lost+found failed once: reconnecting is not
    /// tried again (e2fsck's bad_lost_and_found).
    pub bad_lost_found: bool,
    /// Bitmaps installed into the library (after pass 1).
    pub handed_over: bool,
    /// The block and inode maps as they were handed over.
    pub handed_over_maps: Option<(Bitmap, Bitmap)>,
    /// The resize inode is to be rebuilt after the passes (kept across a
    /// restart of pass 1: it was cleared before pass 1).
    pub recreate_resize: bool,
    /// Blocks allocated before the hand-over (resize inode, clones) that
    /// e2fsck also marks in the filesystem's own bitmap, so pass 5 does not
    /// report them as differences.
    pub early_allocs: Vec<u64>,
    /// e2fsck read the filesystem's bitmaps before pass 1 ended (for the
    /// orphan list or a bad blocks list): only then does its allocator
    /// mark the resize inode's new block in them.
    pub bitmaps_read_early: bool,
    /// The bad blocks list could not be read before the passes (libext2fs
    /// then has none, and its inode scan tries to read it again).
    pub bad_blocks_list_lost: bool,
    /// Blocks set aside at the end of pass 1 for a new root directory and
    /// a new /lost+found (e2fsck's root_repair_block, lnf_repair_block),
    /// so that what passes 2 and 3 allocate cannot take the last ones.
    pub repair_blocks: RepairBlocks,
    /// Tables to move after pass 1 (outside their group, or on bad blocks).
    pub reloc: crate::super_check::Relocations,
    /// -C: told (pass, done, total) as the passes advance.
    pub progress: Option<Reporter>,
    /// An indirect block on filesystem metadata was met (not under -n):
    /// after pass 2 has read the directories the check starts over, as
    /// e2fsck's E2F_FLAG_RESTART_LATER, once pass 1B has moved it.
    pub restart_later: bool,
    /// The check starts over after pass 1 (e2fsck's E2F_FLAG_RESTART): an
    /// inode was cleared halfway through its block map.
    pub restart: bool,
}

/// The blocks pass 1 set aside for pass 3's repairs.
#[derive(Default, Clone, Copy)]
pub struct RepairBlocks {
    pub root: Option<u64>,
    pub lost_found: Option<u64>,
}

impl Checker {
    pub fn new(fs: Filesystem, ask: Asker, now: u32) -> Self {
        let first_data = fs.sb().s_first_data_block as u64;
        let blocks_count = fs.sb().s_blocks_count as u64;
        let inodes_count = fs.sb().s_inodes_count;
        let nblocks = blocks_count.saturating_sub(first_data);
        Checker {
            ask,
            now,
            clock_sane: true,
            first_data,
            blocks_count,
            inodes_count,
            used: Bitmap::new(inodes_count as u64),
            dirs: Bitmap::new(inodes_count as u64),
            regular: Bitmap::new(inodes_count as u64),
            bad: Bitmap::new(inodes_count as u64),
            imagic: Bitmap::new(inodes_count as u64),
            in_bad_blocks: Bitmap::new(inodes_count as u64),
            link_info: vec![0; inodes_count as usize + 1],
            counted: vec![0; inodes_count as usize + 1],
            found: Bitmap::new(nblocks),
            dup: HashMap::new(),
            metadata: Bitmap::new(nblocks),
            dir_info: HashMap::new(),
            dir_blocks: Vec::new(),
            dx_dirs: BTreeSet::new(),
            dx_others: BTreeMap::new(),
            large_dirs: 0,
            dx_root_shown: BTreeMap::new(),
            htree_walk: Default::default(),
            rehash: BTreeSet::new(),
            ea_refs: HashMap::new(),
            ea_inode_refs: HashMap::new(),
            ea_block_charge: HashMap::new(),
            ibody_charge: HashMap::new(),
            deferred: Vec::new(),
            read_errors: Default::default(),
            pass1_buf: vec![0; fs.block_size() as usize],
            stats: Stats::default(),
            lost_found: 0,
            bad_lost_found: false,
            handed_over: false,
            handed_over_maps: None,
            recreate_resize: false,
            early_allocs: Vec::new(),
            bitmaps_read_early: false,
            bad_blocks_list_lost: false,
            repair_blocks: RepairBlocks::default(),
            reloc: Default::default(),
            progress: None,
            restart_later: false,
            restart: false,
            fs,
        }
    }

    /// Forgets everything the passes learned (after an inode table was
    /// relocated the check starts over).
    pub fn reset(&mut self) {
        let nblocks = self.blocks_count.saturating_sub(self.first_data);
        let n = self.inodes_count as u64;
        self.used = Bitmap::new(n);
        self.dirs = Bitmap::new(n);
        self.regular = Bitmap::new(n);
        self.bad = Bitmap::new(n);
        self.imagic = Bitmap::new(n);
        self.in_bad_blocks = Bitmap::new(n);
        self.link_info = vec![0; n as usize + 1];
        self.counted = vec![0; n as usize + 1];
        self.found = Bitmap::new(nblocks);
        self.dup.clear();
        self.metadata = Bitmap::new(nblocks);
        self.dir_info.clear();
        self.dir_blocks.clear();
        self.dx_dirs.clear();
        self.dx_others.clear();
        self.rehash.clear();
        self.ea_refs.clear();
        self.ea_inode_refs.clear();
        self.ea_block_charge.clear();
        self.ibody_charge.clear();
        self.deferred.clear();
        self.stats = Stats::default();
        self.lost_found = 0;
        self.bad_lost_found = false;
        self.handed_over = false;
        self.handed_over_maps = None;
        self.early_allocs.clear();
        self.repair_blocks = RepairBlocks::default();
        self.reloc = Default::default();
        self.restart_later = false;
        self.restart = false;
    }

    /// Reports progress within a pass (a no-op without -C).
    pub fn tick(&mut self, pass: usize, done: u64, total: u64) {
        if let Some(p) = self.progress.as_mut() {
            p(pass, done, total);
        }
    }

    pub fn problem(&mut self, code: Code, ctx: &Ctx) -> Result<bool> {
        self.halt_if_read_failed(code, ctx)?;
        self.ask.fix(code, ctx)
    }

    /// Reports a fatal problem (e2fsck's PR_FATAL) and returns the stop
    /// that ends the check with it.
    pub fn fatal(&mut self, code: Code, ctx: &Ctx) -> anyhow::Error {
        debug_assert!(crate::problem::lookup(code).flags & crate::problem::FATAL != 0);
        match self.problem(code, ctx) {
            Err(e) => e,
            Ok(_) => crate::ask::Stop::Aborted.into(),
        }
    }

    pub fn read_only(&self) -> bool {
        !self.fs.is_writable()
    }

    pub fn block_ok(&self, b: u64) -> bool {
        b >= self.first_data && b < self.blocks_count
    }

    /// Whether `ino` sits in a bad block of its inode table.
    pub fn in_bad_block(&self, ino: u32) -> bool {
        ino >= 1 && ino <= self.inodes_count && self.in_bad_blocks.get(ino as u64 - 1)
    }

    pub fn is_used(&self, ino: u32) -> bool {
        ino >= 1 && ino <= self.inodes_count && self.used.get(ino as u64 - 1)
    }

    /// Whether the superblock names `ino` as a quota inode or the orphan
    /// file, whatever its features say: no directory entry may name it
    /// (e2fsck's pass 2 test).
    pub fn named_by_superblock(&self, ino: u32) -> bool {
        let sb = self.fs.sb();
        ino != 0
            && [
                sb.s_usr_quota_inum,
                sb.s_grp_quota_inum,
                sb.s_prj_quota_inum,
                sb.s_orphan_file_inum,
            ]
            .contains(&ino)
    }

    pub fn is_dir(&self, ino: u32) -> bool {
        ino >= 1 && ino <= self.inodes_count && self.dirs.get(ino as u64 - 1)
    }

    pub fn set_ino(map: &mut Bitmap, ino: u32, v: bool) {
        if ino >= 1 {
            map.set(ino as u64 - 1, v);
        }
    }

    /// Records a block as in use; a second claim makes it multiply-claimed.
    pub fn mark_found(&mut self, b: u64) {
        let i = b - self.first_data;
        if self.found.get(i) {
            *self.dup.entry(b as u32).or_insert(1) += 1;
        } else {
            self.found.set(i, true);
        }
    }

    /// Allocates a block: from the maps pass 1 is building, or (after the
    /// hand-over) through the library, which then holds those maps.
    pub fn alloc_block(&mut self, goal: u64) -> Result<u32> {
        if self.handed_over {
            return Ok(self.fs.alloc_block(goal)?);
        }
        let n = self.found.len();
        let g = goal.saturating_sub(self.first_data).min(n);
        let i = self
            .found
            .first_clear(g, n)
            .or_else(|| self.found.first_clear(0, g))
            .ok_or(ext2fs::Error::NoSpace { what: "a block" })?;
        self.found.set(i, true);
        self.early_allocs.push(i + self.first_data);
        Ok((i + self.first_data) as u32)
    }

    /// Frees a block that was in use (after the hand-over, through the
    /// library so its counts follow).
    pub fn release_block(&mut self, b: u64) -> Result<()> {
        if !self.block_ok(b) {
            return Ok(());
        }
        if let Some(n) = self.dup.get_mut(&(b as u32)) {
            // Still claimed by someone else.
            *n -= 1;
            if *n <= 1 {
                self.dup.remove(&(b as u32));
            }
            return Ok(());
        }
        if self.metadata.get(b - self.first_data) {
            return Ok(());
        }
        if self.handed_over {
            self.fs.mark_block(b, false)?;
        } else {
            self.found.set(b - self.first_data, false);
        }
        Ok(())
    }

    pub fn write_inode(&mut self, ino: u32, inode: &Inode) -> Result<()> {
        self.fs.write_inode(ino, inode)?;
        Ok(())
    }

    /// Marks an inode deleted on disk (e2fsck's clear_inode): no links,
    /// dtime now. Its blocks stay as they are (see `deallocate`).
    pub fn clear_inode(&mut self, ino: u32, inode: &mut Inode) -> Result<()> {
        inode.base.i_links_count = 0;
        inode.base.i_dtime = self.now;
        if ino == ext2fs::inode::BAD_INO {
            // A bad blocks inode worth clearing is cleared entirely.
            *inode = Inode::new(inode.size);
        } else if ino < self.fs.sb().first_ino() {
            // Reserved inodes are used whatever their link count: their
            // block map must go, or the next check finds it again.
            inode.base.i_block = [0; 15];
        }
        self.write_inode(ino, inode)?;
        self.forget_inode(ino);
        Ok(())
    }

    /// e2fsck_clear_inode as it is: no flags, no links, dtime now, a
    /// reserved inode's block map gone (the bad blocks inode's first 128
    /// bytes all); every other field kept.
    pub fn clear_inode_as_e2fsck(&mut self, ino: u32, inode: &mut Inode) -> Result<()> {
        inode.base.i_flags = 0;
        inode.base.i_links_count = 0;
        inode.base.i_dtime = self.now;
        if ino < self.fs.sb().first_ino() {
            inode.base.i_block = [0; 15];
        }
        if ino == ext2fs::inode::BAD_INO {
            inode.base = Default::default();
        }
        self.write_inode(ino, inode)?;
        self.forget_inode(ino);
        Ok(())
    }

    fn forget_inode(&mut self, ino: u32) {
        if ino as usize >= self.link_info.len() {
            return;
        }
        self.link_info[ino as usize] = 0;
        let was_dir = self.is_dir(ino);
        if ino >= self.fs.sb().first_ino() || ino == ext2fs::inode::ROOT_INO {
            Self::set_ino(&mut self.used, ino, false);
        }
        Self::set_ino(&mut self.dirs, ino, false);
        Self::set_ino(&mut self.regular, ino, false);
        Self::set_ino(&mut self.bad, ino, false);
        self.dx_others.remove(&ino);
        if was_dir {
            self.dir_info.remove(&ino);
            self.dx_dirs.remove(&ino);
            self.dir_blocks.retain(|d| d.ino != ino);
        }
        if self.handed_over {
            let _ = self.fs.mark_inode(ino, false, was_dir);
        }
    }

    /// Clears an inode and frees its blocks and xattr block reference.
    pub fn deallocate(&mut self, ino: u32) -> Result<()> {
        let mut inode = self.fs.read_inode(ino)?;
        let acl = inode.base.i_file_acl;
        if acl != 0 && self.block_ok(acl as u64) {
            if let Some(r) = self.ea_refs.get_mut(&acl) {
                r.0 = r.0.saturating_sub(1);
                if r.0 == 0 {
                    self.ea_refs.remove(&acl);
                    self.release_block(acl as u64)?;
                }
            }
        }
        // e2fsck's rule (ext2fs_inode_has_valid_blocks2): a short symlink
        // that counts blocks holds a map, whose blocks are freed.
        if crate::pass1::holds_block_map(&inode) {
            for p in crate::blocks::legal_blocks(&self.fs, &inode).blocks {
                self.release_block(p.pblk as u64)?;
            }
        }
        self.clear_inode(ino, &mut inode)
    }
}

/// The library's "no space" error behind `e`, the one failure the passes
/// report as a problem and go on from (others end the run).
pub fn no_space(e: &anyhow::Error) -> Option<&ext2fs::Error> {
    e.downcast_ref::<ext2fs::Error>()
        .filter(|e| matches!(e, ext2fs::Error::NoSpace { .. }))
}
