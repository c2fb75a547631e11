//! Extended attribute requests: ea_list, ea_get, ea_set, ea_rm.

use std::io::Write;

use anyhow::{anyhow, bail, Context, Result};

use crate::inodes::xattr_section;
use crate::session::Session;
use crate::table::{getopt, usage_check};

pub fn ea_list(s: &mut Session, args: &[String]) -> Result<()> {
    let (_, rest) = getopt(args, "")?;
    usage_check(&rest, 1, 1, "ea_list <file>")?;
    let ino = s.inode_arg(&rest[0])?;
    let text = xattr_section(s.fs()?, ino);
    s.out.write_all(text.as_bytes())?;
    Ok(())
}

pub fn ea_get(s: &mut Session, args: &[String]) -> Result<()> {
    let (opts, rest) = getopt(args, "f:rxVC")?;
    usage_check(&rest, 2, 2, "ea_get [-f outfile]|[-xVC] [-r] <file> <attr>")?;
    let ino = s.inode_arg(&rest[0])?;
    let attrs = s.fs()?.list_xattrs(ino)?;
    let a = attrs.iter().find(|a| a.name == rest[1]).ok_or_else(|| {
        anyhow!("Extended attribute key not found while getting extended attribute")
    })?;
    let mut file = None;
    let mut raw = false;
    let mut hex = false;
    for (c, v) in &opts {
        match c {
            'f' => file = Some(v.clone()),
            'V' => raw = true,
            'x' => hex = true,
            _ => {}
        }
    }
    if let Some(f) = file {
        std::fs::write(&f, &a.value).with_context(|| f.clone())?;
        return Ok(());
    }
    if raw {
        s.out.write_all(&a.value)?;
        return Ok(());
    }
    let mut o = format!("{} ({}) = ", a.name, a.value.len());
    let printable = a
        .value
        .iter()
        .filter(|&&b| (0x20..0x7f).contains(&b))
        .count();
    if hex || printable <= a.value.len() * 7 / 8 {
        for b in &a.value {
            o.push_str(&format!("{b:02x} "));
        }
    } else {
        o.push('"');
        o.push_str(&crate::format::c_string(&a.value));
        o.push('"');
    }
    writeln!(s.out, "{o}\n")?;
    Ok(())
}

pub fn ea_set(s: &mut Session, args: &[String]) -> Result<()> {
    let (opts, rest) = getopt(args, "f:r")?;
    let file = opts.iter().find(|(c, _)| *c == 'f').map(|(_, v)| v.clone());
    let want = if file.is_some() { 2 } else { 3 };
    usage_check(
        &rest,
        want,
        want,
        "ea_set [-f infile] [-r] <file> <attr> <value>",
    )?;
    s.fs_rw()?;
    let ino = s.inode_arg(&rest[0])?;
    let value = match file {
        Some(f) => std::fs::read(&f).with_context(|| f.clone())?,
        None => rest[2].as_bytes().to_vec(),
    };
    if !rest[1].contains('.') {
        bail!("invalid attribute name {}", rest[1]);
    }
    s.fs_rw()?.set_xattr(ino, &rest[1], &value)?;
    Ok(())
}

pub fn ea_rm(s: &mut Session, args: &[String]) -> Result<()> {
    let (_, rest) = getopt(args, "")?;
    if rest.len() < 2 {
        bail!("Usage: ea_rm <file> <attrs>...");
    }
    s.fs_rw()?;
    let ino = s.inode_arg(&rest[0])?;
    let fs = s.fs_rw()?;
    for name in &rest[1..] {
        // As libext2fs' ext2fs_xattr_remove: a name that is not there is
        // already removed.
        match fs.remove_xattr(ino, name) {
            Ok(()) | Err(ext2fs::Error::NotFound(_)) => {}
            Err(e) => bail!("{e} while removing extended attribute"),
        }
    }
    Ok(())
}
