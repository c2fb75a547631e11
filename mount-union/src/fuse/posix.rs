//! The kernel's ext2 rules the engine applies itself, since the top image
//! is never mounted by the kernel: the link limit, device nodes only for
//! root, setgid directories, the root-reserved blocks, and the mount
//! options the kernel enforces on a FUSE mount.

use ext2fs::fs::Filesystem;
use ext2fs::inode::{Inode, LINK_MAX};

use super::errno::Errno;
use crate::options::ms;

/// Who asks (the FUSE request's credentials).
#[derive(Clone, Copy, Debug)]
pub struct Caller {
    pub uid: u32,
    pub gid: u32,
}

impl Caller {
    /// Device nodes are made only with CAP_MKNOD: root here (the request
    /// carries no capabilities).
    pub fn may_mknod(&self, mode: u32) -> Result<(), Errno> {
        let kind = mode & 0o170000;
        if (kind == 0o020000 || kind == 0o060000) && self.uid != 0 {
            return Err(libc::EPERM);
        }
        Ok(())
    }

    /// Whether the caller may use the blocks reserved for root (and for
    /// the superblock's resuid/resgid), as ext2_has_free_blocks decides.
    fn may_use_reserved(&self, fs: &Filesystem) -> bool {
        self.uid == 0
            || self.uid == fs.sb().s_def_resuid as u32
            || self.gid == fs.sb().s_def_resgid as u32
    }

    /// ENOSPC when writing `bytes` would take blocks the caller may not
    /// use (an estimate made before the write: data blocks plus one for
    /// the block map).
    pub fn check_space(&self, fs: &Filesystem, bytes: u64) -> Result<(), Errno> {
        if self.may_use_reserved(fs) {
            return Ok(());
        }
        let need = bytes.div_ceil(fs.block_size() as u64) + 1;
        let free = fs.sb().s_free_blocks_count as u64;
        if free < need + fs.sb().s_r_blocks_count as u64 {
            return Err(libc::ENOSPC);
        }
        Ok(())
    }
}

/// EMLINK when `rec` has as many links as ext2 allows.
pub fn check_links(rec: &Inode) -> Result<(), Errno> {
    if rec.base.i_links_count >= LINK_MAX {
        return Err(libc::EMLINK);
    }
    Ok(())
}

/// Clears what a write, truncate or chown takes from a file (the VFS's
/// should_remove_suid): the setuid bit, and the setgid bit when group
/// execution is on (without it the bit marks mandatory locking and
/// stays). The kernel leaves this to the engine (FUSE_HANDLE_KILLPRIV_V2).
pub fn kill_suidgid(rec: &mut Inode) {
    let mut mode = rec.base.i_mode & !0o4000;
    if mode & 0o0010 != 0 {
        mode &= !0o2000;
    }
    rec.base.i_mode = mode;
}

/// The group and mode of a new object in the directory `parent`
/// (inode_init_owner): a setgid directory gives its group, and its setgid
/// bit to new directories.
pub fn inherit(parent: &Inode, gid: u32, mode: u32) -> (u32, u32) {
    if parent.base.i_mode as u32 & 0o2000 == 0 {
        return (gid, mode);
    }
    let mode = if mode & 0o170000 == 0o040000 {
        mode | 0o2000
    } else {
        mode
    };
    (parent.gid(), mode)
}

/// The kernel mount options for the mount(2) flags the user gave; flags a
/// FUSE mount cannot take are refused rather than dropped.
pub fn mount_options(flags: u64, root: bool) -> Result<Vec<fuser::MountOption>, String> {
    use fuser::MountOption as O;
    let unsupported = [
        (ms::STRICTATIME, "strictatime"),
        (ms::NODIRATIME, "nodiratime"),
        (ms::MANDLOCK, "mand"),
        (ms::BIND, "bind"),
        (ms::REMOUNT, "remount"),
    ];
    for (bit, name) in unsupported {
        if flags & bit != 0 {
            return Err(format!("the FUSE engine does not take -o {name}"));
        }
    }
    let mut out = vec![if flags & ms::RDONLY != 0 {
        O::RO
    } else {
        O::RW
    }];
    // mount(8)'s defaults are suid and dev; an unprivileged mount goes
    // through fusermount3, which allows neither.
    let pairs = [
        (ms::NOSUID, O::NoSuid, Some(O::Suid)),
        (ms::NODEV, O::NoDev, Some(O::Dev)),
        (ms::NOEXEC, O::NoExec, None),
        (ms::SYNCHRONOUS, O::Sync, None),
        (ms::DIRSYNC, O::DirSync, None),
        // Without noatime the kernel's default, relatime, applies.
        (ms::NOATIME, O::NoAtime, None),
    ];
    for (bit, set, default) in pairs {
        if flags & bit != 0 {
            out.push(set);
        } else if let (Some(d), true) = (default, root) {
            out.push(d);
        }
    }
    Ok(out)
}
