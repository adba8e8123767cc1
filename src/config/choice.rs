//! Settings whose value is one of a few names (`optimizer = "adam"`, `activation =
//! "tanh"`): the [`Choice`] trait, the `choice!` macro that declares such an enum once
//! (variants, names, docs), and the enums of the run settings.

use serde::{Deserialize, Serialize};

/// An enum whose values are written as names in sweep files, flags, tables and
/// `config.json`.
pub trait Choice: Sized + Copy + 'static {
    /// Every name, in declaration order (the first is the default).
    const NAMES: &'static [&'static str];
    /// The name of this value.
    fn name(self) -> &'static str;
    /// The value called `name`, if any.
    fn from_name(name: &str) -> Option<Self>;
}

/// `"adam" or "sgd"`, `"relu", "tanh", "gelu" or "linear"`.
pub fn listed(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => quoted.join(""),
    }
}

/// The name closest to a mistyped one (`gelu2` → `gelu`, `he` → `kaiming_normal`), when
/// one is close enough to suggest.
pub fn closest(word: &str, names: &'static [&'static str]) -> Option<&'static str> {
    const ALIASES: &[(&str, &str)] = &[
        ("he", "kaiming_normal"),
        ("kaiming", "kaiming_normal"),
        ("normal", "kaiming_normal"),
        ("uniform", "kaiming_uniform"),
        ("default", "torch_default"),
        ("pytorch", "torch_default"),
        ("torch", "torch_default"),
        ("zeros", "zero"),
        ("ln", "layernorm"),
        ("layer_norm", "layernorm"),
        ("identity", "linear"),
        ("off", "none"),
    ];
    let lower = word.trim().to_ascii_lowercase().replace('-', "_");
    let aliased = ALIASES
        .iter()
        .filter(|(_, target)| names.contains(target))
        .map(|(alias, target)| (*alias, *target));
    names
        .iter()
        .map(|n| (*n, *n))
        .chain(aliased)
        .map(|(name, target)| (strsim::jaro_winkler(&lower, name), target))
        .filter(|(score, _)| *score >= 0.75)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, target)| target)
}

/// Reads a name of `T`; the error names the choices and, when one is close, suggests it
/// ([`super::choice_text`]).
pub fn parse_choice<T: Choice>(text: &str) -> Result<T, String> {
    super::choice_text(T::NAMES, text).map(|name| T::from_name(name).expect("a listed name"))
}

/// Declares a [`Choice`] enum: its doc, what its values are called, and per variant its
/// doc and name (the first variant is the default).
macro_rules! choice {
    (
        $(#[$doc:meta])*
        $name:ident {
            $( $(#[$vdoc:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $( $(#[$vdoc])* #[serde(rename = $text)] $variant, )+
        }

        impl Choice for $name {
            const NAMES: &'static [&'static str] = &[$($text),+];
            fn name(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }
            fn from_name(name: &str) -> Option<Self> {
                match name { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl $name {
            /// The name used in sweep files, on the command line and in tables.
            pub fn as_str(self) -> &'static str {
                Choice::name(self)
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                parse_choice(s)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

choice! {
    /// The optimizer of a run.
    OptimizerKind {
        /// Adam (beta1 0.9, beta2 0.999, eps 1e-8, no weight decay).
        Adam = "adam",
        /// SGD with (heavy-ball) momentum.
        Sgd = "sgd",
    }
}

choice! {
    /// How the weights are drawn (then multiplied by the init scale). Every choice draws
    /// from the same per-layer init stream, so both arms of a seed share their draws.
    WeightInit {
        /// Kaiming-He normal: `N(0, 2/fan_in)`.
        KaimingNormal = "kaiming_normal",
        /// Kaiming-He uniform: `U(±sqrt(6/fan_in))`, the same variance.
        KaimingUniform = "kaiming_uniform",
        /// A random orthogonal matrix (QR of the layer's normal draws, signs fixed by
        /// `R`'s diagonal) times the He gain `sqrt(2)`: the same mean squared entry.
        Orthogonal = "orthogonal",
        /// PyTorch `nn.Linear`'s own default: `U(±1/sqrt(fan_in))`, a third of He's
        /// variance.
        TorchDefault = "torch_default",
    }
}

choice! {
    /// How the biases start.
    BiasInit {
        /// All zero.
        Zero = "zero",
        /// PyTorch `nn.Linear`'s default, `U(±1/sqrt(fan_in))`, from the layer's own
        /// bias stream (not multiplied by the init scale).
        TorchDefault = "torch_default",
    }
}

choice! {
    /// A learned gate on every residual branch.
    Gate {
        /// No gate: `x + α·f(x)`.
        None = "none",
        /// ReZero (Bachlechner et al. 2020): `x + α·g_l·f(x)`, `g_l` a learned scalar per
        /// block starting at `gate_init`.
        Rezero = "rezero",
    }
}

choice! {
    /// The non-linearity of every layer.
    Activation {
        /// `max(0, z)`.
        Relu = "relu",
        /// `tanh(z)`.
        Tanh = "tanh",
        /// `z Φ(z)` with the exact Gaussian CDF (PyTorch's default GELU).
        Gelu = "gelu",
        /// `z`: a deep linear network.
        Linear = "linear",
    }
}

choice! {
    /// A normalisation before each linear map.
    Norm {
        /// None.
        None = "none",
        /// LayerNorm without affine parameters (eps 1e-5), before each linear map (inside
        /// the branch for a ResMLP).
        LayerNorm = "layernorm",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_mistakes_get_suggestions() {
        for name in Activation::NAMES {
            assert_eq!(parse_choice::<Activation>(name).unwrap().as_str(), *name);
        }
        assert_eq!(
            parse_choice::<OptimizerKind>("adamw").unwrap_err(),
            "unknown optimizer \"adamw\": expected \"adam\" or \"sgd\" (did you mean \"adam\"?)"
        );
        assert!(parse_choice::<Activation>("gelu2").unwrap_err().ends_with(
            "expected \"relu\", \"tanh\", \"gelu\" or \"linear\" (did you mean \"gelu\"?)"
        ));
        assert_eq!(closest("he", WeightInit::NAMES), Some("kaiming_normal"));
        assert_eq!(closest("layer_norm", Norm::NAMES), Some("layernorm"));
        assert_eq!(closest("banana", Activation::NAMES), None);
        assert_eq!(
            serde_json::to_string(&WeightInit::TorchDefault).unwrap(),
            "\"torch_default\""
        );
    }
}
