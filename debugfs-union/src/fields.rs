//! The one field table behind set_super_value, set_inode_field and
//! set_block_group and their `-l` listings, as debugfs' set_fields.c:
//! each field's name, how its value is read, and where it lives in the
//! library's structure (a low part, an optional high part, an array).
//! Names are matched, values parsed and errors worded as debugfs 1.47.0
//! does; the requests themselves are at the end.

use std::io::Write;

use anyhow::{bail, Result};
use ext2fs::group_desc::GroupDesc;
use ext2fs::inode::Inode;
use ext2fs::superblock::{self as sbm, Superblock};

use crate::cnum::{string_to_time, strtol, strtoull};
use crate::session::{Session, Worded};

/// How a value is read, and the type `-l` names.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Uint,
    Int,
    Str,
    Uuid,
    HashAlg,
    Time,
    /// `bmap[N]`: maps logical block N to the value.
    Bmap,
    /// A descriptor checksum: a number, or `calc` to compute it.
    GdCsum,
    /// The inode checksum: a number, or `calc` (listed as "unknown").
    InodeCsum,
    /// A name (`utf8`) or a number (listed as "unknown").
    Encoding,
}

impl Kind {
    fn listed(self) -> &'static str {
        match self {
            Kind::Uint => "unsigned integer",
            Kind::Int => "integer",
            Kind::Str => "string",
            Kind::Uuid => "UUID",
            Kind::HashAlg => "hash algorithm",
            Kind::Time => "date/time",
            Kind::Bmap => "set physical->logical block map",
            Kind::GdCsum => "unsigned integer OR \"calc\"",
            Kind::InodeCsum | Kind::Encoding => "unknown",
        }
    }
}

/// Where a field's value lives in a `T`: a whole library field (the
/// index picks an array element), a part of one under another name
/// (the Hurd's names for bytes of Linux's osd2 fields), bytes (strings,
/// UUIDs), the hash seed's words, or nowhere (bmap).
pub enum Place<T> {
    U8(fn(&mut T, usize) -> &mut u8),
    U16(fn(&mut T, usize) -> &mut u16),
    U32(fn(&mut T, usize) -> &mut u32),
    U64(fn(&mut T, usize) -> &mut u64),
    Part {
        width: u32,
        get: fn(&T) -> u64,
        set: fn(&mut T, u64),
    },
    Bytes(fn(&mut T) -> &mut [u8]),
    Words(fn(&mut T) -> &mut [u32; 4]),
    Nowhere,
}

impl<T> Place<T> {
    /// The width in bytes of a numeric place (0 for the others).
    fn width(&self) -> u32 {
        match self {
            Place::U8(_) => 1,
            Place::U16(_) => 2,
            Place::U32(_) => 4,
            Place::U64(_) => 8,
            Place::Part { width, .. } => *width,
            _ => 0,
        }
    }

    fn get(&self, t: &mut T, i: usize) -> u64 {
        match self {
            Place::U8(f) => u64::from(*f(t, i)),
            Place::U16(f) => u64::from(*f(t, i)),
            Place::U32(f) => u64::from(*f(t, i)),
            Place::U64(f) => *f(t, i),
            Place::Part { get, .. } => get(t),
            _ => 0,
        }
    }

    /// Stores the low bytes of `v` that fit.
    fn set(&self, t: &mut T, i: usize, v: u64) {
        match self {
            Place::U8(f) => *f(t, i) = v as u8,
            Place::U16(f) => *f(t, i) = v as u16,
            Place::U32(f) => *f(t, i) = v as u32,
            Place::U64(f) => *f(t, i) = v,
            Place::Part { set, width, .. } => set(t, v & mask(*width)),
            _ => {}
        }
    }
}

/// All ones in the low `bytes` bytes.
fn mask(bytes: u32) -> u64 {
    match bytes {
        0 => 0,
        8.. => u64::MAX,
        n => (1u64 << (n * 8)) - 1,
    }
}

/// One settable field.
pub struct Field<T: 'static> {
    pub name: &'static str,
    pub kind: Kind,
    pub lo: Place<T>,
    /// The high part (`name_hi`), for fields split in two.
    pub hi: Option<Place<T>>,
    /// An array's length (0: any index, as `bmap[]`).
    pub array: Option<u32>,
    /// Whether debugfs counts both parts in the field's own size (i_blocks
    /// and i_file_acl: 4 + 2 bytes), so `_lo`/`_hi` alone take that much.
    pub wide: bool,
    /// Another name for bytes a listed field also covers (not listed
    /// twice in the duplicate check).
    pub alias: bool,
}

const fn field<T>(name: &'static str, kind: Kind, lo: Place<T>) -> Field<T> {
    Field {
        name,
        kind,
        lo,
        hi: None,
        array: None,
        wide: false,
        alias: false,
    }
}

const fn split<T>(name: &'static str, kind: Kind, lo: Place<T>, hi: Place<T>) -> Field<T> {
    Field {
        name,
        kind,
        lo,
        hi: Some(hi),
        array: None,
        wide: false,
        alias: false,
    }
}

const fn array<T>(name: &'static str, lo: Place<T>, len: u32) -> Field<T> {
    Field {
        name,
        kind: Kind::Uint,
        lo,
        hi: None,
        array: Some(len),
        wide: false,
        alias: false,
    }
}

const fn alias<T>(name: &'static str, kind: Kind, lo: Place<T>) -> Field<T> {
    Field {
        name,
        kind,
        lo,
        hi: None,
        array: None,
        wide: false,
        alias: true,
    }
}

const fn wide<T>(name: &'static str, lo: Place<T>, hi: Place<T>) -> Field<T> {
    Field {
        name,
        kind: Kind::Uint,
        lo,
        hi: Some(hi),
        array: None,
        wide: true,
        alias: false,
    }
}

/// A place that is one library field: `at!(U32, base.i_size)`, or an
/// array element with `at!(U32, s_jnl_blocks[])`.
macro_rules! at {
    ($w:ident, $($f:ident).+ []) => {
        Place::$w(|t, i| &mut t.$($f).+[i])
    };
    ($w:ident, $($f:ident).+) => {
        Place::$w(|t, _| &mut t.$($f).+)
    };
}

macro_rules! bytes {
    ($($f:ident).+) => {
        Place::Bytes(|t| &mut t.$($f).+[..])
    };
}

use Kind::*;

/// debugfs 1.47.0's superblock fields, in its order.
pub static SUPER: &[Field<Superblock>] = &[
    field("inodes_count", Uint, at!(U32, s_inodes_count)),
    split(
        "blocks_count",
        Uint,
        at!(U32, s_blocks_count),
        at!(U32, s_blocks_count_hi),
    ),
    split(
        "r_blocks_count",
        Uint,
        at!(U32, s_r_blocks_count),
        at!(U32, s_r_blocks_count_hi),
    ),
    split(
        "free_blocks_count",
        Uint,
        at!(U32, s_free_blocks_count),
        at!(U32, s_free_blocks_hi),
    ),
    field("free_inodes_count", Uint, at!(U32, s_free_inodes_count)),
    field("first_data_block", Uint, at!(U32, s_first_data_block)),
    field("log_block_size", Uint, at!(U32, s_log_block_size)),
    field("log_cluster_size", Int, at!(U32, s_log_cluster_size)),
    field("blocks_per_group", Uint, at!(U32, s_blocks_per_group)),
    field("clusters_per_group", Uint, at!(U32, s_clusters_per_group)),
    field("inodes_per_group", Uint, at!(U32, s_inodes_per_group)),
    field("mtime", Time, at!(U32, s_mtime)),
    field("wtime", Time, at!(U32, s_wtime)),
    field("mnt_count", Uint, at!(U16, s_mnt_count)),
    field("max_mnt_count", Int, at!(U16, s_max_mnt_count)),
    field("state", Uint, at!(U16, s_state)),
    field("errors", Uint, at!(U16, s_errors)),
    field("minor_rev_level", Uint, at!(U16, s_minor_rev_level)),
    field("lastcheck", Time, at!(U32, s_lastcheck)),
    field("checkinterval", Uint, at!(U32, s_checkinterval)),
    field("creator_os", Uint, at!(U32, s_creator_os)),
    field("rev_level", Uint, at!(U32, s_rev_level)),
    field("def_resuid", Uint, at!(U16, s_def_resuid)),
    field("def_resgid", Uint, at!(U16, s_def_resgid)),
    field("first_ino", Uint, at!(U32, s_first_ino)),
    field("inode_size", Uint, at!(U16, s_inode_size)),
    field("block_group_nr", Uint, at!(U16, s_block_group_nr)),
    field("feature_compat", Uint, at!(U32, s_feature_compat)),
    field("feature_incompat", Uint, at!(U32, s_feature_incompat)),
    field("feature_ro_compat", Uint, at!(U32, s_feature_ro_compat)),
    field("uuid", Uuid, bytes!(s_uuid)),
    field("volume_name", Str, bytes!(s_volume_name)),
    field("last_mounted", Str, bytes!(s_last_mounted)),
    field(
        "algorithm_usage_bitmap",
        Uint,
        at!(U32, s_algorithm_usage_bitmap),
    ),
    field("prealloc_blocks", Uint, at!(U8, s_prealloc_blocks)),
    field("prealloc_dir_blocks", Uint, at!(U8, s_prealloc_dir_blocks)),
    field("reserved_gdt_blocks", Uint, at!(U16, s_reserved_gdt_blocks)),
    field("journal_uuid", Uuid, bytes!(s_journal_uuid)),
    field("journal_inum", Uint, at!(U32, s_journal_inum)),
    field("journal_dev", Uint, at!(U32, s_journal_dev)),
    field("last_orphan", Uint, at!(U32, s_last_orphan)),
    field("hash_seed", Uuid, Place::Words(|s| &mut s.s_hash_seed)),
    field("def_hash_version", HashAlg, at!(U8, s_def_hash_version)),
    field("jnl_backup_type", Uint, at!(U8, s_jnl_backup_type)),
    field("desc_size", Uint, at!(U16, s_desc_size)),
    field("default_mount_opts", Uint, at!(U32, s_default_mount_opts)),
    field("first_meta_bg", Uint, at!(U32, s_first_meta_bg)),
    field("mkfs_time", Time, at!(U32, s_mkfs_time)),
    array("jnl_blocks", at!(U32, s_jnl_blocks[]), 17),
    field("min_extra_isize", Uint, at!(U16, s_min_extra_isize)),
    field("want_extra_isize", Uint, at!(U16, s_want_extra_isize)),
    field("flags", Uint, at!(U32, s_flags)),
    field("raid_stride", Uint, at!(U16, s_raid_stride)),
    field("mmp_interval", Uint, at!(U16, s_mmp_update_interval)),
    field("mmp_block", Uint, at!(U64, s_mmp_block)),
    field("raid_stripe_width", Uint, at!(U32, s_raid_stripe_width)),
    field("log_groups_per_flex", Uint, at!(U8, s_log_groups_per_flex)),
    field("kbytes_written", Uint, at!(U64, s_kbytes_written)),
    field("snapshot_inum", Uint, at!(U32, s_snapshot_inum)),
    field("snapshot_id", Uint, at!(U32, s_snapshot_id)),
    field(
        "snapshot_r_blocks_count",
        Uint,
        at!(U64, s_snapshot_r_blocks_count),
    ),
    field("snapshot_list", Uint, at!(U32, s_snapshot_list)),
    field("mount_opts", Str, bytes!(s_mount_opts)),
    field("usr_quota_inum", Uint, at!(U32, s_usr_quota_inum)),
    field("grp_quota_inum", Uint, at!(U32, s_grp_quota_inum)),
    field("prj_quota_inum", Uint, at!(U32, s_prj_quota_inum)),
    field("overhead_clusters", Uint, at!(U32, s_overhead_clusters)),
    array("backup_bgs", at!(U32, s_backup_bgs[]), 2),
    field("checksum", Uint, at!(U32, s_checksum)),
    field("checksum_type", Uint, at!(U8, s_checksum_type)),
    field("encryption_level", Uint, at!(U8, s_encryption_level)),
    field("error_count", Uint, at!(U32, s_error_count)),
    field("first_error_time", Time, at!(U32, s_first_error_time)),
    field("first_error_ino", Uint, at!(U32, s_first_error_ino)),
    field("first_error_block", Uint, at!(U64, s_first_error_block)),
    field("first_error_func", Str, bytes!(s_first_error_func)),
    field("first_error_line", Uint, at!(U32, s_first_error_line)),
    field("last_error_time", Time, at!(U32, s_last_error_time)),
    field("last_error_ino", Uint, at!(U32, s_last_error_ino)),
    field("last_error_block", Uint, at!(U64, s_last_error_block)),
    field("last_error_func", Str, bytes!(s_last_error_func)),
    field("last_error_line", Uint, at!(U32, s_last_error_line)),
    array("encrypt_algos", at!(U8, s_encrypt_algos[]), 4),
    field("encrypt_pw_salt", Uuid, bytes!(s_encrypt_pw_salt)),
    field("lpf_ino", Uint, at!(U32, s_lpf_ino)),
    field("checksum_seed", Uint, at!(U32, s_checksum_seed)),
    field("encoding", Encoding, at!(U16, s_encoding)),
    field("orphan_file_inum", Uint, at!(U32, s_orphan_file_inum)),
];

/// debugfs 1.47.0's inode fields, in its order. The Hurd's frag and
/// fsize are the bytes of l_i_blocks_hi, its author the last four bytes
/// (l_i_checksum_lo and l_i_reserved).
pub static INODE: &[Field<Inode>] = &[
    field("mode", Uint, at!(U16, base.i_mode)),
    split(
        "uid",
        Uint,
        at!(U16, base.i_uid),
        at!(U16, base.l_i_uid_high),
    ),
    split(
        "size",
        Uint,
        at!(U32, base.i_size),
        at!(U32, base.i_size_high),
    ),
    split(
        "atime",
        Time,
        at!(U32, base.i_atime),
        at!(U32, extra.i_atime_extra),
    ),
    split(
        "ctime",
        Time,
        at!(U32, base.i_ctime),
        at!(U32, extra.i_ctime_extra),
    ),
    split(
        "mtime",
        Time,
        at!(U32, base.i_mtime),
        at!(U32, extra.i_mtime_extra),
    ),
    field("dtime", Time, at!(U32, base.i_dtime)),
    split(
        "gid",
        Uint,
        at!(U16, base.i_gid),
        at!(U16, base.l_i_gid_high),
    ),
    field("links_count", Uint, at!(U16, base.i_links_count)),
    wide(
        "blocks",
        at!(U32, base.i_blocks),
        at!(U16, base.l_i_blocks_hi),
    ),
    field("flags", Uint, at!(U32, base.i_flags)),
    split(
        "version",
        Uint,
        at!(U32, base.i_version),
        at!(U32, extra.i_version_hi),
    ),
    alias("translator", Uint, at!(U32, base.i_version)),
    array("block", at!(U32, base.i_block[]), 12),
    field(
        "block[IND]",
        Uint,
        Place::U32(|i, _| &mut i.base.i_block[12]),
    ),
    field(
        "block[DIND]",
        Uint,
        Place::U32(|i, _| &mut i.base.i_block[13]),
    ),
    field(
        "block[TIND]",
        Uint,
        Place::U32(|i, _| &mut i.base.i_block[14]),
    ),
    field("generation", Uint, at!(U32, base.i_generation)),
    wide(
        "file_acl",
        at!(U32, base.i_file_acl),
        at!(U16, base.l_i_file_acl_high),
    ),
    field("faddr", Uint, at!(U32, base.i_faddr)),
    alias(
        "frag",
        Uint,
        Place::Part {
            width: 1,
            get: |i| u64::from(i.base.l_i_blocks_hi & 0xff),
            set: |i, v| i.base.l_i_blocks_hi = (i.base.l_i_blocks_hi & 0xff00) | v as u16,
        },
    ),
    field(
        "fsize",
        Uint,
        Place::Part {
            width: 1,
            get: |i| u64::from(i.base.l_i_blocks_hi >> 8),
            set: |i, v| i.base.l_i_blocks_hi = (i.base.l_i_blocks_hi & 0xff) | (v as u16) << 8,
        },
    ),
    Field {
        name: "checksum",
        kind: InodeCsum,
        lo: at!(U16, base.l_i_checksum_lo),
        hi: Some(at!(U16, extra.i_checksum_hi)),
        array: None,
        wide: false,
        alias: false,
    },
    alias(
        "author",
        Uint,
        Place::Part {
            width: 4,
            get: |i| u64::from(i.base.l_i_checksum_lo) | u64::from(i.base.l_i_reserved) << 16,
            set: |i, v| {
                i.base.l_i_checksum_lo = v as u16;
                i.base.l_i_reserved = (v >> 16) as u16;
            },
        },
    ),
    field("extra_isize", Uint, at!(U16, extra.i_extra_isize)),
    alias("ctime_extra", Uint, at!(U32, extra.i_ctime_extra)),
    alias("mtime_extra", Uint, at!(U32, extra.i_mtime_extra)),
    alias("atime_extra", Uint, at!(U32, extra.i_atime_extra)),
    split(
        "crtime",
        Time,
        at!(U32, extra.i_crtime),
        at!(U32, extra.i_crtime_extra),
    ),
    alias("crtime_extra", Uint, at!(U32, extra.i_crtime_extra)),
    field("projid", Uint, at!(U32, extra.i_projid)),
    Field {
        name: "bmap",
        kind: Bmap,
        lo: Place::Nowhere,
        hi: None,
        array: Some(0),
        wide: false,
        alias: false,
    },
];

/// debugfs 1.47.0's fields of a 32-byte (ext2) group descriptor.
pub static GROUP: &[Field<GroupDesc>] = &[
    field("block_bitmap", Uint, at!(U32, bg_block_bitmap)),
    field("inode_bitmap", Uint, at!(U32, bg_inode_bitmap)),
    field("inode_table", Uint, at!(U32, bg_inode_table)),
    field("free_blocks_count", Uint, at!(U16, bg_free_blocks_count)),
    field("free_inodes_count", Uint, at!(U16, bg_free_inodes_count)),
    field("used_dirs_count", Uint, at!(U16, bg_used_dirs_count)),
    field("flags", Uint, at!(U16, bg_flags)),
    field("itable_unused", Uint, at!(U16, bg_itable_unused)),
    field("checksum", GdCsum, at!(U16, bg_checksum)),
];

/// `_lo` or `_hi` at the end of a name longer than three characters.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Suffix {
    None,
    Lo,
    Hi,
}

fn suffix_of(name: &str) -> Suffix {
    if name.len() <= 3 {
        Suffix::None
    } else if name.ends_with("_lo") {
        Suffix::Lo
    } else if name.ends_with("_hi") {
        Suffix::Hi
    } else {
        Suffix::None
    }
}

/// A field found by name, with the array index the name gave.
pub struct Found<'t, T: 'static> {
    pub field: &'t Field<T>,
    pub index: usize,
}

/// Finds a field as debugfs' find_field: the structure's prefix (`s_`,
/// `i_`, `bg_`) is optional; `name[N]` gives an index (strtol, any base)
/// that an array field needs and other fields ignore (a bracket that is
/// not closed is dropped with what follows it); a `_lo`/`_hi` ending
/// picks a part of a split field. A negative index finds nothing (debugfs
/// would write before the array).
pub fn find<'t, T>(table: &'t [Field<T>], prefix: &str, given: &str) -> Option<Found<'t, T>> {
    let name = given.strip_prefix(prefix).unwrap_or(given);
    let (mut base, index) = match name.split_once('[') {
        None => (name, None),
        Some((base, rest)) => match rest.strip_suffix(']') {
            Some(inner) => match strtol(inner, 0) {
                Some(n) => (base, Some(n)),
                None => (name, None),
            },
            None => (base, None),
        },
    };
    let suffix = suffix_of(base);
    if suffix != Suffix::None {
        base = &base[..base.len() - 3];
    }
    let index = match index {
        Some(n) => Some(usize::try_from(n).ok()?),
        None => None,
    };
    let field = table.iter().find(|f| {
        if suffix != Suffix::None && f.hi.is_none() {
            return false;
        }
        match (f.array, index) {
            (Some(len), Some(i)) => f.name == base && (len == 0 || i < len as usize),
            (Some(_), None) => false,
            (None, _) => f.name == base,
        }
    })?;
    // Only an array uses its index; other fields ignore one given.
    let index = match field.array {
        Some(_) => index.unwrap_or(0),
        None => 0,
    };
    Some(Found { field, index })
}

/// A refusal worded as debugfs prints it on stderr, without the
/// request's name.
fn refuse(msg: String) -> anyhow::Error {
    Worded(msg).into()
}

fn cant_parse(arg: &str, f: &str) -> anyhow::Error {
    refuse(format!("Couldn't parse '{arg}' for field {f}."))
}

impl<T> Field<T> {
    /// Sets the field of `t` from `arg` (`given` is the name as typed:
    /// its `_lo`/`_hi` ending picks the part a number goes to). Not for
    /// `bmap` and the checksums' `calc`, which need the filesystem.
    pub fn assign(&self, index: usize, given: &str, arg: &str, t: &mut T) -> Result<()> {
        match self.kind {
            Uint | GdCsum | InodeCsum => self.assign_uint(index, given, arg, t),
            Encoding => match sbm::encoding_from_name(arg) {
                Some(e) => {
                    self.lo.set(t, index, u64::from(e));
                    Ok(())
                }
                None => self.assign_uint(index, given, arg, t),
            },
            Int => {
                let n = strtol(arg, 0).ok_or_else(|| cant_parse(arg, self.name))?;
                self.lo.set(t, index, n as u64);
                Ok(())
            }
            Time if suffix_of(given) != Suffix::None => self.assign_uint(index, given, arg, t),
            Time => {
                let secs = string_to_time(arg).ok_or_else(|| cant_parse(arg, self.name))?;
                self.lo.set(t, index, secs as u64);
                if let Some(hi) = &self.hi {
                    // The epoch bits change; the nanoseconds stay.
                    let kept = hi.get(t, index) & !u64::from(ext2fs::inode::EPOCH_MASK);
                    hi.set(t, index, kept | u64::from(ext2fs::inode::epoch_bits(secs)));
                }
                Ok(())
            }
            Str => {
                let Place::Bytes(at) = &self.lo else {
                    return Ok(());
                };
                let dest = at(t);
                if arg.len() >= dest.len() {
                    bail!(refuse(format!(
                        "Error maximum size for {} is {}.",
                        self.name,
                        dest.len()
                    )));
                }
                // strcpy: the string and its NUL; bytes after it stay.
                dest[..arg.len()].copy_from_slice(arg.as_bytes());
                dest[arg.len()] = 0;
                Ok(())
            }
            Uuid => {
                let u = ext2fs::uuid::from_arg(arg, u64::from(ext2fs::clock::now()))
                    .ok_or_else(|| refuse(format!("Invalid UUID format: {arg}")))?;
                match &self.lo {
                    Place::Bytes(at) => at(t).copy_from_slice(&u),
                    Place::Words(at) => *at(t) = ext2fs::uuid::seed_words(&u),
                    _ => {}
                }
                Ok(())
            }
            HashAlg => {
                let v = sbm::hash_version_from_name(arg)
                    .ok_or_else(|| refuse(format!("Invalid hash algorithm: {arg}")))?;
                self.lo.set(t, index, u64::from(v));
                Ok(())
            }
            Bmap => Ok(()),
        }
    }

    /// debugfs' parse_uint: the number must fit the part(s) it goes to
    /// (both for a split field named plainly, the low part with `_lo` or
    /// the high part with `_hi`); a plain name splits it in two.
    fn assign_uint(&self, index: usize, given: &str, arg: &str, t: &mut T) -> Result<()> {
        let num = strtoull(arg).ok_or_else(|| cant_parse(arg, self.name))?;
        let suffix = suffix_of(given);
        let (first, second) = match (suffix, &self.hi) {
            (Suffix::None, hi) => (&self.lo, hi.as_ref()),
            (Suffix::Lo, _) => (&self.lo, None),
            (Suffix::Hi, Some(hi)) => (hi, None),
            (Suffix::Hi, None) => return Err(cant_parse(arg, self.name)),
        };
        let lo_width = self.lo.width();
        let both = lo_width + self.hi.as_ref().map_or(0, |h| h.width());
        let limit_bytes = if second.is_some() || self.wide {
            both
        } else {
            lo_width
        };
        let limit = mask(limit_bytes);
        if num > limit {
            bail!(refuse(format!(
                "Value '{arg}' exceeds field {} maximum {limit}.",
                self.name
            )));
        }
        first.set(t, index, num);
        if let Some(hi) = second {
            hi.set(t, index, num.checked_shr(lo_width * 8).unwrap_or(0));
        }
        Ok(())
    }

    /// The name `-l` shows: `[N]` or `[]` for arrays, `[_hi|_lo]` for
    /// split fields.
    fn listed_name(&self) -> String {
        let mut n = self.name.to_string();
        match self.array {
            Some(0) => n.push_str("[]"),
            Some(len) => n.push_str(&format!("[{len}]")),
            None => {}
        }
        if self.hi.is_some() {
            n.push_str("[_hi|_lo]");
        }
        n
    }
}

/// Prints a table as `-l` does.
fn list<T>(s: &mut Session, what: &str, request: &str, table: &[Field<T>]) -> Result<()> {
    writeln!(s.out, "{what} fields supported by the {request} command:")?;
    for f in table {
        writeln!(s.out, "\t{:<25}\t{}", f.listed_name(), f.kind.listed())?;
    }
    Ok(())
}

/// Only `request -l` lists; debugfs checks the count before anything else.
fn wants_list(args: &[String]) -> bool {
    args.len() == 2 && args[1] == "-l"
}

fn usage(args: &[String], want: usize, text: &str) -> Result<()> {
    if args.len() != want {
        bail!("Usage: {text}");
    }
    Ok(())
}

fn invalid_field(given: &str) -> anyhow::Error {
    anyhow::anyhow!("invalid field specifier: {given}")
}

pub fn set_super_value(s: &mut Session, args: &[String]) -> Result<()> {
    if wants_list(args) {
        return list(s, "Superblock", "set_super_value", SUPER);
    }
    usage(
        args,
        3,
        "set_super_value <field> <value>\n\t\"set_super_value -l\" will list the names of superblock fields\n\twhich can be set.",
    )?;
    let fs = s.fs_rw()?;
    let found = find(SUPER, "s_", &args[1]).ok_or_else(|| invalid_field(&args[1]))?;
    let mut sb = *fs.sb();
    found
        .field
        .assign(found.index, &args[1], &args[2], &mut sb)?;
    fs.update_superblock(|s| *s = sb);
    Ok(())
}

pub fn set_inode_field(s: &mut Session, args: &[String]) -> Result<()> {
    if wants_list(args) {
        return list(s, "Inode", "set_inode", INODE);
    }
    usage(
        args,
        4,
        "set_inode <inode> <field> <value>\n\t\"set_inode_field -l\" will list the names of the fields in an ext2 inode\n\twhich can be set.",
    )?;
    s.fs_rw()?;
    let found = find(INODE, "i_", &args[2]).ok_or_else(|| invalid_field(&args[2]))?;
    let ino = s.inode_arg(&args[1])?;
    let fs = s.fs_rw()?;
    // As debugfs_read_inode2 and debugfs_write_inode2: the inode as it was
    // named leads the message.
    let named = &args[1];
    let mut inode = fs.read_inode(ino).map_err(|e| {
        Worded(format!(
            "{named}: {} while reading inode {ino}",
            e.com_err_text()
        ))
    })?;
    let (f, arg) = (found.field, &args[3]);
    match f.kind {
        Bmap => {
            // ext2 block numbers are 32 bits; the map keeps the low ones.
            let phys = strtoull(arg).ok_or_else(|| cant_parse(arg, f.name))? as u32;
            if let Err(e) = fs.bmap_set(&mut inode, found.index as u64, phys) {
                bail!(refuse(format!("set_inode: {e} while setting block map")));
            }
        }
        InodeCsum if arg == "calc" => {
            // ext2 keeps no inode checksum: debugfs reports what is there.
            let mut crc = u32::from(inode.base.l_i_checksum_lo);
            if inode.size > 128 && inode.extra.i_extra_isize >= 2 {
                crc |= u32::from(inode.extra.i_checksum_hi) << 16;
            }
            writeln!(s.out, "Checksum set to 0x{crc:08x}")?;
        }
        _ => f.assign(found.index, &args[2], arg, &mut inode)?,
    }
    let fs = s.fs_rw()?;
    fs.write_inode(ino, &inode).map_err(|e| {
        Worded(format!(
            "{named}: {} while writing inode {ino}",
            e.com_err_text()
        ))
    })?;
    Ok(())
}

pub fn set_bg(s: &mut Session, args: &[String]) -> Result<()> {
    if wants_list(args) {
        return list(s, "Block group descriptor", "set_block_group", GROUP);
    }
    usage(
        args,
        4,
        "set_block_group <bg number> <field> <value>\n\t\"set_block_group -l\" will list the names of the fields in a block group descriptor\n\twhich can be set.",
    )?;
    let fs = s.fs_rw()?;
    // strtoul into a 32-bit group number, printed back with %d.
    let group = strtoull(&args[1])
        .ok_or_else(|| anyhow::anyhow!("invalid block group number: {}", args[1]))?
        as u32;
    if group >= fs.geo().group_count {
        bail!("block group number too big: {}", group as i32);
    }
    let found = find(GROUP, "bg_", &args[2]).ok_or_else(|| invalid_field(&args[2]))?;
    let mut desc = fs.groups()[group as usize];
    if found.field.kind == GdCsum && args[3] == "calc" {
        let crc = ext2fs::group_desc::checksum(&fs.sb().s_uuid, group, &desc);
        desc.bg_checksum = crc;
        writeln!(s.out, "Checksum set to 0x{crc:04x}")?;
    } else {
        found
            .field
            .assign(found.index, &args[2], &args[3], &mut desc)?;
    }
    let fs = s.fs_rw()?;
    fs.update_group(group, |d| *d = desc)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every name once; no two non-alias fields over the same place
    /// (as set_fields.c's own unit test checks).
    fn check<T: Clone>(table: &[Field<T>], sample: &T) {
        for (i, f) in table.iter().enumerate() {
            assert!(
                table[..i].iter().all(|g| g.name != f.name),
                "{} twice",
                f.name
            );
            // Each numeric field is writable at its last index.
            let last = f.array.map_or(0, |n| n.saturating_sub(1) as usize);
            let mut t = sample.clone();
            f.lo.set(&mut t, last, 1);
        }
    }

    #[test]
    fn tables_are_consistent() {
        check(SUPER, &Superblock::default());
        check(INODE, &Inode::new(256));
        check(GROUP, &GroupDesc::default());
    }

    #[test]
    fn names_like_find_field() {
        let f = |n: &str| find(INODE, "i_", n).map(|x| (x.field.name, x.index));
        assert_eq!(f("i_block[3]"), Some(("block", 3)));
        assert_eq!(f("block[0x3]"), Some(("block", 3)));
        assert_eq!(f("block[12]"), None);
        assert_eq!(f("block[IND]"), Some(("block[IND]", 0)));
        assert_eq!(f("block"), None);
        assert_eq!(f("uid_hi"), Some(("uid", 0)));
        assert_eq!(f("mode_hi"), None);
        assert_eq!(f("mtime[7]"), Some(("mtime", 0)));
        assert_eq!(f("mtime[x"), Some(("mtime", 0)));
        assert_eq!(f("bmap[900]"), Some(("bmap", 900)));
        assert_eq!(f("block[-1]"), None);
        let s = |n: &str| find(SUPER, "s_", n).map(|x| x.field.name);
        assert_eq!(s("s_blocks_count_lo"), Some("blocks_count"));
        assert_eq!(s("mtime_hi"), None);
        assert_eq!(s("jnl_blocks[16]"), Some("jnl_blocks"));
        assert_eq!(s("jnl_blocks[17]"), None);
    }

    #[test]
    fn numbers_split_and_bounded() {
        let mut i = Inode::new(256);
        let f = find(INODE, "i_", "uid").unwrap().field;
        f.assign(0, "uid", "0x12345", &mut i).unwrap();
        assert_eq!((i.base.i_uid, i.base.l_i_uid_high), (0x2345, 1));
        assert!(f.assign(0, "uid", "0x100000000", &mut i).is_err());
        assert!(f.assign(0, "uid_lo", "0x10000", &mut i).is_err());
        let b = find(INODE, "i_", "blocks").unwrap().field;
        b.assign(0, "blocks", "0x200000001", &mut i).unwrap();
        assert_eq!((i.base.i_blocks, i.base.l_i_blocks_hi), (1, 2));
        assert!(b.assign(0, "blocks", "0x1000000000000", &mut i).is_err());
        let m = find(SUPER, "s_", "max_mnt_count").unwrap().field;
        let mut sb = Superblock::default();
        m.assign(0, "max_mnt_count", "-1", &mut sb).unwrap();
        assert_eq!(sb.s_max_mnt_count, 0xffff);
    }

    #[test]
    fn strings_keep_bytes_after_the_nul() {
        let mut sb = Superblock::default();
        let f = find(SUPER, "s_", "volume_name").unwrap().field;
        f.assign(0, "volume_name", "abcdef", &mut sb).unwrap();
        f.assign(0, "volume_name", "xy", &mut sb).unwrap();
        assert_eq!(&sb.s_volume_name[..7], b"xy\0def\0");
        assert!(f
            .assign(0, "volume_name", "0123456789abcdef", &mut sb)
            .is_err());
    }
}
