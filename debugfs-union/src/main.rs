//! debugfs-union: not built yet (issue 6). Until it is, the binary says so and
//! fails, rather than pretending to work.

fn main() -> std::process::ExitCode {
    cli_common::not_implemented("debugfs-union", 6, 1)
}
