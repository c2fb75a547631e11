//! The library's typed error: every corruption names the structure and
//! the number (inode, block, group) it was found in.

use std::path::PathBuf;

pub type Result<T> = std::result::Result<T, Error>;

/// What went wrong, as a variant a caller can act on (an exit code, an
/// errno value) without reading the message. New variants may come.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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

    #[error("group {group} is outside the filesystem ({count} groups)")]
    GroupOutOfRange { group: u32, count: usize },

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

    #[error("name too long ({len} bytes, at most {max}): {name:?}")]
    NameTooLong {
        name: String,
        len: usize,
        max: usize,
    },

    #[error("{0}: is a directory")]
    IsDirectory(String),

    #[error("hard links to directories are not allowed")]
    DirectoryHardLink,

    /// A size or offset past what an ext2 block map can address.
    #[error("file size {0} is larger than ext2 allows")]
    FileTooLarge(u64),

    #[error("logical block {0} is beyond the largest ext2 file")]
    BlockBeyondLargestFile(u64),

    #[error("the filesystem does not have {0}")]
    MissingFeature(&'static str),

    #[error("file type {0} is not a union entry")]
    NotUnionEntry(u8),

    #[error("unsupported directory hash version {0}")]
    UnsupportedHash(u8),

    #[error("indirect block {0} appears twice in one block map (a loop)")]
    BlockMapLoop(u32),

    #[error("directory {dir} needs {leaves} leaf blocks; a two-level htree holds {max}")]
    HtreeTooLarge { dir: u32, leaves: usize, max: usize },

    #[error("symlink of {0} bytes")]
    SymlinkTooLong(u64),

    #[error("directory block {0} vanished")]
    DirectoryBlockVanished(u64),

    /// A directory block to write whose entries do not tile it exactly.
    #[error("directory entry {name:?}: rec_len {rec_len} too small")]
    RecLenTooSmall { name: String, rec_len: u32 },

    #[error("directory entries cover {covered} bytes of a {block_size}-byte block")]
    EntriesDoNotTile { covered: usize, block_size: usize },

    #[error("write of {0} bytes is not whole blocks")]
    NotWholeBlocks(usize),

    #[error("in-inode xattr area too large")]
    InodeXattrAreaTooLarge,

    #[error("xattr name {0:?} has no name after its prefix")]
    EmptyXattrName(String),

    /// A visitor asked the walk to stop (the caller keeps its own reason).
    #[error("stopped by the caller")]
    Stopped,

    /// The in-memory image's lock was poisoned by a panic elsewhere.
    #[error("image lock poisoned")]
    LockPoisoned,

    #[error("in-memory image expected")]
    NotInMemory,

    #[error("bad POSIX ACL value: {0}")]
    BadAcl(String),

    #[error("device {major},{minor} does not fit ext2's encoding (majors up to 4095, minors up to 1048575)")]
    DeviceTooLarge { major: u32, minor: u32 },

    #[error("inode {0} is not on the orphan list")]
    NotOrphan(u32),

    /// A parameter the caller chose is out of range (mke2fs geometry);
    /// the text is the message to print.
    #[error("{0}")]
    Invalid(String),

    /// ext2fs_initialize's EXT2_ET_TOO_MANY_INODES (e2fsprogs' wording).
    #[error("Cannot create filesystem with requested number of inodes")]
    TooManyInodes,

    /// ext2fs_initialize's EXT2_ET_TOOSMALL.
    #[error("Not enough space to build proposed filesystem")]
    TooSmall,

    #[error("filesystem is opened read-only")]
    ReadOnly,
}

impl Error {
    /// The error as e2fsprogs' com_err words it for the errors every tool
    /// meets when opening a filesystem, so that our tools' messages read
    /// like e2fsprogs'; other errors keep their own text.
    pub fn com_err_text(&self) -> String {
        const SHORT_READ: &str = "Attempt to read block from filesystem resulted in short read";
        match self {
            Error::BadMagic(_) => "Bad magic number in super-block".into(),
            Error::CorruptSuperblock(_) => "The ext2 superblock is corrupt".into(),
            Error::Truncated { .. } => SHORT_READ.into(),
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::UnexpectedEof => {
                SHORT_READ.into()
            }
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                "No such file or directory".into()
            }
            other => other.to_string(),
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
