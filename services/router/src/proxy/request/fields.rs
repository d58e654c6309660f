//! The two things the proxy reads from a request body — the `model` and the
//! prompt's text — taken in one pass, without building a JSON tree: strings are
//! borrowed unless escaped, everything else is validated and skipped. Where a key
//! repeats, the last one counts, as in serde_json's own map.
//!
//! The prompt is `messages[].content` when `messages` is an array, else `prompt`,
//! else `input`; each may be a string, an array (nested), or a content part
//! `{"type": "text", "text": …}`; the strings found are joined with `"\n"`.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Why a body has no fields.
#[derive(Debug)]
pub(crate) enum Error {
    /// Valid JSON, but not an object.
    NotObject,
    Json(serde_json::Error),
}

/// What the proxy needs of a body.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Fields {
    /// The last `model`, when it is a string.
    pub model: Option<String>,
    pub prompt: String,
}

/// Reads `raw`, which must be one JSON object (whitespace around it allowed).
pub(crate) fn read(raw: &[u8]) -> Result<Fields, Error> {
    let mut de = serde_json::Deserializer::from_slice(raw);
    let fields = serde::Deserializer::deserialize_any(&mut de, Top).map_err(Error::Json)?;
    de.end().map_err(Error::Json)?;
    fields.ok_or(Error::NotObject)
}

/// Strings joined with `"\n"`, counted so that empty strings still separate.
#[derive(Debug, Default)]
struct Text {
    buf: String,
    parts: usize,
}

impl Text {
    fn push(&mut self, s: &str) {
        if self.parts > 0 {
            self.buf.push('\n');
        }
        self.buf.push_str(s);
        self.parts += 1;
    }

    fn mark(&self) -> (usize, usize) {
        (self.buf.len(), self.parts)
    }

    /// Forgets what was pushed since `mark` (a repeated key replaces the first).
    fn reset(&mut self, (len, parts): (usize, usize)) {
        self.buf.truncate(len);
        self.parts = parts;
    }
}

fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Implements the scalar `visit_*` methods of a visitor whose value is `()`
/// (or `None`): such values are valid but carry nothing.
macro_rules! skip_scalars {
    ($value:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}

/// The body: `Some` for an object, `None` for any other JSON value.
struct Top;

impl<'de> Visitor<'de> for Top {
    type Value = Option<Fields>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    skip_scalars!(None);

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        drain_seq(seq).map(|()| None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut model = None;
        let (mut messages, mut prompt, mut input) = (None, None, None);
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Model => model = map.next_value_seed(MaybeString)?,
                Key::Messages => messages = map.next_value_seed(Messages)?,
                Key::Prompt => prompt = Some(map.next_value_seed(Owned)?),
                Key::Input => input = Some(map.next_value_seed(Owned)?),
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let text = messages.or(prompt).or(input).unwrap_or_default();
        Ok(Some(Fields {
            model,
            prompt: text.buf,
        }))
    }
}

/// The top-level keys read.
enum Key {
    Model,
    Messages,
    Prompt,
    Input,
    Other,
}

impl<'de> serde::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E>(self, s: &str) -> Result<Key, E> {
                Ok(match s {
                    "model" => Key::Model,
                    "messages" => Key::Messages,
                    "prompt" => Key::Prompt,
                    "input" => Key::Input,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// A string, or `None` for any other value.
struct MaybeString;

impl<'de> DeserializeSeed<'de> for MaybeString {
    type Value = Option<String>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for MaybeString {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    skip_scalars!(None);

    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Some(s.to_owned()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        drain_seq(seq).map(|()| None)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        drain_map(map).map(|()| None)
    }
}

/// `prompt` or `input`: the text of one value, in a fresh [`Text`].
struct Owned;

impl<'de> DeserializeSeed<'de> for Owned {
    type Value = Text;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Text, D::Error> {
        let mut text = Text::default();
        Collect::new(&mut text, Shape::Texts).deserialize(d)?;
        Ok(text)
    }
}

/// `messages`: each message's `content`, when `messages` is an array.
struct Messages;

impl<'de> DeserializeSeed<'de> for Messages {
    type Value = Option<Text>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Messages {
    type Value = Option<Text>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    skip_scalars!(None);

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        drain_map(map).map(|()| None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut text = Text::default();
        while seq
            .next_element_seed(Collect::new(&mut text, Shape::Message))?
            .is_some()
        {}
        Ok(Some(text))
    }
}

/// What a [`Collect`] takes from the value it reads.
#[derive(Clone, Copy)]
enum Shape {
    /// A message: the text of its (last) `content`.
    Message,
    /// Strings, arrays of them (nested), and content parts `{"text": …}`.
    Texts,
    /// A content part's `text`: a string only.
    String,
}

/// Pushes what `shape` takes of one value onto a [`Text`]; everything else is
/// validated and skipped.
struct Collect<'t> {
    text: &'t mut Text,
    shape: Shape,
}

impl<'t> Collect<'t> {
    fn new(text: &'t mut Text, shape: Shape) -> Self {
        Self { text, shape }
    }
}

impl<'de> DeserializeSeed<'de> for Collect<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Collect<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    skip_scalars!(());

    fn visit_str<E>(self, s: &str) -> Result<(), E> {
        if !matches!(self.shape, Shape::Message) {
            self.text.push(s);
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        match self.shape {
            Shape::Texts => {
                while seq
                    .next_element_seed(Collect::new(&mut *self.text, Shape::Texts))?
                    .is_some()
                {}
                Ok(())
            }
            Shape::Message | Shape::String => drain_seq(seq),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (key, inner) = match self.shape {
            Shape::Message => ("content", Shape::Texts),
            Shape::Texts => ("text", Shape::String),
            Shape::String => return drain_map(map),
        };
        let mark = self.text.mark();
        while let Some(wanted) = map.next_key_seed(Is(key))? {
            if wanted {
                self.text.reset(mark);
                map.next_value_seed(Collect::new(&mut *self.text, inner))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// A map key: whether it is the one named.
struct Is(&'static str);

impl<'de> DeserializeSeed<'de> for Is {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for Is {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E>(self, s: &str) -> Result<bool, E> {
        Ok(s == self.0)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value};

    use super::*;

    /// The reading this replaces, over a serde_json tree: the oracle.
    fn oracle(raw: &[u8]) -> Option<Fields> {
        fn collect<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
            match v {
                Value::String(s) => out.push(s),
                Value::Array(items) => items.iter().for_each(|i| collect(i, out)),
                Value::Object(part) => {
                    if let Some(Value::String(s)) = part.get("text") {
                        out.push(s);
                    }
                }
                _ => {}
            }
        }
        let obj: Map<String, Value> = match serde_json::from_slice::<Value>(raw).ok()? {
            Value::Object(obj) => obj,
            _ => return Some(Fields::default()),
        };
        let mut parts = Vec::new();
        if let Some(Value::Array(messages)) = obj.get("messages") {
            for content in messages.iter().filter_map(|m| m.get("content")) {
                collect(content, &mut parts);
            }
        } else if let Some(v) = obj.get("prompt").or_else(|| obj.get("input")) {
            collect(v, &mut parts);
        }
        Some(Fields {
            model: obj.get("model").and_then(Value::as_str).map(str::to_owned),
            prompt: parts.join("\n"),
        })
    }

    /// Random JSON text over the keys that matter, with repeated keys, escapes,
    /// empty strings and every kind of value (xorshift, fixed seed).
    struct Gen(u64);

    impl Gen {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }

        fn string(&mut self, out: &mut String) {
            const WORDS: [&str; 8] = [
                "",
                "hi",
                "a\\\"b",
                "\\u00e9t\\u00e9",
                "x\\ny",
                "model",
                "text",
                "content",
            ];
            out.push('"');
            out.push_str(WORDS[self.below(WORDS.len() as u64) as usize]);
            out.push('"');
        }

        fn value(&mut self, depth: u32, out: &mut String) {
            let kinds = if depth == 0 { 4 } else { 6 };
            match self.below(kinds) {
                0 => out.push_str(["1", "-2.5e3", "true", "null"][self.below(4) as usize]),
                1..=3 => self.string(out),
                4 => {
                    out.push('[');
                    for i in 0..self.below(4) {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        self.value(depth - 1, out);
                    }
                    out.push(']');
                }
                _ => self.object(depth - 1, out),
            }
        }

        fn object(&mut self, depth: u32, out: &mut String) {
            const KEYS: [&str; 9] = [
                "model",
                "messages",
                "prompt",
                "input",
                "content",
                "text",
                "type",
                "role",
                "mod\\u0065l",
            ];
            out.push('{');
            for i in 0..self.below(5) {
                if i > 0 {
                    out.push(',');
                }
                out.push('"');
                out.push_str(KEYS[self.below(KEYS.len() as u64) as usize]);
                out.push_str("\": ");
                self.value(depth, out);
            }
            out.push('}');
        }
    }

    #[test]
    fn reads_what_a_json_tree_reads_on_random_bodies() {
        let mut g = Gen(0x2545_f491_4f6c_dd1d);
        let (mut objects, mut with_prompt) = (0, 0);
        for _ in 0..20_000 {
            let mut body = String::new();
            if g.below(10) == 0 {
                g.value(3, &mut body);
            } else {
                g.object(4, &mut body);
            }
            let ours = read(body.as_bytes());
            match (oracle(body.as_bytes()), ours) {
                (Some(expected), Ok(got)) => {
                    assert_eq!(got, expected, "{body}");
                    objects += 1;
                    with_prompt += usize::from(!got.prompt.is_empty());
                }
                (Some(expected), Err(Error::NotObject)) => {
                    assert_eq!(expected, Fields::default(), "{body}");
                }
                (None, Err(Error::Json(_))) => {}
                (expected, got) => panic!("{body}: {expected:?} vs {got:?}"),
            }
        }
        // The generator reaches the interesting cases.
        assert!(
            objects > 15_000 && with_prompt > 3_000,
            "{objects} {with_prompt}"
        );
    }

    #[test]
    fn invalid_json_and_trailing_bytes_are_errors() {
        for body in [&b"nope"[..], b"{\"model\":\"m\"} x", b"{\"model\":", b""] {
            assert!(matches!(read(body), Err(Error::Json(_))), "{body:?}");
        }
        assert!(matches!(read(b" [1] "), Err(Error::NotObject)));
    }
}
