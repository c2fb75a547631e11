//! Bad command lines and bad paths for every tool: each case gives the
//! exact exit status (e2fsprogs' and util-linux's conventions) and a piece
//! of the message that names the problem. No case may panic.

use std::path::Path;
use std::process::Command;

use integration_tests::*;

struct Case {
    tool: &'static str,
    args: &'static [&'static str],
    exit: i32,
    says: &'static str,
}

const fn case(
    tool: &'static str,
    args: &'static [&'static str],
    exit: i32,
    says: &'static str,
) -> Case {
    Case {
        tool,
        args,
        exit,
        says,
    }
}

const MKFS: &str = "mke2fs-union";
const FSCK: &str = "e2fsck-union";
const DEBUGFS: &str = "debugfs-union";
const MOUNT: &str = "mount-union";

/// {img}: a union image; {empty}: an empty file; {new}: a path to create;
/// {missing}: a path that does not exist; {dir}: a directory.
const CASES: &[Case] = &[
    // mke2fs-union: usage errors exit 1, like mke2fs.
    case(MKFS, &[], 1, "no device or image file given"),
    case(
        MKFS,
        &["-b", "1000", "{new}", "8M"],
        1,
        "invalid block size - 1000",
    ),
    case(
        MKFS,
        &["-t", "ext4", "{new}", "8M"],
        1,
        "makes ext2 filesystems",
    ),
    case(
        MKFS,
        &["-T", "ext4", "-t", "ext3", "{new}", "8M"],
        1,
        "'ext3' is not supported",
    ),
    case(
        MKFS,
        &["-O", "extent", "{new}", "8M"],
        1,
        "extent cannot be used",
    ),
    case(
        MKFS,
        &["-O", "has_journal", "{new}", "8M"],
        1,
        "has_journal cannot be used",
    ),
    case(
        MKFS,
        &["-O", "whiteout,^filetype", "{new}", "8M"],
        1,
        "whiteout feature needs filetype",
    ),
    case(
        MKFS,
        &["-O", "nosuchfeature", "{new}", "8M"],
        1,
        "nosuchfeature",
    ),
    case(
        MKFS,
        &["-N", "abc", "{new}", "8M"],
        1,
        "invalid value 'abc'",
    ),
    case(
        MKFS,
        &["-m", "60", "{new}", "8M"],
        1,
        "invalid reserved blocks percent - 60",
    ),
    case(
        MKFS,
        &["-I", "100", "{new}", "8M"],
        1,
        "invalid inode size 100",
    ),
    case(
        MKFS,
        &["-E", "stride=x", "{new}", "8M"],
        1,
        "Invalid stride parameter: x",
    ),
    case(
        MKFS,
        &["-E", "bogus", "{new}", "8M"],
        1,
        "Bad option(s) specified: bogus",
    ),
    case(
        MKFS,
        &["-r", "3", "{new}", "8M"],
        1,
        "bad revision level - 3",
    ),
    case(
        MKFS,
        &["-q", "-d", "{missing}", "{new}", "8M"],
        1,
        "No such file or directory",
    ),
    case(MKFS, &["{new}", "8Q"], 1, "invalid size: '8Q'"),
    case(
        MKFS,
        &["-j", "{new}", "8M"],
        1,
        "journals are ext3/ext4 features",
    ),
    case(
        MKFS,
        &["-U", "nonsense", "{new}", "8M"],
        1,
        "could not parse UUID: nonsense",
    ),
    case(
        MKFS,
        &["-o", "plan9", "{new}", "8M"],
        1,
        "unknown os - plan9",
    ),
    case(
        MKFS,
        &["{missing}/sub/x.img", "8M"],
        1,
        "No such file or directory",
    ),
    case(
        MKFS,
        &["{new}"],
        1,
        "does not exist and no size was specified",
    ),
    case(MKFS, &["{empty}"], 1, "Device size reported to be zero"),
    case(MKFS, &["--no-such-option"], 1, "unexpected argument"),
    // A UUID with a multi-byte character (the byte-sliced parsers panicked).
    case(
        MKFS,
        &[
            "-U",
            "\u{20ac}aaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa",
            "{new}",
            "1M",
        ],
        1,
        ": could not parse UUID: \u{20ac}aaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa",
    ),
    case(
        MKFS,
        &[
            "-E",
            "hash_seed=aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaa\u{20ac}",
            "{new}",
            "1M",
        ],
        1,
        "Invalid hash seed: aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaa\u{20ac}",
    ),
    // e2fsck-union: 16 usage, 8 operational error.
    case(FSCK, &[], 16, "Usage:"),
    case(
        FSCK,
        &["-n", "-y", "{img}"],
        16,
        "only one of the options -p/-a, -n or -y",
    ),
    case(FSCK, &["-p", "-y", "{img}"], 16, "only one of the options"),
    case(
        FSCK,
        &["-fn", "-D", "{img}"],
        16,
        "-n and -D options are incompatible",
    ),
    case(
        FSCK,
        &["-fn", "-c", "{img}"],
        16,
        "-n and -c options are incompatible",
    ),
    case(
        FSCK,
        &["-fy", "-c", "-l", "x", "{img}"],
        16,
        "-c and -l/-L options",
    ),
    case(
        FSCK,
        &["-fy", "-l", "a", "-L", "b", "{img}"],
        16,
        "only one of the options -l and -L",
    ),
    case(FSCK, &["-j", "x", "{img}"], 16, "ext2 has no journal"),
    case(
        FSCK,
        &["-E", "bogus", "{img}"],
        16,
        "unknown extended option",
    ),
    case(
        FSCK,
        &["-E", "journal_only", "{img}"],
        16,
        "ext2 has no journal",
    ),
    case(FSCK, &["--no-such-option"], 16, "unexpected argument"),
    case(
        FSCK,
        &["-fn", "{missing}"],
        8,
        "Possibly non-existent device?",
    ),
    case(
        FSCK,
        &["-fn", "{empty}"],
        8,
        "Could this be a zero-length partition?",
    ),
    case(FSCK, &["-fn", "{dir}"], 8, "while trying to open"),
    case(
        FSCK,
        &["-fy", "-l", "{missing}", "{img}"],
        8,
        "bad blocks file",
    ),
    case(
        FSCK,
        &["-fy", "-l", "{img}", "{img}"],
        8,
        "while reading the bad blocks file",
    ),
    case(
        FSCK,
        &["-fn", "-C", "abc", "{img}"],
        16,
        "invalid value 'abc'",
    ),
    case(
        FSCK,
        &["-fn", "-C", "77", "{img}"],
        8,
        "file descriptor 77 is not open",
    ),
    case(
        FSCK,
        &["-fn", "-b", "5", "-B", "1024", "{img}"],
        8,
        "while trying to open",
    ),
    // debugfs-union: a failing request names itself; bad options exit 1.
    case(DEBUGFS, &["--bogus"], 1, "unexpected argument"),
    case(
        DEBUGFS,
        &["-s", "5", "{img}", "-R", "stats"],
        1,
        "-s option requires -b",
    ),
    case(
        DEBUGFS,
        &["-R", "bogus", "{img}"],
        1,
        "Command not found bogus",
    ),
    case(
        DEBUGFS,
        &["-f", "{missing}", "{img}"],
        1,
        "No such file or directory",
    ),
    case(
        DEBUGFS,
        &["-R", "ls /nonexistent", "{img}"],
        0,
        "/nonexistent: File not found by ext2_lookup ",
    ),
    case(
        DEBUGFS,
        &["-R", "mkdir /x", "{img}"],
        0,
        "mkdir: Filesystem opened read/only",
    ),
    case(DEBUGFS, &["-R", "stat", "{img}"], 0, "stat: Usage: stat"),
    case(
        DEBUGFS,
        &["-w", "-R", "ssv uuid \u{20ac}x", "{img}"],
        0,
        "Invalid UUID format: \u{20ac}x",
    ),
    case(
        DEBUGFS,
        &[
            "-w",
            "-R",
            "ssv uuid aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaa\u{20ac}",
            "{img}",
        ],
        0,
        "Invalid UUID format",
    ),
    case(
        DEBUGFS,
        &["-R", "dx_hash -s \u{20ac}x name", "{img}"],
        0,
        "Invalid UUID format: \u{20ac}x",
    ),
    case(
        DEBUGFS,
        &[
            "-R",
            "dx_hash -s aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaa\u{20ac} name",
            "{img}",
        ],
        0,
        "Invalid UUID format",
    ),
    case(
        DEBUGFS,
        &["-R", "cat <99999>", "{img}"],
        0,
        "<99999>: File not found by ext2_lookup ",
    ),
    case(
        DEBUGFS,
        &["-R", "stats", "{missing}"],
        0,
        "while trying to open",
    ),
    case(
        DEBUGFS,
        &["-R", "dx_hash -c -e utf8 name", "{img}"],
        0,
        "ext2 has no casefold",
    ),
    // mount-union: 1 usage, 2 system error, 32 mount failure.
    case(MOUNT, &[], 1, "a source and a target are needed"),
    case(MOUNT, &["a", "b", "c"], 1, "unexpected argument 'c'"),
    case(
        MOUNT,
        &["--engine", "bogus", "{img}", "{dir}"],
        1,
        "possible values: auto, native, fuse",
    ),
    case(
        MOUNT,
        &["-o", "offset=abc", "{img}", "{dir}"],
        1,
        "bad offset 'abc'",
    ),
    case(
        MOUNT,
        &["-t", "ext2", "{missing}", "{dir}"],
        32,
        "No such file or directory",
    ),
    case(
        MOUNT,
        &["{img}", "{missing}"],
        32,
        "does not exist or is not a directory",
    ),
];

#[test]
fn every_bad_command_line_is_named_and_exits_right() {
    assert!(CASES.len() >= 50, "{} cases", CASES.len());
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("u.img");
    let out = run(Command::new(our_bin(MKFS))
        .args(["-q", "-F", "-O", "whiteout"])
        .arg(&img)
        .arg("8M"));
    assert!(out.status.success(), "{}", text(&out));
    let empty = t.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    let dir = t.path().join("dir");
    std::fs::create_dir(&dir).unwrap();
    let missing = t.path().join("missing");
    let mut failures = Vec::new();
    for (i, c) in CASES.iter().enumerate() {
        let new = t.path().join(format!("new-{i}.img"));
        let sub = |a: &str| -> String {
            a.replace("{img}", &s(&img))
                .replace("{empty}", &s(&empty))
                .replace("{new}", &s(&new))
                .replace("{missing}", &s(&missing))
                .replace("{dir}", &s(&dir))
        };
        let args: Vec<String> = c.args.iter().map(|a| sub(a)).collect();
        let out = run(Command::new(our_bin(c.tool))
            .args(&args)
            .stdin(std::process::Stdio::null()));
        let all = text(&out);
        let code = out.status.code().unwrap_or(-1);
        if code != c.exit || !all.contains(c.says) || all.contains("panicked") {
            failures.push(format!(
                "{} {:?}: exit {code} (want {}), output:\n{all}\n(want {:?})",
                c.tool, args, c.exit, c.says
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// A reader that stops early (`| head`, `| grep -q`) must not make a tool
/// panic or stop halfway: what it was doing still completes.
#[test]
fn closed_stdout_never_panics() {
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("p.img");
    let mut cmds: Vec<String> = [
        "mke2fs-union",
        "e2fsck-union",
        "debugfs-union",
        "mount-union",
    ]
    .iter()
    .map(|tool| format!("{} --version", our_bin(tool).display()))
    .collect();
    cmds.push(format!(
        "{} -F -O whiteout {} 8M",
        our_bin(MKFS).display(),
        img.display()
    ));
    cmds.push(format!(
        "{} -R 'ls -l /' {}",
        our_bin(DEBUGFS).display(),
        img.display()
    ));
    for c in cmds {
        let out = run(Command::new("bash").arg("-c").arg(format!(
            "set -o pipefail; {c} | head -c 1 >/dev/null; echo status=${{PIPESTATUS[0]}}"
        )));
        let all = text(&out);
        assert!(!all.contains("panicked"), "{c}:\n{all}");
        assert!(all.contains("status=0"), "{c}:\n{all}");
    }
    // The mke2fs run above finished its filesystem.
    let out = run(Command::new(our_bin(FSCK)).arg("-fn").arg(&img));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
