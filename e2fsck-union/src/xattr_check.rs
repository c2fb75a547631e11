//! Pass 1's checks of extended attributes, in e2fsck's order. A block,
//! the first time an inode names it (its check_ext_attr): the header, then
//! each entry's place in the block, name, value and hash; a fault answered
//! yes detaches the block from the inode, answered no the check goes on as
//! e2fsck's does (a bad name or value ends the entry walk). The area in
//! the inode body (its check_ea_in_inode): the first fault ends the walk
//! and, answered yes, drops every attribute there.

use anyhow::Result;
use ext2fs::inode::Inode;
use ext2fs::xattr::{self, XattrHeader, IBODY_HEADER};

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

    /// Checks the attributes in the body of inode `ino` (whose area starts
    /// with the magic and has room past it).
    pub fn check_ea_in_inode(&mut self, ino: u32, inode: &mut Inode) -> Result<()> {
        let Some(area) = inode.in_inode_xattr_area() else {
            return Ok(());
        };
        if xattr::ibody_magic(&area) != xattr::XATTR_MAGIC {
            return Ok(());
        }
        let Some((code, num)) = self.ibody_fault(&area) else {
            return Ok(());
        };
        let c = Ctx {
            ino,
            num,
            ..Default::default()
        };
        if self.problem(code, &c)? {
            inode.clear_in_inode_xattr_magic()?;
            self.write_inode(ino, inode)?;
        }
        Ok(())
    }

    /// The first fault of an in-inode area, with its number, as e2fsck
    /// finds it: each entry must fit in what the entries and values before
    /// it left (counted unrounded), and take bytes no other part took.
    fn ibody_fault(&self, area: &[u8]) -> Option<(Code, u64)> {
        let mut regions = Regions {
            size: area.len(),
            taken: Vec::new(),
        };
        let collision = Some((Code::InodeEaAllocCollision, 0));
        regions.take(0, IBODY_HEADER);
        let mut remain = area.len() - IBODY_HEADER;
        let mut off = IBODY_HEADER;
        while remain >= xattr::ENTRY_HEADER && !xattr::table_ends_at(area, off) {
            // `remain` keeps the whole header inside the area.
            let entry = xattr::entry_header(area, off)?;
            let name_len = entry.name_len as usize;
            if !regions.take(off, rounded(name_len + xattr::ENTRY_HEADER)) {
                return collision;
            }
            // e2fsck's name length test (PR_1_ATTR_NAME_LEN) comes here;
            // the region just taken already keeps the name in the area.
            remain = remain.saturating_sub(xattr::ENTRY_HEADER + rounded(name_len));
            if entry.value_inum == 0 {
                let size = entry.value_size as usize;
                if size > remain {
                    return Some((Code::AttrValueSize, size as u64));
                }
                let at = IBODY_HEADER + entry.value_offs as usize;
                if size != 0 && !regions.take(at, rounded(size)) {
                    return collision;
                }
                // A zero hash is what older kernels stored: not checked.
                let name = xattr::entry_name(area, off, &entry)?;
                let value = area.get(at..at + rounded(size)).unwrap_or_default();
                if entry.hash != 0
                    && entry.hash != xattr::entry_hash_unsigned(name, value)
                    && entry.hash != xattr::entry_hash(name, value)
                {
                    return Some((Code::AttrHash, entry.hash as u64));
                }
                remain -= size;
            } else if entry.value_inum < self.fs.sb().first_ino()
                || entry.value_inum > self.inodes_count
            {
                return Some((Code::AttrValueEaInode, entry.value_inum as u64));
            }
            off += rounded(name_len + xattr::ENTRY_HEADER);
        }
        if !regions.take(off, 4) {
            return collision;
        }
        None
    }
}
