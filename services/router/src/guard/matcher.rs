//! CEL match conditions: the `matchCondition.celExpressions` of a GKE
//! `GCPTrafficExtension` extension chain. See [`Matcher`].

use std::sync::{Arc, OnceLock};

use cel::common::traits::{Container, Indexer, Iterable, Sizer, Zeroer};
use cel::common::types::{CelBool, CelInt, CelMap, CelMapKey, CelString, MAP_TYPE, Type};
use cel::common::value::{CowVal, Val};
use cel::context::VariableResolver;
use cel::{Context, Env, ExecutionError, ParseError, Program, Value};

/// What a match condition sees of a request.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    /// The URL path, without the query, e.g. `/v1/chat/completions`.
    pub path: &'a str,
    /// The HTTP method, e.g. `POST`.
    pub method: &'a str,
    /// The request headers; `http` keeps their names in lower case.
    pub headers: &'a http::HeaderMap,
    /// The model the request asks for, when it names one.
    pub model: Option<&'a str>,
}

/// Why a match condition could not be compiled or evaluated.
///
/// `index` is the position of the expression in `celExpressions`.
#[derive(Debug, thiserror::Error)]
pub enum MatchError {
    /// `celExpressions` is empty: nothing to match with.
    #[error("celExpressions is empty: a match condition needs at least one celMatcher")]
    Empty,
    /// A syntax error, at a 1-based line and column (in characters) of the
    /// expression, e.g. `celExpressions[0]: 1:28: Syntax error: ... in
    /// request.path.startsWith("/"`.
    #[error("celExpressions[{index}]: {line}:{column}: {message} in {expression}")]
    Syntax {
        /// Position of the expression in `celExpressions`.
        index: usize,
        /// 1-based line inside the expression.
        line: usize,
        /// 1-based column, in characters, inside that line.
        column: usize,
        /// The parser's description, e.g. `Syntax error: mismatched input ...`.
        message: String,
        /// The expression as written.
        expression: String,
    },
    /// Evaluation raised an error or gave something other than a bool, e.g.
    /// `celExpressions[0]: celMatcher returned int, not bool`.
    #[error("celExpressions[{index}]: {message}")]
    Eval {
        /// Position of the expression in `celExpressions`.
        index: usize,
        /// What went wrong.
        message: String,
    },
}

/// A compiled match condition: true when any of its expressions is true.
///
/// `Send + Sync`: compile it once at start-up, with [`Matcher::new`], and
/// share it between requests, evaluated by [`Matcher::matches`].
///
/// Expressions see one variable, `request`, with the attributes of Service
/// Extensions' CEL matcher language that a gateway can fill in, and a model:
///
/// | attribute         | type                | value                                                          |
/// |-------------------|---------------------|----------------------------------------------------------------|
/// | `request.path`    | string              | the URL path                                                   |
/// | `request.method`  | string              | the HTTP method, e.g. `POST`                                   |
/// | `request.headers` | map(string, string) | lower-case names; a repeated header's values joined by `", "`  |
/// | `request.model`   | string              | the requested model, `""` when the request names none          |
///
/// An evaluation builds no CEL map or string up front: `request` is a view
/// borrowing the [`RequestView`], and `request.headers["x"]`,
/// `"x" in request.headers` and `size(request.headers)` read the
/// [`http::HeaderMap`] directly. Only iterating over the headers, or comparing
/// them whole, builds a CEL map, borrowing names and single values.
///
/// cel 0.15 compiles the pattern of `matches` on every call, some 12 µs for
/// `"^/v1/(chat/)?completions$"` against 0.2 µs for a `startsWith`: prefer
/// `startsWith`, `endsWith`, `contains` and `==` on hot paths.
pub struct Matcher {
    env: Arc<Env>,
    programs: Vec<Program>,
    expressions: Vec<String>,
}

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher")
            .field("expressions", &self.expressions)
            .finish_non_exhaustive()
    }
}

impl Matcher {
    /// Compiles `expressions`, the `celMatcher` strings of a
    /// `celExpressions` list, in order.
    ///
    /// The condition holds when ANY expression is true: the list is OR-ed.
    /// That is this crate's reading of GKE's `celExpressions`; the Network
    /// Services API underneath takes a single `celExpression` per chain, and
    /// Google's pages do not say how GKE joins a list into it.
    ///
    /// # Errors
    ///
    /// [`MatchError::Empty`] for an empty list, [`MatchError::Syntax`] for the
    /// first expression that does not parse.
    pub fn new(expressions: &[String]) -> Result<Self, MatchError> {
        if expressions.is_empty() {
            return Err(MatchError::Empty);
        }
        let env = Env::stdlib();
        let programs = expressions
            .iter()
            .enumerate()
            .map(|(index, source)| {
                env.compile(source)
                    .map_err(|errors| syntax_error(index, source, errors.errors.first()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            env: Arc::new(env),
            programs,
            expressions: expressions.to_vec(),
        })
    }

    /// Evaluates the condition for `request`.
    ///
    /// Expressions run in order and the first `true` wins, even if an earlier
    /// one raised an error: like CEL's own `||`, where `error || true` is
    /// `true`. With no `true`, the first error is returned, else `false`.
    ///
    /// Reading a header the request lacks, `request.headers["x-tenant"]`, is
    /// an error in CEL; guard it with `"x-tenant" in request.headers &&` for
    /// a plain `false`.
    ///
    /// # Errors
    ///
    /// [`MatchError::Eval`] when no expression is true and one raised an error
    /// or gave a non-bool. Envoy's CEL matcher counts that as no match; the
    /// caller decides.
    pub fn matches(&self, request: &RequestView<'_>) -> Result<bool, MatchError> {
        let resolver = RequestResolver {
            request: RequestVal::new(request),
        };
        let mut context = Context::with_env(Arc::clone(&self.env));
        context.set_variable_resolver(&resolver);

        let mut first_error = None;
        for (index, program) in self.programs.iter().enumerate() {
            let message = match Value::resolve_val(program.expression(), &context) {
                Ok(value) => match value.downcast_ref::<CelBool>() {
                    Some(matched) if *matched.inner() => return Ok(true),
                    Some(_) => continue,
                    None => format!("celMatcher returned {}, not bool", value.get_type().name()),
                },
                Err(error) => format!("celMatcher raised an error: {error}"),
            };
            first_error.get_or_insert(MatchError::Eval { index, message });
        }
        first_error.map_or(Ok(false), Err)
    }
}

/// The [`MatchError::Syntax`] for the first parse error of `source`.
///
/// cel reports `pos` as (1-based line, 1-based column in characters), except
/// for an error it cannot place, `(0, 0)`, and for its recursion limit, where
/// `pos` holds the character offsets where the rule starts and stops.
fn syntax_error(index: usize, source: &str, error: Option<&ParseError>) -> MatchError {
    let (line, column, message) = match error {
        Some(error) if error.msg.starts_with("Recursion limit") => {
            let (line, column) = line_column(source, error.pos.0);
            (line, column, error.msg.clone())
        }
        Some(error) => (
            usize::try_from(error.pos.0).unwrap_or(0).max(1),
            usize::try_from(error.pos.1).unwrap_or(0).max(1),
            error.msg.clone(),
        ),
        None => (1, 1, "Syntax error".to_owned()),
    };
    MatchError::Syntax {
        index,
        line,
        column,
        message,
        expression: source.to_owned(),
    }
}

/// The 1-based line and column of the character at `offset` in `source`.
fn line_column(source: &str, offset: isize) -> (usize, usize) {
    let offset = usize::try_from(offset).unwrap_or(0);
    let (mut line, mut column) = (1, 1);
    for character in source.chars().take(offset) {
        if character == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line, column)
}

/// Resolves the one variable expressions see, `request`.
struct RequestResolver<'a> {
    request: RequestVal<'a>,
}

impl VariableResolver for RequestResolver<'_> {
    fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
        (variable == "request").then_some(CowVal::Borrowed(&self.request))
    }
}

/// The CEL type of `request`, for `type(request)` and error messages.
static REQUEST_TYPE: Type = Type::new_unspecified_type("poolpilot.guard.Request");

/// `request`: its fields are read from the [`RequestView`] on access.
#[derive(Debug)]
struct RequestVal<'a> {
    view: RequestView<'a>,
    headers: HeadersVal<'a>,
}

impl<'a> RequestVal<'a> {
    fn new(view: &RequestView<'a>) -> Self {
        Self {
            view: *view,
            headers: HeadersVal::new(view.headers),
        }
    }
}

impl Val for RequestVal<'_> {
    fn get_type(&self) -> &Type {
        &REQUEST_TYPE
    }

    fn cel_type() -> &'static Type {
        &REQUEST_TYPE
    }

    fn as_indexer<'b, 'v>(&'b self) -> Option<&'b (dyn Indexer + 'v)>
    where
        Self: 'v,
    {
        Some(self)
    }

    fn clone_as_boxed<'v>(&self) -> Box<dyn Val + 'v>
    where
        Self: 'v,
    {
        Box::new(Self::new(&self.view))
    }
}

impl<'a> Indexer for RequestVal<'a> {
    fn get<'b, 'v>(&'b self, field: &dyn Val) -> Result<CowVal<'b, 'v>, ExecutionError>
    where
        Self: 'v,
    {
        let Some(field) = field.downcast_ref::<CelString>() else {
            return Err(ExecutionError::UnexpectedType {
                got: field.get_type().name().to_owned(),
                want: "string".to_owned(),
            });
        };
        let text = |value: &'a str| Ok(CowVal::owned(CelString::from(value)));
        match field.inner() {
            "path" => text(self.view.path),
            "method" => text(self.view.method),
            "model" => text(self.view.model.unwrap_or("")),
            "headers" => Ok(CowVal::Borrowed(&self.headers)),
            other => Err(ExecutionError::no_such_key(other)),
        }
    }

    fn steal<'v>(self: Box<Self>, field: &dyn Val) -> Result<Box<dyn Val + 'v>, ExecutionError>
    where
        Self: 'v,
    {
        self.get(field).map(CowVal::into_owned)
    }
}

/// `request.headers`, a `map(string, string)`.
///
/// `headers[name]`, `name in headers` and `size(headers)` read the
/// [`http::HeaderMap`] directly. Anything else, iterating (`exists`, `all`, ...)
/// or comparing it whole, works on a CEL map built from it on first use.
#[derive(Debug)]
struct HeadersVal<'a> {
    headers: &'a http::HeaderMap,
    map: OnceLock<CelMap<'a>>,
}

impl<'a> HeadersVal<'a> {
    fn new(headers: &'a http::HeaderMap) -> Self {
        Self {
            headers,
            map: OnceLock::new(),
        }
    }

    /// The value of header `name`, if `name` is a lower-case header name the
    /// request has.
    fn value(&self, name: &str) -> Option<std::borrow::Cow<'a, str>> {
        if name.bytes().any(|byte| byte.is_ascii_uppercase()) {
            return None;
        }
        joined(self.headers.get_all(name))
    }

    fn map(&self) -> &CelMap<'a> {
        self.map.get_or_init(|| {
            let map = self
                .headers
                .keys()
                .filter_map(|name| {
                    let value = joined(self.headers.get_all(name))?;
                    let value: Box<dyn Val + 'a> = Box::new(CelString::from(value));
                    Some((CelMapKey::from(name.as_str()), value))
                })
                .collect::<std::collections::HashMap<_, _>>();
            CelMap::from(map)
        })
    }
}

/// A header's values joined by `", "`, bytes that are not UTF-8 replaced by
/// U+FFFD; borrowed when there is one value and it is UTF-8.
fn joined(
    values: http::header::GetAll<'_, http::HeaderValue>,
) -> Option<std::borrow::Cow<'_, str>> {
    let mut values = values.iter();
    let mut value = String::from_utf8_lossy(values.next()?.as_bytes());
    for next in values {
        let joined = value.to_mut();
        joined.push_str(", ");
        joined.push_str(&String::from_utf8_lossy(next.as_bytes()));
    }
    Some(value)
}

impl Val for HeadersVal<'_> {
    fn get_type(&self) -> &Type {
        &MAP_TYPE
    }

    fn cel_type() -> &'static Type {
        &MAP_TYPE
    }

    fn as_container(&self) -> Option<&dyn Container> {
        Some(self)
    }

    fn as_indexer<'b, 'v>(&'b self) -> Option<&'b (dyn Indexer + 'v)>
    where
        Self: 'v,
    {
        Some(self)
    }

    fn as_iterable<'b, 'v>(&'b self) -> Option<&'b (dyn Iterable + 'v)>
    where
        Self: 'v,
    {
        Some(self.map())
    }

    fn as_sizer(&self) -> Option<&dyn Sizer> {
        Some(self)
    }

    fn as_zeroer(&self) -> Option<&dyn Zeroer> {
        Some(self)
    }

    fn equals(&self, other: &dyn Val) -> bool {
        self.map().equals(other)
    }

    fn clone_as_boxed<'v>(&self) -> Box<dyn Val + 'v>
    where
        Self: 'v,
    {
        Box::new(self.map().clone())
    }
}

impl Container for HeadersVal<'_> {
    fn contains(&self, key: &dyn Val) -> Result<bool, ExecutionError> {
        Ok(key
            .downcast_ref::<CelString>()
            .is_some_and(|name| self.value(name.inner()).is_some()))
    }
}

impl Indexer for HeadersVal<'_> {
    fn get<'b, 'v>(&'b self, key: &dyn Val) -> Result<CowVal<'b, 'v>, ExecutionError>
    where
        Self: 'v,
    {
        let Some(name) = key.downcast_ref::<CelString>() else {
            return Err(ExecutionError::UnexpectedType {
                got: key.get_type().name().to_owned(),
                want: "string".to_owned(),
            });
        };
        match self.value(name.inner()) {
            Some(value) => Ok(CowVal::owned(CelString::from(value))),
            None => Err(ExecutionError::no_such_key(name.inner())),
        }
    }

    fn steal<'v>(self: Box<Self>, key: &dyn Val) -> Result<Box<dyn Val + 'v>, ExecutionError>
    where
        Self: 'v,
    {
        self.get(key).map(CowVal::into_owned)
    }
}

impl Sizer for HeadersVal<'_> {
    fn size(&self) -> CelInt {
        CelInt::from(i64::try_from(self.headers.keys_len()).unwrap_or(i64::MAX))
    }
}

impl Zeroer for HeadersVal<'_> {
    fn is_zero_value(&self) -> bool {
        self.headers.is_empty()
    }
}

#[cfg(test)]
mod tests;
