//! Block and inode bitmaps. On disk each group has one bitmap block per
//! kind; bits past the group's end (a short last group, or past
//! inodes_per_group) are padding that e2fsprogs keeps set to 1.

/// A bitmap over `len` items (blocks counted from s_first_data_block, or
/// inodes counted from 1 as bit 0).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bitmap {
    words: Vec<u64>,
    len: u64,
}

impl Bitmap {
    /// A bitmap of `len` clear bits.
    pub fn new(len: u64) -> Self {
        Bitmap {
            words: vec![0; len.div_ceil(64) as usize],
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

    /// Out-of-range bits read as set (used), so nothing allocates them.
    pub fn get(&self, i: u64) -> bool {
        i >= self.len || (self.words[(i / 64) as usize] >> (i % 64)) & 1 == 1
    }

    /// Sets bit `i` to `v` (out-of-range bits are ignored).
    pub fn set(&mut self, i: u64, v: bool) {
        if i >= self.len {
            return;
        }
        let w = &mut self.words[(i / 64) as usize];
        if v {
            *w |= 1 << (i % 64);
        } else {
            *w &= !(1 << (i % 64));
        }
    }

    /// Sets every bit in [from, to) (whole words at a time).
    pub fn set_range(&mut self, from: u64, to: u64) {
        let to = to.min(self.len);
        let mut i = from;
        while i < to && !i.is_multiple_of(64) {
            self.set(i, true);
            i += 1;
        }
        while i + 64 <= to {
            self.words[(i / 64) as usize] = u64::MAX;
            i += 64;
        }
        while i < to {
            self.set(i, true);
            i += 1;
        }
    }

    /// First clear bit in [from, to).
    pub fn first_clear(&self, from: u64, to: u64) -> Option<u64> {
        let to = to.min(self.len);
        let mut i = from;
        while i < to {
            let w = self.words[(i / 64) as usize];
            if w == u64::MAX && i.is_multiple_of(64) {
                i += 64;
                continue;
            }
            if (w >> (i % 64)) & 1 == 0 {
                return Some(i);
            }
            i += 1;
        }
        None
    }

    /// First set bit in [from, to).
    pub fn first_set(&self, from: u64, to: u64) -> Option<u64> {
        let to = to.min(self.len);
        let mut i = from;
        while i < to {
            let w = self.words[(i / 64) as usize];
            if w == 0 && i.is_multiple_of(64) {
                i += 64;
                continue;
            }
            if (w >> (i % 64)) & 1 == 1 {
                return Some(i);
            }
            i += 1;
        }
        None
    }

    /// Clear bits in [from, to).
    pub fn count_clear(&self, from: u64, to: u64) -> u64 {
        let to = to.min(self.len);
        let mut i = from;
        let mut n = 0u64;
        while i < to {
            if i.is_multiple_of(64) && i + 64 <= to {
                n += self.words[(i / 64) as usize].count_zeros() as u64;
                i += 64;
            } else {
                n += !self.get(i) as u64;
                i += 1;
            }
        }
        n
    }

    /// Byte `k` of the bitmap as stored on disk (bit 0 = lowest item).
    fn byte(&self, k: u64) -> u8 {
        let w = self.words.get((k / 8) as usize).copied().unwrap_or(0);
        (w >> ((k % 8) * 8)) as u8
    }

    /// Loads `nbits` bits of one group's on-disk bitmap block at `start`.
    pub fn load_group(&mut self, start: u64, block: &[u8], nbits: u64) {
        let nbits = nbits.min(block.len() as u64 * 8);
        if start.is_multiple_of(8) {
            // Whole bytes at once (groups start on byte boundaries).
            let full = nbits / 8;
            for k in 0..full {
                let b = block[k as usize];
                if b != 0 {
                    let bit = start + k * 8;
                    let w = (bit / 64) as usize;
                    if bit + 8 <= self.len {
                        self.words[w] |= (b as u64) << (bit % 64);
                        continue;
                    }
                    for j in 0..8 {
                        if (b >> j) & 1 == 1 {
                            self.set(bit + j, true);
                        }
                    }
                }
            }
            for i in full * 8..nbits {
                if block_bit(block, i) {
                    self.set(start + i, true);
                }
            }
            return;
        }
        for i in 0..nbits {
            if block_bit(block, i) {
                self.set(start + i, true);
            }
        }
    }

    /// The on-disk bitmap block for the `nbits` items from `start`, with
    /// every bit from `nbits` to the end of the block set (padding).
    pub fn group_block(&self, start: u64, nbits: u64, block_size: usize) -> Vec<u8> {
        let mut buf = vec![0xffu8; block_size];
        let nbits = nbits.min(block_size as u64 * 8);
        let mut i = 0;
        if start.is_multiple_of(64) {
            // Whole words while they last (group starts are word-aligned
            // for the usual group sizes).
            while i + 64 <= nbits && start + i + 64 <= self.len {
                let w = self.words[((start + i) / 64) as usize];
                let at = (i / 8) as usize;
                buf[at..at + 8].copy_from_slice(&w.to_le_bytes());
                i += 64;
            }
        }
        if start.is_multiple_of(8) {
            while i + 8 <= nbits && start + i + 8 <= self.len {
                buf[(i / 8) as usize] = self.byte((start + i) / 8);
                i += 8;
            }
        }
        while i < nbits {
            if !self.get(start + i) {
                buf[(i / 8) as usize] &= !(1 << (i % 8));
            }
            i += 1;
        }
        buf
    }
}

/// Parses one group's bitmap block into the states of its `nbits` items,
/// and whether the padding after them is all ones (what e2fsck checks).
pub fn parse_group(block: &[u8], nbits: u64) -> (Bitmap, bool) {
    let mut b = Bitmap::new(nbits);
    b.load_group(0, block, nbits);
    let padding_ok = (nbits..block.len() as u64 * 8).all(|i| block_bit(block, i));
    (b, padding_ok)
}

/// Bit `i` of an on-disk bitmap block (bit 0 = the lowest bit of byte 0).
pub fn block_bit(block: &[u8], i: u64) -> bool {
    (block[(i / 8) as usize] >> (i % 8)) & 1 == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_range_matches_single_sets() {
        for (from, to) in [
            (0u64, 0u64),
            (3, 5),
            (0, 64),
            (5, 200),
            (63, 129),
            (64, 128),
            (100, 1000),
        ] {
            let mut a = Bitmap::new(700);
            let mut b = Bitmap::new(700);
            a.set_range(from, to);
            for i in from..to.min(700) {
                b.set(i, true);
            }
            assert_eq!(a, b, "{from}..{to}");
        }
    }
    use proptest::prelude::*;

    #[test]
    fn padding_is_set() {
        let mut b = Bitmap::new(100);
        b.set(3, true);
        let blk = b.group_block(0, 100, 1024);
        assert_eq!(blk[0], 0b0000_1000);
        assert_eq!(blk[12], 0xf0); // bits 96..99 clear, 100.. padding
        assert!(blk[13..].iter().all(|&x| x == 0xff));
        let (p, ok) = parse_group(&blk, 100);
        assert!(ok);
        assert_eq!(p, b);
        assert_eq!(p.first_clear(0, 100), Some(0));
        assert_eq!(p.first_set(0, 100), Some(3));
        assert_eq!(p.count_clear(0, 100), 99);
        assert!(p.get(1000), "out of range reads as used");
    }

    proptest! {
        #[test]
        fn round_trip(bytes in proptest::collection::vec(any::<u8>(), 128), nbits in 1u64..1024) {
            let (b, _) = parse_group(&bytes, nbits);
            let out = b.group_block(0, nbits, 128);
            for i in 0..nbits {
                prop_assert_eq!((out[(i / 8) as usize] >> (i % 8)) & 1, (bytes[(i / 8) as usize] >> (i % 8)) & 1);
            }
            let (again, ok) = parse_group(&out, nbits);
            prop_assert!(ok);
            prop_assert_eq!(again, b);
        }
    }
}
