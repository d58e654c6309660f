//! The demo `poolpilot up` runs without `--config`: `demo.yaml`, the seed's alert
//! rules with `for:` shortened so they fire within a demo, and the `--load demo`
//! profile (a ramp past the pool's capacity, a plateau, a fall).

use std::path::Path;

use anyhow::Context;

use crate::Config;

const DEMO: &str = include_str!("demo.yaml");
const SEED_ALERTS: &str = include_str!("../../../deploy/prometheus/alerts.yaml");

/// The `for:` of the seed's rules, and what the demo uses instead.
pub const SEED_FOR: &str = "for: 5m";
pub const DEMO_FOR: &str = "for: 15s";

/// Stages of `--load demo`, `requests/s:duration` (3 minutes): three servers take
/// about 9 requests/s and the scaler's five at most about 14, so the plateau
/// overloads even the grown pool (the KV-cache alert fires), then the load falls
/// (it resolves, latency recovers, and the pool shrinks after the 30 s window).
pub const STAGES: &str = "2:20s,6:10s,10:10s,14:10s,16:50s,6:10s,2:70s";

/// Writes the demo's rule file into `dir` and loads the demo config.
pub fn config(dir: &Path) -> anyhow::Result<Config> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
    let rules = dir.join("alerts.demo.yaml");
    std::fs::write(&rules, SEED_ALERTS.replace(SEED_FOR, DEMO_FOR))
        .with_context(|| format!("{}", rules.display()))?;
    let yaml = DEMO
        .replace("{rules}", &rules.display().to_string())
        .replace("{dir}", &dir.display().to_string());
    let path = dir.join("poolpilot.demo.yaml");
    std::fs::write(&path, &yaml).with_context(|| format!("{}", path.display()))?;
    let config = shared::config::load::<Config>(&path).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(config.into_inner())
}

/// The load generator's flags for `--load demo` against `router`.
pub fn load_flags(router: &str) -> Vec<String> {
    [
        "--url",
        router,
        "--model",
        "chat",
        "--input-tokens",
        "fixed:512",
        "--output-tokens",
        "fixed:64",
        "--stages",
        STAGES,
    ]
    .map(str::to_owned)
    .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_config_is_valid_and_its_rules_are_the_seeds_with_short_for() {
        let dir = std::env::temp_dir().join(format!("pp-demo-{}", std::process::id()));
        let config = config(&dir).unwrap();
        assert_eq!(config.scaler.pools.len(), 1);
        let rules = std::fs::read_to_string(dir.join("alerts.demo.yaml")).unwrap();
        assert_eq!(
            rules.matches(DEMO_FOR).count(),
            SEED_ALERTS.matches(SEED_FOR).count()
        );
        assert!(!rules.contains(SEED_FOR));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
