//! Fuzzing with proptest: arbitrary bytes, token soup, and mutated lines of the real
//! captures. No input may panic; every error must name a line of the input; every
//! sample must survive being written out and read back.

use std::fmt::Write as _;
use std::sync::OnceLock;

use proptest::prelude::*;

use super::super::{Entry, Sample, parse, parse_all};
use super::{FIXTURES, fixture};

/// Every line of every capture, read once.
fn capture_lines() -> &'static [String] {
    static LINES: OnceLock<Vec<String>> = OnceLock::new();
    LINES.get_or_init(|| {
        FIXTURES
            .iter()
            .flat_map(|name| fixture(name).lines().map(str::to_owned).collect::<Vec<_>>())
            .collect()
    })
}

/// Characters that matter to the grammar, plus a few that do not.
const SOUP: [char; 26] = [
    'a', 'Z', '_', ':', '9', '{', '}', '"', '\\', '=', ',', ' ', '\t', '\n', '\r', '#', '.', 'e',
    '+', '-', 'n', 'N', 'I', 'f', 'é', '\u{0}',
];

/// A capture line with `edits` (position, replacement) applied at char boundaries.
fn mutate(line: &str, edits: &[(usize, Option<char>, bool)]) -> String {
    let mut chars: Vec<char> = line.chars().collect();
    for &(at, with, insert) in edits {
        let at = if chars.is_empty() {
            0
        } else {
            at % (chars.len() + usize::from(insert))
        };
        match (with, insert) {
            (Some(c), true) => chars.insert(at, c),
            (Some(c), false) if at < chars.len() => chars[at] = c,
            (None, _) if at < chars.len() => {
                chars.remove(at);
            }
            _ => {}
        }
    }
    chars.into_iter().collect()
}

fn bodies() -> impl Strategy<Value = String> {
    let bytes = prop::collection::vec(any::<u8>(), 0..160)
        .prop_map(|b| String::from_utf8_lossy(&b).into_owned());
    let text = any::<String>();
    let soup = prop::collection::vec(prop::sample::select(SOUP.to_vec()), 0..120)
        .prop_map(|cs| cs.into_iter().collect::<String>());
    let edit = (
        any::<usize>(),
        prop::option::of(prop::sample::select(SOUP.to_vec())),
        any::<bool>(),
    );
    let mutated = prop::collection::vec(
        (0..capture_lines().len(), prop::collection::vec(edit, 0..4)),
        1..4,
    )
    .prop_map(|picks| {
        let lines = capture_lines();
        let mut body = String::new();
        for (i, edits) in picks {
            body += &mutate(lines.get(i).map_or("", String::as_str), &edits);
            body.push('\n');
        }
        body
    });
    prop_oneof![bytes, text, soup, mutated]
}

/// `s` written back out in the text format, escapes and all.
fn write(s: &Sample<'_>) -> String {
    let mut out = format!("{}{{", s.name);
    for (k, v) in s.labels() {
        let v = v
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        let _ = write!(out, "{k}=\"{v}\",");
    }
    let _ = write!(out, "}} {}", s.value);
    out
}

fn check(body: &str) -> Result<(), TestCaseError> {
    let lines = body.lines().count().max(1);
    let scrape = parse_all(body);
    for e in &scrape.errors {
        prop_assert!(
            (1..=lines).contains(&e.line),
            "{e} in a body of {lines} lines: {body:?}"
        );
    }
    for item in parse(body) {
        let Ok(Entry::Sample(s)) = item else { continue };
        let again = write(&s);
        let back: Vec<_> = parse(&again).collect();
        let [Ok(Entry::Sample(r))] = back.as_slice() else {
            return Err(TestCaseError::fail(format!(
                "{again:?} from {body:?}: {back:?}"
            )));
        };
        prop_assert_eq!(r.name, s.name);
        let same = r.value.to_bits() == s.value.to_bits() || (r.value.is_nan() && s.value.is_nan());
        prop_assert!(same, "{} vs {} from {body:?}", r.value, s.value);
        prop_assert!(r.labels().eq(s.labels()), "{again:?} from {body:?}");
        for (k, v) in s.labels() {
            prop_assert_eq!(s.label(k), Some(v));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100_000))]

    #[test]
    fn no_input_panics_and_errors_name_their_line(body in bodies()) {
        check(&body)?;
    }
}

#[test]
fn every_capture_line_survives_a_round_trip() {
    for line in capture_lines() {
        check(line).unwrap();
    }
}
