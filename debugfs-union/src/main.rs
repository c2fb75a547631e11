//! debugfs-union: the ext2 filesystem debugger, debugfs-compatible, with
//! the union-mount objects (whiteouts, fallthrus, opaque directories).

use debugfs_union::{session, table};

use std::io::{BufRead, BufReader};
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use clap::Parser;

use session::{OpenRequest, Session};

mod history;

#[derive(Parser, Debug)]
#[command(
    name = "debugfs-union",
    about = "ext2 filesystem debugger with union-mount whiteouts",
    disable_version_flag = true
)]
struct Args {
    /// Block size to use with -s.
    #[arg(short = 'b', value_name = "blocksize")]
    block_size: Option<u32>,
    /// Open the filesystem from the superblock at this block.
    #[arg(short = 's', value_name = "superblock")]
    superblock: Option<u64>,
    /// Read requests from a file ('-' for standard input).
    #[arg(short = 'f', value_name = "cmd_file")]
    cmd_file: Option<String>,
    /// Run one request and exit.
    #[arg(short = 'R', value_name = "request")]
    request: Option<String>,
    /// Catastrophic mode: open read-only, do not read the bitmaps.
    #[arg(short = 'c')]
    catastrophic: bool,
    /// Open the filesystem for writing.
    #[arg(short = 'w')]
    write: bool,
    /// Save the old contents of every block written in this file, for
    /// e2undo (an empty name: one in $E2FSPROGS_UNDO_DIR).
    #[arg(short = 'z', value_name = "undo_file")]
    undo_file: Option<std::ffi::OsString>,
    /// Print the version and exit.
    #[arg(short = 'V', long = "version")]
    version: bool,
    /// Device or image file.
    device: Option<String>,
}

fn main() -> ExitCode {
    debugfs_union::set_program(&std::env::args().next().unwrap_or_default());
    let args: Args = match cli_common::parse_args(1) {
        Ok(a) => a,
        Err(code) => return code,
    };
    if args.version {
        cli_common::outln!("{}", cli_common::version_line("debugfs-union"));
        return ExitCode::SUCCESS;
    }
    if args.superblock.is_some() && args.block_size.is_none() {
        eprintln!("debugfs-union: the -s option requires -b blocksize");
        return ExitCode::from(1);
    }
    eprintln!("{}", debugfs_union::banner());
    let mut s = Session::new(Box::new(std::io::stdout()));
    if let Some(dev) = &args.device {
        let undo_file = match cli_common::undo::undo_file_path(
            args.undo_file.as_deref().map(std::path::Path::new),
            false,
            "debugfs",
            std::path::Path::new(dev),
            "/var/lib/e2fsprogs",
        ) {
            Ok(u) => u,
            Err(e) => {
                eprintln!("debugfs: {e} while trying to setup undo file");
                return ExitCode::from(1);
            }
        };
        let req = OpenRequest {
            write: args.write,
            superblock: args.superblock,
            block_size: args.block_size,
            catastrophic: args.catastrophic,
            force: false,
            undo_file,
        };
        if let Err(e) = s.open(dev, &req) {
            debugfs_union::table::report(debugfs_union::program(), &e);
        }
    }
    let ok = if let Some(req) = &args.request {
        table::execute(&mut s, req)
    } else if let Some(file) = &args.cmd_file {
        run_script(&mut s, file)
    } else {
        interactive(&mut s);
        true
    };
    if s.fs.is_some() {
        if let Err(e) = s.close() {
            eprintln!("close_filesys: {}", cli_common::error_chain(&e));
            return ExitCode::from(1);
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `-f FILE`: each request echoed as `debugfs-union: REQUEST`, then run.
fn run_script(s: &mut Session, file: &str) -> bool {
    let reader: Box<dyn BufRead> = if file == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        match std::fs::File::open(file) {
            Ok(f) => Box::new(BufReader::new(f)),
            Err(e) => {
                eprintln!("{}: {file}: {e}", debugfs_union::program());
                return false;
            }
        }
    };
    let mut ok = true;
    for line in reader.lines() {
        let Ok(line) = line else { break };
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        use std::io::Write;
        let _ = writeln!(s.out, "{}: {line}", debugfs_union::program());
        let _ = s.out.flush();
        ok &= table::execute(s, line);
        if table::QUIT.load(Ordering::Relaxed) {
            break;
        }
    }
    ok
}

/// The interactive loop: a line editor with history.
fn interactive(s: &mut Session) {
    let mut ed = match rustyline::DefaultEditor::new() {
        Ok(e) => e,
        Err(e) => {
            eprintln!(
                "{}: no line editor ({e}); reading standard input",
                debugfs_union::program()
            );
            run_script(s, "-");
            return;
        }
    };
    let history = std::env::var_os("HOME")
        .map(|h| std::path::PathBuf::from(h).join(".debugfs_union_history"));
    if let Some(h) = &history {
        history::load(&mut ed, h);
    }
    loop {
        match ed.readline(&format!("{}: ", debugfs_union::program())) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = ed.add_history_entry(line.as_str());
                }
                table::execute(s, &line);
                if table::QUIT.load(Ordering::Relaxed) {
                    break;
                }
            }
            Err(rustyline::error::ReadlineError::Interrupted) => continue,
            Err(_) => break,
        }
    }
    if let Some(h) = &history {
        history::save(&ed, h);
    }
}
