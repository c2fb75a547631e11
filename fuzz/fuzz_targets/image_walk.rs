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
    let _ = fs.sweep(256);
});
