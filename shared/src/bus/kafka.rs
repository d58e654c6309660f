//! The Kafka bus over rdkafka (bundled librdkafka). poolpilot's settings lean to
//! latency (`linger.ms=5`, lz4, `fetch.wait.max.ms=10`); every one of them, and any
//! other librdkafka property, can be overridden under `kafka.properties`.
//!
//! Commits follow librdkafka's at-least-once recipe: `enable.auto.offset.store=false`,
//! [`Subscription::commit`] stores the offset, auto-commit flushes stored offsets every
//! second, and [`Subscription::close`] commits synchronously before leaving.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::FutureExt;
use futures::future::BoxFuture;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message as _;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;

use super::{Bus, BusError, KafkaConfig, Message, StartFrom, Subscribe, Subscription, TopicSpec};

/// A Kafka cluster as a [`Bus`].
pub struct KafkaBus {
    config: KafkaConfig,
    producer: FutureProducer,
    admin: AdminClient<DefaultClientContext>,
}

impl KafkaBus {
    /// Builds the producer and admin clients; connects lazily.
    pub fn new(config: &KafkaConfig) -> Result<Self, BusError> {
        let timeout_ms = config.publish_timeout.as_millis().to_string();
        let producer = client_config(
            config,
            &[
                ("linger.ms", "5"),
                ("compression.type", "lz4"),
                ("message.timeout.ms", &timeout_ms),
                ("socket.connection.setup.timeout.ms", &timeout_ms),
            ],
        )
        .create()
        .map_err(|e| BusError::Client(e.to_string()))?;
        let admin = client_config(config, &[])
            .create()
            .map_err(|e| BusError::Client(e.to_string()))?;
        Ok(Self {
            config: config.clone(),
            producer,
            admin,
        })
    }
}

impl KafkaBus {
    /// Waits until the broker's metadata shows every topic with a leader for
    /// each partition: a topic just created may be unknown to a consumer for a
    /// moment after `CreateTopics` returns.
    async fn await_leaders(&self, topics: &[TopicSpec]) -> Result<(), BusError> {
        let deadline = tokio::time::Instant::now() + self.config.publish_timeout;
        for topic in topics {
            loop {
                let producer = self.producer.clone();
                let name = topic.name.clone();
                let ready = tokio::task::spawn_blocking(move || {
                    let metadata = producer
                        .client()
                        .fetch_metadata(Some(&name), Timeout::After(Duration::from_secs(1)))
                        .ok()?;
                    let t = metadata.topics().first()?;
                    let led = t.partitions().iter().filter(|p| p.leader() >= 0).count();
                    Some(t.error().is_none() && led == t.partitions().len() && led > 0)
                })
                .await
                .ok()
                .flatten()
                .unwrap_or(false);
                if ready {
                    break;
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(BusError::Admin(format!(
                        "{}: created, but no leader for its partitions within {:?}",
                        topic.name, self.config.publish_timeout
                    )));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }
}

/// poolpilot's settings for one client, then the user's properties over them.
fn client_config(config: &KafkaConfig, ours: &[(&str, &str)]) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &config.brokers);
    for (k, v) in ours {
        c.set(*k, *v);
    }
    for (k, v) in &config.properties {
        c.set(k, v);
    }
    c
}

impl Bus for KafkaBus {
    fn ensure_topics<'a>(&'a self, topics: &'a [TopicSpec]) -> BoxFuture<'a, Result<(), BusError>> {
        async move {
            let new: Vec<_> = topics
                .iter()
                .map(|t| NewTopic::new(&t.name, t.partitions, TopicReplication::Fixed(-1)))
                .collect();
            let options = AdminOptions::new()
                .operation_timeout(Some(self.config.publish_timeout))
                .request_timeout(Some(self.config.publish_timeout));
            let results = self
                .admin
                .create_topics(&new, &options)
                .await
                .map_err(|e| BusError::Admin(e.to_string()))?;
            for r in results {
                match r {
                    Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                    Err((name, code)) => return Err(BusError::Admin(format!("{name}: {code}"))),
                }
            }
            self.await_leaders(topics).await
        }
        .boxed()
    }

    fn publish<'a>(
        &'a self,
        topic: &'a str,
        key: &'a [u8],
        payload: Bytes,
    ) -> BoxFuture<'a, Result<(), BusError>> {
        async move {
            let record = FutureRecord::to(topic).key(key).payload(&payload[..]);
            self.producer
                .send(record, Timeout::After(self.config.publish_timeout))
                .await
                .map(|_| ())
                .map_err(|(e, _)| BusError::Publish {
                    topic: topic.to_owned(),
                    reason: e.to_string(),
                })
        }
        .boxed()
    }

    fn subscribe(&self, request: Subscribe) -> Result<Box<dyn Subscription>, BusError> {
        let reset = match request.start {
            StartFrom::Earliest => "earliest",
            StartFrom::Latest => "latest",
        };
        let consumer: StreamConsumer = client_config(
            &self.config,
            &[
                ("group.id", &request.group),
                ("enable.auto.commit", "true"),
                ("enable.auto.offset.store", "false"),
                ("auto.commit.interval.ms", "1000"),
                ("auto.offset.reset", reset),
                ("fetch.wait.max.ms", "10"),
                ("session.timeout.ms", "10000"),
                ("heartbeat.interval.ms", "1000"),
            ],
        )
        .create()
        .map_err(|e| BusError::Client(e.to_string()))?;
        let topics: Vec<&str> = request.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics).map_err(|e| BusError::Consume {
            group: request.group.clone(),
            reason: e.to_string(),
        })?;
        Ok(Box::new(KafkaSubscription {
            group: request.group,
            consumer: Arc::new(consumer),
        }))
    }
}

struct KafkaSubscription {
    group: String,
    consumer: Arc<StreamConsumer>,
}

impl Subscription for KafkaSubscription {
    fn next(&mut self) -> BoxFuture<'_, Result<Message, BusError>> {
        async move {
            let m = self.consumer.recv().await.map_err(|e| BusError::Consume {
                group: self.group.clone(),
                reason: e.to_string(),
            })?;
            Ok(Message {
                topic: m.topic().into(),
                partition: m.partition(),
                offset: m.offset(),
                key: m.key().map(Bytes::copy_from_slice),
                payload: Bytes::copy_from_slice(m.payload().unwrap_or_default()),
            })
        }
        .boxed()
    }

    fn commit(&mut self, message: &Message) -> Result<(), BusError> {
        // librdkafka's offset store adds one: it stores "the next to read".
        self.consumer
            .store_offset(&message.topic, message.partition, message.offset)
            .map_err(|e| BusError::Commit {
                group: self.group.clone(),
                place: message.place(),
                reason: e.to_string(),
            })
    }

    fn assignment(&self) -> Vec<(String, i32)> {
        self.consumer
            .assignment()
            .map(|tpl| {
                tpl.elements()
                    .iter()
                    .map(|e| (e.topic().to_owned(), e.partition()))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn close(self: Box<Self>) -> BoxFuture<'static, Result<(), BusError>> {
        let group = self.group.clone();
        let consumer = self.consumer.clone();
        drop(self);
        async move {
            // Closing blocks on the broker: keep it off the async workers.
            tokio::task::spawn_blocking(move || {
                let committed = match consumer.commit_consumer_state(CommitMode::Sync) {
                    Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => Ok(()),
                    other => other,
                };
                consumer.unsubscribe();
                committed.map_err(|e| BusError::Commit {
                    group,
                    place: "all assigned partitions".into(),
                    reason: e.to_string(),
                })
            })
            .await
            .unwrap_or(Err(BusError::Closed))
        }
        .boxed()
    }
}
