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
        }
    }
}

const HELP: &str = "\nExtended options are separated by commas, and may take an argument which\n\
is set off by an equals ('=') sign.  Valid extended options are:\n\
\tstride=<RAID per-disk data chunk in blocks>\n\
\tstripe_width=<RAID stride * data disks in blocks>\n\
\tresize=<resize maximum size in blocks>\n\
\troot_owner=<uid of root dir>:<gid of root dir>\n\
\thash_seed=<UUID for the directory hash seed>\n\
\toffset=<offset to create the file system>\n\
\tlazy_itable_init=<0 to disable, 1 to enable>\n\
\tdiscard\n\
\tnodiscard\n\
\tunion_source=<overlay|oci|plain> (-d markers, with -O whiteout or several -d)\n";

fn num(k: &str, v: Option<&str>) -> Result<u64, String> {
    let v = v.ok_or_else(|| format!("Invalid {k} parameter: (missing)\n{HELP}"))?;
    v.parse::<u64>()
        .map_err(|_| format!("Invalid {k} parameter: {v}\n{HELP}"))
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
                    "stride" => e.stride = num(k, v)? as u32,
                    "stripe_width" | "stripe-width" => e.stripe_width = num(k, v)? as u32,
                    "resize" => e.resize = Some(num(k, v)?),
                    "offset" => e.offset = num(k, v)?,
                    "discard" => e.discard = Some(true),
                    // strtoul(arg, 0): anything not a number counts as 0.
                    "lazy_itable_init" => {
                        e.lazy_itable_init = Some(v.is_none_or(|v| ext2fs::clock::strtoul(v) != 0))
                    }
                    "nodiscard" => e.discard = Some(false),
                    "root_owner" => {
                        e.root_owner = Some(match v {
                            None => (
                                rustix::process::getuid().as_raw(),
                                rustix::process::getgid().as_raw(),
                            ),
                            Some(s) => {
                                let (u, g) = s
                                    .split_once(':')
                                    .ok_or_else(|| format!("Invalid root_owner: '{s}'\n{HELP}"))?;
                                let u = u
                                    .parse()
                                    .map_err(|_| format!("Invalid root_owner: '{s}'\n{HELP}"))?;
                                let g = g
                                    .parse()
                                    .map_err(|_| format!("Invalid root_owner: '{s}'\n{HELP}"))?;
                                (u, g)
                            }
                        })
                    }
                    "hash_seed" => {
                        let s = v.unwrap_or("");
                        e.hash_seed = Some(
                            ext2fs::uuid::parse(s)
                                .ok_or_else(|| format!("Invalid UUID format: {s}\n{HELP}"))?,
                        );
                    }
                    "union_source" => {
                        e.union_source = match v {
                            Some("overlay") => UnionSource::Overlay,
                            Some("oci") => UnionSource::Oci,
                            Some("plain") | Some("none") => UnionSource::Plain,
                            other => {
                                return Err(format!(
                                    "Invalid union_source: {} (overlay, oci or plain)\n{HELP}",
                                    other.unwrap_or("(missing)")
                                ))
                            }
                        }
                    }
                    _ => return Err(format!("\nBad option(s) specified: {k}\n{HELP}")),
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
