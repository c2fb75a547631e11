//! The library's typed error: every corruption names the structure and
//! the number (inode, block, group) it was found in.

use std::path::PathBuf;

/// The library's result type.
pub type Result<T> = std::result::Result<T, Error>;

/// What went wrong, as a variant a caller can act on (an exit code, an
/// errno value) without reading the message. New variants may come.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A structure's bytes end before its fixed size (a short read).
    #[error("{what} is truncated ({have} bytes)")]
    Truncated {
        /// The structure being parsed.
        what: &'static str,
        /// How many bytes there were.
        have: usize,
    },

    /// The superblock's s_magic is not 0xEF53 (the value found).
    #[error("bad magic number in superblock (0x{0:04x}, expected 0xef53)")]
    BadMagic(u16),

    /// An on-disk structure that breaks the format's rules: what is wrong
    /// (`kind`), in which structure, and its number (group, inode,
    /// directory inode or block, as `structure` says).
    #[error("{}", corrupt_text(*structure, *number, kind))]
    Corrupt {
        /// What is wrong.
        kind: CorruptKind,
        /// The structure it is wrong in.
        structure: Structure,
        /// The structure's number (see [`Structure`]).
        number: u64,
    },

    /// A block number at or past s_blocks_count.
    #[error("block {block} is outside the filesystem ({blocks} blocks)")]
    BlockOutOfRange {
        /// The block asked for.
        block: u64,
        /// The filesystem's block count.
        blocks: u64,
    },

    /// A block that could not be read whole: a short read past the
    /// image's end or an I/O error (what libext2fs hands its I/O channel's
    /// read error handler). `partial` is what was read of it, zeros after,
    /// as unix_io leaves the buffer: what a handler that ignores the error
    /// goes on with.
    #[error("error reading block {block}: {source}")]
    BlockRead {
        /// The block.
        block: u64,
        /// Its bytes as far as they could be read, then zeros.
        partial: Vec<u8>,
        /// Why the read failed.
        #[source]
        source: Box<Error>,
    },

    /// An indirect block of a block map outside the filesystem, and its
    /// level (1 single, 2 double, 3 triple: libext2fs'
    /// EXT2_ET_BAD_IND_BLOCK, _DIND_, _TIND_): the walk gives its branch up.
    #[error("indirect block {0} (level {1}) is outside the filesystem")]
    IllegalIndirectBlock(u32, u8),

    /// An inode number 0 or past s_inodes_count.
    #[error("inode {ino} is outside the filesystem ({inodes} inodes)")]
    InodeOutOfRange {
        /// The inode asked for.
        ino: u32,
        /// The filesystem's inode count.
        inodes: u32,
    },

    /// A group number past the group count.
    #[error("group {group} is outside the filesystem ({count} groups)")]
    GroupOutOfRange {
        /// The group asked for.
        group: u32,
        /// The filesystem's group count.
        count: usize,
    },

    /// Incompat features this library does not implement, by name.
    #[error("filesystem has unsupported features: {0}")]
    UnsupportedFeatures(String),

    /// Opening for writing a filesystem that is mounted.
    #[error("{}: is mounted on {}; refusing to write to a mounted filesystem", path.display(), mountpoint.display())]
    Mounted {
        /// The device or image opened.
        path: PathBuf,
        /// Where it is mounted.
        mountpoint: PathBuf,
    },

    /// A device held exclusively by the system (O_EXCL refused).
    #[error("{}: is in use by the system (mounted or held open exclusively)", .0.display())]
    InUse(PathBuf),

    /// An image file another writer holds the lock of.
    #[error("{}: is opened for writing by another program (locked); refusing a second writer", .0.display())]
    Locked(PathBuf),

    /// An I/O error on a file the library opened.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },

    /// ENOSPC: no free block or inode is left.
    #[error("could not allocate {what}: filesystem is full")]
    NoSpace {
        /// What was being allocated ("block", "inode", ...).
        what: &'static str,
    },

    /// No block of a directory has room for a new entry, and growing it
    /// was not asked for (libext2fs' EXT2_ET_DIR_NO_SPACE from
    /// ext2fs_link).
    #[error("directory {0} has no room for another entry")]
    DirNoSpace(u32),

    /// EEXIST: the name is already in the directory.
    #[error("{0}: file exists")]
    Exists(String),

    /// ENOENT: the name or path does not exist.
    #[error("{0}: no such file or directory")]
    NotFound(String),

    /// A path names a union entry (whiteout or fallthru): it has no inode,
    /// so the lookup finds nothing there.
    #[error("{name}: is a {} (no inode)", if *file_type == crate::dirent::ft::WHT { "whiteout" } else { "fallthru" })]
    UnionEntryInPath {
        /// The entry's name.
        name: String,
        /// Its file type ([`crate::dirent::ft::WHT`] or `FALLTHRU`).
        file_type: u8,
    },

    /// ELOOP: more symlinks inside each other than a lookup follows.
    #[error("Too many symbolic links encountered.")]
    SymlinkLoop,

    /// ENOTDIR: a path component or target that must be a directory is not.
    #[error("{0}: not a directory")]
    NotDirectory(String),

    /// ENOTEMPTY: a directory to remove still has entries.
    #[error("{0}: directory not empty")]
    NotEmpty(String),

    /// EMLINK: ext2 keeps at most [`crate::inode::LINK_MAX`] links
    /// (as the kernel's ext2; there is no dir_nlink for ext2).
    #[error("inode {0}: too many links")]
    TooManyLinks(u32),

    /// A name a directory entry (or a symlink target) cannot hold, with
    /// the reason.
    #[error("invalid name {0:?}: {1}")]
    InvalidName(String, &'static str),

    /// ENAMETOOLONG: a name longer than a directory entry holds.
    #[error("name too long ({len} bytes, at most {max}): {name:?}")]
    NameTooLong {
        /// The name.
        name: String,
        /// Its length in bytes.
        len: usize,
        /// The longest name allowed.
        max: usize,
    },

    /// EISDIR: a file operation on a directory.
    #[error("{0}: is a directory")]
    IsDirectory(String),

    /// EPERM: a hard link to a directory.
    #[error("hard links to directories are not allowed")]
    DirectoryHardLink,

    /// A size or offset past what an ext2 block map can address.
    #[error("file size {0} is larger than ext2 allows")]
    FileTooLarge(u64),

    /// A logical block past the last one a triple-indirect map reaches.
    #[error("logical block {0} is beyond the largest ext2 file")]
    BlockBeyondLargestFile(u64),

    /// An operation needing a feature the filesystem lacks (its name).
    #[error("the filesystem does not have {0}")]
    MissingFeature(&'static str),

    /// A union operation on an entry whose file type is neither whiteout
    /// nor fallthru.
    #[error("file type {0} is not a union entry")]
    NotUnionEntry(u8),

    /// A directory hash version this library does not compute.
    #[error("unsupported directory hash version {0}")]
    UnsupportedHash(u8),

    /// An indirect block reached twice while walking one block map.
    #[error("indirect block {0} appears twice in one block map (a loop)")]
    BlockMapLoop(u32),

    /// A directory too large for a two-level hash index.
    #[error("directory {dir} needs {leaves} leaf blocks; a two-level htree holds {max}")]
    HtreeTooLarge {
        /// The directory's inode.
        dir: u32,
        /// The leaf blocks its entries need.
        leaves: usize,
        /// The most leaves two levels index.
        max: usize,
    },

    /// A slow symlink whose size is a block or more (the size).
    #[error("symlink of {0} bytes")]
    SymlinkTooLong(u64),

    /// A directory block that was mapped is gone when read again (the
    /// logical block).
    #[error("directory block {0} vanished")]
    DirectoryBlockVanished(u64),

    /// A directory block to write whose entries do not tile it exactly.
    #[error("directory entry {name:?}: rec_len {rec_len} too small")]
    RecLenTooSmall {
        /// The entry's name.
        name: String,
        /// The rec_len it was given.
        rec_len: u32,
    },

    /// Entries to write that do not cover their block exactly.
    #[error("directory entries cover {covered} bytes of a {block_size}-byte block")]
    EntriesDoNotTile {
        /// The bytes the entries cover.
        covered: usize,
        /// The block size.
        block_size: usize,
    },

    /// A block write whose length is not a multiple of the block size.
    #[error("write of {0} bytes is not whole blocks")]
    NotWholeBlocks(usize),

    /// In-inode xattrs that do not fit the inode's extra space.
    #[error("in-inode xattr area too large")]
    InodeXattrAreaTooLarge,

    /// An xattr name that is only a namespace prefix ("user.").
    #[error("xattr name {0:?} has no name after its prefix")]
    EmptyXattrName(String),

    /// A visitor asked the walk to stop (the caller keeps its own reason).
    #[error("stopped by the caller")]
    Stopped,

    /// The in-memory image's lock was poisoned by a panic elsewhere.
    #[error("image lock poisoned")]
    LockPoisoned,

    /// An operation only an in-memory image supports, on a file.
    #[error("in-memory image expected")]
    NotInMemory,

    /// A POSIX ACL xattr value that does not parse (the reason).
    #[error("bad POSIX ACL value: {0}")]
    BadAcl(String),

    /// A device number the inode's device encoding cannot hold.
    #[error("device {major},{minor} does not fit ext2's encoding (majors up to 4095, minors up to 1048575)")]
    DeviceTooLarge {
        /// The major number.
        major: u32,
        /// The minor number.
        minor: u32,
    },

    /// Releasing an orphan that is not on the orphan chain.
    #[error("inode {0} is not on the orphan list")]
    NotOrphan(u32),

    /// mke2fs geometry: a block size that is not a power of two in 1 KiB..64 KiB.
    #[error("invalid block size - {0}")]
    InvalidBlockSize(u32),

    /// mke2fs geometry: -g outside 256..=8 * block size or not a multiple of 8.
    #[error(
        "blocks per group count out of range ({blocks_per_group}; 256 to {max} in multiples of 8)"
    )]
    BlocksPerGroupOutOfRange {
        /// The value asked for.
        blocks_per_group: u32,
        /// The largest allowed (8 * block size).
        max: u32,
    },

    /// mke2fs geometry: more blocks than 32-bit block numbers reach.
    #[error(
        "{0} blocks is too big for ext2 (the 64bit feature is ext4's); use a larger block size"
    )]
    TooManyBlocks(u64),

    /// mke2fs geometry: an inode size that is not a power of two in 128..=block size.
    #[error("invalid inode size {size} (min 128/max {max})")]
    InvalidInodeSize {
        /// The size asked for.
        size: u32,
        /// The largest allowed (the block size).
        max: u32,
    },

    /// mke2fs geometry: the inode tables alone would fill the filesystem.
    #[error(
        "inode_size ({inode_size}) * inodes_count ({inodes}) too big for a\n\t\
         filesystem with {blocks} blocks, specify higher inode_ratio (-i)\n\t\
         or lower inode count (-N).\n"
    )]
    InodeTablesTooBig {
        /// The inode size.
        inode_size: u32,
        /// The inode count asked for.
        inodes: u64,
        /// The filesystem's block count.
        blocks: u64,
    },

    /// ext2fs_initialize's EXT2_ET_TOO_MANY_INODES (e2fsprogs' wording).
    #[error("Cannot create filesystem with requested number of inodes")]
    TooManyInodes,

    /// ext2fs_initialize's EXT2_ET_TOOSMALL.
    #[error("Not enough space to build proposed filesystem")]
    TooSmall,

    /// The undo file (`-z`) cannot be used, or a write cannot be recorded.
    #[error("{}: {problem}", path.display())]
    Undo {
        /// The undo file.
        path: PathBuf,
        /// What is wrong with it.
        problem: crate::undo::UndoProblem,
    },

    /// EROFS: a write to a filesystem opened read-only.
    #[error("filesystem is opened read-only")]
    ReadOnly,

    /// Extended attributes asked of a filesystem with neither ext_attr
    /// nor inline_data (libext2fs' EXT2_ET_MISSING_EA_FEATURE).
    #[error("the filesystem has neither ext_attr nor inline_data")]
    NoXattrFeature,

    /// Inline data asked of an inode without the inline-data flag
    /// (EXT2_ET_NO_INLINE_DATA).
    #[error("the inode has no inline data")]
    NoInlineData,

    /// An inode's xattr block number outside the filesystem, met while
    /// reading its attributes (EXT2_ET_BAD_EA_BLOCK_NUM).
    #[error("xattr block {0} is outside the filesystem")]
    XattrBlockOutside(u64),

    /// A block asked of an inode with the inline-data flag, which maps
    /// none (EXT2_ET_INLINE_DATA_NO_BLOCK).
    #[error("the inode has inline data: no blocks")]
    InlineDataNoBlock,

    /// A block map walk asked of an inode with the inline-data flag
    /// (EXT2_ET_INLINE_DATA_CANT_ITERATE).
    #[error("the inode has inline data: no block map to walk")]
    InlineDataCantIterate,

    /// A block asked of an inode with the extents flag whose i_block is
    /// no extent header (EXT2_ET_EXTENT_HEADER_BAD).
    #[error("the inode has the extents flag but no valid extent header")]
    ExtentHeaderBad,

    /// A block asked of an inode mapped by a valid extent tree, which
    /// this ext2 library does not read.
    #[error("the inode is mapped by an extent tree (not read by this ext2 library)")]
    ExtentsUnsupported,

    /// An allocation on a filesystem whose bitmaps were never read
    /// (libext2fs' EXT2_ET_NO_BLOCK_BITMAP and EXT2_ET_NO_INODE_BITMAP).
    #[error("the {0} bitmap is not loaded")]
    BitmapNotLoaded(BitmapKind),

    /// A group's bitmap block could not be read (ext2fs_read_bitmaps'
    /// EXT2_ET_BLOCK_BITMAP_READ and EXT2_ET_INODE_BITMAP_READ).
    #[error("cannot read the {which} bitmap of group {group}: {source}")]
    BitmapRead {
        /// The block or the inode bitmap.
        which: BitmapKind,
        /// The group it belongs to.
        group: u32,
        /// Why the read failed.
        #[source]
        source: Box<Error>,
    },
}

/// Which of a group's two bitmaps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BitmapKind {
    /// The block bitmap.
    Block,
    /// The inode bitmap.
    Inode,
}

impl std::fmt::Display for BitmapKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BitmapKind::Block => "block",
            BitmapKind::Inode => "inode",
        })
    }
}

impl Error {
    /// The error as e2fsprogs' com_err words it for the errors every tool
    /// meets when opening a filesystem or walking a directory, so that our
    /// tools' messages read
    /// like e2fsprogs'; other errors keep their own text.
    pub fn com_err_text(&self) -> String {
        const SHORT_READ: &str = "Attempt to read block from filesystem resulted in short read";
        match self {
            Error::BadMagic(_) => "Bad magic number in super-block".into(),
            Error::Corrupt {
                structure: Structure::Superblock,
                kind: CorruptKind::Revision(_),
                ..
            } => "Filesystem revision too high".into(),
            Error::Corrupt {
                structure: Structure::Superblock,
                ..
            } => "The ext2 superblock is corrupt".into(),
            Error::Corrupt {
                structure: Structure::Directory { .. },
                ..
            } => "EXT2 directory corrupted".into(),
            Error::IllegalIndirectBlock(_, 2) => "Illegal doubly indirect block found".into(),
            Error::IllegalIndirectBlock(_, 3) => "Illegal triply indirect block found".into(),
            Error::IllegalIndirectBlock(..) => "Illegal indirect block found".into(),
            Error::DirNoSpace(_) => "No free space in the directory".into(),
            Error::NotDirectory(_) => "Ext2 inode is not a directory".into(),
            // The allocators' own failures (ext2fs_new_block2, _new_inode).
            Error::NoSpace {
                what: "block" | "a block",
            } => "Could not allocate block in ext2 filesystem".into(),
            Error::NoSpace {
                what: "inode" | "an inode",
            } => "Could not allocate inode in ext2 filesystem".into(),
            Error::InodeOutOfRange { .. } => "Illegal inode number".into(),
            Error::BlockBeyondLargestFile(_) => "Ext2 file too big".into(),
            Error::UnsupportedHash(_) => "Directory hash unsupported".into(),
            Error::Truncated { .. } => SHORT_READ.into(),
            Error::BlockRead { source, .. } => source.com_err_text(),
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::UnexpectedEof => {
                SHORT_READ.into()
            }
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                "No such file or directory".into()
            }
            Error::BitmapNotLoaded(BitmapKind::Block) => "Block bitmap not loaded".into(),
            Error::BitmapNotLoaded(BitmapKind::Inode) => "Inode bitmap not loaded".into(),
            Error::BitmapRead {
                which: BitmapKind::Block,
                ..
            } => "Can't read a block bitmap".into(),
            Error::BitmapRead {
                which: BitmapKind::Inode,
                ..
            } => "Can't read an inode bitmap".into(),
            Error::Corrupt {
                structure: Structure::GroupDesc,
                kind: CorruptKind::InodeTableOutside(_),
                ..
            } => "Corrupt group descriptor: bad block for inode table".into(),
            Error::Corrupt {
                structure: Structure::GroupDesc,
                kind: CorruptKind::MissingInodeTable,
                ..
            } => "A block group is missing an inode table".into(),
            Error::NoXattrFeature => "Filesystem is missing ext_attr or inline_data feature".into(),
            Error::XattrBlockOutside(_) => "Illegal extended attribute block number".into(),
            Error::Corrupt {
                structure: Structure::XattrBlock,
                kind: CorruptKind::XattrBadMagic(_),
                ..
            } => "Extended attribute block has a bad header".into(),
            Error::InlineDataNoBlock => "No block for an inode with inline data".into(),
            Error::InlineDataCantIterate => {
                "Cannot iterate data blocks of an inode containing inline data".into()
            }
            Error::NoInlineData => "Inode doesn't have inline data".into(),
            Error::ExtentHeaderBad => "Corrupt extent header".into(),
            other => other.to_string(),
        }
    }

    /// An [`Error::Io`] on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// The on-disk structure a corruption was found in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Structure {
    /// The superblock in use (`number` 0).
    Superblock,
    /// A group descriptor (`number`: the group).
    GroupDesc,
    /// An inode (`number`: the inode).
    Inode,
    /// A directory block (`number`: the directory's inode).
    Directory {
        /// The block the entry is in (physical).
        block: u64,
    },
    /// An extended attribute block (`number`: the block).
    XattrBlock,
    /// A directory's hash index (`number`: the directory's inode).
    Htree,
}

/// What is wrong with a corrupt structure; the text reads as the part
/// after "corrupt <structure> <number>: ".
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CorruptKind {
    /// s_log_block_size past 64 KiB blocks.
    #[error("block size 1024<<{0} is too large")]
    BlockSizeTooLarge(u32),
    /// s_log_groups_per_flex past 31 (ext2fs_open2 refuses it too).
    #[error("log_groups_per_flex {0}")]
    LogGroupsPerFlex(u8),
    /// A cluster size other than the block size (bigalloc is not ext2).
    #[error("cluster size 1024<<{0} differs from the block size (no bigalloc in ext2)")]
    ClusterSize(u32),
    /// s_clusters_per_group differs from s_blocks_per_group.
    #[error("{clusters} clusters per group for {blocks} blocks per group")]
    ClustersPerGroup {
        /// s_clusters_per_group.
        clusters: u32,
        /// s_blocks_per_group.
        blocks: u32,
    },
    /// s_blocks_per_group below 8 or past what one bitmap block maps.
    #[error("{0} blocks per group")]
    BlocksPerGroup(u32),
    /// s_inodes_per_group zero or past what one bitmap block maps.
    #[error("{0} inodes per group")]
    InodesPerGroup(u32),
    /// s_first_data_block at or past s_blocks_count (or no blocks).
    #[error("first data block {first} is past the {blocks} blocks")]
    FirstDataBlock {
        /// s_first_data_block.
        first: u32,
        /// s_blocks_count.
        blocks: u32,
    },
    /// An inode size that is not a power of two in 128..=block size.
    #[error("inode size {0}")]
    InodeSize(u32),
    /// s_inodes_count is not groups * s_inodes_per_group.
    #[error("inode count {count} is not {groups} groups of {per_group} inodes")]
    InodeCount {
        /// s_inodes_count.
        count: u32,
        /// The group count the block count gives.
        groups: u64,
        /// s_inodes_per_group.
        per_group: u32,
    },
    /// meta_bg with s_first_meta_bg past the descriptor table.
    #[error("first_meta_bg {first_meta_bg} is past the {desc_blocks} descriptor blocks")]
    FirstMetaBg {
        /// s_first_meta_bg.
        first_meta_bg: u32,
        /// The descriptor blocks the group count needs.
        desc_blocks: u64,
    },
    /// A revision past the dynamic one.
    #[error("revision {0}")]
    Revision(u32),
    /// A group's inode table lies (partly) outside the filesystem
    /// (ext2fs' EXT2_ET_GDESC_BAD_INODE_TABLE).
    #[error("inode table at block {0} is outside the filesystem")]
    InodeTableOutside(u64),
    /// A group without an inode table: its location is 0 (ext2fs'
    /// EXT2_ET_MISSING_INODE_TABLE).
    #[error("no inode table")]
    MissingInodeTable,
    /// A directory entry's header runs past its block.
    #[error("entry at offset {0} runs past the block")]
    EntryPastBlock(usize),
    /// A rec_len below the header size or not a multiple of 4.
    #[error("bad rec_len {rec_len} at offset {offset}")]
    BadRecLen {
        /// The entry's rec_len.
        rec_len: usize,
        /// The entry's offset in its block.
        offset: usize,
    },
    /// A rec_len that runs past the block.
    #[error("rec_len {rec_len} at offset {offset} runs past the block")]
    RecLenPastBlock {
        /// The entry's rec_len.
        rec_len: usize,
        /// The entry's offset in its block.
        offset: usize,
    },
    /// A name longer than its entry's rec_len holds.
    #[error("name_len {name_len} does not fit rec_len {rec_len} at offset {offset}")]
    NameLenPastRecLen {
        /// The entry's name_len.
        name_len: u8,
        /// The entry's rec_len.
        rec_len: usize,
        /// The entry's offset in its block.
        offset: usize,
    },
    /// A directory entry naming an inode with an empty name.
    #[error("entry at offset {0} names an inode but has no name")]
    EmptyName(usize),
    /// A directory without a '..' entry.
    #[error("no '..' entry")]
    NoDotDot,
    /// An xattr entry list without its terminating zero word.
    #[error("entry list runs off the end")]
    XattrListPastEnd,
    /// An xattr entry header past the end of its area.
    #[error("entry at {0} runs off the end")]
    XattrEntryPastEnd(usize),
    /// An xattr entry's name past the end of its area.
    #[error("name of entry at {0} runs off the end")]
    XattrNamePastEnd(usize),
    /// An xattr entry with an empty name in a namespace that needs one.
    #[error("entry at {0} has an empty name")]
    XattrEmptyName(usize),
    /// A value kept in another inode (ea_inode, not ext2).
    #[error("values in separate inodes (ea_inode) are not ext2")]
    XattrValueInode,
    /// A value outside the area's free space.
    #[error("value of {name} ({size} bytes at {offset}) is outside the free area")]
    XattrValueOutside {
        /// The attribute's full name.
        name: String,
        /// e_value_size.
        size: u32,
        /// e_value_offs.
        offset: u16,
    },
    /// An xattr block shorter than its header.
    #[error("block too short")]
    XattrBlockTooShort,
    /// An xattr block without the magic number.
    #[error("bad magic 0x{0:08x}")]
    XattrBadMagic(u32),
    /// An xattr block whose h_blocks is not 1.
    #[error("h_blocks {0} (must be 1)")]
    XattrBlocks(u32),
    /// The in-inode xattr area is corrupt (the kind says how).
    #[error("in-inode extended attributes: {0}")]
    InInodeXattr(Box<CorruptKind>),
    /// An index (root or node) too short for its count/limit.
    #[error("{0} block too short")]
    IndexTooShort(&'static str),
    /// An index whose count/limit header is cut short.
    #[error("{0}: short count/limit")]
    IndexShortCountLimit(&'static str),
    /// An index whose count or limit does not fit the block.
    #[error("{what}: count {count} / limit {limit} (at most {max} fit)")]
    IndexCountLimit {
        /// "root" or "node".
        what: &'static str,
        /// The count field.
        count: u16,
        /// The limit field.
        limit: u16,
        /// How many entries fit.
        max: usize,
    },
    /// An htree root block shorter than its fixed part.
    #[error("root block too short")]
    HtreeRootTooShort,
    /// An htree root whose '.' entry does not parse.
    #[error("bad '.' entry")]
    HtreeBadDot,
    /// An htree root whose '.' entry is not 12 bytes named '.'.
    #[error("'.' entry: name_len {name_len}, rec_len {rec_len}")]
    HtreeDot {
        /// The entry's name_len.
        name_len: u8,
        /// The entry's rec_len (on disk).
        rec_len: u16,
    },
    /// An htree root whose '..' entry does not parse.
    #[error("bad '..' entry")]
    HtreeBadDotDot,
    /// An htree root whose '..' entry does not cover the rest of the block.
    #[error("'..' entry: rec_len {0}")]
    HtreeDotDot(u32),
    /// An htree root whose root info is cut short.
    #[error("short root info")]
    HtreeShortRootInfo,
    /// An htree root info length other than 8.
    #[error("root info length {0}")]
    HtreeRootInfoLength(u8),
    /// More index levels than the format allows.
    #[error("{0} indirect levels")]
    HtreeLevels(u8),
    /// An index node that does not start with an empty entry covering it.
    #[error("index node does not start with an empty entry covering the block")]
    HtreeNodeHeader,
    /// An htree root naming a hash other than legacy, half-MD4 or TEA.
    #[error("unsupported hash version {0}")]
    HtreeHashVersion(u8),
    /// An index whose limit is not what its block holds.
    #[error("{what}: limit {limit} (expected {expected})")]
    HtreeLimit {
        /// "root" or "node".
        what: &'static str,
        /// The limit field.
        limit: u16,
        /// What the block size gives.
        expected: u16,
    },
    /// An index entry pointing at block 0 or past the directory's end.
    #[error("index points at block {block} (directory has {blocks})")]
    HtreeBlockRange {
        /// The block pointed at.
        block: u32,
        /// The directory's size in blocks.
        blocks: u32,
    },
    /// An index whose hashes go down (at the entry for this block).
    #[error("hashes out of order at block {0}")]
    HtreeHashOrder(u32),
}

impl Error {
    /// A corruption of `structure` number `number`.
    pub fn corrupt(structure: Structure, number: u64, kind: CorruptKind) -> Self {
        Error::Corrupt {
            kind,
            structure,
            number,
        }
    }
}

/// The message of [`Error::Corrupt`], worded per structure.
fn corrupt_text(structure: Structure, number: u64, kind: &CorruptKind) -> String {
    match structure {
        Structure::Superblock => format!("corrupt superblock: {kind}"),
        Structure::GroupDesc => format!("corrupt group descriptor for group {number}: {kind}"),
        Structure::Inode => format!("corrupt inode {number}: {kind}"),
        Structure::Directory { block } => {
            format!("corrupt directory {number} (block {block}): {kind}")
        }
        Structure::XattrBlock => format!("corrupt extended attribute block {number}: {kind}"),
        Structure::Htree => format!("corrupt htree index in directory {number}: {kind}"),
    }
}
