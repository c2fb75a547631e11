//! -l / -L: update the bad blocks inode from a list of block numbers (the
//! output of badblocks(8)), before the passes run, like e2fsck does. Pass 1
//! then gives files that use a bad block their own copies.

use std::path::Path;

use anyhow::{bail, Context, Result};
use ext2fs::block_map;
use ext2fs::fs::Filesystem;
use ext2fs::inode::{self, Inode};

use crate::blocks;

/// Reads block numbers, one per line (blank lines and '#' comments skipped).
pub fn read_list(path: &Path, fs: &Filesystem) -> Result<Vec<u32>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("while reading the bad blocks file {}", path.display()))?;
    let first = fs.sb().s_first_data_block as u64;
    let count = fs.sb().s_blocks_count as u64;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let b: u64 = t.parse().with_context(|| {
            format!("{}:{}: '{t}' is not a block number", path.display(), n + 1)
        })?;
        if b < first || b >= count {
            bail!(
                "{}:{}: block {b} is outside the filesystem ({first}-{})",
                path.display(),
                n + 1,
                count - 1
            );
        }
        out.push(b as u32);
    }
    Ok(out)
}

/// -c: runs badblocks(8) over the whole filesystem (read-only scan, or
/// with -cc a non-destructive read-write test) and returns what it found.
pub fn scan(
    device: &str,
    fs: &Filesystem,
    write_test: bool,
    show_progress: bool,
) -> Result<Vec<u32>> {
    let last = fs.sb().s_blocks_count.saturating_sub(1);
    let mut cmd = std::process::Command::new("badblocks");
    cmd.arg("-b").arg(fs.block_size().to_string()).arg("-X");
    if show_progress {
        cmd.arg("-s");
    }
    if write_test {
        cmd.arg("-n");
    }
    cmd.arg(device).arg(last.to_string());
    cmd.stderr(std::process::Stdio::inherit());
    let out = cmd
        .output()
        .context("while running badblocks(8) (is e2fsprogs installed?)")?;
    if !out.status.success() {
        bail!("badblocks(8) failed with {}", out.status);
    }
    let first = fs.sb().s_first_data_block;
    let mut list = Vec::new();
    for t in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        let b: u32 = t
            .parse()
            .with_context(|| format!("badblocks(8) printed '{t}', not a block number"))?;
        if b >= first && b <= last {
            list.push(b);
        }
    }
    Ok(list)
}

/// Rewrites the bad blocks inode to list `add` (plus its current blocks
/// unless `replace`), its times set to the check's clock `now`. Returns
/// how many blocks it lists.
pub fn update(fs: &mut Filesystem, add: &[u32], replace: bool, now: u32) -> Result<usize> {
    let rec = fs.read_inode(inode::BAD_INO)?;
    let first = fs.sb().s_first_data_block as u64;
    let mut listed = Vec::new();
    let mut old_indirect = Vec::new();
    for p in blocks::legal_blocks(fs, &rec).blocks {
        if p.is_data() {
            listed.push(p.pblk);
        } else {
            old_indirect.push(p.pblk as u64);
        }
    }
    if replace {
        listed.clear();
    }
    listed.extend_from_slice(add);
    listed.sort_unstable();
    listed.dedup();
    fs.load_bitmaps()?;
    for b in old_indirect {
        fs.mark_block(b, false)?;
    }
    let data: Vec<(u64, u32)> = listed
        .iter()
        .enumerate()
        .map(|(i, &b)| (i as u64, b))
        .collect();
    let bs = fs.block_size();
    let mut fresh = Vec::new();
    let (i_block, indirect) = block_map::build(&data, bs, || {
        let b = fs.alloc_block(first)?;
        fresh.push(b);
        Ok(b)
    })?;
    for (b, contents) in &indirect {
        fs.write_block(*b as u64, contents)?;
    }
    for &b in &listed {
        fs.mark_block(b as u64, true)?;
    }
    // A bad blocks inode with a mode is invalid anyway: start clean.
    let mut new = if rec.base.i_mode == 0 {
        rec
    } else {
        Inode::new(rec.size)
    };
    new.base.i_block = i_block;
    new.base.i_blocks = ((listed.len() + fresh.len()) as u64 * (bs as u64 / 512)) as u32;
    new.set_size(listed.len() as u64 * bs as u64);
    new.base.i_atime = now;
    new.base.i_mtime = now;
    if new.base.i_ctime == 0 {
        new.base.i_ctime = now;
    }
    fs.write_inode(inode::BAD_INO, &new)?;
    fs.flush()?;
    Ok(listed.len())
}

/// The bad blocks list as libext2fs' inode scan reads it from its inode
/// (ext2fs_read_bb_inode): the data blocks inside the filesystem that its
/// block iterator meets, those met before an error too (e2fsck keeps the
/// list it was filling); none when the inode cannot be read.
pub fn list(fs: &Filesystem) -> std::collections::BTreeSet<u64> {
    let group = fs.geo().inode_group(inode::BAD_INO);
    if crate::super_check::inode_table_unreadable(fs, group).is_some() {
        return Default::default();
    }
    let Ok(rec) = fs.read_inode(inode::BAD_INO) else {
        return Default::default();
    };
    let fl = rec.base.i_flags;
    if fl & (ext2fs::inode::flags::EXTENTS | ext2fs::inode::flags::INLINE_DATA) != 0 {
        return Default::default();
    }
    blocks::iterate(fs, &rec)
        .0
        .iter()
        .filter(|p| p.is_data() && p.pblk as u64 >= fs.sb().s_first_data_block as u64)
        .filter(|p| (p.pblk as u64) < fs.sb().s_blocks_count as u64)
        .map(|p| p.pblk as u64)
        .collect()
}

/// Why libext2fs cannot read the bad blocks list from its inode
/// (ext2fs_read_bb_inode), if it cannot: the inode's table is missing, or
/// its block iterator fails on the map (inline data flag, an indirect
/// block outside the filesystem). An extents flag makes the iterator
/// walk nothing, without error.
pub fn list_unreadable(fs: &Filesystem) -> Option<String> {
    let group = fs.geo().inode_group(ext2fs::inode::BAD_INO);
    if let Some(why) = crate::super_check::inode_table_unreadable(fs, group) {
        return Some(why.into());
    }
    let inode = fs.read_inode(ext2fs::inode::BAD_INO).ok()?;
    map_unreadable(fs, &inode)
}

/// Why libext2fs' block iterator fails on the bad blocks inode's map.
fn map_unreadable(fs: &Filesystem, inode: &ext2fs::inode::Inode) -> Option<String> {
    let fl = inode.base.i_flags;
    if fl & ext2fs::inode::flags::INLINE_DATA != 0 {
        Some(crate::pass1::INLINE_DATA_CANT_ITERATE.into())
    } else if fl & ext2fs::inode::flags::EXTENTS != 0 {
        None
    } else {
        crate::blocks::iterate(fs, inode).1
    }
}

impl crate::checker::Checker {
    /// e2fsck's ext2fs_read_bb_inode: why the list cannot be read, its
    /// inode's block read through the I/O error handler (under
    /// `operation`, as e2fsck names it there).
    pub fn bad_blocks_unreadable(
        &mut self,
        operation: Option<&str>,
    ) -> anyhow::Result<Option<String>> {
        let group = self.fs.geo().inode_group(inode::BAD_INO);
        if let Some(why) = crate::super_check::inode_table_unreadable(&self.fs, group) {
            return Ok(Some(why.into()));
        }
        let (block, _) = self.fs.inode_block(inode::BAD_INO)?;
        let before = std::mem::replace(&mut self.read_errors.operation, operation.map(Into::into));
        let read = match self.fs.read_block(block) {
            Ok(_) => Ok(None),
            Err(e) => {
                let why = e.com_err_text();
                self.read_error(e).map(|kept| kept.is_none().then_some(why))
            }
        };
        self.read_errors.operation = before;
        if let Some(why) = read? {
            return Ok(Some(why));
        }
        Ok(list_unreadable(&self.fs))
    }
}
