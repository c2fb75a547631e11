//! One check from start to end: open (falling back to a backup superblock
//! like e2fsck), decide whether to skip a clean filesystem, run the passes,
//! write the superblock and summarize.

use std::path::Path;
use std::time::Instant;

use anyhow::{anyhow, bail, Result};
use clap::Parser;
use ext2fs::fs::{Filesystem, OpenOptions};
use ext2fs::superblock::{STATE_ERROR, STATE_VALID};

use crate::ask::{Asker, Mode, Stop};
use crate::checker::Checker;
use crate::exit;
use crate::problem::{Code, Ctx};
use crate::progress::Progress;
use crate::Options;
use ext2fs::image::Image;

/// The program name in messages: argv[0] as given, as e2fsck does.
fn prog() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        std::env::args()
            .next()
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| "e2fsck-union".into())
    })
}

pub fn run(opts: Options) -> u8 {
    let Some(device) = opts.device.clone() else {
        eprintln!("Usage: {} [-panyrcdfktvDFV] [-b superblock] [-B blocksize]\n\t\t[-l|-L bad_blocks_file] [-C fd] [-j external_journal]\n\t\t[-E extended-options] [-N device_name] [-z undo_file] device", prog());
        return exit::USAGE;
    };
    let mode = match mode_of(&opts) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{}: {e}", prog());
            return exit::USAGE;
        }
    };
    if let Err(e) = refuse_unsupported(&opts) {
        eprintln!("{}: {e}", prog());
        return exit::USAGE;
    }
    if mode == Mode::Interactive && !cli_common::interactive() {
        eprintln!("{}: need terminal for interactive repairs", prog());
        return exit::ERROR;
    }
    crate::cancel::arm();
    let mut ask = Asker::new(mode, &device);
    let result = check(&opts, &device, &mut ask);
    let device = ask.device.clone();
    match result {
        Ok(code) => code,
        Err(e) => match e.downcast_ref::<Stop>() {
            Some(&stop) => stopped(stop, &device, &ask),
            None => failed(&e, &device, &ask),
        },
    }
}

/// How a run that stopped early ends, as e2fsck ends it for each kind.
fn stopped(stop: Stop, device: &str, ask: &Asker) -> u8 {
    match stop {
        Stop::PreenHalt => {
            // On standard error, as e2fsck's preenhalt.
            eprintln!(
                "\n\n{device}: UNEXPECTED INCONSISTENCY; RUN fsck MANUALLY.\n\t(i.e., without -a or -p options)"
            );
            exit::UNCORRECTED
        }
        Stop::Aborted => {
            // e2fsck's fatal_error names itself "e2fsck" here, whatever
            // it was called.
            eprintln!("e2fsck: aborted");
            ask.end_state()
        }
        Stop::Fatal => ask.end_state(),
        Stop::FatalNotValid => exit::ERROR | exit::UNCORRECTED,
        // Ended in check(), where the filesystem is still open.
        Stop::Canceled => exit::CANCELED,
    }
}

/// How a run that failed on an error ends.
fn failed(e: &anyhow::Error, device: &str, ask: &Asker) -> u8 {
    if let Some(o) = e.downcast_ref::<OpenFailed>() {
        eprintln!("{}: {e}", prog());
        use std::io::Write as _;
        let _ = std::io::stdout().lock().write_all(o.advice.as_bytes());
        return exit::ERROR;
    }
    eprintln!("{}: {}", prog(), cli_common::error_chain(e));
    if ask.changed {
        eprintln!("\n{device}: ***** FILE SYSTEM WAS MODIFIED *****");
    }
    exit::ERROR
}

fn mode_of(o: &Options) -> Result<Mode> {
    let preen = o.preen || o.auto;
    let n = [preen, o.no, o.yes].iter().filter(|&&x| x).count();
    if n > 1 {
        bail!("only one of the options -p/-a, -n or -y may be specified.");
    }
    Ok(if preen {
        Mode::Preen
    } else if o.no {
        Mode::No
    } else if o.yes {
        Mode::Yes
    } else {
        Mode::Interactive
    })
}

fn refuse_unsupported(o: &Options) -> Result<()> {
    if o.journal.is_some() {
        bail!("-j: ext2 has no journal, so there is no external journal to use");
    }

    if o.badblocks > 0 && (o.add_badblocks.is_some() || o.set_badblocks.is_some()) {
        bail!("the -c and -l/-L options may not be both used at the same time.");
    }
    if o.badblocks > 0 && o.no {
        bail!("the -n and -c options are incompatible.");
    }
    if o.add_badblocks.is_some() && o.set_badblocks.is_some() {
        bail!("only one of the options -l and -L may be given");
    }
    if o.no && (o.add_badblocks.is_some() || o.set_badblocks.is_some()) {
        bail!("the -n and -l/-L options are incompatible.");
    }
    if let Some(ext) = &o.extended {
        if let Some(opt) = ext.split(',').find(|s| !s.is_empty()) {
            match opt {
                "journal_only" => bail!("-E journal_only: ext2 has no journal"),
                other => bail!("-E {other}: unknown extended option (ext2 checks take none)"),
            }
        }
    }
    if o.no && o.optimize_dirs {
        bail!("the -n and -D options are incompatible.");
    }
    Ok(())
}

/// Opens the filesystem as e2fsck does: the primary superblock, or a
/// backup when the primary or its descriptors are bad (not when preening);
/// when no copy will do because of a superblock value libext2fs would
/// refuse, once more ignoring the values a check can repair ("Trying to
/// load superblock despite errors").
fn open(opts: &Options, device: &str, write: bool, ask: &mut Asker) -> Result<(Filesystem, u64)> {
    let preen = opts.preen || opts.auto;
    let opened = |r: std::result::Result<Opened, ext2fs::Error>| match r {
        Ok(Opened::Fs(fs, backup)) => Ok((*fs, backup)),
        Ok(Opened::Refused(unknown)) => Err(newer_version_needed(device, &unknown)),
        Err(e) => Err(open_error(e, device, preen, write)),
    };
    let first = match open_with_backups(opts, device, write, false, ask) {
        Err(e) if superblock_corrupt(&e) => e,
        other => return opened(other),
    };
    eprintln!(
        "{}: {} while trying to open {device}",
        prog(),
        first.com_err_text()
    );
    say!("{}: Trying to load superblock despite errors...", prog());
    // The first try went on to the backups (not preening, no -b): e2fsck
    // keeps its error (orig_retval) and reports it again unless this try
    // goes to the backups too.
    let first_went_to_backups = !preen && opts.superblock.is_none();
    match open_with_backups(opts, device, write, true, ask) {
        Err(e) => {
            let to_backups = superblock_corrupt(&e) || matches!(e, ext2fs::Error::BadMagic(_));
            let e = if first_went_to_backups && !to_backups {
                first
            } else {
                e
            };
            Err(open_error(e, device, preen, write))
        }
        other => opened(other),
    }
}

/// What one try of e2fsck's open gives.
enum Opened {
    /// The filesystem, opened from the superblock at this block (0: the
    /// primary).
    Fs(Box<Filesystem>, u64),
    /// Opening for writing refused (ext2fs_open2's
    /// EXT2_ET_RO_UNSUPP_FEATURE): the superblock's features e2fsprogs does
    /// not know, for "has unsupported feature(s)".
    Refused(String),
}

/// ext2fs_open2 as e2fsck calls it: with `oo.write`, a read-only-compatible
/// feature libext2fs does not know refuses the filesystem.
fn try_open(path: &Path, oo: &OpenOptions) -> std::result::Result<Opened, ext2fs::Error> {
    // ext2fs_open2 judges the features right after the magic and the
    // revision, before any value a corrupt superblock may hold.
    let at = match (oo.superblock, oo.block_size) {
        (None, _) => Some(0),
        (Some(blk), Some(bs)) => (blk * bs as u64).checked_sub(1024),
        (Some(_), None) => None,
    };
    let sb = at.and_then(|off| {
        let f = std::fs::File::open(path).ok()?;
        ext2fs::superblock::Superblock::probe(&f, path, off).ok()
    });
    if let Some(sb) = sb.filter(|sb| oo.write && sb.s_rev_level <= ext2fs::superblock::DYNAMIC_REV)
    {
        if crate::super_check::refused_for_writing(&sb) {
            let unknown = crate::super_check::unknown_to_e2fsprogs(&sb).unwrap_or_default();
            return Ok(Opened::Refused(unknown));
        }
    }
    let fs = Filesystem::open(path, oo)?;
    if oo.write && crate::super_check::refused_for_writing(fs.sb()) {
        let unknown = crate::super_check::unknown_to_e2fsprogs(fs.sb()).unwrap_or_default();
        return Ok(Opened::Refused(unknown));
    }
    Ok(Opened::Fs(Box::new(fs), 0))
}

/// One try of e2fsck's open: the superblock asked for (the primary or
/// -b's), then, when that fails or its descriptors look bad, a backup.
/// A failure returns the first copy's error.
fn open_with_backups(
    opts: &Options,
    device: &str,
    write: bool,
    ignore_sb_errors: bool,
    ask: &mut Asker,
) -> std::result::Result<Opened, ext2fs::Error> {
    let path = Path::new(device);
    let mut oo = OpenOptions {
        write,
        superblock: opts.superblock,
        block_size: opts.blocksize,
        ignore_sb_errors,
        // check_super_values judges inodes per group with our bound.
        caller_bounds_group_inodes: true,
        ..Default::default()
    };
    let preen = opts.preen || opts.auto;
    let first = match try_open(path, &oo) {
        Ok(Opened::Fs(fs, _)) => Ok(*fs),
        Ok(refused) => return Ok(refused),
        Err(e) => Err(e),
    };
    if opts.superblock.is_some() {
        return first.map(|f| Opened::Fs(Box::new(f), 0));
    }
    let reason = match &first {
        Ok(fs) => crate::super_check::check_desc(fs),
        Err(_) => None,
    };
    let primary_bad = matches!(&first, Err(e) if superblock_corrupt(e) || matches!(e, ext2fs::Error::BadMagic(_)));
    if preen || (!primary_bad && reason.is_none()) {
        return first.map(|f| Opened::Fs(Box::new(f), 0));
    }
    match &first {
        Err(e) => {
            let c = Ctx {
                str1: e.com_err_text(),
                ..Default::default()
            };
            ask.notice(Code::OpenFailed, &c);
            say!("{}: Superblock invalid, trying backup blocks...", prog());
        }
        Ok(fs) => {
            let c = Ctx {
                str1: format!(
                    "Corrupt group descriptor: {}",
                    reason.clone().unwrap_or_default()
                ),
                ..Default::default()
            };
            ask.notice(Code::CheckDescFailed, &c);
            // One group: there is no backup to try.
            if fs.geo().group_count <= 1 {
                return first.map(|f| Opened::Fs(Box::new(f), 0));
            }
            say!(
                "{}: Group descriptors look bad... trying backup blocks...",
                prog()
            );
        }
    }
    // As e2fsck's get_backup_sb: with a readable primary, the first backup
    // it describes; otherwise the first one found by probing block sizes.
    let first_err = match first {
        Ok(fs) => {
            let blk = fs.sb().s_blocks_per_group as u64 + fs.sb().s_first_data_block as u64;
            oo.superblock = Some(blk);
            oo.block_size = Some(fs.block_size());
            // The primary holds the image's lock.
            drop(fs);
            let failed = match try_open(path, &oo) {
                Ok(Opened::Fs(fs, _)) => return Ok(Opened::Fs(fs, blk)),
                Ok(Opened::Refused(_)) => {
                    "Filesystem has unsupported read-only feature(s)".to_string()
                }
                Err(e) => e.com_err_text(),
            };
            // e2fsck ends the first line without a newline.
            say!(
                "{}: {failed} while using the backup blocks{}: going back to original superblock",
                prog(),
                prog()
            );
            oo.superblock = None;
            oo.block_size = opts.blocksize;
            return try_open(path, &oo);
        }
        Err(e) => e,
    };
    for bs in [1024u64, 2048, 4096, 8192, 16384, 32768, 65536] {
        let blk = bs * 8 + if bs == 1024 { 1 } else { 0 };
        oo.superblock = Some(blk);
        oo.block_size = Some(bs as u32);
        match try_open(path, &oo) {
            Ok(Opened::Fs(fs, _)) => return Ok(Opened::Fs(fs, blk)),
            Ok(refused) => return Ok(refused),
            Err(_) => {}
        }
    }
    Err(first_err)
}

/// Like e2fsck's check_mount: a mounted filesystem (found by identity, so
/// also through a hard link or another name of its loop device) is only
/// read, with a warning under -n; a repair is refused (exit 8). Unlike
/// e2fsck, an interactive run is refused too instead of asking.
fn check_mount(device: &str, write: bool) -> Result<()> {
    use ext2fs::image::{mount_state, MountState};
    if let MountState::Mounted { .. } = mount_state(Path::new(device)) {
        if !write {
            say!("Warning!  {device} is mounted.");
            return Ok(());
        }
        say!("{device} is mounted.");
        bail!("Cannot continue, aborting.\n");
    }
    Ok(())
}

/// Features e2fsck 1.47 does not know either: its print_unsupp_features,
/// then fatal_error's words (exit 8).
fn newer_version_needed(device: &str, unknown: &str) -> anyhow::Error {
    eprintln!("{device} has unsupported feature(s): {unknown}");
    eprintln!("e2fsck: Get a newer version of e2fsck!");
    Stop::Fatal.into()
}

/// Features e2fsck checks but this checker does not (docs/compat.md).
fn refuse_features(device: &str, names: &str) -> anyhow::Error {
    anyhow!(
        "{device} has unsupported feature(s): {names}\n{} checks ext2 filesystems \
(with the union whiteout feature); use e2fsck for ext3/ext4",
        prog()
    )
}

/// libext2fs's EXT2_ET_CORRUPT_SUPERBLOCK, after which e2fsck tries the
/// backups and then the superblock despite errors; a revision too high
/// (EXT2_ET_REV_TOO_HIGH) is not one.
fn superblock_corrupt(e: &ext2fs::Error) -> bool {
    matches!(
        e,
        ext2fs::Error::Corrupt {
            structure: ext2fs::Structure::Superblock,
            kind,
            ..
        } if !matches!(kind, ext2fs::CorruptKind::Revision(_))
    )
}

fn open_error(e: ext2fs::Error, device: &str, preen: bool, write: bool) -> anyhow::Error {
    match &e {
        ext2fs::Error::UnsupportedFeatures(names) => {
            let sb = std::fs::File::open(device)
                .ok()
                .and_then(|f| ext2fs::superblock::Superblock::probe(&f, Path::new(device), 0).ok());
            let Some(sb) = sb else {
                return refuse_features(device, names);
            };
            return match crate::super_check::unknown_to_e2fsprogs(&sb) {
                // libext2fs opens it (a feature this library refuses is
                // one it knows): e2fsck's own feature check then stops it,
                // the filesystem not yet valid.
                Some(unknown) if crate::super_check::libext2fs_opens(&sb, write) => {
                    let _ = newer_version_needed(device, &unknown);
                    say!(
                        "\n{device}: ********** WARNING: Filesystem still has errors **********\n"
                    );
                    Stop::FatalNotValid.into()
                }
                Some(unknown) => newer_version_needed(device, &unknown),
                None => refuse_features(device, names),
            };
        }
        ext2fs::Error::Mounted { .. } => {
            say!("{device} is mounted.");
            return anyhow!("Cannot continue, aborting.\n");
        }
        ext2fs::Error::InUse(_) => {
            return anyhow!(
                "Device or resource busy while trying to open {device}\n\
Filesystem mounted or opened exclusively by another program?"
            )
        }
        _ => {}
    }
    let message = format!("{} while trying to open {device}", e.com_err_text());
    let mut advice = match &e {
        ext2fs::Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            "Possibly non-existent device?\n".to_string()
        }
        ext2fs::Error::Truncated { .. } => "Could this be a zero-length partition?\n".to_string(),
        ext2fs::Error::Io { source, .. } if source.kind() == std::io::ErrorKind::UnexpectedEof => {
            "Could this be a zero-length partition?\n".to_string()
        }
        // e2fsck's PR_0_SB_CORRUPT, after the device's name when preening.
        ext2fs::Error::Corrupt {
            structure: ext2fs::Structure::Superblock,
            kind: ext2fs::CorruptKind::Revision(_),
            ..
        } => format!(
            "The filesystem revision is apparently too high for this version of e2fsck.\n\
(Or the filesystem superblock is corrupt)\n\n{}{}",
            if preen {
                format!("{device}: ")
            } else {
                String::new()
            },
            crate::problem::lookup(Code::SbCorrupt).message
        ),
        ext2fs::Error::Corrupt {
            structure: ext2fs::Structure::Superblock,
            ..
        }
        | ext2fs::Error::BadMagic(_) => {
            let prefix = if preen {
                format!("{device}: ")
            } else {
                String::new()
            };
            prefix + crate::problem::lookup(Code::SbCorrupt).message
        }
        _ => String::new(),
    };
    if matches!(e, ext2fs::Error::BadMagic(_)) {
        advice.extend(cli_common::plausible::existing_filesystem_note(device));
    }
    OpenFailed { message, advice }.into()
}

/// The filesystem could not be opened: e2fsck's com_err line (standard
/// error) and its advice after it (standard output).
#[derive(Debug)]
struct OpenFailed {
    message: String,
    advice: String,
}

impl std::fmt::Display for OpenFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.message)
    }
}
impl std::error::Error for OpenFailed {}

/// The whole check of an in-memory image, quietly (see lib.rs).
pub fn check_in_memory(bytes: Vec<u8>, fix: bool) -> (u8, Vec<u8>) {
    crate::ask::set_quiet(true);
    let image = Image::in_memory(bytes.clone(), fix);
    let oo = OpenOptions {
        write: fix,
        ..Default::default()
    };
    let Ok(fs) = Filesystem::from_image(image, &oo) else {
        return (exit::ERROR, bytes);
    };
    if crate::super_check::unsupported_features(&fs).is_some() {
        return (exit::ERROR, bytes);
    }
    let mode = if fix { Mode::Yes } else { Mode::No };
    let mut ck = Checker::new(fs, Asker::new(mode, "<memory>"), 0x6000_0000);
    let opts = Options::parse_from(["e2fsck-union", "-f", "<memory>"]);
    let result = run_passes(&mut ck, &opts, Some(8193), Instant::now())
        .and_then(|skipped| finish(&mut ck, &opts, skipped));
    let code = match result {
        Ok(c) => c,
        Err(_) => exit::ERROR,
    };
    let after = ck.fs.image().memory_bytes().unwrap_or(bytes);
    (code, after)
}

fn check(opts: &Options, device: &str, ask: &mut Asker) -> Result<u8> {
    let write = ask.mode != Mode::No;
    if opts.flush {
        if let Ok(f) = std::fs::File::open(device) {
            let _ = f.sync_all();
        }
    }
    check_mount(device, write)?;
    let undo_path = cli_common::undo::undo_file_path(
        opts.undo_file.as_deref().map(Path::new),
        false,
        "e2fsck",
        Path::new(device),
        "/var/lib/e2fsprogs",
    )
    .map_err(|e| anyhow!("{e}\nwhile trying to setup undo file"))?;
    if let Some(u) = &undo_path {
        cli_common::undo::announce(u, Path::new(device));
    }
    let (mut fs, backup) = open(opts, device, write, ask)?;
    // As e2fsck: the device's size comes from a second open of its name
    // (ext2fs_get_device_size2), which can fail where the first did not
    // (no file descriptor left, the name gone meanwhile).
    if let Err(e) = std::fs::File::open(device) {
        let c = Ctx {
            str1: cli_common::errno_text(e),
            ..Default::default()
        };
        ask.notice(Code::GetsizeError, &c);
        return Err(Stop::Fatal.into());
    }
    if let Some(u) = &undo_path {
        // Undo blocks of the filesystem's block size, as undo_io takes
        // them from e2fsck's I/O channel.
        let bs = fs.block_size();
        let log = ext2fs::undo::Undo::open(u, fs.image(), 0, bs, bs).map_err(|e| OpenFailed {
            message: format!(
                "{} while trying to open {device}",
                cli_common::undo::describe(&e)
            ),
            advice: String::new(),
        })?;
        fs.attach_undo(log);
    }
    // Messages name the filesystem as e2fsck does: -N, else its volume
    // label, else the path given.
    let label = fs.sb().label();
    let name = match &opts.device_name {
        Some(n) => n.as_str(),
        None if !label.is_empty() => label.as_str(),
        None => device,
    };
    // e2fsck turns blanks and colons in that name into '_' (C's isspace).
    let name: String = name
        .chars()
        .map(|c| match c {
            ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r' | ':' => '_',
            c => c,
        })
        .collect();
    let name = name.as_str();
    if let Some(unknown) = crate::super_check::unknown_to_e2fsprogs(fs.sb()) {
        // Once opened, the filesystem is not yet valid to e2fsck.
        let _ = newer_version_needed(device, &unknown);
        say!("\n{name}: ********** WARNING: Filesystem still has errors **********\n");
        return Ok(exit::ERROR | exit::UNCORRECTED);
    }
    if let Some(names) = crate::super_check::unsupported_features(&fs) {
        return Err(refuse_features(device, &names));
    }
    if backup != 0 && write {
        // The primary copies are rewritten from the backup at the end.
        fs.mark_super_dirty();
        ask.changed = true;
    } else {
        // As e2fsck: the backups keep their state, mount count and check
        // time unless a repair below needs them rewritten.
        fs.set_primary_only(true);
    }
    let list = opts.add_badblocks.as_ref().or(opts.set_badblocks.as_ref());
    let found = if let Some(file) = list {
        Some((
            crate::badblocks::read_list(Path::new(file), &fs)?,
            opts.set_badblocks.is_some(),
        ))
    } else if opts.badblocks > 0 {
        say!("{device}: Checking for bad blocks with badblocks(8)...");
        let preen = ask.mode == Mode::Preen;
        let scan = crate::badblocks::scan(device, &fs, opts.badblocks > 1, !preen)?;
        // Without -k the scan's result replaces the list (as e2fsck -c).
        Some((scan, !opts.keep_badblocks))
    } else {
        None
    };
    // e2fsck's clock, read once (e2fsck_allocate_context).
    let time_env = std::env::var("E2FSCK_TIME").ok();
    let now = check_time(time_env.as_deref());
    if let Some((blocks, replace)) = found {
        crate::badblocks::update(&mut fs, &blocks, replace, now)?;
        say!("{device}: Updating bad block inode.");
        ask.changed = true;
    }
    // Everything written is stamped with the check's clock, the
    // superblock's write time included (e2fsck's fs->now).
    fs.set_fixed_time(Some(now));
    let mut progress = Progress::new(opts.progress_fd, device)?;
    let with_progress = opts.progress_fd.is_some();
    let started = Instant::now();
    // e2fsck latches the relocation hint away when a backup superblock
    // is in use (given with -b or chosen after a bad primary).
    let hint = if backup != 0 || opts.superblock.is_some() {
        None
    } else {
        Some(fs.sb().s_blocks_per_group as u64 + fs.sb().s_first_data_block as u64)
    };
    let mut taken = std::mem::replace(ask, Asker::new(ask.mode, device));
    taken.device = name.to_string();
    let mut ck = Checker::new(fs, taken, now);
    // Updating the bad blocks list read the bitmaps.
    ck.bitmaps_read_early = list.is_some() || opts.badblocks > 0;
    ck.clock_sane = clock_is_sane(time_env.is_some(), now);
    ck.ask.debug = opts.debug;
    if with_progress {
        ck.progress = Some(Box::new(move |pass, done, total| {
            progress.update(pass, done, total)
        }));
    }
    let result = run_passes(&mut ck, opts, hint, started);
    // Dropping the reporter finishes the bar.
    ck.progress = None;
    let result = match result {
        Err(e) if matches!(e.downcast_ref::<Stop>(), Some(Stop::Canceled)) => canceled(&mut ck),
        r => r.and_then(|skipped| finish(&mut ck, opts, skipped)),
    };
    let Checker { ask: a, .. } = ck;
    *ask = a;
    result
}

/// Returns Some(exit code) when a clean filesystem was skipped.
fn run_passes(
    ck: &mut Checker,
    opts: &Options,
    hint: Option<u64>,
    started: Instant,
) -> Result<Option<u8>> {
    let preen = ck.ask.mode == Mode::Preen;
    let timing = opts.timing > 0;
    let header = |ck: &Checker, s: &str| {
        if ck.ask.mode != Mode::Preen {
            say!("{s}");
        }
    };
    // A restart goes back here, as e2fsck's goto restart: the superblock
    // checks run again (a question declined before is asked again).
    let disk = loop {
        ck.ask.in_passes = false;
        ck.check_journal_fields(prog())?;
        ck.check_super(hint)?;
        if !ck.read_only() {
            ck.release_orphans()?;
            ck.fs.flush()?;
        }
        ck.check_future_times(opts.force, ck.clock_sane)?;
        ck.validate_quota_inodes()?;
        ck.add_dirhash_hint()?;
        if let Some(code) = skip_if_clean(ck, opts) {
            return Ok(Some(code));
        }
        ck.check_resize_inode_early()?;
        // As e2fsck ("valid 'til proven otherwise"): what was declined so far
        // leaves no error behind for the exit code.
        ck.ask.unfixed = false;
        // e2fsck reads the bad blocks list here and goes on without it when
        // its inode cannot be read (preen stops).
        if let Some(why) = ck.bad_blocks_unreadable(None)? {
            ck.bad_blocks_list_lost = true;
            say!("{}: {why} while reading bad blocks inode", prog());
            if preen {
                return Err(Stop::PreenHalt.into());
            }
            say!("This doesn't bode well, but we'll try to go on...");
        }
        // From here a cancel at a question stops the check where it is (e2fsck
        // sets its jump point for the passes here).
        ck.ask.in_passes = true;
        crate::cancel::check()?;
        header(ck, "Pass 1: Checking inodes, blocks, and sizes");
        let t = Instant::now();
        ck.tick(1, 0, 1);
        ck.pass1()?;
        ck.tick(1, 1, 1);
        let mut restart = ck.restart;
        if !ck.reloc.is_empty() && !ck.read_only() {
            restart |= ck.relocate()?;
        }
        // As e2fsck: at the end of pass 1, so that pass 1B sees its blocks
        // and a restart finds it whole.
        if ck.recreate_resize && !ck.read_only() {
            ck.recreate_resize_inode()?;
        }
        if restart {
            start_over(ck)?;
            continue;
        }
        report_time(timing, "Pass 1", t);
        ck.pass1_dups()?;
        let disk = ck.read_disk_bitmaps();
        ck.hand_over_bitmaps();
        if opts.optimize_dirs && !ck.read_only() {
            let dirs: Vec<u32> = ck.dir_info.keys().copied().collect();
            ck.rehash.extend(dirs);
        }
        crate::cancel::check()?;
        header(ck, "Pass 2: Checking directory structure");
        let t = Instant::now();
        ck.pass2()?;
        if ck.restart_later {
            // Pass 1B has moved the indirect blocks off the metadata.
            ck.restore_disk_bitmaps(&disk);
            start_over(ck)?;
            continue;
        }
        ck.tick(2, 1, 1);
        report_time(timing, "Pass 2", t);
        break disk;
    };
    crate::cancel::check()?;
    header(ck, "Pass 3: Checking directory connectivity");
    let t = Instant::now();
    ck.pass3()?;
    ck.tick(3, 1, 1);
    report_time(timing, "Pass 3", t);
    crate::cancel::check()?;
    header(ck, "Pass 4: Checking reference counts");
    let t = Instant::now();
    ck.pass4()?;
    ck.tick(4, 1, 1);
    report_time(timing, "Pass 4", t);
    crate::cancel::check()?;
    header(ck, "Pass 5: Checking group summary information");
    let t = Instant::now();
    if ck.read_only() && !ck.bitmaps_read_early {
        // Under -n nothing allocated before: e2fsck reads the bitmaps now.
        ck.read_bitmaps_handled(&disk, prog())?;
    }
    ck.pass5(&disk)?;
    ck.tick(5, 1, 1);
    report_time(timing, "Pass 5", t);
    report_time(timing, "Total", started);
    ck.ask.in_passes = false;
    Ok(None)
}

/// "Restarting e2fsck from the beginning...": what the passes learned is
/// dropped and pass 1 runs again on the repaired filesystem.
fn start_over(ck: &mut Checker) -> Result<()> {
    ck.problem(Code::RestartNotice, &Ctx::default())?;
    ck.fs.flush()?;
    // e2fsck closes and reopens the filesystem: only what the next run
    // changes makes it say the filesystem was modified.
    ck.ask.changed = false;
    ck.reset();
    Ok(())
}

/// e2fsck's clock: E2FSCK_TIME, read as strtoull reads it (decimal, 0x
/// hex or 0 octal, up to the first other character), stands in for the
/// time of day so that checks and their messages are reproducible.
fn check_time(env: Option<&str>) -> u32 {
    let Some(v) = env else {
        return ext2fs::clock::now();
    };
    let v = v.trim_start();
    let (radix, digits) = if let Some(h) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        (16, h)
    } else if v.starts_with('0') {
        (8, v)
    } else {
        (10, v)
    };
    let mut n: u64 = 0;
    for c in digits.chars() {
        let Some(d) = c.to_digit(radix) else { break };
        n = n.saturating_mul(radix as u64).saturating_add(d as u64);
    }
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// e2fsck distrusts the system clock before 2010 (E2F_FLAG_TIME_INSANE);
/// a time E2FSCK_TIME sets is always taken as it is.
fn clock_is_sane(set: bool, now: u32) -> bool {
    set || now >= 1_262_322_000
}

fn report_time(on: bool, what: &str, t: Instant) {
    if on {
        say!("{what}: time: {:.2}s", t.elapsed().as_secs_f64());
    }
}

/// e2fsck's check_if_skip: a clean, not overdue filesystem is left alone
/// unless -f.
fn skip_if_clean(ck: &mut Checker, opts: &Options) -> Option<u8> {
    let sb = *ck.fs.sb();
    let dev = ck.ask.device.clone();
    // A repair in the superblock check goes on to a full check, without
    // a reason; a repair refused counts as errors (e2fsck's valid flag).
    if ck.ask.fixed {
        return None;
    }
    let reason = if sb.s_state & STATE_ERROR != 0 || ck.ask.unfixed {
        Some("contains a file system with errors".to_string())
    } else if sb.s_state & STATE_VALID == 0 {
        Some("was not cleanly unmounted".to_string())
    } else if !opts.force && ck.backup_differs() {
        Some("primary superblock features different from backup".to_string())
    } else if sb.s_max_mnt_count as i16 > 0 && sb.s_mnt_count >= sb.s_max_mnt_count {
        Some(format!(
            "has been mounted {} times without being checked",
            sb.s_mnt_count
        ))
    } else if sb.s_checkinterval != 0 && ck.now >= sb.s_lastcheck.saturating_add(sb.s_checkinterval)
    {
        Some(format!(
            "has gone {} days without being checked",
            (ck.now - sb.s_lastcheck) / 86400
        ))
    } else if sb.s_lastcheck > ck.now.saturating_add(86400) {
        Some("has filesystem last checked time in the future".to_string())
    } else {
        None
    };
    if opts.force {
        return None;
    }
    match reason {
        Some(r) => {
            say!("{dev} {r}, check forced.");
            None
        }
        None => {
            ck.sum_free_counts();
            let sb = ck.fs.sb();
            let used_inodes = sb.s_inodes_count - sb.s_free_inodes_count;
            let used_blocks = sb.s_blocks_count - sb.s_free_blocks_count;
            say!(
                "{dev}: clean, {used_inodes}/{} files, {used_blocks}/{} blocks",
                sb.s_inodes_count,
                sb.s_blocks_count
            );
            Some(exit::OK)
        }
    }
}

/// How a canceled check ends, as e2fsck's: what was repaired so far is
/// written out, but the superblock's state, check time and mount count
/// are left as they were, no summary is printed, and the exit status is
/// 32 (with 4 while errors are known to remain; never 1).
fn canceled(ck: &mut Checker) -> Result<u8> {
    let dev = ck.ask.device.clone();
    say!("{dev}: e2fsck canceled.");
    if !ck.read_only() {
        ck.fs.sync()?;
    }
    if ck.ask.changed && ck.ask.mode != Mode::Preen {
        say!("\n{dev}: ***** FILE SYSTEM WAS MODIFIED *****");
    }
    let mut code = exit::CANCELED;
    if ck.ask.unfixed || ck.fs.sb().s_state & STATE_ERROR != 0 {
        say!("\n{dev}: ********** WARNING: Filesystem still has errors **********\n");
        code |= exit::UNCORRECTED;
    }
    Ok(code)
}

fn finish(ck: &mut Checker, opts: &Options, skipped: Option<u8>) -> Result<u8> {
    let dev = ck.ask.device.clone();
    if let Some(code) = skipped {
        if !ck.read_only() {
            ck.fs.sync()?;
        }
        return Ok(code);
    }
    // e2fsck's exit status 1 also reports a filesystem it found marked
    // not clean (left by a crash, or from a backup superblock) and leaves
    // clean.
    let was_unclean = ck.fs.sb().s_state & STATE_VALID == 0;
    if !ck.read_only() {
        let (unfixed, now) = (ck.ask.unfixed, ck.now);
        ck.fs.update_superblock(|sb| {
            // e2fsck leaves a filesystem with errors not clean (the valid
            // bit cleared); it never sets the error bit itself.
            if unfixed {
                sb.s_state &= !STATE_VALID;
            } else {
                sb.s_state = STATE_VALID;
            }
            sb.s_lastcheck = now;
            sb.s_mnt_count = 0;
        });
        ck.fs.sync()?;
    }
    if opts.verbose {
        ck.print_verbose();
    }
    // Preen says what it fixed, line by line, and no more (as e2fsck).
    if ck.ask.changed && ck.ask.mode != Mode::Preen {
        say!("\n{dev}: ***** FILE SYSTEM WAS MODIFIED *****");
    }
    if ck.ask.unfixed {
        say!("\n{dev}: ********** WARNING: Filesystem still has errors **********\n");
    }
    let sb = ck.fs.sb();
    // As e2fsck's show_stats: free counts above the totals (left so by
    // -n) wrap around, inodes in 32 bits and blocks in 64.
    let used_inodes = sb.s_inodes_count.wrapping_sub(sb.s_free_inodes_count);
    let used_blocks = (sb.s_blocks_count as u64).wrapping_sub(sb.s_free_blocks_count as u64);
    if !opts.verbose {
        let st = &ck.stats;
        let frag = Tenths::of(st.fragmented + st.fragmented_dirs, used_inodes as u64);
        say!(
            "{dev}: {used_inodes}/{} files ({frag} non-contiguous), {used_blocks}/{} blocks",
            sb.s_inodes_count,
            sb.s_blocks_count
        );
    }
    let mut code = exit::OK;
    if ck.ask.changed && ck.ask.fixed || was_unclean && !ck.read_only() {
        code |= exit::FIXED;
    }
    if ck.ask.unfixed {
        code = code & !exit::FIXED | exit::UNCORRECTED;
    }
    Ok(code)
}

/// A share in percent with one decimal, rounded as e2fsck's show_stats
/// does (integer tenths, half up), so that the summary lines agree.
struct Tenths(u64);

impl Tenths {
    fn of(n: u64, total: u64) -> Self {
        match total {
            0 => Tenths(0),
            t => Tenths((n * 10000 / t + 5) / 10),
        }
    }
}

impl std::fmt::Display for Tenths {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}%", self.0 / 10, self.0 % 10)
    }
}

impl Checker {
    /// e2fsck's ext2fs_create_resize_inode at the end of pass 1: the
    /// double-indirect block comes from the blocks pass 1 found free and
    /// is counted as allocated in its group (ext2fs_alloc_block's stats);
    /// the filesystem's bitmap gets it only if e2fsck had read it by then
    /// (else pass 5 reports it). A size past 2 GiB sets large_file
    /// (ext2fs_inode_size_set).
    pub fn recreate_resize_inode(&mut self) -> Result<()> {
        self.recreate_resize = false;
        self.fs.set_primary_only(false);
        let geo = self.fs.geo().clone();
        let goal = ext2fs::resize_inode::dind_goal(&geo);
        let dind = match self.alloc_block(goal) {
            Ok(b) => b,
            Err(e) => {
                let Some(err) = crate::checker::no_space(&e) else {
                    return Err(e);
                };
                let c = Ctx {
                    str1: err.com_err_text(),
                    ..Default::default()
                };
                if !self.problem(Code::ResizeInodeCreate, &c)? {
                    return Err(Stop::Aborted.into());
                }
                // As e2fsck: the cleared inode still gets the check's
                // time as its mtime.
                let mut inode = self.fs.read_inode(ext2fs::inode::RESIZE_INO)?;
                inode.base.i_mtime = self.now;
                return Ok(self.fs.write_inode(ext2fs::inode::RESIZE_INO, &inode)?);
            }
        };
        if !self.bitmaps_read_early {
            self.early_allocs.retain(|&b| b != dind as u64);
        }
        let g = geo.block_group(dind as u64);
        if g < geo.group_count {
            self.fs.update_group(g, |gd| {
                gd.bg_free_blocks_count = gd.bg_free_blocks_count.wrapping_sub(1)
            })?;
            self.fs.update_superblock(|sb| {
                sb.s_free_blocks_count = sb.s_free_blocks_count.wrapping_sub(1)
            });
            self.fs.mark_group_dirty(g);
        }
        let isz = self.fs.geo().inode_size as u16;
        let (inode, writes) = ext2fs::resize_inode::build(&geo, dind, self.now, isz);
        if inode.size() >= 0x8000_0000 {
            self.need_large_file();
        }
        for (b, data) in writes {
            self.fs.write_block(b as u64, &data)?;
        }
        self.fs.write_inode(ext2fs::inode::RESIZE_INO, &inode)?;
        Ok(())
    }

    pub fn print_verbose(&self) {
        let s = &self.stats;
        let sb = self.fs.sb();
        let used_inodes =
            (sb.s_inodes_count - sb.s_free_inodes_count.min(sb.s_inodes_count)) as u64;
        let used_blocks =
            (sb.s_blocks_count - sb.s_free_blocks_count.min(sb.s_blocks_count)) as u64;
        let pct = |a: u64, b: u64| {
            if b == 0 {
                0.0
            } else {
                a as f64 * 100.0 / b as f64
            }
        };
        say!();
        say!(
            "{:12} inodes used ({:.2}%, out of {})",
            used_inodes,
            pct(used_inodes, sb.s_inodes_count as u64),
            sb.s_inodes_count
        );
        say!(
            "{:12} non-contiguous files ({})",
            s.fragmented,
            Tenths::of(s.fragmented, used_inodes)
        );
        say!(
            "{:12} non-contiguous directories ({})",
            s.fragmented_dirs,
            Tenths::of(s.fragmented_dirs, used_inodes)
        );
        say!(
            "             # of inodes with ind/dind/tind blocks: {}/{}/{}",
            s.ind,
            s.dind,
            s.tind
        );
        say!(
            "{:12} blocks used ({:.2}%, out of {})",
            used_blocks,
            pct(used_blocks, sb.s_blocks_count as u64),
            sb.s_blocks_count
        );
        say!("{:12} bad blocks", s.bad_blocks);
        say!("{:12} large files", s.large_files);
        say!();
        say!("{:12} regular files", s.regular);
        say!("{:12} directories", s.dirs);
        say!("{:12} character device files", s.chardevs);
        say!("{:12} block device files", s.blockdevs);
        say!("{:12} fifos", s.fifos);
        say!("{:12} links", s.links);
        say!(
            "{:12} symbolic links ({} fast symbolic links)",
            s.symlinks,
            s.fast_symlinks
        );
        say!("{:12} sockets", s.sockets);
        say!("{:12} whiteouts", s.whiteouts);
        say!("{:12} fallthrus", s.fallthrus);
        say!("{:12} opaque directories", s.opaque);
        say!("------------");
        say!(
            "{:12} files",
            s.regular
                + s.dirs
                + s.chardevs
                + s.blockdevs
                + s.fifos
                + s.links
                + s.symlinks
                + s.sockets
        );
    }
}

#[cfg(test)]
mod tests {
    use super::check_time;

    #[test]
    fn e2fsck_time_is_read_as_strtoull() {
        assert_eq!(check_time(Some("1113200000")), 1_113_200_000);
        assert_eq!(check_time(Some("0x10")), 16);
        assert_eq!(check_time(Some("010")), 8);
        assert_eq!(check_time(Some("200704102100")), u32::MAX);
        assert_eq!(check_time(Some("12abc")), 12);
        assert_eq!(check_time(Some("junk")), 0);
        assert!(check_time(None) > 1_700_000_000);
    }
}
