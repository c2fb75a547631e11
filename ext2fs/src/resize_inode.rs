//! The resize inode (inode 7): a double-indirect block whose entries point
//! at the primary reserved GDT blocks; each of those, used as an indirect
//! block, lists the same reserved block in every backup group. It keeps
//! the reserved blocks allocated so the descriptor table can grow online.

use crate::inode::{Inode, DIND_BLOCK, NDIR_BLOCKS, S_IFREG};
use crate::layout::Geometry;

/// The reserved GDT blocks of one primary slot and its backups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReservedSlot {
    /// Index in the double-indirect block.
    pub dind_index: usize,
    /// The primary reserved GDT block (group 0).
    pub primary: u32,
    /// The same slot in each backup group, in group order.
    pub backups: Vec<u32>,
}

/// Where e2fsprogs' ext2fs_create_resize_inode puts everything: the slot
/// index of reserved block `r` is (desc_blocks + r) mod addresses-per-block.
pub fn reserved_slots(geo: &Geometry) -> Vec<ReservedSlot> {
    let apb = (geo.block_size / 4) as usize;
    let sb_blk = geo.first_data_block;
    let backup_groups = geo.backup_groups();
    (0..geo.reserved_gdt_blocks)
        .map(|r| {
            let primary = sb_blk + 1 + geo.desc_blocks + r;
            ReservedSlot {
                dind_index: (geo.desc_blocks + r) as usize % apb,
                primary,
                backups: backup_groups
                    .iter()
                    .map(|&g| primary + g * geo.blocks_per_group)
                    .collect(),
            }
        })
        .collect()
}

/// Goal for the double-indirect block, as mke2fs asks the allocator:
/// just past group 0's inode table.
pub fn dind_goal(geo: &Geometry) -> u64 {
    geo.first_data_block as u64
        + geo.desc_blocks as u64
        + geo.reserved_gdt_blocks as u64
        + 2
        + geo.inode_table_blocks as u64
}

/// The resize inode and the blocks to write for it, given the block chosen
/// for the double-indirect block: (inode, [(block, contents)]).
pub fn build(
    geo: &Geometry,
    dind: u32,
    ctime: u32,
    inode_size: u16,
) -> (Inode, Vec<(u32, Vec<u8>)>) {
    let bs = geo.block_size as usize;
    let apb = bs / 4;
    let mut dind_buf = vec![0u8; bs];
    let mut blocks = Vec::new();
    let mut count = 1u64;
    for slot in reserved_slots(geo) {
        dind_buf[slot.dind_index * 4..slot.dind_index * 4 + 4]
            .copy_from_slice(&slot.primary.to_le_bytes());
        let mut gdt = vec![0u8; bs];
        for (i, b) in slot.backups.iter().enumerate().take(apb) {
            gdt[i * 4..i * 4 + 4].copy_from_slice(&b.to_le_bytes());
        }
        count += 1 + slot.backups.len() as u64;
        blocks.push((slot.primary, gdt));
    }
    blocks.insert(0, (dind, dind_buf));
    let mut ino = Inode::new(inode_size);
    ino.base.i_mode = S_IFREG | 0o600;
    ino.base.i_links_count = 1;
    ino.base.i_block[DIND_BLOCK] = dind;
    ino.base.i_blocks = (count * (bs as u64 / 512)) as u32;
    let apb = apb as u64;
    ino.set_size((apb * apb + apb + NDIR_BLOCKS as u64) * bs as u64);
    ino.base.i_ctime = ctime;
    ino.base.i_atime = ctime;
    ino.base.i_mtime = ctime;
    if inode_size > 128 {
        ino.extra.i_extra_isize = 32;
        ino.extra.i_crtime = ctime;
    }
    (ino, blocks)
}

/// Checks a resize inode against the layout: returns what is wrong, or
/// an empty list. `read` fetches a block.
pub fn verify<R>(geo: &Geometry, inode: &Inode, read: R) -> Vec<String>
where
    R: FnMut(u32) -> crate::Result<Vec<u8>>,
{
    verify_slots(geo, inode, usize::MAX, read)
}

/// [`verify`] looking at the first `slots` reserved descriptor blocks only
/// (e2fsck's check_resize_inode looks at s_reserved_gdt_blocks / 4 of them).
pub fn verify_slots<R>(geo: &Geometry, inode: &Inode, slots: usize, mut read: R) -> Vec<String>
where
    R: FnMut(u32) -> crate::Result<Vec<u8>>,
{
    let mut problems = Vec::new();
    let b = &inode.base.i_block;
    if b.iter()
        .enumerate()
        .any(|(i, &x)| i != DIND_BLOCK && x != 0)
    {
        // Invalid already: e2fsck's check_resize_inode reads nothing more.
        return vec!["resize inode has blocks other than its double-indirect block".into()];
    }
    let dind = b[DIND_BLOCK];
    if dind == 0 || dind as u64 >= geo.blocks_count {
        problems.push(format!(
            "resize inode's double-indirect block {dind} is invalid"
        ));
        return problems;
    }
    let dind_buf = match read(dind) {
        Ok(v) => v,
        Err(e) => return vec![format!("reading block {dind}: {e}")],
    };
    for slot in reserved_slots(geo).into_iter().take(slots) {
        let at = slot.dind_index * 4;
        let got = crate::codec::le32(&dind_buf, at);
        if got != slot.primary {
            problems.push(format!(
                "reserved GDT slot {} points at {got}, expected {}",
                slot.dind_index, slot.primary
            ));
            continue;
        }
        match read(slot.primary) {
            Ok(gdt) => {
                for (i, want) in slot.backups.iter().enumerate() {
                    let got = crate::codec::le32(&gdt, i * 4);
                    if got != *want {
                        problems.push(format!(
                            "reserved GDT block {} lists {got} for backup {i}, expected {want}",
                            slot.primary
                        ));
                    }
                }
            }
            Err(e) => problems.push(format!("reading block {}: {e}", slot.primary)),
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_the_descriptor_table() {
        let geo = Geometry {
            block_size: 1024,
            blocks_count: 65536,
            first_data_block: 1,
            blocks_per_group: 8192,
            inodes_per_group: 2048,
            inode_size: 256,
            group_count: 8,
            desc_blocks: 1,
            reserved_gdt_blocks: 255,
            inode_table_blocks: 512,
            features: crate::features::FeatureSet {
                ro_compat: crate::features::ro_compat::SPARSE_SUPER,
                ..Default::default()
            },
            backup_bgs: [0; 2],
            first_meta_bg: 0,
        };
        let s = reserved_slots(&geo);
        assert_eq!(s.len(), 255);
        assert_eq!(s[0].primary, 3);
        assert_eq!(s[0].dind_index, 1);
        assert_eq!(
            s[0].backups,
            [3 + 8192, 3 + 3 * 8192, 3 + 5 * 8192, 3 + 7 * 8192]
        );
        assert_eq!(s[254].dind_index, 255);
    }
}
