//! Sharing feeds among nodes through leases on a real NATS server: each
//! replica held by one node, fair shares, no two replicas of a feed on one
//! node, a dead node's feeds taken over within the stated bound, a node
//! that shuts down handing over at once.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use hypersockets_nats::{
    FeedSlot, FeedSpec, LeaseChange, LeaseConfig, Leases, LostCause, NatsError,
};
use tokio::time::Instant;

use support::{bus, config, server, wait_until};

fn feeds(count: usize, replicas: u8) -> Vec<FeedSpec> {
    (0..count)
        .map(|n| FeedSpec::new(format!("feed-{n}")).replicas(replicas))
        .collect()
}

fn all_slots(count: usize, replicas: u8) -> BTreeSet<FeedSlot> {
    (0..count)
        .flat_map(|n| (0..replicas).map(move |slot| FeedSlot::new(format!("feed-{n}"), slot)))
        .collect()
}

/// Each node's held replicas, checked: no replica on two nodes, no node
/// with two replicas of one feed.
fn holdings(nodes: &[&Leases]) -> BTreeMap<String, Vec<FeedSlot>> {
    let mut seen = BTreeSet::new();
    let mut by_node = BTreeMap::new();
    for node in nodes {
        let held = node.held();
        let feeds: BTreeSet<&str> = held.iter().map(FeedSlot::feed).collect();
        assert_eq!(
            feeds.len(),
            held.len(),
            "{} holds two replicas of a feed: {held:?}",
            node.node()
        );
        for slot in &held {
            assert!(seen.insert(slot.clone()), "{slot} held twice");
        }
        by_node.insert(node.node().to_owned(), held);
    }
    by_node
}

fn lease_config(bucket: &str) -> LeaseConfig {
    LeaseConfig::default()
        .bucket(bucket)
        .ttl(Duration::from_secs(3))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_share_every_replica_fairly_and_never_twice() {
    let Some(server) = server().await else { return };
    let config = config();
    let mut nodes = Vec::new();
    for name in ["a", "b", "c"] {
        let bus = bus(&server, &config).await;
        nodes.push(
            bus.leases(name, feeds(4, 2), lease_config("share"))
                .await
                .unwrap(),
        );
    }
    let want = all_slots(4, 2);
    wait_until("every replica held, two or three a node", || {
        let held = holdings(&nodes.iter().collect::<Vec<_>>());
        let all: BTreeSet<FeedSlot> = held.values().flatten().cloned().collect();
        let fair = held.values().all(|slots| (2..=3).contains(&slots.len()));
        std::future::ready(all == want && fair)
    })
    .await;
    for node in &nodes {
        assert_eq!(node.live_nodes(), 3);
    }
    // What each node was told adds up to what it holds.
    for node in &mut nodes {
        let mut told = BTreeSet::new();
        while let Ok(Some(change)) =
            tokio::time::timeout(Duration::from_millis(1), node.next()).await
        {
            match change {
                LeaseChange::Acquired(slot) => assert!(told.insert(slot)),
                LeaseChange::Lost { slot, .. } => assert!(told.remove(&slot)),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(told, node.held().into_iter().collect());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_nodes_feeds_move_to_the_others_within_the_takeover_bound() {
    let Some(server) = server().await else { return };
    let config = config();
    let settings = lease_config("takeover");
    let mut nodes = Vec::new();
    for name in ["a", "b", "c"] {
        let bus = bus(&server, &config).await;
        nodes.push(
            bus.leases(name, feeds(6, 1), settings.clone())
                .await
                .unwrap(),
        );
    }
    wait_until("two feeds a node", || {
        let held = holdings(&nodes.iter().collect::<Vec<_>>());
        std::future::ready(held.values().all(|slots| slots.len() == 2))
    })
    .await;
    // Node a dies: it stops renewing, and releases nothing.
    let dead = nodes.remove(0);
    let orphaned = dead.held();
    let died = Instant::now();
    drop(dead);
    wait_until("every feed held by b and c", || {
        let held = holdings(&nodes.iter().collect::<Vec<_>>());
        std::future::ready(held.values().map(Vec::len).sum::<usize>() == 6)
    })
    .await;
    let took = died.elapsed();
    assert!(
        took <= settings.takeover_bound(),
        "{orphaned:?} moved after {took:?}, over the bound {:?}",
        settings.takeover_bound()
    );
    let held = holdings(&nodes.iter().collect::<Vec<_>>());
    assert!(held.values().all(|slots| slots.len() == 3), "{held:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_shutting_down_hands_its_feeds_over_and_a_joining_node_gets_its_share() {
    let Some(server) = server().await else { return };
    let config = config();
    let settings = lease_config("handover");
    let mut first = bus(&server, &config)
        .await
        .leases("a", feeds(4, 1), settings.clone())
        .await
        .unwrap();
    wait_until("a holds all four", || {
        std::future::ready(first.held().len() == 4)
    })
    .await;
    // A second node joins: the first hands two over, one a round.
    let second = bus(&server, &config)
        .await
        .leases("b", feeds(4, 1), settings.clone())
        .await
        .unwrap();
    wait_until("two each", || {
        let held = holdings(&[&first, &second]);
        std::future::ready(held.values().all(|slots| slots.len() == 2))
    })
    .await;
    let mut released = 0;
    while let Ok(Some(change)) = tokio::time::timeout(Duration::from_millis(1), first.next()).await
    {
        if let LeaseChange::Lost { cause, .. } = change {
            assert_eq!(cause, LostCause::Released);
            released += 1;
        }
    }
    assert_eq!(released, 2);
    first.shutdown().await;
    let mut stopped = 0;
    while let Some(change) = first.next().await {
        match change {
            LeaseChange::Lost {
                cause: LostCause::Stopped,
                ..
            } => stopped += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(stopped, 2);
    let handed = Instant::now();
    wait_until("b holds all four", || {
        std::future::ready(second.held().len() == 4)
    })
    .await;
    // Released leases are free at once: no waiting for the TTL.
    let took = handed.elapsed();
    assert!(took < settings.takeover_bound(), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_names_replicas_and_a_bucket_with_another_ttl_are_refused() {
    let Some(server) = server().await else { return };
    let bus = bus(&server, &config()).await;
    let refused = |result: Result<Leases, NatsError>| match result {
        Err(NatsError::InvalidConfig { setting, .. }) => setting,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        refused(bus.leases("a.b", feeds(1, 1), lease_config("x")).await),
        "node"
    );
    assert_eq!(
        refused(
            bus.leases("a", vec![FeedSpec::new("a b")], lease_config("x"))
                .await
        ),
        "feed"
    );
    assert_eq!(
        refused(bus.leases("a", feeds(1, 3), lease_config("x")).await),
        "replicas"
    );
    assert_eq!(
        refused(
            bus.leases(
                "a",
                vec![FeedSpec::new("f"), FeedSpec::new("f")],
                lease_config("x")
            )
            .await
        ),
        "feed"
    );
    let _held = bus
        .leases("a", feeds(1, 1), lease_config("ttl"))
        .await
        .unwrap();
    let other = LeaseConfig::default()
        .bucket("ttl")
        .ttl(Duration::from_secs(9));
    assert_eq!(refused(bus.leases("b", feeds(1, 1), other).await), "ttl");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_from_nats_gives_its_leases_up_before_they_can_expire() {
    let Some(server) = server().await else { return };
    let settings = lease_config("fence");
    let mut node = bus(&server, &config())
        .await
        .leases("a", feeds(2, 1), settings.clone())
        .await
        .unwrap();
    wait_until("a holds both", || {
        std::future::ready(node.held().len() == 2)
    })
    .await;
    for _ in 0..2 {
        assert!(matches!(node.next().await, Some(LeaseChange::Acquired(_))));
    }
    // NATS goes away: no renewal succeeds from here on, and the leases
    // expire at most a TTL after the last one.
    drop(server);
    let cut = Instant::now();
    for _ in 0..2 {
        let change = tokio::time::timeout(support::WAIT, node.next())
            .await
            .unwrap()
            .unwrap();
        assert!(
            matches!(
                change,
                LeaseChange::Lost {
                    cause: LostCause::Expired,
                    ..
                }
            ),
            "{change:?}"
        );
    }
    let took = cut.elapsed();
    assert!(
        took < settings.ttl_of(),
        "given up after {took:?}, when the leases may have expired"
    );
    assert!(node.held().is_empty());
}
