//! The set of running scrape loops, reconciled against each pool's current targets:
//! static pools once at start, discovered pools on every change. A target that goes
//! away gets one last `up=0` sample, so consumers drop it at once.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::{Pool, Target};
use crate::task::{self, Ctx};

/// Running loops, keyed by pool index and target.
pub struct Loops {
    ctx: Arc<Ctx>,
    pools: Vec<Arc<Pool>>,
    running: HashMap<(usize, Target), CancellationToken>,
    tasks: JoinSet<()>,
}

impl Loops {
    /// No loops yet; DCGM loops of every pool start now (they follow the members).
    pub fn new(ctx: Arc<Ctx>, pools: Vec<Arc<Pool>>, stop: &CancellationToken) -> Self {
        let mut tasks = JoinSet::new();
        for pool in &pools {
            ctx.set_members(&pool.name, pool.targets.clone());
            for t in pool.dcgm.clone() {
                tasks.spawn(task::dcgm(ctx.clone(), pool.clone(), t, stop.child_token()));
            }
        }
        Self {
            ctx,
            pools,
            running: HashMap::new(),
            tasks,
        }
    }

    /// Makes pool `index`'s loops match `targets`.
    pub fn reconcile(&mut self, index: usize, targets: Vec<Target>, stop: &CancellationToken) {
        let Some(pool) = self.pools.get(index).cloned() else {
            return;
        };
        let gone: Vec<_> = self
            .running
            .keys()
            .filter(|(i, t)| *i == index && !targets.contains(t))
            .cloned()
            .collect();
        for key in gone {
            if let Some(token) = self.running.remove(&key) {
                token.cancel();
            }
            tracing::info!(pool = %pool.name, pod = %key.1.pod(), "Target removed.");
            self.tasks
                .spawn(task::gone(self.ctx.clone(), pool.clone(), key.1));
        }
        for t in &targets {
            let key = (index, t.clone());
            if self.running.contains_key(&key) {
                continue;
            }
            let token = stop.child_token();
            self.tasks.spawn(task::model_server(
                self.ctx.clone(),
                pool.clone(),
                t.clone(),
                token.clone(),
            ));
            self.running.insert(key, token);
        }
        self.ctx.set_members(&pool.name, targets);
    }

    /// How many model-server loops run.
    pub(crate) fn running(&self) -> usize {
        self.running.len()
    }

    /// Waits for every loop after `stop` was cancelled.
    pub async fn join(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }
}
