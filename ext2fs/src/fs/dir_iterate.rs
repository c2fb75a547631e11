//! Walking a directory as libext2fs' dir_iterate walks it (block.c's
//! read-only block_iterate under dir_iterate.c): the one walk behind
//! get_pathname, namei's lookup and debugfs' listings, so that they read,
//! stop and fail at the same places as e2fsprogs' tools.

use std::ops::ControlFlow;

use super::{Filesystem, OnReadError, ReadDecision};
use crate::block_map::{self, BlockKind, MapPtr, Visit};
use crate::dirent::{BlockCursor, BlockEntry};
use crate::inode::{flags, Inode, NDIR_BLOCKS};
use crate::{Error, Result};

/// One entry as [`Filesystem::dir_iterate`] shows it, with where it is.
#[derive(Clone, Copy, Debug)]
pub struct DirVisit<'a> {
    /// The entry (live, unused or, when asked for, removed).
    pub entry: BlockEntry<'a>,
    /// The logical block it is in, as libext2fs counts it.
    pub lblk: u64,
    /// The physical block it is in.
    pub pblk: u32,
}

impl Filesystem {
    /// ext2fs_block_iterate3, read-only: shows `visit` every non-zero
    /// pointer of `inode`'s block map in order, each indirect block before
    /// the blocks below it, data blocks with the logical numbers libext2fs
    /// counts. An indirect block outside the filesystem
    /// ([`Error::IllegalIndirectBlock`]) or that cannot be read is shown
    /// but not descended into, and the indirect blocks above it stop too
    /// (BLOCK_ERROR); the walk goes on with the next pointer of i_block,
    /// and later logical numbers do not count the branch given up.
    /// `visit` ends the walk with `Break` (BLOCK_ABORT). Returns the last
    /// error met on the way (what block_iterate3 returns), if any. An
    /// inode with inline data or extents has no block map to walk.
    pub fn block_iterate<V>(&self, inode: &Inode, visit: V) -> Option<Error>
    where
        V: FnMut(&MapPtr) -> ControlFlow<()>,
    {
        self.walk_block_map(inode, visit).0
    }

    /// [`Filesystem::block_iterate`] with what ext2fs_block_iterate3
    /// itself returns: its context's error code, which every indirect
    /// block read sets, so an error met on the way is returned only when
    /// no indirect block was read after it (a bad single indirect block
    /// followed by a readable doubly indirect one returns nothing).
    pub fn block_iterate_status<V>(&self, inode: &Inode, visit: V) -> Option<Error>
    where
        V: FnMut(&MapPtr) -> ControlFlow<()>,
    {
        match self.walk_block_map(inode, visit) {
            (error, true) => error,
            (_, false) => None,
        }
    }

    /// The walk behind both: the last error met, and whether the last
    /// indirect block judged was one that failed.
    fn walk_block_map<V>(&self, inode: &Inode, mut visit: V) -> (Option<Error>, bool)
    where
        V: FnMut(&MapPtr) -> ControlFlow<()>,
    {
        let mut last_failed = false;
        if inode.flags() & (flags::INLINE_DATA | flags::EXTENTS) != 0 {
            return (None, last_failed);
        }
        let per = u64::from(self.geo.block_size / 4);
        // Where each i_block pointer's range ends, for the count after a
        // branch is given up.
        let ends = [
            NDIR_BLOCKS as u64,
            NDIR_BLOCKS as u64 + per,
            NDIR_BLOCKS as u64 + per + per * per,
            u64::MAX,
        ];
        let mut behind = 0u64;
        let mut last_error = None;
        // An indirect block read while deciding whether to give it up, for
        // the walk to take instead of reading it again.
        let fetched = std::cell::RefCell::new(None::<(u32, Vec<u8>)>);
        let mut map = inode.base.i_block;
        let read = |b: u32| {
            Ok(match fetched.borrow_mut().take() {
                Some((at, block)) if at == b => Some(block),
                _ => self.read_block(u64::from(b)).ok(),
            })
        };
        let walked = block_map::iterate(&mut map, self.geo.block_size, read, |p| {
            let shown = MapPtr {
                kind: match p.kind {
                    BlockKind::Data(l) => BlockKind::Data(l - behind),
                    BlockKind::Indirect { level, first } => BlockKind::Indirect {
                        level,
                        first: first - behind,
                    },
                },
                ..*p
            };
            if visit(&shown).is_break() {
                return Visit::Stop;
            }
            let BlockKind::Indirect { first, level } = p.kind else {
                return Visit::Keep;
            };
            let b = u64::from(p.pblk);
            let block = if b < self.geo.blocks_count && p.pblk >= self.geo.first_data_block {
                self.read_block(b)
            } else {
                Err(Error::IllegalIndirectBlock(p.pblk, level))
            };
            match block {
                Ok(block) => {
                    last_failed = false;
                    *fetched.borrow_mut() = Some((p.pblk, block));
                    Visit::Keep
                }
                Err(e) => {
                    last_failed = true;
                    last_error = Some(e);
                    let end = ends.iter().copied().find(|&e| e > first).unwrap_or(first);
                    behind += end - first;
                    Visit::Abandon
                }
            }
        });
        // The reader never fails: an unreadable block is given up above.
        debug_assert!(walked.is_ok());
        (last_error, last_failed)
    }

    /// ext2fs_dir_iterate: shows `visit` every entry of directory `dir`
    /// (unused ones with inode 0 too, callers filter; with
    /// `include_removed` also the removed entries still readable in
    /// slack), block by block through every mapped block, past i_size too.
    /// A data block past the end of the filesystem is read from the image
    /// as libext2fs reads it (past the image's end, a short read). The
    /// walk ends where `visit` says `Break`, or at the first block that
    /// cannot be read or holds a malformed entry (`Corrupt`, a
    /// directory block). Returns, as dir_iterate does, the block walk's
    /// last error met before the end if any, else the read or corruption
    /// that ended it; `NotDirectory` when `dir` is not a directory.
    pub fn dir_iterate<V>(&self, dir: u32, include_removed: bool, visit: V) -> Result<()>
    where
        V: FnMut(&DirVisit<'_>) -> ControlFlow<()>,
    {
        self.dir_iterate_handled(dir, include_removed, &mut |_| ReadDecision::Fail, visit)
    }

    /// [`Filesystem::dir_iterate`] with a handler for a data block that
    /// cannot be read (libext2fs calls its I/O channel's handler there):
    /// ignored, the block is walked as what was read of it, zeros after.
    pub fn dir_iterate_handled<V>(
        &self,
        dir: u32,
        include_removed: bool,
        on_read_error: OnReadError<'_>,
        mut visit: V,
    ) -> Result<()>
    where
        V: FnMut(&DirVisit<'_>) -> ControlFlow<()>,
    {
        let inode = self.read_inode(dir)?;
        if !inode.is_dir() {
            return Err(Error::NotDirectory(format!("<{dir}>")));
        }
        // block_iterate3 refuses an inline-data inode; dir_iterate then
        // walks its inline entries.
        if inode.flags() & flags::INLINE_DATA != 0 {
            return self.inline_dir_iterate(dir, &inode, include_removed, &mut visit);
        }
        let mut failed = None;
        let walk_error = self.block_iterate(&inode, |p| {
            let BlockKind::Data(lblk) = p.kind else {
                return ControlFlow::Continue(());
            };
            let pblk = p.pblk;
            let buf = match self.read_block_handled(u64::from(pblk), &mut *on_read_error) {
                Ok(buf) => buf,
                Err(e) => {
                    failed = Some(e);
                    return ControlFlow::Break(());
                }
            };
            for entry in BlockCursor::new(&buf, include_removed) {
                let entry = match entry {
                    Ok(entry) => entry,
                    Err(m) => {
                        failed = Some(m.error(&buf, dir, u64::from(pblk)));
                        return ControlFlow::Break(());
                    }
                };
                visit(&DirVisit { entry, lblk, pblk })?;
            }
            ControlFlow::Continue(())
        });
        match walk_error.or(failed) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::test_fs;
    use crate::inode::{ROOT_INO, S_IFREG};
    use crate::CorruptKind;

    fn names(fs: &Filesystem, dir: u32) -> (Vec<Vec<u8>>, Result<()>) {
        let mut out = Vec::new();
        let r = fs.dir_iterate(dir, false, |v| {
            if v.entry.view.inode != 0 {
                out.push(v.entry.view.name.to_vec());
            }
            ControlFlow::Continue(())
        });
        (out, r)
    }

    /// A directory `d` holding `count` files, spilling into its
    /// indirect block.
    fn big_dir(fs: &mut Filesystem, count: usize) -> u32 {
        let d = fs.mkdir(ROOT_INO, b"d", 0o755).unwrap();
        for i in 0..count {
            let name = format!("file-with-a-long-name-{i:04}-to-fill-blocks-quickly");
            fs.create(d, name.as_bytes(), S_IFREG | 0o644).unwrap();
        }
        d
    }

    #[test]
    fn the_status_is_the_last_indirect_block_read() {
        let mut fs = test_fs(false);
        // Pointers alone: the walk reads the indirect blocks only.
        let mut inode = fs.new_inode_record(S_IFREG | 0o644);
        let ind = fs.alloc_block(0).unwrap();
        let dind = fs.alloc_block(0).unwrap();
        let bs = fs.block_size() as usize;
        fs.write_block(u64::from(dind), &vec![0; bs]).unwrap();
        inode.base.i_block[12] = u32::MAX - 1;
        inode.base.i_block[13] = dind;
        let walk = |fs: &Filesystem, i: &Inode| {
            let all = fs.block_iterate(i, |_| ControlFlow::Continue(()));
            let status = fs.block_iterate_status(i, |_| ControlFlow::Continue(()));
            (all.is_some(), status.is_some())
        };
        // A readable doubly indirect block after the bad one: no status.
        assert_eq!(walk(&fs, &inode), (true, false));
        inode.base.i_block[13] = 0;
        assert_eq!(walk(&fs, &inode), (true, true));
        inode.base.i_block[12] = ind;
        fs.write_block(u64::from(ind), &vec![0; bs]).unwrap();
        assert_eq!(walk(&fs, &inode), (false, false));
    }

    #[test]
    fn lists_every_entry_in_block_order() {
        let mut fs = test_fs(false);
        let a = fs.mkdir(ROOT_INO, b"a", 0o755).unwrap();
        fs.create(a, b"f", S_IFREG | 0o644).unwrap();
        let (n, r) = names(&fs, a);
        assert!(r.is_ok());
        assert_eq!(n, vec![b".".to_vec(), b"..".to_vec(), b"f".to_vec()]);
        let f = fs.namei(ROOT_INO, "/a/f").unwrap();
        assert!(matches!(names(&fs, f).1, Err(Error::NotDirectory(_))));
    }

    #[test]
    fn a_block_past_the_end_is_a_short_read_after_the_entries_before_it() {
        let mut fs = test_fs(false);
        let d = big_dir(&mut fs, 200);
        let mut inode = fs.read_inode(d).unwrap();
        inode.base.i_block[1] = u32::MAX - 1;
        fs.write_inode(d, &inode).unwrap();
        let (n, r) = names(&fs, d);
        assert!(n.len() > 2 && n.len() < 202, "{}", n.len());
        let Err(e) = r else { panic!("no error") };
        assert_eq!(
            e.com_err_text(),
            "Attempt to read block from filesystem resulted in short read"
        );
        // The walk stops where the visitor asks: no error met before it.
        let stopped = fs.dir_iterate(d, false, |_| ControlFlow::Break(()));
        assert!(stopped.is_ok());
    }

    #[test]
    fn a_block_that_cannot_be_read_goes_to_the_handler() {
        let mut fs = test_fs(false);
        let d = big_dir(&mut fs, 200);
        let mut inode = fs.read_inode(d).unwrap();
        let past = u64::from(u32::MAX - 1);
        inode.base.i_block[1] = past as u32;
        fs.write_inode(d, &inode).unwrap();
        // The typed error names the block and keeps what was read (nothing).
        match fs.read_block_anywhere(past) {
            Err(Error::BlockRead { block, partial, .. }) => {
                assert_eq!(block, past);
                assert!(partial.iter().all(|&b| b == 0));
            }
            other => panic!("{other:?}"),
        }
        // Ignored, the block is walked as zeros: a corrupt directory block
        // (as libext2fs' walk finds it after e2fsck's handler).
        let mut seen = Vec::new();
        let r = fs.dir_iterate_handled(
            d,
            false,
            &mut |e| {
                if let Error::BlockRead { block, .. } = e {
                    seen.push(*block);
                }
                ReadDecision::Ignore
            },
            |_| ControlFlow::Continue(()),
        );
        assert_eq!(seen, vec![past]);
        assert!(
            matches!(
                r,
                Err(Error::Corrupt {
                    structure: crate::Structure::Directory { block },
                    ..
                }) if block == past
            ),
            "{r:?}"
        );
    }

    #[test]
    fn an_indirect_block_outside_is_given_up_and_reported_after_the_rest() {
        let mut fs = test_fs(false);
        let d = big_dir(&mut fs, 400);
        let mut inode = fs.read_inode(d).unwrap();
        assert_ne!(
            inode.base.i_block[12], 0,
            "the directory needs an indirect block"
        );
        inode.base.i_block[12] = fs.geo().blocks_count as u32 + 7;
        fs.write_inode(d, &inode).unwrap();
        let (n, r) = names(&fs, d);
        // The twelve direct blocks are all listed, then the walk's error.
        assert!(n.len() > 200, "{}", n.len());
        assert!(matches!(r, Err(Error::IllegalIndirectBlock(_, 1))));
        assert_eq!(
            r.unwrap_err().com_err_text(),
            "Illegal indirect block found"
        );
    }

    #[test]
    fn a_malformed_entry_ends_the_walk_as_a_corrupt_directory() {
        let mut fs = test_fs(false);
        let a = fs.mkdir(ROOT_INO, b"a", 0o755).unwrap();
        let inode = fs.read_inode(a).unwrap();
        let (_, blk) = fs.data_blocks(&inode).unwrap()[0];
        let mut buf = fs.read_block(blk as u64).unwrap();
        buf[16] = 3; // '..' gets a rec_len that is not a multiple of 4
        fs.write_block(blk as u64, &buf).unwrap();
        let (n, r) = names(&fs, a);
        assert_eq!(n, vec![b".".to_vec()]);
        let Err(e) = r else { panic!("no error") };
        assert!(matches!(
            e,
            Error::Corrupt {
                kind: CorruptKind::BadRecLen { .. },
                ..
            }
        ));
        assert_eq!(e.com_err_text(), "EXT2 directory corrupted");
    }
}
