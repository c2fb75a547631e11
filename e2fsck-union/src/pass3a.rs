//! Pass 3A: the directories marked for it (duplicate names, cleared
//! htree indexes, large unindexed ones) are rewritten compactly, their
//! duplicate names settled first in e2fsck's order (rehash.c): entries
//! sorted as e2fsck sorts them, a name repeated with the same inode
//! dropped, with another inode renamed.

use std::cmp::Ordering;
use std::collections::HashSet;

use anyhow::Result;
use ext2fs::dirent::{self, ft, DirEntry};

use crate::checker::{Checker, DirBlock};
use crate::problem::{Code, Ctx};

/// One entry as e2fsck's rehash holds it, with its hash (zero when the
/// directory is rewritten without an index).
struct Slot {
    entry: DirEntry,
    hash: (u32, u32),
}

impl Checker {
    /// Pass 3A. Under -n the duplicate names are still asked about (and
    /// nothing is written), as e2fsck does.
    pub(crate) fn pass3a(&mut self) -> Result<()> {
        self.problem(Code::Pass3A, &Ctx::default())?;
        let dirs: Vec<u32> = self.rehash.iter().copied().collect();
        for dir in dirs {
            if !self.is_dir(dir) {
                continue;
            }
            self.rehash_dir(dir)?;
        }
        Ok(())
    }

    fn rehash_dir(&mut self, dir: u32) -> Result<()> {
        let bs = self.fs.block_size() as usize;
        let wh = self.fs.whiteout_feature();
        let mut blocks: Vec<DirBlock> = self
            .dir_blocks
            .iter()
            .filter(|d| d.ino == dir && d.pblk != 0)
            .copied()
            .collect();
        blocks.sort_by_key(|d| d.lblk);
        let mut dot = None;
        let mut dotdot = None;
        // The names the first two entries really have (a '..' damaged
        // into a second '.' is a duplicate name to e2fsck's search).
        let mut dot_names: [Vec<u8>; 2] = [b".".to_vec(), b"..".to_vec()];
        let mut live: Vec<DirEntry> = Vec::new();
        let mut union: Vec<DirEntry> = Vec::new();
        for db in &blocks {
            let buf = self.fs.read_block(db.pblk as u64)?;
            // As e2fsck's fill_dir_block: an entry that does not fit, or a
            // live one without a name, stops the rebuild before anything
            // is asked ("Failed to optimize directory").
            if let Some(e) = corrupt_entry(&buf, dir, db.pblk as u64) {
                return self.optimize_failed(dir, &e);
            }
            for (k, e) in dirent::iter_block(&buf).enumerate() {
                if db.lblk == 0 && k == 0 {
                    dot = Some(e.inode);
                    dot_names[0] = e.name.to_vec();
                    continue;
                }
                if db.lblk == 0 && k == 1 {
                    dotdot = Some(e.inode);
                    dot_names[1] = e.name.to_vec();
                    continue;
                }
                let entry = DirEntry::new(e.inode, e.file_type, e.name);
                if e.inode != 0 {
                    live.push(entry);
                } else if wh && matches!(e.file_type, ft::WHT | ft::FALLTHRU) && !e.name.is_empty()
                {
                    union.push(entry);
                }
            }
        }
        // As e2fsck: a directory whose entries fit in one block, or that
        // cannot be indexed, is rewritten without an index.
        let indexed = self.fs.sb().has_compat(ext2fs::features::compat::DIR_INDEX);
        let size = self.fs.read_inode(dir)?.base.i_size as usize;
        let total: usize = live.iter().map(|e| dirent::rec_len_for(e.name.len())).sum();
        let compress = !indexed || size / bs < 2 || total < bs - 24;
        let mut live = self.settle_duplicates(
            dir,
            [
                (dot, dot_names[0].as_slice()),
                (dotdot, dot_names[1].as_slice()),
            ],
            live,
            compress,
        )?;
        if self.read_only() {
            return Ok(());
        }
        if compress {
            // Sorted by inode number (after e2fsck's name order, which
            // its sort keeps among links to one inode), past the first
            // two entries e2fsck holds: a '.' or '..' of inode 0 is not
            // held, and the first names take their places.
            let pinned = sort_start(&[dot, dotdot], live.len()).min(live.len());
            let rest = &mut live[pinned..];
            rest.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| b.inode.cmp(&a.inode)));
            rest.sort_by_key(|e| e.inode);
        }
        let mut names: HashSet<Vec<u8>> = live.iter().map(|e| e.name.clone()).collect();
        for u in union {
            if names.insert(u.name.clone()) {
                live.push(u);
            }
        }
        let blocks_len = blocks.len();
        let built = if compress {
            self.linear_blocks(dir, dot, dotdot, live, blocks_len)
        } else {
            self.indexed_blocks(dir, dotdot, live)
        };
        // As e2fsck: a directory that cannot be rebuilt (no room for its
        // new blocks) is reported and left as it was; pass 3A goes on.
        let written = built.and_then(|out| Ok(self.fs.write_dir_blocks(dir, &out, !compress)?));
        if let Err(e) = written {
            // The library refuses a rewrite with too few free blocks
            // before it changes anything.
            let Some(err) = crate::checker::no_space(&e) else {
                return Err(e);
            };
            return self.optimize_failed(dir, err);
        }
        // A rewrite, even with nothing fixed (e2fsck's MODIFIED line).
        self.ask.changed = true;
        self.refresh_dir_blocks(dir)?;
        Ok(())
    }

    /// PR_3A_OPTIMIZE_DIR_ERR: directory `dir` is left as it was, pass 3A
    /// goes on.
    fn optimize_failed(&mut self, dir: u32, err: &ext2fs::Error) -> Result<()> {
        let c = Ctx {
            ino: dir,
            path: self.dir_path(dir),
            str1: err.com_err_text(),
            ..Default::default()
        };
        self.problem(Code::OptimizeDirError, &c)?;
        Ok(())
    }

    /// The blocks of a directory rewritten without an index: '.', '..',
    /// then the entries packed in order.
    fn linear_blocks(
        &self,
        dir: u32,
        dot: Option<u32>,
        dotdot: Option<u32>,
        live: Vec<DirEntry>,
        old_blocks: usize,
    ) -> Result<Vec<Vec<u8>>> {
        let bs = self.fs.block_size() as usize;
        let filetype = self.fs.filetype_feature();
        let mut out: Vec<Vec<u8>> = Vec::new();
        // '.' and '..' as e2fsck's array holds them: one of inode 0 is
        // not written.
        let dir_type = if filetype { ft::DIR } else { 0 };
        let dots = [(dot.or(Some(dir)), &b"."[..]), (dotdot, &b".."[..])];
        let mut cur: Vec<DirEntry> = dots
            .iter()
            .filter_map(|&(ino, name)| ino.filter(|&i| i != 0).map(|i| (i, name)))
            .map(|(i, name)| {
                let mut e = DirEntry::new(i, dir_type, name);
                e.rec_len = dirent::rec_len_for(name.len()) as u32;
                e
            })
            .collect();
        let mut used: usize = cur.iter().map(|e| e.rec_len as usize).sum();
        for e in live {
            let need = dirent::rec_len_for(e.name.len());
            if used + need > bs {
                let last = cur.len() - 1;
                cur[last].rec_len += (bs - used) as u32;
                out.push(dirent::write_block(&cur, bs)?);
                cur = Vec::new();
                used = 0;
            }
            let mut e = e;
            e.rec_len = need as u32;
            used += need;
            cur.push(e);
        }
        if cur.is_empty() {
            cur.push(empty_entry(bs));
        } else {
            let last = cur.len() - 1;
            cur[last].rec_len += (bs - used) as u32;
        }
        out.push(dirent::write_block(&cur, bs)?);
        if dir == self.lost_found {
            // e2fsck keeps every block of lost+found, emptied.
            while out.len() < old_blocks {
                out.push(dirent::write_block(&[empty_entry(bs)], bs)?);
            }
        }
        Ok(out)
    }

    /// The blocks of a directory rewritten as an htree, e2fsck's
    /// indexed_dir_slack_percentage (20 %) left free in each leaf.
    fn indexed_blocks(
        &self,
        dir: u32,
        dotdot: Option<u32>,
        live: Vec<DirEntry>,
    ) -> Result<Vec<Vec<u8>>> {
        let bs = self.fs.block_size() as usize;
        Ok(self
            .fs
            .htree_blocks(dir, dotdot.unwrap_or(0), live, bs * 20 / 100)?)
    }

    /// e2fsck's duplicate_search_and_fix, repeated while it fixes
    /// anything: the entries sorted by hash (by name without an index,
    /// '.' and '..' first and unsorted), each name equal to the one before
    /// it either dropped (same inode) or renamed to a name no entry has.
    /// Returns the entries left, in their last order.
    fn settle_duplicates(
        &mut self,
        dir: u32,
        dots: [(Option<u32>, &[u8]); 2],
        live: Vec<DirEntry>,
        compress: bool,
    ) -> Result<Vec<DirEntry>> {
        let sb = self.fs.sb();
        let version = ext2fs::hash::effective_version(sb.s_def_hash_version, sb.s_flags);
        let seed = sb.s_hash_seed;
        let hash_of = |name: &[u8]| {
            if compress {
                (0, 0)
            } else {
                ext2fs::hash::dirhash(version, name, &seed).unwrap_or((0, 0))
            }
        };
        // Without an index e2fsck keeps '.' and '..' in its array (ahead
        // of the sorted part); with one it leaves them out.
        let mut fixed_part = Vec::new();
        if compress {
            for (ino, name) in dots {
                if let Some(ino) = ino.filter(|&i| i != 0) {
                    fixed_part.push(Slot {
                        entry: DirEntry::new(ino, ft::DIR, name),
                        hash: (0, 0),
                    });
                }
            }
        }
        let skip = fixed_part.len();
        // e2fsck sorts past its array's first two entries, whatever they
        // are (without an index).
        let pinned = if compress {
            skip + sort_start(&[dots[0].0, dots[1].0], live.len())
        } else {
            0
        };
        let mut all = fixed_part;
        all.extend(live.into_iter().map(|entry| Slot {
            hash: hash_of(&entry.name),
            entry,
        }));
        let path = self.dir_path(dir);
        loop {
            let from = pinned.min(all.len());
            all[from..].sort_by(rehash_order);
            let mut fixed = 0;
            for i in 1..all.len() {
                let (prev, ent) = (&all[i - 1].entry, &all[i].entry);
                if ent.inode == 0 || ent.name != prev.name {
                    continue;
                }
                let c = Ctx {
                    ino: dir,
                    name: ent.name.clone(),
                    path: path.clone(),
                    ..Default::default()
                };
                if ent.inode == prev.inode && self.problem(Code::RehashDuplicate, &c)? {
                    self.adjust_count(all[i].entry.inode, false)?;
                    all[i].entry.inode = 0;
                    fixed += 1;
                    continue;
                }
                let mut new = ent.name.clone();
                mutate_name(&mut new);
                let mut j = 0;
                while j < all.len() {
                    if j != i && all[j].entry.name == new {
                        mutate_name(&mut new);
                        j = 0;
                        continue;
                    }
                    j += 1;
                }
                let c = Ctx {
                    str1: String::from_utf8_lossy(&new).into_owned(),
                    ..c
                };
                if self.problem(Code::NonUniqueName, &c)? {
                    all[i].hash = hash_of(&new);
                    all[i].entry.name = new;
                    fixed += 1;
                }
            }
            if fixed == 0 {
                break;
            }
        }
        Ok(all
            .into_iter()
            .skip(skip)
            .map(|s| s.entry)
            .filter(|e| e.inode != 0)
            .collect())
    }
}

/// e2fsck's hash_cmp: hash, minor hash, then name bytes, the shorter
/// name first, then the higher inode first.
fn rehash_order(a: &Slot, b: &Slot) -> Ordering {
    a.hash
        .cmp(&b.hash)
        .then_with(|| a.entry.name.cmp(&b.entry.name))
        .then_with(|| b.entry.inode.cmp(&a.entry.inode))
}

/// e2fsck's mutate_name: appends "~0" within the entry's padding (over
/// the name's last bytes where there is none), or counts an existing
/// "~N" suffix up.
fn mutate_name(s: &mut Vec<u8>) {
    let l = s.len();
    if l == 0 {
        return;
    }
    let mut i = l - 1;
    while i > 0 && s[i].is_ascii_digit() {
        i -= 1;
    }
    if i == l - 1 || s[i] != b'~' {
        let mut n = if (l - 1) & 3 < 2 { l + 2 } else { (l + 3) & !3 };
        n = n.min(255);
        s.resize(n, 0);
        s[n - 2] = b'~';
        s[n - 1] = b'0';
        return;
    }
    for i in (0..l).rev() {
        if s[i].is_ascii_digit() {
            if s[i] == b'9' {
                s[i] = b'0';
                continue;
            }
            s[i] += 1;
            return;
        }
        if i == 1 {
            match s[0] {
                b'z' => s[0] = b'A',
                b'Z' => {
                    s[0] = b'~';
                    s[1] = b'0';
                }
                _ => s[0] = s[0].wrapping_add(1),
            }
        } else if i > 0 {
            s[i] = b'1';
            s[i - 1] = b'~';
        } else if s[0] == b'~' {
            s[0] = b'a';
        } else {
            s[0] = s[0].wrapping_add(1);
        }
        break;
    }
}

/// The one unused entry of an empty directory block.
/// Without an index e2fsck sorts its array of entries from the third on
/// (when it has more than one): how many of the names after '.' and '..'
/// stay where they are, for the dots held (`dots`, inode 0 not held).
fn sort_start(dots: &[Option<u32>; 2], names: usize) -> usize {
    let held = dots.iter().filter(|d| d.is_some_and(|i| i != 0)).count();
    if held + names > 1 {
        2 - held
    } else {
        0
    }
}

fn empty_entry(bs: usize) -> DirEntry {
    DirEntry {
        inode: 0,
        rec_len: bs as u32,
        file_type: 0,
        name: Vec::new(),
    }
}

/// What e2fsck's fill_dir_block refuses in a directory block read for a
/// rebuild: an entry that does not fit its block, or one naming an inode
/// without a name.
fn corrupt_entry(buf: &[u8], dir: u32, block: u64) -> Option<ext2fs::Error> {
    for e in dirent::BlockCursor::new(buf, false) {
        match e {
            Err(bad) => return Some(bad.error(buf, dir, block)),
            Ok(e) if e.view.inode != 0 && e.view.name.is_empty() => {
                return Some(ext2fs::Error::corrupt(
                    ext2fs::Structure::Directory { block },
                    dir as u64,
                    ext2fs::CorruptKind::EmptyName(e.view.offset),
                ))
            }
            Ok(_) => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::mutate_name;

    fn mutated(s: &str) -> String {
        let mut v = s.as_bytes().to_vec();
        mutate_name(&mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn mutate_name_as_e2fsck() {
        assert_eq!(mutated("fa"), "fa~0");
        assert_eq!(mutated("a"), "a~0");
        assert_eq!(mutated("abc"), "ab~0");
        assert_eq!(mutated("abcd"), "ab~0");
        assert_eq!(mutated("abcde"), "abcde~0");
        assert_eq!(mutated("fa~0"), "fa~1");
        assert_eq!(mutated("fa~9"), "f~10");
        assert_eq!(mutated("~9"), "a0");
    }
}
