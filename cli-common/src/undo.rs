//! The undo file the tools take with `-z` (e2fsprogs' *_setup_tdb): where
//! it goes and the notice printed before the device is changed.

use std::path::{Path, PathBuf};

/// Where a run's undo file goes, if anywhere. A non-empty `-z` name is
/// used as given. An empty one, or `automatic` (mke2fs' force_undo),
/// means `DIR/PREFIX-BASENAME.e2undo`, DIR being $E2FSPROGS_UNDO_DIR or
/// else `default_dir`; no undo file when DIR is "none", empty or not
/// writable. An old file of that generated name is removed first.
pub fn undo_file_path(
    asked: Option<&Path>,
    automatic: bool,
    prefix: &str,
    device: &Path,
    default_dir: &str,
) -> anyhow::Result<Option<PathBuf>> {
    match asked {
        Some(p) if !p.as_os_str().is_empty() => return Ok(Some(p.to_path_buf())),
        None if !automatic => return Ok(None),
        _ => {}
    }
    let dir = std::env::var_os("E2FSPROGS_UNDO_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default_dir));
    let writable = rustix::fs::access(&dir, rustix::fs::Access::WRITE_OK).is_ok();
    if dir.as_os_str().is_empty() || dir.as_os_str() == "none" || !writable {
        return Ok(None);
    }
    let base = device
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let file = dir.join(format!("{prefix}-{base}.e2undo"));
    match std::fs::remove_file(&file) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            anyhow::bail!("{e} while trying to delete {}", file.display())
        }
        _ => Ok(Some(file)),
    }
}

/// An undo file's refusal as e2fsprogs words it ("Undo file corrupt",
/// "Wrong undo file for this filesystem"), others with the file's name.
pub fn describe(e: &ext2fs::Error) -> String {
    use ext2fs::undo::UndoProblem;
    match e {
        ext2fs::Error::Undo {
            problem: p @ (UndoProblem::Corrupt | UndoProblem::WrongFilesystem),
            ..
        } => p.to_string(),
        e => e.to_string(),
    }
}

/// The notice e2fsprogs prints before a run with an undo file.
pub fn announce(undo: &Path, device: &Path) {
    crate::out!(
        "Overwriting existing filesystem; this can be undone using the command:\n    e2undo {} {}\n\n",
        undo.display(),
        device.display()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_name_wins_and_none_without_request() {
        let dev = Path::new("/dev/sdz1");
        let p = undo_file_path(Some(Path::new("u")), false, "e2fsck", dev, "/nowhere").unwrap();
        assert_eq!(p, Some(PathBuf::from("u")));
        assert_eq!(
            undo_file_path(None, false, "e2fsck", dev, "/nowhere").unwrap(),
            None
        );
    }
}
