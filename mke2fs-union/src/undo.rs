//! mke2fs' undo file: `-z FILE`, or one it makes on its own when
//! mke2fs.conf asks (force_undo, or checksummed groups with lazy inode
//! table init) and the device holds an ext2 filesystem already.

use std::path::{Path, PathBuf};

use anyhow::Result;
use ext2fs::image::Image;
use ext2fs::undo::Undo;

use crate::profile::Profile;

/// The undo file this run writes, if any (mke2fs_setup_tdb; an old file of
/// a generated name is removed).
pub fn path(
    asked: Option<&Path>,
    profile: &Profile,
    types: &[String],
    csum_lazy: bool,
    device: &Path,
) -> Result<Option<PathBuf>> {
    let force = profile.get_int(types, "force_undo", 0) != 0;
    let automatic = (force || csum_lazy) && holds_ext2(device);
    let default_dir = profile
        .defaults
        .get("undo_dir")
        .cloned()
        .unwrap_or_else(|| "/var/lib/e2fsprogs".into());
    cli_common::undo::undo_file_path(asked, automatic, "mke2fs", device, &default_dir)
}

/// mke2fs' should_do_undo looks for the ext2 magic at byte 1024 of the
/// device (before -E offset).
fn holds_ext2(device: &Path) -> bool {
    std::fs::File::open(device)
        .is_ok_and(|f| ext2fs::superblock::Superblock::probe(&f, device, 0).is_ok())
}

/// Opens the undo log for `image`, whose filesystem starts `offset` bytes
/// in: undo blocks of 32 KiB (8 filesystem blocks above 4 KiB), as mke2fs
/// sets tdb_data_size.
pub fn open(path: &Path, image: &Image, offset: u64, block_size: u32) -> ext2fs::Result<Undo> {
    let undo_block = if block_size <= 4096 {
        32768
    } else {
        block_size * 8
    };
    Undo::open(path, image, offset, undo_block, block_size)
}
