//! A whole body at once: every sample with its family's type, and every malformed line.
//! What the scrape loop wants; the streaming [`Parser`] is for callers that do not.

use std::collections::HashMap;
use std::collections::hash_map::Entry as Slot;

use super::error::{ErrorKind, ParseError};
use super::{Entry, MetricType, Parser, Sample};

/// One parsed body. Samples borrow the body; errors are owned.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scrape<'a> {
    /// Each sample in body order, with the type of its family: counters are rated,
    /// gauges used as they are, histogram buckets folded into quantiles.
    pub samples: Vec<(MetricType, Sample<'a>)>,
    /// Each malformed line; the samples above are the rest of the body.
    pub errors: Vec<ParseError>,
}

impl<'a> Scrape<'a> {
    /// Drains `parser`, typing each sample from the `# TYPE` lines before it.
    pub fn from_parser(mut parser: Parser<'a>) -> Self {
        let mut scrape = Scrape::default();
        let mut families = Families::default();
        while let Some(item) = parser.next() {
            match item {
                Ok(Entry::Sample(s)) => scrape.samples.push((families.kind_of(s.name), s)),
                Ok(Entry::Type { family, kind }) => {
                    if let Err(kind) = families.declare(family, kind) {
                        let line = parser.line();
                        scrape.errors.push(ParseError { line, kind });
                    }
                }
                Ok(_) => {}
                Err(e) => scrape.errors.push(e),
            }
        }
        scrape
    }
}

/// The `# TYPE`s seen so far.
#[derive(Default)]
struct Families<'a> {
    /// Each typed family; what a sample's name, or its name less a suffix, is looked
    /// up in.
    types: HashMap<&'a str, MetricType>,
    /// The family of the last `# TYPE`: a family's samples follow its TYPE line, so
    /// most lookups end here without hashing.
    last: Option<(&'a str, MetricType)>,
    /// Bit `i` set: `last` + `SUFFIXES[i]` is known not to be a family of its own, so
    /// the histogram's hundreds of `_bucket` lines cost one hash, not one each.
    checked: u8,
}

/// Suffixes a sample name may add to its family's (OpenMetrics §4 and the text
/// format's histogram and summary lines).
const SUFFIXES: [&str; 8] = [
    "_bucket", "_sum", "_count", "_total", "_created", "_info", "_gsum", "_gcount",
];

impl<'a> Families<'a> {
    /// Records a `# TYPE`; a second one for a family is an error, and the first stays.
    fn declare(&mut self, family: &'a str, kind: MetricType) -> Result<(), ErrorKind> {
        match self.types.entry(family) {
            Slot::Occupied(_) => Err(ErrorKind::DuplicateType(family.to_owned())),
            Slot::Vacant(slot) => {
                slot.insert(kind);
                self.last = Some((family, kind));
                self.checked = 0;
                Ok(())
            }
        }
    }

    /// The type of the family sample `name` belongs to: its own `# TYPE` if it has
    /// one, else that of the family it is a suffixed line of, else untyped.
    fn kind_of(&mut self, name: &str) -> MetricType {
        if let Some(kind) = self.of_last(name) {
            return kind;
        }
        if let Some(&kind) = self.types.get(name) {
            return kind;
        }
        SUFFIXES
            .iter()
            .find_map(|suffix| {
                let family = name.strip_suffix(suffix)?;
                let kind = *self.types.get(family)?;
                kind.owns_suffix(suffix).then_some(kind)
            })
            .unwrap_or(MetricType::Untyped)
    }

    /// The type of the last family if `name` is it or one of its suffixed lines. A
    /// family typed later cannot be meant (its TYPE would be the last), but one typed
    /// earlier can be, so each suffix is checked against `types` once.
    fn of_last(&mut self, name: &str) -> Option<MetricType> {
        let (family, kind) = self.last?;
        let suffix = name.strip_prefix(family)?;
        if suffix.is_empty() {
            return Some(kind);
        }
        let i = SUFFIXES.iter().position(|s| *s == suffix)?;
        if !kind.owns_suffix(suffix) {
            return None;
        }
        if self.checked & (1 << i) == 0 {
            if self.types.contains_key(name) {
                return None;
            }
            self.checked |= 1 << i;
        }
        Some(kind)
    }
}
