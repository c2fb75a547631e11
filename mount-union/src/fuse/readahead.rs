//! The mount's readahead window widened to what one FUSE request can
//! carry. The kernel starts a FUSE mount's window at 128 KiB and lets the
//! engine only lower it at INIT, so a sequential read of a lower file
//! comes as one 128 KiB READ after another, each a round trip through
//! the engine; with a 1 MiB window each READ carries the 1 MiB the kernel
//! allows a request (its 256-page limit), a quarter of the round trips
//! (1 GiB from a lower file already in the page cache: 0.52 s -> 0.33 s).
//! The window is the mount's backing device's read_ahead_kb in sysfs,
//! which only root may write: elsewhere it stays as the kernel set it.

use std::path::Path;

/// The kernel's largest FUSE request (FUSE_MAX_MAX_PAGES pages of 4 KiB).
const WINDOW_KB: u64 = 1024;

/// Widens the readahead of the FUSE mount at `target` (its last mount
/// there, found in mountinfo without asking the engine, which may not
/// serve yet) to [`WINDOW_KB`], never narrowing it. An error says why it
/// stayed as it was.
pub fn widen(target: &Path) -> std::io::Result<()> {
    let target = std::fs::canonicalize(target)?;
    let mount = ext2fs::image::read_mountinfo()
        .into_iter()
        .rev()
        .find(|m| m.mountpoint == target && m.fstype.starts_with("fuse"))
        .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))?;
    let knob = format!(
        "/sys/class/bdi/{}:{}/read_ahead_kb",
        mount.major, mount.minor
    );
    let now: u64 = std::fs::read_to_string(&knob)?.trim().parse().unwrap_or(0);
    if now < WINDOW_KB {
        std::fs::write(&knob, WINDOW_KB.to_string())?;
    }
    Ok(())
}
