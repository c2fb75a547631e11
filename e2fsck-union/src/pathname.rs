//! Paths in messages, as e2fsck prints them (message.c's print_pathname
//! over libext2fs' ext2fs_get_pathname): read from the disk as it is when
//! the message is printed, following each directory's '..' entry up to the
//! root, with e2fsck's markers where that fails: "..." (no '..' to follow,
//! or too deep), "<dir>/<ino>" (not a directory), "/???" (no name found),
//! "???" (a directory that cannot be read).

use ext2fs::block_map::Visit;
use ext2fs::dirent::BlockCursor;
use ext2fs::inode::ROOT_INO;

use crate::blocks;
use crate::checker::Checker;

/// e2fsck's names for the reserved inodes when no directory is known.
const SPECIAL_NAMES: [&str; 11] = [
    "<The NULL inode>",
    "<The bad blocks inode>",
    "/",
    "<The user quota inode>",
    "<The group quota inode>",
    "<The boot loader inode>",
    "<The undelete directory inode>",
    "<The group descriptor inode>",
    "<The journal inode>",
    "<Reserved inode 9>",
    "<Reserved inode 10>",
];

/// How deep ext2fs_get_pathname follows '..' before giving up.
const MAX_DEPTH: i32 = 32;

/// What one directory says: its '..' and the name of the inode sought.
enum Search {
    NotDir,
    Found { parent: u32, name: Option<Vec<u8>> },
}

impl Checker {
    /// print_pathname(dir, ino): `ino`'s path through directory `dir`; the
    /// path of `dir` itself when `ino` is 0.
    pub fn pathname(&self, dir: u32, ino: u32) -> String {
        if dir == 0 {
            if let Some(name) = SPECIAL_NAMES.get(ino as usize) {
                return (*name).to_string();
            }
        }
        match self.get_pathname(dir, ino, MAX_DEPTH) {
            Some(path) => crate::problem::escape_name(&path),
            None => "???".into(),
        }
    }

    /// The path of directory `dir` (e2fsck's %p and %q).
    pub fn dir_path(&self, dir: u32) -> String {
        self.pathname(dir, 0)
    }

    fn get_pathname(&self, dir: u32, ino: u32, depth: i32) -> Option<Vec<u8>> {
        if dir == ino {
            return Some(if dir == ROOT_INO {
                b"/".to_vec()
            } else {
                b".".to_vec()
            });
        }
        if dir == 0 || depth < 0 {
            return Some(b"...".to_vec());
        }
        let (parent, name) = match self.search_dir(dir, ino)? {
            Search::NotDir if ino != 0 => return Some(format!("<{dir}>/<{ino}>").into_bytes()),
            Search::NotDir => return Some(format!("<{dir}>").into_bytes()),
            Search::Found { parent, name } => (parent, name),
        };
        let parent_path = self.get_pathname(parent, dir, depth - 1)?;
        if ino == 0 {
            return Some(parent_path);
        }
        let mut path = if parent_path.len() > 1 {
            parent_path
        } else {
            Vec::new()
        };
        path.push(b'/');
        path.extend_from_slice(name.as_deref().unwrap_or(b"???"));
        Some(path)
    }

    /// ext2fs_dir_iterate of `dir` as get_pathname_proc uses it: the last
    /// '..' seen and the first name of `ino`, stopping there. None when
    /// the directory cannot be read or holds a malformed entry.
    fn search_dir(&self, dir: u32, ino: u32) -> Option<Search> {
        if dir > self.inodes_count {
            return None;
        }
        let inode = self.fs.read_inode(dir).ok()?;
        if !inode.is_dir() {
            return Some(Search::NotDir);
        }
        let mut data = Vec::new();
        let mut unreadable = false;
        blocks::walk(&self.fs, &mut inode.clone(), |p| {
            if !self.block_ok(p.pblk as u64) {
                unreadable = true;
                return Visit::Stop;
            }
            if p.is_data() && !p.repeat {
                data.push(p.pblk as u64);
            }
            Visit::Keep
        });
        if unreadable {
            return None;
        }
        let mut parent = 0;
        for b in data {
            let buf = self.fs.read_block(b).ok()?;
            for e in BlockCursor::new(&buf, false) {
                let e = e.ok()?.view;
                if e.inode == 0 {
                    continue;
                }
                if e.name == b".." {
                    parent = e.inode;
                }
                if e.inode == ino {
                    return Some(Search::Found {
                        parent,
                        name: Some(e.name.to_vec()),
                    });
                }
            }
        }
        Some(Search::Found { parent, name: None })
    }
}
