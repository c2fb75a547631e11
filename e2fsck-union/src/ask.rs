//! Putting problems to the user: preen, -y, -n or a terminal, with
//! e2fsck's output shapes, latches and the bookkeeping behind the exit code.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::keys::{Key, KeyReader};
use crate::problem::{self, Code, Ctx, Latch, Prompt};

static QUIET: AtomicBool = AtomicBool::new(false);

/// Whether output is switched off (in-memory checks for fuzzing).
pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

pub fn set_quiet(on: bool) {
    QUIET.store(on, Ordering::Relaxed);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// -p/-a: fix what is safe, stop on anything else.
    Preen,
    /// -y: yes to everything.
    Yes,
    /// -n: no to everything; the filesystem is opened read-only.
    No,
    /// Ask on the terminal.
    Interactive,
}

/// Raised (as an error) where the check stops early; run.rs ends the run
/// as e2fsck ends it for each kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Preen met a problem it may not fix (e2fsck's preenhalt).
    PreenHalt,
    /// Where e2fsck sets E2F_FLAG_ABORT: the check stops there and ends as
    /// e2fsck's fatal_error(ctx, "aborted") ends it.
    Aborted,
    /// The check ends before pass 1 (e2fsck's fatal_error(ctx, 0) there
    /// exits at once, without "aborted"); the problem reported last says why.
    Fatal,
    /// e2fsck's fatal_error once the filesystem is open but before anything
    /// marked it valid: it has said so ("still has errors"), exit 12.
    FatalNotValid,
    /// SIGINT or SIGTERM (e2fsck's E2F_FLAG_CANCEL): the passes stop where
    /// they are and the run ends as "e2fsck canceled.".
    Canceled,
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stop::PreenHalt => "UNEXPECTED INCONSISTENCY; RUN fsck MANUALLY.",
            Stop::Aborted => "aborted",
            Stop::Fatal | Stop::FatalNotValid => "the check cannot go on",
            Stop::Canceled => "e2fsck canceled.",
        })
    }
}
impl std::error::Error for Stop {}

pub struct Asker {
    pub mode: Mode,
    pub device: String,
    latches: HashMap<Latch, bool>,
    /// Latch groups whose members are no longer printed (e2fsck's
    /// PRL_SUPPRESS, after "Suppress messages" was answered yes).
    suppressed: HashSet<Latch>,
    /// The filesystem was changed (e2fsck's EXT2_FLAG_CHANGED): what the
    /// "FILE SYSTEM WAS MODIFIED" line reports.
    pub changed: bool,
    /// A question was answered yes (e2fsck's E2F_FLAG_PROBLEMS_FIXED):
    /// with `changed`, what makes the exit status 1. Notices never count.
    pub fixed: bool,
    /// A problem was left unfixed.
    pub unfixed: bool,
    yes_to_all: bool,
    /// Yes answers in a row (e2fsck hints at `a` after more than eight;
    /// -1 once the hint has been given or another answer came).
    yes_streak: i32,
    /// Counts of problems seen, for tests and -v.
    pub seen: usize,
    /// -d: print each problem's code.
    pub debug: bool,
    /// The passes are running (e2fsck's E2F_FLAG_SETJMP_OK): a cancel at
    /// a question stops the check there; before them the question is
    /// answered "cancelled!" (no) and the check stops before pass 1.
    pub in_passes: bool,
}

impl Asker {
    pub fn new(mode: Mode, device: &str) -> Self {
        Asker {
            mode,
            device: device.to_string(),
            latches: HashMap::new(),
            suppressed: HashSet::new(),
            changed: false,
            fixed: false,
            unfixed: false,
            yes_to_all: false,
            yes_streak: 0,
            seen: 0,
            debug: false,
            in_passes: false,
        }
    }

    fn out(&self, s: &str) {
        if quiet() {
            return;
        }
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(s.as_bytes());
        let _ = o.flush();
    }

    /// Prints text that belongs to the current problem report (bitmap
    /// difference lists), unless preen hides it.
    pub fn raw(&self, s: &str) {
        if self.mode != Mode::Preen {
            self.out(s);
        }
    }

    /// Reports a problem and returns whether to fix it.
    pub fn fix(&mut self, code: Code, ctx: &Ctx) -> anyhow::Result<bool> {
        let p = problem::lookup(code);
        self.seen += 1;
        if self.debug {
            self.out(&format!("[problem {:#08x} {code:?}] ", code.number()));
        }
        if let Some(latch) = p.latch {
            if !self.latches.contains_key(&latch) {
                if let Some(q) = problem::latch_question(latch) {
                    let ans = self.fix(q, ctx)?;
                    self.latches.insert(latch, ans);
                }
            }
            if let Some(&ans) = self.latches.get(&latch) {
                let msg = problem::expand(p.message, ctx);
                let hidden = self.suppressed.contains(&latch)
                    || (self.mode == Mode::Preen && p.flags & problem::PREEN_NOMSG != 0);
                if !hidden {
                    let verdict = if ans { p.prompt.done() } else { "IGNORED" };
                    self.out(&format!("{}{msg}{verdict}.\n", self.prefix(p.flags)));
                }
                self.account(ans, p.flags);
                return Ok(ans);
            }
        }
        let msg = problem::expand(p.message, ctx);
        let quiet = (self.mode == Mode::Preen && p.flags & problem::PREEN_NOMSG != 0)
            || (p.flags & problem::NO_NOMSG != 0
                && (self.mode == Mode::No || p.flags & problem::FORCE_NO != 0));
        if p.flags & problem::NOTICE != 0 || p.prompt == Prompt::None {
            if !quiet {
                self.out(&format!("{}{msg}", self.prefix(p.flags)));
            }
            if p.flags & problem::FATAL != 0 {
                // e2fsck's fatal_error says how the filesystem stands and
                // jumps out of the passes, which end in fatal_error again.
                self.end_state();
                return Err(Stop::Aborted.into());
            }
            if p.flags & problem::NOT_A_FIX == 0 && p.flags & problem::PREEN_OK != 0 {
                // Notices of automatic fixes (e.g. a generated UUID).
                self.changed |= self.mode != Mode::No;
            }
            return Ok(self.mode != Mode::No);
        }
        let answer = match self.mode {
            Mode::Preen => {
                if p.flags & problem::PREEN_OK == 0 {
                    self.out(&format!("{}{msg}", self.prefix(p.flags)));
                    return Err(Stop::PreenHalt.into());
                }
                let ans = p.flags & problem::PREEN_NO == 0;
                if !quiet {
                    self.out(&format!(
                        "{}{msg}{}.\n",
                        self.prefix(p.flags),
                        if ans { p.prompt.done() } else { "IGNORED" }
                    ));
                }
                ans
            }
            Mode::Yes | Mode::No => {
                let ans = self.mode == Mode::Yes && p.flags & problem::FORCE_NO == 0;
                if !quiet {
                    self.out(&format!(
                        "{msg}{}? {}\n\n",
                        p.prompt.question(),
                        if ans { "yes" } else { "no" }
                    ));
                }
                ans
            }
            Mode::Interactive if p.flags & problem::FORCE_NO != 0 => {
                if !quiet {
                    self.out(&format!("{msg}{}? no\n\n", p.prompt.question()));
                }
                false
            }
            Mode::Interactive => {
                if self.yes_to_all {
                    self.out(&format!("{msg}{}? yes\n\n", p.prompt.question()));
                    true
                } else {
                    if self.yes_streak > 12 {
                        self.yes_streak = -1;
                    }
                    let hint = if self.yes_streak > 8 {
                        " ('a' enables 'yes' to all) "
                    } else {
                        ""
                    };
                    // The terminal leaves canonical mode before the
                    // question shows (as e2fsck's ask_yn), so a key typed
                    // at once is neither echoed nor waits for Enter.
                    let keys = KeyReader::new();
                    self.out(&format!("{msg}{}{hint}<y>? ", p.prompt.question()));
                    self.read_answer(keys, true)?
                }
            }
        };
        self.account(answer, p.flags);
        Ok(answer)
    }

    /// Ends a latch group (e2fsck's end_problem_latch): its next member
    /// asks the latch question again.
    pub fn end_latch(&mut self, latch: Latch) {
        self.latches.remove(&latch);
        self.suppressed.remove(&latch);
    }

    /// Stops printing the members of a latch group until it ends (their
    /// answers still count).
    pub fn suppress_latch(&mut self, latch: Latch) {
        self.suppressed.insert(latch);
    }

    /// e2fsck's fatal_error(ctx, msg) inside the passes: the message on
    /// standard error, how the filesystem stands, then the stop that ends
    /// the run as "aborted".
    pub fn fatal_error(&self, msg: &str) -> anyhow::Error {
        // fatal_error names itself "e2fsck", whatever it was called.
        eprintln!("e2fsck: {msg}");
        self.end_state();
        Stop::Aborted.into()
    }

    /// e2fsck's fatal_error on standard output: whether the filesystem was
    /// modified or still has errors; returns the exit code it ends with.
    pub fn end_state(&self) -> u8 {
        let mut code = crate::exit::ERROR;
        if self.changed {
            code |= crate::exit::FIXED;
            self.out(&format!(
                "\n{}: ***** FILE SYSTEM WAS MODIFIED *****\n",
                self.device
            ));
        }
        if self.unfixed {
            code = (code | crate::exit::UNCORRECTED) & !crate::exit::FIXED;
            self.out(&format!(
                "\n{}: ********** WARNING: Filesystem still has errors **********\n\n",
                self.device
            ));
        }
        code
    }

    /// Reports a problem that asks nothing (so preen cannot stop on it).
    pub fn notice(&mut self, code: Code, ctx: &Ctx) {
        debug_assert_eq!(problem::lookup(code).prompt, Prompt::None);
        // Only a question can stop preen: a notice's report cannot fail.
        let _ = self.fix(code, ctx);
    }

    fn account(&mut self, answer: bool, flags: u16) {
        if answer {
            if flags & problem::NOT_A_FIX == 0 {
                self.fixed = true;
                self.changed |= flags & problem::UNMARKED == 0;
            }
        } else if flags & problem::NO_OK == 0 {
            self.unfixed = true;
        }
    }

    /// Prints text as it is (no prefix, no question): the words of
    /// e2fsck's I/O error handler that ask nothing.
    pub fn say(&self, s: &str) {
        self.out(s);
    }

    pub(crate) fn prefix(&self, flags: u16) -> String {
        if self.mode == Mode::Preen && flags & problem::PREEN_NOHDR == 0 {
            format!("{}: ", self.device)
        } else {
            String::new()
        }
    }

    /// One key answers, as e2fsck's ask_yn: y or n, a for yes to all,
    /// Enter, space or Escape for the default; other keys are ignored.
    /// At the end of input the default stands (as e2fsck). The answer is
    /// echoed as a word on its own line (no blank line after it, unlike
    /// the -y/-n report). A cancel (SIGINT, e.g. Ctrl-C on the terminal)
    /// stops the check inside the passes and answers no before them.
    fn read_answer(&mut self, mut keys: KeyReader, default: bool) -> anyhow::Result<bool> {
        let answer = loop {
            match keys.key() {
                Key::End => break default,
                Key::Cancel => {
                    drop(keys);
                    self.yes_streak = 0;
                    if self.in_passes {
                        self.out("\n");
                        return Err(Stop::Canceled.into());
                    }
                    self.out("cancelled!\n");
                    return Ok(false);
                }
                Key::Byte(b'y' | b'Y') => {
                    if self.yes_streak >= 0 {
                        self.yes_streak += 1;
                    }
                    break true;
                }
                Key::Byte(b'n' | b'N') => {
                    self.yes_streak = -1;
                    break false;
                }
                Key::Byte(b'a' | b'A') => {
                    self.yes_streak = -1;
                    self.yes_to_all = true;
                    drop(keys);
                    self.out("yes to all\n");
                    return Ok(true);
                }
                Key::Byte(b'\n' | b'\r' | b' ' | 27) => {
                    self.yes_streak = -1;
                    break default;
                }
                Key::Byte(_) => {}
            }
        };
        drop(keys);
        self.out(if answer { "yes\n" } else { "no\n" });
        Ok(answer)
    }
}
