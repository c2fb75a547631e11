//! The high-level filesystem API the tools share: open an image, read
//! inodes, files and directories, and (opened for writing) allocate, create
//! and delete objects with the union rules, keeping free counts in groups
//! and superblock consistent.

use std::path::Path;

use crate::bitmap::Bitmap;
use crate::block_cache::BlockCache;
use crate::block_map::{self, BlockKind};
use crate::dirent::{self, ft, DirEntry};
use crate::features::{incompat, ro_compat, SUPPORTED_INCOMPAT};
use crate::group_desc::{self, GroupDesc};
use crate::image::Image;
use crate::inode::{self, flags, Inode, ROOT_INO};
use crate::layout::Geometry;
use crate::superblock::{Superblock, SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE};
use crate::{Error, Result};

mod orphan;

/// `read_file` refuses larger files (use `read_file_with` to stream them),
/// so a corrupt i_size cannot exhaust memory.
pub const MAX_IN_MEMORY_FILE: u64 = 1 << 30;

/// How to open a filesystem.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    /// Open read-write (refused on a mounted filesystem).
    pub write: bool,
    /// Use the superblock at this block number (a backup), like `-b`.
    pub superblock: Option<u64>,
    /// Block size to assume with `superblock` (`-B`); probed when absent.
    pub block_size: Option<u32>,
    /// Open even with incompat features this library does not know.
    pub force: bool,
}

/// An open ext2 filesystem.
#[derive(Debug)]
pub struct Filesystem {
    image: Image,
    pub sb: Superblock,
    pub geo: Geometry,
    pub groups: Vec<GroupDesc>,
    /// Byte offset of the superblock this was opened from.
    sb_offset: u64,
    block_bitmap: Option<Bitmap>,
    inode_bitmap: Option<Bitmap>,
    dirty_groups: Vec<bool>,
    dirty: bool,
    /// Flush writes only the primary superblock and descriptors, leaving
    /// the backups as they are (libext2fs's EXT2_FLAG_MASTER_SB_ONLY).
    primary_only: bool,
    /// A fixed clock (SOURCE_DATE_EPOCH) for reproducible images.
    fixed_time: Option<u32>,
    /// The caller promises new names are not in their directory yet
    /// (a bulk copy of one tree): inserts only look at the last block.
    unique_names: bool,
    /// Single blocks and short runs held back for a bulk copy
    /// (`set_write_cache`).
    cache: Option<BlockCache>,
}

impl Filesystem {
    pub fn open(path: &Path, opts: &OpenOptions) -> Result<Self> {
        let image = if opts.write {
            Image::open_read_write(path)?
        } else {
            Image::open_read_only(path)?
        };
        Self::from_image(image, opts)
    }

    /// Opens a filesystem on an already opened image.
    pub fn from_image(image: Image, opts: &OpenOptions) -> Result<Self> {
        let (sb, sb_offset) = match opts.superblock {
            None => (
                read_superblock_at(&image, SUPERBLOCK_OFFSET)?,
                SUPERBLOCK_OFFSET,
            ),
            Some(blk) => probe_backup(&image, blk, opts.block_size)?,
        };
        sb.validate()?;
        let unknown = sb.s_feature_incompat & !SUPPORTED_INCOMPAT;
        if unknown != 0 && !opts.force {
            let names = crate::features::FeatureSet {
                incompat: unknown,
                ..Default::default()
            }
            .names();
            return Err(Error::UnsupportedFeatures(names.join(" ")));
        }
        let geo = Geometry::from_superblock(&sb);
        // The descriptor table follows the superblock copy it came with.
        let gdt_block = if sb_offset == SUPERBLOCK_OFFSET {
            sb.s_first_data_block as u64 + 1
        } else {
            sb_offset / geo.block_size as u64 + 1
        };
        let table_bytes = geo.desc_blocks as u64 * geo.block_size as u64;
        if gdt_block * geo.block_size as u64 + table_bytes > image.len() {
            // A corrupt count must not make us allocate more than the image.
            return Err(Error::CorruptSuperblock(format!(
                "{} groups need a descriptor table past the end of the {}-byte image",
                geo.group_count,
                image.len()
            )));
        }
        let mut raw = vec![0u8; table_bytes as usize];
        image.read_at(gdt_block * geo.block_size as u64, &mut raw)?;
        let groups = group_desc::parse_table(&raw, geo.group_count)?;
        let n = groups.len();
        Ok(Filesystem {
            image,
            sb,
            geo,
            groups,
            sb_offset,
            block_bitmap: None,
            inode_bitmap: None,
            dirty_groups: vec![false; n],
            dirty: false,
            primary_only: false,
            fixed_time: None,
            unique_names: false,
            cache: None,
        })
    }

    pub fn image(&self) -> &Image {
        &self.image
    }

    pub fn block_size(&self) -> u32 {
        self.geo.block_size
    }

    pub fn is_writable(&self) -> bool {
        self.image.is_writable()
    }

    pub fn whiteout_feature(&self) -> bool {
        self.sb.has_incompat(incompat::WHITEOUT)
    }

    pub fn filetype_feature(&self) -> bool {
        self.sb.has_incompat(incompat::FILETYPE)
    }

    /// Byte offset of the superblock in use (1024 unless a backup).
    pub fn superblock_offset(&self) -> u64 {
        self.sb_offset
    }

    // ----- blocks -------------------------------------------------------

    fn check_block(&self, block: u64) -> Result<()> {
        if block >= self.geo.blocks_count {
            return Err(Error::BlockOutOfRange {
                block,
                blocks: self.geo.blocks_count,
            });
        }
        Ok(())
    }

    pub fn read_block(&self, block: u64) -> Result<Vec<u8>> {
        self.read_blocks(block, 1)
    }

    /// Reads `count` consecutive blocks in one I/O.
    pub fn read_blocks(&self, block: u64, count: u32) -> Result<Vec<u8>> {
        self.check_block(block)?;
        if count > 0 {
            self.check_block(block + count as u64 - 1)?;
        }
        if let (1, Some(data)) = (count, self.cache.as_ref().and_then(|c| c.get(block))) {
            return Ok(data.to_vec());
        }
        let bs = self.geo.block_size as u64;
        let mut buf = vec![0u8; (count as u64 * bs) as usize];
        self.image.read_at(block * bs, &mut buf)?;
        if let Some(c) = &self.cache {
            c.overlay(block, &mut buf);
        }
        Ok(buf)
    }

    pub fn write_block(&mut self, block: u64, data: &[u8]) -> Result<()> {
        self.check_block(block)?;
        let bs = self.geo.block_size as u64;
        if !(data.len() as u64).is_multiple_of(bs) {
            return Err(Error::NotWholeBlocks(data.len()));
        }
        let count = data.len() as u64 / bs;
        self.check_block(block + count - 1)?;
        if let Some(c) = &mut self.cache {
            // Short runs too (small files): files are laid out one after
            // the other, so the cache writes them out as long runs.
            if data.len() < BlockCache::SHORT_RUN {
                for (k, one) in data.chunks(bs as usize).enumerate() {
                    c.insert(block + k as u64, one.to_vec());
                }
                return self.write_cache_if_full();
            }
            c.forget(block, count);
        }
        self.image.write_at(block * bs, data)
    }

    /// Holds single-block and short writes in memory (up to `bytes`) until the cache
    /// fills or the filesystem is flushed: for bulk copies (mke2fs -d),
    /// which rewrite the same inode table, indirect and directory blocks
    /// many times. Reads see the held blocks.
    pub fn set_write_cache(&mut self, bytes: usize) {
        self.cache = Some(BlockCache::new(self.geo.block_size, bytes));
    }

    /// Changes a block in place when the cache holds it (no copy), else
    /// reads, changes and writes it.
    fn modify_block(&mut self, block: u64, change: impl FnOnce(&mut [u8])) -> Result<()> {
        if let Some(data) = self.cache.as_mut().and_then(|c| c.get_mut(block)) {
            change(data);
            return Ok(());
        }
        let mut data = self.read_block(block)?;
        change(&mut data);
        self.write_block(block, &data)
    }

    fn write_cache_if_full(&mut self) -> Result<()> {
        match &mut self.cache {
            Some(c) if c.is_full() => c.write_out(&self.image),
            _ => Ok(()),
        }
    }

    // ----- inodes -------------------------------------------------------

    fn inode_location(&self, ino: u32) -> Result<u64> {
        if ino == 0 || ino > self.sb.s_inodes_count {
            return Err(Error::InodeOutOfRange {
                ino,
                inodes: self.sb.s_inodes_count,
            });
        }
        let group = self.geo.inode_group(ino);
        let index = (ino - 1) % self.geo.inodes_per_group;
        let table = self.groups[group as usize].bg_inode_table as u64;
        if table == 0 || table + self.geo.inode_table_blocks as u64 > self.geo.blocks_count {
            return Err(Error::CorruptGroupDesc {
                group,
                why: format!("inode table at block {table} is outside the filesystem"),
            });
        }
        Ok(table * self.geo.block_size as u64 + index as u64 * self.geo.inode_size as u64)
    }

    pub fn read_inode(&self, ino: u32) -> Result<Inode> {
        let off = self.inode_location(ino)?;
        let size = self.geo.inode_size as usize;
        let bs = self.geo.block_size as u64;
        if let Some(block) = self.cache.as_ref().and_then(|c| c.get(off / bs)) {
            let at = (off % bs) as usize;
            return Inode::parse(&block[at..at + size]);
        }
        let mut buf = vec![0u8; size];
        self.image.read_at(off, &mut buf)?;
        Inode::parse(&buf)
    }

    pub fn write_inode(&mut self, ino: u32, inode: &Inode) -> Result<()> {
        let off = self.inode_location(ino)?;
        let mut bytes = inode.to_bytes();
        bytes.resize(self.geo.inode_size as usize, 0);
        if self.cache.is_some() {
            // Through the cache: the inode's table block is written once
            // for all the inodes in it.
            let bs = self.geo.block_size as u64;
            let at = (off % bs) as usize;
            return self.modify_block(off / bs, |data| {
                data[at..at + bytes.len()].copy_from_slice(&bytes)
            });
        }
        self.image.write_at(off, &bytes)
    }

    /// Reads a whole group's inode table in one I/O.
    pub fn read_inode_table(&self, group: u32) -> Result<Vec<u8>> {
        let table = self.groups[group as usize].bg_inode_table as u64;
        self.read_blocks(table, self.geo.inode_table_blocks)
    }

    // ----- file contents ------------------------------------------------

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

    /// Reads a file's contents (holes read as zeroes), up to its size.
    pub fn read_file(&self, inode: &Inode) -> Result<Vec<u8>> {
        let size = inode.size();
        let bs = self.geo.block_size as u64;
        // A corrupt size must not make us allocate terabytes.
        let max = block_map::max_logical_blocks(self.geo.block_size) * bs;
        if size > max {
            return Err(Error::FileTooLarge(size));
        }
        let mut out = Vec::new();
        self.read_file_with(inode, |off, data| {
            if out.len() < off as usize {
                out.resize(off as usize, 0);
            }
            out.extend_from_slice(data);
            Ok(())
        })?;
        out.resize(size as usize, 0);
        Ok(out)
    }

    /// Streams a file's data: `sink(offset, bytes)` for each run of
    /// consecutive blocks (holes skipped), clipped to the file size.
    pub fn read_file_with<S>(&self, inode: &Inode, mut sink: S) -> Result<()>
    where
        S: FnMut(u64, &[u8]) -> Result<()>,
    {
        let size = inode.size();
        let bs = self.geo.block_size as u64;
        let blocks = self.data_blocks(inode)?;
        let mut i = 0;
        while i < blocks.len() {
            let (l0, p0) = blocks[i];
            let mut n = 1;
            while i + n < blocks.len()
                && n < 256
                && blocks[i + n].0 == l0 + n as u64
                && blocks[i + n].1 as u64 == p0 as u64 + n as u64
            {
                n += 1;
            }
            let off = l0 * bs;
            if off < size {
                let data = self.read_blocks(p0 as u64, n as u32)?;
                let keep = ((size - off) as usize).min(data.len());
                sink(off, &data[..keep])?;
            }
            i += n;
        }
        Ok(())
    }

    /// A symlink's target (fast: from i_block; slow: from its block).
    pub fn read_link(&self, inode: &Inode) -> Result<Vec<u8>> {
        if inode.is_fast_symlink() {
            return Ok(inode.fast_symlink_target());
        }
        let size = inode.size();
        if size >= self.geo.block_size as u64 {
            return Err(Error::SymlinkTooLong(size));
        }
        self.read_file(inode)
    }

    // ----- directories --------------------------------------------------

    /// Every entry of a directory, block by block (whiteouts, fallthrus and
    /// free slots included; callers filter with `DirEntry::in_use`).
    pub fn read_dir_blocks(&self, dir: u32) -> Result<Vec<(u64, Vec<DirEntry>)>> {
        let inode = self.read_inode(dir)?;
        if !inode.is_dir() {
            return Err(Error::NotDirectory(format!("<{dir}>")));
        }
        let mut out = Vec::new();
        for (l, b) in self.data_blocks(&inode)? {
            if l * self.geo.block_size as u64 >= inode.size() {
                break;
            }
            let buf = self.read_block(b as u64)?;
            out.push((l, dirent::parse_block(&buf, dir, b as u64)?));
        }
        Ok(out)
    }

    /// The entries in use (live, and with the whiteout feature also
    /// whiteouts and fallthrus), '.' and '..' included.
    pub fn read_dir(&self, dir: u32) -> Result<Vec<DirEntry>> {
        let wh = self.whiteout_feature();
        Ok(self
            .read_dir_blocks(dir)?
            .into_iter()
            .flat_map(|(_, es)| es)
            .filter(|e| e.in_use(wh))
            .collect())
    }

    /// Looks a name up in a directory; whiteouts and fallthrus match too.
    pub fn lookup_entry(&self, dir: u32, name: &[u8]) -> Result<Option<DirEntry>> {
        let wh = self.whiteout_feature();
        let inode = self.read_inode(dir)?;
        if !inode.is_dir() {
            return Err(Error::NotDirectory(format!("<{dir}>")));
        }
        for (l, b) in self.data_blocks(&inode)? {
            if l * self.geo.block_size as u64 >= inode.size() {
                break;
            }
            let buf = self.read_block(b as u64)?;
            // Scan in place; parse fully (with its checks) only on a hit
            // or when the block is malformed.
            let mut covered = 0;
            for e in dirent::iter_block(&buf) {
                covered = e.offset + e.rec_len;
                if e.in_use(wh) && e.name == name {
                    return Ok(dirent::parse_block(&buf, dir, b as u64)?
                        .into_iter()
                        .find(|x| x.in_use(wh) && x.name == name));
                }
            }
            if covered != buf.len() {
                dirent::parse_block(&buf, dir, b as u64)?;
            }
        }
        Ok(None)
    }

    /// Resolves a path (absolute, or relative to `cwd`) to an inode number.
    /// Symlinks in the middle are not followed (as debugfs does).
    pub fn namei(&self, cwd: u32, path: &str) -> Result<u32> {
        let mut ino = if path.starts_with('/') { ROOT_INO } else { cwd };
        for comp in path.split('/').filter(|c| !c.is_empty()) {
            match self.lookup_entry(ino, comp.as_bytes())? {
                Some(e) if e.inode != 0 => ino = e.inode,
                _ => return Err(Error::NotFound(path.to_string())),
            }
        }
        Ok(ino)
    }

    /// Walks the tree below directory `top` depth-first in directory
    /// order, calling `visit(path, entry)` for every entry in use except
    /// '.' and '..' (whiteouts and fallthrus included, with inode 0).
    /// Paths are relative to `top`, '/'-separated. A directory reached a
    /// second time (a loop in a corrupt image) is not entered again.
    pub fn walk_tree<V>(&self, top: u32, mut visit: V) -> Result<()>
    where
        V: FnMut(&[u8], &DirEntry) -> Result<()>,
    {
        let mut seen = std::collections::HashSet::new();
        seen.insert(top);
        let mut stack: Vec<(u32, Vec<u8>)> = vec![(top, Vec::new())];
        while let Some((dir, prefix)) = stack.pop() {
            let entries = self.read_dir(dir)?;
            let mut subdirs = Vec::new();
            for e in entries.iter().filter(|e| !e.is_dot() && !e.is_dotdot()) {
                let mut path = prefix.clone();
                if !path.is_empty() {
                    path.push(b'/');
                }
                path.extend_from_slice(&e.name);
                visit(&path, e)?;
                if e.inode != 0 && self.read_inode(e.inode)?.is_dir() && seen.insert(e.inode) {
                    subdirs.push((e.inode, path));
                }
            }
            // Reverse so the first subdirectory is walked first.
            stack.extend(subdirs.into_iter().rev());
        }
        Ok(())
    }

    /// Reads everything reachable from inodes 1..=`max_inodes` that are in
    /// use: block maps, directories, symlink targets and file data
    /// (streamed), then walks the tree from the root. Errors do not stop
    /// the sweep; they are returned with the inode they came from (0 for
    /// the tree walk). A bounded "can this image be read" pass.
    pub fn sweep(&self, max_inodes: u32) -> Vec<(u32, Error)> {
        let mut errors = Vec::new();
        for ino in 1..=self.sb.s_inodes_count.min(max_inodes) {
            let i = match self.read_inode(ino) {
                Ok(i) if i.base.i_links_count > 0 => i,
                Ok(_) => continue,
                Err(e) => {
                    errors.push((ino, e));
                    continue;
                }
            };
            let r = self.data_blocks(&i).and_then(|_| {
                if i.is_dir() {
                    self.read_dir(ino).map(drop)
                } else if i.is_symlink() {
                    self.read_link(&i).map(drop)
                } else {
                    self.read_file_with(&i, |_, _| Ok(()))
                }
            });
            if let Err(e) = r {
                errors.push((ino, e));
            }
        }
        if let Err(e) = self.walk_tree(ROOT_INO, |_, _| Ok(())) {
            errors.push((0, e));
        }
        errors
    }

    // ----- allocation -----------------------------------------------------

    fn require_write(&self) -> Result<()> {
        if !self.image.is_writable() {
            return Err(Error::ReadOnly);
        }
        Ok(())
    }

    /// Loads both bitmaps into memory (done once, before any allocation).
    pub fn load_bitmaps(&mut self) -> Result<()> {
        if self.block_bitmap.is_some() {
            return Ok(());
        }
        let geo = &self.geo;
        let nblocks = geo.blocks_count - geo.first_data_block as u64;
        let mut bb = Bitmap::new(nblocks);
        let mut ib = Bitmap::new(self.sb.s_inodes_count as u64);
        for g in 0..geo.group_count {
            let gd = &self.groups[g as usize];
            let bbuf = self.read_block(gd.bg_block_bitmap as u64)?;
            let first = geo.group_first_block(g) - geo.first_data_block as u64;
            bb.load_group(first, &bbuf, geo.blocks_in_group(g) as u64);
            let ibuf = self.read_block(gd.bg_inode_bitmap as u64)?;
            let ifirst = g as u64 * geo.inodes_per_group as u64;
            ib.load_group(ifirst, &ibuf, geo.inodes_per_group as u64);
        }
        self.block_bitmap = Some(bb);
        self.inode_bitmap = Some(ib);
        Ok(())
    }

    pub fn test_block(&mut self, block: u64) -> Result<bool> {
        self.load_bitmaps()?;
        let first = self.geo.first_data_block as u64;
        Ok(self
            .block_bitmap
            .as_ref()
            .is_some_and(|b| b.get(block.wrapping_sub(first))))
    }

    pub fn test_inode(&mut self, ino: u32) -> Result<bool> {
        self.load_bitmaps()?;
        Ok(self
            .inode_bitmap
            .as_ref()
            .is_some_and(|b| ino > 0 && b.get(ino as u64 - 1)))
    }

    /// Marks a block used or free, keeping group and superblock counts.
    pub fn mark_block(&mut self, block: u64, used: bool) -> Result<()> {
        self.require_write()?;
        self.check_block(block)?;
        self.load_bitmaps()?;
        let first = self.geo.first_data_block as u64;
        let Some(bb) = self.block_bitmap.as_mut() else {
            return Ok(());
        };
        if block < first || bb.get(block - first) == used {
            return Ok(());
        }
        bb.set(block - first, used);
        let g = self.geo.block_group(block) as usize;
        let gd = &mut self.groups[g];
        if used {
            gd.bg_free_blocks_count = gd.bg_free_blocks_count.saturating_sub(1);
            self.sb.s_free_blocks_count = self.sb.s_free_blocks_count.saturating_sub(1);
        } else {
            gd.bg_free_blocks_count = gd.bg_free_blocks_count.saturating_add(1);
            self.sb.s_free_blocks_count = self.sb.s_free_blocks_count.saturating_add(1);
        }
        self.dirty_groups[g] = true;
        self.dirty = true;
        Ok(())
    }

    /// Marks an inode used or free; `dir` adjusts the used-dirs count.
    pub fn mark_inode(&mut self, ino: u32, used: bool, dir: bool) -> Result<()> {
        self.require_write()?;
        self.inode_location(ino)?;
        self.load_bitmaps()?;
        let Some(ib) = self.inode_bitmap.as_mut() else {
            return Ok(());
        };
        if ib.get(ino as u64 - 1) == used {
            return Ok(());
        }
        ib.set(ino as u64 - 1, used);
        let g = self.geo.inode_group(ino) as usize;
        let gd = &mut self.groups[g];
        if used {
            gd.bg_free_inodes_count = gd.bg_free_inodes_count.saturating_sub(1);
            self.sb.s_free_inodes_count = self.sb.s_free_inodes_count.saturating_sub(1);
            if dir {
                gd.bg_used_dirs_count = gd.bg_used_dirs_count.saturating_add(1);
            }
        } else {
            gd.bg_free_inodes_count = gd.bg_free_inodes_count.saturating_add(1);
            self.sb.s_free_inodes_count = self.sb.s_free_inodes_count.saturating_add(1);
            if dir {
                gd.bg_used_dirs_count = gd.bg_used_dirs_count.saturating_sub(1);
            }
        }
        self.dirty_groups[g] = true;
        self.dirty = true;
        Ok(())
    }

    /// Sets or clears one block's bitmap bit and nothing else: the free
    /// counts stay as they are (debugfs' setb/freeb, which mark the bitmap
    /// without libext2fs' alloc_stats; e2fsck then finds the counts wrong).
    pub fn set_block_bit(&mut self, block: u64, used: bool) -> Result<()> {
        self.require_write()?;
        self.check_block(block)?;
        self.load_bitmaps()?;
        let first = self.geo.first_data_block as u64;
        if let Some(bb) = self.block_bitmap.as_mut() {
            if block >= first {
                bb.set(block - first, used);
                self.mark_group_dirty(self.geo.block_group(block));
            }
        }
        Ok(())
    }

    /// Sets or clears one inode's bitmap bit and nothing else (debugfs'
    /// seti/freei), the counts staying as they are.
    pub fn set_inode_bit(&mut self, ino: u32, used: bool) -> Result<()> {
        self.require_write()?;
        self.inode_location(ino)?;
        self.load_bitmaps()?;
        if let Some(ib) = self.inode_bitmap.as_mut() {
            ib.set(ino as u64 - 1, used);
            self.mark_group_dirty(self.geo.inode_group(ino));
        }
        Ok(())
    }

    /// Allocates a free block, searching from `goal` to the end and then
    /// from the start (ext2's goal-directed allocation).
    pub fn alloc_block(&mut self, goal: u64) -> Result<u32> {
        self.require_write()?;
        self.load_bitmaps()?;
        let first = self.geo.first_data_block as u64;
        let n = self.geo.blocks_count - first;
        let goal = goal.clamp(first, self.geo.blocks_count - 1) - first;
        let bb = self
            .block_bitmap
            .as_ref()
            .ok_or(Error::NoSpace { what: "block" })?;
        let found = bb.first_clear(goal, n).or_else(|| bb.first_clear(0, goal));
        let Some(rel) = found else {
            return Err(Error::NoSpace { what: "a block" });
        };
        let block = rel + first;
        self.mark_block(block, true)?;
        Ok(block as u32)
    }

    /// Allocates an inode: directories go to a group with free inodes above
    /// average and the most free blocks (the kernel's ext2 find_group_dir),
    /// other files near their parent.
    pub fn alloc_inode(&mut self, parent: u32, dir: bool) -> Result<u32> {
        self.require_write()?;
        self.load_bitmaps()?;
        let ngroups = self.geo.group_count;
        let parent_group = self.geo.inode_group(parent.max(1)).min(ngroups - 1);
        let order: Vec<u32> = if dir {
            let avg = self.sb.s_free_inodes_count / ngroups;
            let mut best: Option<u32> = None;
            for g in 0..ngroups {
                let gd = &self.groups[g as usize];
                if gd.bg_free_inodes_count as u32 >= avg.max(1)
                    && best.is_none_or(|b| {
                        gd.bg_free_blocks_count > self.groups[b as usize].bg_free_blocks_count
                    })
                {
                    best = Some(g);
                }
            }
            let start = best.unwrap_or(parent_group);
            (0..ngroups).map(|i| (start + i) % ngroups).collect()
        } else {
            (0..ngroups).map(|i| (parent_group + i) % ngroups).collect()
        };
        let first_ino = self.sb.first_ino();
        for g in order {
            if self.groups[g as usize].bg_free_inodes_count == 0 {
                continue;
            }
            let ib = self
                .inode_bitmap
                .as_ref()
                .ok_or(Error::NoSpace { what: "inode" })?;
            let lo = (g as u64 * self.geo.inodes_per_group as u64).max(first_ino as u64 - 1);
            let hi = (g as u64 + 1) * self.geo.inodes_per_group as u64;
            if let Some(i) = ib.first_clear(lo, hi) {
                let ino = i as u32 + 1;
                self.mark_inode(ino, true, dir)?;
                return Ok(ino);
            }
        }
        Err(Error::NoSpace { what: "an inode" })
    }

    // ----- writing file data -------------------------------------------

    /// Replaces a file's contents: frees its old blocks, writes `data`
    /// leaving all-zero blocks as holes, builds the block map and sets
    /// size and i_blocks. The inode is written back.
    pub fn set_file_data(&mut self, ino: u32, inode: &mut Inode, data: &[u8]) -> Result<()> {
        self.require_write()?;
        self.free_file_blocks(inode)?;
        let bs = self.geo.block_size as usize;
        let goal = self.geo.group_first_block(self.geo.inode_group(ino));
        let mut mapped = Vec::new();
        let mut next_goal = goal;
        for (l, chunk) in data.chunks(bs).enumerate() {
            if chunk.iter().all(|&b| b == 0) {
                continue;
            }
            let b = self.alloc_block(next_goal)?;
            next_goal = b as u64 + 1;
            let mut block = chunk.to_vec();
            block.resize(bs, 0);
            self.write_block(b as u64, &block)?;
            mapped.push((l as u64, b));
        }
        let mut extra = Vec::new();
        let (i_block, ind) = block_map::build(&mapped, self.geo.block_size, || {
            let b = self.alloc_block(next_goal)?;
            next_goal = b as u64 + 1;
            extra.push(b);
            Ok(b)
        })?;
        for (b, contents) in &ind {
            self.write_block(*b as u64, contents)?;
        }
        inode.base.i_block = i_block;
        inode.set_size(data.len() as u64);
        let sectors = (mapped.len() + ind.len()) as u64 * (bs as u64 / 512);
        let acl = if inode.base.i_file_acl != 0 {
            bs as u64 / 512
        } else {
            0
        };
        inode.base.i_blocks = (sectors + acl) as u32;
        if data.len() as u64 > u32::MAX as u64 && !self.sb.has_ro_compat(ro_compat::LARGE_FILE) {
            self.sb.s_feature_ro_compat |= ro_compat::LARGE_FILE;
            self.dirty = true;
        }
        self.write_inode(ino, inode)
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

    // ----- creating and deleting ----------------------------------------

    /// Bulk mode for copying a tree whose names are known to be unique per
    /// directory: inserts skip the same-name scan and fill the last block
    /// or append one, so a directory of n entries is built in O(n).
    pub fn set_unique_names(&mut self, on: bool) {
        self.unique_names = on;
    }

    /// Uses `t` for every timestamp this library writes from now on
    /// (inode times, dtime, the superblock's write time).
    pub fn set_fixed_time(&mut self, t: Option<u32>) {
        self.fixed_time = t;
    }

    fn now(&self) -> u32 {
        if let Some(t) = self.fixed_time {
            return t;
        }
        crate::clock::now()
    }

    /// A fresh in-memory inode with mode, times and the large-inode extra
    /// size set like the kernel does.
    pub fn new_inode_record(&self, mode: u16) -> Inode {
        let mut i = Inode::new(self.geo.inode_size as u16);
        let t = self.now();
        i.base.i_mode = mode;
        i.base.i_atime = t;
        i.base.i_ctime = t;
        i.base.i_mtime = t;
        if self.geo.inode_size > 128 {
            i.extra.i_extra_isize = 32;
            i.extra.i_crtime = t;
        }
        i
    }

    /// Adds `name -> ino` to directory `dir`, following the union rule: a
    /// whiteout or fallthru of that name is replaced in its slot; a live
    /// entry of that name is an error. Grows the directory by a block when
    /// no block has room.
    pub fn add_entry(&mut self, dir: u32, name: &[u8], ino: u32, file_type: u8) -> Result<()> {
        self.require_write()?;
        validate_name(name)?;
        let wh = self.whiteout_feature();
        let ft = if self.filetype_feature() {
            file_type
        } else {
            0
        };
        let new = DirEntry::new(ino, ft, name);
        let mut dir_inode = self.read_inode(dir)?;
        if !dir_inode.is_dir() {
            return Err(Error::NotDirectory(format!("<{dir}>")));
        }
        if dir_inode.base.i_flags & flags::INDEX != 0 {
            // Entries are added linearly, which would break the hash order
            // of the leaves: drop the index as the kernel's ext2 does (e2fsck
            // -D or index_directory rebuilds it).
            dir_inode.base.i_flags &= !flags::INDEX;
            self.write_inode(dir, &dir_inode)?;
        }
        let need = dirent::rec_len_for(name.len());
        let mut room: Option<u32> = None;
        let all_blocks = self.data_blocks(&dir_inode)?;
        let bs64 = self.geo.block_size as u64;
        let scan: &[(u64, u32)] = if self.unique_names {
            // Only the last block can have room when entries are appended.
            let live = all_blocks
                .iter()
                .take_while(|(l, _)| l * bs64 < dir_inode.size())
                .count();
            &all_blocks[live.saturating_sub(1)..live]
        } else {
            &all_blocks
        };
        for &(l, p) in scan {
            if l * self.geo.block_size as u64 >= dir_inode.size() {
                break;
            }
            let buf = self.read_block(p as u64)?;
            let mut covered = 0;
            for e in dirent::iter_block(&buf) {
                covered = e.offset + e.rec_len;
                if e.in_use(wh) && e.name == name {
                    if e.inode != 0 {
                        return Err(Error::Exists(String::from_utf8_lossy(name).into_owned()));
                    }
                    // A whiteout or fallthru of this name: replaced in its slot.
                    let mut entries = dirent::parse_block(&buf, dir, p as u64)?;
                    let i = entries
                        .iter()
                        .position(|x| x.in_use(wh) && x.name == name)
                        .unwrap_or(0);
                    dirent::insert_at(&mut entries, dirent::Slot::Existing(i), new);
                    return self.write_dir_block_at(p, &entries);
                }
                let fits = if e.in_use(wh) {
                    e.rec_len >= dirent::rec_len_for(e.name.len()) + need
                } else {
                    e.rec_len >= need
                };
                if fits && room.is_none() {
                    room = Some(p);
                }
            }
            if covered != buf.len() {
                dirent::parse_block(&buf, dir, p as u64)?;
            }
        }
        if let Some(p) = room {
            let mut entries = dirent::parse_block(&self.read_block(p as u64)?, dir, p as u64)?;
            if let Some(slot) = dirent::find_slot(&entries, name, wh) {
                dirent::insert_at(&mut entries, slot, new);
                return self.write_dir_block_at(p, &entries);
            }
        }
        // No room: append a block.
        let bs = self.geo.block_size;
        let l = dir_inode.size() / bs as u64;
        let mut e = new;
        e.rec_len = bs;
        let bytes = dirent::write_block(&[e], bs as usize)?;
        self.append_block(dir, &mut dir_inode, l, &bytes)?;
        dir_inode.set_size((l + 1) * bs as u64);
        self.write_inode(dir, &dir_inode)
    }

    fn write_dir_block(
        &mut self,
        dir_inode: &Inode,
        logical: u64,
        entries: &[DirEntry],
    ) -> Result<()> {
        let phys = self
            .data_blocks(dir_inode)?
            .into_iter()
            .find(|(l, _)| *l == logical)
            .map(|(_, p)| p)
            .ok_or(Error::DirectoryBlockVanished(logical))?;
        self.write_dir_block_at(phys, entries)
    }

    /// Writes a directory block whose physical block the caller knows.
    fn write_dir_block_at(&mut self, phys: u32, entries: &[DirEntry]) -> Result<()> {
        let bytes = dirent::write_block(entries, self.geo.block_size as usize)?;
        self.write_block(phys as u64, &bytes)
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
    fn block_goal(&self, ino: u32, inode: &Inode, logical: u64) -> Result<u64> {
        if logical > 0 {
            if let Some(p) = self.bmap(inode, logical - 1)? {
                return Ok(p as u64 + 1);
            }
        }
        Ok(self.geo.group_first_block(self.geo.inode_group(ino)))
    }

    /// The physical block of logical block `lblk`, None for a hole.
    pub fn bmap(&self, inode: &Inode, lblk: u64) -> Result<Option<u32>> {
        let (slot, path) = block_map::path_to(lblk, self.geo.block_size)?;
        let mut b = inode.base.i_block[slot];
        for idx in path {
            if b == 0 {
                return Ok(None);
            }
            b = self.map_entry(b as u64, idx)?;
        }
        Ok((b != 0).then_some(b))
    }

    /// Entry `idx` of indirect block `block` (one 4-byte read, or none
    /// when the cache holds the block).
    fn map_entry(&self, block: u64, idx: usize) -> Result<u32> {
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
    fn map_path(
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
    fn alloc_data_block(&mut self, inode: &mut Inode, lblk: u64, goal: u64) -> Result<u32> {
        let goal = self.map_path(inode, lblk, goal)?.2;
        let p = self.alloc_block(goal)?;
        self.bmap_set(inode, lblk, p)?;
        inode.base.i_blocks += self.geo.block_size / 512;
        Ok(p)
    }

    /// Writes `data` at byte `offset` of a file (read-modify-write of
    /// partial blocks; whole zero blocks over holes stay holes) and grows
    /// the size when writing past the end. The inode is written back.
    pub fn write_range(
        &mut self,
        ino: u32,
        inode: &mut Inode,
        offset: u64,
        data: &[u8],
    ) -> Result<()> {
        self.require_write()?;
        let bs = self.geo.block_size as u64;
        let end = offset
            .checked_add(data.len() as u64)
            .filter(|&e| e <= block_map::max_logical_blocks(self.geo.block_size) * bs)
            .ok_or(Error::FileTooLarge(
                offset.saturating_add(data.len() as u64),
            ))?;
        let mut pos = offset;
        // Blocks at or past the rounded-up size are never mapped in ext2
        // (no preallocation), so whole new blocks there can be allocated
        // and written in runs, one write per physically contiguous run.
        let mapped_end = inode.size().div_ceil(bs);
        let mut prev_phys: Option<u32> = None;
        while pos < end {
            let lblk = pos / bs;
            let in_blk = (pos % bs) as usize;
            if in_blk == 0 && lblk >= mapped_end && end - pos >= bs {
                let count = ((end - pos) / bs).min(256) as usize;
                let base = (pos - offset) as usize;
                let mut run: Option<(u32, usize, usize)> = None; // (phys, data offset, blocks)
                for k in 0..count {
                    let at = base + k * bs as usize;
                    let chunk = &data[at..at + bs as usize];
                    if chunk.iter().all(|&b| b == 0) {
                        if let Some((p, o, n)) = run.take() {
                            self.write_block(p as u64, &data[o..o + n * bs as usize])?;
                        }
                        continue;
                    }
                    let goal = match prev_phys {
                        Some(p) => p as u64 + 1,
                        None => self.block_goal(ino, inode, lblk + k as u64)?,
                    };
                    let p = self.alloc_data_block(inode, lblk + k as u64, goal)?;
                    prev_phys = Some(p);
                    run = match run {
                        Some((rp, o, n)) if rp as u64 + n as u64 == p as u64 => {
                            Some((rp, o, n + 1))
                        }
                        Some((rp, o, n)) => {
                            self.write_block(rp as u64, &data[o..o + n * bs as usize])?;
                            Some((p, at, 1))
                        }
                        None => Some((p, at, 1)),
                    };
                }
                if let Some((p, o, n)) = run {
                    self.write_block(p as u64, &data[o..o + n * bs as usize])?;
                }
                pos += count as u64 * bs;
                continue;
            }
            let n = ((bs as usize) - in_blk).min((end - pos) as usize);
            let chunk = &data[(pos - offset) as usize..(pos - offset) as usize + n];
            match self.bmap(inode, lblk)? {
                Some(p) => {
                    let mut buf = self.read_block(p as u64)?;
                    buf[in_blk..in_blk + n].copy_from_slice(chunk);
                    self.write_block(p as u64, &buf)?;
                }
                None if chunk.iter().all(|&b| b == 0) => {}
                None => {
                    let mut buf = vec![0u8; bs as usize];
                    buf[in_blk..in_blk + n].copy_from_slice(chunk);
                    self.append_block(ino, inode, lblk, &buf)?;
                }
            }
            pos += n as u64;
        }
        if end > inode.size() {
            inode.set_size(end);
            if end > u32::MAX as u64 && !self.sb.has_ro_compat(ro_compat::LARGE_FILE) {
                self.sb.s_feature_ro_compat |= ro_compat::LARGE_FILE;
                self.dirty = true;
            }
        }
        self.write_inode(ino, inode)
    }

    /// Sets a file's size: blocks past the new end are freed (indirect
    /// blocks left empty too), the tail of the last block is zeroed.
    pub fn truncate(&mut self, ino: u32, inode: &mut Inode, size: u64) -> Result<()> {
        self.require_write()?;
        let bs = self.geo.block_size as u64;
        if size < inode.size() && self.has_block_map(inode) {
            let keep_blocks = size.div_ceil(bs);
            let mut keep = Vec::new();
            let mut all = Vec::new();
            self.walk_blocks(inode, |k, b| {
                if let BlockKind::Data(l) = k {
                    if l < keep_blocks {
                        keep.push((l, b));
                        return true;
                    }
                }
                all.push((k, b));
                true
            })?;
            // Free what goes and every indirect block, then map the kept
            // blocks again (indirect blocks reallocated near the data).
            for (_, b) in &all {
                self.mark_block(*b as u64, false)?;
            }
            let mut goal = keep.last().map(|&(_, p)| p as u64 + 1).unwrap_or(0);
            let (i_block, ind) = block_map::build(&keep, self.geo.block_size, || {
                let nb = self.alloc_block(goal)?;
                goal = nb as u64 + 1;
                Ok(nb)
            })?;
            for (b, contents) in &ind {
                self.write_block(*b as u64, contents)?;
            }
            inode.base.i_block = i_block;
            let acl = if inode.base.i_file_acl != 0 { 1 } else { 0 };
            inode.base.i_blocks = ((keep.len() + ind.len() + acl) as u64 * (bs / 512)) as u32;
            if !size.is_multiple_of(bs) {
                if let Some(&(_, p)) = keep.iter().find(|&&(l, _)| l == size / bs) {
                    let mut buf = self.read_block(p as u64)?;
                    buf[(size % bs) as usize..].fill(0);
                    self.write_block(p as u64, &buf)?;
                }
            }
        }
        inode.set_size(size);
        self.write_inode(ino, inode)
    }

    /// Replaces a directory's blocks with `blocks` (logical 0..n, no
    /// holes), setting or clearing the htree flag. Old blocks are freed.
    pub fn write_dir_blocks(&mut self, dir: u32, blocks: &[Vec<u8>], indexed: bool) -> Result<()> {
        self.require_write()?;
        let mut rec = self.read_inode(dir)?;
        if !rec.is_dir() {
            return Err(Error::NotDirectory(format!("<{dir}>")));
        }
        self.free_file_blocks(&mut rec)?;
        let bs = self.geo.block_size;
        let mut goal = self.geo.group_first_block(self.geo.inode_group(dir));
        let mut mapped = Vec::with_capacity(blocks.len());
        for (l, b) in blocks.iter().enumerate() {
            let p = self.alloc_block(goal)?;
            goal = p as u64 + 1;
            self.write_block(p as u64, b)?;
            mapped.push((l as u64, p));
        }
        let (i_block, ind) = block_map::build(&mapped, bs, || {
            let nb = self.alloc_block(goal)?;
            goal = nb as u64 + 1;
            Ok(nb)
        })?;
        for (b, contents) in &ind {
            self.write_block(*b as u64, contents)?;
        }
        rec.base.i_block = i_block;
        let acl = if rec.base.i_file_acl != 0 { 1 } else { 0 };
        rec.base.i_blocks = ((mapped.len() + ind.len() + acl) as u64 * (bs as u64 / 512)) as u32;
        rec.set_size(blocks.len() as u64 * bs as u64);
        if indexed {
            rec.base.i_flags |= flags::INDEX;
        } else {
            rec.base.i_flags &= !flags::INDEX;
        }
        self.write_inode(dir, &rec)
    }

    /// Rewrites a directory as an htree (like `e2fsck -D` does for one
    /// directory), with the superblock's default hash and seed. Needs
    /// dir_index.
    pub fn index_directory(&mut self, dir: u32) -> Result<()> {
        if !self.sb.has_compat(crate::features::compat::DIR_INDEX) {
            return Err(Error::MissingFeature("dir_index"));
        }
        let all = self.read_dir(dir)?;
        let parent = all
            .iter()
            .find(|e| e.is_dotdot())
            .map(|e| e.inode)
            .ok_or_else(|| Error::CorruptDirectory {
                dir,
                block: 0,
                why: "no '..' entry".into(),
            })?;
        let entries: Vec<crate::htree::NewEntry> = all
            .into_iter()
            .filter(|e| !e.is_dot() && !e.is_dotdot())
            .map(|e| crate::htree::NewEntry {
                name: e.name,
                inode: e.inode,
                file_type: e.file_type,
            })
            .collect();
        let version = self.sb.s_def_hash_version;
        let blocks = crate::htree::build(
            dir,
            parent,
            self.filetype_feature(),
            &entries,
            self.geo.block_size as usize,
            version,
            &self.sb.s_hash_seed,
            self.sb.s_flags,
        )?;
        self.write_dir_blocks(dir, &blocks, true)
    }

    /// Removes `name` from `dir` and returns the entry that was there.
    pub fn remove_entry(&mut self, dir: u32, name: &[u8]) -> Result<DirEntry> {
        self.require_write()?;
        let wh = self.whiteout_feature();
        let dir_inode = self.read_inode(dir)?;
        for (l, mut entries) in self.read_dir_blocks(dir)? {
            if let Some(i) = entries.iter().position(|e| e.in_use(wh) && e.name == name) {
                let gone = entries[i].clone();
                dirent::remove_at(&mut entries, i);
                self.write_dir_block(&dir_inode, l, &entries)?;
                return Ok(gone);
            }
        }
        Err(Error::NotFound(String::from_utf8_lossy(name).into_owned()))
    }

    /// Creates an inode of `mode` linked as `name` in `parent`.
    pub fn create(&mut self, parent: u32, name: &[u8], mode: u16) -> Result<u32> {
        self.require_write()?;
        validate_name(name)?;
        let is_dir = mode & inode::S_IFMT == inode::S_IFDIR;
        let ino = self.alloc_inode(parent, is_dir)?;
        let mut rec = self.new_inode_record(mode);
        rec.base.i_links_count = 1;
        self.write_inode(ino, &rec)?;
        // add_entry refuses a live entry of the same name: give the inode back.
        if let Err(e) = self.add_entry(parent, name, ino, inode::mode_to_dirent_type(mode)) {
            rec.base.i_links_count = 0;
            rec.base.i_dtime = rec.base.i_ctime;
            self.write_inode(ino, &rec)?;
            self.mark_inode(ino, false, is_dir)?;
            return Err(e);
        }
        Ok(ino)
    }

    /// mkdir: '.' and '..', link counts of the new dir and its parent.
    pub fn mkdir(&mut self, parent: u32, name: &[u8], perm: u16) -> Result<u32> {
        self.check_new_link(parent)?;
        let ino = self.create(parent, name, inode::S_IFDIR | (perm & 0o7777))?;
        let mut rec = self.read_inode(ino)?;
        let block = dirent::new_dir_block(
            ino,
            parent,
            self.geo.block_size as usize,
            self.filetype_feature(),
        );
        self.append_block(ino, &mut rec, 0, &block)?;
        rec.set_size(self.geo.block_size as u64);
        rec.base.i_links_count = 2;
        self.write_inode(ino, &rec)?;
        let mut p = self.read_inode(parent)?;
        p.base.i_links_count += 1;
        self.write_inode(parent, &p)?;
        Ok(ino)
    }

    /// Creates a symlink; targets under 60 bytes are fast symlinks.
    pub fn symlink(&mut self, parent: u32, name: &[u8], target: &[u8]) -> Result<u32> {
        if target.is_empty() {
            return Err(Error::InvalidName(String::new(), "empty symlink target"));
        }
        if target.len() >= self.geo.block_size as usize {
            return Err(Error::NameTooLong {
                name: String::from_utf8_lossy(target).into_owned(),
                len: target.len(),
                max: self.geo.block_size as usize - 1,
            });
        }
        let ino = self.create(parent, name, inode::S_IFLNK | 0o777)?;
        let mut rec = self.read_inode(ino)?;
        if target.len() < 60 {
            rec.set_fast_symlink_target(target);
            self.write_inode(ino, &rec)
        } else {
            self.set_file_data(ino, &mut rec, target)
        }?;
        Ok(ino)
    }

    /// Creates a device node, fifo or socket.
    pub fn mknod(
        &mut self,
        parent: u32,
        name: &[u8],
        mode: u16,
        major: u32,
        minor: u32,
    ) -> Result<u32> {
        let kind = mode & inode::S_IFMT;
        if (kind == inode::S_IFCHR || kind == inode::S_IFBLK) && !inode::device_fits(major, minor) {
            return Err(Error::DeviceTooLarge { major, minor });
        }
        let ino = self.create(parent, name, mode)?;
        let mut rec = self.read_inode(ino)?;
        if rec.is_device() {
            rec.set_device(major, minor);
        }
        self.write_inode(ino, &rec)?;
        Ok(ino)
    }

    /// A new hard link to `ino`.
    pub fn link(&mut self, parent: u32, name: &[u8], ino: u32) -> Result<()> {
        let mut rec = self.read_inode(ino)?;
        if rec.is_dir() {
            return Err(Error::DirectoryHardLink);
        }
        if rec.base.i_links_count >= inode::LINK_MAX {
            return Err(Error::TooManyLinks(ino));
        }
        self.add_entry(parent, name, ino, inode::mode_to_dirent_type(rec.mode()))?;
        rec.base.i_links_count += 1;
        self.write_inode(ino, &rec)
    }

    /// Refuses one more link to `ino` (a subdirectory's '..' or a new
    /// name) past [`inode::LINK_MAX`].
    fn check_new_link(&self, ino: u32) -> Result<()> {
        if self.read_inode(ino)?.base.i_links_count >= inode::LINK_MAX {
            return Err(Error::TooManyLinks(ino));
        }
        Ok(())
    }

    /// Drops one link of `ino`; at zero links the inode and its blocks are
    /// freed (dtime set, as the kernel does).
    pub fn drop_link(&mut self, ino: u32) -> Result<()> {
        let mut rec = self.read_inode(ino)?;
        let dir = rec.is_dir();
        let keep = if dir { 2 } else { 1 };
        if rec.base.i_links_count > keep {
            rec.base.i_links_count -= 1;
            return self.write_inode(ino, &rec);
        }
        self.free_inode(ino, rec)
    }

    /// Frees an inode that has no links left: its blocks, its xattr block
    /// and the inode itself (dtime set, as the kernel does).
    fn free_inode(&mut self, ino: u32, mut rec: Inode) -> Result<()> {
        let dir = rec.is_dir();
        self.free_file_blocks(&mut rec)?;
        if rec.base.i_file_acl != 0 {
            self.release_xattr_block(rec.base.i_file_acl)?;
            rec.base.i_file_acl = 0;
        }
        rec.base.i_links_count = 0;
        rec.base.i_dtime = self.now();
        rec.base.i_blocks = 0;
        self.write_inode(ino, &rec)?;
        self.mark_inode(ino, false, dir)
    }

    /// Decrements an xattr block's refcount, freeing it at zero.
    fn release_xattr_block(&mut self, block: u32) -> Result<()> {
        if self.check_block(block as u64).is_err() {
            return Ok(());
        }
        let mut buf = self.read_block(block as u64)?;
        let magic = crate::codec::le32(&buf, 0);
        let refs = crate::codec::le32(&buf, 4);
        if magic != 0xEA02_0000 || refs <= 1 {
            return self.mark_block(block as u64, false);
        }
        crate::codec::put32(&mut buf, 4, refs - 1);
        self.write_block(block as u64, &buf)
    }

    /// unlink: removes a non-directory entry and drops the link.
    pub fn unlink(&mut self, parent: u32, name: &[u8]) -> Result<()> {
        let e = self
            .lookup_entry(parent, name)?
            .ok_or_else(|| Error::NotFound(String::from_utf8_lossy(name).into_owned()))?;
        if e.inode != 0 && self.read_inode(e.inode)?.is_dir() {
            return Err(Error::IsDirectory(
                String::from_utf8_lossy(name).into_owned(),
            ));
        }
        self.remove_entry(parent, name)?;
        if e.inode != 0 {
            self.drop_link(e.inode)?;
        }
        Ok(())
    }

    /// Whether a directory is empty: only '.', '..', whiteouts and
    /// fallthrus (union-ext2.md: whiteouts do not keep a directory busy).
    pub fn dir_is_empty(&self, dir: u32) -> Result<bool> {
        Ok(self
            .read_dir(dir)?
            .iter()
            .all(|e| e.is_dot() || e.is_dotdot() || e.inode == 0))
    }

    /// rmdir: the directory must be empty (whiteouts allowed).
    pub fn rmdir(&mut self, parent: u32, name: &[u8]) -> Result<()> {
        let e = self
            .lookup_entry(parent, name)?
            .filter(|e| e.inode != 0)
            .ok_or_else(|| Error::NotFound(String::from_utf8_lossy(name).into_owned()))?;
        let rec = self.read_inode(e.inode)?;
        if !rec.is_dir() {
            return Err(Error::NotDirectory(
                String::from_utf8_lossy(name).into_owned(),
            ));
        }
        if !self.dir_is_empty(e.inode)? {
            return Err(Error::NotEmpty(String::from_utf8_lossy(name).into_owned()));
        }
        self.remove_entry(parent, name)?;
        let mut rec = self.read_inode(e.inode)?;
        rec.base.i_links_count = 1; // drop_link frees at <= 2 for dirs
        self.write_inode(e.inode, &rec)?;
        self.drop_link(e.inode)?;
        let mut p = self.read_inode(parent)?;
        p.base.i_links_count = p.base.i_links_count.saturating_sub(1).max(2);
        self.write_inode(parent, &p)
    }

    /// rename: moves the entry `old_name` of `old_dir` to `new_name` in
    /// `new_dir` (which must not hold a live entry of that name: a whiteout
    /// or fallthru there is replaced in its slot). A directory moved to
    /// another parent gets its '..' rewritten and both parents' link counts
    /// adjusted.
    pub fn rename(
        &mut self,
        old_dir: u32,
        old_name: &[u8],
        new_dir: u32,
        new_name: &[u8],
    ) -> Result<()> {
        self.require_write()?;
        let e = self
            .lookup_entry(old_dir, old_name)?
            .filter(|e| e.inode != 0)
            .ok_or_else(|| Error::NotFound(String::from_utf8_lossy(old_name).into_owned()))?;
        if old_dir == new_dir && old_name == new_name {
            return Ok(());
        }
        let rec = self.read_inode(e.inode)?;
        if rec.is_dir() && old_dir != new_dir {
            self.check_new_link(new_dir)?;
        }
        let ft = inode::mode_to_dirent_type(rec.mode());
        self.add_entry(new_dir, new_name, e.inode, ft)?;
        self.remove_entry(old_dir, old_name)?;
        if rec.is_dir() && old_dir != new_dir {
            for (l, mut entries) in self.read_dir_blocks(e.inode)? {
                if let Some(d) = entries.iter_mut().find(|x| x.is_dotdot()) {
                    d.inode = new_dir;
                    self.write_dir_block(&rec, l, &entries)?;
                    break;
                }
            }
            let mut op = self.read_inode(old_dir)?;
            op.base.i_links_count = op.base.i_links_count.saturating_sub(1).max(2);
            self.write_inode(old_dir, &op)?;
            let mut np = self.read_inode(new_dir)?;
            np.base.i_links_count += 1;
            self.write_inode(new_dir, &np)?;
        }
        Ok(())
    }

    /// Puts a whiteout (`file_type` 8) or fallthru (9) named `name` in
    /// `dir`. A live entry of that name is replaced (its link dropped);
    /// needs the whiteout feature.
    pub fn add_union_entry(&mut self, dir: u32, name: &[u8], kind: u8) -> Result<()> {
        if !self.whiteout_feature() {
            return Err(Error::MissingFeature("the whiteout feature"));
        }
        if kind != ft::WHT && kind != ft::FALLTHRU {
            return Err(Error::NotUnionEntry(kind));
        }
        if name == b"." || name == b".." {
            return Err(Error::InvalidName(
                String::from_utf8_lossy(name).into_owned(),
                "'.' and '..' cannot be whiteouts or fallthrus",
            ));
        }
        if let Some(e) = self.lookup_entry(dir, name)? {
            if e.inode != 0 {
                if self.read_inode(e.inode)?.is_dir() {
                    if !self.dir_is_empty(e.inode)? {
                        return Err(Error::NotEmpty(String::from_utf8_lossy(name).into_owned()));
                    }
                    self.rmdir(dir, name)?;
                } else {
                    self.unlink(dir, name)?;
                }
            } else {
                self.remove_entry(dir, name)?;
            }
        }
        self.add_entry(dir, name, 0, kind)
    }

    /// Sets or clears the opaque flag of a directory.
    pub fn set_opaque(&mut self, dir: u32, on: bool) -> Result<()> {
        self.require_write()?;
        let mut rec = self.read_inode(dir)?;
        if !rec.is_dir() {
            return Err(Error::NotDirectory(format!("<{dir}>")));
        }
        if on {
            if !self.whiteout_feature() {
                return Err(Error::MissingFeature("the whiteout feature"));
            }
            rec.base.i_flags |= flags::OPAQUE;
        } else {
            rec.base.i_flags &= !flags::OPAQUE;
        }
        self.write_inode(dir, &rec)
    }

    // ----- extended attributes ------------------------------------------

    /// Every xattr of an inode: the in-inode ones, then the block's.
    pub fn list_xattrs(&self, ino: u32) -> Result<Vec<crate::xattr::Xattr>> {
        let rec = self.read_inode(ino)?;
        let mut out = match rec.in_inode_xattr_area() {
            Some(area) => crate::xattr::parse_ibody(&area, ino)?,
            None => Vec::new(),
        };
        let blk = rec.base.i_file_acl as u64;
        if blk != 0 {
            self.check_block(blk)?;
            out.extend(crate::xattr::parse_block(&self.read_block(blk)?, blk)?.attrs);
        }
        Ok(out)
    }

    /// Replaces all xattrs of an inode: as many as fit go in the inode
    /// body (large inodes), the rest in a block of their own. Needs ext_attr.
    pub fn set_xattrs(&mut self, ino: u32, attrs: &[crate::xattr::Xattr]) -> Result<()> {
        self.require_write()?;
        if !attrs.is_empty() && !self.sb.has_compat(crate::features::compat::EXT_ATTR) {
            return Err(Error::MissingFeature("ext_attr"));
        }
        let mut rec = self.read_inode(ino)?;
        let body_len = rec.in_inode_xattr_area().map(|a| a.len()).unwrap_or(0);
        let (body, rest) = crate::xattr::split_for_inode(attrs, body_len);
        if body_len > 0 {
            rec.set_in_inode_xattr_area(&crate::xattr::build_ibody(&body, body_len)?)?;
        }
        let bs = self.geo.block_size;
        let old = rec.base.i_file_acl;
        if old != 0 {
            self.release_xattr_block(old)?;
            rec.base.i_file_acl = 0;
            rec.base.i_blocks = rec.base.i_blocks.saturating_sub(bs / 512);
        }
        if !rest.is_empty() {
            let data = crate::xattr::build_block(&rest, bs as usize, 1)?;
            let goal = self.geo.group_first_block(self.geo.inode_group(ino));
            let b = self.alloc_block(goal)?;
            self.write_block(b as u64, &data)?;
            rec.base.i_file_acl = b;
            rec.base.i_blocks += bs / 512;
        }
        self.write_inode(ino, &rec)
    }

    /// Sets one xattr (replacing a same-named one).
    pub fn set_xattr(&mut self, ino: u32, name: &str, value: &[u8]) -> Result<()> {
        let mut all = self.list_xattrs(ino)?;
        all.retain(|a| a.name != name);
        all.push(crate::xattr::Xattr {
            name: name.to_string(),
            value: value.to_vec(),
        });
        self.set_xattrs(ino, &all)
    }

    /// Removes one xattr; NotFound when absent.
    pub fn remove_xattr(&mut self, ino: u32, name: &str) -> Result<()> {
        let mut all = self.list_xattrs(ino)?;
        let before = all.len();
        all.retain(|a| a.name != name);
        if all.len() == before {
            return Err(Error::NotFound(name.to_string()));
        }
        self.set_xattrs(ino, &all)
    }

    // ----- writing metadata back ----------------------------------------

    /// Replaces the in-memory bitmaps (a checker hands over the maps it
    /// computed, so that later allocations never pick a block in use).
    /// Every group's bitmaps are written by the next `flush`.
    pub fn install_bitmaps(&mut self, blocks: Bitmap, inodes: Bitmap) {
        self.block_bitmap = Some(blocks);
        self.inode_bitmap = Some(inodes);
        self.dirty_groups.iter_mut().for_each(|d| *d = true);
        self.dirty = true;
    }

    /// The in-memory block and inode bitmaps, when loaded or installed.
    pub fn bitmaps(&self) -> Option<(&Bitmap, &Bitmap)> {
        match (&self.block_bitmap, &self.inode_bitmap) {
            (Some(b), Some(i)) => Some((b, i)),
            _ => None,
        }
    }

    /// Marks one group's descriptor and bitmaps as changed.
    pub fn mark_group_dirty(&mut self, group: u32) {
        if let Some(d) = self.dirty_groups.get_mut(group as usize) {
            *d = true;
        }
        self.dirty = true;
    }

    /// Marks the superblock as changed (written by `flush`).
    pub fn mark_super_dirty(&mut self) {
        self.dirty = true;
    }

    /// Whether `flush` leaves the backup superblocks and descriptors alone
    /// (a checker's default: mount counts and check times are kept in the
    /// primary only; a repair the backups need turns it off).
    pub fn set_primary_only(&mut self, on: bool) {
        self.primary_only = on;
    }

    /// Writes bitmaps of changed groups, the descriptor table and the
    /// superblock, with their backups (s_block_group_nr set in each copy)
    /// unless `set_primary_only`.
    pub fn flush(&mut self) -> Result<()> {
        if let Some(c) = &mut self.cache {
            c.write_out(&self.image)?;
        }
        if !self.image.is_writable() || !self.dirty {
            return Ok(());
        }
        let geo = self.geo.clone();
        let bs = geo.block_size as usize;
        if let (Some(bb), Some(ib)) = (&self.block_bitmap, &self.inode_bitmap) {
            for g in 0..geo.group_count {
                if !self.dirty_groups[g as usize] {
                    continue;
                }
                let gd = self.groups[g as usize];
                let first = geo.group_first_block(g) - geo.first_data_block as u64;
                let bbuf = bb.group_block(first, geo.blocks_in_group(g) as u64, bs);
                let ifirst = g as u64 * geo.inodes_per_group as u64;
                let ibuf = ib.group_block(ifirst, geo.inodes_per_group as u64, bs);
                self.image
                    .write_at(gd.bg_block_bitmap as u64 * bs as u64, &bbuf)?;
                self.image
                    .write_at(gd.bg_inode_bitmap as u64 * bs as u64, &ibuf)?;
            }
        }
        self.sb.s_wtime = self.now();
        let table = group_desc::write_table(&self.groups, geo.desc_blocks as usize * bs);
        let backups = if self.primary_only {
            Vec::new()
        } else {
            geo.backup_groups()
        };
        for g in std::iter::once(0).chain(backups) {
            let copy = self.sb.backup_copy(g);
            let sb_off = geo.superblock_offset(g);
            self.image.write_at(sb_off, &copy.to_bytes())?;
            let gdt_block = if g == 0 {
                geo.first_data_block as u64 + 1
            } else {
                geo.group_first_block(g) + 1
            };
            self.image.write_at(gdt_block * bs as u64, &table)?;
        }
        self.dirty_groups.iter_mut().for_each(|d| *d = false);
        self.dirty = false;
        Ok(())
    }

    /// Flushes and fsyncs; the filesystem stays open.
    pub fn sync(&mut self) -> Result<()> {
        self.flush()?;
        self.image.sync()
    }

    /// Flushes, fsyncs and closes.
    pub fn close(mut self) -> Result<()> {
        self.sync()
    }
}

/// Rejects names a directory entry cannot hold.
pub fn validate_name(name: &[u8]) -> Result<()> {
    let bad = |why| {
        Err(Error::InvalidName(
            String::from_utf8_lossy(name).into_owned(),
            why,
        ))
    };
    if name.is_empty() {
        return bad("empty name");
    }
    if name.len() > dirent::NAME_MAX {
        return Err(Error::NameTooLong {
            name: String::from_utf8_lossy(name).into_owned(),
            len: name.len(),
            max: dirent::NAME_MAX,
        });
    }
    if name.contains(&b'/') || name.contains(&0) {
        return bad("name contains '/' or NUL");
    }
    Ok(())
}

fn read_superblock_at(image: &Image, offset: u64) -> Result<Superblock> {
    let mut buf = vec![0u8; SUPERBLOCK_SIZE];
    image.read_at(offset, &mut buf)?;
    Superblock::from_bytes(&buf)
}

/// Reads a backup superblock at block `blk`, trying block sizes from 1 KiB
/// up when none is given (like e2fsck -b without -B).
fn probe_backup(image: &Image, blk: u64, bs: Option<u32>) -> Result<(Superblock, u64)> {
    let sizes: Vec<u32> = match bs {
        Some(b) => vec![b],
        None => vec![1024, 2048, 4096, 8192, 16384, 32768, 65536],
    };
    let mut last = Error::BadMagic(0);
    for size in sizes {
        let off = blk * size as u64;
        match read_superblock_at(image, off) {
            Ok(sb) if sb.block_size() == size => return Ok((sb, off)),
            Ok(_) => {}
            Err(e) => last = e,
        }
    }
    Err(last)
}
