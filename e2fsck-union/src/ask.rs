//! Putting problems to the user: preen, -y, -n or a terminal, with
//! e2fsck's output shapes, latches and the bookkeeping behind the exit code.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, Ordering};

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

/// Raised (as an error) when preen meets a problem it may not fix.
#[derive(Debug)]
pub struct PreenHalt;

impl std::fmt::Display for PreenHalt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UNEXPECTED INCONSISTENCY; RUN fsck MANUALLY.")
    }
}
impl std::error::Error for PreenHalt {}

/// Raised when the user aborts at an interactive question.
#[derive(Debug)]
pub struct UserAbort;

impl std::fmt::Display for UserAbort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "aborted by the user")
    }
}
impl std::error::Error for UserAbort {}

pub struct Asker {
    pub mode: Mode,
    pub device: String,
    latches: HashMap<Latch, bool>,
    /// Something was written to fix a problem.
    pub changed: bool,
    /// A problem was left unfixed.
    pub unfixed: bool,
    yes_to_all: bool,
    /// Counts of problems seen, for tests and -v.
    pub seen: usize,
    /// -d: print each problem's code.
    pub debug: bool,
}

impl Asker {
    pub fn new(mode: Mode, device: &str) -> Self {
        Asker {
            mode,
            device: device.to_string(),
            latches: HashMap::new(),
            changed: false,
            unfixed: false,
            yes_to_all: false,
            seen: 0,
            debug: false,
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
            self.out(&format!("[problem {code:?}] "));
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
                if self.mode != Mode::Preen || p.flags & problem::PREEN_NOMSG == 0 {
                    let verdict = if ans { p.prompt.done() } else { "IGNORED" };
                    self.out(&format!("{}{msg}{verdict}.\n", self.prefix(p.flags)));
                }
                self.account(ans, p.flags);
                return Ok(ans);
            }
        }
        let msg = problem::expand(p.message, ctx);
        let quiet = self.mode == Mode::Preen && p.flags & problem::PREEN_NOMSG != 0;
        if p.flags & problem::NOTICE != 0 || p.prompt == Prompt::None {
            if !quiet {
                self.out(&format!("{}{msg}", self.prefix(p.flags)));
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
                    return Err(PreenHalt.into());
                }
                if !quiet {
                    self.out(&format!(
                        "{}{msg} {}.\n",
                        self.prefix(p.flags),
                        p.prompt.done()
                    ));
                }
                true
            }
            Mode::Yes | Mode::No => {
                let ans = self.mode == Mode::Yes && p.flags & problem::FORCE_NO == 0;
                self.out(&format!(
                    "{msg}{}? {}\n\n",
                    p.prompt.question(),
                    if ans { "yes" } else { "no" }
                ));
                ans
            }
            Mode::Interactive => {
                if self.yes_to_all {
                    self.out(&format!("{msg}{}? yes\n\n", p.prompt.question()));
                    true
                } else {
                    self.out(&format!("{msg}{}<y>? ", p.prompt.question()));
                    self.read_answer()?
                }
            }
        };
        self.account(answer, p.flags);
        Ok(answer)
    }

    fn account(&mut self, answer: bool, flags: u16) {
        if answer {
            if flags & problem::NOT_A_FIX == 0 {
                self.changed = true;
            }
        } else if flags & problem::NO_OK == 0 {
            self.unfixed = true;
        }
    }

    fn prefix(&self, flags: u16) -> String {
        if self.mode == Mode::Preen && flags & problem::PREEN_NOHDR == 0 {
            format!("{}: ", self.device)
        } else {
            String::new()
        }
    }

    fn read_answer(&mut self) -> anyhow::Result<bool> {
        let stdin = std::io::stdin();
        loop {
            let mut line = String::new();
            if stdin.lock().read_line(&mut line)? == 0 {
                self.out("\n");
                return Err(UserAbort.into());
            }
            let ans = match line.trim().to_ascii_lowercase().as_str() {
                "" | "y" | "yes" => Some(true),
                "n" | "no" => Some(false),
                "a" | "all" => {
                    self.yes_to_all = true;
                    Some(true)
                }
                _ => None,
            };
            match ans {
                Some(a) => {
                    self.out(if a { "yes\n\n" } else { "no\n\n" });
                    return Ok(a);
                }
                None => self.out("Please answer y (yes), n (no) or a (yes to all): "),
            }
        }
    }
}
