//! e2fsck's I/O error handler (ehandler.c) for the blocks the library
//! could not read (its typed `BlockRead`): "Error reading block N (why)
//! while <operation>.  ", preen stops there, a block past the end of the
//! filesystem is read as zeros without a question, any other is asked
//! about ("Ignore error", then "Force rewrite"). e2fsck's handler asks
//! with its plain ask(), which counts for nothing in the exit code.

use std::cell::RefCell;
use std::collections::HashSet;

use anyhow::Result;
use ext2fs::fs::ReadDecision;
use ext2fs::inode::Inode;

use crate::ask::{Asker, Mode, Stop};
use crate::checker::Checker;
use crate::problem::{self, Code, Ctx};

/// The handler's state that the passes set (e2fsck's ehandler_operation)
/// and the one a path being built leaves behind.
#[derive(Default)]
pub struct ReadErrors {
    /// What the check is doing, named in the message.
    pub operation: Option<String>,
    /// Preen met a read error while a path was built for a message: the
    /// handler's words, printed inside that message before the stop.
    halted: RefCell<Option<String>>,
    /// Blocks read as zeros after an error (past the end of the
    /// filesystem, or ignored and not rewritten): the I/O channel's cache
    /// keeps such a block, so reading it again says nothing (e2fsck's
    /// cache may have dropped it by then; we keep it).
    zeroed: RefCell<HashSet<u64>>,
}

/// The block and the words of a failed read, if `e` is one.
fn failed_block(e: &ext2fs::Error) -> Option<(u64, String)> {
    match e {
        ext2fs::Error::BlockRead { block, .. } => Some((*block, e.com_err_text())),
        _ => None,
    }
}

impl Checker {
    fn read_error_ctx(&self, block: u64, why: String) -> Ctx {
        Ctx {
            blk: block,
            str1: why,
            str2: match &self.read_errors.operation {
                Some(op) => format!(" while {op}"),
                None => String::new(),
            },
            ..Default::default()
        }
    }

    /// The handler for a read the checker makes itself: `Some` with the
    /// bytes to go on with when the error is ignored (rewritten as they
    /// are under a yes to "Force rewrite"), `None` when it stands. Errors
    /// other than a failed block read are not the handler's: they end the
    /// check as before.
    pub fn read_error(&mut self, e: ext2fs::Error) -> Result<Option<Vec<u8>>> {
        let Some((block, why)) = failed_block(&e) else {
            return Err(e.into());
        };
        let ext2fs::Error::BlockRead { partial, .. } = e else {
            unreachable!("failed_block matched it");
        };
        if self.read_errors.zeroed.borrow().contains(&block) {
            return Ok(Some(partial));
        }
        let c = self.read_error_ctx(block, why);
        if block >= self.blocks_count {
            // Past the filesystem: nothing to rewrite, nothing asked.
            self.read_errors.zeroed.borrow_mut().insert(block);
            if self.ask.mode == Mode::Preen {
                self.problem(Code::ReadError, &c)?;
            }
            self.ask.say(&problem::expand(
                problem::lookup(Code::ReadError).message,
                &c,
            ));
            return Ok(Some(partial));
        }
        if !self.problem(Code::ReadError, &c)? {
            return Ok(None);
        }
        if self.problem(Code::ReadErrorRewrite, &Ctx::default())? {
            self.fs.write_block(block, &partial)?;
        } else {
            // Not rewritten: the I/O channel's cache keeps the bytes the
            // read went on with, so reading the block again says nothing.
            self.read_errors.zeroed.borrow_mut().insert(block);
        }
        Ok(Some(partial))
    }

    /// A block the checker reads itself, a failed read put to the
    /// handler: `None` when the failure stands, or when the block cannot
    /// be read for another reason (outside the filesystem).
    pub fn read_block_handled(&mut self, block: u64) -> Result<Option<Vec<u8>>> {
        match self.fs.read_block(block) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e @ ext2fs::Error::BlockRead { .. }) => self.read_error(e),
            Err(_) => Ok(None),
        }
    }

    /// Inode `ino` read as ext2fs_read_inode reads it, its whole block,
    /// a failed read put to the handler: `None` when the failure stands.
    pub fn read_inode_handled(&mut self, ino: u32) -> Result<Option<Inode>> {
        let (block, at) = self.fs.inode_block(ino)?;
        let bytes = match self.fs.read_block(block) {
            Ok(bytes) => bytes,
            Err(e) => match self.read_error(e)? {
                Some(bytes) => bytes,
                None => return Ok(None),
            },
        };
        let size = self.fs.geo().inode_size as usize;
        Ok(Some(Inode::parse(&bytes[at..at + size])?))
    }

    /// The handler inside a walk of the library's that shows no checker
    /// (a path for a message): its words go into `out`, where e2fsck
    /// prints them, in the middle of the message. A terminal is asked at
    /// once. Preen's stop comes with the message (`problem`).
    pub fn read_error_within(&self, e: &ext2fs::Error, out: &mut String) -> ReadDecision {
        let Some((block, why)) = failed_block(e) else {
            return ReadDecision::Fail;
        };
        if self.read_errors.zeroed.borrow().contains(&block) {
            return ReadDecision::Ignore;
        }
        let c = self.read_error_ctx(block, why);
        let said = problem::expand(problem::lookup(Code::ReadError).message, &c);
        if self.ask.mode == Mode::Preen {
            out.push_str(&said);
            self.read_errors
                .halted
                .borrow_mut()
                .get_or_insert_with(|| out.clone());
            return ReadDecision::Fail;
        }
        if block >= self.blocks_count {
            out.push_str(&said);
            self.read_errors.zeroed.borrow_mut().insert(block);
            return ReadDecision::Ignore;
        }
        let question = problem::lookup(Code::ReadError).prompt.question();
        match self.ask.mode {
            Mode::Yes => {
                // The block is not rewritten from here: the walk only reads.
                let rewrite = problem::lookup(Code::ReadErrorRewrite).prompt.question();
                out.push_str(&format!("{said}{question}? yes\n\n{rewrite}? yes\n\n"));
                ReadDecision::Ignore
            }
            Mode::No => {
                out.push_str(&format!("{said}{question}? no\n\n"));
                ReadDecision::Fail
            }
            _ => {
                let mut terminal = Asker::new(Mode::Interactive, &self.ask.device);
                match terminal.fix(Code::ReadError, &c) {
                    Ok(true) => ReadDecision::Ignore,
                    _ => ReadDecision::Fail,
                }
            }
        }
    }

    /// The handler's words from a walk outside any message (`said`, from
    /// [`Checker::read_error_within`]), printed as they come; preen stops
    /// after them, as e2fsck's handler does.
    pub fn said_outside_a_message(&mut self, said: &str) -> Result<()> {
        let halted = self.read_errors.halted.borrow_mut().take();
        if !said.is_empty() {
            self.ask.say(said);
        }
        if halted.is_some() {
            return Err(Stop::PreenHalt.into());
        }
        Ok(())
    }

    /// Before a problem is reported: where preen met a read error while
    /// its path was built, the message up to the handler's words is
    /// printed and the check stops (e2fsck's preenhalt in the handler).
    pub fn halt_if_read_failed(&mut self, code: Code, ctx: &Ctx) -> Result<()> {
        let Some(said) = self.read_errors.halted.borrow_mut().take() else {
            return Ok(());
        };
        let p = problem::lookup(code);
        let msg = problem::expand(p.message, ctx);
        let upto = msg.find(&said).map_or(0, |at| at + said.len());
        let shown = if upto == 0 { said } else { msg[..upto].into() };
        self.ask
            .say(&format!("{}{shown}", self.ask.prefix(p.flags)));
        Err(Stop::PreenHalt.into())
    }
}
