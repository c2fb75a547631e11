//! Pass 1's checks of extended attributes, in e2fsck's order. A block,
//! the first time an inode names it (its check_ext_attr): the header, then
//! each entry's place in the block, name, value and hash; a fault answered
//! yes detaches the block from the inode, answered no the check goes on as
//! e2fsck's does (a bad name or value ends the entry walk). The area in
//! the inode body (its check_ea_in_inode): the first fault ends the walk
//! and, answered yes, drops every attribute there.

use anyhow::Result;
use ext2fs::inode::{flags, Inode};
use ext2fs::xattr::{self, XattrHeader, IBODY_HEADER};

use crate::checker::Checker;
use crate::problem::{Code, Ctx};

/// e2fsck's EXT2_XATTR_SIZE_MAX: larger values are corrupt, not just big.
const VALUE_SIZE_MAX: u32 = 1 << 24;

/// What the check decided about the block.
pub enum EaBlock {
    /// Keep it, shared by `refcount` inodes as its header says; it counts
    /// for `charge` blocks in each owner's i_blocks (itself, and the values
    /// its entries keep in inodes of their own).
    Keep { refcount: u32, charge: u64 },
    /// Detach it from the inode (a fault was answered yes).
    Clear,
}

/// What an attribute whose value lives in an inode of its own comes to.
enum ValueInode {
    /// Sound: the value's blocks, counted in the owner's i_blocks.
    Charge(u64),
    /// The problem to put, with its number, and the blocks the value
    /// counts for if the problem is declined (in a block; e2fsck leaves
    /// this undefined after a hash fault, taken as 0 here).
    Fault(Code, u64, u64),
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
        // A read error declined (PR_1_READ_EA_BLOCK declined too) leaves
        // e2fsck checking what its buffer held before.
        let (buf, unread) = match self.fs.read_block(blk as u64) {
            Ok(buf) => (buf, false),
            Err(e) => match self.read_error(e)? {
                Some(buf) => (buf, false),
                None => {
                    if self.problem(Code::ReadEaBlock, &c)? {
                        return Ok(EaBlock::Clear);
                    }
                    (self.pass1_buf.clone(), true)
                }
            },
        };
        self.pass1_buf.clone_from(&buf);
        let Ok((_, header)) = XattrHeader::parse(&buf) else {
            return Ok(EaBlock::Clear);
        };
        if header.h_magic != xattr::XATTR_MAGIC && self.problem(Code::XattrBlockBad, &c)? {
            return Ok(EaBlock::Clear);
        }
        if header.h_blocks != 1 && self.problem(Code::EaMultiBlock, &c)? {
            return Ok(EaBlock::Clear);
        }
        if unread && self.problem(Code::ReadEaBlock, &c)? {
            return Ok(EaBlock::Clear);
        }
        let mut regions = Regions {
            size: buf.len(),
            taken: Vec::new(),
        };
        regions.take(0, XattrHeader::SIZE);
        let mut charge = 1;
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
            } else {
                match self.value_inode(ino, &entry, name)? {
                    ValueInode::Charge(n) => charge += n,
                    ValueInode::Fault(code, num, declined) => {
                        let c = Ctx { num, ..c.clone() };
                        if self.problem(code, &c)? {
                            return Ok(EaBlock::Clear);
                        }
                        charge += declined;
                    }
                }
            }
            off += rounded(name_len + xattr::ENTRY_HEADER);
        }
        if !regions.take(off, 4) && self.problem(Code::EaAllocCollision, &c)? {
            return Ok(EaBlock::Clear);
        }
        self.count_value_inodes(&buf, XattrHeader::SIZE);
        Ok(EaBlock::Keep {
            refcount: header.h_refcount,
            charge,
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
        let (fault, charge) = self.ibody_fault(ino, &area)?;
        let c = |num| Ctx {
            ino,
            num,
            ..Default::default()
        };
        let cleared = match fault {
            Some((code, num)) => self.problem(code, &c(num))?,
            None => false,
        };
        if !cleared {
            // As e2fsck: the values the area names count, faults declined
            // too, and so do the blocks of those checked before a fault.
            self.count_value_inodes(&area, IBODY_HEADER);
            if charge != 0 {
                self.ibody_charge.insert(ino, charge);
            }
        } else {
            inode.clear_in_inode_xattr_magic()?;
            self.write_inode(ino, inode)?;
        }
        Ok(())
    }

    /// The first fault of an in-inode area, with its number, as e2fsck
    /// finds it: each entry must fit in what the entries and values before
    /// it left (counted unrounded), and take bytes no other part took.
    fn ibody_fault(&mut self, ino: u32, area: &[u8]) -> Result<(Option<(Code, u64)>, u64)> {
        let mut charge = 0;
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
            let Some(entry) = xattr::entry_header(area, off) else {
                return Ok((None, charge));
            };
            let name_len = entry.name_len as usize;
            if !regions.take(off, rounded(name_len + xattr::ENTRY_HEADER)) {
                return Ok((collision, charge));
            }
            // e2fsck's name length test (PR_1_ATTR_NAME_LEN) comes here;
            // the region just taken already keeps the name in the area.
            remain = remain.saturating_sub(xattr::ENTRY_HEADER + rounded(name_len));
            if entry.value_inum == 0 {
                let size = entry.value_size as usize;
                if size > remain {
                    return Ok((Some((Code::AttrValueSize, size as u64)), charge));
                }
                let at = IBODY_HEADER + entry.value_offs as usize;
                if size != 0 && !regions.take(at, rounded(size)) {
                    return Ok((collision, charge));
                }
                // A zero hash is what older kernels stored: not checked.
                let Some(name) = xattr::entry_name(area, off, &entry) else {
                    return Ok((None, charge));
                };
                let value = area.get(at..at + rounded(size)).unwrap_or_default();
                if entry.hash != 0
                    && entry.hash != xattr::entry_hash_unsigned(name, value)
                    && entry.hash != xattr::entry_hash(name, value)
                {
                    return Ok((Some((Code::AttrHash, entry.hash as u64)), charge));
                }
                remain -= size;
            } else {
                let name = xattr::entry_name(area, off, &entry).unwrap_or_default();
                match self.value_inode(ino, &entry, name)? {
                    ValueInode::Charge(n) => charge += n,
                    ValueInode::Fault(code, num, _) => return Ok((Some((code, num)), charge)),
                }
            }
            off += rounded(name_len + xattr::ENTRY_HEADER);
        }
        if !regions.take(off, 4) {
            return Ok((collision, charge));
        }
        Ok((None, charge))
    }

    /// e2fsck's check_large_ea_inode: an attribute whose value lives in
    /// inode `entry.value_inum` (ext4's ea_inode; checked without the
    /// feature too). The hash must be the name's mixed with the value
    /// inode's (or the value inode must be an old Lustre one, stamped with
    /// its parent's number and generation), and the value inode must carry
    /// the EA_INODE flag, which is offered first.
    fn value_inode(
        &mut self,
        parent: u32,
        entry: &xattr::EntryHeader,
        name: &[u8],
    ) -> Result<ValueInode> {
        let vino = entry.value_inum;
        if vino < self.fs.sb().first_ino() || vino > self.inodes_count {
            return Ok(ValueInode::Fault(Code::AttrValueEaInode, vino as u64, 0));
        }
        let mut value = self.fs.read_inode(vino)?;
        let flagged = value.base.i_flags & flags::EA_INODE != 0;
        let (hash, signed) = xattr::entry_hash_with_value_inode(name, value.ea_inode_hash());
        // The value's blocks count in the owner's i_blocks, but for an old
        // Lustre value inode (stamped with its parent's number and
        // generation instead of a hash).
        let bs = self.fs.block_size() as u64;
        let mut charge = (entry.value_size as u64).div_ceil(bs);
        if entry.hash != hash && entry.hash != signed {
            let generation = self.fs.read_inode(parent)?.base.i_generation;
            let lustre = value.base.i_mtime == parent && value.base.i_generation == generation;
            if !lustre {
                return Ok(if flagged {
                    ValueInode::Fault(Code::AttrHash, entry.hash as u64, 0)
                } else {
                    ValueInode::Fault(Code::AttrValueEaInode, vino as u64, 0)
                });
            }
            charge = 0;
        }
        if !flagged {
            let c = Ctx {
                ino: parent,
                num: vino as u64,
                ..Default::default()
            };
            if !self.problem(Code::AttrSetEaInodeFlag, &c)? {
                return Ok(ValueInode::Fault(
                    Code::AttrNoEaInodeFlag,
                    vino as u64,
                    charge,
                ));
            }
            value.base.i_flags |= flags::EA_INODE;
            self.write_inode(vino, &value)?;
        }
        Ok(ValueInode::Charge(charge))
    }

    /// e2fsck's inc_ea_inode_refs: each value inode the entry table from
    /// `start` names gains a reference, for pass 4.
    fn count_value_inodes(&mut self, buf: &[u8], start: usize) {
        let mut off = start;
        while !xattr::table_ends_at(buf, off) {
            let Some(entry) = xattr::entry_header(buf, off) else {
                break;
            };
            if entry.value_inum != 0 {
                *self.ea_inode_refs.entry(entry.value_inum).or_default() += 1;
            }
            off += rounded(entry.name_len as usize + xattr::ENTRY_HEADER);
        }
    }
}
