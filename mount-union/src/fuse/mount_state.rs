//! The top image's superblock state while the engine has it, as the
//! kernel's ext2 keeps it: mounting clears the valid bit, counts the mount
//! and stamps the mount time, on disk before the first request; a clean
//! unmount writes everything out and only then puts back the state the
//! image had at mount. An engine killed in between leaves an image that
//! e2fsck checks instead of calling it clean.

use ext2fs::fs::Filesystem;
use ext2fs::superblock::{STATE_ERROR, STATE_VALID};

/// e2fsprogs' and the kernel's EXT2_DFL_MAX_MNT_COUNT.
const DEFAULT_MAX_MOUNT_COUNT: i16 = 20;

/// The state to restore at a clean unmount.
pub struct InUse {
    state_at_mount: u16,
}

/// Marks the image in use (not clean) and makes that durable. Returns the
/// warnings the kernel prints for such a mount.
pub fn mark_in_use(fs: &mut Filesystem) -> Result<(InUse, Vec<String>), ext2fs::Error> {
    let sb = fs.sb();
    let mut warnings = Vec::new();
    if sb.s_state & STATE_VALID == 0 {
        warnings.push("mounting an unchecked filesystem: running e2fsck is recommended".into());
    } else if sb.s_state & STATE_ERROR != 0 {
        warnings.push("mounting a filesystem with errors: running e2fsck is recommended".into());
    } else if sb.s_max_mnt_count as i16 > 0 && sb.s_mnt_count >= sb.s_max_mnt_count {
        warnings.push("maximal mount count reached: running e2fsck is recommended".into());
    }
    let in_use = InUse {
        state_at_mount: sb.s_state,
    };
    fs.update_superblock(|sb| {
        sb.s_state &= !STATE_VALID;
        if sb.s_max_mnt_count == 0 {
            sb.s_max_mnt_count = DEFAULT_MAX_MOUNT_COUNT as u16;
        }
        sb.s_mnt_count = sb.s_mnt_count.wrapping_add(1);
        sb.s_mtime = ext2fs::clock::now();
    });
    fs.sync()?;
    Ok((in_use, warnings))
}

/// A clean unmount: everything written and fsynced first, then the state
/// of the mount time back (so an image mounted unchecked stays unchecked),
/// fsynced again. On any error the image stays marked in use.
pub fn mark_released(fs: &mut Filesystem, m: InUse) -> Result<(), ext2fs::Error> {
    fs.sync()?;
    fs.update_superblock(|sb| sb.s_state = m.state_at_mount);
    fs.sync()
}
