//! Request bodies: reading with a size limit, validation, prompt extraction
//! and the `model` rewrite (a byte splice that keeps everything else as sent).

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::StatusCode;
use hyper::body::Incoming;
use serde_json::{Map, Value};

mod fields;

use super::errors::ApiError;

/// A validated JSON request body.
#[derive(Debug)]
pub(crate) struct ParsedBody {
    pub raw: Bytes,
    pub model: String,
    pub prompt: String,
}

/// Reads the whole body, refusing more than `max` bytes (413).
pub(crate) async fn read_body(body: Incoming, max: usize) -> Result<Bytes, ApiError> {
    match Limited::new(body, max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large(max)),
        Err(e) => Err(ApiError::invalid(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            format!("Cannot read the request body: {e}"),
        )),
    }
}

/// The 413 error for bodies over `max` bytes.
pub(crate) fn too_large(max: usize) -> ApiError {
    ApiError::invalid(
        StatusCode::PAYLOAD_TOO_LARGE,
        "request_too_large",
        format!("The request body is larger than {max} bytes."),
    )
}

/// Checks that `raw` is a JSON object with a string `model`.
pub(crate) fn parse(raw: Bytes) -> Result<ParsedBody, ApiError> {
    let fields = fields::read(&raw).map_err(|e| {
        let message = match e {
            fields::Error::NotObject => "The request body must be a JSON object.".to_owned(),
            fields::Error::Json(e) => format!("The request body is not valid JSON: {e}"),
        };
        ApiError::invalid(StatusCode::BAD_REQUEST, "invalid_json", message)
    })?;
    let Some(model) = fields.model else {
        return Err(ApiError::invalid(
            StatusCode::BAD_REQUEST,
            "missing_model",
            "The request body must have a string `model`.".to_owned(),
        ));
    };
    Ok(ParsedBody {
        model,
        prompt: fields.prompt,
        raw,
    })
}

/// `raw` with the top-level `model` value replaced by `target`; unchanged
/// when it already names `target`. `raw` must have passed [`parse`].
pub(crate) fn rewrite_model(raw: &Bytes, model: &str, target: &str) -> Bytes {
    if model == target {
        return raw.clone();
    }
    match model_value_span(raw) {
        Some((start, end)) => {
            let quoted = Value::String(target.to_owned()).to_string();
            let mut out = Vec::with_capacity(raw.len() + quoted.len());
            out.extend_from_slice(&raw[..start]);
            out.extend_from_slice(quoted.as_bytes());
            out.extend_from_slice(&raw[end..]);
            Bytes::from(out)
        }
        // Unreachable for parsed bodies; re-serialize as a fallback.
        None => reserialize(raw, target).unwrap_or_else(|| raw.clone()),
    }
}

fn reserialize(raw: &[u8], target: &str) -> Option<Bytes> {
    let mut obj: Map<String, Value> = serde_json::from_slice(raw).ok()?;
    obj.insert("model".to_owned(), Value::String(target.to_owned()));
    serde_json::to_vec(&obj).ok().map(Bytes::from)
}

/// Byte range of the value of the last top-level `"model"` key (the one
/// serde_json keeps) in a valid JSON object.
fn model_value_span(raw: &[u8]) -> Option<(usize, usize)> {
    let mut i = skip_ws(raw, 0);
    if raw.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    let mut found = None;
    loop {
        i = skip_ws(raw, i);
        match raw.get(i)? {
            b'}' => return found,
            b',' => i = skip_ws(raw, i + 1),
            _ => {}
        }
        let key_end = string_end(raw, i)?;
        let key: String = serde_json::from_slice(&raw[i..key_end]).ok()?;
        i = skip_ws(raw, key_end);
        if raw.get(i) != Some(&b':') {
            return None;
        }
        let start = skip_ws(raw, i + 1);
        let end = value_end(raw, start)?;
        if key == "model" {
            found = Some((start, end));
        }
        i = end;
    }
}

fn skip_ws(raw: &[u8], mut i: usize) -> usize {
    while raw.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
        i += 1;
    }
    i
}

/// End (exclusive) of the string starting at `i` (a `"`).
fn string_end(raw: &[u8], i: usize) -> Option<usize> {
    if raw.get(i) != Some(&b'"') {
        return None;
    }
    let mut j = i + 1;
    loop {
        match raw.get(j)? {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
}

/// End (exclusive) of the value starting at `i`.
fn value_end(raw: &[u8], i: usize) -> Option<usize> {
    match raw.get(i)? {
        b'"' => string_end(raw, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match raw.get(j)? {
                    b'"' => {
                        j = string_end(raw, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let mut j = i;
            while raw
                .get(j)
                .is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace())
            {
                j += 1;
            }
            Some(j)
        }
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn rewrite_keeps_other_bytes() {
        let raw = Bytes::from_static(
            br#"{ "z":{"model":"x","a":[1,"}"]}, "model" : "a\"b", "n":1.5e3 ,"s":"\\"}"#,
        );
        let parsed = parse(raw.clone()).map_err(|e| e.message);
        assert_eq!(parsed.map(|p| p.model), Ok("a\"b".to_owned()));
        let out = rewrite_model(&raw, "a\"b", "t");
        assert_eq!(
            &out[..],
            br#"{ "z":{"model":"x","a":[1,"}"]}, "model" : "t", "n":1.5e3 ,"s":"\\"}"#
        );
        assert_eq!(rewrite_model(&raw, "t", "t"), raw);
    }

    #[test]
    fn rewrite_takes_last_duplicate() {
        let raw = Bytes::from_static(br#"{"model":"a","model":"b"}"#);
        assert_eq!(
            &rewrite_model(&raw, "b", "c")[..],
            br#"{"model":"a","model":"c"}"#
        );
    }

    #[test]
    fn prompt_from_chat_and_completions() {
        let chat = parse(Bytes::from_static(
            br#"{"model":"m","messages":[{"role":"system","content":"a"},{"role":"user","content":[{"type":"text","text":"b"}]}]}"#,
        ));
        assert_eq!(chat.map(|p| p.prompt).ok().as_deref(), Some("a\nb"));
        let comp = parse(Bytes::from_static(br#"{"model":"m","prompt":["x","y"]}"#));
        assert_eq!(comp.map(|p| p.prompt).ok().as_deref(), Some("x\ny"));
    }

    #[test]
    fn rejects_bad_bodies() {
        for (body, code) in [
            (&b"nope"[..], "invalid_json"),
            (b"[1]", "invalid_json"),
            (b"{\"model\":3}", "missing_model"),
            (b"{}", "missing_model"),
        ] {
            let err = parse(Bytes::copy_from_slice(body)).map(|p| p.model);
            assert_eq!(
                err.map_err(|e| (e.status, e.code)),
                Err((StatusCode::BAD_REQUEST, code))
            );
        }
    }
}
