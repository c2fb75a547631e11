//! The interactive history file, read and written by us rather than by
//! rustyline (whose save creates the file through a symlink): opened with
//! O_NOFOLLOW and used only when it is a regular file, so a symlink put at
//! the history path cannot get another file rewritten.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use rustix::fs::{Mode, OFlags};
use rustyline::history::History;
use rustyline::DefaultEditor;

/// Lines kept in the file.
const KEPT: usize = 1000;

/// Opens the history file without following a symlink or blocking on a
/// FIFO, and only if it is a regular file.
fn open(path: &Path, flags: OFlags) -> std::io::Result<std::fs::File> {
    let fd = rustix::fs::open(
        path,
        flags | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::RUSR | Mode::WUSR,
    )?;
    let f = std::fs::File::from(fd);
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(f)
}

/// Loads the saved lines (rustyline's "#V2" header line is skipped).
pub fn load(ed: &mut DefaultEditor, path: &Path) {
    let f = match open(path, OFlags::RDONLY) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => {
            eprintln!("debugfs-union: not reading history {}: {e}", path.display());
            return;
        }
    };
    for line in BufReader::new(f).lines().map_while(Result::ok) {
        if line != "#V2" && !line.is_empty() {
            let _ = ed.add_history_entry(line);
        }
    }
}

/// Saves the last `KEPT` lines, one a line.
pub fn save(ed: &DefaultEditor, path: &Path) {
    let r = open(path, OFlags::WRONLY | OFlags::CREATE).and_then(|mut f| {
        f.set_len(0)?;
        let h = ed.history();
        let skip = h.len().saturating_sub(KEPT);
        let mut text = String::new();
        for line in h.iter().skip(skip) {
            text.push_str(line);
            text.push('\n');
        }
        f.write_all(text.as_bytes())
    });
    if let Err(e) = r {
        eprintln!("debugfs-union: not saving history {}: {e}", path.display());
    }
}
