//! What else a device may hold when it has no ext2 superblock: another
//! filesystem recognised by its magic (as libblkid would name these few
//! types), with its label, for the plausibility note e2fsprogs prints.

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

/// e2fsck's line "<dev> contains a <type> file system[ labelled '<l>']",
/// or None when no known type is found.
pub fn describe(device: &str) -> Option<String> {
    let mut f = std::fs::File::open(device).ok()?;
    let kind = KINDS
        .iter()
        .find(|k| read(&mut f, k.magic_at, k.magic.len()).as_deref() == Some(k.magic))?;
    let raw = read(&mut f, kind.label_at, kind.label_len).unwrap_or_default();
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    let label = String::from_utf8_lossy(&raw[..end]);
    Some(if label.is_empty() {
        format!("{device} contains a {} file system\n", kind.name)
    } else {
        format!(
            "{device} contains a {} file system labelled '{label}'\n",
            kind.name
        )
    })
}
