//! `poolpilot guard scan`: a policy tried on text before it is turned on. JSON
//! lines `{"id", "text"}` in; `{"id", "verdict", "findings"}` out, by the chain's
//! local filters and confidence threshold (the external checker is not called).

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

use super::config::{GuardConfig, GuardEvent};
use super::detect::{Confidence, DetectError, Detectors, Finding};

/// Why a scan stopped.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("router.guard has no chains")]
    NoChains,
    #[error("router.guard has no chain {0:?}")]
    NoSuchChain(String),
    #[error("chain {chain:?} does not check {event}s")]
    NotChecked { chain: String, event: &'static str },
    #[error("chain {chain:?}: {source}")]
    Filters { chain: String, source: DetectError },
    #[error("input line {line}: {reason}")]
    Input { line: usize, reason: String },
    #[error("output: {0}")]
    Output(#[from] std::io::Error),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Item {
    id: serde_json::Value,
    text: String,
}

#[derive(Serialize)]
struct Scanned<'a> {
    id: &'a serde_json::Value,
    verdict: &'static str,
    findings: Vec<Spot<'a>>,
}

#[derive(Serialize)]
struct Spot<'a> {
    filter: &'a str,
    start: usize,
    end: usize,
    confidence: Confidence,
}

/// Counts of one scan.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub scanned: usize,
    pub blocked: usize,
}

/// Scans every line of `input` with chain `chain` (the first one when `None`);
/// findings below the chain's confidence are listed but do not block.
pub fn scan(
    config: &GuardConfig,
    chain: Option<&str>,
    event: GuardEvent,
    input: impl BufRead,
    mut output: impl Write,
) -> Result<Summary, ScanError> {
    let c = match chain {
        Some(name) => config
            .chains
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| ScanError::NoSuchChain(name.to_owned()))?,
        None => config.chains.first().ok_or(ScanError::NoChains)?,
    };
    if !c.events.contains(&event) {
        let event = match event {
            GuardEvent::Prompt => "prompt",
            GuardEvent::Response => "response",
        };
        return Err(ScanError::NotChecked {
            chain: c.name.clone(),
            event,
        });
    }
    let detectors = Detectors::new(&c.template.local).map_err(|source| ScanError::Filters {
        chain: c.name.clone(),
        source,
    })?;
    let mut summary = Summary::default();
    let mut findings: Vec<Finding> = Vec::new();
    for (n, line) in input.lines().enumerate() {
        let line = line.map_err(|e| ScanError::Input {
            line: n + 1,
            reason: e.to_string(),
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let item: Item = serde_json::from_str(&line).map_err(|e| ScanError::Input {
            line: n + 1,
            reason: format!("expected {{\"id\", \"text\"}}: {e}"),
        })?;
        findings.clear();
        detectors.scan(&item.text, &mut findings);
        let block = findings
            .iter()
            .any(|f| f.confidence >= c.template.min_confidence);
        summary.scanned += 1;
        summary.blocked += usize::from(block);
        let scanned = Scanned {
            id: &item.id,
            verdict: if block { "block" } else { "allow" },
            findings: findings
                .iter()
                .map(|f| Spot {
                    filter: &f.filter,
                    start: f.start,
                    end: f.end,
                    confidence: f.confidence,
                })
                .collect(),
        };
        serde_json::to_writer(&mut output, &scanned).map_err(std::io::Error::from)?;
        output.write_all(b"\n")?;
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::ChainConfig;

    fn config(yaml: &str) -> GuardConfig {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn each_line_gets_a_verdict_and_byte_ranges() {
        let config = config("chains:\n  - name: pii\n    template: { min_confidence: high }\n");
        let input = concat!(
            "{\"id\": 1, \"text\": \"pay with 4111 1111 1111 1111\"}\n",
            "\n",
            "{\"id\": \"b\", \"text\": \"order #4111-2222\"}\n",
        );
        let mut out = Vec::new();
        let summary = scan(
            &config,
            None,
            GuardEvent::Prompt,
            input.as_bytes(),
            &mut out,
        )
        .unwrap();
        assert_eq!(
            summary,
            Summary {
                scanned: 2,
                blocked: 1
            }
        );
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["verdict"], "block");
        assert_eq!(lines[0]["findings"][0]["filter"], "card_number");
        assert_eq!(lines[0]["findings"][0]["start"], 9);
        assert_eq!(lines[0]["findings"][0]["end"], 28);
        assert_eq!(lines[1]["id"], "b");
        assert_eq!(lines[1]["verdict"], "allow");
    }

    #[test]
    fn bad_input_and_unknown_chains_are_named() {
        let config = config("chains:\n  - name: pii\n    events: [prompt]\n");
        let err = scan(
            &config,
            None,
            GuardEvent::Prompt,
            "{\"id\":1}\n".as_bytes(),
            Vec::new(),
        );
        assert!(
            matches!(err, Err(ScanError::Input { line: 1, .. })),
            "{err:?}"
        );
        let err = scan(
            &config,
            Some("nope"),
            GuardEvent::Prompt,
            "".as_bytes(),
            Vec::new(),
        );
        assert!(matches!(err, Err(ScanError::NoSuchChain(_))), "{err:?}");
        let err = scan(
            &config,
            None,
            GuardEvent::Response,
            "".as_bytes(),
            Vec::new(),
        );
        assert!(matches!(err, Err(ScanError::NotChecked { .. })), "{err:?}");
        let empty = GuardConfig {
            chains: Vec::<ChainConfig>::new(),
            ..GuardConfig::default()
        };
        let err = scan(&empty, None, GuardEvent::Prompt, "".as_bytes(), Vec::new());
        assert!(matches!(err, Err(ScanError::NoChains)), "{err:?}");
    }
}
