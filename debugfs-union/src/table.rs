//! The request table: every command's names, one-line help and handler,
//! and the dispatcher that runs one request line.

use anyhow::Result;

use crate::session::Session;
use crate::{
    bitmaps, dirs, dump, extra, fields, frag, inodes, super_stats, union, write, xattrs, zap,
};

pub type Handler = fn(&mut Session, &[String]) -> Result<()>;

pub struct Command {
    pub names: &'static [&'static str],
    pub help: &'static str,
    pub run: Handler,
}

macro_rules! cmd {
    ([$($n:literal),+], $help:literal, $f:path) => {
        Command { names: &[$($n),+], help: $help, run: $f }
    };
}

pub static COMMANDS: &[Command] = &[
    cmd!(
        ["show_debugfs_params", "params"],
        "Show debugfs parameters",
        super_stats::params
    ),
    cmd!(
        ["open_filesys", "open"],
        "Open a filesystem",
        super_stats::open
    ),
    cmd!(
        ["close_filesys", "close"],
        "Close the filesystem",
        super_stats::close
    ),
    cmd!(
        ["feature", "features"],
        "Set/print superblock features",
        super_stats::feature
    ),
    cmd!(
        ["dirty_filesys", "dirty"],
        "Mark the filesystem as dirty",
        super_stats::dirty
    ),
    cmd!(
        ["show_super_stats", "stats"],
        "Show superblock statistics",
        super_stats::stats
    ),
    cmd!(
        ["set_super_value", "ssv"],
        "Set superblock value",
        fields::set_super_value
    ),
    cmd!(
        ["set_block_group", "set_bg"],
        "Set block group descriptor field",
        fields::set_bg
    ),
    cmd!(["ncheck"], "Do inode->name translation", dirs::ncheck),
    cmd!(["icheck"], "Do block->inode translation", inodes::icheck),
    cmd!(
        ["change_root_directory", "chroot"],
        "Change root directory",
        dirs::chroot
    ),
    cmd!(
        ["change_working_directory", "cd"],
        "Change working directory",
        dirs::cd
    ),
    cmd!(["list_directory", "ls"], "List directory", dirs::ls),
    cmd!(
        ["show_inode_info", "stat"],
        "Show inode information ",
        inodes::stat
    ),
    cmd!(
        ["dump_inode", "dump"],
        "Dump an inode out to a file",
        dump::dump
    ),
    cmd!(["cat"], "Dump an inode out to stdout", inodes::cat),
    cmd!(
        ["rdump"],
        "Recursively dump a directory to the native filesystem",
        dump::rdump
    ),
    cmd!(["blocks"], "Dump blocks used by an inode ", inodes::blocks),
    cmd!(
        ["bmap"],
        "Calculate the logical->physical block mapping for an inode",
        inodes::bmap
    ),
    cmd!(["imap"], "Calculate the location of an inode", inodes::imap),
    cmd!(
        ["inode_dump", "idump", "id"],
        "Dump the inode structure in hex",
        inodes::idump
    ),
    cmd!(
        ["block_dump", "bdump", "bd"],
        "Dump contents of a block",
        inodes::block_dump
    ),
    cmd!(
        ["list_deleted_inodes", "lsdel"],
        "List deleted inodes",
        inodes::lsdel
    ),
    cmd!(
        ["set_inode_field", "sif"],
        "Set inode field",
        fields::set_inode_field
    ),
    cmd!(
        ["print_working_directory", "pwd"],
        "Print current working directory",
        dirs::pwd
    ),
    cmd!(
        ["dirsearch"],
        "Search a directory for a particular filename",
        dirs::dirsearch
    ),
    cmd!(
        ["htree_dump", "htree"],
        "Dump a hash-indexed directory",
        dirs::htree_dump
    ),
    cmd!(
        ["dx_hash", "hash"],
        "Calculate the directory hash of a filename",
        dirs::dx_hash
    ),
    cmd!(["testb"], "Test a block's in-use flag", bitmaps::testb),
    cmd!(["dump_unused"], "Dump unused blocks", bitmaps::dump_unused),
    cmd!(["freeb"], "Clear a block's in-use flag", bitmaps::freeb),
    cmd!(["setb"], "Set a block's in-use flag", bitmaps::setb),
    cmd!(["testi"], "Test an inode's in-use flag", bitmaps::testi),
    cmd!(["freei"], "Clear an inode's in-use flag", bitmaps::freei),
    cmd!(["seti"], "Set an inode's in-use flag", bitmaps::seti),
    cmd!(
        ["find_free_block", "ffb"],
        "Find free block(s)",
        bitmaps::ffb
    ),
    cmd!(
        ["find_free_inode", "ffi"],
        "Find free inode(s)",
        bitmaps::ffi
    ),
    cmd!(["mkdir"], "Create a directory", write::mkdir),
    cmd!(["rmdir"], "Remove a directory", write::rmdir),
    cmd!(
        ["rm"],
        "Remove a file (unlink and kill_file, if appropriate)",
        write::rm
    ),
    cmd!(["unlink"], "Delete a directory link", write::unlink),
    cmd!(["link", "ln"], "Create directory link", write::link),
    cmd!(["clri"], "Clear an inode's contents", write::clri),
    cmd!(
        ["set_current_time"],
        "Set current time to use when setting filesystem fields",
        super_stats::set_current_time
    ),
    cmd!(
        ["kill_file"],
        "Deallocate an inode and its blocks",
        write::kill_file
    ),
    cmd!(
        ["write"],
        "Copy a file from your native filesystem",
        write::write
    ),
    cmd!(["symlink"], "Create a symbolic link", write::symlink),
    cmd!(["mknod"], "Create a special file", write::mknod),
    cmd!(
        ["copy_inode"],
        "Copy the inode structure",
        write::copy_inode
    ),
    cmd!(
        ["expand_dir", "expand"],
        "Expand directory",
        write::expand_dir
    ),
    cmd!(
        ["punch", "truncate"],
        "Punch (or truncate) blocks from an inode by deallocating them",
        write::punch
    ),
    cmd!(
        ["ea_get"],
        "Get an extended attribute of an inode",
        xattrs::ea_get
    ),
    cmd!(
        ["ea_set"],
        "Set an extended attribute of an inode",
        xattrs::ea_set
    ),
    cmd!(
        ["ea_rm"],
        "Remove an extended attribute of an inode",
        xattrs::ea_rm
    ),
    cmd!(
        ["ea_list"],
        "List extended attributes of an inode",
        xattrs::ea_list
    ),
    cmd!(
        ["freefrag", "e2freefrag"],
        "Report free space fragmentation",
        frag::freefrag
    ),
    cmd!(
        ["init_filesys"],
        "Initialize a filesystem (DESTROYS DATA)",
        zap::init_filesys
    ),
    cmd!(
        ["dump_extents", "extents", "ex"],
        "Dump extents information ",
        extra::dump_extents
    ),
    cmd!(
        ["filefrag"],
        "Report fragmentation information for an inode",
        frag::filefrag
    ),
    cmd!(
        ["modify_inode", "mi"],
        "Modify an inode by structure",
        zap::modify_inode
    ),
    cmd!(["undelete", "undel"], "Undelete file", zap::undelete),
    cmd!(
        ["lcd"],
        "Change the current directory on your native filesystem",
        extra::lcd
    ),
    cmd!(
        ["logdump"],
        "Dump the contents of the journal",
        extra::logdump
    ),
    cmd!(
        ["fallocate"],
        "Allocate uninitialized blocks to an inode",
        zap::fallocate
    ),
    cmd!(
        ["supported_features"],
        "Print features supported by this version of e2fsprogs",
        extra::supported_features
    ),
    cmd!(["dump_mmp"], "Dump MMP information", extra::dump_mmp),
    cmd!(
        ["set_mmp_value", "smmp"],
        "Set MMP value",
        extra::set_mmp_value
    ),
    cmd!(
        ["extent_open", "eo"],
        "Open inode for extent manipulation",
        extra::extent_open
    ),
    cmd!(
        ["zap_block", "zap"],
        "Zap block: fill with 0, pattern, flip bits etc.",
        zap::zap_block
    ),
    cmd!(["list_quota", "lq"], "List quota", extra::list_quota),
    cmd!(["get_quota", "gq"], "Get quota", extra::get_quota),
    cmd!(
        ["journal_open", "jo"],
        "Open the journal",
        extra::journal_open
    ),
    cmd!(
        ["journal_close", "jc"],
        "Close the journal",
        extra::journal_not_open
    ),
    cmd!(
        ["journal_write", "jw"],
        "Write a transaction to the journal",
        extra::journal_not_open
    ),
    cmd!(
        ["journal_run", "jr"],
        "Recover the journal",
        extra::journal_run
    ),
    cmd!(
        ["whiteout"],
        "Create a whiteout entry (union mounts)",
        union::whiteout
    ),
    cmd!(
        ["fallthru"],
        "Create a fallthru entry (union mounts)",
        union::fallthru
    ),
    cmd!(
        ["opaque"],
        "Show, set or clear a directory's opaque flag (union mounts)",
        union::opaque
    ),
    cmd!(
        ["export_overlay"],
        "Write the tree as an overlayfs upper directory (-x: with security.*, trusted.* xattrs)",
        union::export_overlay
    ),
    cmd!(["help"], "Display info on command or topic.", help),
    cmd!(
        ["list_requests", "lr", "?"],
        "List available commands.",
        help
    ),
    cmd!(["quit", "q"], "Leave the subsystem.", quit),
];

/// Set by `quit`; the loops stop when they see it.
pub static QUIT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn quit(_: &mut Session, _: &[String]) -> Result<()> {
    QUIT.store(true, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

fn help(s: &mut Session, _: &[String]) -> Result<()> {
    use crate::help_order::{help_line, DEBUGFS_ORDER, SESSION_LAST};
    let mut o = format!("Available {} requests:\n\n", crate::program());
    let ours = COMMANDS
        .iter()
        .map(|c| c.names[0])
        .filter(|n| !DEBUGFS_ORDER.contains(n) && !SESSION_LAST.contains(n));
    let order = DEBUGFS_ORDER
        .iter()
        .copied()
        .chain(ours)
        .chain(SESSION_LAST.iter().copied());
    for c in order.filter_map(find) {
        o.push_str(&help_line(c.names, c.help));
    }
    s.out.write_all(o.as_bytes())?;
    Ok(())
}

use std::io::Write;

pub fn find(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.names.contains(&name))
}

/// Splits a request line into words: blanks separate, double quotes
/// group (as the ss library does).
pub fn split_words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// Runs one request line. A failing request prints `command: message`
/// on stderr; like debugfs, only an unknown command makes this return
/// false (and the exit status non-zero).
pub fn execute(s: &mut Session, line: &str) -> bool {
    let words = split_words(line);
    let Some(name) = words.first() else {
        return true;
    };
    if name.starts_with('#') {
        return true;
    }
    let Some(c) = find(name) else {
        eprintln!("{}: Command not found {name}", crate::program());
        return false;
    };
    let r = (c.run)(s, &words);
    let _ = s.out.flush();
    if let Err(e) = r {
        report(name, &e);
    }
    true
}

/// Prints a request's error as debugfs' com_err does: `request: message`,
/// or an already worded one (`/x: File not found by ext2_lookup `) as is.
pub fn report(request: &str, e: &anyhow::Error) {
    match e.downcast_ref::<crate::session::Worded>() {
        Some(w) if w.0.is_empty() => {}
        Some(w) => eprintln!("{w}"),
        None => eprintln!("{request}: {}", cli_common::error_chain(e)),
    }
}

/// Options (letter, value) in order, then the operands.
pub type Parsed = (Vec<(char, String)>, Vec<String>);

/// A tiny getopt: `spec` lists option letters, a ':' after one means it
/// takes a value. Returns the options in order and the operands.
pub fn getopt(args: &[String], spec: &str) -> Result<Parsed> {
    let mut opts = Vec::new();
    let mut rest = Vec::new();
    let mut i = 1;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            rest.extend(args[i + 1..].iter().cloned());
            break;
        }
        if a.len() > 1 && a.starts_with('-') && rest.is_empty() {
            let chars: Vec<char> = a[1..].chars().collect();
            let mut j = 0;
            while j < chars.len() {
                let c = chars[j];
                let pos = spec
                    .find(c)
                    .ok_or_else(|| anyhow::anyhow!("invalid option -- '{c}'"))?;
                let takes = spec[pos + c.len_utf8()..].starts_with(':');
                if takes {
                    let v: String = chars[j + 1..].iter().collect();
                    if !v.is_empty() {
                        opts.push((c, v));
                    } else {
                        i += 1;
                        let v = args.get(i).ok_or_else(|| {
                            anyhow::anyhow!("option requires an argument -- '{c}'")
                        })?;
                        opts.push((c, v.clone()));
                    }
                    break;
                }
                opts.push((c, String::new()));
                j += 1;
            }
        } else {
            rest.push(a.clone());
        }
        i += 1;
    }
    Ok((opts, rest))
}

/// Fails with a usage message unless `n` operands are between min and max.
pub fn usage_check(rest: &[String], min: usize, max: usize, usage: &str) -> Result<()> {
    if rest.len() < min || rest.len() > max {
        anyhow::bail!("Usage: {usage}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_quotes() {
        assert_eq!(
            split_words(" ls  -l \"a b\" c"),
            vec!["ls", "-l", "a b", "c"]
        );
        assert!(split_words("   ").is_empty());
    }

    #[test]
    fn getopt_values() {
        let a: Vec<String> = ["x", "-lp", "-b", "5", "-c7", "f"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (o, r) = getopt(&a, "lpb:c:").unwrap();
        assert_eq!(o.len(), 4);
        assert_eq!(o[2], ('b', "5".to_string()));
        assert_eq!(o[3], ('c', "7".to_string()));
        assert_eq!(r, vec!["f"]);
        assert!(getopt(&a, "l").is_err());
    }

    #[test]
    fn the_man_page_lists_every_request() {
        let page = include_str!("../../man/debugfs-union.8");
        for c in COMMANDS {
            for n in c.names {
                assert!(page.contains(n), "man/debugfs-union.8 does not mention {n}");
            }
        }
        for opt in ["\\-b", "\\-s", "\\-f", "\\-R", "\\-c", "\\-w", "\\-V"] {
            assert!(page.contains(opt), "{opt}");
        }
    }

    #[test]
    fn every_name_is_unique() {
        let mut all: Vec<&str> = COMMANDS
            .iter()
            .flat_map(|c| c.names.iter().copied())
            .collect();
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n);
    }
}
