//! debugfs-union: not built yet (issue 6). Until it is, the binary says so and
//! fails, rather than pretending to work.

use std::process::ExitCode;

fn main() -> ExitCode {
    let arg = std::env::args().nth(1);
    if matches!(arg.as_deref(), Some("-V" | "--version")) {
        println!("{}", cli_common::version_line("debugfs-union"));
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "debugfs-union: this tool is not implemented yet in union-e2fsprogs {} (tracked as issue 6); \
         nothing was done",
        cli_common::VERSION
    );
    ExitCode::from(1)
}
