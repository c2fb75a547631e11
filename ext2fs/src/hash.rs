//! Directory name hashes for hash-indexed (htree) directories: legacy
//! (dx_hack_hash), half-MD4 and TEA, each with signed- or unsigned-char
//! input, as e2fsprogs' ext2fs_dirhash and the kernel compute them.

use crate::superblock::{
    HASH_HALF_MD4, HASH_HALF_MD4_UNSIGNED, HASH_LEGACY, HASH_LEGACY_UNSIGNED, HASH_TEA,
    HASH_TEA_UNSIGNED,
};
use crate::{Error, Result};

/// The seed used when the superblock's is all zero (MD4's initial state).
pub const DEFAULT_SEED: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

/// Reads a name byte as the C code does: `signed char` or `unsigned char`.
fn byte(c: u8, unsigned: bool) -> u32 {
    if unsigned {
        c as u32
    } else {
        c as i8 as i32 as u32
    }
}

fn dx_hack_hash(name: &[u8], unsigned: bool) -> u32 {
    let (mut hash0, mut hash1): (u32, u32) = (0x12a3_fe2d, 0x37ab_e8f9);
    for &c in name {
        let mut hash = hash1.wrapping_add(hash0 ^ byte(c, unsigned).wrapping_mul(7_152_373));
        if hash & 0x8000_0000 != 0 {
            hash = hash.wrapping_sub(0x7fff_ffff);
        }
        hash1 = hash0;
        hash0 = hash;
    }
    hash0 << 1
}

/// Packs up to `num` words of the name, padded with the length pattern.
fn str2hashbuf(msg: &[u8], num: usize, unsigned: bool) -> [u32; 8] {
    let len = msg.len() as u32;
    let mut pad = len | (len << 8);
    pad |= pad << 16;
    let mut out = [pad; 8];
    let mut val = pad;
    let mut w = 0;
    for (i, &c) in msg.iter().take(num * 4).enumerate() {
        val = byte(c, unsigned).wrapping_add(val << 8);
        if i % 4 == 3 {
            out[w] = val;
            w += 1;
            val = pad;
        }
    }
    if w < num {
        out[w] = val;
    }
    out
}

fn tea_transform(buf: &mut [u32; 4], inp: &[u32; 8]) {
    const DELTA: u32 = 0x9E37_79B9;
    let (mut sum, mut b0, mut b1) = (0u32, buf[0], buf[1]);
    let (a, b, c, d) = (inp[0], inp[1], inp[2], inp[3]);
    for _ in 0..16 {
        sum = sum.wrapping_add(DELTA);
        b0 = b0.wrapping_add(
            ((b1 << 4).wrapping_add(a)) ^ (b1.wrapping_add(sum)) ^ ((b1 >> 5).wrapping_add(b)),
        );
        b1 = b1.wrapping_add(
            ((b0 << 4).wrapping_add(c)) ^ (b0.wrapping_add(sum)) ^ ((b0 >> 5).wrapping_add(d)),
        );
    }
    buf[0] = buf[0].wrapping_add(b0);
    buf[1] = buf[1].wrapping_add(b1);
}

fn half_md4_transform(buf: &mut [u32; 4], x: &[u32; 8]) {
    let f = |x: u32, y: u32, z: u32| z ^ (x & (y ^ z));
    let g = |x: u32, y: u32, z: u32| (x & y).wrapping_add((x ^ y) & z);
    let h = |x: u32, y: u32, z: u32| x ^ y ^ z;
    const K2: u32 = 0o13240474631;
    const K3: u32 = 0o15666365641;
    let (mut a, mut b, mut c, mut d) = (buf[0], buf[1], buf[2], buf[3]);
    macro_rules! round {
        ($f:expr, $a:ident, $b:ident, $c:ident, $d:ident, $x:expr, $s:expr) => {
            $a = $a.wrapping_add($f($b, $c, $d)).wrapping_add($x);
            $a = $a.rotate_left($s);
        };
    }
    round!(f, a, b, c, d, x[0], 3);
    round!(f, d, a, b, c, x[1], 7);
    round!(f, c, d, a, b, x[2], 11);
    round!(f, b, c, d, a, x[3], 19);
    round!(f, a, b, c, d, x[4], 3);
    round!(f, d, a, b, c, x[5], 7);
    round!(f, c, d, a, b, x[6], 11);
    round!(f, b, c, d, a, x[7], 19);
    round!(g, a, b, c, d, x[1].wrapping_add(K2), 3);
    round!(g, d, a, b, c, x[3].wrapping_add(K2), 5);
    round!(g, c, d, a, b, x[5].wrapping_add(K2), 9);
    round!(g, b, c, d, a, x[7].wrapping_add(K2), 13);
    round!(g, a, b, c, d, x[0].wrapping_add(K2), 3);
    round!(g, d, a, b, c, x[2].wrapping_add(K2), 5);
    round!(g, c, d, a, b, x[4].wrapping_add(K2), 9);
    round!(g, b, c, d, a, x[6].wrapping_add(K2), 13);
    round!(h, a, b, c, d, x[3].wrapping_add(K3), 3);
    round!(h, d, a, b, c, x[7].wrapping_add(K3), 9);
    round!(h, c, d, a, b, x[2].wrapping_add(K3), 11);
    round!(h, b, c, d, a, x[6].wrapping_add(K3), 15);
    round!(h, a, b, c, d, x[1].wrapping_add(K3), 3);
    round!(h, d, a, b, c, x[5].wrapping_add(K3), 9);
    round!(h, c, d, a, b, x[0].wrapping_add(K3), 11);
    round!(h, b, c, d, a, x[4].wrapping_add(K3), 15);
    buf[0] = buf[0].wrapping_add(a);
    buf[1] = buf[1].wrapping_add(b);
    buf[2] = buf[2].wrapping_add(c);
    buf[3] = buf[3].wrapping_add(d);
}

/// Hashes a name: returns (major hash with the low bit cleared, minor
/// hash). `version` is a dx_root hash_version (0..=5); `seed` the
/// superblock's s_hash_seed (all zero means the default seed).
pub fn dirhash(version: u8, name: &[u8], seed: &[u32; 4]) -> Result<(u32, u32)> {
    let mut buf = if seed.iter().any(|&w| w != 0) {
        *seed
    } else {
        DEFAULT_SEED
    };
    let unsigned = matches!(
        version,
        HASH_LEGACY_UNSIGNED | HASH_HALF_MD4_UNSIGNED | HASH_TEA_UNSIGNED
    );
    let (hash, minor) = match version {
        HASH_LEGACY | HASH_LEGACY_UNSIGNED => (dx_hack_hash(name, unsigned), 0),
        HASH_HALF_MD4 | HASH_HALF_MD4_UNSIGNED => {
            // Each round packs the rest of the name: its length sets the pad.
            for p in (0..name.len()).step_by(32) {
                half_md4_transform(&mut buf, &str2hashbuf(&name[p..], 8, unsigned));
            }
            (buf[1], buf[2])
        }
        HASH_TEA | HASH_TEA_UNSIGNED => {
            for p in (0..name.len()).step_by(16) {
                tea_transform(&mut buf, &str2hashbuf(&name[p..], 4, unsigned));
            }
            (buf[0], buf[1])
        }
        v => {
            return Err(Error::UnsupportedHash(v));
        }
    };
    Ok((hash & !1, minor))
}

/// The hash version a directory really uses: the dx_root's version,
/// switched to its unsigned variant when the superblock says so.
pub fn effective_version(root_version: u8, s_flags: u32) -> u8 {
    if root_version <= HASH_TEA && s_flags & crate::superblock::FLAGS_UNSIGNED_HASH != 0 {
        root_version + 3
    } else {
        root_version
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn signedness_matters_only_for_high_bytes() {
        for v in [0u8, 1, 2] {
            let a = dirhash(v, b"plain-ascii", &[0; 4]).unwrap();
            let b = dirhash(v + 3, b"plain-ascii", &[0; 4]).unwrap();
            assert_eq!(a, b);
            let a = dirhash(v, "h\u{e9}h\u{e9}".as_bytes(), &[0; 4]).unwrap();
            let b = dirhash(v + 3, "h\u{e9}h\u{e9}".as_bytes(), &[0; 4]).unwrap();
            assert_ne!(a, b);
        }
        assert!(dirhash(9, b"x", &[0; 4]).is_err());
    }

    proptest! {
        #[test]
        fn low_bit_is_clear(name in proptest::collection::vec(any::<u8>(), 0..300), v in 0u8..6) {
            let (h, _) = dirhash(v, &name, &[1, 2, 3, 4]).unwrap();
            prop_assert_eq!(h & 1, 0);
        }
    }
}
