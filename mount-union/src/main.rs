//! mount-union: `mount -o union` as util-linux had it for the union-mount
//! patch set, and honest about kernels that have no union mounts.

use mount_union::{fuse, loopdev, options, umount_helper, union_check};

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use options::{ms, MountOptions};

/// mount(8) exit codes.
const EX_USAGE: u8 = 1;
const EX_SYSERR: u8 = 2;
const EX_FAIL: u8 = 32;

#[derive(Parser, Debug)]
#[command(
    name = "mount-union",
    about = "Mount a filesystem, or a writable union layer with -o union",
    long_about = "Mount a filesystem like mount(8). With -o union (or --union) the mount is \
                  made with MS_UNION (0x100) on top of the filesystems already mounted on the \
                  mountpoint, as the union-mount patch set did. No mainline kernel has union \
                  mounts (there the bit means nosymfollow): mount-union checks that the union \
                  really formed and otherwise undoes the mount and fails with exit status 32.",
    disable_version_flag = true
)]
struct Cli {
    /// Do everything except the mount(2) call (with -v: show it)
    #[arg(short = 'f', long = "fake")]
    fake: bool,
    /// Do not write /etc/mtab nor libmount's utab (mount-union never writes
    /// /etc/mtab; the FUSE engine records its unmount helper in utab)
    #[arg(short = 'n', long = "no-mtab")]
    no_mtab: bool,
    /// Mount read-only (same as -o ro)
    #[arg(short = 'r', long = "read-only")]
    read_only: bool,
    /// Mount read-write (same as -o rw)
    #[arg(short = 'w', long = "rw")]
    read_write: bool,
    /// Verbose: print the mount(2) call
    #[arg(short = 'v', long = "verbose")]
    verbose: bool,
    /// Print the version and exit
    #[arg(short = 'V', long = "version")]
    version: bool,
    /// Filesystem type (default: probed from the superblock; ext2)
    #[arg(short = 't', long = "types", value_name = "fstype")]
    fstype: Option<String>,
    /// Mount options, comma-separated (repeatable)
    #[arg(short = 'o', long = "options", value_name = "options")]
    options: Vec<String>,
    /// Mount on top of the union at the mountpoint (same as -o union)
    #[arg(long = "union")]
    union: bool,
    /// List the mounts, marking filesystems stacked on one mountpoint
    #[arg(short = 'l', long = "show-labels")]
    list: bool,
    /// Tell whether the running kernel supports union mounts (mounts only
    /// scratch tmpfs instances in a private mount namespace)
    #[arg(long = "check")]
    check: bool,
    /// Union engine for -o union: `native` (the kernel's MS_UNION), `fuse`
    /// (the userspace engine: needs lowerdir=) or `auto` (native where the
    /// kernel has union mounts, else fuse when lowerdir= is given); with
    /// fuse, -o passthrough lets the kernel read lower files opened
    /// read-only itself (Linux 6.9+, root; see the man page)
    #[arg(long = "engine", value_name = "engine", default_value = "auto",
          value_parser = ["auto", "native", "fuse"])]
    engine: String,
    /// FUSE engine: stay in the foreground (for debugging) instead of
    /// detaching once the mount is up
    #[arg(short = 'F', long = "foreground")]
    foreground: bool,
    /// What to mount: a block device, an image file (a loop device is set up) or a directory
    source: Option<PathBuf>,
    /// Where to mount it
    target: Option<PathBuf>,
}

fn main() -> ExitCode {
    // Installed as /sbin/umount.fuse.union-ext2 too, for umount(8).
    if umount_helper::invoked_as_helper() {
        return umount_helper::main();
    }
    let cli: Cli = match cli_common::parse_args(EX_USAGE) {
        Ok(c) => c,
        Err(code) => return code,
    };
    ExitCode::from(run(&cli))
}

fn run(cli: &Cli) -> u8 {
    if cli.version {
        cli_common::outln!("{}", cli_common::version_line("mount-union"));
        return 0;
    }
    if cli.check {
        return match union_check::kernel_supports_union() {
            Ok(true) => {
                cli_common::outln!("mount-union: this kernel supports union mounts (MS_UNION)");
                0
            }
            Ok(false) => {
                cli_common::outln!(
                    "mount-union: this kernel has no union mount support: flag 0x100 is \
                     taken as MS_NOSYMFOLLOW. Use overlayfs (mount -t overlay) instead."
                );
                EX_FAIL
            }
            Err(e) => {
                eprintln!("mount-union: cannot check for union mount support: {e}");
                EX_SYSERR
            }
        };
    }
    if cli.list {
        list_mounts();
        return 0;
    }
    let (Some(source), Some(target)) = (&cli.source, &cli.target) else {
        eprintln!("mount-union: a source and a target are needed (see --help)");
        return EX_USAGE;
    };
    let mut opts = MountOptions::default();
    for o in &cli.options {
        if let Err(e) = opts.apply(o) {
            eprintln!("mount-union: bad option: {e}");
            return EX_USAGE;
        }
    }
    if cli.read_only {
        opts.flags |= ms::RDONLY;
    }
    if cli.read_write {
        opts.flags &= !ms::RDONLY;
    }
    if cli.union {
        opts.flags |= ms::UNION;
    }
    let lower = match opts.take_lowerdir() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("mount-union: bad option: {e}");
            return EX_USAGE;
        }
    };
    let engine = match choose_engine(cli, &lower) {
        Ok(e) => e,
        Err((code, msg)) => {
            eprintln!("mount-union: {msg}");
            return code;
        }
    };
    if engine == Engine::Fuse {
        return run_fuse(cli, source, target, &opts, lower);
    }
    if !lower.is_empty() {
        return match bind_lowers_then_mount(cli, source, target, &opts, &lower) {
            Ok(()) => 0,
            Err((code, msg)) => {
                eprintln!("mount-union: {msg}");
                code
            }
        };
    }
    match mount_one(cli, source, target, &opts) {
        Ok(()) => 0,
        Err((code, msg)) => {
            eprintln!("mount-union: {msg}");
            code
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Engine {
    Native,
    Fuse,
}

/// --engine: auto takes the kernel's union mounts where they exist (never
/// on mainline), else the FUSE engine when there are lower directories.
fn choose_engine(cli: &Cli, lower: &[PathBuf]) -> Result<Engine, (u8, String)> {
    if std::env::var_os(fuse::NOTIFY_ENV).is_some() {
        return Ok(Engine::Fuse);
    }
    match cli.engine.as_str() {
        "native" => Ok(Engine::Native),
        "fuse" if lower.is_empty() => Err((
            EX_USAGE,
            "the FUSE engine needs the lower layers: -o union,lowerdir=DIR[:DIR...]".into(),
        )),
        "fuse" => Ok(Engine::Fuse),
        _ if lower.is_empty() => Ok(Engine::Native),
        _ if native_union_available() => Ok(Engine::Native),
        _ => Ok(Engine::Fuse),
    }
}

/// `mount-union --check` in a child process: the check unshares its mount
/// namespace, which must not happen to the process that mounts.
fn native_union_available() -> bool {
    let Ok(exe) = std::env::current_exe() else {
        return false;
    };
    std::process::Command::new(exe)
        .arg("--check")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The FUSE engine: in the background unless -F.
fn run_fuse(
    cli: &Cli,
    source: &Path,
    target: &Path,
    opts: &MountOptions,
    lower: Vec<PathBuf>,
) -> u8 {
    let mut opts = opts.clone();
    let passthrough = opts.take_flag("passthrough");
    if cli.fake {
        if cli.verbose {
            cli_common::outln!(
                "fuse: top={} lower={} target={}",
                source.display(),
                lower
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(":"),
                target.display()
            );
        }
        return 0;
    }
    let m = fuse::FuseMount {
        top: source.to_path_buf(),
        lower,
        target: target.to_path_buf(),
        read_only: opts.flags & ms::RDONLY != 0,
        flags: opts.flags,
        verbose: cli.verbose,
        passthrough,
        record_utab: !cli.no_mtab,
    };
    let notify = std::env::var_os(fuse::NOTIFY_ENV).is_some();
    if cli.foreground || notify {
        return match fuse::run_foreground(&m, notify) {
            Ok(()) => 0,
            Err(msg) => {
                // One write: a detached engine's stderr is the kernel log.
                let line = format!("mount-union: {msg}\n");
                eprint!("{line}");
                EX_FAIL
            }
        };
    }
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    match fuse::run_background(&args) {
        Ok(()) => {
            if cli.verbose {
                cli_common::outln!(
                    "mount-union: {} mounted on {} (FUSE union engine)",
                    source.display(),
                    target.display()
                );
            }
            0
        }
        Err((code, msg)) => {
            eprintln!("mount-union: {msg}");
            code
        }
    }
}

/// The native engine with lowerdir=: each lower directory is bind-mounted
/// read-only on the mountpoint (the last one first), then the top layer
/// with MS_UNION. Everything is undone when the union does not form.
fn bind_lowers_then_mount(
    cli: &Cli,
    source: &Path,
    target: &Path,
    opts: &MountOptions,
    lower: &[PathBuf],
) -> Result<(), (u8, String)> {
    use rustix::mount::{mount_bind, mount_remount, unmount, MountFlags, UnmountFlags};
    let mut done = 0;
    let undo = |n: usize| {
        for _ in 0..n {
            let _ = unmount(target, UnmountFlags::empty());
        }
    };
    if !cli.fake {
        for l in lower.iter().rev() {
            if !l.is_dir() {
                undo(done);
                return Err((
                    EX_USAGE,
                    format!(
                        "{}: the native engine takes directories as lower layers",
                        l.display()
                    ),
                ));
            }
            if let Err(e) = mount_bind(l, target) {
                undo(done);
                return Err((
                    EX_FAIL,
                    format!(
                        "bind-mounting {} failed: {}",
                        l.display(),
                        std::io::Error::from(e)
                    ),
                ));
            }
            done += 1;
            if let Err(e) = mount_remount(target, MountFlags::BIND | MountFlags::RDONLY, "") {
                undo(done);
                return Err((
                    EX_FAIL,
                    format!(
                        "making {} read-only failed: {}",
                        l.display(),
                        std::io::Error::from(e)
                    ),
                ));
            }
        }
    }
    let mut o = opts.clone();
    o.flags |= ms::UNION;
    mount_one(cli, source, target, &o).inspect_err(|_| undo(done))
}

fn probe_fstype(source: &Path, offset: u64) -> Result<String, String> {
    let f = std::fs::File::open(source).map_err(|e| format!("{}: {e}", source.display()))?;
    match ext2fs::superblock::Superblock::probe(&f, source, offset) {
        Ok(s) if s.has_compat(ext2fs::features::compat::HAS_JOURNAL) => Ok("ext3".into()),
        Ok(_) => Ok("ext2".into()),
        Err(ext2fs::Error::Io { .. }) => Err(format!(
            "{}: too small to hold a filesystem",
            source.display()
        )),
        Err(_) => Err(format!(
            "{}: cannot find an ext2 superblock; give the filesystem type with -t",
            source.display()
        )),
    }
}

/// The loop device to mount `source` through. As util-linux's mount does,
/// a device already bound to the same file (by identity) at the same
/// offset is reused: a second loop device would be a second, independent
/// cache of the same bytes, and writes through one would be lost.
fn loop_device(
    source: &Path,
    read_only: bool,
    offset: u64,
    want: Option<&Path>,
) -> Result<loopdev::LoopDevice, (u8, String)> {
    let setup_failed = |e: std::io::Error| {
        (
            EX_SYSERR,
            format!("{}: failed to set up a loop device: {e}", source.display()),
        )
    };
    if want.is_none() {
        let existing =
            loopdev::find_reusable(source, offset).map_err(|e| (EX_FAIL, e.to_string()))?;
        if let Some(b) = existing {
            if b.read_only && !read_only {
                return Err((
                    EX_FAIL,
                    format!(
                        "{} is already bound read-only to {}; mount it read-only (-r)",
                        source.display(),
                        b.path.display()
                    ),
                ));
            }
            return loopdev::open_bound(&b, read_only).map_err(setup_failed);
        }
    }
    loopdev::attach(source, read_only, offset, want).map_err(setup_failed)
}

fn mount_one(
    cli: &Cli,
    source: &Path,
    target: &Path,
    opts: &MountOptions,
) -> Result<(), (u8, String)> {
    let fail = |m: String| (EX_FAIL, m);
    let src_meta =
        std::fs::metadata(source).map_err(|e| fail(format!("{}: {e}", source.display())))?;
    if let Some(e) = mount_union::utab::dead_mount(target) {
        return Err(fail(e));
    }
    if !target.is_dir() {
        return Err(fail(format!(
            "mount point {} does not exist or is not a directory",
            target.display()
        )));
    }
    let bind = opts.flags & ms::BIND != 0;
    let fstype = if bind || opts.flags & ms::REMOUNT != 0 {
        String::new()
    } else {
        match &cli.fstype {
            Some(t) => t.clone(),
            None => probe_fstype(source, opts.offset).map_err(fail)?,
        }
    };
    // Names visible at the mountpoint before: with a union they must stay visible.
    let below: Vec<std::ffi::OsString> = if opts.flags & ms::UNION != 0 {
        std::fs::read_dir(target)
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let read_only = opts.flags & ms::RDONLY != 0;
    let needs_loop = src_meta.is_file() && !bind;
    let mut dev_path = source.to_path_buf();
    let mut loop_dev = None;
    if needs_loop && !cli.fake {
        let want = opts.loop_dev.clone().flatten().map(PathBuf::from);
        let l = loop_device(source, read_only, opts.offset, want.as_deref())?;
        dev_path = l.path.clone();
        loop_dev = Some(l);
    } else if opts.offset != 0 && !needs_loop {
        return Err((
            EX_USAGE,
            "offset= only applies to image files (loop devices)".into(),
        ));
    }
    let data = opts.data_string();
    if cli.verbose {
        let names = options::flag_names(opts.flags);
        cli_common::outln!(
            "mount(2): source={} target={} type={} flags=0x{:x} ({}) data={}",
            dev_path.display(),
            target.display(),
            if fstype.is_empty() { "none" } else { &fstype },
            opts.flags,
            if names.is_empty() {
                "none".into()
            } else {
                names.join("|")
            },
            if data.is_empty() { "none" } else { &data }
        );
    }
    if cli.fake {
        return Ok(());
    }
    let flags = rustix::mount::MountFlags::from_bits_retain(opts.flags as _);
    let fs_arg = if fstype.is_empty() {
        None
    } else {
        Some(fstype.as_str())
    };
    let data_c = std::ffi::CString::new(data.clone())
        .map_err(|_| (EX_USAGE, "mount options contain a NUL byte".to_string()))?;
    let res = rustix::mount::mount2(
        Some(dev_path.as_path()),
        target,
        fs_arg,
        flags,
        if data.is_empty() {
            None
        } else {
            Some(data_c.as_c_str())
        },
    );
    if let Err(e) = res {
        if let Some(l) = loop_dev {
            let _ = l.detach();
        }
        // As mount(8): EINVAL and EIO mostly mean the source is not what
        // the type or options say; name the likely causes.
        let hint = match e {
            rustix::io::Errno::INVAL | rustix::io::Errno::IO => format!(
                "\n       wrong fs type, bad option, bad superblock on {}, or other error",
                dev_path.display()
            ),
            rustix::io::Errno::NODEV => format!(
                "\n       unknown filesystem type '{}'",
                fs_arg.unwrap_or_default()
            ),
            _ => String::new(),
        };
        return Err(fail(format!(
            "mounting {} on {} failed: {}{hint}",
            source.display(),
            target.display(),
            std::io::Error::from(e)
        )));
    }
    if opts.flags & ms::UNION != 0 {
        if let Err(why) = union_check::union_formed(target, &below) {
            let undo = rustix::mount::unmount(target, rustix::mount::UnmountFlags::empty());
            let undone = match undo {
                Ok(()) => "the mount was undone".to_string(),
                Err(e) => format!("undoing the mount failed too: {}", std::io::Error::from(e)),
            };
            return Err(fail(format!(
                "{} on {}: the union did not form ({why}); this kernel has no union mount \
                 support, {undone}. Use overlayfs instead (mount -t overlay overlay -o \
                 lowerdir=...,upperdir=...,workdir=... {}).",
                source.display(),
                target.display(),
                target.display()
            )));
        }
    }
    // Autoclear: the loop device goes away with the last unmount.
    drop(loop_dev);
    Ok(())
}

/// `mount -l`: every mount, marking filesystems stacked on one mountpoint
/// (the layers of a union).
fn list_mounts() {
    let mounts = ext2fs::image::read_mountinfo();
    for m in &mounts {
        let stacked: Vec<_> = mounts
            .iter()
            .filter(|x| x.mountpoint == m.mountpoint)
            .collect();
        let mut line = format!(
            "{} on {} type {} ({})",
            m.source,
            m.mountpoint.display(),
            m.fstype,
            m.options
        );
        if stacked.len() > 1 {
            let pos = stacked
                .iter()
                .position(|x| std::ptr::eq(*x, m))
                .unwrap_or(0);
            line.push_str(&format!(" [union layer {} of {}]", pos + 1, stacked.len()));
        }
        cli_common::outln!("{line}");
    }
}
