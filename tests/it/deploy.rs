//! `deploy/`: the Kubernetes manifests against the real kube-apiserver with the real
//! kubectl (a server-side dry run of every kustomization, after the CRDs they need),
//! the parts' ServiceAccounts proven sufficient and minimal by running the scaler and
//! the scraper with their own tokens, the manifests checked against the config they
//! mount, and the Grafana dashboard's every query parsed and checked against the
//! series a live poolpilot exports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Parser;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams, PostParams};
use poolpilot::{Cli, Config, Part, start};
use poolpilot_tests::{
    Process, eventually, free_port, fresh_namespace, http_get, infra, kafka_shared,
    namespace_with_deployment, repo_root, shared_dir, unique,
};
use promql_parser::parser::Expr;
use promql_parser::util::{ExprVisitor, walk_expr};
use serde_json::{Value, json};
use shared::bus::typed::Typed;
use shared::bus::{Bus, StartFrom, Subscribe};
use shared::config::{parse, validate};
use shared::wire::{PodSamples, Topic};

const WAIT: Duration = Duration::from_secs(60);

/// Every kustomization under deploy/kubernetes (the main one and its two examples).
const KUSTOMIZATIONS: [&str; 3] = [
    "deploy/kubernetes",
    "deploy/kubernetes/kafka",
    "deploy/kubernetes/monitoring",
];

/// The image every poolpilot container runs (and `docker-compose.yml` builds).
const IMAGE: &str = "ghcr.io/poolpilot/poolpilot:latest";

// ---------------------------------------------------------------------------------
// kubectl
// ---------------------------------------------------------------------------------

fn kubectl_bin() -> &'static Path {
    let bin = &infra().kubectl;
    assert!(
        bin.is_file(),
        "{} is missing: `dev/infra install` (or `up`) builds kubectl with the kube-apiserver",
        bin.display()
    );
    bin
}

/// `kubectl --kubeconfig <kubeconfig> args…` from the repository root, `stdin` fed in.
fn kubectl_as(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = Command::new(kubectl_bin())
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .current_dir(repo_root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

/// `kubectl args…` as the admin; its stdout, or a failure with everything it said.
fn kubectl(args: &[&str], stdin: Option<&str>) -> String {
    let out = kubectl_as(&infra().kubeconfig, args, stdin);
    assert!(
        out.status.success(),
        "kubectl {args:?} ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The objects `kubectl kustomize <dir>` renders.
fn kustomize(dir: &str) -> Vec<Value> {
    let text = kubectl(&["kustomize", dir], None);
    serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{dir}: {e}\n{text}"))
}

fn kind_of<'a>(objects: &'a [Value], kind: &str) -> impl Iterator<Item = &'a Value> + 'a {
    let kind = kind.to_owned();
    objects.iter().filter(move |o| o["kind"] == kind.as_str())
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    kind_of(objects, kind)
        .find(|o| o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in the kustomization"))
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// The CRDs the manifests use, applied (server-side: the scraper's test may have made a
/// looser InferencePool CRD first) and Established.
fn apply_crds() {
    let dir = infra().crds.display().to_string();
    assert!(
        Path::new(&dir).join(".complete").exists(),
        "{dir} is missing: `dev/infra install` (or `up`) downloads the CRDs with kube"
    );
    kubectl(
        &[
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=poolpilot-tests",
            "-f",
            &dir,
        ],
        None,
    );
    kubectl(
        &[
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "-f",
            &dir,
        ],
        None,
    );
}

// ---------------------------------------------------------------------------------
// (a) the kustomizations against the API server
// ---------------------------------------------------------------------------------

#[test]
fn every_kustomization_passes_a_server_side_dry_run_on_the_real_api_server() {
    apply_crds();
    // A dry run creates nothing, so a Namespace in the same apply does not exist for
    // what goes in it: the Namespace alone is applied for real first.
    let namespace = find(&kustomize("deploy/kubernetes"), "Namespace", "poolpilot").clone();
    kubectl(&["apply", "-f", "-"], Some(&namespace.to_string()));
    for dir in KUSTOMIZATIONS {
        let objects = kustomize(dir);
        let out = kubectl_as(
            &infra().kubeconfig,
            &["apply", "--dry-run=server", "-k", dir],
            None,
        );
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            out.status.success(),
            "kubectl apply --dry-run=server -k {dir}:\n{stdout}{stderr}"
        );
        // Warnings are PodSecurity (`restricted` on the namespace) or deprecations.
        assert!(
            !stderr.contains("Warning"),
            "kubectl apply --dry-run=server -k {dir} warned:\n{stderr}"
        );
        let accepted = stdout
            .lines()
            .filter(|l| l.ends_with("(server dry run)"))
            .count();
        assert_eq!(accepted, objects.len(), "{dir}:\n{stdout}");
    }
}

/// The part each Deployment runs, from its `args` as the binary parses them.
fn part_of(deployment: &Value) -> (String, PathBuf) {
    let name = str_of(&deployment["metadata"]["name"]);
    let args: Vec<String> = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap_or_else(|| panic!("{name}: no args"))
        .iter()
        .map(|a| str_of(a).to_owned())
        .collect();
    let cli = Cli::try_parse_from(std::iter::once("poolpilot".to_owned()).chain(args.clone()))
        .unwrap_or_else(|e| panic!("{name}: `poolpilot {}`: {e}", args.join(" ")));
    let (_, part_args) = cli
        .command
        .part()
        .unwrap_or_else(|| panic!("{name} must run one part"));
    let config = part_args
        .config
        .clone()
        .unwrap_or_else(|| panic!("{name}: no --config"));
    (args[0].clone(), config)
}

/// `(volume, mountPath)` of the container's mount that holds `path`, the deepest one.
fn mount_of<'a>(pod: &'a Value, path: &Path) -> Option<(&'a Value, &'a str)> {
    let mounts = pod["containers"][0]["volumeMounts"].as_array()?;
    let mount = mounts
        .iter()
        .filter(|m| path.starts_with(str_of(&m["mountPath"])))
        .max_by_key(|m| str_of(&m["mountPath"]).len())?;
    let volume = pod["volumes"]
        .as_array()?
        .iter()
        .find(|v| v["name"] == mount["name"])?;
    Some((volume, str_of(&mount["mountPath"])))
}

/// The ConfigMap key a volume shows at `relative` (a path under its mount), and the
/// ConfigMap's name.
fn config_map_file(volume: &Value, relative: &str) -> Option<(String, String)> {
    let sources: Vec<&Value> = match volume.get("projected") {
        Some(p) => p["sources"]
            .as_array()?
            .iter()
            .filter_map(|s| s.get("configMap"))
            .collect(),
        None => vec![volume.get("configMap")?],
    };
    sources.into_iter().find_map(|cm| {
        let name = str_of(&cm["name"]).to_owned();
        match cm.get("items").and_then(Value::as_array) {
            Some(items) => items
                .iter()
                .find(|i| i["path"] == relative)
                .map(|i| (str_of(&i["key"]).to_owned(), name)),
            None => (!relative.contains('/')).then(|| (relative.to_owned(), name)),
        }
    })
}

/// Every label of `selector` is on `labels`.
fn selects(selector: &Value, labels: &Value) -> bool {
    selector
        .as_object()
        .is_some_and(|s| !s.is_empty() && s.iter().all(|(k, v)| labels[k] == *v))
}

#[test]
fn every_deployment_runs_a_part_as_the_config_it_mounts_says() {
    let objects = kustomize("deploy/kubernetes");
    let text =
        std::fs::read_to_string(repo_root().join("deploy/kubernetes/poolpilot.yaml")).unwrap();
    let config = parse::<Config>("deploy/kubernetes/poolpilot.yaml", &text)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    let config_map_data = |name: &str, key: &str| -> String {
        str_of(&find(&objects, "ConfigMap", name)["data"][key]).to_owned()
    };
    let admin_port = config.admin.listen.port();
    let mut parts = Vec::new();
    for d in kind_of(&objects, "Deployment") {
        let name = str_of(&d["metadata"]["name"]);
        let pod = &d["spec"]["template"]["spec"];
        let labels = &d["spec"]["template"]["metadata"]["labels"];
        let c = &pod["containers"][0];
        assert_eq!(pod["containers"].as_array().unwrap().len(), 1, "{name}");
        assert_eq!(c["image"], IMAGE, "{name}: one image for every part");
        let (part, config_path) = part_of(d);

        // The config file is the ConfigMap made from deploy/kubernetes/poolpilot.yaml.
        let (volume, at) = mount_of(pod, &config_path)
            .unwrap_or_else(|| panic!("{name}: {} is not mounted", config_path.display()));
        let relative = config_path.strip_prefix(at).unwrap().to_str().unwrap();
        let (key, map) = config_map_file(volume, relative)
            .unwrap_or_else(|| panic!("{name}: {} is no ConfigMap key", config_path.display()));
        assert_eq!(config_map_data(&map, &key), text, "{name}: {map}/{key}");

        // Probes on the admin server, where the config puts it.
        let admin = c["ports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "admin")
            .unwrap_or_else(|| panic!("{name}: no admin port"));
        assert_eq!(admin["containerPort"], admin_port, "{name}");
        for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
            assert_eq!(c[probe]["httpGet"]["path"], path, "{name}: {probe}");
            assert_eq!(c[probe]["httpGet"]["port"], "admin", "{name}: {probe}");
        }
        for r in ["requests/cpu", "requests/memory", "limits/memory"] {
            let (a, b) = r.split_once('/').unwrap();
            assert!(
                c["resources"][a][b].is_string(),
                "{name}: resources.{a}.{b}"
            );
        }
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{name}");
        assert_eq!(
            c["securityContext"]["readOnlyRootFilesystem"], true,
            "{name}"
        );
        assert_eq!(
            c["securityContext"]["allowPrivilegeEscalation"], false,
            "{name}"
        );

        // State survives a restart only on a writable volume (the root is read-only).
        let state = match part.as_str() {
            "aggregator" => config.aggregator.state_path.clone(),
            "alert-evaluator" => config.alert_evaluator.state_path.clone(),
            "scaler" => config.scaler.state_path.clone(),
            _ => None,
        };
        if let Some(state) = state {
            let (volume, _) = mount_of(pod, &state)
                .unwrap_or_else(|| panic!("{name}: state_path {} is not mounted", state.display()));
            assert!(
                volume.get("emptyDir").is_some() || volume.get("persistentVolumeClaim").is_some(),
                "{name}: state_path on {volume}"
            );
        }
        // Every rule file the alert-evaluator loads is deploy/prometheus's, mounted.
        if part == "alert-evaluator" {
            assert!(!config.alert_evaluator.rule_files.is_empty());
            for file in &config.alert_evaluator.rule_files {
                let (volume, at) = mount_of(pod, file)
                    .unwrap_or_else(|| panic!("{name}: {} is not mounted", file.display()));
                let relative = file.strip_prefix(at).unwrap().to_str().unwrap();
                let (key, map) = config_map_file(volume, relative)
                    .unwrap_or_else(|| panic!("{name}: {} is no ConfigMap key", file.display()));
                let shipped =
                    std::fs::read_to_string(repo_root().join("deploy/prometheus").join(&key))
                        .unwrap();
                assert_eq!(config_map_data(&map, &key), shipped, "{map}/{key}");
            }
        }
        let port = |port_name: &str| {
            c["ports"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == port_name)
                .unwrap_or_else(|| panic!("{name}: no port {port_name}"))["containerPort"]
                .clone()
        };
        match part.as_str() {
            "router" => assert_eq!(port("http"), config.router.listen.port()),
            "scraper" => {
                assert_eq!(port("otlp-grpc"), config.scraper.otlp.grpc_listen.port());
                assert_eq!(port("otlp-http"), config.scraper.otlp.http_listen.port());
            }
            "simulate" => assert_eq!(port("vllm"), config.simulator.base_port),
            _ => {}
        }

        // Its own ServiceAccount; a token only where the part calls the API server.
        let account = str_of(&pod["serviceAccountName"]);
        let sa = find(&objects, "ServiceAccount", account);
        let token = pod["automountServiceAccountToken"] != false
            && sa["automountServiceAccountToken"] != false;
        assert_eq!(
            token,
            ["scraper", "scaler"].contains(&part.as_str()),
            "{name}: token mounted"
        );
        if part != "simulate" {
            let service = kind_of(&objects, "Service")
                .find(|s| selects(&s["spec"]["selector"], labels))
                .unwrap_or_else(|| panic!("{name}: no Service"));
            assert!(
                service["spec"]["ports"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["name"] == "admin" && p["targetPort"] == "admin"),
                "{name}: the Service exposes admin (metrics)"
            );
            assert!(
                kind_of(&objects, "PodDisruptionBudget")
                    .any(|p| selects(&p["spec"]["selector"]["matchLabels"], labels)),
                "{name}: no PodDisruptionBudget"
            );
        }
        parts.push(part);
    }
    parts.sort();
    assert_eq!(
        parts,
        [
            "aggregator",
            "alert-evaluator",
            "router",
            "scaler",
            "scraper",
            "simulate"
        ]
    );

    // The example pool closes the loop: the scraper follows its InferencePool, which
    // selects the simulator's Pods on its port, and the scaler scales that Deployment.
    let simulator = find(&objects, "Deployment", "simulator");
    for pool in &config.scraper.pools {
        let name = pool
            .kubernetes
            .as_ref()
            .and_then(|k| k.inference_pool.as_deref())
            .unwrap_or_else(|| panic!("scraper pool {}: no inference_pool", pool.name));
        let ip = find(&objects, "InferencePool", name);
        assert_eq!(ip["metadata"]["namespace"], pool.namespace, "{name}");
        assert!(selects(
            &ip["spec"]["selector"]["matchLabels"],
            &simulator["spec"]["template"]["metadata"]["labels"]
        ));
        assert_eq!(
            ip["spec"]["targetPorts"][0]["number"],
            config.simulator.base_port
        );
    }
    for pool in &config.scaler.pools {
        assert!(
            config.scraper.pools.iter().any(|p| p.name == pool.pool),
            "scaler pool {} is not scraped",
            pool.pool
        );
        let target = &pool.hpa.scale_target_ref;
        let d = find(&objects, &target.kind, &target.name);
        assert_eq!(d["metadata"]["namespace"], pool.namespace);
        assert!(
            d["spec"].get("replicas").is_none(),
            "{}: `replicas` in the manifest would undo the scaler on every apply",
            target.name
        );
    }

    // Kafka: the config's default brokers are the example's Service, which the broker
    // advertises.
    assert!(
        text.contains(":-kafka:9092}"),
        "brokers default to kafka:9092"
    );
    let kafka = kustomize("deploy/kubernetes/kafka");
    let service = find(&kafka, "Service", "kafka");
    assert_eq!(service["spec"]["ports"][0]["port"], 9092);
    let broker = find(&kafka, "StatefulSet", "kafka");
    let env = &broker["spec"]["template"]["spec"]["containers"][0]["env"];
    assert!(
        env.as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "KAFKA_ADVERTISED_LISTENERS"
                && str_of(&e["value"]).contains("//kafka:9092")),
        "{env}"
    );
}

// ---------------------------------------------------------------------------------
// (b) RBAC: each part's ServiceAccount, with its own token
// ---------------------------------------------------------------------------------

/// The part's ServiceAccount (its Deployment's), the RoleBindings naming it and their
/// Roles, from the kustomization, created for real in `ns`; returns a kubeconfig that
/// holds a token of that ServiceAccount.
fn service_account_in(ns: &str, deployment: &str) -> PathBuf {
    let objects = kustomize("deploy/kubernetes");
    let d = find(&objects, "Deployment", deployment);
    let account = str_of(&d["spec"]["template"]["spec"]["serviceAccountName"]).to_owned();
    let mut wanted = vec![find(&objects, "ServiceAccount", &account).clone()];
    for binding in kind_of(&objects, "RoleBinding") {
        let subjects = binding["subjects"].as_array().unwrap();
        if !subjects
            .iter()
            .any(|s| s["kind"] == "ServiceAccount" && s["name"] == account.as_str())
        {
            continue;
        }
        let mut binding = binding.clone();
        for s in binding["subjects"].as_array_mut().unwrap() {
            s["namespace"] = json!(ns);
        }
        assert_eq!(
            binding["roleRef"]["kind"], "Role",
            "namespaced, least privilege"
        );
        wanted.push(find(&objects, "Role", str_of(&binding["roleRef"]["name"])).clone());
        wanted.push(binding);
    }
    assert!(
        wanted.len() >= 3,
        "{account}: no RoleBinding in the kustomization"
    );
    for object in &mut wanted {
        object["metadata"]["namespace"] = json!(ns);
    }
    let list = json!({ "apiVersion": "v1", "kind": "List", "items": wanted });
    kubectl(&["apply", "-f", "-"], Some(&list.to_string()));
    let token = kubectl(
        &["create", "token", &account, "-n", ns, "--duration=1h"],
        None,
    );
    let admin = std::fs::read_to_string(&infra().kubeconfig).unwrap();
    let mut kubeconfig: Value = serde_saphyr::from_str(&admin).unwrap();
    kubeconfig["users"][0]["user"] = json!({ "token": token.trim() });
    kubeconfig["contexts"][0]["context"]["namespace"] = json!(ns);
    let path = std::env::temp_dir().join(unique(&format!("{account}.kubeconfig")));
    std::fs::write(&path, kubeconfig.to_string()).unwrap();
    path
}

/// What `kubectl auth can-i --list` says the kubeconfig's user may do in its
/// namespace, beyond what every authenticated user may (self-reviews, discovery).
fn rights(kubeconfig: &Path) -> BTreeSet<String> {
    let out = kubectl_as(kubeconfig, &["auth", "can-i", "--list"], None);
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with(' ') && !l.starts_with("selfsubject"))
        .map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let verbs = l[l.rfind('[').unwrap()..].to_owned();
            format!("{} {verbs}", cols[0])
        })
        .collect()
}

/// `kubectl auth can-i <args>` as the kubeconfig's user.
fn can(kubeconfig: &Path, args: &[&str]) -> bool {
    let mut all = vec!["auth", "can-i"];
    all.extend_from_slice(args);
    let out = kubectl_as(kubeconfig, &all, None);
    let said = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        said == "yes" || said == "no",
        "can-i {args:?}: {said} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    said == "yes"
}

async fn admin_client() -> kube::Client {
    scaler::kube_client(Some(&infra().kubeconfig))
        .await
        .unwrap()
}

/// `deploy/kubernetes/poolpilot.yaml` with every pool moved to `ns`.
fn cluster_config(ns: &str) -> Config {
    let mut config =
        shared::config::load::<Config>(&repo_root().join("deploy/kubernetes/poolpilot.yaml"))
            .unwrap_or_else(|e| panic!("{e}"))
            .into_inner();
    for p in &mut config.scraper.pools {
        p.namespace = ns.to_owned();
    }
    for p in &mut config.scaler.pools {
        p.namespace = ns.to_owned();
    }
    config
}

/// The scaler's ServiceAccount from the kustomization, with a token of its own, runs
/// the real `poolpilot scaler` (over Kafka) with the shipped config and scales the
/// shipped example Deployment; and it may do nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scalers_service_account_scales_its_pool_and_may_do_nothing_else() {
    let _broker = kafka_shared().await;
    let admin = admin_client().await;
    let ns = fresh_namespace(&admin, "deploy").await;
    let kubeconfig = service_account_in(&ns, "scaler");

    assert_eq!(
        rights(&kubeconfig),
        BTreeSet::from([
            "deployments.apps/scale [get patch]".to_owned(),
            "statefulsets.apps/scale [get patch]".to_owned(),
        ])
    );
    assert!(can(
        &kubeconfig,
        &["patch", "deployments", "--subresource=scale"]
    ));
    assert!(can(
        &kubeconfig,
        &["get", "deployments", "--subresource=scale"]
    ));
    for denied in [
        &["patch", "deployments"][..],
        &["get", "deployments"],
        &["delete", "deployments"],
        &["update", "deployments", "--subresource=scale"],
        &["get", "secrets"],
        &["list", "pods"],
        &[
            "patch",
            "deployments",
            "--subresource=scale",
            "-n",
            "default",
        ],
    ] {
        assert!(!can(&kubeconfig, denied), "the scaler may {denied:?}");
    }

    // The shipped example pool's Deployment, as the kustomization has it, in `ns`.
    let mut deployment = find(&kustomize("deploy/kubernetes"), "Deployment", "simulator").clone();
    deployment["metadata"]["namespace"] = json!(ns);
    let deployment: Deployment = serde_json::from_value(deployment).unwrap();
    let deployments = Api::<Deployment>::namespaced(admin.clone(), &ns);
    deployments
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();

    let mut config = cluster_config(&ns);
    let prefix = format!("{}.", unique("it"));
    config.bus.topic_prefix = prefix.clone();
    config.bus.kafka.brokers = infra().kafka_brokers.clone();
    config.admin.listen = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    config.scaler.kubeconfig = Some(kubeconfig.clone());
    config.scaler.state_path = None;
    let pool = config.scaler.pools[0].pool.clone();
    let target = config.scaler.pools[0].hpa.scale_target_ref.name.clone();
    assert_eq!(target, "simulator");
    let file = std::env::temp_dir().join(unique("scaler.yaml"));
    std::fs::write(&file, serde_json::to_string(&config).unwrap()).unwrap();

    let (bus, topics) = poolpilot_tests::kafka_topics(
        &prefix,
        &[Topic::Aggregates, Topic::Decisions, Topic::Samples],
    )
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = {
        let (bus, topic, pool, stop) = (
            bus.clone(),
            topics.name(Topic::Aggregates),
            pool.clone(),
            stop.clone(),
        );
        // One ready pod at 0.9 KV cache against the shipped 0.7: ceil(0.9 / 0.7) = 2.
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let _ = bus
                    .publish(&topic, pool.as_bytes(), crate::scale::kv(&pool, 0.9, 1.0))
                    .await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let _scaler = Process::poolpilot("scaler", &file);
    let target = scaler::TargetRef {
        namespace: ns.clone(),
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        name: target,
    };
    eventually(WAIT, "the scaler to patch the Deployment to 2", || {
        let (admin, target) = (admin.clone(), target.clone());
        async move { (crate::scale::replicas(&admin, &target).await == 2).then_some(()) }
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    feeder.await.unwrap();
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_file(&kubeconfig);
}

/// The scraper's ServiceAccount from the kustomization, with a token of its own, lets
/// the scraper (the shipped config's pool) follow the shipped InferencePool to a
/// simulated server; and it may do nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scrapers_service_account_follows_its_inference_pool_and_may_do_nothing_else() {
    apply_crds();
    let admin = admin_client().await;
    let ns = fresh_namespace(&admin, "deploy").await;
    let kubeconfig = service_account_in(&ns, "scraper");

    assert_eq!(
        rights(&kubeconfig),
        BTreeSet::from([
            "inferencepools.inference.networking.k8s.io [list watch]".to_owned(),
            "pods [list watch]".to_owned(),
        ])
    );
    for denied in [
        &["get", "secrets"][..],
        &["get", "pods"],
        &["delete", "pods"],
        &["patch", "inferencepools.inference.networking.k8s.io"],
        &["list", "pods", "-n", "default"],
    ] {
        assert!(!can(&kubeconfig, denied), "the scraper may {denied:?}");
    }

    // The shipped InferencePool, on the port a simulated server listens on, and a
    // ready Pod with the shipped simulator's labels at that server's address.
    let fleet = poolpilot_tests::sim_fleet(1).await;
    let port = fleet.pods()[0].addr.port();
    let objects = kustomize("deploy/kubernetes");
    let config = cluster_config(&ns);
    let ip_name = config.scraper.pools[0]
        .kubernetes
        .as_ref()
        .and_then(|k| k.inference_pool.clone())
        .unwrap();
    let mut ip = find(&objects, "InferencePool", &ip_name).clone();
    ip["metadata"]["namespace"] = json!(ns);
    ip["spec"]["targetPorts"] = json!([{ "number": port }]);
    kubectl(&["apply", "-f", "-"], Some(&ip.to_string()));
    let labels =
        find(&objects, "Deployment", "simulator")["spec"]["template"]["metadata"]["labels"].clone();
    let pod: Pod = serde_json::from_value(json!({
        "metadata": { "name": "sim-0", "labels": labels },
        "spec": { "containers": [{ "name": "simulator", "image": IMAGE }] }
    }))
    .unwrap();
    let pods: Api<Pod> = Api::namespaced(admin.clone(), &ns);
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let ready = json!({ "status": { "phase": "Running", "podIP": "127.0.0.1",
        "conditions": [{ "type": "Ready", "status": "True" }] } });
    pods.patch_status("sim-0", &PatchParams::default(), &Patch::Merge(&ready))
        .await
        .unwrap();

    let mut config = config;
    config.bus = Default::default();
    config.admin.listen = "127.0.0.1:0".parse().unwrap();
    config.scraper.kubeconfig = Some(kubeconfig.clone());
    config.scraper.interval = Duration::from_millis(200);
    config.scraper.timeout = Duration::from_millis(100);
    config.scraper.otlp.enabled = false;
    let running = start(&[Part::Scraper], validate(config).unwrap())
        .await
        .unwrap();
    let deps = &running.deps;
    let sub = deps
        .bus
        .subscribe(
            Subscribe::new(unique("g"), [deps.topics.name(Topic::Samples)])
                .start(StartFrom::Earliest),
        )
        .unwrap();
    let mut samples: Typed<Vec<PodSamples>> = Typed::new(sub, deps.bus_metrics.clone());
    tokio::time::timeout(WAIT, async {
        loop {
            let (_, batch) = samples.recv().await.unwrap();
            if batch.iter().any(|p| p.pod == "sim-0" && p.signals.up) {
                break;
            }
        }
    })
    .await
    .expect("the scraper, with its own token, to scrape the InferencePool's Pod");
    running.shutdown().await.unwrap();
    fleet.shutdown().await;
    let _ = std::fs::remove_file(&kubeconfig);
}

// ---------------------------------------------------------------------------------
// (c) the Grafana dashboard
// ---------------------------------------------------------------------------------

/// Metric names a PromQL expression reads.
#[derive(Default)]
struct Names(BTreeSet<String>);

impl ExprVisitor for Names {
    type Error = String;
    fn pre_visit(&mut self, expr: &Expr) -> Result<bool, String> {
        let vs = match expr {
            Expr::VectorSelector(vs) => vs,
            Expr::MatrixSelector(m) => &m.vs,
            _ => return Ok(true),
        };
        let name = vs
            .name
            .clone()
            .ok_or_else(|| format!("a selector without a metric name: {vs}"))?;
        self.0.insert(name);
        Ok(true)
    }
}

/// Parses `expr` (Grafana's `$__…` interval macros replaced by a duration) with
/// promql-parser; the metric names it reads.
fn names_in(expr: &str, place: &str) -> BTreeSet<String> {
    let promql = ["$__rate_interval", "$__interval", "$__range"]
        .iter()
        .fold(expr.to_owned(), |e, m| e.replace(m, "5m"));
    let ast = promql_parser::parser::parse(&promql)
        .unwrap_or_else(|e| panic!("{place}: `{expr}` does not parse: {e}"));
    let mut names = Names::default();
    walk_expr(&mut names, &ast).unwrap_or_else(|e| panic!("{place}: {e}"));
    names.0
}

/// Every `(place, expr)` of the dashboard's panels, rows included.
fn panel_queries(panels: &[Value], out: &mut Vec<(String, String)>) {
    for p in panels {
        if let Some(nested) = p["panels"].as_array() {
            panel_queries(nested, out);
        }
        for t in p["targets"].as_array().into_iter().flatten() {
            out.push((
                format!("panel {:?} {}", p["title"], t["refId"]),
                str_of(&t["expr"]).to_owned(),
            ));
        }
    }
}

/// The rule files in deploy/prometheus: `(file, groups)`.
fn rule_files() -> Vec<(String, Value)> {
    let dir = repo_root().join("deploy/prometheus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".yaml") && !n.ends_with(".test.yaml") && n != "kustomization.yaml")
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|n| {
            let text = std::fs::read_to_string(dir.join(&n)).unwrap();
            let v: Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{n}: {e}"));
            (n, v)
        })
        .collect()
}

/// Sample names in the real `/metrics` captures of ../shared/fixtures/samples (DCGM,
/// vLLM, SGLang, Triton).
fn fixture_names() -> BTreeSet<String> {
    let dir = shared_dir().join("fixtures/samples");
    std::fs::read_dir(&dir)
        .unwrap()
        .flat_map(|e| {
            std::fs::read_to_string(e.unwrap().path())
                .unwrap()
                .lines()
                .filter(|l| !l.starts_with('#') && !l.is_empty())
                .map(|l| l.split(['{', ' ']).next().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Sample names on a live `/metrics` page of every part in one process: the simulated
/// fleet behind the router under a little load (one model that does not exist), a
/// server that goes away under it (router errors), SLOs, and a scaler pool whose
/// minimum scales a real Deployment (decisions).
async fn live_names() -> BTreeSet<String> {
    let admin = admin_client().await;
    let target = namespace_with_deployment(&admin).await;
    let mut config = Config::default();
    config.admin.listen = "127.0.0.1:0".parse().unwrap();
    config.router.listen = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    // Scraped rarely and fresh for long, so a server removed below stays in the
    // router's table and requests to it are refused.
    config.scraper.interval = Duration::from_secs(20);
    config.router.freshness = Duration::from_secs(60);
    config.aggregator.freshness = Duration::from_secs(60);
    config.aggregator.slos = serde_json::from_value(json!([
        { "name": "availability", "objective": 99.9, "kind": "availability" },
        { "name": "latency", "objective": 99.0, "kind": "latency", "latency_threshold": "10s" }
    ]))
    .unwrap();
    config.scaler.kubeconfig = Some(infra().kubeconfig.clone());
    config.scaler.interval = Duration::from_millis(250);
    let mut scaling =
        serde_json::to_value(crate::scale::pool_scaling(&config.simulator.pool, &target)).unwrap();
    scaling["hpa"]["minReplicas"] = json!(2);
    config.scaler.pools = vec![serde_json::from_value(scaling).unwrap()];
    let base = format!("http://{}", config.router.listen);
    let running = start(&Part::ALL, validate(config).unwrap()).await.unwrap();
    let addr = running.admin_addr;
    let page = || async move { http_get(addr, "/metrics").await.map(|r| r.body).ok() };
    let client = reqwest::Client::new();
    let model = simulator::Config::default().server.model;
    // Prompts of their own: prefix affinity would send one prompt to one server.
    let n = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let complete = |model: String| {
        let (client, base, n) = (client.clone(), base.clone(), n.clone());
        async move {
            let prompt = format!("{} hello there", n.fetch_add(1, Ordering::Relaxed));
            client
                .post(format!("{base}/v1/completions"))
                .json(&json!({ "model": model, "prompt": prompt, "max_tokens": 4 }))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    eventually(WAIT, "the router to serve", || {
        let model = model.clone();
        async move { (complete(model).await == 200).then_some(()) }
    })
    .await;
    for _ in 0..20 {
        complete(model.clone()).await;
    }
    complete("no-such-model".to_owned()).await;
    // Waits until /metrics shows `wanted`, sending requests meanwhile.
    let until = |wanted: &'static [&'static str]| {
        let model = model.clone();
        async move {
            let deadline = std::time::Instant::now() + WAIT;
            loop {
                for _ in 0..10 {
                    complete(model.clone()).await;
                }
                let body = page().await.unwrap_or_default();
                let missing: Vec<_> = wanted.iter().filter(|w| !body.contains(*w)).collect();
                if missing.is_empty() {
                    return body;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "after {WAIT:?}, /metrics still lacks {missing:?}:\n{body}"
                );
            }
        }
    };
    let serving = until(&[
        "inference_model_request_total{",
        "inference_model_request_error_total{",
        "poolpilot_scaler_decisions_total{",
        "slo:sli_error:ratio_rate5m{",
        "poolpilot_pool_average_gpu_utilization{",
    ])
    .await;
    // Every server goes away; until the next scrape says so, the router still tries
    // them and each refused connection is a router error.
    let fleet = running.fleet.clone().expect("up starts a simulated fleet");
    while fleet.remove_newest().await.is_some() {}
    let failing = until(&["poolpilot_router_errors_total{"]).await;
    running.shutdown().await.unwrap();
    [serving, failing]
        .iter()
        .flat_map(|body| body.lines())
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_query_parses_and_reads_series_poolpilot_exports_or_records() {
    let text = std::fs::read_to_string(repo_root().join("deploy/grafana/poolpilot.json")).unwrap();
    let dashboard: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    assert!(dashboard["schemaVersion"].as_u64().unwrap() >= 39);
    assert!(dashboard["uid"].is_string() && dashboard["title"].is_string());
    let vars = dashboard["templating"]["list"].as_array().unwrap();
    let var = |name: &str| {
        vars.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no ${name} variable"))
    };
    assert_eq!(
        (&var("datasource")["type"], &var("datasource")["query"]),
        (&json!("datasource"), &json!("prometheus"))
    );
    assert_eq!(
        var("pool")["query"]["query"],
        "label_values(inference_pool_average_kv_cache_utilization, name)"
    );

    let mut queries = Vec::new();
    panel_queries(dashboard["panels"].as_array().unwrap(), &mut queries);
    assert!(queries.len() >= 20, "{} queries", queries.len());
    for p in dashboard["panels"].as_array().unwrap() {
        if p["type"] != "row" {
            assert_eq!(p["datasource"]["uid"], "${datasource}", "{}", p["title"]);
        }
    }
    let mut used: BTreeMap<String, String> = BTreeMap::new();
    for (place, expr) in &queries {
        for name in names_in(expr, place) {
            used.entry(name).or_insert_with(|| place.clone());
        }
    }
    for v in vars.iter().filter(|v| v["type"] == "query") {
        let q = str_of(&v["query"]["query"]);
        let metric = q
            .strip_prefix("label_values(")
            .and_then(|r| r.split(',').next())
            .unwrap_or_else(|| panic!("${}: {q}", v["name"]));
        used.entry(metric.trim().to_owned())
            .or_insert_with(|| format!("${}", v["name"]));
    }

    // What a Prometheus scraping poolpilot (and DCGM exporters) has: poolpilot's live
    // series, the DCGM and engine captures, the recording rules of deploy/prometheus,
    // and ALERTS for its alerting rules.
    let live = live_names().await;
    let exported: BTreeSet<String> = live.iter().cloned().chain(fixture_names()).collect();
    let mut recorded = BTreeMap::new();
    let mut alerting = false;
    for (file, groups) in rule_files() {
        for group in groups["groups"].as_array().unwrap() {
            for rule in group["rules"].as_array().unwrap() {
                if let Some(record) = rule["record"].as_str() {
                    let place = format!("{file}: {record}");
                    recorded.insert(record.to_owned(), names_in(str_of(&rule["expr"]), &place));
                } else {
                    alerting = true;
                }
            }
        }
    }
    let known = |name: &str| {
        exported.contains(name) || recorded.contains_key(name) || (alerting && name == "ALERTS")
    };
    for (record, reads) in &recorded {
        for name in reads {
            assert!(
                known(name),
                "recording rule {record} reads {name}, which poolpilot does not export"
            );
        }
    }
    let unknown: Vec<_> = used
        .iter()
        .filter(|(name, _)| !known(name))
        .map(|(name, place)| format!("{place}: {name}"))
        .collect();
    assert!(
        unknown.is_empty(),
        "the dashboard reads series nobody exports:\n{}\nlive: {live:?}",
        unknown.join("\n")
    );
    // No recording rule is dead weight: each is read by the dashboard or by another
    // rule the dashboard reads.
    let mut reached: BTreeSet<&str> = used.keys().map(String::as_str).collect();
    loop {
        let more: BTreeSet<&str> = reached
            .iter()
            .filter_map(|n| recorded.get(*n))
            .flatten()
            .map(String::as_str)
            .filter(|n| !reached.contains(n))
            .collect();
        if more.is_empty() {
            break;
        }
        reached.extend(more);
    }
    for record in recorded.keys() {
        assert!(
            reached.contains(record.as_str()),
            "{record} is recorded but the dashboard never reads it"
        );
    }
}
