//! Opening a filesystem (the primary or a backup superblock, its descriptor
//! table) and the small facts every other module asks about it.

use std::path::Path;

use super::{Filesystem, OpenOptions};
use crate::features::{incompat, SUPPORTED_INCOMPAT};
use crate::group_desc::{self, GroupDesc};
use crate::image::Image;
use crate::layout::Geometry;
use crate::superblock::{Superblock, SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE};
use crate::{CorruptKind, Error, Result, Structure};

impl Filesystem {
    /// Opens the filesystem in the file or device `path` (for writing with
    /// `opts.write`).
    pub fn open(path: &Path, opts: &OpenOptions) -> Result<Self> {
        let image = if opts.write {
            Image::open_read_write(path)?
        } else {
            Image::open_read_only(path)?
        };
        Self::from_image(image, opts)
    }

    /// Opens a filesystem on an already opened image.
    pub fn from_image(image: Image, opts: &OpenOptions) -> Result<Self> {
        let (sb, sb_offset) = match opts.superblock {
            None => (
                read_superblock_at(&image, SUPERBLOCK_OFFSET)?,
                SUPERBLOCK_OFFSET,
            ),
            Some(blk) => probe_backup(&image, blk, opts.block_size)?,
        };
        // ext2fs_open2's order: the revision and the features are refused
        // before any other value is judged.
        if sb.s_rev_level > crate::superblock::DYNAMIC_REV {
            return Err(Error::corrupt(
                Structure::Superblock,
                0,
                CorruptKind::Revision(sb.s_rev_level),
            ));
        }
        let unknown = sb.s_feature_incompat & !SUPPORTED_INCOMPAT;
        let refuse = || {
            let names = crate::features::FeatureSet {
                incompat: unknown,
                ..Default::default()
            }
            .names();
            Err(Error::UnsupportedFeatures(names.join(" ")))
        };
        let late =
            opts.refuse_known_features_late && unknown & !crate::features::LIBEXT2FS_INCOMPAT == 0;
        if unknown != 0 && !opts.force && !late {
            return refuse();
        }
        if opts.ignore_sb_errors {
            sb.validate_geometry()?;
            if !opts.caller_bounds_group_inodes {
                sb.validate_group_inodes()?;
            }
        } else {
            sb.validate()?;
        }
        if unknown != 0 && !opts.force {
            return refuse();
        }
        let geo = Geometry::from_superblock(&sb);
        // The descriptor table goes with the superblock copy it came with.
        let super_block = if sb_offset == SUPERBLOCK_OFFSET {
            sb.s_first_data_block as u64
        } else {
            sb_offset / geo.block_size as u64
        };
        let raw = read_descriptor_table(&image, &geo, super_block)?;
        let groups = group_desc::parse_table(&raw, geo.group_count)?;
        let past_end = group_desc::parse_table(&raw, geo.group_count + 1)
            .ok()
            .and_then(|mut t| t.pop());
        let n = groups.len();
        Ok(Filesystem {
            image,
            sb,
            geo,
            groups,
            past_end,
            sb_offset,
            block_bitmap: None,
            inode_bitmap: None,
            bitmaps_withheld: false,
            block_padding_set: false,
            refused_marks: Vec::new(),
            withheld_changed: (false, false),
            touched_bits: None,
            dirty_groups: vec![false; n],
            dirty: false,
            primary_only: false,
            // As ext2fs_open2: e2fsprogs' test clock, when set.
            fixed_time: crate::clock::fake_time(),
            unique_names: false,
            auto_index: false,
            cache: None,
            inode_cache: None,
            scan_bad_blocks: Default::default(),
        })
    }

    /// The image the filesystem is on.
    pub fn image(&self) -> &Image {
        &self.image
    }

    /// Saves old contents in `undo` before every later write (-z).
    pub fn attach_undo(&mut self, undo: crate::undo::Undo) {
        self.image.attach_undo(undo);
    }

    /// Block size in bytes.
    pub fn block_size(&self) -> u32 {
        self.geo.block_size
    }

    /// Whether the filesystem was opened for writing.
    pub fn is_writable(&self) -> bool {
        self.image.is_writable()
    }

    /// Whether the union `whiteout` feature is set.
    pub fn whiteout_feature(&self) -> bool {
        self.sb.has_incompat(incompat::WHITEOUT)
    }

    /// Whether directory entries carry file types.
    pub fn filetype_feature(&self) -> bool {
        self.sb.has_incompat(incompat::FILETYPE)
    }

    /// The superblock as in memory (changes not yet flushed included).
    pub fn sb(&self) -> &Superblock {
        &self.sb
    }

    /// Changes the superblock and marks it for the next `flush`, so a
    /// change cannot be forgotten.
    pub fn update_superblock<R>(&mut self, change: impl FnOnce(&mut Superblock) -> R) -> R {
        self.dirty = true;
        change(&mut self.sb)
    }

    /// Turns meta_bg off (s_first_meta_bg to 0) and derives the layout
    /// again: a checker's repair of an s_first_meta_bg past the table,
    /// where no meta group exists and the table is read as the classic
    /// one already. The group count does not change.
    pub fn clear_meta_bg(&mut self) {
        self.update_superblock(|sb| {
            sb.s_feature_incompat &= !incompat::META_BG;
            sb.s_first_meta_bg = 0;
        });
        self.geo = Geometry::from_superblock(&self.sb);
    }

    /// Sets s_reserved_gdt_blocks and derives the layout again (the
    /// reserved blocks after each descriptor table are no longer
    /// metadata): a checker's repair of a count kept without the resize
    /// inode, or of the resize inode given up under meta_bg.
    pub fn set_reserved_gdt_blocks(&mut self, blocks: u16) {
        self.update_superblock(|sb| sb.s_reserved_gdt_blocks = blocks);
        self.geo = Geometry::from_superblock(&self.sb);
    }

    /// The group geometry derived from the superblock at open.
    pub fn geo(&self) -> &Geometry {
        &self.geo
    }

    /// The group descriptors as in memory.
    pub fn groups(&self) -> &[GroupDesc] {
        &self.groups
    }

    /// Changes group `group`'s descriptor and marks the descriptor table
    /// for the next `flush` (the group's bitmaps are not rewritten for it).
    /// A group number past the table is an error.
    pub fn update_group<R>(
        &mut self,
        group: u32,
        change: impl FnOnce(&mut GroupDesc) -> R,
    ) -> Result<R> {
        let count = self.groups.len();
        let gd = self
            .groups
            .get_mut(group as usize)
            .ok_or(Error::GroupOutOfRange { group, count })?;
        self.dirty = true;
        Ok(change(gd))
    }

    /// Byte offset of the superblock in use (1024 unless a backup).
    pub fn superblock_offset(&self) -> u64 {
        self.sb_offset
    }

    /// Uses `t` for every timestamp this library writes from now on
    /// (inode times, dtime, the superblock's write time).
    pub fn set_fixed_time(&mut self, t: Option<u32>) {
        self.fixed_time = t;
    }

    /// The time changes are stamped with (fs->now: a fixed or fake time, else
    /// the clock).
    pub fn now(&self) -> u32 {
        if let Some(t) = self.fixed_time {
            return t;
        }
        crate::clock::now()
    }

    pub(super) fn require_write(&self) -> Result<()> {
        if !self.image.is_writable() {
            return Err(Error::ReadOnly);
        }
        Ok(())
    }
}

/// Reads the descriptor table block by block from where
/// `Geometry::descriptor_block` puts it (one run in the classic layout).
fn read_descriptor_table(image: &Image, geo: &Geometry, super_block: u64) -> Result<Vec<u8>> {
    let bs = geo.block_size as u64;
    let past_end = |b: u64| (b + 1).saturating_mul(bs) > image.len();
    // A descriptor block past the image's end is libext2fs' short read
    // (checked before reading, so that a corrupt count never makes us
    // allocate more than the image holds).
    if past_end(geo.desc_blocks as u64)
        || (0..geo.desc_blocks).any(|i| past_end(geo.descriptor_block(super_block, i)))
    {
        return Err(Error::Truncated {
            what: "group descriptor table",
            have: image.len().try_into().unwrap_or(usize::MAX),
        });
    }
    let blocks: Vec<u64> = (0..geo.desc_blocks)
        .map(|i| geo.descriptor_block(super_block, i))
        .collect();
    let mut raw = vec![0u8; blocks.len() * bs as usize];
    let mut i = 0;
    while i < blocks.len() {
        // Adjacent blocks in one read.
        let run = blocks[i..]
            .iter()
            .zip(blocks[i]..)
            .take_while(|(b, want)| **b == *want)
            .count();
        let at = i * bs as usize;
        image.read_at(blocks[i] * bs, &mut raw[at..at + run * bs as usize])?;
        i += run;
    }
    Ok(raw)
}

pub(super) fn read_superblock_at(image: &Image, offset: u64) -> Result<Superblock> {
    let mut buf = vec![0u8; SUPERBLOCK_SIZE];
    image.read_at(offset, &mut buf)?;
    Superblock::from_bytes(&buf)
}

/// Reads a backup superblock at block `blk`, trying block sizes from 1 KiB
/// up when none is given (like e2fsck -b without -B).
pub(super) fn probe_backup(image: &Image, blk: u64, bs: Option<u32>) -> Result<(Superblock, u64)> {
    let sizes: Vec<u32> = match bs {
        Some(b) => vec![b],
        None => vec![1024, 2048, 4096, 8192, 16384, 32768, 65536],
    };
    let mut last = Error::BadMagic(0);
    for size in sizes {
        let off = blk * size as u64;
        match read_superblock_at(image, off) {
            Ok(sb) if sb.block_size() == size => return Ok((sb, off)),
            Ok(_) => {}
            Err(e) => last = e,
        }
    }
    Err(last)
}
