//! What only the embedded bus has to show: backpressure and retention. The contract
//! both buses share is tested against each in the integration tests.

use std::time::Duration;

use bytes::Bytes;
use futures::FutureExt;

use super::embedded::EmbeddedBus;
use super::*;

fn bus(capacity: usize) -> EmbeddedBus {
    EmbeddedBus::new(EmbeddedConfig {
        capacity,
        partitions: 1,
    })
}

async fn publish(bus: &EmbeddedBus, n: u32) {
    bus.publish("t", b"k", Bytes::from(n.to_string()))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_full_partition_holds_the_publisher_until_a_live_group_reads() {
    let bus = bus(2);
    let mut sub = bus
        .subscribe(Subscribe::new("g", ["t".to_owned()]))
        .unwrap();
    publish(&bus, 0).await;
    publish(&bus, 1).await;
    let blocked = bus.publish("t", b"k", Bytes::from("2"));
    tokio::pin!(blocked);
    assert!(
        blocked.as_mut().now_or_never().is_none(),
        "publish must wait: g has not read offset 0"
    );
    assert_eq!(sub.next().await.unwrap().payload, "0");
    tokio::time::timeout(Duration::from_secs(5), blocked)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sub.next().await.unwrap().payload, "1");
    assert_eq!(sub.next().await.unwrap().payload, "2");
}

#[tokio::test]
async fn a_group_without_members_does_not_hold_publishers_back() {
    let bus = bus(2);
    let sub = bus
        .subscribe(Subscribe::new("g", ["t".to_owned()]))
        .unwrap();
    sub.close().await.unwrap();
    for n in 0..5 {
        publish(&bus, n).await;
    }
    // Offsets 0..=2 fell out of the log; the group resumes at the oldest kept.
    let mut sub = bus
        .subscribe(Subscribe::new("g", ["t".to_owned()]))
        .unwrap();
    let m = sub.next().await.unwrap();
    assert_eq!((m.offset, &m.payload[..]), (3, &b"3"[..]));
}

#[tokio::test]
async fn uncommitted_messages_of_a_leaving_member_are_delivered_again() {
    let bus = bus(16);
    let mut a = bus
        .subscribe(Subscribe::new("g", ["t".to_owned()]))
        .unwrap();
    for n in 0..3 {
        publish(&bus, n).await;
    }
    let m0 = a.next().await.unwrap();
    a.commit(&m0).unwrap();
    let _m1 = a.next().await.unwrap();
    drop(a);
    let mut b = bus
        .subscribe(Subscribe::new("g", ["t".to_owned()]))
        .unwrap();
    assert_eq!(
        b.next().await.unwrap().offset,
        1,
        "offset 1 was read but not committed"
    );
}

#[tokio::test]
async fn latest_skips_what_was_published_before_joining() {
    let bus = bus(16);
    publish(&bus, 0).await;
    let mut sub = bus
        .subscribe(Subscribe::new("g", ["t".to_owned()]).start(StartFrom::Latest))
        .unwrap();
    publish(&bus, 1).await;
    assert_eq!(sub.next().await.unwrap().payload, "1");
}
