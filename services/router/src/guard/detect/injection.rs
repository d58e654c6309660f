//! Prompt-injection phrases, matched on a normalised copy of the text.
//!
//! One finding is emitted **per matched phrase** (non-overlapping, longest first), all with
//! the same aggregated confidence for the text:
//! - High: two or more distinct phrase-list lines matched, or a strong phrase matched
//!   through obfuscation (leetspeak, look-alikes, zero-width, tags, letter spacing);
//! - Medium: one strong phrase;
//! - Low: only weak phrases (one line).

use std::cell::RefCell;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, MatchKind};

use super::finding::{Confidence, Filter, Finding, push};
use super::normalize::Normalized;

/// The maintained phrase list (format documented in the file).
pub(super) const PHRASES: &str = include_str!("injection_phrases.txt");

/// Texts longer than this do not keep their normalisation buffers afterwards.
const KEEP_SCRATCH_BYTES: usize = 64 * 1024;

/// Metadata of one expanded pattern.
#[derive(Clone, Copy)]
struct Phrase {
    /// Line number in the phrase list: distinct lines are distinct signals.
    line: usize,
    strong: bool,
    /// Has non-ASCII letters: matched without word boundaries.
    cjk: bool,
}

/// The compiled phrase list: spaced patterns for the normalised text, and the same patterns
/// without spaces for letter-spaced segments ("ignoreallpreviousinstructions").
struct Lexicon {
    spaced: AhoCorasick,
    compact: AhoCorasick,
    meta: Vec<Phrase>,
}

static LEXICON: LazyLock<Lexicon> = LazyLock::new(|| {
    let (spaced, compact, meta) = expand_phrases(PHRASES);
    let build = |p: &[String]| {
        AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(p)
            // The phrase list is compiled into the binary; tests build it.
            .expect("built-in injection phrase list compiles")
    };
    Lexicon {
        spaced: build(&spaced),
        compact: build(&compact),
        meta,
    }
});

/// A phrase match in the normalised text.
#[derive(Clone, Copy)]
struct Hit {
    start: usize,
    end: usize,
    phrase: Phrase,
}

#[derive(Default)]
struct Scratch {
    norm: Normalized,
    hits: Vec<Hit>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// Appends `prompt_injection` findings.
pub(super) fn detect(text: &str, out: &mut Vec<Finding>) {
    if text.is_empty() {
        return;
    }
    SCRATCH.with_borrow_mut(|s| {
        detect_with(text, s, out);
        if text.len() > KEEP_SCRATCH_BYTES {
            *s = Scratch::default();
        }
    });
}

fn detect_with(text: &str, s: &mut Scratch, out: &mut Vec<Finding>) {
    let lex = &*LEXICON;
    s.norm.run(text);
    s.hits.clear();
    let norm = &s.norm.text[..];
    let word_edge = |i: usize| norm.get(i).is_none_or(|c| !c.is_ascii_alphanumeric());
    for m in lex.spaced.find_overlapping_iter(&s.norm.text) {
        let phrase = lex.meta[m.pattern().as_usize()];
        let bounded = m.start() == 0 || word_edge(m.start() - 1);
        if phrase.cjk || (bounded && word_edge(m.end())) {
            s.hits.push(Hit {
                start: m.start(),
                end: m.end(),
                phrase,
            });
        }
    }
    for &(a, b) in &s.norm.joined {
        for m in lex.compact.find_overlapping_iter(&s.norm.text[a..b]) {
            let phrase = lex.meta[m.pattern().as_usize()];
            s.hits.push(Hit {
                start: a + m.start(),
                end: a + m.end(),
                phrase,
            });
        }
    }
    if s.hits.is_empty() {
        return;
    }
    // Keep non-overlapping hits, leftmost then longest.
    s.hits
        .sort_unstable_by_key(|h| (h.start, usize::MAX - h.end));
    let mut kept = 0;
    let mut last_end = 0;
    for i in 0..s.hits.len() {
        if kept == 0 || s.hits[i].start >= last_end {
            last_end = s.hits[i].end;
            s.hits[kept] = s.hits[i];
            kept += 1;
        }
    }
    s.hits.truncate(kept);

    let hits = &s.hits;
    let obfuscated = |h: &Hit| s.norm.obfuscated(h.start, h.end);
    let distinct = hits
        .iter()
        .enumerate()
        .filter(|(i, h)| hits[..*i].iter().all(|p| p.phrase.line != h.phrase.line))
        .count();
    let confidence = if distinct >= 2 || hits.iter().any(|h| h.phrase.strong && obfuscated(h)) {
        Confidence::High
    } else if hits.iter().any(|h| h.phrase.strong) {
        Confidence::Medium
    } else {
        Confidence::Low
    };
    for h in hits {
        let (start, end) = s.norm.original_range(text, h.start, h.end);
        push(out, Filter::PromptInjection, start, end, confidence);
    }
}

/// Expands the phrase list into (spaced patterns, compact patterns, metadata), normalised with
/// the scanner's normaliser and de-duplicated (a strong duplicate wins).
fn expand_phrases(list: &str) -> (Vec<String>, Vec<String>, Vec<Phrase>) {
    let mut norm = Normalized::default();
    let mut index = std::collections::HashMap::new();
    let (mut spaced, mut compact, mut meta) = (Vec::new(), Vec::new(), Vec::<Phrase>::new());
    let mut variants = Vec::new();
    for (line_no, line) in list.lines().enumerate() {
        let Some((strong, body)) = parse_line(line) else {
            continue;
        };
        variants.clear();
        expand(body, &mut variants);
        for v in &variants {
            norm.run(v);
            let p = String::from_utf8_lossy(&norm.text).trim().to_owned();
            if p.is_empty() {
                continue;
            }
            let phrase = Phrase {
                line: line_no,
                strong,
                cjk: !p.is_ascii(),
            };
            match index.get(&p) {
                Some(&k) => {
                    let old: &mut Phrase = &mut meta[k];
                    old.strong |= strong;
                }
                None => {
                    index.insert(p.clone(), meta.len());
                    compact.push(p.replace(' ', ""));
                    spaced.push(p);
                    meta.push(phrase);
                }
            }
        }
    }
    (spaced, compact, meta)
}

/// `S phrase` / `W phrase` → (strong, phrase); comments and blank lines → None.
pub(super) fn parse_line(line: &str) -> Option<(bool, &str)> {
    let line = line.trim();
    if let Some(body) = line.strip_prefix("S ") {
        Some((true, body))
    } else {
        line.strip_prefix("W ").map(|body| (false, body))
    }
}

/// Expands `{a|b|}` alternatives.
pub(super) fn expand(s: &str, out: &mut Vec<String>) {
    let Some(open) = s.find('{') else {
        out.push(s.to_owned());
        return;
    };
    let Some(close) = s[open..].find('}').map(|c| open + c) else {
        out.push(s.to_owned());
        return;
    };
    for alt in s[open + 1..close].split('|') {
        expand(&format!("{}{}{}", &s[..open], alt, &s[close + 1..]), out);
    }
}
