//! `-d ARCHIVE`: reads a tar archive (plain, gzip, xz or zstd, told apart
//! by their first bytes; `-` is standard input) into a layer tree of the
//! source model. Nothing is extracted: members become model entries, and
//! file data stays in the archive (a plain tar file, read in place when
//! the image is written) or in a spool (compressed or piped: memory, then a temporary file).
//!
//! Members: regular files, GNU sparse files (old GNU maps read by the
//! guard under the `tar` crate, holes never expanded; PAX sparse formats
//! 0.0, 0.1 and 1.0 parsed here), hard
//! links, symlinks (targets kept as they are, never followed), character
//! and block devices, fifos; numeric owners, modes, times (PAX times
//! override the header's) and `SCHILY.xattr.*` extended attributes.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Seek};
use std::path::Path;
use std::rc::Rc;

use anyhow::{anyhow, Context, Result};
use ext2fs::xattr::Xattr;
use tar::EntryType;

use crate::source::{Data, Dir, Entry, Kind, Meta, Model, Node, Seg};

mod guard;
use guard::{Guard, PATH_MAX};

/// At most this much of a name read from an archive goes into a message.
const QUOTE_MAX: usize = 256;

/// A name from an archive for a message: lossy UTF-8, cut after
/// QUOTE_MAX bytes.
fn quote(name: &[u8]) -> String {
    if name.len() <= QUOTE_MAX {
        return String::from_utf8_lossy(name).into_owned();
    }
    format!("{}...", String::from_utf8_lossy(&name[..QUOTE_MAX]))
}

/// Reads an archive file, or standard input for `-`, into a layer tree.
/// `lower` is the merge of the layers below, for hard links into them.
pub fn read_tar_layer(model: &mut Model, src: &Path, lower: &Dir) -> Result<Dir> {
    let label = if src == Path::new("-") {
        "standard input".to_string()
    } else {
        src.display().to_string()
    };
    let mut layer = Dir {
        origin: label.clone(),
        ..Dir::default()
    };
    let mut r = Reader {
        model,
        label: label.clone(),
        lower,
        layer: &mut layer,
        last: None,
        found: Rc::default(),
        links: HashMap::new(),
    };
    let file = if src == Path::new("-") {
        // Standard input redirected from a file is read like that file.
        use std::os::fd::AsFd;
        std::io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .ok()
            .map(std::fs::File::from)
            .filter(|f| {
                let mut f = f;
                f.metadata().is_ok_and(|m| m.is_file()) && f.stream_position().is_ok_and(|p| p == 0)
            })
    } else {
        Some(std::fs::File::open(src).with_context(|| format!("cannot open {label}"))?)
    };
    if let Some(f) = file {
        // A fifo (`-d <(zcat layer.tar.gz)`) or a character device is a stream.
        let regular = f.metadata().is_ok_and(|m| m.is_file());
        let mut b = BufReader::with_capacity(1 << 16, f);
        match Compression::detect(b.fill_buf().with_context(|| label.clone())?) {
            Compression::None if regular => {
                // A plain tar file: headers read, data left in place.
                let mut f = b.into_inner();
                f.rewind().with_context(|| label.clone())?;
                r.read_seekable(f)?;
            }
            _ => r.read_stream(Box::new(b))?,
        }
    } else {
        r.read_stream(Box::new(std::io::stdin()))?;
    }
    Ok(layer)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Compression {
    None,
    Gzip,
    Xz,
    Zstd,
    Bzip2,
}

impl Compression {
    fn detect(head: &[u8]) -> Self {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Compression::Xz
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else if head.starts_with(b"BZh") {
            Compression::Bzip2
        } else {
            Compression::None
        }
    }
}

/// Reads the decompressed stream in 1 MiB pieces and hands them over;
/// stops when the reader is gone.
fn pump(
    mut dec: Box<dyn Read + Send + '_>,
    tx: std::sync::mpsc::SyncSender<std::io::Result<Vec<u8>>>,
) {
    loop {
        let mut buf = vec![0u8; 1 << 20];
        let mut n = 0;
        while n < buf.len() {
            match dec.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        }
        if n == 0 {
            return;
        }
        buf.truncate(n);
        if tx.send(Ok(buf)).is_err() {
            return;
        }
    }
}

/// The receiving end of [`pump`] as a reader.
struct ChannelReader {
    rx: std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    cur: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.cur.len() {
            match self.rx.recv() {
                Ok(Ok(v)) => {
                    self.cur = v;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = (self.cur.len() - self.pos).min(buf.len());
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

struct Reader<'a> {
    model: &'a mut Model,
    label: String,
    lower: &'a Dir,
    layer: &'a mut Dir,
    /// The last member read, for messages about what follows it.
    last: Option<String>,
    /// What the guard under the crate found in this archive.
    found: Rc<RefCell<guard::Found>>,
    /// Names of each multiply-linked node in this archive, to refuse
    /// more than ext2 can count before any is written.
    links: HashMap<usize, u32>,
}

/// A member's sparse map: (offset in the file, length) runs and the size.
struct Sparse {
    runs: Vec<(u64, u64)>,
    size: u64,
    name: Option<Vec<u8>>,
    /// Version 1.0: the map is at the start of the member's data.
    map_in_data: bool,
}

impl Reader<'_> {
    fn no_end(&self) -> anyhow::Error {
        if self.last.is_none() {
            return anyhow!("{}: empty, not a tar archive", self.label);
        }
        anyhow!(
            "{}: truncated archive: no end-of-archive blocks",
            self.where_after()
        )
    }

    fn where_after(&self) -> String {
        match &self.last {
            Some(m) => format!("{}: after member '{}'", self.label, quote(m.as_bytes())),
            None => format!("{}: at the first member", self.label),
        }
    }

    /// A member header that cannot be read: at the start, not a tar
    /// archive at all (the crate's words may quote binary junk).
    fn bad_header(&self, e: std::io::Error) -> anyhow::Error {
        if let Some(r) = guard::refusal(&e) {
            return anyhow!("{}: refused: {r}", self.where_after());
        }
        if self.last.is_none() {
            return anyhow!(
                "{}: not a tar archive (plain, gzip, xz or zstd), or corrupt at its first member",
                self.label
            );
        }
        // The crate words a header cut short as an error of its own; the
        // guard saw the input end, which says the same without its text.
        let what =
            if e.kind() == std::io::ErrorKind::UnexpectedEof || self.found.borrow().input_ended {
                "truncated archive"
            } else {
                "corrupt archive"
            };
        let msg: String = e
            .to_string()
            .chars()
            .map(|c| {
                if c.is_control() || c == '\u{fffd}' {
                    '?'
                } else {
                    c
                }
            })
            .collect();
        anyhow!("{}: {what}: {msg}", self.where_after())
    }

    fn read_stream(&mut self, input: Box<dyn Read + Send + '_>) -> Result<()> {
        let mut b = BufReader::with_capacity(1 << 16, input);
        let head = b.fill_buf().with_context(|| self.label.clone())?;
        let comp = Compression::detect(head);
        let dec: Box<dyn Read + Send + '_> = match comp {
            Compression::None => Box::new(b),
            Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(b)),
            Compression::Xz => Box::new(xz2::bufread::XzDecoder::new_multi_decoder(b)),
            Compression::Zstd => Box::new(
                zstd::stream::read::Decoder::with_buffer(b)
                    .with_context(|| format!("{}: zstd", self.label))?,
            ),
            Compression::Bzip2 => {
                return Err(anyhow!(
                    "{}: bzip2-compressed archives are not supported (gzip, xz and zstd are)",
                    self.label
                ))
            }
        };
        if comp == Compression::None {
            return self.parse_stream(dec);
        }
        // Decompression runs in its own thread, ahead of the parsing.
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel(4);
            scope.spawn(move || pump(dec, tx));
            self.parse_stream(ChannelReader {
                rx,
                cur: Vec::new(),
                pos: 0,
            })
        })
    }

    fn parse_stream<R: Read>(&mut self, input: R) -> Result<()> {
        self.found = Rc::default();
        let guard = Guard::new(input, self.model.limits.max_file, self.found.clone());
        let mut ar = tar::Archive::new(guard);
        let entries = ar.entries().with_context(|| self.label.clone())?;
        for e in entries {
            let e = e.map_err(|e| self.bad_header(e))?;
            self.member(e, None)?;
        }
        if ar.into_inner().eof {
            return Err(self.no_end());
        }
        Ok(())
    }

    fn read_seekable(&mut self, f: std::fs::File) -> Result<()> {
        let len = f.metadata().with_context(|| self.label.clone())?.len();
        let data_file = f.try_clone().with_context(|| self.label.clone())?;
        let idx = self.model.archives.len();
        self.model.archives.push(data_file);
        self.found = Rc::default();
        let mut ar = tar::Archive::new(Guard::new(
            BufReader::with_capacity(1 << 16, f),
            self.model.limits.max_file,
            self.found.clone(),
        ));
        let entries = ar.entries_with_seek().with_context(|| self.label.clone())?;
        for e in entries {
            let e = e.map_err(|e| self.bad_header(e))?;
            let end = self.data_start(&e).saturating_add(e.size());
            if end > len {
                let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
                return Err(anyhow!(
                    "{}: member '{name}': truncated archive: its data ends at byte {end}, \
                     the archive has {len}",
                    self.label
                ));
            }
            self.member(e, Some((idx, len)))?;
        }
        if ar.into_inner().eof {
            return Err(self.no_end());
        }
        Ok(())
    }

    /// Where a member's data starts in the archive (the guard hid old GNU
    /// sparse extension blocks from the crate's positions).
    fn data_start<R: Read>(&self, e: &tar::Entry<'_, R>) -> u64 {
        e.raw_file_position() + self.found.borrow().hidden
    }

    /// One member. `seekable`: (archive index, archive length) when the
    /// data can be read in place.
    fn member<R: Read>(
        &mut self,
        mut e: tar::Entry<'_, R>,
        seekable: Option<(usize, u64)>,
    ) -> Result<()> {
        let raw_name = e.path_bytes().into_owned();
        let shown = quote(&raw_name);
        let ctx = format!("{}: member '{shown}'", self.label);
        if raw_name.len() as u64 >= PATH_MAX {
            return Err(anyhow!(
                "{ctx}: a name of {} bytes (paths are at most {} bytes)",
                raw_name.len(),
                PATH_MAX - 1
            ));
        }
        let et = e.header().entry_type();
        if matches!(et, EntryType::XGlobalHeader) || et.as_byte() == b'V' {
            // Global PAX defaults and GNU volume labels name no file.
            return Ok(());
        }
        let mut meta = Meta {
            perm: (e.header().mode().with_context(|| ctx.clone())? & 0o7777) as u16,
            uid: u32::try_from(e.header().uid().with_context(|| ctx.clone())?)
                .map_err(|_| anyhow!("{ctx}: uid does not fit in 32 bits"))?,
            gid: u32::try_from(e.header().gid().with_context(|| ctx.clone())?)
                .map_err(|_| anyhow!("{ctx}: gid does not fit in 32 bits"))?,
            mtime: e.header().mtime().map(|t| t as i64).unwrap_or(0),
            ..Meta::default()
        };
        meta.atime = meta.mtime;
        meta.ctime = meta.mtime;
        let mut sparse: Option<Sparse> = None;
        let mut gnu_sparse_keys = Vec::new();
        if let Some(pax) = e.pax_extensions().with_context(|| ctx.clone())? {
            for ext in pax {
                let ext = ext.with_context(|| ctx.clone())?;
                let Ok(key) = ext.key() else { continue };
                let value = ext.value_bytes();
                let time = || pax_time(value).ok_or_else(|| anyhow!("{ctx}: bad PAX {key}"));
                match key {
                    "mtime" => meta.mtime = time()?,
                    "atime" => meta.atime = time()?,
                    "ctime" => meta.ctime = time()?,
                    _ => {
                        if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
                            meta.xattrs.push(Xattr {
                                name: name.to_string(),
                                value: value.to_vec(),
                            });
                        } else if key.starts_with("GNU.sparse.") {
                            gnu_sparse_keys.push((key.to_string(), value.to_vec()));
                        }
                    }
                }
            }
        }
        if !gnu_sparse_keys.is_empty() {
            sparse = Some(parse_pax_sparse(&gnu_sparse_keys).map_err(|m| anyhow!("{ctx}: {m}"))?);
        }
        let old_sparse = self.found.borrow_mut().sparse.take();
        if let Some(old) = old_sparse.filter(|o| o.header_at == e.raw_header_position()) {
            if sparse.is_some() {
                return Err(anyhow!("{ctx}: both an old GNU and a PAX sparse map"));
            }
            sparse = Some(Sparse {
                runs: old.runs,
                size: old.size,
                name: None,
                map_in_data: false,
            });
        }
        meta.xattrs.sort();
        meta.xattrs.dedup_by(|a, b| a.name == b.name);

        let name = sparse
            .as_ref()
            .and_then(|s| s.name.clone())
            .unwrap_or(raw_name);
        let comps = components(&name).map_err(|m| anyhow!("{ctx}: {m}"))?;
        self.last = Some(shown.clone());

        let kind = match et {
            EntryType::Directory => {
                let d = self.dir_at(&comps, true, &ctx)?;
                d.meta = Some(meta);
                d.origin = ctx;
                return Ok(());
            }
            EntryType::Link => {
                let target = e
                    .link_name_bytes()
                    .ok_or_else(|| anyhow!("{ctx}: hard link without a target"))?
                    .into_owned();
                let tc = components(&target).map_err(|m| anyhow!("{ctx}: link target {m}"))?;
                let tshown = quote(&target);
                let id = match self.layer.lookup(&tc).or_else(|| self.lower.lookup(&tc)) {
                    Some(Entry::Node(id)) => *id,
                    Some(_) => {
                        return Err(anyhow!(
                            "{ctx}: hard link to '{tshown}', which is a directory"
                        ))
                    }
                    None => {
                        return Err(anyhow!(
                            "{ctx}: hard link to '{tshown}', which is not in the archive before it"
                        ))
                    }
                };
                let links = self.links.entry(id).or_insert(1);
                *links += 1;
                if *links > u32::from(ext2fs::inode::LINK_MAX) {
                    return Err(anyhow!(
                        "{ctx}: too many links to '{tshown}' (ext2 allows {})",
                        ext2fs::inode::LINK_MAX
                    ));
                }
                return self.put(&comps, Entry::Node(id), true, &ctx);
            }
            EntryType::Symlink => {
                let target = e
                    .link_name_bytes()
                    .ok_or_else(|| anyhow!("{ctx}: symlink without a target"))?
                    .into_owned();
                if target.contains(&0) {
                    return Err(anyhow!("{ctx}: the symlink target contains a NUL byte"));
                }
                if target.len() as u64 >= PATH_MAX {
                    return Err(anyhow!(
                        "{ctx}: a symlink target of {} bytes (at most {} bytes)",
                        target.len(),
                        PATH_MAX - 1
                    ));
                }
                Kind::Symlink(target)
            }
            EntryType::Char | EntryType::Block => {
                let major = e.header().device_major().with_context(|| ctx.clone())?;
                let minor = e.header().device_minor().with_context(|| ctx.clone())?;
                let (a, b) = (major.unwrap_or(0), minor.unwrap_or(0));
                if !ext2fs::inode::device_fits(a, b) {
                    return Err(anyhow!(
                        "{ctx}: device {a},{b} does not fit ext2's encoding \
                         (majors up to 4095, minors up to 1048575)"
                    ));
                }
                if et == EntryType::Char {
                    Kind::Char(a, b)
                } else {
                    Kind::Block(a, b)
                }
            }
            EntryType::Fifo => Kind::Fifo,
            // Old GNU sparse members reach here as regular ones (the
            // guard read their map).
            EntryType::Regular | EntryType::Continuous => {
                self.file_data(&mut e, sparse, seekable, &ctx)?
            }
            other => {
                return Err(anyhow!(
                    "{ctx}: unsupported member type '{}'",
                    char::from(other.as_byte()).escape_default()
                ))
            }
        };
        let id = self.model.add(Node {
            meta,
            kind,
            origin: ctx.clone(),
        });
        self.put(&comps, Entry::Node(id), false, &ctx)
    }

    fn file_data<R: Read>(
        &mut self,
        e: &mut tar::Entry<'_, R>,
        sparse: Option<Sparse>,
        seekable: Option<(usize, u64)>,
        ctx: &str,
    ) -> Result<Kind> {
        let stored = e.size();
        let limits = self.model.limits;
        if stored > limits.free_bytes {
            return Err(anyhow!(
                "{ctx}: {stored} bytes of data; the filesystem has {} bytes free",
                limits.free_bytes
            ));
        }
        let size = match &sparse {
            Some(sp) => sp.size,
            None => stored,
        };
        if size > limits.max_file {
            return Err(anyhow!(
                "{ctx}: a file of {size} bytes; the largest file this filesystem \
                 can hold has {} bytes",
                limits.max_file
            ));
        }
        let Some(mut sp) = sparse else {
            if let Some((idx, _)) = seekable {
                // In place: one run of the archive.
                let segs = vec![Seg {
                    file_off: 0,
                    src_off: self.data_start(e),
                    len: stored,
                }];
                return Ok(Kind::File {
                    size: stored,
                    data: Data::Archive(idx, segs),
                });
            }
            // Streamed (zero blocks become holes when written).
            let (segs, got) = self.spool(e, &[(0, stored)], ctx)?;
            if got != stored {
                return Err(anyhow!("{ctx}: truncated archive: member data cut short"));
            }
            return Ok(Kind::File {
                size: stored,
                data: Data::Spool(segs),
            });
        };
        // PAX sparse: the stored data is the runs, back to back.
        let mut skipped = 0u64;
        if sp.map_in_data {
            let (runs, used) = read_sparse_map(e).map_err(|m| anyhow!("{ctx}: {m}"))?;
            sp.runs = runs;
            skipped = used;
        }
        let total: u64 = sp.runs.iter().map(|r| r.1).sum();
        if skipped.saturating_add(total) > stored {
            return Err(anyhow!(
                "{ctx}: the sparse map lists more data than the member holds"
            ));
        }
        for &(off, len) in &sp.runs {
            if off.saturating_add(len) > sp.size {
                return Err(anyhow!("{ctx}: a sparse run ends past the file size"));
            }
        }
        if let Some((idx, _)) = seekable {
            let mut at = self.data_start(e) + skipped;
            let segs = sp
                .runs
                .iter()
                .map(|&(off, len)| {
                    let s = Seg {
                        file_off: off,
                        src_off: at,
                        len,
                    };
                    at += len;
                    s
                })
                .collect();
            return Ok(Kind::File {
                size: sp.size,
                data: Data::Archive(idx, segs),
            });
        }
        let (segs, got) = self.spool(e, &sp.runs, ctx)?;
        if got != total {
            return Err(anyhow!("{ctx}: truncated archive: member data cut short"));
        }
        Ok(Kind::File {
            size: sp.size,
            data: Data::Spool(segs),
        })
    }

    /// Copies the runs' bytes from the member into the spool.
    fn spool<R: Read>(
        &mut self,
        e: &mut R,
        runs: &[(u64, u64)],
        ctx: &str,
    ) -> Result<(Vec<crate::source::Seg>, u64)> {
        let mut buf = vec![0u8; 1 << 16];
        let mut segs = Vec::new();
        let mut got = 0u64;
        for &(off, len) in runs {
            let mut left = len;
            let mut file_off = off;
            while left > 0 {
                let want = (left as usize).min(buf.len());
                let n = match e.read(&mut buf[..want]) {
                    Ok(0) => return Ok((segs, got)),
                    Ok(n) => n,
                    Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(err) => return Err(anyhow!("{ctx}: {err}")),
                };
                if is_zero(&buf[..n]) {
                    // Zeroes are not kept: the gap reads as zeroes (and
                    // an old GNU sparse member's holes cost nothing).
                    file_off += n as u64;
                    left -= n as u64;
                    got += n as u64;
                    continue;
                }
                let at = self.model.spool.append(&buf[..n])?;
                if self.model.spool.bytes() > self.model.limits.free_bytes {
                    return Err(anyhow!(
                        "{ctx}: the archive's data does not fit in the filesystem's \
                         {} free bytes",
                        self.model.limits.free_bytes
                    ));
                }
                match segs.last_mut() {
                    Some(s) if s.file_off + s.len == file_off && s.src_off + s.len == at => {
                        s.len += n as u64
                    }
                    _ => segs.push(Seg {
                        file_off,
                        src_off: at,
                        len: n as u64,
                    }),
                }
                file_off += n as u64;
                left -= n as u64;
                got += n as u64;
            }
        }
        Ok((segs, got))
    }

    /// The layer directory at `comps`, made (implicitly) where missing.
    /// `member`: `comps` names a directory member, which replaces a
    /// non-directory of its name.
    fn dir_at(&mut self, comps: &[&[u8]], member: bool, ctx: &str) -> Result<&mut Dir> {
        let mut d: &mut Dir = self.layer;
        for (i, c) in comps.iter().enumerate() {
            if !d.entries.contains_key(*c) {
                count_inode(self.model, self.lower, &comps[..=i], ctx)?;
            }
            let slot = d.entries.entry(c.to_vec()).or_insert_with(|| {
                Entry::Dir(Box::new(Dir {
                    meta: None,
                    origin: ctx.to_string(),
                    ..Dir::default()
                }))
            });
            if !matches!(slot, Entry::Dir(_)) {
                if member && i + 1 == comps.len() {
                    // A directory member replaces an earlier non-directory.
                    *slot = Entry::Dir(Box::default());
                } else {
                    let p: Vec<String> = comps[..=i]
                        .iter()
                        .map(|c| String::from_utf8_lossy(c).into_owned())
                        .collect();
                    return Err(anyhow!(
                        "{ctx}: '{}' is not a directory in the archive",
                        p.join("/")
                    ));
                }
            }
            match slot {
                Entry::Dir(sub) => d = sub,
                _ => return Err(anyhow!("{ctx}: internal error")),
            }
        }
        Ok(d)
    }

    /// Puts a non-directory entry at `comps` (a later member replaces an
    /// earlier one of the same name).
    /// `hard_link`: `entry` names an inode already counted.
    fn put(&mut self, comps: &[&[u8]], entry: Entry, hard_link: bool, ctx: &str) -> Result<()> {
        let Some((last, parents)) = comps.split_last() else {
            return Err(anyhow!("{ctx}: only a directory can be the archive's root"));
        };
        let d = self.dir_at(parents, false, ctx)?;
        let fresh = !d.entries.contains_key(*last);
        d.entries.insert(last.to_vec(), entry);
        if fresh && !hard_link {
            count_inode(self.model, self.lower, comps, ctx)?;
        }
        Ok(())
    }
}

/// Counts one more inode the image will need for `comps` (none when a
/// lower layer has the name: the entry replaces it), refusing as soon as
/// the archive needs more than the image has free.
fn count_inode(model: &mut Model, lower: &Dir, comps: &[&[u8]], ctx: &str) -> Result<()> {
    if lower.lookup(comps).is_some() {
        return Ok(());
    }
    model.inodes += 1;
    if model.inodes > model.limits.free_inodes {
        return Err(anyhow!(
            "{ctx}: the sources need more inodes than the filesystem has free ({}); \
             make it with more inodes (-N or -i)",
            model.limits.free_inodes
        ));
    }
    Ok(())
}

fn is_zero(b: &[u8]) -> bool {
    let mut chunks = b.chunks_exact(16);
    chunks.all(|c| c == [0u8; 16]) && chunks.remainder().iter().all(|&x| x == 0)
}

/// A member name's components: `.` and empty ones dropped, a leading `/`
/// ignored (as tar does); `..` and names over 255 bytes refused.
fn components(name: &[u8]) -> std::result::Result<Vec<&[u8]>, String> {
    let mut out = Vec::new();
    for c in name.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err("the path leaves the root ('..')".into()),
            c if c.contains(&0) => return Err("a name contains a NUL byte".into()),
            c if c.len() > 255 => {
                return Err(format!(
                    "a name is {} bytes long; ext2 names are at most 255",
                    c.len()
                ))
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// A PAX time: seconds, maybe negative, maybe with a fraction.
fn pax_time(v: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(v).ok()?;
    let whole = s.split('.').next()?;
    whole.parse::<i64>().ok()
}

fn num(v: &[u8]) -> std::result::Result<u64, String> {
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| {
            format!(
                "bad number '{}' in a sparse map",
                String::from_utf8_lossy(v)
            )
        })
}

/// The PAX sparse keys (GNU formats 0.0, 0.1 and 1.0).
fn parse_pax_sparse(keys: &[(String, Vec<u8>)]) -> std::result::Result<Sparse, String> {
    let mut sp = Sparse {
        runs: Vec::new(),
        size: 0,
        name: None,
        map_in_data: false,
    };
    let mut size = None;
    let mut pending_off = None;
    let (mut major, mut minor) = (None, None);
    for (k, v) in keys {
        match k.as_str() {
            "GNU.sparse.name" => sp.name = Some(v.clone()),
            "GNU.sparse.size" | "GNU.sparse.realsize" => size = Some(num(v)?),
            "GNU.sparse.major" => major = Some(num(v)?),
            "GNU.sparse.minor" => minor = Some(num(v)?),
            "GNU.sparse.map" => {
                let nums: Vec<u64> = v
                    .split(|&b| b == b',')
                    .filter(|s| !s.is_empty())
                    .map(num)
                    .collect::<std::result::Result<_, _>>()?;
                if !nums.len().is_multiple_of(2) {
                    return Err("odd number of values in GNU.sparse.map".into());
                }
                sp.runs = nums.chunks(2).map(|c| (c[0], c[1])).collect();
            }
            "GNU.sparse.offset" => pending_off = Some(num(v)?),
            "GNU.sparse.numbytes" => {
                let off = pending_off
                    .take()
                    .ok_or("GNU.sparse.numbytes without an offset")?;
                sp.runs.push((off, num(v)?));
            }
            _ => {}
        }
    }
    match (major, minor) {
        (Some(1), Some(0)) => sp.map_in_data = true,
        (Some(m), Some(n)) if m != 0 => {
            return Err(format!("unsupported PAX sparse format {m}.{n}"));
        }
        _ => {}
    }
    sp.size = size.ok_or("a PAX sparse member without GNU.sparse.size or realsize")?;
    Ok(sp)
}

/// Format 1.0: the map is decimal lines at the start of the data, padded
/// to 512 bytes. Returns the runs and the bytes the map took.
fn read_sparse_map<R: Read>(e: &mut R) -> std::result::Result<(Vec<(u64, u64)>, u64), String> {
    let mut used = 0u64;
    let mut line = Vec::new();
    let mut next = |used: &mut u64| -> std::result::Result<u64, String> {
        line.clear();
        let mut b = [0u8; 1];
        loop {
            match e.read(&mut b) {
                Ok(0) => return Err("truncated sparse map".into()),
                Ok(_) => {}
                Err(err) => return Err(err.to_string()),
            }
            *used += 1;
            if b[0] == b'\n' {
                break;
            }
            if line.len() > 32 {
                return Err("corrupt sparse map".into());
            }
            line.push(b[0]);
        }
        num(&line)
    };
    let count = next(&mut used)?;
    if count > 1 << 24 {
        return Err("corrupt sparse map (too many runs)".into());
    }
    let mut runs = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let off = next(&mut used)?;
        let len = next(&mut used)?;
        runs.push((off, len));
    }
    let pad = (512 - used % 512) % 512;
    let mut skip = vec![0u8; pad as usize];
    e.read_exact(&mut skip)
        .map_err(|_| "truncated sparse map".to_string())?;
    Ok((runs, used + pad))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_components() {
        assert_eq!(components(b"./a//b/").unwrap(), vec![&b"a"[..], b"b"]);
        assert_eq!(components(b"/etc/x").unwrap(), vec![&b"etc"[..], b"x"]);
        assert!(components(b"a/../../x").is_err());
        assert!(components(&[b'n'; 256]).is_err());
        assert!(components(b"./").unwrap().is_empty());
    }

    #[test]
    fn compression_magic() {
        assert_eq!(Compression::detect(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(
            Compression::detect(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Compression::Zstd
        );
        assert_eq!(Compression::detect(b"\xfd7zXZ\0.."), Compression::Xz);
        assert_eq!(Compression::detect(b"hello"), Compression::None);
    }

    #[test]
    fn pax_sparse_keys() {
        let k = |a: &str, b: &str| (a.to_string(), b.as_bytes().to_vec());
        let sp = parse_pax_sparse(&[
            k("GNU.sparse.size", "100"),
            k("GNU.sparse.map", "0,10,50,5"),
            k("GNU.sparse.name", "x"),
        ])
        .unwrap();
        assert_eq!(sp.runs, vec![(0, 10), (50, 5)]);
        assert_eq!(sp.size, 100);
        let mut data: &[u8] = b"2\n0\n10\n50\n5\n";
        let mut padded = data.to_vec();
        padded.resize(512, 0);
        data = &padded;
        let (runs, used) = read_sparse_map(&mut data).unwrap();
        assert_eq!((runs, used), (vec![(0, 10), (50, 5)], 512));
        assert_eq!(pax_time(b"-5.25"), Some(-5));
    }
}
