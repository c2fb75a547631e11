//! Output shapes shared by several commands: times as debugfs prints
//! them, hex dumps, block run lists, file type names.

use std::io::Write;

use chrono::{Datelike, Local, TimeZone};
use ext2fs::inode::{self, Inode};

pub use cli_common::asctime as time_string;

/// ls -l's date: `25-Nov-2026 14:50` (day right-aligned in 2).
pub fn ls_date(t: i64) -> String {
    match Local.timestamp_opt(t, 0).single() {
        Some(d) => format!("{:>2}{}", d.day(), d.format("-%b-%Y %H:%M")),
        None => format!("{t:>17}"),
    }
}

/// An inode time field: signed 32 bits, extended by the epoch bits of
/// the `_extra` field when present.
pub fn inode_time(secs: u32, extra: Option<u32>) -> i64 {
    let base = secs as i32 as i64;
    match extra {
        Some(x) => base + (((x & 3) as i64) << 32),
        None => base,
    }
}

/// debugfs' `stat` type word.
pub fn type_name(i: &Inode) -> &'static str {
    match i.file_type() {
        inode::S_IFDIR => "directory",
        inode::S_IFREG => "regular",
        inode::S_IFCHR => "character special",
        inode::S_IFBLK => "block special",
        inode::S_IFLNK => "symlink",
        inode::S_IFIFO => "FIFO",
        inode::S_IFSOCK => "socket",
        _ => "bad type",
    }
}

/// A hex dump in debugfs' layout (do_byte_hexdump): octal offsets, 16
/// bytes a line in 2-byte groups, printable characters, `*` for repeated
/// lines. A line is a repeat when its bytes (fewer on the last line)
/// equal as many bytes just before it, or, once suppressing, the line
/// where the suppression began.
pub fn hexdump(out: &mut dyn Write, buf: &[u8]) -> std::io::Result<()> {
    let mut suppress: Option<usize> = None;
    for i in (0..buf.len()).step_by(16) {
        let n = (buf.len() - i).min(16);
        let line = &buf[i..i + n];
        match suppress {
            None if i > 0 && buf[i - n..i] == *line => {
                suppress = Some(i);
                writeln!(out, "*")?;
                continue;
            }
            Some(s) if buf[s..s + n] == *line => continue,
            _ => suppress = None,
        }
        let mut s = format!("{i:04o}  ");
        for j in 0..16 {
            match line.get(j) {
                Some(b) => s.push_str(&format!("{b:02x}")),
                None => s.push_str("  "),
            }
            if j % 2 == 1 {
                s.push(' ');
            }
        }
        s.push(' ');
        for &b in line {
            s.push(if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '.'
            });
        }
        writeln!(out, "{s}")?;
    }
    writeln!(out)
}

/// One entry of a block list: a data block at a logical number, or a
/// map block (IND, DIND, TIND).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListItem {
    Data(u64, u32),
    Meta(&'static str, u32),
}

/// `(0-11):563-574, (IND):575, (12-19):576-583`: runs of data blocks
/// logically and physically consecutive, map blocks on their own.
pub fn block_runs(items: &[ListItem]) -> String {
    let mut parts = Vec::new();
    let mut run: Option<(u64, u32, u32)> = None; // (first logical, first phys, count)
    let flush = |run: &mut Option<(u64, u32, u32)>, parts: &mut Vec<String>| {
        if let Some((l, p, n)) = run.take() {
            if n == 1 {
                parts.push(format!("({l}):{p}"));
            } else {
                parts.push(format!(
                    "({l}-{}):{p}-{}",
                    l + n as u64 - 1,
                    p as u64 + n as u64 - 1
                ));
            }
        }
    };
    for it in items {
        match *it {
            ListItem::Data(l, p) => {
                if let Some((rl, rp, n)) = run {
                    if rl + n as u64 == l && rp as u64 + n as u64 == p as u64 {
                        run = Some((rl, rp, n + 1));
                        continue;
                    }
                }
                flush(&mut run, &mut parts);
                run = Some((l, p, 1));
            }
            ListItem::Meta(name, p) => {
                flush(&mut run, &mut parts);
                parts.push(format!("({name}):{p}"));
            }
        }
    }
    flush(&mut run, &mut parts);
    parts.join(", ")
}

/// Bytes as debugfs prints an xattr value or a string: printable runs as
/// they are, others as `\ooo` octal escapes.
pub fn escaped(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        if (0x20..0x7f).contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("\\{b:03o}"));
        }
    }
    s
}

/// Bytes as e2fsprogs' print_c_string shows an attribute value: C escapes
/// for the usual control characters, backslash and quotes, octal for the
/// other unprintable bytes.
pub fn c_string(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        match b {
            0x07 => s.push_str("\\a"),
            0x08 => s.push_str("\\b"),
            0x0c => s.push_str("\\f"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            0x0b => s.push_str("\\v"),
            b'\\' => s.push_str("\\\\"),
            b'\'' => s.push_str("\\'"),
            b'"' => s.push_str("\\\""),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\{b:03o}")),
        }
    }
    s
}

/// glibc's qsort as debugfs' listings get it (msort_with_tmp: halves
/// sorted in turn, then merged taking the left one unless `cmp` says it
/// is greater), so that a comparator that is not a true order (lsdel's
/// wrapping time difference) leaves the items where debugfs leaves them.
pub fn glibc_msort<T: Clone>(v: &mut [T], cmp: &dyn Fn(&T, &T) -> i32) {
    if v.len() <= 1 {
        return;
    }
    let n1 = v.len() / 2;
    glibc_msort(&mut v[..n1], cmp);
    glibc_msort(&mut v[n1..], cmp);
    let (left, right) = (v[..n1].to_vec(), v[n1..].to_vec());
    let (mut i, mut j) = (0, 0);
    for slot in v.iter_mut() {
        let take_left = j == right.len() || (i < left.len() && cmp(&left[i], &right[j]) <= 0);
        if take_left {
            *slot = left[i].clone();
            i += 1;
        } else {
            *slot = right[j].clone();
            j += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs() {
        let items = [
            ListItem::Data(0, 10),
            ListItem::Data(1, 11),
            ListItem::Meta("IND", 12),
            ListItem::Data(12, 13),
            ListItem::Data(14, 20),
        ];
        assert_eq!(
            block_runs(&items),
            "(0-1):10-11, (IND):12, (12):13, (14):20"
        );
    }

    #[test]
    fn c_strings_like_print_c_string() {
        assert_eq!(
            c_string(b"a\nb\t\\\"'\x01\xff"),
            "a\\nb\\t\\\\\\\"\\'\\001\\377"
        );
    }

    #[test]
    fn dump_suppresses_repeats() {
        let mut out = Vec::new();
        hexdump(&mut out, &[0u8; 64]).unwrap();
        let t = String::from_utf8(out).unwrap();
        assert_eq!(t.lines().count(), 3);
        assert!(t.contains("*\n"));
    }
}
