//! Bounds on what a tar archive can make the reader hold before a member
//! reaches us. The `tar` crate reads a GNU long name, a long link name or
//! a PAX header whole into memory, and expands an old GNU sparse member's
//! holes as zeroes; a small compressed archive can claim gigabytes of
//! either. [`Guard`] sits under the crate, follows the header chain as
//! the bytes go by and refuses such a header before the crate reads past
//! it.

use std::cell::RefCell;
use std::io::{Read, Seek};
use std::rc::Rc;

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
    /// The next header starts at `at` (in the crate's view).
    Block { at: u64 },
    /// A PAX header's records (read for a `size` that moves the next
    /// header), `left` bytes to go, then the next header at `next`.
    Pax { left: u64, next: u64 },
    /// Lost track (a header the crate will reject anyway): no more checks.
    Off,
}

/// An old GNU sparse member's map, which the guard reads (extension
/// blocks included) so that the crate never expands the holes: the
/// crate is shown a plain member of the stored data instead.
#[derive(Debug)]
pub struct OldSparse {
    /// Where its header is, in the crate's view.
    pub header_at: u64,
    /// (offset in the file, length) of each stored run, in order.
    pub runs: Vec<(u64, u64)>,
    pub size: u64,
}

/// What the guard tells the archive reader.
#[derive(Debug, Default)]
pub struct Found {
    /// Bytes (extension blocks) left out of the crate's view so far: a
    /// position the crate reports is this much further in the archive.
    pub hidden: u64,
    pub sparse: Option<OldSparse>,
    /// The input ended (a header the crate then fails on is cut short).
    pub input_ended: bool,
}

/// Most runs an old GNU sparse map may list (16 bytes each kept).
const SPARSE_RUNS_MAX: usize = 1 << 20;

/// Sits between the input and the crate: counts what was consumed, notes
/// whether the input ended (an archive cut short at a member boundary is
/// truncated), reads every header whole and checks it before the crate
/// sees it.
pub struct Guard<R> {
    inner: R,
    pub eof: bool,
    /// The largest file the image can hold.
    max_file: u64,
    /// Position in the crate's view.
    pos: u64,
    state: State,
    /// A header read whole, being handed to the crate.
    held: Vec<u8>,
    served: usize,
    pax: Vec<u8>,
    /// A PAX `size` for the next member header.
    pax_size: Option<u64>,
    refused: Option<String>,
    found: Rc<RefCell<Found>>,
}

impl<R: Read> Guard<R> {
    pub fn new(inner: R, max_file: u64, found: Rc<RefCell<Found>>) -> Self {
        Guard {
            inner,
            eof: false,
            max_file,
            pos: 0,
            state: State::Block { at: 0 },
            held: Vec::new(),
            served: 0,
            pax: Vec::new(),
            pax_size: None,
            refused: None,
            found,
        }
    }

    /// Fills `buf` from the input as far as it goes; the count read.
    fn read_full(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            match self.inner.read(&mut buf[n..]) {
                Ok(0) => {
                    self.eof = true;
                    self.found.borrow_mut().input_ended = true;
                    break;
                }
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }

    /// Reads the header at the current position whole and judges it.
    fn take_header(&mut self) -> std::io::Result<()> {
        let mut b = vec![0u8; BLOCK as usize];
        let n = self.read_full(&mut b)?;
        b.truncate(n);
        if n == BLOCK as usize {
            self.judge(&mut b)?;
        } else {
            // Cut short: the crate says so.
            self.state = State::Off;
        }
        self.held = b;
        self.served = 0;
        Ok(())
    }

    /// A header at the expected place: refuses it, or decides where the
    /// next one is (an old GNU sparse header is rewritten, see
    /// [`OldSparse`]).
    fn judge(&mut self, b: &mut [u8]) -> std::io::Result<()> {
        let at = self.pos;
        let after = at + BLOCK;
        if b.iter().all(|&x| x == 0) {
            self.state = State::Block { at: after };
            return Ok(());
        }
        let (Some(size), Some(cksum)) = (number(&b[124..136]), number(&b[148..156])) else {
            self.state = State::Off;
            return Ok(());
        };
        if checksum(b) != cksum {
            self.state = State::Off;
            return Ok(());
        }
        let kind = b[156];
        let size = match kind {
            b'L' | b'K' | b'x' | b'g' => size,
            _ => self.pax_size.take().unwrap_or(size),
        };
        match kind {
            b'L' | b'K' if size > PATH_MAX => {
                let what = if kind == b'L' { "name" } else { "link target" };
                self.refuse(format!(
                    "a GNU long {what} of {size} bytes (paths are at most {PATH_MAX} bytes)"
                ));
                return Ok(());
            }
            b'x' | b'g' if size > PAX_MAX => {
                self.refuse(format!(
                    "a PAX header of {size} bytes (at most {PAX_MAX} are accepted)"
                ));
                return Ok(());
            }
            b'S' => {
                if let Err(why) = self.old_sparse(b, at, size) {
                    let name: Vec<u8> = b[..100].iter().take_while(|&&c| c != 0).copied().collect();
                    self.refuse(format!("member '{}': {why}", super::quote(&name)));
                    return Ok(());
                }
            }
            _ => {}
        }
        self.state = if kind == b'x' && size > 0 {
            State::Pax {
                left: size,
                next: after + padded(size),
            }
        } else {
            State::Block {
                at: after + padded(size),
            }
        };
        Ok(())
    }

    /// Reads an old GNU sparse header's map (and its extension blocks,
    /// which the crate then never sees), checks it, and turns the header
    /// into a plain member of its `stored` bytes.
    fn old_sparse(&mut self, b: &mut [u8], at: u64, stored: u64) -> Result<(), String> {
        let real = number(&b[483..495]).ok_or("a bad real size")?;
        if real > self.max_file {
            return Err(format!(
                "a sparse file of {real} bytes; the largest file this filesystem \
                 can hold has {} bytes",
                self.max_file
            ));
        }
        let mut runs = Vec::new();
        let mut add = |slots: &[u8]| -> Result<(), String> {
            for s in slots.chunks_exact(24) {
                // An empty slot, as the crate reads them.
                if s[0] == 0 || s[12] == 0 {
                    continue;
                }
                let bad = || "a corrupt sparse map".to_string();
                let run = (
                    number(&s[..12]).ok_or_else(bad)?,
                    number(&s[12..]).ok_or_else(bad)?,
                );
                if runs.len() == SPARSE_RUNS_MAX {
                    return Err(format!("a sparse map of more than {SPARSE_RUNS_MAX} runs"));
                }
                runs.push(run);
            }
            Ok(())
        };
        add(&b[386..482])?;
        let mut more = b[482] != 0;
        let mut ext = vec![0u8; BLOCK as usize];
        while more {
            let n = self.read_full(&mut ext).map_err(|e| e.to_string())?;
            if n < BLOCK as usize {
                return Err("truncated archive in a sparse map".into());
            }
            self.found.borrow_mut().hidden += BLOCK;
            add(&ext[..504])?;
            more = ext[504] != 0;
        }
        let mut end = 0u64;
        let mut data = 0u64;
        for &(off, len) in &runs {
            let stop = off.checked_add(len).filter(|&e| off >= end && e <= real);
            end = stop.ok_or("a sparse map with runs out of order or past the file's size")?;
            data += len;
        }
        if data != stored {
            return Err(format!(
                "a sparse map of {data} bytes for {stored} bytes of stored data"
            ));
        }
        self.found.borrow_mut().sparse = Some(OldSparse {
            header_at: at,
            runs,
            size: real,
        });
        b[156] = b'0';
        let sum = checksum(b);
        b[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        Ok(())
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
        if buf.is_empty() {
            return Ok(0);
        }
        if self.served == self.held.len()
            && matches!(self.state, State::Block { at } if at == self.pos)
        {
            self.take_header()?;
            if let Some(e) = self.refused_error() {
                return Err(e);
            }
            if self.held.is_empty() {
                return Ok(0);
            }
        }
        if self.served < self.held.len() {
            let n = (self.held.len() - self.served).min(buf.len());
            buf[..n].copy_from_slice(&self.held[self.served..self.served + n]);
            self.served += n;
            self.pos += n as u64;
            return Ok(n);
        }
        // Data: never past the next header, which is read whole.
        let until = match self.state {
            State::Block { at } if at > self.pos => at - self.pos,
            State::Pax { next, .. } if next > self.pos => next - self.pos,
            State::Off => u64::MAX,
            _ => {
                // The crate went past a header we expected: not our walk.
                self.state = State::Off;
                u64::MAX
            }
        };
        let want = (until.min(buf.len() as u64)) as usize;
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            self.eof = true;
            self.found.borrow_mut().input_ended = true;
        }
        if let State::Pax { left, next } = &mut self.state {
            let k = (*left).min(n as u64) as usize;
            self.pax.extend_from_slice(&buf[..k]);
            *left -= k as u64;
            if *left == 0 {
                let at = *next;
                self.pax_size = pax_size(&self.pax);
                self.pax = Vec::new();
                self.state = State::Block { at };
            }
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Seek> Seek for Guard<R> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        let real = self.inner.seek(pos)?;
        self.pos = real.saturating_sub(self.found.borrow().hidden);
        Ok(self.pos)
    }
}

/// A header's checksum, its own field counted as spaces.
fn checksum(b: &[u8]) -> u64 {
    b[..148]
        .iter()
        .chain(&b[156..])
        .map(|&x| x as u64)
        .sum::<u64>()
        + 8 * 32
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
        assert_eq!(pax_size(b"15 size=123456\n11 path=ab\n"), Some(123456));
    }
}
