//! `-E` extended options, as mke2fs spells them.

/// How `-d` sources mark union objects (with `-O whiteout`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnionSource {
    /// Copy everything as it is.
    Plain,
    /// overlayfs upper dir: char device 0/0 = whiteout,
    /// trusted.overlay.opaque=y = opaque directory.
    Overlay,
    /// OCI layer: `.wh.NAME` = whiteout of NAME, `.wh..wh..opq` = opaque.
    Oci,
}

#[derive(Clone, Debug)]
pub struct Extended {
    pub stride: u32,
    pub stripe_width: u32,
    pub resize: Option<u64>,
    pub root_owner: Option<(u32, u32)>,
    pub hash_seed: Option<[u8; 16]>,
    /// discard/nodiscard: None leaves mke2fs.conf's choice (discard).
    pub discard: Option<bool>,
    pub offset: u64,
    pub union_source: UnionSource,
    /// lazy_itable_init[=n]: None leaves mke2fs.conf's choice.
    pub lazy_itable_init: Option<bool>,
    /// num_backup_sb (sparse_super2's backups, 0-2): None leaves
    /// mke2fs.conf's choice (2).
    pub num_backup_sb: Option<i32>,
}

impl Default for Extended {
    fn default() -> Self {
        Extended {
            stride: 0,
            stripe_width: 0,
            resize: None,
            root_owner: None,
            hash_seed: None,
            discard: None,
            offset: 0,
            union_source: UnionSource::Overlay,
            lazy_itable_init: None,
            num_backup_sb: None,
        }
    }
}

/// The options listed after a refusal, in mke2fs' words and order for
/// those we share (hash_seed is taken but, as there, not listed).
const VALID: &str = "\tnum_backup_sb=<0|1|2>\n\
\tstride=<RAID per-disk data chunk in blocks>\n\
\tstripe-width=<RAID stride * data disks in blocks>\n\
\toffset=<offset to create the file system>\n\
\tresize=<resize maximum size in blocks>\n\
\tlazy_itable_init=<0 to disable, 1 to enable>\n\
\troot_owner=<uid of root dir>:<gid of root dir>\n\
\tdiscard\n\
\tnodiscard\n\
\tunion_source=<overlay|oci|plain> (-d markers, with -O whiteout or several -d)\n";

/// mke2fs' refusal of its -E list: the option's own complaint (if any),
/// then "Bad option(s) specified" naming an option given no argument or
/// unknown, and the list of valid options.
fn refuse(complaint: Option<String>, badopt: &str) -> String {
    format!(
        "{}\nBad option(s) specified: {badopt}\n\n\
         Extended options are separated by commas, and may take an argument which\n\
         \tis set off by an equals ('=') sign.\n\n\
         Valid extended options are:\n{VALID}",
        complaint.map(|c| c + "\n").unwrap_or_default()
    )
}

/// A number option's argument; `what` is how mke2fs names it when it is
/// not one ("stride parameter", "offset").
fn num(k: &str, what: &str, v: Option<&str>) -> Result<u64, String> {
    let v = v.ok_or_else(|| refuse(None, k))?;
    v.parse::<u64>()
        .map_err(|_| refuse(Some(format!("Invalid {what}: {v}")), ""))
}

/// strtoul(s, &end, 0) that must use the whole string (empty is 0): a
/// sign is taken, a minus wrapping as strtoul's does, and a number past
/// 64 bits saturates.
pub fn whole_number(s: &str) -> Option<u64> {
    let s = s.trim_start();
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (digits, radix) = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => (h, 16),
        None if s.starts_with('0') => (s, 8),
        None => (s, 10),
    };
    let v = if digits.is_empty() {
        (radix != 16).then_some(0)?
    } else if digits.chars().all(|c| c.is_digit(radix)) {
        u64::from_str_radix(digits, radix).unwrap_or(u64::MAX)
    } else {
        return None;
    };
    Some(if negative { v.wrapping_neg() } else { v })
}

impl Extended {
    pub fn parse(lists: &[String]) -> Result<Self, String> {
        let mut e = Extended::default();
        for list in lists {
            for item in list.split(',').filter(|s| !s.is_empty()) {
                let (k, v) = match item.split_once('=') {
                    Some((k, v)) => (k, Some(v)),
                    None => (item, None),
                };
                match k {
                    "stride" => e.stride = num(k, "stride parameter", v)? as u32,
                    "stripe_width" | "stripe-width" => {
                        e.stripe_width = num(k, "stripe-width parameter", v)? as u32
                    }
                    "resize" => e.resize = Some(num(k, "resize parameter", v)?),
                    "offset" => e.offset = num(k, "offset", v)?,
                    "discard" => e.discard = Some(true),
                    // strtoul(arg, 0): anything not a number counts as 0.
                    "lazy_itable_init" => {
                        e.lazy_itable_init = Some(v.is_none_or(|v| ext2fs::clock::strtoul(v) != 0))
                    }
                    "nodiscard" => e.discard = Some(false),
                    // strtoul(arg, &p, 0) with nothing after the number.
                    "num_backup_sb" => {
                        let Some(v) = v else {
                            return Err(refuse(None, k));
                        };
                        // Kept in an int, as mke2fs keeps it: a negative
                        // count passes its "> 2" check and asks for none.
                        let n = whole_number(v)
                            .map(|n| n as i32)
                            .filter(|&n| n <= 2)
                            .ok_or_else(|| {
                                refuse(Some(format!("Invalid # of backup superblocks: {v}")), "")
                            })?;
                        e.num_backup_sb = Some(n);
                    }
                    "root_owner" => {
                        e.root_owner = Some(match v {
                            None => (
                                rustix::process::getuid().as_raw(),
                                rustix::process::getgid().as_raw(),
                            ),
                            Some(s) => {
                                let (u, g) = s.split_once(':').ok_or_else(|| {
                                    refuse(Some(format!("Invalid root_owner: '{s}'")), "")
                                })?;
                                let u = u.parse().map_err(|_| {
                                    refuse(Some(format!("Invalid root_owner: '{s}'")), "")
                                })?;
                                let g = g.parse().map_err(|_| {
                                    refuse(Some(format!("Invalid root_owner: '{s}'")), "")
                                })?;
                                (u, g)
                            }
                        })
                    }
                    "hash_seed" => {
                        let s = v.unwrap_or("");
                        e.hash_seed =
                            Some(ext2fs::uuid::parse(s).ok_or_else(|| {
                                refuse(Some(format!("Invalid hash seed: {s}")), "")
                            })?);
                    }
                    "union_source" => {
                        e.union_source = match v {
                            Some("overlay") => UnionSource::Overlay,
                            Some("oci") => UnionSource::Oci,
                            Some("plain") | Some("none") => UnionSource::Plain,
                            other => {
                                return Err(refuse(
                                    Some(format!(
                                        "Invalid union_source: {} (overlay, oci or plain)",
                                        other.unwrap_or("(missing)")
                                    )),
                                    "",
                                ))
                            }
                        }
                    }
                    _ => return Err(refuse(None, k)),
                }
            }
        }
        if e.stride != 0 && e.stripe_width != 0 && e.stripe_width % e.stride != 0 {
            eprintln!(
                "\nWarning: RAID stripe-width {} not an even multiple of stride {}.\n",
                e.stripe_width, e.stride
            );
        }
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let e = Extended::parse(&[
            "stride=4,stripe_width=8,root_owner=1:2".into(),
            "nodiscard,offset=4096".into(),
        ])
        .unwrap();
        assert_eq!(
            (e.stride, e.stripe_width, e.root_owner, e.discard, e.offset),
            (4, 8, Some((1, 2)), Some(false), 4096)
        );
        assert!(Extended::parse(&["bogus".into()])
            .unwrap_err()
            .contains("Bad option"));
        assert!(Extended::parse(&["stride=x".into()]).is_err());
        assert!(Extended::parse(&["union_source=foo".into()]).is_err());
        assert_eq!(
            Extended::parse(&["union_source=oci".into()])
                .unwrap()
                .union_source,
            UnionSource::Oci
        );
    }
}
