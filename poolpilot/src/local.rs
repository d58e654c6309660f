//! The local loop of `poolpilot up`: a simulated fleet the scraper is pointed at.

use scraper::{EngineChoice, Pool, Target};
use simulator::PodInfo;

/// A static scraper pool `name` over simulated pods: each pod's `/metrics` under its
/// own name, and its DCGM page. `namespace` is the simulator's pool, which its DCGM
/// series carry as their namespace, so they join.
pub fn scrape_pool(name: &str, namespace: &str, pods: &[PodInfo]) -> Pool {
    Pool {
        name: name.to_owned(),
        namespace: namespace.to_owned(),
        engine: EngineChoice::Auto,
        targets: pods
            .iter()
            .map(|p| Target::Named {
                url: format!("{}/metrics", p.url()),
                pod: p.name.clone(),
            })
            .collect(),
        dcgm: pods
            .iter()
            .map(|p| Target::Url(format!("{}/dcgm/metrics", p.url())))
            .collect(),
        kubernetes: None,
    }
}
