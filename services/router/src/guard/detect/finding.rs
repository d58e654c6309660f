//! Finding, confidence and filter identifiers shared by every detector.

use serde::{Deserialize, Serialize};

/// How sure a detector is; ordered `Low < Medium < High`.
///
/// Mirrors Model Armor's `LOW_AND_ABOVE` / `MEDIUM_AND_ABOVE` / `HIGH` thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// Weak signal; only reported by `LOW_AND_ABOVE` policies.
    Low,
    /// Plausible match without a strong validation (checksum, context).
    Medium,
    /// Validated match (checksum, strict format, multiple signals).
    High,
}

/// One detected span.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Filter name: [`Filter::name`] or `custom:<name>`.
    pub filter: String,
    /// Start byte offset in the scanned text (char boundary).
    pub start: usize,
    /// End byte offset, exclusive (char boundary).
    pub end: usize,
    /// How sure the detector is.
    pub confidence: Confidence,
}

/// The built-in filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    /// Payment card numbers (Luhn + IIN prefix).
    CardNumber,
    /// US social security numbers.
    UsSsn,
    /// International bank account numbers (length table + mod-97).
    Iban,
    /// E-mail addresses.
    Email,
    /// Phone numbers (E.164 and North American).
    Phone,
    /// AWS access key ids and secret access keys.
    AwsAccessKey,
    /// Google API keys (`AIza…`).
    GcpApiKey,
    /// Google service-account JSON key files.
    GcpServiceAccount,
    /// GitHub personal, OAuth, app and fine-grained tokens.
    GithubToken,
    /// Slack tokens (`xox?-…`).
    SlackToken,
    /// OpenAI (and Anthropic-style) secret API keys (`sk-…`).
    OpenaiKey,
    /// PEM / OpenSSH / PGP private key blocks.
    PrivateKey,
    /// JSON Web Tokens whose header and payload decode to JSON objects.
    Jwt,
    /// Prompt-injection / jailbreak phrasings.
    PromptInjection,
    /// Invisible Unicode: tag characters, zero-width and bidi controls.
    InvisibleUnicode,
    /// URLs and host names under a denied domain.
    UrlDeny,
}

impl Filter {
    /// Every built-in filter, in declaration order.
    pub const ALL: [Filter; 16] = [
        Filter::CardNumber,
        Filter::UsSsn,
        Filter::Iban,
        Filter::Email,
        Filter::Phone,
        Filter::AwsAccessKey,
        Filter::GcpApiKey,
        Filter::GcpServiceAccount,
        Filter::GithubToken,
        Filter::SlackToken,
        Filter::OpenaiKey,
        Filter::PrivateKey,
        Filter::Jwt,
        Filter::PromptInjection,
        Filter::InvisibleUnicode,
        Filter::UrlDeny,
    ];

    /// Sensitive data and credentials (the filters held to 0.98 precision and recall
    /// on the corpus), as opposed to injection, Unicode and URL filters.
    pub fn is_sensitive_data(self) -> bool {
        !matches!(
            self,
            Filter::PromptInjection | Filter::InvisibleUnicode | Filter::UrlDeny
        )
    }

    /// The snake_case name used in configuration and in [`Finding::filter`].
    pub fn name(self) -> &'static str {
        match self {
            Filter::CardNumber => "card_number",
            Filter::UsSsn => "us_ssn",
            Filter::Iban => "iban",
            Filter::Email => "email",
            Filter::Phone => "phone",
            Filter::AwsAccessKey => "aws_access_key",
            Filter::GcpApiKey => "gcp_api_key",
            Filter::GcpServiceAccount => "gcp_service_account",
            Filter::GithubToken => "github_token",
            Filter::SlackToken => "slack_token",
            Filter::OpenaiKey => "openai_key",
            Filter::PrivateKey => "private_key",
            Filter::Jwt => "jwt",
            Filter::PromptInjection => "prompt_injection",
            Filter::InvisibleUnicode => "invisible_unicode",
            Filter::UrlDeny => "url_deny",
        }
    }

    /// Bit of this filter in a [`super::Detectors`] enable mask.
    pub(super) fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// Appends a built-in finding.
pub(super) fn push(
    out: &mut Vec<Finding>,
    filter: Filter,
    start: usize,
    end: usize,
    confidence: Confidence,
) {
    out.push(Finding {
        filter: filter.name().to_owned(),
        start,
        end,
        confidence,
    });
}
