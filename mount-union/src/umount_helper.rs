//! `umount.fuse.union-ext2`: the unmount helper util-linux's umount(8) runs
//! for a FUSE union engine mount. The kernel does not wait for the engine
//! of a plain `fuse` mount, so without it `umount MNT` returns while the
//! engine is still writing the top image out; the helper unmounts, then
//! waits until the engine has let the image go (its exclusive lock), so
//! that e2fsck can run right after.
//!
//! umount(8) finds the helper by the `helper=` option the engine records
//! for its mount in libmount's utab (`register`): as root, umount looks a
//! mountpoint's type up with statfs(2), which says only `fuse`, unless the
//! utab has an entry for it.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Parser;

/// The engine's FUSE subtype: its mounts show as `fuse.union-ext2`.
pub const SUBTYPE: &str = "union-ext2";
/// The mount type umount(8) sees, and the suffix of the helper's name.
pub const FSTYPE: &str = "fuse.union-ext2";
/// The name umount(8) runs the helper by (a link to mount-union).
pub const HELPER_NAME: &str = "umount.fuse.union-ext2";

/// How long to wait for the engine after the unmount: its last write-out
/// is at most the write cache and an fsync.
const RELEASE_WAIT: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(20);

/// umount(8) exit codes.
const EX_USAGE: u8 = 1;
const EX_SYSERR: u8 = 2;
const EX_FAIL: u8 = 32;

#[derive(Parser, Debug)]
#[command(
    name = HELPER_NAME,
    about = "Unmount a mount-union FUSE mount and wait until the engine has released the top image",
    long_about = "Run by umount(8) for a mount of type fuse.union-ext2 (mount-union's FUSE \
                  engine), with the arguments umount passes to /sbin/umount.<type> helpers. \
                  Unmounts, then waits until the engine has written the top image out and \
                  released it, so that e2fsck can check it at once. Exit status 32 when the \
                  unmount fails or the engine still holds the image after 120 s.",
    disable_version_flag = true
)]
pub struct HelperCli {
    /// The mountpoint
    target: PathBuf,
    /// Do not update libmount's utab (the mount's entry is left there)
    #[arg(short = 'n')]
    no_mtab: bool,
    /// Lazy unmount (MNT_DETACH): detach now and do not wait for the engine
    #[arg(short = 'l')]
    lazy: bool,
    /// Force the unmount (MNT_FORCE)
    #[arg(short = 'f')]
    force: bool,
    /// Verbose: say what was done
    #[arg(short = 'v')]
    verbose: bool,
    /// When the mount is busy, remount it read-only instead
    #[arg(short = 'r')]
    read_only: bool,
    /// The type umount(8) found; it must be the mount's
    #[arg(short = 't', value_name = "type")]
    fstype: Option<String>,
    /// Unmount in this mount namespace (a /proc/PID/ns/mnt or fd path)
    #[arg(short = 'N', value_name = "ns")]
    namespace: Option<PathBuf>,
}

/// Whether this program was started under the helper's name.
pub fn invoked_as_helper() -> bool {
    std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n == HELPER_NAME))
        .unwrap_or(false)
}

/// Runs the helper; the exit status as umount(8) has them.
pub fn main() -> std::process::ExitCode {
    let cli: HelperCli = match cli_common::parse_args(EX_USAGE) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let code = match run(&cli) {
        Ok(()) => 0,
        Err((code, msg)) => {
            eprintln!("{HELPER_NAME}: {msg}");
            code
        }
    };
    std::process::ExitCode::from(code)
}

fn run(cli: &HelperCli) -> Result<(), (u8, String)> {
    if let Some(ns) = &cli.namespace {
        enter_mount_namespace(ns)?;
    }
    let target = &cli.target;
    let mount = ext2fs::image::read_mountinfo()
        .into_iter()
        .rev()
        .find(|m| m.mountpoint == *target)
        .ok_or_else(|| (EX_FAIL, format!("{}: not mounted", target.display())))?;
    if let Some(t) = &cli.fstype {
        if *t != mount.fstype {
            return Err((
                EX_USAGE,
                format!(
                    "{}: the mount is of type {}, not {t}",
                    target.display(),
                    mount.fstype
                ),
            ));
        }
    }
    // The image is opened before the unmount, so the lock waited for is
    // the one on the file the engine has open.
    let image = if mount.fstype == FSTYPE {
        open_image(Path::new(&mount.source))
    } else {
        None
    };
    let mut flags = rustix::mount::UnmountFlags::empty();
    if cli.lazy {
        flags |= rustix::mount::UnmountFlags::DETACH;
    }
    if cli.force {
        flags |= rustix::mount::UnmountFlags::FORCE;
    }
    if let Err(e) = rustix::mount::unmount(target, flags) {
        if e == rustix::io::Errno::BUSY && cli.read_only {
            return remount_read_only(target, cli.verbose);
        }
        return Err((
            EX_FAIL,
            format!("{}: {}", target.display(), std::io::Error::from(e)),
        ));
    }
    if cli.verbose {
        cli_common::outln!("umount: {} unmounted", target.display());
    }
    // umount(8) leaves utab to the helper it runs.
    let unregistered = if cli.no_mtab {
        Ok(())
    } else {
        crate::utab::unregister(&mount.mountpoint)
    };
    if let Err(e) = unregistered {
        eprintln!(
            "{HELPER_NAME}: warning: {}: utab entry left: {e}",
            target.display()
        );
    }
    match image {
        Some((file, path)) if !cli.lazy => wait_for_release(&file, &path),
        _ => Ok(()),
    }
}

fn enter_mount_namespace(ns: &Path) -> Result<(), (u8, String)> {
    let f = File::open(ns).map_err(|e| (EX_SYSERR, format!("{}: {e}", ns.display())))?;
    rustix::thread::move_into_link_name_space(
        f.as_fd(),
        Some(rustix::thread::LinkNameSpaceType::Mount),
    )
    .map_err(|e| {
        (
            EX_SYSERR,
            format!(
                "cannot enter the mount namespace {}: {}",
                ns.display(),
                std::io::Error::from(e)
            ),
        )
    })
}

/// The engine's image, named by the mount's source (the engine mounts
/// with the image's absolute path there); None when it cannot be opened:
/// then there is nothing to wait on, and the unmount goes ahead.
fn open_image(source: &Path) -> Option<(File, PathBuf)> {
    if !source.is_absolute() {
        return None;
    }
    let file = File::open(source).ok()?;
    Some((file, source.to_path_buf()))
}

/// Waits (bounded) until the engine's exclusive lock on the image is gone.
fn wait_for_release(file: &File, path: &Path) -> Result<(), (u8, String)> {
    use rustix::fs::{flock, FlockOperation};
    let deadline = Instant::now() + RELEASE_WAIT;
    loop {
        match flock(file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {
                let _ = flock(file, FlockOperation::Unlock);
                return Ok(());
            }
            Err(rustix::io::Errno::WOULDBLOCK) if Instant::now() < deadline => {
                std::thread::sleep(POLL);
            }
            Err(rustix::io::Errno::WOULDBLOCK) => {
                return Err((
                    EX_FAIL,
                    format!(
                        "unmounted, but the FUSE engine still holds {} after {} s",
                        path.display(),
                        RELEASE_WAIT.as_secs()
                    ),
                ))
            }
            Err(e) => {
                return Err((
                    EX_SYSERR,
                    format!(
                        "unmounted, but cannot wait for the FUSE engine to release {}: {}",
                        path.display(),
                        std::io::Error::from(e)
                    ),
                ))
            }
        }
    }
}

/// umount -r: a busy mount is remounted read-only (the engine keeps it).
fn remount_read_only(target: &Path, verbose: bool) -> Result<(), (u8, String)> {
    rustix::mount::mount_remount(target, rustix::mount::MountFlags::RDONLY, "").map_err(|e| {
        (
            EX_FAIL,
            format!(
                "{}: busy, and remounting read-only failed: {}",
                target.display(),
                std::io::Error::from(e)
            ),
        )
    })?;
    if verbose {
        cli_common::outln!("umount: {} busy - remounted read-only", target.display());
    }
    Ok(())
}

/// Records the engine's mount in libmount's utab with `helper=` naming
/// this helper (through `mount --fake`, which writes utab the way libmount
/// does), so that umount(8) runs it; entries an earlier mount of the same
/// image there left (its engine killed) are dropped first. A failure only
/// means umount will not wait: the caller warns.
pub fn register(source: &Path, target: &Path) -> Result<(), String> {
    crate::utab::drop_stale(source, target)?;
    let helper = format!("helper={FSTYPE}");
    let args: [&std::ffi::OsStr; 6] = [
        "-t".as_ref(),
        FSTYPE.as_ref(),
        "-o".as_ref(),
        helper.as_ref(),
        source.as_os_str(),
        target.as_os_str(),
    ];
    crate::utab::fake("mount", &args)
}
