//! The function table and Go's `text/template` builtins (`and`, `or`,
//! `not`, `len`, `index`, `slice`, `print*`, `html`, `js`, `urlquery`,
//! comparisons), with Go 1.19's argument typing and error texts.

use std::borrow::Cow;

use super::Data;
use super::fmt::{sprint, sprintf, sprintln};
use super::prometheus;
use super::value::{BasicKind, Value};

/// A parameter's Go type, which decides how arguments are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Param {
    /// `string`: only strings (literals or values of type `string`).
    Str,
    /// `interface {}`: anything.
    Any,
    /// `reflect.Value` (builtins): anything.
    Reflect,
    /// `template.queryResult` (query helpers): only `nil`.
    QueryResult,
    /// `*template.sample` (query helpers): only `nil`.
    Sample,
}

impl Param {
    /// Go's name of the type.
    pub(super) fn go_type(self) -> &'static str {
        match self {
            Param::Str => "string",
            Param::Any => "interface {}",
            Param::Reflect => "reflect.Value",
            Param::QueryResult => "template.queryResult",
            Param::Sample => "*template.sample",
        }
    }
}

/// The Rust side of a template function; `Err` is the Go error text.
pub(super) type Impl = for<'a> fn(&Data<'_>, Vec<Value<'a>>) -> Result<Value<'a>, String>;

/// A function callable from templates.
#[derive(Debug)]
pub(super) struct Func {
    pub(super) name: &'static str,
    pub(super) params: &'static [Param],
    pub(super) variadic: Option<Param>,
    pub(super) call: Impl,
}

impl Func {
    /// `and`/`or`, which short-circuit and are evaluated by the executor.
    pub(super) fn is_and_or(&self) -> bool {
        matches!(self.name, "and" | "or")
    }
}

const fn func(
    name: &'static str,
    params: &'static [Param],
    variadic: Option<Param>,
    call: Impl,
) -> Func {
    Func {
        name,
        params,
        variadic,
        call,
    }
}

use Param::{Any, Reflect};

/// Go's builtins.
static BUILTINS: [Func; 20] = [
    func("and", &[Reflect], Some(Reflect), last_arg),
    func("or", &[Reflect], Some(Reflect), last_arg),
    func("call", &[Reflect], Some(Reflect), |d, a| {
        call(d, concrete(a))
    }),
    func("html", &[], Some(Any), html),
    func("index", &[Reflect], Some(Reflect), index),
    func("slice", &[Reflect], Some(Reflect), |d, a| {
        slice(d, concrete(a))
    }),
    func("js", &[], Some(Any), js),
    func("len", &[Reflect], None, length),
    func("not", &[Reflect], None, |d, a| not(d, concrete(a))),
    func("print", &[], Some(Any), |_, a| Ok(Value::str(sprint(&a)))),
    func("printf", &[Param::Str], Some(Any), printf),
    func("println", &[], Some(Any), |_, a| {
        Ok(Value::str(sprintln(&a)))
    }),
    func("urlquery", &[], Some(Any), urlquery),
    func("eq", &[Reflect], Some(Reflect), |_, a| {
        let a = concrete(a);
        eq(&a[0], &a[1..]).map(Value::Bool)
    }),
    func("ge", &[Reflect, Reflect], None, |_, a| {
        let a = concrete(a);
        lt(&a[0], &a[1]).map(|b| Value::Bool(!b))
    }),
    func("gt", &[Reflect, Reflect], None, |_, a| {
        let a = concrete(a);
        le(&a[0], &a[1]).map(|b| Value::Bool(!b))
    }),
    func("le", &[Reflect, Reflect], None, |_, a| {
        let a = concrete(a);
        le(&a[0], &a[1]).map(Value::Bool)
    }),
    func("lt", &[Reflect, Reflect], None, |_, a| {
        let a = concrete(a);
        lt(&a[0], &a[1]).map(Value::Bool)
    }),
    func("ne", &[Reflect, Reflect], None, |_, a| {
        let a = concrete(a);
        eq(&a[0], &a[1..]).map(|b| Value::Bool(!b))
    }),
    func("not", &[Reflect], None, |d, a| not(d, concrete(a))),
];

/// Finds a function by name: Prometheus's first, then Go's builtins.
pub(super) fn lookup(name: &str) -> Option<&'static Func> {
    prometheus::FUNCS
        .iter()
        .chain(BUILTINS.iter())
        .find(|f| f.name == name)
}

/// Go's `indirectInterface` on every argument.
fn concrete(args: Vec<Value<'_>>) -> Vec<Value<'_>> {
    args.into_iter().map(Value::concrete).collect()
}

fn last_arg<'a>(_: &Data<'_>, mut args: Vec<Value<'a>>) -> Result<Value<'a>, String> {
    Ok(args.pop().unwrap_or(Value::Nil))
}

fn call<'a>(_: &Data<'_>, args: Vec<Value<'a>>) -> Result<Value<'a>, String> {
    match args.first() {
        None | Some(Value::Nil) => Err("call of nil".to_owned()),
        Some(v) => Err(format!("non-function of type {}", v.type_name())),
    }
}

fn not<'a>(_: &Data<'_>, args: Vec<Value<'a>>) -> Result<Value<'a>, String> {
    Ok(Value::Bool(!args.first().is_some_and(Value::truth)))
}

fn printf<'a>(_: &Data<'_>, args: Vec<Value<'a>>) -> Result<Value<'a>, String> {
    let format = args.first().and_then(Value::as_str).unwrap_or("");
    Ok(Value::str(sprintf(format, &args[1..])))
}

/// Go's `evalArgs`: `fmt.Sprint` of the arguments, nil printing `<no value>`.
fn eval_args(args: Vec<Value<'_>>) -> String {
    if let [Value::Str(s)] = args.as_slice() {
        return s.to_string();
    }
    let args: Vec<Value<'_>> = args
        .into_iter()
        .map(|a| match a {
            Value::Nil => Value::str("<no value>"),
            a => a,
        })
        .collect();
    sprint(&args)
}

/// Go's `template.HTMLEscapeString`.
pub(super) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push('\u{FFFD}'),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

fn html<'a>(_: &Data<'_>, args: Vec<Value<'a>>) -> Result<Value<'a>, String> {
    Ok(Value::str(html_escape(&eval_args(args))))
}

/// Go's `template.JSEscapeString`.
fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if c < ' ' => out.push_str(&format!("\\u00{:02X}", c as u32)),
            c if c.is_ascii() || super::strconv::is_print(c) => out.push(c),
            c => out.push_str(&format!("\\u{:04X}", c as u32)),
        }
    }
    out
}

fn js<'a>(_: &Data<'_>, args: Vec<Value<'a>>) -> Result<Value<'a>, String> {
    Ok(Value::str(js_escape(&eval_args(args))))
}

/// Go's `url.QueryEscape`.
pub(crate) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char);
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn urlquery<'a>(_: &Data<'_>, args: Vec<Value<'a>>) -> Result<Value<'a>, String> {
    Ok(Value::str(query_escape(&eval_args(args))))
}

/// Go's `len`.
fn length<'a>(_: &Data<'_>, args: Vec<Value<'a>>) -> Result<Value<'a>, String> {
    let item = match args.into_iter().next() {
        Some(Value::Iface(None)) => return Err("len of nil pointer".to_owned()),
        Some(v) => v.concrete(),
        None => Value::Nil,
    };
    let n = match &item {
        Value::Str(s) | Value::Html(s) => s.len(),
        Value::Labels(m) => m.len(),
        Value::Args(m) => m.len(),
        Value::Vector => 0,
        Value::Nil => return Err("reflect: call of reflect.Value.Type on zero Value".to_owned()),
        Value::Time(_) => return Err("len of type time.Time".to_owned()),
        v => return Err(format!("len of type {}", v.type_name())),
    };
    Ok(Value::Int(n as i64))
}

/// Go's `indexArg`: an integer index within `0..=cap`.
fn index_arg(index: &Value<'_>, cap: usize) -> Result<usize, String> {
    let x = match index {
        Value::Int(i) => *i,
        Value::Byte(b) => i64::from(*b),
        Value::Nil => return Err("cannot index slice/array with nil".to_owned()),
        v => {
            return Err(format!(
                "cannot index slice/array with type {}",
                v.type_name()
            ));
        }
    };
    match usize::try_from(x) {
        Ok(x) if x <= cap => Ok(x),
        _ => Err(format!("index out of range: {x}")),
    }
}

/// Go's `prepareArg` for a `string` map key.
fn map_key<'v>(key: &'v Value<'_>) -> Result<&'v str, String> {
    match key {
        Value::Str(s) => Ok(s),
        Value::Nil => Err("value is nil; should be of type string".to_owned()),
        v => Err(format!(
            "value has type {}; should be string",
            v.type_name()
        )),
    }
}

/// Go's `index`.
fn index<'a>(_: &Data<'_>, args: Vec<Value<'a>>) -> Result<Value<'a>, String> {
    let mut args = args.into_iter();
    let mut item = args.next().unwrap_or(Value::Nil).concrete();
    if matches!(item, Value::Nil) {
        return Err("index of untyped nil".to_owned());
    }
    for index in args {
        let index = index.concrete();
        // Go's `indirect`: look into (non-nil) interfaces.
        item = match item.concrete() {
            Value::Nil => return Err("index of nil pointer".to_owned()),
            Value::Str(s) | Value::Html(s) => {
                let x = index_arg(&index, s.len())?;
                match s.as_bytes().get(x) {
                    Some(&b) => Value::Byte(b),
                    None => return Err("reflect: string index out of range".to_owned()),
                }
            }
            Value::Vector => {
                index_arg(&index, 0)?;
                return Err("reflect: slice index out of range".to_owned());
            }
            Value::Labels(m) => {
                let key = map_key(&index)?;
                Value::str(m.get(key).map_or("", String::as_str))
            }
            Value::Args(m) => Value::iface(m.get(map_key(&index)?)),
            Value::Time(_) => return Err("can't index item of type time.Time".to_owned()),
            v => return Err(format!("can't index item of type {}", v.type_name())),
        };
    }
    Ok(item)
}

/// Go's `slice` (strings only; slices of other types cannot occur here).
fn slice<'a>(_: &Data<'_>, args: Vec<Value<'a>>) -> Result<Value<'a>, String> {
    let mut args = args.into_iter();
    let item = args.next().unwrap_or(Value::Nil);
    let indexes: Vec<Value<'a>> = args.collect();
    if matches!(item, Value::Nil) {
        return Err("slice of untyped nil".to_owned());
    }
    if indexes.len() > 3 {
        return Err(format!("too many slice indexes: {}", indexes.len()));
    }
    let (s, html) = match item {
        Value::Str(s) => (s, false),
        Value::Html(s) => (s, true),
        Value::Vector => {
            for i in &indexes {
                index_arg(i, 0)?;
            }
            return Ok(Value::Vector);
        }
        Value::Time(_) => return Err("can't slice item of type time.Time".to_owned()),
        v => return Err(format!("can't slice item of type {}", v.type_name())),
    };
    if indexes.len() == 3 {
        return Err("cannot 3-index slice a string".to_owned());
    }
    let mut idx = [0, s.len()];
    for (i, index) in indexes.iter().enumerate() {
        idx[i] = index_arg(index, s.len())?;
    }
    if idx[0] > idx[1] {
        return Err(format!("invalid slice index: {} > {}", idx[0], idx[1]));
    }
    // Go slices bytes; a cut through a UTF-8 sequence is repaired lossily.
    let part = String::from_utf8_lossy(&s.as_bytes()[idx[0]..idx[1]]).into_owned();
    Ok(if html {
        Value::Html(Cow::Owned(part))
    } else {
        Value::str(part)
    })
}

/// Go's `errBadComparison` (Go 1.19 prints no types).
const BAD_COMPARISON: &str = "incompatible types for comparison";
/// Go's `errBadComparisonType`.
const BAD_COMPARISON_TYPE: &str = "invalid type for comparison";

/// Equality of two values of the same basic kind, or across int/uint.
fn basic_eq(a: &Value<'_>, b: &Value<'_>) -> Option<bool> {
    Some(match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Byte(x), Value::Byte(y)) => x == y,
        (Value::Int(x), Value::Byte(y)) | (Value::Byte(y), Value::Int(x)) => *x == i64::from(*y),
        (Value::Float(x), Value::Float(y)) => x == y,
        _ => return a.as_str().zip(b.as_str()).map(|(x, y)| x == y),
    })
}

/// Go's `reflect.Kind` name class of non-basic values, for `canCompare`.
fn reflect_kind(v: &Value<'_>) -> u8 {
    match v {
        Value::Nil => 0,
        Value::Labels(_) | Value::Args(_) => 1,
        Value::Data(_) => 2,
        Value::Time(_) => 3,
        Value::Vector => 4,
        _ => 5,
    }
}

/// Go's `isNil` (nil slices count; maps here never are nil).
fn is_nil(v: &Value<'_>) -> bool {
    matches!(v, Value::Nil | Value::Vector)
}

/// Go 1.19's `eq`: `a == b || a == c || …`.
fn eq(a: &Value<'_>, others: &[Value<'_>]) -> Result<bool, String> {
    if others.is_empty() {
        return Err("missing argument for comparison".to_owned());
    }
    let k1 = a.basic_kind();
    for b in others {
        let k2 = b.basic_kind();
        let truth = if k1 != k2 {
            match (k1, k2) {
                (BasicKind::Int, BasicKind::Uint) | (BasicKind::Uint, BasicKind::Int) => {
                    basic_eq(a, b).unwrap_or(false)
                }
                _ if matches!(a, Value::Nil) || matches!(b, Value::Nil) => false,
                _ => return Err(BAD_COMPARISON.to_owned()),
            }
        } else if k1 != BasicKind::Invalid {
            basic_eq(a, b).unwrap_or(false)
        } else {
            let (ka, kb) = (reflect_kind(a), reflect_kind(b));
            if ka != kb && ka != 0 && kb != 0 {
                return Err(sprintf(
                    "non-comparable types %s: %v, %s: %v",
                    &[
                        a.clone(),
                        Value::str(a.type_name()),
                        Value::str(b.type_name()),
                        b.clone(),
                    ],
                ));
            }
            if is_nil(a) || is_nil(b) {
                is_nil(a) == is_nil(b)
            } else if !b.comparable() {
                return Err(sprintf(
                    "non-comparable type %s: %v",
                    &[b.clone(), Value::str(b.type_name())],
                ));
            } else {
                // Only `*time.Time` is left: pointers from different calls.
                false
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Go 1.19's `lt`.
fn lt(a: &Value<'_>, b: &Value<'_>) -> Result<bool, String> {
    let k1 = a.basic_kind();
    let k2 = b.basic_kind();
    if k1 == BasicKind::Invalid || k2 == BasicKind::Invalid {
        return Err(BAD_COMPARISON_TYPE.to_owned());
    }
    Ok(match (a, b) {
        (Value::Int(x), Value::Int(y)) => x < y,
        (Value::Byte(x), Value::Byte(y)) => x < y,
        (Value::Int(x), Value::Byte(y)) => *x < i64::from(*y),
        (Value::Byte(x), Value::Int(y)) => i64::from(*x) < *y,
        (Value::Float(x), Value::Float(y)) => x < y,
        (Value::Bool(_), Value::Bool(_)) => return Err(BAD_COMPARISON_TYPE.to_owned()),
        _ => match a.as_str().zip(b.as_str()) {
            Some((x, y)) => x < y,
            None => return Err(BAD_COMPARISON.to_owned()),
        },
    })
}

/// Go's `le`: `lt || eq`.
fn le(a: &Value<'_>, b: &Value<'_>) -> Result<bool, String> {
    if lt(a, b)? {
        return Ok(true);
    }
    eq(a, std::slice::from_ref(b))
}
