//! The problem table: every inconsistency the checker can report, with its
//! message, the question it asks and how preen (-p) and -y/-n answer it.
//! Keeping them in one table (like e2fsprogs' problem.c) keeps the wording
//! consistent and makes the preen policy reviewable in one place.
//!
//! Messages are templates; `{name}` fields are filled from a [`Ctx`].

/// The question put after a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prompt {
    None,
    Fix,
    Clear,
    Relocate,
    Allocate,
    Expand,
    Connect,
    Create,
    Salvage,
    ClearInode,
    Split,
    Clone,
    ClearHtree,
    Recreate,
    ClearFlag,
    Unlink,
}

impl Prompt {
    pub fn question(self) -> &'static str {
        match self {
            Prompt::None => "",
            Prompt::Fix => "Fix",
            Prompt::Clear => "Clear",
            Prompt::Relocate => "Relocate",
            Prompt::Allocate => "Allocate",
            Prompt::Expand => "Expand",
            Prompt::Connect => "Connect to /lost+found",
            Prompt::Create => "Create",
            Prompt::Salvage => "Salvage",
            Prompt::ClearInode => "Clear inode",
            Prompt::Split => "Split",
            Prompt::Clone => "Clone multiply-claimed blocks",
            Prompt::ClearHtree => "Clear HTree index",
            Prompt::Recreate => "Recreate",
            Prompt::ClearFlag => "Clear flag",
            Prompt::Unlink => "Unlink",
        }
    }

    /// What preen mode (and a latched answer) prints instead of asking.
    pub fn done(self) -> &'static str {
        match self {
            Prompt::None => "",
            Prompt::Fix => "FIXED",
            Prompt::Clear => "CLEARED",
            Prompt::Relocate => "RELOCATED",
            Prompt::Allocate => "ALLOCATED",
            Prompt::Expand => "EXPANDED",
            Prompt::Connect => "RECONNECTED",
            Prompt::Create => "CREATED",
            Prompt::Salvage => "SALVAGED",
            Prompt::ClearInode => "INODE CLEARED",
            Prompt::Split => "SPLIT",
            Prompt::Clone => "MULTIPLY-CLAIMED BLOCKS CLONED",
            Prompt::ClearHtree => "HTREE INDEX CLEARED",
            Prompt::Recreate => "WILL RECREATE",
            Prompt::ClearFlag => "FLAG CLEARED",
            Prompt::Unlink => "UNLINKED",
        }
    }
}

/// Preen may fix this without asking.
pub const PREEN_OK: u16 = 0x0001;
/// Answering no does not leave the filesystem marked as not fixed.
pub const NO_OK: u16 = 0x0002;
/// In preen mode, say nothing about it.
pub const PREEN_NOMSG: u16 = 0x0004;
/// A notice, not a question: nothing to answer.
pub const NOTICE: u16 = 0x0008;
/// Fixing it does not count as a change of the filesystem.
pub const NOT_A_FIX: u16 = 0x0010;
/// Answered no even under -y (the fix would lose too much).
pub const FORCE_NO: u16 = 0x0020;
/// In preen mode, print without the device-name prefix.
pub const PREEN_NOHDR: u16 = 0x0040;

/// Groups of problems asked once ("latched") and then applied to each member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Latch {
    IllegalBlocks,
    BadBlocksInode,
    LowDtime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    // Superblock and group descriptors (pass 0).
    BlockBitmapNotInGroup,
    InodeBitmapNotInGroup,
    InodeTableNotInGroup,
    RelocateHint,
    FreeBlocksCountSb,
    FreeInodesCountSb,
    AddUuid,
    HurdFiletype,
    RevZeroFeatures,
    JournalInodeNoFeature,
    OrphanInodeClear,
    OrphanInodeTruncate,
    OrphanListBad,
    LastOrphanNoJournal,
    ResizeInodeNoFeature,
    JournalInodeNotClear,
    ZeroLengthDir,
    LargeFileFeature,
    ExtraIsize,
    InvalidQuotaInode,
    QuotaInodeNotClear,
    RevLevelForLargeFiles,
    TreatAsDirectory,
    ResizeInodeInvalid,
    UninitBgFlags,
    BlockUninitLast,
    FirstMetaBgTooBig,
    UnionFiletypeMissing,
    DirNlinkFeatureMissing,
    // Pass 1.
    RootNotDir,
    RootDtime,
    ReservedBadMode,
    ZeroDtime,
    SetDtime,
    LowDtime,
    LowDtimeLatch,
    SetImagic,
    SetImmutable,
    SetNonzeroSize,
    ExtentsFlagNoFeature,
    InlineDataFlagNoFeature,
    IndexFlagNoFeature,
    EaInodeNotRegular,
    CasefoldNotDir,
    IndexFlagNotDir,
    EncryptFlag,
    CasefoldNoFeature,
    IllegalBlock,
    IllegalBlockLatch,
    TooManyIllegal,
    BadBlocksIllegal,
    BadBlocksIllegalLatch,
    BadBlocksInodeBadMode,
    BadBlockInPrimary,
    BadBlockInTable,
    TableConflict,
    BadISize,
    BadIBlocks,
    XattrBlockBad,
    XattrBlockRefcount,
    OpaqueNotDir,
    HtreeBadRoot,
    HtreeBadNode,
    HtreeClear,
    DupBlocksFound,
    Pass1B,
    DupBlocksInInode,
    Pass1C,
    Pass1D,
    DupInodeCount,
    DupFileHeader,
    DupFileShared,
    DupAlreadyCloned,
    DupClone,
    RestartNotice,
    RelocatingTable,
    // Pass 2.
    MissingDot,
    FirstNotDot,
    DotNotTerminated,
    BadInodeDot,
    SplitDot,
    MissingDotDot,
    SecondNotDotDot,
    DotDotNotTerminated,
    LinkDot,
    BadIno,
    DupDot,
    DupDotDot,
    LinkRoot,
    NullName,
    UnusedInode,
    BadName,
    SetFiletype,
    BadFiletype,
    ClearFiletype,
    LinkDir,
    DuplicateEntry,
    DirCorrupted,
    FinalRecLen,
    UnallocatedDirBlock,
    FileAclZero,
    FileAclBad,
    BadMode,
    BadCharDev,
    BadBlockDev,
    BadFifo,
    BadSocket,
    InvalidSymlink,
    FaddrZero,
    FragZero,
    FsizeZero,
    DirSizeHighZero,
    BlocksHiZero,
    FileAclHiZero,
    UnionEntryHasInode,
    UnionEntryInDotSlot,
    UnionDuplicateName,
    UnionEntryNoFeature,
    OpaqueNoFeature,
    // Pass 3.
    NoRoot,
    RootNotDirAbort,
    UnconnectedDir,
    NoLostFound,
    LostFoundNotDir,
    BadDotDot,
    ExpandLostFound,
    NoLostFoundNoSpace,
    Pass3A,
    RehashDir,
    RehashDuplicate,
    // Pass 4.
    UnattachedZeroLength,
    UnattachedInode,
    BadRefCount,
    // Pass 5.
    BlockBitmapHeader,
    BlockBitmapEnd,
    InodeBitmapHeader,
    InodeBitmapEnd,
    FreeBlocksGroup,
    FreeBlocksTotal,
    FreeInodesGroup,
    FreeInodesTotal,
    DirsCountGroup,
    InodeBitmapPadding,
    BlockBitmapPadding,
}

pub struct Problem {
    pub code: Code,
    pub message: &'static str,
    pub prompt: Prompt,
    pub flags: u16,
    pub latch: Option<Latch>,
}

const fn p(code: Code, message: &'static str, prompt: Prompt, flags: u16) -> Problem {
    Problem {
        code,
        message,
        prompt,
        flags,
        latch: None,
    }
}

const fn latched(
    code: Code,
    message: &'static str,
    prompt: Prompt,
    flags: u16,
    latch: Latch,
) -> Problem {
    Problem {
        code,
        message,
        prompt,
        flags,
        latch: Some(latch),
    }
}

use Code::*;

/// The table. Messages follow e2fsck 1.47's wording (expanded from its
/// abbreviations) so that logs and habits carry over.
pub static PROBLEMS: &[Problem] = &[
    p(BlockBitmapNotInGroup, "Block bitmap for group {group} is not in group.  (block {blk})\n", Prompt::Relocate, 0),
    p(InodeBitmapNotInGroup, "Inode bitmap for group {group} is not in group.  (block {blk})\n", Prompt::Relocate, 0),
    p(InodeTableNotInGroup, "Inode table for group {group} is not in group.  (block {blk})\nWARNING: SEVERE DATA LOSS POSSIBLE.\n", Prompt::Relocate, 0),
    p(RelocateHint, "Note: if several inode or block bitmap blocks or part\nof the inode table require relocation, you may wish to try\nrunning e2fsck with the '-b {num}' option first.  The problem\nmay lie only with the primary block group descriptors, and\nthe backup block group descriptors may be OK.\n\n", Prompt::None, NOTICE | PREEN_NOHDR),
    p(FreeBlocksCountSb, "Free blocks count wrong ({num}, counted={num2}).\n", Prompt::Fix, PREEN_OK | NO_OK | PREEN_NOMSG),
    p(FreeInodesCountSb, "Free inodes count wrong ({num}, counted={num2}).\n", Prompt::Fix, PREEN_OK | NO_OK | PREEN_NOMSG),
    p(AddUuid, "Filesystem did not have a UUID; generating one.\n\n", Prompt::None, NOTICE),
    p(HurdFiletype, "The Hurd does not support the filetype feature.\n", Prompt::Clear, 0),
    p(RevZeroFeatures, "Filesystem has feature flag(s) set, but is a revision 0 filesystem.  ", Prompt::Fix, PREEN_OK),
    p(JournalInodeNoFeature, "Superblock has_journal flag is clear, but a journal is present.\n", Prompt::Clear, PREEN_OK),
    p(OrphanInodeClear, "Clearing orphaned inode {ino} (uid={num}, gid={num2}, mode={mode}, size={blk})\n", Prompt::None, PREEN_OK | NOTICE | NOT_A_FIX),
    p(OrphanInodeTruncate, "Truncating orphaned inode {ino} (uid={num}, gid={num2}, mode={mode}, size={blk})\n", Prompt::None, PREEN_OK | NOTICE | NOT_A_FIX),
    p(OrphanListBad, "Illegal inode {ino} in orphaned inode list.\n", Prompt::None, NOTICE),
    p(LastOrphanNoJournal, "Superblock last_orphan list is not empty.  ", Prompt::Clear, PREEN_OK),
    p(ResizeInodeNoFeature, "Resize_inode not enabled, but the resize inode is non-zero.  ", Prompt::Clear, 0),
    p(JournalInodeNotClear, "Journal inode is not in use, but contains data.  ", Prompt::Clear, PREEN_OK),
    p(ZeroLengthDir, "Inode {ino} is a zero-length directory.  ", Prompt::Clear, 0),
    p(LargeFileFeature, "Filesystem contains large files, but lacks LARGE_FILE flag in superblock.\n", Prompt::Fix, PREEN_OK),
    p(RevLevelForLargeFiles, "Filesystem revision 0, but feature flags set (large files need revision 1).  ", Prompt::Fix, PREEN_OK),
    p(TreatAsDirectory, "Inode {ino} is a {str} but it looks like it is really a directory.\n", Prompt::Fix, 0),
    p(ExtraIsize, "Inode {ino} has a extra size ({num}) which is invalid\n", Prompt::Fix, PREEN_OK),
    p(InvalidQuotaInode, "Invalid {str} quota inode {ino}.  ", Prompt::Fix, PREEN_OK),
    p(QuotaInodeNotClear, "Quota inode is not in use, but contains data.  ", Prompt::Clear, PREEN_OK),
    p(ResizeInodeInvalid, "Resize inode not valid.  ", Prompt::Recreate, 0),
    p(UninitBgFlags, "Group descriptor {group} marked uninitialized without feature set.\n", Prompt::Fix, PREEN_OK),
    p(BlockUninitLast, "Last group block bitmap uninitialized.  ", Prompt::Fix, PREEN_OK),
    p(FirstMetaBgTooBig, "First_meta_bg is too big.  ({num}, max value {num2}).  ", Prompt::Clear, 0),
    p(UnionFiletypeMissing, "Filesystem has the whiteout feature but not filetype (whiteouts and fallthrus need file types).  ", Prompt::Fix, 0),
    p(DirNlinkFeatureMissing, "Directory {ino} has more than 65000 links but the dir_nlink feature is not set.  ", Prompt::Fix, 0),
    p(RootNotDir, "Root inode is not a directory.  ", Prompt::Clear, 0),
    p(RootDtime, "Root inode has dtime set.  (probably due to old mke2fs).  ", Prompt::Fix, PREEN_OK),
    p(ReservedBadMode, "Reserved inode {ino} ({str}) has invalid mode.  ", Prompt::Clear, PREEN_OK),
    p(ZeroDtime, "Deleted inode {ino} has zero dtime.  ", Prompt::Fix, PREEN_OK),
    p(SetDtime, "Inode {ino} is in use, but has dtime set.  ", Prompt::Fix, PREEN_OK),
    latched(LowDtime, "Inode {ino} was part of the orphaned inode list.  ", Prompt::Fix, 0, Latch::LowDtime),
    p(LowDtimeLatch, "Inodes that were part of a corrupted orphan linked list found.  ", Prompt::Fix, 0),
    p(SetImagic, "Inode {ino} has imagic flag set.  ", Prompt::Clear, 0),
    p(SetImmutable, "Special (device/socket/fifo/symlink) file (inode {ino}) has immutable\nor append-only flag set.  ", Prompt::Clear, PREEN_OK),
    p(SetNonzeroSize, "Special (device/socket/fifo) inode {ino} has non-zero size.  ", Prompt::Fix, PREEN_OK),
    p(ExtentsFlagNoFeature, "Inode {ino} has EXTENTS_FL flag set on filesystem without extents support.\n", Prompt::Clear, 0),
    p(InlineDataFlagNoFeature, "Inode {ino} has INLINE_DATA_FL flag on filesystem without inline data support.\n", Prompt::Clear, 0),
    p(EaInodeNotRegular, "Inode {ino} has the ea_inode flag set but is not a regular file.  ", Prompt::ClearFlag, PREEN_OK),
    p(EncryptFlag, "Inode {ino} has encrypt flag but no encryption extended attribute.\n", Prompt::ClearFlag, PREEN_OK),
    p(IndexFlagNotDir, "Inode {ino} has INDEX_FL flag set but is not a directory.\n", Prompt::ClearHtree, PREEN_OK),
    p(CasefoldNotDir, "Inode {ino} has the casefold flag set but is not a directory.  ", Prompt::ClearFlag, PREEN_OK),
    p(CasefoldNoFeature, "Directory <{ino}> has the casefold flag, but the\ncasefold feature is not enabled.  ", Prompt::ClearFlag, PREEN_OK),
    p(IndexFlagNoFeature, "Inode {ino} has INDEX_FL flag set on filesystem without htree support.\n", Prompt::ClearHtree, PREEN_OK),
    latched(IllegalBlock, "Illegal block #{num} ({blk}) in inode {ino}.  ", Prompt::Clear, 0, Latch::IllegalBlocks),
    p(IllegalBlockLatch, "Inode {ino} has illegal block(s).  ", Prompt::Clear, 0),
    p(TooManyIllegal, "Too many illegal blocks in inode {ino}.\n", Prompt::ClearInode, 0),
    latched(BadBlocksIllegal, "Illegal block #{num} ({blk}) in bad block inode.  ", Prompt::Clear, 0, Latch::BadBlocksInode),
    p(BadBlocksIllegalLatch, "Bad block inode has illegal block(s).  ", Prompt::Clear, 0),
    p(BadBlocksInodeBadMode, "The bad block inode looks invalid.  ", Prompt::Clear, 0),
    p(BadBlockInPrimary, "{str}\n\nIf the block is really bad, the filesystem can not be fixed.\nYou can remove this block from the bad block list and hope\nthat the block is really OK.  But there are no guarantees.\n\n", Prompt::Clear, PREEN_OK),
    p(BadBlockInTable, "Group {group}'s {str} ({blk}) is bad.  ", Prompt::Relocate, 0),
    p(TableConflict, "Group {group}'s {str} at {blk} conflicts with some other fs block.\n", Prompt::Relocate, 0),
    p(BadISize, "Inode {ino}, i_size is {num}, should be {num2}.  ", Prompt::Fix, PREEN_OK),
    p(BadIBlocks, "Inode {ino}, i_blocks is {num}, should be {num2}.  ", Prompt::Fix, PREEN_OK),
    p(XattrBlockBad, "Inode {ino} has a bad extended attribute block {blk}.  ", Prompt::Clear, 0),
    p(XattrBlockRefcount, "Extended attribute block {blk} has reference count {num}, should be {num2}.  ", Prompt::Fix, 0),
    p(OpaqueNotDir, "Inode {ino} is not a directory but has the opaque (union) flag set.  ", Prompt::Clear, PREEN_OK),
    p(HtreeBadRoot, "HTREE directory inode {ino} has an invalid root node.\n", Prompt::ClearHtree, PREEN_OK),
    p(HtreeBadNode, "Problem in HTREE directory inode {ino}: {str}\n", Prompt::None, NOTICE),
    p(HtreeClear, "Invalid HTREE directory inode {ino} ({str}).  ", Prompt::ClearHtree, PREEN_OK),
    p(DupBlocksFound, "\nRunning additional passes to resolve blocks claimed by more than one inode...\n", Prompt::None, NOTICE),
    p(Pass1B, "Pass 1B: Rescanning for multiply-claimed blocks\n", Prompt::None, NOTICE | PREEN_NOMSG),
    p(DupBlocksInInode, "Multiply-claimed block(s) in inode {ino}:{str}\n", Prompt::None, NOTICE | PREEN_NOMSG),
    p(Pass1C, "Pass 1C: Scanning directories for inodes with multiply-claimed blocks\n", Prompt::None, NOTICE | PREEN_NOMSG),
    p(Pass1D, "Pass 1D: Reconciling multiply-claimed blocks\n", Prompt::None, NOTICE | PREEN_NOMSG),
    p(DupInodeCount, "(There are {num} inodes containing multiply-claimed blocks.)\n\n", Prompt::None, NOTICE | PREEN_NOMSG),
    p(DupFileHeader, "File {str} (inode #{ino}, mod time {str2}) \n  has {num} multiply-claimed block(s), shared with {num2} file(s):\n", Prompt::None, NOTICE | PREEN_NOMSG),
    p(DupFileShared, "\t{str}\n", Prompt::None, NOTICE | PREEN_NOMSG),
    p(DupAlreadyCloned, "Multiply-claimed blocks already reassigned or cloned.\n\n", Prompt::None, NOTICE | PREEN_NOMSG),
    p(DupClone, "", Prompt::Clone, 0),
    p(RestartNotice, "Restarting e2fsck from the beginning...\n", Prompt::None, NOTICE),
    p(RelocatingTable, "Relocating group {group}'s {str} to {blk}...\n", Prompt::None, NOTICE | PREEN_OK),
    p(MissingDot, "Missing '.' in directory inode {ino}.\n", Prompt::Fix, 0),
    p(FirstNotDot, "First entry '{name}' (inode={ino2}) in directory inode {ino} ({path}) should be '.'\n", Prompt::Fix, 0),
    p(DotNotTerminated, "'.' directory entry in directory inode {ino} is not NULL terminated\n", Prompt::Fix, 0),
    p(BadInodeDot, "Bad inode number for '.' in directory inode {ino}.\n", Prompt::Fix, 0),
    p(SplitDot, "Directory entry for '.' in {path} ({ino}) is big.\n", Prompt::Split, PREEN_OK),
    p(MissingDotDot, "Missing '..' in directory inode {ino}.\n", Prompt::Fix, 0),
    p(SecondNotDotDot, "Second entry '{name}' (inode={ino2}) in directory inode {ino} should be '..'\n", Prompt::Fix, 0),
    p(DotDotNotTerminated, "'..' directory entry in directory inode {ino} is not NULL terminated\n", Prompt::Fix, 0),
    p(LinkDot, "Entry '{name}' in {path} ({ino}) is a link to '.'  ", Prompt::Clear, 0),
    p(BadIno, "Entry '{name}' in {path} ({ino}) has invalid inode #: {ino2}.\n", Prompt::Clear, 0),
    p(DupDot, "Entry '{name}' in {path} ({ino}) is duplicate '.' entry.\n", Prompt::Fix, 0),
    p(DupDotDot, "Entry '{name}' in {path} ({ino}) is duplicate '..' entry.\n", Prompt::Fix, 0),
    p(LinkRoot, "Entry '{name}' in {path} ({ino}) is a link to the root inode.\n", Prompt::Clear, 0),
    p(NullName, "Entry '{name}' in {path} ({ino}) has a zero-length name.\n", Prompt::Clear, 0),
    p(UnusedInode, "Entry '{name}' in {path} ({ino}) has deleted/unused inode {ino2}.  ", Prompt::Clear, PREEN_OK),
    p(BadName, "Entry '{name}' in {path} ({ino}) has illegal characters in its name.\n", Prompt::Fix, 0),
    p(SetFiletype, "Setting filetype for entry '{name}' in {path} ({ino}) to {num}.\n", Prompt::None, PREEN_OK | NOTICE),
    p(BadFiletype, "Entry '{name}' in {path} ({ino}) has an incorrect filetype (was {num2}, should be {num}).\n", Prompt::Fix, 0),
    p(ClearFiletype, "Entry '{name}' in {path} ({ino}) has filetype set.\n", Prompt::Clear, PREEN_OK),
    p(LinkDir, "Entry '{name}' in {path} ({ino}) is a link to directory {str} ({ino2}).\n", Prompt::Clear, 0),
    p(DuplicateEntry, "Duplicate entry '{name}' found.\n\tMarking {path} ({ino}) to be rebuilt.\n\n", Prompt::None, NOTICE),
    p(DirCorrupted, "Directory inode {ino}, block #{num}, offset {num2}: directory corrupted\n", Prompt::Salvage, 0),
    p(FinalRecLen, "Directory entry for '{name}' in {path} ({ino}) is big.\n", Prompt::Fix, 0),
    p(UnallocatedDirBlock, "Directory inode {ino} has an unallocated block #{num}.  ", Prompt::Allocate, 0),
    p(FileAclZero, "i_file_acl for inode {ino2} ({path}) is {num}, should be zero.\n", Prompt::Clear, 0),
    p(FileAclBad, "i_file_acl for inode {ino2} ({path}) is {num}, should be zero.\n", Prompt::Clear, 0),
    p(BadMode, "Inode {ino2} ({path}) has invalid mode ({mode}).\n", Prompt::Clear, 0),
    p(BadCharDev, "Inode {ino2} ({path}) is an illegal character device.\n", Prompt::Clear, 0),
    p(BadBlockDev, "Inode {ino2} ({path}) is an illegal block device.\n", Prompt::Clear, 0),
    p(BadFifo, "Inode {ino2} ({path}) is an illegal FIFO.\n", Prompt::Clear, 0),
    p(BadSocket, "Inode {ino2} ({path}) is an illegal socket.\n", Prompt::Clear, 0),
    p(InvalidSymlink, "Symlink {path} (inode #{ino2}) is invalid.\n", Prompt::Clear, 0),
    p(FaddrZero, "i_faddr for inode {ino2} ({path}) is {num}, should be zero.\n", Prompt::Clear, 0),
    p(FragZero, "i_frag for inode {ino2} ({path}) is {num}, should be zero.\n", Prompt::Clear, 0),
    p(FsizeZero, "i_fsize for inode {ino2} ({path}) is {num}, should be zero.\n", Prompt::Clear, 0),
    p(DirSizeHighZero, "i_size_high for inode {ino2} ({path}) is {num}, should be zero.\n", Prompt::Clear, 0),
    p(BlocksHiZero, "i_blocks_hi for inode {ino2} ({path}) is {num}, should be zero.\n", Prompt::Clear, 0),
    p(FileAclHiZero, "i_file_acl_hi for inode {ino2} ({path}) is {num}, should be zero.\n", Prompt::Clear, 0),
    p(UnionEntryHasInode, "{str} entry '{name}' in {path} ({ino}) has inode {ino2} (whiteouts and fallthrus have none).\n", Prompt::Clear, PREEN_OK),
    p(UnionEntryInDotSlot, "{str} entry '{name}' in {path} ({ino}) is in the place of '.' or '..'.\n", Prompt::Clear, 0),
    p(UnionDuplicateName, "{str} entry '{name}' in {path} ({ino}) duplicates a name in the directory.\n", Prompt::Clear, PREEN_OK),
    p(UnionEntryNoFeature, "{str} entry '{name}' in {path} ({ino}) on a filesystem without the whiteout feature.\n", Prompt::Clear, PREEN_OK),
    p(OpaqueNoFeature, "Inode {ino} has the opaque (union) flag set on a filesystem without the whiteout feature.  ", Prompt::Clear, PREEN_OK),
    p(NoRoot, "Root inode not allocated.  ", Prompt::Allocate, 0),
    p(RootNotDirAbort, "Root inode is not a directory; aborting.\n", Prompt::None, NOTICE),
    p(UnconnectedDir, "Unconnected directory inode {ino} (was in {path})\n", Prompt::Connect, 0),
    p(NoLostFound, "/lost+found not found.  ", Prompt::Create, PREEN_OK),
    p(LostFoundNotDir, "/lost+found is not a directory (ino={ino})\n", Prompt::Unlink, 0),
    p(BadDotDot, "'..' in {path} ({ino}) is {str} ({ino2}), should be {str2} ({dir}).\n", Prompt::Fix, 0),
    p(ExpandLostFound, "No room in lost+found directory.  ", Prompt::Expand, 0),
    p(NoLostFoundNoSpace, "Cannot reconnect inode {ino}: {str}\n", Prompt::None, NOTICE),
    p(Pass3A, "Pass 3A: Optimizing directories\n", Prompt::None, NOTICE | PREEN_NOMSG),
    p(RehashDir, "Rebuilding directory {ino} ({path}): {str}\n", Prompt::None, NOTICE),
    p(RehashDuplicate, "Duplicate entry '{name}' in {path} ({ino}) found.  ", Prompt::Clear, 0),
    p(UnattachedZeroLength, "Unattached zero-length inode {ino}.  ", Prompt::Clear, PREEN_OK),
    p(UnattachedInode, "Unattached inode {ino}\n", Prompt::Connect, 0),
    p(BadRefCount, "Inode {ino} ref count is {num}, should be {num2}.  ", Prompt::Fix, PREEN_OK),
    p(BlockBitmapHeader, "Block bitmap differences: ", Prompt::None, PREEN_OK | PREEN_NOMSG | NOTICE),
    p(BlockBitmapEnd, "\n", Prompt::Fix, PREEN_OK | PREEN_NOMSG),
    p(InodeBitmapHeader, "Inode bitmap differences: ", Prompt::None, PREEN_OK | PREEN_NOMSG | NOTICE),
    p(InodeBitmapEnd, "\n", Prompt::Fix, PREEN_OK | PREEN_NOMSG),
    p(FreeBlocksGroup, "Free blocks count wrong for group #{group} ({num}, counted={num2}).\n", Prompt::Fix, PREEN_OK | PREEN_NOMSG),
    p(FreeBlocksTotal, "Free blocks count wrong ({num}, counted={num2}).\n", Prompt::Fix, PREEN_OK | NO_OK | PREEN_NOMSG),
    p(FreeInodesGroup, "Free inodes count wrong for group #{group} ({num}, counted={num2}).\n", Prompt::Fix, PREEN_OK | PREEN_NOMSG),
    p(FreeInodesTotal, "Free inodes count wrong ({num}, counted={num2}).\n", Prompt::Fix, PREEN_OK | NO_OK | PREEN_NOMSG),
    p(DirsCountGroup, "Directories count wrong for group #{group} ({num}, counted={num2}).\n", Prompt::Fix, PREEN_OK | PREEN_NOMSG),
    p(InodeBitmapPadding, "Padding at end of inode bitmap is not set. ", Prompt::Fix, PREEN_OK),
    p(BlockBitmapPadding, "Padding at end of block bitmap is not set. ", Prompt::Fix, PREEN_OK),
];

/// The latch question asked before the first member of a latch group.
pub fn latch_question(latch: Latch) -> Option<Code> {
    match latch {
        Latch::IllegalBlocks => Some(IllegalBlockLatch),
        Latch::BadBlocksInode => Some(BadBlocksIllegalLatch),
        Latch::LowDtime => Some(LowDtimeLatch),
    }
}

static UNLISTED: Problem = p(
    BadRefCount,
    "Unlisted problem (internal error; please report it).  ",
    Prompt::Fix,
    0,
);

pub fn lookup(code: Code) -> &'static Problem {
    PROBLEMS
        .iter()
        .find(|p| p.code == code)
        .unwrap_or(&UNLISTED)
}

/// What a message is filled from.
#[derive(Clone, Debug, Default)]
pub struct Ctx {
    pub ino: u32,
    pub ino2: u32,
    pub dir: u32,
    pub blk: u64,
    pub num: u64,
    pub num2: u64,
    pub group: u32,
    pub mode: u16,
    pub name: Vec<u8>,
    pub path: String,
    pub str1: String,
    pub str2: String,
}

impl Ctx {
    pub fn ino(ino: u32) -> Self {
        Ctx {
            ino,
            ..Default::default()
        }
    }
}

/// Fills a message template.
pub fn expand(template: &str, c: &Ctx) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let key = &after[..end];
        match key {
            "ino" => out.push_str(&c.ino.to_string()),
            "ino2" => out.push_str(&c.ino2.to_string()),
            "dir" => out.push_str(&c.dir.to_string()),
            "blk" => out.push_str(&c.blk.to_string()),
            "num" => out.push_str(&c.num.to_string()),
            "num2" => out.push_str(&c.num2.to_string()),
            "group" => out.push_str(&c.group.to_string()),
            "mode" => out.push_str(&format!("0{:o}", c.mode)),
            "name" => out.push_str(&escape_name(&c.name)),
            "path" => out.push_str(&c.path),
            "str" => out.push_str(&c.str1),
            "str2" => out.push_str(&c.str2),
            other => {
                out.push('{');
                out.push_str(other);
                out.push('}');
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Names as e2fsck prints them: control characters as ^X, high bytes as M-.
pub fn escape_name(name: &[u8]) -> String {
    let mut s = String::new();
    for &b in name {
        let mut c = b;
        if c > 128 {
            s.push_str("M-");
            c -= 128;
        }
        if c < 32 || c == 127 {
            s.push('^');
            s.push((c ^ 0x40) as char);
        } else {
            s.push(c as char);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_exactly_one_entry() {
        let mut codes: Vec<Code> = PROBLEMS.iter().map(|p| p.code).collect();
        let n = codes.len();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), n, "a code is listed twice");
        // The last variant must be in the table, and the table has no gaps
        // because lookup() of each listed code returns that code.
        for p in PROBLEMS {
            assert_eq!(lookup(p.code).code, p.code);
        }
        assert_eq!(lookup(BlockBitmapPadding).prompt, Prompt::Fix);
    }

    #[test]
    fn templates_expand_every_field() {
        let c = Ctx {
            ino: 12,
            ino2: 13,
            name: b"a\x01b".to_vec(),
            path: "/x".into(),
            ..Default::default()
        };
        let s = expand(lookup(UnusedInode).message, &c);
        assert_eq!(s, "Entry 'a^Ab' in /x (12) has deleted/unused inode 13.  ");
        for p in PROBLEMS {
            assert!(!expand(p.message, &c).contains('{'), "{:?}", p.code);
        }
    }
}
