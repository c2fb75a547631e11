//! mke2fs-union: make an ext2 filesystem like `mke2fs -t ext2`, with the
//! union-mount `whiteout` feature and `-d` population.

mod badblocks;
mod options;
mod populate;
mod profile;
mod progress;
mod sector;
mod source;
mod tarball;
mod undo;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{ArgAction, Parser};
use ext2fs::features::{compat, incompat, FeatureSet};
use ext2fs::image::Image;
use ext2fs::mkfs::{self, Params, Writer};
use ext2fs::superblock::{self as sbm, Superblock};
use ext2fs::uuid;

#[derive(Parser, Debug)]
#[command(
    name = "mke2fs-union",
    about = "Create an ext2 filesystem, optionally with union-mount whiteouts",
    long_about = "Create an ext2 filesystem like `mke2fs -t ext2`, with the same options and \
                  defaults (from /etc/mke2fs.conf), plus the union-mount feature `-O whiteout` \
                  and `-d` to fill it from directories or tar archives, overlayfs upper directories or OCI layers.",
    disable_version_flag = true,
    // As with mke2fs' getopt loop, a repeated option's last value wins.
    args_override_self = true
)]
pub struct Cli {
    /// Block size in bytes (1024, 2048, 4096, ... 65536)
    #[arg(short = 'b', value_name = "block-size", allow_hyphen_values = true)]
    pub block_size: Option<String>,
    /// Copy a directory or a tar archive (plain, gzip, xz, zstd; `-` for
    /// standard input) into the new filesystem's root (repeat for layers,
    /// lowest first)
    #[arg(short = 'd', value_name = "root-directory|tar-archive|-")]
    pub root_dirs: Vec<PathBuf>,
    /// Write with direct I/O: drop the written data from the page cache
    #[arg(short = 'D')]
    pub direct_io: bool,
    /// Force: do not ask before overwriting an existing filesystem
    #[arg(short = 'F', action = ArgAction::Count)]
    pub force: u8,
    /// Blocks per group (multiple of 8, at most 8 x block size)
    #[arg(short = 'g', value_name = "blocks-per-group")]
    pub blocks_per_group: Option<u32>,
    /// Groups per flex_bg (a power of 2): checked as mke2fs checks it;
    /// since ext2 has no flex_bg, always refused in the end
    #[arg(
        short = 'G',
        value_name = "flex-group-size",
        allow_hyphen_values = true
    )]
    pub flex_bg_size: Option<String>,
    /// Read the bad blocks list from this file (one block number a line)
    /// and keep those blocks out of use, in the bad blocks inode
    #[arg(short = 'l', value_name = "filename")]
    pub bad_blocks_file: Option<PathBuf>,
    /// Bytes per inode (inode ratio)
    #[arg(short = 'i', value_name = "bytes-per-inode")]
    pub bytes_per_inode: Option<String>,
    /// Inode size in bytes (128, 256, ...)
    #[arg(short = 'I', value_name = "inode-size")]
    pub inode_size: Option<u16>,
    /// Create a journal (refused: this tool makes ext2)
    #[arg(short = 'j')]
    pub journal: bool,
    /// Journal options (refused: this tool makes ext2)
    #[arg(short = 'J', value_name = "journal-options")]
    pub journal_opts: Option<String>,
    /// Volume label (up to 16 bytes; the last -L wins)
    #[arg(short = 'L', value_name = "volume-label", action = ArgAction::Append)]
    pub label: Vec<String>,
    /// Percentage of blocks reserved for the super-user (default 5)
    #[arg(short = 'm', value_name = "reserved-percent")]
    pub reserved_percent: Option<f64>,
    /// Last-mounted directory recorded in the superblock
    #[arg(short = 'M', value_name = "last-mounted-dir")]
    pub last_mounted: Option<String>,
    /// Number of inodes (overrides the inode ratio)
    #[arg(short = 'N', value_name = "number-of-inodes")]
    pub inodes: Option<u64>,
    /// Do not create anything; show what would be done
    #[arg(short = 'n')]
    pub dry_run: bool,
    /// Creator OS recorded in the superblock (Linux, Hurd, ...; the last
    /// -o wins)
    #[arg(short = 'o', value_name = "creator-os")]
    pub creator_os: Vec<String>,
    /// What the kernel does on errors: continue, remount-ro or panic
    #[arg(short = 'e', value_name = "errors-behavior")]
    pub errors: Option<String>,
    /// Features to set or clear (e.g. whiteout, ^resize_inode)
    #[arg(short = 'O', value_name = "feature[,...]")]
    pub features: Vec<String>,
    /// Quiet: print nothing but errors
    #[arg(short = 'q')]
    pub quiet: bool,
    /// Filesystem revision (0 or 1)
    #[arg(short = 'r', value_name = "fs-revision")]
    pub revision: Option<u32>,
    /// Write only the superblocks and group descriptors
    #[arg(short = 'S')]
    pub super_only: bool,
    /// Filesystem type (only ext2 is made)
    #[arg(short = 't', value_name = "fs-type", action = ArgAction::Append)]
    pub fs_type: Vec<String>,
    /// Usage type(s) from mke2fs.conf (small, floppy, big, huge, news, ...)
    #[arg(short = 'T', value_name = "usage-type", action = ArgAction::Append)]
    pub usage_types: Vec<String>,
    /// UUID: a UUID, clear, random or time
    #[arg(short = 'U', value_name = "UUID")]
    pub uuid: Option<String>,
    /// Verbose output
    #[arg(short = 'v')]
    pub verbose: bool,
    /// Extended options (comma-separated; the last -E wins): stride=,
    /// stripe_width=, resize=, root_owner[=uid:gid], hash_seed=, discard,
    /// nodiscard, offset=, union_source=overlay|oci|plain
    #[arg(short = 'E', value_name = "extended-options")]
    pub extended: Vec<String>,
    /// Print the version and exit
    #[arg(short = 'V', long = "version")]
    pub version: bool,
    /// Save the old contents of every block this run overwrites in this
    /// file, for e2undo (an empty name: one in the undo directory)
    #[arg(short = 'z', value_name = "undo_file")]
    pub undo_file: Option<std::ffi::OsString>,
    /// The device or image file
    pub device: Option<PathBuf>,
    /// Filesystem size (blocks, or with a k/m/g/t suffix)
    pub size: Option<String>,
}

/// The undo file once mke2fs would have it open: a run that fails from
/// then on ends, as mke2fs' undo_io exit handler does, by saying the undo
/// file was force-closed.
static UNDO_OPEN: std::sync::Mutex<Option<PathBuf>> = std::sync::Mutex::new(None);

fn main() -> ExitCode {
    // mke2fs reads its profile before it looks at its options: a syntax
    // error there stops it first.
    let profile = match profile::Profile::load() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    let (cli, positions): (Cli, _) = match cli_common::parse_args_positioned(1) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if cli.version {
        cli_common::outln!("{}", cli_common::version_line("mke2fs-union"));
        cli_common::outln!(
            "\tUsing the ext2fs library of union-e2fsprogs {}",
            cli_common::VERSION
        );
        return ExitCode::SUCCESS;
    }
    match run(&cli, &positions, &profile) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(u) = e.downcast_ref::<UsageError>() {
                // mke2fs' com_err line, then its usage text.
                eprintln!("{}: {}", prog_name(), u.0);
                eprint!("{}", usage_text());
            } else if let Some(p) = e.downcast_ref::<Plain>() {
                if !p.0.is_empty() {
                    eprintln!("{p}");
                }
            } else {
                eprintln!("{}: {}", prog_name(), cli_common::error_chain(&e));
            }
            if let Some(u) = UNDO_OPEN.lock().unwrap_or_else(|e| e.into_inner()).take() {
                eprintln!("{}: while force-closing undo file", u.display());
            }
            ExitCode::from(1)
        }
    }
}

/// An error printed in mke2fs' own words, without our program name.
#[derive(Debug)]
struct Plain(String);

impl std::fmt::Display for Plain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Plain {}

fn refusal(device: &Path, why: &str) -> anyhow::Error {
    Plain(format!(
        "{} {why}; will not make a filesystem here!",
        device.display()
    ))
    .into()
}

/// Like mke2fs' check_mount: a mounted target (found by identity, so also
/// through a hard link or another name of its loop device) or one held
/// open exclusively is refused, whatever -F says.
fn check_mount(device: &Path) -> Result<()> {
    match ext2fs::image::mount_state(device) {
        ext2fs::image::MountState::NotMounted => Ok(()),
        ext2fs::image::MountState::Mounted { .. } => Err(refusal(device, "is mounted")),
        ext2fs::image::MountState::Busy => {
            Err(refusal(device, "is apparently in use by the system"))
        }
    }
}

/// -o or creator_os as mke2fs' set_os takes it: a number, or linux, hurd
/// (or GNU), freebsd, lites in any case.
fn os_from_arg(s: &str) -> Option<u32> {
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        return Some(sector::atoi(s) as u32);
    }
    match s.to_ascii_lowercase().as_str() {
        "linux" => Some(sbm::OS_LINUX),
        "gnu" | "hurd" => Some(sbm::OS_HURD),
        "freebsd" => Some(sbm::OS_FREEBSD),
        "lites" => Some(sbm::OS_LITES),
        _ => None,
    }
}

/// mke2fs' usage text, listing the options this tool has.
fn usage_text() -> String {
    format!(
        "Usage: {} [-l filename] [-b block-size] [-i bytes-per-inode] [-I inode-size]\n\
         \t[-G flex-group-size] [-N number-of-inodes] [-d root-directory|tar-archive]\n\
         \t[-m reserved-blocks-percentage] [-o creator-os]\n\
         \t[-g blocks-per-group] [-L volume-label] [-M last-mounted-directory]\n\
         \t[-O feature[,...]] [-r fs-revision] [-E extended-option[,...]]\n\
         \t[-t fs-type] [-T usage-type ] [-U UUID] [-e errors_behavior][-z undo_file]\n\
         \t[-jnqvDFSV] device [blocks-count]\n",
        prog_name()
    )
}

/// A bad argument mke2fs answers with its usage text (exit 1).
#[derive(Debug)]
struct UsageError(String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The name messages start with: the one we were called by, as mke2fs
/// takes it from argv[0] (`mkfs.ext2-union` through the link).
fn prog_name() -> String {
    std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "mke2fs-union".into())
}

/// An error behaviour name (-e, or `errors` in mke2fs.conf).
fn errors_from_name(name: &str) -> Option<u16> {
    match name {
        "continue" => Some(sbm::ERRORS_CONTINUE),
        "remount-ro" => Some(sbm::ERRORS_RO),
        "panic" => Some(sbm::ERRORS_PANIC),
        _ => None,
    }
}

/// The creation time: E2FSPROGS_FAKE_TIME (as e2fsprogs' library reads
/// it: strtoul base 0), SOURCE_DATE_EPOCH (reproducible builds) or now.
fn now() -> Result<u32> {
    if let Some(t) = ext2fs::clock::fake_time() {
        return Ok(t);
    }
    if let Ok(v) = std::env::var("SOURCE_DATE_EPOCH") {
        return v
            .trim()
            .parse::<u32>()
            .with_context(|| format!("SOURCE_DATE_EPOCH={v} is not a number of seconds"));
    }
    Ok(ext2fs::clock::now())
}

/// -G as mke2fs reads it (strtoul, the whole argument a number): the
/// flex_bg size, or mke2fs' refusal.
fn flex_bg_size(arg: &str) -> Result<u64> {
    let Some(v) = options::whole_number(arg) else {
        bail!("Illegal number for flex_bg size");
    };
    if v < 1 || !v.is_power_of_two() {
        bail!("flex_bg size must be a power of 2");
    }
    if v > u64::from(u32::MAX) {
        bail!("flex_bg size ({v}) must be less than or equal to 2^31");
    }
    Ok(v)
}

fn run(cli: &Cli, positions: &cli_common::Positions, profile: &profile::Profile) -> Result<()> {
    // mke2fs checks -G's number and warns of each long -L as its getopt
    // loop reads them: a warning given before a bad -G is still seen.
    let flex_bg_at = positions.of("flex_bg_size").first().copied();
    let mut flex_bg = None;
    for (l, at) in cli.label.iter().zip(positions.of("label")) {
        if flex_bg_at.is_some_and(|g| g < *at) && flex_bg.is_none() {
            flex_bg = cli.flex_bg_size.as_deref().map(flex_bg_size).transpose()?;
        }
        if l.len() > 16 {
            eprint!(
                "Warning: label too long; will be truncated to '{}'\n\n",
                String::from_utf8_lossy(&l.as_bytes()[..16])
            );
        }
    }
    if flex_bg.is_none() {
        flex_bg = cli.flex_bg_size.as_deref().map(flex_bg_size).transpose()?;
    }
    for (opt, given) in [('t', &cli.fs_type), ('T', &cli.usage_types)] {
        if given.len() > 1 {
            bail!("The -{opt} option may only be used once");
        }
    }
    let errors_opt = match cli.errors.as_deref() {
        None => None,
        Some(v) => Some(
            errors_from_name(v).ok_or_else(|| UsageError(format!("bad error behavior - {v}")))?,
        ),
    };
    if cli.journal || cli.journal_opts.is_some() {
        bail!("journals are ext3/ext4 features; mke2fs-union makes ext2 filesystems (drop -j/-J)");
    }
    let Some(device) = cli.device.as_deref() else {
        bail!("no device or image file given\nUsage: mke2fs-union [options] device [fs-size] (see --help)");
    };
    let fs_type = cli.fs_type.first().map_or("ext2", String::as_str);
    if fs_type != "ext2" {
        bail!(
            "filesystem type '{fs_type}' is not supported: mke2fs-union makes ext2 filesystems \
             (use mke2fs -t {fs_type} for that)"
        );
    }

    // Block size and size come first: the usage type depends on the size.
    // As mke2fs' -b: parse_num_blocks2 in bytes, kept in an int; its
    // magnitude from 1024 to 65536. A positive size is rounded down to a
    // power of two; a negative one is a minimum for the profile's.
    let asked_bs: Option<i32> = match &cli.block_size {
        None => None,
        Some(s) => {
            let v = cli_common::parse_num_blocks2(s, -1) as u32 as i32;
            if !(1024..=65536).contains(&i64::from(v).abs()) {
                bail!("invalid block size - {s}");
            }
            if v > 4096 {
                eprintln!("Warning: blocksize {v} not usable on most systems.");
            }
            Some(v)
        }
    };
    let explicit_bs: Option<u32> = asked_bs
        .filter(|&v| v > 0)
        .map(|v| 1024u32 << (v as u32 >> 10).ilog2());
    let min_bs: u32 = asked_bs.filter(|&v| v < 0).map_or(0, |v| v.unsigned_abs());
    let exists = device.exists();
    if !exists && !cli.dry_run {
        // As mke2fs: a missing file is created at once (announced even
        // with -q), and only when a size says how big to make it.
        if cli.size.is_none() {
            bail!(Plain(format!(
                "The file {} does not exist and no size was specified.",
                device.display()
            )));
        }
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(device)
            .with_context(|| format!("Could not open {}", device.display()))?;
        cli_common::outln!("Creating regular file {}", device.display());
    }
    // The whole device or file: -E offset comes off it below, as in mke2fs.
    let dev_bytes = if exists {
        let img = Image::open_read_only(device).with_context(|| {
            format!(
                "while trying to determine filesystem size of {}",
                device.display()
            )
        })?;
        img.len()
    } else {
        0
    };
    let is_file = std::fs::metadata(device).is_ok_and(|m| m.is_file());
    let size_bytes = match &cli.size {
        Some(s) => cli_common::parse_size(s, Some(explicit_bs.unwrap_or(1024) as u64))
            .map_err(anyhow::Error::msg)?,
        None if dev_bytes > 0 => dev_bytes,
        None => bail!(
            "Device size reported to be zero.  Invalid partition specified, or\n\t\
             partition table wasn't reread after running fdisk, due to\n\t\
             a modified partition being busy and in use.  You may need to reboot\n\t\
             to re-read your partition table.\n"
        ),
    };
    // parse_fs_type: ext2, then each usage type mke2fs.conf defines (a
    // warning for the others, but "default"), then hurd for the Hurd.
    let mut types = vec!["ext2".to_string()];
    let usage = cli
        .usage_types
        .first()
        .cloned()
        .unwrap_or_else(|| profile::size_type(size_bytes).to_string());
    for t in usage.split(',').filter(|t| !t.is_empty()) {
        if profile.fs_types.contains_key(t) {
            types.push(t.to_string());
        } else if t != "default" {
            eprint!("\nWarning: the fs_type {t} is not defined in mke2fs.conf\n\n");
        }
    }
    // The last -o wins, else [defaults] creator_os.
    let creator_os = match cli
        .creator_os
        .last()
        .cloned()
        .or_else(|| profile.defaults.get("creator_os").cloned())
    {
        None => sbm::OS_LINUX,
        Some(s) => os_from_arg(&s).with_context(|| format!("unknown os - {s}"))?,
    };
    if creator_os == sbm::OS_HURD && !types.iter().any(|t| t == "hurd") {
        types.push("hurd".into());
    }
    let sectors = sector::sizes(device)?;
    let bs = match explicit_bs {
        Some(b) => {
            if b < sectors.logical {
                bail!("Invalid argument while setting blocksize; too small for device\n");
            }
            if b < sectors.physical && sectors.physical <= sector::PAGE_SIZE {
                eprintln!(
                    "Warning: specified blocksize {b} is less than device physical sectorsize {}",
                    sectors.physical
                );
            }
            b
        }
        None => {
            let v = profile.get_int(&types, "blocksize", 4096);
            // -1 (largefile types): the page size.
            let v = if v == -1 {
                sector::PAGE_SIZE
            } else {
                v.max(0) as u32
            };
            let v = v.max(sectors.logical).max(min_bs);
            if !(1024..=65536).contains(&v) || !v.is_power_of_two() {
                bail!("invalid block size - {v}");
            }
            v
        }
    };
    if bs > sector::PAGE_SIZE {
        if cli.force == 0 {
            eprintln!(
                "{}: {bs}-byte blocks too big for system (max {})",
                prog_name(),
                sector::PAGE_SIZE
            );
            proceed_question()?;
        }
        eprintln!(
            "Warning: {bs}-byte blocks too big for system (max {}), forced to continue",
            sector::PAGE_SIZE
        );
    }
    let mut blocks = size_bytes / bs as u64;
    if cli.size.is_none() && bs < 4096 {
        // mke2fs rounds an auto-detected size down to the page size.
        blocks &= !((4096 / bs as u64) - 1);
    }
    if cli.verbose {
        // Printed as soon as the types are known, even with -q.
        let q: Vec<String> = types.iter().map(|t| format!("'{t}'")).collect();
        cli_common::outln!("fs_types for mke2fs.conf resolution: {}", q.join(", "));
    }

    // Features: base_features, then each type's, then -O, then checks.
    let rev = cli.revision.unwrap_or(1);
    if rev > 1 {
        bail!("bad revision level - {rev}");
    }
    let mut features = FeatureSet::default();
    if rev >= 1 {
        let base = profile
            .get(&types, "base_features")
            .unwrap_or_else(|| "sparse_super,large_file,filetype,resize_inode,dir_index".into());
        features.apply_edit(&base).map_err(anyhow::Error::msg)?;
        for f in profile.type_features(&types) {
            features.apply_edit(&f).map_err(anyhow::Error::msg)?;
        }
        // default_features only when no -O was given.
        if let Some(d) = profile
            .get(&types, "default_features")
            .filter(|_| cli.features.is_empty())
        {
            features.apply_edit(&d).map_err(anyhow::Error::msg)?;
        }
    }
    let mut asked_filetype_off = false;
    for f in &cli.features {
        let mut probe = FeatureSet::default();
        probe.apply_edit(f).map_err(|e| anyhow::anyhow!("{e}"))?;
        for item in f.split(',') {
            let name = item.trim_start_matches(['^', '-']);
            if item.starts_with(['^', '-']) && name.eq_ignore_ascii_case("filetype") {
                asked_filetype_off = true;
            }
        }
        features.apply_edit(f).map_err(anyhow::Error::msg)?;
    }
    // As mke2fs: -O edits are taken on revision 0 too (from no features),
    // and only features left set are refused.
    if rev == 0 && features != FeatureSet::default() {
        bail!(Plain(
            "Filesystem features not supported with revision 0 filesystems".into()
        ));
    }
    // -E comes after the features, as in mke2fs (its warnings and errors
    // follow the usage type's); the last -E wins.
    let ext =
        options::Extended::parse(cli.extended.last().map(std::slice::from_ref).unwrap_or(&[]))
            .map_err(Plain)?;
    if cli.size.is_none() && ext.offset > 0 {
        blocks = blocks.saturating_sub(ext.offset / bs as u64);
        eprint!(
            "\nWarning: offset specified without an explicit file system size.\n\
             Creating a file system with {blocks} blocks but this might\n\
             not be what you want.\n\n"
        );
    }
    if features.incompat & incompat::META_BG != 0 && features.compat & compat::RESIZE_INODE != 0 {
        bail!(Plain(
            "The resize_inode and meta_bg features are not compatible.\n\
             They can not be both enabled simultaneously."
                .into()
        ));
    }
    if features.compat & compat::RESIZE_INODE != 0
        && features.ro_compat & ext2fs::features::ro_compat::SPARSE_SUPER == 0
    {
        bail!("reserved online resize blocks not supported on non-sparse filesystem");
    }
    // -G needs flex_bg (which ext2 does not have: refused below).
    if flex_bg.is_some() && features.incompat & incompat::FLEX_BG == 0 {
        bail!("Flex_bg feature not enabled, so flex_bg size may not be specified");
    }
    // Our refusal of features we cannot make waits for the end of
    // mke2fs' own option checks, so that those read as mke2fs words them.
    let bad = mkfs::ext4_only(&features);
    let ext4_refusal = (!bad.is_empty()).then(|| {
        format!(
            "{} cannot be used: mke2fs-union makes ext2 filesystems, and these are ext3/ext4 features",
            bad.join(", ")
        )
    });
    if features.incompat & incompat::WHITEOUT != 0 {
        if asked_filetype_off {
            bail!("the whiteout feature needs filetype; -O whiteout,^filetype is not possible");
        }
        features.incompat |= incompat::FILETYPE;
    }

    // mke2fs warns (even with -q) about the size it was asked for, on any
    // revision, unless the usage type (hurd) turns it off.
    let asked_isize = match cli.inode_size {
        Some(s) => s as i64,
        None => profile.get_int(&types, "inode_size", 0),
    };
    // Revision 0 tables hold 128-byte inodes, but the size check weighs
    // what was asked (128 when nothing was), as mke2fs's does.
    let inode_size = if rev == 0 {
        if asked_isize > 0 {
            u16::try_from(asked_isize).unwrap_or(u16::MAX)
        } else {
            128
        }
    } else if asked_isize == 0 {
        // Nothing asked: ext2fs_initialize's default.
        128
    } else {
        u16::try_from(asked_isize).unwrap_or(u16::MAX)
    };
    if asked_isize == 128 && profile.get_bool(&types, "warn_y2038_dates", true) {
        cli_common::outln!("128-byte inodes cannot handle dates beyond 2038 and are deprecated");
    }
    // What -I or mke2fs.conf asked for, checked on revision 1 only.
    let i = asked_isize;
    if rev >= 1 && i != 0 && (i < 128 || i > bs as i64 || i & (i - 1) != 0) {
        bail!("invalid inode size {i} (min 128/max {bs})");
    }
    let inode_ratio = match &cli.bytes_per_inode {
        Some(s) => {
            let v = cli_common::parse_size(s, Some(1)).map_err(anyhow::Error::msg)?;
            if !(1024..=(1 << 26)).contains(&v) {
                bail!("invalid inode ratio {s} (min 1024/max 67108864)");
            }
            v
        }
        // The profile's ratio, at least one inode per block.
        None => profile.get_int(&types, "inode_ratio", 8192).max(bs as i64) as u64,
    };
    let reserved_ratio = match cli.reserved_percent {
        Some(r) => {
            if !(0.0..=50.0).contains(&r) {
                bail!("invalid reserved blocks percent - {r}");
            }
            r
        }
        None => {
            let r = profile.get_double(&types, "reserved_ratio", 5.0);
            if !(0.0..=50.0).contains(&r) {
                // mke2fs prints the profile's value with %lf.
                bail!("invalid reserved blocks percent - {r:.6}");
            }
            r
        }
    };
    let now = now()?;
    let uuid = match cli.uuid.as_deref() {
        None => uuid::random_v4(),
        Some(s) => uuid::from_arg(s, now as u64)
            .ok_or_else(|| Plain(format!("{}: could not parse UUID: {s}\n", device.display())))?,
    };
    let hash_seed = uuid::seed_words(&ext.hash_seed.unwrap_or_else(uuid::random_v4));
    let hash_alg = profile
        .get(&types, "hash_alg")
        .unwrap_or_else(|| "half_md4".into());
    let def_hash_version = sbm::hash_version_from_name(&hash_alg)
        .filter(|v| *v <= 2)
        .with_context(|| format!("mke2fs.conf: invalid hash_alg {hash_alg}"))?;
    if creator_os == sbm::OS_HURD && features.incompat & incompat::FILETYPE != 0 {
        features.incompat &= !incompat::FILETYPE;
        if features.incompat & incompat::WHITEOUT != 0 {
            bail!("the Hurd does not support the filetype feature, which whiteout needs");
        }
    }
    let periodic = profile.get_bool(&types, "enable_periodic_fsck", false);
    // Discard (a hole punched in a file) only what already had a size;
    // the inode tables then read back as zeroes, and mke2fs marks them
    // zeroed, as it does when lazy_itable_init is off.
    let lazy_itable_init = ext
        .lazy_itable_init
        .unwrap_or_else(|| profile.get_bool(&types, "lazy_itable_init", true));
    let csum = features.ro_compat
        & (ext2fs::features::ro_compat::GDT_CSUM | ext2fs::features::ro_compat::METADATA_CSUM)
        != 0;
    let undo_path = undo::path(
        cli.undo_file.as_deref().map(Path::new),
        profile,
        &types,
        csum && lazy_itable_init,
        device,
    )?;
    let discard = ext
        .discard
        .unwrap_or_else(|| profile.get_bool(&types, "discard", true));
    // A discard cannot be undone: none with an undo file, as mke2fs.
    let discards = discard && is_file && dev_bytes > 0 && undo_path.is_none();
    let mut mntopts = 0u32;
    let m = profile
        .get(&types, "default_mntopts")
        .unwrap_or_else(|| "acl,user_xattr".into());
    if ext2fs::mntopts::apply_edit(&mut mntopts, &m).is_err() {
        bail!(Plain(format!("Invalid mount option set: {m}")));
    }
    let mut errors = sbm::ERRORS_CONTINUE;
    if let Some(v) = profile.get(&types, "errors") {
        errors = errors_from_name(&v)
            .ok_or_else(|| UsageError(format!("bad error behavior in profile - {v}")))?;
    }
    let errors = errors_opt.unwrap_or(errors);
    let params = Params {
        block_size: bs,
        blocks_count: blocks,
        blocks_per_group: cli.blocks_per_group,
        inodes_count: cli.inodes,
        inode_ratio,
        inode_size,
        reserved_ratio,
        rev_level: rev,
        features: if rev == 0 {
            FeatureSet::default()
        } else {
            features
        },
        label: cli.label.last().cloned().unwrap_or_default(),
        last_mounted: cli.last_mounted.clone().unwrap_or_default(),
        uuid,
        hash_seed,
        def_hash_version,
        creator_os,
        errors,
        default_mount_opts: if rev == 0 { 0 } else { mntopts },
        // mke2fs' jitter: the UUID's byte sum spreads the mount counts.
        max_mnt_count: if periodic {
            20 + (uuid.iter().map(|&b| b as u32).sum::<u32>() % 20) as i16
        } else {
            -1
        },
        check_interval: if periodic { 180 * 86400 } else { 0 },
        root_uid: ext.root_owner.map(|o| o.0).unwrap_or(0),
        root_gid: ext.root_owner.map(|o| o.1).unwrap_or(0),
        stride: ext.stride,
        stripe_width: ext.stripe_width,
        now,
        resize_blocks: ext.resize,
        // sparse_super2's backups: the first group after 0 and the last.
        backup_bgs: {
            let n = ext
                .num_backup_sb
                .map_or_else(|| profile.get_int(&types, "num_backup_sb", 2), i64::from);
            [
                if n >= 1 { 1 } else { 0 },
                if n >= 2 { u32::MAX } else { 0 },
            ]
        },
        // mke2fs' debugging aid, read only for a meta_bg asked for.
        first_meta_bg: match std::env::var("MKE2FS_FIRST_META_BG") {
            Ok(v) if features.incompat & incompat::META_BG != 0 => sector::atoi(&v) as u32,
            _ => 0,
        },
        // (-S writes no inode tables, so it marks none.)
        inode_tables_zeroed: (!lazy_itable_init || discards) && !cli.super_only,
        super_only: cli.super_only,
    };
    let root_owner = (params.root_uid, params.root_gid);
    let planned = mkfs::plan(&params);
    // mke2fs' last option check is the inode tables' size; what
    // ext2fs_initialize refuses comes after it, and after our refusal.
    if let Some(r) = ext4_refusal {
        if !matches!(planned, Err(ext2fs::Error::InodeTablesTooBig { .. })) {
            bail!(r);
        }
    }
    let plan = match planned {
        Ok(p) => p,
        // ext2fs_initialize's own failures, worded as mke2fs reports them:
        // mke2fs has set up its undo file (and said so) just before.
        Err(e @ (ext2fs::Error::TooManyInodes | ext2fs::Error::TooSmall)) => {
            if let Some(u) = &undo_path {
                cli_common::undo::announce(u, device);
            }
            bail!(Plain(format!(
                "{}: {e} while setting up superblock",
                device.display()
            )))
        }
        Err(e) => bail!("{e}"),
    };
    let say = |s: &str| {
        if !cli.quiet {
            cli_common::outln!("{s}");
        }
    };
    if cli.dry_run {
        if let Some(u) = &undo_path {
            cli_common::undo::announce(u, device);
        }
        print_summary(&plan.sb, cli.verbose, blocks, root_owner, &|s: &str| {
            cli_common::outln!("{s}")
        });
        return Ok(());
    }

    // Open the target: never a mounted filesystem.
    if exists && cli.force == 0 {
        check_existing(device, ext.offset)?;
    }
    check_mount(device)?;
    if let Some(u) = &undo_path {
        cli_common::undo::announce(u, device);
    }
    let mut image = Image::create(device).map_err(|e| match e {
        // Mounted in the moment since check_mount: the same refusal.
        ext2fs::Error::Mounted { .. } => refusal(device, "is mounted"),
        ext2fs::Error::InUse(_) => refusal(device, "is apparently in use by the system"),
        e => anyhow::anyhow!("{e}"),
    })?;
    if let Some(u) = &undo_path {
        let log = undo::open(u, &image, ext.offset, bs).map_err(|e| {
            Plain(format!(
                "{}: {} while setting up superblock",
                device.display(),
                cli_common::undo::describe(&e)
            ))
        })?;
        image.attach_undo(log);
        *UNDO_OPEN.lock().unwrap_or_else(|e| e.into_inner()) = Some(u.clone());
    }
    let undo_log = image.undo().cloned();
    let total = ext.offset + plan.sb.s_blocks_count as u64 * bs as u64;
    // What is already zero: a file's range past its old end, or all of it
    // once discarded (mke2fs discards, by punching a hole, only what it
    // found with a size; a hole reads back as zeroes).
    let mut known_zero = is_file && dev_bytes == 0;
    if is_file {
        if image.len() < total {
            image.set_len(total).map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        if discards {
            let mut p = progress::Progress::start(
                cli.quiet,
                "Discarding device blocks: ",
                plan.sb.s_blocks_count as u64,
            );
            p.update(0);
            punch_hole(&image, ext.offset, total - ext.offset)?;
            p.finish("done                            \n");
            known_zero = true;
        }
    }
    print_summary(&plan.sb, cli.verbose, blocks, root_owner, &say);
    let groups = plan.geo.group_count as u64;
    let mut plan = plan;
    if let Some(list) = &cli.bad_blocks_file {
        let taken = badblocks::read_list(list).and_then(|listed| {
            let bad = badblocks::check(
                &plan.sb,
                plan.geo.desc_blocks,
                plan.geo.group_count,
                &listed,
            )?;
            plan.set_bad_blocks(&bad).map_err(|e| {
                // ext2fs_allocate_tables fails once its progress is shown.
                progress::Progress::start(cli.quiet, "Allocating group tables: ", groups).update(0);
                anyhow::anyhow!(
                    "{} while trying to allocate filesystem tables",
                    e.com_err_text()
                )
            })
        });
        if let Err(e) = taken {
            // mke2fs has only wiped the old superblock's sectors (2 to 7)
            // by then: the file as long as that needs, no longer.
            if is_file && image.len() > dev_bytes.max(ext.offset + 4096) {
                image
                    .set_len(dev_bytes.max(ext.offset + 4096))
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            image.write_at(ext.offset + 1024, &[0u8; 3072])?;
            return Err(e);
        }
    }
    let blocks_made = plan.sb.s_blocks_count as u64;
    let mut p = progress::Progress::start(cli.quiet, "Allocating group tables: ", groups);
    p.update(0);
    let mut w = Writer::new(&image, ext.offset, plan, &params);
    // So few inodes that all are reserved: mke2fs gets as far as the
    // inode tables, then fails to make lost+found (and writes no
    // superblock); the library refuses to lay such a filesystem out.
    let no_lpf_inode = !cli.super_only && w.plan().sb.s_inodes_count < w.plan().sb.first_ino();
    if !no_lpf_inode {
        w.build().map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    p.finish("done                            \n");
    if cli.super_only {
        // Printed even with -q, as mke2fs does.
        cli_common::outln!(
            "{} may be further corrupted by superblock rewrite",
            device.display()
        );
    }
    if !known_zero {
        wipe_old_metadata(&image, ext.offset, bs, blocks_made, cli.super_only)?;
    }
    if !cli.super_only {
        let mut p = progress::Progress::start(cli.quiet, "Writing inode tables: ", groups);
        if !known_zero {
            // Old data stays on a device: the inode tables must be zeroed.
            zero_inode_tables(&image, ext.offset, bs, &w.inode_table_ranges(), &mut p)?;
        } else {
            p.update(0);
        }
        p.finish("done                            \n");
    }
    if no_lpf_inode {
        bail!(Plain(
            "ext2fs_mkdir: Could not allocate inode in ext2 filesystem while creating /lost+found"
                .into()
        ));
    }
    w.write(cli.super_only)
        .map_err(|e| anyhow::anyhow!("while writing the filesystem: {e}"))?;
    image.sync().map_err(|e| anyhow::anyhow!("{e}"))?;
    drop(image);

    if !cli.root_dirs.is_empty() && !cli.super_only {
        if !cli.quiet {
            cli_common::out!("Copying files into the device: ");
        }
        let clamp = std::env::var("SOURCE_DATE_EPOCH").is_ok().then_some(now);
        let mut image = Image::open_read_write(device)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("while populating the filesystem")?
            .with_offset(ext.offset);
        if let Some(u) = undo_log {
            image.attach_undo(u);
        }
        populate::populate(
            image,
            &cli.root_dirs,
            ext.union_source,
            cli.quiet,
            clamp,
            now,
        )
        .context("while populating the filesystem")?;
        if !cli.quiet {
            cli_common::outln!("done");
        }
    }
    if cli.direct_io {
        drop_cache(device)?;
    }
    if !cli.quiet {
        cli_common::out!("Writing superblocks and filesystem accounting information: ");
        let mut p = progress::Progress::start(false, "", groups);
        p.update(0);
        p.finish("done\n\n");
        if periodic && std::env::var_os("MKE2FS_SKIP_CHECK_MSG").is_none() {
            // print_check_message: the days as %g (180 prints "180").
            cli_common::outln!(
                "This filesystem will be automatically checked every {} mounts or\n\
                 {} days, whichever comes first.  Use tune2fs -c or -i to override.",
                params.max_mnt_count.max(0),
                params.check_interval / 86400
            );
        }
    }
    Ok(())
}

/// mke2fs' show_stats: the summary before anything is written.
/// `requested` is the block count asked for (the last group may have been
/// dropped), `root_owner` what -E root_owner set.
fn print_summary(
    sb: &Superblock,
    verbose: bool,
    requested: u64,
    root_owner: (u32, u32),
    say: &dyn Fn(&str),
) {
    let bs = sb.block_size();
    let groups = sb.group_count();
    if !verbose {
        say(&format!(
            "Creating filesystem with {} {}k blocks and {} inodes",
            sb.s_blocks_count,
            bs >> 10,
            sb.s_inodes_count
        ));
    } else {
        if requested != sb.s_blocks_count as u64 {
            eprint!(
                "warning: {} blocks unused.\n\n",
                requested - sb.s_blocks_count as u64
            );
        }
        say(&format!("Filesystem label={}", sb.label()));
        say(&format!("OS type: {}", sbm::os_name(sb.s_creator_os)));
        say(&format!("Block size={bs} (log={})", sb.s_log_block_size));
        say(&format!(
            "Fragment size={bs} (log={})",
            sb.s_log_cluster_size
        ));
        say(&format!(
            "Stride={} blocks, Stripe width={} blocks",
            sb.s_raid_stride, sb.s_raid_stripe_width
        ));
        say(&format!(
            "{} inodes, {} blocks",
            sb.s_inodes_count, sb.s_blocks_count
        ));
        say(&format!(
            "{} blocks ({:.2}%) reserved for the super user",
            sb.s_r_blocks_count,
            100.0 * sb.s_r_blocks_count as f64 / sb.s_blocks_count as f64
        ));
        say(&format!("First data block={}", sb.s_first_data_block));
        if root_owner != (0, 0) {
            say(&format!(
                "Root directory owner={}:{}",
                root_owner.0, root_owner.1
            ));
        }
        if sb.s_reserved_gdt_blocks != 0 {
            let desc_blocks = groups.div_ceil(bs / 32) as u64;
            say(&format!(
                "Maximum filesystem blocks={}",
                (sb.s_reserved_gdt_blocks as u64 + desc_blocks)
                    * (bs / 32) as u64
                    * sb.s_blocks_per_group as u64
            ));
        }
        say(&format!(
            "{groups} block group{}",
            if groups > 1 { "s" } else { "" }
        ));
        say(&format!(
            "{} blocks per group, {} fragments per group",
            sb.s_blocks_per_group, sb.s_clusters_per_group
        ));
        say(&format!("{} inodes per group", sb.s_inodes_per_group));
    }
    if groups == 1 {
        say("");
        return;
    }
    if sb.s_uuid != [0; 16] {
        say(&format!(
            "Filesystem UUID: {}",
            sbm::uuid_string(&sb.s_uuid)
        ));
    }
    // The backup list, wrapped as show_stats wraps it: a new tab-indented
    // line whenever the next number would pass 72 columns.
    let geo = ext2fs::layout::Geometry::from_superblock(sb);
    let mut text = String::from("Superblock backups stored on blocks: ");
    let mut col_left = 0usize;
    for (i, g) in geo.backup_groups().into_iter().enumerate() {
        let block = geo.group_first_block(g);
        if i > 0 {
            text.push_str(", ");
        }
        let need = block.checked_ilog10().map_or(0, |l| l as usize + 1) + 2;
        if need > col_left {
            text.push_str("\n\t");
            col_left = 72;
        }
        col_left -= need;
        text.push_str(&block.to_string());
    }
    say(&text);
    say("");
}

/// mke2fs' proceed_question: go on only when the answer is yes (no
/// terminal: no).
fn proceed_question() -> Result<()> {
    match cli_common::ask_yes_no("Proceed anyway?", false) {
        Some(true) => Ok(()),
        _ => bail!(Plain(String::new())),
    }
}

/// Asks before overwriting an existing filesystem, like mke2fs: only when
/// someone is at a terminal (input and output) to answer and no -E offset
/// was given, after check_plausibility's note on what the device holds
/// (found where blkid looks, at its start).
fn check_existing(device: &Path, offset: u64) -> Result<()> {
    use std::io::IsTerminal;
    if !cli_common::interactive() || !std::io::stdout().is_terminal() || offset != 0 {
        return Ok(());
    }
    let Some(note) = cli_common::plausible::existing_filesystem_note(&device.to_string_lossy())
    else {
        return Ok(());
    };
    cli_common::out!("{note}");
    let _ = std::io::stdout().flush();
    match cli_common::ask_yes_no("Proceed anyway?", false) {
        Some(true) => Ok(()),
        // mke2fs' proceed_question leaves without a word.
        _ => bail!(Plain(String::new())),
    }
}

fn punch_hole(image: &Image, offset: u64, len: u64) -> Result<()> {
    use rustix::fs::{fallocate, FallocateFlags};
    let Some(f) = image.file() else { return Ok(()) };
    match fallocate(
        f,
        FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE,
        offset,
        len,
    ) {
        Ok(()) => Ok(()),
        // A filesystem without hole punching: write zeroes instead.
        Err(_) => {
            let zero = vec![0u8; 1 << 20];
            let mut at = offset;
            while at < offset + len {
                let n = (offset + len - at).min(zero.len() as u64) as usize;
                image
                    .write_at(at, &zero[..n])
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                at += n as u64;
            }
            Ok(())
        }
    }
}

/// What mke2fs zeroes besides the inode tables when old data stays: the
/// boot sectors (unless they hold a BSD disklabel), the sectors of an old
/// superblock, and the last 64 KiB-aligned stretch of the filesystem,
/// where MD RAID and other tools keep their metadata.
fn wipe_old_metadata(
    image: &Image,
    offset: u64,
    bs: u32,
    blocks: u64,
    super_only: bool,
) -> Result<()> {
    const BSD_LABEL_OFFSET: usize = 64;
    const BSD_MAGICS: [u32; 2] = [0x8256_4557, 0x5745_5682];
    let zero = |at: u64, len: u64| -> Result<()> {
        let chunk = vec![0u8; len.min(1 << 20) as usize];
        let mut done = 0;
        while done < len {
            let n = (len - done).min(chunk.len() as u64) as usize;
            image
                .write_at(offset + at + done, &chunk[..n])
                .map_err(|e| anyhow::anyhow!("while wiping old metadata: {e}"))?;
            done += n as u64;
        }
        Ok(())
    };
    zero(2 * 512, 6 * 512)?;
    if super_only {
        return Ok(());
    }
    let mut label = [0u8; 4];
    let bsd = image
        .read_at(offset + BSD_LABEL_OFFSET as u64, &mut label)
        .is_ok()
        && BSD_MAGICS.contains(&u32::from_le_bytes(label));
    if !bsd {
        zero(0, 2 * 512)?;
    }
    let rsv = (65536 / bs as u64).max(1);
    let mut start = blocks & !(rsv - 1);
    if start > rsv {
        start -= rsv;
    }
    if start > 0 && start < blocks {
        zero(start * bs as u64, (blocks - start) * bs as u64)?;
    }
    Ok(())
}

fn zero_inode_tables(
    image: &Image,
    offset: u64,
    bs: u32,
    ranges: &[(u64, u32)],
    progress: &mut progress::Progress,
) -> Result<()> {
    let chunk = vec![0u8; 1 << 20];
    for (g, &(start, n)) in ranges.iter().enumerate() {
        progress.update(g as u64);
        let mut at = offset + start * bs as u64;
        let end = at + n as u64 * bs as u64;
        while at < end {
            let len = (end - at).min(chunk.len() as u64) as usize;
            image
                .write_at(at, &chunk[..len])
                .map_err(|e| anyhow::anyhow!("while zeroing inode tables: {e}"))?;
            at += len as u64;
        }
    }
    Ok(())
}

/// -D: what was written leaves the page cache once it is on disk.
fn drop_cache(device: &Path) -> Result<()> {
    let f = std::fs::File::open(device).with_context(|| device.display().to_string())?;
    f.sync_all()?;
    rustix::fs::fadvise(&f, 0, 0, rustix::fs::Advice::DontNeed)
        .map_err(|e| anyhow::anyhow!("{}: {e}", device.display()))?;
    Ok(())
}
