//! One training run's complete configuration ([`RunConfig`]), its canonical form and its
//! stable id.
//!
//! Everything that can change what a run computes or records lives here, and nothing
//! else: execution details (checkpoint interval, number of jobs) are not part of a run's
//! identity. The sweep planner builds `RunConfig`s from TOML; `resweep train` builds one
//! from flags.

use crate::format;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;

/// Version of the on-disk run record layout (`config.json`, `result.json`, metrics files).
pub const SCHEMA_VERSION: u32 = 1;

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

/// The complete configuration of one training run. Every field changes what the run
/// computes or records, so every field is part of the run's id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Number of layers (each `width x width` with bias).
    pub depth: usize,
    /// Width of the input, of every layer and of the target.
    pub width: usize,
    /// ResMLP (`x = x + relu(Wx+b)`) when true, PlainMLP (`x = relu(Wx+b)`) when false.
    pub residual: bool,
    /// Multiplier of the Kaiming-He normal init (std `init_scale * sqrt(2/width)`).
    pub init_scale: InitScale,
    /// The seed of the init and data streams; the unit of replication.
    pub seed: u64,
    /// Adam or SGD with momentum.
    pub optimizer: OptimizerKind,
    /// Learning rate.
    pub lr: f64,
    /// Momentum of SGD (ignored by Adam, but still part of the id).
    pub momentum: f64,
    /// Training batch size (fresh `U(-1,1)` samples every step).
    pub batch_size: usize,
    /// Number of optimizer steps.
    pub steps: usize,
    /// Size of the fixed held-out eval batch.
    pub eval_size: usize,
    /// Eval loss every this many steps (and at step 0 and the last step).
    pub eval_every: usize,
    /// Per-layer probes every this many steps (and at step 0 and the last step).
    pub probe_every: usize,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            depth: 20,
            width: 64,
            residual: false,
            init_scale: InitScale::Expr("1/sqrt(depth)".into()),
            seed: 0,
            optimizer: OptimizerKind::Adam,
            lr: 1e-3,
            momentum: 0.9,
            batch_size: 64,
            steps: 500,
            eval_size: 4096,
            eval_every: 50,
            probe_every: 50,
        }
    }
}

/// Names of every setting of a [`RunConfig`], in the order tables show them.
pub const SETTING_NAMES: &[&str] = &[
    "depth",
    "width",
    "residual",
    "init_scale",
    "seed",
    "optimizer",
    "lr",
    "momentum",
    "batch_size",
    "steps",
    "eval_size",
    "eval_every",
    "probe_every",
];

impl RunConfig {
    /// Checks values that no run can have; the message names the setting and the fix.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("depth", self.depth),
            ("width", self.width),
            ("batch_size", self.batch_size),
            ("steps", self.steps),
            ("eval_size", self.eval_size),
            ("eval_every", self.eval_every),
            ("probe_every", self.probe_every),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(format!("{name} = 0 is impossible: it must be at least 1"));
            }
        }
        if self.depth > 10_000 {
            return Err(format!(
                "depth = {} is too large (at most 10000)",
                self.depth
            ));
        }
        if self.width > 4096 {
            return Err(format!(
                "width = {} is too large (at most 4096)",
                self.width
            ));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(format!(
                "lr = {} is impossible: it must be a positive, finite number such as 1e-3",
                self.lr
            ));
        }
        if !(self.momentum.is_finite() && (0.0..1.0).contains(&self.momentum)) {
            return Err(format!(
                "momentum = {} is impossible: it must be in [0, 1)",
                self.momentum
            ));
        }
        let s = self.init_scale_value();
        if !(s.is_finite() && s > 0.0) {
            return Err(format!(
                "init_scale {} is {s} at depth {}: it must be positive and finite",
                self.init_scale, self.depth
            ));
        }
        Ok(())
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

    /// The canonical form: every setting by name in sorted order, as JSON values.
    pub fn canonical(&self) -> BTreeMap<String, serde_json::Value> {
        let v = serde_json::to_value(self).expect("RunConfig serializes");
        match v {
            serde_json::Value::Object(m) => m.into_iter().collect(),
            _ => unreachable!("RunConfig is a struct"),
        }
    }

    /// SHA-256 of the canonical JSON, as hex.
    pub fn config_hash(&self) -> String {
        let text = serde_json::to_string(&self.canonical()).expect("canonical JSON");
        hex(&Sha256::digest(text.as_bytes()))
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

/// `v` with `sig` significant digits: [`crate::format::sig`] (kept under this name for the
/// report's callers).
pub use crate::format::sig as format_sig;

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
        assert_eq!(format_sig(1.0 / 20f64.sqrt(), 3), "0.224");
        assert_eq!(format_sig(1.0, 3), "1");
        assert_eq!(format_sig(0.05, 3), "0.05");
        assert_eq!(format_sig(123.456, 3), "123");
    }
}
