//! File contents: reading (whole, a range, streamed, symlink targets), writing a
//! range or replacing the data, and truncation.

use super::Filesystem;
use crate::block_map::{self, BlockKind};
use crate::features::ro_compat;
use crate::inode::Inode;
use crate::{Error, Result};

impl Filesystem {
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

    /// Reads up to `len` bytes of a file from byte `offset`, cut at its
    /// size (holes read as zeroes; nothing at or past the end).
    pub fn read_range(&self, inode: &Inode, offset: u64, len: usize) -> Result<Vec<u8>> {
        let size = inode.size();
        if offset >= size {
            return Ok(Vec::new());
        }
        let end = size.min(offset.saturating_add(len as u64));
        let bs = self.geo.block_size as u64;
        let mut out = Vec::with_capacity((end - offset) as usize);
        let mut pos = offset;
        while pos < end {
            let in_blk = (pos % bs) as usize;
            let n = (bs as usize - in_blk).min((end - pos) as usize);
            match self.bmap(inode, pos / bs)? {
                Some(p) => {
                    let b = self.read_block(p as u64)?;
                    out.extend_from_slice(&b[in_blk..in_blk + n]);
                }
                None => out.resize(out.len() + n, 0),
            }
            pos += n as u64;
        }
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
        self.install_block_map(inode, &mapped, next_goal)?;
        inode.set_size(data.len() as u64);
        if data.len() as u64 > u32::MAX as u64 && !self.sb.has_ro_compat(ro_compat::LARGE_FILE) {
            self.sb.s_feature_ro_compat |= ro_compat::LARGE_FILE;
            self.dirty = true;
        }
        self.write_inode(ino, inode)
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
            let goal = keep.last().map(|&(_, p)| p as u64 + 1).unwrap_or(0);
            self.install_block_map(inode, &keep, goal)?;
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
}

#[cfg(test)]
mod tests {
    use crate::fs::test_fs;
    use crate::inode::{ROOT_INO, S_IFREG};

    #[test]
    fn read_range_matches_the_whole_file() {
        let mut fs = test_fs(false);
        let ino = fs.create(ROOT_INO, b"f", S_IFREG | 0o644).unwrap();
        let mut inode = fs.read_inode(ino).unwrap();
        let head: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8 + 1).collect();
        fs.write_range(ino, &mut inode, 0, &head).unwrap();
        // A hole of whole blocks, then data again (1 KiB blocks).
        fs.write_range(ino, &mut inode, 20 * 1024 + 7, b"tail")
            .unwrap();
        let whole = fs.read_file(&inode).unwrap();
        assert_eq!(whole.len() as u64, inode.size());
        assert!(fs.bmap(&inode, 10).unwrap().is_none());
        for (off, len) in [
            (0, 10),
            (1000, 100),
            (1020, 2000),
            (5000, 100),
            (20480, 100),
        ] {
            let end = whole.len().min(off + len);
            let got = fs.read_range(&inode, off as u64, len).unwrap();
            assert_eq!(got, whole[off..end], "offset {off} length {len}");
        }
        assert!(fs.read_range(&inode, inode.size(), 10).unwrap().is_empty());
        assert!(fs
            .read_range(&inode, u64::MAX, usize::MAX)
            .unwrap()
            .is_empty());
        let all = fs.read_range(&inode, 0, usize::MAX).unwrap();
        assert_eq!(all, whole);
    }
}
