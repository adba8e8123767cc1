//! The init scale: a number, or an arithmetic expression of the depth such as
//! `1/sqrt(depth)`, parsed, normalized and evaluated here.

use crate::format;
use serde::{Deserialize, Serialize};
use std::fmt;

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

    /// [`InitScale::parse`] for setting `name` (`branch_scale`): its messages name it.
    pub fn parse_named(name: &str, text: &str) -> Result<InitScale, String> {
        InitScale::parse(text).map_err(|e| rename(e, name))
    }

    /// [`InitScale::from_value`] for setting `name`: its messages name it.
    pub fn from_value_named(name: &str, v: f64) -> Result<InitScale, String> {
        InitScale::from_value(v).map_err(|e| rename(e, name))
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

/// A message about `init_scale` as one about setting `name`.
fn rename(message: String, name: &str) -> String {
    match message.strip_prefix("init_scale") {
        Some(rest) => format!("{name}{rest}"),
        None => message,
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
