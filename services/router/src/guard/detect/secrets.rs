//! Credentials: cloud keys, VCS / chat / LLM API tokens, private keys and JWTs.

use std::sync::LazyLock;

use regex::Regex;

use super::finding::{Confidence, Filter, Finding, push};
use super::json::b64url_is_json_object;
use super::span::{char_at, char_before, is_word};

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap()
}

static AWS_KEY_ID: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?-u)\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"));
static AWS_SECRET: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i:(?:aws_?)?secret_?access_?key|aws_?secret(?:_?key)?)["']?\s*[:=]\s*["']?([A-Za-z0-9/+]{40})"#,
    )
});
static GCP_API_KEY: LazyLock<Regex> = LazyLock::new(|| re(r"(?-u)\bAIza[0-9A-Za-z_\-]{35}"));
static GCP_SA_TYPE: LazyLock<Regex> =
    LazyLock::new(|| re(r#"(?-u)"type"\s*:\s*"service_account""#));
static GCP_SA_KEY: LazyLock<Regex> = LazyLock::new(|| re(r#"(?-u)"private_key"\s*:\s*""#));
static GITHUB: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?-u)\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{82})\b"));
static SLACK: LazyLock<Regex> = LazyLock::new(|| re(r"(?-u)\bxox[abprs]-[A-Za-z0-9-]{10,}"));
static OPENAI: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?-u)\bsk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}|ant-[a-z]+\d\d-[A-Za-z0-9_-]{20,}|[A-Za-z0-9]{20,})",
    )
});
static PEM_BEGIN: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?-u)-----BEGIN ((?:(?:RSA|EC|DSA|OPENSSH|ENCRYPTED|PGP) )?PRIVATE KEY(?: BLOCK)?)-----")
});
static JWT: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?-u)\beyJ[A-Za-z0-9_-]+\.(eyJ[A-Za-z0-9_-]+)\.[A-Za-z0-9_-]+"));

/// True when the token at `start..end` is not glued to more token chars (`also` included).
fn standalone(text: &str, start: usize, end: usize, also: &[char]) -> bool {
    let glued = |c: char| is_word(c) || also.contains(&c);
    !char_before(text, start).is_some_and(glued) && !char_at(text, end).is_some_and(glued)
}

/// Appends `aws_access_key` findings: key ids, and 40-char secrets right after a
/// secret-access-key name (both High).
pub(super) fn detect_aws(text: &str, out: &mut Vec<Finding>) {
    for m in AWS_KEY_ID.find_iter(text) {
        push(
            out,
            Filter::AwsAccessKey,
            m.start(),
            m.end(),
            Confidence::High,
        );
    }
    for caps in AWS_SECRET.captures_iter(text) {
        let Some(s) = caps.get(1) else { continue };
        let v = s.as_str();
        let mixed =
            v.bytes().any(|c| c.is_ascii_uppercase()) && v.bytes().any(|c| c.is_ascii_lowercase());
        // `=` introduces the value; after it, `=` would mean a longer base64 string.
        let bounded = standalone(text, s.start(), s.end(), &['/', '+'])
            && char_at(text, s.end()) != Some('=');
        if mixed && bounded {
            push(
                out,
                Filter::AwsAccessKey,
                s.start(),
                s.end(),
                Confidence::High,
            );
        }
    }
}

/// Appends `gcp_api_key` findings (High).
pub(super) fn detect_gcp_api_key(text: &str, out: &mut Vec<Finding>) {
    for m in GCP_API_KEY.find_iter(text) {
        if standalone(text, m.start(), m.end(), &['-']) {
            push(out, Filter::GcpApiKey, m.start(), m.end(), Confidence::High);
        }
    }
}

/// Appends `gcp_service_account` findings (High) when the text has `"type": "service_account"`
/// and a `"private_key"` member: the range is the private key's JSON string literal, quotes
/// included (up to the end of the text if unterminated).
pub(super) fn detect_gcp_service_account(text: &str, out: &mut Vec<Finding>) {
    if !GCP_SA_TYPE.is_match(text) {
        return;
    }
    for m in GCP_SA_KEY.find_iter(text) {
        let open = m.end() - 1;
        push(
            out,
            Filter::GcpServiceAccount,
            open,
            json_string_end(text, open),
            Confidence::High,
        );
    }
}

/// End (exclusive) of the JSON string literal whose opening quote is at `open`.
fn json_string_end(text: &str, open: usize) -> usize {
    let b = text.as_bytes();
    let mut i = open + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    text.len()
}

/// Appends `github_token` findings (High).
pub(super) fn detect_github(text: &str, out: &mut Vec<Finding>) {
    for m in GITHUB.find_iter(text) {
        push(
            out,
            Filter::GithubToken,
            m.start(),
            m.end(),
            Confidence::High,
        );
    }
}

/// Appends `slack_token` findings (High); trailing hyphens are not part of the token.
pub(super) fn detect_slack(text: &str, out: &mut Vec<Finding>) {
    for m in SLACK.find_iter(text) {
        let end = m.start() + m.as_str().trim_end_matches('-').len();
        if end - m.start() >= 15 && standalone(text, m.start(), m.end(), &[]) {
            push(out, Filter::SlackToken, m.start(), end, Confidence::High);
        }
    }
}

/// Appends `openai_key` findings (High): `sk-…` with ≥ 20 alphanumerics including a digit,
/// `sk-proj-` / `sk-svcacct-` / `sk-admin-` keys and Anthropic `sk-ant-api03-` keys.
pub(super) fn detect_openai(text: &str, out: &mut Vec<Finding>) {
    for m in OPENAI.find_iter(text) {
        let body = &m.as_str()[3..];
        let has_digit = body.bytes().any(|c| c.is_ascii_digit());
        if has_digit && standalone(text, m.start(), m.end(), &['-']) {
            push(out, Filter::OpenaiKey, m.start(), m.end(), Confidence::High);
        }
    }
}

/// Appends `private_key` findings: a BEGIN … END block → High (whole block); a BEGIN line
/// without its END → Medium (header only).
pub(super) fn detect_private_key(text: &str, out: &mut Vec<Finding>) {
    let mut from = 0;
    while let Some(caps) = PEM_BEGIN.captures_at(text, from) {
        let (Some(m), Some(label)) = (caps.get(0), caps.get(1)) else {
            break;
        };
        let rest = &text[m.end()..];
        let footer = rest.match_indices("-----END ").find_map(|(i, _)| {
            let tail = &rest[i + "-----END ".len()..];
            let close = tail.strip_prefix(label.as_str())?.starts_with("-----");
            close.then(|| m.end() + i + "-----END ".len() + label.len() + "-----".len())
        });
        match footer {
            Some(end) => {
                push(out, Filter::PrivateKey, m.start(), end, Confidence::High);
                from = end;
            }
            None => {
                push(
                    out,
                    Filter::PrivateKey,
                    m.start(),
                    m.end(),
                    Confidence::Medium,
                );
                from = m.end();
            }
        }
    }
}

/// Appends `jwt` findings (High) for three-segment tokens whose first two segments
/// base64url-decode to JSON objects.
pub(super) fn detect_jwt(text: &str, out: &mut Vec<Finding>) {
    for caps in JWT.captures_iter(text) {
        let (Some(m), Some(payload)) = (caps.get(0), caps.get(1)) else {
            continue;
        };
        let header = &text[m.start()..payload.start() - 1];
        if b64url_is_json_object(header) && b64url_is_json_object(payload.as_str()) {
            push(out, Filter::Jwt, m.start(), m.end(), Confidence::High);
        }
    }
}
