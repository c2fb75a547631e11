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
    Truncate,
    Recreate,
    ClearFlag,
    Unlink,
    Abort,
    Continue,
    Suppress,
    Delete,
    /// e2fsck's PROMPT_NULL: the message ends in the question itself.
    Null,
    /// The questions of e2fsck's I/O error handler (ehandler.c).
    IgnoreError,
    ForceRewrite,
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
            Prompt::Truncate => "Truncate",
            Prompt::Recreate => "Recreate",
            Prompt::ClearFlag => "Clear flag",
            Prompt::Unlink => "Unlink",
            Prompt::Abort => "Abort",
            Prompt::Continue => "Continue",
            Prompt::Suppress => "Suppress messages",
            Prompt::Delete => "Delete file",
            Prompt::Null => "",
            Prompt::IgnoreError => "Ignore error",
            Prompt::ForceRewrite => "Force rewrite",
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
            Prompt::Truncate => "TRUNCATED",
            Prompt::Recreate => "WILL RECREATE",
            Prompt::ClearFlag => "FLAG CLEARED",
            Prompt::Unlink => "UNLINKED",
            Prompt::Abort => "ABORTED",
            Prompt::Continue => "CONTINUING",
            Prompt::Suppress => "SUPPRESSED",
            Prompt::Delete => "FILE DELETED",
            Prompt::Null => "",
            Prompt::IgnoreError => "IGNORED",
            Prompt::ForceRewrite => "REWRITTEN",
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
/// The fix only edits superblock or group descriptor fields in memory,
/// which the final superblock write carries: a repair, but e2fsck does
/// not mark the filesystem changed for it (no MODIFIED line on its own).
pub const UNMARKED: u16 = 0x0080;
/// The check cannot go on (e2fsck's PR_FATAL): a notice, then abort.
pub const FATAL: u16 = 0x0100;
/// Say nothing about it when the answer is bound to be no (-n, or
/// FORCE_NO): e2fsck's PR_NO_NOMSG.
pub const NO_NOMSG: u16 = 0x0200;
/// Preen answers no (and says IGNORED) where it would fix (e2fsck's
/// PR_PREEN_NO).
pub const PREEN_NO: u16 = 0x0400;

/// Groups of problems asked once ("latched") and then applied to each member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Latch {
    IllegalBlocks,
    /// Blocks past what the inode's type allows, per inode.
    TooBig,
    BadBlocksInode,
    LowDtime,
}

/// Every problem the checker reports, grouped by the pass whose range its
/// number (see [`Code::number`]) lies in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    // Superblock and group descriptors (pass 0, e2fsck's PR_0_*).
    BlockBitmapNotInGroup,
    InodeBitmapNotInGroup,
    InodeTableNotInGroup,
    AddUuid,
    RelocateHint,
    HurdFiletype,
    JournalBadInode,
    CantFindJournal,
    JournalInodeNoFeature,
    RevZeroFeatures,
    OrphanInode,
    OrphanListBad,
    ResizeInodeNoFeature,
    ResizeInodeInvalid,
    FutureLastMount,
    FutureLastWrite,
    UninitBgFlags,
    FutureLastMountFudged,
    FutureLastWriteFudged,
    BlockUninitLast,
    FirstMetaBgTooBig,
    InvalidQuotaInode,
    SbCorrupt,
    FsSizeWrong,
    GetsizeError,
    FirstDataBlock,
    MiscCorruptSuper,
    InodeCountWrong,
    OpenFailed,
    CheckDescFailed,
    BadMinExtraIsize,
    BadWantExtraIsize,
    InodeCountBig,
    UnionFiletypeMissing,
    OrphanIllegalBlock,
    OrphanAlreadyCleared,
    OrphanIllegalHead,
    NonzeroReservedGdt,
    DirhashHint,
    ClearTestfsFlag,
    FreeInodeCount,
    FreeBlockCount,
    DisableResizeInode,
    // Pass 1, 1B, 1C and 1D (PR_1_*, PR_1B_*, PR_1C_*, PR_1D_*).
    RootNotDir,
    InodeScanError,
    BlockIterate,
    RootDtime,
    ReservedBadMode,
    ZeroDtime,
    SetDtime,
    ZeroLengthDir,
    BlockBitmapConflict,
    InodeBitmapConflict,
    InodeTableConflict,
    BlockBitmapBadBlock,
    InodeBitmapBadBlock,
    BadISize,
    BadIBlocks,
    IllegalBlock,
    IllegalBlockLatch,
    TooManyIllegal,
    DupBlocksPreenStop,
    SuppressMessages,
    CriticalMetadataCollision,
    InodeTooBig,
    TooBigDir,
    TooBigReg,
    TooBigSymlink,
    BadBlocksIllegal,
    BadBlocksIllegalLatch,
    BadBlockInPrimary,
    BadBlocksInodeBadMetablock,
    BadBlocksInodeCorrupted,
    BackupSuperblockBad,
    BackupDescriptorsBad,
    BadBlockClaimedForNoReason,
    BadBlocksIndirectOnMetadata,
    ResizeInodeCreate,
    BadBlocksInodeInBadBlock,
    RelocatingTable,
    RelocatingTableFrom,
    RelocReadErr,
    RelocWriteErr,
    SetImagic,
    SetImmutable,
    SpecialExtentsInline,
    SetNonzeroSize,
    RevLevelForLargeFiles,
    JournalInodeNotClear,
    JournalBadMode,
    LowDtime,
    LowDtimeLatch,
    InodeIsGarbage,
    XattrBlockBad,
    ReadEaBlock,
    ExtattrReadAbort,
    XattrBlockRefcount,
    EaMultiBlock,
    EaAllocCollision,
    EaBadName,
    EaBadValue,
    IndexFlagNoFeature,
    IndexFlagNotDir,
    HtreeBadRoot,
    HtreeHashVersion,
    HtreeIncompat,
    HtreeDepth,
    HtreeCannotSiphash,
    ExtraIsize,
    AttrHash,
    AttrValueSize,
    InodeEaAllocCollision,
    EaTimeOutOfRange,
    TreatAsDirectory,
    ExtentsFlagNoFeature,
    ExtentFormatNoFeature,
    QuotaInodeNotClear,
    OrphanFileNotClear,
    BadBlocksInodeBadMode,
    InlineDataFlagNoFeature,
    InlineDataNoFeature,
    AttrValueEaInode,
    AttrNoEaInodeFlag,
    AttrSetEaInodeFlag,
    CasefoldNotDir,
    CasefoldNoFeature,
    EncryptFlag,
    Pass1B,
    DupBlocksInInode,
    DupBlockIterate,
    Pass1C,
    Pass1D,
    DupFileHeader,
    DupFileShared,
    DupInodeCount,
    DupAlreadyCloned,
    DupClone,
    DupDelete,
    CloneError,
    OpaqueNotDir,
    EaInodeNotRegular,
    RestartNotice,
    // Pass 2 (PR_2_*).
    BadInodeDot,
    BadIno,
    InodeInBadBlock,
    ReadError,
    ReadErrorRewrite,
    ReadDirBlock,
    UnusedInode,
    InorefBgInoUninit,
    InorefInUnused,
    LinkDot,
    LinkDir,
    LinkRoot,
    BadName,
    MissingDot,
    MissingDotDot,
    FirstNotDot,
    SecondNotDotDot,
    FaddrZero,
    FileAclZero,
    DirSizeHighZero,
    FragZero,
    FsizeZero,
    BadMode,
    DirCorrupted,
    UnallocatedDirBlock,
    AllocDirBlock,
    DotNotTerminated,
    DotDotNotTerminated,
    BadCharDev,
    BadBlockDev,
    DupDot,
    DupDotDot,
    FinalRecLen,
    SplitDot,
    BadFifo,
    BadSocket,
    SetFiletype,
    BadFiletype,
    ClearFiletype,
    NullName,
    InvalidSymlink,
    FileAclBad,
    LargeFileFeature,
    HtreeClear,
    LargeDirsFeature,
    HtreeNotRef,
    HtreeDupRef,
    HtreeMinHash,
    HtreeMaxHash,
    HtreeBadBlk,
    HtreeRootInvalid,
    HtreeBadLimit,
    HtreeBadCount,
    HtreeHashOrder,
    HtreeBadDepth,
    UnexpectedHtreeBlock,
    RehashDuplicate,
    NonUniqueName,
    DuplicateEntry,
    BlocksHiZero,
    FileAclHiZero,
    UnionEntryHasInode,
    UnionEntryInDotSlot,
    UnionDuplicateName,
    UnionEntryNoFeature,
    OpaqueNoFeature,
    NoDirInfo,
    // Pass 3 and 3A (PR_3_*, PR_3A_*).
    NoRoot,
    ExpandLostFound,
    UnconnectedDir,
    NoLostFound,
    BadDotDot,
    NoLostFoundCannotReconnect,
    CannotExpandLostFound,
    CannotReconnect,
    ErrFindLostFound,
    ErrLostFoundNewBlock,
    ErrLostFoundNewInode,
    FixParentNoFind,
    CreateRootError,
    CreateLostFoundError,
    RootNotDirAbort,
    NoRootInodeAbort,
    LostFoundNotDir,
    LostFoundNoSpace,
    NoSpaceToRecover,
    LoopedDir,
    NoDirInfoPass3,
    Pass3A,
    OptimizeDirError,
    // Pass 4 (PR_4_*).
    UnattachedZeroLength,
    UnattachedInode,
    BadRefCount,
    EaInodeRefCount,
    DirOverflowRefCount,
    DirNlinkFeatureMissing,
    // Pass 5 (PR_5_*).
    InodeBitmapPadding,
    BlockBitmapPadding,
    BlockBitmapHeader,
    BlockBitmapEnd,
    BlockUninitInUse,
    InodeBitmapHeader,
    InodeBitmapEnd,
    FreeInodesGroup,
    DirsCountGroup,
    FreeInodesTotal,
    FreeBlocksGroup,
    FreeBlocksTotal,
}

impl Code {
    /// The number e2fsck 1.47 gives this problem (its PR_x_... code,
    /// 0xPPNNNN with PP the pass), so that a report can be looked up in
    /// e2fsprogs' problem.h and compared with e2fsck's. Problems e2fsck does not have take numbers from
    /// [`PRIVATE_BASE`] up within their pass (docs/compat.md lists them).
    /// The match is exhaustive on purpose: a new problem does not build
    /// until it has a number.
    pub const fn number(self) -> u32 {
        match self {
            // Superblock and group descriptors (pass 0, e2fsck's PR_0_*).
            BlockBitmapNotInGroup => 0x000001,
            InodeBitmapNotInGroup => 0x000002,
            InodeTableNotInGroup => 0x000003,
            AddUuid => 0x000009,
            RelocateHint => 0x00000A,
            HurdFiletype => 0x00000E,
            JournalBadInode => 0x00000F,
            CantFindJournal => 0x000011,
            JournalInodeNoFeature => 0x000016,
            RevZeroFeatures => 0x00001A,
            OrphanInode => 0x000020,
            OrphanListBad => 0x000024,
            ResizeInodeNoFeature => 0x00002F,
            ResizeInodeInvalid => 0x000030,
            FutureLastMount => 0x000031,
            FutureLastWrite => 0x000032,
            UninitBgFlags => 0x000036,
            FutureLastMountFudged => 0x00003C,
            FutureLastWriteFudged => 0x00003D,
            BlockUninitLast => 0x000039,
            FirstMetaBgTooBig => 0x000049,
            InvalidQuotaInode => 0x00004F,
            SbCorrupt => 0x000004,
            FsSizeWrong => 0x000005,
            GetsizeError => 0x00000C,
            FirstDataBlock => 0x000008,
            MiscCorruptSuper => 0x00000B,
            InodeCountWrong => 0x00000D,
            OpenFailed => 0x000044,
            CheckDescFailed => 0x000045,
            BadMinExtraIsize => 0x00004D,
            BadWantExtraIsize => 0x00004E,
            InodeCountBig => 0x000050,
            UnionFiletypeMissing => 0x00F001,
            OrphanIllegalBlock => 0x000021,
            OrphanAlreadyCleared => 0x000022,
            OrphanIllegalHead => 0x000023,
            NonzeroReservedGdt => 0x00002E,
            DirhashHint => 0x000034,
            ClearTestfsFlag => 0x00003B,
            FreeInodeCount => 0x00003F,
            FreeBlockCount => 0x000040,
            DisableResizeInode => 0x000051,
            // Pass 1, 1B, 1C and 1D (PR_1_*, PR_1B_*, PR_1C_*, PR_1D_*).
            InodeScanError => 0x010028,
            BlockIterate => 0x010029,
            RootNotDir => 0x010001,
            RootDtime => 0x010002,
            ReservedBadMode => 0x010003,
            ZeroDtime => 0x010004,
            SetDtime => 0x010005,
            ZeroLengthDir => 0x010006,
            BlockBitmapConflict => 0x010007,
            InodeBitmapConflict => 0x010008,
            InodeTableConflict => 0x010009,
            BlockBitmapBadBlock => 0x01000A,
            InodeBitmapBadBlock => 0x01000B,
            BadISize => 0x01000C,
            BadIBlocks => 0x01000D,
            IllegalBlock => 0x01000E,
            IllegalBlockLatch => 0x010010,
            TooManyIllegal => 0x010011,
            SuppressMessages => 0x01002D,
            DupBlocksPreenStop => 0x010014,
            CriticalMetadataCollision => 0x010071,
            InodeTooBig => 0x010043,
            TooBigDir => 0x010044,
            TooBigReg => 0x010045,
            TooBigSymlink => 0x010046,
            BadBlocksIllegal => 0x010012,
            BadBlocksIllegalLatch => 0x010013,
            BadBlockInPrimary => 0x010018,
            BadBlocksInodeBadMetablock => 0x010015,
            BadBlocksInodeCorrupted => 0x010016,
            BackupSuperblockBad => 0x01001B,
            BackupDescriptorsBad => 0x01001C,
            BadBlockClaimedForNoReason => 0x01001D,
            BadBlocksIndirectOnMetadata => 0x01004D,
            ResizeInodeCreate => 0x01004E,
            BadBlocksInodeInBadBlock => 0x01007B,
            RelocatingTable => 0x010021,
            RelocatingTableFrom => 0x010020,
            RelocReadErr => 0x010022,
            RelocWriteErr => 0x010023,
            SetImagic => 0x01002F,
            SetImmutable => 0x010030,
            SpecialExtentsInline => 0x010076,
            SetNonzeroSize => 0x010032,
            RevLevelForLargeFiles => 0x010033,
            JournalInodeNotClear => 0x010034,
            JournalBadMode => 0x010035,
            LowDtime => 0x010036,
            InodeIsGarbage => 0x010067,
            LowDtimeLatch => 0x010037,
            XattrBlockBad => 0x01003A,
            ReadEaBlock => 0x010039,
            ExtattrReadAbort => 0x01003B,
            XattrBlockRefcount => 0x01003C,
            EaMultiBlock => 0x01003E,
            EaAllocCollision => 0x010040,
            EaBadName => 0x010041,
            EaBadValue => 0x010042,
            IndexFlagNoFeature => 0x010047,
            IndexFlagNotDir => 0x010048,
            HtreeBadRoot => 0x010049,
            HtreeHashVersion => 0x01004A,
            HtreeIncompat => 0x01004B,
            HtreeDepth => 0x01004C,
            HtreeCannotSiphash => 0x01008E,
            LargeDirsFeature => 0x020039,
            ExtraIsize => 0x01004F,
            AttrHash => 0x010054,
            AttrValueSize => 0x010053,
            InodeEaAllocCollision => 0x010069,
            EaTimeOutOfRange => 0x010082,
            TreatAsDirectory => 0x010055,
            ExtentsFlagNoFeature => 0x01005A,
            ExtentFormatNoFeature => 0x01005B,
            QuotaInodeNotClear => 0x010063,
            OrphanFileNotClear => 0x010090,
            BadBlocksInodeBadMode => 0x010065,
            InlineDataFlagNoFeature => 0x010070,
            InlineDataNoFeature => 0x01006F,
            AttrValueEaInode => 0x010083,
            AttrNoEaInodeFlag => 0x010085,
            AttrSetEaInodeFlag => 0x010086,
            CasefoldNotDir => 0x010088,
            CasefoldNoFeature => 0x010089,
            EncryptFlag => 0x01008A,
            Pass1B => 0x011000,
            DupBlocksInInode => 0x011001,
            DupBlockIterate => 0x011006,
            Pass1C => 0x012000,
            Pass1D => 0x013000,
            DupFileHeader => 0x013001,
            DupFileShared => 0x013002,
            DupInodeCount => 0x013004,
            DupAlreadyCloned => 0x013005,
            DupClone => 0x013006,
            DupDelete => 0x013007,
            CloneError => 0x013008,
            OpaqueNotDir => 0x01F002,
            EaInodeNotRegular => 0x01F003,
            RestartNotice => 0x01F004,
            // Pass 2 (PR_2_*).
            BadInodeDot => 0x020001,
            BadIno => 0x020002,
            InodeInBadBlock => 0x020005,
            ReadDirBlock => 0x020020,
            UnusedInode => 0x020003,
            InorefBgInoUninit => 0x020046,
            InorefInUnused => 0x020047,
            LinkDot => 0x020004,
            LinkDir => 0x020006,
            LinkRoot => 0x020007,
            BadName => 0x020008,
            MissingDot => 0x020009,
            MissingDotDot => 0x02000A,
            FirstNotDot => 0x02000B,
            SecondNotDotDot => 0x02000C,
            FaddrZero => 0x02000D,
            FileAclZero => 0x02000E,
            DirSizeHighZero => 0x02000F,
            FragZero => 0x020010,
            FsizeZero => 0x020011,
            BadMode => 0x020012,
            DirCorrupted => 0x020013,
            UnallocatedDirBlock => 0x020015,
            AllocDirBlock => 0x020022,
            DotNotTerminated => 0x020016,
            DotDotNotTerminated => 0x020017,
            BadCharDev => 0x020018,
            BadBlockDev => 0x020019,
            DupDot => 0x02001A,
            DupDotDot => 0x02001B,
            FinalRecLen => 0x02001D,
            SplitDot => 0x020024,
            BadFifo => 0x020025,
            BadSocket => 0x020026,
            SetFiletype => 0x020027,
            BadFiletype => 0x020028,
            ClearFiletype => 0x020029,
            NullName => 0x020030,
            InvalidSymlink => 0x020031,
            FileAclBad => 0x020032,
            LargeFileFeature => 0x020033,
            HtreeClear => 0x020038,
            HtreeNotRef => 0x020034,
            HtreeDupRef => 0x020035,
            HtreeMinHash => 0x020036,
            HtreeMaxHash => 0x020037,
            HtreeBadBlk => 0x02003A,
            HtreeRootInvalid => 0x02003C,
            HtreeBadLimit => 0x02003D,
            HtreeBadCount => 0x02003E,
            HtreeHashOrder => 0x02003F,
            HtreeBadDepth => 0x020040,
            UnexpectedHtreeBlock => 0x020045,
            RehashDuplicate => 0x020041,
            NonUniqueName => 0x020042,
            DuplicateEntry => 0x020043,
            BlocksHiZero => 0x020044,
            FileAclHiZero => 0x020048,
            UnionEntryHasInode => 0x02F002,
            UnionEntryInDotSlot => 0x02F003,
            UnionDuplicateName => 0x02F004,
            UnionEntryNoFeature => 0x02F005,
            OpaqueNoFeature => 0x02F006,
            ReadError => 0x02F007,
            ReadErrorRewrite => 0x02F008,
            NoDirInfo => 0x02001C,
            // Pass 3 and 3A (PR_3_*, PR_3A_*).
            NoRoot => 0x030001,
            ExpandLostFound => 0x030002,
            UnconnectedDir => 0x030003,
            NoLostFound => 0x030004,
            BadDotDot => 0x030005,
            NoLostFoundCannotReconnect => 0x030006,
            CannotExpandLostFound => 0x030007,
            CannotReconnect => 0x030008,
            ErrFindLostFound => 0x030009,
            ErrLostFoundNewBlock => 0x03000A,
            ErrLostFoundNewInode => 0x03000B,
            FixParentNoFind => 0x030010,
            CreateRootError => 0x030012,
            CreateLostFoundError => 0x030013,
            RootNotDirAbort => 0x030014,
            NoRootInodeAbort => 0x030015,
            LostFoundNotDir => 0x030017,
            LostFoundNoSpace => 0x030019,
            NoSpaceToRecover => 0x03001A,
            LoopedDir => 0x03001D,
            NoDirInfoPass3 => 0x030016,
            Pass3A => 0x031000,
            OptimizeDirError => 0x031002,
            // Pass 4 (PR_4_*).
            UnattachedZeroLength => 0x040001,
            UnattachedInode => 0x040002,
            BadRefCount => 0x040003,
            EaInodeRefCount => 0x040005,
            DirOverflowRefCount => 0x040007,
            DirNlinkFeatureMissing => 0x040006,
            // Pass 5 (PR_5_*).
            InodeBitmapPadding => 0x050001,
            BlockBitmapPadding => 0x050002,
            BlockBitmapHeader => 0x050003,
            BlockBitmapEnd => 0x050006,
            BlockUninitInUse => 0x050018,
            InodeBitmapHeader => 0x050007,
            InodeBitmapEnd => 0x05000A,
            FreeInodesGroup => 0x05000B,
            DirsCountGroup => 0x05000C,
            FreeInodesTotal => 0x05000D,
            FreeBlocksGroup => 0x05000E,
            FreeBlocksTotal => 0x05000F,
        }
    }

    /// The pass byte of the number (0 for the superblock checks; 1B-1D
    /// count as pass 1, 3A as pass 3).
    pub const fn pass(self) -> u32 {
        self.number() >> 16
    }

    /// A number of our own, not one of e2fsck's.
    pub const fn is_private(self) -> bool {
        self.number() & 0xFFFF >= PRIVATE_BASE
    }
}

/// Numbers from here up (within each pass) are ours: e2fsprogs 1.47 uses
/// at most 0x4FFF of a pass's range (its sub-passes 1B..1E and 3A sit at
/// 0x1000 steps).
pub const PRIVATE_BASE: u32 = 0xF000;

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
    p(RelocateHint, "Note: if several inode or block bitmap blocks or part\nof the inode table require relocation, you may wish to try\nrunning e2fsck with the '-b {num}' option first.  The problem\nmay lie only with the primary block group descriptors, and\nthe backup block group descriptors may be OK.\n\n", Prompt::None, NOTICE),
    p(AddUuid, "Filesystem did not have a UUID; generating one.\n\n", Prompt::None, NOTICE),
    p(HurdFiletype, "The Hurd does not support the filetype feature.\n", Prompt::Clear, 0),
    p(RevZeroFeatures, "Filesystem has feature flag(s) set, but is a revision 0 filesystem.  ", Prompt::Fix, PREEN_OK | NO_OK),
    p(JournalBadInode, "Superblock has an invalid journal (inode {ino}).\n", Prompt::Clear, PREEN_OK),
    p(CantFindJournal, "Can't find external journal\n", Prompt::None, NOTICE),
    p(JournalInodeNoFeature, "Superblock has_journal flag is clear, but a journal is present.\n", Prompt::Clear, PREEN_OK),
    p(OrphanInode, "{str} orphaned inode {ino} (uid={num}, gid={num2}, mode={mode}, size={blk})\n", Prompt::None, PREEN_OK | NOTICE),
    p(OrphanListBad, "Illegal inode {ino} in orphaned inode list.\n", Prompt::None, NOTICE),
    p(OrphanIllegalBlock, "Illegal {B} ({blk}) found in orphaned inode {ino}.\n", Prompt::None, NOTICE),
    p(OrphanAlreadyCleared, "Already cleared {B} ({blk}) found in orphaned inode {ino}.\n", Prompt::None, NOTICE),
    p(OrphanIllegalHead, "Illegal orphaned inode {ino} in superblock.\n", Prompt::None, NOTICE),
    p(NonzeroReservedGdt, "Filesystem does not have resize_inode enabled, but s_reserved_gdt_blocks\nis {num}; should be zero.  ", Prompt::Fix, 0),
    p(DisableResizeInode, "Resize_inode and meta_bg features are enabled. Those features are\nnot compatible. Resize inode should be disabled.  ", Prompt::Fix, 0),
    p(DirhashHint, "Adding dirhash hint to filesystem.\n\n", Prompt::None, NOTICE),
    p(ClearTestfsFlag, "The test_fs flag is set (and ext4 is available).  ", Prompt::Clear, PREEN_OK | UNMARKED),
    p(FreeInodeCount, "Setting free inodes count to {num2} (was {num})\n", Prompt::None, NOTICE | PREEN_NOMSG),
    p(FreeBlockCount, "Setting free blocks count to {num2} (was {num})\n", Prompt::None, NOTICE | PREEN_NOMSG),
    p(ResizeInodeNoFeature, "Resize_inode not enabled, but the resize inode is non-zero.  ", Prompt::Clear, 0),
    p(JournalBadMode, "Journal is not regular file.  ", Prompt::Fix, PREEN_OK),
    p(JournalInodeNotClear, "Journal inode is not in use, but contains data.  ", Prompt::Clear, PREEN_OK),
    p(ZeroLengthDir, "Inode {ino} is a zero-length directory.  ", Prompt::Clear, PREEN_OK),
    p(LargeFileFeature, "Filesystem contains large files, but lacks LARGE_FILE flag in superblock.\n", Prompt::Fix, PREEN_OK),
    p(RevLevelForLargeFiles, "Filesystem has feature flag(s) set, but is a revision 0 filesystem.  ", Prompt::Fix, PREEN_OK | NO_OK),
    p(TreatAsDirectory, "Inode {ino} is a {str} but it looks like it is really a directory.\n", Prompt::Fix, 0),
    p(ExtraIsize, "Inode {ino} has a extra size ({num}) which is invalid\n", Prompt::Fix, PREEN_OK),
    p(InvalidQuotaInode, "Invalid {str} quota inode {ino}.  ", Prompt::Fix, 0),
    p(QuotaInodeNotClear, "Quota inode is not in use, but contains data.  ", Prompt::Clear, PREEN_OK),
    p(OrphanFileNotClear, "Orphan file inode {ino} is not in use, but contains data.  ", Prompt::Clear, PREEN_OK),
    p(ResizeInodeInvalid, "Resize inode not valid.  ", Prompt::Recreate, 0),
    p(FutureLastMount, "Superblock last mount time ({str},\n\tnow = {str2}) is in the future.\n", Prompt::Fix, PREEN_OK | NO_OK | UNMARKED),
    p(FutureLastWrite, "Superblock last write time ({str},\n\tnow = {str2}) is in the future.\n", Prompt::Fix, PREEN_OK | NO_OK | UNMARKED),
    p(FutureLastMountFudged, "Superblock last mount time is in the future.\n\t(by less than a day, probably due to the hardware clock being incorrectly set)\n", Prompt::None, PREEN_OK | NO_OK | NOT_A_FIX),
    p(FutureLastWriteFudged, "Superblock last write time is in the future.\n\t(by less than a day, probably due to the hardware clock being incorrectly set)\n", Prompt::None, PREEN_OK | NO_OK | NOT_A_FIX),
    p(UninitBgFlags, "Group descriptor {group} marked uninitialized without feature set.\n", Prompt::Fix, PREEN_OK | UNMARKED),
    p(BlockUninitLast, "Last group block bitmap uninitialized.  ", Prompt::Fix, PREEN_OK | UNMARKED),
    p(FirstMetaBgTooBig, "First_meta_bg is too big.  ({num}, max value {num2}).  ", Prompt::Clear, 0),
    p(SbCorrupt, "\nThe superblock could not be read or does not describe a valid ext2/ext3/ext4\nfilesystem.  If the device is valid and it really contains an ext2/ext3/ext4\nfilesystem (and not swap or ufs or something else), then the superblock\nis corrupt, and you might try running e2fsck with an alternate superblock:\n    e2fsck -b 8193 <device>\n or\n    e2fsck -b 32768 <device>\n\n", Prompt::None, NOTICE),
    p(FsSizeWrong, "The filesystem size (according to the superblock) is {blk} blocks\nThe physical size of the device is {num} blocks\nEither the superblock or the partition table is likely to be corrupt!\n", Prompt::Abort, NOT_A_FIX),
    // PR_FATAL in e2fsck, where (before the passes) fatal_error exits at
    // once: the caller stops with Stop::Fatal.
    p(GetsizeError, "Error determining size of the physical device: {str}\n", Prompt::None, NOTICE),
    p(FirstDataBlock, "Superblock first_data_block = {blk}, should have been {num}\n", Prompt::None, NOTICE),
    p(MiscCorruptSuper, "Corruption found in superblock.  ({str} = {num}).\n", Prompt::None, NOTICE),
    p(InodeCountBig, "Superblock would have too many inodes ({num}).\n", Prompt::None, NOTICE),
    p(InodeCountWrong, "Inode count in superblock is {ino}, should be {ino2}.\n", Prompt::Fix, 0),
    p(OpenFailed, "ext2fs_open2: {str}\n", Prompt::None, NOTICE),
    p(CheckDescFailed, "ext2fs_check_desc: {str}\n", Prompt::None, NOTICE),
    p(BadMinExtraIsize, "Bad required extra isize in superblock ({num}).  ", Prompt::Fix, 0),
    p(BadWantExtraIsize, "Bad desired extra isize in superblock ({num}).  ", Prompt::Fix, 0),
    p(UnionFiletypeMissing, "Filesystem has the whiteout feature but not filetype (whiteouts and fallthrus need file types).  ", Prompt::Fix, 0),
    p(DirNlinkFeatureMissing, "Directory exceeds max links, but no DIR_NLINK feature in superblock.\n", Prompt::Fix, 0),
    p(InodeScanError, "Error while scanning inodes ({ino}): {str}\n", Prompt::None, NOTICE | FATAL),
    p(BlockIterate, "Error while iterating over blocks in inode {ino}: {str}\n", Prompt::None, NOTICE | FATAL),
    p(RootNotDir, "Root inode is not a directory.  ", Prompt::Clear, 0),
    p(RootDtime, "Root inode has dtime set (probably due to old mke2fs).  ", Prompt::Fix, PREEN_OK),
    p(ReservedBadMode, "Reserved inode {ino} ({str}) has invalid mode.  ", Prompt::Clear, PREEN_OK),
    p(ZeroDtime, "Deleted inode {ino} has zero dtime.  ", Prompt::Fix, PREEN_OK),
    p(SetDtime, "Inode {ino} is in use, but has dtime set.  ", Prompt::Fix, PREEN_OK),
    latched(LowDtime, "Inode {ino} was part of the orphaned inode list.  ", Prompt::Fix, 0, Latch::LowDtime),
    p(InodeIsGarbage, "Inode {ino} seems to contain garbage.  ", Prompt::Clear, 0),
    p(LowDtimeLatch, "Inodes that were part of a corrupted orphan linked list found.  ", Prompt::Fix, 0),
    p(SetImagic, "Inode {ino} has imagic flag set.  ", Prompt::Clear, 0),
    p(SetImmutable, "Special (device/socket/fifo/symlink) file (inode {ino}) has immutable\nor append-only flag set.  ", Prompt::Clear, PREEN_OK | PREEN_NO | NO_OK),
    p(SpecialExtentsInline, "Special (device/socket/fifo) file (inode {ino}) has extents\nor inline-data flag set.  ", Prompt::Clear, PREEN_OK | PREEN_NO | NO_OK),
    p(SetNonzeroSize, "Special (device/socket/fifo) inode {ino} has non-zero size.  ", Prompt::Fix, PREEN_OK),
    p(ExtentsFlagNoFeature, "Inode {ino} has EXTENTS_FL flag set on filesystem without extents support.\n", Prompt::Clear, 0),
    // e2fsck turns the extents feature on when told yes; an ext2 checker
    // cannot check what follows, so it is never answered yes (compat.md).
    p(ExtentFormatNoFeature, "Inode {ino} is in extent format, but superblock is missing EXTENTS feature\n", Prompt::Fix, FORCE_NO | NO_OK),
    p(InlineDataFlagNoFeature, "Inode {ino} has INLINE_DATA_FL flag on filesystem without inline data support.\n", Prompt::Clear, 0),
    // e2fsck turns inline_data on when told yes; never answered yes here
    // (compat.md), so preen cannot take it either.
    p(InlineDataNoFeature, "Inode {ino} has inline data, but superblock is missing INLINE_DATA feature\n", Prompt::Fix, FORCE_NO | NO_OK),
    p(EaInodeNotRegular, "Inode {ino} has the ea_inode flag set but is not a regular file.  ", Prompt::ClearFlag, PREEN_OK),
    p(EncryptFlag, "Inode {ino} has encrypt flag but no encryption extended attribute.\n", Prompt::ClearFlag, PREEN_OK),
    p(IndexFlagNotDir, "Inode {ino} has INDEX_FL flag set but is not a directory.\n", Prompt::ClearHtree, PREEN_OK),
    p(CasefoldNotDir, "Inode {ino} has the casefold flag set but is not a directory.  ", Prompt::ClearFlag, PREEN_OK),
    p(CasefoldNoFeature, "Directory {path} has the casefold flag, but the\ncasefold feature is not enabled.  ", Prompt::ClearFlag, PREEN_OK),
    p(IndexFlagNoFeature, "Inode {ino} has INDEX_FL flag set on filesystem without htree support.\n", Prompt::ClearHtree, PREEN_OK),
    latched(IllegalBlock, "Illegal {B} ({blk}) in inode {ino}.  ", Prompt::Clear, 0, Latch::IllegalBlocks),
    p(IllegalBlockLatch, "Inode {ino} has illegal block(s).  ", Prompt::Clear, 0),
    p(TooManyIllegal, "Too many illegal blocks in inode {ino}.\n", Prompt::ClearInode, NO_OK),
    p(SuppressMessages, "", Prompt::Suppress, NO_OK),
    p(CriticalMetadataCollision, "Inode {ino} block {blk} conflicts with critical metadata, skipping block checks.\n", Prompt::None, 0),
    p(InodeTooBig, "Inode {ino} is too big.  ", Prompt::Truncate, 0),
    latched(TooBigDir, "{B^} ({blk}) causes directory to be too big.  ", Prompt::Clear, 0, Latch::TooBig),
    latched(TooBigReg, "{B^} ({blk}) causes file to be too big.  ", Prompt::Clear, 0, Latch::TooBig),
    latched(TooBigSymlink, "{B^} ({blk}) causes symlink to be too big.  ", Prompt::Clear, 0, Latch::TooBig),
    latched(BadBlocksIllegal, "Illegal {B} ({blk}) in bad block inode.  ", Prompt::Clear, 0, Latch::BadBlocksInode),
    p(BadBlocksIllegalLatch, "Bad block inode has illegal block(s).  ", Prompt::Clear, 0),
    p(BadBlocksInodeBadMode, "The bad block inode looks invalid.  ", Prompt::Clear, 0),
    p(BadBlockInPrimary, "{str}\n\nIf the block is really bad, the filesystem can not be fixed.\nYou can remove this block from the bad block list and hope\nthat the block is really OK.  But there are no guarantees.\n\n", Prompt::Clear, PREEN_OK),
    p(BlockBitmapBadBlock, "Group {group}'s block bitmap ({blk}) is bad.  ", Prompt::Relocate, 0),
    p(InodeBitmapBadBlock, "Group {group}'s inode bitmap ({blk}) is bad.  ", Prompt::Relocate, 0),
    latched(BadBlocksInodeBadMetablock, "Bad block {blk} used as bad block inode indirect block.  ", Prompt::Clear, 0, Latch::BadBlocksInode),
    latched(BadBlocksIndirectOnMetadata, "Bad block inode has an indirect block ({blk}) that conflicts with\nfilesystem metadata.  ", Prompt::Clear, 0, Latch::BadBlocksInode),
    p(ResizeInodeCreate, "Resize inode (re)creation failed: {str}.", Prompt::Continue, 0),
    p(BadBlocksInodeCorrupted, "\nThe bad block inode has probably been corrupted.  You probably\nshould stop now and run e2fsck -c to scan for bad blocks\nin the filesystem.\n", Prompt::Continue, PREEN_NOMSG),
    // Warnings only: a backup copy is simply not used.
    p(BackupSuperblockBad, "Warning: Group {group}'s superblock ({blk}) is bad.\n", Prompt::None, PREEN_OK | PREEN_NOMSG | NOTICE | NOT_A_FIX),
    p(BackupDescriptorsBad, "Warning: Group {group}'s copy of the group descriptors has a bad block ({blk}).\n", Prompt::None, PREEN_OK | PREEN_NOMSG | NOTICE | NOT_A_FIX),
    p(BadBlockClaimedForNoReason, "Programming error?  block #{blk} claimed for no reason in process_bad_block.\n", Prompt::None, PREEN_OK | NOTICE | NOT_A_FIX),
    p(BadBlocksInodeInBadBlock, "Bad block list says the bad block list inode is bad.  ", Prompt::ClearInode, 0),
    p(BlockBitmapConflict, "Group {group}'s block bitmap at {blk} conflicts with some other fs block.\n", Prompt::Relocate, 0),
    p(InodeBitmapConflict, "Group {group}'s inode bitmap at {blk} conflicts with some other fs block.\n", Prompt::Relocate, 0),
    p(InodeTableConflict, "Group {group}'s inode table at {blk} conflicts with some other fs block.\n", Prompt::Relocate, 0),
    p(BadISize, "Inode {ino}, i_size is {num}, should be {num2}.  ", Prompt::Fix, PREEN_OK),
    p(BadIBlocks, "Inode {ino}, i_blocks is {num}, should be {num2}.  ", Prompt::Fix, PREEN_OK),
    p(XattrBlockBad, "Inode {ino} has a bad extended attribute block {blk}.  ", Prompt::Clear, 0),
    p(ReadEaBlock, "Error reading extended attribute block {blk} for inode {ino}.  ", Prompt::Clear, 0),
    p(ExtattrReadAbort, "Error reading extended attribute block {blk} ({str}).  ", Prompt::None, NOTICE | FATAL),
    p(XattrBlockRefcount, "Extended attribute block {blk} has reference count {num}, should be {num2}.  ", Prompt::Fix, 0),
    p(EaMultiBlock, "Extended attribute block {blk} has h_blocks > 1.  ", Prompt::Clear, 0),
    p(EaAllocCollision, "Extended attribute block {blk} is corrupt (allocation collision).  ", Prompt::Clear, 0),
    p(EaBadName, "Extended attribute block {blk} is corrupt (invalid name).  ", Prompt::Clear, 0),
    p(EaBadValue, "Extended attribute block {blk} is corrupt (invalid value).  ", Prompt::Clear, 0),
    p(AttrHash, "Extended attribute in inode {ino} has a hash ({num}) which is invalid\n", Prompt::Clear, PREEN_OK),
    p(AttrValueEaInode, "Inode {ino} has illegal extended attribute value inode {num}.\n", Prompt::Clear, PREEN_OK),
    p(AttrNoEaInodeFlag, "Inode {ino} has invalid extended attribute. EA inode {num} missing EA_INODE flag.\n", Prompt::Clear, PREEN_OK),
    p(AttrSetEaInodeFlag, "EA inode {num} for parent inode {ino} missing EA_INODE flag.\n ", Prompt::Fix, PREEN_OK),
    p(AttrValueSize, "Extended attribute in inode {ino} has a value size ({num}) which is invalid\n", Prompt::Clear, PREEN_OK),
    p(InodeEaAllocCollision, "Inode {ino} extended attribute is corrupt (allocation collision).  ", Prompt::Clear, 0),
    p(EaTimeOutOfRange, "Timestamp(s) on inode {ino} beyond 2310-04-04 are likely pre-1970.\n", Prompt::Fix, PREEN_OK | NO_OK),
    p(OpaqueNotDir, "Inode {ino} is not a directory but has the opaque (union) flag set.  ", Prompt::Clear, PREEN_OK),
    p(HtreeBadRoot, "HTREE directory inode {ino} has an invalid root node.\n", Prompt::ClearHtree, PREEN_OK),
    p(HtreeHashVersion, "HTREE directory inode {ino} has an unsupported hash version ({num})\n", Prompt::ClearHtree, PREEN_OK),
    p(HtreeIncompat, "HTREE directory inode {ino} uses an incompatible htree root node flag.\n", Prompt::ClearHtree, PREEN_OK),
    p(HtreeDepth, "HTREE directory inode {ino} has a tree depth ({num}) which is too big\n", Prompt::ClearHtree, PREEN_OK),
    p(LargeDirsFeature, "Filesystem has large directories, but lacks LARGE_DIR flag in superblock.\n", Prompt::Fix, PREEN_OK),
    p(HtreeCannotSiphash, "HTREE directory inode {ino} uses SipHash, but should not.  ", Prompt::ClearHtree, PREEN_OK),
    p(HtreeNotRef, "Problem in HTREE directory inode {dir}: block #{num2} not referenced\n", Prompt::None, NOTICE),
    p(HtreeDupRef, "Problem in HTREE directory inode {dir}: block #{num2} referenced twice\n", Prompt::None, NOTICE),
    p(HtreeMinHash, "Problem in HTREE directory inode {dir}: block #{num2} has bad min hash\n", Prompt::None, NOTICE),
    p(HtreeMaxHash, "Problem in HTREE directory inode {dir}: block #{num2} has bad max hash\n", Prompt::None, NOTICE),
    p(HtreeBadBlk, "Problem in HTREE directory inode {dir} ({path}): bad block number {blk}.\n", Prompt::ClearHtree, 0),
    p(HtreeRootInvalid, "Problem in HTREE directory inode {dir}: root node is invalid\n", Prompt::ClearHtree, PREEN_OK),
    p(HtreeBadLimit, "Problem in HTREE directory inode {dir}: block #{num2} has invalid limit ({num})\n", Prompt::ClearHtree, PREEN_OK),
    p(HtreeBadCount, "Problem in HTREE directory inode {dir}: block #{num2} has invalid count ({num})\n", Prompt::ClearHtree, PREEN_OK),
    p(HtreeHashOrder, "Problem in HTREE directory inode {dir}: block #{num2} has an unordered hash table\n", Prompt::ClearHtree, PREEN_OK),
    p(HtreeBadDepth, "Problem in HTREE directory inode {dir}: block #{num2} has invalid depth ({num})\n", Prompt::None, NOTICE),
    p(UnexpectedHtreeBlock, "Unexpected block in HTREE directory inode {dir} ({path}).\n", Prompt::ClearHtree, 0),
    p(HtreeClear, "Invalid HTREE directory inode {ino} ({str}).  ", Prompt::ClearHtree, PREEN_OK),
    p(DupBlocksPreenStop, "Duplicate or bad block in use!\n", Prompt::None, NOTICE),
    p(Pass1B, "\nRunning additional passes to resolve blocks claimed by more than one inode...\nPass 1B: Rescanning for multiply-claimed blocks\n", Prompt::None, NOTICE | PREEN_NOMSG),
    p(DupBlocksInInode, "Multiply-claimed block(s) in inode {ino}:{str}\n", Prompt::None, NOTICE),
    p(DupBlockIterate, "Error while iterating over blocks in inode {ino} ({str}): {str2}\n", Prompt::None, NOTICE),
    p(Pass1C, "Pass 1C: Scanning directories for inodes with multiply-claimed blocks\n", Prompt::None, NOTICE | PREEN_NOMSG),
    p(Pass1D, "Pass 1D: Reconciling multiply-claimed blocks\n", Prompt::None, NOTICE | PREEN_NOMSG),
    p(DupInodeCount, "(There are {num} inodes containing multiply-claimed blocks.)\n\n", Prompt::None, NOTICE),
    p(DupFileHeader, "File {str} (inode #{ino}, mod time {str2}) \n  has {num} multiply-claimed block(s), shared with {num2} file(s):\n", Prompt::None, NOTICE),
    p(DupFileShared, "\t{str}\n", Prompt::None, NOTICE),
    p(DupAlreadyCloned, "Multiply-claimed blocks already reassigned or cloned.\n\n", Prompt::None, NOTICE),
    p(DupClone, "", Prompt::Clone, NO_OK),
    p(DupDelete, "", Prompt::Delete, 0),
    p(CloneError, "Couldn't clone file: {str}\n", Prompt::None, 0),
    p(RestartNotice, "Restarting e2fsck from the beginning...\n", Prompt::None, NOTICE),
    p(RelocatingTable, "Relocating group {group}'s {str} to {blk}...\n", Prompt::None, NOTICE | PREEN_OK),
    p(RelocatingTableFrom, "Relocating group {group}'s {str} from {num} to {blk}...\n", Prompt::None, NOTICE | PREEN_OK),
    p(RelocReadErr, "Warning: could not read block {blk} of {str}: {str2}\n", Prompt::None, NOTICE | PREEN_OK),
    p(RelocWriteErr, "Warning: could not write block {blk} for {str}: {str2}\n", Prompt::None, NOTICE | PREEN_OK),
    p(MissingDot, "Missing '.' in directory inode {ino}.\n", Prompt::Fix, 0),
    p(FirstNotDot, "First entry '{name}' (inode={ino2}) in directory inode {ino} ({path}) should be '.'\n", Prompt::Fix, 0),
    p(DotNotTerminated, "'.' directory entry in directory inode {ino} is not NULL terminated\n", Prompt::Fix, 0),
    p(BadInodeDot, "Invalid inode number for '.' in directory inode {ino}.\n", Prompt::Fix, 0),
    p(SplitDot, "Directory entry for '.' in {path} ({ino}) is big.\n", Prompt::Split, NO_OK),
    p(MissingDotDot, "Missing '..' in directory inode {ino}.\n", Prompt::Fix, 0),
    p(SecondNotDotDot, "Second entry '{name}' (inode={ino2}) in directory inode {ino} should be '..'\n", Prompt::Fix, 0),
    p(DotDotNotTerminated, "'..' directory entry in directory inode {ino} is not NULL terminated\n", Prompt::Fix, 0),
    p(LinkDot, "Entry '{name}' in {path} ({ino}) is a link to '.'  ", Prompt::Clear, 0),
    p(BadIno, "Entry '{name}' in {path} ({ino}) has invalid inode #: {ino2}.\n", Prompt::Clear, 0),
    // e2fsck's I/O error handler: printed by it, not through its table.
    // Asked with its plain ask(): the answers count for nothing. `str2`
    // is " while <operation>" or empty.
    p(ReadError, "Error reading block {blk} ({str}){str2}.  ", Prompt::IgnoreError, PREEN_NOHDR | NOT_A_FIX | NO_OK),
    p(ReadErrorRewrite, "", Prompt::ForceRewrite, NOT_A_FIX | NO_OK),
    p(ReadDirBlock, "Error reading directory block {blk} (inode {ino}): {str}\n", Prompt::Continue, 0),
    p(InodeInBadBlock, "Entry '{name}' in {path} ({ino}) points to inode ({ino2}) located in a bad block.\n", Prompt::Clear, 0),
    p(DupDot, "Entry '{name}' in {path} ({ino}) is duplicate '.' entry.\n", Prompt::Fix, 0),
    p(DupDotDot, "Entry '{name}' in {path} ({ino}) is duplicate '..' entry.\n", Prompt::Fix, 0),
    p(LinkRoot, "Entry '{name}' in {path} ({ino}) is a link to the root inode.\n", Prompt::Clear, 0),
    p(NullName, "Entry '{name}' in {path} ({ino}) has a zero-length name.\n", Prompt::Clear, 0),
    p(InorefBgInoUninit, "Entry '{name}' in {path} ({ino}) references inode {ino2} in group {group} where _INODE_UNINIT is set.\n", Prompt::Fix, PREEN_OK),
    p(InorefInUnused, "Entry '{name}' in {path} ({ino}) references inode {ino2} found in group {group}'s unused inodes area.\n", Prompt::Fix, PREEN_OK),
    p(UnusedInode, "Entry '{name}' in {path} ({ino}) has deleted/unused inode {ino2}.  ", Prompt::Clear, PREEN_OK),
    p(BadName, "Entry '{name}' in {path} ({ino}) has illegal characters in its name.\n", Prompt::Fix, 0),
    p(SetFiletype, "Setting filetype for entry '{name}' in {path} ({ino}) to {num}.\n", Prompt::None, PREEN_OK | NO_OK | NO_NOMSG | NOTICE),
    p(BadFiletype, "Entry '{name}' in {path} ({ino}) has an incorrect filetype (was {num2}, should be {num}).\n", Prompt::Fix, 0),
    p(ClearFiletype, "Entry '{name}' in {path} ({ino}) has filetype set.\n", Prompt::Clear, PREEN_OK),
    p(LinkDir, "Entry '{name}' in {path} ({ino}) is a link to directory {str} ({ino2}).\n", Prompt::Clear, 0),
    p(DuplicateEntry, "Duplicate entry '{name}' found.\n\tMarking {path} ({ino}) to be rebuilt.\n\n", Prompt::None, NOTICE),
    p(DirCorrupted, "Directory inode {ino}, block #{num}, offset {num2}: directory corrupted\n", Prompt::Salvage, 0),
    p(FinalRecLen, "Entry '{name}' in {path} ({ino}) has rec_len of {num2}, should be {num}.\n", Prompt::Fix, 0),
    p(UnallocatedDirBlock, "Directory inode {ino} has an unallocated block #{num}.  ", Prompt::Allocate, 0),
    p(AllocDirBlock, "Error allocating new directory block for inode {ino} ({str}): {str2}\n", Prompt::None, NOTICE),
    p(FileAclZero, "i_file_acl for inode {ino2} ({path}) is {num}, should be zero.\n", Prompt::Clear, 0),
    p(FileAclBad, "Extended attribute block for inode {ino2} ({path}) is invalid ({num}).\n", Prompt::Clear, 0),
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
    p(FileAclHiZero, "i_file_acl_hi for inode {ino2} ({path}) is {num}, should be zero.\n", Prompt::Clear, PREEN_OK),
    p(UnionEntryHasInode, "{str} entry '{name}' in {path} ({ino}) has inode {ino2} (whiteouts and fallthrus have none).\n", Prompt::Clear, PREEN_OK),
    p(UnionEntryInDotSlot, "{str} entry '{name}' in {path} ({ino}) is in the place of '.' or '..'.\n", Prompt::Clear, 0),
    p(UnionDuplicateName, "{str} entry '{name}' in {path} ({ino}) duplicates a name in the directory.\n", Prompt::Clear, PREEN_OK),
    p(UnionEntryNoFeature, "{str} entry '{name}' in {path} ({ino}) on a filesystem without the whiteout feature.\n", Prompt::Clear, PREEN_OK),
    p(OpaqueNoFeature, "Inode {ino} has the opaque (union) flag set on a filesystem without the whiteout feature.  ", Prompt::Clear, PREEN_OK),
    p(NoDirInfo, "Internal error: couldn't find dir_info for {ino}.\n", Prompt::None, NOTICE | FATAL),
    p(NoRoot, "Root inode not allocated.  ", Prompt::Allocate, 0),
    p(RootNotDirAbort, "Root inode is not a directory; aborting.\n", Prompt::None, NOTICE | FATAL),
    p(NoRootInodeAbort, "Cannot proceed without a root inode.\n", Prompt::None, NOTICE | FATAL),
    p(UnconnectedDir, "Unconnected directory inode {ino} (was in {path})\n", Prompt::Connect, 0),
    p(NoLostFound, "/lost+found not found.  ", Prompt::Create, PREEN_OK),
    p(LostFoundNotDir, "/lost+found is not a directory (ino={ino})\n", Prompt::Unlink, 0),
    p(BadDotDot, "'..' in {path} ({ino}) is {str} ({ino2}), should be {str2} ({dir}).\n", Prompt::Fix, 0),
    p(ExpandLostFound, "No room in lost+found directory.  ", Prompt::Expand, 0),
    p(NoLostFoundCannotReconnect, "Bad or non-existent /lost+found.  Cannot reconnect.\n", Prompt::None, NOTICE),
    p(CannotExpandLostFound, "Could not expand /lost+found: {str}\n", Prompt::None, NOTICE),
    p(CannotReconnect, "Could not reconnect {ino}: {str}\n", Prompt::None, NOTICE),
    p(ErrFindLostFound, "Error while trying to find /lost+found: {str}\n", Prompt::None, NOTICE),
    p(ErrLostFoundNewBlock, "ext2fs_new_block: {str} while trying to create /lost+found directory\n", Prompt::None, NOTICE),
    p(ErrLostFoundNewInode, "ext2fs_new_inode: {str} while trying to create /lost+found directory\n", Prompt::None, NOTICE),
    p(FixParentNoFind, "Couldn't fix parent of inode {ino}: Couldn't find parent directory entry\n\n", Prompt::None, NOTICE),
    p(CreateRootError, "Error creating root directory ({str}): {str2}\n", Prompt::None, NOTICE | FATAL),
    p(CreateLostFoundError, "Error creating /lost+found directory ({str}): {str2}\n", Prompt::None, NOTICE),
    p(LostFoundNoSpace, "Cannot allocate space for /lost+found.\nPlace lost files in root directory instead", Prompt::Null, 0),
    p(NoSpaceToRecover, "Insufficient space to recover lost files!\nMove data off the filesystem and re-run e2fsck.\n\n", Prompt::None, NOTICE),
    p(NoDirInfoPass3, "Internal error: couldn't find dir_info for {ino}.\n", Prompt::None, NOTICE | FATAL),
    p(LoopedDir, "Recursively looped directory inode {ino} ({path})\n", Prompt::Connect, 0),
    p(Pass3A, "Pass 3A: Optimizing directories\n", Prompt::None, NOTICE | PREEN_NOMSG),
    p(OptimizeDirError, "Failed to optimize directory {path} ({ino}): {str}\n", Prompt::None, NOTICE),
    p(RehashDuplicate, "Duplicate entry '{name}' in {path} ({ino}) found.  ", Prompt::Clear, 0),
    p(NonUniqueName, "Entry '{name}' in {path} ({ino}) has a non-unique filename.\nRename to {str}", Prompt::Null, 0),
    p(UnattachedZeroLength, "Unattached zero-length inode {ino}.  ", Prompt::Clear, PREEN_OK | NO_OK),
    p(UnattachedInode, "Unattached inode {ino}\n", Prompt::Connect, 0),
    p(BadRefCount, "Inode {ino} ref count is {num}, should be {num2}.  ", Prompt::Fix, PREEN_OK),
    p(EaInodeRefCount, "Extended attribute inode {ino} ref count is {num}, should be {num2}. ", Prompt::Fix, PREEN_OK),
    p(DirOverflowRefCount, "Directory inode {ino} ref count set to overflow but could be exact value {num}.  ", Prompt::Fix, PREEN_OK),
    p(BlockBitmapHeader, "Block bitmap differences: ", Prompt::None, PREEN_OK | PREEN_NOMSG | NOTICE),
    p(BlockBitmapEnd, "\n", Prompt::Fix, PREEN_OK | PREEN_NOMSG),
    p(BlockUninitInUse, "Group {group} block(s) in use but group is marked BLOCK_UNINIT\n", Prompt::Fix, PREEN_OK),
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
        Latch::TooBig => Some(InodeTooBig),
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
    /// What `{B}` names (e2fsck's %B): 0 the data block `num`, 1 to 3 an
    /// indirect block of that level.
    pub indirect: u8,
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
            "B" => out.push_str(&block_name(c)),
            "B^" => {
                let name = block_name(c);
                let mut chars = name.chars();
                out.extend(chars.next().map(|f| f.to_ascii_uppercase()));
                out.push_str(chars.as_str());
            }
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

/// e2fsck's %B: "block #N" for a data block, else the indirect block's kind.
fn block_name(c: &Ctx) -> String {
    match c.indirect {
        0 => format!("block #{}", c.num),
        1 => "indirect block".into(),
        2 => "double indirect block".into(),
        _ => "triple indirect block".into(),
    }
}

/// Names as e2fsck prints them (safe_print): control characters as ^X,
/// high bytes as M-.
pub fn escape_name(name: &[u8]) -> String {
    cli_common::safe_text(name)
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
        for p in PROBLEMS {
            assert_eq!(lookup(p.code).code, p.code);
        }
    }

    #[test]
    fn every_number_is_unique() {
        let mut seen = std::collections::HashMap::new();
        for p in PROBLEMS {
            let n = p.code.number();
            if let Some(other) = seen.insert(n, p.code) {
                panic!("{:?} and {other:?} both have number {n:#08x}", p.code);
            }
        }
    }

    /// The first problem of each pass's part of the enum, with that pass.
    const SECTIONS: [(Code, u32); 6] = [
        (BlockBitmapNotInGroup, 0),
        (RootNotDir, 1),
        (BadInodeDot, 2),
        (NoRoot, 3),
        (UnattachedZeroLength, 4),
        (InodeBitmapPadding, 5),
    ];

    #[test]
    fn every_number_is_in_its_pass() {
        for p in PROBLEMS {
            let (_, pass) = SECTIONS
                .iter()
                .rev()
                .find(|(first, _)| *first <= p.code)
                .expect("sections start at the first code");
            assert_eq!(
                p.code.pass(),
                *pass,
                "{:?} ({:#08x}) is listed under pass {pass}",
                p.code,
                p.code.number()
            );
        }
    }

    #[test]
    fn private_numbers_are_in_the_private_range_only() {
        for p in PROBLEMS {
            let n = p.code.number() & 0xFFFF;
            // e2fsprogs 1.47's highest number within a pass is 0x4007.
            assert!(!(0x5000..PRIVATE_BASE).contains(&n), "{:?}: {n:#x}", p.code);
        }
        assert!(UnionEntryHasInode.is_private());
        assert!(!FreeBlocksTotal.is_private());
        assert_eq!(FreeBlocksTotal.number(), 0x05000F);
    }

    /// How many problem numbers e2fsprogs 1.47.0's e2fsck/problem.h defines.
    const E2FSPROGS_PROBLEMS: usize = 411;

    /// The numbers listed between `<!-- NAME:begin -->` and
    /// `<!-- NAME:end -->` in docs/compat.md.
    fn listed_in_compat(name: &str) -> Vec<u32> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/compat.md");
        let text = std::fs::read_to_string(path).expect("docs/compat.md");
        let begin = format!("<!-- {name}:begin -->");
        let end = format!("<!-- {name}:end -->");
        let start = text.find(&begin).expect("begin marker") + begin.len();
        let stop = start + text[start..].find(&end).expect("end marker");
        let block = &text[start..stop];
        block
            .match_indices("0x")
            .filter_map(|(at, _)| block.get(at + 2..at + 8))
            .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(|hex| u32::from_str_radix(hex, 16).unwrap())
            .collect()
    }

    #[test]
    fn every_e2fsprogs_problem_is_ours_or_explained() {
        let ours: Vec<u32> = PROBLEMS
            .iter()
            .filter(|p| !p.code.is_private())
            .map(|p| p.code.number())
            .collect();
        let inapplicable = listed_in_compat("e2fsck-inapplicable");
        let open = listed_in_compat("e2fsck-open");
        let mut seen = std::collections::HashSet::new();
        for n in inapplicable.iter().chain(&open) {
            assert!(
                seen.insert(*n),
                "{n:#08x} is listed twice in docs/compat.md"
            );
            assert!(
                !ours.contains(n),
                "{n:#08x} is in our table and listed as missing"
            );
        }
        assert_eq!(
            ours.len() + inapplicable.len() + open.len(),
            E2FSPROGS_PROBLEMS,
            "e2fsprogs problems neither in our table nor in docs/compat.md"
        );
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
