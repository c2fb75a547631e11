//! Open an arbitrary image in memory and read everything reachable.
#![no_main]

use ext2fs::fs::{Filesystem, OpenOptions};
use ext2fs::image::Image;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let image = Image::in_memory(data.to_vec(), false);
    let Ok(fs) = Filesystem::from_image(image, &OpenOptions { force: true, ..Default::default() }) else {
        return;
    };
    for ino in 1..=fs.sb.s_inodes_count.min(256) {
        let Ok(i) = fs.read_inode(ino) else { continue };
        let _ = fs.data_blocks(&i);
        if i.is_dir() {
            let _ = fs.read_dir(ino);
        } else if i.is_symlink() {
            let _ = fs.read_link(&i);
        } else {
            let _ = fs.read_file_with(&i, |_, _| Ok(()));
        }
    }
    let _ = fs.walk_tree(2, |_, _| Ok(()));
});
