//! The local loop of `poolpilot up`: a simulated fleet the scraper is pointed at, and
//! the scaler target that adds and removes its servers.

use futures::future::BoxFuture;
use scaler::{Replicas, ScaleError};
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

/// `scaleTargetRef.kind` of a scaler pool that scales the simulated fleet.
pub const FLEET_KIND: &str = "SimulatedFleet";

/// The scaler's target in `poolpilot up`: replicas are the simulated fleet's servers,
/// added and removed through its handle.
pub struct FleetTarget(pub std::sync::Arc<simulator::Fleet>);

impl scaler::ScaleTarget for FleetTarget {
    fn describe(&self) -> String {
        "simulated fleet".to_owned()
    }

    fn replicas(&self) -> BoxFuture<'_, Result<Replicas, ScaleError>> {
        Box::pin(async move {
            let n = self.0.pods().len() as i32;
            Ok(Replicas {
                spec: n,
                status: n,
                resource_version: None,
            })
        })
    }

    fn set_replicas<'a>(
        &'a self,
        replicas: u32,
        _read: &'a Replicas,
    ) -> BoxFuture<'a, Result<(), ScaleError>> {
        Box::pin(async move {
            while self.0.pods().len() < replicas as usize {
                self.0.add().await.map_err(|e| ScaleError::Local {
                    target: self.describe(),
                    message: e.to_string(),
                })?;
            }
            // As a Deployment does: the pod is gone from the set at once and drains in
            // the background.
            while self.0.pods().len() > replicas as usize {
                let Some((_, stopped)) = self.0.stop_newest() else {
                    break;
                };
                tokio::spawn(stopped);
            }
            Ok(())
        })
    }
}

/// The fleet's servers as scrape targets of pool `index` whenever they change
/// (checked every 200 ms), until `stop`: the scraper follows the scaler's additions
/// and removals as it follows an InferencePool's pods.
pub fn follow_fleet(
    fleet: std::sync::Arc<simulator::Fleet>,
    index: usize,
    name: String,
    stop: tokio_util::sync::CancellationToken,
) -> scraper::TargetChanges {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut last = Vec::new();
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(200));
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = tick.tick() => {}
            }
            let pods = fleet.pods();
            if pods == last {
                continue;
            }
            let targets = scrape_pool(&name, &name, &pods).targets;
            if tx.send((index, targets)).is_err() {
                break;
            }
            last = pods;
        }
    });
    rx
}
