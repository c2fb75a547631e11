//! mount-union as a library: the option table, loop devices, the union check and the FUSE engine, so the binary is a thin CLI and fuzz targets can drive the option parser.

pub mod fuse;
pub use ext2fs::loopdev;
pub mod options;
pub mod umount_helper;
pub mod union_check;
pub mod utab;
