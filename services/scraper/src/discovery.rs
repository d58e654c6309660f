//! Kubernetes discovery: Pods selected as an InferencePool selects them (labels in a
//! namespace, `targetPorts`), watched through `kube`'s watcher. Only Ready Pods with
//! an IP that are not terminating are targets. Each change sends the pool's whole
//! target list; the scrape loops are reconciled against it.

use std::collections::BTreeMap;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::{Discovery, Target};

/// The targets `pod` offers: one per target port, none unless it is Ready, has an IP
/// and is not being deleted.
pub fn targets_of(pod: &Pod, d: &Discovery) -> Vec<Target> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let terminating = pod.metadata.deletion_timestamp.is_some();
    let status = pod.status.as_ref();
    let ip = status
        .and_then(|s| s.pod_ip.clone())
        .filter(|ip| !ip.is_empty());
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    match ip {
        Some(ip) if ready && !terminating => {
            let host = if ip.contains(':') {
                format!("[{ip}]")
            } else {
                ip
            };
            d.target_ports
                .iter()
                .map(|port| Target::Named {
                    url: format!("http://{host}:{port}{}", d.metrics_path),
                    pod: if d.target_ports.len() == 1 {
                        name.clone()
                    } else {
                        format!("{name}:{port}")
                    },
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// Watches the Pods of pool number `index` until `stop`, sending its full target list
/// on every change.
pub async fn watch(
    client: Client,
    namespace: String,
    d: Discovery,
    index: usize,
    tx: mpsc::UnboundedSender<(usize, Vec<Target>)>,
    stop: CancellationToken,
) {
    let selector: Vec<String> = d.selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let api: Api<Pod> = Api::namespaced(client, &namespace);
    let stream = watcher::watcher(api, watcher::Config::default().labels(&selector.join(",")))
        .default_backoff();
    tokio::pin!(stream);
    let mut pods: BTreeMap<String, Vec<Target>> = BTreeMap::new();
    let mut listing: Option<BTreeMap<String, Vec<Target>>> = None;
    loop {
        let event = tokio::select! {
            () = stop.cancelled() => return,
            e = stream.next() => e,
        };
        let name = |p: &Pod| p.metadata.name.clone().unwrap_or_default();
        match event {
            None => return,
            Some(Err(e)) => {
                tracing::warn!(namespace = %namespace, error = %e, "Pod watch failed; retrying.");
                continue;
            }
            Some(Ok(Event::Init)) => {
                listing = Some(BTreeMap::new());
                continue;
            }
            Some(Ok(Event::InitApply(p))) => {
                listing
                    .get_or_insert_default()
                    .insert(name(&p), targets_of(&p, &d));
                continue;
            }
            Some(Ok(Event::InitDone)) => pods = listing.take().unwrap_or_default(),
            Some(Ok(Event::Apply(p))) => {
                pods.insert(name(&p), targets_of(&p, &d));
            }
            Some(Ok(Event::Delete(p))) => {
                pods.remove(&name(&p));
            }
        }
        if tx
            .send((index, pods.values().flatten().cloned().collect()))
            .is_err()
        {
            return;
        }
    }
}
