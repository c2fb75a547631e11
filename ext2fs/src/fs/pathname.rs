//! Inode numbers to path names (get_pathname.c): a directory's path is
//! found by following each '..' entry up to the root and looking for the
//! child's name in its parent, as the disk says at that moment. Tools add
//! their own markers and printing; the walk and its depth rule are here.

use std::ops::ControlFlow;

use super::{Filesystem, OnReadError, ReadDecision};
use crate::inode::ROOT_INO;
use crate::{Error, Result};

/// How many '..' steps `get_pathname` follows before giving up with
/// "..." (ext2fs_get_pathname's maxdepth).
pub const PATHNAME_MAX_DEPTH: i32 = 32;

/// What one directory says: its '..' and the first name of the inode
/// sought.
enum Search {
    NotDir,
    Found { parent: u32, name: Option<Vec<u8>> },
}

impl Filesystem {
    /// ext2fs_get_pathname: the path of `ino` in directory `dir`, or of
    /// `dir` itself when `ino` is 0 or `dir`. Where the walk cannot go on
    /// the path holds libext2fs' markers: "..." where no '..' leads on or
    /// past [`PATHNAME_MAX_DEPTH`] levels, "???" for a name its parent
    /// does not list, "<dir>" or "<dir>/<ino>" where `dir` is not a
    /// directory. An inode out of range, or what ends a directory's walk
    /// ([`Filesystem::dir_iterate`]) before the name sought, is an error
    /// (e2fsck prints "???" for it).
    pub fn get_pathname(&self, dir: u32, ino: u32) -> Result<Vec<u8>> {
        self.get_pathname_handled(dir, ino, &mut |_| ReadDecision::Fail)
    }

    /// [`Filesystem::get_pathname`] with a handler for directory blocks
    /// that cannot be read ([`Filesystem::dir_iterate_handled`]).
    pub fn get_pathname_handled(
        &self,
        dir: u32,
        ino: u32,
        on_read_error: OnReadError<'_>,
    ) -> Result<Vec<u8>> {
        let ino = if dir == ino { 0 } else { ino };
        self.pathname_below(dir, ino, PATHNAME_MAX_DEPTH, on_read_error)
    }

    fn pathname_below(
        &self,
        dir: u32,
        ino: u32,
        depth: i32,
        on_read_error: OnReadError<'_>,
    ) -> Result<Vec<u8>> {
        if dir == ino {
            return Ok(if dir == ROOT_INO { b"/" } else { b"." }.to_vec());
        }
        if dir == 0 || depth < 0 {
            return Ok(b"...".to_vec());
        }
        let (parent, name) = match self.search_dir(dir, ino, &mut *on_read_error)? {
            Search::NotDir if ino != 0 => return Ok(format!("<{dir}>/<{ino}>").into_bytes()),
            Search::NotDir => return Ok(format!("<{dir}>").into_bytes()),
            Search::Found { parent, name } => (parent, name),
        };
        let parent_path = self.pathname_below(parent, dir, depth - 1, on_read_error)?;
        if ino == 0 {
            return Ok(parent_path);
        }
        // The root's "/" is not doubled.
        let mut path = if parent_path.len() > 1 {
            parent_path
        } else {
            Vec::new()
        };
        path.push(b'/');
        path.extend_from_slice(name.as_deref().unwrap_or(b"???"));
        Ok(path)
    }

    /// dir_iterate of `dir` as get_pathname_proc uses it: the last '..'
    /// seen and the first name of `ino`, stopping there (an error further
    /// on is not met; one the walk met before it still counts).
    fn search_dir(&self, dir: u32, ino: u32, on_read_error: OnReadError<'_>) -> Result<Search> {
        let (mut parent, mut name) = (0, None);
        let walked = self.dir_iterate_handled(dir, false, on_read_error, |v| {
            let e = v.entry.view;
            if e.inode == 0 {
                return ControlFlow::Continue(());
            }
            if e.name == b".." {
                parent = e.inode;
            }
            if e.inode == ino {
                // libext2fs copies the name as a C string: a NUL in it
                // ends the name there.
                let end = e.name.iter().position(|&b| b == 0).unwrap_or(e.name.len());
                name = Some(e.name[..end].to_vec());
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        });
        match walked {
            Err(Error::NotDirectory(_)) => Ok(Search::NotDir),
            Err(e) => Err(e),
            Ok(()) => Ok(Search::Found { parent, name }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::test_fs;
    use crate::inode::S_IFREG;

    fn small_fs() -> Filesystem {
        test_fs(false)
    }

    fn path(fs: &Filesystem, dir: u32, ino: u32) -> String {
        String::from_utf8(fs.get_pathname(dir, ino).unwrap()).unwrap()
    }

    #[test]
    fn names_files_and_directories_from_the_root() {
        let mut fs = small_fs();
        let a = fs.mkdir(ROOT_INO, b"a", 0o755).unwrap();
        let b = fs.mkdir(a, b"b", 0o755).unwrap();
        let f = fs.create(b, b"file", S_IFREG | 0o644).unwrap();
        let top = fs.create(ROOT_INO, b"top", S_IFREG | 0o644).unwrap();
        assert_eq!(path(&fs, b, f), "/a/b/file");
        assert_eq!(path(&fs, b, 0), "/a/b");
        // ext2fs_get_pathname takes (dir, dir) as the directory's own path.
        assert_eq!(path(&fs, b, b), "/a/b");
        assert_eq!(path(&fs, ROOT_INO, 0), "/");
        assert_eq!(path(&fs, ROOT_INO, top), "/top");
        // A name the directory does not hold, and a file taken as a directory.
        assert_eq!(path(&fs, a, f), "/a/???");
        assert_eq!(path(&fs, f, 0), format!("<{f}>"));
        assert_eq!(path(&fs, f, 5), format!("<{f}>/<5>"));
        assert_eq!(path(&fs, 0, f), "...");
    }

    #[test]
    fn gives_up_past_the_depth_limit() {
        let mut fs = small_fs();
        let mut dirs = vec![ROOT_INO];
        for i in 1..=40 {
            let d = fs.mkdir(*dirs.last().unwrap(), format!("d{i}").as_bytes(), 0o755);
            dirs.push(d.unwrap());
        }
        let full: Vec<String> = (1..=32).map(|i| format!("d{i}")).collect();
        assert_eq!(path(&fs, dirs[32], 0), format!("/{}", full.join("/")));
        // One level too deep: d1 itself is where the walk gives up.
        assert!(path(&fs, dirs[33], 0).starts_with(".../d2/d3/"));
        let deep = path(&fs, dirs[40], 0);
        assert!(deep.starts_with(".../d9/d10/") && deep.ends_with("/d39/d40"));
    }

    #[test]
    fn a_name_ends_at_its_first_nul() {
        let mut fs = small_fs();
        let d = fs.mkdir(ROOT_INO, b"lost+fXund", 0o755).unwrap();
        let f = fs.create(d, b"fiXe", S_IFREG | 0o644).unwrap();
        let root = fs.read_inode(ROOT_INO).unwrap();
        let (_, blk) = fs.data_blocks(&root).unwrap()[0];
        let mut buf = fs.read_block(blk as u64).unwrap();
        let at = buf.windows(10).position(|w| w == b"lost+fXund").unwrap();
        buf[at + 6] = 0;
        fs.write_block(blk as u64, &buf).unwrap();
        let dir = fs.read_inode(d).unwrap();
        let (_, blk) = fs.data_blocks(&dir).unwrap()[0];
        let mut buf = fs.read_block(blk as u64).unwrap();
        let at = buf.windows(4).position(|w| w == b"fiXe").unwrap();
        buf[at + 2] = 0;
        fs.write_block(blk as u64, &buf).unwrap();
        // As ext2fs_get_pathname's strncpy: each name is cut at its NUL.
        assert_eq!(path(&fs, d, f), "/lost+f/fi");
    }

    #[test]
    fn a_malformed_directory_is_an_error() {
        let mut fs = small_fs();
        let a = fs.mkdir(ROOT_INO, b"a", 0o755).unwrap();
        let b = fs.mkdir(a, b"b", 0o755).unwrap();
        let inode = fs.read_inode(b).unwrap();
        let (_, blk) = fs.data_blocks(&inode).unwrap()[0];
        let mut buf = fs.read_block(blk as u64).unwrap();
        buf[4] = 5; // '.' gets a rec_len that is not a multiple of 4
        fs.write_block(blk as u64, &buf).unwrap();
        assert!(matches!(fs.get_pathname(b, 0), Err(Error::Corrupt { .. })));
        assert!(matches!(
            fs.get_pathname(ROOT_INO, u32::MAX),
            Ok(p) if p == b"/???"
        ));
        assert!(matches!(
            fs.get_pathname(u32::MAX, 0),
            Err(Error::InodeOutOfRange { .. })
        ));
    }
}
