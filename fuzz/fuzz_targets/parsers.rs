//! Every on-disk parser on arbitrary bytes: errors are fine, panics are not,
//! and whatever parses writes back to the same bytes.
#![no_main]

use ext2fs::{dirent, group_desc, inode::Inode, superblock::Superblock};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
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
                let _ = i.in_inode_xattr_area();
                let _ = i.device();
                let _ = i.fast_symlink_target();
            }
        }
    }
    if let Ok(es) = dirent::parse_block(data, 2, 0) {
        if !data.is_empty() {
            assert_eq!(dirent::write_block(&es, data.len()).ok().as_deref().map(|b| b.len()), Some(data.len()));
        }
    }
});
