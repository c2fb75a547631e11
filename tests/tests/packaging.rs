//! Shipping like e2fsprogs: `make install` into a scratch DESTDIR, then the
//! installed tools through util-linux's mkfs(8) and fsck(8), the man pages
//! (no groff warnings), the completion scripts, `--version`; and the Debian
//! package built with packaging/build-deb.sh and installed with dpkg into a
//! scratch root.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use integration_tests::*;

const TOOLS: [&str; 4] = [
    "mke2fs-union",
    "e2fsck-union",
    "debugfs-union",
    "mount-union",
];
/// The names util-linux's mkfs -t / fsck -t look for, and the tool behind each.
const LINKS: [(&str, &str); 2] = [
    ("mkfs.ext2-union", "mke2fs-union"),
    ("fsck.ext2-union", "e2fsck-union"),
];
const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The unmount helper umount(8) runs for the FUSE engine's mounts.
const UMOUNT_HELPER: &str = "umount.fuse.union-ext2";

/// Where `cargo build --workspace` left our tools (debug or release).
fn built_dir() -> PathBuf {
    our_bin("mke2fs-union")
        .parent()
        .expect("a binary lives in a directory")
        .to_path_buf()
}

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {:?}\n{}",
        out.status,
        text(out)
    );
}

/// `make install DESTDIR=dest PREFIX=/usr` with the tools already built.
fn make_install(dest: &Path, builddir: &Path) {
    let out = run(Command::new("make")
        .current_dir(repo_root())
        .arg("--no-print-directory")
        .arg("install")
        .arg(format!("DESTDIR={}", dest.display()))
        .arg("PREFIX=/usr")
        .arg(format!("BUILT={}", built_dir().display()))
        .arg(format!("BUILDDIR={}", builddir.display())));
    ok(&out, "make install");
}

/// PATH with `sbin` first.
fn path_with(sbin: &Path) -> String {
    format!(
        "{}:{}",
        sbin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Every name answers --version (and -V) with the workspace version.
fn check_versions(sbin: &Path) {
    let names = TOOLS.iter().map(|t| (*t, *t)).chain(LINKS.iter().copied());
    for (name, tool) in names {
        for flag in ["--version", "-V"] {
            let out = run(Command::new(sbin.join(name)).arg(flag));
            ok(&out, &format!("{name} {flag}"));
            let first = String::from_utf8_lossy(&out.stdout)
                .lines()
                .next()
                .unwrap_or_default()
                .to_string();
            assert_eq!(
                first,
                format!("{tool} {VERSION} (union-e2fsprogs)"),
                "{name} {flag}"
            );
        }
    }
}

/// The helper link in `dir` runs mount-union as the helper. An absolute
/// link names the final place, not the staged tree: the built tool is run
/// under the same name instead.
fn check_umount_helper(dir: &Path) {
    let link = dir.join(UMOUNT_HELPER);
    let scratch = tempfile::tempdir().unwrap();
    let exe = if std::fs::read_link(&link).unwrap().is_absolute() {
        let l = scratch.path().join(UMOUNT_HELPER);
        std::os::unix::fs::symlink(built_dir().join("mount-union"), &l).unwrap();
        l
    } else {
        link
    };
    let out = run(Command::new(&exe).arg("--help"));
    ok(&out, &format!("{} --help", exe.display()));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Usage: umount.fuse.union-ext2"),
        "{}",
        text(&out)
    );
}

/// `man --warnings -l` renders each page with nothing on stderr.
fn check_man_pages(man8: &Path, ext: &str) {
    if !have("man") || !have("groff") {
        skip("man-db or groff is not installed: man pages not rendered");
        return;
    }
    let names = TOOLS.iter().chain(LINKS.iter().map(|(l, _)| l));
    for name in names {
        let page = man8.join(format!("{name}{ext}"));
        assert!(page.exists(), "{} is not installed", page.display());
        let out = run(Command::new("man")
            .args(["--warnings", "-E", "UTF-8", "-l"])
            .arg(&page)
            .env("MANWIDTH", "80")
            .env("LC_ALL", "C.UTF-8"));
        ok(&out, &format!("man -l {}", page.display()));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.trim().is_empty(),
            "man --warnings -l {}:\n{stderr}",
            page.display()
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("EXAMPLES"), "{name}: no EXAMPLES section");
    }
}

/// The completion scripts exist for every name; bash sources its scripts
/// and completes mke2fs-union's options; zsh and fish parse theirs.
fn check_completions(bash_dir: &Path, zsh_dir: &Path, fish_dir: &Path) {
    let names: Vec<&str> = TOOLS
        .iter()
        .copied()
        .chain(LINKS.iter().map(|(l, _)| *l))
        .collect();
    for name in &names {
        for f in [
            bash_dir.join(name),
            zsh_dir.join(format!("_{name}")),
            fish_dir.join(format!("{name}.fish")),
        ] {
            let meta = std::fs::metadata(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            assert!(meta.len() > 0, "{} is empty", f.display());
        }
    }
    if have("bash") {
        for name in &names {
            let f = bash_dir.join(name);
            let out = run(Command::new("bash")
                .arg("-c")
                .arg(r#"set -e; source "$1"; complete -p "$2""#)
                .arg("bash")
                .arg(&f)
                .arg(name));
            ok(&out, &format!("bash: source {}", f.display()));
        }
        // Ask the mke2fs-union function for options, as bash would on TAB.
        let out = run(Command::new("bash")
            .arg("-c")
            .arg(
                r#"source "$1"; COMP_WORDS=(mke2fs-union -); COMP_CWORD=1;
                   _mke2fs__union mke2fs-union - mke2fs-union; printf '%s\n' "${COMPREPLY[@]}""#,
            )
            .arg("bash")
            .arg(bash_dir.join("mke2fs-union")));
        ok(&out, "bash completion of mke2fs-union -");
        let words = String::from_utf8_lossy(&out.stdout);
        for opt in ["-O", "-d", "-E", "--version"] {
            assert!(
                words.lines().any(|w| w == opt),
                "bash completes mke2fs-union - without {opt}:\n{words}"
            );
        }
        assert!(!words.contains("generate-completions"));
    } else {
        skip("bash is not installed: bash completions not sourced");
    }
    for (shell, dir, prefix, suffix) in [("zsh", zsh_dir, "_", ""), ("fish", fish_dir, "", ".fish")]
    {
        if !have(shell) {
            skip(&format!(
                "{shell} is not installed: its completions only checked to exist"
            ));
            continue;
        }
        for name in &names {
            let f = dir.join(format!("{prefix}{name}{suffix}"));
            let out = run(Command::new(shell).arg("-n").arg(&f));
            ok(&out, &format!("{shell} -n {}", f.display()));
        }
    }
}

/// util-linux's mkfs -t ext2-union and fsck -t ext2-union find the links
/// in `sbin` (first on PATH) and really make and check a union image.
fn check_mkfs_fsck(sbin: &Path, scratch: &Path) {
    if !have("mkfs") || !have("fsck") {
        skip("util-linux mkfs/fsck are not installed");
        return;
    }
    for dir in ["/sbin", "/sbin/fs.d", "/sbin/fs"] {
        if Path::new(dir).join("mkfs.ext2-union").exists() {
            eprintln!(
                "note: {dir}/mkfs.ext2-union exists (the package is installed); mkfs(8) and \
                 fsck(8) search {dir} before PATH"
            );
        }
    }
    let path = path_with(sbin);
    let img = scratch.join("union.img");
    let out = run(Command::new("mkfs")
        .args(["-t", "ext2-union", "-O", "whiteout"])
        .arg(&img)
        .arg("8M")
        .env("PATH", &path));
    ok(&out, "mkfs -t ext2-union -O whiteout img 8M");
    let feats = run(Command::new(sbin.join("debugfs-union"))
        .args(["-R", "features"])
        .arg(&img));
    assert!(
        String::from_utf8_lossy(&feats.stdout).contains("whiteout"),
        "mkfs -t ext2-union did not make a whiteout image: {}",
        text(&feats)
    );

    // fsck(8) takes the type from fstab, else from blkid (which calls a
    // whiteout image ext4), before -t: a scratch fstab gives the image's
    // type as a user's would (libmount reads LIBMOUNT_FSTAB).
    let fstab = scratch.join("fstab");
    std::fs::write(
        &fstab,
        format!("{} /mnt/union ext2-union defaults 0 2\n", img.display()),
    )
    .unwrap();
    for args in [
        &["-V", "-t", "ext2-union", "-a"][..],
        &["-V", "-C", "-t", "ext2-union", "-a"],
        &["-V", "-t", "ext2-union", "-p", "-f"],
        // how systemd-fsck runs fsck(8)
        &["-V", "-a", "-T", "-l", "-M", "-C0"],
    ] {
        let out = run(Command::new("fsck")
            .args(args)
            .arg(&img)
            .env("PATH", &path)
            .env("LIBMOUNT_FSTAB", &fstab));
        ok(&out, &format!("fsck {args:?} img"));
        let said = text(&out);
        assert!(
            said.contains("fsck.ext2-union"),
            "fsck {args:?} did not run fsck.ext2-union:\n{said}"
        );
    }
    // e2fsck's exit codes come back through fsck(8): 1 when -a fixed
    // something, 0 once clean, 8 when there is no filesystem to check.
    let dbg = run(Command::new(sbin.join("debugfs-union"))
        .args(["-w", "-R", "sif <2> links_count 7"])
        .arg(&img));
    ok(&dbg, "debugfs-union sif");
    let dbg = run(Command::new(sbin.join("debugfs-union"))
        .args(["-w", "-R", "ssv state 2"])
        .arg(&img));
    ok(&dbg, "debugfs-union ssv");
    let fsck_a = |img: &Path| {
        run(Command::new("fsck")
            .args(["-t", "ext2-union", "-a"])
            .arg(img)
            .env("PATH", &path)
            .env("LIBMOUNT_FSTAB", &fstab))
    };
    let out = fsck_a(&img);
    assert_eq!(
        out.status.code(),
        Some(1),
        "fsck -a on a damaged image: {}",
        text(&out)
    );
    assert!(text(&out).contains("FIXED"), "{}", text(&out));
    let out = fsck_a(&img);
    assert_eq!(
        out.status.code(),
        Some(0),
        "fsck -a after the repair: {}",
        text(&out)
    );
    let blank = scratch.join("blank.img");
    std::fs::write(&blank, vec![0u8; 1 << 20]).unwrap();
    std::fs::write(
        &fstab,
        format!(
            "{} /mnt/union ext2-union defaults 0 2\n{} /mnt/blank ext2-union defaults 0 2\n",
            img.display(),
            blank.display()
        ),
    )
    .unwrap();
    let out = fsck_a(&blank);
    assert_eq!(
        out.status.code(),
        Some(8),
        "fsck -a on no filesystem: {}",
        text(&out)
    );

    // What fsck(8) passes ext2 checkers for -C: -C FD (the protocol) and
    // -C -FD (wait for SIGUSR1 while another checker shows progress).
    let progress = scratch.join("progress");
    let out = run(Command::new("sh")
        .arg("-c")
        .arg(r#"exec "$1" -a -f -C3 "$2" 3>"$3""#)
        .arg("sh")
        .arg(sbin.join("fsck.ext2-union"))
        .arg(&img)
        .arg(&progress));
    ok(&out, "fsck.ext2-union -a -f -C3");
    let lines = std::fs::read_to_string(&progress).unwrap();
    assert!(
        lines
            .lines()
            .any(|l| l.starts_with("5 ") && l.ends_with(&img.display().to_string())),
        "no pass 5 progress line on fd 3:\n{lines}"
    );
    let out = run(Command::new(sbin.join("fsck.ext2-union"))
        .args(["-a", "-f", "-C-3"])
        .arg(&img));
    ok(&out, "fsck.ext2-union -a -f -C-3");
}

#[test]
fn make_install_into_a_scratch_prefix() {
    if !have("make") {
        skip("make is not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("root");
    make_install(&dest, &tmp.path().join("build"));
    let usr = dest.join("usr");
    let sbin = usr.join("sbin");
    for name in TOOLS {
        assert!(sbin.join(name).is_file(), "{name} not installed");
    }
    for (link, tool) in LINKS {
        assert_eq!(
            std::fs::read_link(sbin.join(link)).unwrap(),
            Path::new(tool),
            "{link} is not a link to {tool}"
        );
        assert_eq!(
            std::fs::read_link(usr.join(format!("share/man/man8/{link}.8"))).unwrap(),
            Path::new(&format!("{tool}.8")),
        );
    }
    // Where umount(8) looks for it (PREFIX is not searched).
    assert_eq!(
        std::fs::read_link(dest.join("sbin").join(UMOUNT_HELPER)).unwrap(),
        Path::new("/usr/sbin/mount-union")
    );
    check_umount_helper(&dest.join("sbin"));
    check_versions(&sbin);
    check_man_pages(&usr.join("share/man/man8"), ".8");
    check_completions(
        &usr.join("share/bash-completion/completions"),
        &usr.join("share/zsh/site-functions"),
        &usr.join("share/fish/vendor_completions.d"),
    );
    check_mkfs_fsck(&sbin, tmp.path());

    // uninstall leaves nothing but directories
    let out = run(Command::new("make")
        .current_dir(repo_root())
        .args(["--no-print-directory", "uninstall", "PREFIX=/usr"])
        .arg(format!("DESTDIR={}", dest.display())));
    ok(&out, "make uninstall");
    let left: Vec<_> = walkdir::WalkDir::new(&dest)
        .into_iter()
        .flatten()
        .filter(|e| !e.file_type().is_dir())
        .map(|e| e.path().to_path_buf())
        .collect();
    assert!(left.is_empty(), "make uninstall left {left:?}");
}

#[test]
fn debian_package_installs_with_dpkg() {
    if !have("dpkg-deb") || !have("dpkg") || !have("make") {
        skip("dpkg-deb/dpkg (or make) is not installed: no Debian package test");
        return;
    }
    if skip_without_root("installing the .deb with dpkg") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = run(Command::new(repo_root().join("packaging/build-deb.sh"))
        .arg(tmp.path().join("out"))
        .env("BUILT", built_dir())
        .env("BUILDDIR", tmp.path().join("build")));
    ok(&out, "packaging/build-deb.sh");
    let deb = PathBuf::from(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .expect("build-deb.sh prints the .deb")
            .trim(),
    );
    assert!(deb.is_file(), "{} missing", deb.display());
    let info = run(Command::new("dpkg-deb")
        .args(["-f"])
        .arg(&deb)
        .args(["Package", "Version"]));
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.contains("Package: union-e2fsprogs"), "{info}");
    assert!(info.contains(&format!("Version: {VERSION}-1")), "{info}");

    // dpkg -i into a scratch root with its own database (the real one is
    // left alone; CI installs the package for real in .ci/run).
    let root = tmp.path().join("sysroot");
    let admin = root.join("var/lib/dpkg");
    for d in ["info", "updates", "triggers"] {
        std::fs::create_dir_all(admin.join(d)).unwrap();
    }
    std::fs::write(admin.join("status"), "").unwrap();
    let out = run(Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .args([
            "--force-depends",
            "--force-script-chrootless",
            "--log=/dev/null",
            "-i",
        ])
        .arg(&deb));
    ok(&out, "dpkg --root -i");
    let out = run(Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .args(["-s", "union-e2fsprogs"]));
    ok(&out, "dpkg -s");
    assert!(text(&out).contains("Status: install ok installed"));

    let usr = root.join("usr");
    let sbin = usr.join("sbin");
    assert_eq!(
        std::fs::read_link(sbin.join(UMOUNT_HELPER)).unwrap(),
        Path::new("mount-union")
    );
    check_umount_helper(&sbin);
    check_versions(&sbin);
    check_man_pages(&usr.join("share/man/man8"), ".8.gz");
    check_completions(
        &usr.join("share/bash-completion/completions"),
        &usr.join("share/zsh/vendor-completions"),
        &usr.join("share/fish/vendor_completions.d"),
    );
    check_mkfs_fsck(&sbin, tmp.path());

    let out = run(Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .args([
            "--force-script-chrootless",
            "--log=/dev/null",
            "-P",
            "union-e2fsprogs",
        ]));
    ok(&out, "dpkg -P");
    assert!(!sbin.join("mke2fs-union").exists());
}

/// `make alternatives` / `make unalternatives` (the opt-in switch of the
/// system's mkfs.ext2 and fsck.ext2), on a scratch root with a stand-in
/// e2fsprogs: e2fsprogs' names diverted and ours selected, then restored.
#[test]
fn alternatives_switch_and_restore_in_a_scratch_root() {
    if !have("dpkg-divert") || !have("update-alternatives") || !have("make") {
        skip("dpkg-divert/update-alternatives (or make) missing: no alternatives test");
        return;
    }
    if skip_without_root("dpkg-divert and update-alternatives on a scratch root") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    for d in [
        "sbin",
        "usr/share/man/man8",
        "etc/alternatives",
        "var/lib/dpkg/alternatives",
        "var/lib/dpkg/info",
        "var/lib/dpkg/updates",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
    // the stand-in e2fsprogs: /sbin/mke2fs, /sbin/mkfs.ext2 -> mke2fs, ...
    for (tool, link) in [("mke2fs", "mkfs.ext2"), ("e2fsck", "fsck.ext2")] {
        let p = root.join("sbin").join(tool);
        std::fs::write(&p, format!("#!/bin/sh\necho stock {tool}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::symlink(tool, root.join("sbin").join(link)).unwrap();
        std::fs::write(root.join(format!("usr/share/man/man8/{link}.8.gz")), b"").unwrap();
    }
    let out = run(Command::new("make")
        .current_dir(repo_root())
        .args([
            "--no-print-directory",
            "install",
            "PREFIX=/usr",
            "GZIP_MAN=1",
        ])
        .arg(format!("DESTDIR={}", root.display()))
        .arg(format!("BUILT={}", built_dir().display()))
        .arg(format!("BUILDDIR={}", tmp.path().join("build").display())));
    ok(&out, "make install");
    let make_alt = |target: &str| {
        let out = run(Command::new("make")
            .current_dir(repo_root())
            .args(["--no-print-directory", target, "PREFIX=/usr"])
            .arg(format!("ALT_ROOT={}", root.display())));
        ok(&out, &format!("make {target}"));
    };
    make_alt("alternatives");
    for (link, tool) in [("mkfs.ext2", "mke2fs-union"), ("fsck.ext2", "e2fsck-union")] {
        assert_eq!(
            std::fs::read_link(root.join("etc/alternatives").join(link)).unwrap(),
            Path::new("/usr/sbin").join(tool)
        );
        assert_eq!(
            std::fs::read_link(root.join("sbin").join(link)).unwrap(),
            Path::new("/etc/alternatives").join(link)
        );
        assert_eq!(
            std::fs::read_link(root.join(format!("etc/alternatives/{link}.8.gz"))).unwrap(),
            Path::new(&format!("/usr/share/man/man8/{tool}.8.gz"))
        );
        assert!(root.join(format!("sbin/{link}.e2fsprogs")).exists());
    }
    make_alt("unalternatives");
    for (link, tool) in [("mkfs.ext2", "mke2fs"), ("fsck.ext2", "e2fsck")] {
        assert_eq!(
            std::fs::read_link(root.join("sbin").join(link)).unwrap(),
            Path::new(tool),
            "{link} not restored"
        );
        assert!(!root.join(format!("sbin/{link}.e2fsprogs")).exists());
        assert!(root
            .join(format!("usr/share/man/man8/{link}.8.gz"))
            .exists());
    }
}

/// Every option of every tool (taken from its clap definition, through the
/// fish completion script) appears in its man page, short and long forms.
#[test]
fn man_pages_document_every_option() {
    for tool in TOOLS {
        let out = run(Command::new(our_bin(tool)).args(["--generate-completions", "fish"]));
        ok(&out, &format!("{tool} --generate-completions fish"));
        let script = String::from_utf8_lossy(&out.stdout);
        let page = std::fs::read_to_string(repo_root().join("man").join(format!("{tool}.8")))
            .unwrap()
            .replace("\\-", "-")
            .replace("\\fB", "")
            .replace("\\fR", "")
            .replace("\\fI", "");
        let mut missing = Vec::new();
        for line in script.lines().filter(|l| l.starts_with("complete -c ")) {
            let words: Vec<&str> = line.split_whitespace().collect();
            for pair in words.windows(2) {
                let flag = match pair[0] {
                    "-s" => format!("-{}", pair[1]),
                    "-l" => format!("--{}", pair[1]),
                    _ => continue,
                };
                if flag == "-h" || flag == "--help" {
                    continue;
                }
                let documented = page.match_indices(&flag).any(|(i, _)| {
                    let after = page[i + flag.len()..].chars().next();
                    let before = page[..i].chars().next_back();
                    !matches!(after, Some(c) if c.is_ascii_alphanumeric() || c == '-')
                        && !matches!(before, Some(c) if c.is_ascii_alphanumeric() || c == '-')
                });
                if !documented {
                    missing.push(flag);
                }
            }
        }
        assert!(
            missing.is_empty(),
            "man/{tool}.8 does not document {missing:?}"
        );
    }
}
