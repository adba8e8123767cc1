//! What every run setting's declaration gives the rest of the program: its [`Kind`] of
//! value and [`SettingValue`] conversions, the [`Setting`] descriptor the sweep parser,
//! the flags, the tables and `resweep compare` read, and [`AxisValue`], one value of an
//! axis. The declarations themselves are the `run_settings!` table in `config/mod.rs`.

use super::*;

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
    /// One of a few names ([`Choice`]: `"adam"` or `"sgd"`, an activation, ...).
    Choice(&'static [&'static str]),
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

impl<T: Choice + PartialEq + Serialize> SettingValue for T {
    const KIND: Kind = Kind::Choice(T::NAMES);
    fn to_axis(&self) -> AxisValue {
        AxisValue::Choice(self.name())
    }
    fn from_axis(v: &AxisValue) -> Option<Result<Self, String>> {
        match v {
            AxisValue::Choice(name) => T::from_name(name).map(Ok),
            _ => None,
        }
    }
    fn flag_text(&self) -> String {
        self.name().to_string()
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
    pub(super) check_type: fn(&C) -> Result<(), String>,
    pub(super) check: fn(&C) -> Result<(), String>,
    /// Whether the setting means anything for a config (`momentum` only under SGD); the
    /// runs table holds null where it does not. The value still enters the run's id.
    pub applies: fn(&C) -> bool,
    pub(super) json: fn(&C) -> serde_json::Value,
    pub(super) is_default: fn(&C) -> bool,
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
pub(super) fn at_most(name: &str, v: usize, max: usize) -> Result<(), String> {
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
    /// A [`Kind::Choice`] setting: one of its names.
    Choice(&'static str),
}

impl fmt::Display for AxisValue {
    /// As it would be written in a sweep file: `true`, `20`, `0.001`, `"1/sqrt(depth)"`,
    /// `1`, `"adam"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AxisValue::Bool(b) => write!(f, "{b}"),
            AxisValue::Int(i) => write!(f, "{i}"),
            // Always a TOML float (`0.0`, not `0`, which would read back as an integer).
            AxisValue::Float(v) => {
                let text = format::exact(*v);
                if text.contains(['.', 'e', 'E', 'n', 'i']) {
                    f.write_str(&text)
                } else {
                    write!(f, "{text}.0")
                }
            }
            AxisValue::InitScale(InitScale::Value(v)) => f.write_str(&format::compact(*v)),
            AxisValue::InitScale(InitScale::Expr(e)) => write!(f, "\"{e}\""),
            AxisValue::Choice(name) => write!(f, "\"{name}\""),
        }
    }
}

impl Kind {
    /// Reads a value of this kind from command-line text (`resweep train` leaves init
    /// scales and optimizers as text, so that their errors name the flag).
    pub fn parse_text(self, name: &str, text: &str) -> Result<AxisValue, String> {
        match self {
            Kind::InitScale => InitScale::parse_named(name, text).map(AxisValue::InitScale),
            Kind::Choice(names) => choice_text(names, text).map(AxisValue::Choice),
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

/// The name among `names` that `text` writes, or the error of an unknown name (with a
/// suggestion when one is close).
pub fn choice_text(names: &'static [&'static str], text: &str) -> Result<&'static str, String> {
    let text = text.trim();
    names.iter().copied().find(|n| *n == text).ok_or_else(|| {
        let what = SETTINGS
            .iter()
            .find(|s| s.kind == Kind::Choice(names))
            .map_or("value", |s| s.name);
        let mut message = format!("unknown {what} \"{text}\": expected {}", listed(names));
        if let Some(near) = closest(text, names) {
            message.push_str(&format!(" (did you mean \"{near}\"?)"));
        }
        message
    })
}
