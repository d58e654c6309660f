//! A subscription that decodes: the one place where a message that is not what its
//! topic promises is reported (topic, partition, offset, why), counted, committed and
//! skipped. One bad message never stops a consumer.

use std::marker::PhantomData;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use super::{BusError, Message, Subscription};
use crate::telemetry::MetricsRegistry;
use crate::wire::{
    Aggregates, AlertTransition, DecodeError, JsonEvent, PodSamples, RequestEvent, ScaleDecision,
    decode_aggregates, decode_batch,
};

/// A message body type.
pub trait Decode: Sized {
    /// Reads a body.
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError>;
}

impl Decode for Vec<Aggregates> {
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode_aggregates(bytes)
    }
}

impl Decode for Vec<PodSamples> {
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode_batch(bytes)
    }
}

macro_rules! decode_json {
    ($($ty:ty),*) => {$(
        impl Decode for $ty {
            fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
                <$ty as JsonEvent>::decode(bytes)
            }
        }
    )*};
}
decode_json!(RequestEvent, AlertTransition, ScaleDecision);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TopicLabel {
    topic: String,
}

/// The bus's own metrics.
#[derive(Clone, Default)]
pub struct BusMetrics {
    skipped: Family<TopicLabel, Counter>,
}

impl BusMetrics {
    /// Registers `poolpilot_bus_messages_skipped_total{topic}`.
    pub fn register(registry: &MetricsRegistry) -> Self {
        let m = Self::default();
        registry.register(
            "poolpilot_bus_messages_skipped",
            "Messages that could not be decoded and were skipped",
            m.skipped.clone(),
        );
        m
    }
}

/// A message that could not be decoded.
pub struct MessageDecodeFailed<'a> {
    /// The message.
    pub message: &'a Message,
    /// Why.
    pub error: &'a DecodeError,
}

impl MessageDecodeFailed<'_> {
    /// Logs and counts it.
    pub fn emit(&self, metrics: &BusMetrics) {
        tracing::warn!(
            topic = %self.message.topic,
            partition = self.message.partition,
            offset = self.message.offset,
            error = %self.error,
            "Skipped a message that does not decode."
        );
        metrics
            .skipped
            .get_or_create(&TopicLabel {
                topic: self.message.topic.to_string(),
            })
            .inc();
    }
}

/// Told about each skipped message, for a service's own counters.
pub type OnSkip = Box<dyn Fn(&Message, &DecodeError) + Send>;

/// A subscription yielding decoded values with their messages.
pub struct Typed<T> {
    inner: Box<dyn Subscription>,
    metrics: BusMetrics,
    last_skipped: Option<String>,
    on_skip: Option<OnSkip>,
    _type: PhantomData<fn() -> T>,
}

impl<T: Decode> Typed<T> {
    /// Wraps `inner`, counting skips in `metrics`.
    pub fn new(inner: Box<dyn Subscription>, metrics: BusMetrics) -> Self {
        Self {
            inner,
            metrics,
            last_skipped: None,
            on_skip: None,
            _type: PhantomData,
        }
    }

    /// Also calls `f` for each skipped message.
    pub fn on_skip(mut self, f: OnSkip) -> Self {
        self.on_skip = Some(f);
        self
    }

    /// The next message that decodes. Those that do not are reported, committed and
    /// skipped on the way.
    pub async fn next(&mut self) -> Result<(Message, T), BusError> {
        loop {
            let message = self.inner.next().await?;
            match T::decode(&message.payload) {
                Ok(value) => return Ok((message, value)),
                Err(error) => {
                    MessageDecodeFailed {
                        message: &message,
                        error: &error,
                    }
                    .emit(&self.metrics);
                    if let Some(f) = &self.on_skip {
                        f(&message, &error);
                    }
                    self.last_skipped = Some(format!("{}: {error}", message.place()));
                    self.inner.commit(&message)?;
                }
            }
        }
    }

    /// The next message that decodes, riding out transient read errors (each logged,
    /// then retried 100 ms later): only a closed bus ends the stream. What every
    /// service loop wants.
    pub async fn recv(&mut self) -> Result<(Message, T), BusError> {
        loop {
            match self.next().await {
                Err(BusError::Closed) => return Err(BusError::Closed),
                Err(e) => {
                    tracing::warn!(error = %e, "Reading the bus failed; retrying.");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                ok => return ok,
            }
        }
    }

    /// Marks `message` done.
    pub fn commit(&mut self, message: &Message) -> Result<(), BusError> {
        self.inner.commit(message)
    }

    /// `topic/partition@offset: why` of the last skipped message.
    pub fn last_skipped(&self) -> Option<&str> {
        self.last_skipped.as_deref()
    }

    /// Flushes commits and leaves the group.
    pub async fn close(self) -> Result<(), BusError> {
        self.inner.close().await
    }
}
