//! What a device holds, for the plausibility note e2fsprogs prints when a
//! superblock it was asked for is not there (`e2fsck -b`, `debugfs -s`)
//! or before mke2fs overwrites: an ext2/3/4 filesystem at the usual place
//! (named as libblkid names it, with its last mount or creation time), or
//! another filesystem recognised by its magic, with its label.

use std::io::{Read, Seek, SeekFrom};

/// Where one type keeps its magic and its label (both byte offsets).
struct Kind {
    name: &'static str,
    magic_at: u64,
    magic: &'static [u8],
    label_at: u64,
    label_len: usize,
}

const KINDS: &[Kind] = &[
    Kind {
        name: "xfs",
        magic_at: 0,
        magic: b"XFSB",
        label_at: 108,
        label_len: 12,
    },
    Kind {
        name: "btrfs",
        magic_at: 0x10040,
        magic: b"_BHRfS_M",
        label_at: 0x1012b,
        label_len: 256,
    },
    // Linux swap with 4 KiB pages: the signature ends the first page.
    Kind {
        name: "swap",
        magic_at: 4096 - 10,
        magic: b"SWAPSPACE2",
        label_at: 1024 + 28,
        label_len: 16,
    },
];

fn read(f: &mut std::fs::File, at: u64, len: usize) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; len];
    f.seek(SeekFrom::Start(at)).ok()?;
    f.read_exact(&mut buf).ok()?;
    Some(buf)
}

/// The one time e2fsprogs shows of an ext2/3/4 filesystem it found, the
/// first that is set (its print_ext2_info): seconds since the epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stamp {
    /// s_mtime, with s_last_mounted when the kernel recorded one.
    LastMounted {
        /// s_mtime.
        at: u32,
        /// s_last_mounted, empty when unset.
        on: String,
    },
    /// s_mkfs_time.
    Created(u32),
    /// s_wtime.
    Modified(u32),
}

/// A filesystem found on a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// libblkid's type name: ext2, ext3, ext4, ext4dev, jbd, xfs, ...
    pub kind: &'static str,
    /// The volume label, empty when there is none.
    pub label: String,
    /// For an ext2/3/4 filesystem that opens: when it was last used.
    pub stamp: Option<Stamp>,
}

/// What `device` holds at its start, if it is a type we know.
pub fn identify(device: &str) -> Option<Found> {
    let mut f = std::fs::File::open(device).ok()?;
    if let Ok(sb) = crate::superblock::Superblock::probe(&f, std::path::Path::new(device), 0) {
        return Some(Found {
            kind: ext_kind(&sb),
            label: sb.label(),
            stamp: stamp(&sb),
        });
    }
    let kind = KINDS
        .iter()
        .find(|k| read(&mut f, k.magic_at, k.magic.len()).as_deref() == Some(k.magic))?;
    let raw = read(&mut f, kind.label_at, kind.label_len).unwrap_or_default();
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    Some(Found {
        kind: kind.name,
        label: String::from_utf8_lossy(&raw[..end]).into_owned(),
        stamp: None,
    })
}

/// libblkid's name for an ext superblock: ext2 and ext3 only when every
/// feature is one those drivers know, a journal device as jbd.
fn ext_kind(sb: &crate::superblock::Superblock) -> &'static str {
    use crate::features::{compat, incompat, ro_compat};
    let f = sb.features();
    if f.incompat & incompat::JOURNAL_DEV != 0 {
        return "jbd";
    }
    let ro_known = ro_compat::SPARSE_SUPER | ro_compat::LARGE_FILE | ro_compat::BTREE_DIR;
    let ext2_known = incompat::FILETYPE | incompat::META_BG;
    let ext3_known = ext2_known | incompat::RECOVER;
    let journal = f.compat & compat::HAS_JOURNAL != 0;
    let known = if journal { ext3_known } else { ext2_known };
    if f.ro_compat & !ro_known == 0 && f.incompat & !known == 0 {
        return if journal { "ext3" } else { "ext2" };
    }
    if sb.s_flags & crate::superblock::FLAGS_TEST_FILESYS != 0 {
        "ext4dev"
    } else {
        "ext4"
    }
}

/// The time e2fsprogs shows, only when the superblock describes a
/// geometry libext2fs would open (print_ext2_info says nothing of one that
/// does not); ext4 features are no reason to stay silent here.
fn stamp(sb: &crate::superblock::Superblock) -> Option<Stamp> {
    sb.validate().ok()?;
    if sb.s_mtime != 0 {
        Some(Stamp::LastMounted {
            at: sb.s_mtime,
            on: sb.last_mounted(),
        })
    } else if sb.s_mkfs_time != 0 {
        Some(Stamp::Created(sb.s_mkfs_time))
    } else if sb.s_wtime != 0 {
        Some(Stamp::Modified(sb.s_wtime))
    } else {
        None
    }
}
