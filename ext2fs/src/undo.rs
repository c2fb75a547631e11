//! Undo files in the format e2undo(8) replays (e2fsprogs' undo_io.c):
//! before a stretch of the device is overwritten for the first time, its
//! old contents are appended to the undo file, so `e2undo FILE DEVICE`
//! puts back what the run changed.
//!
//! The file is cut into undo blocks of `block_size` bytes: block 0 holds
//! the header, block 1 the filesystem's superblock as it is after the run
//! (magic inverted, so the copy is no filesystem; e2undo refuses a device
//! whose superblock differs), and from block 2 on a key block is followed
//! by the data blocks its keys describe, again and again. A key names a
//! range of the filesystem (in `fs_block_size` units from the
//! filesystem's start), its length and the crc32c of its old contents;
//! adjacent saved blocks extend one key up to 512 undo blocks.
//!
//! Order (so an interrupted run can still be undone): the old contents,
//! the key block and the header go out and are synced before the device
//! write they protect; `checkpoint` marks the log finished.

use std::fs::File;
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::codec::{le32, le64};
use crate::crc32c::crc32c_le;
use crate::image::Image;
use crate::run_bitmap::RunBitmap;
use crate::superblock::{SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE};
use crate::{Error, Result};

/// Smallest undo block size e2undo accepts.
pub const MIN_BLOCK_SIZE: u32 = 1024;
/// Largest undo block size e2undo accepts.
pub const MAX_BLOCK_SIZE: u32 = 1 << 20;
const MAGIC: &[u8; 8] = b"E2UNDO02";
const KEY_MAGIC: u32 = 0xCADE_CADE;
const STATE_FINISHED: u32 = 1;
/// `fs_offset` is meaningful (the filesystem starts inside the device).
const COMPAT_FS_OFFSET: u32 = 1;
/// Longest key, in undo blocks.
const MAX_EXTENT_BLOCKS: u64 = 512;
const HEADER_LEN: usize = 512;
const KEY_LEN: usize = 16;
const SUPER_BLOCK: u64 = 1;
const FIRST_KEY_BLOCK: u64 = 2;
/// Where s_magic sits in the superblock.
const S_MAGIC_AT: usize = 56;

/// Why an undo file cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UndoProblem {
    /// Not an undo file, or a damaged one (e2fsprogs: "Undo file corrupt").
    Corrupt,
    /// An undo file of another filesystem, or of an earlier state of this
    /// one ("Wrong undo file for this filesystem").
    WrongFilesystem,
    /// The undo file is the device being changed.
    IsDevice,
    /// The undo file's name is a symbolic link (not followed).
    Symlink,
    /// Not a regular file.
    NotRegular,
    /// A write before the filesystem's offset has no place in the format.
    BeforeOffset,
    /// A block size the format does not allow.
    BlockSize(u32),
}

impl std::fmt::Display for UndoProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UndoProblem::Corrupt => f.write_str("Undo file corrupt"),
            UndoProblem::WrongFilesystem => f.write_str("Wrong undo file for this filesystem"),
            UndoProblem::IsDevice => f.write_str("the undo file is the device itself"),
            UndoProblem::Symlink => f.write_str("the undo file is a symbolic link (not followed)"),
            UndoProblem::NotRegular => f.write_str("the undo file is not a regular file"),
            UndoProblem::BeforeOffset => {
                f.write_str("a write before the filesystem offset cannot be recorded")
            }
            UndoProblem::BlockSize(b) => write!(f, "undo block size {b} is not allowed"),
        }
    }
}

/// The header (block 0; 512 bytes, the rest of the block is zero).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// How many keys the file holds.
    pub num_keys: u64,
    /// Undo block of the filesystem superblock copy.
    pub super_offset: u64,
    /// Undo block of the first key block.
    pub key_offset: u64,
    /// The undo file's block size.
    pub block_size: u32,
    /// The filesystem's block size (keys count in these).
    pub fs_block_size: u32,
    /// crc32c of the superblock copy.
    pub sb_crc: u32,
    /// State bits (finished: the file is complete).
    pub state: u32,
    /// Compatible undo features.
    pub f_compat: u32,
    /// Incompatible undo features (none known: must be 0).
    pub f_incompat: u32,
    /// Read-only compatible undo features (must be 0).
    pub f_rocompat: u32,
    /// Byte offset of the filesystem in its device (-E offset).
    pub fs_offset: u64,
}

impl Header {
    /// The header's on-disk bytes with its checksum.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[..8].copy_from_slice(MAGIC);
        b[8..16].copy_from_slice(&self.num_keys.to_le_bytes());
        b[16..24].copy_from_slice(&self.super_offset.to_le_bytes());
        b[24..32].copy_from_slice(&self.key_offset.to_le_bytes());
        let words = [
            self.block_size,
            self.fs_block_size,
            self.sb_crc,
            self.state,
            self.f_compat,
            self.f_incompat,
            self.f_rocompat,
        ];
        for (i, w) in words.iter().enumerate() {
            b[32 + 4 * i..36 + 4 * i].copy_from_slice(&w.to_le_bytes());
        }
        b[64..72].copy_from_slice(&self.fs_offset.to_le_bytes());
        let crc = crc32c_le(!0, &b[..HEADER_LEN - 4]);
        b[HEADER_LEN - 4..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// The header if magic, checksum, block sizes and feature sets are
    /// ones e2undo accepts.
    pub fn parse(b: &[u8]) -> Option<Header> {
        if b.len() < HEADER_LEN || &b[..8] != MAGIC {
            return None;
        }
        if le32(b, HEADER_LEN - 4) != crc32c_le(!0, &b[..HEADER_LEN - 4]) {
            return None;
        }
        let h = Header {
            num_keys: le64(b, 8),
            super_offset: le64(b, 16),
            key_offset: le64(b, 24),
            block_size: le32(b, 32),
            fs_block_size: le32(b, 36),
            sb_crc: le32(b, 40),
            state: le32(b, 44),
            f_compat: le32(b, 48),
            f_incompat: le32(b, 52),
            f_rocompat: le32(b, 56),
            fs_offset: le64(b, 64),
        };
        let sizes_ok =
            (MIN_BLOCK_SIZE..=MAX_BLOCK_SIZE).contains(&h.block_size) && h.fs_block_size != 0;
        (sizes_ok && h.f_incompat == 0 && h.f_rocompat == 0).then_some(h)
    }

    /// Whether the file was closed cleanly.
    pub fn is_finished(&self) -> bool {
        self.state & STATE_FINISHED != 0
    }
}

/// One key: `size` bytes of old contents for the filesystem from byte
/// `fsblk * fs_block_size`, with their crc32c.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    /// First filesystem block the old contents belong at.
    pub fsblk: u64,
    /// crc32c of the old contents.
    pub crc: u32,
    /// Length of the old contents in bytes.
    pub size: u32,
}

impl Key {
    /// The key in `slot` of a key block (slot 0 follows the block's own
    /// magic and checksum).
    fn read(block: &[u8], slot: usize) -> Key {
        let at = KEY_LEN * (slot + 1);
        Key {
            fsblk: le64(block, at),
            crc: le32(block, at + 8),
            size: le32(block, at + 12),
        }
    }

    fn write(&self, block: &mut [u8], slot: usize) {
        let at = KEY_LEN * (slot + 1);
        block[at..at + 8].copy_from_slice(&self.fsblk.to_le_bytes());
        block[at + 8..at + 12].copy_from_slice(&self.crc.to_le_bytes());
        block[at + 12..at + 16].copy_from_slice(&self.size.to_le_bytes());
    }
}

/// What an undo file holds: its header and each key with the undo block
/// its data starts at.
#[derive(Debug)]
pub struct Contents {
    /// The header.
    pub header: Header,
    /// Each key with the undo block its data starts at.
    pub keys: Vec<(Key, u64)>,
}

fn corrupt(path: &Path) -> Error {
    Error::Undo {
        path: path.to_path_buf(),
        problem: UndoProblem::Corrupt,
    }
}

/// Reads an undo file's header and keys, checking the key blocks'
/// magic and checksums (the data's checksums are `data`'s business).
/// Bounded by the file's length, whatever the header claims.
pub fn read_contents(file: &File, path: &Path) -> Result<Contents> {
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut hb = [0u8; HEADER_LEN];
    file.read_exact_at(&mut hb, 0).map_err(|_| corrupt(path))?;
    let header = Header::parse(&hb).ok_or_else(|| corrupt(path))?;
    let bs = header.block_size as u64;
    let per_block = (bs as usize / KEY_LEN - 1) as u64;
    let mut keys = Vec::new();
    let mut block = vec![0u8; bs as usize];
    let mut lblk = header.key_offset;
    while (keys.len() as u64) < header.num_keys {
        if lblk.saturating_add(1).saturating_mul(bs) > len {
            return Err(corrupt(path));
        }
        file.read_exact_at(&mut block, lblk * bs)
            .map_err(|e| Error::io(path, e))?;
        let stored = le32(&block, 4);
        block[4..8].fill(0);
        if le32(&block, 0) != KEY_MAGIC || crc32c_le(!0, &block) != stored {
            return Err(corrupt(path));
        }
        lblk += 1;
        let here = (header.num_keys - keys.len() as u64).min(per_block);
        for j in 0..here as usize {
            let key = Key::read(&block, j);
            if key.size as u64 > MAX_EXTENT_BLOCKS * bs {
                return Err(corrupt(path));
            }
            keys.push((key, lblk));
            lblk += (key.size as u64).div_ceil(bs);
        }
    }
    Ok(Contents { header, keys })
}

impl Contents {
    /// The old contents a key saved, checked against its crc32c.
    pub fn data(&self, file: &File, path: &Path, index: usize) -> Result<Vec<u8>> {
        let (key, at) = self.keys[index];
        let mut buf = vec![0u8; key.size as usize];
        file.read_exact_at(&mut buf, at * self.header.block_size as u64)
            .map_err(|e| Error::io(path, e))?;
        if crc32c_le(!0, &buf) != key.crc {
            return Err(corrupt(path));
        }
        Ok(buf)
    }
}

/// The undo log of one run. Shared (`Undo`) by every image the run opens
/// on the device.
#[derive(Debug)]
pub struct UndoLog {
    file: File,
    path: PathBuf,
    header: Header,
    bs: u64,
    /// Byte offset of the filesystem in the device.
    fs_offset: u64,
    /// Length of the device when the log was opened: what a run adds
    /// beyond it (a grown image file) had no old contents.
    device_end: u64,
    /// Undo blocks (from `fs_offset`) whose old contents are saved.
    saved: RunBitmap,
    key_block: Vec<u8>,
    keys_in_block: usize,
    key_blk: u64,
    next_blk: u64,
}

/// A shared handle on an `UndoLog`.
#[derive(Clone, Debug)]
pub struct Undo(Arc<Mutex<UndoLog>>);

/// Whether `a` and `b` are the same file or device.
fn same_object(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    let both_devices = a.file_type().is_block_device() && b.file_type().is_block_device();
    (a.dev() == b.dev() && a.ino() == b.ino()) || (both_devices && a.rdev() == b.rdev())
}

impl Undo {
    /// Opens (creating it, mode 0600) the undo file at `path` for changes
    /// to `image`, whose filesystem starts `fs_offset` bytes into the
    /// device. A new log uses undo blocks of `block_size` bytes and keys
    /// in `fs_block_size` units; an existing undo file is continued when
    /// it was made for the filesystem as it is now (its superblock copy
    /// matches), as undo_io does, and refused otherwise. The name is not
    /// followed when it is a symbolic link, and the device itself is
    /// refused.
    pub fn open(
        path: &Path,
        image: &Image,
        fs_offset: u64,
        block_size: u32,
        fs_block_size: u32,
    ) -> Result<Undo> {
        let problem = |problem| Error::Undo {
            path: path.to_path_buf(),
            problem,
        };
        if !(MIN_BLOCK_SIZE..=MAX_BLOCK_SIZE).contains(&block_size)
            || fs_block_size == 0
            || !block_size.is_multiple_of(fs_block_size)
        {
            return Err(problem(UndoProblem::BlockSize(block_size)));
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .mode(0o600)
            .custom_flags(
                (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::CLOEXEC).bits() as i32,
            )
            .open(path)
            .map_err(|e| {
                if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
                    problem(UndoProblem::Symlink)
                } else {
                    Error::io(path, e)
                }
            })?;
        let meta = file.metadata().map_err(|e| Error::io(path, e))?;
        if let Some(dev) = image.file() {
            let dev_meta = dev.metadata().map_err(|e| Error::io(image.path(), e))?;
            if same_object(&meta, &dev_meta) {
                return Err(problem(UndoProblem::IsDevice));
            }
        }
        if !meta.is_file() {
            return Err(problem(UndoProblem::NotRegular));
        }
        let device_end = image.base() + image.len();
        let blocks = |bs: u64| device_end.saturating_sub(fs_offset).div_ceil(bs);
        let mut log = UndoLog {
            file,
            path: path.to_path_buf(),
            header: Header {
                super_offset: SUPER_BLOCK,
                key_offset: FIRST_KEY_BLOCK,
                block_size,
                fs_block_size,
                ..Header::default()
            },
            bs: block_size as u64,
            fs_offset,
            device_end,
            saved: RunBitmap::new(blocks(block_size as u64)),
            key_block: vec![0u8; block_size as usize],
            keys_in_block: 0,
            key_blk: FIRST_KEY_BLOCK,
            next_blk: FIRST_KEY_BLOCK + 1,
        };
        if meta.len() == 0 {
            // Room for the header, the superblock copy and the first key
            // block, so an interrupted run leaves a readable file.
            let zero = vec![0u8; block_size as usize * 3];
            log.file
                .write_all_at(&zero, 0)
                .map_err(|e| Error::io(path, e))?;
        } else {
            log.resume(image)?;
        }
        log.write_indexes(image)?;
        log.file.sync_all().map_err(|e| Error::io(path, e))?;
        Ok(Undo(Arc::new(Mutex::new(log))))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, UndoLog> {
        // A panic while the log was locked leaves at worst an unfinished
        // log, which e2undo reports.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Saves the old contents of device bytes [offset, offset+len) not
    /// saved yet (`image` reads them); synced before returning, so the
    /// caller may overwrite them.
    pub fn save(&self, image: &Image, offset: u64, len: u64) -> Result<()> {
        self.lock().save(image, offset, len)
    }

    /// Records the device's superblock as it is now and marks the log
    /// finished (or, with `finished` false, leaves its state), synced.
    pub fn checkpoint(&self, image: &Image, finished: bool) -> Result<()> {
        let mut log = self.lock();
        if finished {
            log.header.state |= STATE_FINISHED;
        }
        log.write_indexes(image)?;
        log.file.sync_all().map_err(|e| Error::io(&log.path, e))
    }

    /// The undo file's path.
    pub fn path(&self) -> PathBuf {
        self.lock().path.clone()
    }
}

impl UndoLog {
    fn keys_per_block(&self) -> usize {
        self.bs as usize / KEY_LEN - 1
    }

    /// Continues an existing undo file: it must be one made for this
    /// filesystem as it is now.
    fn resume(&mut self, image: &Image) -> Result<()> {
        let contents = read_contents(&self.file, &self.path)?;
        let h = contents.header;
        let bs = h.block_size as u64;
        let mut copy = vec![0u8; SUPERBLOCK_SIZE];
        self.file
            .read_exact_at(&mut copy, h.super_offset.saturating_mul(bs))
            .map_err(|_| corrupt(&self.path))?;
        invert_magic(&mut copy);
        if copy != self.superblock(image)? || crc32c_le(!0, &copy) != h.sb_crc {
            return Err(Error::Undo {
                path: self.path.clone(),
                problem: UndoProblem::WrongFilesystem,
            });
        }
        self.bs = bs;
        self.saved = RunBitmap::new(self.device_end.saturating_sub(self.fs_offset).div_ceil(bs));
        self.key_block = vec![0u8; bs as usize];
        self.key_blk = h.key_offset;
        self.next_blk = h.key_offset + 1;
        self.keys_in_block = 0;
        let per_block = self.keys_per_block();
        for (i, (key, at)) in contents.keys.iter().enumerate() {
            let first = key.fsblk.saturating_mul(h.fs_block_size as u64) / bs;
            let count = (key.size as u64).div_ceil(bs);
            let to = first.saturating_add(count).min(self.saved.len());
            if first < to {
                self.saved.set_range(first, to);
            }
            if i % per_block == 0 {
                self.key_blk = at - 1;
                self.key_block.fill(0);
            }
            self.put_key(i % per_block, key);
            self.keys_in_block = i % per_block + 1;
            self.next_blk = at + count;
        }
        self.header = Header {
            state: h.state & !STATE_FINISHED,
            ..h
        };
        Ok(())
    }

    fn put_key(&mut self, slot: usize, key: &Key) {
        key.write(&mut self.key_block, slot);
    }

    fn last_key(&self) -> Option<Key> {
        let slot = self.keys_in_block.checked_sub(1)?;
        Some(Key::read(&self.key_block, slot))
    }

    /// The device's superblock bytes now (zero where the device ends).
    fn superblock(&self, image: &Image) -> Result<Vec<u8>> {
        let mut sb = vec![0u8; SUPERBLOCK_SIZE];
        let at = self.fs_offset + SUPERBLOCK_OFFSET;
        let have = self.device_end.min(image.base() + image.len());
        let n = have.saturating_sub(at).min(SUPERBLOCK_SIZE as u64) as usize;
        if n > 0 {
            image.read_absolute(at, &mut sb[..n])?;
        }
        Ok(sb)
    }

    fn save(&mut self, image: &Image, offset: u64, len: u64) -> Result<()> {
        if len == 0 {
            return Ok(());
        }
        let Some(rel) = offset.checked_sub(self.fs_offset) else {
            return Err(Error::Undo {
                path: self.path.clone(),
                problem: UndoProblem::BeforeOffset,
            });
        };
        let first = rel / self.bs;
        let last = ((rel + len - 1) / self.bs).min(self.saved.len().saturating_sub(1));
        let mut added = false;
        for k in first..=last {
            if k >= self.saved.len() || self.saved.get(k) {
                continue;
            }
            self.saved.set(k);
            let at = self.fs_offset + k * self.bs;
            let n = self.device_end.saturating_sub(at).min(self.bs) as usize;
            if n == 0 {
                continue;
            }
            let mut old = vec![0u8; n];
            image.read_absolute(at, &mut old)?;
            self.append(k, &old)?;
            added = true;
        }
        if added {
            self.header.state &= !STATE_FINISHED;
            self.write_indexes(image)?;
            self.file
                .sync_data()
                .map_err(|e| Error::io(&self.path, e))?;
        }
        Ok(())
    }

    /// Appends undo block `k`'s old contents: extends the last key when
    /// they follow it, else adds a key (in a new key block when the
    /// current one is full).
    fn append(&mut self, k: u64, old: &[u8]) -> Result<()> {
        let fs_bs = self.header.fs_block_size as u64;
        let extends = self.last_key().filter(|last| {
            let size = last.size as u64;
            size.is_multiple_of(self.bs)
                && last.fsblk * fs_bs + size == k * self.bs
                && size + (old.len() as u64) < MAX_EXTENT_BLOCKS * self.bs
        });
        let key = match extends {
            Some(last) => Key {
                crc: crc32c_le(last.crc, old),
                size: last.size + old.len() as u32,
                ..last
            },
            None => {
                if self.keys_in_block == self.keys_per_block() {
                    self.key_blk = self.next_blk;
                    self.next_blk += 1;
                    self.key_block.fill(0);
                    self.keys_in_block = 0;
                }
                self.keys_in_block += 1;
                self.header.num_keys += 1;
                Key {
                    fsblk: k * self.bs / fs_bs,
                    crc: crc32c_le(!0, old),
                    size: old.len() as u32,
                }
            }
        };
        self.put_key(self.keys_in_block - 1, &key);
        self.file
            .write_all_at(old, self.next_blk * self.bs)
            .map_err(|e| Error::io(&self.path, e))?;
        self.next_blk += 1;
        Ok(())
    }

    /// Writes the current key block, the header and the superblock copy.
    fn write_indexes(&mut self, image: &Image) -> Result<()> {
        let io = |e| Error::io(&self.path, e);
        if self.keys_in_block > 0 {
            self.key_block[..4].copy_from_slice(&KEY_MAGIC.to_le_bytes());
            self.key_block[4..8].fill(0);
            let crc = crc32c_le(!0, &self.key_block);
            self.key_block[4..8].copy_from_slice(&crc.to_le_bytes());
            self.file
                .write_all_at(&self.key_block, self.key_blk * self.bs)
                .map_err(io)?;
        }
        let mut sb = self.superblock(image)?;
        self.header.sb_crc = crc32c_le(!0, &sb);
        invert_magic(&mut sb);
        self.header.fs_offset = self.fs_offset;
        if self.fs_offset != 0 {
            self.header.f_compat |= COMPAT_FS_OFFSET;
        } else {
            self.header.f_compat &= !COMPAT_FS_OFFSET;
        }
        self.file
            .write_all_at(&self.header.to_bytes(), 0)
            .map_err(io)?;
        self.file
            .write_all_at(&sb, self.header.super_offset * self.bs)
            .map_err(io)
    }
}

fn invert_magic(sb: &mut [u8]) {
    sb[S_MAGIC_AT] = !sb[S_MAGIC_AT];
    sb[S_MAGIC_AT + 1] = !sb[S_MAGIC_AT + 1];
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Applies an undo file to `bytes` as e2undo does.
    fn replay(path: &Path, bytes: &mut [u8], fs_offset: usize) {
        let file = File::open(path).unwrap();
        let c = read_contents(&file, path).unwrap();
        for i in 0..c.keys.len() {
            let data = c.data(&file, path, i).unwrap();
            let at = fs_offset + (c.keys[i].0.fsblk * c.header.fs_block_size as u64) as usize;
            bytes[at..at + data.len()].copy_from_slice(&data);
        }
    }

    fn image_with(bytes: &[u8]) -> Image {
        Image::in_memory(bytes.to_vec(), true)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// Any sequence of writes, then a replay: the device is back as it
        /// was, and the log holds each undo block once.
        #[test]
        fn replay_restores_first_contents(
            seed in any::<u8>(),
            writes in proptest::collection::vec((0u64..40_000, 1u64..9000, any::<u8>()), 1..40),
            small_keys in any::<bool>(),
            offset in prop_oneof![Just(0u64), Just(3072u64)],
        ) {
            let len = 40_000usize;
            let original: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(seed | 1)).collect();
            let image = image_with(&original);
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("u.e2undo");
            // 1024-byte undo blocks hold 63 keys each: many key blocks.
            let bs = if small_keys { 1024 } else { 4096 };
            let undo = Undo::open(&path, &image, offset, bs, 1024).unwrap();
            let mut attached = image;
            attached.attach_undo(undo.clone());
            for (at, n, v) in writes {
                let at = at.max(offset).min(len as u64 - 1);
                let n = n.min(len as u64 - at);
                attached.write_at(at, &vec![v; n as usize]).unwrap();
            }
            undo.checkpoint(&attached, true).unwrap();
            let mut after = attached.memory_bytes().unwrap();
            replay(&path, &mut after, offset as usize);
            prop_assert_eq!(&after, &original);
            let file = File::open(&path).unwrap();
            let c = read_contents(&file, &path).unwrap();
            prop_assert!(c.header.is_finished());
            let stored: u64 = c.keys.iter().map(|(k, _)| k.size as u64).sum();
            prop_assert!(stored <= len as u64);
        }
    }

    #[test]
    fn resume_continues_and_refuses_another_filesystem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u");
        let original = vec![7u8; 16384];
        let image = image_with(&original);
        let undo = Undo::open(&path, &image, 0, 1024, 1024).unwrap();
        let mut image = image;
        image.attach_undo(undo.clone());
        image.write_at(5000, &[1; 100]).unwrap();
        undo.checkpoint(&image, true).unwrap();
        drop(undo);
        let plain = image_with(&image.memory_bytes().unwrap());
        let again = Undo::open(&path, &plain, 0, 4096, 1024).unwrap();
        let mut plain = plain;
        plain.attach_undo(again.clone());
        plain.write_at(5050, &[2; 4000]).unwrap();
        plain.write_at(0, &[3; 10]).unwrap();
        again.checkpoint(&plain, true).unwrap();
        let mut bytes = plain.memory_bytes().unwrap();
        replay(&path, &mut bytes, 0);
        assert_eq!(bytes, original);
        // The superblock copy now describes `plain`'s state, not this one.
        let other = image_with(&vec![9u8; 16384]);
        let e = Undo::open(&path, &other, 0, 1024, 1024).unwrap_err();
        assert!(matches!(
            e,
            Error::Undo {
                problem: UndoProblem::WrongFilesystem,
                ..
            }
        ));
        std::fs::write(&path, b"not an undo file").unwrap();
        let e = Undo::open(&path, &other, 0, 1024, 1024).unwrap_err();
        assert!(matches!(
            e,
            Error::Undo {
                problem: UndoProblem::Corrupt,
                ..
            }
        ));
    }

    #[test]
    fn symlink_and_device_refused() {
        let dir = tempfile::tempdir().unwrap();
        let dev = dir.path().join("img");
        std::fs::write(&dev, vec![0u8; 8192]).unwrap();
        let image = Image::open_read_write(&dev).unwrap();
        let e = Undo::open(&dev, &image, 0, 1024, 1024).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Undo {
                    problem: UndoProblem::IsDevice,
                    ..
                }
            ),
            "{e}"
        );
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(dir.path().join("target"), &link).unwrap();
        let e = Undo::open(&link, &image, 0, 1024, 1024).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Undo {
                    problem: UndoProblem::Symlink,
                    ..
                }
            ),
            "{e}"
        );
        assert!(!dir.path().join("target").exists());
    }
}
