//! Seals: what a finished run's `result.json` records about the files its results are
//! read from, so that damage (a cut-short copy, a flipped byte, a file overwritten by
//! something else) is detected before anything is aggregated.
//!
//! A [`Seal`] lists, for each sealed file of the run directory, its byte length and
//! SHA-256, plus the SHA-256 of `result.json` itself (computed over the file as written
//! with that one field empty). A run is complete only when every part of its seal
//! verifies; [`Damage`] says which file is wrong and how.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;

/// The length and SHA-256 of one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSeal {
    /// Length in bytes.
    pub bytes: u64,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
}

impl FileSeal {
    /// The seal of `content`.
    pub fn of(content: &[u8]) -> FileSeal {
        FileSeal {
            bytes: content.len() as u64,
            sha256: sha256_hex(content),
        }
    }

    /// Checks `content` against the seal; the error says how it differs.
    pub fn check(&self, content: &[u8]) -> Result<(), String> {
        let len = content.len() as u64;
        if len != self.bytes {
            let how = if len < self.bytes {
                "cut short"
            } else {
                "longer than sealed"
            };
            return Err(format!("{how}: {len} bytes, sealed with {}", self.bytes));
        }
        if sha256_hex(content) != self.sha256 {
            return Err(format!(
                "content changed: SHA-256 differs from the seal (same length, {len} bytes)"
            ));
        }
        Ok(())
    }
}

/// The seal a finished run's `result.json` carries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seal {
    /// Every file the run's results are read from, by file name in the run directory.
    pub files: BTreeMap<String, FileSeal>,
    /// SHA-256 of `result.json` as written with this field set to the empty string.
    pub result_sha256: String,
}

/// What is wrong with a run directory, file by file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    /// The damaged file, by name in the run directory.
    pub file: String,
    /// What is wrong with it.
    pub what: String,
}

impl Damage {
    /// Damage to `file`.
    pub fn new(file: impl Into<String>, what: impl Into<String>) -> Damage {
        Damage {
            file: file.into(),
            what: what.into(),
        }
    }
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.what)
    }
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    crate::config::hex(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_seals_name_how_a_file_differs() {
        let s = FileSeal::of(b"hello\n");
        assert_eq!(s.bytes, 6);
        // Reference value: `printf 'hello\n' | sha256sum`.
        assert_eq!(
            s.sha256,
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
        );
        assert!(s.check(b"hello\n").is_ok());
        assert!(s.check(b"hel").unwrap_err().contains("cut short"));
        assert!(s.check(b"hello\n\n").unwrap_err().contains("longer"));
        assert!(s.check(b"hellp\n").unwrap_err().contains("content changed"));
        let d = Damage::new("steps.jsonl", "cut short");
        assert_eq!(d.to_string(), "steps.jsonl: cut short");
    }
}
