//! Local safety detectors of the prompt/response guard: a self-hosted equivalent of Model
//! Armor's sensitive-data, prompt-injection/jailbreak, malicious-URL and custom filters.
//!
//! Build a [`Detectors`] once from a [`DetectorsConfig`] and share it (it is `Send + Sync`);
//! [`Detectors::scan`] appends [`Finding`]s (byte ranges on char boundaries) for one text,
//! [`StreamScanner`] does the same for streamed text, [`redact`] masks findings. The library
//! code reads no clock and does no I/O.
//!
//! # Layout
//!
//! - `mod.rs`: [`Detectors`] (construction, filter dispatch, ordering of findings).
//! - `finding.rs`: [`Finding`], [`Confidence`], [`Filter`].
//! - `config.rs`: [`DetectorsConfig`], [`CustomRegex`], [`DetectError`], validation.
//! - `span.rs`: boundary and look-behind helpers shared by detectors.
//! - `card.rs`: `card_number` (layout, IIN + length, Luhn).
//! - `ids.rs`: `us_ssn`, `iban` (country length table, mod-97).
//! - `contact.rs`: `email`, `phone` (E.164, North American).
//! - `secrets.rs`: `aws_access_key`, `gcp_api_key`, `gcp_service_account`, `github_token`,
//!   `slack_token`, `openai_key`, `private_key`, `jwt`.
//! - `json.rs`: allocation-free base64url decoder and JSON syntax check (JWT segments).
//! - `injection.rs` + `injection_phrases.txt`: `prompt_injection` phrase matching.
//! - `normalize.rs`: the normaliser behind `prompt_injection` (folding, offset map).
//! - `unicode.rs`: `invisible_unicode`.
//! - `urls.rs`: `url_deny` and deny-domain syntax.
//! - `custom.rs`: `custom:<name>` regex filters.
//! - `stream.rs`: [`StreamScanner`].
//! - `redact.rs`: [`redact`].
//! - `tests.rs`: unit tests.

mod card;
mod config;
mod contact;
mod custom;
mod finding;
mod ids;
mod injection;
mod json;
mod normalize;
mod redact;
mod secrets;
mod span;
mod stream;
mod unicode;
mod urls;

#[cfg(test)]
mod tests;

pub use config::{CustomRegex, DetectError, DetectorsConfig};
pub use finding::{Confidence, Filter, Finding};
pub use redact::redact;
pub use stream::StreamScanner;

use custom::Custom;
use urls::UrlDeny;

/// A detector that needs nothing but the text.
type DetectFn = fn(&str, &mut Vec<Finding>);

/// Filters whose detector needs nothing but the text.
const SIMPLE: [(Filter, DetectFn); 13] = [
    (Filter::CardNumber, card::detect),
    (Filter::UsSsn, ids::detect_ssn),
    (Filter::Iban, ids::detect_iban),
    (Filter::Email, contact::detect_email),
    (Filter::Phone, contact::detect_phone),
    (Filter::AwsAccessKey, secrets::detect_aws),
    (Filter::GcpApiKey, secrets::detect_gcp_api_key),
    (
        Filter::GcpServiceAccount,
        secrets::detect_gcp_service_account,
    ),
    (Filter::GithubToken, secrets::detect_github),
    (Filter::SlackToken, secrets::detect_slack),
    (Filter::OpenaiKey, secrets::detect_openai),
    (Filter::PrivateKey, secrets::detect_private_key),
    (Filter::Jwt, secrets::detect_jwt),
];

/// The configured detectors; built once, shared by all requests (`Send + Sync`).
pub struct Detectors {
    /// Bit set of enabled [`Filter`]s.
    enabled: u32,
    url_deny: Option<UrlDeny>,
    custom: Vec<Custom>,
}

impl Detectors {
    /// Compiles `config`: custom regexes and the domain deny list.
    pub fn new(config: &DetectorsConfig) -> Result<Self, DetectError> {
        let enabled = config.filters.iter().fold(0, |acc, f| acc | f.bit());
        let custom = config
            .custom
            .iter()
            .enumerate()
            .map(|(i, c)| Custom::new(i, c))
            .collect::<Result<Vec<_>, _>>()?;
        let domains = config
            .deny_domains
            .iter()
            .enumerate()
            .map(|(index, d)| {
                urls::normalize_domain(d).ok_or_else(|| DetectError::BadDomain {
                    index,
                    domain: d.clone(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let url_deny = if enabled & Filter::UrlDeny.bit() != 0 && !domains.is_empty() {
            let n = domains.len();
            let deny = UrlDeny::new(&domains).map_err(|e| DetectError::BadDomain {
                index: n - 1,
                domain: format!("({n} domains: {e})"),
            })?;
            Some(deny)
        } else {
            None
        };
        Ok(Detectors {
            enabled,
            url_deny,
            custom,
        })
    }

    /// Appends findings for `text` to `out` (sorted by start, then filter). Must not allocate
    /// per call beyond `out` growth and small scratch where unavoidable.
    pub fn scan(&self, text: &str, out: &mut Vec<Finding>) {
        self.scan_at(text, true, out);
    }

    /// [`Self::scan`]; `at_stream_start` says whether offset 0 is the start of the document.
    fn scan_at(&self, text: &str, at_stream_start: bool, out: &mut Vec<Finding>) {
        let first = out.len();
        let on = |f: Filter| self.enabled & f.bit() != 0;
        for (filter, detect) in SIMPLE {
            if on(filter) {
                detect(text, out);
            }
        }
        if on(Filter::PromptInjection) {
            injection::detect(text, out);
        }
        if on(Filter::InvisibleUnicode) {
            unicode::detect(text, at_stream_start, out);
        }
        if let Some(deny) = &self.url_deny {
            deny.detect(text, out);
        }
        for c in &self.custom {
            c.detect(text, out);
        }
        out[first..].sort_by(|a, b| (a.start, &a.filter, a.end).cmp(&(b.start, &b.filter, b.end)));
    }
}
