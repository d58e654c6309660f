//! Alerts delivered as Alertmanager-v4-format webhooks: [`Dispatcher`] decides
//! (purely) what to send and when, [`Sender`] delivers it.
//!
//! # Layout
//! - `config.rs`: [`WebhookConfig`], what the user writes.
//! - `message.rs`: [`Message`], the v4 body.
//! - `dispatch.rs`: [`Dispatcher`], aggregation groups and dedup, no clock, no I/O.
//! - `sender.rs`: [`Sender`], queue, retries and signatures.
//! - `testdata/`: bodies captured from Alertmanager 0.25.0.

mod config;
mod dispatch;
mod message;
mod sender;

pub use config::{GROUP_BY_ALL, WebhookConfig};
pub use dispatch::{Dispatcher, RESOLVE_TIMEOUT};
pub use message::{Message, MessageAlert, Status};
pub use sender::{SIGNATURE_HEADER, Sender, TIMESTAMP_HEADER, signature};
