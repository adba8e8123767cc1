//! Reading a sweep file: the checked walk over the parsed TOML document (with spans)
//! into the parts of a [`SweepSpec`](super::SweepSpec): fixed settings, `[execution]`,
//! `[grid]` axes (lists and ranges), `[[exclude]]` and `[[include]]` rules.
//!
//! Every check here knows the span of what it looks at, so every error points at the
//! offending key or value.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::de::{DeTable, DeValue};

use super::error::{did_you_mean, Ctx, Pos, Problem, SweepError};
use super::toml_values::{ordered, read_value, read_values, to_toml, Key, Val};
use super::value::{found, setting_info, setting_names, AxisValue, EXECUTION_KEYS, FIXED_TABLES};
use crate::config::RunConfig;

/// Keys allowed at the top level of a sweep file.
const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "model",
    "train",
    "task",
    "probe",
    "execution",
    "grid",
    "exclude",
    "include",
];

/// One axis of a sweep (of its `[grid]`, or of one `[[include]]`): a setting and the
/// values it takes, in file order, without duplicates.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// The setting's name, e.g. `depth`.
    pub name: String,
    /// Its values (at least one).
    pub values: Vec<AxisValue>,
}

/// One `[[exclude]]` rule: drops every grid point whose settings equal all of these.
#[derive(Clone, Debug, PartialEq)]
pub struct Exclude {
    /// Setting names and the single value each must have for the rule to match.
    pub settings: Vec<(String, AxisValue)>,
    /// Where the rule starts in the file.
    pub(crate) at: Pos,
}

impl Exclude {
    /// Whether `config` has every setting of this rule.
    pub fn matches(&self, config: &RunConfig) -> bool {
        self.settings
            .iter()
            .all(|(k, v)| AxisValue::of(config, k).as_ref() == Some(v))
    }
}

/// One `[[include]]` entry: extra points built from the fixed settings with these
/// settings overridden; a setting with several values makes one point per combination.
#[derive(Clone, Debug, PartialEq)]
pub struct Include {
    /// The overridden settings, in file order.
    pub axes: Vec<Axis>,
    /// Where the entry starts in the file.
    pub(crate) at: Pos,
}

/// Places of things in the file, for errors found after parsing (during expansion).
#[derive(Clone, Debug, PartialEq, Default)]
pub(crate) struct Places {
    /// The `[grid]` table.
    pub grid: Option<Pos>,
    /// Each axis of the grid, parallel to `SweepSpec::axes`.
    pub axes: Vec<Pos>,
    /// Each fixed setting's value.
    pub fixed: BTreeMap<String, Pos>,
}

/// Everything read from a sweep file, before it becomes a `SweepSpec`.
pub(crate) struct Document {
    pub name: String,
    pub description: Option<String>,
    pub base: RunConfig,
    pub execution: super::Execution,
    pub axes: Vec<Axis>,
    pub includes: Vec<Include>,
    pub excludes: Vec<Exclude>,
    pub places: Places,
}

/// Reads and checks a whole sweep file.
pub(crate) fn read_document(ctx: &Ctx) -> Result<Document, SweepError> {
    let root = DeTable::parse(ctx.text).map_err(|e| toml_error(ctx, &e))?;
    let mut doc = Document {
        name: String::new(),
        description: None,
        base: RunConfig::default(),
        execution: super::Execution::default(),
        axes: Vec::new(),
        includes: Vec::new(),
        excludes: Vec::new(),
        places: Places::default(),
    };
    let mut has_name = false;
    for (key, value) in ordered(root.get_ref()) {
        let k: &str = key.get_ref();
        match k {
            "name" => {
                doc.name = read_name(ctx, value)?;
                has_name = true;
            }
            "description" => match value.get_ref() {
                DeValue::String(s) => doc.description = Some(s.to_string()),
                _ => {
                    return Err(ctx.error(
                        &value.span(),
                        Some(k),
                        Problem::new(format!(
                            "description must be a string, {}",
                            found(&to_toml(ctx, k, value)?)
                        ))
                        .help("write description = \"what this sweep compares\""),
                    ))
                }
            },
            _ if FIXED_TABLES.contains(&k) => {
                let table = as_table(
                    ctx,
                    k,
                    value,
                    "[model], [train], [task] and [probe] hold fixed settings such as depth = 20",
                )?;
                read_fixed(ctx, k, table, &mut doc)?;
            }
            "execution" => {
                let table = as_table(
                    ctx,
                    k,
                    value,
                    "[execution] holds checkpoint_every and vectorize",
                )?;
                read_execution(ctx, table, &mut doc.execution)?;
            }
            "grid" => {
                let table = as_table(ctx, k, value, "[grid] holds axes such as seed = [0, 1, 2]")?;
                doc.places.grid = Some(ctx.pos(&value.span()));
                for (axis_key, axis_value) in ordered(table) {
                    let name = setting_key(ctx, axis_key, "[grid]")?;
                    let values = read_values(ctx, name, axis_value, false)?;
                    doc.places.axes.push(ctx.pos(&axis_key.span()));
                    doc.axes.push(Axis {
                        name: name.to_string(),
                        values,
                    });
                }
            }
            "exclude" => {
                for (span, table) in rule_tables(ctx, k, value)? {
                    doc.excludes.push(read_exclude(ctx, &span, table)?);
                }
            }
            "include" => {
                for (span, table) in rule_tables(ctx, k, value)? {
                    doc.includes.push(read_include(ctx, &span, table)?);
                }
            }
            _ => return Err(misplaced_top_key(ctx, key, value)),
        }
    }
    if !has_name {
        return Err(ctx.error(
            &(0..0),
            Some("name"),
            Problem::new("the sweep has no name").help(
                "add a line such as name = \"my_sweep\" at the top; it names the directory runs/<name>/",
            ),
        ));
    }
    Ok(doc)
}

/// A TOML syntax error, located by its span.
fn toml_error(ctx: &Ctx, e: &toml::de::Error) -> SweepError {
    let span = e.span().unwrap_or(0..0);
    let found_text = ctx.text.get(span.clone()).unwrap_or("").to_string();
    let mut message = format!("invalid TOML: {}", e.message());
    let mut key = None;
    let mut help = None;
    if e.message() == "duplicate key" && !found_text.is_empty() {
        let before = ctx.text[..span.start].trim_end_matches([' ', '\t']);
        if before.ends_with('[') {
            message = format!("the table [{found_text}] appears twice");
            help = Some(format!(
                "merge the two [{found_text}] tables into one (an array of tables is written [[{found_text}]])"
            ));
        } else {
            message = format!("the key `{found_text}` appears twice in the same table");
            help = Some(format!(
                "keep one `{found_text}`; to sweep several values write one list, e.g. {found_text} = [1, 2]"
            ));
        }
        key = Some(found_text.clone());
    } else if e.message().contains("string values must be quoted") {
        help = Some(format!("put the text in quotes: \"{found_text}\""));
    }
    let mut err = ctx.error(&span, key.as_deref(), Problem::new(message));
    err.help = help;
    err
}

fn read_name(ctx: &Ctx, value: &Val) -> Result<String, SweepError> {
    let err = |p: Problem| ctx.error(&value.span(), Some("name"), p);
    let name = match value.get_ref() {
        DeValue::String(s) => s.to_string(),
        _ => {
            return Err(err(Problem::new(format!(
                "name must be a string, {}",
                found(&to_toml(ctx, "name", value)?)
            ))
            .help("write name = \"my_sweep\"")))
        }
    };
    let sanitized: String = {
        let s: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let s = s.replace("..", "_");
        let s = s.trim_start_matches(['.', '_']).trim_end_matches('_');
        if s.is_empty() {
            "my_sweep".to_string()
        } else {
            s.to_string()
        }
    };
    let help = format!(
        "the name becomes the directory runs/<name>/: use letters, digits, '_', '-' and '.', e.g. name = \"{sanitized}\""
    );
    if name.is_empty() {
        return Err(err(Problem::new("name is empty").help(help)));
    }
    if let Some(c) = name.chars().find(|c| matches!(c, '/' | '\\')) {
        return Err(err(Problem::new(format!(
            "name \"{name}\" contains '{c}': a sweep name must be one directory name, not a path"
        ))
        .help(help)));
    }
    if name.starts_with('.') || name.contains("..") {
        return Err(err(Problem::new(format!(
            "name \"{name}\" must not start with '.' or contain \"..\""
        ))
        .help(help)));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Err(err(Problem::new(format!(
            "name \"{name}\" contains {c:?}, which is not allowed"
        ))
        .help(help)));
    }
    if name.len() > 100 {
        return Err(err(Problem::new(format!(
            "name is {} characters long, more than 100",
            name.len()
        ))
        .help(
            "use a shorter name; describe the sweep in description = \"...\"",
        )));
    }
    Ok(name)
}

fn as_table<'a, 'i>(
    ctx: &Ctx,
    key: &str,
    value: &'a Val<'i>,
    what: &str,
) -> Result<&'a DeTable<'i>, SweepError> {
    match value.get_ref() {
        DeValue::Table(t) => Ok(t),
        _ => Err(ctx.error(
            &value.span(),
            Some(key),
            Problem::new(format!("`{key}` must be a table [{key}]")).help(format!(
                "write [{key}] on its own line and the settings below it; {what}"
            )),
        )),
    }
}

/// Reads `[model]`, `[train]`, `[task]` or `[probe]` into the base config.
fn read_fixed(
    ctx: &Ctx,
    table_name: &str,
    table: &DeTable,
    doc: &mut Document,
) -> Result<(), SweepError> {
    for (key, value) in ordered(table) {
        let k: &str = key.get_ref();
        let Some(info) = setting_info(k) else {
            return Err(unknown_key(
                ctx,
                key,
                &format!("[{table_name}]"),
                Some(table_name),
            ));
        };
        if info.table != table_name {
            return Err(ctx.error(
                &key.span(),
                Some(k),
                Problem::new(format!(
                    "{k} belongs in [{}], not in [{table_name}]",
                    info.table
                ))
                .help(format!(
                    "move `{}` under [{}]",
                    line_of(ctx, key, value),
                    info.table
                )),
            ));
        }
        if matches!(value.get_ref(), DeValue::Array(_)) {
            return Err(ctx.error(
                &value.span(),
                Some(k),
                Problem::new(format!(
                    "{k} in [{table_name}] is a fixed setting and takes one value, found a list"
                ))
                .help(format!(
                    "to sweep {k}, move `{}` under [grid]",
                    line_of(ctx, key, value)
                )),
            ));
        }
        let v = read_value(ctx, info, value)?;
        v.apply(&mut doc.base, k)
            .map_err(|e| ctx.error(&value.span(), Some(k), Problem::new(e)))?;
        doc.places
            .fixed
            .insert(k.to_string(), ctx.pos(&value.span()));
    }
    Ok(())
}

/// `key = value` as written in the file, for messages (shortened if long).
fn line_of(ctx: &Ctx, key: &Key, value: &Val) -> String {
    let k = &ctx.text[key.span()];
    let v = &ctx.text[value.span()];
    let v = if v.chars().count() > 40 || v.contains('\n') {
        "...".to_string()
    } else {
        v.to_string()
    };
    format!("{k} = {v}")
}

fn read_execution(
    ctx: &Ctx,
    table: &DeTable,
    execution: &mut super::Execution,
) -> Result<(), SweepError> {
    for (key, value) in ordered(table) {
        let k: &str = key.get_ref();
        let slot = match k {
            "checkpoint_every" => &mut execution.checkpoint_every,
            "vectorize" => &mut execution.vectorize,
            _ => return Err(unknown_key(ctx, key, "[execution]", Some("execution"))),
        };
        let example = if k == "vectorize" { "1" } else { "100" };
        let n = match to_toml(ctx, k, value)? {
            toml::Value::Integer(i) if i >= 1 => usize::try_from(i).map_err(|_| {
                ctx.error(
                    &value.span(),
                    Some(k),
                    Problem::new(format!("{k} = {i} is too large")),
                )
            })?,
            toml::Value::Integer(i) => {
                return Err(ctx.error(
                    &value.span(),
                    Some(k),
                    Problem::new(format!("{k} = {i} is impossible: it must be at least 1"))
                        .help(format!("write {k} = {example}")),
                ))
            }
            other => {
                return Err(ctx.error(
                    &value.span(),
                    Some(k),
                    Problem::new(format!("{k} must be an integer, {}", found(&other)))
                        .help(format!("write {k} = {example}")),
                ))
            }
        };
        *slot = n;
    }
    Ok(())
}

/// A key that must name a setting (in `[grid]`, `[[include]]`, `[[exclude]]`).
fn setting_key<'a>(ctx: &Ctx, key: &'a Key, place: &str) -> Result<&'a str, SweepError> {
    let k: &str = key.get_ref();
    if setting_info(k).is_some() {
        Ok(k)
    } else {
        Err(unknown_key(ctx, key, place, None))
    }
}

/// An unknown key in a table (`fixed_table` when it is one of the fixed tables or
/// `execution`), with the best suggestion.
fn unknown_key(ctx: &Ctx, key: &Key, place: &str, fixed_table: Option<&str>) -> SweepError {
    let k: &str = key.get_ref();
    let names = setting_names();
    let problem = if EXECUTION_KEYS.contains(&k) {
        Problem::new(format!(
            "{k} belongs in [execution]: it changes how runs are executed, not what they compute, so it cannot be {}",
            if fixed_table.is_some() { "a run setting" } else { "swept" }
        ))
        .help(format!("move `{k} = ...` under [execution]"))
    } else {
        let mut problem = Problem::new(format!("unknown key `{k}` in {place}"));
        let mut candidates: Vec<&str> = names.clone();
        if fixed_table == Some("execution") {
            candidates = EXECUTION_KEYS.to_vec();
        } else if fixed_table.is_some() {
            candidates.extend_from_slice(EXECUTION_KEYS);
        }
        problem.help = Some(match did_you_mean(k, &candidates) {
            Some(s) => {
                let home = setting_info(s).map(|i| i.table).unwrap_or("execution");
                match fixed_table {
                    Some(t) if t != home => format!("did you mean `{s}`? (it belongs in [{home}])"),
                    _ => format!("did you mean `{s}`?"),
                }
            }
            None => match fixed_table {
                Some("execution") => "[execution] holds checkpoint_every and vectorize".to_string(),
                Some(t) => format!(
                    "[{t}] holds {}",
                    crate::config::SETTINGS
                        .iter()
                        .filter(|s| s.table == t)
                        .map(|s| s.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None => format!("the settings are: {}", names.join(", ")),
            },
        });
        problem
    };
    ctx.error(&key.span(), Some(k), problem)
}

/// An unknown or misplaced key at the top level of the file.
fn misplaced_top_key(ctx: &Ctx, key: &Key, value: &Val) -> SweepError {
    let k: &str = key.get_ref();
    if let Some(info) = setting_info(k) {
        return ctx.error(
            &key.span(),
            Some(k),
            Problem::new(format!("{k} belongs in [{}]", info.table)).help(format!(
                "move `{}` under [{}] to fix it for every run, or write it under [grid] as a list to sweep it",
                line_of(ctx, key, value),
                info.table
            )),
        );
    }
    if EXECUTION_KEYS.contains(&k) {
        return ctx.error(
            &key.span(),
            Some(k),
            Problem::new(format!("{k} belongs in [execution]")).help(format!(
                "move `{}` under [execution]",
                line_of(ctx, key, value)
            )),
        );
    }
    let is_table = matches!(value.get_ref(), DeValue::Table(_));
    let is_array_of_tables = matches!(value.get_ref(), DeValue::Array(a)
        if !a.is_empty() && a.iter().all(|e| matches!(e.get_ref(), DeValue::Table(_))));
    let message = if is_array_of_tables {
        format!("unknown table [[{k}]]")
    } else if is_table {
        format!("unknown table [{k}]")
    } else {
        format!("unknown key `{k}`")
    };
    let help = match did_you_mean(k, TOP_KEYS) {
        Some(s @ ("name" | "description")) => format!("did you mean `{s}`?"),
        Some(s @ ("exclude" | "include")) => format!("did you mean [[{s}]]?"),
        Some(s) => format!("did you mean [{s}]?"),
        None => "a sweep file has name, description, [model], [train], [task], [probe], [execution], [grid], [[exclude]] and [[include]]".to_string(),
    };
    ctx.error(&key.span(), Some(k), Problem::new(message).help(help))
}

/// The tables of `[[exclude]]` or `[[include]]`, with the span of each.
fn rule_tables<'a, 'i>(
    ctx: &Ctx,
    key: &str,
    value: &'a Val<'i>,
) -> Result<Vec<(Range<usize>, &'a DeTable<'i>)>, SweepError> {
    let what = if key == "exclude" {
        "one [[exclude]] per rule, each followed by settings such as residual = false"
    } else {
        "one [[include]] per extra point, each followed by settings such as depth = 30"
    };
    match value.get_ref() {
        DeValue::Array(a) => a
            .iter()
            .map(|e| match e.get_ref() {
                DeValue::Table(t) => Ok((e.span(), t)),
                _ => Err(ctx.error(
                    &e.span(),
                    Some(key),
                    Problem::new(format!("each {key} rule must be a table"))
                        .help(format!("write {what}")),
                )),
            })
            .collect(),
        _ => Err(ctx.error(
            &value.span(),
            Some(key),
            Problem::new(format!(
                "`{key}` must be an array of tables, written [[{key}]]"
            ))
            .help(format!("write {what} (note the double brackets)")),
        )),
    }
}

fn read_exclude(ctx: &Ctx, span: &Range<usize>, table: &DeTable) -> Result<Exclude, SweepError> {
    if table.is_empty() {
        return Err(ctx.error(
            span,
            Some("exclude"),
            Problem::new("this [[exclude]] is empty: it would drop every point")
                .help("list the settings of the points to drop, e.g. residual = false"),
        ));
    }
    let mut settings = Vec::new();
    for (key, value) in ordered(table) {
        let name = setting_key(ctx, key, "[[exclude]]")?;
        if matches!(value.get_ref(), DeValue::Array(_) | DeValue::Table(_)) {
            return Err(ctx.error(
                &value.span(),
                Some(name),
                Problem::new(format!(
                    "an [[exclude]] value is a single value, but {name} has a list or table"
                ))
                .help("write one [[exclude]] per value; a rule drops the points that match all its settings"),
            ));
        }
        let info = setting_info(name).expect("checked by setting_key");
        settings.push((name.to_string(), read_value(ctx, info, value)?));
    }
    Ok(Exclude {
        settings,
        at: ctx.pos(span),
    })
}

fn read_include(ctx: &Ctx, span: &Range<usize>, table: &DeTable) -> Result<Include, SweepError> {
    if table.is_empty() {
        return Err(ctx.error(
            span,
            Some("include"),
            Problem::new("this [[include]] is empty")
                .help("list the settings that make the extra point differ from the fixed settings, e.g. depth = 30"),
        ));
    }
    let mut axes = Vec::new();
    for (key, value) in ordered(table) {
        let name = setting_key(ctx, key, "[[include]]")?;
        axes.push(Axis {
            name: name.to_string(),
            values: read_values(ctx, name, value, true)?,
        });
    }
    Ok(Include {
        axes,
        at: ctx.pos(span),
    })
}
