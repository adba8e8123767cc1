//! Append-only JSON-lines files that survive a crash mid-write.
//!
//! A writer appends whole lines; a crash can leave a last line without its newline (or
//! cut inside a multi-byte value). Readers treat such a torn tail as absent, and a
//! resumed run truncates the file to the length its checkpoint recorded. A malformed
//! line *before* the tail is real corruption and is reported with its line number.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Rows read from a JSON-lines file.
#[derive(Debug)]
pub struct Read<T> {
    /// The complete rows.
    pub rows: Vec<T>,
    /// Bytes of a torn last line that were ignored (0 when the file ended cleanly).
    pub torn_bytes: usize,
}

/// Reads every complete row of `path`; a missing file reads as empty.
pub fn read<T: DeserializeOwned>(path: &Path) -> anyhow::Result<Read<T>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
    };
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let torn_bytes = bytes.len() - complete;
    let mut rows = Vec::new();
    let lines: Vec<&[u8]> = bytes[..complete].split(|&b| b == b'\n').collect();
    let n = lines.len().saturating_sub(1); // the split leaves an empty piece after the last '\n'
    for (i, line) in lines[..n].iter().enumerate() {
        match serde_json::from_slice(line) {
            Ok(row) => rows.push(row),
            Err(e) => anyhow::bail!(
                "{}:{}: corrupted metrics line ({e}); delete the run directory to rerun it",
                path.display(),
                i + 1
            ),
        }
    }
    Ok(Read { rows, torn_bytes })
}

/// An appending writer of JSON lines.
pub struct Writer {
    path: PathBuf,
    out: BufWriter<File>,
}

impl Writer {
    /// Opens `path` for appending after truncating it to `len` bytes (0 = start afresh).
    pub fn open_at(path: &Path, len: u64) -> anyhow::Result<Writer> {
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(path)
            .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
        file.set_len(len)?;
        let mut file = file;
        use std::io::Seek;
        file.seek(std::io::SeekFrom::Start(len))?;
        Ok(Writer {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(64 * 1024, file),
        })
    }

    /// Appends one row.
    pub fn append<T: Serialize>(&mut self, row: &T) -> anyhow::Result<()> {
        serde_json::to_writer(&mut self.out, row)?;
        self.out.write_all(b"\n")?;
        Ok(())
    }

    /// Flushes buffered rows to the file and to disk; returns the file's length.
    pub fn sync(&mut self) -> anyhow::Result<u64> {
        self.out.flush()?;
        let f = self.out.get_ref();
        f.sync_data()?;
        Ok(f.metadata()?.len())
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_tail_is_ignored_and_middle_corruption_reported() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.jsonl");
        let mut w = Writer::open_at(&p, 0).unwrap();
        for i in 0..3u32 {
            w.append(&i).unwrap();
        }
        let len = w.sync().unwrap();
        drop(w);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .unwrap()
            .write_all(b"12")
            .unwrap();
        let r: Read<u32> = read(&p).unwrap();
        assert_eq!(r.rows, vec![0, 1, 2]);
        assert_eq!(r.torn_bytes, 2);
        // Reopening at the recorded length drops the tail.
        let mut w = Writer::open_at(&p, len).unwrap();
        w.append(&3u32).unwrap();
        w.sync().unwrap();
        assert_eq!(read::<u32>(&p).unwrap().rows, vec![0, 1, 2, 3]);
        std::fs::write(&p, b"1\n{oops\n3\n").unwrap();
        let err = read::<u32>(&p).unwrap_err().to_string();
        assert!(err.contains("m.jsonl:2"), "{err}");
        assert!(read::<u32>(&dir.path().join("none.jsonl"))
            .unwrap()
            .rows
            .is_empty());
    }
}
