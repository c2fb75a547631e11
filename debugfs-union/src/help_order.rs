//! The order `help` lists requests in: debugfs 1.47's request table
//! (debugfs/debug_cmds.ct, then the quota, journal and ss requests),
//! with the union-mount requests before the session's own.

/// Each request by its first name, in debugfs' order.
pub const DEBUGFS_ORDER: &[&str] = &[
    "show_debugfs_params",
    "open_filesys",
    "close_filesys",
    "freefrag",
    "feature",
    "dirty_filesys",
    "init_filesys",
    "show_super_stats",
    "ncheck",
    "icheck",
    "change_root_directory",
    "change_working_directory",
    "list_directory",
    "show_inode_info",
    "dump_extents",
    "blocks",
    "filefrag",
    "link",
    "unlink",
    "mkdir",
    "rmdir",
    "rm",
    "kill_file",
    "copy_inode",
    "clri",
    "freei",
    "seti",
    "testi",
    "freeb",
    "setb",
    "testb",
    "modify_inode",
    "find_free_block",
    "find_free_inode",
    "print_working_directory",
    "expand_dir",
    "mknod",
    "list_deleted_inodes",
    "undelete",
    "write",
    "dump_inode",
    "cat",
    "lcd",
    "rdump",
    "set_super_value",
    "set_inode_field",
    "set_block_group",
    "logdump",
    "htree_dump",
    "dx_hash",
    "dirsearch",
    "bmap",
    "fallocate",
    "punch",
    "symlink",
    "imap",
    "dump_unused",
    "set_current_time",
    "supported_features",
    "dump_mmp",
    "set_mmp_value",
    "extent_open",
    "zap_block",
    "block_dump",
    "ea_list",
    "ea_get",
    "ea_set",
    "ea_rm",
    "list_quota",
    "get_quota",
    "inode_dump",
    "journal_open",
    "journal_close",
    "journal_write",
    "journal_run",
];

/// Listed last, after the requests of ours debugfs does not have.
pub const SESSION_LAST: &[&str] = &["help", "list_requests", "quit"];

/// One request's help line as the ss library prints it: the names
/// joined by ", ", the text at column 25, or on the next line when the
/// names take 24 columns or more.
pub fn help_line(names: &[&str], text: &str) -> String {
    let joined = names.join(", ");
    if joined.len() > 23 {
        format!("{joined}\n{:25}{text}\n", "")
    } else {
        format!("{joined}{:w$}{text}\n", "", w = 25 - joined.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_is_listed_once() {
        let firsts: Vec<&str> = crate::table::COMMANDS.iter().map(|c| c.names[0]).collect();
        for name in DEBUGFS_ORDER.iter().chain(SESSION_LAST) {
            assert!(firsts.contains(name), "{name} is not a request");
        }
    }

    #[test]
    fn long_names_wrap_as_ss_wraps_them() {
        assert_eq!(help_line(&["a", "b"], "x"), format!("a, b{:21}x\n", ""));
        let long = help_line(&["dump_extents", "extents", "ex"], "D");
        assert_eq!(long, format!("dump_extents, extents, ex\n{:25}D\n", ""));
    }
}
