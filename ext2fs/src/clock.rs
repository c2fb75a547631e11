//! "Now", in one place, for every timestamp the library and the tools
//! write or compare with.

use std::time::{SystemTime, UNIX_EPOCH};

/// The current time in ext2's 32-bit seconds since 1970.
pub fn now() -> u32 {
    secs(SystemTime::now())
}

/// `t` in ext2's 32-bit seconds since 1970: 0 before 1970, the largest
/// value after 2106 (never wrapped into the past).
pub fn secs(t: SystemTime) -> u32 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
        .unwrap_or(0)
}

/// E2FSPROGS_FAKE_TIME, which e2fsprogs' library reads when it opens or
/// creates a filesystem (its test suite's clock): the seconds it names, or
/// None when unset or 0 (then the real clock is used, as libext2fs does).
pub fn fake_time() -> Option<u32> {
    let v = std::env::var("E2FSPROGS_FAKE_TIME").ok()?;
    Some(strtoul(&v) as u32).filter(|&t| t != 0)
}

/// C's strtoul(s, NULL, 0), as e2fsprogs parses numeric settings: leading
/// blanks, 0x hex, 0 octal, decimal; parsing stops at the first character
/// that does not fit (0 if none).
pub fn strtoul(s: &str) -> u64 {
    let s = s.trim_start();
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h, 16)
    } else if s.starts_with('0') {
        (s, 8)
    } else {
        (s, 10)
    };
    let end = digits
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(digits.len());
    u64::from_str_radix(&digits[..end], radix).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn strtoul_reads_as_c_does() {
        assert_eq!(strtoul(" 1700000000x"), 1_700_000_000);
        assert_eq!(strtoul("0x10"), 16);
        assert_eq!(strtoul("010"), 8);
        assert_eq!(strtoul("09"), 0);
        assert_eq!(strtoul("abc"), 0);
        assert_eq!(strtoul(""), 0);
    }

    #[test]
    fn clamps_instead_of_wrapping() {
        assert_eq!(secs(UNIX_EPOCH), 0);
        assert_eq!(secs(UNIX_EPOCH - Duration::from_secs(5)), 0);
        assert_eq!(secs(UNIX_EPOCH + Duration::from_secs(1 << 33)), u32::MAX);
        assert!(now() > 1_700_000_000);
    }
}
