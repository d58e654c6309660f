//! `url_deny`: URLs and bare host names under a denied domain.
//!
//! Denied domains are found with one case-insensitive automaton; a hit counts when it is a
//! whole host suffix: preceded by `.` (subdomain) or by a non-host char, and followed by a
//! non-host char or a trailing dot. The finding covers the full host name (subdomains
//! included). An e-mail domain is a host name too (`bob@denied.com` fires).

use aho_corasick::{AhoCorasick, MatchKind};

use super::finding::{Confidence, Filter, Finding, push};
use super::span::{char_at, char_before, is_dns_label};

/// Compiled deny list.
pub(super) struct UrlDeny {
    domains: AhoCorasick,
}

/// Lower-cases `raw` and strips one trailing dot; None unless it is a domain name
/// (≥ 2 labels of `a-z 0-9 -`, no leading/trailing hyphen, alphabetic TLD, ≤ 253 bytes).
pub(super) fn normalize_domain(raw: &str) -> Option<String> {
    let d = raw.trim().to_ascii_lowercase();
    let d = d.strip_suffix('.').unwrap_or(&d);
    let labels: Vec<&str> = d.split('.').collect();
    let tld_alpha = labels
        .last()
        .is_some_and(|t| t.bytes().all(|c| c.is_ascii_alphabetic()));
    (d.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| is_dns_label(l.as_bytes()))
        && tld_alpha)
        .then(|| d.to_owned())
}

fn is_host_char(c: char) -> bool {
    c.is_alphanumeric() || c == '-' || c == '_'
}

impl UrlDeny {
    /// Builds the matcher from already-normalised domains.
    pub(super) fn new(domains: &[String]) -> Result<Self, aho_corasick::BuildError> {
        let domains = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(domains)?;
        Ok(UrlDeny { domains })
    }

    /// Appends `url_deny` findings (High).
    pub(super) fn detect(&self, text: &str, out: &mut Vec<Finding>) {
        let first = out.len();
        for m in self.domains.find_overlapping_iter(text) {
            let before_ok = match char_before(text, m.start()) {
                Some('.') => true,
                Some(c) => !is_host_char(c),
                None => true,
            };
            let after_ok = match char_at(text, m.end()) {
                Some('.') => !char_at(text, m.end() + 1).is_some_and(is_host_char),
                Some(c) => !is_host_char(c),
                None => true,
            };
            if !(before_ok && after_ok) {
                continue;
            }
            let host_len: usize = text[..m.start()]
                .chars()
                .rev()
                .take_while(|&c| is_host_char(c) || c == '.')
                .map(char::len_utf8)
                .sum();
            let host = &text[m.start() - host_len..m.end()];
            let host_start = m.end() - host.trim_start_matches('.').len();
            if !out[first..].iter().any(|f| f.start == host_start) {
                push(out, Filter::UrlDeny, host_start, m.end(), Confidence::High);
            }
        }
    }
}
