//! Corpus evaluation: per-filter TP/FP/FN at the text level over
//! `testdata/guard/corpus.jsonl`, with precision/recall thresholds.

use std::collections::{BTreeMap, BTreeSet};

use router::guard::detect::{Detectors, DetectorsConfig, Filter};

const CORPUS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/testdata/guard/corpus.jsonl"
));

/// Domains the corpus' url_deny cases are written against.
const DENY: [&str; 3] = ["evil-corp.com", "pastebin.com", "exfil.attacker.net"];

#[derive(Default, Clone, Copy)]
struct Counts {
    tp: usize,
    fp: usize,
    fn_: usize,
}

impl Counts {
    fn precision(self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    fn recall(self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

#[test]
fn corpus_precision_recall() {
    let mut config = DetectorsConfig::default();
    config.filters.push(Filter::UrlDeny);
    config.deny_domains = DENY.iter().map(|d| d.to_string()).collect();
    let detectors = Detectors::new(&config).expect("corpus config builds");

    let mut counts: BTreeMap<String, Counts> = Filter::ALL
        .iter()
        .map(|f| (f.name().to_string(), Counts::default()))
        .collect();
    let mut mistakes = Vec::new();
    let mut lines = 0;
    let mut findings = Vec::new();
    for line in CORPUS.lines().filter(|l| !l.trim().is_empty()) {
        lines += 1;
        let row: serde_json::Value = serde_json::from_str(line).expect("corpus line is JSON");
        let id = row["id"].as_str().expect("id");
        let text = row["text"].as_str().expect("text");
        let labels: BTreeSet<String> = row["labels"]
            .as_array()
            .expect("labels")
            .iter()
            .map(|l| l.as_str().expect("label").to_string())
            .collect();
        findings.clear();
        detectors.scan(text, &mut findings);
        for f in &findings {
            assert!(
                text.is_char_boundary(f.start) && text.is_char_boundary(f.end) && f.start < f.end,
                "{id}: bad range {f:?}"
            );
        }
        let fired: BTreeSet<String> = findings.iter().map(|f| f.filter.clone()).collect();
        for name in labels.union(&fired) {
            let c = counts.entry(name.clone()).or_default();
            match (labels.contains(name), fired.contains(name)) {
                (true, true) => c.tp += 1,
                (false, true) => {
                    c.fp += 1;
                    mistakes.push(format!("FP {name:18} {id}: {}", excerpt(text)));
                }
                (true, false) => {
                    c.fn_ += 1;
                    mistakes.push(format!("FN {name:18} {id}: {}", excerpt(text)));
                }
                (false, false) => {}
            }
        }
    }

    println!("corpus: {lines} texts");
    println!(
        "{:20} {:>4} {:>4} {:>4} {:>9} {:>7}",
        "filter", "tp", "fp", "fn", "precision", "recall"
    );
    let mut pooled = Counts::default();
    for (name, c) in &counts {
        println!(
            "{name:20} {:>4} {:>4} {:>4} {:>9.3} {:>7.3}",
            c.tp,
            c.fp,
            c.fn_,
            c.precision(),
            c.recall()
        );
        if Filter::ALL
            .iter()
            .any(|f| f.is_sensitive_data() && f.name() == name)
        {
            pooled.tp += c.tp;
            pooled.fp += c.fp;
            pooled.fn_ += c.fn_;
        }
    }
    println!(
        "{:20} {:>4} {:>4} {:>4} {:>9.3} {:>7.3}",
        "sensitive (pooled)",
        pooled.tp,
        pooled.fp,
        pooled.fn_,
        pooled.precision(),
        pooled.recall()
    );
    for m in &mistakes {
        println!("{m}");
    }

    assert!(lines >= 320, "corpus has {lines} lines");
    assert!(
        pooled.precision() >= 0.98 && pooled.recall() >= 0.98,
        "pooled sensitive-data precision/recall too low"
    );
    for f in Filter::ALL.iter().filter(|f| f.is_sensitive_data()) {
        let c = counts[f.name()];
        if c.tp + c.fn_ >= 10 {
            assert!(
                c.precision() >= 0.98,
                "{} precision {:.3}",
                f.name(),
                c.precision()
            );
            assert!(c.recall() >= 0.98, "{} recall {:.3}", f.name(), c.recall());
        }
    }
    let inj = counts[Filter::PromptInjection.name()];
    assert!(
        inj.precision() >= 0.90,
        "prompt_injection precision {:.3}",
        inj.precision()
    );
}

fn excerpt(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    one_line.chars().take(90).collect()
}
