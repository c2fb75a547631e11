//! Writes done on a writer thread, large aligned ones bypassing the page
//! cache (O_DIRECT), for bulk copies into an image (mke2fs -d). The copy
//! then costs no second kernel copy through the page cache and no
//! writeback of gigabytes at the final fsync, and the device works while
//! the caller reads the next files. On the test machine buffered writes
//! plus fsync reach 300 MB/s, direct ones 1.4 GB/s. Small writes go to
//! the same thread: a direct write holds the file's inode lock, which
//! would stall a buffered write from the caller.
//!
//! Ordering: one thread takes the writes in the order they were queued
//! (jobs are numbered, so callers on several threads are safe too); a
//! read that overlaps a queued write waits for it. `wait_idle` (called
//! before fsync) drains the queue and reports the first failed write.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// Alignment of buffer address, file offset and length that O_DIRECT
/// accepts on every device we meet (logical blocks of 512 or 4096 bytes).
const DIRECT_ALIGN: usize = 4096;

/// Writes smaller than this stay buffered: the page cache is cheaper for
/// them than a device write.
const DIRECT_MIN: usize = 64 << 10;

/// Largest single job; larger writes are cut into jobs of this size.
const MAX_JOB: usize = 1 << 20;

/// Queued writes at most (so at most this many MiB of copies in memory).
const QUEUE_DEPTH: usize = 8;

/// A zeroed byte buffer whose start is aligned for O_DIRECT writes (the
/// queue's own copies). Not `Clone`: a copy's start would not be aligned
/// (moving keeps it).
#[derive(Debug)]
struct AlignedBuf {
    raw: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedBuf {
    fn new(len: usize) -> Self {
        let raw = vec![0u8; len + DIRECT_ALIGN];
        let start = (DIRECT_ALIGN - raw.as_ptr() as usize % DIRECT_ALIGN) % DIRECT_ALIGN;
        AlignedBuf { raw, start, len }
    }
}

impl std::ops::Deref for AlignedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.raw[self.start..self.start + self.len]
    }
}

impl std::ops::DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.raw[self.start..self.start + self.len]
    }
}

/// What one queued write carries.
enum Payload {
    Direct(AlignedBuf, usize),
    Buffered(Vec<u8>),
}

#[derive(Default)]
struct State {
    /// Queued writes not yet done: job number -> (offset, length).
    pending: std::collections::BTreeMap<u64, (u64, u64)>,
    /// The next job's number.
    next_job: u64,
    /// The first failed write, reported by the next call.
    error: Option<io::Error>,
    /// Aligned buffers the writer has finished with, for reuse.
    spare: Vec<AlignedBuf>,
}

struct Shared {
    state: Mutex<State>,
    done: Condvar,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic on the writer thread cannot leave State half-changed.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The writer thread's handle: queues writes in order and lets reads wait
/// for queued writes they overlap.
pub struct DirectWriter {
    jobs: Option<SyncSender<(u64, u64, Payload)>>,
    shared: Arc<Shared>,
    worker: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for DirectWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DirectWriter")
    }
}

fn is_einval(e: &io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error())
}

/// One direct write; a file system may still refuse one (EINVAL), and
/// then the page cache takes it.
fn write_direct(direct: &File, buffered: &File, data: &[u8], offset: u64) -> io::Result<()> {
    match direct.write_all_at(data, offset) {
        Err(e) if is_einval(&e) => buffered.write_all_at(data, offset),
        r => r,
    }
}

impl DirectWriter {
    /// Opens `file` again with O_DIRECT and starts the writer thread; None
    /// where O_DIRECT cannot be opened (tmpfs) or no thread can start.
    pub fn start(file: &File) -> Option<Self> {
        use std::os::fd::AsRawFd;
        // Through /proc: the very file we hold, whatever its path is now.
        let direct = OpenOptions::new()
            .write(true)
            .custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32)
            .open(format!("/proc/self/fd/{}", file.as_raw_fd()))
            .ok()?;
        let buffered = file.try_clone().ok()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            done: Condvar::new(),
        });
        let (tx, rx) = sync_channel::<(u64, u64, Payload)>(QUEUE_DEPTH);
        let worker = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("direct-writer".into())
                .spawn(move || {
                    for (job, offset, payload) in rx {
                        let r = match &payload {
                            Payload::Direct(buf, len) => {
                                write_direct(&direct, &buffered, &buf[..*len], offset)
                            }
                            Payload::Buffered(data) => buffered.write_all_at(data, offset),
                        };
                        let mut st = shared.lock();
                        st.pending.remove(&job);
                        if let Err(e) = r {
                            st.error.get_or_insert(e);
                        }
                        if let Payload::Direct(buf, _) = payload {
                            if st.spare.len() < QUEUE_DEPTH {
                                st.spare.push(buf);
                            }
                        }
                        drop(st);
                        shared.done.notify_all();
                    }
                })
                .ok()?
        };
        Some(DirectWriter {
            jobs: Some(tx),
            shared,
            worker: Some(worker),
        })
    }

    /// Queues a write of `data` at `offset` (copied); O_DIRECT when it is
    /// large and its offset and length are aligned. A failure of an
    /// earlier queued write is returned here.
    pub fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        for (k, part) in data.chunks(MAX_JOB).enumerate() {
            self.queue(offset + (k * MAX_JOB) as u64, part)?;
        }
        Ok(())
    }

    fn queue(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let direct = data.len() >= DIRECT_MIN
            && offset.is_multiple_of(DIRECT_ALIGN as u64)
            && data.len().is_multiple_of(DIRECT_ALIGN);
        let (job, spare) = {
            let mut st = self.shared.lock();
            if let Some(e) = st.error.take() {
                return Err(e);
            }
            let job = st.next_job;
            st.next_job += 1;
            st.pending.insert(job, (offset, data.len() as u64));
            let spare = if direct { st.spare.pop() } else { None };
            (job, spare)
        };
        let payload = if direct {
            let mut buf = spare.unwrap_or_else(|| AlignedBuf::new(MAX_JOB));
            buf[..data.len()].copy_from_slice(data);
            Payload::Direct(buf, data.len())
        } else {
            Payload::Buffered(data.to_vec())
        };
        let sent = self
            .jobs
            .as_ref()
            .is_some_and(|jobs| jobs.send((job, offset, payload)).is_ok());
        if !sent {
            self.shared.lock().pending.remove(&job);
            return Err(io::Error::other("the writer thread stopped"));
        }
        Ok(())
    }

    /// Waits until no queued write overlaps [offset, offset+len).
    pub fn wait_overlap(&self, offset: u64, len: u64) -> io::Result<()> {
        let end = offset.saturating_add(len);
        let mut st = self.shared.lock();
        let overlaps = |st: &State| {
            st.pending
                .values()
                .any(|&(o, l)| o < end && o.saturating_add(l) > offset)
        };
        while overlaps(&st) {
            st = self.shared.done.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        match st.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Waits for every queued write; the first failure, if any.
    pub fn wait_idle(&self) -> io::Result<()> {
        self.wait_overlap(0, u64::MAX)
    }
}

impl Drop for DirectWriter {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn queued_writes_land_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("img");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        file.set_len(8 << 20).unwrap();
        let Some(w) = DirectWriter::start(&file) else {
            eprintln!("skipped: this file system has no O_DIRECT");
            return;
        };
        // Direct, then buffered ones over it (unaligned, small), then a
        // large one cut into jobs: the last write of a byte wins.
        w.write(0, &vec![1u8; 256 << 10]).unwrap();
        w.write(4096, &[2u8; 4096]).unwrap();
        w.write(100, &vec![4u8; 100 << 10]).unwrap();
        w.write(4 << 20, &vec![3u8; 3 << 20]).unwrap();
        w.wait_overlap(0, 1).unwrap();
        w.wait_idle().unwrap();
        let mut back = Vec::new();
        File::open(&path).unwrap().read_to_end(&mut back).unwrap();
        assert!(back[..100].iter().all(|&b| b == 1));
        assert!(back[100..100 + (100 << 10)].iter().all(|&b| b == 4));
        assert!(back[100 + (100 << 10)..256 << 10].iter().all(|&b| b == 1));
        assert!(back[4 << 20..7 << 20].iter().all(|&b| b == 3));
        assert!(back[7 << 20..].iter().all(|&b| b == 0));
    }
}
