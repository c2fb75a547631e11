//! Pass 1's check of an extended attribute block the first time an inode
//! names it, in e2fsck's order (its check_ext_attr): the header, then each
//! entry's place in the block, name, value and hash. A fault answered yes
//! detaches the block from the inode; answered no, the check goes on as
//! e2fsck's does (a bad name or value ends the entry walk).

use anyhow::Result;
use ext2fs::xattr::{self, XattrHeader};

use crate::checker::Checker;
use crate::problem::{Code, Ctx};

/// e2fsck's EXT2_XATTR_SIZE_MAX: larger values are corrupt, not just big.
const VALUE_SIZE_MAX: u32 = 1 << 24;

/// What the check decided about the block.
pub enum EaBlock {
    /// Keep it, shared by `refcount` inodes as its header says.
    Keep { refcount: u32 },
    /// Detach it from the inode (a fault was answered yes).
    Clear,
}

/// Byte ranges of the block already taken (e2fsck's region_allocate).
struct Regions {
    size: usize,
    taken: Vec<(usize, usize)>,
}

impl Regions {
    /// Takes `len` bytes at `start`; false when they leave the block or
    /// overlap a range already taken.
    fn take(&mut self, start: usize, len: usize) -> bool {
        let end = start.saturating_add(len);
        if end > self.size || self.taken.iter().any(|&(s, e)| start < e && s < end) {
            return false;
        }
        self.taken.push((start, end));
        true
    }
}

fn rounded(n: usize) -> usize {
    (n + 3) & !3
}

impl Checker {
    /// Checks the attribute block `blk` of inode `ino` (already known to
    /// lie inside the filesystem).
    pub fn check_ea_block_contents(&mut self, ino: u32, blk: u32) -> Result<EaBlock> {
        let c = Ctx {
            ino,
            blk: blk as u64,
            ..Default::default()
        };
        let buf = self.fs.read_block(blk as u64)?;
        let Ok((_, header)) = XattrHeader::parse(&buf) else {
            return Ok(EaBlock::Clear);
        };
        if header.h_magic != xattr::XATTR_MAGIC && self.problem(Code::XattrBlockBad, &c)? {
            return Ok(EaBlock::Clear);
        }
        if header.h_blocks != 1 && self.problem(Code::EaMultiBlock, &c)? {
            return Ok(EaBlock::Clear);
        }
        let mut regions = Regions {
            size: buf.len(),
            taken: Vec::new(),
        };
        regions.take(0, XattrHeader::SIZE);
        let mut off = XattrHeader::SIZE;
        while !xattr::table_ends_at(&buf, off) {
            let Some(name_len) = xattr::entry_name_len(&buf, off) else {
                break;
            };
            if !regions.take(off, rounded(name_len + xattr::ENTRY_HEADER)) {
                if self.problem(Code::EaAllocCollision, &c)? {
                    return Ok(EaBlock::Clear);
                }
                break;
            }
            let Some(entry) = xattr::entry_header(&buf, off) else {
                break;
            };
            if entry.name_index == 0 {
                if self.problem(Code::EaBadName, &c)? {
                    return Ok(EaBlock::Clear);
                }
                break;
            }
            let Some(name) = xattr::entry_name(&buf, off, &entry) else {
                break;
            };
            if entry.value_inum == 0 {
                let offs = entry.value_offs as usize;
                let size = entry.value_size as usize;
                if entry.value_size > VALUE_SIZE_MAX || offs + size > buf.len() {
                    if self.problem(Code::EaBadValue, &c)? {
                        return Ok(EaBlock::Clear);
                    }
                    break;
                }
                if size != 0
                    && !regions.take(offs, rounded(size))
                    && self.problem(Code::EaAllocCollision, &c)?
                {
                    return Ok(EaBlock::Clear);
                }
                // The hash runs over whole words, padding included.
                let value = &buf[offs..(offs + rounded(size)).min(buf.len())];
                if entry.hash != xattr::entry_hash(name, value)
                    && entry.hash != xattr::entry_hash_unsigned(name, value)
                {
                    let c = Ctx {
                        num: entry.hash as u64,
                        ..c.clone()
                    };
                    if self.problem(Code::AttrHash, &c)? {
                        return Ok(EaBlock::Clear);
                    }
                }
            } else if entry.value_inum < self.fs.sb().first_ino()
                || entry.value_inum > self.inodes_count
            {
                let c = Ctx {
                    num: entry.value_inum as u64,
                    ..c.clone()
                };
                if self.problem(Code::AttrValueEaInode, &c)? {
                    return Ok(EaBlock::Clear);
                }
            }
            off += rounded(name_len + xattr::ENTRY_HEADER);
        }
        if !regions.take(off, 4) && self.problem(Code::EaAllocCollision, &c)? {
            return Ok(EaBlock::Clear);
        }
        Ok(EaBlock::Keep {
            refcount: header.h_refcount,
        })
    }
}
