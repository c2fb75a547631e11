//! Loop devices, as util-linux's mount sets them up: a free device from
//! /dev/loop-control, bound to the image with LOOP_CONFIGURE and the
//! autoclear flag (the kernel detaches it at the last unmount/close).
//!
//! This is the crate's only `unsafe`: the loop ioctls, which none of our
//! dependencies wraps. Each call passes a valid open fd and, for
//! LOOP_CONFIGURE, a pointer to a fully initialised `LoopConfig` that
//! lives across the call.
#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

const LOOP_CTL_GET_FREE: libc::c_ulong = 0x4C82;
const LOOP_CONFIGURE: libc::c_ulong = 0x4C0A;
const LOOP_CLR_FD: libc::c_ulong = 0x4C01;
const LO_FLAGS_READ_ONLY: u32 = 1;
const LO_FLAGS_AUTOCLEAR: u32 = 4;

/// `struct loop_info64` (linux/loop.h).
#[repr(C)]
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

/// An attached loop device; keep it open until the mount is made.
pub struct LoopDevice {
    pub path: PathBuf,
    file: File,
}

impl LoopDevice {
    /// Detaches the device now (when the mount failed).
    pub fn detach(self) -> io::Result<()> {
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
                lo_device: 0,
                lo_inode: 0,
                lo_rdevice: 0,
                lo_offset: offset,
                lo_sizelimit: 0,
                lo_number: 0,
                lo_encrypt_type: 0,
                lo_encrypt_key_size: 0,
                lo_flags: LO_FLAGS_AUTOCLEAR | if read_only { LO_FLAGS_READ_ONLY } else { 0 },
                lo_file_name: name,
                lo_crypt_name: [0; 64],
                lo_encrypt_key: [0; 32],
                lo_init: [0; 2],
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
            return Ok(LoopDevice { path, file });
        }
        last = io::Error::last_os_error();
        if device.is_some() || last.raw_os_error() != Some(libc::EBUSY) {
            break;
        }
    }
    Err(last)
}
