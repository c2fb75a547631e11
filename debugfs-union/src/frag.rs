//! Fragmentation reports: filefrag (a file's or a directory's runs of
//! contiguous blocks, as debugfs/filefrag.c) and freefrag (free space in
//! runs and chunks, as misc/e2freefrag.c built into debugfs).

use std::io::Write;
use std::ops::ControlFlow;

use anyhow::Result;
use ext2fs::block_map::BlockKind;
use ext2fs::fs::Filesystem;
use ext2fs::inode::{flags, Inode};

use crate::inodes::read_inode_worded;
use crate::session::{Session, Worded};

/// int_log10 of filefrag.c: the number of decimal digits less one.
fn int_log10(mut n: u64) -> usize {
    let mut l = 0;
    n /= 10;
    while n != 0 {
        l += 1;
        n /= 10;
    }
    l
}

struct FragState {
    verbose: bool,
    logical_width: usize,
    physical_width: usize,
    ext: i32,
    num: u64,
    logical_start: u64,
    physical_start: u64,
    expected: u64,
}

impl FragState {
    fn report(&mut self, o: &mut Vec<u8>) {
        if self.num == 0 {
            return;
        }
        if self.verbose {
            let expected = if self.expected != 0 {
                self.expected.to_string()
            } else {
                String::new()
            };
            let _ = writeln!(
                o,
                "{:4} {:>lw$} {:>pw$} {:>pw$} {:>lw$}",
                self.ext,
                self.logical_start,
                self.physical_start,
                expected,
                self.num,
                lw = self.logical_width,
                pw = self.physical_width
            );
        }
        self.ext += 1;
    }
}

/// One file's report (filefrag.c's filefrag()).
fn file_report(
    fs: &Filesystem,
    name: &[u8],
    inode: &Inode,
    verbose: bool,
    physical_width: usize,
    o: &mut Vec<u8>,
) {
    let bs = u64::from(fs.block_size());
    let mut st = FragState {
        verbose,
        logical_width: (int_log10(inode.size().div_ceil(bs)) + 1).max(7),
        physical_width,
        ext: 0,
        num: 0,
        logical_start: 0,
        physical_start: 0,
        expected: 0,
    };
    if verbose {
        let mut n = fs.inode_i_blocks(inode);
        let huge = fs
            .sb()
            .has_ro_compat(ext2fs::features::ro_compat::HUGE_FILE);
        if !huge || inode.flags() & flags::HUGE_FILE == 0 {
            n /= bs / 512;
        }
        o.push(b'\n');
        o.extend_from_slice(name);
        let _ = writeln!(o, " has {n} block(s), i_size is {}", inode.size());
        let _ = writeln!(
            o,
            "{:>4} {:>lw$} {:>pw$} {:>pw$} {:>lw$}",
            "ext",
            "logical",
            "physical",
            "expected",
            "length",
            lw = st.logical_width,
            pw = physical_width
        );
    }
    if fs.inode_has_valid_blocks(inode) {
        let err = fs.block_iterate_status(inode, |p| {
            let BlockKind::Data(l) = p.kind else {
                return ControlFlow::Continue(());
            };
            let b = u64::from(p.pblk);
            if st.num == 0 || l != st.logical_start + st.num || b != st.physical_start + st.num {
                st.report(o);
                st.expected = if l == st.logical_start + st.num {
                    st.physical_start + st.num
                } else {
                    0
                };
                st.logical_start = l;
                st.physical_start = b;
                st.num = 1;
            } else {
                st.num += 1;
            }
            ControlFlow::Continue(())
        });
        if let Some(e) = err {
            flush_then_warn(o, &format!("ext2fs_block_iterate3: {} ", e.com_err_text()));
        }
    }
    st.report(o);
    o.extend_from_slice(name);
    let dir = if inode.is_dir() { " (dir)" } else { "" };
    let _ = writeln!(o, ": {} contiguous extents{dir}", st.ext);
}

/// Writes what is pending on stdout before a line on stderr, so the two
/// keep debugfs' order at a terminal.
fn flush_then_warn(o: &mut Vec<u8>, line: &str) {
    let mut out = std::io::stdout();
    let _ = out.write_all(o);
    let _ = out.flush();
    o.clear();
    eprintln!("{line}");
}

/// filefrag.c's dir_iterate: every entry but . and .. reported in turn,
/// subdirectories queued (with -r) and walked after their parent.
fn dir_report(
    fs: &Filesystem,
    top: u32,
    top_name: &[u8],
    opts: (bool, bool),
    physical_width: usize,
    o: &mut Vec<u8>,
) {
    let (verbose, recursive) = opts;
    let mut queue: std::collections::VecDeque<(u32, Vec<u8>)> = std::collections::VecDeque::new();
    let mut cur = (top, top_name.to_vec());
    loop {
        let (dir, dir_name) = &cur;
        let mut entries = Vec::new();
        let r = fs.dir_iterate(*dir, false, |v| {
            if v.entry.view.inode != 0 {
                entries.push((v.entry.view.inode, v.entry.view.name.to_vec()));
            }
            ControlFlow::Continue(())
        });
        for (ino, raw) in entries {
            // strncpy: the name ends at a NUL.
            let name: Vec<u8> = raw.iter().copied().take_while(|&b| b != 0).collect();
            if name == b"." || name == b".." {
                continue;
            }
            let mut path = dir_name.clone();
            path.push(b'/');
            path.extend_from_slice(&name);
            let inode = match fs.read_inode(ino) {
                Ok(i) => i,
                Err(e) => {
                    let who = String::from_utf8_lossy(&path).into_owned();
                    flush_then_warn(
                        o,
                        &format!("{who}: {} while reading inode {ino}", e.com_err_text()),
                    );
                    continue;
                }
            };
            file_report(fs, &path, &inode, verbose, physical_width, o);
            if recursive && inode.is_dir() {
                queue.push_back((ino, path));
            }
        }
        if let Err(e) = r {
            flush_then_warn(o, &format!("ext2fs_dir_iterate2: {} ", e.com_err_text()));
        }
        match queue.pop_front() {
            Some(next) => cur = next,
            None => break,
        }
    }
}

/// filefrag [-dvr] [file]
pub fn filefrag(s: &mut Session, args: &[String]) -> Result<()> {
    s.fs()?;
    let (opts, rest) = crate::gnu_getopt::getopt(args, "dvr");
    if rest.len() > 1 || opts.iter().any(|(c, _)| *c == '?') {
        return Err(Worded("Usage: filefrag [-dvr] file".into()).into());
    }
    let has = |c: char| opts.iter().any(|(o, _)| *o == c);
    let (ino, name) = match rest.first() {
        Some(a) => (s.inode_arg(a)?, a.clone()),
        None => (s.cwd, ".".to_string()),
    };
    let fs = s.fs()?;
    let inode = read_inode_worded(fs, ino)?;
    let physical_width = (int_log10(fs.geo().blocks_count) + 1).max(8);
    let mut o = Vec::new();
    if !inode.is_dir() || has('d') {
        file_report(
            fs,
            name.as_bytes(),
            &inode,
            has('v'),
            physical_width,
            &mut o,
        );
    } else {
        dir_report(
            fs,
            ino,
            name.as_bytes(),
            (has('v'), has('r')),
            physical_width,
            &mut o,
        );
    }
    o.push(b'\n');
    s.out.write_all(&o)?;
    Ok(())
}

const MAX_HIST: usize = 32;
const DEFAULT_CHUNKSIZE: u64 = 1024 * 1024;

/// ul_log2 of e2freefrag.c.
fn ul_log2(mut n: u64) -> u32 {
    let mut l = 0;
    n >>= 1;
    while n != 0 {
        l += 1;
        n >>= 1;
    }
    l
}

/// printf's %.Nf for the values freefrag prints (inf and nan as glibc
/// spells them).
fn fixed(v: f64, prec: usize, width: usize) -> String {
    let s = if v.is_nan() {
        if v.is_sign_negative() { "-nan" } else { "nan" }.to_string()
    } else if v.is_infinite() {
        if v < 0.0 { "-inf" } else { "inf" }.to_string()
    } else {
        format!("{v:.prec$}")
    };
    format!("{s:>width$}")
}

/// freefrag [-c chunk_kb] [-h]
pub fn freefrag(s: &mut Session, args: &[String]) -> Result<()> {
    s.fs()?;
    let prog = &args[0];
    let usage = || eprintln!("usage: {prog} [-c chunksize in kb] [-h] device_name");
    let mut chunkbytes: u64 = 0;
    // Every problem prints the usage and goes on, as e2freefrag's usage()
    // does inside debugfs.
    let (opts, _) = crate::gnu_getopt::getopt(args, "c:h");
    for (c, val) in opts {
        if c != 'c' {
            usage();
            continue;
        }
        let (n, complete) = crate::cnum::strtoull_prefix(&val);
        if !complete {
            eprintln!("{prog}: bad chunk size '{val}'");
            usage();
        }
        if n & n.wrapping_sub(1) != 0 {
            eprintln!("{prog}: chunk size must be a power of 2.");
            usage();
        }
        chunkbytes = n.wrapping_mul(1024);
    }
    let catastrophic = s.catastrophic;
    let device = s.device.clone().unwrap_or_default();
    let fs = s.fs_mut()?;
    let bs = u64::from(fs.block_size());
    if chunkbytes != 0 && chunkbytes < bs {
        // e2freefrag exits debugfs here; we end the request (compat.md).
        return Err(Worded(format!(
            "{prog}: chunksize must be greater than or equal to filesystem blocksize."
        ))
        .into());
    }
    let blocksize_bits = ul_log2(bs);
    let (chunkbits, blks_in_chunk) = if chunkbytes != 0 {
        (ul_log2(chunkbytes), (chunkbytes >> blocksize_bits) as i32)
    } else {
        (
            ul_log2(DEFAULT_CHUNKSIZE),
            (DEFAULT_CHUNKSIZE >> blocksize_bits) as i32,
        )
    };
    let blocks_count = fs.geo().blocks_count;
    let free_blks = fs.sb_free_blocks();
    let mut o = String::new();
    o.push_str(&format!("Device: {device}\nBlocksize: {bs} bytes\n"));
    if !catastrophic {
        // ext2fs_read_block_bitmap: already read at open.
    } else {
        fs.read_withheld_bitmaps().map_err(|e| {
            Worded(format!(
                "{device}: {} while reading block bitmap",
                e.com_err_text()
            ))
        })?;
    }
    let shift = chunkbits.wrapping_sub(blocksize_bits);
    let chunks = blocks_count.wrapping_add(blks_in_chunk as i64 as u64) >> (shift & 63);
    let mut hist_chunks = [0u64; MAX_HIST];
    let mut hist_blocks = [0u64; MAX_HIST];
    let (mut min, mut max, mut avg, mut real) = (u64::MAX, 0u64, 0u64, 0u64);
    let mut free_chunks = 0u64;
    let mut update = |size: u64| {
        let idx = ((ul_log2(size) + 1) as usize).min(MAX_HIST - 1);
        hist_chunks[idx] += 1;
        hist_blocks[idx] += size;
        max = max.max(size);
        min = min.min(size);
        avg += size;
        real += 1;
    };
    let first = u64::from(fs.geo().first_data_block);
    let mut last = 0u64;
    let mut start = 0u64;
    for chunk in 0..chunks {
        let num = if start + blks_in_chunk as i64 as u64 > blocks_count {
            blocks_count - start
        } else {
            blks_in_chunk as i64 as u64
        };
        let mut chunk_free: i64 = 0;
        let mut blk = 0u64;
        while blk < num {
            if chunk == 0 && blk == 0 {
                blk = first;
                start = blk;
                if blk >= num {
                    break;
                }
            }
            let used = crate::bitmaps::block_in_use(fs, start)?;
            if !used {
                last += 1;
                chunk_free += 1;
            } else if last != 0 {
                update(last);
                last = 0;
            }
            blk += 1;
            start += 1;
        }
        if chunk_free == i64::from(blks_in_chunk) {
            free_chunks += 1;
        }
    }
    if last != 0 {
        update(last);
    }
    o.push_str(&format!(
        "Total blocks: {blocks_count}\nFree blocks: {free_blks} ({}%)\n",
        fixed(free_blks as f64 * 100.0 / blocks_count as f64, 1, 0)
    ));
    if chunkbytes != 0 {
        o.push_str(&format!(
            "\nChunksize: {chunkbytes} bytes ({} blocks)\n",
            blks_in_chunk as u32
        ));
        let total = chunks;
        o.push_str(&format!(
            "Total chunks: {total}\nFree chunks: {free_chunks} ({}%)\n",
            fixed(free_chunks as f64 * 100.0 / total as f64, 1, 0)
        ));
    }
    match avg.checked_div(real) {
        Some(mean) => {
            let scale = bs >> 10;
            min *= scale;
            max *= scale;
            avg = mean * scale;
        }
        None => min = 0,
    }
    o.push_str(&format!(
        "\nMin. free extent: {min} KB \nMax. free extent: {max} KB\nAvg. free extent: {avg} KB\n"
    ));
    o.push_str(&format!("Num. free extent: {real}\n"));
    o.push_str("\nHISTOGRAM OF FREE EXTENT SIZES:\n");
    o.push_str(&format!(
        "{} :  {:>12}  {:>12}  {:>7}\n",
        "Extent Size Range", "Free extents", "Free Blocks", "Percent"
    ));
    let units_chars = b"KMGTPEZY";
    let mut unit = 0usize;
    let mut units = 10i64;
    let mut from = 0u64;
    for i in 0..MAX_HIST {
        let sh = i as i64 + i64::from(blocksize_bits) - units;
        let end = (1i64.checked_shl(sh as u32).unwrap_or(0) as i32) as i64 as u64;
        let uc = units_chars.get(unit).copied().unwrap_or(b'?') as char;
        if hist_chunks[i] != 0 {
            let end_str = if i == MAX_HIST - 1 {
                "max ".to_string()
            } else {
                format!("{end:5}{uc}-")
            };
            o.push_str(&format!(
                "{from:5}{uc}...{end_str:>7}  :  {:12}  {:12}  {}%\n",
                hist_chunks[i],
                hist_blocks[i],
                fixed(hist_blocks[i] as f64 * 100.0 / free_blks as f64, 2, 6)
            ));
        }
        from = end;
        if from == 1 << 10 {
            from = 1;
            units += 10;
            unit += 1;
        }
    }
    s.out.write_all(o.as_bytes())?;
    Ok(())
}
