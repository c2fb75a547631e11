//! The e2fsck and debugfs differentials: case N of seed S makes an input
//! (`inputs`), damages it (`damage`) and compares our tool with the real
//! one (`check_pair`). Each case draws from its own generator, so one
//! case of a long run is rerun alone by its number. Differences an
//! allow-list explains (each with its reason in docs/compat.md) are
//! counted apart from the unexplained ones.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::check_pair::{debugfs_differences_opened, e2fsck_differences_and_output, Tools};
use crate::debugfs_draw::debugfs_requests;
use crate::{damage, inputs, skip, skip_without_e2fsprogs, skip_without_root, Lcg};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    E2fsck,
    Debugfs,
}

/// Differences docs/compat.md explains: a case whose differences all
/// start with `what` (e.g. "e2fsck -fn"), one of them containing
/// `contains` (the output that shows the cause), on an input whose steps
/// contain `when` ("" for any), or where the real e2fsck -fn printed it
/// (a cause the damage steps cannot name, e.g. a problem asked about).
pub struct Known {
    pub what: &'static str,
    pub contains: &'static str,
    pub when: &'static str,
    /// Not where a difference contains this ("" for no such rule): what
    /// would show another cause.
    pub unless: &'static str,
    /// Why, in a word; docs/compat.md has the whole reason.
    pub reason: &'static str,
}

/// A case of the bounded run's seed that differs for a reason not yet
/// fixed (a bug reported on issue 17, listed in docs/compat.md under
/// "Open differences"): its number and what differs.
pub struct Open {
    pub case: u64,
    pub reason: &'static str,
}

/// What a run found.
#[derive(Default)]
pub struct Summary {
    pub run: u64,
    pub identical: u64,
    pub known: u64,
    /// Listed open cases that still differ.
    pub open: u64,
    /// Listed open cases that no longer differ (to take off the list).
    pub now_identical: Vec<u64>,
    /// One text per unexplained case: its number, steps and differences.
    pub failures: Vec<String>,
}

/// The settings of a run: from the environment (PREFIX_SEED, _CASES,
/// _FROM, _SECONDS) over the defaults given.
pub struct Settings {
    pub seed: u64,
    pub from: u64,
    pub cases: u64,
    pub budget: Duration,
    /// A directory to copy each differing case's input into (as
    /// `case-N.img`, before either tool ran), from PREFIX_KEEP.
    pub keep: Option<std::path::PathBuf>,
}

impl Settings {
    /// The summary line a test prints.
    pub fn report(&self, tool: &str, sum: &Summary) -> String {
        format!(
            "{tool} differential: seed {}, {} cases: {} identical, {} documented differences, \
             {} listed open differences, {} unexplained{}",
            self.seed,
            sum.run,
            sum.identical,
            sum.known,
            sum.open,
            sum.failures.len(),
            if sum.now_identical.is_empty() {
                String::new()
            } else {
                format!(
                    "; listed open cases now identical (take them off the list): {:?}",
                    sum.now_identical
                )
            }
        )
    }

    pub fn from_env(prefix: &str, seed: u64, cases: u64) -> Self {
        let env = |k: &str| {
            std::env::var(format!("{prefix}_{k}"))
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
        };
        Settings {
            seed: env("SEED").unwrap_or(seed),
            from: env("FROM").unwrap_or(1).max(1),
            cases: env("CASES").unwrap_or(cases),
            budget: Duration::from_secs(env("SECONDS").unwrap_or(u64::MAX / 4)),
            keep: std::env::var_os(format!("{prefix}_KEEP")).map(Into::into),
        }
    }
}

/// Case `n`'s own generator.
fn case_rng(seed: u64, n: u64) -> Lcg {
    let mut r = Lcg(seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    r.next_u64();
    r
}

fn explained(known: &[Known], (how, printed): (&str, &str), diffs: &[String]) -> bool {
    known.iter().any(|k| {
        (how.contains(k.when) || printed.contains(k.when))
            && diffs.iter().all(|d| d.starts_with(k.what))
            && diffs.iter().any(|d| d.contains(k.contains))
            && (k.unless.is_empty() || !diffs.iter().any(|d| d.contains(k.unless)))
    })
}

/// Runs cases `from..from+cases` (or until the budget is spent); `open`
/// applies to the seed `open_seed` only.
pub fn run(
    tool: Tool,
    s: &Settings,
    known: &[Known],
    (open_seed, open): (u64, &[Open]),
    kernel: bool,
) -> Summary {
    let dir = tempfile::tempdir().expect("temporary directory");
    let tools = Tools::new(dir.path());
    let start = Instant::now();
    let mut sum = Summary::default();
    for n in s.from..s.from.saturating_add(s.cases) {
        if start.elapsed() >= s.budget {
            break;
        }
        let mut r = case_rng(s.seed, n);
        let (how, printed, diffs) = one_case(tool, &mut r, dir.path(), &tools, kernel);
        sum.run += 1;
        if let (Some(keep), false) = (&s.keep, diffs.is_empty()) {
            keep_input(dir.path(), keep, n);
        }
        let listed = s.seed == open_seed && open.iter().any(|o| o.case == n);
        match diffs {
            d if d.is_empty() && listed => {
                sum.identical += 1;
                sum.now_identical.push(n);
            }
            d if d.is_empty() => sum.identical += 1,
            _ if listed => sum.open += 1,
            d if explained(known, (&how, &printed), &d) => sum.known += 1,
            d => sum.failures.push(format!(
                "case {n} (seed {}):\n  {how}\n{}",
                s.seed,
                d.join("\n")
            )),
        }
    }
    sum
}

/// Copies case `n`'s damaged input into `keep` for a closer look.
fn keep_input(dir: &Path, keep: &Path, n: u64) {
    let to = keep.join(format!("case-{n}.img"));
    let kept =
        std::fs::create_dir_all(keep).and_then(|()| std::fs::copy(inputs::image_path(dir), &to));
    if let Err(e) = kept {
        eprintln!("cannot keep case {n} as {}: {e}", to.display());
    }
}

/// One case: its steps (joined), what the real e2fsck -fn printed (empty
/// for debugfs) and the differences found.
fn one_case(
    tool: Tool,
    r: &mut Lcg,
    dir: &Path,
    tools: &Tools,
    kernel: bool,
) -> (String, String, Vec<String>) {
    let input = inputs::make(r, dir, kernel);
    let mut how = input.how.clone();
    how.extend(damage::damage(r, &input.image));
    how.extend(damage::cut_short(&input.image, &how.join("\n")));
    let work = dir.join("work");
    let (printed, diffs) = match tool {
        Tool::E2fsck => e2fsck_differences_and_output(tools, &input.image, &work),
        Tool::Debugfs => {
            let (opts, reqs) = debugfs_requests(r, &input.image);
            how.push(format!("debugfs options: {opts:?}"));
            let d = debugfs_differences_opened(tools, &input.image, &work, &opts, &reqs);
            (String::new(), d)
        }
    };
    if !diffs.is_empty() {
        how.extend(input_facts(&input.image));
    }
    (how.join("\n  "), printed, diffs)
}

/// What docs/compat.md's explanations depend on that no output shows,
/// read from the damaged input with our library (for `Known::when`).
pub const REPEATED_INDIRECT: &str = "a block map lists an indirect block twice";

fn input_facts(img: &Path) -> Option<String> {
    use ext2fs::block_map::{iterate, Visit};
    let opts = ext2fs::fs::OpenOptions {
        force: true,
        ignore_sb_errors: true,
        ..Default::default()
    };
    let fs = ext2fs::fs::Filesystem::open(img, &opts).ok()?;
    // The inputs are small: every inode of at most a million is looked at.
    let inodes = fs.sb().s_inodes_count.min(1 << 20);
    let block_size = fs.block_size();
    let repeated = (1..=inodes).any(|ino| {
        let Ok(inode) = fs.read_inode(ino) else {
            return false;
        };
        if !fs.has_block_map(&inode) {
            return false;
        }
        let mut map = inode.base.i_block;
        let mut seen_twice = false;
        let _ = iterate(
            &mut map,
            block_size,
            // An unreadable block holds no pointer here: the walk goes on
            // to the pointers after it, as e2fsck's judge of each does.
            |b| {
                Ok(Some(
                    fs.read_block(u64::from(b))
                        .unwrap_or_else(|_| vec![0; block_size as usize]),
                ))
            },
            |p| {
                seen_twice |= p.repeat;
                Visit::Keep
            },
        );
        seen_twice
    });
    repeated.then(|| format!("facts: {REPEATED_INDIRECT}"))
}

/// The bounded test of `tool`: `cases` cases of `seed` (or what the
/// environment's PREFIX_SEED, _CASES, _FROM, _SECONDS ask for); fails on
/// any difference neither `known` nor `open` explains.
pub fn bounded_test(tool: Tool, seed: u64, cases: u64, known: &[Known], open: &[Open]) {
    if skip_without_e2fsprogs() {
        return;
    }
    let missing = inputs::missing_makers();
    if !missing.is_empty() {
        skip(&format!("{} not installed", missing.join(", ")));
        return;
    }
    let kernel = !skip_without_root("the kernel-written inputs");
    let (name, prefix) = match tool {
        Tool::E2fsck => ("e2fsck", "E2FSCK_DIFF"),
        Tool::Debugfs => ("debugfs", "DEBUGFS_DIFF"),
    };
    let s = Settings::from_env(prefix, seed, cases);
    let sum = run(tool, &s, known, (seed, open), kernel);
    eprintln!("{}", s.report(name, &sum));
    assert!(sum.failures.is_empty(), "{}", sum.failures.join("\n\n"));
}
