//! Skipping a test that cannot run here, in one place. Also compiled into
//! the ext2fs crate's own integration tests (`#[path]`), which cannot
//! depend on this crate.

/// The switch CI sets (`.ci/run`): with `REQUIRE_ORACLES=1`, a test that
/// would skip (no e2fsprogs, not root, no loop devices, no FUSE, no
/// ../shared) fails instead, so a suite cannot pass by running nothing.
pub const REQUIRE_ORACLES: &str = "REQUIRE_ORACLES";

/// Every skip goes through here: prints `SKIP: reason`, or fails the test
/// under `REQUIRE_ORACLES=1`.
pub fn skip(reason: &str) {
    if std::env::var_os(REQUIRE_ORACLES).is_some_and(|v| v == "1") {
        panic!("{REQUIRE_ORACLES}=1, and this test would be skipped: {reason}");
    }
    eprintln!("SKIP: {reason}");
}
