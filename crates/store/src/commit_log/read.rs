//! Zero-copy reads of the commit log.

use bytes::Bytes;
use saturn_protocol::message::record::{
    peek_magic, peek_total_size, store_timestamp_pos, MESSAGE_MAGIC_V1, MESSAGE_MAGIC_V2,
    SYS_FLAG_POS,
};

use super::CommitLog;

fn be_i32(b: &[u8]) -> Option<i32> {
    Some(i32::from_be_bytes(b.get(..4)?.try_into().ok()?))
}

fn be_i64(b: &[u8]) -> Option<i64> {
    Some(i64::from_be_bytes(b.get(..8)?.try_into().ok()?))
}

impl CommitLog {
    /// `len` published bytes at `phys` as a zero-copy slice of the mapped segment (`None` if the
    /// range is deleted, unpublished, or crosses a segment end).
    pub fn slice(&self, phys: u64, len: usize) -> Option<Bytes> {
        let seg = self.segment_for(phys)?;
        seg.file.slice(usize::try_from(phys - seg.start).ok()?, len)
    }

    /// Borrowed header bytes of the record at `phys` (up to `len` bytes), for small reads.
    fn with_bytes<R>(
        &self,
        phys: u64,
        len: usize,
        f: impl FnOnce(&[u8]) -> Option<R>,
    ) -> Option<R> {
        let seg = self.segment_for(phys)?;
        let off = usize::try_from(phys - seg.start).ok()?;
        f(seg.file.read(off, len)?)
    }

    /// The whole record starting at `phys` (`None` for a blank marker, garbage, or an offset that
    /// is not a record start or no longer on disk).
    pub fn record_at(&self, phys: u64) -> Option<Bytes> {
        let (size, magic) =
            self.with_bytes(phys, 8, |b| Some((peek_total_size(b)?, peek_magic(b)?)))?;
        if magic != MESSAGE_MAGIC_V1 && magic != MESSAGE_MAGIC_V2 {
            return None;
        }
        let size = usize::try_from(size).ok()?;
        let rec = self.slice(phys, size)?;
        // The physical offset stored in the record proves `phys` is a record start.
        let stored = be_i64(rec.get(28..)?)?;
        (u64::try_from(stored).ok() == Some(phys)).then_some(rec)
    }

    /// Store time of the record at `phys`, read from its header without copying the record.
    pub fn store_timestamp_at(&self, phys: u64) -> Option<i64> {
        self.with_bytes(phys, 64 + 20, |b| {
            let sys_flag = be_i32(b.get(SYS_FLAG_POS..)?)?;
            be_i64(b.get(store_timestamp_pos(sys_flag)..)?)
        })
        .or_else(|| {
            // A record shorter than the probe near the end of the published region.
            let rec = self.record_at(phys)?;
            let sys_flag = be_i32(rec.get(SYS_FLAG_POS..)?)?;
            be_i64(rec.get(store_timestamp_pos(sys_flag)..)?)
        })
    }
}
