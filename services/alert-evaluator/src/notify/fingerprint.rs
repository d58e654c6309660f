//! How Alertmanager identifies a label set: its FNV-1a fingerprint
//! (`prometheus/common/model/signature.go`) and its `String()` form
//! (`labelset.go`), which group keys are built from.

use std::collections::BTreeMap;

const OFFSET64: u64 = 14_695_981_039_346_656_037;
const PRIME64: u64 = 1_099_511_628_211;
const SEPARATOR: u8 = 0xff;

/// `model.LabelSet.Fingerprint`: FNV-1a 64 over the names in sorted order, each
/// name and value followed by a 0xff byte. A `BTreeMap` already iterates sorted.
pub fn fingerprint(labels: &BTreeMap<String, String>) -> u64 {
    labels.iter().fold(OFFSET64, |hash, (name, value)| {
        let hash = add(add(hash, name.as_bytes()), &[SEPARATOR]);
        add(add(hash, value.as_bytes()), &[SEPARATOR])
    })
}

fn add(hash: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(hash, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME64))
}

/// `model.Fingerprint.String`: 16 lowercase hex digits.
pub fn fingerprint_hex(fingerprint: u64) -> String {
    format!("{fingerprint:016x}")
}

/// `model.LabelSet.String`: `{a="1", b="2"}`, names sorted, values quoted as Go's `%q`.
pub fn label_set_string(labels: &BTreeMap<String, String>) -> String {
    crate::promql::label_set_string(labels.iter().map(|(n, v)| (n.as_str(), v.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// References printed by `github.com/prometheus/common/model` v0.38.0 (the
    /// version Alertmanager 0.25 vendors): `ls.Fingerprint()` and `ls.String()`.
    #[test]
    fn matches_prometheus_common() {
        let cases = [
            (set(&[]), "cbf29ce484222325", "{}"),
            (
                set(&[("alertname", "HighLatency")]),
                "73dbeed5635ea4e4",
                r#"{alertname="HighLatency"}"#,
            ),
            (
                set(&[
                    ("alertname", "HighLatency"),
                    ("severity", "page"),
                    ("pool", "gpu-a"),
                ]),
                "14d2a8b2b5467e5a",
                r#"{alertname="HighLatency", pool="gpu-a", severity="page"}"#,
            ),
            (
                set(&[
                    ("alertname", "X"),
                    ("job", "api"),
                    ("instance", "10.0.0.1:9090"),
                ]),
                "89dfab82580e19ac",
                r#"{alertname="X", instance="10.0.0.1:9090", job="api"}"#,
            ),
            (
                set(&[("a", ""), ("b", "ü\"\\\n\t")]),
                "c6b43ab1a61a6542",
                r#"{a="", b="ü\"\\\n\t"}"#,
            ),
            (
                set(&[(
                    "v",
                    "\u{0}\u{7}\u{8}\u{c}\u{b}\u{1b}\u{7f}\u{85}\u{a0}\u{ad}\u{200b}\u{2028}\u{3000}\u{feff}😀é\u{e0001}",
                )]),
                "95f90307aab578df",
                r#"{v="\x00\a\b\f\v\x1b\x7f\u0085\u00a0\u00ad\u200b\u2028\u3000\ufeff😀é\U000e0001"}"#,
            ),
        ];
        for (labels, hex, string) in cases {
            assert_eq!(fingerprint_hex(fingerprint(&labels)), hex, "{labels:?}");
            assert_eq!(label_set_string(&labels), string);
        }
    }

    /// Fingerprints Alertmanager 0.25 itself put in the captured webhook body.
    #[test]
    fn matches_alertmanager_webhook() {
        let b = set(&[
            ("alertname", "HighLatency"),
            ("job", "api"),
            ("pool", "gpu-b"),
            ("severity", "page"),
        ]);
        let c = set(&[
            ("alertname", "HighLatency"),
            ("pool", "gpu-c"),
            ("severity", "warning"),
        ]);
        assert_eq!(fingerprint_hex(fingerprint(&b)), "06fa040f2d688532");
        assert_eq!(fingerprint_hex(fingerprint(&c)), "ea212c580572b0d9");
    }
}
