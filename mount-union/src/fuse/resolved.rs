//! Resolutions and listings remembered: where each union path was found
//! (or found absent), so that a lookup is one step from its parent instead
//! of a walk from the root, and the merged listing of each directory opened, so that opendir
//! does not list and merge the layers again (a handle takes the listing as
//! it is now: its snapshot, see handles).
//!
//! The engine is the only writer of the top layer and the lower layers are
//! read-only (changing them under a mount is undefined, as with
//! overlayfs), so a path's resolution changes only when the engine changes
//! the union there; each such change forgets the paths it touches. Lower
//! objects found through a remembered resolution are still opened beneath
//! their layer and checked by identity at every use (`beneath`), so a
//! lower tree changed under us gives errors, never other objects.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::handles::Listed;
use super::nodes::Nodes;
use super::union::{split, Res};

/// Past this many paths, or listed entries, the map is dropped (memory
/// stays bounded whatever the kernel asks about; use fills it again).
const MAX_PATHS: usize = 1 << 18;
const MAX_LISTED: usize = 1 << 21;

#[derive(Default)]
struct Listings {
    by_path: HashMap<Vec<u8>, Arc<Vec<Listed>>>,
    entries: usize,
}

impl Listings {
    fn remove(&mut self, path: &[u8]) {
        if let Some(l) = self.by_path.remove(path) {
            self.entries -= l.len();
        }
    }
}

#[derive(Default)]
pub struct Resolved {
    /// None: the path was found absent.
    map: Mutex<HashMap<Vec<u8>, Option<Res>>>,
    listings: Mutex<Listings>,
}

impl Resolved {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Option<Res>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What `path` was found to be (Some(None): absent), if remembered.
    pub fn get(&self, path: &[u8]) -> Option<Option<Res>> {
        self.map().get(path).cloned()
    }

    pub fn put(&self, path: &[u8], r: Option<&Res>) {
        let mut m = self.map();
        if m.len() >= MAX_PATHS {
            m.clear();
        }
        m.insert(path.to_vec(), r.cloned());
    }

    fn listings(&self) -> std::sync::MutexGuard<'_, Listings> {
        self.listings.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The listing of the directory at `path`, as last taken.
    pub fn listing(&self, path: &[u8]) -> Option<Arc<Vec<Listed>>> {
        self.listings().by_path.get(path).cloned()
    }

    pub fn put_listing(&self, path: &[u8], l: &Arc<Vec<Listed>>) {
        let mut m = self.listings();
        if m.entries + l.len() > MAX_LISTED {
            *m = Listings::default();
        }
        m.remove(path);
        m.entries += l.len();
        m.by_path.insert(path.to_vec(), l.clone());
    }

    /// `path` was made, removed or changed: it may resolve differently
    /// now, and the listings of it and of its directory may differ.
    pub fn forget(&self, path: &[u8]) {
        self.map().remove(path);
        let mut l = self.listings();
        l.remove(path);
        l.remove(split(path).0);
    }

    /// The same for `path` and everything below it (a directory renamed
    /// or renamed over).
    pub fn forget_under(&self, path: &[u8]) {
        self.map().retain(|k, _| !Nodes::under(path, k));
        let mut l = self.listings();
        let gone: Vec<Vec<u8>> = l
            .by_path
            .keys()
            .filter(|k| Nodes::under(path, k))
            .cloned()
            .collect();
        for k in gone {
            l.remove(&k);
        }
        l.remove(split(path).0);
    }
}
