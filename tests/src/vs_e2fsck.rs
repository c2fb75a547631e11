//! Ours beside the real e2fsck on copies of one image. Both run as
//! `e2fsck ARGS test.img` in sibling directories, so that messages naming
//! the program or the device compare equal.

use std::os::unix::fs::FileExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use crate::{keys_on_a_terminal, our_bin, run, terminal_text, text};

/// Exit code, stdout and stderr (without the version banner).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `bin` as `e2fsck ARGS test.img` in `dir`, in the C locale and GMT.
pub fn e2fsck_in(dir: &Path, bin: &Path, args: &[&str]) -> Outcome {
    let out = run(Command::new(bin)
        .arg0("e2fsck")
        .args(args)
        .arg("test.img")
        .env("LC_ALL", "C")
        .env("TZ", "GMT0")
        .current_dir(dir));
    let stderr = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| !l.starts_with("e2fsck 1.") && !l.starts_with("e2fsck-union "))
        .map(|l| format!("{l}\n"))
        .collect();
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    }
}

/// Copies `img` to t/ours/test.img and t/real/test.img (kept for
/// inspection) and runs ours and /sbin/e2fsck there with `args`.
pub fn side_by_side(t: &Path, img: &Path, args: &[&str]) -> (Outcome, Outcome) {
    let [ours, real] = ["ours", "real"].map(|side| {
        let dir = t.join(side);
        std::fs::create_dir(&dir).unwrap();
        std::fs::copy(img, dir.join("test.img")).unwrap();
        dir
    });
    (
        e2fsck_in(&ours, &our_bin("e2fsck-union"), args),
        e2fsck_in(&real, Path::new("/sbin/e2fsck"), args),
    )
}

/// Writes `bytes` into the image at `offset` (damage by hand).
pub fn poke(img: &Path, offset: u64, bytes: &[u8]) {
    let f = std::fs::OpenOptions::new().write(true).open(img).unwrap();
    f.write_all_at(bytes, offset).unwrap();
}

/// `len` bytes of the image at `offset`.
pub fn peek(img: &Path, offset: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0; len];
    std::fs::File::open(img)
        .unwrap()
        .read_exact_at(&mut buf, offset)
        .unwrap();
    buf
}

/// How e2fsck's questions end on a terminal.
pub const E2FSCK_PROMPT: &str = "<y>? ";

fn exit_code(out: &std::process::Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// Ours and the real e2fsck -f on copies of `img` (in `t`), answered
/// with `keys` at a terminal: the same screen, the same exit code, and
/// filesystems left alike (the real e2fsck -fn says the same of both).
/// Returns our screen, our exit code and the real e2fsck -fn's exit code
/// on our result.
pub fn answered_alike_at_a_terminal(t: &Path, img: &Path, keys: &[&str]) -> (String, i32, i32) {
    let ours_img = t.join("ours.img");
    let real_img = t.join("real.img");
    std::fs::copy(img, &ours_img).unwrap();
    std::fs::copy(img, &real_img).unwrap();
    let ours = keys_on_a_terminal(
        &format!(
            "{} -f {}",
            our_bin("e2fsck-union").display(),
            ours_img.display()
        ),
        E2FSCK_PROMPT,
        keys,
        t,
    );
    let real = keys_on_a_terminal(
        &format!("e2fsck -f {}", real_img.display()),
        E2FSCK_PROMPT,
        keys,
        t,
    );
    let (o, r) = (terminal_text(&ours), terminal_text(&real));
    let r = r.replace(&*real_img.to_string_lossy(), &ours_img.to_string_lossy());
    assert_eq!(o, r, "{} keys {keys:?}", img.display());
    assert_eq!(exit_code(&ours), exit_code(&real), "keys {keys:?}: {o}");
    let after = |img: &Path| {
        let o = run(Command::new("e2fsck").arg("-fn").arg(img));
        (
            text(&o).replace(&*img.to_string_lossy(), "IMG"),
            exit_code(&o),
        )
    };
    let ours_after = after(&ours_img);
    assert_eq!(ours_after, after(&real_img), "keys {keys:?}");
    (o, exit_code(&ours), ours_after.1)
}

/// Ours and the real e2fsck alike on `img` with each of -fn, -fy and -p
/// (in t/fn, t/fy, t/p); returns the exit codes.
pub fn alike_in_each_mode(t: &Path, img: &Path) -> Vec<i32> {
    ["-fn", "-fy", "-p"]
        .iter()
        .map(|mode| {
            let dir = t.join(mode.trim_start_matches('-'));
            std::fs::create_dir(&dir).unwrap();
            let (ours, real) = side_by_side(&dir, img, &[mode]);
            assert_eq!(ours, real, "ours (left) against e2fsck {mode}");
            ours.code
        })
        .collect()
}

/// Adds /big to `img`, a directory of 200 names (links of one empty
/// file) indexed by the real `e2fsck -fyD`.
pub fn add_indexed_dir(img: &Path) {
    let mut requests = String::from("mkdir big\nwrite /dev/null big/f\n");
    // debugfs' ln does not grow a directory.
    requests.push_str(&"expand_dir big\n".repeat(10));
    for i in 0..200 {
        requests.push_str(&format!("ln big/f big/{}{i}\n", "e".repeat(30)));
    }
    crate::real_debugfs_script(img, &requests);
    // The real e2fsck indexes the directory (and fixes the link count).
    run(Command::new("e2fsck").arg("-fyD").arg(img));
}
