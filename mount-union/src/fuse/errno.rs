//! Library and I/O errors as errno values for the kernel, by variant.

/// A positive errno value (libc::ENOENT, ...).
pub type Errno = i32;

pub fn from_lib(e: ext2fs::Error) -> Errno {
    use ext2fs::Error as E;
    match e {
        E::NotFound(_) => libc::ENOENT,
        E::Exists(_) => libc::EEXIST,
        E::NotDirectory(_) => libc::ENOTDIR,
        E::IsDirectory(_) => libc::EISDIR,
        E::NotEmpty(_) => libc::ENOTEMPTY,
        E::NameTooLong { .. } => libc::ENAMETOOLONG,
        E::InvalidName(..) => libc::EINVAL,
        E::DirectoryHardLink => libc::EPERM,
        E::TooManyLinks(_) => libc::EMLINK,
        E::FileTooLarge(_) | E::BlockBeyondLargestFile(_) => libc::EFBIG,
        E::NoSpace { .. } => libc::ENOSPC,
        E::ReadOnly => libc::EROFS,
        E::MissingFeature(_) => libc::ENOTSUP,
        E::Io { source, .. } => source.raw_os_error().unwrap_or(libc::EIO),
        E::NotUnionEntry(_) | E::EmptyXattrName(_) | E::BadAcl(_) | E::DeviceTooLarge { .. } => {
            libc::EINVAL
        }
        _ => libc::EIO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ext2fs::Error as E;

    #[test]
    fn errno_by_variant() {
        assert_eq!(from_lib(E::IsDirectory("x".into())), libc::EISDIR);
        assert_eq!(from_lib(E::TooManyLinks(5)), libc::EMLINK);
        assert_eq!(from_lib(E::FileTooLarge(1 << 60)), libc::EFBIG);
        assert_eq!(from_lib(E::MissingFeature("ext_attr")), libc::ENOTSUP);
        let long = E::NameTooLong {
            name: "n".repeat(300),
            len: 300,
            max: 255,
        };
        assert_eq!(from_lib(long), libc::ENAMETOOLONG);
        assert_eq!(from_lib(E::Exists("x".into())), libc::EEXIST);
    }
}
