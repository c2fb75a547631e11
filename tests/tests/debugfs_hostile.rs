//! debugfs-union on hostile images: rdump, dump -p and export_overlay
//! write only beneath the destination whatever the directory entries say
//! (absolute names, "..", names with '/', a symlink entry followed by a
//! regular file of the same name, host symlinks planted in the
//! destination), drop set-id bits like debugfs, copy security.* and
//! trusted.* only with -x; the interactive history file is never written
//! through a symlink. The images are our own, with name bytes edited.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use integration_tests::*;

fn ours(img: &Path, req: &str) -> Output {
    run(Command::new(our_bin("debugfs-union"))
        .arg("-R")
        .arg(req)
        .arg(img))
}

/// An image of `src` made by our mke2fs (it writes entries in name order).
fn image_of(src: &Path, img: &Path) {
    let o = run(Command::new(our_bin("mke2fs-union"))
        .args(["-q", "-F", "-t", "ext2", "-d"])
        .arg(src)
        .arg(img)
        .arg("4M"));
    assert!(o.status.success(), "{}", text(&o));
}

/// Replaces the one occurrence of `from` in the image by `to` (same
/// length, so every directory entry stays well formed).
fn rename_entry(img: &Path, from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let mut bytes = std::fs::read(img).unwrap();
    let hits: Vec<usize> = bytes
        .windows(from.len())
        .enumerate()
        .filter(|(_, w)| *w == from)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "{:?} in the image",
        String::from_utf8_lossy(from)
    );
    bytes[hits[0]..hits[0] + to.len()].copy_from_slice(to);
    std::fs::write(img, bytes).unwrap();
}

/// A placeholder name as long as `target`, unique in the image.
fn placeholder(tag: &str, target: &[u8]) -> String {
    assert!(target.len() > tag.len() + 1);
    format!("{tag}{}", "q".repeat(target.len() - tag.len()))
}

/// Every path below `dir` except the `skip` subtrees, with its type,
/// mode, size and content: what a run must leave as it was.
fn snapshot(dir: &Path, skip: &[&Path]) -> BTreeMap<PathBuf, (u32, u64, Vec<u8>)> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_entry(|e| !skip.contains(&e.path()))
    {
        let e = e.unwrap();
        let md = e.path().symlink_metadata().unwrap();
        let content = if md.is_file() {
            std::fs::read(e.path()).unwrap()
        } else if md.file_type().is_symlink() {
            std::fs::read_link(e.path())
                .unwrap()
                .into_os_string()
                .into_encoded_bytes()
        } else {
            Vec::new()
        };
        let size = if md.is_dir() { 0 } else { md.len() };
        out.insert(e.path().to_path_buf(), (md.mode(), size, content));
    }
    out
}

/// A hostile image: an absolute name, a name climbing out with "../", a
/// directory named "..", and a symlink to a file outside followed by a
/// set-uid regular file of the same name.
struct Hostile {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    img: PathBuf,
    victim: PathBuf,
}

fn hostile_image() -> Hostile {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let outside = root.join("outside");
    std::fs::create_dir(&outside).unwrap();
    let victim = outside.join("victim");
    std::fs::write(&victim, "secret\n").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();

    let src = root.join("src");
    std::fs::create_dir_all(src.join("ZQ")).unwrap();
    std::fs::write(src.join("ZQ/dotdot-pwned"), "pwned\n").unwrap();
    let abs = outside
        .join("abs-pwned")
        .into_os_string()
        .into_encoded_bytes();
    let abs_ph = placeholder("absname", &abs);
    std::fs::write(src.join(&abs_ph), "pwned\n").unwrap();
    let up = b"../outside/up-pwned".to_vec();
    let up_ph = placeholder("upname", &up);
    std::fs::write(src.join(&up_ph), "pwned\n").unwrap();
    let climb = b"../outside".to_vec();
    let climb_ph = placeholder("cdir", &climb);
    std::fs::create_dir(src.join(&climb_ph)).unwrap();
    std::fs::write(src.join(&climb_ph).join("in-climbed-dir"), "pwned\n").unwrap();
    std::os::unix::fs::symlink(&victim, src.join("a-link-entry-name")).unwrap();
    std::fs::write(src.join("b-link-entry-name"), "overwritten\n").unwrap();
    std::fs::set_permissions(
        src.join("b-link-entry-name"),
        std::fs::Permissions::from_mode(0o4777),
    )
    .unwrap();

    let img = root.join("hostile.img");
    image_of(&src, &img);
    rename_entry(&img, abs_ph.as_bytes(), &abs);
    rename_entry(&img, up_ph.as_bytes(), &up);
    rename_entry(&img, climb_ph.as_bytes(), &climb);
    rename_entry(&img, b"\x02\x02ZQ", b"\x02\x02..");
    rename_entry(&img, b"b-link-entry-name", b"a-link-entry-name");
    Hostile {
        _tmp: tmp,
        root,
        img,
        victim,
    }
}

fn assert_nothing_written_outside(
    h: &Hostile,
    dest: &Path,
    before: &BTreeMap<PathBuf, (u32, u64, Vec<u8>)>,
    o: &Output,
) {
    let after = snapshot(&h.root, &[dest]);
    assert_eq!(
        &after,
        before,
        "written outside {}: {}",
        dest.display(),
        text(o)
    );
    assert_eq!(std::fs::read(&h.victim).unwrap(), b"secret\n");
    let mode = h.victim.metadata().unwrap().mode() & 0o7777;
    assert_eq!(mode, 0o600, "the victim's mode was changed");
}

#[test]
fn rdump_writes_only_beneath_its_destination() {
    let h = hostile_image();
    let dest = h.root.join("dest");
    std::fs::create_dir(&dest).unwrap();
    let before = snapshot(&h.root, &[&dest]);
    let o = ours(&h.img, &format!("rdump / {}", dest.display()));
    assert_nothing_written_outside(&h, &dest, &before, &o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("rdump: skipping corrupt name \"/"), "{err}");
    assert!(
        err.contains("rdump: skipping corrupt name \"../outside/up-pwned\" in directory inode 2"),
        "{err}"
    );
    assert!(
        err.contains("rdump: skipping corrupt name \"..\" in directory inode 2"),
        "{err}"
    );
    assert!(err.contains("File exists while opening"), "{err}");
    // The symlink entry itself is copied, as a symlink, and never followed.
    let link = dest.join("a-link-entry-name");
    assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read_link(&link).unwrap(), h.victim);
}

#[test]
fn export_overlay_writes_only_beneath_its_destination() {
    let h = hostile_image();
    let dest = h.root.join("upper");
    let before = snapshot(&h.root, &[&dest]);
    let o = ours(&h.img, &format!("export_overlay {}", dest.display()));
    assert_nothing_written_outside(&h, &dest, &before, &o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("export_overlay: skipping corrupt name \"../outside\" in directory inode 2"),
        "{err}"
    );
    assert!(err.contains("File exists"), "{err}");
    assert!(dest
        .join("a-link-entry-name")
        .symlink_metadata()
        .unwrap()
        .file_type()
        .is_symlink());
}

/// A symlink someone planted in the destination, where the image has a
/// directory or a file of that name, is reported and not followed.
#[test]
fn rdump_does_not_follow_symlinks_already_in_the_destination() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let outside = root.join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("victim"), "secret\n").unwrap();
    let src = root.join("src");
    std::fs::create_dir_all(src.join("dir")).unwrap();
    std::fs::write(src.join("dir/inner"), "pwned\n").unwrap();
    std::fs::write(src.join("file"), "pwned\n").unwrap();
    let img = root.join("t.img");
    image_of(&src, &img);
    let dest = root.join("dest");
    std::fs::create_dir(&dest).unwrap();
    std::os::unix::fs::symlink(&outside, dest.join("dir")).unwrap();
    std::os::unix::fs::symlink(outside.join("victim"), dest.join("file")).unwrap();
    let o = ours(&img, &format!("rdump / {}", dest.display()));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "rdump: File exists while making directory {}/dir",
            dest.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "rdump: File exists while opening {}/file",
            dest.display()
        )),
        "{err}"
    );
    assert!(!outside.join("inner").exists(), "{err}");
    assert_eq!(std::fs::read(outside.join("victim")).unwrap(), b"secret\n");
}

/// rdump and dump -p give files their permission bits only, as debugfs'
/// mode_xlate does: set-uid, set-gid and sticky bits are dropped.
#[test]
fn rdump_and_dump_p_drop_set_id_bits() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let src = root.join("src");
    std::fs::create_dir_all(src.join("sgid")).unwrap();
    std::fs::write(src.join("suid"), "x\n").unwrap();
    std::fs::set_permissions(src.join("suid"), std::fs::Permissions::from_mode(0o4755)).unwrap();
    std::fs::set_permissions(src.join("sgid"), std::fs::Permissions::from_mode(0o3775)).unwrap();
    let img = root.join("t.img");
    image_of(&src, &img);
    let dest = root.join("dest");
    std::fs::create_dir(&dest).unwrap();
    let o = ours(&img, &format!("rdump /suid /sgid {}", dest.display()));
    assert!(o.status.success(), "{}", text(&o));
    let mode = |p: &Path| p.metadata().unwrap().mode() & 0o7777;
    assert_eq!(mode(&dest.join("suid")), 0o755, "{}", text(&o));
    assert_eq!(mode(&dest.join("sgid")), 0o775, "{}", text(&o));
    let one = root.join("one");
    let o = ours(&img, &format!("dump -p /suid {}", one.display()));
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(mode(&one), 0o755, "{}", text(&o));
    if have_tool("debugfs") {
        let real = root.join("real");
        run(Command::new("debugfs")
            .arg("-R")
            .arg(format!("dump -p /suid {}", real.display()))
            .arg(&img));
        assert_eq!(mode(&real), mode(&one), "the real debugfs' dump -p");
    }
}

/// Whether `dir`'s filesystem takes trusted.* attributes from us.
fn host_takes_trusted_xattrs(dir: &Path) -> bool {
    let probe = dir.join("probe");
    std::fs::write(&probe, "").unwrap();
    let ok = rustix::fs::setxattr(
        &probe,
        "trusted.probe",
        b"1",
        rustix::fs::XattrFlags::empty(),
    )
    .is_ok();
    std::fs::remove_file(&probe).unwrap();
    ok
}

#[test]
fn export_overlay_copies_security_and_trusted_xattrs_only_with_x() {
    if skip_without_root("trusted.* attributes on the host") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    if !host_takes_trusted_xattrs(root) {
        skip(&format!(
            "{} does not store trusted.* attributes",
            root.display()
        ));
        return;
    }
    let src = root.join("src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    std::fs::write(src.join("f"), "x\n").unwrap();
    let img = root.join("t.img");
    image_of(&src, &img);
    let script = root.join("s");
    std::fs::write(
        &script,
        "feature whiteout\nea_set /f user.kept yes\nea_set /f trusted.evil yes\nea_set /f security.evil yes\n\
         ea_set /d trusted.overlay.redirect /etc\nopaque /d on\n",
    )
    .unwrap();
    let o = run(Command::new(our_bin("debugfs-union"))
        .arg("-w")
        .arg("-f")
        .arg(&script)
        .arg(&img));
    assert!(o.status.success(), "{}", text(&o));
    let get = |p: &Path, n: &str| {
        let mut buf = [0u8; 64];
        rustix::fs::lgetxattr(p, n, &mut buf)
            .ok()
            .map(|len| buf[..len].to_vec())
    };

    let plain = root.join("plain");
    let o = ours(&img, &format!("export_overlay {}", plain.display()));
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        get(&plain.join("f"), "user.kept"),
        Some(b"yes".to_vec()),
        "{}",
        text(&o)
    );
    assert_eq!(get(&plain.join("f"), "trusted.evil"), None);
    assert_eq!(get(&plain.join("f"), "security.evil"), None);
    assert_eq!(get(&plain.join("d"), "trusted.overlay.redirect"), None);
    // The marker export_overlay makes itself for an opaque directory stays.
    assert_eq!(
        get(&plain.join("d"), "trusted.overlay.opaque"),
        Some(b"y".to_vec())
    );

    let all = root.join("all");
    let o = ours(&img, &format!("export_overlay -x {}", all.display()));
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        get(&all.join("f"), "trusted.evil"),
        Some(b"yes".to_vec()),
        "{}",
        text(&o)
    );
    assert_eq!(
        get(&all.join("d"), "trusted.overlay.redirect"),
        Some(b"/etc".to_vec())
    );
}

/// Runs the interactive mode (no terminal: rustyline reads lines) with
/// `home` as HOME, so it loads and saves `home`'s history file.
fn interactive(home: &Path, input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(our_bin("debugfs-union"))
        .env("HOME", home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// The history file of the interactive mode is never written through a
/// symlink put in its place.
#[test]
fn history_is_not_written_through_a_symlink() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, "secret\n").unwrap();
    let history = home.join(".debugfs_union_history");
    std::os::unix::fs::symlink(&victim, &history).unwrap();
    let o = interactive(&home, b"params\nquit\n");
    assert_eq!(std::fs::read(&victim).unwrap(), b"secret\n", "{}", text(&o));
    assert!(history.symlink_metadata().unwrap().file_type().is_symlink());

    // A regular history file is still kept.
    std::fs::remove_file(&history).unwrap();
    let o = interactive(&home, b"params\nquit\n");
    let saved = std::fs::read_to_string(&history).unwrap_or_default();
    assert!(saved.contains("params"), "{saved:?} {}", text(&o));
}
