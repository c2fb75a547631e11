//! Library and I/O errors as errno values for the kernel.

/// A positive errno value (libc::ENOENT, ...).
pub type Errno = i32;

pub fn from_lib(e: ext2fs::Error) -> Errno {
    use ext2fs::Error as E;
    match e {
        E::NotFound(_) => libc::ENOENT,
        E::Exists(_) => libc::EEXIST,
        E::NotDirectory(_) => libc::ENOTDIR,
        E::NotEmpty(_) => libc::ENOTEMPTY,
        E::InvalidName(n, _) if n.len() > 255 => libc::ENAMETOOLONG,
        E::InvalidName(..) => libc::EINVAL,
        E::NoSpace { .. } => libc::ENOSPC,
        E::ReadOnly => libc::EROFS,
        E::Io { source, .. } => source.raw_os_error().unwrap_or(libc::EIO),
        E::Invalid(m) if m.contains("file exists") || m.contains("already exists") => libc::EEXIST,
        E::Invalid(m) if m.contains("is a directory") => libc::EISDIR,
        E::Invalid(m) if m.contains("past the largest") => libc::EFBIG,
        E::Invalid(m) if m.contains("does not have ext_attr") => libc::ENOTSUP,
        E::Invalid(_) => libc::EINVAL,
        _ => libc::EIO,
    }
}
