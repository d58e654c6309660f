//! Dynamically typed template values, modelled on the Go types a
//! Prometheus alert template can meet (`string`, `float64`, `int`, `bool`,
//! `map[string]string`, …), with Go's type names and truth rules.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use super::Data;

/// Go's type string for the alert template data struct.
pub(super) const DATA_TYPE: &str = "struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value float64 }";

/// A value during template execution. `'a` is the lifetime of the parsed
/// template and of the alert data, whose strings are borrowed, not copied.
#[derive(Clone, Debug)]
pub(super) enum Value<'a> {
    /// Go's invalid `reflect.Value`: a missing value or an untyped `nil`.
    Nil,
    /// `bool`
    Bool(bool),
    /// `int` (64 bits, as on Prometheus's platforms)
    Int(i64),
    /// `uint8`, from indexing a string
    Byte(u8),
    /// `float64`
    Float(f64),
    /// `string`
    Str(Cow<'a, str>),
    /// `html/template.HTML`, from `safeHtml`
    Html(Cow<'a, str>),
    /// `map[string]string`: the alert's labels or external labels
    Labels(&'a BTreeMap<String, String>),
    /// `map[string]interface {}`, from `args`
    Args(Rc<BTreeMap<String, Value<'a>>>),
    /// `*time.Time`, from `toTime`
    Time(Timestamp),
    /// `template.queryResult`; always empty, as queries are not supported
    Vector,
    /// the template's data (dot at the top level)
    Data(&'a Data<'a>),
    /// An `interface {}` value, as read from an `args` map: its dynamic
    /// value, `None` being a nil interface. Pipelines unwrap it.
    Iface(Option<Rc<Value<'a>>>),
}

/// Go's `reflect.Kind` classes used by the comparison builtins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BasicKind {
    Invalid,
    Bool,
    Int,
    Uint,
    Float,
    String,
}

impl<'a> Value<'a> {
    /// A string value borrowing or owning its text.
    pub(super) fn str(s: impl Into<Cow<'a, str>>) -> Self {
        Value::Str(s.into())
    }

    /// An `interface {}` holding `v` (a nil one for `None` or nil).
    pub(super) fn iface(v: Option<&Value<'a>>) -> Self {
        match v {
            None | Some(Value::Nil) => Value::Iface(None),
            Some(v) => Value::Iface(Some(Rc::new(v.clone()))),
        }
    }

    /// Go's `indirectInterface`: the dynamic value of an interface.
    pub(super) fn concrete(self) -> Self {
        match self {
            Value::Iface(None) => Value::Nil,
            Value::Iface(Some(v)) => Rc::unwrap_or_clone(v),
            v => v,
        }
    }

    /// Go's `reflect.Type.String()` of the value (`<nil>` for nil).
    pub(super) fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Byte(_) => "uint8",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::Html(_) => "template.HTML",
            Value::Labels(_) => "map[string]string",
            Value::Args(_) => "map[string]interface {}",
            Value::Time(_) => "*time.Time",
            Value::Vector => "template.queryResult",
            Value::Data(_) => DATA_TYPE,
            Value::Iface(_) => "interface {}",
        }
    }

    /// Whether Go's `fmt` treats the value as a string operand (kind string).
    pub(super) fn is_string_kind(&self) -> bool {
        matches!(self, Value::Str(_) | Value::Html(_))
    }

    /// The text of a string-kinded value.
    pub(super) fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::Html(s) => Some(s),
            _ => None,
        }
    }

    /// Go's `isTrue`: the truth of a value in `if`, `with`, `and`, `or`, `not`.
    pub(super) fn truth(&self) -> bool {
        match self {
            Value::Nil | Value::Vector => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Byte(b) => *b != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) | Value::Html(s) => !s.is_empty(),
            Value::Labels(m) => !m.is_empty(),
            Value::Args(m) => !m.is_empty(),
            Value::Time(_) | Value::Data(_) => true,
            Value::Iface(v) => v.as_deref().is_some_and(Value::truth),
        }
    }

    /// Go's `basicKind` used by `eq`, `lt` and friends.
    pub(super) fn basic_kind(&self) -> BasicKind {
        match self {
            Value::Bool(_) => BasicKind::Bool,
            Value::Int(_) => BasicKind::Int,
            Value::Byte(_) => BasicKind::Uint,
            Value::Float(_) => BasicKind::Float,
            Value::Str(_) | Value::Html(_) => BasicKind::String,
            _ => BasicKind::Invalid,
        }
    }

    /// Whether Go's `==` is defined on the value's type.
    pub(super) fn comparable(&self) -> bool {
        !matches!(
            self,
            Value::Labels(_) | Value::Args(_) | Value::Vector | Value::Data(_)
        )
    }
}

/// A `time.Time` in UTC with millisecond precision, as Prometheus builds
/// them (`model.Time(…).Time().UTC()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Timestamp {
    /// Milliseconds since the Unix epoch.
    pub(super) millis: i64,
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day), by Howard
/// Hinnant's `civil_from_days` (also PromQL's calendar functions).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl Timestamp {
    fn parts(&self) -> (i64, u32, u32, i64, i64, i64, i64) {
        let secs = self.millis.div_euclid(1000);
        let millis = self.millis.rem_euclid(1000);
        let sod = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        (
            year,
            month,
            day,
            sod / 3600,
            sod / 60 % 60,
            sod % 60,
            millis,
        )
    }

    /// Go's `time.Time.GoString()` (what `%#v` prints).
    pub(super) fn go_string(&self) -> String {
        const MONTHS: [&str; 12] = [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ];
        let (year, month, day, h, m, s, ms) = self.parts();
        let month = MONTHS[(month as usize).clamp(1, 12) - 1];
        format!(
            "time.Date({year}, time.{month}, {day}, {h}, {m}, {s}, {}, time.UTC)",
            ms * 1_000_000
        )
    }
}

impl fmt::Display for Timestamp {
    /// Go's `time.Time.String()`: `2006-01-02 15:04:05.999999999 -0700 MST`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day, h, m, s, millis) = self.parts();
        if year < 0 {
            write!(f, "-{:04}", -year)?;
        } else {
            write!(f, "{year:04}")?;
        }
        write!(f, "-{month:02}-{day:02} {h:02}:{m:02}:{s:02}")?;
        if millis != 0 {
            let frac = format!("{millis:03}");
            write!(f, ".{}", frac.trim_end_matches('0'))?;
        }
        f.write_str(" +0000 UTC")
    }
}
