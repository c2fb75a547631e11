//! CRC32C (Castagnoli), in the raw form libext2fs' `ext2fs_crc32c_le`
//! computes: no inversion on the way in or out, so a checksum can be
//! continued over more data. Undo files (`undo`) carry these values.

const POLY: u32 = 0x82F6_3B78;

const TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// `ext2fs_crc32c_le(crc, data)`: continues `crc` over `data`. Start
/// with `!0`; the standard CRC32C of `data` is `!crc32c_le(!0, data)`.
pub fn crc32c_le(crc: u32, data: &[u8]) -> u32 {
    data.iter().fold(crc, |c, &b| {
        TABLE[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_check_value_and_continuation() {
        // The CRC-32C check value of "123456789".
        assert_eq!(!crc32c_le(!0, b"123456789"), 0xE306_9283);
        let split = crc32c_le(crc32c_le(!0, b"1234"), b"56789");
        assert_eq!(split, crc32c_le(!0, b"123456789"));
    }
}
