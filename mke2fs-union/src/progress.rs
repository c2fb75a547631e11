//! mke2fs' numeric progress lines ("Allocating group tables: 3/8"), as
//! e2fsprogs' ext2fs_numeric_progress_* print them: the label, a count
//! at most once a second (none with E2FSPROGS_SKIP_PROGRESS), and at the
//! end blanks over the count's width, backspaces, then the message.

use std::time::{SystemTime, UNIX_EPOCH};

pub struct Progress {
    enabled: bool,
    skip: bool,
    max: u64,
    /// Digits of `max`: the width of each number in "val/max".
    width: usize,
    last_update: u64,
}

impl Progress {
    /// Prints `label` (nothing at all when `quiet`).
    pub fn start(quiet: bool, label: &str, max: u64) -> Self {
        let p = Progress {
            enabled: !quiet,
            skip: std::env::var_os("E2FSPROGS_SKIP_PROGRESS").is_some(),
            max,
            width: max.checked_ilog10().map_or(0, |l| l as usize + 1),
            last_update: 0,
        };
        if p.enabled {
            cli_common::out!("{label}");
        }
        p
    }

    /// Shows `val/max`, if a second has passed since the last one.
    pub fn update(&mut self, val: u64) {
        if !self.enabled || self.skip {
            return;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if now == self.last_update {
            return;
        }
        self.last_update = now;
        let w = self.width;
        cli_common::out!("{val:>w$}/{:>w$}{}", self.max, "\u{8}".repeat(2 * w + 1));
    }

    /// Blanks the count and prints `message`.
    pub fn finish(self, message: &str) {
        if !self.enabled {
            return;
        }
        let n = 2 * self.width + 1;
        cli_common::out!("{}{}{message}", " ".repeat(n), "\u{8}".repeat(n));
    }
}
