//! The checkpoint file: a run's exact state plus the lengths and SHA-256 digests of its
//! metrics files at that moment, with a SHA-256 trailer so that a damaged file is
//! detected, never trusted. The metrics digests let a resume check that the records it
//! continues are the ones the checkpoint saw.
//!
//! Layout (little endian): magic `RSWPCKP2`, step u64, steps.jsonl length u64,
//! layers.jsonl length u64, SHA-256 of those first bytes of steps.jsonl and of
//! layers.jsonl (32 bytes each), elapsed seconds f64, optimizer tag u8 (0 Adam, 1 SGD),
//! parameter count u64, then the parameters and each optimizer buffer as f32, then the
//! SHA-256 of everything before it. (`RSWPCKP1`, without the metrics digests, was written
//! by resweep before run seals; such a checkpoint is reported and its run restarts.)

use crate::experiment::optim::OptimizerState;
use crate::experiment::TrainState;
use sha2::{Digest, Sha256};

const MAGIC: &[u8; 8] = b"RSWPCKP2";
const MAGIC_V1: &[u8; 8] = b"RSWPCKP1";

/// A decoded checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// The training state.
    pub state: TrainState,
    /// Length of steps.jsonl when the checkpoint was taken.
    pub steps_len: u64,
    /// Length of layers.jsonl when the checkpoint was taken.
    pub layers_len: u64,
    /// SHA-256 of the first `steps_len` bytes of steps.jsonl.
    pub steps_sha256: [u8; 32],
    /// SHA-256 of the first `layers_len` bytes of layers.jsonl.
    pub layers_sha256: [u8; 32],
    /// Wall-clock seconds spent training so far, over every session of the run.
    pub elapsed_s: f64,
}

impl Checkpoint {
    /// Serializes the checkpoint.
    pub fn encode(&self) -> Vec<u8> {
        let n = self.state.params.len();
        let bufs = self.state.opt.buffers();
        let mut out = Vec::with_capacity(64 + 4 * n * (1 + bufs.len()));
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.state.step as u64).to_le_bytes());
        out.extend_from_slice(&self.steps_len.to_le_bytes());
        out.extend_from_slice(&self.layers_len.to_le_bytes());
        out.extend_from_slice(&self.steps_sha256);
        out.extend_from_slice(&self.layers_sha256);
        out.extend_from_slice(&self.elapsed_s.to_le_bytes());
        out.push(match self.state.opt {
            OptimizerState::Adam { .. } => 0,
            OptimizerState::Sgd { .. } => 1,
        });
        out.extend_from_slice(&(n as u64).to_le_bytes());
        for buf in std::iter::once(self.state.params.as_slice()).chain(bufs) {
            for v in buf {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        let digest = Sha256::digest(&out);
        out.extend_from_slice(&digest);
        out
    }

    /// Parses and verifies a checkpoint; the error says what is wrong with the file.
    pub fn decode(bytes: &[u8]) -> Result<Checkpoint, String> {
        if bytes.len() >= MAGIC_V1.len() && &bytes[..8] == MAGIC_V1 {
            return Err(
                "written by an older resweep (checkpoint format 1, no metrics digests)".into(),
            );
        }
        if bytes.len() < MAGIC.len() + 32 || &bytes[..8] != MAGIC {
            return Err("not a resweep checkpoint (bad header)".into());
        }
        let (body, digest) = bytes.split_at(bytes.len() - 32);
        if Sha256::digest(body).as_slice() != digest {
            return Err("checksum mismatch: the file is damaged or was cut short".into());
        }
        let mut r = Reader { b: body, i: 8 };
        let step = r.u64()? as usize;
        let steps_len = r.u64()?;
        let layers_len = r.u64()?;
        let steps_sha256 = r.digest()?;
        let layers_sha256 = r.digest()?;
        let elapsed_s = f64::from_bits(r.u64()?);
        let tag = r.u8()?;
        let n = r.u64()? as usize;
        let params = r.f32s(n)?;
        let opt = match tag {
            0 => OptimizerState::Adam {
                m: r.f32s(n)?,
                v: r.f32s(n)?,
            },
            1 => OptimizerState::Sgd { buf: r.f32s(n)? },
            t => return Err(format!("unknown optimizer tag {t}")),
        };
        if r.i != body.len() {
            return Err("trailing bytes after the optimizer state".into());
        }
        Ok(Checkpoint {
            state: TrainState { step, params, opt },
            steps_len,
            layers_len,
            steps_sha256,
            layers_sha256,
            elapsed_s,
        })
    }
}

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.i.checked_add(n).filter(|&e| e <= self.b.len());
        let end = end.ok_or("the file ends early")?;
        let s = &self.b[self.i..end];
        self.i = end;
        Ok(s)
    }
    fn digest(&mut self) -> Result<[u8; 32], String> {
        Ok(self.take(32)?.try_into().expect("32 bytes"))
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn f32s(&mut self, n: usize) -> Result<Vec<f32>, String> {
        let bytes = self.take(n.checked_mul(4).ok_or("size overflow")?)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_damage_detection() {
        let c = Checkpoint {
            state: TrainState {
                step: 100,
                params: vec![1.0, -2.5, f32::MIN_POSITIVE],
                opt: OptimizerState::Adam {
                    m: vec![0.1, 0.2, 0.3],
                    v: vec![1e-9, 2e-9, 0.0],
                },
            },
            steps_len: 1234,
            layers_len: 5678,
            steps_sha256: [7; 32],
            layers_sha256: [9; 32],
            elapsed_s: 1.25,
        };
        let bytes = c.encode();
        assert_eq!(Checkpoint::decode(&bytes).unwrap(), c);
        let mut bad = bytes.clone();
        bad[20] ^= 1;
        assert!(Checkpoint::decode(&bad).unwrap_err().contains("checksum"));
        assert!(Checkpoint::decode(&bytes[..bytes.len() - 5]).is_err());
        assert!(Checkpoint::decode(b"hello").unwrap_err().contains("header"));
        let mut old = bytes.clone();
        old[..8].copy_from_slice(MAGIC_V1);
        assert!(Checkpoint::decode(&old)
            .unwrap_err()
            .contains("older resweep"));
    }
}
