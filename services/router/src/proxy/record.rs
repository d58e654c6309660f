//! Guards that keep the [`Router`] bookkeeping exact whatever path a request
//! takes (success, error, timeout, client gone): [`InFlight`] pairs `started`
//! with `finished`, [`Tracker`] reports `completed` once, on drop.

use std::sync::Arc;
use std::time::Instant;

use super::types::{RequestRecord, Router};

/// Status recorded when the client went away before the response ended.
pub(crate) const CLIENT_CLOSED: u16 = 499;

/// One upstream attempt in flight: `started` on creation, `finished` on drop.
pub(crate) struct InFlight {
    router: Arc<dyn Router>,
    endpoint: String,
}

impl InFlight {
    pub fn start(router: &Arc<dyn Router>, endpoint: &str) -> Self {
        router.started(endpoint);
        Self {
            router: Arc::clone(router),
            endpoint: endpoint.to_owned(),
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.router.finished(&self.endpoint);
    }
}

/// The record of one request, reported to the router when dropped.
///
/// The status starts as [`CLIENT_CLOSED`]: a request whose handler or
/// response body is dropped before a status is set was abandoned by the client.
pub(crate) struct Tracker {
    router: Arc<dyn Router>,
    started: Instant,
    pub record: RequestRecord,
}

impl Tracker {
    pub fn new(router: Arc<dyn Router>, started: Instant, record: RequestRecord) -> Self {
        Self {
            router,
            started,
            record: RequestRecord {
                status: CLIENT_CLOSED,
                ..record
            },
        }
    }

    /// When the request started.
    pub fn started(&self) -> Instant {
        self.started
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        let mut record = std::mem::take(&mut self.record);
        record.duration_seconds = self.started.elapsed().as_secs_f64();
        if record.status == CLIENT_CLOSED && record.error_code.is_none() {
            record.error_code = Some("client_closed_request".to_owned());
        }
        self.router.completed(record);
    }
}
