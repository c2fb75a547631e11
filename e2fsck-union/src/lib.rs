//! e2fsck-union as a library: the checker's passes, its problem table and
//! the whole run, so that the binary stays a thin CLI and fuzz targets can
//! check in-memory images.

/// println! that never panics: a closed stdout (e.g. `| head`) must not
/// stop a repair halfway. Quiet runs (fuzzing) print nothing.
macro_rules! say {
    ($($arg:tt)*) => {{
        if !$crate::ask::quiet() {
            use std::io::Write as _;
            let _ = writeln!(std::io::stdout().lock(), $($arg)*);
        }
    }};
}

pub mod ask;
mod badblocks;
mod bb_inode;
mod blocks;
mod cancel;
mod checker;
mod ehandler;
mod htree_check;
mod inode_scan;
mod journal_check;
mod keys;
mod lost_found;
mod map_walk;
mod orphan;
mod pass1;
mod pass1b;
mod pass2;
mod pass3;
mod pass3a;
mod pass4;
mod pass5;
mod pathname;
pub mod problem;
mod progress;
pub mod run;
mod super_check;
mod xattr_check;

use clap::Parser;

/// e2fsck's exit codes.
pub mod exit {
    pub const OK: u8 = 0;
    pub const FIXED: u8 = 1;
    pub const UNCORRECTED: u8 = 4;
    pub const ERROR: u8 = 8;
    pub const USAGE: u8 = 16;
    pub const CANCELED: u8 = 32;
}

#[derive(Parser, Debug)]
#[command(
    name = "e2fsck-union",
    version = cli_common::VERSION,
    disable_version_flag = true,
    about = "Check and repair an ext2 filesystem (with union-mount whiteouts, fallthrus and opaque directories)",
    after_help = "Exit status: 0 no errors, 1 errors corrected, 4 errors left uncorrected, \
8 operational error, 16 usage error, 32 cancelled by the user."
)]
pub struct Options {
    /// Automatic repair (preen): fix only what is safe, without questions
    #[arg(short = 'p')]
    pub preen: bool,
    /// Same as -p (kept for compatibility)
    #[arg(short = 'a')]
    pub auto: bool,
    /// Open read-only and answer "no" to every question
    #[arg(short = 'n')]
    pub no: bool,
    /// Answer "yes" to every question
    #[arg(short = 'y')]
    pub yes: bool,
    /// Interactive repair (the default; accepted for compatibility)
    #[arg(short = 'r')]
    pub interactive: bool,
    /// Scan for bad blocks with badblocks(8) and add them to the list (-cc: non-destructive read-write test)
    #[arg(short = 'c', action = clap::ArgAction::Count)]
    pub badblocks: u8,
    /// Print the code of every problem found (debugging)
    #[arg(short = 'd')]
    pub debug: bool,
    /// Force checking even if the filesystem seems clean
    #[arg(short = 'f')]
    pub force: bool,
    /// With -c, keep the existing bad blocks list (else the scan replaces it)
    #[arg(short = 'k')]
    pub keep_badblocks: bool,
    /// Print timing statistics
    #[arg(short = 't', action = clap::ArgAction::Count)]
    pub timing: u8,
    /// Verbose: print a summary of what the filesystem holds
    #[arg(short = 'v')]
    pub verbose: bool,
    /// Optimize (rebuild and re-index) every directory
    #[arg(short = 'D')]
    pub optimize_dirs: bool,
    /// Flush the device's buffers before checking
    #[arg(short = 'F')]
    pub flush: bool,
    /// Print the version and exit
    #[arg(short = 'V', long = "version")]
    pub version: bool,
    /// Use this alternative superblock (e.g. 8193 or 32768)
    #[arg(short = 'b', value_name = "superblock")]
    pub superblock: Option<u64>,
    /// Block size to look for the superblock with
    #[arg(short = 'B', value_name = "blocksize")]
    pub blocksize: Option<u32>,
    /// Progress: 0 for a bar on the terminal, N>0 for fsck's protocol on descriptor N
    #[arg(short = 'C', value_name = "fd", allow_hyphen_values = true)]
    pub progress_fd: Option<i32>,
    /// Extended options (comma separated)
    #[arg(short = 'E', value_name = "extended-options")]
    pub extended: Option<String>,
    /// Add the blocks listed in FILE to the bad blocks list
    #[arg(short = 'l', value_name = "bad-blocks-file")]
    pub add_badblocks: Option<String>,
    /// Replace the bad blocks list with the blocks listed in FILE
    #[arg(short = 'L', value_name = "bad-blocks-file")]
    pub set_badblocks: Option<String>,
    /// Name of the device in messages (instead of the volume label or path)
    #[arg(short = 'N', value_name = "device_name")]
    pub device_name: Option<String>,
    /// External journal (ext2 has no journal; refused)
    #[arg(short = 'j', value_name = "external-journal")]
    pub journal: Option<String>,
    /// Save the old contents of every block the check overwrites in this
    /// file, for e2undo (an empty name: one in $E2FSPROGS_UNDO_DIR)
    #[arg(short = 'z', value_name = "undo_file")]
    pub undo_file: Option<std::ffi::OsString>,
    /// The device or image file to check
    pub device: Option<String>,
}

/// Checks an image held in memory without printing anything (for fuzzing
/// and tests): `fix` answers yes, otherwise no. Returns the exit status
/// e2fsck would give and the image afterwards.
pub fn check_in_memory(bytes: Vec<u8>, fix: bool) -> (u8, Vec<u8>) {
    run::check_in_memory(bytes, fix)
}
