//! Command-line overrides of a sweep file, Hydra style: `train.steps=2000`,
//! `grid.seed=0..9`, `model.width=128`, `grid.residual=false,true`, `name=short`.
//!
//! An override is checked alone first, exactly as the same line in a sweep file (the same
//! messages and did-you-mean), and named as given when it is wrong. It is then written
//! into the sweep's text, keeping the file's comments and order: a key already in the
//! file gets the new value, a new key goes under its table's header, a new table goes at
//! the end. The result is parsed again as a whole (so rules such as an `[[exclude]]`
//! that matches nothing are still caught), and that text is what `run` freezes into
//! `sweep.toml`. A fixed override of a setting the file sweeps (`train.seed=3` with a
//! `[grid]` seed axis) removes the axis, so the override takes effect.
//!
//! Values are TOML (`2000`, `1e-3`, `true`, `[1, 2]`, `{ start = 0, count = 4 }`), and
//! also, for the command line: `A..B` for the inclusive integer range
//! `{ start = A, stop = B }`, `a,b,c` for a list, and any other text as a string
//! (`train.optimizer=sgd`, `model.init_scale=1/sqrt(depth)`).

use toml::de::{DeTable, DeValue};

use super::error::{did_you_mean, error_at, Problem, SweepError};
use super::value::{setting_info, FIXED_TABLES};
use super::SweepSpec;

/// One `key=value` of the command line, resolved to its table.
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    /// As typed.
    pub text: String,
    /// The table (`train`, `grid`, `execution`), or `None` for a top-level key.
    pub table: Option<String>,
    /// The key within it.
    pub key: String,
    /// The value as TOML text.
    pub value: String,
}

/// Whether a command-line word is an override (`key=value`) rather than a path.
pub fn is_override(word: &str) -> bool {
    word.split_once('=').is_some_and(|(k, _)| {
        !k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
    })
}

fn bad(text: &str, problem: Problem) -> SweepError {
    error_at(&format!("override `{text}`"), None, None, problem)
}

impl Override {
    /// Reads `key=value`; `key` is `table.key`, a top-level key (`name`, `description`),
    /// or a setting's bare name (`steps=2000` is `train.steps=2000`).
    pub fn parse(text: &str) -> Result<Override, SweepError> {
        let Some((key, value)) = text.split_once('=') else {
            return Err(bad(
                text,
                Problem::new("an override is KEY=VALUE").help("write e.g. train.steps=2000"),
            ));
        };
        let key = key.trim();
        let (table, key) = match key.split_once('.') {
            Some((t, k)) => (Some(t.to_string()), k.to_string()),
            None if matches!(key, "name" | "description") => (None, key.to_string()),
            None => match setting_info(key) {
                Some(s) => (Some(s.table.to_string()), key.to_string()),
                None => {
                    let names = super::value::setting_names();
                    let mut p = Problem::new(format!("unknown setting `{key}`"));
                    p = match did_you_mean(key, &names) {
                        Some(m) => p.help(format!("did you mean `{m}`?")),
                        None => {
                            p.help("write TABLE.KEY=VALUE, e.g. train.steps=2000 or grid.seed=0..9")
                        }
                    };
                    return Err(bad(text, p));
                }
            },
        };
        if key.is_empty() || key.contains('.') {
            return Err(bad(
                text,
                Problem::new(format!("`{key}` is not a key"))
                    .help("write TABLE.KEY=VALUE, e.g. train.steps=2000 or grid.seed=0..9"),
            ));
        }
        if let Some(t) = &table {
            if t == "include" || t == "exclude" {
                return Err(bad(
                    text,
                    Problem::new(format!("[[{t}]] rules cannot be set from the command line"))
                        .help(format!("write the [[{t}]] rule in the sweep file")),
                ));
            }
        }
        Ok(Override {
            text: text.to_string(),
            table,
            key,
            value: value_text(value.trim()),
        })
    }

    /// The override as the one line of a sweep file (with a name, so the file is whole).
    fn alone(&self) -> String {
        match &self.table {
            None if self.key == "name" => format!("{} = {}\n", self.key, self.value),
            None => format!("name = \"override\"\n{} = {}\n", self.key, self.value),
            Some(t) => format!(
                "name = \"override\"\n[{t}]\n{} = {}\n",
                self.key, self.value
            ),
        }
    }
}

/// The TOML text of a command-line value.
fn value_text(v: &str) -> String {
    let is_toml = |t: &str| format!("v = {t}").parse::<toml::Table>().is_ok();
    if is_toml(v) {
        return v.to_string();
    }
    if let Some((a, b)) = v.split_once("..") {
        if a.parse::<i64>().is_ok() && b.parse::<i64>().is_ok() {
            return format!("{{ start = {a}, stop = {b} }}");
        }
    }
    let one = |t: &str| {
        let t = t.trim();
        if is_toml(t) {
            t.to_string()
        } else {
            toml::Value::String(t.to_string()).to_string()
        }
    };
    if v.contains(',') && !v.contains('(') {
        return format!("[{}]", v.split(',').map(one).collect::<Vec<_>>().join(", "));
    }
    toml::Value::String(v.to_string()).to_string()
}

impl SweepSpec {
    /// This sweep with command-line overrides applied (see the module documentation);
    /// the sweep itself when there are none.
    pub fn with_overrides(&self, overrides: &[String]) -> Result<SweepSpec, SweepError> {
        if overrides.is_empty() {
            return Ok(self.clone());
        }
        let parsed = overrides
            .iter()
            .map(|o| Override::parse(o))
            .collect::<Result<Vec<_>, _>>()?;
        for o in &parsed {
            // Checked alone, exactly as the line in a file; named as typed.
            SweepSpec::parse(&o.alone(), "override").map_err(|mut e| {
                e.origin = format!("override `{}`", o.text);
                e.line = None;
                e.col = None;
                e
            })?;
        }
        let mut text = self.source.clone();
        for o in &parsed {
            text = splice(&text, o).map_err(|p| bad(&o.text, p))?;
        }
        let given: Vec<&str> = parsed.iter().map(|o| o.text.as_str()).collect();
        let text = format!(
            "# {} with the command-line overrides: {}\n{text}",
            self.origin,
            given.join(" ")
        );
        let origin = format!("{} with {}", self.origin, given.join(" "));
        SweepSpec::parse(&text, &origin)
    }
}

/// Writes one override into a sweep file's text.
fn splice(text: &str, o: &Override) -> Result<String, Problem> {
    let root = DeTable::parse(text).map_err(|e| Problem::new(e.message().to_string()))?;
    let root = root.get_ref();
    let line = format!("{} = {}\n", o.key, o.value);
    let Some(table) = &o.table else {
        return Ok(match root.iter().find(|(k, _)| k.get_ref() == &o.key) {
            Some((_, v)) => replace(text, v.span(), &o.value),
            None => format!("{line}{text}"),
        });
    };
    let mut text = text.to_string();
    // A fixed value of a setting the file sweeps: the axis goes, the fixed value counts.
    if table != "grid" && FIXED_TABLES.contains(&table.as_str()) {
        if let Some((_, grid)) = root.iter().find(|(k, _)| k.get_ref() == "grid") {
            if let DeValue::Table(g) = grid.get_ref() {
                if let Some((k, v)) = g.iter().find(|(k, _)| k.get_ref() == &o.key) {
                    let start = text[..k.span().start].rfind('\n').map_or(0, |i| i + 1);
                    let end = text[v.span().end..]
                        .find('\n')
                        .map_or(text.len(), |i| v.span().end + i + 1);
                    text.replace_range(start..end, "");
                    return splice(&text, o);
                }
            }
        }
    }
    match root.iter().find(|(k, _)| k.get_ref() == table) {
        None => {
            let sep = if text.is_empty() || text.ends_with('\n') {
                ""
            } else {
                "\n"
            };
            Ok(format!("{text}{sep}\n[{table}]\n{line}"))
        }
        Some((_, v)) => {
            let DeValue::Table(t) = v.get_ref() else {
                return Err(Problem::new(format!(
                    "`{table}` is not a table in the sweep file"
                )));
            };
            if let Some((_, v)) = t.iter().find(|(k, _)| k.get_ref() == &o.key) {
                return Ok(replace(&text, v.span(), &o.value));
            }
            // Under the table's header line.
            let header = format!("[{table}]");
            let at = text
                .match_indices(&header)
                .map(|(i, _)| i)
                .find(|&i| {
                    text[..i]
                        .rsplit('\n')
                        .next()
                        .is_some_and(|b| b.trim().is_empty())
                })
                .ok_or_else(|| {
                    Problem::new(format!(
                        "the sweep file writes [{table}] in a form an override cannot extend"
                    ))
                    .help(format!(
                        "write it as a [{table}] table with one key per line"
                    ))
                })?;
            let end = text[at..].find('\n').map_or(text.len(), |i| at + i + 1);
            let sep = if end == text.len() && !text.ends_with('\n') {
                "\n"
            } else {
                ""
            };
            text.insert_str(end, &format!("{sep}{line}"));
            Ok(text)
        }
    }
}

fn replace(text: &str, span: std::ops::Range<usize>, value: &str) -> String {
    format!("{}{value}{}", &text[..span.start], &text[span.end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "# a comment\nname = \"b\"\n\n[model]\ndepth = 3 # deep\n\n[grid]\nresidual = [false, true]\nseed = [0, 1]\n";

    fn apply(overrides: &[&str]) -> Result<SweepSpec, SweepError> {
        let spec = SweepSpec::parse(BASE, "b.toml").unwrap();
        let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        spec.with_overrides(&o)
    }

    #[test]
    fn values_read_as_on_a_command_line() {
        assert_eq!(value_text("2000"), "2000");
        assert_eq!(value_text("0..9"), "{ start = 0, stop = 9 }");
        assert_eq!(value_text("false,true"), "[false, true]");
        assert_eq!(value_text("sgd"), "\"sgd\"");
        assert_eq!(value_text("1/sqrt(depth)"), "\"1/sqrt(depth)\"");
        assert_eq!(value_text("1.0,1/depth"), "[1.0, \"1/depth\"]");
    }

    #[test]
    fn overrides_replace_insert_and_append_keeping_the_file() {
        let s = apply(&[
            "model.depth=5",
            "train.steps=7",
            "grid.seed=0..3",
            "model.width=16",
        ])
        .unwrap();
        assert_eq!(s.base.depth, 5);
        assert_eq!(s.base.width, 16);
        assert_eq!(s.base.steps, 7);
        assert_eq!(s.expand().unwrap().len(), 8);
        assert!(s.source.contains("# a comment") && s.source.contains("depth = 5 # deep"));
        assert!(s
            .source
            .starts_with("# b.toml with the command-line overrides: model.depth=5"));
        // Bare setting names find their table; name is top level.
        let s = apply(&["steps=9", "name=other"]).unwrap();
        assert_eq!((s.base.steps, s.name.as_str()), (9, "other"));
    }

    #[test]
    fn a_fixed_override_of_an_axis_removes_the_axis() {
        let s = apply(&["train.seed=4"]).unwrap();
        assert_eq!(s.axis_names(), vec!["residual"]);
        assert_eq!(s.base.seed, 4);
    }

    #[test]
    fn bad_overrides_are_named_with_the_files_messages() {
        let e = apply(&["model.dept=5"]).unwrap_err();
        assert_eq!(e.origin, "override `model.dept=5`");
        assert_eq!(e.help.as_deref(), Some("did you mean `depth`?"), "{e}");
        let e = apply(&["stpes=5"]).unwrap_err();
        assert!(e.to_string().contains("did you mean `steps`?"), "{e}");
        let e = apply(&["model.depth=0"]).unwrap_err();
        assert!(e.message.contains("depth"), "{e}");
        let e = apply(&["train.lr=fast"]).unwrap_err();
        assert!(e.origin.contains("train.lr=fast"), "{e}");
        let e = apply(&["model.lr=1"]).unwrap_err();
        assert!(e.to_string().contains("[train]"), "{e}");
        let e = apply(&["include.depth=3"]).unwrap_err();
        assert!(e.message.contains("[[include]]"), "{e}");
        let e = apply(&["depth"]).unwrap_err();
        assert!(e.message.contains("KEY=VALUE"), "{e}");
    }
}
