//! Inode records: where each lives in its group's table, reading and
//! writing them, and a fresh record for a new object.

use super::Filesystem;
use crate::inode::Inode;
use crate::{CorruptKind, Error, Result, Structure};

/// How many inodes libext2fs' inode cache holds (ext2fs_read_inode
/// creates it with 4).
const INODE_CACHE_SIZE: usize = 4;

/// libext2fs' inode cache (struct ext2_inode_cache): the last inodes
/// read, and one inode table block with the number it was read from.
#[derive(Debug)]
pub(super) struct InodeCache {
    buffer: Vec<u8>,
    buffer_blk: u64,
    inodes: Vec<(u32, Inode)>,
    last: Option<usize>,
}

impl Filesystem {
    pub(super) fn inode_location(&self, ino: u32) -> Result<u64> {
        if ino == 0 || ino > self.sb.s_inodes_count {
            return Err(Error::InodeOutOfRange {
                ino,
                inodes: self.sb.s_inodes_count,
            });
        }
        let group = self.geo.inode_group(ino);
        // ext2fs_read_inode's check is `group > group_desc_count` (an
        // inode count larger than the groups hold, opened with
        // superblock errors ignored): one group past the table reads the
        // descriptor bytes after it.
        let past = group as usize >= self.groups.len();
        if group as usize > self.groups.len() || (past && self.past_end.is_none()) {
            return Err(Error::InodeOutOfRange {
                ino,
                inodes: self.sb.s_inodes_count,
            });
        }
        let index = (ino - 1) % self.geo.inodes_per_group;
        let table = self.inode_table_block(group)?;
        Ok(table * self.geo.block_size as u64 + index as u64 * self.geo.inode_size as u64)
    }

    /// The block holding inode `ino`'s record and the record's offset in
    /// it: what libext2fs' ext2fs_read_inode reads (a whole block, so a
    /// block cut short fails however little of it the record needs).
    pub fn inode_block(&self, ino: u32) -> Result<(u64, usize)> {
        let off = self.inode_location(ino)?;
        let bs = self.geo.block_size as u64;
        Ok((off / bs, (off % bs) as usize))
    }

    /// Where a group's inode table starts, refused as ext2fs_read_inode
    /// and the inode scan refuse it: missing (0), or not wholly inside
    /// the filesystem. The group count itself names the descriptor bytes
    /// after the table (see `inode_location`); a group past that has no
    /// table.
    pub fn inode_table_block(&self, group: u32) -> Result<u64> {
        let Some(gd) = self.groups.get(group as usize).or(self
            .past_end
            .as_ref()
            .filter(|_| group as usize == self.groups.len()))
        else {
            return Err(Error::corrupt(
                Structure::GroupDesc,
                group as u64,
                CorruptKind::MissingInodeTable,
            ));
        };
        let table = gd.bg_inode_table as u64;
        let kind = if table == 0 {
            CorruptKind::MissingInodeTable
        } else if table < self.geo.first_data_block as u64
            || table + self.geo.inode_table_blocks as u64 > self.geo.blocks_count
        {
            CorruptKind::InodeTableOutside(table)
        } else {
            return Ok(table);
        };
        Err(Error::corrupt(Structure::GroupDesc, group as u64, kind))
    }

    /// From now on, reads inodes as libext2fs' ext2fs_read_inode does for
    /// debugfs: through its cache of the last four inodes read and of the
    /// last inode table block, which a failed read (an image cut short)
    /// leaves holding what was read of the failed block, zeros after,
    /// under the older block's number; inodes read from that block later
    /// come out of it. Writing an inode empties the cache.
    pub fn follow_libext2fs_inode_cache(&mut self) {
        self.inode_cache = Some(std::sync::Mutex::new(InodeCache {
            buffer: vec![0; self.geo.block_size as usize],
            buffer_blk: 0,
            inodes: Vec::new(),
            last: None,
        }));
    }

    /// `read_inode` through libext2fs' inode cache.
    fn read_inode_cached(&self, cache: &std::sync::Mutex<InodeCache>, ino: u32) -> Result<Inode> {
        let mut c = cache.lock().unwrap_or_else(|e| e.into_inner());
        if ino == 0 || ino > self.sb.s_inodes_count {
            return Err(Error::InodeOutOfRange {
                ino,
                inodes: self.sb.s_inodes_count,
            });
        }
        if let Some((_, inode)) = c.inodes.iter().find(|(i, _)| *i == ino) {
            return Ok(inode.clone());
        }
        let off = self.inode_location(ino)?;
        let bs = self.geo.block_size as u64;
        let (block, at) = (off / bs, (off % bs) as usize);
        if block != c.buffer_blk {
            match self.read_block_anywhere(block) {
                Ok(data) => {
                    c.buffer = data;
                    c.buffer_blk = block;
                }
                Err(Error::BlockRead {
                    block: b,
                    partial,
                    source,
                }) => {
                    c.buffer = partial.clone();
                    return Err(Error::BlockRead {
                        block: b,
                        partial,
                        source,
                    });
                }
                Err(e) => return Err(e),
            }
        }
        let size = self.geo.inode_size as usize;
        let inode = Inode::parse(&c.buffer[at..at + size])?;
        let slot = c.last.map_or(0, |l| (l + 1) % INODE_CACHE_SIZE);
        if slot < c.inodes.len() {
            c.inodes[slot] = (ino, inode.clone());
        } else {
            c.inodes.push((ino, inode.clone()));
        }
        c.last = Some(slot);
        Ok(inode)
    }

    /// Reads inode `ino` (its whole record; cached writes included).
    pub fn read_inode(&self, ino: u32) -> Result<Inode> {
        if let Some(cache) = &self.inode_cache {
            return self.read_inode_cached(cache, ino);
        }
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

    /// Writes inode `ino` (padded or cut to the inode size).
    pub fn write_inode(&mut self, ino: u32, inode: &Inode) -> Result<()> {
        if self.inode_cache.is_some() {
            self.follow_libext2fs_inode_cache();
        }
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
        let table = self.inode_table_block(group)?;
        self.read_blocks(table, self.geo.inode_table_blocks)
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
}
