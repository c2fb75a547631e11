//! Images nobody wrote by hand, for the e2fsck and debugfs differentials:
//! the real mke2fs with a random option set, then (sometimes) the
//! kernel's ext2 driver writing a random tree into it; genext2fs and
//! busybox mke2fs images. Every step is logged in `Input::how`, so a
//! difference comes with its reproducer.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::mkfs_draw::draw_basic;
use crate::{run, Lcg};

/// Where an image came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Mke2fs,
    Kernel,
    Genext2fs,
    Busybox,
}

/// An image and the steps that made it.
pub struct Input {
    pub image: PathBuf,
    pub origin: Origin,
    pub how: Vec<String>,
}

/// The tools the inputs need beyond e2fsprogs: what is missing, if any.
pub fn missing_makers() -> Vec<&'static str> {
    let mut m = Vec::new();
    if Command::new("genext2fs").arg("-V").output().is_err() {
        m.push("genext2fs");
    }
    if Command::new("busybox").arg("true").output().is_err() {
        m.push("busybox");
    }
    m
}

/// Where `make` puts its image in `dir`.
pub fn image_path(dir: &Path) -> PathBuf {
    dir.join("input.img")
}

/// One input in `dir` (its image `image_path(dir)`); `kernel` says whether
/// loop mounts may be used (root).
pub fn make(r: &mut Lcg, dir: &Path, kernel: bool) -> Input {
    let img = image_path(dir);
    let _ = std::fs::remove_file(&img);
    let origin = match r.below(10) {
        0..=4 => Origin::Mke2fs,
        5..=6 if kernel => Origin::Kernel,
        5..=7 => Origin::Genext2fs,
        _ => Origin::Busybox,
    };
    let mut input = Input {
        image: img.clone(),
        origin,
        how: Vec::new(),
    };
    match origin {
        Origin::Mke2fs | Origin::Kernel => {
            // The option draw of the mke2fs differential, kept small.
            loop {
                let mut case = draw_basic(r);
                case.size = Some(format!("{}k", 128 + r.below(16 << 10)));
                if let Some(made) = case.real_image(dir, "input") {
                    debug_assert_eq!(made, img);
                    input.how.push(format!(
                        "E2FSPROGS_FAKE_TIME=1700000000 mke2fs -F -U {} {} -E hash_seed={},{} input.img {}",
                        crate::mkfs_pair::UUID,
                        case.args.join(" "),
                        crate::mkfs_pair::HASH_SEED,
                        case.extended.join(","),
                        case.size.as_deref().unwrap_or("")
                    ));
                    break;
                }
            }
            if origin == Origin::Kernel {
                kernel_write(r, &mut input, dir);
            }
            if r.chance(25) {
                indexed_dir(r, &mut input, dir);
            }
        }
        Origin::Genext2fs => genext2fs(r, &mut input, dir),
        Origin::Busybox => {
            busybox(r, &mut input);
            if kernel && r.chance(50) {
                kernel_write(r, &mut input, dir);
            }
        }
    }
    input
}

/// genext2fs over a random host tree (no UUID, its own allocation).
fn genext2fs(r: &mut Lcg, input: &mut Input, dir: &Path) {
    let tree = dir.join("tree");
    let _ = std::fs::remove_dir_all(&tree);
    std::fs::create_dir(&tree).expect("tree directory");
    let log = write_tree(r, &tree, 2 << 20);
    let bytes: u64 = walkdir::WalkDir::new(&tree)
        .into_iter()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    let bs = *r.pick(&[&1024u64, &2048, &4096]);
    let blocks = 2 * bytes / bs + 300 + r.below(2000);
    let mut args = vec![
        "-B".to_string(),
        bs.to_string(),
        "-b".into(),
        blocks.to_string(),
    ];
    if r.chance(30) {
        args.extend(["-N".into(), (64 + r.below(2000)).to_string()]);
    } else if r.chance(30) {
        args.extend(["-i".into(), (1024u64 << r.below(5)).to_string()]);
    }
    if r.chance(40) {
        // Device nodes (genext2fs' own encoding of their numbers).
        let table = dir.join("devtable");
        std::fs::write(&table, DEVTABLE).expect("device table");
        args.extend(["-D".into(), table.display().to_string()]);
    }
    if r.chance(30) {
        args.extend(["-m".into(), r.below(10).to_string()]);
    }
    if r.chance(30) {
        args.push("-z".into());
    }
    if r.chance(20) {
        args.push("-f".into());
    }
    let out = run(Command::new("genext2fs")
        .args(&args)
        .arg("-d")
        .arg(&tree)
        .arg(&input.image));
    input.how.push(format!(
        "tree: {}; genext2fs {} -d tree input.img",
        log.join("; "),
        args.join(" ")
    ));
    assert!(
        out.status.success(),
        "genext2fs {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// genext2fs' device table (-D): a directory, char and block devices
/// (one a run of four), a fifo.
const DEVTABLE: &str = "/dev d 755 0 0 - - - - -\n\
/dev/null c 666 0 0 1 3 - - -\n\
/dev/tty c 666 0 5 5 0 - - -\n\
/dev/hda b 640 0 6 3 0 0 1 4\n\
/dev/big c 600 0 0 300 70000 - - -\n\
/dev/initctl p 600 0 0 - - - - -\n";

/// A directory big enough for the real e2fsck -D to index, when the
/// image has dir_index: debugfs links one file under many long names,
/// then `e2fsck -fyD` (which also sets the link count right) builds
/// the htree.
fn indexed_dir(r: &mut Lcg, input: &mut Input, dir: &Path) {
    let mut sb = [0u8; 1024];
    let has_index = std::fs::File::open(&input.image)
        .and_then(|f| std::os::unix::fs::FileExt::read_exact_at(&f, &mut sb, 1024))
        .is_ok()
        && sb[92] & 0x20 != 0;
    if !has_index {
        return;
    }
    let n = 60 + r.below(300);
    let pad = 20 + r.below(40) as usize;
    // debugfs' link does not grow a directory: room for all first.
    let room = n * (pad as u64 + 12) / 1024 + 1;
    let mut cmds = String::from("mkdir /big\n");
    cmds.push_str(&"expand_dir /big\n".repeat(room as usize));
    cmds.push_str("write /dev/null /big/f\n");
    for i in 0..n {
        cmds.push_str(&format!("link /big/f /big/{}{i}\n", "e".repeat(pad)));
    }
    let file = dir.join("cmds");
    std::fs::write(&file, cmds).expect("debugfs commands");
    let _ = run(Command::new("debugfs")
        .arg("-w")
        .arg("-f")
        .arg(&file)
        .arg(&input.image));
    let _ = run(Command::new("/sbin/e2fsck").arg("-fyD").arg(&input.image));
    input.how.push(format!(
        "debugfs -w: mkdir /big; expand_dir /big x{room}; write /dev/null /big/f; link /big/f /big/{{{pad} e's}}N for N in 0..{n}; e2fsck -fyD input.img"
    ));
}

/// busybox mke2fs with a random option set.
fn busybox(r: &mut Lcg, input: &mut Input) {
    let kib = 256 + r.below(16 << 10);
    let mut args: Vec<String> = vec!["mke2fs".into(), "-F".into()];
    if r.chance(50) {
        args.extend(["-b".into(), r.pick(&["1024", "2048", "4096"]).into()]);
    }
    if r.chance(30) {
        args.extend(["-i".into(), (4096u64 << r.below(4)).to_string()]);
    }
    if r.chance(30) {
        args.extend(["-I".into(), r.pick(&["128", "256"]).into()]);
    }
    if r.chance(30) {
        args.extend(["-m".into(), r.below(10).to_string()]);
    }
    if r.chance(20) {
        args.extend(["-L".into(), "bb".into()]);
    }
    std::fs::File::create(&input.image)
        .and_then(|f| f.set_len(kib << 10))
        .expect("image file");
    let out = run(Command::new("busybox")
        .args(&args)
        .arg(&input.image)
        .arg(kib.to_string()));
    input.how.push(format!(
        "truncate -s {kib}k input.img; busybox {} input.img {kib}",
        args.join(" ")
    ));
    assert!(
        out.status.success(),
        "busybox {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Loop-mounts the image with the kernel's ext2 driver, writes a random
/// tree and unmounts; an image the kernel refuses stays as it was.
fn kernel_write(r: &mut Lcg, input: &mut Input, dir: &Path) {
    let mnt = dir.join("mnt");
    std::fs::create_dir_all(&mnt).expect("mount point");
    let m = run(Command::new("mount")
        .args(["-t", "ext2", "-o", "loop"])
        .arg(&input.image)
        .arg(&mnt));
    if !m.status.success() {
        input
            .how
            .push("(the kernel refused to mount it: left as made)".into());
        return;
    }
    let log = write_tree(r, &mnt, 4 << 20);
    let u = run(Command::new("umount").arg(&mnt));
    assert!(
        u.status.success(),
        "umount: {}",
        String::from_utf8_lossy(&u.stderr)
    );
    input.how.push(format!(
        "mount -t ext2 -o loop input.img mnt; in mnt: {}; umount mnt",
        log.join("; ")
    ));
}

/// Writes a random tree under `root` (at most about `budget` bytes of
/// data): directories, files with holes and indirect blocks, hard links,
/// short and long symlinks, fifos, devices, xattrs, then unlinks and
/// renames. Stops at the first error (a full filesystem); returns the
/// steps in shell words.
pub fn write_tree(r: &mut Lcg, root: &Path, budget: u64) -> Vec<String> {
    use std::os::unix::fs::{symlink, FileExt};
    let mut dirs: Vec<PathBuf> = vec![PathBuf::new()];
    let mut files: Vec<PathBuf> = Vec::new();
    let mut log = Vec::new();
    let mut spent = 0u64;
    let n = 1 + r.below(40);
    for i in 0..n {
        let parent = dirs[r.below(dirs.len() as u64) as usize].clone();
        let name = if r.chance(10) {
            // Long names fill directory blocks sooner.
            format!("n{i}-{}", "x".repeat(r.below(200) as usize))
        } else {
            format!("n{i}")
        };
        let rel = parent.join(&name);
        let path = root.join(&rel);
        let shown = rel.display().to_string();
        let done = match r.below(10) {
            0 | 1 => {
                log.push(format!("mkdir {shown}"));
                std::fs::create_dir(&path).map(|_| dirs.push(rel.clone()))
            }
            2..=5 => {
                let size = match r.below(4) {
                    0 => r.below(64),
                    1 => r.below(8192),
                    2 => r.below(80 << 10),
                    _ => r.below(600 << 10),
                }
                .min(budget.saturating_sub(spent));
                spent += size;
                let hole = r.chance(20);
                log.push(format!(
                    "write {size} bytes to {shown}{}",
                    if hole { " after a hole" } else { "" }
                ));
                std::fs::File::create(&path)
                    .and_then(|f| {
                        let data: Vec<u8> = (0..size).map(|k| (k * 7 + i) as u8).collect();
                        let at = if hole { 20 << 10 } else { 0 };
                        f.write_all_at(&data, at)
                    })
                    .map(|_| files.push(rel.clone()))
            }
            6 if !files.is_empty() => {
                let target = files[r.below(files.len() as u64) as usize].clone();
                log.push(format!("ln {} {shown}", target.display()));
                std::fs::hard_link(root.join(&target), &path)
            }
            6 | 7 => {
                let len = if r.chance(50) {
                    1 + r.below(59)
                } else {
                    60 + r.below(300)
                };
                let target = "t".repeat(len as usize);
                log.push(format!("ln -s <{len} chars> {shown}"));
                symlink(target, &path)
            }
            8 => {
                let (kind, extra): (&str, &[&str]) = if r.chance(50) {
                    ("p", &[])
                } else {
                    ("c", &["1", "3"])
                };
                log.push(format!("mknod {shown} {kind} {}", extra.join(" ")));
                let ok = run(Command::new("mknod").arg(&path).arg(kind).args(extra))
                    .status
                    .success();
                if ok {
                    Ok(())
                } else {
                    Err(std::io::Error::other("mknod"))
                }
            }
            _ if !files.is_empty() => {
                let f = files[r.below(files.len() as u64) as usize].clone();
                let len = r.below(300) as usize;
                log.push(format!(
                    "setfattr -n user.k{i} -v <{len} bytes> {}",
                    f.display()
                ));
                // Without ext_attr the kernel refuses: not an error here.
                let _ = rustix::fs::setxattr(
                    root.join(&f),
                    format!("user.k{i}").as_str(),
                    &vec![b'v'; len],
                    rustix::fs::XattrFlags::empty(),
                );
                Ok(())
            }
            _ => Ok(()),
        };
        if done.is_err() {
            log.push("(stopped: the write failed)".into());
            return log;
        }
    }
    // Unlink and rename some files: freed inodes, blocks and entries.
    for _ in 0..r.below(4) {
        if files.is_empty() {
            break;
        }
        let f = files.swap_remove(r.below(files.len() as u64) as usize);
        if r.chance(50) {
            log.push(format!("rm {}", f.display()));
            let _ = std::fs::remove_file(root.join(&f));
        } else {
            let to =
                dirs[r.below(dirs.len() as u64) as usize].join(format!("moved{}", r.below(99)));
            log.push(format!("mv {} {}", f.display(), to.display()));
            let _ = std::fs::rename(root.join(&f), root.join(&to));
        }
    }
    log
}
