//! The scaler: the Kubernetes HPA algorithm per pool over the pool's latest
//! `aggregates.v1`, then a PATCH of the target's `/scale` subresource (DESIGN §1, §2,
//! §6), every decision on `decisions.v1` with its explanation.
//!
//! # Layout
//! - `config.rs`: the `scaler:` section (HPA specs per pool).
//! - `core/`: the pure HPA arithmetic, stabilization and rate limits.
//! - `target.rs`: [`ScaleClient`] (`/scale` of any kind) and the [`ScaleTarget`] trait.
//! - `task.rs`: the loop; `events.rs`: its logs and metrics.
//! - `replay.rs`: `poolpilot scaler replay`, the core over a recorded timeline.

mod config;
pub mod core;
mod events;
pub mod replay;
mod target;
mod task;

use std::future::Future;

use shared::Deps;
use shared::config::Validated;

pub use config::{Config, PoolScaling, explain};
pub use shared::kube::client as kube_client;
pub use target::{Replicas, ScaleClient, ScaleError, ScaleTarget, TargetRef};
pub use task::Pool;

/// What stops the scaler.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bus refused us.
    #[error(transparent)]
    Bus(#[from] shared::bus::BusError),
    /// The API server refused us at start.
    #[error(transparent)]
    Scale(#[from] ScaleError),
    /// The state store failed.
    #[error(transparent)]
    Store(#[from] shared::store::StoreError),
    /// The kubeconfig could not be used.
    #[error(transparent)]
    Kube(#[from] shared::kube::KubeConfigError),
    /// An HPA spec that does not build.
    #[error("{0}")]
    Spec(String),
}

/// Runs the scaler over Kubernetes targets until `shutdown` resolves.
pub async fn run(
    config: Validated<Config>,
    deps: Deps,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Error> {
    let pools = kube_pools(&config, &config.pools).await?;
    run_with(config, pools, deps, shutdown).await
}

/// `pools` with their `/scale` targets on the Kubernetes API.
pub async fn kube_pools(config: &Config, pools: &[PoolScaling]) -> Result<Vec<Pool>, Error> {
    let mut out = Vec::new();
    if pools.is_empty() {
        return Ok(out);
    }
    let client = kube_client(config.kubeconfig.as_deref()).await?;
    for p in pools {
        let t = &p.hpa.scale_target_ref;
        let target = TargetRef {
            namespace: p.namespace.clone(),
            api_version: t.api_version.clone().unwrap_or_else(|| "apps/v1".into()),
            kind: t.kind.clone(),
            name: t.name.clone(),
        };
        let client = ScaleClient::new(client.clone(), target).await?;
        out.push(Pool::new(p.clone(), Box::new(client))?);
    }
    Ok(out)
}

/// Runs the scaler over the given targets (a simulated fleet in `poolpilot up`).
pub async fn run_with(
    config: Validated<Config>,
    pools: Vec<Pool>,
    deps: Deps,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Error> {
    task::run(&config, pools, deps, shutdown).await
}
