//! Bounds on what a tar archive can make the reader hold before a member
//! reaches us. The `tar` crate reads a GNU long name, a long link name or
//! a PAX header whole into memory, and expands an old GNU sparse member's
//! holes as zeroes; a small compressed archive can claim gigabytes of
//! either. [`Guard`] sits under the crate, follows the header chain as
//! the bytes go by and refuses such a header before the crate reads past
//! it.

use std::io::{Read, Seek};

/// The longest path name (PATH_MAX, with its NUL).
pub const PATH_MAX: u64 = 4096;
/// The largest PAX header kept: ext2 xattrs of one inode fit in one
/// block, so honest headers stay far below this.
pub const PAX_MAX: u64 = 1 << 20;

const BLOCK: u64 = 512;

/// The guard's refusal, carried in an `io::Error` through the crate so
/// that the caller can tell it from a plain read error.
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// The refusal inside an error the crate passed on, if it is one.
pub fn refusal(e: &std::io::Error) -> Option<&Refused> {
    e.get_ref().and_then(|r| r.downcast_ref::<Refused>())
}

enum State {
    /// Collecting the 512-byte block at `at`: a header, or with
    /// `sparse_ext` an old GNU sparse extension block.
    Block { at: u64, sparse_ext: Option<u64> },
    /// Collecting a PAX header's records (for a `size` that moves the
    /// next header), `left` bytes to go, then the next header at `next`.
    Pax { left: u64, next: u64 },
    /// Lost track (a header the crate will reject anyway): no more checks.
    Off,
}

/// Counts what the archive reader consumed, whether it met the end of the
/// input (an archive cut short at a member boundary is truncated), and
/// checks each header on the way.
pub struct Guard<R> {
    pub inner: R,
    pub eof: bool,
    /// The largest file the image can hold.
    max_file: u64,
    pos: u64,
    state: State,
    block: Vec<u8>,
    pax: Vec<u8>,
    /// A PAX `size` for the next member header.
    pax_size: Option<u64>,
    refused: Option<String>,
}

impl<R> Guard<R> {
    pub fn new(inner: R, max_file: u64) -> Self {
        Guard {
            inner,
            eof: false,
            max_file,
            pos: 0,
            state: State::Block {
                at: 0,
                sparse_ext: None,
            },
            block: Vec::with_capacity(BLOCK as usize),
            pax: Vec::new(),
            pax_size: None,
            refused: None,
        }
    }

    /// Looks at `data`, which the input returned at `self.pos`.
    fn watch(&mut self, mut data: &[u8]) {
        let mut pos = self.pos;
        while !data.is_empty() && self.refused.is_none() {
            match &mut self.state {
                State::Off => return,
                State::Pax { left, next } => {
                    // The records, right after their header.
                    let n = (*left).min(data.len() as u64) as usize;
                    self.pax.extend_from_slice(&data[..n]);
                    *left -= n as u64;
                    data = &data[n..];
                    pos += n as u64;
                    if *left == 0 {
                        let at = *next;
                        self.pax_size = pax_size(&self.pax);
                        self.pax = Vec::new();
                        self.state = State::Block {
                            at,
                            sparse_ext: None,
                        };
                    }
                }
                State::Block { at, .. } => {
                    let at = *at;
                    let have = self.block.len() as u64;
                    if pos < at + have {
                        let skip = (at + have - pos).min(data.len() as u64) as usize;
                        data = &data[skip..];
                        pos += skip as u64;
                        continue;
                    }
                    if pos > at + have {
                        // Seeked past a header: not the walk we follow.
                        self.state = State::Off;
                        return;
                    }
                    let n = (BLOCK as usize - self.block.len()).min(data.len());
                    self.block.extend_from_slice(&data[..n]);
                    data = &data[n..];
                    pos += n as u64;
                    if self.block.len() == BLOCK as usize {
                        let block = std::mem::take(&mut self.block);
                        self.judge(&block);
                        self.block = block;
                        self.block.clear();
                    }
                }
            }
        }
    }

    /// A whole block at the expected place: decides what comes next.
    fn judge(&mut self, b: &[u8]) {
        let State::Block { at, sparse_ext } = self.state else {
            return;
        };
        let after = at + BLOCK;
        if let Some(data_len) = sparse_ext {
            // Byte 504 of an extension block: another one follows.
            self.state = if b[504] != 0 {
                State::Block {
                    at: after,
                    sparse_ext: Some(data_len),
                }
            } else {
                State::Block {
                    at: after + padded(data_len),
                    sparse_ext: None,
                }
            };
            return;
        }
        if b.iter().all(|&x| x == 0) {
            self.state = State::Block {
                at: after,
                sparse_ext: None,
            };
            return;
        }
        let sum: u64 = b[..148]
            .iter()
            .chain(&b[156..])
            .map(|&x| x as u64)
            .sum::<u64>()
            + 8 * 32;
        let (Some(size), Some(cksum)) = (number(&b[124..136]), number(&b[148..156])) else {
            self.state = State::Off;
            return;
        };
        if sum != cksum {
            self.state = State::Off;
            return;
        }
        let kind = b[156];
        let size = match kind {
            b'L' | b'K' | b'x' | b'g' => size,
            _ => self.pax_size.take().unwrap_or(size),
        };
        match kind {
            b'L' | b'K' if size > PATH_MAX => {
                let what = if kind == b'L' { "name" } else { "link target" };
                return self.refuse(format!(
                    "a GNU long {what} of {size} bytes (paths are at most {PATH_MAX} bytes)"
                ));
            }
            b'x' | b'g' if size > PAX_MAX => {
                return self.refuse(format!(
                    "a PAX header of {size} bytes (at most {PAX_MAX} are accepted)"
                ));
            }
            b'S' => {
                let real = number(&b[483..495]).unwrap_or(u64::MAX);
                if real > self.max_file {
                    let name: Vec<u8> = b[..100].iter().take_while(|&&c| c != 0).copied().collect();
                    return self.refuse(format!(
                        "member '{}': a sparse file of {real} bytes; the largest file this \
                         filesystem can hold has {} bytes",
                        super::quote(&name),
                        self.max_file
                    ));
                }
            }
            _ => {}
        }
        self.state = if kind == b'x' && size > 0 {
            State::Pax {
                left: size,
                next: after + padded(size),
            }
        } else if kind == b'S' && b[482] != 0 {
            State::Block {
                at: after,
                sparse_ext: Some(size),
            }
        } else {
            State::Block {
                at: after + padded(size),
                sparse_ext: None,
            }
        };
    }

    fn refuse(&mut self, why: String) {
        self.refused = Some(why);
        self.state = State::Off;
    }

    fn refused_error(&self) -> Option<std::io::Error> {
        self.refused
            .as_ref()
            .map(|r| std::io::Error::other(Refused(r.clone())))
    }
}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(e) = self.refused_error() {
            return Err(e);
        }
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.eof = true;
        }
        self.watch(&buf[..n]);
        self.pos += n as u64;
        match self.refused_error() {
            Some(e) => Err(e),
            None => Ok(n),
        }
    }
}

impl<R: Seek> Seek for Guard<R> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.pos = self.inner.seek(pos)?;
        Ok(self.pos)
    }
}

fn padded(n: u64) -> u64 {
    n.div_ceil(BLOCK).saturating_mul(BLOCK)
}

/// A header number: octal (NUL/space padded) or GNU base-256.
pub fn number(f: &[u8]) -> Option<u64> {
    if f.first().is_some_and(|&b| b & 0x80 != 0) {
        if f[0] & 0x40 != 0 {
            return None; // negative
        }
        let mut v: u64 = (f[0] & 0x3f) as u64;
        for &b in &f[1..] {
            v = v.checked_mul(256)?.checked_add(b as u64)?;
        }
        return Some(v);
    }
    let s = f
        .iter()
        .skip_while(|&&b| b == b' ')
        .take_while(|&&b| b != 0 && b != b' ');
    let mut v: u64 = 0;
    for &b in s {
        if !(b'0'..=b'7').contains(&b) {
            return None;
        }
        v = v.checked_mul(8)?.checked_add((b - b'0') as u64)?;
    }
    Some(v)
}

/// The `size` record of a PAX header, if any.
fn pax_size(records: &[u8]) -> Option<u64> {
    let mut rest = records;
    let mut found = None;
    while !rest.is_empty() {
        let sp = rest.iter().position(|&b| b == b' ')?;
        let len: usize = std::str::from_utf8(&rest[..sp]).ok()?.parse().ok()?;
        if len <= sp || len > rest.len() {
            return found;
        }
        let rec = &rest[sp + 1..len];
        if let Some(v) = rec.strip_prefix(b"size=") {
            let v = v.strip_suffix(b"\n").unwrap_or(v);
            found = std::str::from_utf8(v).ok()?.parse().ok();
        }
        rest = &rest[len..];
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(number(b"0000644\0"), Some(0o644));
        assert_eq!(number(b"  17 \0"), Some(0o17));
        assert_eq!(number(&[0x80, 0, 0, 1, 0]), Some(256));
        assert_eq!(number(b"9"), None);
        assert_eq!(pax_size(b"16 size=123456\n12 path=ab\n"), Some(123456));
    }
}
