use serde_json::json;

use super::{Armor, ArmorConfig, ArmorError, Verdict, template_url, verdict};

const TEMPLATE: &str = "https://modelarmor.us-central1.rep.googleapis.com/v1/projects/P/locations/us-central1/templates/T";

fn read(answer: serde_json::Value, accept_partial: bool) -> Result<Verdict, ArmorError> {
    verdict(answer.to_string().as_bytes(), accept_partial)
}

fn config(url: &str) -> ArmorConfig {
    ArmorConfig {
        url: url.to_owned(),
        bearer_token_env: None,
        accept_partial: false,
    }
}

#[test]
fn armor_is_clone_send_sync() {
    fn assert<T: Clone + Send + Sync>() {}
    assert::<Armor>();
}

#[test]
fn template_urls() {
    assert_eq!(template_url(TEMPLATE).unwrap(), TEMPLATE);
    assert_eq!(template_url(&format!("{TEMPLATE}/")).unwrap(), TEMPLATE);
    template_url("http://127.0.0.1:8080/v1/projects/p/locations/l/templates/t").unwrap();
    for bad in [
        "ftp://h/v1/projects/p/locations/l/templates/t",
        "http://h/v1/projects/p/locations/l",
        "http://h/v1/projects/p/locations/l/templates/t:sanitizeUserPrompt",
        "http://h/v1/projects/p/locations/l/templates/t?x=1",
        "http://h/v1/projects//locations/l/templates/t",
        "modelarmor.googleapis.com/v1/projects/p/locations/l/templates/t",
    ] {
        assert!(
            matches!(template_url(bad), Err(ArmorError::InvalidUrl { .. })),
            "{bad} accepted"
        );
    }
}

#[test]
fn new_builds_method_urls() {
    let armor = Armor::new(&config(TEMPLATE)).unwrap();
    assert_eq!(
        armor.inner.prompt_url.as_str(),
        format!("{TEMPLATE}:sanitizeUserPrompt")
    );
    assert_eq!(
        armor.inner.response_url.as_str(),
        format!("{TEMPLATE}:sanitizeModelResponse")
    );
    assert!(armor.inner.authorization.is_none());
}

#[test]
fn missing_token_variable_is_an_error() {
    let mut config = config(TEMPLATE);
    config.bearer_token_env = Some("POOLPILOT_GUARD_TEST_SURELY_UNSET_VARIABLE".to_owned());
    let error = Armor::new(&config).unwrap_err();
    assert!(matches!(error, ArmorError::Token { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("POOLPILOT_GUARD_TEST_SURELY_UNSET_VARIABLE"),
        "{error}"
    );
}

#[test]
fn config_from_json() {
    let config: ArmorConfig = serde_json::from_value(json!({"url": TEMPLATE})).unwrap();
    assert_eq!(config, self::config(TEMPLATE));
    let unknown = serde_json::from_value::<ArmorConfig>(json!({"url": TEMPLATE, "timeout": "1s"}));
    assert!(unknown.is_err());
}

#[test]
fn no_match() {
    let answer = json!({"sanitizationResult": {
        "filterMatchState": "NO_MATCH_FOUND",
        "filterResults": {
            "rai": {"raiFilterResult": {"executionState": "EXECUTION_SUCCESS", "matchState": "NO_MATCH_FOUND"}},
            "csam": {"csamFilterFilterResult": {"executionState": "EXECUTION_SUCCESS", "matchState": "NO_MATCH_FOUND"}}
        },
        "invocationResult": "SUCCESS",
        "sanitizationMetadata": {}
    }});
    assert_eq!(read(answer, false).unwrap(), Verdict::default());
}

#[test]
fn match_lists_every_matching_filter_kind() {
    let answer = json!({"sanitizationResult": {
        "filterMatchState": "MATCH_FOUND",
        "filterResults": {
            "rai": {"raiFilterResult": {"matchState": "MATCH_FOUND", "raiFilterTypeResults": {
                "dangerous": {"confidenceLevel": "HIGH", "matchState": "MATCH_FOUND"}}}},
            "sdp": {"sdpFilterResult": {"inspectResult": {"executionState": "EXECUTION_SUCCESS", "matchState": "MATCH_FOUND",
                "findings": [{"infoType": "US_SOCIAL_SECURITY_NUMBER", "likelihood": "LIKELY"}]}}},
            "pi_and_jailbreak": {"piAndJailbreakFilterResult": {"matchState": "MATCH_FOUND", "confidenceLevel": "MEDIUM_AND_ABOVE"}},
            "malicious_uris": {"maliciousUriFilterResult": {"matchState": "NO_MATCH_FOUND"}},
            "csam": {"csamFilterFilterResult": {"matchState": "MATCH_FOUND"}},
            "virus_scan": {"virusScanFilterResult": {"matchState": "MATCH_FOUND"}},
            "future": {"someNewFilterResult": {"matchState": "MATCH_FOUND"}}
        },
        "invocationResult": "SUCCESS"
    }});
    let verdict = read(answer, false).unwrap();
    assert!(verdict.matched);
    assert_eq!(
        verdict.filters,
        [
            "csam",
            "future",
            "pi_and_jailbreak",
            "rai",
            "sdp",
            "virus_scan"
        ]
    );
}

#[test]
fn sdp_deidentify_counts() {
    let answer = json!({"sanitizationResult": {
        "filterMatchState": "MATCH_FOUND",
        "filterResults": {"sdp": {"sdpFilterResult": {"deidentifyResult": {"matchState": "MATCH_FOUND", "data": {"text": "[REDACTED]"}}}}}
    }});
    assert_eq!(read(answer, false).unwrap().filters, ["sdp"]);
}

#[test]
fn a_matching_filter_outweighs_the_overall_state() {
    let answer = json!({"sanitizationResult": {
        "filterMatchState": "NO_MATCH_FOUND",
        "filterResults": {"rai": {"raiFilterResult": {"matchState": "MATCH_FOUND"}}},
        "invocationResult": "SUCCESS"
    }});
    assert!(read(answer, false).unwrap().matched);
}

#[test]
fn invocation_results() {
    let answer = |invocation: &str| json!({"sanitizationResult": {"filterMatchState": "NO_MATCH_FOUND", "invocationResult": invocation}});
    assert!(
        matches!(read(answer("PARTIAL"), false), Err(ArmorError::Invocation(state)) if state == "PARTIAL")
    );
    assert_eq!(read(answer("PARTIAL"), true).unwrap(), Verdict::default());
    assert!(
        matches!(read(answer("FAILURE"), true), Err(ArmorError::Invocation(state)) if state == "FAILURE")
    );
    assert!(matches!(
        read(answer("SOMETHING_NEW"), true),
        Err(ArmorError::Malformed(_))
    ));
}

#[test]
fn unreadable_answers() {
    for answer in [
        json!({}),
        json!({"sanitizationResult": {}}),
        json!({"sanitizationResult": {"filterMatchState": "FILTER_MATCH_STATE_UNSPECIFIED"}}),
        json!({"sanitizationResult": {"filterMatchState": 2}}),
    ] {
        assert!(
            matches!(read(answer.clone(), false), Err(ArmorError::Malformed(_))),
            "{answer}"
        );
    }
    assert!(matches!(
        verdict(b"{\"sanitizationResult\": ", false),
        Err(ArmorError::Malformed(_))
    ));
}
