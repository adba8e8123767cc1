//! One training run's complete configuration ([`RunConfig`]), its canonical form and its
//! stable id.
//!
//! Everything that can change what a run computes or records lives here, and nothing
//! else: execution details (checkpoint interval, number of jobs) are not part of a run's
//! identity. The sweep planner builds `RunConfig`s from TOML; `resweep train` builds one
//! from flags.
//!
//! Every run setting is declared once, in the `run_settings!` invocation below: its
//! field, type and default, its sweep-file table, its checks and their messages, its
//! `resweep train` flag and its part of the canonical form. The sweep parser, the flags,
//! the tables and `resweep compare` all read that declaration ([`SETTINGS`]); see
//! `docs/CONTRIBUTING.md` for adding one.

use crate::format;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;

mod choice;
mod init_scale;
mod setting;

pub use choice::*;
pub use init_scale::InitScale;
pub use setting::*;

/// Version of the on-disk run record layout (`config.json`, `result.json`, metrics files).
pub const SCHEMA_VERSION: u32 = 1;

/// Declares every run setting, once: its field of [`RunConfig`] (doc, type, default), its
/// sweep-file table, its [`Canonical`] mode, an example value for messages, the help of
/// its `resweep train` flag, an optional help for a value of the wrong type and an
/// optional `applies` (whether the setting means anything for a config: the runs
/// table holds null where it does not, e.g. `momentum` under Adam) and an optional check
/// of the value (after the check of its type, see [`RunConfig::validate`]).
///
/// From that it builds the struct with its `Default`, `Serialize` and `Deserialize` and
/// its [`Settings`] (for [`RunConfig`]: [`SETTING_NAMES`] and [`SETTINGS`]); the type of
/// a setting ([`SettingValue`]) decides how sweep files and flags are read, and its
/// runs-table columns.
macro_rules! run_settings {
    (
        $(#[$struct_doc:meta])*
        struct $config:ident;
        $(
            $(#[$doc:meta])*
            $name:ident: $ty:ty = $default:expr => {
                table: $table:literal,
                canonical: $canonical:ident,
                example: $example:literal,
                flag: $flag:literal,
                $(type_help: $type_help:literal,)?
                $(applies: $applies:expr,)?
                $(check: $check:expr,)?
            },
        )*
    ) => {
        $(#[$struct_doc])*
        #[derive(Clone, Debug, PartialEq, Serialize)]
        pub struct $config {
            $($(#[$doc])* pub $name: $ty,)*
        }

        impl Default for $config {
            fn default() -> Self {
                $config { $($name: $default,)* }
            }
        }

        impl Settings for $config {
            const NAMES: &'static [&'static str] = &[$(stringify!($name)),*];
            const ALL: &'static [Setting<Self>] = &[$(
                Setting {
                    name: stringify!($name),
                    table: $table,
                    kind: <$ty as SettingValue>::KIND,
                    canonical: Canonical::$canonical,
                    example: $example,
                    flag_help: $flag,
                    type_help: or_else!($(Some($type_help))?, None),
                    get: |c| c.$name.to_axis(),
                    set: |c, v| match <$ty as SettingValue>::from_axis(v) {
                        Some(value) => {
                            c.$name = value?;
                            Ok(())
                        }
                        None => Err(format!("{v} is not a value of {}", stringify!($name))),
                    },
                    default_flag: || {
                        let d: $ty = $default;
                        d.flag_text()
                    },
                    check_type: |c| c.$name.check_type(stringify!($name)),
                    check: or_else!($($check)?, |_| Ok(())),
                    applies: or_else!($($applies)?, |_| true),
                    json: |c| serde_json::to_value(&c.$name).expect("a setting serializes"),
                    is_default: |c| {
                        let d: $ty = $default;
                        c.$name == d
                    },
                },
            )*];
        }

        impl<'de> Deserialize<'de> for $config {
            /// Reads every setting by name; an unknown name is an error, and so is a
            /// missing [`Canonical::Always`] setting, while a missing
            /// [`Canonical::UnlessDefault`] setting (in a record written before it
            /// existed) takes its default.
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Fields;
                impl<'de> serde::de::Visitor<'de> for Fields {
                    type Value = $config;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str(concat!("struct ", stringify!($config)))
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<$config, A::Error> {
                        use serde::de::Error;
                        $(let mut $name: Option<$ty> = None;)*
                        while let Some(key) = map.next_key::<String>()? {
                            match key.as_str() {
                                $(stringify!($name) => {
                                    if $name.is_some() {
                                        return Err(A::Error::duplicate_field(stringify!($name)));
                                    }
                                    $name = Some(map.next_value()?);
                                })*
                                other => {
                                    return Err(A::Error::unknown_field(
                                        other,
                                        <$config as Settings>::NAMES,
                                    ))
                                }
                            }
                        }
                        Ok($config {$(
                            $name: match ($name, Canonical::$canonical) {
                                (Some(v), _) => v,
                                (None, Canonical::UnlessDefault) => $default,
                                (None, Canonical::Always) => {
                                    return Err(A::Error::missing_field(stringify!($name)))
                                }
                            },
                        )*})
                    }
                }
                d.deserialize_struct(stringify!($config), <$config as Settings>::NAMES, Fields)
            }
        }
    };
}

/// `$x` when given, else `$default` (optional parts of a setting's declaration).
macro_rules! or_else {
    (, $default:expr) => {
        $default
    };
    ($x:expr, $default:expr) => {
        $x
    };
}

run_settings! {
    /// The complete configuration of one training run. Every field changes what the run
    /// computes or records, so every field is part of the run's id (see
    /// [`RunConfig::canonical`]).
    struct RunConfig;

    /// Number of layers (each `width x width` with bias).
    depth: usize = 20 => {
        table: "model",
        canonical: Always,
        example: "20",
        flag: "Number of layers",
        check: |c| at_most("depth", c.depth, 10_000),
    },
    /// Width of the input, of every layer and of the target.
    width: usize = 64 => {
        table: "model",
        canonical: Always,
        example: "64",
        flag: "Width of every layer",
        check: |c| at_most("width", c.width, 4096),
    },
    /// ResMLP (`x = x + relu(Wx+b)`) when true, PlainMLP (`x = relu(Wx+b)`) when false.
    residual: bool = false => {
        table: "model",
        canonical: Always,
        example: "true",
        flag: "ResMLP (`x = x + relu(Wx+b)`) instead of PlainMLP",
        type_help: "write residual = true (ResMLP) or residual = false (PlainMLP)",
    },
    /// Multiplier of the Kaiming-He normal init (std `init_scale * sqrt(2/width)`).
    init_scale: InitScale = InitScale::Expr("1/sqrt(depth)".into()) => {
        table: "model",
        canonical: Always,
        example: "\"1/sqrt(depth)\"",
        flag: "Init scale: a number or an expression of depth (`1/sqrt(depth)`, `1/depth`)",
        check: |c| {
            let s = c.init_scale_value();
            if s.is_finite() && s > 0.0 {
                Ok(())
            } else {
                Err(format!(
                    "init_scale {} is {s} at depth {}: it must be positive and finite",
                    c.init_scale, c.depth
                ))
            }
        },
    },
    /// How the weights are drawn, before the init scale multiplies them.
    weight_init: WeightInit = WeightInit::KaimingNormal => {
        table: "model",
        canonical: UnlessDefault,
        example: "\"orthogonal\"",
        flag: "Weight init: `kaiming_normal`, `kaiming_uniform`, `orthogonal` (He gain) or `torch_default` (U(±1/sqrt(fan_in)))",
    },
    /// How the biases start.
    bias_init: BiasInit = BiasInit::Zero => {
        table: "model",
        canonical: UnlessDefault,
        example: "\"torch_default\"",
        flag: "Bias init: `zero` or `torch_default` (U(±1/sqrt(fan_in)))",
    },
    /// Whether the last layer ends in the activation like every other layer (a ReLU by
    /// default, as the original experiment specifies) or is linear.
    output_relu: bool = true => {
        table: "model",
        canonical: UnlessDefault,
        example: "false",
        flag: "The last layer ends in the activation (a ReLU by default); false makes it linear",
        type_help: "write output_relu = true (every layer ends in the activation) or output_relu = false (a linear last layer)",
    },
    /// Multiplier `α` of every residual branch: `x + α·f(x)`. A number or an expression of
    /// depth; no meaning for a PlainMLP, whose runs hold the default.
    branch_scale: InitScale = InitScale::Value(1.0) => {
        table: "model",
        canonical: UnlessDefault,
        example: "\"1/sqrt(depth)\"",
        flag: "Residual branch scale: a number or an expression of depth (ResMLP only)",
        applies: |c| c.residual,
        check: |c| {
            let s = c.branch_scale.value(c.depth);
            if s.is_finite() && s > 0.0 {
                Ok(())
            } else {
                Err(format!(
                    "branch_scale {} is {s} at depth {}: it must be positive and finite",
                    c.branch_scale, c.depth
                ))
            }
        },
    },
    /// A learned scalar gate on every residual branch (ReZero); ResMLP only.
    gate: Gate = Gate::None => {
        table: "model",
        canonical: UnlessDefault,
        example: "\"rezero\"",
        flag: "Residual gate: `none` or `rezero` (a learned scalar per block; ResMLP only)",
        applies: |c| c.residual,
    },
    /// The gates' starting value (ReZero: 0, so a ResMLP starts as the identity).
    gate_init: f64 = 0.0 => {
        table: "model",
        canonical: UnlessDefault,
        example: "0.0",
        flag: "Starting value of the ReZero gates",
        applies: RunConfig::gated,
        check: |c| {
            if c.gate_init.is_finite() {
                Ok(())
            } else {
                Err(format!(
                    "gate_init = {} is impossible: it must be a finite number such as 0.0",
                    c.gate_init
                ))
            }
        },
    },
    /// The non-linearity of every layer.
    activation: Activation = Activation::Relu => {
        table: "model",
        canonical: UnlessDefault,
        example: "\"tanh\"",
        flag: "Activation: `relu`, `tanh`, `gelu` or `linear`",
    },
    /// A normalisation before each linear map (inside the branch for a ResMLP).
    norm: Norm = Norm::None => {
        table: "model",
        canonical: UnlessDefault,
        example: "\"layernorm\"",
        flag: "Normalisation before each linear map: `none` or `layernorm` (no affine parameters)",
    },
    /// The seed of the init and data streams; the unit of replication.
    seed: u64 = 0 => {
        table: "train",
        canonical: Always,
        example: "0",
        flag: "Seed of the init and data streams",
    },
    /// Adam or SGD with momentum.
    optimizer: OptimizerKind = OptimizerKind::Adam => {
        table: "train",
        canonical: Always,
        example: "\"adam\"",
        flag: "`adam` or `sgd` (with momentum)",
    },
    /// Learning rate.
    lr: f64 = 1e-3 => {
        table: "train",
        canonical: Always,
        example: "1e-3",
        flag: "Learning rate",
        check: |c| {
            if c.lr.is_finite() && c.lr > 0.0 {
                Ok(())
            } else {
                Err(format!(
                    "lr = {} is impossible: it must be a positive, finite number such as 1e-3",
                    c.lr
                ))
            }
        },
    },
    /// Momentum of SGD (ignored by Adam, but still part of the id).
    momentum: f64 = 0.9 => {
        table: "train",
        canonical: Always,
        example: "0.9",
        flag: "SGD momentum",
        applies: |c| c.optimizer == OptimizerKind::Sgd,
        check: |c| {
            if c.momentum.is_finite() && (0.0..1.0).contains(&c.momentum) {
                Ok(())
            } else {
                Err(format!(
                    "momentum = {} is impossible: it must be in [0, 1)",
                    c.momentum
                ))
            }
        },
    },
    /// Training batch size (fresh `U(-1,1)` samples every step).
    batch_size: usize = 64 => {
        table: "train",
        canonical: Always,
        example: "64",
        flag: "Training batch size",
    },
    /// Number of optimizer steps.
    steps: usize = 500 => {
        table: "train",
        canonical: Always,
        example: "500",
        flag: "Optimizer steps",
    },
    /// Size of the fixed held-out eval batch.
    eval_size: usize = 4096 => {
        table: "task",
        canonical: Always,
        example: "4096",
        flag: "Held-out eval batch size",
    },
    /// Eval loss every this many steps (and at step 0 and the last step).
    eval_every: usize = 50 => {
        table: "probe",
        canonical: Always,
        example: "50",
        flag: "Eval loss every this many steps",
    },
    /// Per-layer probes every this many steps (and at step 0 and the last step).
    probe_every: usize = 50 => {
        table: "probe",
        canonical: Always,
        example: "50",
        flag: "Per-layer probes every this many steps",
    },
}

impl RunConfig {
    /// Checks values that no run can have ([`Settings::validate`]); the message names the
    /// setting and the fix.
    pub fn validate(&self) -> Result<(), String> {
        Settings::validate(self)
    }

    /// Whether every block has a learned ReZero gate (a ResMLP with `gate = "rezero"`).
    pub fn gated(&self) -> bool {
        self.residual && self.gate == Gate::Rezero
    }

    /// The settings that [`RunConfig::meaningless`] can name: those of the residual branch.
    pub const BRANCH_SETTINGS: &'static [&'static str] = &["branch_scale", "gate", "gate_init"];

    /// The settings that mean nothing for this run at a value other than their default:
    /// `branch_scale`, `gate` and `gate_init` for a PlainMLP (it has no branch to scale
    /// or gate), `gate_init` without a gate.
    pub fn meaningless(&self) -> Vec<&'static str> {
        let d = RunConfig::default();
        let mut out = Vec::new();
        if !self.residual {
            if self.branch_scale != d.branch_scale {
                out.push("branch_scale");
            }
            if self.gate != d.gate {
                out.push("gate");
            }
        }
        if !self.gated() && self.gate_init != d.gate_init {
            out.push("gate_init");
        }
        out
    }

    /// The run that this configuration means: [`RunConfig::meaningless`] settings at
    /// their defaults, so that sweep points that differ only there collapse into one run
    /// (a PlainMLP point of a `branch_scale` axis is the plain run).
    pub fn normalized(mut self) -> RunConfig {
        let d = RunConfig::default();
        for name in self.meaningless() {
            match name {
                "branch_scale" => self.branch_scale = d.branch_scale.clone(),
                "gate" => self.gate = d.gate,
                _ => self.gate_init = d.gate_init,
            }
        }
        self
    }

    /// The message for a configuration fixed to a setting it cannot use (`gate = "rezero"`
    /// for a PlainMLP), naming the setting first; `None` when every setting applies.
    pub fn inapplicable(&self) -> Option<String> {
        let name = *self.meaningless().first()?;
        Some(if name == "gate_init" && self.residual {
            format!(
                "gate_init = {} has no meaning without a gate: set gate = \"rezero\", or drop gate_init",
                format::exact(self.gate_init)
            )
        } else {
            let value = setting(name).map_or(String::new(), |s| (s.get)(self).to_string());
            format!(
                "{name} = {value} has no meaning for a PlainMLP (residual = false): it scales or gates the residual branch; set residual = true, or drop {name}"
            )
        })
    }

    /// The numeric init scale at this run's depth.
    pub fn init_scale_value(&self) -> f64 {
        self.init_scale.value(self.depth)
    }

    /// Number of trainable parameters: `depth * (width^2 + width)`, plus one gate per
    /// block under ReZero.
    pub fn param_count(&self) -> usize {
        let gate = usize::from(self.gated());
        self.depth * (self.width * self.width + self.width + gate)
    }

    /// Matrix-product work of the whole run (training steps and evals), in FLOP: the
    /// planner's estimate of its cost, used to balance shards and estimate time.
    pub fn estimated_flops(&self) -> f64 {
        let w2 = (self.width * self.width) as f64;
        let per_step = (6 * self.depth) as f64 * self.batch_size as f64 * w2;
        let evals = (self.steps / self.eval_every + 2) as f64;
        let per_eval = (2 * self.depth) as f64 * self.eval_size as f64 * w2;
        per_step * (self.steps + 1) as f64 + per_eval * evals
    }

    /// The canonical form ([`Settings::canonical`]): the settings by name in sorted
    /// order, as JSON values, without later settings at their defaults.
    pub fn canonical(&self) -> BTreeMap<String, serde_json::Value> {
        Settings::canonical(self)
    }

    /// SHA-256 of the canonical JSON, as hex.
    pub fn config_hash(&self) -> String {
        Settings::config_hash(self)
    }

    /// Stable run id: a readable prefix plus 8 hex digits of the config hash, e.g.
    /// `d20-res-s0.224-seed3-1a2b3c4d`. The same config gets the same id in any sweep.
    pub fn run_id(&self) -> String {
        let arm = if self.residual { "res" } else { "plain" };
        let scale = self.init_scale_value();
        format!(
            "d{}-{}-s{}-seed{}-{}",
            self.depth,
            arm,
            format::sig(scale, 3),
            self.seed,
            &self.config_hash()[..8]
        )
    }

    /// The label of the arm, as plots and tables show it.
    pub fn arm_label(&self) -> &'static str {
        if self.residual {
            "ResMLP"
        } else {
            "PlainMLP"
        }
    }
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_scale_expressions() {
        let s = InitScale::parse("1/sqrt(depth)").unwrap();
        assert!((s.value(20) - 1.0 / 20f64.sqrt()).abs() < 1e-15);
        let s = InitScale::parse(" 1 / depth ").unwrap();
        assert_eq!(s, InitScale::Expr("1/depth".into()));
        assert!((s.value(20) - 0.05).abs() < 1e-15);
        let s = InitScale::parse("0.5*sqrt(2/depth)").unwrap();
        assert!((s.value(8) - 0.25).abs() < 1e-15);
        assert_eq!(InitScale::parse("1").unwrap(), InitScale::Value(1.0));
        assert_eq!(InitScale::parse("2e-1").unwrap(), InitScale::Value(0.2));
    }

    #[test]
    fn init_scale_rejects_nonsense() {
        for bad in [
            "",
            "1/log(depth)",
            "width",
            "1/(depth",
            "-1",
            "0",
            "depth-depth",
            "1/0",
            "1//2",
        ] {
            let err = InitScale::parse(bad).unwrap_err();
            assert!(err.contains("init_scale"), "{bad}: {err}");
        }
        assert!(InitScale::parse("1/log(depth)")
            .unwrap_err()
            .contains("unknown name \"log\""));
    }

    #[test]
    fn run_id_is_readable_and_stable() {
        let mut c = RunConfig {
            residual: true,
            seed: 3,
            ..RunConfig::default()
        };
        let id = c.run_id();
        assert!(id.starts_with("d20-res-s0.224-seed3-"), "{id}");
        assert_eq!(id, c.clone().run_id());
        c.lr = 2e-3;
        assert_ne!(id, c.run_id());
    }

    #[test]
    fn config_roundtrips_through_json() {
        let c = RunConfig::default();
        let text = serde_json::to_string(&c).unwrap();
        let back: RunConfig = serde_json::from_str(&text).unwrap();
        assert_eq!(c, back);
        assert_eq!(c.param_count(), 83_200);
    }

    #[test]
    fn format_sig_examples() {
        assert_eq!(crate::format::sig(1.0 / 20f64.sqrt(), 3), "0.224");
        assert_eq!(crate::format::sig(1.0, 3), "1");
        assert_eq!(crate::format::sig(0.05, 3), "0.05");
        assert_eq!(crate::format::sig(123.456, 3), "123");
    }

    /// The canonical form of the first schema: every field of the serialized config, as
    /// `canonical()` computed it before the settings were declared in one place.
    fn serialized_fields(c: &RunConfig) -> BTreeMap<String, serde_json::Value> {
        match serde_json::to_value(c).unwrap() {
            serde_json::Value::Object(m) => m.into_iter().collect(),
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn canonical_form_is_every_serialized_field() {
        let mut configs = vec![RunConfig::default()];
        configs.push(RunConfig {
            residual: true,
            init_scale: InitScale::Value(0.5),
            optimizer: OptimizerKind::Sgd,
            lr: 0.05,
            momentum: 0.0,
            seed: 7,
            ..RunConfig::default()
        });
        // Every setting away from its default: the canonical form holds them all.
        configs.push(RunConfig {
            residual: true,
            weight_init: WeightInit::Orthogonal,
            bias_init: BiasInit::TorchDefault,
            output_relu: false,
            branch_scale: InitScale::Value(0.5),
            gate: Gate::Rezero,
            gate_init: 0.25,
            activation: Activation::Tanh,
            norm: Norm::LayerNorm,
            ..RunConfig::default()
        });
        for c in &configs {
            let always_or_changed: BTreeMap<String, serde_json::Value> = serialized_fields(c)
                .into_iter()
                .filter(|(k, _)| {
                    let s = setting(k).unwrap();
                    s.canonical == Canonical::Always || !(s.is_default)(c)
                })
                .collect();
            assert_eq!(c.canonical(), always_or_changed);
        }
        assert_eq!(configs[2].canonical().len(), SETTING_NAMES.len());
    }

    #[test]
    fn records_read_as_before() {
        let e = serde_json::from_str::<RunConfig>(r#"{"depth": 3, "dept": 4}"#).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "unknown field `dept`, expected one of `depth`, `width`, `residual`, `init_scale`"
            ),
            "{e}"
        );
        let mut v = serde_json::to_value(RunConfig::default()).unwrap();
        v.as_object_mut().unwrap().remove("lr");
        let e = serde_json::from_value::<RunConfig>(v).unwrap_err();
        assert_eq!(e.to_string(), "missing field `lr`");
        let e = serde_json::from_str::<RunConfig>(r#"{"depth": 3, "depth": 4}"#).unwrap_err();
        assert!(e.to_string().starts_with("duplicate field `depth`"), "{e}");
        let e = serde_json::from_str::<RunConfig>(r#"{"depth": "3"}"#).unwrap_err();
        assert!(
            e.to_string().starts_with("invalid type: string \"3\""),
            "{e}"
        );
    }

    #[test]
    fn validation_checks_types_first_then_each_setting() {
        let c = RunConfig {
            depth: 20_000,
            width: 0,
            ..RunConfig::default()
        };
        assert_eq!(
            c.validate().unwrap_err(),
            "width = 0 is impossible: it must be at least 1"
        );
        let c = RunConfig {
            depth: 20_000,
            lr: -1.0,
            ..RunConfig::default()
        };
        assert_eq!(
            c.validate().unwrap_err(),
            "depth = 20000 is too large (at most 10000)"
        );
        let c = RunConfig {
            momentum: 1.0,
            ..RunConfig::default()
        };
        assert_eq!(
            c.validate().unwrap_err(),
            "momentum = 1 is impossible: it must be in [0, 1)"
        );
        assert_eq!(RunConfig::default().validate(), Ok(()));
    }

    run_settings! {
        /// A configuration as a first version declared it.
        struct Before;
        /// Layers.
        depth: usize = 20 => {
            table: "model",
            canonical: Always,
            example: "20",
            flag: "Layers",
        },
    }

    run_settings! {
        /// The same configuration after a setting was added.
        struct After;
        /// Layers.
        depth: usize = 20 => {
            table: "model",
            canonical: Always,
            example: "20",
            flag: "Layers",
        },
        /// The setting added later.
        dropout: f64 = 0.0 => {
            table: "train",
            canonical: UnlessDefault,
            example: "0.1",
            flag: "Dropout",
        },
    }

    #[test]
    fn a_setting_added_later_keeps_old_ids_and_records() {
        let before = Before { depth: 7 };
        let after = After {
            depth: 7,
            ..After::default()
        };
        assert_eq!(
            Settings::config_hash(&after),
            Settings::config_hash(&before)
        );
        assert_eq!(Settings::canonical(&after), Settings::canonical(&before));
        let changed = After {
            dropout: 0.1,
            ..after.clone()
        };
        assert_ne!(
            Settings::config_hash(&changed),
            Settings::config_hash(&before)
        );
        assert!(Settings::canonical(&changed).contains_key("dropout"));
        // A record written before the setting existed reads back with its default ...
        let old_record = serde_json::to_string(&before).unwrap();
        assert_eq!(serde_json::from_str::<After>(&old_record).unwrap(), after);
        // ... while a first-version setting stays required.
        let e = serde_json::from_str::<After>(r#"{"dropout": 0.1}"#).unwrap_err();
        assert!(e.to_string().starts_with("missing field `depth`"), "{e}");
        assert_eq!(After::NAMES, ["depth", "dropout"]);
        assert_eq!(After::ALL[1].kind, Kind::Float);
    }
}
