//! The endpoint table: every pod's latest signals from `samples.v1`, keyed by its
//! `host:port`, plus the requests this router sent it since that sample (not yet in
//! the scraped queue). A pod reported down (`up=0`) leaves the table at once; DCGM
//! messages (GPU series only) are not model servers and are skipped.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::UNIX_EPOCH;

use shared::wire::PodSamples;

use crate::pick::Endpoint;

/// The table, shared by the feed and every request.
#[derive(Debug, Default)]
pub struct Table {
    inner: Mutex<BTreeMap<String, Row>>,
}

#[derive(Debug)]
struct Row {
    endpoint: Endpoint,
    pool: String,
}

impl Table {
    /// Takes one pod's scrape: its signals replace the previous ones and the router's
    /// count since the last sample starts over; a pod that is down is removed.
    pub fn ingest(&self, p: &PodSamples) {
        // DCGM pages carry GPU series only, not the server's signals.
        if p.engine == "dcgm" {
            return;
        }
        let mut rows = self.lock();
        if !p.signals.up {
            rows.remove(&p.endpoint);
            return;
        }
        let sampled_at_ms = p
            .time
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default();
        if rows
            .get(&p.endpoint)
            .is_some_and(|r| r.endpoint.sampled_at_ms > sampled_at_ms)
        {
            return; // an older, redelivered sample
        }
        let lora = p.signals.lora.as_ref();
        let endpoint = Endpoint {
            address: p.endpoint.clone(),
            pod: p.pod.clone(),
            up: true,
            sampled_at_ms,
            queue: p.signals.queue_size.unwrap_or(0.0),
            running: p.signals.running_requests.unwrap_or(0.0),
            kv: p.signals.kv_cache_utilization.unwrap_or(0.0),
            lora_running: lora.map(|l| l.running.clone()).unwrap_or_default(),
            lora_waiting: lora.map(|l| l.waiting.clone()).unwrap_or_default(),
            lora_max: lora.map_or(0, |l| l.max),
            in_flight: 0,
        };
        rows.insert(
            p.endpoint.clone(),
            Row {
                endpoint,
                pool: p.pool.clone(),
            },
        );
    }

    /// Every endpoint, for a pick.
    pub fn snapshot(&self) -> Vec<Endpoint> {
        self.lock().values().map(|r| r.endpoint.clone()).collect()
    }

    /// How many endpoints the table holds.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// The pool an endpoint belongs to.
    pub fn pool(&self, address: &str) -> Option<String> {
        self.lock().get(address).map(|r| r.pool.clone())
    }

    /// A request was sent to `address`.
    pub fn started(&self, address: &str) {
        if let Some(r) = self.lock().get_mut(address) {
            r.endpoint.in_flight += 1;
        }
    }

    /// A request to `address` ended.
    pub fn finished(&self, address: &str) {
        if let Some(r) = self.lock().get_mut(address) {
            r.endpoint.in_flight = r.endpoint.in_flight.saturating_sub(1);
        }
    }

    /// Forgets endpoints not heard from since `min_ms` (pods that are gone).
    pub fn forget_before(&self, min_ms: i64) {
        self.lock()
            .retain(|_, r| r.endpoint.sampled_at_ms >= min_ms);
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Row>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}
