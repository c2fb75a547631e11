//! Runs e2fsck-union and debugfs-union beside the real e2fsck and debugfs
//! on copies of one image and says what differs. Both tools run under
//! their e2fsprogs names (a link named `e2fsck`/`debugfs` to ours), from
//! a directory of their own, on an image named alike, so messages that
//! name the program or the device compare equal; only the version
//! banners on stderr are dropped.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::{our_bin, run_capped};

/// Seconds before a run counts as hung.
const TIMEOUT: &str = "120";
/// The same for one debugfs request on a differential's small image
/// (the real debugfs can loop forever: dirsearch on a rec_len of 0).
const DEBUGFS_TIMEOUT: &str = "20";

/// Bytes kept of each output stream: a damaged image can make either tool
/// print without end (a cat of a huge sparse file) until the timeout, and
/// the comparison needs only enough to differ.
const OUTPUT_CAP: usize = 4 << 20;

/// A directory holding `e2fsck` and `debugfs` links to our binaries.
pub struct Tools {
    ours: PathBuf,
}

impl Tools {
    pub fn new(dir: &Path) -> Self {
        let ours = dir.join("bin");
        std::fs::create_dir_all(&ours).expect("bin directory");
        for (name, bin) in [("e2fsck", "e2fsck-union"), ("debugfs", "debugfs-union")] {
            let link = ours.join(name);
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(our_bin(bin), &link).expect("link to our binary");
        }
        Tools { ours }
    }

    /// `name` as the program to run and the directory PATH finds it in
    /// first: argv[0] is then the bare name, as when a user types it.
    fn program(&self, ours: bool, name: &'static str) -> Program {
        Program {
            dir: if ours {
                self.ours.clone()
            } else {
                PathBuf::from("/sbin")
            },
            name,
        }
    }
}

struct Program {
    dir: PathBuf,
    name: &'static str,
}

/// What one run did: exit code, stdout, stderr without banners.
#[derive(Debug, PartialEq, Eq)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

fn banner(line: &str) -> bool {
    line.starts_with("e2fsck 1.")
        || line.starts_with("debugfs 1.")
        || line.starts_with("e2fsck-union ")
        || line.starts_with("debugfs-union ")
}

fn run_in(dir: &Path, program: &Program, args: &[&str]) -> Run {
    let timeout = if program.name == "debugfs" {
        DEBUGFS_TIMEOUT
    } else {
        TIMEOUT
    };
    let path = format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", program.dir.display());
    let out: Output = run_capped(
        Command::new("timeout")
            .args(["-s", "KILL", timeout])
            .arg(program.name)
            .args(args)
            .env_clear()
            .env("PATH", path)
            .env("LC_ALL", "C")
            .env("TZ", "GMT0")
            .current_dir(dir),
        OUTPUT_CAP,
    );
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| !banner(l))
            .map(|l| format!("{l}\n"))
            .collect(),
    }
}

/// `work/ours` and `work/real`, each with a fresh copy of `img` as
/// `test.img`.
fn fresh_copies(img: &Path, work: &Path) -> [PathBuf; 2] {
    // The inputs are small; a huge one is a harness bug, not a case.
    let len = std::fs::metadata(img).map(|m| m.len()).unwrap_or(0);
    assert!(len <= 1 << 30, "{} is {len} bytes", img.display());
    ["ours", "real"].map(|side| {
        let d = work.join(side);
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("work directory");
        std::fs::copy(img, d.join("test.img")).expect("copy image");
        d
    })
}

fn compare(what: &str, o: &Run, r: &Run, out: &mut Vec<String>) {
    if o.code != r.code {
        out.push(format!("{what}: exit ours {} real {}", o.code, r.code));
    }
    for (stream, a, b) in [
        ("stdout", &o.stdout, &r.stdout),
        ("stderr", &o.stderr, &r.stderr),
    ] {
        if a != b {
            out.push(format!(
                "{what}: {stream} differs\n{}",
                first_lines_differing(a, b)
            ));
        }
    }
}

/// e2fsck's exit classes: clean, repaired (1-3), left uncorrected (4-7),
/// failed (8 and up, or killed).
fn class(code: i32) -> &'static str {
    match code {
        0 => "clean",
        1..=3 => "repaired",
        4..=7 => "uncorrected",
        _ => "failed",
    }
}

/// e2fsck -fn: identical exit code and output. e2fsck -fy: the same exit
/// class, and the real e2fsck -fn clean after ours wherever it is clean
/// after its own -fy.
pub fn e2fsck_differences(tools: &Tools, img: &Path, work: &Path) -> Vec<String> {
    e2fsck_differences_and_output(tools, img, work).1
}

/// `e2fsck_differences`, with what the real `e2fsck -fn` printed.
pub fn e2fsck_differences_and_output(
    tools: &Tools,
    img: &Path,
    work: &Path,
) -> (String, Vec<String>) {
    let mut d = Vec::new();
    let [o, r] = fresh_copies(img, work);
    let (on, rn) = (
        run_in(&o, &tools.program(true, "e2fsck"), &["-fn", "test.img"]),
        run_in(&r, &tools.program(false, "e2fsck"), &["-fn", "test.img"]),
    );
    compare("e2fsck -fn", &on, &rn, &mut d);
    let (oy, ry) = (
        run_in(&o, &tools.program(true, "e2fsck"), &["-fy", "test.img"]),
        run_in(&r, &tools.program(false, "e2fsck"), &["-fy", "test.img"]),
    );
    // E2FSCK_DIFF_FY_OUTPUT: what -fy printed must be identical too (a
    // stricter run than the criterion, for finding repairs that
    // differ before they change the exit class).
    if std::env::var_os("E2FSCK_DIFF_FY_OUTPUT").is_some() && oy.stdout != ry.stdout {
        d.push(format!(
            "e2fsck -fy: stdout differs\n{}",
            first_lines_differing(&oy.stdout, &ry.stdout)
        ));
    }
    if class(oy.code) != class(ry.code) {
        d.push(format!(
            "e2fsck -fy: exit ours {} ({}) real {} ({})\n  ours said:\n{}",
            oy.code,
            class(oy.code),
            ry.code,
            class(ry.code),
            tail(&format!("{}{}", oy.stdout, oy.stderr), 12)
        ));
    }
    let real = tools.program(false, "e2fsck");
    let after_real = run_in(&r, &real, &["-fn", "test.img"]);
    let after_ours = run_in(&o, &real, &["-fn", "test.img"]);
    if after_real.code == 0 && after_ours.code != 0 {
        d.push(format!(
            "e2fsck -fn (real) after our -fy: exit {}\n{}",
            after_ours.code,
            tail(&after_ours.stdout, 12)
        ));
    }
    (rn.stdout, d)
}

/// Each request run alone with -R (one of several lines with -f) by both
/// debugfs; outputs identical, and files `dump` wrote identical.
pub fn debugfs_differences(
    tools: &Tools,
    img: &Path,
    work: &Path,
    requests: &[String],
) -> Vec<String> {
    debugfs_differences_opened(tools, img, work, &[], requests)
}

/// `debugfs_differences` with both debugfs given the options `opts`
/// before their requests (-c, -s/-b).
pub fn debugfs_differences_opened(
    tools: &Tools,
    img: &Path,
    work: &Path,
    opts: &[String],
    requests: &[String],
) -> Vec<String> {
    let mut d = Vec::new();
    let [o, r] = fresh_copies(img, work);
    for req in requests {
        let _ = std::fs::remove_file(o.join("dumped"));
        let _ = std::fs::remove_file(r.join("dumped"));
        // A request of several lines is a script (-f): requests that
        // depend on each other, as `cd` then `pwd`.
        let mut args: Vec<&str> = opts.iter().map(String::as_str).collect();
        if req.contains('\n') {
            for dir in [&o, &r] {
                std::fs::write(dir.join("script"), format!("{req}\n")).expect("script");
            }
            args.extend(["-f", "script", "test.img"]);
        } else {
            args.extend(["-R", req.as_str(), "test.img"]);
        };
        let ours = run_in(&o, &tools.program(true, "debugfs"), &args);
        let real = run_in(&r, &tools.program(false, "debugfs"), &args);
        let opened = opts.iter().map(|o| format!("{o} ")).collect::<String>();
        compare(&format!("debugfs {opened}-R '{req}'"), &ours, &real, &mut d);
        let (a, b) = (o.join("dumped"), r.join("dumped"));
        let size = |p: &Path| std::fs::metadata(p).ok().map(|m| m.len());
        let (la, lb) = (size(&a), size(&b));
        let differ = match (la, lb) {
            (Some(la), Some(lb)) => {
                let at = crate::mkfs_pair::first_byte_differing(&a, &b);
                // Both killed by the timeout (a dump of a huge sparse
                // file): each wrote what it had time for, and only the
                // part both wrote can be compared.
                if ours.code == -1 && real.code == -1 {
                    at.is_some_and(|at| at < la.min(lb))
                } else {
                    at.is_some()
                }
            }
            (la, lb) => la != lb,
        };
        if differ {
            d.push(format!(
                "debugfs -R '{req}': dumped files differ (ours {la:?} bytes, real {lb:?})"
            ));
        }
    }
    d
}

/// Each request run alone with -w -R by both debugfs on fresh copies of
/// `img`: outputs identical, and the images identical but for the
/// primary superblock's write time (the second each run closed in).
pub fn debugfs_write_differences(
    tools: &Tools,
    img: &Path,
    work: &Path,
    requests: &[String],
) -> Vec<String> {
    /// s_wtime: bytes 48-51 of the superblock at byte 1024.
    const WTIME: std::ops::Range<usize> = 1072..1076;
    let mut d = Vec::new();
    for req in requests {
        let [o, r] = fresh_copies(img, work);
        let args = ["-w", "-R", req.as_str(), "test.img"];
        let ours = run_in(&o, &tools.program(true, "debugfs"), &args);
        let real = run_in(&r, &tools.program(false, "debugfs"), &args);
        let what = format!("debugfs -w -R '{req}'");
        compare(&what, &ours, &real, &mut d);
        let [mut a, mut b] =
            [&o, &r].map(|dir| std::fs::read(dir.join("test.img")).expect("image"));
        for img in [&mut a, &mut b] {
            if let Some(w) = img.get_mut(WTIME) {
                w.fill(0);
            }
        }
        if let Some(at) = a.iter().zip(&b).position(|(x, y)| x != y) {
            d.push(format!(
                "{what}: images differ first at byte {at} (ours {:#04x}, real {:#04x})",
                a[at], b[at]
            ));
        } else if a.len() != b.len() {
            d.push(format!("{what}: image sizes differ"));
        }
    }
    d
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| format!("    {l}\n"))
        .collect()
}

/// The first few lines where two outputs differ.
pub fn first_lines_differing(a: &str, b: &str) -> String {
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let mut out = Vec::new();
    for (x, y) in differing_lines(&la, &lb) {
        out.push(format!("  ours: {x:?}\n  real: {y:?}"));
        if out.len() >= 6 {
            break;
        }
    }
    out.join("\n")
}

/// The lines that differ, aligned on the longest common subsequence (a
/// line one side has more does not shift every line after it): each
/// run of changed lines paired up, ours with real, None where one side
/// has fewer. Outputs too long to align are compared line by line.
fn differing_lines<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<(Option<&'a str>, Option<&'a str>)> {
    let pre = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[pre..], &b[pre..]);
    let suf = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (a, b) = (&a[..a.len() - suf], &b[..b.len() - suf]);
    if a.len().saturating_mul(b.len()) > 4_000_000 {
        return (0..a.len().max(b.len()))
            .map(|i| (a.get(i).copied(), b.get(i).copied()))
            .filter(|(x, y)| x != y)
            .collect();
    }
    // lcs[i][j]: the common subsequence's length of a[i..] and b[j..].
    let w = b.len() + 1;
    let mut lcs = vec![0u32; (a.len() + 1) * w];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i * w + j] = if a[i] == b[j] {
                lcs[(i + 1) * w + j + 1] + 1
            } else {
                lcs[(i + 1) * w + j].max(lcs[i * w + j + 1])
            };
        }
    }
    let mut out = Vec::new();
    let (mut ours, mut real) = (Vec::new(), Vec::new());
    let flush = |ours: &mut Vec<&'a str>, real: &mut Vec<&'a str>, out: &mut Vec<_>| {
        for k in 0..ours.len().max(real.len()) {
            out.push((ours.get(k).copied(), real.get(k).copied()));
        }
        ours.clear();
        real.clear();
    };
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            flush(&mut ours, &mut real, &mut out);
            i += 1;
            j += 1;
        } else if j == b.len() || (i < a.len() && lcs[(i + 1) * w + j] >= lcs[i * w + j + 1]) {
            ours.push(a[i]);
            i += 1;
        } else {
            real.push(b[j]);
            j += 1;
        }
    }
    flush(&mut ours, &mut real, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::first_lines_differing;

    #[test]
    fn a_line_more_on_one_side_is_the_only_difference() {
        let ours = "a\nb\nc\nd\n";
        let real = "a\nb\nX\nY\nc\nd\n";
        assert_eq!(
            first_lines_differing(ours, real),
            "  ours: None\n  real: Some(\"X\")\n  ours: None\n  real: Some(\"Y\")"
        );
        assert_eq!(
            first_lines_differing("a\nb\n", "a\nc\n"),
            "  ours: Some(\"b\")\n  real: Some(\"c\")"
        );
        assert_eq!(first_lines_differing("a\n", "a\n"), "");
    }
}
