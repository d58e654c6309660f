//! From the bus into the window, with Prometheus's staleness: a series a source sent
//! last time but not this time gets a stale marker, and a pod that is down (`up=0`)
//! has every series but `up` marked stale at once.
//!
//! Sources are what a Prometheus scrape would be: one pod (`samples.v1`), or one
//! pool's aggregates (`aggregates.v1`). A pod's series carry the target labels `pool`,
//! `namespace`, `pod` and `instance`; a scraped label of the same name becomes
//! `exported_<name>`, as Prometheus does without `honor_labels`.

use std::collections::{HashMap, HashSet};
use std::time::{SystemTime, UNIX_EPOCH};

use shared::wire::{Aggregates, PodSamples, RawSample};

use crate::promql::{Labels, STALE_NAN, Storage};

/// What feeding did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fed {
    /// Points appended.
    pub appended: usize,
    /// Points refused (older than the series' last point, or a changed duplicate).
    pub rejected: usize,
}

/// The series each source sent last time.
#[derive(Debug, Default)]
pub struct Feed {
    last: HashMap<String, HashSet<Labels>>,
}

impl Feed {
    /// Appends one pod's scrape.
    pub fn pod(&mut self, storage: &mut Storage, p: &PodSamples) -> Fed {
        let target = [
            ("pool", p.pool.as_str()),
            ("namespace", p.namespace.as_str()),
            ("pod", p.pod.as_str()),
            ("instance", p.endpoint.as_str()),
        ];
        let up = Labels::from_pairs(target.iter().copied().chain([("__name__", "up")]));
        let mut series = vec![(up, if p.signals.up { 1.0 } else { 0.0 })];
        if p.signals.up {
            series.extend(p.raw.iter().map(|r| (pod_labels(r, &target), r.value)));
        }
        self.source(
            storage,
            format!("pod/{}/{}", p.pool, p.pod),
            ms(p.time),
            series,
        )
    }

    /// Appends one pool's aggregates (pool `""`: the model and SLO series).
    pub fn aggregates(&mut self, storage: &mut Storage, a: &Aggregates) -> Fed {
        let series = a
            .series
            .iter()
            .map(|r| {
                let labels = r.labels.iter().map(|(k, v)| (k.as_str(), v.as_str()));
                (
                    Labels::from_pairs(labels.chain([("__name__", r.name.as_str())])),
                    r.value,
                )
            })
            .collect();
        self.source(
            storage,
            format!("aggregates/{}", a.pool),
            ms(a.time),
            series,
        )
    }

    fn source(
        &mut self,
        storage: &mut Storage,
        key: String,
        t: i64,
        series: Vec<(Labels, f64)>,
    ) -> Fed {
        let mut fed = Fed::default();
        let mut count = |r: Result<(), _>| match r {
            Ok(()) => fed.appended += 1,
            Err(_) => fed.rejected += 1,
        };
        let mut now = HashSet::with_capacity(series.len());
        for (labels, value) in series {
            count(storage.append(&labels, t, value));
            now.insert(labels);
        }
        let last = self.last.entry(key).or_default();
        for gone in last.difference(&now) {
            count(storage.append(gone, t, STALE_NAN));
        }
        *last = now;
        fed
    }
}

fn pod_labels(r: &RawSample, target: &[(&str, &str); 4]) -> Labels {
    let scraped = r.labels.iter().map(|(k, v)| {
        let k = if target.iter().any(|(t, _)| t == k) {
            format!("exported_{k}")
        } else {
            k.clone()
        };
        (k, v.clone())
    });
    Labels::from_pairs(
        scraped.chain(
            target
                .iter()
                .chain([&("__name__", r.name.as_str())])
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        ),
    )
}

/// A wire time as unix ms.
pub fn ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}
