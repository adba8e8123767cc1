//! Files written whole or not at all: a file is written under a temporary name in its
//! final directory and renamed into place ([`Staged`]); parquet tables are written
//! through [`StagedParquet`] with [`parquet_writer`], whose files every reader reads.
//! Collection stages all its tables, then commits them together, so a reader sees the
//! old tables or the new ones, never a torn file.

use anyhow::Context as _;
use polars::prelude::*;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Adds what was being done to a polars error (polars' prelude has its own `Context`
/// trait, so anyhow's `.context` is ambiguous on `PolarsResult`).
pub(crate) fn pl<T>(r: PolarsResult<T>, what: impl FnOnce() -> String) -> anyhow::Result<T> {
    r.map_err(|e| anyhow::anyhow!("{}: {e}", what()))
}

/// A parquet writer (zstd) whose files every reader reads: pyarrow 10 and later,
/// pandas, duckdb, polars and Spark.
///
/// polars' writer embeds the Arrow schema of its newest memory layout (strings as
/// `string_view`, Arrow type 24) in the file's `ARROW:schema` metadata, and pyarrow 14
/// and older refuse the whole file (`Unrecognized type: 24`). The data pages are plain
/// parquet byte arrays either way; only that embedded schema differs, so the tables
/// embed the schema of the oldest layout (`large_string`) instead.
pub(crate) fn parquet_writer<W: Write>(w: W, schema: &Schema) -> ParquetWriter<W> {
    let arrow = schema.to_arrow(CompatLevel::oldest());
    ParquetWriter::new(w)
        .with_compression(ParquetCompression::Zstd(None))
        .with_key_value_metadata(Some(polars::io::parquet::write::KeyValueMetadata::Static(
            vec![polars_parquet::write::schema_to_metadata_key(&arrow)],
        )))
}

/// A file written under a temporary name in its final directory; [`Staged::commit`]
/// renames it into place, dropping it uncommitted removes it.
pub(crate) struct Staged {
    tmp: PathBuf,
    path: PathBuf,
    committed: bool,
}

impl Staged {
    /// Reserves a unique temporary name next to `path` (creating the directory).
    pub(crate) fn create(path: &Path) -> anyhow::Result<Staged> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Staged {
            tmp: crate::store::temp_sibling(path),
            path: path.to_path_buf(),
            committed: false,
        })
    }

    /// A buffered writer of the temporary file (truncated).
    pub(crate) fn writer(&self) -> anyhow::Result<BufWriter<File>> {
        let f = File::create(&self.tmp)
            .with_context(|| format!("cannot create {}", self.tmp.display()))?;
        Ok(BufWriter::with_capacity(1 << 20, f))
    }

    /// Flushes a writer from [`Staged::writer`] to disk.
    pub(crate) fn sync(w: BufWriter<File>) -> anyhow::Result<()> {
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        Ok(())
    }

    /// Renames the temporary file over the final path; returns the final path.
    pub(crate) fn commit(mut self) -> anyhow::Result<PathBuf> {
        std::fs::rename(&self.tmp, &self.path)
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        self.committed = true;
        Ok(self.path.clone())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// A `Write` handle shared between a parquet writer and its owner, so the owner can
/// flush and sync the file after the writer wrote the footer.
#[derive(Clone)]
struct SharedFile(std::sync::Arc<std::sync::Mutex<BufWriter<File>>>);

impl Write for SharedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.lock()?.write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.lock()?.write_all(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.lock()?.flush()
    }
}

impl SharedFile {
    fn lock(&self) -> std::io::Result<std::sync::MutexGuard<'_, BufWriter<File>>> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("parquet writer poisoned"))
    }
}

/// A parquet file (zstd) written row group by row group into a [`Staged`] file.
pub(crate) struct StagedParquet {
    staged: Staged,
    file: SharedFile,
    writer: polars::io::parquet::write::BatchedWriter<SharedFile>,
}

impl StagedParquet {
    pub(crate) fn create(path: &Path, schema: &Schema) -> anyhow::Result<StagedParquet> {
        let staged = Staged::create(path)?;
        let file = SharedFile(std::sync::Arc::new(std::sync::Mutex::new(staged.writer()?)));
        let writer = pl(parquet_writer(file.clone(), schema).batched(schema), || {
            format!("cannot start {}", path.display())
        })?;
        Ok(StagedParquet {
            staged,
            file,
            writer,
        })
    }

    pub(crate) fn write(&mut self, df: &mut DataFrame) -> anyhow::Result<()> {
        df.align_chunks();
        pl(self.writer.write_batch(df), || {
            format!("cannot write {}", self.staged.path.display())
        })
    }

    /// Writes the footer and syncs; the file still has to be committed.
    pub(crate) fn finish(self) -> anyhow::Result<Staged> {
        pl(self.writer.finish(), || {
            format!("cannot write {}", self.staged.path.display())
        })?;
        let mut w = self.file.lock()?;
        w.flush()?;
        w.get_ref().sync_all()?;
        drop(w);
        Ok(self.staged)
    }

    /// Writes a whole frame as one staged file.
    pub(crate) fn write_frame(path: &Path, df: &mut DataFrame) -> anyhow::Result<Staged> {
        let staged = Staged::create(path)?;
        let mut w = staged.writer()?;
        let schema = df.schema().clone();
        pl(parquet_writer(&mut w, &schema).finish(df), || {
            format!("cannot write {}", path.display())
        })?;
        Staged::sync(w)?;
        Ok(staged)
    }
}
