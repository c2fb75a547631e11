//! Directories: reading entries, lookup, inserting and removing entries
//! with the union replacement rule, rewriting a directory's blocks
//! (plain or as an htree).

use super::dx::DxAdd;
use super::Filesystem;
use crate::dirent::{self, DirEntry};
use crate::htree;
use crate::inode::{flags, Inode};
use crate::{CorruptKind, Error, Result, Structure};

impl Filesystem {
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
    /// An indexed directory is searched through its htree (only the leaves
    /// the name's hash can be in); when the index cannot be followed the
    /// directory is scanned linearly, as for an unindexed one.
    pub fn lookup_entry(&self, dir: u32, name: &[u8]) -> Result<Option<DirEntry>> {
        let wh = self.whiteout_feature();
        let inode = self.read_inode(dir)?;
        if !inode.is_dir() {
            return Err(Error::NotDirectory(format!("<{dir}>")));
        }
        if self.dx_applies(&inode, name) {
            if let Ok(found) = self.dx_lookup(dir, &inode, name) {
                return Ok(found.map(|mut f| f.entries.swap_remove(f.index)));
            }
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

    /// Bulk mode for copying a tree whose names are known to be unique per
    /// directory: inserts skip the same-name scan and fill the last block
    /// or append one, so a directory of n entries is built in O(n).
    pub fn set_unique_names(&mut self, on: bool) {
        self.unique_names = on;
    }

    /// With dir_index, a directory whose first block is full is turned
    /// into an htree when it needs a second one, as the kernel's ext3/ext4
    /// do (make_indexed_dir), so it never grows linearly past one block.
    /// Off by default: e2fsprogs (debugfs, e2fsck) grow directories
    /// linearly. For a filesystem in use, as the FUSE engine's top layer.
    pub fn set_auto_index(&mut self, on: bool) {
        self.auto_index = on;
    }

    /// Adds `name -> ino` to directory `dir`, following the union rule: a
    /// whiteout or fallthru of that name is replaced in its slot; a live
    /// entry of that name is an error. Grows the directory by a block when
    /// no block has room. An indexed directory keeps its index (the name
    /// goes into the leaf of its hash, a full leaf is split) unless the
    /// index is damaged or full at the deepest level ext2 allows: then the
    /// index is dropped and the name added linearly.
    pub fn add_entry(&mut self, dir: u32, name: &[u8], ino: u32, file_type: u8) -> Result<()> {
        self.insert_entry(dir, name, ino, file_type, true)
    }

    /// `add_entry` without growing the directory: when no block has room,
    /// [`Error::DirNoSpace`] (libext2fs' ext2fs_link, which leaves the
    /// growing to its caller: e2fsck asks before it expands /lost+found).
    pub fn add_entry_in_place(
        &mut self,
        dir: u32,
        name: &[u8],
        ino: u32,
        file_type: u8,
    ) -> Result<()> {
        self.insert_entry(dir, name, ino, file_type, false)
    }

    /// Grows directory `dir` by one empty block at its end (libext2fs'
    /// ext2fs_expand_dir, e2fsck's expand_directory); returns the new
    /// block's logical number.
    pub fn expand_dir(&mut self, dir: u32) -> Result<u32> {
        self.require_write()?;
        let mut inode = self.read_inode(dir)?;
        if !inode.is_dir() {
            return Err(Error::NotDirectory(format!("<{dir}>")));
        }
        let block = dirent::empty_block(self.geo.block_size as usize);
        self.append_dir_block(dir, &mut inode, &block)
    }

    fn insert_entry(
        &mut self,
        dir: u32,
        name: &[u8],
        ino: u32,
        file_type: u8,
        grow: bool,
    ) -> Result<()> {
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
        if dir_inode.base.i_flags & flags::INLINE_DATA != 0 {
            // ext2fs_link walks the inline entries first (their error is
            // its answer); inserting into them is not done on ext2.
            self.inline_dir_iterate(dir, &dir_inode, true, &mut |_| {
                std::ops::ControlFlow::Continue(())
            })?;
            return Err(Error::InlineDataNoBlock);
        }
        if dir_inode.base.i_flags & flags::INDEX != 0 {
            if name == b"." || name == b".." {
                // Always in an htree's root block.
                return Err(Error::Exists(String::from_utf8_lossy(name).into_owned()));
            }
            if self.dx_applies(&dir_inode, name) {
                match self.dx_add(dir, &mut dir_inode, new.clone())? {
                    DxAdd::Added => return Ok(()),
                    DxAdd::Unindexable => {}
                }
            }
            // Entries added linearly would break the hash order of the
            // leaves: drop the index (e2fsck -D or index_directory rebuilds
            // it).
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
        if !grow {
            return Err(Error::DirNoSpace(dir));
        }
        if self.auto_index && self.sb.has_compat(crate::features::compat::DIR_INDEX) {
            // Its one block is full: index it, then insert through the index.
            if self.dx_make_indexed(dir, &mut dir_inode)? {
                return self.add_entry(dir, name, ino, file_type);
            }
        }
        // No room: append a block.
        let bytes = htree::pack_leaf(vec![new], self.geo.block_size as usize)?;
        self.append_dir_block(dir, &mut dir_inode, &bytes).map(drop)
    }

    pub(super) fn write_dir_block(
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
    pub(super) fn write_dir_block_at(&mut self, phys: u32, entries: &[DirEntry]) -> Result<()> {
        let bytes = dirent::write_block(entries, self.geo.block_size as usize)?;
        self.write_block(phys as u64, &bytes)
    }

    /// Removes `name` from `dir` and returns the entry that was there.
    pub fn remove_entry(&mut self, dir: u32, name: &[u8]) -> Result<DirEntry> {
        self.require_write()?;
        let wh = self.whiteout_feature();
        let dir_inode = self.read_inode(dir)?;
        if self.dx_applies(&dir_inode, name) {
            // A leaf only loses an entry: the index stays valid.
            if let Ok(found) = self.dx_lookup(dir, &dir_inode, name) {
                let Some(mut f) = found else {
                    return Err(Error::NotFound(String::from_utf8_lossy(name).into_owned()));
                };
                let gone = f.entries[f.index].clone();
                dirent::remove_at(&mut f.entries, f.index);
                self.write_dir_block_at(f.phys, &f.entries)?;
                return Ok(gone);
            }
        }
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

    /// Whether a directory is empty: only '.', '..', whiteouts and
    /// fallthrus (union-ext2.md: whiteouts do not keep a directory busy).
    pub fn dir_is_empty(&self, dir: u32) -> Result<bool> {
        Ok(self
            .read_dir(dir)?
            .iter()
            .all(|e| e.is_dot() || e.is_dotdot() || e.inode == 0))
    }

    /// Replaces a directory's contents with `blocks` as e2fsck's
    /// write_directory does: each new block goes into the directory's own
    /// block of that logical number; a missing one (a hole, or past the
    /// end) is allocated after the block before it, as
    /// e2fsck_expand_directory allocates; blocks past the new end are
    /// given back (ext2fs_punch). Refused with [`Error::NoSpace`] before
    /// anything changes when the missing blocks cannot all be found.
    /// `indexed` sets or clears the htree flag. (Shrinking a directory of
    /// more than 12 blocks to more than 12 maps the kept ones afresh, its
    /// indirect block placed again.)
    pub fn write_dir_blocks(&mut self, dir: u32, blocks: &[Vec<u8>], indexed: bool) -> Result<()> {
        self.require_write()?;
        let mut rec = self.read_inode(dir)?;
        if !rec.is_dir() {
            return Err(Error::NotDirectory(format!("<{dir}>")));
        }
        let bs = self.geo.block_size;
        let n = blocks.len() as u64;
        let mut existing = std::collections::BTreeMap::new();
        self.walk_blocks(&rec, |k, b| {
            if let crate::block_map::BlockKind::Data(l) = k {
                existing.insert(l, b);
            }
            true
        })?;
        let missing = (0..n).filter(|l| !existing.contains_key(l)).count() as u64;
        if missing > 0
            && missing + crate::block_map::indirect_blocks_for(n, bs)
                > self.free_blocks_in_bitmap()?
        {
            return Err(Error::NoSpace { what: "block" });
        }
        let mut last = 0u64;
        for (l, block) in (0u64..).zip(blocks) {
            let p = match existing.get(&l) {
                Some(&p) => p,
                None => {
                    let p = self.alloc_block(last)?;
                    self.bmap_set(&mut rec, l, p)?;
                    rec.base.i_blocks += bs / 512;
                    p
                }
            };
            self.write_block(u64::from(p), block)?;
            last = u64::from(p);
        }
        if existing.keys().any(|&l| l >= n) {
            self.truncate(dir, &mut rec, n * u64::from(bs))?;
        }
        rec.set_size(n * u64::from(bs));
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
        self.index_directory_with_slack(dir, 0)
    }

    /// [`Self::index_directory`] with `slack` bytes left free at the end
    /// of each leaf (see [`htree::build_with_slack`]).
    pub fn index_directory_with_slack(&mut self, dir: u32, slack: usize) -> Result<()> {
        if !self.sb.has_compat(crate::features::compat::DIR_INDEX) {
            return Err(Error::MissingFeature("dir_index"));
        }
        let all = self.read_dir(dir)?;
        let parent = all
            .iter()
            .find(|e| e.is_dotdot())
            .map(|e| e.inode)
            .ok_or_else(|| {
                Error::corrupt(
                    Structure::Directory { block: 0 },
                    dir as u64,
                    CorruptKind::NoDotDot,
                )
            })?;
        let blocks = self.htree_blocks(dir, parent, all, slack)?;
        self.write_dir_blocks(dir, &blocks, true)
    }

    /// The blocks of directory `dir` (whose parent is `parent`) holding
    /// `entries` as an htree with the superblock's default hash and seed,
    /// `slack` bytes left free in each leaf; '.' and '..' among the
    /// entries are left out (the root block has its own). Nothing is
    /// written.
    pub fn htree_blocks(
        &self,
        dir: u32,
        parent: u32,
        entries: Vec<DirEntry>,
        slack: usize,
    ) -> Result<Vec<Vec<u8>>> {
        let entries: Vec<htree::NewEntry> = entries
            .into_iter()
            .filter(|e| !e.is_dot() && !e.is_dotdot())
            .map(|e| htree::NewEntry {
                name: e.name,
                inode: e.inode,
                file_type: e.file_type,
            })
            .collect();
        htree::build_with_slack(
            dir,
            parent,
            self.filetype_feature(),
            &entries,
            self.geo.block_size as usize,
            self.sb.s_def_hash_version,
            &self.sb.s_hash_seed,
            self.sb.s_flags,
            slack,
        )
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

#[cfg(test)]
mod tests {
    use crate::fs::test_fs;
    use crate::inode::{ROOT_INO, S_IFREG};
    use crate::Error;

    #[test]
    fn in_place_adds_never_grow_and_expand_dir_makes_room() {
        let mut fs = test_fs(false);
        let d = fs.mkdir(ROOT_INO, b"d", 0o755).unwrap();
        let f = fs.create(ROOT_INO, b"f", S_IFREG | 0o644).unwrap();
        let bs = fs.geo().block_size as u64;
        let size = |fs: &super::Filesystem| fs.read_inode(d).unwrap().size();
        assert_eq!(size(&fs), bs);
        for i in 0.. {
            let name = format!("entry-with-a-long-name-{i:04}");
            match fs.add_entry_in_place(d, name.as_bytes(), f, 1) {
                Ok(()) => {}
                Err(Error::DirNoSpace(dir)) => {
                    assert_eq!(dir, d);
                    assert_eq!(
                        Error::DirNoSpace(dir).com_err_text(),
                        "No free space in the directory"
                    );
                    break;
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(size(&fs), bs);
        assert_eq!(fs.expand_dir(d).unwrap(), 1);
        assert_eq!(size(&fs), 2 * bs);
        fs.add_entry_in_place(d, b"one-more", f, 1).unwrap();
        assert_eq!(size(&fs), 2 * bs);
        assert!(fs.lookup_entry(d, b"one-more").unwrap().is_some());
    }
}
