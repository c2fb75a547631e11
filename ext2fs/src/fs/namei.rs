//! Pathnames and tree walks: resolving a path, visiting every entry
//! below a directory, and the bounded read-everything sweep.

use super::Filesystem;
use crate::dirent::DirEntry;
use crate::inode::ROOT_INO;
use crate::{Error, Result};

impl Filesystem {
    /// Resolves a path (absolute, or relative to `cwd`) to an inode number.
    /// Symlinks in the middle are not followed (as debugfs does).
    pub fn namei(&self, cwd: u32, path: &str) -> Result<u32> {
        let mut ino = if path.starts_with('/') { ROOT_INO } else { cwd };
        for comp in path.split('/').filter(|c| !c.is_empty()) {
            match self.lookup_entry(ino, comp.as_bytes())? {
                Some(e) if e.inode != 0 => ino = e.inode,
                _ => return Err(Error::NotFound(path.to_string())),
            }
        }
        Ok(ino)
    }

    /// Walks the tree below directory `top` depth-first in directory
    /// order, calling `visit(path, entry)` for every entry in use except
    /// '.' and '..' (whiteouts and fallthrus included, with inode 0).
    /// Paths are relative to `top`, '/'-separated. A directory reached a
    /// second time (a loop in a corrupt image) is not entered again.
    pub fn walk_tree<V>(&self, top: u32, mut visit: V) -> Result<()>
    where
        V: FnMut(&[u8], &DirEntry) -> Result<()>,
    {
        let mut seen = std::collections::HashSet::new();
        seen.insert(top);
        let mut stack: Vec<(u32, Vec<u8>)> = vec![(top, Vec::new())];
        while let Some((dir, prefix)) = stack.pop() {
            let entries = self.read_dir(dir)?;
            let mut subdirs = Vec::new();
            for e in entries.iter().filter(|e| !e.is_dot() && !e.is_dotdot()) {
                let mut path = prefix.clone();
                if !path.is_empty() {
                    path.push(b'/');
                }
                path.extend_from_slice(&e.name);
                visit(&path, e)?;
                if e.inode != 0 && self.read_inode(e.inode)?.is_dir() && seen.insert(e.inode) {
                    subdirs.push((e.inode, path));
                }
            }
            // Reverse so the first subdirectory is walked first.
            stack.extend(subdirs.into_iter().rev());
        }
        Ok(())
    }

    /// Reads everything reachable from inodes 1..=`max_inodes` that are in
    /// use: block maps, directories, symlink targets and file data
    /// (streamed), then walks the tree from the root. Errors do not stop
    /// the sweep; they are returned with the inode they came from (0 for
    /// the tree walk). A bounded "can this image be read" pass.
    pub fn sweep(&self, max_inodes: u32) -> Vec<(u32, Error)> {
        let mut errors = Vec::new();
        for ino in 1..=self.sb.s_inodes_count.min(max_inodes) {
            let i = match self.read_inode(ino) {
                Ok(i) if i.base.i_links_count > 0 => i,
                Ok(_) => continue,
                Err(e) => {
                    errors.push((ino, e));
                    continue;
                }
            };
            let r = self.data_blocks(&i).and_then(|_| {
                if i.is_dir() {
                    self.read_dir(ino).map(drop)
                } else if i.is_symlink() {
                    self.read_link(&i).map(drop)
                } else {
                    self.read_file_with(&i, |_, _| Ok(()))
                }
            });
            if let Err(e) = r {
                errors.push((ino, e));
            }
        }
        if let Err(e) = self.walk_tree(ROOT_INO, |_, _| Ok(())) {
            errors.push((0, e));
        }
        errors
    }
}
