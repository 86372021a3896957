//! Thin wrappers over the few libc calls std does not offer: preallocation, file-system usage and
//! an advisory lock. Each returns `io::Result` so callers map errno to a typed store error.

use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;

/// Reserves `len` bytes of real disk blocks for `file` (extending it), so later writes through a
/// mapping cannot fail with SIGBUS for lack of space: a full disk is reported here as `ENOSPC`.
pub fn posix_fallocate(file: &File, len: u64) -> io::Result<()> {
    let len = libc::off_t::try_from(len)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file length too large"))?;
    // SAFETY: plain syscall on a file descriptor we own for the duration of the call; no memory
    // is passed to the kernel.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) };
    if rc == 0 {
        Ok(())
    } else {
        // posix_fallocate returns the error number instead of setting errno.
        Err(io::Error::from_raw_os_error(rc))
    }
}

/// Fraction (0.0–1.0) of the file system holding `path` that is in use, as `df` computes it
/// (blocks used over blocks usable by unprivileged users plus used).
pub fn used_ratio(path: &Path) -> io::Result<f64> {
    let mut bytes = path.as_os_str().as_bytes().to_vec();
    bytes.push(0);
    let c_path = std::ffi::CStr::from_bytes_with_nul(&bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    // SAFETY: statvfs is plain old data; an all-zero value is a valid instance.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c_path` is a valid NUL-terminated string and `st` a valid, writable statvfs that
    // outlives the call.
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), &mut st) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let total = st.f_blocks as f64;
    let free = st.f_bfree as f64;
    let avail = st.f_bavail as f64;
    let used = total - free;
    let usable = used + avail;
    if usable <= 0.0 {
        return Ok(0.0);
    }
    Ok((used / usable).clamp(0.0, 1.0))
}

/// Takes an exclusive, non-blocking advisory lock on `file`; fails with `WouldBlock` if another
/// process (or another open store in this process) holds it. Released when the file is closed.
pub fn try_lock_exclusive(file: &File) -> io::Result<()> {
    // SAFETY: plain syscall on a file descriptor we own; no memory is passed.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The parts of `[from, to)` of `file` that may hold data, as `lseek(SEEK_DATA / SEEK_HOLE)`
/// reports them. Everything else is a hole or an unwritten (preallocated, never written back)
/// extent with no written page in the page cache: it reads as zeros, so a scan for non-zero bytes
/// can skip it without faulting it in. A file system without support answers "all data" (the
/// kernel's generic fallback) or `EINVAL`; both give `[from, to)` whole, which is merely slower.
///
/// # Errors
/// `lseek` failed for another reason.
pub fn data_regions(file: &File, from: u64, to: u64) -> io::Result<Vec<(u64, u64)>> {
    let mut regions = Vec::new();
    let mut pos = from;
    while pos < to {
        let data = match seek(file, pos, libc::SEEK_DATA) {
            Ok(d) => d,
            // Nothing but holes from `pos` to the end of the file.
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => break,
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                regions.push((pos, to));
                break;
            }
            Err(e) => return Err(e),
        };
        if data >= to {
            break;
        }
        let hole = match seek(file, data, libc::SEEK_HOLE) {
            Ok(h) => h.min(to),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => to,
            Err(e) => return Err(e),
        };
        // The kernel always answers a hole after `data`; never loop on a bogus answer.
        let hole = if hole > data { hole } else { to };
        regions.push((data.max(pos), hole));
        pos = hole;
    }
    Ok(regions)
}

fn seek(file: &File, offset: u64, whence: libc::c_int) -> io::Result<u64> {
    let offset = libc::off_t::try_from(offset)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "offset too large"))?;
    // SAFETY: plain syscall on a file descriptor we own for the duration of the call; no memory
    // is passed to the kernel. Moving the descriptor's position is harmless: the store reads and
    // writes these files through mappings, never through the position.
    let rc = unsafe { libc::lseek(file.as_raw_fd(), offset, whence) };
    u64::try_from(rc).map_err(|_| io::Error::last_os_error())
}
