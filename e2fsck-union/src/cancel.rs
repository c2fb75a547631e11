//! SIGINT and SIGTERM cancel the check, as e2fsck's signal_cancel: the
//! signal only raises a flag; the passes look at it between steps (and a
//! question being asked gives up waiting for its key), and the run ends
//! with "DEV: e2fsck canceled." and exit status 32 after writing out what
//! was already repaired. A signal never kills the checker halfway through
//! a write.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

fn flag() -> &'static Arc<AtomicBool> {
    FLAG.get_or_init(|| {
        let f = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // Without the handler the default action still ends the run.
            let _ = signal_hook::flag::register(sig, f.clone());
        }
        f
    })
}

/// Installs the handlers (once per process).
pub fn arm() {
    flag();
}

/// Whether a cancel was asked for.
pub fn requested() -> bool {
    FLAG.get().is_some_and(|f| f.load(Ordering::Relaxed))
}

/// The check stops here when a cancel was asked for.
pub fn check() -> anyhow::Result<()> {
    if requested() {
        return Err(crate::ask::Stop::Canceled.into());
    }
    Ok(())
}
