//! The state a debugfs session carries between requests: the open
//! filesystem, the current and root directories, where output goes, and
//! how request arguments name inodes and numbers.

use std::io::Write;
use std::path::Path;

use anyhow::{anyhow, bail, Result};
use ext2fs::features::{FeatureSet, SUPPORTED_RO_COMPAT};
use ext2fs::fs::{Filesystem, OpenOptions};
use ext2fs::image::{mount_state, MountState};
use ext2fs::inode::ROOT_INO;

/// An error already worded as debugfs prints it, naming what failed
/// rather than the request (its com_err(str, code, 0) for a path that
/// does not resolve: `/x: File not found by ext2_lookup `). The
/// dispatcher prints it as it is; an empty one prints nothing.
#[derive(Debug)]
pub struct Worded(pub String);

impl std::fmt::Display for Worded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Worded {}

/// How `open` (and the command line) asks for a filesystem.
#[derive(Clone, Debug, Default)]
pub struct OpenRequest {
    pub write: bool,
    pub superblock: Option<u64>,
    pub block_size: Option<u32>,
    pub catastrophic: bool,
    pub force: bool,
    /// Save old contents here before every write (-z, resolved).
    pub undo_file: Option<std::path::PathBuf>,
}

pub struct Session {
    pub fs: Option<Filesystem>,
    pub device: Option<String>,
    pub cwd: u32,
    pub root: u32,
    pub catastrophic: bool,
    pub out: Box<dyn Write>,
}

impl Session {
    pub fn new(out: Box<dyn Write>) -> Self {
        Session {
            fs: None,
            device: None,
            cwd: ROOT_INO,
            root: ROOT_INO,
            catastrophic: false,
            out,
        }
    }

    /// Opens `device`; a mounted filesystem is opened read-only (with a
    /// warning) even when writing was asked for.
    pub fn open(&mut self, device: &str, req: &OpenRequest) -> Result<()> {
        if self.fs.is_some() {
            self.close()?;
        }
        // ext2fs_open takes the superblock as an int: a block number past
        // 32 bits wraps, and one from 2^31 on is negative, whose read
        // unix_io refuses (EINVAL).
        let superblock = req.superblock.map(|b| b as u32 as i32);
        if superblock.is_some_and(|b| b < 0) {
            let einval = std::io::Error::from_raw_os_error(22);
            return Err(Worded(format!(
                "{}: {} while trying to open {device}",
                crate::program(),
                cli_common::errno_text(einval)
            ))
            .into());
        }
        let req = &OpenRequest {
            superblock: superblock.map(|b| b as u64),
            ..req.clone()
        };
        self.judge_superblock_checksum(device, req)?;
        let mut write = req.write;
        if write {
            match mount_state(Path::new(device)) {
                MountState::Mounted { mountpoint, .. } => {
                    eprintln!(
                        "{device} is mounted on {}; opening it read-only",
                        mountpoint.display()
                    );
                    write = false;
                }
                MountState::Busy => {
                    eprintln!("{device} is in use by the system; opening it read-only");
                    write = false;
                }
                MountState::NotMounted => {}
            }
        }
        if write {
            // Writing keeps no group checksums and no uninit_bg state: refuse
            // to write where the library would leave those stale.
            let probe = Filesystem::open(
                Path::new(device),
                &OpenOptions {
                    write: false,
                    superblock: req.superblock,
                    block_size: req.block_size,
                    force: req.force,
                    ignore_sb_errors: req.catastrophic,
                    caller_bounds_group_inodes: req.catastrophic,
                    refuse_known_features_late: true,
                },
            )
            .map_err(|e| self.open_failed(e, device, req))?;
            let unknown = probe.sb().s_feature_ro_compat & !SUPPORTED_RO_COMPAT;
            if unknown != 0 {
                let names = FeatureSet {
                    ro_compat: unknown,
                    ..Default::default()
                }
                .names();
                eprintln!(
                    "{device} has features this tool cannot keep up to date when writing ({}); opening it read-only",
                    names.join(" ")
                );
                write = false;
            }
        }
        let opts = OpenOptions {
            write,
            superblock: req.superblock,
            block_size: req.block_size,
            force: req.force,
            // debugfs -c opens with EXT2_FLAG_IGNORE_SB_ERRORS.
            ignore_sb_errors: req.catastrophic,
            // Our bound on a group's inodes is for its inode bitmap block,
            // which -c never reads: libext2fs' limit alone applies.
            caller_bounds_group_inodes: req.catastrophic,
            refuse_known_features_late: true,
        };
        if let Some(u) = &req.undo_file {
            cli_common::undo::announce(u, Path::new(device));
        }
        let mut fs = Filesystem::open(Path::new(device), &opts)
            .map_err(|e| self.open_failed(e, device, req))?;
        // Inodes are read as ext2fs_read_inode reads them for debugfs,
        // through its cache (what a failed read leaves there shows).
        fs.follow_libext2fs_inode_cache();
        if let Some(u) = &req.undo_file {
            // Undo blocks of the filesystem's block size, as undo_io takes
            // them from debugfs' I/O channel.
            let bs = fs.block_size();
            let log = ext2fs::undo::Undo::open(u, fs.image(), 0, bs, bs).map_err(|e| {
                Worded(format!(
                    "{}: {} while trying to open {device}",
                    crate::program(),
                    cli_common::undo::describe(&e)
                ))
            })?;
            fs.attach_undo(log);
        }
        if req.catastrophic {
            // debugfs -c never reads them, even to write (-w -c): an
            // allocation fails with "... bitmap not loaded".
            fs.withhold_bitmaps();
        } else {
            // debugfs reads the bitmaps when it opens, and stays closed
            // when one of them cannot be read.
            fs.load_bitmaps().map_err(|e| {
                Worded(format!(
                    "{device}: {} while reading allocation bitmaps",
                    e.com_err_text()
                ))
            })?;
            for b in fs.take_refused_marks() {
                eprintln!(
                    "Illegal block number passed to ext2fs_mark_block_bitmap #{b} for block bitmap for {device}"
                );
            }
        }
        // As libext2fs opens for debugfs: the backup superblocks and
        // descriptors are left alone unless `close_filesys -a` asks.
        fs.set_primary_only(true);
        self.fs = Some(fs);
        self.device = Some(device.to_string());
        self.cwd = ROOT_INO;
        self.root = ROOT_INO;
        // debugfs 1.47 opens in catastrophic mode without a word.
        self.catastrophic = req.catastrophic;
        Ok(())
    }

    /// ext2fs_open2 checks a metadata_csum superblock's checksum right
    /// after its magic: debugfs reports a mismatch and opens again
    /// ignoring checksums; an unknown checksum type fails the open.
    fn judge_superblock_checksum(&mut self, device: &str, req: &OpenRequest) -> Result<()> {
        use ext2fs::superblock::{ChecksumState, Superblock};
        let at = match (req.superblock, req.block_size) {
            (None, _) => Some(0),
            (Some(b), Some(bs)) => b
                .checked_mul(u64::from(bs))
                .and_then(|o| o.checked_sub(1024)),
            (Some(_), None) => None,
        };
        let Some(at) = at else {
            return Ok(());
        };
        let Ok(file) = std::fs::File::open(device) else {
            return Ok(());
        };
        match Superblock::probe_checksum(&file, Path::new(device), at) {
            Ok(ChecksumState::Mismatch) => {
                writeln!(self.out, "Checksum errors in superblock!  Retrying...")?;
            }
            Ok(ChecksumState::UnknownType) => {
                return Err(Worded(format!(
                    "{}: Unknown checksum algorithm while trying to open {device}",
                    crate::program()
                ))
                .into());
            }
            _ => {}
        }
        Ok(())
    }

    /// A failed open as debugfs' open_filesystem reports it: the com_err
    /// line on stderr, then, for a bad magic number, the note on standard
    /// output naming another filesystem found on the device.
    fn open_failed(&mut self, e: ext2fs::Error, device: &str, req: &OpenRequest) -> anyhow::Error {
        let text = match &e {
            ext2fs::Error::UnsupportedFeatures(_) => unsupported_features_text(device, req),
            _ => None,
        };
        let line = format!(
            "{}: {} while trying to open {device}",
            crate::program(),
            text.unwrap_or_else(|| e.com_err_text())
        );
        let note = match e {
            ext2fs::Error::BadMagic(_) => cli_common::plausible::existing_filesystem_note(device),
            _ => None,
        };
        let Some(note) = note else {
            return Worded(line).into();
        };
        eprintln!("{line}");
        let _ = self.out.write_all(note.as_bytes());
        let _ = self.out.flush();
        Worded(String::new()).into()
    }

    /// debugfs' check_fs_bitmaps: catastrophic mode read no bitmaps, so
    /// the requests that test or change their bits are refused.
    pub fn bitmaps_loaded(&self) -> Result<()> {
        if self.catastrophic {
            bail!("Filesystem bitmaps not loaded");
        }
        Ok(())
    }

    /// Writes back what changed and closes.
    pub fn close(&mut self) -> Result<()> {
        self.close_with_backups(false)
    }

    /// Closes; with `backups`, the backup superblocks and descriptors are
    /// rewritten too (debugfs' `close_filesys -a`).
    pub fn close_with_backups(&mut self, backups: bool) -> Result<()> {
        let mut fs = self
            .fs
            .take()
            .ok_or_else(|| anyhow!("Filesystem not open"))?;
        if backups {
            fs.set_primary_only(false);
        }
        self.device = None;
        // debugfs' close_filesystem writes the bitmaps its requests
        // dirtied; after -c it never read them, and libext2fs refuses.
        let (blocks, inodes) = fs.withheld_bitmaps_changed();
        if inodes {
            eprintln!("ext2fs_write_inode_bitmap: Invalid argument ");
        }
        if blocks {
            eprintln!("ext2fs_write_block_bitmap: Invalid argument ");
        }
        if fs.is_writable() {
            fs.close()?;
        }
        Ok(())
    }

    pub fn fs(&self) -> Result<&Filesystem> {
        self.fs
            .as_ref()
            .ok_or_else(|| anyhow!("Filesystem not open"))
    }

    pub fn fs_mut(&mut self) -> Result<&mut Filesystem> {
        self.fs
            .as_mut()
            .ok_or_else(|| anyhow!("Filesystem not open"))
    }

    /// The filesystem, which must be open for writing.
    pub fn fs_rw(&mut self) -> Result<&mut Filesystem> {
        let fs = self.fs_mut()?;
        if !fs.is_writable() {
            bail!("Filesystem opened read/only");
        }
        Ok(fs)
    }

    /// An inode named by `<ino>` or by a path (absolute from the session
    /// root, else relative to the current directory), as debugfs'
    /// string_to_inode: `<N>` up to the inode count is taken as is (`<0>`
    /// fails without a word), anything else is looked up as a path.
    pub fn inode_arg(&self, arg: &str) -> Result<u32> {
        let fs = self.fs()?;
        if arg.len() > 2 && arg.starts_with('<') && arg.ends_with('>') {
            if let Some(n) = parse_u64(&arg[1..arg.len() - 1]) {
                if n == 0 {
                    return Err(Worded(String::new()).into());
                }
                if n <= fs.sb().s_inodes_count as u64 {
                    return Ok(n as u32);
                }
            }
        }
        self.lookup_path(arg)
    }

    /// Resolves a path from the session's root or current directory, as
    /// debugfs' string_to_inode does with ext2fs_namei (the library's:
    /// symlinks followed except at the end), the error in com_err's words.
    pub fn lookup_path(&self, path: &str) -> Result<u32> {
        let fs = self.fs()?;
        let said = |what: String| Worded(format!("{path}: {what} "));
        fs.namei_at(self.root, self.cwd, path.as_bytes())
            .map_err(|e| match e {
                ext2fs::Error::NotFound(_) => said("File not found by ext2_lookup".into()),
                // A union entry has no inode: say which one stopped the walk.
                ext2fs::Error::UnionEntryInPath { name, file_type } => {
                    let kind = if file_type == ext2fs::dirent::ft::WHT {
                        "whiteout"
                    } else {
                        "fallthru"
                    };
                    Worded(format!(
                        "{path}: File not found by ext2_lookup (\"{name}\" is a {kind})"
                    ))
                }
                other => said(namei_error_text(&other)),
            })
            .map_err(Into::into)
    }

    /// Splits `path` into its parent directory inode and last name.
    pub fn parent_and_name(&self, path: &str) -> Result<(u32, String)> {
        let trimmed = path.trim_end_matches('/');
        if trimmed.is_empty() {
            bail!("invalid name \"{path}\"");
        }
        match trimmed.rfind('/') {
            Some(i) => {
                let dir = if i == 0 { "/" } else { &trimmed[..i] };
                Ok((self.lookup_path(dir)?, trimmed[i + 1..].to_string()))
            }
            None => Ok((self.cwd, trimmed.to_string())),
        }
    }
}

/// A path lookup's failure in libext2fs' words (ext2fs_namei: a missing
/// name is ext2fs_lookup's EXT2_ET_FILE_NOT_FOUND).
pub fn namei_error_text(e: &ext2fs::Error) -> String {
    match e {
        ext2fs::Error::NotFound(_) => "File not found by ext2_lookup".into(),
        other => other.com_err_text(),
    }
}

/// A number as strtoul(…, 0) reads it: 0x hex, leading 0 octal, decimal.
pub fn parse_u64(s: &str) -> Option<u64> {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else if s.len() > 1 && s.starts_with('0') {
        u64::from_str_radix(&s[1..], 8).ok()
    } else {
        s.parse().ok()
    }
}

/// A numeric argument, with debugfs' error wording.
pub fn num_arg(what: &str, s: &str) -> Result<u64> {
    parse_u64(s).ok_or_else(|| anyhow!("Bad {what} - {s}"))
}

/// A numeric argument that must fit 32 bits.
pub fn num32_arg(what: &str, s: &str) -> Result<u32> {
    let n = num_arg(what, s)?;
    u32::try_from(n).map_err(|_| anyhow!("Bad {what} - {s}"))
}

/// What debugfs says where our library refuses features: libext2fs'
/// own refusal when it does not know them either, else a 64bit
/// superblock's bad descriptor size (judged at open unless -c). None
/// where debugfs opens the filesystem (this tool keeps its own words).
fn unsupported_features_text(device: &str, req: &OpenRequest) -> Option<String> {
    if req.superblock.is_some() {
        return None;
    }
    let f = std::fs::File::open(device).ok()?;
    let sb = ext2fs::superblock::Superblock::probe(&f, Path::new(device), 0).ok()?;
    if sb.s_feature_incompat & !ext2fs::features::LIBEXT2FS_INCOMPAT != 0 {
        return Some("Filesystem has unsupported feature(s)".into());
    }
    (!req.catastrophic && sb.desc_size_refused())
        .then(|| "Block group descriptor size incorrect".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_like_strtoul() {
        assert_eq!(parse_u64("0x10"), Some(16));
        assert_eq!(parse_u64("010"), Some(8));
        assert_eq!(parse_u64("10"), Some(10));
        assert_eq!(parse_u64("0"), Some(0));
        assert_eq!(parse_u64("x"), None);
    }
}
