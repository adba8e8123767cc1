//! Reading values out of the parsed TOML document, with their spans: a setting's value
//! ([`read_value`]), an axis's values as a list or a range table ([`read_values`]), and
//! the plain TOML value behind a spanned one ([`to_toml`]). The schema walk
//! (`schema.rs`) calls these; they call nothing of it.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::error::{did_you_mean, Ctx, Problem, SweepError};
use super::value::{check_alone, found, setting_info, typed, AxisValue, Kind, Setting};
use super::MAX_POINTS;

/// Keys of the range form of an axis.
const RANGE_KEYS: &[&str] = &["start", "count", "stop", "step"];

pub(super) type Key<'i> = Spanned<Cow<'i, str>>;
pub(super) type Val<'i> = Spanned<DeValue<'i>>;

/// The entries of a table in file order (the parser keeps them sorted by name).
pub(super) fn ordered<'a, 'i>(table: &'a DeTable<'i>) -> Vec<(&'a Key<'i>, &'a Val<'i>)> {
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    entries
}

/// Converts a parsed value to a [`toml::Value`], failing on numbers out of range.
pub(super) fn to_toml(ctx: &Ctx, key: &str, v: &Val) -> Result<toml::Value, SweepError> {
    let out_of_range = |what: &str| {
        ctx.error(
            &v.span(),
            Some(key),
            Problem::new(format!("{what} {} is out of range", &ctx.text[v.span()]))
                .help("integers in TOML are at most 9223372036854775807 and numbers at most about 1.8e308"),
        )
    };
    Ok(match v.get_ref() {
        DeValue::String(s) => toml::Value::String(s.to_string()),
        DeValue::Integer(i) => toml::Value::Integer(
            i64::from_str_radix(i.as_str(), i.radix()).map_err(|_| out_of_range("the integer"))?,
        ),
        DeValue::Float(f) => {
            let text = f.as_str().replace('_', "");
            let unsigned = text.trim_start_matches(['+', '-']);
            let x = if unsigned == "nan" {
                f64::NAN
            } else {
                text.parse::<f64>()
                    .map_err(|_| out_of_range("the number"))?
            };
            if x.is_infinite() && !unsigned.starts_with("inf") {
                return Err(out_of_range("the number"));
            }
            toml::Value::Float(x)
        }
        DeValue::Boolean(b) => toml::Value::Boolean(*b),
        DeValue::Datetime(d) => toml::Value::Datetime(*d),
        DeValue::Array(a) => toml::Value::Array(
            a.iter()
                .map(|e| to_toml(ctx, key, e))
                .collect::<Result<_, _>>()?,
        ),
        DeValue::Table(t) => {
            let mut out = toml::Table::new();
            for (k, e) in t.iter() {
                out.insert(k.get_ref().to_string(), to_toml(ctx, key, e)?);
            }
            toml::Value::Table(out)
        }
    })
}

/// Reads one value of a setting, located at the value.
pub(super) fn read_value(ctx: &Ctx, info: &Setting, value: &Val) -> Result<AxisValue, SweepError> {
    let v = to_toml(ctx, info.name, value)?;
    typed(info, &v).map_err(|p| ctx.error(&value.span(), Some(info.name), p))
}

/// Reads the values of an axis: a list, a range table, or (in an include) one value.
pub(super) fn read_values(
    ctx: &Ctx,
    name: &str,
    value: &Val,
    allow_single: bool,
) -> Result<Vec<AxisValue>, SweepError> {
    let info = setting_info(name).expect("a setting name");
    let mut values: Vec<AxisValue> = Vec::new();
    match value.get_ref() {
        DeValue::Array(items) => {
            if items.is_empty() {
                return Err(ctx.error(
                    &value.span(),
                    Some(name),
                    Problem::new(format!(
                        "the list of {name} is empty: an axis needs at least one value"
                    ))
                    .help(format!(
                        "write values such as {name} = [{}], or remove the line",
                        info.example
                    )),
                ));
            }
            for item in items.iter() {
                if matches!(item.get_ref(), DeValue::Array(_) | DeValue::Table(_)) {
                    return Err(ctx.error(
                        &item.span(),
                        Some(name),
                        Problem::new(format!("a value of {name} cannot be a list or a table"))
                            .help(format!(
                                "write a flat list such as {name} = [{}]",
                                info.example
                            )),
                    ));
                }
                values.push(read_value(ctx, info, item)?);
            }
        }
        DeValue::Table(t) => values = read_range(ctx, info, value, t)?,
        _ if allow_single => values.push(read_value(ctx, info, value)?),
        _ => {
            let written = &ctx.text[value.span()];
            return Err(ctx.error(
                &value.span(),
                Some(name),
                Problem::new(format!(
                    "the axis {name} needs a list of values, found the single value {written}"
                ))
                .help(format!(
                    "write {name} = [{written}] for a one-value axis, or move `{name} = {written}` to [{}] to fix it for every run",
                    info.table
                )),
            ));
        }
    }
    // Repeated values count once. Values of one setting are equal exactly when they are
    // written the same by `Display` (shortest round-trip floats, normalized expressions).
    let mut seen = std::collections::HashSet::with_capacity(values.len());
    values.retain(|v| seen.insert(v.to_string()));
    Ok(values)
}

/// The range form of an integer axis: `{ start, count [, step] }` or
/// `{ start, stop [, step] }` (stop inclusive).
fn read_range(
    ctx: &Ctx,
    info: &Setting,
    value: &Val,
    table: &DeTable,
) -> Result<Vec<AxisValue>, SweepError> {
    let name = info.name;
    let span = value.span();
    let err = |span: &Range<usize>, p: Problem| ctx.error(span, Some(name), p);
    if !matches!(info.kind, Kind::Count | Kind::Seed) {
        return Err(err(
            &span,
            Problem::new(format!(
                "a range {{ start = ..., count = ... }} works only for integer settings, not for {name}"
            ))
            .help(format!("write a list such as {name} = [{}]", info.example)),
        ));
    }
    let form_help = if info.kind == Kind::Seed {
        format!("write {name} = {{ start = 0, count = 10 }} or {name} = {{ start = 0, stop = 9 }} (stop is included)")
    } else {
        format!("write {name} = {{ start = 2, count = 5 }} or {name} = {{ start = 2, stop = 50, step = 4 }} (stop is included)")
    };
    let mut fields: BTreeMap<&str, (i64, Range<usize>)> = BTreeMap::new();
    for (key, v) in ordered(table) {
        let k: &str = key.get_ref();
        if !RANGE_KEYS.contains(&k) {
            let help = match did_you_mean(k, RANGE_KEYS) {
                Some(s) => format!("did you mean `{s}`? {form_help}"),
                None => form_help.clone(),
            };
            return Err(err(
                &key.span(),
                Problem::new(format!("unknown key `{k}` in the range of {name}")).help(help),
            ));
        }
        match to_toml(ctx, name, v)? {
            toml::Value::Integer(i) => {
                fields.insert(k, (i, v.span()));
            }
            other => {
                return Err(err(
                    &v.span(),
                    Problem::new(format!(
                        "`{k}` of the range of {name} must be an integer, {}",
                        found(&other)
                    ))
                    .help(form_help.clone()),
                ))
            }
        }
    }
    let Some(&(start, ref start_span)) = fields.get("start") else {
        return Err(err(
            &span,
            Problem::new(format!("the range of {name} has no `start`")).help(form_help),
        ));
    };
    if start < 0 {
        return Err(err(
            start_span,
            Problem::new(format!(
                "the range of {name} starts at {start}, but {name} cannot be negative"
            ))
            .help(form_help),
        ));
    }
    let (step, step_span) = match fields.get("step") {
        Some((s, sp)) => (*s, sp.clone()),
        None => (1, span.clone()),
    };
    if step < 1 {
        return Err(err(
            &step_span,
            Problem::new(format!(
                "the range of {name} has step = {step}: the step must be at least 1"
            ))
            .help(form_help),
        ));
    }
    let count: i128 = match (fields.get("count"), fields.get("stop")) {
        (Some(_), Some((_, stop_span))) => {
            return Err(err(
                stop_span,
                Problem::new(format!("the range of {name} has both `count` and `stop`"))
                    .help(format!("keep one of them; {form_help}")),
            ))
        }
        (None, None) => {
            return Err(err(
                &span,
                Problem::new(format!("the range of {name} needs `count` or `stop`"))
                    .help(form_help),
            ))
        }
        (Some((count, count_span)), None) => {
            if *count < 1 {
                return Err(err(
                    count_span,
                    Problem::new(format!(
                        "the range of {name} has count = {count}: it would give no values"
                    ))
                    .help(format!("count must be at least 1; {form_help}")),
                ));
            }
            *count as i128
        }
        (None, Some((stop, stop_span))) => {
            if *stop < start {
                return Err(err(
                    stop_span,
                    Problem::new(format!(
                        "the range of {name} has stop = {stop} below start = {start}: it would give no values"
                    ))
                    .help(format!("stop is the last value (included) and must be at least start; {form_help}")),
                ));
            }
            (*stop as i128 - start as i128) / step as i128 + 1
        }
    };
    if count > MAX_POINTS as i128 {
        return Err(err(
            &span,
            Problem::new(format!(
                "the range of {name} gives {count} values, more than the limit of {MAX_POINTS} points of a sweep"
            ))
            .help("shorten the range, or split the sweep into several files"),
        ));
    }
    let mut values = Vec::with_capacity(count as usize);
    for i in 0..count {
        let v = start as i128 + i * step as i128;
        let v = u64::try_from(v).map_err(|_| {
            err(
                &span,
                Problem::new(format!(
                    "the range of {name} reaches {v}, which is too large"
                )),
            )
        })?;
        let v = AxisValue::Int(v);
        check_alone(info, &v).map_err(|p| {
            err(
                &span,
                Problem::new(format!("the range of {name} contains {v}: {}", p.message))
                    .help(format!("change the range; {form_help}")),
            )
        })?;
        values.push(v);
    }
    Ok(values)
}
