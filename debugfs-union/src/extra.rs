//! Requests debugfs 1.47 has for features our filesystems do not carry
//! (extents, MMP, quota, journals) or for the host: each answers as
//! debugfs answers on an ext2 filesystem without the feature
//! (supported_features, dump_extents, dump_mmp, set_mmp_value,
//! list_quota, get_quota, logdump, lcd, extent_open, journal_*).

use std::io::Write;

use anyhow::{anyhow, bail, Result};
use ext2fs::supported::{feature_from_name, feature_name, supported, Table};

use crate::gnu_getopt::getopt;
use crate::inodes::read_inode_worded;
use crate::session::{Session, Worded};

/// supported_features [feature]
pub fn supported_features(s: &mut Session, args: &[String]) -> Result<()> {
    let known = |t: Table, name: &str| {
        feature_from_name(t, name).is_some_and(|(w, m)| supported(t)[w] & m != 0)
    };
    if let Some(name) = args.get(1) {
        if known(Table::Filesystem, name) || known(Table::Journal, name) {
            writeln!(s.out, "Supported feature: {name}")?;
            return Ok(());
        }
        bail!("Unknown feature: {name}\n");
    }
    let mut o = String::from("Supported features:");
    for t in [Table::Filesystem, Table::Journal] {
        let masks = supported(t);
        for (w, m) in masks.iter().enumerate() {
            for bit in 0..32 {
                if m & (1 << bit) != 0 {
                    o.push(' ');
                    o.push_str(&feature_name(t, w, 1 << bit));
                }
            }
        }
        o.push('\n');
    }
    s.out.write_all(o.as_bytes())?;
    Ok(())
}

/// dump_extents [-n] [-l] file: ext2 files have block maps, which
/// debugfs says; an inode whose extents flag is set holds a tree only
/// when i_block starts with a valid header (else debugfs prints nothing).
pub fn dump_extents(s: &mut Session, args: &[String]) -> Result<()> {
    let (_, rest) = getopt(args, "nl");
    if rest.len() != 1 {
        return Err(Worded("Usage: dump_extents [-n] [-l] file".into()).into());
    }
    s.fs()?;
    let ino = s.inode_arg(&rest[0])?;
    let fs = s.fs()?;
    let inode = read_inode_worded(fs, ino)?;
    if inode.flags() & ext2fs::inode::flags::EXTENTS == 0 {
        eprintln!("{}: does not uses extent block maps", rest[0]);
        return Ok(());
    }
    if !inode.holds_extent_header() {
        return Ok(());
    }
    bail!("extent trees are not read by this tool (ext2 only; see compat.md)")
}

/// debugfs' ext2fs_mmp_read, for dump_mmp and set_mmp_value: a block
/// outside the filesystem, a short read, a bad magic number.
fn read_mmp(s: &Session, block: u64) -> Result<ext2fs::mmp::MmpBlock, String> {
    let fs = s.fs().map_err(|e| e.to_string())?;
    let first = u64::from(fs.geo().first_data_block);
    if block <= first || block >= fs.geo().blocks_count {
        return Err("MMP: block number beyond filesystem range".into());
    }
    let buf = fs
        .read_block_anywhere(block)
        .map_err(|e| e.com_err_text())?;
    let mmp = ext2fs::mmp::MmpBlock::parse(&buf).ok_or_else(|| {
        "Attempt to read block from filesystem resulted in short read".to_string()
    })?;
    if mmp.magic != ext2fs::mmp::MMP_MAGIC {
        return Err("MMP: invalid magic number".into());
    }
    Ok(mmp)
}

/// A fixed-size C string field as `%.*s` prints it: up to its first NUL.
fn c_field(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// dump_mmp [mmp_block]
pub fn dump_mmp(s: &mut Session, args: &[String]) -> Result<()> {
    let sb_block = s.fs()?.sb().s_mmp_block;
    let block = match args.get(1) {
        Some(a) => {
            // strtoull(…, 0); debugfs checks the end pointer against the
            // request's name, so only a zero value is refused.
            let (n, _) = crate::cnum::strtoull_prefix(a);
            if n == 0 {
                return Err(Worded(format!("{}: invalid MMP block '{a}' given", args[0])).into());
            }
            n
        }
        None => sb_block,
    };
    if block == 0 {
        return Err(Worded(format!("{}: MMP: not active on this filesystem.", args[0])).into());
    }
    let m = read_mmp(s, block).map_err(|e| anyhow!("{e} reading MMP block {block}.\n"))?;
    let fs = s.fs()?;
    let mut o = String::new();
    o.push_str(&format!("block_number: {sb_block}\n"));
    o.push_str(&format!(
        "update_interval: {}\n",
        fs.sb().s_mmp_update_interval
    ));
    o.push_str(&format!("check_interval: {}\n", m.check_interval));
    o.push_str(&format!("sequence: {:08x}\n", m.seq));
    o.push_str(&format!(
        "time: {} -- {}\n",
        m.time,
        crate::format::time_string(m.time as i64)
    ));
    o.push_str(&format!("node_name: {}\n", c_field(&m.nodename)));
    o.push_str(&format!("device_name: {}\n", c_field(&m.bdevname)));
    o.push_str(&format!("magic: 0x{:x}\n", m.magic));
    o.push_str(&format!("checksum: 0x{:08x}\n", m.checksum));
    s.out.write_all(o.as_bytes())?;
    Ok(())
}

/// The fields set_mmp_value -l lists, with their kinds.
const MMP_FIELDS: &[(&str, &str)] = &[
    ("clear", "unknown"),
    ("magic", "unsigned integer"),
    ("seq", "unsigned integer"),
    ("time", "unsigned integer"),
    ("nodename", "string"),
    ("bdevname", "string"),
    ("check_interval", "unsigned integer"),
    ("checksum", "unsigned integer"),
];

/// set_mmp_value <field> <value> | -l: our filesystems have no MMP
/// block, which debugfs says; with s_mmp_block set (a damaged
/// superblock), the block is read and judged as there.
pub fn set_mmp_value(s: &mut Session, args: &[String]) -> Result<()> {
    if args.len() == 2 && args[1] == "-l" {
        let mut o = String::from("MMP fields supported by the set_mmp_value command:\n");
        for (n, k) in MMP_FIELDS {
            o.push_str(&format!("\t{n:<25}\t{k}\n"));
        }
        s.out.write_all(o.as_bytes())?;
        return Ok(());
    }
    let block = s.fs()?.sb().s_mmp_block;
    if block == 0 {
        bail!("no MMP block allocated\n");
    }
    if !(3..=4).contains(&args.len()) {
        bail!(
            "Usage: set_mmp_value <field> <value>\n\t\"set_mmp_value -l\" will list the names of MMP fields\n\twhich can be set."
        );
    }
    s.fs_rw()?;
    read_mmp(s, block).map_err(|e| anyhow!("{e} reading MMP block {block}.\n"))?;
    if !MMP_FIELDS
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case(&args[1]))
    {
        bail!("invalid field specifier: {}", args[1]);
    }
    bail!("MMP blocks are not written by this tool (ext2 only; see compat.md)")
}

/// debugfs' load_quota_ctx: our filesystems never carry quota.
fn no_quota(s: &Session) -> Result<()> {
    let fs = s.fs()?;
    if !fs.sb().has_ro_compat(ext2fs::features::ro_compat::QUOTA) {
        bail!("quota feature not enabled");
    }
    bail!("quota files are not read by this tool (see compat.md)")
}

/// list_quota <quota_type>
pub fn list_quota(s: &mut Session, _args: &[String]) -> Result<()> {
    no_quota(s)
}

/// get_quota <quota_type> <id>
pub fn get_quota(s: &mut Session, _args: &[String]) -> Result<()> {
    no_quota(s)
}

/// lcd <native dir>
pub fn lcd(_s: &mut Session, args: &[String]) -> Result<()> {
    if args.len() != 2 {
        bail!("Usage: {} <native dir>", args[0]);
    }
    std::env::set_current_dir(&args[1]).map_err(|e| {
        anyhow!(
            "{} while trying to change native directory to {}",
            cli_common::errno_text(e),
            args[1]
        )
    })
}

/// logdump [-acsOS] [-n num] [-b block] [-i filespec] [-f journal_file]
/// [output_file]: its options parsed and judged as debugfs does; our
/// filesystems have no journal, and a journal file given with -f is read
/// only as far as its superblock's magic number.
pub fn logdump(s: &mut Session, args: &[String]) -> Result<()> {
    let cmd = &args[0];
    let usage = || {
        Worded(format!(
            "{cmd}: Usage: logdump [-acsOS] [-n<num_trans>] [-b<block>] [-i<filespec>]\n\t[-f<journal_file>] [output_file]"
        ))
    };
    let (opts, rest) = getopt(args, "ab:ci:f:OsSn:");
    let mut inode_spec = None;
    let mut journal_file = None;
    let mut block = None;
    for (c, v) in &opts {
        match c {
            'b' => match crate::cnum::strtoull_prefix(v) {
                (n, true) => block = Some(n as u32 as u64),
                _ => bail!("Bad block number - {v}"),
            },
            'n' if crate::cnum::strtol(v, 10).is_none() => {
                bail!("Bad log counts number - {v}");
            }
            'i' => inode_spec = Some(v.clone()),
            'f' => journal_file = Some(v.clone()),
            '?' => return Err(usage().into()),
            _ => {}
        }
    }
    if rest.len() > 1 {
        return Err(usage().into());
    }
    if let Some(spec) = &inode_spec {
        s.fs()?;
        let ino = s.inode_arg(spec)?;
        let fs = s.fs()?;
        let ipg = fs.geo().inodes_per_group;
        let group = (ino - 1) / ipg;
        let offset = (ino - 1) % ipg;
        // struct ext2_inode is 128 bytes, whatever the inode size.
        let per_block = fs.block_size() / 128;
        let table = fs
            .groups()
            .get(group as usize)
            .map(|g| u64::from(g.bg_inode_table))
            .unwrap_or(0);
        let blk = table + u64::from(offset / per_block);
        let off = (offset % per_block) * 128;
        writeln!(
            s.out,
            "Inode {ino} is at group {group}, block {blk}, offset {off}"
        )?;
    }
    // fopen(output_file, "w"): made (emptied) before anything is read.
    let mut file_out = match rest.first() {
        None => None,
        Some(f) => Some(std::fs::File::create(f).map_err(|e| {
            anyhow!(
                "{} while opening {f} for logdump",
                cli_common::errno_text(e)
            )
        })?),
    };
    if block.is_some() {
        s.fs()?;
    }
    let Some(jf) = journal_file else {
        let fs = s.fs()?;
        let sb = fs.sb();
        if sb.s_journal_inum != 0 || sb.has_compat(ext2fs::features::compat::HAS_JOURNAL) {
            bail!("journals are not read by this tool (see compat.md)");
        }
        bail!("filesystem has no journal")
    };
    let has = |c: char| opts.iter().any(|(o, _)| *o == c);
    let text = journal_file_head(&jf, has('a'), has('S'));
    let (printed, failure) = match text {
        Ok(t) => (t, None),
        Err((t, e)) => (t, Some(e)),
    };
    match &mut file_out {
        Some(f) => f.write_all(printed.as_bytes())?,
        None => s.out.write_all(printed.as_bytes())?,
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// dump_journal's first steps on a journal file: its first 2048 bytes,
/// an ext2 journal device's header (said, with -a its details), then
/// the journal superblock, whose magic number must be jbd2's. What was
/// printed comes back, with the error that stopped it, if any: a short
/// read, or a journal (which this tool does not read).
fn journal_file_head(
    path: &str,
    all: bool,
    dump_super: bool,
) -> Result<String, (String, anyhow::Error)> {
    use std::io::{Read, Seek, SeekFrom};
    let mut o = String::new();
    let mut f = std::fs::File::open(path).map_err(|e| {
        (
            String::new(),
            anyhow!(
                "{} while opening {path} for logdump",
                cli_common::errno_text(e)
            ),
        )
    })?;
    let mut read_at = |at: u64, len: usize| -> std::io::Result<Vec<u8>> {
        f.seek(SeekFrom::Start(at))?;
        let mut buf = Vec::new();
        (&mut f).take(len as u64).read_to_end(&mut buf)?;
        Ok(buf)
    };
    let short = |got: usize, want: usize| {
        anyhow!("short read (read {got}, expected {want}) while reading journal")
    };
    let io = |e: std::io::Error| anyhow!("{} while reading journal", cli_common::errno_text(e));
    let head = read_at(0, 2048).map_err(|e| (String::new(), io(e)))?;
    if head.len() != 2048 {
        return Err((o, short(head.len(), 2048)));
    }
    let (mut bs, mut blocknr) = (1024u64, 0u64);
    if let Some(sb) = ext2fs::jbd2::journal_dev_superblock(&head) {
        bs = u64::from(sb.block_size());
        blocknr = if bs == 1024 { 2 } else { 1 };
        o.push_str("Ext2 superblock header found.\n");
        if all {
            let blocks = if sb.has_incompat(ext2fs::features::incompat::BIT64) {
                u64::from(sb.s_blocks_count) | u64::from(sb.s_blocks_count_hi) << 32
            } else {
                u64::from(sb.s_blocks_count)
            };
            o.push_str(&format!(
                "\tuuid={}\n\tblocksize={bs}\n\tjournal data size {blocks}\n",
                ext2fs::uuid::format(&sb.s_uuid)
            ));
        }
    }
    let jsb = match read_at(blocknr * bs, 1024) {
        Ok(b) => b,
        Err(e) => return Err((o, io(e))),
    };
    if jsb.len() != 1024 {
        let got = jsb.len();
        return Err((o, short(got, 1024)));
    }
    if dump_super {
        return Err((
            o,
            anyhow!("journals are not read by this tool (see compat.md)"),
        ));
    }
    if !ext2fs::jbd2::has_magic(&jsb) {
        o.push_str("Journal superblock magic number invalid!\n");
        return Ok(o);
    }
    Err((
        o,
        anyhow!("journals are not read by this tool (see compat.md)"),
    ))
}

/// extent_open [inode]: ext2 inodes have no extent tree to open.
pub fn extent_open(s: &mut Session, args: &[String]) -> Result<()> {
    s.fs()?;
    if args.len() == 1 {
        writeln!(s.out, "No current inode")?;
        return Ok(());
    }
    if args.len() != 2 {
        bail!("Usage: {} <file>", args[0]);
    }
    let ino = s.inode_arg(&args[1])?;
    let inode = read_inode_worded(s.fs()?, ino)?;
    if inode.flags() & ext2fs::inode::flags::EXTENTS == 0 {
        return Err(Worded(format!(
            "{}: Inode does not use extents while opening extent handle",
            args[1]
        ))
        .into());
    }
    if !inode.holds_extent_header() {
        return Err(Worded(format!(
            "{}: Corrupt extent header while opening extent handle",
            args[1]
        ))
        .into());
    }
    bail!("extent trees are not read by this tool (ext2 only; see compat.md)")
}

/// journal_open [-c] [-v ver] [-f ext_jnl]
pub fn journal_open(s: &mut Session, _args: &[String]) -> Result<()> {
    s.fs_rw()?;
    s.bitmaps_loaded()?;
    if !s
        .fs()?
        .sb()
        .has_compat(ext2fs::features::compat::HAS_JOURNAL)
    {
        writeln!(s.out, "Journalling is not enabled on this filesystem.")?;
        return Ok(());
    }
    bail!("journals are not written by this tool (see compat.md)")
}

/// journal_close, journal_write: no journal is ever open here.
pub fn journal_not_open(s: &mut Session, _args: &[String]) -> Result<()> {
    writeln!(s.out, "Journal not open.")?;
    Ok(())
}

/// journal_run: debugfs' ext2fs_run_ext3_journal on a filesystem without
/// a journal finds no journal inode, and marks the filesystem as needing
/// a check for the failed recovery (the valid flag cleared, the last
/// check put before the last mount) before it says so.
pub fn journal_run(s: &mut Session, _args: &[String]) -> Result<()> {
    s.fs_rw()?;
    s.bitmaps_loaded()?;
    let fs = s.fs_rw()?;
    let sb = fs.sb();
    let external = sb.s_journal_uuid.iter().any(|&b| b != 0);
    if external || sb.s_journal_inum != 0 {
        bail!("journals are not read by this tool (see compat.md)");
    }
    fs.flush()?;
    fs.update_superblock(|sb| {
        sb.s_feature_incompat &= !ext2fs::features::incompat::RECOVER;
        sb.s_state &= !ext2fs::superblock::STATE_VALID;
        if sb.s_lastcheck >= sb.s_mtime {
            sb.s_lastcheck = sb.s_mtime.wrapping_sub(1);
        }
    });
    Err(Worded("journal_run: Illegal inode number while recovering journal".into()).into())
}
