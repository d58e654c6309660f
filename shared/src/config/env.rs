//! `${VAR}` and `${VAR:-default}` in config text, so secrets (`sasl.password`,
//! webhook tokens) come from the environment, not the file. `$${` writes a literal
//! `${`. Expansion is textual, skips comments and keeps line numbers.

use super::{Place, Problem};

/// Expands every reference, or returns every unset variable with its place.
pub(super) fn expand(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, Vec<Problem>> {
    let mut out = String::with_capacity(text.len());
    let mut problems = Vec::new();
    for (n, full_line) in text.split_inclusive('\n').enumerate() {
        let (line, comment) = full_line.split_at(comment_start(full_line));
        let mut rest = line;
        while let Some(start) = rest.find("${") {
            if start > 0 && rest.as_bytes()[start - 1] == b'$' {
                out.push_str(&rest[..start - 1]);
                out.push_str("${");
                rest = &rest[start + 2..];
                continue;
            }
            out.push_str(&rest[..start]);
            let column = line.len() - rest.len() + start + 1;
            let Some(len) = rest[start..].find('}') else {
                problems.push(problem(n, column, "`${` without a closing `}`".into()));
                rest = "";
                break;
            };
            let inner = &rest[start + 2..start + len];
            let (name, default) = match inner.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (inner, None),
            };
            match (lookup(name), default) {
                (Some(value), _) => out.push_str(&value),
                (None, Some(default)) => out.push_str(default),
                (None, None) => problems.push(problem(
                    n,
                    column,
                    format!("environment variable {name} is not set (write ${{{name}:-default}} for a default)"),
                )),
            }
            rest = &rest[start + len + 1..];
        }
        out.push_str(rest);
        out.push_str(comment);
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// Where a YAML comment starts on `line` (its length if none): a `#` at the start or
/// after a space, outside quotes. Comments are left as they are, so an example in a
/// comment needs no variable.
fn comment_start(line: &str) -> usize {
    let (mut single, mut double, mut prev) = (false, false, ' ');
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single && prev != '\\' => double = !double,
            '#' if !single && !double && prev.is_whitespace() => return i,
            _ => {}
        }
        prev = c;
    }
    line.len()
}

fn problem(line_index: usize, column: usize, message: String) -> Problem {
    Problem {
        path: String::new(),
        message,
        place: Some(Place {
            file: String::new(),
            line: line_index + 1,
            column,
        }),
    }
}
