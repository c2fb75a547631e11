//! Runs mke2fs-union and the real mke2fs on the same options, UUID, hash
//! seed, time and starting image, and says what differs: exit status,
//! stdout, stderr (our program name and the real version banner aside),
//! the real dumpe2fs of both images, and the image bytes.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::check_pair::first_lines_differing;
use crate::{our_bin, run};

pub const UUID: &str = "11111111-2222-3333-4444-555555555555";
pub const HASH_SEED: &str = "66666666-7777-8888-9999-aaaaaaaaaaaa";
pub const FAKE_TIME: &str = "1700000000";
/// In `Case::args`, stands for an undo file of each tool's own (`-z`).
pub const UNDO_FILE: &str = "@UNDO@";

/// In `Case::args`, stands for the bad blocks list file (`-l`), written
/// from `Case::bad_blocks` for each tool.
pub const BAD_BLOCKS_FILE: &str = "@BADBLOCKS@";

/// One mke2fs invocation to make with both tools.
#[derive(Clone, Debug, Default)]
pub struct Case {
    /// Options after `-F -U UUID` and before the image name; `-E` options
    /// go in `extended` so the hash seed joins them in the one -E.
    pub args: Vec<String>,
    pub extended: Vec<String>,
    /// The size argument, if any.
    pub size: Option<String>,
    /// Bytes the image holds before mke2fs runs (None: no file at all).
    pub initial: Option<Vec<u8>>,
    /// mke2fs.conf text (MKE2FS_CONFIG); None: the built-in one of a
    /// config path that does not exist.
    pub config: Option<String>,
    pub env: Vec<(String, String)>,
    /// The text of the `-l` list file.
    pub bad_blocks: Option<String>,
}

/// What one tool did.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub dumpe2fs: String,
    /// The image (kept until the next run in the same directory).
    pub image: PathBuf,
}

impl Case {
    pub fn new(args: &[&str], size: Option<&str>) -> Self {
        Case {
            args: args.iter().map(|s| s.to_string()).collect(),
            size: size.map(str::to_string),
            initial: Some(Vec::new()),
            ..Default::default()
        }
    }

    pub fn config(mut self, text: &str) -> Self {
        self.config = Some(text.to_string());
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    pub fn extended(mut self, opt: &str) -> Self {
        self.extended.push(opt.into());
        self
    }

    pub fn initial(mut self, bytes: Option<Vec<u8>>) -> Self {
        self.initial = bytes;
        self
    }

    /// The command line, for messages.
    pub fn describe(&self) -> String {
        let list = self
            .bad_blocks
            .as_ref()
            .map(|l| format!(" (bad blocks list {l:?})"))
            .unwrap_or_default();
        // The environment and mke2fs.conf too: a failure must be
        // reproducible from its message.
        let env: String = self.env.iter().map(|(k, v)| format!(" {k}={v}")).collect();
        let conf = self
            .config
            .as_ref()
            .map(|c| format!("\nmke2fs.conf:\n{c}"))
            .unwrap_or_default();
        format!(
            "{} -E {} {}{list}{}{conf}",
            self.args.join(" "),
            self.extended.join(","),
            self.size.as_deref().unwrap_or(""),
            if env.is_empty() {
                String::new()
            } else {
                format!(" (env:{env})")
            }
        )
    }

    fn run_one(&self, dir: &Path, tool: &Path, name: &str) -> Outcome {
        let img: PathBuf = dir.join(format!("{name}.img"));
        let _ = std::fs::remove_file(&img);
        if let Some(b) = &self.initial {
            std::fs::write(&img, b).expect("write starting image");
        }
        let conf = dir.join(format!("{name}.conf"));
        match &self.config {
            Some(t) => std::fs::write(&conf, t).expect("write mke2fs.conf"),
            None => {
                let _ = std::fs::remove_file(&conf);
            }
        }
        let undo = dir.join(format!("{name}.undo"));
        let _ = std::fs::remove_file(&undo);
        let bad = dir.join(format!("{name}.bad"));
        if let Some(list) = &self.bad_blocks {
            std::fs::write(&bad, list).expect("write bad blocks list");
        }
        let mut ext = vec![format!("hash_seed={HASH_SEED}")];
        ext.extend(self.extended.iter().cloned());
        let mut cmd = Command::new(tool);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LC_ALL", "C")
            .env("TZ", "GMT0")
            .env("E2FSPROGS_FAKE_TIME", FAKE_TIME)
            .env("MKE2FS_CONFIG", &conf)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .args(["-F", "-U", UUID])
            .args(self.args.iter().map(|a| {
                if a == UNDO_FILE {
                    undo.as_os_str().to_owned()
                } else if a == BAD_BLOCKS_FILE {
                    bad.as_os_str().to_owned()
                } else {
                    a.into()
                }
            }))
            .arg("-E")
            .arg(ext.join(","))
            .arg(&img);
        if let Some(s) = &self.size {
            cmd.arg(s);
        }
        let out = run(&mut cmd);
        let prog = tool.file_name().unwrap().to_string_lossy().into_owned();
        let paths = |l: &str| {
            l.replace(&undo.display().to_string(), "UNDO")
                .replace(&conf.display().to_string(), "MKE2FS_CONFIG")
                .replace(&bad.display().to_string(), "BADBLOCKS")
                .replace(&img.display().to_string(), "IMAGE")
        };
        // Up to the usage text, whose option list is each tool's own.
        let stderr = String::from_utf8_lossy(&out.stderr)
            .lines()
            .take_while(|l| !l.starts_with("Usage: "))
            .filter(|l| !l.starts_with("mke2fs 1."))
            .map(|l| l.replace(&format!("{prog}:"), "mke2fs:"))
            .map(|l| paths(&l))
            .map(|l| format!("{l}\n"))
            .collect();
        let stdout = drop_timed_counts(&paths(&String::from_utf8_lossy(&out.stdout)));
        // dumpe2fs finds a filesystem past an offset by unix_io's option.
        let mut target = img.clone().into_os_string();
        if let Some(off) = self.extended.iter().find_map(|e| e.strip_prefix("offset=")) {
            target.push(format!("?offset={off}"));
        }
        let dumpe2fs = if img.exists() {
            let d = run(Command::new("dumpe2fs").env("TZ", "GMT0").arg(&target));
            String::from_utf8_lossy(&d.stdout).into_owned()
                + &String::from_utf8_lossy(&d.stderr)
                    .lines()
                    .filter(|l| !l.starts_with("dumpe2fs 1."))
                    .map(|l| l.replace(&img.display().to_string(), "IMAGE"))
                    .collect::<Vec<_>>()
                    .join("\n")
        } else {
            String::new()
        };
        Outcome {
            code: out.status.code().unwrap_or(-1),
            stdout,
            stderr,
            dumpe2fs,
            image: img,
        }
    }

    /// The real mke2fs alone: the image `dir/NAME.img` it made, or None
    /// where it refused the options.
    pub fn real_image(&self, dir: &Path, name: &str) -> Option<PathBuf> {
        let out = self.run_one(dir, Path::new("/usr/sbin/mke2fs"), name);
        (out.code == 0).then_some(out.image)
    }

    /// Runs both tools; returns (ours, real).
    pub fn run_both(&self, dir: &Path) -> (Outcome, Outcome) {
        let ours = self.run_one(dir, &our_bin("mke2fs-union"), "ours");
        let real = self.run_one(dir, Path::new("/usr/sbin/mke2fs"), "real");
        (ours, real)
    }

    /// Every difference between the two runs, worded for a failure
    /// message; empty when they agree (images compared byte for byte
    /// only when `bytes`).
    pub fn differences(&self, dir: &Path, bytes: bool) -> Vec<String> {
        let (o, r) = self.run_both(dir);
        let mut d = Vec::new();
        if o.code != r.code {
            d.push(format!("exit status: ours {} real {}", o.code, r.code));
        }
        for (what, a, b) in [
            ("stdout", &o.stdout, &r.stdout),
            ("stderr", &o.stderr, &r.stderr),
            ("dumpe2fs", &o.dumpe2fs, &r.dumpe2fs),
        ] {
            if a != b {
                d.push(format!("{what} differs:\n{}", first_lines_differing(a, b)));
            }
        }
        if bytes && d.is_empty() {
            if let Some(at) = first_byte_differing(&o.image, &r.image) {
                // After a run both ended in the same error, which one.
                let failed = match (o.code, r.stderr.lines().rfind(|l| !l.trim().is_empty())) {
                    (0, _) | (_, None) => String::new(),
                    (_, Some(last)) => format!(" (both failed: {last})"),
                };
                d.push(format!("images differ from byte {at}{failed}"));
            }
        }
        d
    }

    /// Panics with the differences unless both tools agree.
    pub fn assert_same(&self, bytes: bool) {
        let dir = tempfile::tempdir().unwrap();
        let d = self.differences(dir.path(), bytes);
        assert!(
            d.is_empty(),
            "mke2fs {}:\n{}",
            self.describe(),
            d.join("\n")
        );
    }
}

/// `text` without the progress counts that follow another count: after
/// the first, mke2fs shows a count only when the clock's second changes,
/// so how many appear depends on how long each tool ran. A count is
/// "N/M" then backspaces; a later one starts right after those
/// backspaces, while the first follows its label.
pub fn drop_timed_counts(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if out.ends_with('\u{8}') {
            if let Some(len) = count_len(rest) {
                rest = &rest[len..];
                continue;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The length of a "  N/M" count and its backspaces at the start of `s`.
fn count_len(s: &str) -> Option<usize> {
    let number = |t: &str| {
        t.len()
            - t.trim_start_matches(|c: char| c == ' ' || c.is_ascii_digit())
                .len()
    };
    let a = number(s);
    let after = s[a..].strip_prefix('/')?;
    let b = number(after);
    let back = after[b..].len() - after[b..].trim_start_matches('\u{8}').len();
    (a > 0 && b > 0 && back > 0).then_some(a + 1 + b + back)
}

/// Where two files first differ (a missing file reads as empty), read in
/// 1 MiB pieces so big sparse images need no memory to speak of.
pub fn first_byte_differing(a: &Path, b: &Path) -> Option<u64> {
    use std::io::Read;
    let open = |p: &Path| -> Box<dyn Read> {
        match std::fs::File::open(p) {
            Ok(f) => Box::new(f),
            Err(_) => Box::new(std::io::empty()),
        }
    };
    let (mut fa, mut fb) = (open(a), open(b));
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    let mut at = 0u64;
    loop {
        let na = read_full(&mut fa, &mut ba);
        let nb = read_full(&mut fb, &mut bb);
        if let Some(i) = ba[..na.min(nb)]
            .iter()
            .zip(&bb[..na.min(nb)])
            .position(|(x, y)| x != y)
        {
            return Some(at + i as u64);
        }
        if na != nb {
            return Some(at + na.min(nb) as u64);
        }
        if na == 0 {
            return None;
        }
        at += na as u64;
    }
}

fn read_full(r: &mut dyn std::io::Read, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::drop_timed_counts;

    #[test]
    fn later_counts_go_and_the_first_and_the_blanks_stay() {
        let b7 = "\u{8}".repeat(7);
        let first = format!("Writing inode tables:   0/372{b7}");
        let end = format!("       {b7}done\n");
        let with_more = format!("{first}255/372{b7}{end}");
        assert_eq!(drop_timed_counts(&with_more), format!("{first}{end}"));
        assert_eq!(
            drop_timed_counts(&format!("{first}{end}")),
            format!("{first}{end}")
        );
    }
}
