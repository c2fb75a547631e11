//! Block mapping: walking an inode's direct/indirect map, logical to
//! physical lookups, mapping new blocks (indirect blocks made on the way)
//! and freeing a whole map.

use super::Filesystem;
use crate::block_map::{self, BlockKind};
use crate::inode::Inode;
use crate::{Error, Result};

impl Filesystem {
    /// Makes `mapped` (logical, physical data blocks) the inode's whole
    /// map: the indirect blocks it needs are allocated from `goal` on and
    /// written, and i_block and i_blocks (data, indirect and the xattr
    /// block) are set. The caller writes the inode.
    pub(super) fn install_block_map(
        &mut self,
        inode: &mut Inode,
        mapped: &[(u64, u32)],
        mut goal: u64,
    ) -> Result<()> {
        let (i_block, ind) = block_map::build(mapped, self.geo.block_size, || {
            let b = self.alloc_block(goal)?;
            goal = b as u64 + 1;
            Ok(b)
        })?;
        for (b, contents) in &ind {
            self.write_block(*b as u64, contents)?;
        }
        inode.base.i_block = i_block;
        let acl = usize::from(inode.base.i_file_acl != 0);
        let sectors = (mapped.len() + ind.len() + acl) as u64 * (self.geo.block_size as u64 / 512);
        inode.base.i_blocks = sectors as u32;
        Ok(())
    }

    /// Calls `visit` for every block of the inode's map (data and
    /// indirect). Block numbers outside the filesystem are an error.
    pub fn walk_blocks<V>(&self, inode: &Inode, mut visit: V) -> Result<()>
    where
        V: FnMut(BlockKind, u32) -> bool,
    {
        if !self.has_block_map(inode) {
            return Ok(());
        }
        let blocks = self.geo.blocks_count;
        let mut bad = None;
        block_map::walk(
            &inode.base.i_block,
            self.geo.block_size,
            |b| self.read_block(b as u64),
            |k, b| {
                if b as u64 >= blocks || (b as u64) < self.geo.first_data_block as u64 {
                    bad = Some(b);
                    return false;
                }
                visit(k, b)
            },
        )?;
        match bad {
            Some(b) => Err(Error::BlockOutOfRange {
                block: b as u64,
                blocks,
            }),
            None => Ok(()),
        }
    }

    /// Whether i_block holds a block map (not a fast symlink or a device).
    pub fn has_block_map(&self, inode: &Inode) -> bool {
        !(inode.is_device() || inode.is_fifo_or_socket() || inode.is_fast_symlink())
    }

    /// The data blocks as (logical, physical), in logical order.
    pub fn data_blocks(&self, inode: &Inode) -> Result<Vec<(u64, u32)>> {
        let mut out = Vec::new();
        self.walk_blocks(inode, |k, b| {
            if let BlockKind::Data(l) = k {
                out.push((l, b));
            }
            true
        })?;
        Ok(out)
    }

    /// Maps one new block at `logical` into the inode (allocating indirect
    /// blocks as needed) and writes `data` into it. The caller writes the
    /// inode back.
    pub fn append_block(
        &mut self,
        ino: u32,
        inode: &mut Inode,
        logical: u64,
        data: &[u8],
    ) -> Result<u32> {
        let goal = self.block_goal(ino, inode, logical)?;
        let b = self.alloc_data_block(inode, logical, goal)?;
        self.write_block(b as u64, data)?;
        Ok(b)
    }

    /// Where to look for a block for `logical`: right after the block
    /// before it, else the start of the inode's group.
    pub(super) fn block_goal(&self, ino: u32, inode: &Inode, logical: u64) -> Result<u64> {
        if logical > 0 {
            if let Some(p) = self.bmap(inode, logical - 1)? {
                return Ok(p as u64 + 1);
            }
        }
        Ok(self.geo.group_first_block(self.geo.inode_group(ino)))
    }

    /// The physical block of logical block `lblk`, None for a hole.
    pub fn bmap(&self, inode: &Inode, lblk: u64) -> Result<Option<u32>> {
        self.bmap_through(inode, lblk, |fs, b, idx| fs.map_entry(b, idx))
    }

    /// `bmap` as libext2fs' ext2fs_bmap2 reads the map: an indirect block
    /// past the filesystem is read from the image all the same (past the
    /// image's end, a short read), and logical blocks from 2^32 - 1 on are
    /// beyond the largest file. For tools that must fail where e2fsprogs
    /// fails (debugfs' dump and cat).
    /// The inode's flags are followed as ext2fs_bmap2 follows them on
    /// ext2: inline data maps no block; the extents flag needs an extent
    /// header in i_block (an all-zero i_block is an empty tree, all holes;
    /// a tree with extents is not read here).
    pub fn bmap_anywhere(&self, inode: &Inode, lblk: u64) -> Result<Option<u32>> {
        if lblk >= u32::MAX as u64 {
            return Err(Error::BlockBeyondLargestFile(lblk));
        }
        if inode.flags() & crate::inode::flags::INLINE_DATA != 0 {
            return Err(Error::InlineDataNoBlock);
        }
        if inode.flags() & crate::inode::flags::EXTENTS != 0 {
            return match inode.base.i_block {
                [0, ..] if inode.base.i_block.iter().all(|&w| w == 0) => Ok(None),
                _ if !inode.holds_extent_header() => Err(Error::ExtentHeaderBad),
                // No entries: every block a hole.
                [w0, ..] if w0 >> 16 == 0 => Ok(None),
                _ => Err(Error::ExtentsUnsupported),
            };
        }
        self.bmap_through(inode, lblk, |fs, b, idx| {
            if b < fs.geo.blocks_count {
                return fs.map_entry(b, idx);
            }
            Ok(crate::codec::le32(&fs.read_block_anywhere(b)?, idx * 4))
        })
    }

    /// ext2fs_bmap2 given a block buffer: [`Filesystem::bmap_anywhere`]'s
    /// answer, each indirect block on the way read whole into `scratch`
    /// (one block's size) as libext2fs reads it there; a read that fails
    /// leaves what it read of the block and zeros after (unix_io's short
    /// read). For debugfs' htree_dump, which reads the next index block
    /// into that same buffer and may list an index running on into it.
    pub fn bmap_through_buffer(
        &self,
        inode: &Inode,
        lblk: u64,
        scratch: &mut [u8],
    ) -> Result<Option<u32>> {
        use crate::inode::flags::{EXTENTS, INLINE_DATA};
        if inode.flags() & (INLINE_DATA | EXTENTS) != 0 || lblk >= u32::MAX as u64 {
            return self.bmap_anywhere(inode, lblk);
        }
        let (slot, path) = block_map::path_to(lblk, self.geo.block_size)?;
        let mut b = inode.base.i_block[slot];
        for idx in path {
            if b == 0 {
                return Ok(None);
            }
            let read = self.read_block_anywhere(b as u64);
            let (Ok(buf) | Err(Error::BlockRead { partial: buf, .. })) = &read else {
                return read.map(|_| None);
            };
            let n = scratch.len().min(buf.len());
            scratch[..n].copy_from_slice(&buf[..n]);
            b = crate::codec::le32(&read?, idx * 4);
        }
        Ok((b != 0).then_some(b))
    }

    /// The walk down the map to `lblk`, each indirect entry read by `entry`.
    fn bmap_through(
        &self,
        inode: &Inode,
        lblk: u64,
        entry: impl Fn(&Self, u64, usize) -> Result<u32>,
    ) -> Result<Option<u32>> {
        let (slot, path) = block_map::path_to(lblk, self.geo.block_size)?;
        let mut b = inode.base.i_block[slot];
        for idx in path {
            if b == 0 {
                return Ok(None);
            }
            b = entry(self, b as u64, idx)?;
        }
        Ok((b != 0).then_some(b))
    }

    /// Entry `idx` of indirect block `block` (one 4-byte read, or none
    /// when the cache holds the block).
    pub(super) fn map_entry(&self, block: u64, idx: usize) -> Result<u32> {
        self.check_block(block)?;
        if let Some(data) = self.cache.as_ref().and_then(|c| c.get(block)) {
            return Ok(crate::codec::le32(data, idx * 4));
        }
        let mut raw = [0u8; 4];
        self.image.read_at(
            block * self.geo.block_size as u64 + idx as u64 * 4,
            &mut raw,
        )?;
        Ok(u32::from_le_bytes(raw))
    }

    /// Points logical block `lblk` at `phys`, allocating (zeroed) indirect
    /// blocks on the way; i_blocks counts the indirect blocks it adds.
    pub fn bmap_set(&mut self, inode: &mut Inode, lblk: u64, phys: u32) -> Result<()> {
        match self.map_path(inode, lblk, phys as u64)? {
            (None, slot, _) => inode.base.i_block[slot] = phys,
            (Some(holder), idx, _) => {
                self.modify_block(holder as u64, |buf| crate::codec::put32(buf, idx * 4, phys))?
            }
        }
        Ok(())
    }

    /// Where logical block `lblk`'s pointer lives: the indirect block
    /// holding it and the index there (None: slot `idx` of the inode).
    /// Indirect blocks missing on the way are made (zeroed, counted in
    /// i_blocks) from `goal` on; the goal after them comes back too.
    pub(super) fn map_path(
        &mut self,
        inode: &mut Inode,
        lblk: u64,
        goal: u64,
    ) -> Result<(Option<u32>, usize, u64)> {
        let bs = self.geo.block_size;
        let (slot, path) = block_map::path_to(lblk, bs)?;
        let Some((&last, upper)) = path.split_last() else {
            return Ok((None, slot, goal));
        };
        let mut goal = goal;
        if inode.base.i_block[slot] == 0 {
            let nb = self.alloc_block(goal)?;
            self.write_block(nb as u64, &vec![0; bs as usize])?;
            inode.base.i_block[slot] = nb;
            inode.base.i_blocks += bs / 512;
            goal = nb as u64 + 1;
        }
        let mut cur = inode.base.i_block[slot];
        for &idx in upper {
            let mut next = self.map_entry(cur as u64, idx)?;
            if next == 0 {
                next = self.alloc_block(goal)?;
                self.write_block(next as u64, &vec![0; bs as usize])?;
                inode.base.i_blocks += bs / 512;
                self.modify_block(cur as u64, |buf| crate::codec::put32(buf, idx * 4, next))?;
                goal = next as u64 + 1;
            }
            cur = next;
        }
        Ok((Some(cur), last, goal))
    }

    /// A new data block for logical block `lblk`, searched from `goal`,
    /// after the indirect blocks it needs: e2fsprogs' bmap with BMAP_ALLOC
    /// makes those first, so a file's (IND) block sits before block 12
    /// (debugfs `write`, mke2fs -d). The block is mapped and counted.
    pub(super) fn alloc_data_block(
        &mut self,
        inode: &mut Inode,
        lblk: u64,
        goal: u64,
    ) -> Result<u32> {
        let goal = self.map_path(inode, lblk, goal)?.2;
        let p = self.alloc_block(goal)?;
        self.bmap_set(inode, lblk, p)?;
        inode.base.i_blocks += self.geo.block_size / 512;
        Ok(p)
    }

    /// Frees every block of the inode's map and clears i_block.
    pub fn free_file_blocks(&mut self, inode: &mut Inode) -> Result<()> {
        if !self.has_block_map(inode) {
            return Ok(());
        }
        let mut blocks = Vec::new();
        self.walk_blocks(inode, |_, b| {
            blocks.push(b);
            true
        })?;
        for b in blocks {
            self.mark_block(b as u64, false)?;
        }
        inode.base.i_block = [0; 15];
        let acl = if inode.base.i_file_acl != 0 {
            self.geo.block_size / 512
        } else {
            0
        };
        inode.base.i_blocks = acl;
        Ok(())
    }
}
