//! A bounded queue that drops its oldest items when full, so that producers
//! never wait, feeding one worker task.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use super::NotifyMetrics;
use super::metrics::Outcome;

pub(super) struct Queue<T> {
    state: Mutex<State<T>>,
    wake: Notify,
}

struct State<T> {
    items: VecDeque<T>,
    capacity: usize,
    closed: bool,
    /// Items the worker took and has not reported `done` for.
    in_flight: usize,
}

/// What `push` did.
pub(super) struct Pushed {
    pub dropped: usize,
    pub queued: usize,
}

/// What `abandon` threw away.
pub(super) struct Abandoned {
    pub queued: usize,
    pub in_flight: usize,
}

impl<T> Queue<T> {
    /// `capacity` is at least 1.
    pub fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State {
                items: VecDeque::new(),
                capacity: capacity.max(1),
                closed: false,
                in_flight: 0,
            }),
            wake: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Nothing panics while holding the lock; a poisoned state is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends `items`, dropping the oldest ones beyond capacity. Never waits.
    pub fn push(&self, items: impl IntoIterator<Item = T>) -> Pushed {
        let pushed = {
            let mut state = self.lock();
            state.items.extend(items);
            let dropped = state.items.len().saturating_sub(state.capacity);
            state.items.drain(..dropped);
            Pushed {
                dropped,
                queued: state.items.len(),
            }
        };
        self.wake.notify_one();
        pushed
    }

    /// [`Queue::push`], reported to `metrics` for `receiver`: the new queue length,
    /// and what was dropped to make room counted `dropped`. Returns how many were dropped.
    pub fn push_counted(
        &self,
        items: impl IntoIterator<Item = T>,
        metrics: &NotifyMetrics,
        receiver: &str,
    ) -> usize {
        let pushed = self.push(items);
        metrics.set_queue_length(receiver, pushed.queued);
        if pushed.dropped > 0 {
            metrics.add(receiver, Outcome::Dropped, pushed.dropped as u64);
        }
        pushed.dropped
    }

    /// Waits for items and takes up to `max` of them, oldest first; `None` once
    /// the queue is closed and empty.
    pub async fn next_batch(&self, max: usize) -> Option<(Vec<T>, usize)> {
        loop {
            {
                let mut state = self.lock();
                if !state.items.is_empty() {
                    let take = max.max(1).min(state.items.len());
                    let batch: Vec<T> = state.items.drain(..take).collect();
                    state.in_flight = batch.len();
                    return Some((batch, state.items.len()));
                }
                if state.closed {
                    return None;
                }
            }
            self.wake.notified().await;
        }
    }

    /// The worker finished with the batch it took last.
    pub fn done(&self) {
        self.lock().in_flight = 0;
    }

    /// No more pushes are expected: `next_batch` returns `None` once empty.
    pub fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_one();
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Empties the queue, for when the worker stopped or gave up.
    pub fn abandon(&self) -> Abandoned {
        let mut state = self.lock();
        let abandoned = Abandoned {
            queued: state.items.len(),
            in_flight: state.in_flight,
        };
        state.items.clear();
        state.in_flight = 0;
        abandoned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drops_oldest_and_batches() {
        let queue = Queue::new(3);
        let pushed = queue.push(1..=5);
        assert_eq!((pushed.dropped, pushed.queued), (2, 3));
        assert_eq!(queue.next_batch(2).await, Some((vec![3, 4], 1)));
        queue.close();
        assert_eq!(queue.next_batch(2).await, Some((vec![5], 0)));
        assert_eq!(queue.next_batch(2).await, None);
    }

    #[tokio::test]
    async fn abandon_counts_what_is_left() {
        let queue = Queue::new(10);
        queue.push(["a", "b", "c"]);
        let _ = queue.next_batch(1).await;
        let abandoned = queue.abandon();
        assert_eq!((abandoned.queued, abandoned.in_flight), (2, 1));
        assert!(!queue.is_closed());
    }
}
