//! mke2fs.conf: the [defaults] and [fs_types] sections that decide
//! block size, inode ratio and size, features and hash per usage type.

use std::collections::HashMap;

/// e2fsprogs' built-in profile, used when /etc/mke2fs.conf is absent
/// (misc/mke2fs.conf.in of e2fsprogs 1.47).
pub const BUILTIN: &str = "[defaults]
	base_features = sparse_super,large_file,filetype,resize_inode,dir_index,ext_attr
	default_mntopts = acl,user_xattr
	enable_periodic_fsck = 0
	blocksize = 4096
	inode_size = 256
	inode_ratio = 16384

[fs_types]
	ext3 = {
		features = has_journal
	}
	ext4 = {
		features = has_journal,extent,huge_file,flex_bg,metadata_csum,64bit,dir_nlink,extra_isize
	}
	small = {
		blocksize = 1024
		inode_ratio = 4096
	}
	floppy = {
		blocksize = 1024
		inode_ratio = 8192
	}
	big = {
		inode_ratio = 32768
	}
	huge = {
		inode_ratio = 65536
	}
	news = {
		inode_ratio = 4096
	}
	largefile = {
		inode_ratio = 1048576
		blocksize = -1
	}
	largefile4 = {
		inode_ratio = 4194304
		blocksize = -1
	}
	hurd = {
	     blocksize = 4096
	     inode_size = 128
	     warn_y2038_dates = 0
	}
";

#[derive(Clone, Debug, Default)]
pub struct Profile {
    pub defaults: HashMap<String, String>,
    pub fs_types: HashMap<String, HashMap<String, String>>,
}

/// Why the profile could not be read, in the terms mke2fs reports.
#[derive(Debug, PartialEq, Eq)]
pub enum ProfileError {
    /// A line libprofile's parser refuses: the file as named, the line's
    /// number, and the error's offset in the profile library's com_err
    /// table (mke2fs has not registered the table yet when it reports
    /// one, so it says "Unknown code prof N").
    Syntax {
        path: String,
        line: usize,
        code: u32,
    },
    /// The file exists but cannot be read (its errno).
    Open(i32),
}

impl std::fmt::Display for ProfileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // mke2fs' syntax_err_report.
            ProfileError::Syntax { path, line, code } => write!(
                f,
                "Syntax error in mke2fs config file ({path}, line #{line})\n\tUnknown code prof {code}"
            ),
            ProfileError::Open(errno) => {
                write!(f, "Couldn't init profile successfully (error: {errno}).")
            }
        }
    }
}

/// libprofile's parse errors (prof_err.et), as offsets in its table.
const SECTION_NOTOP: u32 = 13;
const SECTION_SYNTAX: u32 = 14;
const RELATION_SYNTAX: u32 = 15;
const EXTRA_CBRACE: u32 = 16;
const MISSING_OBRACE: u32 = 17;

/// Where libprofile's line parser is (its parse_state).
#[derive(Default)]
struct Parse {
    /// Before the first line that starts with '[': lines are skipped.
    started: bool,
    /// A relation without a value opened a subsection: the next line
    /// must start with '{'.
    want_obrace: bool,
    section: String,
    /// The open subsections' names, outermost first.
    groups: Vec<String>,
}

impl Profile {
    /// Reads $MKE2FS_CONFIG or /etc/mke2fs.conf as mke2fs' profile_init
    /// does: a file that is missing or may not be read leaves the
    /// built-in profile; a leading "~/" is $HOME.
    pub fn load() -> Result<Self, ProfileError> {
        let path = std::env::var("MKE2FS_CONFIG").unwrap_or_else(|_| "/etc/mke2fs.conf".into());
        let opened = match (path.strip_prefix("~/"), std::env::var("HOME")) {
            (Some(rest), Ok(home)) => format!("{home}/{rest}"),
            _ => path.clone(),
        };
        match std::fs::read(&opened) {
            Ok(bytes) => Self::parse_named(&bytes, &opened),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
                ) =>
            {
                Ok(Self::builtin())
            }
            Err(e) => Err(ProfileError::Open(e.raw_os_error().unwrap_or(EIO))),
        }
    }

    /// e2fsprogs' built-in profile.
    pub fn builtin() -> Self {
        // OK: the built-in text is parsed by the tests below.
        Self::parse(BUILTIN).unwrap_or_default()
    }

    /// Parses profile text (for tests and the built-in profile).
    pub fn parse(text: &str) -> Result<Self, ProfileError> {
        Self::parse_named(text.as_bytes(), "(built-in)")
    }

    /// libprofile's parser (profile.c's parse_line), line by line: `[section]`
    /// headers, `tag = value` relations (a value is one word or a quoted
    /// string), `tag = {` ... `}` subsections (the '{' may be on the next
    /// line), '#' and ';' comments. mke2fs reads the relations of
    /// [defaults] and of each [fs_types] subsection; a relation's first
    /// value is the one it answers with.
    fn parse_named(bytes: &[u8], path: &str) -> Result<Self, ProfileError> {
        let mut p = Profile::default();
        let mut st = Parse::default();
        for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
            let line = String::from_utf8_lossy(line);
            p.parse_line(&line, &mut st)
                .map_err(|code| ProfileError::Syntax {
                    path: path.to_string(),
                    line: n + 1,
                    code,
                })?;
        }
        Ok(p)
    }

    fn parse_line(&mut self, line: &str, st: &mut Parse) -> Result<(), u32> {
        let blank = |c: char| c.is_ascii_whitespace();
        let end_or_comment = |s: &str| s.is_empty() || s.starts_with('#') || s.starts_with(';');
        // skip_over_nonblanks: a word ends at a blank or a comment.
        let word_len = |s: &str| {
            s.find(|c: char| blank(c) || c == '#' || c == ';')
                .unwrap_or(s.len())
        };
        if st.want_obrace {
            if !line.trim_start_matches(blank).starts_with('{') {
                return Err(MISSING_OBRACE);
            }
            st.want_obrace = false;
            return Ok(());
        }
        if !st.started {
            if !line.starts_with('[') {
                return Ok(());
            }
            st.started = true;
        }
        let line = line.trim_end_matches(['\r', '\n']);
        let cp = line.trim_start_matches(blank);
        if end_or_comment(cp) {
            return Ok(());
        }
        if let Some(rest) = cp.strip_prefix('[') {
            if !st.groups.is_empty() {
                return Err(SECTION_NOTOP);
            }
            let rest = rest.trim_start_matches(blank);
            let close = rest.find(']').ok_or(SECTION_SYNTAX)?;
            let name = if let Some(quoted) = rest.strip_prefix('"') {
                // Only a quoted name has what follows its ']' checked.
                let after = rest[close + 1..].trim_start_matches('*');
                if !end_or_comment(after.trim_start_matches(blank)) {
                    return Err(SECTION_SYNTAX);
                }
                unquote(quoted)
            } else {
                let name = rest[..close].trim_end_matches(blank);
                if name.is_empty() {
                    return Err(SECTION_SYNTAX);
                }
                name.to_string()
            };
            st.section = name;
            return Ok(());
        }
        if cp.starts_with('}') {
            if st.groups.pop().is_none() {
                return Err(EXTRA_CBRACE);
            }
            return Ok(());
        }
        let eq = cp.find('=').ok_or(RELATION_SYNTAX)?;
        if eq == 0 {
            return Err(RELATION_SYNTAX);
        }
        let raw_tag = &cp[..eq];
        let tag = if let Some(quoted) = raw_tag.strip_prefix('"') {
            unquote(quoted)
        } else {
            let word_end = word_len(raw_tag);
            if !raw_tag[word_end..].trim_start_matches(blank).is_empty() {
                return Err(RELATION_SYNTAX);
            }
            raw_tag[..word_end].to_string()
        };
        // A '*' marks the tag final (for merging several files).
        let tag = tag.split('*').next().unwrap_or_default().to_string();
        let value = cp[eq + 1..].trim_start_matches(blank);
        let value = if let Some(quoted) = value.strip_prefix('"') {
            unquote(quoted)
        } else if end_or_comment(value) {
            st.want_obrace = true;
            st.groups.push(tag);
            return Ok(());
        } else if let Some(after) = value.strip_prefix('{') {
            if !end_or_comment(after.trim_start_matches(blank)) {
                return Err(RELATION_SYNTAX);
            }
            st.groups.push(tag);
            return Ok(());
        } else {
            let word_end = word_len(value);
            if !end_or_comment(value[word_end..].trim_start_matches(blank)) {
                return Err(RELATION_SYNTAX);
            }
            value[..word_end].to_string()
        };
        match (st.section.as_str(), st.groups.as_slice()) {
            ("defaults", []) => {
                self.defaults.entry(tag).or_insert(value);
            }
            ("fs_types", [t]) => {
                self.fs_types
                    .entry(t.clone())
                    .or_default()
                    .entry(tag)
                    .or_insert(value);
            }
            _ => {}
        }
        Ok(())
    }

    /// mke2fs' get_string_from_profile: the last fs_type that sets `key`
    /// wins, then [defaults].
    pub fn get(&self, types: &[String], key: &str) -> Option<String> {
        types
            .iter()
            .rev()
            .find_map(|t| self.fs_types.get(t).and_then(|m| m.get(key)).cloned())
            .or_else(|| self.defaults.get(key).cloned())
    }

    /// The values `key` has, in the order mke2fs' get_int_from_profile
    /// and its kin read them: [defaults], then each fs_type.
    fn chain<'a>(&'a self, types: &'a [String], key: &'a str) -> impl Iterator<Item = &'a str> {
        let typed = types
            .iter()
            .filter_map(move |t| self.fs_types.get(t).and_then(|m| m.get(key)));
        self.defaults
            .get(key)
            .into_iter()
            .chain(typed)
            .map(String::as_str)
    }

    /// mke2fs' get_int_from_profile: each value libprofile can read as
    /// an int (strtol, any base) replaces the one before; one it cannot
    /// read leaves the one before, as profile_get_integer does.
    pub fn get_int(&self, types: &[String], key: &str, default: i64) -> i64 {
        self.chain(types, key)
            .fold(default, |acc, v| c_int(v).unwrap_or(acc))
    }

    /// mke2fs' get_double_from_profile, the same way (strtod).
    pub fn get_double(&self, types: &[String], key: &str, default: f64) -> f64 {
        self.chain(types, key)
            .fold(default, |acc, v| v.parse::<f64>().unwrap_or(acc))
    }

    /// mke2fs' get_bool_from_profile, the same way (libprofile's words,
    /// any case).
    pub fn get_bool(&self, types: &[String], key: &str, default: bool) -> bool {
        const YES: [&str; 6] = ["y", "yes", "true", "t", "1", "on"];
        const NO: [&str; 6] = ["n", "no", "false", "nil", "0", "off"];
        self.chain(types, key).fold(default, |acc, v| {
            if YES.iter().any(|w| w.eq_ignore_ascii_case(v)) {
                true
            } else if NO.iter().any(|w| w.eq_ignore_ascii_case(v)) {
                false
            } else {
                acc
            }
        })
    }

    /// Each fs_type's own `features` edit list, in order.
    pub fn type_features(&self, types: &[String]) -> Vec<String> {
        types
            .iter()
            .filter_map(|t| {
                self.fs_types
                    .get(t)
                    .and_then(|m| m.get("features"))
                    .cloned()
            })
            .collect()
    }
}

/// profile_get_integer's reading: the whole text, not empty, through
/// strtol in base 0, and only a value that fits a C int.
fn c_int(v: &str) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    cli_common::cnum::strtol(v, 0).filter(|&n| i32::try_from(n).is_ok())
}

/// profile.c's parse_quoted_string: up to the closing quote, with \\n,
/// \\t and \\b escapes (any other escaped character stands for itself).
fn unquote(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('b') => out.push('\u{8}'),
                Some(other) => out.push(other),
                None => break,
            },
            c => out.push(c),
        }
    }
    out
}

/// EIO, for a read error without an errno.
const EIO: i32 = 5;

/// The usage type mke2fs picks by size (misc/mke2fs.c).
pub fn size_type(bytes: u64) -> &'static str {
    const MEG: u64 = 1 << 20;
    if bytes < 3 * MEG {
        "floppy"
    } else if bytes < 512 * MEG {
        "small"
    } else if bytes < 4 * 1024 * 1024 * MEG {
        "default"
    } else if bytes < 16 * 1024 * 1024 * MEG {
        "big"
    } else {
        "huge"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_profile_resolves_like_mke2fs() {
        let p = Profile::parse(BUILTIN).unwrap();
        let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(p.get_int(&t(&["ext2", "small"]), "blocksize", 0), 1024);
        assert_eq!(p.get_int(&t(&["ext2", "default"]), "blocksize", 0), 4096);
        assert_eq!(p.get_int(&t(&["ext2", "floppy"]), "inode_ratio", 0), 8192);
        assert_eq!(p.get_int(&t(&["ext2", "huge"]), "inode_ratio", 0), 65536);
        assert_eq!(p.type_features(&t(&["ext3"])), ["has_journal"]);
        assert!(!p.get_bool(&t(&["ext2"]), "enable_periodic_fsck", true));
        assert_eq!(size_type(2 << 20), "floppy");
        assert_eq!(size_type(100 << 20), "small");
        assert_eq!(size_type(1 << 30), "default");
        assert_eq!(size_type(5 << 40), "big");
        assert_eq!(size_type(1 << 50), "huge");
    }

    #[test]
    fn unreadable_values_leave_the_one_before_as_libprofile() {
        let p = Profile::parse(
            "[defaults]\n blocksize = 0x800\n inode_ratio = 010\n reserved_ratio = 2.5\n \
             lazy_itable_init = OFF\n[fs_types]\n a = {\n blocksize = 4k\n inode_ratio = 3000000000\n \
             reserved_ratio = lots\n lazy_itable_init = maybe\n }\n",
        )
        .unwrap();
        let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let a = t(&["ext2", "a"]);
        assert_eq!(p.get_int(&a, "blocksize", 4096), 2048);
        assert_eq!(p.get_int(&a, "inode_ratio", 1), 8);
        assert_eq!(p.get_double(&a, "reserved_ratio", 5.0), 2.5);
        assert!(!p.get_bool(&a, "lazy_itable_init", true));
        assert_eq!(p.get_int(&a, "inode_size", 77), 77);
        // Empty, blanks and a sign, past 64 bits: strtol's reading.
        let p = Profile::parse(
            "[defaults]\n inode_size = \"\"\n flex_bg_size = \" -3\"\n \
             num_backup_sb = 99999999999999999999\n",
        )
        .unwrap();
        assert_eq!(p.get_int(&a, "inode_size", 77), 77);
        assert_eq!(p.get_int(&a, "flex_bg_size", 16), -3);
        assert_eq!(p.get_int(&a, "num_backup_sb", 2), 2);
    }

    #[test]
    fn syntax_errors_as_libprofile_finds_them() {
        let code = |text: &str| match Profile::parse(text) {
            Err(ProfileError::Syntax { line, code, .. }) => Some((line, code)),
            _ => None,
        };
        assert_eq!(code("[defaults]\n nonsense\n"), Some((2, RELATION_SYNTAX)));
        // An empty value opens a subsection whose '{' must come next.
        assert_eq!(
            code("[defaults]\n\tbase_features = \n\tinode_ratio = 8192\n"),
            Some((3, MISSING_OBRACE))
        );
        assert_eq!(code("[defaults]\n a = b c\n"), Some((2, RELATION_SYNTAX)));
        assert_eq!(code("[defaults]\n a b = c\n"), Some((2, RELATION_SYNTAX)));
        assert_eq!(code("[defaults]\n = c\n"), Some((2, RELATION_SYNTAX)));
        assert_eq!(code("[defaults]\n}\n"), Some((2, EXTRA_CBRACE)));
        assert_eq!(code("[fs_types]\n t = {\n [x]\n"), Some((3, SECTION_NOTOP)));
        assert_eq!(code("[defaults\n"), Some((1, SECTION_SYNTAX)));
        assert_eq!(code("[ ]\n"), Some((1, SECTION_SYNTAX)));
        assert_eq!(code("[\"q\"] junk\n"), Some((1, SECTION_SYNTAX)));
        // What libprofile lets through.
        assert_eq!(
            code("junk before any section\n[defaults] junk\n a = b # c\n"),
            None
        );
        let p = Profile::parse(
            "[defaults]\n a = b # c\n q = \"x y\\tz\"\n[fs_types]\n t =\n {\n k = v ; c\n }\n",
        )
        .unwrap();
        assert_eq!(p.defaults.get("a").map(String::as_str), Some("b"));
        assert_eq!(p.defaults.get("q").map(String::as_str), Some("x y\tz"));
        assert_eq!(p.fs_types["t"].get("k").map(String::as_str), Some("v"));
    }
}
