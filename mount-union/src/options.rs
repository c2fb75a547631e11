//! mount(8) options: a table from option name to the mount(2) flag it sets
//! or clears; everything else goes to the filesystem as mount data.

/// mount(2) flags (linux/mount.h).
pub mod ms {
    pub const RDONLY: u64 = 1;
    pub const NOSUID: u64 = 2;
    pub const NODEV: u64 = 4;
    pub const NOEXEC: u64 = 8;
    pub const SYNCHRONOUS: u64 = 16;
    pub const REMOUNT: u64 = 32;
    pub const MANDLOCK: u64 = 64;
    pub const DIRSYNC: u64 = 128;
    /// The union-mount patch set's MS_UNION. Mainline (5.10+) reuses this
    /// bit as MS_NOSYMFOLLOW.
    pub const UNION: u64 = 256;
    pub const NOATIME: u64 = 1024;
    pub const NODIRATIME: u64 = 2048;
    pub const BIND: u64 = 4096;
    pub const REC: u64 = 16384;
    pub const RELATIME: u64 = 1 << 21;
    pub const STRICTATIME: u64 = 1 << 24;
}

/// What an option does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Effect {
    Set(u64),
    Clear(u64),
}

const TABLE: &[(&str, Effect)] = &[
    ("ro", Effect::Set(ms::RDONLY)),
    ("rw", Effect::Clear(ms::RDONLY)),
    ("nosuid", Effect::Set(ms::NOSUID)),
    ("suid", Effect::Clear(ms::NOSUID)),
    ("nodev", Effect::Set(ms::NODEV)),
    ("dev", Effect::Clear(ms::NODEV)),
    ("noexec", Effect::Set(ms::NOEXEC)),
    ("exec", Effect::Clear(ms::NOEXEC)),
    ("sync", Effect::Set(ms::SYNCHRONOUS)),
    ("async", Effect::Clear(ms::SYNCHRONOUS)),
    ("dirsync", Effect::Set(ms::DIRSYNC)),
    ("remount", Effect::Set(ms::REMOUNT)),
    ("bind", Effect::Set(ms::BIND)),
    ("rbind", Effect::Set(ms::BIND | ms::REC)),
    ("union", Effect::Set(ms::UNION)),
    ("noatime", Effect::Set(ms::NOATIME)),
    ("atime", Effect::Clear(ms::NOATIME)),
    ("nodiratime", Effect::Set(ms::NODIRATIME)),
    ("diratime", Effect::Clear(ms::NODIRATIME)),
    ("relatime", Effect::Set(ms::RELATIME)),
    ("norelatime", Effect::Clear(ms::RELATIME)),
    ("strictatime", Effect::Set(ms::STRICTATIME)),
    ("nostrictatime", Effect::Clear(ms::STRICTATIME)),
    ("mand", Effect::Set(ms::MANDLOCK)),
    ("nomand", Effect::Clear(ms::MANDLOCK)),
];

/// Names of the flags, in bit order, for -v.
pub fn flag_names(flags: u64) -> Vec<&'static str> {
    let names = [
        (ms::RDONLY, "MS_RDONLY"),
        (ms::NOSUID, "MS_NOSUID"),
        (ms::NODEV, "MS_NODEV"),
        (ms::NOEXEC, "MS_NOEXEC"),
        (ms::SYNCHRONOUS, "MS_SYNCHRONOUS"),
        (ms::REMOUNT, "MS_REMOUNT"),
        (ms::MANDLOCK, "MS_MANDLOCK"),
        (ms::DIRSYNC, "MS_DIRSYNC"),
        (ms::UNION, "MS_UNION"),
        (ms::NOATIME, "MS_NOATIME"),
        (ms::NODIRATIME, "MS_NODIRATIME"),
        (ms::BIND, "MS_BIND"),
        (ms::REC, "MS_REC"),
        (ms::RELATIME, "MS_RELATIME"),
        (ms::STRICTATIME, "MS_STRICTATIME"),
    ];
    names
        .iter()
        .filter(|(b, _)| flags & b != 0)
        .map(|(_, n)| *n)
        .collect()
}

/// The parsed -o list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MountOptions {
    pub flags: u64,
    /// Filesystem-specific options, passed as mount(2) data.
    pub data: Vec<String>,
    /// `loop` or `loop=/dev/loopN`.
    pub loop_dev: Option<Option<String>>,
    pub offset: u64,
}

impl MountOptions {
    /// Applies one comma-separated -o list (later options win).
    pub fn apply(&mut self, list: &str) -> Result<(), String> {
        for opt in list.split(',').filter(|s| !s.is_empty()) {
            let (name, value) = match opt.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (opt, None),
            };
            if let Some((_, eff)) = TABLE.iter().find(|(n, _)| *n == name) {
                if value.is_some() {
                    return Err(format!("option '{name}' takes no value"));
                }
                match *eff {
                    Effect::Set(b) => self.flags |= b,
                    Effect::Clear(b) => self.flags &= !b,
                }
                continue;
            }
            match name {
                "loop" => self.loop_dev = Some(value.map(str::to_string)),
                "offset" => {
                    let v = value.ok_or("offset= needs a number of bytes")?;
                    self.offset = v.parse().map_err(|_| format!("bad offset '{v}'"))?;
                }
                // mount(8) options that never reach the kernel.
                "defaults" | "auto" | "noauto" | "user" | "nouser" | "users" | "nofail"
                | "_netdev" => {}
                _ => self.data.push(opt.to_string()),
            }
        }
        Ok(())
    }

    /// Takes `lowerdir=DIR[:DIR...]` out of the data options (the first
    /// directory is the highest lower layer, as in overlayfs).
    pub fn take_lowerdir(&mut self) -> Result<Vec<std::path::PathBuf>, String> {
        let mut out = Vec::new();
        let mut rest = Vec::new();
        for d in self.data.drain(..) {
            match d.strip_prefix("lowerdir=") {
                Some(v) => {
                    if v.is_empty() || v.split(':').any(str::is_empty) {
                        return Err(format!("bad lowerdir '{v}'"));
                    }
                    out = v.split(':').map(std::path::PathBuf::from).collect();
                }
                None => rest.push(d),
            }
        }
        self.data = rest;
        Ok(out)
    }

    /// Takes the value-less data option `name` out (true when given).
    pub fn take_flag(&mut self, name: &str) -> bool {
        let before = self.data.len();
        self.data.retain(|d| d != name);
        self.data.len() != before
    }

    pub fn data_string(&self) -> String {
        self.data.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_driven() {
        let cases: &[(&str, u64, &str)] = &[
            ("ro", ms::RDONLY, ""),
            ("ro,rw", 0, ""),
            ("union,noatime", ms::UNION | ms::NOATIME, ""),
            (
                "nodev,nosuid,noexec",
                ms::NODEV | ms::NOSUID | ms::NOEXEC,
                "",
            ),
            ("sync,dirsync", ms::SYNCHRONOUS | ms::DIRSYNC, ""),
            (
                "relatime,strictatime,nodiratime",
                ms::RELATIME | ms::STRICTATIME | ms::NODIRATIME,
                "",
            ),
            ("remount,ro", ms::REMOUNT | ms::RDONLY, ""),
            ("bind", ms::BIND, ""),
            (
                "errors=remount-ro,user_xattr",
                0,
                "errors=remount-ro,user_xattr",
            ),
            ("defaults,noauto", 0, ""),
        ];
        for (list, flags, data) in cases {
            let mut o = MountOptions::default();
            o.apply(list).unwrap();
            assert_eq!(o.flags, *flags, "{list}");
            assert_eq!(o.data_string(), *data, "{list}");
        }
        let mut o = MountOptions::default();
        o.apply("loop=/dev/loop7,offset=4096").unwrap();
        assert_eq!(o.loop_dev, Some(Some("/dev/loop7".into())));
        assert_eq!(o.offset, 4096);
        assert!(MountOptions::default().apply("ro=1").is_err());
        let mut o = MountOptions::default();
        o.apply("union,lowerdir=/a:/b,user_xattr").unwrap();
        assert_eq!(
            o.take_lowerdir().unwrap(),
            [std::path::PathBuf::from("/a"), "/b".into()]
        );
        assert_eq!(o.data_string(), "user_xattr");
        let mut o = MountOptions::default();
        o.apply("passthrough,user_xattr,passthrough").unwrap();
        assert!(o.take_flag("passthrough"));
        assert!(!o.take_flag("passthrough"));
        assert_eq!(o.data_string(), "user_xattr");
        let mut o = MountOptions::default();
        o.apply("lowerdir=/a::/b").unwrap();
        assert!(o.take_lowerdir().is_err());
        assert!(MountOptions::default().apply("offset=x").is_err());
        assert_eq!(
            flag_names(ms::RDONLY | ms::UNION),
            ["MS_RDONLY", "MS_UNION"]
        );
    }
}
