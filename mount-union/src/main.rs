//! mount-union: not built yet (issue 7). Until it is, the binary says so and
//! fails, rather than pretending to work.

use std::process::ExitCode;

fn main() -> ExitCode {
    let arg = std::env::args().nth(1);
    if matches!(arg.as_deref(), Some("-V" | "--version")) {
        println!("{}", cli_common::version_line("mount-union"));
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "mount-union: this tool is not implemented yet in union-e2fsprogs {} (tracked as issue 7); \
         nothing was done",
        cli_common::VERSION
    );
    ExitCode::from(2)
}
