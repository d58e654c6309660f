//! The `bus:` section of `poolpilot.yaml`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{Problems, Validate, duration, join};
use crate::wire::Topics;

/// Which bus, and its settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusConfig {
    /// `embedded` (one process, the default of `poolpilot up`) or `kafka`.
    pub kind: BusKind,
    /// Prefix of every topic name, so installations can share a cluster.
    pub topic_prefix: String,
    /// Partitions of the topics poolpilot creates: the most members one group can use.
    pub partitions: i32,
    /// Settings of the Kafka bus.
    pub kafka: KafkaConfig,
    /// Settings of the embedded bus.
    pub embedded: EmbeddedConfig,
}

impl Default for BusConfig {
    fn default() -> Self {
        Self {
            kind: BusKind::Embedded,
            topic_prefix: "poolpilot.".to_owned(),
            partitions: 4,
            kafka: KafkaConfig::default(),
            embedded: EmbeddedConfig::default(),
        }
    }
}

impl BusConfig {
    /// The topic names under this config's prefix.
    pub fn topics(&self) -> Topics {
        Topics::new(self.topic_prefix.clone())
    }
}

/// Which bus implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BusKind {
    /// In-process channels: every part in one process.
    Embedded,
    /// Apache Kafka: parts in separate processes or machines.
    Kafka,
}

/// Kafka settings. `properties` are librdkafka's own names and win over everything
/// poolpilot sets, so SASL and TLS are configured as users already know them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// `bootstrap.servers`.
    pub brokers: String,
    /// How long a publish may wait for the broker before it is an error
    /// (`message.timeout.ms`).
    #[serde(with = "duration")]
    pub publish_timeout: Duration,
    /// Any librdkafka property, e.g. `security.protocol: SASL_SSL`,
    /// `sasl.password: ${KAFKA_PASSWORD}`.
    pub properties: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            brokers: "127.0.0.1:9092".to_owned(),
            publish_timeout: Duration::from_secs(5),
            properties: BTreeMap::new(),
        }
    }
}

/// Embedded-bus settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmbeddedConfig {
    /// Messages kept per partition. A publisher waits while the slowest live group
    /// has not read the oldest one (backpressure, as a bounded channel does).
    pub capacity: usize,
    /// Partitions of a topic that nobody created explicitly.
    pub partitions: i32,
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        Self {
            capacity: 8_192,
            partitions: 4,
        }
    }
}

impl Validate for BusConfig {
    fn validate(&self, path: &str, problems: &mut Problems) {
        if self.partitions < 1 {
            problems.push(join(path, "partitions"), "must be at least 1");
        }
        if self.kind == BusKind::Kafka && self.kafka.brokers.trim().is_empty() {
            problems.push(
                join(path, "kafka.brokers"),
                "must name at least one broker for kind: kafka",
            );
        }
        if self.kafka.publish_timeout.is_zero() {
            problems.push(join(path, "kafka.publish_timeout"), "must be above 0");
        }
        if self.embedded.capacity == 0 {
            problems.push(join(path, "embedded.capacity"), "must be at least 1");
        }
        if self.embedded.partitions < 1 {
            problems.push(join(path, "embedded.partitions"), "must be at least 1");
        }
    }
}
