//! Append-only JSON-lines files that survive a crash mid-write.
//!
//! A writer appends whole lines; a crash can leave a last line without its newline (or
//! cut inside a multi-byte value). Readers treat such a torn tail as absent, and a
//! resumed run truncates the file to the length its checkpoint recorded. A malformed
//! line *before* the tail is real corruption and is reported with its line number.
//!
//! A writer keeps the SHA-256 of everything the file holds, so a checkpoint can record
//! the digest of the records it continues from, and a resume refuses a prefix that
//! changed since.

use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read as _, Write};
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
    parse(&bytes, path)
}

/// Parses the content of a JSON-lines file (`path` names it in errors).
pub fn parse<T: DeserializeOwned>(bytes: &[u8], path: &Path) -> anyhow::Result<Read<T>> {
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
    /// SHA-256 of every byte the file holds (kept prefix and appended rows).
    digest: Sha256,
    line: Vec<u8>,
}

/// The first `len` bytes of `path` and their SHA-256 do not match what was expected.
#[derive(Debug, thiserror::Error)]
#[error("{what}")]
pub struct PrefixMismatch {
    /// What differs, as a sentence.
    pub what: String,
}

/// SHA-256 of the first `len` bytes of `path`; an error says the file is shorter.
pub fn prefix_digest(path: &Path, len: u64) -> anyhow::Result<[u8; 32]> {
    Ok(read_prefix(path, len)?.finalize().into())
}

fn read_prefix(path: &Path, len: u64) -> anyhow::Result<Sha256> {
    let mut digest = Sha256::new();
    if len == 0 {
        return Ok(digest);
    }
    let file =
        File::open(path).map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
    let mut taken = file.take(len);
    let mut buf = vec![0u8; 64 * 1024];
    let mut read = 0u64;
    loop {
        let n = taken.read(&mut buf)?;
        if n == 0 {
            break;
        }
        digest.update(&buf[..n]);
        read += n as u64;
    }
    if read < len {
        return Err(PrefixMismatch {
            what: format!("cut short: {read} bytes, the checkpoint continues from {len}"),
        }
        .into());
    }
    Ok(digest)
}

impl Writer {
    /// Opens `path` for appending after truncating it to `len` bytes (0 = start afresh).
    /// With `expect`, the kept `len` bytes must have that SHA-256 (else a
    /// [`PrefixMismatch`]): a resume continues only the records its checkpoint saw.
    pub fn open_at(path: &Path, len: u64, expect: Option<&[u8; 32]>) -> anyhow::Result<Writer> {
        let digest = read_prefix(path, len)?;
        if let Some(expect) = expect {
            if digest.clone().finalize().as_slice() != expect {
                return Err(PrefixMismatch {
                    what: format!(
                        "content changed: its first {len} bytes differ from what the checkpoint recorded"
                    ),
                }
                .into());
            }
        }
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
            digest,
            line: Vec::with_capacity(512),
        })
    }

    /// Appends one row.
    pub fn append<T: Serialize>(&mut self, row: &T) -> anyhow::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, row)?;
        self.line.push(b'\n');
        self.digest.update(&self.line);
        self.out.write_all(&self.line)?;
        Ok(())
    }

    /// Flushes buffered rows to the file and to disk; returns the file's length and the
    /// SHA-256 of its content.
    pub fn sync(&mut self) -> anyhow::Result<(u64, [u8; 32])> {
        self.out.flush()?;
        let f = self.out.get_ref();
        f.sync_data()?;
        Ok((f.metadata()?.len(), self.digest.clone().finalize().into()))
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
        let mut w = Writer::open_at(&p, 0, None).unwrap();
        for i in 0..3u32 {
            w.append(&i).unwrap();
        }
        let (len, digest) = w.sync().unwrap();
        assert_eq!(digest, prefix_digest(&p, len).unwrap());
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
        let mut w = Writer::open_at(&p, len, Some(&digest)).unwrap();
        w.append(&3u32).unwrap();
        let (len4, digest4) = w.sync().unwrap();
        assert_eq!(digest4, prefix_digest(&p, len4).unwrap());
        assert_eq!(read::<u32>(&p).unwrap().rows, vec![0, 1, 2, 3]);
        drop(w);
        // A prefix that changed, or a file cut short, is refused, not continued.
        std::fs::write(&p, b"0\n9\n2\n3\n").unwrap();
        let err = Writer::open_at(&p, len, Some(&digest)).err().unwrap();
        assert!(err.to_string().contains("content changed"), "{err}");
        std::fs::write(&p, b"0\n").unwrap();
        let err = Writer::open_at(&p, len, Some(&digest)).err().unwrap();
        assert!(err.to_string().contains("cut short"), "{err}");
        std::fs::write(&p, b"1\n{oops\n3\n").unwrap();
        let err = read::<u32>(&p).unwrap_err().to_string();
        assert!(err.contains("m.jsonl:2"), "{err}");
        assert!(read::<u32>(&dir.path().join("none.jsonl"))
            .unwrap()
            .rows
            .is_empty());
    }
}
