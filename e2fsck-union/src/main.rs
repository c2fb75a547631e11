//! e2fsck-union: check and repair ext2 filesystems like e2fsck 1.47, with
//! the union-mount rules for whiteouts, fallthrus and opaque directories.

use std::process::ExitCode;

use e2fsck_union::{exit, run, Options};

fn main() -> ExitCode {
    let opts: Options = match cli_common::parse_args(exit::USAGE) {
        Ok(o) => o,
        Err(code) => return code,
    };
    if opts.version {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stdout().lock(),
            "{}",
            cli_common::version_line("e2fsck-union")
        );
        return ExitCode::SUCCESS;
    }
    ExitCode::from(run::run(opts))
}
