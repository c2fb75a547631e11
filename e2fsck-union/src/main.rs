//! e2fsck-union: not built yet (issue 5). Until it is, the binary says so and
//! fails, rather than pretending to work.

fn main() -> std::process::ExitCode {
    cli_common::not_implemented("e2fsck-union", 5, 8)
}
