//! A bitmap kept as sorted runs of set bits. A new filesystem's block and
//! inode bitmaps are a few runs per group (the metadata at each group's
//! start), so mkfs keeps them this way: a 1 TiB filesystem then needs a
//! few hundred KB instead of a 32 MB flat block bitmap, and writing the
//! groups' bitmap blocks costs one lookup per group instead of a scan.

use std::collections::BTreeMap;

/// Bits [0, len) with the same meaning as [`crate::bitmap::Bitmap`]:
/// out-of-range bits read as set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunBitmap {
    /// start -> end (exclusive) of each run of set bits; runs never touch
    /// or overlap.
    runs: BTreeMap<u64, u64>,
    len: u64,
}

impl RunBitmap {
    /// A bitmap of `len` clear bits.
    pub fn new(len: u64) -> Self {
        RunBitmap {
            runs: BTreeMap::new(),
            len,
        }
    }

    /// How many bits it has.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether it has no bits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The run holding bit `i`, if it is set.
    fn run_of(&self, i: u64) -> Option<(u64, u64)> {
        self.runs
            .range(..=i)
            .next_back()
            .filter(|(_, &end)| end > i)
            .map(|(&s, &e)| (s, e))
    }

    /// Whether bit `i` is set (out-of-range bits read as set, as in `Bitmap`).
    pub fn get(&self, i: u64) -> bool {
        i >= self.len || self.run_of(i).is_some()
    }

    /// Sets bit `i`.
    pub fn set(&mut self, i: u64) {
        self.set_range(i, i + 1);
    }

    /// Sets every bit in [from, to), merging with the runs it touches.
    pub fn set_range(&mut self, from: u64, to: u64) {
        let to = to.min(self.len);
        if from >= to {
            return;
        }
        let (mut start, mut end) = (from, to);
        // A run that ends at or after `from` and starts at or before `to`
        // touches the new one; swallow each.
        if let Some((&s, &e)) = self.runs.range(..=from).next_back() {
            if e >= from {
                start = s;
                end = end.max(e);
                self.runs.remove(&s);
            }
        }
        let inside: Vec<(u64, u64)> = self
            .runs
            .range(start..=end)
            .map(|(&s, &e)| (s, e))
            .collect();
        for (s, e) in inside {
            end = end.max(e);
            self.runs.remove(&s);
        }
        self.runs.insert(start, end);
    }

    /// First clear bit in [from, to).
    pub fn first_clear(&self, from: u64, to: u64) -> Option<u64> {
        let to = to.min(self.len);
        let i = match self.run_of(from) {
            Some((_, end)) => end,
            None => from,
        };
        (i < to).then_some(i)
    }

    /// Set bits in [from, to).
    pub fn count_set(&self, from: u64, to: u64) -> u64 {
        let to = to.min(self.len);
        if from >= to {
            return 0;
        }
        let first = self.run_of(from).map_or(from, |(s, _)| s);
        self.runs
            .range(first..to)
            .map(|(&s, &e)| e.min(to) - s.max(from))
            .sum()
    }

    /// Clear bits in [from, to).
    pub fn count_clear(&self, from: u64, to: u64) -> u64 {
        let to = to.min(self.len);
        to.saturating_sub(from) - self.count_set(from, to)
    }

    /// The on-disk bitmap block for the `nbits` items from `start`, with
    /// every bit from `nbits` to the end of the block set (padding);
    /// byte for byte what [`crate::bitmap::Bitmap::group_block`] gives.
    pub fn group_block(&self, start: u64, nbits: u64, block_size: usize) -> Vec<u8> {
        let nbits = nbits.min(block_size as u64 * 8);
        let mut buf = vec![0u8; block_size];
        // Past the bitmap's end reads as set, like the padding.
        let in_range = self.len.saturating_sub(start).min(nbits);
        set_bits(&mut buf, in_range, block_size as u64 * 8);
        let first = self.run_of(start).map_or(start, |(s, _)| s);
        for (&s, &e) in self.runs.range(first..start + in_range) {
            set_bits(
                &mut buf,
                s.max(start) - start,
                e.min(start + in_range) - start,
            );
        }
        buf
    }
}

/// Sets bits [from, to) of `buf`, whole bytes at once where it can:
/// metadata runs and padding span thousands of bits.
fn set_bits(buf: &mut [u8], from: u64, to: u64) {
    let mut i = from;
    while i < to && !i.is_multiple_of(8) {
        buf[(i / 8) as usize] |= 1 << (i % 8);
        i += 1;
    }
    let whole = (to.saturating_sub(i)) / 8;
    buf[(i / 8) as usize..(i / 8 + whole) as usize].fill(0xff);
    i += whole * 8;
    while i < to {
        buf[(i / 8) as usize] |= 1 << (i % 8);
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bitmap::Bitmap;
    use proptest::prelude::*;

    #[test]
    fn runs_merge() {
        let mut r = RunBitmap::new(100);
        r.set_range(10, 20);
        r.set_range(30, 40);
        r.set_range(20, 30);
        assert_eq!(r.runs.len(), 1);
        assert_eq!(r.count_set(0, 100), 30);
        assert_eq!(r.first_clear(10, 100), Some(40));
        assert_eq!(r.first_clear(0, 100), Some(0));
        r.set_range(95, 200);
        assert_eq!(r.first_clear(95, 100), None);
        assert!(r.get(150));
    }

    proptest! {
        // Every query agrees with the flat Bitmap after the same sets.
        #[test]
        fn agrees_with_flat_bitmap(
            len in 1u64..3000,
            ops in proptest::collection::vec((0u64..3100, 0u64..300), 0..40),
            queries in proptest::collection::vec((0u64..3100, 0u64..3100), 0..20),
            start in 0u64..3000,
            nbits in 0u64..9000,
        ) {
            let mut flat = Bitmap::new(len);
            let mut runs = RunBitmap::new(len);
            for (from, n) in ops {
                flat.set_range(from, from + n);
                runs.set_range(from, from + n);
            }
            for (a, b) in queries {
                prop_assert_eq!(flat.get(a), runs.get(a));
                prop_assert_eq!(flat.first_clear(a, b), runs.first_clear(a, b));
                prop_assert_eq!(flat.count_clear(a, b), runs.count_clear(a, b));
            }
            prop_assert_eq!(flat.group_block(start, nbits, 1024), runs.group_block(start, nbits, 1024));
        }
    }
}
