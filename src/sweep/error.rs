//! Errors of sweep files: where (`file:line:col`), which key, what is wrong and how to fix
//! it. Also the small helpers every check shares: byte offset to line and column, and
//! "did you mean" suggestions.

use std::fmt;
use std::ops::Range;

/// A problem in a sweep file, located as precisely as the check allows.
///
/// Displayed as
///
/// ```text
/// error: sweeps/depth.toml:7:1: unknown key `dept` in [model]
///   key: dept
///   help: did you mean `depth`?
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepError {
    /// The file (or other origin) the sweep came from, as given to the parser.
    pub origin: String,
    /// 1-based line of the offending key or value, when known.
    pub line: Option<usize>,
    /// 1-based column (in characters) of the offending key or value, when known.
    pub col: Option<usize>,
    /// The key (setting, table or axis name) the problem is about, when there is one.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when there is a useful suggestion.
    pub help: Option<String>,
}

impl fmt::Display for SweepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.origin)?;
        match (self.line, self.col) {
            (Some(line), Some(col)) => write!(f, ":{line}:{col}")?,
            (Some(line), None) => write!(f, ":{line}")?,
            _ => {}
        }
        write!(f, ": {}", self.message)?;
        if let Some(key) = &self.key {
            write!(f, "\n  key: {key}")?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SweepError {}

/// A 1-based line and column in a sweep file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub col: usize,
}

impl Pos {
    /// The start of the file.
    pub const START: Pos = Pos { line: 1, col: 1 };

    /// The line and column of byte `offset` of `text` (clamped to the text).
    pub fn of_offset(text: &str, offset: usize) -> Pos {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        Pos { line, col }
    }
}

/// An error whose place is not known yet: the caller that knows the span locates it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    pub message: String,
    pub help: Option<String>,
}

impl Problem {
    pub fn new(message: impl Into<String>) -> Problem {
        Problem {
            message: message.into(),
            help: None,
        }
    }

    pub fn help(mut self, help: impl Into<String>) -> Problem {
        self.help = Some(help.into());
        self
    }

    /// One line, for callers without a place to show help (command-line flags).
    pub fn into_text(self) -> String {
        match self.help {
            Some(help) => format!("{}; {help}", self.message),
            None => self.message,
        }
    }
}

/// The text being parsed and its name: turns spans into located [`SweepError`]s.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub text: &'a str,
    pub origin: &'a str,
}

impl Ctx<'_> {
    pub fn pos(&self, span: &Range<usize>) -> Pos {
        Pos::of_offset(self.text, span.start)
    }

    /// A located error about `key`.
    pub fn error(&self, span: &Range<usize>, key: Option<&str>, problem: Problem) -> SweepError {
        error_at(self.origin, Some(self.pos(span)), key, problem)
    }
}

/// An error at a known position (or none).
pub(crate) fn error_at(
    origin: &str,
    pos: Option<Pos>,
    key: Option<&str>,
    problem: Problem,
) -> SweepError {
    SweepError {
        origin: origin.to_string(),
        line: pos.map(|p| p.line),
        col: pos.map(|p| p.col),
        key: key.map(str::to_string),
        message: problem.message,
        help: problem.help,
    }
}

/// Common other names of settings, so that `learning_rate` suggests `lr`.
const ALIASES: &[(&str, &str)] = &[
    ("learning_rate", "lr"),
    ("lr_rate", "lr"),
    ("layers", "depth"),
    ("n_layers", "depth"),
    ("num_layers", "depth"),
    ("hidden", "width"),
    ("hidden_size", "width"),
    ("hidden_dim", "width"),
    ("dim", "width"),
    ("skip", "residual"),
    ("resnet", "residual"),
    ("res", "residual"),
    ("init", "init_scale"),
    ("scale", "init_scale"),
    ("init_std", "init_scale"),
    ("seeds", "seed"),
    ("opt", "optimizer"),
    ("optim", "optimizer"),
    ("batch", "batch_size"),
    ("bs", "batch_size"),
    ("n_steps", "steps"),
    ("num_steps", "steps"),
    ("iterations", "steps"),
    ("iters", "steps"),
    ("epochs", "steps"),
    ("checkpoint", "checkpoint_every"),
    ("exclusions", "exclude"),
    ("includes", "include"),
    ("excludes", "exclude"),
];

/// The candidate closest to `word`, if one is close enough to be what was meant.
pub(crate) fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase().replace('-', "_");
    if let Some(c) = candidates.iter().find(|c| **c == lower) {
        return Some(c);
    }
    // Close to a candidate, or to another common name of one (`lerning_rate` -> `lr`).
    let named = candidates.iter().map(|c| (*c, *c));
    let aliased = ALIASES.iter().filter_map(|(alias, target)| {
        candidates
            .iter()
            .find(|c| *c == target)
            .map(|c| (*alias, *c))
    });
    named
        .chain(aliased)
        .map(|(name, c)| (strsim::jaro_winkler(&lower, name), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_to_line_and_column() {
        let text = "ab\ncdé\nf";
        assert_eq!(Pos::of_offset(text, 0), Pos { line: 1, col: 1 });
        assert_eq!(Pos::of_offset(text, 3), Pos { line: 2, col: 1 });
        assert_eq!(Pos::of_offset(text, 7), Pos { line: 2, col: 4 });
        assert_eq!(Pos::of_offset(text, 8), Pos { line: 3, col: 1 });
        assert_eq!(Pos::of_offset(text, 100), Pos { line: 3, col: 2 });
    }

    #[test]
    fn suggestions() {
        let c = ["depth", "width", "lr", "steps", "batch_size"];
        assert_eq!(did_you_mean("dept", &c), Some("depth"));
        assert_eq!(did_you_mean("Depth", &c), Some("depth"));
        assert_eq!(did_you_mean("learning_rate", &c), Some("lr"));
        assert_eq!(did_you_mean("lerning_rate", &c), Some("lr"));
        assert_eq!(did_you_mean("num_layers", &c), Some("depth"));
        assert_eq!(did_you_mean("batchsize", &c), Some("batch_size"));
        assert_eq!(did_you_mean("zzz", &c), None);
    }

    #[test]
    fn display_has_place_key_and_help() {
        let e = SweepError {
            origin: "s.toml".into(),
            line: Some(3),
            col: Some(1),
            key: Some("dept".into()),
            message: "unknown key `dept` in [model]".into(),
            help: Some("did you mean `depth`?".into()),
        };
        assert_eq!(
            e.to_string(),
            "error: s.toml:3:1: unknown key `dept` in [model]\n  key: dept\n  help: did you mean `depth`?"
        );
    }
}
