//! Single keystrokes from the terminal, as e2fsck reads its answers: the
//! terminal leaves canonical mode and stops echoing while a question is
//! open, so `y` answers at once and the typed key is never shown (the
//! answer is printed as a word instead), whenever the key was typed.

use std::io::Read;

use rustix::termios::{self, LocalModes, OptionalActions, SpecialCodeIndex, Termios};

/// How many empty reads count as the end of input (e2fsck gives up after
/// a hundred too).
const EMPTY_READS: u32 = 100;

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

    /// The next key, or None at the end of input.
    pub fn key(&mut self) -> Option<u8> {
        let mut byte = [0u8; 1];
        let mut empty = 0;
        loop {
            match std::io::stdin().read(&mut byte) {
                Ok(1) => return Some(byte[0]),
                Ok(_) => {
                    empty += 1;
                    if empty >= EMPTY_READS {
                        return None;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
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
