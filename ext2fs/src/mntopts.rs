//! Default mount options (s_default_mount_opts) with the names e2fsprogs
//! gives them (lib/e2p/mntopts.c), and edit lists like `^acl,user_xattr`
//! as mke2fs.conf's `default_mntopts` and tune2fs -o take them.

/// debug: extra debugging output.
pub const DEBUG: u32 = 0x0001;
/// bsdgroups: new files take the directory's group.
pub const BSDGROUPS: u32 = 0x0002;
/// user_xattr: user extended attributes.
pub const XATTR_USER: u32 = 0x0004;
/// acl: POSIX access control lists.
pub const ACL: u32 = 0x0008;
/// uid16: 16-bit uids and gids only.
pub const UID16: u32 = 0x0010;
/// The three journal data modes share these two bits.
pub const JMODE: u32 = 0x0060;

/// Every named option, in e2fsprogs' order.
pub const NAMES: &[(u32, &str)] = &[
    (DEBUG, "debug"),
    (BSDGROUPS, "bsdgroups"),
    (XATTR_USER, "user_xattr"),
    (ACL, "acl"),
    (UID16, "uid16"),
    (0x0020, "journal_data"),
    (0x0040, "journal_data_ordered"),
    (0x0060, "journal_data_writeback"),
    (0x0100, "nobarrier"),
    (0x0200, "block_validity"),
    (0x0400, "discard"),
    (0x0800, "nodelalloc"),
];

/// The mask of one option name (case-insensitive), or of `MNTOPT_<n>`.
pub fn lookup(name: &str) -> Option<u32> {
    if let Some(&(mask, _)) = NAMES.iter().find(|(_, n)| n.eq_ignore_ascii_case(name)) {
        return Some(mask);
    }
    let prefix = name.get(..7)?;
    if !prefix.eq_ignore_ascii_case("MNTOPT_") {
        return None;
    }
    // e2p_string2mntopt reads the number from the ninth character on, so
    // `MNTOPT_5` is refused and `MNTOPT_12` means bit 2: kept, as
    // tune2fs and mke2fs accept exactly these spellings.
    let digits = name.get(8..).filter(|d| !d.is_empty())?;
    let bit: u32 = digits.parse().ok().filter(|b| *b <= 31)?;
    Some(1 << bit)
}

/// Applies an edit list (`opt`, `+opt`, `^opt` or `-opt`, separated by
/// commas or blanks) to `opts`. Err carries the first unknown name.
pub fn apply_edit(opts: &mut u32, list: &str) -> Result<(), String> {
    for word in list
        .split(|c: char| c == ',' || c.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
    {
        let (clear, name) = match word.as_bytes()[0] {
            b'^' | b'-' => (true, &word[1..]),
            b'+' => (false, &word[1..]),
            _ => (false, word),
        };
        let mask = lookup(name).ok_or_else(|| name.to_string())?;
        if mask & JMODE != 0 {
            *opts &= !JMODE;
        }
        if clear {
            *opts &= !mask;
        } else {
            *opts |= mask;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_like_e2p() {
        let mut o = 0;
        apply_edit(&mut o, "acl,user_xattr").unwrap();
        assert_eq!(o, ACL | XATTR_USER);
        apply_edit(&mut o, "^acl").unwrap();
        assert_eq!(o, XATTR_USER);
        apply_edit(&mut o, "journal_data -user_xattr +MNTOPT_12").unwrap();
        assert_eq!(o, 0x20 | 0x4);
        assert_eq!(apply_edit(&mut o, "bogus").unwrap_err(), "bogus");
        assert!(lookup("MNTOPT_5").is_none());
    }
}
