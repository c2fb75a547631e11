//! Did the union form? On a kernel without union mounts the MS_UNION bit
//! (0x100) is MS_NOSYMFOLLOW, so mount(2) succeeds and quietly makes an
//! ordinary mount that hides the layers below.

use std::ffi::OsString;
use std::path::Path;

/// Checks the mount just made on `target`: it must not have come out as
/// nosymfollow, and every name visible there before must still be.
pub fn union_formed(target: &Path, below: &[OsString]) -> Result<(), String> {
    let canon = std::fs::canonicalize(target).unwrap_or_else(|_| target.to_path_buf());
    let top = ext2fs::image::read_mountinfo()
        .into_iter()
        .rev()
        .find(|m| m.mountpoint == canon)
        .ok_or("the new mount is not in /proc/self/mountinfo")?;
    if top.options.split(',').any(|o| o == "nosymfollow") {
        return Err("the kernel took flag 0x100 as nosymfollow".into());
    }
    let now: Vec<OsString> = std::fs::read_dir(target)
        .map_err(|e| format!("cannot read {}: {e}", target.display()))?
        .flatten()
        .map(|e| e.file_name())
        .collect();
    if let Some(lost) = below.iter().find(|n| !now.contains(n)) {
        return Err(format!(
            "'{}' from the layer below is not visible through the mountpoint",
            lost.to_string_lossy()
        ));
    }
    Ok(())
}

/// Tries a union of two scratch tmpfs instances in a private mount
/// namespace of this process (nothing on the user's tree is touched).
pub fn kernel_supports_union() -> Result<bool, String> {
    use rustix::mount::{
        mount2, mount_change, mount_remount, unmount, MountFlags, MountPropagationFlags,
        UnmountFlags,
    };
    let err = |what: &str, e: rustix::io::Errno| format!("{what}: {}", std::io::Error::from(e));
    rustix::thread::unshare(rustix::thread::UnshareFlags::NEWNS)
        .map_err(|e| err("unshare(CLONE_NEWNS)", e))?;
    mount_change(
        "/",
        MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
    )
    .map_err(|e| err("making mounts private", e))?;
    let dir = std::env::temp_dir().join(format!("mount-union-check.{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let result = (|| {
        mount2(
            Some("lower"),
            &dir,
            Some("tmpfs"),
            MountFlags::empty(),
            None,
        )
        .map_err(|e| err("mounting the lower tmpfs", e))?;
        std::fs::write(dir.join("lower-only"), b"").map_err(|e| e.to_string())?;
        // Lower layers are read-only.
        mount_remount(&dir, MountFlags::RDONLY, "").map_err(|e| err("remount", e))?;
        let below = vec![OsString::from("lower-only")];
        let flags = MountFlags::from_bits_retain(crate::options::ms::UNION as _);
        mount2(Some("upper"), &dir, Some("tmpfs"), flags, None)
            .map_err(|e| err("mounting the union layer", e))?;
        let ok = union_formed(&dir, &below).is_ok();
        let _ = unmount(&dir, UnmountFlags::empty());
        Ok(ok)
    })();
    let _ = unmount(&dir, UnmountFlags::DETACH);
    let _ = std::fs::remove_dir(&dir);
    result
}
