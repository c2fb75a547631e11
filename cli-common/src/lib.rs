//! What every union-e2fsprogs command line shares: the version line,
//! size arguments with e2fsprogs' suffixes, and y/n questions asked the
//! way e2fsprogs asks them.

use std::io::{BufRead, IsTerminal, Write};

pub mod cnum;
pub mod plausible;
pub mod undo;

/// println! that never panics: when stdout is closed early (`| head`,
/// `| grep -q`) the tool goes on with its work instead of dying halfway
/// through a write to a filesystem.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// print! that never panics (see `outln!`), flushed at once.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut o = std::io::stdout().lock();
        let _ = write!(o, $($arg)*);
        let _ = o.flush();
    }};
}

/// asctime() without the newline, `Wed Nov 25 14:50:20 2026`, in local
/// time as e2fsprogs prints times (UTC when TZ is GMT, as its test suite
/// runs).
pub fn asctime(t: i64) -> String {
    let gmt = matches!(std::env::var("TZ").as_deref(), Ok("GMT") | Ok("GMT0"));
    asctime_in(t, !gmt)
}

/// asctime() in local time or UTC.
pub fn asctime_in(t: i64, local: bool) -> String {
    use chrono::TimeZone;
    const SHAPE: &str = "%a %b %e %H:%M:%S %Y";
    let shown = if local {
        chrono::Local
            .timestamp_opt(t, 0)
            .single()
            .map(|d| d.format(SHAPE).to_string())
    } else {
        chrono::Utc
            .timestamp_opt(t, 0)
            .single()
            .map(|d| d.format(SHAPE).to_string())
    };
    shown.unwrap_or_else(|| t.to_string())
}

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

/// e2fsprogs' parse_num_blocks2 as C computes it: strtoull in base 0
/// (a leading '-' negates, wrapping), then one suffix: k/m/g/t scale to
/// bytes when `log_block_size` is negative and to blocks of
/// 1024 << log_block_size otherwise, `s` is 512-byte sectors the same
/// way, nothing leaves the number as it is; anything else, or more than
/// one character after the number, is 0.
pub fn parse_num_blocks2(arg: &str, log_block_size: i32) -> u64 {
    let (num, rest) = cnum::strtoull_rest(arg);
    let mut chars = rest.chars();
    let (suffix, more) = (chars.next(), chars.next());
    if suffix.is_some() && more.is_some() {
        return 0;
    }
    let shift_down = |n: u64, by: i32| n.checked_shr(by as u32).unwrap_or(0);
    let scaled = |n: u64| {
        if log_block_size < 0 {
            n << 10
        } else {
            shift_down(n, log_block_size)
        }
    };
    match suffix.map(|c| c.to_ascii_lowercase()) {
        None => num,
        Some('t') => scaled(num << 30),
        Some('g') => scaled(num << 20),
        Some('m') => scaled(num << 10),
        Some('k') => scaled(num),
        Some('s') if log_block_size < 0 => num << 9,
        Some('s') => shift_down(num, 1 + log_block_size),
        Some(_) => 0,
    }
}

/// The hidden option every tool accepts (through [`parse_args`]) to print
/// a shell completion script generated from its own clap definition:
/// `mke2fs-union --generate-completions bash|zsh|fish|elvish|powershell`.
/// The packaging (`make install`, the .deb) runs it; the script completes
/// the name the tool was called by, so running it through the
/// `mkfs.ext2-union` link gives that link's script.
pub const COMPLETIONS_OPTION: &str = "generate-completions";

/// Parses the command line with clap, with the tool's usage exit code for
/// bad arguments (clap's own is 2; e2fsprogs and mount(8) use their own)
/// and 0 for --help. Err carries the exit code after clap printed why.
/// Also handles the hidden `--generate-completions SHELL` (see
/// [`COMPLETIONS_OPTION`]): it prints the script and returns Err(0).
pub fn parse_args<T: clap::Parser>(usage_exit: u8) -> Result<T, std::process::ExitCode> {
    parse_args_positioned(usage_exit).map(|(t, _)| t)
}

/// [`parse_args`], with where each option stood on the command line.
pub fn parse_args_positioned<T: clap::Parser>(
    usage_exit: u8,
) -> Result<(T, Positions), std::process::ExitCode> {
    match parse_args_from::<T, _, _>(std::env::args_os()) {
        Ok(Parsed::Args(t, at)) => Ok((t, at)),
        Ok(Parsed::Completions(script)) => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            match out.write_all(&script).and_then(|()| out.flush()) {
                Ok(()) => Err(std::process::ExitCode::SUCCESS),
                Err(_) => Err(std::process::ExitCode::from(usage_exit)),
            }
        }
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
                _ => usage_exit,
            };
            let _ = e.print();
            Err(std::process::ExitCode::from(code))
        }
    }
}

/// What a command line asked for: the tool's options (and where each
/// stood), or a completion script (the bytes to print).
#[derive(Debug)]
pub enum Parsed<T> {
    Args(T, Positions),
    Completions(Vec<u8>),
}

/// Where each option stood on the command line (clap's argument indices,
/// by the field's id): for a tool that, as getopt's loop does, must act
/// on two options in the order they were given.
#[derive(Debug, Default, Clone)]
pub struct Positions(std::collections::HashMap<String, Vec<usize>>);

impl Positions {
    /// The indices of each use of option `id`, in order.
    pub fn of(&self, id: &str) -> &[usize] {
        self.0.get(id).map_or(&[], Vec::as_slice)
    }
}

/// [`parse_args`] on given arguments (the first names the program), without
/// printing or exiting.
pub fn parse_args_from<T, I, A>(args: I) -> Result<Parsed<T>, clap::Error>
where
    T: clap::Parser,
    I: IntoIterator<Item = A>,
    A: Into<std::ffi::OsString> + Clone,
{
    use clap::Arg;
    use clap_complete::Shell;
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    let mut cmd = T::command().arg(
        Arg::new(COMPLETIONS_OPTION)
            .long(COMPLETIONS_OPTION)
            .value_name("SHELL")
            .value_parser(clap::value_parser!(Shell))
            .exclusive(true)
            .hide(true),
    );
    let mut matches = cmd.try_get_matches_from_mut(args.iter().cloned())?;
    if let Some(shell) = matches.get_one::<Shell>(COMPLETIONS_OPTION).copied() {
        let mut tool = T::command();
        let name = args
            .first()
            .and_then(|a| std::path::Path::new(a).file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| tool.get_name().to_string());
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut tool, name, &mut script);
        return Ok(Parsed::Completions(script));
    }
    let positions = Positions(
        matches
            .ids()
            .map(|id| {
                let at = matches
                    .indices_of(id.as_str())
                    .map(|i| i.collect())
                    .unwrap_or_default();
                (id.to_string(), at)
            })
            .collect(),
    );
    T::from_arg_matches_mut(&mut matches)
        .map(|t| Parsed::Args(t, positions))
        .map_err(|e| e.format(&mut cmd))
}

/// The whole `main` of a tool that is not written yet: it says so and
/// fails with `exit_code` (only -V/--version succeed).
pub fn not_implemented(tool: &str, issue: u32, exit_code: u8) -> std::process::ExitCode {
    let arg = std::env::args().nth(1);
    if matches!(arg.as_deref(), Some("-V" | "--version")) {
        crate::outln!("{}", version_line(tool));
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

/// Bytes as e2fsprogs' safe_print shows them (e2fsck's names, debugfs'
/// xattr dumps): control characters as `^X`, bytes above 128 as `M-`
/// and the byte less 128.
pub fn safe_text(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        let mut c = b;
        if c > 128 {
            s.push_str("M-");
            c -= 128;
        }
        if c < 32 || c == 127 {
            s.push('^');
            c ^= 0x40;
        }
        s.push(c as char);
    }
    s
}

/// An error as com_err prints a system error: strerror's text alone
/// (without Rust's " (os error N)").
pub fn errno_text(e: impl Into<std::io::Error>) -> String {
    let e: std::io::Error = e.into();
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// An error and its causes, joined by ": " as `{:#}` joins them, but
/// without a cause whose words the text before it already holds (an I/O
/// error whose message repeats its source's).
pub fn error_chain(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let words = cause.to_string();
        if text.contains(&words) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&words);
    }
    text
}

#[cfg(test)]
mod tests {

    #[test]
    fn parse_num_blocks2_as_c_computes_it() {
        assert_eq!(super::parse_num_blocks2("2048", -1), 2048);
        assert_eq!(super::parse_num_blocks2("0x800", -1), 2048);
        assert_eq!(super::parse_num_blocks2("010", -1), 8);
        assert_eq!(super::parse_num_blocks2("4k", -1), 4096);
        assert_eq!(super::parse_num_blocks2("4K", 2), 1);
        assert_eq!(super::parse_num_blocks2("1m", 0), 1024);
        assert_eq!(super::parse_num_blocks2("8s", -1), 4096);
        assert_eq!(super::parse_num_blocks2("8s", 0), 4);
        assert_eq!(super::parse_num_blocks2("4096x", -1), 0);
        assert_eq!(super::parse_num_blocks2("4kk", -1), 0);
        assert_eq!(super::parse_num_blocks2("bogus", -1), 0);
        assert_eq!(super::parse_num_blocks2("-2048", -1) as u32 as i32, -2048);
        assert_eq!(
            super::parse_num_blocks2("99999999999999999999", -1),
            u64::MAX
        );
    }

    use super::*;

    #[test]
    fn an_error_chain_says_each_cause_once() {
        let io = std::io::Error::from_raw_os_error(27);
        let e = anyhow::Error::new(io).context("w.img: File too large (os error 27)");
        assert_eq!(error_chain(&e), "w.img: File too large (os error 27)");
        let e = anyhow::anyhow!("inner").context("outer");
        assert_eq!(error_chain(&e), "outer: inner");
    }

    #[test]
    fn asctime_like_e2fsprogs() {
        assert_eq!(asctime_in(748581554, false), "Tue Sep 21 03:19:14 1993");
        assert_eq!(asctime_in(0, false), "Thu Jan  1 00:00:00 1970");
    }

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

    #[derive(clap::Parser, Debug)]
    #[command(name = "demo-union")]
    struct Demo {
        /// Force
        #[arg(short = 'f')]
        force: bool,
        /// The device
        #[arg(required = true)]
        device: Option<String>,
    }

    #[test]
    fn completions_from_the_clap_definition() {
        for (shell, needle) in [
            ("bash", "complete -F _demo__union"),
            ("zsh", "#compdef demo-union"),
            ("fish", "complete -c demo-union"),
        ] {
            let Ok(Parsed::Completions(s)) = parse_args_from::<Demo, _, _>([
                "/usr/sbin/demo-union",
                "--generate-completions",
                shell,
            ]) else {
                panic!("{shell}: no script");
            };
            let s = String::from_utf8(s).unwrap();
            assert!(s.contains(needle), "{shell}: {s}");
            assert!(
                !s.contains("generate-completions"),
                "{shell}: the option is hidden"
            );
        }
        // Through a link, the script completes the link's name.
        let Ok(Parsed::Completions(s)) =
            parse_args_from::<Demo, _, _>(["mkfs.demo", "--generate-completions", "fish"])
        else {
            panic!("no script");
        };
        assert!(String::from_utf8(s)
            .unwrap()
            .contains("complete -c mkfs.demo"));
    }

    #[test]
    fn ordinary_arguments_still_parse() {
        let Ok(Parsed::Args(d, at)) = parse_args_from::<Demo, _, _>(["demo-union", "-f", "img"])
        else {
            panic!("not parsed");
        };
        assert!(d.force);
        assert_eq!(d.device.as_deref(), Some("img"));
        assert_eq!((at.of("force"), at.of("device")), (&[1][..], &[2][..]));
        assert!(at.of("nothing").is_empty());
        assert!(parse_args_from::<Demo, _, _>(["demo-union", "-f"]).is_err());
        assert!(
            parse_args_from::<Demo, _, _>(["demo-union", "--generate-completions", "csh"]).is_err()
        );
        let help = parse_args_from::<Demo, _, _>(["demo-union", "--help"]).unwrap_err();
        assert!(!help.to_string().contains("generate-completions"));
    }

    #[test]
    fn version_names_the_tool() {
        assert!(version_line("e2fsck-union").starts_with("e2fsck-union 0."));
    }
}
