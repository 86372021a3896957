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
use std::time::Duration;

/// Zeros are written, and synced, in pieces of this size.
const CHUNK: usize = 1024 * 1024;
/// Pause between two pieces, so the group commits of sync flush get the disk in between.
const PAUSE: Duration = Duration::from_millis(1);

/// Writes zeros over `[from, to)` of `file`, one [`CHUNK`] at a time, each `fdatasync`ed before
/// the next is written, with a short pause in between.
///
/// Why in pieces: a group commit's `msync` waits for the disk, and the disk was busy with
/// whatever had been written before it. Writing a whole lease extension (32 MiB) and then
/// syncing it held every group commit behind it for tens of milliseconds: 16 producers paced at
/// 10k msg/s in sync mode had a send p99 of 9–177 ms with warming and 1.7 ms without. One MiB
/// costs the disk about 2 ms here.
///
/// # Errors
/// A write or a sync failed.
pub fn write_zeros(file: &File, from: u64, to: u64) -> io::Result<()> {
    if from >= to {
        return Ok(());
    }
    let zeros = vec![0u8; CHUNK];
    let mut at = from;
    while at < to {
        if at > from {
            std::thread::sleep(PAUSE);
        }
        let n = usize::try_from(to - at).map_or(CHUNK, |left| left.min(CHUNK));
        file.write_all_at(zeros.get(..n).unwrap_or_default(), at)?;
        file.sync_data()?;
        at += n as u64;
    }
    Ok(())
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
