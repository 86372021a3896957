//! Warming commit-log space for sync flush: writing real zeros over preallocated space before
//! the writer reaches it.
//!
//! Segments are preallocated with `posix_fallocate`, which on ext4 and XFS reserves *unwritten*
//! extents. The first write into such an extent converts it, and that conversion is metadata: an
//! `fdatasync` covering it must commit the file system's journal as well as the data. Measured
//! here with fio (8 KiB writes, `fdatasync` each): 251 µs per sync into fallocated space, 124 µs
//! into space written before. In sync-flush mode every group commit pays that difference, so the
//! thread working ahead of the writer ([`super::ahead`]) writes zeros over the space the writer
//! will reach next and syncs it, while nobody can be writing there:
//! - in a segment being pre-created, before it is handed to the writer (its first lease's worth);
//! - in the segment being written, only beyond the durable write lease ([`super::lease`]), with
//!   the lease lock held, just before the lease is extended over that space. The writer never
//!   writes at or past the lease end, and can only extend the lease through the same lock.
//!
//! The zeros go through the page cache, so the writer later maps cached pages (no read). It
//! costs one extra write of every byte of the log, hence only on when configured
//! (`StoreConfig::warm_segments`, which the broker turns on with sync flush, like RocketMQ's
//! `warmMapedFileEnable`). Failures only cost speed: they are logged and the space stays as it
//! was (zero either way).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Zeros are written in pieces of this size.
const CHUNK: usize = 1024 * 1024;

/// Writes zeros over `[from, to)` of `file` and `fdatasync`s them.
///
/// # Errors
/// A write or the sync failed.
pub fn write_zeros(file: &File, from: u64, to: u64) -> io::Result<()> {
    if from >= to {
        return Ok(());
    }
    let zeros = vec![0u8; CHUNK];
    let mut at = from;
    while at < to {
        let n = usize::try_from(to - at).map_or(CHUNK, |left| left.min(CHUNK));
        file.write_all_at(zeros.get(..n).unwrap_or_default(), at)?;
        at += n as u64;
    }
    file.sync_data()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;

    #[test]
    fn zeros_exactly_the_range_and_nothing_around_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seg");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        let len = 3 * CHUNK as u64 + 100;
        file.write_all_at(&vec![7u8; len as usize], 0).unwrap();
        let (from, to) = (10, 2 * CHUNK as u64 + 33);
        write_zeros(&file, from, to).unwrap();
        let mut back = vec![0u8; len as usize];
        file.read_exact_at(&mut back, 0).unwrap();
        for (i, b) in back.iter().enumerate() {
            let expect = if (from..to).contains(&(i as u64)) {
                0
            } else {
                7
            };
            assert_eq!(*b, expect, "byte {i}");
        }
        assert_eq!(file.metadata().unwrap().len(), len, "length unchanged");
        write_zeros(&file, 5, 5).unwrap();
    }
}
