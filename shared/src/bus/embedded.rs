//! The embedded bus: Kafka's contract in one process. Each partition is a bounded log
//! (a `VecDeque` with a base offset); each group keeps a read position and a committed
//! offset per partition; members split partitions as `partition % members`, ordered by
//! join. A publisher waits while the partition is full and a group with live members
//! has not read its oldest message; a group with no members does not hold publishers
//! back, and what falls out of the log meanwhile is gone for it, as with Kafka's
//! retention. What every group has committed is dropped at once, so memory follows
//! the slowest group's commits, bounded by the capacity. On every membership change, positions go back to the committed offsets,
//! so what a leaving member had not committed is delivered again: at least once.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use futures::FutureExt;
use futures::future::{BoxFuture, select_all};
use tokio::sync::Notify;

use super::{
    Bus, BusError, EmbeddedConfig, Message, StartFrom, Subscribe, Subscription, TopicSpec,
};

/// The in-process bus. Cheap to clone; clones share topics.
#[derive(Clone)]
pub struct EmbeddedBus {
    inner: Arc<Inner>,
}

struct Inner {
    config: EmbeddedConfig,
    topics: Mutex<HashMap<String, Arc<TopicState>>>,
    next_member: AtomicU64,
}

struct TopicState {
    name: Arc<str>,
    log: Mutex<TopicLog>,
    /// New messages, or a rebalance: members look again.
    data: Notify,
    /// Room in a full partition: publishers look again.
    space: Notify,
}

struct TopicLog {
    partitions: Vec<Partition>,
    groups: HashMap<String, Group>,
}

struct Partition {
    base: i64,
    entries: VecDeque<(Option<Bytes>, Bytes)>,
}

impl Partition {
    fn end(&self) -> i64 {
        self.base + self.entries.len() as i64
    }
}

struct Group {
    members: BTreeSet<u64>,
    /// Where a partition starts for this group when nothing is committed.
    reset: Vec<i64>,
    position: Vec<i64>,
    committed: Vec<Option<i64>>,
}

impl Group {
    fn rewind(&mut self) {
        for (p, pos) in self.position.iter_mut().enumerate() {
            *pos = self.committed[p].unwrap_or(self.reset[p]);
        }
    }

    fn owns(&self, member: u64, partition: usize) -> bool {
        let rank = self.members.iter().position(|m| *m == member);
        rank.is_some_and(|r| partition % self.members.len() == r)
    }
}

/// Drops what every group has committed: nobody can be handed it again.
fn prune(log: &mut TopicLog, p: usize) {
    let Some(keep_from) = log
        .groups
        .values()
        .map(|g| g.committed[p].unwrap_or(g.reset[p]))
        .min()
    else {
        return;
    };
    let part = &mut log.partitions[p];
    while part.base < keep_from && !part.entries.is_empty() {
        part.entries.pop_front();
        part.base += 1;
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep going.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl EmbeddedBus {
    /// A bus with no topics yet.
    pub fn new(config: EmbeddedConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                topics: Mutex::new(HashMap::new()),
                next_member: AtomicU64::new(0),
            }),
        }
    }

    fn topic(&self, name: &str, partitions: Option<i32>) -> Arc<TopicState> {
        let mut topics = lock(&self.inner.topics);
        topics
            .entry(name.to_owned())
            .or_insert_with(|| {
                let n = partitions.unwrap_or(self.inner.config.partitions).max(1) as usize;
                Arc::new(TopicState {
                    name: name.into(),
                    log: Mutex::new(TopicLog {
                        partitions: (0..n)
                            .map(|_| Partition {
                                base: 0,
                                entries: VecDeque::new(),
                            })
                            .collect(),
                        groups: HashMap::new(),
                    }),
                    data: Notify::new(),
                    space: Notify::new(),
                })
            })
            .clone()
    }
}

/// Stable across runs and builds, so a key keeps its partition.
fn partition_of(key: &[u8], partitions: usize) -> usize {
    (crate::hash::fnv1a(key) % partitions as u64) as usize
}

impl Bus for EmbeddedBus {
    fn ensure_topics<'a>(&'a self, topics: &'a [TopicSpec]) -> BoxFuture<'a, Result<(), BusError>> {
        for t in topics {
            self.topic(&t.name, Some(t.partitions));
        }
        async { Ok(()) }.boxed()
    }

    fn publish<'a>(
        &'a self,
        topic: &'a str,
        key: &'a [u8],
        payload: Bytes,
    ) -> BoxFuture<'a, Result<(), BusError>> {
        let state = self.topic(topic, None);
        let capacity = self.inner.config.capacity;
        let entry = (Some(Bytes::copy_from_slice(key)), payload);
        async move {
            loop {
                let space = state.space.notified();
                tokio::pin!(space);
                space.as_mut().enable();
                {
                    let mut log = lock(&state.log);
                    let TopicLog { partitions, groups } = &mut *log;
                    let p = partition_of(key, partitions.len());
                    let part = &mut partitions[p];
                    if part.entries.len() >= capacity {
                        let held = groups
                            .values()
                            .any(|g| !g.members.is_empty() && g.position[p] <= part.base);
                        if !held {
                            part.entries.pop_front();
                            part.base += 1;
                        }
                    }
                    if part.entries.len() < capacity {
                        part.entries.push_back(entry);
                        drop(log);
                        state.data.notify_waiters();
                        return Ok(());
                    }
                }
                space.await;
            }
        }
        .boxed()
    }

    fn subscribe(&self, request: Subscribe) -> Result<Box<dyn Subscription>, BusError> {
        let member = self.inner.next_member.fetch_add(1, Ordering::Relaxed);
        let topics: Vec<_> = request.topics.iter().map(|t| self.topic(t, None)).collect();
        for t in &topics {
            let mut log = lock(&t.log);
            let TopicLog { partitions, groups } = &mut *log;
            let group = groups.entry(request.group.clone()).or_insert_with(|| {
                let reset: Vec<i64> = partitions
                    .iter()
                    .map(|p| match request.start {
                        StartFrom::Earliest => p.base,
                        StartFrom::Latest => p.end(),
                    })
                    .collect();
                Group {
                    members: BTreeSet::new(),
                    position: reset.clone(),
                    committed: vec![None; reset.len()],
                    reset,
                }
            });
            group.members.insert(member);
            group.rewind();
            drop(log);
            t.data.notify_waiters();
        }
        Ok(Box::new(EmbeddedSubscription {
            group: request.group,
            member,
            topics,
            cursor: 0,
            left: false,
        }))
    }
}

struct EmbeddedSubscription {
    group: String,
    member: u64,
    topics: Vec<Arc<TopicState>>,
    /// Where the next scan starts, so no partition starves the others.
    cursor: usize,
    left: bool,
}

impl EmbeddedSubscription {
    fn try_take(&mut self) -> Option<Message> {
        let lanes: usize = self.topics.len();
        for step in 0..lanes {
            let t = &self.topics[(self.cursor + step) % lanes];
            let mut log = lock(&t.log);
            let TopicLog { partitions, groups } = &mut *log;
            let group = groups.get_mut(&self.group)?;
            let n = partitions.len();
            for i in 0..n {
                let p = (self.cursor + i) % n;
                if !group.owns(self.member, p) {
                    continue;
                }
                let part = &partitions[p];
                let pos = group.position[p].max(part.base);
                if pos >= part.end() {
                    continue;
                }
                let (key, payload) = part.entries[(pos - part.base) as usize].clone();
                group.position[p] = pos + 1;
                let oldest = pos == part.base;
                drop(log);
                if oldest {
                    t.space.notify_waiters();
                }
                self.cursor = self.cursor.wrapping_add(1);
                return Some(Message {
                    topic: t.name.clone(),
                    partition: p as i32,
                    offset: pos,
                    key,
                    payload,
                });
            }
        }
        None
    }

    fn leave(&mut self) {
        if self.left {
            return;
        }
        self.left = true;
        for t in &self.topics {
            let mut log = lock(&t.log);
            if let Some(group) = log.groups.get_mut(&self.group) {
                group.members.remove(&self.member);
                group.rewind();
            }
            drop(log);
            t.data.notify_waiters();
            t.space.notify_waiters();
        }
    }
}

impl Subscription for EmbeddedSubscription {
    fn next(&mut self) -> BoxFuture<'_, Result<Message, BusError>> {
        async move {
            let topics = self.topics.clone();
            loop {
                let mut waits: Vec<Pin<Box<tokio::sync::futures::Notified<'_>>>> =
                    topics.iter().map(|t| Box::pin(t.data.notified())).collect();
                for w in &mut waits {
                    w.as_mut().enable();
                }
                if let Some(m) = self.try_take() {
                    return Ok(m);
                }
                select_all(waits).await;
            }
        }
        .boxed()
    }

    fn commit(&mut self, message: &Message) -> Result<(), BusError> {
        let t = self
            .topics
            .iter()
            .find(|t| t.name == message.topic)
            .ok_or_else(|| BusError::Commit {
                group: self.group.clone(),
                place: message.place(),
                reason: "not a topic of this subscription".into(),
            })?;
        let mut log = lock(&t.log);
        let group = log.groups.get_mut(&self.group).ok_or(BusError::Closed)?;
        let slot = group
            .committed
            .get_mut(message.partition as usize)
            .ok_or_else(|| BusError::Commit {
                group: self.group.clone(),
                place: message.place(),
                reason: "no such partition".into(),
            })?;
        *slot = Some(slot.unwrap_or(0).max(message.offset + 1));
        prune(&mut log, message.partition as usize);
        Ok(())
    }

    fn assignment(&self) -> Vec<(String, i32)> {
        let mut out = Vec::new();
        for t in &self.topics {
            let log = lock(&t.log);
            if let Some(group) = log.groups.get(&self.group) {
                for p in 0..log.partitions.len() {
                    if group.owns(self.member, p) {
                        out.push((t.name.to_string(), p as i32));
                    }
                }
            }
        }
        out
    }

    fn close(mut self: Box<Self>) -> BoxFuture<'static, Result<(), BusError>> {
        self.leave();
        async { Ok(()) }.boxed()
    }
}

impl Drop for EmbeddedSubscription {
    fn drop(&mut self) {
        self.leave();
    }
}
