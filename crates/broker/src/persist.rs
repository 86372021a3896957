//! Small JSON config files under `<root>/config/`: atomic replacement (write a temp file, fsync,
//! rename, fsync the directory) so a crash leaves either the old or the new file, never half of
//! one; a `.bak` copy of the previous version is kept like Java does.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use crate::error::BrokerError;

/// Reads `path`; `Ok(None)` when neither it nor its `.bak` exists.
///
/// # Errors
/// [`BrokerError::File`] for a read failure.
pub fn read(path: &Path) -> Result<Option<Vec<u8>>, BrokerError> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let bak = path.with_extension("json.bak");
            match fs::read(&bak) {
                Ok(b) => {
                    tracing::warn!(path = %path.display(), "config file missing, using its .bak");
                    Ok(Some(b))
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(source) => Err(BrokerError::File {
                    op: "read",
                    path: bak,
                    source,
                }),
            }
        }
        Err(source) => Err(BrokerError::File {
            op: "read",
            path: path.to_owned(),
            source,
        }),
    }
}

/// Atomically replaces `path` with `contents` (creating the directory if needed).
///
/// # Errors
/// [`BrokerError::File`] naming the failing step.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), BrokerError> {
    let err = |op: &'static str, p: &Path| {
        let p = p.to_owned();
        move |source| BrokerError::File {
            op,
            path: p,
            source,
        }
    };
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    fs::create_dir_all(dir).map_err(err("create directory", dir))?;
    let tmp = path.with_extension("json.tmp");
    {
        let mut f = fs::File::create(&tmp).map_err(err("create", &tmp))?;
        f.write_all(contents).map_err(err("write", &tmp))?;
        f.sync_all().map_err(err("fsync", &tmp))?;
    }
    if path.exists() {
        // Best effort: the backup only helps a human after a bad edit.
        let _ = fs::copy(path, path.with_extension("json.bak"));
    }
    fs::rename(&tmp, path).map_err(err("rename", &tmp))?;
    if let Ok(d) = fs::File::open(dir) {
        // Makes the rename itself durable; not all platforms allow fsync on a directory.
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_read_and_replace() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config").join("x.json");
        assert!(read(&p).unwrap().is_none());
        write_atomic(&p, b"{\"a\":1}").unwrap();
        write_atomic(&p, b"{\"a\":2}").unwrap();
        assert_eq!(read(&p).unwrap().unwrap(), b"{\"a\":2}");
        assert!(!p.with_extension("json.tmp").exists());
        fs::remove_file(&p).unwrap();
        assert_eq!(read(&p).unwrap().unwrap(), b"{\"a\":1}");
    }
}
