//! -C: progress as a bar on the terminal (fd 0) or as e2fsck's completion
//! protocol ("pass current max device" lines) on a descriptor for fsck(8).
//! As in e2fsck, `-C -N` (what fsck(8) passes while another checker shows
//! its progress) waits silently until SIGUSR1 starts the protocol on
//! descriptor N; SIGUSR2 stops any progress output.

use std::io::Write;

pub enum Progress {
    None,
    Bar(indicatif::ProgressBar),
    Fd(std::fs::File, String),
    /// `-C -N`: nothing shown until SIGUSR1 (see [`Signals`]).
    Waiting(i32, String),
}

/// SIGUSR1/SIGUSR2 as e2fsck takes them from fsck(8): start or stop the
/// progress output. Registered for every run, so the signals never end a
/// check (their default action would).
static START: std::sync::OnceLock<Signals> = std::sync::OnceLock::new();

struct Signals {
    start: std::sync::Arc<std::sync::atomic::AtomicBool>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

fn signals() -> &'static Signals {
    START.get_or_init(|| {
        let s = Signals {
            start: Default::default(),
            stop: Default::default(),
        };
        let _ = signal_hook::flag::register(signal_hook::consts::SIGUSR1, s.start.clone());
        let _ = signal_hook::flag::register(signal_hook::consts::SIGUSR2, s.stop.clone());
        s
    })
}

/// Share of the whole check each pass takes, as e2fsck weighs them.
const WEIGHT: [f64; 5] = [70.0, 20.0, 2.0, 3.0, 5.0];

impl Progress {
    pub fn new(fd: Option<i32>, device: &str) -> anyhow::Result<Self> {
        signals();
        match fd {
            None => Ok(Progress::None),
            Some(0) => {
                let bar = indicatif::ProgressBar::new(1000);
                bar.set_style(
                    indicatif::ProgressStyle::with_template("{prefix} |{bar:40}| {percent:>3}%")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                bar.set_prefix(device.to_string());
                Ok(Progress::Bar(bar))
            }
            Some(n) if n > 0 => {
                let path = format!("/proc/self/fd/{n}");
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| {
                        anyhow::anyhow!("-C {n}: file descriptor {n} is not open for writing: {e}")
                    })?;
                Ok(Progress::Fd(f, device.to_string()))
            }
            Some(n) => Ok(Progress::Waiting(n.saturating_neg(), device.to_string())),
        }
    }

    /// `pass` 1-5, `cur` of `max` units done in it.
    pub fn update(&mut self, pass: usize, cur: u64, max: u64) {
        use std::sync::atomic::Ordering;
        let sig = signals();
        if sig.stop.swap(false, Ordering::Relaxed) {
            self.finish();
            *self = Progress::None;
            sig.start.store(false, Ordering::Relaxed);
        }
        if sig.start.swap(false, Ordering::Relaxed) {
            if let Progress::Waiting(n, dev) = self {
                let dev = std::mem::take(dev);
                *self = Progress::new(Some(*n), &dev).unwrap_or(Progress::None);
            }
        }
        match self {
            Progress::None | Progress::Waiting(..) => {}
            Progress::Bar(bar) => {
                let before: f64 = WEIGHT[..pass - 1].iter().sum();
                let frac = if max == 0 {
                    1.0
                } else {
                    cur as f64 / max as f64
                };
                let pct = before + WEIGHT[pass - 1] * frac;
                bar.set_position((pct * 10.0) as u64);
            }
            Progress::Fd(f, dev) => {
                let _ = writeln!(f, "{pass} {cur} {max} {dev}");
            }
        }
    }

    pub fn finish(&mut self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
