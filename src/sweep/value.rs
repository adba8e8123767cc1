//! The settings of a run as a sweep file writes them: reading and checking a single
//! value ([`AxisValue::parse`]), its TOML form, and the messages for unknown names and
//! wrong types. Which settings exist, their tables, kinds and checks are declared once in
//! [`crate::config`]. [`apply_setting`] gives the same checks to command-line flags.

use super::error::{did_you_mean, Problem};
pub use crate::config::AxisValue;
use crate::config::{choice_text, listed, InitScale, RunConfig, SETTING_NAMES};
pub(crate) use crate::config::{Kind, Setting};

/// The tables that hold fixed settings, in file-format order.
pub const FIXED_TABLES: &[&str] = &["model", "train", "task", "probe"];

/// Keys of `[execution]`: how runs are executed, not what they compute.
pub(crate) const EXECUTION_KEYS: &[&str] = &["checkpoint_every", "vectorize"];

pub(crate) fn setting_info(name: &str) -> Option<&'static Setting> {
    crate::config::setting(name)
}

pub(crate) fn setting_names() -> Vec<&'static str> {
    SETTING_NAMES.to_vec()
}

impl AxisValue {
    /// Reads and checks a value of setting `key` (type and range, e.g. `depth` >= 1,
    /// `lr` > 0, a valid `init_scale` expression). The error names the setting and a fix.
    pub fn parse(key: &str, value: &toml::Value) -> Result<AxisValue, String> {
        let info = setting_info(key).ok_or_else(|| unknown_setting(key).into_text())?;
        typed(info, value).map_err(Problem::into_text)
    }

    /// The current value of setting `key` in `config` (`None` for an unknown name).
    pub fn of(config: &RunConfig, key: &str) -> Option<AxisValue> {
        setting_info(key).map(|s| (s.get)(config))
    }

    /// Sets setting `key` of `config` to this value. Fails only if the value has the
    /// wrong type for the setting or the name is unknown (never for parsed sweeps).
    pub fn apply(&self, config: &mut RunConfig, key: &str) -> Result<(), String> {
        match setting_info(key) {
            Some(s) => (s.set)(config, self),
            None => Err(unknown_setting(key).into_text()),
        }
    }

    /// The value as TOML.
    pub fn to_toml(&self) -> toml::Value {
        match self {
            AxisValue::Bool(b) => toml::Value::Boolean(*b),
            AxisValue::Int(i) => toml::Value::Integer(i64::try_from(*i).unwrap_or(i64::MAX)),
            AxisValue::Float(v) => toml::Value::Float(*v),
            AxisValue::InitScale(InitScale::Value(v)) => toml::Value::Float(*v),
            AxisValue::InitScale(InitScale::Expr(e)) => toml::Value::String(e.clone()),
            AxisValue::Choice(name) => toml::Value::String(name.to_string()),
        }
    }
}

/// Sets one setting of `config` from a TOML value, with the checks of a sweep file:
/// `apply_setting(&mut c, "depth", &toml::Value::Integer(30))`. Handy for command-line
/// flags; see also [`apply_setting_text`].
pub fn apply_setting(config: &mut RunConfig, key: &str, value: &toml::Value) -> Result<(), String> {
    AxisValue::parse(key, value)?.apply(config, key)
}

/// Like [`apply_setting`], from text as typed on a command line: the text is read as a
/// TOML value (`20`, `1e-3`, `true`, `"adam"`), and otherwise taken as a string, so
/// `optimizer=adam` and `init_scale=1/sqrt(depth)` work without quotes.
pub fn apply_setting_text(config: &mut RunConfig, key: &str, text: &str) -> Result<(), String> {
    let value = text
        .trim()
        .parse::<toml::Value>()
        .unwrap_or_else(|_| toml::Value::String(text.trim().to_string()));
    apply_setting(config, key, &value)
}

/// The error for a name that is no setting, with a suggestion.
fn unknown_setting(key: &str) -> Problem {
    let mut p = Problem::new(format!("unknown setting `{key}`"));
    if EXECUTION_KEYS.contains(&key) {
        return Problem::new(format!(
            "{key} is an execution setting: it does not change what a run computes, so it is not a run setting"
        ))
        .help(format!("set {key} in [execution]"));
    }
    p.help = Some(match did_you_mean(key, &setting_names()) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("the settings are: {}", setting_names().join(", ")),
    });
    p
}

/// `found the string "twenty"`, `found the integer 1`, for type errors.
pub(crate) fn found(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("found the string {s:?}"),
        toml::Value::Integer(i) => format!("found the integer {i}"),
        toml::Value::Float(f) => format!("found the number {f}"),
        toml::Value::Boolean(b) => format!("found the boolean {b}"),
        toml::Value::Datetime(d) => format!("found the date {d}"),
        toml::Value::Array(_) => "found a list".to_string(),
        toml::Value::Table(_) => "found a table".to_string(),
    }
}

/// A TOML number as `f64` (an integer converted); `None` for any other value.
fn number(v: &toml::Value) -> Option<f64> {
    match v {
        toml::Value::Float(f) => Some(*f),
        toml::Value::Integer(i) => Some(*i as f64),
        _ => None,
    }
}

/// Reads a value of one setting and checks it, as far as a single value can be checked.
pub(crate) fn typed(info: &Setting, value: &toml::Value) -> Result<AxisValue, Problem> {
    let key = info.name;
    let wrong = |what: &str| {
        Problem::new(format!("{key} must be {what}, {}", found(value))).help(
            info.type_help
                .map_or_else(|| format!("write {key} = {}", info.example), String::from),
        )
    };
    let v = match info.kind {
        Kind::Count | Kind::Seed => match value {
            toml::Value::Integer(i) if *i < 0 => {
                return Err(Problem::new(format!(
                    "{key} = {i} is impossible: {key} cannot be negative"
                ))
                .help(format!(
                    "write a {} integer such as {key} = {}",
                    if info.kind == Kind::Seed { "non-negative" } else { "positive" },
                    info.example
                )));
            }
            toml::Value::Integer(i) => AxisValue::Int(*i as u64),
            toml::Value::Float(f) if f.fract() == 0.0 && f.is_finite() => {
                return Err(Problem::new(format!(
                    "{key} must be an integer, found the float {}",
                    value
                ))
                .help(format!("write {key} = {} (without the decimal point)", *f as i64)));
            }
            toml::Value::String(s) if s.trim().parse::<i64>().is_ok() => {
                return Err(Problem::new(format!(
                    "{key} must be an integer, {}",
                    found(value)
                ))
                .help(format!("remove the quotes: {key} = {}", s.trim())));
            }
            _ => return Err(wrong(&format!("an integer such as {}", info.example))),
        },
        Kind::Bool => match value {
            toml::Value::Boolean(b) => AxisValue::Bool(*b),
            _ => return Err(wrong("true or false")),
        },
        Kind::Float => match (number(value), value) {
            (Some(f), _) => AxisValue::Float(f),
            (None, toml::Value::String(s)) if s.trim().parse::<f64>().is_ok() => {
                return Err(Problem::new(format!(
                    "{key} must be a number, {}",
                    found(value)
                ))
                .help(format!("remove the quotes: {key} = {}", s.trim())));
            }
            _ => return Err(wrong("a number such as 1e-3")),
        },
        Kind::InitScale => match (number(value), value) {
            (Some(f), _) => AxisValue::InitScale(InitScale::from_value_named(key, f).map_err(|e| {
                Problem::new(e).help("write a positive number such as 1.0 or an expression such as \"1/sqrt(depth)\"")
            })?),
            (None, toml::Value::String(s)) => AxisValue::InitScale(InitScale::parse_named(key, s).map_err(|e| {
                Problem::new(e).help(format!("{key} is a positive number ({key} = 1.0) or an expression of depth in quotes ({key} = \"1/sqrt(depth)\")"))
            })?),
            _ => {
                return Err(wrong(
                    "a number or an expression of depth in quotes",
                ))
            }
        },
        Kind::Choice(names) => match value {
            toml::Value::String(s) => AxisValue::Choice(choice_text(names, s).map_err(|e| {
                let listed: Vec<String> = names.iter().map(|n| format!("{key} = \"{n}\"")).collect();
                Problem::new(e).help(format!("write {}", listed.join(" or ")))
            })?),
            _ => return Err(wrong(&listed(names))),
        },
    };
    check_alone(info, &v)?;
    Ok(v)
}

/// Checks what can be checked of one value on its own: applied to the default config
/// (which is valid), any `validate` error is this value's fault.
pub(crate) fn check_alone(info: &Setting, v: &AxisValue) -> Result<(), Problem> {
    let mut config = RunConfig::default();
    (info.set)(&mut config, v).map_err(Problem::new)?;
    config.validate().map_err(|e| {
        let help = match info.kind {
            Kind::Count => format!(
                "use a positive integer such as {} = {}",
                info.name, info.example
            ),
            _ => format!("for example {} = {}", info.name, info.example),
        };
        Problem::new(e).help(help)
    })
}
