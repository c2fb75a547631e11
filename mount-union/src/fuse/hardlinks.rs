//! Hard links of lower files stay one object through copy-up. When a
//! lower regular file with more than one link is copied up, its other
//! names in the union (found by a walk of the union's tree, candidates
//! picked by the inode number their directory gives, then checked by
//! identity) are linked to the same top inode at once, as overlayfs'
//! index=on keeps them together. Being real ext2 hard links in the top
//! image, they stay together across remounts. The walk stops when every
//! other link is found, and at WALK_LIMIT entries: names past it are
//! copied up on their own later (documented).

use super::beneath::Ident;
use super::errno::{from_lib, Errno};
use super::layer::is_dir;
use super::posix;
use super::union::{join, split, Origin, Union};

/// The most union entries one copy-up looks at for other names.
const WALK_LIMIT: usize = 1_000_000;

impl Union {
    /// `path` was just copied up as the top inode `t` from the lower file
    /// `ident` of layer `li`, which has `nlink` links: its other names in
    /// the union that still show that lower file become links to `t`.
    /// Whether all were found (then no other object shows the lower file,
    /// and the copy may keep its number, see origin.rs).
    pub(super) fn link_other_names(
        &mut self,
        path: &[u8],
        li: usize,
        ident: Ident,
        nlink: u32,
        t: u32,
    ) -> Result<bool, Errno> {
        let mut left = nlink.saturating_sub(1) as usize;
        let mut found = Vec::new();
        let mut dirs = vec![Vec::new()];
        let mut seen = 0usize;
        while let Some(dir) = dirs.pop() {
            if left == 0 || seen > WALK_LIMIT {
                break;
            }
            // A directory that cannot be listed (changed under us) is
            // skipped: the copy-up itself is done.
            let Ok(entries) = self.list(&dir) else {
                continue;
            };
            for (name, mode, origin) in entries {
                seen += 1;
                let p = join(&dir, &name);
                let candidate = match origin {
                    _ if is_dir(mode) => {
                        dirs.push(p);
                        continue;
                    }
                    Origin::Lower(l, dev, ino) => l == li && dev == ident.dev && ino == ident.ino,
                    Origin::Resolved(_) => true,
                    Origin::Top(_) => false,
                };
                if candidate && p != path && self.shows_lower(&p, li, ident) {
                    found.push(p);
                    left -= 1;
                    if left == 0 {
                        break;
                    }
                }
            }
        }
        for p in found {
            let (parent, name) = split(&p);
            let ptop = self.copy_up(parent)?;
            posix::check_links(&self.top.read_inode(t).map_err(from_lib)?)?;
            self.top.link(ptop, name, t).map_err(from_lib)?;
            self.placed(t, ptop)?;
            self.resolved.forget(&p);
        }
        Ok(left == 0)
    }

    /// Whether the union path `p` shows the lower object `ident` of layer
    /// `li` (and nothing of the top layer).
    fn shows_lower(&self, p: &[u8], li: usize, ident: Ident) -> bool {
        match self.resolve(p) {
            Ok(Some(r)) if r.top.is_none() => r
                .lower
                .first()
                .is_some_and(|(l, o)| *l == li && o.ident() == ident),
            _ => false,
        }
    }
}
