//! Reads of lower files, done and answered by threads of their own so
//! that the engine's request thread never waits on a lower disk (or a
//! slow lower filesystem): a cold read of a big lower file and an untar
//! through the same mount go on together (see `workers` in mod.rs).

use std::os::fd::OwnedFd;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};

use fuser::ReplyData;

use super::beneath;

/// How many lower reads may wait on their disks at once.
const READERS: usize = 2;

/// One read to do: the lower file (its descriptor kept open by the Arc,
/// also when its handle is released meanwhile), where and how much, and
/// the request to answer.
struct Job {
    fd: Arc<OwnedFd>,
    offset: u64,
    size: u32,
    reply: ReplyData,
}

/// The readers; they end when this is dropped (the session's end).
pub struct LowerReads {
    jobs: Mutex<Sender<Job>>,
}

impl LowerReads {
    pub fn start() -> Self {
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for k in 0..READERS {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("lower-read-{k}"))
                .spawn(move || serve(&rx));
            if spawned.is_err() {
                // No reader thread: reads are done by the caller (see
                // read), which a closed channel tells it.
                break;
            }
        }
        LowerReads {
            jobs: Mutex::new(tx),
        }
    }

    /// Reads `size` bytes at `offset` of `fd` and answers `reply`, on a
    /// reader thread (here when none could be started).
    pub fn read(&self, fd: Arc<OwnedFd>, offset: u64, size: u32, reply: ReplyData) {
        let job = Job {
            fd,
            offset,
            size,
            reply,
        };
        let sent = self
            .jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(job);
        if let Err(e) = sent {
            answer(e.0);
        }
    }
}

fn serve(rx: &Mutex<Receiver<Job>>) {
    loop {
        let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
        match job {
            Ok(job) => answer(job),
            Err(_) => return,
        }
    }
}

fn answer(job: Job) {
    match beneath::pread_full(&*job.fd, job.offset, job.size as usize) {
        Ok(d) => job.reply.data(&d),
        Err(e) => job.reply.error(fuser::Errno::from_i32(e)),
    }
}
