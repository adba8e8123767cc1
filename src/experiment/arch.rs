//! The shape of a network ([`Arch`]) and what each of its layers computes besides its
//! linear map ([`Block`]): everything the forward pass, the backward pass and the probes
//! need to know about a run's model, and the layout of its flat parameters.

use crate::config::{Activation, Norm, RunConfig};

/// The shape of a network: what the forward pass needs to know.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Arch {
    /// Number of layers.
    pub depth: usize,
    /// Width of every layer.
    pub width: usize,
    /// Skip connection around every layer.
    pub residual: bool,
    /// What every layer computes besides its linear map ([`Block::DEFAULT`]: the
    /// original experiment's ReLU layer).
    pub block: Block,
}

impl Arch {
    /// The architecture of a run.
    pub fn of(cfg: &RunConfig) -> Arch {
        Arch {
            depth: cfg.depth,
            width: cfg.width,
            residual: cfg.residual,
            block: Block::of(cfg),
        }
    }

    /// The original experiment's network of this shape (the default [`Block`]).
    pub fn new(depth: usize, width: usize, residual: bool) -> Arch {
        Arch {
            depth,
            width,
            residual,
            block: Block::DEFAULT,
        }
    }

    /// Parameters per layer (weights, bias and, with a ReZero gate, the gate).
    pub fn layer_len(&self) -> usize {
        self.width * self.width + self.width + usize::from(self.block.gate)
    }

    /// Index of layer `l`'s gate in the flat buffer (only with a ReZero gate).
    pub fn gate_index(&self, l: usize) -> usize {
        debug_assert!(self.block.gate, "a network without gates");
        l * self.layer_len() + self.width * self.width + self.width
    }

    /// Total number of parameters.
    pub fn param_count(&self) -> usize {
        self.depth * self.layer_len()
    }

    /// Index range of `W_l` in the flat buffer.
    pub fn weight_range(&self, l: usize) -> std::ops::Range<usize> {
        let start = l * self.layer_len();
        start..start + self.width * self.width
    }

    /// Index range of `b_l` in the flat buffer.
    pub fn bias_range(&self, l: usize) -> std::ops::Range<usize> {
        let start = l * self.layer_len() + self.width * self.width;
        start..start + self.width
    }
}

/// LayerNorm's `eps` (PyTorch's default).
pub const LN_EPS: f64 = 1e-5;

/// What a layer computes besides its linear map.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Block {
    /// The non-linearity `φ`.
    pub activation: Activation,
    /// A LayerNorm before the linear map.
    pub norm: Norm,
    /// `α` in `x + α·g·φ(z)` (1 for a PlainMLP).
    pub branch_scale: f64,
    /// A learned ReZero gate per block (ResMLP only): one more parameter per layer.
    pub gate: bool,
    /// The last layer applies `φ` too (else it is linear).
    pub output_activation: bool,
}

impl Block {
    /// The original experiment's block: ReLU, no norm, scale 1, no gate, every layer
    /// activated.
    pub const DEFAULT: Block = Block {
        activation: Activation::Relu,
        norm: Norm::None,
        branch_scale: 1.0,
        gate: false,
        output_activation: true,
    };

    /// The block of a run (a PlainMLP has no branch to scale or gate).
    pub fn of(cfg: &RunConfig) -> Block {
        Block {
            activation: cfg.activation,
            norm: cfg.norm,
            branch_scale: if cfg.residual {
                cfg.branch_scale.value(cfg.depth)
            } else {
                1.0
            },
            gate: cfg.gated(),
            output_activation: cfg.output_relu,
        }
    }

    /// Whether the fused ReLU kernels compute this block (the default block).
    pub fn fused(&self) -> bool {
        *self == Block::DEFAULT
    }

    /// Whether layer `l` of a `depth`-layer network applies `φ`.
    pub fn activates(&self, l: usize, depth: usize) -> bool {
        self.output_activation || l + 1 < depth
    }
}
