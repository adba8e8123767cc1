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

/// Version of the on-disk run record layout (`config.json`, `result.json`, metrics files).
pub const SCHEMA_VERSION: u32 = 1;

/// Declares every run setting, once: its field of [`RunConfig`] (doc, type, default), its
/// sweep-file table, its [`Canonical`] mode, an example value for messages, the help of
/// its `resweep train` flag, an optional help for a value of the wrong type and an
/// optional check of the value (after the check of its type, see
/// [`RunConfig::validate`]).
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

/// The optimizer of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Adam (beta1 0.9, beta2 0.999, eps 1e-8, no weight decay).
    Adam,
    /// SGD with (heavy-ball) momentum.
    Sgd,
}

impl OptimizerKind {
    /// The name used in TOML, on the command line and in tables.
    pub fn as_str(self) -> &'static str {
        match self {
            OptimizerKind::Adam => "adam",
            OptimizerKind::Sgd => "sgd",
        }
    }
}

impl std::str::FromStr for OptimizerKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "adam" => Ok(OptimizerKind::Adam),
            "sgd" => Ok(OptimizerKind::Sgd),
            other => Err(format!(
                "unknown optimizer \"{other}\": expected \"adam\" or \"sgd\""
            )),
        }
    }
}

/// The multiplier applied to Kaiming-He normal weights: a number, or an expression of the
/// depth such as `1/sqrt(depth)` or `1/depth`.
#[derive(Clone, Debug, PartialEq)]
pub enum InitScale {
    /// A fixed number.
    Value(f64),
    /// An arithmetic expression over `depth` (normalized: no white space).
    Expr(String),
}

impl InitScale {
    /// Parses a user-written expression (or number) and checks it.
    pub fn parse(text: &str) -> Result<InitScale, String> {
        let normalized: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        if normalized.is_empty() {
            return Err("init_scale is empty: write a number such as 1.0 or an expression such as \"1/sqrt(depth)\"".into());
        }
        if let Ok(v) = normalized.parse::<f64>() {
            return InitScale::from_value(v);
        }
        let expr = Expr::parse(&normalized)?;
        // An expression must be positive and finite for every plausible depth.
        for depth in [1usize, 2, 10, 20, 1000] {
            let v = expr.eval(depth as f64);
            if !(v.is_finite() && v > 0.0) {
                return Err(format!(
                    "init_scale \"{text}\" evaluates to {v} at depth {depth}: it must be a positive, finite number"
                ));
            }
        }
        Ok(InitScale::Expr(normalized))
    }

    /// A fixed number, checked to be positive and finite.
    pub fn from_value(v: f64) -> Result<InitScale, String> {
        if v.is_finite() && v > 0.0 {
            Ok(InitScale::Value(v))
        } else {
            Err(format!(
                "init_scale {v} is impossible: it must be a positive, finite number"
            ))
        }
    }

    /// The scale for a network of this depth.
    pub fn value(&self, depth: usize) -> f64 {
        match self {
            InitScale::Value(v) => *v,
            InitScale::Expr(e) => Expr::parse(e)
                .map(|x| x.eval(depth as f64))
                .unwrap_or(f64::NAN),
        }
    }

    /// Short text for run ids, tables and legends: the expression, or the number.
    pub fn label(&self) -> String {
        match self {
            InitScale::Value(v) => format::compact(*v),
            InitScale::Expr(e) => e.clone(),
        }
    }
}

impl fmt::Display for InitScale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

impl Serialize for InitScale {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            InitScale::Value(v) => s.serialize_f64(*v),
            InitScale::Expr(e) => s.serialize_str(e),
        }
    }
}

impl<'de> Deserialize<'de> for InitScale {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(f64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Num(v) => InitScale::from_value(v).map_err(serde::de::Error::custom),
            Raw::Text(t) => InitScale::parse(&t).map_err(serde::de::Error::custom),
        }
    }
}

/// A tiny arithmetic grammar for init scales: numbers, `depth`, `+ - * /`, unary minus,
/// parentheses and `sqrt(...)`.
#[derive(Debug, Clone)]
enum Expr {
    Num(f64),
    Depth,
    Neg(Box<Expr>),
    Sqrt(Box<Expr>),
    Bin(char, Box<Expr>, Box<Expr>),
}

impl Expr {
    fn parse(text: &str) -> Result<Expr, String> {
        let mut p = ExprParser {
            s: text.as_bytes(),
            i: 0,
            text,
        };
        let e = p.sum()?;
        if p.i != p.s.len() {
            return Err(p.error("unexpected character"));
        }
        Ok(e)
    }

    fn eval(&self, depth: f64) -> f64 {
        match self {
            Expr::Num(v) => *v,
            Expr::Depth => depth,
            Expr::Neg(e) => -e.eval(depth),
            Expr::Sqrt(e) => e.eval(depth).sqrt(),
            Expr::Bin(op, a, b) => {
                let (a, b) = (a.eval(depth), b.eval(depth));
                match op {
                    '+' => a + b,
                    '-' => a - b,
                    '*' => a * b,
                    _ => a / b,
                }
            }
        }
    }
}

struct ExprParser<'a> {
    s: &'a [u8],
    i: usize,
    text: &'a str,
}

impl ExprParser<'_> {
    fn error(&self, what: &str) -> String {
        format!(
            "init_scale \"{}\": {what} at position {}; write a number or an expression of depth such as \"1/sqrt(depth)\", \"1/depth\" or \"0.5*sqrt(2/depth)\"",
            self.text,
            self.i + 1
        )
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn sum(&mut self) -> Result<Expr, String> {
        let mut lhs = self.product()?;
        while let Some(c @ (b'+' | b'-')) = self.peek() {
            self.i += 1;
            let rhs = self.product()?;
            lhs = Expr::Bin(c as char, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn product(&mut self) -> Result<Expr, String> {
        let mut lhs = self.unary()?;
        while let Some(c @ (b'*' | b'/')) = self.peek() {
            self.i += 1;
            let rhs = self.unary()?;
            lhs = Expr::Bin(c as char, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.peek() == Some(b'-') {
            self.i += 1;
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Expr, String> {
        match self.peek() {
            Some(b'(') => {
                self.i += 1;
                let e = self.sum()?;
                if self.peek() != Some(b')') {
                    return Err(self.error("missing ')'"));
                }
                self.i += 1;
                Ok(e)
            }
            Some(c) if c.is_ascii_digit() || c == b'.' => {
                let start = self.i;
                while let Some(c) = self.peek() {
                    let exp_sign = (c == b'-' || c == b'+')
                        && self.i > start
                        && matches!(self.s[self.i - 1], b'e' | b'E');
                    if c.is_ascii_digit() || c == b'.' || c == b'e' || c == b'E' || exp_sign {
                        self.i += 1;
                    } else {
                        break;
                    }
                }
                let lit = &self.text[start..self.i];
                lit.parse::<f64>()
                    .map(Expr::Num)
                    .map_err(|_| self.error(&format!("bad number \"{lit}\"")))
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.i;
                while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'_') {
                    self.i += 1;
                }
                match &self.text[start..self.i] {
                    "depth" => Ok(Expr::Depth),
                    "sqrt" => {
                        if self.peek() != Some(b'(') {
                            return Err(self.error("expected '(' after sqrt"));
                        }
                        Ok(Expr::Sqrt(Box::new(self.atom()?)))
                    }
                    other => {
                        self.i = start;
                        Err(self.error(&format!(
                            "unknown name \"{other}\" (only `depth` and `sqrt(...)` are known)"
                        )))
                    }
                }
            }
            Some(_) => Err(self.error("unexpected character")),
            None => Err(self.error("unexpected end")),
        }
    }
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

/// The kind of value a setting takes. It decides how a sweep file's value is read and
/// checked, the `resweep train` flag and the runs-table column(s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A count: integer >= 1 (the upper limits are the setting's own checks). `usize`.
    Count,
    /// A seed: integer >= 0. `u64`.
    Seed,
    /// `true` or `false`.
    Bool,
    /// A number (an integer is accepted too). `f64`.
    Float,
    /// A positive number or an expression of `depth` ([`InitScale`]).
    InitScale,
    /// `"adam"` or `"sgd"` ([`OptimizerKind`]).
    Optimizer,
}

/// How a setting enters the canonical form, and so the config hash and the run id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Canonical {
    /// Always, by name: the settings resweep started with (their runs' ids must never
    /// change). A setting added later must not use it.
    Always,
    /// Only when its value differs from its default: every setting added later. Runs
    /// planned before it existed ran with the default, so they keep their ids, and their
    /// stored records (which lack the setting) read back with the default.
    UnlessDefault,
}

/// The Rust type of a setting: its [`Kind`], its conversion to and from an
/// [`AxisValue`], the check every value of the type gets, and its text as a flag default.
pub trait SettingValue: Sized + Clone + PartialEq + Serialize {
    /// The kind of the type.
    const KIND: Kind;
    /// The value as an [`AxisValue`].
    fn to_axis(&self) -> AxisValue;
    /// The value of an [`AxisValue`]: `None` when it holds another type, an error when
    /// it does not fit.
    fn from_axis(v: &AxisValue) -> Option<Result<Self, String>>;
    /// The check of the type, for setting `name` (a count is at least 1).
    fn check_type(&self, _name: &str) -> Result<(), String> {
        Ok(())
    }
    /// The value as typed on the command line (`20`, `0.001`, `1/sqrt(depth)`, `adam`).
    fn flag_text(&self) -> String;
}

impl SettingValue for usize {
    const KIND: Kind = Kind::Count;
    fn to_axis(&self) -> AxisValue {
        AxisValue::Int(*self as u64)
    }
    fn from_axis(v: &AxisValue) -> Option<Result<Self, String>> {
        match v {
            AxisValue::Int(i) => Some(usize::try_from(*i).map_err(|_| format!("{i} is too large"))),
            _ => None,
        }
    }
    fn check_type(&self, name: &str) -> Result<(), String> {
        if *self == 0 {
            Err(format!("{name} = 0 is impossible: it must be at least 1"))
        } else {
            Ok(())
        }
    }
    fn flag_text(&self) -> String {
        self.to_string()
    }
}

impl SettingValue for u64 {
    const KIND: Kind = Kind::Seed;
    fn to_axis(&self) -> AxisValue {
        AxisValue::Int(*self)
    }
    fn from_axis(v: &AxisValue) -> Option<Result<Self, String>> {
        match v {
            AxisValue::Int(i) => Some(Ok(*i)),
            _ => None,
        }
    }
    fn flag_text(&self) -> String {
        self.to_string()
    }
}

impl SettingValue for bool {
    const KIND: Kind = Kind::Bool;
    fn to_axis(&self) -> AxisValue {
        AxisValue::Bool(*self)
    }
    fn from_axis(v: &AxisValue) -> Option<Result<Self, String>> {
        match v {
            AxisValue::Bool(b) => Some(Ok(*b)),
            _ => None,
        }
    }
    fn flag_text(&self) -> String {
        self.to_string()
    }
}

impl SettingValue for f64 {
    const KIND: Kind = Kind::Float;
    fn to_axis(&self) -> AxisValue {
        AxisValue::Float(*self)
    }
    fn from_axis(v: &AxisValue) -> Option<Result<Self, String>> {
        match v {
            AxisValue::Float(f) => Some(Ok(*f)),
            _ => None,
        }
    }
    fn flag_text(&self) -> String {
        format::exact(*self)
    }
}

impl SettingValue for InitScale {
    const KIND: Kind = Kind::InitScale;
    fn to_axis(&self) -> AxisValue {
        AxisValue::InitScale(self.clone())
    }
    fn from_axis(v: &AxisValue) -> Option<Result<Self, String>> {
        match v {
            AxisValue::InitScale(s) => Some(Ok(s.clone())),
            _ => None,
        }
    }
    fn flag_text(&self) -> String {
        self.label()
    }
}

impl SettingValue for OptimizerKind {
    const KIND: Kind = Kind::Optimizer;
    fn to_axis(&self) -> AxisValue {
        AxisValue::Optimizer(*self)
    }
    fn from_axis(v: &AxisValue) -> Option<Result<Self, String>> {
        match v {
            AxisValue::Optimizer(o) => Some(Ok(*o)),
            _ => None,
        }
    }
    fn flag_text(&self) -> String {
        self.as_str().to_string()
    }
}

/// One run setting, as `run_settings!` declares it: everything the sweep files, the
/// `resweep train` flags, the tables and the canonical form need to know about it.
pub struct Setting<C = RunConfig> {
    /// The name in sweep files, tables and `config.json` (`batch_size`).
    pub name: &'static str,
    /// The sweep-file table that holds it when it is fixed (`model`, `train`, ...).
    pub table: &'static str,
    /// The kind of its values.
    pub kind: Kind,
    /// How it enters the canonical form.
    pub canonical: Canonical,
    /// A valid value, as TOML, for messages.
    pub example: &'static str,
    /// The help of its `resweep train` flag.
    pub flag_help: &'static str,
    /// The help shown for a value of the wrong type, when `write NAME = EXAMPLE` is not
    /// the best advice.
    pub type_help: Option<&'static str>,
    /// Its value in a config.
    pub get: fn(&C) -> AxisValue,
    /// Sets it in a config; fails when the value has another type or does not fit.
    pub set: fn(&mut C, &AxisValue) -> Result<(), String>,
    /// Its default as a `resweep train` flag value.
    pub default_flag: fn() -> String,
    check_type: fn(&C) -> Result<(), String>,
    check: fn(&C) -> Result<(), String>,
    json: fn(&C) -> serde_json::Value,
    is_default: fn(&C) -> bool,
}

impl<C> Setting<C> {
    /// The `resweep train` flag, without the dashes: the name in kebab case
    /// (`batch-size`).
    pub fn flag(&self) -> String {
        self.name.replace('_', "-")
    }
}

impl<C> fmt::Debug for Setting<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Setting({})", self.name)
    }
}

/// A configuration whose settings `run_settings!` declared.
pub trait Settings: Sized + 'static {
    /// The names of its settings, in declaration order.
    const NAMES: &'static [&'static str];
    /// Its settings, in declaration order.
    const ALL: &'static [Setting<Self>];

    /// Checks values that no run can have; the message names the setting and the fix.
    /// First the check of every setting's type in declaration order (a count is at least
    /// 1), then every setting's own check in declaration order.
    fn validate(&self) -> Result<(), String> {
        for s in Self::ALL {
            (s.check_type)(self)?;
        }
        for s in Self::ALL {
            (s.check)(self)?;
        }
        Ok(())
    }

    /// The canonical form: the settings by name in sorted order, as JSON values. A
    /// setting declared [`Canonical::UnlessDefault`] is left out while it has its default,
    /// so adding a setting does not change the id of any run planned before.
    fn canonical(&self) -> BTreeMap<String, serde_json::Value> {
        Self::ALL
            .iter()
            .filter(|s| s.canonical == Canonical::Always || !(s.is_default)(self))
            .map(|s| (s.name.to_string(), (s.json)(self)))
            .collect()
    }

    /// SHA-256 of the canonical form as JSON, as hex.
    fn config_hash(&self) -> String {
        let text = serde_json::to_string(&self.canonical()).expect("canonical JSON");
        hex(&Sha256::digest(text.as_bytes()))
    }
}

/// Names of every setting of a [`RunConfig`], in the order tables show them.
pub const SETTING_NAMES: &[&str] = <RunConfig as Settings>::NAMES;

/// Every setting of a [`RunConfig`], in [`SETTING_NAMES`] order.
pub const SETTINGS: &[Setting] = <RunConfig as Settings>::ALL;

/// The setting of a [`RunConfig`] called `name`, if there is one.
pub fn setting(name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.name == name)
}

/// `name = v is too large (at most max)` when `v > max`.
fn at_most(name: &str, v: usize, max: usize) -> Result<(), String> {
    if v > max {
        Err(format!("{name} = {v} is too large (at most {max})"))
    } else {
        Ok(())
    }
}

/// The typed value of one setting (a value of an axis, of an include or of an exclude, a
/// flag's value).
///
/// Which setting it belongs to is kept beside it (the axis name, the rule's key); values
/// built by the sweep parser always have the type of their setting.
#[derive(Clone, Debug, PartialEq)]
pub enum AxisValue {
    /// A [`Kind::Bool`] setting.
    Bool(bool),
    /// A [`Kind::Count`] or [`Kind::Seed`] setting.
    Int(u64),
    /// A [`Kind::Float`] setting.
    Float(f64),
    /// A [`Kind::InitScale`] setting.
    InitScale(InitScale),
    /// A [`Kind::Optimizer`] setting.
    Optimizer(OptimizerKind),
}

impl fmt::Display for AxisValue {
    /// As it would be written in a sweep file: `true`, `20`, `0.001`, `"1/sqrt(depth)"`,
    /// `1`, `"adam"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AxisValue::Bool(b) => write!(f, "{b}"),
            AxisValue::Int(i) => write!(f, "{i}"),
            AxisValue::Float(v) => f.write_str(&format::exact(*v)),
            AxisValue::InitScale(InitScale::Value(v)) => f.write_str(&format::compact(*v)),
            AxisValue::InitScale(InitScale::Expr(e)) => write!(f, "\"{e}\""),
            AxisValue::Optimizer(o) => write!(f, "\"{}\"", o.as_str()),
        }
    }
}

impl Kind {
    /// Reads a value of this kind from command-line text (`resweep train` leaves init
    /// scales and optimizers as text, so that their errors name the flag).
    pub fn parse_text(self, text: &str) -> Result<AxisValue, String> {
        match self {
            Kind::InitScale => InitScale::parse(text).map(AxisValue::InitScale),
            Kind::Optimizer => text.parse().map(AxisValue::Optimizer),
            Kind::Count | Kind::Seed => text
                .parse::<u64>()
                .map(AxisValue::Int)
                .map_err(|e| format!("{text:?}: {e}")),
            Kind::Float => text
                .parse::<f64>()
                .map(AxisValue::Float)
                .map_err(|e| format!("{text:?}: {e}")),
            Kind::Bool => text
                .parse::<bool>()
                .map(AxisValue::Bool)
                .map_err(|e| format!("{text:?}: {e}")),
        }
    }
}

impl RunConfig {
    /// Checks values that no run can have ([`Settings::validate`]); the message names the
    /// setting and the fix.
    pub fn validate(&self) -> Result<(), String> {
        Settings::validate(self)
    }

    /// The numeric init scale at this run's depth.
    pub fn init_scale_value(&self) -> f64 {
        self.init_scale.value(self.depth)
    }

    /// Number of trainable parameters: `depth * (width^2 + width)`.
    pub fn param_count(&self) -> usize {
        self.depth * (self.width * self.width + self.width)
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
        for c in &configs {
            assert_eq!(c.canonical(), serialized_fields(c));
            assert_eq!(c.canonical().len(), SETTING_NAMES.len());
        }
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
