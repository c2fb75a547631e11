//! The library's typed error: every corruption names the structure and
//! the number (inode, block, group) it was found in.

use std::path::PathBuf;

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what} is truncated ({have} bytes)")]
    Truncated { what: &'static str, have: usize },

    #[error("bad magic number in superblock (0x{0:04x}, expected 0xef53)")]
    BadMagic(u16),

    #[error("corrupt superblock: {0}")]
    CorruptSuperblock(String),

    #[error("corrupt group descriptor for group {group}: {why}")]
    CorruptGroupDesc { group: u32, why: String },

    #[error("corrupt inode {ino}: {why}")]
    CorruptInode { ino: u32, why: String },

    #[error("corrupt directory {dir} (block {block}): {why}")]
    CorruptDirectory { dir: u32, block: u64, why: String },

    #[error("corrupt extended attribute block {block}: {why}")]
    CorruptXattr { block: u64, why: String },

    #[error("corrupt htree index in directory {dir}: {why}")]
    CorruptHtree { dir: u32, why: String },

    #[error("block {block} is outside the filesystem ({blocks} blocks)")]
    BlockOutOfRange { block: u64, blocks: u64 },

    #[error("inode {ino} is outside the filesystem ({inodes} inodes)")]
    InodeOutOfRange { ino: u32, inodes: u32 },

    #[error("filesystem has unsupported features: {0}")]
    UnsupportedFeatures(String),

    #[error("{}: is mounted on {}; refusing to write to a mounted filesystem", path.display(), mountpoint.display())]
    Mounted { path: PathBuf, mountpoint: PathBuf },

    #[error("{}: is in use by the system (mounted or held open exclusively)", .0.display())]
    InUse(PathBuf),

    #[error("{}: is opened for writing by another program (locked); refusing a second writer", .0.display())]
    Locked(PathBuf),

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("could not allocate {what}: filesystem is full")]
    NoSpace { what: &'static str },

    #[error("{0}: file exists")]
    Exists(String),

    #[error("{0}: no such file or directory")]
    NotFound(String),

    #[error("{0}: not a directory")]
    NotDirectory(String),

    #[error("{0}: directory not empty")]
    NotEmpty(String),

    /// EMLINK: ext2 keeps at most [`crate::inode::LINK_MAX`] links
    /// (as the kernel's ext2; there is no dir_nlink for ext2).
    #[error("inode {0}: too many links")]
    TooManyLinks(u32),

    #[error("invalid name {0:?}: {1}")]
    InvalidName(String, &'static str),

    #[error("{0}")]
    Invalid(String),

    #[error("filesystem is opened read-only")]
    ReadOnly,
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
