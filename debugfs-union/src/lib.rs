//! debugfs-union as a library: the request table, the session and every request group, so the binary is a thin CLI and fuzz targets can drive the request parser.

pub mod bitmaps;
pub use cli_common::cnum;
pub mod dirs;
pub mod dump;
pub mod extra;
pub mod fields;
pub mod format;
pub mod frag;
pub mod gnu_getopt;
pub mod help_order;
pub mod host;
pub mod inodes;
pub mod session;
pub mod super_stats;
pub mod table;
pub mod union;
pub mod write;
pub mod xattrs;
pub mod zap;

/// The name messages, the banner and the prompt use: `debugfs` when called
/// through a link of that name (a drop-in for e2fsprogs' debugfs, as its
/// own test suite calls it), else `debugfs-union`.
static PROGRAM: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

/// The e2fsprogs release whose behaviour debugfs-union follows, and its
/// date, for the banner in debugfs' shape.
const E2FSPROGS_LEVEL: &str = "1.47.0";
const E2FSPROGS_DATE: &str = "5-Feb-2023";

/// Records the name from argv[0] (its last component).
pub fn set_program(argv0: &str) {
    let base = argv0.rsplit('/').next().unwrap_or(argv0);
    let name = if base == "debugfs" {
        "debugfs"
    } else {
        "debugfs-union"
    };
    let _ = PROGRAM.set(name);
}

pub fn program() -> &'static str {
    PROGRAM.get().copied().unwrap_or("debugfs-union")
}

/// The line printed on start. Called as `debugfs`, it has debugfs' shape
/// (`debugfs 1.47.0+union-0.1.0 (5-Feb-2023)`: the e2fsprogs level it
/// follows, then our version), so that filters written for debugfs' banner
/// recognise it; otherwise our usual version line.
pub fn banner() -> String {
    match program() {
        "debugfs" => format!(
            "debugfs {E2FSPROGS_LEVEL}+union-{} ({E2FSPROGS_DATE})",
            cli_common::VERSION
        ),
        name => cli_common::version_line(name),
    }
}

/// Requests that read or write the host's files (or open another image):
/// skipped when requests come from an untrusted source (fuzzing).
const HOST_REQUESTS: &[&str] = &[
    "open_filesys",
    "open",
    "dump_inode",
    "dump",
    "rdump",
    "write",
    "export_overlay",
    "lcd",
    "logdump",
    "init_filesys",
];

/// Runs request lines against an image held in memory, with output thrown
/// away, and returns the image afterwards (for fuzzing and tests).
/// Requests that would touch the host's files are skipped.
pub fn run_on_memory_image(image: Vec<u8>, script: &str, write: bool) -> Vec<u8> {
    use ext2fs::fs::{Filesystem, OpenOptions};
    let mut s = session::Session::new(Box::new(std::io::sink()));
    let opts = OpenOptions {
        write,
        ..Default::default()
    };
    let mem = ext2fs::image::Image::in_memory(image.clone(), write);
    match Filesystem::from_image(mem, &opts) {
        Ok(fs) => s.fs = Some(fs),
        Err(_) => return image,
    }
    for line in script.lines().take(256) {
        let words = table::split_words(line);
        let Some(first) = words.first() else {
            continue;
        };
        let host_file = first.starts_with("ea_") && words.iter().any(|w| w.starts_with("-f"));
        if HOST_REQUESTS.contains(&first.as_str()) || host_file {
            continue;
        }
        // Unknown requests and failures are reported and skipped, as in
        // a debugfs -f script.
        let _ = table::execute(&mut s, line);
    }
    match s.fs.take() {
        Some(mut fs) => {
            let _ = fs.flush();
            fs.image().memory_bytes().unwrap_or(image)
        }
        None => image,
    }
}
