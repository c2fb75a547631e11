//! Single keystrokes from the terminal, as e2fsck reads its answers: the
//! terminal leaves canonical mode and stops echoing while a question is
//! open, so `y` answers at once and the typed key is never shown (the
//! answer is printed as a word instead), whenever the key was typed.

use rustix::event::{poll, PollFd, PollFlags};
use rustix::termios::{self, LocalModes, OptionalActions, SpecialCodeIndex, Termios};

/// How many empty reads count as the end of input (e2fsck gives up after
/// a hundred too).
const EMPTY_READS: u32 = 100;

/// How long a wait for a key lasts before the cancel flag is looked at
/// again (a signal handler installed with SA_RESTART does not interrupt
/// the read itself).
const CANCEL_POLL_MS: i32 = 100;

/// What the terminal gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Key {
    Byte(u8),
    /// End of input (or a read error).
    End,
    /// SIGINT or SIGTERM arrived while waiting.
    Cancel,
}

/// Keys read one at a time while this lives; the terminal's settings are
/// put back when it goes.
pub struct KeyReader {
    saved: Option<Termios>,
}

impl KeyReader {
    /// Switches standard input to one-key reads (nothing changes when it
    /// is not a terminal).
    pub fn new() -> KeyReader {
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(&stdin).ok();
        if let Some(old) = &saved {
            let mut raw = old.clone();
            raw.local_modes
                .remove(LocalModes::ICANON | LocalModes::ECHO);
            raw.special_codes[SpecialCodeIndex::VMIN] = 1;
            raw.special_codes[SpecialCodeIndex::VTIME] = 0;
            let _ = termios::tcsetattr(&stdin, OptionalActions::Now, &raw);
        }
        KeyReader { saved }
    }

    /// The next key, the end of input, or a cancel.
    pub fn key(&mut self) -> Key {
        let mut byte = [0u8; 1];
        let mut empty = 0;
        loop {
            if crate::cancel::requested() {
                return Key::Cancel;
            }
            let stdin = std::io::stdin();
            let mut fds = [PollFd::new(&stdin, PollFlags::IN)];
            match poll(&mut fds, CANCEL_POLL_MS) {
                Ok(0) => continue,
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                // Not pollable: fall through to a plain read.
                Err(_) => {}
            }
            // Straight from the descriptor: a key left in std's buffer
            // would not wake the poll above.
            match rustix::io::read(&stdin, &mut byte) {
                Ok(1) => return Key::Byte(byte[0]),
                Ok(_) => {
                    empty += 1;
                    if empty >= EMPTY_READS {
                        return Key::End;
                    }
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(_) => return Key::End,
            }
        }
    }
}

impl Drop for KeyReader {
    fn drop(&mut self) {
        if let Some(old) = &self.saved {
            let _ = termios::tcsetattr(std::io::stdin(), OptionalActions::Now, old);
        }
    }
}
