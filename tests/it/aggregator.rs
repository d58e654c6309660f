//! The aggregator in the real pipeline: simulated vLLM servers → scraper → Kafka →
//! aggregator → `aggregates.v1` and `/metrics`, started through `poolpilot::start`
//! as `poolpilot scraper` and `poolpilot aggregator` would be.

use std::time::{Duration, Instant};

use poolpilot::{Config, Part, start};
use poolpilot_tests::{http_get, infra, kafka_shared, unique};
use shared::bus::typed::Typed;
use shared::bus::{BusKind, StartFrom, Subscribe};
use shared::config::validate;
use shared::wire::{Aggregates, Topic};

const WAIT: Duration = Duration::from_secs(60);

fn gauge(a: &Aggregates, name: &str) -> Option<f64> {
    a.series.iter().find(|s| s.name == name).map(|s| s.value)
}

async fn until(
    sub: &mut Typed<Vec<Aggregates>>,
    pool: &str,
    what: &str,
    want: impl Fn(&Aggregates) -> bool,
) -> Aggregates {
    tokio::time::timeout(WAIT, async {
        loop {
            let (_, batch) = sub.recv().await.unwrap();
            if let Some(a) = batch.into_iter().find(|a| a.pool == pool && want(a)) {
                return a;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no aggregate where {what} within {WAIT:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overloading_the_pool_moves_its_gauges_and_idling_brings_them_back() {
    let _broker = kafka_shared().await;
    let fleet = poolpilot_tests::sim_fleet(2).await;
    let pods = fleet.pods();
    let pool = unique("agg");
    let mut config = Config::default();
    config.admin.listen = "127.0.0.1:0".parse().unwrap();
    config.bus.kind = BusKind::Kafka;
    config.bus.kafka.brokers = infra().kafka_brokers.clone();
    config.bus.topic_prefix = format!("{}.", unique("it"));
    config.scraper.interval = Duration::from_millis(100);
    config.scraper.timeout = Duration::from_millis(100);
    config.scraper.pools = vec![poolpilot::local::scrape_pool(&pool, "sim", &pods)];
    let topics = config.bus.topics();
    let running = start(
        &[Part::Scraper, Part::Aggregator],
        validate(config.clone()).unwrap(),
    )
    .await
    .unwrap();
    let sub = running
        .deps
        .bus
        .subscribe(
            Subscribe::new(unique("g"), [topics.name(Topic::Aggregates)]).start(StartFrom::Latest),
        )
        .unwrap();
    let mut sub = Typed::<Vec<Aggregates>>::new(sub, running.deps.bus_metrics.clone());

    let idle = until(&mut sub, &pool, "both pods are ready", |a| {
        gauge(a, "inference_pool_ready_pods") == Some(2.0)
    })
    .await;
    assert_eq!(
        gauge(&idle, "inference_pool_average_kv_cache_utilization"),
        Some(0.0)
    );
    assert_eq!(gauge(&idle, "inference_pool_average_queue_size"), Some(0.0));

    // Overload one pod past its 64 sequence slots: the queue forms, KV fills.
    // Responses are held, unread: their requests run until dropped.
    let loaded = Instant::now();
    let streams = poolpilot_tests::hold_completions(&pods[0].url(), 80, 1600, 4000).await;
    let busy = until(&mut sub, &pool, "the queue shows", |a| {
        gauge(a, "inference_pool_average_queue_size").is_some_and(|q| q > 0.0)
    })
    .await;
    let reacted = loaded.elapsed();
    assert!(
        gauge(&busy, "inference_pool_average_kv_cache_utilization").unwrap() > 0.05,
        "{busy:?}"
    );
    assert!(
        gauge(&busy, "inference_pool_average_running_requests").unwrap() >= 32.0,
        "{busy:?}"
    );
    eprintln!("queue visible on aggregates.v1 {reacted:?} after the load started");

    // /metrics shows the same gauges under the endpoint picker's names.
    let page = http_get(running.admin_addr, "/metrics").await.unwrap().body;
    let line = format!("inference_pool_average_kv_cache_utilization{{name=\"{pool}\"}}");
    assert!(page.contains(&line), "{page}");
    assert!(page.contains(&format!(
        "inference_pool_per_pod_queue_size{{name=\"{pool}\",model_server_pod=\"{}\"}}",
        pods[0].name
    )));

    // Idle again: the gauges come back down.
    drop(streams);
    until(&mut sub, &pool, "the pool idles", |a| {
        gauge(a, "inference_pool_average_kv_cache_utilization") == Some(0.0)
            && gauge(a, "inference_pool_average_queue_size") == Some(0.0)
    })
    .await;
    sub.close().await.unwrap();
    running.shutdown().await.unwrap();
    fleet.shutdown().await;
}
