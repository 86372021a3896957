//! The store's seam to the file system for the calls that decide durability and space:
//! preallocation, flushing a mapped range and measuring disk usage. [`OsDisk`] is the real thing;
//! tests supply their own [`Disk`] to simulate a full disk or a failing flush.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::Path;

use crate::mapped_file::{sys, MappedFile, WordMap};

/// File-system calls the store routes through a replaceable implementation.
pub trait Disk: Send + Sync + std::fmt::Debug {
    /// Reserves `len` bytes for a new, empty `file` (must report `ENOSPC` when space is short).
    ///
    /// # Errors
    /// Any preallocation failure.
    fn preallocate(&self, file: &File, len: u64) -> io::Result<()> {
        sys::posix_fallocate(file, len)
    }

    /// Makes `[from, to)` of an append-only mapped file durable.
    ///
    /// # Errors
    /// The flush failed; the caller poisons the store.
    fn sync_mapped(&self, file: &MappedFile, from: usize, to: usize) -> io::Result<()> {
        file.flush_range(from, to)
    }

    /// Makes `[from, to)` of a word-mapped (index) file durable.
    ///
    /// # Errors
    /// The flush failed.
    fn sync_words(&self, file: &WordMap, from: usize, to: usize) -> io::Result<()> {
        file.flush_range(from, to)
    }

    /// Fraction of the file system holding `dir` that is used.
    ///
    /// # Errors
    /// `statvfs` failed.
    fn used_ratio(&self, dir: &Path) -> io::Result<f64> {
        sys::used_ratio(dir)
    }
}

/// The real operating system: `posix_fallocate`, `msync`, `statvfs`.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsDisk;

impl Disk for OsDisk {}

/// `fsync` a directory so a file created, renamed or deleted in it survives a crash.
///
/// # Errors
/// Opening or syncing the directory failed.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Creates `dir` (and parents) and makes each newly created level durable in its parent.
///
/// # Errors
/// Creating or syncing a directory failed.
pub fn create_dir_durable(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        if !parent.as_os_str().is_empty() {
            create_dir_durable(parent)?;
        }
    }
    match fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(e),
    }
    match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => sync_dir(parent),
        _ => Ok(()),
    }
}

/// Creates `dir/name` with exactly `len` preallocated bytes, atomically: the file is built under
/// a `.tmp` name ([`create_unnamed`]), renamed into place, and the directory is synced. So a file
/// with its final name always has its full length, even after a crash.
///
/// # Errors
/// Any step failed (`ENOSPC` from preallocation included); the temporary file is removed.
pub fn create_preallocated(disk: &dyn Disk, dir: &Path, name: &str, len: u64) -> io::Result<File> {
    let tmp_name = format!("{name}.tmp");
    let tmp = dir.join(&tmp_name);
    let file = create_unnamed(disk, dir, &tmp_name, len)?;
    let result = fs::rename(&tmp, dir.join(name)).and_then(|()| sync_dir(dir));
    match result {
        Ok(()) => Ok(file),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// The first half of [`create_preallocated`]: creates `dir/tmp_name` (which must end in `.tmp`,
/// so an open after a crash deletes it) with exactly `len` preallocated bytes and `fsync`s it,
/// so that once renamed (and the directory synced) it has its full length. Used directly to
/// create a commit-log segment ahead of need.
///
/// # Errors
/// Any step failed (`ENOSPC` from preallocation included); the file is removed.
pub fn create_unnamed(disk: &dyn Disk, dir: &Path, tmp_name: &str, len: u64) -> io::Result<File> {
    let tmp = dir.join(tmp_name);
    // Never opens an existing file: truncating one could be truncating a file that is being
    // renamed into place. Leftovers of a crash are removed before a store uses the directory.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&tmp)?;
    let result = (|| {
        disk.preallocate(&file, len)?;
        if file.metadata()?.len() != len {
            return Err(io::Error::other(
                "preallocation did not produce the requested length",
            ));
        }
        file.sync_all()?;
        Ok(file)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Opens an existing store file for reading and writing (to map it).
///
/// # Errors
/// The open failed.
pub fn open_rw(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).write(true).open(path)
}

/// Removes leftover `*.tmp` files of interrupted creations in `dir`.
///
/// # Errors
/// Listing the directory failed.
pub fn remove_tmp_files(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().ends_with(".tmp") {
            let _ = fs::remove_file(entry.path());
        }
    }
    Ok(())
}

/// Parses a file name made of exactly 20 decimal digits (segment and consume-queue files).
pub fn parse_offset_name(name: &str) -> Option<u64> {
    if name.len() == 20 && name.bytes().all(|b| b.is_ascii_digit()) {
        name.parse().ok()
    } else {
        None
    }
}

/// The 20-digit, zero-padded file name for `offset`.
pub fn offset_name(offset: u64) -> String {
    format!("{offset:020}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct NoSpace;
    impl Disk for NoSpace {
        fn preallocate(&self, _file: &File, _len: u64) -> io::Result<()> {
            Err(io::Error::from_raw_os_error(libc::ENOSPC))
        }
    }

    #[test]
    fn create_is_atomic_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let f = create_preallocated(&OsDisk, dir.path(), &offset_name(0), 8192).unwrap();
        assert_eq!(f.metadata().unwrap().len(), 8192);
        let err = create_preallocated(&NoSpace, dir.path(), &offset_name(8192), 8192).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOSPC));
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec!["00000000000000000000".to_string()]);
    }

    #[test]
    fn names() {
        assert_eq!(offset_name(1073741824), "00000000001073741824");
        assert_eq!(parse_offset_name("00000000001073741824"), Some(1073741824));
        assert_eq!(parse_offset_name("0000000000107374182"), None);
        assert_eq!(parse_offset_name("0000000000107374182x"), None);
        let r = OsDisk.used_ratio(Path::new("/")).unwrap();
        assert!((0.0..=1.0).contains(&r));
    }
}
