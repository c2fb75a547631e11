//! Block reads and writes, checked against the filesystem size, through
//! the optional write-back cache of bulk copies.

use super::Filesystem;
use crate::block_cache::BlockCache;
use crate::{Error, Result};

/// A caller's answer for a block that could not be read (libext2fs' I/O
/// channel read error handler): go on with what was read of it, or fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadDecision {
    /// Go on with the bytes read, zeros after ([`Error::BlockRead`]'s
    /// `partial`).
    Ignore,
    /// The read fails with the error.
    Fail,
}

/// A read error handler: shown each [`Error::BlockRead`] of a walk.
pub type OnReadError<'a> = &'a mut dyn FnMut(&Error) -> ReadDecision;

impl Filesystem {
    pub(super) fn check_block(&self, block: u64) -> Result<()> {
        if block >= self.geo.blocks_count {
            return Err(Error::BlockOutOfRange {
                block,
                blocks: self.geo.blocks_count,
            });
        }
        Ok(())
    }

    /// Reads one block; blocks outside the filesystem are `BlockOutOfRange`.
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
        if let Err(e) = self.image.read_at(block * bs, &mut buf) {
            return Err(self.read_failed(block, count, e));
        }
        if let Some(c) = &self.cache {
            c.overlay(block, &mut buf);
        }
        Ok(buf)
    }

    /// Reads one block wherever its number points, as libext2fs' block
    /// reads do: past the end of the filesystem from the image (past the
    /// image's end, a short read). For walks that must fail where
    /// e2fsprogs' fail, not earlier (and for debugfs' block_dump, which
    /// reads any block number it is given).
    pub fn read_block_anywhere(&self, block: u64) -> Result<Vec<u8>> {
        if block < self.geo.blocks_count {
            return self.read_block(block);
        }
        let bs = self.geo.block_size as u64;
        let mut buf = vec![0u8; bs as usize];
        let at = block.checked_mul(bs).ok_or(Error::BlockOutOfRange {
            block,
            blocks: self.geo.blocks_count,
        })?;
        match self.image.read_at(at, &mut buf) {
            Ok(()) => Ok(buf),
            Err(e) => Err(self.read_failed(block, 1, e)),
        }
    }

    /// [`Filesystem::read_block_anywhere`] with a caller's handler for a
    /// block that cannot be read: ignored, the walk goes on with what was
    /// read of it (zeros after).
    pub fn read_block_handled(&self, block: u64, on_error: OnReadError<'_>) -> Result<Vec<u8>> {
        match self.read_block_anywhere(block) {
            Err(e @ Error::BlockRead { .. }) => match on_error(&e) {
                ReadDecision::Fail => Err(e),
                ReadDecision::Ignore => match e {
                    Error::BlockRead { partial, .. } => Ok(partial),
                    e => Err(e),
                },
            },
            other => other,
        }
    }

    /// The failed read of `count` blocks from `block` as the block that
    /// failed ([`Error::BlockRead`]): a read of several is retried one
    /// block at a time, as e2fsck's handler does, to name the first.
    fn read_failed(&self, block: u64, count: u32, source: Error) -> Error {
        let bs = self.geo.block_size as usize;
        let mut one = vec![0u8; bs];
        let (block, source) = if count <= 1 {
            (block, source)
        } else {
            let first = (block..block + count as u64).find_map(|b| {
                self.image
                    .read_at(b * bs as u64, &mut one)
                    .err()
                    .map(|e| (b, e))
            });
            match first {
                Some(failed) => failed,
                None => return source,
            }
        };
        self.image.read_available(block * bs as u64, &mut one);
        Error::BlockRead {
            block,
            partial: one,
            source: Box::new(source),
        }
    }

    /// Writes whole blocks starting at `block` (through the cache when on);
    /// `NotWholeBlocks` or `BlockOutOfRange` otherwise.
    pub fn write_block(&mut self, block: u64, data: &[u8]) -> Result<()> {
        self.check_block(block)?;
        if self.inode_cache.is_some() {
            // It may hold the block; its inodes are read afresh.
            self.follow_libext2fs_inode_cache();
        }
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
    pub(super) fn modify_block(
        &mut self,
        block: u64,
        change: impl FnOnce(&mut [u8]),
    ) -> Result<()> {
        if let Some(data) = self.cache.as_mut().and_then(|c| c.get_mut(block)) {
            change(data);
            return Ok(());
        }
        let mut data = self.read_block(block)?;
        change(&mut data);
        self.write_block(block, &data)
    }

    pub(super) fn write_cache_if_full(&mut self) -> Result<()> {
        match &mut self.cache {
            Some(c) if c.is_full() => c.write_out(&self.image),
            _ => Ok(()),
        }
    }
}
