//! Topic names (DESIGN §3). The prefix is configurable so several installations can
//! share one Kafka cluster.

/// The five topics of DESIGN §3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Per-pod signals and raw series, OTLP protobuf, key `pool/pod`.
    Samples,
    /// One JSON event per routed request, key `pool/model`.
    Requests,
    /// Pool and model aggregates, OTLP protobuf, key `pool`.
    Aggregates,
    /// Alert transitions, JSON, key = alert fingerprint.
    Alerts,
    /// Scale decisions with their explanation, JSON, key `namespace/target`.
    Decisions,
}

impl Topic {
    /// Every topic, in pipeline order.
    pub const ALL: [Topic; 5] = [
        Topic::Samples,
        Topic::Requests,
        Topic::Aggregates,
        Topic::Alerts,
        Topic::Decisions,
    ];

    /// The name without prefix, versioned so a breaking change gets a new topic.
    pub fn suffix(self) -> &'static str {
        match self {
            Topic::Samples => "samples.v1",
            Topic::Requests => "requests.v1",
            Topic::Aggregates => "aggregates.v1",
            Topic::Alerts => "alerts.v1",
            Topic::Decisions => "decisions.v1",
        }
    }
}

/// Full topic names under one prefix (default `poolpilot.`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topics {
    prefix: String,
}

impl Topics {
    /// Topics named `<prefix><suffix>`.
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    /// The full name of `topic`.
    pub fn name(&self, topic: Topic) -> String {
        format!("{}{}", self.prefix, topic.suffix())
    }
}

impl Default for Topics {
    fn default() -> Self {
        Self::new("poolpilot.")
    }
}
