//! The little-endian field codec every on-disk structure is built from.
//!
//! Each structure is declared once with [`ondisk!`]: the field table yields
//! the struct, its `nom` parser and its writer, so the two cannot drift
//! apart (the idea of backhand's deku derives, done with a small macro).

use nom::number::complete::{le_u16, le_u32, le_u64, u8 as nom_u8};
use nom::IResult;

/// One little-endian on-disk field: how to parse it and how to write it back.
pub trait Field: Sized {
    /// Size of the field on disk, in bytes.
    const SIZE: usize;
    /// Parses the field from the start of `input`.
    fn parse(input: &[u8]) -> IResult<&[u8], Self>;
    /// Appends the field's on-disk bytes to `out`.
    fn write(&self, out: &mut Vec<u8>);
}

impl Field for u8 {
    const SIZE: usize = 1;
    fn parse(input: &[u8]) -> IResult<&[u8], Self> {
        nom_u8(input)
    }
    fn write(&self, out: &mut Vec<u8>) {
        out.push(*self);
    }
}

impl Field for u16 {
    const SIZE: usize = 2;
    fn parse(input: &[u8]) -> IResult<&[u8], Self> {
        le_u16(input)
    }
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl Field for u32 {
    const SIZE: usize = 4;
    fn parse(input: &[u8]) -> IResult<&[u8], Self> {
        le_u32(input)
    }
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl Field for u64 {
    const SIZE: usize = 8;
    fn parse(input: &[u8]) -> IResult<&[u8], Self> {
        le_u64(input)
    }
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl<T: Field + Copy + Default, const N: usize> Field for [T; N] {
    const SIZE: usize = T::SIZE * N;
    fn parse(mut input: &[u8]) -> IResult<&[u8], Self> {
        let mut arr = [T::default(); N];
        for slot in arr.iter_mut() {
            let (rest, v) = T::parse(input)?;
            *slot = v;
            input = rest;
        }
        Ok((input, arr))
    }
    fn write(&self, out: &mut Vec<u8>) {
        for v in self {
            v.write(out);
        }
    }
}

/// Declares an on-disk structure from its field table.
///
/// Generates the struct (all fields public, in disk order), `SIZE`,
/// `parse` (a `nom` parser consuming exactly `SIZE` bytes), `write`
/// (appends exactly `SIZE` bytes) and `to_bytes`.
#[macro_export]
macro_rules! ondisk {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl $name {
            /// Size of the structure on disk, in bytes.
            pub const SIZE: usize = 0 $( + <$ty as $crate::codec::Field>::SIZE )*;

            /// Parses the structure from the start of `input`.
            pub fn parse(input: &[u8]) -> nom::IResult<&[u8], Self> {
                $( let (input, $field) = <$ty as $crate::codec::Field>::parse(input)?; )*
                Ok((input, Self { $( $field, )* }))
            }

            /// Appends the on-disk form of the structure to `out`.
            pub fn write(&self, out: &mut Vec<u8>) {
                $( $crate::codec::Field::write(&self.$field, out); )*
            }

            /// The on-disk form of the structure.
            pub fn to_bytes(&self) -> Vec<u8> {
                let mut out = Vec::with_capacity(Self::SIZE);
                self.write(&mut out);
                out
            }
        }

        impl Default for $name {
            /// All fields zero, as on a freshly zeroed block.
            fn default() -> Self {
                match Self::parse(&[0u8; $name::SIZE]) {
                    Ok((_, v)) => v,
                    // OK: a buffer of exactly SIZE bytes always parses.
                    Err(_) => unreachable!(),
                }
            }
        }

        impl $crate::codec::Field for $name {
            const SIZE: usize = $name::SIZE;
            fn parse(input: &[u8]) -> nom::IResult<&[u8], Self> {
                $name::parse(input)
            }
            fn write(&self, out: &mut Vec<u8>) {
                $name::write(self, out)
            }
        }
    };
}

/// Runs a generated parser over a byte slice, mapping a short read to a
/// typed error naming the structure.
pub fn parse_exact<T>(
    bytes: &[u8],
    what: &'static str,
    parser: fn(&[u8]) -> IResult<&[u8], T>,
) -> crate::Result<T> {
    match parser(bytes) {
        Ok((_, v)) => Ok(v),
        Err(_) => Err(crate::Error::Truncated {
            what,
            have: bytes.len(),
        }),
    }
}

/// Reads a little-endian u16 at `off`; callers guarantee the bounds.
pub fn le16(buf: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([buf[off], buf[off + 1]])
}

/// Reads a little-endian u32 at `off`; callers guarantee the bounds.
pub fn le32(buf: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([buf[off], buf[off + 1], buf[off + 2], buf[off + 3]])
}

/// Reads a little-endian u64 at `off`; callers guarantee the bounds.
pub fn le64(buf: &[u8], off: usize) -> u64 {
    u64::from(le32(buf, off)) | u64::from(le32(buf, off + 4)) << 32
}

/// Writes `v` little-endian at `off`; callers guarantee the bounds.
pub fn put16(buf: &mut [u8], off: usize, v: u16) {
    buf[off..off + 2].copy_from_slice(&v.to_le_bytes());
}

/// Writes `v` little-endian at `off`; callers guarantee the bounds.
pub fn put32(buf: &mut [u8], off: usize, v: u32) {
    buf[off..off + 4].copy_from_slice(&v.to_le_bytes());
}
