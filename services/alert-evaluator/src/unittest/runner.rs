//! `poolpilot rules test`: runs promtool's unit-test files on our evaluator, as
//! `cmd/promtool/unittest.go` (2.42) runs them on Prometheus's, with its report.
//!
//! For each test group: fresh rules, input points appended up to each evaluation time,
//! every group evaluated at 0, `evaluation_interval`, … up to the last `eval_time`; an
//! alert test at `eval_time` compares the firing alerts after the evaluation at or
//! just before it; expression tests run at the end, over the inputs and every
//! recorded series.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use super::format::{AlertTestCase, TestGroup, UnitTestFile};
use super::series::{Labels as SeriesLabels, Point, labels_to_string};
use crate::core::{Evaluator, Settings};
use crate::promql::{self, Labels, STALE_NAN, Value};
use crate::rules::{self, State};
use crate::template::{format_float, quote as go_quote};

/// Runs every file; returns promtool's report and whether everything passed.
pub fn run_files(paths: &[PathBuf]) -> (String, bool) {
    let mut out = String::new();
    let mut ok = true;
    for path in paths {
        let _ = writeln!(out, "Unit Testing:  {}", path.display());
        match run_file(path) {
            Ok(()) => out.push_str("  SUCCESS\n\n"),
            Err(errors) => {
                ok = false;
                let _ = writeln!(out, "  FAILED:\n{}\n", errors.join("\n"));
            }
        }
    }
    (out, ok)
}

/// Runs one file: every test group, every error collected.
pub fn run_file(path: &Path) -> Result<(), Vec<String>> {
    let file = UnitTestFile::load(path).map_err(|e| vec![e.to_string()])?;
    file.validate().map_err(|e| vec![e.to_string()])?;
    let base = path.parent().unwrap_or(Path::new("."));
    let rule_files = file.rule_file_paths(base);
    let interval = file.eval_interval().as_millis() as i64;
    let positions = file.group_positions().map_err(|e| vec![e.to_string()])?;
    let mut errors = Vec::new();
    for group in &file.tests {
        let groups = rules::load(
            &rule_files,
            std::time::Duration::from_millis(interval as u64),
        )
        .map_err(|e| vec![e.to_string()])?;
        let mut order: Vec<usize> = (0..groups.len()).collect();
        order.sort_by_key(|&i| positions.get(&groups[i].name).copied().unwrap_or(0));
        errors.extend(run_group(group, groups, &order, interval));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn run_group(
    tg: &TestGroup,
    groups: Vec<rules::Group>,
    order: &[usize],
    interval: i64,
) -> Vec<String> {
    let inputs = match tg.load_series() {
        Ok(s) => s,
        Err(e) => return vec![e.to_string()],
    };
    let mut evaluator = Evaluator::new(
        groups,
        Settings {
            external_labels: tg.external_labels.clone(),
            external_url: tg.external_url.clone(),
            resend_delay: std::time::Duration::from_secs(60),
            retention: std::time::Duration::MAX,
        },
    );
    let inputs: Vec<(Labels, &[(u64, Point)])> = inputs
        .iter()
        .map(|s| {
            (
                Labels::from_pairs(s.labels.iter().cloned()),
                s.samples.as_slice(),
            )
        })
        .collect();
    let mut loaded = vec![0usize; inputs.len()];
    let mut load_till = |evaluator: &mut Evaluator, t: i64| {
        for ((labels, samples), next) in inputs.iter().zip(&mut loaded) {
            while let Some((at, point)) = samples.get(*next).filter(|(at, _)| *at as i64 <= t) {
                let value = match point {
                    Point::Value(v) => *v,
                    Point::Stale => STALE_NAN,
                };
                // The first point at a timestamp wins, as in promtool's storage.
                let _ = evaluator.storage_mut().append(labels, *at as i64, value);
                *next += 1;
            }
        }
    };

    let mut alert_tests: BTreeMap<i64, Vec<&AlertTestCase>> = BTreeMap::new();
    for t in &tg.alert_rule_test {
        alert_tests
            .entry(t.eval_time.as_millis() as i64)
            .or_default()
            .push(t);
    }
    let alert_times: Vec<i64> = alert_tests.keys().copied().collect();
    let max_t = tg.max_eval_time().as_millis() as i64;
    let mut errors = Vec::new();
    let mut next_alert_time = 0;
    let mut ts = 0;
    while ts <= max_t {
        load_till(&mut evaluator, ts);
        let step = evaluator.eval_all(ts, order);
        if !step.errors.is_empty() {
            errors.extend(step.errors.iter().map(|(_, rule, e)| {
                format!("    rule: {rule}, time: {}, err: {e}", go_duration(ts))
            }));
            return errors;
        }
        while let Some(&t) = alert_times
            .get(next_alert_time)
            .filter(|&&t| ts <= t && t < ts + interval)
        {
            for case in &alert_tests[&t] {
                if let Some(e) = check_alerts(&evaluator, tg, case) {
                    errors.push(e);
                }
            }
            next_alert_time += 1;
        }
        ts += interval.max(1);
    }
    for case in &tg.promql_expr_test {
        if let Some(e) = check_expr(&evaluator, case) {
            errors.push(e);
        }
    }
    errors
}

type LabelsAndAnnotations = Vec<(SeriesLabels, SeriesLabels)>;

fn check_alerts(evaluator: &Evaluator, tg: &TestGroup, case: &AlertTestCase) -> Option<String> {
    let pairs =
        |m: &BTreeMap<String, String>| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let mut got: LabelsAndAnnotations = evaluator
        .alerts_of(&case.alertname)
        .into_iter()
        .filter(|a| a.state == State::Firing)
        .map(|a| (pairs(&a.labels), pairs(&a.annotations)))
        .collect();
    let mut exp: LabelsAndAnnotations = case
        .exp_alerts
        .iter()
        .map(|a| {
            let mut labels = a.exp_labels.clone();
            labels.insert("alertname".to_owned(), case.alertname.clone());
            (pairs(&labels), pairs(&a.exp_annotations))
        })
        .collect();
    got.sort();
    exp.sort();
    if got == exp {
        return None;
    }
    let name = if tg.name.is_empty() {
        String::new()
    } else {
        format!("    name: {},\n", tg.name)
    };
    let indent = "            ";
    Some(format!(
        "{name}    alertname: {}, time: {}, \n        exp:{}, \n        got:{}",
        case.alertname,
        case.eval_time,
        indent_lines(&alerts_string(&exp), indent),
        indent_lines(&alerts_string(&got), indent),
    ))
}

fn check_expr(evaluator: &Evaluator, case: &super::format::PromqlTestCase) -> Option<String> {
    let at = case.eval_time.as_millis() as i64;
    let head = format!(
        "    expr: {}, time: {}",
        go_quote(&case.expr),
        case.eval_time
    );
    let got = promql::parse(&case.expr)
        .map_err(|e| e.trim().to_owned())
        .and_then(|expr| promql::instant(evaluator.storage(), &expr, at).map_err(|e| e.to_string()))
        .and_then(|value| match value {
            Value::Vector(v) => Ok(v
                .into_iter()
                .map(|s| {
                    (
                        s.labels
                            .iter()
                            .map(|(k, v)| (k.to_owned(), v.to_owned()))
                            .collect(),
                        s.value,
                    )
                })
                .collect::<Vec<(SeriesLabels, f64)>>()),
            Value::Scalar(v) => Ok(vec![(Vec::new(), v)]),
            Value::String(_) | Value::Matrix(_) => {
                Err("rule result is not a vector or scalar".to_owned())
            }
        });
    let mut got = match got {
        Ok(g) => g,
        Err(e) => return Some(format!("{head}, err: {e}")),
    };
    let mut exp = Vec::new();
    for s in &case.exp_samples {
        match s.parsed_labels() {
            Ok(labels) => exp.push((labels, s.value)),
            Err(e) => return Some(format!("{head}, err: labels {}: {e}", go_quote(&s.labels))),
        }
    }
    got.sort_by(|a, b| a.0.cmp(&b.0));
    exp.sort_by(|a, b| a.0.cmp(&b.0));
    // Exact equality, as promtool 2.42's reflect.DeepEqual: NaN never matches.
    let same =
        got.len() == exp.len() && got.iter().zip(&exp).all(|(g, e)| g.0 == e.0 && g.1 == e.1);
    if same {
        return None;
    }
    Some(format!(
        "{head},\n        exp: {}\n        got: {}",
        samples_string(&exp),
        samples_string(&got)
    ))
}

/// promtool's `labelsAndAnnotations.String()`.
fn alerts_string(alerts: &LabelsAndAnnotations) -> String {
    if alerts.is_empty() {
        return "[]".to_owned();
    }
    let one = |(labels, annotations): &(SeriesLabels, SeriesLabels)| {
        format!(
            "\nLabels:{}\nAnnotations:{}",
            labels_to_string(labels),
            labels_to_string(annotations)
        )
    };
    let mut s = format!("[\n0:{}", indent_lines(&one(&alerts[0]), "  "));
    for (i, a) in alerts.iter().enumerate().skip(1) {
        let _ = write!(s, ",\n{i}:{}", indent_lines(&one(a), "  "));
    }
    s.push_str("\n]");
    s
}

/// promtool's `indentLines`: every line but the first gets `indent`.
fn indent_lines(lines: &str, indent: &str) -> String {
    lines
        .split('\n')
        .collect::<Vec<_>>()
        .join(&format!("\n{indent}"))
}

fn samples_string(samples: &[(SeriesLabels, f64)]) -> String {
    if samples.is_empty() {
        return "nil".to_owned();
    }
    samples
        .iter()
        .map(|(l, v)| format!("{} {}", labels_to_string(l), format_float(*v, 'E', None)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Go's `time.Duration.String()` for whole milliseconds: `0s`, `1m0s`, `1h0m0s`, `1.5s`.
fn go_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_owned();
    }
    let (sign, ms) = if ms < 0 { ("-", -ms) } else { ("", ms) };
    if ms < 1000 {
        return format!("{sign}{ms}ms");
    }
    let (h, m) = (ms / 3_600_000, ms / 60_000 % 60);
    let (s, frac) = (ms / 1000 % 60, ms % 1000);
    let seconds = if frac == 0 {
        format!("{s}s")
    } else {
        format!("{s}.{}s", format!("{frac:03}").trim_end_matches('0'))
    };
    match (h, m) {
        (0, 0) => format!("{sign}{seconds}"),
        (0, m) => format!("{sign}{m}m{seconds}"),
        (h, m) => format!("{sign}{h}h{m}m{seconds}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_and_durations_print_as_go_prints_them() {
        let format_float_e = |v| format_float(v, 'E', None);
        assert_eq!(format_float_e(120.0), "1.2E+02");
        assert_eq!(format_float_e(60.0), "6E+01");
        assert_eq!(format_float_e(121.0), "1.21E+02");
        assert_eq!(format_float_e(0.0), "0E+00");
        assert_eq!(format_float_e(1.5e-7), "1.5E-07");
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(60_000), "1m0s");
        assert_eq!(go_duration(3_600_000), "1h0m0s");
        assert_eq!(go_duration(90_500), "1m30.5s");
        assert_eq!(go_duration(100), "100ms");
        assert_eq!(go_quote("queue{pool=\"a\"}"), r#""queue{pool=\"a\"}""#);
    }
}
