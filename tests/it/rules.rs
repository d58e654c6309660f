//! Our PromQL and rule evaluation against Prometheus's own: every rule unit test in
//! `services/alert-evaluator/testdata/{rules,promql}/` (and the shipped SLO and
//! dashboard recording rules' tests) passes
//! under both `promtool test rules` (Debian's Prometheus 2.42) and `poolpilot rules
//! test`; failing tests and bad rule files are reported as promtool reports them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use poolpilot_tests::{binary, infra, repo_root, shared_dir};

fn testdata(dir: &str) -> PathBuf {
    repo_root()
        .join("services/alert-evaluator/testdata")
        .join(dir)
}

fn run(program: &Path, args: &[&str], dir: &Path) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn test_files() -> Vec<(PathBuf, String)> {
    let mut files: Vec<_> = ["rules", "promql"]
        .into_iter()
        .map(testdata)
        .flat_map(|dir| {
            std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|n| n.ends_with(".test.yaml"))
                .map(move |n| (dir.clone(), n))
        })
        .collect();
    files.sort();
    for shipped in ["slo-alerts.test.yaml", "recording-rules.test.yaml"] {
        files.push((repo_root().join("deploy/prometheus"), shipped.into()));
    }
    files
}

#[test]
fn every_rule_test_passes_under_promtool_and_under_poolpilot() {
    let files = test_files();
    assert!(files.len() >= 18, "{files:?}");
    let mut failures = Vec::new();
    for (dir, file) in &files {
        let promtool = run(&infra().promtool, &["test", "rules", file], dir);
        if !promtool.status.success() {
            failures.push(format!("promtool {file}:\n{}", text(&promtool)));
        }
        let ours = run(&binary(), &["rules", "test", file], dir);
        if !ours.status.success() {
            failures.push(format!("poolpilot {file}:\n{}", text(&ours)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_corpus_seed_rules_are_the_seed_verbatim() {
    let copy = std::fs::read_to_string(testdata("rules").join("seed.rules.yaml")).unwrap();
    let seed = std::fs::read_to_string(shared_dir().join("seed/alerts.yaml")).unwrap();
    let body: String = copy.lines().skip(3).map(|l| format!("{l}\n")).collect();
    assert_eq!(body, seed);
}

/// The error lines of a failing test: promtool splits them over stdout and stderr,
/// we print them on stdout; the lines themselves must be the same, except the text of
/// a PromQL parse error (promql-parser's words, not Prometheus's).
fn failure_lines(out: &Output) -> Vec<String> {
    text(out)
        .lines()
        .filter(|l| l.starts_with("    "))
        .map(|l| match l.split_once(", err: ") {
            Some((head, _)) if !l.contains("err: labels") => format!("{head}, err: …"),
            _ => l.to_owned(),
        })
        .collect()
}

#[test]
fn failing_tests_are_reported_as_promtool_reports_them() {
    let dir = testdata("bad");
    for file in ["fail_alert.test.yaml", "fail_expr.test.yaml"] {
        let promtool = run(&infra().promtool, &["test", "rules", file], &dir);
        let ours = run(&binary(), &["rules", "test", file], &dir);
        assert!(
            !promtool.status.success() && !ours.status.success(),
            "{file}"
        );
        let (want, got) = (failure_lines(&promtool), failure_lines(&ours));
        assert!(!want.is_empty());
        assert_eq!(got, want, "{file}:\n{}", text(&ours));
    }
}

#[test]
fn rules_check_accepts_what_promtool_accepts_and_names_file_line_for_the_rest() {
    let dir = testdata("bad");
    let ok = run(&binary(), &["rules", "check", "ok.rules.yaml"], &dir);
    let promtool = run(
        &infra().promtool,
        &["check", "rules", "ok.rules.yaml"],
        &dir,
    );
    assert!(ok.status.success() && promtool.status.success());
    let summary = |o: &Output| {
        text(o)
            .lines()
            .find(|l| l.contains("SUCCESS"))
            .map(str::to_owned)
    };
    assert_eq!(summary(&ok), summary(&promtool));

    for (file, line, says) in [
        ("syntax_error.rules.yaml", 6, "could not parse expression"),
        (
            "unknown_function.rules.yaml",
            6,
            "unknown function with name 'rated'",
        ),
        ("bad_for.rules.yaml", 7, "1.5m"),
        (
            "template_error.rules.yaml",
            9,
            "function \"nosuchfunc\" not defined",
        ),
        (
            "missing_expr.rules.yaml",
            5,
            "field 'expr' must be set in rule",
        ),
        ("unknown_field.rules.yaml", 7, "severity"),
        ("duplicate_group.rules.yaml", 7, "repeated in the same file"),
    ] {
        let promtool = run(&infra().promtool, &["check", "rules", file], &dir);
        let ours = run(&binary(), &["rules", "check", file], &dir);
        assert!(!promtool.status.success(), "promtool accepts {file}");
        assert!(!ours.status.success(), "we accept {file}:\n{}", text(&ours));
        let report = text(&ours);
        assert!(report.contains(says), "{file}: {report}");
        let place = format!("{file}:{line}:");
        assert!(report.contains(&place), "{file} names no place: {report}");
    }
}

#[test]
fn the_alert_evaluator_refuses_to_start_on_a_bad_rule_file() {
    let dir = std::env::temp_dir().join(poolpilot_tests::unique("bad-rules"));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("poolpilot.yaml");
    // The kinds of bad rule file the issue names, each with where and what.
    for (file, place, says) in [
        (
            "syntax_error.rules.yaml",
            "6:15",
            "could not parse expression",
        ),
        (
            "unknown_function.rules.yaml",
            "6:15",
            "unknown function with name 'rated'",
        ),
        ("bad_for.rules.yaml", "7:14", "`1.5m` is not a duration"),
        (
            "template_error.rules.yaml",
            "9:21",
            "function \"nosuchfunc\" not defined",
        ),
    ] {
        let rules = testdata("bad").join(file);
        std::fs::write(
            &config,
            format!(
                "admin:\n  listen: 127.0.0.1:0\nalert_evaluator:\n  rule_files: [{}]\n",
                rules.display()
            ),
        )
        .unwrap();
        let out = run(
            &binary(),
            &["alert-evaluator", "--config", config.to_str().unwrap()],
            &dir,
        );
        let said = text(&out);
        assert!(!out.status.success(), "{file}: started:\n{said}");
        let at = format!("{file}:{place}: ");
        let line = said.lines().find(|l| l.contains(&at));
        assert!(
            line.is_some_and(|l| l.contains(says)),
            "{file}: no line with {at}… {says}:\n{said}"
        );
        assert_eq!(said.matches(&at).count(), 1, "{file}: said twice:\n{said}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
