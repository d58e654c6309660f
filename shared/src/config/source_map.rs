//! Where each YAML path starts in the text, so a problem found on the deserialized
//! value can name its line and column.

use std::collections::HashMap;

use serde_saphyr::granit_parser::{Event, Parser};

/// YAML path (`a.b[2].c`) → 1-based (line, column) of its value.
#[derive(Debug, Default)]
pub struct SourceMap {
    places: HashMap<String, (usize, usize)>,
}

enum Frame {
    /// In a mapping; `Some(key)` after a key, waiting for its value.
    Map(String, Option<String>),
    /// In a sequence at the next index.
    Seq(String, usize),
}

impl SourceMap {
    /// Indexes `text`. Text that does not parse indexes as far as it goes: the
    /// deserializer reports the syntax error itself.
    pub fn new(text: &str) -> Self {
        let mut places = HashMap::new();
        let mut stack: Vec<Frame> = Vec::new();
        for item in Parser::new_from_str(text) {
            let Ok((event, span)) = item else { break };
            let at = (span.start.line(), span.start.col() + 1);
            match event {
                Event::Scalar(value, ..) => {
                    if let Some(path) = value_path(&mut stack, Some(&value)) {
                        places.entry(path).or_insert(at);
                    }
                }
                Event::Alias(_) => {
                    if let Some(path) = value_path(&mut stack, None) {
                        places.entry(path).or_insert(at);
                    }
                }
                Event::MappingStart(..) | Event::SequenceStart(..) => {
                    let is_map = matches!(event, Event::MappingStart(..));
                    let path = value_path(&mut stack, None).unwrap_or_default();
                    places.entry(path.clone()).or_insert(at);
                    stack.push(if is_map {
                        Frame::Map(path, None)
                    } else {
                        Frame::Seq(path, 0)
                    });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                }
                _ => {}
            }
        }
        Self { places }
    }

    /// The place of `path`, or of its nearest ancestor that has one.
    pub fn place(&self, path: &str) -> Option<(usize, usize)> {
        let mut path = path;
        loop {
            if let Some(p) = self.places.get(path) {
                return Some(*p);
            }
            let cut = path.rfind(['.', '['])?;
            path = &path[..cut];
        }
    }
}

/// The path of the node that starts now, or `None` when it is a mapping key (whose
/// text is remembered for the value that follows).
fn value_path(stack: &mut [Frame], scalar: Option<&str>) -> Option<String> {
    match stack.last_mut() {
        None => Some(String::new()),
        Some(Frame::Seq(parent, i)) => {
            let path = super::index(parent, *i);
            *i += 1;
            Some(path)
        }
        Some(Frame::Map(parent, key)) => match key.take() {
            Some(k) => Some(super::join(parent, &k)),
            None => {
                // A key. Complex (non-scalar) keys get an empty name.
                *key = Some(scalar.unwrap_or_default().to_owned());
                None
            }
        },
    }
}
