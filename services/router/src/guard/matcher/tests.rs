use http::{HeaderMap, HeaderValue};

use super::{MatchError, Matcher, RequestView};

/// The seed's traffic extension; from the repository root it is
/// `../shared/seed/gcp-traffic-extension.yaml`.
const SEED_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/seed/gcp-traffic-extension.yaml"
);

/// The seed's one `celMatcher`, verbatim.
const SEED_EXPRESSION: &str = r#"request.path.startsWith("/")"#;

const CHAT: &str =
    r#"request.method == "POST" && request.path.matches("^/v1/(chat/)?completions$")"#;

fn matcher(expressions: &[&str]) -> Matcher {
    let owned: Vec<String> = expressions.iter().map(|e| (*e).to_owned()).collect();
    Matcher::new(&owned).unwrap_or_else(|error| panic!("{error}"))
}

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, HeaderValue::from_static(value));
    }
    map
}

fn view<'a>(
    path: &'a str,
    method: &'a str,
    headers: &'a HeaderMap,
    model: Option<&'a str>,
) -> RequestView<'a> {
    RequestView {
        path,
        method,
        headers,
        model,
    }
}

fn eval(expression: &str, request: &RequestView<'_>) -> bool {
    matcher(&[expression])
        .matches(request)
        .unwrap_or_else(|error| panic!("{expression}: {error}"))
}

#[test]
fn matcher_is_send_and_sync() {
    fn assert<T: Send + Sync>() {}
    assert::<Matcher>();
}

#[test]
fn seed_file_has_the_seed_expression() {
    let seed =
        std::fs::read_to_string(SEED_PATH).unwrap_or_else(|error| panic!("{SEED_PATH}: {error}"));
    let expected = format!("celMatcher: {SEED_EXPRESSION}");
    assert!(
        seed.lines()
            .any(|line| line.trim_start().trim_start_matches("- ") == expected),
        "{SEED_PATH} has no line `{expected}`"
    );
}

#[test]
fn seed_expression_matches_paths_starting_with_a_slash() {
    let empty = HeaderMap::new();
    assert!(eval(
        SEED_EXPRESSION,
        &view("/v1/chat/completions", "POST", &empty, None)
    ));
    assert!(eval(SEED_EXPRESSION, &view("/", "GET", &empty, None)));
    assert!(!eval(
        SEED_EXPRESSION,
        &view("v1/chat", "POST", &empty, None)
    ));
    assert!(!eval(SEED_EXPRESSION, &view("", "POST", &empty, None)));
}

#[test]
fn header_equality() {
    let expression = r#"request.headers["x-tenant"] == "acme""#;
    let acme = headers(&[("x-tenant", "acme")]);
    let other = headers(&[("x-tenant", "globex")]);
    assert!(eval(expression, &view("/", "POST", &acme, None)));
    assert!(!eval(expression, &view("/", "POST", &other, None)));
}

#[test]
fn header_names_are_lower_case() {
    let mut map = HeaderMap::new();
    map.insert(
        http::HeaderName::from_bytes(b"X-Tenant").unwrap(),
        HeaderValue::from_static("acme"),
    );
    let request = view("/", "POST", &map, None);
    assert!(eval(r#"request.headers["x-tenant"] == "acme""#, &request));
    assert!(!eval(r#""X-Tenant" in request.headers"#, &request));
}

#[test]
fn repeated_header_values_are_joined() {
    let map = headers(&[("x-tenant", "acme"), ("x-tenant", "globex")]);
    assert!(eval(
        r#"request.headers["x-tenant"] == "acme, globex""#,
        &view("/", "POST", &map, None)
    ));
}

#[test]
fn absent_header_is_an_eval_error() {
    let empty = HeaderMap::new();
    let error = matcher(&[r#"request.headers["x-tenant"] == "acme""#])
        .matches(&view("/", "POST", &empty, None))
        .unwrap_err();
    assert!(
        matches!(&error, MatchError::Eval { index: 0, message } if message.contains("x-tenant")),
        "{error:?}"
    );
}

#[test]
fn headers_as_a_whole_map() {
    let map = headers(&[("x-tenant", "acme"), ("x-team", "ml")]);
    let request = view("/", "POST", &map, None);
    assert!(eval("size(request.headers) == 2", &request));
    assert!(eval("request.headers.size() == 2", &request));
    assert!(eval(
        r#"request.headers.exists(name, name.startsWith("x-te") && request.headers[name] == "ml")"#,
        &request
    ));
    assert!(!eval(
        r#"request.headers.all(name, name == "x-tenant")"#,
        &request
    ));
    assert!(eval(
        r#"request.headers == {"x-team": "ml", "x-tenant": "acme"}"#,
        &request
    ));
    assert!(!eval(
        r#"request.headers == {"x-tenant": "acme"}"#,
        &request
    ));
    assert!(eval(r#"type(request.headers) == map"#, &request));
    assert!(eval(r#"has(request.headers.x) == false"#, &request));
}

#[test]
fn header_presence() {
    let expression = r#""x-tenant" in request.headers"#;
    let acme = headers(&[("x-tenant", "acme")]);
    let other = headers(&[("x-team", "acme")]);
    assert!(eval(expression, &view("/", "POST", &acme, None)));
    assert!(!eval(expression, &view("/", "POST", &other, None)));
}

#[test]
fn model_prefix() {
    let expression = r#"request.model.startsWith("llama")"#;
    let empty = HeaderMap::new();
    assert!(eval(
        expression,
        &view("/", "POST", &empty, Some("llama-3.1-8b"))
    ));
    assert!(!eval(
        expression,
        &view("/", "POST", &empty, Some("gemma-2"))
    ));
    assert!(!eval(expression, &view("/", "POST", &empty, None)));
    assert!(eval(
        r#"request.model == """#,
        &view("/", "POST", &empty, None)
    ));
}

#[test]
fn method_and_path_regex() {
    let empty = HeaderMap::new();
    assert!(eval(
        CHAT,
        &view("/v1/chat/completions", "POST", &empty, None)
    ));
    assert!(eval(CHAT, &view("/v1/completions", "POST", &empty, None)));
    assert!(!eval(
        CHAT,
        &view("/v1/chat/completions", "GET", &empty, None)
    ));
    assert!(!eval(CHAT, &view("/v1/embeddings", "POST", &empty, None)));
    assert!(!eval(
        CHAT,
        &view("/v1/chat/completions/x", "POST", &empty, None)
    ));
}

#[test]
fn unknown_request_field_is_an_eval_error() {
    let empty = HeaderMap::new();
    let error = matcher(&["request.query == \"\""])
        .matches(&view("/", "GET", &empty, None))
        .unwrap_err();
    assert!(
        matches!(error, MatchError::Eval { index: 0, .. }),
        "{error:?}"
    );
}

#[test]
fn syntax_error_has_line_and_column() {
    let source = r#"request.path.startsWith("/""#;
    let error = Matcher::new(&[SEED_EXPRESSION.to_owned(), source.to_owned()]).unwrap_err();
    let MatchError::Syntax {
        index,
        line,
        column,
        ref message,
        ref expression,
    } = error
    else {
        panic!("not a syntax error: {error:?}");
    };
    assert_eq!(index, 1);
    assert_eq!(line, 1);
    // the missing `)` is noticed at the end of the input, just past the `"/"`
    assert!((24..=source.len() + 1).contains(&column), "column {column}");
    assert!(message.starts_with("Syntax error"), "{message}");
    assert_eq!(expression, source);
    let text = error.to_string();
    assert!(
        text.starts_with(&format!("celExpressions[1]: 1:{column}: Syntax error")),
        "{text}"
    );
    assert!(text.ends_with(&format!(" in {source}")), "{text}");
}

#[test]
fn syntax_error_on_a_later_line() {
    let source = "request.method == \"POST\" &&\n  request.path.startsWith(\"/\" ||";
    let error = Matcher::new(&[source.to_owned()]).unwrap_err();
    assert!(
        matches!(error, MatchError::Syntax { index: 0, line: 2, column, .. } if column > 1),
        "{error:?}"
    );
}

#[test]
fn non_bool_result_is_an_eval_error() {
    let empty = HeaderMap::new();
    let error = matcher(&["1 + 1"])
        .matches(&view("/", "GET", &empty, None))
        .unwrap_err();
    assert!(
        matches!(&error, MatchError::Eval { index: 0, message } if message == "celMatcher returned int, not bool"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "celExpressions[0]: celMatcher returned int, not bool"
    );
}

#[test]
fn expressions_are_ored() {
    let expressions = [r#"request.method == "GET""#, r#"request.path == "/health""#];
    let condition = matcher(&expressions);
    let empty = HeaderMap::new();
    let matches = |path, method| {
        condition
            .matches(&view(path, method, &empty, None))
            .unwrap()
    };
    assert!(matches("/v1/chat/completions", "GET"));
    assert!(matches("/health", "POST"));
    assert!(matches("/health", "GET"));
    assert!(!matches("/v1/chat/completions", "POST"));
}

#[test]
fn a_true_expression_outweighs_an_error() {
    let empty = HeaderMap::new();
    let request = view("/", "GET", &empty, None);
    let condition = matcher(&[r#"request.headers["x-tenant"] == "acme""#, SEED_EXPRESSION]);
    assert!(condition.matches(&request).unwrap());
    let condition = matcher(&[r#"request.path == "/x""#, "1 + 1"]);
    assert!(matches!(
        condition.matches(&request),
        Err(MatchError::Eval { index: 1, .. })
    ));
}

#[test]
fn empty_list_is_refused() {
    assert!(matches!(Matcher::new(&[]), Err(MatchError::Empty)));
}
