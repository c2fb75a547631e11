//! The high-level filesystem API the tools share: open an image, read
//! inodes, files and directories, and (opened for writing) allocate, create
//! and delete objects with the union rules, keeping free counts in groups
//! and superblock consistent.

//!
//! One `impl Filesystem` per concern, split as e2fsprogs' lib/ext2fs is:
//! `open` (openfs.c), `io` (block reads and writes, the write cache),
//! `inodes` (inode.c), `bmap` (bmap.c, block.c), `fileio` (fileio.c,
//! punch.c), `dir` (dir_iterate.c, link.c, unlink.c), `dx` (htree lookups and
//! inserts, link.c's dx_link), `namei` (namei.c and
//! tree walks), `alloc` (alloc.c, alloc_stats.c, bitmaps), `create`
//! (mkdir.c, symlink.c and friends), `union` (whiteouts, fallthrus, opaque
//! directories), `xattrs` (ext_attr.c), `flush` (closefs.c), `orphan`.

use crate::bitmap::Bitmap;
use crate::block_cache::BlockCache;
use crate::group_desc::GroupDesc;
use crate::image::Image;
use crate::layout::Geometry;
use crate::superblock::Superblock;

mod alloc;
mod alloc_stats;
mod badblocks;
mod block_info;
mod bmap;
mod create;
mod dir;
mod dir_iterate;
mod dx;
mod fileio;
mod flush;
mod inline_data;
mod inodes;
mod io;
mod namei;
mod open;
mod orphan;
mod pathname;
mod union;
mod xattrs;

pub use dir::validate_name;
pub use dir_iterate::DirVisit;
pub use inline_data::INLINE_DATA_IN_INODE;
pub use io::{OnReadError, ReadDecision};
pub use namei::MAX_NESTED_LINKS;
pub use pathname::PATHNAME_MAX_DEPTH;

/// `read_file` refuses larger files (use `read_file_with` to stream them),
/// so a corrupt i_size cannot exhaust memory.
pub const MAX_IN_MEMORY_FILE: u64 = 1 << 30;

/// How to open a filesystem.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    /// Open read-write (refused on a mounted filesystem).
    pub write: bool,
    /// Use the superblock at this block number (a backup), like `-b`.
    pub superblock: Option<u64>,
    /// Block size to assume with `superblock` (`-B`); probed when absent.
    pub block_size: Option<u32>,
    /// Open even with incompat features this library does not know.
    pub force: bool,
    /// Open despite an inode count or s_first_meta_bg that disagrees with
    /// the group geometry, for a checker to repair (libext2fs's
    /// EXT2_FLAG_IGNORE_SB_ERRORS).
    pub ignore_sb_errors: bool,
    /// With `ignore_sb_errors`: leave our bound on a group's inodes
    /// (`Superblock::validate_group_inodes`) to the caller, a checker that
    /// judges the superblock's values itself; libext2fs' limit still
    /// applies.
    pub caller_bounds_group_inodes: bool,
    /// Refuse the incompat features that libext2fs opens but this library
    /// does not (encrypt, extents, 64bit...) only once the superblock's
    /// values are judged, where libext2fs would stop on a corrupt one
    /// first (debugfs' words); features libext2fs does not know either
    /// are refused first, as ext2fs_open2 refuses them.
    pub refuse_known_features_late: bool,
}

/// An open ext2 filesystem.
#[derive(Debug)]
pub struct Filesystem {
    image: Image,
    /// Private so that every change goes through `update_superblock`,
    /// which marks it for the next flush.
    sb: Superblock,
    /// Derived from `sb` at open; read with `geo()`.
    geo: Geometry,
    /// Changed through `update_group` (marked for the next flush).
    groups: Vec<GroupDesc>,
    /// The descriptor bytes just after the table in its last block, as
    /// read at open (None when the table fills its blocks): what
    /// libext2fs' ext2fs_read_inode finds for a group number equal to the
    /// group count, which its check (`group > group_desc_count`) lets
    /// through. Read only; never written.
    past_end: Option<GroupDesc>,
    /// Byte offset of the superblock this was opened from.
    sb_offset: u64,
    block_bitmap: Option<Bitmap>,
    inode_bitmap: Option<Bitmap>,
    /// The bitmaps are never read (`withhold_bitmaps`, debugfs -c).
    bitmaps_withheld: bool,
    /// The last group's block bitmap held a set bit past the last block
    /// when read: libext2fs keeps those padding bits in its map, so its
    /// map is never empty (see `block_bitmap_is_empty`).
    block_padding_set: bool,
    /// Blocks refused when the bitmaps were read (`take_refused_marks`).
    refused_marks: Vec<u64>,
    /// Withheld bitmaps that a block or inode count change would have
    /// changed (libext2fs' EXT2_FLAG_BB_DIRTY, EXT2_FLAG_IB_DIRTY).
    withheld_changed: (bool, bool),
    /// Since `install_bitmaps`: the block and inode bits an allocation,
    /// release or bit edit set, changed or not (what a checker's copy of
    /// the on-disk bitmaps must follow, as libext2fs' alloc_stats does).
    touched_bits: Option<(Bitmap, Bitmap)>,
    dirty_groups: Vec<bool>,
    dirty: bool,
    /// Flush writes only the primary superblock and descriptors, leaving
    /// the backups as they are (libext2fs's EXT2_FLAG_MASTER_SB_ONLY).
    primary_only: bool,
    /// A fixed clock (SOURCE_DATE_EPOCH) for reproducible images.
    fixed_time: Option<u32>,
    /// The caller promises new names are not in their directory yet
    /// (a bulk copy of one tree): inserts only look at the last block.
    unique_names: bool,
    /// A directory whose one block is full becomes an htree instead of
    /// growing linearly (`set_auto_index`).
    auto_index: bool,
    /// Single blocks and short runs held back for a bulk copy
    /// (`set_write_cache`).
    cache: Option<BlockCache>,
    /// libext2fs' inode cache, when a tool follows ext2fs_read_inode's
    /// reads (`follow_libext2fs_inode_cache`).
    inode_cache: Option<std::sync::Mutex<inodes::InodeCache>>,
    /// The bad blocks list inode scans skip, once read
    /// (`inode_scan_bad_blocks`; libext2fs' fs->badblocks).
    scan_bad_blocks: std::sync::Mutex<Option<Vec<u64>>>,
}

/// A small writable filesystem in memory ([`crate::mkfs::small_image`]),
/// for unit tests.
#[cfg(test)]
pub(crate) fn test_fs(whiteout: bool) -> Filesystem {
    let bytes = crate::mkfs::small_image(4 << 20, whiteout).unwrap();
    let opts = OpenOptions {
        write: true,
        ..Default::default()
    };
    Filesystem::from_image(Image::in_memory(bytes, true), &opts).unwrap()
}
