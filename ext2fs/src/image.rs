//! Access to the bytes of an image: a regular file or a block device.
//!
//! Positioned reads and writes (no shared file offset), fsync on close,
//! and the safety rules every writer follows: never open for writing a
//! filesystem that is mounted, never let two writers in at once.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::direct_io::DirectWriter;
use crate::undo::Undo;
use crate::{loopdev, Error, Result};

/// How a path is mounted right now, from /proc/self/mountinfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountState {
    /// Not mounted and not held.
    NotMounted,
    /// Mounted, at `mountpoint`; `read_only` from the mount options.
    Mounted {
        /// Where it is mounted.
        mountpoint: PathBuf,
        /// Whether the mount is read-only.
        read_only: bool,
    },
    /// Not mounted here, but held open exclusively: mounted in another
    /// mount namespace, or claimed by another program.
    Busy,
}

/// One line of /proc/self/mountinfo, the fields we use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountInfo {
    /// Major number of the mounted filesystem's device.
    pub major: u32,
    /// Minor number of the mounted filesystem's device.
    pub minor: u32,
    /// Where it is mounted.
    pub mountpoint: PathBuf,
    /// Per-mount options (ro, nosuid, ...).
    pub options: String,
    /// Filesystem type.
    pub fstype: String,
    /// Mount source (the device, or what the filesystem calls it).
    pub source: String,
    /// Per-superblock options.
    pub super_options: String,
}

/// Undoes mountinfo's octal escapes (`\040` for space and so on).
pub fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses the text of /proc/self/mountinfo; malformed lines are skipped.
pub fn parse_mountinfo(text: &str) -> Vec<MountInfo> {
    let mut out = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(sep) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        if sep < 6 || fields.len() < sep + 3 {
            continue;
        }
        let Some((maj, min)) = fields[2].split_once(':') else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (maj.parse(), min.parse()) else {
            continue;
        };
        out.push(MountInfo {
            major,
            minor,
            mountpoint: PathBuf::from(unescape_mountinfo(fields[4])),
            options: fields[5].to_string(),
            fstype: fields[sep + 1].to_string(),
            source: unescape_mountinfo(fields[sep + 2]),
            super_options: fields.get(sep + 3).unwrap_or(&"").to_string(),
        });
    }
    out
}

/// The current mounts (empty when /proc/self/mountinfo cannot be read).
pub fn read_mountinfo() -> Vec<MountInfo> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|t| parse_mountinfo(&t))
        .unwrap_or_default()
}

/// Whether `path` is mounted, and how: compared by identity, never by
/// name, so a hard link, a bind-mounted path or a symlink to a mounted
/// image is found too. A block device is mounted when its device number is
/// in /proc/self/mountinfo; an image file when a loop device bound to the
/// same file (same st_dev and st_ino, from LOOP_GET_STATUS64), or one of
/// its partitions, is. A device held open exclusively (a mount in another
/// mount namespace, or another program's exclusive open) is `Busy`.
pub fn mount_state(path: &Path) -> MountState {
    let Ok(meta) = std::fs::metadata(path) else {
        return MountState::NotMounted;
    };
    let (devs, nodes): (Vec<(u32, u32)>, Vec<PathBuf>) = if meta.file_type().is_block_device() {
        let rdev = meta.rdev();
        (
            vec![(rustix::fs::major(rdev), rustix::fs::minor(rdev))],
            vec![path.to_path_buf()],
        )
    } else if meta.is_file() {
        let loops = loopdev::backed_by(loopdev::FileId::of(&meta));
        (
            loops
                .iter()
                .flat_map(|l| l.devices.iter().copied())
                .collect(),
            loops.into_iter().map(|l| l.path).collect(),
        )
    } else {
        return MountState::NotMounted;
    };
    let mut state = MountState::NotMounted;
    for m in read_mountinfo() {
        if devs.contains(&(m.major, m.minor)) {
            let read_only = m.options.split(',').any(|o| o == "ro");
            // A read-write mount anywhere decides it.
            if !read_only {
                return MountState::Mounted {
                    mountpoint: m.mountpoint,
                    read_only,
                };
            }
            state = MountState::Mounted {
                mountpoint: m.mountpoint,
                read_only,
            };
        }
    }
    if state == MountState::NotMounted && nodes.iter().any(|n| loopdev::held_exclusively(n)) {
        return MountState::Busy;
    }
    state
}

/// Where the bytes are.
#[derive(Debug)]
enum Backend {
    File(File),
    /// An image held in memory: for fuzzing and for tests that inject
    /// faults without touching a disk.
    Memory(Mutex<Vec<u8>>),
}

/// Test hook for the interrupted-write harness: with
/// `UNION_E2FSPROGS_FAIL_WRITE=N` in the environment, the N-th write to an
/// image file fails with an I/O error, as if the machine had stopped there
/// (the binaries then stop as they would on a dying disk).
pub const FAIL_WRITE_ENV: &str = "UNION_E2FSPROGS_FAIL_WRITE";

fn injected_write_failure() -> Option<AtomicU64> {
    let n: u64 = std::env::var(FAIL_WRITE_ENV).ok()?.trim().parse().ok()?;
    Some(AtomicU64::new(n.saturating_sub(1)))
}

/// Joins writes of adjacent blocks into one write (up to 1 MiB): for
/// writers that put out many blocks in ascending order.
pub struct RunWriter<'a> {
    image: &'a Image,
    /// Byte offset of block 0.
    offset: u64,
    block_size: usize,
    start: u64,
    pending: Vec<u8>,
}

impl<'a> RunWriter<'a> {
    const MAX_PENDING: usize = 1 << 20;

    /// A writer of `block_size`-byte blocks into `image`, block 0 at
    /// byte `offset`.
    pub fn new(image: &'a Image, offset: u64, block_size: usize) -> Self {
        RunWriter {
            image,
            offset,
            block_size,
            start: 0,
            pending: Vec::with_capacity(Self::MAX_PENDING + block_size),
        }
    }

    /// `data` is one or more whole blocks starting at `block`.
    pub fn put(&mut self, block: u64, data: &[u8]) -> Result<()> {
        let next = self.start + (self.pending.len() / self.block_size) as u64;
        if self.pending.is_empty() || next != block || self.pending.len() >= Self::MAX_PENDING {
            self.flush()?;
            self.start = block;
        }
        self.pending.extend_from_slice(data);
        Ok(())
    }

    /// Writes out the run gathered so far.
    pub fn flush(&mut self) -> Result<()> {
        if !self.pending.is_empty() {
            self.image.write_at(
                self.offset + self.start * self.block_size as u64,
                &self.pending,
            )?;
            self.pending.clear();
        }
        Ok(())
    }
}

/// An open image.
#[derive(Debug)]
pub struct Image {
    backend: Backend,
    path: PathBuf,
    writable: bool,
    len: u64,
    /// Byte offset of the filesystem inside the file or device (mke2fs -E offset).
    base: u64,
    /// Fault injection: writes left before every write fails with EIO
    /// (simulates a crash or a dying disk at a chosen point).
    writes_left: Option<AtomicU64>,
    /// Every write goes to a writer thread, large aligned ones straight to
    /// the disk (`use_direct_writes`).
    direct: Option<DirectWriter>,
    /// Old contents are saved here before their first overwrite (-z).
    undo: Option<Undo>,
}

impl Image {
    /// Opens read-only. Works on mounted filesystems (what the tools show
    /// may be stale, as with e2fsprogs).
    pub fn open_read_only(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        Self::from_file(file, path, false)
    }

    /// Opens for writing: refuses a mounted filesystem, takes O_EXCL on a
    /// block device and an exclusive lock on an image file so that a second
    /// writer is refused instead of corrupting the first one's work.
    pub fn open_read_write(path: &Path) -> Result<Self> {
        match mount_state(path) {
            MountState::Mounted { mountpoint, .. } => {
                return Err(Error::Mounted {
                    path: path.to_path_buf(),
                    mountpoint,
                })
            }
            MountState::Busy => return Err(Error::InUse(path.to_path_buf())),
            MountState::NotMounted => {}
        }
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        let mut opts = OpenOptions::new();
        opts.read(true).write(true);
        if meta.file_type().is_block_device() {
            opts.custom_flags(rustix::fs::OFlags::EXCL.bits() as i32);
        }
        let file = opts.open(path).map_err(|e| {
            if e.raw_os_error() == Some(rustix::io::Errno::BUSY.raw_os_error()) {
                Error::InUse(path.to_path_buf())
            } else {
                Error::io(path, e)
            }
        })?;
        lock_exclusive(&file, path)?;
        Self::from_file(file, path, true)
    }

    /// Creates or opens an image file for a new filesystem (mke2fs).
    pub fn create(path: &Path) -> Result<Self> {
        if path.exists() {
            return Self::open_read_write(path);
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        lock_exclusive(&file, path)?;
        Self::from_file(file, path, true)
    }

    fn from_file(file: File, path: &Path, writable: bool) -> Result<Self> {
        let meta = file.metadata().map_err(|e| Error::io(path, e))?;
        let len = if meta.file_type().is_block_device() {
            device_size(&file).map_err(|e| Error::io(path, e))?
        } else {
            meta.len()
        };
        Ok(Image {
            backend: Backend::File(file),
            path: path.to_path_buf(),
            writable,
            len,
            base: 0,
            writes_left: injected_write_failure(),
            direct: None,
            undo: None,
        })
    }

    /// Views the image from byte `offset` on (a filesystem that starts
    /// inside a larger file or device).
    pub fn with_offset(mut self, offset: u64) -> Self {
        self.base += offset;
        self.len = self.len.saturating_sub(offset);
        self
    }

    /// An image held in memory (named `<memory>` in messages).
    pub fn in_memory(bytes: Vec<u8>, writable: bool) -> Self {
        Image {
            len: bytes.len() as u64,
            backend: Backend::Memory(Mutex::new(bytes)),
            path: PathBuf::from("<memory>"),
            writable,
            base: 0,
            writes_left: None,
            direct: None,
            undo: None,
        }
    }

    /// The bytes of an in-memory image (None for a file).
    pub fn memory_bytes(&self) -> Option<Vec<u8>> {
        match &self.backend {
            Backend::Memory(m) => Some(m.lock().map(|v| v.clone()).unwrap_or_default()),
            Backend::File(_) => None,
        }
    }

    /// After `n` more successful writes, every write fails with EIO.
    pub fn fail_writes_after(&mut self, n: u64) {
        self.writes_left = Some(AtomicU64::new(n));
    }

    /// The path the image was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the image was opened for writing.
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// Size in bytes of the file or device.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file or device has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Byte offset in the file or device that offsets here start from.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// From now on, the old contents of every stretch written go to
    /// `undo` before their first overwrite; `sync` marks it finished.
    pub fn attach_undo(&mut self, undo: Undo) {
        self.undo = Some(undo);
    }

    /// The undo file attached, if any.
    pub fn undo(&self) -> Option<&Undo> {
        self.undo.as_ref()
    }

    /// Reads at a byte offset of the file or device itself (not moved by
    /// `with_offset`).
    pub(crate) fn read_absolute(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        match offset.checked_sub(self.base) {
            Some(rel) => self.read_at(rel, buf),
            None => Err(Error::io(
                &self.path,
                std::io::Error::other(format!("read before the image's start at byte {offset}")),
            )),
        }
    }

    /// Reads exactly `buf.len()` bytes at `offset`. Reading past the end of
    /// the image is an error naming the offset.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let offset = offset + self.base;
        if let Some(d) = &self.direct {
            d.wait_overlap(offset, buf.len() as u64)
                .map_err(|e| Error::io(&self.path, e))?;
        }
        let res = match &self.backend {
            Backend::File(f) => f.read_exact_at(buf, offset),
            Backend::Memory(m) => {
                let v = m.lock().map_err(|_| Error::LockPoisoned)?;
                let end = offset.checked_add(buf.len() as u64);
                match end {
                    Some(end) if end <= v.len() as u64 => {
                        buf.copy_from_slice(&v[offset as usize..end as usize]);
                        Ok(())
                    }
                    _ => Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof)),
                }
            }
        };
        res.map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                Error::io(
                    &self.path,
                    std::io::Error::new(
                        e.kind(),
                        format!(
                            "short read at byte {offset} ({} bytes wanted; the image is {} bytes)",
                            buf.len(),
                            self.len + self.base
                        ),
                    ),
                )
            } else {
                Error::io(&self.path, e)
            }
        })
    }

    /// Reads what the image holds of `buf.len()` bytes at `offset` and
    /// zeros the rest, as unix_io leaves a buffer after a short read:
    /// the bytes read (best effort: an error reads as nothing more).
    pub fn read_available(&self, offset: u64, buf: &mut [u8]) -> usize {
        buf.fill(0);
        let Some(offset) = offset.checked_add(self.base) else {
            return 0;
        };
        match &self.backend {
            Backend::File(f) => {
                let mut got = 0;
                while got < buf.len() {
                    match f.read_at(&mut buf[got..], offset + got as u64) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got += n,
                    }
                }
                got
            }
            Backend::Memory(m) => {
                let Ok(v) = m.lock() else { return 0 };
                let start = (offset.min(v.len() as u64)) as usize;
                let n = (v.len() - start).min(buf.len());
                buf[..n].copy_from_slice(&v[start..start + n]);
                n
            }
        }
    }

    /// Writes `buf` at `offset`, saving the old contents to the undo
    /// file first when one is attached; `ReadOnly` unless opened for writing.
    pub fn write_at(&self, offset: u64, buf: &[u8]) -> Result<()> {
        if !self.writable {
            return Err(Error::ReadOnly);
        }
        if let Some(left) = &self.writes_left {
            let ok = left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if !ok {
                return Err(Error::io(
                    &self.path,
                    std::io::Error::other("injected write failure (I/O error)"),
                ));
            }
        }
        let offset = offset + self.base;
        if let Some(undo) = &self.undo {
            undo.save(self, offset, buf.len() as u64)?;
        }
        match &self.backend {
            Backend::File(f) => {
                if let Some(d) = &self.direct {
                    return d.write(offset, buf).map_err(|e| Error::io(&self.path, e));
                }
                f.write_all_at(buf, offset)
                    .map_err(|e| Error::io(&self.path, e))
            }
            Backend::Memory(m) => {
                let mut v = m.lock().map_err(|_| Error::LockPoisoned)?;
                let end = offset as usize + buf.len();
                if end > v.len() {
                    return Err(Error::io(
                        &self.path,
                        std::io::Error::other(format!(
                            "write past the end of the image at byte {offset}"
                        )),
                    ));
                }
                v[offset as usize..end].copy_from_slice(buf);
                Ok(())
            }
        }
    }

    /// From now on, writes run on a writer thread, large aligned ones
    /// bypassing the page cache (O_DIRECT; see `direct_io`). Their failures are
    /// reported by a later write or read, or by `sync`, which waits for
    /// them: a caller that drops the image without `sync` loses the news.
    /// Does nothing where O_DIRECT cannot be opened (tmpfs, memory images).
    pub fn use_direct_writes(&mut self) {
        if let (true, Backend::File(f)) = (self.writable, &self.backend) {
            self.direct = DirectWriter::start(f);
        }
    }

    /// Grows a regular file to `len` bytes (sparse).
    pub fn set_len(&mut self, len: u64) -> Result<()> {
        if !self.writable {
            return Err(Error::ReadOnly);
        }
        let full = len + self.base;
        match &self.backend {
            Backend::File(f) => f.set_len(full).map_err(|e| Error::io(&self.path, e))?,
            Backend::Memory(m) => m
                .lock()
                .map_err(|_| Error::LockPoisoned)?
                .resize(full as usize, 0),
        }
        self.len = len;
        Ok(())
    }

    /// Flushes written data to stable storage.
    pub fn sync(&self) -> Result<()> {
        if let (true, Backend::File(f)) = (self.writable, &self.backend) {
            if let Some(d) = &self.direct {
                d.wait_idle().map_err(|e| Error::io(&self.path, e))?;
            }
            f.sync_all().map_err(|e| Error::io(&self.path, e))?;
        }
        if let Some(undo) = &self.undo {
            undo.checkpoint(self, true)?;
        }
        Ok(())
    }

    /// The open file, for file-only operations (SEEK_DATA, fallocate);
    /// None for an in-memory image.
    pub fn file(&self) -> Option<&File> {
        match &self.backend {
            Backend::File(f) => Some(f),
            Backend::Memory(_) => None,
        }
    }
}

impl Drop for Image {
    /// An undo log gets the superblock as the run leaves it (its state
    /// stays unfinished if writes came after the last `sync`).
    fn drop(&mut self) {
        if let Some(undo) = self.undo.take() {
            self.direct.take();
            let _ = undo.checkpoint(self, false);
        }
        // flock belongs to the open file description, which a child
        // forked by another thread shares until its exec: unlock
        // explicitly so the next open is not refused as locked.
        if let Backend::File(f) = &self.backend {
            let _ = rustix::fs::flock(f, rustix::fs::FlockOperation::Unlock);
        }
    }
}

fn lock_exclusive(file: &File, path: &Path) -> Result<()> {
    use rustix::fs::{flock, FlockOperation};
    flock(file, FlockOperation::NonBlockingLockExclusive).map_err(|e| {
        if e == rustix::io::Errno::WOULDBLOCK {
            Error::Locked(path.to_path_buf())
        } else {
            Error::io(path, e.into())
        }
    })
}

/// Size of a block device: seeking to the end needs no ioctl.
fn device_size(file: &File) -> std::io::Result<u64> {
    use std::io::{Seek, SeekFrom};
    let mut f = file;
    let end = f.seek(SeekFrom::End(0))?;
    f.seek(SeekFrom::Start(0))?;
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_parsing() {
        let t = "36 35 98:0 /mnt1 /mnt/with\\040space rw,noatime master:1 - ext2 /dev/loop3 rw,errors=continue\n\
                 bad line\n\
                 37 35 7:1 / /x ro shared:2 - ext4 /dev/root ro\n";
        let m = parse_mountinfo(t);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].mountpoint, PathBuf::from("/mnt/with space"));
        assert_eq!((m[0].major, m[0].minor), (98, 0));
        assert_eq!(m[0].fstype, "ext2");
        assert_eq!(m[0].source, "/dev/loop3");
        assert_eq!(m[1].options, "ro");
    }

    #[test]
    fn second_writer_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("img");
        std::fs::write(&p, vec![0u8; 4096]).unwrap();
        let first = Image::open_read_write(&p).unwrap();
        let second = Image::open_read_write(&p);
        assert!(matches!(second, Err(Error::Locked(_))), "{second:?}");
        drop(first);
        assert!(Image::open_read_write(&p).is_ok());
    }

    #[test]
    fn lock_is_released_while_a_copy_of_the_descriptor_lives() {
        // A child forked by another thread holds such a copy until exec
        // (CI: a test's reopen right after close refused as locked).
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("img");
        std::fs::write(&p, vec![0u8; 4096]).unwrap();
        let first = Image::open_read_write(&p).unwrap();
        let copy = first.file().unwrap().try_clone().unwrap();
        drop(first);
        let again = Image::open_read_write(&p);
        assert!(again.is_ok(), "{:?}", again.err());
        drop(copy);
    }

    #[test]
    fn memory_image_and_injected_faults() {
        let mut img = Image::in_memory(vec![0; 8192], true);
        img.write_at(10, b"abc").unwrap();
        let mut b = [0u8; 3];
        img.read_at(10, &mut b).unwrap();
        assert_eq!(&b, b"abc");
        assert!(img.read_at(8190, &mut b).is_err());
        img.fail_writes_after(1);
        img.write_at(0, b"x").unwrap();
        assert!(img
            .write_at(0, b"y")
            .unwrap_err()
            .to_string()
            .contains("injected"));
        assert_eq!(img.memory_bytes().unwrap()[0], b'x');
    }

    #[test]
    fn short_read_names_offset() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("img");
        std::fs::write(&p, vec![0u8; 100]).unwrap();
        let img = Image::open_read_only(&p).unwrap();
        let mut buf = [0u8; 64];
        let e = img.read_at(80, &mut buf).unwrap_err().to_string();
        assert!(e.contains("short read at byte 80"), "{e}");
        assert!(matches!(img.write_at(0, &buf), Err(Error::ReadOnly)));
    }
}
