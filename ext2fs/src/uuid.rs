//! UUIDs as e2fsprogs reads, prints and makes them: the filesystem UUID,
//! the journal UUID and the directory hash seed (a UUID stored as four
//! little-endian words).

use std::io::Read;

/// The 16 bytes of a UUID, in the order they are printed and stored.
pub type Uuid = [u8; 16];

/// Offsets (in characters) of the hyphens in the 8-4-4-4-12 form.
const HYPHENS: [usize; 4] = [8, 13, 18, 23];

/// Parses the 8-4-4-4-12 form (hex digits in either case) as libuuid's
/// uuid_parse does: exactly 36 characters, hyphens where they belong.
/// Works on characters, so any text is safe to give it.
pub fn parse(s: &str) -> Option<Uuid> {
    let mut out = [0u8; 16];
    let mut digits = 0usize;
    let mut count = 0usize;
    for (i, c) in s.chars().enumerate() {
        count += 1;
        if HYPHENS.contains(&i) {
            if c != '-' {
                return None;
            }
            continue;
        }
        let v = c.to_digit(16)? as u8;
        let byte = out.get_mut(digits / 2)?;
        *byte = (*byte << 4) | v;
        digits += 1;
    }
    (count == 36 && digits == 32).then_some(out)
}

/// The 8-4-4-4-12 form in lower case.
pub fn format(u: &Uuid) -> String {
    let mut s = String::with_capacity(36);
    for (i, b) in u.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// A UUID argument as mke2fs -U and debugfs' UUID fields take it: `null`
/// or `clear` (all zero), `random`, `time` (any case), or the 8-4-4-4-12
/// form. `now` is the time a `time` UUID records (seconds since 1970).
pub fn from_arg(s: &str, now: u64) -> Option<Uuid> {
    match s.to_ascii_lowercase().as_str() {
        "null" | "clear" => Some([0; 16]),
        "random" => Some(random_v4()),
        "time" => Some(time_v1(now)),
        _ => parse(s),
    }
}

/// 16 random bytes from the kernel; should /dev/urandom be unreadable
/// (a bare chroot), the clock and process id mixed, as libuuid falls back.
fn random_bytes() -> [u8; 16] {
    let mut b = [0u8; 16];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b));
    if read.is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(1);
        b = (t ^ ((std::process::id() as u128) << 64)).to_le_bytes();
    }
    b
}

/// A random (version 4) UUID, like uuid_generate.
pub fn random_v4() -> Uuid {
    let mut b = random_bytes();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    b
}

/// A time-based (version 1) UUID with a random node and clock sequence,
/// like uuid_generate_time. `now` is in seconds since 1970.
pub fn time_v1(now: u64) -> Uuid {
    // 100 ns intervals since the Gregorian reform (1582-10-15).
    let t = now
        .saturating_mul(10_000_000)
        .saturating_add(0x01B2_1DD2_1381_4000);
    let mut b = random_bytes();
    b[0..4].copy_from_slice(&((t & 0xffff_ffff) as u32).to_be_bytes());
    b[4..6].copy_from_slice(&(((t >> 32) & 0xffff) as u16).to_be_bytes());
    b[6..8].copy_from_slice(&((((t >> 48) & 0x0fff) as u16) | 0x1000).to_be_bytes());
    b[8] = (b[8] & 0x3f) | 0x80;
    b
}

/// The superblock's `s_hash_seed` words of a UUID.
pub fn seed_words(u: &Uuid) -> [u32; 4] {
    let mut w = [0u32; 4];
    for (word, c) in w.iter_mut().zip(u.chunks_exact(4)) {
        *word = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    }
    w
}

/// The UUID a hash seed's words spell.
pub fn from_seed_words(w: &[u32; 4]) -> Uuid {
    let mut u = [0u8; 16];
    for (c, word) in u.chunks_exact_mut(4).zip(w) {
        c.copy_from_slice(&word.to_le_bytes());
    }
    u
}

/// The hash seed as the UUID-formatted string dumpe2fs prints.
pub fn format_seed(w: &[u32; 4]) -> String {
    format(&from_seed_words(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "0123abcd-4567-89ef-AbCd-0123456789aB";

    #[test]
    fn parses_and_formats() {
        let u = parse(TEXT).unwrap();
        assert_eq!(u[0], 0x01);
        assert_eq!(u[15], 0xab);
        assert_eq!(format(&u), TEXT.to_ascii_lowercase());
        assert_eq!(parse(&format(&u)), Some(u));
    }

    #[test]
    fn rejects_what_uuid_parse_rejects() {
        for bad in [
            "",
            "0123abcd456789efabcd0123456789ab",
            "0123abcd-4567-89ef-abcd-0123456789a",
            "0123abcd-4567-89ef-abcd-0123456789abc",
            "0123abcd-4567-89ef-abcd+0123456789ab",
            "0123abcd-4567-89ef-abcd-0123456789ag",
            // Multi-byte characters (a byte-sliced parser panicked here).
            "€aaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa",
            "€x",
            "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaa€",
            "aaaaaaaa€aaaa-aaaa-aaaa-aaaaaaaaaaaa",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn keywords_and_generated_versions() {
        assert_eq!(from_arg("NULL", 0), Some([0; 16]));
        assert_eq!(from_arg("clear", 0), Some([0; 16]));
        let r = from_arg("Random", 0).unwrap();
        assert_eq!((r[6] >> 4, r[8] >> 6), (4, 2));
        let t = from_arg("time", 1_700_000_000).unwrap();
        assert_eq!((t[6] >> 4, t[8] >> 6), (1, 2));
        let ticks = 1_700_000_000u64 * 10_000_000 + 0x01B2_1DD2_1381_4000;
        assert_eq!(u32::from_be_bytes([t[0], t[1], t[2], t[3]]), ticks as u32);
        assert_eq!(from_arg("€", 0), None);
    }

    #[test]
    fn seed_words_round_trip() {
        let u = parse("11111111-2222-3333-4444-555555555555").unwrap();
        let w = seed_words(&u);
        assert_eq!(w[0], 0x1111_1111);
        assert_eq!(w[1], 0x3333_2222);
        assert_eq!(from_seed_words(&w), u);
        assert_eq!(format_seed(&w), "11111111-2222-3333-4444-555555555555");
    }
}
