//! Loop devices: which file backs each one (by identity, for the "is
//! this image mounted?" checks) and, for mount-union, binding an image as
//! util-linux's mount does: a free device from /dev/loop-control, bound
//! with LOOP_CONFIGURE and the autoclear flag (the kernel detaches it at
//! the last unmount/close).
//!
//! This is the workspace's only `unsafe` (every other module is under the
//! workspace's `unsafe_code = "deny"`): the loop ioctls, which none of our
//! dependencies wraps. Each call passes a valid open fd and, for
//! LOOP_CONFIGURE and LOOP_GET_STATUS64, a pointer to a `LoopConfig` /
//! `LoopInfo64` that lives across the call.
#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

const LOOP_CTL_GET_FREE: libc::c_ulong = 0x4C82;
const LOOP_CONFIGURE: libc::c_ulong = 0x4C0A;
const LOOP_CLR_FD: libc::c_ulong = 0x4C01;
const LOOP_GET_STATUS64: libc::c_ulong = 0x4C05;
const LO_FLAGS_READ_ONLY: u32 = 1;
const LO_FLAGS_AUTOCLEAR: u32 = 4;

/// `struct loop_info64` (linux/loop.h).
#[repr(C)]
#[derive(Clone, Copy)]
struct LoopInfo64 {
    lo_device: u64,
    lo_inode: u64,
    lo_rdevice: u64,
    lo_offset: u64,
    lo_sizelimit: u64,
    lo_number: u32,
    lo_encrypt_type: u32,
    lo_encrypt_key_size: u32,
    lo_flags: u32,
    lo_file_name: [u8; 64],
    lo_crypt_name: [u8; 64],
    lo_encrypt_key: [u8; 32],
    lo_init: [u64; 2],
}

/// `struct loop_config` (linux/loop.h).
#[repr(C)]
struct LoopConfig {
    fd: u32,
    block_size: u32,
    info: LoopInfo64,
    reserved: [u64; 8],
}

impl LoopInfo64 {
    fn zeroed() -> Self {
        LoopInfo64 {
            lo_device: 0,
            lo_inode: 0,
            lo_rdevice: 0,
            lo_offset: 0,
            lo_sizelimit: 0,
            lo_number: 0,
            lo_encrypt_type: 0,
            lo_encrypt_key_size: 0,
            lo_flags: 0,
            lo_file_name: [0; 64],
            lo_crypt_name: [0; 64],
            lo_encrypt_key: [0; 32],
            lo_init: [0; 2],
        }
    }
}

/// A (major, minor) device number.
pub type DevNum = (u32, u32);

/// The kernel's `huge_encode_dev` form, as LOOP_GET_STATUS64 reports
/// `lo_device`, split into major and minor.
fn decode_kernel_dev(dev: u64) -> DevNum {
    let major = ((dev & 0xfff00) >> 8) as u32;
    let minor = ((dev & 0xff) | ((dev >> 12) & 0xfff00)) as u32;
    (major, minor)
}

/// The identity of a file: the device it lives on and its inode number.
/// Names (hard links, bind mounts, other namespaces) do not matter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileId {
    /// The device (major, minor) it lives on.
    pub dev: DevNum,
    /// Its inode number there.
    pub ino: u64,
}

impl FileId {
    /// The identity of the file `meta` describes.
    pub fn of(meta: &std::fs::Metadata) -> Self {
        FileId {
            dev: (rustix::fs::major(meta.dev()), rustix::fs::minor(meta.dev())),
            ino: meta.ino(),
        }
    }
}

/// A bound loop device and what backs it.
#[derive(Clone, Debug)]
pub struct Binding {
    /// The device node, /dev/loopN.
    pub path: PathBuf,
    /// The loop device's own number, and those of its partitions.
    pub devices: Vec<DevNum>,
    /// The backing file.
    pub backing: FileId,
    /// Byte offset into the backing file.
    pub offset: u64,
    /// Most bytes of the backing file used (0: to its end).
    pub sizelimit: u64,
    /// Whether the binding is read-only.
    pub read_only: bool,
}

/// What LOOP_GET_STATUS64 says of an open loop device; None when the
/// device is not bound (ENXIO) or is not a loop device.
fn status(file: &File) -> Option<LoopInfo64> {
    let mut info = LoopInfo64::zeroed();
    // SAFETY: a valid open fd and a pointer to a LoopInfo64 that outlives
    // the call; the kernel writes exactly one struct loop_info64 into it.
    let r = unsafe {
        libc::ioctl(
            file.as_raw_fd(),
            LOOP_GET_STATUS64,
            &mut info as *mut LoopInfo64,
        )
    };
    (r == 0).then_some(info)
}

/// `maj:min` as sysfs writes it in a `dev` file.
fn read_sysfs_dev(path: &Path) -> Option<DevNum> {
    let s = std::fs::read_to_string(path).ok()?;
    let (a, b) = s.trim().split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Every bound loop device (those this process may open), found through
/// /sys/block and asked for its backing file's identity.
pub fn bindings() -> Vec<Binding> {
    let Ok(entries) = std::fs::read_dir("/sys/block") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str().filter(|n| n.starts_with("loop")) else {
            continue;
        };
        let path = PathBuf::from("/dev").join(name);
        let Ok(file) = File::open(&path) else {
            continue;
        };
        let Some(info) = file
            .metadata()
            .ok()
            .filter(|m| m.file_type().is_block_device())
            .and(status(&file))
        else {
            continue;
        };
        let mut devices = Vec::new();
        devices.extend(read_sysfs_dev(&e.path().join("dev")));
        // Partitions (loopNpM) are subdirectories with their own `dev`.
        if let Ok(parts) = std::fs::read_dir(e.path()) {
            for p in parts.flatten() {
                if p.file_name().to_string_lossy().starts_with(name) {
                    devices.extend(read_sysfs_dev(&p.path().join("dev")));
                }
            }
        }
        out.push(Binding {
            path,
            devices,
            backing: FileId {
                dev: decode_kernel_dev(info.lo_device),
                ino: info.lo_inode,
            },
            offset: info.lo_offset,
            sizelimit: info.lo_sizelimit,
            read_only: info.lo_flags & LO_FLAGS_READ_ONLY != 0,
        });
    }
    out
}

/// The loop devices backed by the file `id`, whatever name it was bound by.
pub fn backed_by(id: FileId) -> Vec<Binding> {
    bindings().into_iter().filter(|b| b.backing == id).collect()
}

/// Whether a block device is held open exclusively (O_EXCL) by someone:
/// the kernel does so for every mount, also in other mount namespaces.
pub fn held_exclusively(device: &Path) -> bool {
    let r = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_EXCL)
        .open(device);
    matches!(r, Err(e) if e.raw_os_error() == Some(libc::EBUSY))
}

/// An attached loop device; keep it open until the mount is made.
pub struct LoopDevice {
    /// The device node, /dev/loopN.
    pub path: PathBuf,
    file: File,
    /// Bound by us (not an existing binding being reused).
    ours: bool,
}

impl LoopDevice {
    /// Whether this is an existing binding we reuse.
    pub fn reused(&self) -> bool {
        !self.ours
    }

    /// Detaches the device now (when the mount failed). A reused binding
    /// belongs to someone else and is left alone.
    pub fn detach(self) -> io::Result<()> {
        if !self.ours {
            return Ok(());
        }
        // SAFETY: a valid open loop-device fd; LOOP_CLR_FD takes no argument.
        let r = unsafe { libc::ioctl(self.file.as_raw_fd(), LOOP_CLR_FD, 0) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

fn free_device() -> io::Result<PathBuf> {
    let ctl = File::open("/dev/loop-control")?;
    // SAFETY: a valid open fd; LOOP_CTL_GET_FREE takes no argument.
    let n = unsafe { libc::ioctl(ctl.as_raw_fd(), LOOP_CTL_GET_FREE) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(PathBuf::from(format!("/dev/loop{n}")))
}

/// The device already bound to the same file as `image` at `offset`
/// (util-linux's mount reuses it rather than making a second, independent
/// view of the same bytes); Err when one covers an overlapping range at
/// another offset.
pub fn find_reusable(image: &Path, offset: u64) -> io::Result<Option<Binding>> {
    let id = FileId::of(&std::fs::metadata(image)?);
    let mut same = None;
    for b in backed_by(id) {
        if b.offset == offset && b.sizelimit == 0 {
            same = Some(b);
        } else {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "overlapping loop device exists for {} ({} at offset {})",
                    image.display(),
                    b.path.display(),
                    b.offset
                ),
            ));
        }
    }
    Ok(same)
}

/// Opens an already bound loop device to mount it (keep it open until the
/// mount is made, so that autoclear cannot detach it in between).
pub fn open_bound(binding: &Binding, read_only: bool) -> io::Result<LoopDevice> {
    let file = OpenOptions::new()
        .read(true)
        .write(!read_only)
        .open(&binding.path)?;
    Ok(LoopDevice {
        path: binding.path.clone(),
        file,
        ours: false,
    })
}

/// Binds `image` to a loop device (the given one, or a free one).
pub fn attach(
    image: &Path,
    read_only: bool,
    offset: u64,
    device: Option<&Path>,
) -> io::Result<LoopDevice> {
    let backing = OpenOptions::new()
        .read(true)
        .write(!read_only)
        .open(image)?;
    let mut last = io::Error::other("no loop device could be configured");
    // Another program may take the free device first: try a few times.
    for _ in 0..5 {
        let path = match device {
            Some(d) => d.to_path_buf(),
            None => free_device()?,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(!read_only)
            .open(&path)?;
        let mut name = [0u8; 64];
        let s = image.as_os_str().as_encoded_bytes();
        name[..s.len().min(63)].copy_from_slice(&s[..s.len().min(63)]);
        let config = LoopConfig {
            fd: backing.as_raw_fd() as u32,
            block_size: 0,
            info: LoopInfo64 {
                lo_offset: offset,
                lo_flags: LO_FLAGS_AUTOCLEAR | if read_only { LO_FLAGS_READ_ONLY } else { 0 },
                lo_file_name: name,
                ..LoopInfo64::zeroed()
            },
            reserved: [0; 8],
        };
        // SAFETY: valid fd and a pointer to an initialised LoopConfig that
        // outlives the call; the kernel only reads it.
        let r = unsafe {
            libc::ioctl(
                file.as_raw_fd(),
                LOOP_CONFIGURE,
                &config as *const LoopConfig,
            )
        };
        if r == 0 {
            return Ok(LoopDevice {
                path,
                file,
                ours: true,
            });
        }
        last = io::Error::last_os_error();
        if device.is_some() || last.raw_os_error() != Some(libc::EBUSY) {
            break;
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_device_numbers_decode() {
        // huge_encode_dev(MKDEV(259, 0x12345)): minor's low byte at the
        // bottom, major at bit 8, the minor's upper bits from bit 20.
        let enc = 0x45 | (259 << 8) | (0x123 << 20);
        assert_eq!(decode_kernel_dev(enc), (259, 0x12345));
        assert_eq!(decode_kernel_dev((8 << 8) | 1), (8, 1));
    }
}
