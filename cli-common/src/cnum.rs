//! Numbers and dates read the way e2fsprogs' C reads them (strtoull,
//! strtol, strptime), so a value debugfs or mke2fs takes or refuses is
//! taken or refused here too: leading blanks, a sign, 0x/0 prefixes, an
//! empty string as 0.

/// What strtoull/strtoll found: the magnitude, its sign, whether it
/// overflowed 64 bits, and whether the whole string was used.
struct Scan {
    magnitude: u64,
    negative: bool,
    overflow: bool,
    whole: bool,
    /// Where strtoull leaves its end pointer: after the digits, or at
    /// the start when there are none.
    end: usize,
}

impl Scan {
    /// The value strtoull returns: ULLONG_MAX past 64 bits, a minus sign
    /// wrapping ("-1" is 2^64-1).
    fn unsigned(&self) -> u64 {
        if self.overflow {
            u64::MAX
        } else if self.negative {
            self.magnitude.wrapping_neg()
        } else {
            self.magnitude
        }
    }
}

/// C's isspace in the "C" locale.
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The digits after blanks and a sign, in base `base` (0: by prefix).
/// A string without digits is "nothing read": whole only when empty,
/// as strtoull leaves its end pointer at the start.
fn scan(s: &str, base: u32) -> Scan {
    let b = s.as_bytes();
    let mut i = 0;
    while b.get(i).copied().is_some_and(is_c_space) {
        i += 1;
    }
    let negative = b.get(i) == Some(&b'-');
    if matches!(b.get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    let mut radix = base;
    let hex_prefix = b.get(i) == Some(&b'0')
        && matches!(b.get(i + 1), Some(b'x' | b'X'))
        && b.get(i + 2).is_some_and(|c| c.is_ascii_hexdigit());
    if (radix == 0 || radix == 16) && hex_prefix {
        radix = 16;
        i += 2;
    } else if radix == 0 {
        radix = if b.get(i) == Some(&b'0') { 8 } else { 10 };
    }
    let start = i;
    let mut magnitude = 0u64;
    let mut overflow = false;
    while let Some(d) = b.get(i).and_then(|&c| (c as char).to_digit(radix)) {
        match magnitude
            .checked_mul(u64::from(radix))
            .and_then(|m| m.checked_add(u64::from(d)))
        {
            Some(m) => magnitude = m,
            None => overflow = true,
        }
        i += 1;
    }
    let whole = if i == start {
        b.is_empty()
    } else {
        i == b.len()
    };
    Scan {
        magnitude,
        negative,
        overflow,
        whole,
        end: if i == start { 0 } else { i },
    }
}

/// strtoull(s, &end, 0) with `*end == 0 && errno == 0` required: None for
/// trailing characters or a value past 64 bits. A minus sign wraps, as
/// there ("-1" is 2^64-1).
pub fn strtoull(s: &str) -> Option<u64> {
    let r = scan(s, 0);
    if !r.whole || r.overflow {
        return None;
    }
    Some(r.unsigned())
}

/// strtoull(s, &end, 0) as a caller that checks only `*end == 0` sees
/// it: the value (ULLONG_MAX past 64 bits, a minus sign wrapping) and
/// whether the whole string was read (debugfs' parse_ulong,
/// e2freefrag's -c).
pub fn strtoull_prefix(s: &str) -> (u64, bool) {
    let r = scan(s, 0);
    (r.unsigned(), r.whole)
}

/// strtoull(s, &end, 0) as a caller that reads on from `end` sees it:
/// the value (ULLONG_MAX past 64 bits, a minus sign wrapping) and what
/// follows the digits (all of `s` when there are none).
pub fn strtoull_rest(s: &str) -> (u64, &str) {
    let r = scan(s, 0);
    (r.unsigned(), &s[r.end..])
}

/// strtol(s, &end, base) with only `*end == 0` required: a value past
/// 64 bits saturates, as strtol's does.
pub fn strtol(s: &str, base: u32) -> Option<i64> {
    let r = scan(s, base);
    if !r.whole {
        return None;
    }
    let limit = if r.negative {
        i64::MIN.unsigned_abs()
    } else {
        i64::MAX as u64
    };
    let m = if r.overflow {
        limit
    } else {
        r.magnitude.min(limit)
    };
    Some(if r.negative {
        0i64.wrapping_sub_unsigned(m)
    } else {
        m as i64
    })
}

/// atoi(s): glibc's (int) strtol(s, NULL, 10): leading white space, a
/// sign and the decimal digits that follow, the rest ignored (0 when
/// there are none); the long value cut to an int.
pub fn atoi(s: &str) -> i32 {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let sign = usize::from(t.starts_with(['+', '-']));
    let digits = t[sign..].bytes().take_while(u8::is_ascii_digit).count();
    strtol(&t[..sign + digits], 10).map_or(0, |v| v as i32)
}

/// A date/time argument as debugfs' string_to_time reads it: `now`,
/// `@<seconds>`, YYYYMMDD[HHMM[SS]] (UTC, as glibc's strptime matches
/// it: digits beyond a field's range start the next field, anything
/// after the last field is ignored), else a plain number of seconds.
/// None where debugfs gets -1 (which it takes for failure).
pub fn string_to_time(arg: &str) -> Option<i64> {
    let t = if arg == "now" {
        Some(i64::from(ext2fs::clock::now()))
    } else if let Some(n) = arg.strip_prefix('@') {
        strtol(n, 0)
    } else {
        calendar_time(arg).or_else(|| strtol(arg, 0))
    };
    t.filter(|&t| t != -1)
}

/// The three layouts string_to_time tries, longest first.
fn calendar_time(arg: &str) -> Option<i64> {
    const LAYOUTS: [&[Part]; 3] = [
        &[
            Part::Year,
            Part::Month,
            Part::Day,
            Part::Hour,
            Part::Min,
            Part::Sec,
        ],
        &[Part::Year, Part::Month, Part::Day, Part::Hour, Part::Min],
        &[Part::Year, Part::Month, Part::Day],
    ];
    LAYOUTS.iter().find_map(|layout| strptime(arg, layout))
}

#[derive(Clone, Copy)]
enum Part {
    Year,
    Month,
    Day,
    Hour,
    Min,
    Sec,
}

impl Part {
    /// glibc's get_number bounds and widths for %Y %m %d %H %M %S.
    fn range(self) -> (i64, i64, usize) {
        match self {
            Part::Year => (0, 9999, 4),
            Part::Month => (1, 12, 2),
            Part::Day => (1, 31, 2),
            Part::Hour => (0, 23, 2),
            Part::Min => (0, 59, 2),
            Part::Sec => (0, 61, 2),
        }
    }
}

/// Matches `layout` at the start of `s` as glibc's strptime does and
/// turns the fields into seconds with debugfs' own formula (UTC, leap
/// years by the Gregorian rule).
fn strptime(s: &str, layout: &[Part]) -> Option<i64> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut v = [1970i64, 1, 1, 0, 0, 0];
    for (slot, &part) in layout.iter().enumerate() {
        let (from, to, width) = part.range();
        while b.get(i).copied().is_some_and(is_c_space) {
            i += 1;
        }
        let mut val = 0i64;
        let mut taken = 0;
        // The first digit always; more while the width allows, the value
        // times ten could stay in range, and digits follow.
        while let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) {
            if taken > 0 && (taken >= width || val * 10 > to) {
                break;
            }
            val = val * 10 + i64::from(d - b'0');
            taken += 1;
            i += 1;
        }
        if taken == 0 || val < from || val > to {
            return None;
        }
        v[slot] = val;
    }
    let [year, mon, day, hour, min, sec] = v;
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    const BEFORE: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let yday = BEFORE[(mon - 1) as usize] + i64::from(leap && mon > 2) + day - 1;
    let y = year - 1900;
    Some(
        sec + min * 60
            + hour * 3600
            + yday * 86400
            + (y - 70) * 31_536_000
            + ((y - 69) / 4) * 86400
            - ((y - 1) / 100) * 86400
            + ((y + 299) / 400) * 86400,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtoull_like_c() {
        assert_eq!(strtoull("0x10"), Some(16));
        assert_eq!(strtoull("010"), Some(8));
        assert_eq!(strtoull(" 7"), Some(7));
        assert_eq!(strtoull("+7"), Some(7));
        assert_eq!(strtoull(""), Some(0));
        assert_eq!(strtoull("-1"), Some(u64::MAX));
        assert_eq!(strtoull("0x"), None);
        assert_eq!(strtoull("08"), None);
        assert_eq!(strtoull("7 "), None);
        assert_eq!(strtoull(" "), None);
        assert_eq!(strtoull("18446744073709551616"), None);
    }

    #[test]
    fn strtol_saturates() {
        assert_eq!(strtol("-5", 0), Some(-5));
        assert_eq!(strtol("99999999999999999999", 0), Some(i64::MAX));
        assert_eq!(strtol("x", 0), None);
        assert_eq!(strtol("12", 10), Some(12));
    }

    #[test]
    fn dates_like_string_to_time() {
        assert_eq!(string_to_time("20200101"), Some(1_577_836_800));
        assert_eq!(string_to_time("202001011200"), Some(1_577_880_000));
        assert_eq!(string_to_time("20200229123456"), Some(1_582_979_696));
        assert_eq!(string_to_time("@0x10"), Some(16));
        assert_eq!(string_to_time("123"), Some(123));
        assert_eq!(string_to_time("-1"), None);
        assert_eq!(string_to_time("@x"), None);
        assert_eq!(string_to_time("abc"), None);
        // One digit of month when two would be out of range; the rest ignored.
        assert_eq!(string_to_time("2020201"), Some(1_580_515_200));
        assert_eq!(string_to_time("20200101000000zz"), Some(1_577_836_800));
    }
}
