//! Prometheus 2.42's template functions (`template/template.go`):
//! humanizers, string helpers, regexps, links, URL parts, `toTime`,
//! `parseDuration`. `query` is rejected by the parser; the helpers that
//! only make sense on query results accept only `nil`, failing as in Go.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::rc::Rc;

use super::Data;
use super::ftoa::format_float;
use super::funcs::{Func, Param, query_escape};
use super::regex::Regex;
use super::strconv::{can_backquote, parse_float, parse_float_error, quote};
use super::unicase::{to_lower, to_title, to_upper};
use super::value::{Timestamp, Value};

use Param::{Any, QueryResult, Sample, Str};

const NIL_DEREF: &str = "runtime error: invalid memory address or nil pointer dereference";

/// Prometheus's functions (without `query`).
pub(super) static FUNCS: [Func; 25] = [
    Func {
        name: "first",
        params: &[QueryResult],
        variadic: None,
        call: |_, _| Err("first() called on vector with no elements".to_owned()),
    },
    Func {
        name: "label",
        params: &[Str, Sample],
        variadic: None,
        call: |_, _| Err(NIL_DEREF.to_owned()),
    },
    Func {
        name: "value",
        params: &[Sample],
        variadic: None,
        call: |_, _| Err(NIL_DEREF.to_owned()),
    },
    Func {
        name: "strvalue",
        params: &[Sample],
        variadic: None,
        call: |_, _| Err(NIL_DEREF.to_owned()),
    },
    Func {
        name: "args",
        params: &[],
        variadic: Some(Any),
        call: args,
    },
    Func {
        name: "reReplaceAll",
        params: &[Str, Str, Str],
        variadic: None,
        call: re_replace_all,
    },
    Func {
        name: "safeHtml",
        params: &[Str],
        variadic: None,
        call: |_, a| Ok(Value::Html(text(&a, 0).to_owned().into())),
    },
    Func {
        name: "match",
        params: &[Str, Str],
        variadic: None,
        call: |_, a| {
            let re = Regex::new(text(&a, 0)).map_err(|e| e.to_string())?;
            Ok(Value::Bool(re.is_match(text(&a, 1))))
        },
    },
    Func {
        name: "title",
        params: &[Str],
        variadic: None,
        call: |_, a| Ok(Value::str(title(text(&a, 0)))),
    },
    Func {
        name: "toUpper",
        params: &[Str],
        variadic: None,
        call: |_, a| {
            Ok(Value::str(
                text(&a, 0).chars().map(to_upper).collect::<String>(),
            ))
        },
    },
    Func {
        name: "toLower",
        params: &[Str],
        variadic: None,
        call: |_, a| {
            Ok(Value::str(
                text(&a, 0).chars().map(to_lower).collect::<String>(),
            ))
        },
    },
    Func {
        name: "graphLink",
        params: &[Str],
        variadic: None,
        call: |_, a| {
            let expr = query_escape(text(&a, 0));
            Ok(Value::str(format!("/graph?g0.expr={expr}&g0.tab=0")))
        },
    },
    Func {
        name: "tableLink",
        params: &[Str],
        variadic: None,
        call: |_, a| {
            let expr = query_escape(text(&a, 0));
            Ok(Value::str(format!("/graph?g0.expr={expr}&g0.tab=1")))
        },
    },
    Func {
        name: "sortByLabel",
        params: &[Str, QueryResult],
        variadic: None,
        call: |_, _| Ok(Value::Vector),
    },
    Func {
        name: "stripPort",
        params: &[Str],
        variadic: None,
        call: |_, a| {
            let s = text(&a, 0);
            Ok(Value::str(
                split_host_port(s).map_or(s, |(h, _)| h).to_owned(),
            ))
        },
    },
    Func {
        name: "stripDomain",
        params: &[Str],
        variadic: None,
        call: |_, a| Ok(Value::str(strip_domain(text(&a, 0)))),
    },
    Func {
        name: "humanize",
        params: &[Any],
        variadic: None,
        call: |_, a| humanize(&a[0]).map(Value::str),
    },
    Func {
        name: "humanize1024",
        params: &[Any],
        variadic: None,
        call: |_, a| humanize1024(&a[0]).map(Value::str),
    },
    Func {
        name: "humanizeDuration",
        params: &[Any],
        variadic: None,
        call: |_, a| humanize_duration(&a[0]).map(Value::str),
    },
    Func {
        name: "humanizePercentage",
        params: &[Any],
        variadic: None,
        call: |_, a| Ok(Value::str(format!("{}%", g4(to_float(&a[0])? * 100.0)))),
    },
    Func {
        name: "humanizeTimestamp",
        params: &[Any],
        variadic: None,
        call: |_, a| {
            let v = to_float(&a[0])?;
            match float_to_time(v)? {
                Some(t) => Ok(Value::str(t.to_string())),
                None => Ok(Value::str(g4(v))),
            }
        },
    },
    Func {
        name: "toTime",
        params: &[Any],
        variadic: None,
        call: |_, a| match float_to_time(to_float(&a[0])?)? {
            Some(t) => Ok(Value::Time(t)),
            None => Err("value is NaN or Inf".to_owned()),
        },
    },
    Func {
        name: "pathPrefix",
        params: &[],
        variadic: None,
        call: |d, _| Ok(Value::str(url_path(d.external_url))),
    },
    Func {
        name: "externalURL",
        params: &[],
        variadic: None,
        call: |d: &Data<'_>, _| Ok(Value::str(d.external_url.to_owned())),
    },
    Func {
        name: "parseDuration",
        params: &[Str],
        variadic: None,
        call: |_, a| parse_duration(text(&a, 0)).map(Value::Float),
    },
];

/// The text of string argument `i` (already type-checked by the executor).
fn text<'v>(args: &'v [Value<'_>], i: usize) -> &'v str {
    args.get(i).and_then(Value::as_str).unwrap_or("")
}

fn args<'a>(_: &Data<'_>, args: Vec<Value<'a>>) -> Result<Value<'a>, String> {
    let map: BTreeMap<String, Value<'a>> = args
        .into_iter()
        .enumerate()
        .map(|(i, v)| (format!("arg{i}"), v))
        .collect();
    Ok(Value::Args(Rc::new(map)))
}

fn re_replace_all<'a>(_: &Data<'_>, a: Vec<Value<'a>>) -> Result<Value<'a>, String> {
    let pattern = text(&a, 0);
    let re = Regex::new(pattern).map_err(|e| {
        let quoted = if can_backquote(pattern) {
            format!("`{pattern}`")
        } else {
            quote(pattern)
        };
        format!("regexp: Compile({quoted}): {e}")
    })?;
    Ok(Value::str(re.replace_all(text(&a, 2), text(&a, 1))))
}

/// Prometheus's `convertToFloat`.
pub(super) fn to_float(v: &Value<'_>) -> Result<f64, String> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::Str(s) => parse_float(s).map_err(|e| parse_float_error(s, e)),
        v => Err(format!("can't convert {} to float", v.type_name())),
    }
}

/// `fmt.Sprintf("%.4g", v)`.
fn g4(v: f64) -> String {
    format_float(v, 'g', Some(4))
}

fn humanize(v: &Value<'_>) -> Result<String, String> {
    let mut v = to_float(v)?;
    if v == 0.0 || !v.is_finite() {
        return Ok(g4(v));
    }
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
    } else {
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    Ok(format!("{}{prefix}", g4(v)))
}

fn humanize1024(v: &Value<'_>) -> Result<String, String> {
    let mut v = to_float(v)?;
    if v.abs() <= 1.0 || !v.is_finite() {
        return Ok(g4(v));
    }
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    Ok(format!("{}{prefix}", g4(v)))
}

/// Go's `int64(v)` on amd64: out-of-range values become `math.MinInt64`.
fn go_int64(v: f64) -> i64 {
    let two_63 = -(i64::MIN as f64);
    if !(-two_63..two_63).contains(&v) {
        i64::MIN
    } else {
        v as i64
    }
}

/// Prometheus 2.42's `humanizeDuration`.
fn humanize_duration(v: &Value<'_>) -> Result<String, String> {
    let mut v = to_float(v)?;
    if !v.is_finite() {
        return Ok(g4(v));
    }
    if v == 0.0 {
        return Ok(format!("{}s", g4(v)));
    }
    if v.abs() >= 1.0 {
        let mut sign = "";
        if v < 0.0 {
            sign = "-";
            v = -v;
        }
        let duration = go_int64(v);
        let seconds = duration % 60;
        let minutes = (duration / 60) % 60;
        let hours = (duration / 60 / 60) % 24;
        let days = duration / 60 / 60 / 24;
        return Ok(if days != 0 {
            format!("{sign}{days}d {hours}h {minutes}m {seconds}s")
        } else if hours != 0 {
            format!("{sign}{hours}h {minutes}m {seconds}s")
        } else if minutes != 0 {
            format!("{sign}{minutes}m {seconds}s")
        } else {
            format!("{sign}{}s", g4(v))
        });
    }
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    Ok(format!("{}{prefix}s", g4(v)))
}

/// Prometheus's `floatToTime`: `None` for NaN/Inf.
fn float_to_time(v: f64) -> Result<Option<Timestamp>, String> {
    if !v.is_finite() {
        return Ok(None);
    }
    let ns = v * 1e9;
    if ns > i64::MAX as f64 || ns < i64::MIN as f64 {
        return Err(format!(
            "{} cannot be represented as a nanoseconds timestamp since it overflows int64",
            super::go_float(v)
        ));
    }
    Ok(Some(Timestamp {
        millis: go_int64(ns) / 1_000_000,
    }))
}

/// Go's `net.SplitHostPort`.
fn split_host_port(s: &str) -> Option<(&str, &str)> {
    let i = s.rfind(':')?;
    let (host, j, k) = if s.starts_with('[') {
        let end = s.find(']')?;
        if end + 1 != i {
            return None;
        }
        (&s[1..end], 1, end + 1)
    } else {
        let host = &s[..i];
        if host.contains(':') {
            return None;
        }
        (host, 0, 0)
    };
    if s[j..].contains('[') || s[k..].contains(']') {
        return None;
    }
    Some((host, &s[i + 1..]))
}

/// Prometheus's `stripDomain`.
fn strip_domain(host_port: &str) -> String {
    let (host, port) = split_host_port(host_port).unwrap_or((host_port, ""));
    if host.parse::<IpAddr>().is_ok() {
        return host_port.to_owned();
    }
    let host = host.split('.').next().unwrap_or("");
    if port.is_empty() {
        return host.to_owned();
    }
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Go's `url.URL.Path` of the external URL (percent-decoded).
fn url_path(url: &str) -> String {
    let rest = url.split(['?', '#']).next().unwrap_or("");
    let path = match rest.find("://") {
        Some(i) => rest[i + 3..].find('/').map_or("", |j| &rest[i + 3 + j..]),
        None => rest,
    };
    percent_decode(path)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Prometheus 2.42's `parseDuration`: `model.ParseDuration`, in seconds as Go
/// computes them (`float64(time.Duration(v)) / float64(time.Second)`, from nanoseconds).
fn parse_duration(s: &str) -> Result<f64, String> {
    let d = crate::unittest::Duration::parse(s).map_err(|e| e.to_string())?;
    // The parser refuses more than `i64::MAX` nanoseconds, so this cannot overflow.
    let nanos = d.as_millis() * 1_000_000;
    Ok(nanos as f64 / 1e9)
}

/// Go's `strings.Title` (deprecated but what Prometheus 2.42 uses).
fn title(s: &str) -> String {
    let mut prev = ' ';
    s.chars()
        .map(|c| {
            let out = if is_separator(prev) { to_title(c) } else { c };
            prev = c;
            out
        })
        .collect()
}

fn is_separator(c: char) -> bool {
    if c.is_ascii() {
        return !(c.is_ascii_alphanumeric() || c == '_');
    }
    if c.is_alphabetic() || c.is_numeric() {
        return false;
    }
    c.is_whitespace()
}
