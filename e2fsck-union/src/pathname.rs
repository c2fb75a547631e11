//! Paths in messages, as e2fsck prints them (message.c's print_pathname):
//! the reserved inodes by name when no directory is known, otherwise the
//! library's `get_pathname` (ext2fs_get_pathname: read from the disk as it
//! is when the message is printed, with its "...", "???" and "<dir>/<ino>"
//! markers), and "???" for a directory that cannot be read.

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

impl Checker {
    /// print_pathname(dir, ino): `ino`'s path through directory `dir`; the
    /// path of `dir` itself when `ino` is 0.
    pub fn pathname(&self, dir: u32, ino: u32) -> String {
        if dir == 0 {
            if let Some(name) = SPECIAL_NAMES.get(ino as usize) {
                return (*name).to_string();
            }
        }
        // The library's walk and depth rule; e2fsck's "???" for a
        // directory that cannot be read. A block that cannot be read is
        // the I/O error handler's, whose words come first.
        let mut said = String::new();
        let path = self
            .fs
            .get_pathname_handled(dir, ino, &mut |e| self.read_error_within(e, &mut said));
        match path {
            Ok(path) => said + &crate::problem::escape_name(&path),
            Err(_) => said + "???",
        }
    }

    /// The path of directory `dir` (e2fsck's %p and %q).
    pub fn dir_path(&self, dir: u32) -> String {
        self.pathname(dir, 0)
    }
}
