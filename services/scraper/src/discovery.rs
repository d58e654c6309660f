//! Kubernetes discovery: Pods selected as an InferencePool selects them (labels in a
//! namespace, `targetPorts`), watched through `kube`'s watcher. Only Ready Pods with
//! an IP that are not terminating are targets. Each change sends the pool's whole
//! target list; the scrape loops are reconciled against it. With `inference_pool`,
//! the selector and ports come from a real `InferencePool` object, and the Pod watch
//! restarts whenever they change.

use std::collections::BTreeMap;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
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

/// Follows pool number `index` until `stop`: through its `InferencePool` object when
/// the config names one, else through the configured selector.
pub async fn follow(
    client: Client,
    namespace: String,
    d: Discovery,
    index: usize,
    tx: mpsc::UnboundedSender<(usize, Vec<Target>)>,
    stop: CancellationToken,
) {
    let Some(name) = d.inference_pool.clone() else {
        return watch(client, namespace, d, index, tx, stop).await;
    };
    let gvk = GroupVersionKind::gvk("inference.networking.k8s.io", "v1", "InferencePool");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "inferencepools");
    let pools: Api<DynamicObject> = Api::namespaced_with(client.clone(), &namespace, &resource);
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let stream = watcher::watcher(pools, config).default_backoff();
    tokio::pin!(stream);
    let mut current: Option<(Discovery, CancellationToken)> = None;
    loop {
        let event = tokio::select! {
            () = stop.cancelled() => break,
            e = stream.next() => e,
        };
        let wanted = match event {
            None => break,
            Some(Err(e)) => {
                tracing::warn!(namespace = %namespace, inference_pool = %name, error = %e, "InferencePool watch failed (is its CRD installed?); retrying.");
                continue;
            }
            Some(Ok(Event::Apply(p) | Event::InitApply(p))) => pool_spec(&p, &d),
            Some(Ok(Event::Delete(_))) => None,
            Some(Ok(Event::Init | Event::InitDone)) => continue,
        };
        if current.as_ref().map(|(spec, _)| spec) == wanted.as_ref() {
            continue;
        }
        if let Some((_, old)) = current.take() {
            old.cancel();
        }
        match wanted {
            Some(spec) => {
                tracing::info!(inference_pool = %name, selector = ?spec.selector, ports = ?spec.target_ports, "Following InferencePool.");
                let token = stop.child_token();
                tokio::spawn(watch(
                    client.clone(),
                    namespace.clone(),
                    spec.clone(),
                    index,
                    tx.clone(),
                    token.clone(),
                ));
                current = Some((spec, token));
            }
            None => {
                if tx.send((index, Vec::new())).is_err() {
                    break;
                }
            }
        }
    }
    if let Some((_, token)) = current {
        token.cancel();
    }
}

/// The selector and ports of an `InferencePool` (v1: `spec.selector.matchLabels`,
/// `spec.targetPorts[].number`); `None` when it has neither.
pub fn pool_spec(pool: &DynamicObject, d: &Discovery) -> Option<Discovery> {
    let spec = pool.data.get("spec")?;
    let selector: BTreeMap<String, String> = spec
        .pointer("/selector/matchLabels")?
        .as_object()?
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
        .collect();
    let target_ports: Vec<u16> = spec
        .get("targetPorts")?
        .as_array()?
        .iter()
        .filter_map(|p| p.get("number")?.as_u64()?.try_into().ok())
        .collect();
    (!selector.is_empty() && !target_ports.is_empty()).then(|| Discovery {
        selector,
        target_ports,
        inference_pool: None,
        metrics_path: d.metrics_path.clone(),
    })
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
