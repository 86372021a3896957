//! The commit log's write lease: a durable bound on how far into the segment being written
//! non-zero bytes can lie, so recovery only has to check `[recovered end, lease end)` instead of
//! reading the whole rest of a (1 GiB by default, preallocated) segment on every open.
//!
//! Why recovery zeroes at all: it cuts the log at the first invalid record, and whatever follows
//! the cut (say a complete record after a torn one) is garbage. Left in place, it could come back:
//! later appends may end exactly where such a record starts, and after a second crash the scan
//! would walk on into it and find it valid (its CRC and physical-offset field still match). So
//! every byte past the cut that may be non-zero is zeroed (and synced) before appends resume.
//!
//! The lease makes "may be non-zero" small. Invariant: **for the segment named in the lease file,
//! every byte at or past the lease end is zero on disk.** It holds because
//! - a segment is created zero-filled (preallocated and synced before it gets its final name);
//! - the writer never puts a non-zero byte at or past the durable lease end: before staging bytes
//!   that would cross it (records, or an end-of-segment marker), it rewrites the lease to
//!   `needed end + LEASE_AHEAD` (clamped to the segment end) and `fdatasync`s it. That is one small
//!   synced write per [`LEASE_AHEAD`] bytes appended. Normally the thread working ahead of the
//!   writer ([`super::ahead`]) extends the lease before the writer gets near its end, so the sync
//!   does not happen under the append lock; the writer does it itself only if it catches up. The
//!   first append into a new segment records the first lease for it;
//! - recovery only writes zeros.
//!
//! A segment with no usable lease record — a store written before leases existed, a torn or
//! corrupt lease file, a lease naming another segment (after a crash right after a roll-over, or
//! a cut back into an earlier segment), or a lease below the recovered end — gets the old full
//! check to the segment end, after which the invariant holds for it as well. A binary that does
//! not know about leases must not write the store in between (if one did, delete the lease file).
//!
//! File: `<store_path>/commitlog.lease`, 32 bytes, rewritten in place. A torn write fails the CRC
//! and reads as "no lease", which is safe; the old record stays correct until the new one is
//! durable because nothing is staged past the old end before that.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::disk;
use crate::error::{StoreError, StoreResult};

/// How far past the bytes about to be written a new lease reaches. Bounds what recovery reads on
/// open (at most this much past the last record); the cost is one synced 32-byte write per this
/// many bytes appended.
pub const LEASE_AHEAD: u64 = 64 * 1024 * 1024;

const MAGIC: u32 = 0x534C_5345; // "SLSE"
const VERSION: u32 = 1;
/// Encoded size in bytes.
pub const LEASE_LEN: usize = 32;

/// A recorded lease: in the segment starting at `segment_start`, bytes at or past `end` (an
/// offset within the segment) are zero on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// Physical offset of the segment's first byte.
    pub segment_start: u64,
    /// Offset within the segment from which on every byte is zero.
    pub end: u64,
}

impl Lease {
    /// `magic | version | segment start | end | CRC32 of bytes 0..24 | reserved`, big-endian.
    pub fn encode(&self) -> [u8; LEASE_LEN] {
        let mut b = [0u8; LEASE_LEN];
        let fields = [
            &MAGIC.to_be_bytes()[..],
            &VERSION.to_be_bytes()[..],
            &self.segment_start.to_be_bytes()[..],
            &self.end.to_be_bytes()[..],
        ];
        let mut pos = 0;
        for f in fields {
            if let Some(dst) = b.get_mut(pos..pos + f.len()) {
                dst.copy_from_slice(f);
            }
            pos += f.len();
        }
        let crc = crc32fast::hash(b.get(..24).unwrap_or_default());
        if let Some(dst) = b.get_mut(24..28) {
            dst.copy_from_slice(&crc.to_be_bytes());
        }
        b
    }

    /// Decodes and checks magic, version and CRC; `None` if any is wrong.
    pub fn decode(b: &[u8]) -> Option<Self> {
        if b.len() != LEASE_LEN {
            return None;
        }
        let u32_at = |o: usize| -> Option<u32> {
            Some(u32::from_be_bytes(b.get(o..o + 4)?.try_into().ok()?))
        };
        let u64_at = |o: usize| -> Option<u64> {
            Some(u64::from_be_bytes(b.get(o..o + 8)?.try_into().ok()?))
        };
        if u32_at(0)? != MAGIC
            || u32_at(4)? != VERSION
            || crc32fast::hash(b.get(..24)?) != u32_at(24)?
        {
            return None;
        }
        Some(Self {
            segment_start: u64_at(8)?,
            end: u64_at(16)?,
        })
    }
}

/// Path of the lease file of the commit log in `commit_log_dir`: a sibling named
/// `<dir name>.lease` (`<store_path>/commitlog.lease`), kept out of the segment directory so the
/// directory holds only segment files, as RocketMQ expects.
pub fn path(commit_log_dir: &Path) -> PathBuf {
    let mut name = commit_log_dir
        .file_name()
        .map_or_else(|| OsString::from("commitlog"), OsString::from);
    name.push(".lease");
    commit_log_dir.with_file_name(name)
}

/// Reads the recorded lease; `Ok(None)` if there is no file or it does not decode.
///
/// # Errors
/// Reading failed for a reason other than the file's absence.
pub fn load(path: &Path) -> StoreResult<Option<Lease>> {
    match std::fs::read(path) {
        Ok(bytes) if bytes.is_empty() => Ok(None),
        Ok(bytes) => {
            let lease = Lease::decode(&bytes);
            if lease.is_none() {
                tracing::warn!(path = %path.display(), "commit-log lease unreadable; full tail check");
            }
            Ok(lease)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io("read commit-log lease", path, e)),
    }
}

/// The open lease file and the lease in force for the segment being written. Kept behind a mutex
/// in the commit log: the appender extends it when its records would cross it, the thread
/// working ahead extends it early, recovery adopts the recorded one.
#[derive(Debug)]
pub struct LeaseFile {
    path: PathBuf,
    file: File,
    current: Option<Lease>,
}

impl LeaseFile {
    /// Opens (creating it durably if needed) the lease file at `path`, with no lease in force yet;
    /// returns it and the lease recorded in it.
    ///
    /// # Errors
    /// Opening, creating or reading the file failed.
    pub fn open(path: &Path) -> StoreResult<(Self, Option<Lease>)> {
        let recorded = load(path)?;
        let existed = path.exists();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| StoreError::io("open commit-log lease", path, e))?;
        if !existed {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                disk::sync_dir(parent).map_err(|e| StoreError::io("sync dir", parent, e))?;
            }
        }
        Ok((
            Self {
                path: path.to_path_buf(),
                file,
                current: None,
            },
            recorded,
        ))
    }

    /// Recovery found `lease` valid for the segment the writer continues in.
    pub fn adopt(&mut self, lease: Lease) {
        self.current = Some(lease);
    }

    /// The lease in force, if any.
    pub fn current(&self) -> Option<Lease> {
        self.current
    }

    /// Makes sure the lease of the segment starting at `segment_start` covers `[0, needed_end)`,
    /// recording and syncing a new one (`needed_end + LEASE_AHEAD`, at most `segment_size`) if
    /// not. Must be called before any byte below `needed_end` and at or past the current lease is
    /// written.
    ///
    /// # Errors
    /// Writing or syncing the file failed; the caller must then not write past the old lease.
    pub fn cover(
        &mut self,
        segment_start: u64,
        needed_end: u64,
        segment_size: u64,
    ) -> StoreResult<()> {
        if self
            .current
            .is_some_and(|l| l.segment_start == segment_start && l.end >= needed_end)
        {
            return Ok(());
        }
        self.record(Lease {
            segment_start,
            end: needed_end.saturating_add(LEASE_AHEAD).min(segment_size),
        })
    }

    /// Early extension, off the append path: if a lease for the segment starting at
    /// `segment_start` is in force and ends less than `LEASE_AHEAD / 2` past `pos` (an offset
    /// within the segment, at or below what has been written), records `pos + LEASE_AHEAD`
    /// (at most `segment_size`). Never records the first lease of a segment: that is the
    /// writer's, on its first append there. Returns whether a new lease was recorded.
    ///
    /// # Errors
    /// Writing or syncing the file failed; the old lease stays in force.
    pub fn extend_early(
        &mut self,
        segment_start: u64,
        pos: u64,
        segment_size: u64,
    ) -> StoreResult<bool> {
        let Some((_, end)) = self.early_extension(segment_start, pos, segment_size) else {
            return Ok(false);
        };
        self.record(Lease { segment_start, end })?;
        Ok(true)
    }

    /// The range `[current end, new end)` (offsets within the segment) that
    /// [`LeaseFile::extend_early`] with the same arguments would add to the lease, if it would
    /// extend it: bytes the writer cannot be writing until then.
    pub fn early_extension(
        &self,
        segment_start: u64,
        pos: u64,
        segment_size: u64,
    ) -> Option<(u64, u64)> {
        let cur = self.current.filter(|l| l.segment_start == segment_start)?;
        let end = pos.saturating_add(LEASE_AHEAD).min(segment_size);
        if cur.end.saturating_sub(pos) >= LEASE_AHEAD / 2 || end <= cur.end {
            return None;
        }
        Some((cur.end, end))
    }

    /// Writes and syncs `lease`, then makes it the one in force.
    fn record(&mut self, lease: Lease) -> StoreResult<()> {
        let write = || -> std::io::Result<()> {
            self.file.write_all_at(&lease.encode(), 0)?;
            self.file.sync_data()
        };
        write().map_err(|e| StoreError::io("write commit-log lease", &self.path, e))?;
        tracing::debug!(
            segment_start = lease.segment_start,
            end = lease.end,
            "commit-log lease extended"
        );
        self.current = Some(lease);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_and_corruption() {
        let l = Lease {
            segment_start: 1 << 30,
            end: 64 << 20,
        };
        let mut b = l.encode();
        assert_eq!(Lease::decode(&b), Some(l));
        b[12] ^= 1;
        assert_eq!(Lease::decode(&b), None, "CRC catches a flipped bit");
        assert_eq!(Lease::decode(&[0u8; LEASE_LEN]), None);
        assert_eq!(Lease::decode(&b[..31]), None);
    }

    #[test]
    fn cover_extends_only_when_needed_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(&dir.path().join("commitlog"));
        assert_eq!(p, dir.path().join("commitlog.lease"));
        let (mut f, recorded) = LeaseFile::open(&p).unwrap();
        assert_eq!(recorded, None);
        let seg = 1u64 << 30;
        f.cover(0, 100, seg).unwrap();
        let first = Lease {
            segment_start: 0,
            end: 100 + LEASE_AHEAD,
        };
        assert_eq!(load(&p).unwrap(), Some(first));
        // Inside the lease: nothing is rewritten.
        f.cover(0, LEASE_AHEAD, seg).unwrap();
        assert_eq!(load(&p).unwrap(), Some(first));
        // Crossing it, and near the end of the segment: clamped.
        f.cover(0, seg - 10, seg).unwrap();
        assert_eq!(
            load(&p).unwrap().map(|l| l.end),
            Some(seg),
            "clamped to the segment end"
        );
        // A new segment needs its own lease.
        f.cover(seg, 50, seg).unwrap();
        assert_eq!(
            load(&p).unwrap(),
            Some(Lease {
                segment_start: seg,
                end: 50 + LEASE_AHEAD
            })
        );
        drop(f);
        let (_, recorded) = LeaseFile::open(&p).unwrap();
        assert_eq!(recorded.map(|l| l.segment_start), Some(seg));
    }

    #[test]
    fn early_extension_only_near_the_end_of_an_established_lease() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(&dir.path().join("commitlog"));
        let (mut f, _) = LeaseFile::open(&p).unwrap();
        let seg = 1u64 << 30;
        assert!(
            !f.extend_early(0, 10, seg).unwrap(),
            "no lease yet: the writer records the first"
        );
        f.cover(0, 100, seg).unwrap();
        assert!(!f.extend_early(0, 1000, seg).unwrap(), "far from its end");
        assert!(!f.extend_early(seg, 10, seg).unwrap(), "another segment");
        let near = 100 + LEASE_AHEAD / 2 + 1;
        assert!(f.extend_early(0, near, seg).unwrap());
        let recorded = load(&p).unwrap().unwrap();
        assert_eq!(recorded.end, near + LEASE_AHEAD);
        assert_eq!(f.current(), Some(recorded));
    }
}
