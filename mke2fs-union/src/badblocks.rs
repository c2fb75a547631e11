//! mke2fs -l: the bad blocks list file, read as ext2fs_read_bb_FILE reads
//! it (fgets of at most 127 bytes, then sscanf "%llu": a piece without a
//! number is skipped, one past 32 bits ends the read), and mke2fs'
//! handle_bad_blocks checks of the list against the new layout.

use std::path::Path;

use anyhow::{bail, Result};
use ext2fs::superblock::Superblock;

use crate::Plain;

/// The numbers the file lists, in order, as ext2fs_read_bb_FILE reads
/// them; errors worded as mke2fs reports them.
pub fn read_list(path: &Path) -> Result<Vec<u64>> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        // fopen succeeds on a directory; its first fgets fails: no list.
        Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => Vec::new(),
        Err(e) => bail!(Plain(format!(
            "read_bad_blocks_file: {} while trying to open {}",
            cli_common::errno_text(e),
            path.display()
        ))),
    };
    let mut out = Vec::new();
    for piece in fgets_pieces(&text) {
        let Some(n) = scan_ullong(piece) else {
            continue;
        };
        if n >> 32 != 0 {
            bail!(Plain(
                "ext2fs_read_bb_FILE: Value too large for defined data type while reading in \
                 list of bad blocks from file"
                    .into()
            ));
        }
        out.push(n);
    }
    Ok(out)
}

/// The pieces fgets(buf, 128) returns: through each newline, at most 127
/// bytes each.
fn fgets_pieces(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let max = rest.len().min(127);
        let end = rest[..max]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(max, |i| i + 1);
        let (piece, tail) = rest.split_at(end);
        rest = tail;
        Some(piece)
    })
}

/// sscanf(piece, "%llu"): blanks, a sign, decimal digits (a minus wraps,
/// a value past 64 bits saturates); None without a digit.
fn scan_ullong(piece: &[u8]) -> Option<u64> {
    let mut s = piece;
    while let [c, rest @ ..] = s {
        if !matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') {
            break;
        }
        s = rest;
    }
    let negative = s.first() == Some(&b'-');
    if matches!(s.first(), Some(b'-' | b'+')) {
        s = &s[1..];
    }
    let digits: Vec<u8> = s
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .copied()
        .collect();
    if digits.is_empty() {
        return None;
    }
    let value = digits.iter().try_fold(0u64, |v, &d| {
        v.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    });
    Some(match (value, negative) {
        (None, _) => u64::MAX,
        (Some(v), true) => v.wrapping_neg(),
        (Some(v), false) => v,
    })
}

/// The listed blocks inside the filesystem (a warning for each other),
/// checked as handle_bad_blocks checks them: none may be in the primary
/// superblock and descriptors (mke2fs counts through the block after
/// them), and a group whose first blocks (its backup superblock and
/// descriptors, where it has them) hold one is warned about.
pub fn check(
    sb: &Superblock,
    desc_blocks: u32,
    group_count: u32,
    listed: &[u64],
) -> Result<Vec<u64>> {
    let first = u64::from(sb.s_first_data_block);
    let count = u64::from(sb.s_blocks_count);
    let mut bad: Vec<u64> = Vec::new();
    for &b in listed {
        if b < first || b >= count {
            eprintln!("Bad block {b} out of range; ignored.");
        } else {
            bad.push(b);
        }
    }
    bad.sort_unstable();
    bad.dedup();
    let must_be_good = first + 1 + u64::from(desc_blocks);
    if let Some(b) = bad.iter().find(|&&b| b <= must_be_good) {
        bail!(Plain(format!(
            "Block {b} in primary superblock/group descriptor area bad.\n\
             Blocks {first} through {must_be_good} must be good in order to build a filesystem.\n\
             Aborting...."
        )));
    }
    let bpg = u64::from(sb.s_blocks_per_group);
    for g in 1..u64::from(group_count) {
        let start = first + g * bpg;
        let end = start + u64::from(desc_blocks) + 1;
        if bad.iter().any(|b| (start..end).contains(b)) {
            eprint!(
                "Warning: the backup superblock/group descriptors at block {start} contain\n\
                 \tbad blocks.\n\n"
            );
        }
    }
    Ok(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_and_numbers_read_as_fgets_and_sscanf() {
        let text = b"100\n  200 junk\nabc\n\n-1\n";
        let pieces: Vec<_> = fgets_pieces(text).collect();
        assert_eq!(pieces.len(), 5);
        let nums: Vec<_> = pieces.iter().filter_map(|p| scan_ullong(p)).collect();
        assert_eq!(nums, vec![100, 200, u64::MAX]);
        let long = [b'7'; 200];
        assert_eq!(fgets_pieces(&long).count(), 2);
        assert_eq!(scan_ullong(b"99999999999999999999999"), Some(u64::MAX));
    }
}
