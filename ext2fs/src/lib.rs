//! The ext2 on-disk format with the union-mount extensions, read and
//! written symmetrically. Programs (mke2fs-union, e2fsck-union,
//! debugfs-union, mount-union) never parse a structure themselves.

#![warn(missing_docs)]

pub mod bitmap;
pub mod block_cache;
pub mod block_map;
pub mod clock;
pub mod codec;
pub mod crc32c;
pub mod direct_io;
pub mod dirent;
pub mod error;
pub mod features;
pub mod foreign;
pub mod fs;
pub mod group_desc;
mod group_tables;
pub mod hash;
pub mod htree;
pub mod image;
pub mod inode;
pub mod jbd2;
pub mod layout;
pub mod loopdev;
pub mod mkfs;
pub mod mmp;
pub mod mntopts;
pub mod resize_inode;
pub mod run_bitmap;
pub mod superblock;
pub mod supported;
pub mod undo;
pub mod union_origin;
pub mod uuid;
pub mod xattr;

pub use error::{BitmapKind, CorruptKind, Error, Result, Structure};
