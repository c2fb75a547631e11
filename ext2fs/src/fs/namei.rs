//! Pathnames and tree walks: resolving a path (namei.c), visiting every entry
//! below a directory, and the bounded read-everything sweep.

use std::ops::ControlFlow;

use super::Filesystem;
use crate::dirent::DirEntry;
use crate::inode::ROOT_INO;
use crate::{Error, Result};

/// How many symlinks one lookup follows inside each other before it is
/// taken for a loop (EXT2FS_MAX_NESTED_LINKS).
pub const MAX_NESTED_LINKS: u32 = 8;

impl Filesystem {
    /// Resolves a path (absolute, or relative to `cwd`) from the real root:
    /// [`Filesystem::namei_at`] with the root inode as root.
    pub fn namei(&self, cwd: u32, path: &str) -> Result<u32> {
        self.namei_at(ROOT_INO, cwd, path.as_bytes())
    }

    /// ext2fs_namei: the inode `path` names, absolute paths starting at
    /// `root` and relative ones at `cwd`. Symlinks are followed where a
    /// '/' comes after them, not at the end of the path; a trailing '/'
    /// names the directory before it; an empty name ("a//b") is not found;
    /// ".." is each directory's own '..' entry (also at `root`).
    pub fn namei_at(&self, root: u32, cwd: u32, path: &[u8]) -> Result<u32> {
        self.open_namei(root, cwd, path, false, 0)
    }

    /// ext2fs_namei_follow: [`Filesystem::namei_at`], and a symlink at the
    /// end is followed too.
    pub fn namei_follow(&self, root: u32, cwd: u32, path: &[u8]) -> Result<u32> {
        self.open_namei(root, cwd, path, true, 0)
    }

    /// ext2fs_follow_link: `ino` itself unless it is a symlink, else what
    /// its target names (relative targets from directory `dir`, absolute
    /// ones from `root`), symlinks in it followed up to
    /// [`MAX_NESTED_LINKS`] deep (then `SymlinkLoop`).
    pub fn follow_link(&self, root: u32, dir: u32, ino: u32) -> Result<u32> {
        self.follow_link_at(root, dir, ino, 0)
    }

    fn open_namei(
        &self,
        root: u32,
        base: u32,
        path: &[u8],
        follow: bool,
        links: u32,
    ) -> Result<u32> {
        let (dir, last) = self.dir_namei(root, base, path, links)?;
        if last.is_empty() {
            return Ok(dir);
        }
        let ino = self.lookup_component(dir, last)?;
        if follow {
            self.follow_link_at(root, dir, ino, links)
        } else {
            Ok(ino)
        }
    }

    /// Steps through every name followed by a '/', following symlinks;
    /// returns the directory reached and the last name (empty after a
    /// trailing '/').
    fn dir_namei<'p>(
        &self,
        root: u32,
        mut dir: u32,
        path: &'p [u8],
        links: u32,
    ) -> Result<(u32, &'p [u8])> {
        let mut rest = path;
        if let Some(r) = rest.strip_prefix(b"/") {
            dir = root;
            rest = r;
        }
        while let Some(slash) = rest.iter().position(|&c| c == b'/') {
            let ino = self.lookup_component(dir, &rest[..slash])?;
            dir = self.follow_link_at(root, dir, ino, links)?;
            rest = &rest[slash + 1..];
        }
        Ok((dir, rest))
    }

    fn follow_link_at(&self, root: u32, dir: u32, ino: u32, links: u32) -> Result<u32> {
        let inode = self.read_inode(ino)?;
        if !inode.is_symlink() {
            return Ok(ino);
        }
        if links >= MAX_NESTED_LINKS {
            return Err(Error::SymlinkLoop);
        }
        let target = self.read_link(&inode)?;
        self.open_namei(root, dir, &target, true, links + 1)
    }

    /// ext2fs_lookup for namei: the inode of `name` in `dir`, searched in
    /// directory order as libext2fs searches (no index; the walk's reads
    /// and errors are [`Filesystem::dir_iterate`]'s, and it stops at the
    /// first entry of that name). Entries without an inode do not count
    /// (a union entry is named as such).
    fn lookup_component(&self, dir: u32, name: &[u8]) -> Result<u32> {
        // An empty name (between two slashes) is looked up as any other:
        // it finds an entry whose name_len is 0 (damage), as ext2fs_lookup
        // does.
        let lossy = || String::from_utf8_lossy(name).into_owned();
        let wh = self.whiteout_feature();
        let mut found = None;
        self.dir_iterate(dir, false, |v| {
            let e = v.entry.view;
            if e.in_use(wh) && e.name == name {
                found = Some((e.inode, e.file_type));
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        })?;
        match found {
            Some((ino, _)) if ino != 0 => Ok(ino),
            Some((_, file_type)) => Err(Error::UnionEntryInPath {
                name: lossy(),
                file_type,
            }),
            None => Err(Error::NotFound(lossy())),
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dirent::ft;
    use crate::fs::test_fs;

    #[test]
    fn namei_follows_symlinks_as_ext2fs_namei() {
        let mut fs = test_fs(true);
        let a = fs.mkdir(ROOT_INO, b"a", 0o755).unwrap();
        let b = fs.mkdir(a, b"b", 0o755).unwrap();
        let l = fs.symlink(ROOT_INO, b"l", b"a").unwrap();
        fs.symlink(a, b"up", b"..").unwrap();
        fs.symlink(ROOT_INO, b"abs", b"/a/b").unwrap();
        fs.symlink(ROOT_INO, b"loop", b"loop").unwrap();
        let f = fs.create(b, b"f", crate::inode::S_IFREG | 0o644).unwrap();
        fs.add_union_entry(a, b"gone", ft::WHT).unwrap();
        let at = |root, cwd, p: &str| fs.namei_at(root, cwd, p.as_bytes());
        // Symlinks are followed before a '/', not at the end.
        assert_eq!(at(ROOT_INO, ROOT_INO, "l/b").unwrap(), b);
        assert_eq!(at(ROOT_INO, ROOT_INO, "l").unwrap(), l);
        assert_eq!(at(ROOT_INO, ROOT_INO, "l/").unwrap(), a);
        assert_eq!(fs.namei_follow(ROOT_INO, ROOT_INO, b"l").unwrap(), a);
        assert_eq!(at(ROOT_INO, ROOT_INO, "a/up/a/b").unwrap(), b);
        assert_eq!(at(ROOT_INO, ROOT_INO, "abs/..").unwrap(), a);
        assert_eq!(fs.follow_link(ROOT_INO, ROOT_INO, l).unwrap(), a);
        assert_eq!(fs.follow_link(ROOT_INO, ROOT_INO, b).unwrap(), b);
        assert!(matches!(
            at(ROOT_INO, ROOT_INO, "loop/x"),
            Err(Error::SymlinkLoop)
        ));
        // An empty name is not found; a file in the middle is no directory.
        assert!(matches!(
            at(ROOT_INO, ROOT_INO, "a//b"),
            Err(Error::NotFound(_))
        ));
        assert!(matches!(
            at(ROOT_INO, ROOT_INO, "//a"),
            Err(Error::NotFound(_))
        ));
        assert!(matches!(
            at(ROOT_INO, ROOT_INO, "abs/x/y"),
            Err(Error::NotFound(_))
        ));
        assert!(matches!(
            at(ROOT_INO, b, "f/x"),
            Err(Error::NotDirectory(_))
        ));
        assert_eq!(at(ROOT_INO, b, "f/").unwrap(), f);
        // Relative to cwd; absolute from the given root; '..' as on disk.
        assert_eq!(at(ROOT_INO, a, "b/f").unwrap(), f);
        assert_eq!(at(a, ROOT_INO, "/b/f").unwrap(), f);
        assert_eq!(at(a, a, "/..").unwrap(), ROOT_INO);
        assert_eq!(fs.namei(b, "/a/b/f").unwrap(), f);
        // A union entry stops the walk, named as such.
        assert!(matches!(
            at(ROOT_INO, ROOT_INO, "a/gone/x"),
            Err(Error::UnionEntryInPath {
                file_type: ft::WHT,
                ..
            })
        ));
    }
}
