//! The bodies of the fuzz targets (`fuzz/`), shared with the normal test
//! suite so that CI replays every saved input on stable Rust: whatever a
//! fuzzer found once stays a regression test.

use ext2fs::fs::{Filesystem, OpenOptions};
use ext2fs::image::Image;

/// Every on-disk parser on arbitrary bytes; what parses writes back the same.
pub fn parsers(data: &[u8]) {
    use ext2fs::{dirent, group_desc, inode::Inode, superblock::Superblock};
    if let Ok(sb) = Superblock::from_bytes(data) {
        let _ = sb.validate();
        let _ = sb.group_count();
        assert_eq!(sb.to_bytes()[..], data[..Superblock::SIZE]);
    }
    if let Ok(t) = group_desc::parse_table(data, (data.len() / 32) as u32) {
        assert_eq!(group_desc::write_table(&t, 0)[..], data[..t.len() * 32]);
    }
    for size in [128usize, 256] {
        if data.len() >= size {
            if let Ok(i) = Inode::parse(&data[..size]) {
                assert_eq!(i.to_bytes(), &data[..size]);
            }
        }
    }
    for bs in [1024usize, 4096] {
        if data.len() >= bs {
            let _ = dirent::parse_block(&data[..bs], 2, 0);
            let _ = dirent::iter_block(&data[..bs]).count();
            let _ = ext2fs::xattr::parse_block(&data[..bs], 0);
            let _ = ext2fs::htree::DxRoot::parse(&data[..bs], 2);
        }
    }
}

/// Open an arbitrary image and read everything reachable.
pub fn image_walk(data: &[u8]) {
    let image = Image::in_memory(data.to_vec(), false);
    let opts = OpenOptions {
        force: true,
        ..Default::default()
    };
    if let Ok(fs) = Filesystem::from_image(image, &opts) {
        let _ = fs.sweep(256);
    }
}

/// e2fsck-union -fy then -fn on an arbitrary image.
pub fn e2fsck_passes(data: &[u8]) {
    if data.len() < 2048 || data.len() > (4 << 20) {
        return;
    }
    let (code, after) = e2fsck_union::check_in_memory(data.to_vec(), true);
    if code & 8 == 0 {
        let _ = e2fsck_union::check_in_memory(after, false);
    }
}

/// debugfs-union requests from arbitrary text against a small image.
pub fn debugfs_requests(data: &[u8]) {
    static IMAGE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let image =
        IMAGE.get_or_init(|| ext2fs::mkfs::small_image(512 << 10, true).unwrap_or_default());
    if image.is_empty() {
        return;
    }
    let script = String::from_utf8_lossy(data);
    let after = debugfs_union::run_on_memory_image(image.clone(), &script, true);
    let _ = e2fsck_union::check_in_memory(after, false);
}

/// mount-union's -o parser on arbitrary option lists.
pub fn mount_options(data: &[u8]) {
    use mount_union::options::MountOptions;
    let text = String::from_utf8_lossy(data);
    let mut o = MountOptions::default();
    for list in text.split('\n').take(8) {
        if o.apply(list).is_err() {
            return;
        }
    }
    let _ = o.take_lowerdir();
    let _ = o.data_string();
    let _ = mount_union::options::flag_names(o.flags);
}

/// A fuzz target's body.
pub type Body = fn(&[u8]);

/// The targets by name, as `fuzz/fuzz_targets/<name>.rs` calls them.
pub const TARGETS: &[(&str, Body)] = &[
    ("parsers", parsers),
    ("image_walk", image_walk),
    ("e2fsck_passes", e2fsck_passes),
    ("debugfs_requests", debugfs_requests),
    ("mount_options", mount_options),
];
