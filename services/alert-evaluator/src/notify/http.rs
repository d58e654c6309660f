//! HTTP pieces both shells share: the user agent, the client, and URLs fit for logs.

use reqwest::Url;

/// `User-Agent` of every request.
pub(super) const USER_AGENT: &str = concat!("poolpilot/", env!("CARGO_PKG_VERSION"));

/// The HTTP client of one sender; an error only when TLS cannot be set up, and
/// then every delivery reports it.
pub(super) fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

/// `scheme://host:port/path` without credentials, query or fragment: webhook
/// URLs often carry secrets there.
pub(super) fn redacted(url: &Url) -> String {
    let mut shown = url.clone();
    // Both only fail for URLs that cannot have credentials, which then have none.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_credentials_and_query() -> Result<(), Box<dyn std::error::Error>> {
        let url = Url::parse("https://user:pw@hooks.example.com/x/y?token=abc#f")?;
        assert_eq!(redacted(&url), "https://hooks.example.com/x/y");
        Ok(())
    }
}
