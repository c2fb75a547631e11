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

impl Profile {
    /// Reads $MKE2FS_CONFIG or /etc/mke2fs.conf, else the built-in one.
    pub fn load() -> Result<Self, String> {
        let path = std::env::var("MKE2FS_CONFIG").unwrap_or_else(|_| "/etc/mke2fs.conf".into());
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text).map_err(|e| format!("{path}: {e}")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::parse(BUILTIN),
            Err(e) => Err(format!("{path}: {e}")),
        }
    }

    /// Parses the profile format: `[section]`, `key = value`, and
    /// `name = { ... }` blocks (one level, as mke2fs.conf uses them).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut p = Profile::default();
        let mut section = String::new();
        let mut block: Option<String> = None;
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if line.starts_with('[') {
                section = line.trim_matches(['[', ']']).trim().to_string();
                block = None;
                continue;
            }
            if line == "}" {
                block = None;
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                return Err(format!("line {}: expected 'name = value'", n + 1));
            };
            let (k, v) = (k.trim().to_string(), v.trim().trim_matches('"').to_string());
            if v == "{" {
                block = Some(k);
                continue;
            }
            // libprofile answers with a relation's first value.
            match (section.as_str(), &block) {
                ("defaults", None) => {
                    p.defaults.entry(k).or_insert(v);
                }
                ("fs_types", Some(t)) => {
                    p.fs_types
                        .entry(t.clone())
                        .or_default()
                        .entry(k)
                        .or_insert(v);
                }
                _ => {}
            }
        }
        Ok(p)
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

/// profile_get_integer's reading: the whole text as a C int in strtol's
/// base 0 (0x hex, leading-0 octal, else decimal), an optional sign.
fn c_int(v: &str) -> Option<i64> {
    let t = v.trim_start();
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (radix, digits) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (16, h)
    } else if t.len() > 1 && t.starts_with('0') {
        (8, &t[1..])
    } else {
        (10, t)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let n = i64::from_str_radix(digits, radix).ok()?;
    let n = if neg { -n } else { n };
    i32::try_from(n).is_ok().then_some(n)
}

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
    }

    #[test]
    fn bad_line_is_an_error() {
        assert!(Profile::parse("[defaults]\n nonsense\n").is_err());
    }
}
