//! The device's sector sizes, which set the smallest block size mke2fs
//! picks: the kernel's for a block device (0 for a file), overridden by
//! MKE2FS_DEVICE_SECTSIZE and MKE2FS_DEVICE_PHYS_SECTSIZE as mke2fs does.

use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use anyhow::{Context, Result};

/// The page size mke2fs compares block sizes with (x86-64, arm64 with 4K
/// pages: what e2fsprogs' sys_page_size is on the platforms we build for).
pub const PAGE_SIZE: u32 = 4096;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SectorSizes {
    pub logical: u32,
    pub physical: u32,
}

/// C's atoi: optional blanks and sign, then digits; 0 when there are none.
pub fn atoi(s: &str) -> i64 {
    let s = s.trim_start();
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let v = rest[..end].parse::<i64>().unwrap_or(0);
    if neg {
        -v
    } else {
        v
    }
}

/// Sector sizes of `device` (a missing or regular file has none), with
/// the environment's overrides; the physical size defaults to the logical.
pub fn sizes(device: &Path) -> Result<SectorSizes> {
    let mut s = SectorSizes::default();
    if let Ok(meta) = std::fs::metadata(device) {
        if meta.file_type().is_block_device() {
            let f = std::fs::File::open(device)
                .context("while trying to determine hardware sector size")?;
            s.logical = rustix::fs::ioctl_blksszget(&f)
                .context("while trying to determine hardware sector size")?;
            s.physical = rustix::fs::ioctl_blkpbszget(&f)
                .context("while trying to determine physical sector size")?;
        }
    }
    if let Ok(v) = std::env::var("MKE2FS_DEVICE_SECTSIZE") {
        s.logical = atoi(&v).clamp(0, u32::MAX as i64) as u32;
    }
    if let Ok(v) = std::env::var("MKE2FS_DEVICE_PHYS_SECTSIZE") {
        s.physical = atoi(&v).clamp(0, u32::MAX as i64) as u32;
    }
    if s.physical == 0 {
        s.physical = s.logical;
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::atoi;

    #[test]
    fn atoi_like_c() {
        assert_eq!(atoi("2048"), 2048);
        assert_eq!(atoi(" 512x"), 512);
        assert_eq!(atoi("x"), 0);
        assert_eq!(atoi("-4"), -4);
    }
}
