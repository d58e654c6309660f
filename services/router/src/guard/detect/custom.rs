//! User-defined regex filters (`custom:<name>`).

use regex::{Regex, RegexBuilder};

use super::DetectError;
use super::config::CustomRegex;
use super::finding::{Confidence, Finding};

/// Compiled-program size limit for user patterns.
const SIZE_LIMIT: usize = 1 << 20;

/// One compiled custom filter.
pub(super) struct Custom {
    filter: String,
    regex: Regex,
    confidence: Confidence,
}

/// Compiles `custom[index]`'s pattern.
pub(super) fn compile(index: usize, c: &CustomRegex) -> Result<Regex, DetectError> {
    RegexBuilder::new(&c.pattern)
        .size_limit(SIZE_LIMIT)
        .build()
        .map_err(|source| DetectError::BadRegex {
            index,
            name: c.name.clone(),
            source,
        })
}

impl Custom {
    /// Compiles `custom[index]`.
    pub(super) fn new(index: usize, c: &CustomRegex) -> Result<Self, DetectError> {
        Ok(Custom {
            filter: format!("custom:{}", c.name),
            regex: compile(index, c)?,
            confidence: c.confidence,
        })
    }

    /// Appends one finding per non-empty match.
    pub(super) fn detect(&self, text: &str, out: &mut Vec<Finding>) {
        for m in self.regex.find_iter(text).filter(|m| !m.is_empty()) {
            out.push(Finding {
                filter: self.filter.clone(),
                start: m.start(),
                end: m.end(),
                confidence: self.confidence,
            });
        }
    }
}
