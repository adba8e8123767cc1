//! A run's weights as safetensors files (`weights_init.safetensors`,
//! `weights_final.safetensors`): what later probes (loss landscapes) and other tools
//! (Python's `safetensors`, PyTorch) reload.
//!
//! Layout, as PyTorch's `nn.Linear` in an `nn.ModuleList` named `layers`: tensors
//! `layers.{l}.weight` (`[width, width]`, `W[out][in]`, f32) and `layers.{l}.bias`
//! (`[width]`), `l = 0..depth` (layer 1 is `layers.0`). One metadata entry, `resweep`,
//! holds a JSON object (run id, step, depth, width, residual): a single entry keeps the
//! file's bytes deterministic (safetensors writes its metadata map in hash order).

use crate::experiment::model::Arch;
use safetensors::tensor::{Dtype, SafeTensors, View};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::HashMap;

/// What a weights file says about itself (its `resweep` metadata entry).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightsMeta {
    /// The run's id.
    pub run_id: String,
    /// Updates applied to these weights (0 = the initial weights).
    pub step: usize,
    /// Number of layers.
    pub depth: usize,
    /// Width of every layer.
    pub width: usize,
    /// ResMLP (`x + relu(Wx + b)`) or PlainMLP (`relu(Wx + b)`).
    pub residual: bool,
    /// Whether every block has a ReZero gate (a tensor `layers.{l}.gate` of shape `[1]`);
    /// absent from files without gates.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gates: bool,
}

impl WeightsMeta {
    /// The layout of the flat parameters this file holds.
    fn arch(&self) -> Arch {
        let mut arch = Arch::new(self.depth, self.width, self.residual);
        arch.block.gate = self.gates;
        arch
    }

    /// Each layer's tensors: name, shape and index range in the flat parameters.
    fn tensors(&self) -> Vec<(String, Vec<usize>, std::ops::Range<usize>)> {
        let arch = self.arch();
        let mut out = Vec::with_capacity(3 * arch.depth);
        for l in 0..arch.depth {
            out.push((
                format!("layers.{l}.weight"),
                vec![arch.width, arch.width],
                arch.weight_range(l),
            ));
            out.push((
                format!("layers.{l}.bias"),
                vec![arch.width],
                arch.bias_range(l),
            ));
            if arch.block.gate {
                let g = arch.gate_index(l);
                out.push((format!("layers.{l}.gate"), vec![1], g..g + 1));
            }
        }
        out
    }
}

const META_KEY: &str = "resweep";

struct F32Tensor {
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &F32Tensor {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

fn le_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// The safetensors bytes of flat parameters `params` (the layout of
/// [`crate::experiment::model`]).
pub fn encode(params: &[f32], meta: &WeightsMeta) -> anyhow::Result<Vec<u8>> {
    let arch = meta.arch();
    anyhow::ensure!(
        params.len() == arch.param_count(),
        "{} parameters for a depth-{} width-{} network",
        params.len(),
        meta.depth,
        meta.width
    );
    let tensors: Vec<(String, F32Tensor)> = meta
        .tensors()
        .into_iter()
        .map(|(name, shape, range)| {
            let bytes = le_bytes(&params[range]);
            (name, F32Tensor { shape, bytes })
        })
        .collect();
    let info = HashMap::from([(META_KEY.to_string(), serde_json::to_string(meta)?)]);
    Ok(safetensors::serialize(
        tensors.iter().map(|(n, t)| (n.as_str(), t)),
        Some(info),
    )?)
}

/// Reads a weights file back: the flat parameters and the metadata.
pub fn decode(bytes: &[u8]) -> anyhow::Result<(Vec<f32>, WeightsMeta)> {
    let (_, header) = SafeTensors::read_metadata(bytes)?;
    let meta_text = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get(META_KEY))
        .ok_or_else(|| anyhow::anyhow!("not a resweep weights file (no `{META_KEY}` metadata)"))?;
    let meta: WeightsMeta = serde_json::from_str(meta_text)?;
    let st = SafeTensors::deserialize(bytes)?;
    let mut params = vec![0f32; meta.arch().param_count()];
    for (name, _, range) in meta.tensors() {
        let t = st.tensor(&name)?;
        anyhow::ensure!(
            t.dtype() == Dtype::F32 && t.data().len() == 4 * range.len(),
            "{name}: expected {} f32 values",
            range.len()
        );
        for (p, c) in params[range].iter_mut().zip(t.data().chunks_exact(4)) {
            *p = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
    }
    Ok((params, meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_is_exact_and_deterministic() {
        let meta = WeightsMeta {
            run_id: "d2-res-x".into(),
            step: 7,
            depth: 2,
            width: 3,
            residual: true,
            gates: false,
        };
        let params: Vec<f32> = (0..24)
            .map(|i| i as f32 * 0.25 - 2.0 + f32::MIN_POSITIVE)
            .collect();
        let bytes = encode(&params, &meta).unwrap();
        assert_eq!(
            bytes,
            encode(&params, &meta).unwrap(),
            "same bytes every time"
        );
        let (back, m) = decode(&bytes).unwrap();
        assert_eq!(m, meta);
        assert_eq!(
            back.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            params.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        // Layer 1's weight is the first 9 values, as a [3, 3] tensor; its bias the next 3.
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let w = st.tensor("layers.0.weight").unwrap();
        assert_eq!(w.shape(), &[3, 3]);
        assert_eq!(st.tensor("layers.1.bias").unwrap().shape(), &[3]);
        assert!(encode(&params[..5], &meta).is_err());
        assert!(decode(b"garbage").is_err());
    }
}
