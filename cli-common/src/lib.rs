//! What every union-e2fsprogs command line shares: the version line,
//! size arguments with e2fsprogs' suffixes, and y/n questions asked the
//! way e2fsprogs asks them.

use std::io::{BufRead, IsTerminal, Write};

/// The workspace version, printed by every tool's `-V`/`--version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The `-V` line in e2fsprogs' shape: `mke2fs-union 0.1.0 (union-e2fsprogs)`.
pub fn version_line(tool: &str) -> String {
    format!("{tool} {VERSION} (union-e2fsprogs)")
}

/// Parses a size like e2fsprogs' parse_num_blocks2: a number with an
/// optional suffix k/m/g/t/p (powers of 1024, in bytes), or `s` (512-byte
/// sectors); without a suffix the number counts blocks of `block_size`
/// (when known) or KiB. Returns the size in bytes.
pub fn parse_size(arg: &str, block_size: Option<u64>) -> Result<u64, String> {
    let bad = || format!("invalid size: '{arg}'");
    let s = arg.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    if num.is_empty() {
        return Err(bad());
    }
    let n: u64 = num.parse().map_err(|_| bad())?;
    let mult: u64 = match suffix.to_ascii_lowercase().as_str() {
        "" => block_size.unwrap_or(1024),
        "s" => 512,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return Err(bad()),
    };
    n.checked_mul(mult).ok_or_else(bad)
}

/// Parses the command line with clap, with the tool's usage exit code for
/// bad arguments (clap's own is 2; e2fsprogs and mount(8) use their own)
/// and 0 for --help. Err carries the exit code after clap printed why.
pub fn parse_args<T: clap::Parser>(usage_exit: u8) -> Result<T, std::process::ExitCode> {
    T::try_parse().map_err(|e| {
        use clap::error::ErrorKind;
        let code = match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
            _ => usage_exit,
        };
        let _ = e.print();
        std::process::ExitCode::from(code)
    })
}

/// The whole `main` of a tool that is not written yet: it says so and
/// fails with `exit_code` (only -V/--version succeed).
pub fn not_implemented(tool: &str, issue: u32, exit_code: u8) -> std::process::ExitCode {
    let arg = std::env::args().nth(1);
    if matches!(arg.as_deref(), Some("-V" | "--version")) {
        println!("{}", version_line(tool));
        return std::process::ExitCode::SUCCESS;
    }
    eprintln!(
        "{tool}: this tool is not implemented yet in union-e2fsprogs {VERSION} (tracked as issue {issue}); nothing was done"
    );
    std::process::ExitCode::from(exit_code)
}

/// Whether a question can be put to a person (stdin is a terminal).
pub fn interactive() -> bool {
    std::io::stdin().is_terminal()
}

/// Asks `question` on the terminal; `default` answers an empty line.
/// Returns None when there is no terminal to ask or input ended.
pub fn ask_yes_no(question: &str, default: bool) -> Option<bool> {
    if !interactive() {
        return None;
    }
    let mut out = std::io::stdout();
    let hint = if default { "(Y,n)" } else { "(y,N)" };
    let _ = write!(out, "{question} {hint} ");
    let _ = out.flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).ok()? == 0 {
        return None;
    }
    match line.trim().chars().next() {
        None => Some(default),
        Some('y' | 'Y') => Some(true),
        Some(_) => Some(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("8M", None), Ok(8 << 20));
        assert_eq!(parse_size("1t", None), Ok(1 << 40));
        assert_eq!(parse_size("100", Some(4096)), Ok(409_600));
        assert_eq!(parse_size("100", None), Ok(102_400));
        assert_eq!(parse_size("2s", None), Ok(1024));
        assert!(parse_size("12x", None).is_err());
        assert!(parse_size("", None).is_err());
        assert!(parse_size("99999999999999999999p", None).is_err());
    }

    #[test]
    fn version_names_the_tool() {
        assert!(version_line("e2fsck-union").starts_with("e2fsck-union 0."));
    }
}
