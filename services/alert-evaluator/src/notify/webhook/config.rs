//! What the user writes to configure one webhook, with Alertmanager-like defaults
//! and validation.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::Url;
use serde::{Deserialize, Serialize};

/// `group_by: ["..."]` groups by every label, as in Alertmanager.
pub const GROUP_BY_ALL: &str = "...";

/// One webhook receiver. Durations are Prometheus-style strings (`"500ms"`, `"10s"`, `"5m"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    /// The receiver name in the body and in metrics; defaults to the URL's `host:port` (or host).
    #[serde(default)]
    pub name: Option<String>,
    /// Labels to group by; `["..."]` groups by all labels.
    #[serde(default = "default_group_by")]
    pub group_by: Vec<String>,
    #[serde(default, with = "shared::config::duration")]
    pub group_wait: Duration,
    #[serde(default = "default_group_interval", with = "shared::config::duration")]
    pub group_interval: Duration,
    #[serde(default = "default_repeat_interval", with = "shared::config::duration")]
    pub repeat_interval: Duration,
    #[serde(default = "yes")]
    pub send_resolved: bool,
    /// 0 sends all alerts; otherwise the rest is counted in `truncatedAlerts`.
    #[serde(default)]
    pub max_alerts: usize,
    /// Per HTTP attempt.
    #[serde(default = "default_timeout", with = "shared::config::duration")]
    pub timeout: Duration,
    #[serde(default)]
    pub bearer_token: Option<String>,
    /// Signs each request; see the `sender` module for how a receiver verifies it.
    #[serde(default)]
    pub hmac_secret: Option<String>,
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// First retry delay, doubling per attempt up to `max_backoff`.
    #[serde(default = "default_initial_backoff", with = "shared::config::duration")]
    pub initial_backoff: Duration,
    #[serde(default = "default_max_backoff", with = "shared::config::duration")]
    pub max_backoff: Duration,
    /// Notifications waiting for delivery before the oldest is dropped.
    #[serde(default = "default_queue")]
    pub queue: usize,
}

fn default_group_by() -> Vec<String> {
    vec!["alertname".into()]
}
fn default_group_interval() -> Duration {
    Duration::from_secs(5)
}
fn default_repeat_interval() -> Duration {
    Duration::from_secs(4 * 3600)
}
fn yes() -> bool {
    true
}
fn default_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_max_attempts() -> u32 {
    5
}
fn default_initial_backoff() -> Duration {
    Duration::from_millis(500)
}
fn default_max_backoff() -> Duration {
    Duration::from_secs(30)
}
fn default_queue() -> usize {
    1000
}

impl WebhookConfig {
    /// A config for `url` with every other field at its default.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            name: None,
            group_by: default_group_by(),
            group_wait: Duration::ZERO,
            group_interval: default_group_interval(),
            repeat_interval: default_repeat_interval(),
            send_resolved: true,
            max_alerts: 0,
            timeout: default_timeout(),
            bearer_token: None,
            hmac_secret: None,
            max_attempts: default_max_attempts(),
            initial_backoff: default_initial_backoff(),
            max_backoff: default_max_backoff(),
            queue: default_queue(),
        }
    }

    /// `name`, or the URL's host, with its port when the URL names one.
    pub fn receiver_name(&self) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        match Url::parse(&self.url) {
            Ok(url) => match (url.host_str(), url.port()) {
                (Some(host), Some(port)) => format!("{host}:{port}"),
                (Some(host), None) => host.to_owned(),
                (None, _) => "webhook".to_owned(),
            },
            Err(_) => "webhook".to_owned(),
        }
    }

    /// Everything wrong with this config, as (field, message); empty when valid.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let mut problem = |field: &str, message: String| problems.push((field.to_owned(), message));

        match Url::parse(&self.url) {
            Err(e) => problem("url", format!("not a valid URL: {e}")),
            Ok(url) if !matches!(url.scheme(), "http" | "https") => problem(
                "url",
                format!("scheme must be http or https, not {:?}", url.scheme()),
            ),
            Ok(url) if url.host_str().is_none_or(str::is_empty) => {
                problem("url", "has no host".into());
            }
            Ok(_) => {}
        }
        if self.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            problem("name", "must not be empty when set".into());
        }

        let mut seen = BTreeSet::new();
        for label in &self.group_by {
            if label == GROUP_BY_ALL {
                if self.group_by.len() > 1 {
                    problem(
                        "group_by",
                        format!("{GROUP_BY_ALL:?} groups by all labels and must be the only entry"),
                    );
                }
            } else if !crate::promql::is_valid_label_name(label) {
                problem("group_by", format!("{label:?} is not a valid label name"));
            } else if !seen.insert(label) {
                problem("group_by", format!("{label:?} is listed twice"));
            }
        }

        for (field, value) in [
            ("group_interval", self.group_interval),
            ("repeat_interval", self.repeat_interval),
            ("timeout", self.timeout),
            ("initial_backoff", self.initial_backoff),
            ("max_backoff", self.max_backoff),
        ] {
            if value.is_zero() {
                problem(field, "must be greater than zero".into());
            }
        }
        if self.initial_backoff > self.max_backoff {
            problem(
                "initial_backoff",
                "must not be greater than max_backoff".into(),
            );
        }
        if self.max_attempts == 0 {
            problem("max_attempts", "must be at least 1".into());
        }
        if self.queue == 0 {
            problem("queue", "must be at least 1".into());
        }
        for (field, value) in [
            ("bearer_token", &self.bearer_token),
            ("hmac_secret", &self.hmac_secret),
        ] {
            if value.as_deref().is_some_and(str::is_empty) {
                problem(field, "must not be empty when set".into());
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn defaults_from_a_minimal_config() -> TestResult {
        let config: WebhookConfig =
            serde_json::from_str(r#"{"url": "https://hooks.example.com/x"}"#)?;
        assert_eq!(config, WebhookConfig::new("https://hooks.example.com/x"));
        assert_eq!(config.group_by, ["alertname"]);
        assert_eq!(config.group_interval, Duration::from_secs(5));
        assert_eq!(config.repeat_interval, Duration::from_secs(14_400));
        assert_eq!(config.initial_backoff, Duration::from_millis(500));
        assert_eq!(config.receiver_name(), "hooks.example.com");
        assert!(config.problems().is_empty());
        Ok(())
    }

    #[test]
    fn durations_and_names() -> TestResult {
        let config: WebhookConfig = serde_json::from_str(
            r#"{"url": "http://127.0.0.1:8080/hook", "group_wait": "30s", "group_interval": "1m30s",
                "repeat_interval": "1d", "initial_backoff": "250ms", "group_by": ["..."]}"#,
        )?;
        assert_eq!(config.group_wait, Duration::from_secs(30));
        assert_eq!(config.group_interval, Duration::from_secs(90));
        assert_eq!(config.repeat_interval, Duration::from_secs(86_400));
        assert_eq!(config.receiver_name(), "127.0.0.1:8080");
        assert!(config.problems().is_empty());
        let text = serde_json::to_string(&config)?;
        assert!(text.contains(r#""group_interval":"1m30s""#), "{text}");
        Ok(())
    }

    #[test]
    fn rejects_unknown_fields_and_bad_durations() {
        for text in [
            r#"{"url": "http://x", "grup_by": []}"#,
            r#"{"url": "http://x", "timeout": "10"}"#,
            r#"{"url": "http://x", "timeout": 10}"#,
        ] {
            assert!(
                serde_json::from_str::<WebhookConfig>(text).is_err(),
                "{text}"
            );
        }
    }

    #[test]
    fn problems_name_the_field() {
        let config = WebhookConfig {
            name: Some(" ".into()),
            group_by: vec!["...".into(), "job".into(), "job".into(), "1x".into()],
            group_interval: Duration::ZERO,
            timeout: Duration::ZERO,
            max_attempts: 0,
            initial_backoff: Duration::from_secs(60),
            queue: 0,
            hmac_secret: Some(String::new()),
            ..WebhookConfig::new("ftp://example.com/")
        };
        let fields: Vec<String> = config.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            [
                "url",
                "name",
                "group_by",
                "group_by",
                "group_by",
                "group_interval",
                "timeout",
                "initial_backoff",
                "max_attempts",
                "queue",
                "hmac_secret"
            ]
        );
        let bad_url = WebhookConfig::new("not a url");
        assert_eq!(bad_url.problems().len(), 1);
        assert_eq!(bad_url.receiver_name(), "webhook");
    }
}
