#![allow(clippy::unwrap_used, missing_docs)]
mod common;
use saturn_store::*;
use std::os::unix::fs::FileExt;
#[derive(Debug)]
struct Warm;
impl Disk for Warm {
    fn preallocate(&self, file: &std::fs::File, len: u64) -> std::io::Result<()> {
        mapped_file::sys::posix_fallocate(file, len)?;
        let z = vec![0u8; 1 << 20];
        let mut off = 0;
        while off < len { let n = (len - off).min(1 << 20); file.write_all_at(&z[..n as usize], off)?; off += n; }
        file.sync_data()
    }
}
#[test]
fn timing() {
    let dir = tempfile::tempdir().unwrap();
    for warm in [false, true, false, true] {
        let mut cfg = StoreConfig::new(dir.path().join(format!("{warm}{}", rand())));
        cfg.commit_log_segment_size = 256 << 20;
        let disk: std::sync::Arc<dyn Disk> = if warm { std::sync::Arc::new(Warm) } else { std::sync::Arc::new(OsDisk) };
        let store = MessageStore::open_with_disk(cfg, disk).unwrap();
        store.append(&common::msg("T", 0, &[1u8; 1024], &[])).unwrap();
        let n = 100_000;
        let t = std::time::Instant::now();
        for i in 0..n {
            store.append(&common::msg("T", 0, &[1u8; 1024], &[("UNIQ_KEY", &format!("u{i}"))])).unwrap();
        }
        eprintln!("warm {warm}: {:?} per async append", t.elapsed() / n);
    }
}
fn rand() -> u128 { std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() }
