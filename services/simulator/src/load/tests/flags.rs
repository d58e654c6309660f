//! The flags, the `DIST` and `STAGES` mini-languages, and validation.

use std::time::Duration;

use super::*;

#[test]
fn defaults_parse() {
    let a = LoadArgs::default();
    assert!(a.stream);
    assert_eq!((a.seed, a.timeout), (42, secs(60)));
    assert_eq!(a.input_tokens, Dist::Fixed(512));
    let p = a.plan().expect("defaults are valid");
    assert_eq!(p.endpoint, "http://127.0.0.1:8000/v1/completions");
    assert_eq!(p.duration, Some(secs(60)));
    assert_eq!(p.arrivals, Arrivals::Poisson(vec![stage(1.0, secs(60))]));
}

#[test]
fn stream_flags() {
    assert!(!args("--no-stream").stream);
    assert!(args("--stream").stream);
    assert!(args("--no-stream --stream").stream);
    assert!(!args("--stream --no-stream").stream);
}

#[test]
fn models_repeat_and_step_is_stages() {
    let a = args("--model base --model lora-1 --step 2:30s,10:30s");
    assert_eq!(a.models, ["base", "lora-1"]);
    let stages = a.stages.expect("stages");
    assert_eq!(stages.0, [stage(2.0, secs(30)), stage(10.0, secs(30))]);
    assert_eq!(stages.total(), secs(60));
}

#[test]
fn endpoint_forms() {
    for url in [
        "http://h:8",
        "http://h:8/",
        "http://h:8/v1",
        "http://h:8/v1/",
    ] {
        let p = plan(&format!("--url {url} --api chat"));
        assert_eq!(p.endpoint, "http://h:8/v1/chat/completions", "{url}");
    }
}

#[test]
fn dist_parses() {
    assert_eq!("fixed:10".parse(), Ok(Dist::Fixed(10)));
    assert_eq!("uniform:1:5".parse(), Ok(Dist::Uniform { min: 1, max: 5 }));
    let lognormal = Dist::LogNormal {
        mean: 100.0,
        sigma: 0.5,
    };
    assert_eq!("lognormal:100:0.5".parse(), Ok(lognormal));
    for d in ["fixed:7", "uniform:3:9", "lognormal:250:1.5"] {
        assert_eq!(d.parse::<Dist>().map(|d| d.to_string()).as_deref(), Ok(d));
    }
}

#[test]
fn dist_errors_say_what() {
    let err = |s: &str| s.parse::<Dist>().expect_err(s);
    assert!(err("fixed:0").contains("N (0)"));
    assert!(err("fixed:x").contains("not a whole number"));
    assert!(err("fixed").contains("is not fixed:N"));
    assert!(err("normal:1:2").contains("is not fixed:N"));
    assert!(err("uniform:5:1").contains("A (5) is above B (1)"));
    assert!(err("lognormal:0:1").contains("MEAN (0)"));
    assert!(err("lognormal:10:-1").contains("SIGMA (-1)"));
    assert!(err("lognormal:10:nan").contains("SIGMA"));
    assert!(err(&format!("fixed:{}", MAX_TOKENS + 1)).contains("between 1 and"));
    let clap = LoadArgs::from_flags(["--input-tokens", "fixed:0"]).expect_err("bad DIST");
    assert!(clap.to_string().contains("--input-tokens"), "{clap}");
}

#[test]
fn stages_parse() {
    let s: Stages = "5:30s, 20:1m,0:10s ,5:500ms".parse().expect("stages");
    let want = [
        stage(5.0, secs(30)),
        stage(20.0, secs(60)),
        stage(0.0, secs(10)),
        stage(5.0, ms(500)),
    ];
    assert_eq!(s.0, want);
    assert_eq!(s.to_string(), "5:30s,20:1m,0:10s,5:500ms");
}

#[test]
fn stages_errors_say_which() {
    let err = |s: &str| s.parse::<Stages>().expect_err(s);
    assert!(err("").contains("stage 1 (``) is not RATE:DURATION"));
    assert!(err("5:30s,5").contains("stage 2 (`5`)"));
    assert!(err("x:30s").contains("rate `x` is not a number"));
    assert!(err("5:30").contains("not a duration"));
    assert!(err("-1:30s").contains("stage 1: rate (-1)"));
    assert!(err("5:0").contains("stage 1: duration must be above 0"));
    assert!(err("0:30s,0:1m").contains("nothing would be sent"));
}

#[test]
fn every_problem_at_once() {
    let p = problems(
        "--url ftp://x --rate -1 --requests 0 --shared-prefix-ratio 2 --timeout 0 \
         --concurrency 0",
    );
    let flags = [
        "--url",
        "--rate",
        "--requests",
        "--concurrency",
        "--shared-prefix-ratio",
        "--timeout",
    ];
    assert_eq!(p.len(), flags.len(), "{p:#?}");
    for (problem, flag) in p.iter().zip(flags) {
        assert!(problem.starts_with(flag), "{flag}: {p:#?}");
    }
    let text = LoadError::Invalid { problems: p }.to_string();
    assert!(text.starts_with("load flags:\n  --url"), "{text}");
}

#[test]
fn conflicting_arrival_flags() {
    let p = problems("--rate 5 --stages 5:1s");
    assert!(p[0].contains("give one, not both"), "{p:?}");
    let p = problems("--stages 5:1s --duration 10s");
    assert!(p[0].contains("the stages set the duration"), "{p:?}");
    let p = problems("--prefixes 0 --shared-prefix-ratio 0.5");
    assert!(p[0].starts_with("--prefixes (0)"), "{p:?}");
    let a = LoadArgs {
        models: vec![" ".into()],
        output_tokens: Dist::Uniform { min: 9, max: 2 },
        ..LoadArgs::default()
    };
    let Err(LoadError::Invalid { problems }) = a.plan() else {
        panic!("expected invalid");
    };
    assert!(problems[0].starts_with("--model"), "{problems:?}");
    assert!(problems[1].starts_with("--output-tokens (uniform:9:2)"));
}

#[test]
fn how_runs_end() {
    let p = plan("--rate 5 --requests 10");
    assert_eq!((p.duration, p.requests), (None, Some(10)));
    assert_eq!(
        p.arrivals,
        Arrivals::Poisson(vec![stage(5.0, Duration::MAX)])
    );
    assert_eq!(plan("--stages 5:1s,2:2s").duration, None);
    let p = plan("--concurrency 3");
    assert_eq!(p.arrivals, Arrivals::Closed);
    assert_eq!((p.duration, p.concurrency), (Some(secs(60)), Some(3)));
}
