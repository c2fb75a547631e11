//! The note e2fsprogs' check_plausibility prints about what a device
//! already holds: after a superblock it was asked for is not there
//! (e2fsck -b, debugfs -s) and before mke2fs overwrites a filesystem.

use ext2fs::foreign::{Found, Stamp};

/// "<dev> contains a <type> file system[ labelled '<l>']" and, for an
/// ext2/3/4 filesystem, the line with its last mount or creation time;
/// None when the device holds nothing we recognise.
pub fn existing_filesystem_note(device: &str) -> Option<String> {
    ext2fs::foreign::identify(device).map(|found| note(device, &found))
}

fn note(device: &str, found: &Found) -> String {
    let mut text = if found.label.is_empty() {
        format!("{device} contains a {} file system\n", found.kind)
    } else {
        format!(
            "{device} contains a {} file system labelled '{}'\n",
            found.kind, found.label
        )
    };
    let at = |t: u32| crate::asctime(t as i64);
    match &found.stamp {
        Some(Stamp::LastMounted { at: t, on }) if !on.is_empty() => {
            text += &format!("\tlast mounted on {on} on {}\n", at(*t));
        }
        Some(Stamp::LastMounted { at: t, .. }) => {
            text += &format!("\tlast mounted on {}\n", at(*t))
        }
        Some(Stamp::Created(t)) => text += &format!("\tcreated on {}\n", at(*t)),
        Some(Stamp::Modified(t)) => text += &format!("\tlast modified on {}\n", at(*t)),
        None => {}
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stamp_is_worded_as_e2fsprogs() {
        let when = crate::asctime(0x6000_0000);
        let found = |label: &str, stamp| Found {
            kind: "ext2",
            label: label.into(),
            stamp,
        };
        assert_eq!(
            note("d.img", &found("", Some(Stamp::Created(0x6000_0000)))),
            format!("d.img contains a ext2 file system\n\tcreated on {when}\n")
        );
        assert_eq!(
            note(
                "d.img",
                &found(
                    "root",
                    Some(Stamp::LastMounted {
                        at: 0x6000_0000,
                        on: "/mnt".into()
                    })
                )
            ),
            format!("d.img contains a ext2 file system labelled 'root'\n\tlast mounted on /mnt on {when}\n")
        );
        assert_eq!(
            note("d.img", &found("", Some(Stamp::Modified(0x6000_0000)))),
            format!("d.img contains a ext2 file system\n\tlast modified on {when}\n")
        );
        assert_eq!(
            note("d.img", &found("", None)),
            "d.img contains a ext2 file system\n"
        );
    }
}
