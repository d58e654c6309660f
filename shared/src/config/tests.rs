use std::time::Duration;

use serde::Deserialize;

use super::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    name: String,
    #[serde(default)]
    pools: Vec<Pool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Pool {
    min: u32,
    max: u32,
    #[serde(with = "duration", default)]
    window: Duration,
}

impl Validate for Doc {
    fn validate(&self, path: &str, problems: &mut Problems) {
        if self.name.is_empty() {
            problems.push(join(path, "name"), "must not be empty");
        }
        for (i, p) in self.pools.iter().enumerate() {
            let at = index(&join(path, "pools"), i);
            if p.max < p.min {
                problems.push(
                    join(&at, "max"),
                    format!("({}) is below min ({})", p.max, p.min),
                );
            }
        }
    }
}

#[test]
fn every_problem_is_reported_with_its_place() {
    let text = "name: \"\"\npools:\n  - min: 1\n    max: 2\n    window: 5m\n  - min: 5\n    max: 3\n  - {min: 9, max: 1}\n";
    let err = parse::<Doc>("p.yaml", text).unwrap_err();
    let ok = parse::<Doc>(
        "p.yaml",
        "name: x\npools:\n  - {min: 1, max: 2, window: 1m30s}\n",
    )
    .unwrap();
    assert_eq!(ok.pools[0].window, Duration::from_secs(90));
    let lines: Vec<_> = err.problems().iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "p.yaml:1:7: name: must not be empty",
            "p.yaml:7:10: pools[1].max: (3) is below min (5)",
            "p.yaml:8:19: pools[2].max: (1) is below min (9)",
        ]
    );
}

#[test]
fn a_shape_error_names_its_place() {
    let err = parse::<Doc>(
        "p.yaml",
        "name: x\npools:\n  - min: 1\n    max: 2\n    maxx: 3\n",
    )
    .unwrap_err();
    let p = &err.problems()[0];
    assert_eq!(p.place.as_ref().map(|p| p.line), Some(5), "{p}");
    assert!(p.message.contains("maxx"), "{p}");
}

#[test]
fn broken_yaml_names_its_place() {
    let err = parse::<Doc>("p.yaml", "name: x\npools: [\n").unwrap_err();
    assert!(err.problems()[0].place.is_some(), "{err}");
}

#[test]
fn env_references_expand_and_unset_ones_are_placed() {
    let lookup = |v: &str| (v == "SECRET").then(|| "s3cr3t".to_owned());
    let out = env::expand("a: ${SECRET}\nb: ${NOPE:-dflt}\nc: $${LITERAL}\n", lookup).unwrap();
    assert_eq!(out, "a: s3cr3t\nb: dflt\nc: ${LITERAL}\n");

    let commented = "a: 1 # like ${UNSET}\n# b: ${UNSET}\nc: '#${SECRET}' # ${UNSET}\n";
    assert_eq!(
        env::expand(commented, lookup).unwrap(),
        "a: 1 # like ${UNSET}\n# b: ${UNSET}\nc: '#s3cr3t' # ${UNSET}\n"
    );

    let problems = env::expand("a: 1\nb: x-${MISSING}\n", lookup).unwrap_err();
    assert_eq!(problems.len(), 1);
    let place = problems[0].place.as_ref().unwrap();
    assert_eq!((place.line, place.column), (2, 6));
    assert!(problems[0].message.contains("MISSING is not set"));
}

#[test]
fn durations_parse_as_prometheus_writes_them() {
    assert_eq!(
        duration::parse("250ms").unwrap(),
        Duration::from_millis(250)
    );
    assert_eq!(duration::parse("1h30m").unwrap(), Duration::from_secs(5400));
    assert_eq!(duration::parse("5m").unwrap(), Duration::from_secs(300));
    assert_eq!(
        duration::parse("1s500ms").unwrap(),
        Duration::from_millis(1500)
    );
    assert_eq!(duration::parse("2d").unwrap(), Duration::from_secs(172_800));
    assert_eq!(duration::parse("0").unwrap(), Duration::ZERO);
    for bad in ["", "5", "m", "1m1h", "5x", "1s1s", "-1s"] {
        assert!(duration::parse(bad).is_err(), "{bad} should not parse");
    }
    for d in ["250ms", "1h30m", "5m", "1d", "1w2d", "0s"] {
        assert_eq!(duration::format(duration::parse(d).unwrap()), d);
    }
}

#[test]
fn source_map_finds_nested_paths() {
    let map = SourceMap::new("a:\n  b:\n    - x: 1\n    - x: 2\n      y: [3, 4]\n");
    assert_eq!(map.place("a.b[1].x"), Some((4, 10)));
    assert_eq!(map.place("a.b[1].y[1]"), Some((5, 14)));
    assert_eq!(map.place("a.b[1].missing"), Some((4, 7)));
}
