//! The bus: publish with a key, subscribe as a consumer group, commit. Two
//! implementations with one contract, so no service knows which it has:
//! [`kafka::KafkaBus`] over rdkafka and [`embedded::EmbeddedBus`] in process.
//!
//! The contract, as Kafka defines it: a topic has partitions; a key always lands on
//! the same partition, so one key's messages stay in order; every group sees every
//! message; within a group each partition belongs to one member at a time; a member
//! that restarts resumes after its group's last committed offset, so delivery is at
//! least once.
//!
//! # Layout
//! - `config.rs`: the `bus:` section of `poolpilot.yaml`.
//! - `kafka.rs`, `embedded.rs`: the implementations.
//! - `typed.rs`: a subscription that decodes, and reports and skips what it cannot.
//! - `tests.rs`: the contract, run against the embedded bus (the Kafka run is in the
//!   integration tests, against a real broker).

mod config;
pub mod embedded;
pub mod kafka;
pub mod typed;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;

pub use config::{BusConfig, BusKind, EmbeddedConfig, KafkaConfig};

/// One message as a consumer sees it, with its place for error reports and commits.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// The topic it came from.
    pub topic: Arc<str>,
    /// Its partition.
    pub partition: i32,
    /// Its offset in the partition.
    pub offset: i64,
    /// The key it was published with.
    pub key: Option<Bytes>,
    /// The body.
    pub payload: Bytes,
}

impl Message {
    /// `topic/partition@offset`, the place to name in an error.
    pub fn place(&self) -> String {
        format!("{}/{}@{}", self.topic, self.partition, self.offset)
    }
}

/// Where a group with no committed offset starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StartFrom {
    /// The oldest retained message: for events that must all be counted.
    #[default]
    Earliest,
    /// Only what is published after joining: for samples, where old means stale.
    Latest,
}

/// A subscription request.
#[derive(Clone, Debug)]
pub struct Subscribe {
    /// The consumer group.
    pub group: String,
    /// The topics (full names).
    pub topics: Vec<String>,
    /// Where to start without a committed offset.
    pub start: StartFrom,
}

impl Subscribe {
    /// Subscribe `group` to `topics`, from the earliest retained message.
    pub fn new(group: impl Into<String>, topics: impl IntoIterator<Item = String>) -> Self {
        Self {
            group: group.into(),
            topics: topics.into_iter().collect(),
            start: StartFrom::Earliest,
        }
    }

    /// Start from `start` when the group has no committed offset.
    pub fn start(mut self, start: StartFrom) -> Self {
        self.start = start;
        self
    }
}

/// A topic to create if missing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicSpec {
    /// Full name.
    pub name: String,
    /// Partition count; members of a group split these.
    pub partitions: i32,
}

/// What can go wrong on the bus. Each names its topic or group.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The producer could not hand the message to the bus in time (broker down,
    /// topic missing, queue full).
    #[error("topic {topic}: publish: {reason}")]
    Publish {
        /// The topic.
        topic: String,
        /// The underlying reason.
        reason: String,
    },
    /// The consumer could not join or read.
    #[error("group {group}: {reason}")]
    Consume {
        /// The group.
        group: String,
        /// The underlying reason.
        reason: String,
    },
    /// A commit was refused.
    #[error("group {group}: commit {place}: {reason}")]
    Commit {
        /// The group.
        group: String,
        /// `topic/partition@offset`.
        place: String,
        /// The underlying reason.
        reason: String,
    },
    /// Topic creation or metadata failed.
    #[error("topics: {0}")]
    Admin(String),
    /// The client could not be built from its settings.
    #[error("kafka client settings: {0}")]
    Client(String),
    /// The bus was shut down.
    #[error("the bus is closed")]
    Closed,
}

/// The bus a service talks over.
pub trait Bus: Send + Sync + 'static {
    /// Creates the topics that do not exist yet; existing ones are left as they are.
    fn ensure_topics<'a>(&'a self, topics: &'a [TopicSpec]) -> BoxFuture<'a, Result<(), BusError>>;

    /// Publishes `payload` under `key`; resolves when the bus has it (Kafka: acked by
    /// the broker), or with an error after the configured timeout.
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        key: &'a [u8],
        payload: Bytes,
    ) -> BoxFuture<'a, Result<(), BusError>>;

    /// Joins a consumer group.
    fn subscribe(&self, request: Subscribe) -> Result<Box<dyn Subscription>, BusError>;
}

/// A group member's view of its partitions.
pub trait Subscription: Send {
    /// The next message of any assigned partition. Waits while there is none.
    fn next(&mut self) -> BoxFuture<'_, Result<Message, BusError>>;

    /// Marks `message` as done: after a restart the group resumes after it. Commits
    /// are cheap (stored, flushed periodically and on [`Subscription::close`]).
    fn commit(&mut self, message: &Message) -> Result<(), BusError>;

    /// The `(topic, partition)` pairs this member owns now.
    fn assignment(&self) -> Vec<(String, i32)>;

    /// Flushes commits and leaves the group, so its partitions move on at once.
    fn close(self: Box<Self>) -> BoxFuture<'static, Result<(), BusError>>;
}

/// Builds the bus the config asks for.
pub fn connect(config: &BusConfig) -> Result<Arc<dyn Bus>, BusError> {
    Ok(match config.kind {
        BusKind::Embedded => Arc::new(embedded::EmbeddedBus::new(config.embedded.clone())),
        BusKind::Kafka => Arc::new(kafka::KafkaBus::new(&config.kafka)?),
    })
}
