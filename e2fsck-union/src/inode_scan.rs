//! Reading a group's inode table the way pass 1's inode scan does
//! (libext2fs' get_next_blocks): eight blocks at a time, each chunk read
//! when the scan reaches it, and a read that fails goes to the I/O error
//! handler block by block (ehandler.c's retry of a multi-block read). A
//! block the handler may not ignore ends the scan with "Error while
//! scanning inodes", naming the last inode the scan had returned.

use anyhow::Result;
use ext2fs::layout::Geometry;

use crate::ask::Stop;
use crate::checker::Checker;
use crate::problem::{Code, Ctx};

/// libext2fs' EXT2_INODE_SCAN_DEFAULT_BUFFER_BLOCKS: e2fsck opens its scan
/// with no buffer size of its own.
const SCAN_BUFFER_BLOCKS: u32 = 8;

/// The scan's operation, as e2fsck names it to the handler.
const NEXT_INODE: &str = "getting next inode from scan";

/// EXT2_ET_NEXT_INODE_READ, what the scan returns for a failed read.
const CANT_READ_NEXT_INODE: &str = "Can't read next inode";

/// How many chunks a group's inode table is read in.
pub fn chunks(geo: &Geometry) -> u32 {
    geo.inode_table_blocks.div_ceil(SCAN_BUFFER_BLOCKS)
}

impl Checker {
    /// Chunk `chunk` of group `g`'s inode table, read as the scan reads
    /// it.
    pub fn read_inode_chunk_as_scanned(&mut self, g: u32, chunk: u32) -> Result<Vec<u8>> {
        let geo = self.fs.geo().clone();
        let first = self.fs.inode_table_block(g)?;
        let start = chunk * SCAN_BUFFER_BLOCKS;
        let count = SCAN_BUFFER_BLOCKS.min(geo.inode_table_blocks - start);
        let at = first + start as u64;
        match self.fs.read_blocks(at, count) {
            Ok(bytes) => Ok(bytes),
            Err(ext2fs::Error::BlockRead { .. }) => {
                let mut bytes = Vec::with_capacity((count * geo.block_size) as usize);
                if self.read_chunk_block_by_block(at, count, &mut bytes)? {
                    return Ok(bytes);
                }
                let inodes_per_block = geo.block_size / geo.inode_size;
                let c = Ctx {
                    ino: g * geo.inodes_per_group + start * inodes_per_block,
                    str1: CANT_READ_NEXT_INODE.into(),
                    ..Default::default()
                };
                // Fatal: this returns the abort.
                self.problem(Code::InodeScanError, &c)?;
                Err(Stop::Aborted.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// One failed chunk again, a block at a time, each failure put to the
    /// handler: false when one may not be ignored.
    fn read_chunk_block_by_block(
        &mut self,
        from: u64,
        count: u32,
        out: &mut Vec<u8>,
    ) -> Result<bool> {
        let before = self.read_errors.operation.replace(NEXT_INODE.into());
        let mut whole = true;
        for b in from..from + count as u64 {
            let bytes = match self.fs.read_block(b) {
                Ok(bytes) => Some(bytes),
                Err(e) => self.read_error(e)?,
            };
            match bytes {
                Some(bytes) => out.extend_from_slice(&bytes),
                None => {
                    whole = false;
                    break;
                }
            }
        }
        self.read_errors.operation = before;
        Ok(whole)
    }
}
