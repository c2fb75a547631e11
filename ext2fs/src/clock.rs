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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn clamps_instead_of_wrapping() {
        assert_eq!(secs(UNIX_EPOCH), 0);
        assert_eq!(secs(UNIX_EPOCH - Duration::from_secs(5)), 0);
        assert_eq!(secs(UNIX_EPOCH + Duration::from_secs(1 << 33)), u32::MAX);
        assert!(now() > 1_700_000_000);
    }
}
