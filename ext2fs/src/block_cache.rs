//! An opt-in write-back cache of single-block writes for bulk copies
//! (mke2fs -d). Copying a tree rewrites the same few blocks over and over:
//! an inode table block once per inode in it, an indirect block once per
//! data block it maps, a directory block once per entry. Keeping them in
//! memory until the cache fills (or the filesystem is flushed) turns
//! millions of 4 KiB reads and writes into a few large sorted writes.

use std::collections::HashMap;

use crate::image::{Image, RunWriter};
use crate::Result;

/// Written blocks held in memory by block number until written out.
#[derive(Debug)]
pub struct BlockCache {
    blocks: HashMap<u64, Vec<u8>>,
    block_size: usize,
    /// Most blocks held before `is_full` says to write them out.
    capacity: usize,
}

impl BlockCache {
    /// Writes shorter than this are held (as blocks) rather than written
    /// through.
    pub const SHORT_RUN: usize = 64 << 10;

    /// A cache of `block_size`-byte blocks holding about `bytes` bytes.
    pub fn new(block_size: u32, bytes: usize) -> Self {
        BlockCache {
            blocks: HashMap::new(),
            block_size: block_size as usize,
            capacity: (bytes / block_size as usize).max(1),
        }
    }

    /// The cached contents of `block`.
    pub fn get(&self, block: u64) -> Option<&[u8]> {
        self.blocks.get(&block).map(|b| b.as_slice())
    }

    /// The cached contents of `block`, to change in place.
    pub fn get_mut(&mut self, block: u64) -> Option<&mut Vec<u8>> {
        self.blocks.get_mut(&block)
    }

    /// Holds `data` (one whole block) as the new contents of `block`.
    pub fn insert(&mut self, block: u64, data: Vec<u8>) {
        debug_assert_eq!(data.len(), self.block_size);
        self.blocks.insert(block, data);
    }

    /// Forgets blocks [block, block+count) (a write-through covers them).
    pub fn forget(&mut self, block: u64, count: u64) {
        if count as usize > self.blocks.len() {
            self.blocks.retain(|&b, _| b < block || b >= block + count);
        } else {
            for b in block..block + count {
                self.blocks.remove(&b);
            }
        }
    }

    /// Puts the cached copies over `buf`, which holds blocks from `block`.
    pub fn overlay(&self, block: u64, buf: &mut [u8]) {
        if self.blocks.is_empty() {
            return;
        }
        let bs = self.block_size;
        let count = (buf.len() / bs) as u64;
        if count as usize > self.blocks.len() {
            for (&b, data) in &self.blocks {
                if b >= block && b < block + count {
                    let at = (b - block) as usize * bs;
                    buf[at..at + bs].copy_from_slice(data);
                }
            }
        } else {
            for b in block..block + count {
                if let Some(data) = self.blocks.get(&b) {
                    let at = (b - block) as usize * bs;
                    buf[at..at + bs].copy_from_slice(data);
                }
            }
        }
    }

    /// Whether the cache holds its capacity and should be written out.
    pub fn is_full(&self) -> bool {
        self.blocks.len() >= self.capacity
    }

    /// Writes every cached block to `image` in block order, adjacent
    /// blocks in one write, and empties the cache.
    pub fn write_out(&mut self, image: &Image) -> Result<()> {
        let mut order: Vec<u64> = self.blocks.keys().copied().collect();
        order.sort_unstable();
        let mut out = RunWriter::new(image, 0, self.block_size);
        for b in order {
            if let Some(data) = self.blocks.remove(&b) {
                out.put(b, &data)?;
            }
        }
        out.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_out_joins_runs_and_overlay_sees_cached_blocks() {
        let img = Image::in_memory(vec![0u8; 16 * 1024], true);
        let mut c = BlockCache::new(1024, 4096);
        c.insert(3, vec![3; 1024]);
        c.insert(4, vec![4; 1024]);
        c.insert(9, vec![9; 1024]);
        let mut buf = vec![0u8; 3 * 1024];
        c.overlay(2, &mut buf);
        assert_eq!((buf[0], buf[1024], buf[2048]), (0, 3, 4));
        c.forget(4, 1);
        assert!(c.get(4).is_none());
        c.insert(4, vec![5; 1024]);
        c.write_out(&img).unwrap();
        assert!(c.get(3).is_none());
        let bytes = img.memory_bytes().unwrap();
        assert_eq!(
            (bytes[3 * 1024], bytes[4 * 1024], bytes[9 * 1024]),
            (3, 5, 9)
        );
        assert_eq!(bytes[5 * 1024], 0);
    }
}
