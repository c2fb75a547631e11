//! FUSE passthrough (`-o passthrough`, Linux 6.9+, CAP_SYS_ADMIN): a
//! lower file opened read-only is read by the kernel straight from the
//! descriptor the engine opened and checked, with no request to the
//! engine per read.
//!
//! The kernel's rules: every passthrough open of one node shares one
//! backing file, a node cannot be open through the page cache and in
//! passthrough at once, and while a node is open in passthrough every
//! other open of it must be passthrough too (or it fails with EIO). So a
//! lower file open read-only is passthrough unless its node has a
//! page-cache open (or the kernel refuses the backing file: a lower tree
//! on a stacked filesystem, no CAP_SYS_ADMIN), and an open that cannot be
//! passthrough (for writing, or of the copy) is refused with ETXTBSY while
//! the node is open in passthrough, as writing a running program is
//! (after a short wait for releases on their way: the kernel sends
//! RELEASE after close(2) returned).
//! A descriptor open in passthrough keeps reading the lower file when the
//! file is copied up meanwhile (by truncate, chmod and the like); all of
//! this is documented in the man page.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use fuser::{BackingId, FopenFlags, ReplyOpen};

/// A page-cache open keeps what the kernel cached of the file: every
/// write to the union goes through the kernel, and lower files do not
/// change.
pub const KEEP: FopenFlags = FopenFlags::FOPEN_KEEP_CACHE;

/// How one open file is served.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Passthrough,
    PageCache,
}

/// The open files' modes and the nodes' backing files.
#[derive(Default)]
pub struct Passthrough {
    /// The kernel granted passthrough at init (and it was asked for).
    pub on: bool,
    /// Per open file handle: its node and mode.
    opens: HashMap<u64, (u64, Mode)>,
    /// Per node: its backing file and how many passthrough opens use it.
    backing: HashMap<u64, (BackingId, u32)>,
    /// Per node: how many page-cache opens it has.
    cached: HashMap<u64, u32>,
}

impl Passthrough {
    /// Answers an open of `node` as handle `fh`; `lower` is the lower
    /// file's descriptor when the handle reads one (a passthrough
    /// candidate).
    pub fn reply(&mut self, reply: ReplyOpen, node: u64, fh: u64, lower: Option<&Arc<OwnedFd>>) {
        let fh_ = fuser::FileHandle(fh);
        let has_cached = self.cached.get(&node).is_some_and(|n| *n > 0);
        if let (true, Some(fd), false) = (self.on, lower, has_cached) {
            if let Some((id, n)) = self.backing.get_mut(&node) {
                *n += 1;
                reply.opened_passthrough(fh_, FopenFlags::empty(), id);
                self.opens.insert(fh, (node, Mode::Passthrough));
                return;
            }
            if let Ok(id) = reply.open_backing(&**fd) {
                reply.opened_passthrough(fh_, FopenFlags::empty(), &id);
                self.backing.insert(node, (id, 1));
                self.opens.insert(fh, (node, Mode::Passthrough));
                return;
            }
        }
        self.cached_open(node, fh);
        reply.opened(fh_, KEEP);
    }

    /// `node` is open in passthrough: an open of it that cannot be
    /// passthrough must be refused (the caller answers ETXTBSY).
    pub fn busy(&self, node: u64) -> bool {
        self.backing.contains_key(&node)
    }

    /// `fh` is a page-cache open of `node` (it keeps later opens of the
    /// node out of passthrough until released); also a file made by
    /// create, whose node is new.
    pub fn cached_open(&mut self, node: u64, fh: u64) {
        *self.cached.entry(node).or_default() += 1;
        self.opens.insert(fh, (node, Mode::PageCache));
    }

    /// The handle `fh` was released: its node's backing file is closed
    /// with its last passthrough open. True when it was a passthrough
    /// open (what `busy` waits on).
    pub fn released(&mut self, fh: u64) -> bool {
        let Some((node, mode)) = self.opens.remove(&fh) else {
            return false;
        };
        match mode {
            Mode::Passthrough => {
                if let Some((_, n)) = self.backing.get_mut(&node) {
                    *n -= 1;
                    if *n == 0 {
                        // Closes the backing file (BackingId's drop).
                        self.backing.remove(&node);
                    }
                }
                true
            }
            Mode::PageCache => {
                if let Some(n) = self.cached.get_mut(&node) {
                    *n -= 1;
                    if *n == 0 {
                        self.cached.remove(&node);
                    }
                }
                false
            }
        }
    }
}
