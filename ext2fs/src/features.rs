//! The feature flag table with the names e2fsprogs uses (lib/e2p/feature.c),
//! plus the union-mount `whiteout` incompat feature.

/// Which of the three superblock feature words a flag lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FeatureKind {
    /// s_feature_compat: a kernel without the feature may still write.
    Compat,
    /// s_feature_incompat: a kernel without the feature must not mount.
    Incompat,
    /// s_feature_ro_compat: a kernel without the feature may only read.
    RoCompat,
}

/// s_feature_compat bits.
pub mod compat {
    /// dir_prealloc: preallocate directory blocks.
    pub const DIR_PREALLOC: u32 = 0x0001;
    /// imagic_inodes: AFS server inodes.
    pub const IMAGIC_INODES: u32 = 0x0002;
    /// has_journal: an ext3 journal.
    pub const HAS_JOURNAL: u32 = 0x0004;
    /// ext_attr: extended attributes.
    pub const EXT_ATTR: u32 = 0x0008;
    /// resize_inode: GDT blocks reserved for online growth.
    pub const RESIZE_INODE: u32 = 0x0010;
    /// dir_index: hash-indexed directories.
    pub const DIR_INDEX: u32 = 0x0020;
    /// lazy_bg: uninitialised groups (obsolete).
    pub const LAZY_BG: u32 = 0x0040;
    /// snapshot_bitmap: snapshot exclude bitmap.
    pub const EXCLUDE_BITMAP: u32 = 0x0100;
    /// sparse_super2: at most two backup superblocks.
    pub const SPARSE_SUPER2: u32 = 0x0200;
    /// fast_commit: ext4 fast-commit journal.
    pub const FAST_COMMIT: u32 = 0x0400;
    /// stable_inodes: inode numbers never change.
    pub const STABLE_INODES: u32 = 0x0800;
    /// orphan_file: orphans kept in a file.
    pub const ORPHAN_FILE: u32 = 0x1000;
}

/// s_feature_incompat bits.
pub mod incompat {
    /// compression (old compression patches).
    pub const COMPRESSION: u32 = 0x0001;
    /// filetype: directory entries carry a file type.
    pub const FILETYPE: u32 = 0x0002;
    /// needs_recovery: the journal must be replayed.
    pub const RECOVER: u32 = 0x0004;
    /// journal_dev: an external journal device.
    pub const JOURNAL_DEV: u32 = 0x0008;
    /// meta_bg: descriptors spread over meta groups.
    pub const META_BG: u32 = 0x0010;
    /// Union mounts: whiteouts, fallthrus and opaque directories.
    pub const WHITEOUT: u32 = 0x0020;
    /// extent: extent-mapped files (ext4).
    pub const EXTENTS: u32 = 0x0040;
    /// 64bit: 64-bit block numbers (ext4).
    pub const BIT64: u32 = 0x0080;
    /// mmp: multiple mount protection.
    pub const MMP: u32 = 0x0100;
    /// flex_bg: group metadata packed together.
    pub const FLEX_BG: u32 = 0x0200;
    /// ea_inode: xattr values in inodes.
    pub const EA_INODE: u32 = 0x0400;
    /// dirdata: data in directory entries (Lustre).
    pub const DIRDATA: u32 = 0x1000;
    /// metadata_csum_seed: checksum seed in the superblock.
    pub const CSUM_SEED: u32 = 0x2000;
    /// large_dir: directories past 2 GiB and 3-level htrees.
    pub const LARGEDIR: u32 = 0x4000;
    /// inline_data: data kept in the inode.
    pub const INLINE_DATA: u32 = 0x8000;
    /// encrypt: encrypted files.
    pub const ENCRYPT: u32 = 0x10000;
    /// casefold: case-insensitive directories.
    pub const CASEFOLD: u32 = 0x20000;
}

/// s_feature_ro_compat bits.
pub mod ro_compat {
    /// sparse_super: backups only in groups 0, 1 and powers of 3, 5, 7.
    pub const SPARSE_SUPER: u32 = 0x0001;
    /// large_file: files of 2 GiB or more.
    pub const LARGE_FILE: u32 = 0x0002;
    /// btree_dir (never used).
    pub const BTREE_DIR: u32 = 0x0004;
    /// huge_file: files past 2 TiB (ext4).
    pub const HUGE_FILE: u32 = 0x0008;
    /// uninit_bg: group descriptor checksums.
    pub const GDT_CSUM: u32 = 0x0010;
    /// dir_nlink: more than 65000 subdirectories.
    pub const DIR_NLINK: u32 = 0x0020;
    /// extra_isize: large inodes keep s_min_extra_isize.
    pub const EXTRA_ISIZE: u32 = 0x0040;
    /// snapshot (next3 snapshots).
    pub const HAS_SNAPSHOT: u32 = 0x0080;
    /// quota: quota inodes.
    pub const QUOTA: u32 = 0x0100;
    /// bigalloc: allocation in clusters.
    pub const BIGALLOC: u32 = 0x0200;
    /// metadata_csum: checksums on all metadata.
    pub const METADATA_CSUM: u32 = 0x0400;
    /// replica (Lustre).
    pub const REPLICA: u32 = 0x0800;
    /// read-only: the filesystem must not be written.
    pub const READONLY: u32 = 0x1000;
    /// project: project quota.
    pub const PROJECT: u32 = 0x2000;
    /// shared_blocks: blocks shared between files.
    pub const SHARED_BLOCKS: u32 = 0x4000;
    /// verity: fs-verity files.
    pub const VERITY: u32 = 0x8000;
    /// orphan_present: the orphan file holds inodes (ext4; set by the
    /// kernel in the primary superblock only).
    pub const ORPHAN_PRESENT: u32 = 0x1_0000;
}

/// One named feature flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Feature {
    /// The word it lives in.
    pub kind: FeatureKind,
    /// Its bit.
    pub mask: u32,
    /// Its name as e2fsprogs spells it (lib/e2p/feature.c).
    pub name: &'static str,
}

const fn f(kind: FeatureKind, mask: u32, name: &'static str) -> Feature {
    Feature { kind, mask, name }
}

use FeatureKind::{Compat as C, Incompat as I, RoCompat as R};

/// Every feature with its e2fsprogs name, in the order `dumpe2fs` lists
/// them (compat, then incompat, then ro_compat, each by bit). Aliases
/// follow their primary name and are only used for parsing.
pub const FEATURES: &[Feature] = &[
    f(C, compat::DIR_PREALLOC, "dir_prealloc"),
    f(C, compat::HAS_JOURNAL, "has_journal"),
    f(C, compat::IMAGIC_INODES, "imagic_inodes"),
    f(C, compat::EXT_ATTR, "ext_attr"),
    f(C, compat::DIR_INDEX, "dir_index"),
    f(C, compat::RESIZE_INODE, "resize_inode"),
    f(C, compat::LAZY_BG, "lazy_bg"),
    f(C, compat::EXCLUDE_BITMAP, "snapshot_bitmap"),
    f(C, compat::SPARSE_SUPER2, "sparse_super2"),
    f(C, compat::FAST_COMMIT, "fast_commit"),
    f(C, compat::STABLE_INODES, "stable_inodes"),
    f(C, compat::ORPHAN_FILE, "orphan_file"),
    f(R, ro_compat::SPARSE_SUPER, "sparse_super"),
    f(R, ro_compat::LARGE_FILE, "large_file"),
    f(R, ro_compat::HUGE_FILE, "huge_file"),
    f(R, ro_compat::GDT_CSUM, "uninit_bg"),
    f(R, ro_compat::GDT_CSUM, "uninit_groups"),
    f(R, ro_compat::DIR_NLINK, "dir_nlink"),
    f(R, ro_compat::EXTRA_ISIZE, "extra_isize"),
    f(R, ro_compat::QUOTA, "quota"),
    f(R, ro_compat::BIGALLOC, "bigalloc"),
    f(R, ro_compat::METADATA_CSUM, "metadata_csum"),
    f(R, ro_compat::REPLICA, "replica"),
    f(R, ro_compat::READONLY, "read-only"),
    f(R, ro_compat::PROJECT, "project"),
    f(R, ro_compat::SHARED_BLOCKS, "shared_blocks"),
    f(R, ro_compat::VERITY, "verity"),
    f(R, ro_compat::ORPHAN_PRESENT, "orphan_present"),
    f(I, incompat::COMPRESSION, "compression"),
    f(I, incompat::FILETYPE, "filetype"),
    f(I, incompat::RECOVER, "needs_recovery"),
    f(I, incompat::JOURNAL_DEV, "journal_dev"),
    f(I, incompat::EXTENTS, "extent"),
    f(I, incompat::EXTENTS, "extents"),
    f(I, incompat::META_BG, "meta_bg"),
    f(I, incompat::BIT64, "64bit"),
    f(I, incompat::MMP, "mmp"),
    f(I, incompat::FLEX_BG, "flex_bg"),
    f(I, incompat::EA_INODE, "ea_inode"),
    f(I, incompat::DIRDATA, "dirdata"),
    f(I, incompat::CSUM_SEED, "metadata_csum_seed"),
    f(I, incompat::LARGEDIR, "large_dir"),
    f(I, incompat::INLINE_DATA, "inline_data"),
    f(I, incompat::ENCRYPT, "encrypt"),
    f(I, incompat::CASEFOLD, "casefold"),
    f(I, incompat::CASEFOLD, "fname_encoding"),
    f(I, incompat::WHITEOUT, "whiteout"),
    f(I, incompat::WHITEOUT, "fallthru"),
];

/// The three feature words of a superblock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FeatureSet {
    /// s_feature_compat.
    pub compat: u32,
    /// s_feature_incompat.
    pub incompat: u32,
    /// s_feature_ro_compat.
    pub ro_compat: u32,
}

impl FeatureSet {
    /// The word of `kind`.
    pub fn word(&self, kind: FeatureKind) -> u32 {
        match kind {
            FeatureKind::Compat => self.compat,
            FeatureKind::Incompat => self.incompat,
            FeatureKind::RoCompat => self.ro_compat,
        }
    }

    fn word_mut(&mut self, kind: FeatureKind) -> &mut u32 {
        match kind {
            FeatureKind::Compat => &mut self.compat,
            FeatureKind::Incompat => &mut self.incompat,
            FeatureKind::RoCompat => &mut self.ro_compat,
        }
    }

    /// Whether any bit of `mask` is set in the word of `kind`.
    pub fn has(&self, kind: FeatureKind, mask: u32) -> bool {
        self.word(kind) & mask != 0
    }

    /// Sets (`on`) or clears the bits of `mask` in the word of `kind`.
    pub fn set(&mut self, kind: FeatureKind, mask: u32, on: bool) {
        let w = self.word_mut(kind);
        if on {
            *w |= mask;
        } else {
            *w &= !mask;
        }
    }

    /// Names of the set features in `dumpe2fs` order; unknown bits are
    /// named like e2fsprogs does (`FEATURE_I31`).
    pub fn names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (kind, prefix) in [
            (FeatureKind::Compat, 'C'),
            (FeatureKind::Incompat, 'I'),
            (FeatureKind::RoCompat, 'R'),
        ] {
            let word = self.word(kind);
            for bit in 0..32 {
                let mask = 1u32 << bit;
                if word & mask == 0 {
                    continue;
                }
                match FEATURES.iter().find(|f| f.kind == kind && f.mask == mask) {
                    Some(f) => out.push(f.name.to_string()),
                    None => out.push(format!("FEATURE_{prefix}{bit}")),
                }
            }
        }
        out
    }

    /// The feature list as dumpe2fs and debugfs print it: names separated
    /// by spaces, `(none)` when empty.
    pub fn to_list(&self) -> String {
        let n = self.names();
        if n.is_empty() {
            "(none)".into()
        } else {
            n.join(" ")
        }
    }

    /// Applies an e2fsprogs-style edit list: `a,^b,-c,+d` (`^`/`-` clear,
    /// `+` or nothing sets). `none` / `clear` clears everything.
    pub fn apply_edit(&mut self, list: &str) -> Result<(), String> {
        for item in list.split([',', ' ', '\t']).filter(|s| !s.is_empty()) {
            let (on, name) = match item.as_bytes()[0] {
                b'^' | b'-' => (false, &item[1..]),
                b'+' => (true, &item[1..]),
                _ => (true, item),
            };
            if name.eq_ignore_ascii_case("none") || name.eq_ignore_ascii_case("clear") {
                *self = FeatureSet::default();
                continue;
            }
            let feat =
                lookup(name).ok_or_else(|| format!("Invalid filesystem option set: {list}"))?;
            self.set(feat.kind, feat.mask, on);
        }
        Ok(())
    }
}

/// Finds a feature by its e2fsprogs name (case-insensitive), or by the
/// `FEATURE_C12` form.
pub fn lookup(name: &str) -> Option<Feature> {
    if let Some(f) = FEATURES.iter().find(|f| f.name.eq_ignore_ascii_case(name)) {
        return Some(*f);
    }
    let rest = name
        .strip_prefix("FEATURE_")
        .or_else(|| name.strip_prefix("feature_"))?;
    let kind = match rest.as_bytes().first()? {
        b'C' | b'c' => FeatureKind::Compat,
        b'I' | b'i' => FeatureKind::Incompat,
        b'R' | b'r' => FeatureKind::RoCompat,
        _ => return None,
    };
    let bit: u32 = rest[1..].parse().ok()?;
    (bit < 32).then_some(Feature {
        kind,
        mask: 1 << bit,
        name: "",
    })
}

/// Features this library understands well enough to read an ext2 image.
pub const SUPPORTED_INCOMPAT: u32 = incompat::FILETYPE | incompat::WHITEOUT | incompat::META_BG;
/// The incompat bits libext2fs 1.47 opens (its EXT2_LIB_FEATURE_INCOMPAT_SUPP
/// with MMP built in): filetype, needs_recovery, journal_dev, meta_bg,
/// extent, 64bit, mmp, flex_bg, ea_inode, metadata_csum_seed, large_dir,
/// inline_data, encrypt and casefold. A tool wording an open as e2fsprogs
/// does tells these from the features e2fsprogs refuses too.
pub const LIBEXT2FS_INCOMPAT: u32 = incompat::FILETYPE
    | incompat::RECOVER
    | incompat::JOURNAL_DEV
    | incompat::META_BG
    | incompat::EXTENTS
    | incompat::BIT64
    | incompat::MMP
    | incompat::FLEX_BG
    | incompat::EA_INODE
    | incompat::CSUM_SEED
    | incompat::LARGEDIR
    | incompat::INLINE_DATA
    | incompat::ENCRYPT
    | incompat::CASEFOLD;
/// Read-only-compatible features we can write without corrupting.
pub const SUPPORTED_RO_COMPAT: u32 =
    ro_compat::SPARSE_SUPER | ro_compat::LARGE_FILE | ro_compat::BTREE_DIR;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dumpe2fs_order() {
        let fs = FeatureSet {
            compat: compat::EXT_ATTR | compat::RESIZE_INODE | compat::DIR_INDEX,
            incompat: incompat::FILETYPE | incompat::WHITEOUT,
            ro_compat: ro_compat::SPARSE_SUPER | ro_compat::LARGE_FILE,
        };
        assert_eq!(
            fs.names(),
            [
                "ext_attr",
                "resize_inode",
                "dir_index",
                "filetype",
                "whiteout",
                "sparse_super",
                "large_file"
            ]
        );
    }

    #[test]
    fn edit_list_sets_and_clears() {
        let mut fs = FeatureSet::default();
        fs.apply_edit("filetype,sparse_super,fallthru").unwrap();
        assert!(fs.has(FeatureKind::Incompat, incompat::WHITEOUT));
        fs.apply_edit("^whiteout,-sparse_super").unwrap();
        assert_eq!(fs.incompat, incompat::FILETYPE);
        assert_eq!(fs.ro_compat, 0);
        assert!(fs.apply_edit("no_such_thing").is_err());
        fs.apply_edit("FEATURE_C12").unwrap();
        assert_eq!(fs.compat, 1 << 12);
    }
}
