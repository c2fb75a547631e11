//! What libext2fs 1.47 says it supports (its EXT2_LIB_FEATURE_*_SUPP
//! masks and the journal features its jbd2 code knows), with the names
//! lib/e2p gives the bits: for tools that answer as e2fsprogs answers
//! (debugfs' `supported_features`). These are e2fsprogs' lists, not what
//! this library reads: see [`crate::features::SUPPORTED_INCOMPAT`].

use crate::features::{compat as c, incompat, ro_compat as r, FeatureKind, FEATURES};

/// EXT2_LIB_FEATURE_COMPAT_SUPP.
pub const LIB_COMPAT: u32 = c::DIR_PREALLOC
    | c::IMAGIC_INODES
    | c::HAS_JOURNAL
    | c::EXT_ATTR
    | c::RESIZE_INODE
    | c::DIR_INDEX
    | c::SPARSE_SUPER2
    | c::FAST_COMMIT
    | c::STABLE_INODES
    | c::ORPHAN_FILE;
/// EXT2_LIB_FEATURE_INCOMPAT_SUPP (with MMP built in).
pub const LIB_INCOMPAT: u32 = crate::features::LIBEXT2FS_INCOMPAT;
/// EXT2_LIB_FEATURE_RO_COMPAT_SUPP.
pub const LIB_RO_COMPAT: u32 = r::SPARSE_SUPER
    | r::LARGE_FILE
    | r::HUGE_FILE
    | r::GDT_CSUM
    | r::DIR_NLINK
    | r::EXTRA_ISIZE
    | r::QUOTA
    | r::BIGALLOC
    | r::METADATA_CSUM
    | r::READONLY
    | r::PROJECT
    | r::SHARED_BLOCKS
    | r::VERITY
    | r::ORPHAN_PRESENT;

/// JBD2_KNOWN_{COMPAT,INCOMPAT,ROCOMPAT}_FEATURES: revoke, 64bit,
/// async_commit, checksum v2 and v3, fast commit.
pub const JOURNAL_KNOWN: [u32; 3] = [0, 0x3f, 0];

/// Which list a feature name was found in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    /// The filesystem's features (e2p_feature2string).
    Filesystem,
    /// The journal's features (e2p_jrnl_feature2string).
    Journal,
}

/// lib/e2p's names of the journal feature bits (index: 0 compat, 1
/// incompat, 2 ro_compat).
const JOURNAL_NAMES: &[(usize, u32, &str)] = &[
    (0, 0x1, "journal_checksum"),
    (1, 0x1, "journal_incompat_revoke"),
    (1, 0x2, "journal_64bit"),
    (1, 0x4, "journal_async_commit"),
    (1, 0x8, "journal_checksum_v2"),
    (1, 0x10, "journal_checksum_v3"),
];

const KINDS: [FeatureKind; 3] = [
    FeatureKind::Compat,
    FeatureKind::Incompat,
    FeatureKind::RoCompat,
];

fn fallback_name(word: usize, mask: u32) -> String {
    format!("FEATURE_{}{}", ['C', 'I', 'R'][word], mask.trailing_zeros())
}

/// e2p_feature2string / e2p_jrnl_feature2string: the bit's name, else
/// `FEATURE_<C|I|R><bit>`. `word` is 0 compat, 1 incompat, 2 ro_compat.
pub fn feature_name(table: Table, word: usize, mask: u32) -> String {
    let known = match table {
        // lib/e2p knows neither the union bit nor our aliases.
        Table::Filesystem if word == 1 && mask == incompat::WHITEOUT => None,
        Table::Filesystem => FEATURES
            .iter()
            .find(|f| f.kind == KINDS[word] && f.mask == mask)
            .map(|f| f.name.to_string()),
        Table::Journal => JOURNAL_NAMES
            .iter()
            .find(|(w, m, _)| *w == word && *m == mask)
            .map(|(_, _, n)| n.to_string()),
    };
    known.unwrap_or_else(|| fallback_name(word, mask))
}

/// e2p_string2feature / e2p_jrnl_string2feature: (word, mask) of a name,
/// case-insensitive, or of the `FEATURE_<C|I|R><bit>` form.
pub fn feature_from_name(table: Table, name: &str) -> Option<(usize, u32)> {
    let named = match table {
        Table::Filesystem => FEATURES
            .iter()
            .filter(|f| !(f.kind == FeatureKind::Incompat && f.mask == incompat::WHITEOUT))
            .find(|f| f.name.eq_ignore_ascii_case(name))
            .map(|f| (KINDS.iter().position(|k| *k == f.kind).unwrap_or(0), f.mask)),
        Table::Journal => JOURNAL_NAMES
            .iter()
            .find(|(_, _, n)| n.eq_ignore_ascii_case(name))
            .map(|(w, m, _)| (*w, *m)),
    };
    if named.is_some() {
        return named;
    }
    let head = name.get(..8)?;
    if !head.eq_ignore_ascii_case("FEATURE_") {
        return None;
    }
    let word = match name.as_bytes().get(8)? {
        b'c' | b'C' => 0,
        b'i' | b'I' => 1,
        b'r' | b'R' => 2,
        _ => return None,
    };
    let bit = crate_strtol10(&name[9..])?;
    (0..=31).contains(&bit).then(|| (word, 1u32 << bit))
}

/// strtol(s, &end, 10) with `*end == 0` required (leading blanks and a
/// sign allowed, as strtol takes them).
fn crate_strtol10(s: &str) -> Option<i64> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    if s.is_empty() || t.is_empty() {
        return None;
    }
    t.parse::<i64>().ok()
}

/// The supported masks of `table` (compat, incompat, ro_compat).
pub fn supported(table: Table) -> [u32; 3] {
    match table {
        Table::Filesystem => [LIB_COMPAT, LIB_INCOMPAT, LIB_RO_COMPAT],
        Table::Journal => JOURNAL_KNOWN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_lookups_agree() {
        assert_eq!(feature_name(Table::Filesystem, 1, 0x40), "extent");
        assert_eq!(feature_name(Table::Journal, 1, 0x20), "FEATURE_I5");
        assert_eq!(
            feature_from_name(Table::Filesystem, "Metadata_Csum"),
            Some((2, 0x400))
        );
        assert_eq!(feature_from_name(Table::Filesystem, "whiteout"), None);
        assert_eq!(
            feature_from_name(Table::Journal, "feature_i5"),
            Some((1, 0x20))
        );
        assert_eq!(feature_from_name(Table::Journal, "FEATURE_I32"), None);
        assert_eq!(feature_from_name(Table::Journal, "FEATURE_I"), None);
    }
}
